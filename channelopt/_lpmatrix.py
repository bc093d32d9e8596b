"""Turn a PuLP problem into arrays a solver can load in one call.

PuLP's own HiGHS bridge adds one column and one row per Python call; reading the
problem into CSR arrays first is several times faster and lets every solver share
the same extraction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pulp

__all__ = ["LpArrays", "to_arrays", "write_mps"]


@dataclass
class LpArrays:
    variables: list | None
    cost: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    integer: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    offset: float
    maximize: bool
    row_names: Any  # list, or a callable returning one (array problems), or None
    #: the model's promise that its optimum is ``offset`` plus a whole multiple of this (0: no promise); the
    #: solver then reads a dual bound rounded onto that grid (``ArrayProblem.objective_step``)
    objective_step: float = 0.0

    @property
    def is_mip(self) -> bool:
        return bool(self.integer.any())


def to_arrays(problem: pulp.LpProblem) -> LpArrays:
    variables = problem.variables()
    index = {id(v): i for i, v in enumerate(variables)}
    n = len(variables)
    lower = np.array([-np.inf if v.lowBound is None else v.lowBound for v in variables], dtype=float)
    upper = np.array([np.inf if v.upBound is None else v.upBound for v in variables], dtype=float)
    integer = np.array([v.cat == pulp.LpInteger for v in variables], dtype=bool)

    cost = np.zeros(n)
    objective = problem.objective
    offset = 0.0
    if objective is not None:
        offset = float(objective.constant)
        for v, a in objective.items():
            cost[index[id(v)]] += a

    m = len(getattr(problem, "_constraints", None) or problem.constraints)
    row_lower = np.empty(m)
    row_upper = np.empty(m)
    indptr = np.zeros(m + 1, dtype=np.int64)
    indices: list[int] = []
    data: list[float] = []
    # PuLP 3.3 warns on the public dict view; the private mapping is the same object.
    constraints = getattr(problem, "_constraints", None)
    if constraints is None:
        constraints = problem.constraints
    for r, con in enumerate(constraints.values()):
        for v, a in con.items():
            indices.append(index[id(v)])
            data.append(a)
        indptr[r + 1] = len(indices)
        rhs = -float(con.constant)
        if con.sense == pulp.LpConstraintLE:
            row_lower[r], row_upper[r] = -np.inf, rhs
        elif con.sense == pulp.LpConstraintGE:
            row_lower[r], row_upper[r] = rhs, np.inf
        else:
            row_lower[r] = row_upper[r] = rhs
    return LpArrays(
        variables=variables,
        cost=cost,
        col_lower=lower,
        col_upper=upper,
        integer=integer,
        row_lower=row_lower,
        row_upper=row_upper,
        indptr=indptr,
        indices=np.asarray(indices, dtype=np.int32),
        data=np.asarray(data, dtype=float),
        offset=offset,
        maximize=problem.sense == pulp.LpMaximize,
        row_names=list(constraints.keys()),
    )


def _num(values) -> list[str]:
    return [repr(v) for v in np.asarray(values, dtype=float).tolist()]


def write_mps(a: LpArrays, path: str) -> None:
    """Write ``a`` as a free-format MPS file with columns ``C{j}`` and rows ``R{i}``.

    Generic names keep any user-given name (spaces, Chinese, length) out of CBC's
    reader; the solution file is read back by those numbers. The objective offset is
    left out (CBC would read it with a sign convention of its own); callers add it.
    Rows with no finite bound are vacuous and left out.
    """
    import scipy.sparse as sp

    m, n = len(a.row_lower), len(a.cost)
    lo, hi = a.row_lower, a.row_upper
    keep = np.isfinite(lo) | np.isfinite(hi)
    kind = np.where(lo == hi, "E", np.where(np.isfinite(lo), "G", "L"))
    ranged = np.isfinite(lo) & np.isfinite(hi) & (lo != hi)
    rows_out = np.flatnonzero(keep)
    lines = ["NAME MODEL", "ROWS", " N OBJ"]
    lines += [f" {kind[i]} R{i}" for i in rows_out.tolist()]
    lines.append("COLUMNS")
    csc = sp.csr_matrix((a.data, a.indices, a.indptr), shape=(m, n)).tocsc()
    csc.sort_indices()
    keep_nz = keep[csc.indices]
    in_int = False
    ptr, idx, dat = csc.indptr.tolist(), csc.indices.tolist(), _num(csc.data)
    cost = _num(a.cost)
    integer = a.integer.tolist()
    marker = 0
    for j in range(n):
        if integer[j] != in_int:
            lines.append(f" M{marker} 'MARKER' " + ("'INTORG'" if integer[j] else "'INTEND'"))
            marker += 1
            in_int = integer[j]
        lines.append(f" C{j} OBJ {cost[j]}")
        lines.extend(f" C{j} R{idx[k]} {dat[k]}" for k in range(ptr[j], ptr[j + 1]) if keep_nz[k])
    if in_int:
        lines.append(f" M{marker} 'MARKER' 'INTEND'")
    lines.append("RHS")
    rhs = np.where(kind == "L", hi, lo)
    nzr = rows_out[rhs[rows_out] != 0]
    lines += [f" RHS R{i} {v}" for i, v in zip(nzr.tolist(), _num(rhs[nzr]))]
    rng = np.flatnonzero(ranged)
    if len(rng):
        lines.append("RANGES")
        lines += [f" RNG R{i} {v}" for i, v in zip(rng.tolist(), _num(hi[rng] - lo[rng]))]
    lines.append("BOUNDS")
    clo, chi = a.col_lower, a.col_upper
    for j, (low, high) in enumerate(zip(clo.tolist(), chi.tolist())):
        # Every bound is written explicitly: MPS readers differ on integer defaults.
        if low == high:
            lines.append(f" FX BND C{j} {low!r}")
            continue
        if low == -np.inf:
            lines.append(f" MI BND C{j}")
        elif low != 0.0:
            lines.append(f" LO BND C{j} {low!r}")
        if high == np.inf:
            lines.append(f" PL BND C{j}")
        else:
            lines.append(f" UP BND C{j} {high!r}")
    lines.append("ENDATA")
    with open(path, "w") as fh:
        fh.write("\n".join(lines))
        fh.write("\n")
