"""The one solve path: a problem goes to HiGHS or CBC and comes back as a SolveInfo.

A problem is an array problem (:class:`channelopt._arrays.ArrayProblem`, loaded into
HiGHS with one ``passModel`` or written as MPS for CBC) or a PuLP problem (read into
the same arrays first). Status, bound and gap are read from the solver itself, never
from ``problem.status``: PuLP maps a HiGHS time-limit stop to "Optimal".

The clock
---------
``Solver(time_limit=T)`` bounds the whole ``model.solve()``: the clock starts when
``Model.solve`` / ``BuiltModel.solve`` starts (:meth:`Solver.start_clock`), and
building, warm-start heuristics, every solver call and every re-solve draw on one
:class:`Deadline`. The documented split:

- building: what it takes (it cannot be stopped part-way, but it is charged);
- warm-start heuristics: at most ``HEURISTIC_SHARE`` (20%) of what is left
  (``solver.share(HEURISTIC_SHARE)``); a model may take less;
- the solver: everything left; a cold re-solve after an inconsistent warm-started
  plan and the presolve-off confirmation of an infeasible verdict get what is left
  after the first call; completing a partial warm start that becomes HiGHS's cutoff
  (see below) at most ``COMPLETE_SHARE`` (10%) of what is left before it;
- multi-stage planners give stage ``i`` of ``k`` the share ``w_i / sum(w_i..w_k)`` of
  what is left when it starts (``solver.share(...)``), so later stages get the time
  earlier stages did not use.
- ``dataclasses.replace(solver, time_limit=x)`` on a running clock means "x seconds
  from now" as the caller computed them (a model's own split, with its own floor); it
  is not capped by the whole solve's end, but Ctrl-C still reaches it.

What may remain over the limit (the documented constant):

- HiGHS: its own time limit is set once the model is loaded (loading is charged), to
  what is left less ``READ_BACK_SECONDS_PER_MNZ`` per million nonzeros (at most
  ``READ_BACK_MAX_SHARE``) for reading the plan back, checking it and assembling the
  Plan. A run that ignores its limit is told to stop ``HIGHS_GRACE`` (0.25 s) after it
  and given up on ``CANCEL_WAIT`` (0.5 s) later, keeping its last incumbent. So a
  solve ends at most about ``HIGHS_GRACE + CANCEL_WAIT`` = 0.75 s past its limit, plus
  whatever part of the read-back the reserve did not cover (measured on the china
  capacitated MIP, 411k columns, 20 s limit: 0.65 s over, where it was 3.3 s).
- CBC runs as a subprocess and overruns ``-sec`` on some models; channelopt stops it
  ``CBC_GRACE`` seconds after the deadline (SIGINT, then a kill 2 s later).
- Work a model does between solver calls in pure Python (heuristic passes, plan
  assembly) checks the clock between steps, not inside them.

The warm start as cutoff
------------------------
A model may promise that its optimum lies on a grid (``ArrayProblem.objective_step``, e.g.
whole-number borders). A warm start that keeps every row and bound (checked here; a partial
start is first completed by one HiGHS call with its columns fixed) then makes HiGHS's
``objective_bound``: the start's objective rounded up onto the grid, less
``START_CUTOFF_STEPS`` (0.99 of) a step, since a better optimum is a whole step better. HiGHS
prunes every node above it. Its "infeasible" then means "no plan beats the start": the
start comes back optimal (no presolve-off confirmation); a run stopped first returns the
start with ``min(HiGHS's bound rounded onto the grid, the start's objective)``, which holds
for the whole problem (see :func:`_read_cutoff`). HiGHS and minimisation only.

A caller's own ``objective_bound`` (``Solver(options=...)``, HiGHS's units) is no proof either way: HiGHS
searches only below it and takes plans above it as they come. The bound read back is at most the bound given,
HiGHS's "optimal" for a plan above it is "feasible" (termination ``"objective_bound"``), and its "infeasible"
(no plan below the bound given, none met above it) is "no_solution" with the bound given as the bound
(termination ``"objective_bound"``): plans above it were never searched.

Ctrl-C
------
HiGHS runs in a worker thread while the calling thread waits, so SIGINT reaches
Python: the solve is cancelled (``cancelSolve``; every racer of a ``threads >= 2``
race, see :func:`_run_race`), the best plan so far comes back
with termination ``"interrupted"`` (status ``"feasible"``), and no re-solve or later
stage starts (:attr:`Deadline.interrupted`). A CBC subprocess gets SIGINT and writes
its incumbent. :meth:`BuiltModel.solve` raises ``KeyboardInterrupt`` when no plan
exists yet.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import difflib
import functools
import logging
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pulp

from ._lpmatrix import LpArrays, to_arrays, write_mps
from .exceptions import SettingsError, SolverError

__all__ = ["Solver", "SolveInfo", "Deadline"]

log = logging.getLogger(__name__)

#: statuses a SolveInfo may carry
STATUSES = ("optimal", "feasible", "infeasible", "unbounded", "no_solution", "error")
#: share of the remaining time a warm-start heuristic may use
HEURISTIC_SHARE = 0.2
#: seconds CBC may run past the deadline before channelopt stops it
CBC_GRACE = 1.0
#: time-limited MIPs with at least this many columns get HiGHS's light presolve (see _highs_options)
_LIGHT_PRESOLVE_COLUMNS = 50_000
#: a solver call never gets less than this (HiGHS treats 0 as "stop at once")
_MIN_CALL = 0.01


#: set by Ctrl-C during a solve; cleared when an outermost Model/BuiltModel solve begins
_CTRL_C = threading.Event()
_DEPTH = [0]


@contextlib.contextmanager
def _outer_solve():
    """Mark a Model/BuiltModel solve: the outermost one starts with no Ctrl-C pending, and a
    channelopt error raised after Ctrl-C surfaces as KeyboardInterrupt."""
    from .exceptions import ChannelOptError

    if _DEPTH[0] == 0:
        _CTRL_C.clear()
    _DEPTH[0] += 1
    try:
        yield
    except ChannelOptError as exc:
        if _CTRL_C.is_set():
            raise KeyboardInterrupt(f"interrupted: {exc}") from exc
        raise
    finally:
        _DEPTH[0] -= 1


class Deadline:
    """The wall clock of one whole solve: building, heuristics, every solver call.

    Parameters
    ----------
    seconds : float or None
        Seconds from ``start``; ``None`` means no limit (it still records interrupts).
    start : float, optional
        ``time.perf_counter()`` value the clock started at (default: now).

    Examples
    --------
    >>> d = Deadline(10.0)
    >>> 9.0 < d.remaining() <= 10.0
    True
    >>> half = d.share(0.5)          # a stage that may use half of what is left
    >>> 4.0 < half.remaining() <= 5.0
    True
    >>> Deadline(None).remaining() is None
    True
    """

    def __init__(self, seconds: float | None, start: float | None = None, *, parent: Deadline | None = None,
                 capped: bool = True, stop=None):
        self.seconds = None if seconds is None else float(seconds)
        self.start = time.perf_counter() if start is None else float(start)
        self.end = None if seconds is None else self.start + float(seconds)
        self.parent = parent
        #: whether the parent's end bounds this clock too (an interrupt always reaches both)
        self.capped = capped
        self._interrupted = False
        #: a callable saying this clock's work is no longer wanted (a race's racer that was told to stop):
        #: it then reads as interrupted, and its parents do not
        self.stop = stop

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def remaining(self) -> float | None:
        """Seconds left (0 when passed or interrupted); ``None`` when unlimited."""
        if self.interrupted:
            return 0.0
        ends = []
        d = self
        while d is not None:
            if d.end is not None:
                ends.append(d.end)
            d = d.parent if d.capped else None
        if not ends:
            return None
        return max(0.0, min(ends) - time.perf_counter())

    @property
    def expired(self) -> bool:
        left = self.remaining()
        return left is not None and left <= 0.0

    @property
    def interrupted(self) -> bool:
        """Ctrl-C arrived during this solve (or a parent's, or any solve inside the outermost one)."""
        return (_CTRL_C.is_set() or any(d._interrupted for d in self._chain())
                or any(d.stop is not None and d.stop() for d in self._chain()))

    def interrupt(self) -> None:
        for d in self._chain():
            d._interrupted = True
        # A strategy may solve sub-problems with a Solver of its own (no link to this clock):
        # Ctrl-C caught there must still stop the whole outer solve.
        _CTRL_C.set()

    def share(self, fraction: float) -> Deadline:
        """A child clock ending after ``fraction`` of what is left (never after this one)."""
        left = self.remaining()
        return Deadline(None if left is None else max(0.0, float(fraction)) * left, parent=self)

    def _chain(self):
        d = self
        while d is not None:
            yield d
            d = d.parent

    def __repr__(self) -> str:
        left = self.remaining()
        return f"Deadline(remaining={'unlimited' if left is None else f'{left:.2f}s'})"


@dataclass
class SolveInfo:
    """What the solver said about one solve.

    Attributes
    ----------
    status : str
        ``"optimal"`` (proven within ``mip_gap``), ``"feasible"`` (a plan, not proven
        optimal, e.g. time limit), ``"infeasible"``, ``"unbounded"``, ``"no_solution"``
        (stopped before any plan) or ``"error"``.
    termination : str
        The solver's own reason for stopping (``"optimal"``, ``"time_limit"``, ...).
    objective, bound, gap : float
        Incumbent objective, best proven bound, and relative gap
        ``|objective - bound| / max(|objective|, 1e-10)``. NaN where unknown.
    seconds : float
        Wall-clock seconds spent in the solver (loading included).
    build_seconds : float
        Seconds spent building the model; set by the model.
    solver_time_limit : float or None
        The time limit handed to the solver in its last call: for CBC what was left of
        the whole solve's ``time_limit`` when the call started; for HiGHS what was left
        once the model was loaded, less the time kept back for reading the plan back
        (see :data:`READ_BACK_SECONDS_PER_MNZ`).
    message : str
        What the solve path did beyond one solver call (cold re-solve, presolve-off
        confirmation, warm start kept), or why it stopped.
    calls : list of dict
        Every solver call of this solve, in order: ``call`` ("start completion", "solve",
        "cold re-solve", "presolve-off confirmation"), ``time_limit`` (what the whole solve had left when
        the call started), ``solver_time_limit`` (what the solver was handed), its
        ``seconds`` and ``status``.
    values : numpy.ndarray or None
        The plan, one value per column (array problems) or per ``problem.variables()``.
    """

    solver: str
    status: str
    termination: str
    objective: float = math.nan
    bound: float = math.nan
    gap: float = math.nan
    seconds: float = math.nan
    build_seconds: float = math.nan
    n_variables: int = 0
    n_integer: int = 0
    n_constraints: int = 0
    time_limit: float | None = None
    mip_gap: float | None = None
    message: str = ""
    solver_time_limit: float | None = None
    calls: list = field(default_factory=list, repr=False)
    duals: np.ndarray | None = field(default=None, repr=False)
    values: np.ndarray | None = field(default=None, repr=False)

    @property
    def has_solution(self) -> bool:
        return self.status in ("optimal", "feasible")

    @property
    def proven_optimal(self) -> bool:
        return self.status == "optimal"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("duals", None)
        out.pop("values", None)
        out.pop("calls", None)
        return out


@dataclass(frozen=True)
class Solver:
    """Solver settings; the only way a channelopt model reaches a solver.

    Parameters
    ----------
    name : {"highs", "cbc"}
        HiGHS (through highspy, the default) or CBC (the binary shipped with PuLP).
    time_limit : float, optional
        Wall-clock limit in seconds for the whole ``model.solve()``: building,
        heuristics, every solver call and re-solve (see "The clock" in this module's
        docstring). A solve stopped by it returns its best plan with status
        ``"feasible"``.
    mip_gap : float, default 0.0
        Relative optimality gap at which the solver may stop and call the plan optimal.
        The default proves optimality (up to an absolute gap of 1e-6).
    threads : int, optional
        Threads the solver may use. With HiGHS, ``threads >= 2`` on a MIP starts
        ``min(threads, RACERS)`` searches of the same problem at once, each with its own
        ``random_seed`` (HiGHS's own branch and bound keeps about one core busy): they
        hand each other their plans, the first proof (or one's plan meeting another's
        bound) stops them all, and the bound reported is the best of theirs. CBC gets
        ``-threads``.
    msg : bool, default False
        Show the solver log.
    options : mapping, optional
        Extra solver options: HiGHS option names, or CBC command-line options without
        the leading dash. An unknown name raises :class:`~channelopt.SettingsError`
        naming the nearest valid one.

    Examples
    --------
    >>> import pulp
    >>> from channelopt import Solver
    >>> prob = pulp.LpProblem("tiny", pulp.LpMaximize)
    >>> x = pulp.LpVariable("x", 0, 3, cat="Integer")
    >>> prob += x
    >>> info = Solver("highs").solve(prob)
    >>> info.status, info.objective, x.varValue
    ('optimal', 3.0, 3.0)
    """

    name: str = "highs"
    time_limit: float | None = None
    mip_gap: float = 0.0
    threads: int | None = None
    msg: bool = False
    options: Mapping[str, Any] = field(default_factory=dict)
    _deadline: Deadline | None = field(default=None, repr=False, compare=False)
    #: the problem's ``race_cuts`` during one call (see :func:`_racers`)
    _race_cuts: Any = field(default=None, repr=False, compare=False)
    #: HiGHS's ``objective_bound`` during one call, in the model's units: a checked warm start less part of a
    #: grid step (see :func:`_start_cutoff`)
    _cutoff: float | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        name = str(self.name).lower()
        if name not in ("highs", "cbc"):
            raise SettingsError(f"Solver name must be 'highs' or 'cbc', got {self.name!r}.")
        object.__setattr__(self, "name", name)
        started = self._deadline is not None
        if self.time_limit is not None and not (self.time_limit > 0 or (started and self.time_limit >= 0)):
            raise SettingsError(f"time_limit must be positive seconds, got {self.time_limit!r}.")
        if started and self.time_limit is not None and self._deadline.seconds != self.time_limit:
            # dataclasses.replace(solver, time_limit=x) on a running clock: x more seconds from
            # now for what follows (a stage, a sub-solve), as the caller computed them (models
            # keep small floors, e.g. 0.5 s, rather than return nothing). Ctrl-C still reaches
            # the whole solve. Use share() for a slice that never outlasts the whole.
            object.__setattr__(self, "_deadline", Deadline(self.time_limit, parent=self._deadline, capped=False))
        if self.mip_gap is None or not 0 <= self.mip_gap < 1:
            raise SettingsError(f"mip_gap must be in [0, 1), got {self.mip_gap!r}.")
        if self.threads is not None and int(self.threads) < 1:
            raise SettingsError(f"threads must be at least 1, got {self.threads!r}.")
        object.__setattr__(self, "options", dict(self.options or {}))
        for key in self.options:
            _check_option(name, str(key))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "time_limit": self.time_limit, "mip_gap": self.mip_gap,
                "threads": self.threads, "msg": self.msg, "options": dict(self.options)}

    # -- the clock
    def start_clock(self) -> Solver:
        """This solver with its ``time_limit`` clock started now (unchanged if already started).

        ``Model.solve`` and ``BuiltModel.solve`` call it first, so everything after
        draws on one :class:`Deadline`.
        """
        if self._deadline is not None:
            return self
        if _DEPTH[0] == 0:
            _CTRL_C.clear()  # a new solve from the top: an old Ctrl-C is not this one's
        return _with_deadline(self, Deadline(self.time_limit))

    @property
    def deadline(self) -> Deadline:
        """The running clock (a fresh one starting now if the clock is not started)."""
        return self._deadline if self._deadline is not None else Deadline(self.time_limit)

    def remaining(self) -> float | None:
        """Seconds left of the whole solve (``None``: no limit); ``time_limit`` if the clock is not started."""
        if self._deadline is None:
            return None if self.time_limit is None else float(self.time_limit)
        return self._deadline.remaining()

    def share(self, fraction: float) -> Solver:
        """This solver on a child clock: ``fraction`` of what is left (for a stage or a heuristic).

        Its ``time_limit`` is that share in seconds; an interrupt on it stops the parent too.
        """
        started = self.start_clock()
        child = started._deadline.share(fraction)
        return dataclasses.replace(started, time_limit=child.seconds, _deadline=child)

    @property
    def interrupted(self) -> bool:
        """Ctrl-C arrived during this solve: callers should return what they have."""
        return self._deadline is not None and self._deadline.interrupted

    def _call_limit(self) -> float | None:
        left = self.remaining()
        return None if left is None else max(left, _MIN_CALL)

    def solve(self, problem, warm_start=None) -> SolveInfo:
        """Solve ``problem`` and describe the outcome.

        Parameters
        ----------
        problem : pulp.LpProblem or channelopt._arrays.ArrayProblem
            A PuLP problem gets ``varValue`` (and ``pi`` on LP rows) set in place; an
            array problem gets ``solution`` (one value per column) and ``duals``.
        warm_start : optional
            A (partial) starting plan: for a PuLP problem a mapping of ``LpVariable`` to
            value; for an array problem a vector (NaN where unset) or
            ``{VarBlock: values}``. HiGHS completes a partial start itself.

        Returns
        -------
        SolveInfo
            ``values`` holds the solution by column. Never raises for infeasible or
            time-limited models: the caller decides.
        """
        from ._arrays import ArrayProblem

        self = self.start_clock()  # noqa: PLW0642 - every call below draws on one clock
        t0 = time.perf_counter()
        if isinstance(problem, ArrayProblem):
            arrays = problem.arrays()
            start = problem.start_vector(warm_start)
            cuts = getattr(problem, "race_cuts", None)
            if cuts is not None and self.name == "highs":
                self = dataclasses.replace(self, _race_cuts=cuts)  # noqa: PLW0642
        else:
            arrays = to_arrays(problem)
            start = None
            if warm_start:
                pos = {id(v): i for i, v in enumerate(arrays.variables)}
                start = np.full(len(arrays.variables), np.nan)
                for v, val in warm_start.items():
                    i = pos.get(id(v))
                    if i is not None and val is not None:
                        start[i] = float(val)
        info, values = self._solve_arrays(arrays, start)
        info.seconds = time.perf_counter() - t0
        info.values = values
        if isinstance(problem, ArrayProblem):
            problem.solution = values
            problem.duals = info.duals
        else:
            if values is not None:
                for v, val in zip(arrays.variables, values.tolist()):
                    v.varValue = val
            else:
                for v in arrays.variables:
                    v.varValue = None
            if info.duals is not None:
                for con, pi in zip(_constraint_list(problem), info.duals.tolist()):
                    con.pi = pi
        log.info(
            "%s: %s (%s) objective=%s bound=%s gap=%s in %.2fs",
            self.name, info.status, info.termination, info.objective, info.bound, info.gap,
            info.seconds,
        )
        return info

    def _solve_arrays(self, a: LpArrays, start: np.ndarray | None) -> tuple[SolveInfo, np.ndarray | None]:
        """The shared core: run, check the plan before rounding, re-solve when distrusted."""
        notes = []
        calls: list[dict[str, Any]] = []

        def run(solver: Solver, label: str, begin, arrays: LpArrays = a):
            t = time.perf_counter()
            left = solver.remaining()
            out = solver._run(arrays, begin)
            calls.append({"call": label, "time_limit": left, "solver_time_limit": out[0].solver_time_limit,
                          "seconds": time.perf_counter() - t, "status": out[0].status})
            return out

        cut = _start_cutoff(self, a, start, run)
        solver = self
        if cut is not None:
            # a plan better than the checked start is better by a whole grid step: HiGHS prunes above the cutoff
            start = cut.values if CUTOFF_WITH_START else None
            solver = dataclasses.replace(self, _cutoff=cut.bound)
        info, raw, tol = run(solver, "solve", start)
        values = _accepted(a, raw, info.objective, tol, checked=getattr(info, "_checked", False))
        if raw is not None and values is None and start is not None and not self.interrupted:
            # Measured with HiGHS 1.16: presolve can mis-map a MIP start and return a plan
            # that does not price at the reported objective. Never hand that on: solve cold.
            log.warning("%s returned an inconsistent plan from a warm start; solving again cold", self.name)
            notes.append("warm start discarded: the warm-started solve returned an inconsistent plan")
            info, raw, tol = run(solver, "cold re-solve", None)
            values = _accepted(a, raw, info.objective, tol)
        if raw is not None and values is None:
            raise SolverError(f"{self.name} returned a plan that {_violation(a, raw, info.objective, tol)}; "
                              "channelopt will not hand it on. Rerun with msg=True to inspect.")
        if cut is not None:
            # under the cutoff "infeasible" means "no plan beats the start": read here, it never reaches the
            # presolve-off confirmation below (which would re-run the whole search to say the same)
            info, values = _read_cutoff(a, info, values, cut)
        if (info.status == "infeasible" and a.is_mip and self.name == "highs" and "presolve" not in self.options
                and not self.interrupted):
            # Measured with HiGHS 1.16: presolve declared a feasible 12-region joint plan
            # infeasible (CBC and HiGHS without presolve found 1,482,975). Confirm first.
            retry = _with_deadline(Solver(self.name, self.time_limit, self.mip_gap, self.threads, self.msg,
                                          {**self.options, "presolve": "off"}), self._deadline)
            info2, raw2, tol2 = run(retry, "presolve-off confirmation", start)
            values2 = _accepted(a, raw2, info2.objective, tol2)
            if raw2 is not None and values2 is None:
                raise SolverError(f"{self.name} returned a plan that {_violation(a, raw2, info2.objective, tol2)}.")
            if info2.status != "infeasible":
                log.warning("HiGHS presolve said infeasible; without presolve: %s", info2.status)
                notes.append(f"HiGHS presolve reported infeasible; without presolve: {info2.status}")
                info, values = info2, values2
            else:
                notes.append("infeasible: confirmed without presolve")
        if (start is not None and not np.isnan(start).any()
                and info.status not in ("optimal", "infeasible", "unbounded")):
            # A complete start the solver could not improve on in time (or lost) is still a plan.
            # (Priced first: checking it row by row costs 0.3 s on a 411k-column model.)
            priced = float(a.cost @ start + a.offset)
            slack = 1e-9 * max(1.0, abs(priced))  # the solver's plan is often the start itself
            better = values is None or (priced > info.objective + slack if a.maximize
                                        else priced < info.objective - slack)
            ok = _accepted(a, start, priced, _Tol.exact(a)) if better else None
            if ok is not None:
                priced = float(a.cost @ ok + a.offset)
                notes.append(f"the solver failed ({info.termination}); returning the warm start"
                             if info.status == "error" else
                             "the solver found no better plan than the warm start in time; returning it")
                info.status, info.objective, values = "feasible", priced, ok
                info.gap = _gap(priced, info.bound)
        info.message = "; ".join(filter(None, [info.message, *notes]))
        info.calls = calls
        info.n_variables = len(a.cost)
        info.n_integer = int(a.integer.sum())
        info.n_constraints = len(a.row_lower)
        info.time_limit = self.time_limit
        info.mip_gap = self.mip_gap
        return info, values

    def _run(self, a: LpArrays, start):
        if self.deadline.interrupted:
            return SolveInfo(self.name, "no_solution", "interrupted", message="interrupted before the solver call",
                             solver_time_limit=0.0), None, None
        left = self.remaining()
        if left is not None and left <= 0.0:
            # The whole solve's time is spent: loading alone would overrun it (measured: 2.7 s to
            # load and stop an 80-distributor china MIP given 0.01 s). A complete warm start
            # still comes back as the plan (see _solve_arrays).
            return SolveInfo(self.name, "no_solution", "time_limit", message="no time left for a solver call",
                             solver_time_limit=0.0), None, None
        load = LOAD_SECONDS_PER_MNZ * len(a.data) / 1e6
        if left is not None and load >= 0.05 and left < load:
            # Loading alone would outlast what is left (411k-column china MIP with 0.5 s left: 1.2 s
            # to load, then HiGHS stops at once): no call, the warm start comes back.
            return SolveInfo(self.name, "no_solution", "time_limit",
                             message=f"no time left for a solver call ({left:.2f}s left; loading {len(a.data):,} "
                                     f"nonzeros takes about {load:.1f}s)", solver_time_limit=0.0), None, None
        if self.name != "highs":
            return _solve_cbc(self, a, start)
        return _solve_highs(self, a, start)


#: a complete warm start that keeps every row (checked here, row by row), on a minimisation MIP with an objective
#: grid (:attr:`LpArrays.objective_step`), makes HiGHS's cutoff ``objective_bound`` = the start's objective (rounded
#: up onto the grid) less this many grid steps: a better optimum is at least one step better, so HiGHS may prune
#: every node whose bound is above the cutoff. A partial start is first completed (its columns fixed, one HiGHS
#: call). ``None``: off. Measured on the cut-edge labelling MILP (WV NE OK AR KS, 1 thread): HiGHS's nodes 28,488
#: -> 22,541 in all, CPU s 309 -> 270 (benchmarks/RESULTS.md, "the start as cutoff (cutoff12)"). 0.99 rather than
#: 0.5 also prunes the nodes whose bound lies within a step of the start (same process, 1 thread, idle, CPU s 0.5 ->
#: 0.99: KS 93.7 -> 59.1, OK 45.4 -> 32.0, AR 88.3 -> 75.8, WV 18.9 -> 17.0, NE 1.9 -> 1.9; RESULTS.md "Session 9,
#: final tree"). The hundredth of a step left (never less than :data:`CUTOFF_MARGIN` in relative terms) keeps a plan
#: one whole step better clear of HiGHS's tolerances
START_CUTOFF_STEPS: float | None = 0.99
#: least distance, relative to ``max(1, |start|)``, between the cutoff and the next grid point below the start
CUTOFF_MARGIN = 1e-6
#: whether HiGHS also gets the start itself as its first incumbent under the cutoff (False: the cutoff alone; the
#: start comes back from :func:`_read_cutoff` when HiGHS finds nothing better; it is handed over anyway with a gap
#: to stop at). Measured (bench_territories, 5 states, benchmarks/RESULTS.md "the start as cutoff (cutoff12)"):
#: nodes with the start 22,541, the cutoff alone 25,046, no cutoff 28,488; the cutoff alone took more nodes
#: than no cutoff on WV (9,192 against 8,188), with the start fewer on every state
CUTOFF_WITH_START = True
#: share of what is left that completing a partial start may take (HiGHS completes it the same way itself)
COMPLETE_SHARE = 0.1


@dataclass(frozen=True)
class _Cutoff:
    """A checked warm start as HiGHS's cutoff: its complete ``values``, its ``objective``, the ``bound`` handed
    to HiGHS (model units) and the grid ``step``."""

    values: np.ndarray
    objective: float
    bound: float
    step: float


def _start_cutoff(solver: Solver, a: LpArrays, start: np.ndarray | None, run) -> _Cutoff | None:
    """The cutoff a warm start gives this solve (see :data:`START_CUTOFF_STEPS`), or ``None``.

    Only for HiGHS, a minimisation MIP whose model declares a grid, with no ``objective_bound`` and no gap
    to stop at (``mip_gap`` 0, no ``mip_rel_gap``/``mip_abs_gap`` of the caller's: HiGHS 1.16 then stops only
    once its bound reaches the cutoff, measured on an 8 x 8 grid partition with ``mip_gap=0.6``: the whole
    tree closed in 2.8 s where the gap stops it at the root), and a start that keeps every row and bound: a
    complete start is checked as given (the
    exact tolerance of a plan computed in Python); a partial one is completed by one HiGHS call with its
    columns fixed (``run``, recorded as "start completion"), and that plan checked against the model.
    """
    step = float(getattr(a, "objective_step", 0.0) or 0.0)
    if (START_CUTOFF_STEPS is None or solver.name != "highs" or start is None or not a.is_mip or a.maximize
            or not (step > 0 and math.isfinite(step)) or "objective_bound" in solver.options
            or solver.mip_gap > 0 or {"mip_rel_gap", "mip_abs_gap"} & set(solver.options) or solver.interrupted):
        return None
    if np.isnan(start).any():
        values = _complete_start(solver, a, start, run)
    else:
        values = _accepted(a, start, float(a.cost @ start + a.offset), _Tol.exact(a))
    if values is None:
        return None
    objective = float(a.cost @ values + a.offset)
    # the optimum is on the grid (a plan with slack in a continuous column may be off it): if it beats the start
    # it is a whole step under the start's objective rounded up onto the grid
    top = _on_grid(objective, (step, a.offset), False)
    below = top - step  # the best a better plan can be
    cutoff = max(top - START_CUTOFF_STEPS * step, below + CUTOFF_MARGIN * max(1.0, abs(top)))
    return _Cutoff(values, objective, min(cutoff, top - 0.5 * step), step)


def _complete_start(solver: Solver, a: LpArrays, start: np.ndarray, run) -> np.ndarray | None:
    """A partial start completed by HiGHS with its set columns fixed (at most :data:`COMPLETE_SHARE` of what is
    left), checked against ``a``'s rows and bounds; ``None`` when it has no completion in that time."""
    given = ~np.isnan(start)
    fixed = np.where(a.integer, np.round(start), start)[given]
    slack = 1e-9 * np.maximum(1.0, np.abs(fixed))
    if ((fixed < a.col_lower[given] - slack) | (fixed > a.col_upper[given] + slack)).any():
        return None
    lower, upper = a.col_lower.copy(), a.col_upper.copy()
    lower[given] = upper[given] = np.clip(fixed, a.col_lower[given], a.col_upper[given])
    sub = dataclasses.replace(a, col_lower=lower, col_upper=upper, objective_step=0.0)
    left = solver.remaining()
    share = solver if left is None else dataclasses.replace(solver, time_limit=max(COMPLETE_SHARE * left, _MIN_CALL))
    info, raw, tol = run(dataclasses.replace(share, _race_cuts=None), "start completion", None, sub)
    if raw is None or info.status not in ("optimal", "feasible"):
        return None
    return _accepted(a, raw, info.objective, tol)


def _read_cutoff(a: LpArrays, info: SolveInfo, values: np.ndarray | None,
                 cut: _Cutoff) -> tuple[SolveInfo, np.ndarray | None]:
    """Status, bound and plan of a run under the start's cutoff, for the user's problem.

    HiGHS searched the plans below ``cut.bound``. A plan of its that beats the start is in that set, so its
    bound holds as it is. Otherwise the plan is the start (HiGHS's own plan, if any, is no better):

    - "infeasible": HiGHS closed its tree with no plan below the cutoff, and on the grid none lies between
      the cutoff and the start: the start is optimal, its objective the bound;
    - otherwise HiGHS's bound holds for the plans below the cutoff and every other plan costs at least the
      start, so ``min(HiGHS's bound rounded onto the grid, the start)`` holds for the problem. HiGHS's
      "optimal" (its tree closed: no gap is set under a cutoff) proves the start; a stopped run proves it
      where that bound meets it, else the start is "feasible", termination kept.
    """
    s = cut.objective
    slack = 1e-9 * max(1.0, abs(s))
    how = f"HiGHS searched below the warm start ({s:.10g}) with the cutoff {cut.bound:.10g}"
    if values is not None and info.objective < s - slack:
        note = how + " and found a better plan"
        return dataclasses.replace(info, message="; ".join(m for m in (info.message, note) if m)), values
    bound = info.bound if info.status in ("feasible", "no_solution") else math.nan
    if math.isfinite(bound):
        bound = min(_on_grid(bound, (cut.step, a.offset), False), s)
    proven = info.termination in ("optimal", "infeasible") or (
        info.termination != "interrupted" and math.isfinite(bound) and bound >= s - slack)
    note = how + (": no better plan exists, the start is optimal" if proven else
                  f" and stopped ({info.termination}) with no better plan; the plan is the start")
    if proven:
        bound = s
    info = dataclasses.replace(info, status="optimal" if proven else "feasible",
                               termination="optimal" if proven else info.termination, objective=s,
                               bound=bound, gap=_gap(s, bound),
                               message="; ".join(m for m in (info.message, note) if m))
    return info, cut.values


def _with_deadline(solver: Solver, deadline: Deadline | None) -> Solver:
    return dataclasses.replace(solver, _deadline=deadline)


# -- option names
#: CBC 2.10 command-line options ("?" in the cbc shell): required prefix, full name.
_CBC_OPTIONS = (
    "dualB(ound) dualT(olerance) primalT(olerance) primalW(eight) psi zeroT(olerance) allow(ableGap) cuto(ff) "
    "inc(rement) integerT(olerance) preT(olerance) pumpC(utoff) ratio(Gap) sec(onds) force(Solution) "
    "idiot(Crash) maxF(actor) maxIt(erations) output(Format) randomS(eed) slog(Level) sprint(Crash) cutD(epth) "
    "cutL(ength) depth(MiniBab) hot(StartMaxIts) log(Level) maxN(odes) maxSaved(Solutions) maxSo(lutions) "
    "passC(uts) passF(easibilityPump) passT(reeCuts) pumpT(une) randomC(bcSeed) slow(cutpasses) strat(egy) "
    "strong(Branching) trust(PseudoCosts) allC(ommands) chol(esky) crash cross(over) direction error(sAllowed) "
    "fact(orization) keepN(ames) mess(ages) perturb(ation) presolve printi(ngOptions) scal(ing) timeM(ode) "
    "clique(Cuts) combine(Solutions) combine2(Solutions) constraint(fromCutoff) cost(Strategy) cplex(Use) "
    "cuts(OnOff) Dins DivingS(ome) DivingC(oefficient) DivingF(ractional) DivingG(uided) DivingL(ineSearch) "
    "DivingP(seudoCost) DivingV(ectorLength) dw(Heuristic) feas(ibilityPump) flow(CoverCuts) GMI(Cuts) "
    "gomory(Cuts) greedy(Heuristic) heur(isticsOnOff) knapsack(Cuts) lagomory(Cuts) latwomir(Cuts) "
    "lift(AndProjectCuts) local(TreeSearch) mixed(IntegerRoundingCuts) node(Strategy) PrepN(ames) "
    "pivotAndC(omplement) pivotAndF(ix) preprocess probing(Cuts) proximity(Search) randomi(zedRounding) "
    "reduce(AndSplitCuts) reduce2(AndSplitCuts) residual(CapacityCuts) Rens Rins round(ingHeuristic) "
    "sosO(ptions) sosP(rioritize) two(MirCuts) Vnd(VariableNeighborhoodSearch) zero(HalfCuts) allS(lack) "
    "barr(ier) dualS(implex) either(Simplex) primalS(implex) doH(euristic) mips(tart) prio(rityIn) "
    "nextB(estSolution)"
).split()


@functools.lru_cache(maxsize=1)
def _highs_option_names() -> tuple[str, ...]:
    import highspy

    with _stdout_silenced(True):
        h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    with tempfile.TemporaryDirectory(prefix="channelopt-opts-") as tmp:
        path = os.path.join(tmp, "options.txt")
        with _stdout_silenced(True):
            h.writeOptions(path)
        with open(path) as fh:
            names = re.findall(r"^([a-z_0-9]+) = ", fh.read(), re.M)
    extra = [n for n in dir(highspy.HighsOptions()) if not n.startswith("_")]
    return tuple(sorted(set(names) | set(extra)))


@functools.lru_cache(maxsize=256)
def _highs_knows(key: str) -> bool:
    import highspy

    with _stdout_silenced(True):
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        status, _ = h.getOptionType(key)
    return status == highspy.HighsStatus.kOk


def _check_option(solver: str, key: str) -> None:
    if solver == "highs":
        if key in _highs_option_names() or _highs_knows(key):
            return
        names = _highs_option_names()
        where = "HiGHS option"
    else:
        low = key.lower()
        for spec in _CBC_OPTIONS:
            short, full = spec.split("(")[0].lower(), spec.replace("(", "").replace(")", "").lower()
            if full.startswith(low) and low.startswith(short):
                return
        names = tuple(s.replace("(", "").replace(")", "") for s in _CBC_OPTIONS)
        where = "CBC option"
    near = difflib.get_close_matches(key, names, n=1, cutoff=0.5)
    hint = f"; did you mean {near[0]!r}?" if near else "."
    raise SettingsError(f"Solver(options=...): {key!r} is not a {where}{hint} "
                        f"(options are passed to {solver} by name; see its documentation for the full list).")


def _constraint_list(problem: pulp.LpProblem) -> list:
    constraints = getattr(problem, "_constraints", None)
    return list((constraints if constraints is not None else problem.constraints).values())


@dataclass
class _Tol:
    """Feasibility tolerances of one solver call, in the units the solver worked in."""

    feas: float
    integer: float
    row_scale: np.ndarray | None = None
    printed: float = 0.0  # relative precision of values read back from text (CBC)

    @classmethod
    def exact(cls, a: LpArrays) -> _Tol:
        """For plans computed in Python (warm starts): clean values, the solver's default tolerance."""
        return cls(1e-7, 1e-9, _scaling(a)[0], 0.0)


def _matrix(a: LpArrays):
    """``a``'s rows as a scipy CSR matrix (on ``a``'s own arrays, no copy), made once per ``LpArrays``.

    The solver's plan check and a model's start check both multiply by it; on a tiny model
    making it (~13 us) cost more than the product (issue 13). The arrays of an ``LpArrays``
    are never changed in place (a changed model is a new ``LpArrays``).
    """
    kept = a.__dict__.setdefault("_kept", {})
    if "matrix" not in kept:
        from scipy.sparse import csr_matrix

        kept["matrix"] = csr_matrix((a.data, a.indices, a.indptr), shape=(len(a.row_lower), len(a.cost)))
    return kept["matrix"]


def _bound_size(a: LpArrays, which: str) -> np.ndarray:
    """``max(1, |lower|, |upper|)`` of the finite bounds of ``a``'s columns (``which="col"``) or rows
    (``"row"``), kept per ``LpArrays``: the scale of the checks' tolerances."""
    kept = a.__dict__.setdefault("_kept", {})
    if which not in kept:
        lo, hi = (a.col_lower, a.col_upper) if which == "col" else (a.row_lower, a.row_upper)
        kept[which] = np.maximum(1.0, np.maximum(np.where(np.isfinite(lo), np.abs(lo), 0.0),
                                                 np.where(np.isfinite(hi), np.abs(hi), 0.0)))
    return kept[which]


def _violation(a: LpArrays, values: np.ndarray, objective: float, tol: _Tol) -> str | None:
    """What is wrong with a plan, before any rounding; ``None`` when it keeps every rule.

    Each row is checked against the solver's own feasibility tolerance (x10) in the
    scaled units the solver saw, i.e. ``10 * tol / row_scale`` in the model's units:
    a capacity row of 1e7 with demands of 1e4 allows about 0.08, not 100.
    """
    if a.is_mip:
        frac = np.abs(values[a.integer] - np.round(values[a.integer]))
        if frac.max(initial=0.0) > 10 * tol.integer:
            j = np.flatnonzero(a.integer)[int(np.argmax(frac))]
            return f"is not integral (column {j} = {float(values[j])!r})"
    slack = 10 * tol.feas * _bound_size(a, "col") + tol.printed * np.abs(values)
    bad = (values < a.col_lower - slack) | (values > a.col_upper + slack)
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        return (f"breaks the bounds of column {j} ({float(values[j])!r} outside "
                f"[{a.col_lower[j]}, {a.col_upper[j]}])")
    m = len(a.row_lower)
    matrix = _matrix(a)
    activity = matrix @ values
    row_scale = np.ones(m) if tol.row_scale is None else tol.row_scale
    row_tol = 10 * tol.feas / row_scale
    if tol.printed:
        row_tol = row_tol + tol.printed * (abs(matrix) @ np.abs(values))
    over = np.maximum(a.row_lower - activity, activity - a.row_upper) - row_tol
    if (over > 0).any():
        r = int(np.argmax(over))
        names = a.row_names() if callable(a.row_names) else a.row_names
        name = f"row {names[r]!r}" if names is not None else f"row {r}"
        return (f"breaks {name} by {over[r] + row_tol[r]:.6g} (activity {activity[r]:.10g}, bounds "
                f"[{a.row_lower[r]}, {a.row_upper[r]}], tolerance {row_tol[r]:.3g})")
    priced = float(a.cost @ values + a.offset)
    obj_tol = 1e-6 * max(1.0, abs(priced)) + tol.printed * float(np.abs(a.cost) @ np.abs(values))
    if not math.isfinite(objective) or abs(priced - objective) > obj_tol:
        return f"does not price at its reported objective {objective!r} (the plan costs {priced!r})"
    return None


def _accepted(a: LpArrays, raw: np.ndarray | None, objective: float, tol: _Tol | None,
              checked: bool = False) -> np.ndarray | None:
    """The plan with integers rounded, if it passed the check before rounding (``checked``: it
    already did); else ``None``."""
    if raw is None or (not checked and _violation(a, raw, objective, tol) is not None):
        return None
    values = raw.copy()
    if a.is_mip:
        # Integers come back as 0.9999999; round so downstream code sees clean decisions.
        values[a.integer] = np.round(values[a.integer]) + 0.0  # + 0.0: no -0.0
    return values


def _gap(objective: float, bound: float) -> float:
    if not (math.isfinite(objective) and math.isfinite(bound)):
        return math.nan
    diff = abs(objective - bound)
    if diff <= 1e-9:
        return 0.0
    return diff / max(abs(objective), 1e-10)


@contextlib.contextmanager
def _stdout_silenced(active: bool):
    """Silence file descriptor 1: highspy prints its banner from C++ on construction."""
    if not active:
        yield
        return
    try:
        sys.stdout.flush()
        fd = sys.__stdout__.fileno() if sys.__stdout__ else 1
        saved = os.dup(fd)
    except (OSError, AttributeError, ValueError):
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), fd)
            yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


def _scaling(a: LpArrays) -> tuple[np.ndarray, float]:
    """Power-of-two row and objective scales (exact in floating point).

    Money and volume rows mix 1 with 1e7 (e.g. ``sum demand_i x_ij <= capacity_j y_j``);
    HiGHS then crawls through the root LP. Scaling each such row by its largest
    coefficient, and the objective to a largest cost near 1e3, fixes that without
    changing the solution.
    """
    m = len(a.row_lower)
    row_scale = np.ones(m)
    if len(a.data):
        absdata = np.abs(a.data)
        nonempty = np.diff(a.indptr) > 0
        starts = a.indptr[:-1][nonempty]
        big = np.zeros(m)
        big[nonempty] = np.maximum.reduceat(absdata, starts)
        off = nonempty & ((big > 16.0) | (big < 1.0 / 16.0)) & (big > 0)
        row_scale[off] = np.exp2(-np.round(np.log2(big[off])))
    return row_scale, _objective_scale(a)


def _objective_scale(a: LpArrays) -> float:
    """The power-of-two objective scale of :func:`_scaling`: HiGHS's objective values are this times the model's."""
    cmax = float(np.abs(a.cost).max(initial=0.0))
    return float(np.exp2(-np.ceil(np.log2(cmax / 1e3)))) if cmax > 1e4 else 1.0


_SCHEDULER_LOCK = threading.Lock()
#: the ``threads`` each thread's HiGHS scheduler was sized for (HiGHS 1.16 keeps one per calling thread)
_SCHEDULERS = threading.local()


def _highs_options(h, settings: Solver, a: LpArrays, limit: float | None) -> None:
    import highspy

    def put(key, value):
        if h.setOptionValue(key, value) == highspy.HighsStatus.kError:
            raise SettingsError(f"HiGHS rejected option {key}={value!r} (wrong type or out of range).")

    put("output_flag", bool(settings.msg))
    if limit is not None:
        put("time_limit", float(limit))
    put("mip_rel_gap", float(settings.mip_gap))
    if settings.threads is not None:
        put("threads", int(settings.threads))
    if not a.is_mip and "presolve" not in settings.options:
        # Measured with HiGHS 1.16 on a 1,000-cell piecewise-linear budget LP: presolve
        # 31.6 s, the whole solve without it 0.28 s. LPs here are solved without it
        # unless the caller asks (Solver(options={"presolve": "on"})).
        put("presolve", "off")
    if (a.is_mip and limit is not None and len(a.cost) >= _LIGHT_PRESOLVE_COLUMNS
            and not {"presolve", "presolve_mode"} & set(settings.options)):
        # Measured with HiGHS 1.16 (2 cores, loaded): the full MIP presolve of a 100,200-binary
        # capacitated facility model ran 51-160 s without looking at a 5 s time limit and
        # reduced nothing; the light mode (2) kept the limit and found a plan. A time-limited
        # large MIP gets the light presolve unless the caller chose one.
        put("presolve_mode", 2)
    if settings._cutoff is not None and "objective_bound" not in settings.options:
        put("objective_bound", float(settings._cutoff) * _objective_scale(a))
    for key, value in settings.options.items():
        put(key, value)


def _option(h, key: str):
    out = h.getOptionValue(key)
    return out[1] if isinstance(out, tuple) else out


def _reset_scheduler_if_threads_changed(threads: int | None) -> None:
    """HiGHS keeps one thread scheduler per calling thread, sized by that thread's first solve.

    Measured with highspy 1.16: ``Solver(threads=1)`` then ``Solver(threads=2)`` in one
    process fails with "kNotset" unless the scheduler is reset in between. The record is
    per thread (HiGHS's ``HighsTaskExecutor`` handle is ``thread_local``): a race's second
    racer solves sub-problems with one thread in its own thread (:func:`_racers`), and a
    process-wide record then left the main thread's two-thread scheduler in place for a
    later ``threads=1`` solve, which HiGHS refused (status "error").
    """
    import highspy

    with _SCHEDULER_LOCK:
        current = getattr(_SCHEDULERS, "threads", None)
        if current != threads:
            if current is not None or threads is not None:
                # never under a run left in the background (it was told to stop)
                for _, worker in [x for x in _ABANDONED if x[1].is_alive()]:
                    worker.join()
                highspy.Highs.resetGlobalScheduler(True)
            _SCHEDULERS.threads = threads


#: seconds past HiGHS's own time limit before channelopt tells it to stop
HIGHS_GRACE = 0.25
#: seconds HiGHS gets to stop (after Ctrl-C or HIGHS_GRACE) before channelopt stops waiting for it
#: (keeping the run's last incumbent, see _run_interruptible)
CANCEL_WAIT = 0.5
#: seconds per million nonzeros kept back from HiGHS's own time limit, for what follows the run on the
#: same clock: reading the plan back, checking it row by row and assembling the Plan. Measured on the
#: china capacitated min_cost MIP (411k columns, 1.64M nonzeros, load 8-10): 0.55-0.65 s.
READ_BACK_SECONDS_PER_MNZ = 0.4
#: never more than this share of what is left is kept back
READ_BACK_MAX_SHARE = 0.25
#: seconds per million nonzeros to load a model into the solver; a call with less time left than that is
#: not made (measured on the china capacitated MIP, 1.64M nonzeros, load 8-10: 1.0-1.2 s)
LOAD_SECONDS_PER_MNZ = 0.6
#: seconds a race waits for a racer told to stop while it is still in its step before the run (the boundary
#: floors' sub-MIPs see the stop between and, through their clock, inside their runs), before leaving it
PREPARE_WAIT = 3.0
#: HiGHS objects whose runs were abandoned (kept alive until their worker threads end)
_ABANDONED: list = []


def _join_abandoned() -> None:
    """At interpreter exit, wait for the HiGHS runs channelopt stopped waiting for.

    highspy runs a solve in a daemon thread. If that thread is still inside HiGHS when
    the process exits, C++ destroys HiGHS's running scheduler threads and the process
    aborts ("terminate called without an active exception", exit status 134) after the
    user's work is done. Measured: 5 of 5 runs aborted with an abandoned run; none with
    this join. The runs were cancelled and had their time limit set to 0, so they end.
    """
    alive = [(h, w) for h, w in _ABANDONED if w.is_alive()]
    try:  # the message inside: a Ctrl-C right after it is read must land in this try
        if alive:
            print(f"channelopt: waiting for {len(alive)} stopped HiGHS run(s) to end before exit "
                  "(Ctrl-C to exit at once)", file=sys.stderr, flush=True)
        for h, worker in alive:
            try:
                h.cancelSolve()
            except Exception:  # the run may have ended between the check and the call
                pass
            worker.join()
    except KeyboardInterrupt:
        # Some HiGHS phases ignore every stop (the china MIP's root LP ran on for minutes): on
        # Ctrl-C, leave at once without the C++ teardown that would abort (exit status 130).
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(130)
    # Every run thread must be out of highspy before the interpreter finalises: a daemon thread
    # that reacquires the GIL inside a highspy call during finalisation is unwound through C++ and
    # aborts the process (seen after a Ctrl-C'd run, about 1 run in 6).
    for thread in threading.enumerate():
        if thread.name == "channelopt-highs" and thread is not threading.current_thread():
            thread.join()


atexit.register(_join_abandoned)


def _abandoned_running() -> bool:
    """Whether a HiGHS run channelopt gave up waiting for is still going."""
    return any(w.is_alive() for _, w in _ABANDONED)


def _highs_time_limit(left: float | None, nnz: int) -> float | None:
    """HiGHS's own time limit for a run that must end, plan read back, within ``left`` seconds.

    ``left`` is what the whole solve has left when the run starts (loading the model
    already charged); ``READ_BACK_SECONDS_PER_MNZ`` per million nonzeros (at most
    ``READ_BACK_MAX_SHARE`` of ``left``) is kept back for reading the plan back,
    checking it and assembling the Plan, so that a run stopping at its limit ends the
    whole solve on time.

    Examples
    --------
    >>> _highs_time_limit(None, 10**6) is None
    True
    >>> round(_highs_time_limit(20.0, 2_000_000), 2)   # 0.8 s kept back for 2M nonzeros
    19.2
    >>> round(_highs_time_limit(1.0, 20_000_000), 2)   # at most a quarter of what is left
    0.75
    """
    if left is None:
        return None
    reserve = min(READ_BACK_MAX_SHARE * max(left, 0.0), READ_BACK_SECONDS_PER_MNZ * nnz / 1e6)
    return max(_MIN_CALL, left - reserve)


class _Incumbent:
    """The best plan a running HiGHS MIP has reported, kept from its callbacks.

    A run the watchdog gives up on (see :func:`_run_interruptible`) cannot be asked for
    its solution: it still runs, and ``getSolution`` reads the model's solution only
    after the run ends. HiGHS hands each improving solution to the
    ``kCallbackMipImprovingSolution`` callback, in the original model's columns; the last
    one is kept here (one reference assignment, safe across threads), and the dual bound
    from the interrupt callback, in HiGHS's (scaled) objective units.

    In a race (:func:`_run_race`) every racer's incumbent also goes on the shared
    ``board``, and a racer whose own plan is worse takes the board's through
    ``kCallbackMipUserSolution`` (its search then prunes against it).
    """

    def __init__(self, board: _Board | None = None):
        self.best = None  # (values, objective, found at perf_counter)
        self.bound = math.nan
        self.board = board
        self.fed = 0  # how many plans this run took from the board
        self.given = None  # the objective of the last one

    def attach(self, h) -> None:
        h.cbMipImprovingSolution.subscribe(self._improving)
        h.cbMipInterrupt.subscribe(self._progress)
        if self.board is not None:
            h.cbMipUserSolution.subscribe(self._user)

    def _improving(self, e) -> None:
        out = e.data_out
        self.best = (np.array(out.mip_solution, dtype=float), float(out.objective_function_value), time.perf_counter())
        if self.board is not None:
            self.board.offer(self.best[0], self.best[1])
        # (no bound from here: measured with HiGHS 1.16 on KS, the callback of the MIP start reports
        # mip_dual_bound = the start's objective, 33, before any search; the optimum is 32)

    def _progress(self, e) -> None:
        bound = float(e.data_out.mip_dual_bound)
        if math.isfinite(bound):
            self.bound = bound

    def _user(self, e) -> None:
        board = self.board
        best = board.best
        if best is None or (self.best is not None and not board.better(best[1], self.best[1])):
            return
        if self.given is not None and not board.better(best[1], self.given):
            return  # handed over already (HiGHS 1.16 does not report a taken plan as improving)
        if e.data_in.setSolution(best[0]) == _highs_ok():
            self.fed += 1
            self.given = best[1]


class _Board:
    """The best plan over the racers of one race (objective in HiGHS's scaled units)."""

    def __init__(self, maximize: bool):
        self.maximize = maximize
        self.best = None  # (values, objective)

    def better(self, x: float, y: float) -> bool:
        """Whether objective ``x`` beats ``y`` by more than rounding."""
        slack = 1e-9 * max(1.0, abs(y))
        return x > y + slack if self.maximize else x < y - slack

    def offer(self, values: np.ndarray, objective: float) -> None:
        if self.best is None or self.better(objective, self.best[1]):
            self.best = (values, objective)


@functools.lru_cache(maxsize=1)
def _highs_ok():
    import highspy

    return highspy.HighsStatus.kOk


@functools.lru_cache(maxsize=1)
def _verdicts() -> tuple:
    """HiGHS model statuses that settle a MIP: optimal, infeasible, unbounded."""
    import highspy

    ms = highspy.HighsModelStatus
    return ms.kOptimal, ms.kInfeasible, ms.kUnbounded, ms.kUnboundedOrInfeasible


def _hold_sigint() -> bool:
    """Block SIGINT in this thread (the main thread only; threads started meanwhile inherit the block)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        return False
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    return True


def _release_sigint(held: bool) -> bool:
    if held:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    return False


def _run_interruptible(h, deadline: Deadline, limit: float | None):
    """``h.run()`` in a worker thread, so that Ctrl-C and the clock stay in Python's hands.

    highspy's blocking ``run()`` holds the main thread in C++, where SIGINT waits until
    the solve ends. Here the calling thread waits in 0.1 s steps. Ctrl-C, or the call's
    ``limit`` passing by ``HIGHS_GRACE``, calls ``cancelSolve`` and sets HiGHS's time
    limit to 0 (it checks that more often than the interrupt callback). Some phases
    check neither (measured with HiGHS 1.16: the full MIP presolve for 51-160 s, and a
    root phase 15-47 s past its limit on the china capacitated MIP); after ``CANCEL_WAIT``
    more seconds channelopt stops waiting and leaves that run to end in the background.
    The plan from such a run is its last incumbent, kept from HiGHS's callbacks
    (:class:`_Incumbent`); an LP has none until it ends. So a run ends at most
    ``HIGHS_GRACE + CANCEL_WAIT`` past HiGHS's own limit.

    The thread is channelopt's own, not highspy's ``startSolve``: highspy guards that
    with one lock for the whole class, so a run left in the background made every
    later solve in the process fail with "Solver is already running".

    Returns ``(run status, interrupted, abandoned)``.
    """
    statuses, interrupted, abandoned = _run_race([h], deadline, limit)
    return statuses[0], interrupted, abandoned[0]


def _run_race(hs: list, deadline: Deadline, limit: float | None, settled=None, prepare=None):
    """Every ``h.run()`` of ``hs`` in a worker thread of its own, watched as :func:`_run_interruptible` watches one.

    Ctrl-C, the watchdog and ``CANCEL_WAIT`` act on every run still going. ``settled``
    (called with one "has ended" flag per run, each 0.1 s step and when a run ends) says
    when the runs still going are no longer needed: a run's verdict or the runs' plans
    and bounds together settle the search (see :func:`_solve_highs`); they are then told
    to stop (``_channelopt_lost``) and, like any run, left to end in the background if
    they do not within ``CANCEL_WAIT``.

    ``prepare`` (one callable or ``None`` per run) is called in the run's thread before it; the run
    then gets HiGHS time limit what is left of ``limit``, and does not start if it was told to stop.

    Returns ``(run statuses, interrupted, abandoned flags)``, one status and flag per run
    (``None`` for a run left in the background or never started).
    """
    presses, stopped_at = 0, None
    notify = threading.Event()
    results: list[dict[str, Any]] = [{} for _ in hs]
    prepare = prepare or [None] * len(hs)
    began = time.perf_counter()
    workers = [_Run(h, result, notify, step, None if limit is None else began + limit)
               for h, result, step in zip(hs, results, prepare)]
    for h in hs:
        h.HandleUserInterrupt = True
        h._channelopt_watchdog = False
        h._channelopt_lost = False
        h._channelopt_stopped = False
    cancel_at = None if limit is None else began + limit + HIGHS_GRACE
    # Ctrl-C while a thread starts would raise out of start() with runs going on unwatched
    # (and abort the process at exit): hold SIGINT until the wait loop below is in place. The
    # workers inherit the block, so SIGINT always reaches this thread.
    held = _hold_sigint()
    started = 0
    try:
        for worker in workers:
            worker.start()
            started += 1
    except BaseException:
        for h in hs[:started]:
            h.cancelSolve()
            h.setOptionValue("time_limit", 0.0)
        _ABANDONED[:] = [x for x in _ABANDONED if x[1].is_alive()] + list(zip(hs[:started], workers[:started]))
        _release_sigint(held)
        raise

    def going() -> list[int]:
        return [i for i, w in enumerate(workers) if w.is_alive()]

    def stop(which: list[int]) -> float:
        for i in which:
            hs[i]._channelopt_stopped = True  # (a run still in its prepare step then never starts)
            hs[i].cancelSolve()
            hs[i].setOptionValue("time_limit", 0.0)
        return time.perf_counter()

    def abandon(which: list[int]) -> None:
        _ABANDONED[:] = [x for x in _ABANDONED if x[1].is_alive()] + [(hs[i], workers[i]) for i in which]

    def ended(gone: list[bool]):
        for result in results:
            if "error" in result:
                log.warning("HiGHS run() raised %r", result["error"])
        if stopped_at is not None and not any(gone):
            log.info("HiGHS stopped %.2fs after it was told to", time.perf_counter() - stopped_at)
        return [None if g else r.get("status") for r, g in zip(results, gone)], presses > 0, gone

    while True:
        try:
            held = _release_sigint(held)  # a Ctrl-C held during the start is raised here, and handled
            step = 0.1
            if cancel_at is not None and stopped_at is None:  # wake up on time for the watchdog
                step = min(step, max(0.01, cancel_at - time.perf_counter()))
            if notify.wait(step):
                notify.clear()  # (the flags below are read after the clear: no end is missed)
            if not going():
                return ended([False] * len(hs))
        except KeyboardInterrupt:
            presses += 1
            deadline.interrupt()
            if stopped_at is None:
                stopped_at = stop(going())
            if presses >= 3:  # the user insists: stop waiting (the runs are joined at exit)
                abandon(going())
                raise
            log.warning("Ctrl-C: stopping the solver; the best plan so far is kept")
        now = time.perf_counter()
        if stopped_at is None and deadline.interrupted:
            # Ctrl-C caught by another thread's wait (a run inside a racer's prepare step sees no
            # KeyboardInterrupt), or the race no longer needs this run (its clock's stop)
            stopped_at = stop(going())
        if stopped_at is None and settled is not None and settled([not w.is_alive() for w in workers]):
            alive = going()
            for i in alive:
                hs[i]._channelopt_lost = True
            log.info("HiGHS race settled after %.2fs; stopping %d run(s)", now - began, len(alive))
            stopped_at = stop(alive)
        if stopped_at is None and cancel_at is not None and now >= cancel_at:
            log.warning("HiGHS is %.1fs past its %.1fs limit; telling it to stop", now - began - limit, limit)
            for i in going():
                hs[i]._channelopt_watchdog = True  # its "interrupt" is then the time limit, not Ctrl-C
            stopped_at = stop(going())
        if stopped_at is not None and going() and now - stopped_at >= (
                CANCEL_WAIT if any(workers[i].running for i in going()) else PREPARE_WAIT):
            log.warning("HiGHS did not stop within %.1fs; leaving that run to end in the background", CANCEL_WAIT)
            gone = [w.is_alive() for w in workers]
            abandon(going())
            return ended(gone)


#: HiGHS objects of ended inline runs, cleared (``Highs.clear``: model, solution, options), for the
#: next small solve: making one costs ~0.16 ms with its banner silenced, a tenth of a 100 x 5 solve
_IDLE_HIGHS: list = []
_IDLE_MAX = 4
#: models with at most this many nonzeros run in the calling thread first (see _run_inline)
INLINE_NNZ = 5_000
#: seconds HiGHS may run in the calling thread before the run goes on in a worker thread (wall
#: seconds: under load a trivial MIP can take 20 ms, so the slice leaves room for that)
INLINE_SLICE = 0.1


def _run_inline(h, deadline: Deadline) -> tuple[Any, bool]:
    """``h.run()`` in the calling thread, a Ctrl-C meanwhile held until it returns: ``(run status, interrupted)``.

    For small models (at most ``INLINE_NNZ`` nonzeros) and a run of at most
    ``INLINE_SLICE`` seconds (HiGHS's own time limit; :func:`_solve_highs` goes on in
    the worker thread of :func:`_run_interruptible` when the slice ends first), the worker
    thread's start and wake-ups cost more than the solve: at 100 x 5, 0.4 ms of HiGHS
    took 0.8 ms (min) and 3-4.6 ms (median, load 5-6) through the thread (issue 13).

    A Ctrl-C during the run is recorded by a handler of this call's own (the signal may
    reach any thread, e.g. a BLAS one, and Python raises it in the main thread as soon as
    ``run()`` returns, where its status would be lost); once the caller's handler is back,
    the press is handed to it, at most a slice late. Its KeyboardInterrupt (the default
    handler's) marks the run's plan as interrupted and tells the solve's clock, as for a
    threaded run. No Python callback is attached: the run cannot be given up on, so it
    needs no incumbent kept aside.
    """
    # Python's handlers run in the main thread only; None: a handler not set from Python (left alone)
    own = threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) is not None
    pressed: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda *_: pressed.append(1)) if own else None
    try:
        status = h.run()  # highspy releases the GIL inside
    except Exception as exc:  # reported as a failed run, as a worker thread's would be
        log.warning("HiGHS run() raised %r", exc)
        status = None
    finally:
        if own:
            signal.signal(signal.SIGINT, previous)
    if pressed:
        try:
            signal.raise_signal(signal.SIGINT)  # the caller's handler, now (KeyboardInterrupt by default)
        except KeyboardInterrupt:
            deadline.interrupt()
            log.warning("Ctrl-C: the solver's run had ended; its plan is kept")
            return status, True
    return status, False


class _Run:
    """One ``h.run()`` in channelopt's own thread; alive until ``run()`` returns.

    Waiting is on an Event, never ``Thread.join(timeout)``: on Python 3.11 a Ctrl-C inside
    that join can mark a thread that is still running as stopped (the bpo-45274 fix
    releases the thread's own lock), and the run would go on unwatched.
    """

    def __init__(self, h, result: dict, notify: threading.Event | None = None, prepare=None,
                 end: float | None = None):
        self.done = threading.Event()
        self.notify = notify  # set too when the run ends (a race waits on one Event for all its runs)
        self.prepare, self.end = prepare, end  # a step before the run, and when the run's limit ends
        self.running = prepare is None  # False while the step before the run goes on
        self.thread = threading.Thread(target=self._target, args=(h, result), name="channelopt-highs", daemon=True)

    def _target(self, h, result: dict) -> None:
        try:
            if self.prepare is not None:
                try:
                    self.prepare()
                except Exception as exc:  # the run goes on without it
                    log.warning("HiGHS race: the second run's extra rows failed (%r); it runs without them", exc)
                # sub-solves in that step may have sized this thread's HiGHS scheduler for their own threads
                type(h).resetThreadScheduler(False)
                if getattr(h, "_channelopt_stopped", False):
                    return
                if self.end is not None:
                    h.setOptionValue("time_limit", max(_MIN_CALL, self.end - time.perf_counter()))
                self.running = True
            result["status"] = h.run()  # highspy releases the GIL inside
            # as highspy's own solve thread does: release this thread's HiGHS scheduler before the
            # thread ends (without it, a process exit after a Ctrl-C'd run could abort in C++)
            type(h).resetThreadScheduler(False)
        except BaseException as exc:  # reported as a failed run, never lost in the thread
            result["error"] = exc
        finally:
            self.done.set()
            if self.notify is not None:
                self.notify.set()

    def start(self) -> None:
        self.thread.start()

    def is_alive(self) -> bool:
        return not self.done.is_set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds; whether the run has ended."""
        return self.done.wait(timeout)


def _wait_for_abandoned(seconds: float) -> None:
    """Give runs left in the background (told to stop) up to ``seconds`` to end before a new run
    starts, so that two runs rarely share HiGHS's thread pool; the wait is on the new run's clock."""
    end = time.perf_counter() + seconds
    for _, worker in [x for x in _ABANDONED if x[1].is_alive()]:
        worker.join(max(0.0, end - time.perf_counter()))
    alive = _abandoned_running()
    _ABANDONED[:] = [x for x in _ABANDONED if x[1].is_alive()]
    if alive:
        log.warning("a HiGHS run left in the background is still running; starting the next run beside it")


#: seconds a new run waits at most for runs left in the background to end (and never more than a
#: quarter of what it has left)
ABANDONED_WAIT = 5.0


#: ``Solver(threads=t)`` with ``t >= 2`` searches a MIP with ``min(t, RACERS)`` HiGHS runs at once (see
#: :func:`_racers`); each run gets ``t // racers`` threads. HiGHS's branch and bound keeps about one core
#: busy whatever ``threads`` says (measured: 1.0-1.1 CPU s per wall s on the territory MIPs with threads=2),
#: so a second core helps a MIP only through a second search
RACERS = 2
#: racer ``i`` searches with HiGHS ``random_seed`` = the first racer's + ``i * RACE_SEED_STEP``. Measured
#: (raw HiGHS, WV k=3 labelling MILP, no start, load 3-7): seed 0 proved it in 112 s, seed 100 in 332 s
RACE_SEED_STEP = 1


def _load(h, lp, a: LpArrays, start: np.ndarray | None) -> bool:
    """Pass ``lp`` to ``h`` and the (partial) MIP start with it; ``False`` when HiGHS rejects the model."""
    import highspy

    if h.passModel(lp) == highspy.HighsStatus.kError:
        return False
    _set_start(h, a, start)
    return True


def _set_start(h, a: LpArrays, start: np.ndarray | None) -> None:
    """Hand HiGHS the (partial) MIP start ``start`` (NaN: unset)."""
    import highspy

    if start is not None and a.is_mip:
        # HiGHS completes the unset entries of a partial start by a sub-MIP.
        if np.isnan(start).any():
            idx = np.flatnonzero(~np.isnan(start)).astype(np.int32)
            h.setSolution(len(idx), idx, start[idx])
        else:
            sol = highspy.HighsSolution()
            sol.col_value = start.tolist()
            sol.value_valid = True
            h.setSolution(sol)


def _race_size(settings: Solver, a: LpArrays) -> int:
    """How many HiGHS runs search ``a`` at once: ``min(threads, RACERS)`` for a MIP, else 1."""
    if not a.is_mip or settings.threads is None or "threads" in settings.options:
        return 1
    return max(1, min(int(settings.threads), RACERS))


def _racers(h, settings: Solver, a: LpArrays, lp, start, size: int, limit: float | None):
    """``h`` and ``size - 1`` more HiGHS objects on the same model and start, each with its own
    ``random_seed``; a board shares their plans. Returns ``(racers, incumbents, limit, prepare)``,
    with the time limit renewed after the extra loads (they are charged to the call).

    ``settings._race_cuts`` (an array problem's ``race_cuts``) is a callable that, given a
    :class:`Solver` on the solve's clock that reads as interrupted once the race no longer needs
    the second racer, returns rows valid for every plan of the problem (``(indptr, indices, data, row_lower, row_upper,
    zero_cols)``, CSR over the problem's columns; ``zero_cols``: columns that are 0 in every
    plan), or ``None``. The second racer calls it in its own thread before its run and searches
    with those rows: its plans are plans of the problem, and its bound holds for the problem
    because the rows cut off none of its plans. ``prepare`` holds that step, one entry per racer.
    """
    import highspy

    board = _Board(a.maximize)
    racers, incumbents = [h], [_Incumbent(board)]
    seed = int(_option(h, "random_seed"))
    per = max(1, int(settings.threads) // size)
    for i in range(1, size):
        with _stdout_silenced(not settings.msg):
            other = highspy.Highs()
        _highs_options(other, settings, a, limit)
        other.setOptionValue("random_seed", (seed + i * RACE_SEED_STEP) % 2147483647)
        if not _load(other, lp, a, start):
            break
        racers.append(other)
        incumbents.append(_Incumbent(board))
    prepare: list = [None] * len(racers)
    if len(racers) > 1 and settings._race_cuts is not None:
        second = racers[1]
        clock = Deadline(None, parent=settings.deadline, stop=lambda: getattr(second, "_channelopt_stopped", False))
        sub = dataclasses.replace(settings, _deadline=clock, _race_cuts=None)
        prepare[1] = functools.partial(_add_race_cuts, second, settings._race_cuts, sub, a, start)
    if len(racers) > 1:
        for racer in racers:
            racer.setOptionValue("threads", per)
        if limit is not None and "time_limit" not in settings.options:
            limit = _highs_time_limit(settings._call_limit(), len(a.data))
            for racer in racers:
                racer.setOptionValue("time_limit", float(limit))
        log.info("HiGHS: %d runs race on the MIP (random_seed %s, %d thread(s) each)", len(racers),
                 [int(_option(r, "random_seed")) for r in racers], per)
    return racers, incumbents, limit, prepare


def _add_race_cuts(h, make, solver: Solver, a: LpArrays, start: np.ndarray | None) -> None:
    """Add the rows ``make(solver)`` returns (see :func:`_racers`) to ``h``, before its run, and hand it
    the start again (measured: after ``addRows`` HiGHS 1.16 no longer had the start set before)."""
    import highspy

    cuts = make(solver)
    if cuts is None:
        return
    indptr, indices, data, lower, upper, zero = cuts
    inf = highspy.kHighsInf
    if len(lower):
        h.addRows(len(lower), np.where(np.isinf(lower), -inf, lower), np.where(np.isinf(upper), inf, upper),
                  len(data), np.asarray(indptr[:-1], dtype=np.int32), np.asarray(indices, dtype=np.int32),
                  np.asarray(data, dtype=float))
    if len(zero):
        zero = np.asarray(zero, dtype=np.int32)
        h.changeColsBounds(len(zero), zero, np.zeros(len(zero)), np.zeros(len(zero)))
    _set_start(h, a, start)
    h._channelopt_cuts = (len(lower), len(zero))
    log.info("HiGHS race: the second run searches with %d more row(s) and %d column(s) fixed at 0",
             len(lower), len(zero))


def _on_grid(bound: float, grid: tuple[float, float] | None, maximize: bool) -> float:
    """``bound`` rounded onto the objective grid ``(step, offset)`` (scaled units; see
    :attr:`LpArrays.objective_step`): up for a minimum, down for a maximum. The optimum lies on the grid and
    not past the bound, so the rounded bound holds too; ``1e-6`` of a step absorbs the bound's rounding error."""
    if grid is None or not math.isfinite(bound):
        return bound
    step, offset = grid
    q = (bound - offset) / step
    q = math.floor(q + 1e-6) if maximize else math.ceil(q - 1e-6)
    return offset + q * step


def _grid(a: LpArrays, obj_scale: float) -> tuple[float, float] | None:
    """The objective grid ``(step, offset)`` in HiGHS's scaled units, or ``None`` without the model's promise."""
    step = float(getattr(a, "objective_step", 0.0) or 0.0)
    if not a.is_mip or not (step > 0 and math.isfinite(step)):
        return None
    return step * obj_scale, a.offset * obj_scale


def _closed(objective: float, bound: float, maximize: bool, abs_gap: float, rel_gap: float,
            grid: tuple[float, float] | None = None) -> bool:
    """Whether ``bound`` (rounded onto ``grid`` where given) proves ``objective`` within HiGHS's absolute or the
    relative gap (scaled units)."""
    if not (math.isfinite(objective) and math.isfinite(bound)):
        return False
    bound = _on_grid(bound, grid, maximize)
    diff = (bound - objective) if maximize else (objective - bound)
    return diff <= abs_gap or (rel_gap > 0 and _gap(objective, bound) <= rel_gap)


def _settled(racers: list, incumbents: list, a: LpArrays, settings: Solver):
    """The race's stop test for :func:`_run_race`: a racer ended with a verdict (optimal, infeasible,
    unbounded), or the best plan of any racer meets the best dual bound of any racer."""
    verdicts = _verdicts()
    abs_gap = float(_option(racers[0], "mip_abs_gap"))
    board = incumbents[0].board

    def settled(ended: list[bool]) -> bool:
        if any(e and r.getModelStatus() in verdicts for r, e in zip(racers, ended)):
            return True
        best = board.best
        bounds = [inc.bound for inc in incumbents if math.isfinite(inc.bound)]
        if best is None or not bounds:
            return False
        return _closed(best[1], min(bounds) if a.maximize else max(bounds), a.maximize, abs_gap, settings.mip_gap)

    return settled


def _race_pick(racers: list, incumbents: list, ran: list[bool], maximize: bool) -> tuple[int, str]:
    """The racer whose result is read back: the first with a verdict of its own, else the one with the best
    plan, among the racers whose run ended (``ran``; one never started still shows its start as a solution).
    Returns ``(index, note)``; the first racer when none ended (left in the background, read from callbacks)."""
    verdicts = _verdicts()
    done = [i for i, r in enumerate(ran) if r]
    if not done:
        return 0, f"{len(racers)} HiGHS runs raced"
    pick = next((i for i in done if racers[i].getModelStatus() in verdicts
                 and not getattr(racers[i], "_channelopt_lost", False)), None)
    if pick is None:
        board = _Board(maximize)
        pick = done[0]
        for i in done:
            info = racers[i].getInfo()
            if info.primal_solution_status == 2:
                value = float(info.objective_function_value)
                if board.best is None or board.better(value, board.best[1]):
                    board.best, pick = (None, value), i
    fed = sum(inc.fed for inc in incumbents)
    seeds = [int(_option(r, "random_seed")) for r in racers]
    cuts = [(i, r._channelopt_cuts) for i, r in enumerate(racers) if getattr(r, "_channelopt_cuts", None)]
    note = (f"{len(racers)} HiGHS runs raced (random_seed {seeds}"
            + "".join(f"; the one with {s} also with {m} row(s) and {z} column(s) at 0 valid for every plan"
                      for i, (m, z) in cuts for s in [seeds[i]])
            + f"); the plan is from random_seed {seeds[pick]}"
            + (f"; {fed} plan(s) passed between them" if fed else ""))
    return pick, note


def _race_bound(racers: list, incumbents: list, gone: list[bool], ran: list[bool], maximize: bool,
                objective: float) -> float:
    """The best dual bound over the racers (scaled units; callbacks' for runs left in the background, none
    from a run that never ran), never past ``objective``, the plan's (a bound of the same problem cannot be;
    rounding can)."""
    bounds = []
    for racer, incumbent, g, r in zip(racers, incumbents, gone, ran):
        bounds.append(incumbent.bound if g else float(racer.getInfo().mip_dual_bound) if r else math.nan)
    bounds = [b for b in bounds if math.isfinite(b)]
    if not bounds:
        return math.nan
    return max(min(bounds), objective) if maximize else min(max(bounds), objective)


def _merged(incumbents: list, maximize: bool) -> _Incumbent:
    """One :class:`_Incumbent` for several runs: the best plan any kept, the best bound any reported."""
    if len(incumbents) == 1:
        return incumbents[0]
    out, board = _Incumbent(), _Board(maximize)
    for inc in incumbents:
        if inc.best is not None and (out.best is None or board.better(inc.best[1], out.best[1])):
            out.best = inc.best
        if math.isfinite(inc.bound) and (not math.isfinite(out.bound) or board.better(out.bound, inc.bound)):
            out.bound = inc.bound
    return out


def _highs_lp(a: LpArrays):
    """``a`` as a ``highspy.HighsLp`` (rows and objective scaled, :func:`_scaling`), with the two scales:
    ``(lp, row_scale, obj_scale)``; HiGHS's objective values are ``obj_scale`` times the model's."""
    import highspy

    inf = highspy.kHighsInf
    row_scale, obj_scale = _scaling(a)
    lp = highspy.HighsLp()
    lp.num_col_ = len(a.cost)
    lp.num_row_ = len(a.row_lower)
    lp.col_cost_ = a.cost * obj_scale
    lp.col_lower_ = np.where(np.isinf(a.col_lower), -inf, a.col_lower)
    lp.col_upper_ = np.where(np.isinf(a.col_upper), inf, a.col_upper)
    lp.row_lower_ = np.where(np.isinf(a.row_lower), -inf, a.row_lower * row_scale)
    lp.row_upper_ = np.where(np.isinf(a.row_upper), inf, a.row_upper * row_scale)
    lp.offset_ = a.offset * obj_scale
    lp.sense_ = highspy.ObjSense.kMaximize if a.maximize else highspy.ObjSense.kMinimize
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = a.indptr.astype(np.int32)
    lp.a_matrix_.index_ = a.indices
    lp.a_matrix_.value_ = a.data * np.repeat(row_scale, np.diff(a.indptr))
    if a.is_mip:
        lp.integrality_ = np.where(a.integer, highspy.HighsVarType.kInteger, highspy.HighsVarType.kContinuous).tolist()
    return lp, row_scale, obj_scale


def _solve_highs(settings: Solver, a: LpArrays, start: np.ndarray | None):
    import highspy

    limit = settings._call_limit()
    n = len(a.cost)
    if n == 0:
        info = SolveInfo("highs", "optimal", "empty", objective=a.offset, bound=a.offset, gap=0.0)
        return info, np.zeros(0), _Tol(1e-7, 1e-6)
    _reset_scheduler_if_threads_changed(settings.threads)
    try:
        h = _IDLE_HIGHS.pop()  # cleared: no model, solution or options of the run before
    except IndexError:
        with _stdout_silenced(not settings.msg):
            h = highspy.Highs()
    _highs_options(h, settings, a, limit)
    tol = _Tol(float(_option(h, "primal_feasibility_tolerance")), 1e-6)
    mip_feas = _option(h, "mip_feasibility_tolerance")
    if a.is_mip:
        tol.feas = max(tol.feas, float(mip_feas))
        tol.integer = float(mip_feas)

    abs_gap = float(_option(h, "mip_abs_gap"))  # (read here: a run given up on is never asked again)
    lp, row_scale, obj_scale = _highs_lp(a)
    tol.row_scale = row_scale
    if not _load(h, lp, a, start):
        return SolveInfo("highs", "error", "load_error", message="HiGHS rejected the model"), None, tol
    if _abandoned_running():
        left = settings.remaining()
        _wait_for_abandoned(ABANDONED_WAIT if left is None else min(ABANDONED_WAIT, 0.25 * left))
    if limit is not None and "time_limit" not in settings.options:
        # Loading the model took time off the clock (about 1 s for the 411k-column china MIP):
        # HiGHS gets what is left now, less what reading its plan back will take.
        limit = _highs_time_limit(settings._call_limit(), len(a.data))
        h.setOptionValue("time_limit", float(limit))
    racers, incumbents, prepare = [h], [_Incumbent()], None
    run_status, interrupted, abandoned, sliced = None, False, False, False
    # a HiGHS time limit of the caller's own must be watched from a worker thread
    inline = len(a.data) <= INLINE_NNZ and "time_limit" not in settings.options
    if inline:
        sliced = limit is None or limit > INLINE_SLICE
        if sliced:
            h.setOptionValue("time_limit", INLINE_SLICE)
        run_status, interrupted = _run_inline(h, settings.deadline)
        sliced = sliced and not interrupted and h.getModelStatus() == highspy.HighsModelStatus.kTimeLimit
        if sliced:
            # not done within the slice: on in the worker thread (the same run object, so its
            # incumbent stays), on what the call has left
            log.info("HiGHS did not finish within its %.2fs inline slice; going on in a worker thread", INLINE_SLICE)
            if limit is not None:
                limit = _highs_time_limit(settings._call_limit(), len(a.data))
            h.setOptionValue("time_limit", highspy.kHighsInf if limit is None else float(limit))
    note = ""
    if not inline or sliced:
        size = _race_size(settings, a)
        if size > 1:
            racers, incumbents, limit, prepare = _racers(h, settings, a, lp, start, size, limit)
        if a.is_mip:
            for racer, incumbent in zip(racers, incumbents):
                incumbent.attach(racer)
        settled = _settled(racers, incumbents, a, settings) if len(racers) > 1 else None
        statuses, interrupted, gone = _run_race(racers, settings.deadline, limit, settled, prepare)
        if len(racers) > 1:
            ran = [not g and st is not None for g, st in zip(gone, statuses)]
            pick, note = _race_pick(racers, incumbents, ran, a.maximize)
            h, run_status, abandoned = racers[pick], statuses[pick], gone[pick]
        else:
            run_status, abandoned = statuses[0], gone[0]
    given = settings.options.get("objective_bound") if a.is_mip and not a.maximize else None
    if abandoned:
        info, values = _abandoned_result(a, _merged(incumbents, a.maximize), interrupted, limit, obj_scale, tol,
                                         given, abs_gap, settings.mip_gap)
        info.message = "; ".join(m for m in (info.message, note) if m)
        return info, values, tol
    model_status = h.getModelStatus()
    info_h = h.getInfo()
    has_primal = info_h.primal_solution_status == 2
    ms = highspy.HighsModelStatus
    names = {
        ms.kOptimal: "optimal",
        ms.kInfeasible: "infeasible",
        ms.kUnbounded: "unbounded",
        ms.kUnboundedOrInfeasible: "unbounded_or_infeasible",
        ms.kTimeLimit: "time_limit",
        ms.kIterationLimit: "iteration_limit",
        ms.kInterrupt: "interrupted",
        ms.kSolutionLimit: "solution_limit",
        ms.kObjectiveBound: "objective_bound",
        ms.kObjectiveTarget: "objective_target",
    }
    termination = names.get(model_status, str(model_status).split(".")[-1])
    if interrupted:
        termination = "interrupted"
    elif termination == "interrupted" and getattr(h, "_channelopt_watchdog", False):
        termination = "time_limit"  # channelopt stopped it at its limit
    elif termination == "interrupted" and getattr(h, "_channelopt_lost", False):
        termination = "race_settled"  # stopped when the race was settled (the status is decided below)
    if run_status is None or run_status == highspy.HighsStatus.kError:
        info = SolveInfo("highs", "error", termination,
                         message=f"HiGHS run() returned {run_status} (model status {model_status})",
                         solver_time_limit=limit)
        return info, None, tol
    values = np.asarray(h.getSolution().col_value, dtype=float) if has_primal else None
    objective = float(info_h.objective_function_value) / obj_scale if has_primal else math.nan
    if a.is_mip:
        bound = float(info_h.mip_dual_bound) / obj_scale
        if not math.isfinite(bound):
            bound = math.nan
        if len(racers) > 1 and has_primal:
            # every racer solves the same problem: the best of their dual bounds holds for it
            scaled = _race_bound(racers, incumbents, gone, ran, a.maximize, float(info_h.objective_function_value))
            if math.isfinite(scaled):
                bound = scaled / obj_scale
    else:
        bound = objective if model_status == ms.kOptimal else math.nan
    grid = _grid(a, obj_scale)
    bound, raw = _problem_bound(a, bound, objective, given, obj_scale)
    # the bound read back (rounded onto the grid) meets the plan within the gap, where HiGHS stopped at a node or
    # time limit, or a race was settled: proven, whatever HiGHS's own status says
    closed = (a.is_mip and has_primal and not interrupted
              and model_status != ms.kOptimal
              and _closed(float(info_h.objective_function_value), bound * obj_scale, a.maximize,
                          abs_gap, settings.mip_gap, grid))
    if closed:
        termination = "optimal"
        value = float(info_h.objective_function_value)
        if len(racers) > 1:
            how = "proven by the racers together (one's plan, another's bound)"
        elif grid is not None and not _closed(value, raw * obj_scale, a.maximize, abs_gap, settings.mip_gap):
            how = "proven by the bound rounded onto the model's objective step"
        else:
            how = "proven: the bound meets the plan"
        note = "; ".join(m for m in (note, how) if m)
    verdict = model_status == ms.kOptimal
    if (verdict and given is not None and has_primal
            and not _closed(float(info_h.objective_function_value), bound * obj_scale, a.maximize, abs_gap,
                            settings.mip_gap)):
        # HiGHS closed its tree under the caller's objective_bound with its plan above it: no plan lies below the
        # bound given, which proves nothing about the plan
        verdict, termination = False, "objective_bound"
        note = "; ".join(m for m in (note, f"HiGHS found no plan below the objective_bound given ({given:.10g}); "
                                           "its plan lies above it, not proven optimal") if m)
    if (verdict or closed) and not interrupted:
        status = "optimal"
    elif model_status == ms.kInfeasible and given is not None and not interrupted:
        # HiGHS closed its tree under the caller's objective_bound without a plan: none lies below the bound given,
        # which is then a bound of the problem; plans above it were never searched, so this is no infeasibility
        status, termination = "no_solution", "objective_bound"
        bound, _ = _problem_bound(a, float(given) / obj_scale, math.nan, given, obj_scale)
        note = "; ".join(m for m in (note, f"HiGHS found no plan below the objective_bound given ({given:.10g}); "
                                           "plans above it were not searched") if m)
    elif model_status == ms.kInfeasible and not interrupted:
        status = "infeasible"
    elif model_status in (ms.kUnbounded, ms.kUnboundedOrInfeasible) and not interrupted:
        status = "unbounded" if model_status == ms.kUnbounded else "infeasible"
    elif has_primal:
        status = "feasible"
    elif interrupted or termination in ("time_limit", "iteration_limit", "solution_limit"):
        status = "no_solution"
    else:
        status = "error"
    if status in ("infeasible", "unbounded", "no_solution", "error"):
        values = None
        objective = math.nan
    gap = _gap(objective, bound) if values is not None else math.nan
    info = SolveInfo("highs", status, termination, objective=objective, bound=bound, gap=gap,
                     solver_time_limit=limit, message=note)
    if values is not None and not a.is_mip and h.getSolution().dual_valid:
        # Shadow prices in the model's own units (undo the row and objective scaling).
        info.duals = np.asarray(h.getSolution().row_dual, dtype=float) * row_scale / obj_scale
    if inline and not sliced and len(_IDLE_HIGHS) < _IDLE_MAX:
        # ended in this thread, no callback attached: cleared, it serves the next small solve
        h.clear()
        _IDLE_HIGHS.append(h)
    return info, values, tol


def _problem_bound(a: LpArrays, bound: float, objective: float, given: float | None,
                   obj_scale: float) -> tuple[float, float]:
    """HiGHS's dual ``bound`` (model units) read for the user's problem: ``(bound, raw)``, ``raw`` before the
    rounding onto the grid.

    Under the caller's ``objective_bound`` (``given``, HiGHS's units) HiGHS searched only the plans below it and takes
    plans above it as they come; its bound holds for the plans below, the others cost at least the bound given
    (measured: "optimal" 26 with bound 26 on a partition whose optimum is 9, under objective_bound 8.5). On the
    model's objective grid the optimum lies on it, so the bound rounded onto it holds too, never past the plan's
    ``objective`` (NaN without a plan: the optimum is still on the grid, only no plan caps it).
    """
    if given is not None and math.isfinite(bound):
        bound = min(bound, float(given) / obj_scale)
    grid, raw = _grid(a, obj_scale), bound
    if grid is not None and math.isfinite(bound):
        rounded = _on_grid(bound * obj_scale, grid, a.maximize) / obj_scale
        if math.isfinite(objective):
            rounded = min(rounded, objective) if not a.maximize else max(rounded, objective)
        bound = max(bound, rounded) if not a.maximize else min(bound, rounded)
    return bound, raw


def _abandoned_result(a: LpArrays, incumbent: _Incumbent, interrupted: bool, limit: float | None,
                      obj_scale: float, tol: _Tol, given: float | None = None, abs_gap: float = 1e-6,
                      mip_gap: float = 0.0) -> tuple[SolveInfo, np.ndarray | None]:
    """What a HiGHS run channelopt stopped waiting for leaves: its last incumbent, when it keeps every row, and
    the dual bound it last reported, read as :func:`_solve_highs` reads a run's (:func:`_problem_bound`: the
    caller's ``objective_bound``, the objective grid); a plan that bound proves is optimal unless Ctrl-C stopped
    the run, as there."""
    what = "Ctrl-C" if interrupted or limit is None else f"its {limit:.1f}s limit"
    termination = "interrupted" if interrupted else "time_limit"
    note = (f"HiGHS did not stop within {HIGHS_GRACE + CANCEL_WAIT:.2g}s of {what}; "
            "its run was left to end in the background")
    bound = incumbent.bound / obj_scale if math.isfinite(incumbent.bound) else math.nan
    if incumbent.best is not None:
        values, scaled, _ = incumbent.best
        objective = scaled / obj_scale
        if len(values) == len(a.cost) and _violation(a, values, objective, tol) is None:
            slack = 1e-6 * max(1.0, abs(objective))
            if math.isfinite(bound) and (bound < objective - slack if a.maximize else bound > objective + slack):
                bound = math.nan  # on the wrong side of the plan: not a bound of this problem
            bound, _ = _problem_bound(a, bound, objective, given, obj_scale)
            note += "; its last incumbent is the plan"
            status = "feasible"
            if (not interrupted and math.isfinite(bound)
                    and _closed(scaled, bound * obj_scale, a.maximize, abs_gap, mip_gap)):
                status, termination = "optimal", "optimal"
                note += "; proven: its last bound (on the model's objective grid) meets it"
            info = SolveInfo("highs", status, termination, objective=objective, bound=bound,
                             gap=_gap(objective, bound), message=note, solver_time_limit=limit)
            info._checked = True  # checked above: _solve_arrays need not check it again
            return info, values
        note += "; its last incumbent failed the plan check and is not used"
    bound, _ = _problem_bound(a, bound, math.nan, given, obj_scale)
    return SolveInfo("highs", "no_solution", termination, bound=bound, message=note, solver_time_limit=limit), None


_CBC_BOUND = re.compile(r"(Lower|Upper) bound:\s+(\S+)")


def _solve_cbc(settings: Solver, a: LpArrays, start: np.ndarray | None):
    cbc = pulp.PULP_CBC_CMD(msg=False)
    if not cbc.available():
        raise SolverError("CBC is not available: PuLP's bundled cbc binary was not found.")
    n = len(a.cost)
    limit = settings._call_limit()
    opts = {k.lower(): v for k, v in settings.options.items()}
    # CBC's defaults (primalTolerance 1e-7, integerTolerance 1e-6); its solution file
    # prints 8 significant digits, which the check allows for.
    feas = float(next((v for k, v in opts.items() if "primaltolerance".startswith(k) and len(k) >= 7), 1e-7))
    intt = float(next((v for k, v in opts.items() if "integertolerance".startswith(k) and len(k) >= 8), 1e-6))
    tol = _Tol(feas, intt, np.ones(len(a.row_lower)), 1e-7)
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="channelopt-cbc-") as tmp:
        mps = os.path.join(tmp, "model.mps")
        sol = os.path.join(tmp, "model.sol")
        mst = os.path.join(tmp, "model.mst")
        write_mps(a, mps)
        args = [cbc.path, mps]
        if a.maximize:
            args.append("-max")
        if start is not None and a.is_mip:
            idx = np.flatnonzero(~np.isnan(start))
            with open(mst, "w") as fh:
                fh.write("Stopped on time - objective value 0\n")
                fh.writelines(f"{k} C{j} {start[j]!r} 0\n" for k, j in enumerate(idx.tolist()))
            args += ["-mips", mst]
        if limit is not None:
            args += ["-sec", f"{limit:.3f}"]
        args += ["-ratio", str(settings.mip_gap)]
        if settings.threads is not None:
            args += ["-threads", str(int(settings.threads))]
        for key, value in settings.options.items():
            args += [f"-{key}", str(value)]
        args += ["-solve" if a.is_mip else "-initialSolve", "-printingOptions", "all", "-solution", sol]
        proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True
        )
        out_parts: list[str] = []
        reader = threading.Thread(target=lambda: out_parts.append(proc.stdout.read()), daemon=True)
        reader.start()
        # CBC overruns -sec several-fold on some models: stop it ourselves CBC_GRACE after the deadline.
        kill_at = None if limit is None else t_start + limit + CBC_GRACE
        killed = interrupted = False
        while proc.poll() is None:
            try:
                wait = 0.1 if kill_at is None else max(0.0, min(0.1, kill_at - time.perf_counter()))
                proc.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                if kill_at is not None and time.perf_counter() >= kill_at and not killed:
                    killed = True
                    _stop(proc)
            except KeyboardInterrupt:
                interrupted = True
                settings.deadline.interrupt()
                _stop(proc)
        reader.join(timeout=5)
        out = "".join(out_parts)
        if settings.msg:
            print(out)
        header, values = _read_cbc_solution(sol, n)
    # The first line of CBC's solution file is its verdict, e.g. "Optimal - objective value 3"
    # or "Stopped on time - objective value 55.6"; an objective of 1e50 means no plan was found.
    text = header.lower()
    m_obj = re.search(r"objective value\s+(\S+)", text)
    reported = float(m_obj.group(1)) if m_obj else math.nan
    no_plan = not math.isfinite(reported) or abs(reported) >= 1e49
    stopped = killed or interrupted
    if text.startswith("optimal") and not stopped:
        termination, status = "optimal", "optimal"
    elif (text.startswith("infeasible") or text.startswith("integer infeasible")) and not stopped:
        termination, status = "infeasible", "infeasible"
    elif text.startswith("unbounded") and not stopped:
        termination, status = "unbounded", "unbounded"
    elif text.startswith("stopped") or stopped or not text or text.startswith("optimal"):
        termination = "interrupted" if (interrupted or ("ctrl-c" in text and not killed)) else "time_limit"
        if "iterations" in text and not stopped:
            termination = "iteration_limit"
        # A stop inside the root LP leaves a fractional point in the file: that is no plan.
        fractional = values is not None and a.is_mip and np.abs(
            values[a.integer] - np.round(values[a.integer])).max(initial=0.0) > 10 * tol.integer
        status = "no_solution" if (no_plan or values is None or fractional) else "feasible"
    else:
        termination, status = text.split(" - ")[0] or "unknown", "error"
    if status in ("infeasible", "unbounded", "no_solution", "error"):
        values = None
    # CBC's own objective (the MPS file carries no offset): checked against the plan, not recomputed.
    objective = reported + a.offset if values is not None else math.nan
    bound = math.nan
    if status == "optimal":
        bound = objective
    elif values is not None:
        # With -max CBC prints "Upper bound:", otherwise "Lower bound:" (in the user's sense).
        found = [float(v) for kind, v in _CBC_BOUND.findall(out) if _float_ok(v)
                 and kind == ("Upper" if a.maximize else "Lower")]
        if found:
            bound = found[-1] + a.offset
    gap = _gap(objective, bound) if values is not None else math.nan
    message = f"CBC ran past its limit; channelopt stopped it {CBC_GRACE:.0f}s after the deadline" if killed else ""
    return SolveInfo("cbc", status, termination, objective=objective, bound=bound, gap=gap, message=message,
                     solver_time_limit=limit), values, tol


def _read_cbc_solution(path: str, n: int) -> tuple[str, np.ndarray | None]:
    """CBC's verdict line and its values by column (``C{j}``), or ``("", None)`` without a file."""
    if not os.path.exists(path):
        return "", None
    values = np.zeros(n)
    with open(path) as fh:
        header = fh.readline().strip()
        for line in fh:
            parts = line.split()
            if parts and parts[0] == "**":
                parts = parts[1:]
            if len(parts) >= 3 and parts[1].startswith("C"):
                values[int(parts[1][1:])] = float(parts[2])
    return header, values


def _float_ok(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _stop(proc: subprocess.Popen) -> None:
    """SIGINT first (CBC then writes its incumbent), a kill 2 s later."""
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=2)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait()
