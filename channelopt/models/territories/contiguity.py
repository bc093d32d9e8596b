"""Contiguity for territory models: flow rows, lazy cut separation, component checks.

Regions are numbered ``0..n-1``; the graph is given as an ``(m, 2)`` edge array or
as adjacency lists of those numbers.
"""

from __future__ import annotations

import numpy as np
import pulp

from .._lp import new_vars

__all__ = ["adjacency_lists", "pieces", "add_flow_contiguity", "separator_cuts"]


def adjacency_lists(n: int, edges: np.ndarray) -> list[list[int]]:
    """Neighbour lists of an undirected graph on ``0..n-1``.

    Examples
    --------
    >>> adjacency_lists(3, np.array([[0, 1], [1, 2]]))
    [[1], [0, 2], [1]]
    """
    adj: list[list[int]] = [[] for _ in range(n)]
    for u, v in np.asarray(edges, dtype=np.int64).reshape(-1, 2).tolist():
        if u != v:
            adj[u].append(v)
            adj[v].append(u)
    return adj


def pieces(adj: list[list[int]], members) -> list[list[int]]:
    """Connected pieces of the subgraph induced by ``members`` (largest first).

    Examples
    --------
    >>> pieces([[1], [0], [3], [2]], [0, 1, 3])
    [[0, 1], [3]]
    """
    inside = set(int(v) for v in members)
    seen: set[int] = set()
    out = []
    for s in sorted(inside):
        if s in seen:
            continue
        stack, comp = [s], []
        seen.add(s)
        while stack:
            u = stack.pop()
            comp.append(u)
            for w in adj[u]:
                if w in inside and w not in seen:
                    seen.add(w)
                    stack.append(w)
        out.append(sorted(comp))
    return sorted(out, key=len, reverse=True)


def add_flow_contiguity(
    prob: pulp.LpProblem,
    x: np.ndarray,
    edges: np.ndarray,
    *,
    roots=None,
    root_vars: np.ndarray | None = None,
    name: str = "flow",
) -> np.ndarray:
    """Single-commodity flow contiguity per territory slot (Shirabe-style).

    Slot ``j``'s root ships one unit to every other member of ``j`` along arcs whose
    two ends are both in ``j``; a member cut off from the root cannot receive its unit,
    so every feasible slot is connected.

    Parameters
    ----------
    x : object array (n, k)
        ``x[v, j] = 1`` when region ``v`` is in slot ``j``.
    edges : int array (m, 2)
    roots : sequence of int or None, optional
        A fixed root region per slot (``None`` entries use ``root_vars``).
    root_vars : object array (n, k), optional
        Binary root indicators for slots without a fixed root.

    Returns
    -------
    object array (2m, k) of flow variables.
    """
    n, k = x.shape
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    tail = np.concatenate([edges[:, 0], edges[:, 1]]).tolist()
    head = np.concatenate([edges[:, 1], edges[:, 0]]).tolist()
    big = float(max(n - k + 1, 1))
    flows = np.empty((len(tail), k), dtype=object)
    le, ge = pulp.LpConstraintLE, pulp.LpConstraintGE
    for j in range(k):
        root = None if roots is None else roots[j]
        f = new_vars(prob, f"{name}{j}", len(tail), low=0.0, up=big)
        flows[:, j] = f
        xs = x[:, j]
        inflow: list[list] = [[] for _ in range(n)]
        outflow: list[list] = [[] for _ in range(n)]
        for a, (u, v) in enumerate(zip(tail, head)):
            if root is not None and v == root:
                # nothing needs to flow back into a fixed root
                prob.addConstraint(
                    pulp.LpConstraint(pulp.LpAffineExpression([(f[a], 1.0)]), le, f"{name}{j}_r{a}", 0.0)
                )
                continue
            prob.addConstraint(
                pulp.LpConstraint(pulp.LpAffineExpression([(f[a], 1.0), (xs[u], -big)]), le, f"{name}{j}_t{a}", 0.0)
            )
            prob.addConstraint(
                pulp.LpConstraint(pulp.LpAffineExpression([(f[a], 1.0), (xs[v], -big)]), le, f"{name}{j}_h{a}", 0.0)
            )
            inflow[v].append(f[a])
            outflow[u].append(f[a])
        for v in range(n):
            if root is not None and v == root:
                continue
            terms = [(a, 1.0) for a in inflow[v]] + [(a, -1.0) for a in outflow[v]] + [(xs[v], -1.0)]
            if root is None:
                terms.append((root_vars[v, j], big))
            prob.addConstraint(pulp.LpConstraint(pulp.LpAffineExpression(terms), ge, f"{name}{j}_n{v}", 0.0))
    return flows


def separator_cuts(
    adj: list[list[int]], label: np.ndarray, centre_of: dict[int, int]
) -> list[tuple[list[int], list[int], int]]:
    """Pieces of territories cut off from their centre, with the regions that separate them.

    For a territory centred at ``c`` whose piece ``C`` does not hold ``c``, the
    neighbourhood ``N(C)`` separates ``C`` from ``c``, so every contiguous plan obeys
    ``x[v, c] <= sum_{u in N(C)} x[u, c]`` for ``v`` in ``C``; the current plan breaks it.

    Parameters
    ----------
    label : int array (n,)
        Territory slot of each region.
    centre_of : dict slot -> centre region

    Returns
    -------
    list of ``(piece, separator, centre)``.

    Examples
    --------
    >>> adj = adjacency_lists(4, np.array([[0, 1], [1, 2], [2, 3]]))
    >>> separator_cuts(adj, np.array([0, 1, 1, 0]), {0: 0, 1: 1})
    [([3], [2], 0)]
    """
    out = []
    label = np.asarray(label)
    for slot, c in centre_of.items():
        members = np.flatnonzero(label == slot).tolist()
        for piece in pieces(adj, members):
            if c in piece:
                continue
            inside = set(piece)
            sep = sorted({w for u in piece for w in adj[u] if w not in inside})
            out.append((piece, sep, int(c)))
    return out
