"""Root cut-and-price: the set-partitioning bound lifted by subset-row cuts, priced exactly by root.

The master is :mod:`.columns`'s set-partitioning LP over connected balanced territories ``S`` with, for chosen
triples ``T`` of regions, the subset-row rows of Jepsen, Petersen, Spoorendonk and Pisinger (2008)::

    sum_S floor(|S & T| / 2) lam_S <= 1          (duals sigma_T <= 0)

Every partition keeps them (at most one of its territories holds two of three regions), so they cut fractional
masters only. The pricing of a root ``p`` (:class:`.columns._RootPricing`'s MIPs) gets one column ``y_T`` per
cut, ``y_T >= s_a + s_b - 1`` for each pair of ``T``, priced at ``-sigma_T >= 0``: its least is exactly
``min c(S) - pi(S) - sum_T sigma_T floor(|S & T| / 2)`` over the sets rooted at ``p``. For every ``pi`` and
``sigma <= 0`` each plan then costs at least (Lagrangian, the cut rows relaxed with ``sigma``)::

    sum_v pi_v + sum_T sigma_T + root_dp(least)

(:func:`.columns.root_dp`: one increasing root per slot), a bound at every round where every root's MIP ran,
its dual bound standing for it when it stopped early. A MIP priced with HiGHS's ``objective_bound`` at ``cut``
that finds nothing under it proves ``least >= cut``: rounds after the first price each root with the cutoff
that, met by every root, already lifts the bound past ``incumbent - 1`` (whole-number borders), so the MIPs
prune more and stop at the columns that matter for the proof, not for the LP's last digits.

The rows, their separation, the master LP with them and the pricing MIPs' cut variables are
:mod:`.master_cuts`'s. Rounds: the master LP; heuristic pricing (:class:`.columns._Local`, at the master's duals and
smoothed toward the best bound's, checked at the true reduced cost); when it finds nothing the LP has stalled and
the most violated SR3 rows of its solution are added (at most :data:`CUTS_PER_ROUND`, each region in at most two of
them); when none is violated, a pass of exact pricing by
root, stopped after :data:`PARTIAL` columns (a full pass is a bound). The stage ends when the bound proves the
incumbent, when a full pass finds no column and no cut is violated (the master LP with these cuts is solved:
its value is the bound), or at the deadline / Ctrl-C.

Measured on Alabama (k=7, optimum 55): benchmarks/RESULTS.md, "Issue 12 (session 10): root cut-and-price".
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time

import numpy as np

from ...solver import Solver
from . import columns, master_cuts
from .data import TerritoryData

__all__ = ["CutPriceResult", "cut_and_price", "cutprice_applies", "cutprice_stage"]

log = logging.getLogger("channelopt.models")

#: run :func:`cut_and_price` as a stage of the exact path (contiguous interchangeable cut-edge territories), before
#: the labelling MILP; off by default
STAGE = False
#: share of what is left of the solve's time limit the stage may use (seconds without a limit)
STAGE_SHARE = 0.8
STAGE_SECONDS = 600.0
#: SR3 rows added per separation, and in all
CUTS_PER_ROUND = 10
MAX_CUTS = 120
#: the stalled master is cut only while its artificial columns cover less than this (in regions)
ART_SEPARATE = 1e-6
#: least violation (``lhs - 1``) of a row worth adding
MIN_VIOLATION = 0.02
#: columns that end a pass of exact pricing (0: every root each pass)
PARTIAL = 5
#: improving solutions after which a pricing MIP stops when it is not needed for a bound (0: to optimality)
QUICK = 3
#: seconds at most for one pricing MIP at first (doubled each time one stops early without a column)
PRICING_SECONDS = 20.0
#: heuristic pricing also at ``SMOOTHING * centre + (1 - SMOOTHING) * pi`` (0: at the master's duals only)
SMOOTHING = 0.7
#: exact passes while the master LP is above the target price at ``EXACT_SMOOTHING * centre + (1 - ...) * pi``
#: (0: at the master's duals); a pass whose sets are no column falls back to the master's duals once
EXACT_SMOOTHING = 0.5
#: the proof cutoff keeps this share of the slack ``(lp - target) / k`` (below 1: the pass proves with room)
CUTOFF_SHARE = 0.9


@dataclasses.dataclass
class CutPriceResult:
    """What :func:`cut_and_price` found.

    Attributes
    ----------
    bound : float
        A lower bound on the cut edges of every contiguous balanced ``k``-partition (``-inf`` without one).
    lp : float
        The restricted master LP (with its cuts) in the last round.
    proven : bool
        Whether the bound proves the incumbent (whole-number borders: bound > incumbent - 1).
    converged : bool
        Whether the master LP with the cuts in hand was solved (a full pass found no column).
    rounds, columns, cuts, passes, mips : int
        Master rounds, columns, SR3 rows, passes of exact pricing (full or partial), pricing MIPs run.
    seconds, mip_cpu : float
        Wall seconds, CPU seconds in the pricing MIPs.
    trajectory : list of tuple
        ``(cpu s, lp, bound, cuts)`` after each full pass.
    rows : list of tuple
        The SR3 rows' triples (region positions) in the master at the end.
    """

    bound: float
    lp: float
    proven: bool = False
    converged: bool = False
    rounds: int = 0
    columns: int = 0
    cuts: int = 0
    passes: int = 0
    mips: int = 0
    seconds: float = 0.0
    mip_cpu: float = 0.0
    trajectory: list = dataclasses.field(default_factory=list)
    rows: list = dataclasses.field(default_factory=list)


class _CutMaster:
    """The restricted master LP with SR3 rows, artificial columns keeping it feasible (as :class:`.columns._Master`).
    ``cols`` and ``cost`` are what :func:`.columns._local_price` reads."""

    def __init__(self, d: TerritoryData, big: float):
        self.d, self.big = d, big
        self.cols: list[np.ndarray] = []
        self.cost: list[float] = []
        self.keys: set[bytes] = set()
        self.cuts: list[tuple[int, ...]] = []

    def add(self, members: np.ndarray) -> bool:
        key = np.packbits(members).tobytes()
        if (key in self.keys or not columns._balanced(self.d, members)
                or len(columns._components(self.d.adj, members)) != 1):
            return False  # a column is a territory some plan may hold: connected, every balance bound kept
        self.keys.add(key)
        self.cols.append(members.copy())
        self.cost.append(columns.territory_cost(self.d, members))
        return True

    def solve(self):
        """``(lp, pi, mu, sigma, lam, artificial)`` (:func:`.master_cuts.master_lp`), ``sigma`` clipped to ``<= 0``
        (the Lagrangian bound holds for every such ``sigma``)."""
        out = master_cuts.master_lp(np.asarray(self.cost), np.array(self.cols, dtype=bool).reshape(-1, self.d.n),
                                    self.d.k, self.cuts, self.big)
        if out is None:
            return None
        lp, pi, mu, sigma, lam, art = out
        return lp, np.asarray(pi), mu, np.minimum(np.asarray(sigma), 0.0), np.asarray(lam), art

    def separate(self, lam: np.ndarray) -> list[tuple[int, ...]]:
        """The most violated SR3 rows at ``lam`` not yet in the master (:func:`.master_cuts.separate`)."""
        limit = min(CUTS_PER_ROUND, MAX_CUTS - len(self.cuts))
        if limit <= 0:
            return []
        cols = np.array(self.cols, dtype=bool).reshape(-1, self.d.n)
        return [t for t, _ in master_cuts.separate(cols, lam, limit=limit, have=self.cuts, tol=MIN_VIOLATION)]


class _CutRootPricing(columns._RootPricing):
    """:class:`.columns._RootPricing` whose MIPs also carry, per cut ``T``, ``y_T >= s_a + s_b - 1`` for each pair
    of ``T`` (``y_T`` in [0, 1], priced at ``-sigma_T >= 0``, so it is ``floor(|S & T| / 2)`` at an optimum)."""

    def __init__(self, d: TerritoryData):
        super().__init__(d)
        self.ycols: list[list[int]] = [[] for _ in self.models]

    def add_cut(self, t) -> None:
        for i, pr in enumerate(self.models):
            if pr.h is not None:
                self.ycols[i].append(master_cuts.add_to_pricing(pr.h, t, pr.inf))

    def set_sigma(self, sigma: np.ndarray) -> None:
        for i, pr in enumerate(self.models):
            if pr.h is not None:
                master_cuts.price_cuts(pr.h, self.ycols[i], sigma)


def cut_and_price(d: TerritoryData, seconds: float, *, solver: Solver | None = None, seeds=(),
                  incumbent: float = math.inf, log_rounds: bool = False) -> CutPriceResult:
    """Column generation by root with SR3 rows, until the bound proves ``incumbent`` (or time runs out).

    Parameters
    ----------
    d : TerritoryData
        Interchangeable territories, cut-edge objective (``edge_w``), balance bounds on ``loads``.
    seconds : float
        Time for the whole search, on ``solver``'s clock when it has one (Ctrl-C stops it; the bound so far holds).
    seeds : iterable of label arrays
        Plans whose connected balanced territories seed the master.
    incumbent : float
        Cut edges of the best plan known: the search stops once the bound proves it (whole-number borders: a
        bound above ``incumbent - 1``; otherwise a bound at ``incumbent``).
    log_rounds : bool
        Log each round at INFO.

    Returns
    -------
    CutPriceResult

    Examples
    --------
    >>> import networkx as nx, channelopt as co
    >>> from channelopt.models.territories.data import prepare
    >>> g = nx.convert_node_labels_to_integers(nx.grid_2d_graph(2, 4))
    >>> nx.set_node_attributes(g, 1.0, "pop")
    >>> net = co.ChannelNetwork.from_graph(g, ["pop"])
    >>> d = prepare(co.TerritoryDesign(k=2, objective="cut_edges", balance={"pop": (4, 4)}), net)
    >>> res = cut_and_price(d, 10.0)
    >>> round(res.bound, 6), res.converged
    (2.0, True)
    """
    t0, c0 = time.perf_counter(), time.process_time()
    solver = (solver or Solver("highs")).start_clock()
    w = np.asarray(d.edge_w, dtype=float)
    integral = bool(np.all(w == np.round(w)))
    master = _CutMaster(d, big=columns.ARTIFICIAL * max(float(w.mean()) if len(w) else 1.0, 1e-9))
    for label in seeds:
        label = np.asarray(label)
        for j in np.unique(label):
            master.add(label == j)
    # the bound to beat: above it the incumbent is proven
    target = incumbent - 1.0 if integral else incumbent - 1e-6
    res = CutPriceResult(bound=-math.inf, lp=math.inf)
    by_root = _CutRootPricing(d)
    local = columns._Local(d)
    cap = PRICING_SECONDS
    offset = 0
    centre = None
    misprice = False
    if SMOOTHING > 0 and d.loads.shape[1] and math.isfinite(incumbent):
        centre = incumbent * d.loads[:, 0] / max(float(d.loads[:, 0].sum()), 1e-12)

    def left() -> float:
        rest = seconds - (time.perf_counter() - t0)
        r = solver.remaining()
        return rest if r is None else min(rest, r)

    def proven() -> bool:
        return math.isfinite(target) and res.bound > target + 1e-6

    try:
        while left() > 0.05 and not solver.interrupted and not proven():
            res.rounds += 1
            out = master.solve()
            if out is None:
                break
            lp, pi, mu, sigma, lam, art = out
            res.lp = lp

            def rc(col, pi=pi, mu=mu, sigma=sigma):
                return master_cuts.reduced_cost(columns.territory_cost(d, col), col, pi, mu, master.cuts, sigma)

            # heuristic pricing (blind to the cuts; the true reduced cost decides)
            added = 0
            # at the master's duals, and smoothed toward a centre (Wentges: the duals of the best bound so far, at
            # first the incumbent spread by load), which the degenerate first masters' vertex duals swing around
            for at in ((pi,) if centre is None else (SMOOTHING * centre + (1.0 - SMOOTHING) * pi, pi)):
                added += sum(master.add(col) for col in columns._local_price(local, master, at, columns.LOCAL_STARTS)
                             if rc(col) < -1e-7)
            if added:
                continue
            # the LP stalled: cut its solution before pricing it exactly; not while artificial columns are in use
            # (AL: 50 rows cut masters at 54.8-54.9 with 0.7-1.1 artificial regions back to 55, for nothing)
            new = master.separate(lam) if art < ART_SEPARATE else []
            if new:
                for t in new:
                    master.cuts.append(t)
                    by_root.add_cut(t)
                if log_rounds:
                    log.info("cutprice: round %d lp %.4f art %.2g +%d cuts (%d)", res.rounds, lp, art, len(new),
                             len(master.cuts))
                continue
            # exact pricing by root. Every root's MIP gets the cutoff that, met by all, proves the incumbent (the LP
            # is sum pi + sum sigma + k mu, so least >= mu - slack at every root gives a bound >= lp - k slack);
            # short of that, any negative column
            smooth = EXACT_SMOOTHING > 0 and centre is not None and not misprice and lp > target
            if smooth:
                # Wentges: priced at duals between the best bound's and the master's (the degenerate master's own
                # swing from vertex to vertex); the cutoff is the one that, met at every root, proves the incumbent
                at = EXACT_SMOOTHING * centre + (1.0 - EXACT_SMOOTHING) * pi
                cut = (target + 1e-6 - float(at.sum()) - master_cuts.lagrangian_constant(sigma, master.cuts)) / d.k
            else:
                at = pi
                slack = CUTOFF_SHARE * (lp - target) / d.k if math.isfinite(target) and lp > target else 0.0
                cut = mu - max(slack, 1e-7)
            by_root.set_sigma(sigma)
            least = np.full(d.n, np.inf)
            nr = len(by_root.roots)
            visited, found, short = 0, 0, False
            c1 = time.process_time()
            for step in range(nr):
                i = (offset + step) % nr
                p, pr = int(by_root.roots[i]), by_root.models[i]
                rest = left()
                if rest <= 0.05 or solver.interrupted or pr.h is None:
                    break
                pr.h.setOptionValue("objective_bound", float(cut))
                cols, lb = pr.solve(at, solver, min(cap, rest), quick=QUICK)
                res.mips += 1
                new = sum(master.add(col) for col in cols if rc(col) < -1e-7)
                if not smooth and not new and lb < cut - 1e-9 and left() > 0.05 and not solver.interrupted:
                    # stopped at its first solutions with no column among them: on to the cutoff or a column
                    cols, lb2 = pr.solve(pi, solver, min(cap, left()), quick=0)
                    lb = max(lb, lb2)
                    res.mips += 1
                    new = sum(master.add(col) for col in cols if rc(col) < -1e-7)
                visited += 1
                # nothing under the cutoff proves least >= cut; a MIP stopped early keeps its dual bound
                least[p] = min(lb, cut)
                found += new
                if not new and lb < cut - 1e-9 and not (smooth and cols):
                    short = True  # stopped by its cap with neither a column nor the cutoff proven
                if PARTIAL and found >= PARTIAL:
                    break
            res.mip_cpu += time.process_time() - c1
            res.passes += 1
            offset = (offset + visited) % nr
            if visited == nr:
                bound = (float(at.sum()) + master_cuts.lagrangian_constant(sigma, master.cuts)
                         + columns.root_dp(least, by_root.root_ok))
                if bound > res.bound and SMOOTHING > 0:
                    centre = at.copy()
                res.bound = max(res.bound, bound)
                res.trajectory.append((time.process_time() - c0, lp, bound, len(master.cuts)))
            if log_rounds:
                log.info("cutprice: round %d pass%s %d/%d lp %.4f art %.2g bound %.4f cols %d cuts %d found %d cpu "
                         "%.1f", res.rounds, "~" if smooth else "", visited, nr, lp, art, res.bound, len(master.cols),
                         len(master.cuts), found, time.process_time() - c0)
            if short:
                cap *= 2.0
            misprice = smooth and not found and not short  # sets under the cutoff, none a column: master's duals next
            if found or misprice:
                continue
            if visited == nr and bool(np.all(least[by_root.roots] >= cut - 1e-9)):
                if art > 1e-9:
                    master.big *= 4.0  # the artificial columns still cover regions: the master's own LP is higher
                    continue
                # nothing under the cutoff at any root: the master LP with these cuts is solved (to k slack)
                res.converged = True
                if not proven():
                    new = master.separate(lam)
                    if new:
                        res.converged = False
                        for t in new:
                            master.cuts.append(t)
                            by_root.add_cut(t)
                        continue
                break
            if not short:
                break  # columns under the cutoff that the master already holds: nothing more to learn here
    except KeyboardInterrupt:
        solver.deadline.interrupt()  # the bound so far holds; the caller returns its plan, marked interrupted
    finally:
        by_root.close()
    res.proven = proven()
    res.columns, res.cuts, res.rows = len(master.cols), len(master.cuts), list(master.cuts)
    res.seconds = time.perf_counter() - t0
    return res


def cutprice_applies(model, d: TerritoryData, built=None) -> bool:
    """Whether the stage runs: :data:`STAGE` on, contiguous interchangeable territories by cut edges, no user rows."""
    from .labelling import symmetric

    return bool(STAGE and model.objective == "cut_edges" and model.contiguity and d.k >= 2 and symmetric(d)
                and len(d.edges) and not getattr(built, "has_problem", False))


def cutprice_stage(d: TerritoryData, hres, deadline: float | None, solver: Solver) -> CutPriceResult:
    """:func:`cut_and_price` in its share of the time (:data:`STAGE_SHARE`), seeded with the warm start ``hres``
    (keeping every rule)."""
    seconds = STAGE_SECONDS if deadline is None else STAGE_SHARE * max(deadline - time.perf_counter(), 0.0)
    res = cut_and_price(d, seconds, solver=solver, seeds=[hres.label], incumbent=hres.objective,
                        log_rounds=log.isEnabledFor(logging.INFO))
    log.debug("territories: cut-and-price %.2fs, bound %s, lp %s, %d cuts, %d columns, proven %s", res.seconds,
              res.bound, res.lp, res.cuts, res.columns, res.proven)
    return res
