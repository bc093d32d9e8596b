"""DistributorSelection's strategies draw on the one clock (issue 10 item 4): structure, not wall time.

No test here asserts a duration: the clock's decisions are forced through the documented
thresholds (``MIP_MIN_SECONDS``), and the plan must say what was skipped and why.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import channelopt as co
from channelopt.models.distributors import lagrangian

HIGHS = co.Solver("highs")


def _binding(seed: int, n: int = 60, m: int = 12, ratio: float = 2.0):
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(0, 100, (n, 2)), rng.uniform(0, 100, (m, 2))
    dist = np.sqrt(((a[:, None] - b[None]) ** 2).sum(-1))
    demand = rng.integers(5, 36, n).astype(float)
    cap = rng.uniform(0.8, 1.2, m) * demand.sum() * ratio / m
    fixed = rng.uniform(0.5, 1.5, m) * cap * 5.0
    return co.ChannelNetwork.from_cost_matrix(dist * demand[:, None], demand=demand, fixed_cost=fixed,
                                              capacity=cap, distances=dist)


def _check_plan(net, plan):
    d = plan.distributors
    assert (d["load"] <= d["capacity"] * (1 + 1e-7)).all()
    assert plan.links.groupby("outlet_id")["share"].sum().to_numpy() == pytest.approx(1.0)
    assert plan.links["distributor_id"].isin(d.loc[d["open"], "distributor_id"]).all()


def test_lagrangian_skips_the_mip_stage_when_the_clock_cannot_fit_it(monkeypatch):
    net = _binding(0)
    exact = co.DistributorSelection(capacitated=True, strategy="mip").solve(net, solver=HIGHS)
    # the MIP stage needs more than the whole limit: it must not start, and the plan must say so
    monkeypatch.setattr(lagrangian, "MIP_MIN_SECONDS", 1e6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", co.NotOptimalWarning)
        plan = co.DistributorSelection(capacitated=True, strategy="lagrangian").solve(
            net, solver=co.Solver("highs", time_limit=600))
    steps = plan.tables["solve_steps"].set_index("step")
    assert steps.loc["mip", "status"] == "skipped"
    assert "MIP stage skipped" in plan.info.message
    assert plan.status == "feasible" and plan.info.termination == "time_limit"
    # the bound is the Lagrangian one, valid for the full model, not a number made up for the skip
    assert plan.info.bound == steps.loc["lagrangian", "bound"]
    assert plan.info.bound <= exact.objective * (1 + 1e-7)
    assert plan.objective >= exact.objective * (1 - 1e-7)
    assert plan.info.gap == pytest.approx((plan.objective - plan.info.bound) / plan.objective, rel=1e-9)
    assert plan.metrics.overall["total_cost"] == pytest.approx(plan.objective, rel=1e-7)
    _check_plan(net, plan)


def test_lagrangian_enters_the_mip_stage_when_the_clock_fits_it():
    net = _binding(0)
    plan = co.DistributorSelection(capacitated=True, strategy="lagrangian").solve(
        net, solver=co.Solver("highs", time_limit=600))
    steps = plan.tables["solve_steps"].set_index("step")
    assert steps.loc["mip", "status"] == "optimal"
    assert "skipped" not in plan.info.message


def test_mip_stage_needs_a_multiple_of_the_slowest_transport_lp():
    assert lagrangian.mip_seconds_needed([]) == lagrangian.MIP_MIN_SECONDS
    assert lagrangian.mip_seconds_needed([0.5, 3.0, 1.0]) == pytest.approx(3.0 * lagrangian.MIP_LP_FACTOR)


def test_transport_lp_does_not_start_on_an_expired_clock():
    net = _binding(1, n=20, m=5)
    model = co.DistributorSelection(capacitated=True)
    oi, dj = model._allowed(net)
    dists = net.distributors
    arrays = (oi, dj, net.costs()[oi, dj], net.outlets["demand"].to_numpy(float),
              dists["capacity"].to_numpy(float), dists["fixed_cost"].to_numpy(float))
    every = np.ones(5, dtype=bool)
    times: list[float] = []
    # with time left, every distributor open serves everyone, and the LP's time is recorded
    plan = lagrangian.transport(arrays, every, co.Solver("highs", time_limit=600).start_clock(), times)
    assert plan is not None and len(times) == 1
    spent = co.Solver("highs", time_limit=600).start_clock()
    spent.deadline.end = spent.deadline.start  # the clock has run out (no sleep: set its end)
    assert lagrangian.transport(arrays, every, spent, times) is None
    assert len(times) == 1  # no LP was started
    assert lagrangian.round_plan(arrays, np.zeros(5, bool), np.zeros(5, bool), np.ones(5), spent) is None


def test_lagrangian_without_time_for_an_lp_returns_the_greedy_plan_not_no_solution():
    # china capacitated min_cost ("auto" -> lagrangian) at time_limit 0.4-2 s (the planner's selection
    # share at 1-5 s): the rounding's transportation LP never finished and the model raised
    # NoSolutionError. The greedy plan needs no LP.
    net = _binding(3)
    exact = co.DistributorSelection(capacitated=True, strategy="mip").solve(net, solver=HIGHS)
    spent = co.Solver("highs", time_limit=100).start_clock().share(0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", co.NotOptimalWarning)
        plan = co.DistributorSelection(capacitated=True, strategy="lagrangian").solve(net, solver=spent)
    assert plan.status == "feasible"
    _check_plan(net, plan)
    # every outlet served by a link it may use, and the objective is what the plan costs
    costs = net.costs()
    links = plan.links
    oi = net.outlets.set_index("outlet_id").index.get_indexer(links["outlet_id"])
    dj = net.distributors.set_index("distributor_id").index.get_indexer(links["distributor_id"])
    d = plan.distributors
    fixed = net.distributors["fixed_cost"].to_numpy()[d["open"].to_numpy(dtype=bool)].sum()
    assert plan.objective == pytest.approx((costs[oi, dj] * links["share"].to_numpy()).sum() + fixed, rel=1e-9)
    assert exact.objective * (1 - 1e-9) <= plan.objective
    assert plan.info.bound <= exact.objective * (1 + 1e-9)


def test_greedy_plan_serves_every_outlet_within_capacity_on_allowed_links():
    for seed in range(5):
        net = _binding(seed, ratio=1.3)
        allowed = np.isfinite(net.costs()) & (net.distances() < 60)
        oi, dj = np.nonzero(allowed)
        demand = net.outlets["demand"].to_numpy(float)
        cap = net.distributors["capacity"].to_numpy(float)
        fixed = net.distributors["fixed_cost"].to_numpy(float)
        m = len(cap)
        plan = lagrangian.greedy_plan((oi, dj, net.costs()[oi, dj], demand, cap, fixed), np.zeros(m, bool),
                                      np.zeros(m, bool), np.linspace(1, 0, m))
        assert plan is not None
        assert allowed[plan["oi"], plan["dj"]].all()
        assert np.bincount(plan["oi"], weights=plan["share"], minlength=len(demand)) == pytest.approx(1.0)
        load = np.bincount(plan["dj"], weights=plan["share"] * demand[plan["oi"]], minlength=m)
        assert (load <= cap * (1 + 1e-12)).all()
        assert plan["open"][plan["dj"]].all()
        assert plan["objective"] == pytest.approx(
            (net.costs()[plan["oi"], plan["dj"]] * plan["share"]).sum() + fixed[plan["open"]].sum(), rel=1e-12)


def test_ctrl_c_during_the_lagrangian_bound_returns_the_greedy_plan(monkeypatch):
    # The first bound pass runs for up to 30 s without a limit and before any plan existed: Ctrl-C
    # there raised KeyboardInterrupt and a planner (or the CLI) had nothing to write.
    from channelopt import solver as solver_mod

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(lagrangian.heur, "lagrangian_bound", ctrl_c)
    net = _binding(4)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", co.NotOptimalWarning)
            plan = co.DistributorSelection(capacitated=True, strategy="lagrangian").solve(net, solver=HIGHS)
        assert plan.status == "feasible" and plan.info.termination == "interrupted"
        assert np.isnan(plan.info.bound)
        _check_plan(net, plan)
    finally:
        solver_mod._CTRL_C.clear()


def test_ctrl_c_during_the_second_bound_pass_returns_the_best_plan_with_the_first_bound(monkeypatch):
    from channelopt import solver as solver_mod

    real = lagrangian.heur.lagrangian_bound
    calls = []

    def second_pass_interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(lagrangian.heur, "lagrangian_bound", second_pass_interrupted)
    net = _binding(5)
    exact = co.DistributorSelection(capacitated=True, strategy="mip").solve(net, solver=HIGHS)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", co.NotOptimalWarning)
            plan = co.DistributorSelection(capacitated=True, strategy="lagrangian").solve(net, solver=HIGHS)
        assert len(calls) == 2
        assert plan.status == "feasible" and plan.info.termination == "interrupted"
        assert plan.info.bound <= exact.objective * (1 + 1e-9) <= plan.objective * (1 + 2e-9)
        _check_plan(net, plan)
    finally:
        solver_mod._CTRL_C.clear()
