"""Tiers feeding the plan: DistributorSelection keep/exclude, and incentive cells for BudgetAllocation."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..exceptions import SettingsError, ValidationError
from ..response import Hill

__all__ = ["selection_settings", "penalise_tiers", "incentive_cells"]


def _tiers(evaluation: pd.DataFrame, tier_column: str) -> pd.Series:
    if not isinstance(evaluation, pd.DataFrame) or tier_column not in evaluation.columns:
        raise ValidationError(f"evaluation must be a DataFrame with a {tier_column!r} column (the output of "
                              f"evaluate_partners or PartnerEvaluation.evaluate).", column=tier_column)
    return evaluation[tier_column].astype(str)


def _check_names(names, tiers: pd.Series, what: str) -> list:
    names = [names] if isinstance(names, str) else list(names or [])
    known = sorted(set(tiers.tolist()))
    cats = getattr(getattr(tiers, "cat", None), "categories", None)
    allowed = set(known) | (set(map(str, cats)) if cats is not None else set())
    unknown = [t for t in names if t not in allowed]
    if unknown:
        raise SettingsError(f"{what} names tiers {unknown} that no partner has; tiers present: {known}.")
    return names


def selection_settings(
    evaluation: pd.DataFrame,
    *,
    keep_tiers: Sequence[str] | str = ("A",),
    exclude_tiers: Sequence[str] | str = ("C",),
    tier_column: str = "tier",
) -> dict:
    """``keep`` and ``exclude`` lists for :class:`~channelopt.DistributorSelection` from partner tiers.

    Parameters
    ----------
    evaluation : DataFrame
        Indexed by ``distributor_id``, with a tier column.
    keep_tiers : str or sequence of str
        Tiers whose partners must stay signed (default the top tier ``"A"``).
    exclude_tiers : str or sequence of str
        Tiers whose partners are not signed again (default ``"C"``).

    Returns
    -------
    dict
        ``{"keep": [...], "exclude": [...]}``: pass as ``DistributorSelection(**settings, ...)``.

    Examples
    --------
    >>> import pandas as pd
    >>> from channelopt.partners import selection_settings
    >>> ev = pd.DataFrame({"tier": ["A", "C", "B", "A"]}, index=pd.Index(["d1", "d2", "d3", "d4"],
    ...                                                                    name="distributor_id"))
    >>> selection_settings(ev)
    {'keep': ['d1', 'd4'], 'exclude': ['d2']}
    """
    tiers = _tiers(evaluation, tier_column)
    keep = _check_names(keep_tiers, tiers, "keep_tiers")
    exclude = _check_names(exclude_tiers, tiers, "exclude_tiers")
    both = sorted(set(keep) & set(exclude))
    if both:
        raise SettingsError(f"tiers {both} are both kept and excluded.")
    return {"keep": evaluation.index[tiers.isin(keep).to_numpy()].tolist(),
            "exclude": evaluation.index[tiers.isin(exclude).to_numpy()].tolist()}


def penalise_tiers(net, evaluation: pd.DataFrame, penalties: dict, *, tier_column: str = "tier"):
    """A copy of ``net`` whose partners in the given tiers cost more to sign (a soft exclusion).

    ``fixed_cost`` of a partner in tier ``t`` is multiplied by ``1 + penalties[t]``, so that
    :class:`~channelopt.DistributorSelection` signs it only where it saves more than the
    penalty elsewhere. The penalty is a planning device: the plan's reported fixed cost
    includes it. ``net`` itself is not changed.

    Examples
    --------
    >>> import pandas as pd
    >>> import channelopt as co
    >>> net = co.ChannelNetwork.from_cost_matrix([[1, 4], [3, 1], [5, 2]], fixed_cost=[2, 3])
    >>> ev = pd.DataFrame({"tier": ["A", "C"]}, index=pd.Index(["d0", "d1"], name="distributor_id"))
    >>> co.partners.penalise_tiers(net, ev, {"C": 1.0}).distributors["fixed_cost"].tolist()
    [2.0, 6.0]
    """
    tiers = _tiers(evaluation, tier_column)
    names = _check_names(list(penalties), tiers, "penalties")
    for t in names:
        p = penalties[t]
        if not (isinstance(p, (int, float, np.number)) and np.isfinite(p) and p >= 0):
            raise SettingsError(f"penalties[{t!r}] must be a non-negative share (0.5 = 50% more), got {p!r}.")
    dists = net.distributors
    if dists is None or "fixed_cost" not in dists.columns:
        raise ValidationError("penalise_tiers needs distributors with a fixed_cost column.", column="fixed_cost")
    factor = tiers.map(lambda t: 1.0 + float(penalties.get(t, 0.0)))
    per = dists["distributor_id"].map(factor).fillna(1.0).to_numpy(dtype=float)
    new = net.copy()
    new.distributors = dists.assign(fixed_cost=dists["fixed_cost"].to_numpy(dtype=float) * per)
    return new


def incentive_cells(
    evaluation: pd.DataFrame,
    *,
    sales_column: str = "sales",
    target_column: str | None = None,
    min_uplift: float = 0.05,
    half_saturation: float = 0.1,
    tier_column: str = "tier",
    max_spend_share: float | None = None,
) -> pd.DataFrame:
    """Cells of an incentive budget, one per partner, with ``channel`` = its tier.

    Each partner's response to incentive spend ``s`` is ``Hill(headroom, k)``: extra
    sales saturating at its *headroom*, the gap between its DEA target and its actual
    sales (``target_<sales_column>`` from the evaluation), at least ``min_uplift`` of its
    sales; ``k = half_saturation x headroom`` is the spend that wins half of it. Solve
    with :class:`~channelopt.BudgetAllocation`; its ``channel_min`` / ``channel_max`` /
    ``channel_share`` settings then split the budget by tier.

    Parameters
    ----------
    evaluation : DataFrame
        Indexed by ``distributor_id`` with ``region_id``, the sales column and the tier.
    sales_column : str
        Actual sales (or load).
    target_column : str, optional
        Reachable sales (default ``target_<sales_column>`` when present, else none).
    min_uplift : float
        Smallest headroom as a share of sales (efficient partners have no DEA gap).
    half_saturation : float
        Spend winning half the headroom, as a share of the headroom.
    max_spend_share : float, optional
        Cap on each cell's spend as a share of its headroom.

    Returns
    -------
    DataFrame
        ``region_id``, ``channel`` (the tier), ``activity`` (``"incentive"``),
        ``distributor_id``, ``headroom``, ``curve`` and optionally ``max_spend``.

    Examples
    --------
    >>> import pandas as pd
    >>> import channelopt as co
    >>> ev = pd.DataFrame({"region_id": ["r1", "r2", "r2"], "sales": [100.0, 80.0, 50.0],
    ...                    "target_sales": [100.0, 120.0, 90.0], "tier": ["A", "B", "C"]},
    ...                   index=pd.Index(["d1", "d2", "d3"], name="distributor_id"))
    >>> cells = co.partners.incentive_cells(ev)
    >>> print(cells[["distributor_id", "channel", "headroom"]].to_string(index=False))
    distributor_id channel  headroom
                d1       A       5.0
                d2       B      40.0
                d3       C      40.0
    >>> plan = co.BudgetAllocation(total=10, cells=cells, channel_max={"C": 1.0}).solve()
    >>> plan.allocations.groupby("channel")["spend"].sum().round(2).to_dict()
    {'A': 0.97, 'B': 8.03, 'C': 1.0}
    """
    tiers = _tiers(evaluation, tier_column)
    for col in (sales_column, "region_id"):
        if col not in evaluation.columns:
            raise ValidationError(f"evaluation lacks column {col!r} (incentive cells need each partner's region and "
                                  f"sales).", column=col)
    sales = pd.to_numeric(evaluation[sales_column], errors="coerce").to_numpy(dtype=float)
    if not np.isfinite(sales).all() or (sales < 0).any():
        bad = evaluation.index[~np.isfinite(sales) | (sales < 0)].tolist()
        raise ValidationError(f"{sales_column} must be non-negative numbers; partners {bad[:10]} are not.",
                              column=sales_column, ids=bad)
    target_column = target_column or (f"target_{sales_column}" if f"target_{sales_column}" in evaluation else None)
    target = (pd.to_numeric(evaluation[target_column], errors="coerce").to_numpy(dtype=float)
              if target_column else sales.copy())
    target = np.where(np.isfinite(target), target, sales)
    if not (min_uplift >= 0 and half_saturation > 0):
        raise SettingsError("min_uplift must be >= 0 and half_saturation > 0 (shares of sales / headroom).")
    headroom = np.maximum(target - sales, min_uplift * sales)
    usable = headroom > 0
    cells = pd.DataFrame({
        "region_id": evaluation["region_id"].to_numpy()[usable],
        "channel": tiers.to_numpy()[usable],
        "activity": "incentive",
        "distributor_id": evaluation.index.to_numpy()[usable],
        "headroom": headroom[usable],
    })
    cells["curve"] = [Hill(float(h), float(half_saturation * h)) for h in headroom[usable].tolist()]
    if max_spend_share is not None:
        cells["max_spend"] = max_spend_share * cells["headroom"]
    return cells
