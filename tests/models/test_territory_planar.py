"""The planar dual-cycle search for two contiguous territories, against brute force on small Delaunay maps."""

from __future__ import annotations

import itertools
import math
import time
import warnings

import networkx as nx
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.spatial import Delaunay

import channelopt as co
from channelopt.models.territories import TerritoryDesign
from channelopt.models.territories.planar import bisection, dual_map


def delaunay_map(n: int, seed: int):
    """A small planar map: the Delaunay triangulation of random points, integer populations."""
    rng = np.random.default_rng(seed)
    pts = rng.uniform(0, 1, (n, 2))
    s = Delaunay(pts).simplices
    e = np.unique(np.sort(np.vstack([s[:, [0, 1]], s[:, [1, 2]], s[:, [0, 2]]]), axis=1), axis=0)
    pop = rng.integers(50, 150, n).astype(float)
    return e, pop


def as_graph(n, edges, pop) -> nx.Graph:
    """The map as a graph for the ``brute_force`` and ``partitions`` fixtures: nodes ``0..n-1`` in order (a label
    vector's positions are the regions), ``pop`` on each."""
    g = nx.Graph()
    g.add_nodes_from((v, {"pop": float(pop[v])}) for v in range(n))
    g.add_edges_from(edges.tolist())
    return g


def check_split(n, edges, pop, lower, upper, label, cut):
    """The split keeps the rules: two connected parts, loads in bounds, ``cut`` edges between them."""
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from(edges.tolist())
    assert sorted(np.unique(label).tolist()) == [0, 1]
    for t in (0, 1):
        assert nx.is_connected(g.subgraph(np.flatnonzero(label == t).tolist()))
        assert lower <= pop[label == t].sum() <= upper
    assert int((label[edges[:, 0]] != label[edges[:, 1]]).sum()) == cut


CASES = [(13, seed, tol) for seed in range(4) for tol in (0.02, 0.1)]


@pytest.mark.parametrize("n,seed,tol", CASES)
def test_exact_weights_bound_the_brute_force_optimum(brute_force, n, seed, tol):
    # a closed walk may repeat faces (two loops of opposite sense), so the bound can lie below the optimum
    # (seed 3, 2%: 7 against 9); a split it returns is a real one and never beats the optimum
    e, pop = delaunay_map(n, seed)
    lower, upper = math.ceil((1 - tol) * pop.sum() / 2), math.floor((1 + tol) * pop.sum() / 2)
    best = brute_force(as_graph(n, e, pop), 2, lower, upper)
    res = bisection(n, e, pop, lower, upper, limit=len(e) + 1, resolution=10**9)  # quantum 1: exact weights
    assert res.complete
    assert res.bound <= best
    if res.label is not None:
        check_split(n, e, pop, lower, upper, res.label, res.cut)
        assert res.cut >= best


@pytest.mark.parametrize("seed,tol", [(0, 0.1), (1, 0.02), (2, 0.1)])
def test_exact_weights_prove_the_brute_force_optimum(brute_force, seed, tol):
    e, pop = delaunay_map(13, seed)
    lower, upper = math.ceil((1 - tol) * pop.sum() / 2), math.floor((1 + tol) * pop.sum() / 2)
    best = brute_force(as_graph(13, e, pop), 2, lower, upper)
    res = bisection(13, e, pop, lower, upper, limit=len(e) + 1, resolution=10**9)
    assert (res.bound, res.cut) == (best, best)
    check_split(13, e, pop, lower, upper, res.label, res.cut)


@pytest.mark.parametrize("seed,tol", [(seed, tol) for seed in range(8) for tol in (0.02, 0.1)])
def test_coarse_weights_give_a_valid_bound(brute_force, seed, tol):
    # 5-40 quanta in the total: a walk's weight is off by up to half a quantum an arc, and the bound must stay
    # below the optimum (without that slack: 7 > 6 at seed 1, 10%, 20 quanta; 9 > 8 at seed 3, 2%, 40)
    e, pop = delaunay_map(12, seed)
    lower, upper = math.ceil((1 - tol) * pop.sum() / 2), math.floor((1 + tol) * pop.sum() / 2)
    best = brute_force(as_graph(12, e, pop), 2, lower, upper)
    for resolution in (5, 20, 40):
        res = bisection(12, e, pop, lower, upper, limit=len(e) + 1, resolution=resolution)
        assert res.complete
        assert res.bound <= best
        if res.label is not None:
            check_split(12, e, pop, lower, upper, res.label, res.cut)
            assert res.cut >= best


def test_a_known_plan_caps_the_search():
    # a 4x6 grid, unit loads, 12 and 12: the best split cuts the 4 edges across the middle
    g = nx.grid_2d_graph(4, 6)
    idx = {v: i for i, v in enumerate(g)}
    e = np.array([[idx[a], idx[b]] for a, b in g.edges()])
    res = bisection(24, e, np.ones(24), 12, 12, limit=4)
    assert (res.bound, res.label, res.complete) == (4.0, None, True)  # nothing below 4: the plan in hand stands
    res = bisection(24, e, np.ones(24), 12, 12, limit=30)
    assert (res.bound, res.cut) == (4.0, 4)
    check_split(24, e, np.ones(24), 12, 12, res.label, 4)


def test_non_planar_or_disconnected_maps_are_left_alone():
    k5 = np.array(list(itertools.combinations(range(5), 2)))
    assert dual_map(5, k5, np.ones(5)) is None
    assert dual_map(4, np.array([[0, 1], [2, 3]]), np.ones(4)) is None
    assert bisection(5, k5, np.ones(5), 2, 3, limit=10) is None


def test_dual_cycle_weights_add_up_to_the_side_load():
    # Park & Phillips's identity: around the faces of one map node v, the walk weight is load(v) or load(v) - total
    e, pop = delaunay_map(15, 3)
    dm = dual_map(15, e, pop)
    assert dm.n_faces == len(e) - 15 + 2  # Euler
    for v in range(15):
        # the dual arcs crossing v's edges, each oriented with v on the same side, form a cycle around v
        at = np.flatnonzero((e[:, 0] == v) | (e[:, 1] == v))
        arcs = [2 * i if e[i, 0] == v else 2 * i + 1 for i in at]
        total = dm.weight[arcs].sum()
        assert min(abs(total - pop[v]), abs(total + pop[v]), abs(total - (pop[v] - pop.sum())),
                   abs(total + (pop[v] - pop.sum()))) < 1e-6
        heads, tails = sorted(dm.head[arcs].tolist()), sorted(dm.tail[arcs].tolist())
        assert heads == tails  # a closed walk: every face entered is left


@pytest.mark.parametrize("seed,tol", [(7, 0.03), (3, 0.02)])
def test_territory_design_proves_two_territories_against_brute_force(brute_force, seed, tol):
    # seed 7: the planar search proves the plan; seed 3, 2%: its bound (7) is below the optimum, the MILP proves
    e, pop = delaunay_map(13, seed)
    g = nx.Graph()
    g.add_edges_from(e.tolist())
    nx.set_node_attributes(g, {v: float(pop[v]) for v in range(13)}, "pop")
    lower, upper = math.ceil((1 - tol) * pop.sum() / 2), math.floor((1 + tol) * pop.sum() / 2)
    best = brute_force(as_graph(13, e, pop), 2, lower, upper)
    net = co.ChannelNetwork.from_graph(g, ["pop"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a proven plan warns nothing
        plan = TerritoryDesign(k=2, objective="cut_edges", balance={"pop": (lower, upper)}).solve(net)
    assert plan.status == "optimal"
    assert plan.objective == best and plan.bound == best
    label = np.array([plan.assignments.set_index("region_id").loc[v, "territory"] for v in range(13)])
    label = (label == label[0]).astype(int)
    check_split(13, e, pop, lower, upper, label, best)


@pytest.mark.parametrize("k,seed", [(3, 0), (3, 1), (4, 2)])
def test_carved_parts_are_connected_and_balanced(k, seed):
    from channelopt.models.territories.planar import carve

    e, pop = delaunay_map(60, seed)
    lower, upper = math.ceil(0.95 * pop.sum() / k), math.floor(1.05 * pop.sum() / k)
    label = carve(60, e, pop[:, None], np.array([lower]), np.array([upper]), k, seconds=30)
    assert label is not None
    g = nx.Graph()
    g.add_edges_from(e.tolist())
    assert sorted(np.unique(label).tolist()) == list(range(k))
    for t in range(k):
        assert nx.is_connected(g.subgraph(np.flatnonzero(label == t).tolist()))
        assert lower <= pop[label == t].sum() <= upper


def test_first_split_cuts_the_brute_force_fewest_edges_on_a_grid_side():
    # one part of 6 cells and the rest of 12 on a 3x6 grid; the brute force over connected splits says how few
    from channelopt.models.territories.planar import first_split

    g = nx.grid_2d_graph(3, 6)
    idx = {v: i for i, v in enumerate(g)}
    e = np.array([[idx[a], idx[b]] for a, b in g.edges()])
    h = nx.relabel_nodes(g, idx)
    best = min(
        int((np.isin(e[:, 0], s) != np.isin(e[:, 1], s)).sum())
        for s in itertools.combinations(range(18), 6)
        if nx.is_connected(h.subgraph(s)) and nx.is_connected(h.subgraph(set(range(18)) - set(s)))
    )
    label, cut = first_split(18, e, np.ones(18), (6, 6), (12, 12))
    assert cut == best == int((label[e[:, 0]] != label[e[:, 1]]).sum())
    assert int(label.sum()) == 6


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_three_territories_bound_stays_below_the_brute_force_optimum(brute_force, seed):
    from channelopt.models.territories.planar import solve_split

    e, pop = delaunay_map(10, seed)
    lower, upper = math.ceil(0.9 * pop.sum() / 3), math.floor(1.1 * pop.sum() / 3)
    best = brute_force(as_graph(10, e, pop), 3, lower, upper)
    g = nx.Graph()
    g.add_edges_from(e.tolist())
    nx.set_node_attributes(g, {v: float(pop[v]) for v in range(10)}, "pop")
    net = co.ChannelNetwork.from_graph(g, ["pop"])
    model = TerritoryDesign(k=3, objective="cut_edges", balance={"pop": (lower, upper)})
    d = model.build(net).state["data"]
    res = solve_split(d, math.inf, 30.0)
    assert res.complete and 0 < res.bound <= best
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plan = model.solve(net)
    assert plan.status == "optimal" and plan.objective == best and plan.bound <= best


def check_parts(n, edges, pop, lower, upper, label, cut):
    """Three connected parts, loads in bounds, ``cut`` edges between them."""
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from(edges.tolist())
    assert sorted(np.unique(label).tolist()) == [0, 1, 2]
    for t in (0, 1, 2):
        assert nx.is_connected(g.subgraph(np.flatnonzero(label == t).tolist()))
        assert lower <= pop[label == t].sum() <= upper
    assert int((label[edges[:, 0]] != label[edges[:, 1]]).sum()) == cut


def split_sides(partitions, n, edges, pop, lower, upper):
    """Every split into three connected parts with loads in [lower, upper] (the ``partitions`` fixture), as
    ``(cut, ends, border)``: ``cut`` its cut edges (a mask), ``ends`` the parts whose rest is connected, ``border[t]``
    whether part ``t``'s boundary crosses the outer face's boundary (face 0 of :func:`dual_map`)."""
    g = as_graph(n, edges, pop)
    dm = dual_map(n, edges, pop)
    outer = np.zeros(len(edges), dtype=bool)
    outer[dm.edge[dm.tail == 0]] = True
    a, b = edges[:, 0], edges[:, 1]
    for label in partitions(g, 3, lower, upper):
        cut = label[a] != label[b]
        ends = [t for t in range(3) if nx.is_connected(g.subgraph(np.flatnonzero(label != t).tolist()))]
        yield cut, ends, [bool((outer & cut & ((label[a] == t) | (label[b] == t))).any()) for t in range(3)]


@pytest.fixture(name="three_part_splits", scope="session")
def three_part_splits_fixture(partitions):
    def three_part_splits(n, edges, pop, lower, upper):
        """:func:`split_sides` as ``(cut, kind)``, ``kind`` how the parts sit: "path" (one part's rest falls
        apart), else how many of the three boundaries touch the outer face: 3 (the theta's branch point), 2
        (inside one of its paths) or 0."""
        return [(int(cut.sum()), "path" if len(ends) < 3 else sum(border))
                for cut, ends, border in split_sides(partitions, n, edges, pop, lower, upper)]

    return three_part_splits


THREE = [(n, seed, tol) for n, seed in ((10, 0), (10, 1), (11, 2), (11, 3), (11, 4), (11, 5)) for tol in (0.1, 0.3)]


# maps where a wrong theta bound showed (a scan of 225 maps with 9-11 regions): no rounding slack at 40-300 quanta
# (10/7/0.03, 10/24/0.1, 11/19/0.1), the third arm taken as long as the second (9/9/0.3, 9/21/0.1)
THETA = THREE + [(10, 7, 0.03), (10, 24, 0.1), (11, 19, 0.1), (9, 9, 0.3), (9, 21, 0.1)]
# and one where the buckets' floor step alone (an arc that moves a weight up a bucket dropped) did (n550's scan)
THETA += [(11, 1000, 0.03)]


@pytest.mark.parametrize("n,seed,tol", THETA)
def test_outer_theta_bound_stays_below_every_split_around_the_outer_face(three_part_splits, n, seed, tol):
    # brute force: the fewest cut edges over the splits whose three boundaries all touch the outer face (each
    # part's rest connected); the bound at exact weights (small integer loads: quantum 1) and at coarse ones
    from channelopt.models.territories.planar import outer_theta_bound

    e, pop = delaunay_map(n, seed)
    lower, upper = math.ceil((1 - tol) * pop.sum() / 3), math.floor((1 + tol) * pop.sum() / 3)
    splits = three_part_splits(n, e, pop, lower, upper)
    best = min(c for c, kind in splits if kind == 3)
    exact = []
    for resolution in (20000, 300, 100, 40):
        for depth in (3, 6, len(e)):
            bound = outer_theta_bound(n, e, pop, lower, upper, depth=depth, cap=len(e) + 1, resolution=resolution)
            assert bound <= best
            exact.append(bound)
    # exact weights, every arm searched: the walks' bound met the brute force on these maps
    assert exact[2] == best


# maps whose optimum has one part enclosed by the other two (a scan of 235 maps): dropping that case, or the
# shared half of the path through the outer face, put the bound above the optimum there
ENCLOSED = [(9, 8, 0.03), (10, 8, 0.03), (11, 24, 0.3), (9, 23, 0.1)]
# maps where counting the shared half of P1 from one arc further out than the boundary's nearest face put the
# enclosed-part bound above the brute force (a scan of 150 maps with 9-10 regions)
ENCLOSED_NEAR = [(9, 0, 0.1), (9, 5, 0.03), (10, 1, 0.3), (10, 6, 0.1), (10, 21, 0.3)]


@pytest.mark.parametrize("n,seed,tol", THREE + ENCLOSED + ENCLOSED_NEAR)
def test_three_territories_bound_by_arrangement_stays_below_the_brute_force_optimum(three_part_splits, n, seed, tol):
    from channelopt.models.territories.planar import three_bound

    e, pop = delaunay_map(n, seed)
    lower, upper = math.ceil((1 - tol) * pop.sum() / 3), math.floor((1 + tol) * pop.sum() / 3)
    splits = three_part_splits(n, e, pop, lower, upper)
    best = min(c for c, _ in splits)
    c = bisection(n, e, pop, lower, upper, limit=len(e) + 1, rest=(2 * lower, 2 * upper))
    assert c.complete
    bound, label, cut = three_bound(n, e, pop, lower, upper, c.bound, len(e) + 1, time.perf_counter() + 60)
    assert math.ceil(1.5 * c.bound) <= bound <= best
    if label is not None:  # a traced plan keeps the rules: three connected parts within the bounds, its cut counted
        check_parts(n, e, pop, lower, upper, label, cut)


@pytest.mark.parametrize("n,seed,tol", ENCLOSED_NEAR + ENCLOSED)
def test_enclosed_bound_stays_below_every_split_with_a_part_off_the_outer_face(three_part_splits, n, seed, tol):
    # brute force: the fewest cut edges over the splits in which some part's boundary avoids the outer face
    # (kinds 2 and 0; ENCLOSED: the optimum is one), each part's rest connected; the bound at exact weights
    # (quantum 1) and at coarse ones
    from channelopt.models.territories.planar import enclosed_bound, outer_theta_bound

    e, pop = delaunay_map(n, seed)
    lower, upper = math.ceil((1 - tol) * pop.sum() / 3), math.floor((1 + tol) * pop.sum() / 3)
    splits = three_part_splits(n, e, pop, lower, upper)
    best = min(c for c, kind in splits if kind in (0, 2))
    c = bisection(n, e, pop, lower, upper, limit=len(e) + 1, rest=(2 * lower, 2 * upper))
    theta = outer_theta_bound(n, e, pop, lower, upper, depth=len(e), cap=len(e) + 1, resolution=20000)
    bounds = [enclosed_bound(n, e, pop, lower, upper, c=c.bound, theta=theta, want=len(e) + 1,
                             deadline=time.perf_counter() + 60, resolution=r) for r in (20000, 300, 40)]
    assert max(bounds) <= best
    assert min(bounds) >= math.ceil(1.5 * c.bound)  # never below what c alone gives
    if (n, seed, tol) in ((9, 5, 0.03), (10, 21, 0.3)):
        assert bounds[0] == best  # exact weights: the distance to the outer face meets the brute force here


def test_faces_are_numbered_by_their_distance_from_the_outer_face():
    # the enclosed-part search reads a walk's nearest face as its first one: breadth-first distances on the dual
    from channelopt.models.territories.planar import _outer_order

    e, pop = delaunay_map(30, 3)
    dm = dual_map(30, e, pop)
    ordered, near = _outer_order(dm)
    g = nx.MultiGraph()
    g.add_edges_from(zip(ordered.tail.tolist(), ordered.head.tolist()))
    dist = nx.single_source_shortest_path_length(g, 0)
    assert [dist[f] for f in range(ordered.n_faces)] == near.tolist()
    assert (np.diff(near) >= 0).all() and near[0] == 0 and near[-1] >= 2
    # the same map: each edge still crosses the same pair of faces, renumbered
    assert sorted(np.bincount(ordered.tail, minlength=dm.n_faces).tolist()) == sorted(
        np.bincount(dm.tail, minlength=dm.n_faces).tolist())
    assert (ordered.weight == dm.weight).all() and (ordered.edge == dm.edge).all()


def test_three_territories_bound_on_a_grid():
    # 3x6 grid, 6 cells each: two straight cuts make 6 cut edges (brute force below); the fewest edges around 6
    # cells with a connected rest are 3 (two end columns), so 1.5 c gives 5; no three boundaries meet in fewer
    # than 8 edges and no part avoids the outer face, so the bound by arrangement is 2 c = 6, the optimum
    from channelopt.models.territories.planar import solve_split

    g = nx.convert_node_labels_to_integers(nx.grid_2d_graph(3, 6))
    nodes = set(g)
    best = math.inf
    for a in itertools.combinations(sorted(nodes - {0}), 5):
        a = {0, *a}
        if not nx.is_connected(g.subgraph(a)):
            continue
        rest = sorted(nodes - a)
        for b in itertools.combinations(rest[1:], 5):
            b = {rest[0], *b}
            c = nodes - a - b
            if nx.is_connected(g.subgraph(b)) and nx.is_connected(g.subgraph(c)):
                part = {v: 0 if v in a else 1 if v in b else 2 for v in nodes}
                best = min(best, sum(part[u] != part[v] for u, v in g.edges()))
    assert best == 6
    nx.set_node_attributes(g, 1.0, "pop")
    d = TerritoryDesign(k=3, objective="cut_edges", balance={"pop": (6, 6)}).build(
        co.ChannelNetwork.from_graph(g, ["pop"])).state["data"]
    res = solve_split(d, math.inf, 30.0)
    assert res.bound == best


PLANAR_SIGINT = '''
import json, os, signal, sys, warnings
import channelopt as co
from channelopt.datasets import synthetic_dual_graph
from channelopt.models.territories import TerritoryDesign, planar

g = synthetic_dual_graph(200, seed=5)
total = sum(p for _, p in g.nodes(data="TOTPOP"))
lower, upper = 0.995 * total / 3, 1.005 * total / 3
search = getattr(planar, "STAGE")

def pass_with_ctrl_c(*args, **kwargs):
    # a real SIGINT, delivered inside the dual-cycle search's own Python steps
    os.kill(os.getpid(), signal.SIGINT)
    return search(*args, **kwargs)

setattr(planar, "STAGE", pass_with_ctrl_c)
net = co.ChannelNetwork.from_graph(g, ["TOTPOP"])
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    plan = TerritoryDesign(k=3, objective="cut_edges", balance={"TOTPOP": (lower, upper)}).solve(
        net, solver=co.Solver("highs", time_limit=60))
a = plan.assignments
print("RESULT " + json.dumps({"status": plan.status, "termination": plan.info.termination,
                              "objective": plan.objective, "bound": plan.bound,
                              "label": dict(zip(map(int, a["region_id"]), map(str, a["territory"]))),
                              "edges": [list(e) for e in g.edges], "pop": [g.nodes[v]["TOTPOP"] for v in g],
                              "lower": lower, "upper": upper}))
'''


@pytest.mark.parametrize("stage", ["_pass", "_arms", "enclosed_bound"])
def test_ctrl_c_in_the_planar_search_returns_the_plan_in_hand(tmp_path, run_result, plan_result_rules, stage):
    # before the catch, KeyboardInterrupt escaped the search and the carved plan in hand was lost; "_arms" is
    # the k=3 theta search, after the search for c, and "enclosed_bound" the search after the theta
    r = run_result(tmp_path / "planar_sigint.py", PLANAR_SIGINT.replace("STAGE", stage))
    assert (r["status"], r["termination"]) == ("feasible", "interrupted")
    plan_result_rules(r, 3, 200)  # the plan keeps every rule it states, checked on the graph
    assert 0 <= r["bound"] <= r["objective"]


def test_the_first_split_limiting_the_k3_search_keeps_to_its_share(monkeypatch):
    # 08e8709: on WV (k=3, +-0.5%) the first split found nothing for 58 of the stage's 60 s while the MILP
    # proves the map in 19 s; it only limits the search for c, so it gets FIRST_SPLIT_SHARE of the time
    from channelopt.models.territories import planar

    asked = []
    real = planar.first_split

    def first_split(*args, **kwargs):
        asked.append(kwargs["seconds"])
        return real(*args, **kwargs)

    monkeypatch.setattr(planar, "first_split", first_split)
    g = nx.convert_node_labels_to_integers(nx.grid_2d_graph(3, 6))
    nx.set_node_attributes(g, 1.0, "pop")
    d = TerritoryDesign(k=3, objective="cut_edges", balance={"pop": (6, 6)}).build(
        co.ChannelNetwork.from_graph(g, ["pop"])).state["data"]
    res = planar.solve_split(d, math.inf, 40.0)
    assert res.bound == 6  # the brute-force optimum above: the share leaves the bound as it was
    assert asked and max(asked) <= 0.1 * 40.0 + 1e-9


# maps where the shortest first bond of carve leaves a rest that splits along more edges than a longer one's (a
# scan of 300 maps with 10-11 regions: carve_many was better on about a third of them)
CARVE_MANY = [(10, 1, 0.2), (10, 5, 0.05), (10, 16, 0.05)]


@pytest.mark.parametrize("n,seed,tol", CARVE_MANY)
def test_carving_from_several_first_parts_keeps_the_rules_and_cuts_fewer_edges(brute_force, n, seed, tol):
    from channelopt.models.territories.planar import carve, carve_many

    e, pop = delaunay_map(n, seed)
    lower, upper = math.ceil((1 - tol) * pop.sum() / 3), math.floor((1 + tol) * pop.sum() / 3)
    best = brute_force(as_graph(n, e, pop), 3, lower, upper)
    bounds = np.array([float(lower)]), np.array([float(upper)])
    one = carve(n, e, pop[:, None], *bounds, 3)
    many = carve_many(n, e, pop[:, None], *bounds, 3)
    cut = int((many[e[:, 0]] != many[e[:, 1]]).sum())
    check_parts(n, e, pop, lower, upper, many, cut)  # connected, within the bounds, its cut counted
    assert best <= cut < int((one[e[:, 0]] != one[e[:, 1]]).sum())


def test_the_searches_survive_a_walk_that_passes_one_arc_again_and_again(brute_force):
    # a bridge (0-1) makes a dual loop at one face; a walk may take it again and again, which the weight offset
    # did not allow for: the key ran into the next face and first_split raised IndexError. No split of this map
    # has both loads in [460, 508] (brute force below)
    e = np.array([[0, 1], [1, 2], [1, 4], [1, 9], [2, 4], [2, 5], [2, 6], [3, 6], [3, 7], [3, 8], [4, 5], [4, 9],
                  [5, 6], [5, 7], [5, 9], [6, 7], [7, 8]])
    pop = np.array([129.0, 107.0, 119.0, 135.0, 117.0, 64.0, 82.0, 54.0, 89.0, 94.0])
    assert brute_force(as_graph(10, e, pop), 2, 460, 508) == math.inf
    from channelopt.models.territories.planar import first_split

    assert first_split(10, e, pop, (460, 508), (460, 508)) is None
    assert bisection(10, e, pop, 460, 508, limit=len(e) + 1, resolution=250).label is None


@pytest.mark.parametrize("n,seed,tol", [(10, 16, 0.05), (10, 8, 0.2)])  # carve is beaten on the built model's order
def test_the_k3_bound_stage_returns_the_plan_from_several_first_parts(brute_force, n, seed, tol):
    # solve_split carves from several first parts before its searches and hands the plan back (search.py keeps
    # it where it cuts fewer edges than the warm start's, here carve's)
    from channelopt.models.territories.planar import carve, solve_split

    e, pop = delaunay_map(n, seed)
    lower, upper = math.ceil((1 - tol) * pop.sum() / 3), math.floor((1 + tol) * pop.sum() / 3)
    g = nx.Graph()
    g.add_edges_from(e.tolist())
    nx.set_node_attributes(g, {v: float(pop[v]) for v in range(n)}, "pop")
    d = TerritoryDesign(k=3, objective="cut_edges", balance={"pop": (lower, upper)}).build(
        co.ChannelNetwork.from_graph(g, ["pop"])).state["data"]
    one = carve(d.n, d.edges, d.loads, d.lower, d.upper, 3)
    res = solve_split(d, float((one[d.edges[:, 0]] != one[d.edges[:, 1]]).sum()), 30.0)
    label = res.label
    assert label is not None and res.cut < int((one[d.edges[:, 0]] != one[d.edges[:, 1]]).sum())
    check_parts(d.n, d.edges, d.loads[:, 0], lower, upper, label, res.cut)
    assert res.bound <= brute_force(as_graph(n, e, pop), 3, lower, upper) <= res.cut


def enclosed_with_profile(n, e, pop, lower, upper, c, cap, resolution):
    """:func:`enclosed_bound` given the theta's profile by the shortest arm (as :func:`three_bound` hands it)."""
    from channelopt.models.territories.planar import enclosed_bound, outer_theta_bound

    depth = max(1, cap - math.ceil(c))
    theta, profile = outer_theta_bound(n, e, pop, lower, upper, depth=depth, cap=cap, resolution=resolution,
                                       profile=True)
    # the profile ends at the theta bound and never rises with a longer shortest arm
    assert profile[-1] == theta and (np.diff(profile) <= 0).all()
    return enclosed_bound(n, e, pop, lower, upper, c=c, theta=np.maximum(profile, 1.5 * c), want=len(e) + 1,
                          deadline=time.perf_counter() + 60, resolution=resolution)


# maps where reading the profile at q arcs (not at the longer half's K - |G| - q) put the enclosed-part bound
# above the brute force (a scan of 150 maps with 9-11 regions)
PROFILE = [(9, 114, 0.03), (11, 128, 0.1), (11, 143, 0.03), (10, 148, 0.1)]


@pytest.mark.parametrize("n,seed,tol", THREE + ENCLOSED + ENCLOSED_NEAR + PROFILE)
def test_enclosed_bound_read_by_the_shortest_arm_stays_below_the_brute_force(three_part_splits, n, seed, tol):
    # brute force: the fewest cut edges over the splits in which some part's boundary avoids the outer face;
    # the profile says how short the arm along P1's longer half can be, at exact (quantum 1) and coarse weights,
    # searched deep (every arm) and shallow (the cap three_bound uses: a few edges above 1.5 c)
    e, pop = delaunay_map(n, seed)
    lower, upper = math.ceil((1 - tol) * pop.sum() / 3), math.floor((1 + tol) * pop.sum() / 3)
    splits = three_part_splits(n, e, pop, lower, upper)
    best = min((c for c, kind in splits if kind in (0, 2)), default=len(e) + 1)
    c = bisection(n, e, pop, lower, upper, limit=len(e) + 1, rest=(2 * lower, 2 * upper))
    for resolution in (20000, 300, 60):
        for cap in (math.ceil(1.5 * c.bound) + 2, len(e) + 1):
            bound = enclosed_with_profile(n, e, pop, lower, upper, c.bound, cap, resolution)
            assert math.ceil(1.5 * c.bound) <= bound <= best


@settings(max_examples=12, deadline=None)
@given(st.integers(9, 10), st.integers(0, 10**6), st.sampled_from([0.03, 0.1, 0.3]))
def test_three_territory_bounds_stay_below_the_brute_force_on_random_maps(three_part_splits, n, seed, tol):
    # every split into three connected parts within the bounds, against three_bound (all cases, default
    # rounds) and the enclosed-part bound with the profile, on random Delaunay maps
    from channelopt.models.territories.planar import three_bound

    e, pop = delaunay_map(n, seed)
    lower, upper = math.ceil((1 - tol) * pop.sum() / 3), math.floor((1 + tol) * pop.sum() / 3)
    splits = three_part_splits(n, e, pop, lower, upper)
    assume(splits)
    best = min(cut for cut, _ in splits)
    c = bisection(n, e, pop, lower, upper, limit=len(e) + 1, rest=(2 * lower, 2 * upper))
    bound, label, cut = three_bound(n, e, pop, lower, upper, c.bound, len(e) + 1, time.perf_counter() + 60)
    assert bound <= best
    if label is not None:
        check_parts(n, e, pop, lower, upper, label, cut)
    enclosed = min((cut for cut, kind in splits if kind in (0, 2)), default=len(e) + 1)
    assert enclosed_with_profile(n, e, pop, lower, upper, c.bound, math.ceil(1.5 * c.bound) + 2, 300) <= enclosed


def test_the_enclosed_part_reads_the_theta_by_its_shortest_arm():
    # by hand: a boundary G of 44 arcs one arc from the outer face, c = 27. The trade with the theta alone (50):
    # q = 2 gives max(44 + 4, 50 - 2) = 48, and c + 44/2 = 49 holds it up: 49. With the profile (a theta whose
    # shortest arm has at most l arcs has at least 59 - l arcs, 50 from l = 9 on), a cut K needs for some q >= 1
    # with 2q <= K - 44: 59 - (K - 44 - q) <= K + q, i.e. K >= 51.5, so 52 (q = 1: the profile at 7 arcs, 52,
    # is at most 53); a3's 1.5 x 44 = 66 does not cap it
    from channelopt.models.territories.planar import _enclosed_cut

    assert _enclosed_cut(44, 1, 27, 50.0) == 49
    profile = np.maximum(59.0 - np.arange(10), 50.0)
    assert _enclosed_cut(44, 1, 27, profile) == 52
    # a steep profile (no theta with a shortest arm of 3 arcs or fewer under 70): q = 2, K = 50 has the shortest
    # arm at most 50 - 44 - 2 = 4 arcs, where the profile (52) is at most K + q = 52; K = 49 would need it at 3
    # arcs with q = 2 (70) or at 4 with q = 1 (52 > 50), and q = 3 needs K >= 50: so 50, not the 52 or 51 that
    # reading the profile at q or at K - 44 - 2q arcs would claim
    assert _enclosed_cut(44, 1, 27, np.array([70.0, 70, 70, 70, 52, 50])) == 50
    # the old reading is what a flat profile gives
    assert _enclosed_cut(44, 1, 27, np.full(5, 50.0)) == 49


@pytest.fixture(name="path_splits_by_border", scope="session")
def path_splits_by_border_fixture(partitions):
    def path_splits_by_border(n, edges, pop, lower, upper):
        """The splits of :func:`split_sides` whose parts sit in a row: ``(cut, both)``, ``both`` True when both
        end parts' boundaries cross the outer face's boundary."""
        return [(int(cut.sum()), all(border[t] for t in ends))
                for cut, ends, border in split_sides(partitions, n, edges, pop, lower, upper) if len(ends) < 3]

    return path_splits_by_border


# maps where the end parts' stretches of the border read the other way round (j, ..., i) put the strip bound
# above the brute force (a scan of 30 maps x 3 tolerances); on each the bound at exact weights is the optimum, above 2 c
STRIP = [(9, 6, 0.3), (9, 15, 0.3), (9, 21, 0.1), (9, 22, 0.1)]


@pytest.mark.parametrize("n,seed,tol", STRIP + ENCLOSED)
def test_strip_bound_stays_below_every_split_in_a_row(path_splits_by_border, n, seed, tol):
    # brute force: the fewest cut edges over the splits whose parts sit in a row (the middle part's rest falls
    # apart); the bound at exact weights (quantum 1) and at coarse ones, never under 2 c
    from channelopt.models.territories.planar import strip_bound

    e, pop = delaunay_map(n, seed)
    lower, upper = math.ceil((1 - tol) * pop.sum() / 3), math.floor((1 + tol) * pop.sum() / 3)
    splits = path_splits_by_border(n, e, pop, lower, upper)
    best = min((cut for cut, _ in splits), default=len(e) + 1)
    c = bisection(n, e, pop, lower, upper, limit=len(e) + 1, rest=(2 * lower, 2 * upper))
    bounds = [strip_bound(n, e, pop, lower, upper, c=c.bound, want=len(e) + 1, deadline=time.perf_counter() + 60,
                          resolution=r) for r in (20000, 300, 40)]
    assert max(bounds) <= best
    assert min(bounds) >= min(math.ceil(2 * c.bound), len(e) + 1)
    if (n, seed, tol) in STRIP:
        assert bounds[0] == best > 2 * c.bound  # the stretches apart, exact weights: the optimum, above 2 c


def test_strip_bound_on_a_grid():
    # 3x9 grid, 9 cells each: the fewest edges around 9 cells with a connected rest are 3 (an end block), and two
    # end blocks cut 6; the bound is 2 c = 6 (both ends at the border, their stretches apart). With 3x5 cells
    # in the bounds the two 3-edge bonds around a 3x3 end block overlap in nothing either: 6 again
    from channelopt.models.territories.planar import strip_bound

    g = nx.convert_node_labels_to_integers(nx.grid_2d_graph(3, 9))
    e = np.array(list(g.edges()))
    assert strip_bound(27, e, np.ones(27), 9, 9, c=3, want=10, deadline=time.perf_counter() + 30) == 6
    # nothing under the cap: the cap comes back
    assert strip_bound(27, e, np.ones(27), 9, 9, c=3, want=5, deadline=time.perf_counter() + 30) == 5


# maps where the enclosed-part bound with the ring (two parts sharing the border cross it at the same two edges)
# meets the brute force; two units more on the ring put it above there
RING = [(9, 0, 0.3), (9, 4, 0.3)]
# maps where the ring through the boundary's first face (one of the two parts has it on its boundary) lifts the
# bound to the brute force (a scan of 40 maps x 3 tolerances x 3 resolutions: 15 lifts, no violation), and maps
# where taking both parts' walks through that face (D_s + D_s^T) put it above the brute force
FACE = [(9, 38, 0.3), (10, 12, 0.3), (10, 13, 0.03)]
FACE_BOTH = [(9, 0, 0.1), (9, 2, 0.1), (9, 5, 0.03)]


@pytest.mark.parametrize("n,seed,tol", RING + FACE + FACE_BOTH + ENCLOSED + ENCLOSED_NEAR)
def test_enclosed_bound_with_the_ring_stays_below_every_split_with_a_part_off_the_outer_face(three_part_splits, n,
                                                                                             seed, tol):
    # brute force over the splits with a part whose boundary avoids the outer face; the ring (the least
    # D[i, j] + D[j, i]) and the walks through each boundary's first face, at exact and coarse weights
    from channelopt.models.territories.planar import _strip_and_ring, enclosed_bound, outer_theta_bound

    e, pop = delaunay_map(n, seed)
    lower, upper = math.ceil((1 - tol) * pop.sum() / 3), math.floor((1 + tol) * pop.sum() / 3)
    splits = three_part_splits(n, e, pop, lower, upper)
    best = min((c for c, kind in splits if kind in (0, 2)), default=len(e) + 1)
    c = bisection(n, e, pop, lower, upper, limit=len(e) + 1, rest=(2 * lower, 2 * upper))
    theta = outer_theta_bound(n, e, pop, lower, upper, depth=len(e), cap=len(e) + 1, resolution=20000)
    bounds, plain = [], []
    for r in (20000, 300, 60):
        _, ring, table = _strip_and_ring(n, e, pop, lower, upper, c.bound, len(e) + 1, len(e),
                                         time.perf_counter() + 60, r)
        assert ring >= 2 * c.bound
        for out, tab in ((bounds, table), (plain, None)):
            out.append(enclosed_bound(n, e, pop, lower, upper, c=c.bound, theta=theta, want=len(e) + 1,
                                      deadline=time.perf_counter() + 60, resolution=r, ring=ring, table=tab))
    assert max(bounds) <= best
    assert all(b >= p for b, p in zip(bounds, plain))
    if (n, seed, tol) in RING:
        assert plain[0] == best
    if (n, seed, tol) in FACE:
        assert bounds[0] == best > plain[0]


def walks_through(dm, s, total, lo, hi, most):
    """``W[p, q]``: the fewest arcs (at most ``most``; ``most + 1`` for none) of a closed dual walk that leaves the
    outer face (face 0) across the edge at position ``p`` of ``dm.outer``, passes face ``s``, comes back across the
    edge at position ``q`` and never enters face 0 between, with its exact weight modulo ``total`` in ``[lo, hi]``
    (its left side's load). Breadth first over (face, whether it passed ``s``, weight modulo ``total``)."""
    pos = {int(dm.edge[a]): i for i, a in enumerate(dm.outer)}
    out: dict[int, list[int]] = {}
    for a in range(len(dm.tail)):
        out.setdefault(int(dm.tail[a]), []).append(a)
    w = [round(x) for x in dm.weight.tolist()]  # whole-number loads: whole-number weights
    found = np.full((len(dm.outer), len(dm.outer)), most + 1, dtype=np.int64)
    for p, first in enumerate(dm.outer.tolist()):
        f = int(dm.head[first])
        start = (f, f == s, w[first] % total)
        dist, queue = {start: 1}, [start]
        for face, passed, r in queue:  # breadth first: the queue grows as it is read
            length = dist[(face, passed, r)]
            if length >= most:
                continue
            for a in out[face]:
                h, nr = int(dm.head[a]), (r + w[a]) % total
                if h == 0:
                    if passed and lo <= nr <= hi:
                        found[p, pos[int(dm.edge[a])]] = min(found[p, pos[int(dm.edge[a])]], length + 1)
                elif (h, passed or h == s, nr) not in dist:
                    dist[(h, passed or h == s, nr)] = length + 1
                    queue.append((h, passed or h == s, nr))
    return found


# maps where a zero rounding slack in _ring_through put its value above the walks' (a scan of 36 maps with 9-11
# regions x 3 tolerances, 2 tables, 6 resolutions: these at 20 and 300 quanta; also 10/11/0.03 at 60 and 9/10/0.3
# at 40). A search three layers short fails on them too; one or two layers short cannot fail: a walk that counts
# (under ``need``) has halves of at most ``need - min T - 2`` arcs, and the search reaches ``need - min T``
RING_SLACK = [(9, 5, 0.1), (11, 10, 0.03)]


@pytest.mark.parametrize("n,seed,tol", RING_SLACK + FACE[:1])
def test_the_ring_through_a_face_stays_below_the_shortest_walks_through_it(n, seed, tol):
    # the least D_s[p, q] + T[q, p] over the walks through face s (D_s at least T: the max below), against the
    # walks found breadth first with exact weights, for three tables T (zero: the shortest walk through s alone;
    # a constant; a random one, not symmetric); searched just deep enough (``need`` one above the answer: the
    # search must reach the longest walk that counts), at exact weights (quantum 1) and coarse ones (300, 60 and
    # 20 quanta in the total)
    from channelopt.models.territories.planar import _ring_through, _setup

    e, pop = delaunay_map(n, seed)
    total = int(pop.sum())
    lower, upper = math.ceil((1 - tol) * total / 3), math.floor((1 + tol) * total / 3)
    dm = dual_map(n, e, pop)
    side = max(lower, total - 2 * upper), min(upper, total - 2 * lower)  # one part's load, the other two's in bounds
    most, d = len(e) + 2, len(dm.outer)
    rng = np.random.default_rng(seed)
    for s in range(1, dm.n_faces):
        walks = walks_through(dm, s, total, *side, most)
        # at exact weights the window's ends are rounded outwards (one unit each side): the value lies between
        wide = walks_through(dm, s, total, side[0] - 1, side[1] + 1, most)
        short = int(walks.min())
        for table in (np.zeros((d, d), dtype=np.int64), np.full((d, d), short // 2, dtype=np.int64),
                      rng.integers(0, 2 * short + 1, (d, d))):
            best = int((np.maximum(walks, table) + table.T).min())
            for need in (best + 1, best + 2):
                for resolution in (20000, 300, 60, 20):
                    ctx = _setup(n, e, pop, (lower, upper), (2 * lower, 2 * upper), most, resolution, dm)
                    got = _ring_through(ctx, s, table, need, time.perf_counter() + 60)
                    assert got <= min(best, need), (s, need, resolution)
                    if resolution == 20000:
                        assert got >= min(int((np.maximum(wide, table) + table.T).min()), need), (s, need)


@pytest.mark.parametrize("resolution", [20000, 300, 97, 40])
@pytest.mark.parametrize("integral", [True, False])
def test_a_bucket_step_holds_every_exact_weight(resolution, integral):
    # a walk's exact weight W sits in bucket floor(W / quantum); one more arc of weight x moves it to one of the
    # arc's steps, whatever W: checked for every arc of a map against many W, with integer loads (quantum =
    # total / buckets, in integers; 20,000: quantum 1, one step an arc) and with fractional ones (floats)
    from fractions import Fraction

    from channelopt.models.territories.planar import _setup, _steps

    e, pop = delaunay_map(11, 3)
    if not integral:
        pop = pop + np.linspace(0.13, 0.71, len(pop))
    ctx = _setup(11, e, pop, (0, pop.sum()), (0, pop.sum()), len(e), resolution, None)
    first, count, exact = _steps(ctx)
    assert exact == integral
    if integral:
        total, big = int(pop.sum()), int(round(pop.sum() / ctx.quantum))
        quantum = Fraction(total, big)
        if resolution == 20000:
            assert (count == 1).all()  # whole quanta: no rounding at all
    else:
        quantum = Fraction(ctx.quantum)
    rng = np.random.default_rng(0)
    weights = [Fraction(int(v)) for v in rng.integers(-int(pop.sum()), int(pop.sum()), 300)]
    weights += [Fraction(float(v)) for v in rng.uniform(-pop.sum(), pop.sum(), 100)]
    for a in range(len(first)):
        x = Fraction(float(ctx.dm.weight[a]))
        moved = {math.floor((w + x) / quantum) - math.floor(w / quantum) for w in weights}
        assert moved <= set(range(int(first[a]), int(first[a] + count[a]))), a
    if resolution < 20000:
        assert (count == 2).any()  # some arc is not a whole number of quanta: its two steps are both needed


def test_the_theta_files_walks_by_the_bucket_of_their_exact_weight(three_part_splits):
    # 40 quanta of ~33 load on a 10-region map, +-3%: the balance window is about one quantum wide. Filed by the
    # bucket of their exact weight, the arms' differences are off by less than a quantum, and the bound meets the
    # brute force over the splits around the outer face; the rounded arc weights' sums (off by half a quantum an
    # arc, the window widened by 2 x depth x that) leave it far below
    from channelopt.models.territories.planar import outer_theta_bound

    e, pop = delaunay_map(10, 0)
    lower, upper = math.ceil(0.97 * pop.sum() / 3), math.floor(1.03 * pop.sum() / 3)
    best = min(c for c, kind in three_part_splits(10, e, pop, lower, upper) if kind == 3)
    kw = dict(depth=len(e), cap=len(e) + 1, resolution=40)
    assert outer_theta_bound(10, e, pop, lower, upper, buckets=True, **kw) == best
    assert outer_theta_bound(10, e, pop, lower, upper, buckets=False, **kw) < best - 3


@pytest.mark.parametrize("n,seed,tol", ENCLOSED + ENCLOSED_NEAR[:2])
def test_enclosed_rounds_carry_each_face_bound_to_the_finer_quanta(three_part_splits, n, seed, tol):
    # three_bound's rounds of the enclosed-part search (coarse quanta first) hand each face's bound on: every round
    # stays below the brute force over the splits with a part off the outer face, no face falls under what an
    # earlier round showed, and the bound is the least face's
    from channelopt.models.territories.planar import enclosed_bound, outer_theta_bound

    e, pop = delaunay_map(n, seed)
    lower, upper = math.ceil((1 - tol) * pop.sum() / 3), math.floor((1 + tol) * pop.sum() / 3)
    best = min((c for c, kind in three_part_splits(n, e, pop, lower, upper) if kind in (0, 2)), default=len(e) + 1)
    c = bisection(n, e, pop, lower, upper, limit=len(e) + 1, rest=(2 * lower, 2 * upper)).bound
    theta = outer_theta_bound(n, e, pop, lower, upper, depth=len(e), cap=len(e) + 1, resolution=20000)
    record = None
    for resolution in (13, 40, 300, 20000):
        bound, now = enclosed_bound(n, e, pop, lower, upper, c=c, theta=theta, want=len(e) + 1,
                                    deadline=time.perf_counter() + 60, resolution=resolution, floor=record, faces=True)
        assert bound <= best
        assert bound == min(float(now[1:].min()), len(e) + 1)
        if record is not None:
            assert (now[1:] >= record[1:]).all()
        # no less than the round alone: the floors skip faces, they do not stand in for the search
        assert bound >= enclosed_bound(n, e, pop, lower, upper, c=c, theta=theta, want=len(e) + 1,
                                       deadline=time.perf_counter() + 60, resolution=resolution)
        record = now
    # the exact round's faces handed to the coarsest: each face keeps the larger, so the bound stays the exact one
    assert enclosed_bound(n, e, pop, lower, upper, c=c, theta=theta, want=len(e) + 1, deadline=time.perf_counter() + 60,
                          resolution=13, floor=record) >= bound


def _warm_data(n, seed, k, tol):
    e, pop = delaunay_map(n, seed)
    lower, upper = math.ceil((1 - tol) * pop.sum() / k), math.floor((1 + tol) * pop.sum() / k)
    g = nx.Graph()
    g.add_edges_from(e.tolist())
    nx.set_node_attributes(g, {v: float(pop[v]) for v in range(n)}, "pop")
    return TerritoryDesign(k=k, objective="cut_edges", balance={"pop": (lower, upper)}).build(
        co.ChannelNetwork.from_graph(g, ["pop"])).state["data"]


@pytest.mark.parametrize("k,seed", [(3, 0), (4, 2)])
def test_a_carved_warm_start_skips_the_region_growing(monkeypatch, k, seed):
    # k >= 3: once the carving has a plan the region growing does not run (planar.WARM_HEURISTIC off); with the
    # switch on it runs and the better plan is kept
    from channelopt.models.territories import planar
    from channelopt.models.territories.heuristics import Result

    d = _warm_data(60, seed, k, 0.05)
    calls = []

    def heuristic(seconds):
        calls.append(seconds)
        return Result(label=np.zeros(d.n, dtype=np.int64), centres=None, objective=1e9, violation=1.0,
                      contiguous=False, seconds=0.0)

    res = planar.warm_plan(d, 5.0, heuristic)
    assert calls == []
    label = res.label
    assert sorted(np.unique(label).tolist()) == list(range(k))
    assert res.objective == float((label[d.edges[:, 0]] != label[d.edges[:, 1]]).sum())
    monkeypatch.setattr(planar, "WARM_HEURISTIC", True)
    again = planar.warm_plan(d, 5.0, heuristic)
    assert len(calls) == 1 and again.objective == res.objective  # the heuristic's plan breaks balance: carved kept


def _wv(benchdata):
    """WV (55 counties, k=3, +-0.5%) as the built model's data, and its published optimum."""
    import csv
    import json

    from networkx.readwrite import json_graph

    folder = benchdata / "districting"
    with open(folder / "optima_districting.csv", newline="") as fh:
        row = next(r for r in csv.DictReader(fh) if r["state"] == "WV" and r["contiguity"] == "contiguous")
    with open(folder / row["graph_file"]) as fh:
        net = co.ChannelNetwork.from_graph(json_graph.adjacency_graph(json.load(fh)), weight_attrs=["TOTPOP"])
    d = TerritoryDesign(k=3, objective="cut_edges", balance={"TOTPOP": (int(row["L"]), int(row["U"]))}).build(
        net).state["data"]
    return d, int(row["optimal_cut_edges"])


def test_a_carving_without_a_plan_leaves_the_region_growing_most_of_the_share(benchdata, monkeypatch):
    # WV: the carving finds no plan and, uncapped, searched its whole share; capped at planar.FIRST_PER_REGION
    # seconds a region (at least FIRST_FLOOR) the region growing gets the rest
    from channelopt.models.territories import planar

    d, _ = _wv(benchdata)
    calls, carves = [], []
    real = planar.first_plan

    def first_plan(data, seconds):
        carves.append(seconds)
        return real(data, seconds)

    monkeypatch.setattr(planar, "first_plan", first_plan)
    planar.warm_plan(d, 8.0, lambda s: calls.append(s))
    cap = max(planar.FIRST_PER_REGION * d.n, planar.FIRST_FLOOR)
    assert carves == [pytest.approx(cap)]
    assert len(calls) == 1 and calls[0] >= 8.0 - cap - 2.0


def test_the_bound_stage_first_split_is_capped_where_it_finds_none(benchdata, monkeypatch):
    # WV: the first split that limits the k=3 search finds no split and, uncapped, searched 4.2 CPU s (its whole
    # share under load); it gets planar.FIRST_PER_REGION seconds a region (at least FIRST_FLOOR), and the bound
    # still holds (published optimum 23)
    from channelopt.models.territories import planar

    d, optimum = _wv(benchdata)
    real, asked = planar.first_split, []

    def first_split(*args, **kwargs):
        asked.append(kwargs.get("seconds"))
        return real(*args, **kwargs)

    monkeypatch.setattr(planar, "first_split", first_split)
    monkeypatch.setattr(planar, "carve_many", lambda *args, **kwargs: None)  # only the stage's own first split
    res = planar.solve_split(d, float(optimum), 100.0)
    cap = max(planar.FIRST_PER_REGION * d.n, planar.FIRST_FLOOR)
    assert asked == [pytest.approx(cap)]
    assert res is not None and res.bound <= optimum
