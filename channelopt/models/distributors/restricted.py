"""Plans from restricted ``candidates``: a bound for the unrestricted problem, and automatic widening.

``candidates=k`` keeps each outlet's k nearest links, a speed setting. Its optimum is
that of the restricted model, so the solver's "optimal" and bound say nothing about
the problem the user asked (issue 10, item 9). Here:

* the LP relaxation of the *full* problem is solved by column generation from the
  restricted links (a missing link ``(i, j)`` enters while its reduced cost
  ``c_ij - v_i - d_i u_j`` is negative; ``v`` the duals of the assignment rows, ``u``
  of the capacity rows). Its value is a valid bound for the full problem;
* the plan is "optimal" only when that bound proves it, within ``mip_gap``;
* otherwise, when some optimal plan assigns every outlet whole (no capacities, or
  single sourcing), a plan better than the one in hand (objective ``z``) can only use
  links with reduced cost below ``z - bound`` (reduced-cost fixing on the full LP).
  The model widens to exactly those links and solves again: its optimum is the full
  problem's optimum, and its bound ``B`` gives the full bound ``min(z, B)``;
* a covering p-center plan of radius ``z`` widens to every allowed link within ``z``
  (the full optimum uses no other) and searches again there
  (:func:`~.pcenter.certify_pcenter`): its status and bound hold for the full problem;
* for objectives and rules where no full bound is computed here (coverage models,
  p-center by the assignment MIP, region caps, coverage floors, split capacitated
  widening), the bound is NaN and the status at best "feasible";
* a restricted model found infeasible is solved again on every allowed link, so an
  infeasibility the restriction caused is never blamed on another rule.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time

import numpy as np

from ..._arrays import ArrayProblem
from ...solver import Solver, _gap
from .formulation import build_formulation, links_member
from .pcenter import certify_pcenter

__all__ = ["certify", "full_lp_bound", "supports_bound"]

log = logging.getLogger("channelopt.models")


def supports_bound(model) -> bool:
    """Whether the full-problem LP bound is computed for this model's rules."""
    return (model.objective in ("min_cost", "p_median") and model._serve_all() and model.max_per_region is None
            and getattr(model, "min_load", None) is None)


def _remaining(solver: Solver, t_start: float) -> float | None:
    """What is left of the caller's clock (``t_start`` is kept for callers; the clock is ``solver``'s)."""
    return solver.remaining()


def full_lp_bound(model, net, allowed: tuple[np.ndarray, np.ndarray], solver: Solver, t_start: float,
                  max_rounds: int = 50) -> tuple[float, np.ndarray, np.ndarray, np.ndarray] | None:
    """LP bound of the full problem by column generation from the ``allowed`` links ``(oi, dj)``.

    Returns ``(bound, oi, dj, reduced_cost)`` over every link of the full problem, or
    None when the time ran out first.
    """
    foi, fdj = model._allowed(net, sparse=False)
    cost = net.link_costs(foi, fdj)
    demand = net._column("outlets", "demand", float)
    n, m = net._count("outlets"), net._count("distributors")
    current = links_member(foi, fdj, allowed, m)  # over the full links: in the model now
    scale = max(1.0, float(np.abs(cost).max(initial=0.0)))
    for _ in range(max_rounds):
        left = _remaining(solver, t_start)
        if solver.interrupted or (left is not None and left <= 0.05 * solver.time_limit):
            return None
        ap = ArrayProblem("full_lp_bound", "min")
        state = build_formulation(model, net, ap, allowed=(foi[current], fdj[current]), close_idle=False,
                                  relax=True)
        # HiGHS for its duals, without the user's MIP options, on the caller's clock (and Ctrl-C)
        info = dataclasses.replace(solver, name="highs", options={}, msg=False).solve(ap)
        if info.status != "optimal" or ap.duals is None:
            return None
        rows = state["rows"]
        v = np.zeros(n)
        assign = rows["assign"]
        ids = np.arange(assign.n) if assign.ids is None else assign.ids
        v[ids] = ap.duals[assign.slice]
        u = np.zeros(m)
        if "cap" in rows:
            u[rows["cap_of"]] = ap.duals[rows["cap"].slice]
        rc = cost - v[foi] - demand[foi] * u[fdj]
        enter = ~current & (rc < -1e-9 * scale)
        if not enter.any():
            return float(info.objective), foi, fdj, rc
        current = current | enter
    return None


def certify(built, plan, solver: Solver, t_start: float):
    """Re-state a restricted plan's status, bound and gap for the full problem; widen when that proves it."""
    model, net = built.model, built.network
    info = plan.info
    restricted_allowed = built.state["allowed"]
    note = f"candidates={model.candidates!r} restrict the links"
    if model.objective == "p_center" and built.strategy == "radius" and info.has_solution:
        return certify_pcenter(built, plan, solver.start_clock(), t_start)
    if not supports_bound(model):
        info.bound, info.gap = math.nan, math.nan
        if info.status == "optimal":
            info.status = "feasible"
        info.message = f"{note}; no bound for the unrestricted problem is computed for these rules"
        return plan
    solver = solver.start_clock()
    try:
        res = full_lp_bound(model, net, restricted_allowed, solver, t_start)
    except KeyboardInterrupt:  # Ctrl-C between two LPs: the plan in hand comes back
        solver.deadline.interrupt()
        res = None
    if res is None:
        info.bound, info.gap = math.nan, math.nan
        if info.status == "optimal":
            info.status = "feasible"
        if solver.interrupted:
            info.termination = "interrupted"
        info.message = f"{note}; {'Ctrl-C' if solver.interrupted else 'the time limit'} stopped the full-problem bound"
        return plan
    lp, foi, fdj, rc = res
    z = info.objective
    tol = max(solver.mip_gap, 1e-9)
    if _gap(z, lp) <= tol + 1e-12:
        info.bound, info.gap, info.status = lp, _gap(z, lp), "optimal"
        info.message = f"{note}; the full problem's LP bound {lp:,.6g} proves the plan optimal"
        return plan
    info.bound, info.gap = lp, _gap(z, lp)
    if info.status == "optimal":
        info.status = "feasible"
    info.message = f"{note}; bound {lp:,.6g} is the full problem's LP bound"
    whole = not model.capacitated or model.single_source
    if not whole:
        return plan
    # reduced-cost fixing: a plan better than z uses only links with rc < z - lp
    useful = rc < (z - lp) * (1 + 1e-9) + 1e-9 * max(1.0, abs(z))
    m = net._count("distributors")
    before = links_member(foi, fdj, restricted_allowed, m)
    wide = before | useful
    widened = (foi[wide], fdj[wide])
    left = _remaining(solver, t_start)
    if solver.interrupted or (left is not None and left <= 0.05 * solver.time_limit):
        return plan
    t0 = time.perf_counter()
    ap = ArrayProblem(model.kind, model.sense)
    state = build_formulation(model, net, ap, allowed=widened, close_idle=False)
    state["allowed"] = widened
    # the widened model is built like the restricted one (type(built): no import of built.py here)
    again = type(built)(model, net, None, state, time.perf_counter() - t0, arrays=ap, strategy="mip")
    try:
        wide_plan = again._solve_mip(solver, warm_start=True)  # the rest of the caller's clock
    except KeyboardInterrupt:  # Ctrl-C before the widened model had a plan: keep the one in hand
        solver.deadline.interrupt()
        info.termination = "interrupted"
        return plan
    wi = wide_plan.info
    n_added = int((wide & ~before).sum())
    if solver.interrupted:
        info.termination = "interrupted"
    if not wi.has_solution:
        return plan
    best = wide_plan if wi.objective < z - 1e-9 * max(1.0, abs(z)) else plan
    wide_bound = wi.bound if math.isfinite(wi.bound) else -math.inf
    bound = max(lp, min(z, wide_bound))
    best.info.bound = bound
    best.info.gap = _gap(best.info.objective, bound)
    best.info.status = "optimal" if best.info.gap <= tol + 1e-12 else "feasible"
    best.info.message = (f"{note}; widened by {n_added} links whose reduced cost on the full LP (bound {lp:,.6g}) "
                         f"could improve the plan: bound {bound:,.6g} holds for the full problem")
    return best
