"""Assortment cells from a network and a product catalogue, and where signed distributors carry each line."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..exceptions import SettingsError, ValidationError, format_ids

__all__ = ["cells_from_catalogue", "carried_lines"]


def cells_from_catalogue(net, catalogue: Mapping[str, pd.DataFrame], *, by: str = "channel",
                         channels: Sequence[str] | None = None,
                         products: Sequence | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cells (segment x product) and segment-level cannibalisation losses for :class:`AssortmentPlan`.

    Parameters
    ----------
    net : ChannelNetwork
        Reads ``outlets``: ``region_id``, ``channel``, ``potential``.
    catalogue : mapping
        As returned by :func:`channelopt.datasets.load_product_catalogue`.
    by : {"channel", "region"}
        Segments: channel types, or region x channel types present in the network.
    channels, products : sequences, optional
        Keep only these channel types / product ids.

    Returns
    -------
    cells : DataFrame
        ``[region_id,] channel, product_id, name, category, line, volume`` (units a year
        if listed: the segment's potential x the channel's spend share x the category's
        strength there x the product's share of its category, over its price),
        ``margin`` (per unit, after channel terms), ``listing_fee`` (fee per outlet x
        outlets in the segment), ``shelf_units``, ``potential``, ``outlets``.
    cannibalisation : DataFrame
        ``[region_id,] channel, product_a, product_b, loss``: ``rate`` x the smaller of the
        two products' margin (volume x margin) in that segment.

    Examples
    --------
    >>> import channelopt as co
    >>> from channelopt.assortment import cells_from_catalogue
    >>> net = co.make_synthetic(6, 60, 3, seed=0)
    >>> cells, pairs = cells_from_catalogue(net, co.load_product_catalogue("china"), channels=["modern_ka"])
    >>> cells.shape, list(pairs.columns)
    ((30, 11), ['channel', 'product_a', 'product_b', 'loss'])
    """
    if by not in ("channel", "region"):
        raise SettingsError(f"by must be 'channel' or 'region', got {by!r}.")
    for part in ("products", "channels", "category_channel", "cannibalisation"):
        if part not in catalogue:
            raise ValidationError(f"catalogue lacks {part!r}; use channelopt.datasets.load_product_catalogue().")
    outlets = net._need_outlets()
    keys = ["region_id", "channel"] if by == "region" else ["channel"]
    seg = outlets.groupby(keys, sort=True).agg(outlets=("outlet_id", "size"),
                                               potential=("potential", "sum")).reset_index()
    prods = catalogue["products"]
    if channels is not None:
        unknown = sorted(set(channels) - set(seg["channel"]))
        if unknown:
            raise SettingsError(f"channels {format_ids(unknown)} have no outlets in the network; present: "
                                f"{format_ids(sorted(seg['channel'].unique()))}.")
        seg = seg[seg["channel"].isin(list(channels))]
    if products is not None:
        unknown = sorted(set(products) - set(prods["product_id"]))
        if unknown:
            raise SettingsError(f"products {format_ids(unknown)} are not in the catalogue.")
        prods = prods[prods["product_id"].isin(list(products))]
    ch = catalogue["channels"].set_index("channel")
    strength = catalogue["category_channel"].rename_axis(index="category", columns="channel").stack()
    strength = strength.rename("strength").reset_index()
    pull_share = prods["pull"] / prods.groupby("category")["pull"].transform("sum")
    n_cat = prods["category"].nunique()
    p = prods.assign(_share=pull_share.to_numpy())
    cells = seg.merge(p, how="cross").merge(strength, on=["category", "channel"], how="left")
    cells["strength"] = cells["strength"].fillna(1.0)
    spend = cells["potential"] * cells["channel"].map(ch["spend_share"]).to_numpy() / n_cat
    cells["volume"] = np.round(spend * cells["strength"] * cells["_share"] / cells["price"], 1)
    cells["margin"] = np.round(cells["margin"] * cells["channel"].map(ch["margin_factor"]).to_numpy(), 3)
    cells["listing_fee"] = cells["channel"].map(ch["fee_per_outlet"]).to_numpy() * cells["outlets"]
    cols = [*keys, "product_id", "name", "category", "line", "volume", "margin", "listing_fee", "shelf_units",
            "potential", "outlets"]
    cells = cells[cols].reset_index(drop=True)
    value = cells[[*keys, "product_id"]].assign(_vm=cells["volume"] * cells["margin"])
    rates = catalogue["cannibalisation"]
    rates = rates[rates["product_a"].isin(prods["product_id"]) & rates["product_b"].isin(prods["product_id"])]
    m = value.rename(columns={"product_id": "product_a", "_vm": "_va"}).merge(rates, on="product_a")
    m = m.merge(value.rename(columns={"product_id": "product_b", "_vm": "_vb"}), on=[*keys, "product_b"])
    m["loss"] = np.round(m["rate"] * np.minimum(m["_va"], m["_vb"]), 2)
    pairs = m[[*keys, "product_a", "product_b", "loss"]].reset_index(drop=True)
    note = prods.attrs.get("note")
    if note:
        cells.attrs["note"] = pairs.attrs["note"] = note
    return cells, pairs


def carried_lines(plan, distributor_lines: pd.DataFrame) -> pd.DataFrame:
    """Where a signed distributor carries each product line: ``region_id, channel, line``.

    Parameters
    ----------
    plan : Plan
        A plan with a ``links`` table (``outlet_id``, ``distributor_id``, ``share``) and
        outlet rows (``outlet_id``, ``region_id``, ``channel``) in its assignments, e.g. a
        DistributorSelection or ChannelPlanner plan.
    distributor_lines : DataFrame
        ``distributor_id``, ``line``: the lines each distributor can carry.

    Examples
    --------
    >>> import pandas as pd
    >>> import channelopt as co
    >>> net = co.make_synthetic(6, 60, 3, seed=0)
    >>> plan = co.DistributorSelection(objective="min_cost").solve(net)
    >>> lines = pd.DataFrame({"distributor_id": ["D-003"], "line": ["ambient"]})
    >>> sorted(carried_lines(plan, lines)["line"].unique())
    ['ambient']
    """
    links = plan.tables.get("links") if hasattr(plan, "tables") else None
    if links is None or not {"outlet_id", "distributor_id"} <= set(links.columns):
        raise ValidationError(f"carried_lines needs a plan with a 'links' table (outlet_id, distributor_id); the "
                              f"{getattr(plan, 'kind', type(plan).__name__)} plan has none.")
    missing = [c for c in ("distributor_id", "line") if c not in distributor_lines.columns]
    if missing:
        raise ValidationError(f"distributor_lines lacks column(s) {missing}.", column=missing[0])
    a = plan.assignments
    outlets = a[["outlet_id", "region_id", "channel"]] if "region_id" in a.columns else \
        plan.network.outlets[["outlet_id", "region_id", "channel"]]
    live = links[links["share"] > 1e-9] if "share" in links.columns else links
    served = live[["outlet_id", "distributor_id"]].merge(outlets, on="outlet_id")
    out = served.merge(distributor_lines[["distributor_id", "line"]], on="distributor_id")
    return out[["region_id", "channel", "line"]].drop_duplicates().reset_index(drop=True)
