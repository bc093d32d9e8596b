"""AssortmentPlan: which products to list in which segment (channel type, or region x channel type), as a MILP.

One binary ``x_i`` per cell (segment x product) says the product is listed there.
Shelf space, must-carry, category ranges, a listing-fee budget, distributor capability
and channel-to-channel listing rules are rows or bounds on ``x``; cannibalisation
between two products listed in the same segment is priced exactly by one extra
variable per pair and segment; an optional category curve prices diminishing returns
in the number of products listed, exactly at every whole number of products.
"""

from __future__ import annotations

import logging
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
from ..models._pwl import approximate
from ..plan import Plan
from ..response import PointsCurve, as_curve
from ..solver import SolveInfo
from ._cells import Cells, as_pairs, suggest
from .distribution import sku_distribution

__all__ = ["AssortmentPlan"]

log = logging.getLogger("channelopt.models")

_OBJECTIVES = ("margin", "reach")


class _Setup:
    """Cells plus every setting turned into arrays, with forced and forbidden cells propagated."""

    def __init__(self, model: AssortmentPlan, net) -> None:
        if model.cells is None:
            raise SettingsError("AssortmentPlan needs cells: a DataFrame with channel (and optionally region_id), "
                                "product_id, category, volume, margin, listing_fee and shelf_units "
                                "(see channelopt.assortment.cells_from_catalogue).")
        c = self.cells = Cells(model.cells)
        if model.objective not in _OBJECTIVES:
            raise SettingsError(f"objective must be one of {_OBJECTIVES}, got {model.objective!r}"
                                f"{suggest(model.objective, _OBJECTIVES)}.")
        if model.objective == "reach" and model.min_margin is None:
            log.info("reach objective without min_margin: every constraint still applies")
        for name in ("listing_budget", "min_margin"):
            v = getattr(model, name)
            if v is not None and not (isinstance(v, (int, float, np.number)) and math.isfinite(v)):
                raise SettingsError(f"{name} must be a finite number (money), got {v!r}.")
        if model.listing_budget is not None and model.listing_budget < 0:
            raise SettingsError(f"listing_budget must be non-negative money, got {model.listing_budget!r}.")
        self.capacity = c.per_segment("shelf_capacity", model.shelf_capacity, unit="shelf units per outlet")
        self.lo = np.zeros(c.n)
        self.hi = np.ones(c.n)
        self.reasons: list[str] = []
        self._must_carry(model)
        self._carried(model)
        self.rules = self._rules(model)
        self.range_lo, self.range_hi = self._ranges(model)
        self.pairs = self._pairs(model)
        self.curves = self._curves(model)
        self.weight = self._weights(net)
        if net is not None and c.by_region:
            unknown = sorted(set(c.region.tolist()) - set(net.region_ids.tolist()), key=str)
            if unknown:
                raise ValidationError(f"cells name regions {format_ids(unknown)} that the network does not have.",
                                      column="region_id", ids=unknown)

    # ------------------------------------------------------------ settings
    def _must_carry(self, model) -> None:
        c = self.cells
        mc = model.must_carry
        if mc is None:
            self.must = {}
            return
        if isinstance(mc, Mapping):
            unknown = [k for k in mc if k not in set(c.channels)]
            if unknown:
                raise SettingsError(f"must_carry names channel(s) {format_ids(unknown)} that no cell has"
                                    f"{suggest(unknown[0], c.channels)}; channels: {format_ids(c.channels)}.")
            must = {ch: c.products_in(f"must_carry[{ch!r}]", _as_list(f"must_carry[{ch!r}]", p))
                    for ch, p in mc.items()}
        else:
            prods = c.products_in("must_carry", _as_list("must_carry", mc))
            must = dict.fromkeys(c.channels, prods)
        self.must = must
        have = set(zip(c.seg.tolist(), c.product.tolist()))
        lacking = []
        for s, ch in enumerate(c.seg_channel.tolist()):
            for p in must.get(ch, ()):
                if (s, p) not in have:
                    lacking.append((c.segment_keys[s], p))
        if lacking:
            raise InfeasibleError(
                f"must_carry products have no cell in {len(lacking)} segment(s), e.g. {format_ids(lacking, 5)} "
                f"(segment, product_id); must_carry applies in every segment of its channels: add those cells, or "
                f"give must_carry per channel ({{channel: [product_id, ...]}}).",
                reasons=[f"must-carry product {p!r} has no cell in segment {s!r}" for s, p in lacking[:20]])
        must_cells = np.zeros(c.n, dtype=bool)
        for ch, prods in must.items():
            must_cells |= (c.channel == ch) & np.isin(c.product, np.asarray(prods, dtype=object))
        self.lo[must_cells] = 1.0

    def _carried(self, model) -> None:
        c = self.cells
        carried = model.carried
        self.not_carried = np.zeros(c.n, dtype=bool)
        if carried is None:
            return
        if not isinstance(carried, pd.DataFrame):
            raise SettingsError(f"carried must be a DataFrame of (region_id, channel,) line or product_id rows where "
                                f"a signed distributor carries the line, got {type(carried).__name__}.")
        item = "line" if "line" in carried.columns else "product_id" if "product_id" in carried.columns else None
        if item is None:
            raise ValidationError(f"carried needs a 'line' or a 'product_id' column; it has {list(carried.columns)}"
                                  f"{suggest('line', carried.columns)}.", column="line")
        if item == "line" and "line" not in c.frame.columns:
            raise ValidationError("carried lists product lines, but cells have no 'line' column saying each "
                                  "product's line; add it (or give carried by product_id).", column="line")
        keys = [k for k in ("region_id", "channel") if k in carried.columns]
        if "region_id" in keys and not c.by_region:
            raise ValidationError("carried is by region_id but the cells are per channel only; drop carried's "
                                  "region_id or give cells per region_id x channel.", column="region_id")
        mine = c.frame[[*keys, item]].copy()
        mine["_row"] = np.arange(c.n)
        theirs = carried[[*keys, item]].drop_duplicates()
        hit = mine.merge(theirs, on=[*keys, item], how="inner")["_row"].to_numpy()
        ok = np.zeros(c.n, dtype=bool)
        ok[hit] = True
        self.not_carried = ~ok
        clash = np.flatnonzero(self.not_carried & (self.lo > 0))
        if len(clash):
            ids = [(c.segment_keys[c.seg[i]], c.product[i]) for i in clash]
            raise InfeasibleError(
                f"must-carry products are not carried by any signed distributor in {len(ids)} segment(s), e.g. "
                f"{format_ids(ids, 5)} (segment, product_id); sign a distributor carrying the line there or drop "
                f"the product from must_carry.",
                reasons=[f"must-carry {p!r} not carried in {s!r}" for s, p in ids[:20]])
        self.hi[self.not_carried] = 0.0

    def _rules(self, model) -> np.ndarray:
        """Pairs of cells (leader, follower): the leader listed implies the follower listed."""
        c = self.cells
        rules = as_pairs("channel_rules", model.channel_rules)
        out = []
        for a, b in rules:
            for ch in (a, b):
                if ch not in set(c.channels):
                    raise SettingsError(f"channel_rules names channel {ch!r} that no cell has"
                                        f"{suggest(ch, c.channels)}; channels: {format_ids(c.channels)}.")
            if a == b:
                raise SettingsError(f"channel_rules pair ({a!r}, {b!r}) ties a channel to itself; name two channels.")
            keys = ["region_id", "product_id"] if c.by_region else ["product_id"]
            frame = c.frame[keys].copy()
            frame["_row"] = np.arange(c.n)
            frame["_ch"] = c.channel
            lead = frame[frame["_ch"] == a]
            follow = frame[frame["_ch"] == b]
            m = lead.merge(follow, on=keys, how="left", suffixes=("", "_f"))
            # No follower cell: the product cannot be listed in the leader channel there.
            orphan = m["_row_f"].isna().to_numpy()
            self.hi[m["_row"].to_numpy()[orphan]] = 0.0
            both = m[~orphan]
            out.append(np.column_stack([both["_row"].to_numpy(), both["_row_f"].to_numpy().astype(np.int64)]))
        pairs = np.concatenate(out) if out else np.zeros((0, 2), dtype=np.int64)
        # Propagate: a forced leader forces its follower; a forbidden follower forbids its leader.
        for _ in range(len(rules) + 1):
            changed = False
            if len(pairs):
                up = self.lo[pairs[:, 0]] > self.lo[pairs[:, 1]]
                if up.any():
                    self.lo[pairs[up, 1]] = 1.0
                    changed = True
                down = self.hi[pairs[:, 1]] < self.hi[pairs[:, 0]]
                if down.any():
                    self.hi[pairs[down, 0]] = 0.0
                    changed = True
            if not changed:
                break
        clash = np.flatnonzero(self.lo > self.hi)
        if len(clash):
            ids = [(c.segment_keys[c.seg[i]], c.product[i]) for i in clash]
            raise InfeasibleError(
                f"{len(ids)} cell(s) must be listed (must_carry, or channel_rules from a must-carry cell) but cannot "
                f"be (not carried, or channel_rules with no listable cell in the follower channel), e.g. "
                f"{format_ids(ids, 5)}; relax must_carry or channel_rules there.",
                reasons=[f"cell {s!r} x {p!r} forced and forbidden" for s, p in ids[:20]])
        return pairs

    def _ranges(self, model) -> tuple[np.ndarray, np.ndarray]:
        """Min and max listed products per segment x category (code ``seg * n_cat + cat``)."""
        c = self.cells
        n_groups = c.n_seg * len(c.categories)
        lo = np.zeros(n_groups)
        hi = np.full(n_groups, math.inf)
        rng = model.category_range
        if rng is None:
            return lo, hi
        if not isinstance(rng, Mapping):
            raise SettingsError(f"category_range must be a mapping category -> (min, max), got {rng!r}.")
        for cat, pair in rng.items():
            if cat not in set(c.categories):
                raise SettingsError(f"category_range names category {cat!r} that no cell has"
                                    f"{suggest(cat, c.categories)}; categories: {format_ids(c.categories)}.")
            try:
                a, b = pair
            except (TypeError, ValueError):
                raise SettingsError(f"category_range[{cat!r}] must be a (min, max) pair of product counts, got "
                                    f"{pair!r}.") from None
            a = 0 if a is None else a
            b = math.inf if b is None else b
            if not (float(a) >= 0 and float(b) >= float(a)):
                raise SettingsError(f"category_range[{cat!r}] must satisfy 0 <= min <= max, got {pair!r}.")
            k = c.categories.index(cat)
            lo[k::len(c.categories)] = float(a)
            hi[k::len(c.categories)] = float(b)
        return lo, hi

    def _pairs(self, model) -> pd.DataFrame:
        """Cannibalising pairs expanded to the segments holding both products: cell_a, cell_b, loss."""
        c = self.cells
        table = model.cannibalisation
        empty = pd.DataFrame({"cell_a": np.zeros(0, np.int64), "cell_b": np.zeros(0, np.int64), "loss": []})
        if table is None:
            return empty
        if not isinstance(table, pd.DataFrame):
            raise SettingsError(f"cannibalisation must be a DataFrame with product_a, product_b, loss, got "
                                f"{type(table).__name__}.")
        missing = [k for k in ("product_a", "product_b", "loss") if k not in table.columns]
        if missing:
            raise ValidationError(f"cannibalisation lacks column(s) {missing}{suggest(missing[0], table.columns)}; "
                                  f"it needs product_a, product_b and loss (margin lost when both are listed in one "
                                  f"segment).", column=missing[0])
        loss = pd.to_numeric(table["loss"], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(loss)
        if bad.any():
            raise ValidationError(f"cannibalisation.loss must be a finite number (money per segment); rows "
                                  f"{format_ids(table.index[bad])} are not.", column="loss", ids=table.index[bad])
        same = (table["product_a"] == table["product_b"]).to_numpy()
        if same.any():
            raise ValidationError(f"cannibalisation rows {format_ids(table.index[same])} pair a product with itself.",
                                  column="product_b", ids=table.index[same])
        for col in ("product_a", "product_b"):
            unknown = sorted(set(table[col].tolist()) - set(c.products), key=str)
            if unknown:
                raise ValidationError(f"cannibalisation.{col} names product(s) {format_ids(unknown)} that no cell "
                                      f"has{suggest(unknown[0], c.products)}.", column=col, ids=unknown)
        keys = [k for k in c.keys if k in table.columns]
        t = table[[*keys, "product_a", "product_b"]].copy()
        t["loss"] = loss
        pidx = pd.Index(c.products)
        lo_p = np.where(pidx.get_indexer(t["product_a"]) < pidx.get_indexer(t["product_b"]),
                        t["product_a"], t["product_b"])
        hi_p = np.where(lo_p == t["product_a"].to_numpy(), t["product_b"], t["product_a"])
        t["product_a"], t["product_b"] = lo_p, hi_p
        dup = t.duplicated([*keys, "product_a", "product_b"], keep=False).to_numpy()
        if dup.any():
            raise ValidationError(f"cannibalisation lists a pair twice at rows {format_ids(table.index[dup])} "
                                  f"(pairs are unordered); give each pair once.", column="product_a",
                                  ids=table.index[dup])
        t = t[t["loss"] != 0]
        cells = c.frame[[*keys]].copy() if keys else pd.DataFrame(index=range(c.n))
        cells = cells.reset_index(drop=True)
        cells["product_id"] = c.product
        cells["_seg"] = c.seg
        cells["_row"] = np.arange(c.n)
        a = t.merge(cells.rename(columns={"product_id": "product_a"}), on=[*keys, "product_a"])
        b = cells[["_seg", "product_id", "_row"]].rename(columns={"product_id": "product_b", "_row": "cell_b"})
        m = a.rename(columns={"_row": "cell_a"}).merge(b, on=["_seg", "product_b"])
        return pd.DataFrame({"cell_a": m["cell_a"].to_numpy(np.int64), "cell_b": m["cell_b"].to_numpy(np.int64),
                             "loss": m["loss"].to_numpy(float)})

    def _curves(self, model) -> dict[str, Any] | None:
        c = self.cells
        spec = model.category_curve
        if spec is None:
            return None
        if not isinstance(spec, Mapping):
            raise SettingsError(f"category_curve must be a mapping category -> curve, got {spec!r}.")
        groups, gvals, nmax, cat_of = [], [], [], []
        ncat = len(c.categories)
        code = c.seg * ncat + c.cat
        at_stake = np.bincount(code, weights=np.maximum(c.volume * c.margin, 0.0), minlength=c.n_seg * ncat)
        count = np.bincount(code, minlength=c.n_seg * ncat)
        for cat, raw in spec.items():
            if cat not in set(c.categories):
                raise SettingsError(f"category_curve names category {cat!r} that no cell has"
                                    f"{suggest(cat, c.categories)}; categories: {format_ids(c.categories)}.")
            curve = as_curve(raw, f"category_curve[{cat!r}]")
            k = c.categories.index(cat)
            for s in range(c.n_seg):
                g = s * ncat + k
                if count[g] >= 1:
                    groups.append(g)
                    n = int(count[g])
                    gvals.append(np.asarray(curve(np.arange(n + 1, dtype=float)), dtype=float))
                    nmax.append(n)
                    cat_of.append(cat)
        if not groups:
            return None
        share = np.concatenate(gvals)
        if not np.isfinite(share).all():
            raise SettingsError("category_curve gives a non-finite loss share at some product count.")
        # The count of listed products is a whole number, so breakpoints at 0, 1, ..., n make the
        # piecewise-linear curve exact where it is used (error 0); the PWL table and its concavity
        # test are the ones BudgetAllocation uses. The curve is a loss, so its negative (the value
        # kept) is what must be concave for segments to fill in order without binaries.
        curves = [PointsCurve(np.arange(len(v), dtype=float), -v) for v in gvals]
        table = approximate(curves, np.asarray(nmax, dtype=float), 0.0, max_segments=max(nmax) + 1)
        return {"group": np.asarray(groups), "values": gvals, "table": table, "stake": at_stake[groups],
                "nmax": np.asarray(nmax), "category": cat_of}

    def _weights(self, net) -> np.ndarray:
        """Reach weight of each cell: its segment's potential (network, or cells.potential), else its volume."""
        c = self.cells
        if net is not None and getattr(net, "outlets", None) is not None:
            o = net.outlets
            pot = o.groupby(c.keys)["potential"].sum()
            keys = list(zip(c.region.tolist(), c.channel.tolist())) if c.by_region else c.channel.tolist()
            return pot.reindex(keys).fillna(0.0).to_numpy(dtype=float)
        if "potential" in c.frame.columns:
            w = pd.to_numeric(c.frame["potential"], errors="coerce").to_numpy(dtype=float)
            if not (np.isfinite(w).all() and (w >= 0).all()):
                raise ValidationError("cells.potential (the segment's sales potential, for reach) must be a "
                                      "non-negative number on every row.", column="potential")
            return w
        return c.volume.copy()

    # ------------------------------------------------------------ cheap feasibility checks
    def check_feasible(self, model) -> None:
        c = self.cells
        forced = self.lo > 0
        shelf = np.bincount(c.seg, weights=c.shelf * forced, minlength=c.n_seg)
        over = np.flatnonzero(shelf > self.capacity + 1e-9)
        if len(over):
            s = over[0]
            raise InfeasibleError(
                f"must-carry products need more shelf than shelf_capacity allows in {len(over)} segment(s), e.g. "
                f"{c.segment_keys[s]!r}: {shelf[s]:,.6g} > {self.capacity[s]:,.6g} shelf units per outlet; raise "
                f"shelf_capacity or shorten must_carry.",
                reasons=[f"segment {c.segment_keys[s]!r} must-carry shelf {shelf[s]:,.6g} > {self.capacity[s]:,.6g}"
                         for s in over[:20]])
        if model.listing_budget is not None:
            fees = float((c.fee * forced).sum())
            if fees > model.listing_budget + 1e-9:
                raise InfeasibleError(
                    f"must-carry listings cost {fees:,.6g} in fees, above listing_budget {model.listing_budget:,.6g}; "
                    f"raise listing_budget to at least {fees:,.6g} or shorten must_carry.",
                    reasons=[f"must-carry fees {fees:,.6g} > listing_budget {model.listing_budget:,.6g}"])
        ncat = len(c.categories)
        code = c.seg * ncat + c.cat
        n_forced = np.bincount(code, weights=forced.astype(float), minlength=c.n_seg * ncat)
        n_open = np.bincount(code, weights=(self.hi > 0).astype(float), minlength=c.n_seg * ncat)
        for what, bad, have in (("more products than its maximum are forced", n_forced > self.range_hi + 1e-9,
                                 n_forced),
                                ("fewer listable products than its minimum", n_open < self.range_lo - 1e-9, n_open)):
            idx = np.flatnonzero(bad)
            if len(idx):
                g = idx[0]
                seg, cat = c.segment_keys[g // ncat], c.categories[g % ncat]
                raise InfeasibleError(
                    f"category_range cannot hold in {len(idx)} segment x category group(s): {what}, e.g. segment "
                    f"{seg!r}, category {cat!r}: {int(have[g])} against range ({self.range_lo[g]:g}, "
                    f"{self.range_hi[g]:g}); category_range applies in every segment, so widen it or add/free cells.",
                    reasons=[f"segment {c.segment_keys[g // ncat]!r} category {c.categories[g % ncat]!r}: {what}"
                             for g in idx[:20]])


def _as_list(name: str, value) -> list:
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray, pd.Index, pd.Series, set)):
        raise SettingsError(f"{name} must be a list of product ids, got {value!r}.")
    return list(value)


class AssortmentPlan(Model):
    """Choose which products to list in each segment under shelf, range, fee and cannibalisation rules.

    Parameters
    ----------
    cells : DataFrame
        One row per segment x product: ``channel`` (and optionally ``region_id``: then a
        segment is a region x channel type), ``product_id``, ``category``, ``volume``
        (units sold in the segment when listed), ``margin`` (money per unit),
        ``listing_fee`` (money, paid when listed, e.g. KA 进场费) and ``shelf_units``
        (shelf units per outlet). Optional: ``line`` (for ``carried``), ``potential``
        (the segment's sales potential, for ``objective="reach"`` without a network).
    shelf_capacity : float or mapping, optional
        Shelf units per outlet of each segment: a number for all, ``{channel: units}``, or
        ``{(region_id, channel): units}`` (a segment entry overrides its channel's).
        Segments not named have no shelf limit.
    must_carry : list or mapping, optional
        Product ids listed in every segment, or ``{channel: [product_id, ...]}``.
    category_range : mapping, optional
        ``{category: (min, max)}`` products listed per segment (None for no bound on a side).
    listing_budget : float, optional
        Cap on the total listing fees paid.
    cannibalisation : DataFrame, optional
        ``product_a``, ``product_b``, ``loss``: margin lost in a segment when both are
        listed there (optionally ``channel`` / ``region_id`` columns restrict a row to
        those segments). A negative loss is a gain from listing both.
    carried : DataFrame, optional
        Where a signed distributor carries a product line: ``line`` (matching a cells
        column ``line``) or ``product_id``, with optional ``region_id`` and ``channel``.
        A cell is listable only if its row appears.
    channel_rules : list of (channel, channel), optional
        ``("modern_ka", "traditional")`` means a product listed in a region's KA segment
        must also be listed in its traditional segment (same region, same product).
    category_curve : mapping, optional
        ``{category: curve}``: ``curve(n)`` is the share of a segment's category value (the
        sum of volume x margin of the category's cells there) lost to overlap when ``n``
        of its products are listed: diminishing returns. A response curve or
        ``(counts, shares)`` points; modelled exactly at whole counts.
    objective : {"margin", "reach"}
        ``"margin"``: listed volume x margin - listing fees - cannibalisation loss.
        ``"reach"``: weighted distribution of the range (listed cells weighted by their
        segment's potential / the weight of all cells), usually with ``min_margin``.
    min_margin : float, optional
        Floor on the margin objective above (in either mode).

    Notes
    -----
    With ``x_i`` binary and ``y_k`` in [0, 1] for a pair ``(a, b)`` in one segment, the
    product ``x_a x_b`` is linearised exactly; see :meth:`_build_arrays` for the rows kept.
    ``plan.assortment`` holds the cells with ``listed``, ``shelf_used``, ``fee_paid``,
    ``gross_margin``, ``cannibalisation`` and ``value``; ``plan.by_segment``,
    ``plan.by_category`` and ``plan.segment_category`` the per-segment and per-category
    totals; solved with a network, ``plan.sku_distribution`` the 铺货率 per product.

    Examples
    --------
    >>> import pandas as pd
    >>> import channelopt as co
    >>> cells = pd.DataFrame({"channel": ["modern_ka"] * 3 + ["traditional"] * 3,
    ...     "product_id": ["tea", "juice", "water"] * 2, "category": ["drinks"] * 6,
    ...     "volume": [100, 80, 60, 50, 45, 90], "margin": [2.0, 2.5, 1.0, 2.0, 2.5, 1.0],
    ...     "listing_fee": [120, 150, 20, 0, 0, 0], "shelf_units": [2, 2, 1, 2, 2, 1]})
    >>> pairs = pd.DataFrame({"product_a": ["tea"], "product_b": ["juice"], "loss": [30.0]})
    >>> plan = co.AssortmentPlan(cells=cells, shelf_capacity={"modern_ka": 4, "traditional": 5},
    ...                          must_carry=["water"], listing_budget=150, cannibalisation=pairs).solve()
    >>> listed = plan.assortment[plan.assortment["listed"]]
    >>> listed.groupby("channel")["product_id"].apply(list).to_dict()
    {'modern_ka': ['tea', 'water'], 'traditional': ['tea', 'juice', 'water']}
    >>> plan.objective  # KA: (200 - 120) + (60 - 20); traditional: 100 + 112.5 + 90 - 30 (tea and juice both listed)
    392.5
    """

    kind = "assortment"
    sense = pulp.LpMaximize

    def __init__(
        self,
        *,
        cells: pd.DataFrame | None = None,
        shelf_capacity: float | Mapping | None = None,
        must_carry: Sequence | Mapping | None = None,
        category_range: Mapping | None = None,
        listing_budget: float | None = None,
        cannibalisation: pd.DataFrame | None = None,
        carried: pd.DataFrame | None = None,
        channel_rules: Sequence | None = None,
        category_curve: Mapping | None = None,
        objective: str = "margin",
        min_margin: float | None = None,
    ) -> None:
        self.cells = cells
        self.shelf_capacity = shelf_capacity
        self.must_carry = must_carry
        self.category_range = category_range
        self.listing_budget = listing_budget
        self.cannibalisation = cannibalisation
        self.carried = carried
        self.channel_rules = channel_rules
        self.category_curve = category_curve
        self.objective = objective
        self.min_margin = min_margin

    # ------------------------------------------------------------------ checks
    def _check(self, net) -> None:
        setup = _Setup(self, net)
        setup.check_feasible(self)
        self._setup = setup  # the build reuses the validated arrays (cleared there)

    # ------------------------------------------------------------------ build
    def _build_arrays(self, net, ap: ArrayProblem) -> dict[str, Any]:
        setup = self.__dict__.pop("_setup", None) or _Setup(self, net)
        c = setup.cells
        ncat = len(c.categories)
        margin_mode = self.objective == "margin"
        # Integers with explicit bounds (binaries whose forced / forbidden bounds survive PuLP).
        x = ap.add_vars("x", c.n, lower=setup.lo, upper=setup.hi, integer=True,
                        cost=c.value if margin_mode else 0.0)
        # The margin as (columns, coefficients) + constant, for the margin floor.
        m_cols: list[np.ndarray] = [x.index]
        m_coefs: list[np.ndarray] = [c.value]
        constant = 0.0

        pairs = setup.pairs
        a = pairs["cell_a"].to_numpy()
        b = pairs["cell_b"].to_numpy()
        loss = pairs["loss"].to_numpy()
        y = ap.add_vars("y", len(pairs), upper=1.0, cost=-loss if margin_mode else 0.0)
        if len(pairs):
            # y stands for x_a * x_b. Its objective coefficient is -loss, and in the margin floor
            # (a >= row) it carries the same -loss. With loss > 0 both push y down, so only
            # y >= x_a + x_b - 1 (with y >= 0) is needed: y then settles at max(0, x_a + x_b - 1),
            # which equals x_a x_b on binaries, and a larger y only hurts. With loss < 0 (a gain
            # from listing both) the pushes reverse and only y <= x_a, y <= x_b are needed.
            pos = np.flatnonzero(loss > 0)
            neg = np.flatnonzero(loss < 0)
            k = np.arange(len(pos))
            ap.add_rows("pair", rows=np.r_[k, k, k], cols=np.r_[x[a[pos]], x[b[pos]], y[pos]],
                        coefs=np.r_[np.ones(2 * len(pos)), -np.ones(len(pos))], sense="<=", rhs=1.0,
                        n_rows=len(pos))
            k = np.arange(len(neg))
            for name, other in (("pair_a", a), ("pair_b", b)):
                ap.add_rows(name, rows=np.r_[k, k], cols=np.r_[y[neg], x[other[neg]]],
                            coefs=np.r_[np.ones(len(neg)), -np.ones(len(neg))], sense="<=", rhs=0.0,
                            n_rows=len(neg))
            m_cols.append(y.index)
            m_coefs.append(-loss)

        curve = None
        if setup.curves is not None:
            curve = self._curve_blocks(ap, setup, x, margin_mode)
            m_cols += curve["cols"]
            m_coefs += curve["coefs"]
            constant += curve["constant"]
        if margin_mode:
            ap.offset = constant

        cap = setup.capacity
        sel = np.flatnonzero(np.isfinite(cap)[c.seg] & (c.shelf > 0))
        if len(sel):
            ap.add_rows("shelf", rows=c.seg[sel], cols=x[sel], coefs=c.shelf[sel], sense="<=",
                        rhs=np.where(np.isfinite(cap), cap, 0.0), n_rows=c.n_seg, skip_empty=True)
        code = c.seg * ncat + c.cat
        n_group = c.n_seg * ncat
        count = np.bincount(code, minlength=n_group)
        capped = setup.range_hi < count
        if capped.any():
            sel = np.flatnonzero(capped[code])
            ap.add_rows("range_max", rows=code[sel], cols=x[sel], sense="<=",
                        rhs=np.where(capped, setup.range_hi, 0.0), n_rows=n_group, skip_empty=True)
        floor = setup.range_lo > 0
        if floor.any():
            sel = np.flatnonzero(floor[code])
            ap.add_rows("range_min", rows=code[sel], cols=x[sel], sense=">=", rhs=setup.range_lo,
                        n_rows=n_group, skip_empty=True)
        if self.listing_budget is not None:
            paid = np.flatnonzero(c.fee > 0)
            ap.add_row("listing_budget", x[paid], c.fee[paid], "<=", float(self.listing_budget))
        if len(setup.rules):
            k = np.arange(len(setup.rules))
            ap.add_rows("rule", rows=np.r_[k, k], cols=np.r_[x[setup.rules[:, 0]], x[setup.rules[:, 1]]],
                        coefs=np.r_[np.ones(len(k)), -np.ones(len(k))], sense="<=", rhs=0.0)
        if self.min_margin is not None:
            ap.add_row("min_margin", np.concatenate(m_cols), np.concatenate(m_coefs), ">=",
                       float(self.min_margin) - constant)
        if not margin_mode:
            total_w = float(setup.weight.sum())
            ap.add_cost(x.index, setup.weight / total_w if total_w > 0 else setup.weight)
        return {"setup": setup, "x": x, "y": y, "curve": curve}

    @staticmethod
    def _curve_blocks(ap: ArrayProblem, setup: _Setup, x, margin_mode: bool) -> dict[str, Any]:
        """Segments of each (segment, category) loss curve over whole counts, tied to the count of listed cells."""
        c = setup.cells
        cur = setup.curves
        table = cur["table"]
        concave = table.concave()
        ncat = len(c.categories)
        code = c.seg * ncat + c.cat
        gcount = len(cur["group"])
        local = np.full(len(setup.range_lo), -1, dtype=np.int64)
        local[cur["group"]] = np.arange(gcount)
        member = local[code]
        cells_in = np.flatnonzero(member >= 0)
        stake = cur["stake"]
        # Concave kept value: one continuous piece per whole count, filled in order by the objective.
        fill = np.flatnonzero(concave)
        seg_ids = np.concatenate([np.arange(table.start[g], table.start[g + 1]) for g in fill]) if len(fill) \
            else np.zeros(0, dtype=np.int64)
        seg_group = table.cell[seg_ids]
        d_coef = stake[seg_group] * table.slope[seg_ids]  # slope of the value kept: -(g(n+1) - g(n))
        d = ap.add_vars("cd", len(seg_ids), upper=1.0, cost=d_coef if margin_mode else 0.0)
        constant = -float((stake[fill] * np.array([cur["values"][g][0] for g in fill])).sum()) if len(fill) else 0.0
        # A curve whose kept value is not concave would fill its pieces out of order: one binary
        # per whole count instead (exact for any curve).
        hot = np.flatnonzero(~concave)
        sizes = cur["nmax"][hot] + 1
        w_group = np.repeat(hot, sizes)
        w_count = np.concatenate([np.arange(s) for s in sizes]).astype(float) if len(hot) else np.zeros(0)
        w_coef = -stake[w_group] * (np.concatenate([cur["values"][g] for g in hot]) if len(hot) else np.zeros(0))
        w = ap.add_vars("cw", len(w_group), upper=1.0, integer=True, cost=w_coef if margin_mode else 0.0)
        if len(hot):
            ap.add_rows("cone", rows=np.searchsorted(hot, w_group), cols=w.index, sense="==", rhs=1.0,
                        n_rows=len(hot))
        # One count row per group: pieces (or count-weighted one-hot) minus the group's listed cells = 0.
        ap.add_rows("ccount", rows=np.r_[seg_group, w_group, member[cells_in]],
                    cols=np.r_[d.index, w.index, x[cells_in]],
                    coefs=np.r_[np.ones(len(seg_ids)), w_count, -np.ones(len(cells_in))], sense="==", rhs=0.0,
                    n_rows=gcount)
        return {"cols": [d.index, w.index], "coefs": [d_coef, w_coef], "constant": constant, "onehot": hot}

    # ------------------------------------------------------------------ diagnosis
    _RELAXABLE = ("min_margin", "listing_budget", "shelf_capacity", "category_range", "channel_rules", "carried",
                  "must_carry")

    def _diagnose(self, net, state: dict[str, Any]) -> list[str]:
        """Drop one setting at a time; the settings whose removal makes the model feasible are the cause."""
        from ..solver import Solver

        reasons = []
        for name in self._RELAXABLE:
            if getattr(self, name) is None:
                continue
            relaxed = self.clone(**{name: None})
            try:
                built = relaxed.build(net)
            except InfeasibleError:
                continue
            info = built.solve_once(Solver("highs", time_limit=30))
            if info.has_solution:
                reasons.append(f"{name} conflicts with the other settings: without it a plan exists "
                               f"(relax {name} first)")
        return reasons

    # ------------------------------------------------------------------ plan
    def _extract(self, net, state: dict[str, Any], info: SolveInfo) -> Plan:
        setup: _Setup = state["setup"]
        c = setup.cells
        listed = np.round(np.nan_to_num(state["x"].value)) > 0.5
        margin_parts = evaluate(setup, listed)
        _verify(self, setup, listed)
        if self.objective == "margin":
            # The objective is recomputed from the listing itself: with y only bounded below a
            # time-limited incumbent may carry a y above x_a x_b, which would understate the plan.
            exact = margin_parts["net_margin"]
            if math.isfinite(info.objective) and abs(exact - info.objective) > 1e-6 * max(1.0, abs(exact)):
                log.info("assortment objective recomputed from the listing: %s -> %s", info.objective, exact)
            info.objective = exact
            if math.isfinite(info.bound):
                diff = abs(info.bound - exact)
                info.gap = 0.0 if diff <= 1e-9 else diff / max(abs(exact), 1e-10)
        out = c.frame.copy()
        out["listed"] = listed
        out["shelf_used"] = np.where(listed, c.shelf, 0.0)
        out["fee_paid"] = np.where(listed, c.fee, 0.0)
        out["gross_margin"] = np.where(listed, c.volume * c.margin, 0.0)
        out["cannibalisation"] = margin_parts["cell_loss"]
        out["value"] = out["gross_margin"] - out["fee_paid"] - out["cannibalisation"]
        seg = c.segment_frame()
        frame = pd.DataFrame({"_seg": c.seg, "listed": listed, "shelf_used": out["shelf_used"].to_numpy(),
                              "fee_paid": out["fee_paid"].to_numpy(), "gross_margin": out["gross_margin"].to_numpy(),
                              "cannibalisation": out["cannibalisation"].to_numpy(), "value": out["value"].to_numpy(),
                              "category": c.category, "weight": setup.weight})
        by_seg = frame.groupby("_seg").agg(products=("listed", "size"), listed=("listed", "sum"),
                                           shelf_used=("shelf_used", "sum"), fee_paid=("fee_paid", "sum"),
                                           gross_margin=("gross_margin", "sum"),
                                           cannibalisation=("cannibalisation", "sum"), value=("value", "sum"))
        by_seg = seg.join(by_seg.reindex(range(c.n_seg)))
        by_seg["shelf_capacity"] = setup.capacity
        by_seg["shelf_share"] = by_seg["shelf_used"] / by_seg["shelf_capacity"].where(by_seg["shelf_capacity"] > 0)
        ncat = len(c.categories)
        seg_cat = frame.groupby(["_seg", "category"], sort=False).agg(
            products=("listed", "size"), listed=("listed", "sum"), fee_paid=("fee_paid", "sum"),
            gross_margin=("gross_margin", "sum"), value=("value", "sum")).reset_index()
        gcode = seg_cat["_seg"].to_numpy() * ncat + pd.Index(c.categories).get_indexer(seg_cat["category"])
        seg_cat["range_min"] = setup.range_lo[gcode]
        seg_cat["range_max"] = setup.range_hi[gcode]
        seg_cat = pd.concat([seg.iloc[seg_cat["_seg"].to_numpy()].reset_index(drop=True),
                             seg_cat.drop(columns="_seg")], axis=1)
        by_cat = frame.groupby("category", sort=False).agg(
            cells=("listed", "size"), listed=("listed", "sum"), fee_paid=("fee_paid", "sum"),
            gross_margin=("gross_margin", "sum"), cannibalisation=("cannibalisation", "sum"),
            value=("value", "sum")).reset_index()
        by_cat["segments_listed"] = frame[frame["listed"]].groupby("category")["_seg"].nunique().reindex(
            by_cat["category"]).fillna(0).astype(int).to_numpy()
        by_cat["mean_range"] = seg_cat.groupby("category", sort=False)["listed"].mean().reindex(
            by_cat["category"]).to_numpy()
        by_channel = frame.assign(channel=c.channel).groupby("channel", sort=False).agg(
            listed=("listed", "sum"), fee_paid=("fee_paid", "sum"), gross_margin=("gross_margin", "sum"),
            cannibalisation=("cannibalisation", "sum"), value=("value", "sum"))
        by_channel["mean_range"] = by_seg.assign(channel=c.seg_channel).groupby("channel")["listed"].mean()
        by_channel.index.name = "channel"
        pairs = setup.pairs
        pair_table = pd.DataFrame({
            "segment": [c.segment_keys[s] for s in c.seg[pairs["cell_a"].to_numpy()].tolist()],
            "product_a": c.product[pairs["cell_a"].to_numpy()], "product_b": c.product[pairs["cell_b"].to_numpy()],
            "loss": pairs["loss"].to_numpy(), "both_listed": margin_parts["pair_both"]})
        total_w = float(setup.weight.sum())
        overall: dict[str, Any] = {
            "cells": int(c.n),
            "listed_cells": int(listed.sum()),
            "products_listed": int(len(set(c.product[listed].tolist()))),
            "gross_margin": float(out["gross_margin"].sum()),
            "listing_fees": float(out["fee_paid"].sum()),
            "listing_budget": float(self.listing_budget) if self.listing_budget is not None else math.nan,
            "cannibalisation_loss": margin_parts["pair_loss"] + margin_parts["curve_loss"],
            "pair_loss": margin_parts["pair_loss"],
            "curve_loss": margin_parts["curve_loss"],
            "net_margin": margin_parts["net_margin"],
            "reach": float((setup.weight * listed).sum() / total_w) if total_w > 0 else math.nan,
            "mean_range_per_segment": float(by_seg["listed"].mean()),
        }
        if self.listing_budget:
            overall["listing_budget_share_used"] = overall["listing_fees"] / float(self.listing_budget)
        if np.isfinite(setup.capacity).any():
            overall["mean_shelf_share"] = float(by_seg["shelf_share"].mean())
        tables = {"assortment": out, "by_segment": by_seg, "by_category": by_cat, "segment_category": seg_cat,
                  "pairs": pair_table}
        metrics = Metrics(overall=overall, by_channel=by_channel)
        if net is not None and getattr(net, "outlets", None) is not None:
            sku = sku_distribution(out, net)
            tables.update(sku.tables())
            overall.update(sku.overall)
            metrics.by_region = sku.by_region_summary()
        return Plan(kind=self.kind, info=info, assignments=out, metrics=metrics, tables=tables, network=net)


def evaluate(setup: _Setup, listed: np.ndarray) -> dict[str, Any]:
    """Margin of a listing computed from the listing alone (no solver values)."""
    c = setup.cells
    listed = np.asarray(listed, dtype=bool)
    cell_loss = np.zeros(c.n)
    pairs = setup.pairs
    both = np.zeros(len(pairs), dtype=bool)
    pair_loss = 0.0
    if len(pairs):
        a = pairs["cell_a"].to_numpy()
        b = pairs["cell_b"].to_numpy()
        both = listed[a] & listed[b]
        loss = pairs["loss"].to_numpy()
        pair_loss = float(loss[both].sum())
        np.add.at(cell_loss, a[both], loss[both] / 2)
        np.add.at(cell_loss, b[both], loss[both] / 2)
    curve_loss = 0.0
    cur = setup.curves
    if cur is not None:
        ncat = len(c.categories)
        code = c.seg * ncat + c.cat
        n_listed = np.bincount(code, weights=listed.astype(float), minlength=c.n_seg * ncat)
        for k, g in enumerate(cur["group"].tolist()):
            n = int(round(n_listed[g]))
            lost = float(cur["stake"][k]) * float(cur["values"][k][n])
            curve_loss += lost
            members = np.flatnonzero((code == g) & listed)
            if len(members):
                cell_loss[members] += lost / len(members)
    gross = float((c.volume * c.margin)[listed].sum())
    fees = float(c.fee[listed].sum())
    return {"net_margin": gross - fees - pair_loss - curve_loss, "pair_loss": pair_loss, "curve_loss": curve_loss,
            "cell_loss": cell_loss, "pair_both": both}


def _verify(model: AssortmentPlan, setup: _Setup, listed: np.ndarray) -> None:
    """Check every business rule on the listing itself; a violation is a solver failure, never a plan."""
    c = setup.cells
    broken = []
    shelf = np.bincount(c.seg, weights=c.shelf * listed, minlength=c.n_seg)
    if (shelf > setup.capacity + 1e-6).any():
        broken.append("shelf_capacity")
    if model.listing_budget is not None and float(c.fee[listed].sum()) > model.listing_budget + 1e-6:
        broken.append("listing_budget")
    if (listed < (setup.lo > 0)).any():
        broken.append("must_carry")
    if (listed & (setup.hi < 1)).any():
        broken.append("carried/channel_rules (a cell that cannot be listed)")
    ncat = len(c.categories)
    n_listed = np.bincount(c.seg * ncat + c.cat, weights=listed.astype(float), minlength=c.n_seg * ncat)
    if ((n_listed < setup.range_lo - 1e-9) | (n_listed > setup.range_hi + 1e-9)).any():
        broken.append("category_range")
    if len(setup.rules) and (listed[setup.rules[:, 0]] & ~listed[setup.rules[:, 1]]).any():
        broken.append("channel_rules")
    if model.min_margin is not None and evaluate(setup, listed)["net_margin"] < model.min_margin - 1e-6 * max(
            1.0, abs(model.min_margin)):
        broken.append("min_margin")
    if broken:
        raise SolverError(f"the solver returned an assortment that breaks {', '.join(broken)}; rerun with "
                          f"Solver(msg=True) to inspect.")
