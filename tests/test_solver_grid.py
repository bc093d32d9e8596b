"""The objective grid (``ArrayProblem.objective_step``): HiGHS's dual bound read rounded onto it, and proofs by it.

The model is the cut-edge partition MILP in the form the territory models use (labels ``x``, per-label
variation ``z >= x_u - x_v``, cut indicators ``y = sum z`` carrying whole-number border weights), on a grid
graph with equal label sizes: its optimum is a whole number, which HiGHS's presolve does not see (``y`` is
continuous). HiGHS stops at a node limit, which makes the runs deterministic (one run each, see :func:`_stopped`).

A second form (:func:`_planted`) balances two labels by large random loads to the unit, with one balanced split
planted: it has one plan (checked by enumeration), which HiGHS's root heuristics do not find, so a node-limited run
stops with a bound and no plan; without the plant it has none.
"""

from __future__ import annotations

import itertools
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


def _planted(seed: int, step: float, scale: float = 1.0, plant: bool = True) -> tuple[ArrayProblem, float]:
    """The partition MILP of a 3 x 5 grid into two labels of equal load (loads 1,000-99,999), border weights 1-3
    times ``scale``, and the fewest weighted cut edges by enumeration (inf: no balanced split). ``plant``: a random
    labelling's lighter side gets the difference on one region, so that split balances."""
    rng = np.random.default_rng(seed)
    g = nx.grid_2d_graph(3, 5)
    idx = {v: i for i, v in enumerate(g)}
    n, k = len(idx), 2
    edges = np.array([(idx[a], idx[b]) for a, b in g.edges()])
    w = rng.integers(1, 4, len(edges)).astype(float) * scale
    load = rng.integers(1000, 100_000, n)
    side = rng.integers(0, 2, n)
    if plant:
        light = int(load[side == 0].sum() > load[side == 1].sum())
        load[np.flatnonzero(side == light)[-1]] += abs(int(load[side == 1].sum() - load[side == 0].sum()))
    elif load.sum() % 2:
        load[0] += 1
    half = float(load.sum() // 2)
    ap = ArrayProblem("planted", "min")
    x = ap.add_vars("x", (n, k), upper=1, integer=True)
    z = ap.add_vars("z", (len(edges), k), upper=1)
    y = ap.add_vars("y", len(edges), upper=1, cost=w)
    for v in range(n):
        ap.add_row(f"one_{v}", [x[v, j] for j in range(k)], np.ones(k), "==", 1)
    for i, (u, v) in enumerate(edges.tolist()):
        for j in range(k):
            ap.add_row(f"z_{i}_{j}", [z[i, j], x[u, j], x[v, j]], [1, -1, 1], ">=", 0)
        ap.add_row(f"y_{i}", [y.index[i]] + [z[i, j] for j in range(k)], [1] + [-1] * k, "==", 0)
    for j in range(k):
        ap.add_row(f"size_{j}", [x[v, j] for v in range(n)], load.astype(float), "==", half)
    ap.add_row("first", [x[0, 0]], [1], "==", 1)
    ap.objective_step = step
    labels = np.array([(0, *rest) for rest in itertools.product((0, 1), repeat=n - 1)])
    balanced = labels[labels @ load == half]
    cut = (balanced[:, edges[:, 0]] != balanced[:, edges[:, 1]]) @ w
    return ap, float(cut.min()) if len(cut) else math.inf


def _stopped(seed: int, step: float, nodes: int):
    # a HiGHS time limit of the caller's keeps the run out of the 0.1 s inline slice (solver.INLINE_SLICE): these
    # runs take 0.1-0.5 s, and a sliced run goes on with a second run() on the same object, which counts its nodes
    # anew (measured: 13 of 15 seed/node pairs were sliced), so the run would be neither node-limited nor the same
    # from one solve to the next
    return Solver("highs", options={"mip_max_nodes": nodes, "time_limit": 60.0}).solve(_partition(seed, step))


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


@pytest.mark.parametrize("scale", [1.0, 2.0**15], ids=["unit", "scaled"])
@pytest.mark.parametrize("seed", [1, 2, 7])
def test_a_run_stopped_before_its_first_plan_reports_no_gap_and_its_bound_on_the_grid(seed, scale):
    # HiGHS stops at its node limit before any plan: no objective, no gap, status no_solution; the bound is
    # HiGHS's rounded up onto the grid (the optimum is on it; no plan caps it) and stays under the optimum found by
    # enumeration. scaled: border weights of 2**15 make HiGHS see the objective scaled (solver._objective_scale)
    ap, best = _planted(seed, 0.0, scale)
    assert math.isfinite(best)
    for nodes in (1, 2):
        # a HiGHS time limit of the caller's keeps the run out of the inline slice: the same run each time
        options = {"mip_max_nodes": nodes, "time_limit": 60.0}
        raw = Solver("highs", threads=1, options=options).solve(ap)
        ap.objective_step = scale
        got = Solver("highs", threads=1, options=options).solve(ap)
        ap.objective_step = 0.0
        for info in (raw, got):
            assert (info.status, info.values) == ("no_solution", None), info.status
            assert math.isnan(info.objective) and math.isnan(info.gap)
        assert raw.bound != pytest.approx(round(raw.bound / scale) * scale)  # the case the rounding is for
        assert got.bound == pytest.approx(math.ceil(raw.bound / scale) * scale)
        assert raw.bound < got.bound <= best


def test_an_infeasible_model_reports_no_plan_no_gap_and_no_bound():
    # no balanced split exists (enumeration): HiGHS's verdict stands with no objective, gap or bound to round
    ap, best = _planted(1, 1.0, plant=False)
    assert best == math.inf
    info = Solver("highs", threads=1, time_limit=60).solve(ap)
    assert (info.status, info.values) == ("infeasible", None)
    assert math.isnan(info.objective) and math.isnan(info.gap) and not math.isfinite(info.bound)


def test_no_promise_no_rounding():
    raw = _stopped(3, 0.0, 1)
    assert raw.status == "feasible" and raw.bound != pytest.approx(round(raw.bound))


def test_array_cache_follows_the_step():
    ap = _partition(1, 0.0)
    assert ap.arrays().objective_step == 0.0
    ap.objective_step = 2.0  # set after the arrays were made: the solver must still see it
    assert ap.arrays().objective_step == 2.0
