"""Grid expansion: one scenario per combination of the values a scenario file's ``grid`` lists."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from .spec import _FIELDS

__all__ = ["grid_axes", "expand"]


def grid_axes(grid: Mapping, fail: Callable[[str, str], Exception]) -> list[tuple[str, str, list]]:
    """``(key, dotted path in the scenario, values)`` per grid axis; ``fail(key, message)`` makes the error.

    Examples
    --------
    >>> grid_axes({"p": [2, 4], "solver.time_limit": [5]}, ValueError)
    [('p', 'params.p', [2, 4]), ('solver.time_limit', 'solver.time_limit', [5])]
    """
    axes = []
    for k, values in grid.items():
        if not isinstance(values, list) or not values:
            raise fail(f"grid.{k}", f"must be a non-empty list of values, got {values!r}.")
        head = k.split(".")[0]
        path = k if head in _FIELDS and "." in k or k == "seed" else f"params.{k}"
        if head in ("name", "tags", "model") and "." not in k:
            raise fail(f"grid.{k}", f"{k!r} cannot vary in a grid; write one override per {k}.")
        axes.append((k, path, values))
    return axes


def expand(merged: Mapping, axes: list[tuple[str, str, list]], stem: str) -> Iterator[dict[str, Any]]:
    """One scenario entry per combination of the axes' values, named ``stem[k=v,...]`` and tagged.

    Examples
    --------
    >>> [e["name"] for e in expand({"params": {}}, [("p", "params.p", [2, 4])], "sweep")]
    ['sweep[p=2]', 'sweep[p=4]']
    """
    combos = itertools.product(*[vals for _, _, vals in axes]) if axes else [()]
    for combo in combos:
        entry = copy.deepcopy(dict(merged))
        tags = dict(entry.get("tags") or {})
        label = []
        for (k, path, _), value in zip(axes, combo):
            _set_path(entry, path, value)
            tags[k] = value
            label.append(f"{k.split('.')[-1]}={value}")
        entry["tags"] = tags
        entry["name"] = stem + (f"[{','.join(label)}]" if label else "")
        yield entry


def _set_path(d: dict, dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    cur = d
    for p in parts[:-1]:
        nxt = cur.get(p)
        cur[p] = nxt = dict(nxt) if isinstance(nxt, Mapping) else {}
        cur = nxt
    cur[parts[-1]] = value
