"""The labelling formulation: ``x[v, j] = 1`` when region ``v`` is in territory slot ``j``.

Used for ``cut_edges``, ``disruption`` and ``compactness`` with fixed centres.
Contiguity is a single-commodity flow from each slot's root (:mod:`.contiguity`).
When the slots are interchangeable (no centres, current alignment or locks), each
partition is kept once: a slot's root is its lowest-numbered region and roots
increase with the slot (Validi & Buchanan's diagonal fixing plus root ordering).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..._arrays import ArrayProblem
from .contiguity import add_flow_contiguity
from .data import TerritoryData

__all__ = ["build_labelling", "symmetric"]

#: symmetry rows: "cumulative" (O(n k) rows of at most 3 nonzeros, the default) or
#: "explicit" (the 0.1 rows, O(k n^2) nonzeros); kept for the before/after benchmark
SYMMETRY = "cumulative"
#: the region order the symmetry rows use: "load" (largest first on the first balance
#: attribute, which lets the load fixing below bite early) or "index" (0.1's order)
ORDER = "load"
#: fix roots (and members before the first possible root) from the balance bounds
LOAD_FIXING = True
#: how a cut edge is priced: "max" (``y_e >= x[u,j] - x[v,j]`` for every slot, 0.1's rows) or
#: "variation" (``y_e >= 1/2 sum_j |x[u,j] - x[v,j]|``, the multiway-cut relaxation). Measured:
#: variation lifts the root LP (WV 5.5 -> 7.1) but solved ME/NM/ID 1.0-1.6x slower and ended
#: WV/NE at 120 s with weaker bounds (12.5 vs 13, 12.9 vs 15), so "max" stays
CUT_ROWS = "max"


def region_order(d: TerritoryData, order: str | None = None) -> np.ndarray:
    """Positions of the symmetry rows: ``order[i]`` is the region at position ``i``."""
    order = order or ORDER
    if order == "load" and d.loads.shape[1]:
        return np.argsort(-d.loads[:, 0], kind="stable")
    return np.arange(d.n)


def load_fixing(d: TerritoryData, order: np.ndarray) -> np.ndarray:
    """Which (position, slot) may hold slot ``j``'s root, from the balance bounds alone.

    With roots in slot order at each territory's first position, the regions before
    slot ``j``'s root all lie in slots ``0..j-1`` (so their load is at most ``j x
    upper``) and the regions from it on hold slots ``j..k-1`` (at least ``(k - j) x
    lower``). A position breaking either cannot be slot ``j``'s root.
    """
    n, k = d.n, d.k
    ok = np.ones((n, k), dtype=bool)
    j = np.arange(k)[None, :]
    for p in range(d.loads.shape[1]):
        a = d.loads[order, p]
        before = np.r_[0.0, np.cumsum(a)[:-1]][:, None]
        after = a.sum() - before
        tol = 1e-9 * max(1.0, a.sum())
        if np.isfinite(d.upper[p]):
            ok &= before <= j * d.upper[p] + tol
        ok &= after >= (k - j) * d.lower[p] - tol
    return ok


def symmetric(d: TerritoryData) -> bool:
    """Whether the slots are interchangeable (any relabelling of a plan is the same plan)."""
    return d.centres is None and d.current is None and d.locked is None


def build_labelling(settings, d: TerritoryData, ap: ArrayProblem, *, symmetry: str | None = None) -> dict[str, Any]:
    """Add the labelling model of ``d`` to ``ap`` (blocks of rows); return the state the solve reads.

    ``settings`` is the :class:`TerritoryDesign` (``objective``, ``contiguity``,
    ``max_changes``). ``symmetry`` overrides :data:`SYMMETRY`.
    """
    symmetry = symmetry or SYMMETRY
    n, k = d.n, d.k
    lo, up = np.zeros((n, k)), np.ones((n, k))
    if d.locked is not None:
        for v in np.flatnonzero(d.locked >= 0).tolist():
            up[v] = 0.0
            lo[v, d.locked[v]] = up[v, d.locked[v]] = 1.0
    if d.centres is not None:
        for j, c in enumerate(d.centres):
            up[c] = 0.0
            lo[c, j] = up[c, j] = 1.0
    sym = symmetric(d)
    order = region_order(d) if sym else np.arange(n)
    root_ok = np.ones((n, k), dtype=bool)  # by position
    if sym:
        # slot j's root is its first region and roots increase, so the region at position i < j is never in
        # slot j; load fixing removes more roots, and a slot holds nothing before its first possible root
        root_ok[np.triu_indices(n, 1, k)] = False
        if LOAD_FIXING:
            root_ok &= load_fixing(d, order)
        reach = np.maximum.accumulate(root_ok, axis=0)
        up[order] = np.where(reach, up[order], 0.0)
    x = ap.add_vars("x", (n, k), lower=lo, upper=up, integer=True)
    state: dict[str, Any] = {"form": "labelling", "x": x, "symmetry": symmetry, "order": order}
    ap.add_rows("assign", np.repeat(np.arange(n), k), x.index, sense="==", rhs=1.0, n_rows=n)
    # every territory gets at least one region (balance with a zero lower bound does not say so)
    ap.add_rows("nonempty", np.tile(np.arange(k), n), x.index, sense=">=", rhs=1.0, n_rows=k)
    roots = [None] * k
    if d.centres is not None:
        roots = list(d.centres)
    elif d.locked is not None:
        for j in range(k):
            lk = np.flatnonzero(d.locked == j)
            if len(lk):
                roots[j] = int(lk[0])
    r = None
    need_r = np.array([j for j in range(k) if roots[j] is None], dtype=np.int64)
    if len(need_r) and (settings.contiguity or sym):
        r_up = np.zeros((n, k))
        r_up[:, need_r] = 1.0
        if sym:
            r_up[order] = np.where(root_ok, r_up[order], 0.0)
        r = ap.add_vars("r", (n, k), upper=r_up, integer=True)
        ap.add_rows("oneroot", np.repeat(np.arange(len(need_r)), n), r[:, need_r].T.reshape(-1),
                    sense="==", rhs=1.0, n_rows=len(need_r))
        vv, jj = np.meshgrid(np.arange(n), need_r, indexing="ij")
        m = vv.size
        ap.add_rows("rootin", np.r_[np.arange(m), np.arange(m)], np.r_[r[vv, jj].reshape(-1), x[vv, jj].reshape(-1)],
                    np.r_[np.ones(m), -np.ones(m)], sense="<=", rhs=0.0, n_rows=m)
        if sym:
            # the rows run over positions: pass the columns in position order
            if symmetry == "explicit":
                _explicit_root_order(ap, x[order], r[order])
            else:
                _cumulative_root_order(ap, x[order], r[order])
        state["r"] = r
    for p in range(len(d.attrs)):
        a = np.repeat(d.loads[:, p], k)
        slot = np.tile(np.arange(k), n)
        if d.lower[p] > 0:
            ap.add_rows(f"bal_lo_{p}", slot, x.index, a, sense=">=", rhs=d.lower[p], n_rows=k)
        if np.isfinite(d.upper[p]):
            ap.add_rows(f"bal_hi_{p}", slot, x.index, a, sense="<=", rhs=d.upper[p], n_rows=k)
    if settings.contiguity and k > 1:
        add_flow_contiguity(ap, x, d.edges, roots=roots, root_vars=r)
    if d.current is not None and settings.max_changes is not None:
        ap.add_row("max_changes", x[np.arange(n), d.current], 1.0, ">=", n - settings.max_changes)
    if settings.objective == "cut_edges":
        m = len(d.edges)
        y = ap.add_vars("cut", m, upper=1.0, cost=d.edge_w)
        state["y"] = y
        e, j = np.divmod(np.arange(m * k), k)
        u, v = d.edges[e, 0], d.edges[e, 1]
        rows = np.arange(m * k)
        ones = np.ones(m * k)
        if CUT_ROWS == "variation":
            # z[e,j] >= |x[u,j] - x[v,j]| and y_e >= sum_j z[e,j] / 2: an edge inside one territory costs 0,
            # a cut edge 1; fractional labels pay their total variation instead of its largest term
            z = ap.add_vars("cutvar", (m, k), upper=1.0)
            for name, sign in (("cutvar_a", 1.0), ("cutvar_b", -1.0)):
                ap.add_rows(name, np.r_[rows, rows, rows], np.r_[z[e, j], x[u, j], x[v, j]],
                            np.r_[ones, -sign * ones, sign * ones], sense=">=", rhs=0.0, n_rows=m * k)
            ap.add_rows("cutlink", np.r_[np.arange(m), e], np.r_[y.index, z[e, j]], np.r_[np.ones(m), -0.5 * ones],
                        sense=">=", rhs=0.0, n_rows=m)
        else:
            ap.add_rows("cutlink", np.r_[rows, rows, rows], np.r_[y[e], x[u, j], x[v, j]],
                        np.r_[ones, -ones, ones], sense=">=", rhs=0.0, n_rows=m * k)
    elif settings.objective == "disruption":
        ap.add_cost(x[np.arange(n), d.current], -1.0)
        ap.offset += float(n)
    else:
        ap.add_cost(x.index, (d.weights[:, None] * d.dist[:, d.centres]).reshape(-1))
    return state


def _explicit_root_order(ap: ArrayProblem, x, r) -> None:
    """0.1's rows: ``x[v,j] <= sum_{u<=v} r[u,j]`` and ``sum_{u<=v} r[u,j+1] <= sum_{u<v} r[u,j]``.

    Each row spells out its prefix sum: O(k n^2) nonzeros (84% of all at n=200, k=8).
    """
    n, k = x.shape
    rows, cols, vals, count = [], [], [], 0
    for j in range(k):
        for v in range(j, n):
            rows.append(np.full(v + 2, count))
            cols.append(np.r_[x[v, j], r[: v + 1, j]])
            vals.append(np.r_[1.0, -np.ones(v + 1)])
            count += 1
    ap.add_rows("minroot", np.concatenate(rows), np.concatenate(cols), np.concatenate(vals), sense="<=",
                rhs=0.0, n_rows=count)
    rows, cols, vals, count = [], [], [], 0
    for j in range(k - 1):
        for v in range(j, n):
            rows.append(np.full(2 * v + 1, count))
            cols.append(np.r_[r[: v + 1, j + 1], r[:v, j]])
            vals.append(np.r_[np.ones(v + 1), -np.ones(v)])
            count += 1
    if count:
        ap.add_rows("rootorder", np.concatenate(rows), np.concatenate(cols), np.concatenate(vals), sense="<=",
                    rhs=0.0, n_rows=count)


def _cumulative_root_order(ap: ArrayProblem, x, r) -> None:
    """The same rows through running sums ``R[v,j] = sum_{u<=v} r[u,j]``: O(n k) rows of <= 3 nonzeros.

    ``R[v,j] = R[v-1,j] + r[v,j]``; no member below the root: ``x[v,j] <= R[v,j]``;
    roots in slot order: ``R[v,j+1] <= R[v-1,j]``.
    """
    n, k = x.shape
    big_r = ap.add_vars("R", (n, k), upper=1.0)
    v, j = np.divmod(np.arange(n * k), k)
    rows = np.arange(n * k)
    prev = v > 0
    ap.add_rows("cum", np.r_[rows, rows, rows[prev]], np.r_[big_r[v, j], r[v, j], big_r[v[prev] - 1, j[prev]]],
                np.r_[np.ones(n * k), -np.ones(n * k), -np.ones(int(prev.sum()))], sense="==", rhs=0.0,
                n_rows=n * k)
    keep = v >= j
    vk, jk = v[keep], j[keep]
    mk = len(vk)
    ap.add_rows("minroot", np.r_[np.arange(mk), np.arange(mk)], np.r_[x[vk, jk], big_r[vk, jk]],
                np.r_[np.ones(mk), -np.ones(mk)], sense="<=", rhs=0.0, n_rows=mk)
    if k > 1:
        ap.set_bounds(big_r[0, 1:], upper=0.0)
        vo, jo = np.divmod(np.arange((n - 1) * (k - 1)), k - 1)
        vo = vo + 1
        mo = len(vo)
        ap.add_rows("rootorder", np.r_[np.arange(mo), np.arange(mo)], np.r_[big_r[vo, jo + 1], big_r[vo - 1, jo]],
                    np.r_[np.ones(mo), -np.ones(mo)], sense="<=", rhs=0.0, n_rows=mo)
