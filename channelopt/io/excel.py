"""Excel out: a plan as a workbook to forward, a batch comparison, and the input template.

Workbooks are written with openpyxl: bold frozen headers, number formats (thousands
separators, percentages for shares), column widths fitted to the content (Chinese
characters count double), Chinese text as Unicode.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._schema import SEPARATOR, TABLE_ALIASES, TABLES

__all__ = ["frames_to_excel", "plan_to_excel", "results_to_excel", "write_template"]

# Columns shown as percentages: shares in [0, 1].
_SHARE_WORDS = ("distribution", "coverage", "share", "gap", "utilisation", "utilization", "penetration", "breadth",
                "deviation", "_rate", "cv")
_MAX_WIDTH = 60


def _width(value: Any) -> int:
    text = "" if value is None else str(value)
    # East Asian characters take two columns in Excel's default fonts.
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _is_share(column: str) -> bool:
    name = str(column).lower()
    return any(w in name for w in _SHARE_WORDS) and "cost" not in name and "per_" not in name


def _cell(value: Any) -> Any:
    """A value openpyxl can store: inf as the text 'inf', NaN as an empty cell, objects as text."""
    if value is None:
        return None
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if math.isnan(v):
            return None
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return v
    if isinstance(value, (int, str)):
        return value
    if isinstance(value, (pd.Timestamp,)):
        return value.to_pydatetime()
    if isinstance(value, (frozenset, set, list, tuple)):
        return SEPARATOR.join(sorted(map(str, value))) if isinstance(value, (set, frozenset)) else \
            SEPARATOR.join(map(str, value))
    return str(value)


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    frame = pd.DataFrame(frame.drop(columns="geometry", errors="ignore"))
    if not isinstance(frame.index, pd.RangeIndex) or frame.index.name is not None:
        frame = frame.reset_index()
    return frame


def _write_sheet(book, title: str, frame: pd.DataFrame, notes: Mapping[str, str] | None = None) -> None:
    from openpyxl.comments import Comment
    from openpyxl.styles import Alignment, Font, PatternFill

    ws = book.create_sheet(title=title)
    frame = _plain(frame)
    columns = [str(c) for c in frame.columns]
    ws.append(columns)
    for row in frame.itertuples(index=False, name=None):
        ws.append([_cell(v) for v in row])
    head_font, head_fill = Font(bold=True), PatternFill("solid", fgColor="DDEBF7")
    for j, col in enumerate(columns, start=1):
        cell = ws.cell(row=1, column=j)
        cell.font, cell.fill = head_font, head_fill
        cell.alignment = Alignment(vertical="center")
        if notes and col in notes:
            cell.comment = Comment(notes[col], "channelopt")
    for j, col in enumerate(columns, start=1):
        series = frame.iloc[:, j - 1]
        fmt = None
        if pd.api.types.is_bool_dtype(series):
            fmt = None
        elif pd.api.types.is_integer_dtype(series):
            fmt = "#,##0"
        elif pd.api.types.is_float_dtype(series):
            finite = series[np.isfinite(series.to_numpy(dtype=float, na_value=np.nan))]
            if _is_share(col) and len(finite) and finite.between(-1.0001, 1.0001).all():
                fmt = "0.0%"
            elif len(finite) and (finite == finite.round()).all() and finite.abs().max() >= 1000:
                fmt = "#,##0"
            else:
                fmt = "#,##0.00"
        if fmt:
            for (cell,) in ws.iter_rows(min_row=2, min_col=j, max_col=j):
                if isinstance(cell.value, (int, float)) and not isinstance(cell.value, bool):
                    cell.number_format = fmt
        sample = [col] + [_cell(v) for v in series.head(500).tolist()]
        width = max(_width(v if not isinstance(v, float) else f"{v:,.2f}") for v in sample)
        ws.column_dimensions[ws.cell(row=1, column=j).column_letter].width = min(_MAX_WIDTH, width + 2)
    ws.freeze_panes = "A2"


def _sheet_name(name: str, used: set[str]) -> str:
    bad = '[]:*?/\\'
    title = "".join("_" if ch in bad else ch for ch in str(name))[:31] or "sheet"
    base, i = title, 2
    while title.lower() in used:
        suffix = f"_{i}"
        title = base[: 31 - len(suffix)] + suffix
        i += 1
    used.add(title.lower())
    return title


def frames_to_excel(frames: Mapping[str, pd.DataFrame], path: str | os.PathLike,
                    notes: Mapping[str, Mapping[str, str]] | None = None) -> Path:
    """Write frames as sheets of one formatted workbook (frozen bold headers, formats, widths).

    Parameters
    ----------
    frames : mapping of sheet name to DataFrame
        In sheet order. Names are cut to Excel's 31 characters.
    path : path-like
        The ``.xlsx`` file to write (replaced if it exists).
    notes : mapping of sheet name to {column: note}, optional
        Header comments.

    Examples
    --------
    >>> import pandas as pd, tempfile, pathlib, openpyxl
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.xlsx"
    >>> _ = frames_to_excel({"区域": pd.DataFrame({"region_id": ["上海"], "weighted_distribution": [0.5]})}, p)
    >>> ws = openpyxl.load_workbook(p)["区域"]
    >>> ws["A2"].value, ws["B2"].number_format, ws.freeze_panes
    ('上海', '0.0%', 'A2')
    """
    from openpyxl import Workbook

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    book = Workbook()
    book.remove(book.active)
    used: set[str] = set()
    for name, frame in frames.items():
        _write_sheet(book, _sheet_name(name, used), frame, (notes or {}).get(name))
    book.save(path)
    return path


def _summary_frame(plan) -> pd.DataFrame:
    info = plan.info
    rows: list[tuple[str, Any, str]] = [
        ("kind", plan.kind, "which model made the plan"),
        ("status", info.status, "optimal = proven optimal; feasible = best plan found, not proven optimal"),
        ("objective", info.objective, "the model's objective value"),
        ("bound", info.bound, "best bound proven by the solver"),
        ("gap", info.gap, "relative gap between objective and bound"),
        ("solve_seconds", info.seconds, "solver time"),
        ("build_seconds", info.build_seconds, "model building time"),
    ]
    for key in ("termination", "solver"):
        if hasattr(info, key) and getattr(info, key) not in (None, ""):
            rows.append((key, getattr(info, key), "as reported by the solver"))
    for key, value in plan.metrics.overall.items():
        if isinstance(value, (int, float, np.integer, np.floating, str, bool, np.bool_)) and key not in (
                "status", "objective", "bound", "gap"):
            rows.append((key, value, "metric"))
    for key, value in (plan.settings or {}).items():
        if isinstance(value, (int, float, str, bool)) or value is None:
            rows.append((f"setting: {key}", value, "model setting"))
    frame = pd.DataFrame(rows, columns=["item", "value", "meaning"])
    frame["value"] = frame["value"].astype(object)
    return frame


def plan_to_excel(plan, path: str | os.PathLike) -> Path:
    """Write a plan as one workbook a manager can forward.

    Sheets: ``summary`` (status, objective, bound, gap, times, every overall breadth/depth
    metric and the model's settings), ``assignments``, then each decision table
    (``distributors``, ``territories``, ``allocations`` ...) and each metric table
    (``by_region``, ``by_channel`` ...).

    Examples
    --------
    >>> import channelopt as co, tempfile, pathlib, openpyxl
    >>> net = co.ChannelNetwork.from_cost_matrix([[1, 4], [3, 1], [5, 2]], fixed_cost=[2, 3])
    >>> plan = co.DistributorSelection(objective="min_cost").solve(net)
    >>> p = plan_to_excel(plan, pathlib.Path(tempfile.mkdtemp()) / "plan.xlsx")
    >>> book = openpyxl.load_workbook(p)
    >>> book.sheetnames[:2], book["summary"]["B3"].value
    (['summary', 'assignments'], 'optimal')
    """
    frames: dict[str, pd.DataFrame] = {"summary": _summary_frame(plan), "assignments": plan.assignments}
    for name, table in plan.tables.items():
        if isinstance(table, pd.DataFrame):
            frames[name] = table
    for name, table in plan.metrics.tables().items():
        if isinstance(table, pd.DataFrame) and name not in frames:
            frames[name] = table
    for stage, sub in getattr(plan, "stages", {}).items():
        for name, table in {"assignments": sub.assignments, **sub.tables}.items():
            if isinstance(table, pd.DataFrame):
                frames[f"{stage}_{name}"] = table
    return frames_to_excel(frames, path)


def results_to_excel(table: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a batch's comparison table (from :func:`channelopt.compare_results`) as a workbook.

    Parameters
    ----------
    table : DataFrame
        One row per scenario, e.g. ``compare_results("runs/")``.
    path : path-like
        The ``.xlsx`` to write: one sheet, ``comparison``.
    """
    return frames_to_excel({"comparison": table}, path)


# ----------------------------------------------------------------------------- template
_TEMPLATE_ROWS: dict[str, list[dict[str, Any]]] = {
    "outlets": [
        {"outlet_id": "O001", "name": "华联超市(徐汇店)", "lon": 121.437, "lat": 31.188, "channel": "modern_ka",
         "potential": 480000, "region_id": "上海", "workload": 2},
        {"outlet_id": "O002", "name": "老王面馆", "lon": 121.475, "lat": 31.232, "channel": "catering",
         "potential": 52000, "region_id": "上海", "workload": 1},
        {"outlet_id": "O003", "name": "好邻居便利店", "lon": 121.520, "lat": 31.240, "channel": "convenience",
         "potential": 36000, "region_id": "上海", "workload": 1},
        {"outlet_id": "O004", "name": "仁和药房", "lon": 120.155, "lat": 30.274, "channel": "pharmacy",
         "potential": 31000, "region_id": "杭州", "workload": 1},
        {"outlet_id": "O005", "name": "张记杂货店", "lon": 120.210, "lat": 30.250, "channel": "traditional",
         "potential": 40000, "region_id": "杭州", "workload": 1},
        {"outlet_id": "O006", "name": "城东小卖部", "lon": 120.585, "lat": 31.299, "channel": "traditional",
         "potential": 28000, "region_id": "苏州", "workload": 1},
    ],
    "distributors": [
        {"distributor_id": "D01", "name": "申通商贸", "lon": 121.400, "lat": 31.250, "fixed_cost": 60000,
         "capacity": 800000, "channels": "modern_ka;convenience;catering", "existing": True},
        {"distributor_id": "D02", "name": "杭城食品", "lon": 120.200, "lat": 30.300, "fixed_cost": 40000,
         "capacity": 300000, "channels": "traditional;pharmacy;catering;convenience", "existing": False},
        {"distributor_id": "D03", "name": "姑苏分销", "lon": 120.620, "lat": 31.320, "fixed_cost": 35000,
         "capacity": "inf", "channels": "", "existing": False},
    ],
    "regions": [
        {"region_id": "上海", "name": "上海市", "lon": 121.47, "lat": 31.23, "population": 24.9},
        {"region_id": "杭州", "name": "杭州市", "lon": 120.16, "lat": 30.27, "population": 12.4},
        {"region_id": "苏州", "name": "苏州市", "lon": 120.62, "lat": 31.30, "population": 12.9},
    ],
    "edges": [
        {"region_a": "上海", "region_b": "苏州"},
        {"region_a": "苏州", "region_b": "杭州"},
        {"region_a": "上海", "region_b": "杭州"},
    ],
}


def _readme_frame() -> pd.DataFrame:
    rows = [
        ("channelopt input workbook", "", "", ""),
        ("How to use", "Replace the example rows of each sheet with your data; keep the headers (English, or the "
         "Chinese alias in the header's note). Then: net = channelopt.read_network('this.xlsx').", "", ""),
        ("Required sheets", "outlets, distributors", "", ""),
        ("Optional sheets", "regions (without it, regions come from outlets.region_id, placed at the mean of "
         "their outlets), edges (region adjacency; without it, Delaunay neighbours), budget_cells", "", ""),
        ("Units", "lon/lat in degrees (WGS84 / GPS; 经度 e.g. 121.47, 纬度 e.g. 31.23); every distance in km; "
         "money in one currency throughout.", "", ""),
        ("Channel lists", f"distributors.channels: channel names separated by '{SEPARATOR}' "
         "(e.g. traditional;catering); empty = every channel.", "", ""),
        ("", "", "", ""),
        ("sheet", "column", "中文表头 (accepted)", "meaning"),
    ]
    for table, columns in TABLES.items():
        if table == "budget_cells":
            continue
        for col in columns:
            req = "" if col.required else " (optional)"
            rows.append((f"{table} / {'、'.join(TABLE_ALIASES[table][1:2])}", col.name + req,
                         "、".join(col.aliases[:3]), col.doc))
    return pd.DataFrame(rows, columns=["item", "value", "中文", "meaning"])


def write_template(path: str | os.PathLike) -> Path:
    """Write an input workbook to fill in: a README sheet and example rows in every sheet.

    Sheets ``README``, ``outlets``, ``distributors``, ``regions``, ``edges``. Headers are
    the English column names; each header's note gives its Chinese alias and meaning.
    The example (6 outlets, 3 distributors in 上海, 杭州, 苏州) reads back with
    :func:`read_network` as it is.

    Examples
    --------
    >>> import tempfile, pathlib, channelopt as co
    >>> p = write_template(pathlib.Path(tempfile.mkdtemp()) / "mydata.xlsx")
    >>> co.read_network(p)
    ChannelNetwork(3 regions, 6 outlets, 3 distributors, 5 channels, 3 edges)
    """
    frames: dict[str, pd.DataFrame] = {"README": _readme_frame()}
    notes: dict[str, dict[str, str]] = {}
    for table, rows in _TEMPLATE_ROWS.items():
        columns = [c.name for c in TABLES[table] if any(c.name in r for r in rows)]
        frames[table] = pd.DataFrame(rows, columns=columns)
        notes[table] = {c.name: f"{' / '.join(c.aliases[:2])}: {c.doc}{'' if c.required else ' (optional)'}"
                        for c in TABLES[table]}
    return frames_to_excel(frames, path, notes=notes)
