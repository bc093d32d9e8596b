"""The radius strategy for uncapacitated p-median / facility location: levels of sorted costs, grown on demand.

Each outlet ``i`` sorts the distinct costs of its allowed links, ``u_i^0 < u_i^1 < ...``.
``z_i^k = 1`` means "outlet i pays more than ``u_i^k``" (Elloumi 2010; García, Labbé &
Marín 2011). The model is::

    min  sum_i u_i^0 + sum_k (u_i^{k+1} - u_i^k) z_i^k  (+ fixed costs of open y)
    z_i^0 + sum_{j: c_ij = u_i^0} y_j >= 1
    z_i^k - z_i^{k-1} + sum_{j: c_ij = u_i^k} y_j >= 0          k >= 1
    sum_j y_j = p,   y binary,   z >= 0

Each ``y_j`` appears once per outlet (at its level), there are no ``x_ij <= y_j`` rows,
and equal costs share one level (OR-Library pmed distances are integers: about 150
levels per outlet instead of 800 links). The LP bound equals the strong classic one.

The solve: greedy + swap search on the sorted links for a first plan (on instances too
large for the greedy's passes, swaps from an even spread); the Lagrangian bound (assignment rows
relaxed; its optimum is the LP bound) from subgradient steps over the links below each
outlet's multiplier; fixing by penalties, of distributors and of single links (a link
whose forced use lifts the bound to the best plan's cost carries no better plan); then a
depth-first Lagrangian branch and bound over the distributors, each node re-optimising
the bound from its parent's multipliers and dropping more links (Beasley 1993's scheme;
OR-Library pmed16, whose LP bound 8,092 is 0.9% under the optimum 8,162, closes in 33
nodes). Models with ``budget`` / ``max_new`` rows, which the relaxation cannot see, go
from the fixing to the radius MIP below instead.

Measured (2 cores shared, load average 14-18): OR-Library pmed1-40 all proven optimal,
224 s in total, the slowest pmed36 in 41 s (549 nodes), peak 412 MB; before, 27 of 40 in
60 s each under the same load (the radius MIP stalled at the root on pmed16-40). Each
subgradient step reads only the links below each outlet's multiplier (a prefix of its
sorted run): pmed35's root bound 7.3 s -> 2.3 s.

Rows of the MIP are *truncated*: outlet ``i`` starts with the levels up to its cost in a heuristic
plan. The objective then undercounts outlets farther away, so the truncated optimum is
a lower bound on the full one; when no outlet of the solution lies beyond its last
level, the solution is optimal for the full problem. Otherwise those outlets get more
levels and the model is solved again (row and column generation over sorted costs).

Scale-out. One instance is not split across a Dask cluster: a Lagrangian iteration is
a few numpy passes over the links, and the reduced-cost step split over 2 local Dask
workers took 4.7 ms against 6.2 ms in one process (400,000 links, 20,000 x 1,000,
k=20, 2 shared cores), while the subgradient step stays central. Splitting by region
gives regional plans but no valid global bound without a master problem over the
regions' shares of ``p``. Dask pays across scenarios (``run_scenarios``), one per worker.
"""

from __future__ import annotations

import logging
import math
import time

import numpy as np

from ..._arrays import ArrayProblem
from ...exceptions import NoSolutionError
from ...plan import Plan
from ...solver import SolveInfo, Solver, _gap
from .. import _heuristics as heur
from .plan import single_source_plan

__all__ = ["radius_eligible", "solve_radius", "Levels", "median_lagrangian", "link_penalty", "branch"]

#: links (after fixing by penalties) up to which the MIP gets every level at once
FULL_LEVELS_LINKS = 200_000
#: seconds of the Lagrangian stage: this share of the time limit, or LAGRANGIAN_SECONDS without one
LAGRANGIAN_SHARE = 0.25
LAGRANGIAN_SECONDS = 30.0
#: links up to which the first plan comes from the ADD greedy + swaps (each greedy step is a pass over
#: the links; 20,000 x 1,000 took 80 s that way; above this, swaps from an even spread give it)
GREEDY_HEURISTIC_LINKS = 4_000_000
#: share of the time limit for each sparse swap search on large instances
LARGE_SWAP_SHARE = 0.1
#: subgradient steps per branch-and-bound node, from the parent's multipliers
NODE_ITERATIONS = 200

log = logging.getLogger("channelopt.models")


def radius_eligible(model, has_min_load: bool = False) -> bool:
    """Whether the radius strategy solves this model exactly (uncapacitated, every outlet served)."""
    return (model.objective in ("p_median", "min_cost") and not model.capacitated and model._serve_all()
            and model.max_per_region is None and not has_min_load)


def _by_outlet_then_cost(oi: np.ndarray, cost: np.ndarray, n: int, block: int = 1 << 20) -> np.ndarray:
    """``np.lexsort((cost, oi))``: positions by outlet, then cost, ties in the given order.

    Links given by outlet (as the models make them) are sorted one outlet's run at a
    time: runs of equal length side by side in blocks of about ``block`` links, each
    row sorted on its own (20,000 x 1,000 links: 4.8 s against lexsort's 21.8 s).
    """
    if len(oi) and bool((oi[1:] < oi[:-1]).any()):
        return np.lexsort((cost, oi))
    counts = np.bincount(oi, minlength=n)
    start = np.zeros(n, dtype=np.int64)
    start[1:] = np.cumsum(counts)[:-1]
    order = np.empty(len(oi), dtype=np.int64)
    by_length = np.argsort(counts, kind="stable")
    sizes = counts[by_length]
    edges = np.flatnonzero(np.r_[True, sizes[1:] != sizes[:-1]])
    for a, b in zip(edges, np.r_[edges[1:], len(sizes)]):
        size = int(sizes[a])
        if size == 0:
            continue
        rows = by_length[a:b]
        step = max(1, block // size)
        for lo in range(0, len(rows), step):
            idx = start[rows[lo:lo + step], None] + np.arange(size)  # (rows, size): each a run of links
            within = np.argsort(cost[idx], axis=1, kind="stable")
            order[idx] = np.take_along_axis(idx, within, axis=1)
    return order


class Levels:
    """Sorted distinct costs per outlet over sparse links (no dense n x m array).

    Positions are kept as int32 when they fit (20 million links: 160 MB less per array).
    """

    def __init__(self, oi: np.ndarray, dj: np.ndarray, cost: np.ndarray, n: int):
        self._sort({"oi": oi, "dj": dj, "cost": cost}, n)

    @classmethod
    def take(cls, state: dict, n: int) -> Levels:
        """The levels of ``state``'s links, which move into them: ``state["oi"]``, ``["dj"]``, ``["cost"]``
        become the sorted arrays, and each given array is let go as soon as its sorted copy exists
        (20 million links: about 300 MB less at the peak than holding both sets)."""
        lv = cls.__new__(cls)
        links = {key: state.pop(key) for key in ("oi", "dj", "cost")}
        lv._sort(links, n)
        state.update(oi=lv.oi, dj=lv.dj, cost=lv.cost)
        return lv

    def _sort(self, links: dict, n: int) -> None:
        # ``links`` is emptied as the sorted arrays are made (the caller's other references, if any, stay)
        order = _by_outlet_then_cost(links["oi"], links["cost"], n)
        small = max(n, int(links["dj"].max(initial=0)) + 1) < 2**31 - 1
        index = np.int32 if small else np.int64
        self.oi = links.pop("oi").astype(index, copy=False)[order]
        self.dj = links.pop("dj").astype(index, copy=False)[order]
        self.cost = links.pop("cost")[order]
        del order
        self.n = n
        new_level = np.r_[True, self.oi[1:] != self.oi[:-1]]  # a run's first link starts a level
        new_level[1:] |= self.cost[1:] != self.cost[:-1]
        counts = np.bincount(self.oi[new_level], minlength=n)
        first_level = np.zeros(n, dtype=np.int64)
        first_level[1:] = np.cumsum(counts)[:-1]
        level_dtype = np.int32 if len(self.cost) < 2**31 - 1 else np.int64
        level = np.cumsum(new_level, dtype=level_dtype)  # global level number of each link, plus one
        level -= 1
        level -= first_level.astype(level_dtype)[self.oi]
        self.level = level  # level of each link within its outlet
        self.n_levels = counts  # K_i
        self.first = first_level
        self.value = self.cost[new_level]  # u_i^k at first[i] + k

    def u(self, i: np.ndarray, k: np.ndarray) -> np.ndarray:
        return self.value[self.first[i] + k]

    def level_of(self, i: np.ndarray, c: np.ndarray) -> np.ndarray:
        """Level index of cost ``c`` for outlets ``i`` (the first level >= c)."""
        out = np.empty(len(i), dtype=np.int64)
        for pos, (ii, cc) in enumerate(zip(i.tolist(), c.tolist())):
            lo, hi = self.first[ii], self.first[ii] + self.n_levels[ii]
            out[pos] = np.searchsorted(self.value[lo:hi], cc - 1e-12 * max(1.0, abs(cc)))
        return np.minimum(out, self.n_levels[i] - 1)


def median_lagrangian(lv: Levels, m: int, *, p: int | None, fixed: np.ndarray, forced: np.ndarray,
                      closed: np.ndarray, upper: float, seconds: float, iterations: int = 3000,
                      evaluate=None, integral: bool = False, v0: np.ndarray | None = None,
                      lam0: float = 2.0, evaluate_every: int = 10) -> dict:
    """Lagrangian bound of the uncapacitated p-median / UFLP over sparse links (assignment rows relaxed).

    ``L(v) = sum_i v_i + min over open sets of sum_{j open} (f_j + rho_j)``, with
    ``rho_j = sum_i min(0, c_ij - v_i)``: with ``p`` the p cheapest (forced ones
    included), otherwise every ``j`` with ``f_j + rho_j < 0``. The subproblem has the
    integrality property, so the best ``L`` is the LP bound. Subgradient steps (Polyak,
    halved when stalled) from ``v0`` (default: each outlet's second-cheapest cost);
    ``evaluate(open_mask) -> cost`` prices the subproblem's open sets as plans. Returns
    the bound, the multipliers and each distributor's ``rho`` at the best multipliers
    (for fixing by penalties).

    Only links with ``c_ij < v_i`` enter ``rho`` and the subgradient, so each step works
    on the links below a cap ``v_i <= cap_i`` (rebuilt, from all links, when some ``v_i``
    passes its cap): the bound is exact at every step, and on pmed35 (640,000 links)
    a step touches a small share of them.
    """
    oi_all, dj_all, c_all = lv.oi, lv.dj, lv.cost
    n = lv.n
    key, lo, span, seg_start = _prefix_key(lv)
    tol = 1e-9 * span
    if v0 is None:
        # start: each outlet's second-cheapest cost (its cheapest when it has one link)
        second = np.minimum(lv.first + 1, lv.first + lv.n_levels - 1)
        v = lv.value[second].astype(float)
    else:
        v = np.asarray(v0, dtype=float).copy()
    free = ~forced & ~closed
    cand = np.flatnonzero(free)
    k = None if p is None else p - int(forced.sum())
    best = {"bound": -np.inf, "v": v.copy(), "rho": None, "upper": upper, "open": None, "chosen": None}
    lam, stall = lam0, 0
    deadline = time.perf_counter() + seconds
    cap = None
    it = 0
    for it in range(1, iterations + 1):
        if cap is None or it % 50 == 0 or (v > cap - tol).any():
            # working set: links below a cap a little above v (the slack saves rebuilds; the
            # periodic rebuild drops links once v has settled lower). Each outlet's links are
            # sorted by cost, so the set is a prefix of each outlet's run: found by one
            # searchsorted per outlet, never a pass over all links
            cap = v + np.maximum(0.1 * np.abs(v), 2 * tol)
            q = np.arange(n) + 0.5 * np.clip((cap - lo) / span, 0.0, 1.5)
            end = np.searchsorted(key, q, side="left")
            lengths = end - seg_start
            w = np.repeat(seg_start - np.r_[0, np.cumsum(lengths)[:-1]], lengths) + np.arange(int(lengths.sum()))
            oi, dj, c = oi_all[w], dj_all[w], c_all[w]
        red = np.minimum(c - v[oi], 0.0)
        rho = np.bincount(dj, weights=red, minlength=m) + fixed
        is_open = forced.copy()
        if k is not None:
            if k > 0:
                pick = cand[np.argpartition(rho[cand], k - 1)[:k]] if k < len(cand) else cand
                is_open[pick] = True
        else:
            is_open |= free & (rho < 0)
        value = float(v.sum() + rho[is_open].sum())
        if value > best["bound"] + 1e-12 * max(1.0, abs(value)):
            best.update(bound=value, v=v.copy(), rho=rho.copy(), chosen=is_open.copy())
            stall = 0
        else:
            stall += 1
            if stall >= 30:
                lam, stall = lam / 2, 0
        if evaluate is not None and it % evaluate_every == 1:
            cost = evaluate(is_open)
            if cost < best["upper"]:
                best.update(upper=cost, open=is_open.copy())
        if best["bound"] >= best["upper"] - 1e-9 * max(1.0, abs(best["upper"])) or (
                integral and math.ceil(best["bound"] - 1e-6) >= best["upper"] - 1e-9):
            break  # the bound proves the plan in hand
        # subgradient: 1 - (number of open links cheaper than v_i) per outlet
        served = np.bincount(oi, weights=((red < 0) & is_open[dj]).astype(float), minlength=n)
        g = 1.0 - served
        norm = float(g @ g)
        if norm == 0:
            break  # v prices a feasible plan: the bound is tight
        if lam < 1e-4 or time.perf_counter() > deadline:
            break
        target = best["upper"] if np.isfinite(best["upper"]) else value + 0.1 * max(1.0, abs(value))
        gap = max(target - value, 1e-9 * max(1.0, abs(value)))
        v = v + lam * gap / norm * g
    best["iterations"] = it
    return best


def _runs(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(start[i], end[i])`` (empty where end <= start)."""
    lengths = np.maximum(end - start, 0)
    return np.repeat(start - np.r_[0, np.cumsum(lengths)[:-1]], lengths) + np.arange(int(lengths.sum()))


def _prefix(lv, cap: np.ndarray) -> np.ndarray:
    """Positions of each outlet's links with cost <= cap_i (a little more at ties; +inf: all of them)."""
    key, lo, span, seg = _prefix_key(lv)
    q = np.arange(lv.n) + 0.5 * np.clip((cap - lo) / span + 1e-9, -1.0, 1.5)
    return _runs(seg, np.searchsorted(key, q, side="right"))


def _first_two(lv, is_open: np.ndarray, cap: np.ndarray):
    """Each outlet's nearest and second-nearest open link: ``(d1, who, d2)`` (inf / -1 where none).

    Looks only at the links up to ``cap_i`` and re-reads the whole run of an outlet
    that has fewer than two open ones there.
    """
    n = lv.n
    d1, d2 = np.full(n, np.inf), np.full(n, np.inf)
    who = np.full(n, -1, dtype=np.int64)
    todo = cap
    for _ in range(2):
        idx = _prefix(lv, todo)
        idx = idx[is_open[lv.dj[idx]]]
        o = lv.oi[idx]
        head = np.r_[True, o[1:] != o[:-1]] if len(o) else np.zeros(0, dtype=bool)
        second = np.r_[False, head[:-1]] & ~head if len(o) else head
        d1[o[head]], who[o[head]] = lv.cost[idx[head]], lv.dj[idx[head]]
        d2[o[second]] = lv.cost[idx[second]]
        missing = np.isinf(d2) & np.isfinite(todo)
        if not missing.any():
            break
        todo = np.where(missing, np.inf, -np.inf)
        d2[missing] = np.inf
    return d1, who, d2


def sparse_interchange(lv, is_open: np.ndarray, *, forced: np.ndarray, closed: np.ndarray,
                       seconds: float) -> np.ndarray:
    """Best-improvement swaps for p-median on sparse sorted links (no dense matrix; large instances).

    The swap ``r`` out, ``j`` in changes the total by ``L_r - A_j - B_rj`` with
    ``A_j = sum_i max(0, d1_i - c_ij)`` (what ``j`` saves everywhere),
    ``L_r = sum_{i of r} (d2_i - d1_i)`` (what losing ``r`` costs) and ``B_rj`` =
    ``sum_{i of r} max(0, d2_i - c_ij) - max(0, d1_i - c_ij)`` (what ``j`` gives back
    to ``r``'s outlets): only links cheaper than ``d2_i`` count, a prefix of each
    outlet's sorted run, so a pass reads a small share of the links.

    A missing link (restricted candidates) costs ``10 max(c) + 1``, as an absent entry
    of a dense cost matrix would: a start that leaves some outlet without an open link
    can still be repaired by swaps.
    """
    is_open = is_open.copy()
    m = len(is_open)
    big = 10.0 * float(lv.cost.max(initial=0.0)) + 1.0  # the cost of a missing link
    deadline = time.perf_counter() + seconds
    cap = np.full(lv.n, np.inf)
    while time.perf_counter() < deadline:
        opened = np.flatnonzero(is_open)
        if len(opened) < 2:
            break
        d1, who, d2 = _first_two(lv, is_open, cap)
        cap = d2
        d1, d2 = np.minimum(d1, big), np.minimum(d2, big)
        slot = np.full(m, -1, dtype=np.int64)
        slot[opened] = np.arange(len(opened))
        idx = _prefix(lv, d2)
        i, j, c = lv.oi[idx], lv.dj[idx], lv.cost[idx]
        gain1 = np.maximum(d1[i] - c, 0.0)
        a = np.bincount(j, weights=gain1, minlength=m)
        # outlets without an open link (who = -1) belong to no open distributor's loss
        own = who[i] >= 0
        back = np.maximum(d2[i[own]] - c[own], 0.0) - gain1[own]
        b = np.bincount(slot[who[i[own]]] * m + j[own], weights=back,
                        minlength=len(opened) * m).reshape(len(opened), m)
        served = who >= 0
        lose = np.bincount(slot[who[served]], weights=(d2 - d1)[served], minlength=len(opened))
        delta = lose[:, None] - a[None, :] - b
        delta[:, is_open | closed] = np.inf
        delta[forced[opened], :] = np.inf
        r, jj = np.unravel_index(int(np.argmin(delta)), delta.shape)
        if not delta[r, jj] < -1e-9 * max(1.0, float(d1.sum())):
            break
        is_open[opened[r]] = False
        is_open[jj] = True
    return is_open


def _assign(lv: Levels, is_open: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cheapest open link of each outlet: (link position in lv, cost); -1 / inf where none."""
    live = np.flatnonzero(is_open[lv.dj])
    # links are sorted by (outlet, cost): the first live link per outlet is its cheapest
    first = np.r_[True, lv.oi[live][1:] != lv.oi[live][:-1]] if len(live) else np.zeros(0, dtype=bool)
    pick = np.full(lv.n, -1, dtype=np.int64)
    pick[lv.oi[live[first]]] = live[first]
    cost = np.where(pick >= 0, lv.cost[np.maximum(pick, 0)], np.inf)
    return pick, cost


def _build(model, lv: Levels, top: np.ndarray, y_lo, y_hi, fixed, net, all_fixed=None) -> tuple[ArrayProblem, dict]:
    """The truncated radius model: outlet i keeps levels 0..top[i].

    ``fixed`` is the objective's fixed cost per distributor; ``all_fixed`` (default
    ``fixed``) the fixed costs that the budget rows count.
    """
    all_fixed = fixed if all_fixed is None else all_fixed
    n = lv.n
    ap = ArrayProblem(model.kind, "min")
    m = len(y_lo)
    y = ap.add_vars("y", m, lower=y_lo, upper=y_hi, integer=True,
                    cost=fixed if model.objective == "min_cost" else 0.0)
    # z_i^k for k = 0..nz_i-1, nz_i = min(top_i + 1, K_i - 1) (the last level's z is 0)
    nz = np.minimum(top + 1, lv.n_levels - 1)
    z_first = np.r_[0, np.cumsum(nz)[:-1]]
    zi = np.repeat(np.arange(n), nz)
    zk = np.arange(int(nz.sum())) - z_first[zi]
    z_cost = lv.u(zi, zk + 1) - lv.u(zi, zk)
    z = ap.add_vars("z", int(nz.sum()), upper=1.0, cost=z_cost)
    ap.offset = float(lv.value[lv.first].sum())
    # rows (i, k) for k = 0..top_i
    nr = top + 1
    r_first = np.r_[0, np.cumsum(nr)[:-1]]
    keep = lv.level <= top[lv.oi]
    y_rows = r_first[lv.oi[keep]] + lv.level[keep]
    y_cols = y[lv.dj[keep]]
    # +z_i^k in row (i, k); -z_i^{k-1} in row (i, k) for k >= 1
    plus_rows = r_first[zi] + zk
    minus = zk + 1 <= top[zi]
    minus_rows = r_first[zi[minus]] + zk[minus] + 1
    rows = np.r_[y_rows, plus_rows, minus_rows]
    cols = np.r_[y_cols, z.index, z.index[minus]]
    coefs = np.r_[np.ones(len(y_rows)), np.ones(len(plus_rows)), -np.ones(int(minus.sum()))]
    ri = np.repeat(np.arange(n), nr)
    rk = np.arange(int(nr.sum())) - r_first[ri]
    ap.add_rows("level", rows=rows, cols=cols, coefs=coefs, sense=">=", rhs=(rk == 0).astype(float),
                n_rows=int(nr.sum()))
    existing = net._column("distributors", "existing", bool)
    if model.p is not None:
        ap.add_row("p", y.index, 1.0, "==", float(model.p))
    if model.budget is not None:
        ap.add_row("budget", y.index, all_fixed, "<=", float(model.budget))
    if model.max_new is not None:
        ap.add_row("max_new", y[~existing], 1.0, "<=", float(model.max_new))
    if model.max_new_cost is not None:
        ap.add_row("max_new_cost", y[~existing], all_fixed[~existing], "<=", float(model.max_new_cost))
    return ap, {"y": y, "z": z, "nz": nz, "z_first": z_first}


def _start(lv: Levels, blocks, is_open, cost_of) -> dict:
    nz, z_first = blocks["nz"], blocks["z_first"]
    zi = np.repeat(np.arange(lv.n), nz)
    zk = np.arange(int(nz.sum())) - z_first[zi]
    zval = (cost_of[zi] > lv.u(zi, zk) + 1e-12 * np.maximum(1.0, np.abs(lv.u(zi, zk)))).astype(float)
    return {blocks["y"]: is_open.astype(float), blocks["z"]: zval}


def _penalty_fixing(lag: dict, p: int | None, forced, closed, upper: float, integral: bool):
    """Distributors whose flip alone lifts the Lagrangian bound to ``upper``: fixed in every better plan."""
    rho, bound = lag["rho"], lag["bound"]
    free = ~forced & ~closed
    m = len(rho)
    shut = np.zeros(m, dtype=bool)
    keep = np.zeros(m, dtype=bool)
    if rho is None:
        return shut, keep
    if p is not None:
        k = p - int(forced.sum())
        cand = np.flatnonzero(free)
        if k <= 0 or k >= len(cand):
            return shut, keep
        order = cand[np.argsort(rho[cand], kind="stable")]
        chosen, rest = order[:k], order[k:]
        r_last, r_next = rho[chosen[-1]], rho[rest[0]]
        lift_open = bound + rho[rest] - r_last  # force one more open: it replaces the dearest chosen
        lift_close = bound - rho[chosen] + r_next  # force a chosen one closed: the next cheapest enters
    else:
        chosen = np.flatnonzero(free & (rho < 0))
        rest = np.flatnonzero(free & (rho >= 0))
        lift_open = bound + rho[rest]
        lift_close = bound - rho[chosen]

    shut[rest[_proves(lift_open, upper, integral)]] = True
    keep[chosen[_proves(lift_close, upper, integral)]] = True
    return shut, keep


def _proves(lift, upper: float, integral: bool):
    """Whether a bound ``lift`` shows that no plan under it beats ``upper``."""
    if integral:
        return np.ceil(lift - 1e-6) >= upper - 1e-9
    return lift >= upper + 1e-9 * max(1.0, abs(upper))


def _relaxed_choice(rho: np.ndarray, p: int | None, forced, closed):
    """The relaxation's open free distributors and the rho of the dearest one (p) / the threshold 0 (UFLP)."""
    free = ~forced & ~closed
    chosen = np.zeros(len(rho), dtype=bool)
    if p is None:
        chosen[free & (rho < 0)] = True
        return chosen, 0.0, None
    k = p - int(forced.sum())
    cand = np.flatnonzero(free)
    if k <= 0 or k >= len(cand):
        chosen[cand[:max(k, 0)]] = True
        return chosen, None, None
    order = cand[np.argsort(rho[cand], kind="stable")]
    chosen[order[:k]] = True
    return chosen, rho[order[k - 1]], rho[order[k]]


def link_penalty(lag: dict, lv: Levels, p: int | None, forced, closed) -> np.ndarray:
    """Per link of ``lv``, how much forcing outlet i onto distributor j lifts the Lagrangian bound.

    In the relaxation with ``x_ij = 1`` forced, ``rho_j`` gains ``max(0, c_ij - v_i)``
    and ``j`` must open; if the relaxation had ``j`` closed it replaces the dearest
    open one (p-median: ``+ rho_j - rho_last``) or adds its own ``rho_j >= 0`` (UFLP).
    A link whose bound plus penalty reaches the best plan's cost carries no better plan.
    """
    v, rho = lag["v"], lag["rho"]
    # in place: one array per link (20 million links: each temporary is 160 MB)
    pen = v[lv.oi]
    np.subtract(lv.cost, pen, out=pen)
    np.maximum(pen, 0.0, out=pen)
    chosen, last, _ = _relaxed_choice(rho, p, forced, closed)
    free = ~forced & ~closed
    if p is None:
        extra = np.where(free & ~chosen, np.maximum(rho, 0.0), 0.0)
    elif last is None:
        extra = np.zeros(len(rho))  # every free distributor opens (or none may): no facility term
    else:
        extra = np.where(free & ~chosen, rho - last, 0.0)
    pen += extra[lv.dj]
    return pen


def _kept_links(bound: float, pen: np.ndarray, upper: float, integral: bool) -> np.ndarray:
    """``~_proves(bound + pen, upper, integral)`` computed in ``pen`` (overwritten): links a better plan may use."""
    pen += bound
    if integral:
        pen -= 1e-6
        np.ceil(pen, out=pen)
        return ~(pen >= upper - 1e-9)
    return ~(pen >= upper + 1e-9 * max(1.0, abs(upper)))


class _Links:
    """A subset of a :class:`Levels`' links, still sorted by (outlet, cost) (what the subgradient reads)."""

    def __init__(self, lv, keep: np.ndarray):
        self.oi, self.dj, self.cost, self.n = lv.oi[keep], lv.dj[keep], lv.cost[keep], lv.n
        parent = getattr(lv, "_key", None)
        if parent is not None:  # the same normalisation: the keys of a subset are a subset
            self._key = (parent[0][keep], *parent[1:3], np.searchsorted(self.oi, np.arange(self.n)))


def _prefix_key(lv):
    """``(key, lo, span, seg_start)``: ``key = outlet + cost scaled into [0, 0.5]``, sorted like the links.

    Cached on ``lv``. Links with ``cost < cap_i`` of outlet ``i`` are the run from
    ``seg_start[i]`` to ``searchsorted(key, i + 0.5 (cap_i - lo) / span)`` (exact up to
    rounding of about 1e-11 span; callers keep a margin of 1e-9 span).
    """
    cached = getattr(lv, "_key", None)
    if cached is None:
        lo = float(lv.cost.min()) if len(lv.cost) else 0.0
        span = max(float(lv.cost.max()) - lo, 1e-12) if len(lv.cost) else 1.0
        key = lv.oi + 0.5 * (lv.cost - lo) / span
        cached = (key, lo, span, np.searchsorted(lv.oi, np.arange(lv.n)))
        lv._key = cached
    return cached


def branch(lv, m: int, *, p: int | None, fixed, forced, closed, v, bound: float, upper: float, integral: bool,
           seconds: float, price, iterations: int | None = None) -> dict:
    """Lagrangian branch and bound over the distributors (depth first, "open" branch first).

    Each node re-optimises the Lagrangian bound from its parent's multipliers, prunes
    when the bound reaches ``upper`` (the best plan's cost), prices the relaxation's
    open set as a plan, fixes distributors by penalties and drops the links no better
    plan uses (:func:`link_penalty`), then branches on the relaxation's most attractive
    open distributor. ``price(open_mask) -> cost`` (``inf`` when not a plan).

    Returns ``upper``, ``open`` (a cheaper plan or ``None``), ``bound`` (the least
    bound over nodes left unexplored, or ``upper`` when the tree is exhausted),
    ``nodes``, ``exhausted`` and ``interrupted`` (Ctrl-C stopped it).
    """
    deadline = time.perf_counter() + seconds
    iterations = NODE_ITERATIONS if iterations is None else iterations
    stack = [(forced.copy(), closed.copy(), v, bound, lv)]
    nodes, best_open = 0, None

    def offer(mask):
        nonlocal upper, best_open
        val = price(mask)
        if val < upper:
            upper, best_open = val, mask.copy()

    def expand(f, c, v0, parent, links) -> list | None:
        """The node's children (``[]`` when pruned or decided, ``None`` when out of time)."""
        res = median_lagrangian(links, m, p=p, fixed=fixed, forced=f, closed=c, upper=upper,
                                seconds=max(0.0, deadline - time.perf_counter()), iterations=iterations,
                                integral=integral, v0=v0)
        node_bound = max(parent, res["bound"])
        if _proves(node_bound, upper, integral):
            return []
        if res["rho"] is None:  # stopped before a single step
            return None
        offer(res["chosen"])
        if _proves(node_bound, upper, integral):
            return []
        shut, keep = _penalty_fixing(res, p, f, c, upper, integral)
        f, c = f | keep, c | shut
        free = ~f & ~c
        if p is not None and (int(f.sum()) >= p or int((f | free).sum()) <= p):
            # the open set is decided: exactly the forced ones, or every one still allowed
            offer(f if int(f.sum()) >= p else f | free)
            return []
        if p is None and not free.any():
            offer(f)
            return []
        # links no plan better than upper uses (below this node)
        pen = link_penalty(res, links, p, f, c)
        alive = _kept_links(res["bound"], pen, upper, integral)
        del pen
        alive &= ~c[links.dj]
        if not (np.bincount(links.oi[alive], minlength=links.n) > 0).all():
            return []  # an outlet has no link left: no better plan below this node
        if not alive.all():
            links = _Links(links, alive)
        chosen, _, _ = _relaxed_choice(res["rho"], p, f, c)
        pick = np.flatnonzero(chosen & free)
        if not len(pick):
            pick = np.flatnonzero(free)
        j = pick[np.argmin(res["rho"][pick])]
        f1, c0 = f.copy(), c.copy()
        f1[j], c0[j] = True, True
        # depth first, the "open j" child first (popped last-in)
        return [(f, c0, res["v"], node_bound, links), (f1, c, res["v"], node_bound, links)]

    interrupted, node = False, None
    try:
        while stack and time.perf_counter() < deadline:
            node = stack.pop()
            if _proves(node[3], upper, integral):
                node = None
                continue
            nodes += 1
            children = expand(*node)
            if children is None:
                break
            stack.extend(children)
            node = None
    except KeyboardInterrupt:
        # Ctrl-C: the node in hand goes back unexplored; the best plan and the open nodes' bound return
        interrupted = True
    if node is not None:
        stack.append(node)
    left = [b for *_, b, _ in stack if not _proves(b, upper, integral)]
    return {"upper": upper, "open": best_open, "bound": min([upper, *left]), "nodes": nodes,
            "exhausted": not left, "interrupted": interrupted}


def solve_radius(built, solver: Solver, t_start: float | None = None) -> Plan:
    """Solve an uncapacitated p-median / UFLP: heuristic, Lagrangian bound and fixing, then the radius MIP."""
    t_start = time.perf_counter() if t_start is None else t_start  # the solve's clock (building included)
    solver = solver.start_clock()  # a no-op when the built model's solve started it
    model, net, state = built.model, built.network, built.state
    n, m = state["n"], state["m"]
    forced, excluded = state["forced"], state["excluded"]
    fixed = state["fixed"] if model.objective == "min_cost" else np.zeros(m)
    # the same links, sorted, replace the build's in the state: one copy of every link is held, not two
    lv = Levels.take(state, n)
    oi, dj, cost = lv.oi, lv.dj, lv.cost
    limit = solver.time_limit
    # every phase and sub-solve draws on the caller's clock (building charged), and Ctrl-C reaches them
    budget = solver.remaining()
    integral = bool(np.all(cost == np.round(cost)) and np.all(fixed == np.round(fixed)))
    steps: dict[str, dict] = {}

    all_fixed = state["fixed"]  # the budget rows count fixed costs even when the objective does not
    existing = net._column("distributors", "existing", bool)

    def price(mask):
        """The plan's cost, or inf when ``mask`` breaks a rule of the model."""
        if model.p is not None and mask.sum() != model.p:
            return math.inf
        tol = 1e-9
        if model.budget is not None and all_fixed[mask].sum() > model.budget * (1 + tol) + tol:
            return math.inf
        if model.max_new is not None and int((mask & ~existing).sum()) > model.max_new:
            return math.inf
        if model.max_new_cost is not None and all_fixed[mask & ~existing].sum() > model.max_new_cost * (1 + tol) + tol:
            return math.inf
        _, c = _assign(lv, mask)
        return float(c.sum() + fixed[mask].sum()) if np.isfinite(c).all() else math.inf

    # 1. first plan: greedy + swap (within a small share of the limit) on the links when they are few
    # enough for the greedy's p passes; larger instances start from an even spread (below)
    t0 = time.perf_counter()
    secs = float(model.heuristic_seconds) if budget is None else min(float(model.heuristic_seconds), 0.1 * budget)
    best_open, best_obj = None, math.inf
    small = len(oi) <= GREEDY_HEURISTIC_LINKS
    if small:
        is_open = heur.greedy_median_links(oi, dj, cost, n, m, p=model.p,
                                           fixed=fixed if model.objective == "min_cost" else None,
                                           forced=forced, closed=excluded, seconds=secs)
        if model.p is not None and is_open.sum() == model.p:
            is_open = sparse_interchange(lv, is_open, forced=forced, closed=excluded, seconds=secs)
        best_open, best_obj = is_open, price(is_open)
        if not math.isfinite(best_obj):
            best_open = None
    elif model.p is not None:
        # large: swaps on the sparse links from an even spread of distributors (a fixed,
        # reproducible start), within a share of the limit
        k = model.p - int(forced.sum())
        cand = np.flatnonzero(~forced & ~excluded)
        if 0 < k <= len(cand):
            is_open = forced.copy()
            is_open[cand[np.linspace(0, len(cand) - 1, k).round().astype(int)]] = True
            _prefix_key(lv)
            is_open = sparse_interchange(lv, is_open, forced=forced, closed=excluded,
                                         seconds=LARGE_SWAP_SHARE * (budget or LAGRANGIAN_SECONDS))
            best_open, best_obj = is_open, price(is_open)
            if not math.isfinite(best_obj):
                best_open = None
    steps["heuristic"] = {"objective": best_obj, "seconds": time.perf_counter() - t0}

    # 2. Lagrangian bound (the LP bound, in seconds) and fixing by penalties
    t0 = time.perf_counter()
    lag_secs = LAGRANGIAN_SECONDS if budget is None else LAGRANGIAN_SHARE * budget
    try:
        lag = median_lagrangian(lv, m, p=model.p, fixed=fixed, forced=forced, closed=excluded,
                                upper=best_obj if math.isfinite(best_obj) else np.inf, seconds=lag_secs,
                                evaluate=price, integral=integral,
                                # pricing a plan is a pass over all links: rarer on large instances
                                evaluate_every=max(10, len(lv.oi) // 200_000))
    except KeyboardInterrupt:
        if best_open is None:
            raise
        # Ctrl-C: the heuristic's plan comes back, marked interrupted, without a bound
        solver.deadline.interrupt()
        lag = {"open": None, "upper": math.inf, "rho": None, "bound": -math.inf, "iterations": 0}
    if lag["open"] is not None and lag["upper"] < best_obj:
        best_open, best_obj = lag["open"], lag["upper"]
    if (model.p is not None and best_open is not None and not solver.interrupted
            and lag["bound"] < best_obj - 1e-9 * max(1.0, abs(best_obj))):
        # the bound does not prove the plan yet: improve the plan from the relaxation's own open set
        rho = lag["rho"]
        if rho is not None:
            k = model.p - int(forced.sum())
            cand = np.flatnonzero(~forced & ~excluded)
            seed_open = forced.copy()
            if 0 < k <= len(cand):
                seed_open[cand[np.argsort(rho[cand], kind="stable")[:k]]] = True
                for start_open in (seed_open, best_open):
                    better = sparse_interchange(lv, start_open, forced=forced, closed=excluded,
                                                seconds=secs if small else
                                                LARGE_SWAP_SHARE * (budget or LAGRANGIAN_SECONDS))
                    val = price(better)
                    if val < best_obj:
                        best_open, best_obj = better, val
    bound = lag["bound"]
    if integral and math.isfinite(bound):
        bound = math.ceil(bound - 1e-6)
    steps["lagrangian"] = {"bound": bound, "objective": best_obj, "iterations": lag["iterations"],
                           "seconds": time.perf_counter() - t0}
    info = None
    rounds = 0
    top_total = 0
    proven = math.isfinite(best_obj) and bound >= best_obj - max(solver.mip_gap * abs(best_obj), 1e-9)
    side_rows = model.budget is not None or model.max_new is not None or model.max_new_cost is not None
    if not proven and math.isfinite(best_obj) and not solver.interrupted:
        # 3. fixing by penalties: distributors, then links no plan better than best_obj uses
        t0 = time.perf_counter()
        shut, keep = _penalty_fixing(lag, model.p, forced, excluded, best_obj, integral)
        pen = link_penalty(lag, lv, model.p, forced | keep, excluded | shut)
        live = _kept_links(lag["bound"], pen, best_obj, integral)
        del pen
        live &= ~(shut | excluded)[lv.dj]
        steps["fixing"] = {"closed": int(shut.sum()), "opened": int(keep.sum()), "links": int(live.sum()),
                           "seconds": time.perf_counter() - t0}
        if not side_rows:
            # 4. Lagrangian branch and bound on what is left (the budget and max_new rows are
            # not in the relaxation: those models go to the radius MIP)
            t0 = time.perf_counter()
            left = solver.remaining()
            # a margin for plan assembly after the tree (as for the MIP below)
            room = math.inf if left is None or budget is None else max(0.0, left - 0.1 * budget)
            links = lv if live.all() else _Links(lv, live)  # a copy only of what the fixing left
            res = branch(links, m, p=model.p, fixed=fixed, forced=forced | keep, closed=excluded | shut,
                         v=lag["v"], bound=lag["bound"], upper=best_obj, integral=integral, seconds=room,
                         price=price)
            del links
            if res["interrupted"]:
                solver.deadline.interrupt()
            if res["open"] is not None and res["upper"] < best_obj:
                best_open, best_obj = res["open"], res["upper"]
            bb_bound = math.ceil(res["bound"] - 1e-6) if integral else res["bound"]
            bound = max(bound, min(best_obj, bb_bound))
            proven = True  # no MIP after it: the tree's bound is the bound
            steps["branch"] = {"bound": bb_bound, "objective": best_obj, "nodes": res["nodes"],
                               "exhausted": res["exhausted"], "seconds": time.perf_counter() - t0}
    if not proven and not solver.interrupted:
        if "fixing" not in steps:
            shut, keep = np.zeros(m, dtype=bool), np.zeros(m, dtype=bool)
            live = np.ones(len(lv.oi), dtype=bool)
        # 4. the radius MIP on what is left: every plan better than best_obj lives there
        rl = Levels(lv.oi[live], lv.dj[live], lv.cost[live], n)
        y_lo = (forced | keep).astype(float)
        y_hi = (~excluded & ~shut).astype(float)
        # all levels when what is left is small (measured on pmed16: truncated rounds each re-solved a
        # weakened MIP, 4 rounds in 60 s; all 11,365 levels at once reached a better bound); truncated
        # levels grown on demand when it is large
        if best_open is not None and len(rl.oi) > FULL_LEVELS_LINKS:
            _, c = _assign(lv, best_open)
            top = rl.level_of(np.arange(n), c)
        else:
            top = rl.n_levels - 1
        inside = (best_open is not None and not (best_open & shut).any() and not (keep & ~best_open).any()
                  and bool(live[_assign(lv, best_open)[0]].all()))
        mip_bound = -math.inf
        try:
            while True:
                rounds += 1
                # a margin for plan assembly after the MIP (measured: HiGHS under load overran by ~10%)
                if solver.interrupted:
                    break
                left = solver.remaining()
                room = None if left is None or budget is None else left - 0.1 * budget
                if room is not None and room <= 0.02 * budget:
                    break
                ap, blocks = _build(model, rl, top, y_lo, y_hi, fixed, net, all_fixed)
                start = None
                if inside:
                    _, c = _assign(rl, best_open)
                    start = _start(rl, blocks, best_open, c)
                # on the caller's clock (a share ending `room` from now), so Ctrl-C and the limit reach it
                mip_solver = solver if room is None else solver.share(room / left)
                info = mip_solver.solve(ap, warm_start=start)
                top_total = int((top + 1).sum())
                if info.status == "infeasible":
                    # no plan better than best_obj exists (or none at all)
                    mip_bound = math.inf
                    break
                if math.isfinite(info.bound):
                    mip_bound = info.bound
                if not info.has_solution:
                    break
                y_sol = np.round(blocks["y"].value) > 0.5
                true_obj = price(y_sol)
                if true_obj < best_obj - 1e-9 * max(1.0, abs(best_obj)):
                    best_open, best_obj, inside = y_sol, true_obj, True
                _, c = _assign(rl, y_sol)
                # (the truncated objective counts min(c_i, u_i^{top_i + 1}): exact up to the next level)
                edge = rl.u(np.arange(n), np.minimum(top + 1, rl.n_levels - 1))
                beyond = (c > edge + 1e-12 * np.maximum(1.0, np.abs(edge))) & (top < rl.n_levels - 1)
                if info.status == "optimal" and not beyond.any():
                    break
                if not beyond.any():
                    break  # time ran out inside this round
                grow = np.flatnonzero(beyond)
                need = rl.level_of(grow, c[grow])
                top[grow] = np.minimum(rl.n_levels[grow] - 1, np.maximum(need, 2 * top[grow] + 1))
                mip_bound = -math.inf  # the next round's bound supersedes this one
                log.info("radius round %d: %d outlets beyond their levels", rounds, len(grow))
        except KeyboardInterrupt:
            # Ctrl-C in the loop's own Python steps (building a round, reading its plan): the plan in hand
            # comes back, marked interrupted; the unfinished round's bound is not claimed
            solver.deadline.interrupt()
            mip_bound = -math.inf
        if math.isfinite(best_obj):
            bound = max(bound, min(best_obj, mip_bound))
        steps["mip"] = {"bound": mip_bound, "objective": best_obj, "rounds": rounds, "level_rows": top_total,
                        "links": int(live.sum()), "seconds": None if info is None else info.seconds}

    if best_open is None:
        if info is not None and info.status == "infeasible":
            from ...exceptions import InfeasibleError

            reasons = model._diagnose(net, state)
            raise InfeasibleError("DistributorSelection is infeasible" + (": " + "; ".join(reasons) if reasons
                                                                         else "") + ".", reasons=reasons)
        raise NoSolutionError(f"{solver.name} stopped without a feasible plan (radius strategy); raise "
                              f"time_limit (now {limit}).")
    gap = _gap(best_obj, bound) if math.isfinite(bound) else math.nan
    status = "optimal" if math.isfinite(gap) and gap <= max(solver.mip_gap, 1e-9) + 1e-12 else "feasible"
    pick, _ = _assign(lv, best_open)
    termination = "optimal" if status == "optimal" else (
        "interrupted" if solver.interrupted else info.termination if info is not None else "time_limit")
    out = SolveInfo(solver.name, status, termination, objective=best_obj,
                    bound=bound if math.isfinite(bound) else math.nan, gap=gap,
                    seconds=time.perf_counter() - t_start, build_seconds=built.build_seconds,
                    n_variables=0 if info is None else info.n_variables, n_integer=m,
                    n_constraints=0 if info is None else info.n_constraints, time_limit=limit,
                    mip_gap=solver.mip_gap,
                    message=(f"strategy='radius': Lagrangian bound {steps['lagrangian']['bound']:,.6g}"
                             + (f", {steps['fixing']['closed']} distributors closed and {steps['fixing']['opened']} "
                                f"opened by penalties" if "fixing" in steps else "")
                             + (f", branch and bound in {steps['branch']['nodes']} node(s)"
                                if "branch" in steps else "")
                             + (f", radius MIP in {rounds} round(s)" if "mip" in steps else "")))
    return single_source_plan(model, net, solver, lv.oi[pick], lv.dj[pick], best_open, out, steps)
