"""Territory design benchmark: Validi & Buchanan optima, old path against new, and the china targets.

Run: ``python benchmarks/bench_territories.py [--states ME NM ID WV ...] [--variants old new] [--time-limit 120]``;
``--synthetic --time-limit 150`` prints issue 12's large-graph table instead (synthetic Delaunay dual graphs of
300-550 units, k=2 and 3, +-0.5%, labelled synthetic; :func:`channelopt.datasets.synthetic_dual_graph`).

For every state each variant solves the same contiguous minimum cut-edge instance
(+-0.5% population) in the same process, one after the other; the table gives
objective, bound, status, seconds and, where both finish proven optimal, the time
of the old path as a multiple of the new one. The paper's Gurobi time (a
different machine and solver) is printed as the anchor.

``--proof`` measures the proof alone (:func:`proof`): the labelling MILP with the published optimum less 0.5 as
HiGHS's cutoff, no heuristic or warm start, CPU s and nodes until every better plan is ruled out.

Variants (``--variants``; each is one setting of the private switches):

- ``old``: 0.1's path -- PuLP objects built (``CHANNELOPT_BUILD_PATH=pulp``), the
  explicit O(k n^2) root-order rows, regions in index order, no load fixing;
- ``arrays``: the array build with the same explicit rows;
- ``cumulative``: arrays + O(n k) running-sum root-order rows;
- ``order``: + regions ordered by load (largest first);
- ``prev``: + roots fixed from the balance bounds (the last session's default);
- ``variation``: ``prev`` with cut edges priced by the multiway-cut rows (not kept);
- ``reach``: ``prev`` + roots and members fixed from path loads (Validi & Buchanan's L/U-fixing from every root);
- ``single``: ``reach`` + one flow for all territories that cut edges block (their SCF);
- ``extended``: ``reach`` + their extended objective (``z[e,j] >= x[u,j] - x[v,j]``, an edge costs ``sum_j z``);
- ``new``: ``reach`` + single flow + extended objective + tail root-order rows + Z-fixing (the default path);
- ``s5``: session 5's default: ``new`` with ``x[v,j] <= R[v,j]`` root-order rows and no Z-fixing, HiGHS's defaults;
- ``floors``: ``new`` + the boundary floors as one row (``labelling.BOUNDARY = "total"``; not the default);
- ``slots``: ``new`` + the floors as one row per territory, on a second block of cut variables;
- ``cheap``: ``slots`` with the floors' sub-MIPs capped at 0.5 s each, 5 s in all;
- ``columns``: ``new`` + the set-partitioning bound by column generation as a stage before the MILP
  (``columns.STAGE``, ``STAGE_SHARE`` of the time; not the default).
- ``dwrows``: ``columns`` with the exact pricing split by root (``columns.ROOT_PRICING``) and the stage's duals
  added to the MILP as one row per territory (``columns.ROWS``, :func:`labelling.dual_rows`; not the default).
- ``cutint``: ``new`` with the cut indicators ``y_e`` integer (``labelling.CUT_INTEGER``; not the default):
  HiGHS then detects an integral objective;
- ``nodecuts``: ``new`` with HiGHS's own defaults, cuts separated at every node (``search.CUT_EDGE_HIGHS = {}``;
  the default sets ``mip_allow_cut_separation_at_nodes = False``, cuts at the root only);
- ``racefloors`` (with ``--threads 2`` or more only): ``new`` with the second HiGHS racer searching with the
  boundary floors as one row (``search.RACE_FLOORS = "total"``; not the default, where the racers differ by
  ``random_seed`` alone).
- ``noimprove``: ``new`` without the re-splits of groups of neighbouring territories that improve the warm start
  (``improve.STAGE = False``; session 7's path);
- ``norestarts``: ``new`` without region growing from further seeds (each balanced plan re-split) when the warm
  start breaks a rule (``improve.RESTARTS = None``; the default runs it, at most 30 s, with a time limit).
- ``nocutoff``: ``new`` without the warm start as HiGHS's cutoff (``channelopt.solver.START_CUTOFF_STEPS = None``;
  the default hands HiGHS ``objective_bound`` = the start's cut less half an edge, and the start);
- ``cutalone``: ``new`` with the cutoff but without the start handed to HiGHS (``solver.CUTOFF_WITH_START = False``;
  not the default).
- ``cut99``: ``new`` with the cutoff 0.99 of a grid step under the start instead of half a step (measured, not the
  default).
- ``s9warm``: ``new`` with session 9's warm start for k >= 3 on planar maps: the carving may use the whole warm-start
  share and the region-growing heuristic runs after it (``planar.FIRST_PER_REGION = None``,
  ``planar.WARM_HEURISTIC = True``).
- ``bnp``: ``new`` + branch-and-price by root (:mod:`channelopt.models.territories.branchprice`, ``STAGE``,
  ``STAGE_SHARE`` of the time) before the MILP (not the default).
- ``cutprice``: ``new`` + root cut-and-price (:mod:`channelopt.models.territories.cutprice`: the set-partitioning
  bound with subset-row cuts priced by root, ``STAGE_SHARE`` of the time) before the MILP, as
  ``TerritoryDesign(method="cut_and_price")`` runs it (not the default; AL at
  ``--time-limit 1800``: proven optimal by the stage in 1,095.6-1,202.8 s, 738.3-887.1 CPU s, session 11).

Each districting run also prints HiGHS's branch-and-bound nodes, summed over the run's HiGHS calls.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
import warnings
from pathlib import Path

from networkx.readwrite import json_graph

import channelopt as co
from channelopt import solver as solve_path
from channelopt.datasets import synthetic_dual_graph  # (also read as bench_territories.synthetic_dual_graph)
from channelopt.models.territories import (
    TerritoryDesign,
    branchprice,
    columns,
    cutprice,
    improve,
    labelling,
    planar,
    search,
)

ROOT = Path(__file__).resolve().parents[1]
_BOUNDARY_SECONDS = labelling.BOUNDARY_SECONDS
_RACE_FLOORS = search.RACE_FLOORS
_CUT_INTEGER = labelling.CUT_INTEGER
_CUT_EDGE_HIGHS = search.CUT_EDGE_HIGHS
_IMPROVE = improve.STAGE
_RESTARTS = improve.RESTARTS
_CUTOFF = solve_path.START_CUTOFF_STEPS
_WITH_START = solve_path.CUTOFF_WITH_START
_FIRST_PER_REGION = planar.FIRST_PER_REGION
_WARM_HEURISTIC = planar.WARM_HEURISTIC

_PREV = {"build": "arrays", "symmetry": "cumulative", "order": "load", "fixing": True, "cut": "max", "reach": False,
         "flow": "slots", "boundary": None}
#: session 6's tail root-order rows and Z-fixing (variant ``tail``): measured, off by default (labelling.MINROOT)
_TAIL = {"minroot": "tail", "zfix": True}
VARIANTS = {
    "old": {"build": "pulp", "symmetry": "explicit", "order": "index", "fixing": False, "cut": "max", "reach": False,
            "flow": "slots", "boundary": None, "highs": {}},
    "arrays": {**_PREV, "symmetry": "explicit", "order": "index", "fixing": False},
    "cumulative": {**_PREV, "order": "index", "fixing": False},
    "order": {**_PREV, "fixing": False},
    "prev": _PREV,
    "variation": {**_PREV, "cut": "variation"},
    "reach": {**_PREV, "reach": True},
    "single": {**_PREV, "reach": True, "flow": "single"},
    "extended": {**_PREV, "reach": True, "cut": "extended"},
    "new": {**_PREV, "reach": True, "flow": "single", "cut": "extended"},
    "floors": {**_PREV, "reach": True, "flow": "single", "cut": "extended", "boundary": "total"},
    "slots": {**_PREV, "reach": True, "flow": "single", "cut": "extended", "boundary": "slots"},
    "cheap": {**_PREV, "reach": True, "flow": "single", "cut": "extended", "boundary": "slots",
              "boundary_seconds": (0.5, 5.0)},
    "columns": {**_PREV, "reach": True, "flow": "single", "cut": "extended", "columns": True},
    # the stage priced by root, its duals then rows of the MILP (columns.ROOT_PRICING, columns.ROWS; session 9)
    "dwrows": {**_PREV, "reach": True, "flow": "single", "cut": "extended", "columns": True, "root_pricing": True},
    "tail": {**_PREV, **_TAIL, "reach": True, "flow": "single", "cut": "extended"},
    "s5": {**_PREV, "reach": True, "flow": "single", "cut": "extended", "highs": {}},
    # the cut indicators integer, so HiGHS sees an integral objective (labelling.CUT_INTEGER; not the default)
    "cutint": {**_PREV, "reach": True, "flow": "single", "cut": "extended", "cut_integer": True},
    # HiGHS's own defaults for the labelling MILP (session 6's default; search.CUT_EDGE_HIGHS)
    "nodecuts": {**_PREV, "reach": True, "flow": "single", "cut": "extended", "highs": {}},
    # threads >= 2 only: the second racer also has the boundary-floor row
    "racefloors": {**_PREV, "reach": True, "flow": "single", "cut": "extended", "race_floors": "total",
                   "race_only": True},
    # no re-splits of groups of neighbouring territories before the planar stage (improve.STAGE, session 8)
    "noimprove": {**_PREV, "reach": True, "flow": "single", "cut": "extended", "improve": False},
    # no region growing from further seeds when the warm start breaks a rule (improve.RESTARTS, session 8)
    "norestarts": {**_PREV, "reach": True, "flow": "single", "cut": "extended", "restarts": None},
    # the warm start is not HiGHS's cutoff (solver.START_CUTOFF_STEPS, session 9); the cutoff without the start
    "nocutoff": {**_PREV, "reach": True, "flow": "single", "cut": "extended", "cutoff": None},
    "cutalone": {**_PREV, "reach": True, "flow": "single", "cut": "extended", "with_start": False},
    "cut99": {**_PREV, "reach": True, "flow": "single", "cut": "extended", "cutoff": 0.99},
    # session 9's warm start: the carving has the whole share, the region growing runs after it for k >= 3 too
    "s9warm": {**_PREV, "reach": True, "flow": "single", "cut": "extended", "first_per_region": None,
               "warm_heuristic": True},
    # branch-and-price by root before the MILP (branchprice.STAGE; session 10)
    "bnp": {**_PREV, "reach": True, "flow": "single", "cut": "extended", "bnp": True},
    # root cut-and-price (subset-row cuts priced by root) before the MILP (cutprice.STAGE; session 10)
    "cutprice": {**_PREV, "reach": True, "flow": "single", "cut": "extended", "cutprice": True},
}


def configure(variant: str) -> None:
    v = VARIANTS[variant]
    os.environ["CHANNELOPT_BUILD_PATH"] = v["build"]
    labelling.SYMMETRY, labelling.ORDER, labelling.LOAD_FIXING = v["symmetry"], v["order"], v["fixing"]
    labelling.CUT_ROWS, labelling.REACH_FIXING, labelling.FLOW = v["cut"], v["reach"], v["flow"]
    labelling.BOUNDARY = v["boundary"]
    labelling.MINROOT, labelling.Z_FIXING = v.get("minroot", "single"), v.get("zfix", False)
    labelling.BOUNDARY_SECONDS = v.get("boundary_seconds", _BOUNDARY_SECONDS)
    search.RACE_FLOORS = v.get("race_floors", _RACE_FLOORS)
    columns.STAGE = v.get("columns", False)
    columns.ROOT_PRICING = v.get("root_pricing", False)
    branchprice.STAGE = v.get("bnp", False)
    cutprice.STAGE = v.get("cutprice", False)
    labelling.CUT_INTEGER = v.get("cut_integer", _CUT_INTEGER)
    search.CUT_EDGE_HIGHS = v.get("highs", _CUT_EDGE_HIGHS)
    improve.STAGE = v.get("improve", _IMPROVE)
    improve.RESTARTS = v.get("restarts", _RESTARTS)
    solve_path.START_CUTOFF_STEPS = v.get("cutoff", _CUTOFF)
    solve_path.CUTOFF_WITH_START = v.get("with_start", _WITH_START)
    planar.FIRST_PER_REGION = v.get("first_per_region", _FIRST_PER_REGION)
    planar.WARM_HEURISTIC = v.get("warm_heuristic", _WARM_HEURISTIC)


#: HiGHS branch-and-bound nodes of the runs since the last reset (see :func:`_count_nodes`)
NODES = [0]


def _count_nodes() -> None:
    """Sum ``mip_node_count`` over every HiGHS run of the solve path (inline and threaded), for the tables."""
    if getattr(solve_path, "_bench_nodes", False):
        return
    solve_path._bench_nodes = True
    race, inline = solve_path._run_race, solve_path._run_inline

    def _race(hs, *args, **kwargs):
        out = race(hs, *args, **kwargs)
        for h, gone in zip(hs, out[2]):
            if not gone:
                NODES[0] += max(0, int(h.getInfo().mip_node_count))
        return out

    def _inline(h, *args, **kwargs):
        out = inline(h, *args, **kwargs)
        NODES[0] += max(0, int(h.getInfo().mip_node_count))
        return out

    solve_path._run_race, solve_path._run_inline = _race, _inline


def benchdata() -> Path:
    env = os.environ.get("CHANNELOPT_BENCHDATA")
    path = (Path(env) if env else ROOT.parent / "shared" / "benchdata") / "districting"
    if not path.is_dir():
        sys.exit("benchmark data not found at ../shared/benchdata/districting")
    return path


def paper_seconds(folder: Path) -> dict[str, float]:
    """Fastest Gurobi MIP seconds of Validi & Buchanan's proven contiguous runs (table 14), heuristic excluded."""
    out: dict[str, float] = {}
    for f in sorted((folder / "validi_buchanan_results").glob("results_config-table14*.csv")):
        for r in csv.DictReader(open(f, newline="")):
            try:
                if r["MIP_status"] == "2":
                    out[r["state"]] = min(out.get(r["state"], float("inf")), float(r["MIP_time"]))
            except (KeyError, ValueError):
                pass
    return out


def districting(states, variants, time_limit, threads):
    """Each variant at each thread count (``threads``: an int or a list; ``--threads 1 2`` runs the race of
    ``Solver(threads=2)`` after the one-thread search, same process); a run's key is the variant, with
    ``" t2"`` appended when several thread counts are compared."""
    counts = [threads] if isinstance(threads, int) else list(threads)
    folder = benchdata()
    paper = paper_seconds(folder)
    rows = [
        r
        for r in csv.DictReader(open(folder / "optima_districting.csv", newline=""))
        if r["contiguity"] == "contiguous" and r["state"] in states
    ]
    out = []
    for r in sorted(rows, key=lambda r: int(r["n"])):
        graph = json_graph.adjacency_graph(json.load(open(folder / r["graph_file"])))
        net = co.ChannelNetwork.from_graph(graph, weight_attrs=["TOTPOP"])
        row = {"case": f"{r['state']} k={r['k']} n={r['n']}", "published": float(r["optimal_cut_edges"]),
               "paper": paper.get(r["state"], float("nan")), "runs": {}}
        for variant, count in ((v, c) for v in variants for c in counts
                               if c >= 2 or not VARIANTS[v].get("race_only")):
            key = variant if len(counts) == 1 else f"{variant} t{count}"
            configure(variant)
            _count_nodes()
            NODES[0] = 0
            t0, c0 = time.perf_counter(), time.process_time()
            model = TerritoryDesign(k=int(r["k"]), objective="cut_edges",
                                    balance={"TOTPOP": (int(r["L"]), int(r["U"]))})
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    plan = model.solve(net, solver=co.Solver("highs", time_limit=time_limit, threads=count))
                run = {"objective": plan.objective, "bound": plan.bound, "status": plan.status,
                       "contiguous": plan.metrics["contiguity_verified"], "build": plan.info.build_seconds}
            except co.exceptions.NoSolutionError:
                nan = float("nan")
                run = {"objective": nan, "bound": nan, "status": "no_plan", "contiguous": False, "build": nan}
            run["seconds"] = time.perf_counter() - t0
            run["cpu"] = time.process_time() - c0  # this process's CPU seconds: what the shared machine gave it
            run["load"] = os.getloadavg()[0]  # the machine is shared: the 1-minute load at the end of the run
            run["nodes"] = NODES[0]
            row["runs"][key] = run
            print(f"  {r['state']} {key}: {run['status']} objective {run['objective']} bound {run['bound']:.4g} "
                  f"in {run['seconds']:.1f}s, {run['cpu']:.1f} cpu, {run['nodes']} nodes, build {run['build']:.2f}s, "
                  f"load {run['load']:.1f}", flush=True)
        out.append(row)
    configure("new")
    return out


def proof(states, variants, time_limit: float) -> list[dict]:
    """The proof alone: each state's cut-edge labelling MILP with the published optimum less 0.5 as HiGHS's cutoff.

    The model is built as the default path builds it (``configure(variant)`` first) and solved by HiGHS directly
    (1 thread, ``search.CUT_EDGE_HIGHS``, the solver's row scaling) with ``objective_bound = optimum - 0.5``: no
    plan can be found, so the run ends "Infeasible" once every plan cutting fewer edges than the optimum is ruled
    out. HiGHS may still accept a plan at the cutoff's far side as it closes the tree (NM: "Optimal", 17): either
    way the tree is closed and the proof done ("proven"; a plan below the published optimum would say "BELOW").
    No heuristic, no warm start, no planar stage: CPU s, nodes and bound measure the proof on its own, apart from
    how soon the optimum is found (issue 12: KS's path is both). HiGHS's log of each run goes to
    ``proof_<state>_<variant>.log`` in the working directory.
    """
    import highspy

    from channelopt.solver import _highs_lp

    folder = benchdata()
    rows = [r for r in csv.DictReader(open(folder / "optima_districting.csv", newline=""))
            if r["contiguity"] == "contiguous" and r["state"] in states]
    out = []
    for r in sorted(rows, key=lambda r: int(r["n"])):
        graph = json_graph.adjacency_graph(json.load(open(folder / r["graph_file"])))
        net = co.ChannelNetwork.from_graph(graph, weight_attrs=["TOTPOP"])
        optimum = float(r["optimal_cut_edges"])
        for variant in variants:
            configure(variant)
            c0 = time.process_time()
            model = TerritoryDesign(k=int(r["k"]), objective="cut_edges",
                                    balance={"TOTPOP": (int(r["L"]), int(r["U"]))})
            a = model.build(net).arrays.arrays()
            build = time.process_time() - c0
            lp, _, obj_scale = _highs_lp(a)  # the solver's own scaled model
            highspy.Highs.resetGlobalScheduler(True)  # one thread, whatever ran before in this process
            h = highspy.Highs()
            options = {"output_flag": True, "log_to_console": False, "log_file": f"proof_{r['state']}_{variant}.log",
                       "threads": 1, "time_limit": float(time_limit), "objective_bound": (optimum - 0.5) * obj_scale,
                       **search.CUT_EDGE_HIGHS}
            for key, value in options.items():
                h.setOptionValue(key, value)
            h.passModel(lp)
            c1, t1 = time.process_time(), time.perf_counter()
            h.run()
            info = h.getInfo()
            status = h.modelStatusToString(h.getModelStatus())
            if status in ("Infeasible", "Optimal"):
                below = status == "Optimal" and info.objective_function_value / obj_scale < optimum - 1e-6
                status = "BELOW" if below else "proven"
            run = {"case": f"{r['state']} k={r['k']} n={r['n']}", "variant": variant, "optimum": optimum,
                   "status": status, "bound": info.mip_dual_bound / obj_scale,
                   "nodes": int(info.mip_node_count), "cpu": time.process_time() - c1,
                   "seconds": time.perf_counter() - t1, "build_cpu": build, "columns": len(a.cost),
                   "rows": len(a.row_lower), "nonzeros": len(a.data), "load": os.getloadavg()[0]}
            print(f"  {run['case']} {variant}: {run['status']} bound {run['bound']:.4g} (optimum {optimum:.0f}), "
                  f"{run['nodes']} nodes, {run['cpu']:.1f} cpu s ({run['seconds']:.1f} s), build {build:.2f} cpu s, "
                  f"{run['rows']} rows x {run['columns']} columns, {run['nonzeros']} nonzeros, load {run['load']:.1f}",
                  flush=True)
            out.append(run)
    configure("new")
    return out


def print_table(rows, variants) -> None:
    head = f"{'case':18} {'opt':>4} {'paper s':>8}"
    for v in variants:
        head += f" | {v + ' obj/bound':>16} {'status':>8} {'s':>7} {'cpu s':>7} {'load':>5}"
    base = variants[0]
    for v in variants[1:]:
        head += f" | {base + '/' + v:>10}"
    print(head)
    for row in rows:
        line = f"{row['case']:18} {row['published']:4.0f} {row['paper']:8.2f}"
        for v in variants:
            run = row["runs"][v]
            ob = f"{run['objective']:.0f}/{run['bound']:.4g}"
            line += f" | {ob:>16} {run['status']:>8} {run['seconds']:7.1f} {run['cpu']:7.1f} {run['load']:5.1f}"
        b = row["runs"][base]
        for v in variants[1:]:
            run = row["runs"][v]
            both = b["status"] == run["status"] == "optimal"
            line += f" | {(b['seconds'] / run['seconds']) if both else float('nan'):10.2f}"
        print(line)


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


def counties(seconds: float, k: int = 60, threads: int = 1) -> dict:
    """Issue 12's national case: ~2,800 synthetic counties, k territories, 5% workload balance, contiguous.

    The heuristic (construction, local search, location-allocation) gets ``seconds``;
    the plan's bound is the p-median Lagrangian (valid for the full problem).
    """
    import resource

    t0 = time.perf_counter()
    net = co.datasets.make_counties(seed=0)
    made = time.perf_counter() - t0
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plan = TerritoryDesign(k=k, balance={"workload": 0.05}, method="heuristic", heuristic_seconds=seconds).solve(
            net, solver=co.Solver("highs", threads=threads))
    out = {
        "regions": len(net.region_ids), "k": k, "network_seconds": made, "seconds": time.perf_counter() - t0,
        "objective": plan.objective, "bound": plan.bound, "gap": plan.gap, "status": plan.status,
        "contiguous": plan.metrics["contiguity_verified"], "balanced": plan.metrics["balance_ok_workload"],
        "max_deviation": plan.metrics["max_deviation_workload"], "territories": plan.metrics["territories"],
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, "bound_from": plan.info.message,
    }
    print(f"counties n={out['regions']} k={k}: network {made:.1f}s; plan {out['seconds']:.1f}s objective "
          f"{out['objective']:.6g} bound {out['bound']:.6g} gap {out['gap']:.2%} contiguous={out['contiguous']} "
          f"balanced={out['balanced']} (max deviation {out['max_deviation']:.2%}), {out['territories']} territories, "
          f"peak RSS {out['peak_rss_gb']:.2f} GB; {out['bound_from']}", flush=True)
    return out


def population_bounds(total: float, k: int, tolerance: float) -> tuple[int, int]:
    """Validi & Buchanan's L and U: ``ceil((1 - tol) P / k)`` and ``floor((1 + tol) P / k)``."""
    import math

    return math.ceil((1 - tolerance) * total / k), math.floor((1 + tolerance) * total / k)


#: the large-graph cases of issue 12 (n, k, population tolerance), seed 0
SYNTHETIC = [(300, 2, 0.005), (300, 3, 0.005), (400, 2, 0.005), (400, 3, 0.005), (550, 2, 0.005), (550, 3, 0.005)]


def synthetic(cases, time_limit: float, threads: int, seed: int = 0) -> list[dict]:
    """Issue 12's large-graph target on :func:`synthetic_dual_graph` instances: the default path, one run each."""
    out = []
    for n, k, tol in cases:
        g = synthetic_dual_graph(n, seed=seed)
        net = co.ChannelNetwork.from_graph(g, weight_attrs=["TOTPOP"])
        lo, hi = population_bounds(sum(nx_pop for _, nx_pop in g.nodes(data="TOTPOP")), k, tol)
        before = load_average()
        t0, c0 = time.perf_counter(), time.process_time()
        model = TerritoryDesign(k=k, objective="cut_edges", balance={"TOTPOP": (lo, hi)})
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                plan = model.solve(net, solver=co.Solver("highs", time_limit=time_limit, threads=threads))
            run = {"objective": plan.objective, "bound": plan.bound, "status": plan.status,
                   "contiguous": plan.metrics["contiguity_verified"], "build": plan.info.build_seconds,
                   "first": plan.metrics["heuristic_seconds"]}
        except co.exceptions.NoSolutionError:
            nan = float("nan")
            run = {"objective": nan, "bound": nan, "status": "no_plan", "contiguous": False, "build": nan, "first": nan}
        run.update(case=f"synthetic n={n} m={g.number_of_edges()} k={k} +-{tol:.1%}", seconds=time.perf_counter() - t0,
                   cpu=time.process_time() - c0, load=f"{before} -> {load_average()}")
        print(f"  {run['case']}: {run['status']} objective {run['objective']} bound {run['bound']:.4g} in "
              f"{run['seconds']:.1f}s, {run['cpu']:.1f} cpu, build {run['build']:.2f}s, heuristic {run['first']:.2f}s, "
              f"contiguous={run['contiguous']}, load {run['load']}", flush=True)
        out.append(run)
    return out


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def china_limit(seconds: float = 120.0, threads: int = 1, seeds=(0,)) -> list[dict]:
    """Issue 12's china target: k=12, compactness, 5% workload balance, contiguous, under ``time_limit=seconds``.

    Rows, per seed, one after the other in one process: the default (exact, heuristic_seconds=5) and the
    heuristic-plus-bound mode with 80% of the limit for the heuristic, each new and as in session 4
    ("old": no HiGHS probe, ``search.PROBE_SHARE = None``, one location-allocation pass,
    ``search.CYCLES = False``, no branching on centres in the bound stage, ``bounds.BRANCHING = False``, no
    Lagrangian-guided location-allocation or dives, ``allocation.GUIDE = False``).
    Each plan's bound is valid for the full problem.
    """
    from channelopt.models.territories import allocation, bounds, search

    net = co.datasets.load_example("china")
    switches = ((search, "PROBE_SHARE", None), (search, "CYCLES", False), (bounds, "BRANCHING", False),
                (allocation, "GUIDE", False), (bounds, "BRANCH_RULE", "last"), (bounds, "NODE_FIXING", False))
    now = [getattr(m, name) for m, name, _ in switches]
    rows = []
    for seed in seeds:
        for method, hs, old in (("exact", 5.0, False), ("exact", 5.0, True), ("heuristic", 0.8 * seconds, False),
                                ("heuristic", 0.8 * seconds, True)):
            for (m, name, before), value in zip(switches, now):
                setattr(m, name, before if old else value)
            try:
                rows.append(_china_limit_row(net, seconds, threads, method, hs, " old (session 4)" if old else " new",
                                             seed))
            finally:
                for (m, name, _), value in zip(switches, now):
                    setattr(m, name, value)
    return rows


def _china_limit_row(net, seconds, threads, method, heuristic_seconds, note="", seed=0) -> dict:
    import resource

    before = load_average()
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plan = TerritoryDesign(k=12, balance={"workload": 0.05}, method=method,
                               heuristic_seconds=heuristic_seconds, seed=seed).solve(
            net, solver=co.Solver("highs", time_limit=seconds, threads=threads))
    out = {
        "case": f"china k=12 {method} heuristic_seconds={heuristic_seconds:g} limit {seconds:g}s seed {seed}{note}",
        "seconds": time.perf_counter() - t0, "cpu": time.process_time() - cpu0, "objective": plan.objective,
        "bound": plan.bound, "gap": plan.gap, "status": plan.status,
        "contiguous": plan.metrics["contiguity_verified"], "max_deviation": plan.metrics["max_deviation_workload"],
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, "bound_from": plan.info.message,
        "load": f"{before} -> {load_average()}",
    }
    print(f"{out['case']}: {out['seconds']:.1f}s (cpu {out['cpu']:.1f}s) objective {out['objective']:.6g} "
          f"bound {out['bound']:.6g} gap "
          f"{out['gap']:.2%} {out['status']} contiguous={out['contiguous']} max deviation {out['max_deviation']:.2%}"
          f" peak RSS {out['peak_rss_gb']:.2f} GB; load {out['load']}; {out['bound_from']}", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--states", nargs="*", default=["ME", "NM", "ID", "WV"])
    ap.add_argument("--variants", nargs="*", default=["old", "new"], choices=list(VARIANTS))
    ap.add_argument("--china", action="store_true")
    ap.add_argument("--candidates", type=lambda v: None if v == "none" else int(v), nargs="*", default=[60])
    ap.add_argument("--time-limit", type=float, default=120.0)
    ap.add_argument("--china-seconds", type=float, default=290.0)
    ap.add_argument("--threads", type=int, nargs="*", default=[1],
                    help="HiGHS threads; several (e.g. 1 2) compare them per state, variant by variant "
                         "(threads >= 2 races HiGHS runs, see channelopt.solver.RACERS); other modes use the first")
    ap.add_argument("--counties", type=float, default=0.0, metavar="SECONDS",
                    help="also design 60 territories on the ~2,800-county synthetic network with this heuristic time")
    ap.add_argument("--china-limit", type=float, default=0.0, metavar="SECONDS",
                    help="china k=12, 5%% balance, default path under time_limit=SECONDS (issue 12: 1%% in 120 s)")
    ap.add_argument("--seeds", type=int, nargs="*", default=[0], help="heuristic seeds of the --china-limit rows")
    ap.add_argument("--synthetic", action="store_true",
                    help="issue 12's large graphs: synthetic Delaunay dual graphs (--sizes, --ks, --tolerance), "
                         "default path, --time-limit each")
    ap.add_argument("--proof", action="store_true",
                    help="the labelling MILP alone with the published optimum less 0.5 as cutoff: CPU s and nodes to "
                         "rule out every better plan (--states, --variants, --time-limit; HiGHS logs in the cwd)")
    ap.add_argument("--sizes", type=int, nargs="*", default=[300, 400, 550])
    ap.add_argument("--ks", type=int, nargs="*", default=[2, 3])
    ap.add_argument("--tolerance", type=float, nargs="*", default=[0.005])
    args = ap.parse_args()
    counts = args.threads or [1]
    args.threads = counts[0]
    if args.synthetic:
        cases = [(n, k, tol) for n in args.sizes for k in args.ks for tol in args.tolerance]
        runs = synthetic(cases, args.time_limit, args.threads)
        print(f"{'case':36} {'objective':>9} {'bound':>7} {'status':>9} {'s':>7} {'cpu s':>7}  "
              "load (1/5/15 min, before -> after)")
        for r in runs:
            print(f"{r['case']:36} {r['objective']:9.0f} {r['bound']:7.4g} {r['status']:>9} {r['seconds']:7.1f} "
                  f"{r['cpu']:7.1f}  {r['load']}")
    if args.proof:
        proof(set(args.states), args.variants, args.time_limit)
    elif args.states and not args.synthetic:
        rows = districting(set(args.states), args.variants, args.time_limit, counts)
        print_table(rows, args.variants if len(counts) == 1 else [
            f"{v} t{c}" for v in args.variants for c in counts if c >= 2 or not VARIANTS[v].get("race_only")])
    if args.china_limit:
        china_limit(args.china_limit, threads=args.threads, seeds=args.seeds)
    if args.counties:
        before = load_average()
        counties(args.counties, threads=args.threads)
        print(f"  load average {before} -> {load_average()}")
    if args.china:
        for r in china(args.china_seconds, args.candidates, args.threads):
            print(f"{r['case']:26} objective {r['objective']:12.8g} bound {r['bound']:12.8g} gap {r['gap']:7.2%} "
                  f"{r['status']:>9} contiguous={r['contiguous']} {r['seconds']:8.1f}s")


if __name__ == "__main__":
    main()
