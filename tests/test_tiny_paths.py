"""The tiny-instance fast paths (issue 13) give what the general paths give.

- ``ChannelNetwork.from_cost_matrix`` builds its network without the general
  constructor when every check passes in numpy: the network must equal one built by
  ``ChannelNetwork(regions, outlets, distributors, costs=, distances=)`` from the same
  data, and bad input must still be named (column, ids) by the general checks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from channelopt import ChannelNetwork
from channelopt.exceptions import ValidationError


def _general(cost, demand=None, fixed_cost=None, capacity=None, *, outlet_ids=None, distributor_ids=None,
             distances=None, potential=None, channel="all", region_ids=None) -> ChannelNetwork:
    """The same network through the general constructor, written out here from the documented defaults."""
    cost = np.asarray(cost, dtype=float)
    n, m = cost.shape
    demand = np.ones(n) if demand is None else np.asarray(demand, dtype=float)
    outlet_ids = [f"o{i}" for i in range(n)] if outlet_ids is None else list(outlet_ids)
    distributor_ids = [f"d{j}" for j in range(m)] if distributor_ids is None else list(distributor_ids)
    region_ids = ["all"] * n if region_ids is None else list(region_ids)
    outlets = pd.DataFrame({"outlet_id": outlet_ids, "region_id": region_ids, "channel": channel,
                            "potential": demand if potential is None else np.asarray(potential, dtype=float),
                            "demand": demand})
    dists = pd.DataFrame({"distributor_id": distributor_ids,
                          "fixed_cost": np.zeros(m) if fixed_cost is None else np.asarray(fixed_cost, dtype=float),
                          "capacity": np.full(m, np.inf) if capacity is None else np.asarray(capacity, dtype=float)})
    regions = pd.DataFrame({"region_id": list(dict.fromkeys(region_ids))})
    return ChannelNetwork(regions, outlets, dists, costs=cost, distances=cost if distances is None else distances)


RNG = np.random.default_rng(13)
COST = RNG.uniform(0, 10, (6, 3))
CASES = [
    {},
    {"demand": [1, 2, 3, 4, 5, 6.5], "fixed_cost": [1, 2, 3], "capacity": [10, np.inf, 5],
     "outlet_ids": [10, 11, 12, 13, 14, 15], "distributor_ids": ["a", "b", "c"],
     "channel": ["pharmacy", "catering", "pharmacy", "pharmacy", "catering", "catering"],
     "region_ids": ["r1", "r2", "r1", "r3", "r3", "r2"], "potential": [1, 0, 3, 4, 5, 6], "distances": COST * 2},
    {"region_ids": [1, 1, 2, 2, 3, 3], "channel": "traditional"},
]


@pytest.mark.parametrize("kw", CASES)
def test_matrix_network_equals_the_general_constructors(kw):
    light = ChannelNetwork.from_cost_matrix(COST, **kw)
    general = _general(COST, **kw)
    for name in ("regions", "outlets", "distributors"):
        pd.testing.assert_frame_equal(getattr(light, name), getattr(general, name), check_exact=True)
    assert list(light.graph.nodes) == list(general.graph.nodes)
    assert light.graph.number_of_edges() == general.graph.number_of_edges() == 0
    np.testing.assert_array_equal(light.costs(), general.costs())
    np.testing.assert_array_equal(light.distances(), general.distances())
    assert light.distance_unit == general.distance_unit == "as given"
    # the light path fills the cached outlet_region_index from its lists: the general one, computed
    np.testing.assert_array_equal(light.outlet_region_index, general.outlet_region_index)
    assert sorted(vars(light)) == sorted(vars(general))
    for key in ("name", "road_graph", "road_weight", "contiguity", "cost_per_km", "crs", "_distances_given"):
        assert getattr(light, key) == getattr(general, key), key
    # costs and distances are two arrays (each is handed out), neither the caller's
    assert light.costs() is not light.distances()
    assert not np.shares_memory(light.costs(), COST)


def test_matrix_network_does_not_alias_the_callers_arrays():
    cost, dist = COST.copy(), COST.copy() * 3
    net = ChannelNetwork.from_cost_matrix(cost, distances=dist)
    net.costs()[0, 0] = -1.0
    net.distances()[0, 0] = -1.0
    assert cost[0, 0] == COST[0, 0] and dist[0, 0] == COST[0, 0] * 3
    plain = ChannelNetwork.from_cost_matrix(cost)
    plain.costs()[1, 1] = 99.0
    assert plain.distances()[1, 1] == COST[1, 1]


@pytest.mark.parametrize("kw, column, ids, words", [
    ({"cost": np.where(np.arange(18).reshape(6, 3) == 7, np.nan, COST)}, "costs", ["o2"], "NaN"),
    ({"cost": np.where(np.arange(18).reshape(6, 3) == 4, -1.0, COST)}, "costs", ["o1"], "negative"),
    ({"distances": np.where(np.arange(18).reshape(6, 3) == 16, np.nan, COST)}, "distances", ["o5"], "NaN"),
    # potential defaults to demand and is checked first: give it, so that demand is the one named
    ({"demand": [1, 1, -2, 1, 1, 1], "potential": np.ones(6)}, "demand", ["o2"], "negative"),
    ({"demand": [1, 1, 1, np.nan, 1, 1], "potential": np.ones(6)}, "demand", ["o3"], "NaN"),
    ({"potential": [1, np.inf, 1, 1, 1, 1]}, "potential", ["o1"], "infinite"),
    ({"fixed_cost": [1, -1, 0]}, "fixed_cost", ["d1"], "negative"),
    ({"capacity": [1, np.nan, 0]}, "capacity", ["d1"], "NaN"),
    ({"outlet_ids": ["a", "b", "a", "c", "d", "e"]}, "outlet_id", ["a"], "duplicate"),
    ({"distributor_ids": ["x", "y", "y"]}, "distributor_id", ["y"], "duplicate"),
    ({"outlet_ids": ["a", None, "b", "c", "d", "e"]}, "outlet_id", [1], "missing ids"),
    ({"channel": ["traditional", None, "traditional", "traditional", "traditional", "traditional"]},
     "channel", ["o1"], "missing"),
])
def test_bad_matrix_input_is_named_by_the_general_checks(kw, column, ids, words):
    kw = dict(kw)
    cost = kw.pop("cost", COST)
    with pytest.raises(ValidationError) as err:
        ChannelNetwork.from_cost_matrix(cost, **kw)
    assert err.value.column == column
    assert list(err.value.ids) == ids
    assert words in str(err.value) and column in str(err.value)


def test_non_text_channels_are_text_as_in_the_general_path():
    net = ChannelNetwork.from_cost_matrix(COST, channel=[1, 2, 1, 2, 1, 2])
    assert net.outlets["channel"].tolist() == ["1", "2", "1", "2", "1", "2"]
    assert net.channels == ["1", "2"]
