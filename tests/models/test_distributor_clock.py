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
    oi, dj = np.nonzero(model._allowed(net))
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
