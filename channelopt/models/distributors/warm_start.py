"""Heuristic first plans of DistributorSelection: MIP starts, and the plan kept if the solver does worse.

A time-limited solve must never return a plan worse than the library's own greedy
(issue 10, item 7: capacitated max_coverage on china at 5 s gave weighted distribution
0.171 where a greedy reaches 0.618, because the greedy ignored capacity and its start
was dropped). :func:`warm_start` builds a complete start; :func:`start_objective`
prices it with the model's own objective, so the solve path can compare.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _heuristics as heur

__all__ = ["warm_start", "start_objective", "start_is_feasible", "greedy_capacitated_cover"]


def warm_start(model, net, state: dict[str, Any], seconds: float | None = None) -> dict | None:
    """A complete MIP start from a heuristic (variable -> value), or None."""
    # A complete start only: partial starts make HiGHS 1.16 report wrong objectives
    # (measured on cap131), so a start we cannot complete is no start.
    oi, dj, n, m = state["oi"], state["dj"], state["n"], state["m"]
    if float(model.heuristic_seconds) <= 0 or model.max_per_region is not None or state.get("min_load") is not None:
        return None
    if model.objective in ("backup_coverage", "p_dispersion"):
        return None
    # the heuristics work on the model's links (no n x m array, issue 13)
    cost = state["cost"] if "cost" in state else net.link_costs(oi, dj)
    forced, closed = state["forced"], state["excluded"]
    obj = model.objective
    secs = float(model.heuristic_seconds) if seconds is None else min(float(model.heuristic_seconds), seconds)
    if obj in ("min_cost", "p_median") and not model.capacitated:
        is_open = heur.greedy_median_links(oi, dj, cost, n, m, p=model.p,
                                           fixed=state["fixed"] if obj == "min_cost" else None,
                                           forced=forced, closed=closed, seconds=secs)
    elif obj in ("min_cost", "p_median"):
        is_open = heur.greedy_capacitated_links(oi, dj, cost, n, m, state["demand"], state["capacity"],
                                                state["fixed"] if obj == "min_cost" else np.zeros(m),
                                                forced=forced, closed=closed, p=model.p)
    elif obj == "p_center":
        dist = model._link_distances(net, oi, dj)
        is_open = heur.greedy_median_links(oi, dj, dist, n, m, p=model.p, forced=forced, closed=closed,
                                           seconds=secs / 2)
    elif model.capacitated and obj == "max_coverage":
        weight = state["demand"] if model.coverage_weight == "demand" else net._column("outlets", "potential", float)
        is_open, pick = greedy_capacitated_cover(oi, dj, weight, state["demand"], state["capacity"], p=model.p,
                                                 budget=model.budget, fixed=state["fixed"], forced=forced,
                                                 closed=closed)
        return _coverage_start(model, state, is_open, pick)
    else:
        weight = state["demand"] if model.coverage_weight == "demand" else net._column("outlets", "potential", float)
        is_open = heur.greedy_cover_links(oi, dj, n, m, weight, p=model.p, budget=model.budget, fixed=state["fixed"],
                                          forced=forced, closed=closed, full=obj == "set_cover")
    if model.p is not None and is_open.sum() != model.p:
        return None
    start = {state["y"]: is_open.astype(float)}
    reach = np.zeros(n, dtype=bool)
    np.logical_or.at(reach, oi, is_open[dj])
    if state["x"] is not None:
        cap = state["capacity"] if model.capacitated else np.full(m, np.inf)
        demand = state["demand"].copy()
        # outlets the start leaves unserved (allowed only when service is optional) need no room
        if not model._serve_all():
            demand[~reach] = 0.0
        share = heur.assign_greedy_links(oi, dj, cost, n, demand, cap, is_open, single_source=model.single_source)
        if share is None and model.capacitated and model.p is None:
            # the greedy's open capacity sits in the wrong places for some outlets' allowed links:
            # open more, cheapest per unit of capacity first, until the assignment fits
            closed_now = np.flatnonzero(~is_open & ~closed)
            per_unit = state["fixed"][closed_now] / np.maximum(np.where(np.isfinite(cap[closed_now]),
                                                                         cap[closed_now], 1e12), 1e-12)
            order = closed_now[np.argsort(per_unit, kind="stable")]
            step = max(1, len(order) // 10)
            for k in range(step, len(order) + step, step):
                is_open = is_open.copy()
                is_open[order[:k]] = True
                share = heur.assign_greedy_links(oi, dj, cost, n, demand, cap, is_open,
                                                 single_source=model.single_source)
                if share is not None:
                    start[state["y"]] = is_open.astype(float)
                    np.logical_or.at(reach, oi, is_open[dj])
                    break
        if share is None:
            return None
        xs = share.copy()
        if not model._serve_all():
            xs[~reach[oi]] = 0.0
        served = np.bincount(oi, weights=xs, minlength=n) > 0.5
        if model._serve_all() and not served.all():
            return None
        start[state["x"]] = xs
        if state["z"] is not None:
            start[state["z"]] = served.astype(float)
        if state.get("w") is not None:
            dist = model._link_distances(net, oi, dj)
            start[state["w"]] = float(np.bincount(oi, weights=xs * dist, minlength=n).max())
    elif state["z"] is not None:
        start[state["z"]] = reach.astype(float)
    if state["x"] is not None and model.p is None and model.objective == "min_cost":
        # a distributor the assignment left idle only adds its fixed cost
        used = np.bincount(dj, weights=start[state["x"]], minlength=m) > 1e-12
        lean = dict(start)
        lean[state["y"]] = (is_open & (used | forced)).astype(float)
        if start_is_feasible(state["y"].problem, lean):
            start = lean
    return start


def _coverage_start(model, state, is_open, pick) -> dict | None:
    """Start of a capacitated max_coverage model from the greedy's open set and picked links."""
    if model.p is not None and is_open.sum() != model.p:
        return None
    n = state["n"]
    start = {state["y"]: is_open.astype(float)}
    xs = pick.astype(float)
    start[state["x"]] = xs
    served = np.bincount(state["oi"], weights=xs, minlength=n) > 0.5
    start[state["z"]] = served.astype(float)
    return start


def greedy_capacitated_cover(oi, dj, weight, demand, capacity, *, p=None, budget=None, fixed=None, forced=None,
                             closed=None) -> tuple[np.ndarray, np.ndarray]:
    """Greedy maximal covering under capacities, on sparse links ``(oi, dj)``.

    Each step opens the distributor that would newly cover the most weight within its
    capacity (outlets taken whole, best weight per unit of demand first). Returns the
    open mask and, per link, whether the link serves its outlet. Python works once per
    opened distributor; each step is a few numpy passes over the links.
    """
    m = len(capacity)
    fixed = np.zeros(m) if fixed is None else np.asarray(fixed, dtype=float)
    is_open = np.zeros(m, dtype=bool) if forced is None else forced.copy()
    banned = np.zeros(m, dtype=bool) if closed is None else closed.copy()
    cap = np.where(np.isfinite(capacity), capacity, np.inf)
    w = np.asarray(weight, dtype=float)[oi]
    d = np.asarray(demand, dtype=float)[oi]
    ratio = w / np.maximum(d, 1e-12)
    order = np.lexsort((-ratio, dj))
    oi_s, dj_s, w_s, d_s = oi[order], dj[order], w[order], d[order]
    starts = np.searchsorted(dj_s, np.arange(m))
    covered = np.zeros(int(oi.max()) + 1 if len(oi) else 0, dtype=bool)
    pick_s = np.zeros(len(oi_s), dtype=bool)
    spent = float(fixed[is_open].sum())

    def fill(free: np.ndarray) -> np.ndarray:
        # per link: would its outlet fit, in this order, into its distributor's capacity?
        load = np.where(free, d_s, 0.0)
        cum = np.cumsum(load)
        base = np.concatenate([[0.0], cum])[starts][dj_s]
        return free & (cum - base <= cap[dj_s] * (1 + 1e-9))

    for j in np.flatnonzero(is_open):  # forced ones fill first
        sel = (dj_s == j) & ~covered[oi_s]
        fits = fill(sel) & sel
        pick_s |= fits
        covered[oi_s[fits]] = True
    while p is None or is_open.sum() < p:
        free = ~covered[oi_s] & ~is_open[dj_s]
        fits = fill(free)
        gain = np.bincount(dj_s, weights=np.where(fits, w_s, 0.0), minlength=m)
        if budget is not None:
            gain = gain / np.maximum(fixed, 1e-9)
        ok = ~is_open & ~banned
        if budget is not None:
            ok &= spent + fixed <= budget + 1e-9
        gain[~ok] = -np.inf
        j = int(np.argmax(gain)) if m else -1
        if j < 0 or not np.isfinite(gain[j]) or (gain[j] <= 0 and p is None):
            break
        is_open[j] = True
        spent += fixed[j]
        take = fits & (dj_s == j)
        pick_s |= take
        covered[oi_s[take]] = True
    pick = np.zeros(len(oi), dtype=bool)
    pick[order] = pick_s
    return is_open, pick


def start_is_feasible(ap, start, tol: float = 1e-6) -> bool:
    """Whether a complete start (``{VarBlock: values}`` or a vector) keeps every row, bound and integrality of
    ``ap`` (checked on the arrays; the matrix and the rows' tolerance scale are the solver's plan check's)."""
    from ...solver import _bound_size, _matrix

    vec = ap.start_vector(start)
    if vec is None or np.isnan(vec).any():
        return False
    a = ap.arrays()
    if (vec < a.col_lower - tol).any() or (vec > a.col_upper + tol).any():
        return False
    if (np.abs(vec[a.integer] - np.round(vec[a.integer])) > tol).any():
        return False
    act = _matrix(a) @ vec
    scale = tol * _bound_size(a, "row")
    return bool(((act >= a.row_lower - scale) & (act <= a.row_upper + scale)).all())


def start_objective(ap, start) -> float:
    """The model's own objective at a start (columns missing from it count as 0)."""
    a = ap.arrays()
    return float(a.cost @ np.nan_to_num(ap.start_vector(start)) + a.offset)
