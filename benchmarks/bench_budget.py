"""BudgetAllocation against scipy SLSQP and an exact KKT solution; S-curves against brute force.

Run: ``python benchmarks/bench_budget.py`` (add ``--sizes 50 1000`` to skip the large case;
``--parts build limits`` for parts 3 and 4 only).

Part 1, concave instances (random Hill curves with n <= 1, per-cell max spend, one budget):
  - channelopt (HiGHS), its allocation evaluated on the true curves;
  - SLSQP from many random starting points (fewer as n grows; time-capped);
  - KKT: the exact continuous optimum by bisection on the budget's shadow price
    (every interior cell has f'(s) = lambda), a reference independent of both.
  Times are printed with their ratio to SLSQP's time in the same run.

Part 2, S-curves (Hill n in [2, 4]) with activation costs and minimum spend, 6 cells:
  brute force over on/off patterns, multistart SLSQP per pattern; channelopt; and
  SLSQP on all cells from the equal split (the marketing-mix tools' habit).

Part 3 (``--parts build``), issue 11: build seconds and peak memory (``ru_maxrss`` of a
fresh subprocess per run) of the array build against the old PuLP build, kept behind
``CHANNELOPT_BUILD_PATH=pulp``, on the 20,000-cell concave instance of part 1 and on
the china S-curve model (3 Hill S-curve activities over every region x channel group,
5,157 cells); ratios are within this run.

Part 4 (``--parts limits``), issue 10 items 7/8: the china S-curve model under short
time limits: the objective of the plan with the greedy start, without any start, and of
the greedy start alone (spending nothing earns 0 on these curves), with wall seconds.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import resource
import subprocess
import sys
import time
import warnings

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from channelopt import BudgetAllocation, Hill, Solver


def concave_instance(n: int, seed: int):
    rng = np.random.default_rng(seed)
    vmax = rng.uniform(50, 150, n)
    k = rng.uniform(5, 50, n)
    shape = rng.uniform(0.4, 1.0, n)
    hi = rng.uniform(30, 100, n)
    cells = pd.DataFrame({
        "region_id": [f"r{i % max(n // 10, 1)}" for i in range(n)],
        "channel": rng.choice(["ka", "traditional", "pharmacy"], n),
        "activity": rng.choice(["promotion", "display", "visits"], n),
        "curve": [Hill(a, b, c) for a, b, c in zip(vmax, k, shape)],
        "max_spend": hi,
    })
    return cells, vmax, k, shape, hi, 0.3 * hi.sum()


def hill(vmax, k, n, s):
    x = (np.maximum(s, 0) / k) ** n
    return vmax * x / (1 + x)


def hill_slope(vmax, k, n, s):
    x = np.maximum(s, 1e-300) / k
    return vmax * n * x ** (n - 1) / (k * (1 + x**n) ** 2)


def kkt_optimum(vmax, k, n, hi, total):
    """Exact optimum of sum Hill_i(s_i), 0 <= s_i <= hi_i, sum s_i <= total, for n_i <= 1."""
    def spend_at(lam):
        lo, up = np.zeros_like(hi), hi.copy()
        for _ in range(100):   # f' is decreasing: bisection on s where f'(s) = lambda
            mid = (lo + up) / 2
            high = hill_slope(vmax, k, n, mid) > lam
            lo, up = np.where(high, mid, lo), np.where(high, up, mid)
        return (lo + up) / 2

    if hi.sum() <= total:
        return hill(vmax, k, n, hi).sum()
    a, b = 0.0, float(hill_slope(vmax, k, n, np.full_like(hi, 1e-12)).max())
    for _ in range(100):
        lam = (a + b) / 2
        if spend_at(lam).sum() > total:
            a = lam
        else:
            b = lam
    return float(hill(vmax, k, n, spend_at(b)).sum())


class _TimeUp(Exception):
    pass


def slsqp(vmax, k, n, lo, hi, total, starts, seed, time_cap, x0s=None):
    """Best SLSQP run from ``starts`` random points (or the given ones) within ``time_cap`` seconds."""
    rng = np.random.default_rng(seed)
    m = len(hi)
    cons = [{"type": "ineq", "fun": lambda s: total - s.sum(), "jac": lambda s: -np.ones(m)}]
    best, t0, runs = -math.inf, time.perf_counter(), 0

    def cb(*_):
        if time.perf_counter() - t0 > time_cap:
            raise _TimeUp

    for x0 in (x0s if x0s is not None else (lo + rng.dirichlet(np.ones(m)) * (hi - lo) for _ in range(starts))):
        try:
            r = minimize(lambda s: -hill(vmax, k, n, s).sum(), x0, jac=lambda s: -hill_slope(vmax, k, n, s),
                         method="SLSQP", bounds=list(zip(lo, hi)), constraints=cons, callback=cb,
                         options={"maxiter": 1000, "ftol": 1e-12})
            x = np.clip(r.x, lo, hi)
        except _TimeUp:
            break
        runs += 1
        if x.sum() <= total + 1e-6:
            best = max(best, float(hill(vmax, k, n, x).sum()))
        if time.perf_counter() - t0 > time_cap:
            break
    return best, time.perf_counter() - t0, runs


def part1(sizes, slsqp_cap, options):
    print("\nPart 1: concave Hill curves (n <= 1), per-cell max spend, budget = 30% of the max spends")
    head = (f"{'cells':>6} {'co_resp':>12} {'kkt_resp':>12} {'co/kkt-1':>10} {'slsqp_best':>12} {'co/slsqp-1':>10} "
            f"{'starts':>6} {'co_s':>7} {'slsqp_s':>8} {'co_s/slsqp_s':>12} {'segments':>8} {'err_bound%':>10}")
    print(head)
    for n in sizes:
        cells, vmax, k, shape, hi, total = concave_instance(n, seed=n)
        t0 = time.perf_counter()
        plan = BudgetAllocation(total=total, cells=cells, marginal_roi=False).solve(
            solver=Solver("highs", options=options))
        co_s = time.perf_counter() - t0
        ours = float(plan.allocations["response"].sum())
        exact = kkt_optimum(vmax, k, shape, hi, total)
        starts = 30 if n <= 50 else (5 if n <= 1000 else 1)
        if n > 5000:
            best, sl_s, runs = math.nan, math.nan, 0
            note = "SLSQP not run: its dense least-squares subproblem needs n^2 doubles (%.1f GB)" % (n * n * 8 / 1e9)
        else:
            best, sl_s, runs = slsqp(vmax, k, shape, np.zeros(n), hi, total, starts, n, slsqp_cap)
            note = ""
        print(f"{n:>6} {ours:>12.4f} {exact:>12.4f} {ours / exact - 1:>10.2e} {best:>12.4f} "
              f"{ours / best - 1 if best == best else math.nan:>10.2e} {runs:>6} {co_s:>7.2f} {sl_s:>8.2f} "
              f"{co_s / sl_s if sl_s == sl_s else math.nan:>12.3f} {plan.allocations['segments'].mean():>8.1f} "
              f"{100 * plan.metrics['pwl_error_bound'] / ours:>10.4f}")
        if note:
            print("       " + note)


def brute(curves, lo, hi, fixed, total, starts=20):
    best, best_on = 0.0, ()
    m = len(curves)
    for pattern in itertools.product([0, 1], repeat=m):
        on = np.flatnonzero(pattern)
        if not len(on) or fixed[on].sum() + lo[on].sum() > total:
            continue
        v, k, n = (np.array([getattr(curves[i], a) for i in on]) for a in ("vmax", "k", "n"))
        val, _, _ = slsqp(v, k, n, lo[on], hi[on], total - fixed[on].sum(), starts, len(on), 60.0)
        if val > best:
            best, best_on = val, tuple(on.tolist())
    return best, best_on


def part2(seeds):
    print("\nPart 2: S-curves (Hill n in [2, 4]) with activation costs and minimum spend, 6 cells")
    print(f"{'seed':>4} {'brute':>10} {'channelopt':>10} {'co-brute':>9} {'stated_err':>10} {'slsqp_equal':>11} "
          f"{'slsqp_multi':>11} {'equal/brute':>11} {'co_s':>6} {'brute_s':>7} {'co_s/brute_s':>12}")
    for seed in seeds:
        rng = np.random.default_rng(seed)
        m = 6
        curves = [Hill(rng.uniform(50, 150), rng.uniform(15, 40), rng.uniform(2, 4)) for _ in range(m)]
        hi = rng.uniform(40, 90, m)
        lo = rng.uniform(5, 15, m)
        fixed = rng.uniform(3, 12, m)
        total = 0.35 * hi.sum()
        cells = pd.DataFrame({"region_id": [f"r{i}" for i in range(m)], "curve": curves, "max_spend": hi,
                              "min_spend": lo, "fixed_cost": fixed})
        t0 = time.perf_counter()
        plan = BudgetAllocation(total=total, cells=cells).solve(solver=Solver("highs"))
        co_s = time.perf_counter() - t0
        ours = float(plan.allocations["response"].sum())
        if plan.status != "optimal" or not ours > 0:
            print(f"     channelopt: status {plan.status}, objective {plan.objective}, termination "
                  f"{plan.info.termination}")
        t0 = time.perf_counter()
        best, _ = brute(curves, lo, hi, fixed, total)
        br_s = time.perf_counter() - t0
        v, k, n = (np.array([getattr(c, a) for c in curves]) for a in ("vmax", "k", "n"))
        # SLSQP cannot switch cells off: it pays every activation and every minimum.
        budget = total - fixed.sum()
        equal = np.clip(np.full(m, budget / m), lo, hi)
        eq, _, _ = slsqp(v, k, n, lo, hi, budget, 1, 0, 60.0, x0s=[equal])
        multi, _, _ = slsqp(v, k, n, lo, hi, budget, 30, seed, 60.0)
        print(f"{seed:>4} {best:>10.3f} {ours:>10.3f} {ours - best:>9.3f} {plan.metrics['pwl_error_bound']:>10.3f} "
              f"{eq:>11.3f} {multi:>11.3f} {eq / best:>11.3f} {co_s:>6.2f} {br_s:>7.2f} {co_s / br_s:>12.4f}")


CHINA_CURVES = {"promotion": (60.0, 30.0, 2.5), "display": (30.0, 15.0, 2.0), "visits": (40.0, 20.0, 3.0)}
CHINA_TOTAL = 40_000.0


def china_model():
    import channelopt as co

    net = co.load_example("china")
    cells = co.cells_from_network(net, {a: Hill(*p) for a, p in CHINA_CURVES.items()})
    return net, BudgetAllocation(total=CHINA_TOTAL, cells=cells, marginal_roi=False)


def _child(task: str, arg: str) -> dict:
    """One measurement in this (fresh) process."""
    warnings.simplefilter("ignore")
    if task == "build":
        if arg == "china":
            net, model = china_model()
        else:
            cells, *_, total = concave_instance(int(arg), seed=int(arg))
            net, model = None, BudgetAllocation(total=total, cells=cells, marginal_roi=False)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        t0 = time.perf_counter()
        built = model.build(net)
        seconds = time.perf_counter() - t0
        a = built.arrays.arrays() if built.arrays is not None else None
        return {"seconds": seconds, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
                "before_mb": before, "cols": None if a is None else len(a.cost),
                "pulp": built.has_problem, "cells": len(model.cells)}
    limit, start = arg.split(":")
    net, model = china_model()
    t0 = time.perf_counter()
    built = model.build(net)
    try:
        plan = built.solve(Solver("highs", time_limit=float(limit)).start_clock(), warm_start=start == "greedy")
        out = {"objective": plan.objective, "status": plan.status, "gap": plan.gap}
    except Exception as exc:  # noqa: BLE001 - the table reports what happened
        out = {"objective": math.nan, "status": type(exc).__name__, "gap": math.nan}
    out["wall"] = time.perf_counter() - t0
    out["start_objective"] = built.state.get("start_objective", math.nan)
    return out


def _run_child(task: str, arg: str, env: dict | None = None) -> dict:
    cmd = [sys.executable, __file__, "--child", task, arg]
    res = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})}, check=False)
    lines = res.stdout.strip().splitlines()
    if not lines or not lines[-1].startswith("{"):
        return {"error": res.stderr.strip().splitlines()[-1] if res.stderr.strip() else str(res.returncode)}
    out = json.loads(lines[-1])
    if res.returncode:  # measured: HiGHS threads can abort the process at exit, after the result is out
        out["exit"] = res.returncode
    return out


def part3(cases):
    print("\nPart 3: build, arrays vs the old PuLP build (CHANNELOPT_BUILD_PATH=pulp), fresh process each")
    print(f"{'case':>8} {'cells':>6} {'pulp_s':>8} {'arrays_s':>8} {'speedup':>8} {'pulp_MB':>8} {'arrays_MB':>9} "
          f"{'mem_ratio':>9} {'import_MB':>9}")
    for case in cases:
        old = _run_child("build", case, {"CHANNELOPT_BUILD_PATH": "pulp"})
        new = _run_child("build", case, {"CHANNELOPT_BUILD_PATH": "arrays"})
        if "error" in old or "error" in new:
            print(f"{case:>8} error: {old.get('error') or new.get('error')}")
            continue
        # Peak memory of the build alone: the process peak less what it held before building.
        om, nm = old["peak_mb"] - old["before_mb"], new["peak_mb"] - new["before_mb"]
        print(f"{case:>8} {new['cells']:>6} {old['seconds']:>8.2f} {new['seconds']:>8.2f} "
              f"{old['seconds'] / new['seconds']:>8.1f} {om:>8.0f} {nm:>9.0f} {om / max(nm, 1.0):>9.1f} "
              f"{new['before_mb']:>9.0f}")


def part4(limits):
    print(f"\nPart 4: china S-curve model ({sum(1 for _ in CHINA_CURVES)} activities, total {CHINA_TOTAL:,.0f}) "
          "under short limits; zero spend earns 0")
    print(f"{'limit':>6} {'greedy_start':>12} {'plan_greedy':>12} {'status':>10} {'wall_s':>7} {'plan_nostart':>12} "
          f"{'status':>12} {'wall_s':>7}")
    for limit in limits:
        g = _run_child("solve", f"{limit}:greedy")
        z = _run_child("solve", f"{limit}:none")
        print(f"{limit:>6} {g.get('start_objective', math.nan):>12.1f} {g.get('objective', math.nan):>12.1f} "
              f"{g.get('status', g.get('error')):>10} {g.get('wall', math.nan):>7.1f} "
              f"{z.get('objective', math.nan):>12.1f} {z.get('status', z.get('error')):>12} "
              f"{z.get('wall', math.nan):>7.1f}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(_child(sys.argv[2], sys.argv[3])))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[50, 1000, 20000])
    ap.add_argument("--slsqp-cap", type=float, default=300.0, help="seconds SLSQP may use per size")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4])
    ap.add_argument("--presolve-off", action="store_true",
                    help="HiGHS presolve off (it spends ~20 s on the 1,000-cell LP that solves in 0.3 s without it)")
    ap.add_argument("--parts", nargs="+", default=["accuracy", "scurves", "build", "limits"],
                    choices=["accuracy", "scurves", "build", "limits"])
    ap.add_argument("--build-cases", nargs="+", default=["20000", "china"],
                    help="concave instance sizes and/or 'china' for part 3")
    ap.add_argument("--limits", type=float, nargs="+", default=[1, 5, 20])
    args = ap.parse_args()
    if "accuracy" in args.parts:
        part1(args.sizes, args.slsqp_cap, {"presolve": "off"} if args.presolve_off else {})
    if "scurves" in args.parts:
        part2(args.seeds)
    if "build" in args.parts:
        part3(args.build_cases)
    if "limits" in args.parts:
        part4(args.limits)


if __name__ == "__main__":
    main()
