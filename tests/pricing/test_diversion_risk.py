"""diversion_risk and diversion_costs against rules written out here."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import channelopt as co
from channelopt.exceptions import SettingsError, ValidationError


@st.composite
def price_lists(draw):
    n = draw(st.integers(2, 5))
    regions = [f"r{i}" for i in range(n)]
    channels = ["ka", "trad"]
    prices = draw(st.lists(st.floats(5.0, 15.0), min_size=2 * n, max_size=2 * n))
    vols = draw(st.lists(st.floats(0.0, 500.0), min_size=2 * n, max_size=2 * n))
    frame = pd.DataFrame({"region_id": regions * 2, "channel": [c for c in channels for _ in regions],
                          "price": prices, "volume": vols})
    pairs = [(a, b) for i, a in enumerate(regions) for b in regions[i + 1:]]
    chosen = draw(st.lists(st.sampled_from(pairs), min_size=1, max_size=len(pairs), unique=True))
    costs = draw(st.lists(st.floats(0.0, 6.0), min_size=len(chosen), max_size=len(chosen)))
    cost = pd.DataFrame({"from_region": [a for a, _ in chosen], "to_region": [b for _, b in chosen], "cost": costs})
    return frame, cost


@settings(max_examples=60, deadline=None)
@given(price_lists())
def test_property_risk_is_empty_exactly_when_every_corridor_holds(inst):
    prices, cost = inst
    p = {(r, c): v for r, c, v in prices[["region_id", "channel", "price"]].itertuples(index=False)}
    q = {(r, c): v for r, c, v in prices[["region_id", "channel", "volume"]].itertuples(index=False)}
    expected = set()
    for a, b, c in cost.itertuples(index=False):
        for ch in ("ka", "trad"):
            gap = p[(b, ch)] - p[(a, ch)]
            if abs(gap) > c + 1e-6 * (1 + c):
                expected.add((a, b, ch) if gap > 0 else (b, a, ch))
    risk = co.diversion_risk(prices, cost)
    assert set(zip(risk["from_region"], risk["to_region"], risk["channel"])) == expected
    assert risk.empty == (len(expected) == 0)
    for row in risk.itertuples():
        assert row.gap == pytest.approx(p[(row.to_region, row.channel)] - p[(row.from_region, row.channel)])
        assert row.profit_per_unit == pytest.approx(row.gap - row.cost) and row.profit_per_unit > 0
        assert row.volume_at_risk == min(q[(row.from_region, row.channel)], q[(row.to_region, row.channel)])


def test_each_direction_keeps_its_own_cost_when_listed_both_ways():
    prices = pd.DataFrame({"region_id": ["a", "b"], "channel": "ka", "price": [10.0, 12.0]})
    cost = pd.DataFrame({"from_region": ["a", "b"], "to_region": ["b", "a"], "cost": [2.5, 1.0]})
    assert co.diversion_risk(prices, cost).empty  # a -> b costs 2.5 > 2
    flipped = prices.assign(price=[12.0, 10.0])
    risk = co.diversion_risk(flipped, cost)  # b -> a costs 1.0 < 2
    assert risk[["from_region", "to_region", "cost"]].values.tolist() == [["b", "a", 1.0]]
    assert np.isnan(risk["volume_at_risk"].iloc[0])


def test_net_price_is_used_when_present():
    prices = pd.DataFrame({"region_id": ["a", "b"], "channel": "ka", "price": [10.0, 10.0],
                           "net_price": [9.0, 10.0]})
    cost = pd.DataFrame({"from_region": ["a"], "to_region": ["b"], "cost": [0.5]})
    assert len(co.diversion_risk(prices, cost)) == 1
    assert co.diversion_risk(prices, cost, price_column="price").empty


def test_costs_from_a_network_are_per_km_times_distance_plus_handling():
    g = nx.Graph()
    g.add_node("a", x=0.0, y=0.0)
    g.add_node("b", x=3000.0, y=4000.0)
    g.add_node("c", x=3000.0, y=0.0)
    g.add_edges_from([("a", "b"), ("a", "c")])
    net = co.ChannelNetwork.from_graph(g)
    # x/y are EPSG:3857 metres: a-b is 5000 m = 5 km, a-c 3 km (every distance is km)
    table = co.diversion_costs(net, per_km=1.0, handling=2.0)
    got = {(f, t): c for f, t, c in table[["from_region", "to_region", "cost"]].itertuples(index=False)}
    assert got == pytest.approx({("a", "b"): 1.0 * 5 + 2.0, ("a", "c"): 1.0 * 3 + 2.0})
    prices = pd.DataFrame({"region_id": ["a", "b", "c"], "channel": "ka", "price": [10.0, 16.0, 16.0]})
    risk = co.diversion_risk(prices, {"per_km": 1.0, "handling": 2.0}, network=net)
    assert risk[["from_region", "to_region"]].values.tolist() == [["a", "c"]]


def test_bad_inputs_name_the_problem():
    prices = pd.DataFrame({"region_id": ["a", "b"], "channel": "ka", "price": [10.0, 12.0]})
    with pytest.raises(ValidationError) as err:
        co.diversion_risk(prices, pd.DataFrame({"from_region": ["a"], "to_region": ["b"], "cst": [1.0]}))
    assert "'cst' -> 'cost'" in str(err.value) and err.value.column == "cost"
    with pytest.raises(ValidationError, match=r"rows \[0\]"):
        co.diversion_risk(prices, pd.DataFrame({"from_region": ["a"], "to_region": ["b"], "cost": [-1.0]}))
    with pytest.raises(SettingsError, match="needs a network"):
        co.diversion_risk(prices, {"per_km": 0.1})
    with pytest.raises(SettingsError, match="nearest"):
        co.diversion_risk(prices, {"per_kms": 0.1})


def test_territories_keep_only_the_borders_between_territories():
    g = nx.path_graph(["a", "b", "c", "d"])
    net = co.ChannelNetwork.from_graph(g)
    table = co.diversion_costs(net, per_km=1.0, handling=0.5, territories={"a": "T1", "b": "T1", "c": "T2", "d": "T2"})
    assert table[["from_region", "to_region"]].values.tolist() == [["b", "c"]]
    assert table["cost"].tolist() == [1.5]  # one hop without geometry
    every = co.diversion_costs(net, per_km=1.0, handling=0.5)
    assert len(every) == 3
