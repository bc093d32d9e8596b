"""BudgetAllocation against scipy SLSQP, brute force, its constraints and its errors."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize

import channelopt as co
from channelopt import BudgetAllocation, ChannelOptError, Hill, InfeasibleError, SettingsError, Solver
from channelopt.datasets import make_synthetic


def random_cells(n, seed, *, n_max=1.0, regions=4, fixed=False):
    rng = np.random.default_rng(seed)
    cells = pd.DataFrame({
        "region_id": [f"r{i % regions}" for i in range(n)],
        "channel": rng.choice(["ka", "trad", "pharmacy"], n),
        "activity": rng.choice(["promotion", "display"], n),
        "curve": [Hill(rng.uniform(50, 150), rng.uniform(5, 40), rng.uniform(0.4, n_max)) for _ in range(n)],
        "max_spend": rng.uniform(30, 80, n),
    })
    if fixed:
        cells["fixed_cost"] = rng.uniform(2, 10, n)
    return cells


def slsqp_best(curves, lo, hi, total, starts, seed=0, fixed=None):
    """Best of SLSQP runs from random starts (maximise sum of curves, spend within the budget)."""
    rng = np.random.default_rng(seed)
    n = len(curves)
    fixed_total = 0.0 if fixed is None else float(np.sum(fixed))

    def neg(s):
        return -sum(float(c(x)) for c, x in zip(curves, s))

    def grad(s):
        return -np.array([float(c.derivative(max(x, 1e-12))) for c, x in zip(curves, s)])

    cons = [{"type": "ineq", "fun": lambda s: total - fixed_total - s.sum(), "jac": lambda s: -np.ones(n)}]
    best, best_x = -math.inf, None
    for _ in range(starts):
        x0 = lo + rng.dirichlet(np.ones(n)) * (hi - lo)
        r = minimize(neg, x0, jac=grad, method="SLSQP", bounds=list(zip(lo, hi)), constraints=cons,
                     options={"maxiter": 500, "ftol": 1e-12})
        x = np.clip(r.x, lo, hi)
        if x.sum() <= total - fixed_total + 1e-6 and -neg(x) > best:
            best, best_x = -neg(x), x
    return best, best_x


# ------------------------------------------------------------------ proof: concave instances
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_concave_allocation_matches_multistart_slsqp_within_0_1_percent(seed):
    cells = random_cells(12, seed)
    total = 0.4 * cells["max_spend"].sum()
    plan = BudgetAllocation(total=total, cells=cells).solve(solver=Solver("highs"))
    ours = plan.allocations["response"].sum()
    hi = cells["max_spend"].to_numpy()
    theirs, _ = slsqp_best(cells["curve"].tolist(), np.zeros(12), hi, total, starts=20, seed=seed)
    assert ours >= theirs * (1 - 1e-3)
    # and the certificate holds: no plan beats the reported upper bound
    assert theirs <= plan.metrics["response_upper_bound"] + 1e-6
    assert plan.info.n_integer == 0          # concave curves need no binaries
    assert plan.metrics["spend"] <= total + 1e-6


def test_reference_interface_keeps_row_order_and_reports_true_response():
    cells = random_cells(9, 5).sample(frac=1.0, random_state=1)   # shuffled, non-default index
    before = cells.copy()
    plan = BudgetAllocation(total=150.0, cells=cells).solve(solver=Solver("highs"))
    alloc = plan.allocations
    assert alloc.index.equals(cells.index)
    assert alloc["region_id"].tolist() == cells["region_id"].tolist()
    truth = [float(c(s)) for c, s in zip(cells["curve"], alloc["spend"])]
    np.testing.assert_allclose(alloc["response"], truth)
    assert plan.assignments is alloc or plan.assignments.equals(alloc)
    pd.testing.assert_frame_equal(cells, before)   # inputs untouched
    by_region = plan.by_region.set_index("region_id")
    np.testing.assert_allclose(by_region["spend"].sum(), alloc["spend"].sum())
    assert plan.metrics["marginal_roi_method"] == "finite_difference"
    assert plan.metrics["pwl_max_cell_error"] <= alloc["pwl_max_error"].max() + 1e-9


def test_marginal_roi_is_the_rate_at_which_response_grows_with_the_budget():
    cells = random_cells(10, 7)
    total = 200.0
    model = BudgetAllocation(total=total, cells=cells, pwl_tol=1e-4)
    plan = model.solve()
    more = model.clone(total=total * 1.02).solve()
    rate = (more.metrics["response"] - plan.metrics["response"]) / (0.02 * total)
    assert plan.metrics["marginal_roi"] == pytest.approx(rate, rel=0.05)
    assert plan.metrics["marginal_roi_curves"] == pytest.approx(rate, rel=0.05)


# ------------------------------------------------------------------ proof: activation costs and S-curves
def brute_force(cells, total):
    """Every on/off pattern, each solved by multistart SLSQP: the best true response."""
    curves = cells["curve"].tolist()
    hi = cells["max_spend"].to_numpy(dtype=float)
    lo_all = cells.get("min_spend", pd.Series(0.0, index=cells.index)).to_numpy(dtype=float)
    fixed = cells.get("fixed_cost", pd.Series(0.0, index=cells.index)).to_numpy(dtype=float)
    best = 0.0
    for pattern in itertools.product([0, 1], repeat=len(cells)):
        on = np.flatnonzero(pattern)
        if not len(on):
            continue
        if fixed[on].sum() + lo_all[on].sum() > total:
            continue
        val, _ = slsqp_best([curves[i] for i in on], lo_all[on], hi[on], total - fixed[on].sum(), starts=12,
                            seed=len(on))
        best = max(best, val)
    return best


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_activation_costs_and_s_curves_match_brute_force_within_the_stated_error(seed):
    rng = np.random.default_rng(seed)
    cells = random_cells(4, seed, n_max=3.0, fixed=True)
    cells["min_spend"] = rng.uniform(0, 15, 4)
    total = 0.45 * cells["max_spend"].sum()
    plan = BudgetAllocation(total=total, cells=cells).solve(solver=Solver("highs"))
    ours = plan.allocations["response"].sum()
    best = brute_force(cells, total)
    assert ours >= best - plan.metrics["pwl_error_bound"] - 1e-6
    assert best <= plan.metrics["response_upper_bound"] + 1e-6
    a = plan.allocations
    on = a["spend"] > 0
    assert (a.loc[on, "spend"] >= a.loc[on, "min_spend"] - 1e-6).all()
    assert (a["spend"] + a["fixed_cost"] * on).sum() <= total + 1e-6
    np.testing.assert_allclose(a["fixed_paid"], a["fixed_cost"] * on)


def test_s_curve_segments_fill_in_order():
    # One S-curve beside a concave one: an LP without binaries would skip the flat start.
    cells = pd.DataFrame({"region_id": ["a", "b"], "curve": [Hill(100.0, 30.0, 4.0), Hill(40.0, 50.0, 1.0)],
                          "max_spend": [90.0, 90.0]})
    plan = BudgetAllocation(total=60.0, cells=cells).solve()
    a = plan.allocations
    # the solver's objective is the PWL at the chosen spends only when segments filled in order
    assert plan.objective == pytest.approx(a["pwl_response"].sum(), abs=1e-6)
    assert plan.info.n_integer > 0
    best = brute_force(cells, 60.0)
    assert a["response"].sum() >= best - plan.metrics["pwl_error_bound"]


def test_slsqp_from_an_equal_split_misses_the_s_curve_optimum():
    # The first wall: SLSQP started at the equal split stays on the flat start of every S-curve.
    cells = pd.DataFrame({"region_id": list("abcd"), "curve": [Hill(100.0, 40.0, 4.0)] * 4,
                          "max_spend": [100.0] * 4})
    plan = BudgetAllocation(total=80.0, cells=cells).solve()
    curves = cells["curve"].tolist()
    r = minimize(lambda s: -sum(float(c(x)) for c, x in zip(curves, s)), np.full(4, 20.0), method="SLSQP",
                 bounds=[(0, 100)] * 4, constraints=[{"type": "ineq", "fun": lambda s: 80.0 - s.sum()}])
    assert plan.metrics["response"] > 1.5 * -r.fun
    assert (plan.allocations["spend"] > 0).sum() < 4   # concentrate, do not spread


# ------------------------------------------------------------------ constraints
def test_bounds_shares_levels_and_forced_cells_hold():
    cells = random_cells(12, 21, fixed=True)
    cells["levels"] = [None] * 11 + [[10.0, 25.0, 40.0]]
    cells["active"] = [True] + [None] * 10 + [None]
    cells.loc[1, "active"] = False
    model = BudgetAllocation(total=300.0, cells=cells, region_min={"r0": 60.0}, region_max=120.0,
                             channel_max={"ka": 90.0}, channel_share={"trad": (0.3, 0.5)})
    plan = model.solve(solver=Solver("highs"))
    a = plan.allocations
    reg = a.groupby("region_id")["spend"].sum()
    assert reg["r0"] >= 60 - 1e-6 and (reg <= 120 + 1e-6).all()
    ch = a.groupby("channel")["spend"].sum()
    assert ch.get("ka", 0.0) <= 90 + 1e-6
    share = ch.get("trad", 0.0) / a["spend"].sum()
    assert 0.3 - 1e-6 <= share <= 0.5 + 1e-6
    assert a.loc[0, "spend"] > 0 and a.loc[1, "spend"] == 0
    assert a.loc[11, "spend"] in (0.0, 10.0, 25.0, 40.0)
    assert a.loc[11, "pwl_error"] == pytest.approx(0.0, abs=1e-9)   # levels use the exact curve
    cbc = model.solve(solver=Solver("cbc"))
    assert cbc.metrics["pwl_response"] == pytest.approx(plan.metrics["pwl_response"], rel=1e-6)


def test_breadth_target_spreads_support_over_regions():
    cells = random_cells(16, 31, regions=8)
    # make two regions far more attractive so the unconstrained plan skips others
    cells.loc[cells["region_id"].isin(["r0", "r1"]), "curve"] = Hill(1000.0, 20.0, 1.0)
    free = BudgetAllocation(total=60.0, cells=cells).solve()
    assert free.metrics["regions_reached"] < 8
    plan = BudgetAllocation(total=60.0, cells=cells, min_regions_reached=0.8, reach_spend=1.0).solve()
    reached = plan.allocations.loc[plan.allocations["spend"] > 0, "region_id"].nunique()
    assert reached >= math.ceil(0.8 * 8) and plan.metrics["regions_reached"] == reached
    assert (plan.allocations.loc[plan.allocations["spend"] > 0, "spend"] >= 1.0 - 1e-6).all()
    assert plan.metrics["response"] <= free.metrics["response"] + 1e-6


def test_a_cell_switched_off_within_the_integrality_tolerance_spends_nothing():
    # HiGHS accepts z = 1e-6 as integral 0, and spend <= hi * z then lets the cell carry a sliver of spend:
    # the plan must show the switch's verdict (0), not the sliver (seen once as 3.4e-5 under reach_spend 1)
    cells = random_cells(16, 31, regions=8)
    cells.loc[cells["region_id"].isin(["r0", "r1"]), "curve"] = Hill(1000.0, 20.0, 1.0)
    model = BudgetAllocation(total=60.0, cells=cells, min_regions_reached=0.8, reach_spend=1.0)
    built = model.build(None)
    plan = built.solve()
    state = built.state
    sol = state["d"].problem.solution
    z_cells = np.asarray(state["z_cells"])
    off = z_cells[np.round(state["z"].value.reshape(-1)) == 0]
    assert len(off), "the instance needs a cell switched off"
    cell = int(off[0])
    first_seg = int(np.flatnonzero(np.asarray(state["seg_cell"]) == cell)[0])
    sliver = sol.copy()
    sliver[state["z"].index.reshape(-1)[np.flatnonzero(z_cells == cell)[0]]] = 1e-6
    sliver[state["d"].index.reshape(-1)[first_seg]] = 3.4e-5
    state["d"].problem.solution = sliver
    again = model._extract(None, state, plan.info)
    assert again.allocations["spend"].iloc[cell] == 0.0
    assert (again.allocations.loc[again.allocations["spend"] > 0, "spend"] >= 1.0 - 1e-6).all()


def test_target_mode_finds_the_least_spend_reaching_the_response():
    cells = random_cells(8, 41)
    target = 250.0
    plan = BudgetAllocation(cells=cells, target_response=target, pwl_tol=1e-4).solve()
    assert plan.metrics["pwl_response"] >= target - 1e-6
    spent = plan.metrics["total_cost"]
    # spending that amount with the budget model reaches the target, and a little less does not
    at = BudgetAllocation(total=spent, cells=cells, pwl_tol=1e-4).solve()
    below = BudgetAllocation(total=0.98 * spent, cells=cells, pwl_tol=1e-4).solve()
    assert at.metrics["pwl_response"] >= target - 1e-4
    assert below.metrics["pwl_response"] < target
    assert plan.metrics["marginal_roi"] > 0


def test_min_roi_caps_spend_where_returns_fall():
    cells = random_cells(8, 43)
    free = BudgetAllocation(total=400.0, cells=cells).solve()
    plan = BudgetAllocation(total=400.0, cells=cells, min_roi=free.metrics["roi"] * 1.3).solve()
    assert plan.metrics["roi"] >= free.metrics["roi"] * 1.3 - 1e-3
    assert plan.metrics["spend"] < free.metrics["spend"]


# ------------------------------------------------------------------ network link
def test_cells_from_network_and_coverage_metrics():
    net = make_synthetic(8, 120, 3, seed=4)
    curves = {"promotion": Hill(10.0, 5.0), "visits": Hill(6.0, 3.0, 0.7)}
    cells = co.cells_from_network(net, curves)
    pairs = net.outlets.groupby(["region_id", "channel"]).size()
    assert len(cells) == 2 * len(pairs)
    big = cells["potential"].idxmax()
    ratio = cells.loc[big, "potential"] / cells.groupby(["region_id", "channel"])["potential"].first().mean()
    assert cells.loc[big, "curve"].vmax == pytest.approx(curves[cells.loc[big, "activity"]].vmax * ratio)
    plan = BudgetAllocation(total=20.0, cells=cells, min_outlets_reached=0.7).solve(net)
    spent = plan.allocations.groupby(["region_id", "channel"])["spend"].sum()
    covered_pairs = set(spent[spent > 0].index)
    expect = sum(int(n) for key, n in pairs.items() if key in covered_pairs)
    assert plan.metrics["covered_outlets"] == expect
    assert plan.metrics["numeric_distribution"] >= 0.7 - 1e-9
    assert "spend" in plan.metrics.by_region.columns


def test_plan_exports(tmp_path):
    cells = random_cells(5, 2)
    plan = BudgetAllocation(total=80.0, cells=cells).solve()
    plan.to_parquet(tmp_path / "a.parquet")
    back = pd.read_parquet(tmp_path / "a.parquet")
    np.testing.assert_allclose(back["spend"], plan.allocations["spend"])
    assert '"marginal_roi_method": "finite_difference"' in plan.to_json()


# ------------------------------------------------------------------ errors
def test_budget_below_mandatory_minimums_gives_both_numbers():
    cells = random_cells(6, 51)
    with pytest.raises(InfeasibleError) as err:
        BudgetAllocation(total=50.0, cells=cells, region_min={"r0": 40.0, "r1": 30.0}).solve()
    msg = str(err.value)
    assert "50" in msg and "70" in msg


def test_breadth_the_budget_cannot_reach_gives_both_numbers():
    cells = random_cells(10, 52, regions=10)
    cells["fixed_cost"] = 10.0
    with pytest.raises(ChannelOptError) as err:
        BudgetAllocation(total=45.0, cells=cells, min_regions_reached=0.8).solve()
    msg = str(err.value)
    assert "45" in msg and "80" in msg        # 8 regions x activation 10 (+ reach spend)


def test_infeasibility_found_by_the_solver_reports_the_required_budget():
    # Each cheap check passes; only together do the channel share and breadth exceed the budget.
    cells = pd.DataFrame({"region_id": ["a", "a", "b", "c"], "channel": ["ka", "trad", "ka", "ka"],
                          "curve": [Hill(10.0, 5.0)] * 4, "fixed_cost": [0.0, 0.0, 6.0, 6.0],
                          "min_spend": [0.0, 0.0, 4.0, 4.0], "max_spend": [50.0] * 4})
    with pytest.raises(InfeasibleError) as err:
        BudgetAllocation(total=25.0, cells=cells, min_regions_reached=1.0,
                         channel_share={"trad": (0.5, None)}).solve()
    msg = str(err.value)
    assert "25" in msg and "required" in msg
    need = float(msg.split("below the ")[1].split(" required")[0].replace(",", ""))
    # b and c on (6 + 4 each), and trad must match the 8 spent on ka: 28
    assert need == pytest.approx(28.0, rel=1e-6)


def test_unreachable_target_response_says_how_far_off():
    cells = random_cells(4, 53)
    with pytest.raises(InfeasibleError, match="target_response 1e\\+06 is above"):
        BudgetAllocation(total=100.0, cells=cells, target_response=1e6).solve()


@pytest.mark.parametrize("kwargs, match", [
    ({}, "needs total"),
    ({"total": -5}, "total must be a positive"),
    ({"total": 10, "min_regions_reached": 1.5}, "share in"),
    ({"total": 10, "region_max": {"nowhere": 3}}, "nowhere"),
    ({"total": 10, "channel_share": {"ka": (0.8, 0.2)}}, "channel_share"),
    ({"total": 10, "pwl_tol": 0}, "pwl_tol"),
])
def test_bad_settings_raise_settings_errors(kwargs, match):
    cells = random_cells(3, 0)
    with pytest.raises(SettingsError, match=match):
        BudgetAllocation(cells=cells, **kwargs).solve()


def test_bad_cells_raise_validation_errors():
    cells = random_cells(3, 0)
    with pytest.raises(co.ValidationError, match="min_spend above max_spend"):
        BudgetAllocation(total=10, cells=cells.assign(min_spend=[0, 100, 0])).solve()
    with pytest.raises(co.ValidationError, match="curve"):
        BudgetAllocation(total=10, cells=cells.drop(columns="curve")).solve()
    with pytest.raises(co.ValidationError, match="response curve"):
        BudgetAllocation(total=10, cells=cells.assign(curve="hill")).solve()
    with pytest.raises(SettingsError, match="no max_spend"):
        BudgetAllocation(cells=cells.drop(columns="max_spend"), target_response=5.0).solve()


def greedy_by_steps(curves, hi, total, *, fixed=None, lo=None, steps=200, look=40):
    """An independent greedy on the true curves: repeatedly buy the chunk of ``k`` steps (k <= look) with the
    best response per unit of cost; switching a cell on pays its fixed cost and at least its minimum spend."""
    n = len(curves)
    fixed = np.zeros(n) if fixed is None else np.asarray(fixed, float)
    lo = np.zeros(n) if lo is None else np.asarray(lo, float)
    step = total / steps
    s, left = np.zeros(n), float(total)
    while left > 1e-9:
        best = (0.0, None, 0.0, 0.0)
        for i, c in enumerate(curves):
            for k in range(1, look + 1):
                amt = k * step if s[i] > 0 else max(k * step, lo[i])
                amt = min(amt, hi[i] - s[i])
                cost = amt + (fixed[i] if s[i] == 0 else 0.0)
                if amt <= 1e-12 or cost > left + 1e-12 or (s[i] == 0 and amt < lo[i]):
                    break
                r = (float(c(s[i] + amt)) - float(c(s[i]))) / cost
                if r > best[0]:
                    best = (r, i, amt, cost)
        if best[1] is None:
            break
        s[best[1]] += best[2]
        left -= best[3]
    return s, float(sum(float(c(x)) for c, x in zip(curves, s)))


@pytest.mark.parametrize("activation", [False, True])
def test_time_limited_s_curve_plan_is_never_worse_than_a_greedy(activation):
    # Issue 10 items 7/8: the first incumbent of a time-limited budget model was zero spend. The solver is
    # stopped at the root with its own heuristics off, so the plan is the model's start: it must reach at
    # least what a plain greedy written here reaches on the true curves (zero spend earns 0 here).
    net = co.make_synthetic(8, 96, 5, seed=1)
    cells = co.cells_from_network(net, {"promotion": co.Hill(60, 30, 2.5), "display": co.Hill(30, 15, 2.0)})
    total = 400.0
    if activation:
        rng = np.random.default_rng(3)
        cells = cells.assign(fixed_cost=rng.uniform(2, 8, len(cells)), min_spend=rng.uniform(5, 15, len(cells)),
                             max_spend=rng.uniform(40, 80, len(cells)))
    model = co.BudgetAllocation(total=total, cells=cells)
    solver = co.Solver(options={"mip_max_nodes": 0, "mip_heuristic_effort": 0.0})
    with pytest.warns(co.NotOptimalWarning):
        plan = model.solve(net, solver)
    assert plan.status == "feasible"
    alloc = plan.allocations
    hi = cells["max_spend"].to_numpy() if activation else np.full(len(cells), total)
    fixed = cells["fixed_cost"].to_numpy() if activation else None
    lo = cells["min_spend"].to_numpy() if activation else None
    _, greedy = greedy_by_steps(list(cells["curve"]), hi, total, fixed=fixed, lo=lo)
    assert greedy > 10.0
    # The plan's own rules, from its table: budget, caps, minimum spend of active cells.
    spend = alloc["spend"].to_numpy()
    paid = np.where(spend > 0, 0.0 if fixed is None else fixed, 0.0)
    assert (spend + paid).sum() <= total + 1e-6
    assert (spend <= hi + 1e-9).all()
    if activation:
        assert (spend[spend > 0] >= lo[spend > 0] - 1e-9).all()
    assert float(alloc["response"].sum()) >= greedy
    assert plan.objective == pytest.approx(float(alloc["pwl_response"].sum()), abs=1e-6)


def test_s_curves_stopped_before_any_solver_plan_still_return_a_plan():
    # Issue 10 item 8: S-curves on 5,157 cells hit the 60 s limit with "no solution", though spending
    # nothing is feasible. Here the solver is stopped at the root with heuristics off, so it finds
    # no plan of its own (measured: NoSolutionError before the fix); the plan must still come back.
    net = co.make_synthetic(8, 96, 5, seed=1)
    model = co.BudgetAllocation.from_network(net, {"promotion": co.Hill(60, 30, 2.5), "display": co.Hill(30, 15, 2.0)},
                                             total=400.0)
    solver = co.Solver(options={"mip_max_nodes": 0, "mip_heuristic_effort": 0.0})
    with pytest.warns(co.NotOptimalWarning):
        plan = model.solve(net, solver)
    assert plan.status == "feasible"
    alloc = plan.allocations
    assert len(alloc) == len(model.build(net).state["cells"].curves)
    assert (alloc["spend"] >= 0).all() and alloc["spend"].sum() <= 400.0 + 1e-6
    assert plan.objective == pytest.approx(float(alloc["pwl_response"].sum()), abs=1e-6)


def test_array_build_makes_no_pulp_object_until_asked_and_honours_rows_added_to_it():
    cells = random_cells(6, 11)
    model = BudgetAllocation(total=120.0, cells=cells, marginal_roi=False)
    built = model.build()
    plan = built.solve(Solver("highs"))
    assert not built.has_problem
    free = plan.allocations["spend"].to_numpy()
    top = int(np.argmax(free))
    assert free[top] > 10.0
    built = model.build()
    spend_var = {v.name: v for v in built.problem.variables()}[f"s_{top}"]
    built.problem += spend_var <= 5.0
    capped = built.solve(Solver("highs")).allocations["spend"].to_numpy()
    assert capped[top] <= 5.0 + 1e-6
    assert capped.sum() == pytest.approx(120.0, abs=1e-6)   # the budget still binds: Hill curves keep rising
