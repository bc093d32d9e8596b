"""BudgetAllocation's greedy first plan keeps every row the model states, in budget and target mode.

The solver gets no time (a spent clock), so the plan is the model's start; it is checked here
against each rule from its own allocations table, and against an independent optimum: a
scipy.optimize.milp model written in this file over cells with discrete spend levels (exact
response, no piecewise-linear error).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import Bounds, LinearConstraint, milp

import channelopt as co

RULES = dict(region_min={"r0": 30.0}, region_max=110.0, channel_min={"trad": 40.0},
             channel_share={"ka": (0.25, 0.6)}, min_regions_reached=1.0)
# min_roi per seed: feasible (the milp finds a plan) and binding (a greedy that ignores it breaks it)
MIN_ROI = {0: 2.2, 1: 2.1, 2: 1.78, 3: 2.5}


def level_cells(seed: int, n: int = 9) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "region_id": [f"r{i % 3}" for i in range(n)],
        "channel": ["ka", "trad", "pharmacy"] * (n // 3),
        "activity": "promotion",
        "curve": [co.Hill(rng.uniform(60, 160), rng.uniform(10, 40), rng.uniform(0.8, 2.5)) for _ in range(n)],
        "levels": [sorted(rng.choice(np.arange(5.0, 65.0, 5.0), 4, replace=False).tolist()) for _ in range(n)],
        "fixed_cost": rng.uniform(1, 6, n),
        "max_spend": 60.0,
    })


def reference(cells: pd.DataFrame, *, total=None, target=None, region_min=None, region_max=None,
              channel_min=None, channel_share=None, min_regions_reached=None, min_roi=None):
    """Optimum by scipy milp: one binary per cell x level, at most one level per cell."""
    cols = [(i, v) for i in range(len(cells)) for v in cells["levels"][i]]
    k = len(cols)
    cell = np.array([i for i, _ in cols])
    spend = np.array([v for _, v in cols])
    gain = np.array([float(cells["curve"][i](v)) - float(cells["curve"][i](0.0)) for i, v in cols])
    cost = spend + cells["fixed_cost"].to_numpy()[cell]
    regions = sorted(cells["region_id"].unique())
    reg = cells["region_id"].to_numpy()[cell]
    ch = cells["channel"].to_numpy()[cell]
    # columns: k level binaries, then one reach binary per region
    nr = len(regions)
    A, lo, hi = [], [], []

    def row(coefs_levels, coefs_reach, low, high):
        A.append(np.r_[coefs_levels, coefs_reach])
        lo.append(low)
        hi.append(high)

    zero_r = np.zeros(nr)
    for i in range(len(cells)):
        row((cell == i).astype(float), zero_r, 0, 1)
    if total is not None:
        row(cost, zero_r, -np.inf, total)
    if target is not None:
        row(gain, zero_r, target, np.inf)
    for r, m in (region_min or {}).items():
        row(spend * (reg == r), zero_r, m, np.inf)
    if region_max is not None:
        for r in regions:
            row(spend * (reg == r), zero_r, -np.inf, region_max)
    for c, m in (channel_min or {}).items():
        row(spend * (ch == c), zero_r, m, np.inf)
    for c, (a, b) in (channel_share or {}).items():
        row(spend * (ch == c) - a * spend, zero_r, 0, np.inf)
        row(spend * (ch == c) - b * spend, zero_r, -np.inf, 0)
    if min_regions_reached is not None:
        for q, r in enumerate(regions):
            row(-(reg == r).astype(float), np.eye(nr)[q], -np.inf, 0)
        row(np.zeros(k), np.ones(nr), math.ceil(min_regions_reached * nr - 1e-9), np.inf)
    if min_roi is not None:
        row(gain - min_roi * cost, zero_r, 0, np.inf)
    c = np.r_[-gain if target is None else cost, np.zeros(nr)]
    res = milp(c, constraints=LinearConstraint(np.array(A), lo, hi), integrality=np.ones(k + nr),
               bounds=Bounds(0, 1))
    assert res.status == 0, res.message
    return float(gain @ res.x[:k]) if target is None else float(cost @ res.x[:k])


def check_rules(cells, alloc, *, total=None, target=None, region_min=None, region_max=None, channel_min=None,
                channel_share=None, min_regions_reached=None, min_roi=None):
    """Every rule, from the plan's allocations table and the cells (not from the model's rows)."""
    spend = alloc["spend"].to_numpy()
    on = spend > 0
    for i in np.flatnonzero(on):
        assert any(abs(spend[i] - v) <= 1e-9 for v in cells["levels"][i]), (i, spend[i])
    cost = spend + np.where(on, cells["fixed_cost"].to_numpy(), 0.0)
    gain = np.array([float(c(s)) - float(c(0.0)) for c, s in zip(cells["curve"], spend)])
    by_reg = pd.Series(spend).groupby(cells["region_id"].to_numpy()).sum()
    by_ch = pd.Series(spend).groupby(cells["channel"].to_numpy()).sum()
    if total is not None:
        assert cost.sum() <= total + 1e-6
    if target is not None:
        assert gain.sum() >= target - 1e-6
    for r, m in (region_min or {}).items():
        assert by_reg[r] >= m - 1e-6
    if region_max is not None:
        assert (by_reg <= region_max + 1e-6).all()
    for c, m in (channel_min or {}).items():
        assert by_ch[c] >= m - 1e-6
    for c, (a, b) in (channel_share or {}).items():
        assert a * spend.sum() - 1e-6 <= by_ch.get(c, 0.0) <= b * spend.sum() + 1e-6
    if min_regions_reached is not None:
        regions = cells["region_id"].nunique()
        assert cells.loc[on, "region_id"].nunique() >= math.ceil(min_regions_reached * regions - 1e-9)
    if min_roi is not None:
        assert gain.sum() >= min_roi * cost.sum() - 1e-6
    return float(gain.sum()), float(cost.sum())


def spent_clock():
    # no time for a solver call: the plan is the model's own start (or none)
    return co.Solver(time_limit=100).start_clock().share(0.0)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_greedy_keeps_every_budget_row_and_never_beats_the_milp(seed):
    cells = level_cells(seed)
    rules = dict(total=240.0, min_roi=MIN_ROI[seed], **RULES)
    best = reference(cells, **rules)
    with pytest.warns(co.NotOptimalWarning):
        plan = co.BudgetAllocation(cells=cells, **rules).solve(solver=spent_clock())
    assert plan.status == "feasible" and "returning it" in plan.info.message
    gain, _ = check_rules(cells, plan.allocations, **rules)
    assert gain > 0.0  # not the zero plan (zero breaks region_min and breadth anyway)
    assert gain <= best + 1e-6
    assert plan.objective == pytest.approx(gain + sum(float(c(0.0)) for c in cells["curve"]), abs=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_greedy_reaches_the_target_and_never_costs_less_than_the_milp(seed):
    cells = level_cells(seed)
    rules = dict(target=150.0, region_max=110.0, channel_share={"ka": (0.2, 0.6)}, min_regions_reached=1.0)
    cheapest = reference(cells, **rules)
    with pytest.warns(co.NotOptimalWarning):
        plan = co.BudgetAllocation(cells=cells, target_response=rules["target"] + sum(
            float(c(0.0)) for c in cells["curve"]), **{k: v for k, v in rules.items() if k != "target"}).solve(
                solver=spent_clock())
    assert plan.status == "feasible"
    _, cost = check_rules(cells, plan.allocations, **rules)
    assert cost >= cheapest - 1e-6
    assert plan.objective == pytest.approx(cost, rel=1e-9)


def test_target_mode_on_pwl_curves_cuts_the_last_move_to_the_target():
    # Continuous (PWL) cells: the greedy's last move stops where the response reaches the target, so its
    # cost is within a hair of the least cost the model itself proves with time.
    rng = np.random.default_rng(5)
    cells = pd.DataFrame({"region_id": [f"r{i % 4}" for i in range(8)], "channel": "ka", "activity": "promotion",
                          "curve": [co.Hill(rng.uniform(50, 150), rng.uniform(5, 40), 0.7) for _ in range(8)],
                          "max_spend": 80.0})
    model = co.BudgetAllocation(cells=cells, target_response=200.0)
    with pytest.warns(co.NotOptimalWarning):
        plan = model.solve(solver=spent_clock())
    assert plan.status == "feasible"
    assert plan.metrics["pwl_response"] == pytest.approx(200.0, rel=1e-9)
    exact = model.solve(solver=co.Solver())
    assert exact.status == "optimal"
    # concave curves: the marginal-ROI greedy is optimal up to the cut
    assert plan.objective == pytest.approx(exact.objective, rel=1e-6)


def test_a_spent_clock_still_gets_a_whole_greedy_plan():
    # The china planner's budget stage at time_limit=20 got no time: its greedy stopped after 64 moves
    # and the plan earned 507 where the stage earns 7.7e6 with time. Concave curves: the marginal-ROI
    # greedy is optimal up to the PWL breakpoints, so the plan must match the solver's own optimum.
    rng = np.random.default_rng(11)
    n = 300
    cells = pd.DataFrame({"region_id": [f"r{i % 30}" for i in range(n)], "channel": "ka", "activity": "promotion",
                          "curve": [co.Hill(rng.uniform(50, 150), rng.uniform(5, 40), 0.8) for _ in range(n)],
                          "max_spend": 60.0})
    model = co.BudgetAllocation(cells=cells, total=3000.0)
    with pytest.warns(co.NotOptimalWarning):
        plan = model.solve(solver=spent_clock())
    assert plan.status == "feasible" and "returning it" in plan.info.message
    exact = model.solve(solver=co.Solver())
    assert exact.status == "optimal"
    assert plan.objective >= exact.objective * (1 - 1e-3)
    assert plan.allocations["spend"].sum() == pytest.approx(3000.0, rel=1e-6)
