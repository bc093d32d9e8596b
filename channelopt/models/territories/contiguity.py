"""Contiguity for territory models: flow rows, lazy cut separation, component checks.

Regions are numbered ``0..n-1``; the graph is given as an ``(m, 2)`` edge array or
as adjacency lists of those numbers.
"""

from __future__ import annotations

import numpy as np

from ..._arrays import ArrayProblem, VarBlock

__all__ = ["adjacency_lists", "pieces", "add_flow_contiguity", "add_single_flow_contiguity", "separator_cuts"]


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
    ap: ArrayProblem,
    x,
    edges: np.ndarray,
    *,
    roots=None,
    root_vars=None,
    name: str = "flow",
) -> VarBlock:
    """Single-commodity flow contiguity per territory slot (Shirabe-style), as row blocks.

    Slot ``j``'s root ships one unit to every other member of ``j`` along arcs whose
    two ends are both in ``j``; a member cut off from the root cannot receive its unit,
    so every feasible slot is connected.

    Parameters
    ----------
    ap : ArrayProblem
        The model the flow columns and rows are added to.
    x : VarBlock (n, k)
        ``x[v, j] = 1`` when region ``v`` is in slot ``j``.
    edges : int array (m, 2)
        The map's edges (region positions); each gives an arc either way.
    roots : sequence of int or None, optional
        A fixed root region per slot (``None`` entries use ``root_vars``).
    root_vars : VarBlock (n, k), optional
        Binary root indicators for slots without a fixed root.
    name : str
        Name of the flow block; its row blocks take it as prefix.

    Returns
    -------
    VarBlock (2m, k) of arc flows.
    """
    n, k = x.shape
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    tail = np.concatenate([edges[:, 0], edges[:, 1]])
    head = np.concatenate([edges[:, 1], edges[:, 0]])
    arcs = len(tail)
    big = float(max(n - k + 1, 1))
    root = np.array([-1 if roots is None or roots[j] is None else int(roots[j]) for j in range(k)])
    a_idx, j_idx = np.divmod(np.arange(arcs * k), k)
    # nothing needs to flow back into a fixed root
    into_root = head[a_idx] == root[j_idx]
    f = ap.add_vars(name, (arcs, k), upper=np.where(into_root, 0.0, big))
    live = ~into_root
    ai, ji = a_idx[live], j_idx[live]
    m = len(ai)
    rows = np.arange(m)
    for end, tag in ((tail, "t"), (head, "h")):
        # flow only between two members of the slot
        ap.add_rows(f"{name}_{tag}", np.r_[rows, rows], np.r_[f[ai, ji], x[end[ai], ji]],
                    np.r_[np.ones(m), np.full(m, -big)], sense="<=", rhs=0.0, n_rows=m)
    # node rows: inflow - outflow - x[v,j] (+ big r[v,j] for a free root) >= 0, for v not a fixed root
    node_row = np.full((n, k), -1, dtype=np.int64)
    keep = np.ones((n, k), dtype=bool)
    fixed = root >= 0
    keep[root[fixed], np.flatnonzero(fixed)] = False
    node_row[keep] = np.arange(int(keep.sum()))
    n_rows = int(keep.sum())
    r_in, c_in = node_row[head[ai], ji], f[ai, ji]
    r_out, c_out = node_row[tail[ai], ji], f[ai, ji]
    ok_in, ok_out = r_in >= 0, r_out >= 0
    vv, jj = np.nonzero(keep)
    rows_l = [r_in[ok_in], r_out[ok_out], node_row[vv, jj]]
    cols_l = [c_in[ok_in], c_out[ok_out], x[vv, jj]]
    vals_l = [np.ones(int(ok_in.sum())), -np.ones(int(ok_out.sum())), -np.ones(len(vv))]
    free = ~fixed[jj]
    if free.any():
        rows_l.append(node_row[vv[free], jj[free]])
        cols_l.append(root_vars[vv[free], jj[free]])
        vals_l.append(np.full(int(free.sum()), big))
    ap.add_rows(f"{name}_n", np.concatenate(rows_l), np.concatenate(cols_l), np.concatenate(vals_l), sense=">=",
                rhs=0.0, n_rows=n_rows)
    return f


def add_single_flow_contiguity(ap: ArrayProblem, r: VarBlock, cut: VarBlock, edges: np.ndarray, most: int, *,
                               name: str = "sflow") -> VarBlock:
    """One flow for every territory at once (Validi & Buchanan's SCF): 2 m arcs instead of 2 m k.

    Each territory has one root (``r[v, j] = 1``); every other region takes one unit of
    flow, which can cross only uncut edges (``cut[e] = 0``). A piece of a territory
    without its root could then receive nothing: every edge leaving it is cut.

    Parameters
    ----------
    ap : ArrayProblem
        The model the flow columns and rows are added to.
    r : VarBlock (n, k)
        Root indicators; each slot has exactly one root (rows the caller adds).
    cut : VarBlock (m,)
        ``cut[e] >= 1`` when edge ``e``'s ends lie in different territories.
    edges : int array (m, 2)
        The map's edges (region positions), in ``cut``'s order; each gives an arc either way.
    most : int
        The most regions one territory may hold (the flow a root sends is below it).
    name : str
        Name of the flow block; its row blocks take it as prefix.

    Returns
    -------
    VarBlock (2m,) of arc flows (the edges forwards, then backwards).
    """
    n, k = r.shape
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    m = len(edges)
    tail = np.r_[edges[:, 0], edges[:, 1]]
    head = np.r_[edges[:, 1], edges[:, 0]]
    cap = float(max(most - 1, 0))
    f = ap.add_vars(name, 2 * m, upper=cap)
    # inflow - outflow + most * sum_j r[v, j] >= 1: a non-root region consumes one unit, a root sends < most
    vv, jj = np.divmod(np.arange(n * k), k)
    ap.add_rows(f"{name}_n", np.r_[head, tail, vv], np.r_[f.index, f.index, r[vv, jj]],
                np.r_[np.ones(2 * m), -np.ones(2 * m), np.full(n * k, float(most))], sense=">=", rhs=1.0, n_rows=n)
    # f(u,v) + f(v,u) <= (most - 1)(1 - cut[e])
    e = np.arange(m)
    ap.add_rows(f"{name}_e", np.r_[e, e, e], np.r_[f[e], f[e + m], cut[e]],
                np.r_[np.ones(2 * m), np.full(m, cap)], sense="<=", rhs=cap, n_rows=m)
    return f


def separator_cuts(
    adj: list[list[int]], label: np.ndarray, centre_of: dict[int, int]
) -> list[tuple[list[int], list[int], int]]:
    """Pieces of territories cut off from their centre, with the regions that separate them.

    For a territory centred at ``c`` whose piece ``C`` does not hold ``c``, the
    neighbourhood ``N(C)`` separates ``C`` from ``c``, so every contiguous plan obeys
    ``x[v, c] <= sum_{u in N(C)} x[u, c]`` for ``v`` in ``C``; the current plan breaks it.

    Parameters
    ----------
    adj : list of list of int
        Each region's neighbours (:func:`adjacency_lists`).
    label : int array (n,)
        Territory slot of each region.
    centre_of : dict slot -> centre region
        The centre of each slot checked (slots not in it are not).

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
