"""Reports for any result folder: a ``solve`` output, one ``batch`` scenario, or a whole batch.

``channelopt report DIR`` calls :func:`report_folder`. A whole batch gets one report per
solved scenario plus an ``index.html`` with the comparison table and links.
"""

from __future__ import annotations

import html
import json
import math
import os
from pathlib import Path

import pandas as pd

from .exceptions import PathNotFoundError, ValidationError

__all__ = ["report_folder", "report_dir", "load_scenario_result"]

_METRIC_TABLES = {"by_region": "region_id", "by_channel": "channel", "by_territory": "territory",
                  "by_distributor": "distributor_id"}


def load_scenario_result(folder: str | os.PathLike):
    """A :class:`~channelopt.Plan` from one scenario folder of a batch (``result.json`` + tables).

    The network is not stored with a batch result, so the plan has no map; its solve
    info, metrics and tables are complete.
    """
    from .metrics import Metrics
    from .plan import Plan
    from .solver import SolveInfo

    folder = Path(folder)
    record = json.loads((folder / "result.json").read_text(encoding="utf-8"))
    if record.get("status") not in ("optimal", "feasible"):
        raise ValidationError(f"{folder}: scenario {record.get('name')!r} has no plan (status "
                              f"{record.get('status')!r}: {record.get('error') or 'no error recorded'}).")
    nan = float("nan")
    info = SolveInfo(solver=str((record.get("scenario") or {}).get("solver") or "stored"),
                     status=record["status"], termination=str(record.get("termination") or record["status"]),
                     **{k: (nan if record.get(k) is None else float(record[k]))
                        for k in ("objective", "bound", "gap", "seconds", "build_seconds")})
    tables = {p.stem: pd.read_parquet(p) for p in sorted(folder.glob("*.parquet"))}
    metric_tables = {}
    for name, key in _METRIC_TABLES.items():
        if name in tables:
            t = tables.pop(name)
            metric_tables[name] = t.set_index(key) if key in t.columns else t
    assignments = tables.pop("assignments", pd.DataFrame())
    scenario = record.get("scenario") or {}
    kind = str(scenario.get("model") or "plan")
    return Plan(kind=kind, info=info, assignments=assignments,
                metrics=Metrics(overall=dict(record.get("metrics") or {}), **metric_tables),
                tables={k: v for k, v in tables.items() if "__" not in k}, settings=dict(scenario.get("params") or {}))


def _fmt(value) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    return html.escape(str(value))


def _index_page(folder: Path, table: pd.DataFrame, links: dict[str, str]) -> str:
    from .scenarios import KEY_METRICS

    cols = [c for c in ["name", "status", "objective", "gap", *KEY_METRICS, "error_type"] if c in table.columns]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    rows = []
    for rec in table[cols].to_dict("records"):
        cells = []
        for c in cols:
            text = _fmt(rec[c])
            if c == "name" and rec["name"] in links:
                text = f'<a href="{html.escape(links[rec["name"]])}">{text}</a>'
            cells.append(f"<td>{text}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>channelopt batch: {html.escape(folder.name)}</title>
<style>body{{font-family:"Noto Sans CJK SC","Source Han Sans SC","Microsoft YaHei",sans-serif;margin:2em}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}
td:first-child,th:first-child{{text-align:left}}th{{background:#ddebf7}}</style></head>
<body><h1>Batch {html.escape(folder.name)}: {len(table)} scenarios</h1>
<p>One row per scenario; the name links to its report. Status "optimal" is proven optimal, "feasible" is the best
plan found within the limits.</p>
<table><thead><tr>{head}</tr></thead><tbody>
{chr(10).join(rows)}
</tbody></table></body></html>
"""


def report_dir(directory: str | os.PathLike, path: str | os.PathLike | None = None, **kwargs) -> Path:
    """Write ``report.html`` for a plan saved in ``directory`` by :meth:`Plan.save`.

    ``path`` defaults to ``directory / "report.html"``; ``kwargs`` go to
    :func:`channelopt.report.render_html`.

    Examples
    --------
    >>> import channelopt as co, tempfile
    >>> net = co.ChannelNetwork.from_cost_matrix([[1, 4], [3, 1], [5, 2]], fixed_cost=[2, 3])
    >>> d = co.DistributorSelection(objective="min_cost").solve(net).save(tempfile.mkdtemp())
    >>> report_dir(d).name
    'report.html'
    """
    from .plan import Plan
    from .report import to_html

    out = Path(path) if path is not None else Path(directory) / "report.html"
    return to_html(Plan.load(directory), out, **kwargs)


def report_folder(directory: str | os.PathLike, out: str | os.PathLike | None = None) -> Path:
    """Write the HTML report of a result folder and return its path.

    Parameters
    ----------
    directory : path-like
        - a folder written by :meth:`Plan.save` or ``channelopt solve --out`` (``plan.json``):
          its ``report.html``;
        - one scenario folder of a batch (``result.json``): its ``report.html``;
        - a whole batch folder (``*/result.json``): a report per solved scenario and
          ``index.html`` with the comparison table and links.
    out : path-like, optional
        Where to write the page (default inside ``directory``).

    Raises
    ------
    PathNotFoundError
        ``directory`` does not exist (also a ``FileNotFoundError``).
    ValidationError
        It holds none of the above.

    Examples
    --------
    >>> import tempfile, channelopt as co
    >>> net = co.ChannelNetwork.from_cost_matrix([[1, 4], [3, 1], [5, 2]], fixed_cost=[2, 3])
    >>> d = co.DistributorSelection(objective="min_cost").solve(net).save(tempfile.mkdtemp())
    >>> report_folder(d).name
    'report.html'
    """
    from .report import to_html

    folder = Path(directory)
    if not folder.exists():
        raise PathNotFoundError(f"no folder {str(folder)!r} (looked from {Path.cwd()}).", path=folder)
    if not folder.is_dir():
        raise ValidationError(f"{folder} is a file; give the folder written by `channelopt solve --out` or "
                              f"`channelopt batch --out`.")
    if (folder / "plan.json").is_file():
        return report_dir(folder, out)
    if (folder / "result.json").is_file():
        plan = load_scenario_result(folder)
        name = json.loads((folder / "result.json").read_text(encoding="utf-8")).get("name")
        return to_html(plan, Path(out) if out else folder / "report.html", title=f"channelopt: {name}")
    results = sorted(folder.glob("*/result.json"))
    if not results:
        raise ValidationError(f"{folder} holds no plan.json, result.json or scenario folders: give a folder written "
                              f"by `channelopt solve --out DIR`, `channelopt batch --out DIR`, or one of its "
                              f"scenario folders.")
    from .scenarios import compare_results

    links = {}
    for path in results:
        record = json.loads(path.read_text(encoding="utf-8"))
        if record.get("status") in ("optimal", "feasible"):
            page = to_html(load_scenario_result(path.parent), path.parent / "report.html",
                           title=f"channelopt: {record.get('name')}")
            links[record.get("name")] = str(page.relative_to(folder))
    index = Path(out) if out else folder / "index.html"
    index.write_text(_index_page(folder, compare_results(folder), links), encoding="utf-8")
    return index
