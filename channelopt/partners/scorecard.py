"""scorecard: a weighted KPI score per partner, with each KPI's contribution shown."""

from __future__ import annotations

import difflib
from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..exceptions import SettingsError, ValidationError, format_ids

__all__ = ["scorecard"]

_NORMALISE = ("minmax", "zscore", "rank")
_DIRECTIONS = ("higher", "lower")


def _close(word, options) -> str:
    c = difflib.get_close_matches(str(word), [str(o) for o in options], n=1)
    return f" Did you mean {c[0]!r}?" if c else ""


def _points(x: np.ndarray, how: str) -> np.ndarray:
    """Normalised points, higher is better (the caller negates 'lower' KPIs first)."""
    n = len(x)
    if how == "minmax":
        lo, hi = x.min(), x.max()
        return (x - lo) / (hi - lo) if hi > lo else np.zeros(n)
    if how == "zscore":
        sd = x.std()
        return (x - x.mean()) / sd if sd > 0 else np.zeros(n)
    ranks = pd.Series(x).rank(method="average").to_numpy()
    return (ranks - 1.0) / (n - 1) if n > 1 else np.ones(n)


def scorecard(
    df: pd.DataFrame,
    kpis: Mapping[str, float],
    directions: Mapping[str, str] | None = None,
    normalise: str = "minmax",
) -> pd.DataFrame:
    """Score partners on weighted KPIs and show what each KPI contributed.

    Parameters
    ----------
    df : DataFrame
        One row per partner holding the KPI columns.
    kpis : mapping column -> weight
        Weights, non-negative; they are rescaled to sum to 1.
    directions : mapping column -> {"higher", "lower"}, optional
        Whether more is better (default ``"higher"``: sales, growth) or worse (cost).
    normalise : {"minmax", "zscore", "rank"}
        ``"minmax"``: ``(x - min) / (max - min)`` in [0, 1]; ``"zscore"``: ``(x - mean) / std``
        (population std); ``"rank"``: ``(rank - 1) / (n - 1)`` with average ranks for ties.
        A ``"lower"`` KPI is negated before normalising. A KPI equal for every partner
        gives everyone 0 points (it does not discriminate).

    Returns
    -------
    DataFrame
        Indexed like ``df``: ``<kpi>_points`` (normalised), ``<kpi>_contribution``
        (weight share x points), ``score`` (sum of the contributions) and ``rank``
        (1 = best, ties share the better rank).

    Examples
    --------
    >>> import pandas as pd
    >>> from channelopt.partners import scorecard
    >>> df = pd.DataFrame({"sales": [100, 300, 200], "cost": [10, 30, 10]}, index=["d1", "d2", "d3"])
    >>> card = scorecard(df, {"sales": 3, "cost": 1}, directions={"cost": "lower"})
    >>> print(card[["sales_contribution", "cost_contribution", "score"]].round(3).to_string())
        sales_contribution  cost_contribution  score
    d1               0.000               0.25  0.250
    d2               0.750               0.00  0.750
    d3               0.375               0.25  0.625
    >>> card["rank"].tolist()
    [3, 1, 2]
    """
    if not isinstance(df, pd.DataFrame):
        raise ValidationError(f"scorecard needs a DataFrame with one row per partner, got {type(df).__name__}.")
    how = str(normalise).lower()
    if how not in _NORMALISE:
        raise SettingsError(f"normalise must be one of {list(_NORMALISE)}, got {normalise!r}.{_close(how, _NORMALISE)}")
    if not isinstance(kpis, Mapping) or not kpis:
        raise SettingsError("kpis must be a non-empty mapping {column: weight}, e.g. {'sales': 0.6, 'growth': 0.4}.")
    directions = dict(directions or {})
    for col in list(kpis) + list(directions):
        if col not in df.columns:
            raise ValidationError(f"KPI column {col!r} is not in the frame.{_close(col, df.columns)} "
                                  f"Columns: {list(map(str, df.columns))}.", column=col)
    extra = sorted(set(directions) - set(kpis))
    if extra:
        raise SettingsError(f"directions name {extra}, which have no weight in kpis.")
    weights = {}
    for col, w in kpis.items():
        try:
            fw = float(w)
        except (TypeError, ValueError):
            raise SettingsError(f"kpis[{col!r}] must be a number, got {w!r}.") from None
        if not np.isfinite(fw) or fw < 0:
            raise SettingsError(f"kpis[{col!r}] must be a non-negative weight, got {w!r}.")
        weights[col] = fw
    total = sum(weights.values())
    if total <= 0:
        raise SettingsError("kpis weights sum to 0: give at least one positive weight.")
    out = pd.DataFrame(index=df.index.copy())
    score = np.zeros(len(df))
    for col, w in weights.items():
        d = str(directions.get(col, "higher")).lower()
        if d not in _DIRECTIONS:
            raise SettingsError(f"directions[{col!r}] must be 'higher' or 'lower', got {directions[col]!r}."
                                f"{_close(d, _DIRECTIONS)}")
        x = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)
        bad = np.flatnonzero(~np.isfinite(x))
        if len(bad):
            ids = df.index[bad].tolist()
            raise ValidationError(f"KPI {col!r} must be a finite number for every partner; {format_ids(ids)} are "
                                  f"not. Fill or drop them.", column=col, ids=ids)
        pts = _points(-x if d == "lower" else x, how)
        out[f"{col}_points"] = pts
        out[f"{col}_contribution"] = w / total * pts
        score = score + w / total * pts
    out["score"] = score
    out["rank"] = out["score"].rank(ascending=False, method="min").astype(int)
    return out
