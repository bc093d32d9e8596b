"""AssortmentPlan at scale: china example, 6 channel types x 340 regions x 200 products.

Run: ``python benchmarks/bench_assortment.py`` (``--regions 60`` for a quick look,
``--time-limit 120`` to change the solver's limit).

Segments are the region x channel-type pairs present in the china network (1,719 of the
2,040 possible), so the full size has 343,800 cells (binaries). Products come from
``synthetic_catalogue(200)`` (SYNTHETIC) with one cannibalising pair per product inside
its category, priced in every segment. Rows: shelf per segment, a must-carry pair of
products, a category range per segment, one listing-fee budget (1% of all fees: it binds),
modern_ka -> traditional listing rules.

Printed per size, all measured in the same run:
- build seconds on the array layer, and the PuLP materialisation of the same model
  (``built.problem``) as the baseline: ratio PuLP / arrays;
- solve seconds, status, objective, bound and gap as HiGHS reports them;
- a greedy baseline (list by value per shelf unit within shelf, range and budget),
  its objective as a share of the plan's.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np
import pandas as pd

import channelopt as co
from channelopt.assortment import cells_from_catalogue
from channelopt.datasets import synthetic_catalogue


def instance(n_regions: int, n_products: int, pairs_per_product: float, seed: int = 0):
    net = co.load_example("china")
    if n_regions < len(net.region_ids):
        net = net.subset(list(net.region_ids[:n_regions]))
    cat = synthetic_catalogue(n_products, 10, pairs_per_product=pairs_per_product, seed=seed)
    cells, pairs = cells_from_catalogue(net, cat, by="region")
    shelf = dict(zip(cat["channels"]["channel"], cat["channels"]["shelf_capacity"].astype(float)))
    must = cat["products"].groupby("category")["pull"].idxmax().head(2)
    must_ids = cat["products"].loc[must.to_numpy(), "product_id"].tolist()
    # must-carry shelf plus room: keep every segment feasible
    settings = {
        "shelf_capacity": shelf,
        "must_carry": must_ids,
        "category_range": {c: (0, 6) for c in cat["products"]["category"].unique()},
        "listing_budget": 0.01 * float(cells["listing_fee"].sum()),
        "cannibalisation": pairs,
        "channel_rules": [("modern_ka", "traditional")],
    }
    return net, cells, settings


def greedy(cells: pd.DataFrame, s: dict) -> float:
    """List by value per shelf unit, segment by segment, within shelf, range and budget (pairs priced after)."""
    value = (cells["volume"] * cells["margin"] - cells["listing_fee"]).to_numpy()
    must = cells["product_id"].isin(s["must_carry"]).to_numpy()
    listed = must.copy()
    budget = s["listing_budget"] - cells["listing_fee"].to_numpy()[must].sum()
    order = np.argsort(-(value / np.maximum(cells["shelf_units"].to_numpy(), 0.5)))
    seg = pd.MultiIndex.from_frame(cells[["region_id", "channel"]]).codes
    seg = seg[0] * 10 + seg[1]
    cap = cells["channel"].map(s["shelf_capacity"]).to_numpy()
    used = pd.Series(cells["shelf_units"].to_numpy() * must).groupby(seg).sum().to_dict()
    key = list(zip(seg.tolist(), cells["category"].tolist()))
    count: dict = {}
    for i in np.flatnonzero(must):
        count[key[i]] = count.get(key[i], 0) + 1
    hi = {c: r[1] for c, r in s["category_range"].items()}
    fee = cells["listing_fee"].to_numpy()
    shelf = cells["shelf_units"].to_numpy()
    ka = (cells["channel"] == "modern_ka").to_numpy()
    for i in order.tolist():
        if listed[i] or value[i] <= 0 or ka[i]:  # KA left out: the traditional follower is not checked here
            continue
        if used.get(seg[i], 0) + shelf[i] > cap[i] or count.get(key[i], 0) + 1 > hi[key[i][1]] or fee[i] > budget:
            continue
        listed[i] = True
        used[seg[i]] = used.get(seg[i], 0) + shelf[i]
        count[key[i]] = count.get(key[i], 0) + 1
        budget -= fee[i]
    p = s["cannibalisation"]
    idx = {k: i for i, k in enumerate(zip(cells["region_id"], cells["channel"], cells["product_id"]))}
    ia = np.array([idx[k] for k in zip(p["region_id"], p["channel"], p["product_a"])])
    ib = np.array([idx[k] for k in zip(p["region_id"], p["channel"], p["product_b"])])
    loss = float((p["loss"].to_numpy() * (listed[ia] & listed[ib])).sum())
    return float(value[listed].sum() - loss)


def run(n_regions: int, n_products: int, pairs_per_product: float, time_limit: float, pulp_baseline: bool):
    net, cells, s = instance(n_regions, n_products, pairs_per_product)
    model = co.AssortmentPlan(cells=cells, **s)
    t0 = time.perf_counter()
    built = model.build(net)
    build_s = time.perf_counter() - t0
    # Peak memory of a second build (tracemalloc slows Python several-fold: never time under it).
    tracemalloc.start()
    model.build(net)
    _, peak_build = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    pulp_s = float("nan")
    if pulp_baseline:
        again = model.build(net)
        t0 = time.perf_counter()
        again.problem  # noqa: B018 - the PuLP objects of the same model, as the baseline
        pulp_s = time.perf_counter() - t0
        del again
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", co.NotOptimalWarning)
        plan = built.solve(co.Solver("highs", time_limit=time_limit, threads=1))
    g = greedy(cells, s)
    return {
        "regions": net.outlets["region_id"].nunique(), "products": n_products, "cells": len(cells),
        "pairs": len(s["cannibalisation"]), "columns": plan.info.n_variables, "rows": plan.info.n_constraints,
        "build_s": round(build_s, 2), "build_peak_MB": round(peak_build / 2**20),
        "pulp_build_s": round(pulp_s, 2), "pulp/arrays": round(pulp_s / build_s, 1),
        "solve_s": round(plan.info.seconds, 1), "status": plan.status, "objective": round(plan.objective),
        "bound": round(plan.bound), "gap": f"{plan.gap:.3%}", "greedy/plan": round(g / plan.objective, 3),
        "listed": int(plan.metrics["listed_cells"]), "fees/budget": round(plan.metrics["listing_fees"] /
                                                                          s["listing_budget"], 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--regions", type=int, nargs="*", default=[60, 340])
    ap.add_argument("--products", type=int, default=200)
    ap.add_argument("--pairs-per-product", type=float, default=1.0)
    ap.add_argument("--time-limit", type=float, default=300.0)
    ap.add_argument("--no-pulp", action="store_true", help="skip the PuLP materialisation baseline")
    args = ap.parse_args()
    rows = [run(r, args.products, args.pairs_per_product, args.time_limit, not args.no_pulp) for r in args.regions]
    with pd.option_context("display.width", 250, "display.max_columns", 40):
        print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
