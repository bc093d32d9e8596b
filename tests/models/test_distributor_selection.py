"""DistributorSelection: every objective and constraint against brute force, spopt and properties."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pulp
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

import channelopt as co
from channelopt.exceptions import InfeasibleError, SettingsError

HIGHS = co.Solver("highs")


def tiny(seed: int, n: int = 6, m: int = 4, *, cap_slack: float | None = None, regions: int = 1):
    rng = np.random.default_rng(seed)
    xy_o, xy_d = rng.uniform(0, 10, (n, 2)), rng.uniform(0, 10, (m, 2))
    dist = np.sqrt(((xy_o[:, None] - xy_d[None]) ** 2).sum(-1)).round(3)
    demand = rng.integers(1, 6, n).astype(float)
    cost = dist * demand[:, None]
    fixed = rng.integers(5, 30, m).astype(float)
    cap = None
    if cap_slack is not None:
        cap = np.full(m, demand.sum() * cap_slack / m).round(1)
    reg = [f"r{i % regions}" for i in range(n)]
    net = co.ChannelNetwork.from_cost_matrix(cost, demand=demand, fixed_cost=fixed, capacity=cap,
                                             distances=dist, region_ids=reg)
    return net, cost, dist, demand, fixed, cap


def subsets(m, sizes=None):
    for r in (sizes if sizes is not None else range(1, m + 1)):
        yield from itertools.combinations(range(m), r)


def transport_cost(cost, demand, cap, open_set):
    """Split-demand assignment cost of an open set, by scipy's LP (independent of PuLP)."""
    n = len(demand)
    js = list(open_set)
    k = len(js)
    c = cost[:, js].reshape(-1)
    a_eq = np.kron(np.eye(n), np.ones(k))
    a_ub = np.kron(np.ones(n), np.eye(k)) * np.repeat(demand, k)[None, :]
    res = linprog(c, A_ub=a_ub, b_ub=cap[js], A_eq=a_eq, b_eq=np.ones(n), bounds=(0, 1), method="highs")
    return res.fun if res.status == 0 else np.inf


# ------------------------------------------------------------------ brute force, one per objective
@pytest.mark.parametrize("seed", range(4))
def test_min_cost_uncapacitated_brute_force(seed):
    net, cost, _, _, fixed, _ = tiny(seed)
    best = min(fixed[list(s)].sum() + cost[:, list(s)].min(axis=1).sum() for s in subsets(4))
    plan = co.DistributorSelection(objective="min_cost").solve(net, solver=HIGHS)
    assert plan.status == "optimal"
    assert plan.objective == pytest.approx(best, abs=1e-6)
    assert plan.metrics.overall["total_cost"] == pytest.approx(best, abs=1e-6)


@pytest.mark.parametrize("seed", range(3))
def test_min_cost_capacitated_split_brute_force(seed):
    net, cost, _, demand, fixed, cap = tiny(seed, cap_slack=1.6)
    best = min(fixed[list(s)].sum() + transport_cost(cost, demand, cap, s) for s in subsets(4))
    for solver in (HIGHS, co.Solver("cbc")):
        plan = co.DistributorSelection(objective="min_cost", capacitated=True).solve(net, solver=solver)
        assert plan.objective == pytest.approx(best, abs=1e-5)
        assert (plan.distributors["load"] <= plan.distributors["capacity"] + 1e-6).all()


@pytest.mark.parametrize("seed", range(3))
def test_min_cost_capacitated_single_source_brute_force(seed):
    net, cost, _, demand, fixed, cap = tiny(seed, n=5, m=3, cap_slack=1.5)
    best = np.inf
    for assign in itertools.product(range(3), repeat=5):
        a = np.array(assign)
        load = np.bincount(a, weights=demand, minlength=3)
        if (load > cap + 1e-9).any():
            continue
        best = min(best, fixed[np.unique(a)].sum() + cost[np.arange(5), a].sum())
    plan = co.DistributorSelection(capacitated=True, single_source=True).solve(net, solver=HIGHS)
    assert plan.objective == pytest.approx(best, abs=1e-6)
    assert (plan.assignments["n_distributors"] == 1).all()


@pytest.mark.parametrize("seed", range(3))
def test_p_median_brute_force(seed):
    net, cost, *_ = tiny(seed, n=7, m=5)
    best = min(cost[:, list(s)].min(axis=1).sum() for s in subsets(5, [2]))
    plan = co.DistributorSelection(objective="p_median", p=2).solve(net, solver=HIGHS)
    assert plan.objective == pytest.approx(best, abs=1e-6)
    assert plan.distributors["open"].sum() == 2


@pytest.mark.parametrize("seed", range(3))
def test_max_coverage_brute_force_p_and_budget(seed):
    net, _, dist, demand, fixed, _ = tiny(seed, n=8, m=5)
    r = 4.0
    cov = dist <= r
    best_p = max(demand[cov[:, list(s)].any(axis=1)].sum() for s in subsets(5, [2]))
    plan = co.DistributorSelection(objective="max_coverage", p=2, max_distance=r).solve(net, solver=HIGHS)
    assert plan.objective == pytest.approx(best_p)
    assert plan.metrics.overall["covered_weight"] == pytest.approx(best_p)
    budget = float(np.sort(fixed)[:3].sum() - 1)
    best_b = max([demand[cov[:, list(s)].any(axis=1)].sum() for s in subsets(5) if fixed[list(s)].sum() <= budget]
                 + [0.0])
    plan = co.DistributorSelection(objective="max_coverage", budget=budget, max_distance=r).solve(net, solver=HIGHS)
    assert plan.objective == pytest.approx(best_b)
    assert plan.distributors.loc[plan.distributors["open"], "fixed_cost"].sum() <= budget + 1e-9


@pytest.mark.parametrize("seed", range(3))
def test_set_cover_brute_force_count_and_cost(seed):
    net, _, dist, _, fixed, _ = tiny(seed, n=8, m=5)
    r = float(np.sort(dist.min(axis=1))[-1]) + 1.5  # every outlet reachable
    cov = dist <= r
    feasible = [s for s in subsets(5) if cov[:, list(s)].any(axis=1).all()]
    plan = co.DistributorSelection(objective="set_cover", max_distance=r).solve(net, solver=HIGHS)
    assert plan.objective == min(len(s) for s in feasible)
    assert plan.assignments["covered"].all()
    plan = co.DistributorSelection(objective="set_cover", max_distance=r, set_cover_cost="fixed_cost").solve(net)
    assert plan.objective == pytest.approx(min(fixed[list(s)].sum() for s in feasible))


@pytest.mark.parametrize("seed", range(3))
def test_p_center_brute_force(seed):
    net, _, dist, *_ = tiny(seed, n=8, m=5)
    best = min(dist[:, list(s)].min(axis=1).max() for s in subsets(5, [2]))
    plan = co.DistributorSelection(objective="p_center", p=2).solve(net, solver=HIGHS)
    assert plan.objective == pytest.approx(best, abs=1e-4)
    assert plan.metrics.overall["max_distance"] == pytest.approx(best, abs=1e-9)


def test_max_per_region_brute_force():
    net, cost, _, _, fixed, _ = tiny(5, n=6, m=3, regions=2)
    region = np.array([i % 2 for i in range(6)])
    best = np.inf
    for assign in itertools.product(range(3), repeat=6):
        a = np.array(assign)
        if any(len(set(a[region == r])) > 1 for r in (0, 1)):
            continue
        best = min(best, fixed[np.unique(a)].sum() + cost[np.arange(6), a].sum())
    plan = co.DistributorSelection(max_per_region=1).solve(net, solver=HIGHS)
    assert plan.objective == pytest.approx(best, abs=1e-6)
    per_region = plan.links.merge(plan.assignments[["outlet_id", "region_id"]]).groupby("region_id")
    assert (per_region["distributor_id"].nunique() <= 1).all()
    free = co.DistributorSelection().solve(net, solver=HIGHS)
    assert free.objective <= plan.objective + 1e-9


def test_min_coverage_floor_brute_force():
    # numeric distribution >= 50% per region at least cost: outlets may go unserved
    net, cost, _, _, fixed, _ = tiny(7, n=6, m=3, regions=2)
    region = np.array([i % 2 for i in range(6)])
    best = np.inf
    for assign in itertools.product(range(-1, 3), repeat=6):
        a = np.array(assign)
        if any((a[region == r] >= 0).mean() < 0.5 for r in (0, 1)):
            continue
        served = a >= 0
        best = min(best, fixed[np.unique(a[served])].sum() + cost[np.flatnonzero(served), a[served]].sum())
    spec = {"value": 0.5, "measure": "numeric", "by": "region"}
    plan = co.DistributorSelection(min_coverage=spec).solve(net, solver=HIGHS)
    assert plan.objective == pytest.approx(best, abs=1e-6)
    assert (plan.assignments.groupby("region_id")["covered"].mean() >= 0.5).all()


def test_channel_compatibility_keep_exclude_existing_and_new_caps():
    outlets = pd.DataFrame({"outlet_id": ["a", "b", "c", "d"], "region_id": ["r"] * 4,
                            "channel": ["modern", "modern", "traditional", "traditional"],
                            "potential": [1.0, 1, 1, 1]})
    dists = pd.DataFrame({"distributor_id": ["M", "T", "X", "E"], "fixed_cost": [1.0, 1, 1, 50],
                          "capacity": [np.inf] * 4, "channels": ["modern", "traditional", None, None],
                          "existing": [False, False, False, True]})
    cost = np.array([[1.0, 9, 5, 1], [1, 9, 5, 1], [9, 1, 5, 1], [9, 1, 5, 1]])
    net = co.ChannelNetwork(pd.DataFrame({"region_id": ["r"]}), outlets, dists, costs=cost, distances=cost)
    plan = co.DistributorSelection(keep_existing=False).solve(net)
    links = plan.links.merge(plan.assignments[["outlet_id", "channel"]])
    assert not ((links["distributor_id"] == "M") & (links["channel"] == "traditional")).any()
    assert not ((links["distributor_id"] == "T") & (links["channel"] == "modern")).any()
    assert plan.objective == pytest.approx(6.0)  # M and T open, each serving its own channel
    kept = co.DistributorSelection().solve(net)  # E is existing: stays open at its fixed cost
    assert kept.distributors.set_index("distributor_id").loc["E", "open"]
    assert kept.objective == pytest.approx(54.0)
    assert co.DistributorSelection(keep=["X"], keep_existing=False).solve(net).objective == pytest.approx(7.0)
    excl = co.DistributorSelection(exclude=["M", "T"], keep_existing=False).solve(net)
    assert set(excl.distributors.loc[excl.distributors["open"], "distributor_id"]) <= {"X", "E"}
    capped = co.DistributorSelection(max_new=1).solve(net)
    assert (capped.distributors["open"] & ~capped.distributors["existing"]).sum() <= 1
    capped = co.DistributorSelection(max_new_cost=0.5).solve(net)
    assert capped.distributors.loc[capped.distributors["open"], "distributor_id"].tolist() == ["E"]


# ------------------------------------------------------------------ properties
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), slack=st.floats(1.3, 2.5), radius=st.floats(6.0, 14.0),
       obj=st.sampled_from(["min_cost", "p_median"]))
def test_single_source_capacity_distance_properties(seed, slack, radius, obj):
    net, _, dist, demand, _, cap = tiny(seed, n=10, m=5, cap_slack=slack)
    model = co.DistributorSelection(objective=obj, p=4 if obj == "p_median" else None, capacitated=True,
                                    single_source=True, max_distance=radius)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            plan = model.solve(net, solver=HIGHS)
    except InfeasibleError as exc:
        assert str(exc)
        return
    a = plan.assignments
    assert a["covered"].all() and (a["n_distributors"] == 1).all() and np.allclose(a["share"], 1.0)
    assert (plan.distributors["load"] <= plan.distributors["capacity"] + 1e-6).all()
    assert (plan.links["distance"] <= radius + 1e-9).all()
    assert plan.distributors.loc[~plan.distributors["open"], "load"].eq(0).all()


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(1, 4))
def test_sparse_candidates_widen_to_the_full_optimum(seed, k):
    # candidates=k is a speed setting: the plan must still be the unrestricted optimum, proven
    net, *_ = tiny(seed, n=8, m=6)
    full = co.DistributorSelection(candidates=None).solve(net, solver=HIGHS)
    plan = co.DistributorSelection(candidates=k).solve(net, solver=HIGHS)
    assert plan.status == "optimal"
    assert plan.objective == pytest.approx(full.objective, rel=1e-9)
    assert plan.info.bound <= full.objective + 1e-6 * abs(full.objective)


# ------------------------------------------------------------------ spopt: same objective values
def _spopt_value(model):
    model.solve(pulp.HiGHS(msg=False))
    return pulp.value(model.problem.objective)


@pytest.mark.parametrize("seed", [0])
def test_same_objectives_as_spopt(seed):
    from spopt.locate import LSCP, MCLP, PCenter, PMedian

    rng = np.random.default_rng(100 + seed)
    n, m, p = 40, 12, 3
    d = np.sqrt(((rng.uniform(0, 100, (n, 1, 2)) - rng.uniform(0, 100, (1, m, 2))) ** 2).sum(-1)).round(2)
    w = rng.integers(1, 10, n).astype(float)
    net = co.ChannelNetwork.from_cost_matrix(d * w[:, None], demand=w, distances=d)
    radius = 30.0
    ours = co.DistributorSelection(objective="p_median", p=p).solve(net).objective
    assert ours == pytest.approx(_spopt_value(PMedian.from_cost_matrix(d, w, p_facilities=p)), rel=1e-9)
    ours = co.DistributorSelection(objective="max_coverage", p=p, max_distance=radius).solve(net).objective
    assert ours == pytest.approx(_spopt_value(MCLP.from_cost_matrix(d, w, service_radius=radius, p_facilities=p)))
    ours = co.DistributorSelection(objective="p_center", p=p).solve(net).objective
    # both solve W >= sum_j d_ij x_ij within the solver's feasibility tolerance (1e-6 relative)
    assert ours == pytest.approx(_spopt_value(PCenter.from_cost_matrix(d, p_facilities=p)), abs=1e-4)
    r_all = float(d.min(axis=1).max()) + 5
    ours = co.DistributorSelection(objective="set_cover", max_distance=r_all).solve(net).objective
    assert ours == pytest.approx(_spopt_value(LSCP.from_cost_matrix(d, service_radius=r_all)))


# ------------------------------------------------------------------ errors name the setting and the fix
def test_bad_settings_give_clear_errors():
    net, *_ = tiny(0, n=5, m=3, cap_slack=1.2)
    with pytest.raises(SettingsError, match="p=5 is larger than the 3 candidate"):
        co.DistributorSelection(objective="p_median", p=5).solve(net)
    with pytest.raises(SettingsError, match="needs p"):
        co.DistributorSelection(objective="p_center").solve(net)
    with pytest.raises(SettingsError, match="needs max_distance"):
        co.DistributorSelection(objective="set_cover").solve(net)
    with pytest.raises(SettingsError, match="objective must be one of"):
        co.DistributorSelection(objective="median").solve(net)
    with pytest.raises(SettingsError, match="unknown distributor ids"):
        co.DistributorSelection(keep=["nope"]).solve(net)
    with pytest.raises(SettingsError, match="min_coverage measure"):
        co.DistributorSelection(min_coverage={"value": 0.5, "measure": "volume"}).solve(net)
    with pytest.raises(SettingsError, match="candidates"):
        co.DistributorSelection(candidates="near").solve(net)
    small = co.ChannelNetwork.from_cost_matrix([[1.0, 2], [2, 1]], demand=[5, 5], capacity=[3, 4])
    with pytest.raises(InfeasibleError, match="total capacity 7 .* below total demand 10"):
        co.DistributorSelection(capacitated=True).solve(small)
    far = co.ChannelNetwork.from_cost_matrix([[1.0, 2], [9, 8], [1, 9]])
    with pytest.raises(InfeasibleError, match=r"outlets \['o1'\] cannot be served") as info:
        co.DistributorSelection(objective="set_cover", max_distance=5).solve(far)
    assert "o1" in info.value.reasons[0]


def test_infeasible_packing_is_explained_not_a_solver_failure():
    net = co.ChannelNetwork.from_cost_matrix([[1.0, 1], [1, 1], [1, 1]], demand=[2, 2, 2], capacity=[3, 3])
    with pytest.raises(InfeasibleError, match="bin-packing"):
        co.DistributorSelection(capacitated=True, single_source=True).solve(net)
    # split demand packs: 6 units into 3 + 3
    assert co.DistributorSelection(capacitated=True).solve(net).status == "optimal"


def test_weak_linking_and_no_warm_start_reach_the_same_optimum():
    net, *_ = tiny(11, n=12, m=6, cap_slack=1.4)
    ref = co.DistributorSelection(capacitated=True).solve(net).objective
    assert co.DistributorSelection(capacitated=True, linking="weak").solve(net).objective == pytest.approx(ref)
    assert co.DistributorSelection(capacitated=True).solve(net, warm_start=False).objective == pytest.approx(ref)


def test_plan_shape_and_gap():
    net, *_ = tiny(3, n=6, m=4)
    plan = co.DistributorSelection(objective="p_median", p=2).solve(net)
    assert list(plan.assignments["outlet_id"]) == list(net.outlet_ids)
    assert {"distributors", "links"} <= set(plan.tables)
    assert plan.info.gap == pytest.approx(0.0, abs=1e-9)
    assert plan.settings["objective"] == "p_median"


# ------------------------------------------------------------------ strategy="lagrangian"
def binding(seed: int, n: int = 60, m: int = 12, ratio: float = 2.0):
    """Capacities that bind: total capacity ``ratio`` x demand, fixed costs that push towards few."""
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(0, 100, (n, 2)), rng.uniform(0, 100, (m, 2))
    dist = np.sqrt(((a[:, None] - b[None]) ** 2).sum(-1))
    demand = rng.integers(5, 36, n).astype(float)
    cap = rng.uniform(0.8, 1.2, m) * demand.sum() * ratio / m
    fixed = rng.uniform(0.5, 1.5, m) * cap * 5.0
    return co.ChannelNetwork.from_cost_matrix(dist * demand[:, None], demand=demand, fixed_cost=fixed,
                                              capacity=cap, distances=dist)


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000), ratio=st.floats(1.3, 4.0), k=st.sampled_from([None, 3, 5]))
def test_lagrangian_bound_is_below_the_optimum_and_penalties_are_sound(seed, ratio, k):
    from channelopt.models._heuristics import lagrangian_bound

    net = binding(seed, n=25, m=7, ratio=ratio)
    model = co.DistributorSelection(capacitated=True, candidates=k)
    # the optimum over the restricted links the bound sees (model.solve certifies and widens to the full
    # problem, whose optimum can lie below it: seed=156, ratio=1.5, k=3)
    exact = HIGHS.solve(model.build(net).problem)
    # the k nearest links alone may leave too little capacity for some outlets (seed=815, ratio=1.5, k=3:
    # infeasible, solve() then widens to every link); the bound is only compared with an optimum
    assume(exact.status == "optimal")
    oi, dj = model._allowed(net)
    dists = net.distributors
    lag = lagrangian_bound(oi, dj, net.costs()[oi, dj], net.outlets["demand"].to_numpy(float),
                           dists["capacity"].to_numpy(float), dists["fixed_cost"].to_numpy(float),
                           upper=exact.objective * 1.02, iterations=300)
    assert lag.bound <= exact.objective + 1e-6 * exact.objective
    # the strong LP relaxation is the best any multipliers can prove: the bound is close to it
    lp = model.build(net)
    for v in lp.problem.variables():
        v.cat = pulp.LpContinuous
    lp_value = HIGHS.solve(lp.problem).objective
    assert lag.bound <= lp_value * (1 + 1e-6) + 1e-6
    assert lag.bound >= lp_value * (1 - 0.02)
    # forcing a distributor open costs at least its penalty: check each against the forced optimum
    for j in np.flatnonzero(lag.open_penalty > 0)[:2]:
        forced = co.DistributorSelection(capacitated=True, candidates=k, keep=[net.distributor_ids[j]])
        assert forced.solve(net, solver=HIGHS).objective >= lag.bound + lag.open_penalty[j] - 1e-6 * exact.objective


@pytest.mark.parametrize("seed", range(3))
def test_lagrangian_strategy_reaches_the_mip_optimum(seed):
    net = binding(seed)
    exact = co.DistributorSelection(capacitated=True).solve(net, solver=HIGHS)
    plan = co.DistributorSelection(capacitated=True, strategy="lagrangian").solve(net, solver=HIGHS)
    assert plan.status == "optimal"
    assert plan.objective == pytest.approx(exact.objective, rel=1e-7)
    assert plan.info.bound <= exact.objective + 1e-6 * exact.objective
    assert plan.metrics.overall["total_cost"] == pytest.approx(plan.objective, rel=1e-7)
    steps = plan.solve_steps.set_index("step")
    assert {"lagrangian", "rounding"} <= set(steps.index)
    assert steps.loc["lagrangian", "bound"] <= exact.objective + 1e-6 * exact.objective
    assert steps.loc["rounding", "objective"] >= exact.objective - 1e-6 * exact.objective
    # the MIP ran on fewer distributors (closed by the bound) and still found the full optimum
    assert steps.loc["mip", "closed_by_bound"] >= 1
    assert steps.loc["mip", "distributors"] + steps.loc["mip", "closed_by_bound"] <= 12
    saved = plan.to_json()  # the steps table travels with the plan
    assert "solve_steps" in saved
    d = plan.distributors
    assert (d["load"] <= d["capacity"] * (1 + 1e-7)).all()
    assert plan.links.groupby("outlet_id")["share"].sum().to_numpy() == pytest.approx(1.0)


def test_lagrangian_strategy_with_a_gap_keeps_keep_and_exclude():
    net = binding(7, n=80, m=15)
    ids = net.distributor_ids
    model = co.DistributorSelection(capacitated=True, candidates=6, keep=[ids[0]], exclude=[ids[1], ids[2]],
                                    strategy="lagrangian")
    plan = model.solve(net, solver=co.Solver("highs", mip_gap=0.02))
    exact = model.clone(strategy="mip").solve(net, solver=HIGHS)
    assert plan.info.gap <= 0.02 + 1e-9
    assert plan.info.bound <= exact.objective * (1 + 1e-7)
    assert exact.objective <= plan.objective <= exact.objective * 1.02 + 1e-6
    is_open = plan.distributors.set_index("distributor_id")["open"]
    assert is_open[ids[0]] and not is_open[ids[1]] and not is_open[ids[2]]
    # every link is one of the sparse candidates
    allowed = set(zip(*(a.tolist() for a in model._allowed(net))))
    links = plan.links
    oi = pd.Index(net.outlet_ids).get_indexer(links["outlet_id"])
    dj = pd.Index(ids).get_indexer(links["distributor_id"])
    assert set(zip(oi.tolist(), dj.tolist())) <= allowed


def test_lagrangian_strategy_refuses_models_it_does_not_bound():
    net = binding(0, n=10, m=4)
    for settings_ in ({"single_source": True}, {"p": 2}, {"objective": "p_median", "p": 2}, {"budget": 10.0},
                      {"max_per_region": 1}, {"min_coverage": 0.5}):
        with pytest.raises(SettingsError, match="strategy='lagrangian'"):
            co.DistributorSelection(capacitated=True, strategy="lagrangian", **settings_).solve(net)
    with pytest.raises(SettingsError, match="strategy must be"):
        co.DistributorSelection(strategy="lagrange").solve(net)


def test_capacity_rows_count_the_distributors_needed():
    # demand 12 against capacities 5, 5, 5, 4: three must open; the rows say so and the optimum agrees
    net = co.ChannelNetwork.from_cost_matrix(np.ones((4, 4)), demand=[3, 3, 3, 3], fixed_cost=[1, 1, 1, 1],
                                             capacity=[5, 5, 5, 4])
    built = co.DistributorSelection(capacitated=True).build(net)
    rows = built.problem.constraints
    assert -rows["min_open"].constant == 3
    assert -rows["capacity_total"].constant == pytest.approx(12, rel=1e-6)
    plan = built.solve(HIGHS)
    assert plan.objective == pytest.approx(3 + 4)
    assert int(plan.distributors["open"].sum()) == 3
    # a coverage floor lets outlets go unserved: the rows would be wrong there, so they are absent
    floor = co.DistributorSelection(capacitated=True, min_coverage=0.5).build(net)
    assert "min_open" not in floor.problem.constraints


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_opening_lp_of_the_lagrangian_matches_linprog(seed):
    # min v.y  s.t.  cap.y >= need, sum y >= count, 0 <= y <= 1 over the free distributors
    from channelopt.models._heuristics import _open_count

    rng = np.random.default_rng(seed)
    m = int(rng.integers(2, 9))
    v, cap, free = rng.normal(0, 5, m), rng.uniform(1, 3, m), rng.random(m) < 0.85
    free[0] = True
    need, count = rng.uniform(0, cap[free].sum()), int(rng.integers(0, free.sum() + 1))
    y, value, mu, nu = _open_count(v, cap, need, free, count)
    res = linprog(v[free], A_ub=-np.vstack([cap[free], np.ones(free.sum())]), b_ub=[-need, -count], bounds=(0, 1))
    assert value <= res.fun + 1e-7  # a valid lower bound always
    assert value >= res.fun - 1e-4 * max(1.0, abs(res.fun))  # and the LP's value at the best price
    assert mu >= 0 and nu >= 0  # prices of ">=" rows in a minimisation


def test_channel_portfolios_too_narrow_for_p_are_named_before_solving():
    from itertools import combinations

    net = co.make_synthetic(10, 90, 5, seed=4)  # D-004 (existing) carries only traditional/catering/community
    with pytest.raises(co.InfeasibleError, match=r"at least 2 distributors .* p=1"):
        co.DistributorSelection(objective="p_median", p=1).solve(net)
    assert co.DistributorSelection(objective="p_median", p=1, keep_existing=False).solve(net).status == "optimal"
    # Brute force: the check fires exactly when no p-subset with the existing ones covers every channel.
    for seed in range(6):
        net = co.make_synthetic(8, 60, 5, seed=seed)
        compat = net.compatibility
        existing = net.distributors["existing"].to_numpy()
        for p in (1, 2):
            feasible = any(
                compat[:, list(sub)].any(axis=1).all()
                for sub in combinations(range(5), p) if existing[list(sub)].sum() == existing.sum()
            )
            model = co.DistributorSelection(objective="p_median", p=p)
            if existing.sum() > p:
                continue
            if feasible:
                assert model.solve(net).status == "optimal"
            else:
                with pytest.raises(co.InfeasibleError, match="channel"):
                    model.solve(net)
