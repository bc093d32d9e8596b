"""Maps and charts of plans (matplotlib)."""

from __future__ import annotations

from typing import Any

__all__ = ["plot_plan"]


def plot_plan(plan, ax=None, *, column: str | None = None, links: bool = True, legend: bool = True,
              figsize=(9, 8), **kwargs: Any):
    """Draw a plan on a map.

    Territories are coloured where the plan has them, otherwise regions are shaded by
    ``column`` (default: weighted distribution); open distributors are stars, closed
    candidates grey crosses, and service links thin lines.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib

    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=figsize)
    layers = plan.to_geodataframes()
    if not layers:
        table = plan.metrics.by_region
        if table is not None and column in (table.columns if column else []):
            table[column].plot.bar(ax=ax)
        ax.set_title(f"{plan.kind}: no geometry to map")
        return ax
    regions = layers["regions"]
    if "territory" in regions.columns and regions["territory"].notna().any():
        regions.plot(ax=ax, column=regions["territory"].astype(str), categorical=True, cmap="tab20",
                     edgecolor="white", linewidth=0.3, legend=False, **kwargs)
    else:
        col = column or "weighted_distribution"
        if col in regions.columns:
            regions.plot(ax=ax, column=col, cmap="YlGn", vmin=0, vmax=1 if "distribution" in col else None,
                         edgecolor="white", linewidth=0.3, legend=legend,
                         missing_kwds={"color": "#eeeeee"}, **kwargs)
        else:
            regions.plot(ax=ax, color="#dddddd", edgecolor="white", linewidth=0.3)
    if links and "links" in layers and len(layers["links"]) <= 50_000:
        layers["links"].plot(ax=ax, color="#444444", linewidth=0.15, alpha=0.4)
    if "distributors" in layers:
        d = layers["distributors"]
        is_open = d["open"].fillna(False).astype(bool) if "open" in d.columns else None
        if is_open is not None:
            d[~is_open].plot(ax=ax, color="#999999", marker="x", markersize=12)
            d[is_open].plot(ax=ax, color="#d62728", marker="*", markersize=80, edgecolor="black", linewidth=0.4)
        else:
            d.plot(ax=ax, color="#d62728", marker="*", markersize=60)
    info = plan.info
    ax.set_title(f"{plan.kind.replace('_', ' ')} — {info.status}, objective {info.objective:,.4g}, "
                 f"gap {info.gap:.2%}", fontsize=10)
    ax.set_axis_off()
    del matplotlib
    return ax
