"""Shared plumbing of every model: settings, validate -> build -> solve -> Plan."""

from __future__ import annotations

import functools
import inspect
import logging
import os
import time
import warnings
from typing import Any

import numpy as np
import pulp

from .._arrays import ArrayProblem
from ..exceptions import BuildError, InfeasibleError, NoSolutionError, NotOptimalWarning, SettingsError, SolverError
from ..plan import Plan
from ..solver import HEURISTIC_SHARE, SolveInfo, Solver, _outer_solve

__all__ = ["Model", "BuiltModel"]

log = logging.getLogger("channelopt.models")


class Model:
    """Base of the models: holds keyword settings only; ``solve`` does the work.

    Subclasses implement ``_check`` (settings against the data, cheap feasibility
    checks), ``_build`` (the formulation), ``_extract`` (the Plan), and may implement
    ``_warm_start`` and ``_diagnose`` (why an infeasible model is infeasible).
    """

    kind = "model"
    sense = pulp.LpMinimize

    def get_params(self) -> dict[str, Any]:
        """The settings given to the constructor, by name (as in scikit-learn)."""
        return {name: getattr(self, name) for name in _param_names(type(self).__init__) if name != "self"}

    def set_params(self, **params: Any):
        """Change settings in place and return ``self`` (as in scikit-learn).

        Use :meth:`clone` for a changed copy that leaves this model untouched.

        Raises
        ------
        SettingsError
            An unknown setting, naming the nearest known one.
        """
        self._check_param_names(params)
        for name, value in params.items():
            setattr(self, name, value)
        return self

    def clone(self, **params: Any):
        """A new model with the same settings and ``params`` changed (this one is untouched)."""
        self._check_param_names(params)
        return type(self)(**{**self.get_params(), **params})

    def _check_param_names(self, params) -> None:
        current = self.get_params()
        unknown = sorted(set(params) - set(current))
        if unknown:
            import difflib

            from ..exceptions import SettingsError

            near = difflib.get_close_matches(unknown[0], list(current), n=1)
            hint = f" Did you mean {near[0]!r}?" if near else ""
            raise SettingsError(f"{type(self).__name__} has no setting(s) {unknown}.{hint} "
                                f"Known: {sorted(current)}.")

    def __repr__(self) -> str:
        sig = inspect.signature(type(self).__init__)
        parts = []
        for name, p in sig.parameters.items():
            if name == "self":
                continue
            value = getattr(self, name)
            if p.default is inspect.Parameter.empty or value is not p.default:
                try:
                    if value == p.default:
                        continue
                except (ValueError, TypeError):
                    pass
                parts.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(parts)})"

    # -- the verbs
    def build(self, network=None) -> BuiltModel:
        """Validate settings against ``network`` and build the problem.

        Models written on :class:`~channelopt._arrays.ArrayProblem` build arrays only;
        ``built.problem`` turns them into a PuLP problem on first use, so you can add
        your own constraints before solving::

            built = model.build(net)
            built.problem += some_expression <= limit
            plan = built.solve(Solver("highs"))
        """
        self._check(network)
        t0 = time.perf_counter()
        arrays_model = type(self)._build_arrays is not Model._build_arrays
        pulp_model = type(self)._build is not Model._build
        if arrays_model and not (pulp_model and _build_path() == "pulp"):
            ap = ArrayProblem(self.kind, self.sense)
            state = self._build_arrays(network, ap)
            built = BuiltModel(self, network, None, state, time.perf_counter() - t0, arrays=ap)
            if _build_path() == "pulp":
                built.problem  # noqa: B018 - the before/after benchmark's "PuLP objects" cost
                built.build_seconds = time.perf_counter() - t0
            log.info("%s built: %d variables, %d constraints in %.2fs", self.kind, ap.n_cols, ap.n_rows,
                     built.build_seconds)
            return built
        prob = pulp.LpProblem(self.kind, self.sense)
        state = self._build(network, prob)
        build_seconds = time.perf_counter() - t0
        log.info("%s built: %d variables, %d constraints in %.2fs", self.kind,
                 len(prob.variables()), len(prob._constraints), build_seconds)
        return BuiltModel(self, network, prob, state, build_seconds)

    def solve(self, network=None, solver: Solver | None = None, *, warm_start: bool = True) -> Plan:
        """Build and solve; return a :class:`~channelopt.Plan`.

        Raises
        ------
        InfeasibleError
            With the reasons found (e.g. capacity below demand).
        NoSolutionError
            When the solver stopped (time limit) before any feasible plan.
        """
        # The clock of time_limit starts here: building counts against it.
        solver = (solver or Solver()).start_clock() if isinstance(solver, Solver | None) else solver
        with _outer_solve():
            return self.build(network).solve(solver, warm_start=warm_start)

    # -- hooks
    def _check(self, network) -> None:  # pragma: no cover - overridden
        pass

    def _build(self, network, prob: pulp.LpProblem) -> dict[str, Any]:  # pragma: no cover
        """The formulation as PuLP objects (the old path; prefer ``_build_arrays``)."""
        raise NotImplementedError

    def _build_arrays(self, network, ap: ArrayProblem) -> dict[str, Any]:  # pragma: no cover
        """The formulation as array blocks on ``ap``; return a state dict holding the blocks."""
        raise NotImplementedError

    def _warm_start(self, network, state: dict[str, Any], solver: Solver | None = None):
        """A (partial) starting plan, or None.

        ``solver`` (accept it as a keyword to receive it) carries the clock: a heuristic
        should stop by ``solver.share(HEURISTIC_SHARE).remaining()`` seconds.
        """
        return None

    def _extract(self, network, state: dict[str, Any], info: SolveInfo) -> Plan:  # pragma: no cover
        raise NotImplementedError

    def _diagnose(self, network, state: dict[str, Any]) -> list[str]:
        return []


@functools.lru_cache(maxsize=256)
def _param_names(fn) -> tuple[str, ...]:
    """A function's parameter names, kept per function object (``inspect.signature`` takes ~20 us and a
    tiny solve asked three times; a replaced ``__init__`` is another key)."""
    return tuple(inspect.signature(fn).parameters)


def _build_path() -> str:
    """Private switch for before/after benchmarks: ``CHANNELOPT_BUILD_PATH=pulp`` builds PuLP objects.

    With ``pulp``, a model that still has its PuLP ``_build`` uses it, and an array-only
    model materialises its PuLP problem at build time and solves through it.
    """
    return os.environ.get("CHANNELOPT_BUILD_PATH", "arrays").strip().lower()


class BuiltModel:
    """A model built on a network, open to changes before it is solved.

    Attributes
    ----------
    model, network
        What was built.
    arrays : ArrayProblem or None
        The array problem (array-native models); ``None`` for PuLP-built models.
    problem : pulp.LpProblem
        The PuLP problem. For an array-native model it is created on first access, with
        the same variables, rows and names; constraints and variables you add to it are
        honoured by :meth:`solve`. Untouched, no PuLP object is ever created.
    state : dict
        The model's handles on its variables (``VarBlock`` s or PuLP variables).
    build_seconds : float
    """

    def __init__(self, model: Model, network: Any, problem: pulp.LpProblem | None = None,
                 state: dict[str, Any] | None = None, build_seconds: float = 0.0, *,
                 arrays: ArrayProblem | None = None):
        if problem is None and arrays is None:
            raise BuildError("BuiltModel needs a PuLP problem or an ArrayProblem.")
        self.model = model
        self.network = network
        self.state = {} if state is None else state
        self.build_seconds = build_seconds
        self.arrays = arrays
        self._problem = problem
        self._lpvars: list | None = None
        self._synced = (0, 0)

    @property
    def problem(self) -> pulp.LpProblem:
        if self._problem is None:
            t0 = time.perf_counter()
            self._problem, self._lpvars = self.arrays.to_pulp()
            self._synced = (self.arrays.n_rows, self.arrays.n_bound_edits)
            log.info("%s: PuLP problem materialised in %.2fs", getattr(self.model, "kind", self.arrays.name),
                     time.perf_counter() - t0)
        return self._problem

    @problem.setter
    def problem(self, value: pulp.LpProblem) -> None:
        # ``built.problem += row`` rebinds the attribute to the same object.
        if value is not self._problem:
            if self.arrays is not None:
                raise SettingsError("built.problem cannot be replaced for an array-built model; "
                                "add constraints to it in place (built.problem += ...).")
            self._problem = value

    @property
    def has_problem(self) -> bool:
        """Whether a PuLP problem exists (always for PuLP-built models; on demand otherwise)."""
        return self._problem is not None

    def solve_once(self, solver: Solver, warm_start=None) -> SolveInfo:
        """One solver call on whatever form the model is in; ``info.values`` is indexed by column.

        Strategies (lazy cuts, re-solves) call this rather than ``solver.solve`` so that
        constraints a user added through :attr:`problem` stay in force.
        """
        if self.arrays is None:
            return solver.solve(self._problem, warm_start=warm_start)
        if self._problem is None:
            return solver.solve(self.arrays, warm_start=warm_start)
        ap, lpvars = self.arrays, self._lpvars
        if (ap.n_rows, ap.n_bound_edits) != self._synced:
            ap.pulp_sync(self._problem, lpvars, *self._synced)
            self._synced = (ap.n_rows, ap.n_bound_edits)
        ws = None
        vec = ap.start_vector(warm_start)
        if vec is not None:
            ws = {v: val for v, val in zip(lpvars, vec.tolist()) if val == val}
        info = solver.solve(self._problem, warm_start=ws)
        if info.values is None:
            ap.solution = None
        else:
            # The original columns, by position; the user's own columns keep their varValue.
            a = ap.arrays()
            raw = np.array([np.nan if v.varValue is None else v.varValue for v in lpvars], dtype=float)
            ap.solution = np.where(np.isnan(raw), np.clip(0.0, a.col_lower, a.col_upper), raw)
        info.values = ap.solution
        ap.duals = None
        if info.duals is not None:
            cons = list(self._problem._constraints.values())[: ap.n_rows]
            ap.duals = np.array([np.nan if c.pi is None else c.pi for c in cons], dtype=float)
        return info

    def solve(self, solver: Solver | None = None, *, warm_start: bool = True) -> Plan:
        solver = solver or Solver()
        if not isinstance(solver, Solver):
            raise SettingsError(f"solver must be a channelopt.Solver, got {type(solver).__name__}.")
        solver = solver.start_clock()  # a no-op when Model.solve started it before building
        with _outer_solve():
            return self._solve(solver, warm_start)

    def _solve(self, solver: Solver, warm_start: bool) -> Plan:
        start = None
        if warm_start:
            t0 = time.perf_counter()
            try:
                hook = self.model._warm_start
                if "solver" in _param_names(getattr(hook, "__func__", hook)):
                    start = self.model._warm_start(self.network, self.state,
                                                   solver=solver.share(HEURISTIC_SHARE))
                else:
                    start = self.model._warm_start(self.network, self.state)
            except Exception as exc:  # a failed heuristic must never block the exact solve
                log.debug("warm start failed: %s", exc)
                start = None
            self.state["heuristic_seconds"] = time.perf_counter() - t0
        info = self.solve_once(solver, warm_start=start)
        info.build_seconds = self.build_seconds
        if info.status == "infeasible" or info.status == "unbounded":
            reasons = self.model._diagnose(self.network, self.state)
            what = "infeasible" if info.status == "infeasible" else "unbounded"
            msg = f"{type(self.model).__name__} is {what}"
            msg += (": " + "; ".join(reasons)) if reasons else (
                " (no single cause found by the cheap checks; relax balance, capacity, "
                "coverage or budget settings one at a time to find it)")
            raise InfeasibleError(msg + ".", reasons=reasons)
        if info.status == "no_solution" and (info.termination == "interrupted" or solver.interrupted):
            raise KeyboardInterrupt(f"{type(self.model).__name__}: interrupted before any feasible plan")
        if info.status == "no_solution" and info.termination == "objective_bound":
            # the search closed under the caller's cutoff: more time would not help, a looser cutoff may
            raise NoSolutionError(
                f"{solver.name} found no plan below the objective_bound given in Solver(options=...) "
                f"({solver.options.get('objective_bound')!r}, in HiGHS's objective units): every plan costs "
                f"{info.bound:.10g} or more; remove objective_bound or raise it to get a plan.")
        if info.status == "no_solution":
            raise NoSolutionError(
                f"{solver.name} stopped ({info.termination}) after {info.seconds:.1f}s without a feasible "
                f"plan; raise time_limit (now {solver.time_limit}) or loosen the model.")
        if info.status == "error":
            raise SolverError(f"{solver.name} failed: {info.termination} {info.message}".strip())
        plan = self.model._extract(self.network, self.state, info)
        plan.settings = {"model": type(self.model).__name__, **self.model.get_params(), "solver": solver.to_dict()}
        if info.status != "optimal":
            warnings.warn(
                f"{type(self.model).__name__} plan is {info.status} ({info.termination}), not proven optimal: "
                f"gap {info.gap:.2%}.", NotOptimalWarning, stacklevel=3)
        return plan
