"""Sparse candidate links: which (outlet, distributor) pairs a model may use at all."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..exceptions import SettingsError

__all__ = ["parse_candidates", "sparsify"]


def parse_candidates(candidates) -> tuple[int | None, float | None]:
    """``candidates`` setting -> ``(k, radius)``; ``None`` keeps every allowed link.

    An int is ``k`` nearest; a mapping may hold ``k`` and/or ``radius``.
    """
    if candidates is None:
        return None, None
    if isinstance(candidates, (int, np.integer)) and not isinstance(candidates, bool):
        k, radius = int(candidates), None
    elif isinstance(candidates, Mapping):
        unknown = sorted(set(candidates) - {"k", "radius"})
        if unknown:
            raise SettingsError(f"candidates accepts the keys 'k' and 'radius'; got unknown {unknown}.")
        k, radius = candidates.get("k"), candidates.get("radius")
    else:
        raise SettingsError(f"candidates must be None, an int (k nearest) or a dict with 'k' and/or "
                            f"'radius'; got {candidates!r}.")
    if k is not None and (int(k) != k or k < 1):
        raise SettingsError(f"candidates k must be a positive integer, got {k!r}.")
    if radius is not None and not radius > 0:
        raise SettingsError(f"candidates radius must be positive, got {radius!r}.")
    return (None if k is None else int(k)), (None if radius is None else float(radius))


def sparsify(allowed: np.ndarray, dist: np.ndarray, k: int | None, radius: float | None,
             keep_nearest: bool = True) -> np.ndarray:
    """Restrict ``allowed`` to the ``k`` nearest allowed distributors of each outlet and/or ``radius``.

    With ``keep_nearest`` an outlet whose every allowed link lies beyond ``radius``
    keeps its nearest one, so sparsity alone never makes an outlet unreachable.
    """
    out = allowed.copy()
    d = np.where(allowed, dist, np.inf)
    if k is not None and k < allowed.shape[1]:
        part = np.argpartition(d, k - 1, axis=1)[:, :k]
        mask = np.zeros_like(allowed)
        np.put_along_axis(mask, part, True, axis=1)
        out &= mask
    if radius is not None:
        near = d <= radius
        if keep_nearest:
            lonely = ~(out & near).any(axis=1) & allowed.any(axis=1)
            if lonely.any():
                near[lonely, np.argmin(d[lonely], axis=1)] = True
        out &= near
    return out
