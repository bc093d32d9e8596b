"""Territory settings checked against a network and turned into arrays (region positions ``0..n-1``)."""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Mapping
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from ...exceptions import SettingsError, format_ids
from .contiguity import adjacency_lists

__all__ = ["TerritoryData", "prepare", "adj_weights", "balance_excess", "balance_kept", "load_slack", "row_bounds",
           "OBJECTIVES", "METHODS"]

OBJECTIVES = ("compactness", "cut_edges", "disruption")
METHODS = ("exact", "heuristic", "cut_and_price")
_ALIASES = {"outlets": "n_outlets"}
#: the default ``weight``: regions weigh 1 when the network carries no outlet workload
_DEFAULT_WEIGHT = "workload"


@dataclasses.dataclass
class TerritoryData:
    """One territory problem in region positions: what every formulation and heuristic reads."""

    net: Any
    ids: list
    n: int
    k: int
    labels: list
    edges: np.ndarray
    adj: list
    attrs: list
    loads: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    weights: np.ndarray
    dist: np.ndarray | None
    centres: list | None
    current: np.ndarray | None
    locked: np.ndarray | None
    edge_w: np.ndarray
    table: pd.DataFrame
    bridged: bool = False


def load_slack(bound: float | np.ndarray) -> float | np.ndarray:
    """How far a territory's load may pass ``bound`` and still keep it: the floating-point noise of summing the
    same loads in another order (1e-6, plus 1e-12 of the bound for loads past a million), never a solver's or a
    heuristic's tolerance (HiGHS's, on a scaled row of loads near 1e5, is about 0.01)."""
    return 1e-6 + 1e-12 * np.abs(bound)


def balance_excess(d: TerritoryData, label) -> float:
    """The most any territory's load of ``label`` passes a balance bound by (0.0 when every load keeps them)."""
    sums = np.zeros((d.k, len(d.attrs)))
    np.add.at(sums, np.asarray(label), d.loads)
    return float(max(np.maximum(d.lower - sums, sums - d.upper).max(initial=0.0), 0.0))


def balance_kept(d: TerritoryData, label) -> bool:
    """Whether every territory of ``label`` keeps every balance bound (up to :func:`load_slack`), from its loads.

    The one test of balance for a plan that is returned or handed to HiGHS as a start, and the one the plan
    states (``<attr>_within_bounds``): a stage's own claim (a ``violation`` of 0.0) is not taken on trust.
    """
    sums = np.zeros((d.k, len(d.attrs)))
    np.add.at(sums, np.asarray(label), d.loads)
    return bool(((sums >= d.lower - load_slack(d.lower)) & (sums <= d.upper + load_slack(d.upper))).all())


def row_bounds(d: TerritoryData, p: int) -> tuple[float, float]:
    """The bounds of attribute ``p``'s balance rows in a MILP: ``d.lower[p]``, ``d.upper[p]``, narrowed to whole
    numbers when every load is one (so is every territory's load; :func:`load_slack` kept).

    The same plans keep them, so every bound of the model stays valid; but a solver's tolerance can no longer
    let a load past a fractional bound (a load of 200,000 under ``upper = 199,999.9999`` was within HiGHS's
    tolerance, came back "optimal", and broke the plan's own check).
    """
    lo, hi = float(d.lower[p]), float(d.upper[p])
    a = d.loads[:, p]
    if not (np.isfinite(a).all() and (a == np.round(a)).all()):
        return lo, hi
    wlo = float(math.ceil(lo - load_slack(lo))) if math.isfinite(lo) else lo
    whi = float(math.floor(hi + load_slack(hi))) if math.isfinite(hi) else hi
    return (wlo, whi) if wlo <= whi else (lo, hi)


def _nearest(name: str, options) -> str:
    close = difflib.get_close_matches(str(name), [str(o) for o in options], n=1, cutoff=0.5)
    return f" Did you mean {close[0]!r}?" if close else ""


def _weights(table: pd.DataFrame, weight: str | None, n: int) -> np.ndarray:
    """Region weights of ``compactness``; a named column must exist (a typo never means 1)."""
    if weight is None:
        return np.ones(n)
    numeric = [c for c in table.columns if c != "region_id" and pd.api.types.is_numeric_dtype(table[c])]
    if weight not in table.columns:
        if weight == _DEFAULT_WEIGHT:
            # documented default: a network without outlets has no workload, every region weighs 1
            return np.ones(n)
        raise SettingsError(
            f"weight={weight!r} is not a region column.{_nearest(weight, numeric)} Numeric region columns: "
            f"{numeric}; pass weight=None to weigh every region 1."
        )
    if weight not in numeric:
        raise SettingsError(f"weight={weight!r} is not numeric; numeric region columns: {numeric}.")
    w = table[weight].to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(w) | (w < 0))
    if len(bad):
        raise SettingsError(
            f"weight={weight!r} must be a finite number >= 0 for every region; region_id "
            f"{format_ids(table['region_id'].iloc[bad].tolist())} are not."
        )
    return w.copy()


def _edges(graph: nx.Graph, pos: dict, edge_weight: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Edge array in positions and each edge's border length (1 without ``edge_weight``)."""
    pairs, weights, missing, keys = [], [], [], set()
    for u, v, data in graph.edges(data=True):
        if u == v:
            continue
        pairs.append((pos[u], pos[v]))
        keys.update(data)
        if edge_weight is None:
            weights.append(1.0)
        elif edge_weight in data:
            weights.append(float(data[edge_weight]))
        elif data.get("bridge"):
            # an island bridge is no real border: cutting it costs what an unknown border does
            weights.append(1.0)
        else:
            weights.append(math.nan)
            missing.append((u, v))
    if edge_weight is not None and missing:
        if len(missing) == len(pairs):
            others = sorted(str(k) for k in keys - {"bridge"})
            raise SettingsError(
                f"edge_weight={edge_weight!r} is not an attribute of any graph edge.{_nearest(edge_weight, others)} "
                f"Edge attributes: {others}; pass edge_weight=None to count cut edges."
            )
        raise SettingsError(
            f"edge_weight={edge_weight!r} is missing on {len(missing)} of {len(pairs)} edges, e.g. "
            f"{missing[:5]}; give every edge a border length."
        )
    w = np.array(weights, dtype=float)
    if (~np.isfinite(w) | (w < 0)).any():
        raise SettingsError(f"edge_weight={edge_weight!r} must be a finite number >= 0 on every edge.")
    return np.array(pairs, dtype=np.int64).reshape(-1, 2), w


def adj_weights(d: TerritoryData) -> list[list[float]]:
    """Border length of each adjacency-list entry (the heuristics' view of ``edge_w``)."""
    w = {}
    for (u, v), ew in zip(d.edges.tolist(), d.edge_w.tolist()):
        w[(u, v)] = w[(v, u)] = ew
    return [[w[(u, v)] for v in nbrs] for u, nbrs in enumerate(d.adj)]


def prepare(model, net) -> TerritoryData:
    """Check ``model``'s settings against ``net`` and return the problem as arrays.

    Raises
    ------
    SettingsError
        Unknown objective, method, column, region id or territory; a disconnected graph
        with contiguity; misspelled ``weight`` or ``edge_weight`` (with the nearest name).
    """
    if model.objective not in OBJECTIVES:
        raise SettingsError(f"objective must be one of {OBJECTIVES}, got {model.objective!r}.")
    if model.method not in METHODS:
        close = difflib.get_close_matches(str(model.method), METHODS, n=1)
        raise SettingsError(f"method must be one of {METHODS}, got {model.method!r}."
                            + (f" Did you mean {close[0]!r}?" if close else ""))
    if model.method == "cut_and_price":
        # the stage's master holds connected territories priced by their cut edges, any relabelling the same plan
        why = [text for bad, text in (
            (model.objective != "cut_edges", f"objective='cut_edges' (got {model.objective!r})"),
            (not model.contiguity, "contiguity=True"),
            (model.centres is not None, "no centres="),
            (model.current is not None, "no current= alignment"),
            (model.locked is not None, "no locked= regions"),
        ) if bad]
        if why:
            raise SettingsError("method='cut_and_price' needs " + ", ".join(why)
                                + "; use method='exact' for this model.")
    if net is None or not hasattr(net, "graph"):
        raise SettingsError("TerritoryDesign.solve needs a ChannelNetwork.")
    bridged = False
    if model.contiguity and net.graph.number_of_nodes() and not nx.is_connected(net.graph):
        comps = net.components()
        if not model.bridge_islands:
            listing = "; ".join(format_ids(c, 8) for c in comps[1:6])
            raise SettingsError(
                f"contiguity=True needs a connected region graph, but it has {len(comps)} components: "
                f"the main one ({len(comps[0])} regions) and {listing}"
                f"{' ...' if len(comps) > 6 else ''}. Pass bridge_islands=True to join each island to "
                f"its nearest neighbour, add the missing edges to the graph, or set contiguity=False."
            )
        net = net.with_bridged_islands()
        bridged = True
    ids = net.region_ids.tolist()
    n = len(ids)
    pos = {r: i for i, r in enumerate(ids)}
    table = net.region_table()

    def region_index(rid, what):
        if rid not in pos:
            raise SettingsError(
                f"{what} names unknown region_id {rid!r}; known ids look like {format_ids(ids, 5)}."
            )
        return pos[rid]

    current = None
    labels = None
    if model.current is not None:
        if isinstance(model.current, str):
            if model.current not in table.columns:
                raise SettingsError(
                    f"current={model.current!r} is not a region column; columns: {list(table.columns)}."
                )
            cur_map = dict(zip(ids, table[model.current].tolist()))
        else:
            cur_map = dict(model.current)
        missing = [r for r in ids if r not in cur_map or pd.isna(cur_map[r])]
        if missing:
            raise SettingsError(
                f"current alignment lacks a territory for region_id {format_ids(missing)}; "
                "give every region its current territory."
            )
        for r in cur_map:
            region_index(r, "current")
        labels = sorted(set(cur_map[r] for r in ids), key=str)
    elif model.objective == "disruption" or model.max_changes is not None:
        raise SettingsError(
            f"{'objective=' + repr(model.objective) if model.objective == 'disruption' else 'max_changes'}"
            " needs current= (the current alignment: region_id -> territory)."
        )
    centre_regions = None
    if model.centres is not None:
        if isinstance(model.centres, Mapping):
            c_labels, c_regions = list(model.centres.keys()), list(model.centres.values())
        else:
            c_regions = list(model.centres)
            c_labels = c_regions if labels is None else labels
        if labels is not None and sorted(c_labels, key=str) != labels:
            raise SettingsError(
                f"centres name territories {format_ids(c_labels)} but current has {format_ids(labels)}; "
                "give centres as a mapping {territory: region_id}."
            )
        if len(set(c_regions)) != len(c_regions):
            raise SettingsError("centres repeats a region; give one distinct centre region per territory.")
        labels = list(c_labels) if labels is None else labels
        order = {lab: i for i, lab in enumerate(c_labels)}
        centre_regions = [region_index(c_regions[order[lab]], "centres") for lab in labels]
    k = model.k
    if labels is not None:
        if k is not None and k != len(labels):
            raise SettingsError(
                f"k={k} but {'current' if model.current is not None else 'centres'} defines "
                f"{len(labels)} territories; drop k or make them agree."
            )
        k = len(labels)
    if k is None:
        raise SettingsError("give k (the number of territories), centres, or current.")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= n:
        raise SettingsError(f"k must be an integer in [1, {n}] (the number of regions), got {k!r}.")
    k = int(k)
    if labels is None:
        labels = list(range(k))
        if model.locked:
            named = sorted(set(model.locked.values()), key=str)
            if not all(isinstance(v, (int, np.integer)) and 0 <= v < k for v in named):
                if len(named) > k:
                    raise SettingsError(f"locked names {len(named)} territories but k={k}.")
                labels = named + [f"T{i}" for i in range(k - len(named))]
    lab_pos = {lab: j for j, lab in enumerate(labels)}
    if current is None and model.current is not None:
        current = np.array([lab_pos[cur_map[r]] for r in ids])
    locked = None
    if model.locked:
        locked = np.full(n, -1)
        for r, lab in model.locked.items():
            if lab not in lab_pos:
                raise SettingsError(
                    f"locked sends region {r!r} to unknown territory {lab!r}; territories: {format_ids(labels)}."
                )
            locked[region_index(r, "locked")] = lab_pos[lab]
        if centre_regions is not None:
            clash = [ids[c] for j, c in enumerate(centre_regions) if locked[c] >= 0 and locked[c] != j]
            if clash:
                raise SettingsError(
                    f"locked moves centre region(s) {format_ids(clash)} out of their own territory."
                )
    if model.max_changes is not None and (
        not isinstance(model.max_changes, (int, np.integer)) or model.max_changes < 0
    ):
        raise SettingsError(f"max_changes must be a non-negative integer, got {model.max_changes!r}.")

    # balance and capacity attributes
    attrs, lower, upper = [], [], []
    spec: dict[str, list] = {}
    for name, value in (model.balance or {}).items():
        spec.setdefault(name, [None, None])
        spec[name][0] = value
    for name, value in (model.capacity or {}).items():
        spec.setdefault(name, [None, None])
        spec[name][1] = value
    cols = []
    for name, (bal, cap) in spec.items():
        col = _ALIASES.get(name, name)
        if col not in table.columns or not pd.api.types.is_numeric_dtype(table[col]):
            numeric = [c for c in table.columns if c != "region_id" and pd.api.types.is_numeric_dtype(table[c])]
            raise SettingsError(
                f"balance/capacity attribute {name!r} is not a numeric region column; available: {numeric}."
            )
        a = table[col].to_numpy(dtype=float)
        mean = a.sum() / k
        lo, hi = 0.0, math.inf
        if bal is not None:
            if isinstance(bal, (tuple, list)) and len(bal) == 2:
                lo, hi = float(bal[0]), float(bal[1])
                if lo > hi:
                    raise SettingsError(f"balance[{name!r}] = {bal}: the lower bound exceeds the upper bound.")
            elif isinstance(bal, (int, float)) and 0 <= bal:
                lo, hi = (1 - bal) * mean, (1 + bal) * mean
            else:
                raise SettingsError(
                    f"balance[{name!r}] must be a tolerance >= 0 (e.g. 0.05) or bounds (L, U); got {bal!r}."
                )
        if cap is not None:
            if not (isinstance(cap, (int, float)) and cap > 0):
                raise SettingsError(f"capacity[{name!r}] must be a positive number, got {cap!r}.")
            hi = min(hi, float(cap))
        attrs.append(name)
        cols.append(a)
        lower.append(lo)
        upper.append(hi)
    loads = np.column_stack(cols) if cols else np.zeros((n, 0))

    edges, edge_w = _edges(net.graph, pos, model.edge_weight)
    adj = adjacency_lists(n, edges)
    weights = _weights(table, model.weight, n)
    dist = None
    if model.objective == "compactness":
        dist = np.array(net.region_distances(), dtype=float)
        if not np.isfinite(dist).all():
            dist[~np.isfinite(dist)] = 10.0 * np.nanmax(np.where(np.isfinite(dist), dist, np.nan)) + 1.0
    return TerritoryData(
        net,
        ids,
        n,
        k,
        labels,
        edges,
        adj,
        attrs,
        loads,
        np.array(lower),
        np.array(upper),
        weights,
        dist,
        centre_regions,
        current,
        locked,
        np.array(edge_w),
        table,
        bridged,
    )
