"""Array-native model assembly: variables and rows a block at a time, PuLP only on demand.

A model builds an :class:`ArrayProblem`: each call adds a whole block of columns
(``add_vars``) or rows (``add_rows``, from COO triplets or a scipy.sparse matrix),
so Python works once per block, never once per term (the linopy idea). The solve
path loads the finished arrays into HiGHS with one ``passModel``, or writes an MPS
file for CBC. No PuLP object exists unless someone asks for ``built.problem``;
then :meth:`ArrayProblem.to_pulp` materialises an ``LpProblem`` with the same
variables (``{block}_{i}``), rows (``{block}_{g}``, or the bare name of a single row)
and objective, which the user may extend before solving.

How a model author uses it
--------------------------
Implement ``_build_arrays(self, network, ap)`` instead of ``_build(network, prob)``
and return a state dict holding the blocks; ``_extract`` reads solution values with
``block.value`` (or ``info.values[block.slice]``), whichever path solved it::

    class Tiny(Model):
        kind = "tiny"

        def _build_arrays(self, net, ap):
            n, m = 3, 2
            cost = np.array([[1., 4.], [3., 1.], [5., 2.]])
            x = ap.add_vars("x", (n, m), upper=1.0, cost=cost)          # x_0 .. x_5, row-major
            y = ap.add_vars("y", m, integer=True, upper=1.0, cost=[2., 3.])
            i, j = np.divmod(np.arange(n * m), m)
            ap.add_rows("assign", rows=i, cols=x[i, j], sense="==", rhs=1.0)   # one row per outlet
            # x_ij - y_j <= 0, one row per pair: two triplets per row
            k = np.arange(n * m)
            ap.add_rows("link", rows=np.r_[k, k], cols=np.r_[x.index, y[j]],
                        coefs=np.r_[np.ones(n * m), -np.ones(n * m)], sense="<=", rhs=0.0)
            return {"x": x, "y": y}

        def _warm_start(self, net, state):            # optional: NaN = leave to the solver
            return {state["y"]: [1.0, np.nan]}

        def _extract(self, net, state, info):
            x = state["x"].value                       # shape (3, 2), numpy
            ...

``block[key]`` gives *global* column numbers (numpy indexing over the block's
shape), which is what ``cols=`` takes. ``rows=`` are numbers local to the row
block, ``0 .. n_rows-1``; duplicates (row, col) are summed. ``sense`` is ``"<="``,
``">="`` or ``"=="`` and ``rhs`` a scalar or one value per row.

Strategies that solve more than once (lazy cuts, re-solves, fixing stages) add rows
or change bounds on ``built.arrays`` (``add_row``, ``add_rows``, ``set_bounds``) and
call ``built.solve_once(solver, warm_start)``: it solves the arrays, or, once a user
has touched ``built.problem``, that PuLP problem with the new rows copied in, and
returns a ``SolveInfo`` whose ``values`` are indexed by this problem's columns. Take
time from the clock, not from ``solver.time_limit``: ``solver.remaining()`` (seconds
left of the whole solve) and ``solver.share(f)`` (a child clock for a heuristic or a
stage; see :mod:`channelopt.solver`).

Models that still implement ``_build(network, prob)`` keep working through PuLP.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pulp
import scipy.sparse as sp

from ._lpmatrix import LpArrays
from .exceptions import BuildError

__all__ = ["ArrayProblem", "VarBlock", "RowBlock"]

_SENSES = ("<=", ">=", "==")


@dataclass(frozen=True, eq=False)
class VarBlock:
    """A block of columns ``start .. start+size-1`` laid out in ``shape`` (row-major)."""

    name: str
    start: int
    shape: tuple[int, ...]
    problem: ArrayProblem = field(repr=False)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def stop(self) -> int:
        return self.start + self.size

    @property
    def slice(self) -> slice:
        """Where the block's values sit in a solution vector."""
        return slice(self.start, self.stop)

    @property
    def index(self) -> np.ndarray:
        """Global column numbers of the block, flat."""
        return np.arange(self.start, self.stop, dtype=np.int64)

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, key) -> np.ndarray:
        """Global column numbers for ``key`` indexed over the block's shape."""
        return self.index.reshape(self.shape)[key]

    def of(self, x: np.ndarray) -> np.ndarray:
        """This block's part of a full solution (or start) vector, in the block's shape."""
        return np.asarray(x)[self.slice].reshape(self.shape)

    @property
    def value(self) -> np.ndarray:
        """Solution values in the block's shape (NaN before a solve or without a plan)."""
        sol = self.problem.solution
        if sol is None:
            return np.full(self.shape, np.nan)
        return self.of(sol)


@dataclass(frozen=True)
class RowBlock:
    """A block of rows ``start .. start+n-1``; ``ids`` are their local numbers (names)."""

    name: str
    start: int
    n: int
    ids: np.ndarray | None = field(default=None, repr=False)
    single: bool = False

    @property
    def slice(self) -> slice:
        return slice(self.start, self.start + self.n)

    def names(self) -> list[str]:
        if self.single:
            return [self.name]
        ids = range(self.n) if self.ids is None else self.ids.tolist()
        return [f"{self.name}_{g}" for g in ids]


class ArrayProblem:
    """A MILP held as numpy/scipy.sparse blocks; see the module docstring for use.

    Parameters
    ----------
    name : str
    sense : {"min", "max"} or PuLP's ``LpMinimize`` / ``LpMaximize``

    Examples
    --------
    >>> ap = ArrayProblem("knap", "max")
    >>> x = ap.add_vars("x", 3, upper=1, integer=True, cost=[3, 4, 4])
    >>> _ = ap.add_row("weight", x.index, [3, 4, 5], "<=", 9)
    >>> ap.n_cols, ap.n_rows, ap.col_names(), ap.row_names()
    (3, 1, ['x_0', 'x_1', 'x_2'], ['weight'])
    >>> from channelopt import Solver
    >>> info = Solver().solve(ap)
    >>> info.objective, x.value.tolist()
    (8.0, [0.0, 1.0, 1.0])
    """

    def __init__(self, name: str = "model", sense: Any = "min"):
        self.name = str(name)
        if sense in ("max", pulp.LpMaximize):
            self.maximize = True
        elif sense in ("min", pulp.LpMinimize):
            self.maximize = False
        else:
            raise BuildError(f"sense must be 'min' or 'max', got {sense!r}.")
        self.offset = 0.0
        #: the model's promise that its optimum is ``offset`` plus a whole multiple of this (0: none), e.g. 1 for
        #: a count of cut borders. HiGHS's dual bound is then read rounded onto that grid (up for a minimum):
        #: the optimum is on the grid and not below the bound, so the rounded bound holds too, and proves a
        #: plan it meets. The promise is about the optimum only (a plan with slack in a continuous column may be
        #: off the grid).
        self.objective_step = 0.0
        self.solution: np.ndarray | None = None
        self.duals: np.ndarray | None = None
        self._vars: list[VarBlock] = []
        self._rows: list[RowBlock] = []
        self._lower: list[np.ndarray] = []
        self._upper: list[np.ndarray] = []
        self._integer: list[np.ndarray] = []
        self._cost: list[np.ndarray] = []
        self._extra_cost: list[tuple[np.ndarray, np.ndarray]] = []
        self._trip: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._row_lo: list[np.ndarray] = []
        self._row_hi: list[np.ndarray] = []
        self._bound_edits: list[tuple[np.ndarray, np.ndarray | None, np.ndarray | None]] = []
        self._names: set[str] = set()
        self._n_cols = 0
        self._n_rows = 0
        self._cache: LpArrays | None = None

    # -- sizes and names
    @property
    def n_cols(self) -> int:
        return self._n_cols

    @property
    def n_rows(self) -> int:
        return self._n_rows

    @property
    def blocks(self) -> dict[str, VarBlock]:
        return {b.name: b for b in self._vars}

    @property
    def row_blocks(self) -> dict[str, RowBlock]:
        return {b.name: b for b in self._rows}

    def col_names(self) -> list[str]:
        """PuLP names of the columns, in column order (built on request only)."""
        return [f"{b.name}_{i}" for b in self._vars for i in range(b.size)]

    def row_names(self) -> list[str]:
        return [name for b in self._rows for name in b.names()]

    def _claim(self, name: str) -> None:
        if not name or name in self._names:
            raise BuildError(f"block name {name!r} is empty or already used in {self.name!r}; "
                             "each variable and row block needs its own name.")
        self._names.add(name)
        self._cache = None

    # -- columns
    def add_vars(self, name: str, shape, *, lower=0.0, upper=np.inf, integer=False, cost=0.0) -> VarBlock:
        """Add a block of columns; every argument may be a scalar or one value per column.

        ``integer=True`` with ``upper=1`` makes binaries (kept as integers with explicit
        bounds: PuLP resets an ``LpBinary``'s bounds, which would unfix a fixed binary).
        """
        shape = (int(shape),) if np.ndim(shape) == 0 else tuple(int(s) for s in shape)
        self._claim(name)
        block = VarBlock(name, self._n_cols, shape, self)
        n = block.size
        lo = np.broadcast_to(np.asarray(lower, dtype=float).reshape(-1) if np.ndim(lower) else
                             np.asarray(lower, dtype=float), (n,)).copy()
        up = np.broadcast_to(np.asarray(upper, dtype=float).reshape(-1) if np.ndim(upper) else
                             np.asarray(upper, dtype=float), (n,)).copy()
        lo[np.isnan(lo)] = -np.inf
        up[np.isnan(up)] = np.inf
        if (lo > up).any():
            k = int(np.flatnonzero(lo > up)[0])
            raise BuildError(f"{name}_{k}: lower bound {lo[k]} above upper bound {up[k]}.")
        self._lower.append(lo)
        self._upper.append(up)
        self._integer.append(np.broadcast_to(np.asarray(integer, dtype=bool).reshape(-1) if np.ndim(integer)
                                             else np.asarray(integer, dtype=bool), (n,)).copy())
        c = np.asarray(cost, dtype=float)
        self._cost.append(np.broadcast_to(c.reshape(-1) if c.ndim else c, (n,)).copy())
        self._vars.append(block)
        self._n_cols += n
        return block

    def add_cost(self, cols, coefs) -> None:
        """Add ``coefs`` to the objective coefficients of ``cols`` (global numbers)."""
        cols = np.asarray(cols, dtype=np.int64).reshape(-1)
        self._extra_cost.append((cols, np.broadcast_to(np.asarray(coefs, dtype=float).reshape(-1)
                                                        if np.ndim(coefs) else float(coefs), cols.shape).copy()))
        self._cache = None

    def set_bounds(self, cols, lower=None, upper=None) -> None:
        """Change the bounds of ``cols`` (e.g. fix decisions between stages)."""
        cols = np.asarray(cols, dtype=np.int64).reshape(-1)
        lo = None if lower is None else np.broadcast_to(np.asarray(lower, dtype=float), cols.shape).copy()
        up = None if upper is None else np.broadcast_to(np.asarray(upper, dtype=float), cols.shape).copy()
        self._bound_edits.append((cols, lo, up))
        self._cache = None

    # -- rows
    def add_rows(self, name: str, rows, cols, coefs=1.0, *, sense: str, rhs=0.0, n_rows: int | None = None,
                 skip_empty: bool = False) -> RowBlock:
        """Add a block of rows from COO triplets.

        Parameters
        ----------
        rows : int array
            Local row number (``0 .. n_rows-1``) of each term.
        cols : int array
            Global column number of each term (from ``block[...]`` or ``block.index``).
        coefs : float or float array
            Coefficient of each term; duplicates (row, col) are summed.
        sense : {"<=", ">=", "=="}
        rhs : float or array of ``n_rows``
        n_rows : int, optional
            Default ``rows.max() + 1``.
        skip_empty : bool
            Drop rows without terms (their names keep the local number).
        """
        if sense not in _SENSES:
            raise BuildError(f"row block {name!r}: sense must be one of {_SENSES}, got {sense!r}.")
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        cols = np.asarray(cols, dtype=np.int64).reshape(-1)
        if rows.shape != cols.shape:
            raise BuildError(f"row block {name!r}: {len(rows)} row numbers but {len(cols)} column numbers.")
        vals = np.broadcast_to(np.asarray(coefs, dtype=float).reshape(-1) if np.ndim(coefs)
                               else float(coefs), rows.shape).astype(float)
        n = int(rows.max() + 1 if len(rows) else 0) if n_rows is None else int(n_rows)
        if len(rows) and (rows.min() < 0 or rows.max() >= n):
            raise BuildError(f"row block {name!r}: row numbers must lie in [0, {n}).")
        if len(cols) and (cols.min() < 0 or cols.max() >= self._n_cols):
            raise BuildError(f"row block {name!r}: column numbers must lie in [0, {self._n_cols}).")
        rhs = np.broadcast_to(np.asarray(rhs, dtype=float).reshape(-1) if np.ndim(rhs)
                              else float(rhs), (n,)).astype(float)
        ids = None
        if skip_empty:
            used = np.zeros(n, dtype=bool)
            used[rows] = True
            if not used.all():
                ids = np.flatnonzero(used)
                remap = np.cumsum(used) - 1
                rows, rhs, n = remap[rows], rhs[used], len(ids)
        return self._append_rows(name, rows, cols, vals, sense, rhs, n, ids, single=False)

    def add_matrix(self, name: str, matrix, *, cols=None, sense: str, rhs=0.0) -> RowBlock:
        """Add ``matrix @ x[cols] (sense) rhs``: one row per matrix row (scipy.sparse or dense).

        ``cols`` maps the matrix's columns to global column numbers (default: the
        first ``matrix.shape[1]`` columns of the problem).
        """
        coo = sp.coo_matrix(matrix)
        c = coo.col if cols is None else np.asarray(cols, dtype=np.int64).reshape(-1)[coo.col]
        return self.add_rows(name, coo.row, c, coo.data, sense=sense, rhs=rhs, n_rows=coo.shape[0])

    def add_row(self, name: str, cols, coefs, sense: str, rhs: float) -> RowBlock:
        """Add one row named exactly ``name``."""
        cols = np.asarray(cols, dtype=np.int64).reshape(-1)
        if sense not in _SENSES:
            raise BuildError(f"row {name!r}: sense must be one of {_SENSES}, got {sense!r}.")
        vals = np.broadcast_to(np.asarray(coefs, dtype=float).reshape(-1) if np.ndim(coefs)
                               else float(coefs), cols.shape).astype(float)
        if len(cols) and (cols.min() < 0 or cols.max() >= self._n_cols):
            raise BuildError(f"row {name!r}: column numbers must lie in [0, {self._n_cols}).")
        return self._append_rows(name, np.zeros(len(cols), dtype=np.int64), cols, vals, sense,
                                 np.array([float(rhs)]), 1, None, single=True)

    def _append_rows(self, name, rows, cols, vals, sense, rhs, n, ids, single) -> RowBlock:
        self._claim(name)
        block = RowBlock(name, self._n_rows, n, ids, single)
        self._trip.append((rows + self._n_rows, cols, vals))
        lo = np.full(n, -np.inf) if sense == "<=" else rhs.copy()
        hi = np.full(n, np.inf) if sense == ">=" else rhs.copy()
        self._row_lo.append(lo)
        self._row_hi.append(hi)
        self._rows.append(block)
        self._n_rows += n
        return block

    # -- finished forms
    def arrays(self) -> LpArrays:
        """The problem as CSR arrays (cached until the next change)."""
        if self._cache is not None:
            self._cache.objective_step = float(self.objective_step)  # a plain attribute: may change after
            return self._cache
        n, m = self._n_cols, self._n_rows

        def cat(parts, dtype=float):
            return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)

        cost = cat(self._cost)
        for cols, coefs in self._extra_cost:
            np.add.at(cost, cols, coefs)
        lower, upper = cat(self._lower), cat(self._upper)
        for cols, lo, up in self._bound_edits:
            if lo is not None:
                lower[cols] = lo
            if up is not None:
                upper[cols] = up
        if self._trip:
            r = np.concatenate([t[0] for t in self._trip])
            c = np.concatenate([t[1] for t in self._trip])
            v = np.concatenate([t[2] for t in self._trip])
        else:
            r = c = np.zeros(0, dtype=np.int64)
            v = np.zeros(0)
        indptr, indices, data = _csr(r, c, v, m, n)
        self._cache = LpArrays(
            variables=None,
            cost=cost,
            col_lower=lower,
            col_upper=upper,
            integer=cat(self._integer, bool),
            row_lower=cat(self._row_lo),
            row_upper=cat(self._row_hi),
            indptr=indptr,
            indices=indices,
            data=data,
            offset=float(self.offset),
            maximize=self.maximize,
            row_names=self.row_names,  # a callable: names are built only for an error message
            objective_step=float(self.objective_step),
        )
        return self._cache

    def start_vector(self, start) -> np.ndarray | None:
        """A full start vector (NaN = unset) from an array or ``{VarBlock: values}``."""
        if start is None:
            return None
        if isinstance(start, Mapping):
            out = np.full(self._n_cols, np.nan)
            for block, vals in start.items():
                if not isinstance(block, VarBlock) or block.problem is not self:
                    raise BuildError("a warm start maps this problem's VarBlocks to values; "
                                     f"got a key {block!r}.")
                out[block.slice] = np.broadcast_to(np.asarray(vals, dtype=float).reshape(-1)
                                                   if np.ndim(vals) else float(vals), (block.size,))
            return out
        out = np.asarray(start, dtype=float).reshape(-1)
        if len(out) != self._n_cols:
            raise BuildError(f"a warm start needs {self._n_cols} values (NaN where unset), got {len(out)}.")
        return out

    def to_pulp(self) -> tuple[pulp.LpProblem, list]:
        """An ``LpProblem`` with the same columns, rows and names; and its variables in column order."""
        a = self.arrays()
        prob = pulp.LpProblem(self.name, pulp.LpMaximize if self.maximize else pulp.LpMinimize)
        add = prob.add_variable
        lo = [None if not np.isfinite(v) else v for v in a.col_lower.tolist()]
        up = [None if not np.isfinite(v) else v for v in a.col_upper.tolist()]
        cats = np.where(a.integer, pulp.LpInteger, pulp.LpContinuous).tolist()
        lpvars = [add(nm, low, high, ct) for nm, low, high, ct in zip(self.col_names(), lo, up, cats)]
        # Register every column, also those in no row and no cost, so to_arrays sees them all.
        prob._add_variables(lpvars)
        nz = np.flatnonzero(a.cost)
        prob.setObjective(pulp.LpAffineExpression(zip([lpvars[j] for j in nz.tolist()], a.cost[nz].tolist()),
                                                  constant=float(a.offset)))
        self.pulp_sync(prob, lpvars, 0, 0)
        return prob, lpvars

    def pulp_sync(self, prob: pulp.LpProblem, lpvars: list, from_row: int, from_edit: int) -> None:
        """Copy rows ``from_row..`` and bound edits ``from_edit..`` into a materialised problem.

        Lets a strategy keep adding rows (e.g. lazy cuts) to the arrays after a user
        has materialised and extended the PuLP problem.
        """
        a = self.arrays()
        arr = np.empty(len(lpvars), dtype=object)
        arr[:] = lpvars
        ind, dat, ptr = a.indices, a.data, a.indptr
        rlo, rhi = a.row_lower.tolist(), a.row_upper.tolist()
        le, ge, eq = pulp.LpConstraintLE, pulp.LpConstraintGE, pulp.LpConstraintEQ
        names = [nm for b in self._rows if b.start + b.n > from_row for nm in b.names()[max(0, from_row - b.start):]]
        for r, name in zip(range(from_row, self._n_rows), names):
            s, e = int(ptr[r]), int(ptr[r + 1])
            expr = pulp.LpAffineExpression(zip(arr[ind[s:e]].tolist(), dat[s:e].tolist()))
            low, high = rlo[r], rhi[r]
            if low == high:
                con = pulp.LpConstraint(expr, eq, name, low)
            elif low == -np.inf:
                con = pulp.LpConstraint(expr, le, name, high)
            else:
                con = pulp.LpConstraint(expr, ge, name, low)
            prob.addConstraint(con)
        for cols, lo, up in self._bound_edits[from_edit:]:
            for k, j in enumerate(cols.tolist()):
                if lo is not None:
                    lpvars[j].lowBound = None if not np.isfinite(lo[k]) else float(lo[k])
                if up is not None:
                    lpvars[j].upBound = None if not np.isfinite(up[k]) else float(up[k])

    @property
    def n_bound_edits(self) -> int:
        return len(self._bound_edits)


def _csr(r: np.ndarray, c: np.ndarray, v: np.ndarray, m: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR ``(indptr int64, indices int32, data float)`` of COO triplets, duplicates summed, indices sorted.

    What ``scipy.sparse.csr_matrix((v, (r, c)))`` with ``sum_duplicates()`` and
    ``sort_indices()`` gives (explicit zeros kept), made in numpy when no (row, column)
    pair repeats: scipy's constructors took ~60 us of a 100 x 5 set cover's ~2 ms, the
    sort and counts here ~15 us (issue 13). Repeated pairs go through scipy, whose order
    of summing them is kept.
    """
    if len(r):
        order = np.lexsort((c, r))
        rs, cs = r[order], c[order]
        if not ((rs[1:] == rs[:-1]) & (cs[1:] == cs[:-1])).any():
            indptr = np.zeros(m + 1, dtype=np.int64)
            np.cumsum(np.bincount(rs, minlength=m), out=indptr[1:])
            return indptr, cs.astype(np.int32), v[order].astype(float)
    csr = sp.csr_matrix((v, (r, c)), shape=(m, n))
    csr.sum_duplicates()
    csr.sort_indices()
    return csr.indptr.astype(np.int64), csr.indices.astype(np.int32), csr.data.astype(float)
