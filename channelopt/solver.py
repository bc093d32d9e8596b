"""The one solve path: a PuLP problem goes to HiGHS or CBC and comes back as a SolveInfo.

Status, bound and gap are read from the solver itself, never from ``problem.status``:
PuLP maps a HiGHS time-limit stop to "Optimal", which would misreport a plan.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pulp

from ._lpmatrix import LpArrays, to_arrays, write_mps
from .exceptions import SettingsError, SolverError

__all__ = ["Solver", "SolveInfo"]

log = logging.getLogger(__name__)

#: statuses a SolveInfo may carry
STATUSES = ("optimal", "feasible", "infeasible", "unbounded", "no_solution", "error")


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
        Seconds spent building the PuLP model; set by the model.
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
        return out


@dataclass(frozen=True)
class Solver:
    """Solver settings; the only way a channelopt model reaches a solver.

    Parameters
    ----------
    name : {"highs", "cbc"}
        HiGHS (through highspy, the default) or CBC (the binary shipped with PuLP).
    time_limit : float, optional
        Wall-clock limit in seconds. A solve stopped by it returns its best plan with
        status ``"feasible"``. CBC is known to overrun its own limit, so channelopt
        interrupts it itself shortly after.
    mip_gap : float, default 0.0
        Relative optimality gap at which the solver may stop and call the plan optimal.
        The default proves optimality (up to an absolute gap of 1e-6).
    threads : int, optional
        Threads the solver may use.
    msg : bool, default False
        Show the solver log.
    options : mapping, optional
        Extra solver options passed through verbatim (HiGHS option names, or CBC
        command-line options without the leading dash).

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

    def __post_init__(self) -> None:
        name = str(self.name).lower()
        if name not in ("highs", "cbc"):
            raise SettingsError(f"Solver name must be 'highs' or 'cbc', got {self.name!r}.")
        object.__setattr__(self, "name", name)
        if self.time_limit is not None and not self.time_limit > 0:
            raise SettingsError(f"time_limit must be positive seconds, got {self.time_limit!r}.")
        if self.mip_gap is None or not 0 <= self.mip_gap < 1:
            raise SettingsError(f"mip_gap must be in [0, 1), got {self.mip_gap!r}.")
        if self.threads is not None and int(self.threads) < 1:
            raise SettingsError(f"threads must be at least 1, got {self.threads!r}.")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["options"] = dict(self.options)
        return d

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

        t0 = time.perf_counter()
        if isinstance(problem, ArrayProblem):
            arrays = problem.arrays()
            start = problem.start_vector(warm_start)
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

    def _solve_arrays(self, arrays: LpArrays, start: np.ndarray | None) -> tuple[SolveInfo, np.ndarray | None]:
        """The shared core: run, distrust, re-solve; returns the info and the values by column."""
        info, values = self._run(arrays, start)
        if start is not None and values is not None and not _consistent(arrays, values, info.objective):
            # Measured with HiGHS 1.16: presolve can mis-map a MIP start and return a plan
            # that does not price at the reported objective. Never hand that on: solve cold.
            log.warning("%s returned an inconsistent plan from a warm start; solving again cold", self.name)
            info, values = self._run(arrays, None)
            info.message = "warm start discarded: the warm-started solve returned an inconsistent plan"
        if values is not None and not _consistent(arrays, values, info.objective):
            raise SolverError(f"{self.name} returned a plan that violates the model or does not price at its "
                              f"reported objective {info.objective}; rerun with msg=True to inspect.")
        info.n_variables = len(arrays.cost)
        info.n_integer = int(arrays.integer.sum())
        info.n_constraints = len(arrays.row_lower)
        info.time_limit = self.time_limit
        info.mip_gap = self.mip_gap
        return info, values

    def _run(self, arrays, start):
        if self.name != "highs":
            return _solve_cbc(self, arrays, start)
        info, values = _solve_highs(self, arrays, start)
        if info.status == "infeasible" and arrays.is_mip and "presolve" not in self.options:
            # Measured with HiGHS 1.16: presolve declared a feasible 12-region joint plan
            # infeasible (CBC and HiGHS without presolve found 1,482,975). Confirm first.
            retry = Solver(self.name, self.time_limit, self.mip_gap, self.threads, self.msg,
                           {**self.options, "presolve": "off"})
            info2, values2 = _solve_highs(retry, arrays, start)
            if info2.status != "infeasible":
                log.warning("HiGHS presolve said infeasible; without presolve: %s", info2.status)
                info2.message = "HiGHS presolve reported infeasible; re-solved without presolve"
                return info2, values2
        return info, values


def _constraint_list(problem: pulp.LpProblem) -> list:
    constraints = getattr(problem, "_constraints", None)
    return list((constraints if constraints is not None else problem.constraints).values())


def _consistent(a: LpArrays, values: np.ndarray, objective: float) -> bool:
    """The plan satisfies the model and its cost equals the objective the solver reported."""
    priced = float(a.cost @ values + a.offset)
    if not math.isfinite(objective) or abs(priced - objective) > 1e-6 * max(1.0, abs(objective)):
        return False
    return _is_feasible(a, values, tol=1e-5)


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
    cmax = float(np.abs(a.cost).max(initial=0.0))
    obj_scale = float(np.exp2(-np.ceil(np.log2(cmax / 1e3)))) if cmax > 1e4 else 1.0
    return row_scale, obj_scale


def _solve_highs(settings: Solver, a: LpArrays, start: np.ndarray | None):
    import highspy

    with _stdout_silenced(not settings.msg):
        h = highspy.Highs()
    h.setOptionValue("output_flag", bool(settings.msg))
    if settings.time_limit is not None:
        h.setOptionValue("time_limit", float(settings.time_limit))
    h.setOptionValue("mip_rel_gap", float(settings.mip_gap))
    if settings.threads is not None:
        h.setOptionValue("threads", int(settings.threads))
    if not a.is_mip and "presolve" not in settings.options:
        # Measured with HiGHS 1.16 on a 1,000-cell piecewise-linear budget LP: presolve
        # 31.6 s, the whole solve without it 0.28 s. LPs here are solved without it
        # unless the caller asks (Solver(options={"presolve": "on"})).
        h.setOptionValue("presolve", "off")
    for key, value in settings.options.items():
        h.setOptionValue(key, value)

    n = len(a.cost)
    inf = highspy.kHighsInf
    row_scale, obj_scale = _scaling(a)
    data = a.data * np.repeat(row_scale, np.diff(a.indptr))
    lp = highspy.HighsLp()
    lp.num_col_ = n
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
    lp.a_matrix_.value_ = data
    if a.is_mip:
        lp.integrality_ = [
            highspy.HighsVarType.kInteger if flag else highspy.HighsVarType.kContinuous
            for flag in a.integer
        ]
    if n == 0:
        return SolveInfo("highs", "optimal", "empty", objective=a.offset, bound=a.offset, gap=0.0), np.zeros(0)
    status = h.passModel(lp)
    if status == highspy.HighsStatus.kError:
        return SolveInfo("highs", "error", "load_error", message="HiGHS rejected the model"), None
    if start is not None and a.is_mip:
        sol = highspy.HighsSolution()
        # HiGHS completes the unset entries of a partial start by a sub-MIP.
        if np.isnan(start).any():
            idx = np.flatnonzero(~np.isnan(start)).astype(np.int32)
            h.setSolution(len(idx), idx, start[idx])
        else:
            sol.col_value = start.tolist()
            sol.value_valid = True
            h.setSolution(sol)
    h.run()
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
        ms.kInterrupt: "interrupt",
        ms.kSolutionLimit: "solution_limit",
        ms.kObjectiveBound: "objective_bound",
        ms.kObjectiveTarget: "objective_target",
    }
    termination = names.get(model_status, str(model_status).split(".")[-1])
    values = np.asarray(h.getSolution().col_value, dtype=float) if has_primal else None
    objective = float(info_h.objective_function_value) / obj_scale if has_primal else math.nan
    if a.is_mip:
        bound = float(info_h.mip_dual_bound) / obj_scale
        if not math.isfinite(bound):
            bound = math.nan
    else:
        bound = objective if model_status == ms.kOptimal else math.nan
    if model_status == ms.kOptimal:
        status = "optimal"
    elif model_status == ms.kInfeasible:
        status = "infeasible"
    elif model_status in (ms.kUnbounded, ms.kUnboundedOrInfeasible):
        status = "unbounded" if model_status == ms.kUnbounded else "infeasible"
    elif has_primal:
        status = "feasible"
    elif termination in ("time_limit", "iteration_limit", "interrupt", "solution_limit"):
        status = "no_solution"
    else:
        status = "error"
    if status in ("infeasible", "unbounded", "no_solution", "error"):
        values = None
        objective = math.nan
    if a.is_mip and values is not None:
        # Integers come back as 0.9999999; round so downstream code sees clean decisions.
        values[a.integer] = np.round(values[a.integer]) + 0.0  # + 0.0: no -0.0
    gap = _gap(objective, bound) if values is not None else math.nan
    info = SolveInfo("highs", status, termination, objective=objective, bound=bound, gap=gap)
    if values is not None and not a.is_mip and h.getSolution().dual_valid:
        # Shadow prices in the model's own units (undo the row and objective scaling).
        info.duals = np.asarray(h.getSolution().row_dual, dtype=float) * row_scale / obj_scale
    return info, values


def _is_feasible(a: LpArrays, values: np.ndarray, tol: float = 1e-6) -> bool:
    """Whether ``values`` is integral where required and satisfies every bound and row."""
    if a.is_mip and np.abs(values[a.integer] - np.round(values[a.integer])).max(initial=0.0) > 1e-5:
        return False
    scale = 1.0 + np.abs(values)
    if (values < a.col_lower - tol * scale).any() or (values > a.col_upper + tol * scale).any():
        return False
    from scipy.sparse import csr_matrix

    matrix = csr_matrix((a.data, a.indices, a.indptr), shape=(len(a.row_lower), len(values)))
    activity = matrix @ values
    # Tolerance relative to the row's own magnitude: a capacity row with demands of 1e4
    # may show 1e-5 of activity from a 1e-9 leftover the solver rounded away.
    rowmax = np.zeros(len(a.row_lower))
    nonempty = np.diff(a.indptr) > 0
    if nonempty.any():
        rowmax[nonempty] = np.maximum.reduceat(np.abs(a.data), a.indptr[:-1][nonempty])
    slack = tol * (1.0 + np.abs(activity) + rowmax)
    return bool(((activity >= a.row_lower - slack) & (activity <= a.row_upper + slack)).all())


_CBC_BOUND = re.compile(r"Lower bound:\s+(\S+)")


def _solve_cbc(settings: Solver, a: LpArrays, start: np.ndarray | None):
    cbc = pulp.PULP_CBC_CMD(msg=False)
    if not cbc.available():
        raise SolverError("CBC is not available: PuLP's bundled cbc binary was not found.")
    n = len(a.cost)
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
        if settings.time_limit is not None:
            args += ["-sec", str(settings.time_limit)]
        args += ["-ratio", str(settings.mip_gap)]
        if settings.threads is not None:
            args += ["-threads", str(int(settings.threads))]
        for key, value in settings.options.items():
            args += [f"-{key}", str(value)]
        args += ["-solve" if a.is_mip else "-initialSolve", "-printingOptions", "all", "-solution", sol]
        proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True
        )
        # CBC overruns -sec several-fold on some models: interrupt it ourselves.
        wall = None if settings.time_limit is None else settings.time_limit * 1.1 + 2.0
        killed = False
        try:
            out, _ = proc.communicate(timeout=wall)
        except subprocess.TimeoutExpired:
            killed = True
            proc.send_signal(signal.SIGINT)
            try:
                out, _ = proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, _ = proc.communicate()
        if settings.msg:
            print(out)
        header = ""
        values = None
        if os.path.exists(sol):
            values = np.zeros(n)
            with open(sol) as fh:
                header = fh.readline().strip()
                for line in fh:
                    parts = line.split()
                    if parts and parts[0] == "**":
                        parts = parts[1:]
                    if len(parts) >= 3 and parts[1].startswith("C"):
                        values[int(parts[1][1:])] = float(parts[2])
    # The first line of CBC's solution file is its verdict, e.g. "Optimal - objective value 3"
    # or "Stopped on time - objective value 55.6"; an objective of 1e50 means no plan was found.
    text = header.lower()
    m_obj = re.search(r"objective value\s+(\S+)", text)
    reported = float(m_obj.group(1)) if m_obj else math.nan
    no_plan = not math.isfinite(reported) or abs(reported) >= 1e49
    if text.startswith("optimal"):
        termination, status = "optimal", "optimal"
    elif text.startswith("infeasible") or text.startswith("integer infeasible"):
        termination, status = "infeasible", "infeasible"
    elif text.startswith("unbounded"):
        termination, status = "unbounded", "unbounded"
    elif text.startswith("stopped") or killed or not text:
        termination = "interrupt" if ("ctrl-c" in text or killed) else "time_limit"
        if "iterations" in text:
            termination = "iteration_limit"
        # A stop inside the root LP leaves a fractional point in the file: check it.
        status = "no_solution" if (no_plan or values is None or not _is_feasible(a, values)) else "feasible"
    else:
        termination, status = text.split(" - ")[0] or "unknown", "error"
    if status in ("infeasible", "unbounded", "no_solution", "error"):
        values = None
    if values is not None and a.is_mip:
        values[a.integer] = np.round(values[a.integer]) + 0.0  # + 0.0: no -0.0
    objective = math.nan
    if values is not None:
        objective = float(a.cost @ values + a.offset)
    bound = math.nan
    if status == "optimal":
        bound = objective
    else:
        m = _CBC_BOUND.findall(out)
        if m:
            try:
                raw = float(m[-1])
                bound = -raw if a.maximize and raw * objective < 0 else raw
            except ValueError:
                pass
    gap = _gap(objective, bound) if values is not None else math.nan
    return SolveInfo("cbc", status, termination, objective=objective, bound=bound, gap=gap), values
