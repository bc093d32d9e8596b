"""Plan assembly of a distributor selection: link values -> the one Plan shape."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ...exceptions import NotOptimalWarning, SettingsError
from ...metrics import _coverage
from ...plan import Plan
from ...solver import SolveInfo

__all__ = ["selection_plan"]


def selection_plan(net, oi, dj, xval, yval, info: SolveInfo, kind: str, max_distance=None,
                   covered_weight: np.ndarray | None = None) -> Plan:
    """Plan of a distributor selection from link values (shared by every objective).

    The numbers (solve info, overall metrics) are computed here from numpy columns; the
    tables (assignments, ``distributors``, ``links``, the metrics by region, channel and
    distributor) are made on first read, each once, from copies of their columns taken
    here (:class:`channelopt.metrics._Deferred`): at 100 outlets the six frames took
    ~1.5 ms, more than the solve, and a scenario batch or a benchmark may read only the
    objective (issue 13). ``covered_weight`` (one weight per outlet) adds the metric of
    that name: the weight of the covered outlets.
    """
    # the network's columns through its readers: a light matrix network's frames stay unmade
    column = net._column
    n, m = net._count("outlets"), net._count("distributors")
    # np.clip(np.nan_to_num(xval), 0, 1) without nan_to_num's passes (NaN and -inf -> 0, inf -> 1)
    xval = np.where(xval > 0.0, np.minimum(xval, 1.0), 0.0)
    keep = xval > 1e-6
    ko, kd, kx = oi[keep], dj[keep], xval[keep]
    # the plan's links only (no n x m matrix; issue 13)
    try:
        dist_link = net.link_distances(ko, kd)
    except SettingsError:
        dist_link = None
    # copies: a table made later must not see later edits of the network's frames (the id columns are made
    # when a table is: functions giving them as they are now)
    out_ids = net._column_array("outlets", "outlet_id")
    dist_ids = net._column_array("distributors", "distributor_id")
    link_cost = net.link_costs(ko, kd) * kx
    share_sum = np.bincount(ko, weights=kx, minlength=n)
    # main distributor: the largest share per outlet
    order = np.lexsort((-kx, ko))
    first = np.ones(len(order), dtype=bool)
    first[1:] = ko[order][1:] != ko[order][:-1]
    main_rows = order[first]
    main_pos = np.full(n, -1, dtype=np.int64)
    main_pos[ko[main_rows]] = kd[main_rows]
    main_share = np.zeros(n)
    main_share[ko[main_rows]] = kx[main_rows]
    covered = share_sum > 0.5
    potential = column("outlets", "potential", float, copy=True)
    dist_main = None
    if dist_link is not None:
        dist_main = np.full(n, np.nan)
        dist_main[ko[main_rows]] = dist_link[main_rows]
    demand = column("outlets", "demand", float)
    load = np.bincount(kd, weights=demand[ko] * kx, minlength=m)
    is_open = yval > 0.5  # np.round(np.nan_to_num(yval)) > 0.5, in one pass (NaN compares False)
    capacity = column("distributors", "capacity", float, copy=True)
    fixed = column("distributors", "fixed_cost", float, copy=True)
    existing = column("distributors", "existing", bool, copy=True)
    utilisation = np.where(np.isfinite(capacity) & (capacity > 0), load / np.where(capacity > 0, capacity, 1), np.nan)
    service = np.bincount(kd, weights=link_cost, minlength=m)
    t_cols = {"distributor_id": dist_ids}
    if net._has_column("distributors", "region_id"):
        t_cols["region_id"] = net._column_array("distributors", "region_id")
    t_cols.update({"open": is_open, "existing": existing, "fixed_cost": fixed, "capacity": capacity, "load": load,
                   "utilisation": utilisation, "outlets_served": np.bincount(kd, minlength=m),
                   "service_cost": service})
    region_col = net._column_array("outlets", "region_id")
    channel_col = net._column_array("outlets", "channel")

    def distributors() -> dict:
        return {k: v() if callable(v) else v for k, v in t_cols.items()}

    def links() -> pd.DataFrame:
        cols = {"outlet_id": out_ids().take(ko), "distributor_id": dist_ids().take(kd), "share": kx,
                "cost": link_cost}
        if dist_link is not None:
            cols["distance"] = dist_link
        return pd.DataFrame(cols)

    def assignments() -> pd.DataFrame:
        cols = {
            "outlet_id": out_ids(),
            "region_id": region_col(),
            "channel": channel_col(),
            "potential": potential,
            "distributor_id": _main_ids(dist_ids(), main_pos),
            "share": main_share,
            "n_distributors": np.bincount(ko, minlength=n),
            "cost": np.bincount(ko, weights=link_cost, minlength=n),
            "covered": covered,
        }
        if dist_main is not None:
            cols["distance"] = dist_main
        return pd.DataFrame(cols)

    def by_distributor() -> pd.DataFrame:
        # table.set_index("distributor_id"), made directly (a third of the assembly's time at 100 x 10)
        cols = distributors()
        return pd.DataFrame({k: v for k, v in cols.items() if k != "distributor_id"},
                            index=pd.Index(cols["distributor_id"], name="distributor_id"))

    rcode = net.outlet_region_index
    region_ids = column("regions", "region_id", copy=True)  # unique: by_region's index is made when read
    visits = column("outlets", "visits_per_month", float) if net._has_column("outlets", "visits_per_month") else None
    codes = net._channel_codes()
    metrics = _coverage(lambda: net.outlets, covered, lambda: pd.Index(list(region_ids), name="region_id"), rcode,
                        (ko, ko, kd) if len(ko) else None, n_regions=len(region_ids),
                        channels=None if codes is not None else column("outlets", "channel", object, copy=True),
                        channel_codes=codes, potential=potential, visits=visits)
    fixed_total = float(fixed[is_open].sum())
    service_total = float(link_cost.sum())
    open_load, open_util = load[is_open], utilisation[is_open]
    metrics.overall.update({
        "open_distributors": int(is_open.sum()),
        "new_signings": int((is_open & ~existing).sum()),
        "fixed_cost": fixed_total,
        "service_cost": service_total,
        "total_cost": fixed_total + service_total,
        "cost_per_covered_outlet": (fixed_total + service_total) / covered.sum() if covered.any() else float("nan"),
        "max_utilisation": float(np.nanmax(open_util)) if len(open_util) and not np.isnan(open_util).all()
        else float("nan"),
        "load_cv": float(open_load.std() / open_load.mean()) if len(open_load) and open_load.mean() > 0
        else float("nan"),
    })
    if dist_main is not None and covered.any():
        metrics.overall["mean_distance"] = float(np.nanmean(dist_main[covered]))
        metrics.overall["max_distance"] = float(np.nanmax(dist_main[covered]))
    metrics._defer(by_distributor=by_distributor)
    if max_distance is not None:
        metrics.overall["max_distance_limit"] = float(max_distance)
    if covered_weight is not None:
        metrics.overall["covered_weight"] = float(np.asarray(covered_weight, dtype=float)[covered].sum())
    plan = Plan(kind=kind, info=info, assignments=None, metrics=metrics, network=net)
    plan._defer(assignments=assignments,
                tables=lambda: {"distributors": pd.DataFrame(distributors()), "links": links()})
    return plan


def _main_ids(dist_ids, pos: np.ndarray):
    """Each outlet's main distributor id (missing where unserved), in the dtype plans always had."""
    if isinstance(dist_ids, pd.arrays.NumpyExtensionArray):
        # numpy-backed ids (ints, objects): an object column with None where unserved, as before
        main = np.full(len(pos), None, dtype=object)
        main[pos >= 0] = dist_ids.to_numpy()[pos[pos >= 0]]
        return main
    return dist_ids.take(pos, allow_fill=True)  # extension ids (str): missing where unserved


def single_source_plan(model, net, solver, oi, dj, opened, info: SolveInfo, steps: dict) -> Plan:
    """The plan of a strategy that serves each outlet from one open distributor (radius p-median, covering
    p-center): tables from the chosen links ``oi``/``dj``, the strategy's ``steps`` as ``solve_steps``, the
    model's settings, and a NotOptimalWarning when the plan is not proven optimal."""
    plan = selection_plan(net, oi, dj, np.ones(len(oi)), opened.astype(float), info, model.kind,
                          max_distance=model.max_distance)
    plan.metrics.overall["selection_objective"] = model.objective
    rows = [{"step": k, **v} for k, v in steps.items()]  # taken now; the frame is made with the other tables
    tables = plan.__dict__.get("_pending", {}).get("tables")
    if tables is not None:
        plan._defer(tables=lambda: {**tables(), "solve_steps": pd.DataFrame(rows)})
    else:
        plan.tables["solve_steps"] = pd.DataFrame(rows)
    plan.settings = {"model": type(model).__name__, **model.get_params(), "solver": solver.to_dict()}
    if info.status != "optimal":
        warnings.warn(f"{type(model).__name__} plan is {info.status}, not proven optimal: gap {info.gap:.2%}.",
                      NotOptimalWarning, stacklevel=5)
    return plan
