"""Piecewise-linear approximation of response curves with a bounded error.

Breakpoints are placed where the curve bends (equidistributing ``sqrt|f''|``, the
asymptotically optimal placement for linear interpolation), then the error is
measured against the true curve on a fine grid and cells above the tolerance get
more segments until they meet it or reach ``max_segments``. Everything works on
blocks of cells at once: Python loops over groups of cells, never over grid points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..response import PointsCurve

__all__ = ["PwlTable", "approximate"]

# Fine grid on [0, 1], scaled to each cell's spend range: uniform for the bulk of the
# range, geometric for the steep start of concave Hill curves (n < 1 has an infinite
# slope at zero).
_GRID = np.unique(np.concatenate([np.linspace(0.0, 1.0, 641), np.geomspace(1e-12, 1.0, 640)]))
_CHUNK = 500  # cells per block: bounds the n x grid arrays (~5 MB each)


@dataclass
class PwlTable:
    """Segments of every cell, flattened: cell ``cell[j]`` has segment ``j`` of ``length[j]``.

    Attributes
    ----------
    cell, length, slope : arrays, one entry per segment, grouped by cell in order
    start : int array (n_cells + 1,), segments of cell ``i`` are ``start[i]:start[i+1]``
    base : float array, the response at spend 0 of each cell
    max_error : float array, the largest ``|curve - pwl|`` found per cell on the grid
    tolerance : float array, the absolute tolerance each cell was held to
    xs, ys : list of arrays, the breakpoints of each cell
    """

    cell: np.ndarray
    length: np.ndarray
    slope: np.ndarray
    start: np.ndarray
    base: np.ndarray
    max_error: np.ndarray
    tolerance: np.ndarray
    xs: list
    ys: list

    def evaluate(self, spend: np.ndarray) -> np.ndarray:
        """The piecewise-linear response of each cell at ``spend`` (one value per cell)."""
        return np.array([np.interp(s, x, y) for s, x, y in zip(np.asarray(spend, float).tolist(), self.xs, self.ys)])

    def concave(self) -> np.ndarray:
        """Per cell: are the slopes non-increasing (segments fill in order without binaries)."""
        out = np.ones(len(self.start) - 1, dtype=bool)
        d = np.diff(self.slope)
        same = self.cell[1:] == self.cell[:-1]
        scale = 1e-9 * (1.0 + np.abs(self.slope[:-1]))
        rising = same & (d > scale)
        out[np.unique(self.cell[1:][rising])] = False
        return out


def _row_error(x: np.ndarray, y: np.ndarray, mark: np.ndarray) -> np.ndarray:
    """Max |y - interp| per row, where ``mark`` flags each row's breakpoints on the grid.

    One ``np.interp`` per row: measured 25x faster than gathering left/right neighbours
    for the whole block with ``take_along_axis``, and it holds no n x grid index arrays.
    """
    out = np.empty(len(y))
    for r in range(len(y)):
        xr, yr, m = x[r], y[r], mark[r]
        out[r] = np.abs(yr - np.interp(xr, xr[m], yr[m])).max()
    return out


def _mix(cum: np.ndarray) -> np.ndarray:
    """Each row's cumulative bend as a share in [0, 1], a tenth of it spread evenly.

    The even tenth keeps segments from starving on straight stretches.
    """
    f = cum.shape[1]
    total = cum[:, -1:]
    return 0.9 * cum / np.where(total > 0, total, 1.0) + 0.1 * np.linspace(0.0, 1.0, f)[None, :]


def _place(mix: np.ndarray, n_seg: int) -> np.ndarray:
    """Grid positions splitting each row's ``mix`` (see :func:`_mix`) into ``n_seg`` equal parts."""
    n, f = mix.shape
    targets = np.linspace(0.0, 1.0, n_seg + 1)[1:-1]
    pos = np.empty((n, n_seg + 1), dtype=np.int64)
    pos[:, 0], pos[:, -1] = 0, f - 1
    for r in range(n):  # searchsorted is per row; n_seg values each
        pos[r, 1:-1] = np.searchsorted(mix[r], targets)
    return np.clip(pos, 0, f - 1)


def _fit_block(x: np.ndarray, y: np.ndarray, tol: np.ndarray, max_segments: int):
    n, f = y.shape
    d = np.diff(y, axis=1) / np.maximum(np.diff(x, axis=1), 1e-300)
    bend = np.zeros_like(y)
    bend[:, 1:-1] = np.sqrt(np.abs(np.diff(d, axis=1)) * (x[:, 2:] - x[:, :-2]) / 2.0)
    mix = _mix(np.cumsum(bend, axis=1))
    del d, bend
    marks = np.zeros((n, f), dtype=bool)
    err = np.full(n, np.inf)
    need = np.full(n, 4, dtype=np.int64)
    pending = np.arange(n)
    for _ in range(12):
        if not len(pending):
            break
        for n_seg in np.unique(need[pending]):
            rows = pending[need[pending] == n_seg]
            pos = _place(mix[rows], int(n_seg))
            m = np.zeros((len(rows), f), dtype=bool)
            np.put_along_axis(m, pos, True, axis=1)
            e = _row_error(x[rows], y[rows], m)
            better = e < err[rows]
            marks[rows[better]] = m[better]
            err[rows[better]] = e[better]
        over = err[pending] > tol[pending]
        capped = need[pending] >= max_segments
        pending = pending[over & ~capped]
        if not len(pending):
            break
        # Interpolation error falls as 1/N^2: aim just past the tolerance.
        ratio = np.sqrt(err[pending] / np.maximum(tol[pending], 1e-300))
        grow = np.maximum(np.ceil(need[pending] * ratio * 1.15), need[pending] + 2)
        need[pending] = np.minimum(grow, max_segments).astype(np.int64)
    return marks, err


def approximate(curves, hi: np.ndarray, tol: float | np.ndarray, *, max_segments: int = 200) -> PwlTable:
    """Piecewise-linear approximations of ``curves`` on ``[0, hi]`` within ``tol``.

    Parameters
    ----------
    curves : sequence of ResponseCurve
    hi : float array
        Largest spend of each cell (finite).
    tol : float or array
        Absolute tolerance on ``|curve - pwl|`` per cell.
    max_segments : int
        Cap on segments per cell; cells that hit it report their achieved error.
    """
    curves = list(curves)
    n = len(curves)
    hi = np.asarray(hi, dtype=float)
    tol = np.broadcast_to(np.asarray(tol, dtype=float), n).copy()
    xs: list = [None] * n
    ys: list = [None] * n
    max_err = np.zeros(n)
    base = np.zeros(n)
    generic = []
    for i, c in enumerate(curves):
        if hi[i] <= 0:
            y0 = float(c(0.0))
            xs[i], ys[i], base[i] = np.array([0.0]), np.array([y0]), y0
        elif isinstance(c, PointsCurve) and len(c.spend) <= max_segments + 1:
            # The user's own points are the exact curve: use them as breakpoints.
            px = np.asarray(c.spend)
            inside = px[px < hi[i]]
            x = np.concatenate([inside, [hi[i]]])
            xs[i], ys[i] = x, c(x)
            base[i] = ys[i][0]
        else:
            generic.append(i)
    generic = np.asarray(generic, dtype=np.int64)
    for lo in range(0, len(generic), _CHUNK):
        rows = generic[lo:lo + _CHUNK]
        x = hi[rows, None] * _GRID[None, :]
        y = np.empty_like(x)
        for r, i in enumerate(rows.tolist()):
            y[r] = curves[i](x[r])
        marks, err = _fit_block(x, y, tol[rows], max_segments)
        max_err[rows] = err
        for r, i in enumerate(rows.tolist()):
            xs[i], ys[i] = x[r][marks[r]], y[r][marks[r]]
            base[i] = y[r, 0]
    counts = np.array([max(len(xv) - 1, 0) for xv in xs], dtype=np.int64)
    start = np.concatenate([[0], np.cumsum(counts)])
    if counts.sum():
        length = np.concatenate([np.diff(xv) for xv in xs])
        rise = np.concatenate([np.diff(yv) for yv in ys])
    else:
        length = rise = np.zeros(0)
    slope = np.divide(rise, length, out=np.zeros_like(rise), where=length > 0)
    cell = np.repeat(np.arange(n), counts)
    return PwlTable(cell=cell, length=length, slope=slope, start=start, base=base, max_error=max_err,
                    tolerance=tol, xs=xs, ys=ys)
