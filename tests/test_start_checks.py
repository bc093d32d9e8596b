"""The start check, the solver's plan check and the model's CSR assembly against checks written here (issue 13).

Both checks now share one CSR matrix and the bound scales, kept per ``LpArrays``
(``solver._matrix``, ``solver._bound_size``), and a DistributorSelection hands its
heuristic start on as one vector. On random small problems with integer data (so every
activity is exact) they must say what a dense ``A @ x`` check says, also after rows are
added to the problem (a new ``LpArrays``, nothing kept from the old one). The CSR arrays
``ArrayProblem.arrays()`` assembles (in numpy when no pair repeats) must be scipy's.
"""

from __future__ import annotations

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from channelopt._arrays import ArrayProblem
from channelopt.models.distributors.warm_start import start_is_feasible
from channelopt.solver import _Tol, _violation

SENSES = ("<=", ">=", "==")


@st.composite
def problems(draw):
    """Columns with bounds, rows with integer coefficients, and a start: the problem and the same data dense."""
    n = draw(st.integers(1, 5))
    lower = np.array(draw(st.lists(st.sampled_from([0.0, -2.0, -np.inf]), min_size=n, max_size=n)))
    upper = np.array(draw(st.lists(st.sampled_from([1.0, 3.0, 40.0, np.inf]), min_size=n, max_size=n)))
    integer = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    rows = []
    for _ in range(draw(st.integers(1, 4))):
        coefs = np.array(draw(st.lists(st.integers(-9, 9), min_size=n, max_size=n)), dtype=float)
        rows.append((coefs, draw(st.sampled_from(SENSES)), float(draw(st.integers(-30, 30)))))
    start = np.array(draw(st.lists(st.sampled_from([0.0, 1.0, 2.0, -1.0, 0.5, 50.0]), min_size=n, max_size=n)))
    return lower, upper, integer, rows, start


def _build(lower, upper, integer, rows):
    ap = ArrayProblem("t")
    x = ap.add_vars("x", len(lower), lower=lower, upper=upper, integer=integer)
    for k, (coefs, sense, rhs) in enumerate(rows):
        ap.add_row(f"r{k}", x.index, coefs, sense, rhs)
    return ap, x


def _dense_ok(lower, upper, integer, rows, start, tol=1e-6) -> bool:
    """Bounds, integrality and every row, on the dense matrix (the start check's tolerances, written out)."""
    if np.isnan(start).any() or (start < lower - tol).any() or (start > upper + tol).any():
        return False
    if (np.abs(start[integer] - np.round(start[integer])) > tol).any():
        return False
    for coefs, sense, rhs in rows:
        act = float(coefs @ start)
        slack = tol * max(1.0, abs(rhs))
        if (sense in ("<=", "==") and act > rhs + slack) or (sense in (">=", "==") and act < rhs - slack):
            return False
    return True


HALF = (np.array([0.0]), np.array([1.0]), np.array([True]), [(np.array([1.0]), "<=", 1.0)], np.array([0.5]))


@settings(max_examples=200, deadline=None)
@given(problems(), st.integers(-9, 9), st.sampled_from(SENSES), st.integers(-30, 30))
@example(HALF, 0, "<=", 0)  # every rule kept but integrality
def test_the_start_check_is_the_dense_check_before_and_after_a_row_is_added(prob, c, sense, rhs):
    lower, upper, integer, rows, start = prob
    ap, x = _build(lower, upper, integer, rows)
    assert start_is_feasible(ap, {x: start}) == _dense_ok(lower, upper, integer, rows, start)
    assert start_is_feasible(ap, start) == _dense_ok(lower, upper, integer, rows, start)  # a vector, as built.py
    # a row added after the first check: the next check is on the new rows
    extra = (np.full(len(lower), float(c)), sense, float(rhs))
    ap.add_row("extra", x.index, extra[0], sense, float(rhs))
    assert start_is_feasible(ap, start) == _dense_ok(lower, upper, integer, [*rows, extra], start)


def _dense_violated(lower, upper, integer, rows, values, feas) -> bool:
    """The plan check's rules written out: integrality within 10 x 1e-6, bounds and rows within 10 x feas
    (bounds scaled by max(1, |finite bound|); rows of coefficients below 16 keep a scale of 1)."""
    if integer.any() and np.abs(values[integer] - np.round(values[integer])).max() > 10 * 1e-6:
        return True
    size = np.maximum(1.0, np.maximum(np.abs(np.where(np.isfinite(lower), lower, 0.0)),
                                      np.abs(np.where(np.isfinite(upper), upper, 0.0))))
    if ((values < lower - 10 * feas * size) | (values > upper + 10 * feas * size)).any():
        return True
    for coefs, sense, rhs in rows:
        act = float(coefs @ values)
        if (sense in ("<=", "==") and act > rhs + 10 * feas) or (sense in (">=", "==") and act < rhs - 10 * feas):
            return True
    return False


@settings(max_examples=200, deadline=None)
@given(problems(), st.sampled_from([1e-7, 1e-6]))
@example(HALF, 1e-7)
def test_the_plan_check_is_the_dense_check(prob, feas):
    lower, upper, integer, rows, values = prob
    ap, _ = _build(lower, upper, integer, rows)
    a = ap.arrays()
    tol = _Tol(feas, 1e-6, np.ones(len(rows)), 0.0)
    got = _violation(a, values, float(a.cost @ values), tol)
    assert (got is not None) == _dense_violated(lower, upper, integer, rows, values, feas), got
    # the second check of the same LpArrays reuses what the first kept, and says the same
    assert _violation(a, values, float(a.cost @ values), tol) == got


# ---------------------------------------------------------------- the CSR assembly of ArrayProblem.arrays()
@settings(max_examples=200, deadline=None)
@given(st.integers(1, 6), st.integers(1, 6), st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5),
                                                                st.sampled_from([0.0, 1.0, -2.5, 0.1, 1e7])),
                                                      max_size=25))
def test_the_csr_of_the_triplets_is_scipys(m, n, triplets):
    import scipy.sparse as sp

    from channelopt._arrays import _csr

    triplets = [(r % m, c % n, v) for r, c, v in triplets]
    r = np.array([t[0] for t in triplets], dtype=np.int64)
    c = np.array([t[1] for t in triplets], dtype=np.int64)
    v = np.array([t[2] for t in triplets], dtype=float)
    want = sp.csr_matrix((v, (r, c)), shape=(m, n))  # written out: scipy's canonical form
    want.sum_duplicates()
    want.sort_indices()
    indptr, indices, data = _csr(r, c, v, m, n)
    assert (indptr.dtype, indices.dtype, data.dtype) == (np.int64, np.int32, np.float64)
    np.testing.assert_array_equal(indptr, want.indptr)
    np.testing.assert_array_equal(indices, want.indices)
    np.testing.assert_array_equal(data, want.data)  # explicit zeros kept, duplicates summed
    dense = np.zeros((m, n))
    np.add.at(dense, (r, c), v)
    np.testing.assert_array_equal(sp.csr_matrix((data, indices, indptr), shape=(m, n)).toarray(), dense)
