"""The price stage of a ChannelPlanner: corridors on the borders between territories."""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Mapping

import pandas as pd

from ..exceptions import SettingsError
from .model import PricePlan

__all__ = ["territory_price_model"]


def territory_price_model(spec, territories) -> PricePlan:
    """A PricePlan whose diversion corridors sit only on territory borders.

    Inside a territory one distributor sells on both sides of every region border,
    so nothing is diverted there; between territories the corridors hold.

    Parameters
    ----------
    spec : PricePlan or mapping of its settings
        Needs ``cells`` (region x channel) and ``diversion_cost`` (a table, or
        ``{"per_km": x, "handling": h}`` priced on the network's adjacency).
    territories : mapping or Series region_id -> territory

    Returns
    -------
    PricePlan

    Examples
    --------
    >>> import pandas as pd
    >>> cost = pd.DataFrame({"from_region": ["a", "b"], "to_region": ["b", "c"], "cost": [1.0, 2.0]})
    >>> m = territory_price_model({"cells": None, "diversion_cost": cost}, {"a": 0, "b": 0, "c": 1})
    >>> m.diversion_cost[["from_region", "to_region"]].values.tolist()
    [['b', 'c']]
    """
    if isinstance(spec, PricePlan):
        params = spec.get_params()
    elif isinstance(spec, Mapping):
        known = [p for p in inspect.signature(PricePlan.__init__).parameters if p != "self"]
        unknown = [k for k in spec if k not in known]
        if unknown:
            near = {k: difflib.get_close_matches(str(k), known, n=1) for k in unknown}
            raise SettingsError(f"price stage: unknown PricePlan setting(s) {unknown} (nearest: {near}); known: "
                                f"{known}.")
        params = dict(spec)
    else:
        raise SettingsError(f"price must be a PricePlan or a mapping of its settings, got {type(spec).__name__}.")
    cost = params.get("diversion_cost")
    if cost is None:
        raise SettingsError("price stage needs diversion_cost: a from_region, to_region, cost table or "
                            "{'per_km': .., 'handling': ..}; the territory borders are where it applies.")
    terr = dict(territories.items())
    if isinstance(cost, Mapping):
        cost = {**cost, "territories": terr}
    elif isinstance(cost, pd.DataFrame) and {"from_region", "to_region"} <= set(cost.columns):
        a = cost["from_region"].map(lambda r: terr.get(r, ("own", r)))
        b = cost["to_region"].map(lambda r: terr.get(r, ("own", r)))
        cost = cost[(a != b).to_numpy()].reset_index(drop=True)
    params["diversion_cost"] = cost
    return PricePlan(**params)
