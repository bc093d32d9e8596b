"""Territory design benchmark: Validi & Buchanan optima and the china example targets.

Run: ``python benchmarks/bench_territories.py [--states ME NM ID WV LA AL ...] [--china] [--time-limit 300]``

Prints one table row per run: objective, bound, gap, whether the published optimum
was matched, and seconds. Times are also given as a ratio to the ME solve of the
same run (the baseline), so the figures compare across machines. ``--time-limit``
applies to each state separately; the china case has its own ``--china-seconds``
budget for everything (heuristic, location-allocation polish, build and solve).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
import warnings
from pathlib import Path

from networkx.readwrite import json_graph

import channelopt as co
from channelopt.models.territories import TerritoryDesign

ROOT = Path(__file__).resolve().parents[1]


def benchdata() -> Path:
    path = ROOT.parent / "shared" / "benchdata" / "districting"
    if not path.is_dir():
        sys.exit("benchmark data not found at ../shared/benchdata/districting")
    return path


def districting(states, time_limit, threads):
    folder = benchdata()
    rows = [
        r
        for r in csv.DictReader(open(folder / "optima_districting.csv", newline=""))
        if r["contiguity"] == "contiguous" and r["state"] in states
    ]
    out = []
    for r in sorted(rows, key=lambda r: int(r["n"])):
        graph = json_graph.adjacency_graph(json.load(open(folder / r["graph_file"])))
        net = co.ChannelNetwork.from_graph(graph, weight_attrs=["TOTPOP"])
        t0 = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                plan = TerritoryDesign(
                    k=int(r["k"]), objective="cut_edges", balance={"TOTPOP": (int(r["L"]), int(r["U"]))}
                ).solve(net, solver=co.Solver("highs", time_limit=time_limit, threads=threads))
        except co.exceptions.NoSolutionError:
            # neither the solver (in time) nor the heuristic found a plan within the 1% population band
            nan = float("nan")
            out.append({"case": f"{r['state']} k={r['k']} n={r['n']}", "published": float(r["optimal_cut_edges"]),
                        "objective": nan, "bound": nan, "gap": nan, "status": "no_plan", "contiguous": False,
                        "seconds": time.perf_counter() - t0})
            print(f"  {out[-1]['case']}: no plan in {out[-1]['seconds']:.1f}s", flush=True)
            continue
        secs = time.perf_counter() - t0
        print(f"  {r['state']}: {plan.status} objective {plan.objective} bound {plan.bound} in {secs:.1f}s", flush=True)
        out.append(
            {
                "case": f"{r['state']} k={r['k']} n={r['n']}",
                "published": float(r["optimal_cut_edges"]),
                "objective": plan.objective,
                "bound": plan.bound,
                "gap": plan.gap,
                "status": plan.status,
                "contiguous": plan.metrics["contiguity_verified"],
                "seconds": secs,
            }
        )
    return out


def china(seconds, candidates, threads):
    """The issue-4 target: 12 contiguous territories, 5% workload balance, within 2% in ``seconds``."""
    net = co.datasets.load_example("china")
    out = []
    t0 = time.perf_counter()
    plan = TerritoryDesign(k=12, balance={"workload": 0.05}, method="heuristic", heuristic_seconds=20).solve(net)
    out.append(
        {
            "case": f"china n={net.regions.shape[0]} heuristic",
            "published": float("nan"),
            "objective": plan.objective,
            "bound": float("nan"),
            "gap": float("nan"),
            "status": plan.status,
            "contiguous": plan.metrics["contiguity_verified"],
            "seconds": time.perf_counter() - t0,
        }
    )
    for cand in candidates:
        t0 = time.perf_counter()
        heuristic = 0.3 * seconds
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            plan = TerritoryDesign(
                k=12, balance={"workload": 0.05}, heuristic_seconds=heuristic, centre_candidates=cand
            ).solve(
                net,
                solver=co.Solver("highs", time_limit=seconds - heuristic - 10, mip_gap=0.02, threads=threads),
            )
        out.append(
            {
                "case": f"china exact cand={cand}",
                "published": float("nan"),
                "objective": plan.objective,
                "bound": plan.bound,
                "gap": plan.gap,
                "status": plan.status,
                "contiguous": plan.metrics["contiguity_verified"],
                "seconds": time.perf_counter() - t0,
            }
        )
        print(
            f"  china cand={cand}: heuristic+polish {plan.metrics['heuristic_seconds']:.1f}s, build "
            f"{plan.info.build_seconds:.1f}s, lazy rounds {plan.metrics['lazy_rounds']}, cuts "
            f"{plan.metrics['lazy_cuts']}, max workload deviation {plan.metrics['max_deviation_workload']:.2%}",
            flush=True,
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--states", nargs="*", default=["ME", "NM", "ID", "WV"])
    ap.add_argument("--china", action="store_true")
    ap.add_argument("--candidates", type=lambda v: None if v == "none" else int(v), nargs="*", default=[60])
    ap.add_argument("--time-limit", type=float, default=600.0)
    ap.add_argument("--china-seconds", type=float, default=290.0)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    states = set(args.states) | {"ME"}
    rows = districting(states, args.time_limit, args.threads)
    if args.china:
        rows += china(args.china_seconds, args.candidates, args.threads)
    base = next(r["seconds"] for r in rows if r["case"].startswith("ME"))
    print(
        f"{'case':26} {'published':>9} {'objective':>12} {'bound':>12} {'gap':>7} {'match':>5} {'status':>9} "
        f"{'contig':>6} {'seconds':>8} {'x ME':>8}"
    )
    for r in rows:
        match = ""
        if r["published"] == r["published"]:  # NaN for the china cases
            match = "yes" if abs(r["objective"] - r["published"]) < 1e-6 else "no"
        print(
            f"{r['case']:26} {r['published']:9.0f} {r['objective']:12.8g} {r['bound']:12.8g} {r['gap']:7.2%} "
            f"{match:>5} {r['status']:>9} {str(r['contiguous']):>6} {r['seconds']:8.1f} {r['seconds'] / base:8.1f}"
        )


if __name__ == "__main__":
    main()
