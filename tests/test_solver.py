"""The one solve path: statuses read from the solver, quiet output, honest time limits."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pulp
import pytest

import channelopt as co
from channelopt import Solver
from channelopt._arrays import ArrayProblem
from channelopt.metrics import Metrics
from channelopt.models._base import Model
from channelopt.plan import Plan


def knapsack():
    prob = pulp.LpProblem("knap", pulp.LpMaximize)
    w = [3, 4, 5, 9, 4]
    v = [3, 4, 4, 10, 4]
    x = [prob.add_variable(f"x{i}", 0, 1, pulp.LpBinary) for i in range(5)]
    prob += pulp.lpSum(vi * xi for vi, xi in zip(v, x))
    prob += pulp.lpSum(wi * xi for wi, xi in zip(w, x)) <= 13
    return prob, x


@pytest.mark.parametrize("name", ["highs", "cbc"])
def test_optimal_status_objective_and_bound(name):
    prob, x = knapsack()
    info = Solver(name).solve(prob)
    assert info.status == "optimal"
    best = max(
        sum(v for v, b in zip([3, 4, 4, 10, 4], bits) if b)
        for bits in np.ndindex(*(2,) * 5)
        if sum(w for w, b in zip([3, 4, 5, 9, 4], bits) if b) <= 13
    )
    assert info.objective == best
    assert info.bound == pytest.approx(best)
    assert info.gap == 0.0
    assert sum(v.varValue for v in x) >= 1


@pytest.mark.parametrize("name", ["highs", "cbc"])
def test_infeasible_is_reported_not_garbage(name):
    prob = pulp.LpProblem("inf", pulp.LpMinimize)
    x = prob.add_variable("x", 0, 1, pulp.LpInteger)
    prob += x
    prob += x >= 2
    info = Solver(name).solve(prob)
    assert info.status == "infeasible"
    assert math.isnan(info.objective)
    assert x.varValue is None


def hard_mkp(n=150, rows=20, seed=1, ap=None):
    """A multi-dimensional knapsack: x = 0 is feasible at once, optimality takes long."""
    rng = np.random.default_rng(seed)
    ap = ArrayProblem("mkp", "max") if ap is None else ap
    x = ap.add_vars("x", n, upper=1, integer=True, cost=rng.integers(50, 100, n))
    for r in range(rows):
        ap.add_row(f"w{r}", x.index, rng.integers(20, 60, n), "<=", 1500)
    return ap, x


@pytest.mark.parametrize("name", ["highs", "cbc"])
def test_time_limited_maximisation_reports_a_real_bound_and_gap(name):
    ap, x = hard_mkp()
    info = Solver(name, time_limit=1.0).solve(ap)
    # PuLP itself would call a HiGHS time-limit stop "Optimal"; with -max CBC prints
    # "Upper bound:", which a "Lower bound:" parser misses (bound and gap NaN).
    assert info.status == "feasible"
    assert info.termination == "time_limit"
    assert math.isfinite(info.bound) and math.isfinite(info.gap)
    assert info.bound > info.objective  # an upper bound on a maximisation, not yet met
    assert info.gap == pytest.approx((info.bound - info.objective) / info.objective)
    assert info.objective == pytest.approx(float(ap.arrays().cost @ x.value))


def test_time_limited_plan_warns_and_keeps_incumbent():
    class Mkp(Model):
        kind = "mkp"
        sense = pulp.LpMaximize

        def __init__(self):
            pass

        def _build_arrays(self, net, ap):
            return {"x": hard_mkp(ap=ap)[1]}

        def _extract(self, net, state, info):
            frame = pd.DataFrame({"take": state["x"].value})
            return Plan(kind=self.kind, info=info, assignments=frame, metrics=Metrics())

    with pytest.warns(co.NotOptimalWarning, match="time_limit"):
        plan = Mkp().solve(None, Solver(time_limit=1.0))
    assert plan.status == "feasible"
    assert plan.assignments["take"].sum() >= 1
    assert math.isfinite(plan.gap) and plan.gap > 0
    assert plan.bound > plan.objective


def test_highs_banner_is_silenced(capfd):
    prob, _ = knapsack()
    Solver("highs").solve(prob)
    out, err = capfd.readouterr()
    assert "HiGHS" not in out and "HiGHS" not in err


def test_warm_start_is_accepted_and_result_same():
    prob, x = knapsack()
    cold = Solver().solve(prob).objective
    warm = Solver().solve(prob, warm_start={x[0]: 1, x[3]: 1}).objective
    assert cold == warm


def test_bad_settings():
    with pytest.raises(co.SettingsError, match="highs"):
        Solver("gurobi")
    with pytest.raises(co.SettingsError, match="time_limit"):
        Solver(time_limit=0)
    with pytest.raises(co.SettingsError, match="mip_gap"):
        Solver(mip_gap=1.5)


def test_user_can_add_a_constraint_before_solving():
    net = co.ChannelNetwork.from_cost_matrix([[1, 4], [3, 1], [5, 2]], fixed_cost=[2, 3])
    built = co.DistributorSelection(objective="min_cost").build(net)
    y0 = built.problem.variablesDict()["y_0"]  # array-built: PuLP variables on demand, named as the columns
    built.problem += y0 == 0  # the user's own rule: never sign d0
    plan = built.solve()
    assert plan.distributors.set_index("distributor_id").loc["d0", "open"] == False  # noqa: E712
    assert plan.objective == pytest.approx(3 + 4 + 1 + 2)


def test_model_infeasible_raises_with_reason():
    net = co.ChannelNetwork.from_cost_matrix([[1, 4], [3, 1]], demand=[5, 5], capacity=[4, 4])
    with pytest.raises(co.InfeasibleError, match="capacity"):
        co.DistributorSelection(capacitated=True).solve(net)


def test_lp_duals_in_model_units_despite_scaling():
    # Money-scale coefficients are scaled inside the solve path; shadow prices must come back unscaled.
    prob = pulp.LpProblem("lp", pulp.LpMaximize)
    x = prob.add_variable("x", 0, None)
    y = prob.add_variable("y", 0, None)
    prob += 3e6 * x + 2e6 * y
    cap = pulp.LpConstraint(1e7 * x + 1e7 * y, pulp.LpConstraintLE, "cap", 4e7)
    xmax = pulp.LpConstraint(pulp.LpAffineExpression({x: 1.0}), pulp.LpConstraintLE, "xmax", 3)
    prob.addConstraint(cap)
    prob.addConstraint(xmax)
    info = Solver().solve(prob)
    assert info.objective == pytest.approx(11e6)
    assert (x.varValue, y.varValue) == pytest.approx((3.0, 1.0))
    assert cap.pi == pytest.approx(0.2)  # one more unit of capacity earns 2e6 / 1e7
    assert xmax.pi == pytest.approx(1e6)
