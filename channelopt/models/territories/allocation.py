"""Location-allocation polishing for compactness, and the tightest balance a heuristic reaches.

``polish`` alternates an optimal assignment to fixed centres (a small MIP) with moving
each centre to its territory's median; ``tightest`` explains an infeasible balance.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time

import numpy as np
import pulp

from ...solver import Solver
from .._lp import add_grouped_rows, add_row, linear, new_vars, values
from . import heuristics as heur
from .contiguity import pieces, separator_cuts
from .data import TerritoryData

__all__ = ["tightest", "allocate", "polish", "guided"]

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
) -> tuple[np.ndarray, float] | None:
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


def polish(d: TerritoryData, pb: heur.Problem, label, centres, solver: Solver,
           seconds: float) -> tuple[np.ndarray, list[int], float]:
    """Location-allocation rounds: optimal assignment to fixed centres, then each territory's best centre.

    Rounds use the distance-chain assignment until it stops improving, then one
    exact-contiguity assignment; returns the best ``(label, centres, objective)``
    found, never worse than the input.
    """
    deadline = time.perf_counter() + seconds
    best = (np.asarray(label).copy(), list(centres), heur.objective_value(pb, label, centres))
    chains = True
    while time.perf_counter() < deadline - 0.5 and not solver.interrupted:
        try:
            out = allocate(
                d, best[1], solver, best[0], deadline - time.perf_counter(), pb.contiguity, chains=chains
            )
        except KeyboardInterrupt:
            # Ctrl-C in the rounds' own Python steps: the best plan so far comes back, and the clock is
            # told, so no later stage starts (a Ctrl-C inside a solver call is the solver's to handle)
            solver.deadline.interrupt()
            break
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


#: centres each region may join in the LP assignment of :func:`lp_polish` (its nearest among the k)
LP_NEAREST_CENTRES = 8


def _lp_assign(d: TerritoryData, centres: list[int], solver: Solver, seconds: float, nearest: int):
    """Balanced assignment to fixed ``centres``, LP relaxation over each region's ``nearest`` centres, rounded.

    A basic LP optimum splits at most about ``2 k`` regions (one per balance row), so
    rounding each region to its largest share loses little. Returns the label, or None.
    """
    from ..._arrays import ArrayProblem

    n, k = d.n, len(centres)
    dc = d.dist[:, centres]  # (n, k)
    q = min(nearest, k)
    near = np.argpartition(dc, q - 1, axis=1)[:, :q] if q < k else np.tile(np.arange(k), (n, 1))
    pv = np.repeat(np.arange(n), q)
    pt = near.reshape(-1)
    extra = [(c, t) for t, c in enumerate(centres) if t not in near[c]]
    if extra:
        pv = np.r_[pv, [c for c, _ in extra]]
        pt = np.r_[pt, [t for _, t in extra]]
    ap = ArrayProblem("lp_assign", "min")
    up = np.ones(len(pv))
    low = np.zeros(len(pv))
    own = np.asarray(centres)[pt] == pv
    low[own] = 1.0  # each centre stays in its own territory
    x = ap.add_vars("a", len(pv), lower=low, upper=up, cost=d.weights[pv] * dc[pv, pt])
    cols = x.index
    ap.add_rows("assign", pv, cols, sense="==", rhs=1.0, n_rows=n)
    for p in range(len(d.attrs)):
        a = d.loads[pv, p]
        if d.lower[p] > 0:
            ap.add_rows(f"lo{p}", pt, cols, a, sense=">=", rhs=float(d.lower[p]), n_rows=k)
        if np.isfinite(d.upper[p]):
            ap.add_rows(f"hi{p}", pt, cols, a, sense="<=", rhs=float(d.upper[p]), n_rows=k)
    info = dataclasses.replace(solver, time_limit=max(seconds, 0.1)).solve(ap)
    if info.status != "optimal":
        return None
    xv = x.value
    best = np.full(n, -1.0)
    label = np.full(n, -1)
    for i in np.argsort(xv, kind="stable").tolist():  # the largest share wins (written last)
        label[pv[i]] = pt[i]
        best[pv[i]] = xv[i]
    return label


def _repair_contiguity(d: TerritoryData, label: np.ndarray, centres: list[int]) -> np.ndarray:
    """Keep the piece of each territory that holds its centre; cut-off regions join the nearest adjacent centre."""
    label = label.copy()
    for t, c in enumerate(centres):
        members = np.flatnonzero(label == t)
        parts = pieces(d.adj, members)
        if len(parts) > 1:
            for part in parts:
                if c not in part:
                    label[list(part)] = -1
    while (label < 0).any():
        grown = False
        for v in np.flatnonzero(label < 0).tolist():
            ts = {int(label[u]) for u in d.adj[v] if label[u] >= 0}
            if ts:
                label[v] = min(ts, key=lambda t: d.dist[v, centres[t]])
                grown = True
        if not grown:
            break
    return label


def _lp_round(d: TerritoryData, pb: heur.Problem, centres, solver: Solver, deadline: float, rng):
    """One LP location-allocation round from ``centres``: ``(label, centres, objective, ok)`` or None."""
    lab = _lp_assign(d, list(centres), solver, deadline - time.perf_counter(), LP_NEAREST_CENTRES)
    if lab is None:
        return None
    lab = _repair_contiguity(d, lab, list(centres))
    if (lab < 0).any():
        return None
    lab, cen = heur.improve(pb, lab, deadline, rng)
    ok = heur.violation(pb, lab) <= 1e-9 and all(len(pieces(d.adj, np.flatnonzero(lab == t))) == 1
                                                 for t in range(d.k))
    return lab, cen, heur.objective_value(pb, lab, cen), ok


#: recombine elite plans in every other kick of :func:`lp_polish`; at most ELITE plans kept. Off: on
#: china k=12 at 40 s it ended at 5.781e6 against 5.765e6 with random-member kicks only (load ~15)
RECOMBINE = False
ELITE = 5


def _recombine(d: TerritoryData, a: list[int], b: list[int], rng) -> list[int]:
    """Centres of plan ``a`` within a random disc of the map, those of ``b`` outside it (k in all)."""
    k = len(a)
    pivot = int(rng.integers(d.n))
    radius = np.partition(d.dist[pivot], d.n // 2)[d.n // 2]
    inside = [c for c in a if d.dist[pivot, c] <= radius]
    outside = [c for c in b if d.dist[pivot, c] > radius and c not in inside]
    out = inside + outside
    if len(out) > k:
        # drop the centres closest to another chosen one (crowded at the seam)
        while len(out) > k:
            sub = d.dist[np.ix_(out, out)] + np.diag(np.full(len(out), np.inf))
            out.pop(int(np.argmin(sub.min(axis=1))))
    spare = [c for c in list(a) + list(b) if c not in out]
    rng.shuffle(spare)
    while len(out) < k and spare:
        out.append(spare.pop())
    return out


#: start location-allocation once from the centres the balanced Lagrangian opens most (:func:`_guided`), on
#: maps of at most GUIDE_MAX_REGIONS regions, within GUIDE_SHARE of the rounds' time
GUIDE = True
GUIDE_MAX_REGIONS = 1000
#: where the Lagrangian guides location-allocation (:func:`guided`), the search's location-allocation cycles
#: (:func:`.search.run_heuristic`) stop after one that found nothing, and the LP kicks of :func:`lp_polish` after
#: KICK_PATIENCE seconds without a better plan: the time left goes to the bound stage's branching on centres
#: (china, k=12: after the guided plan, 55 s of kicks and cycles found nothing better in session 6). Here, not in
#: ``search``, so that this module does not import the one that calls it. False: cycles and kicks run to the deadline
STOP_GUIDED = True
KICK_PATIENCE = 5.0


def guided(d: TerritoryData) -> bool:
    """Whether location-allocation on ``d`` starts from the balanced Lagrangian's centres (:func:`_guided`): free
    centres, a balance band to price, at most GUIDE_MAX_REGIONS regions."""
    from .bounds import _knapsack_attribute

    return (GUIDE and d.n <= GUIDE_MAX_REGIONS and d.centres is None and d.dist is not None
            and _knapsack_attribute(d) is not None)
GUIDE_SHARE = 0.6
#: of that time, the Lagrangian's root steps take at most this share (the rest: the assignment MIP rounds)
GUIDE_STEPS_SHARE = 0.5


def _guided(d: TerritoryData, pb: heur.Problem, best, solver: Solver, seconds: float, rng):
    """``best``, or the plan location-allocation reaches from the Lagrangian's centres when that is better.

    The root steps of :func:`.bounds.lagrangian_guide` run (on) here (the bound stage resumes them); their
    ``k`` most open centres, when not tried before on this map, get an LP round and, where the assignment
    MIP is small, the MIP rounds of :func:`polish`.
    """
    from .bounds import lagrangian_guide

    deadline = time.perf_counter() + seconds
    try:
        centres = lagrangian_guide(d, best[2], seconds * GUIDE_STEPS_SHARE, solver, new=True)
        if centres is None or solver.interrupted:
            return best
        out = _lp_round(d, pb, centres, solver, deadline, rng)
        if out is None or not out[3]:
            return best
        got = out[:3]
        if d.n * d.k <= GUIDE_MIP_PAIRS and not solver.interrupted:
            got = polish(d, pb, got[0], got[1], solver, deadline - time.perf_counter())
    except KeyboardInterrupt:
        solver.deadline.interrupt()  # as in polish: the best plan so far comes back
        return best
    log.debug("territories: Lagrangian-guided location-allocation %.6g (best so far %.6g)", got[2], best[2])
    return got if got[2] < best[2] - 1e-9 * max(1.0, abs(got[2])) else best


#: the guided start's assignment MIP rounds run up to this many (region, territory) pairs
GUIDE_MIP_PAIRS = 10_000
#: share of each call's time left after the guided start for the Lagrangian dives (:func:`_dives`; 0: none).
#: china k=12, heuristic mode, 120 s (load 7.6-9.4): 0.5 gap 1.24% / 1.34% (seeds 0 / 1), 0.8 1.33% / 1.38%
DIVE_SHARE = 0.5


def _dives(d: TerritoryData, pb: heur.Problem, best, solver: Solver, seconds: float, rng):
    """``best``, or a better plan from an LP round at the centres of a node of the branching on centres.

    :func:`.bounds.lagrangian_dives` steps the nodes (kept for the bound stage, which goes on from them);
    each new centre set gets one LP round (:func:`_lp_round`), and the best of them, when better than
    ``best``, the assignment MIP rounds of :func:`polish` where the MIP is small.
    """
    from .bounds import lagrangian_dives

    deadline = time.perf_counter() + seconds
    tried: set = set()
    found = [best]

    def visit(centres):
        key = frozenset(centres)
        if key in tried or time.perf_counter() > deadline - seconds / 3:
            return
        tried.add(key)
        out = _lp_round(d, pb, centres, solver, deadline, rng)
        if out is not None and out[3] and out[2] < found[0][2] - 1e-9 * max(1.0, abs(out[2])):
            found[0] = out[:3]

    try:
        # the dives keep a third of the time for the MIP rounds of a better plan
        if not lagrangian_dives(d, best[2], seconds * 2 / 3, visit, solver) or found[0] is best:
            return best
        got = found[0]
        if d.n * d.k <= GUIDE_MIP_PAIRS and not solver.interrupted:
            got = polish(d, pb, got[0], got[1], solver, deadline - time.perf_counter())
    except KeyboardInterrupt:
        solver.deadline.interrupt()
        return found[0]
    log.debug("territories: Lagrangian dives %d centre sets, %.6g (best so far %.6g)", len(tried), got[2], best[2])
    return got if got[2] < best[2] else best


def lp_polish(d: TerritoryData, pb: heur.Problem, label, centres, solver: Solver, seconds: float, seed: int = 0):
    """Location-allocation for large maps: LP assignment to fixed centres, rounding, contiguity repair, local search.

    A round assigns every region to the centres by the balanced LP (each region among
    its ``LP_NEAREST_CENTRES`` nearest), keeps each territory's piece around its centre,
    regrows cut-off regions into adjacent territories, then the local search restores
    balance and lowers the objective with the centres moving to their territories'
    medians. Rounds repeat while they improve; then the best plan's centres are
    perturbed (a tenth of them move to a random member of their territory) and the
    descent starts again (iterated local search), until ``seconds``. The exact
    assignment MIP of :func:`polish` took more than 60 s per round on the 2,800-region
    county map; a round here takes a second or two. Returns the best balanced,
    contiguous ``(label, centres, objective)``, never worse than the input.
    """
    deadline = time.perf_counter() + seconds
    rng = np.random.default_rng(seed)
    best = (np.asarray(label).copy(), list(centres), heur.objective_value(pb, label, centres))
    patience = math.inf
    if guided(d):
        patience = KICK_PATIENCE if STOP_GUIDED else math.inf
        best = _guided(d, pb, best, solver, seconds * GUIDE_SHARE, rng)
        if DIVE_SHARE and not solver.interrupted:
            best = _dives(d, pb, best, solver, DIVE_SHARE * (deadline - time.perf_counter()), rng)
    elite = [best]  # the best local optima, distinct centre sets, for recombination
    current = list(best[1])
    rounds = kicks = 0
    last = time.perf_counter()  # of the last better plan
    while time.perf_counter() < min(deadline - 0.5, last + patience) and not solver.interrupted:
        try:
            out = _lp_round(d, pb, current, solver, deadline, rng)
        except KeyboardInterrupt:
            solver.deadline.interrupt()  # as in polish: the best plan so far comes back
            break
        rounds += 1
        if out is not None and out[3]:
            if all(set(out[1]) != set(e[1]) for e in elite):
                elite = sorted([*elite, out[:3]], key=lambda e: e[2])[:ELITE]
            if out[2] < best[2] - 1e-9 * max(1.0, abs(best[2])):
                log.debug("territories: LP location-allocation %.6g -> %.6g (round %d, kick %d), %.1fs left",
                          best[2], out[2], rounds, kicks, deadline - time.perf_counter())
                best = out[:3]
                current = list(best[1])
                last = time.perf_counter()
                continue
        kicks += 1
        if RECOMBINE and len(elite) > 1 and kicks % 2 == 0:
            current = _recombine(d, best[1], elite[int(rng.integers(1, len(elite)))][1], rng)
            continue
        # no better plan from these centres: kick the best plan's centres and descend again
        current = list(best[1])
        moved = rng.choice(d.k, size=max(1, d.k // 10), replace=False)
        for t in moved.tolist():
            members = np.flatnonzero(best[0] == t)
            current[t] = int(rng.choice(members))
    log.debug("territories: LP location-allocation %d rounds, %d kicks, best %.6g", rounds, kicks, best[2])
    return best
