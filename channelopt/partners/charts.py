"""Charts and tables of a partner evaluation: efficiency frontier, tier map, improvement targets.

Every function takes the frame returned by :func:`~channelopt.evaluate_partners` (or
:meth:`~channelopt.PartnerEvaluation.evaluate` joined with its data) and draws on a
given matplotlib ``Axes`` or a new one; nothing here solves anything.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..exceptions import ValidationError

__all__ = ["attach_evaluation", "plot_frontier", "plot_tier_map", "report_figures", "targets_table", "tier_table"]

_TIER_COLOURS = ["#1a9850", "#fdae61", "#d73027", "#4575b4", "#984ea3", "#999999"]


def _axes(ax, figsize):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize)
    return ax


def _need(frame: pd.DataFrame, cols: Sequence[str]) -> None:
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise ValidationError(f"the evaluation lacks column(s) {missing}; pass the frame of evaluate_partners, or "
                              f"join PartnerEvaluation.evaluate's result with its data.", column=missing[0])


def _tier_colours(tiers: pd.Series) -> dict:
    names = list(tiers.cat.categories) if hasattr(tiers, "cat") else sorted(pd.unique(tiers.astype(str)))
    return {t: _TIER_COLOURS[i % len(_TIER_COLOURS)] for i, t in enumerate(names)}


def _upper_hull(points: np.ndarray) -> np.ndarray:
    """The north-east boundary of the points' convex hull, with its drops to both axes."""
    pts = points[np.lexsort((points[:, 1], points[:, 0]))]      # x rising, ties by y rising
    chain: list = []
    for p in pts:                                                 # upper hull, Andrew's monotone chain
        while len(chain) >= 2:
            (ox, oy), (ax_, ay) = chain[-2], chain[-1]
            if (ax_ - ox) * (p[1] - oy) - (ay - oy) * (p[0] - ox) >= 0:
                chain.pop()
            else:
                break
        chain.append((float(p[0]), float(p[1])))
    hull = np.array(chain)
    # From the highest point rightwards the chain falls: that part is the frontier.
    top = int(np.flatnonzero(hull[:, 1] == hull[:, 1].max())[-1])
    hull = hull[top:]
    return np.vstack([[0.0, hull[0, 1]], hull, [hull[-1, 0], 0.0]])


def plot_frontier(evaluation: pd.DataFrame, *, input: str, outputs: tuple[str, str], ax=None, label: int = 5,
                  figsize=(7, 5.5)):
    """Two outputs per unit of one input, partners coloured by tier, with the CRS frontier.

    Each partner is a point ``(y_a / x, y_b / x)``. Under constant returns to scale with
    one input, the frontier is the north-east hull of these points: a partner's radial
    distance to it is its CCR efficiency on these three columns (the chart's frontier is
    drawn from them alone, whatever model rated the partners).

    Parameters
    ----------
    evaluation : DataFrame
        With the input, both outputs and ``tier`` (and ``efficiency`` for the labels).
    input : str
    outputs : (str, str)
    label : int
        Label this many least efficient partners.

    Returns
    -------
    matplotlib Axes
    """
    a, b = outputs
    _need(evaluation, [input, a, b, "tier"])
    x = evaluation[input].to_numpy(dtype=float)
    ok = x > 0
    ev = evaluation[ok]
    pa = ev[a].to_numpy(dtype=float) / x[ok]
    pb = ev[b].to_numpy(dtype=float) / x[ok]
    ax = _axes(ax, figsize)
    colours = _tier_colours(evaluation["tier"])
    tiers = ev["tier"].astype(str)
    for t, c in colours.items():
        sel = (tiers == str(t)).to_numpy()
        if sel.any():
            ax.scatter(pa[sel], pb[sel], s=28, color=c, label=f"tier {t} ({int(sel.sum())})", edgecolor="k",
                       linewidth=0.3, zorder=3)
    if len(pa) >= 1:
        hull = _upper_hull(np.column_stack([pa, pb]))
        ax.plot(hull[:, 0], hull[:, 1], color="#333333", lw=1.2, ls="--", label="CRS frontier", zorder=2)
    if label and "efficiency" in ev.columns:
        worst = ev["efficiency"].to_numpy(dtype=float).argsort()[:label]
        for k in worst.tolist():
            ax.annotate(str(ev.index[k]), (pa[k], pb[k]), fontsize=7, xytext=(4, 4), textcoords="offset points")
    ax.set_xlabel(f"{a} per {input}")
    ax.set_ylabel(f"{b} per {input}")
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8, loc="lower left")
    ax.set_title(f"Efficiency frontier: {a} and {b} per {input} ({len(ev)} partners)", fontsize=10)
    return ax


def plot_tier_map(evaluation: pd.DataFrame, net, *, ax=None, figsize=(8, 7)):
    """Partners on the map, coloured by tier, over the network's regions.

    Parameters
    ----------
    evaluation : DataFrame
        Indexed by ``distributor_id``, with ``tier``.
    net : ChannelNetwork
        With distributor geometry (and region polygons, drawn in grey when present).

    Returns
    -------
    matplotlib Axes
    """
    _need(evaluation, ["tier"])
    dists = net.distributors
    xy = net.distributor_xy()
    if xy is None:
        raise ValidationError("plot_tier_map needs distributor locations (geometry) in the network.")
    pos = pd.Index(dists["distributor_id"]).get_indexer(evaluation.index)
    if (pos < 0).any():
        miss = evaluation.index[pos < 0].tolist()
        raise ValidationError(f"the evaluation names distributors {miss[:10]} that the network does not have.",
                              ids=miss)
    ax = _axes(ax, figsize)
    regions = getattr(net, "regions", None)
    if regions is not None and "geometry" in getattr(regions, "columns", []):
        try:
            regions.plot(ax=ax, color="#f2f2f2", edgecolor="#bbbbbb", linewidth=0.2)
        except (AttributeError, TypeError, ValueError):  # a plain frame without GeoPandas plotting
            pass
    colours = _tier_colours(evaluation["tier"])
    tiers = evaluation["tier"].astype(str).to_numpy()
    size = 20.0
    if "sales" in evaluation.columns:
        s = evaluation["sales"].to_numpy(dtype=float)
        size = 15.0 + 120.0 * s / s.max() if s.max() > 0 else 20.0
    for t, c in colours.items():
        sel = tiers == str(t)
        if sel.any():
            ax.scatter(xy[pos[sel], 0], xy[pos[sel], 1], s=size[sel] if np.ndim(size) else size, color=c,
                       edgecolor="k", linewidth=0.3, label=f"tier {t} ({int(sel.sum())})", zorder=3)
    ax.legend(fontsize=8, loc="lower left")
    ax.set_title(f"Partner tiers ({len(evaluation)} partners{', size = sales' if np.ndim(size) else ''})",
                 fontsize=10)
    ax.set_axis_off()
    return ax


def targets_table(evaluation: pd.DataFrame, columns: Sequence[str] | None = None, *,
                  top: int | None = None) -> pd.DataFrame:
    """What each inefficient partner would have to reach: actual, target and gap per column.

    Parameters
    ----------
    evaluation : DataFrame
        With ``efficiency``, ``tier`` and, for each column, the actual value and ``target_<col>``.
    columns : sequence of str, optional
        Default: every column with a ``target_`` twin.
    top : int, optional
        Keep the ``top`` least efficient partners.

    Returns
    -------
    DataFrame
        Least efficient first: ``efficiency``, ``tier``, then per column ``<col>``,
        ``target_<col>`` and ``<col>_change`` (target / actual - 1; negative for inputs to cut).

    Examples
    --------
    >>> import pandas as pd
    >>> import channelopt as co
    >>> df = pd.DataFrame({"staff": [4, 7, 8, 4, 2, 10], "area": [3, 3, 1, 2, 4, 1], "sales": 1.0},
    ...                   index=list("ABCDEF"))
    >>> ev = df.join(co.PartnerEvaluation(inputs=["staff", "area"], outputs=["sales"]).evaluate(df))
    >>> print(co.partners.targets_table(ev, ["staff", "area"]).round(3).to_string())
       efficiency tier  staff  target_staff  staff_change  area  target_area  area_change
    B       0.632    C      7         4.421        -0.368     3        1.895       -0.368
    A       0.857    B      4         3.429        -0.143     3        2.571       -0.143
    """
    _need(evaluation, ["efficiency", "tier"])
    if columns is None:
        columns = [c[len("target_"):] for c in evaluation.columns
                   if c.startswith("target_") and c[len("target_"):] in evaluation.columns]
    _need(evaluation, [c for col in columns for c in (col, f"target_{col}")])
    eff = evaluation["efficiency"]
    rows = evaluation[(eff < 1.0).to_numpy()]
    rows = rows.sort_values("efficiency", kind="stable")
    if top is not None:
        rows = rows.head(top)
    out = rows[["efficiency", "tier"]].copy()
    for col in columns:
        actual = rows[col].astype(float)
        target = rows[f"target_{col}"].astype(float)
        out[col] = rows[col]
        out[f"target_{col}"] = target
        out[f"{col}_change"] = np.where(actual > 0, target / actual.where(actual > 0, 1.0) - 1.0, np.nan)
    return out


def tier_table(evaluation: pd.DataFrame, columns: Sequence[str] = ()) -> pd.DataFrame:
    """Partners per tier, with the mean efficiency and the sum of ``columns`` (e.g. sales).

    Examples
    --------
    >>> import pandas as pd
    >>> import channelopt as co
    >>> ev = pd.DataFrame({"efficiency": [1.0, 0.9, 0.5], "sales": [10.0, 5.0, 1.0], "tier": ["A", "B", "C"]})
    >>> co.partners.tier_table(ev, ["sales"]).to_dict("index")["A"]
    {'partners': 1, 'share': 0.3333333333333333, 'mean_efficiency': 1.0, 'sales': 10.0}
    """
    _need(evaluation, ["tier", "efficiency", *columns])
    g = evaluation.groupby(evaluation["tier"].astype(str), sort=True, observed=True)
    out = pd.DataFrame({"partners": g.size()})
    out["share"] = out["partners"] / len(evaluation)
    out["mean_efficiency"] = g["efficiency"].mean()
    for col in columns:
        out[col] = g[col].sum()
    out.index.name = "tier"
    return out


def attach_evaluation(plan, evaluation: pd.DataFrame, *, columns: Sequence[str] = ("sales",)):
    """Put a partner evaluation into ``plan.tables`` so that the HTML report shows it.

    Adds ``partner_evaluation`` (the frame), ``partner_tiers`` (:func:`tier_table`) and
    ``partner_targets`` (:func:`targets_table`); ``channelopt.report`` then draws the tier
    map and the frontier chart. Returns the same plan.
    """
    _need(evaluation, ["tier", "efficiency"])
    plan.tables["partner_evaluation"] = evaluation
    plan.tables["partner_tiers"] = tier_table(evaluation, [c for c in columns if c in evaluation.columns])
    plan.tables["partner_targets"] = targets_table(evaluation)
    return plan


def report_figures(plan) -> list:
    """``(figure, caption, id)`` for the report when ``plan.tables`` holds a partner evaluation."""
    import matplotlib.pyplot as plt

    ev = plan.tables.get("partner_evaluation")
    if ev is None or "tier" not in ev.columns:
        return []
    out = []
    if plan.network is not None and plan.network.distributor_xy() is not None:
        fig, ax = plt.subplots(figsize=(8, 7))
        plot_tier_map(ev, plan.network, ax=ax)
        out.append((fig, "Partner tiers on the map (dot size is sales when known).", "partner-tiers"))
    dea = ev.attrs.get("dea", {})
    ins, outs = dea.get("inputs", []), dea.get("outputs", [])
    if ins and len(outs) >= 2:
        fig, ax = plt.subplots(figsize=(7, 5.5))
        plot_frontier(ev, input=ins[0], outputs=(outs[0], outs[1]), ax=ax)
        out.append((fig, f"Efficiency frontier: {outs[0]} and {outs[1]} per {ins[0]}, partners coloured by tier.",
                    "partner-frontier"))
    return out
