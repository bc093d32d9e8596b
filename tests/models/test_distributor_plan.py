"""Plan assembly of DistributorSelection: every table and metric recomputed here with pandas from the links.

The plan assembly builds its tables from integer codes (issue 13, small instances);
these checks recompute them independently from ``plan.links`` and the network's own
columns, on a split-demand plan (fractional shares), with integer and string ids and
with unserved outlets.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import channelopt as co


def _split_plan(ids: str):
    rng = np.random.default_rng(4)
    n, m = 12, 4
    d = rng.uniform(1, 10, (n, m)).round(3)
    demand = rng.integers(2, 6, n).astype(float)
    cap = np.full(m, demand.sum() / 2.6).round(1)  # tight: several outlets split between two partners
    kw = {}
    if ids == "int":
        kw = {"outlet_ids": list(range(100, 100 + n)), "distributor_ids": list(range(7, 7 + m))}
    net = co.ChannelNetwork.from_cost_matrix(d * demand[:, None], demand=demand, fixed_cost=rng.integers(5, 20, m),
                                             capacity=cap, distances=d,
                                             region_ids=[f"r{i % 3}" for i in range(n)], **kw)
    plan = co.DistributorSelection(capacitated=True, strategy="mip").solve(net)
    return net, plan


@pytest.mark.parametrize("ids", ["str", "int"])
def test_tables_and_metrics_from_the_links(ids):
    net, plan = _split_plan(ids)
    links = plan.links
    assert ((links["share"] > 1e-6) & (links["share"] < 1 - 1e-6)).any()  # a real split
    out = net.outlets.set_index("outlet_id")
    # main distributor: the largest share per outlet
    top = links.sort_values(["outlet_id", "share"], ascending=[True, False]).groupby("outlet_id").head(1)
    a = plan.assignments.set_index("outlet_id")
    assert a.loc[top["outlet_id"], "distributor_id"].tolist() == top["distributor_id"].tolist()
    np.testing.assert_allclose(a.loc[top["outlet_id"], "share"], top["share"])
    np.testing.assert_allclose(a.loc[top["outlet_id"], "distance"], top["distance"])
    per_outlet = links.groupby("outlet_id").agg(cost=("cost", "sum"), n=("share", "size"))
    np.testing.assert_allclose(a.loc[per_outlet.index, "cost"], per_outlet["cost"], rtol=1e-12)
    assert (a.loc[per_outlet.index, "n_distributors"] == per_outlet["n"]).all()
    assert a["region_id"].tolist() == out.loc[a.index, "region_id"].tolist()
    # the distributors table
    links = links.assign(volume=links["share"] * out.loc[links["outlet_id"], "demand"].to_numpy())
    per_dist = links.groupby("distributor_id").agg(load=("volume", "sum"), served=("share", "size"),
                                                   cost=("cost", "sum"))
    t = plan.distributors.set_index("distributor_id")
    np.testing.assert_allclose(t.loc[per_dist.index, "load"], per_dist["load"], rtol=1e-12)
    assert (t.loc[per_dist.index, "outlets_served"] == per_dist["served"]).all()
    np.testing.assert_allclose(t.loc[per_dist.index, "service_cost"], per_dist["cost"], rtol=1e-12)
    np.testing.assert_allclose(t["utilisation"], t["load"] / t["capacity"], rtol=1e-12)
    # overall numbers
    o = plan.metrics.overall
    opened = t[t["open"]]
    assert o["total_cost"] == pytest.approx(opened["fixed_cost"].sum() + links["cost"].sum(), rel=1e-12)
    assert o["total_cost"] == pytest.approx(plan.objective, rel=1e-9)
    assert o["max_utilisation"] == pytest.approx(opened["utilisation"].max(), rel=1e-12)
    assert o["load_cv"] == pytest.approx(opened["load"].std(ddof=0) / opened["load"].mean(), rel=1e-12)
    assert o["multi_served_outlets"] == int((per_outlet["n"] > 1).sum())
    reg = links.assign(region=out.loc[links["outlet_id"], "region_id"].to_numpy())
    per_region = reg.groupby("region")["distributor_id"].nunique()
    assert o["split_regions"] == int((per_region > 1).sum())
    assert plan.metrics.by_region.loc[per_region.index, "distributors"].tolist() == per_region.tolist()
    assert o["mean_distance"] == pytest.approx(a["distance"].mean(), rel=1e-12)
    assert o["max_distance"] == pytest.approx(a["distance"].max(), rel=1e-12)


@pytest.mark.parametrize("ids", ["str", "int"])
def test_unserved_outlets_have_no_distributor(ids):
    rng = np.random.default_rng(9)
    n, m = 10, 4
    d = rng.uniform(0, 10, (n, m)).round(2)
    kw = {"outlet_ids": list(range(n)), "distributor_ids": list(range(50, 50 + m))} if ids == "int" else {}
    net = co.ChannelNetwork.from_cost_matrix(d, distances=d, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plan = co.DistributorSelection(objective="max_coverage", p=1, max_distance=3.0).solve(net)
    a = plan.assignments
    assert 0 < a["covered"].sum() < n
    assert a.loc[~a["covered"], "distributor_id"].isna().all()
    assert a.loc[~a["covered"], "n_distributors"].eq(0).all()
    opened = plan.distributors.loc[plan.distributors["open"], "distributor_id"].tolist()
    assert a.loc[a["covered"], "distributor_id"].isin(opened).all()
    assert pd.isna(a.loc[~a["covered"], "distance"]).all()
