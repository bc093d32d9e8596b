"""A network's computed arrays follow its frames and settings when they are replaced.

Each check compares with a network built afresh from the new frames, and with values
worked out in the test (EPSG:3857 metres as km, cost = cost_per_km * demand * km).
"""

from __future__ import annotations

import numpy as np
import pytest

import channelopt as co
from channelopt import ChannelNetwork


@pytest.fixture
def net():
    return co.make_synthetic(8, 40, 5, seed=3)  # EPSG:3857


def _fresh(net):
    return ChannelNetwork(net.regions, net.outlets, net.distributors, net.graph, cost_per_km=net.cost_per_km)


def test_moved_outlets_give_new_distances_and_costs(net):
    before = net.distances().copy(), net.costs().copy()
    moved = net.outlets.copy()
    moved["geometry"] = moved.geometry.translate(5000.0, 2500.0)  # metres
    net.outlets = moved
    a = np.column_stack([moved.geometry.x, moved.geometry.y])
    b = np.column_stack([net.distributors.geometry.x, net.distributors.geometry.y])
    expect = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2)) / 1000.0
    assert not np.allclose(net.distances(), before[0])
    assert np.allclose(net.distances(), expect, rtol=1e-3)
    demand = moved["demand"].to_numpy(float)
    assert np.allclose(net.costs(), net.cost_per_km * demand[:, None] * expect, rtol=1e-3)
    assert np.allclose(net.costs(), _fresh(net).costs())


def test_reordered_outlets_get_their_own_regions(net):
    assert net.outlet_region_index is not None  # cached once
    net.outlets = net.outlets.iloc[::-1].reset_index(drop=True)
    ids = net.region_ids
    assert [ids[i] for i in net.outlet_region_index] == net.outlets["region_id"].tolist()


def test_a_new_cost_per_km_reprices_computed_costs(net):
    old = net.costs().copy()
    net.cost_per_km = net.cost_per_km * 3
    assert np.allclose(net.costs(), 3 * old)


def test_replaced_distributors_channels_reach_compatibility(net):
    assert net.compatibility.shape == (40, 5)  # computed and kept for the old distributors
    only = net.distributors.copy()
    only["channels"] = "pharmacy"
    net.distributors = only
    expect = (net.outlets["channel"].to_numpy() == "pharmacy")[:, None].repeat(len(only), axis=1)
    assert (net.compatibility == expect).all()


def test_given_matrices_stay_when_a_frame_is_replaced():
    cost = np.array([[1.0, 2.0], [3.0, 0.5], [2.0, 2.0]])
    dist = np.array([[10.0, 20.0], [30.0, 5.0], [20.0, 20.0]])
    net = ChannelNetwork.from_cost_matrix(cost, distances=dist)
    net.outlets = net.outlets.assign(potential=[5.0, 5.0, 5.0])
    assert np.array_equal(net.costs(), cost) and np.array_equal(net.distances(), dist)


def test_a_solve_after_moving_outlets_equals_one_on_a_fresh_network(net):
    model = co.DistributorSelection(objective="min_cost")
    net.distances(), net.costs()  # a user's look at the matrices keeps them on the network
    model.solve(net)  # and the solve keeps its links
    moved = net.outlets.copy()
    moved["geometry"] = moved.geometry.translate(15000.0, -10000.0)
    net.outlets = moved
    again, fresh = model.solve(net), co.DistributorSelection(objective="min_cost").solve(_fresh(net))
    assert again.status == fresh.status == "optimal"
    assert again.objective == pytest.approx(fresh.objective, rel=1e-9)
    pairs = ["outlet_id", "distributor_id", "share"]
    ours, theirs = (p.links[pairs].sort_values(pairs).values.tolist() for p in (again, fresh))
    assert ours == theirs
    assert again.links["distance"].to_numpy() == pytest.approx(fresh.links["distance"].to_numpy())
