"""Comparing stored results: one table of a result folder (the Pareto front is channelopt.comparison's)."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pandas as pd

from ..comparison import pareto_front
from ..exceptions import PathNotFoundError
from .store import _records_frame

__all__ = ['compare_results', 'pareto_front']

log = logging.getLogger("channelopt.scenarios")

# ----------------------------------------------------------------------------- comparison
def compare_results(out: str | os.PathLike, *, excel: str | os.PathLike | None = None) -> pd.DataFrame:
    """One table of every stored scenario in ``out``: status, gap, and every metric.

    With ``excel="comparison.xlsx"`` the table is also written as a formatted workbook
    (see :func:`channelopt.io.results_to_excel`).

    Columns as in :func:`run_scenarios` (breadth, depth, cost, ROI, balance and
    conflict metrics first where the plans have them), one row per scenario sorted
    by name; failed scenarios keep their row with ``error_type`` and ``error``.

    Raises
    ------
    PathNotFoundError
        ``out`` is not a folder (also a ``FileNotFoundError``).

    Examples
    --------
    >>> import tempfile, channelopt as co
    >>> from channelopt.scenarios import compare_results
    >>> d = tempfile.mkdtemp()
    >>> net = {"synthetic": {"n_regions": 8, "n_outlets": 60, "n_distributors": 4, "seed": 1}}
    >>> sc = [co.Scenario(name="ok", network=net, params={"objective": "p_median", "p": 2}),
    ...       co.Scenario(name="bad", network=net, params={"objective": "p_median", "p": 9})]
    >>> _ = co.run_scenarios(sc, out=d, executor="serial", progress=False)
    >>> table = compare_results(d)
    >>> table["name"].tolist(), table["status"].tolist(), table["error_type"].tolist()[0]
    (['bad', 'ok'], ['invalid', 'optimal'], 'SettingsError')
    """
    folder = Path(out)
    if not folder.is_dir():
        raise PathNotFoundError(f"no result folder {str(folder)!r} (looked from {Path.cwd()}).", path=folder)
    records = []
    for path in sorted(folder.glob("*/result.json")):
        try:
            records.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            log.warning("skipping unreadable %s: %s", path, exc)
    frame = _records_frame(records).drop(columns="resumed", errors="ignore")
    frame = frame.sort_values("name", kind="stable").reset_index(drop=True) if len(frame) else frame
    if excel is not None:
        from ..io import results_to_excel

        results_to_excel(frame, excel)
    return frame
