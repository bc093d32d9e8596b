"""Real boundaries joined to the user's region ids by name (cnmaps optional)."""

from __future__ import annotations

import sys

import geopandas as gpd
import pytest
from shapely.geometry import Point, box

import channelopt as co
from channelopt.boundaries import CNMAPS_INSTALL, cnmaps_polygons, join_boundaries, with_boundaries
from channelopt.exceptions import ValidationError


def _polys():
    return gpd.GeoDataFrame({"name": ["杭州市", "宁波市", "上海市", "鼓楼区", "鼓楼区"]},
                            geometry=[box(119.5, 29.8, 120.6, 30.6), box(121.0, 29.5, 122.0, 30.3),
                                      box(121.0, 30.7, 122.0, 31.6), box(0, 0, 1, 1), box(2, 2, 3, 3)],
                            crs="EPSG:4326")


def test_join_by_name_reports_unmatched_and_ambiguous():
    j = join_boundaries(["杭州", "宁波市", "火星市", "鼓楼"], _polys())
    assert j.regions.set_index("region_id")["boundary_name"].to_dict() == {"杭州": "杭州市", "宁波市": "宁波市"}
    assert j.unmatched == ["火星市"]
    assert j.ambiguous == {"鼓楼": ["鼓楼区", "鼓楼区"]}


def test_with_boundaries_keeps_graph_and_names_unmatched():
    outlets = {"outlet_id": ["a", "b", "c"], "lon": [120.16, 120.2, 121.47], "lat": [30.27, 30.3, 31.23],
               "channel": ["traditional"] * 3, "potential": [1.0, 2.0, 3.0], "region_id": ["杭州", "杭州", "上海"]}
    dists = {"distributor_id": ["d"], "lon": [120.5], "lat": [30.5], "fixed_cost": [1.0], "capacity": [10.0]}
    import pandas as pd

    net = co.read_network({"outlets": pd.DataFrame(outlets), "distributors": pd.DataFrame(dists)})
    out = with_boundaries(net, _polys())
    assert set(out.regions.geom_type) == {"Polygon"}
    assert sorted(out.graph.edges()) == sorted(net.graph.edges())
    assert net.regions.geom_type.eq("Point").all()  # the input network is unchanged
    with pytest.raises(ValidationError) as err:
        with_boundaries(net, _polys().iloc[[1, 2]])
    assert err.value.ids == ["杭州"] and "strict=False" in str(err.value)


def test_without_cnmaps_the_loader_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "cnmaps", None)  # as if not installed
    with pytest.raises(ImportError) as err:
        cnmaps_polygons("city")
    assert str(err.value) == CNMAPS_INSTALL and 'pip install "channelopt[cnmaps]"' in str(err.value)


def test_cnmaps_city_polygons_join_real_names():
    pytest.importorskip("cnmaps", reason="cnmaps not installed (optional extra channelopt[cnmaps])")
    polys = cnmaps_polygons("city", province="浙江省")
    j = join_boundaries(["杭州", "宁波市", "火星"], polys)
    assert j.unmatched == ["火星"]
    hz = j.regions.set_index("region_id").geometry["杭州"]
    # West Lake (West Lake district, 杭州) lies in 杭州市 and not in 宁波市.
    assert hz.contains(Point(120.15, 30.25))
    assert not j.regions.set_index("region_id").geometry["宁波市"].contains(Point(120.15, 30.25))
