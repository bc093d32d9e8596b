"""JointPlanner: sign distributors, draw their exclusive territories and split the budget in one MILP.

The sequential planner (:class:`~channelopt.ChannelPlanner`) solves selection,
territories and budget one after the other, each to its own optimum. Here the three
decisions share one objective, the plan's contribution::

    margin * (potential of covered outlets + incremental budget response)
      - fixed costs of signed distributors - service costs - spend

so a region that only pays once the budget works on it can still be signed, and a
distributor is kept or dropped for what the whole plan earns with it.
:meth:`JointPlanner.solve_sequential` takes the same three decisions one after the
other on the same formula, which makes the two directly comparable.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pulp

from .._arrays import ArrayProblem, VarBlock
from .._stages import combine_infos
from ..exceptions import InfeasibleError, SettingsError, SolverError, format_ids
from ..metrics import coverage_metrics
from ..plan import Plan
from ..response import as_curve
from ..solver import SolveInfo, Solver
from ._base import Model
from ._lp import values
from ._pwl import approximate
from .budget import _cells_from_outlets

__all__ = ["JointPlanner"]

log = logging.getLogger("channelopt.models")



def _number(name: str, value, *, low: float, high: float = math.inf, open_low: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise SettingsError(f"JointPlanner.{name} must be a number, got {value!r}.") from None
    bad = math.isnan(v) or v > high or (v <= low if open_low else v < low)
    if bad:
        side = ">" if open_low else ">="
        top = f" and <= {high:g}" if math.isfinite(high) else ""
        raise SettingsError(f"JointPlanner.{name} must be {side} {low:g}{top}, got {value!r}.")
    return v


class JointPlanner(Model):
    """Distributor selection, exclusive territories and budget as one MILP.

    Decisions: ``y_j`` signs distributor ``j`` (fixed cost, capacity); ``w_rj`` gives
    region ``r`` exclusively to ``j``, who then serves every outlet of ``r`` whose
    channel it carries (no split regions; outlets of other channels in ``r`` stay
    uncovered); budget cells region x channel x activity get spend only where the
    region's distributor serves the channel, and earn a piecewise-linear response.

    Parameters
    ----------
    margin : float
        Contribution per unit of potential and of response (e.g. the gross margin
        rate when potential is sales). Required.
    curves : mapping activity -> curve, optional
        Response of each activity for a region x channel cell of reference potential
        (``ResponseCurve`` objects or specs such as ``{"hill": [vmax, k, n]}``); each
        cell's curve is scaled by its potential (both axes). Must be concave. None
        plans without budget.
    total : float, optional
        Budget: total spend cap (required with ``curves``). Spend whose marginal
        contribution ``margin * response' - 1`` is not positive is never made, so the
        plan may leave part of it unspent.
    capacitated : bool, default True
        Hold each distributor's ``capacity`` against the ``demand`` of the outlets it
        serves. A region whose compatible demand alone exceeds a capacity is never given
        to that distributor.
    contiguity : bool, default False
        Each signed distributor's regions form a connected set of the region graph
        containing its home region (``distributors.region_id``; a distributor without
        one gets a free root). Single-commodity flow per distributor: only for small
        graphs (see Notes). Distributors sharing a home region cannot both have a
        territory.
    balance : float, optional
        Workload tolerance: the workload (``workload`` of the outlets served) of every
        signed distributor holding at least one region lies within ``±balance`` of a
        common level chosen by the model, i.e. max / min <= (1 + balance) / (1 - balance).
        In (0, 1).
    keep_existing : bool, default True
        Existing partners stay signed (their fixed cost counts).
    reference_potential : float, optional
        Potential of the cell ``curves`` describe (default: mean potential of the
        region x channel groups with outlets).
    pwl_tol : float, default 1e-3
        PWL error per cell as a share of its response range on ``[0, total]``.
    max_segments : int, default 200
        Cap on PWL segments per cell.

    Notes
    -----
    The objective counts the incremental response (above the curve's value at zero
    spend) and uses the PWL response; ``metrics["contribution"]`` re-prices the plan on
    the true curves (concave curves lie above their PWL, so it is at least the solver
    objective).

    Tractability, measured with HiGHS on 2 threads (``benchmarks/bench_joint.py`` and
    ``--scale``; synthetic networks, 2 Hill activities, budget 5% of potential):
    without contiguity, proven optimal up to 30 regions x 10 distributors x 600
    outlets (under 7 s); from 40 regions x 10 distributors the proof no longer ends in
    30 s, though the incumbent is within 0.12% (40 x 10) to 0.43% (100 x 15) of the
    bound. With contiguity (flow rows per arc and distributor), proven optimal up to
    24 regions x 8 distributors (under 5 s); 30 regions x 10 distributors leaves a
    7-26% gap after 30-60 s. Beyond that, give ``Solver(time_limit=...)`` and read the
    gap, or use :class:`~channelopt.ChannelPlanner` (sequential).

    Examples
    --------
    >>> import channelopt as co
    >>> net = co.make_synthetic(8, 80, 4, seed=1)
    >>> model = co.JointPlanner(margin=0.3, curves={"promotion": {"hill": [40_000, 20_000, 1]}}, total=60_000)
    >>> joint = model.solve(net)
    >>> seq = model.solve_sequential(net)
    >>> joint.status, sorted(seq.stages)
    ('optimal', ['budget', 'selection', 'territories'])
    >>> bool(joint.objective >= seq.objective - 1e-6 * abs(seq.objective))
    True
    >>> bool(joint.allocations["spend"].sum() <= 60_000 + 1e-6)
    True
    """

    kind = "joint_plan"
    sense = pulp.LpMaximize

    def __init__(self, *, margin: float | None = None, curves: Mapping | None = None, total: float | None = None,
                 capacitated: bool = True, contiguity: bool = False, balance: float | None = None,
                 keep_existing: bool = True, reference_potential: float | None = None, pwl_tol: float = 1e-3,
                 max_segments: int = 200) -> None:
        self.margin = margin
        self.curves = curves
        self.total = total
        self.capacitated = capacitated
        self.contiguity = contiguity
        self.balance = balance
        self.keep_existing = keep_existing
        self.reference_potential = reference_potential
        self.pwl_tol = pwl_tol
        self.max_segments = max_segments

    # ------------------------------------------------------------------ settings
    def _check(self, net) -> None:
        if net is None or getattr(net, "outlets", None) is None or getattr(net, "distributors", None) is None:
            raise SettingsError("JointPlanner.solve needs a ChannelNetwork with outlets and candidate distributors.")
        if self.margin is None:
            raise SettingsError("JointPlanner.margin is required: the contribution per unit of potential and of "
                                "response (e.g. margin=0.25 for a 25% gross margin on sales potential).")
        _number("margin", self.margin, low=0.0, open_low=True)
        if self.curves is not None:
            if not isinstance(self.curves, Mapping) or not self.curves:
                raise SettingsError("JointPlanner.curves must be a non-empty mapping activity -> curve, e.g. "
                                    "{'promotion': {'hill': [100, 40, 1]}}; or None to plan without budget.")
            if self.total is None:
                raise SettingsError("JointPlanner.total is required with curves: the budget to split.")
            self._curves()
        if self.total is not None:
            _number("total", self.total, low=0.0)
            if math.isinf(float(self.total)):
                raise SettingsError("JointPlanner.total must be finite.")
        if self.balance is not None:
            _number("balance", self.balance, low=0.0, high=1.0, open_low=True)
            if float(self.balance) >= 1:
                raise SettingsError(f"JointPlanner.balance is a tolerance in (0, 1), got {self.balance!r}.")
        if self.reference_potential is not None:
            _number("reference_potential", self.reference_potential, low=0.0, open_low=True)
        _number("pwl_tol", self.pwl_tol, low=0.0, high=1.0, open_low=True)
        if isinstance(self.max_segments, bool) or int(self.max_segments) != self.max_segments or self.max_segments < 1:
            raise SettingsError(f"JointPlanner.max_segments must be an integer >= 1, got {self.max_segments!r}.")
        for name in ("capacitated", "contiguity", "keep_existing"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise SettingsError(f"JointPlanner.{name} must be True or False, got {getattr(self, name)!r}.")

    def _curves(self) -> dict:
        return {a: as_curve(c, f"JointPlanner.curves[{a!r}]") for a, c in dict(self.curves).items()}

    # ------------------------------------------------------------------ data
    def _data(self, net) -> dict[str, Any]:
        outlets, dists = net.outlets, net.distributors
        R, J = len(net.region_ids), len(dists)
        ro = net.outlet_region_index
        channel, _, table = net.channel_table()
        pot = outlets["potential"].to_numpy(dtype=float)
        dem = outlets["demand"].to_numpy(dtype=float)
        work = outlets["workload"].to_numpy(dtype=float)
        # Region x distributor aggregates over the outlets j may serve in r, a chunk of outlets at a
        # time on the links (no outlet x distributor array, issue 13), summed in outlet order
        P, D, W, C, n_ok = (np.zeros(R * J) for _ in range(5))
        n = len(outlets)
        step = max(1, (1 << 18) // max(J, 1))
        for lo in range(0, n, step):
            hi = min(n, lo + step)
            ok = table[channel[lo:hi]].astype(float)  # (rows, J)
            oi, dj = np.divmod(np.arange(lo * J, hi * J, dtype=np.int64), J)
            key = (ro[oi] * J + dj)
            P += np.bincount(key, weights=(ok * pot[lo:hi, None]).ravel(), minlength=R * J)
            D += np.bincount(key, weights=(ok * dem[lo:hi, None]).ravel(), minlength=R * J)
            W += np.bincount(key, weights=(ok * work[lo:hi, None]).ravel(), minlength=R * J)
            C += np.bincount(key, weights=(ok * net.link_costs(oi, dj).reshape(hi - lo, J)).ravel(),
                             minlength=R * J)
            n_ok += np.bincount(key, weights=ok.ravel(), minlength=R * J)
        P, D, W, C, n_ok = (a.reshape(R, J) for a in (P, D, W, C, n_ok))
        cap = dists["capacity"].to_numpy(dtype=float)
        fits = (D <= cap[None, :] * (1 + 1e-12)) if self.capacitated else np.ones((R, J), dtype=bool)
        # Without contiguity a pair that serves no outlet is useless; with it, it may connect.
        useful = fits & ((n_ok > 0) | bool(self.contiguity))
        pr, pj = np.nonzero(useful)
        home = np.full(J, -1, dtype=np.int64)
        if "region_id" in dists.columns:
            idx = pd.Index(net.region_ids).get_indexer(dists["region_id"])
            home = np.where(pd.isna(dists["region_id"]).to_numpy(), -1, idx).astype(np.int64)
        forced = dists["existing"].to_numpy(dtype=bool) if self.keep_existing else np.zeros(J, dtype=bool)
        return {"R": R, "J": J, "ro": ro, "P": P, "D": D, "W": W, "C": C, "cap": cap,
                "fixed": dists["fixed_cost"].to_numpy(dtype=float), "pr": pr, "pj": pj, "home": home,
                "forced": forced}

    def _cells(self, net, data) -> pd.DataFrame:
        """Region x channel x activity cells over every group with positive potential."""
        return _cells_from_outlets(net.outlets, self._curves(), reference_potential=self.reference_potential)

    # ------------------------------------------------------------------ build
    def _build_arrays(self, net, ap: ArrayProblem) -> dict[str, Any]:
        d = self._data(net)
        R, J, pr, pj = d["R"], d["J"], d["pr"], d["pj"]
        K = len(pr)
        margin = float(self.margin)
        y = ap.add_vars("y", J, lower=d["forced"].astype(float), upper=1.0, integer=True, cost=-d["fixed"])
        w = ap.add_vars("w", K, upper=1.0, integer=True, cost=margin * d["P"][pr, pj] - d["C"][pr, pj])
        pair = {(r, j): k for k, (r, j) in enumerate(zip(pr.tolist(), pj.tolist()))}
        k = np.arange(K)
        ones = np.ones(K)
        # Strong linking w_rj <= y_j: the tight LP bound matters more than the row count here.
        ap.add_rows("link", np.r_[k, k], np.r_[w.index, y[pj]], np.r_[ones, -ones], sense="<=", rhs=0.0, n_rows=K)
        ap.add_rows("exclusive", pr, w.index, sense="<=", rhs=1.0, n_rows=R, skip_empty=True)
        if self.capacitated:
            fin = np.isfinite(d["cap"])
            jj = np.flatnonzero(fin)
            remap = np.cumsum(fin) - 1
            keep = fin[pj]
            ap.add_rows("capacity", np.r_[remap[pj[keep]], remap[jj]], np.r_[w.index[keep], y[jj]],
                        np.r_[d["D"][pr[keep], pj[keep]], -d["cap"][jj]], sense="<=", rhs=0.0, n_rows=len(jj))
        flows = self._contiguity_arrays(ap, net, d, w, y) if self.contiguity else None
        centre = self._balance_arrays(ap, d, w, y) if self.balance is not None else None
        budget = self._budget_arrays(ap, net, d, w, pair) if self.curves is not None else None
        return {**d, "y": y, "w": w, "pair": pair, "flows": flows, "centre": centre, "budget": budget}

    def _contiguity_arrays(self, ap: ArrayProblem, net, d, w, y):
        """Flow from each distributor's root to every other region of its territory, inside it."""
        R, J = d["R"], d["J"]
        pos = {rid: i for i, rid in enumerate(net.region_ids.tolist())}
        edges = np.array([(pos[u], pos[v]) for u, v in net.graph.edges() if u != v], dtype=np.int64).reshape(-1, 2)
        tail = np.concatenate([edges[:, 0], edges[:, 1]])
        head = np.concatenate([edges[:, 1], edges[:, 0]])
        big = float(max(R - 1, 1))
        at = np.full((R, J), -1, dtype=np.int64)
        at[d["pr"], d["pj"]] = np.arange(len(d["pr"]))
        arcs = []   # per distributor: (tail, head) of its arcs
        members = []
        for j in range(J):
            root = int(d["home"][j])
            ok = (at[tail, j] >= 0) & (at[head, j] >= 0) & ((root < 0) | (head != root))
            arcs.append((tail[ok], head[ok]))
            members.append(np.flatnonzero(at[:, j] >= 0))
        n_arc = np.array([len(a[0]) for a in arcs], dtype=np.int64)
        f = ap.add_vars("flow", int(n_arc.sum()), upper=big)
        f_start = f.start + np.r_[0, np.cumsum(n_arc)][:-1]
        free = [j for j in range(J) if d["home"][j] < 0]
        n_root = np.array([len(members[j]) for j in free], dtype=np.int64)
        roots = ap.add_vars("root", int(n_root.sum()), upper=1.0, integer=True)
        r_start = dict(zip(free, (roots.start + np.r_[0, np.cumsum(n_root)][:-1]).tolist()))
        trip: dict[str, list] = {t: [] for t in ("cap", "root", "root_in", "member_root", "member_nb", "flow")}

        def rows(tag, n_rows, r, c, v):
            trip[tag].append((n_rows, np.asarray(r, np.int64), np.asarray(c, np.int64), np.asarray(v, float)))

        for j in range(J):
            root = int(d["home"][j])
            u, v = arcs[j]
            fa = f_start[j] + np.arange(len(u))
            a2 = np.arange(2 * len(u))
            rows("cap", 2 * len(u), np.r_[a2, a2], np.r_[fa, fa, w.start + at[u, j], w.start + at[v, j]],
                 np.r_[np.ones(2 * len(u)), np.full(2 * len(u), -big)])
            mem = members[j]
            if root < 0:
                rv = r_start[j] + np.arange(len(mem))
                rows("root", 1, np.zeros(len(mem) + 1), np.r_[rv, y[j]], np.r_[np.ones(len(mem)), -1.0])
                km = np.arange(len(mem))
                rows("root_in", len(mem), np.r_[km, km], np.r_[rv, w.start + at[mem, j]],
                     np.r_[np.ones(len(mem)), -np.ones(len(mem))])
            vs = mem[mem != root]
            kv = np.arange(len(vs))
            wv = w.start + at[vs, j]
            if root >= 0:
                # Valid for every connected territory, and much tighter than the flow's big-M:
                # a member implies its root, and a non-root member has a member neighbour.
                if at[root, j] >= 0:
                    rows("member_root", len(vs), np.r_[kv, kv], np.r_[wv, np.full(len(vs), w.start + at[root, j])],
                         np.r_[np.ones(len(vs)), -np.ones(len(vs))])
                else:
                    rows("member_root", len(vs), kv, wv, np.ones(len(vs)))
                row_of = np.full(R, -1)
                row_of[vs] = kv
                nb = (row_of[tail] >= 0) & (at[head, j] >= 0)
                rows("member_nb", len(vs), np.r_[kv, row_of[tail[nb]]], np.r_[wv, w.start + at[head[nb], j]],
                     np.r_[np.ones(len(vs)), -np.ones(int(nb.sum()))])
            row_of = np.full(R, -1)
            row_of[vs] = kv
            fin, fout = row_of[v] >= 0, row_of[u] >= 0
            r_parts = [row_of[v[fin]], row_of[u[fout]], kv]
            c_parts = [fa[fin], fa[fout], wv]
            v_parts = [np.ones(int(fin.sum())), -np.ones(int(fout.sum())), -np.ones(len(vs))]
            if root < 0:
                rv = r_start[j] + np.searchsorted(mem, vs)
                r_parts.append(kv)
                c_parts.append(rv)
                v_parts.append(np.full(len(vs), float(R)))
            rows("flow", len(vs), np.concatenate(r_parts), np.concatenate(c_parts), np.concatenate(v_parts))
        senses = {"cap": "<=", "root": "==", "root_in": "<=", "member_root": "<=", "member_nb": "<=", "flow": ">="}
        for tag, parts in trip.items():
            offs = np.r_[0, np.cumsum([p[0] for p in parts])].astype(np.int64)
            r = np.concatenate([p[1] + o for p, o in zip(parts, offs)]) if parts else np.zeros(0, np.int64)
            c = np.concatenate([p[2] for p in parts]) if parts else np.zeros(0, np.int64)
            v = np.concatenate([p[3] for p in parts]) if parts else np.zeros(0)
            ap.add_rows(f"contig_{tag}", r, c, v, sense=senses[tag], rhs=0.0, n_rows=int(offs[-1]))
        return f

    def _balance_arrays(self, ap: ArrayProblem, d, w, y):
        tau = float(self.balance)
        pr, pj, W, J = d["pr"], d["pj"], d["W"], d["J"]
        total_w = float(W.max(axis=1).sum()) if W.size else 0.0
        centre = ap.add_vars("balance_level", 1)
        # h_j: j holds at least one region. Balance binds distributors with a territory, so a
        # kept partner left without regions (e.g. sharing its home) does not force the level to 0.
        h = ap.add_vars("holds", J, upper=1.0, integer=True)
        k, K, jr = np.arange(len(pr)), np.ones(len(pr)), np.arange(J)
        ap.add_rows("holds_link", np.r_[k, k], np.r_[w.index, h[pj]], np.r_[K, -K], sense="<=", rhs=0.0, n_rows=len(pr))
        ap.add_rows("holds_signed", np.r_[jr, jr], np.r_[h.index, y.index], np.r_[np.ones(J), -np.ones(J)],
                    sense="<=", rhs=0.0, n_rows=J)
        load = W[pr, pj]
        c = np.full(J, centre.start)
        ap.add_rows("balance_hi", np.r_[pj, jr], np.r_[w.index, c], np.r_[load, np.full(J, -(1 + tau))],
                    sense="<=", rhs=0.0, n_rows=J)
        # (1 - tau) level - load_j <= big (1 - h_j): binds only for distributors with regions.
        big = (1 - tau) * total_w
        ap.add_rows("balance_lo", np.r_[pj, jr, jr], np.r_[w.index, c, h.index],
                    np.r_[-load, np.full(J, 1 - tau), np.full(J, big)], sense="<=", rhs=big, n_rows=J)
        return centre

    def _budget_arrays(self, ap: ArrayProblem, net, d, w, pair) -> dict[str, Any]:
        cells, gate, table, keep = self._budget_cells(net, d, pair)
        seg_cell = table.cell[keep]
        lengths = table.length[keep]
        slope = table.slope[keep]
        delta = ap.add_vars("d", len(seg_cell), upper=lengths, cost=float(self.margin) * slope - 1.0)
        # Gate at the spend up to which the cell still pays, not at the whole budget:
        # a tighter LP bound, and it keeps HiGHS 1.16 presolve out of trouble (measured:
        # gating at ``total`` made it declare a feasible 12-region model infeasible).
        hi_c = np.bincount(seg_cell, weights=lengths, minlength=len(cells))
        g_cell = np.array([i for i, g in enumerate(gate) for _ in g], dtype=np.int64)
        g_pair = np.array([k for g in gate for k in g], dtype=np.int64)
        has = np.zeros(len(cells), dtype=bool)
        has[seg_cell] = True
        sel = has[g_cell]
        ap.add_rows("gate", np.r_[seg_cell, g_cell[sel]], np.r_[delta.index, w.index[g_pair[sel]]],
                    np.r_[np.ones(len(seg_cell)), -hi_c[g_cell[sel]]], sense="<=", rhs=0.0, n_rows=len(cells),
                    skip_empty=True)
        row = ap.add_row("budget", delta.index, 1.0, "<=", float(self.total))
        return {"cells": cells, "table": table, "delta": delta, "seg_cell": seg_cell,
                "slope": slope, "base": table.base, "row": row}

    def _budget_cells(self, net, d, pair):
        """The live cells (a distributor may spend on them), their gates, PWL table and paying segments."""
        cells = self._cells(net, d)
        total = float(self.total)
        region_pos = pd.Index(net.region_ids).get_indexer(cells["region_id"])
        dists = net.distributors
        from ..network import _parse_channels

        carries = [_parse_channels(v) for v in dists["channels"].tolist()]
        # The distributors that may spend on each cell: they hold its region and carry its channel.
        gate = []
        for r, ch in zip(region_pos.tolist(), cells["channel"].tolist()):
            gate.append([pair[r, j] for j in range(d["J"])
                         if (r, j) in pair and (carries[j] is None or ch in carries[j])])
        live = np.array([bool(g) for g in gate], dtype=bool)
        cells = cells[live].reset_index(drop=True)
        gate = [g for g, ok in zip(gate, live) if ok]
        curves = cells["curve"].tolist()
        hi = np.full(len(cells), total)
        top = np.array([float(c(total)) - float(c(0.0)) for c in curves])
        table = approximate(curves, hi, self.pwl_tol * np.maximum(top, 1e-12), max_segments=int(self.max_segments))
        bent = np.flatnonzero(~table.concave())
        if len(bent):
            raise SettingsError(f"JointPlanner.curves: cells {format_ids(bent)} are not concave (S-shaped); the "
                                f"joint model takes concave curves only (e.g. Hill with n <= 1). Use BudgetAllocation "
                                f"for S-shaped curves.")
        # Segments whose marginal contribution is not positive never carry spend at an optimum.
        keep = float(self.margin) * table.slope > 1.0
        return cells, gate, table, keep

    def solve(self, network=None, solver: Solver | None = None, *, warm_start: bool = True) -> Plan:
        """Build and solve the joint model; return a :class:`~channelopt.Plan` (see :meth:`Model.solve`).

        The model is always feasible (signing only the kept partners and covering
        nothing is a plan), so an "infeasible" answer (after the shared path's check
        without presolve) is reported as a ``SolverError``.
        """
        solver = (solver or Solver()).start_clock()  # the build counts against time_limit
        return _guarded(self.build(network), solver, warm_start)

    # ------------------------------------------------------------------ plan
    def _extract(self, net, state: dict[str, Any], info: SolveInfo) -> Plan:
        return _joint_plan(self, net, state, info)

    # ------------------------------------------------------------------ sequential
    def solve_sequential(self, network=None, solver: Solver | None = None) -> Plan:
        """The same three decisions taken one after the other, priced on the same contribution.

        1. *selection*: which distributors to sign, maximising ``margin * covered
           potential - fixed - service`` over exclusive region assignments (capacity
           held; no budget, contiguity or balance);
        2. *territories*: with those signings fixed, the regions of each, under
           ``contiguity`` and ``balance``, on the same objective;
        3. *budget*: with signings and territories fixed, the spend.

        The result is a feasible plan of the joint model, so ``solve`` is never worse.

        Returns
        -------
        Plan
            As :meth:`solve`; ``objective`` is the joint objective at the sequential
            decisions; ``stages`` holds each stage's plan; ``seconds`` sums the stages.
        """
        solver = solver or Solver()
        stages: dict[str, Plan] = {}
        first = self.clone(curves=None, contiguity=False, balance=None)
        stages["selection"] = first.solve(network, solver)
        y_open = stages["selection"].distributors["open"].to_numpy(dtype=bool)
        second = self.clone(curves=None)
        built = second.build(network)
        _fix(built.state["y"], y_open)
        stages["territories"] = _guarded(built, solver)
        owner = stages["territories"].regions.set_index("region_id")["distributor_id"]
        built = self.build(network)
        _fix(built.state["y"], y_open)
        region_ids = list(network.region_ids)
        dist_ids = list(network.distributor_ids)
        pos = {rid: i for i, rid in enumerate(dist_ids)}
        chosen = {(region_ids.index(r), pos[j]) for r, j in owner.dropna().items()}
        st = built.state
        _fix(st["w"], np.array([(r, j) in chosen for r, j in zip(st["pr"].tolist(), st["pj"].tolist())]))
        stages["budget"] = _guarded(built, solver)
        final = stages["budget"]
        final.info = combine_infos(stages, solver)
        final.stages = stages
        final.metrics.overall["method"] = "sequential"
        return final


def _guarded(built, solver: Solver, warm_start: bool = True) -> Plan:
    """Solve a built joint model; an "infeasible" verdict on this always-feasible model is a solver failure.

    The shared solve path already confirms a HiGHS "infeasible" MIP verdict without presolve.
    """
    try:
        return built.solve(solver, warm_start=warm_start)
    except InfeasibleError as exc:
        raise SolverError(f"{solver.name} called the always-feasible JointPlanner infeasible ({exc}); "
                          f"try Solver('cbc').") from None


def _fix(variables: VarBlock, on) -> None:
    flags = np.asarray(on, dtype=float)
    variables.problem.set_bounds(variables.index, flags, flags)


def _joint_plan(model: JointPlanner, net, state: dict[str, Any], info: SolveInfo) -> Plan:
    outlets, dists = net.outlets, net.distributors
    R, J, pr, pj = state["R"], state["J"], state["pr"], state["pj"]
    margin = float(model.margin)
    yv = np.round(np.nan_to_num(values(state["y"]))) > 0.5
    wv = np.round(np.nan_to_num(values(state["w"]))) > 0.5
    owner = np.full(R, -1, dtype=np.int64)
    owner[pr[wv]] = pj[wv]
    ro = state["ro"]
    j_of = owner[ro]
    n = len(outlets)
    channel, _, table = net.channel_table()  # on each outlet's one link: no outlet x distributor array
    served = (j_of >= 0) & table[channel, np.maximum(j_of, 0)]
    cost = np.zeros(n)
    cost[served] = net.link_costs(np.flatnonzero(served), j_of[served])
    dist_ids = net.distributor_ids
    main = np.where(served, dist_ids[np.maximum(j_of, 0)], None)
    pot = outlets["potential"].to_numpy(dtype=float)
    assignments = pd.DataFrame({
        "outlet_id": net.outlet_ids, "region_id": outlets["region_id"].to_numpy(),
        "channel": outlets["channel"].to_numpy(), "potential": pot, "distributor_id": main,
        "covered": served, "cost": cost})
    links = assignments.loc[served, ["outlet_id", "distributor_id"]].assign(share=1.0)
    jj = np.where(served, j_of, J)
    load = np.bincount(jj, weights=outlets["demand"].to_numpy(dtype=float), minlength=J + 1)[:J]
    work = np.bincount(jj, weights=outlets["workload"].to_numpy(dtype=float), minlength=J + 1)[:J]
    table = pd.DataFrame({
        "distributor_id": dist_ids, "open": yv, "existing": dists["existing"].to_numpy(dtype=bool),
        "fixed_cost": state["fixed"], "capacity": state["cap"], "load": load, "workload": work,
        "regions": np.bincount(np.where(owner >= 0, owner, J), minlength=J + 1)[:J],
        "potential": np.bincount(jj, weights=pot, minlength=J + 1)[:J],
        "service_cost": np.bincount(jj, weights=cost, minlength=J + 1)[:J]})
    if "region_id" in dists.columns:
        table.insert(1, "home_region", dists["region_id"].to_numpy())
    regions = pd.DataFrame({"region_id": net.region_ids, "distributor_id": np.where(owner >= 0, dist_ids[
        np.maximum(owner, 0)], None)})
    regions["covered_potential"] = np.bincount(ro, weights=np.where(served, pot, 0.0), minlength=R)
    tables = {"distributors": table, "regions": regions, "links": links}
    spend_total = gain_total = pwl_gain = 0.0
    alloc = None
    budget = state.get("budget")
    if budget is not None:
        cells = budget["cells"]
        dval = np.clip(np.nan_to_num(values(budget["delta"])), 0.0, None)
        spend = np.bincount(budget["seg_cell"], weights=dval, minlength=len(cells))
        spend[spend <= 1e-9 * max(float(model.total), 1.0)] = 0.0
        curves = cells["curve"].tolist()
        gain = np.array([float(c(s)) - float(c(0.0)) for c, s in zip(curves, spend.tolist())])
        pwl = budget["table"].evaluate(spend) - budget["base"]
        alloc = cells.drop(columns="curve").assign(curve=[repr(c) for c in curves], spend=spend, response=gain,
                                                   pwl_response=pwl)
        alloc["distributor_id"] = regions.set_index("region_id")["distributor_id"].reindex(
            alloc["region_id"]).to_numpy()
        tables["allocations"] = alloc
        spend_total, gain_total, pwl_gain = float(spend.sum()), float(gain.sum()), float(pwl.sum())
    metrics = coverage_metrics(outlets, served, net.region_ids, served_by=links, budget=alloc)
    fixed_total = float(state["fixed"][yv].sum())
    service_total = float(cost.sum())
    covered_pot = float(pot[served].sum())
    base = margin * covered_pot - fixed_total - service_total
    signed_work = work[yv & (work > 0)]
    metrics.overall.update({
        "method": "joint", "margin": margin, "open_distributors": int(yv.sum()),
        "covered_potential": covered_pot, "fixed_cost": fixed_total, "service_cost": service_total,
        "spend": spend_total, "response": gain_total,
        "contribution": base + margin * gain_total - spend_total,
        "contribution_pwl": base + margin * pwl_gain - spend_total,
        "workload_spread": float(signed_work.max() / signed_work.min()) if len(signed_work) else math.nan,
        "regions_assigned": int((owner >= 0).sum())})
    metrics.by_distributor = table.set_index("distributor_id")
    return Plan(kind=model.kind, info=info, assignments=assignments, metrics=metrics, tables=tables, network=net)
