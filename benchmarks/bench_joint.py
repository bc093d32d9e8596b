"""Joint MILP against the sequential plan, on one contribution formula.

Run: ``python benchmarks/bench_joint.py`` (main table, a few minutes), or
``python benchmarks/bench_joint.py --scale`` for the tractability sweep.

For each synthetic network (``make_synthetic``, fixed seeds) and each rule set
(exclusive regions only; + contiguity; + contiguity and a 30% workload balance), the
same :class:`channelopt.JointPlanner` settings are solved twice:

- joint: ``model.solve(net)``, one MILP;
- sequential: ``model.solve_sequential(net)``: selection, then territories with the
  signings fixed, then budget with both fixed, each stage to its own optimum.

Both plans are priced by the same formula, ``margin * (covered potential + response)
- fixed - service - spend`` (PWL response = the MILP objective; ``true`` re-prices the
response on the real curves). Times are wall-clock seconds of the solve calls in this
run; the joint time is also given as a ratio to the sequential time.

``--build`` (issue 11): build seconds and peak memory (``ru_maxrss`` of a fresh
subprocess each) of the array build against the old PuLP build kept behind
``CHANNELOPT_BUILD_PATH=pulp``, with contiguity and a 30% balance, per size.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import warnings

import channelopt as co
from channelopt.models.joint import JointPlanner

SIZES = [(12, 200, 6, 0), (18, 300, 7, 1), (20, 400, 8, 2), (24, 500, 8, 3), (30, 600, 10, 4)]
RULES = [("exclusive", False, None), ("+contiguity", True, None), ("+contig+bal30", True, 0.3)]


def model_for(net, contiguity, balance, margin=0.25):
    ref = float(net.outlets.groupby(["region_id", "channel"])["potential"].sum().mean())
    curves = {"promotion": co.Hill(0.6 * ref, 0.1 * ref, 1.0), "display": co.Hill(0.3 * ref, 0.05 * ref, 0.8)}
    return JointPlanner(margin=margin, curves=curves, total=0.05 * float(net.outlets["potential"].sum()),
                        contiguity=contiguity, balance=balance)


def run(sizes, rules, time_limit, threads):
    solver = co.Solver("highs", time_limit=time_limit, threads=threads)
    print(f"{'regions':>7} {'outlets':>7} {'dists':>5} {'rules':<14} {'joint':>12} {'status':>8} {'gap':>6} "
          f"{'sequential':>12} {'improve':>8} {'joint_true':>12} {'seq_true':>12} {'t_joint':>8} {'t_seq':>7} "
          f"{'ratio':>6} {'signed j/s':>10}")
    for R, N, J, seed in sizes:
        net = co.make_synthetic(R, N, J, seed=seed)
        for name, contiguity, balance in rules:
            model = model_for(net, contiguity, balance)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", co.NotOptimalWarning)
                t0 = time.perf_counter()
                joint = model.solve(net, solver)
                tj = time.perf_counter() - t0
                t0 = time.perf_counter()
                seq = model.solve_sequential(net, solver)
                ts = time.perf_counter() - t0
            improve = (joint.objective - seq.objective) / abs(seq.objective)
            print(f"{R:>7} {N:>7} {J:>5} {name:<14} {joint.objective:>12,.0f} {joint.status:>8} "
                  f"{joint.gap:>6.1%} {seq.objective:>12,.0f} {improve:>8.2%} "
                  f"{joint.metrics['contribution']:>12,.0f} {seq.metrics['contribution']:>12,.0f} "
                  f"{tj:>8.2f} {ts:>7.2f} {tj / ts:>6.1f} "
                  f"{joint.metrics['open_distributors']:>4}/{seq.metrics['open_distributors']:<4}", flush=True)


def scale(time_limit, threads):
    """Where the joint model stops being tractable: proof time as the network grows."""
    solver = co.Solver("highs", time_limit=time_limit, threads=threads)
    print(f"{'regions':>7} {'outlets':>7} {'dists':>5} {'contiguity':>10} {'status':>8} {'gap':>7} {'seconds':>8} "
          f"{'vars':>7} {'ints':>6} {'rows':>7}")
    grid = [(30, 600, 10), (40, 800, 10), (60, 1200, 12), (100, 2000, 15)]
    for contiguity in (False, True):
        for R, N, J in grid:
            net = co.make_synthetic(R, N, J, seed=7)
            model = model_for(net, contiguity, None)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", co.NotOptimalWarning)
                t0 = time.perf_counter()
                plan = model.solve(net, solver)
                secs = time.perf_counter() - t0
            i = plan.info
            print(f"{R:>7} {N:>7} {J:>5} {str(contiguity):>10} {plan.status:>8} {plan.gap:>7.2%} {secs:>8.2f} "
                  f"{i.n_variables:>7} {i.n_integer:>6} {i.n_constraints:>7}", flush=True)


def _build_child(size: int) -> dict:
    """Build the joint model (contiguity, 30% balance) of ``SIZES[size]`` in this fresh process."""
    warnings.simplefilter("ignore")
    r, o, d, seed = SIZES[size]
    net = co.make_synthetic(r, o, d, seed=seed)
    model = model_for(net, True, 0.3)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    t0 = time.perf_counter()
    built = model.build(net)
    return {"seconds": time.perf_counter() - t0, "extra_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            / 1024.0 - before, "pulp": built.has_problem}


def build_table() -> None:
    print(f"{'size':>14} {'pulp_s':>7} {'arrays_s':>8} {'speedup':>7} {'pulp_MB':>7} {'arrays_MB':>9}")
    for k, (r, o, d, _) in enumerate(SIZES):
        out = {}
        for path in ("pulp", "arrays"):
            res = subprocess.run([sys.executable, __file__, "--build-child", str(k)], capture_output=True, text=True,
                                 env={**os.environ, "CHANNELOPT_BUILD_PATH": path}, check=True)
            out[path] = json.loads(res.stdout.strip().splitlines()[-1])
        p, a = out["pulp"], out["arrays"]
        print(f"{f'{r}r/{o}o/{d}d':>14} {p['seconds']:>7.3f} {a['seconds']:>8.3f} {p['seconds'] / a['seconds']:>7.1f} "
              f"{p['extra_mb']:>7.0f} {a['extra_mb']:>9.0f}")


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--build-child":
        print(json.dumps(_build_child(int(sys.argv[2]))))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", action="store_true", help="tractability sweep instead of the comparison table")
    ap.add_argument("--time-limit", type=float, default=120.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="first two sizes only")
    ap.add_argument("--build", action="store_true", help="build time and memory, arrays vs the old PuLP build")
    args = ap.parse_args()
    if args.build:
        build_table()
    elif args.scale:
        scale(args.time_limit, args.threads)
    else:
        run(SIZES[:2] if args.quick else SIZES, RULES, args.time_limit, args.threads)


if __name__ == "__main__":
    main()
