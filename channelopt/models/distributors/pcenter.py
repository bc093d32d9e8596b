"""The covering strategy for p-center: a search over sorted distances, each step a set-cover feasibility MIP.

The optimal p-center radius is one of the link distances. For a radius ``r`` the
question "can ``p`` distributors put every outlet within ``r``?" is a set-cover
problem (LSCP): the fewest distributors covering every outlet within ``r`` (kept and
existing ones open) is at most ``p``. The answer is monotone in ``r``, so a search over
the sorted distinct distances finds the smallest feasible radius (Minieka 1970; Daskin,
*Network and Discrete Location*, ch. 5; Chen & Chen 2009 use the same relaxation).

The search runs between two bounds found without a solver:

- below: ``max_i min_j d_ij``, no plan does better than the outlet farthest from every
  candidate;
- above: the radius of a plan built by greedy covering (the smallest radius at which
  greedy set cover needs at most ``p``), then improved by swaps that lower the largest
  distance.

The lower end is raised further by greedy packing: at radius ``r``, more than ``p``
outlets (not reached by kept distributors) no two of which share a distributor within
``r`` prove ``r`` too small; then by the set-cover LP (with a row "at most ``p``"),
bisected over the levels: its value never rises with ``r``, and where it is infeasible
so is every cover.

Each step of the search asks "can ``p`` distributors cover every outlet within ``r``?"
on a reduced cover: an outlet whose distributors within ``r`` include all of another
outlet's is covered whenever that one is, and a distributor whose outlets lie within
another's can be swapped for it (Toregas & ReVelle 1973); both are dropped, repeatedly
(3,000 x 300 at p=30: 3,000 x 300 rows and columns -> about 480 x 230). Greedy covering
answers first; otherwise a MIP with a count row, which HiGHS stops at its first plan
(any plan answers "yes"). A cover found is filled up to ``p`` and swapped, which often
lowers its radius by several levels. The next step is the level just below the best plan
(when that plan is optimal one "no" proves it), bisecting only every ``DESCENT_RUN``
steps: the "no" steps are the dear ones (3,000 x 300, p=30: 6-18 s each near the
optimum, 0.1 s for a cover well above it).

Measured against the assignment MIP (``W >= sum_j d_ij x_ij``, whose LP bound is
weak; ``strategy="mip"``) and spopt (the same MIP in PuLP), all HiGHS, 2 shared cores
under load ~13, median of 3 (``benchmarks/bench_spopt.py``): spopt's SF 205 x 16 test
case p=4 0.05 s against 9.4 s and 14.3 s; Columbus 49 x 49 p=2/4/6/8 0.04-0.13 s
against 3.8-19.5 s and 1.6-13.0 s; the same optimum everywhere. Random 3,000 x 300,
p=30: proven (12.751) in 44 s at load 7, where the unreduced steps with bisection
stopped at 120 s with 12.751 against a bound of 12.565; under load 11-14 neither proves
it in 120 s (bounds 12.639 against 12.379; ``benchmarks/RESULTS.md``).
Tried and dropped: one MIP over every level in the window (Elloumi, Labbé & Pochet 2004,
HiGHS: 13.012 against a bound of 12.505 after 300 s), and each step over a growing subset of
outlets (Chen & Chen 2009; about 200 of the 455 reduced rows were needed, 25-44 rounds,
slower than the reduced cover at once).

The strategy works on the model's allowed links (``oi``, ``dj``) and length-n or
length-m vectors; it makes no n x m array of its own.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time

import numpy as np
import scipy.sparse as sp

from ..._arrays import ArrayProblem
from ...exceptions import InfeasibleError, NoSolutionError
from ...plan import Plan
from ...solver import SolveInfo, Solver, _gap
from .formulation import link_state, links_member, links_union
from .plan import single_source_plan

__all__ = ["certify_pcenter", "pcenter_eligible", "solve_pcenter"]

log = logging.getLogger("channelopt.models")

#: seconds of swap search on the first plan: this share of the time limit at most
SWAP_SHARE = 0.05


def pcenter_eligible(model, has_min_load: bool = False) -> bool:
    """Whether the covering strategy solves this p-center model exactly.

    Uncapacitated, every outlet served, no region cap or minimum loads: then each
    outlet goes whole to its nearest open distributor (under split demand a mix of
    links is never nearer than the nearest of them), so the optimum is the
    covering optimum. Budget and signing caps are rows of the cover problem.
    """
    return (model.objective == "p_center" and not model.capacitated and model._serve_all()
            and model.max_per_region is None and not has_min_load and model.p is not None)


class _Links:
    """Allowed links sorted by (outlet, distance): nearest-open lookups without a dense matrix."""

    def __init__(self, oi: np.ndarray, dj: np.ndarray, dist: np.ndarray, n: int, m: int):
        # (outlet, distance) order by two stable sorts: faster than lexsort on a million links
        first = np.argsort(dist, kind="stable")
        order = first[np.argsort(oi[first], kind="stable")]
        self.oi, self.dj, self.d = oi[order], dj[order], dist[order]
        self.n, self.m = n, m
        self.start = np.searchsorted(self.oi, np.arange(n + 1))  # links of outlet i: start[i]:start[i+1]
        self.by_dist = np.argsort(self.dj, kind="stable")  # links of distributor j, in outlet order
        self.col_start = np.searchsorted(self.dj[self.by_dist], np.arange(m + 1))

    def nearest(self, is_open: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nearest open link of each outlet: (position, distance); -1 / inf where none."""
        live = np.flatnonzero(is_open[self.dj])
        pick = np.full(self.n, -1, dtype=np.int64)
        if len(live):
            first = np.r_[True, self.oi[live][1:] != self.oi[live][:-1]]
            pick[self.oi[live[first]]] = live[first]
        dist = np.where(pick >= 0, self.d[np.maximum(pick, 0)], np.inf)
        return pick, dist

    def radius(self, is_open: np.ndarray) -> float:
        _, dist = self.nearest(is_open)
        return float(dist.max()) if self.n else 0.0

    def column(self, j: int) -> np.ndarray:
        """Distance of every outlet to distributor ``j`` (inf without a link): one length-n vector."""
        pos = self.by_dist[self.col_start[j]:self.col_start[j + 1]]
        out = np.full(self.n, np.inf)
        out[self.oi[pos]] = self.d[pos]
        return out

    def two_nearest(self, is_open: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Nearest open distance, its distributor, and the second-nearest open distance, per outlet."""
        live = np.flatnonzero(is_open[self.dj])
        d1 = np.full(self.n, np.inf)
        d2 = np.full(self.n, np.inf)
        who = np.full(self.n, -1, dtype=np.int64)
        if len(live):
            o = self.oi[live]
            first = np.r_[True, o[1:] != o[:-1]]
            d1[o[first]] = self.d[live[first]]
            who[o[first]] = self.dj[live[first]]
            second = np.flatnonzero(~first & np.r_[False, first[:-1]])  # the link right after each first
            d2[o[second]] = self.d[live[second]]
        return d1, who, d2


def _greedy_cover(lk: _Links, r: float, base: np.ndarray, closed: np.ndarray, limit: int) -> np.ndarray | None:
    """Greedy set cover within ``r`` from the open set ``base``; ``None`` if it needs more than ``limit`` open."""
    within = (lk.d <= r) & ~closed[lk.dj]
    oi, dj = lk.oi[within], lk.dj[within]
    is_open = base.copy()
    covered = np.zeros(lk.n, dtype=bool)
    covered[oi[is_open[dj]]] = True
    count = int(is_open.sum())
    while not covered.all():
        if count >= limit:
            return None
        live = ~covered[oi]
        gain = np.bincount(dj[live], minlength=lk.m)
        j = int(np.argmax(gain))
        if gain[j] == 0:
            return None
        is_open[j] = True
        count += 1
        covered[oi[live & (dj == j)]] = True
    return is_open


def _packing_exceeds(lk: _Links, r: float, base: np.ndarray, closed: np.ndarray, limit: int) -> bool:
    """True when more than ``limit`` outlets need pairwise different distributors within ``r``.

    Outlets not reached by the open set ``base`` are taken greedily (fewest distributors
    in range first) while none of their distributors in range reaches an outlet already
    taken; each taken outlet needs its own distributor, so more than ``limit`` of them
    prove that no ``limit`` more distributors reach every outlet within ``r``.
    """
    within = (lk.d <= r) & ~closed[lk.dj]
    reached = np.zeros(lk.n, dtype=bool)
    reached[lk.oi[within & base[lk.dj]]] = True
    degree = np.bincount(lk.oi[within], minlength=lk.n)
    if (~reached & (degree == 0)).any():
        return True  # an outlet no distributor reaches within r
    blocked = np.zeros(lk.m, dtype=bool)
    taken = 0
    starts, stops = lk.start[:-1], lk.start[1:]
    for i in np.flatnonzero(~reached)[np.argsort(degree[~reached], kind="stable")].tolist():
        a, b = starts[i], stops[i]
        js = lk.dj[a:b][within[a:b]]
        if not blocked[js].any():
            blocked[js] = True
            taken += 1
            if taken > limit:
                return True
    return False


def _fill(lk: _Links, is_open: np.ndarray, closed: np.ndarray, p: int) -> np.ndarray:
    """Open more distributors up to ``p``, each the nearest allowed one to the farthest outlet."""
    is_open = is_open.copy()
    _, dist = lk.nearest(is_open)
    while is_open.sum() < p:
        for i in np.argsort(-dist, kind="stable").tolist():
            a, b = lk.start[i], lk.start[i + 1]
            js = lk.dj[a:b]  # outlet i's distributors, nearest first
            cand = np.flatnonzero(~is_open[js] & ~closed[js])
            if len(cand):
                j = int(js[cand[0]])
                is_open[j] = True
                dist = np.minimum(dist, lk.column(j))  # one length-n update, not a pass over the links
                break
        else:  # every outlet's links are open: any unused candidate
            rest = np.flatnonzero(~is_open & ~closed)
            is_open[rest[: p - int(is_open.sum())]] = True
    return is_open


def _swap(lk: _Links, is_open: np.ndarray, forced: np.ndarray, closed: np.ndarray, deadline: float) -> np.ndarray:
    """Swaps (one open out, one closed in) that lower the largest distance, while any does.

    Only a distributor nearer than the radius to the farthest outlet can lower it; for
    each such ``j`` every ``r`` out is priced at once from each outlet's two nearest
    open distances (vertex substitution, Mladenovic, Labbe & Hansen 2003).
    """
    is_open = is_open.copy()
    while time.perf_counter() < deadline:
        d1, who, d2 = lk.two_nearest(is_open)
        far = int(np.argmax(d1))
        best = d1[far]
        a, b = lk.start[far], lk.start[far + 1]
        near = (lk.d[a:b] < best) & ~is_open[lk.dj[a:b]] & ~closed[lk.dj[a:b]]
        outs = np.flatnonzero(is_open & ~forced)
        if not len(outs) or not near.any():
            break
        slot = np.full(lk.m, -1, dtype=np.int64)
        slot[outs] = np.arange(len(outs))
        mine = np.where(who >= 0, slot[np.maximum(who, 0)], -1)  # outlet's nearest, as a slot in outs (-1: kept)
        owned = mine >= 0
        found = None
        for j in lk.dj[a:b][near].tolist():
            col = lk.column(j)
            keep = np.minimum(col, d1)  # the outlet's nearest stays: d1, or j if nearer
            lose = np.minimum(col, d2)  # the outlet's nearest leaves: d2, or j if nearer
            # radius with r out: max(keep over outlets r does not serve, lose over outlets r serves)
            lose_r = np.full(len(outs), -np.inf)
            np.maximum.at(lose_r, mine[owned], lose[owned])
            top = int(np.argmax(keep))
            other = np.full(len(outs), keep[top])
            if mine[top] >= 0:  # when r serves the outlet of the largest keep, the largest of the rest
                rest = keep[mine != mine[top]]
                other[mine[top]] = rest.max() if len(rest) else -np.inf
            value = np.maximum(other, lose_r)
            k = int(np.argmin(value))
            if value[k] < best:
                found = (outs[k], j)
                break
            if time.perf_counter() > deadline:
                break
        if found is None:
            break
        is_open[found[0]], is_open[found[1]] = False, True
    return is_open


#: descent steps (each just below the best plan) before one bisection step
DESCENT_RUN = 4
#: work (row x shared-column products) per chunk of the dominance test; bounds its memory (~12 bytes each)
DOMINANCE_CHUNK = 2_000_000


def _cover_matrix(lk: _Links, r: float, forced: np.ndarray, excluded: np.ndarray):
    """Outlets no kept distributor reaches within ``r`` (rows) x the distributors that may open: a 0/1 CSR.

    Returns ``(matrix, outlet ids of the rows)``; kept and excluded distributors have no entries.
    """
    within = lk.d <= r
    reached = np.zeros(lk.n, dtype=bool)
    reached[lk.oi[within & forced[lk.dj]]] = True
    use = within & ~reached[lk.oi] & ~forced[lk.dj] & ~excluded[lk.dj]
    rows = np.flatnonzero(~reached)
    pos = np.full(lk.n, -1, dtype=np.int64)
    pos[rows] = np.arange(len(rows))
    a = sp.csr_matrix((np.ones(int(use.sum()), dtype=np.int32), (pos[lk.oi[use]], lk.dj[use])),
                      shape=(len(rows), lk.m))
    a.sum_duplicates()
    a.data[:] = 1
    return a, rows


def _subsets(b) -> tuple[np.ndarray, np.ndarray]:
    """Pairs ``(i, k)``, ``i != k``, of rows of the 0/1 CSR ``b`` whose column set of ``i`` lies in that of ``k``.

    ``b @ b.T`` counts shared columns; ``S_i`` is in ``S_k`` when the count is ``|S_i|``.
    Taken a chunk of rows at a time, so memory stays bounded on national-scale covers.
    """
    deg = np.diff(b.indptr)
    bt = b.T.tocsr()
    work = np.cumsum(b @ np.diff(bt.indptr).astype(np.int64))  # products per row, running
    out_i, out_k = [], []
    start = 0
    while start < b.shape[0]:
        stop = max(start + 1, int(np.searchsorted(work, (work[start - 1] if start else 0) + DOMINANCE_CHUNK)))
        c = (b[start:stop] @ bt).tocoo()
        i = c.row.astype(np.int64) + start
        hit = (c.data == deg[i]) & (i != c.col)
        out_i.append(i[hit])
        out_k.append(c.col[hit].astype(np.int64))
        start = stop
    return np.concatenate(out_i) if out_i else np.zeros(0, np.int64), \
        np.concatenate(out_k) if out_k else np.zeros(0, np.int64)


def _reduce(a, columns: bool) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the cover ``a`` that decide it: ``(row positions, column positions)`` kept.

    A row (outlet) whose distributor set contains another row's is covered whenever that
    row is (of equal sets the first stays). With unit costs and no caps, a column
    (distributor) whose outlets lie within another column's can be swapped for it in any
    cover (of equal ones the first stays); ``columns=False`` keeps every column (caps
    price columns differently). Repeated until nothing changes (Toregas & ReVelle 1973).
    """
    rows = np.arange(a.shape[0])
    cols = np.flatnonzero(np.diff(a.tocsc().indptr) > 0) if columns else np.arange(a.shape[1])
    while True:
        b = a[rows][:, cols].tocsr()
        deg = np.diff(b.indptr)
        i, k = _subsets(b)
        drop = (deg[i] < deg[k]) | (i < k)  # S_i strictly inside S_k, or equal sets and i first
        keep_r = np.ones(len(rows), dtype=bool)
        keep_r[k[drop]] = False
        keep_c = np.ones(len(cols), dtype=bool)
        if columns:
            bt = b[keep_r].T.tocsr()
            cdeg = np.diff(bt.indptr)
            j, jj = _subsets(bt)
            gone = (cdeg[j] < cdeg[jj]) | (jj < j)  # T_j strictly inside T_jj, or equal and jj first
            keep_c[j[gone]] = False
            keep_c &= cdeg > 0
        if keep_r.all() and keep_c.all():
            return rows, cols
        rows, cols = rows[keep_r], cols[keep_c]


def _cover_problem(model, lk: _Links, r: float, forced, excluded, fixed, existing, *, relax: bool = False):
    """The set cover at ``r`` on its reduced rows and columns: ``(problem, y block, column ids)``, or None
    when some outlet has no distributor within ``r``.

    Without signing caps: the fewest distributors besides the kept ones that cover
    every outlet, with a row ``<= p`` (less the kept ones) so that any plan answers
    "yes". With caps: every column, ``p`` open exactly, and the cap rows.
    """
    caps = model.budget is not None or model.max_new is not None or model.max_new_cost is not None
    a, _ = _cover_matrix(lk, r, forced, excluded)
    if (np.diff(a.indptr) == 0).any():
        return None
    rows, cols = _reduce(a, columns=not caps)
    b = a[rows][:, cols].tocoo()
    ap = ArrayProblem(model.kind, "min")
    if not caps:
        y = ap.add_vars("y", len(cols), upper=1.0, integer=not relax, cost=1.0)
        ap.add_rows("cover", rows=b.row, cols=y[b.col], sense=">=", rhs=1.0, n_rows=len(rows))
        ap.add_row("p", y.index, 1.0, "<=", float(model.p - int(forced.sum())))
        return ap, y, cols
    y = ap.add_vars("y", lk.m, lower=forced.astype(float), upper=(~excluded).astype(float), integer=not relax,
                    cost=1.0)
    ap.add_rows("cover", rows=b.row, cols=y[cols[b.col]], sense=">=", rhs=1.0, n_rows=len(rows))
    # with signing caps p is met exactly inside the model (filling up later could break a cap)
    ap.add_row("p", y.index, 1.0, "==", float(model.p))
    if model.budget is not None:
        ap.add_row("budget", y.index, fixed, "<=", float(model.budget))
    if model.max_new is not None:
        ap.add_row("max_new", y[~existing], 1.0, "<=", float(model.max_new))
    if model.max_new_cost is not None:
        ap.add_row("max_new_cost", y[~existing], fixed[~existing], "<=", float(model.max_new_cost))
    return ap, y, cols


def _decision_solver(solver: Solver) -> Solver:
    """The solver for one "can p cover within r?" step: proven exactly, stopping at the first plan.

    Any plan of the step's problem answers "yes" (the count row), so HiGHS stops at
    its first (``mip_max_improving_sols``); presolve is off, so an "infeasible" verdict
    needs no second, presolve-off confirmation run (measured on the reduced 3,000 x 300
    cover at p=30, one level below the optimum: 18.8 s with presolve, 20.4 s without,
    and the confirmation would double it).
    """
    options = dict(solver.options)
    if solver.name == "highs":
        options.setdefault("presolve", "off")
        options.setdefault("mip_max_improving_sols", 1)
    return dataclasses.replace(solver, mip_gap=0.0, options=options)


def _caps_ok(model, is_open, fixed, existing) -> bool:
    new = is_open & ~existing
    return ((model.budget is None or fixed[is_open].sum() <= model.budget + 1e-9)
            and (model.max_new is None or new.sum() <= model.max_new)
            and (model.max_new_cost is None or fixed[new].sum() <= model.max_new_cost + 1e-9))


def solve_pcenter(built, solver: Solver, t_start: float | None = None, start: np.ndarray | None = None) -> Plan:
    """Solve an uncapacitated p-center by a search over sorted distances (set-cover steps).

    ``start``: an open set (length m) to begin from, e.g. the plan of a restricted solve.
    """
    t_start = time.perf_counter() if t_start is None else t_start
    model, net, state = built.model, built.network, built.state
    n, m, p = state["n"], state["m"], int(model.p)
    forced, excluded = state["forced"], state["excluded"]
    fixed, existing = state["fixed"], state["existing"]
    oi, dj = state["oi"], state["dj"]
    dist = model._link_distances(net, oi, dj)  # on the links only (no n x m array)
    lk = _Links(oi, dj, dist, n, m)
    limit = solver.time_limit
    caps = model.budget is not None or model.max_new is not None or model.max_new_cost is not None
    levels = np.unique(lk.d)
    steps: dict[str, dict] = {}

    # lower end: every outlet pays at least its nearest allowed distance
    first = np.r_[True, lk.oi[1:] != lk.oi[:-1]] if len(lk.oi) else np.zeros(0, dtype=bool)
    lo = int(np.searchsorted(levels, lk.d[first].max())) if n else 0
    best_open, best_val = None, math.inf

    def consider(is_open) -> bool:
        """Keep ``is_open`` (filled up to p) if it beats the best plan; False if it breaks a rule."""
        nonlocal best_open, best_val
        if is_open is None or int(is_open.sum()) > p:
            return False
        if is_open.sum() < p:
            if caps:
                return False
            is_open = _fill(lk, is_open, excluded, p)
        if caps and not _caps_ok(model, is_open, fixed, existing):
            return False
        val = lk.radius(is_open)
        if val < best_val:
            best_open, best_val = is_open, val
        return True

    if start is not None and n:
        consider(np.asarray(start, dtype=bool) & ~excluded | forced)

    # lower end, better: the largest level at which greedy packing proves more than p needed
    free_p = p - int(forced.sum())

    def out_of_time() -> bool:
        # the bounds before the search stop with the clock (what they proved so far still holds)
        left = solver.remaining()
        return solver.interrupted or (left is not None and left <= 0.5 * limit)

    a, b = lo, len(levels) - 1
    while a <= b and n and not out_of_time():
        mid = (a + b) // 2
        if _packing_exceeds(lk, levels[mid], forced, excluded, free_p):
            lo = max(lo, mid + 1)
            a = mid + 1
        else:
            b = mid - 1
    if n and lo >= len(levels):
        # even every allowed link leaves more than p outlets that need a distributor each
        # (sparse candidates can do that; the caller then retries on every link)
        reasons = [f"more than p={p} outlets need distributors of their own over the allowed links"]
        raise InfeasibleError("DistributorSelection is infeasible: " + "; ".join(reasons) + ".", reasons=reasons)

    # upper end: the smallest radius greedy covering meets with p, then swaps
    t0 = time.perf_counter()
    a, b = lo, len(levels) - 1
    first_try = True
    while a <= b and n and (first_try or not out_of_time()):
        # the first try is the largest radius: a plan in hand however little time there is
        mid = b if first_try else (a + b) // 2
        first_try = False
        cover = _greedy_cover(lk, levels[mid], forced, excluded, p)
        if cover is not None and (not caps or (cover.sum() == p and _caps_ok(model, cover, fixed, existing))):
            consider(cover)
            b = min(mid, int(np.searchsorted(levels, best_val))) - 1 if best_open is not None else mid - 1
        else:
            a = mid + 1
    secs = model.heuristic_seconds if limit is None else min(model.heuristic_seconds, SWAP_SHARE * limit)
    if best_open is not None:
        better = _swap(lk, best_open, forced, excluded, time.perf_counter() + secs)
        if not caps or _caps_ok(model, better, fixed, existing):
            consider(better)
    hi = int(np.searchsorted(levels, best_val)) if best_open is not None else len(levels) - 1
    steps["heuristic"] = {"objective": best_val, "bound": float(levels[lo]) if len(levels) else 0.0,
                          "seconds": time.perf_counter() - t0}

    # lower end, stronger: the set-cover LP (with its row "at most p") is infeasible at every level below
    # the first where it is not (its value never rises with r); each LP is a few ms on the reduced cover
    count_cap = p if caps else free_p
    t0 = time.perf_counter()
    lps = 0
    a, b = lo, (hi - 1 if best_open is not None else len(levels) - 1)
    while a <= b and n and not out_of_time():
        mid = (a + b) // 2
        step = _cover_problem(model, lk, float(levels[mid]), forced, excluded, fixed, existing, relax=True)
        if step is not None:
            info = dataclasses.replace(solver, mip_gap=0.0).solve(step[0])
            lps += 1
            if info.status not in ("infeasible", "optimal"):
                break  # stopped: what is proven so far holds
        if step is None or info.status == "infeasible":
            lo = max(lo, mid + 1)
            a = mid + 1
        else:
            b = mid - 1
    steps["lp_bound"] = {"objective": best_val, "bound": float(levels[min(lo, len(levels) - 1)]) if len(levels)
                         else 0.0, "cover_lps": lps, "seconds": time.perf_counter() - t0}

    # the search: lo is a proven lower level, hi a level some plan reaches (when best_open)
    t0 = time.perf_counter()
    solves, info, stopped = 0, None, False
    known = best_open is not None
    run = 0  # descent steps in a row
    while lo < hi or not known:
        if lo > len(levels) - 1:
            break
        # the level just below the best plan: when that plan is optimal one problem proves it, and
        # otherwise the cover found there (filled and swapped) is a better plan. Steps far below the
        # optimum are the dearest (3,000 x 300, p=30: 6-14 s each to prove "no", against 0.1 s to
        # find a cover well above it), so bisection only every DESCENT_RUN steps
        descend = run < DESCENT_RUN
        mid = hi if not known else (hi - 1 if descend else (lo + hi) // 2)
        run = run + 1 if descend else 0
        r = float(levels[mid])
        cover = _greedy_cover(lk, r, forced, excluded, p) if not caps else None
        if cover is not None and consider(cover):
            hi = int(np.searchsorted(levels, best_val))
            known = True
            continue
        left = solver.remaining()
        if solver.interrupted or (left is not None and left <= 0.01 * limit):
            stopped = True
            break
        step = _cover_problem(model, lk, r, forced, excluded, fixed, existing)
        if step is None:  # an outlet with no distributor within r
            lo = mid + 1
            continue
        ap, y, cols = step
        # on the solve's own clock (its limit and Ctrl-C); each step is proven exactly
        info = _decision_solver(solver).solve(ap)
        solves += 1
        log.debug("p-center cover at r=%.6g (%d x %d): %s in %.2fs", r, ap.n_rows, ap.n_cols, info.status,
                  info.seconds)
        if info.has_solution:  # the count row holds: p or fewer
            is_open = forced.copy()
            is_open[cols[np.round(y.value) > 0.5]] = True
            if not caps and is_open.sum() <= p:
                # the solver's first cover is any cover: filled up to p and swapped, its radius often
                # drops several levels, sparing steps above the optimum
                is_open = _swap(lk, _fill(lk, is_open, excluded, p), forced, excluded, time.perf_counter() + secs)
            if not consider(is_open):
                stopped = True  # a cover the rules reject: never expected; stop with what is proven
                break
            hi = min(mid, int(np.searchsorted(levels, best_val)))
            known = True
        elif info.status == "infeasible" or (math.isfinite(info.bound) and info.bound > count_cap + 0.5):
            lo = mid + 1  # no p distributors reach every outlet within r
            if not known and lo > len(levels) - 1:
                break
        else:  # stopped without an answer for this radius
            stopped = True
            break
    steps["search"] = {"objective": best_val, "bound": float(levels[min(lo, len(levels) - 1)]) if len(levels)
                       else 0.0, "cover_mips": solves, "seconds": time.perf_counter() - t0}

    if best_open is None:
        if not stopped:
            reasons = model._diagnose(net, state) or ["no set of p distributors meets the signing caps and "
                                                      "reaches every outlet"]
            raise InfeasibleError("DistributorSelection is infeasible: " + "; ".join(reasons) + ".",
                                  reasons=reasons)
        raise NoSolutionError(f"{solver.name} stopped without a feasible plan (covering p-center); raise "
                              f"time_limit (now {limit}).")
    bound = float(levels[lo]) if lo < len(levels) else best_val
    bound = min(bound, best_val)
    gap = _gap(best_val, bound)
    status = "optimal" if lo >= hi else "feasible"
    pick, _ = lk.nearest(best_open)
    termination = "optimal" if status == "optimal" else ("interrupted" if solver.interrupted else "time_limit")
    out = SolveInfo(solver.name, status, termination, objective=best_val,
                    bound=bound, gap=0.0 if status == "optimal" else gap,
                    seconds=time.perf_counter() - t_start, build_seconds=built.build_seconds,
                    n_variables=m, n_integer=m, n_constraints=n, time_limit=limit, mip_gap=solver.mip_gap,
                    message=(f"strategy='radius' (covering p-center): {len(levels)} distance levels, "
                             f"{solves} set-cover MIP(s)"))
    return single_source_plan(model, net, solver, lk.oi[pick], lk.dj[pick], best_open, out, steps)


def certify_pcenter(built, plan: Plan, solver: Solver, t_start: float) -> Plan:
    """Restate a restricted (``candidates``) covering p-center plan for the full problem, widening when needed.

    A plan of radius ``z`` is beaten only by plans that serve every outlet within ``z``,
    so the full optimum is the optimum over the links within ``z``: the restricted links
    plus every allowed link within ``z`` (:meth:`~channelopt.ChannelNetwork.links`, a chunk
    of outlets at a time). When the restricted links already hold them all, the
    restricted search decided every level below ``z`` on the full problem's links, and
    its status and bound stand. Otherwise the covering search runs again on the widened
    links, from the plan in hand, on the rest of the clock: its optimum is the full
    optimum and its lower end (packing, LP, set-cover steps on every link within ``z``)
    a bound for the full problem, even when the clock stops it. If it cannot run at all,
    the bound is the farthest outlet's nearest allowed distance (each outlet's nearest
    link is among its candidates).
    """
    model, net, state = built.model, built.network, built.state
    info = plan.info
    note = f"candidates={model.candidates!r} restrict the links"
    z = float(info.objective)
    restricted = state["allowed"]  # links (oi, dj), by outlet then distributor
    near = net.links(radius=z, max_distance=model.max_distance, exclude=state["excluded"], keep_nearest=False)
    oi, dj = near["outlet"].to_numpy(dtype=np.int64), near["distributor"].to_numpy(dtype=np.int64)
    missing = ~links_member(oi, dj, restricted, net._count("distributors"))
    if not missing.any():
        info.message = (f"{note}; they hold every allowed link within the plan's radius {z:,.6g}, so the "
                        f"status and bound hold for the unrestricted problem. {info.message}").strip()
        return plan
    widened = links_union(restricted, oi[missing], dj[missing])
    t0 = time.perf_counter()
    wide_state = link_state(model, net, allowed=widened, close_idle=False)
    wide_state.update(allowed=widened, restricted=False)
    # built like the restricted one (type(built): no import of built.py here); its assignment MIP is never made
    again = type(built)(model, net, None, wide_state, time.perf_counter() - t0,
                        arrays=ArrayProblem(model.kind, model.sense), strategy="radius")
    is_open = plan.distributors["open"].to_numpy(dtype=bool)
    try:
        wide = solve_pcenter(again, solver.share(1.0), t_start, start=is_open)
    except (NoSolutionError, KeyboardInterrupt) as exc:
        if isinstance(exc, KeyboardInterrupt):
            solver.deadline.interrupt()
            info.termination = "interrupted"
        # each outlet's nearest allowed link is a candidate (k nearest, or the nearest kept by a radius)
        roi = state["oi"]
        starts = np.flatnonzero(np.r_[True, roi[1:] != roi[:-1]]) if len(roi) else np.zeros(0, dtype=np.int64)
        d_near = np.minimum.reduceat(model._link_distances(net, roi, state["dj"]), starts) if len(roi) else roi
        bound = min(float(d_near.max()) if len(d_near) else 0.0, z)
        info.bound, info.gap = bound, _gap(z, bound)
        info.status = "optimal" if info.gap <= 1e-12 else "feasible"
        info.message = (f"{note}; {int(missing.sum())} allowed links within the plan's radius were not candidates "
                        f"and the widened search did not run; bound {bound:,.6g} (the farthest outlet's nearest "
                        f"link) holds for the unrestricted problem")
        return plan
    wi = wide.info
    wi.message = (f"{note}; widened by the {int(missing.sum())} allowed links within the restricted plan's radius "
                  f"{z:,.6g} (the full optimum uses no other): status and bound {wi.bound:,.6g} hold for the "
                  f"unrestricted problem. {wi.message}").strip()
    return wide
