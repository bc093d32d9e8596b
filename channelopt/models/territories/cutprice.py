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
:mod:`.master_cuts`'s. Rounds: the master LP; heuristic pricing (:class:`.columns._Local`, at the master's duals and,
before the first cuts, smoothed toward the best bound's, checked at the true reduced cost); when it finds nothing,
a pass of exact pricing by root, stopped after :data:`PARTIAL` columns (a full pass is a bound). The schedule is
sr12's: the most violated SR3 rows (at most :data:`CUTS_PER_ROUND`, each region in at most two of them) are added
only at a stalled master that a full pass at its own duals bounded to within :data:`SEPARATE_GAP` (rows picked at
re-priced masters are the ones that hold up under re-pricing), with no artificial column in use. Once rows are in,
the exact passes price at the master's own duals (the Wentges centre holds no ``sigma``: it is reset). A row whose
dual stayed 0 for :data:`DROP_PASSES` passes leaves the master and the MIPs (its variable and rows; the pricing
MIP's time grows with the rows). Each root's MIP has its own time cap, doubled when it stops there with neither a
column nor its cutoff; a pass that found nothing re-runs only those roots. The stage ends when the bound proves the
incumbent, when a full pass finds no column and no cut is violated (the master LP with these cuts is solved:
its value is the bound), or at the deadline / Ctrl-C.

Measured on Alabama (county01, k=7, optimum 55; 1 thread, cold start from the exact path's warm start 55,
``bench_territories.py --variants cutprice --time-limit 1800``, tree 6fa68f8, load 2.6-4.4; benchmarks/RESULTS.md,
"Issue 12 (session 11): cut-and-price schedule (cpsched12)"): the set-partitioning LP 52.63 certified (52.598) at
228 CPU s of the process; 10 rows, re-priced and certified 53.19 (8 rows kept) at 394; 10 more, 53.74 (13 kept) at
614; 10 more, and a full pass at the master's duals (LP 54.21, 20 rows kept) met every root's proof cutoff: bound
54.02 > 54, **the optimum 55 proven at the root, 887 CPU s, 1,203 s wall**; on main 9cd828c (faster cut
variables) 739 CPU s, 1,096 s wall, LP 54.07 with 19 rows kept at the proof (the session-10 schedule: 30 rows at
354 CPU s, smoothed passes, nothing certified above 52.60 in 1,380 s). Not the default (:data:`STAGE`): its
cut-free column generation alone (230-310 CPU s on AL before its first row) is longer than the whole exact solve
of the states the labelling MILP proves (WV, NE, OK, AR, KS in 1-81 CPU s; LA 298), and no trigger was measured.
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
#: ... and once a full exact pass at its own duals certified a bound within this of its LP (with the cuts in hand)
SEPARATE_GAP = 0.05
#: a cut priced at ``sigma_T = 0`` in this many exact passes in a row leaves the master and the pricing (0: never)
DROP_PASSES = 3
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
    rounds, columns, cuts, passes, mips, dropped : int
        Master rounds, columns, SR3 rows (at the end), passes of exact pricing (full or partial), pricing MIPs run,
        rows dropped (idle).
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
    dropped: int = 0
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
        # per model and cut: the rows :func:`.master_cuts.add_to_pricing` added (to delete them with the cut)
        self.yrows: list[list[list[int]]] = [[] for _ in self.models]

    def add_cut(self, t) -> None:
        for i, pr in enumerate(self.models):
            if pr.h is not None:
                r0 = pr.h.getNumRow()
                self.ycols[i].append(master_cuts.add_to_pricing(pr.h, t, pr.inf))
                self.yrows[i].append(list(range(r0, pr.h.getNumRow())))

    def drop_cuts(self, drop: list[int]) -> None:
        """Delete the cuts at positions ``drop`` (their ``y_T`` and rows) from every MIP; the other cuts keep their
        order. (A cut priced at ``sigma_T = 0`` only slows the MIP: its ``y_T`` has no cost.)"""
        if not drop:
            return
        gone = set(drop)
        for i, pr in enumerate(self.models):
            if pr.h is None or not self.ycols[i]:
                continue
            cols = np.array(sorted(self.ycols[i][c] for c in gone), dtype=np.int32)
            rows = np.array(sorted(r for c in gone for r in self.yrows[i][c]), dtype=np.int32)
            pr.h.deleteRows(len(rows), rows)
            pr.h.deleteCols(len(cols), cols)
            # the later columns and rows move down by the number deleted before them
            keep = [c for c in range(len(self.ycols[i])) if c not in gone]
            self.ycols[i] = [int(self.ycols[i][c] - np.searchsorted(cols, self.ycols[i][c])) for c in keep]
            self.yrows[i] = [[int(r - np.searchsorted(rows, r)) for r in self.yrows[i][c]] for c in keep]

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
    nr = len(by_root.roots)
    # per root: seconds at most for its MIP (doubled when it stops at it with neither a column nor its cutoff)
    cap = np.full(nr, PRICING_SECONDS)
    offset = 0
    centre = None
    misprice = False
    # a full pass certified a bound within SEPARATE_GAP of the master LP with the cuts in hand: cut it next
    ready = False
    # per cut: exact passes in a row priced at sigma_T = 0
    idle: list[int] = []
    if SMOOTHING > 0 and d.loads.shape[1] and math.isfinite(incumbent):
        centre = incumbent * d.loads[:, 0] / max(float(d.loads[:, 0].sum()), 1e-12)

    def left() -> float:
        rest = seconds - (time.perf_counter() - t0)
        r = solver.remaining()
        return rest if r is None else min(rest, r)

    def proven() -> bool:
        return math.isfinite(target) and res.bound > target + 1e-6

    def add_cuts(new, lp, art) -> None:
        nonlocal centre, ready
        for t in new:
            master.cuts.append(t)
            by_root.add_cut(t)
            idle.append(0)
        # the smoothing centre was the duals of a bound without these rows: it would pull the pricing away from
        # their sigma (cutprice12: smoothed passes after 30 rows certified nothing above the cut-free 52.60)
        centre, ready = None, False
        if log_rounds:
            log.info("cutprice: round %d lp %.4f art %.2g +%d cuts (%d) cpu %.1f", res.rounds, lp, art, len(new),
                     len(master.cuts), time.process_time() - c0)

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
            # the LP stalled. Cut it only once a full pass certified a bound near it (sr12's schedule: rows picked
            # at re-priced masters lift the next one; rows picked at stalled ones are cut away by re-pricing) and no
            # artificial column is in use (AL: rows at masters with 0.7-1.1 artificial regions lifted nothing)
            if ready and art < ART_SEPARATE:
                new = master.separate(lam)
                if new:
                    add_cuts(new, lp, art)
                    continue
            # rows whose dual stayed 0 for DROP_PASSES exact passes: out of the master and the pricing MIPs (each
            # cut adds a variable and three rows to all of them). Their sigma is 0, so this master's LP and duals
            # hold without them and the pass below prices exactly the cuts it bounds with
            if DROP_PASSES and master.cuts:
                zero = np.abs(sigma) <= 1e-9
                for c in range(len(idle)):
                    idle[c] = idle[c] + 1 if zero[c] else 0
                drop = [c for c in range(len(idle)) if idle[c] >= DROP_PASSES]
                if drop:
                    keep = [c for c in range(len(idle)) if idle[c] < DROP_PASSES]
                    by_root.drop_cuts(drop)
                    master.cuts = [master.cuts[c] for c in keep]
                    idle[:] = [idle[c] for c in keep]
                    sigma = sigma[keep]
                    res.dropped += len(drop)
                    if log_rounds:
                        log.info("cutprice: round %d dropped %d idle cuts (%d)", res.rounds, len(drop),
                                 len(master.cuts))

                    def rc(col, pi=pi, mu=mu, sigma=sigma):
                        return master_cuts.reduced_cost(columns.territory_cost(d, col), col, pi, mu, master.cuts,
                                                        sigma)
            # exact pricing by root. Every root's MIP gets the cutoff that, met by all, proves the incumbent (the LP
            # is sum pi + sum sigma + k mu, so least >= mu - slack at every root gives a bound >= lp - k slack);
            # short of that, any negative column. Smoothed (Wentges) only before the first cuts: the centre holds
            # no sigma
            smooth = (EXACT_SMOOTHING > 0 and centre is not None and not misprice and lp > target
                      and not master.cuts)
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
            visited, found = 0, 0
            c1 = time.process_time()

            def price_root(i: int, at=at, cut=cut, smooth=smooth, pi=pi, rc=rc) -> tuple[int, float, bool]:
                """Root ``i``'s MIP at ``at``: (new columns, lower bound on its least, stopped by its cap)."""
                pr = by_root.models[i]
                pr.h.setOptionValue("objective_bound", float(cut))
                cols, lb = pr.solve(at, solver, min(cap[i], left()), quick=QUICK)
                res.mips += 1
                new = sum(master.add(col) for col in cols if rc(col) < -1e-7)
                if not smooth and not new and lb < cut - 1e-9 and left() > 0.05 and not solver.interrupted:
                    # stopped at its first solutions with no column among them: on to the cutoff or a column
                    cols, lb2 = pr.solve(pi, solver, min(cap[i], left()), quick=0)
                    lb = max(lb, lb2)
                    res.mips += 1
                    new = sum(master.add(col) for col in cols if rc(col) < -1e-7)
                # stopped by its cap with neither a column nor the cutoff proven: its cap doubles
                stuck = not new and lb < cut - 1e-9 and not (smooth and cols)
                if stuck:
                    cap[i] *= 2.0
                return new, lb, stuck

            stuck = []
            for step in range(nr):
                i = (offset + step) % nr
                if left() <= 0.05 or solver.interrupted or by_root.models[i].h is None:
                    break
                new, lb, hard = price_root(i)
                visited += 1
                # nothing under the cutoff proves least >= cut; a MIP stopped early keeps its dual bound
                least[by_root.roots[i]] = min(lb, cut)
                found += new
                if hard:
                    stuck.append(i)
                if PARTIAL and found >= PARTIAL:
                    break
            # a full pass that found nothing: the roots stopped by their cap run again at the same duals with their
            # cap doubled, the others' least kept (one hard root does not cost a whole pass)
            while stuck and not found and visited == nr and left() > 0.05 and not solver.interrupted:
                again = []
                for i in stuck:
                    if left() <= 0.05 or solver.interrupted or by_root.models[i].h is None:
                        again = []
                        break
                    new, lb, hard = price_root(i)
                    # both are lower bounds on the same least at the same duals
                    least[by_root.roots[i]] = max(least[by_root.roots[i]], min(lb, cut))
                    found += new
                    if hard:
                        again.append(i)
                    if found:
                        break
                stuck = again
            short = bool(stuck)
            res.mip_cpu += time.process_time() - c1
            res.passes += 1
            offset = (offset + visited) % nr
            if visited == nr:
                # a root with no bound at all (stopped before HiGHS had one) leaves none for the pass
                bound = -math.inf if np.isneginf(least[by_root.roots]).any() else (
                    float(at.sum()) + master_cuts.lagrangian_constant(sigma, master.cuts)
                    + columns.root_dp(least, by_root.root_ok))
                if bound > res.bound and SMOOTHING > 0 and not master.cuts:
                    centre = at.copy()
                res.bound = max(res.bound, bound)
                res.trajectory.append((time.process_time() - c0, lp, bound, len(master.cuts)))
                # certified near the LP with these cuts (at its own duals): the next stall is cut
                ready = ready or (not smooth and bound >= lp - SEPARATE_GAP)
            if log_rounds:
                log.info("cutprice: round %d pass%s %d/%d lp %.4f art %.2g pass bound %.4f best %.4f cols %d cuts %d "
                         "found %d stuck %d cpu %.1f", res.rounds, "~" if smooth else "", visited, nr, lp, art,
                         bound if visited == nr else -math.inf, res.bound, len(master.cols), len(master.cuts), found,
                         len(stuck), time.process_time() - c0)
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
                        add_cuts(new, lp, art)
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
    """Whether the stage runs: ``method="cut_and_price"`` (or :data:`STAGE` on), contiguous interchangeable
    territories by cut edges, no user rows."""
    from .labelling import symmetric

    return bool((STAGE or model.method == "cut_and_price") and model.objective == "cut_edges" and model.contiguity
                and d.k >= 2 and symmetric(d)
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
