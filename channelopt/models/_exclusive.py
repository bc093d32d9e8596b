"""Exclusive territory service: each territory (x channel type) gets one distributor, within capacity.

The integrated plan draws territories after it signs distributors. Laying the
territories over the selection's own assignments leaves outlets served across
territory lines (窜货, cross-territory selling). This stage reassigns whole groups
of outlets, one group per territory (and channel type), to one distributor each: a
generalised assignment problem with the distributors' capacities, solved through the
one solve path.

Its first plan comes from a heuristic (:func:`greedy_owners`: regret greedy, ejection
repair, shift and swap moves) run on a small share of the stage's clock and checked
against every rule by :func:`exclusive_violations`, which reads the network's own
tables, not the model's rows. The solver starts from it and keeps it when it finds
nothing better in time, so a time-limited stage never returns less than the greedy.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd

from .._arrays import ArrayProblem
from ..exceptions import InfeasibleError, NoSolutionError, SolverError, format_ids
from ..solver import HEURISTIC_SHARE, SolveInfo, Solver

__all__ = ["EXCLUSIVITY", "assign_exclusive", "group_keys", "greedy_owners", "exclusive_violations"]

log = logging.getLogger(__name__)

#: ``"channel"``: one distributor per territory x channel type; ``"territory"``: one per territory.
EXCLUSIVITY = ("channel", "territory")
#: relative slack on capacity, the same in the heuristic's check and the plan's
_CAP_TOL = 1e-9
#: greedy passes before the heuristic gives up (regret, largest first, then perturbed regret)
_ATTEMPTS = 12


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
        ``capacity``), the channel table and, on the links, costs and (with ``max_distance``)
        distances; no outlet x distributor array is made.
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
    solver : Solver
        Its clock bounds the whole stage: the heuristic gets ``HEURISTIC_SHARE`` of it,
        the solver the rest. With no time left for a solver call the heuristic's plan
        is the answer (status ``"feasible"``).

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
    NoSolutionError
        The clock ran out before either the heuristic or the solver found an assignment.
    """
    solver = solver.start_clock()
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
    cols = np.flatnonzero(usable)
    bad, g_cost = _group_links(net, live, codes, cols, n_groups, max_distance)
    capacity = dists["capacity"].to_numpy(dtype=float)
    cap = capacity[cols] if capacitated else np.full(len(cols), np.inf)
    cap = np.where(np.isfinite(cap), cap, np.inf)
    allowed = (bad == 0) & (g_demand[:, None] <= cap[None, :] * (1 + _CAP_TOL))
    none = np.flatnonzero(~allowed.any(axis=1))
    if len(none):
        labels = [" / ".join(map(str, _tuple(uniques[g]))) for g in none]
        raise InfeasibleError(
            f"exclusive territories: no {'signed ' if not may_open else ''}distributor can serve the whole of "
            f"{format_ids(labels)} ({' x '.join(keys)}) alone (channel portfolio, max_distance or capacity); "
            f"use exclusivity='channel', more territories, more partners, or exclusivity=None.",
            reasons=["exclusive group without a distributor"])
    fixed = dists["fixed_cost"].to_numpy(dtype=float)[cols]
    signed = is_open[cols]

    # 1. The heuristic's plan, checked against the rules on the network's own tables.
    t0 = time.perf_counter()
    heuristic = solver.share(HEURISTIC_SHARE)
    greedy = greedy_owners(np.where(allowed, g_cost, np.inf), g_demand, cap, np.where(signed, 0.0, fixed), signed,
                           deadline=heuristic.deadline)
    note = ""
    if greedy is not None:
        owner_g, opened_c = greedy
        owner = _outlet_owner(n, live, codes, cols[owner_g])
        opened = is_open.copy()
        opened[cols[opened_c]] = True
        problems = exclusive_violations(net, owner, opened, group, capacitated=capacitated,
                                        max_distance=max_distance)
        if problems:  # a heuristic bug must not become a plan; the solver still runs
            log.warning("exclusive territories: the greedy plan breaks a rule (%s); not used", problems[0])
            greedy = None
        else:
            note = (f"greedy start {_objective(owner_g, opened_c, g_cost, fixed, signed):,.6g} in "
                    f"{time.perf_counter() - t0:.2f}s")
    if greedy is None:
        note = f"the greedy found no exclusive assignment in {time.perf_counter() - t0:.2f}s"

    # 2. The generalised assignment MIP, started from the greedy's plan.
    gi, jj = np.nonzero(allowed)
    ap = ArrayProblem("exclusive_territories", "min")
    z = ap.add_vars("z", len(gi), upper=1.0, integer=True, cost=g_cost[gi, jj])
    y = ap.add_vars("y", len(cols), lower=signed.astype(float), upper=1.0, integer=True,
                    cost=np.where(signed, 0.0, fixed))
    ap.add_rows("one_owner", rows=gi, cols=z.index, sense="==", rhs=1.0, n_rows=n_groups)
    finite = np.flatnonzero(np.isfinite(cap))
    if len(finite):
        row_of = np.full(len(cols), -1)
        row_of[finite] = np.arange(len(finite))
        sel = row_of[jj] >= 0
        ap.add_rows("capacity", rows=np.r_[row_of[jj[sel]], np.arange(len(finite))],
                    cols=np.r_[z.index[sel], y[finite]], coefs=np.r_[g_demand[gi[sel]], -cap[finite]],
                    sense="<=", rhs=0.0, n_rows=len(finite))
    # Strong linking (z <= y per pair) only where a candidate may still be signed.
    link = np.flatnonzero(~signed[jj])
    if len(link):
        k = np.arange(len(link))
        ap.add_rows("link", rows=np.r_[k, k], cols=np.r_[z[link], y[jj[link]]],
                    coefs=np.r_[np.ones(len(link)), -np.ones(len(link))], sense="<=", rhs=0.0)
    start = None
    if greedy is not None:
        owner_g, opened_c = greedy
        pair = pd.Series(np.arange(len(gi)), index=gi.astype(np.int64) * len(cols) + jj)
        zs = np.zeros(len(gi))
        zs[pair.loc[np.arange(n_groups) * len(cols) + owner_g].to_numpy()] = 1.0
        start = {z: zs, y: (signed | opened_c).astype(float)}
    info = solver.solve(ap, warm_start=start)
    info.message = "; ".join(filter(None, [note, info.message]))
    if info.status in ("infeasible", "unbounded"):
        raise InfeasibleError(
            f"exclusive territories: the {'candidate' if may_open else 'signed'} distributors cannot serve each "
            f"{' x '.join(keys)} group alone within capacity (total demand {g_demand.sum():,.6g}, "
            f"{n_groups} groups); raise p or capacity, use exclusivity='channel', or set exclusivity=None.",
            reasons=["exclusive groups exceed capacity"])
    if not info.has_solution:
        raise NoSolutionError(f"exclusive territories: {solver.name} stopped ({info.termination}) without an "
                              f"assignment, and {note}; raise time_limit.")
    zval = z.value > 0.5
    owner_of_group = np.full(n_groups, -1)
    owner_of_group[gi[zval]] = cols[jj[zval]]
    owner = _outlet_owner(n, live, codes, owner_of_group)
    opened = is_open.copy()
    opened[cols[y.value > 0.5]] = True
    problems = exclusive_violations(net, owner, opened, group, capacitated=capacitated, max_distance=max_distance)
    if problems:
        raise SolverError(f"exclusive territories: {solver.name}'s plan breaks a rule ({'; '.join(problems)}); "
                          "channelopt will not hand it on.")
    table = uniques.to_frame(index=False, name=keys)
    table["distributor_id"] = net.distributor_ids[owner_of_group]
    table["outlets"] = g_size
    table["demand"] = g_demand
    return owner, opened, info, table


def _tuple(value) -> tuple:
    return value if isinstance(value, tuple) else (value,)


def _outlet_owner(n: int, live: np.ndarray, codes: np.ndarray, owner_of_group: np.ndarray) -> np.ndarray:
    owner = np.full(n, -1)
    owner[live] = owner_of_group[codes]
    return owner


def _objective(owner_g, opened_c, g_cost, fixed, signed) -> float:
    return float(g_cost[np.arange(len(owner_g)), owner_g].sum() + fixed[opened_c & ~signed].sum())


def exclusive_violations(net, owner: np.ndarray, is_open: np.ndarray, group: np.ndarray, *, capacitated: bool,
                         max_distance: float | None) -> list[str]:
    """The rules an exclusive assignment breaks, read from the network's tables (empty: none).

    Parameters
    ----------
    owner : int array, one per outlet
        Distributor position serving it; -1 for outlets not served.
    is_open : bool array, one per distributor
    group : int array, one per outlet
        Its exclusive group (territory, or territory x channel type); -1 for outlets not served.

    Examples
    --------
    >>> from channelopt.datasets import make_synthetic
    >>> net = make_synthetic(3, 6, 2, seed=0)
    >>> group = np.zeros(6, dtype=int)
    >>> exclusive_violations(net, np.array([0, 0, 0, 0, 0, 1]), np.array([True, True]), group,
    ...                      capacitated=False, max_distance=None)
    ['group 0 has 2 owners']
    """
    problems = []
    served = group >= 0
    if (owner[served] < 0).any():
        problems.append(f"{int((owner[served] < 0).sum())} outlets of a group have no distributor")
    if (owner[~served] >= 0).any():
        problems.append(f"{int((owner[~served] >= 0).sum())} outlets outside every group are served")
    on = served & (owner >= 0)
    idx = np.flatnonzero(on)
    per_group = pd.Series(owner[idx]).groupby(group[idx]).nunique()
    for g in per_group.index[per_group.to_numpy() > 1][:5]:
        problems.append(f"group {g} has {per_group[g]} owners")
    if idx.size:
        if not is_open[owner[idx]].all():
            problems.append("an outlet is served by a distributor that is not signed")
        channel, _, table = net.channel_table()  # read on the plan's links: no outlet x distributor array
        if not table[channel[idx], owner[idx]].all():
            problems.append("an outlet is served by a distributor that does not carry its channel")
        if max_distance is not None and (net.link_distances(idx, owner[idx]) > max_distance).any():
            problems.append(f"an outlet is served from further than max_distance {max_distance:g} km")
    if capacitated:
        load = np.bincount(owner[idx], weights=net.outlets["demand"].to_numpy(dtype=float)[idx],
                           minlength=len(is_open))
        cap = net.distributors["capacity"].to_numpy(dtype=float)
        over = np.flatnonzero(np.isfinite(cap) & (load > cap * (1 + _CAP_TOL)))
        problems += [f"{net.distributor_ids[j]} carries {load[j]:,.6g} over its capacity {cap[j]:,.6g}"
                     for j in over[:5]]
    return problems


def _group_links(net, live: np.ndarray, codes: np.ndarray, cols: np.ndarray, n_groups: int,
                 max_distance: float | None, chunk_cells: int = 1 << 18) -> tuple[np.ndarray, np.ndarray]:
    """Per group and distributor in ``cols``: how many of the group's outlets it may not serve (channel,
    ``max_distance``) and the sum of their finite service costs.

    Measured a chunk of outlets at a time on the links (``channel_table``, ``link_costs``,
    ``link_distances``): no outlet x distributor array (issue 13). The rows are added in
    outlet order, as one pass over the whole matrix added them.
    """
    channel, _, table = net.channel_table()
    bad = np.zeros((n_groups, len(cols)), dtype=int)
    g_cost = np.zeros((n_groups, len(cols)))
    step = max(1, int(chunk_cells) // max(len(cols), 1))
    for lo in range(0, len(live), step):
        rows = live[lo:lo + step]
        oi, dj = np.repeat(rows, len(cols)), np.tile(cols, len(rows))
        ok = table[channel[rows]][:, cols]
        if max_distance is not None:
            ok &= net.link_distances(oi, dj).reshape(len(rows), len(cols)) <= max_distance
        cost = net.link_costs(oi, dj).reshape(len(rows), len(cols))
        np.add.at(bad, codes[lo:lo + step], (~ok).astype(int))
        np.add.at(g_cost, codes[lo:lo + step], np.where(np.isfinite(cost), cost, 0.0))
    return bad, g_cost


def greedy_owners(cost: np.ndarray, demand: np.ndarray, capacity: np.ndarray, open_cost: np.ndarray,
                  signed: np.ndarray, *, deadline=None) -> tuple[np.ndarray, np.ndarray] | None:
    """A heuristic generalised assignment: one column per group, within capacity.

    Parameters
    ----------
    cost : (groups, columns) array
        Cost of giving the group to the column; ``inf`` where not allowed.
    demand : array, one per group
    capacity : array, one per column (``inf``: none)
    open_cost : array, one per column
        Paid once when a column not yet ``signed`` gets its first group.
    signed : bool array, one per column

    Returns
    -------
    (owner, used) or None
        ``owner[g]`` is the column of group ``g``; ``used`` marks the columns that own
        a group or were signed. None when the greedy and its repair place every group
        nowhere within capacity.

    Notes
    -----
    Groups are placed by regret (the difference between their best and second-best
    column, opening costs counted), the largest first; a group that fits nowhere is
    placed by moving one group out of the way (ejection). When a pass still leaves a
    group without room, further passes try the largest groups first and then regret on
    randomly perturbed costs (seeded). Shift and swap moves then lower the cost until
    none helps or the deadline passes.

    Examples
    --------
    >>> cost = np.array([[1.0, 2.0], [1.0, 5.0], [np.inf, 1.0]])
    >>> owner, used = greedy_owners(cost, np.array([2.0, 2.0, 1.0]), np.array([3.0, 3.0]), np.zeros(2),
    ...                             np.array([True, True]))
    >>> owner.tolist(), used.tolist()
    ([1, 0, 1], [True, True])
    """
    signed = np.asarray(signed, dtype=bool)

    def out_of_time() -> bool:
        return deadline is not None and deadline.expired

    rng = np.random.default_rng(0)
    noise = None
    for attempt in range(_ATTEMPTS):
        placed = _construct(cost, demand, capacity, open_cost, signed, noise, by_demand=attempt == 1)
        if placed is not None:
            owner, used, rem = placed
            _improve(owner, cost, demand, rem, used, signed, open_cost, out_of_time)
            return owner, used
        if out_of_time():
            return None
        # other orders: largest group first, then regret on perturbed costs
        noise = rng.uniform(0.7, 1.3, cost.shape) if attempt >= 1 else None
    return None


def _construct(cost, demand, capacity, open_cost, signed, noise, *, by_demand: bool):
    """One greedy pass (regret order, or largest group first); None when a group fits nowhere."""
    G, C = cost.shape
    rem = np.asarray(capacity, dtype=float).copy()
    used = signed.copy()
    owner = np.full(G, -1)
    todo = np.ones(G, dtype=bool)
    score = cost if noise is None else cost * noise
    while todo.any():
        left = np.flatnonzero(todo)
        fits = np.isfinite(cost[left]) & (demand[left, None] <= rem[None, :])
        price = np.where(fits, score[left] + np.where(used, 0.0, open_cost)[None, :], np.inf)
        placeable = np.isfinite(price).any(axis=1)
        if not placeable.all():
            g = left[np.flatnonzero(~placeable)[0]]
            if not _eject(g, cost, demand, rem, owner, used):
                return None
            todo[g] = False
            continue
        if by_demand:
            k = int(np.argmax(demand[left]))
        else:
            part = np.sort(price, axis=1)[:, :2] if C > 1 else np.c_[price, np.full(len(left), np.inf)]
            regret = np.where(np.isfinite(part[:, 1]), part[:, 1] - part[:, 0], np.inf)
            # ties: the larger group first (harder to place later)
            k = int(np.lexsort((-demand[left], -regret))[0])
        g, j = left[k], int(np.argmin(price[k]))
        owner[g], used[j] = j, True
        rem[j] -= demand[g]
        todo[g] = False
    return owner, used, rem


def _eject(g, cost, demand, rem, owner, used) -> bool:
    """Place group ``g`` by moving one placed group from a column ``g`` may use to another with room."""
    for j in np.argsort(cost[g]):
        if not np.isfinite(cost[g, j]):
            break
        need = demand[g] - rem[j]
        on_j = np.flatnonzero(owner == j)
        for h in on_j[np.argsort(demand[on_j])]:
            if demand[h] < need:
                continue
            # h moves to the cheapest other column with room (signed or already used first)
            room = np.isfinite(cost[h]) & (demand[h] <= rem) & used
            room[j] = False
            if room.any():
                k = int(np.argmin(np.where(room, cost[h], np.inf)))
                owner[h], rem[k], rem[j] = k, rem[k] - demand[h], rem[j] + demand[h]
                owner[g], rem[j] = j, rem[j] - demand[g]
                used[j] = True
                return True
    return False


def _improve(owner, cost, demand, rem, used, signed, open_cost, out_of_time) -> None:
    """Shift and swap moves that lower the cost, within capacity, until none helps or time is up."""
    # Capacity is held exactly here (no tolerance): the solver checks this plan as a start.
    G = cost.shape[0]
    idx = np.arange(G)
    for _ in range(50):
        better = False
        # shift: one group to a column with room (opening costs counted)
        for g in idx:
            j = owner[g]
            alone = int((owner == j).sum()) == 1
            saves = open_cost[j] if (not signed[j] and alone) else 0.0
            gain = cost[g, j] + saves - cost[g] - np.where(used, 0.0, open_cost)
            gain[j] = -np.inf
            gain[~(demand[g] <= rem)] = -np.inf
            k = int(np.argmax(gain))
            if gain[k] > 1e-9 * max(1.0, abs(cost[g, j])):
                owner[g], rem[j], rem[k] = k, rem[j] + demand[g], rem[k] - demand[g]
                used[k] = True
                if saves:
                    used[j] = False
                better = True
        if out_of_time():
            return
        # swap: two groups on different columns trade places
        cur = cost[idx, owner]
        for g in idx:
            j = owner[g]
            hs = np.flatnonzero(owner != j)
            if not len(hs):
                continue
            k = owner[hs]
            delta = cost[g, k] + cost[hs, j] - cur[g] - cur[hs]
            fit = ((demand[g] - demand[hs] <= rem[k]) & (demand[hs] - demand[g] <= rem[j])
                   & np.isfinite(delta))
            delta = np.where(fit, delta, np.inf)
            b = int(np.argmin(delta))
            if delta[b] < -1e-9 * max(1.0, abs(cur[g])):
                h, kb = hs[b], k[b]
                owner[g], owner[h] = kb, j
                rem[j] += demand[g] - demand[h]
                rem[kb] += demand[h] - demand[g]
                cur[g], cur[h] = cost[g, kb], cost[h, j]
                better = True
        if out_of_time():
            return
        better |= _open_close(owner, cost, demand, rem, used, signed, open_cost)
        if out_of_time():
            return
        better |= _eject_moves(owner, cost, demand, rem, used, out_of_time)
        if not better or out_of_time():
            return


def _eject_moves(owner, cost, demand, rem, used, out_of_time) -> bool:
    """Move a group to a cheaper column that lacks room, moving one of that column's groups on to a
    third column with room, when the two moves together cost less (an ejection chain of length two)."""
    G = len(owner)
    moved = False
    for g in range(G):
        if out_of_time():
            return moved
        j = owner[g]
        cheaper = np.flatnonzero((cost[g] < cost[g, j]) & used)
        for k in cheaper[np.argsort(cost[g, cheaper])]:
            need = demand[g] - rem[k]
            if need <= 0:
                continue  # a plain shift; the shift moves take it
            hs = np.flatnonzero((owner == k) & (demand >= need))
            best, pick = 0.0, None
            for h in hs:
                room = rem.copy()
                room[k] += demand[h] - demand[g]
                room[j] += demand[g]
                ok = used & np.isfinite(cost[h]) & (demand[h] <= room)
                ok[k] = False
                if not ok.any():
                    continue
                lb = int(np.argmin(np.where(ok, cost[h], np.inf)))
                delta = cost[g, k] - cost[g, j] + cost[h, lb] - cost[h, k]
                if delta < best - 1e-9 * max(1.0, abs(cost[g, j])):
                    best, pick = delta, (h, lb)
            if pick is not None:
                h, lb = pick
                owner[g], owner[h] = k, lb
                rem[j] += demand[g]
                rem[k] += demand[h] - demand[g]
                rem[lb] -= demand[h]
                moved = True
                break
    return moved


def _open_close(owner, cost, demand, rem, used, signed, open_cost) -> bool:
    """Sign a further candidate when the groups it would take save more than its fixed cost, or
    drop one whose groups fit elsewhere for less than it costs; True when a move was made."""
    cur = cost[np.arange(len(owner)), owner]
    for k in np.flatnonzero(~used):
        gain = cur - cost[:, k]
        cand = np.flatnonzero(np.isfinite(gain) & (gain > 0))
        room, take = rem[k], []
        for g in cand[np.argsort(-gain[cand])]:
            if demand[g] <= room:
                take.append(g)
                room -= demand[g]
        if take and gain[take].sum() > open_cost[k] * (1 + 1e-9):
            for g in take:
                rem[owner[g]] += demand[g]
                owner[g] = k
            rem[k], used[k] = room, True
            return True
    for j in np.flatnonzero(used & ~signed):
        on_j = np.flatnonzero(owner == j)
        room = rem.copy()
        target, extra = [], 0.0
        for g in on_j[np.argsort(-demand[on_j])]:
            ok = used & (demand[g] <= room) & np.isfinite(cost[g])
            ok[j] = False
            if not ok.any():
                break
            k = int(np.argmin(np.where(ok, cost[g], np.inf)))
            target.append(k)
            room[k] -= demand[g]
            extra += cost[g, k] - cur[g]
        if len(target) == len(on_j) and extra < open_cost[j] * (1 - 1e-9):
            for g, k in zip(on_j[np.argsort(-demand[on_j])], target):
                owner[g] = k
            rem[:] = room
            rem[j] += demand[on_j].sum()
            used[j] = False
            return True
    return False
