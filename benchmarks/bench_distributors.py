"""DistributorSelection benchmarks: published optima, spopt, HiGHS vs CBC, scaling, memory.

Run: ``python benchmarks/bench_distributors.py [--quick] [--only SECTION ...]``
Sections: optima, spopt, solvers, scaling, large, pmed, sweep, china, pcenter. ``pmed`` is the
OR-Library pmed1-40 table (default path, one process per instance for honest peak
memory, load average per row) and a default/old/spopt comparison on four of them;
``sweep`` sizes p-median up to 3,000 x 300 (proof asked, 120 s) and 20,000 x 1,000
(1% gap, 300 s), with the seconds of each step; ``china`` the build time and memory of the capacitated model (old
PuLP path vs arrays), ``strategy='auto'`` vs the MIP at 20 s, and the coverage floor. Timing claims are ratios against a
baseline measured in the same run. ``large`` is the 20,000 x 500 sparse capacitated
instance: ``strategy="lagrangian"`` against the plain MIP (``--mip-limit`` seconds).
``pcenter`` is random Euclidean p-center at 1,000 x 100 and 3,000 x 300 (p=10, 30): the
default path, an older checkout (``--base DIR``) and spopt, one process each, and
sparse ``candidates`` rows with their full-problem bound.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pulp
from orlib import read_cap, read_optima, read_pmed, read_pmedcap  # benchmarks/orlib.py (run as a script)

import channelopt as co

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(os.environ.get("CHANNELOPT_BENCHDATA", ROOT.parent / "shared" / "benchdata"))


def table(rows: list[dict], title: str) -> None:
    print(f"\n## {title}")
    if not rows:
        print("(nothing)")
        return
    cols = list(dict.fromkeys(k for r in rows for k in r))
    text = [[f"{r.get(c):.4g}" if isinstance(r.get(c), float) else str(r.get(c, "")) for c in cols] for r in rows]
    width = [max(len(c), *(len(t[i]) for t in text)) for i, c in enumerate(cols)]
    print(" | ".join(c.ljust(w) for c, w in zip(cols, width)))
    print("-+-".join("-" * w for w in width))
    for t in text:
        print(" | ".join(v.ljust(w) for v, w in zip(t, width)))
    sys.stdout.flush()


def net_of(inst):
    return co.ChannelNetwork.from_cost_matrix(inst.cost, demand=inst.demand, fixed_cost=inst.fixed_cost,
                                              capacity=inst.capacity, distances=inst.distances)


# ------------------------------------------------------------------ published optima
def bench_optima(quick: bool) -> None:
    opt = read_optima(BENCH / "orlib" / "optima.csv")
    opt.update(read_optima(BENCH / "pmedcap" / "optima.csv"))
    cases = [
        ("cap41", "capacitated", lambda: read_cap(BENCH / "orlib/cap41.txt"), {"capacitated": True}),
        ("cap63", "capacitated", lambda: read_cap(BENCH / "orlib/cap63.txt"), {"capacitated": True}),
        ("cap71", "capacitated", lambda: read_cap(BENCH / "orlib/cap71.txt"), {"capacitated": True}),
        ("cap101", "capacitated", lambda: read_cap(BENCH / "orlib/cap101.txt"), {"capacitated": True}),
        ("cap131", "capacitated", lambda: read_cap(BENCH / "orlib/cap131.txt"), {"capacitated": True}),
        ("cap71", "uncapacitated", lambda: read_cap(BENCH / "orlib/cap71.txt"), {}),
        ("cap101", "uncapacitated", lambda: read_cap(BENCH / "orlib/cap101.txt"), {}),
        ("cap131", "uncapacitated", lambda: read_cap(BENCH / "orlib/cap131.txt"), {}),
        ("pmed1", "pmedian", lambda: read_pmed(BENCH / "orlib/pmed1.txt"), {"objective": "p_median"}),
        ("pmed2", "pmedian", lambda: read_pmed(BENCH / "orlib/pmed2.txt"), {"objective": "p_median"}),
        ("pmedcap01", "capacitated_pmedian", lambda: read_pmedcap(BENCH / "pmedcap/pmedcap01.txt"),
         {"objective": "p_median", "capacitated": True, "single_source": True}),
    ]
    if not quick:
        cases += [
            ("pmed6", "pmedian", lambda: read_pmed(BENCH / "orlib/pmed6.txt"), {"objective": "p_median"}),
            ("capa", "uncapacitated", lambda: read_cap(BENCH / "orlib/capa.txt"), {}),
            ("capa@8000", "capacitated", lambda: read_cap(BENCH / "orlib/capa.txt", capacity=8000),
             {"capacitated": True}),
            ("capa@8000", "capacitated", lambda: read_cap(BENCH / "orlib/capa.txt", capacity=8000),
             {"capacitated": True, "strategy": "lagrangian"}),
        ]
    rows = []
    for name, problem, load, settings in cases:
        inst = load()
        if inst.p is not None:
            settings = {**settings, "p": inst.p}
        net = net_of(inst)
        t0 = time.perf_counter()
        plan = co.DistributorSelection(**settings).solve(net, solver=co.Solver("highs"))
        total = time.perf_counter() - t0
        ref = opt[(name, problem)]
        rows.append({"instance": name, "problem": problem, "strategy": settings.get("strategy", "mip"),
                     "published": ref, "channelopt": plan.objective,
                     "abs_diff": abs(plan.objective - ref), "match": abs(plan.objective - ref) <= 0.01,
                     "status": plan.status, "seconds": total,
                     "build_share": plan.info.build_seconds / total})
    table(rows, "Published optima (HiGHS, abs tol 0.01)")


# ------------------------------------------------------------------ spopt
def random_instance(n: int, m: int, seed: int):
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(0, 100, (n, 2)), rng.uniform(0, 100, (m, 2))
    d = np.sqrt(((a[:, None] - b[None]) ** 2).sum(-1)).round(3)
    w = rng.integers(1, 10, n).astype(float)
    return d, w


SPOPT_SIZES: list[tuple[int, int]] | None = None
SPOPT_LIMIT: float | None = None


def bench_spopt(quick: bool) -> None:
    """Same instance, same solver (HiGHS), both under ``--spopt-limit`` seconds when given."""
    from spopt.locate import MCLP, PMedian

    sizes = SPOPT_SIZES or [(200, 50), (1000, 100)] + ([] if quick else [(3000, 300)])
    limit = SPOPT_LIMIT
    rows = []
    for n, m in sizes:
        d, w = random_instance(n, m, seed=n)
        p = max(5, m // 10)
        radius = 15.0
        for kind in ("max_coverage", "p_median"):
            t0 = time.perf_counter()
            if kind == "p_median":
                sp = PMedian.from_cost_matrix(d, w, p_facilities=p)
            else:
                sp = MCLP.from_cost_matrix(d, w, service_radius=radius, p_facilities=p)
            try:
                sp.solve(pulp.HiGHS(msg=False, timeLimit=limit))
                sp_obj = pulp.value(sp.problem.objective)
            except RuntimeError as exc:  # spopt refuses a plan PuLP calls "Not Solved" (e.g. time limit)
                print(f"spopt {kind} {n}x{m}: {exc}")
                sp_obj = float("nan")
            t_sp = time.perf_counter() - t0
            t0 = time.perf_counter()
            net = co.ChannelNetwork.from_cost_matrix(d * w[:, None], demand=w, distances=d)
            model = co.DistributorSelection(objective=kind, p=p,
                                            max_distance=radius if kind == "max_coverage" else None)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                plan = model.solve(net, solver=co.Solver("highs", time_limit=limit))
            t_co = time.perf_counter() - t0
            rows.append({"size": f"{n}x{m}", "model": kind, "spopt_obj": sp_obj, "channelopt_obj": plan.objective,
                         "channelopt_status": plan.status, "channelopt_gap": plan.info.gap,
                         "same": abs(sp_obj - plan.objective) <= 1e-6 * max(1, abs(sp_obj)),
                         "spopt_s": t_sp, "channelopt_s": t_co, "spopt/channelopt": t_sp / t_co,
                         "build_share": plan.info.build_seconds / t_co})
            table(rows[-1:], "progress")
    table(rows, "channelopt vs spopt, both on HiGHS (time ratio > 1: channelopt faster)")


# ------------------------------------------------------------------ solvers
def bench_solvers(quick: bool) -> None:
    rows = []
    for name in ("cap101", "cap131"):
        inst = read_cap(BENCH / "orlib" / f"{name}.txt")
        net = net_of(inst)
        times = {}
        for solver in ("highs", "cbc"):
            t0 = time.perf_counter()
            plan = co.DistributorSelection(capacitated=True).solve(net, solver=co.Solver(solver))
            times[solver] = time.perf_counter() - t0
            rows.append({"instance": f"{name} capacitated", "solver": solver, "objective": plan.objective,
                         "status": plan.status, "seconds": times[solver]})
        rows.append({"instance": f"{name} capacitated", "solver": "cbc/highs", "objective": float("nan"),
                     "status": "", "seconds": times["cbc"] / times["highs"]})
    table(rows, "HiGHS vs CBC on capacitated instances")


# ------------------------------------------------------------------ scaling
def synthetic_capacitated(n: int, m: int, seed: int, *, capacity_ratio: float = 3.0,
                          fixed_per_capacity: float = 50.0):
    """Sparse-able capacitated instance whose capacities bind.

    Total capacity is ``capacity_ratio`` x demand; fixed costs of ``fixed_per_capacity``
    per unit of capacity push towards few distributors, so most open ones end full
    (measured at 2000 x 100: 36 open, 29 full, mean utilisation 97%, optimum 3.6%
    above the uncapacitated one). The earlier defaults (ratio 6, 5 per unit) gave a
    loose instance: 54 open at 32% utilisation, none full, LP relaxation integral.
    """
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(0, 1000, (n, 2)), rng.uniform(0, 1000, (m, 2))
    d = np.sqrt(((a[:, None] - b[None]) ** 2).sum(-1))
    demand = rng.integers(5, 36, n).astype(float)
    capacity = rng.uniform(0.8, 1.2, m) * demand.sum() * capacity_ratio / m
    fixed = rng.uniform(0.5, 1.5, m) * capacity * fixed_per_capacity
    return co.ChannelNetwork.from_cost_matrix(d * demand[:, None], demand=demand, fixed_cost=fixed,
                                              capacity=capacity, distances=d)


def solve_large(net, strategy: str, time_limit: float) -> dict:
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plan = co.DistributorSelection(capacitated=True, candidates=20, strategy=strategy).solve(
            net, solver=co.Solver("highs", mip_gap=0.01, time_limit=time_limit))
    total = time.perf_counter() - t0
    table_ = plan.distributors
    steps = plan.solve_steps.set_index("step").to_dict("index") if "solve_steps" in plan.tables else {}
    opened = table_[table_["open"]]
    return {"strategy": strategy, "status": plan.status, "objective": plan.objective, "bound": plan.info.bound,
            "gap": plan.info.gap, "total_s": total, "open": len(opened),
            "full": int((opened["utilisation"] >= 0.999).sum()), "mean_util": float(opened["utilisation"].mean()),
            "lagrangian_s": steps.get("lagrangian", {}).get("seconds", float("nan")),
            "mip_s": steps.get("mip", {}).get("seconds", float("nan")),
            "rss_max_MB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def bench_scaling(quick: bool) -> None:
    sizes = [(2000, 100), (5000, 200)] + ([] if quick else [(10000, 300), (20000, 500)])
    rows = []
    for n, m in sizes:
        net = synthetic_capacitated(n, m, seed=n)
        row = {"size": f"{n}x{m}", **solve_large(net, "lagrangian", 1200)}
        rows.append(row)
        table(rows[-1:], "progress")
    table(rows, "Sparse capacitated scaling (k=20 nearest candidates, lagrangian strategy, HiGHS, 1% gap)")
    # Python-side memory of the build alone (tracemalloc slows Python, so it is measured apart)
    n, m = sizes[-1]
    net = synthetic_capacitated(n, m, seed=n)
    tracemalloc.start()
    co.DistributorSelection(capacitated=True, candidates=20).build(net)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"\nbuild of {n}x{m}: Python peak {peak / 2**20:.0f} MB (tracemalloc); "
          f"process max RSS so far {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


MIP_LIMIT = 600.0


def bench_large(quick: bool) -> None:
    """20,000 x 500 (5,000 x 200 with --quick): lagrangian strategy vs the plain MIP, same instance."""
    n, m = (5000, 200) if quick else (20000, 500)
    net = synthetic_capacitated(n, m, seed=n)
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    rows = [{"size": f"{n}x{m}", **solve_large(net, "lagrangian", 1200)}]
    table(rows, "progress")
    rows.append({"size": f"{n}x{m}", **solve_large(net, "mip", MIP_LIMIT)})
    table(rows, f"Sparse capacitated {n}x{m}, k=20, 1% target gap (plain MIP limited to {MIP_LIMIT:.0f} s)")
    lag, mip = rows
    print(f"time ratio mip/lagrangian: {mip['total_s'] / lag['total_s']:.2f} "
          f"(gaps {mip['gap']:.4f} vs {lag['gap']:.4f}); load average after: {os.getloadavg()[0]:.2f}")


# ------------------------------------------------------------------ one case per process (honest peak memory)
def _worker(spec: dict) -> dict:
    """Run one case in this process and report it; peak memory is this process's max RSS."""
    warnings.simplefilter("ignore")
    kind, path, limit = spec["kind"], spec["path"], spec.get("limit")
    t0 = time.perf_counter()
    out: dict = {}
    if kind in ("pmed", "sweep"):
        if kind == "pmed":
            inst = read_pmed(BENCH / "orlib" / f"{spec['name']}.txt")
            dist, w, p = inst.distances, np.ones(len(inst.distances)), inst.p
        else:
            dist, w = random_instance(spec["n"], spec["m"], seed=spec["n"])
            p = spec["p"]
        t_load = time.perf_counter() - t0
        t0 = time.perf_counter()
        if path == "spopt":
            from spopt.locate import PMedian

            sp = PMedian.from_cost_matrix(dist, w, p_facilities=p)
            try:
                sp.solve(pulp.HiGHS(msg=False, timeLimit=limit))
                obj = pulp.value(sp.problem.objective)
                status = "reported " + pulp.LpStatus[sp.problem.status]
            except RuntimeError as exc:
                obj, status = float("nan"), f"refused: {str(exc)[:30]}"
            out.update(objective=obj, status=status)
        else:
            net = co.ChannelNetwork.from_cost_matrix(dist * w[:, None], demand=w, distances=dist)
            model = co.DistributorSelection(objective="p_median", p=p, strategy="mip" if path == "old" else "auto")
            plan = model.solve(net, solver=co.Solver("highs", time_limit=limit, mip_gap=spec.get("mip_gap", 0.0)))
            out.update(objective=plan.objective, status=plan.status, bound=plan.info.bound, gap=plan.info.gap,
                       strategy=plan.settings.get("strategy"), build_s=plan.info.build_seconds)
            if "solve_steps" in plan.tables:  # where the time went (heuristic, Lagrangian, tree / MIP)
                out["steps"] = "; ".join(f"{r['step']} {r['seconds']:.1f}s" for r in plan.solve_steps.to_dict("records")
                                         if isinstance(r.get("seconds"), float))
        out["load_s"] = t_load
    elif kind == "pcenter":
        dist, _ = random_instance(spec["n"], spec["m"], seed=spec["n"])
        p = spec["p"]
        out["load_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        if path == "spopt":
            from spopt.locate import PCenter

            sp = PCenter.from_cost_matrix(dist, p_facilities=p)
            out["build_s"] = time.perf_counter() - t0
            try:
                sp.solve(pulp.HiGHS(msg=False, timeLimit=limit))
                out.update(objective=pulp.value(sp.problem.objective),
                           status="reported " + pulp.LpStatus[sp.problem.status])
            except RuntimeError as exc:  # spopt refuses a plan PuLP calls "Not Solved" (its time limit)
                out.update(objective=float("nan"), status=f"refused: {str(exc)[:30]}")
        else:  # "new" or "base" (the same code path, the package found first on PYTHONPATH)
            net = co.ChannelNetwork.from_cost_matrix(dist, distances=dist)
            model = co.DistributorSelection(objective="p_center", p=p, candidates=spec.get("candidates"))
            plan = model.solve(net, solver=co.Solver("highs", time_limit=limit))
            out.update(objective=plan.objective, status=plan.status, bound=plan.info.bound, gap=plan.info.gap)
            out["steps"] = "; ".join(f"{r['step']} {r['seconds']:.1f}s" for r in plan.solve_steps.to_dict("records")
                                     if isinstance(r.get("seconds"), float))
            out["message"] = plan.info.message[:160]
    elif kind == "china":
        net = co.load_example("china")
        what = spec["what"]
        if what == "build":
            t0 = time.perf_counter()
            built = co.DistributorSelection(capacitated=True, strategy="mip").build(net)
            out.update(build_s=time.perf_counter() - t0, columns=built.arrays.n_cols if built.arrays else None)
        elif what in ("auto", "mip"):
            t0 = time.perf_counter()
            plan = co.DistributorSelection(capacitated=True, strategy=what).solve(net, solver=co.Solver(
                "highs", time_limit=limit))
            out.update(objective=plan.objective, gap=plan.info.gap, status=plan.status)
        elif what == "cover":
            t0 = time.perf_counter()
            plan = co.DistributorSelection(objective="max_coverage", p=20, capacitated=True, max_distance=300).solve(
                net, solver=co.Solver("highs", time_limit=limit))
            out.update(weighted_distribution=plan.metrics["weighted_distribution"], status=plan.status)
    out["seconds"] = time.perf_counter() - t0
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def run_case(spec: dict, env: dict | None = None, timeout: float | None = None) -> dict:
    import json
    import subprocess

    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"status": f"killed at {timeout:.0f} s wall, no plan", "seconds": timeout}
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith("{")]
    if res.returncode != 0 or not lines:
        return {"status": f"failed: {res.stderr.strip().splitlines()[-1] if res.stderr.strip() else res.returncode}"}
    return json.loads(lines[-1])


PMED_LIMIT = 60.0
PMED_NAMES: list[str] | None = None
PMED_COMPARE = ("pmed1", "pmed6", "pmed11", "pmed16")


def bench_pmed(quick: bool) -> None:
    """OR-Library pmed1-40 with the default path (radius strategy), each in its own process."""
    opt = read_optima(BENCH / "orlib" / "optima.csv")
    names = PMED_NAMES or [f"pmed{k}" for k in (range(1, 6) if quick else range(1, 41))]
    rows = []
    for name in names:
        r = run_case({"kind": "pmed", "name": name, "path": "new", "limit": PMED_LIMIT})
        best = opt.get((name, "pmedian"), float("nan"))
        rows.append({"instance": name, "optimum": best, "objective": r.get("objective"), "status": r.get("status"),
                     "matches": abs((r.get("objective") or math.nan) - best) < 1e-6, "gap": r.get("gap"),
                     "seconds": r.get("seconds"), "peak_mb": r.get("peak_mb"), "load1": os.getloadavg()[0]})
        table(rows[-1:], "progress")
    table(rows, f"OR-Library p-median, default path (time limit {PMED_LIMIT:g} s, 1 process each)")
    total = sum(r["seconds"] or 0 for r in rows)
    print(f"proven optimal: {sum(r['status'] == 'optimal' for r in rows)} of {len(rows)}; optimum matched: "
          f"{sum(bool(r['matches']) for r in rows)}; total {total:.0f} s; max peak "
          f"{max(r['peak_mb'] or 0 for r in rows):.0f} MB")
    comp = []
    for name in [n for n in PMED_COMPARE if n in names]:
        for path, env in (("new", None), ("old", {"CHANNELOPT_BUILD_PATH": "pulp"}), ("spopt", None)):
            r = run_case({"kind": "pmed", "name": name, "path": path, "limit": PMED_LIMIT}, env)
            comp.append({"instance": name, "path": path, "objective": r.get("objective"), "status": r.get("status"),
                         "seconds": r.get("seconds"), "peak_mb": r.get("peak_mb")})
            table(comp[-1:], "progress")
    table(comp, "same instances: default path vs the old path (PuLP objects, classic MIP) vs spopt (HiGHS)")


SWEEP_SIZES: list[tuple[int, int]] | None = None
#: a directory holding an older ``channelopt`` package (e.g. ``git archive <commit> channelopt | tar -x -C DIR``):
#: the sweep runs it as path "base" beside the default path, in the same run
BASE_DIR: str | None = None


def bench_sweep(quick: bool) -> None:
    """Random Euclidean p-median sizes: default path vs old path vs spopt, one process each.

    Up to 3,000 x 300 with a 120 s limit and proof asked (mip_gap 0); 20,000 x 1,000
    (p=100, dense costs: 20 million links) with 300 s and a 1% target gap. ``--base DIR``
    adds an older checkout's default path ("base") to every size; ``--sweep-sizes``
    picks sizes. Ends with the memory ceiling per size (peak RSS of the default path's
    process, the instance's own cost and distance matrices included).
    """
    sizes = [(500, 50, 5, 120.0, 0.0), (1000, 100, 10, 120.0, 0.0)]
    if not quick:
        sizes += [(3000, 300, 30, 120.0, 0.0), (20000, 1000, 100, 300.0, 0.01)]
    if SWEEP_SIZES:
        sizes = [s for s in sizes if (s[0], s[1]) in SWEEP_SIZES]
    rows = []
    for n, m, p, limit, gap in sizes:
        paths = [("new", None), ("old", {"CHANNELOPT_BUILD_PATH": "pulp"}), ("spopt", None)]
        if n >= 3000:
            paths = [("new", None), ("spopt", None)]  # the old path had no bound after 600 s (issue 13)
        if n >= 20000:
            paths = [("new", None)]  # spopt's model holds 20 million PuLP variables
        if BASE_DIR:
            paths.insert(1, ("base", {"PYTHONPATH": BASE_DIR}))
        for path, env in paths:
            r = run_case({"kind": "sweep", "n": n, "m": m, "p": p, "path": path, "limit": limit, "mip_gap": gap}, env)
            rows.append({"size": f"{n}x{m}", "p": p, "path": path, "limit": limit, "target_gap": gap,
                         "objective": r.get("objective"), "status": r.get("status"), "gap": r.get("gap"),
                         "seconds": r.get("seconds"), "build_s": r.get("build_s"), "peak_mb": r.get("peak_mb"),
                         "load1": os.getloadavg()[0], "steps": r.get("steps", "")})
            table(rows[-1:], "progress")
    table(rows, "p-median size sweep")
    ceiling = {r["size"]: r["peak_mb"] for r in rows if r["path"] == "new" and r.get("peak_mb")}
    print("memory ceiling of the default path (peak RSS, instance matrices included): "
          + "; ".join(f"{size} {mb:,.0f} MB" for size, mb in ceiling.items()))


PCENTER_SPOPT_LIMIT = 120.0
#: wall seconds after which spopt's p-center process is stopped
PCENTER_SPOPT_WALL = 300.0


def bench_pcenter(quick: bool) -> None:
    """Random Euclidean p-center: default path vs an older one (``--base DIR``) vs spopt, one process each.

    The base is another checkout of channelopt put first on ``PYTHONPATH`` (e.g.
    ``git archive 9984053 channelopt | tar -x -C DIR``: the covering search before
    issue 13's session 4). spopt's assignment MIP gets ``--pcenter-spopt-limit``
    seconds of HiGHS (its PuLP build is not capped). The last rows are sparse
    ``candidates``: the plan widened to every link within its radius, so status and bound
    are the full problem's.
    """
    sizes = [(1000, 100, 10)] + ([] if quick else [(3000, 300, 10), (3000, 300, 30)])
    rows = []
    for n, m, p in sizes:
        paths = [("new", None)]
        if BASE_DIR:
            paths.append(("base", {"PYTHONPATH": BASE_DIR}))
        paths.append(("spopt", None))
        for path, env in paths:
            limit = PCENTER_SPOPT_LIMIT if path == "spopt" else 120.0
            load = os.getloadavg()[0]
            # spopt's PuLP build and HiGHS overrun its limit (1,000 x 100: 165 s wall for a 60 s limit)
            r = run_case({"kind": "pcenter", "n": n, "m": m, "p": p, "path": path, "limit": limit}, env,
                         timeout=PCENTER_SPOPT_WALL if path == "spopt" else None)
            rows.append({"size": f"{n}x{m}", "p": p, "path": path, "limit": limit, "objective": r.get("objective"),
                         "bound": r.get("bound"), "status": r.get("status"), "seconds": r.get("seconds"),
                         "peak_mb": r.get("peak_mb"), "load1": load, "steps": r.get("steps", r.get("build_s", ""))})
            table(rows[-1:], "progress")
    for n, m, p, cand in [(1000, 100, 10, 25)] + ([] if quick else [(3000, 300, 30, 20)]):
        load = os.getloadavg()[0]
        r = run_case({"kind": "pcenter", "n": n, "m": m, "p": p, "path": "new", "limit": 120.0, "candidates": cand})
        rows.append({"size": f"{n}x{m} candidates={cand}", "p": p, "path": "new", "limit": 120.0,
                     "objective": r.get("objective"), "bound": r.get("bound"), "status": r.get("status"),
                     "seconds": r.get("seconds"), "peak_mb": r.get("peak_mb"), "load1": load,
                     "steps": r.get("message", "")})
        table(rows[-1:], "progress")
    for r in rows:  # six digits: a bound a few levels below the optimum reads the same at four
        for key in ("objective", "bound"):
            if isinstance(r.get(key), float):
                r[key] = f"{r[key]:.6g}"
    table(rows, "p-center, random Euclidean (seed n), 120 s limit; spopt's HiGHS capped, one process each")


def bench_china(quick: bool) -> None:
    """China example: build time and memory old vs arrays; auto vs MIP at 20 s; coverage floor at 5 s."""
    rows = []
    for label, spec, env in [
        ("build, old path (PuLP objects)", {"what": "build"}, {"CHANNELOPT_BUILD_PATH": "pulp"}),
        ("build, arrays", {"what": "build"}, None),
        ("capacitated min_cost 20 s, strategy='mip'", {"what": "mip", "limit": 20.0}, None),
        ("capacitated min_cost 20 s, strategy='auto'", {"what": "auto", "limit": 20.0}, None),
        ("capacitated max_coverage p=20 300 km 5 s", {"what": "cover", "limit": 5.0}, None),
    ]:
        r = run_case({"kind": "china", "path": "new", **spec}, env)
        rows.append({"case": label, **{k: v for k, v in r.items() if k != "load_s"}})
        table(rows[-1:], "progress")
    table(rows, "china example (8,000 outlets x 80 distributors)")


SECTIONS = {"optima": bench_optima, "spopt": bench_spopt, "solvers": bench_solvers, "scaling": bench_scaling,
            "large": bench_large, "pmed": bench_pmed, "sweep": bench_sweep, "china": bench_china,
            "pcenter": bench_pcenter}


def main(argv=None) -> None:
    global MIP_LIMIT, SPOPT_SIZES, SPOPT_LIMIT, PMED_NAMES, PMED_LIMIT, SWEEP_SIZES, BASE_DIR, PCENTER_SPOPT_LIMIT
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small sizes only")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--pmed", nargs="*", default=None, help="pmed instances for 'pmed', e.g. pmed1 pmed16")
    ap.add_argument("--pmed-limit", type=float, default=PMED_LIMIT, help="seconds per pmed instance")
    ap.add_argument("--only", nargs="*", choices=list(SECTIONS), default=list(SECTIONS))
    ap.add_argument("--mip-limit", type=float, default=MIP_LIMIT, help="seconds for the plain MIP in 'large'")
    ap.add_argument("--spopt-sizes", nargs="*", default=None, help="sizes for 'spopt', e.g. 3000x300")
    ap.add_argument("--spopt-limit", type=float, default=None, help="seconds for each solve in 'spopt'")
    ap.add_argument("--sweep-sizes", nargs="*", default=None, help="sizes for 'sweep', e.g. 3000x300 20000x1000")
    ap.add_argument("--base", default=None,
                    help="directory with an older channelopt package: 'sweep' and 'pcenter' run it too")
    ap.add_argument("--pcenter-spopt-limit", type=float, default=PCENTER_SPOPT_LIMIT,
                    help="seconds of HiGHS for spopt's p-center in 'pcenter'")
    args = ap.parse_args(argv)
    if args.worker:
        import json

        print(json.dumps(_worker(json.loads(args.worker)), default=float), flush=True)
        return
    PMED_NAMES, PMED_LIMIT = args.pmed, args.pmed_limit
    if args.spopt_sizes:
        SPOPT_SIZES = [tuple(int(v) for v in size.split("x")) for size in args.spopt_sizes]
    SPOPT_LIMIT = args.spopt_limit
    if args.sweep_sizes:
        SWEEP_SIZES = [tuple(int(v) for v in size.split("x")) for size in args.sweep_sizes]
    BASE_DIR = args.base
    MIP_LIMIT = args.mip_limit
    PCENTER_SPOPT_LIMIT = args.pcenter_spopt_limit
    if not BENCH.is_dir() and {"optima", "solvers"} & set(args.only):
        print(f"benchmark data not found at {BENCH}; skipping optima and solvers")
        args.only = [s for s in args.only if s not in ("optima", "solvers")]
    for name in args.only:
        SECTIONS[name](args.quick)


if __name__ == "__main__":
    main()
