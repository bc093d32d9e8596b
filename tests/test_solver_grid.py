"""The objective grid (``ArrayProblem.objective_step``): HiGHS's dual bound read rounded onto it, and proofs by it.

The model is the cut-edge partition MILP in the form the territory models use (labels ``x``, per-label
variation ``z >= x_u - x_v``, cut indicators ``y = sum z`` carrying whole-number border weights), on a grid
graph with equal label sizes: its optimum is a whole number, which HiGHS's presolve does not see (``y`` is
continuous). HiGHS stops at a node limit, which makes the runs deterministic.
"""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest

from channelopt import Solver
from channelopt._arrays import ArrayProblem


def _partition(seed: int, step: float, rows: int = 5, cols: int = 6, k: int = 2) -> ArrayProblem:
    rng = np.random.default_rng(seed)
    g = nx.grid_2d_graph(rows, cols)
    idx = {v: i for i, v in enumerate(g)}
    n = len(idx)
    edges = [(idx[a], idx[b]) for a, b in g.edges()]
    w = rng.integers(1, 4, len(edges)).astype(float)
    ap = ArrayProblem("partition", "min")
    x = ap.add_vars("x", (n, k), upper=1, integer=True)
    z = ap.add_vars("z", (len(edges), k), upper=1)
    y = ap.add_vars("y", len(edges), upper=1, cost=w)
    for v in range(n):
        ap.add_row(f"one_{v}", [x[v, j] for j in range(k)], np.ones(k), "==", 1)
    for i, (u, v) in enumerate(edges):
        for j in range(k):
            ap.add_row(f"z_{i}_{j}", [z[i, j], x[u, j], x[v, j]], [1, -1, 1], ">=", 0)
        ap.add_row(f"y_{i}", [y.index[i]] + [z[i, j] for j in range(k)], [1] + [-1] * k, "==", 0)
    for j in range(k):
        ap.add_row(f"size_{j}", [x[v, j] for v in range(n)], np.ones(n), "==", n // k)
    ap.add_row("first", [x[0, 0]], [1], "==", 1)
    ap.objective_step = step
    return ap


def _stopped(seed: int, step: float, nodes: int):
    return Solver("highs", options={"mip_max_nodes": nodes}).solve(_partition(seed, step))


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_bound_is_rounded_up_and_stays_valid(seed):
    optimum = Solver("highs").solve(_partition(seed, 0.0))
    assert optimum.status == "optimal"
    for nodes in (1, 2):
        raw, got = _stopped(seed, 0.0, nodes), _stopped(seed, 1.0, nodes)
        assert got.objective == pytest.approx(raw.objective)  # the same run: HiGHS is deterministic
        # the optimum is a whole number at least the raw bound, so at least the raw bound rounded up
        assert got.bound == pytest.approx(min(math.ceil(raw.bound - 1e-6), raw.objective))
        assert got.bound <= optimum.objective + 1e-9
        assert got.gap == pytest.approx((got.objective - got.bound) / got.objective)


def test_rounded_bound_proves_the_plan():
    # seed 3 at two nodes: HiGHS stops with the optimum in hand and a fractional bound under it
    optimum = Solver("highs").solve(_partition(3, 0.0)).objective
    raw, got = _stopped(3, 0.0, 2), _stopped(3, 1.0, 2)
    assert raw.status == "feasible" and raw.objective == pytest.approx(optimum)
    assert optimum - 1 < raw.bound < optimum - 1e-3
    assert (got.status, got.termination, got.gap) == ("optimal", "optimal", 0.0)
    assert got.bound == pytest.approx(optimum)
    assert "rounded onto the model's objective step" in got.message


def test_node_limit_with_the_bound_at_the_plan_is_optimal():
    # seed 2 at three nodes: HiGHS reports its node limit although its own bound meets its plan
    raw = _stopped(2, 0.0, 3)
    assert raw.bound == pytest.approx(raw.objective)
    assert (raw.status, raw.termination, raw.message) == ("optimal", "optimal", "proven: the bound meets the plan")


def test_no_promise_no_rounding():
    raw = _stopped(3, 0.0, 1)
    assert raw.status == "feasible" and raw.bound != pytest.approx(round(raw.bound))


def test_array_cache_follows_the_step():
    ap = _partition(1, 0.0)
    assert ap.arrays().objective_step == 0.0
    ap.objective_step = 2.0  # set after the arrays were made: the solver must still see it
    assert ap.arrays().objective_step == 2.0
