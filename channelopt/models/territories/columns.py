"""Set-partitioning bound by column generation: connected, balanced territories as columns.

Dantzig-Wolfe master LP over territories ``S`` (connected, every balance attribute in
its bounds)::

    min  sum_S c(S) lam_S
    s.t. sum_{S holds v} lam_S = 1      for every region v      (duals pi_v)
         sum_S lam_S = k                                         (dual mu)
         lam >= 0

with ``c(S) = w(delta(S)) / 2``: every cut edge lies on the boundaries of exactly two
territories of a partition, so the halves sum to the plan's cut edges.

Pricing: ``min c(S) - pi(S)`` over connected balanced ``S``, a small HiGHS MIP
(``t_e >= |s_u - s_v|``) whose connectivity comes from a-b separator rows
(``s_a + s_b - 1 <= sum_{c in N(C)} s_c`` for a component ``C`` of a disconnected answer);
the rows depend on the graph only, so they are kept from round to round.

The bound: for any ``pi``, every partition into ``k`` territories costs
``sum_S (c(S) - pi(S)) + sum_v pi_v >= sum_v pi_v + k * min_S (c(S) - pi(S))``
(exactly ``k`` territories, each term at least the minimum), so with ``rc`` a lower bound on
that minimum (the pricing MIP's dual bound when it stops early), ``sum_v pi_v + k rc`` is a
valid lower bound at every round (Lasdon/Farley), also when column generation stops early.
Duals are smoothed (Wentges): pricing runs at ``alpha pi_best + (1 - alpha) pi_RMP``, from a first
centre that spreads the incumbent's cut edges over the regions by load.

Measured on Validi & Buchanan's counties (``column_bound`` alone with :data:`ROOTS` on, 150 s, 1 thread,
seeded with the warm start plan, incumbent = optimum + 1, load 3.6-8; bound at 60 s / 150 s, CPU s): OK (opt
40) 28.5 / 32.1, 52.8 CPU s; KS (32) 14.5 / 19.4, 54.2; AR (33) 22.5 / 27.7, 67.6; WV (23) 15.3 / 18.8, 109.9;
NE (19) proven (18.05 > 18) at 62.9 s, 48.5 CPU s. The labelling MILP alone proves WV in 26.6 CPU s and NE in
14.9 and ends at 120 s with OK 30.25, KS 24.43, AR 19.9. The pricing MIP (0.5-10 s each on these maps, 1-3
re-solves for separator rows) is the cost; the master LP stayed at the seed plan's value on OK, KS and AR
(degenerate) for 14-27 rounds. With :data:`ROOTS` off (now the default) the bound at 90 s rose on AR from 25.9
to 30.8 and on WV from 15.3 to 21.4 (same process). So the stage is off by default (:data:`STAGE`). Measured
and kept: HiGHS presolve off in the pricing (1.2-2x faster per MIP on WV), one separator row per region of a
stray component (WV at 60 s: master LP 34.2 against 35.4 with one row per component), artificial price 3
borders (WV at 50-60 s: master LP 26.4 against 65 with the largest region degree).

Alabama (AL: 67 counties, k=7, optimum 55; 1 thread, seeded with the 55 plan, load 4-7, benchmarks/RESULTS.md
issue 12 session 9): one pricing MIP per round, one column per round, the bound 43.99 from 100 to 270 CPU s
(master LP 52.95). Heuristic pricing first (:data:`LOCAL`): master LP 52.66 at 129 CPU s, bound 46.51 at 332
(the pricing MIP then hit its 10 s cap without a column). Exact rounds by root (:data:`ROOT_PRICING`, 29 roots):
bound 48.28 at 133 CPU s, 51.46 at 266, 52.39 at 299, 52.53 at 434, master LP 52.566: the set-partitioning LP
is about 52.55, so rounded up (53) it does not prove 55. Its duals as rows of the labelling MILP
(:func:`.labelling.dual_rows`) lift HiGHS's bound from the first node to the rows' sum (52.53 by root), but the
bound does not move in the tree (a row's right side changes with the roots only).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time

import numpy as np

from ..._arrays import ArrayProblem
from ...solver import Solver
from .data import TerritoryData

__all__ = ["ColumnBound", "column_bound", "root_least", "territory_cost", "stage_applies",
           "integral_bound"]

log = logging.getLogger("channelopt.models")

#: run :func:`column_bound` as a stage of the exact path (contiguous interchangeable cut-edge territories),
#: before the labelling MILP; off by default (module docstring: slower than the MILP's own bound where it proves)
STAGE = False
#: with the stage on: its best duals go into the labelling MILP as rows (:func:`.labelling.dual_rows`, per root with
#: :data:`ROOT_PRICING`)
ROWS = True
#: share of what is left of the solve's time limit that the stage may use (and seconds without a limit)
STAGE_SHARE = 0.3
STAGE_SECONDS = 60.0
#: price of an artificial column covering one region, in mean borders: it bounds the duals while few columns
#: exist (WV, 60 s: master LP 26.4 with 3, 65 with the largest region degree); quadrupled whenever artificial
#: columns are still in use once the bound meets the master
ARTIFICIAL = 3.0
#: price only territories the labelling model's root and member fixing leaves (:meth:`_Pricing._roots`);
#: every territory of every contiguous balanced plan is among them, so the bound stays valid. Off: the extra
#: rows slow the pricing MIP more than they lift the bound (90 s, same process: AR 25.9 with them against 30.8
#: without, WV 15.3 against 21.4; 21 vs 42 and 59 vs 82 rounds)
ROOTS = False
#: Wentges smoothing weight of the best duals so far
SMOOTHING = 0.7
#: quick rounds stop the pricing MIP after this many improving solutions (0: every round exact)
QUICK = 3
#: every this many rounds the pricing is solved to optimality (a bound)
EXACT_EVERY = 10
#: separator rows per stray component of a disconnected answer: "all" (one per region in it) or "one"
CUTS_PER_COMPONENT = "all"
#: the smoothing's first centre: "population" (the incumbent spread by load) or None (the first master's duals)
START = "population"
#: heuristic pricing (:class:`_Local`) before the pricing MIP, from this many of the master's cheapest columns
LOCAL = True
LOCAL_STARTS = 20
#: exact rounds price by root (:class:`_RootPricing`): one MIP per position that may root a slot of the labelling
#: model's symmetry order, each holding its root and within the regions that root allows; the bound is then
#: ``sum pi`` plus the cheapest increasing choice of one root per slot (:func:`root_dp`)
ROOT_PRICING = False
#: seconds at most for one pricing MIP (its dual bound is used when it stops)
PRICING_SECONDS = 10.0
#: :class:`_RootPricing`'s MIPs (root ``r`` fixed in) separate a disconnected answer by rooted rows
#: ``s_a <= sum_{c in N(C)} s_c`` (``C`` a component without ``r``, ``a`` in it; and ``C`` = the root's component for
#: the best region of each other one) instead of the unrooted ``s_a + s_b - 1 <= ...``. Measured with the pieces
#: below (AL, sr12's 30-cut duals, the 10 heaviest of 29 roots, benchmarks/RESULTS.md "pricing MIP speed
#: (pricefast12)"): 65.3 CPU s with it, 129.8 without
ROOTED_ROWS = True
#: rows every territory holding root ``r`` meets, put into :class:`_RootPricing`'s MIPs up front: "neighbours" (every
#: region other than ``r`` has a neighbour in the territory: ``s_v <= sum_{u in N(v)} s_u``, plus regions the allowed
#: ones cannot reach from ``r`` fixed out), "layers" (those, and for every region ``v`` and every hop count ``h`` under
#: its distance from ``r`` through allowed regions, ``s_v <= sum`` over the regions ``h`` hops from ``r``: each such
#: ring separates ``v`` from ``r``), or "" (none). Same measure: 89.2 CPU s none, 65.3 "neighbours", 39.9 "layers"
#: (HiGHS runs per root 1-2 instead of 2-5). The rooted rows of each edge ``{u, v}`` away from ``r`` as well were
#: slower (101.8 against 65.3) and are dropped
ROOT_ROWS = "layers"
#: each pricing run starts from the best connected set known (the last run's or the last round's; HiGHS
#: ``setSolution`` on the region variables, the rest completed by HiGHS). Same measure: 72.8 CPU s without, 65.3 with
PRICING_START = True
#: rooted separator rows keep only the border regions joined to the other side (the root, or the far region) by
#: allowed regions outside the component: a path from ``a`` to the root leaves ``C`` last through such a region.
#: Same measure: 62.6 CPU s against 65.3, within the noise; opt-in
MINIMAL_BORDER = False


@dataclasses.dataclass
class ColumnBound:
    """What :func:`column_bound` found.

    Attributes
    ----------
    bound : float
        A lower bound on the cut edges of every contiguous balanced ``k``-partition
        (``-inf`` when none was proven).
    lp : float
        The restricted master LP's value in the last round (an upper bound on the master LP).
    rounds, columns : int
    seconds : float
    label : numpy.ndarray or None
        The best plan from the restricted master as an integer program (territory per region).
    objective : float
        That plan's cut edges (``inf`` without one).
    converged : bool
        Whether the master LP was solved (bound within 1e-6 of ``lp``).
    duals : numpy.ndarray or None
        The duals ``pi`` (one per region) that gave :attr:`bound`, with ``rc``: a lower bound on
        ``min c(S) - pi(S)`` over connected balanced ``S`` that a plan's territory may be (``bound = sum pi + k rc``
        without :data:`ROOT_PRICING`).
    rc : float
    least : numpy.ndarray or None
        With :data:`ROOT_PRICING`: by position in the symmetry order, the bound on ``c(S) - pi(S)`` over the sets a
        slot rooted there may hold (``inf`` where nothing is rooted), for :func:`.labelling.dual_rows`.
    """

    bound: float
    lp: float
    rounds: int
    columns: int
    seconds: float
    label: np.ndarray | None = None
    objective: float = math.inf
    converged: bool = False
    duals: np.ndarray | None = None
    rc: float = -math.inf
    least: np.ndarray | None = None


def stage_applies(model, d: TerritoryData, built=None) -> bool:
    """Whether the stage runs: :data:`STAGE` on, contiguous interchangeable territories by cut edges, no user rows."""
    from .labelling import symmetric

    return bool(STAGE and model.objective == "cut_edges" and model.contiguity and d.k >= 2 and symmetric(d)
                and len(d.edges) and not getattr(built, "has_problem", False))


def integral_bound(d: TerritoryData, bound: float) -> float:
    """``bound`` rounded up where every border weighs a whole number (then so does every plan)."""
    w = np.asarray(d.edge_w, dtype=float)
    if math.isfinite(bound) and np.all(w == np.round(w)):
        return float(math.ceil(bound - 1e-6))
    return bound


def territory_cost(d: TerritoryData, members: np.ndarray) -> float:
    """``c(S)``: half the weight of the edges with one end in ``S`` (bool array over regions)."""
    e = np.asarray(d.edges, dtype=np.int64).reshape(-1, 2)
    cut = members[e[:, 0]] != members[e[:, 1]]
    return 0.5 * float(np.asarray(d.edge_w, dtype=float)[cut].sum())


def _components(adj, members: np.ndarray) -> list[list[int]]:
    seen = np.zeros(len(members), dtype=bool)
    out = []
    for s in np.flatnonzero(members).tolist():
        if seen[s]:
            continue
        seen[s] = True
        stack, comp = [s], []
        while stack:
            u = stack.pop()
            comp.append(u)
            for v in adj[u]:
                if members[v] and not seen[v]:
                    seen[v] = True
                    stack.append(v)
        out.append(comp)
    return out


def _reach(adj, start: int, ok: np.ndarray) -> np.ndarray:
    """The regions joined to ``start`` through regions with ``ok`` (``start`` itself always), as a bool mask."""
    seen = np.zeros(len(ok), dtype=bool)
    seen[start] = True
    todo = [int(start)]
    while todo:
        u = todo.pop()
        for v in adj[u]:
            if ok[v] and not seen[v]:
                seen[v] = True
                todo.append(int(v))
    return seen


def _balanced(d: TerritoryData, members: np.ndarray) -> bool:
    tol = 1e-9
    for a in range(d.loads.shape[1]):
        load = float(d.loads[members, a].sum())
        if load < d.lower[a] - tol * max(1.0, abs(d.lower[a])) or load > d.upper[a] + tol * max(1.0, abs(d.upper[a])):
            return False
    return True


def _articulation(adj, members: np.ndarray) -> np.ndarray:
    """Bool array: the regions of ``members`` whose removal disconnects the (connected) set (iterative Tarjan)."""
    n = len(members)
    out = np.zeros(n, dtype=bool)
    nodes = np.flatnonzero(members)
    if len(nodes) <= 2:
        return out
    disc = np.full(n, -1, dtype=np.int64)
    low = np.zeros(n, dtype=np.int64)
    root = int(nodes[0])
    disc[root] = low[root] = 0
    time_ = 1
    children = 0
    stack = [(root, -1, iter(adj[root]))]
    while stack:
        u, parent, it = stack[-1]
        pushed = False
        for v in it:
            if not members[v]:
                continue
            if disc[v] < 0:
                disc[v] = low[v] = time_
                time_ += 1
                if u == root:
                    children += 1
                stack.append((v, u, iter(adj[v])))
                pushed = True
                break
            if v != parent:
                low[u] = min(low[u], disc[v])
        if pushed:
            continue
        stack.pop()
        if parent >= 0:
            low[parent] = min(low[parent], low[u])
            if parent != root and low[u] >= disc[parent]:
                out[parent] = True
    out[root] = children > 1
    return out


class _Local:
    """Heuristic pricing: steepest descent on ``c(S) - pi(S)`` over connected balanced sets from given starts.

    Moves: add a neighbour, drop a region that does not disconnect the set, or swap the two (the tight balance
    of district maps leaves mostly swaps); each set visited is a candidate column. It finds columns cheaply
    between the exact pricing MIPs (which alone give the bound).
    """

    def __init__(self, d: TerritoryData):
        from scipy.sparse import csr_matrix

        self.d = d
        e = np.asarray(d.edges, dtype=np.int64).reshape(-1, 2)
        w = np.asarray(d.edge_w, dtype=float)
        n = d.n
        self.a = csr_matrix((np.r_[w, w], (np.r_[e[:, 0], e[:, 1]], np.r_[e[:, 1], e[:, 0]])), shape=(n, n))
        self.deg = np.asarray(self.a.sum(axis=1)).ravel()
        self.loads = np.asarray(d.loads, dtype=float)
        tol = 1e-9 * np.maximum(1.0, np.abs(np.r_[d.lower, d.upper]))
        p = self.loads.shape[1]
        self.lo, self.hi = np.asarray(d.lower, dtype=float) - tol[:p], np.asarray(d.upper, dtype=float) + tol[p:]

    def _ok(self, load: np.ndarray) -> np.ndarray:
        """Rows of ``load`` (..., p) within every balance bound."""
        return np.all((load >= self.lo) & (load <= self.hi), axis=-1)

    def descend(self, pi: np.ndarray, start: np.ndarray, steps: int = 60) -> list[tuple[float, np.ndarray]]:
        """``(c(S) - pi(S), S)`` of each set the steepest descent from ``start`` (connected, balanced) moves to.

        ``inw[v]`` is the border weight from ``v`` into the set, so ``c(S) = (deg(S) - inw(S)) / 2`` and each
        move's change is read from ``deg``, ``inw`` and ``pi`` alone.
        """
        d, a, deg = self.d, self.a, self.deg
        s = start.copy()
        inw = a @ s.astype(float)
        load = self.loads[s].sum(axis=0)
        val = 0.5 * float(deg[s].sum() - inw[s].sum()) - float(pi[s].sum())
        out = []
        for _ in range(steps):
            add = 0.5 * (deg - 2.0 * inw) - pi  # value change of adding a region outside
            rem = 0.5 * (2.0 * inw - deg) + pi  # of dropping one inside
            inside = np.flatnonzero(s)
            art = _articulation(d.adj, s)
            outs = np.flatnonzero(~s & (inw > 0))
            drops = inside[~art[inside]] if len(inside) > 1 else inside[:0]
            best, move = -1e-9, None
            if len(outs):
                ok = self._ok(load[None, :] + self.loads[outs])
                if ok.any():
                    i = int(np.argmin(np.where(ok, add[outs], np.inf)))
                    if add[outs[i]] < best:
                        best, move = float(add[outs[i]]), ((), (int(outs[i]),))
            if len(drops):
                ok = self._ok(load[None, :] - self.loads[drops])
                if ok.any():
                    i = int(np.argmin(np.where(ok, rem[drops], np.inf)))
                    if rem[drops[i]] < best:
                        best, move = float(rem[drops[i]]), ((int(drops[i]),), ())
            if len(drops) and len(outs):
                wab = a[drops][:, outs].toarray()
                dv = rem[drops][:, None] + add[outs][None, :] + wab
                # b must still touch the set once a is gone
                ok = (inw[outs][None, :] - wab > 0) & self._ok(
                    load[None, None, :] - self.loads[drops][:, None, :] + self.loads[outs][None, :, :])
                dv = np.where(ok, dv, np.inf)
                i = int(np.argmin(dv))
                if dv.flat[i] < best:
                    ia, ib = divmod(i, len(outs))
                    best, move = float(dv.flat[i]), ((int(drops[ia]),), (int(outs[ib]),))
            if move is None:
                break
            for v in move[0]:
                s[v] = False
                inw -= a[v].toarray().ravel()
                load = load - self.loads[v]
            for v in move[1]:
                s[v] = True
                inw += a[v].toarray().ravel()
                load = load + self.loads[v]
            val += best
            out.append((val, s.copy()))
        return out


class _Pricing:
    """The pricing MIP ``min w(delta(S))/2 - pi(S)`` over connected balanced ``S``, on one HiGHS object.

    Only the costs of ``s`` change from round to round; separator rows (valid for every ``pi``) are
    added to the same model and kept. Every improving solution HiGHS saves along the way that is
    connected is a column too.
    """

    def __init__(self, d: TerritoryData):
        import highspy

        from ...solver import _reset_scheduler_if_threads_changed, _stdout_silenced

        self.d = d
        e = self.e = np.asarray(d.edges, dtype=np.int64).reshape(-1, 2)
        w = self.w = np.asarray(d.edge_w, dtype=float)
        n, m = d.n, len(e)
        _reset_scheduler_if_threads_changed(1)
        with _stdout_silenced(True):
            h = self.h = highspy.Highs()
        # presolve off: the same small model is solved again and again (WV: 0.73-1.0 s instead of 1.2-1.6 s; AL
        # root MIPs with 30 cut variables, 10 heaviest roots: 65.3 CPU s off, 109.2 on). Also measured there and left
        # at HiGHS's defaults: mip_heuristic_effort 0 (65.0) and 0.3 (88.2), mip_detect_symmetry off (64.3)
        for key, value in (("output_flag", False), ("threads", 1), ("mip_rel_gap", 0.0), ("mip_abs_gap", 1e-9),
                           ("mip_improving_solution_save", True), ("presolve", "off")):
            h.setOptionValue(key, value)
        inf = highspy.kHighsInf
        h.addVars(n, np.zeros(n), np.ones(n))
        h.changeColsIntegrality(n, np.arange(n, dtype=np.int32), np.full(n, highspy.HighsVarType.kInteger))
        h.addVars(m, np.zeros(m), np.ones(m))
        h.changeColsCost(m, np.arange(n, n + m, dtype=np.int32), 0.5 * w)
        # t_e >= s_u - s_v and t_e >= s_v - s_u
        idx = np.c_[n + np.arange(m), e[:, 0], e[:, 1]].reshape(-1).astype(np.int32)
        for sign in (1.0, -1.0):
            val = np.tile([1.0, -sign, sign], m)
            h.addRows(m, np.zeros(m), np.full(m, inf), 3 * m, np.arange(0, 3 * m, 3, dtype=np.int32), idx, val)
        for a in range(d.loads.shape[1]):
            lo = d.lower[a] if d.lower[a] > 0 or (d.loads[:, a] < 0).any() else -inf
            hi = d.upper[a] if np.isfinite(d.upper[a]) else inf
            h.addRow(lo, hi, n, np.arange(n, dtype=np.int32), d.loads[:, a].astype(float))
        if ROOTS and d.k > 1:
            self._roots(h, inf)
        self.cuts = 0
        self.calls = 0
        self.inf = inf
        self.root: int | None = None  # a region every priced set holds (rooted separator rows)
        self.last: np.ndarray | None = None  # the best connected set of the last solve (a MIP start)
        self.reach: np.ndarray | None = None  # the regions a set holding the root may hold (rooted models)

    def _roots(self, h, inf) -> None:
        """Only territories some plan may hold after the labelling model's fixing (:func:`.labelling.symmetric_fixing`).

        With territories numbered by their first region in load order, territory ``j``'s first region ``p`` has
        ``root_ok[p, j]`` and its members ``member_ok[:, j]`` (balance and path loads: Validi & Buchanan's
        fixing). So a column's first region ``p`` is a possible root, and its members lie at or after ``p``,
        among those of the slots ``p`` may root: ``r_p`` marks the first region, ``s_q <= sum r_p`` over the
        roots allowing ``q``, and ``s_q + sum_{p after q} r_p <= 1``.
        """
        import highspy

        from .labelling import symmetric_fixing

        d, n = self.d, self.d.n
        order, root_ok, member_ok = symmetric_fixing(d, True)
        roots = np.flatnonzero(root_ok.any(axis=1))  # positions
        if not len(roots):
            return
        allowed = np.stack([member_ok[:, root_ok[p]].any(axis=1) for p in roots], axis=1)  # (positions, roots)
        allowed &= np.arange(n)[:, None] >= roots[None, :]
        allowed[roots, np.arange(len(roots))] = True
        base = h.getNumCol()
        nr = len(roots)
        h.addVars(nr, np.zeros(nr), np.ones(nr))
        h.changeColsIntegrality(nr, np.arange(base, base + nr, dtype=np.int32),
                                np.full(nr, highspy.HighsVarType.kInteger))
        r = base + np.arange(nr)
        h.addRow(1.0, 1.0, nr, r.astype(np.int32), np.ones(nr))
        for i, p in enumerate(roots.tolist()):
            h.addRow(-inf, 0.0, 2, np.array([r[i], order[p]], dtype=np.int32), np.array([1.0, -1.0]))
        for q in range(n):
            v = int(order[q])
            cover = r[allowed[q]]
            h.addRow(-inf, 0.0, 1 + len(cover), np.r_[v, cover].astype(np.int32), np.r_[1.0, -np.ones(len(cover))])
            later = r[roots > q]
            if len(later):
                h.addRow(-inf, 1.0, 1 + len(later), np.r_[v, later].astype(np.int32), np.ones(1 + len(later)))

    def solve(self, pi: np.ndarray, solver: Solver, limit: float, quick: int = 0):
        """``(columns, lower bound)``: connected balanced sets found, by value, and a bound on the minimum.

        A disconnected answer gets separator rows and the MIP runs again. Every run's dual bound is a
        valid bound (the rows added later only cut off disconnected sets). ``quick``: stop each run after
        that many improving solutions (0: solve to optimality).
        """
        import highspy

        from ...solver import _run_interruptible

        d, h, n = self.d, self.h, self.d.n
        h.changeColsCost(n, np.arange(n, dtype=np.int32), -np.asarray(pi, dtype=float))
        h.setOptionValue("mip_max_improving_sols", int(quick) if quick else 2**30)
        t_end = time.perf_counter() + limit
        bound = -math.inf
        found: dict[bytes, tuple[float, np.ndarray]] = {}
        while True:
            left = t_end - time.perf_counter()
            rem = solver.remaining()
            left = left if rem is None else min(left, rem)
            if left <= 0.01 or solver.interrupted or self.h is None:
                return self._out(found), bound
            h.setOptionValue("time_limit", float(left))
            if PRICING_START:
                self._start(found)
            _, interrupted, abandoned = _run_interruptible(h, solver.deadline, float(left))
            self.calls += 1
            if abandoned:
                self.h = None  # still running in the background: never touched again
                return self._out(found), bound
            status, info = h.getModelStatus(), h.getInfo()
            if status == highspy.HighsModelStatus.kInfeasible:
                return [], math.inf  # no balanced set at all
            if math.isfinite(info.mip_dual_bound):
                bound = max(bound, float(info.mip_dual_bound))
            stray = []
            for sol in h.getSavedMipSolutions():
                members = np.asarray(sol.col_value[:n]) > 0.5
                comps = _components(d.adj, members)
                if len(comps) == 1:
                    found.setdefault(np.packbits(members).tobytes(), (float(sol.objective), members))
                elif len(comps) > 1:
                    stray.append(comps)
            if interrupted or info.primal_solution_status != 2:  # 2: a feasible solution is at hand
                return self._out(found), bound
            x = np.asarray(h.getSolution().col_value[:n]) > 0.5
            comps = _components(d.adj, x)
            if len(comps) == 1:
                if status == highspy.HighsModelStatus.kOptimal:
                    bound = max(bound, float(info.objective_function_value))
                return self._out(found), bound
            if quick and found:
                return self._out(found), bound
            for c in [*stray, comps]:
                self._add_cuts(c, pi)

    def close(self) -> None:
        self.h = None

    def _start(self, found) -> None:
        """The best connected set of this solve so far (else the last solve's) as HiGHS's start: a cutoff for the
        search from its first node. Only the region variables are given; HiGHS completes the others (the edge and
        cut variables follow from them) and drops a start that violates the model's bounds."""
        best = min(found.values(), key=lambda vm: vm[0])[1] if found else self.last
        if best is not None:
            n = self.d.n
            self.h.setSolution(n, np.arange(n, dtype=np.int32), best.astype(float))

    def _out(self, found) -> list[np.ndarray]:
        out = [m for _, m in sorted(found.values(), key=lambda vm: vm[0])]
        if out:
            self.last = out[0]
        return out

    def add_root_rows(self, root: int, allowed: np.ndarray) -> None:
        """Root ``root`` is in every set priced here (fixed in by the caller), the regions ``~allowed`` out: rooted
        separator rows from now on (:data:`ROOTED_ROWS`) and the rows of :data:`ROOT_ROWS` up front.

        Every connected set holding ``root`` and another region ``v`` holds a neighbour of ``v`` (the row
        ``s_v <= sum_{u in N(v)} s_u``), a region of every ring of regions ``h`` hops from ``root`` closer than ``v``
        ("layers": a path from ``v`` to ``root`` crosses each), and only regions joined to ``root`` through allowed
        regions."""
        if ROOTED_ROWS:
            self.root = int(root)
        if ROOT_ROWS not in ("neighbours", "layers"):
            return
        adj, n = self.d.adj, self.d.n
        seen = self.reach = _reach(adj, root, allowed)
        off = np.flatnonzero(allowed & ~seen).astype(np.int32)
        if len(off):
            self.h.changeColsBounds(len(off), off, np.zeros(len(off)), np.zeros(len(off)))
        for v in np.flatnonzero(seen).tolist():
            if v == root:
                continue
            nb = [u for u in adj[v] if seen[u]]
            if int(root) in nb:
                continue  # s_root = 1: the row holds
            if MINIMAL_BORDER:
                alone = np.zeros(n, dtype=bool)
                alone[v] = True
                nb = self._joined(nb, alone, root)
            idx = np.asarray([v, *nb], dtype=np.int32)
            self.h.addRow(-self.inf, 0.0, len(idx), idx, np.r_[1.0, -np.ones(len(nb))])
        if ROOT_ROWS == "layers":
            # the regions at hop distance h from the root (through allowed ones) separate it from every farther v
            dist = np.full(n, -1)
            dist[root] = 0
            layer = [int(root)]
            while layer:
                nxt = []
                for u in layer:
                    for v in adj[u]:
                        if seen[v] and dist[v] < 0:
                            dist[v] = dist[u] + 1
                            nxt.append(int(v))
                layer = nxt
            for v in np.flatnonzero(dist >= 2).tolist():
                for hop in range(1, int(dist[v])):
                    ring = np.flatnonzero(dist == hop)
                    idx = np.r_[v, ring].astype(np.int32)
                    self.h.addRow(-self.inf, 0.0, len(idx), idx, np.r_[1.0, -np.ones(len(ring))])

    def _add_cuts(self, comps, pi) -> None:
        adj, n = self.d.adj, self.d.n
        if self.root is not None:
            self._add_rooted_cuts(comps, pi)
            return
        big = max(comps, key=lambda c: float(np.sum(pi[c])))
        b = max(big, key=lambda v: pi[v])
        for comp in comps:
            if comp is big:
                continue
            inside = np.zeros(n, dtype=bool)
            inside[comp] = True
            border = sorted({v for u in comp for v in adj[u] if not inside[v]})
            # s_a + s_b - 1 <= sum_{c in N(C)} s_c, for every a in C: C's border separates it from b
            for a in (comp if CUTS_PER_COMPONENT == "all" else [max(comp, key=lambda v: pi[v])]):
                idx = np.asarray([a, b, *border], dtype=np.int32)
                val = np.r_[1.0, 1.0, -np.ones(len(border))]
                self.h.addRow(-self.inf, 1.0, len(idx), idx, val)
                self.cuts += 1

    def _add_rooted_cuts(self, comps, pi) -> None:
        """``s_a <= sum_{c in N(C)} s_c``: ``C``'s border separates ``a`` from the root (``s_root = 1``), for ``a`` in
        a component ``C`` without the root, and for the best region ``a`` of every other component with ``C`` the
        root's."""
        adj, n, root = self.d.adj, self.d.n, self.root
        for comp in comps:
            inside = np.zeros(n, dtype=bool)
            inside[comp] = True
            border = sorted({v for u in comp for v in adj[u] if not inside[v]})
            if inside[root]:
                far = [max(c, key=lambda v: pi[v]) for c in comps if root not in c]
            else:
                far = comp if CUTS_PER_COMPONENT == "all" else [max(comp, key=lambda v: pi[v])]
                if MINIMAL_BORDER:
                    border = self._joined(border, inside, root)
            for a in far:
                sep = self._joined(border, inside, a) if MINIMAL_BORDER and inside[root] else border
                idx = np.asarray([a, *sep], dtype=np.int32)
                self.h.addRow(-self.inf, 0.0, len(idx), idx, np.r_[1.0, -np.ones(len(sep))])
                self.cuts += 1

    def _joined(self, border, inside: np.ndarray, target: int) -> list[int]:
        """The regions of ``border`` joined to ``target`` by allowed regions outside ``inside``."""
        seen = _reach(self.d.adj, target, ~inside if self.reach is None else self.reach & ~inside)
        return [v for v in border if seen[v]]


def root_dp(least: np.ndarray, root_ok: np.ndarray) -> float:
    """The least ``sum_j least[p_j]`` over positions ``p_0 < p_1 < ... < p_{k-1}`` with ``root_ok[p_j, j]``.

    Every plan, its territories numbered by their first region in the symmetry order, has such roots, and its
    territory ``j`` costs ``c(S_j) - pi(S_j) >= least[p_j]``: so ``sum pi`` plus this bounds every plan.
    """
    n, k = root_ok.shape
    cost = np.where(root_ok, least[:, None], np.inf)
    f = cost[:, 0].copy()
    for j in range(1, k):
        before = np.r_[np.inf, np.minimum.accumulate(f)[:-1]]  # the best slot j-1 choice strictly earlier
        f = cost[:, j] + before
    return float(f.min())


class _RootPricing:
    """Exact pricing split by root: one :class:`_Pricing` per position that may root a slot (its region fixed in,
    the regions no slot it roots may hold fixed out), each kept with its separator rows from round to round."""

    def __init__(self, d: TerritoryData):
        from .labelling import symmetric_fixing

        self.d = d
        self.order, self.root_ok, member_ok = symmetric_fixing(d, True)
        self.roots = np.flatnonzero(self.root_ok.any(axis=1))
        self.models = []
        for p in self.roots.tolist():
            allowed = member_ok[:, self.root_ok[p]].any(axis=1)
            allowed[:p] = False
            allowed[p] = True
            pricing = _Pricing(d)
            off = self.order[~allowed].astype(np.int32)
            if len(off):
                pricing.h.changeColsBounds(len(off), off, np.zeros(len(off)), np.zeros(len(off)))
            pricing.h.changeColBounds(int(self.order[p]), 1.0, 1.0)
            region_allowed = np.zeros(d.n, dtype=bool)
            region_allowed[self.order[allowed]] = True
            pricing.add_root_rows(int(self.order[p]), region_allowed)
            self.models.append(pricing)

    def solve(self, pi: np.ndarray, solver: Solver, left) -> tuple[list[np.ndarray], np.ndarray, float]:
        """Columns, ``least`` by position and :func:`root_dp` of it (``-inf`` when a root got no bound)."""
        least = np.full(self.d.n, np.inf)
        cols: list[np.ndarray] = []
        for i, (p, pricing) in enumerate(zip(self.roots.tolist(), self.models)):
            rest = left()
            if rest <= 0.05 or solver.interrupted or pricing.h is None:
                least[p] = -np.inf
                continue
            found, lb = pricing.solve(pi, solver, min(PRICING_SECONDS, rest / (len(self.roots) - i)))
            least[p] = lb
            cols.extend(found)
        return cols, least, root_dp(least, self.root_ok)

    def close(self) -> None:
        for pricing in self.models:
            pricing.close()


def _local_price(local: _Local, master: _Master, pi: np.ndarray, starts: int) -> list[np.ndarray]:
    """Descents (:class:`_Local`) from the ``starts`` master columns cheapest at ``pi``: the sets they visit
    that are cheaper than their start, cheapest first."""
    if not master.cols:
        return []
    mat = np.array(master.cols, dtype=bool)
    rc = np.asarray(master.cost) - mat @ pi
    found: dict[bytes, tuple[float, np.ndarray]] = {}
    for i in np.argsort(rc, kind="stable")[:starts].tolist():
        for val, members in local.descend(pi, mat[i]):
            found.setdefault(np.packbits(members).tobytes(), (val, members))
    return [m for _, m in sorted(found.values(), key=lambda vm: vm[0])]


class _Master:
    """The restricted master LP: columns as bool arrays, artificial slack rows so that it is always feasible."""

    def __init__(self, d: TerritoryData, big: float):
        self.d = d
        self.big = big
        self.cols: list[np.ndarray] = []
        self.cost: list[float] = []
        self.keys: set[bytes] = set()

    def add(self, members: np.ndarray) -> bool:
        key = np.packbits(members).tobytes()
        if key in self.keys or not _balanced(self.d, members) or len(_components(self.d.adj, members)) != 1:
            return False  # (a column is a territory some plan may hold: connected, every balance bound kept)
        self.keys.add(key)
        self.cols.append(members.copy())
        self.cost.append(territory_cost(self.d, members))
        return True

    def _problem(self, integer: bool):
        d = self.d
        n, q = d.n, len(self.cols)
        ap = ArrayProblem("master")
        lam = ap.add_vars("lam", q, upper=1.0 if integer else np.inf, integer=integer, cost=np.asarray(self.cost))
        mat = np.array(self.cols, dtype=bool).T if q else np.zeros((n, 0), dtype=bool)
        rr, cc = np.nonzero(mat)
        if integer:
            ap.add_rows("part", rr, lam[cc], sense="==", rhs=1.0, n_rows=n)
            ap.add_row("card", lam.index, np.ones(q), "==", float(d.k))
            return ap, lam
        art = ap.add_vars("art", n, cost=self.big)
        ap.add_rows("part", np.r_[rr, np.arange(n)], np.r_[lam[cc], art.index], sense="==", rhs=1.0, n_rows=n)
        cp = ap.add_vars("cardslack", 2, cost=self.big)
        ap.add_row("card", np.r_[lam.index, cp.index], np.r_[np.ones(q), 1.0, -1.0], "==", float(d.k))
        return ap, lam

    def solve_lp(self, solver: Solver):
        ap, lam = self._problem(False)
        sub = dataclasses.replace(solver, name="highs", mip_gap=0.0, threads=1, msg=False, options={})
        info = sub.solve(ap)
        if info.duals is None:
            return None
        duals = np.asarray(info.duals, dtype=float)
        q = len(self.cols)
        # the artificial columns' total: regions (or the count row) no generated territory covers yet
        art = float(info.values[q:].sum())
        return float(info.objective), duals[: self.d.n], float(duals[self.d.n]), art

    def solve_ip(self, solver: Solver, limit: float):
        ap, lam = self._problem(True)
        sub = dataclasses.replace(solver, name="highs", time_limit=limit, mip_gap=0.0, threads=1, msg=False,
                                  options={})
        info = sub.solve(ap)
        if not info.has_solution:
            return None, math.inf
        chosen = np.flatnonzero(info.values[lam.slice] > 0.5)
        label = np.full(self.d.n, -1, dtype=np.int64)
        for j, c in enumerate(chosen.tolist()):
            label[self.cols[c]] = j
        return label, float(info.objective)


def column_bound(d: TerritoryData, seconds: float, *, solver: Solver | None = None, seeds=(),
                 incumbent: float = math.inf, plan_seconds: float = 0.0, log_rounds: bool = False) -> ColumnBound:
    """Column generation for the set-partitioning bound on the cut edges of contiguous balanced ``k``-partitions.

    Parameters
    ----------
    d : TerritoryData
        Interchangeable territories, cut-edge objective (``edge_w``), balance bounds on ``loads``.
    seconds : float
        Time for the whole search, on ``solver``'s clock when it has one (Ctrl-C stops it; the
        bound so far is kept).
    seeds : iterable of label arrays
        Plans whose connected balanced territories seed the master.
    incumbent : float
        Cut edges of the best plan known: the search stops once the bound proves it (integral weights:
        a bound above ``incumbent - 1``).
    plan_seconds : float
        Seconds for the master as an integer program over the columns found (a plan), after the bound.

    Returns
    -------
    ColumnBound

    Examples
    --------
    >>> import networkx as nx, channelopt as co
    >>> from channelopt.models.territories.data import prepare
    >>> g = nx.convert_node_labels_to_integers(nx.grid_2d_graph(2, 4))
    >>> nx.set_node_attributes(g, 1.0, "pop")
    >>> net = co.ChannelNetwork.from_graph(g, ["pop"])
    >>> d = prepare(co.TerritoryDesign(k=2, objective="cut_edges", balance={"pop": (4, 4)}), net)
    >>> res = column_bound(d, 10.0)
    >>> round(res.bound, 6), res.converged, integral_bound(d, res.bound)
    (2.0, True, 2.0)
    """
    t0 = time.perf_counter()
    solver = (solver or Solver("highs")).start_clock()
    w = np.asarray(d.edge_w, dtype=float)
    e = np.asarray(d.edges, dtype=np.int64).reshape(-1, 2)
    integral = bool(np.all(w == np.round(w)))
    # artificial columns cover a region at ARTIFICIAL x the mean border (raised when they outlive convergence)
    master = _Master(d, big=ARTIFICIAL * max(float(w.mean()) if len(w) else 1.0, 1e-9))
    plan, plan_obj = None, math.inf
    for label in seeds:
        label = np.asarray(label)
        for j in np.unique(label):
            master.add(label == j)
        obj = float(w[label[e[:, 0]] != label[e[:, 1]]].sum())
        if obj < plan_obj and len(np.unique(label)) == d.k and all(
                _balanced(d, label == j) and len(_components(d.adj, label == j)) == 1 for j in np.unique(label)):
            plan, plan_obj = label, obj
    incumbent = min(incumbent, plan_obj)
    pricing = _Pricing(d)
    best, best_pi, best_rc, best_least = -math.inf, None, -math.inf, None
    by_root = _RootPricing(d) if ROOT_PRICING and d.k > 1 else None
    rounds, lp, converged = 0, math.inf, False

    def left() -> float:
        rest = seconds - (time.perf_counter() - t0)
        r = solver.remaining()
        return rest if r is None else min(rest, r)

    def proven() -> bool:
        return integral and math.isfinite(incumbent) and best > incumbent - 1.0 + 1e-6

    def price(pi, quick):
        nonlocal best, best_pi, best_rc, best_least
        if by_root is not None and not quick:
            cols, least, bound = by_root.solve(pi, solver, left)
            if math.isfinite(bound):
                bound += float(pi.sum())
                if bound > best:
                    best, best_pi, best_least = bound, pi.copy(), least
                    best_rc = float(least[np.isfinite(least)].min())
            return cols
        cols, lb = pricing.solve(pi, solver, min(PRICING_SECONDS, left()), quick=quick)
        if math.isfinite(lb) and by_root is None:  # (priced by root, the bound comes from the exact rounds)
            # every k-partition costs sum_v pi_v + sum_S (c(S) - pi(S)) >= sum_v pi_v + k lb
            bound = float(pi.sum()) + d.k * lb
            if bound > best:
                best, best_pi, best_rc, best_least = bound, pi.copy(), lb, None
        return cols

    try:
        if START == "population" and d.loads.shape[1] and math.isfinite(incumbent):
            # the smoothing's first centre: the incumbent's cut edges spread by load (then c(S) - pi(S) is about
            # c(S) - incumbent/k on a balanced S, so the pricing looks for short boundaries: the boundary floors)
            pi0 = incumbent * d.loads[:, 0] / max(float(d.loads[:, 0].sum()), 1e-12)
            for col in price(pi0, 0):
                master.add(col)
        quick_fails = 0
        since_exact = 0
        local = _Local(d) if LOCAL else None
        while left() > 0.05 and not solver.interrupted and not proven():
            rounds += 1
            res = master.solve_lp(solver)
            if res is None:
                break
            lp, pi_rmp, mu, art = res
            # quick rounds stop the pricing MIP at its first improving solutions (columns); an exact round solves
            # it to optimality (a bound) when a quick one found nothing, and every EXACT_EVERY rounds
            since_exact += 1
            exact = QUICK == 0 or quick_fails > 0 or since_exact >= EXACT_EVERY
            a = SMOOTHING if best_pi is not None else 0.0
            added = False
            if local is not None and not exact:
                # heuristic pricing first: descents from the columns cheapest at the smoothed and the master's
                # duals; the MIP runs only when they find nothing (and every EXACT_EVERY rounds, for the bound)
                for pi in ((a * best_pi + (1 - a) * pi_rmp, pi_rmp) if a else (pi_rmp,)):
                    for col in _local_price(local, master, pi, LOCAL_STARTS):
                        if territory_cost(d, col) - float(pi_rmp[col].sum()) - mu < -1e-7:
                            added |= master.add(col)
                if added:
                    if log_rounds:
                        log.info("columns: round %dh lp %.4f bound %.4f columns %d separators %d MIPs %d %.1fs",
                                 rounds, lp, best, len(master.cols), pricing.cuts, pricing.calls,
                                 time.perf_counter() - t0)
                    continue
            if exact:
                since_exact = 0
            while True:
                pi = pi_rmp if a == 0.0 else a * best_pi + (1 - a) * pi_rmp  # Wentges smoothing
                for col in price(pi, 0 if exact else QUICK):
                    if territory_cost(d, col) - float(pi_rmp[col].sum()) - mu < -1e-7:
                        added |= master.add(col)
                if added or a == 0.0 or left() <= 0.05:
                    break
                a = 0.0  # mis-pricing: price at the master's own duals
            if log_rounds:
                log.info("columns: round %d%s lp %.4f bound %.4f columns %d separators %d MIPs %d %.1fs", rounds,
                         "*" if exact else "", lp, best, len(master.cols), pricing.cuts, pricing.calls,
                         time.perf_counter() - t0)
            if best >= lp - 1e-6:
                if art > 1e-9:
                    master.big *= 4.0  # the artificial rows still cover regions: the master's own LP is higher
                    continue
                converged = True
                break
            quick_fails = 0 if added else quick_fails + 1
        if plan_seconds > 0 and not solver.interrupted and master.cols:
            label, obj = master.solve_ip(solver, min(plan_seconds, max(left(), 0.0) + plan_seconds))
            if label is not None and obj < plan_obj - 1e-9:
                plan, plan_obj = label, obj
    except KeyboardInterrupt:
        solver.deadline.interrupt()  # the bound so far holds; the caller returns its plan, marked interrupted
    finally:
        pricing.close()
        if by_root is not None:
            by_root.close()
    return ColumnBound(bound=best, lp=lp, rounds=rounds, columns=len(master.cols), seconds=time.perf_counter() - t0,
                       label=plan, objective=plan_obj, converged=converged, duals=best_pi, rc=best_rc,
                       least=best_least)



def root_least(d: TerritoryData, pi: np.ndarray, seconds: float, solver: Solver | None = None,
               floor: float = -math.inf) -> np.ndarray:
    """By position ``p`` of the symmetry order: a lower bound on ``min c(S) - pi(S)`` over the sets a slot rooted
    at ``p`` may hold (:class:`_RootPricing`, one exact pricing MIP per root, its dual bound when time runs out;
    ``floor``, the unrestricted bound, where none was reached). ``inf`` where nothing is rooted or no such set
    exists. ``seconds`` is for all roots. For :func:`.labelling.dual_rows`.
    """
    solver = (solver or Solver("highs")).start_clock()
    t_end = time.perf_counter() + seconds
    by_root = _RootPricing(d)
    try:
        _, least, _ = by_root.solve(pi, solver, lambda: t_end - time.perf_counter())
    finally:
        by_root.close()
    return np.where(np.isfinite(least), np.maximum(least, floor), np.where(least > 0, least, floor))
