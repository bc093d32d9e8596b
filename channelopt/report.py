"""A self-contained HTML report of a plan: one page, no network fetches at view time.

The page holds the summary metrics, the solve info (status, gap, time), the map and
the charts that fit the plan's kind (embedded as base64 PNG), and the decision tables.
It uses no JavaScript and no external CSS, fonts, tiles or scripts, so it opens the
same offline, in a mail attachment, or archived next to the plan.

Functions
---------
render_html
    The page as a string.
to_html
    Write the page (``Plan.to_html`` calls it).

Reading a saved plan back is :meth:`Plan.load`; the report of a saved folder is
:func:`channelopt.report_index.report_dir`.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from .exceptions import SettingsError

__all__ = ["render_html", "to_html"]

# Headline numbers shown as cards, in this order, when the plan has them.
_CARDS = [
    ("numeric_distribution", "Numeric distribution", "pct"),
    ("weighted_distribution", "Weighted distribution", "pct"),
    ("region_coverage", "Region coverage", "pct"),
    ("mean_channel_breadth", "Mean channel breadth", "pct"),
    ("open_distributors", "Distributors signed", "int"),
    ("total_cost", "Total cost", "num"),
    ("territories", "Territories", "int"),
    ("outlets_outside_territory", "Outlets outside their territory", "int"),
    ("max_utilisation", "Max utilisation", "pct"),
    ("cut_edges", "Cut edges", "num"),
    ("spend", "Spend", "num"),
    ("response", "Response", "num"),
    ("roi", "ROI", "num"),
    ("marginal_roi", "Marginal ROI", "num"),
]

_CSS = """
body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;margin:0;color:#222;background:#f6f7f9}
main{max-width:1180px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px} h2{font-size:18px;margin:28px 0 10px;border-bottom:2px solid #2ca25f;
padding-bottom:4px} h3{font-size:15px;margin:18px 0 6px}
.sub{color:#666;font-size:13px}
.cards{display:flex;flex-wrap:wrap;gap:10px}
.card{background:#fff;border-radius:8px;padding:10px 14px;min-width:150px;box-shadow:0 1px 3px rgba(0,0,0,.12)}
.card .v{font-size:22px;font-weight:600;color:#1b7837} .card .k{font-size:12px;color:#555}
.status-optimal{color:#1b7837} .status-feasible{color:#b35806} .status-other{color:#b2182b}
table{border-collapse:collapse;font-size:12px;background:#fff}
th,td{border:1px solid #ddd;padding:3px 7px;text-align:right} th{background:#eef3ee}
td:first-child,th:first-child{text-align:left}
.scroll{max-height:420px;overflow:auto;border:1px solid #ddd;margin-bottom:6px}
figure{margin:0 0 14px;background:#fff;padding:8px;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.12)}
figure img{max-width:100%;height:auto;display:block} figcaption{font-size:12px;color:#555;margin-top:4px}
.note{font-size:12px;color:#666} .warnings li{color:#b2182b}
"""


def _fmt(value: Any, kind: str = "auto") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)) or hasattr(value, "item"):
        try:
            v = float(value)
        except (TypeError, ValueError):
            return html.escape(str(value))
        if not math.isfinite(v):
            return "n/a" if math.isnan(v) else ("∞" if v > 0 else "-∞")
        if kind == "pct":
            return f"{v:.1%}"
        if kind == "int" or (kind == "auto" and v == int(v) and abs(v) < 1e15):
            return f"{int(round(v)):,}"
        return f"{v:,.4g}" if abs(v) < 1e6 else f"{v:,.0f}"
    return html.escape(str(value))


def _png(fig, dpi: int = 100) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _figure(uri: str, caption: str, ident: str) -> str:
    return (f'<figure id="{ident}"><img alt="{html.escape(caption)}" src="{uri}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def _table(frame: pd.DataFrame, ident: str, max_rows: int) -> str:
    plain = pd.DataFrame(frame.drop(columns="geometry", errors="ignore"))
    if not isinstance(plain.index, pd.RangeIndex):
        plain = plain.reset_index()
    n = len(plain)
    shown = plain.head(max_rows)
    body = shown.to_html(index=False, border=0, na_rep="", escape=True,
                         float_format=lambda v: f"{v:,.6g}", table_id=ident)
    more = f'<p class="note">First {max_rows:,} of {n:,} rows; the full table is in the saved plan.</p>' \
        if n > max_rows else f'<p class="note">{n:,} rows.</p>'
    return f'<div class="scroll">{body}</div>{more}'


def _charts(plan, scenarios, dpi: int) -> list[str]:
    """Every chart that fits the plan; a chart that cannot be drawn is left out, not faked."""
    import matplotlib

    from .fonts import use_cjk_font

    use_cjk_font()

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from . import viz

    out: list[str] = []
    has_map = bool(plan.network is not None and plan.to_geodataframes())
    if has_map:
        fig, ax = plt.subplots(figsize=(9, 7.5))
        viz.plot_plan(plan, ax=ax)
        out.append(_figure(_png(fig, dpi), "Map: territories or coverage by region; open distributors are red "
                           "stars, closed candidates grey crosses, service links grey lines.", "map"))
    by_region = plan.metrics.by_region
    if by_region is not None and {"channel_breadth", "penetration"} <= set(by_region.columns) \
            and plan.kind != "territory_design":
        fig, ax = plt.subplots(figsize=(7, 5.2))
        viz.plot_breadth_depth(plan, ax=ax)
        out.append(_figure(_png(fig, dpi), "Breadth (channel types covered) vs depth (penetration) by region; "
                           "dot size is sales potential.", "breadth-depth"))
    if plan.metrics.by_territory is not None and len(plan.metrics.by_territory):
        fig, ax = plt.subplots(figsize=(8, 4.2))
        viz.plot_balance(plan, ax=ax)
        out.append(_figure(_png(fig, dpi), "Load per territory with its mean and the tolerance band.", "balance"))
    if "allocations" in plan.tables:
        try:
            fig, axes = plt.subplots(1, 2, figsize=(12, 4.6))
            viz.plot_response(plan, axes=axes)
            out.append(_figure(_png(fig, dpi), "Response curves with the chosen spend (dots), and the marginal "
                               "response of each active cell against the budget's marginal ROI.", "response"))
        except SettingsError:
            plt.close("all")  # curves absent (plan read back from disk): the tables still show the spend
    if "partner_evaluation" in plan.tables:
        from .partners.charts import report_figures

        out += [_figure(_png(fig, dpi), caption, ident) for fig, caption, ident in report_figures(plan)]
    if plan.kind == "price_plan":
        from .pricing.charts import price_report_figures as price_figures

        out += [_figure(_png(fig, dpi), caption, ident) for fig, caption, ident in price_figures(plan)]
    if scenarios is not None:
        fig, ax = plt.subplots(figsize=(7, 5))
        viz.plot_pareto(scenarios, ax=ax)
        out.append(_figure(_png(fig, dpi), "Scenarios: weighted distribution vs total cost; the red step line is "
                           "the Pareto front.", "pareto"))
    return out


def render_html(plan, *, title: str | None = None, scenarios: Sequence | Mapping | pd.DataFrame | None = None,
                charts: bool = True, max_rows: int = 500, dpi: int = 100) -> str:
    """The plan as one self-contained HTML page.

    Parameters
    ----------
    plan : Plan
    title : str, optional
        Page title; default from the plan's kind and model.
    scenarios : plans or compare() frame, optional
        Adds the Pareto chart of weighted distribution vs cost over these scenarios,
        and their comparison table.
    charts : bool
        Include the map and charts (PNG, base64). Off gives a small tables-only page.
    max_rows : int
        Rows shown per table (the page says how many were left out).
    dpi : int
        Resolution of the embedded images.

    Returns
    -------
    str

    Examples
    --------
    >>> import channelopt as co
    >>> net = co.ChannelNetwork.from_cost_matrix([[1, 4], [3, 1], [5, 2]], fixed_cost=[2, 3])
    >>> page = render_html(co.DistributorSelection(objective="min_cost").solve(net), charts=False)
    >>> '>optimal</td>' in page, "http" in page.split("<body>")[1]
    (True, False)
    """
    info = plan.info
    model = plan.settings.get("model", plan.kind)
    label = plan.kind.replace("_", " ")
    title = title or f"{model}: {label}" + ("" if label.endswith("plan") else " plan")
    status_class = {"optimal": "status-optimal", "feasible": "status-feasible"}.get(info.status, "status-other")
    overall = plan.metrics.overall
    cards = []
    for key, label, kind in _CARDS:
        if key in overall and not isinstance(overall[key], str):
            cards.append(f'<div class="card"><div class="v" data-key="{key}">{_fmt(overall[key], kind)}</div>'
                         f'<div class="k">{html.escape(label)}</div></div>')
    solve_rows = [
        ("status", html.escape(info.status)),
        ("termination", html.escape(str(info.termination))),
        ("solver", html.escape(str(info.solver))),
        ("objective", _fmt(info.objective, "num")),
        ("bound", _fmt(info.bound, "num")),
        ("gap", _fmt(info.gap, "pct")),
        ("solve_seconds", f"{info.seconds:.2f} s" if math.isfinite(info.seconds) else "n/a"),
        ("build_seconds", f"{info.build_seconds:.2f} s" if math.isfinite(info.build_seconds) else "n/a"),
        ("variables", f"{info.n_variables:,} ({info.n_integer:,} integer)"),
        ("constraints", f"{info.n_constraints:,}"),
    ]
    if info.message:
        solve_rows.append(("note", html.escape(info.message)))
    # data-key on the value cell lets a reader (or a test) find each number in the DOM.
    solve_html = ""
    for key, value in solve_rows:
        cls = f' class="{status_class}"' if key == "status" else ""
        solve_html += f'<tr><th>{key.replace("_", " ")}</th><td data-key="{key}"{cls}>{value}</td></tr>'
    if info.status == "infeasible" or (info.status == "feasible" and math.isfinite(info.gap) and info.gap > 0):
        solve_html += (f'<tr><td colspan="2" class="note">Not proven optimal: the best possible objective is '
                       f'{_fmt(info.bound, "num")}, {_fmt(info.gap, "pct")} from this plan.</td></tr>')
    metric_rows = "".join(
        f'<tr><th>{html.escape(str(k)).replace("_", " ")}</th><td data-metric="{html.escape(str(k))}">'
        f"{_fmt(v, 'pct' if any(w in str(k) for w in ('distribution', 'coverage', 'breadth', 'penetration', 'share')) and isinstance(v, float) and 0 <= v <= 1 else 'auto')}"  # noqa: E501
        f"</td></tr>" for k, v in overall.items())
    settings = {k: v for k, v in plan.settings.items() if not isinstance(v, pd.DataFrame)}
    settings_rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_short(v))}</td></tr>"
                            for k, v in settings.items() if v is not None)
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
             f"<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><style>{_CSS}</style></head>"
             f"<body><main>",
             f"<h1>{html.escape(title)}</h1>",
             f'<p class="sub">Status <b class="{status_class}">{html.escape(info.status)}</b>, objective '
             f"{_fmt(info.objective, 'num')}, gap {_fmt(info.gap, 'pct')}, solved in "
             f"{info.seconds:.2f} s by {html.escape(str(info.solver))}. Generated "
             f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC by channelopt.</p>",
             *_warnings_html(plan),
             '<h2 id="summary">Summary</h2>', f'<div class="cards">{"".join(cards)}</div>',
             '<h2 id="solve">Solve info</h2>', f'<table class="solve">{solve_html}</table>']
    if charts:
        figures = _charts(plan, scenarios, dpi)
        if figures:
            parts += ['<h2 id="maps">Maps and charts</h2>', *figures]
    if scenarios is not None:
        from .comparison import compare

        frame = scenarios if isinstance(scenarios, pd.DataFrame) else compare(scenarios)
        parts += ['<h2 id="scenarios">Scenarios</h2>', _table(frame, "scenarios-table", max_rows)]
    parts += ['<h2 id="metrics">All metrics</h2>', f'<table class="metrics">{metric_rows}</table>']
    for name, frame in plan.metrics.tables().items():
        if frame is not None and len(frame):
            parts += [f"<h3>Metrics {name.replace('_', ' ')}</h3>", _table(frame, f"metrics-{name}", max_rows)]
    parts += ['<h2 id="decisions">Decisions</h2>', "<h3>Assignments</h3>",
              _table(plan.assignments, "assignments", max_rows)]
    for name, frame in plan.tables.items():
        if frame is plan.assignments or frame is None:
            continue
        parts += [f"<h3>{html.escape(name.replace('_', ' ').capitalize())}</h3>",
                  _table(frame, f"table-{name}", max_rows)]
    for name, stage in plan.stages.items():
        parts += [f"<h3>Stage {html.escape(str(name))}</h3>",
                  _table(stage.summary().to_frame("value").T, f"stage-{name}", max_rows)]
    if settings_rows:
        parts += ['<h2 id="settings">Settings</h2>', f'<table class="settings">{settings_rows}</table>']
    parts.append("</main></body></html>")
    return "\n".join(parts)


def _warnings_html(plan) -> list[str]:
    """The plan's warnings, and every open distributor loaded above its capacity, each named."""
    items = [html.escape(w) for w in getattr(plan, "warnings", [])]
    dists = plan.tables.get("distributors")
    if dists is not None and {"open", "utilisation"} <= set(dists.columns):
        over = dists[dists["open"].astype(bool) & (pd.to_numeric(dists["utilisation"], errors="coerce") > 1 + 1e-9)]
        for d, u in zip(over["distributor_id"], over["utilisation"]):
            items.append(f'<span data-over-capacity="{html.escape(str(d))}">{html.escape(str(d))} is loaded to '
                         f"{float(u):.0%} of its capacity</span>")
    if not items:
        return []
    return ['<h2 id="warnings">Warnings</h2>', '<ul class="warnings">' + "".join(f"<li>{i}</li>" for i in items)
            + "</ul>"]


def _short(value: Any, limit: int = 300) -> str:
    text = json.dumps(value, default=repr) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[:limit] + " ..."


def to_html(plan, path: str | Path | None = None, **kwargs: Any) -> Path | str:
    """Write the plan's report to ``path`` (or return the page when ``path`` is None).

    Parameters
    ----------
    plan : Plan
    path : str or Path, optional
    **kwargs
        See :func:`render_html` (``title``, ``scenarios``, ``charts``, ``max_rows``, ``dpi``).

    Returns
    -------
    Path or str

    Examples
    --------
    >>> import channelopt as co, tempfile, pathlib
    >>> net = co.ChannelNetwork.from_cost_matrix([[1, 4], [3, 1], [5, 2]], fixed_cost=[2, 3])
    >>> plan = co.DistributorSelection(objective="min_cost").solve(net)
    >>> out = plan.to_html(pathlib.Path(tempfile.mkdtemp()) / "plan.html", charts=False)
    >>> 'data-key="objective">9<' in out.read_text()
    True
    """
    page = render_html(plan, **kwargs)
    if path is None:
        return page
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def __getattr__(name: str):
    # Deprecated homes, kept for one release: load_plan is Plan.load, report_dir is
    # channelopt.report_index.report_dir. They resolve at call time (importlib) so that this
    # module never imports plan, which imports it.
    import importlib
    import warnings

    moved = {"load_plan": ("channelopt.plan", "Plan.load"), "report_dir": ("channelopt.report_index", "report_dir")}
    if name in moved:
        module, attr = moved[name]
        warnings.warn(f"channelopt.report.{name} moved to {module}.{attr}; the old path goes in the next release.",
                      DeprecationWarning, stacklevel=2)
        obj = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
        return obj
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
