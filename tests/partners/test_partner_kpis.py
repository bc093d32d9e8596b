"""evaluate_partners, the synthetic partner history, and tiers feeding DistributorSelection and BudgetAllocation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import channelopt as co
from channelopt.exceptions import SettingsError, ValidationError
from channelopt.partners import incentive_cells, partner_kpis, selection_settings


@pytest.fixture(scope="module")
def china():
    return co.load_example("china")


@pytest.fixture(scope="module")
def nc():
    return co.load_example("nc")


def test_china_history_is_synthetic_deterministic_and_complete(china):
    h = co.load_partner_history("china")
    assert h.attrs["synthetic"] is True and "SYNTHETIC" in h.attrs["source"]
    assert len(h) == 80 * 24 and h["distributor_id"].nunique() == 80 and h["period"].nunique() == 24
    assert h["period"].max() == "2026-11" and h["period"].min() == "2024-12"
    assert (h[["sales", "active_outlets", "active_potential"]] >= 0).all().all()
    pd.testing.assert_frame_equal(h, co.load_partner_history("china"))
    assert not h.equals(co.load_partner_history("china", seed=1))


def test_evaluate_partners_on_china_is_indexed_by_distributor_with_tiers(china):
    ev = co.evaluate_partners(china)
    assert ev.index.name == "distributor_id"
    assert ev.index.tolist() == china.distributors["distributor_id"].tolist()
    assert set(ev["tier"].astype(str)) <= {"A", "B", "C"} and (ev["tier"] == "A").any()
    assert ((ev["efficiency"] > 0) & (ev["efficiency"] <= 1)).all()
    with_history = co.evaluate_partners(china, co.load_partner_history("china"))
    assert {"sales", "growth", "weighted_distribution", "outlets_served", "staff"} <= set(with_history.columns)
    assert with_history.attrs["dea"]["outputs"] == ["sales", "outlets_served", "weighted_distribution", "growth"]
    assert "SYNTHETIC" in with_history.attrs["synthetic_history"]


def test_partner_kpis_from_a_hand_made_history(nc):
    ids = nc.distributors["distributor_id"].tolist()
    a, b = ids[0], ids[1]
    periods = [f"2026-{m:02d}" for m in range(1, 5)]
    history = pd.DataFrame({
        "distributor_id": [a] * 4 + [b] * 4,
        "period": periods * 2,
        "sales": [10.0, 10.0, 20.0, 30.0, 5.0, 5.0, 5.0, 5.0],
        "active_outlets": [1, 2, 3, 4, 2, 2, 2, 2],
        "active_potential": [100.0, 100.0, 200.0, 200.0, 50.0, 50.0, 50.0, 50.0],
    })
    k = partner_kpis(nc, history, window=2)
    # window 2 of 4 periods: sales = last two; growth = last two / first two
    assert k.loc[a, "sales"] == 50.0 and k.loc[b, "sales"] == 10.0
    assert k.loc[a, "growth"] == pytest.approx(50.0 / 20.0) and k.loc[b, "growth"] == pytest.approx(1.0)
    assert k.loc[a, "outlets_served"] == pytest.approx(3.5)
    assert k.loc[a, "weighted_distribution"] == pytest.approx(200.0 / k.loc[a, "area_potential"])
    others = k.drop(index=[a, b])
    assert (others["sales"] == 0).all() and (others["growth"] == 1.0).all()
    # Areas: each outlet to its nearest channel-compatible distributor, recomputed here.
    d = np.where(nc.compatibility, nc.distances(), np.inf).argmin(axis=1)
    np.testing.assert_array_equal(k["area_outlets"].to_numpy(), np.bincount(d, minlength=len(ids)))
    with pytest.raises(ValidationError) as err:
        partner_kpis(nc, history.assign(distributor_id=["D-999"] * 8))
    assert err.value.ids == ["D-999"]


def test_tiers_drive_distributor_selection_keep_and_exclude(nc):
    ev = co.evaluate_partners(nc, co.load_partner_history("nc"))
    settings = selection_settings(ev, keep_tiers="A", exclude_tiers=["C"])
    assert settings["keep"] == ev.index[ev["tier"] == "A"].tolist()
    assert settings["exclude"] == ev.index[ev["tier"] == "C"].tolist()
    assert settings["keep"] and settings["exclude"]
    base = co.DistributorSelection(objective="min_cost").solve(nc)
    tiered = co.DistributorSelection(objective="min_cost", **settings).solve(nc)
    opened = tiered.distributors.set_index("distributor_id")["open"]
    assert opened[settings["keep"]].all()
    assert not opened[settings["exclude"]].any()
    # Forcing and forbidding can only cost more than the free optimum.
    assert tiered.objective >= base.objective - 1e-6
    served = tiered.assignments["distributor_id"].dropna()
    assert not served.isin(settings["exclude"]).any()
    with pytest.raises(SettingsError) as err:
        selection_settings(ev, keep_tiers="Z")
    assert "no partner has" in str(err.value)


def test_incentive_budget_split_by_tier_obeys_the_tier_shares(nc):
    ev = co.evaluate_partners(nc, co.load_partner_history("nc"))
    cells = incentive_cells(ev)
    assert set(cells["channel"]) == set(ev["tier"].astype(str))
    total = 1_000_000.0
    plan = co.BudgetAllocation(total=total, cells=cells, channel_share={"A": (0.5, None), "C": (None, 0.1)}).solve()
    by_tier = plan.allocations.groupby("channel")["spend"].sum()
    spent = by_tier.sum()
    assert spent <= total + 1e-6
    assert by_tier["A"] >= 0.5 * spent - 1e-6
    assert by_tier.get("C", 0.0) <= 0.1 * spent + 1e-6
    # Headroom is the DEA gap to the target, at least 5% of sales.
    gap = (ev["target_sales"] - ev["sales"]).clip(lower=0)
    expect = np.maximum(gap, 0.05 * ev["sales"])
    got = cells.set_index("distributor_id")["headroom"]
    np.testing.assert_allclose(got.to_numpy(), expect.loc[got.index].to_numpy())


def test_penalising_a_tier_raises_its_fixed_costs_only_and_leaves_the_network_alone(nc):
    ev = co.evaluate_partners(nc, co.load_partner_history("nc"))
    before = nc.distributors["fixed_cost"].copy()
    pen = co.partners.penalise_tiers(nc, ev, {"C": 0.5, "B": 0.1})
    pd.testing.assert_series_equal(nc.distributors["fixed_cost"], before)
    tier = nc.distributors["distributor_id"].map(ev["tier"].astype(str))
    expect = before * tier.map({"A": 1.0, "B": 1.1, "C": 1.5})
    np.testing.assert_allclose(pen.distributors["fixed_cost"].to_numpy(), expect.to_numpy())
    base = co.DistributorSelection(objective="min_cost").solve(nc)
    soft = co.DistributorSelection(objective="min_cost").solve(pen)
    def n_c(plan):
        opened = plan.distributors.loc[plan.distributors["open"], "distributor_id"]
        return int((ev.loc[opened, "tier"] == "C").sum())
    assert n_c(soft) <= n_c(base)
