"""PartnerEvaluation (DEA) against independent LPs written here with scipy, textbook examples and properties."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

import channelopt as co
from channelopt.exceptions import SettingsError, ValidationError
from channelopt.partners._envelopment import solve_envelopment

MODELS = [(rts, orient) for rts in ("crs", "vrs") for orient in ("input", "output")]


# ---------------------------------------------------------------- independent reference LPs
def multiplier_score(X, Y, o, rts, orient, P=None, Q=None):
    """The multiplier (ratio) form of DEA, the LP dual of the envelopment form the library solves.

    Input: ``max u.y_o (- u0)`` s.t. ``v.x_o = 1``, ``u.y_j - v.x_j (- u0) <= 0``.
    Output: ``min v.x_o (+ v0)`` s.t. ``u.y_o = 1``, ``v.x_j - u.y_j (+ v0) >= 0``.
    ``P v <= 0`` and ``Q u <= 0`` are assurance-region rows in the data's own units.
    Returns theta (input) or phi (output).
    """
    n, m = X.shape
    s = Y.shape[1]
    vrs = rts == "vrs"
    nv = s + m + (1 if vrs else 0)          # variables: u (s), v (m), free scale term
    A_ub, b_ub = [], []
    for j in range(n):
        row = np.concatenate([Y[j], -X[j], [-1.0] if vrs else []])
        A_ub.append(row)
        b_ub.append(0.0)
    for prow in (P if P is not None else []):
        A_ub.append(np.concatenate([np.zeros(s), prow, [0.0] if vrs else []]))
        b_ub.append(0.0)
    for qrow in (Q if Q is not None else []):
        A_ub.append(np.concatenate([qrow, np.zeros(m), [0.0] if vrs else []]))
        b_ub.append(0.0)
    bounds = [(0, None)] * (s + m) + ([(None, None)] if vrs else [])
    if orient == "input":
        c = -np.concatenate([Y[o], np.zeros(m), [-1.0] if vrs else []])
        A_eq = [np.concatenate([np.zeros(s), X[o], [0.0] if vrs else []])]
    else:
        c = np.concatenate([np.zeros(s), X[o], [1.0] if vrs else []])
        A_eq = [np.concatenate([Y[o], np.zeros(m), [0.0] if vrs else []])]
    res = linprog(c, A_ub=np.array(A_ub), b_ub=b_ub, A_eq=np.array(A_eq), b_eq=[1.0], bounds=bounds,
                  method="highs")
    assert res.status == 0, res.message
    assert nv == len(c)
    return -res.fun if orient == "input" else res.fun


def envelopment_super(X, Y, o, rts, orient):
    """Envelopment LP of partner ``o`` without ``o`` among the peers; None when infeasible."""
    n, m = X.shape
    s = Y.shape[1]
    others = [j for j in range(n) if j != o]
    k = len(others)
    # variables: score, lambda (k)
    c = np.zeros(k + 1)
    A_ub, b_ub = [], []
    if orient == "input":
        c[0] = 1.0
        for i in range(m):
            A_ub.append(np.concatenate([[-X[o, i]], X[others, i]]))
            b_ub.append(0.0)
        for r in range(s):
            A_ub.append(np.concatenate([[0.0], -Y[others, r]]))
            b_ub.append(-Y[o, r])
    else:
        c[0] = -1.0
        for i in range(m):
            A_ub.append(np.concatenate([[0.0], X[others, i]]))
            b_ub.append(X[o, i])
        for r in range(s):
            A_ub.append(np.concatenate([[Y[o, r]], -Y[others, r]]))
            b_ub.append(0.0)
    A_eq = [np.concatenate([[0.0], np.ones(k)])] if rts == "vrs" else None
    res = linprog(c, A_ub=np.array(A_ub), b_ub=b_ub, A_eq=A_eq, b_eq=[1.0] if A_eq else None,
                  bounds=[(0, None)] * (k + 1), method="highs")
    if res.status == 2:
        return None
    assert res.status == 0, res.message
    return res.x[0]


def max_slack_sum(X, Y, o, rts, orient, score):
    """Phase two by linprog: max sum of slacks (each in units of its column mean) at the given score."""
    n, m = X.shape
    s = Y.shape[1]
    cx, cy = X.mean(axis=0), Y.mean(axis=0)
    # variables: lambda (n), s_minus (m), s_plus (s)
    c = np.concatenate([np.zeros(n), -1.0 / cx, -1.0 / cy])
    A_eq, b_eq = [], []
    rhs_x = score * X[o] if orient == "input" else X[o]
    rhs_y = Y[o] if orient == "input" else score * Y[o]
    for i in range(m):
        A_eq.append(np.concatenate([X[:, i], np.eye(m)[i], np.zeros(s)]))
        b_eq.append(rhs_x[i])
    for r in range(s):
        A_eq.append(np.concatenate([Y[:, r], np.zeros(m), -np.eye(s)[r]]))
        b_eq.append(rhs_y[r])
    if rts == "vrs":
        A_eq.append(np.concatenate([np.ones(n), np.zeros(m + s)]))
        b_eq.append(1.0)
    res = linprog(c, A_eq=np.array(A_eq), b_eq=b_eq, bounds=[(0, None)] * (n + m + s), method="highs")
    assert res.status == 0, res.message
    return -res.fun


def frame(X, Y):
    df = pd.DataFrame(np.column_stack([X, Y]), columns=[f"x{i}" for i in range(X.shape[1])]
                      + [f"y{r}" for r in range(Y.shape[1])])
    df.index = [f"p{j}" for j in range(len(df))]
    return df


def evaluate(X, Y, rts, orient, **kw):
    df = frame(X, Y)
    model = co.PartnerEvaluation(inputs=[f"x{i}" for i in range(X.shape[1])],
                                 outputs=[f"y{r}" for r in range(Y.shape[1])],
                                 returns_to_scale=rts, orientation=orient, **kw)
    return model.evaluate(df)


def random_data(seed, n=40, m=3, s=2):
    rng = np.random.default_rng(seed)
    X = rng.uniform(1, 20, size=(n, m)).round(1)
    Y = (X.mean(axis=1, keepdims=True) ** 0.8) * rng.uniform(0.2, 1.0, size=(n, s))
    return X, Y.round(2)


# ---------------------------------------------------------------- against the independent LPs
@pytest.mark.parametrize("rts,orient", MODELS)
@pytest.mark.parametrize("seed", [0, 1])
def test_scores_match_the_multiplier_form(rts, orient, seed):
    X, Y = random_data(seed)
    ev = evaluate(X, Y, rts, orient)
    ref = np.array([multiplier_score(X, Y, o, rts, orient) for o in range(len(X))])
    if orient == "input":
        np.testing.assert_allclose(ev["efficiency"].to_numpy(), ref, rtol=1e-6, atol=1e-7)
    else:
        np.testing.assert_allclose(ev["expansion"].to_numpy(), ref, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(ev["efficiency"].to_numpy(), 1 / ref, rtol=1e-6, atol=1e-7)
    assert (ev["status"] == "optimal").all()


@pytest.mark.parametrize("rts,orient", MODELS)
def test_slack_phase_matches_linprog_and_targets_are_peer_combinations(rts, orient):
    # Small integers: many ties, so many partners sit on weakly efficient faces and carry slacks.
    rng = np.random.default_rng(2)
    X = rng.integers(1, 5, (30, 3)).astype(float)
    Y = rng.integers(1, 5, (30, 2)).astype(float)
    ev = evaluate(X, Y, rts, orient)
    cx, cy = X.mean(axis=0), Y.mean(axis=0)
    score = ev["efficiency"].to_numpy() if orient == "input" else ev["expansion"].to_numpy()
    ids = list(ev.index)
    for o in range(len(X)):
        ref = max_slack_sum(X, Y, o, rts, orient, score[o])
        got = sum(ev[f"slack_x{i}"].iloc[o] / cx[i] for i in range(X.shape[1])) + \
            sum(ev[f"slack_y{r}"].iloc[o] / cy[r] for r in range(Y.shape[1]))
        assert got == pytest.approx(ref, rel=1e-6, abs=1e-6)
        # Targets are what the peers, weighted by lambda, use and make.
        peers = ev["peers"].iloc[o]
        lam = np.zeros(len(X))
        for pid, w in peers.items():
            lam[ids.index(pid)] = w
        np.testing.assert_allclose(ev.iloc[o][[f"target_x{i}" for i in range(X.shape[1])]].to_numpy(dtype=float),
                                   lam @ X, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(ev.iloc[o][[f"target_y{r}" for r in range(Y.shape[1])]].to_numpy(dtype=float),
                                   lam @ Y, rtol=1e-5, atol=1e-5)
        if rts == "vrs":
            assert lam.sum() == pytest.approx(1.0, abs=1e-5)
    # The data must exercise both kinds of slack, or this test could not fail.
    assert (ev[["slack_x0", "slack_x1", "slack_x2"]].sum(axis=1) > 1e-6).sum() >= 5
    assert (ev[["slack_y0", "slack_y1"]].sum(axis=1) > 1e-6).sum() >= 5


@pytest.mark.parametrize("rts,orient", MODELS)
def test_super_efficiency_matches_linprog_and_keeps_infeasible_apart(rts, orient):
    X, Y = random_data(3, n=25)
    ev = evaluate(X, Y, rts, orient, super_efficiency=True)
    n_infeasible = 0
    for o in range(len(X)):
        ref = envelopment_super(X, Y, o, rts, orient)
        row = ev.iloc[o]
        if ref is None:
            n_infeasible += 1
            assert row["status"] == "infeasible"
            assert np.isnan(row["efficiency"])
            assert "super-efficiency LP infeasible under VRS" in row["reason"]
            assert row["tier"] == "A"
        else:
            assert row["status"] == "optimal"
            got = row["efficiency"] if orient == "input" else row["expansion"]
            assert got == pytest.approx(ref, rel=1e-6, abs=1e-7)
    if rts == "crs":
        assert n_infeasible == 0
    assert (ev["efficiency"] > 1 + 1e-6).any()  # super-efficiency ranks the efficient ones above 1


def test_vrs_super_efficiency_infeasible_case_is_named():
    # Partner "big" makes more of y than any convex combination of the others: input-oriented
    # VRS super-efficiency has no feasible lambda (Seiford & Zhu 1999 discuss the case).
    df = pd.DataFrame({"x": [2.0, 3.0, 4.0, 10.0], "y": [1.0, 2.0, 2.5, 9.0]}, index=["a", "b", "c", "big"])
    ev = co.PartnerEvaluation(inputs=["x"], outputs=["y"], returns_to_scale="vrs",
                              super_efficiency=True).evaluate(df)
    assert ev.loc["big", "status"] == "infeasible"
    assert "reaches its y" in ev.loc["big", "reason"]
    assert envelopment_super(df[["x"]].to_numpy(), df[["y"]].to_numpy(), 3, "vrs", "input") is None
    assert (ev.drop(index="big")["status"] == "optimal").all()


@pytest.mark.parametrize("orient", ["input", "output"])
@pytest.mark.parametrize("rts", ["crs", "vrs"])
def test_weight_bounds_match_the_multiplier_form_with_assurance_regions(rts, orient):
    X, Y = random_data(11, n=30, m=2, s=3)
    bounds = {("x0", "x1"): (0.5, 2.0), ("y0", "y2"): (None, 1.5), ("y1", "y0"): (0.25, None)}
    ev = evaluate(X, Y, rts, orient, weight_bounds=bounds)
    P = np.array([[1.0, -2.0], [-1.0, 0.5]])                      # v0 <= 2 v1, 0.5 v1 <= v0
    Q = np.array([[1.0, 0.0, -1.5], [0.25, -1.0, 0.0]])           # u0 <= 1.5 u2, 0.25 u0 <= u1
    ref = np.array([multiplier_score(X, Y, o, rts, orient, P, Q) for o in range(len(X))])
    got = ev["efficiency"].to_numpy() if orient == "input" else ev["expansion"].to_numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-7)
    free = evaluate(X, Y, rts, orient)
    # Bounds only remove weight choices: no partner looks better, some look worse.
    assert (ev["efficiency"].to_numpy() <= free["efficiency"].to_numpy() + 1e-7).all()
    assert (ev["efficiency"].to_numpy() < free["efficiency"].to_numpy() - 1e-4).any()


def test_many_partners_in_several_batches_match_the_multiplier_form():
    # Small batches force the batching, the shared peer seed and several pricing rounds.
    X, Y = random_data(5, n=160, m=3, s=3)
    cx, cy = X.mean(axis=0), Y.mean(axis=0)
    env = solve_envelopment(X / cx, Y / cy, vrs=True, output=False, super_eff=False, batch=30)
    ref = np.array([multiplier_score(X, Y, o, "vrs", "input") for o in range(len(X))])
    np.testing.assert_allclose(env.score, ref, rtol=1e-6, atol=1e-7)
    assert env.stats["rounds"] >= 2 and env.stats["lps"] > 160 // 30


@pytest.mark.parametrize("rts,orient", MODELS)
def test_pricing_finds_exactly_the_columns_with_negative_reduced_cost(rts, orient):
    # Solve restricted block LPs, then recompute every column's reduced cost c_j - a_j . duals here
    # from the data, and check the row duals (sign convention included) and the entering columns.
    from channelopt import Solver
    from channelopt.partners import _envelopment as E

    X, Y = random_data(9, n=60)
    X, Y = X / X.mean(axis=0), Y / Y.mean(axis=0)
    spec = E._Spec(X, Y, rts == "vrs", orient == "output", False, np.zeros((0, 3)), np.zeros((0, 2)))
    dmus = np.arange(10)
    cols = [np.union1d(E._seed(spec), [o]) for o in dmus]
    res, duals = E._solve_round(spec, Solver(), "radial", dmus, cols, np.full(60, np.nan))
    A = np.column_stack([X, Y, np.ones((60, 1))]) if rts == "vrs" else np.column_stack([X, Y])
    reduced = -(duals @ A.T)
    for b in range(len(dmus)):
        basic = cols[b][res["lambda"][b] > 1e-9]
        np.testing.assert_allclose(reduced[b, basic], 0.0, atol=1e-7)
        assert (reduced[b, cols[b]] >= -1e-7).all()
    entering = E._price(spec, "radial", dmus, cols, duals, k_max=60)
    for b in range(len(dmus)):
        expect = set(np.flatnonzero(reduced[b] < -E._PRICE_TOL).tolist()) - set(cols[b].tolist())
        assert set(entering[b].tolist()) == expect
    assert any(len(e) for e in entering)


# ---------------------------------------------------------------- published textbook examples
def test_cooper_seiford_tone_two_inputs_one_output():
    """Cooper, Seiford & Tone, *Data Envelopment Analysis* (2nd ed., Springer 2007), Chapter 3,
    Example 3.2: six DMUs, two inputs, one output of 1. Published CCR-I scores: A 0.8571 (6/7,
    reference set D, E), B 0.6316 (12/19, reference set C, D), C, D, E efficient, F theta 1 with an
    input-1 slack of 2 (F is only weakly efficient, C uses 2 less of input 1).
    The same numbers follow from the geometry: A's ray meets segment D-E at (24/7, 18/7)."""
    df = pd.DataFrame({"x1": [4, 7, 8, 4, 2, 10], "x2": [3, 3, 1, 2, 4, 1], "y": 1.0}, index=list("ABCDEF"))
    ev = co.PartnerEvaluation(inputs=["x1", "x2"], outputs=["y"]).evaluate(df)
    np.testing.assert_allclose(ev["efficiency"].to_numpy(), [6 / 7, 12 / 19, 1, 1, 1, 1], atol=1e-9)
    assert set(ev.loc["A", "peers"]) == {"D", "E"}
    assert set(ev.loc["B", "peers"]) == {"C", "D"}
    assert ev.loc["F", "slack_x1"] == pytest.approx(2.0, abs=1e-9)
    assert ev.loc["F", "target_x1"] == pytest.approx(8.0, abs=1e-9)
    assert ev.loc["A", "peers"]["D"] == pytest.approx(5 / 7, abs=1e-6)
    assert ev.loc["A", "peers"]["E"] == pytest.approx(2 / 7, abs=1e-6)
    # Super-efficiency (Andersen & Petersen 1993) of the efficient ones, hand-computed on the same
    # figure: without D the frontier C-E meets D's ray at (5, 2.5) -> 1.25; without E, D's vertical
    # edge x1 = 4 meets E's ray at (4, 8) -> 2; without C, segment D-F meets C's ray at (64/7, 8/7) -> 8/7.
    sup = co.PartnerEvaluation(inputs=["x1", "x2"], outputs=["y"], super_efficiency=True).evaluate(df)
    np.testing.assert_allclose(sup.loc[["C", "D", "E", "F"], "efficiency"].to_numpy(), [8 / 7, 1.25, 2.0, 1.0],
                               atol=1e-9)


def test_cooper_seiford_tone_single_input_single_output():
    """Cooper, Seiford & Tone (2007), Chapter 1, Table 1.1: eight branches, employees -> sales;
    Table 1.2 gives the CCR efficiency as sales per employee over the best ratio (B, 1.0):
    A 0.5, B 1, C 0.667, D 0.75, E 0.8, F 0.4, G 0.5, H 0.625."""
    df = pd.DataFrame({"employee": [2, 3, 3, 4, 5, 5, 6, 8], "sale": [1, 3, 2, 3, 4, 2, 3, 5]},
                      index=list("ABCDEFGH"))
    ev = co.PartnerEvaluation(inputs=["employee"], outputs=["sale"]).evaluate(df)
    np.testing.assert_allclose(ev["efficiency"].to_numpy(), [0.5, 1, 2 / 3, 0.75, 0.8, 0.4, 0.5, 0.625], atol=1e-9)
    # BCC on the same data, hand-computed: the VRS frontier is A-B-E-H (slopes 2, 1/2, 1/3).
    # Input-oriented: C makes 2 on segment A-B at x = 2.5 -> 2.5/3; D makes 3 at B -> 3/4;
    # F at 2.5/5, G at 3/6. Output-oriented: C with x = 3 could make 3 (B) -> phi 1.5.
    bcc = co.PartnerEvaluation(inputs=["employee"], outputs=["sale"], returns_to_scale="vrs").evaluate(df)
    np.testing.assert_allclose(bcc["efficiency"].to_numpy(), [1, 1, 2.5 / 3, 0.75, 1, 0.5, 0.5, 1], atol=1e-9)
    out = co.PartnerEvaluation(inputs=["employee"], outputs=["sale"], returns_to_scale="vrs",
                               orientation="output").evaluate(df)
    assert out.loc["C", "expansion"] == pytest.approx(1.5, abs=1e-9)
    # D (x=4) could make 3.5 on segment B-E; F (x=5) 4 at E; G (x=6) 4 + 1/3 on E-H.
    np.testing.assert_allclose(out.loc[["D", "F", "G"], "expansion"].to_numpy(), [3.5 / 3, 2.0, (13 / 3) / 3],
                               atol=1e-9)


# ---------------------------------------------------------------- properties
_values = st.floats(min_value=0.5, max_value=100.0, allow_nan=False, allow_infinity=False)


@st.composite
def datasets(draw):
    n = draw(st.integers(min_value=2, max_value=9))
    m = draw(st.integers(min_value=1, max_value=3))
    s = draw(st.integers(min_value=1, max_value=3))
    X = np.array(draw(st.lists(st.lists(_values, min_size=m, max_size=m), min_size=n, max_size=n)))
    Y = np.array(draw(st.lists(st.lists(_values, min_size=s, max_size=s), min_size=n, max_size=n)))
    return X, Y


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=datasets(), model=st.sampled_from(MODELS))
def test_at_least_one_partner_is_efficient(data, model):
    X, Y = data
    ev = evaluate(X, Y, *model)
    eff = ev["efficiency"].to_numpy()
    assert (eff <= 1 + 1e-9).all()
    assert (eff == 1.0).any()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=datasets(), factor=st.floats(min_value=0.01, max_value=100.0), orient=st.sampled_from(["input", "output"]))
def test_scaling_all_inputs_leaves_ccr_scores_unchanged(data, factor, orient):
    X, Y = data
    a = evaluate(X, Y, "crs", orient)["efficiency"].to_numpy()
    b = evaluate(X * factor, Y, "crs", orient)["efficiency"].to_numpy()
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=datasets(), model=st.sampled_from(MODELS), shrink=st.floats(min_value=0.5, max_value=1.0),
       grow=st.floats(min_value=1.0, max_value=2.0))
def test_a_dominating_partner_scores_at_least_as_high(data, model, shrink, grow):
    X, Y = data
    # Partner 0 is copied into a partner using less of every input and making more of every output.
    X2 = np.vstack([X, X[0] * shrink])
    Y2 = np.vstack([Y, Y[0] * grow])
    eff = evaluate(X2, Y2, *model)["efficiency"].to_numpy()
    assert eff[-1] >= eff[0] - 1e-9


# ---------------------------------------------------------------- bad input
def test_errors_name_the_column_rows_and_fix():
    df = pd.DataFrame({"cost": [1.0, -2.0, 3.0], "sales": [1.0, 2.0, 3.0]}, index=["a", "b", "c"])
    with pytest.raises(ValidationError) as err:
        co.PartnerEvaluation(inputs=["cost"], outputs=["sales"]).evaluate(df)
    assert err.value.column == "cost" and err.value.ids == ["b"] and "non-negative" in str(err.value)
    with pytest.raises(ValidationError) as err:
        co.PartnerEvaluation(inputs=["cots"], outputs=["sales"]).evaluate(df.abs())
    assert "Did you mean 'cost'" in str(err.value)
    with pytest.raises(SettingsError) as err:
        co.PartnerEvaluation(inputs=["cost"], outputs=["sales"], returns_to_scale="vsr").evaluate(df.abs())
    assert "Did you mean 'vrs'" in str(err.value)
    with pytest.raises(SettingsError) as err:
        co.PartnerEvaluation(inputs=["cost"], outputs=["sales"], weight_bounds={("cost", "sales"): (1, 2)}
                             ).evaluate(df.abs())
    assert "both columns must be inputs, or both outputs" in str(err.value)
    zero = pd.DataFrame({"cost": [0.0, 2.0], "sales": [1.0, 2.0]}, index=["a", "b"])
    with pytest.raises(ValidationError) as err:
        co.PartnerEvaluation(inputs=["cost"], outputs=["sales"]).evaluate(zero)
    assert err.value.ids == ["a"] and "use none of the inputs" in str(err.value)


def test_output_orientation_sets_partners_without_output_apart_and_does_not_mutate_input():
    df = pd.DataFrame({"cost": [1.0, 2.0, 3.0], "sales": [1.0, 0.0, 3.0]}, index=["a", "b", "c"])
    before = df.copy()
    ev = co.PartnerEvaluation(inputs=["cost"], outputs=["sales"], orientation="output").evaluate(df)
    assert ev.loc["b", "status"] == "no_output" and ev.loc["b", "efficiency"] == 0.0
    assert ev.loc["b", "tier"] == "C"
    assert ev.loc["a", "efficiency"] == 1.0 and ev.loc["c", "efficiency"] == 1.0
    pd.testing.assert_frame_equal(df, before)


def test_settings_are_stored_and_tiers_are_configurable():
    df = pd.DataFrame({"employee": [2, 3, 3, 4, 5, 5, 6, 8], "sale": [1, 3, 2, 3, 4, 2, 3, 5]},
                      index=list("ABCDEFGH"))
    tiers = {"method": "quantile", "quantiles": (0.25, 0.5), "names": ["核心", "重点", "一般"]}
    model = co.PartnerEvaluation(inputs=["employee"], outputs=["sale"], tiers=tiers)
    assert model.get_params()["returns_to_scale"] == "crs"
    ev = model.evaluate(df)
    # CCR scores 0.5, 1, .667, .75, .8, .4, .5, .625: top 2 (B 1.0, E 0.8), next 2 (D .75, C .667)
    assert ev["tier"].astype(str).to_dict() == {"A": "一般", "B": "核心", "C": "重点", "D": "重点", "E": "核心",
                                                "F": "一般", "G": "一般", "H": "一般"}
    vrs = model.set_params(returns_to_scale="vrs")
    assert vrs.returns_to_scale == "vrs" and model.returns_to_scale == "crs"
    with pytest.raises(SettingsError) as err:
        model.set_params(orientaton="output")
    assert "Did you mean 'orientation'" in str(err.value)
