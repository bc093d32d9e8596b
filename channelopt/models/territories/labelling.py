"""The labelling formulation: ``x[v, j] = 1`` when region ``v`` is in territory slot ``j``.

Used for ``cut_edges``, ``disruption`` and ``compactness`` with fixed centres.
Contiguity is a flow from each slot's root (:mod:`.contiguity`): one flow per slot,
or, for interchangeable slots with the cut-edge objective, one flow for all slots that
cut edges block. When the slots are interchangeable (no centres, current alignment or
locks), each partition is kept once: a slot's root is its first region in load order
and roots increase with the slot (Validi & Buchanan's diagonal fixing plus root
ordering); roots and members that the balance bounds and path loads rule out are fixed
(:func:`symmetric_fixing`).

Measured on Validi & Buchanan's county instances (HiGHS, 1 thread, 40 s, load 6.5-8):
WV ended at 26/9 (objective/bound) with the per-slot flow and the max cut rows, 26/12.1
with the single flow, 26/10.9 with the extended objective, and 23/17.7 with both; NE was
proven in 53 s with both (load 9.3), where it had ended at 19/15 after 120 s. WV is proven in
25 CPU seconds (83 s wall at load 15); after about 40 CPU seconds each part alone left it open:
load fixing only 23/13, + reach fixing 26/13, + single flow 26/13.7, + extended objective 25/15.2.
Still open after about 150 CPU seconds: OK 45/30.6 (optimum 40), KS 36/22.4 (32). Not kept
(CPU seconds to proof, WV and NE): rows ``x[v,j] <= sum_{u in N(v)} x[u,j]`` for regions too
light to be a territory alone, 24.6 vs 25.1 and 8.9 vs 11.3; HiGHS ``mip_heuristic_effort``
0.01 instead of 0.05, 26.5 and 11.5.

Fixings against Validi & Buchanan's (their table 14 counts; ours from :func:`symmetric_fixing`): root
pairs (region, slot) left open, ours / theirs (n k less their L-, U_R- and diagonal fixings): OK 30 / ~18,
KS 20 / ~13, WV 16 / ~14, NE 10 / ~10; members fixed to 0 beyond the diagonal: OK 81 (their U_X 87, which
also counts lower bounds), KS 5 (11), NE 5 (8); z fixed (:data:`Z_FIXING`): OK 251 (their 250), KS 34 (34),
WV 15 (14). Their order puts last a large set B whose pieces are lighter than a territory (a 60 s max-B
MIP: OK |B| = 64, KS 95); a greedy B (lightest first, 57 and 87) left more roots open on KS (32) and IA
(54) than load order, so load order stays. Per-root floors are near additive: the least joint boundary of
the three forced slots is 35 on OK against 9 + 10 + 15, 28 on KS (slots 1, 2) against 14 + 14.

Tail rows (:data:`MINROOT`) and Z-fixing, measured with the optimum given as a cutoff (HiGHS 1.16, 1
thread, load 7-12, before/after side by side): WV proven in 15.2 CPU s / 2,691 nodes against 22.1 /
4,147 (x[v,j] <= R[v,j], no Z-fixing); NE 9.7 against 10.1; OK 55.6 CPU s / 4,284 nodes against 73.6 /
5,670; bound after 2,500 nodes OK 30.6 against 29.8. The LP bound is unchanged (OK 20.22, KS 12.07);
the root bound after cuts barely moves (OK 24.0 against 24.2, KS 15.1 against 15.4). The whole solve path
(``bench_territories.py`` ``new`` against ``s5``, 180 s, 1 thread, two processes side by side, load 8-11, so
each got 25-38 CPU s): NE proven in 5.8 against 9.2 CPU s, WV in 28.8 against 24.4; OK 43/29.92 against
43/28.53, KS 33/21.4 against 33/21.53, AR 33/15.82 against 33/16.1. Re-run at load 1.0-1.6 (one process
per state, ``new`` then ``s5`` in one run, 180 s, 1 thread, 09:30-09:50 UTC 2026-12-02): OK 43/34.34 unproven
against **proven in 84.1 s**; KS 33/27.63 against 32/26.55; WV proven in 44.9 against 43.9 s; AR in 134.6
against 138.3 s; NE in 5.8 against 9.1 s. Only OK's proof, a target of issue 12, differs in kind, so both stay
off by default (``MINROOT = "single"``, ``Z_FIXING = False``); the tests cover both.

Floors again on this path (tail rows + Z-fixing, complete floors, optimum as cutoff, load 4-7; CPU s of
the MILP + of the floors): WV 21.1 + 2.4 ("total") and 26.8 + 2.5 ("slots") against 15.2; NE 5.4 + 5.1 and
9.9 + 5.2 against 9.7; OK 111.3 + 6.2 and 144.3 + 6.0 against 55.6. They stay off. HiGHS heuristics off
(RENS, RINS, feasibility jump, effort 0; same cutoff runs, load 8): WV 13.8 against 14.5, NE 6.5 against
9.2, OK 53.2 against 54.7 CPU s; not kept: the real path leans on HiGHS to improve a warm start that is not
optimal (KS), and a cutoff run does not measure that.

Boundary floors (:data:`BOUNDARY`, :func:`boundary_floor`; off by default): a territory rooted at
``p`` is a balanced region set holding ``p``, so its cut edges are at least the least boundary
of such a set. With the floors complete the LP bound rises from 7.09 to 16.5 on WV (optimum
23), 20.22 to 32.5 on OK (40) and 12.07 to 25.5 on KS (32), one row as much as a row per slot.
Bounds at the limit rose on every map not proven (120-150 s, load 9-15): OK 29 -> 30.5 and
25.1 -> 29.5, KS 19.6 -> 22, AR 18.2 -> 20 and 16.6 -> 19; but the proofs in reach got slower
(CPU s): WV 42.6 -> 55.5 and 26.6 -> 31.2, NE 14.9 -> 31.0. Not kept: floors of connected sets
only (a flow in each sub-MIP: the same floors on OK where both finished, sub-MIPs 2-10x slower).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..._arrays import ArrayProblem
from .contiguity import add_flow_contiguity, add_single_flow_contiguity
from .data import TerritoryData, row_bounds

__all__ = ["build_labelling", "symmetric", "dual_rows"]

#: symmetry rows: "cumulative" (O(n k) rows of at most 3 nonzeros, the default) or
#: "explicit" (the 0.1 rows, O(k n^2) nonzeros); kept for the before/after benchmark
SYMMETRY = "cumulative"
#: the region order the symmetry rows use: "load" (largest first on the first balance
#: attribute, which lets the load fixing below bite early), "index" (0.1's order) or, with contiguity,
#: "back" (load order, but a large set whose pieces are each lighter than a territory goes last, where no
#: region can root one: Validi & Buchanan's B_decreasing order, the set from :func:`back_set`). "back" leaves
#: fewer roots open (WV 11 against 16, OK 23 against 30, KS 11 against 20, AR 22 against 35) but did not
#: prove faster (optimum as cutoff, load 5-9: WV 22.3 against 14.3 CPU s, NE 8.0 against 9.0, OK 50.8
#: against 52.3; KS bound after 70.1 CPU s 24.43 against 24.57), so it is not the default
ORDER = "load"
#: randomised greedy passes :func:`back_set` makes (at most; fewer on large maps, see there)
BACK_TRIES = 300
#: fix roots (and members before the first possible root) from the balance bounds
LOAD_FIXING = True
#: how a cut edge is priced: "max" (``y_e >= x[u,j] - x[v,j]`` for every slot, 0.1's rows),
#: "variation" (``y_e >= 1/2 sum_j |x[u,j] - x[v,j]|``, the multiway-cut relaxation) or "extended"
#: (Validi & Buchanan: ``z[e,j] >= x[u,j] - x[v,j]``, ``y_e = sum_j z[e,j]``; the same LP value as
#: "variation" with half the rows). Measured: variation alone solved ME/NM/ID 1.0-1.6x slower than max
#: with the per-slot flow; extended with the single flow is the pair that pays (module docstring)
CUT_ROWS = "extended"
#: root-order rows ``x[v,j] <= R[v,j]`` ("single") or the tail sums ``sum_{t>=j} x[v,t] <= R[v,j]`` ("tail": a
#: region in any slot from ``j`` on comes no earlier than ``j``'s root; the rows of Faenza & Kaibel's extended
#: formulation of the partitioning orbitope that Validi & Buchanan use, O(n k^2) nonzeros)
MINROOT = "single"
#: with the extended cut rows, fix ``z[e,j]`` from the bounds of ``x`` (Validi & Buchanan's Z-fixing) and drop
#: the rows it makes redundant
Z_FIXING = False
#: with contiguity, fix roots and members from path loads (:func:`reach_fixing`)
REACH_FIXING = True
#: contiguity rows of the symmetric cut-edge model: "slots" (one flow per slot, 2 m k arcs) or
#: "single" (one flow for all slots that cut edges block, 2 m arcs; Validi & Buchanan's SCF)
FLOW = "single"
#: with the extended cut objective and free roots, floors from the smallest edge boundary of a balanced region
#: set holding a slot's root (:func:`boundary_floor`): "slots" (a row per slot, on a second block of cut
#: variables), "total" (one row: twice the cut edges cover the floors of all slots) or None (the default: they
#: lift the bound of the maps not proven in time but slow the proofs in reach, see the module docstring)
BOUNDARY = None
#: seconds at most for one boundary sub-MIP and for all of them (its dual bound is used when it stops early)
BOUNDARY_SECONDS = (2.0, 20.0)
#: at most this share of what is left of the solve's time limit goes to the floors
BOUNDARY_SHARE = 0.15
#: declare the cut indicators ``y_e`` integer (they are 0/1 in every plan): with integer edge weights every
#: cost then lies on an integer column, so HiGHS detects an integral objective and prunes a node whose bound
#: is above the plan in hand less one, not less 1e-6. Off: HiGHS then also branches on ``y`` and the bound-limited
#: maps lose (benchmarks/RESULTS.md, issue 12 session 7, bound after 120 CPU s: KS 23.39 against 23.69, AR 19.11
#: against 20.72); from the optimum as warm start WV proves in 19.7 against 24.2 CPU s, OK in 77.1 against 78.2
CUT_INTEGER = False


def region_order(d: TerritoryData, order: str | None = None, contiguity: bool = True) -> np.ndarray:
    """Positions of the symmetry rows: ``order[i]`` is the region at position ``i``.

    "back" applies with ``contiguity`` and a positive lower bound on the first balance attribute
    (loads >= 0); otherwise it is "load".
    """
    order = order or ORDER
    if order in ("load", "back") and d.loads.shape[1]:
        a = d.loads[:, 0]
        if order == "back" and contiguity and d.lower[0] > 0 and (a >= 0).all():
            back = np.zeros(d.n, dtype=bool)
            back[back_set(d)] = True
            front = np.flatnonzero(~back)
            last = np.flatnonzero(back)
            return np.r_[front[np.argsort(-a[front], kind="stable")], last[np.argsort(-a[last], kind="stable")]]
        return np.argsort(-a, kind="stable")
    return np.arange(d.n)


def back_set(d: TerritoryData, tries: int | None = None, seed: int = 0) -> np.ndarray:
    """A large region set whose connected pieces each weigh less than the lower bound (first attribute).

    A region placed after all regions outside the set reaches, through positions after its own, only
    its piece of the set: too light to be a territory, so it roots none (:func:`reach_fixing` finds this
    from the order). Validi & Buchanan find the largest such set with a MIP (60 s of Gurobi; OK 64 regions,
    KS 95); here greedy passes add regions lightest first (the first pass) or in a randomly perturbed
    order of loads, keeping a region when the piece it joins stays below the bound; the largest set
    found is kept (deterministic for a ``seed``). ``tries`` defaults to :data:`BACK_TRIES`, at most
    ``30000 / n`` on large maps.
    """
    n = d.n
    a = d.loads[:, 0]
    bound = d.lower[0]
    tries = tries or max(1, min(BACK_TRIES, 30_000 // max(n, 1)))
    rng = np.random.default_rng(seed)
    best = np.zeros(0, dtype=np.int64)
    for t in range(tries):
        prio = a if t == 0 else a * np.exp(rng.normal(0.0, 0.7, n))
        parent = list(range(n))
        weight = a.tolist()
        inside = [False] * n
        for v in np.argsort(prio, kind="stable").tolist():
            tops = {_find(parent, u) for u in d.adj[v] if inside[u]}
            if a[v] + sum(weight[c] for c in tops) < bound:
                inside[v] = True
                for c in tops:
                    parent[c] = v
                weight[v] = a[v] + sum(weight[c] for c in tops)
        chosen = np.flatnonzero(inside)
        if len(chosen) > len(best):
            best = chosen
    return best


def load_fixing(d: TerritoryData, order: np.ndarray) -> np.ndarray:
    """Which (position, slot) may hold slot ``j``'s root, from the balance bounds alone.

    With roots in slot order at each territory's first position, the regions before
    slot ``j``'s root all lie in slots ``0..j-1`` (so their load is at most ``j x
    upper``) and the regions from it on hold slots ``j..k-1`` (at least ``(k - j) x
    lower``). A position breaking either cannot be slot ``j``'s root.
    """
    n, k = d.n, d.k
    ok = np.ones((n, k), dtype=bool)
    j = np.arange(k)[None, :]
    for p in range(d.loads.shape[1]):
        a = d.loads[order, p]
        before = np.r_[0.0, np.cumsum(a)[:-1]][:, None]
        after = a.sum() - before
        tol = 1e-9 * max(1.0, a.sum())
        if np.isfinite(d.upper[p]):
            ok &= before <= j * d.upper[p] + tol
        ok &= after >= (k - j) * d.lower[p] - tol
    return ok


def reach_fixing(d: TerritoryData, order: np.ndarray, root_ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which (position, slot) may be a root and which a member, when every territory is contiguous.

    Slot ``j``'s territory holds its root ``p`` (its first position) and lies in the
    positions from ``p`` on, in one connected piece: every member ``q`` is joined to ``p``
    by a path through those positions whose load (both ends included) is at most the
    territory's upper bound, on every balance attribute whose loads are all >= 0
    (Validi & Buchanan's U-fixing, here from every possible root). The regions within
    reach of ``p`` must carry each lower bound, or ``p`` roots nothing (their L-fixing).
    Roots increase with the slot; a region whose one possible slot is ``j`` is a member
    of ``j``, so ``j``'s root is no later than it; when nothing before it can root ``j``,
    it is the root. The passes repeat until nothing changes.

    Parameters
    ----------
    d : TerritoryData
        The prepared problem (loads, bounds, adjacency).
    order : int array (n,)
        The region at each position (:func:`region_order`).
    root_ok : bool array (n, k)
        By position: which roots the diagonal and load fixing leave.

    Returns
    -------
    root_ok, member_ok : bool arrays (n, k), by position.
    """
    n, k = root_ok.shape
    root_ok = root_ok.copy()
    loads = d.loads[order]
    usable = [p for p in range(loads.shape[1]) if (loads[:, p] >= 0).all()]
    reach = reach_sets(d, order)
    for p in usable:
        if d.lower[p] > 0:
            total = reach.astype(float) @ loads[:, p]
            root_ok &= (total >= d.lower[p] - 1e-9 * max(1.0, d.lower[p]))[:, None]
    reach_i = reach.astype(np.int64)
    while True:
        before = root_ok.copy()
        # roots strictly increase with the slot
        for j in range(1, k):
            first = np.flatnonzero(root_ok[:, j - 1])
            root_ok[: (first[0] + 1 if len(first) else n), j] = False
        for j in range(k - 2, -1, -1):
            last = np.flatnonzero(root_ok[:, j + 1])
            root_ok[(last[-1] if len(last) else 0):, j] = False
        member_ok = (reach_i.T @ root_ok.astype(np.int64)) > 0
        root_ok &= member_ok
        only = member_ok.sum(axis=1) == 1
        for q in np.flatnonzero(only):
            j = int(np.argmax(member_ok[q]))
            # q is in slot j: j's root comes no later than q (and is q when nothing earlier may root j)
            root_ok[q + 1:, j] = False
        if (root_ok == before).all():
            return root_ok, member_ok


def reach_sets(d: TerritoryData, order: np.ndarray) -> np.ndarray:
    """By position: ``reach[p, q]`` when ``q`` may share a contiguous territory whose first position is ``p``.

    ``q >= p`` and some path from ``p`` to ``q`` through positions ``>= p`` has a load (both
    ends included) within the upper bound of every capped attribute with loads >= 0.
    """
    from scipy.sparse.csgraph import dijkstra

    n = d.n
    loads = d.loads[order]
    reach = np.zeros((n, n), dtype=bool)
    mats = path_loads(d, order)
    if not mats:
        # no upper bound to measure paths against: reach is the piece of the graph after p
        pos = np.empty(n, dtype=np.int64)
        pos[order] = np.arange(n)
        e = pos[np.asarray(d.edges, dtype=np.int64).reshape(-1, 2)]
        from scipy.sparse import csr_matrix

        mats = [(None, csr_matrix((np.ones(2 * len(e)), (np.r_[e[:, 0], e[:, 1]], np.r_[e[:, 1], e[:, 0]])),
                                  shape=(n, n)), 0.0)]
    for s in range(n):
        ok = np.ones(n - s, dtype=bool)
        for p, mat, eps in mats:
            dist = dijkstra(mat[s:, s:], indices=0)
            if p is None:
                ok &= np.isfinite(dist)
            else:
                tol = 1e-9 * max(1.0, d.upper[p]) + n * eps
                ok &= dist + loads[s, p] <= d.upper[p] + tol
        reach[s, s:] = ok
    return reach


def _find(parent: list, u: int) -> int:
    """Union-find root of ``u`` (path halving)."""
    while parent[u] != u:
        parent[u] = parent[parent[u]]
        u = parent[u]
    return u


def symmetric_fixing(d: TerritoryData, contiguity: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The region order of the symmetry rows and the roots and members it leaves, by position.

    Slot ``j``'s root is its first region and roots increase, so the region at position
    ``i < j`` is never in slot ``j``; load fixing removes more roots; with contiguity,
    :func:`reach_fixing` removes roots and members by path loads.

    Measured (Validi & Buchanan's U-fixing of roots): putting regions that pairwise can
    never share a territory first would fix each as a root, but on the county instances
    the largest such sets have 1-4 regions (maximum cliques of the conflict graph), and
    reach fixing already fixes as many roots in load order. The "back" order (:data:`ORDER`) fixes more.
    """
    n, k = d.n, d.k
    order = region_order(d, contiguity=contiguity)
    root_ok = np.ones((n, k), dtype=bool)
    root_ok[np.triu_indices(n, 1, k)] = False
    if LOAD_FIXING:
        root_ok &= load_fixing(d, order)
    member_ok = np.maximum.accumulate(root_ok, axis=0)
    if REACH_FIXING and contiguity and k > 1:
        root_ok, member_ok = reach_fixing(d, order, root_ok)
    return order, root_ok, member_ok


def boundary_floor(d: TerritoryData, order: np.ndarray, root_ok: np.ndarray, member_ok: np.ndarray,
                   seconds: tuple[float, float] | None = None, solver=None) -> np.ndarray:
    """By position: ``b[p, j]`` = a lower bound on slot ``j``'s cut edges when ``p`` is its root.

    Slot ``j`` rooted at ``p`` is a set ``S`` of positions ``>= p`` that ``member_ok[:, j]``
    allows, holding ``p``, with every balance attribute in its bounds; its cut edges
    (weighted) are the edges with one end in ``S``. ``b[p, j]`` is the least such boundary
    over the sets that any slot ``p`` may root allows (contiguous or not: a relaxation, one
    small MIP per root); a
    sub-MIP stopped by its time limit gives its dual bound, still a valid floor. Zero
    where ``p`` cannot root ``j`` or time ran out; ``inf`` where no balanced set exists.

    ``seconds`` is (one sub-MIP, all) in seconds (default :data:`BOUNDARY_SECONDS`); with a
    started ``solver`` clock, all of them get at most :data:`BOUNDARY_SHARE` of what is left,
    and Ctrl-C stops them.
    """
    import dataclasses
    import time

    from ..._arrays import ArrayProblem as _AP
    from ...solver import Solver

    one, total = seconds or BOUNDARY_SECONDS
    if solver is not None and solver.remaining() is not None:
        total = min(total, BOUNDARY_SHARE * solver.remaining())
    n, k = root_ok.shape
    pos = np.empty(n, dtype=np.int64)
    pos[order] = np.arange(n)
    e = pos[np.asarray(d.edges, dtype=np.int64).reshape(-1, 2)]
    w = np.asarray(d.edge_w, dtype=float)
    integral = bool(np.all(w == np.round(w)))
    loads = d.loads[order]
    b = np.zeros((n, k))
    seen: dict[int, float] = {}
    t0 = time.perf_counter()
    # slots with one possible root first (their floor is a constant of the LP), then roots in position order
    pp, jj = np.nonzero(root_ok)
    first = np.lexsort((pp, root_ok.sum(axis=0)[jj] > 1))
    for p, j in zip(pp[first].tolist(), jj[first].tolist()):
        if p in seen:
            b[p, j] = seen[p]
            continue
        # one sub-MIP per root serves every slot it may root: members of any of those slots (a relaxation
        # for each; on OK the floors of the two free slots' shared roots were equal either way)
        allowed = member_ok[:, root_ok[p]].any(axis=1)
        allowed[:p] = False
        allowed[p] = True
        left = total - (time.perf_counter() - t0)
        if left <= 0.05 or (solver is not None and solver.interrupted):
            break
        idx = np.flatnonzero(allowed)
        local = np.full(n, -1, dtype=np.int64)
        local[idx] = np.arange(len(idx))
        ina, inb = allowed[e[:, 0]], allowed[e[:, 1]]
        both = ina & inb
        one_end = ina ^ inb
        ap = _AP("boundary")
        s = ap.add_vars("s", len(idx), upper=1.0, integer=True)
        ap.set_bounds(s[local[p]], lower=1.0)
        # an edge with one end outside the allowed set is cut whenever that end is in S
        ends = np.where(ina[one_end], e[one_end, 0], e[one_end, 1])
        ap.add_cost(s[local[ends]], w[one_end])
        eb = e[both]
        t = ap.add_vars("t", len(eb), upper=1.0, cost=w[both])
        rows = np.arange(len(eb))
        for sign in (1.0, -1.0):
            ap.add_rows(f"t{int(sign)}", np.r_[rows, rows, rows], np.r_[t.index, s[local[eb[:, 0]]],
                        s[local[eb[:, 1]]]], np.r_[np.ones(len(eb)), -sign * np.ones(len(eb)), sign * np.ones(len(eb))],
                        sense=">=", rhs=0.0, n_rows=len(eb))
        for a in range(loads.shape[1]):
            if d.lower[a] > 0:
                ap.add_row(f"lo{a}", s.index, loads[idx, a], ">=", d.lower[a])
            if np.isfinite(d.upper[a]):
                ap.add_row(f"hi{a}", s.index, loads[idx, a], "<=", d.upper[a])
        limit = max(0.05, min(one, left))
        if solver is not None:
            # on the caller's clock (Ctrl-C reaches the whole solve), always HiGHS, one thread, proven
            sub = dataclasses.replace(solver.start_clock(), name="highs", time_limit=limit, mip_gap=0.0,
                                      threads=1, msg=False, options={})
        else:
            sub = Solver("highs", time_limit=limit, threads=1)
        info = sub.solve(ap)
        if info.status == "infeasible":
            val = np.inf  # no balanced set: reach fixing missed it; the row then forbids the root
        else:
            val = float(info.bound) if np.isfinite(info.bound) else 0.0
            if integral:
                val = float(np.ceil(val - 1e-6))
            val = max(val, 0.0)
        seen[p] = b[p, j] = val
    return b


def path_loads(d: TerritoryData, order: np.ndarray | None = None):
    """Per capped attribute with loads >= 0: ``(p, matrix, eps)`` for node-weighted shortest paths.

    An arc weighs its head's load plus ``eps`` (scipy drops explicit zeros, so zero loads stay arcs); a path
    load from ``u`` is the Dijkstra distance plus ``u``'s own load, overstated by at most ``n eps``.
    """
    from scipy.sparse import csr_matrix

    n = d.n
    order = np.arange(n) if order is None else order
    pos = np.empty(n, dtype=np.int64)
    pos[order] = np.arange(n)
    e = pos[np.asarray(d.edges, dtype=np.int64).reshape(-1, 2)]
    tail, head = np.r_[e[:, 0], e[:, 1]], np.r_[e[:, 1], e[:, 0]]
    loads = d.loads[order]
    out = []
    for p in range(loads.shape[1]):
        if np.isfinite(d.upper[p]) and (loads[:, p] >= 0).all():
            w = loads[head, p]
            eps = 1e-9 * max(float(w.max(initial=0.0)), 1.0)
            out.append((p, csr_matrix((w + eps, (tail, head)), shape=(n, n)), eps))
    return out


def most_members(d: TerritoryData) -> int:
    """The most regions one territory can hold: the lightest regions up to each upper bound, at most ``n - k + 1``."""
    most = d.n - d.k + 1
    for p in range(d.loads.shape[1]):
        a = d.loads[:, p]
        if np.isfinite(d.upper[p]) and (a >= 0).all():
            most = min(most, int(np.searchsorted(np.cumsum(np.sort(a)), d.upper[p] * (1 + 1e-9), side="right")))
    return max(most, 1)


def symmetric(d: TerritoryData) -> bool:
    """Whether the slots are interchangeable (any relabelling of a plan is the same plan)."""
    return d.centres is None and d.current is None and d.locked is None


def build_labelling(settings, d: TerritoryData, ap: ArrayProblem, *, symmetry: str | None = None,
                    solver=None) -> dict[str, Any]:
    """Add the labelling model of ``d`` to ``ap`` (blocks of rows); return the state the solve reads.

    ``settings`` is the :class:`TerritoryDesign` (``objective``, ``contiguity``,
    ``max_changes``). ``symmetry`` overrides :data:`SYMMETRY`. ``solver``: the solve's
    started :class:`~channelopt.Solver`, whose clock bounds the boundary floors.
    """
    symmetry = symmetry or SYMMETRY
    n, k = d.n, d.k
    lo, up = np.zeros((n, k)), np.ones((n, k))
    if d.locked is not None:
        for v in np.flatnonzero(d.locked >= 0).tolist():
            up[v] = 0.0
            lo[v, d.locked[v]] = up[v, d.locked[v]] = 1.0
    if d.centres is not None:
        for j, c in enumerate(d.centres):
            up[c] = 0.0
            lo[c, j] = up[c, j] = 1.0
    sym = symmetric(d)
    order = np.arange(n)
    root_ok = np.ones((n, k), dtype=bool)  # by position
    if sym:
        order, root_ok, member_ok = symmetric_fixing(d, settings.contiguity)
        up[order] = np.where(member_ok, up[order], 0.0)
        # a slot with one possible root has it, and the root is a member
        forced = np.flatnonzero(root_ok.sum(axis=0) == 1)
        lo[order[np.argmax(root_ok[:, forced], axis=0)], forced] = 1.0
    x = ap.add_vars("x", (n, k), lower=lo, upper=up, integer=True)
    state: dict[str, Any] = {"form": "labelling", "x": x, "symmetry": symmetry, "order": order}
    ap.add_rows("assign", np.repeat(np.arange(n), k), x.index, sense="==", rhs=1.0, n_rows=n)
    # every territory gets at least one region (balance with a zero lower bound does not say so)
    ap.add_rows("nonempty", np.tile(np.arange(k), n), x.index, sense=">=", rhs=1.0, n_rows=k)
    roots = [None] * k
    if d.centres is not None:
        roots = list(d.centres)
    elif d.locked is not None:
        for j in range(k):
            lk = np.flatnonzero(d.locked == j)
            if len(lk):
                roots[j] = int(lk[0])
    r = None
    need_r = np.array([j for j in range(k) if roots[j] is None], dtype=np.int64)
    if len(need_r) and (settings.contiguity or sym):
        r_up = np.zeros((n, k))
        r_up[:, need_r] = 1.0
        if sym:
            r_up[order] = np.where(root_ok, r_up[order], 0.0)
        r_lo = np.zeros((n, k))
        if sym:
            r_lo[order] = np.where(root_ok & (root_ok.sum(axis=0) == 1)[None, :], 1.0, 0.0)
        r = ap.add_vars("r", (n, k), lower=r_lo, upper=r_up, integer=True)
        ap.add_rows("oneroot", np.repeat(np.arange(len(need_r)), n), r[:, need_r].T.reshape(-1),
                    sense="==", rhs=1.0, n_rows=len(need_r))
        vv, jj = np.meshgrid(np.arange(n), need_r, indexing="ij")
        m = vv.size
        ap.add_rows("rootin", np.r_[np.arange(m), np.arange(m)], np.r_[r[vv, jj].reshape(-1), x[vv, jj].reshape(-1)],
                    np.r_[np.ones(m), -np.ones(m)], sense="<=", rhs=0.0, n_rows=m)
        if sym:
            # the rows run over positions: pass the columns in position order
            if symmetry == "explicit":
                _explicit_root_order(ap, x[order], r[order])
            else:
                _cumulative_root_order(ap, x[order], r[order], up[order] > 0)
        state["r"] = r
    for p in range(len(d.attrs)):
        a = np.repeat(d.loads[:, p], k)
        slot = np.tile(np.arange(k), n)
        row_lo, row_hi = row_bounds(d, p)
        if d.lower[p] > 0:
            ap.add_rows(f"bal_lo_{p}", slot, x.index, a, sense=">=", rhs=row_lo, n_rows=k)
        if np.isfinite(d.upper[p]):
            ap.add_rows(f"bal_hi_{p}", slot, x.index, a, sense="<=", rhs=row_hi, n_rows=k)
    single = FLOW == "single" and settings.contiguity and sym and settings.objective == "cut_edges" and r is not None
    if settings.contiguity and k > 1 and not single:
        add_flow_contiguity(ap, x, d.edges, roots=roots, root_vars=r)
    if d.current is not None and settings.max_changes is not None:
        ap.add_row("max_changes", x[np.arange(n), d.current], 1.0, ">=", n - settings.max_changes)
    if settings.objective == "cut_edges":
        m = len(d.edges)
        y = ap.add_vars("cut", m, upper=1.0, cost=d.edge_w, integer=CUT_INTEGER)
        state["y"] = y
        if m and np.all(np.asarray(d.edge_w) == np.round(d.edge_w)):
            # whole-number borders: at any integer labelling the cheapest cut indicators are 0/1, so the optimum
            # is a whole number and the solver reads HiGHS's bound rounded up (with continuous y HiGHS itself
            # does not see it, and integer y costs more, CUT_INTEGER)
            ap.objective_step = 1.0
        e, j = np.divmod(np.arange(m * k), k)
        u, v = d.edges[e, 0], d.edges[e, 1]
        rows = np.arange(m * k)
        ones = np.ones(m * k)
        if CUT_ROWS == "variation":
            # z[e,j] >= |x[u,j] - x[v,j]| and y_e >= sum_j z[e,j] / 2: an edge inside one territory costs 0,
            # a cut edge 1; fractional labels pay their total variation instead of its largest term
            z = ap.add_vars("cutvar", (m, k), upper=1.0)
            for name, sign in (("cutvar_a", 1.0), ("cutvar_b", -1.0)):
                ap.add_rows(name, np.r_[rows, rows, rows], np.r_[z[e, j], x[u, j], x[v, j]],
                            np.r_[ones, -sign * ones, sign * ones], sense=">=", rhs=0.0, n_rows=m * k)
            ap.add_rows("cutlink", np.r_[np.arange(m), e], np.r_[y.index, z[e, j]], np.r_[np.ones(m), -0.5 * ones],
                        sense=">=", rhs=0.0, n_rows=m)
        elif CUT_ROWS == "extended":
            # Validi & Buchanan's extended objective: z[e,j] >= x[u,j] - x[v,j] and the edge costs sum_j z[e,j]
            # (one z is 1 on a cut edge); fractional labels pay half their total variation
            z_up, z_lo = np.ones(m * k), np.zeros(m * k)
            if Z_FIXING:
                # their Z-fixing: z[e,j] = 0 where u cannot be in j or v must be, = 1 where u must and v cannot
                z_up[(up[u, j] == 0) | (lo[v, j] == 1)] = 0.0
                z_lo[(lo[u, j] == 1) & (up[v, j] == 0)] = 1.0
            z = ap.add_vars("cutvar", (m, k), lower=z_lo.reshape(m, k), upper=z_up.reshape(m, k))
            live = z_up > 0  # a row whose z is fixed at 0 always holds
            nl = int(live.sum())
            ap.add_rows("cutlink", np.r_[np.arange(nl), np.arange(nl), np.arange(nl)],
                        np.r_[z[e[live], j[live]], x[u[live], j[live]], x[v[live], j[live]]],
                        np.r_[np.ones(nl), -np.ones(nl), np.ones(nl)], sense=">=", rhs=0.0, n_rows=nl)
            # y_e = sum_j z[e,j] carries the cost and is the cut indicator the single flow reads
            ap.add_rows("cutsum", np.r_[np.arange(m), e], np.r_[y.index, z[e, j]], np.r_[np.ones(m), -ones],
                        sense="==", rhs=0.0, n_rows=m)
            if BOUNDARY in ("slots", "total") and sym and r is not None and k > 1:
                _boundary_rows(ap, d, order, root_ok, member_ok, x, r, z, y, solver)
        else:
            ap.add_rows("cutlink", np.r_[rows, rows, rows], np.r_[y[e], x[u, j], x[v, j]],
                        np.r_[ones, -ones, ones], sense=">=", rhs=0.0, n_rows=m * k)
        if sym and settings.contiguity:
            # an edge whose ends share no possible slot is cut in every plan
            xo = np.zeros((n, k), dtype=bool)
            xo[order] = member_ok
            always = ~(xo[d.edges[:, 0]] & xo[d.edges[:, 1]]).any(axis=1)
            ap.set_bounds(y[np.flatnonzero(always)], lower=1.0)
        if single and k > 1:
            add_single_flow_contiguity(ap, r, y, d.edges, most_members(d))
    elif settings.objective == "disruption":
        ap.add_cost(x[np.arange(n), d.current], -1.0)
        ap.offset += float(n)
        ap.objective_step = 1.0  # the number of regions that change territory
    else:
        ap.add_cost(x.index, (d.weights[:, None] * d.dist[:, d.centres]).reshape(-1))
    return state


def _explicit_root_order(ap: ArrayProblem, x, r) -> None:
    """0.1's rows: ``x[v,j] <= sum_{u<=v} r[u,j]`` and ``sum_{u<=v} r[u,j+1] <= sum_{u<v} r[u,j]``.

    Each row spells out its prefix sum: O(k n^2) nonzeros (84% of all at n=200, k=8).
    """
    n, k = x.shape
    rows, cols, vals, count = [], [], [], 0
    for j in range(k):
        for v in range(j, n):
            rows.append(np.full(v + 2, count))
            cols.append(np.r_[x[v, j], r[: v + 1, j]])
            vals.append(np.r_[1.0, -np.ones(v + 1)])
            count += 1
    ap.add_rows("minroot", np.concatenate(rows), np.concatenate(cols), np.concatenate(vals), sense="<=",
                rhs=0.0, n_rows=count)
    rows, cols, vals, count = [], [], [], 0
    for j in range(k - 1):
        for v in range(j, n):
            rows.append(np.full(2 * v + 1, count))
            cols.append(np.r_[r[: v + 1, j + 1], r[:v, j]])
            vals.append(np.r_[np.ones(v + 1), -np.ones(v)])
            count += 1
    if count:
        ap.add_rows("rootorder", np.concatenate(rows), np.concatenate(cols), np.concatenate(vals), sense="<=",
                    rhs=0.0, n_rows=count)


def _cumulative_root_order(ap: ArrayProblem, x, r, x_live: np.ndarray | None = None) -> None:
    """The same rows through running sums ``R[v,j] = sum_{u<=v} r[u,j]``: O(n k) rows of <= 3 nonzeros.

    ``R[v,j] = R[v-1,j] + r[v,j]``; no member below the root: ``x[v,j] <= R[v,j]``, or with
    :data:`MINROOT` "tail" no member of a later slot either, ``sum_{t>=j} x[v,t] <= R[v,j]``;
    roots in slot order: ``R[v,j+1] <= R[v-1,j]``. ``x_live`` (by position) drops the columns
    fixed at zero from the tail sums.
    """
    n, k = x.shape
    big_r = ap.add_vars("R", (n, k), upper=1.0)
    v, j = np.divmod(np.arange(n * k), k)
    rows = np.arange(n * k)
    prev = v > 0
    ap.add_rows("cum", np.r_[rows, rows, rows[prev]], np.r_[big_r[v, j], r[v, j], big_r[v[prev] - 1, j[prev]]],
                np.r_[np.ones(n * k), -np.ones(n * k), -np.ones(int(prev.sum()))], sense="==", rhs=0.0,
                n_rows=n * k)
    keep = v >= j
    if MINROOT == "tail":
        keep &= j > 0  # slot 0: every region is in some slot, so its R is 1 from the first position on
    vk, jk = v[keep], j[keep]
    mk = len(vk)
    if MINROOT == "tail":
        # row i: sum_{t >= jk[i]} x[vk[i], t] - R[vk[i], jk[i]] <= 0, without the columns fixed at zero
        span = k - jk
        rows = np.repeat(np.arange(mk), span)
        t = jk[rows] + (np.arange(int(span.sum())) - np.repeat(np.cumsum(span) - span, span))
        cols = x[vk[rows], t]
        live = np.ones(len(cols), dtype=bool) if x_live is None else x_live[vk[rows], t]
        ap.add_rows("minroot", np.r_[rows[live], np.arange(mk)], np.r_[cols[live], big_r[vk, jk]],
                    np.r_[np.ones(int(live.sum())), -np.ones(mk)], sense="<=", rhs=0.0, n_rows=mk)
        ap.set_bounds(big_r[np.arange(n), 0], lower=1.0)
    else:
        ap.add_rows("minroot", np.r_[np.arange(mk), np.arange(mk)], np.r_[x[vk, jk], big_r[vk, jk]],
                    np.r_[np.ones(mk), -np.ones(mk)], sense="<=", rhs=0.0, n_rows=mk)
    if k > 1:
        ap.set_bounds(big_r[0, 1:], upper=0.0)
        vo, jo = np.divmod(np.arange((n - 1) * (k - 1)), k - 1)
        vo = vo + 1
        mo = len(vo)
        ap.add_rows("rootorder", np.r_[np.arange(mo), np.arange(mo)], np.r_[big_r[vo, jo + 1], big_r[vo - 1, jo]],
                    np.r_[np.ones(mo), -np.ones(mo)], sense="<=", rhs=0.0, n_rows=mo)


def _boundary_rows(ap: ArrayProblem, d: TerritoryData, order, root_ok, member_ok, x, r, z, y, solver) -> None:
    """Slot ``j``'s boundary ``sum_e w_e |x[u,j] - x[v,j]|`` is at least ``sum_p b[p,j] r[p,j]``.

    ``b`` is :func:`boundary_floor`.

    ``z[e,j]`` prices the edges leaving ``j`` from their first end; ``z2[e,j] >= x[v,j] - x[u,j]``
    with ``y_e = sum_j z2[e,j]`` prices those leaving from the second, so the two sum to the slot's
    boundary. The cut edges are half the boundaries summed over slots, so the rows lift the LP bound
    where fractional labels spread a territory thin.
    """
    n, k = x.shape
    m = len(d.edges)
    b = boundary_floor(d, order, root_ok, member_ok, solver=solver)
    dead = np.isinf(b)
    if dead.any():
        pp, jj = np.nonzero(dead)
        ap.set_bounds(r[order[pp], jj], upper=0.0)
        b[dead] = 0.0
    pp, jj = np.nonzero(b > 0)
    if BOUNDARY == "total":
        # every cut edge lies on two territories' boundaries: 2 sum_e w_e y_e >= sum_j sum_p b[p,j] r[p,j]
        ap.add_row("boundary", np.r_[y.index, r[order[pp], jj]], np.r_[2.0 * np.asarray(d.edge_w, dtype=float),
                   -b[pp, jj]], ">=", 0.0)
        return
    e, j = np.divmod(np.arange(m * k), k)
    u, v = d.edges[e, 0], d.edges[e, 1]
    rows = np.arange(m * k)
    ones = np.ones(m * k)
    z2 = ap.add_vars("cutvar2", (m, k), upper=1.0)
    ap.add_rows("cutlink2", np.r_[rows, rows, rows], np.r_[z2[e, j], x[v, j], x[u, j]],
                np.r_[ones, -ones, ones], sense=">=", rhs=0.0, n_rows=m * k)
    ap.add_rows("cutsum2", np.r_[np.arange(m), e], np.r_[y.index, z2[e, j]], np.r_[np.ones(m), -ones],
                sense="==", rhs=0.0, n_rows=m)
    w = np.asarray(d.edge_w, dtype=float)[e]
    ap.add_rows("boundary", np.r_[j, j, jj], np.r_[z[e, j], z2[e, j], r[order[pp], jj]],
                np.r_[w, w, -b[pp, jj]], sense=">=", rhs=0.0, n_rows=k)



def dual_rows(ap: ArrayProblem, d: TerritoryData, pi, least) -> int:
    """Rows ``c(S_j) >= sum_v pi_v x[v,j] + rc_j`` for every slot ``j`` of the symmetric cut-edge model.

    ``least`` bounds ``c(S) - pi(S)`` from below over the sets a territory of a plan may be: one number (then
    ``rc_j = least``), or one per position of the symmetry order (then ``rc_j = sum_p least[p] r[p,j]``, the
    bound of slot ``j``'s root; ``inf`` where nothing is rooted), as :func:`.columns.column_bound` (its ``rc``
    and, with ``ROOT_PRICING``, ``least``) or :func:`.columns.root_least` give them. Every territory of every plan
    is such a set, so its half boundary ``c(S_j)`` is at least ``pi(S_j) + rc_j``. Summed over the slots (each
    region in one) the rows give the Lagrangian bound ``sum pi + sum_j rc_j``.

    Needs the extended cut rows (``z[e,j] >= x[u,j] - x[v,j]``, ``y_e = sum_j z[e,j]``): at the point of a
    plan where each ``z[e,j] = max(0, x[u,j] - x[v,j])`` (its cheapest), ``2 z[e,j] - x[u,j] + x[v,j]`` is
    ``|x[u,j] - x[v,j]|``, so slot ``j``'s boundary is ``sum_e w_e (2 z[e,j] - x[u,j] + x[v,j])`` with no new
    column; the rows hold there, and summed over slots their left side is ``2 sum_e w_e y_e``. Returns the number
    of rows added (0 where the model has no such blocks, or a root has no bound).
    """
    n, k = d.n, d.k
    pi = np.asarray(pi, dtype=float)
    least = np.asarray(least, dtype=float)
    by_root = least.ndim == 1
    # "cutsum" marks the extended cut rows (the "variation" rows have a cutvar block of another meaning)
    if ("cutvar" not in ap.blocks or "cutsum" not in ap.row_blocks or k < 2 or len(pi) != n or np.isneginf(least).any()
            or (by_root and ("r" not in ap.blocks or len(least) != n)) or (not by_root and not np.isfinite(least))):
        return 0
    x, z = ap.blocks["x"], ap.blocks["cutvar"]
    edges = np.asarray(d.edges, dtype=np.int64).reshape(-1, 2)
    m = len(edges)
    w = np.asarray(d.edge_w, dtype=float)
    # sum_e w_e (2 z[e,j] - x[u,j] + x[v,j]) - 2 sum_v pi_v x[v,j] - 2 rc_j >= 0, x's coefficients merged
    cx = np.zeros(n)
    np.add.at(cx, edges[:, 0], -w)
    np.add.at(cx, edges[:, 1], w)
    cx -= 2.0 * pi
    live = np.flatnonzero(cx != 0)
    pp = np.flatnonzero(np.isfinite(least)) if by_root else np.zeros(0, dtype=np.int64)
    order = region_order(d, contiguity=True)
    rows, cols, vals = [], [], []
    for j in range(k):
        rows.append(np.full(m + len(live) + len(pp), j))
        root_cols = ap.blocks["r"][order[pp], j] if by_root else np.zeros(0, dtype=np.int64)
        cols.append(np.r_[z[np.arange(m), j], x[live, j], root_cols])
        vals.append(np.r_[2.0 * w, cx[live], -2.0 * least[pp] if by_root else np.zeros(0)])
    first = sum(name.startswith("spdual") for name in ap.row_blocks)
    ap.add_rows(f"spdual{first}", np.concatenate(rows), np.concatenate(cols), np.concatenate(vals), sense=">=",
                rhs=0.0 if by_root else 2.0 * float(least), n_rows=k)
    return k
