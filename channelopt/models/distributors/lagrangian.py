"""The Lagrangian strategy of DistributorSelection: a bound in seconds, a rounded plan, a narrowed MIP.

For large ``min_cost`` models with split demand. It runs at solve time of the one
contract (``build(net) -> BuiltModel -> solve(solver) -> Plan``): ``build`` checks and
chooses the strategy, and the built model's ``solve`` calls :func:`solve_lagrangian`.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
import warnings

import numpy as np
import pandas as pd

from ..._arrays import ArrayProblem
from ...exceptions import NoSolutionError, NotOptimalWarning
from ...plan import Plan
from ...solver import SolveInfo, Solver, _gap
from .. import _heuristics as heur
from .._base import BuiltModel, _build_path
from .formulation import build_formulation
from .plan import selection_plan

__all__ = ["solve_lagrangian", "lagrangian_blockers", "greedy_plan"]

log = logging.getLogger("channelopt.models")

#: share of what is left at the start that the two Lagrangian bound passes take (half each);
#: the local search on the rounded plan takes at most another half of it
LAG_SHARE = 0.25
#: the narrowed MIP stage starts only with this many slowest-transportation-LP times left
MIP_LP_FACTOR = 10.0
#: ... and never with less than this many seconds
MIP_MIN_SECONDS = 2.0


def lagrangian_blockers(model) -> list[str]:
    """Settings the Lagrangian strategy cannot honour (empty when it applies)."""
    return [name for name, on in [
        ("objective", model.objective != "min_cost"), ("single_source", model.single_source),
        ("p", model.p is not None), ("min_coverage", model.min_coverage is not None),
        ("budget", model.budget is not None), ("max_new", model.max_new is not None),
        ("max_new_cost", model.max_new_cost is not None), ("max_per_region", model.max_per_region is not None),
        ("min_load", getattr(model, "min_load", False)),
    ] if on]


def solve_lagrangian(model, net, solver: Solver, t_start: float | None = None) -> Plan:
    """Bound by Lagrangian relaxation, plan by rounding, then the MIP on the distributors left.

    ``model`` is a checked :class:`DistributorSelection` (its ``build`` ran ``_check``).
    """
    t_start = time.perf_counter() if t_start is None else t_start
    oi, dj = model._allowed(net)
    n, m = len(net.outlets), len(net.distributors)
    cost = net.link_costs(oi, dj)
    demand = net.outlets["demand"].to_numpy(dtype=float)
    capacity = net.distributors["capacity"].to_numpy(dtype=float)
    if not model.capacitated:
        capacity = np.full(m, np.inf)
    fixed = net.distributors["fixed_cost"].to_numpy(dtype=float)
    forced, closed = model._forced_open(net), model._excluded(net)
    # The split of what is left of the one clock (building already charged): each Lagrangian
    # bound pass LAG_SHARE / 2 of it, the local search LAG_SHARE / 2, the MIP the rest (a
    # minute for the bound passes without a limit). Every transportation LP runs on the clock.
    left = solver.remaining()
    lag_seconds = 60.0 if left is None else LAG_SHARE * left
    arrays = (oi, dj, cost, demand, capacity, fixed)
    lp_seconds: list[float] = []  # each transportation LP's solve time: what the MIP stage must beat

    # The first plan from a greedy (no LP, a fraction of a second), before the bound: a time-limited
    # or interrupted solve never ends with less.
    t0 = time.perf_counter()
    first = greedy_plan(arrays, forced, closed, np.zeros(m))
    round_time = time.perf_counter() - t0
    t0 = time.perf_counter()
    try:
        lag = heur.lagrangian_bound(*arrays, forced=forced, closed=closed, iterations=150,
                                    seconds=_seconds(solver, lag_seconds / 2))
    except KeyboardInterrupt:
        if first is None:
            raise
        return _interrupted(model, net, first, math.nan, solver, t_start, (n, m, len(oi)))
    lag_time = time.perf_counter() - t0
    best, bound = first, lag.bound  # for Ctrl-C below: the best plan so far, and a valid bound
    try:
        t0 = time.perf_counter()
        led = greedy_plan(arrays, forced, closed, lag.y_mean)  # the greedy again, led by the bound
        if first is None or (led is not None and led["objective"] < first["objective"]):
            first = led
        best = round_plan(arrays, forced, closed, lag.y_mean, solver, lp_seconds)
        if best is None or (first is not None and first["objective"] < best["objective"]):
            best = first
        round_time += time.perf_counter() - t0
        if best is None:
            if solver.deadline.expired:
                raise NoSolutionError(f"strategy='lagrangian': the time limit ({solver.time_limit} s) ran out before "
                                      "rounding its bound gave a plan (the transportation LP did not finish); "
                                      "raise time_limit.")
            raise NoSolutionError("strategy='lagrangian' found no plan by rounding its bound (the transportation LP "
                                  "stayed infeasible with every distributor open); check capacities against "
                                  "demand near each outlet, widen candidates, or use strategy='mip'.")
        t0 = time.perf_counter()
        lag = heur.lagrangian_bound(*arrays, upper=best["objective"], forced=forced, closed=closed,
                                    start=lag.multipliers, iterations=400, seconds=_seconds(solver, lag_seconds / 2))
        lag_time += time.perf_counter() - t0
        t0 = time.perf_counter()
        second = round_plan(arrays, forced, closed, lag.y_mean, solver, lp_seconds) if not solver.deadline.expired \
            else None
        if second is not None and second["objective"] < best["objective"]:
            best = second
        if _gap(best["objective"], lag.bound) > solver.mip_gap and not solver.deadline.expired:
            best = improve_open_set(arrays, best, forced, closed, lag.y_mean, _within(solver, lag_seconds / 2),
                                    seconds=lag_seconds / 2, lp_seconds=lp_seconds,
                                    good_enough=lag.bound / (1 - solver.mip_gap) if solver.mip_gap else -np.inf)
        round_time += time.perf_counter() - t0
    except KeyboardInterrupt:  # in the bound pass or the local search: the best plan so far
        if best is None:
            raise
        return _interrupted(model, net, best, bound, solver, t_start, (n, m, len(oi)))
    upper, lower = best["objective"], lag.bound
    stages = {"lagrangian": {"bound": lower, "iterations": lag.iterations, "seconds": lag_time},
              "rounding": {"objective": upper, "open": int(best["open"].sum()),
                           "gap": _gap(upper, lower), "seconds": round_time}}
    log.info("lagrangian: bound %.6g, rounded plan %.6g (gap %.3g%%)", lower, upper,
             100 * _gap(upper, lower))

    if _gap(upper, lower) <= solver.mip_gap + 1e-12:
        info = SolveInfo(solver.name, "optimal", "optimal", objective=upper, bound=lower,
                         gap=_gap(upper, lower), n_variables=len(oi) + m, n_constraints=n + m)
        return _finish(model, net, best, None, None, info, stages, t_start, solver)

    left = solver.remaining()
    need = mip_seconds_needed(lp_seconds)
    if left is not None and left < need:
        # The narrowed MIP's root LP alone is at least as hard as a transportation LP on the same links:
        # with less than MIP_LP_FACTOR of them left, HiGHS stops (late, china 410k links: 11.8 s at a 7.1 s
        # limit) inside presolve or the root
        # and prove nothing. The local search gets the rest of the clock; its plan and the Lagrangian
        # bound are the answer, said so.
        t0 = time.perf_counter()
        if _gap(upper, lower) > solver.mip_gap and not solver.deadline.expired:
            best = improve_open_set(arrays, best, forced, closed, lag.y_mean, solver, seconds=left,
                                    lp_seconds=lp_seconds,
                                    good_enough=lower / (1 - solver.mip_gap) if solver.mip_gap else -np.inf)
            upper = best["objective"]
            stages["rounding"].update(objective=upper, open=int(best["open"].sum()), gap=_gap(upper, lower),
                                      seconds=stages["rounding"]["seconds"] + time.perf_counter() - t0)
        stages["mip"] = {"status": "skipped", "seconds": 0.0}
        info = SolveInfo(solver.name, "feasible", "interrupted" if solver.interrupted else "time_limit",
                         objective=upper, bound=lower,
                         gap=_gap(upper, lower), n_variables=len(oi) + m, n_constraints=n + m,
                         time_limit=solver.time_limit, mip_gap=solver.mip_gap)
        skipped = (f"MIP stage skipped: {left:.1f} s left of the time limit, less than the {need:.1f} s it needs "
                   f"({MIP_LP_FACTOR:g} x the slowest transportation LP, at least {MIP_MIN_SECONDS:g} s)")
        return _finish(model, net, best, None, None, info, stages, t_start, solver, note=skipped)

    # A distributor whose opening alone lifts the bound above the plan in hand is closed in
    # every plan at least as good, so the MIP without it has the same optimum and its bound
    # holds for the full model.
    slack = upper - lower
    shut = (lag.open_penalty > slack + 1e-9 * max(1.0, abs(upper))) & ~best["open"]
    live = ~shut[dj]
    narrowed = (oi[live], dj[live])
    t0 = time.perf_counter()
    prob = ArrayProblem(model.kind, model.sense)
    state = build_formulation(model, net, prob, allowed=narrowed)
    build_seconds = time.perf_counter() - t0
    # the rounded plan's shares on the narrowed links, by link key (no dense n x m array)
    key = pd.Series(best["share"], index=best["oi"].astype(np.int64) * m + best["dj"])
    xs = key.reindex(state["oi"].astype(np.int64) * m + state["dj"]).fillna(0.0).to_numpy()
    start = {state["y"]: best["open"].astype(float), state["x"]: xs}
    # the MIP gets everything left of the one clock (Solver.solve reads it)
    info = _solve(solver, prob, start)
    info.build_seconds = build_seconds
    stages["mip"] = {"distributors": int((~state["excluded"]).sum()), "closed_by_bound": int(shut.sum()),
                     "links": len(state["oi"]), "status": info.status, "objective": info.objective,
                     "bound": info.bound, "seconds": info.seconds}
    mip_bound = info.bound if math.isfinite(info.bound) else -math.inf
    if not info.has_solution or info.objective >= upper - 1e-9 * max(1.0, abs(upper)):
        info.objective = upper
        use_mip = False
    else:
        use_mip = True
    info.bound = max(lower, min(mip_bound, info.objective))
    info.gap = _gap(info.objective, info.bound)
    info.status = "optimal" if info.gap <= solver.mip_gap + 1e-9 else "feasible"
    return _finish(model, net, best, state if use_mip else None, prob, info, stages, t_start, solver)

def _solve(solver: Solver, ap: ArrayProblem, warm_start=None) -> SolveInfo:
    """One solver call on ``ap`` (its values land in ``ap.solution``).

    Under ``CHANNELOPT_BUILD_PATH=pulp`` (the private switch of the before/after
    benchmark) every LP and the narrowed MIP go through PuLP objects and are read
    back, as 0.1's Lagrangian path built them.
    """
    if _build_path() != "pulp":
        return solver.solve(ap, warm_start=warm_start)
    built = BuiltModel(None, None, arrays=ap)
    built.problem  # noqa: B018 - the old path's cost: PuLP objects for this LP
    return built.solve_once(solver, warm_start)


def _interrupted(model, net, plan, bound, solver, t_start, size) -> Plan:
    """The plan in hand when Ctrl-C arrives in Python code (a bound pass, the local search)."""
    solver.deadline.interrupt()
    n, m, links = size
    info = SolveInfo(solver.name, "feasible", "interrupted", objective=plan["objective"], bound=bound,
                     gap=_gap(plan["objective"], bound), n_variables=links + m, n_constraints=n + m,
                     time_limit=solver.time_limit, mip_gap=solver.mip_gap)
    stages = {"lagrangian": {"bound": bound, "status": "interrupted"},
              "rounding": {"objective": plan["objective"], "open": int(plan["open"].sum())}}
    return _finish(model, net, plan, None, None, info, stages, t_start, solver,
                   note="interrupted (Ctrl-C); the plan is the best found so far")


def mip_seconds_needed(lp_seconds: list[float]) -> float:
    """Seconds the narrowed MIP stage needs to be worth entering (see :data:`MIP_LP_FACTOR`)."""
    return max(MIP_MIN_SECONDS, MIP_LP_FACTOR * max(lp_seconds, default=0.0))


def _seconds(solver: Solver, seconds: float) -> float:
    """``seconds``, but never past the end of the one clock."""
    left = solver.remaining()
    return seconds if left is None else max(0.0, min(seconds, left))


def _within(solver: Solver, seconds: float) -> Solver:
    """``solver`` on a child clock ending ``seconds`` from now, never after the whole solve's end."""
    left = solver.remaining()
    if left is None:
        return dataclasses.replace(solver, time_limit=seconds)
    return solver.share(min(1.0, seconds / left) if left > 0 else 0.0)


def _finish(model, net, best, state, prob, info, stages, t_start, solver, note: str = "") -> Plan:
    if state is not None:
        plan = model._extract(net, state, info)
    else:
        plan = selection_plan(net, best["oi"], best["dj"], best["share"], best["open"].astype(float), info,
                              model.kind, max_distance=model.max_distance)
        plan.metrics.overall["selection_objective"] = model.objective
    info.seconds = time.perf_counter() - t_start
    if not math.isfinite(info.build_seconds):
        info.build_seconds = 0.0
    info.message = (f"strategy='lagrangian': bound {info.bound:,.6g} holds for the full model "
                    f"(Lagrangian {stages['lagrangian']['bound']:,.6g}"
                    + (f", MIP on {stages['mip']['distributors']} distributors"
                       if "distributors" in stages.get("mip", {}) else "")
                    + ")" + (f"; {note}" if note else ""))
    # one row per step (lagrangian, rounding, mip); plan.stages is for sub-plans, not numbers
    plan.tables["solve_steps"] = pd.DataFrame(
        [{"step": name, **values} for name, values in stages.items()],
        columns=["step", "objective", "bound", "gap", "seconds", "iterations", "open", "distributors",
                 "closed_by_bound", "links", "status"])
    plan.settings = {"model": type(model).__name__, **model.get_params(), "solver": solver.to_dict()}
    if info.status != "optimal":
        warnings.warn(f"{type(model).__name__} plan is {info.status}, not proven optimal: gap {info.gap:.2%}.",
                      NotOptimalWarning, stacklevel=3)
    return plan

def _opening_order(free, score, fixed, cap) -> np.ndarray:
    """The free distributors in the order a rounding opens them: by the bound's score (ones the relaxation
    opens at least half the time first), cheaper fixed cost per unit of capacity on ties."""
    order = np.flatnonzero(free)
    return order[np.lexsort((fixed[order] / np.maximum(cap[order], 1e-12), -score[order]))]


def round_plan(arrays, forced, closed, score, solver, lp_seconds: list | None = None) -> dict | None:
    """Open the distributors the bound favours until the transportation LP serves everyone.

    None when no open set serves everyone, or when ``solver``'s clock runs out first.
    """
    oi, dj, cost, demand, capacity, fixed = arrays
    n, m = len(demand), len(capacity)
    total = float(demand.sum())
    cap = np.where(np.isfinite(capacity), capacity, total)
    free = ~forced & ~closed
    order = _opening_order(free, score, fixed, cap)
    rank = np.full(m, m, dtype=np.int64)
    rank[order] = np.arange(len(order))
    rank[forced] = -1
    first_reach = np.full(n, m, dtype=np.int64)
    np.minimum.at(first_reach, oi, rank[dj])
    cum = cap[forced].sum() + np.cumsum(cap[order])
    k = max(int(np.searchsorted(cum, total * (1 + 1e-9))) + 1, int(first_reach.max()) + 1,
            int((score[order] >= 0.5).sum()))
    step = max(1, len(order) // 20)
    while True:
        is_open = forced.copy()
        is_open[order[:k]] = True
        plan = transport(arrays, is_open, solver, lp_seconds)
        if plan is None and solver.deadline.expired:
            return None
        if plan is not None:
            # a distributor the LP left idle only costs its fixed fee
            idle = is_open & ~forced & (np.bincount(plan["dj"], weights=plan["share"], minlength=m) <= 1e-9)
            plan["open"] = is_open & ~idle
            plan["objective"] = plan["service"] + float(fixed[plan["open"]].sum())
            return plan
        if k >= len(order):
            return None
        k = min(k + step, len(order))

def improve_open_set(arrays, plan, forced, closed, score, solver, seconds: float,
            good_enough: float = -np.inf, lp_seconds: list | None = None) -> dict:
    """Local search on the open set: drop one, or add one, each move priced by the transportation LP.

    Drops go by fixed cost per unit carried (dearest first), adds by how often the
    relaxation opened them; a move that lowers the cost is kept.
    """
    oi, dj, cost, demand, capacity, fixed = arrays
    m = len(capacity)
    total = float(demand.sum())
    cap = np.where(np.isfinite(capacity), capacity, total)
    deadline = time.perf_counter() + seconds
    tried: set[tuple[str, int]] = set()
    best = plan
    while time.perf_counter() < deadline and not solver.deadline.expired and best["objective"] > good_enough:
        is_open = best["open"]
        load = np.bincount(best["dj"], weights=best["share"] * demand[best["oi"]], minlength=m)
        drops = np.flatnonzero(is_open & ~forced)
        drops = drops[np.argsort(-fixed[drops] / np.maximum(load[drops], 1e-9), kind="stable")]
        adds = np.flatnonzero(~is_open & ~closed)
        adds = adds[np.argsort(-score[adds], kind="stable")]
        moves = [("drop", int(j)) for j in drops if ("drop", int(j)) not in tried][:1]
        moves += [("add", int(j)) for j in adds if ("add", int(j)) not in tried][:1]
        if not moves:
            break
        improved = False
        for kind, j in moves:
            tried.add((kind, j))
            trial = is_open.copy()
            trial[j] = kind == "add"
            if cap[trial].sum() < total * (1 - 1e-9):
                continue
            cand = transport(arrays, trial, solver, lp_seconds)
            if cand is None:
                continue
            cand["open"] = trial & ~(~forced & (np.bincount(cand["dj"], weights=cand["share"],
                                                             minlength=m) <= 1e-9))
            cand["objective"] = cand["service"] + float(fixed[cand["open"]].sum())
            if cand["objective"] < best["objective"] - 1e-9 * abs(best["objective"]):
                best, improved = cand, True
                break
        if improved:
            # the neighbourhood changed: earlier rejections may now pay
            tried.clear()
    return best

def transport(arrays, is_open, solver, lp_seconds: list | None = None) -> dict | None:
    """Cheapest split assignment to the open distributors (an LP), or None when infeasible.

    The LP runs on ``solver``'s clock (None when it runs out first); its solve time is
    appended to ``lp_seconds``.
    """
    oi, dj, cost, demand, capacity, _ = arrays
    n = len(demand)
    keep = is_open[dj]
    o, d, c = oi[keep], dj[keep], cost[keep]
    if np.bincount(o, minlength=n).min(initial=1) == 0:
        return None
    ap = ArrayProblem("transport", "min")
    x = ap.add_vars("x", len(o), upper=1.0, cost=c)
    ap.add_rows("assign", rows=o, cols=x.index, sense="==", rhs=1.0, n_rows=n, skip_empty=True)
    finite = np.flatnonzero(np.isfinite(capacity) & is_open)
    if len(finite):
        group_of = np.full(len(capacity), -1)
        group_of[finite] = np.arange(len(finite))
        sel = group_of[d] >= 0
        ap.add_rows("cap", rows=group_of[d[sel]], cols=x[sel], coefs=demand[o[sel]], sense="<=",
                    rhs=capacity[finite], n_rows=len(finite))
    if solver.deadline.expired:
        return None
    # the user's MIP options are not for this LP; the clock (and Ctrl-C) is
    info = _solve(dataclasses.replace(solver, options={}, msg=False), ap)
    if lp_seconds is not None and math.isfinite(info.seconds):
        lp_seconds.append(info.seconds)
    if info.status != "optimal":
        return None
    share = x.value
    used = share > 1e-9
    return {"oi": o[used], "dj": d[used], "share": share[used], "service": float(info.objective)}


def greedy_plan(arrays, forced, closed, score) -> dict | None:
    """A plan without any LP, in one pass over the outlets.

    Opens the distributors the bound favours (as :func:`round_plan` starts), then
    serves each outlet, those with the fewest open links first, from its cheapest open
    links with room (split demand); an outlet left short opens its best-scored closed
    link. None when an outlet cannot be served even so.
    """
    oi, dj, cost, demand, capacity, fixed = arrays
    n, m = len(demand), len(capacity)
    total = float(demand.sum())
    cap = np.where(np.isfinite(capacity), capacity, total)
    free = ~forced & ~closed
    order = _opening_order(free, score, fixed, cap)
    cum = cap[forced].sum() + np.cumsum(cap[order])
    k = min(len(order), max(int(np.searchsorted(cum, total * (1 + 1e-9))) + 1, int((score[order] >= 0.5).sum())))
    is_open = forced.copy()
    is_open[order[:k]] = True
    links = np.lexsort((cost, oi))  # each outlet's links, cheapest first
    first = np.searchsorted(oi[links], np.arange(n + 1)).tolist()
    reach = np.bincount(oi, weights=is_open[dj].astype(float), minlength=n)
    by = np.lexsort((-demand, reach)).tolist()  # the least reachable first, then the largest
    link_list, ldj = links.tolist(), dj[links].tolist()
    opened, usable = is_open.tolist(), free.tolist()
    rank = np.empty(m)
    rank[np.argsort(-score, kind="stable")] = np.arange(m)
    rank = rank.tolist()
    left = np.where(is_open, cap, 0.0).tolist()
    caps, dem = cap.tolist(), demand.tolist()
    pick_l, pick_s = [], []
    for i in by:
        need, di = dem[i], dem[i]
        tol = 1e-12 * max(1.0, di)
        for sweep in range(2):
            for q in range(first[i], first[i + 1]):
                j = ldj[q]
                if left[j] <= 0.0:
                    continue
                take = need if need <= left[j] else left[j]
                left[j] -= take
                pick_l.append(link_list[q])
                pick_s.append(take / di if di > 0 else 1.0)
                need -= take
                if need <= tol:
                    break
            if need <= tol and (di > 0 or pick_l and oi[pick_l[-1]] == i):
                break
            # short: sign the best-scored distributor this outlet can reach
            shut = [ldj[q] for q in range(first[i], first[i + 1]) if not opened[ldj[q]] and usable[ldj[q]]]
            if sweep or not shut:
                return None
            j = min(shut, key=rank.__getitem__)
            opened[j], left[j] = True, caps[j]
    is_open = np.asarray(opened)
    pl, share = np.asarray(pick_l, dtype=np.int64), np.asarray(pick_s)
    carried = np.bincount(dj[pl], weights=share, minlength=m) > 1e-12
    is_open &= carried | forced  # an idle distributor only costs its fixed fee
    service = float(cost[pl] @ share)
    return {"oi": oi[pl], "dj": dj[pl], "share": share, "service": service, "open": is_open,
            "objective": service + float(fixed[is_open].sum())}
