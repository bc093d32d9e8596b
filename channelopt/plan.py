"""Plan: the one result shape every model returns; written with save() and read back with load()."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ._json import jsonable
from .metrics import Metrics, _Deferred
from .solver import SolveInfo

__all__ = ["Plan"]


_jsonable = jsonable  # the one JSON helper lives in channelopt._json
# Metric tables and the id each is indexed by (as saved and read back).
_METRIC_KEYS = {"by_region": "region_id", "by_channel": "channel", "by_territory": "territory",
                "by_distributor": "distributor_id"}


def _frame_records(frame: pd.DataFrame) -> list[dict]:
    plain = pd.DataFrame(frame.drop(columns="geometry", errors="ignore"))
    if plain.index.name is not None or not isinstance(plain.index, pd.RangeIndex):
        plain = plain.reset_index()
    return _jsonable(plain.to_dict("records"))


@dataclass
class Plan(_Deferred):
    """Decisions, solve info and metrics of one solved model.

    Attributes
    ----------
    kind : str
        ``"distributor_selection"``, ``"territory_design"``, ``"budget_allocation"`` or
        ``"channel_plan"``.
    info : SolveInfo
        Status, objective, bound, gap and seconds, as the solver reported them.
    assignments : DataFrame
        The main decision table, keyed by ids (one row per outlet, region or cell).
    tables : dict of DataFrame
        Further decision tables (e.g. ``"distributors"``: one row per candidate with ``open``).
    metrics : Metrics
        Breadth, depth, balance, conflict and cost: ``overall`` and per region / channel / territory.
    settings : dict
        The model's settings (``get_params()``) and the solver's.
    network : ChannelNetwork or None
        The network the plan was solved on (for plotting and export).
    stages : dict of Plan
        The plans of the stages an integrated plan is made of (empty otherwise).
    warnings : list of str
        What the user should know about the plan that its status does not say (e.g.
        capacities turned off and distributors loaded above them).
    """

    kind: str
    info: SolveInfo
    assignments: pd.DataFrame
    metrics: Metrics
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    network: Any = None
    stages: dict[str, Plan] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    # -- solve info shortcuts
    @property
    def status(self) -> str:
        return self.info.status

    @property
    def objective(self) -> float:
        return self.info.objective

    @property
    def bound(self) -> float:
        return self.info.bound

    @property
    def gap(self) -> float:
        return self.info.gap

    @property
    def solve_seconds(self) -> float:
        return self.info.seconds

    @property
    def build_seconds(self) -> float:
        return self.info.build_seconds

    @property
    def proven_optimal(self) -> bool:
        return self.info.proven_optimal

    # -- decision tables, by name (plan.tables holds them all)
    def _tables(self) -> dict[str, pd.DataFrame]:
        # plan assembly may leave the tables (and assignments) to be made on first read (_Deferred)
        return self.__dict__["tables"] if "tables" in self.__dict__ else self._deferred("tables")[1] or {}

    def _table(self, name: str) -> pd.DataFrame:
        tables = self._tables()
        if name in tables:
            return tables[name]
        raise AttributeError(f"a {self.kind} plan has no {name!r} table; its tables are {sorted(tables)}.")

    @property
    def distributors(self) -> pd.DataFrame:
        """One row per candidate distributor: ``open``, ``load``, ``capacity``, ``utilisation``, costs."""
        return self._table("distributors")

    @property
    def links(self) -> pd.DataFrame:
        """One row per used (outlet, distributor) link with its ``share`` and ``cost``."""
        return self._table("links")

    @property
    def territories(self) -> pd.DataFrame:
        """One row per territory: centre, regions, workload and the balance measures."""
        return self._table("territories")

    @property
    def regions(self) -> pd.DataFrame:
        """One row per region with its ``territory`` (integrated plans)."""
        return self._table("regions")

    @property
    def owners(self) -> pd.DataFrame:
        """The one distributor of each territory (x channel type) of an exclusive plan."""
        return self._table("owners")

    @property
    def allocations(self) -> pd.DataFrame:
        """One row per budget cell: ``spend``, ``response``, ``active``."""
        return self._table("allocations")

    @property
    def by_territory(self) -> pd.DataFrame:
        """One row per territory of an integrated plan: outlets, potential, spend, response."""
        return self._table("by_territory")

    @property
    def solve_steps(self) -> pd.DataFrame:
        """The steps of a multi-step strategy (e.g. Lagrangian), one row each."""
        return self._table("solve_steps")

    def __getattr__(self, name: str):
        made, value = self._deferred(name)
        if made:
            return value
        if name.startswith("_"):
            # copy's __deepcopy__, IPython's _repr_html_ ...: asked often, never a table, so no table is made
            raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")
        # Tables of kinds without a property above (pricing, assortment, partner tiers ...).
        tables = self._tables()
        if name in tables:
            return tables[name]
        # Also reached when a table property above finds no such table.
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r} (a {self.__dict__.get('kind')} plan; "
                             f"its tables are {sorted(tables)}).")

    def summary(self) -> pd.Series:
        """One row of numbers: solve info and overall metrics."""
        info = {k: getattr(self.info, k) for k in ("status", "objective", "bound", "gap", "seconds", "build_seconds")}
        info["kind"] = self.kind
        # Solve info wins over a metric of the same name.
        return pd.Series({**self.metrics.overall, **info}, dtype=object)

    def __repr__(self) -> str:
        return (f"Plan({self.kind}, status={self.status!r}, objective={self.objective:.6g}, "
                f"gap={self.gap:.3g}, seconds={self.solve_seconds:.2f}, "
                f"{len(self.assignments)} assignment rows)")

    # -- export
    def to_dict(self) -> dict[str, Any]:
        """Everything in the plan as JSON-ready Python objects."""
        return {
            "kind": self.kind,
            "info": _jsonable(self.info.to_dict()),
            "settings": _jsonable(self.settings),
            "metrics": {
                "overall": _jsonable(self.metrics.overall),
                **{name: _frame_records(t) for name, t in self.metrics.tables().items()},
            },
            "assignments": _frame_records(self.assignments),
            "tables": {name: _frame_records(t) for name, t in self.tables.items()},
            "stages": {name: p.to_dict() for name, p in self.stages.items()},
            "warnings": list(self.warnings),
        }

    def to_json(self, path: str | Path | None = None, indent: int = 2) -> str:
        """Write (or return) the plan as JSON: solve info, settings, metrics and decisions."""
        text = json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def to_parquet(self, path: str | Path) -> Path:
        """Write the assignments as Parquet, with solve info and overall metrics in its metadata.

        Read back with ``pandas.read_parquet``; the metadata sits under the key
        ``channelopt`` (``pyarrow.parquet.read_schema(path).metadata``).
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        frame = pd.DataFrame(self.assignments.drop(columns="geometry", errors="ignore"))
        table = pa.Table.from_pandas(frame, preserve_index=False)
        meta = dict(table.schema.metadata or {})
        meta[b"channelopt"] = json.dumps({
            "kind": self.kind, "info": _jsonable(self.info.to_dict()),
            "metrics": _jsonable(self.metrics.overall), "settings": _jsonable(self.settings),
        }).encode()
        pq.write_table(table.replace_schema_metadata(meta), str(path))
        return Path(path)

    def save(self, directory: str | Path) -> Path:
        """Write every table as Parquet plus ``plan.json`` into ``directory``."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        self.to_parquet(out / "assignments.parquet")
        for name, t in {**self.tables, **self.metrics.tables()}.items():
            frame = pd.DataFrame(t.drop(columns="geometry", errors="ignore"))
            if not isinstance(frame.index, pd.RangeIndex):
                frame = frame.reset_index()
            frame.to_parquet(out / f"{name}.parquet", index=False)
        self.to_json(out / "plan.json")
        return out

    def to_excel(self, path: str | Path) -> Path:
        """One workbook to forward: ``summary`` plus a sheet per table; see :func:`channelopt.io.plan_to_excel`."""
        from .io import plan_to_excel

        return plan_to_excel(self, path)

    @classmethod
    def load(cls, directory: str | Path) -> Plan:
        """Read a plan written by :meth:`save` (decision and metric tables, solve info, warnings).

        The network is not saved with the plan, so the plan read back has no map; its
        tables, metrics and solve info are complete.

        Raises
        ------
        ValidationError
            When ``directory`` holds no ``plan.json``.

        Examples
        --------
        >>> import channelopt as co, tempfile
        >>> net = co.ChannelNetwork.from_cost_matrix([[1, 4], [3, 1], [5, 2]], fixed_cost=[2, 3])
        >>> d = co.DistributorSelection(objective="min_cost").solve(net).save(tempfile.mkdtemp())
        >>> back = co.Plan.load(d)
        >>> back.objective, back.status, len(back.assignments)
        (9.0, 'optimal', 3)
        """
        from .exceptions import ValidationError

        directory = Path(directory)
        meta_path = directory / "plan.json"
        if not meta_path.is_file():
            raise ValidationError(f"{directory} holds no plan.json: give a directory written by Plan.save(dir) "
                                  f"(or `channelopt solve ... --out DIR`).")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        info_d = {k: (math.nan if v is None and k in ("objective", "bound", "gap", "seconds", "build_seconds")
                      else v) for k, v in meta.get("info", {}).items()}
        fields = set(SolveInfo.__dataclass_fields__)
        info = SolveInfo(**{k: v for k, v in info_d.items() if k in fields})

        def frame(name: str, records) -> pd.DataFrame:
            pq = directory / f"{name}.parquet"
            return pd.read_parquet(pq) if pq.is_file() else pd.DataFrame(records or [])

        metrics_d = meta.get("metrics", {})
        tables = {}
        for name, key in _METRIC_KEYS.items():
            if name in metrics_d:
                t = frame(name, metrics_d[name])
                tables[name] = t.set_index(key) if key in t.columns else t
        metrics = Metrics(overall=dict(metrics_d.get("overall", {})), **tables)
        assignments = frame("assignments", meta.get("assignments"))
        extra = {name: frame(name, recs) for name, recs in meta.get("tables", {}).items()}
        return cls(kind=meta.get("kind", "plan"), info=info, assignments=assignments, metrics=metrics, tables=extra,
                   settings=meta.get("settings", {}), warnings=list(meta.get("warnings", [])))

    def to_geodataframes(self) -> dict[str, Any]:
        """Regions, outlets and distributors as GeoDataFrames carrying the plan's decisions."""
        from ._plan_geo import plan_layers

        return plan_layers(self)

    def to_geopackage(self, path: str | Path) -> Path:
        """Write one GeoPackage with layers ``regions``, ``outlets``, ``distributors``, ``links``.

        Raises
        ------
        SettingsError
            When the network has no geometry.
        """
        from .exceptions import SettingsError

        layers = self.to_geodataframes()
        if not layers:
            raise SettingsError("this plan's network has no geometry; export it with to_parquet() or to_json().")
        path = Path(path)
        if path.exists():
            path.unlink()
        for name, gdf in layers.items():
            gdf.to_file(path, layer=name, driver="GPKG")
        return path

    def plot(self, ax=None, **kwargs):
        """Map of the plan (matplotlib); see :func:`channelopt.viz.plot_plan`."""
        from .viz import plot_plan

        return plot_plan(self, ax=ax, **kwargs)

    def explore(self, m=None, **kwargs):
        """Interactive map of the plan (folium); see :func:`channelopt.viz.explore`."""
        from .viz import explore

        return explore(self, m=m, **kwargs)

    def to_html(self, path: str | Path | None = None, **kwargs):
        """Self-contained HTML report of the plan; see :func:`channelopt.report.to_html`."""
        from .report import to_html

        return to_html(self, path, **kwargs)


def __getattr__(name: str):
    # Deprecated home of compare (moved to channelopt.comparison); kept for one release.
    if name == "compare":
        import warnings

        from .comparison import compare

        warnings.warn("channelopt.plan.compare moved to channelopt.comparison.compare (also channelopt.compare); "
                      "the old path goes in the next release.", DeprecationWarning, stacklevel=2)
        return compare
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
