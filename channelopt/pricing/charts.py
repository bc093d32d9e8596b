"""Charts of a price list: risky borders as red edges on the map, the price ladder per channel."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..exceptions import SettingsError

__all__ = ["plot_diversion_risk", "plot_price_ladder", "price_report_figures"]


def plot_diversion_risk(network, risk: pd.DataFrame, ax=None, *, channel: str | None = None, figsize=(8, 7),
                        title: str | None = None):
    """Map of the regions with every border at risk of diversion drawn as a red edge.

    Parameters
    ----------
    network : ChannelNetwork
        Reads ``regions`` (geometry), the adjacency ``graph`` and ``region_xy()``.
    risk : DataFrame
        The output of :func:`~channelopt.diversion_risk` (``from_region``,
        ``to_region``, ``channel``, ``profit_at_risk``).
    channel : str, optional
        Draw only this channel's risky borders (default: every channel; a border at
        risk in several channels is drawn once, wider).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import networkx as nx, pandas as pd
    >>> import channelopt as co
    >>> g = nx.path_graph(["a", "b", "c"])
    >>> nx.set_node_attributes(g, {"a": 0.0, "b": 1.0, "c": 2.0}, "x")
    >>> nx.set_node_attributes(g, {"a": 0.0, "b": 0.0, "c": 0.0}, "y")
    >>> net = co.ChannelNetwork.from_graph(g)
    >>> risk = pd.DataFrame({"from_region": ["a"], "to_region": ["b"], "channel": ["ka"], "profit_at_risk": [5.0]})
    >>> ax = co.pricing.plot_diversion_risk(net, risk)
    >>> len(ax.collections)
    2
    """
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    xy = network.region_xy()
    if xy is None:
        raise SettingsError("plot_diversion_risk needs region geometry (a map); this network has none.")
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    pos = {r: i for i, r in enumerate(network.region_ids.tolist())}
    regions = network.regions
    if "geometry" in getattr(regions, "columns", []) and not (regions.geometry.geom_type == "Point").all():
        regions.plot(ax=ax, color="#f2f2f2", edgecolor="#bbbbbb", linewidth=0.3)
    edges = [(pos[u], pos[v]) for u, v in network.graph.edges() if u in pos and v in pos]
    ax.add_collection(LineCollection([[xy[a], xy[b]] for a, b in edges], colors="#cccccc", linewidths=0.5,
                                     zorder=2))
    sel = risk if channel is None else risk[risk["channel"] == channel]
    if len(sel):
        pair = sel.assign(a=[min(f, t, key=str) for f, t in zip(sel["from_region"], sel["to_region"])],
                          b=[max(f, t, key=str) for f, t in zip(sel["from_region"], sel["to_region"])])
        agg = pair.groupby(["a", "b"]).agg(n=("channel", "size"),
                                           profit=("profit_at_risk", lambda s: float(np.nansum(s))))
        segs = [[xy[pos[a]], xy[pos[b]]] for a, b in agg.index if a in pos and b in pos]
        ax.add_collection(LineCollection(segs, colors="red", linewidths=(1.0 + 0.8 * agg["n"].to_numpy()).tolist(),
                                         zorder=3))
    else:
        ax.add_collection(LineCollection([], colors="red"))
    ax.autoscale_view()
    ax.set_aspect("equal", adjustable="datalim")
    n_pairs = len(sel)
    ax.set_title(title or f"Borders at risk of diversion: {n_pairs} pair x channel"
                 + ("" if channel is None else f" ({channel})"))
    ax.set_axis_off()
    return ax


def plot_price_ladder(prices: pd.DataFrame, ax=None, *, price_column: str | None = None, compare: pd.DataFrame = None,
                      figsize=(8, 4.5)):
    """The price ladder per channel: each region's price as a dot, the channel median as a bar.

    Parameters
    ----------
    prices : DataFrame
        ``channel`` and ``net_price`` (else ``price``), e.g. ``plan.prices``.
    compare : DataFrame, optional
        A second price list (e.g. the current one) drawn beside, hollow.
    price_column : str, optional
        The column to draw.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> import channelopt as co
    >>> prices = pd.DataFrame({"channel": ["ka", "ka", "trad"], "price": [9.0, 9.5, 10.0]})
    >>> ax = co.pricing.plot_price_ladder(prices)
    >>> [t.get_text() for t in ax.get_xticklabels()]
    ['ka', 'trad']
    """
    import matplotlib.pyplot as plt

    def column(frame):
        col = price_column or ("net_price" if "net_price" in frame.columns else "price")
        if col not in frame.columns or "channel" not in frame.columns:
            raise SettingsError(f"plot_price_ladder needs columns channel and {col}.")
        return col

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    col = column(prices)
    order = prices.groupby("channel")[col].median().sort_values().index.tolist()
    rng = np.random.default_rng(0)
    shift = 0.18 if compare is not None else 0.0
    for k, ch in enumerate(order):
        v = prices.loc[prices["channel"] == ch, col].to_numpy(float)
        ax.scatter(k + shift + rng.uniform(-0.12, 0.12, len(v)), v, s=8, color="C0", alpha=0.6,
                   label="plan" if k == 0 else None)
        ax.hlines(np.median(v), k + shift - 0.16, k + shift + 0.16, color="C0", linewidth=2.5)
        if compare is not None:
            cc = column(compare)
            w = compare.loc[compare["channel"] == ch, cc].to_numpy(float)
            ax.scatter(k - shift + rng.uniform(-0.12, 0.12, len(w)), w, s=8, facecolors="none",
                       edgecolors="C1", alpha=0.6, label="before" if k == 0 else None)
            ax.hlines(np.median(w), k - shift - 0.16, k - shift + 0.16, color="C1", linewidth=2.5)
    ax.set_xticks(range(len(order)))
    ax.set_xticklabels(order)
    ax.set_ylabel(col.replace("_", " "))
    ax.set_title("Price ladder per channel (dots: regions, bars: medians)")
    if compare is not None:
        ax.legend(loc="best", fontsize=8)
    return ax


def price_report_figures(plan) -> list:
    """``(figure, caption, id)`` for the HTML report of a PricePlan plan."""
    import matplotlib.pyplot as plt

    from .diversion import diversion_risk

    prices = plan.tables.get("prices")
    if prices is None:
        return []
    out = []
    cost = plan.tables.get("diversion_cost")
    if cost is not None and plan.network is not None and plan.network.region_xy() is not None:
        risk = diversion_risk(prices, cost)
        fig, ax = plt.subplots(figsize=(8, 7))
        plot_diversion_risk(plan.network, risk, ax=ax)
        out.append((fig, "Borders where moving goods pays at the plan's net prices, in red (none when every "
                         "corridor holds); grey lines are the other borders.", "diversion-risk"))
    fig, ax = plt.subplots(figsize=(8, 4.5))
    current = None
    if "current_price" in prices.columns:
        current = prices.assign(price=prices["current_price"]).drop(columns="net_price")
    plot_price_ladder(prices, ax=ax, compare=current)
    out.append((fig, "Price ladder per channel: each region's net price (dots) and the channel median (bar)"
                     + ("; hollow: the current price list." if current is not None else "."), "price-ladder"))
    return out
