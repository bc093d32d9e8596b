"""Fast primal heuristics for distributor selection (MIP warm starts), and a Lagrangian bound.

The heuristics work on the allowed links (``oi``, ``dj``, ``cost`` arrays: O(links)
memory, no n x m array; issue 13) and return the set of distributors to open; the MIP
solver completes (and improves) the rest; there are no dense-matrix entry points.
:func:`lagrangian_bound` works on the sparse links and proves a lower bound, with the
penalties that let a caller drop links and distributors no better plan can use.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

__all__ = ["greedy_median_links", "greedy_capacitated_links", "greedy_cover_links", "assign_greedy_links",
           "LagrangianBound", "lagrangian_bound"]


def _penalty(cost: np.ndarray) -> float:
    # A finite stand-in for "unreachable" (no link) keeps the gains below well defined.
    finite = cost[np.isfinite(cost)]
    big = (float(finite.max()) if finite.size else 1.0) * 10.0 + 1.0
    return big * 10.0


@dataclass(frozen=True)
class _Sorted:
    """Links ordered by outlet then cost (CSR by outlet), and each outlet's slice."""

    oi: np.ndarray
    dj: np.ndarray
    cost: np.ndarray
    indptr: np.ndarray
    n: int
    has: np.ndarray  # outlets with at least one link
    order: np.ndarray  # sorted position -> given position

    @classmethod
    def of(cls, oi, dj, cost, n: int) -> _Sorted:
        oi, dj, cost = np.asarray(oi, dtype=np.int64), np.asarray(dj, dtype=np.int64), np.asarray(cost, dtype=float)
        # by outlet, then cost (ties keep the given order); two stable sorts beat lexsort
        first = np.argsort(cost, kind="stable")
        order = first[np.argsort(oi[first], kind="stable")]
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(oi, minlength=n), out=indptr[1:])
        has = np.flatnonzero(np.diff(indptr) > 0)
        return cls(oi[order], dj[order], cost[order], indptr, n, has, order)

    def best(self, is_open: np.ndarray, none: float) -> np.ndarray:
        """Each outlet's cheapest link to an open distributor (``none`` where it has none)."""
        out = np.full(self.n, none)
        if len(self.has):
            masked = np.where(is_open[self.dj], self.cost, none)
            out[self.has] = np.minimum.reduceat(masked, self.indptr[self.has])
        return out


def greedy_median_links(oi, dj, cost, n: int, m: int, *, p: int | None = None, fixed: np.ndarray | None = None,
                        forced: np.ndarray | None = None, closed: np.ndarray | None = None,
                        seconds: float = 2.0) -> np.ndarray:
    """ADD greedy then a swap local search for p-median (``p`` given) or UFLP (``fixed`` given).

    Works on the allowed links (``cost[k]`` of outlet ``oi[k]`` from distributor
    ``dj[k]``): memory and each step are O(links), never O(n x m). An outlet no open
    distributor reaches counts at a large finite penalty. Returns a boolean mask of
    distributors to open.

    Examples
    --------
    >>> import numpy as np
    >>> oi, dj = np.array([0, 0, 1, 1, 2]), np.array([0, 1, 0, 1, 1])
    >>> greedy_median_links(oi, dj, np.array([1.0, 5.0, 4.0, 1.0, 1.0]), 3, 2, p=1).tolist()
    [False, True]
    """
    links = _Sorted.of(oi, dj, cost, n)
    oi, dj, c = links.oi, links.dj, links.cost
    pen = _penalty(c)
    full = len(c) == n * m  # every pair a link: the dense form's start without a penalty column
    f = np.zeros(m) if fixed is None else np.asarray(fixed, dtype=float)
    is_open = np.zeros(m, dtype=bool) if forced is None else forced.copy()
    banned = np.zeros(m, dtype=bool) if closed is None else closed.copy()
    best = links.best(is_open, pen) if is_open.any() else np.full(n, (float(c.max()) if full else pen) * 10.0)
    by_d = np.argsort(dj, kind="stable")  # each distributor's links: by_d[d_ptr[j]:d_ptr[j + 1]]
    d_ptr = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(np.bincount(dj, minlength=m), out=d_ptr[1:])
    oi_d, c_d = oi[by_d], c[by_d]
    linked = np.flatnonzero(np.diff(d_ptr) > 0)

    def per_site(values_d: np.ndarray) -> np.ndarray:
        # sum of each distributor's link values (links in distributor order): reduceat, not a scatter
        out = np.zeros(m)
        if len(linked):
            out[linked] = np.add.reduceat(values_d, d_ptr[linked])
        return out

    deadline = time.perf_counter() + seconds
    while True:
        if p is not None and is_open.sum() >= p:
            break
        b_d = best[oi_d]
        gain = per_site(np.maximum(b_d - c_d, 0.0)) - f
        if not full:
            # an outlet without a link to j keeps its best, or drops from the start value to the penalty
            gain += np.maximum(best - pen, 0.0).sum() - per_site(np.maximum(b_d - pen, 0.0))
        gain[is_open | banned] = -np.inf
        j = int(np.argmax(gain))
        if not np.isfinite(gain[j]) or (p is None and gain[j] <= 0 and is_open.any()):
            break
        is_open[j] = True
        best = np.minimum(best, pen if not full else best)
        on = by_d[d_ptr[j]:d_ptr[j + 1]]  # one link per outlet and distributor: a plain gather/scatter
        best[oi[on]] = np.minimum(best[oi[on]], c[on])
        if time.perf_counter() > deadline and p is None:
            break
    # swap search: replace one open by one closed while it lowers the total
    locked = np.zeros(m, dtype=bool) if forced is None else forced
    best = links.best(is_open, pen)
    total = best.sum() + f[is_open].sum()
    improved = True
    while improved and time.perf_counter() < deadline:
        improved = False
        opened = np.flatnonzero(is_open & ~locked)
        for out in opened:
            rest = is_open.copy()
            rest[out] = False
            if not rest.any():
                continue
            base = links.best(rest, pen)
            cand = np.flatnonzero(~is_open & ~banned)
            if not len(cand):
                break
            # sum_i min(base_i, c_ij) for every j at once: the base less what j's links save
            save = per_site(np.maximum(base[oi_d] - c_d, 0.0))
            totals = base.sum() - save[cand] + f[cand]
            k = int(np.argmin(totals))
            new_total = totals[k] + f[rest].sum()
            drop_total = base.sum() + f[rest].sum()
            if p is None and drop_total < total - 1e-9 and drop_total <= new_total:
                is_open, total, improved = rest, drop_total, True
                break
            if new_total < total - 1e-9:
                rest[cand[k]] = True
                is_open, total, improved = rest, new_total, True
                break
            if time.perf_counter() > deadline:
                break
    return is_open


def greedy_capacitated_links(oi, dj, cost, n: int, m: int, demand: np.ndarray, capacity: np.ndarray,
                             fixed: np.ndarray, *, forced: np.ndarray | None = None,
                             closed: np.ndarray | None = None, p: int | None = None,
                             slack: float = 1.05) -> np.ndarray:
    """Open the distributors with the lowest (fixed + nearby service) cost per unit they can serve.

    Each distributor's score fills it with its cheapest linked outlets up to its
    capacity (O(links)). Stops when open capacity covers ``slack`` x total demand (or
    ``p`` are open).
    """
    oi, dj, c = np.asarray(oi, dtype=np.int64), np.asarray(dj, dtype=np.int64), np.asarray(cost, dtype=float)
    is_open = np.zeros(m, dtype=bool) if forced is None else forced.copy()
    banned = np.zeros(m, dtype=bool) if closed is None else closed.copy()
    cap = np.where(np.isfinite(capacity), capacity, demand.sum())
    order = np.lexsort((c, dj))  # by distributor, cheapest first
    d_s, c_s, dem = dj[order], c[order], demand[oi[order]]
    cum = np.cumsum(dem)
    start = np.zeros(m)
    first = np.r_[0, np.flatnonzero(np.diff(d_s)) + 1] if len(d_s) else np.zeros(0, dtype=np.int64)
    start[d_s[first]] = cum[first] - dem[first]
    filled = cum - start[d_s] <= cap[d_s]
    served = np.bincount(d_s, weights=np.where(filled, dem, 0.0), minlength=m)
    service = np.bincount(d_s, weights=np.where(filled, c_s, 0.0), minlength=m)
    # room left after every linked outlet would go to outlets it cannot serve: priced at the
    # penalty, so such a distributor comes last (as the dense form's unreachable entries did)
    linked = np.bincount(dj, weights=demand[oi], minlength=m)
    short = (linked < cap - 1e-9) & (np.bincount(dj, minlength=m) < n)
    service = service + np.where(short, _penalty(c) if len(c) else 0.0, 0.0)
    score = (fixed + service) / np.maximum(served, 1e-9)
    score[banned | (served <= 0)] = np.inf
    target = demand.sum() * slack
    for j in np.argsort(score, kind="stable"):
        if cap[is_open].sum() >= target or (p is not None and is_open.sum() >= p):
            break
        if np.isfinite(score[j]):
            is_open[j] = True
    return is_open


def greedy_cover_links(oi, dj, n: int, m: int, weight: np.ndarray, *, p: int | None = None,
                       budget: float | None = None, fixed: np.ndarray | None = None,
                       forced: np.ndarray | None = None, closed: np.ndarray | None = None,
                       full: bool = False) -> np.ndarray:
    """Greedy covering on the links (outlet ``oi[k]`` in range of ``dj[k]``): most newly covered
    weight (per unit of fixed cost under a budget) first.

    ``full=True`` keeps adding until every coverable outlet is covered (set cover).
    """
    oi, dj = np.asarray(oi, dtype=np.int64), np.asarray(dj, dtype=np.int64)
    f = np.zeros(m) if fixed is None else np.asarray(fixed, dtype=float)
    is_open = np.zeros(m, dtype=bool) if forced is None else forced.copy()
    banned = np.zeros(m, dtype=bool) if closed is None else closed.copy()
    covered = np.zeros(n, dtype=bool)
    covered[oi[is_open[dj]]] = True
    coverable = np.zeros(n, dtype=bool)
    coverable[oi[~banned[dj]]] = True
    w = np.asarray(weight, dtype=float)
    spent = f[is_open].sum()
    while True:
        if p is not None and is_open.sum() >= p:
            break
        if full and covered[coverable].all():
            break
        if full:
            gain = np.bincount(dj, weights=(~covered[oi]).astype(float), minlength=m)
            gain = gain / np.maximum(f, 1e-9) if np.any(f > 0) else gain
        else:
            gain = np.bincount(dj, weights=w[oi] * ~covered[oi], minlength=m)
            if budget is not None:
                gain = gain / np.maximum(f, 1e-9)
        ok = ~is_open & ~banned
        if budget is not None:
            ok &= spent + f <= budget + 1e-9
        gain[~ok] = -np.inf
        j = int(np.argmax(gain))
        if not np.isfinite(gain[j]) or gain[j] <= 0:
            break
        is_open[j] = True
        spent += f[j]
        covered[oi[dj == j]] = True
    return is_open


def assign_greedy_links(oi, dj, cost, n: int, demand: np.ndarray, capacity: np.ndarray, is_open: np.ndarray, *,
                        single_source: bool) -> np.ndarray | None:
    """Assign outlets to open distributors within capacity, largest demand first, cheapest link first.

    Returns the share of each link (in the order given), or None when the greedy
    cannot place every outlet. O(links) memory.
    """
    links = _Sorted.of(oi, dj, cost, n)
    back = np.empty(len(links.oi), dtype=np.int64)  # given position -> sorted position
    back[links.order] = np.arange(len(back))
    left = np.where(is_open, np.where(np.isfinite(capacity), capacity, np.inf), 0.0).astype(float)
    share = np.zeros(len(links.oi))
    ptr, ldj = links.indptr, links.dj
    open_link = is_open[ldj]
    for i in np.argsort(-demand, kind="stable").tolist():
        need = float(demand[i])
        ks = np.arange(ptr[i], ptr[i + 1])[open_link[ptr[i]:ptr[i + 1]]].tolist()
        for k in ks:
            j = int(ldj[k])
            if single_source:
                if left[j] >= need - 1e-9:
                    share[k] = 1.0
                    left[j] -= need
                    need = 0.0
                    break
                continue
            take = min(need, left[j])
            if take > 0:
                share[k] += take / demand[i] if demand[i] > 0 else 1.0
                left[j] -= take
                need -= take
            if need <= 1e-9:
                break
        if need > 1e-9 * max(1.0, float(demand[i])) and demand[i] > 0:
            return None
        if demand[i] == 0 and not share[ptr[i]:ptr[i + 1]].any():
            if not ks:
                return None
            share[ks[0]] = 1.0
    return share[back]


@dataclass
class LagrangianBound:
    """A lower bound on a capacitated facility-location optimum, with what it proves.

    Attributes
    ----------
    bound : float
        Valid lower bound on the optimum of the model the arrays describe.
    multipliers : ndarray
        The outlet multipliers (prices of serving each outlet) at the bound.
    y_mean : ndarray
        Average opening of each distributor over the iterations: an estimate of the
        LP-relaxation's ``y``, used to round to a plan.
    open_penalty : ndarray
        Per distributor, a proven lower bound on how much the bound rises if it is
        forced open (0 where the relaxation already opens it).
    iterations : int
    """

    bound: float
    multipliers: np.ndarray
    y_mean: np.ndarray
    open_penalty: np.ndarray
    iterations: int


def _facility_values(lam, oi, dj, cost, demand, cap, fixed, m):
    """Each distributor's best use at prices ``lam``: a continuous knapsack over its links.

    Returns its value ``v_j`` (fixed cost plus the most negative reduced service cost
    that fits its capacity) and each link's taken share.
    """
    r = cost - lam[oi]
    ratio = r / demand[oi]
    idx = np.flatnonzero(r < 0)
    order = idx[np.lexsort((ratio[idx], dj[idx]))]
    g = dj[order]
    dd = demand[oi[order]]
    cum = np.cumsum(dd)
    first = np.searchsorted(g, np.arange(m))
    before = cum - dd - np.concatenate([[0.0], cum])[first][g]
    take_sorted = np.clip((cap[g] - before) / dd, 0.0, 1.0)
    take = np.zeros(len(oi))
    take[order] = take_sorted
    v = fixed + np.bincount(g, weights=take_sorted * r[order], minlength=m)
    return v, take


def _open_knapsack(v, cap, need, free):
    """LP of ``min v.y  s.t.  cap.y >= need, 0 <= y <= 1`` over the ``free`` distributors.

    Returns ``(y, value, mu)`` with ``mu`` the price of capacity (the dual of the row).
    """
    y = np.zeros(len(v))
    neg = free & (v < 0)
    y[neg] = 1.0
    have = cap[neg].sum()
    mu = 0.0
    if have < need - 1e-12:
        rest = np.flatnonzero(free & ~neg)
        rest = rest[np.argsort(v[rest] / cap[rest], kind="stable")]
        cum = have + np.cumsum(cap[rest])
        k = int(np.searchsorted(cum, need))
        if k >= len(rest):  # the capacity row cannot be met: no finite bound from this row
            return y, np.inf, 0.0
        y[rest[:k]] = 1.0
        prev = cum[k - 1] if k > 0 else have
        y[rest[k]] = (need - prev) / cap[rest[k]]
        mu = v[rest[k]] / cap[rest[k]]
    return y, float(v @ y), mu


def _open_count(v, cap, need, free, count):
    """As :func:`_open_knapsack` plus ``sum y >= count``, that row priced by ``nu >= 0``.

    Every ``nu`` gives a valid bound ``nu count + min (v - nu).y``; the best one is found
    by golden-section search (the function is concave in ``nu``). Returns
    ``(y, value, mu, nu)``.
    """
    y, value, mu = _open_knapsack(v, cap, need, free)
    if count <= 0 or y[free].sum() >= count - 1e-9:
        return y, value, mu, 0.0

    def at(nu):
        yy, val, mm = _open_knapsack(v - nu, cap, need, free)
        return val + nu * count, yy, mm

    lo, hi = 0.0, float(np.ptp(v[free])) + float(np.abs(v[free]).max()) + 1.0
    ratio = (np.sqrt(5.0) - 1.0) / 2.0
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = at(a)[0], at(b)[0]
    for _ in range(60):
        if fa < fb:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = at(b)[0]
        else:
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = at(a)[0]
    nu = a if fa >= fb else b
    best_value, y, mu = at(nu)
    if best_value <= value:
        y, best_value, mu = _open_knapsack(v, cap, need, free)
        return y, best_value, mu, 0.0
    return y, best_value, mu, nu


def lagrangian_bound(oi: np.ndarray, dj: np.ndarray, cost: np.ndarray, demand: np.ndarray,
                     capacity: np.ndarray, fixed: np.ndarray, *, upper: float | None = None,
                     forced: np.ndarray | None = None, closed: np.ndarray | None = None,
                     start: np.ndarray | None = None, iterations: int = 400,
                     seconds: float = 60.0) -> LagrangianBound:
    """Lower bound of sparse facility location by Lagrangian relaxation of "serve every outlet".

    The model: links ``(oi[k], dj[k])`` with cost ``cost[k]`` (serving the whole
    outlet), ``sum_k x_k = 1`` per outlet, ``x_k <= y_j``, ``sum demand x <= capacity_j y_j``,
    ``y`` binary. Relaxing the assignment rows with prices ``lam`` leaves one continuous
    knapsack per distributor plus the valid row ``sum_j capacity_j y_j >= total demand``
    and ``sum_j y_j >= k`` (the fewest distributors whose capacities cover demand), as
    an LP, so every ``lam`` gives a valid bound; this bound equals the strong LP
    relaxation's (plus those two rows) at the best ``lam``. It is reached by
    subgradient steps ``theta (upper - L) / |g|^2``, ``theta`` halved after 20 steps
    without progress. ``upper`` is the cost of a known plan; ``None`` aims 5% above
    the best bound so far (any target keeps the bound valid, a good one converges
    faster). ``start`` gives initial multipliers (e.g. from an earlier call).

    Any extra rows a model adds (single sourcing, caps on signings) only raise its
    optimum, so the bound stays valid for them, only weaker.

    Parameters
    ----------
    oi, dj : ndarray of int
        Outlet and distributor index of each allowed link.
    cost : ndarray
        Cost of each link carrying its outlet's whole demand.
    demand, capacity, fixed : ndarray
        Per outlet demand; per distributor capacity (``inf`` allowed) and fixed cost.
    upper : float, optional
        Cost of a known plan (the subgradient target).
    forced, closed : ndarray of bool, optional
        Distributors that must be open / may not open.
    start : ndarray, optional
        Initial multipliers, one per outlet.
    iterations, seconds : int, float
        Stop after this many subgradient steps or this much time.

    Returns
    -------
    LagrangianBound

    Examples
    --------
    >>> import numpy as np
    >>> oi, dj = np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])
    >>> lb = lagrangian_bound(oi, dj, np.array([1.0, 4.0, 3.0, 1.0]), np.array([1.0, 1.0]),
    ...                       np.array([2.0, 2.0]), np.array([2.0, 3.0]), upper=6.0)
    >>> bool(lb.bound <= 6.0), round(lb.bound, 3)
    (True, 6.0)
    """
    n, m = len(demand), len(capacity)
    total = float(demand.sum())
    # a distributor never carries more than the whole demand: capping keeps inf capacities usable
    cap = np.minimum(np.where(np.isfinite(capacity), capacity, total), total)
    forced = np.zeros(m, dtype=bool) if forced is None else np.asarray(forced, dtype=bool)
    closed = np.zeros(m, dtype=bool) if closed is None else np.asarray(closed, dtype=bool) & ~forced
    free = ~forced & ~closed
    need = max(total - cap[forced].sum(), 0.0)
    # every plan opens at least as many as the largest capacities need to cover demand
    usable = np.sort(cap[~closed])[::-1]
    k_min = int(np.searchsorted(np.cumsum(usable), total * (1 - 1e-9))) + 1
    at_least = min(k_min, len(usable)) - int(forced.sum())
    # start from each outlet's cheapest cost per unit including its share of the fixed cost
    if start is not None:
        lam = np.array(start, dtype=float)
    else:
        lam = np.full(n, np.inf)
        np.minimum.at(lam, oi, cost + (fixed / np.maximum(cap, 1e-12))[dj] * demand[oi])
        lam[~np.isfinite(lam)] = 0.0
    best, best_lam, theta, stall = -np.inf, lam.copy(), 2.0, 0
    y_sum = np.zeros(m)
    best_state = None
    deadline = time.perf_counter() + seconds
    steps = 0
    for _ in range(iterations):
        steps += 1
        v, take = _facility_values(lam, oi, dj, cost, demand, cap, fixed, m)
        y, value, mu, nu = _open_count(v, cap, need, free, at_least)
        y[forced] = 1.0
        bound = float(lam.sum() + value + v[forced].sum())
        y_sum += y
        if bound > best + 1e-12 * abs(bound):
            best, best_lam, stall = bound, lam.copy(), 0
            best_state = (v, y, mu, nu)
        else:
            stall += 1
            if stall >= 20:
                theta, stall = theta / 2.0, 0
        g = 1.0 - np.bincount(oi, weights=take * y[dj], minlength=n)
        norm = float(g @ g)
        target = best + 0.05 * abs(best) if upper is None else upper
        if norm < 1e-12 or theta < 1e-4 or time.perf_counter() > deadline or best >= target:
            break
        lam = lam + theta * max(target - bound, 1e-9 * abs(target)) / norm * g
    v, y, mu, nu = best_state
    # forcing j open raises the knapsack LP by at least its reduced cost v_j - nu - mu cap_j
    open_penalty = np.where(free, np.maximum(v - nu - mu * cap, 0.0), 0.0)
    open_penalty[y > 1e-9] = 0.0
    return LagrangianBound(best, best_lam, y_sum / steps, open_penalty, steps)
