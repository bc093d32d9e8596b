"""SKU distribution (铺货率): where each listed product actually reaches outlets, as pure functions.

An outlet **carries** a product when the outlet is reached (covered by a signed
distributor, or every outlet when a network is given) and the product is listed in
the outlet's segment (its channel type, or its region x channel type).

- numeric distribution of a product: outlets carrying it / all outlets;
- weighted distribution: potential of the outlets carrying it / all potential;
- range breadth: the number of products an outlet carries, averaged over reached outlets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import ValidationError

__all__ = ["SkuDistribution", "sku_distribution"]


@dataclass
class SkuDistribution:
    """Distribution per product, overall and by channel and region, and range per outlet.

    Attributes
    ----------
    overall : dict
        ``sku_numeric_distribution`` / ``sku_weighted_distribution`` (mean over the
        products of the assortment), ``range_breadth`` (mean products carried per
        reached outlet), ``reached_outlets``, ``products``.
    by_product : DataFrame
        Per ``product_id``: ``outlets_carrying``, ``potential_carrying``,
        ``numeric_distribution``, ``weighted_distribution``.
    by_product_channel, by_product_region : DataFrame
        The same per product x channel type and product x region (shares of that
        channel's or region's outlets).
    by_outlet : DataFrame
        ``outlet_id``, ``region_id``, ``channel``, ``reached``, ``range`` (products carried).
    by_channel, by_region : DataFrame
        Mean distribution over products and ``range_breadth`` per channel type / region.
    """

    overall: dict[str, Any]
    by_product: pd.DataFrame
    by_product_channel: pd.DataFrame
    by_product_region: pd.DataFrame
    by_outlet: pd.DataFrame
    by_channel: pd.DataFrame
    by_region: pd.DataFrame = field(repr=False, default=None)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables under the names a Plan carries them (``plan.sku_distribution`` ...)."""
        return {"sku_distribution": self.by_product, "sku_by_channel": self.by_product_channel,
                "sku_by_region": self.by_product_region, "range_by_outlet": self.by_outlet,
                "range_by_channel": self.by_channel}

    def by_region_summary(self) -> pd.DataFrame:
        return self.by_region


def _listing(assortment) -> pd.DataFrame:
    frame = getattr(assortment, "tables", {}).get("assortment") if not isinstance(assortment, pd.DataFrame) \
        else assortment
    if not isinstance(frame, pd.DataFrame):
        raise ValidationError("assortment must be a DataFrame (channel, optional region_id, product_id, listed) or "
                              f"an assortment Plan, got {type(assortment).__name__}.")
    missing = [c for c in ("channel", "product_id", "listed") if c not in frame.columns]
    if missing:
        raise ValidationError(f"assortment lacks column(s) {missing}; it needs channel (and optionally region_id), "
                              f"product_id and a boolean listed.", column=missing[0])
    return frame


def _outlets(plan_or_network) -> tuple[pd.DataFrame, np.ndarray]:
    """Outlets (outlet_id, region_id, channel, potential) and which of them are reached."""
    if isinstance(plan_or_network, pd.DataFrame):
        o = plan_or_network
        reached = o["covered"].to_numpy(dtype=bool) if "covered" in o.columns else np.ones(len(o), dtype=bool)
    elif hasattr(plan_or_network, "assignments") and hasattr(plan_or_network, "info"):
        plan = plan_or_network
        a = plan.assignments
        if {"outlet_id", "covered"} <= set(a.columns):
            o = a
            reached = a["covered"].to_numpy(dtype=bool)
        elif plan.network is not None and plan.network.outlets is not None:
            o = plan.network.outlets
            reached = np.ones(len(o), dtype=bool)
        else:
            raise ValidationError(f"the {plan.kind} plan has neither outlet rows with 'covered' nor a network with "
                                  f"outlets; pass the network (every outlet reached) or a distributor plan.")
    elif getattr(plan_or_network, "outlets", None) is not None:
        o = plan_or_network.outlets
        reached = np.ones(len(o), dtype=bool)
    else:
        raise ValidationError(f"plan_or_network must be a Plan, a ChannelNetwork with outlets, or an outlets "
                              f"DataFrame, got {type(plan_or_network).__name__}.")
    missing = [c for c in ("outlet_id", "region_id", "channel") if c not in o.columns]
    if missing:
        raise ValidationError(f"outlets lack column(s) {missing}.", column=missing[0])
    pot = o["potential"].to_numpy(dtype=float) if "potential" in o.columns else np.ones(len(o))
    out = pd.DataFrame({"outlet_id": o["outlet_id"].to_numpy(), "region_id": o["region_id"].to_numpy(),
                        "channel": o["channel"].to_numpy(), "potential": pot})
    return out, reached


def _shares(carry: pd.DataFrame, universe: pd.DataFrame, products, by: str | None) -> pd.DataFrame:
    keys = ["product_id"] + ([by] if by else [])
    got = carry.groupby(keys).agg(outlets_carrying=("outlet_id", "size"), potential_carrying=("potential", "sum"))
    if by:
        den = universe.groupby(by).agg(outlets=("outlet_id", "size"), potential=("potential", "sum"))
        index = pd.MultiIndex.from_product([list(products), den.index.tolist()], names=keys)
    else:
        den = None
        index = pd.Index(list(products), name="product_id")
    got = got.reindex(index, fill_value=0)
    got["outlets_carrying"] = got["outlets_carrying"].astype(int)
    got["potential_carrying"] = got["potential_carrying"].astype(float)
    if by:
        n = den["outlets"].reindex(got.index.get_level_values(by)).to_numpy(dtype=float)
        p = den["potential"].reindex(got.index.get_level_values(by)).to_numpy(dtype=float)
    else:
        n = np.full(len(got), float(len(universe)))
        p = np.full(len(got), float(universe["potential"].sum()))
    with np.errstate(invalid="ignore", divide="ignore"):
        got["numeric_distribution"] = np.where(n > 0, got["outlets_carrying"].to_numpy() / np.where(n > 0, n, 1),
                                               np.nan)
        got["weighted_distribution"] = np.where(p > 0, got["potential_carrying"].to_numpy() / np.where(p > 0, p, 1),
                                                np.nan)
    return got.reset_index()


def sku_distribution(assortment, plan_or_network) -> SkuDistribution:
    """Numeric and weighted distribution of every product (铺货率), and range breadth per outlet.

    Parameters
    ----------
    assortment : DataFrame or Plan
        ``channel`` (and optionally ``region_id``), ``product_id`` and boolean ``listed``:
        ``plan.assortment`` of an :class:`~channelopt.AssortmentPlan`, or the plan itself.
    plan_or_network : Plan, ChannelNetwork or DataFrame
        Which outlets are reached: a plan with outlet rows carrying ``covered`` (e.g. a
        DistributorSelection plan), a network (every outlet reached), or an outlets frame
        (``outlet_id``, ``region_id``, ``channel``, ``potential``, optional ``covered``).

    Returns
    -------
    SkuDistribution

    Examples
    --------
    Two traditional outlets (one reached) and one KA outlet; water is listed in both
    channels, tea in KA only:

    >>> import pandas as pd
    >>> outlets = pd.DataFrame({"outlet_id": [1, 2, 3], "region_id": ["a", "a", "b"],
    ...     "channel": ["traditional", "traditional", "modern_ka"], "potential": [1.0, 3.0, 6.0],
    ...     "covered": [True, False, True]})
    >>> listing = pd.DataFrame({"channel": ["traditional", "modern_ka", "traditional", "modern_ka"],
    ...     "product_id": ["water", "water", "tea", "tea"], "listed": [True, True, False, True]})
    >>> d = sku_distribution(listing, outlets)
    >>> p = d.by_product.set_index("product_id").round(3)
    >>> p["numeric_distribution"].to_dict(), p["weighted_distribution"].to_dict()
    ({'water': 0.667, 'tea': 0.333}, {'water': 0.7, 'tea': 0.6})
    >>> d.overall["range_breadth"]
    1.5
    """
    listing = _listing(assortment)
    outlets, reached = _outlets(plan_or_network)
    keys = ["region_id", "channel"] if "region_id" in listing.columns else ["channel"]
    products = list(pd.unique(listing["product_id"]))
    listed = listing.loc[listing["listed"].to_numpy(dtype=bool), [*keys, "product_id"]]
    carry = outlets[reached].merge(listed, on=keys, how="inner")
    by_product = _shares(carry, outlets, products, None)
    by_channel_p = _shares(carry, outlets, products, "channel")
    by_region_p = _shares(carry, outlets, products, "region_id")
    per_outlet = carry.groupby("outlet_id").size()
    by_outlet = outlets[["outlet_id", "region_id", "channel"]].copy()
    by_outlet["reached"] = reached
    by_outlet["range"] = per_outlet.reindex(by_outlet["outlet_id"]).fillna(0).astype(int).to_numpy()
    hit = by_outlet[by_outlet["reached"]]

    def summary(by: str) -> pd.DataFrame:
        nd = by_channel_p if by == "channel" else by_region_p
        out = nd.groupby(by).agg(sku_numeric_distribution=("numeric_distribution", "mean"),
                                 sku_weighted_distribution=("weighted_distribution", "mean"))
        out["range_breadth"] = hit.groupby(by)["range"].mean().reindex(out.index)
        out["reached_outlets"] = hit.groupby(by).size().reindex(out.index).fillna(0).astype(int)
        return out

    overall = {
        "products": len(products),
        "reached_outlets": int(reached.sum()),
        "sku_numeric_distribution": float(by_product["numeric_distribution"].mean()) if products else math.nan,
        "sku_weighted_distribution": float(by_product["weighted_distribution"].mean()) if products else math.nan,
        "range_breadth": float(hit["range"].mean()) if len(hit) else math.nan,
    }
    return SkuDistribution(overall=overall, by_product=by_product, by_product_channel=by_channel_p,
                           by_product_region=by_region_p, by_outlet=by_outlet, by_channel=summary("channel"),
                           by_region=summary("region_id"))
