"""Plan assembly of a distributor selection: link values -> the one Plan shape."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...exceptions import SettingsError
from ...metrics import coverage_metrics
from ...plan import Plan
from ...solver import SolveInfo

__all__ = ["selection_plan"]


def selection_plan(net, oi, dj, xval, yval, info: SolveInfo, kind: str, max_distance=None) -> Plan:
    """Plan of a distributor selection from link values (shared by every objective)."""
    outlets = net.outlets
    dists = net.distributors
    n, m = len(outlets), len(dists)
    xval = np.clip(np.nan_to_num(xval), 0.0, 1.0)
    keep = xval > 1e-6
    cost_all = net.costs()
    try:
        dist_all = net.distances()
    except SettingsError:
        dist_all = None
    links = pd.DataFrame({
        "outlet_id": net.outlet_ids[oi[keep]],
        "distributor_id": net.distributor_ids[dj[keep]],
        "share": xval[keep],
        "cost": cost_all[oi[keep], dj[keep]] * xval[keep],
    })
    if dist_all is not None:
        links["distance"] = dist_all[oi[keep], dj[keep]]
    share_sum = np.bincount(oi[keep], weights=xval[keep], minlength=n)
    # main distributor: the largest share per outlet
    order = np.lexsort((-xval[keep], oi[keep]))
    first = np.ones(len(order), dtype=bool)
    first[1:] = oi[keep][order][1:] != oi[keep][order][:-1]
    main_rows = order[first]
    main = np.full(n, None, dtype=object)
    main_share = np.zeros(n)
    main[oi[keep][main_rows]] = net.distributor_ids[dj[keep][main_rows]]
    main_share[oi[keep][main_rows]] = xval[keep][main_rows]
    n_links = np.bincount(oi[keep], minlength=n)
    covered = share_sum > 0.5
    assignments = pd.DataFrame({
        "outlet_id": net.outlet_ids,
        "region_id": outlets["region_id"].to_numpy(),
        "channel": outlets["channel"].to_numpy(),
        "potential": outlets["potential"].to_numpy(dtype=float),
        "distributor_id": main,
        "share": main_share,
        "n_distributors": n_links,
        "cost": np.bincount(oi[keep], weights=links["cost"].to_numpy(), minlength=n),
        "covered": covered,
    })
    if dist_all is not None:
        d = np.full(n, np.nan)
        d[oi[keep][main_rows]] = dist_all[oi[keep][main_rows], dj[keep][main_rows]]
        assignments["distance"] = d
    demand = outlets["demand"].to_numpy(dtype=float)
    load = np.bincount(dj[keep], weights=demand[oi[keep]] * xval[keep], minlength=m)
    is_open = np.round(np.nan_to_num(yval)) > 0.5
    capacity = dists["capacity"].to_numpy(dtype=float)
    table = pd.DataFrame({
        "distributor_id": net.distributor_ids,
        "open": is_open,
        "existing": dists["existing"].to_numpy(dtype=bool),
        "fixed_cost": dists["fixed_cost"].to_numpy(dtype=float),
        "capacity": capacity,
        "load": load,
        "utilisation": np.where(np.isfinite(capacity) & (capacity > 0),
                                load / np.where(capacity > 0, capacity, 1), np.nan),
        "outlets_served": np.bincount(dj[keep], minlength=m),
        "service_cost": np.bincount(dj[keep], weights=links["cost"].to_numpy(), minlength=m),
    })
    if "region_id" in dists.columns:
        table.insert(1, "region_id", dists["region_id"].to_numpy())
    metrics = coverage_metrics(outlets, covered, net.region_ids, served_by=links)
    fixed_total = float(table.loc[table["open"], "fixed_cost"].sum())
    service_total = float(links["cost"].sum())
    open_tab = table[table["open"]]
    metrics.overall.update({
        "open_distributors": int(is_open.sum()),
        "new_signings": int((is_open & ~table["existing"].to_numpy()).sum()),
        "fixed_cost": fixed_total,
        "service_cost": service_total,
        "total_cost": fixed_total + service_total,
        "cost_per_covered_outlet": (fixed_total + service_total) / covered.sum() if covered.any() else float("nan"),
        "max_utilisation": float(open_tab["utilisation"].max()) if len(open_tab) else float("nan"),
        "load_cv": float(open_tab["load"].std(ddof=0) / open_tab["load"].mean())
        if len(open_tab) and open_tab["load"].mean() > 0 else float("nan"),
    })
    if dist_all is not None and covered.any():
        metrics.overall["mean_distance"] = float(np.nanmean(assignments.loc[covered, "distance"]))
        metrics.overall["max_distance"] = float(np.nanmax(assignments.loc[covered, "distance"]))
    metrics.by_distributor = table.set_index("distributor_id")
    if max_distance is not None:
        metrics.overall["max_distance_limit"] = float(max_distance)
    return Plan(kind=kind, info=info, assignments=assignments, metrics=metrics,
                tables={"distributors": table, "links": links}, network=net)

