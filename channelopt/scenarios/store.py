"""The result store: one folder per scenario, atomic writes, resume, and the audit log."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from ..exceptions import PathNotFoundError

__all__ = ['RESULT_COLUMNS', 'KEY_METRICS', 'slug', 'store_result', 'load_result']

log = logging.getLogger("channelopt.scenarios")

#: columns every result row has, in this order, before the metrics
RESULT_COLUMNS = ["name", "status", "objective", "bound", "gap", "seconds", "build_seconds", "wall_seconds",
                  "error_type", "error"]
#: metrics shown first in comparisons (breadth, depth, cost, ROI, balance, conflict)
KEY_METRICS = ["numeric_distribution", "weighted_distribution", "region_coverage", "mean_channel_breadth",
               "mean_penetration_covered_regions", "total_cost", "fixed_cost", "service_cost", "spend",
               "response", "roi", "marginal_roi", "balance_max_deviation", "load_cv", "cut_edges",
               "multi_served_outlets", "split_regions"]


# ----------------------------------------------------------------------------- store
def slug(name: str) -> str:
    """Folder name of a scenario: the name where it is safe, else a safe form plus a hash.

    Examples
    --------
    >>> slug("p3"), slug("pm[p=2]")
    ('p3', 'pm_p_2_-ea9c84fc')
    """
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", str(name)).strip(".") or "scenario"
    if safe == name and len(safe) <= 120:
        return safe
    return f"{safe[:100]}-{hashlib.sha1(str(name).encode()).hexdigest()[:8]}"


def _atomic_write(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        with _suppress():
            os.unlink(tmp)
        raise


class _suppress:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return exc[0] is not None and issubclass(exc[0], OSError)


def _write_parquet(frame: pd.DataFrame, tmp: str) -> None:
    try:
        frame.to_parquet(tmp, index=False)
    except Exception:  # lists, sets and curve objects in object columns: store their text
        plain = frame.copy()
        for c in plain.columns:
            if plain[c].dtype == object:
                plain[c] = plain[c].map(lambda v: v if v is None or isinstance(v, (int, float, bool)) else str(v))
        plain.to_parquet(tmp, index=False)


def store_result(out: str | os.PathLike, record: Mapping, tables: Mapping[str, pd.DataFrame]) -> Path:
    """Write one result: its tables, then ``result.json`` (the "done" marker), then a log line."""
    folder = Path(out) / slug(record["name"])
    folder.mkdir(parents=True, exist_ok=True)
    # A batch killed mid-write leaves its temporary file behind; this result replaces that attempt.
    for stale in folder.glob(".*.tmp"):
        with _suppress():
            stale.unlink()
    for name, frame in tables.items():
        _atomic_write(folder / f"{slug(name)}.parquet", lambda tmp, f=frame: _write_parquet(f, tmp))
    text = json.dumps({**record, "tables": sorted(tables)}, indent=1, ensure_ascii=False, allow_nan=True)
    _atomic_write(folder / "result.json", lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    line = json.dumps({"name": record["name"], "status": record["status"], "run_id": record.get("run_id"),
                       "pid": record.get("pid"), "host": record.get("host"), "stored_at": time.time()})
    # One short append per result: O_APPEND writes of a line are not interleaved.
    with open(Path(out) / "solves.log", "a", encoding="utf-8") as fh:
        fh.write(line + "\n")
    return folder


def load_result(out: str | os.PathLike, name: str) -> dict:
    """The stored ``result.json`` of scenario ``name`` (reproduce it with ``Scenario.from_dict(r["scenario"])``)."""
    path = Path(out) / slug(name) / "result.json"
    if not path.is_file():
        raise PathNotFoundError(f"no stored result for scenario {name!r} in {str(out)!r}: no {str(path)!r}.", path=path)
    return json.loads(path.read_text(encoding="utf-8"))


def _stored(out: Path, name: str) -> dict | None:
    path = out / slug(name) / "result.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # unreadable marker: treat as not done, solve again
        return None


def _records_frame(records: Sequence[Mapping]) -> pd.DataFrame:
    rows = []
    for r in records:
        row = {c: r.get(c) for c in RESULT_COLUMNS}
        for k, v in (r.get("metrics") or {}).items():
            if k not in row:
                row[k] = v
        for k, v in (r.get("scenario", {}).get("tags") or {}).items():
            row[f"tag.{k}"] = v
        row["model"] = r.get("scenario", {}).get("model")
        row["resumed"] = bool(r.get("_resumed", False))
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=RESULT_COLUMNS)
    metric_cols = [c for c in frame.columns if c not in RESULT_COLUMNS and c not in ("model", "resumed")
                   and not c.startswith("tag.")]
    ordered = [c for c in KEY_METRICS if c in metric_cols] + sorted(c for c in metric_cols if c not in KEY_METRICS)
    tags = sorted(c for c in frame.columns if c.startswith("tag."))
    frame = frame[RESULT_COLUMNS + ["model"] + tags + ordered + ["resumed"]]
    for c in ["objective", "bound", "gap", "seconds", "build_seconds", "wall_seconds"]:
        frame[c] = pd.to_numeric(frame[c], errors="coerce")
    for c in ordered:
        conv = pd.to_numeric(frame[c], errors="coerce")
        if conv.notna().sum() == frame[c].notna().sum():
            frame[c] = conv
    return frame.reset_index(drop=True)
