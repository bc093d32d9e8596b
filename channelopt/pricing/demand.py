"""Demand curves of a price cell: volume as a function of the (net) price.

Three shapes, all through the cell's base point ``(base_price, base_volume)``:

- ``"linear"``: ``q(p) = q0 * (1 - e * (p - p0) / p0)``, point elasticity ``e`` at the
  base point, zero from the choke price ``p0 * (1 + 1/e)`` on;
- ``"constant_elasticity"``: ``q(p) = q0 * (p / p0) ** -e``;
- user points: straight lines through ``(price, volume)`` points, volume
  non-increasing in price, flat beyond the first and last point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["DemandCurve", "LinearDemand", "ConstantElasticityDemand", "PointsDemand"]


class DemandCurve:
    """Volume at a price (vectorised); ``max_price(volume)`` inverts it."""

    kind = "demand"

    def __call__(self, price):  # pragma: no cover - overridden
        raise NotImplementedError

    def max_price(self, volume: float) -> float:  # pragma: no cover - overridden
        """The highest price at which the volume still reaches ``volume`` (``-inf`` if none)."""
        raise NotImplementedError

    @property
    def choke(self) -> float:
        """Price from which nothing sells (``inf`` when volume never reaches zero)."""
        return np.inf


@dataclass(frozen=True)
class LinearDemand(DemandCurve):
    """Straight line through ``(p0, q0)`` with point elasticity ``e`` there.

    Examples
    --------
    >>> d = LinearDemand(10.0, 100.0, 2.0)
    >>> d([10.0, 12.0, 20.0]).tolist(), d.choke, d.max_price(60.0)
    ([100.0, 60.0, 0.0], 15.0, 12.0)
    """

    p0: float
    q0: float
    e: float
    kind = "linear"

    def __call__(self, price):
        p = np.asarray(price, dtype=float)
        return np.maximum(self.q0 * (1.0 - self.e * (p - self.p0) / self.p0), 0.0)

    @property
    def choke(self) -> float:
        return self.p0 * (1.0 + 1.0 / self.e) if self.e > 0 else np.inf

    def max_price(self, volume: float) -> float:
        if volume <= 0:
            return np.inf
        if self.q0 <= 0:
            return -np.inf
        if self.e <= 0:
            return np.inf if self.q0 >= volume else -np.inf
        return self.p0 * (1.0 + (1.0 - volume / self.q0) / self.e)


@dataclass(frozen=True)
class ConstantElasticityDemand(DemandCurve):
    """``q0 * (p / p0) ** -e``.

    Examples
    --------
    >>> d = ConstantElasticityDemand(10.0, 100.0, 2.0)
    >>> round(float(d(20.0)), 6), round(d.max_price(25.0), 6)
    (25.0, 20.0)
    """

    p0: float
    q0: float
    e: float
    kind = "constant_elasticity"

    def __call__(self, price):
        p = np.maximum(np.asarray(price, dtype=float), 1e-300)
        return self.q0 * (p / self.p0) ** (-self.e)

    def max_price(self, volume: float) -> float:
        if volume <= 0:
            return np.inf
        if self.q0 <= 0:
            return -np.inf
        if self.e <= 0:
            return np.inf if self.q0 >= volume else -np.inf
        return self.p0 * (volume / self.q0) ** (-1.0 / self.e)


@dataclass(frozen=True)
class PointsDemand(DemandCurve):
    """Straight lines through ``(price, volume)`` points; flat outside them.

    Examples
    --------
    >>> d = PointsDemand((8.0, 10.0, 12.0), (120.0, 100.0, 60.0))
    >>> d([9.0, 11.0, 13.0]).tolist(), d.max_price(80.0)
    ([110.0, 80.0, 60.0], 11.0)
    """

    price: tuple
    volume: tuple
    kind = "points"

    def __call__(self, price):
        return np.interp(np.asarray(price, dtype=float), self.price, self.volume)

    def max_price(self, volume: float) -> float:
        p = np.asarray(self.price)
        q = np.asarray(self.volume)
        if volume <= q[-1]:
            return np.inf
        if volume > q[0]:
            return -np.inf
        # Last segment whose left end still reaches the volume; the line crosses it there.
        k = int(np.flatnonzero(q >= volume)[-1])
        if q[k] == volume or k + 1 >= len(q):
            return float(p[k])
        return float(p[k] + (q[k] - volume) * (p[k + 1] - p[k]) / (q[k] - q[k + 1]))
