"""Balance repair: a contiguous heuristic plan a little past a balance bound, moved back inside the band.

The local search (:mod:`.heuristics`) only takes one region at a time, and only when that lowers the
violation or, in levelling passes, evens out two loads. When every single move across a border carries too
much load (counties of 5,000-100,000 people against a band of 6,000), it stops short of balance: WV, k=3,
+-0.5%, stopped 652 people under the lower bound. Here a step is a short sequence of border moves that share a
territory -- one region moved, two regions exchanged between neighbouring territories, or an ejection chain
(``a -> b``, ``b -> c``, ...) along a path of territories -- chosen by the loads it leaves and only then
checked for contiguity. Steps are taken while one lowers the total excess; among the steps that reach
balance, the one that costs least for the objective in use.

The problem is :class:`.heuristics.Problem`; this module does not import :mod:`.heuristics` (which runs the
repair), so the compactness objective's centre rule comes in as ``centres_of``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from .moves import move_delta

__all__ = ["repair_balance", "excess"]

#: longest sequence of moves in one step (1: single moves, 2: exchanges and two-link chains, 3: three links)
DEPTH = 3
#: sequences of two moves kept to be extended by a third (the best by the excess they leave)
BEAM = 400
#: candidate steps checked for contiguity per round, best first
CHECKS = 3000


def excess(pb: Any, sums: np.ndarray) -> float:
    """Total amount the loads ``sums`` (k, p) pass their balance bounds by, each attribute scaled by its mean
    territory load: the balance violation of a plan with those loads.

    The one measure of it: :func:`.heuristics.violation` is this of a plan's loads (it lives here, below
    :mod:`.heuristics`, which runs the repair).

    Parameters
    ----------
    pb : heuristics.Problem
        The problem: ``k``, ``loads`` (n, p) and the bounds ``lower``, ``upper`` (p,).
    sums : array (k, p)
        Each territory's load of each attribute.

    Returns
    -------
    float
        The sum over territories and attributes of the distance past the bounds, over the attribute's mean
        territory load; 0.0 exactly when every load keeps its bounds.

    Examples
    --------
    >>> import numpy as np
    >>> from types import SimpleNamespace
    >>> pb = SimpleNamespace(k=2, loads=np.array([[3.0], [5.0]]), lower=np.array([3.5]), upper=np.array([4.5]))
    >>> excess(pb, np.array([[3.0], [5.0]]))  # 0.5 under and 0.5 over, scaled by the mean load 4
    0.25
    """
    scale = np.maximum(pb.loads.sum(axis=0) / pb.k, 1e-12)
    return float((_over(pb, sums) / scale).sum())


def _over(pb: Any, sums: np.ndarray) -> np.ndarray:
    """How far each load of ``sums`` (any leading axes, then (k, p)) lies outside its bounds."""
    return np.maximum(sums - pb.upper, 0) + np.maximum(pb.lower - sums, 0)


def _excess_many(pb: Any, sums: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """:func:`excess` of each of a stack ``(m, k, p)`` of load tables."""
    return (_over(pb, sums) / scale).sum(axis=(1, 2))


def _connected(adj, members: np.ndarray, inside: np.ndarray) -> bool:
    """Is the set ``members`` (``inside`` its mask) non-empty and connected in ``adj``?"""
    if len(members) == 0:
        return False
    start = int(members[0])
    seen = {start}
    stack = [start]
    while stack:
        u = stack.pop()
        for w in adj[u]:
            if inside[w] and w not in seen:
                seen.add(w)
                stack.append(w)
    return len(seen) == len(members)


def _delta_objective(pb: Any, label: np.ndarray, seq, centres) -> float:
    """Change of the objective when the moves ``seq`` (region, from, to) are applied to ``label`` in turn
    (exact for cut edges and disruption; for compactness with the centres held where they are)."""
    lab = label.copy()
    total = 0.0
    for v, a, b in seq:
        total += move_delta(pb, centres, lab, v, a, b)
        lab[v] = b
    return total


def repair_balance(pb: Any, label: np.ndarray, *, centres_of: Callable[[Any, np.ndarray], list[int]] | None = None,
                   seconds: float = 2.0, depth: int = DEPTH) -> tuple[np.ndarray, bool]:
    """Move border regions of ``label`` until every load keeps its balance bounds, keeping territories connected.

    Parameters
    ----------
    pb : heuristics.Problem
        The problem (adjacency, loads, bounds, objective, locked regions, change cap).
    label : array of int
        A plan whose territories are connected (when ``pb.contiguity``); it is not changed.
    centres_of : callable, optional
        ``centres_of(pb, label)``, the territories' centres for the compactness objective without fixed centres
        (:func:`.heuristics.best_centres`); needed only there.
    seconds : float
        Time for the repair.
    depth : int
        Longest sequence of moves in one step (1-3).

    Returns
    -------
    (label, balanced)
        The plan after the steps taken (never a worse excess than ``label``'s, every territory still
        non-empty and, with ``pb.contiguity``, connected) and whether its loads now keep every bound,
        tested from the loads (:func:`excess` is 0).

    Examples
    --------
    >>> import numpy as np
    >>> from channelopt.models.territories import heuristics as heur
    >>> from channelopt.models.territories.contiguity import adjacency_lists
    >>> adj = adjacency_lists(4, np.array([[0, 1], [1, 2], [2, 3]]))
    >>> pb = heur.Problem(adj, 2, np.array([[1.0], [2.0], [2.0], [1.0]]), np.array([3.0]), np.array([3.0]))
    >>> lab, ok = repair_balance(pb, np.array([0, 1, 1, 1]))
    >>> lab.tolist(), ok
    ([0, 0, 1, 1], True)
    """
    deadline = time.perf_counter() + seconds
    label = np.asarray(label).copy()
    n, k = len(pb.adj), pb.k
    scale = np.maximum(pb.loads.sum(axis=0) / k, 1e-12)
    fixed = np.zeros(n, dtype=bool)
    if pb.locked is not None:
        fixed |= pb.locked >= 0
    if pb.fixed_centres is not None:
        fixed[list(pb.fixed_centres)] = True
    centres = None
    if pb.objective == "compactness":
        if pb.fixed_centres is None and centres_of is None:
            raise ValueError("repair_balance: the compactness objective without fixed centres needs centres_of "
                             "(heuristics.best_centres).")
        centres = list(pb.fixed_centres) if pb.fixed_centres is not None else centres_of(pb, label)
    sums = np.zeros((k, pb.loads.shape[1]))
    np.add.at(sums, label, pb.loads)
    now_ex = excess(pb, sums)
    while now_ex > 1e-12 and time.perf_counter() < deadline:
        step = _best_step(pb, label, sums, now_ex, fixed, centres, scale, depth, deadline)
        if step is None:
            break
        for v, _a, b in step:
            label[v] = b
        sums = np.zeros((k, pb.loads.shape[1]))
        np.add.at(sums, label, pb.loads)
        now_ex = excess(pb, sums)
        if pb.objective == "compactness" and pb.fixed_centres is None:
            centres = centres_of(pb, label)
    return label, bool(now_ex <= 1e-12)


def _best_step(pb, label, sums, now_ex, fixed, centres, scale, depth, deadline):
    """The step (list of moves) that lowers the excess most -- to zero at the least objective cost where
    several do -- and keeps every touched territory connected; None when no step of ``depth`` moves does."""
    k, p = pb.k, pb.loads.shape[1]
    # every border move: region v from its territory a to a neighbouring territory b
    mv, ma, mb = [], [], []
    for v in range(len(pb.adj)):
        if fixed[v]:
            continue
        a = int(label[v])
        for b in sorted({int(label[w]) for w in pb.adj[v]} - {a}):
            mv.append(v)
            ma.append(a)
            mb.append(b)
    if not mv:
        return None
    mv, ma, mb = np.array(mv), np.array(ma), np.array(mb)
    m = len(mv)
    delta = np.zeros((m, k, p))  # what each move does to the load table
    delta[np.arange(m), ma] -= pb.loads[mv]
    delta[np.arange(m), mb] += pb.loads[mv]
    bad = ((sums > pb.upper + 0) | (sums < pb.lower)).any(axis=1)
    cands: list[tuple[float, tuple[int, ...]]] = []  # (excess after, move indices)
    ex1 = _excess_many(pb, sums[None] + delta, scale)
    for i in np.flatnonzero(ex1 < now_ex - 1e-12).tolist():
        cands.append((float(ex1[i]), (i,)))
    pairs: list[tuple[float, tuple[int, int]]] = []
    if depth >= 2:
        # a second move shares a territory with the first (an exchange, or a chain link); the first touches a
        # territory past a bound (else the pair's gain would come from the second move alone, a single move)
        for i in np.flatnonzero(bad[ma] | bad[mb]).tolist():
            if time.perf_counter() > deadline:
                break
            js = np.flatnonzero(((ma == ma[i]) | (ma == mb[i]) | (mb == ma[i]) | (mb == mb[i])) & (mv != mv[i]))
            if not len(js):
                continue
            ex2 = _excess_many(pb, sums[None] + delta[i] + delta[js], scale)
            for j, e in zip(js.tolist(), ex2.tolist()):
                pairs.append((e, (i, j)))
        for e, ij in pairs:
            if e < now_ex - 1e-12:
                cands.append((e, ij))
    if depth >= 3 and not any(e <= 1e-12 for e, _ in cands):
        # ejection chains of three links: the pairs that leave the least excess, extended by a move that
        # shares a territory with them
        pairs.sort(key=lambda t: t[0])
        for _e, (i, j) in pairs[:BEAM]:
            if time.perf_counter() > deadline:
                break
            touched = {int(ma[i]), int(mb[i]), int(ma[j]), int(mb[j])}
            hit = np.isin(ma, list(touched)) | np.isin(mb, list(touched))
            ls = np.flatnonzero(hit & (mv != mv[i]) & (mv != mv[j]))
            if not len(ls):
                continue
            ex3 = _excess_many(pb, sums[None] + delta[i] + delta[j] + delta[ls], scale)
            for l_, e in zip(ls.tolist(), ex3.tolist()):
                if e < now_ex - 1e-12:
                    cands.append((e, (i, j, l_)))
    if not cands:
        return None
    # the steps that reach balance first, cheapest for the objective; then the rest by the excess they leave
    zero = [c for c in cands if c[0] <= 1e-12]
    if zero:
        seen = set()
        scored = []
        for _e, idx in zero:
            key = frozenset(idx)
            if key in seen:
                continue
            seen.add(key)
            seq = [(int(mv[i]), int(ma[i]), int(mb[i])) for i in idx]
            scored.append((_delta_objective(pb, label, seq, centres), len(idx), seq))
        scored.sort(key=lambda t: (t[0], t[1]))
        order = [s[2] for s in scored]
    else:
        cands.sort(key=lambda t: (t[0], len(t[1])))
        order = [[(int(mv[i]), int(ma[i]), int(mb[i])) for i in idx] for _e, idx in cands]
    checked = 0
    for seq in order:
        if checked >= CHECKS or time.perf_counter() > deadline:
            break
        checked += 1
        if _valid(pb, label, seq):
            return seq
    return None


def _valid(pb, label, seq) -> bool:
    """Do the moves ``seq`` leave every territory they touch non-empty (and connected, with contiguity), each
    region moved at most once, from the territory it is in, within the change cap?"""
    regions = [v for v, _a, _b in seq]
    if len(set(regions)) != len(regions):
        return False
    lab = label.copy()
    for v, a, b in seq:
        if lab[v] != a:
            return False
        lab[v] = b
    if pb.max_changes is not None and pb.current is not None and (lab != pb.current).sum() > pb.max_changes:
        if (lab != pb.current).sum() > (label != pb.current).sum():
            return False
    for t in {t for _v, a, b in seq for t in (a, b)}:
        inside = lab == t
        members = np.flatnonzero(inside)
        if len(members) == 0:
            return False
        if pb.contiguity and not _connected(pb.adj, members, inside):
            return False
    return True
