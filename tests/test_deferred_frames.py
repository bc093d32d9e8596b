"""A matrix network's frames are made on first read, and nothing a user sees changes (issue 13).

``ChannelNetwork.from_cost_matrix``'s light path keeps its columns and makes the
``regions``/``outlets``/``distributors`` frames only when they are read; a
DistributorSelection solve reads the columns through ``net._column`` and never makes
them. These tests hold the deferred network to the general constructor's (frames made
at once, from frames written out here), on random networks: the same frames, columns,
ids and dtypes; the same model arrays; the same plans, tables and metrics; no input
changed or aliased; and the frame, once made, is the truth (edits and replacements
reach the next solve, never a plan already made).
"""

from __future__ import annotations

import copy
import itertools
import math
import pickle
import threading
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import channelopt as co
from channelopt import ChannelNetwork

FRAMES = ("regions", "outlets", "distributors")
COLUMNS = {"regions": ["region_id"],
           "outlets": ["outlet_id", "region_id", "channel", "potential", "demand", "workload"],
           "distributors": ["distributor_id", "fixed_cost", "capacity", "existing", "channels"]}


def _general(cost, demand=None, fixed_cost=None, capacity=None, *, outlet_ids=None, distributor_ids=None,
             distances=None, potential=None, channel="all", region_ids=None) -> ChannelNetwork:
    """The same network through the general constructor, from the documented defaults written out here."""
    cost = np.array(cost, dtype=float)
    n, m = cost.shape
    demand = np.ones(n) if demand is None else np.array(demand, dtype=float)
    region_ids = ["all"] * n if region_ids is None else list(region_ids)
    outlets = pd.DataFrame({"outlet_id": [f"o{i}" for i in range(n)] if outlet_ids is None else list(outlet_ids),
                            "region_id": region_ids, "channel": channel,
                            "potential": demand if potential is None else np.array(potential, dtype=float),
                            "demand": demand})
    dists = pd.DataFrame({
        "distributor_id": [f"d{j}" for j in range(m)] if distributor_ids is None else list(distributor_ids),
        "fixed_cost": np.zeros(m) if fixed_cost is None else np.array(fixed_cost, dtype=float),
        "capacity": np.full(m, np.inf) if capacity is None else np.array(capacity, dtype=float)})
    regions = pd.DataFrame({"region_id": list(dict.fromkeys(region_ids))})
    return ChannelNetwork(regions, outlets, dists, costs=cost,
                          distances=cost if distances is None else np.array(distances, dtype=float))


def _deferred(net) -> list[str]:
    return sorted(vars(net).get("_pending_frames", {}))


@st.composite
def networks(draw):
    """Keyword arguments of ``from_cost_matrix`` that its light path takes (every check passes)."""
    n, m = draw(st.integers(1, 8)), draw(st.integers(1, 4))
    num = st.floats(0, 20, allow_nan=False, width=32)
    cost = np.array(draw(st.lists(num, min_size=n * m, max_size=n * m)), dtype=float).reshape(n, m)
    kw = {"cost": cost}
    if draw(st.booleans()):
        kw["distances"] = np.array(draw(st.lists(num, min_size=n * m, max_size=n * m))).reshape(n, m)
    if draw(st.booleans()):
        kw["demand"] = draw(st.lists(st.floats(0, 9, width=32), min_size=n, max_size=n))
    if draw(st.booleans()):
        kw["potential"] = np.array(draw(st.lists(st.floats(0, 9, width=32), min_size=n, max_size=n)))
    if draw(st.booleans()):
        kw["fixed_cost"] = draw(st.lists(num, min_size=m, max_size=m))
    if draw(st.booleans()):
        kw["capacity"] = draw(st.lists(st.sampled_from([np.inf, 0.0, 1.0, 5.0, 50.0]), min_size=m, max_size=m))
    ids = draw(st.sampled_from(["default", "str", "int"]))
    if ids == "str":
        kw["outlet_ids"] = [f"店{i}" for i in draw(st.permutations(range(n)))]
        kw["distributor_ids"] = [f"经销商{j}" for j in range(m)]
    elif ids == "int":
        base = draw(st.sampled_from([0, -5, 2**62]))
        kw["outlet_ids"] = [base + i for i in draw(st.permutations(range(n)))]
        kw["distributor_ids"] = [base - 1 - j for j in range(m)]
    channel = draw(st.sampled_from(["none", "one", "list"]))
    if channel == "one":
        kw["channel"] = draw(st.sampled_from(["traditional", "药店"]))
    elif channel == "list":
        kw["channel"] = draw(st.lists(st.sampled_from(["traditional", "modern_ka", "药店"]), min_size=n, max_size=n))
    regions = draw(st.sampled_from(["none", "str", "int"]))
    if regions != "none":
        pool = ["北", "south", "east"] if regions == "str" else [3, 1, 2]
        kw["region_ids"] = draw(st.lists(st.sampled_from(pool), min_size=n, max_size=n))
    return kw


def _split(kw):
    kw = {k: (v.copy() if isinstance(v, np.ndarray) else copy.deepcopy(v)) for k, v in kw.items()}
    return kw.pop("cost"), kw


# ---------------------------------------------------------------- the columns and frames
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks())
def test_deferred_columns_and_frames_are_the_general_constructors(kw):
    cost, rest = _split(kw)
    light = ChannelNetwork.from_cost_matrix(cost, **rest)
    general = _general(cost, **rest)
    assert _deferred(light) == sorted(FRAMES)  # the light path was taken: nothing made yet
    for table in FRAMES:
        frame = getattr(general, table)
        assert light._count(table) == len(frame)
        for col in COLUMNS[table]:
            assert list(frame.columns) == COLUMNS[table]
            assert light._has_column(table, col)
            got, want = light._column(table, col), frame[col].to_numpy()
            assert got.dtype == want.dtype, (table, col)
            np.testing.assert_array_equal(got, want)
            assert not got.flags.writeable or not np.shares_memory(got, light._column(table, col))
            arr, want_arr = light._column_array(table, col)(), frame[col].array
            assert type(arr) is type(want_arr) and arr.dtype == want_arr.dtype, (table, col)
            assert arr.tolist() == want_arr.tolist()
        assert not light._has_column(table, "visits_per_month")
    for ids in ("region_ids", "outlet_ids", "distributor_ids"):
        got, want = getattr(light, ids), getattr(general, ids)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
    assert _deferred(light) == sorted(FRAMES)  # reading columns made no frame
    for k, table in enumerate(FRAMES):
        made = getattr(light, table)
        pd.testing.assert_frame_equal(made, getattr(general, table), check_exact=True)
        assert getattr(light, table) is made  # made once
        assert _deferred(light) == sorted(FRAMES[k + 1:])
    np.testing.assert_array_equal(light.outlet_region_index, general.outlet_region_index)
    assert sorted(vars(light)) == sorted(vars(general))


# ---------------------------------------------------------------- plans
def _tables(plan) -> dict[str, pd.DataFrame]:
    m = plan.metrics
    return {"assignments": plan.assignments, "distributors": plan.distributors, "links": plan.links,
            "by_region": m.by_region, "by_channel": m.by_channel, "by_distributor": m.by_distributor}


def _same_overall(a: dict, b: dict) -> None:
    assert list(a) == list(b)
    for key in a:
        x, y = a[key], b[key]
        assert type(x) is type(y), key
        assert x == y or (isinstance(x, float) and math.isnan(x) and math.isnan(y)), key


def _solve(net, settings_):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return co.DistributorSelection(**settings_).solve(net)
        except co.exceptions.ChannelOptError as exc:
            return exc


MODELS = [{"objective": "min_cost"},
          {"objective": "min_cost", "capacitated": True},
          {"objective": "set_cover", "max_distance": 8.0},
          {"objective": "max_coverage", "p": 1, "max_distance": 6.0},
          {"objective": "max_coverage", "p": 1, "max_distance": 6.0, "coverage_weight": "potential"},
          {"objective": "backup_coverage", "max_distance": 10.0},
          {"objective": "p_median", "p": 1},  # the radius strategy
          {"objective": "p_median", "p": 1, "strategy": "mip"},
          {"objective": "p_center", "p": 1},  # covering steps
          {"objective": "min_cost", "candidates": 1}]  # restricted links, certified or widened


@pytest.mark.parametrize("model", MODELS, ids=lambda m: "-".join(f"{v}" for v in m.values()))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kw=networks())
def test_a_plan_on_a_deferred_network_is_the_plan_on_the_general_one(kw, model):
    cost, rest = _split(kw)
    light = ChannelNetwork.from_cost_matrix(cost, **rest)
    general = _general(cost, **rest)
    # the same model: the same arrays, to the bit
    got, want = (co.DistributorSelection(**model) for _ in range(2))
    try:
        a, b = got.build(light).arrays.arrays(), want.build(general).arrays.arrays()
    except co.exceptions.ChannelOptError as exc:
        with pytest.raises(type(exc)) as again:
            want.build(general)
        assert str(again.value) == str(exc)
        event(f"build: {type(exc).__name__}")
        return
    for field in ("cost", "col_lower", "col_upper", "integer", "row_lower", "row_upper", "indptr", "indices", "data"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)
    light = ChannelNetwork.from_cost_matrix(cost, **rest)
    p, q = _solve(light, model), _solve(general, model)
    event(f"{model['objective']}: {type(q).__name__}")
    if isinstance(q, Exception):
        assert type(p) is type(q) and str(p) == str(q)
        return
    assert (p.status, p.objective, p.info.bound) == (q.status, q.objective, q.info.bound)
    _same_overall(p.metrics.overall, q.metrics.overall)
    assert _deferred(light) == sorted(FRAMES)  # the solve made no frame ...
    tables = _tables(p)
    assert _deferred(light) == sorted(FRAMES)  # ... nor did the plan's tables
    for name, table in _tables(q).items():
        pd.testing.assert_frame_equal(tables[name], table, check_exact=True, obj=name)


def _brute_set_cover(dist, r) -> int:
    n, m = dist.shape
    for k in range(1, m + 1):
        for pick in itertools.combinations(range(m), k):
            if (dist[:, list(pick)] <= r).any(axis=1).all():
                return k
    raise AssertionError("no cover")


def test_the_set_cover_plan_on_a_deferred_network_is_checked_on_the_data():
    rng = np.random.default_rng(5)
    dist = rng.uniform(0, 10, (30, 6))
    dist[:, 0] = np.where(dist.min(axis=1) > 4, 3.0, dist[:, 0])  # every outlet within reach of someone
    net = ChannelNetwork.from_cost_matrix(dist, region_ids=[f"r{i % 4}" for i in range(30)])
    plan = co.DistributorSelection(objective="set_cover", max_distance=4.0).solve(net)
    assert _deferred(net) == sorted(FRAMES)
    assert plan.status == "optimal" and plan.objective == _brute_set_cover(dist, 4.0)
    opened = plan.distributors["open"].to_numpy()
    assert plan.distributors["distributor_id"].tolist() == [f"d{j}" for j in range(6)]
    assert opened.sum() == plan.objective and (dist[:, opened] <= 4.0).any(axis=1).all()
    a = plan.assignments
    assert a["outlet_id"].tolist() == [f"o{i}" for i in range(30)] and a["covered"].all()
    # each outlet's distributor: its nearest open one (coverage models assign the nearest), within reach
    near = np.where(opened, dist, np.inf).argmin(axis=1)
    assert a["distributor_id"].tolist() == [f"d{j}" for j in near]
    np.testing.assert_array_equal(a["distance"].to_numpy(), dist[np.arange(30), near])
    assert plan.metrics.by_region.index.tolist() == ["r0", "r1", "r2", "r3"]
    assert plan.metrics.by_region["outlets"].tolist() == [8, 8, 7, 7]
    assert plan.metrics.by_channel.index.tolist() == ["all"]
    assert _deferred(net) == sorted(FRAMES)


# ---------------------------------------------------------------- inputs, edits, replacements, copies
def test_nothing_passed_in_is_changed_or_shared():
    rng = np.random.default_rng(2)
    cost, dist = rng.uniform(1, 9, (6, 3)), rng.uniform(1, 9, (6, 3))
    demand, potential = rng.uniform(1, 3, 6), rng.uniform(0, 5, 6)
    fixed, cap = np.array([1.0, 2.0, 3.0]), np.array([np.inf, 20.0, 20.0])
    out_ids, dist_ids, regions = ["a", "b", "c", "d", "e", "f"], ["x", "y", "z"], ["n", "s", "n", "s", "n", "s"]
    channels = ["traditional", "药店"] * 3
    given_ = [cost, dist, demand, potential, fixed, cap, out_ids, dist_ids, regions, channels]
    before = copy.deepcopy(given_)
    net = ChannelNetwork.from_cost_matrix(cost, demand, fixed, cap, outlet_ids=out_ids, distributor_ids=dist_ids,
                                          distances=dist, potential=potential, channel=channels, region_ids=regions)
    plan = co.DistributorSelection(objective="min_cost", capacitated=True).solve(net)
    _tables(plan)
    for table in FRAMES:  # the frames, made now, and then edited in place by the user
        frame = getattr(net, table)
        for col in frame.columns:
            values = frame[col].to_numpy()
            assert not any(np.shares_memory(values, g) for g in given_ if isinstance(g, np.ndarray)), col
    net.outlets.loc[0, "demand"] = 99.0
    net.distributors.loc[1, "capacity"] = 1.0
    for got, want in zip(given_, before):
        np.testing.assert_array_equal(np.asarray(got, dtype=object), np.asarray(want, dtype=object))


def test_a_made_frame_is_the_truth_for_the_next_solve_and_never_for_a_plan_made():
    cost = np.array([[1.0, 9.0], [9.0, 1.0], [2.0, 8.0]])
    net = ChannelNetwork.from_cost_matrix(cost, fixed_cost=[10.0, 10.0], outlet_ids=["a", "b", "c"])
    early = co.DistributorSelection(objective="min_cost").solve(net)
    demand_then = net._column("outlets", "demand")
    # opening both costs 20 + 1 + 1 + 2 = 24; one (d0) 10 + 1 + 9 + 2 = 22
    assert early.objective == pytest.approx(22.0) and early.distributors["open"].tolist() == [True, False]
    net.outlets.loc[1, "outlet_id"] = "changed"  # the frame is made here, then edited
    net.outlets.loc[0, "demand"] = 7.0
    net.distributors.loc[1, "fixed_cost"] = 0.0  # now both open: 10 + 0 + 1 + 1 + 2 = 14
    assert early.assignments["outlet_id"].tolist() == ["a", "b", "c"]  # a plan made before keeps its data
    assert early.distributors["fixed_cost"].tolist() == [10.0, 10.0]
    assert early.distributors["load"].tolist() == [3.0, 0.0]
    assert demand_then.tolist() == [1.0, 1.0, 1.0] and not demand_then.flags.writeable
    late = co.DistributorSelection(objective="min_cost").solve(net)
    assert late.objective == pytest.approx(14.0)
    assert late.distributors["load"].tolist() == [7.0 + 1.0, 1.0]  # a's new demand, and c's, on d0; b on d1
    assert late.assignments["outlet_id"].tolist() == ["a", "changed", "c"]


def test_setting_a_frame_replaces_the_deferred_one():
    net = ChannelNetwork.from_cost_matrix([[1.0, 9.0], [9.0, 1.0]], fixed_cost=[5.0, 5.0])
    mine = pd.DataFrame({"distributor_id": ["p", "q"], "fixed_cost": [5.0, 100.0], "capacity": [np.inf, np.inf],
                         "existing": [False, False], "channels": [None, None]})
    net.distributors = mine  # never read before: the deferred frame is dropped, never made
    assert net.distributors is mine and _deferred(net) == ["outlets", "regions"]
    assert net._column("distributors", "fixed_cost").tolist() == [5.0, 100.0]
    plan = co.DistributorSelection(objective="min_cost").solve(net)
    assert plan.objective == pytest.approx(5.0 + 1.0 + 9.0)
    assert plan.distributors["distributor_id"].tolist() == ["p", "q"]


def test_a_copy_shares_its_frames_as_before_and_a_pickle_keeps_them_deferred_and_read_only():
    net = ChannelNetwork.from_cost_matrix([[1.0, 2.0], [3.0, 1.0]], channel=["a", "b"])
    twin = net.copy()
    for table in FRAMES:
        assert getattr(twin, table) is getattr(net, table)
    net = ChannelNetwork.from_cost_matrix([[1.0, 2.0], [3.0, 1.0]], channel=["a", "b"])
    for back in (pickle.loads(pickle.dumps(net)), copy.deepcopy(net)):
        assert _deferred(back) == sorted(FRAMES)
        assert not back._column("outlets", "demand").flags.writeable
        plan = co.DistributorSelection(objective="min_cost").solve(back)
        assert plan.objective == pytest.approx(2.0)
        for table in FRAMES:
            pd.testing.assert_frame_equal(getattr(back, table), getattr(net, table), check_exact=True)


def test_threads_reading_a_deferred_frame_first_get_one_frame():
    for _ in range(20):
        net = ChannelNetwork.from_cost_matrix(np.ones((50, 5)))
        got, barrier = [], threading.Barrier(4)

        def read(net=net, got=got, barrier=barrier):
            barrier.wait()
            got.append(net.outlets)

        threads = [threading.Thread(target=read) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert all(frame is net.outlets for frame in got)


def test_visits_per_month_reach_the_plans_metrics_by_region():
    outlets = pd.DataFrame({"outlet_id": ["a", "b", "c", "d"], "region_id": ["n", "n", "s", "s"],
                            "channel": "traditional", "potential": [5.0, 5.0, 3.0, 4.0],
                            "visits_per_month": [4.0, 2.0, 6.0, 8.0]})
    dists = pd.DataFrame({"distributor_id": ["x", "y"], "fixed_cost": [0.0, 0.0], "capacity": [np.inf, np.inf]})
    dist = np.array([[1.0, 9.0], [2.0, 9.0], [9.0, 1.0], [9.0, 4.0]])
    net = ChannelNetwork(pd.DataFrame({"region_id": ["n", "s"]}), outlets, dists, costs=dist, distances=dist)
    plan = co.DistributorSelection(objective="max_coverage", p=1, max_distance=5.0).solve(net)
    assert plan.distributors["open"].tolist() == [True, False]  # x covers a and b (10), y c and d (7)
    r = plan.metrics.by_region
    assert r.loc["n", "visits_per_covered_outlet"] == pytest.approx((4.0 + 2.0) / 2)
    assert math.isnan(r.loc["s", "visits_per_covered_outlet"])


# ---------------------------------------------------------------- the kept allowed links follow the data
def _served_ok(plan, net) -> bool:
    """Every served outlet's distributor carries its channel (the distributors' lists, read here)."""
    lists = {d: c for d, c in zip(net.distributors["distributor_id"], net.distributors["channels"])}
    for channel, dist in plan.assignments[["channel", "distributor_id"]].itertuples(index=False):
        allowed = lists[dist]
        if allowed is not None and channel not in [p.strip() for p in str(allowed).split(";")]:
            return False
    return True


def test_a_replaced_or_edited_channel_list_reaches_the_next_solve():
    cost = [[1.0, 5.0], [5.0, 1.0]]
    model = co.DistributorSelection(objective="set_cover", max_distance=2.0)
    net = ChannelNetwork.from_cost_matrix(cost, channel=["traditional", "catering"])
    assert model.solve(net).objective == 2.0
    # nobody carries traditional any more: o0 cannot be served (a fresh network says so too)
    net.distributors = net.distributors.assign(channels=["catering", "catering"])
    with pytest.raises(co.exceptions.InfeasibleError) as err:
        model.solve(net)
    assert "outlets ['o0'] cannot be served" in str(err.value)
    # edited in place, back to a list that serves both
    net.distributors.loc[0, "channels"] = "traditional;catering"
    plan = model.solve(net)
    assert plan.objective == 2.0 and _served_ok(plan, net)
    # an outlet's channel edited in place: o1 becomes traditional, which only d0 carries (5 km away)
    net.outlets.loc[1, "channel"] = "traditional"
    with pytest.raises(co.exceptions.InfeasibleError) as err:
        model.solve(net)
    assert "outlets ['o1'] cannot be served" in str(err.value)
    plan = co.DistributorSelection(objective="set_cover", max_distance=6.0).solve(net)
    assert plan.distributors["open"].tolist() == [True, False] and _served_ok(plan, net)


def test_replaced_outlet_locations_reach_the_next_solve():
    import geopandas as gpd
    from shapely.geometry import Point, box

    regions = gpd.GeoDataFrame({"region_id": ["r"]}, geometry=[box(0, 0, 10_000, 10_000)], crs=3857)
    outlets = gpd.GeoDataFrame({"outlet_id": ["a", "b"], "region_id": ["r", "r"], "channel": "traditional",
                                "potential": [1.0, 1.0]}, geometry=[Point(0, 0), Point(9_000, 0)], crs=3857)
    dists = gpd.GeoDataFrame({"distributor_id": ["x", "y"], "fixed_cost": [1.0, 1.0], "capacity": [np.inf, np.inf]},
                             geometry=[Point(500, 0), Point(8_500, 0)], crs=3857)
    net = ChannelNetwork(regions, outlets, dists)
    model = co.DistributorSelection(objective="set_cover", max_distance=1.0)  # km
    assert model.solve(net).distributors["open"].tolist() == [True, True]  # each outlet 0.5 km from its own
    # b moves next to x: x alone covers both (distances measured from the new frame)
    net.outlets = net.outlets.set_geometry(gpd.GeoSeries([Point(0, 0), Point(1_000, 0)], crs=3857))
    plan = model.solve(net)
    assert plan.distributors["open"].tolist() == [True, False]
    np.testing.assert_allclose(plan.assignments["distance"].to_numpy(), [0.5, 0.5])
