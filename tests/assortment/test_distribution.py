"""SKU distribution (铺货率) on hand-computed cases, and the catalogue it is fed from."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import channelopt as co
from channelopt.assortment import carried_lines, cells_from_catalogue, sku_distribution
from channelopt.exceptions import ValidationError

OUTLETS = pd.DataFrame({
    "outlet_id": ["o1", "o2", "o3", "o4", "o5"],
    "region_id": ["r1", "r1", "r1", "r2", "r2"],
    "channel": ["ka", "trad", "trad", "ka", "trad"],
    "potential": [10.0, 2.0, 4.0, 20.0, 4.0],
    "covered": [True, True, False, True, True],
})
LISTING = pd.DataFrame({
    "region_id": ["r1", "r1", "r1", "r1", "r2", "r2", "r2", "r2"],
    "channel": ["ka", "ka", "trad", "trad", "ka", "ka", "trad", "trad"],
    "product_id": ["A", "B", "A", "B", "A", "B", "A", "B"],
    "listed": [True, True, True, False, False, True, True, True],
})


def test_region_level_listing_by_hand():
    d = sku_distribution(LISTING, OUTLETS)
    # A reaches o1, o2, o5 (o3 is not reached): 3 of 5 outlets, potential 16 of 40
    # B reaches o1, o4, o5: 3 of 5, potential 34 of 40
    p = d.by_product.set_index("product_id")
    assert p.loc["A", "outlets_carrying"] == 3 and p.loc["B", "outlets_carrying"] == 3
    assert p.loc["A", "numeric_distribution"] == pytest.approx(0.6)
    assert p.loc["A", "weighted_distribution"] == pytest.approx(0.4)
    assert p.loc["B", "weighted_distribution"] == pytest.approx(0.85)
    ch = d.by_product_channel.set_index(["product_id", "channel"])
    assert ch.loc[("A", "ka"), "numeric_distribution"] == pytest.approx(0.5)
    assert ch.loc[("A", "ka"), "weighted_distribution"] == pytest.approx(10 / 30)
    assert ch.loc[("A", "trad"), "numeric_distribution"] == pytest.approx(2 / 3)
    assert ch.loc[("A", "trad"), "weighted_distribution"] == pytest.approx(0.6)
    assert ch.loc[("B", "trad"), "numeric_distribution"] == pytest.approx(1 / 3)
    rg = d.by_product_region.set_index(["product_id", "region_id"])
    assert rg.loc[("A", "r1"), "weighted_distribution"] == pytest.approx(0.75)
    assert rg.loc[("A", "r2"), "weighted_distribution"] == pytest.approx(4 / 24)
    # range per outlet: o1 2, o2 1, o3 0 (not reached), o4 1, o5 2
    assert d.by_outlet.set_index("outlet_id")["range"].to_dict() == {"o1": 2, "o2": 1, "o3": 0, "o4": 1, "o5": 2}
    assert d.overall["range_breadth"] == pytest.approx(1.5)
    assert d.overall["sku_numeric_distribution"] == pytest.approx(0.6)
    assert d.overall["sku_weighted_distribution"] == pytest.approx(0.625)
    assert d.by_channel.loc["trad", "range_breadth"] == pytest.approx(1.5)  # o2 1, o5 2


def test_channel_level_listing_and_a_product_listed_nowhere():
    listing = pd.DataFrame({"channel": ["ka", "trad", "ka"], "product_id": ["A", "A", "C"],
                            "listed": [True, False, False]})
    d = sku_distribution(listing, OUTLETS.drop(columns="covered"))  # no covered column: every outlet reached
    p = d.by_product.set_index("product_id")
    assert p.loc["A", "numeric_distribution"] == pytest.approx(2 / 5)
    assert p.loc["A", "weighted_distribution"] == pytest.approx(30 / 40)
    assert p.loc["C", "numeric_distribution"] == 0.0 and p.loc["C", "outlets_carrying"] == 0
    assert d.overall["reached_outlets"] == 5 and d.overall["range_breadth"] == pytest.approx(2 / 5)


def test_reached_outlets_come_from_a_distributor_plan():
    net = co.make_synthetic(6, 60, 4, seed=0)
    plan = co.DistributorSelection(objective="min_cost", min_coverage=0.5).solve(net)
    covered = plan.assignments["covered"].to_numpy()
    assert 0 < covered.sum() < len(covered)  # the floor leaves some outlets unserved
    listing = pd.DataFrame({"channel": sorted(net.outlets["channel"].unique()), "product_id": "X", "listed": True})
    d = sku_distribution(listing, plan)
    # X is listed everywhere, so it reaches exactly the covered outlets
    assert d.by_product.loc[0, "numeric_distribution"] == pytest.approx(covered.mean())
    pot = plan.assignments["potential"].to_numpy()
    assert d.by_product.loc[0, "weighted_distribution"] == pytest.approx(pot[covered].sum() / pot.sum())
    full = sku_distribution(listing, net)  # the network: every outlet reached
    assert full.by_product.loc[0, "numeric_distribution"] == 1.0


def test_bad_inputs_are_named():
    with pytest.raises(ValidationError) as err:
        sku_distribution(LISTING.drop(columns="listed"), OUTLETS)
    assert err.value.column == "listed"
    with pytest.raises(ValidationError, match="must be a Plan, a ChannelNetwork"):
        sku_distribution(LISTING, [1, 2])


def test_catalogue_is_labelled_synthetic_and_cells_follow_their_formula():
    cat = co.load_product_catalogue("china")
    for frame in cat.values():
        assert frame.attrs["note"].startswith("SYNTHETIC")
    assert cat["products"]["name"].str.contains("绿茶").any()
    net = co.load_example("china")
    cells, pairs = cells_from_catalogue(net, cat, by="region", channels=["modern_ka"])
    o = net.outlets[net.outlets["channel"] == "modern_ka"]
    assert len(cells) == o["region_id"].nunique() * 30
    row = cells[(cells["region_id"] == "CN-0001") & (cells["product_id"] == "TEA-01")].iloc[0]
    seg = o[o["region_id"] == "CN-0001"]
    ch = cat["channels"].set_index("channel").loc["modern_ka"]
    tea = cat["products"][cat["products"]["category"] == "tea"]
    share = 1.0 / tea["pull"].sum()  # TEA-01 has pull 1.0
    expected = seg["potential"].sum() * ch["spend_share"] / 5 * 1.0 * share / 3.0
    assert row["volume"] == pytest.approx(expected, abs=0.05)
    assert row["listing_fee"] == pytest.approx(250.0 * len(seg))
    assert row["margin"] == pytest.approx(0.9 * 0.85)
    pr = pairs[(pairs["region_id"] == "CN-0001") & (pairs["product_a"] == "TEA-01") & (pairs["product_b"] == "TEA-02")]
    b = cells[(cells["region_id"] == "CN-0001") & (cells["product_id"] == "TEA-02")].iloc[0]
    assert pr["loss"].iloc[0] == pytest.approx(0.35 * min(row["volume"] * row["margin"], b["volume"] * b["margin"]),
                                               abs=0.01)
    with pytest.raises(ValueError, match="unknown product catalogue 'nowhere'"):
        co.load_product_catalogue("nowhere")


def test_carried_lines_follow_the_signed_distributors():
    net = co.make_synthetic(6, 60, 4, seed=0)
    plan = co.DistributorSelection(objective="min_cost").solve(net)
    signed = plan.distributors.loc[plan.distributors["open"], "distributor_id"].tolist()
    lines = pd.DataFrame({"distributor_id": [signed[0], "nobody"], "line": ["chilled", "ambient"]})
    out = carried_lines(plan, lines)
    links = plan.links[plan.links["distributor_id"] == signed[0]]
    served = plan.assignments[plan.assignments["outlet_id"].isin(links["outlet_id"])]
    expected = set(zip(served["region_id"], served["channel"]))
    assert set(zip(out["region_id"], out["channel"])) == expected and set(out["line"]) == {"chilled"}
    assert np.isin(out["line"], ["ambient"]).sum() == 0  # a distributor never signed carries nothing


def test_sku_distribution_appears_in_the_report():
    net = co.make_synthetic(6, 60, 4, seed=0)
    cells = pd.DataFrame({"channel": sorted(net.outlets["channel"].unique()), "product_id": "X", "category": "c",
                          "volume": 10.0, "margin": 1.0, "listing_fee": 0.0, "shelf_units": 1.0})
    plan = co.AssortmentPlan(cells=cells).solve(net)
    page = plan.to_html(charts=False)
    assert 'data-metric="sku_weighted_distribution">100.0%' in page
    assert "<h3>Sku distribution</h3>" in page and 'data-metric="range_breadth">1' in page
