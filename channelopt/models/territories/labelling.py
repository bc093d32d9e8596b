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
import pulp

from .._lp import add_grouped_rows, add_row, linear, new_vars
from .contiguity import add_flow_contiguity
from .data import TerritoryData

__all__ = ["build_labelling", "symmetric"]

#: symmetry rows: "cumulative" (O(n k) rows of at most 3 nonzeros, the default) or
#: "explicit" (the 0.1 rows, O(k n^2) nonzeros); kept for the before/after benchmark
SYMMETRY = "cumulative"


def symmetric(d: TerritoryData) -> bool:
    """Whether the slots are interchangeable (any relabelling of a plan is the same plan)."""
    return d.centres is None and d.current is None and d.locked is None


def build_labelling(settings, d: TerritoryData, prob: pulp.LpProblem, *, symmetry: str | None = None) -> dict[str, Any]:
    """Add the labelling model of ``d`` to ``prob``; return the state the solve reads.

    ``settings`` is the :class:`TerritoryDesign` (``objective``, ``contiguity``,
    ``max_changes``). ``symmetry`` overrides :data:`SYMMETRY`.
    """
    symmetry = symmetry or SYMMETRY
    n, k = d.n, d.k
    x = new_vars(prob, "x", n * k, low=0, up=1, cat=pulp.LpBinary).reshape(n, k)
    state: dict[str, Any] = {"form": "labelling", "x": x, "symmetry": symmetry}
    add_grouped_rows(prob, x.reshape(-1), None, np.repeat(np.arange(n), k), n, "==", 1.0, "assign")
    # every territory gets at least one region (balance with a zero lower bound does not say so)
    add_grouped_rows(prob, x.reshape(-1), None, np.tile(np.arange(k), n), k, ">=", 1.0, "nonempty")
    fix = {}
    if d.locked is not None:
        for v in np.flatnonzero(d.locked >= 0).tolist():
            for j in range(k):
                fix[x[v, j]] = 1.0 if j == d.locked[v] else 0.0
    if d.centres is not None:
        for j, c in enumerate(d.centres):
            for jj in range(k):
                fix[x[c, jj]] = 1.0 if jj == j else 0.0
    sym = symmetric(d)
    roots = [None] * k
    if d.centres is not None:
        roots = list(d.centres)
    elif d.locked is not None:
        for j in range(k):
            lk = np.flatnonzero(d.locked == j)
            if len(lk):
                roots[j] = int(lk[0])
    if sym:
        # slot j's root is its lowest region and roots increase, so region v < j is never in slot j
        for v in range(min(n, k)):
            for j in range(v + 1, k):
                fix[x[v, j]] = 0.0
    for var, val in fix.items():
        var.lowBound = var.upBound = val
    r = None
    need_r = [j for j in range(k) if roots[j] is None]
    if need_r and (settings.contiguity or sym):
        r = np.empty((n, k), dtype=object)
        for j in need_r:
            r[:, j] = new_vars(prob, f"r{j}", n, low=0, up=1, cat=pulp.LpBinary)
            add_row(prob, r[:, j], None, "==", 1.0, f"oneroot_{j}")
            for v in range(n):
                add_row(prob, [r[v, j], x[v, j]], [1.0, -1.0], "<=", 0.0, f"rootin_{v}_{j}")
        if sym:
            for j in range(k):
                for v in range(min(j, n)):
                    r[v, j].upBound = 0.0
            if symmetry == "explicit":
                _explicit_root_order(prob, x, r)
            else:
                _cumulative_root_order(prob, x, r)
        state["r"] = r
    for p in range(len(d.attrs)):
        a = d.loads[:, p]
        for j in range(k):
            if d.lower[p] > 0:
                add_row(prob, x[:, j], a, ">=", d.lower[p], f"bal_lo_{p}_{j}")
            if np.isfinite(d.upper[p]):
                add_row(prob, x[:, j], a, "<=", d.upper[p], f"bal_hi_{p}_{j}")
    if settings.contiguity and k > 1:
        add_flow_contiguity(prob, x, d.edges, roots=roots, root_vars=r)
    if d.current is not None and settings.max_changes is not None:
        stay = x[np.arange(n), d.current]
        add_row(prob, stay, None, ">=", n - settings.max_changes, "max_changes")
    if settings.objective == "cut_edges":
        m = len(d.edges)
        y = new_vars(prob, "cut", m, low=0, up=1)
        state["y"] = y
        for e, (u, v) in enumerate(d.edges.tolist()):
            for j in range(k):
                add_row(prob, [y[e], x[u, j], x[v, j]], [1.0, -1.0, 1.0], ">=", 0.0, f"cut_{e}_{j}")
        prob.setObjective(linear(y, d.edge_w))
    elif settings.objective == "disruption":
        stay = x[np.arange(n), d.current]
        prob.setObjective(linear(stay, -np.ones(n), constant=float(n)))
    else:
        cost = d.weights[:, None] * d.dist[:, d.centres]
        prob.setObjective(linear(x.reshape(-1), cost.reshape(-1)))
    return state


def _explicit_root_order(prob, x, r) -> None:
    """0.1's rows: ``x[v,j] <= sum_{u<=v} r[u,j]`` and ``sum_{u<=v} r[u,j+1] <= sum_{u<v} r[u,j]``.

    Each row spells out its prefix sum: O(k n^2) nonzeros (84% of all at n=200, k=8).
    """
    n, k = x.shape
    for j in range(k):
        for v in range(j, n):
            add_row(prob, [x[v, j], *r[: v + 1, j]], [1.0] + [-1.0] * (v + 1), "<=", 0.0, f"minroot_{v}_{j}")
            if j + 1 < k:
                add_row(prob, [*r[: v + 1, j + 1], *r[:v, j]], [1.0] * (v + 1) + [-1.0] * v, "<=", 0.0,
                        f"rootorder_{v}_{j}")


def _cumulative_root_order(prob, x, r) -> None:
    """The same rows through running sums ``R[v,j] = sum_{u<=v} r[u,j]``: O(n k) rows of <= 3 nonzeros.

    ``R[v,j] = R[v-1,j] + r[v,j]``; no member below the root: ``x[v,j] <= R[v,j]``;
    roots in slot order: ``R[v,j+1] <= R[v-1,j]``.
    """
    n, k = x.shape
    big_r = np.empty((n, k), dtype=object)
    for j in range(k):
        big_r[:, j] = new_vars(prob, f"R{j}", n, low=0.0, up=1.0)
        add_row(prob, [big_r[0, j], r[0, j]], [1.0, -1.0], "==", 0.0, f"cum_0_{j}")
        for v in range(1, n):
            add_row(prob, [big_r[v, j], big_r[v - 1, j], r[v, j]], [1.0, -1.0, -1.0], "==", 0.0, f"cum_{v}_{j}")
        for v in range(j, n):
            add_row(prob, [x[v, j], big_r[v, j]], [1.0, -1.0], "<=", 0.0, f"minroot_{v}_{j}")
    for j in range(k - 1):
        add_row(prob, [big_r[0, j + 1]], [1.0], "<=", 0.0, f"rootorder_0_{j}")
        for v in range(1, n):
            add_row(prob, [big_r[v, j + 1], big_r[v - 1, j]], [1.0, -1.0], "<=", 0.0, f"rootorder_{v}_{j}")
