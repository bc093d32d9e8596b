"""Comparing plans: metrics side by side, and the Pareto front of a table of plans or scenarios."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from .exceptions import SettingsError

__all__ = ["compare", "pareto_front", "pareto_mask"]


def compare(plans: Sequence | Mapping, names: Sequence[str] | None = None) -> pd.DataFrame:
    """Metrics of several plans side by side: one row per plan.

    Parameters
    ----------
    plans : sequence or mapping of Plan
        Anything with ``summary()`` (a mapping's keys name the rows).
    names : sequence of str, optional
        Row names for a sequence (default ``plan0, plan1, ...``).

    Examples
    --------
    >>> import channelopt as co
    >>> net = co.ChannelNetwork.from_cost_matrix([[1, 4], [3, 1], [5, 2]], fixed_cost=[2, 3])
    >>> a = co.DistributorSelection(objective="p_median", p=1).solve(net)
    >>> b = co.DistributorSelection(objective="p_median", p=2).solve(net)
    >>> co.compare({"p1": a, "p2": b})["objective"].to_dict()
    {'p1': 7.0, 'p2': 4.0}
    """
    if isinstance(plans, Mapping):
        names = list(plans.keys())
        plans = list(plans.values())
    plans = list(plans)
    if names is None:
        names = [f"plan{i}" for i in range(len(plans))]
    out = pd.DataFrame([p.summary().to_dict() for p in plans])
    out.index = pd.Index(list(names), name="plan")
    for col in out.columns:
        if col not in ("status", "kind"):
            out[col] = pd.to_numeric(out[col], errors="coerce")
    return out


def pareto_mask(frame: pd.DataFrame, maximize: Sequence[str] = (), minimize: Sequence[str] = ()) -> pd.Series:
    """Which rows are non-dominated on the given columns (a boolean Series on ``frame.index``).

    A row is dominated when another row is at least as good on every column and
    strictly better on one. Rows with a missing value in those columns are never on
    the front and dominate nothing.

    Raises
    ------
    SettingsError
        No column given, or a column ``frame`` does not have.

    Examples
    --------
    >>> f = pd.DataFrame({"total_cost": [1, 2, 3, 2], "weighted_distribution": [0.5, 0.7, 0.9, 0.6]})
    >>> pareto_mask(f, maximize=["weighted_distribution"], minimize=["total_cost"]).tolist()
    [True, True, True, False]
    """
    maximize, minimize = list(maximize), list(minimize)
    cols = maximize + minimize
    if not cols:
        raise SettingsError("pareto_front needs at least one column in maximize= or minimize=.")
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise SettingsError(f"pareto_front: no column {missing[0]!r}; available: {list(frame.columns)}.")
    vals = np.column_stack([pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=float)
                            * (-1.0 if c in maximize else 1.0) for c in cols]) if len(frame) \
        else np.zeros((0, len(cols)))
    ok = np.isfinite(vals).all(axis=1)
    # Minimisation on every column: j dominates i when j <= i everywhere and < somewhere.
    le = (vals[None, :, :] <= vals[:, None, :]).all(axis=2)
    lt = (vals[None, :, :] < vals[:, None, :]).any(axis=2)
    dominated = (le & lt & ok[None, :]).any(axis=1)
    return pd.Series(ok & ~dominated, index=frame.index, name="pareto")


def pareto_front(frame: pd.DataFrame, maximize: Sequence[str] = (), minimize: Sequence[str] = (),
                 *, solved_only: bool = True) -> pd.DataFrame:
    """The non-dominated rows of ``frame`` on the given columns.

    A row is dominated when another row is at least as good on every column and
    strictly better on one. Rows with a missing value in those columns (and, with
    ``solved_only``, rows whose status is not optimal/feasible) are left out.

    Parameters
    ----------
    frame : DataFrame
        E.g. the output of :func:`~channelopt.run_scenarios`, :func:`~channelopt.compare_results`
        or :func:`compare`.
    maximize, minimize : sequence of str
        Columns to maximise / minimise.

    Returns
    -------
    DataFrame
        The Pareto-optimal rows, sorted by the first column given.

    Raises
    ------
    SettingsError
        No column given, or a column ``frame`` does not have.

    Examples
    --------
    >>> df = pd.DataFrame({"name": list("abcd"), "status": "optimal",
    ...                    "weighted_distribution": [0.9, 0.8, 0.95, 0.7], "total_cost": [10, 12, 20, 5]})
    >>> pareto_front(df, maximize=["weighted_distribution"], minimize=["total_cost"])["name"].tolist()
    ['c', 'a', 'd']
    """
    cols = list(maximize) + list(minimize)
    pareto_mask(frame.iloc[:0], maximize, minimize)  # names the missing column before anything else
    sub = frame
    if solved_only and "status" in frame:
        sub = frame[frame["status"].isin(["optimal", "feasible"])]
    front = sub[pareto_mask(sub, maximize, minimize)]
    first = cols[0]
    return front.sort_values(first, ascending=first not in list(maximize), kind="stable")
