"""Plan exports round-trip through real files; compare() lines plans up."""

from __future__ import annotations

import json

import geopandas as gpd
import matplotlib
import pandas as pd
import pyarrow.parquet as pq
import pytest

import channelopt as co

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def plan():
    net = co.make_synthetic(12, 150, 6, seed=3)
    return co.DistributorSelection(objective="p_median", p=3).solve(net)


def test_plan_carries_solve_info_and_metrics(plan):
    assert plan.status == "optimal"
    assert plan.bound == pytest.approx(plan.objective)
    assert plan.gap == 0.0
    assert plan.solve_seconds >= 0 and plan.build_seconds >= 0
    assert plan.metrics["numeric_distribution"] == 1.0
    assert len(plan.assignments) == 150
    assert plan.distributors["open"].sum() == 3
    assert set(plan.metrics.by_channel.index) == set(plan.network.channels)


def test_json_round_trip(plan, tmp_path):
    path = tmp_path / "plan.json"
    plan.to_json(path)
    data = json.loads(path.read_text())
    assert data["info"]["status"] == "optimal"
    assert data["info"]["objective"] == pytest.approx(plan.objective)
    assert data["metrics"]["overall"]["open_distributors"] == 3
    assert len(data["assignments"]) == 150
    assert data["settings"]["p"] == 3 and data["settings"]["solver"]["name"] == "highs"


def test_parquet_round_trip_with_metadata(plan, tmp_path):
    path = plan.to_parquet(tmp_path / "a.parquet")
    back = pd.read_parquet(path)
    pd.testing.assert_series_equal(back["distributor_id"], plan.assignments["distributor_id"], check_dtype=False)
    meta = json.loads(pq.read_schema(path).metadata[b"channelopt"])
    assert meta["info"]["status"] == "optimal"


def test_geopackage_layers(plan, tmp_path):
    path = plan.to_geopackage(tmp_path / "plan.gpkg")
    regions = gpd.read_file(path, layer="regions")
    outlets = gpd.read_file(path, layer="outlets")
    dists = gpd.read_file(path, layer="distributors")
    links = gpd.read_file(path, layer="links")
    assert len(regions) == 12 and "weighted_distribution" in regions.columns
    assert len(outlets) == 150 and outlets["distributor_id"].notna().all()
    assert dists["open"].sum() == 3
    assert len(links) == 150 and (links.geom_type == "LineString").all()
    assert regions.crs == plan.network.regions.crs


def test_geopackage_without_geometry_is_a_clear_error(tmp_path):
    net = co.ChannelNetwork.from_cost_matrix([[1, 2], [2, 1]])
    plan = co.DistributorSelection(objective="p_median", p=1).solve(net)
    with pytest.raises(co.SettingsError, match="no geometry"):
        plan.to_geopackage(tmp_path / "x.gpkg")


def test_save_directory(plan, tmp_path):
    out = plan.save(tmp_path / "plan")
    names = {p.name for p in out.iterdir()}
    assert {"assignments.parquet", "distributors.parquet", "links.parquet", "by_region.parquet", "plan.json"} <= names


def test_plot_returns_axes(plan):
    ax = plan.plot()
    assert ax.get_title().startswith("distributor selection")
    assert len(ax.collections) >= 2  # regions and distributors at least


def test_compare_table(plan):
    net = plan.network
    other = co.DistributorSelection(objective="p_median", p=4).solve(net)
    table = co.compare({"p3": plan, "p4": other})
    assert list(table.index) == ["p3", "p4"]
    assert table.loc["p4", "objective"] <= table.loc["p3", "objective"] + 1e-9
    assert table.loc["p4", "open_distributors"] == 4


def test_moved_names_keep_their_old_paths_for_one_release(tmp_path):
    import channelopt.plan as plan_mod
    import channelopt.report as report_mod
    from channelopt.comparison import compare

    net = co.ChannelNetwork.from_cost_matrix([[1, 4], [3, 1], [5, 2]], fixed_cost=[2, 3])
    plan = co.DistributorSelection(objective="min_cost").solve(net)
    d = plan.save(tmp_path / "p")
    with pytest.warns(DeprecationWarning, match="channelopt.comparison.compare"):
        assert plan_mod.compare is compare
    with pytest.warns(DeprecationWarning, match="channelopt.plan.Plan.load"):
        back = report_mod.load_plan(d)
    assert (back.objective, back.status, back.warnings) == (plan.objective, plan.status, plan.warnings)
    with pytest.warns(DeprecationWarning, match="channelopt.report_index.report_dir"):
        assert report_mod.report_dir(d).name == "report.html"


def test_tables_are_typed_properties_and_a_missing_one_names_the_tables():
    net = co.ChannelNetwork.from_cost_matrix([[1, 4], [3, 1], [5, 2]], fixed_cost=[2, 3])
    plan = co.DistributorSelection(objective="min_cost").solve(net)
    assert isinstance(co.Plan.__dict__["distributors"], property)
    assert plan.distributors is plan.tables["distributors"]
    assert plan.links is plan.tables["links"]
    with pytest.raises(AttributeError, match=r"distributor_selection plan; its tables are \['distributors', 'links'\]"):
        _ = plan.allocations
    assert not hasattr(plan, "owners")
