"""Lower bounds valid for the problem the user asked, whatever restriction or heuristic made the plan."""

from __future__ import annotations

import dataclasses
import heapq
import logging
import math
import time
import weakref
import zlib

import numpy as np

from ..._arrays import ArrayProblem
from ...solver import Solver
from .data import TerritoryData
from .pmedian import build_pmedian, pairs

log = logging.getLogger("channelopt.models")

__all__ = [
    "combinatorial_bound", "pmedian_lp_bound", "pmedian_lagrangian_bound", "balanced_lagrangian_bound",
    "valid_bound", "lagrangian_guide", "lagrangian_dives", "LP_BOUND_MAX_PAIRS",
]

#: the unrestricted p-median LP is solved for its bound up to this many (region, centre) pairs
LP_BOUND_MAX_PAIRS = 40_000
#: balanced Lagrangian: halve the step after this many steps without a better bound (china k=12, 400 steps:
#: 10 -> 5.583e6, 25 -> 5.598e6, 50 -> 5.602e6; 1,500 steps with 50: 5.618e6; the LP it tends to is 5.640e6).
#: With scaled steps (SCALED), 5 s / 12 s at load 7: 25 -> 5.6323e6 / -, 50 -> 5.6324e6 / 5.6363e6,
#: 100 -> 5.6238e6 / 5.6393e6
PATIENCE = 50
#: scale each region's subgradient step by its typical cost (False: the session-3 steps, for the benchmark)
SCALED = True
#: once the balanced Lagrangian's steps have converged with time left, branch on centres (open / closed) with
#: the Lagrangian at each node (:func:`_centre_branching`; False: the session-4 bound, for the benchmark)
BRANCHING = True
#: subgradient steps per node of that branching, each 10-35 ms on china k=12. Branching on the parent's
#: multipliers for 125 s (load 4-6): 40 steps +0.35% above the root (184 nodes), 20 steps +0.42% (622),
#: 10 steps +0.33% (930)
NODE_STEPS = 20
#: what a node branches on: "last" (the free centre its Lagrangian takes last, session 5), "fractional" (the
#: free centre its steps chose closest to half of the time, as an LP branches on the most fractional y) or
#: "cluster" (how many centres open in a cluster of nearby candidates, :class:`_Clusters`: at most m / at
#: least m + 1, where the steps opened between m and m + 1 on average; a single centre is a cluster too).
#: China, from the converged root, by CPU seconds (load 5-7): 15 s +0.260% / +0.306% above the root, 30 s
#: +0.355% / +0.420% (last / fractional). Closing one centre of the LP's split pair lets its neighbour take
#: over at almost no cost; a cluster's count moves the territories around it
BRANCH_RULE = "cluster"
#: "cluster" branches on a cluster whose average count is at least this far from a whole number (the largest
#: such cluster). China from the converged root, gap after 15 / 30 / 45 CPU s: 0.1 0.88 / 0.67 / 0.63%,
#: 0.25 0.87 / 0.67 / 0.63%, 0.4 1.04 / 0.87 / 0.78%; the most fractional cluster (0.5 first), ties to the
#: smallest 1.31 / 1.23 / 1.17%, to the largest 1.16 / 1.02 / 0.93%; "fractional" 1.32 / 1.24 / 1.18%
CLUSTER_MIN = 0.25
#: a node's first step size (Polyak's factor). From the root's multipliers, 20 / 60 steps on the closed child
#: of china's first branch: 0.5 +444 / +4749, 0.2 +764 / +4491, 0.05 +108 / +2320
NODE_THETA = 0.2
#: close the centres reduced-cost fixing rules out at a node before branching it (:func:`_fixed_closed`).
#: China from the converged root, plan 5.72871e6, 30 CPU s (load 11-12): +0.385% above the root without,
#: +0.409% with (one run each: within the noise, kept as it can only raise the nodes' values)
NODE_FIXING = True
#: the root steps count which centres open once the step size is at most this (the late steps, near the LP)
GUIDE_THETA = 0.125
#: bytes the branching's nodes may hold (n multipliers and n centre values each)
NODE_MEMORY = 200e6


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
    # the caller's solver: its clock and Ctrl-C reach this call (a fresh Solver(...) heard neither)
    info = dataclasses.replace(solver, time_limit=seconds, mip_gap=0.0).solve(ap)
    return info.objective if info.status == "optimal" else math.nan


def pmedian_lagrangian_bound(d: TerritoryData, upper: float, seconds: float, *, iterations: int = 300,
                             solver: Solver | None = None) -> float:
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
        if norm == 0 or theta < 1e-4 or time.perf_counter() > deadline or (solver is not None and solver.interrupted):
            break
        gap = upper - value if math.isfinite(upper) else abs(value) + 1.0
        lam = lam + theta * max(gap, 1e-9) / norm * g
    return best


def _knapsack_attribute(d: TerritoryData) -> int | None:
    """The balance attribute with the narrowest band around its mean (loads >= 0, some bound set)."""
    best, width = None, math.inf
    for p in range(len(d.attrs)):
        a = d.loads[:, p]
        if (a < 0).any() or not (d.lower[p] > 0 or np.isfinite(d.upper[p])):
            continue
        mean = max(a.sum() / d.k, 1e-12)
        w = (d.upper[p] - d.lower[p]) / mean
        if w < width:
            best, width = p, w
    return best


def _knapsack_rows(r, a, ratio, lo, hi):
    """Row-wise ``min r.x`` s.t. ``lo <= a.x <= hi``, ``0 <= x <= 1`` (``a >= 0``) over the given items.

    The LP optimum takes items by ``ratio = r / a`` ascending up to the load
    ``clip(negative load, lo, hi)`` (one multiplier on the load row). Returns
    ``(value, x, exact)``: ``exact`` is False where the items given may not hold the
    whole answer (the target load is not reached, or every item is negative and more
    negative ones may exist outside).
    """
    order = np.argsort(ratio, axis=1)
    rs = np.take_along_axis(r, order, axis=1)
    as_ = np.take_along_axis(a, order, axis=1)
    neg = rs < 0
    negload = (as_ * neg).sum(axis=1)
    target = np.clip(negload, lo, hi)
    cum = np.cumsum(as_, axis=1)
    prev = cum - as_
    safe = np.where(as_ > 0, as_, 1.0)
    frac = np.where(as_ > 0, np.clip((target[:, None] - prev) / safe, 0.0, 1.0), neg)
    value = (rs * frac).sum(axis=1)
    tol = 1e-9 * np.maximum(1.0, np.abs(target))
    reached = cum[:, -1] >= target - tol
    all_neg = neg[:, -1]
    exact = reached & (~all_neg | (target <= negload - tol) | (target < lo + tol) & (target > negload + tol))
    x = np.empty_like(frac)
    np.put_along_axis(x, order, frac, axis=1)
    return value, x, exact


class _Pricing:
    """Each candidate centre's balanced knapsack at multipliers ``lambda``, exact over every region.

    ``evaluate(lam)`` returns ``phi[c] = min sum_v (w_v d(v, c) - lam_v) x_v`` over
    ``x_c = 1``, ``0 <= x <= 1``, ``lower <= a.x <= upper`` on attribute ``p`` (``inf``
    where no ``x`` reaches the lower load); ``subgradient(open_)`` the assignment rows'
    violation by the optimal ``x`` of the open centres at the last evaluation.

    Each centre is solved over its ``near`` nearest regions (default ``8 n / k``). A
    region outside that radius ``R_c`` has reduced cost at least ``w_v R_c - lam_v``;
    where that test cannot rule out that a farther region changes the answer (a
    negative reduced cost, or a cheaper way to fill the lower load), the centre is
    solved over every region, so every value is exact for the relaxation.
    """

    def __init__(self, d: TerritoryData, p: int, near: int | None = None) -> None:
        n, k = d.n, d.k
        self.n, self.k = n, k
        a = d.loads[:, p].astype(float)
        w = d.weights.astype(float)
        self.a, self.w = a, w
        self.lo_c = d.lower[p] - a  # what the other members must carry, per centre
        self.hi_c = d.upper[p] - a
        self.feasible = self.hi_c >= -1e-9 * max(1.0, abs(d.upper[p]))
        m = min(n - 1, near or max(int(8 * math.ceil(n / k)), 40))
        self.m = m
        self.dt = dt = d.dist.T  # dt[c, v] = d(v, c)
        masked = np.array(dt, dtype=float)
        np.fill_diagonal(masked, np.inf)
        self.nb = nb = np.argpartition(masked, m - 1, axis=1)[:, :m]
        rows = np.arange(n)[:, None]
        self.radius = masked[rows, nb].max(axis=1) if m < n - 1 else np.full(n, np.inf)
        q = min(max(n // k, 1), n - 1) - 1
        # a first lambda_v: a member's typical cost (the (n/k)-th cheapest centre of v)
        self.lam0 = w * np.partition(masked, q, axis=0)[q, :]
        del masked
        self.cost_n = w[nb] * dt[rows, nb]
        self.a_n = a[nb]
        self.inv_a = np.where(a > 0, 1.0 / np.where(a > 0, a, 1.0), 0.0)
        self.inv_an = self.inv_a[nb]
        self.zero_n = self.a_n <= 0
        self.pos = a > 0
        self.wa = np.where(self.pos, w * self.inv_a, np.inf)
        self.n_special = min(n, 64)
        self.short = min(m, max(int(2 * math.ceil(n / k)), 20))
        self.xs = self.x2 = None
        self.where: dict[int, int] = {}

    def evaluate(self, lam: np.ndarray) -> np.ndarray:
        n, m, short, nb = self.n, self.m, self.short, self.nb
        a, w, dt, lo_c, hi_c, pos, inv_a = self.a, self.w, self.dt, self.lo_c, self.hi_c, self.pos, self.inv_a
        r = self.cost_n - lam[nb]
        ratio = r * self.inv_an
        zero_n = self.zero_n
        ratio[zero_n] = np.where(r[zero_n] < 0, -np.inf, np.inf)
        # the knapsack over the ``short`` items of smallest ratio first (a partition, not a sort, of the
        # near list), over the whole near list only where those may not hold the answer
        if short < m:
            s1 = np.argpartition(ratio, short - 1, axis=1)[:, :short]
            value, x1, exact = _knapsack_rows(np.take_along_axis(r, s1, 1), np.take_along_axis(self.a_n, s1, 1),
                                              np.take_along_axis(ratio, s1, 1), lo_c, hi_c)
            xs = np.zeros_like(r)
            np.put_along_axis(xs, s1, x1, axis=1)
            again = np.flatnonzero(~exact)
            if len(again):
                v3, x3, e3 = _knapsack_rows(r[again], self.a_n[again], ratio[again], lo_c[again], hi_c[again])
                value[again], xs[again], exact[again] = v3, x3, e3
        else:
            value, xs, exact = _knapsack_rows(r, self.a_n, ratio, lo_c, hi_c)
        # regions outside the near list: reduced cost >= w_v R_c - lambda_v. The few regions with the
        # largest lambda_v / w_v or lambda_v / a_v (remote ones) are checked at their true distance,
        # the rest against their largest ratio
        radius, ns = self.radius, self.n_special
        t = np.where(w > 0, lam / np.where(w > 0, w, 1.0), np.where(lam > 0, np.inf, -np.inf))
        ta = np.where(pos, lam * inv_a, -np.inf)
        special = np.union1d(np.argpartition(-t, ns - 1)[:ns], np.argpartition(-ta, ns - 1)[:ns])
        rest = np.ones(n, dtype=bool)
        rest[special] = False
        ds = dt[:, special]  # (n centres, |special|)
        beyond = ds >= radius[:, None]
        rs_ = w[special][None, :] * ds - lam[special][None, :]
        exact &= radius >= (t[rest].max() if rest.any() else -np.inf)
        exact &= ~(beyond & (rs_ < 0)).any(axis=1)
        used = np.where(xs > 0, ratio, -np.inf).max(axis=1)
        if pos.any():
            floor = radius * float(self.wa[rest & pos].min(initial=np.inf)) - float(ta[rest & pos].max(initial=-np.inf))
            sp = pos[special]
            with np.errstate(divide="ignore", invalid="ignore"):
                fs = np.where(beyond & sp[None, :], rs_ * inv_a[special][None, :], np.inf).min(axis=1, initial=np.inf)
            exact &= (used <= 0) | (used <= np.minimum(floor, fs))
        redo = np.flatnonzero(~exact & self.feasible)
        x2 = None
        if len(redo):
            rr = w[None, :] * dt[redo] - lam[None, :]
            ra = np.broadcast_to(a, rr.shape).copy()
            idx = np.arange(len(redo))
            rr[idx, redo] = 0.0  # the centre: no load, no cost, never taken in its own row
            ra[idx, redo] = 0.0
            with np.errstate(divide="ignore", invalid="ignore"):
                rq = np.where(ra > 0, rr / np.where(ra > 0, ra, 1.0), np.where(rr < 0, -np.inf, np.inf))
            v2, x2, ok2 = _knapsack_rows(rr, ra, rq, lo_c[redo], hi_c[redo])
            value[redo] = np.where(ok2, v2, np.inf)  # no set of regions reaches that centre's lower load
        self.xs, self.x2 = xs, x2
        self.where = {c: i for i, c in enumerate(redo.tolist())}
        return np.where(self.feasible, value - lam, np.inf)

    def subgradient(self, open_: np.ndarray) -> np.ndarray:
        """``1 - sum over the open centres of x`` per region (the assignment rows' violation)."""
        g = np.ones(self.n)
        g[open_] -= 1.0
        for c in open_.tolist():
            if c in self.where:
                g -= self.x2[self.where[c]]
            else:
                np.subtract.at(g, self.nb[c], self.xs[c])
        return g


def balanced_lagrangian_bound(d: TerritoryData, upper: float, seconds: float, *, iterations: int = 3000,
                              near: int | None = None, lam0: np.ndarray | None = None,
                              out: dict | None = None, solver: Solver | None = None, branch: bool = False) -> float:
    """Lagrangian bound of the balanced p-median (every pair allowed): valid for every plan of ``d``.

    The assignment rows are priced by ``lambda``; each candidate centre ``c`` keeps its
    balance row on one attribute (the narrowest band), so its subproblem is a knapsack
    with a lower and an upper load, solved as an LP (items by reduced cost per unit of
    load). ``L(lambda) = sum(lambda) + the k smallest centre values``. Contiguity, the
    other attributes and integrality of the knapsack are dropped, which can only lower
    it; the balance rows are what lift it above :func:`pmedian_lagrangian_bound`
    (china, k=12, 5%: gap to the same plan 14.2% -> 3.1%).

    Each step is exact for the relaxation over every region (:class:`_Pricing`, over
    each centre's ``near`` nearest regions where that provably suffices). Subgradient
    steps (Held-Karp, ``upper`` the incumbent's objective) from ``lam0`` run ``seconds``
    at most; ``out`` receives the best step's ``lam``. With ``branch`` (and ``BRANCHING``), the
    time left after the steps goes to branching on centres (:func:`_centre_branching`), which lifts
    the bound above the LP.
    """
    if d.centres is not None or d.dist is None or d.n < 2:
        return math.nan
    p = _knapsack_attribute(d)
    if p is None:
        return pmedian_lagrangian_bound(d, upper, seconds, solver=solver)
    deadline = time.perf_counter() + seconds
    out = {} if out is None else out
    if lam0 is None:
        # resume the steps an earlier call on ``d`` made (the location-allocation guide's, in the heuristic)
        st = _root(d, p, near)
        pr = st["pr"]
        if pr.feasible.sum() < d.k:
            return math.nan
        bound = _resume(st, upper, deadline, iterations, solver)
        out["lam"] = st["lam"]
    else:
        pr = _Pricing(d, p, near)
        if pr.feasible.sum() < d.k:
            return math.nan
        bound = _subgradient(pr, np.asarray(lam0, dtype=float).copy(), upper, deadline, iterations, out, stop=solver)
    if branch and BRANCHING and math.isfinite(bound) and math.isfinite(upper) and "lam" in out:
        # the dives' tree (lagrangian_dives, in the heuristic) goes on here; it grew from the converged root
        tree = st.setdefault("tree", {}) if lam0 is None and st["theta"] < 1e-4 else None
        bound = max(bound, _centre_branching(pr, out["lam"], bound, upper, deadline, stop=solver, tree=tree))
    return bound


def lagrangian_dives(d: TerritoryData, upper: float, seconds: float, visit, solver: Solver | None = None) -> bool:
    """Branching on centres for at most ``seconds``, ``visit(centres)`` at each node stepped (a Lagrangian
    heuristic: location-allocation from each node's centres); False when the root has not converged yet.

    The nodes are kept on ``d``'s root state, so the bound stage's branching
    (:func:`balanced_lagrangian_bound` with ``branch``) goes on from them: the time spent here also
    raises the bound. Runs only once :func:`lagrangian_guide`'s root steps have converged.
    """
    p = _knapsack_attribute(d)
    if d.centres is not None or d.dist is None or p is None or not math.isfinite(upper) or not BRANCHING:
        return False
    st = _root(d, p, None)
    if st["theta"] >= 1e-4 or not math.isfinite(st["best"]):
        return False
    _centre_branching(st["pr"], st["lam"], st["best"], upper, time.perf_counter() + seconds, stop=solver,
                      tree=st.setdefault("tree", {}), visit=visit)
    return True


#: the root Lagrangian's steps per :class:`TerritoryData` (``id -> (weakref, state)``): the location-allocation
#: guide (:func:`lagrangian_guide`) takes them during the heuristic and the bound stage resumes from where they
#: stopped instead of starting again
_ROOTS: dict[int, tuple] = {}


def _fingerprint(a: np.ndarray) -> tuple:
    """``a``'s shape, type and a CRC-32 of its bytes: any change of a value or of its place changes it (but for a
    2**-32 chance), in place or by a new array (whose ``id`` may be a freed one's). 16 ms for the 2,800 x 2,800
    distances of the county map, 0.3 ms for china's 340 x 340."""
    a = np.ascontiguousarray(a)
    return a.shape, a.dtype.str, zlib.crc32(memoryview(a).cast("B"))


def _root(d: TerritoryData, p: int, near: int | None) -> dict:
    """The cached root state of ``d`` (its pricing, best ``lambda``, step size, centre counts), made if missing.

    The key holds what the pricing reads (the band, ``k``, the contents of the distances, loads and weights), so
    a changed ``d``, in place or not, never reuses the state made for other data."""
    key = (p, near, d.k, d.lower.tobytes(), d.upper.tobytes(), _fingerprint(d.dist), _fingerprint(d.loads),
           _fingerprint(d.weights))
    hit = _ROOTS.get(id(d))
    if hit is not None and hit[0]() is d and hit[1]["key"] == key:
        return hit[1]
    pr = _Pricing(d, p, near)
    st = {"key": key, "pr": pr, "lam": pr.lam0.copy(), "theta": 2.0, "best": -math.inf,
          "often": np.zeros(d.n), "counted": 0}
    if hit is None:
        weakref.finalize(d, _ROOTS.pop, id(d), None)  # the state (n x 8n/k arrays) goes with its map
    _ROOTS[id(d)] = (weakref.ref(d), st)
    return st


def _resume(st: dict, upper: float, deadline: float, iterations: int, stop: Solver | None) -> float:
    """Subgradient steps from the state's best ``lambda`` and step size, until they converge or ``deadline``;
    the state keeps the best. Returns the best value so far (valid for every plan, at any ``upper``)."""
    if st["theta"] < 1e-4 and math.isfinite(st["best"]):
        return st["best"]  # converged already
    out: dict = {}
    value = _subgradient(st["pr"], st["lam"].copy(), upper, deadline, iterations, out, stop=stop, theta=st["theta"])
    if not math.isfinite(value):
        return value
    if "lam" in out and value >= st["best"]:
        st["best"], st["lam"] = value, out["lam"]
    st["theta"] = out.get("theta", st["theta"])
    if "often" in out:
        st["often"] = st["often"] + out["often"]
        st["counted"] += int(out["often"].sum()) // st["pr"].k
    return st["best"]


def lagrangian_guide(d: TerritoryData, upper: float, seconds: float, solver: Solver | None = None,
                     rng: np.random.Generator | None = None, new: bool = False) -> list[int] | None:
    """``k`` centres the balanced Lagrangian opens most often, for location-allocation to start from; None
    where the Lagrangian does not apply.

    The steps (at most ``seconds``, resumed from earlier calls on ``d``, kept for the bound stage) tend to
    the balanced p-median LP, whose centres are mostly whole (china, k=12, 5%: 8 of them at y > 0.85, the
    rest of the territories spread over ~16 centres). The centres opened most often in the late steps
    estimate ``y``; without ``rng`` the ``k`` largest, with it the whole ones plus a draw of the others by
    ``y`` (another start each call). China: location-allocation from the 12 largest reached 5.72871e6 in
    24 s, below the heuristic's 96 s plans (5.738e6-5.741e6). With ``new``, None when an earlier call on ``d``
    returned the same centres (a short first call, e.g. the default path's 5 s warm start, does not use up
    the guide: the set changes as the steps converge).
    """
    if d.centres is not None or d.dist is None or d.n < 2:
        return None
    p = _knapsack_attribute(d)
    if p is None:
        return None
    st = _root(d, p, None)
    if st["pr"].feasible.sum() < d.k:
        return None
    value = _resume(st, upper, time.perf_counter() + seconds, 3000, solver)
    if not math.isfinite(value):
        return None
    k = d.k
    y = st["often"] / max(st["counted"], 1)
    if st["counted"] == 0:
        phi = st["pr"].evaluate(st["lam"])
        y = np.zeros(d.n)
        y[np.argpartition(phi, k - 1)[:k]] = 1.0
    if rng is None:
        out = [int(c) for c in np.argsort(-y, kind="stable")[:k]]
        seen = st.setdefault("returned", set())
        if new and frozenset(out) in seen:
            return None
        seen.add(frozenset(out))
        return out
    whole = np.flatnonzero(y >= 0.99)[:k].tolist()
    rest = np.setdiff1d(np.flatnonzero(y > 0), whole)
    m = k - len(whole)
    if m > len(rest):
        return [int(c) for c in np.argsort(-y, kind="stable")[:k]]
    pick = rng.choice(rest, size=m, replace=False, p=y[rest] / y[rest].sum()) if m > 0 else []
    return [int(c) for c in [*whole, *pick]]


def _value(lam_sum: float, phi: np.ndarray, k: int, opened: frozenset, closed: frozenset, groups: frozenset = (),
           clusters: _Clusters | None = None):
    """A node's Lagrangian value at one ``lambda`` (``phi`` its centre values, ``lam_sum`` its sum) and the
    centres it opens: those in ``opened``, then the ``k - |opened|`` smallest ``phi`` of the others not in
    ``closed`` (with ``groups``, as many open in each cluster as its range allows: :func:`_laminar_value`).
    ``(inf, None)`` when fewer than ``k`` centres can open (no plan in the node)."""
    if groups:
        return _laminar_value(lam_sum, phi, k, opened, closed, groups, clusters)
    fo = np.fromiter(opened, dtype=np.int64, count=len(opened))
    rest = phi.copy()
    rest[fo] = np.inf
    rest[np.fromiter(closed, dtype=np.int64, count=len(closed))] = np.inf
    m = k - len(fo)
    free = np.argpartition(rest, m - 1)[:m] if m > 0 else np.zeros(0, dtype=np.int64)
    chosen = np.r_[fo, free].astype(np.int64)
    if not np.isfinite(phi[chosen]).all():
        return math.inf, None
    return float(lam_sum + phi[chosen].sum()), chosen


class _Clusters:
    """Clusters of nearby candidate centres for :data:`BRANCH_RULE` "cluster": the average-linkage tree on the
    distances, a laminar family (any two clusters nested or disjoint). Cluster ``g`` is the positions
    ``start[g]:end[g]`` of ``order`` (leaves ``0..n-1`` are the single centres, ``n..2n-2`` the merges)."""

    def __init__(self, dist: np.ndarray) -> None:
        from scipy.cluster.hierarchy import leaves_list, linkage
        from scipy.spatial.distance import squareform

        n = len(dist)
        sym = 0.5 * (dist + dist.T)
        np.fill_diagonal(sym, 0.0)
        z = linkage(squareform(sym, checks=False), method="average")
        self.order = leaves_list(z)
        start = np.empty(2 * n - 1, dtype=np.int64)
        end = np.empty(2 * n - 1, dtype=np.int64)
        start[self.order] = np.arange(n)
        end[:n] = start[:n] + 1
        for i, (a, b) in enumerate(z[:, :2].astype(np.int64).tolist()):
            start[n + i], end[n + i] = min(start[a], start[b]), max(end[a], end[b])
        self.n, self.start, self.end = n, start, end


def _laminar_value(lam_sum: float, phi: np.ndarray, k: int, opened: frozenset, closed: frozenset,
                   groups: frozenset, cl: _Clusters):
    """:func:`_value` where each cluster ``g`` of ``groups`` (``(g, lo, hi)``) opens between ``lo`` and ``hi``
    centres: the cheapest ``k`` centres under those counts, exactly (the clusters are laminar, so a dynamic
    programme over their tree: each cluster's cheapest ``j`` centres, for ``j = 0..k``, combine its children's
    and its own by min-plus convolution, then keep ``lo <= j <= hi``)."""
    n = cl.n
    vals = phi.astype(float, copy=True)
    vals[np.fromiter(closed, dtype=np.int64, count=len(closed))] = np.inf
    must = np.zeros(n, dtype=bool)
    must[np.fromiter(opened, dtype=np.int64, count=len(opened))] = True
    if not np.isfinite(vals[must]).all():
        return math.inf, None
    vals, must = vals[cl.order], must[cl.order]  # by position: each cluster a slice
    spans: dict = {(0, n): [k, k]}  # the whole map opens k
    for g, lo, hi in groups:
        key = (int(cl.start[g]), int(cl.end[g]))
        cur = spans.setdefault(key, [0, k])
        cur[0], cur[1] = max(cur[0], lo), min(cur[1], hi)
    iv = sorted(spans, key=lambda t: (t[0], -t[1]))
    kids: list = [[] for _ in iv]
    stack: list = []
    for i, (s, _e) in enumerate(iv):
        while stack and iv[stack[-1]][1] <= s:
            stack.pop()
        if stack:
            kids[stack[-1]].append(i)
        stack.append(i)
    keep: dict = {}

    def solve(i):
        s, e = iv[i]
        own = np.ones(e - s, dtype=bool)
        for c in kids[i]:
            own[iv[c][0] - s:iv[c][1] - s] = False
        pos = np.flatnonzero(own) + s
        fixed = pos[must[pos]]
        free = pos[~must[pos] & np.isfinite(vals[pos])]
        q = min(len(free), k)
        if q < len(free):
            free = free[np.argpartition(vals[free], q - 1)[:q]]
        free = free[np.argsort(vals[free], kind="stable")]
        f = np.full(k + 1, np.inf)
        m0 = len(fixed)
        if m0 <= k:
            top = min(k, m0 + q)
            f[m0:top + 1] = float(vals[fixed].sum()) + np.r_[0.0, np.cumsum(vals[free])][:top - m0 + 1]
        splits = []
        for c in kids[i]:
            fc = solve(c)
            g = np.full(k + 1, np.inf)
            arg = np.zeros(k + 1, dtype=np.int64)
            for j in range(k + 1):
                cand = f[:j + 1] + fc[j::-1]
                a = int(np.argmin(cand))
                g[j], arg[j] = cand[a], a
            splits.append((c, arg))
            f = g
        lo, hi = spans[iv[i]]
        f[:max(lo, 0)] = np.inf
        f[hi + 1:] = np.inf
        keep[i] = (fixed, free, m0, splits)
        return f

    root = iv.index((0, n))
    best = solve(root)[k]
    if not math.isfinite(best):
        return math.inf, None
    chosen: list = []

    def take(i, j):
        fixed, free, m0, splits = keep[i]
        for c, arg in reversed(splits):
            a = int(arg[j])
            take(c, j - a)
            j = a
        chosen.extend(fixed.tolist())
        chosen.extend(free[:j - m0].tolist())

    take(root, k)
    chosen_ = cl.order[np.asarray(chosen, dtype=np.int64)]
    return float(lam_sum + best), chosen_


def _children(lam_sum: float, phi: np.ndarray, k: int, opened: frozenset, closed: frozenset, pick,
              groups: frozenset = frozenset(), clusters: _Clusters | None = None):
    """The two children of a node branching on ``pick``, each ``((opened, closed, groups), value)`` with its
    Lagrangian value at the node's multipliers (``phi``, ``lam_sum``): a valid bound for it before any step.

    ``pick`` a centre: open / closed. ``pick = (g, m)``, cluster ``g`` of ``clusters`` (:data:`BRANCH_RULE`
    "cluster"): at most ``m`` / at least ``m + 1`` centres open in it (a child with an empty range is left out).
    """
    if not isinstance(pick, tuple):
        kids = ((opened | {pick}, closed, groups), (opened, closed | {pick}, groups))
    else:
        g, m = pick
        lo, hi = next(((a, b) for h, a, b in groups if h == g), (0, k))
        rest = frozenset(t for t in groups if t[0] != g)
        kids = tuple((opened, closed, rest | {(g, a, b)}) for a, b in ((lo, min(hi, m)), (max(lo, m + 1), hi))
                     if a <= b)
    return [(child, _value(lam_sum, phi, k, *child, clusters)[0]) for child in kids]


def _clusters(pr: _Pricing) -> _Clusters:
    """The pricing's candidate clusters (made on first use: one linkage over the distances)."""
    if getattr(pr, "clusters", None) is None:
        pr.clusters = _Clusters(pr.dt)
    return pr.clusters


def _node(pr: _Pricing, lam: np.ndarray, opened: frozenset, closed: frozenset, upper: float, steps: int,
          deadline: float, stop: Solver | None, groups: frozenset = frozenset()):
    """Subgradient steps on the Lagrangian of a node where the centres in ``opened`` are open and those in
    ``closed`` are not, from ``lam``.

    ``L(lambda) = sum(lambda) + sum of phi over opened + the k - |opened| smallest phi of the other centres
    (not closed)``: every plan of the node has its k centres so, so each value bounds each of its plans.
    Returns ``(best value, its lambda, its phi, centre to branch on or None)``; the value is ``inf`` when
    fewer than ``k`` centres can open. The centre to branch on is the free centre taken last (the largest
    ``phi`` among those chosen); None when the node fixes every centre. With :data:`BRANCH_RULE` "cluster"
    and ``groups`` (cluster counts, :func:`_laminar_value`) the pick may be ``(g, m)``: the cluster whose
    centres the steps opened closest to ``m + 1/2`` times on average (:func:`_children`).
    """
    k = pr.k
    base = float(pr.lam0.mean()) if pr.lam0.mean() > 0 else 0.0
    scale = np.maximum(pr.lam0, 0.1 * base) / base if base > 0 else np.ones(pr.n)
    best, best_lam, best_phi, pick, theta, stall = -math.inf, lam, None, None, NODE_THETA, 0
    often = np.zeros(pr.n)  # how often each centre is chosen over the steps (its y in the LP, roughly)
    done = 0
    cl = _clusters(pr) if groups or BRANCH_RULE == "cluster" else None
    for _ in range(steps):
        phi = pr.evaluate(lam)
        val, chosen = _value(float(lam.sum()), phi, k, opened, closed, groups, cl)
        if chosen is None:
            return math.inf, lam, None, None
        often[chosen] += 1
        done += 1
        if val > best:
            best, best_lam, best_phi, stall = val, lam.copy(), phi.copy(), 0
            free = np.array([c for c in chosen.tolist() if c not in opened], dtype=np.int64)
            pick = int(free[np.argmax(phi[free])]) if len(free) else None
        else:
            stall += 1
            if stall >= 10:
                theta, stall = theta / 2, 0
        g = pr.subgradient(chosen) * scale
        norm = float(g @ g)
        if norm < 1e-12 or val >= upper or time.perf_counter() > deadline or (stop is not None and stop.interrupted):
            break
        lam = lam + theta * max(upper - val, 1e-9) / norm * g
    if BRANCH_RULE == "fractional" and pick is not None:
        y = often / max(done, 1)
        free = np.ones(pr.n, dtype=bool)
        free[list(opened)] = False
        free[list(closed)] = False
        frac = np.flatnonzero(free & (y > 0) & (y < 1))
        if len(frac):
            pick = int(frac[np.argmin(np.abs(y[frac] - 0.5))])
    if BRANCH_RULE == "cluster" and pick is not None:
        # each cluster's count of open centres averaged over the steps (its sum of y, roughly); of those at
        # least CLUSTER_MIN from a whole number (else the most fractional), the largest cluster
        ys = np.r_[0.0, np.cumsum((often / max(done, 1))[cl.order])]
        s = ys[cl.end] - ys[cl.start]
        frac = s - np.floor(s + 1e-9)
        score = np.minimum(frac, 1.0 - frac)
        top = float(score.max())
        if top > 1e-9:
            size = (cl.end - cl.start).astype(float)
            g = int(np.argmax(np.where(score >= min(CLUSTER_MIN, top), 1.0 + size, score)))
            pick = g if g < pr.n else (g, int(np.floor(s[g] + 1e-9)))
    return best, best_lam, best_phi, pick


def _fixed_closed(lam_sum: float, phi: np.ndarray, k: int, opened: frozenset, closed: frozenset,
                  upper: float) -> frozenset:
    """Centres no plan of the node below ``upper`` opens: reduced-cost fixing at one ``lambda``.

    A plan of the node that opens a free centre ``c`` the Lagrangian does not choose costs at least the
    node's value at ``lambda`` with ``c`` in place of the last centre chosen, ``value + phi_c - phi_last``;
    where that reaches ``upper`` the node's better plans leave ``c`` closed.
    """
    value, chosen = _value(lam_sum, phi, k, opened, closed)
    if chosen is None:
        return frozenset()
    free = np.array([c for c in chosen.tolist() if c not in opened], dtype=np.int64)
    if not len(free):
        return frozenset()
    last = float(phi[free].max())
    out = np.isfinite(phi) & (value + phi - last >= upper)
    out[chosen] = False
    return frozenset(np.flatnonzero(out).tolist()) - opened


def _centre_branching(pr: _Pricing, lam: np.ndarray, root: float, upper: float, deadline: float,
                      stop: Solver | None = None, tree: dict | None = None, visit=None) -> float:
    """Best-first branching on centres (open / closed, or how many open in a cluster of nearby candidates:
    :data:`BRANCH_RULE`), the Lagrangian at each node, until ``deadline``.

    The balanced p-median LP (which the root Lagrangian tends to) opens many centres a little
    (china, k=12: 23 centres at y > 0, 5 territories' worth spread over 16 of them); branching on
    the centres, or on a cluster's count, lifts the bound above the LP. A node gets its
    ``NODE_STEPS`` steps (from its parent's multipliers) when it is the lowest one left; its
    children enter with their value at its best multipliers (a valid bound, no steps). Every node
    keeps at least its parent's value (its plans are among the parent's); nodes whose bound
    reaches ``upper`` (a plan's objective) hold no better plan and are dropped. Returns the
    smallest bound of the nodes left (``upper`` when none is left), never below ``root``.

    ``tree`` (a dict) keeps the nodes between calls: a later call goes on from them (a lower ``upper``
    only drops more of them). ``visit(centres)`` is called with each stepped node's chosen centres
    (the Lagrangian heuristic's dives, :func:`lagrangian_dives`).
    """
    # heap entries: (bound, tie, opened, closed, cluster counts, lambda to start from, phi and pick once stepped,
    # or None)
    tree = {} if tree is None else tree
    if "heap" not in tree:
        tree.update(heap=[(root, 0, frozenset(), frozenset(), frozenset(), lam, None)], count=1, nodes=0)
    heap, count, nodes = tree["heap"], tree["count"], tree["nodes"]
    # the lowest plan value any call pruned against: an emptied tree proves no plan below it, not below a
    # higher ``upper`` of a later call (another solve of the same model with less time)
    upper = tree["upper"] = min(upper, tree.get("upper", math.inf))
    cap = max(100, int(NODE_MEMORY / (16 * pr.n)))  # each stepped node holds lambda and phi
    cl = _clusters(pr) if BRANCH_RULE == "cluster" else getattr(pr, "clusters", None)
    while heap and time.perf_counter() < deadline and not (stop is not None and stop.interrupted):
        val, _, opened, closed, groups, lam_p, done = heap[0]
        if done is None:
            v, lam_b, phi_b, pick = _node(pr, lam_p, opened, closed, upper, NODE_STEPS, deadline, stop, groups)
            nodes += 1
            if visit is not None and phi_b is not None:
                chosen = _value(float(lam_b.sum()), phi_b, pr.k, opened, closed, groups, cl)[1]
                if chosen is not None:
                    visit([int(c) for c in chosen])
            v = max(v, val)
            if v >= upper:
                heapq.heappop(heap)  # no plan better than ``upper`` in this node
            elif pick is None:
                # every centre fixed: its value rises only with more steps, from where they stopped
                heapq.heapreplace(heap, (v, count, opened, closed, groups, lam_b, None))
                if v <= val:
                    break
            else:
                heapq.heapreplace(heap, (v, count, opened, closed, groups, lam_b, (phi_b, pick)))
            count += 1
            continue
        if len(heap) >= cap:
            break
        heapq.heappop(heap)
        phi_b, pick = done
        if NODE_FIXING:
            closed = closed | _fixed_closed(float(lam_p.sum()), phi_b, pr.k, opened, closed, upper)
        for child, v in _children(float(lam_p.sum()), phi_b, pr.k, opened, closed, pick, groups, cl):
            v = max(v, val)
            if v < upper:
                heapq.heappush(heap, (v, count, *child, lam_p, None))
                count += 1
    tree["count"], tree["nodes"] = count, nodes
    log.debug("territories: centre branching %d nodes stepped, %d left, bound %.6g (root %.6g)", nodes, len(heap),
              heap[0][0] if heap else upper, root)
    return max(root, min(heap[0][0], upper)) if heap else max(root, upper)


def _subgradient(pr: _Pricing, lam: np.ndarray, upper: float, deadline: float, iterations: int,
                 out: dict | None = None, stop: Solver | None = None, theta: float = 2.0) -> float:
    """Held-Karp subgradient steps from ``lam``, each region's step scaled by its typical cost.

    A step moves ``lambda_v`` in proportion to ``lam0_v`` (a member's typical cost, floored
    at a tenth of the mean): a heavy remote region's multiplier needs a move many times a
    light central one's. China, k=12, 10 s: the plain steps stop at 5.613e6, scaled ones
    reach 5.633e6 (the LP is 5.640e6). Any ``lambda`` gives a valid bound, so the scaling
    changes only how fast the bound rises.
    """
    k = pr.k
    base = float(pr.lam0.mean()) if SCALED and pr.lam0.mean() > 0 else 0.0
    scale = np.maximum(pr.lam0, 0.1 * base) / base if base > 0 else np.ones(pr.n)
    best, stall = -math.inf, 0
    often = np.zeros(pr.n)
    for _ in range(iterations):
        phi = pr.evaluate(lam)
        open_ = np.argpartition(phi, k - 1)[:k]
        if not np.isfinite(phi[open_]).all():
            return math.nan
        if theta <= GUIDE_THETA:
            often[open_] += 1  # late steps: how often each centre opens tends to its y in the LP
        val = float(lam.sum() + phi[open_].sum())
        if val > best + 1e-9 * max(1.0, abs(best)) or not math.isfinite(best):
            best, stall = val, 0
            if out is not None:
                out["lam"] = lam.copy()
        else:
            stall += 1
            if stall >= PATIENCE:
                theta, stall = theta / 2, 0
        g = pr.subgradient(open_) * scale
        norm = float(g @ g)
        if norm < 1e-12 or theta < 1e-4 or time.perf_counter() > deadline or (stop is not None and stop.interrupted):
            break
        gap = upper - val if math.isfinite(upper) else abs(val) + 1.0
        lam = lam + theta * max(gap, 1e-9) / norm * g
    if out is not None:
        out.update(theta=theta, often=often, best=best)
    return best


#: what a plan's message says when the bound stage did not run
SKIPPED = "bound stage skipped, the time limit was reached before it"


def valid_bound(model, d: TerritoryData, upper: float, solver: Solver, seconds: float) -> tuple[float, str]:
    """The best bound for the problem the user asked that fits in ``seconds``, and where it came from.

    With no time left (``seconds <= 0``) only the counting bound is computed (no LP, no
    subgradient steps), and ``how`` says the bound stage was skipped. Every stage runs on
    the caller's ``solver``: its clock and Ctrl-C stop it.
    """
    bound, how = combinatorial_bound(model, d), "counting"
    if seconds <= 0:
        return bound, f"{how} ({SKIPPED})"
    if model.objective == "compactness" and d.centres is None:
        t0 = time.perf_counter()
        lp = pmedian_lp_bound(model, d, solver, seconds / 2)
        if math.isfinite(lp) and lp > bound:
            bound, how = lp, "the unrestricted LP"
        elif d.n * d.n <= 16_000_000 and not solver.interrupted:
            left = seconds - (time.perf_counter() - t0)
            if _knapsack_attribute(d) is not None:
                # with a time limit the time the steps leave goes to branching; without one the stage ends
                # when the steps converge (the branching would take all of BOUND_SECONDS)
                timed = solver.remaining() is not None
                lag = balanced_lagrangian_bound(d, upper, left, solver=solver, branch=timed)
                name = "the balanced p-median Lagrangian" + (" with branching on centres" if BRANCHING and timed
                                                             else "")
            else:
                lag, name = pmedian_lagrangian_bound(d, upper, left, solver=solver), "the p-median Lagrangian"
            if math.isfinite(lag) and lag > bound:
                bound, how = lag, name
    return bound, how
