"""Metrics checked against values computed by hand."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from channelopt import metrics as M


@pytest.fixture
def outlets():
    # region a: 3 outlets (2 covered), region b: 2 outlets (0 covered), region c: 1 outlet (covered)
    return pd.DataFrame({
        "outlet_id": [1, 2, 3, 4, 5, 6],
        "region_id": ["a", "a", "a", "b", "b", "c"],
        "channel": ["trad", "ka", "trad", "trad", "pharmacy", "ka"],
        "potential": [10.0, 30.0, 20.0, 5.0, 15.0, 20.0],
        "visits_per_month": [4.0, 2.0, 1.0, 1.0, 1.0, 3.0],
    })


COVERED = np.array([True, True, False, False, False, True])


def test_overall_breadth(outlets):
    m = M.coverage_metrics(outlets, COVERED, ["a", "b", "c", "d"])
    assert m["numeric_distribution"] == pytest.approx(3 / 6)
    assert m["weighted_distribution"] == pytest.approx(60 / 100)
    assert m["region_coverage"] == pytest.approx(2 / 4)  # d has no outlets and is not covered
    # channel breadth: a covers {trad, ka} of {trad, ka} = 1; b 0 of 2; c 1 of 1
    assert m.by_region["channel_breadth"].to_dict() == pytest.approx({"a": 1.0, "b": 0.0, "c": 1.0, "d": math.nan},
                                                                     nan_ok=True)
    assert m["mean_channel_breadth"] == pytest.approx(2 / 3)


def test_depth_by_region(outlets):
    m = M.coverage_metrics(outlets, COVERED, ["a", "b", "c"])
    r = m.by_region
    assert r.loc["a", "penetration"] == pytest.approx(2 / 3)
    assert r.loc["a", "weighted_distribution"] == pytest.approx(40 / 60)
    assert r.loc["a", "visits_per_covered_outlet"] == pytest.approx((4 + 2) / 2)
    assert r.loc["b", "covered_outlets"] == 0
    # mean penetration over covered regions only: (2/3 + 1) / 2
    assert m["mean_penetration_covered_regions"] == pytest.approx((2 / 3 + 1) / 2)


def test_by_channel(outlets):
    m = M.coverage_metrics(outlets, COVERED, ["a", "b", "c"])
    c = m.by_channel
    assert c.loc["ka", "numeric_distribution"] == 1.0
    assert c.loc["trad", "numeric_distribution"] == pytest.approx(1 / 3)
    assert c.loc["trad", "weighted_distribution"] == pytest.approx(10 / 35)
    assert c.loc["pharmacy", "covered_outlets"] == 0
    assert c.loc["ka", "regions_reached"] == 2


def test_conflict_and_depth_with_links(outlets):
    links = pd.DataFrame({"outlet_id": [1, 1, 2, 6], "distributor_id": ["d1", "d2", "d1", "d3"],
                          "share": [0.5, 0.5, 1.0, 1.0]})
    m = M.coverage_metrics(outlets, COVERED, ["a", "b", "c"], served_by=links)
    assert m["multi_served_outlets"] == 1
    assert m["split_regions"] == 1  # region a is served by d1 and d2
    assert m.by_region["distributors"].to_dict() == {"a": 2, "b": 0, "c": 1}
    assert m["mean_distributors_per_covered_region"] == pytest.approx(1.5)


def test_budget_depth_and_roi(outlets):
    budget = pd.DataFrame({"region_id": ["a", "a", "c"], "channel": ["trad", "ka", "ka"],
                           "spend": [100.0, 50.0, 30.0], "response": [200.0, 60.0, 30.0]})
    m = M.coverage_metrics(outlets, COVERED, ["a", "b", "c"], budget=budget)
    assert m.by_region.loc["a", "budget_per_covered_outlet"] == pytest.approx(150 / 2)
    assert m["roi"] == pytest.approx(290 / 180)
    assert m["spend"] == pytest.approx(180)


def test_balance_cut_edges_and_territories():
    b = M.balance({"t1": 80.0, "t2": 100.0, "t3": 120.0})
    assert b["max_deviation"] == pytest.approx(0.2)
    assert b["cv"] == pytest.approx(np.std([80, 100, 120]) / 100)
    g = nx.grid_2d_graph(2, 3)  # 2 x 3 grid, 7 edges
    label = {n: ("L" if n[1] == 0 else "R") for n in g}
    assert M.cut_edges(g, label) == 2.0
    table = pd.DataFrame({"region_id": list(g.nodes), "w": [1.0] * 6})
    t = M.territory_metrics(g, label, table, ["w"])
    assert t.loc["L", "w"] == 2.0 and t.loc["R", "w"] == 4.0
    assert t.loc["R", "w_ratio"] == pytest.approx(4 / 3)
    assert t["connected"].all()
    label[(0, 2)] = "L"  # L now in two pieces
    assert not M.territory_metrics(g, label, table, ["w"]).loc["L", "connected"]


def test_pure_functions_do_not_mutate(outlets):
    before = outlets.copy()
    M.coverage_metrics(outlets, COVERED, ["a", "b", "c"])
    pd.testing.assert_frame_equal(before, outlets)


def test_coverage_tables_by_hand_with_outside_region_and_odd_links(outlets):
    # outlet 7 is in region z, which is not among all_regions: it counts overall and for its
    # channel, never as a row of by_region; by_region keeps the order of all_regions.
    o = pd.concat([outlets, pd.DataFrame({"outlet_id": [7], "region_id": ["z"], "channel": ["ka"],
                                          "potential": [10.0], "visits_per_month": [2.0]})], ignore_index=True)
    covered = np.append(COVERED, True)
    links = pd.DataFrame({"outlet_id": [1, 1, 2, 2, 6, 4, 7],
                          "distributor_id": ["d1", "d2", "d1", "d1", "d3", "d2", "d4"],
                          "share": [0.5, 0.5, 0.5, 0.5, 1.0, 0.0, 1.0]})  # 2: one distributor twice; 4: zero share
    m = M.coverage_metrics(o, covered, ["c", "b", "a", "d"], served_by=links)
    assert m["numeric_distribution"] == pytest.approx(4 / 7)
    assert m["weighted_distribution"] == pytest.approx(70 / 110)
    assert m["region_coverage"] == pytest.approx(2 / 4)
    r = m.by_region
    assert r.index.tolist() == ["c", "b", "a", "d"] and r.index.name == "region_id"
    assert r["outlets"].tolist() == [1, 2, 3, 0] and r["outlets"].dtype == np.int64
    assert r["covered_outlets"].tolist() == [1, 0, 2, 0] and r["covered_outlets"].dtype == np.int64
    assert r["potential"].tolist() == [20.0, 20.0, 60.0, 0.0]
    assert r["covered_potential"].tolist() == [20.0, 0.0, 40.0, 0.0]
    assert r["numeric_distribution"].tolist()[:3] == pytest.approx([1.0, 0.0, 2 / 3])
    assert math.isnan(r.loc["d", "numeric_distribution"])
    assert r["channel_breadth"].tolist()[:3] == [1.0, 0.0, 1.0] and math.isnan(r.loc["d", "channel_breadth"])
    assert r["covered"].tolist() == [True, False, True, False]
    assert r.loc["c", "visits_per_covered_outlet"] == 3.0 and math.isnan(r.loc["b", "visits_per_covered_outlet"])
    assert r["distributors"].tolist() == [1, 0, 2, 0]            # b's only link has zero share
    assert m["multi_served_outlets"] == 1                         # outlet 1; outlet 2's d1 twice is one
    assert m["split_regions"] == 1
    assert m["mean_distributors_per_covered_region"] == pytest.approx(1.5)
    c = m.by_channel
    assert c.index.tolist() == ["ka", "pharmacy", "trad"] and c.index.name == "channel"
    assert c["outlets"].tolist() == [3, 1, 3] and c["covered_outlets"].tolist() == [3, 0, 1]
    assert c["regions_reached"].tolist() == [3, 0, 1]             # ka: a, c and z
    assert c["weighted_distribution"].tolist() == pytest.approx([1.0, 0.0, 10 / 35])
