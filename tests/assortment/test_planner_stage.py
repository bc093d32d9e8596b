"""ChannelPlanner's assortment stage: listing fees and trade spend share one budget; 铺货率 counts served outlets."""

from __future__ import annotations

import pandas as pd
import pytest

import channelopt as co


@pytest.fixture(scope="module")
def setup():
    net = co.make_synthetic(10, 120, 5, seed=0)
    products = pd.DataFrame({"product_id": ["a", "b", "c", "d"], "category": ["tea", "tea", "water", "water"],
                             "margin": [1.0, 1.2, 0.5, 0.8], "fee": [4.0, 6.0, 1.0, 9.0]})
    seg = net.outlets.groupby("channel").agg(potential=("potential", "sum")).reset_index()
    cells = seg.merge(products, how="cross")
    cells["volume"] = (cells["potential"] / cells["potential"].max() * 20).round(1)
    cells["listing_fee"] = cells["fee"]
    cells["shelf_units"] = 1.0
    cells = cells[["channel", "product_id", "category", "volume", "margin", "listing_fee", "shelf_units"]]
    return net, cells


def test_fees_come_out_of_the_budget_and_distribution_counts_served_outlets(setup):
    net, cells = setup
    planner = co.ChannelPlanner(selection={"objective": "min_cost", "min_coverage": 0.5},
                                budget={"total": 30.0}, curves={"promotion": {"hill": [20, 5, 1]}},
                                assortment={"cells": cells, "must_carry": ["c"], "shelf_capacity": 3,
                                            "listing_budget": 12.0})
    plan = planner.solve(net)
    stage = plan.stages["assortment"]
    fees = float(stage.assortment.loc[stage.assortment["listed"], "listing_fee"].sum())
    assert 0 < fees <= 12.0
    assert plan.stages["budget"].settings["total"] == pytest.approx(30.0 - fees)
    assert plan.allocations["spend"].sum() <= 30.0 - fees + 1e-6
    assert plan.metrics["listing_fees"] == pytest.approx(fees)
    # a listed product reaches exactly the served outlets of the channels it is listed in
    served = plan.assignments[plan.assignments["covered"]]
    assert 0 < len(served) < len(plan.assignments)
    listed_c = set(stage.assortment.loc[stage.assortment["listed"] & (stage.assortment["product_id"] == "c"),
                                        "channel"])
    expected = served["channel"].isin(listed_c).sum() / len(plan.assignments)
    sku = plan.sku_distribution.set_index("product_id")
    assert sku.loc["c", "numeric_distribution"] == pytest.approx(expected)
    assert plan.metrics["reached_outlets"] == len(served)


def test_the_fee_share_of_the_budget_is_explicit(setup):
    net, cells = setup
    kw = {"selection": {"objective": "min_cost"}, "budget": {"total": 30.0},
          "curves": {"promotion": {"hill": [20, 5, 1]}}}
    with pytest.raises(co.SettingsError, match="assortment stage: give the assortment a listing_budget, the part of "
                                               "budget.total \\(30\\)"):
        co.ChannelPlanner(**kw, assortment=co.AssortmentPlan(cells=cells)).solve(net)
    with pytest.raises(co.SettingsError, match="budget stage: listing fees 30 use the whole budget 30"):
        co.ChannelPlanner(**kw, assortment=co.AssortmentPlan(cells=cells, listing_budget=30.0)).solve(net)
    # more fee budget buys more range and leaves less trade spend
    small = co.ChannelPlanner(**kw, assortment=co.AssortmentPlan(cells=cells, listing_budget=5.0)).solve(net)
    large = co.ChannelPlanner(**kw, assortment=co.AssortmentPlan(cells=cells, listing_budget=20.0)).solve(net)
    assert large.metrics["listed_cells"] > small.metrics["listed_cells"]
    assert large.metrics["sku_numeric_distribution"] > small.metrics["sku_numeric_distribution"]
    assert large.allocations["spend"].sum() < small.allocations["spend"].sum()


def test_lines_are_listed_only_where_a_signed_distributor_carries_them(setup):
    net, _ = setup
    o = net.outlets
    seg = o.groupby(["region_id", "channel"]).agg(potential=("potential", "sum")).reset_index()
    prods = pd.DataFrame({"product_id": ["amb", "cold"], "line": ["ambient", "chilled"], "category": "c",
                          "margin": 1.0})
    cells = seg.merge(prods, how="cross").assign(volume=10.0, listing_fee=0.0, shelf_units=1.0)
    kw = {"selection": {"objective": "min_cost"}, "territories": None}
    first = co.ChannelPlanner(**kw).solve(net)
    signed = first.distributors.loc[first.distributors["open"], "distributor_id"].tolist()
    lines = pd.DataFrame({"distributor_id": signed + signed[:1], "line": ["ambient"] * len(signed) + ["chilled"]})
    plan = co.ChannelPlanner(**kw, assortment={"cells": cells, "carried": lines}).solve(net)
    a = plan.assortment
    links = plan.stages["selection"].links
    cold_served = o[o["outlet_id"].isin(links.loc[links["distributor_id"] == signed[0], "outlet_id"])]
    expected = set(zip(cold_served["region_id"], cold_served["channel"]))
    cold = a[a["product_id"] == "cold"]
    listed = set(zip(cold.loc[cold["listed"], "region_id"], cold.loc[cold["listed"], "channel"]))
    assert listed == expected and len(expected) < len(cold)  # every cold cell pays, so only the carrier blocks
    assert a.loc[a["product_id"] == "amb", "listed"].sum() == len(
        set(zip(o.loc[o["outlet_id"].isin(links["outlet_id"]), "region_id"],
                o.loc[o["outlet_id"].isin(links["outlet_id"]), "channel"])))
