"""Shared plumbing of every model: settings, validate -> build -> solve -> Plan."""

from __future__ import annotations

import inspect
import logging
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import pulp

from ..exceptions import InfeasibleError, NoSolutionError, NotOptimalWarning, SolverError
from ..plan import Plan
from ..solver import SolveInfo, Solver

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
        sig = inspect.signature(type(self).__init__)
        return {name: getattr(self, name) for name in sig.parameters if name != "self"}

    def set_params(self, **params: Any):
        """A copy with some settings changed (the original is untouched)."""
        current = self.get_params()
        unknown = sorted(set(params) - set(current))
        if unknown:
            from ..exceptions import SettingsError

            raise SettingsError(f"{type(self).__name__} has no setting(s) {unknown}; known: {sorted(current)}.")
        return type(self)(**{**current, **params})

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
        """Validate settings against ``network`` and build the PuLP problem.

        Use it to add your own constraints before solving::

            built = model.build(net)
            built.problem += some_expression <= limit
            plan = built.solve(Solver("highs"))
        """
        self._check(network)
        t0 = time.perf_counter()
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
        return self.build(network).solve(solver, warm_start=warm_start)

    # -- hooks
    def _check(self, network) -> None:  # pragma: no cover - overridden
        pass

    def _build(self, network, prob: pulp.LpProblem) -> dict[str, Any]:  # pragma: no cover
        raise NotImplementedError

    def _warm_start(self, network, state: dict[str, Any]) -> dict | None:
        return None

    def _extract(self, network, state: dict[str, Any], info: SolveInfo) -> Plan:  # pragma: no cover
        raise NotImplementedError

    def _diagnose(self, network, state: dict[str, Any]) -> list[str]:
        return []


@dataclass
class BuiltModel:
    """A model built on a network: ``problem`` is the PuLP problem, open to changes."""

    model: Model
    network: Any
    problem: pulp.LpProblem
    state: dict[str, Any] = field(default_factory=dict)
    build_seconds: float = 0.0

    def solve(self, solver: Solver | None = None, *, warm_start: bool = True) -> Plan:
        solver = solver or Solver()
        if not isinstance(solver, Solver):
            raise TypeError(f"solver must be a channelopt.Solver, got {type(solver).__name__}.")
        start = None
        if warm_start:
            t0 = time.perf_counter()
            try:
                start = self.model._warm_start(self.network, self.state)
            except Exception as exc:  # a failed heuristic must never block the exact solve
                log.debug("warm start failed: %s", exc)
                start = None
            self.state["heuristic_seconds"] = time.perf_counter() - t0
        info = solver.solve(self.problem, warm_start=start)
        info.build_seconds = self.build_seconds
        if info.status == "infeasible" or info.status == "unbounded":
            reasons = self.model._diagnose(self.network, self.state)
            what = "infeasible" if info.status == "infeasible" else "unbounded"
            msg = f"{type(self.model).__name__} is {what}"
            msg += (": " + "; ".join(reasons)) if reasons else (
                " (no single cause found by the cheap checks; relax balance, capacity, "
                "coverage or budget settings one at a time to find it)")
            raise InfeasibleError(msg + ".", reasons=reasons)
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
