"""Two contiguous territories on a planar map: cut edges as a cycle of the dual graph.

On a connected planar graph, a split into two connected parts cuts a *bond*, and the
bonds are exactly the simple cycles of the dual graph (faces as nodes, one dual edge
crossing each edge). With a spanning tree of the map rooted at ``r``, give the dual arc
that crosses tree edge ``(parent p, child c)`` from the face on one side of ``p -> c``
to the other the weight ``+load(subtree of c)`` (its reverse the negative) and the
other dual arcs 0: the weights along a directed simple cycle add up to ``load(S) -
[r in S] total`` for the side ``S`` on its left (Park & Phillips's device for planar
quotient cuts, 1993). A split with both loads in ``[L, U]`` is then a closed dual walk
whose weight lies in four intervals, and the shortest such closed walk is a lower bound
on the cut edges of every balanced contiguous split (a walk may repeat faces, a cycle
may not). :func:`bisection` finds it by a breadth-first search from every face over
``(face, weight)`` states, meeting in the middle; when the shortest walk is a simple
cycle with both loads inside the bounds, its split is optimal.

Weights are counted in quanta of ``total / resolution``; a walk of length ``l`` is
then off by at most ``l/2`` quanta, and the intervals are widened by that, so the bound
stays valid (it is exact with quantum 1 for integer loads).

:func:`first_split` searches from the outer face only for a quick split, :func:`carve`
cuts ``k`` territories off one at a time (a first plan), and :func:`solve_split` turns
the search into a bound for ``k >= 3`` as well (one territory's boundary, counted over
the territories whose rest is connected). For ``k=3``, :func:`three_bound` follows how
three parts sit: strips, a theta of three paths from the outer face
(:func:`outer_theta_bound`, which also traces plans), or a part enclosed by the others
(:func:`enclosed_bound`). :func:`carve_many` carves from several first parts.

Measured (synthetic Delaunay maps of ``benchmarks/bench_territories.py``, seed 0, +-0.5%,
``benchmarks/RESULTS.md``): the labelling MILP alone ended at 41/15.1, 41/2.5 and 40/3.0
(plan/bound, 150 s) for n=300, 400, 550 with k=2; this search proves 24, 30 and 34 in 1.6,
5.7 and 18.4 CPU seconds. For k=3 the carved plans cut 54, 52 and 65 edges (the heuristic's
105, 116, 129), :func:`carve_many` 53, 51 and 64, and the bound is 53, 51 and 64: all three proven
(load 3-4: 37, 24 and 68 s; 26, 16 and 47 CPU s) since the theta files walks by the bucket of their exact
weight (:data:`THETA_BUCKETS`; n=550 was 64/63 at 150 s). The MILP's bounds: 9.6, 5.6 and 6.0; before
:func:`enclosed_bound`, 41-48, 47 and 48; before :func:`strip_bound` and the ring of two parts sharing the
border, 50, 51 and 62.
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np

__all__ = ["DualMap", "dual_map", "bisection", "Bisection", "first_split", "carve", "outer_theta_bound",
           "three_bound", "enclosed_bound", "carve_many", "strip_bound"]


@dataclasses.dataclass
class DualMap:
    """The dual graph of a connected planar map, arcs paired: arc ``2i`` crosses edge ``i`` one way, ``2i+1`` back."""

    n_faces: int
    tail: np.ndarray
    head: np.ndarray
    weight: np.ndarray  # the tree weight of each arc (load units)
    edge: np.ndarray  # the map edge each arc crosses
    #: the arcs out of the outer face (face 0) in the order of its boundary walk (``traverse_face``); None where
    #: not recorded. :func:`strip_bound` reads a part's stretch of the border from it
    outer: np.ndarray | None = None


def dual_map(n: int, edges: np.ndarray, load: np.ndarray) -> DualMap | None:
    """The dual of the map on ``0..n-1`` with tree weights from ``load``; ``None`` unless connected and planar.

    Examples
    --------
    >>> dm = dual_map(3, np.array([[0, 1], [1, 2], [0, 2]]), np.array([1.0, 2.0, 4.0]))
    >>> dm.n_faces, len(dm.tail)
    (2, 6)
    """
    import networkx as nx
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import breadth_first_order

    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from(edges.tolist())
    if g.number_of_edges() != len(edges) or not nx.is_connected(g):
        return None  # repeated edges or several pieces: not the map this device reads
    planar, emb = nx.check_planarity(g)
    if not planar:
        return None
    face: dict[tuple[int, int], int] = {}
    walks: list[list[tuple[int, int]]] = []
    count = 0
    for u, v in emb.edges():
        if (u, v) in face:
            continue
        nodes = emb.traverse_face(u, v)
        walks.append(list(zip(nodes, nodes[1:] + nodes[:1])))
        for a, b in walks[-1]:
            face[(a, b)] = count
        count += 1
    # the largest face (the outer one on a drawn map) first: searches from later faces never enter it, and the
    # walks from it pass it once, so no closed walk joins two border-to-border cuts there (a split of one
    # part in two pieces; the figure-eight held n=400's bound at 29 under a 30-edge plan)
    sizes = np.bincount(np.fromiter(face.values(), dtype=np.int64), minlength=count)
    big = int(np.argmax(sizes))
    if big:
        face = {h: (0 if f == big else big if f == 0 else f) for h, f in face.items()}
    m = len(edges)
    adj = csr_matrix((np.ones(2 * m), (np.r_[edges[:, 0], edges[:, 1]], np.r_[edges[:, 1], edges[:, 0]])),
                     shape=(n, n))
    order, pred = breadth_first_order(adj, 0, directed=False)
    sub = np.asarray(load, dtype=float).copy()
    for v in order[::-1][:-1]:
        sub[pred[v]] += sub[v]
    u, v = edges[:, 0], edges[:, 1]
    phi = np.where(pred[v] == u, sub[v], np.where(pred[u] == v, -sub[u], 0.0))
    f_uv = np.array([face[(a, b)] for a, b in edges.tolist()], dtype=np.int64)
    f_vu = np.array([face[(b, a)] for a, b in edges.tolist()], dtype=np.int64)
    tail = np.empty(2 * m, dtype=np.int64)
    head = np.empty(2 * m, dtype=np.int64)
    weight = np.empty(2 * m)
    tail[0::2], head[0::2], weight[0::2] = f_uv, f_vu, phi
    tail[1::2], head[1::2], weight[1::2] = f_vu, f_uv, -phi
    # the outer face's boundary walk as arcs out of it: half-edge (a, b) of edge i = (u, v) is arc 2i when
    # (a, b) = (u, v) (its tail is the face of (u, v)), else 2i + 1
    index = {(int(a), int(b)): i for i, (a, b) in enumerate(edges.tolist())}
    outer = np.array([2 * index[(a, b)] if (a, b) in index else 2 * index[(b, a)] + 1 for a, b in walks[big]],
                     dtype=np.int64)
    return DualMap(count, tail, head, weight, np.repeat(np.arange(m), 2), outer)


@dataclasses.dataclass
class Bisection:
    """What :func:`bisection` proved: ``bound`` cut edges at least; ``label`` a split with ``cut`` edges, if found."""

    bound: float
    label: np.ndarray | None
    cut: int | None
    complete: bool
    seconds: float
    quantum: float


def _split(n: int, edges: np.ndarray, cut_edges: np.ndarray, load, side, rest):
    """The split whose cut is exactly ``cut_edges``, part 1 with load in ``side``, part 0 in ``rest``; else None."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    keep = np.ones(len(edges), dtype=bool)
    keep[cut_edges] = False
    e = edges[keep]
    adj = csr_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n))
    parts, label = connected_components(adj, directed=False)
    if parts != 2:
        return None
    if (label[edges[cut_edges, 0]] == label[edges[cut_edges, 1]]).any():
        return None
    sums = np.bincount(label, weights=load, minlength=2)
    tol = 1e-9 * max(1.0, abs(float(load.sum())))

    def inside(x, lo_hi):
        return lo_hi[0] - tol <= x <= lo_hi[1] + tol

    if inside(sums[1], side) and inside(sums[0], rest):
        return label
    if inside(sums[0], side) and inside(sums[1], rest):
        return 1 - label
    return None


def bisection(n: int, edges: np.ndarray, load: np.ndarray, lower: float, upper: float, *, limit: int,
              seconds: float = 30.0, resolution: int = 20000, dual: DualMap | None = None,
              rest: tuple[float, float] | None = None, first_face: int = 0) -> Bisection | None:
    """Fewest cut edges of a split into two connected parts with loads in ``[lower, upper]`` (a lower bound).

    Parameters
    ----------
    n : int
        Number of regions.
    edges : int array (m, 2)
        The map (connected, planar, no repeated edge).
    load : array (n,)
        One balance attribute; the bound holds for any further attributes as well.
    lower, upper : float
        Bounds of each part's load.
    limit : int
        Cut edges of a known plan: only shorter splits are searched, so the bound is at most ``limit``.
    rest : (float, float), optional
        Bounds of the other part's load when they differ from ``[lower, upper]`` (one territory cut off
        from ``k - 1``).
    seconds : float
        Time budget; past it the search stops and ``complete`` is False: ``bound`` is then what the
        finished passes proved (0 when none finished).
    resolution : int
        Load quanta in the total (``quantum = total / resolution``, at least 1 for integer loads).
    first_face : int
        1: only closed walks that avoid the outer face (:func:`dual_map` puts it first) are searched, so
        the bound holds for the splits whose cut edges do not border it.
    dual : DualMap, optional
        The map's faces (:func:`dual_map`), when the caller has them already.

    Returns
    -------
    Bisection, or None when the map is not connected and planar.
        ``bound``: no balanced contiguous split cuts fewer edges; ``label``: a balanced contiguous
        split cutting ``cut`` edges (``cut == bound`` proves it optimal), or None.

    Examples
    --------
    >>> import networkx as nx
    >>> g = nx.grid_2d_graph(4, 4)
    >>> idx = {v: i for i, v in enumerate(g)}
    >>> e = np.array([[idx[a], idx[b]] for a, b in g.edges()])
    >>> res = bisection(16, e, np.ones(16), 8, 8, limit=10)
    >>> res.bound, res.cut, res.complete
    (4.0, 4, True)
    """
    t0 = time.perf_counter()
    ctx = _setup(n, edges, load, (lower, upper), (lower, upper) if rest is None else rest, limit, resolution, dual)
    if ctx is None:
        return None
    if ctx == "empty":
        return Bisection(math.inf, None, None, True, time.perf_counter() - t0, 0.0)
    # passes of growing horizon: a finished pass proves that no split cuts fewer edges than its horizon + 1,
    # so the time budget can end the search with a valid bound; the last pass is the dearest. Below a plan in
    # hand (usually the optimum) two cheap passes at 1/2 and 3/4 of it, then the one just below it
    real = limit <= len(ctx.edges)
    done, horizon = 0, max(1, min(limit // 2 if real else 8, limit - 1))
    while True:
        found = _pass(ctx, horizon, t0 + seconds, first_face)
        if found is None:
            return Bisection(float(done), None, None, False, time.perf_counter() - t0, ctx.quantum)
        best_plan, plan_label, walk_lb = found
        if plan_label is not None or walk_lb <= horizon or horizon >= limit - 1:
            bound = float(min(best_plan, walk_lb, limit))
            return Bisection(bound, plan_label, None if plan_label is None else int(best_plan), True,
                             time.perf_counter() - t0, ctx.quantum)
        done = horizon + 1
        if real:
            horizon = limit - 1 if horizon >= (3 * limit) // 4 else max(horizon + 1, (3 * limit) // 4)
        else:
            horizon = min(limit - 1, horizon + max(2, horizon // 4))


def first_split(n: int, edges: np.ndarray, load: np.ndarray, side: tuple[float, float], rest: tuple[float, float],
                *, seconds: float = 5.0, resolution: int = 250,
                dual: DualMap | None = None) -> tuple[np.ndarray, int] | None:
    """A quick split into two connected parts, one with load in ``side``, the other in ``rest``: ``(label, cut)``.

    The closed walks from the largest face (the outer one on a map drawn from coordinates: cuts from border to
    border) only, shortest first, until one is a simple cycle with both loads inside; None when the time is
    up first or the map is not connected and planar. ``label`` is 1 on the ``side`` part. Coarse weights
    suffice here, as every split is checked with the exact loads (synthetic n=550, +-0.5%: the same 34-edge
    cut with 250, 1000 and 4000 quanta in 0.10, 0.20 and 0.71 CPU s).

    Examples
    --------
    >>> import networkx as nx
    >>> g = nx.grid_2d_graph(4, 6)
    >>> idx = {v: i for i, v in enumerate(g)}
    >>> e = np.array([[idx[a], idx[b]] for a, b in g.edges()])
    >>> label, cut = first_split(24, e, np.ones(24), (8, 8), (16, 16))
    >>> int(label.sum()), cut
    (8, 4)
    """
    deadline = time.perf_counter() + seconds
    limit = len(np.asarray(edges).reshape(-1, 2)) + 1
    ctx = _setup(n, edges, load, side, rest, limit, resolution, dual)
    if ctx is None or ctx == "empty":
        return None
    s = 0  # the largest face (dual_map puts it first)
    found = _walks(ctx, s, limit - 1, deadline, restrict=False, first_only=False)
    if found is None or found[1] is None:
        return None
    length, label = found
    return label, int(length)


@dataclasses.dataclass
class _Ctx:
    n: int
    edges: np.ndarray
    load: np.ndarray
    side: tuple
    rest: tuple
    dm: DualMap
    w: np.ndarray
    width: int
    off: int
    spans_q: np.ndarray
    out_order: np.ndarray
    out_start: np.ndarray
    graph: object
    quantum: float


def _setup(n, edges, load, side, rest, limit, resolution, dual):
    """What every search reads; None for a map this device does not read, "empty" when no split fits the loads."""
    from scipy.sparse import csr_matrix

    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    load = np.asarray(load, dtype=float)
    dm = dual if dual is not None else dual_map(n, edges, load)
    if dm is None:
        return None
    total = float(load.sum())
    integral = bool(np.all(load == np.round(load)))
    quantum = max(total / max(resolution, 1), 1.0) if integral else total / max(resolution, 1)
    quantum = max(quantum, 1e-12)
    w = np.round(dm.weight / quantum).astype(np.int64)
    # a side S (the left of the cycle) has load(S) in [a, b]; the walk's weight is load(S) or load(S) - total,
    # and the reverse walk (the other part on its left) the negatives
    a, b = max(side[0], total - rest[1]), min(side[1], total - rest[0])
    if a > b + 1e-9 * max(1.0, total):
        return "empty"
    spans = [(a, b), (a - total, b - total), (-b, -a), (total - b, total - a)]
    spans_q = np.array([(lo / quantum, hi / quantum) for lo, hi in spans])
    # no walk searched (half of at most ``limit`` arcs) strays further from 0 than that many of its largest
    # weight: a walk may pass one arc again and again (round a vertex, or a bridge's loop at one face), so the
    # largest distinct weights do not bound it (a 10-region map with a bridge ran past them into the next face)
    half = limit // 2 + 2
    off = half * int(np.abs(w).max(initial=0)) + limit + 2
    nf = dm.n_faces
    out_order = np.argsort(dm.tail, kind="stable")
    out_start = np.searchsorted(dm.tail[out_order], np.arange(nf + 1))
    graph = csr_matrix((np.ones(len(dm.tail)), (dm.tail, dm.head)), shape=(nf, nf))
    return _Ctx(n, edges, load, tuple(side), tuple(rest), dm, w, 2 * off + 1, off, spans_q, out_order, out_start,
                graph, quantum)


def _out_arcs(ctx: _Ctx, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every arc out of each face in ``v`` (one search layer's states), as ``(src, arc)``: ``src`` the position
    in ``v`` the arc leaves from, ``arc`` the arc, in ``ctx.out_order`` within each face."""
    cnt = ctx.out_start[v + 1] - ctx.out_start[v]
    src = np.repeat(np.arange(len(v)), cnt)
    pos = np.arange(len(src)) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    return src, ctx.out_order[np.repeat(ctx.out_start[v], cnt) + pos]


def _pass(ctx: _Ctx, horizon_max: int, deadline: float, first_face: int = 0):
    """Closed walks of at most ``horizon_max`` arcs from every face (``first_face`` on: from 1, the walks that
    avoid the outer face); None when the deadline passes."""
    best_plan, plan_label, walk_lb = horizon_max + 1, None, math.inf
    for s in range(first_face, ctx.dm.n_faces):
        horizon = int(min(best_plan, walk_lb)) - 1  # the longest walk worth finding from s
        if horizon < 1:
            break
        found = _walks(ctx, s, horizon, deadline, restrict=True, first_only=True)
        if found is None:
            return None
        length, label = found
        if length is None:
            continue
        if label is not None:
            best_plan, plan_label = length, label
        else:
            walk_lb = min(walk_lb, length)
    return best_plan, plan_label, walk_lb


def _walks(ctx: _Ctx, s: int, horizon: int, deadline: float, *, restrict: bool, first_only: bool,
           collect: list | None = None, most: int = 0):
    """The shortest closed walk from face ``s`` (at most ``horizon`` arcs) in the balance window.

    ``restrict``: only through faces >= s (s is the cycle's first face, so a pass sees each cycle once).
    Returns ``(length, label)``: ``label`` the split when a walk of that length is a simple balanced
    cycle, else None; with ``first_only`` the first length with any walk ends the search, else it goes
    on to the first split. ``(None, None)`` when there is none; None when the deadline passes. With ``collect``
    (a list) the search goes on past the first split, appending each new ``(length, label)`` until it holds
    ``most``.
    """
    from scipy.sparse.csgraph import dijkstra

    if time.perf_counter() > deadline:
        return None
    dm, width = ctx.dm, ctx.width
    # faces a walk back to s can reach in time (one bounded search per face: no n_faces^2 matrix)
    dist = dijkstra(ctx.graph, indices=s, unweighted=True, limit=horizon)
    layers = [(np.array([s * width + ctx.off], dtype=np.int64), np.array([-1]), np.array([-1]))]
    first_hit = None
    for i in range(1, (horizon + 1) // 2 + 1):
        if not first_only and time.perf_counter() > deadline:
            return None
        keys = layers[-1][0]
        v, sig = np.divmod(keys, width)
        src, arc = _out_arcs(ctx, v)
        nv, ns = dm.head[arc], sig[src] + ctx.w[arc]
        ok = (dist[nv] <= horizon - i) & (nv != s)  # a cycle passes its first face once
        if restrict:
            ok &= nv >= s
        nk, first = np.unique(nv[ok] * width + ns[ok], return_index=True)
        layers.append((nk, src[ok][first], arc[ok][first]))
        # closed walks of length 2i - 1 and 2i: a prefix in layer i, a reversed suffix in layer i-1 or i
        for j in (i - 1, i):
            length = i + j
            if length > horizon:
                continue
            pairs = _meet(layers[i][0], layers[j][0], width, ctx.spans_q, length / 2 + 1e-9, 200)
            if not pairs:
                continue
            first_hit = length if first_hit is None else first_hit
            for p, q in pairs[:200]:
                cut_e = dm.edge[np.r_[_trace(layers, i, p), _trace(layers, j, q)]]
                if len(np.unique(cut_e)) != len(cut_e):
                    continue
                label = _split(ctx.n, ctx.edges, cut_e, ctx.load, ctx.side, ctx.rest)
                if label is not None and collect is None:
                    return length, label
                if label is not None and not any((label == seen).all() for _, seen in collect):
                    collect.append((length, label))
                    if len(collect) >= most:
                        return length, label
            if first_only:
                return length, None
        if not len(nk):
            break
    return first_hit, None


#: load quanta of the three-territory theta bound (:func:`outer_theta_bound`); its windows are widened by the
#: search depth in quanta, so coarse quanta loosen it (synthetic n=300, +-0.5%, depth 28: 53 with 2,000 quanta
#: in 4.5 CPU s, of which 1 s the search from the outer face)
THETA_RESOLUTION = 2000
#: the rounds of :func:`three_bound`: the theta at these load quanta, each followed by :func:`enclosed_bound` with
#: its profile, the later ones only while the bound is under the target and time is left.
THETA_STEPS = (2000, 5000)
#: :func:`outer_theta_bound` files each walk by the bucket of its exact weight (:func:`_steps`) rather than by its
#: rounded arc weights' sum, whose error grows with the walk (its window widened by 2 x depth x half a quantum)
THETA_BUCKETS = True


def _steps(ctx: _Ctx) -> tuple[np.ndarray, np.ndarray, bool]:
    """Per arc, the buckets an exact weight moves by: ``(first, count, exact)``, the steps ``first .. first +
    count - 1``; ``exact`` when the total is a whole number of buckets (integer loads: worked out in integers).

    A walk's exact weight ``W`` lies in bucket ``floor(W / quantum)``; an arc of weight ``x`` moves a weight of
    bucket ``b`` to bucket ``b + floor(x / quantum)`` or ``b + ceil(x / quantum)``, so a state's bucket holds the
    exact weight of every walk it stands for, however long (the walks' rounding does not add up). Arcs whose
    weight is a whole number of quanta (0: those that cross no tree edge, two of three on a triangulated map)
    move one step, the others two. With integer loads the quantum is ``total / big`` (``big`` buckets in the
    total), so ``x / quantum = x big / total`` in integers; else in floats, three steps near a whole number.
    """
    big = max(int(round(float(ctx.load.sum()) / ctx.quantum)), 1)
    weight = ctx.dm.weight
    total = float(ctx.load.sum())
    if bool(np.all(ctx.load == np.round(ctx.load))) and total * big < 2.0**62:
        x = np.round(weight).astype(np.int64) * big
        t = int(round(total))
        first = x // t
        return first, np.where(x % t == 0, 1, 2).astype(np.int64), True
    x = weight / ctx.quantum
    first = np.floor(x - 1e-9).astype(np.int64)
    last = np.ceil(x + 1e-9).astype(np.int64)
    zero = weight == 0
    first[zero], last[zero] = 0, 0
    return first, last - first + 1, False


def _arms(ctx: _Ctx, depth: int, deadline: float, keep: bool = False, buckets: bool = False):
    """Fewest arcs of a walk from the outer face (face 0, never entered again) to each face, by weight residue.

    ``D[f, r]``: the fewest arcs (at most ``depth``; ``depth + 1`` for none) of a walk from face 0 to ``f``
    whose rounded weight is ``r`` modulo the total (in quanta). Breadth first over (face, weight) states, each
    state kept at its first layer. None when the deadline passes. With ``keep``: ``(D, layers, at)``, the
    layers as in :func:`_walks` and ``at[f * total + r]`` the state (``layer * 2**32 + index``) behind ``D``.
    With ``buckets``, ``r`` is the bucket of the walk's exact weight (:func:`_steps`) instead of its rounded
    arc weights' sum: off by less than one quantum whatever the walk's length.
    """
    dm, w = ctx.dm, ctx.w
    if buckets:
        step0, count, _ = _steps(ctx)
        reach = np.maximum(np.abs(step0), np.abs(step0 + count - 1))
    else:
        reach = np.abs(w)
    off = depth * int(reach.max(initial=0)) + 1  # no walk of ``depth`` arcs (arcs may repeat) strays further
    width = 2 * off + 1
    big = int(round(float(ctx.load.sum()) / ctx.quantum))
    out = np.full((dm.n_faces, big), depth + 1, dtype=np.int16)
    at = np.full(dm.n_faces * big, -1, dtype=np.int64) if keep else None
    keys, visited = np.array([off], dtype=np.int64), np.zeros(0, dtype=np.int64)
    layers = [(keys, np.array([-1]), np.array([-1]))]
    for i in range(1, depth + 1):
        if time.perf_counter() > deadline:
            return None
        v, sig = np.divmod(keys, width)
        src, arc = _out_arcs(ctx, v)
        if buckets:  # each arc once per bucket step
            cnt = count[arc]
            rep = np.repeat(np.arange(len(arc)), cnt)
            step = step0[arc][rep] + np.arange(len(rep)) - np.repeat(np.cumsum(cnt) - cnt, cnt)
            src, arc = src[rep], arc[rep]
            nv, ns = dm.head[arc], sig[src] + step
        else:
            nv, ns = dm.head[arc], sig[src] + w[arc]
        ok = nv != 0  # an arm ends at the outer face's branch point: it never passes it
        nk, first = np.unique(nv[ok] * width + ns[ok], return_index=True)
        if len(visited):
            seen = np.minimum(np.searchsorted(visited, nk), len(visited) - 1)
            fresh = visited[seen] != nk
            nk, first = nk[fresh], first[fresh]
        if not len(nk):
            break
        visited = np.union1d(visited, nk)
        f, sg = np.divmod(nk, width)
        r = np.mod(sg - off, big)
        if keep:
            layers.append((nk, src[ok][first], arc[ok][first]))
            fr = f * big + r
            new = out.ravel()[fr] > i
            u, idx = np.unique(fr[new], return_index=True)
            at[u] = i * 2**32 + np.flatnonzero(new)[idx]
        np.minimum.at(out, (f, r), i)
        keys = nk
    return (out, layers, at) if keep else out


def _range_min(table, x, y):
    """``min(a[x..y])`` for each pair, from :func:`_min_table` of ``a``."""
    lv = np.floor(np.log2(np.maximum(y - x + 1, 1))).astype(np.int64)
    out = np.empty(len(x))
    for level in np.unique(lv).tolist():
        m = lv == level
        out[m] = np.minimum(table[level][x[m]], table[level][y[m] - (1 << level) + 1])
    return out


def _min_table(a):
    table, k = [a], 1
    while 2 * k <= len(a):
        table.append(np.minimum(table[-1][:-k], table[-1][k:]))
        k *= 2
    return table


def outer_theta_bound(n: int, edges: np.ndarray, load: np.ndarray, lower: float, upper: float, *, depth: int,
                      cap: int, seconds: float = 30.0, resolution: int = THETA_RESOLUTION,
                      plan: int | None = None, profile: bool = False,
                      buckets: bool | None = None) -> float | tuple | None:
    """Fewest cut edges of three connected parts (loads in ``[lower, upper]``) whose boundaries all meet the
    outer face, each with a connected rest: a lower bound, at most ``cap``; None when out of time or not planar.

    Their cut is a theta in the dual: three paths from the outer face to one face ``f``, internally disjoint,
    each part between two of them. With the tree weights, the weights ``s1, s2, s3`` of the paths (from the
    outer face) differ by the parts' loads modulo the total (``s1 - s2 = load(A)``, ``s2 - s3 = load(B)``,
    ``s3 - s1 = load(C)``, paths named so that the parts lie on one side). Walks in place of paths relax
    it: the fewest arcs ``D[f, s mod total]`` of walks from the outer face (:func:`_arms`, up to ``depth``;
    an arm not found is at least ``depth + 1``) and, for each ``f``, the least ``D[s1] + D[s2] + D[s3]``
    with the three differences in the window widened by the rounding. With ``buckets`` (default
    :data:`THETA_BUCKETS`) ``s`` is the bucket of a walk's exact weight (:func:`_steps`), so two arms' difference
    is off by less than one quantum; else the sum of the rounded arc weights, off by half a quantum an arc, and
    the window is widened by ``2 x depth x`` that. The shortest path is taken as ``s1``, so ``D[s1]`` is at
    most the others.

    With ``plan`` (a plan's cut), returns ``(bound, label, cut)``: the walks of the best triples below
    ``plan`` are traced, and where their edges split the map into three connected parts with loads in
    bounds (checked with the exact loads) that split is ``label`` (else None) with ``cut`` edges.

    With ``profile``, the result (the bound, or the tuple) is followed by an array ``t``: ``t[l]`` (the last
    entry for any longer ``l``) bounds the triples whose shortest arm has at most ``l`` arcs (at most ``cap``).
    :func:`enclosed_bound` reads it: there the shortest arm is short.

    Examples
    --------
    >>> import networkx as nx
    >>> g = nx.convert_node_labels_to_integers(nx.grid_2d_graph(3, 6))
    >>> outer_theta_bound(18, np.array(list(g.edges())), np.ones(18), 6, 6, depth=8, cap=20)  # 3x6 grid, 6 cells each
    8.0
    """
    deadline = time.perf_counter() + seconds
    ctx = _setup(n, edges, load, (lower, upper), (2 * lower, 2 * upper), 2 * depth, resolution, None)
    if ctx is None or ctx == "empty":
        return None if ctx is None else float(cap)
    buckets = THETA_BUCKETS if buckets is None else buckets
    traced = _arms(ctx, depth, deadline, keep=plan is not None, buckets=buckets)
    if traced is None:
        return None
    arms = traced[0] if plan is not None else traced
    big, q = arms.shape[1], ctx.quantum
    total_q = float(ctx.load.sum()) / q
    whole = 0.0 if abs(total_q - big) < 1e-9 else 1.0  # one more where the total is not a whole number of quanta
    if buckets:
        whole = 0.0 if _steps(ctx)[2] else 1.0
        # two exact weights in buckets b1, b2 differ by more than (b1 - b2 - 1) and less than (b1 - b2 + 1) quanta
        lo, hi = int(math.floor(lower / q - whole - 1e-6)), int(math.ceil(upper / q + whole + 1e-6))
    else:
        # rounding: an arc's weight is off by ``err`` quanta at most, two arms of ``depth`` arcs by 2 depth err
        err = float(np.abs(ctx.dm.weight / q - ctx.w).max()) if len(ctx.w) else 0.0
        slack = 2 * depth * err + whole
        lo, hi = int(math.floor(lower / q - slack - 1e-9)), int(math.ceil(upper / q + slack + 1e-9))
    best = float(cap)
    below = -1 if plan is None else plan  # triples worth tracing: fewer arcs than the plan in hand
    # triples worth counting: under the best so far and the plan; with ``profile`` every one under ``cap``
    keep = max(below, cap if profile else -1)
    # by_short[l]: the fewest arcs of a triple whose shortest arm has l arcs (cap: none under cap)
    by_short = np.full(depth + 1, float(cap))
    triples = []
    for f in range(1, ctx.dm.n_faces):
        if time.perf_counter() > deadline:
            return None
        d = arms[f].astype(np.float64)
        r1 = np.flatnonzero(d <= min(depth, (max(best, keep) - 1) // 3))  # the shortest arm, under ``best``
        if not len(r1):
            continue
        l1 = d[r1]
        table = _min_table(np.concatenate([d, d]))
        for a in range(lo, hi + 1):
            r2 = np.mod(r1 - a, big)
            l2 = d[r2]
            m = (l2 >= l1) & (2 * l1 + l2 < max(best, keep))  # the third arm is at least the first
            # the third load, total - a - b, in the window too: b within [total - hi - a, total - lo - a]
            b_lo, b_hi = max(lo, big - hi - a), min(hi, big - lo - a)
            if b_lo > b_hi or not m.any():
                continue
            x = np.mod(r2[m] - b_hi, big)
            if b_hi - b_lo + 1 >= big:  # coarse quanta: every residue fits
                l3 = np.full(len(x), d.min())
            else:
                l3 = _range_min(table, x, x + (b_hi - b_lo))
            tot = l1[m] + l2[m] + np.maximum(l3, l1[m])
            best = min(best, float(tot.min()))
            if profile:
                np.minimum.at(by_short, l1[m].astype(np.int64), tot)
            if plan is not None:
                j = np.flatnonzero((tot < below) & (l3 <= depth))
                triples += [(float(tot[x]), f, int(r1[m][x]), int(r2[m][x]), int(b_lo), int(b_hi)) for x in j[:8]]
    # a triple not searched has its shortest arm l > (cap - 1) // 3 (so at least 3 l >= cap arcs) or l > depth
    # (arms past ``depth`` count as depth + 1, and 3 (depth + 1) >= cap where the caller searched deep enough;
    # else the cap falls to it): the running minimum over the shortest arm is a bound for "at most l"
    shorts = np.minimum(np.minimum.accumulate(by_short), min(float(cap), 3.0 * (depth + 1)))
    if plan is None:
        return (best, shorts) if profile else best
    label, cut = _theta_split(ctx, traced, triples, lower, upper, deadline)
    return (best, label, cut, shorts) if profile else (best, label, cut)


def _theta_split(ctx: _Ctx, traced, triples, lower, upper, deadline, tries: int = 400):
    """The best split into three connected parts with loads in ``[lower, upper]`` whose cut edges are the arcs of
    one of ``triples``'s walks (fewest arcs first): ``(label, cut)``, or ``(None, None)``."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    arms, layers, at = traced
    big = arms.shape[1]
    tol = 1e-9 * max(1.0, float(ctx.load.sum()))
    best, best_cut, seen = None, None, set()
    for tot, f, r1, r2, b_lo, b_hi in sorted(triples)[:tries]:
        if time.perf_counter() > deadline or (best_cut is not None and tot >= best_cut):
            break
        d = arms[f]
        r3s = np.mod(r2 - np.arange(b_lo, b_hi + 1), big)
        r3s = r3s[np.argsort(d[r3s], kind="stable")][:3]
        for r3 in r3s.tolist():
            if d[r3] > len(layers) - 1:
                break
            arcs = []
            for r in (r1, r2, r3):
                state = int(at[f * big + r])
                arcs.append(_trace(layers, state >> 32, state & (2**32 - 1)))
            cut_e = np.unique(ctx.dm.edge[np.concatenate(arcs)])
            key = tuple(cut_e.tolist())
            if key in seen:
                continue
            seen.add(key)
            keep = np.ones(len(ctx.edges), dtype=bool)
            keep[cut_e] = False
            e = ctx.edges[keep]
            parts, label = connected_components(csr_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])),
                                                           shape=(ctx.n, ctx.n)), directed=False)
            if parts != 3:
                continue
            sums = np.bincount(label, weights=ctx.load, minlength=3)
            if (sums < lower - tol).any() or (sums > upper + tol).any():
                continue
            cut = int((label[ctx.edges[:, 0]] != label[ctx.edges[:, 1]]).sum())
            if best_cut is None or cut < best_cut:
                best, best_cut = label.astype(np.int64), cut
    return best, best_cut


def _meet(keys_i, keys_j, width, spans_q, slack, most: int = 200):
    """Pairs (state in i, state in j) at one face whose weights differ by a value in a widened span: the first
    ``most`` (each hit gives one to four; WV, k=3: building all 1.4 million of them took 1.4 of carve_many's
    2.1 s, while the search reads 200 at most)."""
    vi, si = np.divmod(keys_i, width)
    # sigma_i - sigma_j in [lo - slack, hi + slack]  <=>  sigma_j in [sigma_i - hi - slack, sigma_i - lo + slack]
    a = si[None, :] - np.floor(spans_q[:, 1] + slack).astype(np.int64)[:, None]
    b = si[None, :] - np.ceil(spans_q[:, 0] - slack).astype(np.int64)[:, None]
    good = (b >= 0) & (a <= width - 1)
    base = vi * width
    left = np.searchsorted(keys_j, (base + np.maximum(a, 0)).ravel(), side="left")
    right = np.searchsorted(keys_j, (base + np.minimum(b, width - 1)).ravel(), side="right")
    hit = np.flatnonzero(good.ravel() & (right > left))
    if not len(hit):
        return []
    hit = hit[:most]
    x = hit % len(keys_i)
    return [(int(p), int(y)) for p, lo, hi in zip(x.tolist(), left[hit].tolist(), right[hit].tolist())
            for y in range(lo, min(hi, lo + 4))]


def _trace(layers, i, idx) -> np.ndarray:
    """The arcs of the walk ending at state ``idx`` of layer ``i`` (from the start)."""
    arcs = []
    while i > 0:
        _, pred, arc = layers[i]
        arcs.append(int(arc[idx]))
        idx = int(pred[idx])
        i -= 1
    return np.array(arcs[::-1], dtype=np.int64)


#: share of what is left of ``time_limit`` (after the warm start) that the planar bound search may use, by k;
#: without a limit it gets PLANAR_SECONDS. For k=2 the MILP's bounds were 2.5-15 where the search proves
#: (synthetic Delaunay maps, +-0.5%: n=300 24 in 1.6 CPU s, n=400 30 in 5.7, n=550 34 in 18.4; at 0.7 the
#: n=550 search ran out at 26 under load 12); for k >= 3 the search bounds but rarely proves, the MILP may
PLANAR_SHARE = {2: 0.9, 3: 0.9}
PLANAR_SHARE_MORE = 0.3
PLANAR_SECONDS = 600.0
#: share of what is left (and seconds without a limit) for the part-by-part first plan (:func:`carve`);
#: measured: the first cut of n=550 takes 0.5-0.7 CPU s and is the k=2 optimum there (34)
FIRST_SHARE = 0.2
FIRST_SECONDS = 30.0
#: while no plan is in hand the carving may run this many seconds past a smaller share (as the heuristic's
#: search.FIRST_PLAN_SECONDS: a first plan is worth a small constant over the limit)
FIRST_FLOOR = 1.0
#: k >= 3: the warm start's carving and the bound stage's first split (:func:`solve_split`) get at most this many
#: seconds per region (at least FIRST_FLOOR; None: their shares). Measured (1 thread): the carving finds its
#: plan in 0.02-0.04 CPU s on NE, OK, KS, AR, IA, MS and returns None at once on LA, but on WV (55 counties,
#: k=3) it searched 4.6 CPU s before giving up (its whole 5 s share on an idle machine); synthetic n=300/400:
#: 0.15/0.19 CPU s. The first split alone (one part against the rest): 0.01-0.02 CPU s on the county maps, None at
#: once on LA, 0.05/0.10/0.08 on synthetic n=300/400/550, None after 4.2 CPU s on WV
FIRST_PER_REGION: float | None = 0.01
#: k >= 3: the region-growing heuristic runs after a carving that found a plan (False: only when it found none).
#: Measured (county maps, 5 s each): its plan never beat the carved one, before or after the re-splits that
#: follow (OK 62 against 43, re-split 40 and 40; KS 43/33 -> 32/32; AR 35/33 -> 33/33; IA 44/33 -> 33/33; MS
#: 40/34 -> 35/34; NE 19/19; synthetic n=300/400 105/54, 106/52), and it used up to its whole share (~1 CPU s at
#: load 6, 34-50 starts)
WARM_HEURISTIC = False


def applies(model, d, built) -> bool:
    """Whether the planar searches read this model: contiguous interchangeable territories by cut edges of one
    weight, a balance attribute with loads >= 0 and an upper bound, no user rows, no bridged islands (the map
    must still be connected and planar: :func:`dual_map` says so)."""
    from .labelling import symmetric

    if model.objective != "cut_edges" or not model.contiguity or d.k < 2 or not symmetric(d) or d.bridged:
        return False
    if getattr(built, "has_problem", False) or _attr(d) is None or not len(d.edges):
        return False
    w = np.asarray(d.edge_w, dtype=float)
    return bool(w[0] > 0 and np.all(w == w[0]))


def _attr(d) -> int | None:
    """The balance attribute the searches use: loads >= 0, a finite upper bound, the narrowest window."""
    best, width = None, math.inf
    for q in range(len(d.attrs)):
        total = float(d.loads[:, q].sum())
        if np.isfinite(d.upper[q]) and (d.loads[:, q] >= 0).all() and total > 0:
            span = (d.upper[q] - d.lower[q]) / total
            if span < width:
                best, width = q, span
    return best


def first_plan(d, seconds: float):
    """:func:`carve` on ``d``: ``(label, objective)`` or None."""
    p = _attr(d)
    label = carve(d.n, d.edges, d.loads, d.lower, d.upper, d.k, seconds=seconds, attr=p)
    if label is None:
        return None
    cut = label[d.edges[:, 0]] != label[d.edges[:, 1]]
    return label, float(np.asarray(d.edge_w, dtype=float)[cut].sum())


def _first_seconds(d, seconds: float) -> float:
    """``seconds`` for a first carving or split of ``d``, capped for k >= 3 (:data:`FIRST_PER_REGION`)."""
    if d.k >= 3 and FIRST_PER_REGION is not None:
        return min(seconds, max(FIRST_PER_REGION * d.n, FIRST_FLOOR))
    return seconds


def warm_plan(d, seconds: float, heuristic):
    """The warm start where the planar searches apply: the carved plan, else ``heuristic(seconds_left)``'s
    (for two territories the carved plan alone: the bound search that follows improves it; for more, the
    re-splits and the planar stage improve it, and the heuristic runs after a carved plan only with
    :data:`WARM_HEURISTIC`, keeping the better). Measured (synthetic n=550, +-0.5%, load 9-12): the heuristic
    found no balanced plan for k=2 in its 4-4.4 s share (0.7 CPU s); the first carved cut took 0.5-0.7 CPU s and
    was the optimum. For k >= 3 the carving gets at most :data:`FIRST_PER_REGION` seconds a region.
    """
    from . import heuristics as heur

    t0 = time.perf_counter()
    first = first_plan(d, max(_first_seconds(d, seconds), FIRST_FLOOR))
    carved = None
    if first is not None:
        # each part is connected and balanced (checked in carve); centres None as in the MILP's answers
        carved = heur.Result(label=first[0], centres=None, objective=first[1], violation=0.0, contiguous=True,
                             seconds=time.perf_counter() - t0)
        if d.k == 2 or not WARM_HEURISTIC:
            return carved
    res = heuristic(max(seconds - (time.perf_counter() - t0), 0.0))
    good = res is not None and res.violation <= 1e-9 and res.contiguous and len(np.unique(res.label)) == d.k
    if carved is not None and (not good or carved.objective < res.objective - 1e-9):
        return carved
    return res


def solve_split(d, limit_objective: float, seconds: float) -> Bisection | None:
    """A bound on ``d``'s cut edges from :func:`bisection`, in objective units; for k=2 also a split.

    k=2: the search below the plan of ``limit_objective``. k >= 3: ``c``, the fewest edges around one
    territory whose complement is connected (its side in ``[L, U]``, the rest in ``[(k-1) L, (k-1) U]``),
    bounds the cut: two parts at least have a connected complement (the parts' adjacency graph is
    connected, and a graph has two vertices that do not cut it), each bounded by ``c``, and every cut edge
    lies on two parts' boundaries, so the cut is at least ``c``; for k=3 at least ``1.5 c`` (all three
    complements connected: half of three boundaries; else the middle part's boundary holds the other two:
    their sum, ``2 c``). Before the searches, :func:`carve_many` (:data:`CARVE_SHARE` of the time) gives a plan,
    returned as the split where it cuts fewer edges than ``limit_objective`` (and than a plan the theta traced).
    """
    w0 = float(np.asarray(d.edge_w, dtype=float)[0])
    p = _attr(d)
    lo, up, k = float(d.lower[p]), float(d.upper[p]), d.k
    if k == 2:
        limit = int(math.floor(limit_objective / w0 + 1e-9)) if math.isfinite(limit_objective) else len(d.edges) + 1
        res = bisection(d.n, d.edges, d.loads[:, p], lo, up, limit=max(limit, 1), seconds=seconds)
    else:
        t0 = time.perf_counter()
        rest = ((k - 1) * lo, (k - 1) * up)
        # a plan from several first parts (CARVE_TRIES) first: a lower plan narrows the searches below
        below = int(math.floor(limit_objective / w0 + 1e-9)) if math.isfinite(limit_objective) else None
        carved = carve_many(d.n, d.edges, d.loads, d.lower, d.upper, k, attr=p, seconds=CARVE_SHARE * seconds,
                            below=below)
        carved_cut = None if carved is None else int((carved[d.edges[:, 0]] != carved[d.edges[:, 1]]).sum())
        if carved_cut is not None and carved_cut * w0 < limit_objective - 1e-9:
            limit_objective = carved_cut * w0
        else:
            carved = None
        # only a limit for the search below: capped, as on WV (55 counties, k=3, +-0.5%) it found no split
        # for 58 of the stage's 60 s while the MILP proves the map in 19 s
        first = first_split(d.n, d.edges, d.loads[:, p], (lo, up), rest,
                            seconds=_first_seconds(d, FIRST_SPLIT_SHARE * seconds))
        limit = len(d.edges) + 1 if first is None else first[1]
        # k=3: the search for c gets THETA_SHARE[0] of the time, the theta THETA_SHARE[1] of what is left
        share = THETA_SHARE[0] if k == 3 else 1.0
        res = bisection(d.n, d.edges, d.loads[:, p], lo, up, limit=max(limit, 1), rest=rest,
                        seconds=share * max(seconds - (time.perf_counter() - t0), 0.0))
        if res is None:
            return None
        if k == 3:
            plan = int(math.floor(limit_objective / w0 + 1e-9)) if math.isfinite(limit_objective) else 2 * limit
            # a plan traced from the theta search comes back as the split (search.py keeps it where it cuts less)
            bound, label, cut = three_bound(d.n, d.edges, d.loads[:, p], lo, up, res.bound, plan, t0 + seconds)
        else:
            bound, label, cut = res.bound, None, None
        if carved is not None and (label is None or carved_cut < cut):
            label, cut = carved, carved_cut  # every part connected (carved along bonds), balance checked below
        res = dataclasses.replace(res, bound=float(bound), label=label, cut=cut)
    if res is None:
        return None
    if res.label is not None:
        sums = np.zeros((k, d.loads.shape[1]))
        np.add.at(sums, res.label, d.loads)
        tol = 1e-9 * np.maximum(1.0, np.abs(d.upper))
        if (sums < d.lower - tol).any() or (sums > d.upper + tol).any():
            res = dataclasses.replace(res, label=None, cut=None)  # another attribute's bound breaks it
    return dataclasses.replace(res, bound=res.bound * w0)


#: k=3 time split (:func:`solve_split`): the search for ``c`` gets the first share of the bound's time, the
#: theta bound the second of what is left, the rest the search that avoids the outer face. Measured (synthetic
#: n=550, +-0.5%, load 6): c=32 in 9.3 CPU s, the theta (depth 32) 62 in 9.0 CPU s; with 0.3 of the rest the
#: theta ran out (wall 3x CPU) and the bound stayed at 1.5 c = 48
THETA_SHARE = (0.4, 0.7)
#: k >= 3: share of the bound's time for the first split that limits the search for ``c`` (:func:`solve_split`)
FIRST_SPLIT_SHARE = 0.1


def three_bound(n: int, edges: np.ndarray, load: np.ndarray, lower: float, upper: float, c: float, plan: int,
                deadline: float) -> tuple[float, np.ndarray | None, int | None]:
    """A lower bound on the cut edges of three connected parts with loads in ``[lower, upper]``, by how they sit.

    ``c`` is a lower bound on the fewest edges around one part whose rest is connected; ``plan`` a plan's cut
    (no bound above it is needed). The parts' adjacency graph is a path or a triangle:

    - path (the middle part's rest falls apart): the cut is the two end parts' boundaries, at least ``2 c``, and
      :func:`strip_bound` (their stretches of the border apart);
    - triangle: every part's rest is connected, the cut (half the three boundaries, at least ``1.5 c``) is a
      theta in the dual graph (paths P1, P2, P3 between two faces), and the outer face is (a1) one of its two
      branch points: :func:`outer_theta_bound` ``theta``; (a2) inside P1: the part between P2 and P3 has a
      boundary ``G`` avoiding the outer face, ``m`` arcs at least from it, and the cut is at least
      ``c + |G| / 2`` and ``min over q >= m of max(theta - q, |G| + 2 q)`` (P1 runs from ``G`` through the
      outer face and back: its shorter half ``q`` is shared by two arms of a theta from the outer face,
      whose third arm, along the longer half, is short when the cut is: the theta's profile by its
      shortest arm reads that, :func:`_enclosed_cut`); (a3) off it: all three boundaries avoid it,
      ``1.5 |G|``. :func:`enclosed_bound` takes the least over such ``G`` (the theta searched
      :data:`THETA_MARGIN` above the target, so that its excess counts). In (a2) the other two parts share the
      border and cross it at the same two edges, so ``2 K >= |G| + D[i, j] + D[j, i]`` (the ring of
      :func:`_strip_and_ring`), with one of the two walks through ``G``'s first face (:func:`_ring_through`).

    The theta and the enclosed-part search run in rounds (:data:`THETA_STEPS`, load quanta of the theta):
    a finer round only while the bound is under the target and time is left; each round's bound is valid.

    The bound is the least over the cases, rounded up; each search cut short by ``deadline`` falls back to
    what ``c`` alone gives (``1.5 c``; for (a2) and (a3), the faces not searched yet as if ``|G| = c``).
    Returns ``(bound, label, cut)``: ``label`` a split into three connected parts within the bounds cutting
    ``cut < plan`` edges, traced from the theta search, or None.

    Examples
    --------
    >>> import networkx as nx
    >>> g = nx.convert_node_labels_to_integers(nx.grid_2d_graph(3, 6))  # 6 cells each: two straight cuts, 6 edges
    >>> three_bound(18, np.array(list(g.edges())), np.ones(18), 6, 6, 3, 7, time.perf_counter() + 30)[0]
    6.0
    """
    if not math.isfinite(c):
        return c, None, None
    base = 1.5 * c
    if min(plan, 2 * c) <= base:
        return float(math.ceil(base - 1e-9)), None, None
    # the path case with its end boundaries apart, and what two parts sharing the border cost (case a2)
    # (searched only a few edges above 2 c: WV, k=3, plan 23, c 6: 2.4 CPU s of a 6 s stage with the plan's cap)
    strip, ring, table = _strip_and_ring(n, edges, load, lower, upper, c,
                                         min(plan, int(math.ceil(2 * c - 1e-9)) + STRIP_ABOVE), RING_EXTRA, deadline,
                                         STRIP_RESOLUTION)
    target = min(plan, strip)
    cap = int(target) + THETA_MARGIN  # above the target: :func:`enclosed_bound` trades the excess
    bound, label, cut = math.ceil(base - 1e-9), None, None
    theta_full, shorts = base, base
    record = None  # :func:`enclosed_bound`'s per-face bounds so far
    for step, resolution in enumerate(THETA_STEPS):  # each round's bound is valid: the larger one counts
        if step and (bound >= target or time.perf_counter() > deadline):
            break
        found = outer_theta_bound(n, edges, load, lower, upper, depth=max(1, int(math.ceil(cap - c))),
                                  cap=cap, seconds=THETA_SHARE[1] * max(deadline - time.perf_counter(), 0.0),
                                  plan=int(plan if cut is None else cut), profile=True, resolution=resolution)
        if found is None:
            if step:
                break
        else:
            theta_full = max(theta_full, found[0])
            # by the shortest arm (case (a2) reads it; every round's profile bounds the same triples, so the
            # larger entry counts); a triple there has K + q >= K >= 1.5 c arcs
            shorts = np.maximum(shorts, np.maximum(found[3], base))
            if found[1] is not None and (cut is None or found[2] < cut):
                label, cut = found[1], found[2]
        theta = min(theta_full, target)
        # a part whose boundary avoids the outer face, (a2) and (a3): only worth searching below the bound so far
        worth = int(math.ceil(min(strip, theta) - 1e-9))
        enclosed = 0.0
        for res in ENCLOSED_RESOLUTION:  # each a valid bound: the finer one where time is left
            if enclosed >= worth or time.perf_counter() > deadline:
                break
            # each face keeps what the coarser rounds showed (every round's per-face bound is valid, and the
            # later profiles are at least the earlier ones): only faces still under the bound are searched again
            found, record = enclosed_bound(n, edges, load, lower, upper, c=c, theta=shorts, want=worth,
                                           deadline=deadline, resolution=res, ring=ring, table=table,
                                           floor=record if ENCLOSED_FLOORS else None, faces=True)
            enclosed = max(enclosed, found)
        bound = max(bound, math.ceil(max(base, min(strip, theta, enclosed)) - 1e-9))
    return float(bound), label, cut


def _outer_order(dm: DualMap) -> tuple[DualMap, np.ndarray]:
    """``dm`` with its faces renumbered by their distance (arcs) from the outer face, which stays face 0; and the
    distances in the new order."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import dijkstra

    nf = dm.n_faces
    graph = csr_matrix((np.ones(len(dm.tail)), (dm.tail, dm.head)), shape=(nf, nf))
    dist = dijkstra(graph, indices=0, unweighted=True)
    order = np.lexsort((np.arange(nf), dist))  # order[new] = old; face 0 (distance 0) first
    rank = np.empty(nf, dtype=np.int64)
    rank[order] = np.arange(nf)
    return DualMap(nf, rank[dm.tail], rank[dm.head], dm.weight, dm.edge, dm.outer), dist[order]


def _enclosed_cut(length: float, near: float, c: float, theta, ring: float = 0.0) -> float:
    """What one part's boundary that avoids the outer face, ``length`` arcs and ``near`` arcs at least from it,
    leaves of the cut (cases (a2) and (a3) of :func:`three_bound`), rounded up.

    ``theta``: a number (the theta bound) or the profile of :func:`outer_theta_bound` (``theta[l]``, the last
    entry for longer ``l``: the triples whose shortest arm has at most ``l`` arcs). In case (a2) a cut of ``K``
    edges gives a triple of ``K + q`` arcs whose shortest arm has at most ``|P1| - q <= K - length - q`` (the
    arm along the longer half of P1), so ``K`` needs ``theta[K - length - q] <= K + q`` for some ``q >= near``
    with ``2 q <= K - length``; a number ``theta`` reads as ``K >= theta - q``.
    """
    prof = np.atleast_1d(np.asarray(theta, dtype=float))
    length = int(math.ceil(length - 1e-9))
    shared = math.inf
    q = max(int(near), 1)
    while length + 2 * q < shared:
        cut = length + 2 * q  # |P1| >= 2 q
        while True:
            arm = cut - length - q  # the longest the shortest arm can be
            if arm >= len(prof) - 1:
                cut = max(cut, int(math.ceil(prof[-1] - q - 1e-9)))
                break
            if prof[arm] <= cut + q + 1e-9:
                break
            cut += 1
        shared = min(shared, cut)
        q += 1
    return float(math.ceil(min(max(c + length / 2, (length + ring) / 2, shared), 1.5 * length) - 1e-9))


#: the theta bound behind :func:`enclosed_bound` is searched this many edges above the bound it has to reach:
#: each edge it has above it keeps the costly boundaries near the outer face two arcs shorter, and its profile
#: by the shortest arm is capped there. Measured (synthetic n=400, k=3, +-0.5%, 5,000 quanta, load 5):
#: three_bound 50 with 2 (the profile capped at 53 = the trade's q=3 limit), 51 = the plan with 4
THETA_MARGIN = 4
#: load quanta of :func:`enclosed_bound`'s searches, coarse first (each bound is valid; the larger one counts).
#: 500 first since session 9: synthetic n=550 reaches 64 there (19.3 against 34.0 CPU s at 1,000); n=300 does not
#: (51 in 3.9 CPU s, then 53 at 1,000).
#: Measured (synthetic n=300/400/550, k=3, +-0.5%, load 6-8, CPU s): 1,000 quanta 49/48/60 in 4.7/6.8/27.7,
#: 2,000 49/49/60 in 7.3/12.1/47.5, 20,000 49 in 22.6 at n=300 and nothing at n=400 in 120 s (the walks
#: widen by half a quantum an arc, but the bound comes from how the parts sit, not from the window)
ENCLOSED_RESOLUTION = (500, 1000, 2000)
#: each round of :func:`enclosed_bound` starts from the per-face bounds of the coarser ones (``floor``)
ENCLOSED_FLOORS = True


def enclosed_bound(n: int, edges: np.ndarray, load: np.ndarray, lower: float, upper: float, *, c: float,
                   theta, want: int, deadline: float, resolution: int = 2000, ring: float = 0.0,
                   table: np.ndarray | None = None, floor: np.ndarray | None = None,
                   faces: bool = False) -> float | tuple[float, np.ndarray | None]:
    """A lower bound (at most ``want``) on the cut edges of three connected parts, loads in ``[lower, upper]``,
    one of which has a boundary that avoids the outer face: cases (a2) and (a3) of :func:`three_bound`.

    Such a boundary ``G`` is a closed dual walk that avoids the outer face, balanced inside; its faces lie ``m``
    arcs at least from the outer face. (a2): the other two parts meet along a path ``P1`` from ``G`` through
    the outer face and back, ``|P1| >= 2 q`` with ``q >= m`` the shorter half, so the cut is at least
    ``|G| + 2 q``, at least ``theta - q`` (``theta`` from :func:`outer_theta_bound`: the three arms from the
    outer face share that half; given its profile by the shortest arm, the one along the longer half of P1,
    at most ``cut - |G| - q`` arcs, reads a dearer theta: :func:`_enclosed_cut`) and at least ``c + |G| / 2``;
    (a3): all three boundaries avoid the outer face,
    ``1.5 |G|``. With the faces numbered by their distance from the outer face, each walk is searched from its
    first face ``s`` (``m`` its distance) only as long as it could leave less than ``want``; faces near the
    outer face (small ``m``) are the dear ones. ``c`` bounds every walk's length from below; when the
    ``deadline`` passes, the faces not searched yet give what a walk of ``c`` arcs would.

    With ``faces``, returns ``(bound, record)``: ``record[s]`` bounds what the boundaries whose first face is ``s``
    leave (faces in this function's order: by distance, :func:`_outer_order`; None where the map is not read).
    Handed back as ``floor`` to a later call (finer quanta, same map), the faces whose floor is already at the
    bound so far are not searched again, and each face counts the larger of the two.

    Examples
    --------
    >>> import networkx as nx
    >>> g = nx.convert_node_labels_to_integers(nx.grid_2d_graph(3, 6))  # no 6-cell part avoids the outer face
    >>> enclosed_bound(18, np.array(list(g.edges())), np.ones(18), 6, 6, c=3, theta=8, want=6,
    ...                deadline=time.perf_counter() + 30)
    6.0
    """
    dm = dual_map(n, edges, load)
    if dm is None:
        return (float(want), None) if faces else float(want)
    dm, near = _outer_order(dm)
    ctx = _setup(n, edges, load, (lower, upper), (2 * lower, 2 * upper), max(int(want), 1), resolution, dm)
    if ctx is None or ctx == "empty":
        return (float(want), None) if faces else float(want)
    nf = dm.n_faces
    floor = np.zeros(nf) if floor is None else np.asarray(floor, dtype=float)
    record = np.full(nf, math.inf)  # per face: a bound on what the boundaries whose first face it is leave
    best = float(want)
    lo = max(int(math.ceil(c - 1e-9)), 1)  # no balanced closed walk is shorter than c
    memo: dict = {}

    def left(length, m):  # _enclosed_cut, once per (length, distance)
        key = (int(length), int(m))
        if key not in memo:
            memo[key] = _enclosed_cut(length, m, c, theta, ring)
        return memo[key]

    def done(value):
        return (value, record) if faces else value

    def out_of_time(s):  # the faces from s on may hold walks of ``c`` arcs
        record[s:] = [max(floor[t], left(lo, near[t])) for t in range(s, nf)]
        return done(min(best, float(record[s:].min())))

    for s in range(1, nf):
        if floor[s] >= best:  # an earlier round (coarser quanta) showed it leaves no less
            record[s] = floor[s]
            continue
        # the longest walk from s that could still leave less than ``best``
        horizon = lo - 1
        while horizon + 1 < 2 * best and left(horizon + 1, near[s]) < best:
            horizon += 1
        if horizon < lo:
            # later faces lie no nearer the outer face: each leaves ``left(lo, near[s])`` at least
            record[s:] = np.maximum(floor[s:], left(lo, near[s]))
            break
        found = _walks(ctx, s, horizon, deadline, restrict=True, first_only=True)
        if found is None:
            return out_of_time(s)
        if found[0] is None:  # no walk of ``horizon`` arcs or fewer: at least ``best`` (see the loop above)
            record[s] = max(floor[s], left(horizon + 1, near[s]))
            continue
        value = left(found[0], near[s])
        if table is not None and value < best and value < math.ceil(1.5 * found[0] - 1e-9):
            # case (a2) with G through s: one of the two parts that share the border has s on its boundary
            need = int(2 * best - found[0])  # the ring that would leave ``best``
            through = _ring_through(ctx, s, table, need, deadline)
            if through is None:
                return out_of_time(s)
            value = min(max(value, math.ceil((found[0] + through) / 2 - 1e-9)), math.ceil(1.5 * found[0] - 1e-9))
        record[s] = max(floor[s], value)
        best = min(best, record[s])
    return done(best)


def _ring_through(ctx: _Ctx, s: int, table: np.ndarray, need: int, deadline: float) -> float | None:
    """The least ``D_s[p, q] + D[q, p]``, ``D_s`` the closed walks of :func:`_through_outer` that also pass face
    ``s`` (``D = table``, both by positions of the outer face's boundary walk), searched as far as ``need``
    (beyond it the result is ``need`` at least); None when the deadline passes.

    Walks from ``s`` that never enter the outer face, breadth first over (face, weight residue modulo the total),
    each state at its first layer; ``E[p, r]``: the fewest arcs of such a walk out across the border edge at
    position ``p`` with weight ``r``. A walk out at ``p``, through ``s``, back at ``q`` is the reverse of one of
    them (weight ``-r1``) and another (``r2``), its left side balanced: ``r2 - r1`` in the window, widened by
    half a quantum an arc.
    """
    dm = ctx.dm
    cc = int(table.min())  # no such walk is shorter
    longest = max(need - cc, 1)  # D_s worth finding: under need - D[q, p]
    depth = longest - 1  # layers inside (a half of ``depth + 1`` arcs with the arc into the outer face)
    big = max(int(round(float(ctx.load.sum()) / ctx.quantum)), 1)
    d = len(dm.outer)
    pos = np.full(len(ctx.edges), -1, dtype=np.int64)
    pos[dm.edge[dm.outer]] = np.arange(d)
    none = depth + 2
    E = np.full((d, big), none, dtype=np.int64)
    seen = np.zeros(dm.n_faces * big, dtype=bool)
    keys = np.array([s * big], dtype=np.int64)
    seen[keys] = True
    for i in range(depth + 1):
        if time.perf_counter() > deadline:
            return None
        v, r = np.divmod(keys, big)
        src, arc = _out_arcs(ctx, v)
        nv, nr = dm.head[arc], np.mod(r[src] + ctx.w[arc], big)
        out = nv == 0
        np.minimum.at(E, (pos[dm.edge[arc[out]]], nr[out]), i + 1)
        if i == depth:
            break
        nk = np.unique(nv[~out] * big + nr[~out])
        nk = nk[~seen[nk]]
        if not len(nk):
            break
        seen[nk] = True
        keys = nk
    err = float(np.abs(dm.weight / ctx.quantum - ctx.w).max()) if len(ctx.w) else 0.0
    total_q = float(ctx.load.sum()) / ctx.quantum
    slack = 2 * (depth + 1) * err + (0.0 if abs(total_q - big) < 1e-9 else 1.0)
    lo_q, hi_q = ctx.spans_q[0]  # the left side's load, modulo the total
    lo, hi = int(math.floor(lo_q - slack - 1e-9)), int(math.ceil(hi_q + slack + 1e-9))
    if hi - lo + 1 >= big:
        M = np.repeat(E.min(axis=1, keepdims=True), big, axis=1)
    else:
        x = np.mod(np.arange(big) + lo, big)
        M = np.empty_like(E)
        for q in range(d):
            M[q] = _range_min(_min_table(np.concatenate([E[q], E[q]])), x, x + (hi - lo))
    # D_s[p, q] = min over r1 of E[p, r1] + M[q, r1]: r2 within r1 + [lo, hi]
    ds = np.maximum((E[:, None, :] + M[None, :, :]).min(axis=2), table)
    return float(min((ds + table.T).min(), need))


#: load quanta of :func:`strip_bound`'s searches (a walk of ``l`` arcs is off by ``l / 2`` quanta at most, and its
#: window is widened by that)
STRIP_RESOLUTION = 2000
#: which stretch of the outer face's boundary walk lies on the left of a dual walk that leaves the outer face by
#: the arc at position ``i`` of :attr:`DualMap.outer` and comes back across the edge at position ``j``: True for
#: positions ``i, i + 1, ..., j`` (both ends included, modulo the length), False for ``j, ..., i``
STRIP_FORWARD = True
#: :func:`three_bound` searches the walks through the outer face this many arcs deeper than the strip needs, for
#: the least cost of two parts that share the border (case a2)
RING_EXTRA = 10
#: :func:`three_bound` asks the strip bound for at most this many edges above ``2 c`` (the searches grow with it;
#: synthetic n=300: 53 = 2 c + 1 proves the plan)
STRIP_ABOVE = 3


def _halves(ctx: _Ctx, outer: np.ndarray, length: int, sign: int, deadline: float):
    """Walks of 1 to ``length`` arcs from the outer face that never enter it again, each state
    ``(position of the first arc, face, weight)`` at its first layer: keys
    ``(position * n_faces + face) * width + off + weight`` by layer (layer ``i``: ``i + 1`` arcs). With ``sign``
    -1 the weights are those of the reversed walks (a walk into the outer face read backwards). None when the
    deadline passes."""
    dm, width, nf = ctx.dm, ctx.width, ctx.dm.n_faces
    keys = np.unique((np.arange(len(outer)) * nf + dm.head[outer]) * width + ctx.off + sign * ctx.w[outer])
    layers, seen = [keys], keys
    for _ in range(1, length):
        if time.perf_counter() > deadline:
            return None
        ps, sig = np.divmod(keys, width)
        p, v = np.divmod(ps, nf)
        src, arc = _out_arcs(ctx, v)
        nv = dm.head[arc]
        ok = nv != 0  # a bond passes the outer face once
        nk = np.unique((p[src][ok] * nf + nv[ok]) * width + sig[src][ok] + sign * ctx.w[arc][ok])
        nk = nk[~np.isin(nk, seen, assume_unique=True)]
        if not len(nk):
            break
        seen = np.union1d(seen, nk)
        layers.append(nk)
        keys = nk
    return layers


def _through_outer(ctx: _Ctx, outer: np.ndarray, horizon: int, deadline: float):
    """``D[i, j]``: the fewest arcs (at most ``horizon``; ``horizon + 1`` for none) of a closed dual walk that
    leaves the outer face by the arc at position ``i`` of ``outer``, comes back across the edge at position
    ``j`` and never passes it between, with a balanced part on its left (rounded weights, the window widened by
    half a quantum an arc). Meets walks from the outer face with walks into it read backwards; None when the
    deadline passes."""
    nf, width, d = ctx.dm.n_faces, ctx.width, len(outer)
    half = (horizon + 1) // 2
    fw = _halves(ctx, outer, half, 1, deadline)
    bw = None if fw is None else _halves(ctx, outer, half, -1, deadline)
    if bw is None:
        return None
    D = np.full((d, d), horizon + 1, dtype=np.int64)
    for i in range(len(fw)):
        for j in (i - 1, i):  # a prefix of i + 1 arcs, a reversed suffix of j + 1
            length = i + j + 2
            if j < 0 or j >= len(bw) or length > horizon:
                continue
            if time.perf_counter() > deadline:
                return None
            ps, sf = np.divmod(fw[i], width)
            pf, vf = np.divmod(ps, nf)
            qs, sb = np.divmod(bw[j], width)
            pb, vb = np.divmod(qs, nf)
            order = np.lexsort((sb, vb))  # by face, then weight
            key_b, pb = vb[order] * width + sb[order], pb[order]
            slack = length / 2 + 1e-9
            for lo, hi in ctx.spans_q[:2]:  # the left side's load: load(S) or load(S) - total
                # the walk's weight is (sf - off) + (sb - off): sb within [lo - sf + 2 off, hi - sf + 2 off]
                a = np.clip(np.floor(lo - slack).astype(np.int64) - sf + 2 * ctx.off, 0, width - 1)
                b = np.ceil(hi + slack).astype(np.int64) - sf + 2 * ctx.off
                good = b >= 0
                b = np.clip(b, 0, width - 1)
                left = np.searchsorted(key_b, vf * width + a, side="left")
                right = np.searchsorted(key_b, vf * width + b, side="right")
                hit = np.flatnonzero(good & (right > left))
                if not len(hit):
                    continue
                cnt = right[hit] - left[hit]
                rows = np.repeat(pf[hit], cnt)
                cols = pb[np.repeat(left[hit], cnt) + np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt)]
                np.minimum.at(D, (rows, cols), length)
    return D


def strip_bound(n: int, edges: np.ndarray, load: np.ndarray, lower: float, upper: float, *, c: float, want: int,
                deadline: float, resolution: int = STRIP_RESOLUTION) -> float:
    """A lower bound (at most ``want``) on the cut edges of three connected parts in a row, loads in
    ``[lower, upper]``: the parts' adjacency graph a path ``A - B - C`` (the path case of :func:`three_bound`).

    The cut is the end parts' boundaries, two balanced bonds (each part's rest is connected) with no edge in
    common, ``2 c`` at least. Sharper where the shortest bonds cluster: when both boundaries pass the outer face,
    each is a closed dual walk that leaves it across one border edge and comes back across another, with its
    part's stretch of the border between them, and as ``A`` and ``C`` share no region and no edge, their
    stretches (both crossing edges included) share no position of the outer face's boundary walk: the least
    ``D[i, j] + D[i', j']`` over such pairs (:func:`_through_outer`). When one boundary avoids the outer face,
    the cut is at least ``c`` plus the shortest balanced closed walk that avoids it. Only boundaries shorter than
    ``want - c`` are searched; a search the ``deadline`` cuts short gives ``2 c``.

    Examples
    --------
    >>> import networkx as nx
    >>> g = nx.convert_node_labels_to_integers(nx.grid_2d_graph(3, 9))  # 9 cells each: two straight cuts, 6 edges
    >>> strip_bound(27, np.array(list(g.edges())), np.ones(27), 9, 9, c=3, want=10, deadline=time.perf_counter() + 30)
    6.0
    """
    return _strip_and_ring(n, edges, load, lower, upper, c, want, 0, deadline, resolution)[0]


def _strip_and_ring(n, edges, load, lower, upper, c, want, extra, deadline, resolution):
    """:func:`strip_bound` and the least ``D[i, j] + D[j, i]`` (two parts that share the border, crossing it at
    the same two edges: case (a2) of :func:`three_bound`), with ``D`` searched ``extra`` arcs deeper than the
    strip needs, and ``D`` itself (None where it was not searched); ``(2 c, 2 c, None)`` where a search runs out
    of time or the map is not read."""
    two_c = float(math.ceil(2 * c - 1e-9))
    cc = int(math.ceil(c - 1e-9))
    horizon = int(want) - 1 - cc  # the longest end boundary that could leave less than ``want``
    strip = float(want) if horizon < cc else None
    if strip is not None and extra <= 0:
        return strip, two_c, None
    dm = dual_map(n, edges, load)
    ctx = None if dm is None else _setup(n, edges, load, (lower, upper), (2 * lower, 2 * upper),
                                         int(want) + max(extra, 0) + 1, resolution, dm)
    if ctx is None or ctx == "empty":
        return (float(want), float(want), None) if ctx == "empty" else (min(two_c, float(want)), two_c, None)
    D = _through_outer(ctx, dm.outer, max(horizon, cc - 1) + max(extra, 0), deadline)
    if D is None:
        return min(two_c, float(want)) if strip is None else strip, two_c, None
    ring = float(max(two_c, (D + D.T).min()))
    if strip is not None:
        return strip, ring, D
    # one end part's boundary avoids the outer face: c + the shortest balanced closed walk that does
    found = _pass(ctx, horizon, deadline, first_face=1)
    if found is None:
        return min(two_c, float(want)), ring, D
    best = float(min(want, cc + min(found[0], found[2])))
    # both pass it: pairs of walks whose stretches of the border share no position
    d = len(dm.outer)
    i, j = np.nonzero(D <= horizon)
    start, end = (i, j) if STRIP_FORWARD else (j, i)
    span = np.mod(end - start, d)  # the stretch: start, start + 1, ..., start + span

    def inside(x, s, w):  # position x in the stretch of start s and span w
        return np.mod(x - s, d) <= w

    for a in range(len(start)):
        apart = ~inside(start, start[a], span[a]) & ~inside(start[a], start, span)
        if apart.any():
            best = min(best, float(D[i[a], j[a]] + D[i[apart], j[apart]].min()))
    return max(best, min(two_c, float(want))), ring, D


def carve(n: int, edges: np.ndarray, loads: np.ndarray, lower: np.ndarray, upper: np.ndarray, k: int, *,
          seconds: float = 10.0, attr: int = 0) -> np.ndarray | None:
    """k connected parts with every load in bounds, cut off one at a time by :func:`first_split`; None if none.

    Part ``j`` takes load ``[lower, upper]`` on attribute ``attr`` from what is left, the rest keeps
    ``[(k - j - 1) lower, (k - j - 1) upper]``; each cut is a bond of what is left, so every part is
    connected. A heuristic: a plan, no bound. Every attribute's bounds are checked on the result.

    Examples
    --------
    >>> import networkx as nx
    >>> g = nx.grid_2d_graph(3, 6)
    >>> idx = {v: i for i, v in enumerate(g)}
    >>> e = np.array([[idx[a], idx[b]] for a, b in g.edges()])
    >>> label = carve(18, e, np.ones((18, 1)), np.array([6.0]), np.array([6.0]), 3)
    >>> np.bincount(label).tolist()
    [6, 6, 6]
    """
    deadline = time.perf_counter() + seconds
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    loads = np.asarray(loads, dtype=float).reshape(n, -1)
    label = np.full(n, -1, dtype=np.int64)
    left = np.arange(n)
    for j in range(k - 1):
        pos = np.full(n, -1, dtype=np.int64)
        pos[left] = np.arange(len(left))
        sub = edges[(pos[edges[:, 0]] >= 0) & (pos[edges[:, 1]] >= 0)]
        lo, up = float(lower[attr]), float(upper[attr])
        rest = k - j - 1
        found = first_split(len(left), pos[sub], loads[left, attr], (lo, up), (rest * lo, rest * up),
                            seconds=max(deadline - time.perf_counter(), 0.0))
        if found is None:
            return None
        part = found[0]
        label[left[part == 1]] = j
        left = left[part == 0]
    label[left] = k - 1
    sums = np.zeros((k, loads.shape[1]))
    np.add.at(sums, label, loads)
    tol = 1e-9 * np.maximum(1.0, np.abs(loads.sum(axis=0)))
    if (sums < np.asarray(lower) - tol).any() or (sums > np.asarray(upper) + tol).any():
        return None
    return label




#: first parts :func:`carve_many` tries (the shortest balanced bonds from the outer face) and their load quanta.
#: Measured (synthetic n=300/400/550, k=3, +-0.5%, load 8-12): carve 54/52/65; 10 first parts at 2,000 quanta
#: 53/51/64 in 1.3/1.2/1.6 CPU s; 40 first parts 53/51/64 in 5.2-5.6 CPU s; 10 or 40 at 250 quanta: 54 at n=300
CARVE_TRIES = 10
#: k >= 3: share of the bound's time (:func:`solve_split`) for :func:`carve_many`, before the searches. In the
#: warm start (5 s, half of it after carve) it ran out under load 6 and n=300 kept 54
CARVE_SHARE = 0.1
CARVE_RESOLUTION = 2000


def carve_many(n: int, edges: np.ndarray, loads: np.ndarray, lower: np.ndarray, upper: np.ndarray, k: int, *,
               seconds: float = 10.0, attr: int = 0, tries: int = CARVE_TRIES,
               resolution: int = CARVE_RESOLUTION, below: int | None = None) -> np.ndarray | None:
    """:func:`carve` with the first part chosen among the ``tries`` shortest balanced bonds from the outer face:
    the plan that cuts the fewest edges, or None.

    The first bond of :func:`carve` is the shortest, and the rest's split has to live with it; a longer first
    bond can leave a rest that splits along fewer edges. Each first part is connected with a connected rest and
    its load in bounds (checked with the exact loads); the rest is carved into ``k - 1`` parts; every
    attribute's bounds are checked on the plan. With ``below`` (a plan's cut) only first bonds shorter than it
    are searched (WV, k=3: balanced bonds from the outer face are rare, and the search ran its whole share).
    A heuristic: a plan, no bound.

    Examples
    --------
    >>> import networkx as nx
    >>> g = nx.convert_node_labels_to_integers(nx.grid_2d_graph(3, 6))
    >>> label = carve_many(18, np.array(list(g.edges())), np.ones((18, 1)), np.array([6.0]), np.array([6.0]), 3)
    >>> np.bincount(label).tolist()
    [6, 6, 6]
    """
    deadline = time.perf_counter() + seconds
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    loads = np.asarray(loads, dtype=float).reshape(n, -1)
    lo, up = float(lower[attr]), float(upper[attr])
    ctx = _setup(n, edges, loads[:, attr], (lo, up), ((k - 1) * lo, (k - 1) * up), len(edges) + 1, resolution,
                 None)
    if ctx is None or ctx == "empty" or k < 2:
        return None
    firsts: list = []
    horizon = len(edges) if below is None else min(len(edges), below - 1)
    if horizon >= 1:
        _walks(ctx, 0, horizon, deadline, restrict=False, first_only=False, collect=firsts, most=tries)
    tol = 1e-9 * np.maximum(1.0, np.abs(loads.sum(axis=0)))
    best, best_cut = None, None
    for _, part in firsts:
        if time.perf_counter() > deadline:
            break
        left = np.flatnonzero(part == 0)
        pos = np.full(n, -1, dtype=np.int64)
        pos[left] = np.arange(len(left))
        sub = pos[edges[(pos[edges[:, 0]] >= 0) & (pos[edges[:, 1]] >= 0)]]
        rest = carve(len(left), sub, loads[left], lower, upper, k - 1, attr=attr,
                     seconds=max(deadline - time.perf_counter(), 0.0))
        if rest is None:
            continue
        label = np.zeros(n, dtype=np.int64)
        label[left] = rest + 1
        sums = np.zeros((k, loads.shape[1]))
        np.add.at(sums, label, loads)
        if (sums < np.asarray(lower) - tol).any() or (sums > np.asarray(upper) + tol).any():
            continue
        cut = int((label[edges[:, 0]] != label[edges[:, 1]]).sum())
        if best_cut is None or cut < best_cut:
            best, best_cut = label, cut
    return best
