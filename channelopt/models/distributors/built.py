"""A built DistributorSelection: the one contract's ``solve``, with the strategy chosen at build time.

``DistributorSelection.build(net)`` checks the settings, chooses the strategy
(``"auto"`` resolves here) and returns a :class:`SelectionBuilt`. Its ``solve``:

1. ``"lagrangian"``: runs :func:`~.lagrangian.solve_lagrangian` (once ``built.problem``
   has been handed out, the user may have added rows the Lagrangian path cannot see,
   so the MIP solves it);
2. ``"mip"``: the shared solve path with a heuristic start, then keeps the heuristic's
   plan when the time-limited solver returned a worse one (or none);
3. with restricted ``candidates``: the bound, status and widening of
   :mod:`.restricted`, so that "optimal" means optimal for the unrestricted problem.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
import warnings

import numpy as np
import pulp

from ...exceptions import InfeasibleError, NoSolutionError, SettingsError
from ...plan import Plan
from ...solver import SolveInfo, Solver, _gap
from .._base import BuiltModel
from .lagrangian import solve_lagrangian
from .pcenter import solve_pcenter
from .radius import solve_radius
from .restricted import certify

__all__ = ["SelectionBuilt"]

log = logging.getLogger("channelopt.models")

#: share of what is left that stage 1 of backup_coverage (the fewest covering distributors) may use
BACKUP_STAGE_SHARE = 0.5


class SelectionBuilt(BuiltModel):
    """A :class:`~channelopt.DistributorSelection` built on a network (array blocks).

    ``strategy`` is the resolved strategy (``"mip"`` or ``"lagrangian"``).
    ``problem`` is the PuLP problem, made on first access; once it has been handed
    out, rows added to it must hold, so the model then solves as a MIP.
    """

    def __init__(self, model, network, problem=None, state=None, build_seconds=0.0, *, arrays=None,
                 strategy: str = "mip", formulate=None):
        # ``formulate`` fills ``arrays`` (still empty) and ``state`` on first read of ``arrays``: the radius
        # strategy (p-median levels, covering p-center) never needs the assignment MIP unless a user asks for
        # it (or for ``problem``)
        self._formulate = formulate
        super().__init__(model, network, problem, state, build_seconds, arrays=arrays)
        self.strategy = strategy

    @property
    def arrays(self):
        if self._formulate is not None:
            formulate, self._formulate = self._formulate, None
            t0 = time.perf_counter()
            formulate()
            self.build_seconds += time.perf_counter() - t0
        return self._arrays

    @arrays.setter
    def arrays(self, value) -> None:
        self._arrays = value

    def __repr__(self) -> str:
        return f"SelectionBuilt({self.model!r}, strategy={self.strategy!r})"

    def solve(self, solver: Solver | None = None, *, warm_start: bool = True) -> Plan:
        solver = solver or Solver()
        if not isinstance(solver, Solver):
            raise SettingsError(f"solver must be a channelopt.Solver, got {type(solver).__name__}.")
        solver = solver.start_clock()  # one clock for every call below (no-op if Model.solve started it)
        # one clock for the whole solve (building included when Model.solve started it)
        solver = solver.start_clock()
        t_start = solver.deadline.start
        touched = self.has_problem  # the user has had the problem (and may have added rows)
        if self.model.objective == "backup_coverage" and "backup_count" not in self.state:
            solver = self._backup_count(solver, warm_start, t_start)
        try:
            if self.strategy == "lagrangian" and not touched:
                plan = solve_lagrangian(self.model, self.network, solver, t_start)
            elif self.strategy == "radius" and not touched:
                radius = solve_pcenter if self.model.objective == "p_center" else solve_radius
                plan = radius(self, solver, t_start)
            else:
                plan = self._solve_mip(solver, warm_start)
        except InfeasibleError:
            if not self.state.get("restricted") or touched:
                raise
            return self._solve_unrestricted(solver, warm_start, t_start)
        if self.model.objective == "backup_coverage" and not self.state.get("backup_count_proven", True) \
                and plan.info.status == "optimal":
            plan.info.status = "feasible"
            plan.info.message = ("the fewest covering distributors (set_cover, stage 1) was not proven; "
                                 + plan.info.message).strip()
        if self.state.get("restricted") and not touched:
            plan = certify(self, plan, solver, t_start)
        return plan

    def _backup_count(self, solver: Solver, warm_start: bool, t_start: float) -> Solver:
        """Stage 1 of LSCP-B: the fewest distributors covering every outlet (set_cover), as a row."""
        model = self.model
        cover = type(model)(**{**model.get_params(), "objective": "set_cover", "set_cover_cost": "count"})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # stage 1 on half of what is left; stage 2 (this model) on the rest of the one clock
            first = cover.build(self.network).solve(solver.share(BACKUP_STAGE_SHARE), warm_start=warm_start)
        count = int(first.distributors["open"].sum())
        self.state["backup_count"] = count
        self.state["backup_count_proven"] = first.status == "optimal"
        y = self.state["y"]
        self.arrays.add_row("p", y.index, 1.0, "==", float(count))
        return solver

    def _solve_unrestricted(self, solver: Solver, warm_start: bool, t_start: float) -> Plan:
        """The restriction made the model infeasible: solve on every allowed link, so any
        infeasibility left is the rules' doing and is diagnosed as such."""
        model = self.model
        full = type(model)(**{**model.get_params(), "candidates": None})
        if solver.time_limit is not None:
            left = max(solver.time_limit - (time.perf_counter() - t_start), 0.1 * solver.time_limit)
            solver = dataclasses.replace(solver, time_limit=left)
        plan = full.build(self.network).solve(solver, warm_start=warm_start)
        plan.info.message = (f"candidates={model.candidates!r} left no feasible plan (the restriction's doing, not "
                             f"another rule's); solved on every allowed link instead. {plan.info.message}").strip()
        plan.settings = {"model": type(model).__name__, **model.get_params(), "solver": solver.to_dict()}
        return plan

    # ------------------------------------------------------------------ mip with a heuristic floor
    def _solve_mip(self, solver: Solver, warm_start: bool) -> Plan:
        from .warm_start import start_is_feasible, start_objective

        heuristic = None
        if warm_start:
            limit = solver.remaining()
            # the heuristic gets a small share of what is left; the solver the rest (one clock)
            seconds = None if limit is None else 0.1 * limit
            t0 = time.perf_counter()
            try:
                start = self.model._warm_start(self.network, self.state, seconds=seconds)
            except Exception as exc:  # a failed heuristic must never block the exact solve
                log.debug("heuristic start failed: %s", exc)
                start = None
            if start is not None:  # one vector for the check, the price and the solver (not three from the dict)
                start = self.arrays.start_vector(start)
            if start is not None and start_is_feasible(self.arrays, start):
                heuristic = (start, start_objective(self.arrays, start))
            elif start is not None:
                log.debug("heuristic start breaks a row of the model; not used")
                start = None
            spent = time.perf_counter() - t0
            self.state["heuristic_seconds"] = spent
        self.state["_start"] = None if heuristic is None else heuristic[0]
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                plan = super().solve(solver, warm_start=heuristic is not None)
        except NoSolutionError:
            if heuristic is None or self.has_problem:
                raise
            return self._heuristic_plan(heuristic, solver, None)
        finally:
            self.state.pop("_start", None)
        floor = heuristic is not None and not self.has_problem and plan.info.status != "optimal"
        if floor and self._worse(plan.info.objective, heuristic[1]):
            return self._heuristic_plan(heuristic, solver, plan.info)
        for w in caught:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        return plan

    def _worse(self, objective: float, than: float) -> bool:
        tol = 1e-9 * max(1.0, abs(than))
        if not math.isfinite(objective):
            return True
        return objective < than - tol if self.model.sense == pulp.LpMaximize else objective > than + tol

    def _heuristic_plan(self, heuristic, solver: Solver, info: SolveInfo | None) -> Plan:
        """The heuristic's plan, with the solver's bound (when it had one)."""
        from ...exceptions import NotOptimalWarning

        start, objective = heuristic
        self.arrays.solution = np.nan_to_num(self.arrays.start_vector(start))
        bound = info.bound if info is not None else math.nan
        new = SolveInfo(solver.name, "feasible", info.termination if info is not None else "time_limit",
                        objective=objective, bound=bound, gap=_gap(objective, bound),
                        seconds=info.seconds if info is not None else math.nan,
                        build_seconds=self.build_seconds,
                        n_variables=self.arrays.n_cols, n_constraints=self.arrays.n_rows,
                        time_limit=solver.time_limit, mip_gap=solver.mip_gap,
                        message=("the solver's plan ({}) was worse than the heuristic's first plan, which is kept"
                                 .format("none" if info is None else f"{info.objective:,.6g}")))
        plan = self.model._extract(self.network, self.state, new)
        plan.settings = {"model": type(self.model).__name__, **self.model.get_params(), "solver": solver.to_dict()}
        warnings.warn(f"{type(self.model).__name__} plan is feasible ({new.termination}), not proven optimal: "
                      f"the heuristic's plan was kept; gap {new.gap:.2%}.", NotOptimalWarning, stacklevel=4)
        return plan
