"""PricePlan on the China example: 340 regions x 6 channels, with and without rebate tiers.

Run: ``python benchmarks/bench_pricing.py`` (``--time-limit 120`` caps each MILP).

Cells are the synthetic price list of ``synthetic_price_cells`` (labelled synthetic);
diversion costs are 0.01 per unit and km between adjacent regions' representative
points plus 1.0 handling. Rows:

- ``free``: no corridors (the margin each cell would earn alone), LP;
- ``corridors``: diversion corridors on every border and channel, KA-traditional gap, LP;
- ``corridors+rebates``: the same with a three-tier volume rebate schedule (MILP);
- ``corridors+menu``: the model chooses each region's tier from the menu (MILP).

Each row prints build and solve seconds, status and MIP gap, the true margin of the
plan, the PWL error bound, the pairs at risk (``diversion_risk`` on the plan, which
must be 0 with corridors), and the seconds as a ratio to the ``corridors`` LP's.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

import channelopt as co


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--time-limit", type=float, default=120.0)
    ap.add_argument("--pwl-tol", type=float, default=1e-3)
    args = ap.parse_args()
    net = co.load_example("china")
    cells = co.synthetic_price_cells(net, seed=0)
    cost = co.diversion_costs(net, per_km=0.01, handling=1.0)
    rebates = pd.DataFrame({"tier": ["bronze", "silver", "gold"], "threshold_share": [0.8, 0.9, 1.0],
                            "rebate": [0.02, 0.04, 0.06]})
    gaps = {("modern_ka", "traditional"): (-4.0, 0.0)}
    solver = co.Solver("highs", time_limit=args.time_limit, mip_gap=1e-4)
    current_risk = co.diversion_risk(cells.assign(price=cells["current_price"]), cost)
    print(f"{len(cells)} cells ({cells['region_id'].nunique()} regions x {cells['channel'].nunique()} channels), "
          f"{len(cost)} borders; current price list: {len(current_risk)} pairs x channel at risk, "
          f"volume at risk {current_risk['volume_at_risk'].sum():,.0f}")
    runs = {
        "free": dict(),
        "corridors": dict(diversion_cost=cost, channel_gaps=gaps),
        "corridors+rebates": dict(diversion_cost=cost, channel_gaps=gaps, rebates=rebates),
        "corridors+menu": dict(diversion_cost=cost, channel_gaps=gaps, rebates=rebates, rebate_choice="menu"),
    }
    rows = []
    for name, kw in runs.items():
        t0 = time.perf_counter()
        plan = co.PricePlan(cells=cells, pwl_tol=args.pwl_tol, **kw).solve(solver=solver)
        wall = time.perf_counter() - t0
        risk = co.diversion_risk(plan.prices, cost)
        rows.append({"run": name, "status": plan.status, "gap": plan.gap, "binaries": plan.metrics["binaries"],
                     "build_s": plan.build_seconds, "solve_s": plan.solve_seconds, "total_s": wall,
                     "margin": plan.metrics["margin"], "pwl_error_bound": plan.metrics["pwl_error_bound"],
                     "pairs_at_risk": len(risk), "binding": plan.metrics["binding_corridors"],
                     "rebate_paid": plan.metrics["rebate_paid"]})
        print(f"  {name}: {wall:.1f}s", flush=True)
    table = pd.DataFrame(rows).set_index("run")
    table["x_corridor_lp"] = table["total_s"] / table.loc["corridors", "total_s"]
    table["margin_vs_free"] = table["margin"] / table.loc["free", "margin"] - 1
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.round(4).to_string())


if __name__ == "__main__":
    main()
