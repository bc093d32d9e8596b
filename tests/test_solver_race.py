"""``Solver(threads=2)``: two HiGHS runs race on one MIP (``channelopt.solver._run_race``).

The instances are Validi & Buchanan's county maps (published optima, ``../shared/benchdata``).
Every race is checked against the published optimum: a proven plan must reach it, and a bound
(proven or not) must never pass it.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from networkx.readwrite import json_graph

import channelopt as co
from channelopt import solver as solver_module
from channelopt._arrays import ArrayProblem
from channelopt.models.territories import TerritoryDesign

ROOT = Path(__file__).resolve().parents[1]


def instance(benchdata, state: str):
    folder = benchdata / "districting"
    with open(folder / "optima_districting.csv", newline="") as fh:
        row = next(r for r in csv.DictReader(fh) if r["state"] == state and r["contiguity"] == "contiguous")
    with open(folder / row["graph_file"]) as fh:
        graph = json_graph.adjacency_graph(json.load(fh))
    net = co.ChannelNetwork.from_graph(graph, weight_attrs=["TOTPOP"])
    model = TerritoryDesign(k=int(row["k"]), objective="cut_edges", balance={"TOTPOP": (int(row["L"]), int(row["U"]))})
    return net, model, int(row["L"]), int(row["U"]), int(row["optimal_cut_edges"])


def highs_threads_alive() -> int:
    return sum(t.name == "channelopt-highs" and t.is_alive() for t in threading.enumerate())


@pytest.mark.parametrize("state", ["ME", "NM", "ID"])
def test_race_on_the_labelling_milp_proves_the_published_optimum(benchdata, state):
    # the MILP itself, cold (no heuristic, no planar stage): the race alone must prove it
    net, model, _, _, optimum = instance(benchdata, state)
    built = model.build(net)
    info = co.Solver("highs", threads=2).solve(built.arrays)
    assert "2 HiGHS runs raced" in info.message, info.message
    assert info.status == "optimal", info
    assert info.objective == pytest.approx(optimum, abs=1e-6)
    assert info.bound == pytest.approx(optimum, abs=1e-6)
    # the loser was stopped and waited for: no run goes on in the background
    assert highs_threads_alive() == 0
    assert not solver_module._abandoned_running()


@pytest.mark.parametrize("state", ["ME", "NM"])
def test_race_through_the_territory_solve_returns_a_checked_optimal_plan(benchdata, state):
    net, model, lo, hi, optimum = instance(benchdata, state)
    plan = model.solve(net, solver=co.Solver("highs", time_limit=120, threads=2))
    assert "2 HiGHS runs raced" in plan.info.message, plan.info.message
    assert plan.status == "optimal"
    assert plan.objective == pytest.approx(optimum, abs=1e-6)
    assert plan.bound <= optimum + 1e-6
    assert plan.metrics["cut_edges"] == optimum
    assert plan.metrics["contiguity_verified"]
    loads = plan.territories["TOTPOP"]
    assert ((loads >= lo) & (loads <= hi)).all()


def test_one_thread_does_not_race(benchdata):
    net, model, _, _, optimum = instance(benchdata, "ME")
    info = co.Solver("highs", threads=1).solve(model.build(net).arrays)
    assert info.status == "optimal" and info.objective == pytest.approx(optimum, abs=1e-6)
    assert "raced" not in info.message


def test_a_time_limited_race_reports_a_valid_bound(benchdata):
    # cold, WV (optimum 23) is open after a few seconds: the bound is the better racer's, and still a bound
    net, model, lo, hi, optimum = instance(benchdata, "WV")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        info = co.Solver("highs", threads=2, time_limit=4).solve(model.build(net).arrays)
    assert "2 HiGHS runs raced" in info.message, info.message
    assert info.status != "optimal" and info.bound <= optimum + 1e-6  # HiGHS may have no plan yet
    # through the territory search on KS (optimum 32; heuristic start, planar bound, the race): a checked plan
    # and a valid bound
    net, model, lo, hi, optimum = instance(benchdata, "KS")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plan = model.solve(net, solver=co.Solver("highs", threads=2, time_limit=20))
    assert "2 HiGHS runs raced" in plan.info.message, plan.info.message
    assert plan.metrics["contiguity_verified"] and plan.objective >= optimum
    loads = plan.territories["TOTPOP"]
    assert ((loads >= lo) & (loads <= hi)).all()
    assert plan.bound <= optimum + 1e-6
    assert plan.gap == pytest.approx((plan.objective - plan.bound) / plan.objective)



def parity_problem(n: int, seed: int = 0):
    """Binaries ``x`` with ``a @ x == d1`` and ``b @ x == d2``, where every ``a[j] + b[j]`` is even and
    ``d1 + d2`` is odd: the two rows add up to an even left side equal to an odd number, so no plan exists.
    Returns the problem and the two Chvatal-Gomory cuts of half that sum (``c @ x <= floor(s)`` and
    ``c @ x >= ceil(s)``, ``c = (a + b) / 2``, ``s = (d1 + d2) / 2``), in the form of ``race_cuts``."""
    rng = np.random.default_rng(seed)
    a = rng.integers(1, 100, n)
    b = rng.integers(1, 100, n)
    b = b + (a + b) % 2
    d1, d2 = int(a.sum()) // 2, int(b.sum()) // 2
    d2 += 1 - (d1 + d2) % 2
    assert ((a + b) % 2 == 0).all() and (d1 + d2) % 2 == 1  # the proof that no plan exists
    ap = ArrayProblem("parity")
    x = ap.add_vars("x", n, upper=1, integer=True)
    ap.add_rows("a", np.zeros(n), x.index, a, sense="==", rhs=d1)
    ap.add_rows("b", np.zeros(n), x.index, b, sense="==", rhs=d2)
    c, s = (a + b) // 2, (d1 + d2) / 2
    cuts = (np.array([0, n, 2 * n]), np.tile(x.index, 2), np.tile(c, 2).astype(float),
            np.array([-np.inf, np.ceil(s)]), np.array([np.floor(s), np.inf]), np.zeros(0, dtype=int))
    return ap, cuts


def test_a_racers_own_verdict_stops_the_race(caplog):
    # The second racer is handed the two cuts (valid for every integer point, so for every plan): its root LP
    # is infeasible, a verdict at once. The first searches the 60-binary parity problem by branching, which
    # takes far longer than the limit (measured at n=40: 60,886 nodes in 20 s, not proven). HiGHS's presolve
    # sees the parity at once (measured), so it is off here; that also skips the presolve-off confirmation.
    ap, cuts = parity_problem(60)
    made = []
    ap.race_cuts = lambda solver: made.append(solver) or cuts
    solver = co.Solver("highs", threads=2, time_limit=20, options={"presolve": "off"})
    with caplog.at_level(logging.INFO, logger="channelopt.solver"):
        info = solver.solve(ap)
    assert made, "the second racer did not ask for its rows"
    assert "2 HiGHS runs raced" in info.message, info.message
    # the verdict is the second racer's, read back from it ...
    assert (info.status, info.termination) == ("infeasible", "infeasible"), info
    assert "the plan is from random_seed 1" in info.message, info.message
    # ... and the race's stop test ended the first racer's search on it (not HiGHS's time limit)
    assert "HiGHS race settled" in caplog.text and "stopping 1 run(s)" in caplog.text, caplog.text
    assert "past its" not in caplog.text
    assert highs_threads_alive() == 0
    assert not solver_module._abandoned_running()


SIGINT_SCRIPT = textwrap.dedent('''
    import csv, json, sys, time, warnings
    import threading
    from networkx.readwrite import json_graph
    import channelopt as co
    from channelopt import solver
    from channelopt.models.territories import TerritoryDesign, search

    folder, state = sys.argv[1], sys.argv[2]
    search.RACE_FLOORS = None if sys.argv[3] == "none" else sys.argv[3]
    row = next(r for r in csv.DictReader(open(folder + "/optima_districting.csv"))
               if r["state"] == state and r["contiguity"] == "contiguous")
    graph = json_graph.adjacency_graph(json.load(open(folder + "/" + row["graph_file"])))
    net = co.ChannelNetwork.from_graph(graph, weight_attrs=["TOTPOP"])
    race = solver._run_race
    sizes = []

    def watched(hs, *args, **kwargs):
        # observe, do not change: say when the MILP's race starts, so the parent's SIGINT lands in it
        sizes.append(len(hs))
        if len(hs) > 1:
            print("RACING", flush=True)
        return race(hs, *args, **kwargs)

    solver._run_race = watched
    model = TerritoryDesign(k=int(row["k"]), objective="cut_edges", balance={"TOTPOP": (int(row["L"]), int(row["U"]))})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plan = model.solve(net, solver=co.Solver("highs", threads=2))
    # a run HiGHS keeps going past a stop (presolve ignores it) is left to end in the background: give it seconds
    runs = [t for t in threading.enumerate() if t.name == "channelopt-highs"]
    end = time.perf_counter() + 5.0
    for t in runs:
        t.join(max(0.0, end - time.perf_counter()))
    loads = plan.territories["TOTPOP"]
    print("RESULT " + json.dumps({
        "status": plan.status, "termination": plan.info.termination, "objective": plan.objective,
        "bound": plan.bound, "cut_edges": int(plan.metrics["cut_edges"]),
        "contiguous": bool(plan.metrics["contiguity_verified"]),
        "balanced": bool(((loads >= int(row["L"])) & (loads <= int(row["U"]))).all()),
        "territories": int(plan.assignments["territory"].nunique()), "sizes": sizes,
        "alive": sum(t.name == "channelopt-highs" and t.is_alive() for t in threading.enumerate()),
        "message": plan.info.message}), flush=True)
''')


@pytest.mark.parametrize("floors", ["total", "none"])
def test_ctrl_c_stops_both_racers_and_returns_the_best_plan(benchdata, tmp_path, floors):
    # KS (optimum 32) is far from proven without a limit: a real SIGINT during the race stops it, whether the
    # second racer is still computing its boundary floors ("total") or searching (both differ by seed only)
    script = tmp_path / "race_sigint.py"
    script.write_text(SIGINT_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, str(script), str(benchdata / "districting"), "KS", floors],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        for line in proc.stdout:
            if line.startswith("RACING"):
                break
        else:
            pytest.fail(f"no race started: {proc.stderr.read()[-2000:]}")
        time.sleep(2.0)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)  # a guard against a hang, not a timing claim
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"Ctrl-C did not stop the race: {err[-2000:]}")
    lines = [ln for ln in out.splitlines() if ln.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, err[-2000:]
    r = json.loads(lines[-1][len("RESULT "):])
    assert (r["status"], r["termination"]) == ("feasible", "interrupted"), r
    assert 2 in r["sizes"], r
    # both racers ended within seconds of the plan (a run still in HiGHS's presolve ends after it)
    assert r["alive"] == 0, r
    # the plan keeps every rule, checked on the graph and with exact loads; the bound holds for KS
    assert r["contiguous"] and r["balanced"] and r["territories"] == 4, r
    assert r["cut_edges"] == pytest.approx(r["objective"]) and r["objective"] >= 32
    assert r["bound"] <= 32 + 1e-6 or r["bound"] != r["bound"], r
