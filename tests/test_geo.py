"""Distances and adjacency against values known independently."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
from shapely.geometry import Point

from channelopt import geo


def test_haversine_known_distances():
    # Beijing (116.4074, 39.9042) to Shanghai (121.4737, 31.2304): about 1,068 km great-circle.
    assert geo.haversine_km(116.4074, 39.9042, 121.4737, 31.2304) == pytest.approx(1067.3, abs=2)
    # a quarter of a meridian
    assert geo.haversine_km(0, 0, 0, 90) == pytest.approx(np.pi / 2 * geo.EARTH_RADIUS_KM)
    assert geo.haversine_km(10, 10, 10, 10) == 0.0


def test_pairwise_euclidean_and_shape():
    d = geo.pairwise_distances([[0, 0], [3, 4]], [[0, 0], [6, 8], [3, 0]], geographic=False)
    assert d.shape == (2, 3)
    assert d.tolist() == [[0.0, 10.0, 3.0], [5.0, 5.0, 4.0]]


def test_delaunay_for_points():
    pts = gpd.GeoDataFrame({"region_id": list("abcd")},
                           geometry=[Point(0, 0), Point(1, 0), Point(0, 1), Point(5, 5)], crs=3857)
    g = geo.adjacency_graph(pts, contiguity="queen")  # points fall back to Delaunay
    assert nx.is_connected(g) and g.number_of_nodes() == 4


def test_road_distances_shortest_paths():
    road = nx.Graph()
    for n, (x, y) in {"A": (0, 0), "B": (10, 0), "C": (10, 10)}.items():
        road.add_node(n, x=x, y=y)
    road.add_edge("A", "B", length=10.0)
    road.add_edge("B", "C", length=10.0)
    d = geo.road_distances(road, np.array([[0.1, 0.0]]), np.array([[10, 10], [10, 0.2]]))
    assert d.tolist() == [[20.0, 10.0]]


def test_road_graph_without_coordinates_is_a_clear_error():
    road = nx.path_graph(3)
    with pytest.raises(geo.ValidationError, match="'x' and 'y'"):
        geo.road_distances(road, np.zeros((1, 2)), np.zeros((1, 2)))


def test_network_with_road_graph_uses_shortest_paths():
    import channelopt as co

    regions = gpd.GeoDataFrame({"region_id": ["r"]}, geometry=[Point(0, 0).buffer(100)], crs=3857)
    outlets = gpd.GeoDataFrame({"outlet_id": ["o"], "region_id": ["r"], "channel": ["t"], "potential": [1.0]},
                               geometry=[Point(0, 0)], crs=3857)
    dists = gpd.GeoDataFrame({"distributor_id": ["d"], "fixed_cost": [0.0], "capacity": [1.0]},
                             geometry=[Point(10, 10)], crs=3857)
    road = nx.Graph()
    for n, (x, y) in {"A": (0, 0), "B": (10, 0), "C": (10, 10)}.items():
        road.add_node(n, x=x, y=y)
    road.add_edge("A", "B", length=10.0)
    road.add_edge("B", "C", length=10.0)
    net = co.ChannelNetwork(regions, outlets, dists, road_graph=road)
    # by road (20 m), not the 14.1 m straight line; reported in km
    assert net.distances().tolist() == [[0.02]]


def test_delaunay_of_collinear_points_chains_neighbours():
    # Qhull refuses points on one line; neighbours are then consecutive along the line.
    pts = gpd.GeoDataFrame({"region_id": ["c", "a", "b", "d"]},
                           geometry=[Point(2, 2), Point(0, 0), Point(1, 1), Point(3, 3)], crs=3857)
    g = geo.adjacency_graph(pts, contiguity="delaunay")
    assert sorted(map(sorted, g.edges())) == [["a", "b"], ["b", "c"], ["c", "d"]]
