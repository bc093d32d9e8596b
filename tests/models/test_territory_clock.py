"""TerritoryDesign draws on the one clock (issue 10 item 4): structure, not wall time.

A started solver whose clock has run out (its end set to its start: no sleeping, no
duration asserted) must not enter the bound stage, and the plan must say so, with a
bound that is still valid (counting), never a made-up one.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import channelopt as co
from channelopt.models.territories import TerritoryDesign


def _spent_solver() -> co.Solver:
    solver = co.Solver("highs", time_limit=600).start_clock()
    solver.deadline.end = solver.deadline.start  # the whole solve's time is gone
    return solver


def _counting_bound(net, k: int) -> float:
    """Compactness with free centres: all but k regions pay weight x distance to their nearest other region."""
    dist = np.array(net.region_distances(), dtype=float)
    np.fill_diagonal(dist, np.inf)
    w = net.regions["pop"].to_numpy(dtype=float) if "pop" in net.regions else None
    pay = np.sort(w * dist.min(axis=1))
    return float(pay[: len(pay) - k].sum())


def _solve(net, solver, k=3):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", co.NotOptimalWarning)
        model = TerritoryDesign(k=k, objective="compactness", weight="pop", balance={"pop": 0.5},
                                method="heuristic", heuristic_seconds=0.3)
        return model.build(net).solve(solver)


def test_bound_stage_is_skipped_when_the_clock_has_run_out(planar_map):
    net = co.ChannelNetwork.from_graph(planar_map(25, 4), ["pop"])
    plan = _solve(net, _spent_solver())
    assert "bound stage skipped" in plan.info.message
    assert plan.info.bound == pytest.approx(_counting_bound(net, 3), rel=1e-9)
    assert plan.info.bound <= plan.objective
    assert plan.info.gap == pytest.approx((plan.objective - plan.info.bound) / plan.objective, rel=1e-9)


def test_bound_stage_runs_when_time_is_left(planar_map):
    net = co.ChannelNetwork.from_graph(planar_map(25, 4), ["pop"])
    plan = _solve(net, co.Solver("highs", time_limit=600))
    assert "skipped" not in plan.info.message
    # the LP bound it had time for is at least the counting one (both valid for every plan)
    assert plan.info.bound >= _counting_bound(net, 3) - 1e-9
    assert math.isfinite(plan.info.gap)
