"""Lower bounds valid for the problem the user asked, whatever restriction or heuristic made the plan."""

from __future__ import annotations

import math
import time

import numpy as np

from ..._arrays import ArrayProblem
from ...solver import Solver
from .data import TerritoryData
from .pmedian import build_pmedian, pairs

__all__ = ["combinatorial_bound", "pmedian_lp_bound", "pmedian_lagrangian_bound", "valid_bound", "LP_BOUND_MAX_PAIRS"]

#: the unrestricted p-median LP is solved for its bound up to this many (region, centre) pairs
LP_BOUND_MAX_PAIRS = 40_000


def combinatorial_bound(model, d: TerritoryData) -> float:
    """A bound from counting alone, valid for every plan of ``d``.

    - ``compactness`` (free centres): at most ``k`` regions are centres; every other
      region pays at least its weight times the distance to its nearest other region.
    - ``cut_edges``: ``k`` non-empty territories of a connected graph cut at least
      ``k - 1`` edges (contracting each territory leaves a connected graph on ``k``
      nodes), so at least the ``k - 1`` lightest borders.
    - otherwise 0.
    """
    if model.objective == "compactness" and d.centres is None and d.dist is not None:
        dist = d.dist.copy()
        np.fill_diagonal(dist, np.inf)
        pay = d.weights * dist.min(axis=1) if d.n > 1 else np.zeros(d.n)
        return float(np.sort(pay)[: max(d.n - d.k, 0)].sum())
    if model.objective == "cut_edges" and model.contiguity and len(d.edge_w):
        return float(np.sort(d.edge_w)[: d.k - 1].sum())
    return 0.0


def pmedian_lp_bound(model, d: TerritoryData, solver: Solver, seconds: float) -> float:
    """The LP relaxation of the unrestricted p-median model (every pair allowed); NaN when too big or slow.

    Its rows (assignment, centres, balance, neighbour contiguity rows) hold for every
    contiguous balanced plan, so its optimum bounds the problem the user asked.
    """
    if d.n * d.n > LP_BOUND_MAX_PAIRS or seconds < 0.5:
        return math.nan
    ap = ArrayProblem("territory_lp_bound", "min")
    build_pmedian(model, d, ap, *pairs(d, None), integer=False)
    info = Solver(solver.name, time_limit=seconds, threads=solver.threads).solve(ap)
    return info.objective if info.status == "optimal" else math.nan


def pmedian_lagrangian_bound(d: TerritoryData, upper: float, seconds: float, *, iterations: int = 300) -> float:
    """Lagrangian bound of the p-median with every pair allowed: valid for every plan of ``d``.

    The assignment rows are priced by ``lambda``; balance and contiguity are dropped,
    which can only lower the bound. ``L(lambda) = sum(lambda) + sum of the k most
    negative ``rho_c = sum_v min(0, w_v d(v, c) - lambda_v)``. Subgradient steps
    (Held-Karp, ``upper`` is the incumbent's objective) run for ``seconds`` at most;
    each costs one pass over the ``n x n`` distances.
    """
    if d.centres is not None or d.dist is None:
        return math.nan
    n, k = d.n, d.k
    deadline = time.perf_counter() + seconds
    cost = d.weights[:, None] * d.dist  # cost[v, c]
    off = cost + np.diag(np.full(n, np.inf))
    lam = np.sort(off, axis=1)[:, min(max(n // k, 1), n - 1) - 1].copy()  # a member's typical cost
    best, theta, stall = -math.inf, 2.0, 0
    for _ in range(iterations):
        reduced = np.minimum(cost - lam[:, None], 0.0)
        rho = reduced.sum(axis=0)
        open_ = np.argpartition(rho, k - 1)[:k] if k < n else np.arange(n)
        value = float(lam.sum() + rho[open_].sum())
        if not math.isfinite(best) or value > best + 1e-9 * max(1.0, abs(best)):
            best, stall = value, 0
        else:
            stall += 1
            if stall >= 15:
                theta, stall = theta / 2, 0
        g = 1.0 - (reduced[:, open_] < 0).sum(axis=1)
        norm = float(g @ g)
        if norm == 0 or theta < 1e-4 or time.perf_counter() > deadline:
            break
        gap = upper - value if math.isfinite(upper) else abs(value) + 1.0
        lam = lam + theta * max(gap, 1e-9) / norm * g
    return best


#: what a plan's message says when the bound stage did not run
SKIPPED = "bound stage skipped, the time limit was reached before it"


def valid_bound(model, d: TerritoryData, upper: float, solver: Solver, seconds: float) -> tuple[float, str]:
    """The best bound for the problem the user asked that fits in ``seconds``, and where it came from.

    With no time left (``seconds <= 0``) only the counting bound is computed (no LP, no
    subgradient steps), and ``how`` says the bound stage was skipped.
    """
    bound, how = combinatorial_bound(model, d), "counting"
    if seconds <= 0:
        return bound, f"{how} ({SKIPPED})"
    if model.objective == "compactness" and d.centres is None:
        lp = pmedian_lp_bound(model, d, solver, seconds / 2)
        if math.isfinite(lp) and lp > bound:
            bound, how = lp, "the unrestricted LP"
        elif d.n * d.n <= 16_000_000:
            lag = pmedian_lagrangian_bound(d, upper, seconds / 2)
            if math.isfinite(lag) and lag > bound:
                bound, how = lag, "the p-median Lagrangian"
    return bound, how
