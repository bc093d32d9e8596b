"""PricePlan against independent references: scipy.optimize, brute force over ladders and tiers."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import LinearConstraint, minimize

import channelopt as co
from channelopt.exceptions import InfeasibleError, SettingsError, ValidationError

HIGHS = co.Solver("highs")


def make_cells(regions, channels, seed=0, *, lo=0.75, hi=1.3):
    rng = np.random.default_rng(seed)
    rows = []
    for ch_pos, ch in enumerate(channels):
        for r in regions:
            p0 = float(rng.uniform(9.0, 12.0)) + ch_pos
            rows.append({"region_id": r, "channel": ch, "unit_cost": 6.0 + 0.5 * ch_pos, "base_price": p0,
                         "base_volume": float(rng.uniform(50, 400)), "elasticity": float(rng.uniform(1.2, 3.0)),
                         "price_min": round(lo * p0, 2), "price_max": round(hi * p0, 2)})
    return pd.DataFrame(rows)


def linear_volume(cells, price):
    p0, q0, e = (cells[c].to_numpy(float) for c in ("base_price", "base_volume", "elasticity"))
    return np.maximum(q0 * (1 - np.abs(e) * (price - p0) / p0), 0.0)


def true_margin(cells, price):
    return float(((price - cells["unit_cost"].to_numpy(float)) * linear_volume(cells, price)).sum())


def corridor_rows(cells, cost):
    """Rows A p <= b of the diversion rules, written here from the definition (both directions)."""
    key = {(r, c): i for i, (r, c) in enumerate(zip(cells["region_id"], cells["channel"]))}
    A, b = [], []
    for f, t, c in cost[["from_region", "to_region", "cost"]].itertuples(index=False):
        for ch in cells["channel"].unique():
            if (f, ch) in key and (t, ch) in key:
                for x, y in ((key[(f, ch)], key[(t, ch)]), (key[(t, ch)], key[(f, ch)])):
                    row = np.zeros(len(cells))
                    row[y], row[x] = 1.0, -1.0
                    A.append(row)
                    b.append(c)
    return np.array(A), np.array(b)


def scipy_optimum(cells, cost, extra_A=None, extra_lo=None, extra_hi=None):
    """Exact optimum of the concave quadratic margin (linear demand) by SLSQP."""
    A, b = corridor_rows(cells, cost)
    lo = cells["price_min"].to_numpy(float)
    p0, e = cells["base_price"].to_numpy(float), cells["elasticity"].to_numpy(float)
    hi = np.minimum(cells["price_max"].to_numpy(float), p0 * (1 + 1 / e))
    cons = [LinearConstraint(A, -np.inf, b)] if len(A) else []
    if extra_A is not None:
        cons.append(LinearConstraint(extra_A, extra_lo, extra_hi))
    best = None
    for start in (0.5 * (lo + hi), lo, hi):
        res = minimize(lambda p: -true_margin(cells, p), start, method="trust-constr", bounds=list(zip(lo, hi)),
                       constraints=cons, options={"xtol": 1e-12, "gtol": 1e-10, "maxiter": 5000})
        if best is None or res.fun < best.fun:
            best = res
    return -best.fun, best.x


def check_corridors(prices, cost, tol=1e-6):
    """Every corridor on the plan's own prices, both directions, per channel."""
    p = {(r, c): v for r, c, v in prices[["region_id", "channel", "net_price"]].itertuples(index=False)}
    worst = 0.0
    for f, t, c in cost[["from_region", "to_region", "cost"]].itertuples(index=False):
        for ch in prices["channel"].unique():
            if (f, ch) in p and (t, ch) in p:
                worst = max(worst, abs(p[(f, ch)] - p[(t, ch)]) - c)
    assert worst <= tol, f"a corridor is broken by {worst}"


REGIONS = ["r0", "r1", "r2", "r3"]
COST = pd.DataFrame({"from_region": ["r0", "r1", "r2", "r0"], "to_region": ["r1", "r2", "r3", "r3"],
                     "cost": [0.3, 0.4, 0.2, 0.5]})


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_margin_matches_scipy_within_the_stated_pwl_error(seed):
    cells = make_cells(REGIONS, ["ka", "trad"], seed)
    plan = co.PricePlan(cells=cells, diversion_cost=COST, pwl_tol=1e-3).solve(solver=HIGHS)
    opt, _ = scipy_optimum(cells, COST)
    bound = plan.metrics["pwl_error_bound"]
    assert bound > 0
    got = true_margin(cells, plan.prices["price"].to_numpy())
    assert got == pytest.approx(plan.metrics["margin"], rel=1e-12)
    # The PWL optimum is within its error of the true optimum; the plan's true margin within twice.
    assert abs(plan.objective - opt) <= bound + 1e-6 * opt
    assert opt - 2 * bound - 1e-6 * opt <= got <= opt + 1e-6 * opt
    assert plan.metrics["objective_upper_bound"] >= opt - 1e-6 * opt
    check_corridors(plan.prices, COST)
    # The corridors bind somewhere here: the instance tests them, not just the bounds.
    assert plan.corridors["binding"].any()


def test_margin_with_channel_gaps_matches_scipy():
    cells = make_cells(REGIONS, ["modern_ka", "traditional"], 5)
    gaps = {("modern_ka", "traditional"): (-0.3, 0.2)}
    plan = co.PricePlan(cells=cells, diversion_cost=COST, channel_gaps=gaps, pwl_tol=5e-4).solve(solver=HIGHS)
    key = {(r, c): i for i, (r, c) in enumerate(zip(cells["region_id"], cells["channel"]))}
    A = np.zeros((len(REGIONS), len(cells)))
    for j, r in enumerate(REGIONS):
        A[j, key[(r, "modern_ka")]], A[j, key[(r, "traditional")]] = 1.0, -1.0
    opt, _ = scipy_optimum(cells, COST, A, -0.3, 0.2)
    bound = plan.metrics["pwl_error_bound"]
    assert abs(plan.objective - opt) <= bound + 1e-6 * opt
    pr = plan.prices.set_index(["region_id", "channel"])["price"]
    gap = np.array([pr[(r, "modern_ka")] - pr[(r, "traditional")] for r in REGIONS])
    assert (gap >= -0.3 - 1e-6).all() and (gap <= 0.2 + 1e-6).all()
    assert plan.corridors.query("kind == 'channel_gap'")["binding"].any()


def test_relative_channel_gap_holds():
    cells = make_cells(REGIONS, ["modern_ka", "traditional"], 3)
    plan = co.PricePlan(cells=cells, channel_gaps={("modern_ka", "traditional"): (-0.05, -0.02, "relative")},
                        pwl_tol=1e-3).solve(solver=HIGHS)
    pr = plan.prices.set_index(["region_id", "channel"])["price"]
    rel = np.array([pr[(r, "modern_ka")] / pr[(r, "traditional")] - 1 for r in REGIONS])
    assert (rel >= -0.05 - 1e-7).all() and (rel <= -0.02 + 1e-7).all()


def test_diversion_rule_holds_both_ways_for_a_pair_listed_once():
    # Unconstrained, b would price far above a in ka and far below it in trad.
    cells = pd.DataFrame({"region_id": ["a", "b", "a", "b"], "channel": ["ka", "ka", "trad", "trad"],
                          "unit_cost": [2.0, 9.0, 9.0, 2.0], "base_price": 10.0, "base_volume": 100.0,
                          "elasticity": 2.0, "price_min": 3.0, "price_max": 14.0})
    free = co.PricePlan(cells=cells).solve(solver=HIGHS).prices.set_index(["region_id", "channel"])["price"]
    assert free[("b", "ka")] - free[("a", "ka")] > 1 and free[("a", "trad")] - free[("b", "trad")] > 1
    cost = pd.DataFrame({"from_region": ["a"], "to_region": ["b"], "cost": [0.25]})
    plan = co.PricePlan(cells=cells, diversion_cost=cost).solve(solver=HIGHS)
    pr = plan.prices.set_index(["region_id", "channel"])["price"]
    assert pr[("b", "ka")] - pr[("a", "ka")] == pytest.approx(0.25, abs=1e-6)
    assert pr[("a", "trad")] - pr[("b", "trad")] == pytest.approx(0.25, abs=1e-6)
    assert co.diversion_risk(plan.prices, cost).empty
    assert len(co.diversion_risk(free.rename("price").reset_index(), cost)) == 2


def test_bands_and_change_limits_bound_the_prices():
    # a wants a much lower price (elastic), b a much higher one: each stops at a different rule.
    cells = pd.DataFrame({"region_id": ["a", "b"], "channel": "ka", "unit_cost": 6.0, "base_price": 10.0,
                          "current_price": 10.0, "base_volume": 100.0, "elasticity": [4.0, 1.2], "price_min": 5.0,
                          "price_max": 20.0})
    plan = co.PricePlan(cells=cells, max_change=0.03, national_bands={"ka": (None, 10.2)}).solve(solver=HIGHS)
    p = plan.prices["price"].to_numpy()
    assert p == pytest.approx([9.7, 10.2], abs=1e-6)
    assert plan.prices["binding"].tolist() == ["max_change", "national_band"]


def brute_ladder(cells, cost, points, rebates=None, menu=False, regions=None):
    """Best margin over every combination of ladder points (and tiers per region when menu)."""
    p0, q0, e, c = (cells[k].to_numpy(float) for k in ("base_price", "base_volume", "elasticity", "unit_cost"))
    n = len(cells)
    tiers = [(0.0, 0.0)] if rebates is None else [(0.0, 0.0)] + list(zip(rebates["threshold"], rebates["rebate"]))
    A, b = corridor_rows(cells, cost) if cost is not None else (np.zeros((0, n)), np.zeros(0))
    best = -np.inf
    region_of = cells["region_id"].to_numpy()
    choices = [None] if not menu else list(itertools.product(range(len(tiers)), repeat=len(regions)))
    for choice in choices:
        for combo in itertools.product(points, repeat=n):
            price = np.array(combo, dtype=float)
            if (price < cells["price_min"].to_numpy() - 1e-9).any() or (price > cells["price_max"].to_numpy()
                                                                           + 1e-9).any():
                continue
            net = np.empty(n)
            ok = True
            for i in range(n):
                if menu:
                    thr, r = tiers[choice[regions.index(region_of[i])]]
                    nv = price[i] * (1 - r)
                    ok &= q0[i] * (1 - e[i] * (nv - p0[i]) / p0[i]) >= thr - 1e-9
                else:
                    # Schedule: the highest tier whose threshold the volume at the net price reaches.
                    r_best = 0.0
                    for thr, r in tiers:
                        nv = price[i] * (1 - r)
                        if max(q0[i] * (1 - e[i] * (nv - p0[i]) / p0[i]), 0) >= thr - 1e-9:
                            r_best = r if thr > 0 else r_best
                    nv = price[i] * (1 - r_best)
                net[i] = nv
            if not ok or (len(A) and (A @ net > b + 1e-9).any()):
                continue
            q = np.maximum(q0 * (1 - e * (net - p0) / p0), 0)
            best = max(best, float(((net - c) * q).sum()))
    return best


LADDER = [8.9, 9.9, 10.9, 11.9, 12.9]


def small_cells():
    cells = pd.DataFrame({"region_id": ["a", "b", "c"], "channel": "ka", "unit_cost": 6.0, "base_price": 10.0,
                          "base_volume": [100.0, 300.0, 180.0], "elasticity": [3.0, 1.4, 2.0], "price_min": 8.0,
                          "price_max": 13.5})
    cost = pd.DataFrame({"from_region": ["a", "b"], "to_region": ["b", "c"], "cost": [1.5, 1.05]})
    return cells, cost


def test_price_ladder_matches_brute_force():
    cells, cost = small_cells()
    plan = co.PricePlan(cells=cells, diversion_cost=cost, price_points=LADDER).solve(solver=HIGHS)
    best = brute_ladder(cells, cost, LADDER)
    assert plan.metrics["margin"] == pytest.approx(best, rel=1e-9)
    assert plan.objective == pytest.approx(best, rel=1e-7)
    assert set(plan.prices["price"].round(6)) <= set(LADDER)
    assert plan.metrics["shadow_price_method"] == "lp_with_integers_fixed"


REBATES = pd.DataFrame({"tier": ["silver", "gold"], "threshold": [150.0, 300.0], "rebate": [0.04, 0.08]})


def test_rebate_schedule_on_a_ladder_matches_brute_force():
    cells, cost = small_cells()
    plan = co.PricePlan(cells=cells, diversion_cost=cost, price_points=LADDER, rebates=REBATES).solve(solver=HIGHS)
    best = brute_ladder(cells, cost, LADDER, REBATES)
    assert plan.metrics["margin"] == pytest.approx(best, rel=1e-9)
    pr = plan.prices
    # Each cell's tier is the highest its volume reaches, and corridors hold on net prices.
    for row in pr.itertuples():
        reached = [t for t, thr in zip(REBATES["tier"], REBATES["threshold"]) if row.volume >= thr - 1e-9]
        assert row.tier == (reached[-1] if reached else "none")
    check_corridors(pr, cost)
    assert (pr["tier"] != "none").any()


def test_rebate_menu_on_a_ladder_matches_brute_force():
    cells, cost = small_cells()
    plan = co.PricePlan(cells=cells, diversion_cost=cost, price_points=LADDER, rebates=REBATES,
                        rebate_choice="menu").solve(solver=HIGHS)
    best = brute_ladder(cells, cost, LADDER, REBATES, menu=True, regions=["a", "b", "c"])
    assert plan.metrics["margin"] == pytest.approx(best, rel=1e-9)
    pr = plan.prices
    thr = dict(zip(REBATES["tier"], REBATES["threshold"]))
    assert all(row.volume >= thr.get(row.tier, 0.0) - 1e-9 for row in pr.itertuples())
    check_corridors(pr, cost)


def test_continuous_rebate_menu_matches_brute_force_over_tiers_with_scipy():
    # Two regions x two channels: the region's tier binds both its cells (one binary shared by two cells).
    cells = pd.DataFrame({"region_id": ["a", "b", "a", "b"], "channel": ["ka", "ka", "trad", "trad"],
                          "unit_cost": 6.0, "base_price": 10.0, "base_volume": [100.0, 300.0, 150.0, 200.0],
                          "elasticity": [3.0, 1.4, 2.0, 1.7], "price_min": 10.0, "price_max": 13.5})
    # The list price may not fall below 10: only a rebate lowers a's elastic KA net price towards its optimum.
    cost = pd.DataFrame({"from_region": ["a"], "to_region": ["b"], "cost": [1.2]})
    rebates = pd.DataFrame({"tier": ["silver", "gold"], "threshold_share": [0.9, 1.0], "rebate": [0.03, 0.06]})
    plan = co.PricePlan(cells=cells, diversion_cost=cost, rebates=rebates, rebate_choice="menu",
                        pwl_tol=1e-4).solve(solver=HIGHS)
    # Independent: for every tier per region, the concave problem in net prices by scipy.
    tiers = [(0.0, 0.0), (0.9, 0.03), (1.0, 0.06)]
    p0, q0, e = 10.0, cells["base_volume"].to_numpy(), cells["elasticity"].to_numpy()
    A, b = corridor_rows(cells, cost)
    best = -np.inf
    for ta, tb in itertools.product(range(3), repeat=2):
        share = np.array([tiers[ta][0], tiers[tb][0]] * 2)
        f = 1 - np.array([tiers[ta][1], tiers[tb][1]] * 2)
        lo = 10.0 * f
        # Net price at which the volume is exactly the threshold: n <= p0 (1 + (1 - share) / e).
        hi = np.minimum(13.5 * f, np.where(share > 0, p0 * (1 + (1 - share) / e), np.inf))
        hi = np.minimum(hi, p0 * (1 + 1 / e))
        if (lo > hi).any():
            continue
        res = minimize(lambda n: -float(((n - 6.0) * q0 * (1 - e * (n - p0) / p0)).sum()), 0.5 * (lo + hi),
                       method="trust-constr", bounds=list(zip(lo, hi)), constraints=[LinearConstraint(A, -np.inf, b)],
                       options={"xtol": 1e-12, "gtol": 1e-10, "maxiter": 5000})
        if res.status > 0 and (A @ res.x <= b + 1e-7).all():
            best = max(best, -res.fun)
    bound = plan.metrics["pwl_error_bound"]
    assert abs(plan.objective - best) <= bound + 1e-6 * best
    assert plan.metrics["margin"] >= best - 2 * bound - 1e-6 * best
    assert plan.objective == pytest.approx(plan.metrics["margin"], abs=bound + 1e-6)
    pr = plan.prices
    assert pr.groupby("region_id")["tier"].nunique().max() == 1  # one tier per region
    assert (pr["tier"] != "none").any()
    thr = {"silver": 0.9, "gold": 1.0, "none": 0.0}
    assert all(r.volume >= thr[r.tier] * r.base_volume - 1e-6 for r in pr.itertuples())
    check_corridors(pr, cost)


def test_rebate_menu_under_constant_elasticity_prices_its_own_plan_and_beats_a_fine_ladder():
    # Non-concave margins (segments with order binaries) gated by a region's tier shared by two cells.
    cells = pd.DataFrame({"region_id": ["a", "b", "a", "b"], "channel": ["ka", "ka", "trad", "trad"],
                          "unit_cost": 6.0, "base_price": 10.0, "base_volume": [100.0, 300.0, 150.0, 200.0],
                          "elasticity": [3.0, 1.6, 3.5, 2.6], "price_min": 8.0, "price_max": 16.0})
    cost = pd.DataFrame({"from_region": ["a"], "to_region": ["b"], "cost": [1.2]})
    rebates = pd.DataFrame({"tier": ["silver", "gold"], "threshold_share": [0.9, 1.0], "rebate": [0.03, 0.06]})
    common = dict(cells=cells, demand="constant_elasticity", diversion_cost=cost, rebates=rebates,
                  rebate_choice="menu")
    plan = co.PricePlan(pwl_tol=1e-4, **common).solve(solver=HIGHS)
    bound = plan.metrics["pwl_error_bound"]
    # The model prices its own plan right: its objective is the plan's true margin within the PWL error.
    assert plan.objective == pytest.approx(plan.metrics["margin"], abs=bound + 1e-6)
    ladder = co.PricePlan(price_points=np.round(np.arange(8.0, 16.0001, 0.01), 2).tolist(),
                          **common).solve(solver=HIGHS)
    assert ladder.metrics["shadow_price_method"] == "lp_with_integers_fixed"
    # Prices on a 0.01 ladder are a subset of the continuous ones; the PWL optimum is within 2E of the true one.
    assert plan.metrics["margin"] >= ladder.metrics["margin"] - 2 * bound
    assert plan.metrics["objective_upper_bound"] >= ladder.metrics["margin"] - 1e-6
    assert plan.prices.groupby("region_id")["tier"].nunique().max() == 1


def test_continuous_rebate_schedule_against_a_fine_grid():
    cells = pd.DataFrame({"region_id": ["a", "b"], "channel": "ka", "unit_cost": 6.0, "base_price": 10.0,
                          "base_volume": [100.0, 300.0], "elasticity": [3.0, 1.4], "price_min": 8.0,
                          "price_max": 13.5})
    cost = pd.DataFrame({"from_region": ["a"], "to_region": ["b"], "cost": [0.4]})
    plan = co.PricePlan(cells=cells, diversion_cost=cost, rebates=REBATES, pwl_tol=1e-4).solve(solver=HIGHS)
    grid = np.round(np.arange(8.0, 13.5 + 1e-9, 0.005), 3).tolist()
    # Brute force on a 0.005 grid: each cell's net price and margin for every list price.
    p0, q0, e = 10.0, np.array([100.0, 300.0]), np.array([3.0, 1.4])
    best = -np.inf
    net = np.empty((2, len(grid)))
    for i in range(2):
        for k, p in enumerate(grid):
            r = 0.0
            for thr, rr in zip(REBATES["threshold"], REBATES["rebate"]):
                if max(q0[i] * (1 - e[i] * (p * (1 - rr) - p0) / p0), 0) >= thr:
                    r = rr
            net[i, k] = p * (1 - r)
    marg = (net - 6.0) * np.maximum(q0[:, None] * (1 - e[:, None] * (net - p0) / p0), 0)
    ok = np.abs(net[0][:, None] - net[1][None, :]) <= 0.4 + 1e-12
    best = float((marg[0][:, None] + marg[1][None, :])[ok].max())
    bound = plan.metrics["pwl_error_bound"]
    # The grid misses at most a step's worth of margin: |dmargin/dp| * 0.005 per cell.
    slack = 2 * 400 * 0.005
    assert plan.metrics["margin"] >= best - 2 * bound - slack
    assert plan.metrics["objective_upper_bound"] >= best - 1e-9
    check_corridors(plan.prices, cost)


def test_constant_elasticity_margin_against_a_fine_grid():
    cells = pd.DataFrame({"region_id": ["a", "b"], "channel": "ka", "unit_cost": 6.0, "base_price": 10.0,
                          "base_volume": [100.0, 300.0], "elasticity": [2.5, 1.6], "price_min": 7.0,
                          "price_max": 20.0})
    cost = pd.DataFrame({"from_region": ["a"], "to_region": ["b"], "cost": [0.5]})
    plan = co.PricePlan(cells=cells, demand="constant_elasticity", diversion_cost=cost,
                        pwl_tol=1e-4).solve(solver=HIGHS)
    grid = np.linspace(7.0, 20.0, 13001)
    m = [(grid - 6.0) * q * (grid / 10.0) ** -e for q, e in ((100.0, 2.5), (300.0, 1.6))]
    ok = np.abs(grid[:, None] - grid[None, :]) <= 0.5 + 1e-12
    best = float((m[0][:, None] + m[1][None, :])[ok].max())
    bound = plan.metrics["pwl_error_bound"]
    assert plan.metrics["margin"] >= best - 2 * bound - 1e-6 * best
    assert plan.metrics["objective_upper_bound"] >= best - 1e-6 * best


def test_volume_objective_keeps_the_margin_floor():
    cells = make_cells(REGIONS, ["ka"], 7)
    best = co.PricePlan(cells=cells, diversion_cost=COST).solve(solver=HIGHS)
    floor = 0.9 * best.metrics["margin"]
    plan = co.PricePlan(cells=cells, diversion_cost=COST, objective="volume", margin_floor=floor,
                        pwl_tol=1e-4).solve(solver=HIGHS)
    assert plan.metrics["volume"] > best.metrics["volume"]
    assert plan.metrics["margin"] >= floor - plan.metrics["pwl_error_bound"] * 10
    check_corridors(plan.prices, COST)


def test_shadow_prices_bracket_the_finite_difference():
    cells = make_cells(REGIONS, ["ka"], 2)
    base = co.PricePlan(cells=cells, diversion_cost=COST, pwl_tol=1e-3).solve(solver=HIGHS)
    binding = base.corridors[base.corridors["binding"]]
    assert len(binding) and base.metrics["shadow_price_method"] == "lp_dual"
    row = binding.iloc[0]
    step = 1e-4
    values = {}
    for sign in (+1, -1):
        cost = COST.copy()
        hit = ((cost["from_region"] == row.from_region) & (cost["to_region"] == row.to_region)) | (
            (cost["from_region"] == row.to_region) & (cost["to_region"] == row.from_region))
        # Give the other direction its own row so only this direction moves.
        rev = cost[hit].rename(columns={"from_region": "to_region", "to_region": "from_region"})
        cost = pd.concat([cost[~hit], rev], ignore_index=True)
        fwd = pd.DataFrame({"from_region": [row.from_region], "to_region": [row.to_region],
                            "cost": [row.limit + sign * step]})
        rev = rev[(rev["from_region"] != row.from_region)]
        cost = pd.concat([cost[~((cost["from_region"] == row.from_region) & (cost["to_region"] == row.to_region))],
                          fwd], ignore_index=True)
        values[sign] = co.PricePlan(cells=cells, diversion_cost=cost, pwl_tol=1e-3).solve(solver=HIGHS).objective
    right = (values[+1] - base.objective) / step
    left = (base.objective - values[-1]) / step
    assert right - 1e-3 * (1 + abs(right)) <= row.shadow_price <= left + 1e-3 * (1 + abs(left))
    assert row.shadow_price > 0


# ---------------------------------------------------------------- properties
@st.composite
def instances(draw):
    n_regions = draw(st.integers(2, 4))
    regions = [f"r{i}" for i in range(n_regions)]
    seed = draw(st.integers(0, 10_000))
    cells = make_cells(regions, ["ka", "trad"], seed)
    pairs = [(a, b) for i, a in enumerate(regions) for b in regions[i + 1:]]
    chosen = draw(st.lists(st.sampled_from(pairs), min_size=1, max_size=len(pairs), unique=True))
    costs = draw(st.lists(st.floats(0.0, 2.0), min_size=len(chosen), max_size=len(chosen)))
    cost = pd.DataFrame({"from_region": [a for a, _ in chosen], "to_region": [b for _, b in chosen],
                         "cost": costs})
    return cells, cost


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(), st.integers(0, 10), st.floats(0.05, 1.0))
def test_property_corridors_hold_and_relaxing_never_lowers_the_margin(inst, which, extra):
    cells, cost = inst
    plan = co.PricePlan(cells=cells, diversion_cost=cost, pwl_tol=1e-3).solve(solver=HIGHS)
    check_corridors(plan.prices, cost)
    assert co.diversion_risk(plan.prices, cost).empty
    looser = cost.copy()
    looser.loc[which % len(cost), "cost"] += extra
    relaxed = co.PricePlan(cells=cells, diversion_cost=looser, pwl_tol=1e-3).solve(solver=HIGHS)
    # Same breakpoints, larger feasible set: the model's optimum cannot fall.
    assert relaxed.objective >= plan.objective - 1e-7 * abs(plan.objective)
    assert relaxed.metrics["margin"] >= plan.metrics["margin"] - 2 * plan.metrics["pwl_error_bound"]


# ---------------------------------------------------------------- errors
def test_missing_column_is_named_with_a_suggestion():
    cells = make_cells(REGIONS, ["ka"]).rename(columns={"unit_cost": "unitcost"})
    with pytest.raises(ValidationError) as err:
        co.PricePlan(cells=cells).solve(solver=HIGHS)
    assert "unit_cost" in str(err.value) and "'unitcost'" in str(err.value) and err.value.column == "unit_cost"


def test_unknown_objective_suggests_the_nearest():
    with pytest.raises(SettingsError, match="did you mean 'margin'"):
        co.PricePlan(cells=make_cells(REGIONS, ["ka"]), objective="margni").solve(solver=HIGHS)


def test_unknown_region_in_cost_table_is_named():
    cost = pd.DataFrame({"from_region": ["r0"], "to_region": ["zz"], "cost": [1.0]})
    with pytest.raises(ValidationError, match=r"\['zz'\]"):
        co.PricePlan(cells=make_cells(REGIONS, ["ka"]), diversion_cost=cost).solve(solver=HIGHS)


def test_conflicting_corridors_and_bounds_name_the_corridors():
    cells = make_cells(["a", "b"], ["ka"])
    cells["price_min"] = [12.0, 5.0]
    cells["price_max"] = [13.0, 6.0]
    cost = pd.DataFrame({"from_region": ["a"], "to_region": ["b"], "cost": [1.0]})
    with pytest.raises(InfeasibleError) as err:
        co.PricePlan(cells=cells, diversion_cost=cost).solve(solver=HIGHS)
    assert "diversion corridors" in str(err.value) and err.value.reasons


def test_input_is_not_mutated():
    cells = make_cells(REGIONS, ["ka"])
    before = cells.copy()
    co.PricePlan(cells=cells, diversion_cost=COST, rebates=REBATES).solve(solver=HIGHS)
    pd.testing.assert_frame_equal(cells, before)


def test_revenue_objective_matches_scipy():
    cells = make_cells(REGIONS, ["ka"], 8)
    plan = co.PricePlan(cells=cells, objective="revenue", diversion_cost=COST, pwl_tol=1e-4).solve(solver=HIGHS)
    A, b = corridor_rows(cells, COST)
    lo = cells["price_min"].to_numpy(float)
    p0, e = cells["base_price"].to_numpy(float), cells["elasticity"].to_numpy(float)
    hi = np.minimum(cells["price_max"].to_numpy(float), p0 * (1 + 1 / e))
    res = minimize(lambda p: -float((p * linear_volume(cells, p)).sum()), 0.5 * (lo + hi), method="trust-constr",
                   bounds=list(zip(lo, hi)), constraints=[LinearConstraint(A, -np.inf, b)],
                   options={"xtol": 1e-12, "gtol": 1e-10, "maxiter": 5000})
    bound = plan.metrics["pwl_error_bound"]
    assert abs(plan.objective + res.fun) <= bound + 1e-6 * abs(res.fun)
    assert plan.metrics["revenue"] >= -res.fun - 2 * bound - 1e-6 * abs(res.fun)
    check_corridors(plan.prices, COST)


def test_demand_points_on_a_straight_line_give_the_linear_plan():
    cells = make_cells(REGIONS, ["ka"], 9)
    rows = []
    for r in cells.itertuples():
        grid = np.linspace(r.price_min - 1, r.price_max + 1, 7)
        q = r.base_volume * (1 - r.elasticity * (grid - r.base_price) / r.base_price)
        keep = q > 0
        rows += [(r.region_id, r.channel, g, v) for g, v in zip(grid[keep], q[keep])]
    points = pd.DataFrame(rows, columns=["region_id", "channel", "price", "volume"])
    by_points = co.PricePlan(cells=cells.drop(columns=["base_volume", "elasticity"]), demand=points,
                             diversion_cost=COST, pwl_tol=1e-4).solve(solver=HIGHS)
    linear = co.PricePlan(cells=cells, diversion_cost=COST, pwl_tol=1e-4).solve(solver=HIGHS)
    tol = by_points.metrics["pwl_error_bound"] + linear.metrics["pwl_error_bound"]
    assert by_points.objective == pytest.approx(linear.objective, abs=tol)
    assert by_points.metrics["margin"] == pytest.approx(true_margin(cells, by_points.prices["price"].to_numpy()),
                                                        rel=1e-9)
    rising = points.copy()
    rising.loc[rising.index[1], "volume"] = rising["volume"].iloc[0] + 50
    with pytest.raises(ValidationError, match="do not rise with price") as err:
        co.PricePlan(cells=cells, demand=rising).solve(solver=HIGHS)
    assert err.value.column == "volume"


def test_price_plan_saves_and_reads_back(tmp_path):
    cells = make_cells(REGIONS, ["ka", "trad"], 1)
    plan = co.PricePlan(cells=cells, diversion_cost=COST, rebates=REBATES).solve(solver=HIGHS)
    out = plan.save(tmp_path / "plan")
    back = pd.read_parquet(out / "prices.parquet")
    assert back["price"].tolist() == pytest.approx(plan.prices["price"].tolist())
    assert set(pd.read_parquet(out / "corridors.parquet")["kind"]) == {"diversion"}
    assert '"kind": "price_plan"' in (out / "plan.json").read_text(encoding="utf-8")


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(), st.floats(-1.5, 0.0), st.floats(0.0, 1.5), st.sampled_from(["schedule", "menu"]),
       st.floats(0.05, 1.0))
def test_property_rebates_and_gaps_hold_on_net_prices(inst, lo, hi, choice, extra):
    cells, cost = inst
    gaps = {("ka", "trad"): (lo, hi)}
    rebates = pd.DataFrame({"tier": ["t1", "t2"], "threshold_share": [0.85, 1.0], "rebate": [0.03, 0.06]})
    common = dict(cells=cells, channel_gaps=gaps, rebates=rebates, rebate_choice=choice, pwl_tol=1e-3)
    try:
        plan = co.PricePlan(diversion_cost=cost, **common).solve(solver=HIGHS)
    except InfeasibleError as exc:
        # Only a real conflict of gaps, corridors and ranges may refuse: the message says which.
        assert "channel_gaps" in str(exc) or "diversion corridors" in str(exc)
        return
    pr = plan.prices
    check_corridors(pr, cost)
    assert co.diversion_risk(pr, cost).empty
    net = pr.set_index(["region_id", "channel"])["net_price"]
    for r in pr["region_id"].unique():
        d = net[(r, "ka")] - net[(r, "trad")]
        assert lo - 1e-6 <= d <= hi + 1e-6
    share = {"none": 0.0, "t1": 0.85, "t2": 1.0}
    assert np.allclose(pr["net_price"], pr["price"] * (1 - pr["rebate"]))
    assert all(row.volume >= share[row.tier] * row.base_volume - 1e-6 for row in pr.itertuples())
    if choice == "menu":
        assert pr.groupby("region_id")["tier"].nunique().max() == 1
    looser = cost.assign(cost=cost["cost"] + extra)
    relaxed = co.PricePlan(diversion_cost=looser, **common).solve(solver=HIGHS)
    assert relaxed.objective >= plan.objective - 1e-6 * (1 + abs(plan.objective))


def test_relative_gap_shadow_price_is_per_unit_of_share():
    cells = make_cells(["a"], ["modern_ka", "traditional"], 11)
    lim = -0.08
    base = co.PricePlan(cells=cells, channel_gaps={("modern_ka", "traditional"): (None, lim, "relative")},
                        pwl_tol=1e-3).solve(solver=HIGHS)
    row = base.corridors.iloc[0]
    assert row.binding and row.shadow_price > 0
    step = 1e-4
    up = co.PricePlan(cells=cells, channel_gaps={("modern_ka", "traditional"): (None, lim + step, "relative")},
                      pwl_tol=1e-3).solve(solver=HIGHS).objective
    down = co.PricePlan(cells=cells, channel_gaps={("modern_ka", "traditional"): (None, lim - step, "relative")},
                        pwl_tol=1e-3).solve(solver=HIGHS).objective
    right, left = (up - base.objective) / step, (base.objective - down) / step
    assert right - 1e-3 * (1 + abs(right)) <= row.shadow_price <= left + 1e-3 * (1 + abs(left))


def test_array_build_makes_no_pulp_object_until_asked_and_honours_rows_added_to_it():
    # the pair a-b of the diversion test: free, b's ka price is far above a's
    cells = pd.DataFrame({"region_id": ["a", "b", "a", "b"], "channel": ["ka", "ka", "trad", "trad"],
                          "unit_cost": [2.0, 9.0, 9.0, 2.0], "base_price": 10.0, "base_volume": 100.0,
                          "elasticity": 2.0, "price_min": 3.0, "price_max": 14.0})
    model = co.PricePlan(cells=cells)
    built = model.build()
    free = built.solve(HIGHS).prices["price"].to_numpy()
    assert not built.has_problem  # nobody asked for PuLP: none was made
    assert free[1] - free[0] > 1.0
    built = model.build()
    lp = built.problem.variablesDict()  # the price of cell i is column p_i
    built.problem += lp["p_1"] - lp["p_0"] <= 0.5
    capped = built.solve(HIGHS).prices["price"].to_numpy()
    assert capped[1] - capped[0] == pytest.approx(0.5, abs=1e-6)  # the user's row binds
    # the other channel, untouched by the row, keeps its free prices
    assert capped[2:] == pytest.approx(free[2:], abs=1e-4)


def test_milp_shadow_price_is_the_dual_with_the_tiers_fixed():
    # rebate tiers make it a MILP: the shadow price is the LP dual with the plan's tier binaries fixed,
    # which a small move of the limit (tiers unchanged) must reproduce
    cells = make_cells(["a"], ["modern_ka", "traditional"], 11)
    rebates = pd.DataFrame({"tier": ["gold"], "threshold_share": [0.9], "rebate": [0.05]})
    lim = -1.5

    def plan_at(limit):
        return co.PricePlan(cells=cells, rebates=rebates, pwl_tol=1e-4,
                            channel_gaps={("modern_ka", "traditional"): (None, limit)}).solve(solver=HIGHS)

    base = plan_at(lim)
    assert base.metrics["binaries"] > 0 and base.metrics["shadow_price_method"] == "lp_with_integers_fixed"
    row = base.corridors.iloc[0]
    assert row.binding and row.shadow_price > 0
    step = 1e-4
    up, down = plan_at(lim + step), plan_at(lim - step)
    assert list(up.prices["tier"]) == list(base.prices["tier"]) == list(down.prices["tier"])
    right, left = (up.objective - base.objective) / step, (base.objective - down.objective) / step
    assert right - 1e-3 * (1 + abs(right)) <= row.shadow_price <= left + 1e-3 * (1 + abs(left))
