"""Exact pricing by root (columns._RootPricing) against brute force on small maps, with and without cut variables.

Each root ``p``'s MIP must find the least ``c(S) - pi(S) - sum_T sigma_T floor(|S & T| / 2)`` over the connected
balanced sets ``S`` holding ``p``'s region within the regions ``p`` may hold (the labelling model's fixing,
:func:`.labelling.symmetric_fixing`, read here as the definition of that domain). The sets are enumerated here by
bit masks; separator rows, the up-front rooted rows, MIP starts and the cut variables' rows must all leave that
least where it is, at several duals in a row on the same models (rows and starts kept as in a run), and a cutoff
must read as ``least >= cutoff`` only.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import channelopt as co
from channelopt.models.territories import columns, master_cuts
from channelopt.models.territories.labelling import symmetric_fixing


def _connected_sets(d) -> np.ndarray:
    """Every connected set with every load in its bounds, as bool rows (all ``2^n`` masks, ``n <= 16``)."""
    n = d.n
    masks = np.arange(1, 2**n, dtype=np.int64)
    bits = ((masks[:, None] >> np.arange(n)) & 1).astype(bool)
    ok = np.ones(len(masks), dtype=bool)
    for a in range(d.loads.shape[1]):
        load = bits @ d.loads[:, a]
        ok &= (load >= d.lower[a] - 1e-9) & (load <= d.upper[a] + 1e-9)
    nb = np.zeros(n, dtype=np.int64)
    for u, v in np.asarray(d.edges).reshape(-1, 2).tolist():
        nb[u] |= 1 << v
        nb[v] |= 1 << u
    out = []
    for m, row in zip(masks[ok].tolist(), bits[ok]):
        reach = m & -m
        while True:
            grow = reach
            for v in range(n):
                if reach >> v & 1:
                    grow |= nb[v] & m
            if grow == reach:
                break
            reach = grow
        if reach == m:
            out.append(row)
    return np.array(out, dtype=bool)


def _domains(d) -> list[tuple[int, np.ndarray]]:
    """``(root region, allowed regions)`` by possible root position, as the labelling model's fixing gives them."""
    order, root_ok, member_ok = symmetric_fixing(d, True)
    out = []
    for p in np.flatnonzero(root_ok.any(axis=1)).tolist():
        pos = member_ok[:, root_ok[p]].any(axis=1)
        pos[:p] = False
        pos[p] = True
        allowed = np.zeros(d.n, dtype=bool)
        allowed[order[pos]] = True
        out.append((int(order[p]), allowed))
    return out


def _maps(planar, window, cut_edge_data):
    # two Delaunay maps and a grid with uneven loads; k = 3, loads within +-25% of a third
    out = []
    for n, seed in ((14, 3), (15, 8)):
        g = planar(n, seed)
        out.append(cut_edge_data(g, 3, *window(g, 3, 0.25)))
    import networkx as nx

    g = nx.convert_node_labels_to_integers(nx.grid_2d_graph(3, 5))
    for v, p in zip(g.nodes, [5, 1, 1, 2, 1, 5, 5, 3, 1, 1, 2, 3, 2, 1, 4]):
        g.nodes[v]["pop"] = float(p)
    out.append(cut_edge_data(g, 3, *window(g, 3, 0.25)))
    return out


@pytest.mark.parametrize("with_cuts", [False, True])
@pytest.mark.parametrize("setting", ["default", "other", "rooted other", "neighbours"])
@pytest.mark.parametrize("case", [0, 1, 2])
def test_each_root_prices_its_brute_force_least(planar, window, cut_edge_data, monkeypatch, case, setting,
                                                with_cuts):
    # "other": every switch the other way, "rooted other": the same with rooted rows (so that the switches on
    # them run too); the opt-in alternatives must stay exact as well
    if setting == "neighbours":  # the up-front neighbour rows without the layer rows
        monkeypatch.setattr(columns, "ROOT_ROWS", "neighbours")
    elif setting != "default":
        monkeypatch.setattr(columns, "ROOTED_ROWS", setting == "rooted other" or not columns.ROOTED_ROWS)
        monkeypatch.setattr(columns, "ROOT_ROWS", "" if columns.ROOT_ROWS else "layers")
        monkeypatch.setattr(columns, "PRICING_START", not columns.PRICING_START)
        monkeypatch.setattr(columns, "MINIMAL_BORDER", not columns.MINIMAL_BORDER)
        monkeypatch.setattr(master_cuts, "Y_INTEGER", not master_cuts.Y_INTEGER)
        monkeypatch.setattr(master_cuts, "TRIPLE_ROW", not master_cuts.TRIPLE_ROW)
    d = _maps(planar, window, cut_edge_data)[case]
    sets = _connected_sets(d)
    cost = np.array([columns.territory_cost(d, s) for s in sets])
    rng = np.random.default_rng(100 + case)
    rp = columns._RootPricing(d)
    cuts = []
    if with_cuts:
        cuts = [tuple(sorted(rng.choice(d.n, 3, replace=False).tolist())) for _ in range(5)]
        cuts += [tuple(sorted(rng.choice(d.n, 5, replace=False).tolist()))]
    ycols = [[master_cuts.add_to_pricing(pr.h, t, pr.inf) for t in cuts] for pr in rp.models]
    domains = _domains(d)
    assert [r for r, _ in domains] == rp.order[rp.roots].tolist()
    solver = co.Solver("highs")
    for _ in range(3):  # several duals in a row on the same models: separator rows and starts carried over
        pi = rng.uniform(0.0, 2.5, d.n)
        sigma = -rng.uniform(0.3, 2.0, len(cuts))
        rc = cost - sets @ pi - (master_cuts.coefficients(sets, cuts).T @ sigma if cuts else 0.0)
        for (root, allowed), pr, yc in zip(domains, rp.models, ycols):
            master_cuts.price_cuts(pr.h, yc, sigma)
            mine = sets[:, root] & ~(sets & ~allowed).any(axis=1)
            want = float(rc[mine].min()) if mine.any() else math.inf
            found, lb = pr.solve(pi, solver, 30.0)
            assert lb == pytest.approx(want, abs=1e-6)
            for s in found:  # every column returned is one of the root's sets
                assert mine[np.flatnonzero((sets == s).all(axis=1))].all()
            if math.isfinite(want):
                assert found and master_cuts.reduced_cost(columns.territory_cost(d, found[0]), found[0], pi, 0.0,
                                                          cuts, sigma) == pytest.approx(want, abs=1e-6)


@pytest.mark.parametrize("case", [0, 2])
def test_a_cutoff_reads_as_least_at_least_the_cutoff(planar, window, cut_edge_data, case):
    """With HiGHS's ``objective_bound`` under the least, ``min(bound, cutoff)`` is the cutoff; above it, the least
    (a start set above the cutoff must not be read as the least)."""
    d = _maps(planar, window, cut_edge_data)[case]
    sets = _connected_sets(d)
    cost = np.array([columns.territory_cost(d, s) for s in sets])
    rng = np.random.default_rng(7 + case)
    rp = columns._RootPricing(d)
    solver = co.Solver("highs")
    for _ in range(2):
        pi = rng.uniform(0.0, 2.5, d.n)
        rc = cost - sets @ pi
        for (root, allowed), pr in zip(_domains(d), rp.models):
            mine = sets[:, root] & ~(sets & ~allowed).any(axis=1)
            if not mine.any():
                continue
            want = float(rc[mine].min())
            for shift in (-0.7, 0.4):
                cut = want + shift
                pr.h.setOptionValue("objective_bound", cut)
                _, lb = pr.solve(pi, solver, 30.0)
                assert min(lb, cut) == pytest.approx(min(want, cut), abs=1e-6)
            pr.h.setOptionValue("objective_bound", pr.inf)
