"""BudgetAllocation: split a budget over region x channel x activity cells, exactly, as a MILP.

Each cell has a response curve. The curves are replaced by piecewise-linear (PWL)
approximations whose error is bounded by ``pwl_tol``; concave curves need no
binaries (the segments fill in order by themselves), S-shaped ones get one binary per
rising segment so that segments fill in order. Activation costs, minimum spend if
active, discrete spend levels and breadth targets add binaries per cell or per region.
"""

from __future__ import annotations

import heapq
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pulp

from .._arrays import ArrayProblem, VarBlock
from ..exceptions import InfeasibleError, SettingsError, ValidationError, format_ids
from ..metrics import Metrics, coverage_metrics
from ..plan import Plan
from ..response import ResponseCurve, as_curve
from ..solver import SolveInfo, Solver
from ._base import Model
from ._pwl import approximate

__all__ = ["BudgetAllocation", "cells_from_network"]

log = logging.getLogger(__name__)


_OPTIONAL = {"channel": "", "activity": "", "min_spend": 0.0, "max_spend": math.inf, "fixed_cost": 0.0}


def _share(name: str, value) -> float | None:
    if value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{name} must be a share in (0, 1], got {value!r}.") from None
    if not 0 < v <= 1:
        raise SettingsError(f"{name} must be a share in (0, 1], got {value!r} (0.8 means 80%).")
    return v


def _bounds_map(name: str, value, known: Sequence, what: str) -> dict:
    """``{key: amount}`` from a mapping or a scalar applying to every key."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        unknown = [k for k in value if k not in set(known)]
        if unknown:
            raise SettingsError(f"{name} names {what} {format_ids(unknown)} that no cell has; known: "
                                f"{format_ids(known)}.")
        out = dict(value)
    else:
        out = dict.fromkeys(known, value)
    for k, v in out.items():
        try:
            fv = float(v)
        except (TypeError, ValueError):
            raise SettingsError(f"{name}[{k!r}] must be a number, got {v!r}.") from None
        if not fv >= 0 or math.isnan(fv):
            raise SettingsError(f"{name}[{k!r}] must be non-negative, got {v!r}.")
        out[k] = fv
    return out


class _Cells:
    """Validated cells with their arrays (built twice: in the checks and in the build)."""

    def __init__(self, model: BudgetAllocation, net) -> None:
        cells = model.cells
        if cells is None:
            raise SettingsError("BudgetAllocation needs cells: a DataFrame with region_id, channel, activity and "
                                "curve columns (see cells_from_network to make them from a ChannelNetwork).")
        if not isinstance(cells, pd.DataFrame):
            raise SettingsError(f"cells must be a pandas DataFrame, got {type(cells).__name__}.")
        missing = [c for c in ("region_id", "curve") if c not in cells.columns]
        if missing:
            raise ValidationError(f"cells lack column(s) {missing}; each cell needs a region_id and a response "
                                  f"curve (channel, activity, min_spend, max_spend, fixed_cost are optional).",
                                  column=missing[0])
        if not len(cells):
            raise ValidationError("cells is empty: give at least one region x channel x activity cell.")
        self.frame = cells
        n = self.n = len(cells)
        self.curves = [as_curve(c, f"cells.curve (row {i})") for i, c in enumerate(cells["curve"].tolist())]
        self.region = cells["region_id"].to_numpy()
        self.channel = (cells["channel"] if "channel" in cells else pd.Series([""] * n)).to_numpy()
        if pd.isna(pd.Series(self.region)).any():
            rows = np.flatnonzero(pd.isna(pd.Series(self.region)).to_numpy())
            raise ValidationError(f"cells rows {format_ids(rows)} have no region_id.", column="region_id", ids=rows)
        num = {}
        for col in ("min_spend", "max_spend", "fixed_cost"):
            raw = cells[col] if col in cells else pd.Series([_OPTIONAL[col]] * n)
            arr = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float).copy()
            arr[pd.isna(raw).to_numpy()] = _OPTIONAL[col]
            bad = np.flatnonzero(np.isnan(arr) | (arr < 0) | (np.isinf(arr) & (col != "max_spend")))
            if len(bad):
                raise ValidationError(f"cells.{col} must be a non-negative number (max_spend may be inf); rows "
                                      f"{format_ids(bad)} are not.", column=col, ids=bad)
            num[col] = arr
        self.min_spend, self.max_spend, self.fixed = num["min_spend"], num["max_spend"], num["fixed_cost"]
        clash = np.flatnonzero(self.min_spend > self.max_spend)
        if len(clash):
            i = clash[0]
            raise ValidationError(f"cells rows {format_ids(clash)} have min_spend above max_spend (row {i}: "
                                  f"{self.min_spend[i]:,.6g} > {self.max_spend[i]:,.6g}); lower min_spend or raise "
                                  f"max_spend.", column="min_spend", ids=clash)
        self.force = np.full(n, -1, dtype=np.int8)  # -1 free, 1 must be active, 0 must stay at zero
        if "active" in cells:
            act = cells["active"]
            known = act.notna().to_numpy()
            self.force[known] = act[known].astype(bool).to_numpy().astype(np.int8)
        total = model.total
        cap = np.minimum(self.max_spend, float(total)) if total is not None else self.max_spend.copy()
        cap[self.force == 0] = 0.0
        self.levels: list = [None] * n
        if "levels" in cells:
            for i, lv in enumerate(cells["levels"].tolist()):
                if lv is None or (np.ndim(lv) == 0 and pd.isna(lv)):
                    continue
                arr = np.unique(np.asarray(lv, dtype=float))
                if arr.size == 0 or not np.isfinite(arr).all() or (arr < 0).any():
                    raise ValidationError(f"cells.levels row {i} must list finite non-negative spends, got {lv!r}.",
                                          column="levels", ids=[i])
                arr = arr[(arr > 0) & (arr >= self.min_spend[i]) & (arr <= cap[i] + 1e-9)]
                self.levels[i] = arr
        inf_rows = np.flatnonzero(np.isinf(cap))
        if len(inf_rows):
            raise SettingsError(f"cells {format_ids(inf_rows)} have no max_spend and there is no total budget to "
                                f"cap them; give max_spend or total.")
        self.hi = cap
        self.is_level = np.array([lv is not None for lv in self.levels], dtype=bool)
        self.region_ids = list(pd.unique(self.region))
        self.channel_ids = list(pd.unique(self.channel))
        self.region_index = pd.Index(self.region_ids).get_indexer(self.region)
        self.channel_index = pd.Index(self.channel_ids).get_indexer(self.channel)
        if net is not None:
            unknown = sorted(set(self.region_ids) - set(net.region_ids.tolist()), key=str)
            if unknown:
                raise ValidationError(f"cells name regions {format_ids(unknown)} that the network does not have.",
                                      column="region_id", ids=unknown)
        # Breadth: the universe of regions, and (region, channel) groups with their weights.
        self.all_regions = list(net.region_ids) if net is not None else self.region_ids
        groups = pd.MultiIndex.from_arrays([self.region, self.channel])
        self.group_keys = list(pd.unique(groups))
        self.group_index = pd.Index(self.group_keys).get_indexer(groups)
        self.weights: dict[str, tuple[np.ndarray, float]] = {}
        for what, setting in (("outlets", model.min_outlets_reached), ("potential", model.min_potential_reached)):
            if setting is None:
                continue
            self.weights[what] = self._group_weights(what, net)
        reach = model.reach_spend
        self.breadth = any(s is not None for s in (model.min_regions_reached, model.min_outlets_reached,
                                                    model.min_potential_reached))
        default_reach = 1e-4 * self.hi
        self.threshold = np.where(self.min_spend > 0, self.min_spend,
                                  np.where((self.force == 1) | self.breadth,
                                           default_reach if reach is None else float(reach), 0.0))
        self.needs_z = ~self.is_level & (self.hi > 0) & ((self.fixed > 0) | (self.threshold > 0))
        # The cheapest way to switch each cell on (for the feasibility checks).
        first_level = np.array([lv[0] if lv is not None and len(lv) else np.inf for lv in self.levels])
        usable = (self.hi > 0) & (~self.is_level | np.isfinite(first_level)) & (self.threshold <= self.hi + 1e-9)
        self.activation = np.where(usable, self.fixed + np.where(self.is_level, first_level, self.threshold), np.inf)

    def _group_weights(self, what: str, net) -> tuple[np.ndarray, float]:
        if net is not None and net.outlets is not None:
            o = net.outlets
            w = o.groupby([o["region_id"], o["channel"]]).agg(n=("outlet_id", "size"), p=("potential", "sum"))
            col = "n" if what == "outlets" else "p"
            series = w[col]
            weights = np.array([float(series.get(k, 0.0)) for k in self.group_keys])
            return weights, float(series.sum())
        if what not in self.frame.columns:
            raise SettingsError(f"min_{what}_reached needs a network (solve(net)) or a cells column '{what}' giving "
                                f"each region x channel group's {what}.")
        vals = pd.to_numeric(self.frame[what], errors="coerce").to_numpy(dtype=float)
        frame = pd.DataFrame({"g": self.group_index, "v": vals})
        spread = frame.groupby("g")["v"].agg(["min", "max"])
        bad = spread.index[(spread["max"] - spread["min"]).abs() > 1e-9 * (1 + spread["max"].abs())].tolist()
        if len(bad) or np.isnan(vals).any():
            raise ValidationError(f"cells.{what} must be one number per region x channel group (it is the group's "
                                  f"{what}); groups {format_ids([self.group_keys[g] for g in bad])} disagree or hold "
                                  f"missing values.", column=what)
        weights = spread["max"].reindex(range(len(self.group_keys))).to_numpy(dtype=float)
        return weights, float(weights.sum())


class BudgetAllocation(Model):
    """Split a budget over region x channel x activity cells to maximise response.

    Parameters
    ----------
    total : float
        Budget. Spend plus the activation (``fixed_cost``) of active cells stays within it.
        Optional with ``target_response``.
    cells : DataFrame
        One row per cell: ``region_id``, ``channel``, ``activity``, ``curve`` (a
        :class:`~channelopt.response.ResponseCurve`, or ``(spend, response)`` point lists),
        and optionally ``min_spend`` (applies to active cells only), ``max_spend``,
        ``fixed_cost`` (paid from ``total`` when the cell's spend is positive),
        ``levels`` (the allowed positive spends of the cell, a list), ``active``
        (True forces the cell on, False keeps it at zero), ``outlets`` / ``potential``
        (per region x channel group, for the breadth targets without a network).
    min_regions_reached : float, optional
        Share of regions that must get spend on at least one cell (regions of the
        network when one is given, else of the cells).
    min_outlets_reached, min_potential_reached : float, optional
        Share of outlets (or of their potential) that must be reached; an outlet is
        reached when a cell of its region x channel gets spend.
    region_min, region_max, channel_min, channel_max : float or mapping, optional
        Spend bounds per region or channel (a scalar applies to all of them).
    channel_share : mapping channel -> (low, high), optional
        Share of the total spend each channel takes (None for no bound on a side).
    target_response : float, optional
        Target mode: find the least cost (spend + activation) whose response reaches it.
    min_roi : float, optional
        Keep the plan's incremental response / cost at or above this.
    reach_spend : float, optional
        Spend from which a cell with no ``min_spend`` counts as active for breadth
        targets and ``active=True`` (default: 0.01% of the cell's spend range).
    pwl_tol : float, default 1e-3
        Largest PWL error per cell, as a share of the cell's response range on
        ``[0, max spend]``. The plan reports the achieved error on the true curves.
    max_segments : int, default 200
        Cap on PWL segments per cell.
    marginal_roi : bool, default True
        Compute the marginal ROI by a finite difference of the PWL model's optimum
        over the budget (binaries fixed at the plan): one extra LP solve.

    Notes
    -----
    Formulation: ``spend_i = sum_j d_ij`` with ``0 <= d_ij <= L_ij`` and response
    ``f_i(0) + sum_j m_ij d_ij``. A cell whose slopes ``m_ij`` fall (concave) needs no
    binaries. A cell whose slopes rise up to segment ``p`` gets binaries ``y_1..y_p``:
    ``d_{j-1} >= L_{j-1} y_j`` and ``d_j <= L_j y_j`` (all later segments under ``y_p``),
    so segments fill in order. ``z_i`` switches a cell with an activation cost,
    minimum spend, or a role in a breadth target: ``threshold_i z_i <= spend_i <= hi_i z_i``.
    Discrete levels are one binary per level with the exact response of the curve.

    Examples
    --------
    >>> import pandas as pd
    >>> import channelopt as co
    >>> cells = pd.DataFrame({"region_id": ["north", "north", "south"], "channel": ["ka", "trad", "ka"],
    ...                       "activity": "promotion",
    ...                       "curve": [co.Hill(100, 40, 1), co.Hill(60, 10, 0.8), co.Hill(80, 30, 1)]})
    >>> plan = co.BudgetAllocation(total=90, cells=cells).solve(solver=co.Solver("highs"))
    >>> plan.allocations[["region_id", "channel", "spend"]].round(1).to_string(index=False)
    'region_id channel  spend\\n    north      ka   39.8\\n    north    trad   18.7\\n    south      ka   31.5'
    >>> round(plan.metrics["response"], 1), plan.metrics["marginal_roi_method"]
    (128.2, 'finite_difference')
    """

    kind = "budget_allocation"
    sense = pulp.LpMaximize

    def __init__(
        self,
        *,
        total: float | None = None,
        cells: pd.DataFrame | None = None,
        min_regions_reached: float | None = None,
        min_outlets_reached: float | None = None,
        min_potential_reached: float | None = None,
        region_min: float | Mapping | None = None,
        region_max: float | Mapping | None = None,
        channel_min: float | Mapping | None = None,
        channel_max: float | Mapping | None = None,
        channel_share: Mapping | None = None,
        target_response: float | None = None,
        min_roi: float | None = None,
        reach_spend: float | None = None,
        pwl_tol: float = 1e-3,
        max_segments: int = 200,
        marginal_roi: bool = True,
    ) -> None:
        self.total = total
        self.cells = cells
        self.min_regions_reached = min_regions_reached
        self.min_outlets_reached = min_outlets_reached
        self.min_potential_reached = min_potential_reached
        self.region_min = region_min
        self.region_max = region_max
        self.channel_min = channel_min
        self.channel_max = channel_max
        self.channel_share = channel_share
        self.target_response = target_response
        self.min_roi = min_roi
        self.reach_spend = reach_spend
        self.pwl_tol = pwl_tol
        self.max_segments = max_segments
        self.marginal_roi = marginal_roi

    @classmethod
    def from_network(cls, net, curves, *, activities: Sequence[str] | None = None,
                     reference_potential: float | None = None, **settings: Any) -> BudgetAllocation:
        """A model whose cells are the network's regions x channel types x activities.

        See :func:`cells_from_network` for ``curves``, ``activities`` and
        ``reference_potential``; ``settings`` go to the constructor. Solve it with
        ``.solve(net)`` to get coverage metrics.

        Examples
        --------
        >>> import channelopt as co
        >>> from channelopt.datasets import make_synthetic
        >>> net = make_synthetic(6, 60, 3, seed=0)
        >>> model = co.BudgetAllocation.from_network(net, {"promotion": co.Hill(10.0, 5.0)}, total=40,
        ...                                          min_regions_reached=1.0)
        >>> plan = model.solve(net)
        >>> plan.metrics["region_coverage"], plan.metrics["numeric_distribution"]
        (1.0, 1.0)
        """
        cells = cells_from_network(net, curves, activities=activities, reference_potential=reference_potential)
        return cls(cells=cells, **settings)

    # ------------------------------------------------------------------ checks
    def _check(self, net) -> None:
        if self.total is None and self.target_response is None:
            raise SettingsError("BudgetAllocation needs total (the budget), or target_response for the "
                                "least-cost plan that reaches a response.")
        for name in ("total", "target_response", "reach_spend"):
            v = getattr(self, name)
            if v is not None and not (isinstance(v, (int, float, np.number)) and math.isfinite(v) and v > 0):
                raise SettingsError(f"{name} must be a positive finite number, got {v!r}.")
        if self.min_roi is not None and not (math.isfinite(float(self.min_roi)) and self.min_roi >= 0):
            raise SettingsError(f"min_roi must be a non-negative number, got {self.min_roi!r}.")
        if not (isinstance(self.pwl_tol, (int, float)) and 0 < self.pwl_tol < 1):
            raise SettingsError(f"pwl_tol must be a share in (0, 1) of each cell's response range, got "
                                f"{self.pwl_tol!r} (1e-3 means 0.1%).")
        if int(self.max_segments) != self.max_segments or self.max_segments < 1:
            raise SettingsError(f"max_segments must be a positive integer, got {self.max_segments!r}.")
        for name in ("min_regions_reached", "min_outlets_reached", "min_potential_reached"):
            _share(name, getattr(self, name))
        cells = _Cells(self, net)
        self._bounds(cells)
        self._cheap_infeasibility(cells)

    def _bounds(self, cells: _Cells) -> dict:
        out = {
            "region_min": _bounds_map("region_min", self.region_min, cells.region_ids, "regions"),
            "region_max": _bounds_map("region_max", self.region_max, cells.region_ids, "regions"),
            "channel_min": _bounds_map("channel_min", self.channel_min, cells.channel_ids, "channels"),
            "channel_max": _bounds_map("channel_max", self.channel_max, cells.channel_ids, "channels"),
        }
        share = {}
        for ch, pair in (self.channel_share or {}).items():
            if ch not in set(cells.channel_ids):
                raise SettingsError(f"channel_share names channel {ch!r} that no cell has; known: "
                                    f"{format_ids(cells.channel_ids)}.")
            try:
                lo, hi = pair
            except (TypeError, ValueError):
                raise SettingsError(f"channel_share[{ch!r}] must be a (low, high) pair of shares, got "
                                    f"{pair!r}.") from None
            lo = 0.0 if lo is None else float(lo)
            hi = 1.0 if hi is None else float(hi)
            if not 0 <= lo <= hi <= 1:
                raise SettingsError(f"channel_share[{ch!r}] must satisfy 0 <= low <= high <= 1, got {pair!r}.")
            share[ch] = (lo, hi)
        out["channel_share"] = share
        return out

    def _cheap_infeasibility(self, cells: _Cells) -> None:
        total = self.total
        b = self._bounds(cells)
        spend_cap = np.where(cells.is_level,
                             [lv[-1] if lv is not None and len(lv) else 0.0 for lv in cells.levels], cells.hi)
        for kind, index, ids in (("region", cells.region_index, cells.region_ids),
                                 ("channel", cells.channel_index, cells.channel_ids)):
            cap = np.bincount(index, weights=spend_cap, minlength=len(ids))
            for key, need in b[f"{kind}_min"].items():
                have = cap[ids.index(key)]
                if need > have + 1e-9:
                    raise InfeasibleError(
                        f"{kind}_min for {key!r} is {need:,.6g} but its cells can absorb at most {have:,.6g} "
                        f"(max_spend, levels and the budget cap them); lower {kind}_min or raise max_spend.",
                        reasons=[f"{kind} {key!r} minimum {need:,.6g} above its capacity {have:,.6g}"])
        forced = cells.force == 1
        bad = np.flatnonzero(forced & ~np.isfinite(cells.activation))
        if len(bad):
            raise InfeasibleError(f"cells {format_ids(bad)} are forced active but cannot spend (max_spend 0, no "
                                  f"usable level, or min_spend above the budget).", reasons=["forced cells"])
        if total is None:
            return
        mandatory = float(cells.activation[forced].sum())
        region_need = sum(b["region_min"].values())
        channel_need = sum(b["channel_min"].values())
        need = max(mandatory, region_need, channel_need)
        if need > total + 1e-9:
            parts = [f"forced cells {mandatory:,.6g}", f"region minimums {region_need:,.6g}",
                     f"channel minimums {channel_need:,.6g}"]
            raise InfeasibleError(
                f"the total budget {total:,.6g} is below the mandatory minimums, which require at least "
                f"{need:,.6g} ({', '.join(parts)}); raise total to {need:,.6g} or lower the minimums.",
                reasons=[f"budget {total:,.6g} < required {need:,.6g}"])
        share = _share("min_regions_reached", self.min_regions_reached)
        if share is not None:
            n_all = len(cells.all_regions)
            k = math.ceil(share * n_all - 1e-9)
            per_region = pd.Series(cells.activation).groupby(cells.region_index).min()
            reachable = np.sort(per_region[np.isfinite(per_region)].to_numpy())
            if len(reachable) < k:
                raise InfeasibleError(
                    f"min_regions_reached={share} needs {k} of {n_all} regions reached, but only {len(reachable)} "
                    f"regions have a cell that can get spend; lower the target or add cells.",
                    reasons=[f"{len(reachable)} reachable regions < {k}"])
            cheapest = float(reachable[:k].sum())
            if cheapest > total + 1e-9:
                raise InfeasibleError(
                    f"min_regions_reached={share} needs {k} of {n_all} regions reached, which costs at least "
                    f"{cheapest:,.6g} (the cheapest activation, min_spend or level in each region), but the total "
                    f"budget is {total:,.6g}; raise total to {cheapest:,.6g} or lower the target.",
                    reasons=[f"budget {total:,.6g} < breadth cost {cheapest:,.6g}"])

    # ------------------------------------------------------------------ build
    def _build_arrays(self, net, ap: ArrayProblem) -> dict[str, Any]:
        cells = _Cells(self, net)
        b = self._bounds(cells)
        curves = cells.curves
        top = np.array([float(c(h)) - float(c(0.0)) if h > 0 else 0.0 for c, h in zip(curves, cells.hi)])
        tol = self.pwl_tol * np.maximum(np.abs(top), 1e-12)
        sub = np.flatnonzero(~cells.is_level)
        table = approximate([curves[i] for i in sub], cells.hi[sub], tol[sub], max_segments=int(self.max_segments))
        base = np.array([float(c(0.0)) for c in curves])
        state = self._assemble(ap, cells, b, table, sub, base)
        state["tol"] = tol
        return state

    def _assemble(self, ap: ArrayProblem, cells: _Cells, b: dict, table, sub: np.ndarray, base: np.ndarray, *,
                  objective: str = "auto", drop: str | None = None, shift: float = 0.0) -> dict[str, Any]:
        """The formulation as array blocks (see the class Notes).

        ``objective`` ``"cost"`` or ``"response"`` overrides the model's, ``drop`` leaves
        out the ``"budget"`` or ``"target"`` row and ``shift`` moves the budget (or
        target) right-hand side: the variants the diagnosis and the marginal ROI solve.
        """
        n = cells.n
        seg_cell = sub[table.cell]
        n_seg = len(seg_cell)
        target_mode = self.target_response is not None
        maximise = objective == "response" or (objective == "auto" and not target_mode)
        ap.maximize = maximise
        d = ap.add_vars("d", n_seg, upper=table.length)
        # Rising slopes: binaries y_1..y_p per S-shaped cell make its segments fill in order.
        local = np.arange(n_seg) - table.start[table.cell]
        same = np.r_[False, table.cell[1:] == table.cell[:-1]]
        prev = np.r_[0.0, table.slope[:-1]]
        rising = same & (table.slope > prev + 1e-9 * (1 + np.abs(prev)))
        p_cell = np.zeros(len(sub), dtype=np.int64)
        np.maximum.at(p_cell, table.cell[rising], local[rising])
        gated = np.flatnonzero(p_cell > 0)
        p = p_cell[gated]
        y_of = np.repeat(gated, p)                       # local cell of each gate binary
        y_j = np.arange(len(y_of)) - np.repeat(np.cumsum(p) - p, p) + 1   # 1..p
        y = ap.add_vars("y", len(y_of), upper=1.0, integer=True)
        seg_of_y = table.start[y_of] + y_j - 1
        k = np.arange(len(y_of))
        ap.add_rows("fill", np.r_[k, k], np.r_[d.start + seg_of_y, y.index],
                    np.r_[np.ones(len(k)), -table.length[seg_of_y]], sense=">=", rhs=0.0, n_rows=len(k))
        inner = y_j < p_cell[y_of]
        g = k[inner]
        ap.add_rows("gate", np.r_[np.arange(len(g)), np.arange(len(g))],
                    np.r_[d.start + seg_of_y[g] + 1, y.start + g],
                    np.r_[np.ones(len(g)), -table.length[seg_of_y[g] + 1]], sense="<=", rhs=0.0, n_rows=len(g))
        # The tail: every segment from p on is open only with y_p.
        tail = (p_cell[table.cell] > 0) & (local >= p_cell[table.cell])
        tail_row = np.full(len(sub), -1)
        tail_row[gated] = np.arange(len(gated))
        last_y = y.start + np.cumsum(p) - 1
        tail_len = np.bincount(table.cell[tail], weights=table.length[tail], minlength=len(sub))[gated]
        ts = np.flatnonzero(tail)
        ap.add_rows("tail", np.r_[tail_row[table.cell[ts]], np.arange(len(gated))], np.r_[d.start + ts, last_y],
                    np.r_[np.ones(len(ts)), -tail_len], sense="<=", rhs=0.0, n_rows=len(gated))
        # Discrete levels: one binary per level, exact response.
        lam_cell = np.array([i for i in np.flatnonzero(cells.is_level) for _ in cells.levels[i]], dtype=np.int64)
        lam_level = np.array([v for i in np.flatnonzero(cells.is_level) for v in cells.levels[i]], dtype=float)
        lam_gain = np.array([float(cells.curves[i](v)) - base[i] for i, v in zip(lam_cell, lam_level)])
        lam = ap.add_vars("l", len(lam_cell), upper=1.0, integer=True)
        level_cells = np.unique(lam_cell)
        lrow = np.searchsorted(level_cells, lam_cell)
        forced = cells.force[level_cells] == 1
        for tag, sel in (("level_on", forced), ("level", ~forced)):
            keep = sel[lrow]
            remap = np.cumsum(sel) - 1
            ap.add_rows(tag, remap[lrow[keep]], lam.start + np.flatnonzero(keep), sense=">=" if tag == "level_on"
                        else "<=", rhs=1.0, n_rows=int(sel.sum()))
        # One spend variable per cell for the shared rows: a budget row over every segment
        # made HiGHS presolve take 23 s on 1,000 cells (0.8 s with presolve off).
        has = np.zeros(n, dtype=bool)
        has[seg_cell] = True
        has[lam_cell] = True
        s_cells = np.flatnonzero(has)
        s = ap.add_vars("s", len(s_cells))
        s_col = np.full(n, -1, dtype=np.int64)
        s_col[s_cells] = s.index
        ap.add_rows("spend", np.r_[seg_cell, lam_cell, np.arange(n)[has]],
                    np.r_[d.index, lam.index, s.index], np.r_[np.ones(n_seg), lam_level, -np.ones(len(s_cells))],
                    sense="==", rhs=0.0, n_rows=n, skip_empty=True)
        # Activation binaries: threshold_i z_i <= s_i <= hi_i z_i.
        z_cells = np.flatnonzero(cells.needs_z)
        z = ap.add_vars("z", len(z_cells), lower=(cells.force[z_cells] == 1).astype(float), upper=1.0, integer=True)
        kz = np.arange(len(z_cells))
        ap.add_rows("on", np.r_[kz, kz], np.r_[s_col[z_cells], z.index],
                    np.r_[np.ones(len(kz)), -cells.hi[z_cells]], sense="<=", rhs=0.0, n_rows=len(kz))
        thr = cells.threshold[z_cells] > 0
        km = np.arange(int(thr.sum()))
        ap.add_rows("min", np.r_[km, km], np.r_[s_col[z_cells[thr]], z.index[thr]],
                    np.r_[np.ones(len(km)), -cells.threshold[z_cells[thr]]], sense=">=", rhs=0.0, n_rows=len(km))
        # Activation terms (z and level binaries) per cell; cost and response as column vectors.
        act_col = np.r_[z.index, lam.index]
        act_cell = np.r_[z_cells, lam_cell]
        cost = np.zeros(ap.n_cols)
        cost[s.index] = 1.0
        np.add.at(cost, act_col, cells.fixed[act_cell])
        resp = np.zeros(ap.n_cols)
        resp[d.index] = table.slope
        resp[lam.index] = lam_gain
        nz_cost, nz_resp = np.flatnonzero(cost), np.flatnonzero(resp)
        rows: dict[str, Any] = {}
        if self.total is not None and drop != "budget":
            rows["budget"] = ap.add_row("budget", nz_cost, cost[nz_cost], "<=",
                                        float(self.total) + (0.0 if target_mode else shift))
        if target_mode and drop != "target":
            rows["target"] = ap.add_row("target", nz_resp, resp[nz_resp], ">=",
                                        float(self.target_response) - float(base.sum()) + shift)
        if maximise:
            ap.add_cost(nz_resp, resp[nz_resp])
            ap.offset = float(base.sum())
        else:
            ap.add_cost(nz_cost, cost[nz_cost])
        if self.min_roi is not None:
            # incremental response >= min_roi * (spend + activation)
            roi = resp - float(self.min_roi) * cost
            nz = np.flatnonzero(roi)
            ap.add_row("min_roi", nz, roi[nz], ">=", 0.0)
        # Region / channel bounds and channel shares: grouped rows over the spend variables.
        for kind, index, ids in (("region", cells.region_index, cells.region_ids),
                                 ("channel", cells.channel_index, cells.channel_ids)):
            for side, sense in (("min", ">="), ("max", "<=")):
                bmap = b[f"{kind}_{side}"]
                if not bmap:
                    continue
                rhs = np.array([bmap.get(key, np.nan) for key in ids])
                pos = np.flatnonzero(~np.isnan(rhs))
                remap = np.full(len(ids), -1)
                remap[pos] = np.arange(len(pos))
                grp = remap[index[s_cells]]
                keep = grp >= 0
                ap.add_rows(f"{kind}_{side}", grp[keep], s.index[keep], sense=sense, rhs=rhs[pos], n_rows=len(pos))
        for ch, (lo, hi) in b["channel_share"].items():
            inside = (cells.channel_index[s_cells] == cells.channel_ids.index(ch)).astype(float)
            for share, sense, tag in ((lo, ">=", "lo"), (hi, "<=", "hi")):
                if (tag == "lo" and share > 0) or (tag == "hi" and share < 1):
                    ap.add_row(f"share_{tag}_{ch}", s.index, inside - share, sense, 0.0)
        # Breadth: a binary per region (or region x channel group) that needs an active cell.
        reach: dict[str, VarBlock] = {}
        share = _share("min_regions_reached", self.min_regions_reached)
        if share is not None:
            need = math.ceil(share * len(cells.all_regions) - 1e-9)
            reach["regions"] = _reach_rows(ap, act_col, cells.region_index[act_cell], len(cells.region_ids),
                                           "reach_r")
            ap.add_row("breadth_regions", reach["regions"].index, 1.0, ">=", float(need))
        for what, (weights, total_w) in cells.weights.items():
            sh = _share(f"min_{what}_reached", getattr(self, f"min_{what}_reached"))
            u = _reach_rows(ap, act_col, cells.group_index[act_cell], len(cells.group_keys), f"reach_{what}")
            reach[what] = u
            ap.add_row(f"breadth_{what}", u.index, weights, ">=", sh * total_w)
        return {"cells": cells, "bounds": b, "table": table, "sub": sub, "seg_cell": seg_cell, "base": base,
                "d": d, "y": y, "y_cell": sub[y_of], "y_seg": seg_of_y, "z": z, "z_cells": z_cells,
                "lam": lam, "lam_cell": lam_cell, "lam_level": lam_level, "s": s, "s_cells": s_cells,
                "cost": cost, "resp": resp, "rows": rows, "reach": reach, "ap": ap, "act_col": act_col,
                "act_cell": act_cell}

    # ------------------------------------------------------------------ starts and diagnosis
    def _warm_start(self, net, state: dict[str, Any], solver: Solver | None = None) -> np.ndarray | None:
        """The better of spending nothing and a greedy marginal-ROI plan, checked against every row.

        Spending nothing is a plan every solve can fall back on when no rule asks for
        spend: an S-curve model on thousands of cells can reach its time limit before
        the solver finds any plan of its own (measured: 5,157 cells, none in 60 s).
        The greedy (:func:`_greedy_spend`, on ``solver``'s share of the clock) spends
        the budget where the piecewise-linear response rises most per unit of cost, aiming
        at every row the model states (in target mode: until the response reaches the
        target), so a time-limited plan is never worse than it. Either is handed over as a
        complete start only when it satisfies every row (the greedy's first broken row is
        logged at INFO); otherwise the solver starts cold.
        """
        ap: ArrayProblem = state["ap"]
        a = ap.arrays()
        starts = []
        zero = _start_vector(state, np.zeros(state["cells"].n), a)
        if zero is not None:
            starts.append(zero)
        clock = solver.deadline if solver is not None else None
        why: list[str] = []
        x = _start_vector(state, _greedy_spend(self, state, clock), a, why)
        if x is not None:
            starts.append(x)
        else:
            log.info("budget: the greedy plan %s; %s", why[0] if why else "was not built",
                     "starting from zero spend" if starts else "starting cold")
        if not starts:
            return None
        sign = 1.0 if a.maximize else -1.0
        best = max(starts, key=lambda v: sign * float(a.cost @ v))
        state["start_objective"] = float(a.cost @ best + a.offset)
        return best

    def _variant(self, state: dict[str, Any], **how) -> ArrayProblem:
        """The model again as arrays, changed as ``_assemble`` is told (for a side solve)."""
        ap = ArrayProblem(self.kind, "max")
        self._assemble(ap, state["cells"], state["bounds"], state["table"], state["sub"], state["base"], **how)
        return ap

    def _diagnose(self, net, state: dict[str, Any]) -> list[str]:
        """Solve the model without its budget (or target) row to find the amount required."""
        rows = state["rows"]
        reasons = []
        if "budget" in rows and "target" not in rows:
            info = Solver("highs", time_limit=60).solve(self._variant(state, objective="cost", drop="budget"))
            if info.has_solution:
                reasons.append(self._budget_reason(info.objective if info.status == "optimal" else info.bound))
            else:
                reasons.append(_CONFLICT)
        elif "target" in rows:
            info = Solver("highs", time_limit=60).solve(self._variant(state, objective="response", drop="target"))
            if info.has_solution:
                reasons.append(self._target_reason(info.objective if info.status == "optimal" else info.bound))
        return reasons

    def _budget_reason(self, need: float) -> str:
        settings = [s for s in ("min_regions_reached", "min_outlets_reached", "min_potential_reached",
                                "region_min", "channel_min", "channel_share", "min_roi")
                    if getattr(self, s) is not None]
        return (f"the total budget {self.total:,.6g} is below the {need:,.6g} required by "
                f"{', '.join(settings) or 'the cell minimums'} (least cost of a plan meeting every "
                f"other constraint); raise total to {need:,.6g} or relax them")

    def _target_reason(self, best: float) -> str:
        budget = f"the total budget {self.total:,.6g}" if self.total is not None else "max_spend"
        return (f"target_response {self.target_response:,.6g} is above the {best:,.6g} reachable "
                f"within {budget} and the other constraints (piecewise-linear response); lower the "
                f"target or raise the budget")

    # ------------------------------------------------------------------ plan
    def _marginal_roi(self, state: dict[str, Any], info: SolveInfo) -> tuple[float, float]:
        """Forward difference of the PWL optimum: budget (or target) moved by a small step, binaries fixed."""
        rows = state["rows"]
        target_mode = "target" in rows
        if not target_mode and "budget" not in rows:
            return math.nan, math.nan
        rhs = (float(self.target_response) - float(state["base"].sum())) if target_mode else float(self.total)
        step = max(abs(rhs), 1.0) * 1e-5
        ap = self._variant(state, shift=step)
        a = ap.arrays()
        ints = np.flatnonzero(a.integer)
        fixed = np.round(np.nan_to_num(np.asarray(info.values, dtype=float)[ints]))
        ap.set_bounds(ints, fixed, fixed)
        again = Solver(info.solver).solve(ap)
        if not again.has_solution:
            return math.nan, step
        diff = again.objective - info.objective
        if target_mode:
            return (step / diff if diff > 0 else math.inf), step
        return diff / step, step

    def _extract(self, net, state: dict[str, Any], info: SolveInfo) -> Plan:
        cells: _Cells = state["cells"]
        table = state["table"]
        n = cells.n
        curves = cells.curves
        dval = np.clip(np.nan_to_num(state["d"].value), 0.0, None)
        # float even without any segment (bincount of nothing is int64): a model of level cells only
        spend = np.bincount(state["seg_cell"], weights=dval, minlength=n).astype(float)
        lam = np.round(np.nan_to_num(state["lam"].value))
        spend[np.unique(state["lam_cell"])] = 0.0
        spend += np.bincount(state["lam_cell"], weights=lam * state["lam_level"], minlength=n)
        zval = np.full(n, np.nan)
        zval[state["z_cells"]] = np.nan_to_num(state["z"].value)
        spend[spend <= 1e-9 * np.maximum(cells.hi, 1.0)] = 0.0
        # a cell whose switch is off spends nothing: HiGHS's integrality tolerance lets z = 1e-6
        # carry hi * z of spend (3.4e-5 seen under a reach_spend of 1), which the plan would show
        # as a positive spend below the cell's threshold
        spend[zval <= 0.5] = 0.0
        active = np.where(np.isnan(zval), spend > 0, zval > 0.5) & (spend > 0)
        response = np.array([float(c(s)) for c, s in zip(curves, spend.tolist())])
        pwl = response.copy()
        sub = state["sub"]
        pwl[sub] = table.evaluate(spend[sub])
        pwl_error = np.abs(response - pwl)
        marginal = np.array([float(c.derivative(s)) for c, s in zip(curves, spend.tolist())])
        fixed_paid = np.where(active, cells.fixed, 0.0)
        base = state["base"]
        alloc = cells.frame.copy()
        alloc["curve"] = [repr(c) for c in curves]
        if "levels" in alloc:
            alloc["levels"] = [None if lv is None else repr(lv.tolist()) for lv in cells.levels]
        alloc["spend"] = spend
        alloc["response"] = response
        alloc["active"] = active
        alloc["fixed_paid"] = fixed_paid
        cost = spend + fixed_paid
        alloc["roi"] = np.divide(response - base, cost, out=np.full(n, np.nan), where=cost > 0)
        alloc["marginal_response"] = marginal
        alloc["pwl_response"] = pwl
        alloc["pwl_error"] = pwl_error
        max_err = np.zeros(n)
        max_err[sub] = table.max_error
        alloc["pwl_max_error"] = max_err
        segs = np.zeros(n, dtype=np.int64)
        segs[sub] = np.diff(table.start)
        alloc["segments"] = segs

        frame = pd.DataFrame({"region_id": cells.region, "channel": cells.channel, "spend": spend,
                              "fixed_paid": fixed_paid, "response": response, "gain": response - base,
                              "active": active})

        def totals(key: str) -> pd.DataFrame:
            t = frame.groupby(key, sort=False).agg(spend=("spend", "sum"), fixed_paid=("fixed_paid", "sum"),
                                                  response=("response", "sum"), gain=("gain", "sum"),
                                                  active_cells=("active", "sum"))
            c = t["spend"] + t["fixed_paid"]
            t["roi"] = t["gain"] / c.where(c > 0)
            return t.drop(columns="gain")

        by_region, by_channel = totals("region_id"), totals("channel")
        if self.marginal_roi:
            mroi, step = self._marginal_roi(state, info)
        else:
            mroi, step = math.nan, math.nan
        total_cost = float(cost.sum())
        interior = active & (spend < cells.hi * (1 - 1e-6)) & (spend > cells.threshold * (1 + 1e-6)) & ~cells.is_level
        gain = float((response - base).sum())
        reached = set(cells.region[spend > 0].tolist())
        overall: dict[str, Any] = {
            "budget": float(self.total) if self.total is not None else math.nan,
            "spend": float(spend.sum()),
            "fixed_cost": float(fixed_paid.sum()),
            "total_cost": total_cost,
            "response": float(response.sum()),
            "incremental_response": gain,
            "roi": gain / total_cost if total_cost > 0 else math.nan,
            "marginal_roi": mroi,
            "marginal_roi_method": "finite_difference",
            "marginal_roi_step": step,
            # On the true curves: in a concave optimum every cell strictly inside its bounds
            # has the same marginal response, the budget's shadow price.
            "marginal_roi_curves": float(np.median(marginal[interior])) if interior.any() else math.nan,
            "active_cells": int(active.sum()),
            "regions_reached": len(reached),
            "region_share_reached": len(reached) / len(cells.all_regions),
            "pwl_response": float(pwl.sum()),
            "pwl_error": float(pwl_error.sum()),
            "pwl_max_cell_error": float(pwl_error.max()),
            "pwl_error_bound": float(max_err.sum()),
        }
        if self.target_response is None and self.min_roi is None and math.isfinite(info.bound):
            # Every curve lies within its cell's grid error of its PWL, so no plan can beat this.
            overall["response_upper_bound"] = float(info.bound + max_err.sum())
        if net is not None and net.outlets is not None:
            outlets = net.outlets
            keys = pd.MultiIndex.from_arrays([cells.region, cells.channel])
            spent = pd.Series(spend, index=keys).groupby(level=[0, 1]).sum()
            covered_keys = set(spent[spent > 0].index.tolist())
            covered = np.array([k in covered_keys for k in zip(outlets["region_id"].tolist(),
                                                              outlets["channel"].tolist())], dtype=bool)
            metrics = coverage_metrics(outlets, covered, net.region_ids, budget=alloc)
            metrics.overall.update(overall)
        else:
            metrics = Metrics(overall=overall, by_region=by_region, by_channel=by_channel)
        return Plan(kind=self.kind, info=info, assignments=alloc, metrics=metrics,
                    tables={"allocations": alloc, "by_region": by_region.reset_index(),
                            "by_channel": by_channel.reset_index()},
                    network=net)


_CONFLICT = ("the constraints conflict even without the budget: check region/channel minimums against max_spend, "
             "channel_share against region/channel maximums, and breadth targets against cells forced off")


def _reach_rows(ap: ArrayProblem, act_col: np.ndarray, group: np.ndarray, n_groups: int, name: str) -> VarBlock:
    """``u_g <= sum of the activation terms of group g``; ``u_g = 0`` for a group without any."""
    has = np.bincount(group, minlength=n_groups) > 0
    u = ap.add_vars(name, n_groups, upper=has.astype(float), integer=True)
    g = np.flatnonzero(has)
    remap = np.cumsum(has) - 1
    ap.add_rows(f"{name}_rows", np.r_[remap[group], remap[g]], np.r_[act_col, u.index[g]],
                np.r_[np.ones(len(act_col)), -np.ones(len(g))], sense=">=", rhs=0.0, n_rows=len(g))
    return u


def _start_vector(state: dict[str, Any], spend: np.ndarray, a, why: list | None = None) -> np.ndarray | None:
    """Every column of the model for a plan given by its spend per cell; None unless it keeps every row.

    ``why`` gets the first rule the plan breaks, named (row or column).
    """
    why = [] if why is None else why
    if spend is None:
        return None
    table, cells = state["table"], state["cells"]
    x = np.zeros(len(a.cost))
    seg_cell = state["seg_cell"]
    # Where each segment starts, from the breakpoints themselves: a cumulative sum over every
    # segment of 5,157 cells drifted by 1e-7 per cell.
    before = np.concatenate([xs[:-1] for xs in table.xs]) if len(table.xs) else np.zeros(0)
    d = np.clip(spend[seg_cell] - before, 0.0, table.length)
    x[state["d"].slice] = d
    y_seg = state["y_seg"]
    x[state["y"].slice] = d[y_seg] >= table.length[y_seg] * (1 - 1e-12)
    lam = state["lam_level"] == spend[state["lam_cell"]]
    x[state["lam"].slice] = lam
    # The spend of each cell as its columns add up (not the asked spend): the spend rows hold exactly.
    total = np.bincount(seg_cell, weights=d, minlength=cells.n).astype(float)  # int64 when no segment
    total += np.bincount(state["lam_cell"], weights=lam * state["lam_level"], minlength=cells.n)
    x[state["s"].slice] = total[state["s_cells"]]
    x[state["z"].slice] = spend[state["z_cells"]] > 0
    act = x[state["act_col"]]
    for what, u in state["reach"].items():
        group = {"regions": cells.region_index}.get(what, cells.group_index)[state["act_cell"]]
        on = np.bincount(group, weights=act, minlength=u.size) > 0.5
        x[u.slice] = on & (a.col_upper[u.slice] > 0.5)
    scale = 1e-9 * (1.0 + np.abs(x))
    bad = np.flatnonzero((x < a.col_lower - scale) | (x > a.col_upper + scale))
    if len(bad):
        why.append(f"breaks the bounds of column {state['ap'].col_names()[bad[0]]}")
        return None
    matrix = _csr(a, len(x))
    act_rows = matrix @ x
    # Rounding in sums of many terms, within the solve path's own check (1e-6 on the budget row).
    tol = np.minimum(1e-9 * (1.0 + abs(matrix) @ np.abs(x)), 1e-7)
    bad = np.flatnonzero((act_rows < a.row_lower - tol) | (act_rows > a.row_upper + tol))
    if len(bad):
        why.append(f"breaks row {state['ap'].row_names()[bad[0]]}")
        return None
    return x


def _greedy_spend(model: BudgetAllocation, state: dict[str, Any], clock=None) -> np.ndarray:
    """A plan by marginal ROI on the piecewise-linear curves that aims at every row of the model.

    In order: cells forced on at their cheapest activation; breadth targets (the
    cheapest activation in the cheapest regions, the heaviest region x channel groups
    per unit of activation cost); ``region_min`` and ``channel_min`` and the low side of
    ``channel_share`` (of the spend the budget allows), each filled by the best ROI
    inside the region or channel; then the main phase, one move at a time to the
    breakpoint (or level) that earns the most response per unit of cost, within
    ``max_spend``, ``region_max``, ``channel_max`` and the high side of
    ``channel_share``, taking only moves that keep ``min_roi``. In target mode the main
    phase stops as soon as the response reaches the target (the last move cut to
    reach it exactly). Channel shares broken at the end get spend in the channels that
    restore them. :func:`_start_vector` checks the result against every row; the
    caller falls back to zero spend (with the broken row logged) when it fails.

    The greedy always finishes, whatever ``clock`` says: a time-limited plan must be at
    least the library's own greedy (issue 10), and its moves are bounded (each reaches a
    later breakpoint or level of its cell, or a cap). Measured: 1.05 s for the 5,157
    china S-curve cells at load 9 on 2 cores; a spent clock had cut the china planner's
    budget stage to 64 moves (response 507, where the stage earns 7.7e6 with time).
    """
    return _Greedy(model, state, clock).run()


class _Greedy:
    """The state of one greedy pass (see :func:`_greedy_spend`)."""

    def __init__(self, model: BudgetAllocation, state: dict[str, Any], clock) -> None:
        self.model, self.state, self.clock = model, state, clock
        cells, b = state["cells"], state["bounds"]
        self.cells, self.table = cells, state["table"]
        n = cells.n
        self.spend = np.zeros(n)
        # a hair of slack: the budget row sums many spends
        self.left = float(model.total) * (1 - 1e-9) if model.total is not None else math.inf
        self.loc = np.full(n, -1)
        self.loc[state["sub"]] = np.arange(len(state["sub"]))
        self.reg_left = np.array([b["region_max"].get(k, np.inf) for k in cells.region_ids])
        self.ch_left = np.array([b["channel_max"].get(k, np.inf) for k in cells.channel_ids])
        self.reg_spent = np.zeros(len(cells.region_ids))
        self.ch_spent = np.zeros(len(cells.channel_ids))
        self.share = {cells.channel_ids.index(ch): lohi for ch, lohi in b["channel_share"].items()}
        self.base = state["base"]
        self.resp = 0.0   # PWL response gained over spending nothing
        self.paid = 0.0   # spend + activation
        self.min_roi = None if model.min_roi is None else float(model.min_roi)
        self.target = None
        if model.target_response is not None:
            self.target = float(model.target_response) - float(self.base.sum())
        self.steps = 0

    # -- pieces
    def expired(self) -> bool:
        """Never: the greedy always finishes (see :func:`_greedy_spend`); kept as the one place to
        change that."""
        self.steps += 1
        return False

    def value(self, i: int, x) -> np.ndarray:
        cells = self.cells
        if cells.is_level[i]:
            return np.array([float(cells.curves[i](v)) for v in np.atleast_1d(x)]) - self.base[i]
        j = self.loc[i]
        return np.interp(x, self.table.xs[j], self.table.ys[j]) - self.table.base[j]

    def room(self, i: int, share_cap: bool = True) -> float:
        c, cur = self.cells, self.spend[i]
        r = min(self.left - (0.0 if cur > 0 else c.fixed[i]), c.hi[i] - cur,
                self.reg_left[c.region_index[i]], self.ch_left[c.channel_index[i]])
        ch = c.channel_index[i]
        if share_cap and ch in self.share and self.share[ch][1] < 1 and math.isfinite(self.left):
            # the channel's spend within its share of all the spend the budget allows (spending here
            # moves money from the budget left to the spend: their sum stays)
            hi = self.share[ch][1]
            total_spend = self.ch_spent.sum() + self.left - (0.0 if cur > 0 else c.fixed[i])
            r = min(r, hi * total_spend - self.ch_spent[ch])
        return r

    def moves(self, i: int, share_cap: bool = True):
        """(ratio, to, cost, gain) of the best move of cell i, or None."""
        c, cur = self.cells, self.spend[i]
        room = self.room(i, share_cap)
        if c.force[i] == 0 or room <= 1e-12:
            return None
        if c.is_level[i]:
            cand = c.levels[i][c.levels[i] > cur]
        else:
            xs = self.table.xs[self.loc[i]]
            cand = np.r_[xs[xs > cur], cur + room]
            if cur == 0 and c.threshold[i] > 0:
                cand = np.r_[cand, c.threshold[i]]
                cand = cand[cand >= c.threshold[i] - 1e-12]
        cand = cand[(cand - cur <= room + 1e-12) & (cand > cur)]
        if not len(cand):
            return None
        gain = self.value(i, cand) - (self.value(i, np.array([cur]))[0] if cur > 0 else 0.0)
        cost = cand - cur + (c.fixed[i] if cur == 0 else 0.0)
        ratio = gain / np.maximum(cost, 1e-300)
        k = int(np.argmax(ratio))
        return float(ratio[k]), float(cand[k]), float(cost[k]), float(gain[k])

    def move(self, i: int, to: float, cost: float, gain: float) -> None:
        c = self.cells
        step = to - self.spend[i]
        self.reg_left[c.region_index[i]] -= step
        self.ch_left[c.channel_index[i]] -= step
        self.reg_spent[c.region_index[i]] += step
        self.ch_spent[c.channel_index[i]] += step
        self.left -= cost
        self.paid += cost
        self.resp += gain
        self.spend[i] = to

    def activate(self, i: int) -> bool:
        c = self.cells
        if self.spend[i] > 0 or not np.isfinite(c.activation[i]) or c.activation[i] > self.left:
            return self.spend[i] > 0
        to = float(c.levels[i][0] if c.is_level[i] else c.threshold[i])
        if to <= 0 or to > self.room(i, share_cap=False) + 1e-12:
            return False
        self.move(i, to, float(to + c.fixed[i]), float(self.value(i, np.array([to]))[0]))
        return True

    def fill(self, members: np.ndarray, need: float, spent) -> None:
        """Best-ROI moves inside ``members`` until ``spent()`` gains ``need`` (mandatory: any ratio)."""
        goal = spent() + need
        for _ in range(64 * len(members) + 64):  # each move reaches a breakpoint or a cap: finitely many
            if spent() >= goal - 1e-9 * (1 + abs(goal)):
                return
            best = None
            for i in members.tolist():
                m = self.moves(i, share_cap=False)
                if m is not None and (best is None or m[0] > best[0]):
                    best = (m[0], i, *m[1:])
            if best is None:
                return
            _, i, to, cost, gain = best
            short = goal - spent()
            if not self.cells.is_level[i] and to - self.spend[i] > short and self.spend[i] > 0:
                to = self.spend[i] + short  # within a PWL stretch: just what the minimum needs
                gain = float(self.value(i, np.array([to]))[0] - self.value(i, np.array([self.spend[i]]))[0])
                cost = short
            self.move(i, to, cost, gain)

    def roi_ok(self, gain: float, cost: float) -> bool:
        if self.min_roi is None:
            return True
        return gain >= self.min_roi * cost or self.resp + gain >= self.min_roi * (self.paid + cost)

    # -- phases
    def run(self) -> np.ndarray:
        c = self.cells
        for i in np.flatnonzero(c.force == 1).tolist():  # forced cells: their cheapest activation first
            to = c.levels[i][0] if c.is_level[i] else c.threshold[i]
            self.move(i, float(to), float(to + c.fixed[i]), float(self.value(i, np.array([to]))[0]))
        self.breadth()
        b = self.state["bounds"]
        for kind, index, ids in (("region", c.region_index, c.region_ids), ("channel", c.channel_index,
                                                                            c.channel_ids)):
            spent = self.reg_spent if kind == "region" else self.ch_spent
            for key, need in b[f"{kind}_min"].items():
                k = ids.index(key)
                if spent[k] < need:
                    self.fill(np.flatnonzero(index == k), need - spent[k], lambda s=spent, k=k: s[k])
        if math.isfinite(self.left):
            allowed = self.ch_spent.sum() + self.left
            for ch, (lo, _) in self.share.items():
                if lo > 0 and self.ch_spent[ch] < lo * allowed:
                    self.fill(np.flatnonzero(c.channel_index == ch), lo * allowed - self.ch_spent[ch],
                              lambda ch=ch: self.ch_spent[ch])
        self.main()
        self.fix_shares()
        return self.spend

    def breadth(self) -> None:
        c, model = self.cells, self.model
        share = _share("min_regions_reached", model.min_regions_reached)
        if share is not None:
            need = math.ceil(share * len(c.all_regions) - 1e-9)
            reached = set(c.region_index[self.spend > 0].tolist())
            order = np.argsort(c.activation, kind="stable")
            for i in order.tolist():
                if len(reached) >= need or not np.isfinite(c.activation[i]):
                    break
                if c.region_index[i] not in reached and self.activate(i):
                    reached.add(c.region_index[i])
        for what, (weights, total_w) in c.weights.items():
            sh = _share(f"min_{what}_reached", getattr(model, f"min_{what}_reached"))
            got = weights[np.unique(c.group_index[self.spend > 0])].sum()
            # the cheapest activation in each group, heaviest groups per unit of it first
            act = pd.Series(c.activation).groupby(c.group_index).idxmin()
            cheapest = act.to_numpy()
            per = weights[act.index.to_numpy()] / np.maximum(c.activation[cheapest], 1e-300)
            for g, i in zip(act.index.to_numpy()[np.argsort(-per, kind="stable")],
                            cheapest[np.argsort(-per, kind="stable")]):
                if got >= sh * total_w:
                    break
                if not (self.spend[c.group_index == g] > 0).any() and self.activate(int(i)):
                    got += weights[g]

    def main(self) -> None:
        heap = []
        for i in range(self.cells.n):
            m = self.moves(i)
            if m is not None and m[0] > 0:
                heap.append((-m[0], i))
        heapq.heapify(heap)
        # each move goes to a breakpoint, a level or a cap, so moves are finitely many; the cap on
        # them only guards against rounding loops
        for _ in range(64 * self.cells.n + 1024):
            if not heap or self.left <= 1e-12 or self.expired():
                return
            if self.target is not None and self.resp >= self.target:
                return
            _, i = heapq.heappop(heap)
            m = self.moves(i)  # the budget left may have shrunk since this entry was pushed
            if m is None or m[0] <= 0:
                continue
            if heap and m[0] < -heap[0][0] * (1 - 1e-12):
                heapq.heappush(heap, (-m[0], i))
                continue
            ratio, to, cost, gain = m
            if not self.roi_ok(gain, cost):
                continue  # later moves of this cell only earn less per unit
            if self.target is not None and self.resp + gain > self.target and not self.cells.is_level[i]:
                to, cost, gain = self.cut(i, to, cost, gain)
            self.move(i, to, cost, gain)
            m = self.moves(i)
            if m is not None and m[0] > 0:
                heapq.heappush(heap, (-m[0], i))

    def cut(self, i: int, to: float, cost: float, gain: float) -> tuple[float, float, float]:
        """The least spend on the way to ``to`` that reaches the target (PWL: bisection)."""
        cur = self.spend[i]
        lo = cur if cur > 0 else max(self.cells.threshold[i], 0.0)
        start = self.value(i, np.array([cur]))[0] if cur > 0 else 0.0
        if self.resp + self.value(i, np.array([lo]))[0] - start >= self.target:
            to = lo
        else:
            a, b = lo, to
            for _ in range(60):
                mid = 0.5 * (a + b)
                if self.resp + self.value(i, np.array([mid]))[0] - start >= self.target:
                    b = mid
                else:
                    a = mid
            to = b
        step = to - cur
        gain = float(self.value(i, np.array([to]))[0] - start)
        # the bisection's own test, added in another order, can leave the sum a rounding short:
        # count the target as reached (the plan's rows are checked with tolerances anyway)
        return to, step + (self.cells.fixed[i] if cur == 0 else 0.0), max(gain, self.target - self.resp)

    def fix_shares(self) -> None:
        """Channel shares broken at the end: spend in the channels that restore them (a few rounds)."""
        c = self.cells
        for _ in range(4):
            broken = False
            total = self.ch_spent.sum()
            for ch, (lo, hi) in self.share.items():
                if total <= 0:
                    break
                s = self.ch_spent[ch]
                if s < lo * total - 1e-9 * total:
                    broken = True
                    self.fill(np.flatnonzero(c.channel_index == ch), (lo * total - s) / max(1 - lo, 1e-12),
                              lambda ch=ch: self.ch_spent[ch])
                elif s > hi * total + 1e-9 * total:
                    broken = True
                    others = np.flatnonzero(c.channel_index != ch)
                    self.fill(others, s / max(hi, 1e-12) - total, lambda: self.ch_spent.sum())
                total = self.ch_spent.sum()
            if not broken:
                return


def _csr(a, n_cols: int):
    from scipy.sparse import csr_matrix

    return csr_matrix((a.data, a.indices, a.indptr), shape=(len(a.row_lower), n_cols))


def cells_from_network(net, curves: Mapping[str, ResponseCurve] | Callable, *,
                       activities: Sequence[str] | None = None,
                       reference_potential: float | None = None) -> pd.DataFrame:
    """Cells for every region x channel type present in ``net`` x activity, curves scaled by potential.

    Parameters
    ----------
    net : ChannelNetwork
        Reads ``outlets``: ``region_id``, ``channel``, ``potential``.
    curves : mapping activity -> ResponseCurve, or callable
        A mapping gives each activity's curve for a cell of ``reference_potential``;
        each cell's curve is ``curve.scaled(potential / reference_potential)`` (both
        spend and response scale: the same spend per unit of potential earns the same
        response per unit). A callable ``f(region_id, channel, activity, potential,
        outlets) -> ResponseCurve`` builds each cell's curve itself.
    activities : sequence of str, optional
        Activities (the mapping's keys by default; required with a callable).
    reference_potential : float, optional
        Potential of the cell the mapped curves describe (default: the mean potential
        of the region x channel groups).

    Returns
    -------
    DataFrame
        ``region_id``, ``channel``, ``activity``, ``curve``, ``potential``, ``outlets``.

    Examples
    --------
    >>> import channelopt as co
    >>> from channelopt.datasets import make_synthetic
    >>> net = make_synthetic(6, 60, 3, seed=0)
    >>> cells = co.cells_from_network(net, {"promotion": co.Hill(10.0, 5.0), "display": co.Hill(6.0, 2.0)})
    >>> cells.shape, cells["activity"].unique().tolist()
    ((50, 6), ['promotion', 'display'])
    """
    return _cells_from_outlets(net._need_outlets(), curves, activities=activities,
                               reference_potential=reference_potential)


def _cells_from_outlets(outlets: pd.DataFrame, curves, *, key: str = "region_id", activities=None,
                        reference_potential: float | None = None, carry: Sequence[str] = ()) -> pd.DataFrame:
    """The one cell builder: ``key`` x channel groups of ``outlets`` x activities, curves scaled by potential.

    ``key`` is ``region_id`` or another grouping column (e.g. ``territory``, which then
    also fills ``region_id``); ``carry`` columns keep each group's first value. Used by
    :func:`cells_from_network`, the planner's budget stage and :class:`JointPlanner`.
    """
    if isinstance(curves, Mapping):
        acts = list(curves) if activities is None else list(activities)
        missing = [a for a in acts if a not in curves]
        if missing:
            raise SettingsError(f"curves has no curve for activities {missing}; give one per activity.")
        made = {a: as_curve(curves[a], f"curves[{a!r}]") for a in acts}
    elif callable(curves):
        if activities is None:
            raise SettingsError("with a curve function, give activities=[...] too.")
        acts = list(activities)
    else:
        raise SettingsError("curves must be a mapping activity -> ResponseCurve or a function returning one.")
    agg = {"potential": ("potential", "sum"), "outlets": ("outlet_id", "size")}
    agg.update({c: (c, "first") for c in carry if c != key})
    groups = outlets.groupby([key, "channel"], sort=True).agg(**agg).reset_index()
    if key != "region_id":
        groups["region_id"] = groups[key]
    groups = groups[groups["potential"] > 0]
    if not len(groups):
        raise ValidationError("the outlets have no positive potential to scale curves by.", column="potential")
    ref = float(groups["potential"].mean()) if reference_potential is None else float(reference_potential)
    if not ref > 0:
        raise SettingsError(f"reference_potential must be positive, got {reference_potential!r}.")
    extra = [c for c in carry if c in groups.columns]
    rows = []
    for g in groups[["region_id", "channel", "potential", "outlets", *extra]].itertuples(index=False):
        r, ch, pot, cnt = g[:4]
        for a in acts:
            if isinstance(curves, Mapping):
                curve = made[a].scaled(float(pot) / ref)
            else:
                curve = as_curve(curves(r, ch, a, float(pot), int(cnt)), "curves(...)")
            rows.append((r, ch, a, curve, float(pot), int(cnt), *g[4:]))
    return pd.DataFrame(rows, columns=["region_id", "channel", "activity", "curve", "potential", "outlets", *extra])
