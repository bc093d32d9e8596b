"""PricePlan: wholesale prices per region x channel with corridors against diversion (窜货).

Each cell's objective (margin, revenue or volume) as a function of its list price is
replaced by a piecewise-linear (PWL) approximation whose error is bounded by
``pwl_tol`` (breakpoints from :mod:`channelopt.models._pwl`, as in BudgetAllocation).
Concave pieces need no binaries; rebate tiers, price-point ladders and non-concave
pieces make the model a MILP.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pulp

from .._arrays import ArrayProblem
from ..exceptions import InfeasibleError, SettingsError, SolverError, ValidationError, format_ids
from ..metrics import Metrics
from ..models._base import Model
from ..models._lp import values
from ..models._pwl import _GRID, approximate
from ..plan import Plan
from ..solver import SolveInfo, Solver
from .demand import ConstantElasticityDemand, LinearDemand, PointsDemand
from .diversion import directed_costs, resolve_costs
from .formulation import FAMILIES, assemble

__all__ = ["PricePlan"]

_REQUIRED = ("region_id", "channel", "unit_cost", "base_price", "base_volume", "elasticity", "price_min",
             "price_max")
_OBJECTIVES = ("margin", "revenue", "volume")
_DEMANDS = ("linear", "constant_elasticity")
_REBATE_CHOICE = ("schedule", "menu")
_TOL = 1e-6


def _near(name: str, options) -> str:
    close = difflib.get_close_matches(str(name), [str(o) for o in options], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _pair(name: str, value) -> tuple[float, float]:
    try:
        lo, hi = value
    except (TypeError, ValueError):
        raise SettingsError(f"{name} must be a (low, high) pair, got {value!r}.") from None
    lo = -math.inf if lo is None else float(lo)
    hi = math.inf if hi is None else float(hi)
    if math.isnan(lo) or math.isnan(hi) or lo > hi:
        raise SettingsError(f"{name} must satisfy low <= high, got {value!r}.")
    return lo, hi


def _spaced(x: np.ndarray, width: float, gap: float) -> np.ndarray:
    """Breakpoints at least ``gap`` apart, from 0 to ``width``.

    The fitter's grid is geometric near 0 (made for response curves); a price segment
    of 1e-8 sits inside the solver's feasibility tolerance, and a gate row on it lets
    an unchosen piece fill. The error is measured again on the kept points.
    """
    keep = [0.0]
    for v in np.asarray(x, dtype=float).tolist()[1:]:
        if v - keep[-1] >= gap:
            keep.append(v)
    if width - keep[-1] < gap and len(keep) > 1:
        keep[-1] = width
    elif keep[-1] < width:
        keep.append(width)
    return np.asarray(keep)


def _second_difference(fn, width: float) -> float:
    """The (constant) second derivative of a quadratic ``fn`` on ``[0, width]``."""
    y = fn(np.array([0.0, 0.5 * width, width]))
    return float(4.0 * (y[0] - 2.0 * y[1] + y[2]) / (width * width))


class _Shifted:
    """``f(a + x)`` for the PWL fitter, which works on ``[0, width]``."""

    def __init__(self, fn, a: float) -> None:
        self.fn, self.a = fn, a

    def __call__(self, x):
        return self.fn(self.a + np.asarray(x, dtype=float))


class _Cells:
    """Validated cells: demand curves, price ranges (and what sets them), rebate pieces."""

    def __init__(self, model: PricePlan, net) -> None:
        cells = model.cells
        if cells is None:
            raise SettingsError(f"PricePlan needs cells: a DataFrame with {list(_REQUIRED)} (one row per region x "
                                f"channel; see channelopt.pricing.synthetic_price_cells for an example).")
        if not isinstance(cells, pd.DataFrame):
            raise SettingsError(f"cells must be a pandas DataFrame, got {type(cells).__name__}.")
        if not len(cells):
            raise ValidationError("cells is empty: give at least one region x channel price cell.")
        points = model.demand if isinstance(model.demand, pd.DataFrame) else None
        if points is None and model.demand not in _DEMANDS:
            raise SettingsError(f"demand must be 'linear', 'constant_elasticity' or a DataFrame of points "
                                f"(region_id, channel, price, volume), got {model.demand!r}"
                                f"{_near(model.demand, _DEMANDS)}.")
        needed = [c for c in _REQUIRED if points is None or c not in ("base_volume", "elasticity")]
        missing = [c for c in needed if c not in cells.columns]
        if missing:
            hint = "".join(_near(c, cells.columns) for c in missing)
            raise ValidationError(f"cells lack column(s) {missing}{hint}; a price cell needs {list(needed)} "
                                  f"(prices in one currency per unit, volumes in units).", column=missing[0])
        self.frame = cells
        n = self.n = len(cells)
        self.region = cells["region_id"].to_numpy(dtype=object)
        self.channel = cells["channel"].to_numpy(dtype=object)
        keys = pd.MultiIndex.from_arrays([self.region, self.channel])
        if keys.duplicated().any():
            dup = keys[keys.duplicated()].tolist()
            raise ValidationError(f"cells repeat (region_id, channel) {format_ids(dup)}; one row per cell.",
                                  column="region_id", ids=dup)
        self.key_index = {k: i for i, k in enumerate(keys.tolist())}
        num = {}
        for col in [c for c in _REQUIRED[2:] if c in cells.columns] + (
                ["current_price"] if "current_price" in cells.columns else []):
            arr = pd.to_numeric(cells[col], errors="coerce").to_numpy(dtype=float)
            bad = ~np.isfinite(arr) | ((arr < 0) & (col != "elasticity"))
            if col == "base_price":
                bad |= arr <= 0
            if col == "current_price":
                bad = (arr <= 0) | np.isinf(arr)
                bad &= ~np.isnan(arr)
            rows = np.flatnonzero(bad)
            if len(rows):
                raise ValidationError(f"cells.{col} must be a finite {'positive' if 'price' in col else 'non-negative'}"
                                      f" number; rows {format_ids(rows)} are not.", column=col, ids=rows)
            num[col] = arr
        self.unit_cost = num["unit_cost"]
        self.base_price = num["base_price"]
        clash = np.flatnonzero(num["price_min"] > num["price_max"])
        if len(clash):
            raise ValidationError(f"cells rows {format_ids(clash)} have price_min above price_max.",
                                  column="price_min", ids=clash)
        # Demand curves.
        if points is None:
            e = np.abs(num["elasticity"])  # -1.8 and 1.8 both mean: volume falls 1.8% per 1% of price
            q0 = num["base_volume"]
            maker = LinearDemand if model.demand == "linear" else ConstantElasticityDemand
            self.curves = [maker(float(p), float(q), float(k)) for p, q, k in
                           zip(self.base_price.tolist(), q0.tolist(), e.tolist())]
        else:
            self.curves = self._points(points)
        # Price range and what sets each side.
        lo = num["price_min"].copy()
        hi = num["price_max"].copy()
        lo_src = np.full(n, "price_min", dtype=object)
        hi_src = np.full(n, "price_max", dtype=object)

        def tighten(new_lo, new_hi, name):
            up = new_lo > lo
            lo[up], lo_src[up] = new_lo[up], name
            down = new_hi < hi
            hi[down], hi_src[down] = new_hi[down], name

        channels = list(pd.unique(self.channel))
        for ch, band in (model.national_bands or {}).items():
            if ch not in channels:
                raise SettingsError(f"national_bands names channel {ch!r} that no cell has; known: "
                                    f"{format_ids(channels)}{_near(ch, channels)}.")
            b_lo, b_hi = _pair(f"national_bands[{ch!r}]", band)
            inside = self.channel == ch
            tighten(np.where(inside, b_lo, -np.inf), np.where(inside, b_hi, np.inf), "national_band")
        if model.max_change is not None:
            if "current_price" not in cells.columns:
                raise SettingsError("max_change limits changes against the current price list: give cells a "
                                    "current_price column.")
            share = float(model.max_change)
            cur = num["current_price"]
            known = ~np.isnan(cur)
            tighten(np.where(known, cur * (1 - share), -np.inf), np.where(known, cur * (1 + share), np.inf),
                    "max_change")
        choke = np.array([c.choke for c in self.curves])
        tighten(np.full(n, -np.inf), choke, "choke_price")
        bad = np.flatnonzero(lo > hi + 1e-9 * (1 + np.abs(hi)))
        if len(bad):
            i = bad[0]
            raise InfeasibleError(
                f"cells {format_ids([(self.region[j], self.channel[j]) for j in bad])} have no allowed price: "
                f"(row {i}) {lo_src[i]} asks at least {lo[i]:,.6g} but {hi_src[i]} allows at most {hi[i]:,.6g}; "
                f"widen price_min/price_max, national_bands or max_change.",
                reasons=[f"empty price range in {len(bad)} cells"])
        hi = np.maximum(hi, lo)
        self.lo, self.hi, self.lo_src, self.hi_src = lo, hi, lo_src, hi_src
        self.region_ids = list(pd.unique(self.region))
        self.channel_ids = channels
        if net is not None:
            unknown = sorted(set(self.region_ids) - set(net.region_ids.tolist()), key=str)
            if unknown:
                raise ValidationError(f"cells name regions {format_ids(unknown)} that the network does not have.",
                                      column="region_id", ids=unknown)
        self._rebate_pieces(model)
        self._ladder(model)

    def _points(self, points: pd.DataFrame) -> list:
        miss = [c for c in ("region_id", "channel", "price", "volume") if c not in points.columns]
        if miss:
            raise ValidationError(f"demand points lack column(s) {miss}; give region_id, channel, price, volume "
                                  f"(at least two prices per cell).", column=miss[0])
        curves: list = [None] * self.n
        for (r, ch), g in points.groupby(["region_id", "channel"], sort=False):
            i = self.key_index.get((r, ch))
            if i is None:
                raise ValidationError(f"demand points name cell ({r!r}, {ch!r}) that cells do not have.",
                                      column="region_id", ids=[(r, ch)])
            g = g.sort_values("price")
            p = g["price"].to_numpy(dtype=float)
            q = g["volume"].to_numpy(dtype=float)
            if len(p) < 2 or (np.diff(p) <= 0).any() or (np.diff(q) > 0).any() or (q < 0).any() \
                    or not np.isfinite(np.concatenate([p, q])).all():
                raise ValidationError(f"demand points of cell ({r!r}, {ch!r}) need at least two distinct prices "
                                      f"and non-negative volumes that do not rise with price.", column="volume",
                                      ids=[(r, ch)])
            curves[i] = PointsDemand(tuple(p.tolist()), tuple(q.tolist()))
        lost = [(self.region[i], self.channel[i]) for i in range(self.n) if curves[i] is None]
        if lost:
            raise ValidationError(f"demand points give no curve for cells {format_ids(lost)}.", column="region_id",
                                  ids=lost)
        return curves

    def _rebate_pieces(self, model: PricePlan) -> None:
        """Per cell, the tiers it may reach: net-price factor, rebate and list-price domain."""
        n = self.n
        tiers = [("none", 0.0)]
        thr = np.zeros((n, 1))
        reb = np.zeros((n, 1))
        if model.rebates is not None:
            tiers, thr, reb = self._parse_rebates(model.rebates)
        self.tier_names = [t for t, _ in tiers]
        k = len(tiers)
        menu = model.rebate_choice == "menu"
        pc, pt, pa, pb = [], [], [], []
        for i in range(n):
            curve = self.curves[i]
            # Highest net price at which the volume reaches each tier's threshold.
            cap = np.array([curve.max_price(float(t)) if t > 0 else np.inf for t in thr[i]])
            order = np.argsort(thr[i], kind="stable")
            for pos, t in enumerate(order.tolist()):
                if t > 0 and thr[i, t] <= 0 and not menu:
                    continue  # a tier this cell's channel does not list
                f = 1.0 - reb[i, t]
                top = cap[t]
                if menu:
                    bottom = -np.inf
                else:
                    # Schedule: a distributor reaching the next threshold gets the next tier.
                    higher = [u for u in order[pos + 1:].tolist() if thr[i, u] > thr[i, t]]
                    nxt = cap[higher[0]] if higher else -np.inf
                    bottom = nxt + _TOL * (1 + abs(nxt)) if np.isfinite(nxt) else -np.inf
                a = max(self.lo[i], bottom / f)
                b = min(self.hi[i], top / f)
                if a <= b + 1e-12:
                    pc.append(i)
                    pt.append(t)
                    pa.append(a)
                    pb.append(max(a, b))
        self.piece_cell = np.asarray(pc, dtype=np.int64)
        self.piece_tier = np.asarray(pt, dtype=np.int64)
        self.piece_a = np.asarray(pa, dtype=float)
        self.piece_b = np.asarray(pb, dtype=float)
        self.piece_rebate = reb[self.piece_cell, self.piece_tier]
        self.piece_factor = 1.0 - self.piece_rebate
        self.threshold = thr
        self.rebate = reb
        self.n_tiers = k
        orphan = np.setdiff1d(np.arange(n), self.piece_cell)
        if len(orphan):
            raise InfeasibleError(f"cells {format_ids([(self.region[i], self.channel[i]) for i in orphan])} have "
                                  f"no price in their range that any rebate tier allows.",
                                  reasons=["rebate tiers leave no price"])

    def _parse_rebates(self, rebates: pd.DataFrame):
        if not isinstance(rebates, pd.DataFrame):
            raise SettingsError(f"rebates must be a DataFrame with tier, threshold (or threshold_share) and rebate, "
                                f"got {type(rebates).__name__}.")
        if "rebate" not in rebates.columns or not ({"threshold", "threshold_share"} & set(rebates.columns)):
            raise ValidationError(f"rebates needs columns rebate (share of the price, 0.03 = 3%) and threshold "
                                  f"(volume units) or threshold_share (share of base_volume); has "
                                  f"{list(rebates.columns)}.", column="rebate")
        r = pd.to_numeric(rebates["rebate"], errors="coerce").to_numpy(dtype=float)
        bad = np.flatnonzero(~(r >= 0) | ~(r < 1))
        if len(bad):
            raise ValidationError(f"rebates.rebate must be a share in [0, 1) (0.03 = 3%); rows {format_ids(bad)} "
                                  f"are not.", column="rebate", ids=bad)
        col = "threshold" if "threshold" in rebates.columns else "threshold_share"
        t = pd.to_numeric(rebates[col], errors="coerce").to_numpy(dtype=float)
        bad = np.flatnonzero(~np.isfinite(t) | (t <= 0))
        if len(bad):
            raise ValidationError(f"rebates.{col} must be positive; rows {format_ids(bad)} are not.", column=col,
                                  ids=bad)
        names = (rebates["tier"].astype(str).tolist() if "tier" in rebates.columns
                 else [f"tier{j + 1}" for j in range(len(rebates))])
        if "channel" in rebates.columns:
            chans = rebates["channel"].tolist()
            unknown = sorted({c for c in chans if c not in set(self.channel_ids)}, key=str)
            if unknown:
                raise ValidationError(f"rebates names channels {unknown} that no cell has; known "
                                      f"{self.channel_ids}.", column="channel", ids=unknown)
        else:
            chans = [None] * len(rebates)
        seen = set()
        for nm, c in zip(names, chans):
            if (nm, c) in seen:
                raise ValidationError(f"rebates lists tier {nm!r} twice{'' if c is None else f' for {c!r}'}.",
                                      column="tier", ids=[nm])
            seen.add((nm, c))
        tier_names = list(dict.fromkeys(names))
        if "none" in tier_names:
            raise ValidationError("rebates: 'none' is the name of the no-rebate tier; rename that tier.",
                                  column="tier")
        k = 1 + len(tier_names)
        thr = np.zeros((self.n, k))
        reb = np.zeros((self.n, k))
        base = (pd.to_numeric(self.frame["base_volume"], errors="coerce").to_numpy(dtype=float)
                if "base_volume" in self.frame.columns else None)
        if col == "threshold_share" and base is None:
            raise ValidationError("rebates.threshold_share needs cells.base_volume.", column="threshold_share")
        for nm, c, tv, rv in zip(names, chans, t.tolist(), r.tolist()):
            j = 1 + tier_names.index(nm)
            rows = slice(None) if c is None else (self.channel == c)
            thr[rows, j] = tv * (base[rows] if col == "threshold_share" else 1.0)
            reb[rows, j] = rv
        # Tiers a channel does not list: unreachable (threshold inf) unless menu keeps them as "no rebate".
        listed = np.zeros((self.n, k), dtype=bool)
        listed[:, 0] = True
        for nm, c in zip(names, chans):
            j = 1 + tier_names.index(nm)
            listed[slice(None) if c is None else (self.channel == c), j] = True
        thr[~listed] = 0.0
        reb[~listed] = 0.0
        return [("none", 0.0)] + [(nm, 0.0) for nm in tier_names], thr, reb

    def _ladder(self, model: PricePlan) -> None:
        """Allowed price points per cell (None without a ladder)."""
        self.points = None
        spec = model.price_points
        col = "price_points" in self.frame.columns
        if spec is None and not col:
            return
        out = []
        for i in range(self.n):
            if col and self.frame["price_points"].iloc[i] is not None and np.ndim(self.frame["price_points"].iloc[i]):
                raw = self.frame["price_points"].iloc[i]
            elif isinstance(spec, Mapping):
                raw = spec.get(self.channel[i])
                if raw is None:
                    raise SettingsError(f"price_points gives no ladder for channel {self.channel[i]!r}; give one for "
                                        f"every channel or a single list.")
            else:
                raw = spec
            pts = np.unique(np.asarray(raw, dtype=float))
            if not np.isfinite(pts).all():
                raise SettingsError(f"price_points must be finite prices, got {raw!r}.")
            keep = pts[(pts >= self.lo[i] - 1e-9) & (pts <= self.hi[i] + 1e-9)]
            out.append(keep)
        empty = [i for i in range(self.n) if not len(out[i])]
        if empty:
            i = empty[0]
            raise InfeasibleError(f"cells {format_ids([(self.region[j], self.channel[j]) for j in empty])} have no "
                                  f"price point inside their range (row {i}: [{self.lo[i]:,.6g}, {self.hi[i]:,.6g}]);"
                                  f" add points or widen the range.", reasons=["empty price ladder"])
        self.points = out


class PricePlan(Model):
    """Wholesale prices per region x channel cell that leave no profitable diversion.

    Parameters
    ----------
    cells : DataFrame
        One row per cell: ``region_id``, ``channel``, ``unit_cost``, ``base_price``,
        ``base_volume`` (volume at the base price), ``elasticity`` (price elasticity
        at the base point; its sign is ignored), ``price_min``, ``price_max``; optional
        ``current_price`` (for ``max_change``) and ``price_points`` (a list per cell).
    demand : {"linear", "constant_elasticity"} or DataFrame, default "linear"
        Volume as a function of the net price (see :mod:`channelopt.pricing.demand`),
        or points ``region_id, channel, price, volume`` per cell (straight lines between).
    objective : {"margin", "revenue", "volume"}, default "margin"
        Maximise ``sum (net price - unit_cost) * volume``, ``sum net price * volume``,
        or the total volume subject to ``margin_floor``.
    margin_floor : float, optional
        Least total margin (required with ``objective="volume"``, allowed with the others).
    diversion_cost : DataFrame or mapping, optional
        ``from_region, to_region, cost`` per unit moved, or ``{"per_km": x, "handling": h}``
        (cost from the network's adjacency and distances; ``solve(net)``). For every pair
        and channel both ``p_to - p_from <= cost(from -> to)`` and the reverse hold (a
        pair listed one way costs the same both ways).
    channel_gaps : mapping, optional
        ``{("modern_ka", "traditional"): (lo, hi)}``: in every region with both cells,
        ``lo <= p_modern_ka - p_traditional <= hi`` (None leaves a side open). A third
        element ``"relative"`` reads the bounds as shares of the second price:
        ``lo <= (p_a - p_b) / p_b <= hi``.
    national_bands : mapping channel -> (lo, hi), optional
        List prices of that channel stay within ``[lo, hi]`` everywhere.
    max_change : float, optional
        List prices stay within ``current_price * (1 ± max_change)`` (0.05 = ±5%).
    price_points : sequence or mapping channel -> sequence, optional
        The allowed list prices (e.g. ending in .9): one binary per point in range (MILP;
        exact, no PWL error).
    rebates : DataFrame, optional
        Volume rebate (返利) tiers: ``tier``, ``threshold`` (volume) or
        ``threshold_share`` (share of ``base_volume``), ``rebate`` (share of the list
        price), optional ``channel``. The net price is ``price * (1 - rebate)`` of the
        tier the cell's volume reaches; demand responds to the net price and corridors
        hold on net prices at the expected volumes.
    rebate_choice : {"schedule", "menu"}, default "schedule"
        ``"schedule"``: every cell gets the highest tier its volume reaches.
        ``"menu"``: the model chooses one tier per region (territory) for all its
        cells, each of which must reach that tier's threshold (binaries).
    pwl_tol : float, default 1e-3
        Largest PWL error of each piece's objective, as a share of its range over the
        piece's prices. The plan reports the bound this gives on the true optimum.
    max_segments : int, default 60
        Cap on PWL segments per piece.
    shadow_prices : bool, default True
        Report shadow prices of the binding corridors in ``plan.corridors``: the objective
        gained per unit the corridor's limit is relaxed (price units; per 1.0 of share for
        relative gaps). LP duals; for a MILP (ladders, rebate tiers, non-concave pieces),
        duals of the LP with the integer choices fixed at the plan's (one extra LP solve;
        ``metrics["shadow_price_method"]`` says which).

    Notes
    -----
    Per cell and reachable tier ``t`` (its rebate ``r_t``) a piece: the list prices
    ``[a_t, b_t]`` at which the cell's volume is in that tier, with breakpoints ``x_tk``.
    A concave piece is a convex combination ``lambda_tk >= 0``, ``sum_k lambda_tk = u_t``
    (``u_t`` binary when the cell has several pieces, one per region and tier with
    ``rebate_choice="menu"``, else 1): list price ``p = sum lambda_tk x_tk``, net price
    ``n = sum (1 - r_t) lambda_tk x_tk``, objective ``sum lambda_tk F_t(x_tk)``; this is
    exact for concave pieces and as tight as disaggregated segments. A non-concave piece
    (e.g. margin under constant elasticity) uses segments ``d_tj in [0, L_tj]`` with the
    incremental binaries ``d_{j-1} >= L_{j-1} y_j``, ``d_j <= L_j y_j``. Corridors are rows
    on the net prices. ``objective_upper_bound`` adds the pieces' measured PWL errors to
    the solver's bound: no price list can earn more.

    Examples
    --------
    >>> import pandas as pd
    >>> import channelopt as co
    >>> cells = pd.DataFrame({"region_id": ["a", "b"], "channel": "ka", "unit_cost": 6.0, "base_price": 10.0,
    ...                       "base_volume": [100.0, 300.0], "elasticity": [3.0, 1.5], "price_min": 7.0,
    ...                       "price_max": 14.0})
    >>> cost = pd.DataFrame({"from_region": ["a"], "to_region": ["b"], "cost": [0.5]})
    >>> plan = co.PricePlan(cells=cells, diversion_cost=cost, pwl_tol=1e-4).solve(solver=co.Solver("highs"))
    >>> plan.prices[["region_id", "price", "binding"]].round(2).to_string(index=False)
    'region_id  price           binding\\n        a  10.35 diversion a->b ka\\n        b  10.85 diversion a->b ka'
    >>> round(float(plan.corridors.loc[plan.corridors["binding"], "shadow_price"].iloc[0]), 1)
    39.5
    """

    kind = "price_plan"
    sense = pulp.LpMaximize

    def __init__(
        self,
        *,
        cells: pd.DataFrame | None = None,
        demand: str | pd.DataFrame = "linear",
        objective: str = "margin",
        margin_floor: float | None = None,
        diversion_cost: pd.DataFrame | Mapping | None = None,
        channel_gaps: Mapping | None = None,
        national_bands: Mapping | None = None,
        max_change: float | None = None,
        price_points: Sequence | Mapping | None = None,
        rebates: pd.DataFrame | None = None,
        rebate_choice: str = "schedule",
        pwl_tol: float = 1e-3,
        max_segments: int = 60,
        shadow_prices: bool = True,
    ) -> None:
        self.cells = cells
        self.demand = demand
        self.objective = objective
        self.margin_floor = margin_floor
        self.diversion_cost = diversion_cost
        self.channel_gaps = channel_gaps
        self.national_bands = national_bands
        self.max_change = max_change
        self.price_points = price_points
        self.rebates = rebates
        self.rebate_choice = rebate_choice
        self.pwl_tol = pwl_tol
        self.max_segments = max_segments
        self.shadow_prices = shadow_prices

    # ------------------------------------------------------------------ checks
    def _check_settings(self) -> None:
        if self.objective not in _OBJECTIVES:
            raise SettingsError(f"objective must be one of {_OBJECTIVES}, got {self.objective!r}"
                                f"{_near(self.objective, _OBJECTIVES)}.")
        if self.objective == "volume" and self.margin_floor is None:
            raise SettingsError("objective='volume' needs margin_floor (the least total margin to keep).")
        if self.margin_floor is not None and not math.isfinite(float(self.margin_floor)):
            raise SettingsError(f"margin_floor must be a finite number, got {self.margin_floor!r}.")
        if self.rebate_choice not in _REBATE_CHOICE:
            raise SettingsError(f"rebate_choice must be one of {_REBATE_CHOICE}, got {self.rebate_choice!r}"
                                f"{_near(self.rebate_choice, _REBATE_CHOICE)}.")
        if not (isinstance(self.pwl_tol, (int, float)) and 0 < self.pwl_tol < 1):
            raise SettingsError(f"pwl_tol must be a share in (0, 1), got {self.pwl_tol!r} (1e-3 = 0.1% of each "
                                f"piece's objective range).")
        if int(self.max_segments) < 1:
            raise SettingsError(f"max_segments must be at least 1, got {self.max_segments!r}.")
        if self.max_change is not None and not (isinstance(self.max_change, (int, float)) and
                                                0 <= self.max_change < 1):
            raise SettingsError(f"max_change must be a share in [0, 1) (0.05 = ±5%), got {self.max_change!r}.")
        if self.national_bands is not None and not isinstance(self.national_bands, Mapping):
            raise SettingsError("national_bands must be a mapping channel -> (lo, hi).")
        if self.channel_gaps is not None and not isinstance(self.channel_gaps, Mapping):
            raise SettingsError("channel_gaps must be a mapping (channel_a, channel_b) -> (lo, hi).")

    def _gaps(self, cells: _Cells) -> list[tuple[str, str, float, float, bool]]:
        out = []
        for key, spec in (self.channel_gaps or {}).items():
            try:
                a, b = key
            except (TypeError, ValueError):
                raise SettingsError(f"channel_gaps keys are (channel_a, channel_b) pairs, got {key!r}.") from None
            for ch in (a, b):
                if ch not in cells.channel_ids:
                    raise SettingsError(f"channel_gaps names channel {ch!r} that no cell has; known: "
                                        f"{format_ids(cells.channel_ids)}{_near(ch, cells.channel_ids)}.")
            relative = False
            if isinstance(spec, Sequence) and len(spec) == 3:
                kind = spec[2]
                if kind not in ("relative", "absolute"):
                    raise SettingsError(f"channel_gaps[{key!r}]: the third element must be 'relative' or "
                                        f"'absolute', got {kind!r}.")
                relative = kind == "relative"
                spec = spec[:2]
            lo, hi = _pair(f"channel_gaps[{key!r}]", spec)
            out.append((a, b, lo, hi, relative))
        return out

    def _check(self, net) -> None:
        self._check_settings()
        cells = _Cells(self, net)
        self._gaps(cells)
        table = resolve_costs(self.diversion_cost, net, cells.region_ids)
        if table is not None:
            directed_costs(table, cells.region_ids)

    # ------------------------------------------------------------------ build
    def _functions(self, cells: _Cells, k: int):
        """Objective and margin of piece ``k`` as functions of the list price."""
        i = int(cells.piece_cell[k])
        f = float(cells.piece_factor[k])
        c = float(cells.unit_cost[i])
        q = cells.curves[i]

        def margin(p):
            n = f * np.asarray(p, dtype=float)
            return (n - c) * q(n)

        if self.objective == "margin":
            obj = margin
        elif self.objective == "revenue":
            def obj(p):
                n = f * np.asarray(p, dtype=float)
                return n * q(n)
        else:
            def obj(p):
                return q(f * np.asarray(p, dtype=float))
        return obj, margin

    def _breakpoints(self, cells: _Cells):
        """Shared breakpoints of each piece and the achieved error of every function on them."""
        m = len(cells.piece_cell)
        width = cells.piece_b - cells.piece_a
        fns = [self._functions(cells, k) for k in range(m)]
        need_margin = self.margin_floor is not None and self.objective != "margin"
        xs: list = [np.array([0.0])] * m
        wide = np.flatnonzero(width > 1e-12)
        rel = float(self.pwl_tol)
        grid = _GRID[::4]
        for which in (0, 1) if need_margin else (0,):
            curves, tol = [], []
            for k in wide.tolist():
                fn = _Shifted(fns[k][which], cells.piece_a[k])
                y = fn(width[k] * grid)
                rng = float(np.ptp(y))
                tol.append(rel * max(rng, 1e-9 * (1.0 + float(np.abs(y).max()))))
                curves.append(fn)
            if not curves:
                break
            tol = np.asarray(tol)
            if isinstance(self.demand, str) and self.demand == "linear":
                # Under linear demand every function here is a quadratic in the price: uniform
                # breakpoints are optimal and h**2 |F''| / 8 is their exact error, so the count
                # follows in closed form (the error is still measured on the fine grid below).
                curv = np.array([abs(_second_difference(c, float(width[k]))) for c, k in zip(curves, wide.tolist())])
                segs = np.ceil(width[wide] * np.sqrt(curv / (8.0 * np.maximum(tol, 1e-300))))
                segs = np.clip(segs, 1, int(self.max_segments)).astype(int)
                found = [np.linspace(0.0, width[k], n + 1) for k, n in zip(wide.tolist(), segs.tolist())]
            else:
                table = approximate(curves, width[wide], tol, max_segments=int(self.max_segments))
                found = table.xs
            for r, k in enumerate(wide.tolist()):
                xs[k] = np.union1d(xs[k], found[r]) if which else found[r]
        for k in wide.tolist():
            xs[k] = _spaced(xs[k], float(width[k]), max(1e-4 * float(width[k]), 1e-5 * (1.0 + abs(cells.piece_a[k]))))
        # Evaluate each function at the breakpoints and measure its error on a fine grid.
        ys_obj, ys_marg, err_obj, err_marg = [], [], np.zeros(m), np.zeros(m)
        for k in range(m):
            x = xs[k]
            if width[k] > 1e-12 and x[-1] < width[k]:
                x = xs[k] = np.append(x, width[k])
            obj, marg = fns[k]
            p = cells.piece_a[k] + x
            ys_obj.append(obj(p))
            ys_marg.append(marg(p))
            if len(x) > 1:
                fine = cells.piece_a[k] + width[k] * _GRID
                err_obj[k] = float(np.abs(obj(fine) - np.interp(fine, p, ys_obj[k])).max())
                err_marg[k] = float(np.abs(marg(fine) - np.interp(fine, p, ys_marg[k])).max())
        return xs, ys_obj, ys_marg, err_obj, err_marg

    def _build_arrays(self, net, ap: ArrayProblem) -> dict[str, Any]:
        cells = _Cells(self, net)
        bp = self._breakpoints(cells) if cells.points is None else None
        state = assemble(self, ap, cells, bp, net)
        state.update(bp=bp, net=net)
        return state

    def _variant(self, state: dict[str, Any], **how) -> ArrayProblem:
        """The model again as arrays, changed as :func:`.formulation.assemble` is told (a side solve)."""
        ap = ArrayProblem(self.kind, self.sense)
        assemble(self, ap, state["cells"], state["bp"], state["net"], **how)
        return ap

    def _warm_start(self, net, state: dict[str, Any]) -> dict | None:
        """Menu: every region on the no-rebate tier (feasible whenever the corridors are); HiGHS completes it."""
        w = state.get("w")
        if not w:
            return None
        start = np.zeros(w.shape)
        start[:, 0] = 1.0
        return {w: start}

    # ------------------------------------------------------------------ diagnosis
    def _diagnose(self, net, state: dict[str, Any]) -> list[str]:
        """Drop one family of corridor rows at a time to name the ones that conflict."""
        present = {"diversion corridors": any(r[0] == "diversion" for r in state["rows"]),
                   "channel_gaps": any(r[0] != "diversion" for r in state["rows"]), "margin_floor": state["floor"]}
        reasons = []
        for name in FAMILIES:
            if not present[name]:
                continue
            info = Solver("highs", time_limit=60).solve(self._variant(state, drop=(name,)))
            if info.has_solution:
                reasons.append(self._conflict(name))
        return reasons

    @staticmethod
    def _conflict(name: str) -> str:
        return (f"the {name} cannot hold together with the price ranges (price_min/price_max, national_bands, "
                f"max_change) and the other rules; without them a plan exists — widen the ranges or loosen the "
                f"{name}")

    # ------------------------------------------------------------------ plan
    def _duals(self, state: dict[str, Any], info: SolveInfo) -> tuple[np.ndarray, str]:
        rows = state["rows"]
        if not rows or not self.shadow_prices:
            return np.full(len(rows), np.nan), "none"
        return self._duals_arrays(state, info)

    def _duals_arrays(self, state: dict[str, Any], info: SolveInfo) -> tuple[np.ndarray, str]:
        at = np.array([r[4] for r in state["rows"]], dtype=np.int64)
        if info.n_integer == 0:
            duals = state["ap"].duals
            if duals is None:
                return np.full(len(at), np.nan), "lp_dual"
            return np.asarray(duals, dtype=float)[at], "lp_dual"
        # the LP with every binary fixed at the plan's value
        fix = {g: np.round(np.nan_to_num(b.value)) for g, b in state["blocks"].items()
               if not g.startswith("row:") and g in ("w", "u", "y", "z")}
        lp = self._variant(state, fix=fix)
        again = Solver(info.solver).solve(lp)
        if not again.has_solution or lp.duals is None:
            return np.full(len(at), np.nan), "lp_with_integers_fixed"
        return np.asarray(lp.duals, dtype=float)[at], "lp_with_integers_fixed"

    def _extract(self, net, state: dict[str, Any], info: SolveInfo) -> Plan:
        cells: _Cells = state["cells"]
        n = cells.n
        price = np.nan_to_num(values(state["p_var"]))
        net_price = np.nan_to_num(values(state["n_var"]))
        # The piece (tier) each cell ended on.
        tier = np.zeros(n, dtype=np.int64)
        sol = state["ap"].solution
        if cells.points is not None:
            z = np.round(np.nan_to_num(sol[state["opt_cols"]]))
            chosen = np.flatnonzero(z > 0.5)
            tier[state["opt_cell"][chosen]] = cells.piece_tier[state["opt_piece"][chosen]]
            price[state["opt_cell"][chosen]] = state["opt_price"][chosen]
        else:
            gate = state["gate_col"]
            one = gate < 0
            chosen = one.copy()
            chosen[~one] = np.nan_to_num(sol[gate[~one]]) > 0.5
            # in piece order, the last chosen piece of a cell wins
            tier[cells.piece_cell[chosen]] = cells.piece_tier[chosen]
        rebate = cells.rebate[np.arange(n), tier]
        net_price = price * (1.0 - rebate)
        volume = np.array([float(c(p)) for c, p in zip(cells.curves, net_price.tolist())])
        unit_margin = net_price - cells.unit_cost
        out = cells.frame.copy()
        out["price"] = price
        out["tier"] = [cells.tier_names[t] for t in tier.tolist()]
        out["rebate"] = rebate
        out["net_price"] = net_price
        out["volume"] = volume
        out["revenue"] = net_price * volume
        out["unit_margin"] = unit_margin
        out["margin"] = unit_margin * volume
        out["price_low"] = cells.lo
        out["price_high"] = cells.hi
        # Binding rules per cell: corridor rows at zero slack and the range sides met.
        rows = state["rows"]
        duals, method = self._duals(state, info)
        binding = [[] for _ in range(n)]
        records = []
        for (kind, fr, to, ch, _con, limit, a, b, relative), pi in zip(rows, duals.tolist()):
            if kind == "diversion":
                value = net_price[b] - net_price[a]
                slack = limit - value
                label = f"diversion {fr}->{to} {ch}"
            else:
                value = (net_price[a] - net_price[b]) / net_price[b] if relative else net_price[a] - net_price[b]
                slack = (limit - value) if kind.endswith("hi") else (value - limit)
                label = f"gap {ch} {'max' if kind.endswith('hi') else 'min'} in {fr}"
            tight = bool(slack <= _TOL * (1.0 + abs(limit)) * (1.0 + (net_price[b] if relative else 0.0)))
            if slack < -1e-5 * (1.0 + abs(limit)):
                raise SolverError(f"the solver's plan breaks the corridor {label}: value {value:,.6g} against "
                                  f"limit {limit:,.6g}; rerun with Solver(msg=True) to inspect.")
            # Objective per unit the limit is relaxed; a relative gap's row is n_a - (1 + lim) n_b,
            # so one unit of share moves its right-hand side by n_b.
            shadow = abs(pi) * (net_price[b] if relative else 1.0) if tight and math.isfinite(pi) else 0.0
            if tight:
                binding[a].append(label)
                binding[b].append(label)
            records.append({"kind": kind.replace("_lo", "").replace("_hi", ""), "from_region": fr, "to_region": to,
                            "channel": ch, "side": "max" if kind != "channel_gap_lo" else "min",
                            "value": value, "limit": limit, "slack": slack, "binding": tight,
                            "shadow_price": shadow})
        scale = _TOL * (1.0 + np.abs(price))
        at_lo = price <= cells.lo + scale
        at_hi = price >= cells.hi - scale
        if (price < cells.lo - 1e-5 * (1 + np.abs(cells.lo))).any() or \
                (price > cells.hi + 1e-5 * (1 + np.abs(cells.hi))).any():
            raise SolverError("the solver's plan puts prices outside their allowed ranges.")
        for i in np.flatnonzero(at_lo).tolist():
            binding[i].append(str(cells.lo_src[i]))
        for i in np.flatnonzero(at_hi & ~at_lo).tolist():
            binding[i].append(str(cells.hi_src[i]))
        out["binding"] = ["; ".join(dict.fromkeys(b)) for b in binding]
        corridors = pd.DataFrame(records, columns=["kind", "from_region", "to_region", "channel", "side", "value",
                                                   "limit", "slack", "binding", "shadow_price"])
        # A cell's error bound is the largest of its pieces' (only one piece is used).
        err_cell = pd.Series(state["err_obj"]).groupby(cells.piece_cell).max().reindex(range(n)).fillna(0.0)
        err_obj = err_cell.to_numpy()
        out["pwl_max_error"] = err_obj
        objective_col = {"margin": "margin", "revenue": "revenue", "volume": "volume"}[self.objective]
        true_obj = float(out[objective_col].sum())
        bound_err = float(err_obj.sum())
        margin_total = float(out["margin"].sum())
        if self.margin_floor is not None:
            floor_err = float(pd.Series(state["err_marg"]).groupby(cells.piece_cell).max().sum())
            if margin_total < float(self.margin_floor) - floor_err - 1e-6 * (1 + abs(float(self.margin_floor))):
                raise SolverError(f"the plan's true margin {margin_total:,.6g} is below margin_floor beyond the "
                                  f"stated PWL error {floor_err:,.6g}.")
        overall: dict[str, Any] = {
            "objective_kind": self.objective,
            "objective_true": true_obj,
            "pwl_objective": float(info.objective),
            "pwl_error_bound": bound_err,
            "objective_upper_bound": float(info.bound) + bound_err if math.isfinite(info.bound) else math.nan,
            "margin": margin_total,
            "revenue": float(out["revenue"].sum()),
            "volume": float(volume.sum()),
            "rebate_paid": float((price * rebate * volume).sum()),
            "mean_price": float(np.average(price, weights=np.maximum(volume, 1e-12))),
            "corridor_rows": len(corridors),
            "binding_corridors": int(corridors["binding"].sum()) if len(corridors) else 0,
            "shadow_price_method": method,
            "cells": n,
            "binaries": info.n_integer,
        }
        by_channel = out.groupby("channel", sort=False).agg(
            mean_price=("price", "mean"), mean_net_price=("net_price", "mean"), volume=("volume", "sum"),
            revenue=("revenue", "sum"), margin=("margin", "sum"))
        by_region = out.groupby("region_id", sort=False).agg(
            volume=("volume", "sum"), revenue=("revenue", "sum"), margin=("margin", "sum"))
        metrics = Metrics(overall=overall, by_region=by_region, by_channel=by_channel)
        tables = {"prices": out, "corridors": corridors}
        if state.get("diversion") is not None:
            tables["diversion_cost"] = state["diversion"]
        return Plan(kind=self.kind, info=info, assignments=out, metrics=metrics, tables=tables, network=net)
