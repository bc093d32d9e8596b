"""AssortmentPlan against brute force, property tests on the plan itself, and its error messages.

The references here are written independently of channelopt.assortment: every listing of
a tiny instance is enumerated with numpy and checked rule by rule.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import channelopt as co
from channelopt.exceptions import InfeasibleError, SettingsError, ValidationError

CHANNELS = ("modern_ka", "traditional")
CATEGORY = {"p0": "a", "p1": "a", "p2": "b", "p3": "b"}


def instance(seed: int, *, curve: bool = True, reach: bool = False) -> tuple[pd.DataFrame, dict]:
    """2 regions x 2 channels x 4 products = 16 binary decisions, every constraint type on."""
    rng = np.random.default_rng(seed)
    rows = []
    for r in ("r0", "r1"):
        for ch in CHANNELS:
            pot = float(rng.integers(50, 500))
            for p in CATEGORY:
                rows.append({
                    "region_id": r, "channel": ch, "product_id": p, "category": CATEGORY[p],
                    "volume": float(rng.integers(10, 100)), "margin": float(np.round(rng.uniform(0.5, 3.0), 2)),
                    "listing_fee": float(rng.integers(0, 150) if ch == "modern_ka" else rng.integers(0, 20)),
                    "shelf_units": float(rng.integers(1, 4)), "line": "ambient" if p in ("p0", "p2") else
                    str(rng.choice(["ambient", "chilled"])), "potential": pot})
    cells = pd.DataFrame(rows)
    pairs = pd.DataFrame({"product_a": ["p0", "p2", "p1"], "product_b": ["p1", "p3", "p2"],
                          "loss": [float(rng.integers(5, 80)), float(rng.integers(5, 80)),
                                   float(rng.choice([-15.0, 20.0]))]})
    carried = pd.DataFrame({"region_id": ["r0", "r0", "r1"], "line": ["ambient", "chilled", "ambient"]})
    s = {
        "shelf_capacity": {"modern_ka": int(rng.integers(4, 8)), "traditional": int(rng.integers(3, 7)),
                           ("r1", "traditional"): int(rng.integers(3, 6))},
        "must_carry": ["p0"],
        "category_range": {"a": (1, 2), "b": (0, int(rng.integers(1, 3)))},
        "listing_budget": float(rng.integers(120, 360)),
        "cannibalisation": pairs,
        "carried": carried,
        "channel_rules": [("modern_ka", "traditional")],
    }
    if curve:
        # a convex loss share (no binaries) and a concave one (one-hot counts)
        s["category_curve"] = {"a": ([0, 1, 2], [0.0, 0.0, 0.45]), "b": ([0, 1, 2], [0.0, 0.3, 0.35])}
    if reach:
        s["objective"] = "reach"
        s["min_margin"] = float(rng.integers(0, 200))
    return cells, s


def brute_force(cells: pd.DataFrame, s: dict):
    """Best objective over all 2^n listings, or None when none is feasible; written from the issue's rules."""
    n = len(cells)
    X = ((np.arange(2 ** n)[:, None] >> np.arange(n)) & 1).astype(bool)
    ok = np.ones(len(X), dtype=bool)
    seg = list(zip(cells["region_id"], cells["channel"]))
    for key in set(seg):
        idx = [i for i, k in enumerate(seg) if k == key]
        cap = s["shelf_capacity"].get(key, s["shelf_capacity"].get(key[1], math.inf))
        ok &= X[:, idx] @ cells["shelf_units"].to_numpy()[idx] <= cap + 1e-9
        for cat, (lo, hi) in s["category_range"].items():
            cidx = [i for i in idx if cells["category"].iloc[i] == cat]
            k = X[:, cidx].sum(axis=1)
            ok &= (k >= lo) & (k <= hi)
    for i in range(n):
        if cells["product_id"].iloc[i] in s["must_carry"]:
            ok &= X[:, i]
        carried = set(zip(s["carried"]["region_id"], s["carried"]["line"]))
        if (cells["region_id"].iloc[i], cells["line"].iloc[i]) not in carried:
            ok &= ~X[:, i]
    ok &= X @ cells["listing_fee"].to_numpy() <= s["listing_budget"] + 1e-9
    where = {k: i for i, k in enumerate(zip(cells["region_id"], cells["channel"], cells["product_id"]))}
    for lead, follow in s["channel_rules"]:
        for (r, ch, p), i in where.items():
            if ch == lead:
                j = where.get((r, follow, p))
                ok &= ~X[:, i] if j is None else (~X[:, i] | X[:, j])
    vm = (cells["volume"] * cells["margin"]).to_numpy()
    margin = X @ (vm - cells["listing_fee"].to_numpy())
    for a, b, loss in s["cannibalisation"][["product_a", "product_b", "loss"]].itertuples(index=False):
        for (r, ch, p), i in where.items():
            if p == a and (r, ch, b) in where:
                margin = margin - loss * (X[:, i] & X[:, where[(r, ch, b)]])
    for cat, (xs, ys) in s.get("category_curve", {}).items():
        for key in set(seg):
            idx = [i for i, k in enumerate(seg) if k == key and cells["category"].iloc[i] == cat]
            stake = np.maximum(vm[idx], 0).sum()
            margin = margin - stake * np.interp(X[:, idx].sum(axis=1), xs, ys)
    if s.get("min_margin") is not None:
        ok &= margin >= s["min_margin"] - 1e-9
    if not ok.any():
        return None, None
    if s.get("objective") == "reach":
        w = cells["potential"].to_numpy()
        score = X @ w / w.sum()
    else:
        score = margin
    best = np.flatnonzero(ok)[np.argmax(score[ok])]
    return float(score[best]), margin


def solve(cells, s, solver=None):
    return co.AssortmentPlan(cells=cells, **s).solve(solver=solver or co.Solver("highs"))


@pytest.mark.parametrize("seed", range(14))
@pytest.mark.parametrize("reach", [False, True])
def test_matches_brute_force_with_every_constraint(seed, reach):
    cells, s = instance(seed, reach=reach)
    best, _ = brute_force(cells, s)
    if best is None:
        with pytest.raises(InfeasibleError) as err:
            solve(cells, s)
        assert err.value.reasons  # a named cause, from the cheap checks or the diagnosis
        return
    plan = solve(cells, s)
    assert plan.status == "optimal"
    assert plan.objective == pytest.approx(best, abs=1e-6)


def test_brute_force_instances_are_not_all_infeasible():
    """The comparison above must bite: most instances have a plan, and some pairs / curves / rules decide it."""
    found = [brute_force(*instance(seed))[0] for seed in range(14)]
    assert sum(f is not None for f in found) >= 10


def test_brute_force_without_curves_on_cbc():
    cells, s = instance(3, curve=False)
    best, _ = brute_force(cells, s)
    plan = solve(cells, s, co.Solver("cbc"))
    assert plan.objective == pytest.approx(best, abs=1e-6)


def test_negative_loss_pair_is_a_gain_only_when_both_listed():
    cells = pd.DataFrame({"channel": ["ka", "ka"], "product_id": ["a", "b"], "category": ["c", "c"],
                          "volume": [10.0, 10.0], "margin": [1.0, 1.0], "listing_fee": [12.0, 0.0],
                          "shelf_units": [1.0, 1.0]})
    # a alone loses 2; with b it gains 5 back: listing both is worth 10 + (-2) + 5 = 13 > 10
    pairs = pd.DataFrame({"product_a": ["a"], "product_b": ["b"], "loss": [-5.0]})
    plan = co.AssortmentPlan(cells=cells, cannibalisation=pairs).solve()
    assert plan.assortment["listed"].tolist() == [True, True]
    assert plan.objective == pytest.approx(13.0)
    # without the gain only b is worth listing: the y <= x rows keep y from cashing a gain alone
    plan = co.AssortmentPlan(cells=cells, cannibalisation=pairs.assign(loss=-1.0)).solve()
    assert plan.assortment["listed"].tolist() == [False, True]
    assert plan.objective == pytest.approx(10.0)


# ------------------------------------------------------------------ properties on the plan itself
@st.composite
def feasible_instances(draw):
    """Random instances that are feasible by construction: listing only must-carry satisfies every row."""
    n_reg = draw(st.integers(1, 3))
    chans = draw(st.sampled_from([["modern_ka"], ["modern_ka", "traditional"], ["convenience", "traditional"]]))
    n_prod = draw(st.integers(2, 6))
    seed = draw(st.integers(0, 10_000))
    rng = np.random.default_rng(seed)
    prods = [f"p{i}" for i in range(n_prod)]
    cats = {p: ("x" if i % 2 == 0 else "y") for i, p in enumerate(prods)}
    rows = [{"region_id": f"r{r}", "channel": ch, "product_id": p, "category": cats[p],
             "volume": float(rng.integers(0, 200)), "margin": float(np.round(rng.uniform(-0.5, 3), 2)),
             "listing_fee": float(rng.integers(0, 100)), "shelf_units": float(rng.integers(0, 4))}
            for r in range(n_reg) for ch in chans for p in prods]
    cells = pd.DataFrame(rows)
    must = ["p0"] if draw(st.booleans()) else []
    # p1 (category y) may be required by the range: its shelf and fees are added to the slack so that
    # listing must-carry plus p1 everywhere stays feasible, and the minimum can bite when p1 loses money.
    need_y = int(draw(st.booleans()))
    base = cells["product_id"].isin(must + (["p1"] if need_y else []))
    need_shelf = cells[base].groupby(["region_id", "channel"])["shelf_units"].sum().groupby("channel").max()
    cap = {ch: float(need_shelf.get(ch, 0.0)) + float(rng.integers(0, 8)) for ch in chans}
    budget = float(cells.loc[base, "listing_fee"].sum()) + float(rng.integers(0, 300))
    rng_x = (len(must), len(must) + int(rng.integers(0, 3)))  # p0 is in category x
    rng_y = (need_y, need_y + int(rng.integers(0, 3)))
    pairs = pd.DataFrame({"product_a": prods[:-1], "product_b": prods[1:],
                          "loss": rng.integers(-20, 60, n_prod - 1).astype(float)})
    return cells, {"shelf_capacity": cap, "must_carry": must, "category_range": {"x": rng_x, "y": rng_y},
                   "listing_budget": budget, "cannibalisation": pairs}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(feasible_instances())
def test_plan_never_breaks_shelf_budget_range_or_must_carry(inst):
    cells, s = inst
    before = cells.copy()
    plan = solve(cells, s)
    pd.testing.assert_frame_equal(cells, before)  # user input untouched
    a = plan.assortment
    assert a["listed"].dtype == bool and len(a) == len(cells)
    listed = a[a["listed"]]
    shelf = listed.groupby(["region_id", "channel"])["shelf_units"].sum()
    for (_, ch), used in shelf.items():
        assert used <= s["shelf_capacity"][ch] + 1e-9
    assert listed["listing_fee"].sum() <= s["listing_budget"] + 1e-9
    for cat, (lo, hi) in s["category_range"].items():
        counts = (a.assign(k=a["listed"] & (a["category"] == cat)).groupby(["region_id", "channel"])["k"].sum())
        assert (counts >= lo).all() and (counts <= hi).all()
    for p in s["must_carry"]:
        assert a.loc[a["product_id"] == p, "listed"].all()
    # the objective is the listing's own value, recomputed here from the tables
    both = listed[["region_id", "channel", "product_id"]]
    pairs = s["cannibalisation"]
    loss = 0.0
    for pa, pb, lv in pairs.itertuples(index=False):
        ka = both[both["product_id"] == pa][["region_id", "channel"]]
        kb = both[both["product_id"] == pb][["region_id", "channel"]]
        loss += lv * len(ka.merge(kb))
    expected = float((listed["volume"] * listed["margin"]).sum() - listed["listing_fee"].sum() - loss)
    assert plan.objective == pytest.approx(expected, abs=1e-6)


def test_objective_is_margin_minus_fees_minus_listed_pairs_on_the_catalogue():
    net = co.load_example("china")
    cells, pairs = co.assortment.cells_from_catalogue(net, co.load_product_catalogue("china"),
                                                      channels=["modern_ka", "convenience"])
    plan = co.AssortmentPlan(cells=cells, shelf_capacity={"modern_ka": 24, "convenience": 12},
                             must_carry=["TEA-01", "WAT-01"], category_range={"dairy": (1, 4)},
                             listing_budget=4.0e6, cannibalisation=pairs).solve(net)
    a = plan.assortment
    listed = a[a["listed"]]
    keys = set(zip(listed["channel"], listed["product_id"]))
    loss = sum(lv for ch, pa, pb, lv in pairs[["channel", "product_a", "product_b", "loss"]].itertuples(index=False)
               if (ch, pa) in keys and (ch, pb) in keys)
    assert loss > 0  # some cannibalising pair is listed, so the loss term is exercised
    expected = (listed["volume"] * listed["margin"]).sum() - listed["listing_fee"].sum() - loss
    assert plan.objective == pytest.approx(expected, rel=1e-9)
    assert plan.metrics["listing_fees"] <= 4.0e6
    by_seg = plan.by_segment.set_index("channel")
    assert by_seg.loc["modern_ka", "shelf_used"] <= 24
    assert plan.by_category.set_index("category").loc["dairy", "mean_range"] >= 1
    # solved with the network, the plan carries the SKU distribution it buys
    assert {"sku_distribution", "sku_by_channel", "range_by_outlet"} <= set(plan.tables)
    assert 0 < plan.metrics["sku_numeric_distribution"] < 1


# ------------------------------------------------------------------ errors
def _tiny():
    return pd.DataFrame({"channel": ["ka", "ka", "trad"], "product_id": ["a", "b", "a"], "category": ["c"] * 3,
                         "volume": [1.0, 2.0, 3.0], "margin": [1.0, 1.0, 1.0], "listing_fee": [5.0, 0.0, 0.0],
                         "shelf_units": [1.0, 1.0, 1.0]})


def test_missing_column_is_named_with_a_suggestion():
    cells = _tiny().rename(columns={"shelf_units": "shelf_unit"})
    with pytest.raises(ValidationError) as err:
        co.AssortmentPlan(cells=cells).solve()
    assert err.value.column == "shelf_units"
    assert "did you mean 'shelf_unit'" in str(err.value)


def test_negative_fee_names_rows_and_units():
    cells = _tiny()
    cells.loc[2, "listing_fee"] = -1.0
    with pytest.raises(ValidationError) as err:
        co.AssortmentPlan(cells=cells).solve()
    assert err.value.column == "listing_fee" and err.value.ids == [2] and "money" in str(err.value)


def test_unknown_channel_in_shelf_capacity_suggests_the_nearest():
    with pytest.raises(SettingsError, match=r"'traf'.*did you mean 'trad'"):
        co.AssortmentPlan(cells=_tiny(), shelf_capacity={"traf": 3}).solve()


def test_unknown_objective_suggests():
    with pytest.raises(SettingsError, match="did you mean 'reach'"):
        co.AssortmentPlan(cells=_tiny(), objective="reech").solve()


def test_duplicate_segment_product_rows():
    cells = pd.concat([_tiny(), _tiny().iloc[[0]]], ignore_index=True)
    with pytest.raises(ValidationError) as err:
        co.AssortmentPlan(cells=cells).solve()
    assert err.value.ids == [0, 3] and "twice" in str(err.value)


def test_must_carry_fees_above_budget_say_how_much():
    with pytest.raises(InfeasibleError) as err:
        co.AssortmentPlan(cells=_tiny(), must_carry=["a"], listing_budget=4.0).solve()
    assert "cost 5 in fees" in str(err.value) and "at least 5" in str(err.value)


def test_must_carry_missing_from_a_segment_is_named():
    with pytest.raises(InfeasibleError) as err:
        co.AssortmentPlan(cells=_tiny(), must_carry=["b"]).solve()
    assert "('trad', 'b')" in str(err.value)
    plan = co.AssortmentPlan(cells=_tiny(), must_carry={"ka": ["b"]}).solve()  # per channel it holds
    assert plan.assortment.set_index(["channel", "product_id"]).loc[("ka", "b"), "listed"]


def test_category_min_above_available_products():
    with pytest.raises(InfeasibleError) as err:
        co.AssortmentPlan(cells=_tiny(), category_range={"c": (2, None)}).solve()
    assert "segment 'trad'" in str(err.value) and "1 against range (2, inf)" in str(err.value)


def test_shelf_capacity_rule_binds():
    plan = co.AssortmentPlan(cells=_tiny(), shelf_capacity={"ka": 1}).solve()
    a = plan.assortment
    assert a.loc[a["channel"] == "ka", "listed"].tolist() == [False, True]  # b (value 2) beats a (1 - 5)
    assert plan.by_segment.set_index("channel").loc["ka", "shelf_share"] == 1.0


def test_solver_found_infeasibility_names_the_setting():
    # must-carry a (value 1 - 5 = -4) + b (2) + trad a (3) = 1 at most: a floor of 10 cannot hold
    with pytest.raises(InfeasibleError) as err:
        co.AssortmentPlan(cells=_tiny(), must_carry={"ka": ["a"]}, min_margin=10.0).solve()
    assert err.value.reasons == ["min_margin conflicts with the other settings: without it a plan exists "
                                 "(relax min_margin first)"]
    assert "AssortmentPlan is infeasible: min_margin" in str(err.value)
