"""The p-median (Hess) formulation of ``compactness`` with free centres.

``x[v, c] = 1`` when region ``v`` joins the territory centred at ``c``; ``x[c, c]``
opens centre ``c``. Only the allowed ``(v, c)`` pairs get a variable. Contiguity is
enforced by neighbour rows up front and a-b separator rows added by the solve loop.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..._arrays import ArrayProblem
from .data import TerritoryData, row_bounds
from .labelling import symmetric

__all__ = ["pairs", "build_pmedian", "start_values", "add_separator_cuts", "read_plan"]


class PairIndex:
    """Position of pair ``(v, c)`` among the model's pairs, as a dict would answer it (an n x n int32 table).

    ``index[v, c]``, ``(v, c) in index`` and ``index.get((v, c))``; ``pos[v, c]`` is -1 for a pair
    the model leaves out. A dict of 113k tuples took 0.25 s to build on china.
    """

    def __init__(self, n: int, pv: np.ndarray, pc: np.ndarray) -> None:
        self.pos = np.full((n, n), -1, dtype=np.int32)
        self.pos[pv, pc] = np.arange(len(pv), dtype=np.int32)

    def __getitem__(self, key) -> int:
        i = int(self.pos[key[0], key[1]])
        if i < 0:
            raise KeyError(key)
        return i

    def __contains__(self, key) -> bool:
        return bool(self.pos[key[0], key[1]] >= 0)

    def get(self, key, default=None):
        i = int(self.pos[key[0], key[1]])
        return default if i < 0 else i


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


def build_pmedian(settings, d: TerritoryData, ap: ArrayProblem, pv: np.ndarray, pc: np.ndarray, *,
                  integer: bool = True) -> dict[str, Any]:
    """p-median (Hess) assignment ``x[v, c]`` over the allowed pairs only; ``x[c, c]`` opens centre ``c``.

    ``integer=False`` builds the LP relaxation (for a bound).
    """
    n, k = d.n, d.k
    npairs = len(pv)
    index = PairIndex(n, pv, pc)
    diag_pos = index.pos[np.arange(n), np.arange(n)].astype(np.int64)
    off = pv != pc
    up = np.ones(npairs)
    nbr = None
    if settings.contiguity and k > 1:
        # a member that is not next to its centre needs a member among its own neighbours
        # (the separator of the piece {v}); valid for every contiguous plan, and it
        # removes most of the scattered LP and B&B solutions before any lazy round.
        # Vectorised over (pair, neighbour) entries: a python loop here took 2.7 s of a
        # 1 s limit on china (113k pairs)
        deg = np.fromiter((len(a) for a in d.adj), dtype=np.int64, count=n)
        nb_flat = np.fromiter((u for a in d.adj for u in a), dtype=np.int64, count=int(deg.sum()))
        starts = np.r_[0, np.cumsum(deg)[:-1]]
        adjacent = np.zeros(npairs, dtype=bool)
        cand = np.flatnonzero(off)
        # entries (pair i, neighbour u of pv[i])
        reps = deg[pv[cand]]
        pi = np.repeat(cand, reps)
        within = np.arange(len(pi)) - np.repeat(np.cumsum(reps) - reps, reps)
        u = nb_flat[np.repeat(starts[pv[cand]], reps) + within]
        adjacent[pi[u == pc[pi]]] = True
        keep = ~adjacent[pi]
        pi, u = pi[keep], u[keep]
        j = index.pos[u, pc[pi]]
        pi, j = pi[j >= 0], j[j >= 0]
        need = cand[~adjacent[cand]]
        has = np.zeros(npairs, dtype=bool)
        has[pi] = True
        up[need[~has[need]]] = 0.0
        nbr = (pi, j)
    x = ap.add_vars("x", npairs, upper=up, integer=integer, cost=d.weights[pv] * d.dist[pv, pc])
    cols = x.index
    state: dict[str, Any] = {"form": "hess", "x": x, "pv": pv, "pc": pc, "index": index, "diag": diag_pos}
    ap.add_rows("assign", pv, cols, sense="==", rhs=1.0, n_rows=n)
    ap.add_row("k_centres", cols[diag_pos], 1.0, "==", float(k))
    io = np.flatnonzero(off)
    m = len(io)
    ap.add_rows("open", np.r_[np.arange(m), np.arange(m)], np.r_[cols[io], cols[diag_pos[pc[io]]]],
                np.r_[np.ones(m), -np.ones(m)], sense="<=", rhs=0.0, n_rows=m)
    for p in range(len(d.attrs)):
        a = d.loads[pv, p]
        # x[c, c] is the centre switch itself, so the bound rides on it
        row_lo, row_hi = row_bounds(d, p)
        if d.lower[p] > 0:
            ap.add_rows(f"bal_lo_{p}", pc, cols, a - np.where(off, 0.0, row_lo), sense=">=", rhs=0.0, n_rows=n)
        if np.isfinite(d.upper[p]):
            ap.add_rows(f"bal_hi_{p}", pc, cols, a - np.where(off, 0.0, row_hi), sense="<=", rhs=0.0, n_rows=n)
    if nbr is not None and len(nbr[0]):
        pi, j = nbr
        heads = pi[np.r_[True, pi[1:] != pi[:-1]]]  # pi is sorted (np.unique hashes: 0.4 s on china)
        row_of = np.full(npairs, -1, dtype=np.int64)
        row_of[heads] = np.arange(len(heads))
        rows = np.r_[row_of[heads], row_of[pi]]
        members = np.r_[heads, j]
        vals = np.r_[np.ones(len(heads)), -np.ones(len(pi))]
        ap.add_rows("nbr", rows, cols[members], vals, sense="<=", rhs=0.0, n_rows=len(heads))
    if d.locked is not None:
        groups = [np.flatnonzero(d.locked == j) for j in range(k)]
        groups = [g for g in groups if len(g)]
        same = []
        for g in groups:
            for v in g[1:].tolist():
                for c in range(n):
                    a, b = index.get((v, c)), index.get((int(g[0]), c))
                    if a is not None and b is not None:
                        same.append((a, b))
        if same:
            pa = np.array(same, dtype=np.int64)
            r = np.arange(len(pa))
            ap.add_rows("lock", np.r_[r, r], np.r_[cols[pa[:, 0]], cols[pa[:, 1]]],
                        np.r_[np.ones(len(pa)), -np.ones(len(pa))], sense="==", rhs=0.0, n_rows=len(pa))
        if len(groups) > 1:
            reps = [int(g[0]) for g in groups]
            rows, members, count = [], [], 0
            for c in range(n):
                terms = [index[r, c] for r in reps if (r, c) in index]
                if len(terms) > 1:
                    rows += [count] * len(terms)
                    members += terms
                    count += 1
            if members:
                ap.add_rows("lockapart", rows, cols[np.array(members, dtype=np.int64)], sense="<=", rhs=1.0)
    return state


def start_values(d: TerritoryData, state, label, centres) -> dict:
    """A MIP start ``{VarBlock: values}`` from a plan ``label`` with ``centres`` (the x block only)."""
    x = state["x"]
    if state["form"] == "hess":
        cl = np.asarray(centres)[label]
        return {x: (cl[state["pv"]] == state["pc"]).astype(float)}
    slot = np.asarray(label)
    if state.get("r") is not None and symmetric(d):
        # renumber territories by their first region in the symmetry rows' order, as those rows demand
        first: dict[int, int] = {}
        for t in slot[state["order"]].tolist():
            first.setdefault(t, len(first))
        slot = np.array([first[t] for t in slot.tolist()])
    return {x: (slot[:, None] == np.arange(d.k)[None, :]).astype(float)}


def add_separator_cuts(ap: ArrayProblem, state, cuts, centres) -> int:
    """Add the a-b separator rows of ``cuts`` (from :func:`.contiguity.separator_cuts`) as one block.

    For a piece ``C`` cut off from centre ``c`` with neighbourhood ``N(C)``:
    ``x[v, c] <= sum_{u in N(C)} x[u, c]`` for ``v`` in ``C``. Returns how many rows.
    """
    x, index = state["x"], state["index"]
    cols = x.index
    rows, members, vals, count = [], [], [], 0
    for piece, sep, c in cuts:
        for cc in sorted(set(centres) | {c}):
            if cc in piece or cc in sep:
                continue
            s_terms = [index[u, cc] for u in sep if (u, cc) in index]
            for v in piece:
                if (v, cc) not in index:
                    continue
                rows += [count] * (len(s_terms) + 1)
                members += [*s_terms, index[v, cc]]
                vals += [1.0] * len(s_terms) + [-1.0]
                count += 1
    if count:
        state["sep_blocks"] = state.get("sep_blocks", 0) + 1
        name = f"sep{state['sep_blocks']}_{ap.n_rows}"  # unique when a built model is solved again
        ap.add_rows(name, rows, cols[np.array(members, dtype=np.int64)], vals, sense=">=", rhs=0.0, n_rows=count)
    state["cuts"] += count
    return count


def read_plan(d: TerritoryData, state) -> tuple[np.ndarray, list | None]:
    """The solved plan: territory slot per region and each slot's centre (or None)."""
    x = state["x"]
    xv = x.value
    if state["form"] == "hess":
        hit = xv > 0.5
        centre_of = np.zeros(d.n, dtype=np.int64)
        centre_of[state["pv"][hit]] = state["pc"][hit]
        centres = sorted(set(centre_of.tolist()))
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
    return np.argmax(xv, axis=1), (list(d.centres) if d.centres is not None else None)
