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
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ._stages import combine_infos
from .exceptions import NoSolutionError, SettingsError
from .metrics import Metrics, outlets_outside_territory
from .plan import Plan
from .response import as_curve
from .solver import Solver

__all__ = ["ChannelPlanner", "curve_from_spec"]

_STAGES = ("selection", "territories", "budget")
_CELLS = ("territory", "region")
_EXCLUSIVITY = ("channel", "territory", None)
# Settings the planner derives from earlier stages; a user value would contradict them.
_DERIVED = {"territories": ("k", "centres"), "budget": ("cells",)}
# How a time limit is spent: each stage gets this share of what is left when it starts
# (renormalised over the stages still to run), so time a stage leaves unused passes on.
_TIME_SHARES = {"selection": 0.4, "territories": 0.35, "assignment": 0.1, "budget": 0.15, "prices": 0.15,
                "assortment": 0.15}


def curve_from_spec(spec: Any, where: str = "curve"):
    """Deprecated alias of :func:`channelopt.response.as_curve` (removed in the next release)."""
    warnings.warn("channelopt.planner.curve_from_spec moved to channelopt.response.as_curve; the old name goes in "
                  "the next release.", DeprecationWarning, stacklevel=2)
    return as_curve(spec, where)


class ChannelPlanner:
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
        (``ResponseCurve`` objects or specs, see :func:`channelopt.response.as_curve`); each
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
    exclusivity : {"channel", "territory", None}
        After the territory stage every served outlet goes to its territory's owner:
        ``"channel"`` (default) gives each channel type of a territory one distributor;
        ``"territory"`` gives each territory one distributor for all its channels. The
        owners are chosen by an assignment stage (least service cost, within capacity),
        which may sign a further candidate at its fixed cost when the selection's
        objective is ``min_cost`` without ``p`` or signing caps. ``None`` keeps the
        selection's assignments (outlets may then be served across territory lines; the
        plan counts them in ``outlets_outside_territory``).
    capacity : bool, optional
        Hold each distributor's ``capacity`` against its load. Default (None): on
        whenever the distributors table carries a finite capacity. ``False`` (or
        ``selection={"capacitated": False}``) turns it off; the plan then carries a
        warning and flags each distributor loaded above 100% (``over_capacity``).
    price : PricePlan or mapping of its settings, optional
        A last stage choosing prices per region x channel (``cells``) with diversion
        corridors only on the borders between the territories just drawn
        (``diversion_cost`` as a table or ``{"per_km": x, "handling": h}``); its plan
        is ``plan.stages["prices"]`` (see :func:`channelopt.pricing.stage.territory_price_model`).
    assortment : AssortmentPlan or mapping of its settings, optional
        A stage before the budget choosing which products to list where. With a budget
        stage, its listing fees come out of ``budget.total``: ``listing_budget`` (required
        then) is the part that may pay fees, and the budget stage splits the total minus
        the fees paid, so more range means less trade spend. The SKU distribution
        (``sku_distribution`` tables, ``sku_*`` metrics) counts only outlets a signed
        distributor serves. Its ``carried`` may list ``distributor_id, line`` (the lines
        each distributor can carry): a product is then listable only in the region x
        channel segments that a signed distributor carrying its line serves.

    Notes
    -----
    The stages are solved in order, each to its own optimum: the plan is the
    sequential optimum, not a joint one. Status is the weakest stage status.
    ``objective``, ``bound`` and ``gap`` are one quantity: the last stage's, given the
    earlier stages' decisions (named in ``metrics.overall["objective_stage"]``); when
    an earlier stage stopped before proving its optimum no bound holds for the plan, and
    ``bound`` and ``gap`` are NaN with the reason in ``plan.info.message``. ``seconds``
    is the sum. A ``time_limit`` is split across the stages (``_TIME_SHARES``). Every
    stage's own plan is in ``plan.stages``.

    Examples
    --------
    >>> import channelopt as co
    >>> from channelopt.datasets import make_synthetic
    >>> net = make_synthetic(10, 120, 5, seed=0)
    >>> planner = co.ChannelPlanner(selection={"objective": "p_median", "p": 3},
    ...                             territories={"balance": {"workload": 0.5}},
    ...                             budget={"total": 50.0}, curves={"promotion": {"hill": [20, 5, 1]}})
    >>> plan = planner.solve(net)
    >>> plan.status, sorted(plan.stages), plan.metrics["territories"]
    ('optimal', ['assignment', 'budget', 'selection', 'territories'], 2)
    >>> plan.metrics["outlets_outside_territory"]
    0
    >>> round(float(plan.allocations["spend"].sum()), 6)
    50.0
    """

    kind = "channel_plan"

    def __init__(self, *, selection: Any = None, territories: Any = None, budget: Any = None,
                 curves: Mapping | None = None, cells: str = "territory", method: str = "sequential",
                 margin: float | None = None, exclusivity: str | None = "channel",
                 capacity: bool | None = None, price: Any = None, assortment: Any = None) -> None:
        self.selection = selection
        self.territories = territories
        self.budget = budget
        self.curves = curves
        self.cells = cells
        self.method = method
        self.margin = margin
        self.exclusivity = exclusivity
        self.capacity = capacity
        self.price = price
        self.assortment = assortment

    # ChannelPlanner orchestrates models; it is not one (it builds no single problem).
    def get_params(self) -> dict[str, Any]:
        """The settings given to the constructor, by name (as in scikit-learn)."""
        return {name: getattr(self, name) for name in inspect.signature(type(self).__init__).parameters
                if name != "self"}

    def set_params(self, **params: Any) -> ChannelPlanner:
        """Change settings in place and return ``self`` (as in scikit-learn).

        Raises
        ------
        SettingsError
            An unknown setting, with the known ones.
        """
        known = self.get_params()
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise SettingsError(f"ChannelPlanner has no setting(s) {unknown}; known: {sorted(known)}.")
        for k, v in params.items():
            setattr(self, k, v)
        return self

    def __repr__(self) -> str:
        defaults = {n: p.default for n, p in inspect.signature(type(self).__init__).parameters.items()}
        parts = [f"{k}={v!r}" for k, v in self.get_params().items() if v is not defaults[k] and v != defaults[k]]
        return f"ChannelPlanner({', '.join(parts)})"

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
        if params.get("exclusivity", "channel") not in _EXCLUSIVITY:
            raise SettingsError(f"{where}.exclusivity must be one of {_EXCLUSIVITY}, got "
                                f"{params.get('exclusivity')!r}.")
        if params.get("capacity") not in (None, True, False):
            raise SettingsError(f"{where}.capacity must be True, False or None, got {params.get('capacity')!r}.")
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

    def _capacity_rule(self, network, sel_model) -> tuple[bool, str | None]:
        """Whether the selection holds capacities, and the warning when the user turned them off."""
        caps = network.distributors["capacity"].to_numpy(dtype=float)
        has_caps = bool(np.isfinite(caps).any())
        said_off = isinstance(self.selection, Mapping) and self.selection.get("capacitated") is False
        said_on = isinstance(self.selection, Mapping) and self.selection.get("capacitated") is True
        if self.capacity is True and said_off or self.capacity is False and said_on:
            raise SettingsError(f"ChannelPlanner.capacity={self.capacity} contradicts selection.capacitated="
                                f"{not self.capacity}; set one of them.")
        if self.capacity is False or said_off:
            note = None
            if has_caps:
                note = ("capacities turned off (capacity=False): distributors may carry more than their capacity; "
                        "see the over_capacity column of plan.distributors.")
            return False, note
        if self.capacity is True and not has_caps:
            raise SettingsError("ChannelPlanner.capacity=True, but the distributors table has no finite capacity; "
                                "add a capacity column (same units as outlet demand) or leave capacity unset.")
        return has_caps or bool(getattr(sel_model, "capacitated", False)), None

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

    # -- the verb
    def solve(self, network=None, solver: Solver | None = None, *, warm_start: bool = True) -> Plan:
        """Solve the stages in order on ``network`` and return the combined plan.

        Parameters
        ----------
        network : ChannelNetwork
            Needs outlets and candidate distributors.
        solver : Solver, optional
            Used by every stage; its ``time_limit`` bounds all of them together.

        Returns
        -------
        Plan
            ``kind="channel_plan"``; ``assignments``: one row per outlet with its
            distributor and territory; tables ``distributors``, ``regions``,
            ``territories``, ``owners`` (one distributor per territory x channel),
            ``allocations`` and ``by_territory``; ``stages``: each stage's own plan.

        Raises
        ------
        SettingsError, InfeasibleError, NoSolutionError
            From the stage that failed; the message starts with the stage name.
        KeyboardInterrupt
            Ctrl-C before the selection stage had a plan.

        Notes
        -----
        Ctrl-C stops the stage running and no later stage starts, except the exclusive
        assignment (its greedy takes milliseconds and keeps the territories' rules): the
        plan is made of the stages that have a plan, with status ``"feasible"``,
        termination ``"interrupted"`` and the stages not run named in ``info.message``.
        """
        from .models._exclusive import assign_exclusive
        from .models.distributors import selection_plan

        if network is None or getattr(network, "outlets", None) is None:
            raise SettingsError("ChannelPlanner.solve needs a ChannelNetwork with outlets and distributors.")
        # One clock for every stage: time_limit bounds the whole plan, Ctrl-C stops every stage.
        solver = (solver or Solver()).start_clock()
        if self.method not in ("sequential", "joint"):
            raise SettingsError(f"ChannelPlanner.method must be 'sequential' or 'joint', got {self.method!r}.")
        if self.method == "joint":
            return self.joint_model().solve(network, solver, warm_start=warm_start)
        sel_model, terr_model, bud_model = self._stage_models()
        capacitated, cap_note = self._capacity_rule(network, sel_model)
        sel_model = _with(sel_model, capacitated=capacitated)
        todo = ["selection"] + (["territories"] if terr_model is not None else [])
        todo += ["assignment"] if terr_model is not None and self.exclusivity is not None else []
        todo += ["assortment"] if self.assortment is not None else []
        todo += ["budget"] if bud_model is not None else []
        todo += ["prices"] if self.price is not None else []
        clock = _Clock(solver, todo)
        stages: dict[str, Plan] = {}
        skipped: list[str] = []
        stages["selection"] = _stage("selection", sel_model.solve, network, clock.next("selection"), warm_start)
        sel = stages["selection"]

        def go(name: str) -> bool:
            # After Ctrl-C no new stage starts but the fast assignment (it keeps the territories' rules).
            if skipped or (solver.interrupted and name != "assignment"):
                skipped.append(name)
                return False
            return True

        def partial(name: str) -> None:
            # Ctrl-C inside a stage before it had a plan: the plan is the stages done so far.
            skipped.append(name)
        chosen = sel.distributors.loc[sel.distributors["open"].astype(bool)]
        outlets = _outlet_frame(network, sel)

        if terr_model is not None and go("territories"):
            centres = list(dict.fromkeys(chosen["region_id"].tolist()))
            terr_model = _with(terr_model, centres=centres, k=len(centres))
            try:
                stages["territories"] = _stage("territories", terr_model.solve, network, clock.next("territories"),
                                               warm_start)
            except KeyboardInterrupt:
                partial("territories")
        if "territories" in stages:
            ta = stages["territories"].assignments
            region_terr = pd.Series(ta["territory"].to_numpy(), index=ta["region_id"].to_numpy(), dtype=object)
        else:
            # Without territories each region stands alone.
            ids = list(network.region_ids)
            region_terr = pd.Series(ids, index=ids, dtype=object)
        outlets["territory"] = outlets["region_id"].map(region_terr)

        owners = None
        if "territories" in stages and self.exclusivity is not None and go("assignment"):
            may_open = (sel_model.objective == "min_cost" and sel_model.p is None and sel_model.max_new is None
                        and sel_model.budget is None and sel_model.max_new_cost is None)
            usable = ~network.distributors["distributor_id"].isin(list(sel_model.exclude or [])).to_numpy()
            if not may_open:
                usable &= sel.distributors["open"].to_numpy(dtype=bool)
            stage_solver = clock.next("assignment")
            t0 = time.perf_counter()
            try:
                owner, opened, info, owners = assign_exclusive(
                    network, outlets["territory"].to_numpy(), outlets["covered"].to_numpy(dtype=bool),
                    sel.distributors["open"].to_numpy(dtype=bool), usable=usable, exclusivity=self.exclusivity,
                    capacitated=capacitated, max_distance=sel_model.max_distance, solver=stage_solver)
            except NoSolutionError as exc:
                if not solver.interrupted:
                    raise _named("assignment", exc) from None
                owner = None  # Ctrl-C and no greedy plan: the plan keeps the selection's assignments
                partial("assignment")
            except Exception as exc:
                raise _named("assignment", exc) from None
        if owners is not None:
            oi = np.flatnonzero(owner >= 0)
            info.message = (info.message + f" stage wall {time.perf_counter() - t0:.2f}s").strip()
            stages["assignment"] = selection_plan(network, oi, owner[oi], np.ones(len(oi)), opened.astype(float),
                                                  info, "distributor_selection",
                                                  max_distance=sel_model.max_distance)
            stages["assignment"].tables["owners"] = owners
            outlets = _outlet_frame(network, stages["assignment"]).assign(territory=outlets["territory"].to_numpy())

        fees = 0.0
        if self.assortment is not None and go("assortment"):
            served = stages.get("assignment", stages["selection"])
            try:
                stages["assortment"] = self._assortment_stage(network, served, bud_model, clock.next("assortment"),
                                                              warm_start)
                fees = float(stages["assortment"].metrics["listing_fees"])
            except KeyboardInterrupt:
                partial("assortment")
        if bud_model is not None and go("budget"):
            cells = self._cells(outlets)
            bud_model = _with(bud_model, cells=cells)
            if fees > 0 and bud_model.total is not None:
                if bud_model.total - fees <= 0:
                    raise SettingsError(f"budget stage: listing fees {fees:,.6g} use the whole budget "
                                        f"{bud_model.total:,.6g}; give the assortment a listing_budget below it.")
                bud_model = _with(bud_model, total=bud_model.total - fees)
            target = network if self.cells == "region" else None
            try:
                stages["budget"] = _stage("budget", bud_model.solve, target, clock.next("budget"), warm_start)
            except KeyboardInterrupt:
                partial("budget")
        if self.price is not None and go("prices"):
            # Prices last: the territories just drawn are the borders the corridors guard.
            from .pricing.stage import territory_price_model

            price_model = territory_price_model(self.price, region_terr)
            try:
                stages["prices"] = _stage("prices", price_model.solve, network, clock.next("prices"), warm_start)
            except KeyboardInterrupt:
                partial("prices")
        plan = self._combine(network, stages, outlets, region_terr, solver, owners, cap_note)
        if solver.interrupted:
            plan.info.status, plan.info.termination = "feasible", "interrupted"
            plan.info.bound = plan.info.gap = math.nan
            not_run = [s for s in todo if s not in stages]
            plan.info.message = (f"interrupted (Ctrl-C): the plan holds the {', '.join(stages)} stage(s)"
                                 + (f"; not run: {', '.join(not_run)}" if not_run else "") + f". {plan.info.message}")
        return plan

    def _assortment_stage(self, network, served, bud_model, solver, warm_start) -> Plan:
        from .assortment import AssortmentPlan, carried_lines

        model = self.assortment
        model = AssortmentPlan(**model) if isinstance(model, Mapping) else model
        if not isinstance(model, AssortmentPlan):
            raise SettingsError(f"ChannelPlanner.assortment must be an AssortmentPlan or a mapping of its settings, "
                                f"got {type(model).__name__}.")
        if model.listing_budget is None and bud_model is not None and bud_model.total is not None:
            # Fees and trade spend share one budget: the split is the user's explicit choice.
            raise SettingsError(f"assortment stage: give the assortment a listing_budget, the part of budget.total "
                                f"({bud_model.total:,.6g}) that may pay listing fees; the budget stage spends the "
                                f"rest.")
        if isinstance(model.carried, pd.DataFrame) and "distributor_id" in model.carried.columns:
            # Lines per distributor: listable only where a distributor signed here serves and carries the line.
            model = _with(model, carried=carried_lines(served, model.carried))
        return _stage("assortment", model.solve, network, solver, warm_start)

    def _cells(self, outlets: pd.DataFrame) -> pd.DataFrame:
        from .models.budget import _cells_from_outlets

        live = outlets[outlets["covered"]]
        if not len(live):
            raise SettingsError("budget stage: the selection covers no outlet, so there is nothing to spend on.")
        key = "territory" if self.cells == "territory" else "region_id"
        return _cells_from_outlets(live, dict(self.curves), key=key, carry=("territory",))

    def _combine(self, net, stages: dict[str, Plan], outlets, region_terr, solver, owners, cap_note) -> Plan:
        info = combine_infos(stages, solver)
        last_name = list(stages)[-1]
        plan_warnings = [cap_note] if cap_note else []
        served = stages.get("assignment", stages["selection"])
        sel = stages["selection"]
        overall: dict[str, Any] = dict(served.metrics.overall)
        overall["selection_objective"] = sel.objective
        overall["objective_stage"] = last_name
        dists = served.distributors.copy()
        dists["over_capacity"] = dists["open"].astype(bool) & (dists["utilisation"] > 1 + 1e-9)
        over = dists.loc[dists["over_capacity"]]
        if len(over):
            plan_warnings.append("distributors above capacity: " + ", ".join(
                f"{d} at {u:.0%}" for d, u in zip(over["distributor_id"], over["utilisation"])) + ".")
        tables = {"distributors": dists,
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
            overall["exclusivity"] = self.exclusivity or "none"
            overall["outlets_outside_territory"] = outlets_outside_territory(outlets, owners)
            if owners is not None:
                tables["owners"] = owners
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
        if "assortment" in stages:
            from .assortment import sku_distribution

            ap = stages["assortment"]
            sku = sku_distribution(ap.assortment, served)  # only outlets a signed distributor serves
            tables.update({"assortment": ap.assortment, **sku.tables()})
            for k in ("listing_fees", "net_margin", "listed_cells", "products_listed"):
                overall[f"assortment_{k}" if k in overall else k] = ap.metrics.overall[k]
            overall.update(sku.overall)
            if "plan_cost" in overall:
                overall["plan_cost"] += float(ap.metrics.overall["listing_fees"])
        tables["by_territory"] = by_terr.reset_index()
        for name, p in stages.items():
            overall[f"{name}_status"] = p.status
            overall[f"{name}_seconds"] = p.solve_seconds
        metrics = Metrics(overall=overall, by_region=served.metrics.by_region, by_channel=served.metrics.by_channel,
                          by_territory=by_terr, by_distributor=dists.set_index("distributor_id"))
        cols = [c for c in ("outlet_id", "region_id", "channel", "potential", "distributor_id", "covered",
                            "territory") if c in outlets.columns]
        plan = Plan(kind=self.kind, info=info, assignments=outlets[cols].reset_index(drop=True), metrics=metrics,
                    tables=tables, network=net, stages=stages, warnings=plan_warnings)
        plan.settings = {"model": type(self).__name__, **{k: _describe(v) for k, v in self.get_params().items()},
                         "solver": solver.to_dict()}
        for text in plan_warnings:
            warnings.warn(f"ChannelPlanner: {text}", UserWarning, stacklevel=3)
        return plan


def _with(model, **changes):
    """A copy of ``model`` with some settings changed; the user's object is never touched."""
    return type(model)(**{**model.get_params(), **changes})


def _outlet_frame(network, served: Plan) -> pd.DataFrame:
    """The network's outlets with the distributor and coverage of a selection-shaped plan."""
    cols = served.assignments[["outlet_id", "distributor_id", "covered"]]
    outlets = pd.DataFrame(network.outlets.drop(columns="geometry", errors="ignore")).merge(
        cols, on="outlet_id", how="left")
    outlets["covered"] = outlets["covered"].fillna(False).astype(bool)
    return outlets


class _Clock:
    """The one place where the planner's time limit is split across its stages.

    Each stage gets its share (``_TIME_SHARES``) of the time left when it starts,
    renormalised over the stages still to run, so a stage that finishes early passes
    its time on. The shares are child clocks of the solver's one :class:`~channelopt.solver.Deadline`
    (``Solver.share``): a stage's building, heuristics and re-solves all draw on its
    share, and Ctrl-C in any stage stops the whole plan. Without a ``time_limit``
    every stage runs unbounded.
    """

    def __init__(self, solver: Solver, todo: list[str]) -> None:
        self.solver = solver.start_clock()
        self.todo = list(todo)

    def next(self, stage: str) -> Solver:
        shares = {s: _TIME_SHARES[s] for s in self.todo}
        self.todo.remove(stage)
        return self.solver.share(shares[stage] / sum(shares.values()))


def _describe(value):
    if hasattr(value, "get_params"):
        return {"model": type(value).__name__, **value.get_params()}
    return value


def _named(name: str, exc: BaseException) -> BaseException:
    # Say which stage failed; keep the error's type so callers catch it as usual.
    if exc.args and isinstance(exc.args[0], str):
        exc.args = (f"{name} stage: {exc.args[0]}",) + exc.args[1:]
    return exc


def _stage(name: str, solve, network, solver, warm_start) -> Plan:
    t0 = time.perf_counter()
    try:
        plan = solve(network, solver=solver, warm_start=warm_start)
    except Exception as exc:
        raise _named(name, exc) from None
    plan.info.message = (plan.info.message + f" stage wall {time.perf_counter() - t0:.2f}s").strip()
    return plan
