"""TerritoryDesign: brute force on tiny graphs, property tests on random planar graphs."""

from __future__ import annotations

import itertools
import warnings

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import channelopt as co
from channelopt.exceptions import InfeasibleError, NoSolutionError, SettingsError, SolverError
from channelopt.models.territories import TerritoryDesign, heuristics

SOLVERS = [co.Solver("highs"), co.Solver("cbc")]


@pytest.fixture(name="planar", scope="session")
def planar_fixture(delaunay_pop_map):
    """conftest's :func:`delaunay_pop_map`: a Delaunay graph of random points, integer pops and x/y coordinates."""
    return delaunay_pop_map


@pytest.mark.parametrize("solver", SOLVERS, ids=["highs", "cbc"])
def test_cut_edges_matches_brute_force(planar, solver, brute_force):
    # an instance where every rule moves the optimum, so a model that reads the band or contiguity wrongly misses
    # it (planar(9, 3) at +-20% had the optimum 8 whatever the band or contiguity): either end of the band 10%
    # looser, or contiguity dropped, lets fewer edges be cut; the band 5% tighter at both ends leaves no plan
    g = planar(10, seed=27)
    total = sum(nx.get_node_attributes(g, "pop").values())
    lo, hi = 0.9 * total / 3, 1.1 * total / 3
    expected = brute_force(g, 3, lo, hi)
    assert brute_force(g, 3, 0.9 * lo, hi) < expected and brute_force(g, 3, lo, 1.1 * hi) < expected
    assert brute_force(g, 3, lo, hi, connected=False) < expected
    assert brute_force(g, 3, 1.05 * lo, 0.95 * hi) > expected
    net = co.ChannelNetwork.from_graph(g, ["pop"])
    plan = TerritoryDesign(k=3, objective="cut_edges", balance={"pop": (lo, hi)}).solve(net, solver=solver)
    assert plan.status == "optimal"
    assert plan.objective == pytest.approx(expected)
    assert plan.metrics["cut_edges"] == pytest.approx(expected)
    assert plan.metrics["contiguity_verified"]


def test_contiguity_changes_the_optimum_when_it_binds(planar, brute_force):
    # planar(8, seed=15) at 5% balance: the best split cuts 6 edges, the best contiguous one 7
    g = planar(8, seed=15)
    total = sum(nx.get_node_attributes(g, "pop").values())
    lo, hi = 0.95 * total / 2, 1.05 * total / 2
    contiguous = brute_force(g, 2, lo, hi)
    scattered = brute_force(g, 2, lo, hi, connected=False)
    assert scattered < contiguous  # the instance is one where contiguity binds
    net = co.ChannelNetwork.from_graph(g, ["pop"])
    model = TerritoryDesign(k=2, objective="cut_edges", balance={"pop": (lo, hi)})
    with_c = model.solve(net)
    without = model.clone(contiguity=False).solve(net)
    assert with_c.status == without.status == "optimal"
    assert with_c.objective == pytest.approx(contiguous)
    assert without.objective == pytest.approx(scattered)
    assert with_c.metrics["contiguity_verified"] and not without.metrics["contiguity_verified"]


@pytest.fixture(name="compact_instance", scope="session")
def compact_instance_fixture(planar, brute_force):
    def compact_instance(n: int, seed: int):
        """``planar(n, seed)`` with k=3 and population bands of +-15%: its graph, network, band and the brute-force
        optimum of compactness (each territory's weighted distance to its best centre)."""
        g = planar(n, seed=seed)
        net = co.ChannelNetwork.from_graph(g, ["pop"])
        w = net.regions["pop"].to_numpy()
        total = w.sum()
        lo, hi = 0.85 * total / 3, 1.15 * total / 3
        return g, net, lo, hi, brute_force(g, 3, lo, hi, objective="compactness", weight=w,
                                           dist=net.region_distances())

    return compact_instance


@pytest.mark.parametrize("solver", SOLVERS, ids=["highs", "cbc"])
def test_compactness_free_centres_matches_brute_force(solver, compact_instance):
    # a long thin graph makes p-median pieces disconnected, so the lazy cuts must work
    g, net, lo, hi, expected = compact_instance(9, 11)
    plan = TerritoryDesign(k=3, objective="compactness", weight="pop", balance={"pop": (lo, hi)}).solve(
        net, solver=solver
    )
    assert plan.status == "optimal"
    assert plan.objective == pytest.approx(expected, rel=1e-6)
    assert plan.metrics["contiguity_verified"]
    assert plan.metrics["weighted_distance"] == pytest.approx(expected, rel=1e-6)
    assert plan.assignments["centre"].nunique() == 3


def test_fixed_centres_stay_centres_and_name_territories(planar):
    g = planar(12, seed=5)
    net = co.ChannelNetwork.from_graph(g, ["pop"])
    plan = TerritoryDesign(
        centres={"north": 0, "south": 7}, objective="compactness", weight="pop", balance={"pop": 0.3}
    ).solve(net)
    a = plan.assignments.set_index("region_id")
    assert a.loc[0, "territory"] == "north" and a.loc[7, "territory"] == "south"
    assert set(a["centre"]) == {0, 7}
    assert plan.metrics["contiguity_verified"]
    assert plan.metrics["balance_ok_pop"]


def test_infeasible_balance_names_attribute_and_tightest_tolerance():
    g = nx.path_graph(4)
    nx.set_node_attributes(g, dict(enumerate([1.0, 1.0, 1.0, 3.0])), "pop")
    net = co.ChannelNetwork.from_graph(g, ["pop"])
    # the best two-way split is {0,1,2} | {3}: 3 vs 3, so 0% is reachable; three ways is not
    with pytest.raises(InfeasibleError) as err:
        TerritoryDesign(k=3, objective="cut_edges", balance={"pop": 0.01}).solve(net)
    msg = str(err.value)
    assert "pop" in msg and "tightest pop tolerance found" in msg
    # three territories: {0,1},{2},{3} gives 2,1,3 around mean 2 -> 50%
    assert "50.00%" in msg


def test_infeasible_by_solver_reports_tolerance():
    # totals allow it, contiguity forbids it: the solver must say infeasible
    g = nx.star_graph(3)  # hub 0 with leaves 1..3
    nx.set_node_attributes(g, {0: 1.0, 1: 2.0, 2: 2.0, 3: 1.0}, "pop")
    net = co.ChannelNetwork.from_graph(g, ["pop"])
    with pytest.raises(InfeasibleError) as err:
        TerritoryDesign(k=2, objective="cut_edges", balance={"pop": (3, 3)}).solve(net)
    assert "tightest pop tolerance found" in str(err.value)



def _just_over(over: float, pops=(100_000.0, 100_000.0, 99_990.0, 99_990.0)):
    """A path of four regions and bounds ``[199_900, 200_000 - over]``. With the default loads the split
    {0,1} | {2,3} cuts one edge but loads 200,000, ``over`` past the upper bound; every split keeping the bounds
    cuts two or more."""
    g = nx.path_graph(4)
    nx.set_node_attributes(g, dict(enumerate(pops)), "pop")
    return g, 199_900.0, 200_000.0 - over


def _best_cut(g: nx.Graph, k: int, lo: float, hi: float) -> float:
    """Fewest cut edges over every split into k non-empty parts (any shape) with loads in [lo, hi]."""
    best = np.inf
    for lab in itertools.product(range(k), repeat=g.number_of_nodes()):
        loads = [sum(g.nodes[v]["pop"] for v in g if lab[v] == t) for t in range(k)]
        if len(set(lab)) == k and all(lo <= x <= hi for x in loads):
            best = min(best, sum(lab[u] != lab[v] for u, v in g.edges))
    return best


@pytest.mark.parametrize("over", [1e-4, 1e-5])
def test_a_plan_keeps_the_stated_bounds_not_a_tolerance_past_them(over):
    # 1e-4 past 200,000 is within the heuristic's 1e-9 of the mean load and within HiGHS's feasibility
    # tolerance on the scaled row: the one-edge split came back "optimal" with a load above its own bound
    g, lo, hi = _just_over(over)
    net = co.ChannelNetwork.from_graph(g, ["pop"])
    model = TerritoryDesign(k=2, objective="cut_edges", balance={"pop": (lo, hi)}, contiguity=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plan = model.solve(net, solver=co.Solver("highs", time_limit=30))
    label = plan.assignments.set_index("region_id")["territory"]
    loads = [sum(g.nodes[v]["pop"] for v in g if label[v] == t) for t in label.unique()]
    assert len(loads) == 2 and all(lo <= x <= hi for x in loads), loads  # the bounds as the user gave them
    assert plan.metrics["balance_ok_pop"]
    assert plan.objective == sum(label[u] != label[v] for u, v in g.edges)
    assert _best_cut(g, 2, lo, hi) == 2  # the instance: the one-edge split breaks the bound
    assert plan.status == "optimal" and plan.objective == 2 and plan.bound <= 2


@pytest.mark.parametrize(("method", "error"), [("exact", InfeasibleError), ("heuristic", NoSolutionError)])
def test_no_plan_comes_back_when_every_split_passes_a_bound_by_a_tolerance(method, error):
    # every two-two split has a side of 200,000, 1e-4 past the bound (the totals allow it): no plan exists.
    # Before, the heuristic's plan came back (the exact path: as "optimal")
    g, lo, hi = _just_over(1e-4, pops=(100_000.0, 100_000.0, 100_000.0, 99_980.0))
    assert _best_cut(g, 2, lo, hi) == np.inf
    model = TerritoryDesign(k=2, objective="cut_edges", balance={"pop": (lo, hi)}, contiguity=False, method=method)
    with warnings.catch_warnings(), pytest.raises(error):
        warnings.simplefilter("ignore")
        model.solve(co.ChannelNetwork.from_graph(g, ["pop"]), solver=co.Solver("highs", time_limit=30))



def test_a_solver_plan_past_a_bound_within_its_tolerance_is_not_returned():
    # loads with a fractional part (the MILP's rows cannot be narrowed to whole numbers): every two-two split has
    # a side 1e-4 past the bound, within HiGHS's tolerance, which returns one as feasible. It came back as the
    # plan before (1e-4 is within 1e-6 of the mean); now the solve says what broke instead
    g, lo, hi = _just_over(1e-4, pops=(100_000.5, 100_000.5, 100_000.5, 99_980.5))
    hi += 1.0  # every split has a side of 200,001.0, against 200,000.9999
    assert _best_cut(g, 2, lo, hi) == np.inf
    model = TerritoryDesign(k=2, objective="cut_edges", balance={"pop": (lo, hi)}, contiguity=False)
    with warnings.catch_warnings(), pytest.raises(SolverError, match="pass a balance bound by 0.0001"):
        warnings.simplefilter("ignore")
        model.solve(co.ChannelNetwork.from_graph(g, ["pop"]), solver=co.Solver("highs", time_limit=30))


def test_a_start_is_checked_on_its_loads_not_on_what_it_claims():
    # a plan from a stage that builds its Result by hand (violation=0.0: the carved plan, the planar split, a
    # column) is handed to HiGHS as the start only when its loads keep the bounds
    from channelopt.models.territories import heuristics as heur
    from channelopt.models.territories.search import respects_rules

    g, lo, hi = _just_over(1e-4)
    model = TerritoryDesign(k=2, objective="cut_edges", balance={"pop": (lo, hi)}, contiguity=False)
    d = model.build(co.ChannelNetwork.from_graph(g, ["pop"])).state["data"]
    claims = dict(centres=None, objective=1.0, violation=0.0, contiguous=True, seconds=0.0)
    assert not respects_rules(model, d, heur.Result(label=np.array([0, 0, 1, 1]), **claims))  # 200,000: over
    assert respects_rules(model, d, heur.Result(label=np.array([0, 1, 1, 0]), **claims))  # 199,990 each


def test_disconnected_graph_names_components_or_bridges(planar):
    g = planar(8, seed=2)
    island = nx.relabel_nodes(planar(3, seed=4), {0: "i0", 1: "i1", 2: "i2"})
    for v in island.nodes:
        island.nodes[v]["x"] += 3000
    g = nx.union(g, island)
    net = co.ChannelNetwork.from_graph(g, ["pop"])
    model = TerritoryDesign(k=2, objective="cut_edges")
    with pytest.raises(SettingsError, match=r"2 components.*'i0', 'i1', 'i2'.*bridge_islands=True"):
        model.solve(net)
    plan = model.clone(bridge_islands=True).solve(net)
    assert plan.metrics["islands_bridged"] and plan.metrics["contiguity_verified"]


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"objective": "shortest"}, "objective must be one of"),
        ({"balance": {"nope": 0.1}}, "attribute 'nope'"),
        ({"k": 0}, "k must be an integer"),
        ({"objective": "disruption"}, "needs current="),
        ({"locked": {99: 0}}, "unknown region_id 99"),
    ],
)
def test_settings_errors_name_the_setting(planar, bad, match):
    net = co.ChannelNetwork.from_graph(planar(6, seed=1), ["pop"])
    with pytest.raises(SettingsError, match=match):
        TerritoryDesign(**{"k": 2, "objective": "cut_edges", **bad}).solve(net)


def test_inputs_are_not_mutated(planar):
    g = planar(8, seed=9)
    net = co.ChannelNetwork.from_graph(g, ["pop"])
    before = net.regions.copy()
    locked = {0: 1}
    TerritoryDesign(k=2, objective="cut_edges", locked=locked, balance={"pop": 0.3}).solve(net)
    assert locked == {0: 1}
    assert net.regions.equals(before)


def within_cap(g, k, current, cap, locked, attr, lo, hi):
    """Every plan within ``cap`` changes of ``current`` that keeps locks, balance, contiguity, k territories."""
    nodes = list(g.nodes)
    for m in range(cap + 1):
        for moved in itertools.combinations(nodes, m):
            choices = [[t for t in range(k) if t != current[v]] for v in moved]
            for new in itertools.product(*choices):
                label = dict(current)
                label.update(zip(moved, new))
                if any(label[v] != t for v, t in locked.items()) or len(set(label.values())) != k:
                    continue
                parts = [[v for v in nodes if label[v] == t] for t in range(k)]
                if any(not lo <= sum(g.nodes[v][attr] for v in p) <= hi for p in parts):
                    continue
                if all(nx.is_connected(g.subgraph(p)) for p in parts):
                    yield m


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n=st.integers(8, 12), k=st.integers(2, 3), cap=st.integers(0, 3))
def test_properties_on_random_planar_graphs(planar, seed, n, k, cap):
    g = planar(n, seed)
    net = co.ChannelNetwork.from_graph(g, ["pop"])
    rng = np.random.default_rng(seed)
    # a contiguous current alignment: BFS balls around k seeds
    seeds = rng.choice(n, size=k, replace=False).tolist()
    dist = {s: nx.single_source_shortest_path_length(g, s) for s in seeds}
    current = {v: int(np.argmin([dist[s][v] + 1e-3 * j for j, s in enumerate(seeds)])) for v in g.nodes}
    locked = {seeds[0]: current[seeds[0]]}
    total = sum(nx.get_node_attributes(g, "pop").values())
    lo, hi = 0.4 * total / k, 1.6 * total / k
    # the reference: enumerate every plan within the change cap (independent of the model)
    feasible = list(within_cap(g, k, current, cap, locked, "pop", lo, hi))
    model = TerritoryDesign(
        k=k, objective="disruption", current=current, max_changes=cap, locked=locked, balance={"pop": 0.6}
    )
    if not feasible:
        with pytest.raises(InfeasibleError) as err:
            model.solve(net)
        assert "pop" in str(err.value)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plan = model.solve(net)
    assert plan.status == "optimal" and plan.objective == min(feasible)
    a = plan.assignments.set_index("region_id")
    label = a["territory"].to_dict()
    assert len(set(label.values())) == k
    for t in set(label.values()):
        assert nx.is_connected(g.subgraph([v for v, lt in label.items() if lt == t]))
    loads = plan.territories["pop"]
    assert (loads >= lo - 1e-6).all() and (loads <= hi + 1e-6).all()
    assert a.loc[seeds[0], "territory"] == current[seeds[0]]
    assert int(a["changed"].sum()) <= cap
    assert int(a["changed"].sum()) == plan.objective == plan.metrics["regions_changed"]


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), k=st.integers(2, 4))
def test_heuristic_plans_are_contiguous_and_balanced(planar, seed, k):
    from channelopt.models.territories import heuristics

    g = planar(30, seed)
    net = co.ChannelNetwork.from_graph(g, ["pop"])
    total = sum(nx.get_node_attributes(g, "pop").values())
    for swaps in (False, True):  # the exchange moves must keep every rule too
        heuristics.SWAPS = swaps
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                plan = TerritoryDesign(
                    k=k, objective="cut_edges", balance={"pop": 0.3}, method="heuristic", heuristic_seconds=0.5,
                    seed=seed,
                ).solve(net)
        finally:
            heuristics.SWAPS = False
        label = plan.assignments.set_index("region_id")["territory"]
        assert label.nunique() == k
        for t in label.unique():
            assert nx.is_connected(g.subgraph(label.index[label == t].tolist()))
        loads = plan.territories["pop"]
        assert ((loads >= 0.7 * total / k - 1e-9) & (loads <= 1.3 * total / k + 1e-9)).all()
        assert plan.objective == sum(label[u] != label[v] for u, v in g.edges)


def test_synthetic_network_plan_has_outlet_metrics_and_gap():
    net = (
        co.datasets.make_synthetic(n_regions=30, n_outlets=300, n_distributors=5, seed=1)
        if hasattr(co, "datasets")
        else None
    )
    if net is None:  # pragma: no cover
        pytest.skip("datasets not importable")
    plan = TerritoryDesign(k=3, objective="compactness", balance={"workload": 0.1}).solve(
        net, solver=co.Solver("highs", mip_gap=0.0)
    )
    t = plan.territories
    for col in (
        "workload",
        "workload_ratio",
        "workload_deviation",
        "cut_edges",
        "connected",
        "outlets",
        "channel_breadth",
        "centre",
    ):
        assert col in t.columns
    assert plan.metrics.by_territory is t
    assert t["outlets"].sum() == 300
    assert plan.metrics["contiguity_verified"] and plan.metrics["max_deviation_workload"] <= 0.1 + 1e-9
    assert plan.gap == pytest.approx(0.0, abs=1e-6)


def test_polish_never_worsens_and_keeps_plans_valid(planar):
    from channelopt.models.territories import heuristics as heur
    from channelopt.models.territories.allocation import polish
    from channelopt.models.territories.data import prepare
    from channelopt.models.territories.diagnosis import heuristic_problem

    g = planar(40, seed=7)
    net = co.ChannelNetwork.from_graph(g, ["pop"])
    model = TerritoryDesign(k=4, objective="compactness", weight="pop", balance={"pop": 0.15})
    d = prepare(model, net)
    pb = heuristic_problem(model, d)
    start = heur.solve_heuristic(pb, seconds=0.3, seed=1, max_starts=2)
    assert start.violation == 0 and start.contiguous
    label, centres, obj = polish(d, pb, start.label, start.centres, co.Solver("highs"), 10.0)
    assert obj <= start.objective + 1e-9
    assert obj == pytest.approx(heur.objective_value(pb, label, centres))
    assert heur.violation(pb, label) == 0
    for t in range(4):
        assert nx.is_connected(g.subgraph(np.flatnonzero(label == t).tolist()))
        assert label[centres[t]] == t


def test_centre_candidates_restricts_soundly(compact_instance):
    g, net, lo, hi, expected = compact_instance(10, 11)
    model = TerritoryDesign(k=3, objective="compactness", weight="pop", balance={"pop": (lo, hi)})
    full = model.clone(centre_candidates=10).solve(net)
    assert full.status == "optimal" and full.objective == pytest.approx(expected, rel=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tight = model.clone(centre_candidates=2).solve(net)
    # fewer pairs can only cost more, and the plan is still a valid one
    assert tight.objective >= expected - 1e-6
    assert tight.metrics["contiguity_verified"] and tight.metrics["balance_ok_pop"]
    assert tight.metrics["weighted_distance"] == pytest.approx(tight.objective, rel=1e-6)
    with pytest.raises(SettingsError, match="centre_candidates must be a positive integer"):
        model.clone(centre_candidates=0).solve(net)


def test_centre_candidates_plan_reports_a_bound_for_the_full_problem(compact_instance):
    # 10-region planar instances, k=3: the nearest-3 restriction returns plans up to 30% above
    # the brute-force optimum; each must carry a bound valid for the unrestricted problem
    worse = 0
    for seed in (2, 5, 6, 16):
        g, net, lo, hi, expected = compact_instance(10, seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            plan = TerritoryDesign(
                k=3, objective="compactness", weight="pop", balance={"pop": (lo, hi)}, centre_candidates=3
            ).solve(net)
        assert plan.objective >= expected - 1e-6
        assert plan.bound <= expected + 1e-6
        if plan.status == "optimal":
            assert plan.objective == pytest.approx(expected, rel=1e-9) and plan.gap <= 1e-9
        else:
            assert plan.status == "feasible" and plan.gap > 0
            assert "centre_candidates=3 restricts the model" in plan.info.message
            # the restricted model was solved to its end: the restriction is what leaves the plan unproven
            assert plan.info.termination == "restricted"
        worse += plan.objective > expected + 1e-6
    assert worse  # seed 16's restricted plan is above the optimum, as in the issue


def test_a_restricted_solve_the_time_limit_stopped_says_so(compact_instance):
    # a spent clock (its end set to its start): no search runs and the heuristic's plan comes back. It is
    # not proven because time ran out, not because of centre_candidates: termination "time_limit" (it said
    # "restricted"), with status, bound and gap all for the full problem (bound below the brute-force optimum)
    g, net, lo, hi, expected = compact_instance(10, 16)
    solver = co.Solver("highs", time_limit=600).start_clock()
    solver.deadline.end = solver.deadline.start
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", co.NotOptimalWarning)
        plan = TerritoryDesign(k=3, objective="compactness", weight="pop", balance={"pop": (lo, hi)},
                               centre_candidates=3).solve(net, solver=solver)
    assert plan.status == "feasible" and plan.info.termination == "time_limit"
    assert "centre_candidates=3 restricts the model" in plan.info.message
    assert plan.bound <= expected + 1e-6 <= plan.objective + 2e-6
    assert plan.gap == pytest.approx((plan.objective - plan.bound) / plan.objective, rel=1e-9)


def test_infeasible_restriction_is_dropped_not_blamed_on_balance(monkeypatch, compact_instance):
    # no heuristic time and no balance repair: its plan breaks balance, so the nearest-1 restriction (which
    # takes in the heuristic's pairs only from a plan keeping every rule) leaves no plan at all; a plan exists
    # (brute force), so the answer is the full model's optimum, never "infeasible". (With the repair the
    # heuristic's plan keeps balance, its pairs join the restriction, and the answer is the restricted
    # model's plan with the unrestricted LP bound: "feasible", an honest gap.)
    monkeypatch.setattr(heuristics, "REPAIR", False)
    for seed in (1, 3, 4):
        g, net, lo, hi, expected = compact_instance(10, seed)
        plan = TerritoryDesign(
            k=3, objective="compactness", weight="pop", balance={"pop": (lo, hi)}, centre_candidates=1,
            heuristic_seconds=0,
        ).solve(net)
        assert plan.status == "optimal" and plan.objective == pytest.approx(expected, rel=1e-6)
        assert "restriction left no plan" in plan.info.message


def test_every_territory_gets_a_region_without_contiguity(planar, brute_force):
    g = planar(8, seed=4)
    current = {v: v % 3 for v in g.nodes}
    expected = brute_force(g, 3, 0, np.inf, connected=False)
    net = co.ChannelNetwork.from_graph(g, ["pop"])
    plan = TerritoryDesign(k=3, objective="cut_edges", contiguity=False, current=current).solve(net)
    assert plan.status == "optimal"
    assert (plan.territories["regions"] >= 1).all() and len(plan.territories) == 3
    assert plan.objective == pytest.approx(expected)


def test_build_then_solve_keeps_no_state_on_the_model(planar, brute_force):
    g = planar(10, seed=11)
    net = co.ChannelNetwork.from_graph(g, ["pop"])
    total = sum(nx.get_node_attributes(g, "pop").values())
    lo, hi = 0.85 * total / 3, 1.15 * total / 3
    expected = brute_force(g, 3, lo, hi)
    model = TerritoryDesign(k=3, objective="cut_edges", balance={"pop": (lo, hi)})
    before = dict(vars(model))
    built = model.build(net)
    first = built.solve(co.Solver("highs"))
    again = built.solve(co.Solver("cbc"))
    assert vars(model) == before
    assert first.status == again.status == "optimal"
    assert first.objective == again.objective == pytest.approx(expected)
    # the user's own row on the built problem binds: region 0 and 1 apart
    x = built.state["x"]  # the block of x[v, j]; in PuLP its columns are named x_{local index}
    lp = built.problem.variablesDict()
    for j in range(3):
        built.problem += lp[f"x_{x[0, j] - x.start}"] + lp[f"x_{x[1, j] - x.start}"] <= 1
    apart = built.solve()
    lab = apart.assignments.set_index("region_id")["territory"]
    assert lab[0] != lab[1]


@pytest.mark.parametrize("setting, value, nearest", [("weight", "popp", "pop"), ("edge_weight", "lenght", "length")])
def test_misspelled_columns_raise_with_the_nearest_name(planar, setting, value, nearest):
    g = planar(8, seed=1)
    nx.set_edge_attributes(g, 2.0, "length")
    net = co.ChannelNetwork.from_graph(g, ["pop"])
    objective = "compactness" if setting == "weight" else "cut_edges"
    with pytest.raises(SettingsError) as err:
        TerritoryDesign(k=2, objective=objective, **{setting: value}).solve(net)
    assert f"{setting}={value!r}" in str(err.value) and f"Did you mean {nearest!r}" in str(err.value)


def test_lazy_separator_rows_restore_contiguity(compact_instance):
    # without a warm start the first p-median plan of planar(9, seed=20) splits a territory;
    # the separator rows must make it whole and reach the brute-force optimum
    g, net, lo, hi, expected = compact_instance(9, 20)
    plan = TerritoryDesign(k=3, objective="compactness", weight="pop", balance={"pop": (lo, hi)}).solve(
        net, co.Solver("highs", time_limit=30), warm_start=False
    )
    assert plan.metrics["lazy_cuts"] > 0 and plan.metrics["lazy_rounds"] >= 2
    assert plan.status == "optimal" and plan.objective == pytest.approx(expected, rel=1e-6)
    assert plan.metrics["contiguity_verified"]


def test_load_fixing_keeps_every_balanced_partition(planar):
    # every balanced partition, labelled canonically (slots by first region in load order), must keep
    # its roots where load_fixing allows them; and the fixing must remove some roots (not vacuous)
    from channelopt.models.territories.data import prepare
    from channelopt.models.territories.labelling import load_fixing, region_order

    g = planar(9, seed=3)
    total = sum(nx.get_node_attributes(g, "pop").values())
    k, lo, hi = 3, 0.8 * total / 3, 1.2 * total / 3
    net = co.ChannelNetwork.from_graph(g, ["pop"])
    d = prepare(TerritoryDesign(k=k, objective="cut_edges", balance={"pop": (lo, hi)}), net)
    order = region_order(d)
    ok = load_fixing(d, order)
    assert not ok.all()
    pos = np.argsort(order)
    seen = 0
    for lab in itertools.product(range(k), repeat=d.n):
        if len(set(lab)) != k:
            continue
        sums = np.bincount(lab, weights=d.loads[:, 0], minlength=k)
        if not ((sums >= lo) & (sums <= hi)).all():
            continue
        firsts = sorted(min(pos[v] for v in range(d.n) if lab[v] == t) for t in range(k))
        seen += 1
        assert all(ok[p, j] for j, p in enumerate(firsts)), (lab, firsts)
    assert seen > 0


def test_heuristic_plans_carry_a_bound_valid_for_the_full_problem(compact_instance):
    # the p-median Lagrangian bound drops balance and contiguity, so it never exceeds the
    # brute-force optimum, and it beats counting nearest distances
    from channelopt.models.territories.bounds import combinatorial_bound, pmedian_lagrangian_bound
    from channelopt.models.territories.data import prepare

    for seed in (2, 11, 16):
        g, net, lo, hi, expected = compact_instance(9, seed)
        model = TerritoryDesign(k=3, objective="compactness", weight="pop", balance={"pop": (lo, hi)})
        d = prepare(model, net)
        lag = pmedian_lagrangian_bound(d, expected * 1.1, 5.0)
        assert combinatorial_bound(model, d) < lag <= expected + 1e-6
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            plan = model.set_params(method="heuristic", heuristic_seconds=0.5).solve(net)
        assert plan.status == "feasible" and plan.objective >= expected - 1e-6
        assert 0 < plan.bound <= expected + 1e-6 and plan.gap == pytest.approx(1 - plan.bound / plan.objective)


def test_swap_moves_keep_contiguity_balance_and_lower_the_objective(planar):
    from channelopt.models.territories import heuristics as heur
    from channelopt.models.territories.data import prepare
    from channelopt.models.territories.diagnosis import heuristic_problem

    swapped = 0
    for seed in range(12):
        g = planar(30, seed)
        net = co.ChannelNetwork.from_graph(g, ["pop"])
        model = TerritoryDesign(k=3, objective="cut_edges", balance={"pop": 0.02})
        pb = heuristic_problem(model, prepare(model, net))
        rng = np.random.default_rng(seed)
        label = heur._construct(pb, rng)
        label, _ = heur._local_search(pb, label, None, np.inf, rng)  # single moves only (SWAPS off)
        before = (heur.violation(pb, label), heur.objective_value(pb, label))
        contiguous = all(nx.is_connected(g.subgraph(np.flatnonzero(label == t).tolist())) for t in range(3))
        heur.SWAPS = True
        try:
            after_label, _ = heur._local_search(pb, label.copy(), None, np.inf, rng)
        finally:
            heur.SWAPS = False
        after = (heur.violation(pb, after_label), heur.objective_value(pb, after_label))
        assert after <= before
        swapped += after < before
        if contiguous:
            for t in range(3):
                assert nx.is_connected(g.subgraph(np.flatnonzero(after_label == t).tolist()))
    assert swapped  # the exchanges found something the single moves could not


def test_time_limited_plan_keeps_a_bound_valid_for_the_problem(planar):
    # half a second for everything: the p-median search stops early; the plan's bound must be a number
    # no larger than the optimum the same model proves without a limit (never NaN, never a root's 0)
    g = planar(40, seed=11)
    net = co.ChannelNetwork.from_graph(g, ["pop"])
    total = sum(nx.get_node_attributes(g, "pop").values())
    bounds = (0.9 * total / 4, 1.1 * total / 4)
    model = TerritoryDesign(k=4, objective="compactness", weight="pop", balance={"pop": bounds}, heuristic_seconds=0.2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        limited = model.solve(net, co.Solver("highs", time_limit=0.5))
    full = model.solve(net)
    assert full.status == "optimal"
    assert limited.objective >= full.objective - 1e-6
    # the bound is HiGHS's own when its search got that far, else the Lagrangian's: either way a number
    # no larger than the proven optimum (a message naming the source used to be asserted here; it is
    # written only for a bound channelopt computes, so the test failed whenever HiGHS's bound was kept)
    assert np.isfinite(limited.bound) and 0 < limited.bound <= full.objective + 1e-6
