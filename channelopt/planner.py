"""ChannelPlanner: distributor selection, then territories, then budget, as one plan.

Each stage feeds the next. The distributors the first stage signs become the
territory centres (their home regions), and the territories (or the regions inside
them) x channel types x activities become the budget cells, restricted to outlets a
signed distributor serves (trade spend needs a partner to execute it).
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Mapping
from typing import Any

import pandas as pd

from .exceptions import SettingsError
from .metrics import Metrics
from .models._base import Model
from .plan import Plan
from .solver import SolveInfo, Solver

__all__ = ["ChannelPlanner", "curve_from_spec"]

_STAGES = ("selection", "territories", "budget")
_CELLS = ("territory", "region")
# Settings the planner derives from earlier stages; a user value would contradict them.
_DERIVED = {"territories": ("k", "centres"), "budget": ("cells",)}
_ORDER = ("optimal", "feasible")


def curve_from_spec(spec: Any, where: str = "curve"):
    """A response curve from a curve object or a plain spec (as written in a scenario file).

    Specs: ``{"hill": [vmax, k, n]}`` (or a mapping of those names),
    ``{"exponential": [vmax, k]}``, ``{"log": [a, k]}``, ``{"points": [[s0, r0], ...]}``.

    Examples
    --------
    >>> float(curve_from_spec({"hill": [100, 40, 1]})(40.0))
    50.0
    """
    from . import response

    if isinstance(spec, response.ResponseCurve):
        return spec
    makers = {"hill": response.Hill, "exponential": response.SaturatingExponential,
              "saturating_exponential": response.SaturatingExponential, "log": response.Logarithmic,
              "logarithmic": response.Logarithmic, "points": response.PointsCurve}
    if not isinstance(spec, Mapping) or len(spec) != 1 or next(iter(spec)) not in makers:
        raise SettingsError(f"{where}: a curve is a ResponseCurve or a one-key mapping out of {sorted(makers)} "
                            f"(e.g. {{'hill': [100, 40, 1]}}); got {spec!r}.")
    kind, args = next(iter(spec.items()))
    try:
        if kind == "points":
            return response.PointsCurve(args)
        return makers[kind](**args) if isinstance(args, Mapping) else makers[kind](*args)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"{where}.{kind}: {exc}") from None


class ChannelPlanner(Model):
    """Integrated plan: sign distributors, draw territories around them, split the budget.

    Parameters
    ----------
    selection : DistributorSelection or mapping
        Stage 1, or its settings (default ``DistributorSelection()``: min_cost).
    territories : TerritoryDesign, mapping or None
        Stage 2, or its settings; ``k`` and ``centres`` come from stage 1 (one
        territory per home region of a signed distributor). None skips the stage.
    budget : BudgetAllocation, mapping or None
        Stage 3, or its settings (``total`` and the targets); its ``cells`` come
        from the earlier stages. None skips the stage.
    curves : mapping activity -> curve
        The response curve of each activity for a cell of average potential
        (``ResponseCurve`` objects or specs, see :func:`curve_from_spec`); each
        cell's curve is scaled by its potential. Needed with ``budget``.
    cells : {"territory", "region"}
        Budget cells per territory x channel x activity (default), or per region x
        channel x activity (tagged with their territory; finer, more variables).
    method : {"sequential", "joint"}
        ``"sequential"`` (default) solves the stages in turn. ``"joint"`` solves one
        MILP, :class:`~channelopt.models.joint.JointPlanner`, maximising the plan's
        contribution; it reads ``margin``, ``curves``, ``budget.total``,
        ``selection.capacitated`` / ``keep_existing`` and ``territories.contiguity`` /
        ``balance={"workload": tol}``, with exclusive regions and region x channel
        cells. Small networks only (see JointPlanner's Notes).
    margin : float, optional
        Contribution per unit of potential and response; required by ``"joint"``.

    Notes
    -----
    The stages are solved in order, each to its own optimum: the plan is the
    sequential optimum, not a joint one. Status is the weakest stage status;
    ``objective``/``bound`` are the last stage's, ``gap`` the largest stage gap, and
    ``seconds`` the sum. Every stage's own plan is in ``plan.stages``.

    Examples
    --------
    >>> import channelopt as co
    >>> from channelopt.datasets import make_synthetic
    >>> net = make_synthetic(10, 120, 5, seed=0)
    >>> planner = co.ChannelPlanner(selection={"objective": "p_median", "p": 2},
    ...                             territories={"balance": {"workload": 0.5}},
    ...                             budget={"total": 50.0}, curves={"promotion": {"hill": [20, 5, 1]}})
    >>> plan = planner.solve(net)
    >>> plan.status, sorted(plan.stages), plan.metrics["territories"]
    ('optimal', ['budget', 'selection', 'territories'], 2)
    >>> round(float(plan.allocations["spend"].sum()), 6)
    50.0
    """

    kind = "channel_plan"

    def __init__(self, *, selection: Any = None, territories: Any = None, budget: Any = None,
                 curves: Mapping | None = None, cells: str = "territory", method: str = "sequential",
                 margin: float | None = None) -> None:
        self.selection = selection
        self.territories = territories
        self.budget = budget
        self.curves = curves
        self.cells = cells
        self.method = method
        self.margin = margin

    # -- settings
    @classmethod
    def check_params(cls, params: Mapping, where: str = "ChannelPlanner") -> None:
        """Check nested stage settings (given as mappings) before anything runs.

        Raises
        ------
        SettingsError
            An unknown stage setting (named, with the stage model's known settings), a
            derived one (``k``, ``centres``, ``cells``), or a bad ``cells`` value.
        """
        from .models.budget import BudgetAllocation
        from .models.distributors import DistributorSelection
        from .models.territories import TerritoryDesign

        classes = {"selection": DistributorSelection, "territories": TerritoryDesign, "budget": BudgetAllocation}
        for stage, cls_ in classes.items():
            value = params.get(stage)
            if value is None or value is False:
                continue
            if isinstance(value, Mapping):
                known = [n for n in inspect.signature(cls_.__init__).parameters if n != "self"]
                unknown = [k for k in value if k not in known]
                if unknown:
                    raise SettingsError(f"{where}.{stage}: {cls_.__name__} has no parameter {unknown[0]!r}; known "
                                        f"parameters: {', '.join(known)}.")
                keys = [k for k, v in value.items() if v is not None]
            elif isinstance(value, cls_):
                keys = [k for k, v in value.get_params().items() if v is not None]
            else:
                raise SettingsError(f"{where}.{stage} must be a {cls_.__name__} or a mapping of its settings, got "
                                    f"{type(value).__name__}.")
            derived = [k for k in _DERIVED.get(stage, ()) if k in keys]
            if derived:
                raise SettingsError(f"{where}.{stage}.{derived[0]}: set by the planner from the earlier stages; "
                                    f"leave it out.")
        cells = params.get("cells", "territory")
        if cells not in _CELLS:
            raise SettingsError(f"{where}.cells must be one of {_CELLS}, got {cells!r}.")
        if params.get("budget") not in (None, False) and not params.get("curves"):
            raise SettingsError(f"{where}.curves: the budget stage needs curves, e.g. "
                                f"{{'promotion': {{'hill': [100, 40, 1]}}}}.")

    def _stage_models(self):
        from .models.budget import BudgetAllocation
        from .models.distributors import DistributorSelection
        from .models.territories import TerritoryDesign

        self.check_params(self.get_params(), where="ChannelPlanner")

        def make(value, cls_, default):
            if value is False or (value is None and default is None):
                return None
            if value is None:
                return default
            return cls_(**value) if isinstance(value, Mapping) else value

        return (make(self.selection, DistributorSelection, DistributorSelection()),
                make(self.territories, TerritoryDesign, None),
                make(self.budget, BudgetAllocation, None))

    def joint_model(self):
        """The :class:`~channelopt.models.joint.JointPlanner` these settings describe (``method="joint"``).

        Raises
        ------
        SettingsError
            A stage setting the joint model does not take (named, with the ones it does).

        Examples
        --------
        >>> import channelopt as co
        >>> co.ChannelPlanner(method="joint", margin=0.3, territories={"balance": {"workload": 0.2}}).joint_model()
        JointPlanner(margin=0.3, contiguity=True, balance=0.2)
        """
        from .models.joint import JointPlanner

        self.check_params(self.get_params(), where="ChannelPlanner")
        taken = {"selection": {"objective": "min_cost", "capacitated": None, "keep_existing": None,
                               "single_source": None},
                 "territories": {"contiguity": None, "balance": None}, "budget": {"total": None}}
        given: dict[str, dict] = {}
        for stage in _STAGES:
            value = getattr(self, stage)
            if value is None or value is False:
                continue
            if isinstance(value, Mapping):
                items = {k: v for k, v in value.items() if v is not None}
            else:
                defaults = type(value)().get_params()
                items = {k: v for k, v in value.get_params().items() if v is not None and v != defaults.get(k)}
            for k, v in items.items():
                if k not in taken[stage] or (taken[stage][k] is not None and v != taken[stage][k]):
                    raise SettingsError(f"ChannelPlanner.{stage}.{k}={v!r} is not part of method='joint' (it takes "
                                        f"{stage} settings {sorted(taken[stage])}); drop it or use "
                                        f"method='sequential'.")
            given[stage] = items
        kw: dict[str, Any] = {"margin": self.margin, "curves": self.curves}
        sel = given.get("selection", {})
        kw["capacitated"] = bool(sel.get("capacitated", True))
        kw["keep_existing"] = bool(sel.get("keep_existing", True))
        if "territories" in given:
            terr = given["territories"]
            kw["contiguity"] = bool(terr.get("contiguity", True))
            bal = terr.get("balance")
            if bal is not None:
                if not isinstance(bal, Mapping) or set(bal) != {"workload"} or isinstance(bal["workload"], tuple):
                    raise SettingsError(f"ChannelPlanner.territories.balance with method='joint' is "
                                        f"{{'workload': tolerance}}, got {bal!r}.")
                kw["balance"] = bal["workload"]
        if "budget" in given:
            kw["total"] = given["budget"].get("total")
        else:
            kw["curves"] = None
        return JointPlanner(**kw)

    def build(self, network=None):
        raise SettingsError("ChannelPlanner solves three problems in turn; call solve(network). Build a single "
                            "stage's problem from its own model (e.g. DistributorSelection(...).build(net)).")

    # -- the verb
    def solve(self, network=None, solver: Solver | None = None, *, warm_start: bool = True) -> Plan:
        """Solve the stages in order on ``network`` and return the combined plan.

        Parameters
        ----------
        network : ChannelNetwork
            Needs outlets and candidate distributors.
        solver : Solver, optional
            Used by every stage.

        Returns
        -------
        Plan
            ``kind="channel_plan"``; ``assignments``: one row per outlet with its
            distributor and territory; tables ``distributors``, ``regions``,
            ``territories``, ``allocations`` and ``by_territory``; ``stages``: each
            stage's own plan.

        Raises
        ------
        SettingsError, InfeasibleError, NoSolutionError
            From the stage that failed; the message starts with the stage name.
        """
        if network is None or getattr(network, "outlets", None) is None:
            raise SettingsError("ChannelPlanner.solve needs a ChannelNetwork with outlets and distributors.")
        solver = solver or Solver()
        if self.method not in ("sequential", "joint"):
            raise SettingsError(f"ChannelPlanner.method must be 'sequential' or 'joint', got {self.method!r}.")
        if self.method == "joint":
            return self.joint_model().solve(network, solver, warm_start=warm_start)
        sel_model, terr_model, bud_model = self._stage_models()
        stages: dict[str, Plan] = {}
        stages["selection"] = _stage("selection", sel_model.solve, network, solver, warm_start)
        sel = stages["selection"]
        chosen = sel.distributors.loc[sel.distributors["open"].astype(bool)]
        served = sel.assignments[["outlet_id", "distributor_id", "covered"]].copy()
        outlets = pd.DataFrame(network.outlets.drop(columns="geometry", errors="ignore")).merge(
            served, on="outlet_id", how="left")
        outlets["covered"] = outlets["covered"].fillna(False).astype(bool)

        if terr_model is not None:
            centres = list(dict.fromkeys(chosen["region_id"].tolist()))
            terr_model = terr_model.set_params(centres=centres, k=len(centres))
            stages["territories"] = _stage("territories", terr_model.solve, network, solver, warm_start)
            ta = stages["territories"].assignments
            region_terr = pd.Series(ta["territory"].to_numpy(), index=ta["region_id"].to_numpy(), dtype=object)
        else:
            # Without territories each region stands alone.
            ids = list(network.region_ids)
            region_terr = pd.Series(ids, index=ids, dtype=object)
        outlets["territory"] = outlets["region_id"].map(region_terr)

        if bud_model is not None:
            cells = self._cells(outlets)
            bud_model = bud_model.set_params(cells=cells)
            target = network if self.cells == "region" else None
            stages["budget"] = _stage("budget", bud_model.solve, target, solver, warm_start)
        return self._combine(network, stages, outlets, region_terr, solver)

    def _cells(self, outlets: pd.DataFrame) -> pd.DataFrame:
        curves = {a: curve_from_spec(c, f"curves[{a!r}]") for a, c in dict(self.curves).items()}
        key = "territory" if self.cells == "territory" else "region_id"
        live = outlets[outlets["covered"]]
        if not len(live):
            raise SettingsError("budget stage: the selection covers no outlet, so there is nothing to spend on.")
        agg = {"potential": ("potential", "sum"), "outlets": ("outlet_id", "size")}
        if key != "territory":
            agg["territory"] = ("territory", "first")
        groups = live.groupby([key, "channel"], sort=True).agg(**agg).reset_index()
        if key == "territory":
            groups["region_id"] = groups["territory"]
        groups = groups[groups["potential"] > 0]
        ref = float(groups["potential"].mean())
        rows = []
        for g in groups.itertuples(index=False):
            for act, curve in curves.items():
                rows.append({"region_id": g.region_id, "channel": g.channel, "activity": act,
                             "curve": curve.scaled(float(g.potential) / ref), "potential": float(g.potential),
                             "outlets": int(g.outlets), "territory": g.territory})
        return pd.DataFrame(rows)

    def _combine(self, net, stages: dict[str, Plan], outlets, region_terr, solver) -> Plan:
        infos = [p.info for p in stages.values()]
        worst = max(infos, key=lambda i: _ORDER.index(i.status) if i.status in _ORDER else len(_ORDER))
        last = infos[-1]
        gaps = [i.gap for i in infos if i.gap == i.gap]
        info = SolveInfo(solver=solver.name, status=worst.status,
                         termination=",".join(f"{n}:{p.info.termination}" for n, p in stages.items()),
                         objective=last.objective, bound=last.bound, gap=max(gaps) if gaps else math.nan,
                         seconds=float(sum(i.seconds for i in infos)),
                         build_seconds=float(sum(i.build_seconds for i in infos if i.build_seconds == i.build_seconds)),
                         n_variables=sum(i.n_variables for i in infos), n_integer=sum(i.n_integer for i in infos),
                         n_constraints=sum(i.n_constraints for i in infos), time_limit=solver.time_limit,
                         mip_gap=solver.mip_gap)
        sel = stages["selection"]
        overall: dict[str, Any] = dict(sel.metrics.overall)
        overall["selection_objective"] = sel.objective
        tables = {"distributors": sel.distributors,
                  "regions": pd.DataFrame({"region_id": region_terr.index, "territory": region_terr.to_numpy()})}
        by_terr = outlets.groupby("territory", sort=True).agg(
            regions=("region_id", "nunique"), outlets=("outlet_id", "size"), covered_outlets=("covered", "sum"),
            potential=("potential", "sum"), workload=("workload", "sum"),
            distributors=("distributor_id", lambda s: int(s.dropna().nunique())))
        if "territories" in stages:
            tp = stages["territories"]
            tables["territories"] = tp.territories.reset_index()
            for k, v in tp.metrics.overall.items():
                if k not in overall and k not in ("gap",):
                    overall[k] = v
            overall["territory_objective"] = tp.objective
        if "budget" in stages:
            bp = stages["budget"]
            alloc = bp.allocations
            tables["allocations"] = alloc
            spend = alloc.groupby("territory", sort=True).agg(spend=("spend", "sum"), response=("response", "sum"))
            by_terr = by_terr.join(spend, how="left")
            for k in ("spend", "response", "incremental_response", "roi", "marginal_roi", "active_cells",
                      "marginal_roi_curves", "response_upper_bound"):
                if k in bp.metrics.overall:
                    overall[k if k not in overall else f"budget_{k}"] = bp.metrics.overall[k]
            overall["budget_fixed_cost"] = bp.metrics.overall.get("fixed_cost", math.nan)
            overall["plan_cost"] = float(overall.get("total_cost", 0.0)) + float(bp.metrics.overall["total_cost"])
        tables["by_territory"] = by_terr.reset_index()
        for name, p in stages.items():
            overall[f"{name}_status"] = p.status
            overall[f"{name}_seconds"] = p.solve_seconds
        metrics = Metrics(overall=overall, by_region=sel.metrics.by_region, by_channel=sel.metrics.by_channel,
                          by_territory=by_terr, by_distributor=sel.metrics.by_distributor)
        cols = [c for c in ("outlet_id", "region_id", "channel", "potential", "distributor_id", "covered",
                            "territory") if c in outlets.columns]
        plan = Plan(kind=self.kind, info=info, assignments=outlets[cols].reset_index(drop=True), metrics=metrics,
                    tables=tables, network=net, stages=stages)
        plan.settings = {"model": type(self).__name__, **{k: _describe(v) for k, v in self.get_params().items()},
                         "solver": solver.to_dict()}
        return plan


def _describe(value):
    if hasattr(value, "get_params"):
        return {"model": type(value).__name__, **value.get_params()}
    return value


def _stage(name: str, solve, network, solver, warm_start) -> Plan:
    t0 = time.perf_counter()
    try:
        plan = solve(network, solver=solver, warm_start=warm_start)
    except Exception as exc:
        # Say which stage failed; keep the error's type so callers catch it as usual.
        if exc.args and isinstance(exc.args[0], str):
            exc.args = (f"{name} stage: {exc.args[0]}",) + exc.args[1:]
        raise
    plan.info.message = (plan.info.message + f" stage wall {time.perf_counter() - t0:.2f}s").strip()
    return plan
