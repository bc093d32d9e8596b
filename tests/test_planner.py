"""ChannelPlanner: each stage feeds the next, and the combined plan is consistent with its stages."""

from __future__ import annotations

import numpy as np
import pytest

import channelopt as co
from channelopt.models.budget import BudgetAllocation
from channelopt.models.territories import TerritoryDesign


@pytest.fixture(scope="module")
def net():
    return co.make_synthetic(10, 120, 5, seed=0)


CURVES = {"promotion": {"hill": [20, 5, 1]}, "display": co.Hill(8.0, 2.0, 0.8)}


def _planner(**kw):
    settings = dict(selection={"objective": "p_median", "p": 3}, territories={"balance": {"workload": 0.6}},
                    budget={"total": 60.0}, curves=CURVES)
    settings.update(kw)
    return co.ChannelPlanner(**settings)


def test_stages_feed_each_other(net):
    plan = _planner().solve(net)
    sel, terr, bud = plan.stages["selection"], plan.stages["territories"], plan.stages["budget"]
    # Stage 1 is exactly the standalone model.
    alone = co.DistributorSelection(objective="p_median", p=3).solve(net)
    assert sel.objective == pytest.approx(alone.objective, rel=1e-9)
    # Stage 2: the home regions of the signed distributors are the territory centres.
    homes = set(sel.distributors.loc[sel.distributors["open"], "region_id"])
    assert set(terr.assignments["centre"]) == homes == set(terr.assignments["territory"])
    assert plan.metrics["territories"] == len(homes)
    # Stage 3: one cell per territory x channel present x activity, and the budget is spent.
    alloc = plan.allocations
    outlets = plan.assignments
    pairs = set(zip(outlets["territory"], outlets["channel"]))
    assert set(zip(alloc["region_id"], alloc["channel"])) == pairs
    assert len(alloc) == 2 * len(pairs)
    assert alloc["spend"].sum() == pytest.approx(60.0, rel=1e-6)
    # Combined plan: outlets carry their distributor and territory; by_territory adds up.
    regions = plan.regions.set_index("region_id")["territory"]
    assert (outlets["territory"].to_numpy() == regions.loc[outlets["region_id"]].to_numpy()).all()
    bt = plan.by_territory.set_index("territory")
    assert bt["outlets"].sum() == len(net.outlets)
    assert bt["spend"].sum() == pytest.approx(60.0, rel=1e-6)
    assert plan.metrics["response"] == pytest.approx(bud.metrics["response"])
    assert plan.metrics["plan_cost"] == pytest.approx(sel.metrics["total_cost"] + bud.metrics["total_cost"])
    assert plan.status == "optimal" and plan.gap == pytest.approx(max(sel.gap, terr.gap, bud.gap), abs=1e-12)
    assert plan.solve_seconds == pytest.approx(sel.solve_seconds + terr.solve_seconds + bud.solve_seconds)
    # The settings recorded describe every stage.
    assert plan.settings["selection"] == {"objective": "p_median", "p": 3}
    assert set(plan.to_dict()["stages"]) == {"selection", "territories", "budget"}


def test_region_cells_are_tagged_with_their_territory(net):
    plan = _planner(cells="region").solve(net)
    alloc = plan.allocations
    regions = plan.regions.set_index("region_id")["territory"]
    assert set(alloc["region_id"]) <= set(net.region_ids)
    assert (alloc["territory"].to_numpy() == regions.loc[alloc["region_id"]].to_numpy()).all()
    # Solved on the network, the budget stage reports outlet coverage of the spend.
    assert "numeric_distribution" in plan.stages["budget"].metrics


def test_sequential_matches_manual_chain(net):
    plan = _planner(budget=None, curves=None).solve(net)
    assert sorted(plan.stages) == ["selection", "territories"] and "allocations" not in plan.tables
    sel = co.DistributorSelection(objective="p_median", p=3).solve(net)
    centres = list(dict.fromkeys(sel.distributors.loc[sel.distributors["open"], "region_id"]))
    terr = TerritoryDesign(centres=centres, k=len(centres), balance={"workload": 0.6}).solve(net)
    assert plan.stages["territories"].objective == pytest.approx(terr.objective, rel=1e-9)


def test_planner_accepts_model_instances(net):
    plan = co.ChannelPlanner(selection=co.DistributorSelection(objective="p_median", p=2),
                             territories=TerritoryDesign(objective="cut_edges", balance={"workload": 0.8}),
                             budget=BudgetAllocation(total=30.0), curves=CURVES).solve(net)
    assert plan.stages["territories"].metrics["territories"] == plan.metrics["territories"]
    assert plan.allocations["spend"].sum() == pytest.approx(30.0, rel=1e-6)


@pytest.mark.parametrize("kw, words", [
    ({"selection": {"pp": 3}}, "DistributorSelection has no parameter 'pp'"),
    ({"territories": {"k": 4}}, "territories.k: set by the planner"),
    ({"territories": TerritoryDesign(centres=["R-0001"])}, "territories.centres: set by the planner"),
    ({"budget": {"total": 5.0, "cells": None}, "curves": CURVES}, None),
    ({"curves": None}, "the budget stage needs curves"),
    ({"cells": "outlet"}, "cells must be one of"),
    ({"curves": {"promotion": {"spline": [1, 2]}}}, "one-key mapping"),
])
def test_bad_settings_are_named(net, kw, words):
    planner = _planner(**kw)
    if words is None:  # cells=None is the constructor default: allowed
        planner.solve(net)
        return
    with pytest.raises(co.SettingsError, match=words.replace("(", r"\(")):
        planner.solve(net)


def test_stage_failure_names_the_stage(net):
    with pytest.raises(co.InfeasibleError, match="^territories stage: ") as err:
        _planner(territories={"balance": {"workload": 0.0}}).solve(net)
    assert err.value.reasons or "workload" in str(err.value)


def test_network_is_not_mutated(net):
    before = net.outlets.drop(columns="geometry").copy()
    _planner().solve(net)
    after = net.outlets.drop(columns="geometry")
    assert list(after.columns) == list(before.columns)
    assert np.array_equal(after["potential"].to_numpy(), before["potential"].to_numpy())


def test_planner_in_a_scenario(tmp_path):
    recipe = {"synthetic": {"n_regions": 10, "n_outlets": 120, "n_distributors": 5, "seed": 0}}
    sc = [co.Scenario(name=f"b{int(t)}", network=recipe, model="ChannelPlanner",
                      params={"selection": {"objective": "p_median", "p": 3}, "budget": {"total": t},
                              "curves": {"promotion": {"hill": [20, 5, 1]}}}) for t in (20.0, 40.0)]
    res = co.run_scenarios(sc, out=tmp_path, executor="serial", progress=False)
    assert res["status"].tolist() == ["optimal", "optimal"]
    # More budget, more response; and diminishing returns (concave curves).
    assert res["response"].iloc[1] > res["response"].iloc[0]
    assert res["roi"].iloc[1] < res["roi"].iloc[0]
    assert (tmp_path / "b20" / "budget__allocations.parquet").is_file()
