"""A plan's cut edges lowered by re-splitting groups of neighbouring territories on a planar map.

Where the planar searches apply (:func:`.planar.applies`: contiguous interchangeable territories by cut edges
of one weight), every group of two to :data:`GROUP_MOST` territories whose union is connected is a smaller
map of the same kind: the regions outside it keep their territory, and the edges from the group to them
stay cut whatever the group does, so a re-split of the union with fewer cut edges inside gives a plan with
fewer cut edges. Pairs are re-split by :func:`.planar.bisection` (the fewest cut edges of a balanced split,
under the pair's own cut, when its shortest walk is a simple cycle; it also proves that no split is
shorter), else, and larger groups always, by :func:`.planar.carve_many` (a heuristic). Groups are tried by
size, then by their own cut edges, most first; the first that improves is taken and the scan starts again,
until a scan finds nothing or the time is up. Each plan is checked before it is taken: ``k`` territories,
every one connected, every balance bound kept (:func:`.data.balance_kept`). Where no start keeps every rule,
:func:`restarts` grows plans from further seeds and re-splits each balanced one.

Measured (Validi & Buchanan's county maps, +-0.5%, the carved first plan, 1 thread; benchmarks/RESULTS.md,
issue 12 session 8): the carved plans are local optima for pair re-splits, but OK's 43 goes to the
optimum 40 by re-carving its three largest territories (their cut 24 -> 21; 0.24 CPU s into the search) and
KS's 33 to the optimum 32 by re-carving three of four (23 -> 22; 0.32 CPU s). The exact path then proved OK in
51-54 CPU s against 103 without the stage (HiGHS searched 4000 nodes against 11706) and KS in 113 against 166;
WV, NE and AR level (36, 11, 110). Multi-start did not reach 40 (the region-growing heuristic 50-63 over eight
seeds, the carving from 40 first parts 43), and a labelling-MILP re-split of the same three territories took
16 CPU s.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from .contiguity import pieces
from .data import balance_kept

if TYPE_CHECKING:
    from ...solver import Deadline
    from .data import TerritoryData
    from .heuristics import Problem

__all__ = ["resplit", "resplit_applies", "restarts", "GROUP_MOST", "CALL_SECONDS", "STAGE", "SHARE", "SECONDS",
           "RESTARTS", "RESTART_SECONDS"]

#: the search's own switch: True runs it in the exact path before the planar bound (``search.py``)
STAGE = True
#: groups of at most this many territories (fewer than ``k``: the whole map is carved by the planar stage)
GROUP_MOST = 4
#: seconds at most per group (carving a group that has no better split runs to this; OK's took 0.01-3.4 s
#: uncapped at 10 s, the one that improved 0.1 s)
CALL_SECONDS = 0.5
#: share of what is left of the time limit, and seconds at most, for the whole search
SHARE = 0.1
SECONDS = 10.0
#: when the warm start breaks a rule and the solve has a time limit: seconds at most (and SHARE of what is
#: left) for :func:`restarts` (region growing from further seeds, each balanced plan re-split); None: off.
#: LA (64 parishes, k=6, +-0.5%; the carving finds no plan and the 5 s region growing breaks balance), 16 seeds
#: of 3 s: 5 balanced plans (55-72), re-split to 49 (the optimum) twice, 54, 55, 58; about 1.3 CPU s a seed
#: and 2-4 a re-split. The exact path at 300 s: 49/33 (103 CPU s) against 67/28 (192 CPU s) without
RESTARTS: float | None = 30.0
#: seconds of region growing per seed in :func:`restarts`
RESTART_SECONDS = 1.5


def resplit_applies(model: Any, d: TerritoryData, built: Any) -> bool:
    """Where the search runs: the planar searches apply (:func:`.planar.applies`) and ``k >= 3``.

    Parameters
    ----------
    model : TerritoryDesign
        The settings (objective, contiguity, balance).
    d : TerritoryData
        The problem as arrays.
    built : TerritoryBuilt or None
        The built model, when there is one (:func:`.planar.applies` reads its formulation).

    Returns
    -------
    bool
        True where :func:`resplit` and :func:`restarts` may run.
    """
    from . import planar

    return d.k >= 3 and planar.applies(model, d, built)


def _cut(edges: np.ndarray, label: np.ndarray) -> int:
    return int((label[edges[:, 0]] != label[edges[:, 1]]).sum())


def _keeps_rules(d, label: np.ndarray) -> bool:
    """``k`` territories, each connected, every balance bound kept: checked on every plan before it is taken."""
    if len(np.unique(label)) != d.k or not balance_kept(d, label):
        return False
    return all(len(pieces(d.adj, np.flatnonzero(label == t))) == 1 for t in range(d.k))


def _groups(d, label: np.ndarray, most: int) -> list[tuple[int, tuple[int, ...]]]:
    """Groups of 2..``most`` territories whose union is connected (through cut edges between them), each with
    the cut edges inside it; by size, then by those cut edges, most first."""
    k = d.k
    e = d.edges
    a, b = label[e[:, 0]], label[e[:, 1]]
    cross = a != b
    between = np.zeros((k, k), dtype=np.int64)
    np.add.at(between, (a[cross], b[cross]), 1)
    between = between + between.T
    out = []
    for size in range(2, min(most, k - 1) + 1):
        found = []
        for group in itertools.combinations(range(k), size):
            sub = between[np.ix_(group, group)]
            # connected: a walk from the first territory over territories that share an edge reaches all
            seen, stack = {0}, [0]
            while stack:
                i = stack.pop()
                for j in np.flatnonzero(sub[i]).tolist():
                    if j not in seen:
                        seen.add(j)
                        stack.append(j)
            if len(seen) == size:
                found.append((int(sub.sum()) // 2, group))
        found.sort(key=lambda t: -t[0])
        out.extend(found)
    return out


def _split_group(d, label: np.ndarray, group, inside: int, seconds: float, attr: int) -> np.ndarray | None:
    """A plan with the group's union re-split along fewer than ``inside`` cut edges, or None."""
    from . import planar

    nodes = np.flatnonzero(np.isin(label, group))
    pos = np.full(d.n, -1, dtype=np.int64)
    pos[nodes] = np.arange(len(nodes))
    keep = (pos[d.edges[:, 0]] >= 0) & (pos[d.edges[:, 1]] >= 0)
    edges = pos[d.edges[keep]]
    loads = d.loads[nodes]
    t0 = time.perf_counter()
    part = None
    if len(group) == 2:
        # the shortest balanced closed dual walk: a plan when it is a simple cycle (WV: a bound only, 6 < 14)
        res = planar.bisection(len(nodes), edges, loads[:, attr], float(d.lower[attr]), float(d.upper[attr]),
                               limit=inside, seconds=seconds)
        if res is not None and res.label is not None:
            part = np.asarray(res.label, dtype=np.int64)
        elif res is not None and res.complete and res.bound >= inside:
            return None  # proven: no balanced split of the pair cuts fewer edges
    if part is None:
        part = planar.carve_many(len(nodes), edges, loads, d.lower, d.upper, len(group), attr=attr,
                                 seconds=max(seconds - (time.perf_counter() - t0), 0.0), below=inside)
    if part is None or _cut(edges, part) >= inside:
        return None
    new = label.copy()
    new[nodes] = np.asarray(group)[part]
    return new


def resplit(d: TerritoryData, label: np.ndarray, seconds: float, *, deadline: Deadline | None = None,
            most: int | None = None, call_seconds: float | None = None) -> tuple[np.ndarray, int]:
    """``label`` with groups of neighbouring territories re-split while that cuts fewer edges: ``(label, calls)``.

    Parameters
    ----------
    d : TerritoryData
        A map where :func:`resplit_applies` holds (one edge weight; the plan's cut is counted in edges).
    label : array (n,)
        A plan that keeps every rule (connected territories, balance); it comes back unchanged when no
        group re-splits along fewer edges.
    seconds : float
        Time for the whole search; it stops between groups once the time is up.
    deadline : Deadline, optional
        The solve's clock (``solver.deadline``): the search also stops when it is interrupted, and a Ctrl-C
        inside it interrupts the clock and returns the best plan so far (without a clock it is raised).
    most, call_seconds : int, float, optional
        :data:`GROUP_MOST` and :data:`CALL_SECONDS` by default.

    Returns
    -------
    (label, calls)
        The best plan (every territory connected and every balance bound kept, checked here) and how
        many groups were tried.

    Examples
    --------
    >>> import networkx as nx
    >>> from types import SimpleNamespace
    >>> from channelopt.models.territories.contiguity import adjacency_lists
    >>> g = nx.convert_node_labels_to_integers(nx.grid_2d_graph(3, 6))
    >>> e = np.array(list(g.edges()))
    >>> d = SimpleNamespace(n=18, k=3, edges=e, adj=adjacency_lists(18, e), loads=np.ones((18, 1)),
    ...                     lower=np.array([6.0]), upper=np.array([6.0]), attrs=["a"])
    >>> zigzag = np.array([0, 0, 1, 1, 2, 2] * 3)  # 3 rows of 6: territories in columns of two
    >>> zigzag[[1, 8]] = [1, 0]  # a swap across the first border: 3 more cut edges (by hand)
    >>> better, calls = resplit(d, zigzag, 5.0)
    >>> _cut(e, zigzag), _cut(e, better)
    (9, 6)
    """
    from . import planar

    t0 = time.perf_counter()
    stop = t0 + seconds
    most = GROUP_MOST if most is None else most
    call_seconds = CALL_SECONDS if call_seconds is None else call_seconds
    attr = planar._attr(d)
    best = np.asarray(label, dtype=np.int64).copy()
    calls = 0
    if attr is None:
        return best, calls

    def out_of_time() -> bool:
        return time.perf_counter() >= stop or (deadline is not None and deadline.interrupted)

    improved = True
    try:
        while improved and not out_of_time():
            improved = False
            for inside, group in _groups(d, best, most):
                if out_of_time():
                    break
                calls += 1
                new = _split_group(d, best, group, inside,
                                   min(call_seconds, max(stop - time.perf_counter(), 0.0)), attr)
                if new is not None and _keeps_rules(d, new) and _cut(d.edges, new) < _cut(d.edges, best):
                    best, improved = new, True
                    break
    except KeyboardInterrupt:
        if deadline is None:
            raise
        # Ctrl-C inside a group's search: the clock is told (no later stage starts), the best plan so far returns
        deadline.interrupt()
    return best, calls


def restarts(d: TerritoryData, problem: Problem, seconds: float, *, seed: int = 0, deadline: Deadline | None = None,
             keeps: Callable[[np.ndarray], bool] | None = None) -> np.ndarray | None:
    """Region growing from seeds ``seed + 1, seed + 2, ...``, each plan that keeps every rule re-split
    (:func:`resplit`), until ``seconds`` are up: the plan that cuts the fewest edges, or None.

    Parameters
    ----------
    d : TerritoryData
        A map where :func:`resplit_applies` holds.
    problem : heuristics.Problem
        The same problem for the region growing (:func:`.diagnosis.heuristic_problem`).
    seconds : float
        Time for the whole search: seeds are tried until it is up (each grows for at most
        :data:`RESTART_SECONDS`, and its plan's re-split gets what is left).
    seed : int
        The seed the warm start used: the restarts take the ones after it.
    deadline : Deadline, optional
        The solve's clock: an interrupt stops the search between seeds.
    keeps : callable, optional
        ``keeps(label)``, the caller's test of every rule (:func:`_keeps_rules` by default), run on each plan
        before it is re-split.

    Returns
    -------
    array (n,) or None
        The re-split plan that cuts the fewest edges (every rule kept, checked by :func:`resplit`), or None
        when no seed's plan passed ``keeps``.
    """
    from . import heuristics as heur

    keeps = keeps or (lambda label: _keeps_rules(d, label))
    stop = time.perf_counter() + seconds
    best = None
    s = seed
    while time.perf_counter() < stop and not (deadline is not None and deadline.interrupted):
        s += 1
        res = heur.solve_heuristic(problem, seconds=min(RESTART_SECONDS, max(stop - time.perf_counter(), 0.0)),
                                   seed=s)
        if res.violation > 1e-9 or not res.contiguous or not keeps(res.label):
            continue
        label, _ = resplit(d, res.label, max(stop - time.perf_counter(), 0.0), deadline=deadline)
        if best is None or _cut(d.edges, label) < _cut(d.edges, best):
            best = label
    return best
