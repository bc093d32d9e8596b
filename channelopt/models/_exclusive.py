"""Exclusive territory service: each territory (x channel type) gets one distributor, within capacity.

The integrated plan draws territories after it signs distributors. Laying the
territories over the selection's own assignments leaves outlets served across
territory lines (窜货, cross-territory selling). This stage reassigns whole groups
of outlets, one group per territory (and channel type), to one distributor each: a
generalised assignment problem with the distributors' capacities, solved through the
one solve path.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pulp

from ..exceptions import InfeasibleError, NoSolutionError, format_ids
from ..solver import SolveInfo, Solver
from ._lp import add_grouped_rows, add_row, linear, new_vars, values

__all__ = ["EXCLUSIVITY", "assign_exclusive", "group_keys"]

#: ``"channel"``: one distributor per territory x channel type; ``"territory"``: one per territory.
EXCLUSIVITY = ("channel", "territory")


def group_keys(exclusivity: str) -> list[str]:
    """The columns that define one exclusive group of outlets."""
    return ["territory", "channel"] if exclusivity == "channel" else ["territory"]


def assign_exclusive(net, territory: np.ndarray, served: np.ndarray, is_open: np.ndarray, *,
                     usable: np.ndarray, exclusivity: str, capacitated: bool, max_distance: float | None,
                     solver: Solver) -> tuple[np.ndarray, np.ndarray, SolveInfo, pd.DataFrame]:
    """One distributor per exclusive group of served outlets, at least service cost, within capacity.

    Parameters
    ----------
    net : ChannelNetwork
        Reads ``outlets`` (``channel``, ``demand``), ``distributors`` (``fixed_cost``,
        ``capacity``), ``costs()``, ``compatibility`` and, with ``max_distance``, ``distances()``.
    territory : array of labels, one per outlet
    served : bool array, one per outlet
        Outlets the plan serves (the others stay unserved).
    is_open : bool array, one per distributor
        The distributors signed so far; they stay signed.
    exclusivity : {"channel", "territory"}
    capacitated : bool
        Hold each distributor's load within its ``capacity``.
    usable : bool array, one per distributor
        The distributors that may own a group: the signed ones, plus the candidates
        that may still be signed (at their fixed cost) when the signed ones cannot serve
        the groups exclusively within capacity.
    max_distance : float, optional
        No outlet further than this from its distributor.

    Returns
    -------
    owner : int array, one per outlet (distributor position, -1 when not served)
    is_open : bool array, one per distributor
    info : SolveInfo
    owners : DataFrame
        One row per group: its keys, ``distributor_id``, ``outlets``, ``demand``.

    Raises
    ------
    InfeasibleError
        No exclusive assignment exists; the message names the groups that cannot be
        served and the settings to change.
    """
    outlets, dists = net.outlets, net.distributors
    n = len(outlets)
    frame = pd.DataFrame({"territory": territory, "channel": outlets["channel"].to_numpy()})
    keys = group_keys(exclusivity)
    live = np.flatnonzero(served)
    group = np.full(n, -1)
    codes, uniques = pd.MultiIndex.from_frame(frame.iloc[live][keys]).factorize()
    group[live] = codes
    n_groups = len(uniques)
    demand = outlets["demand"].to_numpy(dtype=float)
    g_demand = np.bincount(codes, weights=demand[live], minlength=n_groups)
    g_size = np.bincount(codes, minlength=n_groups)

    usable = np.asarray(usable, dtype=bool) | is_open
    may_open = bool((usable & ~is_open).any())
    # A group may go to j only when j may serve every outlet in it.
    ok = net.compatibility[live][:, usable]
    cost = net.costs()[live][:, usable]
    if max_distance is not None:
        ok = ok & (net.distances()[live][:, usable] <= max_distance)
    cols = np.flatnonzero(usable)
    bad = np.zeros((n_groups, len(cols)), dtype=int)
    np.add.at(bad, codes, (~ok).astype(int))
    g_cost = np.zeros((n_groups, len(cols)))
    np.add.at(g_cost, codes, np.where(np.isfinite(cost), cost, 0.0))
    capacity = dists["capacity"].to_numpy(dtype=float)
    allowed = bad == 0
    if capacitated:
        allowed &= g_demand[:, None] <= capacity[cols][None, :] * (1 + 1e-9)
    gi, jj = np.nonzero(allowed)
    none = np.flatnonzero(~allowed.any(axis=1))
    if len(none):
        labels = [" / ".join(map(str, uniques[g])) for g in none]
        raise InfeasibleError(
            f"exclusive territories: no {'signed ' if not may_open else ''}distributor can serve the whole of "
            f"{format_ids(labels)} ({' x '.join(keys)}) alone (channel portfolio, max_distance or capacity); "
            f"use exclusivity='channel', more territories, more partners, or exclusivity=None.",
            reasons=["exclusive group without a distributor"])

    prob = pulp.LpProblem("exclusive_territories", pulp.LpMinimize)
    z = new_vars(prob, "z", len(gi), cat=pulp.LpBinary)
    fixed = dists["fixed_cost"].to_numpy(dtype=float)[cols]
    y = new_vars(prob, "y", len(cols), cat=pulp.LpBinary, low=None)
    for k, j in enumerate(cols):
        if is_open[j]:
            y[k].lowBound = 1
    prob += linear(np.concatenate([z, y]), np.concatenate([g_cost[gi, jj], np.where(is_open[cols], 0.0, fixed)]))
    add_grouped_rows(prob, z, np.ones(len(gi)), gi, n_groups, "==", np.ones(n_groups), "one_owner")
    if capacitated:
        cap = capacity[cols]
        finite = np.isfinite(cap)
        group_of = np.full(len(cols), -1)
        group_of[finite] = np.arange(int(finite.sum()))
        sel = group_of[jj] >= 0
        add_grouped_rows(prob, z[sel], g_demand[gi[sel]], group_of[jj[sel]], int(finite.sum()), "<=", 0.0,
                         "capacity", extra_vars=y[finite], extra_coefs=-cap[finite])
    # Strong linking (z <= y per pair) only where a candidate may still be signed.
    for k in np.flatnonzero(~is_open[cols][jj]):
        add_row(prob, [z[k], y[jj[k]]], [1.0, -1.0], "<=", 0.0, f"link_{k}")
    info = solver.solve(prob)
    if info.status in ("infeasible", "unbounded"):
        raise InfeasibleError(
            f"exclusive territories: the {'candidate' if may_open else 'signed'} distributors cannot serve each "
            f"{' x '.join(keys)} group alone within capacity (total demand {g_demand.sum():,.6g}, "
            f"{n_groups} groups); raise p or capacity, use exclusivity='channel', or set exclusivity=None.",
            reasons=["exclusive groups exceed capacity"])
    if not info.has_solution:
        raise NoSolutionError(f"exclusive territories: {solver.name} stopped ({info.termination}) without an "
                              f"assignment; raise time_limit.")
    zval = values(z) > 0.5
    owner_of_group = np.full(n_groups, -1)
    owner_of_group[gi[zval]] = cols[jj[zval]]
    owner = np.full(n, -1)
    owner[live] = owner_of_group[codes]
    opened = is_open.copy()
    opened[cols[values(y) > 0.5]] = True
    table = uniques.to_frame(index=False, name=keys)
    table["distributor_id"] = net.distributor_ids[owner_of_group]
    table["outlets"] = g_size
    table["demand"] = g_demand
    return owner, opened, info, table
