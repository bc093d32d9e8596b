"""What moving one border region to another territory does to a heuristic plan's objective.

The local search (:mod:`.heuristics`) and the balance repair (:mod:`.repair`) both price moves with
:func:`move_delta`. It lives here, below both, because :mod:`.heuristics` runs the repair and the repair
must not import it back (``tests/test_imports.py``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["move_delta"]


def move_delta(pb: Any, centres: list[int] | None, label: np.ndarray, v: int, a: int, b: int) -> float:
    """Change of the objective when region ``v`` moves from territory ``a`` to ``b``, the rest of ``label`` kept.

    Exact for cut edges (``pb.edge_weight`` per adjacency entry, else 1) and disruption; for compactness
    with the territories' centres held where they are.

    Parameters
    ----------
    pb : heuristics.Problem
        The problem: ``objective`` and its arrays (``adj``, ``edge_weight``; ``weights``, ``dist``;
        ``current``).
    centres : list of int or None
        Centre region of each territory; read only for compactness.
    label : array of int
        Territory of each region; ``label[v]`` is ``a`` (only ``v``'s neighbours are read).
    v, a, b : int
        The region, its territory and the territory it moves to.

    Returns
    -------
    float
        New objective minus old: negative when the move lowers it.

    Examples
    --------
    A path 0 - 1 - 2 in territories 0, 0, 1 (one cut edge): moving region 1 to territory 1 leaves one cut.

    >>> from types import SimpleNamespace
    >>> pb = SimpleNamespace(objective="cut_edges", adj=[[1], [0, 2], [1]], edge_weight=None)
    >>> move_delta(pb, None, np.array([0, 0, 1]), 1, 0, 1)
    0.0
    >>> move_delta(pb, None, np.array([0, 0, 1]), 2, 1, 0)
    -1.0
    """
    if pb.objective == "compactness":
        return pb.weights[v] * (pb.dist[v, centres[b]] - pb.dist[v, centres[a]])
    if pb.objective == "disruption":
        return float(b != pb.current[v]) - float(a != pb.current[v])
    d = 0.0
    for i, w in enumerate(pb.adj[v]):
        ew = pb.edge_weight[v][i] if pb.edge_weight else 1.0
        if label[w] == a:
            d += ew
        elif label[w] == b:
            d -= ew
    return d
