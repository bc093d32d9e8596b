"""Safeguards of the one solve path, the clock of time_limit, threads, option names, set_params.

Where a safeguard reacts to a solver misbehaving (a mis-mapped warm start, a wrong
"infeasible", a plan that breaks a row), the misbehaviour is injected by a Solver
subclass that corrupts what the real solver returned: the real HiGHS/CBC runs, and
everything after it is the library's own code.
"""

from __future__ import annotations

import dataclasses
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pulp
import pytest

import channelopt as co
from channelopt import Solver
from channelopt._arrays import ArrayProblem
from channelopt.metrics import Metrics
from channelopt.models._base import Model
from channelopt.plan import Plan
from channelopt.solver import HEURISTIC_SHARE, Deadline

#: corruptions the next solver calls apply, consumed one per call (None: leave alone)
FAULTS: list = []


class FaultySolver(Solver):
    """The real solver, then an injected fault on the values it returned."""

    def _run(self, a, start):
        info, raw, tol = super()._run(a, start)
        fault = FAULTS.pop(0) if FAULTS else None
        if fault is not None:
            info, raw = fault(info, raw)
        return info, raw, tol


@pytest.fixture(autouse=True)
def _no_leftover_faults():
    from channelopt.solver import _CTRL_C

    FAULTS.clear()
    yield
    FAULTS.clear()
    _CTRL_C.clear()


def knapsack(cap=13.0):
    ap = ArrayProblem("knap", "max")
    x = ap.add_vars("x", 5, upper=1, integer=True, cost=[3, 4, 4, 10, 4])
    ap.add_row("weight", x.index, [3, 4, 5, 9, 4], "<=", cap)
    return ap, x


BEST = 14.0  # x1 + x3 (4 + 10, weight 13): checked by brute force below


def test_knapsack_reference_by_brute_force():
    w, v = np.array([3, 4, 5, 9, 4]), np.array([3, 4, 4, 10, 4])
    best = max(v @ b for b in np.ndindex(*(2,) * 5) if w @ np.array(b) <= 13)
    assert best == BEST


# -- the cold re-solve after an inconsistent warm-started plan
def test_inconsistent_warm_started_plan_is_solved_again_cold():
    def mis_mapped(info, raw):  # a plan that does not price at the reported objective
        raw = raw.copy()
        raw[:] = 0.0
        return info, raw

    FAULTS.append(mis_mapped)
    ap, x = knapsack()
    info = FaultySolver().solve(ap, warm_start={x: [1, 1, 0, 0, 1]})
    assert [c["call"] for c in info.calls] == ["solve", "cold re-solve"]
    assert "warm start discarded" in info.message
    assert info.status == "optimal" and info.objective == BEST
    assert float(np.array([3, 4, 4, 10, 4]) @ x.value) == BEST


# -- the rejection of a plan that breaks the model
@pytest.mark.parametrize("name", ["highs", "cbc"])
def test_a_plan_that_does_not_price_at_its_objective_is_rejected(name):
    def drop_one(info, raw):  # still feasible, but worth less than the solver says
        raw = raw.copy()
        raw[np.flatnonzero(raw > 0.5)[0]] = 0.0
        return info, raw

    FAULTS.append(drop_one)
    ap, _ = knapsack()
    with pytest.raises(co.SolverError, match=r"does not price at its reported objective 14\.0"):
        FaultySolver(name).solve(ap)


def test_cbc_objective_is_its_own_report_checked_against_its_values(monkeypatch):
    # Recomputing CBC's objective from the values it wrote makes the price check
    # vacuous. Corrupt the values as read from CBC's solution file: the objective CBC
    # reported (14) no longer matches them, and the plan must be refused.
    import channelopt.solver as solver_module

    real = solver_module._read_cbc_solution

    def corrupted(path, n):
        header, values = real(path, n)
        values[np.flatnonzero(values > 0.5)[0]] = 0.0
        return header, values

    monkeypatch.setattr(solver_module, "_read_cbc_solution", corrupted)
    ap, _ = knapsack()
    with pytest.raises(co.SolverError, match=r"does not price at its reported objective 14\.0"):
        Solver("cbc").solve(ap)


@pytest.mark.parametrize("name", ["highs", "cbc"])
def test_integrality_is_checked_before_rounding(name):
    def fractional(info, raw):  # 0.4 would round to 0: the rounded plan looks clean
        raw = raw.copy()
        raw[np.flatnonzero(raw < 0.5)[0]] = 0.4
        return info, raw

    FAULTS.append(fractional)
    ap, _ = knapsack()
    with pytest.raises(co.SolverError, match=r"is not integral \(column \d = 0\.4\)"):
        FaultySolver(name).solve(ap)


def capacity_lp():
    """max sum x_i subject to sum 1e4 * x_i <= 1e7 (a capacity row in volume units)."""
    ap = ArrayProblem("cap", "max")
    x = ap.add_vars("x", 4, upper=np.inf, cost=1.0)
    ap.add_row("capacity", x.index, [1e4, 1e4, 1e4, 1e4], "<=", 1e7)
    return ap, x


def test_row_tolerance_follows_the_solver_not_the_row_size():
    # 100 units over a capacity of 1e7 passed a tolerance that grew with the activity.
    def over_by(amount):
        def fault(info, raw):
            raw = raw.copy()
            raw[0] += amount / 1e4
            info.objective = float(raw.sum())
            return info, raw
        return fault

    ap, _ = capacity_lp()
    FAULTS.append(over_by(100.0))
    with pytest.raises(co.SolverError, match=r"breaks row 'capacity' by 100 \(activity 10000100"):
        FaultySolver().solve(ap)
    # Well inside HiGHS's own tolerance (1e-7 on the scaled row, x10): accepted.
    ap, _ = capacity_lp()
    FAULTS.append(over_by(1e-4))
    assert FaultySolver().solve(ap).status == "optimal"


# -- the presolve-off confirmation of an infeasible verdict
def infeasible_mip():
    ap = ArrayProblem("inf")
    x = ap.add_vars("x", 3, upper=1, integer=True, cost=1.0)
    ap.add_row("need", x.index, [1, 1, 1], ">=", 2)
    ap.add_row("cap", x.index, [1, 1, 1], "<=", 1)
    return ap


def test_infeasible_verdict_is_confirmed_without_presolve():
    info = Solver().solve(infeasible_mip())
    assert info.status == "infeasible"
    assert [c["call"] for c in info.calls] == ["solve", "presolve-off confirmation"]
    assert [c["status"] for c in info.calls] == ["infeasible", "infeasible"]
    assert "confirmed without presolve" in info.message


def test_a_wrong_infeasible_verdict_is_overturned_by_the_confirmation():
    def wrongly_infeasible(info, raw):
        info.status, info.termination, info.objective = "infeasible", "infeasible", math.nan
        return info, None

    FAULTS.append(wrongly_infeasible)
    ap, x = knapsack()
    info = FaultySolver().solve(ap)
    assert info.status == "optimal" and info.objective == BEST
    assert "without presolve: optimal" in info.message
    assert info.calls[1]["call"] == "presolve-off confirmation"


# -- CBC is stopped at its limit when it overruns
def hard_mkp(n=150, rows=20, seed=1, ap=None):
    rng = np.random.default_rng(seed)
    ap = ArrayProblem("mkp", "max") if ap is None else ap
    x = ap.add_vars("x", n, upper=1, integer=True, cost=rng.integers(50, 100, n))
    for r in range(rows):
        ap.add_row(f"w{r}", x.index, rng.integers(20, 60, n), "<=", 1500)
    return ap, x


def test_cbc_is_stopped_when_it_runs_past_its_limit():
    ap, x = hard_mkp()
    # "sec" after channelopt's own -sec makes CBC ignore the limit, as it does on some models.
    info = Solver("cbc", time_limit=1.0, options={"sec": 1000}).solve(ap)
    assert "channelopt stopped it" in info.message
    assert info.termination == "time_limit"
    assert info.status == "feasible"
    assert math.isfinite(info.bound) and info.bound >= info.objective
    assert info.objective == pytest.approx(float(ap.arrays().cost @ x.value))


# -- the clock: time_limit bounds the whole solve
class SlowMkp(Model):
    """A hard knapsack with a slow build and a heuristic that uses its whole share."""

    kind = "slow_mkp"
    sense = pulp.LpMaximize

    def __init__(self, *, build_pause: float = 0.3):
        self.build_pause = build_pause

    def _build_arrays(self, net, ap):
        time.sleep(self.build_pause)  # stands for a long build
        return {"x": hard_mkp(ap=ap)[1]}

    def _warm_start(self, net, state, solver=None):
        state["heuristic_budget"] = solver.remaining()
        state["heuristic_clock_left"] = solver.deadline.remaining()
        while solver.remaining() > 0:  # a heuristic that spends its whole share
            time.sleep(0.01)
        return {state["x"]: np.zeros(150)}

    def _extract(self, net, state, info):
        plan = Plan(kind=self.kind, info=info, assignments=pd.DataFrame({"take": state["x"].value}),
                    metrics=Metrics())
        plan.test_state = state  # what the heuristic saw, for the assertions
        return plan


def test_build_and_heuristics_come_off_the_solver_time_limit():
    limit = 3.0
    with pytest.warns(co.NotOptimalWarning):
        plan = SlowMkp(build_pause=0.5).solve(None, Solver(time_limit=limit))
    info = plan.info
    spent = info.build_seconds + plan_state(plan)["heuristic_seconds"]
    assert info.build_seconds >= 0.5
    assert plan_state(plan)["heuristic_seconds"] > 0
    # The heuristic was offered its share of what the build left, not of the limit.
    assert plan_state(plan)["heuristic_budget"] <= HEURISTIC_SHARE * (limit - info.build_seconds) + 1e-9
    # The solver got what was left after the build and the heuristic, no more.
    assert info.calls[0]["time_limit"] <= limit - spent + 1e-9
    assert info.solver_time_limit == info.calls[0]["solver_time_limit"] <= info.calls[0]["time_limit"]
    assert info.status == "feasible" and math.isfinite(info.gap) and math.isfinite(info.bound)


def plan_state(plan):
    return plan.test_state


def test_built_model_solve_starts_the_clock_itself():
    built = SlowMkp(build_pause=0.0).build(None)
    time.sleep(0.3)  # time between build and solve is the user's, not the solve's
    with pytest.warns(co.NotOptimalWarning):
        plan = built.solve(Solver(time_limit=2.0))
    assert plan.info.calls[0]["time_limit"] > 2.0 - 0.3 - plan.test_state["heuristic_seconds"] - 0.25


def test_resolves_draw_on_the_same_clock():
    def mis_mapped(info, raw):
        return info, np.zeros_like(raw)

    FAULTS.append(mis_mapped)
    ap, x = knapsack()
    info = FaultySolver(time_limit=5.0).solve(ap, warm_start={x: np.zeros(5)})
    first, second = info.calls
    assert second["call"] == "cold re-solve"
    assert second["time_limit"] <= first["time_limit"] - first["seconds"] + 1e-9
    info = Solver(time_limit=5.0).solve(infeasible_mip())
    first, second = info.calls
    assert second["call"] == "presolve-off confirmation"
    assert second["time_limit"] <= first["time_limit"] - first["seconds"] + 1e-9


def test_cbc_gets_what_is_left():
    solver = Solver("cbc", time_limit=3.0).start_clock()
    time.sleep(0.4)
    info = solver.solve(knapsack()[0])
    assert info.solver_time_limit <= 3.0 - 0.4 + 1e-9


def test_deadline_shares_and_interrupts():
    d = Deadline(10.0)
    child = d.share(0.25)
    assert child.remaining() <= 2.5
    grandchild = child.share(1.0)
    c_left = child.remaining()
    assert grandchild.remaining() <= c_left  # a child never outlasts its parent
    assert Deadline(None).share(0.5).remaining() is None
    grandchild.interrupt()
    assert d.interrupted and child.interrupted and d.remaining() == 0.0
    # Ctrl-C stops every clock inside the outermost solve, also ones not linked to it ...
    assert Deadline(30.0).interrupted
    # ... until a new solve starts from the top.
    solver = Solver(time_limit=4.0).start_clock()
    assert not solver.interrupted and not Deadline(30.0).interrupted
    assert solver.share(0.5).remaining() <= 2.0
    assert solver.start_clock() is solver  # started once, never restarted
    # A model's own split (dataclasses.replace) is honoured as given, floors included,
    # even past the whole solve's end; Ctrl-C on it still reaches the whole solve.
    spent = Solver(time_limit=0.2).start_clock()
    time.sleep(0.3)
    assert spent.remaining() == 0.0
    floor = dataclasses.replace(spent, time_limit=0.5)
    assert 0.4 < floor.remaining() <= 0.5
    floor.deadline.interrupt()
    assert spent.interrupted and floor.remaining() == 0.0


# -- threads may change between solves (HiGHS keeps a global scheduler)
THREADS_SCRIPT = """
import numpy as np, channelopt as co
rng = np.random.default_rng(0)
pts = rng.random((200, 2))
net = co.ChannelNetwork.from_cost_matrix(np.linalg.norm(pts[:, None] - pts[None, :60], axis=2))
for threads in (1, 2, 1):
    built = co.DistributorSelection(objective="p_median", p=5).build(net)
    info = co.Solver(threads=threads).solve(built.arrays if built.arrays is not None else built.problem)
    print("RUN", threads, info.status, info.termination, repr(info.objective), flush=True)
"""


def test_threads_change_between_solves(tmp_path):
    # A fresh process: the scheduler is sized by the first solve of the process.
    # Measured with highspy 1.16 and a blocking run(): threads 1 then 2 gave "kNotset".
    script = tmp_path / "threads.py"
    script.write_text(THREADS_SCRIPT)
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300)
    runs = [line.split() for line in out.stdout.splitlines() if line.startswith("RUN")]
    assert [r[1:4] for r in runs] == [["1", "optimal", "optimal"], ["2", "optimal", "optimal"],
                                      ["1", "optimal", "optimal"]], out.stdout + out.stderr
    # the same optimum each time, up to float noise: with threads=2 two HiGHS racers search and either one's
    # plan may come back, its objective summed in another order (seen: 34.7444106867152 vs 34.744410686715206)
    objectives = [float(r[4]) for r in runs]
    assert objectives == pytest.approx([objectives[0]] * 3, rel=1e-9, abs=0)


# -- option names
@pytest.mark.parametrize(("name", "key", "near"), [
    ("highs", "presolv", "presolve"),
    ("highs", "mip_rel_gapp", "mip_rel_gap"),
    ("cbc", "maxNodez", "maxNodes"),
    ("cbc", "secondz", "seconds"),
])
def test_misspelled_option_names_the_nearest(name, key, near):
    with pytest.raises(co.SettingsError, match=rf"{key!r} is not a (HiGHS|CBC) option; did you mean {near!r}\?"):
        Solver(name, options={key: 1})


@pytest.mark.parametrize(("name", "options"), [
    ("highs", {"presolve": "off", "mip_heuristic_effort": 0.1, "random_seed": 3}),
    ("cbc", {"maxN": 1000, "cuts": "off", "primalTolerance": 1e-7}),
])
def test_valid_options_are_accepted_and_used(name, options):
    ap, _ = knapsack()
    info = Solver(name, options=options).solve(ap)
    assert info.objective == BEST


def test_a_bad_highs_option_value_is_named():
    ap, _ = knapsack()
    with pytest.raises(co.SettingsError, match="presolve='sometimes'"):
        Solver(options={"presolve": "sometimes"}).solve(ap)


# -- set_params follows scikit-learn
def test_set_params_sets_in_place_and_returns_self():
    model = co.DistributorSelection(objective="p_median", p=2)
    assert model.set_params(p=3) is model
    assert model.p == 3
    copy = model.clone(p=5)
    assert (copy.p, model.p) == (5, 3) and copy is not model
    with pytest.raises(co.SettingsError, match=r"has no setting\(s\) \['pp'\]\. Did you mean 'p'\?"):
        model.set_params(pp=4)


def test_every_library_error_is_a_channelopt_error():
    import inspect

    import channelopt.exceptions as ex

    errors = [c for _, c in inspect.getmembers(ex, inspect.isclass) if issubclass(c, Exception)
              and not issubclass(c, Warning)]
    assert {e.__name__ for e in errors} >= {"ValidationError", "SettingsError", "InfeasibleError",
                                            "NoSolutionError", "SolverError", "BuildError"}
    assert all(issubclass(e, co.ChannelOptError) for e in errors)


def test_no_solver_call_once_the_time_is_spent():
    solver = Solver(time_limit=0.5).start_clock()
    time.sleep(0.6)
    ap, x = knapsack()
    info = solver.solve(ap, warm_start={x: [1, 1, 0, 0, 1]})  # weight 11, worth 11
    assert info.calls == [{"call": "solve", "time_limit": 0.0, "solver_time_limit": 0.0,
                           "seconds": info.calls[0]["seconds"], "status": "no_solution"}]
    assert info.status == "feasible" and info.objective == 11.0
    assert "no time left for a solver call" in info.message and "warm start" in info.message
    assert Solver(time_limit=0.5).start_clock().solve(ap).status == "optimal"  # a fresh clock has time
