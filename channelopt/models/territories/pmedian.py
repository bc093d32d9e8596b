"""The p-median (Hess) formulation of ``compactness`` with free centres.

``x[v, c] = 1`` when region ``v`` joins the territory centred at ``c``; ``x[c, c]``
opens centre ``c``. Only the allowed ``(v, c)`` pairs get a variable. Contiguity is
enforced by neighbour rows up front and a-b separator rows added by the solve loop.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pulp

from .._lp import add_grouped_rows, add_row, linear, new_vars, values
from .data import TerritoryData
from .labelling import symmetric

__all__ = ["pairs", "build_pmedian", "start_values", "add_separator_cuts", "read_plan"]


def pairs(d: TerritoryData, candidates: int | None, seed=None) -> tuple[np.ndarray, np.ndarray]:
    """The (region, centre) pairs the compactness model may use, region-major.

    ``candidates`` keeps each region's nearest centres only; ``seed = (label, centres)``
    adds a plan's own pairs, so that plan is feasible for the restricted model.
    """
    n = d.n
    if candidates is None or candidates >= n:
        allowed = np.ones((n, n), dtype=bool)
    else:
        near = np.argsort(d.dist, axis=1, kind="stable")[:, : int(candidates)]
        allowed = np.zeros((n, n), dtype=bool)
        allowed[np.repeat(np.arange(n), near.shape[1]), near.reshape(-1)] = True
        allowed[np.arange(n), np.arange(n)] = True
        if seed is not None:
            # the incumbent's own pairs stay, so the warm start is a plan of the restricted model
            label, centres = seed
            allowed[np.arange(n), np.asarray(centres)[label]] = True
    if d.locked is not None:
        # every region of a locked group must be able to join the same centres
        for j in range(d.k):
            g = np.flatnonzero(d.locked == j)
            if len(g) > 1:
                allowed[g] = allowed[g].any(axis=0)
    return np.nonzero(allowed)


def build_pmedian(settings, d: TerritoryData, prob: pulp.LpProblem, pv: np.ndarray, pc: np.ndarray) -> dict[str, Any]:
    """p-median (Hess) assignment ``x[v, c]`` over the allowed pairs only; ``x[c, c]`` opens centre ``c``."""
    n, k = d.n, d.k
    x = new_vars(prob, "x", len(pv), low=0, up=1, cat=pulp.LpBinary)
    index = {(v, c): i for i, (v, c) in enumerate(zip(pv.tolist(), pc.tolist()))}
    diag = x[[index[c, c] for c in range(n)]]
    state: dict[str, Any] = {"form": "hess", "x": x, "pv": pv, "pc": pc, "index": index, "diag": diag}
    add_grouped_rows(prob, x, None, pv, n, "==", 1.0, "assign")
    add_row(prob, diag, None, "==", float(k), "k_centres")
    le = pulp.LpConstraintLE
    off = pv != pc
    xl, yl = x.tolist(), diag.tolist()
    for i in np.flatnonzero(off).tolist():
        prob.addConstraint(
            pulp.LpConstraint(pulp.LpAffineExpression([(xl[i], 1.0), (yl[pc[i]], -1.0)]), le, f"open_{i}", 0.0)
        )
    for p in range(len(d.attrs)):
        a = d.loads[pv, p]
        # x[c, c] is the centre switch itself, so the bound rides on it
        if d.lower[p] > 0:
            add_grouped_rows(prob, x, a - np.where(off, 0.0, d.lower[p]), pc, n, ">=", 0.0, f"bal_lo_{p}")
        if np.isfinite(d.upper[p]):
            add_grouped_rows(prob, x, a - np.where(off, 0.0, d.upper[p]), pc, n, "<=", 0.0, f"bal_hi_{p}")
    if settings.contiguity and k > 1:
        # a member that is not next to its centre needs a member among its own neighbours
        # (the separator of the piece {v}); valid for every contiguous plan, and it
        # removes most of the scattered LP and B&B solutions before any lazy round
        adjset = [set(a) for a in d.adj]
        for i in np.flatnonzero(off).tolist():
            v, c = int(pv[i]), int(pc[i])
            if c in adjset[v]:
                continue
            nb = [xl[index[u, c]] for u in d.adj[v] if (u, c) in index]
            if not nb:
                xl[i].upBound = 0.0
                continue
            add_row(prob, [xl[i], *nb], [1.0] + [-1.0] * len(nb), "<=", 0.0, f"nbr_{i}")
    if d.locked is not None:
        groups = [np.flatnonzero(d.locked == j) for j in range(k)]
        groups = [g for g in groups if len(g)]
        for g in groups:
            for v in g[1:].tolist():
                for c in range(n):
                    a, b = index.get((v, c)), index.get((int(g[0]), c))
                    if a is not None and b is not None:
                        add_row(prob, [xl[a], xl[b]], [1.0, -1.0], "==", 0.0, f"lock_{v}_{c}")
        if len(groups) > 1:
            reps = [int(g[0]) for g in groups]
            for c in range(n):
                terms = [xl[index[r, c]] for r in reps if (r, c) in index]
                if len(terms) > 1:
                    add_row(prob, terms, None, "<=", 1.0, f"lockapart_{c}")
    prob.setObjective(linear(x, d.weights[pv] * d.dist[pv, pc]))
    return state


def start_values(d: TerritoryData, state, label, centres) -> dict:
    """A full MIP start (variable -> value) from a plan ``label`` with ``centres``."""
    x = state["x"]
    start = {}
    if state["form"] == "hess":
        cl = np.asarray(centres)[label]
        hit = (cl[state["pv"]] == state["pc"]).astype(float).tolist()
        return dict(zip(x.tolist(), hit))
    slot = label
    if state.get("r") is not None and symmetric(d):
        # renumber territories by their lowest region, as the symmetry rows demand
        first = {}
        for t in label.tolist():
            first.setdefault(t, len(first))
        slot = np.array([first[t] for t in label.tolist()])
    for v in range(d.n):
        for j in range(d.k):
            start[x[v, j]] = 1.0 if slot[v] == j else 0.0
    return start


def add_separator_cuts(prob, state, cuts, centres) -> int:
    """Add the a-b separator rows of ``cuts`` (from :func:`.contiguity.separator_cuts`); return how many."""
    x, index = state["x"], state["index"]
    ge = pulp.LpConstraintGE
    added = 0
    base = len(prob.constraints)  # names stay unique when a built model is solved again
    for piece, sep, c in cuts:
        targets = sorted(set(centres) | {c})
        for cc in targets:
            if cc in piece or cc in sep:
                continue
            for v in piece:
                if (v, cc) not in index:
                    continue
                terms = [(x[index[u, cc]], 1.0) for u in sep if (u, cc) in index] + [(x[index[v, cc]], -1.0)]
                prob.addConstraint(
                    pulp.LpConstraint(pulp.LpAffineExpression(terms), ge, f"sep{base + added}", 0.0)
                )
                added += 1
                state["cuts"] += 1
    return added


def read_plan(d: TerritoryData, state) -> tuple[np.ndarray, list | None]:
    """The solved plan: territory slot per region and each slot's centre (or None)."""
    x = state["x"]
    if state["form"] == "hess":
        hit = values(x) > 0.5
        centre_of = np.zeros(d.n, dtype=np.int64)
        centre_of[state["pv"][hit]] = state["pc"][hit]
        centres = sorted(set(centre_of.tolist()), key=lambda c: c)
        slot = {c: j for j, c in enumerate(centres)}
        label = np.array([slot[c] for c in centre_of.tolist()])
        if d.locked is not None:
            # name each territory after the locked group it holds
            perm = {}
            for j in range(d.k):
                lk = np.flatnonzero(d.locked == j)
                if len(lk):
                    perm[int(label[lk[0]])] = j
            free = [j for j in range(d.k) if j not in perm.values()]
            for s in range(d.k):
                if s not in perm:
                    perm[s] = free.pop(0)
            label = np.array([perm[s] for s in label.tolist()])
            new_centres = [0] * d.k
            for s, c in enumerate(centres):
                new_centres[perm[s]] = c
            centres = new_centres
        return label, list(centres)
    xv = values(x.reshape(-1)).reshape(d.n, d.k)
    return np.argmax(xv, axis=1), (list(d.centres) if d.centres is not None else None)
