"""Sparse link accessors of ChannelNetwork (issue 13): the same links as the dense matrices, no n x m array."""

from __future__ import annotations

import tracemalloc

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

import channelopt as co
from channelopt.exceptions import SettingsError


def point_network(n, m, seed, crs=3857, scale=100_000.0):
    rng = np.random.default_rng(seed)
    a, b = rng.random((n, 2)) * scale, rng.random((m, 2)) * scale
    if crs == 4326:
        a, b = a / scale * 10 + [110, 25], b / scale * 10 + [110, 25]
    ext = (min(a[:, 0].min(), b[:, 0].min()) - 1, min(a[:, 1].min(), b[:, 1].min()) - 1,
           max(a[:, 0].max(), b[:, 0].max()) + 1, max(a[:, 1].max(), b[:, 1].max()) + 1)
    regions = gpd.GeoDataFrame({"region_id": ["all"]}, geometry=[box(*ext)], crs=crs)
    channels = rng.choice(["traditional", "pharmacy", "catering"], n)
    outlets = gpd.GeoDataFrame({"outlet_id": [f"o{i}" for i in range(n)], "region_id": "all", "channel": channels,
                                "potential": rng.uniform(1, 10, n)}, geometry=[Point(x, y) for x, y in a], crs=crs)
    serve = [rng.choice(["", "traditional", "pharmacy;catering", "traditional;pharmacy"]) for _ in range(m)]
    dists = gpd.GeoDataFrame({"distributor_id": [f"d{j}" for j in range(m)], "fixed_cost": 1.0, "capacity": np.inf,
                              "channels": serve}, geometry=[Point(x, y) for x, y in b], crs=crs)
    return co.ChannelNetwork(regions, outlets, dists, graph=pd.DataFrame({"region_a": [], "region_b": []}))


def dense_reference(net, k=None, radius=None, max_distance=None, exclude=None):
    """The links written from the dense matrices, in this test."""
    d, c = net.distances(), net.costs()
    ok = net.compatibility & np.isfinite(c)
    if max_distance is not None:
        ok &= d <= max_distance
    if exclude is not None:
        ok[:, exclude] = False
    out = set()
    for i in range(d.shape[0]):
        js = np.flatnonzero(ok[i])
        js = js[np.lexsort((js, d[i, js]))]
        keep = js if k is None else js[:k]
        if radius is not None:
            near = keep[d[i, keep] <= radius]
            keep = near if len(near) or not len(js) else js[:1]
        out |= {(i, int(j)) for j in keep}
    return out


@pytest.mark.parametrize("crs", [3857, 4326])
def test_link_distances_and_costs_match_the_dense_matrices(crs):
    net = point_network(30, 7, 1, crs=crs)
    oi, dj = np.divmod(np.arange(30 * 7), 7)
    fresh = point_network(30, 7, 1, crs=crs)  # nothing cached: measured on the links
    assert fresh.link_distances(oi, dj) == pytest.approx(net.distances()[oi, dj], rel=1e-12)
    assert fresh.link_costs(oi, dj) == pytest.approx(net.costs()[oi, dj], rel=1e-12)
    assert fresh._distances is None and fresh._costs is None


@pytest.mark.parametrize("how", [{"k": 3}, {"radius": 20.0}, {"k": 4, "radius": 15.0}, {"max_distance": 40.0},
                                 {"k": 2, "max_distance": 30.0}])
def test_links_are_the_dense_rule_applied_per_outlet(how):
    net = point_network(60, 9, 2)
    exclude = np.zeros(9, dtype=bool)
    exclude[4] = True
    got = net.links(exclude=exclude, **how, chunk_cells=50)  # many chunks
    assert set(zip(got["outlet"].tolist(), got["distributor"].tolist())) == dense_reference(net, exclude=exclude,
                                                                                              **how)
    assert got["cost"].to_numpy() == pytest.approx(net.costs()[got["outlet"], got["distributor"]])
    assert (np.diff(got["outlet"].to_numpy()) >= 0).all()


def test_allowed_links_are_compatibility_and_max_distance_in_dense_order():
    net = point_network(40, 8, 3)
    exclude = np.zeros(8, dtype=bool)
    exclude[2] = True
    ref = np.nonzero(net.compatibility & (net.distances() <= 35.0) & ~exclude[None, :])  # row-major
    oi, dj = net.allowed_links(max_distance=35.0, exclude=exclude)
    assert oi.tolist() == ref[0].tolist() and dj.tolist() == ref[1].tolist()
    expected = np.bincount(ref[0], minlength=40).tolist()
    assert net.allowed_counts(max_distance=35.0, exclude=exclude).tolist() == expected  # counted with the links
    fresh = point_network(40, 8, 3)  # counts alone, in their own pass
    assert fresh.allowed_counts(max_distance=35.0, exclude=exclude).tolist() == expected
    assert fresh.allowed_counts(max_distance=None).tolist() == np.bincount(np.nonzero(fresh.compatibility)[0],
                                                                           minlength=40).tolist()


def test_links_by_distance_without_locations_say_what_is_missing():
    net = co.ChannelNetwork.from_cost_matrix([[1.0, 2.0]])
    net._distances = None  # a cost matrix only
    with pytest.raises(SettingsError, match="distances need outlet and distributor locations"):
        net.links(k=1)
    assert net.links(k=1, by="cost")["distributor"].tolist() == [0]


def test_links_of_a_large_network_make_no_n_by_m_array():
    net = point_network(20_000, 1_000, 4)
    tracemalloc.start()
    links = net.links(k=10)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(links) == 20_000 * 10
    assert net._distances is None and net._costs is None
    # a dense float matrix of this network alone would take 160 MB
    assert peak < 80 * 2**20, f"peak {peak / 2**20:.0f} MB"


def test_channel_table_rows_are_the_compatibility_rows():
    net = point_network(50, 9, 5)
    codes, channels, table = net.channel_table()
    assert (table[codes] == net.compatibility).all()
    assert list(channels[codes]) == net.outlets["channel"].tolist()


def test_selection_build_with_candidates_makes_no_n_by_m_array():
    # checks, candidate links, the restriction test and the radius build: per-outlet counts and links only
    # (a boolean n x m mask of this network is 20 MB; the build made three before issue 13: 76 MB peak)
    net = point_network(20_000, 1_000, 4)
    tracemalloc.start()
    built = co.DistributorSelection(objective="p_median", p=50, candidates=10).build(net)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert built.strategy == "radius" and built.state["restricted"]
    assert len(built.state["oi"]) == 20_000 * 10
    assert net._distances is None and net._costs is None
    assert peak < 45 * 2**20, f"peak {peak / 2**20:.0f} MB"
