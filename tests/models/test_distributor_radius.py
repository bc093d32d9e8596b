"""The radius strategy (uncapacitated p-median / UFLP): sorted cost levels, Lagrangian fixing, level growth.

Checked against brute force and against the classic MIP (strategy="mip") on instances
with many tied costs, which is where levels merge.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import channelopt as co
from channelopt.models.distributors import radius
from channelopt.models.distributors.radius import Levels, median_lagrangian

HIGHS = co.Solver("highs")


def _tied(seed, n=30, m=10):
    rng = np.random.default_rng(seed)
    cost = rng.integers(1, 12, (n, m)).astype(float)  # few distinct values: many ties
    return co.ChannelNetwork.from_cost_matrix(cost, distances=cost, fixed_cost=rng.integers(5, 40, m).astype(float))


def _brute_p_median(cost, p):
    return min(cost[:, list(s)].min(axis=1).sum() for s in itertools.combinations(range(cost.shape[1]), p))


@pytest.mark.parametrize(("seed", "p"), [(0, 1), (1, 2), (2, 3), (3, 5)])
def test_radius_p_median_matches_brute_force(seed, p):
    net = _tied(seed)
    best = _brute_p_median(net.costs(), p)
    plan = co.DistributorSelection(objective="p_median", p=p, strategy="radius").solve(net, solver=HIGHS)
    assert plan.status == "optimal"
    assert plan.objective == pytest.approx(best)
    assert plan.info.bound == pytest.approx(best)
    assert int(plan.distributors["open"].sum()) == p
    # every outlet goes to its cheapest open distributor
    open_ = plan.distributors["open"].to_numpy()
    assert plan.assignments["cost"].to_numpy() == pytest.approx(net.costs()[:, open_].min(axis=1))


@pytest.mark.parametrize("seed", range(3))
def test_radius_uflp_matches_brute_force(seed):
    net = _tied(seed, n=20, m=8)
    cost, fixed = net.costs(), net.distributors["fixed_cost"].to_numpy()
    best = min(fixed[list(s)].sum() + cost[:, list(s)].min(axis=1).sum()
               for r in range(1, 9) for s in itertools.combinations(range(8), r))
    plan = co.DistributorSelection(objective="min_cost", strategy="radius").solve(net, solver=HIGHS)
    assert plan.status == "optimal"
    assert plan.objective == pytest.approx(best)


@pytest.mark.parametrize(("seed", "p"), [(4, 4), (5, 6), (6, 8)])
def test_radius_with_truncated_levels_matches_the_classic_mip(seed, p, monkeypatch):
    # grow levels on demand even on a small instance (the path large instances take); a
    # max_new row (not binding: nothing exists yet) sends the model to the radius MIP
    # instead of the Lagrangian branch and bound, which cannot see such rows
    monkeypatch.setattr(radius, "FULL_LEVELS_LINKS", 0)
    monkeypatch.setattr(radius, "LAGRANGIAN_SECONDS", 0.0)  # a weak bound: the MIP must do the proving
    rng = np.random.default_rng(seed)
    xy_o, xy_d = rng.uniform(0, 100, (80, 2)), rng.uniform(0, 100, (25, 2))
    dist = np.floor(np.sqrt(((xy_o[:, None] - xy_d[None]) ** 2).sum(-1)))
    net = co.ChannelNetwork.from_cost_matrix(dist, distances=dist, fixed_cost=np.zeros(25))
    classic = co.DistributorSelection(objective="p_median", p=p, strategy="mip").solve(net, solver=HIGHS)
    plan = co.DistributorSelection(objective="p_median", p=p, strategy="radius", max_new=p,
                                   heuristic_seconds=0.0).solve(net, solver=HIGHS)
    assert classic.status == plan.status == "optimal"
    assert plan.objective == pytest.approx(classic.objective)
    assert "mip" in set(plan.solve_steps["step"])  # the path under test did run


def test_auto_chooses_radius_for_uncapacitated_p_median_only():
    net = _tied(0)
    assert co.DistributorSelection(objective="p_median", p=2).build(net).strategy == "radius"
    assert co.DistributorSelection(objective="p_median", p=2, max_per_region=1).build(net).strategy == "mip"
    assert co.DistributorSelection(objective="min_cost").build(net).strategy == "mip"


def test_levels_merge_ties_per_outlet():
    oi = np.array([0, 0, 0, 1, 1])
    dj = np.array([0, 1, 2, 0, 2])
    cost = np.array([3.0, 1.0, 3.0, 2.0, 2.0])
    lv = Levels(oi, dj, cost, 2)
    assert lv.n_levels.tolist() == [2, 1]
    assert lv.value.tolist() == [1.0, 3.0, 2.0]
    assert lv.level_of(np.array([0, 0, 1]), np.array([1.0, 3.0, 2.0])).tolist() == [0, 1, 0]


@pytest.mark.parametrize(("seed", "p"), [(7, 2), (8, 3)])
def test_median_lagrangian_is_a_lower_bound(seed, p):
    net = _tied(seed, n=25, m=9)
    cost = net.costs()
    oi, dj = np.nonzero(np.ones_like(cost, dtype=bool))
    lag = median_lagrangian(Levels(oi, dj, cost[oi, dj], 25), 9, p=p, fixed=np.zeros(9),
                            forced=np.zeros(9, dtype=bool), closed=np.zeros(9, dtype=bool),
                            upper=np.inf, seconds=5.0)
    best = _brute_p_median(cost, p)
    assert lag["bound"] <= best + 1e-9
    assert lag["bound"] >= 0.5 * best  # a bound worth having, not a trivial 0


@pytest.mark.parametrize(("seed", "p"), [(9, 2), (10, 3), (11, 4)])
def test_penalty_fixing_closes_only_distributors_no_better_plan_opens(seed, p):
    net = _tied(seed, n=25, m=9)
    cost = net.costs()
    oi, dj = np.nonzero(np.ones_like(cost, dtype=bool))
    none = np.zeros(9, dtype=bool)
    lag = median_lagrangian(Levels(oi, dj, cost[oi, dj], 25), 9, p=p, fixed=np.zeros(9), forced=none,
                            closed=none, upper=np.inf, seconds=5.0)
    best = _brute_p_median(cost, p)
    upper = best + 1.0  # a plan of this cost is in hand: fixing keeps every plan better than it
    shut, keep = radius._penalty_fixing(lag, p, none, none, upper, integral=True)
    assert shut.any()  # it does close some (not a vacuous check)
    for j in np.flatnonzero(shut):
        with_j = min(cost[:, list(s)].min(axis=1).sum() for s in itertools.combinations(range(9), p) if j in s)
        assert with_j >= upper - 1e-9
    for j in np.flatnonzero(keep):
        without_j = min(cost[:, list(s)].min(axis=1).sum() for s in itertools.combinations(range(9), p)
                        if j not in s)
        assert without_j >= upper - 1e-9


def _dense_swaps(cost, is_open, forced, closed):
    """Best-improvement swaps on a dense matrix (inf: no link, priced 10 max + 1), all pairs priced at once:
    the first-plan search the radius strategy ran below 4M cells before issue 13 made it sparse."""
    c = np.where(np.isfinite(cost), cost, np.nanmax(np.where(np.isfinite(cost), cost, 0.0)) * 10 + 1)
    n, m = c.shape
    is_open = is_open.copy()
    while True:
        opened = np.flatnonzero(is_open)
        sub = c[:, opened]
        two = np.argsort(sub, axis=1, kind="stable")[:, :2]
        who, d1, d2 = two[:, 0], sub[np.arange(n), two[:, 0]], sub[np.arange(n), two[:, 1]]
        low = np.minimum(c, d1[:, None])
        delta = (low - d1[:, None]).sum(axis=0)[None, :] + np.stack(
            [(np.minimum(c, d2[:, None]) - low)[who == r].sum(axis=0) for r in range(len(opened))])
        delta[:, is_open | closed] = np.inf
        delta[forced[opened], :] = np.inf
        r, j = np.unravel_index(int(np.argmin(delta)), delta.shape)
        if not delta[r, j] < -1e-9 * max(1.0, float(d1.sum())):
            return is_open
        is_open[opened[r]] = False
        is_open[j] = True


@pytest.mark.parametrize(("seed", "p", "k"), [(12, 3, None), (13, 5, None), (27, 4, 3), (28, 6, 2)])
def test_sparse_interchange_makes_the_dense_matrix_swaps(seed, p, k):
    """On integer costs (exact sums) the link-based swaps pick the same swap as the dense (n x m) search at
    every step, also where restricted candidates (k nearest) leave outlets without an open link at the start."""
    rng = np.random.default_rng(seed)
    n, m = 60, 14
    cost = rng.integers(1, 200, (n, m)).astype(float)
    if k is not None:  # each outlet keeps its k cheapest links
        far = np.argsort(cost, axis=1, kind="stable")[:, k:]
        np.put_along_axis(cost, far, np.inf, axis=1)
    oi, dj = np.nonzero(np.isfinite(cost))
    lv = Levels(oi, dj, cost[oi, dj], n)
    forced, closed = np.zeros(m, dtype=bool), np.zeros(m, dtype=bool)
    forced[0], closed[1] = True, True
    start = forced.copy()
    start[rng.choice(np.arange(2, m), p - 1, replace=False)] = True
    out = radius.sparse_interchange(lv, start, forced=forced, closed=closed, seconds=30.0)
    ref = _dense_swaps(cost, start, forced, closed)
    assert out.tolist() == ref.tolist()
    assert not (out == start).all()  # swaps were made (not a vacuous check)
    assert out[0] and not out[1] and out.sum() == p


def _all_plans(cost, p):
    """Every p-subset with its cost and each outlet's serving distributor (brute force)."""
    for s in itertools.combinations(range(cost.shape[1]), p):
        cols = list(s)
        sub = cost[:, cols]
        yield s, sub.min(axis=1).sum(), np.asarray(cols)[sub.argmin(axis=1)]


@pytest.mark.parametrize(("seed", "p"), [(14, 2), (15, 3), (16, 4)])
def test_link_penalty_never_drops_a_link_of_a_plan_as_good_as_the_optimum(seed, p):
    rng = np.random.default_rng(seed)
    cost = rng.integers(1, 30, (25, 9)).astype(float)
    oi, dj = np.nonzero(np.ones_like(cost, dtype=bool))
    lv = Levels(oi, dj, cost[oi, dj], 25)
    none = np.zeros(9, dtype=bool)
    lag = median_lagrangian(lv, 9, p=p, fixed=np.zeros(9), forced=none, closed=none, upper=np.inf, seconds=5.0)
    best = _brute_p_median(cost, p)
    upper = best + 1.0  # keep every plan better than a plan of cost best + 1: the optimal ones
    pen = radius.link_penalty(lag, lv, p, none, none)
    dropped = radius._proves(lag["bound"] + pen, upper, True)
    assert dropped.any()  # some links go (not a vacuous check)
    dropped_pairs = set(zip(lv.oi[dropped].tolist(), lv.dj[dropped].tolist()))
    for _, total, serving in _all_plans(cost, p):
        if total < upper:
            assert not dropped_pairs & set(enumerate(serving.tolist()))


@pytest.mark.parametrize(("seed", "p"), [(17, 2), (18, 3), (19, 5)])
def test_branch_and_bound_reaches_the_brute_force_optimum_from_no_plan(seed, p):
    rng = np.random.default_rng(seed)
    cost = rng.integers(1, 40, (30, 11)).astype(float)
    oi, dj = np.nonzero(np.ones_like(cost, dtype=bool))
    lv = Levels(oi, dj, cost[oi, dj], 30)
    none = np.zeros(11, dtype=bool)
    lag = median_lagrangian(lv, 11, p=p, fixed=np.zeros(11), forced=none, closed=none, upper=np.inf,
                            seconds=5.0, iterations=20)  # a weak root: the tree does the work

    def price(mask):
        return cost[:, mask].min(axis=1).sum() if mask.sum() == p else np.inf

    res = radius.branch(lv, 11, p=p, fixed=np.zeros(11), forced=none, closed=none, v=lag["v"],
                        bound=lag["bound"], upper=np.inf, integral=True, seconds=60.0, price=price)
    best = _brute_p_median(cost, p)
    assert res["exhausted"]
    assert res["upper"] == best
    assert price(res["open"]) == best
    assert res["bound"] == best


@pytest.mark.parametrize(("seed", "p"), [(20, 3), (21, 6)])
def test_sparse_interchange_ends_where_no_single_swap_improves(seed, p):
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(0, 100, (120, 2)), rng.uniform(0, 100, (15, 2))
    cost = np.sqrt(((a[:, None] - b[None]) ** 2).sum(-1))
    oi, dj = np.nonzero(np.ones_like(cost, dtype=bool))
    lv = Levels(oi, dj, cost[oi, dj], 120)
    start = np.zeros(15, dtype=bool)
    start[rng.choice(15, p, replace=False)] = True
    none = np.zeros(15, dtype=bool)
    out = radius.sparse_interchange(lv, start, forced=none, closed=none, seconds=10.0)
    assert out.sum() == p

    def total(mask):
        return cost[:, mask].min(axis=1).sum()

    assert total(out) < total(start)
    for r in np.flatnonzero(out):
        for j in np.flatnonzero(~out):
            trial = out.copy()
            trial[r], trial[j] = False, True
            assert total(trial) >= total(out) - 1e-9


@pytest.mark.parametrize(("seed", "p"), [(22, 2), (23, 4)])
def test_large_instance_path_reaches_the_brute_force_optimum(seed, p, monkeypatch):
    # the path of instances too large for the greedy: sparse swaps from an even spread, then the tree
    monkeypatch.setattr(radius, "GREEDY_HEURISTIC_LINKS", 0)
    net = _tied(seed, n=40, m=10)
    best = _brute_p_median(net.costs(), p)
    plan = co.DistributorSelection(objective="p_median", p=p, strategy="radius").solve(net, solver=HIGHS)
    assert plan.status == "optimal"
    assert plan.objective == pytest.approx(best)


@pytest.mark.parametrize(("seed", "p"), [(24, 2), (25, 4)])
def test_lagrangian_bound_is_the_dual_function_at_its_multipliers_over_all_links(seed, p):
    # the subgradient reads only links below each multiplier; the bound it reports must be
    # L(v) recomputed here over every link, and stay under the brute-force optimum with
    # one distributor forced open and one closed
    rng = np.random.default_rng(seed)
    cost = rng.uniform(1, 60, (40, 10)).round(1)
    oi, dj = np.nonzero(np.ones_like(cost, dtype=bool))
    forced, closed = np.zeros(10, dtype=bool), np.zeros(10, dtype=bool)
    forced[3], closed[7] = True, True
    lag = median_lagrangian(Levels(oi, dj, cost[oi, dj], 40), 10, p=p, fixed=np.zeros(10), forced=forced,
                            closed=closed, upper=np.inf, seconds=5.0)
    v = lag["v"]
    rho = np.minimum(cost - v[:, None], 0.0).sum(axis=0)
    free = np.flatnonzero(~forced & ~closed)
    expected = v.sum() + rho[forced].sum() + np.sort(rho[free])[: p - 1].sum()
    assert lag["bound"] == pytest.approx(expected, rel=1e-12)
    best = min(cost[:, [3, *s]].min(axis=1).sum() for s in itertools.combinations([j for j in range(10)
                                                                                     if j not in (3, 7)], p - 1))
    assert lag["bound"] <= best + 1e-9
    assert lag["bound"] >= 0.8 * best


@pytest.mark.parametrize("rows", [{}, {"max_new": 3}])
def test_radius_builds_the_assignment_mip_only_when_asked(rows):
    """The radius path (branch and bound, or the radius MIP with a max_new row) never formulates the classic
    assignment MIP (a column and a row per link); read, ``built.problem`` is that MIP and a user's row holds."""
    net = _tied(26, n=24, m=8)
    cost = net.costs()
    p = 3
    model = co.DistributorSelection(objective="p_median", p=p, **rows)
    built = model.build(net)
    assert built.strategy == "radius"
    assert built._arrays.n_cols == 0 and "x" not in built.state  # nothing formulated at build time
    plan = built.solve(HIGHS)
    assert built._arrays.n_cols == 0 and "x" not in built.state  # nor by the radius solve
    assert plan.objective == pytest.approx(_brute_p_median(cost, p))
    again = model.build(net)
    mip = co.DistributorSelection(objective="p_median", p=p, strategy="mip", **rows).build(net)
    prob = again.problem
    assert (again.arrays.n_cols, again.arrays.n_rows) == (mip.arrays.n_cols, mip.arrays.n_rows)
    assert [v.name for v in prob.variables()] == [v.name for v in mip.problem.variables()]
    first = int(np.flatnonzero(plan.distributors["open"].to_numpy(dtype=bool))[0])
    y = {v.name: v for v in prob.variables() if v.name.startswith("y")}
    prob += y[sorted(y)[first]] == 0  # close one distributor of the optimum: the MIP must see it
    plan2 = again.solve(HIGHS)
    assert not plan2.distributors["open"].to_numpy(dtype=bool)[first]
    rest = [j for j in range(8) if j != first]
    assert plan2.objective == pytest.approx(_brute_p_median(cost[:, rest], p))


@pytest.mark.parametrize("seed", range(4))
def test_levels_sort_is_lexsort_by_outlet_then_cost(seed):
    # runs sorted a block of equal-length runs at a time: the same permutation as lexsort (ties in the given
    # order), on uneven runs, outlets without links, tiny blocks, and links not given by outlet
    rng = np.random.default_rng(seed)
    n, m = 30, 12
    oi, dj = np.nonzero(rng.random((n, m)) < rng.uniform(0.2, 0.9, n)[:, None])
    cost = rng.integers(0, 5, len(oi)).astype(float)  # many ties
    for block in (1, 7, 1 << 20):
        assert radius._by_outlet_then_cost(oi, cost, n, block=block).tolist() == np.lexsort((cost, oi)).tolist()
    perm = rng.permutation(len(oi))
    assert radius._by_outlet_then_cost(oi[perm], cost[perm], n).tolist() == np.lexsort((cost[perm], oi[perm])).tolist()
    lv = Levels(oi, dj, cost, n)
    assert lv.oi.dtype == np.int32 and lv.level.dtype == np.int32
    order = np.lexsort((cost, oi))
    assert lv.dj.tolist() == dj[order].tolist() and lv.cost.tolist() == cost[order].tolist()
    # each link's level is the rank of its cost among its outlet's distinct costs
    for i in range(n):
        run = lv.oi == i
        assert lv.level[run].tolist() == np.unique(lv.cost[run], return_inverse=True)[1].tolist()
