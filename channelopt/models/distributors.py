"""DistributorSelection: which distributors to sign and which outlets each serves."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pulp

from ..exceptions import InfeasibleError, SettingsError, format_ids
from ..metrics import coverage_metrics
from ..plan import Plan
from ..solver import SolveInfo
from ._base import Model
from ._lp import add_grouped_rows, add_row, linear, new_vars, values

__all__ = ["DistributorSelection"]

OBJECTIVES = ("min_cost", "p_median")


class DistributorSelection(Model):
    """Choose distributors to sign and assign outlets to them (facility location).

    Parameters
    ----------
    objective : {"min_cost", "p_median"}
        ``"min_cost"``: fixed plus service cost (UFLP, or CFLP with ``capacitated``).
        ``"p_median"``: exactly ``p`` open, minimise service cost.
    p : int, optional
        Number of distributors to open (required by ``"p_median"``).
    capacitated : bool
        Hold each distributor's ``capacity`` against the ``demand`` it serves.
    single_source : bool
        Each outlet served by exactly one distributor (exclusivity: no two partners
        sell into the same outlet). Otherwise demand may be split.
    max_distance : float, optional
        No service link longer than this (km for lon/lat networks, CRS units otherwise).
    keep, exclude : sequence of distributor ids
        Distributors forced open / never opened. ``existing`` ones are kept when
        ``keep_existing`` is True.
    keep_existing : bool
        Existing partners stay signed (their fixed cost still counts).
    linking : {"strong", "weak"}
        ``x_ij <= y_j`` per link (tight LP bound, the default) or aggregated per distributor.

    Examples
    --------
    >>> import channelopt as co
    >>> net = co.ChannelNetwork.from_cost_matrix([[1, 4], [3, 1], [5, 2]], fixed_cost=[2, 3])
    >>> plan = co.DistributorSelection(objective="min_cost").solve(net)
    >>> plan.status, plan.objective
    ('optimal', 9.0)
    >>> plan.assignments[["outlet_id", "distributor_id"]].to_string(index=False)
    'outlet_id distributor_id\\n       o0             d0\\n       o1             d1\\n       o2             d1'
    """

    kind = "distributor_selection"

    def __init__(
        self,
        *,
        objective: str = "min_cost",
        p: int | None = None,
        capacitated: bool = False,
        single_source: bool = False,
        max_distance: float | None = None,
        keep: Sequence | None = None,
        exclude: Sequence | None = None,
        keep_existing: bool = True,
        linking: str = "strong",
    ) -> None:
        self.objective = objective
        self.p = p
        self.capacitated = capacitated
        self.single_source = single_source
        self.max_distance = max_distance
        self.keep = keep
        self.exclude = exclude
        self.keep_existing = keep_existing
        self.linking = linking

    # ------------------------------------------------------------------ checks
    def _check(self, net) -> None:
        if net is None:
            raise SettingsError("DistributorSelection.solve needs a ChannelNetwork.")
        if self.objective not in OBJECTIVES:
            raise SettingsError(f"objective must be one of {OBJECTIVES}, got {self.objective!r}.")
        if self.linking not in ("strong", "weak"):
            raise SettingsError(f"linking must be 'strong' or 'weak', got {self.linking!r}.")
        dists = net._need_distributors()
        net._need_outlets()
        m = len(dists)
        ids = net.distributor_ids.tolist()
        for what in ("keep", "exclude"):
            given = getattr(self, what) or []
            unknown = [d for d in given if d not in set(ids)]
            if unknown:
                raise SettingsError(f"{what} names unknown distributor ids {format_ids(unknown)}.")
        both = set(self.keep or []) & set(self.exclude or [])
        if both:
            raise SettingsError(f"distributors {format_ids(sorted(both, key=str))} are both kept and excluded.")
        if self.objective == "p_median":
            if self.p is None:
                raise SettingsError("objective='p_median' needs p, the number of distributors to open.")
        if self.p is not None:
            if int(self.p) != self.p or self.p < 1:
                raise SettingsError(f"p must be a positive integer, got {self.p!r}.")
            available = m - len(set(self.exclude or []))
            if self.p > available:
                raise SettingsError(f"p={self.p} is larger than the {available} candidate distributors available.")
            forced = self._forced_open(net)
            if forced.sum() > self.p:
                raise SettingsError(f"p={self.p} is smaller than the {int(forced.sum())} distributors that must stay "
                                    f"open (keep + existing); raise p or set keep_existing=False.")
        if self.max_distance is not None and not self.max_distance > 0:
            raise SettingsError(f"max_distance must be positive, got {self.max_distance!r}.")

    def _forced_open(self, net) -> np.ndarray:
        dists = net.distributors
        forced = dists["distributor_id"].isin(list(self.keep or [])).to_numpy()
        if self.keep_existing:
            forced = forced | dists["existing"].to_numpy(dtype=bool)
        return forced & ~dists["distributor_id"].isin(list(self.exclude or [])).to_numpy()

    def _allowed(self, net) -> np.ndarray:
        cost = net.costs()
        allowed = net.compatibility & np.isfinite(cost)
        if self.max_distance is not None:
            allowed &= net.distances() <= self.max_distance
        excluded = net.distributors["distributor_id"].isin(list(self.exclude or [])).to_numpy()
        allowed[:, excluded] = False
        return allowed

    # ------------------------------------------------------------------ build
    def _build(self, net, prob: pulp.LpProblem) -> dict[str, Any]:
        allowed = self._allowed(net)
        unreachable = np.flatnonzero(~allowed.any(axis=1))
        if len(unreachable):
            ids = net.outlet_ids[unreachable].tolist()
            raise InfeasibleError(
                f"outlets {format_ids(ids)} cannot be served by any allowed distributor "
                f"(channel compatibility, max_distance={self.max_distance}, exclusions); "
                f"raise max_distance or add candidates.",
                reasons=[f"{len(ids)} unreachable outlets"],
            )
        demand = net.outlets["demand"].to_numpy(dtype=float)
        capacity = net.distributors["capacity"].to_numpy(dtype=float)
        forced = self._forced_open(net)
        excluded = net.distributors["distributor_id"].isin(list(self.exclude or [])).to_numpy()
        if self.capacitated:
            usable_cap = capacity[~excluded].sum()
            if usable_cap < demand.sum() - 1e-9:
                raise InfeasibleError(
                    f"total capacity {usable_cap:,.6g} of the usable distributors is below total demand "
                    f"{demand.sum():,.6g}; add capacity or candidates.",
                    reasons=["capacity below demand"],
                )
        n, m = allowed.shape
        oi, dj = np.nonzero(allowed)
        cost = net.costs()[oi, dj]
        cat = pulp.LpBinary if self.single_source else pulp.LpContinuous
        x = new_vars(prob, "x", len(oi), low=0.0, up=1.0, cat=cat)
        y = np.empty(m, dtype=object)
        for j in range(m):
            lo = 1 if forced[j] else 0
            hi = 0 if excluded[j] else 1
            y[j] = prob.add_variable(f"y_{j}", lo, hi, pulp.LpBinary)
        fixed = net.distributors["fixed_cost"].to_numpy(dtype=float)
        if self.objective == "p_median":
            prob.setObjective(linear(x, cost))
        else:
            prob.setObjective(linear(np.concatenate([x, y]), np.concatenate([cost, fixed])))
        add_grouped_rows(prob, x, None, oi, n, "==", 1.0, "assign")
        if self.linking == "strong":
            for k, (xk, j) in enumerate(zip(x.tolist(), dj.tolist())):
                prob.addConstraint(pulp.LpConstraint(pulp.LpAffineExpression([(xk, 1.0), (y[j], -1.0)]),
                                                     pulp.LpConstraintLE, f"link_{k}", 0.0))
        if self.capacitated:
            finite = np.flatnonzero(np.isfinite(capacity))
            group_of = np.full(m, -1)
            group_of[finite] = np.arange(len(finite))
            sel = group_of[dj] >= 0
            add_grouped_rows(prob, x[sel], demand[oi[sel]], group_of[dj[sel]], len(finite), "<=", 0.0, "cap",
                             extra_vars=y[finite], extra_coefs=-capacity[finite])
        if self.linking == "weak":
            counts = np.bincount(dj, minlength=m).astype(float)
            add_grouped_rows(prob, x, None, dj, m, "<=", 0.0, "wlink", extra_vars=y, extra_coefs=-counts)
        if self.p is not None:
            add_row(prob, y, None, "==", float(self.p), "p")
        return {"oi": oi, "dj": dj, "x": x, "y": y, "cost": cost, "demand": demand, "capacity": capacity,
                "fixed": fixed, "forced": forced, "excluded": excluded}

    def _diagnose(self, net, state) -> list[str]:
        reasons = []
        demand, capacity = state["demand"], state["capacity"]
        if self.capacitated:
            if self.p is not None:
                top = np.sort(capacity[~state["excluded"]])[::-1][: self.p].sum()
                if top < demand.sum():
                    reasons.append(f"the {self.p} largest capacities sum to {top:,.6g}, below total demand "
                                   f"{demand.sum():,.6g}")
            if self.single_source:
                biggest = capacity[~state["excluded"]].max()
                over = np.flatnonzero(demand > biggest)
                if len(over):
                    reasons.append(f"outlets {format_ids(net.outlet_ids[over])} each need more than the largest "
                                   f"capacity {biggest:,.6g} under single sourcing")
                else:
                    reasons.append("single-source assignment cannot pack the demands into the capacities "
                                   "(a bin-packing limit); allow split demand or add capacity")
        return reasons

    # ------------------------------------------------------------------ plan
    def _extract(self, net, state: dict[str, Any], info: SolveInfo) -> Plan:
        return selection_plan(net, state["oi"], state["dj"], values(state["x"]), values(state["y"]),
                              info, self.kind, max_distance=self.max_distance)


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
        "utilisation": np.where(np.isfinite(capacity) & (capacity > 0), load / np.where(capacity > 0, capacity, 1), np.nan),
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
