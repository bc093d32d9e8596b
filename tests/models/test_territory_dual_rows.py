"""Set-partitioning dual rows in the labelling MILP (:func:`.labelling.dual_rows`) against brute force.

For duals ``pi`` and ``rc`` at most ``min c(S) - pi(S)`` over the connected balanced sets ``S`` (enumerated
here), every slot of every contiguous balanced partition must satisfy ``c(S_j) >= pi(S_j) + rc``; the rows
are checked at each partition's point of the model (``z[e,j] = max(0, x[u,j] - x[v,j])``), with ``rc`` the
exact minimum so that some rows are tight. The pricing's ``rc`` must stay a lower bound when its MIP stops
early.
"""

from __future__ import annotations

import itertools
import math

import networkx as nx
import numpy as np
import pytest

import channelopt as co
from channelopt.models.territories import TerritoryDesign, columns, labelling


def _sets(g: nx.Graph, lo: float, hi: float):
    """Every connected set with load in [lo, hi] as a bool array over ``list(g.nodes)``, with c(S) = |delta(S)|/2."""
    nodes = list(g.nodes)
    n = len(nodes)
    pop = np.array([g.nodes[v]["pop"] for v in nodes])
    pos = {v: i for i, v in enumerate(nodes)}
    edges = np.array([(pos[u], pos[v]) for u, v in g.edges])
    out = []
    for r in range(1, n + 1):
        for sub in itertools.combinations(range(n), r):
            if lo - 1e-9 <= pop[list(sub)].sum() <= hi + 1e-9 and nx.is_connected(g.subgraph([nodes[i] for i in sub])):
                m = np.zeros(n, dtype=bool)
                m[list(sub)] = True
                out.append((m, 0.5 * float((m[edges[:, 0]] != m[edges[:, 1]]).sum())))
    return out


def _least(sets, pi: np.ndarray) -> float:
    """min c(S) - pi(S) over the enumerated sets."""
    return min(c - float(pi[m].sum()) for m, c in sets)


def _setup(planar, window, n, seed, k, tol):
    g = planar(n, seed)
    lo, hi = window(g, k, tol)
    net = co.ChannelNetwork.from_graph(g, ["pop"])
    model = TerritoryDesign(k=k, objective="cut_edges", balance={"pop": (lo, hi)})
    return g, lo, hi, net, model


CASES = [(8, 3, 2, 0.1), (9, 11, 3, 0.3), (9, 40, 3, 0.1), (8, 7, 2, 0.3)]


@pytest.mark.parametrize("n, seed, k, tol", CASES)
def test_rows_hold_at_every_contiguous_balanced_partition(planar, window, canonical, partitions, n, seed, k, tol):
    g, lo, hi, net, model = _setup(planar, window, n, seed, k, tol)
    sets = _sets(g, lo, hi)
    parts = list(partitions(g, k, lo, hi))
    assert sets and parts
    built = model.build(net)
    d = built.state["data"]
    rng = np.random.default_rng(seed)
    duals = []
    for _ in range(4):
        pi = rng.uniform(-1.0, 3.0, d.n)
        duals.append((pi, _least(sets, pi)))  # the exact least reduced cost: some rows are tight
    res = columns.column_bound(d, 20.0)
    assert res.duals is not None and math.isfinite(res.rc)
    duals.append((res.duals, res.rc))
    # and one per root: the constant taken by the slot's first region in the symmetry order
    per_root = columns.root_least(d, duals[0][0], 60.0, floor=duals[0][1])
    assert (per_root[np.isfinite(per_root)] >= duals[0][1] - 1e-9).all()
    # the column generation priced by root: its bound holds and so do the rows from its least per root
    saved, columns.ROOT_PRICING = columns.ROOT_PRICING, True
    try:
        by_root = columns.column_bound(d, 20.0)
    finally:
        columns.ROOT_PRICING = saved
    e = np.asarray(d.edges)
    assert by_root.bound <= min(float((lab[e[:, 0]] != lab[e[:, 1]]).sum()) for lab in parts) + 1e-6
    assert by_root.least is not None
    ap = built.arrays
    before = ap.n_rows
    for pi, rc in [*duals, (duals[0][0], per_root), (by_root.duals, by_root.least)]:
        assert labelling.dual_rows(ap, d, pi, rc) == k
    a = ap.arrays()
    mat = _csr(a)
    rows = np.arange(before, ap.n_rows)
    x, z, r = ap.blocks["x"], ap.blocks["cutvar"], ap.blocks["r"]
    order = built.state["order"]
    tight = 0
    for lab in parts:
        lab = canonical(lab, order)  # slots as the symmetry rows number them (the per-slot rows need it)
        point = np.zeros(ap.n_cols)
        for j in range(k):
            point[x[np.flatnonzero(lab == j), j]] = 1.0
            point[r[order[np.flatnonzero(lab[order] == j)[0]], j]] = 1.0  # the slot's first region in order
            point[z[np.arange(len(e)), j]] = np.maximum(0.0, (lab[e[:, 0]] == j) * 1.0 - (lab[e[:, 1]] == j))
        act = mat[rows] @ point
        assert (act >= a.row_lower[rows] - 1e-7).all(), (lab, act - a.row_lower[rows])
        tight += int(np.isclose(act, a.row_lower[rows]).sum())
    assert tight > 0  # with the exact least reduced cost some slot of some plan meets its row


def _csr(a):
    from scipy.sparse import csr_matrix

    return csr_matrix((a.data, a.indices, a.indptr), shape=(len(a.row_lower), len(a.cost)))


@pytest.mark.parametrize("n, seed, k, tol", CASES)
def test_the_milp_with_the_rows_still_finds_the_optimum(planar, window, brute_force, n, seed, k, tol):
    # rows from the exact least reduced cost of random duals: the labelling MILP keeps the brute-force optimum
    g, lo, hi, net, model = _setup(planar, window, n, seed, k, tol)
    best = brute_force(g, k, lo, hi)
    sets = _sets(g, lo, hi)
    built = model.build(net)
    d = built.state["data"]
    rng = np.random.default_rng(seed + 1)
    duals = [(pi, _least(sets, pi)) for pi in rng.uniform(-1.0, 3.0, (3, d.n))]
    for pi, rc in duals:
        labelling.dual_rows(built.arrays, d, pi, rc)
    labelling.dual_rows(built.arrays, d, duals[0][0], columns.root_least(d, duals[0][0], 60.0, floor=duals[0][1]))
    plan = built.solve(co.Solver("highs", time_limit=60), warm_start=False)
    assert plan.status == "optimal"
    assert plan.objective == pytest.approx(best)


def _grid_map(rows: int, cols: int, seed: int) -> nx.Graph:
    g = nx.convert_node_labels_to_integers(nx.grid_2d_graph(rows, cols))
    rng = np.random.default_rng(seed)
    for v in g.nodes:
        g.nodes[v]["pop"] = float(rng.integers(1, 6))
    return g


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_an_early_stopped_pricing_mip_gives_a_lower_bound(cut_edge_data, seed):
    # the pricing MIP stopped at its first improving plan (quick=1) must report its dual bound, not that plan's
    # value: on these 4 x 4 grids (k=2) the first plan is not the cheapest for some of the duals
    g = _grid_map(4, 4, seed)
    total = sum(nx.get_node_attributes(g, "pop").values())
    lo, hi = 0.9 * total / 2, 1.1 * total / 2
    d = cut_edge_data(g, 2, lo, hi)
    sets = _sets(g, lo, hi)
    rng = np.random.default_rng(seed)
    pricing = columns._Pricing(d)
    solver = co.Solver("highs").start_clock()
    above = 0
    for _ in range(8):
        pi = rng.uniform(0.0, 2.5, d.n)
        least = _least(sets, pi)
        cols, lb = pricing.solve(pi, solver, 10.0, quick=1)
        assert lb <= least + 1e-6
        # the columns it returns are real sets with their own value at or above the least
        for m in cols:
            assert territory_value(d, m, pi) >= least - 1e-6
        above += bool(cols) and territory_value(d, cols[0], pi) > least + 1e-6
    pricing.close()
    assert above > 0  # the early stop happened: some first plan was above the least reduced cost


def territory_value(d, members: np.ndarray, pi: np.ndarray) -> float:
    return columns.territory_cost(d, members) - float(pi[members].sum())


@pytest.mark.parametrize("seconds", [0.3, 2.0])
def test_the_column_bound_reports_a_valid_rc_for_its_duals(cut_edge_data, seconds):
    # the (duals, rc) the rows are built from: rc at most the least reduced cost at those duals, also when the
    # search stops early; and sum pi + k rc is the bound it reports
    g = _grid_map(3, 5, 7)
    total = sum(nx.get_node_attributes(g, "pop").values())
    lo, hi = 0.9 * total / 3, 1.1 * total / 3
    d = cut_edge_data(g, 3, lo, hi)
    sets = _sets(g, lo, hi)
    res = columns.column_bound(d, seconds)
    assert res.duals is not None
    assert res.rc <= _least(sets, res.duals) + 1e-6
    assert res.bound == pytest.approx(float(res.duals.sum()) + 3 * res.rc)


@pytest.fixture
def stage_with_rows(monkeypatch):
    from channelopt.models.territories import search

    # the module objects the solve path reads (under --import-mode=importlib a doctest run of columns.py can
    # leave another object under the same name in sys.modules)
    monkeypatch.setattr(search.columns, "STAGE", True)
    monkeypatch.setattr(search.columns, "ROWS", True)
    monkeypatch.setattr(search.columns, "ROOT_PRICING", True)
    monkeypatch.setattr(search.columns, "STAGE_SECONDS", 2.0)


@pytest.mark.parametrize("seed", [0, 3, 5])
def test_the_solve_path_adds_the_rows_and_the_milp_keeps_the_optimum(planar, window, partitions, stage_with_rows,
                                                                       monkeypatch, seed):
    # borders of two lengths (the planar searches stay out): the column stage's duals enter the built MILP as
    # rows by root; solved again without the stage, the MILP with those rows still ends at the optimum
    from channelopt.models.territories import search

    g = planar(9, seed)
    for i, (u, v) in enumerate(g.edges):
        g.edges[u, v]["w"] = 1.0 + (i % 3 == 0)
    lo, hi = window(g, 3, 0.3)
    w = np.array([g.edges[u, v]["w"] for u, v in g.edges])
    e = np.array(list(g.edges))  # nodes are 0..n-1 in order
    best = min(float(w[lab[e[:, 0]] != lab[e[:, 1]]].sum()) for lab in partitions(g, 3, lo, hi))
    net = co.ChannelNetwork.from_graph(g, ["pop"])
    built = TerritoryDesign(k=3, objective="cut_edges", balance={"pop": (lo, hi)}, edge_weight="w").build(net)
    plan = built.solve(co.Solver("highs", time_limit=60))
    assert plan.status == "optimal" and plan.objective == pytest.approx(best)
    assert any(name.startswith("spdual") for name in built.arrays.row_blocks)
    monkeypatch.setattr(search.columns, "STAGE", False)
    again = built.solve(co.Solver("highs", time_limit=60), warm_start=False)
    assert again.info.solver == "highs"
    assert again.status == "optimal" and again.objective == pytest.approx(best)
    assert again.metrics["contiguity_verified"]
