"""JointPlanner: brute force on tiny networks, the joint optimum against the sequential plan, plan rules."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import channelopt as co
from channelopt.exceptions import SettingsError
from channelopt.models.joint import JointPlanner


def _curves(net, scale=1.0):
    ref = float(net.outlets.groupby(["region_id", "channel"])["potential"].sum().mean())
    return {"promotion": co.Hill(0.6 * ref * scale, 0.1 * ref, 1.0), "display": co.Hill(0.3 * ref, 0.05 * ref, 0.8)}


def _model(net, **kw):
    settings_ = dict(margin=0.25, curves=_curves(net), total=0.05 * float(net.outlets["potential"].sum()))
    settings_.update(kw)
    return JointPlanner(**settings_)


@pytest.fixture(scope="module")
def small():
    return co.make_synthetic(10, 150, 5, seed=3)


# ---------------------------------------------------------------- brute force
def _region_values(net, margin):
    """Per region x distributor: margin * compatible potential - service cost, compatible demand (from raw data)."""
    o = net.outlets
    regions = list(net.region_ids)
    comp = net.compatibility
    cost = net.costs()
    R, J = len(regions), len(net.distributors)
    value, demand = np.zeros((R, J)), np.zeros((R, J))
    for i, (r, p, d) in enumerate(zip(o["region_id"], o["potential"], o["demand"])):
        ri = regions.index(r)
        for j in range(J):
            if comp[i, j]:
                value[ri, j] += margin * p - cost[i, j]
                demand[ri, j] += d
    return value, demand


def _brute_force(net, margin, *, contiguity=False, keep_existing=True):
    """Best plan over every assignment of regions to {none} + distributors (hence every signed subset)."""
    value, demand = _region_values(net, margin)
    R, J = value.shape
    fixed = net.distributors["fixed_cost"].to_numpy(float)
    cap = net.distributors["capacity"].to_numpy(float)
    forced = net.distributors["existing"].to_numpy(bool) if keep_existing else np.zeros(J, bool)
    homes = net.distributors["region_id"].tolist()
    regions = list(net.region_ids)
    best, best_assign = -np.inf, None
    for assign in itertools.product(range(-1, J), repeat=R):
        a = np.array(assign)
        used = np.zeros(J, bool)
        used[a[a >= 0]] = True
        load = np.array([demand[a == j, j].sum() for j in range(J)])
        if (load > cap + 1e-9).any():
            continue
        if contiguity:
            ok = True
            for j in np.flatnonzero(used):
                members = {regions[r] for r in np.flatnonzero(a == j)}
                if homes[j] not in members or not nx.is_connected(net.graph.subgraph(members)):
                    ok = False
                    break
            if not ok:
                continue
        total = sum(value[r, a[r]] for r in range(R) if a[r] >= 0) - fixed[used | forced].sum()
        if total > best + 1e-9:
            best, best_assign = total, a
    return best, best_assign


@pytest.mark.parametrize("seed", [0, 3, 4])
@pytest.mark.parametrize("contiguity", [False, True])
def test_brute_force_matches_joint_optimum(seed, contiguity):
    net = co.make_synthetic(6, 60, 4, seed=seed)
    # Capacities from 30% to 75% of all demand: the largest regions fit some partners only.
    dists = net.distributors.copy()
    dists["capacity"] = float(net.outlets["demand"].sum()) * np.array([0.3, 0.45, 0.6, 0.75])
    net = co.ChannelNetwork(net.regions, net.outlets, dists, net.graph, costs=net.costs())
    best, assign = _brute_force(net, 0.2, contiguity=contiguity)
    assert (assign >= 0).any()  # a real plan, not the empty one
    plan = JointPlanner(margin=0.2, contiguity=contiguity).solve(net)
    assert plan.status == "optimal"
    assert plan.objective == pytest.approx(best, rel=1e-7, abs=1e-6)
    assert plan.metrics["contribution"] == pytest.approx(best, rel=1e-7, abs=1e-6)


def test_brute_force_contiguity_binds():
    # On this instance the best scattered plan is not connected: contiguity costs contribution.
    net = co.make_synthetic(6, 60, 4, seed=4)
    dists = net.distributors.copy()
    dists["capacity"] = float(net.outlets["demand"].sum()) * np.array([0.3, 0.45, 0.6, 0.75])
    net = co.ChannelNetwork(net.regions, net.outlets, dists, net.graph, costs=net.costs())
    loose = JointPlanner(margin=0.2).solve(net).objective
    tight = JointPlanner(margin=0.2, contiguity=True).solve(net).objective
    assert tight < loose - 1e3


# ---------------------------------------------------------------- joint >= sequential
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 50), contiguity=st.booleans(), balance=st.sampled_from([None, 0.3]))
def test_joint_is_never_worse_than_sequential(seed, contiguity, balance):
    net = co.make_synthetic(9, 120, 5, seed=seed)
    model = _model(net, contiguity=contiguity, balance=balance)
    joint = model.solve(net)
    seq = model.solve_sequential(net)
    assert joint.status == "optimal" and seq.status == "optimal"
    # HiGHS proves MIP optimality within its feasibility tolerances (measured: 2.5e-7 relative).
    tol = 1e-6 * max(1.0, abs(joint.objective))
    assert joint.objective >= seq.objective - tol
    # Same formula on both plans: the PWL contribution is the objective, the true one is above it.
    for plan in (joint, seq):
        assert plan.metrics["contribution_pwl"] == pytest.approx(plan.objective, rel=1e-6)
        assert plan.metrics["contribution"] >= plan.metrics["contribution_pwl"] - tol
    assert set(seq.stages) == {"selection", "territories", "budget"}
    # Objective, bound and gap are one quantity: the budget stage's (never a gap borrowed from another stage).
    budget = seq.stages["budget"].info
    assert (seq.objective, seq.bound, seq.gap) == (budget.objective, budget.bound, budget.gap)
    # The sequential plan signs what its selection stage signed.
    assert (seq.distributors["open"].to_numpy() == seq.stages["selection"].distributors["open"].to_numpy()).all()


def test_sequential_loses_when_budget_pays_for_coverage():
    # Response worth more than the potential margin: the selection stage, blind to the
    # budget, leaves regions that the joint model covers for their response.
    net = co.make_synthetic(8, 100, 4, seed=5)
    model = _model(net, margin=0.08, curves=_curves(net, scale=6.0))
    joint, seq = model.solve(net), model.solve_sequential(net)
    assert joint.objective > seq.objective * (1 + 1e-4) + 1e-6
    assert joint.metrics["covered_potential"] > seq.metrics["covered_potential"]


# ---------------------------------------------------------------- plan rules
def _check_rules(net, plan, model):
    regions = plan.regions.set_index("region_id")["distributor_id"]
    a = plan.assignments
    # Exclusivity: one distributor per region, and every covered outlet is served by it.
    assert regions.index.is_unique and len(regions) == len(net.region_ids)
    cov = a[a["covered"]]
    assert (cov["distributor_id"].to_numpy() == regions.loc[cov["region_id"]].to_numpy()).all()
    assert a.loc[~a["covered"], "distributor_id"].isna().all()
    # Exclusivity also means the region's distributor serves every outlet it may serve there.
    comp = pd.DataFrame(net.compatibility, columns=net.distributor_ids)
    owner = regions.loc[a["region_id"]].to_numpy()
    may = np.array([o is not None and not pd.isna(o) and bool(comp.at[i, o]) for i, o in enumerate(owner)])
    assert (may == a["covered"].to_numpy()).all()
    d = plan.distributors.set_index("distributor_id")
    opened = set(d.index[d["open"]])
    assert set(regions.dropna()) <= opened
    assert (d["load"] <= d["capacity"] * (1 + 1e-9)).all()
    assert d.loc[d["existing"], "open"].all()
    alloc = plan.allocations
    assert alloc["spend"].sum() <= model.total * (1 + 1e-9)
    assert (alloc["spend"] >= 0).all()
    carries = {j: (None if not c else set(str(c).split(";"))) for j, c in
               zip(net.distributor_ids, net.distributors["channels"].tolist())}
    for r, ch, s in zip(alloc["region_id"], alloc["channel"], alloc["spend"]):
        if s > 0:
            j = regions.loc[r]
            assert j is not None and not pd.isna(j) and (carries[j] is None or ch in carries[j])
    return regions


def test_exclusivity_capacity_and_budget(small):
    model = _model(small)
    plan = model.solve(small)
    regions = _check_rules(small, plan, model)
    assert plan.metrics["regions_assigned"] == int(regions.notna().sum())
    assert plan.metrics["spend"] == pytest.approx(plan.allocations["spend"].sum())


def test_contiguity_and_balance(small):
    model = _model(small, contiguity=True, balance=0.3)
    plan = model.solve(small)
    regions = _check_rules(small, plan, model)
    d = plan.distributors.set_index("distributor_id")
    for j in d.index[d["open"]]:
        members = set(regions.index[regions == j])
        if members:
            assert d.at[j, "home_region"] in members
            assert nx.is_connected(small.graph.subgraph(members))
    work = d.loc[d["open"] & (d["regions"] > 0), "workload"].to_numpy()
    assert work.max() <= (1.3 / 0.7) * work.min() * (1 + 1e-6)


def test_without_contiguity_territories_scatter_and_the_optimum_rises(small):
    # On this network (seed 3, capacities held) contiguity binds: measured once by solving both ways,
    # the loose optimum gives D-001 regions that do not touch. The contiguity rows are what prevent it.
    loose = _model(small).solve(small)
    tight = _model(small, contiguity=True).solve(small)

    def scattered(plan):
        regions = plan.regions.set_index("region_id")["distributor_id"].dropna()
        return sorted(j for j in regions.unique()
                      if not nx.is_connected(small.graph.subgraph(regions.index[regions == j])))

    assert scattered(loose) and not scattered(tight)
    assert loose.objective > tight.objective * (1 + 1e-6)


def test_highs_and_cbc_agree(small):
    model = _model(small, contiguity=True)
    a = model.solve(small, co.Solver("highs"))
    b = model.solve(small, co.Solver("cbc"))
    assert a.objective == pytest.approx(b.objective, rel=1e-6)


def test_inputs_untouched_and_budget_off(small):
    before = small.outlets.copy()
    dists = small.distributors.copy()
    plan = JointPlanner(margin=0.25).solve(small)
    pd.testing.assert_frame_equal(small.outlets, before)
    pd.testing.assert_frame_equal(small.distributors, dists)
    assert "allocations" not in plan.tables and plan.metrics["spend"] == 0.0


@pytest.mark.parametrize("kw, match", [
    ({}, "margin is required"),
    ({"margin": -1}, "margin must be > 0"),
    ({"margin": 0.2, "curves": {"promotion": {"hill": [1, 1, 1]}}}, "total is required"),
    ({"margin": 0.2, "balance": 1.5}, "balance"),
    ({"margin": 0.2, "curves": {"p": {"hill": [100, 40, 3]}}, "total": 50.0}, "not concave"),
    ({"margin": 0.2, "curves": {"p": {"bogus": [1]}}, "total": 50.0}, "curves"),
    ({"margin": 0.2, "contiguity": "yes"}, "contiguity must be True or False"),
])
def test_settings_errors(small, kw, match):
    with pytest.raises(SettingsError, match=match):
        JointPlanner(**kw).solve(small)


# ---------------------------------------------------------------- ChannelPlanner(method="joint")
def test_planner_dispatches_to_the_joint_model(small):
    curves = {"promotion": {"hill": [400_000, 20_000, 1]}}
    planner = co.ChannelPlanner(method="joint", margin=0.25, budget={"total": 80_000.0}, curves=curves,
                                selection={"capacitated": True},
                                territories={"contiguity": True, "balance": {"workload": 0.4}})
    model = planner.joint_model()
    assert model.get_params() == JointPlanner(margin=0.25, curves=curves, total=80_000.0, contiguity=True,
                                              balance=0.4).get_params()
    plan = planner.solve(small)
    direct = model.solve(small)
    assert plan.kind == "joint_plan" and plan.objective == pytest.approx(direct.objective, rel=1e-9)
    # The sequential planner is untouched by the new settings.
    assert co.ChannelPlanner().get_params()["method"] == "sequential"


@pytest.mark.parametrize("kw, match", [
    ({"selection": {"objective": "p_median", "p": 2}}, "selection.objective='p_median' is not part of"),
    ({"territories": {"balance": {"population": 0.1}}}, "balance with method='joint'"),
    ({"method": "both"}, "method must be 'sequential' or 'joint'"),
])
def test_planner_joint_settings_errors(small, kw, match):
    settings_ = {"method": "joint", "margin": 0.2, **kw}
    with pytest.raises(SettingsError, match=match):
        co.ChannelPlanner(**settings_).solve(small)


def test_array_build_makes_no_pulp_object_and_matches_its_pulp_problem(small, monkeypatch):
    # Issue 11: the joint model is assembled as arrays; its PuLP problem, made on demand (here by the
    # private switch of the before/after benchmark) and solved through PuLP, is the same model. The old
    # PuLP build was deleted once bench_joint --build recorded its before/after figures.
    model = _model(small, contiguity=True, balance=0.15)
    built = model.build(small)
    plan = built.solve(co.Solver("highs"))
    assert not built.has_problem
    monkeypatch.setenv("CHANNELOPT_BUILD_PATH", "pulp")
    old = model.build(small)
    assert old.has_problem
    reference = old.solve(co.Solver("highs"))
    assert plan.status == reference.status == "optimal"
    assert plan.objective == pytest.approx(reference.objective, rel=1e-6)


def test_region_aggregates_are_the_outlet_sums_without_a_dense_matrix():
    """P, D, W, C and the compatible-outlet counts per region x distributor equal sums written here over the
    dense matrices, while the planner itself computes no outlet x distributor matrix."""
    net = co.make_synthetic(10, 150, 5, seed=4)
    # D-002 carries pharmacy only: regions R-0005 and R-0006 have no outlet it may serve
    net.distributors.loc[1, "channels"] = "pharmacy"
    fresh = co.ChannelNetwork(net.regions, net.outlets, net.distributors, net.graph)
    d = JointPlanner(margin=0.25, contiguity=False, capacitated=True)._data(fresh)
    assert fresh._costs is None and fresh._distances is None
    comp, cost = net.compatibility, net.costs()
    ro = net.outlet_region_index
    o = net.outlets
    R, J = len(net.region_ids), len(net.distributors)
    ref = {k: np.zeros((R, J)) for k in ("P", "D", "W", "C", "n")}
    for i in range(len(o)):
        ref["P"][ro[i]] += comp[i] * o["potential"].iloc[i]
        ref["D"][ro[i]] += comp[i] * o["demand"].iloc[i]
        ref["W"][ro[i]] += comp[i] * o["workload"].iloc[i]
        ref["C"][ro[i]] += comp[i] * cost[i]
        ref["n"][ro[i]] += comp[i]
    assert (ref["n"] == 0).sum() == 2  # channel rules bind (not a vacuous check)
    for key in ("P", "D", "W", "C"):
        assert d[key] == pytest.approx(ref[key], rel=1e-12), key
    # pairs with no compatible outlet are dropped (no contiguity): exactly those with a zero count
    pairs = set(zip(d["pr"].tolist(), d["pj"].tolist()))
    fits = d["D"] <= d["cap"][None, :] * (1 + 1e-12)
    assert pairs == set(zip(*np.nonzero((ref["n"] > 0) & fits)))
