"""Channel portfolios: the fewest distributors whose channel lists cover every channel present."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["min_distributors_for_channels"]


def min_distributors_for_channels(net, excluded: np.ndarray, forced: np.ndarray,
                                   max_channels: int = 12) -> int | None:
    """Fewest open distributors (the ``forced`` ones included) whose portfolios cover every channel present.

    Breadth-first search over channel masks; ``None`` when there are too many channel
    types for that to be cheap (the solver then finds any conflict itself).
    """
    channels = net._column("outlets", "channel")  # a deferred outlets frame stays unmade
    kinds = pd.unique(channels)
    if len(kinds) > max_channels:
        return None
    _, uniq, table = net.channel_table()  # channels x distributors, no n x m array
    compat = table[[int(np.flatnonzero(uniq == c)[0]) for c in kinds]]

    def mask(j: int) -> int:
        return int(sum(1 << b for b in np.flatnonzero(compat[:, j])))

    start = 0
    for j in np.flatnonzero(forced):
        start |= mask(j)
    masks = {mask(j) for j in np.flatnonzero(~excluded & ~forced)}
    masks.discard(0)
    full = (1 << len(kinds)) - 1
    base = int(forced.sum())
    frontier, seen, steps = {start}, {start}, 0
    while frontier:
        if full in frontier:
            return base + steps
        steps += 1
        frontier = {f | m for f in frontier for m in masks} - seen
        seen |= frontier
    return None
