"""PricePlan's formulation as array blocks (:class:`~channelopt._arrays.ArrayProblem`).

Columns come in groups, each one :class:`~channelopt._arrays.VarBlock`:

- ``w``: the menu's region x tier binaries (``rebate_choice="menu"``), shape ``(regions, tiers)``;
- ``u``: a cell's piece gates when it has several pieces outside a menu;
- ``l``: convex-combination weights of the concave pieces;
- ``d`` and ``y``: segment lengths and their fill-in-order binaries (non-concave pieces);
- ``z``: price-ladder points (``price_points`` or a demand table);
- ``p`` and ``n``: each cell's list and net price (``n`` is ``p`` without rebates).

Rows: ``menu_r`` (one tier per region), ``mix_k`` (a concave piece's weights sum to its
gate, or 1), ``gate_k``/``open_k``/``fill``/``order`` (segments), ``one_i`` (one piece
per cell), ``pick`` (a ladder cell follows its region's tier), ``price_i``/``net_i``
(the price definitions), ``margin_floor``, ``div_j`` (diversion corridors, net prices)
and ``gap_lo``/``gap_hi`` (channel ladders). The same rules as the PuLP build the model
had before (kept behind ``CHANNELOPT_BUILD_PATH=pulp`` for the before/after benchmark).

While assembling, a column is a *handle*: its group's code times ``_BIG`` plus its
number in the group, so rows can be written before the groups are sized; ``_finish``
adds the groups and turns handles into column numbers.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from .._arrays import ArrayProblem
from ..exceptions import InfeasibleError, format_ids
from .diversion import directed_costs, resolve_costs

__all__ = ["assemble"]

_GROUPS = ("w", "u", "l", "d", "y", "z", "p", "n")
_BINARY = {"w", "u", "y", "z"}
_BIG = np.int64(1) << np.int64(40)
#: row families a side solve (diagnosis) may leave out
FAMILIES = ("diversion corridors", "channel_gaps", "margin_floor")


class _Assembly:
    """Columns handed out by group and rows collected as COO triplets, added to ``ap`` at the end."""

    def __init__(self) -> None:
        self.size = dict.fromkeys(_GROUPS, 0)
        self.upper: dict[str, list] = {g: [] for g in _GROUPS}
        self.lower: dict[str, list] = {g: [] for g in _GROUPS}
        self.rows: dict[str, dict] = {}
        self.cost: list[tuple[np.ndarray, np.ndarray]] = []
        self.offset = 0.0

    def cols(self, group: str, k: int, lower=0.0, upper=np.inf) -> np.ndarray:
        start = self.size[group]
        self.size[group] += int(k)
        self.lower[group].append(np.broadcast_to(np.asarray(lower, dtype=float), (int(k),)))
        self.upper[group].append(np.broadcast_to(np.asarray(upper, dtype=float), (int(k),)))
        return _GROUPS.index(group) * _BIG + np.arange(start, start + int(k), dtype=np.int64)

    def block(self, name: str, sense: str, n_rows: int | None = None) -> dict:
        """Row block ``name`` (made on first use; ``n_rows`` None: numbered as rows arrive)."""
        if name not in self.rows:
            self.rows[name] = {"sense": sense, "r": [], "c": [], "v": [], "rhs": {}, "n": n_rows, "next": 0}
        return self.rows[name]

    def row(self, name: str, sense: str, cols, coefs, rhs: float, r: int | None = None,
            n_rows: int | None = None) -> int:
        """Add one row (number ``r`` in its block, or the next one); return that number."""
        b = self.block(name, sense, n_rows)
        if r is None:
            r = b["next"]
            b["next"] += 1
        cols = np.asarray(cols, dtype=np.int64).reshape(-1)
        b["r"].append(np.full(len(cols), r, dtype=np.int64))
        b["c"].append(cols)
        b["v"].append(np.broadcast_to(np.asarray(coefs, dtype=float), cols.shape))
        b["rhs"][r] = float(rhs)
        return r

    def rows_many(self, name: str, sense: str, r, cols, coefs, rhs) -> None:
        """Rows given as triplets at once; ``rhs`` per row number in ``r``'s range order."""
        b = self.block(name, sense)
        r = np.asarray(r, dtype=np.int64) + b["next"]
        b["r"].append(r)
        b["c"].append(np.asarray(cols, dtype=np.int64))
        b["v"].append(np.asarray(coefs, dtype=float))
        rhs = np.asarray(rhs, dtype=float)
        b["rhs"].update(zip(range(b["next"], b["next"] + len(rhs)), rhs.tolist()))
        b["next"] += len(rhs)

    def finish(self, ap: ArrayProblem, fix: dict | None) -> dict[str, Any]:
        """Add the column groups and the rows to ``ap``; return the blocks by group.

        ``fix`` maps a group to values: its columns are fixed there and made continuous
        (the LP whose duals price the corridors of a MILP plan).
        """
        blocks: dict[str, Any] = {}
        start = np.zeros(len(_GROUPS), dtype=np.int64)
        for code, g in enumerate(_GROUPS):
            k = self.size[g]
            start[code] = ap.n_cols
            if not k:
                continue
            lo = np.concatenate(self.lower[g])
            up = np.concatenate(self.upper[g])
            integer = g in _BINARY
            if fix is not None and g in fix:
                lo = up = np.asarray(fix[g], dtype=float)
                integer = False
            blocks[g] = ap.add_vars(g, k, lower=lo, upper=up, integer=integer)

        def glob(h):
            h = np.asarray(h, dtype=np.int64)
            return start[h // _BIG] + h % _BIG

        self.glob = glob
        if self.cost:
            cols = np.concatenate([c for c, _ in self.cost])
            ap.add_cost(glob(cols), np.concatenate([v for _, v in self.cost]))
        ap.offset += self.offset
        for name, b in self.rows.items():
            n = b["n"] if b["n"] is not None else b["next"]
            rhs = np.zeros(n)
            keys = np.fromiter(b["rhs"].keys(), dtype=np.int64, count=len(b["rhs"]))
            rhs[keys] = np.fromiter(b["rhs"].values(), dtype=float, count=len(b["rhs"]))
            r = np.concatenate(b["r"]) if b["r"] else np.zeros(0, dtype=np.int64)
            c = np.concatenate(b["c"]) if b["c"] else np.zeros(0, dtype=np.int64)
            v = np.concatenate(b["v"]) if b["v"] else np.zeros(0)
            blocks["row:" + name] = ap.add_rows(name, rows=r, cols=glob(c), coefs=v, sense=b["sense"], rhs=rhs,
                                                n_rows=n, skip_empty=True)
        return blocks


def assemble(model, ap: ArrayProblem, cells, bp, net, *, drop: tuple = (), fix: dict | None = None) -> dict[str, Any]:
    """Write ``model``'s formulation on ``ap``; return the state ``_extract`` reads.

    ``bp`` is ``model._breakpoints(cells)`` (None for ladders); ``drop`` names row
    families to leave out (:data:`FAMILIES`); ``fix`` see :meth:`_Assembly.finish`.
    """
    asm = _Assembly()
    n = cells.n
    menu = model.rebate_choice == "menu" and cells.n_tiers > 1
    n_pieces = len(cells.piece_cell)
    pc, pt = cells.piece_cell, cells.piece_tier
    pieces_per_cell = np.bincount(pc, minlength=n)
    state: dict[str, Any] = {"cells": cells, "menu": menu, "ap": ap}
    region_pos = {r: k for k, r in enumerate(cells.region_ids)}
    cell_region = np.array([region_pos[r] for r in cells.region.tolist()], dtype=np.int64)
    w = None
    if menu:
        n_reg = len(cells.region_ids)
        w = asm.cols("w", n_reg * cells.n_tiers, upper=1.0).reshape(n_reg, cells.n_tiers)
        asm.rows_many("menu", "==", np.repeat(np.arange(n_reg), cells.n_tiers), w.reshape(-1),
                      np.ones(w.size), np.ones(n_reg))
    # the terms of each cell's price and net price, the objective and the margin, as flat arrays
    t_cell: list[np.ndarray] = []
    t_cols: list[np.ndarray] = []
    t_p: list[np.ndarray] = []
    t_n: list[np.ndarray] = []
    t_obj: list[np.ndarray] = []
    t_marg: list[np.ndarray] = []
    p_const = np.zeros(n)
    n_const = np.zeros(n)
    marg_const = 0.0

    def term(cell, cols, p_c, n_c, obj_c, marg_c):
        cols = np.asarray(cols, dtype=np.int64).reshape(-1)
        shape = cols.shape
        t_cell.append(np.broadcast_to(np.asarray(cell, dtype=np.int64), shape))
        t_cols.append(cols)
        for out, v in ((t_p, p_c), (t_n, n_c), (t_obj, obj_c), (t_marg, marg_c)):
            out.append(np.broadcast_to(np.asarray(v, dtype=float), shape))

    # each piece's gate: the region's tier binary (menu), its own binary (several pieces), or none (-1)
    if menu:
        gate = w[cell_region[pc], pt]
    else:
        gate = np.full(n_pieces, -1, dtype=np.int64)
        several = pieces_per_cell[pc] > 1
        gate[several] = asm.cols("u", int(several.sum()), upper=1.0)
    has_gate = gate >= 0
    opt_handles = None
    if cells.points is None:
        xs, ys_obj, ys_marg, err_obj, err_marg = bp
        state.update(err_obj=err_obj, err_marg=err_marg)
        need_margin = model.margin_floor is not None and model.objective != "margin"
        size = np.fromiter((len(x) for x in xs), dtype=np.int64, count=n_pieces)
        piece = np.repeat(np.arange(n_pieces), size)
        X, YO, YM = np.concatenate(xs), np.concatenate(ys_obj), np.concatenate(ys_marg)
        # slopes of every segment, and whether they fall within each piece (concave)
        last = np.cumsum(size) - 1
        seg = np.ones(len(X), dtype=bool)
        seg[last] = False  # a segment starts at every point but a piece's last
        Lx = np.diff(X)[seg[:-1]] if len(X) > 1 else np.zeros(0)
        seg_piece = piece[seg]
        safe = np.where(Lx > 0, Lx, 1.0)
        mo = (np.diff(YO)[seg[:-1]] if len(X) > 1 else np.zeros(0)) / safe
        mm = (np.diff(YM)[seg[:-1]] if len(X) > 1 else np.zeros(0)) / safe
        rising = np.zeros(n_pieces, dtype=bool)
        same = seg_piece[1:] == seg_piece[:-1]
        for sl in [mo] + ([mm] if need_margin else []):
            up = same & (np.diff(sl) > 1e-9 * (1 + np.abs(sl[:-1])))
            rising[seg_piece[1:][up]] = True
        # Where every PWL the solver pushes up is concave, a convex combination of the
        # breakpoints (weights summing to the gate) is exact and as tight as the
        # disaggregated segments, with one row per piece instead of one per segment.
        concave = ~rising | (size <= 2)
        on = concave[piece]
        lam = asm.cols("l", int(on.sum()))
        k_of = piece[on]
        a_of, f_of = cells.piece_a[k_of], cells.piece_factor[k_of]
        term(pc[k_of], lam, a_of + X[on], f_of * (a_of + X[on]), YO[on], YM[on])
        conc = np.flatnonzero(concave)
        gated = conc[has_gate[conc]]
        asm.rows_many("mix", "==", np.r_[k_of, gated], np.r_[lam, gate[gated]],
                      np.r_[np.ones(len(lam)), -np.ones(len(gated))], np.zeros(0))
        mix = asm.rows["mix"]
        mix["n"], mix["next"] = n_pieces, n_pieces
        mix["rhs"] = {int(k): (0.0 if has_gate[k] else 1.0) for k in conc.tolist()}
        # Otherwise segments from the piece's start, filled in order by binaries (few pieces: a loop).
        n_order = 0
        starts = np.cumsum(size) - size
        for k in np.flatnonzero(~concave).tolist():
            i, u = int(pc[k]), int(gate[k])
            f, a = float(cells.piece_factor[k]), float(cells.piece_a[k])
            x = X[starts[k]: starts[k] + size[k]]
            L = np.diff(x)
            sel = seg_piece == k
            d = asm.cols("d", len(L), upper=L)
            if u < 0:
                asm.offset += float(ys_obj[k][0])
                marg_const += float(ys_marg[k][0])
                p_const[i] += a
                n_const[i] += f * a
            else:
                term(i, [u], a, f * a, ys_obj[k][0], ys_marg[k][0])
                asm.row("gate", "<=", [d[0], u], [1.0, -L[0]], 0.0, r=k, n_rows=n_pieces)
            term(i, d, 1.0, f, mo[sel], mm[sel])
            ys = asm.cols("y", len(d) - 1, upper=1.0)
            n_order += len(d) - 1
            if u >= 0:
                # A piece not chosen opens none of its segments (stated, not left to tolerances).
                asm.row("open", "<=", [ys[0], u], [1.0, -1.0], 0.0, r=k, n_rows=n_pieces)
            j = np.arange(1, len(d))
            # fill: d_{j-1} >= L_{j-1} y_j; order: d_j <= L_j y_j
            asm.rows_many("fill", ">=", np.r_[j - 1, j - 1], np.r_[d[j - 1], ys[j - 1]],
                          np.r_[np.ones(len(j)), -L[j - 1]], np.zeros(len(j)))
            asm.rows_many("order", "<=", np.r_[j - 1, j - 1], np.r_[d[j], ys[j - 1]],
                          np.r_[np.ones(len(j)), -L[j]], np.zeros(len(j)))
        state["n_order"] = n_order
        # One piece per cell where a cell has several (outside a menu, where the region's tier decides).
        one = np.flatnonzero(has_gate & ~menu)
        if len(one):
            asm.rows_many("one", "==", pc[one], gate[one], np.ones(len(one)), np.zeros(0))
            b_ = asm.rows["one"]
            b_["n"], b_["next"] = n, n
            b_["rhs"] = dict.fromkeys(np.unique(pc[one]).tolist(), 1.0)
    else:
        # Price ladder: one binary per (point, reachable tier); values exact.
        opt_cell, opt_piece, opt_price, opt_cols = [], [], [], []
        picks: dict[tuple[int, int], tuple[np.ndarray, int]] = {}
        cell_gates: list[list] = [[] for _ in range(n)]
        for k in range(n_pieces):
            i = int(pc[k])
            pts = cells.points[i]
            inside = pts[(pts >= cells.piece_a[k] - 1e-9) & (pts <= cells.piece_b[k] + 1e-9)]
            if not len(inside):
                continue
            obj, mg = model._functions(cells, k)
            zs = asm.cols("z", len(inside), upper=1.0)
            f = float(cells.piece_factor[k])
            term(i, zs, inside, f * inside, obj(inside), mg(inside))
            cell_gates[i].extend(zs.tolist())
            if menu:
                picks[(i, int(pt[k]))] = (zs, int(w[cell_region[i], pt[k]]))
            opt_cell.extend([i] * len(inside))
            opt_piece.extend([k] * len(inside))
            opt_price.extend(inside.tolist())
            opt_cols.append(zs)
        empty = [i for i in range(n) if not cell_gates[i]]
        if empty:
            raise InfeasibleError(f"cells {format_ids([(cells.region[i], cells.channel[i]) for i in empty])} "
                                  f"have no price point that a rebate tier allows.", reasons=["empty ladder"])
        state.update(opt_cell=np.asarray(opt_cell), opt_piece=np.asarray(opt_piece),
                     opt_price=np.asarray(opt_price), err_obj=np.zeros(n_pieces), err_marg=np.zeros(n_pieces))
        for zs, wv in picks.values():
            asm.row("pick", "==", np.r_[zs, wv], np.r_[np.ones(len(zs)), -1.0], 0.0)
        opt_handles = np.concatenate(opt_cols) if opt_cols else np.zeros(0, dtype=np.int64)
        if not menu:
            for i in range(n):
                asm.row("one", "==", cell_gates[i], 1.0, 1.0, r=i, n_rows=n)
    if menu:
        if cells.points is not None:
            has = set(picks)
        else:
            has = set(zip(pc.tolist(), pt.tolist()))
        # a region's tier that one of its cells cannot reach is closed
        reach = np.ones((len(cells.region_ids), cells.n_tiers), dtype=bool)
        for i in range(n):
            for t in range(cells.n_tiers):
                if (i, t) not in has:
                    reach[cell_region[i], t] = False
        asm.upper["w"][0] = reach.reshape(-1).astype(float)
    # Price and net-price variables (one when there are no rebates):
    # sum of the cell's terms - p_i = -(its constant), and the same for the net price.
    rebated = bool(np.any(cells.piece_rebate > 0))
    p_var = asm.cols("p", n, lower=-np.inf)
    n_var = asm.cols("n", n, lower=-np.inf) if rebated else p_var
    cell = np.concatenate(t_cell) if t_cell else np.zeros(0, dtype=np.int64)
    cols = np.concatenate(t_cols) if t_cols else np.zeros(0, dtype=np.int64)
    ones = np.ones(n)
    asm.rows_many("price", "==", np.r_[cell, np.arange(n)], np.r_[cols, p_var],
                  np.r_[np.concatenate(t_p) if t_p else np.zeros(0), -ones], -p_const)
    if rebated:
        asm.rows_many("net", "==", np.r_[cell, np.arange(n)], np.r_[cols, n_var],
                      np.r_[np.concatenate(t_n) if t_n else np.zeros(0), -ones], -n_const)
    if len(cols):
        asm.cost.append((cols, np.concatenate(t_obj)))
    rows: list[tuple] = []  # (kind, from_region, to_region, channel, row block, row, limit, a, b, relative)
    if model.margin_floor is not None and "margin_floor" not in drop:
        asm.row("margin_floor", ">=", cols, np.concatenate(t_marg) if t_marg else np.zeros(0),
                float(model.margin_floor) - marg_const)
    # Diversion: n_to - n_from <= cost(from -> to), per channel, both directions.
    table = resolve_costs(model.diversion_cost, net, cells.region_ids)
    div = None
    if table is not None:
        src, dst, cost = directed_costs(table, cells.region_ids)
        div = pd.DataFrame({"from_region": src, "to_region": dst, "cost": cost})
        if "diversion corridors" not in drop:
            for ch in cells.channel_ids:
                fi = np.array([cells.key_index.get((r, ch), -1) for r in src], dtype=np.int64)
                ti = np.array([cells.key_index.get((r, ch), -1) for r in dst], dtype=np.int64)
                ok = np.flatnonzero((fi >= 0) & (ti >= 0))
                if not len(ok):
                    continue
                first = asm.block("div", "<=")["next"]
                k = np.arange(len(ok))
                asm.rows_many("div", "<=", np.r_[k, k], np.r_[n_var[ti[ok]], n_var[fi[ok]]],
                              np.r_[np.ones(len(ok)), -np.ones(len(ok))], cost[ok])
                rows.extend(("diversion", src[j], dst[j], ch, "div", first + q, float(cost[j]), int(fi[j]),
                             int(ti[j]), None) for q, j in enumerate(ok.tolist()))
    # Channel ladders: lo <= n_a - n_b <= hi (or relative to n_b).
    if "channel_gaps" not in drop:
        for ca, cb, lo, hi, relative in model._gaps(cells):
            for r in cells.region_ids:
                a, b = cells.key_index.get((r, ca)), cells.key_index.get((r, cb))
                if a is None or b is None:
                    continue
                label = f"{ca}-{cb}"
                for bound, sense, side in ((lo, ">=", "lo"), (hi, "<=", "hi")):
                    if not math.isfinite(bound):
                        continue
                    if relative:
                        coefs, rhs = [1.0, -(1.0 + bound)], 0.0
                    else:
                        coefs, rhs = [1.0, -1.0], bound
                    q = asm.row(f"gap_{side}", sense, [n_var[a], n_var[b]], coefs, rhs)
                    rows.append((f"channel_gap_{side}", r, r, label, f"gap_{side}", q, bound, a, b, relative))
    blocks = asm.finish(ap, fix)
    glob = asm.glob
    state.update(
        blocks=blocks, p_var=blocks["p"], n_var=blocks["n"] if rebated else blocks["p"], rebated=rebated,
        diversion=div, w=blocks.get("w"),
        # each corridor row's number in the problem (for its dual)
        rows=[(kind, fr, to, ch, blocks["row:" + blk].start + q, limit, a, b, rel)
              for kind, fr, to, ch, blk, q, limit, a, b, rel in rows],
        gate_col=np.where(has_gate, glob(np.maximum(gate, 0)), -1),
        opt_cols=None if opt_handles is None else glob(opt_handles),
        floor=model.margin_floor is not None and "margin_floor" not in drop,
    )
    return state
