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

Rows are *truncated*: outlet ``i`` starts with the levels up to its cost in a heuristic
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
import warnings

import numpy as np

from ..._arrays import ArrayProblem
from ...exceptions import NoSolutionError, NotOptimalWarning
from ...plan import Plan
from ...solver import SolveInfo, Solver, _gap
from .. import _heuristics as heur
from .plan import selection_plan

__all__ = ["radius_eligible", "solve_radius", "Levels", "median_lagrangian"]

#: links (after fixing by penalties) up to which the MIP gets every level at once
FULL_LEVELS_LINKS = 200_000
#: seconds of the Lagrangian stage: this share of the time limit, or LAGRANGIAN_SECONDS without one
LAGRANGIAN_SHARE = 0.25
LAGRANGIAN_SECONDS = 30.0

log = logging.getLogger("channelopt.models")


def radius_eligible(model, has_min_load: bool = False) -> bool:
    """Whether the radius strategy solves this model exactly (uncapacitated, every outlet served)."""
    return (model.objective in ("p_median", "min_cost") and not model.capacitated and model._serve_all()
            and model.max_per_region is None and not has_min_load)


class Levels:
    """Sorted distinct costs per outlet over sparse links (no dense n x m array)."""

    def __init__(self, oi: np.ndarray, dj: np.ndarray, cost: np.ndarray, n: int):
        order = np.lexsort((cost, oi))
        self.oi, self.dj, self.cost = oi[order], dj[order], cost[order]
        self.n = n
        row_start = np.r_[True, self.oi[1:] != self.oi[:-1]]
        new_level = row_start | np.r_[True, self.cost[1:] != self.cost[:-1]]
        level_id = np.cumsum(new_level) - 1  # global level number of each link
        first_level = np.zeros(n, dtype=np.int64)
        counts = np.bincount(self.oi[new_level], minlength=n)
        first_level[1:] = np.cumsum(counts)[:-1]
        self.level = level_id - first_level[self.oi]  # level of each link within its outlet
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
                      evaluate=None, integral: bool = False) -> dict:
    """Lagrangian bound of the uncapacitated p-median / UFLP over sparse links (assignment rows relaxed).

    ``L(v) = sum_i v_i + min over open sets of sum_{j open} (f_j + rho_j)``, with
    ``rho_j = sum_i min(0, c_ij - v_i)``: with ``p`` the p cheapest (forced ones
    included), otherwise every ``j`` with ``f_j + rho_j < 0``. The subproblem has the
    integrality property, so the best ``L`` is the LP bound. Subgradient steps (Polyak,
    halved when stalled); ``evaluate(open_mask) -> cost`` prices the subproblem's open
    sets as plans. Returns the bound, the multipliers and each distributor's ``rho``
    at the best multipliers (for fixing by penalties).
    """
    oi, dj, c = lv.oi, lv.dj, lv.cost
    n = lv.n
    # start: each outlet's second-cheapest cost (its cheapest when it has one link)
    second = np.minimum(lv.first + 1, lv.first + lv.n_levels - 1)
    v = lv.value[second].astype(float)
    free = ~forced & ~closed
    best = {"bound": -np.inf, "v": v.copy(), "rho": None, "upper": upper, "open": None}
    lam, stall = 2.0, 0
    deadline = time.perf_counter() + seconds
    it = 0
    for it in range(1, iterations + 1):
        red = np.minimum(c - v[oi], 0.0)
        rho = np.bincount(dj, weights=red, minlength=m) + fixed
        is_open = forced.copy()
        if p is not None:
            k = p - int(forced.sum())
            cand = np.flatnonzero(free)
            if k > 0:
                pick = cand[np.argpartition(rho[cand], k - 1)[:k]] if k < len(cand) else cand
                is_open[pick] = True
        else:
            is_open |= free & (rho < 0)
        value = float(v.sum() + rho[is_open].sum())
        if value > best["bound"] + 1e-12 * max(1.0, abs(value)):
            best.update(bound=value, v=v.copy(), rho=rho.copy())
            stall = 0
        else:
            stall += 1
            if stall >= 30:
                lam, stall = lam / 2, 0
        if evaluate is not None and it % 10 == 1:
            cost = evaluate(is_open)
            if cost < best["upper"]:
                best.update(upper=cost, open=is_open.copy())
        if best["bound"] >= best["upper"] - 1e-9 * max(1.0, abs(best["upper"])) or (
                integral and math.ceil(best["bound"] - 1e-6) >= best["upper"] - 1e-9):
            break  # the bound proves the plan in hand
        # subgradient: 1 - (number of open links cheaper than v_i) per outlet
        served = np.bincount(oi, weights=((c < v[oi]) & is_open[dj]).astype(float), minlength=n)
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


def interchange(cost: np.ndarray, is_open: np.ndarray, *, forced: np.ndarray, closed: np.ndarray,
                seconds: float) -> np.ndarray:
    """Best-improvement swaps (one open out, one closed in) for p-median, all pairs priced at once.

    With each outlet's nearest and second-nearest open cost ``d1``, ``d2`` and nearest
    ``who``, swapping ``r`` out and ``j`` in changes the total by
    ``sum_i min(c_ij, d1_i) - d1_i`` plus, over the outlets of ``r``,
    ``min(c_ij, d2_i) - min(c_ij, d1_i)``: one (p x m) product per pass.
    ``cost`` is dense (``inf`` where a link is not allowed); used on instances whose
    dense matrix the network already holds.
    """
    import scipy.sparse as sp

    c = np.where(np.isfinite(cost), cost, np.nanmax(np.where(np.isfinite(cost), cost, 0.0)) * 10 + 1)
    n, m = c.shape
    is_open = is_open.copy()
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        opened = np.flatnonzero(is_open)
        if len(opened) < 2:
            break
        sub = c[:, opened]
        two = np.argpartition(sub, 1, axis=1)[:, :2]
        a, b = sub[np.arange(n), two[:, 0]], sub[np.arange(n), two[:, 1]]
        swap = a > b
        who = np.where(swap, two[:, 1], two[:, 0])
        d1, d2 = np.minimum(a, b), np.maximum(a, b)
        low = np.minimum(c, d1[:, None])
        add_gain = (low - d1[:, None]).sum(axis=0)  # (m,)
        extra = np.minimum(c, d2[:, None]) - low  # (n, m)
        onehot = sp.csr_matrix((np.ones(n), (who, np.arange(n))), shape=(len(opened), n))
        delta = add_gain[None, :] + np.asarray(onehot @ extra)  # (p, m): r out, j in
        delta[:, is_open | closed] = np.inf
        delta[forced[opened], :] = np.inf
        r, j = np.unravel_index(int(np.argmin(delta)), delta.shape)
        if not delta[r, j] < -1e-9 * max(1.0, float(d1.sum())):
            break
        is_open[opened[r]] = False
        is_open[j] = True
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


def _build(model, lv: Levels, top: np.ndarray, y_lo, y_hi, fixed, net) -> tuple[ArrayProblem, dict]:
    """The truncated radius model: outlet i keeps levels 0..top[i]."""
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
    existing = net.distributors["existing"].to_numpy(dtype=bool)
    if model.p is not None:
        ap.add_row("p", y.index, 1.0, "==", float(model.p))
    if model.budget is not None:
        ap.add_row("budget", y.index, fixed, "<=", float(model.budget))
    if model.max_new is not None:
        ap.add_row("max_new", y[~existing], 1.0, "<=", float(model.max_new))
    if model.max_new_cost is not None:
        ap.add_row("max_new_cost", y[~existing], fixed[~existing], "<=", float(model.max_new_cost))
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

    def proves(lift):
        if integral:
            return np.ceil(lift - 1e-6) >= upper - 1e-9
        return lift >= upper + 1e-9 * max(1.0, abs(upper))

    shut[rest[proves(lift_open)]] = True
    keep[chosen[proves(lift_close)]] = True
    return shut, keep


def solve_radius(built, solver: Solver, t_start: float | None = None) -> Plan:
    """Solve an uncapacitated p-median / UFLP: heuristic, Lagrangian bound and fixing, then the radius MIP."""
    t_start = time.perf_counter() if t_start is None else t_start  # the solve's clock (building included)
    solver = solver.start_clock()  # a no-op when the built model's solve started it
    model, net, state = built.model, built.network, built.state
    oi, dj, cost = state["oi"], state["dj"], state["cost"]
    n, m = state["n"], state["m"]
    forced, excluded = state["forced"], state["excluded"]
    fixed = state["fixed"] if model.objective == "min_cost" else np.zeros(m)
    lv = Levels(oi, dj, cost, n)
    limit = solver.time_limit
    # every phase and sub-solve draws on the caller's clock (building charged), and Ctrl-C reaches them
    budget = solver.remaining()
    integral = bool(np.all(cost == np.round(cost)) and np.all(fixed == np.round(fixed)))
    steps: dict[str, dict] = {}

    def price(mask):
        if model.p is not None and mask.sum() != model.p:
            return math.inf
        _, c = _assign(lv, mask)
        return float(c.sum() + fixed[mask].sum()) if np.isfinite(c).all() else math.inf

    # 1. first plan: greedy + swap (within a small share of the limit)
    t0 = time.perf_counter()
    dense = np.full((n, m), np.inf)
    dense[oi, dj] = cost
    secs = float(model.heuristic_seconds) if budget is None else min(float(model.heuristic_seconds), 0.1 * budget)
    is_open = heur.greedy_median(dense, p=model.p, fixed=fixed if model.objective == "min_cost" else None,
                                 forced=forced, closed=excluded, seconds=secs)
    if model.p is not None and is_open.sum() == model.p:
        is_open = interchange(dense, is_open, forced=forced, closed=excluded, seconds=secs)
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
                                evaluate=price, integral=integral)
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
                    better = interchange(dense, start_open, forced=forced, closed=excluded, seconds=secs)
                    val = price(better)
                    if val < best_obj:
                        best_open, best_obj = better, val
    del dense
    bound = lag["bound"]
    if integral and math.isfinite(bound):
        bound = math.ceil(bound - 1e-6)
    steps["lagrangian"] = {"bound": bound, "objective": best_obj, "iterations": lag["iterations"],
                           "seconds": time.perf_counter() - t0}
    info = None
    rounds = 0
    top_total = 0
    proven = math.isfinite(best_obj) and bound >= best_obj - max(solver.mip_gap * abs(best_obj), 1e-9)
    if not proven and not solver.interrupted:
        shut, keep = (_penalty_fixing(lag, model.p, forced, excluded, best_obj, integral) if math.isfinite(best_obj)
                      else (np.zeros(m, dtype=bool), np.zeros(m, dtype=bool)))
        steps["fixing"] = {"closed": int(shut.sum()), "opened": int(keep.sum())}
        # 3. the radius MIP on what is left: every plan better than best_obj lives there
        live = ~shut[lv.dj]
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
        inside = best_open is not None and not (best_open & shut).any() and not (keep & ~best_open).any()
        mip_bound = -math.inf
        while True:
            rounds += 1
            # a margin for plan assembly after the MIP (measured: HiGHS under load overran by ~10%)
            if solver.interrupted:
                break
            left = solver.remaining()
            room = None if left is None or budget is None else left - 0.1 * budget
            if room is not None and room <= 0.02 * budget:
                break
            ap, blocks = _build(model, rl, top, y_lo, y_hi, fixed, net)
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
                             + (f", {steps['fixing']['closed']} distributors closed by it, radius MIP in "
                                f"{rounds} round(s)" if "fixing" in steps else "")))
    plan = selection_plan(net, lv.oi[pick], lv.dj[pick], np.ones(n), best_open.astype(float), out, model.kind,
                          max_distance=model.max_distance)
    plan.metrics.overall["selection_objective"] = model.objective
    import pandas as pd

    plan.tables["solve_steps"] = pd.DataFrame([{"step": k, **v} for k, v in steps.items()])
    plan.settings = {"model": type(model).__name__, **model.get_params(), "solver": solver.to_dict()}
    if status != "optimal":
        warnings.warn(f"{type(model).__name__} plan is {status}, not proven optimal: gap {gap:.2%}.",
                      NotOptimalWarning, stacklevel=4)
    return plan
