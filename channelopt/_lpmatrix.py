"""Turn a PuLP problem into arrays a solver can load in one call.

PuLP's own HiGHS bridge adds one column and one row per Python call; reading the
problem into CSR arrays first is several times faster and lets every solver share
the same extraction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pulp

__all__ = ["LpArrays", "to_arrays"]


@dataclass
class LpArrays:
    variables: list
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
    row_names: list

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
