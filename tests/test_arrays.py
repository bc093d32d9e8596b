"""The array layer: blocks in, one load into HiGHS or an MPS file for CBC, PuLP only on demand."""

from __future__ import annotations

import itertools

import highspy
import numpy as np
import pandas as pd
import pulp
import pytest
from scipy.optimize import LinearConstraint, milp

import channelopt as co
from channelopt._arrays import ArrayProblem
from channelopt._lpmatrix import to_arrays, write_mps
from channelopt.exceptions import BuildError
from channelopt.metrics import Metrics
from channelopt.models._base import Model
from channelopt.plan import Plan

COST = np.array([[1.0, 4.0, 6.0], [3.0, 1.0, 5.0], [5.0, 2.0, 1.0], [2.0, 6.0, 3.0], [4.0, 3.0, 2.0]])
FIXED = np.array([4.0, 3.0, 5.0])


class TinyLocation(Model):
    """Uncapacitated facility location on COST/FIXED, written on the array layer."""

    kind = "tiny_location"

    def __init__(self, *, fixed_scale: float = 1.0):
        self.fixed_scale = fixed_scale

    def _build_arrays(self, net, ap):
        n, m = COST.shape
        x = ap.add_vars("x", (n, m), upper=1.0, cost=COST)
        y = ap.add_vars("y", m, upper=1.0, integer=True, cost=FIXED * self.fixed_scale)
        i, j = np.divmod(np.arange(n * m), m)
        ap.add_rows("assign", rows=i, cols=x[i, j], sense="==", rhs=1.0)
        k = np.arange(n * m)
        ap.add_rows("link", rows=np.r_[k, k], cols=np.r_[x.index, y[j]],
                    coefs=np.r_[np.ones(n * m), -np.ones(n * m)], sense="<=", rhs=0.0)
        return {"x": x, "y": y}

    def _extract(self, net, state, info):
        y = state["y"].value
        frame = pd.DataFrame({"distributor": range(len(y)), "open": y > 0.5})
        return Plan(kind=self.kind, info=info, assignments=frame, metrics=Metrics())


def reference_optimum(forbid_open=()):
    """Brute force over the open sets: each outlet goes to its cheapest open distributor."""
    best = np.inf
    for bits in itertools.product([0, 1], repeat=len(FIXED)):
        open_ = np.array(bits, dtype=bool)
        if not open_.any() or any(open_[j] for j in forbid_open):
            continue
        best = min(best, FIXED[open_].sum() + COST[:, open_].min(axis=1).sum())
    return best


def test_array_model_matches_brute_force_and_builds_no_pulp():
    built = TinyLocation().build(None)
    plan = built.solve()
    assert plan.status == "optimal"
    assert plan.objective == pytest.approx(reference_optimum())
    # The values come back by column: x rows sum to one, y consistent with the objective.
    x, y = built.state["x"].value, built.state["y"].value
    assert x.sum(axis=1) == pytest.approx(np.ones(5))
    assert float((COST * x).sum() + FIXED @ y) == pytest.approx(plan.objective)
    assert plan.info.values.shape == (built.arrays.n_cols,)
    assert not built.has_problem  # nobody asked for PuLP: none was made


def test_materialised_problem_has_same_variables_rows_and_names():
    built = TinyLocation().build(None)
    prob = built.problem
    ap = built.arrays
    names = ap.col_names()
    assert names[:3] == ["x_0", "x_1", "x_2"] and names[-1] == "y_2"
    assert sorted(v.name for v in prob.variables()) == sorted(names)
    assert list(prob._constraints) == ap.row_names()
    assert list(prob._constraints)[:2] == ["assign_0", "assign_1"]
    # Same matrix: read the PuLP problem back and compare entry by entry, by name.
    back = to_arrays(prob)
    a = ap.arrays()
    perm = np.array([names.index(v.name) for v in back.variables])
    dense_back = np.zeros((len(back.row_lower), len(names)))
    for r in range(len(back.row_lower)):
        s, e = back.indptr[r], back.indptr[r + 1]
        dense_back[r, perm[back.indices[s:e]]] = back.data[s:e]
    dense = np.zeros_like(dense_back)
    for r in range(ap.n_rows):
        s, e = a.indptr[r], a.indptr[r + 1]
        dense[r, a.indices[s:e]] = a.data[s:e]
    assert np.array_equal(dense, dense_back)
    assert np.array_equal(back.cost, a.cost[perm])
    assert np.array_equal(back.integer, a.integer[perm])
    assert np.array_equal(back.row_lower, a.row_lower) and np.array_equal(back.row_upper, a.row_upper)


def test_user_constraint_and_extra_column_through_problem_are_honoured():
    built = TinyLocation().build(None)
    plain = built.solve()
    opened = plain.assignments.loc[plain.assignments["open"], "distributor"].tolist()
    # The user's rule: never open the distributor the optimum opens first, and pay a
    # penalty variable for opening distributor 0 (a column the model does not know).
    prob = built.problem
    y = {v.name: v for v in prob.variables() if v.name.startswith("y_")}
    pen = prob.add_variable("penalty", 0, None)
    prob += y[f"y_{opened[0]}"] == 0
    prob += pen >= 7 * y["y_0"]
    prob.objective += pen
    plan = built.solve()
    # Brute force with the user's rules: distributor opened[0] closed, opening 0 costs 7 more.
    best = np.inf
    for bits in itertools.product([0, 1], repeat=3):
        o = np.array(bits, dtype=bool)
        if not o.any() or o[opened[0]]:
            continue
        best = min(best, FIXED[o].sum() + COST[:, o].min(axis=1).sum() + 7 * o[0])
    assert plan.objective == pytest.approx(best)
    assert best > plain.objective
    assert not plan.assignments.set_index("distributor").loc[opened[0], "open"]
    assert built.state["y"].value[opened[0]] == 0
    assert pen.varValue == pytest.approx(7 * built.state["y"].value[0])
    assert len(plan.info.values) == built.arrays.n_cols  # original columns only, by position


def test_rows_added_to_arrays_after_materialising_are_honoured():
    # A lazy-cut strategy keeps adding rows to the arrays; a user's PuLP rows must stay too.
    built = TinyLocation().build(None)
    y = built.state["y"]
    built.problem += pulp.lpSum(v for v in built.problem.variables() if v.name == "y_1") == 0
    built.arrays.add_row("cut_close_2", y[[2]], [1.0], "==", 0.0)
    built.solve()
    assert built.state["y"].value[1] == 0 and built.state["y"].value[2] == 0
    assert built.state["y"].value[0] == 1
    assert "cut_close_2" in built.problem._constraints


def test_cbc_mps_path_equals_highs_path():
    a = TinyLocation().build(None).solve(co.Solver("highs"))
    b_built = TinyLocation().build(None)
    b = b_built.solve(co.Solver("cbc"))
    assert b.status == "optimal"
    assert b.objective == pytest.approx(a.objective)
    assert list(b.assignments["open"]) == list(a.assignments["open"])


def test_old_pulp_path_switch_gives_the_same_plan(monkeypatch):
    fast = TinyLocation().build(None)
    monkeypatch.setenv("CHANNELOPT_BUILD_PATH", "pulp")
    slow = TinyLocation().build(None)
    assert slow.has_problem and not fast.has_problem
    assert slow.solve().objective == pytest.approx(fast.solve().objective)


def test_write_mps_round_trips_through_highs_reader(tmp_path):
    # Bounds of every kind, ranged and free rows, integers in two runs.
    ap = ArrayProblem("mix", "max")
    x = ap.add_vars("x", 4, lower=[0, -2, -np.inf, 3], upper=[5, np.inf, np.inf, 3], integer=[1, 0, 0, 1],
                    cost=[1, 2, -1, 0.5])
    z = ap.add_vars("z", 2, lower=-1, upper=1, integer=True, cost=[0.25, -3])
    ap.add_rows("r", rows=[0, 0, 1, 1, 2, 3], cols=[x[0], x[1], x[1], z[0], x[2], z[1]],
                coefs=[1, 1, 2, -1, 1, 1], sense="<=", rhs=[7, 4, 10, 0.5])
    ap.add_row("eq", [x[0], z[1]], [1, 1], "==", 2)
    a = ap.arrays()
    a.row_lower[3] = -0.5  # make row 3 ranged: -0.5 <= z_1 <= 0.5
    path = tmp_path / "m.mps"
    write_mps(a, str(path))
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    assert h.readModel(str(path)) == highspy.HighsStatus.kOk
    lp = h.getLp()
    assert np.array_equal(np.array(lp.col_cost_), a.cost)
    inf = highspy.kHighsInf
    assert np.array_equal(np.array(lp.col_lower_), np.where(np.isinf(a.col_lower), -inf, a.col_lower))
    assert np.array_equal(np.array(lp.col_upper_), np.where(np.isinf(a.col_upper), inf, a.col_upper))
    assert [int(t) for t in lp.integrality_] == [1, 0, 0, 1, 1, 1]
    assert np.array_equal(np.array(lp.row_lower_), np.where(np.isinf(a.row_lower), -inf, a.row_lower))
    assert np.array_equal(np.array(lp.row_upper_), np.where(np.isinf(a.row_upper), inf, a.row_upper))
    # The reader's matrix is columnwise: compare densely.
    mat = lp.a_matrix_
    dense = np.zeros((len(a.row_lower), len(a.cost)))
    for j in range(len(a.cost)):
        for k in range(mat.start_[j], mat.start_[j + 1]):
            dense[mat.index_[k], j] = mat.value_[k]
    ref = np.zeros_like(dense)
    for r in range(len(a.row_lower)):
        ref[r, a.indices[a.indptr[r]:a.indptr[r + 1]]] = a.data[a.indptr[r]:a.indptr[r + 1]]
    assert np.array_equal(dense, ref)


@pytest.mark.parametrize("name", ["highs", "cbc"])
def test_array_problem_solves_like_scipy_milp(name):
    rng = np.random.default_rng(3)
    n = 8
    ap = ArrayProblem("rand", "max")
    w = rng.integers(1, 9, n).astype(float)
    v = rng.integers(1, 9, n).astype(float)
    x = ap.add_vars("x", n, upper=2, integer=True, cost=v)
    t = ap.add_vars("t", 1, lower=-np.inf, upper=np.inf, cost=-0.5)
    ap.add_row("weight", x.index, w, "<=", 17)
    ap.add_rows("t_ge", rows=[0, 0], cols=[t[0], x[0]], coefs=[1, -1], sense=">=", rhs=-1.5)
    ap.offset = 2.0
    info = co.Solver(name).solve(ap)
    A = np.zeros((2, n + 1))
    A[0, :n] = w
    A[1, n], A[1, 0] = 1, -1
    ref = milp(-np.r_[v, -0.5], constraints=LinearConstraint(A, [-np.inf, -1.5], [17, np.inf]),
               integrality=np.r_[np.ones(n), 0], bounds=(np.r_[np.zeros(n), -np.inf], np.r_[2 * np.ones(n), np.inf]))
    assert info.status == "optimal"
    assert info.objective == pytest.approx(-ref.fun + 2.0)
    assert float(v @ x.value - 0.5 * t.value[0] + 2.0) == pytest.approx(info.objective)


def test_warm_start_by_block_is_accepted():
    built = TinyLocation().build(None)
    y = built.state["y"]
    info = co.Solver().solve(built.arrays, warm_start={y: [1.0, np.nan, 1.0]})
    assert info.objective == pytest.approx(reference_optimum())


def test_bad_blocks_are_named():
    ap = ArrayProblem("bad")
    x = ap.add_vars("x", 3)
    with pytest.raises(BuildError, match="'x' is empty or already used"):
        ap.add_vars("x", 2)
    with pytest.raises(BuildError, match=r"column numbers must lie in \[0, 3\)"):
        ap.add_rows("r", rows=[0], cols=[5], sense="<=", rhs=1)
    with pytest.raises(BuildError, match="sense must be one of"):
        ap.add_rows("r2", rows=[0], cols=x[[0]], sense="<", rhs=1)
    with pytest.raises(BuildError, match="x2_1: lower bound 2.0 above upper bound 1.0"):
        ap.add_vars("x2", 2, lower=[0, 2], upper=1)
    assert issubclass(BuildError, co.ChannelOptError)
