"""Subset-row cuts on the set-partitioning master of :mod:`.columns` (opt-in; for branch-and-price).

For a set ``T`` of regions, every partition holds at most ``floor(|T| / 2)`` territories with two or more of
``T``'s regions in them (Jepsen et al. 2008, with multiplier 1/2), so::

    sum_S floor(|S & T| / 2) lam_S <= floor(|T| / 2)          (dual sigma_T <= 0)

holds for every integral master and cuts fractional ones (``|T| = 3``: at most one territory holds two of ``a, b,
c``). The cut is not robust (its coefficient is not a sum over regions), so the pricing MIP gets, per cut, a
variable ``y_T >= floor(|S & T| / 2)`` with objective ``-sigma_T >= 0`` (:func:`add_to_pricing`; for ``|T| = 3``
the rows ``y_T >= s_a + s_b - 1`` over the three pairs and ``2 y_T >= s_a + s_b + s_c - 1``, ``y_T`` continuous,
else an integer ``y_T`` with ``2 y_T >= |S & T| - 1``). The pricing then minimises the reduced cost
``c(S) - pi(S) - sum_T sigma_T floor(|S & T| / 2)`` and its dual bound still gives a Lagrangian bound: every plan
costs ``sum_v pi_v + sum_T sigma_T rhs_T + sum_j rc(S_j)`` or more (:func:`lagrangian_constant`), since
``sigma_T <= 0`` and a plan's territories fill each cut's row to ``rhs_T`` at most.

Measured on Alabama (county01, k=7, optimum 55; benchmarks/RESULTS.md "Issue 12 (session 10): cuts on the
set-partitioning master (sr12)"; exact pricing by root, Lagrangian bounds from full exact rounds): the
set-partitioning LP is 52.63 (rounded up 53); with 10 of these rows (the most violated, each region in at most two
of a round's) the bound is 53.15, with 20 53.41, with 30 the re-priced master LP is **54.18, rounded up 55: the
optimum, proven at the root**. The price: a pricing MIP with the cut variables took 0.8 CPU s on average with no
cut, 1.6 with 10, 1.8 with 20 and 4.2 with 30 (a full exact round over AL's 29 roots 25 -> 100-150 CPU s).

:func:`master_lp` is the master LP with the cut rows (and artificial columns, so that it is always feasible);
:func:`separate` picks the most violated 3-region rows at a master solution.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

__all__ = ["coefficients", "rhs", "separate", "master_lp", "add_to_pricing", "price_cuts", "lagrangian_constant",
           "reduced_cost"]

Cut = tuple[int, ...]

#: a 3-region cut's ``y_T`` an integer variable in the pricing MIP. Continuous (the default) is exact too: priced at
#: ``-sigma_T >= 0`` it sits at ``max(0, pair rows)`` at an optimum, an integer whenever ``s`` is. Other sizes stay
#: integer (``2 y_T >= |S & T| - 1`` alone gives ``y_T = 1/2`` at two regions, not ``floor(2 / 2) = 1``).
#: Measured (AL, sr12's 30-cut duals, a full pass over 29 roots, benchmarks/RESULTS.md "pricing MIP speed
#: (pricefast12)"): 130.9 CPU s integer, 106.8 continuous, 82.3 continuous with :data:`TRIPLE_ROW`, 131.9 integer
#: with it
Y_INTEGER = False
#: with ``|T| = 3`` also ``2 y_T >= s_a + s_b + s_c - 1`` (not implied by the pair rows in the LP: ``s = 1/2`` each
#: gives 0 from them, 1/4 from this)
TRIPLE_ROW = True


def rhs(cuts) -> np.ndarray:
    """``floor(|T| / 2)`` per cut."""
    return np.array([len(t) // 2 for t in cuts], dtype=float)


def coefficients(cols: np.ndarray, cuts) -> np.ndarray:
    """``floor(|S & T| / 2)``: shape (cuts, columns) for ``cols`` (columns, regions) bool."""
    cols = np.asarray(cols, dtype=bool)
    if not len(cuts):
        return np.zeros((0, len(cols)))
    return np.array([cols[:, list(t)].sum(axis=1) // 2 for t in cuts], dtype=float).reshape(len(cuts), len(cols))


def reduced_cost(cost: float, members: np.ndarray, pi: np.ndarray, mu: float, cuts, sigma) -> float:
    """``c(S) - pi(S) - mu - sum_T sigma_T floor(|S & T| / 2)`` of one territory (bool over regions)."""
    t = coefficients(np.asarray(members, dtype=bool)[None, :], cuts)[:, 0] if len(cuts) else np.zeros(0)
    return float(cost - float(np.asarray(pi)[members].sum()) - mu - float(np.dot(sigma, t)))


def lagrangian_constant(sigma, cuts) -> float:
    """``sum_T sigma_T rhs_T``: add it to ``sum pi`` and the pricing's least reduced costs for a bound."""
    return float(np.dot(np.asarray(sigma, dtype=float), rhs(cuts))) if len(cuts) else 0.0


def separate(cols: np.ndarray, lam: np.ndarray, limit: int = 10, per_region: int = 2, have=(),
             tol: float = 1e-4) -> list[tuple[Cut, float]]:
    """The most violated 3-region rows at the master solution ``lam`` over ``cols`` (columns, regions), most
    violated first: at most ``limit``, each region in at most ``per_region`` of them (diverse cuts re-price better
    than many on one spot), none of ``have``. Returns ``[(T, row activity), ...]`` with activity ``> 1 + tol``.

    All triples of regions that lie in the columns with ``lam > 0`` are checked (``n = 67``: 48k triples).
    """
    cols = np.asarray(cols, dtype=bool)
    lam = np.asarray(lam, dtype=float)
    keep = lam > 1e-9
    m = cols[keep].astype(float)
    lv = lam[keep]
    if not len(lv):
        return []
    touched = np.flatnonzero(m.sum(axis=0) > 0)
    if len(touched) < 3:
        return []
    m = m[:, touched]
    pair = (m * lv[:, None]).T @ m
    tri = np.array(list(itertools.combinations(range(len(touched)), 3)), dtype=np.int64)
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    # activity: the weight of columns holding two of a, b, c = pairs - 2 * (all three)
    act = pair[a, b] + pair[a, c] + pair[b, c] - 2.0 * ((m[:, a] * m[:, b] * m[:, c]).T @ lv)
    have = {tuple(sorted(t)) for t in have}
    used: dict[int, int] = {}
    out: list[tuple[Cut, float]] = []
    for i in np.argsort(-act, kind="stable").tolist():
        if act[i] <= 1.0 + tol or len(out) >= limit:
            break
        t = tuple(int(touched[x]) for x in tri[i])
        if t in have or any(used.get(v, 0) >= per_region for v in t):
            continue
        for v in t:
            used[v] = used.get(v, 0) + 1
        out.append((t, float(act[i])))
    return out


def master_lp(cost: np.ndarray, cols: np.ndarray, k: int, cuts=(), big: float = 1e3):
    """The set-partitioning master LP with the cut rows, artificial columns at ``big`` a region.

    Returns ``(value, pi, mu, sigma, lam, artificial)``: duals of the partition rows, the count row (``= k``)
    and the cut rows (``<= 0``), the columns' values and the artificial columns' total; ``None`` when HiGHS fails.
    """
    import highspy

    from ...solver import _reset_scheduler_if_threads_changed, _stdout_silenced

    cols = np.asarray(cols, dtype=bool)
    q, n = cols.shape
    cm = coefficients(cols, cuts)
    _reset_scheduler_if_threads_changed(1)
    with _stdout_silenced(True):
        h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    inf = highspy.kHighsInf
    ncol = q + n + 2
    h.addVars(ncol, np.zeros(ncol), np.full(ncol, inf))
    h.changeColsCost(ncol, np.arange(ncol, dtype=np.int32), np.r_[np.asarray(cost, dtype=float), np.full(n + 2, big)])
    for v in range(n):
        idx = np.r_[np.flatnonzero(cols[:, v]), q + v].astype(np.int32)
        h.addRow(1.0, 1.0, len(idx), idx, np.ones(len(idx)))
    idx = np.r_[np.arange(q), q + n, q + n + 1].astype(np.int32)
    h.addRow(float(k), float(k), len(idx), idx, np.r_[np.ones(q), 1.0, -1.0])
    for t, row in zip(cuts, cm):
        idx = np.flatnonzero(row).astype(np.int32)
        h.addRow(-inf, float(len(t) // 2), len(idx), idx, row[idx])
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    sol = h.getSolution()
    x = np.asarray(sol.col_value)
    y = np.asarray(sol.row_dual)  # HiGHS: reduced cost = c - A^T y; "<=" rows of a minimisation have y <= 0
    return (float(h.getInfo().objective_function_value), y[:n], float(y[n]), y[n + 1:], x[:q],
            float(x[q:].sum()))


def add_to_pricing(h, cut: Cut, inf: float = math.inf) -> int:
    """Add cut ``T``'s ``y_T`` to a pricing MIP whose first columns are the regions' ``s`` (e.g.
    :class:`.columns._Pricing`'s ``h``); returns ``y_T``'s column (cost 0 until :func:`price_cuts`)."""
    import highspy

    j = h.getNumCol()
    h.addVar(0.0, float(len(cut) // 2))
    if Y_INTEGER or len(cut) != 3:
        h.changeColIntegrality(j, highspy.HighsVarType.kInteger)
    if len(cut) == 3:
        # y >= s_a + s_b - 1 over the pairs: tighter in the LP than 2 y >= s_a + s_b + s_c - 1 alone, which
        # still cuts s = 1/2 each
        for a, b in itertools.combinations(cut, 2):
            h.addRow(-inf, 1.0, 3, np.array([a, b, j], dtype=np.int32), np.array([1.0, 1.0, -1.0]))
        if TRIPLE_ROW:
            h.addRow(-inf, 1.0, 4, np.array([*cut, j], dtype=np.int32), np.array([1.0, 1.0, 1.0, -2.0]))
    else:
        idx = np.r_[list(cut), j].astype(np.int32)
        h.addRow(-inf, 1.0, len(idx), idx, np.r_[np.ones(len(cut)), -2.0])
    return j


def price_cuts(h, ycols, sigma) -> None:
    """Set the cut variables' costs to ``-sigma`` (call before each pricing solve)."""
    if len(ycols):
        h.changeColsCost(len(ycols), np.asarray(ycols, dtype=np.int32), -np.asarray(sigma, dtype=float))
