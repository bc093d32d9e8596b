"""The DEA envelopment LPs of many partners at once, by column generation through the one solve path.

Each partner ``o`` has its own LP over the intensity weights ``lambda_j`` of every
partner ``j``: ``n`` LPs of ``n`` columns each, far too many terms to build as PuLP
objects for thousands of partners. The frontier is spanned by few partners, so each
LP starts from a small shared column set, and columns priced out by the LP duals
(``reduced cost = c_j - a_j . duals``, computed for all partners as one matrix
product) are added until none prices out: the optimum of the full LP, proven by
the duals. Many partners' LPs go to the solver together as one block-diagonal LP.

Phases (the standard two-phase approach, plus a feasibility phase for super-efficiency):

``"feasible"``
    Only with super-efficiency: ``min sum(artificials)`` with an artificial on every
    input / output row. A positive optimum proves the partner's super-efficiency LP
    infeasible (known under VRS); the rows left short give the reason.
``"radial"``
    ``min theta`` (input orientation) or ``max phi`` (output orientation).
``"slacks"``
    With the radial score fixed, maximise the sum of slacks (in units of each
    column's mean, so that the sum is unit-free); ``lambda`` of this phase are the peers.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from .._arrays import ArrayProblem
from ..exceptions import SolverError
from ..solver import Solver

__all__ = ["Envelopment", "solve_envelopment"]

log = logging.getLogger("channelopt.partners")

#: a reduced cost below -_PRICE_TOL (data scaled to column means of 1) enters the LP
_PRICE_TOL = 1e-8
#: phase-"feasible" optimum above this proves infeasibility
_FEAS_TOL = 1e-7


@dataclass
class Envelopment:
    """Solutions of the envelopment LPs, arrays over partners (data in scaled units)."""

    score: np.ndarray                 # theta (input) or phi (output); NaN where infeasible
    feasible: np.ndarray              # bool
    short_inputs: list                # per partner: input positions left short (infeasible only)
    short_outputs: list
    lam_index: list                   # per partner: peer positions
    lam_value: list                   # per partner: their lambda
    slack_in: np.ndarray              # (n, m)
    slack_out: np.ndarray             # (n, s)
    ar_value: np.ndarray              # (n, k) weight-bound columns of the slack phase
    stats: dict = field(default_factory=dict)


class _Spec:
    """Data and settings shared by every block LP."""

    def __init__(self, X, Y, vrs, output, super_eff, P, Q):
        self.X, self.Y = X, Y
        self.XT, self.YT = np.ascontiguousarray(X.T), np.ascontiguousarray(Y.T)
        self.n, self.m = X.shape
        self.s = Y.shape[1]
        self.vrs, self.output, self.super_eff = vrs, output, super_eff
        self.P = P  # (kp, m) input weight-bound rows:  P v <= 0
        self.Q = Q  # (kq, s) output weight-bound rows: Q u <= 0
        self.n_rows = self.m + self.s + (1 if vrs else 0)
        # Slack phase: cost of a column = sum of its input coefficients - sum of its output ones.
        self.slack_cost = X.sum(axis=1) - Y.sum(axis=1)
        # Weight-bound columns: pi_k enters input rows with -P_k, tau_k output rows with +Q_k.
        ar_cols = []
        for k in range(P.shape[0]):
            ar_cols.append(np.concatenate([-P[k], np.zeros(self.s + self.vrs)]))
        for k in range(Q.shape[0]):
            ar_cols.append(np.concatenate([np.zeros(self.m), Q[k], np.zeros(int(self.vrs))]))
        self.ar_cols = np.array(ar_cols).reshape(len(ar_cols), self.n_rows)


def _seed(spec: _Spec) -> np.ndarray:
    """Partners that lie on the frontier for sure: best output/input ratios (and, under
    VRS, smallest inputs and largest outputs)."""
    X, Y = spec.X, spec.Y
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = Y[:, :, None] / np.where(X > 0, X, np.nan)[:, None, :]
    ratios = np.nan_to_num(ratios, nan=-1.0, posinf=np.finfo(float).max)
    picks = set(np.argmax(ratios.reshape(spec.n, -1), axis=0).tolist())
    picks.add(int(np.argmax(Y.sum(axis=1) / X.sum(axis=1))))
    if spec.vrs:
        picks.update(np.argmin(X, axis=0).tolist())
        picks.update(np.argmax(Y, axis=0).tolist())
    return np.array(sorted(picks), dtype=np.int64)


def _head_and_rhs(spec: _Spec, phase: str, dmus: np.ndarray, score: np.ndarray):
    """Per block: head-variable coefficients and right-hand sides of the input and output rows."""
    xo, yo = spec.X[dmus], spec.Y[dmus]
    zeros_in, zeros_out = np.zeros_like(xo), np.zeros_like(yo)
    if not spec.output:
        rhs_in = score[dmus][:, None] * xo if phase == "slacks" else zeros_in
        return (-xo if phase != "slacks" else zeros_in), zeros_out, rhs_in, yo
    rhs_out = score[dmus][:, None] * yo if phase == "slacks" else zeros_out
    return zeros_in, (-yo if phase != "slacks" else zeros_out), xo, rhs_out


def _solve_round(spec: _Spec, solver: Solver, phase: str, dmus: np.ndarray, cols: list, score: np.ndarray):
    """One block-diagonal LP over ``dmus`` with column sets ``cols``, assembled as arrays.

    Returns the solution by column blocks and the row duals as ``(blocks, rows)``.
    """
    nb, m, s = len(dmus), spec.m, spec.s
    n_ar = spec.ar_cols.shape[0]
    sizes = np.array([len(c) for c in cols], dtype=np.int64)
    R = np.concatenate(cols)
    owner = np.repeat(np.arange(nb), sizes)                   # block of each lambda column
    ap = ArrayProblem("dea", "min")
    lam = ap.add_vars("lambda", len(R), cost=spec.slack_cost[R] if phase == "slacks" else 0.0)
    head = None
    if phase != "slacks":
        head = ap.add_vars("score", nb, cost=(-1.0 if spec.output else 1.0) if phase == "radial" else 0.0)
    ar = None
    if n_ar:
        ar_cost = spec.ar_cols[:, :m].sum(axis=1) - spec.ar_cols[:, m:m + s].sum(axis=1)
        ar = ap.add_vars("bounds", (nb, n_ar), cost=np.tile(ar_cost, nb) if phase == "slacks" else 0.0)
    art = ap.add_vars("artificial", (nb, m + s), cost=1.0) if phase == "feasible" else None
    head_in, head_out, rhs_in, rhs_out = _head_and_rhs(spec, phase, dmus, score)
    for name, k, data, hcoef, rhs, sense, off, sign in (
            ("inputs", m, spec.X, head_in, rhs_in, "<=", 0, -1.0),
            ("outputs", s, spec.Y, head_out, rhs_out, ">=", m, 1.0)):
        rows, cols_, vals = [], [], []
        for i in range(k):
            rows.append(owner * k + i)
            cols_.append(lam.index)
            vals.append(data[R, i])
            if head is not None:
                rows.append(np.arange(nb) * k + i)
                cols_.append(head.index)
                vals.append(hcoef[:, i])
            if ar is not None:
                for q in np.flatnonzero(spec.ar_cols[:, off + i]).tolist():
                    rows.append(np.arange(nb) * k + i)
                    cols_.append(ar[:, q])
                    vals.append(np.full(nb, spec.ar_cols[q, off + i]))
            if art is not None:
                rows.append(np.arange(nb) * k + i)
                cols_.append(art[:, off + i])
                vals.append(np.full(nb, sign))
        ap.add_rows(name, np.concatenate(rows), np.concatenate(cols_), np.concatenate(vals), sense=sense,
                    rhs=rhs.ravel(), n_rows=nb * k)
    if spec.vrs:
        ap.add_rows("convexity", owner, lam.index, 1.0, sense="==", rhs=1.0, n_rows=nb)
    info = solver.solve(ap)
    if info.status != "optimal" or info.duals is None:
        raise SolverError(f"a DEA {phase} LP over {nb} partners came back {info.status} "
                          f"({info.termination}); it is feasible and bounded by construction, so this is a "
                          f"solver failure: rerun with Solver(msg=True) to inspect.")
    d = info.duals
    duals = np.concatenate([d[:nb * m].reshape(nb, m), d[nb * m:nb * (m + s)].reshape(nb, s),
                            d[nb * (m + s):].reshape(nb, -1)], axis=1)
    lam_val = lam.value
    out = {
        "lambda": np.split(lam_val, np.cumsum(sizes)[:-1]),
        "score": None if head is None else head.value,
        "bounds": np.zeros((nb, 0)) if ar is None else ar.value,
        "artificial": None if art is None else art.value,
    }
    return out, duals


def _price(spec: _Spec, phase: str, dmus: np.ndarray, cols: list, duals: np.ndarray, k_max: int) -> list:
    """Columns with a negative reduced cost for each block (at most ``k_max``, most negative first)."""
    m, s = spec.m, spec.s
    # One axpy per input / output row instead of a matmul: the inner dimension is tiny, and a
    # threaded BLAS spinning on a shared machine made the matmul the slowest step (measured).
    reduced = np.zeros((len(dmus), spec.n))
    if spec.vrs:
        reduced -= duals[:, -1:]
    for i in range(m):
        reduced -= duals[:, i:i + 1] * spec.XT[i]
    for r in range(s):
        reduced -= duals[:, m + r:m + r + 1] * spec.YT[r]
    if phase == "slacks":
        reduced += spec.slack_cost[None, :]
    rows = np.repeat(np.arange(len(dmus)), [len(c) for c in cols])
    reduced[rows, np.concatenate(cols)] = np.inf
    if spec.super_eff:
        reduced[np.arange(len(dmus)), dmus] = np.inf
    k = min(k_max, spec.n)
    part = np.argpartition(reduced, k - 1, axis=1)[:, :k] if k < spec.n else np.tile(np.arange(spec.n), (len(dmus), 1))
    vals = np.take_along_axis(reduced, part, axis=1)
    return [p[v < -_PRICE_TOL] for p, v in zip(part, vals)]


def _phase(spec, solver, phase, dmus, cols, score, stats, max_rounds=40):
    """Column generation for one phase over ``dmus``; returns the final blocks' values."""
    out = {}
    active = np.arange(len(dmus))
    k_max = 2 * (spec.m + spec.s + 1)
    rounds = 0
    full = np.arange(spec.n)
    while len(active):
        rounds += 1
        if rounds > max_rounds:
            # Safety net: never reached in the tests; the full column set is exact.
            for a in active.tolist():
                cols[a] = full[full != dmus[a]] if spec.super_eff else full
        sub = dmus[active]
        sub_cols = [cols[a] for a in active.tolist()]
        res, duals = _solve_round(spec, solver, phase, sub, sub_cols, score)
        stats["lps"] += 1
        stats["blocks"] += len(sub)
        entering = _price(spec, phase, sub, sub_cols, duals, k_max)
        still = []
        for pos, a in enumerate(active.tolist()):
            if len(entering[pos]) and rounds <= max_rounds:
                cols[a] = np.concatenate([cols[a], entering[pos]])
                still.append(a)
                continue
            out[a] = (
                res["lambda"][pos],
                None if res["score"] is None else float(res["score"][pos]),
                res["bounds"][pos],
                None if res["artificial"] is None else res["artificial"][pos],
            )
        active = np.array(still, dtype=np.int64)
    stats["rounds"] = max(stats["rounds"], rounds)
    return out


def solve_envelopment(X, Y, *, vrs: bool, output: bool, super_eff: bool, P=None, Q=None,
                      solver: Solver | None = None, batch: int | None = None) -> Envelopment:
    """Solve every partner's envelopment LPs (data already scaled; see the module notes)."""
    solver = solver or Solver()
    X = np.asarray(X, dtype=float)
    Y = np.asarray(Y, dtype=float)
    n, m = X.shape
    s = Y.shape[1]
    P = np.zeros((0, m)) if P is None else np.asarray(P, dtype=float)
    Q = np.zeros((0, s)) if Q is None else np.asarray(Q, dtype=float)
    spec = _Spec(X, Y, vrs, output, super_eff, P, Q)
    seed = _seed(spec)
    if batch is None:
        # Measured on 1,000 partners (3 inputs, 3 outputs, VRS): 100 per LP took 1.9 s, 400 took
        # 4.0 s (HiGHS slows more than linearly in the block count). Pricing holds a (batch x n)
        # matrix: keep it under 2 million entries.
        batch = int(max(25, min(100, 2_000_000 // max(n, 1))))
    stats = {"lps": 0, "blocks": 0, "rounds": 0}
    t0 = time.perf_counter()
    score = np.full(n, np.nan)
    feasible = np.ones(n, dtype=bool)
    short_in: list = [()] * n
    short_out: list = [()] * n
    lam_index: list = [np.zeros(0, dtype=np.int64)] * n
    lam_value: list = [np.zeros(0)] * n
    slack_in = np.zeros((n, m))
    slack_out = np.zeros((n, s))
    ar_value = np.zeros((n, P.shape[0] + Q.shape[0]))
    # Peers met so far: the frontier members most partners lean on seed the later batches,
    # which then mostly converge in one round.
    peer_count = np.zeros(n, dtype=np.int64)
    n_frequent = 2 * (m + s + 1)
    for start in range(0, n, batch):
        dmus = np.arange(start, min(n, start + batch))
        used = np.flatnonzero(peer_count)
        frequent = used[np.argsort(-peer_count[used], kind="stable")[:n_frequent]]
        base = np.union1d(seed, frequent)
        cols = []
        for o in dmus.tolist():
            c = base[base != o] if super_eff else np.union1d(base, [o])
            if len(c) == 0:
                c = np.array([(o + 1) % n])
            cols.append(c.astype(np.int64))
        keep = np.arange(len(dmus))
        if super_eff:
            res = _phase(spec, solver, "feasible", dmus, cols, score, stats)
            ok = []
            for a in range(len(dmus)):
                art = res[a][3]
                if art.sum() > _FEAS_TOL:
                    o = dmus[a]
                    feasible[o] = False
                    short_in[o] = tuple(np.flatnonzero(art[:m] > _FEAS_TOL).tolist())
                    short_out[o] = tuple(np.flatnonzero(art[m:] > _FEAS_TOL).tolist())
                else:
                    ok.append(a)
            keep = np.array(ok, dtype=np.int64)
        if not len(keep):
            continue
        sub = dmus[keep]
        sub_cols = [cols[a] for a in keep.tolist()]
        res = _phase(spec, solver, "radial", sub, sub_cols, score, stats)
        for a, o in enumerate(sub.tolist()):
            score[o] = res[a][1]
        res = _phase(spec, solver, "slacks", sub, sub_cols, score, stats)
        for a, o in enumerate(sub.tolist()):
            lam, _, ar, _ = res[a]
            R = sub_cols[a]
            act = np.concatenate([X[R], Y[R]], axis=1).T @ lam
            if len(ar):
                act += spec.ar_cols[:, :m + s].T @ ar
            xo, yo = X[o], Y[o]
            if output:
                rhs_in, rhs_out = xo, score[o] * yo
            else:
                rhs_in, rhs_out = score[o] * xo, yo
            slack_in[o] = np.maximum(rhs_in - act[:m], 0.0)
            slack_out[o] = np.maximum(act[m:] - rhs_out, 0.0)
            nz = lam > 1e-9
            lam_index[o] = R[nz]
            peer_count[R[nz]] += 1
            lam_value[o] = lam[nz]
            ar_value[o] = ar
    stats["seconds"] = time.perf_counter() - t0
    log.info("DEA: %d partners in %d LPs (%d blocks, at most %d rounds) in %.2fs", n, stats["lps"],
             stats["blocks"], stats["rounds"], stats["seconds"])
    return Envelopment(score, feasible, short_in, short_out, lam_index, lam_value, slack_in, slack_out,
                       ar_value, stats)
