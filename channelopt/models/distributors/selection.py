"""DistributorSelection: which distributors to sign and which outlets each serves.

One model spans the facility-location family (UFLP/CFLP, p-median, MCLP, LSCP,
p-center) plus the channel rules: channel compatibility, exclusivity (single
sourcing), a cap on partners per region, coverage floors, kept/excluded/existing
partners and a cap on new signings.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pulp

from ..._arrays import ArrayProblem
from ...exceptions import InfeasibleError, SettingsError, format_ids
from ...plan import Plan
from ...solver import SolveInfo
from .._base import Model, _build_path
from .._candidates import parse_candidates
from .built import SelectionBuilt
from .channels import min_distributors_for_channels
from .formulation import build_formulation, link_state, min_loads
from .lagrangian import lagrangian_blockers
from .pcenter import pcenter_eligible
from .plan import selection_plan
from .radius import radius_eligible
from .warm_start import warm_start as _heuristic_start

__all__ = ["DistributorSelection", "choose_strategy"]

log = logging.getLogger("channelopt.models")

OBJECTIVES = ("min_cost", "p_median", "max_coverage", "set_cover", "p_center", "backup_coverage", "p_dispersion")
STRATEGIES = ("auto", "mip", "lagrangian", "radius")
#: links from which ``strategy="auto"`` takes the Lagrangian path for capacitated min_cost
#: (measured, see :func:`choose_strategy`)
AUTO_LAGRANGIAN_LINKS = 100_000
_COVERAGE_BY = ("overall", "region", "channel")
_MEASURES = ("numeric", "weighted")


class DistributorSelection(Model):
    """Choose distributors to sign and assign outlets to them (facility location).

    Parameters
    ----------
    objective : {"min_cost", "p_median", "max_coverage", "set_cover", "p_center", "backup_coverage", "p_dispersion"}
        ``"min_cost"``: fixed plus service cost (UFLP, or CFLP with ``capacitated``).
        ``"p_median"``: exactly ``p`` open, minimise service cost (``costs()``, i.e.
        demand-weighted distance).
        ``"max_coverage"``: MCLP, maximise the ``coverage_weight`` of outlets within
        ``max_distance`` of an open distributor, with ``p`` open and/or a ``budget``.
        ``"set_cover"``: LSCP, fewest distributors (or least fixed cost, see
        ``set_cover_cost``) such that every outlet lies within ``max_distance``.
        ``"p_center"``: ``p`` open, minimise the largest outlet-to-distributor distance.
        ``"backup_coverage"``: LSCP-B. Open the fewest distributors that put every
        outlet within ``max_distance`` (set_cover's count, solved first), and among
        those sets maximise the outlets with a *second* open distributor in range.
        ``plan.metrics["backup_covered_outlets"]`` counts them from the plan itself:
        an outlet with fewer than two candidates in range is never backed up (spopt's
        LSCP-B percentage counts those; SF at r=5000 it reports 81.463% against a
        true 70.732%).
        ``"p_dispersion"``: open ``p`` distributors that maximise their smallest
        pairwise distance (partners that do not crowd each other); needs
        distributor locations. ``plan.metrics["min_pairwise_distance"]``.

        A ``min_load`` column in the distributors table (optional) is the minimum
        volume, in units of outlet demand, that an open distributor must carry (a
        contracted 保底 volume); the models that assign outlets keep it.
    p : int, optional
        Number of distributors open (required by p_median and p_center; optional
        elsewhere, where it fixes the count).
    capacitated : bool
        Hold each distributor's ``capacity`` against the ``demand`` it serves.
    single_source : bool
        Each served outlet has exactly one distributor (exclusivity: no two partners
        sell into the same outlet). Otherwise demand may be split. Under split demand a
        p_center outlet's distance is the share-weighted mean of its links.
    max_distance : float, optional
        No service link longer than this, in km (``net.distance_unit``: km for any network with
        geometry; the matrix unit for ``from_cost_matrix``); the coverage radius
        of max_coverage and set_cover (required there).
    max_per_region : int, optional
        At most this many distributors serve outlets of any one region.
    min_coverage : float or dict, optional
        Coverage floor. A float is a floor on weighted distribution (covered potential
        share) overall. A dict ``{"value": 0.8, "measure": "numeric"|"weighted",
        "by": "overall"|"region"|"channel"}`` sets numeric or weighted distribution,
        overall or in every region / channel type. With a floor, min_cost, p_median and
        p_center may leave outlets unserved down to it.
    budget : float, optional
        Cap on the total fixed cost of open distributors.
    max_new : int, optional
        Cap on the number of new (not ``existing``) signings.
    max_new_cost : float, optional
        Cap on the fixed cost of new signings.
    keep, exclude : sequence of distributor ids
        Distributors forced open / never opened.
    keep_existing : bool
        Existing partners stay signed (their fixed cost still counts).
    coverage_weight : {"demand", "potential"}
        What max_coverage maximises.
    set_cover_cost : {"count", "fixed_cost"}
        What set_cover minimises.
    candidates : int or dict, optional
        Sparse candidate links: an int keeps each outlet's ``k`` nearest allowed
        distributors; ``{"k": 20, "radius": 150.0}`` also drops links beyond
        ``radius`` (an outlet keeps at least its nearest link). A speed setting whose
        plan still answers the full problem: its bound is the full problem's LP bound
        (column generation from the kept links) or NaN, it is "optimal" only when that
        bound proves it, and where reduced costs show a better plan could use a dropped
        link the model widens to those links and solves again (``min_cost`` and
        ``p_median``; see :mod:`channelopt.models.distributors.restricted`). A covering
        ``p_center`` plan of radius ``z`` widens to every allowed link within ``z`` and
        searches again, so its status and bound are the full problem's. A
        restriction found infeasible is solved again on every link.
    linking : {"strong", "weak"}
        ``x_ij <= y_j`` per link (tight LP bound, the default) or one aggregated row per
        distributor.
    heuristic_seconds : float
        Time for the greedy + swap warm-start heuristic.
    strategy : {"auto", "mip", "lagrangian", "radius"}
        ``"auto"`` (the default) chooses by size and rules, see :func:`choose_strategy`.
        ``"radius"`` solves uncapacitated ``p_median`` / ``min_cost`` serving every
        outlet: a greedy + swap plan, a Lagrangian bound that fixes the distributors
        and links no better plan uses, then a Lagrangian branch and bound (with
        ``budget`` / ``max_new`` rows: a MIP over sorted cost levels grown on demand)
        (:mod:`channelopt.models.distributors.radius`). For uncapacitated ``p_center``
        serving every outlet it searches the sorted distances, each step a set-cover
        problem (:mod:`channelopt.models.distributors.pcenter`); ``"auto"`` takes it.
        ``"mip"`` hands the whole model to the solver. ``"lagrangian"`` is for large
        ``min_cost`` models with split demand where every outlet is served (no ``p``,
        coverage floor, budget, signing caps or ``max_per_region``): it proves a lower
        bound by Lagrangian relaxation of the assignment rows (the strong LP bound,
        reached in seconds where the root LP takes many minutes), rounds it to a plan
        priced by a transportation LP, closes every distributor that provably cannot
        be open in a plan at least as good, and solves the MIP on what is left from
        that plan. The reported bound and gap are those of the full model (with its
        sparse candidates); the table ``plan.solve_steps`` holds each step's numbers. Of what is
        left of ``time_limit`` after building, the two bound passes get a quarter (at most a
        minute without a limit), the local search on the rounded plan up to an eighth, the
        MIP the rest; the MIP is skipped when the rounded plan is already within ``mip_gap``,
        or when less than ten times the slowest transportation LP (at least 2 s) is left
        (then the local search gets that time, and ``plan.info.message`` says so).
        Measured on a 20,000 x 500 sparse capacitated instance (k=20, 400,000 links,
        171 of 172 open distributors full), 2 shared cores: gap 0.81% in 45 s and
        590 MB, where the plain MIP still had no bound (gap 100%) after 600 s and 3 GB.

    Examples
    --------
    >>> import channelopt as co
    >>> net = co.ChannelNetwork.from_cost_matrix([[1, 4], [3, 1], [5, 2]], fixed_cost=[2, 3])
    >>> plan = co.DistributorSelection(objective="min_cost").solve(net)
    >>> plan.status, plan.objective
    ('optimal', 9.0)
    >>> plan.assignments[["outlet_id", "distributor_id"]].to_string(index=False)
    'outlet_id distributor_id\\n       o0             d0\\n       o1             d1\\n       o2             d1'
    >>> cover = co.DistributorSelection(objective="set_cover", max_distance=4).solve(net)
    >>> cover.objective, cover.distributors.loc[cover.distributors["open"], "distributor_id"].tolist()
    (1.0, ['d1'])

    The Lagrangian strategy (meant for large capacitated models) proves its bound itself:

    >>> capped = co.ChannelNetwork.from_cost_matrix([[1, 4], [3, 1], [5, 2]], fixed_cost=[2, 3],
    ...                                             capacity=[2, 2])
    >>> lag = co.DistributorSelection(capacitated=True, strategy="lagrangian").solve(capped)
    >>> lag.status, lag.objective, lag.info.bound
    ('optimal', 9.0, 9.0)
    """

    kind = "distributor_selection"

    def __init__(
        self,
        *,
        objective: str = "min_cost",
        p: int | None = None,
        capacitated: bool = False,
        single_source: bool = False,
        max_distance: float | None = None,
        max_per_region: int | None = None,
        min_coverage: float | Mapping | None = None,
        budget: float | None = None,
        max_new: int | None = None,
        max_new_cost: float | None = None,
        keep: Sequence | None = None,
        exclude: Sequence | None = None,
        keep_existing: bool = True,
        coverage_weight: str = "demand",
        set_cover_cost: str = "count",
        candidates: int | Mapping | None = None,
        linking: str = "strong",
        heuristic_seconds: float = 2.0,
        strategy: str = "auto",
    ) -> None:
        self.objective = objective
        self.p = p
        self.capacitated = capacitated
        self.single_source = single_source
        self.max_distance = max_distance
        self.max_per_region = max_per_region
        self.min_coverage = min_coverage
        self.budget = budget
        self.max_new = max_new
        self.max_new_cost = max_new_cost
        self.keep = keep
        self.exclude = exclude
        self.keep_existing = keep_existing
        self.coverage_weight = coverage_weight
        self.set_cover_cost = set_cover_cost
        self.candidates = candidates
        self.linking = linking
        self.heuristic_seconds = heuristic_seconds
        self.strategy = strategy

    @property
    def sense(self):
        maximise = ("max_coverage", "backup_coverage", "p_dispersion")
        return pulp.LpMaximize if self.objective in maximise else pulp.LpMinimize

    def build(self, network=None) -> SelectionBuilt:
        """Check the settings against ``network``, choose the strategy, build; see :meth:`Model.build`.

        Under ``strategy="lagrangian"`` (chosen, or resolved from ``"auto"``) the PuLP
        problem is made only when ``built.problem`` is read; the strategy runs in
        ``built.solve``. Under ``strategy="radius"`` (p-median, p-center) the build holds
        only the links: the assignment MIP's arrays are made when ``built.arrays`` or
        ``built.problem`` is read (and the model then solves as that MIP if the problem was).
        """
        self._check(network)
        t0 = time.perf_counter()
        allowed = self._allowed(network)
        restricted = False
        if self.candidates is not None:  # the candidates are a subset of the allowed links: fewer means restricted
            restricted = bool(self._reach(network).sum() > len(allowed[0]))
        strategy = choose_strategy(self, len(allowed[0]))
        has_min_load = bool(min_loads(network).any())
        if strategy == "lagrangian" and has_min_load:
            strategy = "mip"  # "auto": the Lagrangian path does not carry minimum loads
        if strategy == "radius" and self.objective == "p_center":
            if not pcenter_eligible(self, has_min_load):
                if self.strategy == "radius":
                    raise SettingsError("strategy='radius' solves p_center by covering when it is uncapacitated and "
                                        "serves every outlet (no max_per_region, min_coverage or min_load column); "
                                        "use strategy='mip' or 'auto'.")
                strategy = "mip"
        elif strategy == "radius" and not radius_eligible(self, has_min_load):
            if self.strategy == "radius":
                raise SettingsError("strategy='radius' solves uncapacitated p_median and min_cost models that serve "
                                    "every outlet (no max_per_region, min_coverage or min_load column); use "
                                    "strategy='mip' or 'auto'.")
            strategy = "mip"
        ap = ArrayProblem(self.kind, self.sense)
        formulate = None
        if strategy == "radius":
            # the radius p-median and the covering p-center build their own problems (level rows, set covers):
            # the classic assignment MIP (a column and a row per link: 20,000 x 1,000 took 102 s and 2.6 GB
            # for nothing) is made only if something reads built.arrays or built.problem
            state = link_state(self, network, allowed=allowed, close_idle=False)

            def formulate(state=state):
                # the links measured again (the same ones): holding them for a read that rarely comes would
                # keep a second copy of every link alive beside the strategy's sorted one
                state.update(build_formulation(self, network, ap, allowed=self._allowed(network), close_idle=False))
        else:
            state = build_formulation(self, network, ap, allowed=allowed, close_idle=False)
        state["restricted"] = restricted
        if restricted:  # what the certification widens from
            state["allowed"] = allowed
        del allowed
        build_seconds = time.perf_counter() - t0
        if formulate is None:
            log.info("%s built: %d variables, %d constraints in %.2fs (strategy %s)", self.kind, ap.n_cols,
                     ap.n_rows, build_seconds, strategy)
        else:
            log.info("%s built: %d links in %.2fs (strategy %s; the assignment MIP is made only if read)",
                     self.kind, len(state["oi"]), build_seconds, strategy)
        built = SelectionBuilt(self, network, None, state, build_seconds, arrays=ap, strategy=strategy,
                               formulate=formulate)
        if _build_path() == "pulp" and strategy != "lagrangian":
            # the before/after benchmark's "PuLP objects" cost; 0.1's Lagrangian strategy never built the
            # whole model (its LPs and narrowed MIP go through PuLP in lagrangian._solve instead)
            built.problem  # noqa: B018
            built.build_seconds = time.perf_counter() - t0
        return built

    def _warm_start(self, net, state: dict[str, Any], seconds: float | None = None) -> dict | None:
        if "_start" in state:  # computed once by SelectionBuilt, handed to the shared solve path
            return state["_start"]
        return _heuristic_start(self, net, state, seconds=seconds)

    # ------------------------------------------------------------------ settings
    def _coverage_spec(self) -> tuple[float, str, str] | None:
        mc = self.min_coverage
        if mc is None:
            return None
        if isinstance(mc, Mapping):
            unknown = sorted(set(mc) - {"value", "measure", "by"})
            if unknown or "value" not in mc:
                raise SettingsError(f"min_coverage dict takes 'value' (required), 'measure' and 'by'; got "
                                    f"{sorted(mc)}.")
            value, measure, by = mc["value"], mc.get("measure", "weighted"), mc.get("by", "overall")
        else:
            value, measure, by = mc, "weighted", "overall"
        if measure not in _MEASURES:
            raise SettingsError(f"min_coverage measure must be one of {_MEASURES}, got {measure!r}.")
        if by not in _COVERAGE_BY:
            raise SettingsError(f"min_coverage by must be one of {_COVERAGE_BY}, got {by!r}.")
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise SettingsError(f"min_coverage value must be a share in (0, 1], got {value!r}.") from None
        if not 0 < value <= 1:
            raise SettingsError(f"min_coverage value must be a share in (0, 1], got {value!r}.")
        return value, measure, by

    def _serve_all(self) -> bool:
        """Must every outlet be served? (coverage objectives and floors make service optional)."""
        return (self.objective in ("min_cost", "p_median", "p_center", "set_cover", "backup_coverage")
                and self.min_coverage is None)

    def _uses_assignment(self) -> bool:
        """Coverage objectives need no link variables unless capacity or region caps bind links."""
        if self.objective in ("min_cost", "p_median", "p_center"):
            return True
        return bool(self.capacitated or self.max_per_region is not None)

    def _check_settings(self) -> None:
        if self.objective not in OBJECTIVES:
            raise SettingsError(f"objective must be one of {OBJECTIVES}, got {self.objective!r}.")
        if self.strategy not in STRATEGIES:
            raise SettingsError(f"strategy must be one of {STRATEGIES}, got {self.strategy!r}.")
        if self.strategy == "lagrangian":
            bad = lagrangian_blockers(self)
            if bad:
                raise SettingsError(f"strategy='lagrangian' solves objective='min_cost' with split demand and every "
                                    f"outlet served; it does not support {bad}. Use strategy='mip' or 'auto'.")
        if self.linking not in ("strong", "weak"):
            raise SettingsError(f"linking must be 'strong' or 'weak', got {self.linking!r}.")
        if self.coverage_weight not in ("demand", "potential"):
            raise SettingsError(f"coverage_weight must be 'demand' or 'potential', got {self.coverage_weight!r}.")
        if self.set_cover_cost not in ("count", "fixed_cost"):
            raise SettingsError(f"set_cover_cost must be 'count' or 'fixed_cost', got {self.set_cover_cost!r}.")
        if self.objective in ("p_median", "p_center") and self.p is None:
            raise SettingsError(f"objective={self.objective!r} needs p, the number of distributors to open.")
        if self.objective == "max_coverage" and self.p is None and self.budget is None:
            raise SettingsError("objective='max_coverage' needs p (distributors to open) or a budget on fixed costs.")
        if self.objective in ("backup_coverage", "p_dispersion"):
            bad = [name for name, on in [
                ("p", self.p is not None and self.objective == "backup_coverage"), ("capacitated", self.capacitated),
                ("max_per_region", self.max_per_region is not None), ("min_coverage", self.min_coverage is not None),
            ] if on]
            if bad:
                raise SettingsError(f"objective={self.objective!r} does not take {bad}"
                                    + ("; it opens the fewest distributors that cover every outlet (set_cover's "
                                       "count) and maximises the outlets with a second one in range."
                                       if self.objective == "backup_coverage" else "."))
        if self.objective == "p_dispersion" and self.p is None:
            raise SettingsError("objective='p_dispersion' needs p, the number of distributors to spread out.")
        if self.objective in ("max_coverage", "set_cover", "backup_coverage") and self.max_distance is None:
            raise SettingsError(f"objective={self.objective!r} needs max_distance, the coverage radius.")
        if self.objective == "set_cover" and self.p is not None:
            raise SettingsError("objective='set_cover' minimises the number of distributors; do not give p "
                                "(use objective='max_coverage' with p instead).")
        for name in ("p", "max_per_region", "max_new"):
            v = getattr(self, name)
            low = 0 if name == "max_new" else 1
            if v is not None and (isinstance(v, bool) or int(v) != v or v < low):
                raise SettingsError(f"{name} must be an integer >= {low}, got {v!r}.")
        for name in ("max_distance", "budget", "max_new_cost"):
            v = getattr(self, name)
            if v is not None and not (isinstance(v, (int, float, np.number)) and v >= 0 and not math.isnan(v)):
                raise SettingsError(f"{name} must be a non-negative number, got {v!r}.")
        if self.max_distance is not None and not self.max_distance > 0:
            raise SettingsError(f"max_distance must be positive, got {self.max_distance!r}.")
        if not self.heuristic_seconds >= 0:
            raise SettingsError(f"heuristic_seconds must be >= 0, got {self.heuristic_seconds!r}.")
        self._coverage_spec()
        parse_candidates(self.candidates)

    def _check(self, net) -> None:
        if net is None:
            raise SettingsError("DistributorSelection.solve needs a ChannelNetwork.")
        self._check_settings()
        # counts and columns through the network's readers: a light matrix network's frames stay unmade
        m = net._count("distributors")
        net._count("outlets")
        ids = set(net.distributor_ids.tolist()) if (self.keep or self.exclude) else set()  # ~0.1 ms: when needed
        for what in ("keep", "exclude"):
            given = getattr(self, what) or []
            if isinstance(given, (str, bytes)):
                raise SettingsError(f"{what} must be a list of distributor ids, got the string {given!r}.")
            unknown = [d for d in given if d not in ids]
            if unknown:
                raise SettingsError(f"{what} names unknown distributor ids {format_ids(unknown)}.")
        both = set(self.keep or []) & set(self.exclude or [])
        if both:
            raise SettingsError(f"distributors {format_ids(sorted(both, key=str))} are both kept and excluded.")
        excluded = self._excluded(net)
        forced = self._forced_open(net)
        available = m - int(excluded.sum())
        if self.objective == "p_dispersion" and net.distributor_xy() is None:
            raise SettingsError("objective='p_dispersion' needs distributor locations (a geometry column on the "
                                "distributors table, or region_id with region geometry) to measure the distance "
                                "between partners.")
        loads = min_loads(net)
        if loads.any():
            if self.objective in ("backup_coverage", "p_dispersion"):
                raise SettingsError(f"the distributors table's min_load column needs outlets assigned to "
                                    f"distributors; objective={self.objective!r} assigns none. Drop min_load or "
                                    f"use min_cost, p_median, p_center, max_coverage or set_cover.")
            if self.strategy == "lagrangian":
                raise SettingsError("strategy='lagrangian' does not support the min_load column; use "
                                    "strategy='mip' or 'auto'.")
            if (loads < 0).any():
                bad = net.distributor_ids[loads < 0].tolist()
                raise SettingsError(f"min_load must be >= 0 (units of outlet demand); distributors "
                                    f"{format_ids(bad)} have a negative one.")
        if self.p is not None:
            if self.p > available:
                raise SettingsError(f"p={self.p} is larger than the {available} candidate distributors available "
                                    f"({m} candidates, {int(excluded.sum())} excluded); lower p.")
            if forced.sum() > self.p:
                raise SettingsError(f"p={self.p} is smaller than the {int(forced.sum())} distributors that must stay "
                                    f"open (keep + existing); raise p or set keep_existing=False.")
        new_forced = forced & ~net._column("distributors", "existing", bool)
        if self.max_new is not None and new_forced.sum() > self.max_new:
            raise SettingsError(f"max_new={self.max_new} is below the {int(new_forced.sum())} new distributors in "
                                f"keep; raise max_new or shorten keep.")
        fixed = net._column("distributors", "fixed_cost", float)
        if self.budget is not None and fixed[forced].sum() > self.budget + 1e-9:
            raise InfeasibleError(f"budget={self.budget:,.6g} is below the fixed cost {fixed[forced].sum():,.6g} of "
                                  f"the distributors that must stay open; raise budget or release some.",
                                  reasons=["budget below forced fixed cost"])
        if self.max_new_cost is not None and fixed[new_forced].sum() > self.max_new_cost + 1e-9:
            raise InfeasibleError(f"max_new_cost={self.max_new_cost:,.6g} is below the fixed cost "
                                  f"{fixed[new_forced].sum():,.6g} of the new distributors in keep.",
                                  reasons=["max_new_cost below kept new signings"])
        if self._serve_all():
            unreachable = np.flatnonzero(self._reach(net) == 0)
            if len(unreachable):
                out_ids = net.outlet_ids[unreachable].tolist()
                raise InfeasibleError(
                    f"outlets {format_ids(out_ids)} cannot be served by any allowed distributor "
                    f"(channel compatibility, max_distance={self.max_distance} {net.distance_unit}, exclusions); "
                    f"raise max_distance, add candidates or set min_coverage to allow unserved outlets.",
                    reasons=[f"{len(out_ids)} unreachable outlets: {format_ids(out_ids)}"],
                )
            if self.p is not None:
                need = min_distributors_for_channels(net, excluded, forced)
                if need is not None and need > self.p:
                    raise InfeasibleError(
                        f"serving every outlet needs at least {need} distributors to carry all channel types "
                        f"{net.channels} (channel compatibility; {int(forced.sum())} must stay open: keep + "
                        f"existing), but p={self.p}; raise p, set keep_existing=False, add full-line candidates, "
                        f"or set min_coverage to allow unserved outlets.",
                        reasons=[f"channels need at least {need} distributors"])
            if self.capacitated:
                demand = net._column("outlets", "demand", float)
                capacity = net._column("distributors", "capacity", float)
                usable = capacity[~excluded]
                if usable.sum() < demand.sum() - 1e-9:
                    raise InfeasibleError(
                        f"total capacity {usable.sum():,.6g} of the usable distributors is below total demand "
                        f"{demand.sum():,.6g}; add capacity or candidates.", reasons=["capacity below demand"])
                if self.p is not None:
                    top = np.sort(usable)[::-1][: self.p].sum()
                    if top < demand.sum() - 1e-9:
                        raise InfeasibleError(
                            f"the {self.p} largest capacities sum to {top:,.6g}, below total demand "
                            f"{demand.sum():,.6g}; raise p or capacity.", reasons=["p largest capacities below demand"])
                if self.single_source:
                    oi, dj = self._allowed(net, sparse=False)
                    fits = capacity[dj] >= demand[oi] - 1e-9
                    over = np.flatnonzero(np.bincount(oi[fits], minlength=len(demand)) == 0)
                    if len(over):
                        raise InfeasibleError(
                            f"outlets {format_ids(net.outlet_ids[over])} each need more than the capacity of every "
                            f"distributor allowed to serve them, under single sourcing; allow split demand "
                            f"(single_source=False) or add capacity.", reasons=["outlet demand above capacity"])

    def _excluded(self, net) -> np.ndarray:
        if not self.exclude:  # the usual case; isin costs ~0.1 ms a call and a solve makes several
            return np.zeros(net._count("distributors"), dtype=bool)
        return net.distributors["distributor_id"].isin(list(self.exclude)).to_numpy()

    def _forced_open(self, net) -> np.ndarray:
        if self.keep:
            forced = net.distributors["distributor_id"].isin(list(self.keep)).to_numpy()
        else:
            forced = np.zeros(net._count("distributors"), dtype=bool)
        if self.keep_existing:
            forced = forced | net._column("distributors", "existing", bool)
        return forced & ~self._excluded(net)

    def _link_distances(self, net, oi, dj) -> np.ndarray:
        """Distances (km) of the links ``(oi, dj)``, or their costs when the network has no distances and
        no rule needs them (no n x m array)."""
        try:
            return net.link_distances(oi, dj)
        except SettingsError:
            if self.max_distance is not None or self.objective == "p_center":
                raise
            return net.link_costs(oi, dj)

    def _allowed(self, net, *, sparse: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Links ``(oi, dj)`` the model may use, by outlet then distributor; sparse candidates applied when asked.

        Position arrays over the allowed links, made by the network a chunk of outlets at
        a time: no n x m array, boolean or float (issue 13).
        """
        k, radius = parse_candidates(self.candidates)
        excluded = self._excluded(net)
        if sparse and (k is not None or radius is not None):
            try:
                links = net.links(k=k, radius=radius, max_distance=self.max_distance, exclude=excluded)
            except SettingsError:
                if self.max_distance is not None or self.objective == "p_center":
                    raise
                links = net.links(k=k, radius=radius, exclude=excluded, by="cost")
            oi, dj = links["outlet"].to_numpy(), links["distributor"].to_numpy()
            order = np.lexsort((dj, oi))  # the order of every allowed link's (by outlet, then distributor)
            return oi[order], dj[order]
        return net.allowed_links(max_distance=self.max_distance, exclude=excluded)

    def _reach(self, net) -> np.ndarray:
        """How many allowed links each outlet has (before any ``candidates`` restriction); kept by the network."""
        return net.allowed_counts(max_distance=self.max_distance, exclude=self._excluded(net))

    # ------------------------------------------------------------------ diagnosis
    def _diagnose(self, net, state) -> list[str]:
        reasons = []
        demand, capacity, excluded = state["demand"], state["capacity"], state["excluded"]
        if self.capacitated and self._serve_all():
            if self.single_source:
                reasons.append("single-source assignment cannot pack the outlet demands into the capacities "
                               "(a bin-packing limit); allow split demand or add capacity")
            if self.candidates is not None:
                reasons.append(f"sparse candidates={self.candidates!r} leave some outlets only distributors "
                               f"without spare capacity; widen candidates")
            if self.max_distance is not None:
                reasons.append(f"max_distance={self.max_distance} {net.distance_unit} ties outlets to distributors "
                               f"whose capacity "
                               f"they exceed together; raise max_distance or capacity")
        if self.budget is not None or self.max_new is not None or self.max_new_cost is not None:
            reasons.append(f"the caps on signings (budget={self.budget}, max_new={self.max_new}, "
                           f"max_new_cost={self.max_new_cost}) leave too few distributors open to serve "
                           f"{'every outlet' if self._serve_all() else 'the coverage floor'}")
        if self.max_per_region is not None:
            reasons.append(f"max_per_region={self.max_per_region} is too low for the capacity or reach needed "
                           f"in some region")
        spec = self._coverage_spec()
        if spec is not None:
            value, measure, by = spec
            reasons.append(f"min_coverage {measure} distribution >= {value:.0%} by {by} is out of reach with "
                           f"these distributors, distances and caps")
        if self.p is not None and self._serve_all() and self.capacitated:
            top = np.sort(capacity[~excluded])[::-1][: self.p].sum()
            reasons.insert(0, f"the {self.p} largest capacities sum to {top:,.6g} against total demand "
                              f"{demand.sum():,.6g}")
        return reasons

    # ------------------------------------------------------------------ plan
    def _extract(self, net, state: dict[str, Any], info: SolveInfo) -> Plan:
        oi, dj = state["oi"], state["dj"]
        yval = state["y"].value
        nearest = state["x"] is None or (self.objective == "p_center" and not self.capacitated
                                         and self.max_per_region is None and state["min_load"] is None)
        if not nearest:
            xval = state["x"].value
        else:
            # no link variables (coverage models), or a p-center optimum that may split an outlet
            # between links: each served outlet goes whole to its nearest open allowed distributor
            is_open = yval > 0.5  # np.round(np.nan_to_num(yval)) > 0.5 in one pass (NaN compares False)
            served = np.ones(state["n"], dtype=bool)
            if state["x"] is not None and state["z"] is not None:
                served = state["z"].value > 0.5
            live = np.flatnonzero(is_open[dj] & served[oi])
            key = self._link_distances(net, oi, dj) if self.objective == "p_center" else state["cost"]
            order = live[np.lexsort((key[live], oi[live]))]
            first = np.ones(len(order), dtype=bool)
            first[1:] = oi[order][1:] != oi[order][:-1]
            xval = np.zeros(len(oi))
            xval[order[first]] = 1.0
        weight = None
        if self.objective == "max_coverage":
            weight = state["demand"] if self.coverage_weight == "demand" else net._column("outlets", "potential", float)
        plan = selection_plan(net, oi, dj, xval, yval, info, self.kind, max_distance=self.max_distance,
                              covered_weight=weight)
        overall = plan.metrics.overall
        overall["selection_objective"] = self.objective
        is_open = yval > 0.5  # the plan's "open" column (its tables are made when read)
        if self.objective == "backup_coverage":
            # counted from the plan itself: outlets with at least two open distributors in range
            in_range = np.bincount(oi, weights=is_open[dj].astype(float), minlength=state["n"])
            overall["backup_covered_outlets"] = int((in_range >= 2).sum())
            overall["backup_coverage_share"] = float((in_range >= 2).mean()) if state["n"] else float("nan")
        if self.objective == "p_dispersion":
            xy = net.distributor_xy()[is_open]
            dd = net.point_distances(xy, xy)  # km
            overall["min_pairwise_distance"] = float(dd[np.triu_indices(len(xy), 1)].min()) if len(xy) > 1 \
                else float("nan")
        return plan


def choose_strategy(model, n_links: int) -> str:
    """The strategy ``model`` solves with: its own, or for ``"auto"`` the one measured to do better.

    ``"auto"`` takes the Lagrangian path for capacitated ``min_cost`` models it can
    bound (split demand, every outlet served, no p, floors, budgets or region caps)
    with at least :data:`AUTO_LAGRANGIAN_LINKS` links, and the MIP otherwise. Measured
    on the china example (8,000 x 80, capacitated ``min_cost``, 20 s): the MIP stopped
    at 221.0M with a 94% gap, the Lagrangian path at 80.4M with a 2.4% gap.
    Uncapacitated ``p_median`` serving every outlet takes the radius strategy (Lagrangian
    bound, fixing and branch and bound, :mod:`.radius`): OR-Library pmed16/26/36 with the
    MIP ran out of time at 70-118 s and 1.3-4.3 GB (issue 13); the radius strategy proves
    all 40 pmed instances, the slowest (pmed36) in 41 s at load 14 on 2 cores. Uncapacitated ``p_center``
    serving every outlet takes it too: a search over sorted distances whose steps are
    set-cover problems (:mod:`.pcenter`); Columbus 49 x 49 with the assignment MIP took
    5.5-10.5 s at p=4-8 against spopt's 0.9-1.4 s.
    """
    if model.strategy != "auto":
        return model.strategy
    if model.capacitated and not lagrangian_blockers(model) and n_links >= AUTO_LAGRANGIAN_LINKS:
        return "lagrangian"
    if radius_eligible(model) and model.objective == "p_median":
        return "radius"
    if pcenter_eligible(model):
        return "radius"
    return "mip"
