"""The ``candidates`` setting: which (outlet, distributor) links a model may use at all.

The links themselves come from :meth:`channelopt.ChannelNetwork.links` (k nearest and/or a
radius, built a chunk of outlets at a time, no n x m array).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..exceptions import SettingsError

__all__ = ["parse_candidates"]


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
