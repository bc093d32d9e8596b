"""assign_tiers and scorecard on hand-computed cases; quota MILP against brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from channelopt.exceptions import InfeasibleError, SettingsError, ValidationError
from channelopt.partners import assign_tiers, scorecard

IDS = ["d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9", "d10"]


# ---------------------------------------------------------------- tiers by rule, by hand
def test_thresholds_by_hand():
    eff = pd.Series([1.0, 0.8, 0.79999, 0.95, 0.2], index=IDS[:5])
    tiers = assign_tiers(eff, method="threshold", thresholds=(1.0, 0.8), names=["gold", "silver", "bronze"])
    assert tiers.tolist() == ["gold", "silver", "bronze", "silver", "bronze"]
    assert tiers.name == "tier" and list(tiers.cat.categories) == ["gold", "silver", "bronze"]
    assert tiers.index.equals(eff.index)


def test_quantiles_by_hand_with_ties():
    # 10 partners; top 20% -> ranks 1..2, top 50% -> ranks 1..5. Two tie at rank 2: both in A.
    vals = pd.Series([9, 8, 8, 7, 6, 5, 4, 3, 2, 1], index=IDS, dtype=float)
    tiers = assign_tiers(vals, method="quantile", quantiles=(0.2, 0.5))
    assert tiers.tolist() == ["A", "A", "A", "B", "B", "C", "C", "C", "C", "C"]


def test_abc_by_hand():
    # Sales 40, 25, 15, 10, 5, 3, 2 of 100. Cumulative share before each: 0, .40, .65, .80, .90, .95, .98.
    # A while the share before is under 80% (the partner crossing 80% is A), B under 95%, C after.
    sales = pd.Series([15, 40, 2, 25, 10, 3, 5], index=IDS[:7], dtype=float)
    tiers = assign_tiers(sales, method="abc")
    expected = {"d2": "A", "d4": "A", "d1": "A", "d5": "B", "d7": "B", "d6": "C", "d3": "C"}
    assert tiers.to_dict() == expected
    tiers = assign_tiers(sales, method="abc", shares=(0.5, 0.3, 0.2), names=["核心", "重点", "一般"])
    # 50/30/20: d1 starts at 65% (< 80%: 重点), d5 starts exactly at 80%: 一般
    assert tiers.to_dict() == {"d2": "核心", "d4": "核心", "d1": "重点", "d5": "一般", "d7": "一般", "d6": "一般",
                               "d3": "一般"}


def test_matrix_by_hand():
    eff = pd.Series([1.0, 0.9, 0.5, 0.4], index=IDS[:4])
    vol = pd.Series([100.0, 10.0, 200.0, 5.0], index=IDS[:4])
    tiers = assign_tiers(eff, method="matrix", volume=vol, cuts=(0.8, 50.0))
    assert tiers.tolist() == ["strategic", "develop", "maintain", "review"]
    # at the cut counts as high: d2 sits exactly on both cuts
    assert assign_tiers(eff, method="matrix", volume=vol, cuts=(0.9, 10.0)).tolist() == [
        "strategic", "strategic", "maintain", "review"]
    # default cuts are the medians (0.7 and 55), at-or-above counts as high
    assert assign_tiers(eff, method="matrix", volume=vol).tolist() == ["strategic", "develop", "maintain", "review"]


def test_tier_errors_say_what_to_fix():
    vals = pd.Series([1.0, 0.5], index=["a", "b"])
    with pytest.raises(SettingsError) as err:
        assign_tiers(vals, method="quantil")
    assert "Did you mean 'quantile'" in str(err.value)
    with pytest.raises(SettingsError) as err:
        assign_tiers(vals, thresholds=(0.5, 0.9))
    assert "thresholds must fall" in str(err.value)
    with pytest.raises(ValidationError) as err:
        assign_tiers(pd.Series([1.0, np.nan], index=["a", "b"]))
    assert err.value.ids == ["b"]
    with pytest.raises(SettingsError) as err:
        assign_tiers(vals, method="matrix")
    assert "needs volume" in str(err.value)


# ---------------------------------------------------------------- quotas vs brute force
def brute_force(z, K, lo, hi, groups=None, glo=None):
    """Best sum z_i (K-1-t_i) over all tier assignments meeting the count bounds."""
    best = -np.inf
    n = len(z)
    for assign in itertools.product(range(K), repeat=n):
        counts = np.bincount(assign, minlength=K)
        if (counts < lo).any() or (counts > hi).any():
            continue
        if groups is not None:
            ok = True
            for g in set(groups):
                members = [i for i in range(n) if groups[i] == g]
                for t, need in glo.items():
                    if sum(assign[i] == t for i in members) < need:
                        ok = False
            if not ok:
                continue
        best = max(best, sum(z[i] * (K - 1 - assign[i]) for i in range(n)))
    return best


def objective(values, tiers, names):
    x = values.to_numpy()
    z = (x - x.min()) / (x.max() - x.min())
    K = len(names)
    t = np.array([names.index(v) for v in tiers.tolist()])
    return float((z * (K - 1 - t)).sum())


@pytest.mark.parametrize("seed", range(4))
def test_quotas_match_brute_force(seed):
    rng = np.random.default_rng(seed)
    n = 7
    values = pd.Series(rng.uniform(0, 1, n).round(3), index=IDS[:n])
    quotas = {"A": (None, 0.2), "B": (0.3, 0.5)}
    tiers = assign_tiers(values, method="quota", quotas=quotas)
    counts = tiers.value_counts()
    assert counts["A"] <= 1 and 3 <= counts["B"] <= 3  # floor(.2*7)=1, ceil(.3*7)=3, floor(.5*7)=3
    x = values.to_numpy()
    z = (x - x.min()) / (x.max() - x.min())
    ref = brute_force(z, 3, np.array([0, 3, 0]), np.array([1, 3, 7]))
    assert objective(values, tiers, ["A", "B", "C"]) == pytest.approx(ref, abs=1e-9)


def test_group_quotas_match_brute_force_and_hold_in_every_group():
    values = pd.Series([0.9, 0.8, 0.7, 0.3, 0.2, 0.1], index=IDS[:6])
    groups = pd.Series(["east", "east", "east", "west", "west", "west"], index=IDS[:6])
    # At most 2 A overall (1/3 of 6), and every province keeps one A partner.
    tiers = assign_tiers(values, method="quota", quotas={"A": (None, 1 / 3)}, group_quotas={"A": (1, None)},
                         groups=groups)
    assert tiers.tolist() == ["A", "B", "B", "A", "B", "B"]
    x = values.to_numpy()
    z = (x - x.min()) / (x.max() - x.min())
    ref = brute_force(z, 3, np.array([0, 0, 0]), np.array([2, 6, 6]), groups=groups.tolist(), glo={0: 1})
    assert objective(values, tiers, ["A", "B", "C"]) == pytest.approx(ref, abs=1e-9)
    assert tiers.attrs["solve_info"]["status"] == "optimal"


def test_contradicting_quotas_are_named():
    values = pd.Series([0.9, 0.8, 0.7], index=IDS[:3])
    with pytest.raises(InfeasibleError) as err:
        assign_tiers(values, method="quota", quotas={"A": (0.7, None), "B": (0.7, None)})
    assert "minimum quotas ask for 6 partners but there are 3" in str(err.value)
    with pytest.raises(InfeasibleError) as err:
        assign_tiers(values, method="quota", group_quotas={"A": (2, None)}, groups=["g", "g", "h"])
    assert "group 'h' has 1 partners" in str(err.value)
    with pytest.raises(SettingsError) as err:
        assign_tiers(values, method="quota", quotas={"AA": (None, 0.5)})
    assert "Did you mean 'A'" in str(err.value)


# ---------------------------------------------------------------- scorecard by hand
def test_scorecard_minmax_by_hand():
    df = pd.DataFrame({"sales": [100.0, 300.0, 200.0], "cost": [10.0, 30.0, 20.0], "growth": [1.0, 1.0, 1.0]},
                      index=["d1", "d2", "d3"])
    card = scorecard(df, {"sales": 2, "cost": 1, "growth": 1}, directions={"cost": "lower"})
    # weights 0.5 / 0.25 / 0.25; sales points 0, 1, .5; cost points 1, 0, .5; growth constant -> 0
    np.testing.assert_allclose(card["sales_contribution"], [0.0, 0.5, 0.25])
    np.testing.assert_allclose(card["cost_contribution"], [0.25, 0.0, 0.125])
    np.testing.assert_allclose(card["growth_contribution"], [0.0, 0.0, 0.0])
    np.testing.assert_allclose(card["score"], [0.25, 0.5, 0.375])
    assert card["rank"].tolist() == [3, 1, 2]
    assert card.index.equals(df.index)


def test_scorecard_zscore_and_rank_by_hand():
    df = pd.DataFrame({"sales": [1.0, 2.0, 3.0, 6.0]}, index=IDS[:4])
    z = scorecard(df, {"sales": 1}, normalise="zscore")
    # mean 3, population std sqrt(((4 + 1 + 0 + 9) / 4)) = sqrt(3.5)
    np.testing.assert_allclose(z["sales_points"], np.array([-2, -1, 0, 3]) / np.sqrt(3.5))
    r = scorecard(pd.DataFrame({"cost": [5.0, 1.0, 5.0, 2.0]}, index=IDS[:4]), {"cost": 1},
                  directions={"cost": "lower"}, normalise="rank")
    # negated: -5, -1, -5, -2 -> average ranks 1.5, 4, 1.5, 3 -> (rank - 1) / 3
    np.testing.assert_allclose(r["cost_points"], [0.5 / 3, 1.0, 0.5 / 3, 2 / 3])


def test_scorecard_errors():
    df = pd.DataFrame({"sales": [1.0, 2.0]}, index=["a", "b"])
    with pytest.raises(ValidationError) as err:
        scorecard(df, {"sale": 1})
    assert "Did you mean 'sales'" in str(err.value) and err.value.column == "sale"
    with pytest.raises(SettingsError) as err:
        scorecard(df, {"sales": 1}, directions={"sales": "lowr"})
    assert "Did you mean 'lower'" in str(err.value)
    with pytest.raises(SettingsError) as err:
        scorecard(df, {"sales": 1}, normalise="min-max")
    assert "Did you mean 'minmax'" in str(err.value)
