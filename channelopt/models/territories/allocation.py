"""Location-allocation polishing for compactness, and the tightest balance a heuristic reaches.

``polish`` alternates an optimal assignment to fixed centres (a small MIP) with moving
each centre to its territory's median; ``tightest`` explains an infeasible balance.
"""

from __future__ import annotations

import dataclasses
import logging
import time

import numpy as np
import pulp

from ...solver import Solver
from .._lp import add_grouped_rows, add_row, linear, new_vars, values
from . import heuristics as heur
from .contiguity import pieces, separator_cuts
from .data import TerritoryData

__all__ = ["tightest", "allocate", "polish"]

log = logging.getLogger("channelopt.models")


def tightest(pb: heur.Problem, d: TerritoryData, *, seconds: float, seed: int) -> list[float]:
    """Smallest max relative deviation per attribute the heuristic reaches (bisection on a common tolerance)."""
    means = d.loads.sum(axis=0) / d.k
    lo, hi = 0.0, 1.0
    best = None
    budget = time.perf_counter() + seconds
    for _ in range(12):
        if time.perf_counter() > budget and best is not None:
            break
        tol = (lo + hi) / 2
        pb.lower, pb.upper = (1 - tol) * means, (1 + tol) * means
        res = heur.solve_heuristic(pb, seconds=max(seconds / 12, 0.05), seed=seed, max_starts=5)
        if res.violation <= 1e-9 and res.contiguous:
            hi, best = tol, res.label
        else:
            lo = tol
    if best is None:
        pb.lower, pb.upper = np.zeros_like(means), np.full_like(means, np.inf)
        best = heur.solve_heuristic(pb, seconds=0.2, seed=seed, max_starts=3).label
    sums = np.zeros((d.k, d.loads.shape[1]))
    np.add.at(sums, best, d.loads)
    return np.abs(sums / np.maximum(means, 1e-12) - 1).max(axis=0).tolist()


def allocate(
    d: TerritoryData,
    centres: list[int],
    solver: Solver,
    start_label,
    time_limit: float,
    contiguity: bool = True,
    mip_gap: float = 1e-3,
    chains: bool = True,
):
    """Best assignment of every region to fixed ``centres`` (balance kept, contiguous).

    With ``chains`` a region may join centre ``c`` only next to a member strictly
    closer to ``c`` (Hess-style distance chains): every territory is connected in one
    solve, but some contiguous plans are excluded. Without it, contiguity is exact:
    neighbour rows up front and separator cuts added in a re-solve loop.
    Returns ``(label, objective)`` or ``None`` when no plan is found in time.
    """
    deadline = time.perf_counter() + time_limit
    n, k = d.n, len(centres)
    prob = pulp.LpProblem("allocate", pulp.LpMinimize)
    dc = d.dist[:, centres]  # (n, k)
    ok = np.ones((n, k), dtype=bool)
    if contiguity and chains:
        # a region with no neighbour closer to c cannot be reached from c along a chain
        for t, c in enumerate(centres):
            for v in range(n):
                ok[v, t] = v == c or any(dc[u, t] < dc[v, t] for u in d.adj[v])
    pv, pt = np.nonzero(ok)
    x = new_vars(prob, "a", len(pv), low=0, up=1, cat=pulp.LpBinary)
    idx = {(v, t): i for i, (v, t) in enumerate(zip(pv.tolist(), pt.tolist()))}
    for t, c in enumerate(centres):
        x[idx[c, t]].lowBound = 1.0
    add_grouped_rows(prob, x, None, pv, n, "==", 1.0, "assign")
    for p in range(len(d.attrs)):
        a = d.loads[pv, p]
        if d.lower[p] > 0:
            add_grouped_rows(prob, x, a, pt, k, ">=", d.lower[p], f"lo{p}")
        if np.isfinite(d.upper[p]):
            add_grouped_rows(prob, x, a, pt, k, "<=", d.upper[p], f"hi{p}")
    if contiguity:
        for (v, t), i in idx.items():
            c = centres[t]
            if v == c or (not chains and c in d.adj[v]):
                continue
            if chains:
                nb = [x[idx[u, t]] for u in d.adj[v] if dc[u, t] < dc[v, t] and (u, t) in idx]
            else:
                nb = [x[idx[u, t]] for u in d.adj[v]]
            add_row(prob, [x[i], *nb], [1.0] + [-1.0] * len(nb), "<=", 0.0, f"chain_{v}_{t}")
    prob.setObjective(linear(x, d.weights[pv] * dc[pv, pt]))
    start = None
    if start_label is not None:
        start = {x[i]: float(start_label[v] == t) for (v, t), i in idx.items()}
    rounds = 0
    while True:
        left = deadline - time.perf_counter()
        if left < 0.5:
            return None
        info = dataclasses.replace(solver, time_limit=left, mip_gap=mip_gap).solve(prob, warm_start=start)
        if not info.has_solution:
            return None
        hit = values(x) > 0.5
        label = np.full(n, -1)
        label[pv[hit]] = pt[hit]
        cuts = separator_cuts(d.adj, label, dict(enumerate(centres))) if contiguity and not chains else []
        if not cuts:
            return label, info.objective
        for piece, sep, _c in cuts:
            t = int(label[piece[0]])
            for v in piece:
                rounds += 1
                add_row(prob, [x[idx[v, t]], *(x[idx[u, t]] for u in sep)], [1.0] + [-1.0] * len(sep), "<=", 0.0,
                        f"sep_{rounds}")


def polish(d: TerritoryData, pb: heur.Problem, label, centres, solver: Solver, seconds: float):
    """Location-allocation rounds: optimal assignment to fixed centres, then each territory's best centre.

    Rounds use the distance-chain assignment until it stops improving, then one
    exact-contiguity assignment; returns the best ``(label, centres, objective)``
    found, never worse than the input.
    """
    deadline = time.perf_counter() + seconds
    best = (np.asarray(label).copy(), list(centres), heur.objective_value(pb, label, centres))
    chains = True
    while time.perf_counter() < deadline - 0.5:
        out = allocate(
            d, best[1], solver, best[0], deadline - time.perf_counter(), pb.contiguity, chains=chains
        )
        ok = out is not None and not (out[0] < 0).any() and heur.violation(pb, out[0]) <= 1e-9
        if ok and pb.contiguity:
            # never taken unless every territory really is one piece
            ok = all(len(pieces(d.adj, np.flatnonzero(out[0] == t))) == 1 for t in range(d.k))
        improved = False
        if ok:
            new_centres = heur.best_centres(pb, out[0])
            obj = heur.objective_value(pb, out[0], new_centres)
            log.debug("territories: polish round (chains=%s) %.6g -> %.6g, %.1fs left", chains, best[2], obj,
                      deadline - time.perf_counter())
            if obj < best[2] - 1e-9 * max(1.0, abs(best[2])):
                best, improved = (out[0], new_centres, obj), True
        if improved:
            chains = True
        elif chains and pb.contiguity:
            chains = False
        else:
            break
    return best
