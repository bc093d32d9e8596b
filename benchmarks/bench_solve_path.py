"""The solve path: array build vs PuLP build (issue 11), the clock and Ctrl-C (issue 10).

Run: ``python benchmarks/bench_solve_path.py [--parts build limits ctrlc table] [--limits 1 5 20 60]``

Every run happens in a fresh subprocess, so that its peak memory (``ru_maxrss``) is
its own. Timing claims are ratios within this run.

Part ``build``: a synthetic capacitated facility location (single-sourced, k nearest
candidates per outlet) written both ways in this file, and DistributorSelection
(capacitated ``min_cost``) on the china example; each once with the array build and
once with ``CHANNELOPT_BUILD_PATH=pulp`` (the PuLP objects path: a model's own PuLP
``_build`` where it still has one, else its array problem materialised as PuLP).

Part ``limits``: the china example under each time limit for capacitated ``min_cost``,
capacitated ``max_coverage`` (p=20, max_distance=300), ``TerritoryDesign`` (k=12, 5%
workload balance) and ``ChannelPlanner`` (the what_if.yaml budget and curves; min_cost
selection, balance 70%); wall seconds of ``model.solve()`` over the limit, objective
against the best seen in the table, gap, status and peak memory.

Part ``table`` (issue 11's proof table): every model of the table, once on the old path
(``CHANNELOPT_BUILD_PATH=pulp``: PuLP objects built, and for the MIP rows the classic
formulation ``strategy="mip"``) and once on the default path, each run in its own
process: build seconds, peak memory after the build, solve seconds under the same time
limit, peak memory of the whole run, objective and status, with the load average at the
start of each run. Rows: the china capacitated ``min_cost`` MIP, OR-Library pmed16/26/36,
a 20,000 x 500 capacitated instance (k=20 nearest candidates) with
``strategy="lagrangian"`` (0.1's Lagrangian path built each transportation LP and the
narrowed MIP as PuLP objects; the switch does the same), the china territory design
(k=12, 5% workload balance), the china budget (Hill S-curves, 5,157 cells) and the
china price plan (corridors and a three-tier rebate schedule, a MILP).

Part ``sparse`` (issue 13, no dense n x m array): a p-median on points (projected
coordinates, ``--sparse-size`` outlets x candidates, ``candidates=k`` nearest), in one
process: peak memory after the network, after ``build`` and after the greedy warm start,
and whether a dense cost or distance matrix was ever made. The before/after figures
(run from a checkout of the code before the sparse link layer) are in ``RESULTS.md``,
with the ``table`` part's recorded run.

Part ``ctrlc``: a real SIGINT to a process solving without a time limit; seconds from
the signal to the process's exit, and what it returned.

Part ``ctrlc_china``: SIGINT on china capacitated min_cost through the Python API and
``channelopt solve``, in the Lagrangian phase and in a final MIP; seconds to the plan and
to the process's exit (issue 10; figures in ``RESULTS.md``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve()
ROOT = HERE.parents[1]


# ----------------------------------------------------------------------------- child side
def _synthetic_model():
    import numpy as np
    import pandas as pd
    import pulp

    from channelopt.metrics import Metrics
    from channelopt.models._base import Model
    from channelopt.models._lp import add_grouped_rows, linear, new_vars
    from channelopt.plan import Plan

    class SyntheticCFL(Model):
        """Capacitated, single-sourced facility location on the k nearest candidates."""

        kind = "synthetic_cfl"

        def __init__(self, *, n: int = 2000, m: int = 200, k: int = 50, seed: int = 0):
            self.n, self.m, self.k, self.seed = n, m, k, seed

        def _data(self):
            rng = np.random.default_rng(self.seed)
            pts, sites = rng.random((self.n, 2)), rng.random((self.m, 2))
            d = np.linalg.norm(pts[:, None] - sites[None], axis=2)
            near = np.argpartition(d, self.k - 1, axis=1)[:, : self.k]
            oi = np.repeat(np.arange(self.n), self.k)
            dj = near.reshape(-1)
            cost = d[oi, dj] * 1000.0
            demand = rng.integers(1, 10, self.n).astype(float)
            cap = np.full(self.m, demand.sum() * 2.0 / self.m)
            fixed = rng.integers(2000, 5000, self.m).astype(float)
            return oi, dj, cost, demand, cap, fixed

        def _build_arrays(self, net, ap):
            oi, dj, cost, demand, cap, fixed = self._data()
            p = len(oi)
            x = ap.add_vars("x", p, upper=1, integer=True, cost=cost)
            y = ap.add_vars("y", self.m, upper=1, integer=True, cost=fixed)
            ap.add_rows("assign", rows=oi, cols=x.index, sense="==", rhs=1.0, n_rows=self.n)
            ap.add_rows("cap", rows=np.r_[dj, np.arange(self.m)], cols=np.r_[x.index, y.index],
                        coefs=np.r_[demand[oi], -cap], sense="<=", rhs=0.0, n_rows=self.m)
            k = np.arange(p)
            ap.add_rows("link", rows=np.r_[k, k], cols=np.r_[x.index, y[dj]],
                        coefs=np.r_[np.ones(p), -np.ones(p)], sense="<=", rhs=0.0)
            return {"x": x, "y": y}

        def _build(self, net, prob):
            # The 0.1 idioms (STYLE.md): one LpAffineExpression per row, Python floats.
            oi, dj, cost, demand, cap, fixed = self._data()
            p = len(oi)
            x = new_vars(prob, "x", p, cat=pulp.LpBinary)
            y = new_vars(prob, "y", self.m, cat=pulp.LpBinary)
            prob.setObjective(linear(np.r_[x, y], np.r_[cost, fixed]))
            add_grouped_rows(prob, x, None, oi, self.n, "==", 1.0, "assign")
            add_grouped_rows(prob, x, demand[oi], dj, self.m, "<=", 0.0, "cap", extra_vars=y, extra_coefs=-cap)
            xs, ys = x.tolist(), y[dj].tolist()
            for q in range(p):
                prob.addConstraint(pulp.LpConstraint(pulp.LpAffineExpression([(xs[q], 1.0), (ys[q], -1.0)]),
                                                     pulp.LpConstraintLE, f"link_{q}", 0.0))
            return {"x": x, "y": y}

        def _extract(self, net, state, info):
            from channelopt.models._lp import values

            return Plan(kind=self.kind, info=info, assignments=pd.DataFrame({"y": values(state["y"])}),
                        metrics=Metrics())

    return SyntheticCFL


def _china_model(case: str):
    import channelopt as co

    if case == "min_cost":
        return co.DistributorSelection(objective="min_cost", capacitated=True)
    if case == "min_cost_mip":  # the plain MIP (411k columns), not the automatic Lagrangian strategy
        return co.DistributorSelection(objective="min_cost", capacitated=True, strategy="mip")
    if case == "max_coverage":
        return co.DistributorSelection(objective="max_coverage", capacitated=True, p=20, max_distance=300)
    if case == "territories":
        return co.TerritoryDesign(k=12, balance={"workload": 0.05})
    if case == "planner":
        return co.ChannelPlanner(
            selection={"objective": "min_cost"},
            # what_if.yaml's 25% balance (for nc) is infeasible on china (CN-0001 alone carries 163% of
            # the mean); 70% without its candidates=8 is feasible
            territories={"balance": {"workload": 0.7}, "contiguity": True},
            budget={"total": 1_000_000},
            curves={"promotion": {"hill": [400000, 60000, 1.0]}, "display": {"hill": [150000, 20000, 0.8]}})
    raise SystemExit(f"unknown case {case}")


def _table_model(case: str):
    """(model, network, solver settings) of one row of the proof table."""
    import numpy as np

    import channelopt as co

    bench = str(HERE.parent)
    if bench not in sys.path:
        sys.path.insert(0, bench)  # benchmarks/orlib.py and the other benchmarks' instances
    old = os.environ.get("CHANNELOPT_BUILD_PATH", "arrays") == "pulp"
    if case == "china_capacitated":
        return (co.DistributorSelection(objective="min_cost", capacitated=True, strategy="mip"),
                co.load_example("china"), {})
    if case.startswith("pmed"):
        from orlib import read_pmed

        inst = read_pmed(ROOT.parent / "shared" / "benchdata" / "orlib" / f"{case}.txt")
        w = np.ones(len(inst.distances))
        net = co.ChannelNetwork.from_cost_matrix(inst.distances * w[:, None], demand=w, distances=inst.distances)
        # the old path: 0.1's classic MIP on PuLP objects; the new one: the default ("auto": radius)
        return co.DistributorSelection(objective="p_median", p=inst.p, strategy="mip" if old else "auto"), net, {}
    if case == "lagrangian_20000x500":
        from bench_distributors import synthetic_capacitated

        net = synthetic_capacitated(20000, 500, seed=20000)
        return (co.DistributorSelection(capacitated=True, candidates=20, strategy="lagrangian"), net,
                {"mip_gap": 0.01})
    if case == "territories":
        return co.TerritoryDesign(k=12, balance={"workload": 0.05}), co.load_example("china"), {}
    if case == "budget":
        from bench_budget import china_model

        net, model = china_model()
        return model, net, {}
    if case == "pricing":
        import pandas as pd

        net = co.load_example("china")
        cells = co.synthetic_price_cells(net, seed=0)
        cost = co.diversion_costs(net, per_km=0.01, handling=1.0)
        rebates = pd.DataFrame({"tier": ["bronze", "silver", "gold"], "threshold_share": [0.8, 0.9, 1.0],
                                "rebate": [0.02, 0.04, 0.06]})
        return (co.PricePlan(cells=cells, diversion_cost=cost, rebates=rebates,
                             channel_gaps={("modern_ka", "traditional"): (-4.0, 0.0)}), None, {"mip_gap": 1e-4})
    raise SystemExit(f"unknown table case {case}")


def _point_network(n: int, m: int, seed: int = 0):
    """Outlets and candidates as points in a projected CRS (metres), one region, every channel."""
    import geopandas as gpd
    import numpy as np
    import pandas as pd
    from shapely.geometry import box

    import channelopt as co

    rng = np.random.default_rng(seed)
    a, b = rng.random((n, 2)) * 500_000, rng.random((m, 2)) * 500_000
    regions = gpd.GeoDataFrame({"region_id": ["all"]}, geometry=[box(-1, -1, 500_001, 500_001)], crs=3857)
    outlets = gpd.GeoDataFrame({"outlet_id": np.arange(n).astype(str), "region_id": "all",
                                "channel": "traditional", "potential": rng.uniform(1, 10, n)},
                               geometry=gpd.points_from_xy(a[:, 0], a[:, 1]), crs=3857)
    dists = gpd.GeoDataFrame({"distributor_id": np.arange(m).astype(str), "fixed_cost": 1.0, "capacity": np.inf},
                             geometry=gpd.points_from_xy(b[:, 0], b[:, 1]), crs=3857)
    return co.ChannelNetwork(regions, outlets, dists, graph=pd.DataFrame({"region_a": [], "region_b": []}))


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def child(spec: dict) -> None:
    warnings.simplefilter("ignore")
    import channelopt as co

    out: dict = {"spec": spec}
    limit = spec.get("limit")
    solver = co.Solver("highs", time_limit=limit)
    if spec["part"] == "build":
        if spec["case"] == "synthetic":
            model, net = _synthetic_model()(n=spec["n"], m=spec["m"], k=spec["k"]), None
        else:
            net = co.load_example("china")
            model = _china_model(spec["case"])
        out["rss_before_mb"] = _peak_mb()
        t0 = time.perf_counter()
        built = model.build(net)
        out["build_s"] = built.build_seconds
        out["pulp_objects"] = built.has_problem
        out["n_cols"] = built.arrays.n_cols if built.arrays is not None else len(built.problem.variables())
        out["peak_after_build_mb"] = _peak_mb()
        t1 = time.perf_counter()
        try:
            plan = built.solve(solver)
            out.update(status=plan.status, objective=plan.objective, gap=plan.gap)
        except co.ChannelOptError as exc:
            out.update(status=type(exc).__name__, objective=math.nan, gap=math.nan)
        out["solve_s"] = time.perf_counter() - t1
        out["wall_s"] = time.perf_counter() - t0
        out["peak_mb"] = _peak_mb()
    elif spec["part"] == "table":
        out["load_1min"] = os.getloadavg()[0]
        model, net, opts = _table_model(spec["case"])
        solver = co.Solver("highs", time_limit=limit, threads=1, **opts)
        out["rss_before_mb"] = _peak_mb()
        t0 = time.perf_counter()
        built = model.build(net)
        out["build_s"] = time.perf_counter() - t0
        out["pulp_objects"] = built.has_problem
        out["peak_after_build_mb"] = _peak_mb()
        t1 = time.perf_counter()
        try:
            plan = built.solve(solver)
            out.update(status=plan.status, objective=plan.objective, gap=plan.gap, bound=plan.info.bound,
                       strategy=getattr(built, "strategy", ""))
            if "solve_steps" in plan.tables:  # the Lagrangian path's steps (its LPs are where the paths differ)
                out["steps"] = ", ".join(
                    f"{r.step} {r.seconds:.1f} s" + (f" gap {g:.4f}" if (g := getattr(r, "gap", math.nan)) == g else "")
                    for r in plan.tables["solve_steps"].itertuples())
        except co.ChannelOptError as exc:
            out.update(status=type(exc).__name__, objective=math.nan, gap=math.nan)
        out["solve_s"] = time.perf_counter() - t1
        out["peak_mb"] = _peak_mb()
    elif spec["part"] == "sparse":
        out["load_1min"] = os.getloadavg()[0]
        out["start_mb"] = _peak_mb()
        net = _point_network(spec["n"], spec["m"])
        out["net_mb"] = _peak_mb()
        model = co.DistributorSelection(objective="p_median", p=spec["p"], candidates=spec["k"], strategy="mip")
        t0 = time.perf_counter()
        built = model.build(net)
        out["build_s"] = time.perf_counter() - t0
        out["build_mb"] = _peak_mb()
        t0 = time.perf_counter()
        start = model._warm_start(net, built.state, seconds=spec.get("greedy_s", 10.0))
        out["greedy_s"] = time.perf_counter() - t0
        out["greedy_mb"] = _peak_mb()
        out["links"] = len(built.state["oi"])
        out["dense_made"] = net._distances is not None or net._costs is not None
        if start is not None:
            out["objective"] = float((start[built.state["x"]] * built.state["cost"]).sum())
    elif spec["part"] == "limits":
        net = co.load_example("china")
        model = _china_model(spec["case"])
        out["load_start"] = os.getloadavg()[0]
        out["rss_before_mb"] = _peak_mb()
        t0 = time.perf_counter()
        try:
            plan = model.solve(net, solver)
            out.update(status=plan.status, termination=plan.info.termination, objective=plan.objective,
                       bound=plan.bound, gap=plan.gap)
            if "weighted_distribution" in plan.metrics:
                out["wd"] = plan.metrics["weighted_distribution"]
        except co.ChannelOptError as exc:
            out.update(status=type(exc).__name__, termination=str(exc)[:80], objective=math.nan, gap=math.nan)
        out["wall_s"] = time.perf_counter() - t0
        out["peak_mb"] = _peak_mb()
        out["load_end"] = os.getloadavg()[0]
    elif spec["part"] == "ctrlc":
        if spec["case"] == "synthetic":
            model, net = _synthetic_model()(n=spec["n"], m=spec["m"], k=spec["k"]), None
        else:
            net = co.load_example("china")
            model = _china_model(spec["case"])

        class Marked(co.Solver):
            """Says when each solver call starts (the parent times its SIGINT by it)."""

            def _run(self, a, start):
                print("CALL " + ("mip" if a.is_mip else "lp"), flush=True)
                return super()._run(a, start)

        solver = Marked("highs", time_limit=limit)
        print("SOLVING", flush=True)
        try:
            plan = model.solve(net, solver)
            out.update(status=plan.status, termination=plan.info.termination, objective=plan.objective)
        except KeyboardInterrupt:
            out.update(status="KeyboardInterrupt")
    print("RESULT " + json.dumps(out, default=float), flush=True)


# ----------------------------------------------------------------------------- parent side
def run_child(spec: dict, env_extra: dict | None = None, timeout: float = 1800) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), **(env_extra or {})}
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, str(HERE), "--child", json.dumps(spec)], capture_output=True, text=True,
                         env=env, timeout=timeout)
    line = next((ln for ln in res.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if line is None:
        return {"spec": spec, "status": f"crashed rc={res.returncode}", "error": res.stderr[-400:],
                "process_s": time.perf_counter() - t0}
    out = json.loads(line[7:])
    out["process_s"] = time.perf_counter() - t0
    return out


def fmt(v, spec=".2f"):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "nan"
    return format(v, spec) if isinstance(v, int | float) else str(v)


def part_build(sizes, china: bool, limit: float) -> None:
    print("\n## Build path: arrays vs PuLP objects (each run in its own process; solve time_limit "
          f"{limit:g}s)\n")
    print("| case | columns | path | PuLP objects | build s | peak after build MB | solve s | peak MB | status |")
    print("|---|---|---|---|---|---|---|---|---|")
    cases = [{"part": "build", "case": "synthetic", "n": n, "m": m, "k": k, "limit": limit} for n, m, k in sizes]
    if china:
        cases.append({"part": "build", "case": "min_cost", "limit": limit})
    ratios = []
    for spec in cases:
        rows = {}
        for path in ("pulp", "arrays"):
            r = run_child(spec, {"CHANNELOPT_BUILD_PATH": path})
            rows[path] = r
            name = spec["case"] if spec["case"] != "synthetic" else f"synthetic {spec['n']}x{spec['m']} k={spec['k']}"
            print(f"| {name} | {r.get('n_cols', '')} | {path} | {r.get('pulp_objects', '')} "
                  f"| {fmt(r.get('build_s'))} | {fmt(r.get('peak_after_build_mb'), '.0f')} | {fmt(r.get('solve_s'))} "
                  f"| {fmt(r.get('peak_mb'), '.0f')} | {r.get('status')} |", flush=True)
        p, a = rows["pulp"], rows["arrays"]
        if "build_s" in p and "build_s" in a:
            ratios.append((name, p["build_s"] / max(a["build_s"], 1e-9),
                           p["peak_after_build_mb"] / max(a["peak_after_build_mb"], 1e-9),
                           p["peak_mb"] / max(a["peak_mb"], 1e-9), p["pulp_objects"] == a["pulp_objects"]))
    print("\n| case | build time PuLP/arrays | peak after build PuLP/arrays | peak overall PuLP/arrays | note |")
    print("|---|---|---|---|---|")
    for name, b, m1, m2, same in ratios:
        note = "model not ported to arrays: both runs take the PuLP path" if same else ""
        print(f"| {name} | {b:.1f}x | {m1:.1f}x | {m2:.1f}x | {note} |")


TABLE_CASES = {"china_capacitated": 20.0, "pmed16": 60.0, "pmed26": 60.0, "pmed36": 60.0,
               "lagrangian_20000x500": 300.0, "territories": 20.0, "budget": 20.0, "pricing": 60.0}


def part_table(cases) -> None:
    print("\n## Issue 11 proof table: old path (PuLP objects) vs default path, one process per run, 1 thread\n")
    print("| model | limit s | path | load | PuLP objects | build s | peak after build MB | solve s | peak MB | "
          "objective | status | gap |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    ratios, steps = [], []
    for case in cases:
        limit = TABLE_CASES[case]
        rows = {}
        for path in ("pulp", "arrays"):
            r = run_child({"part": "table", "case": case, "limit": limit}, {"CHANNELOPT_BUILD_PATH": path},
                          timeout=limit * 10 + 1200)
            rows[path] = r
            label = "old (PuLP)" if path == "pulp" else "new"
            print(f"| {case} | {limit:g} | {label} | {fmt(r.get('load_1min'), '.1f')} | {r.get('pulp_objects', '')} "
                  f"| {fmt(r.get('build_s'))} | {fmt(r.get('peak_after_build_mb'), '.0f')} | {fmt(r.get('solve_s'))} "
                  f"| {fmt(r.get('peak_mb'), '.0f')} | {fmt(r.get('objective'), '.8g')} | {r.get('status')} "
                  f"| {fmt(r.get('gap'), '.4f')} |", flush=True)
        p, a = rows["pulp"], rows["arrays"]
        if "steps" in p or "steps" in a:
            steps.append((case, {k: v.get("steps", "") for k, v in rows.items()}))
        if "build_s" in p and "build_s" in a:
            ratios.append((case, p["build_s"] / max(a["build_s"], 1e-9),
                           p["peak_after_build_mb"] / max(a["peak_after_build_mb"], 1e-9),
                           p["solve_s"] / max(a["solve_s"], 1e-9), p["peak_mb"] / max(a["peak_mb"], 1e-9)))
    print("\n| model | build time old/new | peak after build old/new | solve time old/new | peak overall old/new |")
    print("|---|---|---|---|---|")
    for case, b, m1, s_, m2 in ratios:
        print(f"| {case} | {b:.1f}x | {m1:.1f}x | {s_:.2f}x | {m2:.1f}x |")
    for case, r in steps:
        print(f"\n{case} steps: old: {r['pulp']}; new: {r['arrays']}")


def part_sparse(size: str, p: int, k: int) -> None:
    n, m = (int(v) for v in size.split("x"))
    r = run_child({"part": "sparse", "n": n, "m": m, "p": p, "k": k}, timeout=1800)
    print(f"\n## p-median {n} x {m}, p={p}, candidates={k}: build + greedy (one process, load "
          f"{fmt(r.get('load_1min'), '.1f')})\n")
    print("| links | dense matrix made | peak after network MB | build s | peak after build MB | greedy s | "
          "peak after greedy MB | greedy objective |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| {r.get('links')} | {r.get('dense_made')} | {fmt(r.get('net_mb'), '.0f')} | {fmt(r.get('build_s'))} | "
          f"{fmt(r.get('build_mb'), '.0f')} | {fmt(r.get('greedy_s'))} | {fmt(r.get('greedy_mb'), '.0f')} | "
          f"{fmt(r.get('objective'), '.8g')} |" if "links" in r else f"| {r.get('status')} {r.get('error', '')} |")


def part_limits(limits, cases) -> None:
    print("\n## china example under time limits (HiGHS; each run in its own process)\n")
    results = []
    for case in cases:
        for limit in limits:
            r = run_child({"part": "limits", "case": case, "limit": limit}, timeout=limit * 6 + 600)
            results.append(r)
            print(f"  done {case} @ {limit}s: wall {fmt(r.get('wall_s'))} {r.get('status')}", file=sys.stderr,
                  flush=True)
    maximise = {"max_coverage", "planner"}  # the planner's objective is its budget stage's response
    best = {}
    for r in results:
        case, obj = r["spec"]["case"], r.get("objective", math.nan)
        if obj is None or not math.isfinite(obj):
            continue
        if case not in best or (obj > best[case] if case in maximise else obj < best[case]):
            best[case] = obj
    print("| model | limit s | wall s | over limit s | status | termination | objective | vs best seen | gap | "
          "WD | peak MB | load |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        case, limit = r["spec"]["case"], r["spec"]["limit"]
        obj = r.get("objective", math.nan)
        rel = obj / best[case] if case in best and obj is not None and math.isfinite(obj) and best[case] else math.nan
        wall = r.get("wall_s", math.nan)
        print(f"| {case} | {limit:g} | {fmt(wall)} | {fmt(wall - limit if wall == wall else math.nan)} | "
              f"{r.get('status')} | {r.get('termination', '')} | {fmt(obj, '.6g')} | {fmt(rel, '.4f')} | "
              f"{fmt(r.get('gap'), '.4f')} | {fmt(r.get('wd'), '.3f')} | {fmt(r.get('peak_mb'), '.0f')} | "
              f"{fmt(r.get('load_start'), '.1f')}-{fmt(r.get('load_end'), '.1f')} |", flush=True)
    print("\n'vs best seen': objective / best objective of that model in this table (max_coverage and planner: "
          "higher is better).")


def _sigint(cmd: list[str], wait: float, marker: str | None, env: dict):
    """Start ``cmd``; SIGINT ``wait`` s after its first line (or after its first ``marker`` line).
    Returns (SIGINT to exit s, SIGINT to its RESULT line s, exit code, stdout, stderr, marker seen)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    seen = proc.stdout.readline()
    while marker is not None and seen and seen.strip() != marker:
        seen = proc.stdout.readline()
    reached = marker is None or bool(seen)
    time.sleep(wait)
    t = time.perf_counter()
    proc.send_signal(signal.SIGINT)
    lines, result_at = [], math.nan
    for row in proc.stdout:  # the plan is back when the RESULT line arrives; exit may come later
        lines.append(row)
        if row.startswith("RESULT ") and math.isnan(result_at):
            result_at = time.perf_counter() - t
    try:
        _, err = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return time.perf_counter() - t, result_at, proc.returncode, "".join(lines), err, reached


def part_ctrlc_china(tmp: Path) -> None:
    """Ctrl-C on china capacitated min_cost: the Python API and ``channelopt solve``, in the
    Lagrangian phase (strategy auto, no limit) and in a final MIP (the Lagrangian strategy's
    narrowed MIP under a 60 s limit; the plain MIP with no limit)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    print("\n## Ctrl-C on china capacitated min_cost (SIGINT to exit, one process each)\n")
    print("| interface | phase | SIGINT when | SIGINT to plan back s | SIGINT to exit s | exit code | outcome | load |")
    print("|---|---|---|---|---|---|---|---|")
    api = [("Lagrangian bound pass (auto, no limit)", {"case": "min_cost", "limit": None}, 10.0, None),
           ("Lagrangian's narrowed MIP (auto, 60 s limit)", {"case": "min_cost", "limit": 60.0}, 2.0, "CALL mip"),
           ("plain MIP in HiGHS (strategy mip, no limit)", {"case": "min_cost_mip", "limit": None}, 25.0, None)]
    for phase, spec, wait, marker in api:
        cmd = [sys.executable, str(HERE), "--child", json.dumps({**spec, "part": "ctrlc"})]
        took, back, code, out, _, reached = _sigint(cmd, wait, marker, env)
        line = next((ln for ln in out.splitlines() if ln.startswith("RESULT ")), None)
        res = json.loads(line[7:]) if line else {}
        outcome = " ".join(str(res.get(k, "")) for k in ("status", "termination", "objective")).strip()
        after = "" if reached else "(no MIP call reached)"
        when = f"{wait:g} s after {marker or 'solve start'}"
        print(f"| Python API | {phase} | {when} | {back:.2f} | {took:.2f} | {code} | {outcome or 'no result line'} "
              f"{after} | {os.getloadavg()[0]:.1f} |", flush=True)
    cli = [("Lagrangian bound pass (auto, no limit)", "auto", 10.0), ("plain MIP in HiGHS (strategy mip, no limit)",
                                                                      "mip", 25.0)]
    for phase, strategy, wait in cli:
        spec = tmp / f"china_{strategy}.toml"
        spec.write_text('[base]\nname = "china"\nnetwork = { example = "china" }\nmodel = "DistributorSelection"\n'
                        'solver = { name = "highs" }\n[base.params]\nobjective = "min_cost"\ncapacitated = true\n'
                        f'strategy = "{strategy}"\n')
        cmd = [sys.executable, "-m", "channelopt.cli", "solve", str(spec), "--out", str(tmp / f"plan_{strategy}")]
        took, _, code, _, err, _ = _sigint(cmd, wait, None, env)
        written = "plan written" if "was written" in err else "no plan written"
        print(f"| CLI `channelopt solve` | {phase} | {wait:g} s after start | - | {took:.2f} | {code} | {written} "
              f"| {os.getloadavg()[0]:.1f} |", flush=True)


def part_ctrlc(waits, specs) -> None:
    print("\n## Ctrl-C: SIGINT to a process solving with time_limit=None\n")
    print("| model | SIGINT after s | SIGINT to exit s | exit code | outcome |")
    print("|---|---|---|---|---|")
    for spec in specs:
        for wait in waits:
            env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
            proc = subprocess.Popen([sys.executable, str(HERE), "--child", json.dumps({**spec, "part": "ctrlc"})],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
            proc.stdout.readline()  # SOLVING: data loaded, model.solve() starting
            time.sleep(wait)
            t = time.perf_counter()
            proc.send_signal(signal.SIGINT)
            try:
                out, _ = proc.communicate(timeout=300)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, _ = proc.communicate()
            took = time.perf_counter() - t
            line = next((ln for ln in out.splitlines() if ln.startswith("RESULT ")), None)
            res = json.loads(line[7:]) if line else {}
            outcome = " ".join(str(res.get(k, "")) for k in ("status", "termination", "objective")).strip()
            name = spec["case"] if spec["case"] != "synthetic" else f"synthetic {spec['n']}x{spec['m']}"
            print(f"| {name} | {wait:g} | {took:.2f} | {proc.returncode} | {outcome or 'no result line'} |",
                  flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--parts", nargs="+", default=["build", "limits", "ctrlc"],
                    choices=["build", "limits", "ctrlc", "ctrlc_china", "table", "sparse"])
    ap.add_argument("--sparse-size", default="20000x1000")
    ap.add_argument("--sparse-p", type=int, default=100)
    ap.add_argument("--sparse-k", type=int, default=20)
    ap.add_argument("--table-cases", nargs="+", default=list(TABLE_CASES), choices=list(TABLE_CASES))
    ap.add_argument("--limits", nargs="+", type=float, default=[1, 5, 20])
    ap.add_argument("--cases", nargs="+", default=["min_cost", "min_cost_mip", "max_coverage", "territories",
                                                   "planner"])
    ap.add_argument("--sizes", nargs="+", default=["2000x200x50", "6000x300x60"],
                    help="synthetic build cases as NxMxK (outlets x candidates x nearest)")
    ap.add_argument("--no-china-build", action="store_true", help="skip the china build comparison")
    ap.add_argument("--build-limit", type=float, default=5.0)
    ap.add_argument("--ctrlc-waits", nargs="+", type=float, default=[5, 15])
    args = ap.parse_args(argv)
    if args.child:
        child(json.loads(args.child))
        return 0
    print(f"# bench_solve_path ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    if "build" in args.parts:
        sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes]
        part_build(sizes, not args.no_china_build, args.build_limit)
    if "table" in args.parts:
        part_table(args.table_cases)
    if "sparse" in args.parts:
        part_sparse(args.sparse_size, args.sparse_p, args.sparse_k)
    if "limits" in args.parts:
        part_limits(args.limits, args.cases)
    if "ctrlc_china" in args.parts:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="bench-ctrlc-") as tmp:
            part_ctrlc_china(Path(tmp))
    if "ctrlc" in args.parts:
        part_ctrlc(args.ctrlc_waits, [{"case": "min_cost", "limit": None},
                                      {"case": "synthetic", "n": 2000, "m": 200, "k": 50, "limit": None}])
    return 0


if __name__ == "__main__":
    sys.exit(main())
