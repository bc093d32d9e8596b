"""ChannelPlanner's price stage: corridors on the borders between its territories."""

from __future__ import annotations

import pandas as pd
import pytest

import channelopt as co
from channelopt.datasets import make_synthetic
from channelopt.pricing.stage import territory_price_model


def region_cells(net):
    rows = []
    for k, r in enumerate(net.region_ids.tolist()):
        for ch, p0 in (("traditional", 10.0), ("modern_ka", 9.5)):
            price = p0 * (1 + 0.08 * ((k * 7919) % 11 - 5) / 5)  # drifted list prices
            rows.append({"region_id": r, "channel": ch, "unit_cost": 6.0, "base_price": price, "base_volume": 100.0,
                         "elasticity": 2.0, "price_min": 0.8 * price, "price_max": 1.2 * price})
    return pd.DataFrame(rows)


def test_planner_price_stage_holds_corridors_on_territory_borders_only():
    net = make_synthetic(10, 120, 5, seed=0)
    cells = region_cells(net)
    spec = {"cells": cells, "diversion_cost": {"per_km": 0.0, "handling": 0.05}}
    planner = co.ChannelPlanner(selection={"objective": "p_median", "p": 3}, territories={}, price=spec)
    plan = planner.solve(net)
    assert "prices" in plan.stages
    prices = plan.stages["prices"].prices
    terr = plan.regions.set_index("region_id")["territory"]
    every = co.diversion_costs(net, per_km=0.0, handling=0.05)
    crossing = every[every["from_region"].map(terr) != every["to_region"].map(terr)]
    inside = every[every["from_region"].map(terr) == every["to_region"].map(terr)]
    assert len(crossing) and len(inside)
    # Every border between territories is safe; inside territories the prices may differ freely.
    assert co.diversion_risk(prices, crossing).empty
    assert not co.diversion_risk(prices, inside).empty


def test_territory_price_model_names_unknown_settings():
    with pytest.raises(co.SettingsError, match="diversion_cost"):
        territory_price_model({"cells": None, "diversion_costs": 1.0}, {})
