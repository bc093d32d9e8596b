"""Territory design benchmark: Validi & Buchanan optima and the china example targets.

Run: ``python benchmarks/bench_territories.py [--states ME NM ID WV ...] [--china] [--time-limit 300]``

Prints one table row per run. Times are also given as a ratio to the ME solve of
the same run (the baseline), so the figures compare across machines.
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


def districting(states, time_limit):
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
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            plan = TerritoryDesign(
                k=int(r["k"]), objective="cut_edges", balance={"TOTPOP": (int(r["L"]), int(r["U"]))}
            ).solve(net, solver=co.Solver("highs", time_limit=time_limit))
        secs = time.perf_counter() - t0
        out.append(
            {
                "case": f"{r['state']} k={r['k']} n={r['n']}",
                "published": float(r["optimal_cut_edges"]),
                "objective": plan.objective,
                "bound": plan.bound,
                "status": plan.status,
                "contiguous": plan.metrics["contiguity_verified"],
                "seconds": secs,
            }
        )
    return out


def china(time_limit, candidates):
    net = co.datasets.load_example("china")
    out = []
    t0 = time.perf_counter()
    plan = TerritoryDesign(k=12, balance={"workload": 0.05}, method="heuristic", heuristic_seconds=20).solve(net)
    out.append(
        {
            "case": "china heuristic k=12 5%",
            "published": float("nan"),
            "objective": plan.objective,
            "bound": float("nan"),
            "status": plan.status,
            "contiguous": plan.metrics["contiguity_verified"],
            "seconds": time.perf_counter() - t0,
        }
    )
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plan = TerritoryDesign(
            k=12, balance={"workload": 0.05}, heuristic_seconds=20, centre_candidates=candidates
        ).solve(net, solver=co.Solver("highs", time_limit=time_limit, mip_gap=0.02))
    out.append(
        {
            "case": f"china exact k=12 5% cand={candidates}",
            "published": float("nan"),
            "objective": plan.objective,
            "bound": plan.bound,
            "status": plan.status,
            "contiguous": plan.metrics["contiguity_verified"],
            "seconds": time.perf_counter() - t0,
        }
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--states", nargs="*", default=["ME", "NM", "ID", "WV"])
    ap.add_argument("--china", action="store_true")
    ap.add_argument("--candidates", type=int, default=40)
    ap.add_argument("--time-limit", type=float, default=600.0)
    args = ap.parse_args()
    states = set(args.states) | {"ME"}
    rows = districting(states, args.time_limit)
    if args.china:
        rows += china(min(args.time_limit, 280.0), args.candidates)
    base = next(r["seconds"] for r in rows if r["case"].startswith("ME"))
    print(
        f"{'case':34} {'published':>9} {'objective':>12} {'bound':>12} {'status':>9} {'contig':>6} "
        f"{'seconds':>8} {'x ME':>8}"
    )
    for r in rows:
        print(
            f"{r['case']:34} {r['published']:9.0f} {r['objective']:12.6g} {r['bound']:12.6g} {r['status']:>9} "
            f"{str(r['contiguous']):>6} {r['seconds']:8.1f} {r['seconds'] / base:8.1f}"
        )


if __name__ == "__main__":
    main()
