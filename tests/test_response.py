"""Response curves and fit_response."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channelopt import (
    ChannelOptError,
    Hill,
    Logarithmic,
    PointsCurve,
    SaturatingExponential,
    SettingsError,
    ValidationError,
    fit_response,
)
from channelopt.response import as_curve

params = st.tuples(st.floats(1.0, 1e4), st.floats(0.1, 1e3), st.floats(0.3, 4.0))


def test_hill_values_half_saturation_and_shape():
    h = Hill(200.0, 40.0, 2.5)
    s = np.array([0.0, 40.0, 1e9])
    np.testing.assert_allclose(h(s), [0.0, 100.0, 200.0], rtol=1e-9)
    assert h(np.ones((2, 3))).shape == (2, 3)
    assert not h.concave and Hill(1, 1, 1).concave and Hill(1, 1, 0.5).concave
    # second derivative changes sign at the stated inflection point
    x = h.inflection
    d = h.derivative(np.array([x * 0.99, x, x * 1.01]))
    assert d[1] > d[0] and d[1] > d[2]


@given(params, st.floats(0.01, 5.0))
@settings(max_examples=25, deadline=None)
def test_derivatives_match_finite_differences(p, rel):
    vmax, k, n = p
    s = rel * k
    h = 1e-6 * s
    for curve in (Hill(vmax, k, n), SaturatingExponential(vmax, k), Logarithmic(vmax, k)):
        fd = (curve(s + h) - curve(s - h)) / (2 * h)
        assert float(curve.derivative(s)) == pytest.approx(float(fd), rel=1e-4, abs=1e-9)


@given(params, st.floats(0.05, 50.0))
@settings(max_examples=25, deadline=None)
def test_scaled_keeps_response_per_unit_of_potential(p, factor):
    vmax, k, n = p
    s = np.linspace(0, 5 * k, 7)
    for curve in (Hill(vmax, k, n), SaturatingExponential(vmax, k), Logarithmic(vmax, k),
                  PointsCurve([0, k, 3 * k], [0, vmax, 1.5 * vmax])):
        big = curve.scaled(factor)
        np.testing.assert_allclose(big(s * factor), factor * curve(s), rtol=1e-9, atol=1e-9)
        tall = curve.scaled(factor, spend=False)
        np.testing.assert_allclose(tall(s), factor * curve(s), rtol=1e-9, atol=1e-9)


def test_points_curve_interpolates_and_stays_flat_after_the_data():
    c = PointsCurve([10, 20, 40], [1, 5, 6])
    assert c.spend[0] == 0.0 and c.response[0] == 1.0   # a point at zero spend is added
    np.testing.assert_allclose(c([0, 15, 30, 100]), [1.0, 3.0, 5.5, 6.0])
    assert not c.concave       # flat, then rising: not concave
    assert PointsCurve([0, 10, 20], [0, 6, 8]).concave
    assert as_curve(([0, 10], [0, 1])) == PointsCurve([0, 10], [0, 1])
    np.testing.assert_allclose(c.derivative([5, 15, 39, 50]), [0.0, 0.4, 0.05, 0.0])


@pytest.mark.parametrize("bad", [
    lambda: Hill(-1, 1, 1), lambda: Hill(1, 0, 1), lambda: Hill(1, 1, float("nan")),
    lambda: SaturatingExponential(1, -2), lambda: Logarithmic(0, 1),
    lambda: PointsCurve([0, 2, 1], [0, 1, 2]), lambda: PointsCurve([0, 1], [0]),
    lambda: as_curve("hill"),
])
def test_bad_curve_parameters_raise_validation_errors(bad):
    with pytest.raises(ValidationError):
        bad()


@pytest.mark.parametrize("truth, kind", [
    (Hill(80.0, 120.0, 1.5), "hill"),
    (Hill(50.0, 60.0, 0.7), "hill"),
    (Hill(30.0, 100.0, 1.0), "hill_concave"),
    (SaturatingExponential(40.0, 90.0), "exponential"),
    (Logarithmic(12.0, 25.0), "log"),
])
def test_fit_response_recovers_the_curve_from_noisy_history(truth, kind):
    rng = np.random.default_rng(3)
    s = rng.uniform(0, 400, 200)
    y = truth(s) * (1 + 0.01 * rng.standard_normal(len(s)))
    fit = fit_response(s, y, kind=kind)
    assert type(fit) is type(truth)
    grid = np.linspace(0, 400, 50)
    np.testing.assert_allclose(fit(grid), truth(grid), rtol=0.03, atol=0.01 * float(truth(400.0)))


def test_fit_response_refuses_data_that_cannot_identify_the_curve():
    with pytest.raises(ValidationError, match="at least 4 distinct positive spend levels"):
        fit_response([0, 10, 10, 20, 30], [0, 1, 1, 2, 3], kind="hill")
    with pytest.raises(ValidationError, match="does not vary"):
        fit_response([1, 2, 3, 4, 5], [7, 7, 7, 7, 7], kind="exponential")
    # a straight line shows no saturation: vmax and k cannot be told apart
    with pytest.raises(ValidationError, match="no saturation") as err:
        fit_response(np.linspace(1, 10, 20), 3 * np.linspace(1, 10, 20), kind="hill_concave")
    assert "largest observed spend 10" in str(err.value)
    with pytest.raises(ValidationError, match="one response per spend"):
        fit_response([1, 2, 3], [1, 2], kind="log")
    with pytest.raises(SettingsError, match="kind"):
        fit_response([1, 2, 3], [1, 2, 3], kind="spline")
    assert issubclass(ValidationError, ChannelOptError)
