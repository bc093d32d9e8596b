"""The one JSON helper: plans, settings and scenario records as JSON-ready Python objects."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["jsonable"]


def jsonable(value: Any, *, frames: str = "dict") -> Any:
    """``value`` as JSON-ready Python objects (non-finite floats become None).

    Models (anything with ``get_params``) become ``{"model": name, "params": ...}``;
    DataFrames their dict (``frames="dict"``) or just their shape (``frames="name"``,
    for short records such as a scenario's settings); other objects with ``to_dict``
    their dict; anything else its repr.

    Examples
    --------
    >>> jsonable({"a": np.float64(1.5), "b": (1, float("nan")), 3: np.int64(2)})
    {'a': 1.5, 'b': [1, None], '3': 2}
    """
    if frames == "name" and isinstance(value, pd.DataFrame):
        return f"<DataFrame {value.shape[0]}x{value.shape[1]}>"
    if isinstance(value, Mapping):
        return {str(k): jsonable(v, frames=frames) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v, frames=frames) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, "get_params") and callable(value.get_params):
        return {"model": type(value).__name__, "params": jsonable(value.get_params(), frames=frames)}
    if hasattr(value, "to_dict") and callable(value.to_dict):
        return jsonable(value.to_dict(), frames=frames)
    return repr(value)
