"""How a built territory model is solved: heuristic first, then the exact search, inside one time limit.

1. The construction + local search heuristic (and location-allocation polishing for
   ``compactness`` with free centres) gives a plan within a share of the limit.
2. The MILP starts from that plan. With free centres and contiguity, a solved plan
   whose territory is cut off from its centre gets a-b separator rows and is solved
   again (HiGHS 1.16 cannot add rows inside its own search from Python; see
   :mod:`.callbacks`).
3. Status, bound and gap describe the problem the user asked: a bound of a
   restricted model (``centre_candidates``) is replaced by one valid for the full
   problem, and the plan is "optimal" only when that bound proves it.

The split of ``time_limit`` (what is left when ``solve`` starts; building is charged
first): the heuristic at most ``HEURISTIC_SHARE``; when a bound stage will follow
(restricted pairs, or the p-median root with free centres), ``BOUND_SHARE`` of what is
left after the heuristic is kept for it; the exact search the rest. The bound stage
runs only on time left before the deadline; when none is left it is skipped and the
plan says so (:func:`.bounds.valid_bound`: only the counting bound, O(n^2) at most).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
import warnings

import numpy as np

from ..._arrays import ArrayProblem
from ...exceptions import InfeasibleError, NoSolutionError, NotOptimalWarning, SettingsError, SolverError
from ...plan import Plan
from ...solver import (
    SolveInfo,
    Solver,
    _gap,  # the one gap function
)
from .._base import BuiltModel
from . import allocation, branchprice, columns, cutprice, improve, labelling, planar
from . import heuristics as heur
from .allocation import guided, lp_polish, polish
from .assembly import assemble_plan
from .bounds import LP_BOUND_MAX_PAIRS, valid_bound
from .contiguity import separator_cuts
from .data import balance_excess, balance_kept
from .diagnosis import balance_message, heuristic_problem, reasons
from .pmedian import add_separator_cuts, build_pmedian, pairs, read_plan, start_values

__all__ = ["TerritoryBuilt", "run_heuristic", "HEURISTIC_SHARE"]

log = logging.getLogger("channelopt.models")

#: above this many regions, location-allocation assigns by the LP (:func:`.allocation.lp_polish`), not the MIP
#: (china, k=12, 30 s: 5.76e6 by the LP rounds with kicks, 5.84e6 by the MIP rounds)
LP_POLISH_REGIONS = 200
#: up to this many (region, territory) pairs the LP rounds get LP_POLISH_SHARE of the time and the assignment
#: MIP rounds finish (china: the exact-contiguity MIP took the LP rounds' 5.761e6 to 5.741e6 in 13 s)
MIP_FINISH_PAIRS = 10_000
LP_POLISH_SHARE = 0.6
#: start the LP and MIP location-allocation rounds again from the best plan while this many seconds are left
#: (False: one pass, the session-4 heuristic, for the benchmark)
CYCLES = True
CYCLE_MIN_SECONDS = 3.0
#: at most this share of ``time_limit`` goes to the heuristic warm start
HEURISTIC_SHARE = 0.25
#: while no plan keeps balance and contiguity, the heuristic may run on to this many seconds (at most
#: ``heuristic_seconds``) past a smaller
#: share: a first plan is worth this small constant over the limit (china k=12 inside ChannelPlanner at
#: time_limit=1: the territories stage's share was 0.0 s and it raised NoSolutionError; the first balanced
#: plan takes ~0.1-0.3 s of CPU there, more under load)
FIRST_PLAN_SECONDS = 1.0
#: seconds at most for a bound valid for the full problem (restricted or heuristic plans) when the solve has no
#: time limit; with one, the bound stage may use all that is left (its branching on centres goes on until the
#: deadline, and a heuristic that stopped early leaves it more than 60 s)
BOUND_SECONDS = 60.0
#: share of what is left after the heuristic kept for that bound, when one will be computed
#: (at least BOUND_MIN_SECONDS, never more than a quarter): HiGHS stops up to ~1.5 s late on china k=12
#: (load + reaction), and the balanced p-median Lagrangian needs ~400 steps of 10-35 ms there (china, 120 s:
#: the exact search returned the warm start unchanged, so the bound is worth more than its last seconds)
BOUND_SHARE = 0.25
BOUND_MIN_SECONDS = 2.5
#: free-centre compactness with a time limit: share of the exact search's time HiGHS gets first (at least
#: PROBE_MIN_SECONDS). When its plan is no better than the warm start, the rest goes to the heuristic's
#: location-allocation from that plan (:func:`run_heuristic` with ``start``); when it is better, HiGHS gets
#: the rest. china, k=12, 120 s: HiGHS returned the 5 s warm start unchanged after 84-86 s, a plan 1.9% above
#: the heuristic mode's at the same limit. None: HiGHS gets all of it (the session-4 path, for the benchmark)
PROBE_SHARE: float | None = 0.2
PROBE_MIN_SECONDS = 2.0
#: no probe where the Lagrangian guides the plans and bounds them (:func:`.allocation.guided`) and the
#: unrestricted LP is too big to bound them (more than ``bounds.LP_BOUND_MAX_PAIRS`` pairs): there HiGHS's probe
#: on the n x n model found no better plan (china, k=12: 17 s, and its run sometimes ends in the background,
#: still taking CPU), while the heuristic's and the bound's branching use the time. False: always probe
PROBE_SKIP_GUIDED = True
#: after the probe HiGHS keeps the rest only when its gap is at most this (a proof in reach); otherwise the
#: heuristic continues from the better plan (china, 17 s probe: HiGHS's own heuristics found a plan 0.15%
#: better than the warm start with no root bound yet, and a full run gives nothing more)
PROBE_CONTINUE_GAP = 0.01
#: with ``Solver(threads >= 2)`` HiGHS runs race on the MILP (:data:`channelopt.solver.RACERS`); "total": on the
#: symmetric cut-edge labelling model the second racer searches with the boundary floors as one row
#: (:func:`.labelling.boundary_floor`, computed in that racer's thread while the first searches); None: the racers
#: differ by ``random_seed`` only. Measured in one run per state (bench ``--variants new seeds --threads 1 2``, 180 s,
#: load 4.8-10.9), floors against seeds only: WV proven in 137.4 s / 49.9 CPU s against 131.7 / 50.8, NE 33.2 /
#: 18.1 against 25.6 / 15.4; bounds at 180 s AR 19.26 against 18.68, OK 30 against 30.58, KS 22 against 22.06.
#: Not better, so off; kept for the benchmark (the row is checked on every plan of small grids in the tests)
RACE_FLOORS: str | None = None
#: HiGHS options the exact search sets for the cut-edge labelling MILP, under any the caller passes in
#: ``Solver(options=...)``: cuts are separated at the root only. Measured against HiGHS's default (one run per
#: state, benchmarks/RESULTS.md, issue 12 session 7): AR proven in 120.7 CPU s against 183.1 (123.2 where the
#: default ended at 33/21.57 after 134.5 on the tree before); KS's bound after 120 CPU s 25.65 against 23.69; WV
#: proven in 45.7 against 63.2 CPU s (from the optimum as warm start 13.0 against 24.2); OK proven in 129.0
#: against 128.9, NE in 14.4 against 13.9. Against it: OK from the optimum as warm start had a bound of 29.50
#: against 30.68 after 50 CPU s. ``{}``: HiGHS's defaults (bench variant ``nodecuts``)
CUT_EDGE_HIGHS: dict = {"mip_allow_cut_separation_at_nodes": False}



def cut_edge_options(model, state, solver: Solver) -> dict:
    """HiGHS options the exact search adds for the cut-edge labelling MILP (:data:`CUT_EDGE_HIGHS`), else ``{}``."""
    if (not CUT_EDGE_HIGHS or solver.name != "highs" or state.get("form") != "labelling"
            or model.objective != "cut_edges"):
        return {}
    return dict(CUT_EDGE_HIGHS)


def bound_seconds(deadline: float | None) -> float:
    """Seconds the bound stage may run: what is left before ``deadline`` (0: skip it); BOUND_SECONDS without one."""
    if deadline is None:
        return BOUND_SECONDS
    return max(0.0, deadline - time.perf_counter())


def warm_start_plan(model, d, solver: Solver, seconds: float, built=None) -> heur.Result:
    """The exact search's first plan: carved along dual cycles on planar maps (:func:`.planar.warm_plan`,
    which falls back to :func:`run_heuristic`), else :func:`run_heuristic`."""
    if model.method != "heuristic" and planar.applies(model, d, built):
        return planar.warm_plan(d, seconds, lambda s: run_heuristic(model, d, solver, s))
    return run_heuristic(model, d, solver, seconds)


def raised_bound(info: SolveInfo, bound: float, how: str, mip_gap: float) -> SolveInfo:
    """``info`` with a valid ``bound`` where it is higher, and "optimal" once the plan meets it within ``mip_gap``.

    ``how`` says where the bound comes from, for the plan's message.
    """
    if not math.isfinite(bound) or (math.isfinite(info.bound) and bound <= info.bound):
        return info
    bound = min(bound, info.objective)  # never above the plan it bounds (a plan below it would be a bug upstream)
    gap = _gap(info.objective, bound)
    proven = gap <= max(mip_gap or 0.0, 1e-9)
    return dataclasses.replace(info, bound=bound, gap=gap, status="optimal" if proven else info.status,
                               termination="optimal" if proven else info.termination,
                               message="; ".join(m for m in (info.message, f"the bound is {how}") if m))


def run_heuristic(model, d, solver: Solver, seconds: float, start: heur.Result | None = None) -> heur.Result:
    """Construction + local search, then location-allocation rounds where centres are free.

    ``start`` is a plan that keeps every rule (the exact search's when HiGHS stalls): the
    heuristic runs as ``method="heuristic"`` runs it, and the better of its plan and
    ``start`` comes back. The rounds do not start from ``start``: on china (k=12, 120 s)
    they stayed near the 5 s warm start's plan (5.758e6 in three runs), while a new
    construction with the heuristic mode's first 10 s reached the heuristic mode's plans.
    """
    t0 = time.perf_counter()
    pb = heuristic_problem(model, d)
    do_polish = model.objective == "compactness" and d.centres is None and d.locked is None
    # construction + local search get a quarter (at most 10 s) when location-allocation
    # rounds follow: those rounds, not more restarts, are what lower the objective
    first = min(seconds / 4, 10.0) if do_polish else seconds
    # (never past the user's own heuristic_seconds: heuristic_seconds=0 means no heuristic time at all)
    settle = max(seconds, min(FIRST_PLAN_SECONDS, model.heuristic_seconds))
    res = heur.solve_heuristic(pb, seconds=first, seed=model.seed, settle=settle)
    if do_polish and res.violation <= 1e-9 and res.contiguous:
        res = _polish(model, d, pb, solver, res, t0, seconds)
    res.seconds = time.perf_counter() - t0
    if start is not None and (not respects_rules(model, d, res) or start.objective <= res.objective):
        return start
    return res


def _polish(model, d, pb: heur.Problem, solver: Solver, res: heur.Result, t0: float, seconds: float) -> heur.Result:
    """Location-allocation rounds from ``res`` until ``t0 + seconds``: the LP rounds on large maps (then the
    assignment MIP where it is small), the MIP rounds on small ones.

    On large maps the assignment MIP rounds end once they stop improving; while more than
    ``CYCLE_MIN_SECONDS`` are left, LP rounds (kicks from another seed) and MIP rounds start
    again from the best plan, so the whole time is used (china, k=12, 120 s: the heuristic ended
    at 60-70 s of its 96 s and the run at 86 s).
    """
    left = t0 + seconds - time.perf_counter()
    if d.n > LP_POLISH_REGIONS:
        finish = d.n * d.k <= MIP_FINISH_PAIRS
        label, centres, obj = res.label, res.centres, res.objective
        cycle = 0
        stop = allocation.STOP_GUIDED and guided(d)
        while (cycle == 0 or (CYCLES and left > CYCLE_MIN_SECONDS)) and not solver.interrupted:
            before = obj
            label, centres, obj = lp_polish(d, pb, label, centres, solver,
                                            left * (LP_POLISH_SHARE if finish else 1.0), model.seed + cycle)
            # (with allocation.STOP_GUIDED, no MIP rounds from the plan the last cycle's MIP rounds ended on: they would
            # only repeat themselves)
            again = stop and cycle > 0 and obj >= before - 1e-9 * max(1.0, abs(before))
            if finish and not solver.interrupted and not again:
                left = t0 + seconds - time.perf_counter()
                label, centres, obj = polish(d, pb, label, centres, solver, left)
            left = t0 + seconds - time.perf_counter()
            cycle += 1
            if stop and cycle > 1 and obj >= before - 1e-9 * max(1.0, abs(before)):
                break  # a cycle found nothing: the rest of the time goes to the bound (allocation.STOP_GUIDED)
        log.debug("territories: location-allocation %d cycle(s), best %.6g", cycle, obj)
    else:
        label, centres, obj = polish(d, pb, res.label, res.centres, solver, left)
    res = dataclasses.replace(res, label=label, centres=centres, objective=obj)
    res.seconds = time.perf_counter() - t0
    return res


def respects_rules(model, d, res: heur.Result | None) -> bool:
    """A heuristic plan that keeps every rule: balance, contiguity, locks, change cap, k territories."""
    if res is None or res.violation > 1e-9 or not res.contiguous:
        return False
    label = res.label
    if not balance_kept(d, label):
        # from the loads, not the plan's claim: a carved or split plan says 0.0 after its own, looser check
        return False
    if d.locked is not None and (label[d.locked >= 0] != d.locked[d.locked >= 0]).any():
        return False
    if model.max_changes is not None and (label != d.current).sum() > model.max_changes:
        return False
    return len(np.unique(label)) == d.k


def floor_cuts(d, state, contiguity: bool, solver: Solver):
    """The boundary floors as one row over the built labelling model's columns, for the solve path's race.

    Every territory's boundary is at least the floor of its root (:func:`.labelling.boundary_floor`), and
    every cut edge lies on two boundaries: ``2 sum_e w_e y_e >= sum_{p,j} b[p,j] r[p,j]``; roots with no
    balanced set around them are 0 in every plan. Both hold for every plan of the model, so a racer that
    adds them keeps its plans and bound valid for it. Returns ``(indptr, indices, data, lower, upper,
    zero_cols)`` (see :func:`channelopt.solver._racers`), or ``None`` when the build's region order differs.
    """
    order, root_ok, member_ok = labelling.symmetric_fixing(d, contiguity)
    if not np.array_equal(order, state["order"]):
        return None
    b = labelling.boundary_floor(d, order, root_ok, member_ok, solver=solver)
    r, y = state["r"], state["y"]
    dead = np.isinf(b)
    pp, jj = np.nonzero(dead)
    zero = r[order[pp], jj]
    b[dead] = 0.0
    pp, jj = np.nonzero(b > 0)
    cols = np.r_[y.index, r[order[pp], jj]]
    vals = np.r_[2.0 * np.asarray(d.edge_w, dtype=float), -b[pp, jj]]
    log.debug("territories: race floors, %d roots with a floor (largest %.3g), %d roots ruled out", len(pp),
              float(b.max(initial=0.0)), len(zero))
    return np.array([0, len(cols)]), cols, vals, np.array([0.0]), np.array([np.inf]), zero


class TerritoryBuilt(BuiltModel):
    """A built :class:`TerritoryDesign`: ``problem`` is the PuLP model, open to changes.

    ``solve(solver)`` runs the heuristic warm start, the exact search and the plan
    checks inside ``solver.time_limit`` and returns the Plan. It keeps nothing on the
    model; the same built model can be solved again.
    """

    def solve(self, solver: Solver | None = None, *, warm_start: bool = True) -> Plan:
        """The Plan: heuristic warm start, exact search and checks within ``solver``'s time limit.

        Parameters
        ----------
        solver : Solver, optional
            The solver and its limits (default ``Solver()``); its clock is started here if not already.
        warm_start : bool
            Run the heuristic first and hand its plan to the exact search (False: none is run, unless the model's
            method is ``"heuristic"`` or the built model holds one's plan already).

        Returns
        -------
        Plan
        """
        solver = solver or Solver()
        if not isinstance(solver, Solver):
            raise SettingsError(f"solver must be a channelopt.Solver, got {type(solver).__name__}.")
        solver = solver.start_clock()  # one clock for every call below (no-op if Model.solve started it)
        model, state = self.model, dict(self.state)
        d = state["data"]
        state.update(cuts=0, rounds=0)
        t0 = time.perf_counter()
        # the solver's clock started before building (Model.solve): what is left bounds everything here
        left = solver.remaining()
        deadline = None if left is None else t0 + left
        hres = state.get("heuristic")
        if hres is None and (warm_start or model.method == "heuristic"):
            seconds = model.heuristic_seconds
            if deadline is not None and model.method != "heuristic":
                seconds = min(seconds, HEURISTIC_SHARE * left)
            hres = warm_start_plan(model, d, solver, seconds, self)
        h_ok = respects_rules(model, d, hres)
        state["heuristic_seconds"] = state.get("heuristic_seconds", 0.0) + (time.perf_counter() - t0)
        if model.method == "heuristic":
            if not h_ok:
                raise NoSolutionError(
                    f"the heuristic found no plan meeting every rule in {model.heuristic_seconds}s "
                    f"(a load past its balance bound by {balance_excess(d, hres.label):.3g}, "
                    f"contiguous={hres.contiguous}); raise heuristic_seconds, loosen balance, or use method='exact'."
                )
            bound, how = valid_bound(model, d, hres.objective, solver, bound_seconds(deadline))
            info = SolveInfo("heuristic", "feasible", "heuristic", objective=hres.objective, bound=bound,
                             gap=_gap(hres.objective, bound), seconds=time.perf_counter() - t0)
            info.message = f"heuristic plan; the bound is {how} (valid for the full problem)"
            return self._finish(d, hres.label, hres.centres, info, state)
        split = None
        if (not h_ok and improve.RESTARTS and deadline is not None and improve.resplit_applies(model, d, self)
                and not solver.interrupted):
            # no start keeps every rule: region growing from further seeds, re-split (:func:`.improve.restarts`);
            # only with a time limit (a map with no balanced plan would otherwise spend RESTARTS seconds here)
            hres, h_ok = self._restarts(d, hres, deadline, state, solver)
        if h_ok and improve.STAGE and improve.resplit_applies(model, d, self) and not solver.interrupted:
            # groups of neighbouring territories re-split along fewer edges (:mod:`.improve`): a better start
            hres = self._improve(d, hres, deadline, state, solver)
        if planar.applies(model, d, self):
            # contiguous territories on a planar map: the dual-cycle search bounds the cut (k=2: often proves it)
            split, hres, h_ok = self._planar(d, hres, h_ok, deadline, state, solver)
            # a search cut short still proved its finished passes: its bound holds either way
            if split is not None and h_ok and hres.objective <= split.bound + 1e-9:
                info = SolveInfo("planar", "optimal", "optimal", objective=hres.objective, bound=split.bound,
                                 gap=0.0, seconds=time.perf_counter() - t0)
                info.message = f"proven by the planar dual-cycle search ({split.seconds:.1f}s)"
                return self._finish(d, hres.label, hres.centres, info, state)
        dw = None
        if columns.stage_applies(model, d, self) and not solver.interrupted:
            # opt-in: the set-partitioning bound by column generation (:mod:`.columns`) before the MILP
            dw, hres, h_ok = self._columns(d, hres, h_ok, deadline, state, solver)
            res = state["columns"]
            if columns.ROWS and res.duals is not None and state.get("form") == "labelling":
                # the duals as rows of the MILP, one per slot (:func:`.labelling.dual_rows`); valid for every plan,
                # so they stay on the built model like the separator rows
                state["dual_rows"] = labelling.dual_rows(self.arrays, d, res.duals,
                                                         res.least if res.least is not None else res.rc)
            if h_ok and hres.objective <= dw + 1e-9:
                info = SolveInfo("columns", "optimal", "optimal", objective=hres.objective, bound=dw, gap=0.0,
                                 seconds=time.perf_counter() - t0)
                info.message = "proven by the set-partitioning bound (column generation)"
                return self._finish(d, hres.label, hres.centres, info, state)
        bp = None
        if h_ok and branchprice.bnp_applies(model, d, self) and not solver.interrupted:
            # opt-in: branch-and-price by root (:mod:`.branchprice`) before the MILP, from the column stage's duals
            res = branchprice.bnp_stage(d, hres, deadline, solver, state.get("columns"))
            state["branchprice"] = res
            if res.label is not None and res.objective < hres.objective - 1e-9:
                # every column is connected and balanced (checked as it enters the pool), one per territory
                hres = heur.Result(label=res.label.astype(np.int64), centres=None, objective=res.objective,
                                   violation=0.0, contiguous=True, seconds=res.seconds)
            bp = columns.integral_bound(d, res.bound)
            if res.proven or hres.objective <= bp + 1e-9:
                info = SolveInfo("branchprice", "optimal", "optimal", objective=hres.objective,
                                 bound=hres.objective, gap=0.0, seconds=time.perf_counter() - t0)
                info.message = (f"proven by branch-and-price ({res.nodes} nodes, {res.columns} columns, "
                                f"{res.seconds:.1f}s)")
                return self._finish(d, hres.label, hres.centres, info, state)
        cp = None
        if model.method == "cut_and_price" and self.has_problem:
            # rows a user may have added to built.problem would not bind the stage's own master
            warnings.warn("method='cut_and_price': the cut-and-price stage is skipped because built.problem exists "
                          "(rows added there cannot be priced in its master); the MILP alone runs, as "
                          "method='exact'.", UserWarning, stacklevel=2)
        if h_ok and cutprice.cutprice_applies(model, d, self) and not solver.interrupted:
            # opt-in: the set-partitioning bound with subset-row cuts, priced by root (:mod:`.cutprice`)
            res = cutprice.cutprice_stage(d, hres, deadline, solver)
            state["cutprice"] = res
            cp = columns.integral_bound(d, res.bound)
            if res.proven or hres.objective <= cp + 1e-9:
                info = SolveInfo("cutprice", "optimal", "optimal", objective=hres.objective, bound=hres.objective,
                                 gap=0.0, seconds=time.perf_counter() - t0)
                info.message = (f"proven by root cut-and-price (bound {res.bound:.4f}, {res.cuts} subset-row cuts, "
                                f"{res.columns} columns, {res.seconds:.1f}s)")
                return self._finish(d, hres.label, hres.centres, info, state)
        exact_deadline = deadline
        if deadline is not None and (state.get("restricted") or state.get("form") == "hess"):
            rest = max(deadline - time.perf_counter(), 0.0)
            exact_deadline = deadline - min(max(BOUND_SHARE * rest, BOUND_MIN_SECONDS), 0.25 * rest)
        log.debug("territories: heuristic %.2fs; exact search until %s s from now", time.perf_counter() - t0,
                  None if exact_deadline is None else round(exact_deadline - time.perf_counter(), 2))
        floors = self._race_floors(d, state, solver)
        if floors is not None:
            self.arrays.race_cuts = floors  # read by the solve path in this solve only (removed below)
        try:
            if self._probes(d, h_ok, exact_deadline, state):
                outcome = self._probe_then_improve(d, state, solver, exact_deadline, hres)
            else:
                outcome = self._exact(self, state, solver, exact_deadline, hres if h_ok else None)
        except NoSolutionError as err:
            if hres is None or h_ok:
                raise
            # say what the heuristic reached in its share, so "no plan" is not read as "no plan exists"
            raise NoSolutionError(
                f"{err} In its {state['heuristic_seconds']:.2g}s share the heuristic's best plan broke a rule "
                f"(a load past its balance bound by {balance_excess(d, hres.label):.3g}, "
                f"contiguous={hres.contiguous}); no plan keeping every rule is returned."
            ) from None
        finally:
            if floors is not None:
                del self.arrays.race_cuts
        if outcome is None and state.get("restricted"):
            # the nearest-candidate restriction, not a rule the user set, left no plan: drop it
            ap = ArrayProblem(model.kind, model.sense)
            state.update(build_pmedian(model, d, ap, *pairs(d, None)))
            state["restricted"] = False
            full = TerritoryBuilt(model, self.network, None, state, 0.0, arrays=ap)
            outcome = self._exact(full, state, solver, exact_deadline, None)
            if outcome is not None:
                note = (f"the centre_candidates={model.centre_candidates} restriction left no plan; "
                        "solved with every pair")
                outcome = (*outcome[:2], dataclasses.replace(outcome[2], message=note))
        if outcome is None:
            why = reasons(model, d)
            raise InfeasibleError(balance_message(model, d, why), reasons=why)
        label, centres, info = outcome
        if split is not None:
            info = raised_bound(info, split.bound, "the planar dual-cycle search's", solver.mip_gap)
        if dw is not None:
            info = raised_bound(info, dw, "the set-partitioning bound (column generation)", solver.mip_gap)
        if bp is not None:
            info = raised_bound(info, bp, "branch-and-price's", solver.mip_gap)
        if cp is not None:
            info = raised_bound(info, cp, "root cut-and-price's", solver.mip_gap)
        if state.get("restricted"):
            info = self._honest_bound(info, d, solver, deadline)
        elif not math.isfinite(info.bound) or (info.status != "optimal" and state["form"] == "hess"):
            # the search stopped before any bound, or in a p-median root whose bound is still weak (china,
            # k=12, 60 s: 0): the Lagrangian is cheap (one pass over n x n per step), so the gap stays honest
            seconds, tb = bound_seconds(deadline), time.perf_counter()
            bound, how = valid_bound(model, d, info.objective, solver, seconds)
            log.debug("territories: bound stage %.2fs of %.2fs (%s)", time.perf_counter() - tb, seconds, how)
            info = raised_bound(info, bound, how, solver.mip_gap)
        info.seconds = time.perf_counter() - t0
        return self._finish(d, label, centres, info, state)

    # ------------------------------------------------------------------ the exact search
    @staticmethod
    def _exact(built: BuiltModel, state, solver: Solver, deadline, hres):
        """Solve ``built`` (with the separator-cut loop where needed); ``None`` when proven infeasible.

        Every call goes through ``built.solve_once``, so rows a user added to
        ``built.problem`` stay in force, separator rows included.
        """
        model, d = built.model, state["data"]
        start = start_values(d, state, hres.label, hres.centres) if hres is not None else None
        first = True
        while True:
            if first and deadline is not None and hres is not None and time.perf_counter() >= deadline:
                # the limit is spent and the heuristic's plan keeps every rule: no solver call (its 0.5 s
                # floor plus HiGHS's start-up cost 1-1.5 s over the limit on china inside ChannelPlanner)
                info = SolveInfo(solver.name, "feasible", "time_limit", objective=hres.objective, bound=math.nan,
                                 gap=math.nan, seconds=0.0)
                info.message = "no time left for the exact search; the plan is the heuristic's"
                return TerritoryBuilt._heuristic_answer(info, hres)
            first = False
            sv = solver
            if deadline is not None:
                sv = dataclasses.replace(solver, time_limit=max(deadline - time.perf_counter(), 0.5))
            extra = cut_edge_options(model, state, sv)
            if extra:
                sv = dataclasses.replace(sv, options={**extra, **sv.options})  # the caller's own options win
            info = built.solve_once(sv, warm_start=start)
            state["rounds"] += 1
            if info.status in ("infeasible", "unbounded"):
                if hres is not None and not built.has_problem:
                    # the heuristic's plan keeps every rule, so the model is feasible: never report otherwise
                    # (not when a user may have added rows to built.problem: the heuristic does not know them)
                    log.warning("territories: %s reported %s although the heuristic plan keeps every rule; "
                                "returning that plan", solver.name, info.status)
                    note = f"{solver.name} reported {info.status}; the plan is the heuristic's, which keeps every rule"
                    info = dataclasses.replace(info, termination=f"solver said {info.status}", bound=math.nan,
                                               message="; ".join(m for m in (info.message, note) if m))
                    return TerritoryBuilt._heuristic_answer(info, hres)
                return None
            if info.status == "error":
                raise SolverError(f"{solver.name} failed: {info.termination} {info.message}".strip())
            if not info.has_solution:
                if hres is not None:
                    return TerritoryBuilt._heuristic_answer(info, hres)
                raise NoSolutionError(
                    f"{solver.name} stopped ({info.termination}) after {info.seconds:.1f}s without a plan and the "
                    f"heuristic found none; raise time_limit (now {solver.time_limit}) or loosen the model."
                )
            label, centres = read_plan(d, state)
            if len(np.unique(label)) != d.k or not balance_kept(d, label):
                # a solver answer that is not a k-territory balanced plan is never reported
                if hres is not None:
                    return TerritoryBuilt._heuristic_answer(info, hres)
                if len(np.unique(label)) != d.k:
                    raise SolverError(f"{solver.name} returned a plan with {len(np.unique(label))} territories, "
                                      f"not {d.k}; rerun with msg=True to inspect.")
                raise SolverError(
                    f"{solver.name} returned a plan whose loads pass a balance bound by {balance_excess(d, label):.3g} "
                    "(within its feasibility tolerance, not within the bounds; whole-number loads are kept exactly) "
                    "and the heuristic found no plan keeping them; loosen the bounds by that much or raise "
                    "heuristic_seconds.")
            if state["form"] != "hess" or not model.contiguity:
                break
            cuts = separator_cuts(d.adj, label, dict(enumerate(centres)))
            if not cuts:
                break
            if deadline is not None and time.perf_counter() >= deadline:
                # out of time with a disconnected plan: the heuristic's plan is the answer
                if hres is None:
                    raise NoSolutionError(f"time limit reached before a contiguous plan ({state['rounds']} rounds).")
                return TerritoryBuilt._heuristic_answer(info, hres)
            # the disconnected plan's bound still holds for the model with the new rows
            add_separator_cuts(built.arrays, state, cuts, centres)
        if hres is not None and hres.objective < info.objective - 1e-9 and info.status != "optimal":
            return TerritoryBuilt._heuristic_answer(info, hres)
        return label, centres, info

    def _race_floors(self, d, state, solver: Solver):
        """The second racer's extra row (:data:`RACE_FLOORS`): a callable for the solve path, or ``None``."""
        model = self.model
        if (RACE_FLOORS != "total" or solver.name != "highs" or not solver.threads or solver.threads < 2
                or "threads" in solver.options or self.arrays is None or state.get("form") != "labelling"
                or model.objective != "cut_edges" or d.k < 2 or labelling.BOUNDARY is not None
                or state.get("r") is None or state.get("y") is None or not labelling.symmetric(d)):
            return None
        return lambda sub: floor_cuts(d, state, model.contiguity, sub)

    def _probes(self, d, h_ok: bool, deadline, state) -> bool:
        """Whether the exact search starts with a HiGHS probe that the heuristic may take over (PROBE_SHARE)."""
        model = self.model
        return (PROBE_SHARE is not None and deadline is not None and h_ok and state.get("form") == "hess"
                and model.objective == "compactness" and d.centres is None and d.locked is None)

    def _probe_then_improve(self, d, state, solver: Solver, deadline: float, hres: heur.Result):
        """HiGHS from the warm start for ``PROBE_SHARE`` of the time to ``deadline``; then whichever helps.

        - HiGHS proved its plan optimal: that is the answer.
        - HiGHS's gap is at most ``PROBE_CONTINUE_GAP`` (a proof in reach): it runs again from
          the better plan to ``deadline`` (the higher of the two runs' bounds is kept; both
          hold for the model).
        - Otherwise the heuristic runs to ``deadline`` as ``method="heuristic"`` runs it
          (:func:`run_heuristic` with ``start``, the better plan so far, which it keeps if
          its own is not better), and the probe's bound is kept:
          on large maps HiGHS spends the whole limit without a better plan, and a user of the
          default path must not get a worse plan than ``method="heuristic"`` (china, k=12,
          120 s: 1.9% worse before). Ctrl-C in that stage returns the best plan so far,
          marked interrupted.
        """
        t0 = time.perf_counter()
        rest = max(deadline - t0, 0.0)
        if PROBE_SKIP_GUIDED and rest > 0 and guided(d) and d.n * d.n > LP_BOUND_MAX_PAIRS:
            # the heuristic from the warm start, with no HiGHS run (PROBE_SKIP_GUIDED; a spent limit goes to
            # _exact, which returns the warm start and says so without calling HiGHS)
            probe, label, centres = 0.0, hres.label, hres.centres
            info = SolveInfo(solver.name, "feasible", "time_limit", objective=hres.objective, bound=math.nan,
                             gap=math.nan, seconds=0.0)
            info.message = f"no {solver.name} probe (the balanced Lagrangian guides and bounds this map)"
        else:
            probe = min(rest, max(PROBE_SHARE * rest, PROBE_MIN_SECONDS))
            label, centres, info = self._exact(self, state, solver, t0 + probe, hres)
        if info.status == "optimal" or solver.interrupted or deadline - time.perf_counter() < 0.5:
            return label, centres, info
        tol = 1e-9 * max(1.0, abs(hres.objective))
        improved = info.objective < hres.objective - tol
        start = hres
        if improved:
            start = heur.Result(label=np.asarray(label), centres=list(centres), objective=info.objective,
                                violation=0.0, contiguous=True, seconds=0.0)
        if math.isfinite(info.gap) and info.gap <= PROBE_CONTINUE_GAP:
            # a proof looks in reach (whether or not HiGHS bettered the start): HiGHS runs on from the better plan
            label2, centres2, info2 = self._exact(self, state, solver, deadline, start)
            return label2, centres2, raised_bound(info2, info.bound, f"{solver.name}'s first run's", solver.mip_gap)
        t1 = time.perf_counter()
        try:
            res = run_heuristic(self.model, d, solver, deadline - t1, start=start)
        except KeyboardInterrupt:
            # Ctrl-C in the heuristic's own Python steps (its rounds catch their own): the plan in hand
            solver.deadline.interrupt()
            res = start
        state["heuristic_seconds"] = state.get("heuristic_seconds", 0.0) + (time.perf_counter() - t1)
        bound = info.bound if math.isfinite(info.bound) and info.bound <= res.objective + tol else math.nan
        did = (f"took the warm start {hres.objective:.6g} to {info.objective:.6g} (gap {info.gap:.1%})" if improved
               else "did not improve the warm start")
        note = (f"{solver.name} {did} in its {probe:.1f}s probe; " if probe > 0 else "") + (
            f"the heuristic took the rest ({time.perf_counter() - t1:.1f}s): {start.objective:.6g} -> "
            f"{res.objective:.6g}")
        info = dataclasses.replace(
            info, status="feasible", objective=res.objective, bound=bound, gap=_gap(res.objective, bound),
            termination="interrupted" if solver.interrupted else info.termination,
            message="; ".join(m for m in (info.message, note) if m))
        log.debug("territories: %s", note)
        return res.label, res.centres, info

    def _restarts(self, d, hres, deadline, state, solver: Solver):
        """:func:`.improve.restarts` in its share of the time (``improve.SHARE`` of what is left, at most
        ``improve.RESTARTS`` seconds): ``(plan, whether it keeps every rule)``."""
        t0 = time.perf_counter()
        seconds = min(improve.RESTARTS, improve.SHARE * max(deadline - t0, 0.0))
        try:
            label = improve.restarts(d, heuristic_problem(self.model, d), seconds, seed=self.model.seed,
                                     deadline=solver.deadline)
        except KeyboardInterrupt:
            solver.deadline.interrupt()
            label = None
        state["restart_seconds"] = time.perf_counter() - t0
        if label is None:
            return hres, False
        objective = float(np.asarray(d.edge_w, dtype=float)[label[d.edges[:, 0]] != label[d.edges[:, 1]]].sum())
        res = heur.Result(label=np.asarray(label, dtype=np.int64), centres=None, objective=objective,
                          violation=0.0, contiguous=True, seconds=state["restart_seconds"])
        ok = respects_rules(self.model, d, res)
        log.debug("territories: restarts %.2fs, plan %s (keeps the rules: %s)", state["restart_seconds"], objective, ok)
        return (res, True) if ok else (hres, False)

    def _improve(self, d, hres, deadline, state, solver: Solver):
        """:func:`.improve.resplit` on the warm start in its share of the time (``improve.SHARE`` of what is
        left, at most ``improve.SECONDS``); its plan replaces the warm start's where it cuts fewer edges."""
        t0 = time.perf_counter()
        seconds = improve.SECONDS if deadline is None else min(improve.SECONDS,
                                                               improve.SHARE * max(deadline - t0, 0.0))
        try:
            label, calls = improve.resplit(d, hres.label, seconds, deadline=solver.deadline)
        except KeyboardInterrupt:
            # Ctrl-C between the groups' searches (inside one, resplit keeps its best plan and tells the clock):
            # the plan in hand goes on, and no later stage starts
            solver.deadline.interrupt()
            label, calls = hres.label, 0
        objective = float(np.asarray(d.edge_w, dtype=float)[label[d.edges[:, 0]] != label[d.edges[:, 1]]].sum())
        if objective < hres.objective - 1e-9:
            better = heur.Result(label=np.asarray(label, dtype=np.int64), centres=None, objective=objective,
                                 violation=0.0, contiguous=True, seconds=hres.seconds)
            # improve.resplit checked connection and balance on every plan it took; the search's own test too
            if respects_rules(self.model, d, better):
                hres = better
        state["improve_seconds"] = time.perf_counter() - t0
        log.debug("territories: re-splits %.2fs, %d groups, plan %s", state["improve_seconds"], calls,
                  hres.objective)
        return hres

    @staticmethod
    def _planar(d, hres, h_ok, deadline, state, solver: Solver):
        """:func:`.planar.solve_split` in its share of the time: a bound, and for two territories a plan
        that replaces the warm start's when it cuts fewer edges."""
        t0 = time.perf_counter()
        split = None
        if d.k >= 2:
            share = planar.PLANAR_SHARE.get(d.k, planar.PLANAR_SHARE_MORE)
            seconds = planar.PLANAR_SECONDS if deadline is None else share * max(deadline - t0, 0.0)
            try:
                split = planar.solve_split(d, hres.objective if h_ok else math.inf, seconds)
            except KeyboardInterrupt:
                if not h_ok:
                    raise
                # Ctrl-C in the search's own Python steps: the plan in hand comes back, marked interrupted
                # (the clock is told, so no later stage starts); the unfinished search claims no bound
                solver.deadline.interrupt()
            if split is not None and split.label is not None and (
                    not h_ok or split.cut * d.edge_w[0] < hres.objective - 1e-9):
                # the split is balanced and both parts connected (checked in planar._split)
                hres = heur.Result(label=split.label.astype(np.int64), centres=None,
                                   objective=float(split.cut * d.edge_w[0]), violation=0.0, contiguous=True,
                                   seconds=split.seconds)
                h_ok = True
        state["planar_seconds"] = time.perf_counter() - t0
        log.debug("territories: planar search %.2fs, bound %s", state["planar_seconds"],
                  None if split is None else split.bound)
        return split, hres, h_ok

    @staticmethod
    def _columns(d, hres, h_ok, deadline, state, solver: Solver):
        """:func:`.columns.column_bound` in its share of the time: a bound (rounded up for whole-number borders)
        and the master's integer plan where it cuts fewer edges than the plan in hand."""
        t0 = time.perf_counter()
        seconds = columns.STAGE_SECONDS if deadline is None else columns.STAGE_SHARE * max(deadline - t0, 0.0)
        res = columns.column_bound(d, seconds, solver=solver, seeds=[hres.label] if h_ok else (),
                                   incumbent=hres.objective if h_ok else math.inf,
                                   plan_seconds=min(2.0, 0.1 * seconds))
        if res.label is not None and (not h_ok or res.objective < hres.objective - 1e-9):
            # every column is connected and balanced (checked as it enters the master), one per territory
            hres = heur.Result(label=res.label.astype(np.int64), centres=None, objective=res.objective,
                               violation=0.0, contiguous=True, seconds=res.seconds)
            h_ok = True
        state["columns_seconds"] = time.perf_counter() - t0
        state["columns"] = res
        log.debug("territories: column generation %.2fs, bound %s, %d rounds", state["columns_seconds"], res.bound,
                  res.rounds)
        return columns.integral_bound(d, res.bound), hres, h_ok

    @staticmethod
    def _heuristic_answer(info: SolveInfo, hres):
        bound = info.bound if math.isfinite(info.bound) and info.bound <= hres.objective + 1e-9 else math.nan
        info = dataclasses.replace(info, status="feasible", objective=hres.objective, bound=bound,
                                   gap=_gap(hres.objective, bound))
        return hres.label, hres.centres, info

    def _honest_bound(self, info: SolveInfo, d, solver: Solver, deadline) -> SolveInfo:
        """Replace a restricted model's bound by one valid for every pair, and the status with it.

        Termination ``"restricted"`` says the restricted model's search ran to its end and only the
        restriction leaves the plan unproven; a search the time limit or Ctrl-C stopped (or one that never
        ran: the heuristic's plan) keeps its own termination, so a time-limited plan is marked as such.
        """
        model = self.model
        bound, how = valid_bound(model, d, info.objective, solver, bound_seconds(deadline))
        gap = _gap(info.objective, bound)
        proven = math.isfinite(gap) and gap <= max(solver.mip_gap, 1e-9)
        note = f"centre_candidates={model.centre_candidates} restricts the model; the bound is {how}"
        ended = info.termination == "optimal"  # the restricted model's own optimum
        return dataclasses.replace(
            info, status="optimal" if proven else "feasible",
            termination="restricted" if ended and not proven else info.termination, bound=bound, gap=gap,
            message="; ".join(m for m in (info.message, note) if m),
        )

    def _finish(self, d, label, centres, info: SolveInfo, state) -> Plan:
        info.build_seconds = self.build_seconds
        plan = assemble_plan(self.model, d, label, centres, info, state)
        if info.status != "optimal":
            warnings.warn(
                f"TerritoryDesign plan is {info.status} ({info.termination}), not proven optimal: gap {info.gap:.2%}.",
                NotOptimalWarning,
                stacklevel=3,
            )
        return plan
