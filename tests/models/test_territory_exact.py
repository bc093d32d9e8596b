"""The exact cut-edge model's fixing and formulations against brute force on small planar graphs.

Every contiguous balanced partition, labelled as the symmetry rows label it (slots by
their first region in load order), must survive the fixing; the solved optimum must
equal the best partition found by enumeration, for every formulation switch.
"""

from __future__ import annotations

import itertools
import math
import warnings

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import channelopt as co
from channelopt.models.territories import TerritoryDesign, labelling


@pytest.fixture(name="path_of_nine")
def path_of_nine_fixture(cut_edge_data):
    """A path 0-1-...-8 of equal loads in 3 territories of exactly 3 (load order = path order): ``(g, data)``."""
    g = nx.path_graph(9)
    nx.set_node_attributes(g, 1.0, "pop")
    return g, cut_edge_data(g, 3, 3, 3)


def fixings(d, how=None):
    n, k = d.n, d.k
    order = labelling.region_order(d, how)
    root_ok = np.ones((n, k), dtype=bool)
    root_ok[np.triu_indices(n, 1, k)] = False
    root_ok &= labelling.load_fixing(d, order)
    return order, root_ok, labelling.reach_fixing(d, order, root_ok)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n=st.integers(7, 9), k=st.integers(2, 3), tol=st.sampled_from([0.1, 0.3, 0.6]),
       how=st.sampled_from(["load", "back"]))
def test_reach_fixing_keeps_every_contiguous_balanced_partition(planar, window, cut_edge_data, canonical, partitions,
                                                                 seed, n, k, tol, how):
    g = planar(n, seed)
    lo, hi = window(g, k, tol)
    d = cut_edge_data(g, k, lo, hi)
    order, before, (root_ok, member_ok) = fixings(d, how)
    assert not (root_ok & ~before).any()  # it only removes
    pos = np.argsort(order)
    for lab in partitions(g, k, lo, hi):
        slot = canonical(lab, order)
        assert member_ok[pos, slot].all(), (lab, slot)
        roots = [int(pos[slot == j].min()) for j in range(k)]
        assert all(root_ok[p, j] for j, p in enumerate(roots)), (lab, roots)


def test_reach_fixing_bites(path_of_nine):
    # a path 0-1-...-8 of equal loads in 3 territories of exactly 3 (load order = path order): the load
    # fixing leaves regions 6..8 in any slot; from the possible roots of slots 0 and 1 (positions <= 3)
    # no path of load <= 3 reaches them, so they can only be in slot 2
    _, d = path_of_nine
    order, before, (root_ok, member_ok) = fixings(d, "load")
    assert order.tolist() == list(range(9))
    assert np.maximum.accumulate(before, axis=0)[6:].all()
    assert member_ok[6:].tolist() == [[False, False, True]] * 3
    assert member_ok[0].tolist() == [True, False, False]
    assert root_ok[:, 0].tolist() == [True] + [False] * 8


def slot_boundary(g: nx.Graph, slot: np.ndarray, j: int) -> int:
    return int(sum((slot[u] == j) != (slot[v] == j) for u, v in g.edges))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n=st.integers(7, 9), k=st.integers(2, 3), tol=st.sampled_from([0.1, 0.3, 0.6]))
def test_boundary_floor_never_exceeds_a_territory_boundary(planar, window, cut_edge_data, canonical, partitions, seed,
                                                           n, k, tol):
    # every contiguous balanced partition, labelled as the symmetry rows label it: slot j's cut edges are at
    # least the floor of its root (the first region of j in load order)
    g = planar(n, seed)
    lo, hi = window(g, k, tol)
    d = cut_edge_data(g, k, lo, hi)
    order, _, (root_ok, member_ok) = fixings(d)
    b = labelling.boundary_floor(d, order, root_ok, member_ok, seconds=(30.0, 300.0))
    parts = list(partitions(g, k, lo, hi))
    if parts:  # a floor is infinite only when no balanced territory exists at all
        assert np.isfinite(b).all()
    pos = np.argsort(order)
    for lab in parts:
        slot = canonical(lab, order)
        for j in range(k):
            root = int(pos[slot == j].min())
            have = slot_boundary(g, slot, j)
            assert b[root, j] <= have, (lab, j, root, b[root, j], have)
    assert (b >= 0).all()


def test_boundary_floor_on_a_path(path_of_nine):
    # a path 0-1-...-8 of equal loads in 3 territories of exactly 3 (load order = path order): three regions
    # from root p on, holding p, cost 1 cut edge at the two ends of the path ({0,1,2}, {6,7,8}) and 2 elsewhere
    _, d = path_of_nine
    order, _, (root_ok, member_ok) = fixings(d, "load")
    assert [np.flatnonzero(root_ok[:, j]).tolist() for j in range(3)] == [[0], [1, 2, 3], [2, 3, 4, 5, 6]]
    b = labelling.boundary_floor(d, order, root_ok, member_ok)
    assert [b[root_ok[:, j], j].tolist() for j in range(3)] == [[1], [2, 2, 2], [2, 2, 2, 2, 1]]
    assert (b[~root_ok] == 0).all()


_S = {"MINROOT": "tail", "Z_FIXING": True, "CUT_INTEGER": False}
SWITCHES = [
    {"FLOW": "slots", "CUT_ROWS": "max", "REACH_FIXING": False, "BOUNDARY": None, **_S},
    {"FLOW": "slots", "CUT_ROWS": "max", "REACH_FIXING": True, "BOUNDARY": None, **_S},
    {"FLOW": "single", "CUT_ROWS": "max", "REACH_FIXING": True, "BOUNDARY": None, **_S},
    {"FLOW": "single", "CUT_ROWS": "extended", "REACH_FIXING": True, "BOUNDARY": None, **_S},
    {"FLOW": "single", "CUT_ROWS": "extended", "REACH_FIXING": True, "BOUNDARY": None, "MINROOT": "single",
     "Z_FIXING": False, "CUT_INTEGER": False},
    {"FLOW": "single", "CUT_ROWS": "extended", "REACH_FIXING": True, "BOUNDARY": "slots", **_S},
    {"FLOW": "single", "CUT_ROWS": "extended", "REACH_FIXING": True, "BOUNDARY": "total", **_S},
    # the default with integer cut indicators (opt-in, labelling.CUT_INTEGER)
    {"FLOW": "single", "CUT_ROWS": "extended", "REACH_FIXING": True, "BOUNDARY": None, "MINROOT": "single",
     "Z_FIXING": False, "CUT_INTEGER": True},
]


@pytest.fixture
def switches():
    saved = {name: getattr(labelling, name) for name in [*SWITCHES[0], "CUT_ROWS"]}
    yield
    for name, value in saved.items():
        setattr(labelling, name, value)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                               HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), n=st.integers(7, 9), k=st.integers(2, 3), tol=st.sampled_from([0.1, 0.3]))
def test_every_formulation_matches_brute_force(planar, window, switches, brute_force, seed, n, k, tol):
    g = planar(n, seed)
    lo, hi = window(g, k, tol)
    best = brute_force(g, k, lo, hi)
    net = co.ChannelNetwork.from_graph(g, ["pop"])
    model = TerritoryDesign(k=k, objective="cut_edges", balance={"pop": (lo, hi)}, heuristic_seconds=0.2)
    for switch in SWITCHES:
        for name, value in switch.items():
            setattr(labelling, name, value)
        if np.isinf(best):
            with pytest.raises(co.exceptions.InfeasibleError) as err:
                model.solve(net, solver=co.Solver("highs"), warm_start=False)
            assert "pop" in str(err.value)
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            plan = model.solve(net, solver=co.Solver("highs"), warm_start=False)
        assert plan.status == "optimal", switch
        assert plan.objective == pytest.approx(best), switch
        assert plan.metrics["cut_edges"] == best
        assert plan.metrics["contiguity_verified"]
        loads = plan.territories["pop"]
        assert ((loads >= lo - 1e-6) & (loads <= hi + 1e-6)).all()
        assert len(loads) == k


@pytest.mark.parametrize("switch", SWITCHES, ids=lambda s: "-".join(str(v) for v in s.values()))
def test_every_formulation_keeps_contiguity_where_it_binds(planar, window, switches, brute_force, switch):
    # planar(8, seed=15) at 5%: the best split cuts 6 edges but is not contiguous; the best contiguous one cuts 7
    g = planar(8, 15)
    lo, hi = window(g, 2, 0.05)
    assert brute_force(g, 2, lo, hi) == 7 and brute_force(g, 2, lo, hi, connected=False) == 6
    for name, value in switch.items():
        setattr(labelling, name, value)
    net = co.ChannelNetwork.from_graph(g, ["pop"])
    plan = TerritoryDesign(k=2, objective="cut_edges", balance={"pop": (lo, hi)}).solve(
        net, solver=co.Solver("highs"), warm_start=False)
    assert plan.status == "optimal" and plan.objective == pytest.approx(7)
    assert plan.metrics["contiguity_verified"]


def test_a_user_row_that_makes_the_model_infeasible_is_not_answered_by_the_heuristic(planar):
    # the heuristic plan ignores rows a user adds to built.problem, so an infeasible verdict then stands
    import pulp

    g = planar(9, 3)
    total = sum(nx.get_node_attributes(g, "pop").values())
    net = co.ChannelNetwork.from_graph(g, ["pop"])
    built = TerritoryDesign(k=3, objective="cut_edges", balance={"pop": (0.8 * total / 3, 1.2 * total / 3)}).build(net)
    x = built.state["x"]
    cols = built.problem.variables()
    by_name = {v.name: v for v in cols}
    names = built.arrays.col_names()
    built.problem += pulp.lpSum(by_name[names[i]] for i in x[0, :].tolist()) == 0, "region_0_nowhere"
    with pytest.raises(co.exceptions.InfeasibleError) as err:
        built.solve(co.Solver("highs"))
    assert "pop" in str(err.value)


def test_boundary_floor_keeps_to_its_share_of_the_clock(path_of_nine):
    # the floors are a build step: on a started clock they get BOUNDARY_SHARE of what is left, so a solve with
    # almost no time left computes none (all zero, rows vacuous) instead of running past the user's limit
    _, d = path_of_nine
    order, _, (root_ok, member_ok) = fixings(d, "load")
    unlimited = labelling.boundary_floor(d, order, root_ok, member_ok, solver=co.Solver("highs").start_clock())
    assert unlimited[0, 0] == 1.0 and unlimited.sum() == 16.0
    short = co.Solver("highs", time_limit=0.2).start_clock()
    assert (labelling.boundary_floor(d, order, root_ok, member_ok, solver=short) == 0).all()


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                              HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), n=st.integers(7, 9), k=st.integers(2, 3), tol=st.sampled_from([0.1, 0.3, 0.6]))
def test_every_contiguous_balanced_partition_is_a_solution_of_the_built_model(planar, window, canonical, switches,
                                                                              partitions, seed, n, k, tol):
    # each contiguous balanced partition, labelled as the symmetry rows label it (slots by their first region in
    # load order), with x fixed to it: the built model (all fixings, root-order and cut rows, flow) must be
    # feasible and price it at its cut edges -- no fixing or row may cut off a plan, optimal or not
    g = planar(n, seed)
    lo, hi = window(g, k, tol)
    net = co.ChannelNetwork.from_graph(g, ["pop"])
    parts = list(itertools.islice(partitions(g, k, lo, hi), 12))
    for switch in (SWITCHES[3], SWITCHES[4], SWITCHES[7]):
        for name, value in switch.items():
            setattr(labelling, name, value)
        for lab in parts:
            built = TerritoryDesign(k=k, objective="cut_edges", balance={"pop": (lo, hi)}).build(net)
            x, order = built.state["x"], built.state["order"]
            slot = canonical(lab, order)
            other = np.ones((n, k), dtype=bool)
            other[np.arange(n), slot] = False
            ap = built.arrays
            # tighten only: a member's x is raised to 1 (infeasible if the fixing set it to 0), the rest lowered to 0
            ap.set_bounds(x[np.arange(n), slot], lower=1.0)
            ap.set_bounds(x.index[other.reshape(-1)], upper=0.0)
            info = co.Solver("highs").solve(ap)
            assert info.status == "optimal", (switch, lab.tolist(), slot.tolist())
            assert info.objective == pytest.approx(sum(lab[u] != lab[v] for u, v in g.edges)), (switch, lab.tolist())


def test_back_order_puts_last_a_set_of_pieces_too_light_to_root_a_territory(path_of_nine):
    # a path 0-1-...-8 of equal loads in 3 territories of exactly 3: a back set has pieces of at most 2 regions
    # (checked on the graph here), goes last, and then no back region can root; the three roots are forced
    g, d = path_of_nine
    back = labelling.back_set(d)
    assert all(len(c) < 3 for c in nx.connected_components(g.subgraph(back.tolist())))
    assert len(back) == 6  # the most: 9 regions less one per territory-sized stretch
    order, _, (root_ok, member_ok) = fixings(d, "back")
    assert sorted(order[-6:].tolist()) == sorted(back.tolist())
    assert not root_ok[3:].any()
    assert [np.flatnonzero(root_ok[:, j]).tolist() for j in range(3)] == [[0], [1], [2]]
    # load order leaves more roots open on the same map
    _, _, (root_load, _) = fixings(d, "load")
    assert root_load.sum() > root_ok.sum()


@pytest.mark.parametrize("cut_rows", ["max", "variation", "extended"])
def test_highs_sees_the_cut_edge_objective_is_integral(planar, window, switches, tmp_path, cut_rows):
    # whole-number edge weights on integer cut indicators (CUT_INTEGER): HiGHS detects an integral objective (it then
    # prunes a node whose bound is above the plan in hand less one); with continuous indicators it does not
    labelling.CUT_ROWS = cut_rows
    g = planar(20, 4)
    lo, hi = window(g, 3, 0.2)
    net = co.ChannelNetwork.from_graph(g, ["pop"])
    seen = {}
    for flag in (True, False):
        labelling.CUT_INTEGER = flag
        built = TerritoryDesign(k=3, objective="cut_edges", balance={"pop": (lo, hi)}).build(net)
        log = tmp_path / f"highs_{flag}.log"
        info = co.Solver("highs", options={"output_flag": True, "log_to_console": False, "log_file": str(log)}).solve(
            built.arrays)
        assert info.status == "optimal"
        seen[flag] = "Objective function is integral" in log.read_text()
        a = built.arrays.arrays()
        assert a.integer[built.state["y"].index].all() == flag
    assert seen == {True: True, False: False}


def test_the_search_hands_highs_its_cut_edge_options_under_the_callers(planar, window, monkeypatch, brute_force):
    # search.CUT_EDGE_HIGHS reaches the labelling MILP's HiGHS call; an option the caller sets keeps its value
    from channelopt.models._base import BuiltModel
    from channelopt.models.territories import search

    seen = []
    real = BuiltModel.solve_once

    def solve_once(self, solver, *args, **kwargs):
        seen.append(dict(solver.options))
        return real(self, solver, *args, **kwargs)

    monkeypatch.setattr(BuiltModel, "solve_once", solve_once)
    ours = {"mip_allow_cut_separation_at_nodes": False, "mip_pscost_minreliable": 4}
    monkeypatch.setattr(search, "CUT_EDGE_HIGHS", ours)
    g = planar(9, 2)
    lo, hi = window(g, 3, 0.3)
    net = co.ChannelNetwork.from_graph(g, ["pop"])
    best = brute_force(g, 3, lo, hi)
    model = TerritoryDesign(k=3, objective="cut_edges", balance={"pop": (lo, hi)})
    plan = model.solve(net, solver=co.Solver("highs", options={"mip_pscost_minreliable": 9}), warm_start=False)
    assert plan.status == "optimal" and plan.objective == pytest.approx(best)
    assert seen and all(o == {"mip_allow_cut_separation_at_nodes": False, "mip_pscost_minreliable": 9} for o in seen)


def test_cut_edge_bound_is_read_as_a_whole_number_of_borders(planar, window, brute_force):
    # whole-number borders: the optimum is a whole number (labelling.build_labelling sets objective_step), so a
    # stopped search's bound is HiGHS's rounded up, under the brute-force optimum; fractional borders: no step
    g = planar(12, 3)
    lo, hi = window(g, 3, 0.2)
    net = co.ChannelNetwork.from_graph(g, ["pop"])
    best = brute_force(g, 3, lo, hi)
    built = TerritoryDesign(k=3, objective="cut_edges", balance={"pop": (lo, hi)}).build(net)
    assert built.arrays.objective_step == 1.0
    for nodes in (1, 2, 3):
        # a time limit keeps the run out of the 0.1 s inline slice (a sliced run restarts its node count)
        solver = co.Solver("highs", options={"mip_max_nodes": nodes, "time_limit": 60.0})
        built.arrays.objective_step = 1.0
        rounded = solver.solve(built.arrays)
        built.arrays.objective_step = 0.0
        raw = solver.solve(built.arrays)
        assert raw.bound < best - 1 and raw.bound != round(raw.bound)  # the case the rounding is for
        assert rounded.bound == math.ceil(raw.bound) <= best
        assert rounded.status == raw.status == "feasible"
    h = g.copy()
    for i, (u, v) in enumerate(h.edges):
        h.edges[u, v]["border_km"] = 1.5 + i % 3
    built_w = TerritoryDesign(k=3, objective="cut_edges", balance={"pop": (lo, hi)},
                              edge_weight="border_km").build(co.ChannelNetwork.from_graph(h, ["pop"]))
    assert built_w.arrays.objective_step == 0.0
