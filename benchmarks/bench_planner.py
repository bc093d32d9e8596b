"""The integrated planner under time limits and on what_if.yaml (issue 10, items 1-5 and 7).

Run: ``python benchmarks/bench_planner.py [--parts limits what_if] [--limits 1 5 20 60]``

Part ``limits``: ``ChannelPlanner`` on the china example (the planner case of
``bench_solve_path.py``: min_cost selection, contiguous territories at 70% workload
balance, exclusive territory x channel owners, the what_if.yaml budget and curves)
under each time limit, each run in a fresh process (its own peak memory): wall
seconds of ``solve()`` and how far over the limit, status, objective (the last
stage's: the budget's response, given the earlier stages' decisions, so not comparable
across limits), the selection's and the exclusive assignment's costs (service plus
fixed), outlets served outside their territory, the largest
utilisation of a signed distributor, each stage's status, peak memory, and the load
average when the run started (2 shared cores: timings under load are inflated).

Part ``what_if``: every scenario of ``examples/scenarios/what_if.yaml`` (nc) through
the planner with the file's own solver settings: outlets outside territory, largest
utilisation and the plan's summary line (the report's first line).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve()
ROOT = HERE.parents[1]


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _describe(plan) -> dict:
    d = plan.distributors
    signed = d.loc[d["open"].astype(bool)]
    page = plan.to_html(charts=False)
    line = re.search(r'<p class="sub">(.*?)</p>', page, re.S)
    return {"status": plan.status, "termination": plan.info.termination, "objective": plan.objective,
            "gap": plan.gap, "outside": plan.metrics.overall.get("outlets_outside_territory"),
            "max_util": float(signed["utilisation"].max()) if len(signed) else math.nan,
            "signed": len(signed),
            "selection_obj": plan.stages["selection"].objective,
            "assignment_obj": plan.stages["assignment"].objective if "assignment" in plan.stages else math.nan,
            "stages": {k: f"{p.status}/{p.info.termination}" for k, p in plan.stages.items()},
            "summary": re.sub(r"<[^>]+>", "", line.group(1)).split(". Generated")[0] if line else ""}


def child(spec: dict) -> None:
    warnings.simplefilter("ignore")
    sys.path.insert(0, str(HERE.parent))
    import channelopt as co

    out: dict = {"spec": spec, "load": os.getloadavg()[0]}
    if spec["part"] == "limits":
        from bench_solve_path import _china_model

        net = co.load_example("china")
        model = _china_model("planner")
        t0 = time.perf_counter()
        try:
            out.update(_describe(model.solve(net, co.Solver("highs", time_limit=spec["limit"]))))
        except co.ChannelOptError as exc:
            out.update(status=type(exc).__name__, termination=str(exc)[:160])
        out["wall_s"] = time.perf_counter() - t0
    else:
        from channelopt.scenarios import load_scenarios

        sc = [s for s in load_scenarios(ROOT / "examples" / "scenarios" / "what_if.yaml")
              if s.name == spec["name"]][0]
        t0 = time.perf_counter()
        try:
            out.update(_describe(sc.build_model().solve(sc.build_network(), sc.build_solver())))
        except co.ChannelOptError as exc:
            out.update(status=type(exc).__name__, termination=str(exc)[:160])
        out["wall_s"] = time.perf_counter() - t0
        out["limit"] = sc.build_solver().time_limit
    out["peak_mb"] = _peak_mb()
    print("RESULT " + json.dumps(out, default=float), flush=True)


def run_child(spec: dict, timeout: float) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    res = subprocess.run([sys.executable, str(HERE), "--child", json.dumps(spec)], capture_output=True, text=True,
                         env=env, timeout=timeout)
    line = next((ln for ln in res.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if line is None:
        return {"spec": spec, "status": f"crashed rc={res.returncode}", "termination": res.stderr[-300:]}
    return json.loads(line[7:])


def fmt(v, spec=".2f"):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "nan"
    return format(v, spec) if isinstance(v, int | float) else str(v)


def part_limits(limits, repeat: int) -> None:
    print("\n## ChannelPlanner on china under time limits (HiGHS; each run in its own process)\n")
    print("| limit s | load | wall s | over s | status | objective (budget response) | selection cost | "
          "assignment cost | outside territory | max utilisation | signed | stages | peak MB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for limit in limits:
        for _ in range(repeat):
            r = run_child({"part": "limits", "limit": limit}, timeout=limit * 6 + 600)
            wall = r.get("wall_s", math.nan)
            stages = ", ".join(f"{k} {v}" for k, v in (r.get("stages") or {}).items()) or r.get("termination", "")
            print(f"| {limit:g} | {fmt(r.get('load'), '.1f')} | {fmt(wall)} | {fmt(wall - limit)} | "
                  f"{r.get('status')} | {fmt(r.get('objective'), ',.6g')} | {fmt(r.get('selection_obj'), ',.6g')} | "
                  f"{fmt(r.get('assignment_obj'), ',.6g')} | {fmt(r.get('outside'), 'd')} | "
                  f"{fmt(r.get('max_util'), '.4f')} | {r.get('signed', '')} | {stages} | "
                  f"{fmt(r.get('peak_mb'), '.0f')} |", flush=True)


def part_what_if() -> None:
    from channelopt.scenarios import load_scenarios

    names = [s.name for s in load_scenarios(ROOT / "examples" / "scenarios" / "what_if.yaml")]
    print("\n## examples/scenarios/what_if.yaml (nc) through the planner\n")
    print("| scenario | limit s | load | wall s | status | outside territory | max utilisation | summary line |")
    print("|---|---|---|---|---|---|---|---|")
    for name in names:
        r = run_child({"part": "what_if", "name": name}, timeout=900)
        print(f"| {name} | {fmt(r.get('limit'), 'g')} | {fmt(r.get('load'), '.1f')} | {fmt(r.get('wall_s'))} | "
              f"{r.get('status')} | {fmt(r.get('outside'), 'd')} | {fmt(r.get('max_util'), '.4f')} | "
              f"{r.get('summary') or r.get('termination', '')} |", flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--parts", nargs="+", default=["limits", "what_if"], choices=["limits", "what_if"])
    ap.add_argument("--limits", nargs="+", type=float, default=[1, 5, 20, 60])
    ap.add_argument("--repeat", type=int, default=1, help="runs per limit (a crash seen once needs several)")
    args = ap.parse_args(argv)
    if args.child:
        child(json.loads(args.child))
        return 0
    print(f"# bench_planner ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    if "limits" in args.parts:
        part_limits(args.limits, args.repeat)
    if "what_if" in args.parts:
        part_what_if()
    return 0


if __name__ == "__main__":
    sys.exit(main())
