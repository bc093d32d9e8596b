"""Breadth, depth, balance, conflict and cost metrics, as pure functions.

Vocabulary (kept from the trade):

- **numeric distribution (ND)**: covered outlets / all outlets.
- **weighted distribution (WD)**: covered sales potential / all potential.
- **region coverage**: regions with at least one covered outlet / all regions.
- **channel breadth**: per region, channel types covered / channel types present.
- **depth**: per covered region: penetration (its ND), visits per outlet, budget per
  covered outlet, distributors serving it.
- **balance**: per territory, load / mean load; max deviation; coefficient of variation.
- **conflict**: outlets served by more than one distributor; regions split between
  partners; territory boundary edges (cut edges).
- **cost and return**: fixed + service + budget; cost per covered outlet; ROI.

Every function takes arrays or frames and returns numbers or frames; none reads a
model or a solver.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

__all__ = [
    "Metrics",
    "numeric_distribution",
    "weighted_distribution",
    "region_coverage",
    "channel_breadth",
    "balance",
    "cut_edges",
    "split_regions",
    "outlets_outside_territory",
    "coverage_metrics",
    "territory_metrics",
]


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den else float("nan")


def numeric_distribution(covered, groups=None):
    """Share of outlets covered, overall or per group.

    Examples
    --------
    >>> numeric_distribution([True, False, True, True])
    0.75
    >>> numeric_distribution([True, False, True, True], groups=["a", "a", "b", "b"]).to_dict()
    {'a': 0.5, 'b': 1.0}
    """
    covered = np.asarray(covered, dtype=float)
    if groups is None:
        return _ratio(covered.sum(), len(covered))
    return pd.Series(covered).groupby(np.asarray(groups)).mean().rename("numeric_distribution")


def weighted_distribution(covered, potential, groups=None):
    """Share of sales potential covered, overall or per group.

    Examples
    --------
    >>> weighted_distribution([True, False, True], [6.0, 3.0, 1.0])
    0.7
    """
    covered = np.asarray(covered, dtype=float)
    potential = np.asarray(potential, dtype=float)
    if groups is None:
        return _ratio((covered * potential).sum(), potential.sum())
    frame = pd.DataFrame({"c": covered * potential, "p": potential, "g": np.asarray(groups)})
    sums = frame.groupby("g")[["c", "p"]].sum()
    return (sums["c"] / sums["p"].replace(0, np.nan)).rename("weighted_distribution")


def region_coverage(covered, regions, all_regions=None) -> float:
    """Share of regions with at least one covered outlet.

    ``all_regions`` counts regions without outlets too (they are never covered).

    Examples
    --------
    >>> region_coverage([True, False, False], ["a", "a", "b"], all_regions=["a", "b", "c"])
    0.3333333333333333
    """
    covered = np.asarray(covered, dtype=bool)
    regions = np.asarray(regions)
    reached = set(regions[covered].tolist())
    universe = set(all_regions) if all_regions is not None else set(regions.tolist())
    return _ratio(len(reached & universe), len(universe))


def channel_breadth(covered, regions, channels) -> pd.Series:
    """Per region: channel types with a covered outlet / channel types present.

    Examples
    --------
    >>> channel_breadth([True, False, True], ["a", "a", "b"], ["ka", "pharmacy", "ka"]).to_dict()
    {'a': 0.5, 'b': 1.0}
    """
    frame = pd.DataFrame({"r": np.asarray(regions), "c": np.asarray(channels), "cov": np.asarray(covered, bool)})
    present = frame.groupby("r")["c"].nunique()
    reached = frame[frame["cov"]].groupby("r")["c"].nunique().reindex(present.index, fill_value=0)
    return (reached / present).rename("channel_breadth")


def balance(loads: Mapping | pd.Series) -> dict[str, Any]:
    """Balance of per-territory loads around their mean.

    Returns ``ratio`` (load / mean per territory), ``max_deviation`` (largest
    ``|load / mean - 1|``) and ``cv`` (population coefficient of variation).

    Examples
    --------
    >>> b = balance({"t1": 90.0, "t2": 110.0})
    >>> round(b["max_deviation"], 3), round(b["cv"], 3)
    (0.1, 0.1)
    """
    s = pd.Series(loads, dtype=float)
    mean = s.mean()
    if not len(s) or mean == 0:
        return {"ratio": s * np.nan, "max_deviation": float("nan"), "cv": float("nan")}
    ratio = s / mean
    return {
        "ratio": ratio,
        "max_deviation": float((ratio - 1).abs().max()),
        "cv": float(s.std(ddof=0) / mean),
    }


def cut_edges(graph: nx.Graph, label: Mapping, weight: str | None = None) -> float:
    """Number (or total ``weight``) of graph edges whose ends carry different labels.

    Edges touching an unlabelled node are ignored.

    Examples
    --------
    >>> import networkx as nx
    >>> cut_edges(nx.path_graph(4), {0: "a", 1: "a", 2: "b", 3: "b"})
    1.0
    """
    total = 0.0
    for u, v, data in graph.edges(data=True):
        lu, lv = label.get(u), label.get(v)
        if lu is None or lv is None or lu == lv:
            continue
        total += float(data.get(weight, 1.0)) if weight else 1.0
    return total


def split_regions(regions, distributors, share=None) -> pd.Series:
    """Number of distinct distributors serving each region (``>1`` is a split region).

    Examples
    --------
    >>> split_regions(["a", "a", "b"], ["d1", "d2", "d1"]).to_dict()
    {'a': 2, 'b': 1}
    """
    frame = pd.DataFrame({"r": np.asarray(regions), "d": np.asarray(distributors, dtype=object)})
    if share is not None:
        frame = frame[np.asarray(share, dtype=float) > 1e-9]
    frame = frame[frame["d"].notna()]
    return frame.groupby("r")["d"].nunique().rename("distributors")


def outlets_outside_territory(assignments: pd.DataFrame, owners: pd.DataFrame | None = None) -> int:
    """Served outlets whose distributor is not their territory's owner (cross-territory selling).

    Parameters
    ----------
    assignments : DataFrame
        One row per outlet with ``territory``, ``distributor_id`` (missing when not
        served) and, when owners are per channel type, ``channel``.
    owners : DataFrame, optional
        One row per exclusive group: its keys (``territory``, optionally ``channel``)
        and its owner ``distributor_id``. Default: the owner of each territory x channel
        type is the distributor serving most of its outlets.

    Examples
    --------
    >>> a = pd.DataFrame({"territory": ["t1", "t1", "t1", "t2"], "channel": ["x", "x", "y", "x"],
    ...                   "distributor_id": ["d1", "d2", "d2", None]})
    >>> outlets_outside_territory(a, pd.DataFrame({"territory": ["t1"], "distributor_id": ["d1"]}))
    2
    >>> outlets_outside_territory(a)  # d1 and d2 tie in t1 / x: one of them is outside
    1
    """
    served = assignments[assignments["distributor_id"].notna()]
    if owners is None:
        keys = ["territory", "channel"]
        counts = served.groupby(keys + ["distributor_id"], sort=True).size().rename("n").reset_index()
        owners = counts.sort_values("n", ascending=False, kind="stable").drop_duplicates(keys)
    keys = [c for c in owners.columns if c in ("territory", "channel")]
    owner = served[keys].merge(owners[keys + ["distributor_id"]].rename(columns={"distributor_id": "_owner"}),
                               on=keys, how="left")["_owner"].to_numpy()
    return int((owner != served["distributor_id"].to_numpy()).sum())


class _Deferred:
    """Attributes made on first read: ``_defer(name=make)`` drops ``name`` and ``make()`` builds it when read.

    A small plan's tables cost more to make as pandas frames (~0.2 ms each) than the
    solve (issue 13), and a batch of scenarios often reads only the objective and a few
    overall metrics. The value made is the one an eager build would have given (the
    builders hold copies of their inputs, taken at assembly); it is stored, so later
    reads see the same object. Setting the attribute replaces its builder; copying or
    pickling builds everything first, so a copy carries plain values.
    """

    def _defer(self, **builders) -> None:
        pending = self.__dict__.setdefault("_pending", {})
        for name, make in builders.items():
            self.__dict__.pop(name, None)
            pending[name] = make

    def _deferred(self, name: str):
        """``(True, value)`` after building a pending attribute, else ``(False, None)``."""
        pending = self.__dict__.get("_pending")
        if not pending or name not in pending:
            return False, None
        value = pending[name]()
        del pending[name]  # after the build: a failed build leaves its builder in place
        self.__dict__[name] = value
        return True, value

    def __setattr__(self, name: str, value) -> None:
        pending = self.__dict__.get("_pending")
        if pending:
            pending.pop(name, None)
        object.__setattr__(self, name, value)

    def __getstate__(self) -> dict:
        for name in list(self.__dict__.get("_pending", {})):
            self._deferred(name)
        return {k: v for k, v in self.__dict__.items() if k != "_pending"}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)


# The tables' defaults are factories, not class attributes, so that a table not yet made is
# found by __getattr__ (a class attribute None would answer first).
@dataclass
class Metrics(_Deferred):
    """Metrics of a plan: ``overall`` numbers and tables by region, channel, territory.

    Index like a dict for the overall numbers: ``plan.metrics["weighted_distribution"]``.
    """

    overall: dict[str, float] = field(default_factory=dict)
    by_region: pd.DataFrame | None = field(default_factory=lambda: None)
    by_channel: pd.DataFrame | None = field(default_factory=lambda: None)
    by_territory: pd.DataFrame | None = field(default_factory=lambda: None)
    by_distributor: pd.DataFrame | None = field(default_factory=lambda: None)

    def __getattr__(self, name: str):
        made, value = self._deferred(name)
        if made:
            return value
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __getitem__(self, key: str) -> float:
        return self.overall[key]

    def __contains__(self, key: str) -> bool:
        return key in self.overall

    def keys(self):
        return self.overall.keys()

    def to_series(self) -> pd.Series:
        return pd.Series(self.overall, dtype=float)

    def tables(self) -> dict[str, pd.DataFrame]:
        return {name: t for name, t in (("by_region", self.by_region), ("by_channel", self.by_channel),
                                        ("by_territory", self.by_territory),
                                        ("by_distributor", self.by_distributor)) if t is not None}

    def __repr__(self) -> str:
        lines = [f"  {k}: {v:.4g}" if isinstance(v, float) else f"  {k}: {v}" for k, v in self.overall.items()]
        return "Metrics(\n" + "\n".join(lines) + "\n)"


def coverage_metrics(
    outlets: pd.DataFrame,
    covered: np.ndarray,
    all_regions,
    *,
    served_by: pd.DataFrame | None = None,
    budget: pd.DataFrame | None = None,
) -> Metrics:
    """Breadth and depth of a plan over outlets.

    Parameters
    ----------
    outlets : DataFrame
        ``outlet_id``, ``region_id``, ``channel``, ``potential`` (+ optional ``visits_per_month``).
    covered : bool array, one per outlet
    all_regions : sequence
        Every region id (regions without outlets count as not covered).
    served_by : DataFrame, optional
        Links ``outlet_id``, ``distributor_id``, ``share``: counts distributors per
        region and outlets served by more than one distributor.
    budget : DataFrame, optional
        ``region_id``, ``channel``, ``spend`` (and ``response``): budget per covered outlet, ROI.

    Examples
    --------
    >>> import pandas as pd
    >>> o = pd.DataFrame({"outlet_id": [1, 2, 3, 4], "region_id": ["a", "a", "b", "b"],
    ...                   "channel": ["ka", "trad", "ka", "trad"], "potential": [4.0, 1.0, 3.0, 2.0]})
    >>> m = coverage_metrics(o, [True, False, False, True], ["a", "b", "c"])
    >>> m["numeric_distribution"], m["weighted_distribution"], m["region_coverage"]
    (0.5, 0.6, 0.6666666666666666)
    >>> m.by_region["penetration"].to_dict()
    {'a': 0.5, 'b': 0.5, 'c': nan}
    """
    # Integer codes and np.bincount throughout: on small plans pandas' per-call overhead of
    # groupby/join dominated (issue 13: ~80 ms at 100 outlets, most of a DistributorSelection plan).
    index = pd.Index(list(all_regions), name="region_id")
    rcode = _codes(index, outlets["region_id"].to_numpy())  # -1: an outlet of a region not in all_regions
    link_codes = None
    if served_by is not None and len(served_by):
        links = served_by[served_by["share"] > 1e-9]
        o_idx = _codes(pd.Index(outlets["outlet_id"]), links["outlet_id"].to_numpy())
        o_code, _ = pd.factorize(links["outlet_id"].to_numpy())
        d_code, _ = pd.factorize(links["distributor_id"].to_numpy())
        link_codes = (o_code, o_idx, d_code)
    return _coverage(outlets, covered, index, rcode, link_codes, budget)


#: ``_coverage(visits=...)`` not given: read ``visits_per_month`` from the outlets frame, if it has one
_FROM_FRAME = object()


def _coverage(outlets, covered, index, rcode: np.ndarray, link_codes=None,
              budget: pd.DataFrame | None = None, *, n_regions: int | None = None,
              channels: np.ndarray | None = None, potential: np.ndarray | None = None, visits=_FROM_FRAME,
              channel_codes: tuple[np.ndarray, np.ndarray] | None = None) -> Metrics:
    """:func:`coverage_metrics` on integer codes: ``rcode`` (each outlet's position in ``index``, -1
    outside it) and ``link_codes`` = (outlet code, position in ``outlets`` or -1, distributor code)
    of each link with a positive share. Plan assembly, which holds the codes already, calls it
    directly; every table is made once from numpy columns (each pandas column insert cost ~0.1 ms).

    ``index`` may be a function making the region index, with ``n_regions`` its length, when the
    region ids are unique (a network's): the index (~0.2 ms at 100 outlets) is then made only
    if ``by_region`` is read. ``channels``, ``potential`` and ``visits`` (``visits_per_month``, None
    when the outlets have none) are the outlets' columns, when the caller holds them already;
    ``channel_codes`` is ``pd.factorize(channels, sort=True)``, when the caller knows it.
    ``outlets`` is the frame or a function giving it: plan assembly hands the network's, which is
    then read only where a column was not handed over (and a light network's is never made)."""
    frame = outlets if callable(outlets) else (lambda: outlets)
    covered = np.asarray(covered, dtype=bool)
    if channel_codes is None and channels is None:
        channels = frame()["channel"].to_numpy()
    potential = frame()["potential"].to_numpy(dtype=float) if potential is None else potential
    if visits is _FROM_FRAME:
        outlets = frame()
        visits = outlets["visits_per_month"].to_numpy(dtype=float) if "visits_per_month" in outlets.columns else None
    deferred_index = callable(index)
    n_reg = n_regions if deferred_index else len(index)
    inr = rcode >= 0
    rc = rcode[inr]
    cov_in = covered[inr]

    def per_region(weights=None) -> np.ndarray:
        return np.bincount(rc, weights=weights, minlength=n_reg)

    n_out = per_region().astype(np.int64)
    n_cov = per_region(cov_in.astype(float)).round().astype(np.int64)
    # np.bincount sums in row order; pandas' groupby sums could differ from these in the last bit
    pot = per_region(potential[inr])
    cov_pot = per_region((potential * covered)[inr])
    with np.errstate(invalid="ignore", divide="ignore"):
        nd = np.where(n_out > 0, n_cov / np.where(n_out > 0, n_out, 1), np.nan)
        wd = np.where(pot != 0, cov_pot / np.where(pot != 0, pot, 1.0), np.nan)
    # channel breadth: distinct channel types reached / present, from unique (region, channel) pairs
    ccode, ch_names = pd.factorize(channels, sort=True) if channel_codes is None else channel_codes
    n_ch = max(len(ch_names), 1)
    ok = inr & (ccode >= 0)
    pair = rcode[ok].astype(np.int64) * n_ch + ccode[ok]
    present = np.bincount(np.unique(pair) // n_ch, minlength=n_reg)
    reached = np.bincount(np.unique(pair[covered[ok]]) // n_ch, minlength=n_reg)
    has_outlets = n_out > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        breadth = np.where(has_outlets, reached / np.where(present > 0, present, 0), np.nan)
    cols = {"outlets": n_out, "covered_outlets": n_cov, "potential": pot, "covered_potential": cov_pot,
            "numeric_distribution": nd, "weighted_distribution": wd, "channel_breadth": breadth,
            "penetration": nd, "covered": n_cov > 0}

    if visits is not None:
        v = per_region((visits * covered)[inr])
        with np.errstate(invalid="ignore", divide="ignore"):
            cols["visits_per_covered_outlet"] = np.where(n_cov > 0, v / np.where(n_cov > 0, n_cov, 1), np.nan)

    overall: dict[str, float] = {
        "outlets": int(len(covered)),
        "covered_outlets": int(covered.sum()),
        "numeric_distribution": numeric_distribution(covered),
        "weighted_distribution": weighted_distribution(covered, potential),
        # unique region ids (a deferred index): the regions reached are the distinct codes covered
        "region_coverage": (_ratio(len(np.unique(rcode[covered & inr])), n_reg) if deferred_index
                            else region_coverage(covered, frame()["region_id"].to_numpy(), list(index))),
        "mean_channel_breadth": _nanmean(breadth),
        "mean_penetration_covered_regions": _nanmean(nd[n_cov > 0]),
    }

    okc = ccode >= 0
    cc = ccode[okc]
    c_out = np.bincount(cc, minlength=len(ch_names)).astype(np.int64)
    c_cov = np.bincount(cc, weights=covered[okc].astype(float), minlength=len(ch_names)).round().astype(np.int64)
    c_pot = np.bincount(cc, weights=potential[okc], minlength=len(ch_names))
    c_cpot = np.bincount(cc, weights=(potential * covered)[okc], minlength=len(ch_names))
    cpair = ccode[ok & covered].astype(np.int64) * max(n_reg, 1) + rcode[ok & covered]
    c_reached = np.bincount(np.unique(cpair) // max(n_reg, 1), minlength=len(ch_names)).astype(np.int64)
    # regions outside all_regions still count as reached by their channel
    out_cov = ~inr & covered & (ccode >= 0)
    if out_cov.any():
        regions = frame()["region_id"].to_numpy()
        extra = pd.DataFrame({"c": ccode[out_cov], "r": regions[out_cov]}).groupby("c")["r"].nunique()
        c_reached[extra.index.to_numpy()] += extra.to_numpy()

    def make_by_channel() -> pd.DataFrame:
        with np.errstate(invalid="ignore", divide="ignore"):
            return pd.DataFrame({
                "outlets": c_out,
                "covered_outlets": c_cov,
                "numeric_distribution": c_cov / np.where(c_out > 0, c_out, 1),
                "weighted_distribution": np.where(c_pot != 0, c_cpot / np.where(c_pot != 0, c_pot, 1.0), np.nan),
                "regions_reached": c_reached,
            }, index=pd.Index(ch_names, name="channel"))

    if link_codes is not None:
        o_code, o_idx, d_code = link_codes
        m = max(int(d_code.max()) + 1 if len(d_code) else 1, 1)
        both = (o_code >= 0) & (d_code >= 0)
        od = np.unique(o_code[both].astype(np.int64) * m + d_code[both])
        overall["multi_served_outlets"] = int((np.bincount(od // m) > 1).sum())
        live = (o_idx >= 0) & (d_code >= 0)
        lr = rcode[o_idx[live]]
        keep = lr >= 0
        rd = np.unique(lr[keep].astype(np.int64) * m + d_code[live][keep])
        n_dist = np.bincount(rd // m, minlength=n_reg).astype(np.int64)
        cols["distributors"] = n_dist
        overall["split_regions"] = int((n_dist > 1).sum())
        cov_r = n_cov > 0
        overall["mean_distributors_per_covered_region"] = float(n_dist[cov_r].mean()) if cov_r.any() \
            else float("nan")
    if budget is None or not len(budget):
        # the tables are made on first read (every column above is this call's own array)
        metrics = Metrics(overall=overall)
        metrics._defer(by_region=lambda: pd.DataFrame(cols, index=index() if deferred_index else index),
                       by_channel=make_by_channel)
        return metrics
    by_region = pd.DataFrame(cols, index=index() if deferred_index else index)
    by_channel = make_by_channel()
    if budget is not None and len(budget):
        spend = budget.groupby("region_id")["spend"].sum().reindex(by_region.index).fillna(0.0)
        by_region["spend"] = spend
        by_region["budget_per_covered_outlet"] = spend / by_region["covered_outlets"].replace(0, np.nan)
        overall["spend"] = float(spend.sum())
        if "response" in budget.columns:
            resp = budget.groupby("region_id")["response"].sum().reindex(by_region.index).fillna(0.0)
            by_region["response"] = resp
            overall["response"] = float(resp.sum())
            overall["roi"] = _ratio(resp.sum(), spend.sum())
        if "channel" in budget.columns:
            ch_spend = budget.groupby("channel")["spend"].sum()
            by_channel = by_channel.join(ch_spend.rename("spend"), how="outer")
    return Metrics(overall=overall, by_region=by_region, by_channel=by_channel)


def _nanmean(values: np.ndarray) -> float:
    """Mean over the non-NaN values (pandas' ``Series.mean``), NaN when there are none."""
    values = values[~np.isnan(values)]
    return float(values.mean()) if len(values) else float("nan")


def _codes(index: pd.Index, values) -> np.ndarray:
    """Position of each value in ``index`` (-1 where absent); duplicate index labels map to the first."""
    if not index.is_unique:
        index = index[~index.duplicated()]
    return index.get_indexer(values)


def territory_metrics(
    graph: nx.Graph,
    label: Mapping,
    region_table: pd.DataFrame,
    balance_columns=(),
    region_geometry=None,
) -> pd.DataFrame:
    """Per territory: size, balanced attributes (sum and ratio to mean), connectivity, cut edges.

    Parameters
    ----------
    graph : networkx.Graph
        Region adjacency.
    label : mapping region_id -> territory
    region_table : DataFrame with ``region_id`` and the numeric columns to aggregate
    balance_columns : sequence of str
    region_geometry : GeoSeries indexed by region_id, optional
        Adds Polsby-Popper compactness ``4 pi area / perimeter^2`` of each territory.

    Examples
    --------
    >>> import networkx as nx, pandas as pd
    >>> t = pd.DataFrame({"region_id": [0, 1, 2, 3], "pop": [1.0, 1.0, 1.0, 3.0]})
    >>> out = territory_metrics(nx.path_graph(4), {0: "A", 1: "A", 2: "B", 3: "B"}, t, ["pop"])
    >>> out[["regions", "pop", "pop_ratio", "connected", "cut_edges"]].to_dict("index")["B"]
    {'regions': 2, 'pop': 4.0, 'pop_ratio': 1.3333333333333333, 'connected': True, 'cut_edges': 1}
    """
    lab = pd.Series(label)
    table = region_table.set_index("region_id").reindex(lab.index)
    groups = lab.groupby(lab).groups
    rows = []
    for terr, members in groups.items():
        members = list(members)
        row: dict[str, Any] = {"territory": terr, "regions": len(members)}
        for col in balance_columns:
            row[col] = float(table.loc[members, col].sum())
        sub = graph.subgraph(members)
        row["connected"] = bool(nx.is_connected(sub)) if len(members) else False
        row["components"] = nx.number_connected_components(sub) if len(members) else 0
        member_set = set(members)
        row["cut_edges"] = sum(1 for u in members for v in graph.neighbors(u) if v not in member_set and v in label)
        rows.append(row)
    out = pd.DataFrame(rows).set_index("territory").sort_index()
    for col in balance_columns:
        b = balance(out[col])
        out[f"{col}_ratio"] = b["ratio"]
    if region_geometry is not None:
        geo_by_terr = region_geometry.reindex(lab.index).groupby(lab.to_numpy()).agg(lambda s: s.union_all())
        import geopandas as gpd

        gs = gpd.GeoSeries(geo_by_terr, crs=getattr(region_geometry, "crs", None))
        if gs.crs is not None and gs.crs.is_geographic:
            gs = gs.to_crs(gs.estimate_utm_crs() if len(gs) else gs.crs)
        per = gs.length.replace(0, np.nan)
        out["polsby_popper"] = (4 * np.pi * gs.area / per**2).reindex(out.index).to_numpy()
    return out
