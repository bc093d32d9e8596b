"""The second racer's boundary-floor row (:func:`channelopt.models.territories.search.floor_cuts`).

With ``Solver(threads=2)`` the second HiGHS racer searches the labelling MILP with one more row,
``2 sum_e w_e y_e >= sum_{p,j} b[p,j] r[p,j]``, and with the roots that no balanced set allows fixed
at 0. Its bound is reported for the problem, so the row must hold for every plan: checked here on
every contiguous balanced partition of small grids, enumerated by brute force (the ``partitions`` fixture).
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

import channelopt as co
from channelopt.models.territories import TerritoryDesign, labelling
from channelopt.models.territories.search import floor_cuts


def grid(rows: int, cols: int, seed: int) -> nx.Graph:
    g = nx.convert_node_labels_to_integers(nx.grid_2d_graph(rows, cols))
    rng = np.random.default_rng(seed)
    nx.set_node_attributes(g, {v: int(rng.integers(1, 10)) for v in g.nodes}, "pop")
    return g


@pytest.mark.parametrize(("shape", "k", "seed", "spread"), [((3, 4), 3, 0, 0.25), ((3, 4), 2, 1, 0.1),
                                                           ((2, 5), 2, 2, 0.3)])
def test_floor_row_holds_for_every_contiguous_balanced_plan(partitions, shape, k, seed, spread):
    g = grid(*shape, seed)
    total = sum(nx.get_node_attributes(g, "pop").values())
    lo, hi = total / k * (1 - spread), total / k * (1 + spread)
    model = TerritoryDesign(k=k, objective="cut_edges", balance={"pop": (lo, hi)})
    built = model.build(co.ChannelNetwork.from_graph(g, ["pop"]))
    state = built.state
    d = state["data"]
    assert state["form"] == "labelling" and labelling.symmetric(d)
    cuts = floor_cuts(d, state, True, co.Solver("highs", time_limit=60).start_clock())
    assert cuts is not None
    indptr, cols, vals, lower, upper, zero = cuts
    assert len(lower) == 1 and lower[0] == 0.0 and np.isinf(upper[0])
    # the fixture's labels follow the graph's node order; the model's, its region positions (``d.ids``)
    at = [list(g.nodes).index(v) for v in d.ids]
    plans = [lab[at] for lab in partitions(g, k, lo, hi)]
    assert len(plans) >= 3
    order = np.asarray(state["order"])
    pos = np.empty(d.n, dtype=np.int64)
    pos[order] = np.arange(d.n)
    r, y = state["r"], state["y"]
    edges = np.asarray(d.edges)
    floors = []
    for lab in plans:
        v = np.zeros(built.arrays.n_cols)
        v[y.index] = (lab[edges[:, 0]] != lab[edges[:, 1]]).astype(float)
        # the model's slots: territories in the order of their first region by position, rooted there
        first = sorted(int(pos[lab == t].min()) for t in range(k))
        for j, p in enumerate(first):
            v[r[order[p], j]] = 1.0
        row = float(vals @ v[cols])
        assert row >= -1e-9, (lab, row)
        assert not v[zero].any(), lab
        floors.append(float(-vals[len(y.index):] @ v[cols[len(y.index):]]))
    # the row is not empty: some plan's roots carry a positive floor, and at the optimum it can bind
    assert max(floors) > 0

