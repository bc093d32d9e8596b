"""Maps and charts of plans: matplotlib figures and a folium map.

Every function takes a :class:`~channelopt.Plan` (or plans) and draws on a given
matplotlib ``Axes`` or a new one; nothing here solves or changes a plan. Maps work on
polygon regions and on points-only networks (regions placed at their outlets' mean).

Functions
---------
plot_plan
    The plan on a map: territories coloured or regions shaded by coverage, open
    distributors as stars, closed candidates as crosses, service links as lines.
plot_breadth_depth
    Breadth (channel breadth) against depth (penetration) per region.
plot_balance
    Workload (or any balanced attribute) per territory with the tolerance band.
plot_response
    Budget response curves with the chosen spend marked, and marginal ROI per cell.
plot_pareto
    Weighted distribution against cost over scenarios, with the non-dominated front.
explore
    The same map as :func:`plot_plan`, interactive (folium), with tooltips.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .comparison import compare, pareto_mask
from .exceptions import SettingsError

__all__ = [
    "plot_plan",
    "plot_breadth_depth",
    "plot_balance",
    "plot_response",
    "plot_pareto",
    "explore",
]

_COVERAGE = {"weighted": "weighted_distribution", "numeric": "numeric_distribution"}
_OPEN, _CLOSED, _LINK = "#d62728", "#8c8c8c", "#3b3b3b"


def _axes(ax, figsize):
    from .fonts import use_cjk_font

    use_cjk_font()  # Chinese region, outlet and distributor names draw as text, not boxes
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize)
    return ax


def _coverage_column(coverage: str | None, column: str | None) -> str:
    if column is not None:
        return column
    if coverage not in _COVERAGE:
        raise SettingsError(f"coverage must be one of {sorted(_COVERAGE)}, got {coverage!r}.")
    return _COVERAGE[coverage]


def _title(plan) -> str:
    info = plan.info
    obj = f"{info.objective:,.4g}" if info.objective is not None and math.isfinite(info.objective) else "n/a"
    gap = f"{info.gap:.2%}" if info.gap is not None and math.isfinite(info.gap) else "n/a"
    return f"{plan.kind.replace('_', ' ')}: {info.status}, objective {obj}, gap {gap}"


def _territory_colours(labels: pd.Series) -> tuple[pd.Series, dict]:
    """A stable colour per territory label (tab20 cycled), for maps and bars alike."""
    import matplotlib

    cmap = matplotlib.colormaps["tab20"]
    uniq = sorted(pd.unique(labels.dropna()).tolist(), key=str)
    lut = {lab: matplotlib.colors.to_hex(cmap(i % 20)) for i, lab in enumerate(uniq)}
    return labels.map(lut).fillna("#eeeeee"), lut


def plot_plan(plan, ax=None, *, coverage: str = "weighted", column: str | None = None, links: bool = True,
              outlets: bool | None = None, legend: bool = True, figsize=(9, 8), **kwargs: Any):
    """Draw a plan on a map.

    Territories are coloured where the plan has them; otherwise regions are shaded by
    coverage. Open distributors are red stars, closed candidates grey crosses, and
    service links thin lines. Points-only networks draw each region as a dot at its
    outlets' mean, sized by potential.

    Parameters
    ----------
    plan : Plan
    ax : matplotlib Axes, optional
    coverage : {"weighted", "numeric"}
        Shade regions by weighted (potential) or numeric (outlet count) distribution.
    column : str, optional
        Any column of ``plan.metrics.by_region`` to shade by instead.
    links : bool
        Draw service links (skipped above 50,000 links).
    outlets : bool, optional
        Draw outlets as small dots, covered dark and uncovered hollow. Default: on for
        points-only networks, off for polygons.
    legend : bool
    figsize : tuple
    **kwargs
        Passed to ``GeoDataFrame.plot`` for the regions.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import channelopt as co
    >>> net = co.make_synthetic(6, 60, 3, seed=1)
    >>> plan = co.DistributorSelection(objective="min_cost").solve(net)
    >>> ax = plan.plot(coverage="numeric")
    >>> ax.get_title().startswith("distributor selection: optimal")
    True
    """
    ax = _axes(ax, figsize)
    col = _coverage_column(coverage, column)
    layers = plan.to_geodataframes()
    if not layers:
        # A cost-matrix network has no locations: fall back to a bar chart of the column.
        table = plan.metrics.by_region
        if table is not None and col in table.columns:
            table[col].plot.bar(ax=ax, color="#2ca25f")
            ax.set_ylabel(col.replace("_", " "))
        ax.set_title(f"{plan.kind.replace('_', ' ')}: no geometry to map", fontsize=10)
        return ax
    from ._plan_geo import has_polygons

    regions = layers["regions"]
    polygons = has_polygons(regions)
    has_terr = "territory" in regions.columns and regions["territory"].notna().any()
    if outlets is None:
        outlets = not polygons
    if polygons:
        if has_terr:
            colours, _ = _territory_colours(regions["territory"])
            regions.plot(ax=ax, color=colours.tolist(), edgecolor="white", linewidth=0.3, **kwargs)
        elif col in regions.columns:
            regions.plot(ax=ax, column=col, cmap="YlGn", vmin=0, vmax=1 if "distribution" in col else None,
                         edgecolor="white", linewidth=0.3, legend=legend,
                         legend_kwds={"label": col.replace("_", " "), "shrink": 0.6},
                         missing_kwds={"color": "#eeeeee"}, **kwargs)
        else:
            regions.plot(ax=ax, color="#dddddd", edgecolor="white", linewidth=0.3, **kwargs)
    if links and "links" in layers and len(layers["links"]) <= 50_000:
        layers["links"].plot(ax=ax, color=_LINK, linewidth=0.2, alpha=0.35, zorder=2)
    if outlets and "outlets" in layers:
        out = layers["outlets"]
        if has_terr and not polygons and "territory" in out.columns:
            colours, _ = _territory_colours(out["territory"])
            out.plot(ax=ax, color=colours.tolist(), markersize=6, zorder=3)
        elif "covered" in out.columns:
            cov = out["covered"].fillna(False).astype(bool)
            out[cov].plot(ax=ax, color="#1b7837", markersize=5, zorder=3)
            if (~cov).any():
                out[~cov].plot(ax=ax, facecolor="none", edgecolor="#762a83", markersize=7, linewidth=0.5, zorder=3)
        else:
            out.plot(ax=ax, color="#555555", markersize=4, zorder=3)
    if not polygons:
        pts = regions[~regions.geometry.is_empty & regions.geometry.notna()]
        size = 30.0
        if "potential" in pts.columns and pts["potential"].max() > 0:
            size = (20 + 300 * pts["potential"].fillna(0) / pts["potential"].max()).to_numpy()
        if has_terr:
            colours, _ = _territory_colours(pts["territory"])
            pts.plot(ax=ax, color=colours.tolist(), markersize=size, edgecolor="black", linewidth=0.4,
                     alpha=0.8, zorder=4)
        elif col in pts.columns:
            pts.plot(ax=ax, column=col, cmap="YlGn", vmin=0, vmax=1 if "distribution" in col else None,
                     markersize=size, edgecolor="black", linewidth=0.4, alpha=0.85, legend=legend,
                     legend_kwds={"label": col.replace("_", " "), "shrink": 0.6}, zorder=4)
    if "distributors" in layers:
        d = layers["distributors"]
        if "open" in d.columns:
            is_open = d["open"].fillna(False).astype(bool)
            if (~is_open).any():
                d[~is_open].plot(ax=ax, color=_CLOSED, marker="x", markersize=14, zorder=5)
            if is_open.any():
                d[is_open].plot(ax=ax, color=_OPEN, marker="*", markersize=110, edgecolor="black",
                                linewidth=0.4, zorder=6)
        elif plan.kind == "distributor_selection":
            d.plot(ax=ax, color=_OPEN, marker="*", markersize=60, zorder=6)
    ax.set_title(_title(plan), fontsize=10)
    ax.set_axis_off()
    return ax


def plot_breadth_depth(plan, ax=None, *, label: int = 5, figsize=(7, 5.5)):
    """Breadth against depth by region: channel breadth (x) vs penetration (y).

    Each dot is a region, sized by its sales potential and coloured by its weighted
    distribution; the ``label`` largest regions are named. Regions at the top right are
    served in every channel and deeply; bottom-left ones are the gaps.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    SettingsError
        When the plan has no per-region ``channel_breadth`` / ``penetration``.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import channelopt as co
    >>> net = co.make_synthetic(6, 60, 3, seed=1)
    >>> plan = co.DistributorSelection(objective="p_median", p=1).solve(net)
    >>> len(co.viz.plot_breadth_depth(plan).collections[0].get_offsets())
    6
    """
    table = plan.metrics.by_region
    need = ("channel_breadth", "penetration")
    if table is None or any(c not in table.columns for c in need):
        raise SettingsError(f"plot_breadth_depth needs plan.metrics.by_region with columns {list(need)}; this "
                            f"{plan.kind} plan has none (territory plans cover every outlet by construction).")
    ax = _axes(ax, figsize)
    t = table.reset_index() if "region_id" not in table.columns else table
    pot = t["potential"].fillna(0).to_numpy(dtype=float) if "potential" in t.columns else np.ones(len(t))
    size = 15 + 400 * pot / pot.max() if pot.max() > 0 else np.full(len(t), 30.0)
    wd = t["weighted_distribution"].to_numpy(dtype=float) if "weighted_distribution" in t.columns else None
    sc = ax.scatter(t["channel_breadth"], t["penetration"], s=size, c=wd, cmap="YlGn", vmin=0, vmax=1,
                    edgecolors="black", linewidths=0.4, alpha=0.85)
    if wd is not None:
        ax.figure.colorbar(sc, ax=ax, shrink=0.7, label="weighted distribution")
    for i in np.argsort(-pot)[:label]:
        ax.annotate(str(t["region_id"].iloc[i]), (t["channel_breadth"].iloc[i], t["penetration"].iloc[i]),
                    fontsize=7, xytext=(4, 4), textcoords="offset points")
    ax.set_xlim(-0.05, 1.05)
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel("breadth: channel types covered / present")
    ax.set_ylabel("depth: penetration (covered outlets / outlets)")
    ax.set_title(f"Breadth vs depth by region ({len(t)} regions)", fontsize=10)
    ax.grid(alpha=0.3)
    return ax


def _balance_bounds(plan, attribute: str, loads: pd.Series, tolerance) -> tuple[float, float] | None:
    spec = tolerance
    if spec is None:
        spec = (plan.settings.get("balance") or {}).get(attribute)
    if spec is None:
        return None
    mean = float(loads.mean())
    if isinstance(spec, (int, float)):
        return mean * (1 - float(spec)), mean * (1 + float(spec))
    lo, hi = spec
    return float(lo), float(hi)


def plot_balance(plan, attribute: str | None = None, ax=None, *, tolerance=None, figsize=(8, 4.5)):
    """Load per territory as bars, with the mean and the tolerance band.

    Parameters
    ----------
    plan : Plan
        A territory plan (``plan.metrics.by_territory``).
    attribute : str, optional
        The balanced column; default the first of the model's ``balance`` settings, else
        ``workload``, else ``regions``.
    tolerance : float or (lower, upper), optional
        Band to draw; default the model's own ``balance`` setting for ``attribute``.
        Bars outside the band are hatched red.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    SettingsError
        When the plan has no territories or ``attribute`` is not a territory column.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import channelopt as co, pandas as pd
    >>> from channelopt.metrics import Metrics
    >>> terr = pd.DataFrame({"workload": [90.0, 110.0]}, index=pd.Index(["A", "B"], name="territory"))
    >>> info = co.SolveInfo("highs", "optimal", "optimal", objective=1.0, bound=1.0, gap=0.0)
    >>> plan = co.Plan("territory_design", info, pd.DataFrame(), Metrics(by_territory=terr))
    >>> ax = co.viz.plot_balance(plan, "workload", tolerance=0.05)
    >>> [round(p.get_height()) for p in ax.patches[:2]]
    [90, 110]
    """
    terr = plan.metrics.by_territory
    if terr is None or not len(terr):
        raise SettingsError(f"plot_balance needs a territory plan (plan.metrics.by_territory); this is a "
                            f"{plan.kind} plan.")
    if attribute is None:
        configured = list((plan.settings.get("balance") or {}).keys())
        attribute = next((a for a in configured + ["workload", "regions"] if a in terr.columns), None)
    if attribute not in terr.columns:
        raise SettingsError(f"plot_balance: attribute {attribute!r} is not a territory column; choose one of "
                            f"{[c for c in terr.columns if pd.api.types.is_numeric_dtype(terr[c])]}.")
    ax = _axes(ax, figsize)
    loads = terr[attribute].astype(float)
    labels = [str(i) for i in terr.index]
    band = _balance_bounds(plan, attribute, loads, tolerance)
    colours, _ = _territory_colours(pd.Series(terr.index, index=terr.index))
    bars = ax.bar(labels, loads.to_numpy(), color=colours.tolist(), edgecolor="black", linewidth=0.5)
    mean = float(loads.mean())
    ax.axhline(mean, color="black", linestyle="--", linewidth=1, label=f"mean {mean:,.4g}")
    if band is not None:
        lo, hi = band
        ax.axhspan(lo, hi, color="#2ca25f", alpha=0.15, label=f"tolerance band [{lo:,.4g}, {hi:,.4g}]")
        for bar, v in zip(bars, loads.to_numpy()):
            if v < lo - 1e-6 * abs(lo) or v > hi + 1e-6 * abs(hi):
                bar.set_hatch("//")
                bar.set_edgecolor("#d62728")
    dev = float((loads / mean - 1).abs().max()) if mean else float("nan")
    ax.set_ylabel(attribute)
    ax.set_xlabel("territory")
    ax.set_title(f"{attribute} per territory: max deviation {dev:.1%} from the mean", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    if len(labels) > 12:
        ax.tick_params(axis="x", labelrotation=90, labelsize=7)
    return ax


def _cell_curves(plan, cells) -> list:
    if cells is None:
        cells = plan.settings.get("cells")
    if cells is None or "curve" not in getattr(cells, "columns", ()):
        raise SettingsError("plot_response needs the response curves: give cells= (the DataFrame with a 'curve' "
                            "column that the BudgetAllocation was solved with).")
    curves = list(cells["curve"])
    if not all(callable(c) for c in curves):
        raise SettingsError("plot_response: cells['curve'] must hold response curve objects (e.g. channelopt.Hill), "
                            "not their text; pass the cells the model was solved with.")
    return curves


def plot_response(plan, cells: pd.DataFrame | None = None, *, top: int = 8, axes=None, figsize=(12, 4.8)):
    """Budget response curves with the chosen spend marked, and marginal ROI per cell.

    Left: the ``top`` cells by spend, each curve drawn over its spend range with a dot
    at the chosen spend. Right: marginal response (d response / d spend) at the chosen
    spend for every active cell, against the plan's marginal ROI (the budget's shadow
    price): in a concave optimum interior cells sit on that line.

    Parameters
    ----------
    plan : Plan
        A budget plan (``plan.allocations``).
    cells : DataFrame, optional
        The cells the model was solved with; default ``plan.settings["cells"]``.
    top : int
    axes : pair of matplotlib Axes, optional

    Returns
    -------
    tuple of matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import channelopt as co, pandas as pd
    >>> cells = pd.DataFrame({"region_id": ["a", "b"], "channel": ["ka", "ka"],
    ...                       "curve": [co.Hill(100.0, 50.0, 1.0), co.Hill(60.0, 20.0, 1.0)], "max_spend": 200.0})
    >>> plan = co.BudgetAllocation(total=100.0, cells=cells).solve()
    >>> left, right = co.viz.plot_response(plan)
    >>> len(left.lines) >= 2
    True
    """
    alloc = plan.tables.get("allocations")
    if alloc is None:
        raise SettingsError(f"plot_response needs a budget plan (plan.allocations); this is a {plan.kind} plan.")
    curves = _cell_curves(plan, cells)
    if len(curves) != len(alloc):
        raise SettingsError(f"plot_response: {len(curves)} curves for {len(alloc)} allocation rows; pass the cells "
                            f"the model was solved with.")
    if axes is None:
        import matplotlib.pyplot as plt

        from .fonts import use_cjk_font

        use_cjk_font()
        _, axes = plt.subplots(1, 2, figsize=figsize)
    left, right = axes
    spend = alloc["spend"].to_numpy(dtype=float)
    names = [" / ".join(str(v) for v in row if v is not None and v == v and str(v))
             for row in alloc[[c for c in ("region_id", "channel", "activity") if c in alloc.columns]]
             .itertuples(index=False)]
    order = np.argsort(-spend)[:top]
    hi = alloc["max_spend"].to_numpy(dtype=float) if "max_spend" in alloc.columns else np.full(len(alloc), np.inf)
    import matplotlib

    cmap = matplotlib.colormaps["tab10"]
    for rank, i in enumerate(order):
        top_x = hi[i] if math.isfinite(hi[i]) else max(2.5 * spend[i], spend.max(), 1.0)
        xs = np.linspace(0.0, top_x, 120)
        ys = np.array([float(curves[i](x)) for x in xs])
        colour = cmap(rank % 10)
        left.plot(xs, ys, color=colour, linewidth=1.3, label=names[i])
        left.plot([spend[i]], [float(curves[i](spend[i]))], "o", color=colour, markeredgecolor="black")
    left.set_xlabel("spend")
    left.set_ylabel("response")
    left.set_title(f"Response curves, chosen spend marked (top {len(order)} of {len(alloc)} cells)", fontsize=10)
    left.legend(fontsize=7)
    left.grid(alpha=0.3)

    marginal = alloc["marginal_response"].to_numpy(dtype=float) if "marginal_response" in alloc.columns else \
        np.array([float(c.derivative(s)) for c, s in zip(curves, spend.tolist())])
    active = spend > 0
    idx = np.flatnonzero(active)
    idx = idx[np.argsort(-marginal[idx])][:30]
    right.barh([names[i] for i in idx][::-1], marginal[idx][::-1], color="#3182bd")
    mroi = plan.metrics.overall.get("marginal_roi", float("nan"))
    if isinstance(mroi, (int, float)) and math.isfinite(mroi):
        right.axvline(mroi, color="#d62728", linestyle="--", label=f"marginal ROI of the budget {mroi:.3g}")
        right.legend(fontsize=7, loc="lower right")
    right.set_xlabel("marginal response per unit spend at the chosen spend")
    right.set_title("Marginal ROI by active cell", fontsize=10)
    right.tick_params(axis="y", labelsize=7)
    right.figure.tight_layout()
    return left, right


def plot_pareto(plans, ax=None, *, x: str = "total_cost", y: str = "weighted_distribution",
                names: Sequence[str] | None = None, figsize=(7, 5)):
    """Scenario comparison: weighted distribution against cost, with the Pareto front.

    Parameters
    ----------
    plans : sequence or mapping of Plan, or DataFrame
        Plans (compared with :func:`channelopt.compare`) or a frame with one row per
        scenario holding ``x`` and ``y``.
    x, y : str
        Cost to minimise and coverage to maximise.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import pandas as pd
    >>> f = pd.DataFrame({"total_cost": [1, 2, 3, 2], "weighted_distribution": [0.5, 0.7, 0.9, 0.6]},
    ...                  index=["a", "b", "c", "d"])
    >>> ax = plot_pareto(f)
    >>> [t.get_text() for t in ax.texts]
    ['a', 'b', 'c', 'd']
    """
    if isinstance(plans, pd.DataFrame):
        frame = plans
    else:
        frame = compare(plans, names=names) if not isinstance(plans, Mapping) else compare(plans)
    front = pareto_mask(frame, maximize=[y], minimize=[x])
    ax = _axes(ax, figsize)
    xs = pd.to_numeric(frame[x], errors="coerce")
    ys = pd.to_numeric(frame[y], errors="coerce")
    ax.scatter(xs[~front], ys[~front], color="#bdbdbd", edgecolors="black", linewidths=0.4, s=40,
               label="dominated")
    on = frame.index[front]
    order = xs[front].sort_values().index
    ax.step(xs[order], ys[order], where="post", color="#d62728", linewidth=1.2)
    ax.scatter(xs[front], ys[front], color="#d62728", edgecolors="black", linewidths=0.4, s=55,
               label=f"Pareto front ({len(on)} of {len(frame)})", zorder=3)
    for name in frame.index:
        if math.isfinite(xs[name]) and math.isfinite(ys[name]):
            ax.annotate(str(name), (xs[name], ys[name]), fontsize=7, xytext=(4, -10), textcoords="offset points")
    ax.set_xlabel(x.replace("_", " "))
    ax.set_ylabel(y.replace("_", " "))
    ax.set_title(f"{y.replace('_', ' ')} vs {x.replace('_', ' ')}: {len(frame)} scenarios", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return ax


def _fmt(v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (float, np.floating)):
        return "" if not math.isfinite(v) else (f"{v:.1%}" if 0 <= v <= 1 and v != int(v) else f"{v:,.4g}")
    return str(v)


_REGION_TIPS = ["region_id", "territory", "outlets", "covered_outlets", "numeric_distribution",
                "weighted_distribution", "channel_breadth", "penetration", "visits_per_covered_outlet",
                "distributors", "spend", "budget_per_covered_outlet"]
_OUTLET_TIPS = ["outlet_id", "region_id", "channel", "potential", "covered", "distributor_id", "distance",
                "n_distributors", "territory"]


def _tooltip_frame(gdf, fields: list[str]):
    """Geo layer with only the tooltip fields, formatted as text (folium needs JSON-safe values)."""
    import geopandas as gpd

    keep = [f for f in fields if f in gdf.columns]
    out = pd.DataFrame({f: [_fmt(v) for v in gdf[f].tolist()] for f in keep})
    return gpd.GeoDataFrame(out, geometry=gdf.geometry.to_crs(4326).to_numpy(), crs=4326), keep


def explore(plan, m=None, *, coverage: str = "weighted", column: str | None = None, tiles: str | None = "OpenStreetMap",
            outlets: bool = True, links: bool = True, max_outlets: int = 20_000, max_links: int = 20_000):
    """Interactive map of a plan (folium): coverage or territories, distributors, links.

    Regions carry tooltips with their breadth/depth metrics (numeric and weighted
    distribution, channel breadth, penetration, distributors); outlets with their
    channel, potential, coverage and distributor; distributors with open/closed, load
    and utilisation. Layers can be toggled.

    Parameters
    ----------
    plan : Plan
    m : folium.Map, optional
        Add the layers to this map.
    coverage : {"weighted", "numeric"}
    column : str, optional
        A region column to shade by instead.
    tiles : str or None
        Base map; ``None`` for no tiles (works offline).
    outlets, links : bool
    max_outlets, max_links : int
        Layers above these sizes are left out to keep the page responsive.

    Returns
    -------
    folium.Map

    Raises
    ------
    SettingsError
        When folium is not installed or the network has no locations.

    Examples
    --------
    >>> import channelopt as co
    >>> net = co.make_synthetic(6, 60, 3, seed=1)
    >>> plan = co.DistributorSelection(objective="min_cost").solve(net)
    >>> fmap = plan.explore(tiles=None)
    >>> "numeric_distribution" in fmap.get_root().render()
    True
    """
    try:
        import folium
    except ImportError as exc:  # pragma: no cover - folium is an optional extra
        raise SettingsError("explore() needs folium: pip install 'channelopt[maps]'.") from exc
    import matplotlib

    layers = plan.to_geodataframes()
    if not layers:
        raise SettingsError("explore(): this plan's network has no locations (a plain cost matrix); "
                            "use plan.plot() or the tables.")
    from ._plan_geo import has_polygons

    col = _coverage_column(coverage, column)
    regions = layers["regions"]
    regions = regions[regions.geometry.notna() & ~regions.geometry.is_empty]
    bounds = regions.to_crs(4326).total_bounds
    if m is None:
        m = folium.Map(tiles=tiles, control_scale=True)
        m.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
    has_terr = "territory" in regions.columns and regions["territory"].notna().any()
    tips, fields = _tooltip_frame(regions, _REGION_TIPS)
    if has_terr:
        fill, _ = _territory_colours(regions["territory"])
    elif col in regions.columns:
        cmap = matplotlib.colormaps["YlGn"]
        vals = pd.to_numeric(regions[col], errors="coerce").to_numpy(dtype=float)
        top = 1.0 if "distribution" in col else (np.nanmax(vals) if np.isfinite(vals).any() else 1.0)
        fill = pd.Series([matplotlib.colors.to_hex(cmap(v / top)) if np.isfinite(v) else "#eeeeee"
                          for v in vals], index=regions.index)
    else:
        fill = pd.Series("#dddddd", index=regions.index)
    tips["_fill"] = fill.to_numpy()
    polygons = has_polygons(regions)

    def style(feature):
        return {"fillColor": feature["properties"]["_fill"], "color": "white", "weight": 0.6, "fillOpacity": 0.75}

    name = "territories" if has_terr else f"regions ({col.replace('_', ' ')})"
    if polygons:
        folium.GeoJson(tips, name=name, style_function=style,
                       tooltip=folium.GeoJsonTooltip(fields=fields)).add_to(m)
    else:
        group = folium.FeatureGroup(name=name)
        for (_, row), pt in zip(tips.iterrows(), tips.geometry):
            folium.CircleMarker([pt.y, pt.x], radius=9, fill=True, fill_color=row["_fill"], fill_opacity=0.85,
                                color="black", weight=0.6,
                                tooltip="<br>".join(f"<b>{f}</b>: {row[f]}" for f in fields)).add_to(group)
        group.add_to(m)
    if links and "links" in layers and 0 < len(layers["links"]) <= max_links:
        lk = layers["links"].to_crs(4326)
        folium.GeoJson(lk[["geometry"]], name="service links",
                       style_function=lambda f: {"color": _LINK, "weight": 0.6, "opacity": 0.4}).add_to(m)
    if outlets and "outlets" in layers and len(layers["outlets"]) <= max_outlets:
        out, ofields = _tooltip_frame(layers["outlets"], _OUTLET_TIPS)
        cov = layers["outlets"]["covered"].fillna(False).astype(bool).to_numpy() \
            if "covered" in layers["outlets"].columns else np.ones(len(out), bool)
        out["_fill"] = np.where(cov, "#1b7837", "#762a83")
        folium.GeoJson(out, name="outlets", marker=folium.CircleMarker(radius=2.5, weight=0, fill=True,
                                                                       fill_opacity=0.8),
                       style_function=lambda f: {"fillColor": f["properties"]["_fill"]},
                       tooltip=folium.GeoJsonTooltip(fields=ofields), show=len(out) <= 3000).add_to(m)
    if "distributors" in layers:
        d = layers["distributors"]
        dfields = ["distributor_id", "name", "open", "existing", "fixed_cost", "capacity", "load", "utilisation",
                   "outlets_served", "channels"]
        tipd, dkeep = _tooltip_frame(d, dfields)
        is_open = d["open"].fillna(False).astype(bool).to_numpy() if "open" in d.columns else np.ones(len(d), bool)
        group = folium.FeatureGroup(name="distributors")
        for k, ((_, row), pt) in enumerate(zip(tipd.iterrows(), tipd.geometry)):
            folium.RegularPolygonMarker([pt.y, pt.x], number_of_sides=5 if is_open[k] else 4,
                                        radius=8 if is_open[k] else 4, fill=True,
                                        fill_color=_OPEN if is_open[k] else _CLOSED, fill_opacity=0.95,
                                        color="black", weight=0.8,
                                        tooltip="<br>".join(f"<b>{f}</b>: {row[f]}" for f in dkeep)).add_to(group)
        group.add_to(m)
    folium.LayerControl(collapsed=True).add_to(m)
    return m


def __getattr__(name: str):
    # Deprecated: viz.pareto_front(frame, x, y) was a second Pareto front; the one definition is
    # channelopt.comparison (pareto_mask for the boolean column, pareto_front for the rows).
    if name == "pareto_front":
        import warnings

        def pareto_front(frame: pd.DataFrame, x: str = "total_cost", y: str = "weighted_distribution") -> pd.Series:
            warnings.warn("channelopt.viz.pareto_front(frame, x, y) is channelopt.comparison.pareto_mask(frame, "
                          "maximize=[y], minimize=[x]); the old name goes in the next release.", DeprecationWarning,
                          stacklevel=2)
            return pareto_mask(frame, maximize=[y], minimize=[x])

        return pareto_front
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
