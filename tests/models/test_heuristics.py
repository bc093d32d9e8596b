"""The distributor heuristics on link arrays (issue 13: no n x m array), against brute force."""

from __future__ import annotations

import itertools
import tracemalloc

import numpy as np
import pytest

from channelopt.models import _heuristics as heur


def instance(n, m, k, seed):
    """k nearest of m sites per outlet, Euclidean cost; links sorted any way."""
    rng = np.random.default_rng(seed)
    a, b = rng.random((n, 2)), rng.random((m, 2))
    d = np.sqrt(((a[:, None] - b[None]) ** 2).sum(-1))
    near = np.argsort(d, axis=1)[:, :k]
    oi = np.repeat(np.arange(n), k)
    dj = near.reshape(-1)
    perm = rng.permutation(len(oi))
    return oi[perm], dj[perm], d[oi, dj][perm]


def total(oi, dj, cost, n, is_open, pen):
    best = np.full(n, pen)
    on = is_open[dj]
    np.minimum.at(best, oi[on], cost[on])
    return best.sum()


@pytest.mark.parametrize("seed", range(4))
def test_greedy_median_links_ends_where_no_single_swap_helps(seed):
    n, m, p = 40, 9, 3
    oi, dj, cost = instance(n, m, 4, seed)
    is_open = heur.greedy_median_links(oi, dj, cost, n, m, p=p, seconds=30)
    assert is_open.sum() == p
    pen = heur._penalty(cost)
    now = total(oi, dj, cost, n, is_open, pen)
    # brute force over every swap (one open out, one closed in), written here
    for out, into in itertools.product(np.flatnonzero(is_open), np.flatnonzero(~is_open)):
        trial = is_open.copy()
        trial[out], trial[into] = False, True
        assert total(oi, dj, cost, n, trial, pen) >= now - 1e-9
    # and it is the optimum of this small instance as often as not: at least within 20% of it
    best = min(total(oi, dj, cost, n, np.isin(np.arange(m), c), pen) for c in itertools.combinations(range(m), p))
    assert now <= 1.2 * best


def test_greedy_median_links_keeps_forced_and_closed():
    n, m = 30, 8
    oi, dj, cost = instance(n, m, 8, 1)
    forced = np.zeros(m, dtype=bool)
    closed = np.zeros(m, dtype=bool)
    forced[2], closed[5] = True, True
    is_open = heur.greedy_median_links(oi, dj, cost, n, m, p=3, forced=forced, closed=closed)
    assert is_open[2] and not is_open[5] and is_open.sum() == 3


@pytest.mark.parametrize("single", [False, True])
def test_assign_greedy_links_respects_capacity_and_serves_everyone(single):
    n, m = 50, 6
    oi, dj, cost = instance(n, m, 6, 2)
    demand = np.random.default_rng(3).integers(1, 5, n).astype(float)
    capacity = np.full(m, demand.sum() / 3.6)  # 4 open: 11% room to spare, nearest-only overflows
    is_open = np.array([True, True, True, True, False, False])
    share = heur.assign_greedy_links(oi, dj, cost, n, demand, capacity, is_open, single_source=single)
    assert share is not None and share.shape == oi.shape
    assert np.bincount(oi, weights=share, minlength=n) == pytest.approx(np.ones(n))
    assert (share[~is_open[dj]] == 0).all()
    load = np.bincount(dj, weights=share * demand[oi], minlength=m)
    assert (load <= capacity + 1e-9).all()
    if single:
        assert set(np.unique(share)) <= {0.0, 1.0}


def test_assign_greedy_links_says_none_when_capacity_is_short():
    n, m = 20, 3
    oi, dj, cost = instance(n, m, 3, 4)
    demand = np.ones(n)
    share = heur.assign_greedy_links(oi, dj, cost, n, demand, np.full(m, 5.0), np.ones(m, dtype=bool),
                                     single_source=False)
    assert share is None  # 15 units of room for 20


def test_greedy_cover_links_full_covers_every_coverable_outlet():
    n, m = 60, 10
    oi, dj, _ = instance(n, m, 2, 5)
    is_open = heur.greedy_cover_links(oi, dj, n, m, np.ones(n), full=True)
    covered = np.zeros(n, dtype=bool)
    covered[oi[is_open[dj]]] = True
    assert covered.all()


def test_greedy_capacitated_links_opens_enough_capacity():
    n, m = 80, 12
    oi, dj, cost = instance(n, m, 5, 6)
    demand = np.ones(n)
    capacity = np.full(m, 20.0)
    is_open = heur.greedy_capacitated_links(oi, dj, cost, n, m, demand, capacity, np.full(m, 10.0))
    assert capacity[is_open].sum() >= 1.05 * demand.sum()


def test_heuristics_on_links_allocate_no_n_by_m_array():
    # 20,000 x 1,000 with 10 links per outlet: a dense float matrix alone would take 160 MB
    n, m, k = 20_000, 1_000, 10
    rng = np.random.default_rng(0)
    oi = np.repeat(np.arange(n), k)
    dj = rng.integers(0, m, n * k)
    cost = rng.random(n * k)
    demand = np.ones(n)
    tracemalloc.start()
    is_open = heur.greedy_median_links(oi, dj, cost, n, m, p=50, seconds=1.0)
    heur.assign_greedy_links(oi, dj, cost, n, demand, np.full(m, np.inf), is_open, single_source=True)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 40 * 2**20, f"peak {peak / 2**20:.0f} MB"
