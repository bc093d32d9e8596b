"""Subset-row cuts on the set-partitioning master (master_cuts) against brute force on tiny maps.

Every test enumerates, by itself, the connected balanced region sets (all columns) and the contiguous balanced
k-partitions of a small grid.
"""

from __future__ import annotations

import itertools
import math

import networkx as nx
import numpy as np
import pytest

import channelopt as co
from channelopt.models.territories import columns, master_cuts
from channelopt.models.territories.data import prepare

# a 3 x 4 grid, k = 3, loads within +-20% of a third: its set-partitioning LP over every connected balanced set is
# 6.5 and its best plan cuts 7 edges (both by the enumeration below)
POPS = [5, 1, 1, 2, 1, 5, 5, 3, 1, 1, 2, 3]
ROWS, COLS, K = 3, 4, 3


def _grid():
    g = nx.convert_node_labels_to_integers(nx.grid_2d_graph(ROWS, COLS))
    for v in g.nodes:
        g.nodes[v]["pop"] = float(POPS[v])
    tot = float(sum(POPS))
    return g, tot / K * 0.8, tot / K * 1.2


def _sets(g, lo, hi):
    """Connected sets with load in [lo, hi] (bool rows) and c(S) = |delta(S)| / 2."""
    n = g.number_of_nodes()
    pop = np.array([g.nodes[v]["pop"] for v in range(n)])
    out = []
    for r in range(1, n + 1):
        for sub in itertools.combinations(range(n), r):
            if lo - 1e-9 <= pop[list(sub)].sum() <= hi + 1e-9 and nx.is_connected(g.subgraph(sub)):
                m = np.zeros(n, dtype=bool)
                m[list(sub)] = True
                out.append(m)
    cols = np.array(out)
    cost = np.array([sum(1 for u, v in g.edges if m[u] != m[v]) / 2 for m in cols])
    return cols, cost


def _plans(cols, k):
    """Every partition of the regions into k of the sets (index tuples), by exact cover on the first region."""
    n = cols.shape[1]
    by_first = {}
    for i, m in enumerate(cols):
        by_first.setdefault(int(np.flatnonzero(m)[0]), []).append(i)
    out = []

    def cover(left, parts):
        if not left.any():
            if len(parts) == k:
                out.append(tuple(parts))
            return
        if len(parts) >= k:
            return
        for i in by_first.get(int(np.flatnonzero(left)[0]), []):
            if not (cols[i] & ~left).any():
                cover(left & ~cols[i], [*parts, i])

    cover(np.ones(n, dtype=bool), [])
    return out


@pytest.fixture(scope="module")
def grid():
    g, lo, hi = _grid()
    cols, cost = _sets(g, lo, hi)
    plans = _plans(cols, K)
    return g, lo, hi, cols, cost, plans


def test_every_plan_keeps_every_row_and_some_fill_them(grid):
    g, lo, hi, cols, cost, plans = grid
    n = cols.shape[1]
    cuts = list(itertools.combinations(range(n), 3)) + list(itertools.combinations(range(n), 5))[::7]
    rhs = master_cuts.rhs(cuts)
    tight = np.zeros(len(cuts), dtype=bool)
    for plan in plans:
        act = master_cuts.coefficients(cols[list(plan)], cuts).sum(axis=1)
        assert np.all(act <= rhs + 1e-9)
        tight |= act >= rhs - 1e-9
    assert tight.all()  # each row is met with equality by some plan: the coefficients are not too small either


def test_cuts_lift_the_master_to_the_optimum_here(grid):
    g, lo, hi, cols, cost, plans = grid
    opt = min(cost[list(p)].sum() for p in plans)
    assert opt == 7.0
    lp = master_cuts.master_lp(cost, cols, K, (), big=100.0)[0]
    assert lp == pytest.approx(6.5)
    cuts = []
    for _ in range(20):
        value, pi, mu, sigma, lam, art = master_cuts.master_lp(cost, cols, K, cuts, big=100.0)
        assert art < 1e-9 and np.all(sigma <= 1e-9)
        # the duals price every column at >= 0 (the LP is optimal over all of them)
        rc = cost - cols @ pi - mu - master_cuts.coefficients(cols, cuts).T @ sigma
        assert rc.min() > -1e-7
        new = master_cuts.separate(cols, lam, limit=5, have=cuts)
        for t, act in new:
            assert act == pytest.approx(float(master_cuts.coefficients(cols, [t])[0] @ lam)) and act > 1.0
        if not new:
            break
        cuts += [t for t, _ in new]
    assert cuts and value <= opt + 1e-9
    assert value > lp + 0.25  # 6.5 -> 7 here (checked by the test's own enumeration: the optimum is 7)
    # and the Lagrangian form: sum pi + sigma . rhs + k * least reduced cost (mu) is the LP value
    assert float(pi.sum()) + master_cuts.lagrangian_constant(sigma, cuts) + K * mu == pytest.approx(value, abs=1e-6)


def test_separate_on_three_halves():
    cols = np.array([[1, 1, 0, 0], [0, 1, 1, 0], [1, 0, 1, 0], [0, 0, 0, 1]], dtype=bool)
    lam = np.array([0.5, 0.5, 0.5, 1.0])
    assert master_cuts.separate(cols, lam) == [((0, 1, 2), pytest.approx(1.5))]
    assert master_cuts.separate(cols, lam, have=[(0, 1, 2)]) == []
    assert master_cuts.separate(cols, np.array([0.5, 0.5, 0.0, 1.0])) == []


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pricing_with_cut_variables_finds_the_least_reduced_cost(grid, seed):
    g, lo, hi, cols, cost, plans = grid
    n = cols.shape[1]
    net = co.ChannelNetwork.from_graph(g, ["pop"])
    d = prepare(co.TerritoryDesign(k=K, objective="cut_edges", balance={"pop": (lo, hi)}), net)
    rng = np.random.default_rng(seed)
    pi = rng.uniform(0.0, 1.5, n)
    cuts = [tuple(sorted(rng.choice(n, 3, replace=False).tolist())) for _ in range(4)]
    # 5-region rows on compact blocks (a territory may hold 2-4 of them) and one spread out
    cuts += [(0, 1, 4, 5, 8), (2, 3, 6, 7, 11), tuple(sorted(rng.choice(n, 5, replace=False).tolist()))]
    sigma = -rng.uniform(0.2, 2.0, len(cuts))
    pricing = columns._Pricing(d)
    ycols = [master_cuts.add_to_pricing(pricing.h, t, pricing.inf) for t in cuts]
    master_cuts.price_cuts(pricing.h, ycols, sigma)
    found, bound = pricing.solve(pi, co.Solver("highs"), 30.0)
    want = cost - cols @ pi - master_cuts.coefficients(cols, cuts).T @ sigma
    assert bound == pytest.approx(want.min(), abs=1e-6)
    assert found and master_cuts.reduced_cost(columns.territory_cost(d, found[0]), found[0], pi, 0.0, cuts,
                                              sigma) == pytest.approx(want.min(), abs=1e-6)
    assert math.isfinite(bound)
