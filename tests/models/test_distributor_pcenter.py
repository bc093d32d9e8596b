"""p-center by covering (strategy="radius", the default for uncapacitated p_center) against references.

References are written here: brute force over every set of p distributors, and the
classic assignment model (min W, W >= sum_j d_ij x_ij) as an independent
``scipy.optimize.milp``. Distances and compatibility come from the network's own data.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from scipy.optimize import LinearConstraint, milp

import channelopt as co
from channelopt.exceptions import InfeasibleError, SettingsError

HIGHS = co.Solver("highs")


def _reach(net, max_distance=None):
    d = np.where(net.compatibility & np.isfinite(net.costs()), net.distances(), np.inf)
    if max_distance is not None:
        d = np.where(d <= max_distance, d, np.inf)
    return d


def _brute_force(d, p, *, keep=(), exclude=(), fixed=None, budget=None, existing=None, max_new=None):
    """Smallest largest nearest-distance over every set of p distributors obeying the rules."""
    n, m = d.shape
    best, best_set = np.inf, None
    free = [j for j in range(m) if j not in keep and j not in exclude]
    for extra in itertools.combinations(free, p - len(keep)):
        s = list(keep) + list(extra)
        if budget is not None and fixed[s].sum() > budget + 1e-9:
            continue
        if max_new is not None and (~existing[s]).sum() > max_new:
            continue
        val = d[:, s].min(axis=1).max()
        if val < best:
            best, best_set = val, s
    return best, best_set


def _scipy_pcenter(d, p):
    """The assignment p-center MILP, independent of channelopt: variables x (n*m), y (m), W."""
    n, m = d.shape
    ok = np.isfinite(d)
    nx = n * m
    c = np.zeros(nx + m + 1)
    c[-1] = 1.0
    rows, lo, hi = [], [], []
    for i in range(n):  # every outlet assigned once
        r = np.zeros(nx + m + 1)
        r[i * m:(i + 1) * m] = ok[i]
        rows.append(r), lo.append(1), hi.append(1)
    for i in range(n):  # W >= sum_j d_ij x_ij
        r = np.zeros(nx + m + 1)
        r[i * m:(i + 1) * m] = np.where(ok[i], d[i], 0.0)
        r[-1] = -1.0
        rows.append(r), lo.append(-np.inf), hi.append(0)
    for i in range(n):  # x_ij <= y_j
        for j in range(m):
            r = np.zeros(nx + m + 1)
            r[i * m + j], r[nx + j] = 1.0, -1.0
            rows.append(r), lo.append(-np.inf), hi.append(0)
    r = np.zeros(nx + m + 1)
    r[nx:nx + m] = 1.0
    rows.append(r), lo.append(p), hi.append(p)
    upper = np.r_[ok.reshape(-1).astype(float), np.ones(m), np.inf]
    integrality = np.r_[np.zeros(nx), np.ones(m), 0]
    res = milp(c, constraints=LinearConstraint(np.array(rows), lo, hi), integrality=integrality,
               bounds=(np.zeros(nx + m + 1), upper))
    assert res.status == 0
    return res.fun


def _net(seed, n=10, m=6, ties=False):
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(0, 10, (n, 2)), rng.uniform(0, 10, (m, 2))
    d = np.sqrt(((a[:, None] - b[None]) ** 2).sum(-1))
    d = np.round(d) if ties else d.round(4)  # integer distances: many equal levels
    fixed = rng.integers(5, 30, m).astype(float)
    return co.ChannelNetwork.from_cost_matrix(d, fixed_cost=fixed, distances=d), d, fixed


def _check_plan(plan, d, p):
    """The plan's own numbers: p open, each outlet with its nearest open, objective = largest distance."""
    is_open = plan.distributors["open"].to_numpy(dtype=bool)
    assert is_open.sum() == p
    nearest = d[:, is_open].min(axis=1)
    got = plan.assignments["distance"].to_numpy(dtype=float)
    np.testing.assert_allclose(got, nearest, rtol=0, atol=1e-12)
    assert plan.objective == pytest.approx(nearest.max(), abs=1e-12)
    assert plan.metrics.overall["max_distance"] == pytest.approx(nearest.max(), abs=1e-12)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("p", [1, 2, 3])
def test_covering_p_center_matches_brute_force(seed, p):
    net, d, _ = _net(seed, ties=seed % 2 == 1)
    best, _ = _brute_force(d, p)
    plan = co.DistributorSelection(objective="p_center", p=p).solve(net, solver=HIGHS)
    assert plan.settings["strategy"] == "auto" and plan.info.message.startswith("strategy='radius'")
    assert plan.status == "optimal"
    assert plan.objective == pytest.approx(best, abs=1e-12)
    assert plan.info.bound == pytest.approx(best, abs=1e-12)
    _check_plan(plan, d, p)


@pytest.mark.parametrize("seed", range(3))
def test_covering_p_center_matches_independent_milp(seed):
    net, d, _ = _net(100 + seed, n=14, m=7)
    ref = _scipy_pcenter(d, 3)
    plan = co.DistributorSelection(objective="p_center", p=3).solve(net, solver=HIGHS)
    # the assignment MILP meets W >= d x to HiGHS's feasibility tolerance
    assert plan.objective == pytest.approx(ref, abs=1e-6)
    mip = co.DistributorSelection(objective="p_center", p=3, strategy="mip").solve(net, solver=HIGHS)
    assert plan.objective == pytest.approx(mip.objective, abs=1e-6)


def test_covering_builds_the_assignment_mip_only_when_asked():
    """The covering path never reads the assignment MIP (n x m link columns); ``built.problem`` still gets it whole."""
    net, d, _ = _net(11, n=12, m=6)
    best, _ = _brute_force(d, 2)
    model = co.DistributorSelection(objective="p_center", p=2)
    built = model.build(net)
    assert built.strategy == "radius"
    assert built._arrays.n_cols == 0 and "x" not in built.state  # nothing formulated at build time
    plan = built.solve(HIGHS)
    assert built._arrays.n_cols == 0  # nor by the covering solve
    assert plan.objective == pytest.approx(best, abs=1e-12)
    # read: the same variables and rows as the assignment build, and a user's row on it holds
    again = model.build(net)
    mip = co.DistributorSelection(objective="p_center", p=2, strategy="mip").build(net)
    prob = again.problem
    assert (again.arrays.n_cols, again.arrays.n_rows) == (mip.arrays.n_cols, mip.arrays.n_rows)
    assert [v.name for v in prob.variables()] == [v.name for v in mip.problem.variables()]
    far = int(np.argmax(d.min(axis=1)))  # the outlet whose nearest distributor is farthest
    y = {v.name: v for v in prob.variables() if v.name.startswith("y")}
    first = int(np.argmin(d[far]))
    prob += y[sorted(y)[first]] == 0  # close that outlet's nearest distributor
    plan2 = again.solve(HIGHS)
    assert not plan2.distributors["open"].to_numpy(dtype=bool)[first]
    d2 = d.copy()
    d2[:, first] = np.inf
    assert plan2.objective == pytest.approx(_brute_force(d2, 2)[0], abs=1e-6)


def test_keep_exclude_and_max_distance_against_brute_force():
    net, d, _ = _net(7, n=12, m=7)
    ids = list(net.distributor_ids)
    for keep, exclude in [((0,), ()), ((), (1, 2)), ((5, 6), (0,))]:
        best, _ = _brute_force(d, 3, keep=keep, exclude=exclude)
        plan = co.DistributorSelection(objective="p_center", p=3, keep=[ids[j] for j in keep],
                                       exclude=[ids[j] for j in exclude]).solve(net, solver=HIGHS)
        assert plan.objective == pytest.approx(best, abs=1e-12), (keep, exclude)
        is_open = plan.distributors["open"].to_numpy(dtype=bool)
        assert is_open[list(keep)].all() and not is_open[list(exclude)].any()
        _check_plan(plan, d, 3)
    # a max_distance above the optimum leaves it; the links beyond it are gone
    best, _ = _brute_force(d, 3)
    plan = co.DistributorSelection(objective="p_center", p=3, max_distance=best + 0.5).solve(net, solver=HIGHS)
    assert plan.objective == pytest.approx(best, abs=1e-12)


def test_signing_caps_against_brute_force():
    net, d, fixed = _net(11, n=12, m=7)
    free_best, _ = _brute_force(d, 3)
    # below the fixed cost of every unconstrained optimum's set: the budget binds
    optimal_sets = [s for s in itertools.combinations(range(7), 3) if d[:, list(s)].min(axis=1).max() == free_best]
    budget = min(float(fixed[list(s)].sum()) for s in optimal_sets) - 1.0
    best, best_set = _brute_force(d, 3, fixed=fixed, budget=budget)
    assert best > free_best  # the cap binds
    plan = co.DistributorSelection(objective="p_center", p=3, budget=budget).solve(net, solver=HIGHS)
    assert plan.status == "optimal"
    assert plan.objective == pytest.approx(best, abs=1e-12)
    assert plan.distributors.loc[plan.distributors["open"], "fixed_cost"].sum() <= budget + 1e-9
    _check_plan(plan, d, 3)
    # max_new: with keep_existing=False, at most one new signing among the p open
    syn = co.make_synthetic(n_regions=4, n_outlets=14, n_distributors=7, seed=2)
    ds = _reach(syn)
    existing = syn.distributors["existing"].to_numpy(dtype=bool)
    p = int(existing.sum()) + 1
    free_best, _ = _brute_force(ds, p)
    best, _ = _brute_force(ds, p, existing=existing, max_new=1)
    assert np.isfinite(best) and best > free_best  # the cap binds
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plan = co.DistributorSelection(objective="p_center", p=p, max_new=1, keep_existing=False).solve(
            syn, solver=HIGHS)
    assert plan.objective == pytest.approx(best, abs=1e-9)
    assert plan.metrics.overall["new_signings"] <= 1


def test_infeasible_caps_say_so():
    net, d, fixed = _net(3, n=8, m=5)
    cheapest3 = float(np.sort(fixed)[:3].sum())
    with pytest.raises(InfeasibleError) as err:
        co.DistributorSelection(objective="p_center", p=3, budget=cheapest3 - 1.0).solve(net, solver=HIGHS)
    assert "budget" in str(err.value)


def test_channel_compatibility_and_existing_partners():
    net = co.make_synthetic(n_regions=4, n_outlets=16, n_distributors=6, seed=5)
    d = _reach(net)
    forced = tuple(np.flatnonzero(net.distributors["existing"].to_numpy(dtype=bool)).tolist())
    p = max(3, len(forced) + 1)
    best, _ = _brute_force(d, p, keep=forced)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plan = co.DistributorSelection(objective="p_center", p=p).solve(net, solver=HIGHS)
    assert plan.objective == pytest.approx(best, abs=1e-9)
    assert plan.distributors["open"].to_numpy(dtype=bool)[list(forced)].all()


def test_radius_strategy_refuses_what_it_cannot_solve():
    net, *_ = _net(0)
    with pytest.raises(SettingsError, match="strategy='radius' solves p_center by covering"):
        co.DistributorSelection(objective="p_center", p=2, strategy="radius", min_coverage=0.8).solve(net)
    # auto falls back to the MIP there, and the plan keeps the floor
    plan = co.DistributorSelection(objective="p_center", p=2, min_coverage=0.8).solve(net, solver=HIGHS)
    assert "covering" not in plan.info.message


def test_search_beats_the_first_plan_against_brute_force():
    """Cases where the greedy + swap plan is not optimal: the set-cover steps find the optimum."""
    improved = mips = 0
    for seed, p in [(5, 5), (6, 4), (10, 3), (11, 3), (14, 3)]:
        rng = np.random.default_rng(seed)
        a, b = rng.uniform(0, 10, (60, 2)), rng.uniform(0, 10, (16, 2))
        d = np.sqrt(((a[:, None] - b[None]) ** 2).sum(-1)).round(4)
        if seed % 2:
            d = np.round(d)  # integer distances: the optimum sits on a level shared by many links
        best, _ = _brute_force(d, p)
        net = co.ChannelNetwork.from_cost_matrix(d, distances=d)
        plan = co.DistributorSelection(objective="p_center", p=p).solve(net, solver=HIGHS)
        assert plan.status == "optimal"
        assert plan.objective == pytest.approx(best, abs=1e-12), (seed, p)
        _check_plan(plan, d, p)
        steps = plan.tables["solve_steps"].set_index("step")
        improved += steps.loc["heuristic", "objective"] > best + 1e-9
        mips += steps.loc["search", "cover_mips"]
        # the lower ends found without a solver and by the set-cover LP are true bounds
        assert steps.loc["heuristic", "bound"] <= steps.loc["lp_bound", "bound"] <= best + 1e-12
    assert improved >= 4 and mips >= 5  # the search, not the first plan, found these optima


def test_sparse_candidates_that_leave_no_plan_are_solved_on_every_link():
    # with each outlet's single nearest link, more than p outlets need their own distributor
    net, d, _ = _net(3, n=40, m=12)
    best, _ = _brute_force(d, 3)
    plan = co.DistributorSelection(objective="p_center", p=3, candidates=1).solve(net, solver=HIGHS)
    assert plan.info.message.startswith("candidates=1 left no feasible plan (the restriction's doing")
    assert plan.status == "optimal"
    assert plan.objective == pytest.approx(best, abs=1e-12)
    _check_plan(plan, d, 3)


def _min_cover(a: np.ndarray) -> int | float:
    """Fewest columns of the 0/1 matrix ``a`` that cover every row (brute force); inf if none."""
    n, m = a.shape
    if n == 0:
        return 0
    for size in range(m + 1):
        for cols in itertools.combinations(range(m), size):
            if a[:, list(cols)].any(axis=1).all():
                return size
    return np.inf


@pytest.mark.parametrize("seed", range(40))
def test_dominance_reduction_keeps_the_fewest_cover(seed):
    """Dropping outlets whose distributor set contains another's, and distributors whose outlets lie within
    another's, leaves the fewest cover unchanged; no kept row contains another kept row."""
    import scipy.sparse as sp

    from channelopt.models.distributors.pcenter import _reduce

    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(3, 12)), int(rng.integers(2, 8))
    a = rng.random((n, m)) < rng.uniform(0.2, 0.6)
    a[np.arange(n), rng.integers(0, m, n)] = True  # every row coverable
    if seed % 3 == 0:
        a = np.r_[a, a[: n // 2]]  # equal rows
    if seed % 4 == 0:
        a = np.c_[a, a[:, :1]]  # equal columns
    rows, cols = _reduce(sp.csr_matrix(a.astype(np.int32)), columns=True)
    red = a[np.ix_(rows, cols)]
    assert _min_cover(red) == _min_cover(a)
    for i, k in itertools.permutations(range(len(rows)), 2):
        assert not (red[i] <= red[k]).all(), (i, k)  # row k would be implied by row i
    for j, jj in itertools.permutations(range(len(cols)), 2):
        assert not (red[:, j] <= red[:, jj]).all(), (j, jj)
    # rows only (signing caps price columns): every column stays
    rows2, cols2 = _reduce(sp.csr_matrix(a.astype(np.int32)), columns=False)
    assert len(cols2) == a.shape[1] and _min_cover(a[rows2]) == _min_cover(a)


def _k_nearest(d, k):
    """Distances with every link but each outlet's k nearest removed (inf), as candidates=k does."""
    out = np.full_like(d, np.inf)
    near = np.argsort(d, axis=1, kind="stable")[:, :k]
    rows = np.arange(d.shape[0])[:, None]
    out[rows, near] = d[rows, near]
    return out


def test_sparse_candidates_widen_to_the_full_optimum_with_a_full_bound():
    """candidates=k: the plan and its bound are the unrestricted problem's (brute force on every link)."""
    widened = 0
    for seed in range(8):
        net, d, _ = _net(200 + seed, n=30, m=9)
        best, _ = _brute_force(d, 3)
        restricted_best, _ = _brute_force(_k_nearest(d, 3), 3)
        plan = co.DistributorSelection(objective="p_center", p=3, candidates=3).solve(net, solver=HIGHS)
        assert plan.status == "optimal"
        assert plan.objective == pytest.approx(best, abs=1e-12), seed
        assert plan.info.bound == pytest.approx(best, abs=1e-12)
        _check_plan(plan, d, 3)
        if np.isfinite(restricted_best) and restricted_best > best + 1e-9:  # the restriction hid the optimum
            widened += 1
            assert "widened by the" in plan.info.message
    assert widened >= 2


def test_sparse_candidates_holding_every_link_within_the_radius_keep_their_proof():
    net, d, _ = _net(5, n=20, m=8)
    best, _ = _brute_force(d, 4)
    k = int((d <= best).sum(axis=1).max()) + 1  # each outlet keeps every link within the optimum, and one more
    assert k < d.shape[1]  # still a restriction
    plan = co.DistributorSelection(objective="p_center", p=4, candidates=k).solve(net, solver=HIGHS)
    assert plan.info.message.startswith(f"candidates={k} restrict the links; they hold every allowed link within")
    assert plan.status == "optimal"
    assert plan.objective == pytest.approx(best, abs=1e-12)
    assert plan.info.bound == pytest.approx(best, abs=1e-12)


def test_sparse_candidates_bound_without_time_is_still_a_full_bound():
    """With the clock spent before widening, the bound still holds for the full problem (<= its optimum)."""
    import time

    from channelopt.models.distributors.pcenter import certify_pcenter

    for seed in range(8):
        net, d, _ = _net(200 + seed, n=30, m=9)
        best, _ = _brute_force(d, 3)
        restricted_best, _ = _brute_force(_k_nearest(d, 3), 3)
        if not np.isfinite(restricted_best) or restricted_best <= best + 1e-9:
            continue
        built = co.DistributorSelection(objective="p_center", p=3, candidates=3).build(net)
        plan = built.solve(HIGHS)  # certified and widened
        assert plan.objective == pytest.approx(best, abs=1e-12)
        # the restricted plan itself, restated with no time left
        from channelopt.models.distributors.pcenter import solve_pcenter

        restricted = solve_pcenter(built, HIGHS.start_clock())
        assert restricted.objective == pytest.approx(restricted_best, abs=1e-12)
        spent = co.Solver("highs", time_limit=1e-6).start_clock()
        time.sleep(0.01)
        out = certify_pcenter(built, restricted, spent, time.perf_counter())
        assert out.info.bound <= best + 1e-12
        assert out.info.bound >= d.min(axis=1).max() - 1e-12  # at least the farthest outlet's nearest
        assert out.status == ("optimal" if out.objective <= out.info.bound + 1e-12 else "feasible")
        assert out.objective >= best - 1e-12
        return
    pytest.fail("no seed where the restriction hides the optimum")
