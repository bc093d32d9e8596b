"""Maps and charts: drawn from real solves, checked against the plan's own numbers."""

from __future__ import annotations

import itertools
import logging
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

import channelopt as co  # noqa: E402
from channelopt import viz  # noqa: E402
from channelopt._progress import progress, progress_enabled, set_verbosity  # noqa: E402
from channelopt.comparison import pareto_mask  # noqa: E402
from channelopt.datasets import synthetic_frames  # noqa: E402
from channelopt.metrics import Metrics  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def china_plan():
    # max_coverage leaves part of the country uncovered, so coverage shading has contrast.
    net = co.load_example("china")
    return co.DistributorSelection(objective="max_coverage", p=10, max_distance=300).solve(net)


def _points_network(region_points: bool) -> co.ChannelNetwork:
    f = synthetic_frames(12, 150, 5, seed=3)
    if region_points:
        regions = f["regions"].copy()
        regions["geometry"] = regions.geometry.centroid
    else:
        regions = pd.DataFrame(f["regions"].drop(columns="geometry"))
    return co.ChannelNetwork(regions, f["outlets"], f["distributors"], graph=f["edges"])


@pytest.fixture(scope="module", params=["no_region_geometry", "region_points"])
def points_plan(request):
    net = _points_network(request.param == "region_points")
    return co.DistributorSelection(objective="max_coverage", p=2, max_distance=15).solve(net)


def _region_collection(ax, n):
    return next(c for c in ax.collections if len(c.get_paths()) == n)


# -- maps -------------------------------------------------------------------------------------------------

def test_china_map_marks_open_distributors_links_and_coverage(china_plan):
    plan = china_plan
    assert 0.1 < plan.metrics["weighted_distribution"] < 0.9  # the shading below needs both ends
    ax = plan.plot()
    n_regions = len(plan.network.regions)
    regions = _region_collection(ax, n_regions)
    # Covered and uncovered regions get different colours, matching their WD order.
    layer = plan.to_geodataframes()["regions"]
    wd = layer["weighted_distribution"].to_numpy()
    faces = regions.get_facecolors()
    assert len(faces) == n_regions
    full, none = int(np.nanargmax(wd)), int(np.nanargmin(wd))
    assert to_hex(faces[full]) != to_hex(faces[none])
    assert faces[full][:3].sum() < faces[none][:3].sum()  # YlGn: more coverage is darker
    # One red star per open distributor, one grey cross per closed candidate.
    n_open = plan.metrics["open_distributors"]
    stars = [c for c in ax.collections if len(c.get_offsets()) == n_open
             and to_hex(c.get_facecolors()[0]) == viz._OPEN]
    assert stars, "no collection of open-distributor stars"
    crosses = [c for c in ax.collections if len(c.get_offsets()) == len(plan.network.distributors) - n_open]
    assert crosses
    # One service line per link.
    assert any(len(c.get_paths()) == len(plan.links) for c in ax.collections if c is not regions)
    if os.environ.get("CHANNELOPT_SCREENSHOTS"):  # kept for the issue note / reviewers
        out = Path(os.environ["CHANNELOPT_SCREENSHOTS"])
        out.mkdir(parents=True, exist_ok=True)
        ax.figure.savefig(out / "china_map.png", dpi=110, bbox_inches="tight")


def test_numeric_and_weighted_coverage_shade_differently(china_plan):
    n = len(china_plan.network.regions)
    faces = {}
    for cov in ("numeric", "weighted"):
        faces[cov] = _region_collection(china_plan.plot(coverage=cov, links=False), n).get_facecolors()
    assert not np.allclose(faces["numeric"], faces["weighted"])
    with pytest.raises(co.SettingsError, match="coverage must be one of"):
        china_plan.plot(coverage="depth")


def test_points_only_network_maps_outlets_regions_and_distributors(points_plan):
    plan = points_plan
    net = plan.network
    layers = plan.to_geodataframes()
    assert set(layers) >= {"regions", "outlets", "distributors", "links"}
    assert not layers["regions"].geom_type.isin(["Polygon", "MultiPolygon"]).any()
    ax = plan.plot()
    covered = int(plan.assignments["covered"].sum())
    assert 0 < covered < len(net.outlets)
    sizes = sorted(len(c.get_offsets()) for c in ax.collections)
    assert covered in sizes and len(net.outlets) - covered in sizes
    assert len(net.regions) in sizes
    assert plan.metrics["open_distributors"] in sizes


def test_points_only_region_is_at_its_outlets_mean():
    net = _points_network(region_points=False)
    plan = co.DistributorSelection(objective="p_median", p=2).solve(net)
    regions = plan.to_geodataframes()["regions"].set_index("region_id")
    xy = net.outlet_xy()
    first = net.region_ids[0]
    mask = net.outlets["region_id"].to_numpy() == first
    assert regions.geometry[first].x == pytest.approx(xy[mask, 0].mean())
    assert regions.geometry[first].y == pytest.approx(xy[mask, 1].mean())


def test_cost_matrix_plan_has_no_map_but_still_plots_and_explore_says_why():
    net = co.ChannelNetwork.from_cost_matrix([[1, 4], [3, 1], [5, 2]], fixed_cost=[2, 3])
    plan = co.DistributorSelection(objective="min_cost").solve(net)
    assert "no geometry" in plan.plot().get_title()
    with pytest.raises(co.SettingsError, match="no locations"):
        plan.explore()


def test_explore_china_tooltips_carry_breadth_and_depth(china_plan):
    fmap = china_plan.explore(tiles=None, outlets=False)
    page = fmap.get_root().render()
    for field in ("numeric_distribution", "weighted_distribution", "channel_breadth", "penetration", "distributors"):
        assert field in page
    # Every region is a feature; every candidate a marker; links drawn.
    geojson = [c for c in fmap._children.values() if type(c).__name__ == "GeoJson"]
    regions = next(g for g in geojson if "regions" in g.layer_name)
    assert len(regions.data["features"]) == len(china_plan.network.regions)
    dists = next(c for c in fmap._children.values() if getattr(c, "layer_name", "") == "distributors")
    markers = [c for c in dists._children.values() if type(c).__name__ == "RegularPolygonMarker"]
    assert len(markers) == len(china_plan.network.distributors)
    assert any(g.layer_name == "service links" for g in geojson)
    # A covered region's tooltip value equals the plan's metric.
    props = {f["properties"]["region_id"]: f["properties"] for f in regions.data["features"]}
    rid, wd = next(iter(china_plan.metrics.by_region["weighted_distribution"].dropna().items()))
    assert props[rid]["weighted_distribution"] == viz._fmt(float(wd))


def test_explore_points_only_outlet_tooltips(points_plan):
    fmap = points_plan.explore(tiles=None)
    outlets = next(c for c in fmap._children.values() if getattr(c, "layer_name", "") == "outlets")
    assert len(outlets.data["features"]) == len(points_plan.network.outlets)
    props = outlets.data["features"][0]["properties"]
    assert {"outlet_id", "channel", "potential", "covered"} <= set(props)


# -- charts -----------------------------------------------------------------------------------------------

def test_breadth_depth_scatter_places_each_region(china_plan):
    ax = viz.plot_breadth_depth(china_plan)
    pts = ax.collections[0].get_offsets()
    table = china_plan.metrics.by_region
    assert len(pts) == len(table)
    np.testing.assert_allclose(pts[:, 0], table["channel_breadth"].to_numpy())
    np.testing.assert_allclose(pts[:, 1], table["penetration"].to_numpy())


def _territory_plan(loads, balance=None):
    terr = pd.DataFrame({"workload": loads}, index=pd.Index([f"T{i}" for i in range(len(loads))], name="territory"))
    info = co.SolveInfo("highs", "optimal", "optimal", objective=1.0, bound=1.0, gap=0.0)
    return co.Plan("territory_design", info, pd.DataFrame(), Metrics(by_territory=terr),
                   settings={"balance": balance} if balance else {})


def test_balance_band_from_model_setting_and_out_of_band_bars_hatched():
    plan = _territory_plan([80.0, 100.0, 120.0], balance={"workload": 0.1})
    ax = viz.plot_balance(plan)
    bars = ax.patches[:3]
    assert [b.get_height() for b in bars] == [80.0, 100.0, 120.0]
    band = ax.patches[3]
    y = band.get_transform().transform(band.get_path().vertices)[:, 1]
    lo, hi = ax.transData.inverted().transform(np.c_[np.zeros(2), [y.min(), y.max()]])[:, 1]
    assert (lo, hi) == pytest.approx((90.0, 110.0))
    assert [b.get_hatch() for b in bars] == ["//", None, "//"]
    # Absolute bounds given as (L, U) are drawn as they are.
    ax2 = viz.plot_balance(_territory_plan([80.0, 100.0, 120.0], balance={"workload": (70.0, 130.0)}))
    assert [b.get_hatch() for b in ax2.patches[:3]] == [None, None, None]
    with pytest.raises(co.SettingsError, match="potential"):
        viz.plot_balance(plan, "potential")


def test_balance_on_a_real_territory_plan():
    from channelopt.models.territories import TerritoryDesign

    net = co.make_synthetic(12, 150, 3, seed=2)
    plan = TerritoryDesign(k=3, objective="cut_edges", contiguity=True, balance={"workload": 0.15}).solve(net)
    ax = viz.plot_balance(plan)
    heights = [b.get_height() for b in ax.patches[:3]]
    np.testing.assert_allclose(heights, plan.territories["workload"].to_numpy())
    assert all(b.get_hatch() is None for b in ax.patches[:3])  # the solver kept every territory in band
    # The map colours every region by its territory: as many colours as territories.
    faces = _region_collection(plan.plot(), len(net.regions)).get_facecolors()
    assert len({to_hex(f) for f in faces}) == 3


def test_response_curves_mark_chosen_spend_and_marginal_roi():
    cells = pd.DataFrame({"region_id": ["a", "b", "c"], "channel": ["ka", "ka", "pharmacy"],
                          "curve": [co.Hill(100.0, 50.0, 1.0), co.Hill(60.0, 20.0, 1.0), co.Hill(30.0, 80.0, 1.0)],
                          "max_spend": 300.0})
    plan = co.BudgetAllocation(total=150.0, cells=cells).solve()
    left, right = viz.plot_response(plan)
    spend = plan.allocations["spend"].to_numpy()
    dots = [ln for ln in left.lines if ln.get_marker() == "o"]
    assert len(dots) == 3
    for ln in dots:
        x, y = ln.get_xdata()[0], ln.get_ydata()[0]
        i = int(np.argmin(np.abs(spend - x)))
        assert y == pytest.approx(float(cells["curve"][i](spend[i])))
    active = int((spend > 0).sum())
    assert len(right.patches) == active
    mroi = plan.metrics["marginal_roi"]
    assert any(np.allclose(ln.get_xdata(), mroi) for ln in right.lines)
    # Without the curve objects the chart says what it needs.
    plan_no_cells = co.Plan(plan.kind, plan.info, plan.assignments, plan.metrics, tables=plan.tables)
    with pytest.raises(co.SettingsError, match="cells="):
        viz.plot_response(plan_no_cells)


def _dominated_brute(xs, ys):
    out = []
    for i in range(len(xs)):
        out.append(any(xs[j] <= xs[i] and ys[j] >= ys[i] and (xs[j] < xs[i] or ys[j] > ys[i])
                       for j in range(len(xs))))
    return out


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), min_size=1, max_size=12))
def test_pareto_front_matches_brute_force(points):
    xs, ys = [float(p[0]) for p in points], [float(p[1]) for p in points]
    front = pareto_mask(pd.DataFrame({"total_cost": xs, "weighted_distribution": ys}),
                        maximize=["weighted_distribution"], minimize=["total_cost"])
    assert front.tolist() == [not d for d in _dominated_brute(xs, ys)]
    assert front.any()


def test_pareto_chart_over_real_scenarios():
    net = co.make_synthetic(8, 120, 5, seed=4)
    plans = {f"p{p}": co.DistributorSelection(objective="max_coverage", p=p, max_distance=12).solve(net)
             for p in (1, 2, 3)}
    frame = co.compare(plans)
    ax = viz.plot_pareto(plans)
    assert sorted(t.get_text() for t in ax.texts) == ["p1", "p2", "p3"]
    front = pareto_mask(frame, maximize=["weighted_distribution"], minimize=["total_cost"])
    on = [c for c in ax.collections if c.get_label().startswith("Pareto front")][0]
    assert len(on.get_offsets()) == int(front.sum())
    with pytest.raises(co.SettingsError, match="'cost'"):
        pareto_mask(frame, minimize=["cost"])
    # The old name still answers, once more, with a warning naming the new one.
    with pytest.warns(DeprecationWarning, match="comparison.pareto_mask"):
        assert viz.pareto_front(frame).tolist() == front.tolist()


# -- progress and logging ---------------------------------------------------------------------------------

def test_quiet_by_default_verbose_on_request(caplog, capsys):
    logger = logging.getLogger("channelopt")
    before = logger.level
    try:
        set_verbosity(False)
        assert not progress_enabled()
        list(progress(range(3), desc="quiet"))
        assert capsys.readouterr().err == ""
        set_verbosity("INFO")
        assert progress_enabled()
        list(progress(range(3), desc="loud"))
        assert "loud" in capsys.readouterr().err
        with pytest.raises(co.SettingsError, match="logging level"):
            set_verbosity("chatty")
    finally:
        set_verbosity(False)
        logger.setLevel(before)


def test_plot_does_not_mutate_the_plan(china_plan):
    before = {k: v.copy() for k, v in china_plan.tables.items()}
    region_cols = list(china_plan.metrics.by_region.columns)
    china_plan.plot()
    viz.plot_breadth_depth(china_plan)
    for k, v in before.items():
        pd.testing.assert_frame_equal(china_plan.tables[k], v)
    assert list(china_plan.metrics.by_region.columns) == region_cols


def test_territory_colours_are_stable_and_distinct():
    labels = pd.Series(list(itertools.islice(itertools.cycle("ABC"), 9)))
    colours, lut = viz._territory_colours(labels)
    assert len(set(lut.values())) == 3
    assert colours.iloc[0] == colours.iloc[3] == lut["A"]
