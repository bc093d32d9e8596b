"""The exact territory search under the warm start as HiGHS's cutoff (``channelopt.solver.START_CUTOFF_STEPS``).

The labelling MILP declares whole-number borders (``objective_step`` 1); the search's warm start keeps every
rule, so the solve path hands HiGHS the start's cut less 0.99 of an edge as cutoff. When the start is optimal
HiGHS finds nothing below it: the plan must be the start, proven, not "the solver said infeasible".
"""

from __future__ import annotations

import warnings

import networkx as nx
import pytest

import channelopt as co
from channelopt.models.territories import TerritoryDesign


@pytest.mark.parametrize("with_start", [True, False], ids=["with-start", "cutoff-alone"])
@pytest.mark.parametrize("seed", [0, 3])
def test_an_optimal_warm_start_comes_back_proven(delaunay_pop_map, brute_force, monkeypatch, seed, with_start):
    # the module Solver runs in (a doctest run of channelopt/solver.py can leave another object as channelopt.solver)
    monkeypatch.setitem(co.Solver.solve.__globals__, "CUTOFF_WITH_START", with_start)
    g = delaunay_pop_map(9, seed, xy=False)
    total = sum(nx.get_node_attributes(g, "pop").values())
    lo, hi = 0.7 * total / 4, 1.3 * total / 4
    best = brute_force(g, 4, lo, hi)
    net = co.ChannelNetwork.from_graph(g, ["pop"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a plan not proven optimal warns
        plan = TerritoryDesign(k=4, objective="cut_edges", balance={"pop": (lo, hi)}).solve(
            net, solver=co.Solver("highs", time_limit=30))
    assert (plan.status, plan.info.termination) == ("optimal", "optimal")
    assert plan.objective == plan.bound == best and plan.gap == 0.0
    assert "no better plan exists, the start is optimal" in plan.info.message
    assert "solver said" not in plan.info.termination
    assert [c["call"] for c in plan.info.calls] == ["start completion", "solve"]
    assert plan.metrics["contiguity_verified"]
