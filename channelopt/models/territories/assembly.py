"""A territory plan from a label per region: assignments, territory table and metrics."""

from __future__ import annotations

import math
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from ...metrics import Metrics, coverage_metrics, territory_metrics
from ...metrics import balance as balance_of
from ...metrics import cut_edges as count_cut_edges
from ...plan import Plan
from ...solver import SolveInfo
from .data import TerritoryData, load_slack

__all__ = ["assemble_plan"]


def assemble_plan(model, d: TerritoryData, label, centres, info: SolveInfo, state) -> Plan:
    """The territory Plan of ``label``: every rule checked on the graph itself, never read from the model."""
    integral = model.objective == "disruption" or (
        model.objective == "cut_edges" and np.all(d.edge_w == np.round(d.edge_w))
    )
    if integral and math.isfinite(info.objective) and abs(info.objective - round(info.objective)) < 1e-6:
        # counts come back as 2.9999999999999996 from the solver's floating point
        info.objective = float(round(info.objective))
    labels = [d.labels[t] for t in np.asarray(label).tolist()]
    assignments = pd.DataFrame({"region_id": d.ids, "territory": labels})
    if centres is not None:
        assignments["centre"] = [d.ids[centres[t]] for t in np.asarray(label).tolist()]
    if d.current is not None:
        assignments["current_territory"] = [d.labels[t] for t in d.current.tolist()]
        assignments["changed"] = np.asarray(label) != d.current
    if d.locked is not None:
        assignments["locked"] = d.locked >= 0
    lab_map = dict(zip(d.ids, labels))
    graph = d.net.graph
    table = d.table.copy()
    for p, name in enumerate(d.attrs):
        if name not in table.columns:
            table[name] = d.loads[:, p]
    geom = None
    regions = d.net.regions
    if (
        hasattr(regions, "geometry")
        and "geometry" in regions.columns
        and regions.crs is not None
        and regions.geom_type.isin(["Polygon", "MultiPolygon"]).all()
    ):
        geom = regions.set_index("region_id").geometry
    terr = territory_metrics(graph, lab_map, table, d.attrs, region_geometry=geom)
    terr = terr.reindex([lab for lab in d.labels if lab in set(labels)])
    for p, name in enumerate(d.attrs):
        terr[f"{name}_deviation"] = terr[f"{name}_ratio"] - 1.0
        # the test a plan passed to be returned (data.balance_kept)
        terr[f"{name}_within_bounds"] = ((terr[name] >= d.lower[p] - load_slack(d.lower[p]))
                                         & (terr[name] <= d.upper[p] + load_slack(d.upper[p])))
    if centres is not None:
        terr["centre"] = [d.ids[centres[d.labels.index(lab)]] for lab in terr.index]
    if d.net.outlets is not None and len(d.net.outlets):
        outlets = d.net.outlets.copy()
        outlets["region_id"] = outlets["region_id"].map(lab_map)
        cov = coverage_metrics(outlets, np.ones(len(outlets), dtype=bool), list(terr.index))
        br = cov.by_region
        terr["outlets"] = br["outlets"].to_numpy()
        terr["potential"] = br["potential"].to_numpy()
        terr["channels"] = (
            outlets.groupby("region_id")["channel"].nunique().reindex(terr.index).fillna(0).astype(int)
        )
        terr["channel_breadth"] = br["channel_breadth"].to_numpy()
    terr.index.name = "territory"
    overall: dict[str, Any] = {"territories": int(len(terr)), "regions": d.n}
    for name in d.attrs:
        b = balance_of(terr[name])
        overall[f"max_deviation_{name}"] = b["max_deviation"]
        overall[f"cv_{name}"] = b["cv"]
        overall[f"balance_ok_{name}"] = bool(terr[f"{name}_within_bounds"].all())
    overall["cut_edges"] = count_cut_edges(graph, lab_map)
    if model.edge_weight:
        overall["cut_length"] = count_cut_edges(graph, lab_map, weight=model.edge_weight)
    # checked on the graph itself, never taken from the model
    overall["contiguity_verified"] = bool(
        all(nx.is_connected(graph.subgraph([r for r, t in lab_map.items() if t == lab])) for lab in terr.index)
    )
    overall["islands_bridged"] = d.bridged
    if d.dist is not None and centres is not None:
        cl = np.asarray(centres)[np.asarray(label)]
        overall["weighted_distance"] = float((d.weights * d.dist[np.arange(d.n), cl]).sum())
    if d.current is not None:
        overall["regions_changed"] = int((np.asarray(label) != d.current).sum())
    overall.update(
        {
            "gap": info.gap,
            "lazy_rounds": state.get("rounds", 0),
            "lazy_cuts": state.get("cuts", 0),
            "heuristic_seconds": state.get("heuristic_seconds", math.nan),
        }
    )
    metrics = (
        coverage_metrics(d.net.outlets, np.ones(len(d.net.outlets), dtype=bool), d.ids)
        if d.net.outlets is not None and len(d.net.outlets)
        else None
    )
    if metrics is None:
        metrics = Metrics()
    metrics.overall.update(overall)
    metrics.by_territory = terr
    plan = Plan(
        kind=model.kind,
        info=info,
        assignments=assignments,
        metrics=metrics,
        tables={"territories": terr},
        network=d.net,
    )
    plan.settings = {"model": type(model).__name__, **model.get_params()}
    return plan
