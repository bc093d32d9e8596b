"""DistributorSelection: which distributors to sign and which outlets each serves.

One model spans the facility-location family (UFLP/CFLP, p-median, MCLP, LSCP,
p-center) plus the channel rules: channel compatibility, exclusivity (single
sourcing), a cap on partners per region, coverage floors, kept/excluded/existing
partners and a cap on new signings.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pulp

from ..exceptions import InfeasibleError, NoSolutionError, NotOptimalWarning, SettingsError, format_ids
from ..metrics import coverage_metrics
from ..plan import Plan
from ..solver import SolveInfo, Solver
from . import _heuristics as heur
from ._base import Model
from ._candidates import parse_candidates, sparsify
from ._lp import add_grouped_rows, add_row, linear, new_vars, values

__all__ = ["DistributorSelection", "selection_plan"]

log = logging.getLogger("channelopt.models")

OBJECTIVES = ("min_cost", "p_median", "max_coverage", "set_cover", "p_center")
_COVERAGE_BY = ("overall", "region", "channel")
_MEASURES = ("numeric", "weighted")


class DistributorSelection(Model):
    """Choose distributors to sign and assign outlets to them (facility location).

    Parameters
    ----------
    objective : {"min_cost", "p_median", "max_coverage", "set_cover", "p_center"}
        ``"min_cost"``: fixed plus service cost (UFLP, or CFLP with ``capacitated``).
        ``"p_median"``: exactly ``p`` open, minimise service cost (``costs()``, i.e.
        demand-weighted distance).
        ``"max_coverage"``: MCLP, maximise the ``coverage_weight`` of outlets within
        ``max_distance`` of an open distributor, with ``p`` open and/or a ``budget``.
        ``"set_cover"``: LSCP, fewest distributors (or least fixed cost, see
        ``set_cover_cost``) such that every outlet lies within ``max_distance``.
        ``"p_center"``: ``p`` open, minimise the largest outlet-to-distributor distance.
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
        No service link longer than this (``net.distance_unit``); the coverage radius
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
        ``radius`` (an outlet keeps at least its nearest link). A speed setting: the
        optimum is that of the restricted model.
    linking : {"strong", "weak"}
        ``x_ij <= y_j`` per link (tight LP bound, the default) or one aggregated row per
        distributor.
    heuristic_seconds : float
        Time for the greedy + swap warm-start heuristic.
    strategy : {"mip", "lagrangian"}
        ``"mip"`` hands the whole model to the solver. ``"lagrangian"`` is for large
        ``min_cost`` models with split demand where every outlet is served (no ``p``,
        coverage floor, budget, signing caps or ``max_per_region``): it proves a lower
        bound by Lagrangian relaxation of the assignment rows (the strong LP bound,
        reached in seconds where the root LP takes many minutes), rounds it to a plan
        priced by a transportation LP, closes every distributor that provably cannot
        be open in a plan at least as good, and solves the MIP on what is left from
        that plan. The reported bound and gap are those of the full model (with its
        sparse candidates); the table ``plan.solve_steps`` holds each step's numbers. The bound gets a
        quarter of the solver's ``time_limit`` (at most a minute without one), the MIP
        the rest; the MIP is skipped when the rounded plan is already within ``mip_gap``.
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
        strategy: str = "mip",
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
        return pulp.LpMaximize if self.objective == "max_coverage" else pulp.LpMinimize

    def solve(self, network=None, solver=None, *, warm_start: bool = True) -> Plan:
        """Build and solve; return a :class:`~channelopt.Plan` (see :meth:`Model.solve`).

        ``strategy="lagrangian"`` takes its own path; otherwise the shared solve path,
        which also re-solves cold when a warm-started plan fails its check (HiGHS 1.16
        mis-mapped a MIP start on OR-Library cap131: 608,685.75 "optimal", true 793,439.56).
        """
        if self.strategy == "lagrangian":
            return self._solve_lagrangian(network, solver or Solver())
        return self.build(network).solve(solver, warm_start=warm_start)

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
        return self.objective in ("min_cost", "p_median", "p_center", "set_cover") and self.min_coverage is None

    def _uses_assignment(self) -> bool:
        """Coverage objectives need no link variables unless capacity or region caps bind links."""
        if self.objective in ("min_cost", "p_median", "p_center"):
            return True
        return bool(self.capacitated or self.max_per_region is not None)

    def _check_settings(self) -> None:
        if self.objective not in OBJECTIVES:
            raise SettingsError(f"objective must be one of {OBJECTIVES}, got {self.objective!r}.")
        if self.strategy not in ("mip", "lagrangian"):
            raise SettingsError(f"strategy must be 'mip' or 'lagrangian', got {self.strategy!r}.")
        if self.strategy == "lagrangian":
            bad = [name for name, on in [
                ("objective", self.objective != "min_cost"), ("single_source", self.single_source),
                ("p", self.p is not None), ("min_coverage", self.min_coverage is not None),
                ("budget", self.budget is not None), ("max_new", self.max_new is not None),
                ("max_new_cost", self.max_new_cost is not None), ("max_per_region", self.max_per_region is not None),
            ] if on]
            if bad:
                raise SettingsError(f"strategy='lagrangian' solves objective='min_cost' with split demand and every "
                                    f"outlet served; it does not support {bad}. Use strategy='mip'.")
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
        if self.objective in ("max_coverage", "set_cover") and self.max_distance is None:
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
        dists = net._need_distributors()
        net._need_outlets()
        m = len(dists)
        ids = set(net.distributor_ids.tolist())
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
        if self.p is not None:
            if self.p > available:
                raise SettingsError(f"p={self.p} is larger than the {available} candidate distributors available "
                                    f"({m} candidates, {int(excluded.sum())} excluded); lower p.")
            if forced.sum() > self.p:
                raise SettingsError(f"p={self.p} is smaller than the {int(forced.sum())} distributors that must stay "
                                    f"open (keep + existing); raise p or set keep_existing=False.")
        new_forced = forced & ~dists["existing"].to_numpy(dtype=bool)
        if self.max_new is not None and new_forced.sum() > self.max_new:
            raise SettingsError(f"max_new={self.max_new} is below the {int(new_forced.sum())} new distributors in "
                                f"keep; raise max_new or shorten keep.")
        fixed = dists["fixed_cost"].to_numpy(dtype=float)
        if self.budget is not None and fixed[forced].sum() > self.budget + 1e-9:
            raise InfeasibleError(f"budget={self.budget:,.6g} is below the fixed cost {fixed[forced].sum():,.6g} of "
                                  f"the distributors that must stay open; raise budget or release some.",
                                  reasons=["budget below forced fixed cost"])
        if self.max_new_cost is not None and fixed[new_forced].sum() > self.max_new_cost + 1e-9:
            raise InfeasibleError(f"max_new_cost={self.max_new_cost:,.6g} is below the fixed cost "
                                  f"{fixed[new_forced].sum():,.6g} of the new distributors in keep.",
                                  reasons=["max_new_cost below kept new signings"])
        if self._serve_all():
            allowed = self._allowed(net, sparse=False)
            unreachable = np.flatnonzero(~allowed.any(axis=1))
            if len(unreachable):
                out_ids = net.outlet_ids[unreachable].tolist()
                raise InfeasibleError(
                    f"outlets {format_ids(out_ids)} cannot be served by any allowed distributor "
                    f"(channel compatibility, max_distance={self.max_distance}, exclusions); "
                    f"raise max_distance, add candidates or set min_coverage to allow unserved outlets.",
                    reasons=[f"{len(out_ids)} unreachable outlets: {format_ids(out_ids)}"],
                )
            if self.p is not None:
                need = _min_distributors_for_channels(net, excluded, forced)
                if need is not None and need > self.p:
                    raise InfeasibleError(
                        f"serving every outlet needs at least {need} distributors to carry all channel types "
                        f"{net.channels} (channel compatibility; {int(forced.sum())} must stay open: keep + "
                        f"existing), but p={self.p}; raise p, set keep_existing=False, add full-line candidates, "
                        f"or set min_coverage to allow unserved outlets.",
                        reasons=[f"channels need at least {need} distributors"])
            if self.capacitated:
                demand = net.outlets["demand"].to_numpy(dtype=float)
                capacity = dists["capacity"].to_numpy(dtype=float)
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
                    cap_ok = allowed & (capacity[None, :] >= demand[:, None] - 1e-9)
                    over = np.flatnonzero(~cap_ok.any(axis=1))
                    if len(over):
                        raise InfeasibleError(
                            f"outlets {format_ids(net.outlet_ids[over])} each need more than the capacity of every "
                            f"distributor allowed to serve them, under single sourcing; allow split demand "
                            f"(single_source=False) or add capacity.", reasons=["outlet demand above capacity"])

    def _excluded(self, net) -> np.ndarray:
        return net.distributors["distributor_id"].isin(list(self.exclude or [])).to_numpy()

    def _forced_open(self, net) -> np.ndarray:
        dists = net.distributors
        forced = dists["distributor_id"].isin(list(self.keep or [])).to_numpy()
        if self.keep_existing:
            forced = forced | dists["existing"].to_numpy(dtype=bool)
        return forced & ~self._excluded(net)

    def _distance_matrix(self, net) -> np.ndarray:
        try:
            return net.distances()
        except SettingsError:
            if self.max_distance is not None or self.objective == "p_center":
                raise
            return net.costs()

    def _allowed(self, net, *, sparse: bool = True) -> np.ndarray:
        """Links (outlet, distributor) the model may use; sparse candidates applied when asked."""
        cost = net.costs()
        allowed = net.compatibility & np.isfinite(cost)
        if self.max_distance is not None:
            allowed &= self._distance_matrix(net) <= self.max_distance
        allowed[:, self._excluded(net)] = False
        k, radius = parse_candidates(self.candidates)
        if sparse and (k is not None or radius is not None):
            allowed = sparsify(allowed, self._distance_matrix(net), k, radius)
        return allowed

    # ------------------------------------------------------------------ build
    def _build(self, net, prob: pulp.LpProblem, allowed: np.ndarray | None = None) -> dict[str, Any]:
        # ``allowed`` narrows the links (and closes distributors without any): the lagrangian strategy
        narrowed = allowed is not None
        allowed = self._allowed(net) if allowed is None else allowed
        n, m = allowed.shape
        outlets, dists = net.outlets, net.distributors
        demand = outlets["demand"].to_numpy(dtype=float)
        potential = outlets["potential"].to_numpy(dtype=float)
        capacity = dists["capacity"].to_numpy(dtype=float)
        fixed = dists["fixed_cost"].to_numpy(dtype=float)
        existing = dists["existing"].to_numpy(dtype=bool)
        forced = self._forced_open(net)
        excluded = self._excluded(net)
        oi, dj = np.nonzero(allowed)
        cost = net.costs()[oi, dj]
        serve_all = self._serve_all()
        if narrowed:
            # a distributor the narrowing left without links can only add fixed cost: keep it closed
            excluded = excluded | (~allowed.any(axis=0) & ~forced)

        y = np.empty(m, dtype=object)
        add = prob.add_variable
        for j, (lo, hi) in enumerate(zip(forced.tolist(), (~excluded).tolist())):
            # LpInteger, not LpBinary: PuLP resets a binary's bounds to [0, 1], losing keep/exclude
            y[j] = add(f"y_{j}", 1 if lo else 0, 1 if hi else 0, pulp.LpInteger)

        x = z = w_var = None
        if self._uses_assignment():
            cat = pulp.LpBinary if self.single_source else pulp.LpContinuous
            x = new_vars(prob, "x", len(oi), low=0.0, up=1.0, cat=cat)
            if serve_all:
                add_grouped_rows(prob, x, None, oi, n, "==", 1.0, "assign")
            else:
                # an outlet is served whole or not at all: z_i = sum_j x_ij, z binary
                z = new_vars(prob, "z", n, low=0.0, up=1.0, cat=pulp.LpBinary)
                add_grouped_rows(prob, x, None, oi, n, "==", 0.0, "assign", extra_vars=z, extra_coefs=-1.0)
            if self.linking == "strong":
                y_of = y[dj].tolist()
                le, con, expr, add_con = (pulp.LpConstraintLE, pulp.LpConstraint, pulp.LpAffineExpression,
                                          prob.addConstraint)
                for k, (xk, yk) in enumerate(zip(x.tolist(), y_of)):
                    add_con(con(expr([(xk, 1.0), (yk, -1.0)]), le, f"link_{k}", 0.0))
            else:
                counts = np.bincount(dj, minlength=m).astype(float)
                add_grouped_rows(prob, x, None, dj, m, "<=", 0.0, "wlink", extra_vars=y, extra_coefs=-counts)
            if self.capacitated:
                finite = np.flatnonzero(np.isfinite(capacity))
                group_of = np.full(m, -1)
                group_of[finite] = np.arange(len(finite))
                sel = group_of[dj] >= 0
                add_grouped_rows(prob, x[sel], demand[oi[sel]], group_of[dj[sel]], len(finite), "<=", 0.0, "cap",
                                 extra_vars=y[finite], extra_coefs=-capacity[finite])
                if serve_all:
                    self._add_capacity_cuts(prob, y, capacity, demand, excluded)
            if self.objective == "p_center":
                dist = self._distance_matrix(net)[oi, dj]
                w_var = add("max_distance", 0.0, None, pulp.LpContinuous)
                add_grouped_rows(prob, x, dist, oi, n, "<=", 0.0, "radius", extra_vars=[w_var] * n,
                                 extra_coefs=-1.0)
            if self.max_per_region is not None:
                self._add_region_cap(net, prob, x, oi, dj, m)
        else:
            if serve_all:  # set_cover: every outlet within reach of an open distributor
                add_grouped_rows(prob, y[dj], None, oi, n, ">=", 1.0, "cover")
            else:
                z = new_vars(prob, "z", n, low=0.0, up=1.0)
                add_grouped_rows(prob, y[dj], -1.0, oi, n, "<=", 0.0, "cover", extra_vars=z, extra_coefs=1.0)

        spec = self._coverage_spec()
        if spec is not None and z is not None:
            self._add_coverage_floor(net, prob, z, spec)
        if self.p is not None:
            add_row(prob, y, None, "==", float(self.p), "p")
        if self.budget is not None:
            add_row(prob, y, fixed, "<=", float(self.budget), "budget")
        new = ~existing
        if self.max_new is not None:
            add_row(prob, y[new], None, "<=", float(self.max_new), "max_new")
        if self.max_new_cost is not None:
            add_row(prob, y[new], fixed[new], "<=", float(self.max_new_cost), "max_new_cost")

        obj = self.objective
        if obj == "min_cost":
            prob.setObjective(linear(np.concatenate([x, y]), np.concatenate([cost, fixed])))
        elif obj == "p_median":
            prob.setObjective(linear(x, cost))
        elif obj == "p_center":
            prob.setObjective(linear([w_var], [1.0]))
        elif obj == "set_cover":
            prob.setObjective(linear(y, fixed if self.set_cover_cost == "fixed_cost" else None))
        else:
            weight = demand if self.coverage_weight == "demand" else potential
            prob.setObjective(linear(z, weight))
        return {"oi": oi, "dj": dj, "x": x, "y": y, "z": z, "cost": cost, "demand": demand,
                "capacity": capacity, "fixed": fixed, "forced": forced, "excluded": excluded,
                "existing": existing, "n": n, "m": m, "w": w_var}

    @staticmethod
    def _add_capacity_cuts(prob, y, capacity, demand, excluded) -> None:
        """Valid rows when all demand is served: open capacity covers it, so at least k open.

        The LP relaxation opens fractions (load / capacity); these rows let the solver see
        that a whole k distributors are needed. Measured on OR-Library capa@8000 (50,886
        units, capacities 8,000): the root bound of the plain model sits 2.2% below the
        optimum, which the count row (>= 7 open) largely closes.
        """
        usable = ~excluded
        cap = capacity[usable]
        if not len(cap) or not np.isfinite(cap).all():
            return
        total = float(demand.sum())
        add_row(prob, y[usable], cap, ">=", total * (1 - 1e-9), "capacity_total")
        ordered = np.cumsum(np.sort(cap)[::-1])
        k_min = int(np.searchsorted(ordered, total * (1 - 1e-9))) + 1
        if 1 < k_min <= len(cap):
            add_row(prob, y[usable], None, ">=", float(k_min), "min_open")

    def _add_region_cap(self, net, prob, x, oi, dj, m) -> None:
        # u_rj = 1 when distributor j serves any outlet of region r; sum_j u_rj <= max_per_region
        region = net.outlet_region_index[oi]
        key = region.astype(np.int64) * m + dj
        pairs, group = np.unique(key, return_inverse=True)
        u = new_vars(prob, "u", len(pairs), low=0.0, up=1.0, cat=pulp.LpBinary)
        size = np.bincount(group, minlength=len(pairs)).astype(float)
        add_grouped_rows(prob, x, None, group, len(pairs), "<=", 0.0, "use", extra_vars=u, extra_coefs=-size)
        pair_region = pairs // m
        n_regions = len(net.region_ids)
        add_grouped_rows(prob, u, None, pair_region, n_regions, "<=", float(self.max_per_region), "per_region")

    def _add_coverage_floor(self, net, prob, z, spec) -> None:
        value, measure, by = spec
        outlets = net.outlets
        weight = np.ones(len(outlets)) if measure == "numeric" else outlets["potential"].to_numpy(dtype=float)
        if by == "overall":
            groups = np.zeros(len(outlets), dtype=np.int64)
        else:
            col = outlets["region_id"] if by == "region" else outlets["channel"]
            groups = pd.factorize(col)[0]
        n_groups = int(groups.max()) + 1 if len(groups) else 0
        rhs = value * np.bincount(groups, weights=weight, minlength=n_groups)
        add_grouped_rows(prob, z, weight, groups, n_groups, ">=", rhs - 1e-9 * np.maximum(rhs, 1.0),
                         f"coverage_{by}")

    # ------------------------------------------------------------------ lagrangian strategy
    def _solve_lagrangian(self, net, solver: Solver) -> Plan:
        """Bound by Lagrangian relaxation, plan by rounding, then the MIP on the distributors left."""
        if not isinstance(solver, Solver):
            raise TypeError(f"solver must be a channelopt.Solver, got {type(solver).__name__}.")
        t_start = time.perf_counter()
        self._check(net)
        allowed = self._allowed(net)
        oi, dj = np.nonzero(allowed)
        n, m = allowed.shape
        cost = net.costs()[oi, dj]
        demand = net.outlets["demand"].to_numpy(dtype=float)
        capacity = net.distributors["capacity"].to_numpy(dtype=float)
        if not self.capacitated:
            capacity = np.full(m, np.inf)
        fixed = net.distributors["fixed_cost"].to_numpy(dtype=float)
        forced, closed = self._forced_open(net), self._excluded(net)
        limit = solver.time_limit
        # the bound gets a quarter of the time limit (a minute without one); the MIP the rest
        lag_seconds = 60.0 if limit is None else max(0.25 * limit, 1.0)
        arrays = (oi, dj, cost, demand, capacity, fixed)

        t0 = time.perf_counter()
        lag = heur.lagrangian_bound(*arrays, forced=forced, closed=closed, iterations=150, seconds=lag_seconds / 2)
        lag_time = time.perf_counter() - t0
        t0 = time.perf_counter()
        best = self._round_plan(net, arrays, forced, closed, lag.y_mean, solver)
        round_time = time.perf_counter() - t0
        if best is None:
            raise NoSolutionError("strategy='lagrangian' found no plan by rounding its bound (the transportation LP "
                                  "stayed infeasible with every distributor open); check capacities against "
                                  "demand near each outlet, widen candidates, or use strategy='mip'.")
        t0 = time.perf_counter()
        lag = heur.lagrangian_bound(*arrays, upper=best["objective"], forced=forced, closed=closed,
                                    start=lag.multipliers, iterations=400, seconds=lag_seconds / 2)
        lag_time += time.perf_counter() - t0
        t0 = time.perf_counter()
        second = self._round_plan(net, arrays, forced, closed, lag.y_mean, solver)
        if second is not None and second["objective"] < best["objective"]:
            best = second
        if _rel_gap(best["objective"], lag.bound) > solver.mip_gap:
            best = self._improve(arrays, best, forced, closed, lag.y_mean, solver, seconds=lag_seconds / 2,
                                 good_enough=lag.bound / (1 - solver.mip_gap) if solver.mip_gap else -np.inf)
        round_time += time.perf_counter() - t0
        upper, lower = best["objective"], lag.bound
        stages = {"lagrangian": {"bound": lower, "iterations": lag.iterations, "seconds": lag_time},
                  "rounding": {"objective": upper, "open": int(best["open"].sum()),
                               "gap": _rel_gap(upper, lower), "seconds": round_time}}
        log.info("lagrangian: bound %.6g, rounded plan %.6g (gap %.3g%%)", lower, upper,
                 100 * _rel_gap(upper, lower))

        if _rel_gap(upper, lower) <= solver.mip_gap + 1e-12:
            info = SolveInfo(solver.name, "optimal", "optimal", objective=upper, bound=lower,
                             gap=_rel_gap(upper, lower), n_variables=len(oi) + m, n_constraints=n + m)
            return self._finish_lagrangian(net, best, None, None, info, stages, t_start, solver)

        # A distributor whose opening alone lifts the bound above the plan in hand is closed in
        # every plan at least as good, so the MIP without it has the same optimum and its bound
        # holds for the full model.
        slack = upper - lower
        shut = (lag.open_penalty > slack + 1e-9 * max(1.0, abs(upper))) & ~best["open"]
        narrowed = allowed & ~shut[None, :]
        t0 = time.perf_counter()
        prob = pulp.LpProblem(self.kind, self.sense)
        state = self._build(net, prob, allowed=narrowed)
        build_seconds = time.perf_counter() - t0
        start = dict(zip(state["y"].tolist(), best["open"].astype(float).tolist()))
        share = np.zeros((n, m)) if n * m <= 5e7 else None
        if share is not None:
            share[best["oi"], best["dj"]] = best["share"]
            start.update(zip(state["x"].tolist(), share[state["oi"], state["dj"]].tolist()))
        else:
            key = pd.Series(best["share"], index=best["oi"].astype(np.int64) * m + best["dj"])
            xs = key.reindex(state["oi"].astype(np.int64) * m + state["dj"]).fillna(0.0).to_numpy()
            start.update(zip(state["x"].tolist(), xs.tolist()))
        remaining = None if limit is None else max(limit - (time.perf_counter() - t_start), 1.0)
        mip_solver = dataclasses.replace(solver, time_limit=remaining)
        info = mip_solver.solve(prob, warm_start=start)
        info.build_seconds = build_seconds
        stages["mip"] = {"distributors": int((~state["excluded"]).sum()), "closed_by_bound": int(shut.sum()),
                         "links": len(state["oi"]), "status": info.status, "objective": info.objective,
                         "bound": info.bound, "seconds": info.seconds}
        mip_bound = info.bound if math.isfinite(info.bound) else -math.inf
        if not info.has_solution or info.objective >= upper - 1e-9 * max(1.0, abs(upper)):
            info.objective = upper
            use_mip = False
        else:
            use_mip = True
        info.bound = max(lower, min(mip_bound, info.objective))
        info.gap = _rel_gap(info.objective, info.bound)
        info.status = "optimal" if info.gap <= solver.mip_gap + 1e-9 else "feasible"
        return self._finish_lagrangian(net, best, state if use_mip else None, prob, info, stages, t_start, solver)

    def _finish_lagrangian(self, net, best, state, prob, info, stages, t_start, solver) -> Plan:
        if state is not None:
            plan = self._extract(net, state, info)
        else:
            plan = selection_plan(net, best["oi"], best["dj"], best["share"], best["open"].astype(float), info,
                                  self.kind, max_distance=self.max_distance)
            plan.metrics.overall["selection_objective"] = self.objective
        info.seconds = time.perf_counter() - t_start
        if not math.isfinite(info.build_seconds):
            info.build_seconds = 0.0
        info.message = (f"strategy='lagrangian': bound {info.bound:,.6g} holds for the full model "
                        f"(Lagrangian {stages['lagrangian']['bound']:,.6g}"
                        + (f", MIP on {stages['mip']['distributors']} distributors" if "mip" in stages else "")
                        + ")")
        # one row per step (lagrangian, rounding, mip); plan.stages is for sub-plans, not numbers
        plan.tables["solve_steps"] = pd.DataFrame(
            [{"step": name, **values} for name, values in stages.items()],
            columns=["step", "objective", "bound", "gap", "seconds", "iterations", "open", "distributors",
                     "closed_by_bound", "links", "status"])
        plan.settings = {"model": type(self).__name__, **self.get_params(), "solver": solver.to_dict()}
        if info.status != "optimal":
            warnings.warn(f"{type(self).__name__} plan is {info.status}, not proven optimal: gap {info.gap:.2%}.",
                          NotOptimalWarning, stacklevel=3)
        return plan

    def _round_plan(self, net, arrays, forced, closed, score, solver) -> dict | None:
        """Open the distributors the bound favours until the transportation LP serves everyone."""
        oi, dj, cost, demand, capacity, fixed = arrays
        n, m = len(demand), len(capacity)
        total = float(demand.sum())
        cap = np.where(np.isfinite(capacity), capacity, total)
        free = ~forced & ~closed
        # ones the relaxation opens at least half the time first, then by score, cheaper per unit on ties
        order = np.flatnonzero(free)
        order = order[np.lexsort((fixed[order] / np.maximum(cap[order], 1e-12), -score[order]))]
        rank = np.full(m, m, dtype=np.int64)
        rank[order] = np.arange(len(order))
        rank[forced] = -1
        first_reach = np.full(n, m, dtype=np.int64)
        np.minimum.at(first_reach, oi, rank[dj])
        cum = cap[forced].sum() + np.cumsum(cap[order])
        k = max(int(np.searchsorted(cum, total * (1 + 1e-9))) + 1, int(first_reach.max()) + 1,
                int((score[order] >= 0.5).sum()))
        step = max(1, len(order) // 20)
        while True:
            is_open = forced.copy()
            is_open[order[:k]] = True
            plan = self._transport(arrays, is_open, solver)
            if plan is not None:
                # a distributor the LP left idle only costs its fixed fee
                idle = is_open & ~forced & (np.bincount(plan["dj"], weights=plan["share"], minlength=m) <= 1e-9)
                plan["open"] = is_open & ~idle
                plan["objective"] = plan["service"] + float(fixed[plan["open"]].sum())
                return plan
            if k >= len(order):
                return None
            k = min(k + step, len(order))

    def _improve(self, arrays, plan, forced, closed, score, solver, seconds: float,
                 good_enough: float = -np.inf) -> dict:
        """Local search on the open set: drop one, or add one, each move priced by the transportation LP.

        Drops go by fixed cost per unit carried (dearest first), adds by how often the
        relaxation opened them; a move that lowers the cost is kept.
        """
        oi, dj, cost, demand, capacity, fixed = arrays
        m = len(capacity)
        total = float(demand.sum())
        cap = np.where(np.isfinite(capacity), capacity, total)
        deadline = time.perf_counter() + seconds
        tried: set[tuple[str, int]] = set()
        best = plan
        while time.perf_counter() < deadline and best["objective"] > good_enough:
            is_open = best["open"]
            load = np.bincount(best["dj"], weights=best["share"] * demand[best["oi"]], minlength=m)
            drops = np.flatnonzero(is_open & ~forced)
            drops = drops[np.argsort(-fixed[drops] / np.maximum(load[drops], 1e-9), kind="stable")]
            adds = np.flatnonzero(~is_open & ~closed)
            adds = adds[np.argsort(-score[adds], kind="stable")]
            moves = [("drop", int(j)) for j in drops if ("drop", int(j)) not in tried][:1]
            moves += [("add", int(j)) for j in adds if ("add", int(j)) not in tried][:1]
            if not moves:
                break
            improved = False
            for kind, j in moves:
                tried.add((kind, j))
                trial = is_open.copy()
                trial[j] = kind == "add"
                if cap[trial].sum() < total * (1 - 1e-9):
                    continue
                cand = self._transport(arrays, trial, solver)
                if cand is None:
                    continue
                cand["open"] = trial & ~(~forced & (np.bincount(cand["dj"], weights=cand["share"],
                                                                 minlength=m) <= 1e-9))
                cand["objective"] = cand["service"] + float(fixed[cand["open"]].sum())
                if cand["objective"] < best["objective"] - 1e-9 * abs(best["objective"]):
                    best, improved = cand, True
                    break
            if improved:
                # the neighbourhood changed: earlier rejections may now pay
                tried.clear()
        return best

    def _transport(self, arrays, is_open, solver) -> dict | None:
        """Cheapest split assignment to the open distributors (an LP), or None when infeasible."""
        oi, dj, cost, demand, capacity, _ = arrays
        n = len(demand)
        keep = is_open[dj]
        o, d, c = oi[keep], dj[keep], cost[keep]
        if np.bincount(o, minlength=n).min(initial=1) == 0:
            return None
        prob = pulp.LpProblem("transport", pulp.LpMinimize)
        x = new_vars(prob, "x", len(o), low=0.0, up=1.0)
        add_grouped_rows(prob, x, None, o, n, "==", 1.0, "assign")
        finite = np.flatnonzero(np.isfinite(capacity) & is_open)
        if len(finite):
            group_of = np.full(len(capacity), -1)
            group_of[finite] = np.arange(len(finite))
            sel = group_of[d] >= 0
            add_grouped_rows(prob, x[sel], demand[o[sel]], group_of[d[sel]], len(finite), "<=", capacity[finite],
                             "cap")
        prob.setObjective(linear(x, c))
        info = Solver(solver.name, threads=solver.threads).solve(prob)
        if info.status != "optimal":
            return None
        share = values(x)
        used = share > 1e-9
        return {"oi": o[used], "dj": d[used], "share": share[used], "service": float(info.objective)}

    # ------------------------------------------------------------------ warm start
    def _warm_start(self, net, state: dict[str, Any]) -> dict | None:
        # A complete start only: partial starts make HiGHS 1.16 report wrong objectives
        # (measured on cap131), so a start we cannot complete is no start.
        oi, dj, n, m = state["oi"], state["dj"], state["n"], state["m"]
        if float(self.heuristic_seconds) <= 0 or self.max_per_region is not None:
            return None
        dense = np.full((n, m), np.inf)
        dense[oi, dj] = net.costs()[oi, dj]
        forced, closed = state["forced"], state["excluded"]
        obj = self.objective
        secs = float(self.heuristic_seconds)
        if obj in ("min_cost", "p_median") and not self.capacitated:
            is_open = heur.greedy_median(dense, p=self.p, fixed=state["fixed"] if obj == "min_cost" else None,
                                         forced=forced, closed=closed, seconds=secs)
        elif obj in ("min_cost", "p_median"):
            is_open = heur.greedy_capacitated(dense, state["demand"], state["capacity"],
                                              state["fixed"] if obj == "min_cost" else np.zeros(m),
                                              forced=forced, closed=closed, p=self.p)
        elif obj == "p_center":
            dist = np.full((n, m), np.inf)
            dist[oi, dj] = self._distance_matrix(net)[oi, dj]
            is_open = heur.greedy_median(dist, p=self.p, forced=forced, closed=closed, seconds=secs / 2)
        else:
            cover = np.zeros((n, m), dtype=bool)
            cover[oi, dj] = True
            weight = state["demand"] if self.coverage_weight == "demand" else net.outlets["potential"].to_numpy(float)
            is_open = heur.greedy_cover(cover, weight, p=self.p, budget=self.budget, fixed=state["fixed"],
                                        forced=forced, closed=closed, full=obj == "set_cover")
        if self.p is not None and is_open.sum() != self.p:
            return None
        start = dict(zip(state["y"].tolist(), is_open.astype(float).tolist()))
        reach = np.zeros(n, dtype=bool)
        np.logical_or.at(reach, oi, is_open[dj])
        if state["x"] is not None:
            cap = state["capacity"] if self.capacitated else np.full(m, np.inf)
            demand = state["demand"].copy()
            # outlets the start leaves unserved (allowed only when service is optional) need no room
            if not self._serve_all():
                demand[~reach] = 0.0
            share = heur.assign_greedy(dense, demand, cap, is_open, single_source=self.single_source)
            if share is None:
                return None
            xs = share[oi, dj]
            if not self._serve_all():
                xs[~reach[oi]] = 0.0
            served = np.bincount(oi, weights=xs, minlength=n) > 0.5
            if self._serve_all() and not served.all():
                return None
            start.update(zip(state["x"].tolist(), xs.tolist()))
            if state["z"] is not None:
                start.update(zip(state["z"].tolist(), served.astype(float).tolist()))
            if state.get("w") is not None:
                dist = self._distance_matrix(net)[oi, dj]
                start[state["w"]] = float(np.bincount(oi, weights=xs * dist, minlength=n).max())
        elif state["z"] is not None:
            start.update(zip(state["z"].tolist(), reach.astype(float).tolist()))
        return start

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
                reasons.append(f"max_distance={self.max_distance} ties outlets to distributors whose capacity "
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
        yval = values(state["y"])
        nearest = state["x"] is None or (self.objective == "p_center" and not self.capacitated
                                         and self.max_per_region is None)
        if not nearest:
            xval = values(state["x"])
        else:
            # no link variables (coverage models), or a p-center optimum that may split an outlet
            # between links: each served outlet goes whole to its nearest open allowed distributor
            is_open = np.round(np.nan_to_num(yval)) > 0.5
            served = np.ones(state["n"], dtype=bool)
            if state["x"] is not None and state["z"] is not None:
                served = values(state["z"]) > 0.5
            live = np.flatnonzero(is_open[dj] & served[oi])
            key = self._distance_matrix(net)[oi, dj] if self.objective == "p_center" else state["cost"]
            order = live[np.lexsort((key[live], oi[live]))]
            first = np.ones(len(order), dtype=bool)
            first[1:] = oi[order][1:] != oi[order][:-1]
            xval = np.zeros(len(oi))
            xval[order[first]] = 1.0
        plan = selection_plan(net, oi, dj, xval, yval, info, self.kind, max_distance=self.max_distance)
        overall = plan.metrics.overall
        overall["selection_objective"] = self.objective
        if self.objective == "max_coverage":
            w = state["demand"] if self.coverage_weight == "demand" else net.outlets["potential"].to_numpy(float)
            overall["covered_weight"] = float(w[plan.assignments["covered"].to_numpy(dtype=bool)].sum())
        return plan


def _rel_gap(objective: float, bound: float) -> float:
    """Relative gap as the solver reports it: ``(objective - bound) / |objective|``."""
    if not (math.isfinite(objective) and math.isfinite(bound)):
        return math.nan
    return max(objective - bound, 0.0) / max(abs(objective), 1e-10)


def selection_plan(net, oi, dj, xval, yval, info: SolveInfo, kind: str, max_distance=None) -> Plan:
    """Plan of a distributor selection from link values (shared by every objective)."""
    outlets = net.outlets
    dists = net.distributors
    n, m = len(outlets), len(dists)
    xval = np.clip(np.nan_to_num(xval), 0.0, 1.0)
    keep = xval > 1e-6
    cost_all = net.costs()
    try:
        dist_all = net.distances()
    except SettingsError:
        dist_all = None
    links = pd.DataFrame({
        "outlet_id": net.outlet_ids[oi[keep]],
        "distributor_id": net.distributor_ids[dj[keep]],
        "share": xval[keep],
        "cost": cost_all[oi[keep], dj[keep]] * xval[keep],
    })
    if dist_all is not None:
        links["distance"] = dist_all[oi[keep], dj[keep]]
    share_sum = np.bincount(oi[keep], weights=xval[keep], minlength=n)
    # main distributor: the largest share per outlet
    order = np.lexsort((-xval[keep], oi[keep]))
    first = np.ones(len(order), dtype=bool)
    first[1:] = oi[keep][order][1:] != oi[keep][order][:-1]
    main_rows = order[first]
    main = np.full(n, None, dtype=object)
    main_share = np.zeros(n)
    main[oi[keep][main_rows]] = net.distributor_ids[dj[keep][main_rows]]
    main_share[oi[keep][main_rows]] = xval[keep][main_rows]
    n_links = np.bincount(oi[keep], minlength=n)
    covered = share_sum > 0.5
    assignments = pd.DataFrame({
        "outlet_id": net.outlet_ids,
        "region_id": outlets["region_id"].to_numpy(),
        "channel": outlets["channel"].to_numpy(),
        "potential": outlets["potential"].to_numpy(dtype=float),
        "distributor_id": main,
        "share": main_share,
        "n_distributors": n_links,
        "cost": np.bincount(oi[keep], weights=links["cost"].to_numpy(), minlength=n),
        "covered": covered,
    })
    if dist_all is not None:
        d = np.full(n, np.nan)
        d[oi[keep][main_rows]] = dist_all[oi[keep][main_rows], dj[keep][main_rows]]
        assignments["distance"] = d
    demand = outlets["demand"].to_numpy(dtype=float)
    load = np.bincount(dj[keep], weights=demand[oi[keep]] * xval[keep], minlength=m)
    is_open = np.round(np.nan_to_num(yval)) > 0.5
    capacity = dists["capacity"].to_numpy(dtype=float)
    table = pd.DataFrame({
        "distributor_id": net.distributor_ids,
        "open": is_open,
        "existing": dists["existing"].to_numpy(dtype=bool),
        "fixed_cost": dists["fixed_cost"].to_numpy(dtype=float),
        "capacity": capacity,
        "load": load,
        "utilisation": np.where(np.isfinite(capacity) & (capacity > 0),
                                load / np.where(capacity > 0, capacity, 1), np.nan),
        "outlets_served": np.bincount(dj[keep], minlength=m),
        "service_cost": np.bincount(dj[keep], weights=links["cost"].to_numpy(), minlength=m),
    })
    if "region_id" in dists.columns:
        table.insert(1, "region_id", dists["region_id"].to_numpy())
    metrics = coverage_metrics(outlets, covered, net.region_ids, served_by=links)
    fixed_total = float(table.loc[table["open"], "fixed_cost"].sum())
    service_total = float(links["cost"].sum())
    open_tab = table[table["open"]]
    metrics.overall.update({
        "open_distributors": int(is_open.sum()),
        "new_signings": int((is_open & ~table["existing"].to_numpy()).sum()),
        "fixed_cost": fixed_total,
        "service_cost": service_total,
        "total_cost": fixed_total + service_total,
        "cost_per_covered_outlet": (fixed_total + service_total) / covered.sum() if covered.any() else float("nan"),
        "max_utilisation": float(open_tab["utilisation"].max()) if len(open_tab) else float("nan"),
        "load_cv": float(open_tab["load"].std(ddof=0) / open_tab["load"].mean())
        if len(open_tab) and open_tab["load"].mean() > 0 else float("nan"),
    })
    if dist_all is not None and covered.any():
        metrics.overall["mean_distance"] = float(np.nanmean(assignments.loc[covered, "distance"]))
        metrics.overall["max_distance"] = float(np.nanmax(assignments.loc[covered, "distance"]))
    metrics.by_distributor = table.set_index("distributor_id")
    if max_distance is not None:
        metrics.overall["max_distance_limit"] = float(max_distance)
    return Plan(kind=kind, info=info, assignments=assignments, metrics=metrics,
                tables={"distributors": table, "links": links}, network=net)


def _min_distributors_for_channels(net, excluded: np.ndarray, forced: np.ndarray,
                                   max_channels: int = 12) -> int | None:
    """Fewest open distributors (the ``forced`` ones included) whose portfolios cover every channel present.

    Breadth-first search over channel masks; ``None`` when there are too many channel
    types for that to be cheap (the solver then finds any conflict itself).
    """
    channels = net.outlets["channel"].to_numpy()
    kinds = pd.unique(channels)
    if len(kinds) > max_channels:
        return None
    first = [int(np.flatnonzero(channels == c)[0]) for c in kinds]
    compat = net.compatibility[first]  # one representative outlet per channel

    def mask(j: int) -> int:
        return int(sum(1 << b for b in np.flatnonzero(compat[:, j])))

    start = 0
    for j in np.flatnonzero(forced):
        start |= mask(j)
    masks = {mask(j) for j in np.flatnonzero(~excluded & ~forced)}
    masks.discard(0)
    full = (1 << len(kinds)) - 1
    base = int(forced.sum())
    frontier, seen, steps = {start}, {start}, 0
    while frontier:
        if full in frontier:
            return base + steps
        steps += 1
        frontier = {f | m for f in frontier for m in masks} - seen
        seen |= frontier
    return None
