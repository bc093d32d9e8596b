"""Response curves: how much response a cell earns for its spend, and fitting them to history.

Four shapes, each a frozen value object that evaluates on numpy arrays:

- :class:`Hill` ``vmax * s**n / (k**n + s**n)``: concave for ``n <= 1``, S-shaped for ``n > 1``;
- :class:`SaturatingExponential` ``vmax * (1 - exp(-s / k))``: concave;
- :class:`Logarithmic` ``a * log(1 + s / k)``: concave and unbounded;
- :class:`PointsCurve`: straight lines through user-given ``(spend, response)`` points.

:func:`fit_response` fits one of the parametric shapes to (spend, response) history
with scipy and refuses data that cannot identify it.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .exceptions import SettingsError, ValidationError

__all__ = [
    "ResponseCurve",
    "Hill",
    "SaturatingExponential",
    "Logarithmic",
    "PointsCurve",
    "fit_response",
    "as_curve",
]


def _positive(name: str, value: float, owner: str, *, allow_zero: bool = False) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValidationError(f"{owner}: {name} must be a number, got {value!r}.", column=name) from None
    ok = value >= 0 if allow_zero else value > 0
    if not (math.isfinite(value) and ok):
        sign = "non-negative" if allow_zero else "positive"
        raise ValidationError(f"{owner}: {name} must be finite and {sign}, got {value!r}.", column=name)
    return value


class ResponseCurve:
    """Base of the response curves: ``curve(spend)`` gives the response, on arrays.

    Subclasses define ``__call__``, ``derivative``, ``concave`` and ``scaled``.
    """

    kind = "curve"

    def __call__(self, spend) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def derivative(self, spend) -> np.ndarray:  # pragma: no cover - abstract
        """Marginal response d response / d spend at ``spend`` (right derivative at kinks)."""
        raise NotImplementedError

    @property
    def concave(self) -> bool:  # pragma: no cover - abstract
        """True when the curve is concave on ``[0, inf)``: no binaries needed to optimise it."""
        raise NotImplementedError

    def scaled(self, factor: float, *, spend: bool = True) -> ResponseCurve:  # pragma: no cover
        """The curve of a cell ``factor`` times as large.

        With ``spend=True`` both axes scale (``factor * f(s / factor)``: the same spend per
        unit of potential earns the same response per unit); otherwise only the response.
        """
        raise NotImplementedError

    @property
    def saturation(self) -> float:
        """Upper limit of the response as spend grows (``inf`` when unbounded)."""
        return math.inf


def _spend_array(spend) -> np.ndarray:
    s = np.asarray(spend, dtype=float)
    return np.maximum(s, 0.0)


@dataclass(frozen=True)
class Hill(ResponseCurve):
    """Hill curve ``vmax * s**n / (k**n + s**n)``.

    Parameters
    ----------
    vmax : float
        Saturation response (reached as spend grows without bound).
    k : float
        Half-saturation spend: ``Hill(vmax, k, n)(k) == vmax / 2``.
    n : float, default 1
        Shape. ``n <= 1`` is concave (diminishing returns from the first unit);
        ``n > 1`` is S-shaped, with increasing returns up to the inflection point
        ``k * ((n - 1) / (n + 1)) ** (1 / n)``.

    Examples
    --------
    >>> from channelopt import Hill
    >>> h = Hill(100.0, 50.0, 2.0)
    >>> h([0.0, 50.0, 100.0]).tolist()
    [0.0, 50.0, 80.0]
    >>> h.concave, round(h.inflection, 3)
    (False, 28.868)
    """

    vmax: float
    k: float
    n: float = 1.0
    kind = "hill"

    def __post_init__(self) -> None:
        object.__setattr__(self, "vmax", _positive("vmax", self.vmax, "Hill"))
        object.__setattr__(self, "k", _positive("k", self.k, "Hill"))
        object.__setattr__(self, "n", _positive("n", self.n, "Hill"))

    def __call__(self, spend) -> np.ndarray:
        x = _spend_array(spend) / self.k
        xn = x**self.n
        return self.vmax * xn / (1.0 + xn)

    def derivative(self, spend) -> np.ndarray:
        x = _spend_array(spend) / self.k
        with np.errstate(divide="ignore", invalid="ignore"):
            xn = x**self.n
            d = self.vmax * self.n * x ** (self.n - 1.0) / (self.k * (1.0 + xn) ** 2)
        # n < 1 has an infinite slope at zero; n > 1 a zero slope.
        return np.where(x > 0, d, np.inf if self.n < 1 else (self.vmax / self.k if self.n == 1 else 0.0))

    @property
    def concave(self) -> bool:
        return self.n <= 1.0

    @property
    def inflection(self) -> float:
        """Spend where returns stop increasing (0 for concave curves)."""
        if self.n <= 1:
            return 0.0
        return self.k * ((self.n - 1.0) / (self.n + 1.0)) ** (1.0 / self.n)

    @property
    def saturation(self) -> float:
        return self.vmax

    def scaled(self, factor: float, *, spend: bool = True) -> Hill:
        factor = _positive("factor", factor, "Hill.scaled")
        return Hill(self.vmax * factor, self.k * factor if spend else self.k, self.n)


@dataclass(frozen=True)
class SaturatingExponential(ResponseCurve):
    """Saturating exponential ``vmax * (1 - exp(-s / k))`` (concave).

    Examples
    --------
    >>> from channelopt import SaturatingExponential
    >>> c = SaturatingExponential(10.0, 2.0)
    >>> [round(v, 4) for v in c([0.0, 2.0]).tolist()]
    [0.0, 6.3212]
    """

    vmax: float
    k: float
    kind = "exponential"

    def __post_init__(self) -> None:
        object.__setattr__(self, "vmax", _positive("vmax", self.vmax, "SaturatingExponential"))
        object.__setattr__(self, "k", _positive("k", self.k, "SaturatingExponential"))

    def __call__(self, spend) -> np.ndarray:
        return self.vmax * -np.expm1(-_spend_array(spend) / self.k)

    def derivative(self, spend) -> np.ndarray:
        return self.vmax / self.k * np.exp(-_spend_array(spend) / self.k)

    @property
    def concave(self) -> bool:
        return True

    @property
    def saturation(self) -> float:
        return self.vmax

    def scaled(self, factor: float, *, spend: bool = True) -> SaturatingExponential:
        factor = _positive("factor", factor, "SaturatingExponential.scaled")
        return SaturatingExponential(self.vmax * factor, self.k * factor if spend else self.k)


@dataclass(frozen=True)
class Logarithmic(ResponseCurve):
    """Logarithmic ``a * log(1 + s / k)`` (concave, never saturates).

    Examples
    --------
    >>> from channelopt import Logarithmic
    >>> c = Logarithmic(2.0, 1.0)
    >>> round(float(c(np.e - 1)), 6)
    2.0
    """

    a: float
    k: float = 1.0
    kind = "log"

    def __post_init__(self) -> None:
        object.__setattr__(self, "a", _positive("a", self.a, "Logarithmic"))
        object.__setattr__(self, "k", _positive("k", self.k, "Logarithmic"))

    def __call__(self, spend) -> np.ndarray:
        return self.a * np.log1p(_spend_array(spend) / self.k)

    def derivative(self, spend) -> np.ndarray:
        return self.a / (self.k + _spend_array(spend))

    @property
    def concave(self) -> bool:
        return True

    def scaled(self, factor: float, *, spend: bool = True) -> Logarithmic:
        factor = _positive("factor", factor, "Logarithmic.scaled")
        return Logarithmic(self.a * factor, self.k * factor if spend else self.k)


@dataclass(frozen=True, eq=False)
class PointsCurve(ResponseCurve):
    """Straight lines through user-given ``(spend, response)`` points.

    The curve starts at the first point (a point at spend 0 is added, with the first
    response, when missing) and stays flat after the last one: no response is
    invented beyond the data.

    Parameters
    ----------
    spend, response : sequences of float
        Strictly increasing, non-negative spends and their responses.

    Examples
    --------
    >>> from channelopt import PointsCurve
    >>> c = PointsCurve([0, 10, 30], [0, 5, 8])
    >>> c([5, 20, 99]).tolist(), c.concave
    ([2.5, 6.5, 8.0], True)
    """

    spend: tuple
    response: tuple
    kind = "points"

    def __post_init__(self) -> None:
        s = np.asarray(self.spend, dtype=float).ravel()
        r = np.asarray(self.response, dtype=float).ravel()
        if len(s) != len(r) or len(s) < 1:
            raise ValidationError(f"PointsCurve needs as many responses as spends, got {len(s)} spends and "
                                  f"{len(r)} responses.", column="response")
        if not (np.isfinite(s).all() and np.isfinite(r).all()):
            raise ValidationError("PointsCurve: spends and responses must be finite numbers.", column="spend")
        if (s < 0).any() or (np.diff(s) <= 0).any():
            raise ValidationError(f"PointsCurve: spends must be non-negative and strictly increasing, got "
                                  f"{s.tolist()}; sort the points and drop duplicates.", column="spend")
        if s[0] > 0:
            s = np.concatenate([[0.0], s])
            r = np.concatenate([[r[0]], r])
        object.__setattr__(self, "spend", tuple(s.tolist()))
        object.__setattr__(self, "response", tuple(r.tolist()))

    def __eq__(self, other) -> bool:
        return isinstance(other, PointsCurve) and self.spend == other.spend and self.response == other.response

    def __hash__(self) -> int:
        return hash((self.spend, self.response))

    @property
    def slopes(self) -> np.ndarray:
        return np.diff(self.response) / np.diff(self.spend) if len(self.spend) > 1 else np.zeros(0)

    def __call__(self, spend) -> np.ndarray:
        return np.interp(_spend_array(spend), self.spend, self.response)

    def derivative(self, spend) -> np.ndarray:
        s = _spend_array(spend)
        slopes = np.concatenate([self.slopes, [0.0]])
        idx = np.searchsorted(np.asarray(self.spend), s, side="right") - 1
        return slopes[np.clip(idx, 0, len(slopes) - 1)]

    @property
    def concave(self) -> bool:
        d = np.concatenate([self.slopes, [0.0]])
        return bool((np.diff(d) <= 1e-12 * (1 + np.abs(d[:-1]))).all())

    @property
    def saturation(self) -> float:
        return float(max(self.response))

    def scaled(self, factor: float, *, spend: bool = True) -> PointsCurve:
        factor = _positive("factor", factor, "PointsCurve.scaled")
        s = np.asarray(self.spend) * (factor if spend else 1.0)
        return PointsCurve(s, np.asarray(self.response) * factor)


def as_curve(value, where: str = "curve") -> ResponseCurve:
    """A :class:`ResponseCurve` from a curve, a ``(spend, response)`` pair of lists, or a plain spec.

    Specs are what a scenario file holds: ``{"hill": [vmax, k, n]}`` (or a mapping of
    those names), ``{"exponential": [vmax, k]}``, ``{"log": [a, k]}`` and
    ``{"points": [[s0, r0], [s1, r1], ...]}`` (or ``{"points": {"spend": [...],
    "response": [...]}}``).

    Raises
    ------
    ValidationError
        A value that is neither a curve, a pair nor a mapping.
    SettingsError
        A mapping that is not one of the specs (named by ``where``), or whose numbers
        the curve refuses.

    Examples
    --------
    >>> as_curve(([0, 1], [0, 2]))(0.5).item()
    1.0
    >>> float(as_curve({"hill": [100, 40, 1]})(40.0))
    50.0
    >>> as_curve({"points": [[0, 0], [10, 5], [30, 8]]})(20.0).item()
    6.5
    """
    if isinstance(value, ResponseCurve):
        return value
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return PointsCurve(value[0], value[1])
    makers = {"hill": Hill, "exponential": SaturatingExponential, "saturating_exponential": SaturatingExponential,
              "log": Logarithmic, "logarithmic": Logarithmic, "points": PointsCurve}
    if not isinstance(value, Mapping):
        raise ValidationError(f"{where} must be a channelopt response curve (Hill, SaturatingExponential, "
                              f"Logarithmic, PointsCurve), a (spend, response) pair, or a spec such as "
                              f"{{'hill': [100, 40, 1]}}; got {type(value).__name__}.", column="curve")
    if len(value) != 1 or next(iter(value)) not in makers:
        raise SettingsError(f"{where}: a curve is a ResponseCurve, a (spend, response) pair of lists, or a one-key "
                            f"mapping out of {sorted(makers)} (e.g. {{'hill': [100, 40, 1]}} or "
                            f"{{'points': [[0, 0], [10, 5]]}}); got {value!r}.")
    kind, args = next(iter(value.items()))
    try:
        if kind == "points" and not isinstance(args, Mapping):
            pairs = np.asarray(args, dtype=float)
            if pairs.ndim != 2 or pairs.shape[1] != 2:
                raise ValidationError(f"points are [spend, response] pairs, e.g. [[0, 0], [10, 5]]; got {args!r}")
            return PointsCurve(pairs[:, 0], pairs[:, 1])
        return makers[kind](**args) if isinstance(args, Mapping) else makers[kind](*args)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"{where}.{kind}: {exc}") from None


# ------------------------------------------------------------------ fitting
_KINDS = {"hill": 3, "hill1": 2, "exponential": 2, "log": 2}
_ALIASES = {"hill": "hill", "hill_concave": "hill1", "hill1": "hill1", "exponential": "exponential",
            "exp": "exponential", "saturating_exponential": "exponential", "log": "log", "logarithmic": "log"}


def fit_response(spend: Sequence[float], response: Sequence[float], kind: str = "hill", *,
                 max_k_ratio: float = 20.0) -> ResponseCurve:
    """Fit a response curve to history by least squares (``scipy.optimize.curve_fit``).

    Parameters
    ----------
    spend, response : sequences of float
        Past spends (non-negative) and the responses they earned.
    kind : {"hill", "hill_concave", "exponential", "log"}
        ``"hill"`` fits ``vmax, k, n``; ``"hill_concave"`` fixes ``n = 1``;
        ``"exponential"`` fits ``vmax, k``; ``"log"`` fits ``a, k``.
    max_k_ratio : float, default 20
        Saturating shapes need the data to show saturation: a fitted half-saturation
        (or scale) ``k`` beyond ``max_k_ratio`` times the largest observed spend means
        the data cannot tell ``vmax`` from ``k``, and the fit is refused.

    Returns
    -------
    ResponseCurve

    Raises
    ------
    ValidationError
        Too few distinct spend levels for the parameters, no variation in the
        response, no saturation visible for a saturating shape, or a fit that does
        not converge. The message says what data would identify the curve.
    SettingsError
        Unknown ``kind``.

    Examples
    --------
    >>> import numpy as np
    >>> from channelopt import Hill, fit_response
    >>> s = np.linspace(0, 400, 30)
    >>> c = fit_response(s, Hill(80.0, 120.0, 1.5)(s), kind="hill")
    >>> round(c.vmax, 2), round(c.k, 2), round(c.n, 3)
    (80.0, 120.0, 1.5)
    """
    from scipy.optimize import curve_fit

    key = _ALIASES.get(str(kind).lower())
    if key is None:
        raise SettingsError(f"fit_response kind must be one of {sorted(set(_ALIASES))}, got {kind!r}.")
    s = np.asarray(spend, dtype=float).ravel()
    r = np.asarray(response, dtype=float).ravel()
    if len(s) != len(r):
        raise ValidationError(f"fit_response needs one response per spend, got {len(s)} spends and {len(r)} "
                              f"responses.", column="response")
    bad = ~(np.isfinite(s) & np.isfinite(r))
    if bad.any() or (s < 0).any():
        raise ValidationError(f"fit_response: spends must be finite and non-negative and responses finite; "
                              f"{int(bad.sum() + (s < 0).sum())} rows are not.", column="spend")
    n_par = _KINDS[key]
    levels = np.unique(s[s > 0])
    if len(levels) < n_par + 1:
        raise ValidationError(
            f"fit_response(kind={kind!r}) has {n_par} parameters and needs at least {n_par + 1} distinct "
            f"positive spend levels to identify them, got {len(levels)}; add history at other spend levels "
            f"or use a curve with fewer parameters.", column="spend")
    if np.ptp(r) <= 1e-12 * max(1.0, np.abs(r).max()):
        raise ValidationError("fit_response: the response does not vary with spend, so no curve can be "
                              "identified; check the data or use PointsCurve.", column="response")
    smax, rmax = float(s.max()), float(max(r.max(), 1e-12))
    # Fit in units of the data so the optimiser sees numbers near 1.
    x, y = s / smax, r / rmax
    if key == "hill":
        def f(x, vmax, k, n):
            xn = (x / k) ** n
            return vmax * xn / (1 + xn)
        p0, lo, hi = [1.5, 0.5, 1.0], [1e-9, 1e-6, 0.05], [1e6, 1e6, 10.0]
    elif key == "hill1":
        def f(x, vmax, k):
            return vmax * x / (k + x)
        p0, lo, hi = [1.5, 0.5], [1e-9, 1e-6], [1e6, 1e6]
    elif key == "exponential":
        def f(x, vmax, k):
            return vmax * -np.expm1(-x / k)
        p0, lo, hi = [1.2, 0.5], [1e-9, 1e-6], [1e6, 1e6]
    else:
        def f(x, a, k):
            return a * np.log1p(x / k)
        p0, lo, hi = [1.0, 0.5], [1e-9, 1e-6], [1e6, 1e6]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            popt, pcov = curve_fit(f, x, y, p0=p0, bounds=(lo, hi), maxfev=20000)
    except (RuntimeError, ValueError) as exc:
        raise ValidationError(f"fit_response(kind={kind!r}) did not converge ({exc}); the data may not follow "
                              f"this shape: try another kind or PointsCurve.", column="response") from None
    if not np.isfinite(pcov).all():
        raise ValidationError(f"fit_response(kind={kind!r}): the data cannot identify the parameters (their "
                              f"covariance is infinite); add history at more varied spend levels.",
                              column="spend")
    if key != "log" and popt[1] > max_k_ratio:
        raise ValidationError(
            f"fit_response(kind={kind!r}): the data show no saturation: the fitted k is {popt[1] * smax:,.6g}, "
            f"{popt[1]:.3g} times the largest observed spend {smax:,.6g} (limit max_k_ratio={max_k_ratio}), "
            f"so vmax and k cannot be told apart; use kind='log', or history at higher spends.",
            column="spend")
    if key == "hill":
        return Hill(popt[0] * rmax, popt[1] * smax, popt[2])
    if key == "hill1":
        return Hill(popt[0] * rmax, popt[1] * smax, 1.0)
    if key == "exponential":
        return SaturatingExponential(popt[0] * rmax, popt[1] * smax)
    return Logarithmic(popt[0] * rmax, popt[1] * smax)
