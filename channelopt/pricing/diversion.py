"""Diversion (窜货) costs between regions and the risk a price list carries.

Goods bought in region ``r`` and sold in region ``s`` earn ``p_s - p_r`` per unit and
cost ``cost(r -> s)`` to move. A pair is at risk in a channel when that profit is
positive. A cost table lists ``from_region, to_region, cost``; a pair listed one way
only costs the same both ways (the diversion rule then holds in both directions).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..exceptions import SettingsError, ValidationError, format_ids

__all__ = ["diversion_costs", "diversion_risk", "directed_costs"]

_COST_COLUMNS = ("from_region", "to_region", "cost")


def _missing_columns(frame: pd.DataFrame, needed, what: str) -> None:
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        hints = []
        for c in missing:
            close = difflib.get_close_matches(c, [str(x) for x in frame.columns], n=1)
            if close:
                hints.append(f"{close[0]!r} -> {c!r}?")
        hint = f" (did you mean {', '.join(hints)})" if hints else ""
        raise ValidationError(f"{what} lacks column(s) {missing}{hint}; it needs {list(needed)}.", column=missing[0])


def diversion_costs(network, *, per_km: float, handling: float = 0.0, territories=None) -> pd.DataFrame:
    """Cost of moving one unit between adjacent regions: ``per_km * distance + handling``.

    Parameters
    ----------
    network : ChannelNetwork
        Reads the adjacency ``graph`` and the regions' representative points
        (km between region points, lon/lat or projected; graph hops without geometry).
    per_km : float
        Transport cost per unit of product and km (price units).
    handling : float, default 0
        Fixed cost per unit moved (repacking, relabelling, the risk of being caught).
    territories : mapping or Series region_id -> territory, optional
        Keep only the borders between regions of different territories (inside a
        territory one distributor sells on both sides, so nothing is diverted). Regions
        missing from it count as their own territory.

    Returns
    -------
    DataFrame
        ``from_region``, ``to_region``, ``distance``, ``cost``: one row per edge of the graph.

    Examples
    --------
    >>> import networkx as nx
    >>> import channelopt as co
    >>> net = co.ChannelNetwork.from_graph(nx.path_graph(["a", "b", "c"]))
    >>> co.diversion_costs(net, per_km=0.5, handling=1.0)[["from_region", "to_region", "cost"]].to_string(index=False)
    'from_region to_region  cost\\n          a         b   1.5\\n          b         c   1.5'
    """
    for name, v in (("per_km", per_km), ("handling", handling)):
        if not (isinstance(v, (int, float, np.floating, np.integer)) and math.isfinite(v) and v >= 0):
            raise SettingsError(f"diversion_costs: {name} must be a non-negative number (price units per unit "
                                f"moved{' and km' if name == 'per_km' else ''}), got {v!r}.")
    ids = list(network.region_ids)
    pos = {r: i for i, r in enumerate(ids)}
    edges = list(network.graph.edges())
    if territories is not None:
        terr = dict(territories.items()) if hasattr(territories, "items") else None
        if terr is None:
            raise SettingsError("territories must map region_id -> territory (a dict or a pandas Series).")
        edges = [(u, v) for u, v in edges if terr.get(u, ("own", u)) != terr.get(v, ("own", v))]
    if not edges:
        return pd.DataFrame({"from_region": [], "to_region": [], "distance": [], "cost": []})
    a = np.array([pos[u] for u, _ in edges])
    b = np.array([pos[v] for _, v in edges])
    xy = network.region_xy()
    if xy is not None:
        dist = np.array([float(network.point_distances(xy[i], xy[j])[0, 0]) for i, j in zip(a, b)])  # km
    else:
        dist = np.ones(len(edges))  # one hop
    return pd.DataFrame({"from_region": [ids[i] for i in a], "to_region": [ids[j] for j in b],
                         "distance": dist, "cost": per_km * dist + handling})


def directed_costs(diversion_cost: pd.DataFrame, known_regions=None, *, where: str = "diversion_cost"):
    """``(from, to, cost)`` arrays in both directions of every listed pair.

    A pair listed one way costs the same the other way; listed both ways, each
    direction keeps its own cost. Raises on missing columns, bad costs, duplicate
    directions and regions outside ``known_regions``.
    """
    if not isinstance(diversion_cost, pd.DataFrame):
        raise SettingsError(f"{where} must be a DataFrame with columns {list(_COST_COLUMNS)}, got "
                            f"{type(diversion_cost).__name__}.")
    _missing_columns(diversion_cost, _COST_COLUMNS, where)
    src = diversion_cost["from_region"].to_numpy(dtype=object)
    dst = diversion_cost["to_region"].to_numpy(dtype=object)
    cost = pd.to_numeric(diversion_cost["cost"], errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(cost) | (cost < 0))
    if len(bad):
        raise ValidationError(f"{where}.cost must be a finite non-negative price per unit moved; rows "
                              f"{format_ids(bad)} are not.", column="cost", ids=bad)
    self_pairs = np.flatnonzero(src == dst)
    if len(self_pairs):
        raise ValidationError(f"{where} rows {format_ids(self_pairs)} pair a region with itself.",
                              column="to_region", ids=self_pairs)
    if known_regions is not None:
        known = set(known_regions)
        unknown = sorted({r for r in np.concatenate([src, dst]).tolist() if r not in known}, key=str)
        if unknown:
            raise ValidationError(f"{where} names regions {format_ids(unknown)} that no price cell has; drop those "
                                  f"rows or add cells for them.", column="from_region", ids=unknown)
    listed = pd.DataFrame({"f": src, "t": dst, "c": cost})
    dup = listed.duplicated(["f", "t"], keep=False)
    if dup.any():
        rows = np.flatnonzero(dup.to_numpy())
        raise ValidationError(f"{where} lists the same from_region -> to_region more than once (rows "
                              f"{format_ids(rows)}); keep one cost per direction.", column="from_region", ids=rows)
    reverse = pd.DataFrame({"f": dst, "t": src, "c": cost})
    both = pd.concat([listed, reverse], ignore_index=True).drop_duplicates(["f", "t"], keep="first")
    return both["f"].to_numpy(dtype=object), both["t"].to_numpy(dtype=object), both["c"].to_numpy(dtype=float)


def resolve_costs(diversion_cost, network, regions, *, where: str = "diversion_cost") -> pd.DataFrame | None:
    """A cost table from a DataFrame, or from ``{"per_km": .., "handling": ..}`` and the network."""
    if diversion_cost is None:
        return None
    if isinstance(diversion_cost, Mapping):
        allowed = {"per_km", "handling", "territories"}
        unknown = [k for k in diversion_cost if k not in allowed]
        if unknown:
            near = {k: difflib.get_close_matches(str(k), sorted(allowed), n=1) for k in unknown}
            raise SettingsError(f"{where} keys {unknown} unknown; use {sorted(allowed)} "
                                f"(nearest: {near}).")
        if "per_km" not in diversion_cost:
            raise SettingsError(f"{where} as a mapping needs 'per_km' (and optionally 'handling').")
        if network is None:
            raise SettingsError(f"{where}={dict(diversion_cost)!r} needs a network for the distances: call "
                                f"solve(net) / build(net), or give a from_region, to_region, cost table.")
        table = diversion_costs(network, per_km=diversion_cost["per_km"], handling=diversion_cost.get("handling", 0),
                                territories=diversion_cost.get("territories"))
        keep = set(regions)
        return table[table["from_region"].isin(keep) & table["to_region"].isin(keep)].reset_index(drop=True)
    return diversion_cost


def diversion_risk(prices: pd.DataFrame, diversion_cost=None, network=None, *, price_column: str | None = None,
                   tol: float = 1e-6) -> pd.DataFrame:
    """Pairs of regions and channels where moving goods across the border pays.

    Parameters
    ----------
    prices : DataFrame
        ``region_id``, ``channel`` and a price column: ``net_price`` when present (the
        price after rebates, as a PricePlan reports it), else ``price``. An optional
        ``volume`` column (else ``base_volume``) gives the volumes at risk.
    diversion_cost : DataFrame or mapping
        ``from_region``, ``to_region``, ``cost`` (cost of moving one unit; a pair listed
        one way costs the same both ways), or ``{"per_km": x, "handling": h}`` with ``network``.
    network : ChannelNetwork, optional
        For distance-based costs.
    price_column : str, optional
        Which column holds the prices (overrides the default above).
    tol : float, default 1e-6
        A gap counts only when it exceeds the cost by more than ``tol * (1 + cost)``.

    Returns
    -------
    DataFrame
        One row per pair and channel whose absolute price gap exceeds the cost:
        ``from_region`` (the cheap side, where the goods come from), ``to_region`` (the
        dear side), ``channel``, ``from_price``, ``to_price``, ``gap``, ``cost``,
        ``profit_per_unit`` (gap - cost), ``volume_at_risk`` and ``profit_at_risk``
        (``profit_per_unit * volume_at_risk``), sorted by ``profit_at_risk``.
        Rule: the volume at risk is the smaller of the two sides' volumes in that
        channel (the dear side cannot absorb more than it sells; the cheap side cannot
        release more than it buys).

    Examples
    --------
    >>> import pandas as pd
    >>> import channelopt as co
    >>> prices = pd.DataFrame({"region_id": ["a", "b", "a", "b"], "channel": ["ka", "ka", "trad", "trad"],
    ...                        "price": [10.0, 13.0, 8.0, 8.5], "volume": [100.0, 40.0, 50.0, 60.0]})
    >>> cost = pd.DataFrame({"from_region": ["b"], "to_region": ["a"], "cost": [2.0]})
    >>> co.diversion_risk(prices, cost)[["from_region", "to_region", "channel", "gap", "volume_at_risk"]].to_string()
    '  from_region to_region channel  gap  volume_at_risk\\n0           a         b      ka  3.0            40.0'
    """
    if not isinstance(prices, pd.DataFrame):
        raise SettingsError(f"prices must be a DataFrame with region_id, channel and price, got "
                            f"{type(prices).__name__}.")
    col = price_column or ("net_price" if "net_price" in prices.columns else "price")
    _missing_columns(prices, ("region_id", "channel", col), "prices")
    table = resolve_costs(diversion_cost, network, pd.unique(prices["region_id"]))
    if table is None:
        raise SettingsError("diversion_risk needs diversion_cost: a from_region, to_region, cost table, or "
                            "{'per_km': .., 'handling': ..} with network=.")
    keys = pd.MultiIndex.from_frame(prices[["region_id", "channel"]])
    if keys.duplicated().any():
        dups = keys[keys.duplicated()].tolist()
        raise ValidationError(f"prices has more than one row for (region_id, channel) {format_ids(dups)}.",
                              column="region_id", ids=dups)
    price = pd.to_numeric(prices[col], errors="coerce").to_numpy(dtype=float)
    if np.isnan(price).any():
        rows = np.flatnonzero(np.isnan(price))
        raise ValidationError(f"prices.{col} rows {format_ids(rows)} are not numbers.", column=col, ids=rows)
    vol_col = "volume" if "volume" in prices.columns else ("base_volume" if "base_volume" in prices.columns else None)
    volume = (pd.to_numeric(prices[vol_col], errors="coerce").to_numpy(dtype=float) if vol_col
              else np.full(len(prices), np.nan))
    src, dst, cost = directed_costs(table, where="diversion_cost")
    frame = pd.DataFrame({"region_id": prices["region_id"].to_numpy(), "channel": prices["channel"].to_numpy(),
                          "p": price, "q": volume})
    pairs = pd.DataFrame({"from_region": src, "to_region": dst, "cost": cost})
    a = pairs.merge(frame.rename(columns={"region_id": "from_region", "p": "from_price", "q": "qf"}),
                    on="from_region")
    a = a.merge(frame.rename(columns={"region_id": "to_region", "p": "to_price", "q": "qt"}),
                on=["to_region", "channel"])
    gap = a["to_price"] - a["from_price"]
    risky = a[gap.to_numpy() > a["cost"].to_numpy() + tol * (1.0 + a["cost"].to_numpy())].copy()
    risky["gap"] = risky["to_price"] - risky["from_price"]
    risky["profit_per_unit"] = risky["gap"] - risky["cost"]
    risky["volume_at_risk"] = np.fmin(risky["qf"].to_numpy(), risky["qt"].to_numpy()) if len(risky) else []
    risky["profit_at_risk"] = risky["profit_per_unit"] * risky["volume_at_risk"]
    cols = ["from_region", "to_region", "channel", "from_price", "to_price", "gap", "cost", "profit_per_unit",
            "volume_at_risk", "profit_at_risk"]
    return risky[cols].sort_values(["profit_at_risk", "profit_per_unit"], ascending=False,
                                   kind="stable").reset_index(drop=True)
