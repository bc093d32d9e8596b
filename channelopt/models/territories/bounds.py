"""Lower bounds valid for the problem the user asked, whatever restriction or heuristic made the plan."""

from __future__ import annotations

import math

import numpy as np

from ..._arrays import ArrayProblem
from ...solver import Solver
from .data import TerritoryData
from .pmedian import build_pmedian, pairs

__all__ = ["combinatorial_bound", "pmedian_lp_bound", "LP_BOUND_MAX_PAIRS"]

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
