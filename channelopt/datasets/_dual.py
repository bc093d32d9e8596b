"""A synthetic planar "dual graph" of census-tract-like units, labelled synthetic.

Districting studies solve on the dual graph of a map: one node per unit (a census
tract, a county), an edge where two units share a border, a population on each node.
This generator draws such a graph from random points, so territory models can be tried
and benchmarked at sizes the published instances do not cover (issue 12's 300-550
unit maps, ``benchmarks/bench_territories.py --synthetic``), fully offline. It is
**synthetic**: no real boundary, place or population is used.
"""

from __future__ import annotations

import networkx as nx
import numpy as np

from channelopt.exceptions import SettingsError

__all__ = ["synthetic_dual_graph"]


def synthetic_dual_graph(n: int, seed: int = 0, *, prune: float = 2.5) -> nx.Graph:
    """A synthetic, connected, planar dual graph of ``n`` units with integer populations.

    Points: 60% around ``n // 60`` (at least 3) town centres (normal, sd 0.04) and 40%
    uniform in the unit square. Edges: their Delaunay triangulation, less the long
    slivers along the hull (edges longer than ``prune`` times the median, each in one
    triangle, while both ends keep more than 3 neighbours), so the graph stays
    planar, connected and without bridges; its average degree is about 4.8 (census
    tract dual graphs: 5-6). Populations: lognormal around 4,000 (sd 0.35 of the log),
    rounded to integers.

    Parameters
    ----------
    n : int
        Number of units (nodes ``0 .. n-1``); at least 3 (a triangulation needs them).
    seed : int, default 0
        Seed of the :func:`numpy.random.default_rng` that draws points and populations;
        the same ``(n, seed, prune)`` gives the same graph.
    prune : float, default 2.5
        Hull edges longer than ``prune`` times the median edge may be dropped.

    Returns
    -------
    networkx.Graph
        Named ``"synthetic<n>"``, with ``graph["synthetic"] = True``; node attributes
        ``TOTPOP`` (int), ``x`` and ``y`` (floats in about ``[0, 1]``).

    Raises
    ------
    SettingsError
        When ``n`` is below 3 or ``prune`` is not positive.

    Examples
    --------
    >>> import networkx as nx
    >>> from channelopt.datasets import synthetic_dual_graph
    >>> g = synthetic_dual_graph(300, seed=0)
    >>> g.number_of_nodes(), nx.is_connected(g), nx.check_planarity(g)[0], g.graph["synthetic"]
    (300, True, True, True)
    >>> sorted(g.nodes[0])
    ['TOTPOP', 'x', 'y']

    The graph goes into a network as any graph with node weights does:

    >>> import channelopt as co
    >>> net = co.ChannelNetwork.from_graph(g, weight_attrs=["TOTPOP"])
    >>> len(net.region_ids)
    300
    """
    from scipy.spatial import Delaunay

    if int(n) != n or n < 3:
        raise SettingsError(f"synthetic_dual_graph: n must be a whole number of at least 3 units, got {n!r}.")
    if not prune > 0:
        raise SettingsError(f"synthetic_dual_graph: prune must be positive, got {prune!r}.")
    n = int(n)
    rng = np.random.default_rng(seed)
    towns = rng.uniform(0, 1, (max(3, n // 60), 2))
    n_town = int(0.6 * n)
    which = rng.integers(0, len(towns), n_town)
    pts = np.vstack([towns[which] + rng.normal(0, 0.04, (n_town, 2)), rng.uniform(0, 1, (n - n_town, 2))])
    simplices = Delaunay(pts).simplices
    e = np.vstack([simplices[:, [0, 1]], simplices[:, [1, 2]], simplices[:, [0, 2]]])
    e = np.unique(np.sort(e, axis=1), axis=0)
    length = np.linalg.norm(pts[e[:, 0]] - pts[e[:, 1]], axis=1)
    # drop a long edge on the hull (it lies in one triangle) while both ends keep 3 neighbours: the
    # triangle's other two edges still join them, so the graph stays connected, planar and bridge-free
    # (no narrow necks that real tract graphs do not have)
    in_tri = np.zeros(len(e), dtype=np.int64)
    index = {(int(a), int(c)): i for i, (a, c) in enumerate(e.tolist())}
    for t in np.sort(simplices, axis=1).tolist():
        for a, c in ((t[0], t[1]), (t[1], t[2]), (t[0], t[2])):
            in_tri[index[(a, c)]] += 1
    degree = np.bincount(e.reshape(-1), minlength=n)
    keep = np.ones(len(e), dtype=bool)
    for i in np.argsort(-length):
        if length[i] <= prune * np.median(length):
            break
        u, v = e[i]
        if in_tri[i] == 1 and degree[u] > 3 and degree[v] > 3:
            keep[i] = False
            degree[[u, v]] -= 1
    g = nx.Graph(name=f"synthetic{n}", synthetic=True)
    g.add_nodes_from(range(n))
    g.add_edges_from(e[keep].tolist())
    pop = np.round(rng.lognormal(np.log(4000), 0.35, n)).astype(int)
    for v in range(n):
        g.nodes[v].update(TOTPOP=int(pop[v]), x=float(pts[v, 0]), y=float(pts[v, 1]))
    return g
