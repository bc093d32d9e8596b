"""ChannelNetwork validation: every bad input names the column, the ids and the fix."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from channelopt import ChannelNetwork, ValidationError


def frames():
    regions = gpd.GeoDataFrame(
        {"region_id": ["A", "B", "C"], "population": [10.0, 20.0, 30.0]},
        geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1), box(2, 0, 3, 1)],
        crs="EPSG:4326",
    )
    outlets = gpd.GeoDataFrame(
        {
            "outlet_id": ["o1", "o2", "o3", "o4"],
            "region_id": ["A", "A", "B", "C"],
            "channel": ["traditional", "pharmacy", "traditional", "modern_ka"],
            "potential": [1.0, 2.0, 3.0, 4.0],
            "workload": [1.0, 1.0, 2.0, 2.0],
        },
        geometry=[Point(0.5, 0.5), Point(0.2, 0.2), Point(1.5, 0.5), Point(2.5, 0.5)],
        crs="EPSG:4326",
    )
    dists = gpd.GeoDataFrame(
        {
            "distributor_id": ["d1", "d2"],
            "fixed_cost": [5.0, 6.0],
            "capacity": [10.0, np.inf],
            "channels": ["traditional;pharmacy", None],
            "existing": [False, True],
        },
        geometry=[Point(0.5, 0.6), Point(2.5, 0.6)],
        crs="EPSG:4326",
    )
    return regions, outlets, dists


def test_valid_network_and_graph():
    regions, outlets, dists = frames()
    net = ChannelNetwork(regions, outlets, dists)
    assert sorted(net.graph.edges()) == [("A", "B"), ("B", "C")]
    assert net.distance_unit == "km"
    d = net.distances()
    assert d.shape == (4, 2)
    # 0.1 degree of latitude is ~11.1 km
    assert d[0, 0] == pytest.approx(11.12, abs=0.05)
    compat = net.compatibility
    assert compat.tolist() == [[True, True], [True, True], [True, True], [False, True]]
    table = net.region_table()
    assert table.set_index("region_id")["n_outlets"].to_dict() == {"A": 2, "B": 1, "C": 1}


def test_inputs_are_not_mutated():
    regions, outlets, dists = frames()
    before = [f.copy() for f in (regions, outlets, dists)]
    ChannelNetwork(regions, outlets, dists)
    for a, b in zip(before, (regions, outlets, dists)):
        pd.testing.assert_frame_equal(a, b)
    assert "demand" not in outlets.columns


@pytest.mark.parametrize(
    "mutate, column, ids",
    [
        (lambda r, o, d: (r, o.drop(columns="potential"), d), "potential", []),
        (lambda r, o, d: (r, o.assign(outlet_id=["o1", "o1", "o3", "o4"]), d), "outlet_id", ["o1"]),
        (lambda r, o, d: (r, o.assign(potential=[1.0, np.nan, 3.0, 4.0]), d), "potential", ["o2"]),
        (lambda r, o, d: (r, o.assign(workload=[1.0, 1.0, -2.0, 2.0]), d), "workload", ["o3"]),
        (lambda r, o, d: (r, o.assign(region_id=["A", "A", "Z", "C"]), d), "region_id", ["o3"]),
        (lambda r, o, d: (r, o, d.assign(capacity=[-1.0, 5.0])), "capacity", ["d1"]),
        (lambda r, o, d: (r, o, d.assign(fixed_cost=[np.nan, 5.0])), "fixed_cost", ["d1"]),
        (lambda r, o, d: (r.assign(region_id=["A", "A", "C"]), o, d), "region_id", ["A"]),
        (lambda r, o, d: (r, o.set_crs(None, allow_override=True), d), "geometry", []),
        (lambda r, o, d: (r, o.iloc[0:0], d), "outlet_id", []),
        (lambda r, o, d: (r, o.assign(potential=["1", "x", "3", "4"]), d), "potential", ["o2"]),
    ],
    ids=["missing-column", "duplicate-id", "nan", "negative", "unknown-region", "negative-capacity",
         "nan-fixed-cost", "duplicate-region", "no-crs", "empty", "non-numeric"],
)
def test_bad_inputs_name_column_and_ids(mutate, column, ids):
    regions, outlets, dists = mutate(*frames())
    with pytest.raises(ValidationError) as err:
        ChannelNetwork(regions, outlets, dists)
    assert err.value.column == column
    assert err.value.ids == ids
    message = str(err.value)
    assert column in message
    for i in ids:
        assert repr(i) in message


def test_crs_without_crs_message_says_how_to_fix():
    regions, outlets, dists = frames()
    with pytest.raises(ValidationError, match=r"set_crs\('EPSG:4326'\)"):
        ChannelNetwork(regions.set_crs(None, allow_override=True), outlets, dists)


def test_graph_with_unknown_nodes_is_rejected():
    regions, outlets, dists = frames()
    g = nx.Graph([("A", "B"), ("B", "Q")])
    with pytest.raises(ValidationError, match="'Q'"):
        ChannelNetwork(regions, outlets, dists, graph=g)


def test_edges_frame_and_projected_crs_reprojection():
    regions, outlets, dists = frames()
    edges = pd.DataFrame({"region_a": ["A"], "region_b": ["C"]})
    net = ChannelNetwork(regions, outlets.to_crs(3857), dists, graph=edges)
    assert sorted(net.graph.edges()) == [("A", "C")]
    assert net.outlets.crs == regions.crs  # aligned to the regions' CRS


def test_from_cost_matrix_and_from_graph():
    net = ChannelNetwork.from_cost_matrix(np.array([[1.0, 2.0]]), demand=[3.0], capacity=[4.0, 5.0])
    assert net.costs().tolist() == [[1.0, 2.0]]
    assert net.distributors["capacity"].tolist() == [4.0, 5.0]
    with pytest.raises(ValidationError, match="demand has length 2"):
        ChannelNetwork.from_cost_matrix(np.ones((1, 2)), demand=[1.0, 2.0])
    with pytest.raises(ValidationError, match="NaN"):
        ChannelNetwork.from_cost_matrix(np.array([[1.0, np.nan]]))
    g = nx.cycle_graph(5)
    nx.set_node_attributes(g, dict.fromkeys(range(5), 2.0), "pop")
    assert ChannelNetwork.from_graph(g, ["pop"]).region_table()["pop"].sum() == 10.0
    g.nodes[3].pop("pop")
    with pytest.raises(ValidationError, match=r"\[3\]"):
        ChannelNetwork.from_graph(g, ["pop"])


def test_rook_versus_queen_and_islands():
    regions = gpd.GeoDataFrame({"region_id": list("abcd")},
                               geometry=[box(0, 0, 1, 1), box(1, 1, 2, 2), box(1, 0, 2, 1), box(5, 5, 6, 6)],
                               crs=3857)
    queen = ChannelNetwork(regions, contiguity="queen").graph
    rook = ChannelNetwork(regions, contiguity="rook").graph
    assert queen.has_edge("a", "b") and not rook.has_edge("a", "b")
    net = ChannelNetwork(regions)
    assert net.components()[-1] == ["d"]
    bridged = net.with_bridged_islands()
    assert nx.is_connected(bridged.graph)
    assert not nx.is_connected(net.graph)  # the original is untouched


def test_example_networks_load():
    from channelopt.datasets import load_example

    net = load_example("china")
    assert len(net.regions) >= 300 and len(net.outlets) >= 5000 and len(net.distributors) >= 50
    assert set(net.graph.nodes) == set(net.region_ids)
    assert net.graph.number_of_nodes() == len(net.regions)


# ----------------------------------------------------------------------------- issue 10 item 17, item 19
def test_nan_longitude_is_named_not_a_later_infeasibility():
    regions, outlets, dists = frames()
    outlets = outlets.copy()
    outlets.loc[1, "geometry"] = Point(float("nan"), 0.2)
    with pytest.raises(ValidationError) as err:
        ChannelNetwork(regions, outlets, dists)
    assert err.value.ids == ["o2"] and "NaN" in str(err.value) and "lon" in err.value.column


def test_swapped_lon_lat_is_named():
    regions, outlets, dists = frames()
    outlets = outlets.copy()
    outlets.loc[2, "geometry"] = Point(31.2, 121.5)  # lat = 121: lon and lat exchanged
    with pytest.raises(ValidationError) as err:
        ChannelNetwork(regions, outlets, dists)
    assert err.value.ids == ["o3"] and "look swapped" in str(err.value) and "-90..90" in str(err.value)


def test_unknown_channel_in_distributor_list_is_named():
    regions, outlets, dists = frames()
    dists = dists.copy()
    dists.loc[0, "channels"] = "traditional;KA"
    with pytest.raises(ValidationError) as err:
        ChannelNetwork(regions, outlets, dists)
    assert err.value.column == "channels" and err.value.ids == ["d1"] and "'KA'" in str(err.value)
    # A standard channel that no outlet of this network has is fine (e.g. a subset of regions).
    dists.loc[0, "channels"] = "traditional;catering"
    assert ChannelNetwork(regions, outlets, dists).compatibility[:, 0].tolist() == [True, False, True, False]


def test_plain_frames_with_lon_lat_become_points():
    regions, outlets, dists = frames()
    plain_out = pd.DataFrame(outlets.drop(columns="geometry")).assign(
        lon=outlets.geometry.x.to_numpy(), lat=outlets.geometry.y.to_numpy())
    plain_dist = pd.DataFrame(dists.drop(columns="geometry")).assign(
        lon=dists.geometry.x.to_numpy(), lat=dists.geometry.y.to_numpy())
    plain_reg = pd.DataFrame({"region_id": ["A", "B", "C"], "lon": [0.5, 1.5, 2.5], "lat": [0.5, 0.5, 0.5]})
    before = plain_out.copy()
    net = ChannelNetwork(plain_reg, plain_out, plain_dist)
    pd.testing.assert_frame_equal(plain_out, before)  # not mutated
    ref = ChannelNetwork(regions, outlets, dists)
    assert net.graph.number_of_edges() == 2  # Delaunay of the three region points (A-B, B-C), not 0
    np.testing.assert_allclose(net.distances(), ref.distances(), rtol=1e-12)
    with pytest.raises(ValidationError) as err:
        ChannelNetwork(plain_reg, plain_out.assign(lat=[0.5, 95.0, 0.5, 0.5]), plain_dist)
    assert err.value.ids == ["o2"] and err.value.column == "lat"


def test_projected_networks_measure_km():
    from channelopt.datasets import make_synthetic, synthetic_frames

    net = make_synthetic(8, 60, 4, seed=3)
    fr = synthetic_frames(8, 60, 4, seed=3)
    o, d = fr["outlets"].geometry, fr["distributors"].geometry
    dx = o.x.to_numpy()[:, None] - d.x.to_numpy()[None, :]
    metres = np.hypot(dx, o.y.to_numpy()[:, None] - d.y.to_numpy()[None, :])
    assert net.distance_unit == "km"
    np.testing.assert_allclose(net.distances(), metres / 1000.0, rtol=1e-12)
    # the same service cost per km as the lon/lat examples
    demand = net.outlets["demand"].to_numpy()
    np.testing.assert_allclose(net.costs(), 2e-4 * demand[:, None] * metres / 1000.0, rtol=1e-12)


def test_default_cost_per_km_does_not_swamp_fixed_costs():
    # 30 outlets of ~40,000 potential, 50 km from their distributor: service must stay well below a
    # distributor's fixed cost (the old default of 1.0 gave 83.5M on such data).
    regions, outlets, dists = frames()
    net = ChannelNetwork(regions, outlets.assign(potential=40_000.0), dists)
    km = net.distances()
    assert net.costs() == pytest.approx(2e-4 * 40_000.0 * km)


def test_empty_channel_cells_mean_every_channel_and_plans_export():
    import channelopt as co

    regions, outlets, dists = frames()
    dists = dists.copy()
    dists["channels"] = [float("nan"), ""]  # as read from blank spreadsheet cells
    net = ChannelNetwork(regions, outlets, dists)
    assert net.distributors["channels"].tolist() == [None, None]
    assert net.compatibility.all()
    plan = co.DistributorSelection(objective="min_cost").solve(net)
    assert plan.to_geodataframes()["distributors"]["channels"].isna().all()


def test_distance_errors_state_the_unit():
    import channelopt as co
    from channelopt.datasets import make_synthetic

    net = make_synthetic(6, 40, 3, seed=2)
    with pytest.raises(co.InfeasibleError) as err:
        co.DistributorSelection(objective="min_cost", max_distance=0.5).solve(net)
    assert "max_distance=0.5 km" in str(err.value)
