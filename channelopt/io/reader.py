"""``read_network``: a ChannelNetwork from a workbook, a folder, a GeoPackage or a database.

Every source holds the same tables: ``outlets`` and ``distributors`` (required),
``regions``, ``edges`` and ``budget_cells`` (optional). Headers may be the English
column names or their documented Chinese aliases (see :data:`channelopt.io.TABLES`).
Every error names the file and sheet (or table), the column, the row ids and the fix.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import ValidationError, format_ids
from ..network import DEFAULT_COST_PER_KM, ChannelNetwork
from ._schema import GEOMETRY, SEPARATOR, TABLE_ALIASES, TABLES, _norm, canonical_headers

__all__ = ["read_network", "read_tables"]

_REQUIRED_TABLES = ("outlets", "distributors")
_ID_COLUMNS = ("outlet_id", "distributor_id", "region_id", "region_a", "region_b")
_TRUE = {"true", "yes", "y", "1", "1.0", "是", "现有", "已签约", "t"}
_FALSE = {"false", "no", "n", "0", "0.0", "否", "", "nan", "f", "none"}
_INF = {"inf", "infinity", "∞", "无限", "不限", "无上限"}


class _Source:
    """Where each table came from, for error messages."""

    def __init__(self, label: str, kind: str):
        self.label = label
        self.kind = kind  # "sheet", "file", "layer", "table", "frame"
        self.names: dict[str, str] = {}

    def where(self, table: str) -> str:
        name = self.names.get(table, table)
        if self.kind == "file":
            return str(Path(self.label) / name)
        if self.kind == "frame":
            return f"tables[{table!r}]"
        return f"{self.label}, {self.kind} {name!r}"


def _fail(message: str, *, column: str | None = None, ids=None) -> None:
    raise ValidationError(message, column=column, ids=ids)


def _match_tables(available: Sequence[str], tables: Mapping[str, str] | None, src: _Source) -> dict[str, str]:
    """``{canonical table: name in the source}``; a missing required table raises."""
    chosen: dict[str, str] = {}
    by_norm = {_norm(a): a for a in available}
    for table, aliases in TABLE_ALIASES.items():
        if tables and table in tables:
            want = tables[table]
            if want not in available:
                _fail(f"{src.label}: no {src.kind} {want!r} (given as tables[{table!r}]); it has "
                      f"{list(available)}.", column=None)
            chosen[table] = want
            continue
        for alias in aliases:
            if _norm(alias) in by_norm:
                chosen[table] = by_norm[_norm(alias)]
                break
    if tables:
        unknown = [t for t in tables if t not in TABLE_ALIASES]
        if unknown:
            near = difflib.get_close_matches(unknown[0], list(TABLE_ALIASES), n=1)
            _fail(f"tables: unknown table {unknown[0]!r}{f' (did you mean {near[0]!r}?)' if near else ''}; "
                  f"known tables: {list(TABLE_ALIASES)}.")
    for table in _REQUIRED_TABLES:
        if table not in chosen:
            near = difflib.get_close_matches(table, list(available), n=1, cutoff=0.5)
            hint = f" {near[0]!r} looks close: rename it to {table!r}." if near else ""
            _fail(f"{src.label}: no {src.kind} named {table!r} (or {'/'.join(TABLE_ALIASES[table][1:])}); it has "
                  f"{list(available) or 'none'}.{hint} A network needs the {src.kind}s 'outlets' and "
                  f"'distributors'; `channelopt template FILE.xlsx` writes an example.")
    src.names = dict(chosen)
    return chosen


# ----------------------------------------------------------------------------- sources
def _read_excel(path: Path, tables, src: _Source) -> dict[str, pd.DataFrame]:
    try:
        import openpyxl  # noqa: F401
    except ImportError:  # pragma: no cover - a dependency
        raise ImportError("reading .xlsx needs openpyxl: pip install openpyxl") from None
    try:
        book = pd.ExcelFile(path, engine="openpyxl")
    except Exception as exc:  # zipfile.BadZipFile, KeyError, ...: not a workbook
        raise ValidationError(f"{path}: cannot be read as an .xlsx workbook ({type(exc).__name__}: {exc}); "
                              f"save it from Excel/WPS as .xlsx.") from None
    chosen = _match_tables(book.sheet_names, tables, src)
    return {t: pd.read_excel(book, sheet_name=name, dtype=object) for t, name in chosen.items()}


def _read_folder(path: Path, tables, src: _Source) -> dict[str, pd.DataFrame]:
    files = {p.stem: p for p in sorted(path.iterdir()) if p.suffix.lower() in (".csv", ".parquet", ".txt")}
    chosen = _match_tables(list(files), tables, src)
    src.names = {t: files[name].name for t, name in chosen.items()}
    out = {}
    for table, name in chosen.items():
        file = files[name]
        if file.stat().st_size == 0:
            _fail(f"{file}: the file is empty; it needs a header row and at least one {table} row.")
        if file.suffix.lower() == ".parquet":
            out[table] = pd.read_parquet(file)
            continue
        frame = None
        # Excel saves CSV as UTF-8 with a BOM or, on a Chinese Windows, as GBK.
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                frame = pd.read_csv(file, dtype=object, encoding=encoding, skipinitialspace=True)
                break
            except UnicodeDecodeError:
                continue
            except pd.errors.EmptyDataError:
                _fail(f"{file}: the file is empty; it needs a header row and at least one {table} row.")
        if frame is None:
            _fail(f"{file}: not UTF-8 or GBK text; save it as 'CSV UTF-8'.")
        out[table] = frame
    return out


def _read_geopackage(path: Path, tables, src: _Source) -> dict[str, pd.DataFrame]:
    import geopandas as gpd
    import pyogrio

    layers = [str(name) for name in pyogrio.list_layers(path)[:, 0]]
    chosen = _match_tables(layers, tables, src)
    return {t: gpd.read_file(path, layer=name) for t, name in chosen.items()}


def _read_sql(con, tables, src: _Source) -> dict[str, pd.DataFrame]:
    try:
        import sqlalchemy as sa
    except ImportError:  # pragma: no cover - a dependency
        raise ImportError("reading a database needs SQLAlchemy: pip install sqlalchemy") from None
    engine = sa.create_engine(con) if isinstance(con, str) else con
    try:
        with (engine.connect() if hasattr(engine, "connect") and not isinstance(engine, sa.Connection)
              else _nullcontext(engine)) as conn:
            names = sa.inspect(conn).get_table_names()
            chosen = _match_tables(names, tables, src)
            out = {}
            for table, name in chosen.items():
                out[table] = pd.read_sql_table(name, conn)
            return out
    finally:
        if isinstance(con, str):
            engine.dispose()


class _nullcontext:
    def __init__(self, value):
        self.value = value

    def __enter__(self):
        return self.value

    def __exit__(self, *exc):
        return False


def read_tables(source: Any, *, tables: Mapping[str, str] | None = None) -> tuple[dict[str, pd.DataFrame], _Source]:
    """The raw tables of ``source`` (headers as written) and where each came from."""
    if isinstance(source, Mapping):
        src = _Source("tables", "frame")
        chosen = _match_tables(list(source), tables, src)
        return {t: source[name] for t, name in chosen.items()}, src
    if hasattr(source, "dialect") or type(source).__module__.startswith("sqlalchemy"):
        src = _Source(str(getattr(source, "url", None) or getattr(getattr(source, "engine", None), "url", "database")),
                      "table")
        return _read_sql(source, tables, src), src
    if isinstance(source, str) and "://" in source:
        src = _Source(_redact(source), "table")
        return _read_sql(source, tables, src), src
    if not isinstance(source, (str, os.PathLike)):
        raise ValidationError(f"read_network needs a path (.xlsx, .gpkg, .db/.sqlite, a folder of CSV/Parquet "
                              f"files), a SQLAlchemy URL or connection, or a dict of DataFrames; got "
                              f"{type(source).__name__}.")
    path = Path(source)
    if not path.exists():
        raise ValidationError(f"{path}: no such file or folder (looked in {Path.cwd()} for a relative path).")
    suffix = path.suffix.lower()
    if path.is_dir():
        src = _Source(str(path), "file")
        return _read_folder(path, tables, src), src
    if path.stat().st_size == 0:
        raise ValidationError(f"{path}: the file is empty (0 bytes).")
    if suffix in (".xlsx", ".xlsm"):
        src = _Source(str(path), "sheet")
        return _read_excel(path, tables, src), src
    if suffix == ".gpkg":
        src = _Source(str(path), "layer")
        return _read_geopackage(path, tables, src), src
    if suffix in (".db", ".sqlite", ".sqlite3"):
        src = _Source(str(path), "table")
        return _read_sql(f"sqlite:///{path.resolve()}", tables, src), src
    raise ValidationError(f"{path}: unknown kind of file {suffix!r}; give an .xlsx workbook, a .gpkg GeoPackage, "
                          f"a .db/.sqlite SQLite file or a folder of outlets.csv, distributors.csv, ... files.")


def _redact(url: str) -> str:
    # Never echo a password back into an error message or a log.
    head, sep, tail = url.partition("://")
    if "@" in tail:
        tail = "***@" + tail.split("@", 1)[1]
    return head + sep + tail


# ----------------------------------------------------------------------------- cleaning
def _as_id(series: pd.Series) -> pd.Series:
    """Ids as text: 1001 and 1001.0 (Excel's numbers) both become '1001'."""
    def one(v):
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return None
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        if isinstance(v, (np.integer, int)) and not isinstance(v, bool):
            return str(int(v))
        text = str(v).strip()
        return text or None
    return series.map(one).astype(object)


def _numbers(frame: pd.DataFrame, column: str, id_col: str, where: str, *, inf_ok: bool = False) -> None:
    raw = frame[column]
    if raw.dtype == object:
        text = raw.map(lambda v: str(v).strip().lower() if isinstance(v, str) else v)
        if inf_ok:
            text = text.map(lambda v: np.inf if isinstance(v, str) and v in _INF else v)
        text = text.map(lambda v: v.replace(",", "") if isinstance(v, str) else v)
        values = pd.to_numeric(text, errors="coerce")
    else:
        values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna() & raw.notna() & (raw.astype(str).str.strip() != "")
    if bad.any():
        ids = frame.loc[bad, id_col].tolist()
        examples = format_ids(raw[bad].tolist(), limit=3)
        extra = " Write 'inf' for no limit." if inf_ok else ""
        _fail(f"{where}: column {column!r} must hold numbers; {id_col} {format_ids(ids)} hold {examples}.{extra}",
              column=column, ids=ids)
    frame[column] = values.astype(float)


def _booleans(frame: pd.DataFrame, column: str, id_col: str, where: str) -> None:
    def one(v):
        if isinstance(v, (bool, np.bool_)):
            return bool(v)
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return False
        key = str(v).strip().lower()
        return True if key in _TRUE else False if key in _FALSE else None
    values = frame[column].map(one)
    bad = values.isna()
    if bad.any():
        ids = frame.loc[bad, id_col].tolist()
        _fail(f"{where}: column {column!r} must be TRUE/FALSE (or 是/否); {id_col} {format_ids(ids)} hold "
              f"{format_ids(frame.loc[bad, column].tolist(), limit=3)}.", column=column, ids=ids)
    frame[column] = values.astype(bool)


def _clean(frame: pd.DataFrame, table: str, where: str, keep: tuple[str, ...]) -> pd.DataFrame:
    import geopandas as gpd

    if len(frame) == 0:
        _fail(f"{where}: no rows; give at least one {table} row under the header.")
    frame = canonical_headers(frame, table, where, keep)
    frame = frame.dropna(how="all", subset=[c for c in frame.columns if c != GEOMETRY])  # blank Excel rows
    if len(frame) == 0:
        _fail(f"{where}: no rows; give at least one {table} row under the header.")
    has_geometry = isinstance(frame, gpd.GeoDataFrame) and frame.crs is not None
    id_col = TABLES[table][0].name
    missing = [c.name for c in TABLES[table] if c.required and c.name not in frame.columns
               and not (has_geometry and c.name in ("lon", "lat"))]
    if missing:
        cols = {c.name: c for c in TABLES[table]}
        _fail(f"{where}: missing column {missing[0]!r} ({cols[missing[0]].doc}; Chinese header "
              f"{cols[missing[0]].aliases[0]!r} is accepted too). It has {[str(c) for c in frame.columns]}.",
              column=missing[0])
    for col in _ID_COLUMNS:
        if col in frame.columns:
            frame[col] = _as_id(frame[col])
    ids = frame[id_col]
    if ids.isna().any():
        rows = [int(i) + 2 for i in np.flatnonzero(ids.isna().to_numpy())]
        _fail(f"{where}: column {id_col!r} is empty in row(s) {format_ids(rows)} (counting the header as row 1); "
              f"every row needs an id.", column=id_col, ids=rows)
    dup = pd.unique(ids[ids.duplicated(keep=False)]) if table in ("outlets", "distributors", "regions") else []
    if len(dup):
        _fail(f"{where}: column {id_col!r} has duplicate ids {format_ids(dup)}; each id must appear once "
              f"(remove or renumber the repeated rows).", column=id_col, ids=dup)
    for col in frame.columns:
        if col in ("potential", "workload", "demand", "visits_per_month", "fixed_cost", "min_load", "lon", "lat",
                   "population", "min_spend", "max_spend"):
            _numbers(frame, col, id_col, where)
        elif col == "capacity":
            _numbers(frame, col, id_col, where, inf_ok=True)
    # Blank cells of an optional column take its default (the template has these columns).
    for col, default in (("workload", 1.0), ("min_load", 0.0), ("min_spend", 0.0), ("max_spend", np.inf),
                         ("fixed_cost", 0.0 if table == "budget_cells" else None)):
        if col in frame.columns and default is not None:
            frame[col] = frame[col].fillna(default)
    if "demand" in frame.columns and "potential" in frame.columns:
        frame["demand"] = frame["demand"].fillna(frame["potential"])
    for col in ("visits_per_month", "population", "name", "region_id", "channels", "demand", "existing", "lon",
                "lat"):
        if col in frame.columns and frame[col].isna().all() and not TABLES[table][0].name == col and not any(
                c.name == col and c.required for c in TABLES[table]):
            frame = frame.drop(columns=col)  # an optional column left empty is as if absent
    if "existing" in frame.columns:
        _booleans(frame, "existing", id_col, where)
    if "channel" in frame.columns:
        frame["channel"] = frame["channel"].map(lambda v: str(v).strip() if isinstance(v, str) else v)
    if "channels" in frame.columns:
        frame["channels"] = frame["channels"].map(lambda v: v if isinstance(v, str) and v.strip() else None)
    if "lon" in frame.columns and "lat" in frame.columns and not has_geometry:
        from ..network import _check_lonlat

        try:
            _check_lonlat(frame[id_col].to_numpy(), frame["lon"].to_numpy(), frame["lat"].to_numpy(), table, id_col)
        except ValidationError as exc:
            raise ValidationError(f"{where}: {exc}", column=exc.column, ids=exc.ids) from None
    return frame.reset_index(drop=True)


def _points(frame: pd.DataFrame, crs: str):
    import geopandas as gpd

    if isinstance(frame, gpd.GeoDataFrame) and frame.crs is not None:
        return frame
    if "lon" in frame.columns and "lat" in frame.columns:
        plain = pd.DataFrame(frame.drop(columns=GEOMETRY, errors="ignore"))
        return gpd.GeoDataFrame(plain, geometry=gpd.points_from_xy(plain["lon"], plain["lat"]), crs=crs)
    return frame


def _grid_region_ids(lon: np.ndarray, lat: np.ndarray, degrees: float) -> list[str]:
    """The documented rule for outlets without region_id: cells of ``degrees`` x ``degrees``."""
    ilat = np.floor(lat / degrees).astype(int)
    ilon = np.floor(lon / degrees).astype(int)
    return [f"grid_{a * degrees:.2f}N_{b * degrees:.2f}E" for a, b in zip(ilat, ilon)]


def _derive_regions(outlets, crs: str, grid_degrees: float):
    """Regions as points at the mean of their outlets, labelled ``derived``."""
    import geopandas as gpd

    xy = pd.DataFrame({"region_id": outlets["region_id"].to_numpy(),
                       "lon": outlets.geometry.x.to_numpy(), "lat": outlets.geometry.y.to_numpy()})
    agg = xy.groupby("region_id", sort=False)[["lon", "lat"]].mean().reset_index()
    agg["derived"] = True
    return gpd.GeoDataFrame(agg, geometry=gpd.points_from_xy(agg["lon"], agg["lat"]), crs=outlets.crs or crs)


def _budget_cells(frame: pd.DataFrame, where: str) -> pd.DataFrame:
    from ..response import PointsCurve

    curves = []
    for rid, sp, rp in zip(frame["region_id"], frame["spend_points"], frame["response_points"]):
        try:
            spend = [float(v) for v in str(sp).replace("\uff1b", ";").split(SEPARATOR) if v.strip()]
            resp = [float(v) for v in str(rp).replace("\uff1b", ";").split(SEPARATOR) if v.strip()]
        except ValueError:
            _fail(f"{where}: spend_points/response_points of region_id {rid!r} must be numbers separated by "
                  f"'{SEPARATOR}', got {sp!r} / {rp!r}.", column="spend_points", ids=[rid])
        if len(spend) != len(resp) or len(spend) < 2:
            _fail(f"{where}: region_id {rid!r} has {len(spend)} spend points and {len(resp)} responses; give "
                  f"the same number, at least 2.", column="response_points", ids=[rid])
        try:
            curves.append(PointsCurve(spend, resp))
        except ValidationError as exc:
            raise ValidationError(f"{where}: region_id {rid!r}: {exc}", column="spend_points", ids=[rid]) from None
    out = pd.DataFrame(frame.drop(columns=["spend_points", "response_points"]))
    out["curve"] = curves
    return out


def read_network(
    source: Any,
    *,
    tables: Mapping[str, str] | None = None,
    keep_columns: Sequence[str] = (),
    crs: str = "EPSG:4326",
    cost_per_km: float = DEFAULT_COST_PER_KM,
    grid_degrees: float = 0.5,
    contiguity: str = "queen",
    name: str | None = None,
) -> ChannelNetwork:
    """Read a :class:`ChannelNetwork` from your own data.

    Parameters
    ----------
    source : path, URL, SQLAlchemy engine/connection, or dict of DataFrames
        - an ``.xlsx`` workbook with sheets ``outlets`` and ``distributors``, and
          optionally ``regions``, ``edges`` and ``budget_cells``
          (``channelopt template FILE.xlsx`` writes one to fill in);
        - a folder holding ``outlets.csv`` (or ``.parquet``), ``distributors.csv``, ...;
        - a GeoPackage (``.gpkg``) with those layers (point or polygon geometry);
        - a SQLite file (``.db``/``.sqlite``), a SQLAlchemy URL such as
          ``"postgresql://user@host/db"``, or an open engine/connection, with those tables;
        - a dict ``{"outlets": df, "distributors": df, ...}``.
        Sheet/table names may also be the Chinese 网点, 经销商, 区域, 邻接, 预算.
    tables : mapping, optional
        Your names for the tables, e.g. ``{"outlets": "stores_2026", "distributors": "dms_partners"}``.
    keep_columns : sequence of str
        Extra columns to carry along unchanged (any other unknown header is an error).
    crs : str, default "EPSG:4326"
        CRS of the ``lon``/``lat`` columns (degrees, WGS84). Distances are always km.
    cost_per_km : float, default 2e-4
        Service cost per unit of outlet demand per km (see :class:`ChannelNetwork`).
    grid_degrees : float, default 0.5
        Without ``regions`` and without ``region_id``, outlets are grouped into regions
        of ``grid_degrees`` x ``grid_degrees`` degrees (about 55 x 50 km in China),
        named ``grid_<lat>N_<lon>E`` after their south-west corner.
    contiguity : {"queen", "rook", "delaunay"}
        Adjacency of polygon regions when there is no ``edges`` table.
    name : str, optional
        Network name (default: the file or folder name).

    Returns
    -------
    ChannelNetwork
        Regions without a ``regions`` table are points at the mean position of their
        outlets, adjacent by Delaunay triangulation, with ``derived = True``. A
        ``budget_cells`` table becomes ``net.budget_cells`` (a frame whose ``curve``
        column holds :class:`~channelopt.PointsCurve` objects, ready for
        :class:`~channelopt.BudgetAllocation`).

    Raises
    ------
    ValidationError
        Naming the file and sheet (or table), the column, the row ids and the fix: a
        missing sheet, an unknown header (with the nearest valid name), a latitude
        beyond ±90 degrees (swapped lon/lat), an unknown channel in a distributor's
        list, a duplicate id, an empty file. Nothing you pass in is changed.

    Notes
    -----
    Columns (Chinese aliases accepted; ids are read as text):

    - outlets: ``outlet_id`` (网点编号), ``lon`` (经度), ``lat`` (纬度), ``channel`` (渠道),
      ``potential`` (潜力); optional ``region_id`` (区域), ``workload`` (工作量),
      ``name`` (网点名称), ``demand``, ``visits_per_month``;
    - distributors: ``distributor_id`` (经销商编号), ``lon``, ``lat``, ``fixed_cost`` (固定费用),
      ``capacity`` (容量; ``inf`` or 不限 for no limit), ``channels`` (经营渠道, separated by
      ``;``; empty means every channel); optional ``existing`` (现有; TRUE/FALSE or 是/否),
      ``min_load`` (最低负荷), ``name`` (经销商名称);
    - regions: ``region_id`` and optional ``lon``/``lat`` (or polygons in a GeoPackage),
      ``name``, numeric columns such as ``population``;
    - edges: ``region_a``, ``region_b``;
    - budget_cells: ``region_id``, ``channel``, ``activity``, ``spend_points``,
      ``response_points`` (numbers separated by ``;``), optional ``min_spend``,
      ``max_spend``, ``fixed_cost``.

    Examples
    --------
    >>> import pandas as pd, channelopt as co
    >>> outlets = pd.DataFrame({"网点编号": ["O1", "O2", "O3"], "经度": [121.47, 121.50, 120.16],
    ...                         "纬度": [31.23, 31.20, 30.27], "渠道": ["traditional", "catering", "traditional"],
    ...                         "潜力": [40000, 52000, 31000], "区域": ["上海", "上海", "杭州"]})
    >>> dists = pd.DataFrame({"经销商编号": ["D1", "D2"], "经度": [121.4, 120.2], "纬度": [31.25, 30.3],
    ...                       "固定费用": [50000, 40000], "容量": [100000, "inf"],
    ...                       "经营渠道": ["traditional;catering", ""]})
    >>> net = co.read_network({"outlets": outlets, "distributors": dists})
    >>> net
    ChannelNetwork(2 regions, 3 outlets, 2 distributors, 2 channels, 1 edges)
    >>> bool(net.regions["derived"].all()), round(float(net.distances()[2, 1]), 1)     # km
    (True, 5.1)
    """
    raw, src = read_tables(source, tables=tables)
    keep = tuple(keep_columns)
    frames = {t: _clean(f, t, src.where(t), keep) for t, f in raw.items()}
    outlets = _points(frames["outlets"], crs)
    distributors = _points(frames["distributors"], crs)
    import geopandas as gpd

    if not isinstance(outlets, gpd.GeoDataFrame):
        _fail(f"{src.where('outlets')}: outlets need lon/lat columns (经度/纬度) or point geometry.", column="lon")
    if "region_id" not in outlets.columns or outlets["region_id"].isna().any():
        if "regions" in frames:
            ids = outlets.loc[outlets.get("region_id", pd.Series(None, index=outlets.index)).isna(),
                              "outlet_id"].tolist()
            _fail(f"{src.where('outlets')}: column 'region_id' is empty for outlet_id {format_ids(ids)}, and a "
                  f"regions table is given; fill in each outlet's region.", column="region_id", ids=ids)
        outlets = outlets.copy()
        grid = _grid_region_ids(outlets.geometry.x.to_numpy(), outlets.geometry.y.to_numpy(), grid_degrees)
        given = outlets["region_id"] if "region_id" in outlets.columns else pd.Series(None, index=outlets.index)
        outlets["region_id"] = [g if r is None or (isinstance(r, float) and np.isnan(r)) else r
                                for r, g in zip(given.tolist(), grid)]
    if "regions" in frames:
        regions = frames["regions"]
        if not (isinstance(regions, gpd.GeoDataFrame) and regions.crs is not None):
            if "lon" in regions.columns and "lat" in regions.columns and regions[["lon", "lat"]].notna().all().all():
                regions = _points(regions, crs)
            else:
                derived = _derive_regions(outlets, crs, grid_degrees).set_index("region_id")
                rid = regions["region_id"]
                lost = rid[~rid.isin(derived.index)].tolist()
                if lost:
                    _fail(f"{src.where('regions')}: region_id {format_ids(lost)} have no lon/lat and no outlets to "
                          f"place them; give their lon/lat (经度/纬度) or remove them.", column="lon", ids=lost)
                plain = pd.DataFrame(regions.drop(columns=["lon", "lat", GEOMETRY], errors="ignore"))
                plain["lon"] = derived.loc[rid, "lon"].to_numpy()
                plain["lat"] = derived.loc[rid, "lat"].to_numpy()
                regions = _points(plain, crs)
    else:
        regions = _derive_regions(outlets, crs, grid_degrees)
    graph = None
    if "edges" in frames:
        graph = pd.DataFrame(frames["edges"][["region_a", "region_b"]])
    elif len(regions) <= 3 and not regions.geom_type.isin(["Polygon", "MultiPolygon"]).all():
        # Delaunay needs 3 points in general position; with 2 or 3 regions every pair is adjacent.
        ids = regions["region_id"].tolist()
        graph = pd.DataFrame([(a, b) for i, a in enumerate(ids) for b in ids[i + 1:]],
                             columns=["region_a", "region_b"])
    label = name or (Path(str(source)).stem if isinstance(source, (str, os.PathLike)) else None)
    try:
        net = ChannelNetwork(regions, outlets, distributors, graph, cost_per_km=cost_per_km,
                             contiguity=contiguity, name=label)
    except ValidationError as exc:
        # Name the sheet/file the network's own check is about.
        msg = str(exc)
        table = next((t for t in ("outlets", "distributors", "regions") if msg.startswith(t)), None)
        if table is None and msg.startswith("graph"):
            table = "edges" if "edges" in frames else "regions"
        if table in frames:
            prefix = src.where(table)
        elif table == "regions":
            prefix = f"{src.where('outlets')} (regions derived from region_id)"
        else:
            prefix = src.label
        raise ValidationError(f"{prefix}: {msg}", column=exc.column, ids=exc.ids) from None
    if "budget_cells" in frames:
        net.budget_cells = _budget_cells(frames["budget_cells"], src.where("budget_cells"))
    return net
