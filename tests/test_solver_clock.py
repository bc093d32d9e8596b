"""The HiGHS run on the clock: the limit it is handed, the watchdog, and the plan of a run given up on.

Real HiGHS solves of a hard multi-dimensional knapsack. A run that "ignores its limit"
is made by handing HiGHS a time limit of its own (``options={"time_limit": 1e9}``):
HiGHS then runs on, and only channelopt's watchdog holds the solve to its clock.
"""

from __future__ import annotations

import itertools
import math

import highspy
import numpy as np
import pytest

import channelopt.solver as cs
from channelopt import Solver
from channelopt._arrays import ArrayProblem


def hard_mkp(n=300, rows=40, seed=1):
    """Zero is feasible at once; proving optimality takes minutes."""
    rng = np.random.default_rng(seed)
    ap = ArrayProblem("mkp", "max")
    value = rng.integers(50, 100, n).astype(float)
    weights = rng.integers(20, 60, (rows, n)).astype(float)
    x = ap.add_vars("x", n, upper=1, integer=True, cost=value)
    for r in range(rows):
        ap.add_row(f"w{r}", x.index, weights[r], "<=", 3000)
    return ap, x, value, weights


def test_highs_time_limit_keeps_back_the_read_back():
    per_mnz = cs.READ_BACK_SECONDS_PER_MNZ
    assert cs._highs_time_limit(None, 10**6) is None  # no limit stays no limit
    # 60 s left, 1.64M nonzeros (the china capacitated MIP): 1.64 x per_mnz seconds kept back
    assert cs._highs_time_limit(60.0, 1_640_000) == pytest.approx(60.0 - 1.64 * per_mnz)
    # a small model keeps back next to nothing
    assert cs._highs_time_limit(5.0, 1_000) == pytest.approx(5.0 - 0.001 * per_mnz)
    # never more than READ_BACK_MAX_SHARE of what is left
    assert cs._highs_time_limit(2.0, 10**9) == pytest.approx(2.0 * (1 - cs.READ_BACK_MAX_SHARE))
    # nothing left: the smallest call HiGHS accepts (0 would mean "no limit")
    assert cs._highs_time_limit(0.0, 10**6) == cs._MIN_CALL
    assert cs._highs_time_limit(-1.0, 10) == cs._MIN_CALL


def test_highs_is_handed_what_is_left_after_loading_less_the_read_back(monkeypatch):
    # a read-back rate so high that the cap applies: HiGHS gets 3/4 of what is left when it starts
    monkeypatch.setattr(cs, "READ_BACK_SECONDS_PER_MNZ", 1e9)
    ap, x, value, weights = hard_mkp(n=150, rows=20)
    limit = 4.0
    info = Solver("highs", time_limit=limit).solve(ap)
    keep = 1 - cs.READ_BACK_MAX_SHARE
    assert info.solver_time_limit <= keep * limit + 1e-9
    # what was left at the start of the run is at least the limit less the whole call's seconds
    assert info.solver_time_limit >= keep * (limit - info.seconds) - 1e-9
    assert info.calls[0]["solver_time_limit"] == info.solver_time_limit <= info.calls[0]["time_limit"]
    # HiGHS stopped itself at that limit, with a plan and a real bound
    assert (info.status, info.termination) == ("feasible", "time_limit")
    assert "background" not in info.message
    assert info.objective == pytest.approx(float(value @ x.value))
    assert info.bound > info.objective


def test_the_watchdog_stops_a_run_that_ignores_its_limit():
    ap, x, value, weights = hard_mkp()
    info = Solver("highs", time_limit=1.0, options={"time_limit": 1e9}).solve(ap)
    # stopped by channelopt at the solve's limit (not Ctrl-C), with the best plan so far
    assert (info.status, info.termination) == ("feasible", "time_limit")
    take = x.value
    assert np.all(weights @ take <= 3000 + 1e-9)
    assert info.objective == pytest.approx(float(value @ take))
    assert math.isfinite(info.bound) and info.bound >= info.objective


def test_a_run_given_up_on_keeps_its_last_incumbent(monkeypatch):
    # give up on the run as soon as the watchdog tells it to stop: it is still running, so its
    # plan can only come from HiGHS's improving-solution callback
    monkeypatch.setattr(cs, "HIGHS_GRACE", 0.0)
    monkeypatch.setattr(cs, "CANCEL_WAIT", -1.0)
    ap, x, value, weights = hard_mkp()
    info = Solver("highs", time_limit=3.0, options={"time_limit": 1e9}).solve(ap)
    assert "its run was left to end in the background; its last incumbent is the plan" in info.message
    assert (info.status, info.termination) == ("feasible", "time_limit")
    take = x.value
    assert set(np.unique(take)) <= {0.0, 1.0}
    assert np.all(weights @ take <= 3000 + 1e-9)  # the plan keeps every row
    assert info.objective == pytest.approx(float(value @ take))
    # the dual bound HiGHS last reported: an upper bound of this maximisation
    assert math.isfinite(info.bound) and info.bound >= info.objective
    assert info.gap == pytest.approx((info.bound - info.objective) / info.objective)


def test_a_run_given_up_on_reads_its_bound_on_the_objective_grid(monkeypatch):
    # the knapsack's values are whole numbers, so is every plan's: with the model's promise (objective_step 1) the
    # bound HiGHS last reported (an LP bound, fractional) is read rounded down onto the grid, as a run that ended is
    monkeypatch.setattr(cs, "HIGHS_GRACE", 0.0)
    monkeypatch.setattr(cs, "CANCEL_WAIT", -1.0)
    ap, x, value, weights = hard_mkp()
    ap.objective_step = 1.0
    info = Solver("highs", time_limit=3.0, options={"time_limit": 1e9}).solve(ap)
    assert "its run was left to end in the background; its last incumbent is the plan" in info.message
    assert (info.status, info.termination) == ("feasible", "time_limit")
    assert info.objective == pytest.approx(float(value @ x.value))
    assert info.bound == math.floor(info.bound)  # on the grid
    assert info.bound > info.objective  # (not proven: the whole number under HiGHS's bound is above the plan)
    assert info.gap == pytest.approx((info.bound - info.objective) / info.objective)


def test_a_run_left_in_the_background_does_not_block_the_next_solve(monkeypatch):
    # a run that ignores being told to stop (as HiGHS's full MIP presolve does) and ends by its own 4 s
    monkeypatch.setattr(cs, "HIGHS_GRACE", 0.0)
    monkeypatch.setattr(cs, "CANCEL_WAIT", -1.0)
    monkeypatch.setattr(highspy.Highs, "cancelSolve", lambda self: None)
    real_set = highspy.Highs.setOptionValue

    def set_option(self, key, value):
        return highspy.HighsStatus.kOk if (key, value) == ("time_limit", 0.0) else real_set(self, key, value)

    monkeypatch.setattr(highspy.Highs, "setOptionValue", set_option)
    ap, _, _, _ = hard_mkp()
    first = Solver("highs", time_limit=1.0, options={"time_limit": 4.0}).solve(ap)
    assert "left to end in the background" in first.message
    assert cs._abandoned_running()
    # highspy's startSolve guards every Highs object with one class-wide lock: the next solve
    # failed with "Solver is already running" while the first went on
    value, weight = np.array([3.0, 4, 4, 10, 4]), np.array([3.0, 4, 5, 9, 4])
    small = ArrayProblem("knap", "max")
    x = small.add_vars("x", 5, upper=1, integer=True, cost=value)
    small.add_row("weight", x.index, weight, "<=", 13.0)
    info = Solver("highs", time_limit=2.0).solve(small)
    best = max(value @ np.array(t) for t in itertools.product([0, 1], repeat=5) if weight @ np.array(t) <= 13)
    assert info.status == "optimal"
    assert info.objective == pytest.approx(best)


def test_no_call_when_loading_alone_would_outlast_the_clock(monkeypatch):
    value, weight = np.array([3.0, 4, 4, 10, 4]), np.array([3.0, 4, 5, 9, 4])
    ap = ArrayProblem("knap", "max")
    x = ap.add_vars("x", 5, upper=1, integer=True, cost=value)
    ap.add_row("weight", x.index, weight, "<=", 13.0)
    start = {x: [1, 1, 0, 0, 1]}  # weight 11, worth 11
    # this tiny model "takes" 1e6 seconds per nonzero to load: 5 nonzeros, 5 s > the 3 s left
    monkeypatch.setattr(cs, "LOAD_SECONDS_PER_MNZ", 1e12)
    info = Solver("highs", time_limit=3.0).solve(ap, warm_start=start)
    assert info.calls[0]["solver_time_limit"] == 0.0  # no HiGHS run
    assert "no time left for a solver call" in info.message and "loading 5 nonzeros" in info.message
    assert (info.status, info.objective) == ("feasible", 11.0)  # the warm start comes back
    # with the real rate the call is made and proves the optimum
    monkeypatch.setattr(cs, "LOAD_SECONDS_PER_MNZ", 0.6)
    info = Solver("highs", time_limit=3.0).solve(ap, warm_start=start)
    best = max(value @ np.array(t) for t in itertools.product([0, 1], repeat=5) if weight @ np.array(t) <= 13)
    assert (info.status, info.objective) == ("optimal", best)
