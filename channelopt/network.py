"""ChannelNetwork: the validated data every model reads.

A network holds regions, outlets, candidate distributors, the region adjacency graph
and the service costs. It checks its data once, when built, and never mutates the
frames it was given.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Iterable, Sequence
from functools import cached_property

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely

from . import geo
from .exceptions import SettingsError, ValidationError, format_ids

__all__ = ["ChannelNetwork", "CHANNELS", "DEFAULT_COST_PER_KM"]

#: The channel types used by the examples; any string is accepted as a channel.
CHANNELS = ("traditional", "modern_ka", "catering", "pharmacy", "convenience", "community")

#: Default service cost per unit of outlet demand per km: serving an outlet 100 km away
#: costs 2 % of its demand (sales value) a year. An assumption shared with the shipped
#: examples, not a published figure: set your own ``cost_per_km`` for real data.
DEFAULT_COST_PER_KM = 2e-4

# Plain frames carrying these columns are turned into points (lon/lat degrees, EPSG:4326).
_LONLAT = ("lon", "lat")

_REGION_ID = "region_id"
#: networks of at most this many outlet x distributor pairs keep their allowed links, not only the counts:
#: a solve asks for the counts (the check) and then the links (the build), and on a tiny network each pass
#: over the pairs (channel table, costs, distances) costs about as much as the solve itself (issue 13)
_KEEP_LINKS_PAIRS = 1 << 16
_OUTLET_ID = "outlet_id"
_DIST_ID = "distributor_id"


def _fail(msg: str, column: str | None = None, ids: Iterable | None = None):
    raise ValidationError(msg, column=column, ids=ids)


def _require_frame(frame, name: str, id_col: str, required: Sequence[str]) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        _fail(f"{name} must be a pandas or GeoPandas DataFrame, got {type(frame).__name__}.")
    if len(frame) == 0:
        _fail(f"{name} is empty: give at least one row with an '{id_col}'.", column=id_col)
    frame = frame.copy()
    if id_col not in frame.columns and frame.index.name == id_col:
        frame = frame.reset_index()
    missing = [c for c in (id_col, *required) if c not in frame.columns]
    if missing:
        _fail(
            f"{name} is missing column(s) {missing}; it has {list(frame.columns)}. "
            f"Add or rename the column(s), e.g. df.rename(columns={{'your_col': '{missing[0]}'}}).",
            column=missing[0],
        )
    ids = frame[id_col]
    if ids.isna().any():
        rows = list(frame.index[ids.isna()])
        _fail(f"{name}.{id_col} has missing ids at rows {format_ids(rows)}; every row needs an id.",
              column=id_col, ids=rows)
    # is_unique first: one hash pass, and the duplicated() mask only when there is something to name
    dup = ids[:0] if ids.is_unique else ids[ids.duplicated(keep=False)]
    if len(dup):
        _fail(
            f"{name}.{id_col} has duplicate ids {format_ids(pd.unique(dup))}; ids must be unique "
            f"(drop or rename the duplicates, e.g. df.drop_duplicates('{id_col}')).",
            column=id_col,
            ids=pd.unique(dup),
        )
    frame = frame.reset_index(drop=True)
    return _points_from_lonlat(frame, name, id_col)


def _points_from_lonlat(frame: pd.DataFrame, name: str, id_col: str) -> pd.DataFrame:
    """A plain frame with ``lon``/``lat`` columns becomes a GeoDataFrame of points (EPSG:4326).

    Without this, the coordinates were silently ignored and the network had no geometry.
    """
    if _has_crs_geometry(frame) or not all(c in frame.columns for c in _LONLAT):
        return frame
    coords = {}
    for col in _LONLAT:
        values = pd.to_numeric(frame[col], errors="coerce")
        bad = values.isna() & frame[col].notna()
        if bad.any():
            ids = frame.loc[bad, id_col].tolist()
            _fail(f"{name}.{col} must be a number of degrees; non-numeric values for {id_col} {format_ids(ids)}.",
                  column=col, ids=ids)
        coords[col] = values.to_numpy(dtype=float)
    _check_lonlat(frame[id_col].to_numpy(), coords["lon"], coords["lat"], name, id_col)
    plain = pd.DataFrame(frame.drop(columns="geometry", errors="ignore"))
    plain["lon"], plain["lat"] = coords["lon"], coords["lat"]
    return gpd.GeoDataFrame(plain, geometry=gpd.points_from_xy(plain["lon"], plain["lat"]), crs="EPSG:4326")


def _has_crs_geometry(frame) -> bool:
    if not isinstance(frame, gpd.GeoDataFrame):
        return False
    try:
        return frame.crs is not None and frame.geometry.name in frame.columns
    except AttributeError:  # a GeoDataFrame without an active geometry column
        return False


def _check_lonlat(ids: np.ndarray, lon: np.ndarray, lat: np.ndarray, name: str, id_col: str,
                  lon_col: str = "lon", lat_col: str = "lat") -> None:
    """Finite coordinates in range; a latitude beyond 90 degrees is named as a swapped pair."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    for col, arr in ((lon_col, lon), (lat_col, lat)):
        bad = ~np.isfinite(arr)
        if bad.any():
            _fail(f"{name}.{col} is missing (NaN) for {id_col} {format_ids(ids[bad])}; every row needs "
                  f"a longitude and a latitude in degrees (or drop those rows).", column=col, ids=ids[bad])
    bad_lat = np.abs(lat) > 90
    if bad_lat.any():
        swapped = bad_lat & (np.abs(lon) <= 90)
        hint = (" Longitude and latitude look swapped (e.g. lat = 121 is a longitude in China): "
                "exchange the two columns." if swapped.any() else "")
        _fail(f"{name}.{lat_col} is outside -90..90 degrees for {id_col} {format_ids(ids[bad_lat])} "
              f"(values {format_ids(lat[bad_lat])}).{hint}", column=lat_col, ids=ids[bad_lat])
    bad_lon = np.abs(lon) > 180
    if bad_lon.any():
        _fail(f"{name}.{lon_col} is outside -180..180 degrees for {id_col} {format_ids(ids[bad_lon])}; "
              f"lon/lat must be degrees (EPSG:4326). Projected x/y in metres need a GeoDataFrame with its CRS.",
              column=lon_col, ids=ids[bad_lon])


def _check_numeric(frame: pd.DataFrame, name: str, id_col: str, column: str, *,
                   allow_inf: bool = False, positive: bool = False) -> None:
    col = frame[column]
    if isinstance(col.dtype, np.dtype) and col.dtype.kind in "fiu":
        # a plain numeric column that passes every check: one numpy pass (the pandas checks
        # below, needed only to name the offending ids, cost ~0.3 ms a column on small networks)
        arr = col.to_numpy(dtype=float)
        ok = np.isfinite(arr) | (allow_inf & (arr == np.inf))
        if ok.all() and not (arr <= 0 if positive else arr < 0).any():
            frame[column] = arr
            return
    values = pd.to_numeric(frame[column], errors="coerce")
    bad_type = values.isna() & frame[column].notna()
    if bad_type.any():
        ids = frame.loc[bad_type, id_col].tolist()
        _fail(f"{name}.{column} must be numeric; non-numeric values for {id_col} {format_ids(ids)}.",
              column=column, ids=ids)
    nan = values.isna()
    if nan.any():
        ids = frame.loc[nan, id_col].tolist()
        _fail(f"{name}.{column} is NaN for {id_col} {format_ids(ids)}; fill it (e.g. .fillna(0)) "
              f"or drop those rows.", column=column, ids=ids)
    arr = values.to_numpy(dtype=float)
    if not allow_inf and np.isinf(arr).any():
        ids = frame.loc[np.isinf(arr), id_col].tolist()
        _fail(f"{name}.{column} is infinite for {id_col} {format_ids(ids)}.", column=column, ids=ids)
    neg = arr < 0 if not positive else arr <= 0
    if neg.any():
        ids = frame.loc[neg, id_col].tolist()
        word = "non-positive" if positive else "negative"
        _fail(f"{name}.{column} has {word} values for {id_col} {format_ids(ids)}; "
              f"{column} must be {'> 0' if positive else '>= 0'}.", column=column, ids=ids)
    frame[column] = arr


def _plain_ids(ids: list) -> bool:
    """Unique, present ids of one plain type (str, or int within int64): nothing ``_require_frame`` would reject,
    and a column pandas holds as ``str`` or ``int64`` (what :meth:`ChannelNetwork._column` gives for a deferred
    frame)."""
    kinds = {type(v) for v in ids}
    if not (len(kinds) == 1 and kinds <= {str, int} and len(set(ids)) == len(ids)):
        return False
    return kinds == {str} or (-(1 << 63) <= min(ids) and max(ids) < (1 << 63))


def _light_matrix_network(cls, outlet_ids: list, distributor_ids: list, region_ids: list, channels,
                          cost: np.ndarray, distances: np.ndarray, vectors) -> ChannelNetwork | None:
    """``from_cost_matrix``'s network without the general constructor's pandas passes, or None.

    Every check of the general path is made here in numpy / on the lists (finite,
    non-negative numbers; capacity may be inf; costs and distances without NaN or
    negatives, of shape n x m; unique ids of one plain type; channels given as text).
    When one fails, None: the caller builds through the general constructor, whose checks
    name the column, ids and fix. The frames are made once each, with the columns and
    dtypes the general path gives them (at 100 x 5 its copies, resets, inserts and
    per-column checks took ~2 ms of a ~8 ms solve, half of spopt's whole model; issue 13),
    and only when first read (:func:`_deferred_frame`): a solve reads the columns it needs
    through :meth:`ChannelNetwork._column`, so the three frames (~0.45 ms, and ~0.1 ms for
    each first read of a column of a fresh frame) are made only if someone asks for them.
    """
    d, pot, fixed, cap = vectors
    n, m = len(outlet_ids), len(distributor_ids)
    if cost.shape != (n, m) or distances.shape != (n, m) or len(region_ids) != n:
        return None
    finite = np.isfinite(d).all() and np.isfinite(pot).all() and np.isfinite(fixed).all()
    if not (finite and (d >= 0).all() and (pot >= 0).all() and (fixed >= 0).all()):
        return None
    if np.isnan(cap).any() or (cap < 0).any():
        return None
    for arr in (cost, distances):
        if np.isnan(arr).any() or (arr < 0).any():
            return None
    if not (_plain_ids(outlet_ids) and _plain_ids(distributor_ids) and _plain_ids(list(dict.fromkeys(region_ids)))):
        return None
    if not isinstance(channels, str) and not (len(channels) == n and all(isinstance(c, str) for c in channels)):
        return None  # astype(str) of other values, and missing ones named, by the general path
    net = cls.__new__(cls)
    net._settings(None, None, "length", "queen", DEFAULT_COST_PER_KM)
    regions = list(dict.fromkeys(region_ids))
    workload, existing, served = np.ones(n), np.zeros(m, dtype=bool), np.full(m, None, dtype=object)
    for arr in (pot, d, workload, fixed, cap, existing, served):
        arr.flags.writeable = False  # the deferred frames' columns: read by the solve, copied into the frames
    # the columns the general path adds (workload; existing, channels), in its order and dtypes; each frame is
    # made from its dict on first read (pandas copies every column in), so these stay as they are
    net.__dict__["_pending_frames"] = {
        "regions": (len(regions), {_REGION_ID: regions}),
        "outlets": (n, {_OUTLET_ID: outlet_ids, _REGION_ID: region_ids, "channel": channels,
                        "potential": pot, "demand": d, "workload": workload}),
        "distributors": (m, {_DIST_ID: distributor_ids, "fixed_cost": fixed, "capacity": cap,
                             "existing": existing, "channels": served}),
    }
    net.crs = None
    net.graph = nx.Graph()
    net.graph.add_nodes_from(regions)
    # the cached outlet_region_index, from the lists in hand (pandas' get_indexer: ~0.4 ms at 100 outlets)
    pos = {r: i for i, r in enumerate(regions)}
    net.__dict__["outlet_region_index"] = np.fromiter((pos[r] for r in region_ids), dtype=np.intp, count=n)
    # two arrays, as the general path holds (costs() and distances() hand them out)
    net._costs, net._distances = cost, distances.copy() if distances is cost else distances
    net._costs_given = net._distances_given = True
    return net


def _parse_channels(value) -> frozenset | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, str):
        # ';' is the documented separator; ',', '|' and the full-width '；', '，' of a Chinese
        # keyboard mean the same.
        for sep in (",", "|", "\uff1b", "\uff0c"):
            value = value.replace(sep, ";")
        parts = [p.strip() for p in value.split(";")]
        parts = [p for p in parts if p]
        return frozenset(parts) if parts and parts != ["*"] else None
    if isinstance(value, Iterable):
        return frozenset(str(v) for v in value)
    return None


_FRAMES_LOCK = threading.Lock()


def _deferred_frame(name: str) -> property:
    """The attribute ``name`` (``regions``, ``outlets``, ``distributors``): a frame, or one still to be made.

    The frame lives in the instance's ``__dict__`` under its own name, as a plain
    attribute would (pickles, :meth:`ChannelNetwork.copy` and ``vars`` see the same keys).
    ``from_cost_matrix``'s light path leaves the columns in ``_pending_frames`` instead;
    the frame is made from them on first read, once. Setting the attribute drops them.
    """

    def get(self):
        d = self.__dict__
        try:
            return d[name]
        except KeyError:
            pass
        with _FRAMES_LOCK:  # two threads reading it first get the same frame, never one each
            if name in d:
                return d[name]
            pending = d.get("_pending_frames")
            if not pending or name not in pending:
                raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}") from None
            frame = pd.DataFrame(pending[name][1])
            d[name] = frame
            _drop_pending(d, name)
        return frame

    def set(self, value) -> None:
        d = self.__dict__
        _drop_pending(d, name)
        d[name] = value

    return property(get, set, doc=f"The {name} frame (made on first read for a light matrix network).")


def _drop_pending(d: dict, name: str) -> None:
    # a new dict, never an edit: a copy of the network made before shares the old one
    pending = d.get("_pending_frames")
    if pending and name in pending:
        rest = {k: v for k, v in pending.items() if k != name}
        if rest:
            d["_pending_frames"] = rest
        else:
            del d["_pending_frames"]


#: replacing one of these attributes drops the arrays computed from them (:meth:`ChannelNetwork._forget_derived`)
_DERIVED_FROM = frozenset({"regions", "outlets", "distributors", "cost_per_km", "road_graph", "road_weight"})


class ChannelNetwork:
    """Regions, outlets, candidate distributors, adjacency and service costs.

    Parameters
    ----------
    regions : DataFrame or GeoDataFrame
        One row per region with a ``region_id``. Polygons or points as geometry (or
        none, when ``graph`` is given). Any numeric columns (e.g. ``population``) may be
        balanced by territory models.
    outlets : DataFrame or GeoDataFrame, optional
        One row per outlet: ``outlet_id``, ``region_id``, ``channel``, ``potential``
        (sales potential); optional ``workload`` (default 1), ``demand`` (capacity used
        when served; default ``potential``), ``visits_per_month``. Point geometry, or
        the region's representative point when absent.
    distributors : DataFrame or GeoDataFrame, optional
        One row per candidate: ``distributor_id``, ``fixed_cost``, ``capacity`` (``inf``
        for none); optional ``channels`` (``"traditional;catering"`` or a list; absent or
        empty = every channel), ``existing`` (bool), ``region_id``, point geometry.
    graph : networkx.Graph or DataFrame of edges, optional
        Region adjacency with region ids as nodes, or a frame with ``region_a`` /
        ``region_b`` columns. Built from the geometry when omitted.
    costs : array or DataFrame of shape (n_outlets, n_distributors), optional
        Cost of serving each outlet's whole demand from each distributor. When omitted,
        ``cost_per_km * demand * distance``.
    contiguity : {"queen", "rook", "delaunay"}
        How to build the graph from geometry.
    cost_per_km : float, default 2e-4
        Service cost per unit of outlet demand per km, used when ``costs`` is omitted
        (cost = ``cost_per_km * demand * distance_km``). The default (:data:`DEFAULT_COST_PER_KM`)
        charges 2 % of an outlet's demand for every 100 km, the examples' assumption; set
        your own for real data: with demand in yuan a year, it is yuan per yuan-km.
    distances : array of shape (n_outlets, n_distributors), optional
        Precomputed distances, e.g. road-network km (see :func:`channelopt.geo.road_distances`).
    road_graph : networkx.Graph, optional
        A road network whose nodes carry ``x``/``y`` in the network's CRS; distances are
        then shortest paths over it (edge attribute ``road_weight``), outlets and
        distributors snapped to their nearest node.
    road_weight : str
        Edge attribute holding the road length in **metres** (as osmnx writes it);
        distances are reported in km.
    name : str, optional
        A label for reports and scenario tables.

    Raises
    ------
    ValidationError
        Missing columns, duplicate or missing ids, NaN / negative / non-numeric values,
        outlets in unknown regions, geometry without a CRS, an empty input, a graph
        whose nodes do not match the regions. The message names the column, the
        offending ids, and the fix.

    Notes
    -----
    **Units.** Every distance is in kilometres: haversine km for lon/lat (EPSG:4326)
    geometry, projected coordinates converted from their CRS unit (metres for
    EPSG:3857), road lengths from metres. ``max_distance`` and every other distance
    setting is in km. Plain frames with ``lon``/``lat`` columns (degrees) become point
    geometry in EPSG:4326.

    **Changing the data.** Replace a frame or setting (``net.outlets = moved``,
    ``net.cost_per_km = 3e-4``): the distances, costs, channel compatibility and region
    index computed from the old ones are dropped and computed again when next asked.
    Edits made in place inside a frame (``net.outlets.loc[...] = ...``) are not seen by
    arrays computed before them; matrices given as ``costs=`` / ``distances=`` stay.

    Examples
    --------
    >>> import pandas as pd, geopandas as gpd
    >>> from shapely.geometry import Point, box
    >>> regions = gpd.GeoDataFrame({"region_id": ["N", "S"]},
    ...     geometry=[box(0, 1000, 1000, 2000), box(0, 0, 1000, 1000)], crs=3857)
    >>> outlets = gpd.GeoDataFrame({"outlet_id": ["o1", "o2", "o3"], "region_id": ["N", "S", "S"],
    ...     "channel": ["traditional", "pharmacy", "traditional"], "potential": [5.0, 3.0, 2.0]},
    ...     geometry=[Point(500, 1500), Point(200, 200), Point(800, 800)], crs=3857)
    >>> dists = gpd.GeoDataFrame({"distributor_id": ["d1"], "fixed_cost": [10.0],
    ...     "capacity": [100.0]}, geometry=[Point(500, 1000)], crs=3857)
    >>> net = ChannelNetwork(regions, outlets, dists)
    >>> net
    ChannelNetwork(2 regions, 3 outlets, 1 distributors, 2 channels, 1 edges)
    >>> net.distance_unit, net.distances().round(3).tolist()    # EPSG:3857 metres, reported in km
    ('km', [[0.5], [0.854], [0.361]])
    """

    def __init__(
        self,
        regions: pd.DataFrame,
        outlets: pd.DataFrame | None = None,
        distributors: pd.DataFrame | None = None,
        graph: nx.Graph | pd.DataFrame | None = None,
        *,
        costs: np.ndarray | pd.DataFrame | None = None,
        contiguity: str = "queen",
        cost_per_km: float = DEFAULT_COST_PER_KM,
        distances: np.ndarray | None = None,
        road_graph: nx.Graph | None = None,
        road_weight: str = "length",
        name: str | None = None,
    ) -> None:
        self._settings(name, road_graph, road_weight, contiguity, cost_per_km)
        self.regions = self._validate_regions(regions)
        self.outlets = self._validate_outlets(outlets) if outlets is not None else None
        self.distributors = self._validate_distributors(distributors) if distributors is not None else None
        self._align_crs()
        self.graph = self._validate_graph(graph)
        self._costs = self._validate_matrix(costs, "costs") if costs is not None else None
        self._distances = self._validate_matrix(distances, "distances") if distances is not None else None
        self._costs_given = costs is not None  # _costs also caches computed costs
        self._distances_given = distances is not None  # _distances also caches computed km

    def __setattr__(self, name: str, value) -> None:
        if name in _DERIVED_FROM:
            self._forget_derived()
        object.__setattr__(self, name, value)

    def _forget_derived(self) -> None:
        """Drop what was computed from the frames and settings (issue 13's review: after
        ``net.outlets = moved`` a solve measured the old locations, and after a reordered frame
        the cached region index put outlets in the wrong regions)."""
        d = self.__dict__
        for key in ("outlet_region_index", "compatibility"):
            d.pop(key, None)
        if "_distances" in d and not d.get("_distances_given", False):
            d["_distances"] = None
        if "_costs" in d and not d.get("_costs_given", False):
            d["_costs"] = None

    def _settings(self, name, road_graph, road_weight, contiguity, cost_per_km) -> None:
        self.name = name
        self.road_graph = road_graph
        self.road_weight = road_weight
        self.contiguity = contiguity
        if not (np.isfinite(cost_per_km) and cost_per_km >= 0):
            raise SettingsError(f"cost_per_km must be a finite number >= 0, got {cost_per_km!r}.")
        self.cost_per_km = float(cost_per_km)

    # ------------------------------------------------------------------ validation
    def _validate_regions(self, regions) -> pd.DataFrame:
        frame = _require_frame(regions, "regions", _REGION_ID, [])
        self._check_crs(frame, "regions")
        for col in frame.columns:
            if col in (_REGION_ID, "geometry") or not pd.api.types.is_numeric_dtype(frame[col]):
                continue
            if pd.api.types.is_bool_dtype(frame[col]):
                continue
            nan = frame[col].isna()
            if nan.any():
                ids = frame.loc[nan, _REGION_ID].tolist()
                _fail(f"regions.{col} is NaN for region_id {format_ids(ids)}; fill or drop it.",
                      column=col, ids=ids)
        return frame

    def _validate_outlets(self, outlets) -> pd.DataFrame:
        frame = _require_frame(outlets, "outlets", _OUTLET_ID, [_REGION_ID, "channel", "potential"])
        self._check_crs(frame, "outlets")
        if "workload" not in frame.columns:
            frame["workload"] = 1.0
        if "demand" not in frame.columns:
            frame["demand"] = frame["potential"]
        for col in ("potential", "workload", "demand"):
            _check_numeric(frame, "outlets", _OUTLET_ID, col)
        if "visits_per_month" in frame.columns:
            _check_numeric(frame, "outlets", _OUTLET_ID, "visits_per_month")
        if frame["channel"].isna().any():
            ids = frame.loc[frame["channel"].isna(), _OUTLET_ID].tolist()
            _fail(f"outlets.channel is missing for outlet_id {format_ids(ids)}.", column="channel", ids=ids)
        frame["channel"] = frame["channel"].astype(str)
        known = set(self.regions[_REGION_ID].tolist())
        unknown = ~frame[_REGION_ID].isin(known)
        if unknown.any():
            ids = frame.loc[unknown, _OUTLET_ID].tolist()
            regs = pd.unique(frame.loc[unknown, _REGION_ID]).tolist()
            _fail(
                f"outlets.region_id refers to unknown regions {format_ids(regs)} for outlet_id "
                f"{format_ids(ids)}; add those regions or fix the outlets' region_id.",
                column=_REGION_ID,
                ids=ids,
            )
        return frame

    def _validate_distributors(self, distributors) -> pd.DataFrame:
        frame = _require_frame(distributors, "distributors", _DIST_ID, ["fixed_cost", "capacity"])
        self._check_crs(frame, "distributors")
        _check_numeric(frame, "distributors", _DIST_ID, "fixed_cost")
        _check_numeric(frame, "distributors", _DIST_ID, "capacity", allow_inf=True)
        if "existing" not in frame.columns:
            frame["existing"] = False
        if frame["existing"].isna().any():
            ids = frame.loc[frame["existing"].isna(), _DIST_ID].tolist()
            _fail(f"distributors.existing is missing for {format_ids(ids)}; use True/False.",
                  column="existing", ids=ids)
        frame["existing"] = frame["existing"].astype(bool)
        if "channels" not in frame.columns:
            frame["channels"] = None
        # Empty cells (NaN, "") mean every channel: hold them as None, never as a float NaN.
        frame["channels"] = pd.Series(
            [None if v is None or (isinstance(v, float) and np.isnan(v)) or (isinstance(v, str) and not v.strip())
             else v for v in frame["channels"].tolist()], index=frame.index, dtype=object)
        self._check_distributor_channels(frame)
        if _REGION_ID in frame.columns:
            known = set(self.regions[_REGION_ID].tolist())
            unknown = frame[_REGION_ID].notna() & ~frame[_REGION_ID].isin(known)
            if unknown.any():
                ids = frame.loc[unknown, _DIST_ID].tolist()
                _fail(f"distributors.region_id refers to unknown regions for distributor_id "
                      f"{format_ids(ids)}; fix region_id or leave it empty.", column=_REGION_ID, ids=ids)
        return frame

    def _check_distributor_channels(self, frame: pd.DataFrame) -> None:
        """A listed channel must be one the outlets have or a standard one (``traditional;KA`` is a typo)."""
        if self.outlets is None:
            return
        known = set(self.outlets["channel"].tolist()) | set(CHANNELS)
        bad_ids, bad_names = [], []
        for dist_id, value in zip(frame[_DIST_ID].tolist(), frame["channels"].tolist()):
            allowed = _parse_channels(value)
            unknown = sorted(allowed - known) if allowed is not None else []
            if unknown:
                bad_ids.append(dist_id)
                bad_names.extend(c for c in unknown if c not in bad_names)
        if bad_ids:
            import difflib

            hints = []
            for c in bad_names[:5]:
                near = difflib.get_close_matches(c, sorted(known), n=1, cutoff=0.5)
                hints.append(f"{c!r} (did you mean {near[0]!r}?)" if near else repr(c))
            _fail(f"distributors.channels names channel(s) {', '.join(hints)} that no outlet has, for "
                  f"distributor_id {format_ids(bad_ids)}. Outlet channels are {sorted(set(self.outlets['channel']))}; "
                  f"separate channels with ';' (e.g. 'traditional;catering') and spell them as in outlets.channel.",
                  column="channels", ids=bad_ids)

    @staticmethod
    def _check_crs(frame: pd.DataFrame, name: str) -> None:
        if isinstance(frame, gpd.GeoDataFrame) and "geometry" in frame.columns:
            geom = frame.geometry
            if geom.isna().any() or geom.is_empty.any():
                id_col = {"regions": _REGION_ID, "outlets": _OUTLET_ID}.get(name, _DIST_ID)
                bad = geom.isna() | geom.is_empty
                ids = frame.loc[bad, id_col].tolist()
                _fail(f"{name}.geometry is missing or empty for {id_col} {format_ids(ids)}.",
                      column="geometry", ids=ids)
            if frame.crs is None:
                _fail(
                    f"{name} has geometry but no CRS, so distances cannot be measured. Set it, "
                    f"e.g. {name}.set_crs('EPSG:4326') for lon/lat degrees.",
                    column="geometry",
                )
            points = (geom.geom_type == "Point").to_numpy()
            if points.any():
                id_col = {"regions": _REGION_ID, "outlets": _OUTLET_ID}.get(name, _DIST_ID)
                ids = frame[id_col].to_numpy()[points]
                x, y = shapely.get_x(geom.values[points]), shapely.get_y(geom.values[points])
                if frame.crs.is_geographic:
                    _check_lonlat(ids, x, y, name, id_col, "geometry (lon)", "geometry (lat)")
                else:
                    bad = ~(np.isfinite(x) & np.isfinite(y))
                    if bad.any():
                        _fail(f"{name}.geometry has NaN coordinates for {id_col} {format_ids(ids[bad])}.",
                              column="geometry", ids=ids[bad])

    def _align_crs(self) -> None:
        crs = getattr(self.regions, "crs", None) if self._has_geometry(self.regions) else None
        for attr in ("outlets", "distributors"):
            frame = getattr(self, attr)
            if frame is None or not self._has_geometry(frame):
                continue
            if crs is None:
                crs = frame.crs
            elif frame.crs != crs:
                setattr(self, attr, frame.to_crs(crs))
        self.crs = crs

    @staticmethod
    def _has_geometry(frame) -> bool:
        return isinstance(frame, gpd.GeoDataFrame) and "geometry" in frame.columns and frame.crs is not None

    def _validate_graph(self, graph) -> nx.Graph:
        ids = self.regions[_REGION_ID].tolist()
        if graph is None:
            if self._has_geometry(self.regions):
                kind = self.contiguity
                if kind != "delaunay" and not (self.regions.geom_type.isin(["Polygon", "MultiPolygon"]).all()):
                    kind = "delaunay"
                return geo.adjacency_graph(self.regions, _REGION_ID, kind)
            g = nx.Graph()
            g.add_nodes_from(ids)
            return g
        if isinstance(graph, pd.DataFrame):
            cols = [c for c in ("region_a", "region_b") if c not in graph.columns]
            if cols:
                _fail(f"graph edges frame is missing column(s) {cols}; give region_a and region_b.",
                      column=cols[0])
            g = nx.Graph()
            g.add_nodes_from(ids)
            extra = [c for c in graph.columns if c not in ("region_a", "region_b")]
            for row in graph[["region_a", "region_b", *extra]].itertuples(index=False):
                g.add_edge(row[0], row[1], **dict(zip(extra, row[2:])))
        elif isinstance(graph, nx.Graph):
            if graph.is_directed():
                graph = graph.to_undirected()
            g = nx.Graph(graph)
        else:
            raise ValidationError(f"graph must be a networkx Graph or an edge DataFrame, got {type(graph).__name__}.")
        nodes = set(g.nodes)
        known = set(ids)
        missing = [r for r in ids if r not in nodes]
        extra_nodes = [n for n in g.nodes if n not in known]
        if extra_nodes:
            _fail(f"graph has nodes that are not regions: {format_ids(extra_nodes)}; "
                  f"graph nodes must be the regions' region_id values.", column=_REGION_ID, ids=extra_nodes)
        if missing:
            g.add_nodes_from(missing)
        return g

    def _validate_matrix(self, matrix, name: str) -> np.ndarray:
        if self.outlets is None or self.distributors is None:
            raise SettingsError(f"{name} needs both outlets and distributors.")
        shape = (len(self.outlets), len(self.distributors))
        if isinstance(matrix, pd.DataFrame):
            matrix = matrix.reindex(index=self.outlets[_OUTLET_ID], columns=self.distributors[_DIST_ID])
        arr = np.array(matrix, dtype=float)
        if arr.shape != shape:
            _fail(f"{name} has shape {arr.shape}; expected (n_outlets, n_distributors) = {shape}.", column=name)
        nan_rows = np.flatnonzero(np.isnan(arr).any(axis=1))
        if len(nan_rows):
            ids = self.outlets[_OUTLET_ID].to_numpy()[nan_rows].tolist()
            _fail(f"{name} has NaN entries for outlet_id {format_ids(ids)}; use np.inf for 'cannot serve'.",
                  column=name, ids=ids)
        neg_rows = np.flatnonzero((arr < 0).any(axis=1))
        if len(neg_rows):
            ids = self.outlets[_OUTLET_ID].to_numpy()[neg_rows].tolist()
            _fail(f"{name} has negative entries for outlet_id {format_ids(ids)}.", column=name, ids=ids)
        return arr

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_cost_matrix(
        cls,
        cost,
        demand=None,
        fixed_cost=None,
        capacity=None,
        *,
        outlet_ids: Sequence[Hashable] | None = None,
        distributor_ids: Sequence[Hashable] | None = None,
        distances=None,
        potential=None,
        channel: str | Sequence[str] = "all",
        region_ids: Sequence[Hashable] | None = None,
    ) -> ChannelNetwork:
        """Network from plain arrays, for OR work and benchmarks.

        Parameters
        ----------
        cost : array of shape (n_outlets, n_distributors)
            Cost of serving each outlet's whole demand from each distributor
            (``inf`` = cannot serve).
        demand : array of shape (n_outlets,), optional
            Capacity each outlet uses; default 1.
        fixed_cost : array of shape (n_distributors,), optional
            Default 0.
        capacity : array of shape (n_distributors,), optional
            Default ``inf`` (uncapacitated).
        distances : array of shape (n_outlets, n_distributors), optional
            Used by ``max_distance``, p-center and coverage objectives; defaults to ``cost``.
        potential : array, optional
            Sales potential for weighted distribution; defaults to ``demand``.

        Notes
        -----
        When every check passes in numpy, the ``regions``, ``outlets`` and ``distributors``
        frames are made on first read (a distributor-selection solve reads their columns
        without making them): the same frames, made later. Once made, or set, a frame is
        what every later solve reads; edit it in place or replace it as on any network.

        Examples
        --------
        >>> net = ChannelNetwork.from_cost_matrix([[1, 4], [3, 1], [5, 2]], fixed_cost=[2, 3])
        >>> net.costs().tolist()
        [[1.0, 4.0], [3.0, 1.0], [5.0, 2.0]]
        """
        cost_arr = np.array(cost, dtype=float)
        if cost_arr.ndim != 2 or 0 in cost_arr.shape:
            raise ValidationError(f"cost must be a non-empty 2-D array (n_outlets, n_distributors); "
                                  f"got shape {cost_arr.shape}.", column="cost")
        n, m = cost_arr.shape

        def vec(values, size, default, what):
            if values is None:
                return np.full(size, default, dtype=float)
            arr = np.array(values, dtype=float).reshape(-1)
            if arr.shape != (size,):
                raise ValidationError(f"{what} has length {arr.shape[0]}; expected {size}.", column=what)
            return arr

        d = vec(demand, n, 1.0, "demand")
        pot = vec(potential, n, 0.0, "potential") if potential is not None else d.copy()
        fixed = vec(fixed_cost, m, 0.0, "fixed_cost")
        cap = vec(capacity, m, np.inf, "capacity")
        outlet_ids = list(outlet_ids) if outlet_ids is not None else [f"o{i}" for i in range(n)]
        distributor_ids = list(distributor_ids) if distributor_ids is not None else [f"d{j}" for j in range(m)]
        region_ids = list(region_ids) if region_ids is not None else ["all"] * n
        channels = channel if isinstance(channel, str) else list(channel)
        dist_arr = cost_arr if distances is None else np.array(distances, dtype=float)
        light = _light_matrix_network(cls, outlet_ids, distributor_ids, region_ids, channels, cost_arr, dist_arr,
                                      (d, pot, fixed, cap))
        if light is not None:
            return light
        # something to name (NaN, negative, duplicate or missing ids, shapes): the general
        # constructor's checks say what and where
        outlets = pd.DataFrame({
            _OUTLET_ID: outlet_ids,
            _REGION_ID: region_ids,
            "channel": channels,
            "potential": pot,
            "demand": d,
        })
        dists = pd.DataFrame({_DIST_ID: distributor_ids, "fixed_cost": fixed, "capacity": cap})
        regions = pd.DataFrame({_REGION_ID: pd.unique(pd.Series(region_ids))})
        return cls(regions, outlets, dists, costs=cost_arr, distances=dist_arr)

    @classmethod
    def from_graph(
        cls, graph: nx.Graph, weight_attrs: Sequence[str] = (), *, name: str | None = None
    ) -> ChannelNetwork:
        """Region-level network from a networkx graph whose nodes carry numbers.

        Parameters
        ----------
        graph : networkx.Graph
            Nodes are regions. Node attributes named in ``weight_attrs`` become numeric
            region columns (e.g. ``TOTPOP``); ``x``/``y`` or ``lon``/``lat`` attributes,
            if present, become point geometry (lon/lat is taken as EPSG:4326).
        weight_attrs : sequence of str
            Node attributes every node must carry as non-negative numbers.

        Examples
        --------
        >>> import networkx as nx
        >>> g = nx.path_graph(4)
        >>> nx.set_node_attributes(g, {0: 5, 1: 3, 2: 4, 3: 6}, "pop")
        >>> net = ChannelNetwork.from_graph(g, ["pop"])
        >>> net.regions["pop"].tolist()
        [5.0, 3.0, 4.0, 6.0]
        """
        if not isinstance(graph, nx.Graph):
            raise ValidationError(f"graph must be a networkx Graph, got {type(graph).__name__}.")
        if graph.number_of_nodes() == 0:
            raise ValidationError("graph has no nodes; give one node per region.", column=_REGION_ID)
        nodes = list(graph.nodes)
        data: dict[str, list] = {_REGION_ID: nodes}
        for attr in weight_attrs:
            values = [graph.nodes[n].get(attr) for n in nodes]
            missing = [n for n, v in zip(nodes, values) if v is None]
            if missing:
                raise ValidationError(
                    f"graph nodes {format_ids(missing)} lack the attribute '{attr}'; every node needs it.",
                    column=attr, ids=missing,
                )
            data[attr] = values
        frame = pd.DataFrame(data)
        for attr in weight_attrs:
            _check_numeric(frame, "regions", _REGION_ID, attr)
        attrs0 = graph.nodes[nodes[0]]
        for xa, ya, crs in (("lon", "lat", "EPSG:4326"), ("x", "y", None)):
            if xa in attrs0 and ya in attrs0 and all(xa in graph.nodes[n] and ya in graph.nodes[n] for n in nodes):
                xs = [graph.nodes[n][xa] for n in nodes]
                ys = [graph.nodes[n][ya] for n in nodes]
                frame = gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(xs, ys), crs=crs or "EPSG:3857")
                break
        plain = nx.Graph()
        plain.add_nodes_from(nodes)
        plain.add_edges_from(graph.edges(data=True))
        return cls(frame, graph=plain, name=name)

    # ------------------------------------------------------------------ views
    def __repr__(self) -> str:
        n_out = 0 if self.outlets is None else len(self.outlets)
        n_dist = 0 if self.distributors is None else len(self.distributors)
        return (f"ChannelNetwork({len(self.regions)} regions, {n_out} outlets, {n_dist} distributors, "
                f"{len(self.channels)} channels, {self.graph.number_of_edges()} edges)")

    regions = _deferred_frame("regions")
    outlets = _deferred_frame("outlets")
    distributors = _deferred_frame("distributors")

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        for _, cols in state.get("_pending_frames", {}).values():
            for value in cols.values():
                if isinstance(value, np.ndarray):
                    value.flags.writeable = False  # as made (pickle does not keep the flag)

    def _pending(self, table: str):
        """``(rows, columns)`` of ``table`` while its frame is still to be made, else None."""
        d = self.__dict__
        if table in d:
            return None
        pending = d.get("_pending_frames")
        return pending.get(table) if pending else None

    def _count(self, table: str) -> int:
        """Rows of ``table`` (``"outlets"``, ``"distributors"``, ``"regions"``), without making its frame."""
        pending = self._pending(table)
        if pending is not None:
            return pending[0]
        if table == "outlets":
            return len(self._need_outlets())
        if table == "distributors":
            return len(self._need_distributors())
        return len(self.regions)

    def _has_column(self, table: str, column: str) -> bool:
        pending = self._pending(table)
        if pending is not None:
            return column in pending[1]
        frame = getattr(self, table)
        return frame is not None and column in frame.columns

    def _column(self, table: str, column: str, dtype=None, *, copy: bool = False) -> np.ndarray:
        """``getattr(self, table)[column].to_numpy(dtype, copy=copy)``, without making a frame still to be made.

        The values are the frame's: the same numbers, ids and dtypes (str ids as an object
        array). Read them, never write them (a deferred frame's columns are read-only).
        ``copy``: values kept past later edits of the frame; a deferred frame's columns never
        change (its frame is made from copies), so they need none.
        """
        pending = self._pending(table)
        if pending is None:
            frame = self._need_outlets() if table == "outlets" else (
                self._need_distributors() if table == "distributors" else self.regions)
            return frame[column].to_numpy(dtype=dtype, copy=copy)
        rows, cols = pending
        value = cols[column]
        if isinstance(value, str):  # one channel for every outlet
            return np.full(rows, value, dtype=object if dtype is None else dtype)
        if isinstance(value, list):  # ids (or channels): all str or all int64 (see _plain_ids)
            return np.array(value, dtype=dtype if dtype is not None else (
                object if rows and isinstance(value[0], str) else np.int64))
        return value if dtype is None else value.astype(dtype, copy=False)

    def _column_array(self, table: str, column: str):
        """A function giving ``getattr(self, table)[column].array`` as it is now (a copy): a later edit of the
        frame does not reach it. A deferred frame's column is made only when the function is called."""
        pending = self._pending(table)
        if pending is None:
            arr = getattr(self, table)[column].array.copy()
            return lambda: arr
        rows, cols = pending
        value = cols[column]
        # the frame's own inference: pandas makes a frame's column as it makes a Series
        return lambda: pd.Series([value] * rows if isinstance(value, str) else value).array

    def _channel_codes(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``pd.factorize(outlets.channel, sort=True)`` when one channel given as text is every outlet's (a
        deferred frame: codes all 0, no pass over the outlets), else None (factorise the column)."""
        pending = self._pending("outlets")
        if pending is None or not isinstance(pending[1]["channel"], str):
            return None
        return np.zeros(pending[0], dtype=np.intp), np.array([pending[1]["channel"]], dtype=object)

    @property
    def region_ids(self) -> np.ndarray:
        return self._column("regions", _REGION_ID)

    @property
    def outlet_ids(self) -> np.ndarray:
        return self._column("outlets", _OUTLET_ID)

    @property
    def distributor_ids(self) -> np.ndarray:
        return self._column("distributors", _DIST_ID)

    @property
    def channels(self) -> list[str]:
        if self.outlets is None:
            return []
        return sorted(pd.unique(self.outlets["channel"]).tolist())

    @property
    def geographic(self) -> bool:
        return self.crs is not None and getattr(self.crs, "is_geographic", False)

    @property
    def distance_unit(self) -> str:
        """``"km"`` for every network with geometry (lon/lat or projected), else ``"as given"``.

        Geographic coordinates give haversine km; projected coordinates are converted
        from their CRS unit (e.g. metres) to km. A ``distances=`` / ``costs=`` matrix is
        taken in whatever unit it was given.
        """
        if self.__dict__.get("_distances_given", False) or self.crs is None:
            return "as given"
        return "km"

    @property
    def _km_per_crs_unit(self) -> float:
        if self.crs is None or self.geographic:
            return 1.0
        try:
            return float(self.crs.axis_info[0].unit_conversion_factor) / 1000.0
        except (AttributeError, IndexError, TypeError):
            return 1e-3  # projected CRSs without axis info are metres in practice

    def _need_outlets(self) -> pd.DataFrame:
        if self.outlets is None:
            raise SettingsError("this network has no outlets; give outlets to ChannelNetwork(...).")
        return self.outlets

    def _need_distributors(self) -> pd.DataFrame:
        if self.distributors is None:
            raise SettingsError("this network has no candidate distributors; give distributors to ChannelNetwork(...).")
        return self.distributors

    @cached_property
    def outlet_region_index(self) -> np.ndarray:
        """Position of each outlet's region in ``regions``."""
        pos = pd.Index(self.region_ids)
        return pos.get_indexer(self._need_outlets()[_REGION_ID])

    def _points(self, frame: pd.DataFrame | None, what: str) -> np.ndarray | None:
        if frame is None:
            return None
        # kept while the frames are the same objects: measuring links a chunk of outlets at a time asks
        # for the points each chunk (20,000 x 1,000: 233 calls, 10.7 of a 35 s build in geopandas)
        kept = self.__dict__.setdefault("_points_kept", {})
        hit = kept.get(what)
        if hit is not None and hit[0] is frame and hit[1] is self.regions:
            return hit[2]
        xy = self._measure_points(frame, what)
        if xy is not None:
            xy.flags.writeable = False
        kept[what] = (frame, self.regions, xy)
        return xy

    def _measure_points(self, frame: pd.DataFrame, what: str) -> np.ndarray | None:
        if self._has_geometry(frame):
            geoms = frame.geometry
            if not (geoms.geom_type == "Point").all():
                geoms = geoms.representative_point()
            return np.column_stack([geoms.x.to_numpy(), geoms.y.to_numpy()])
        if what == "outlets" and self._has_geometry(self.regions):
            reg = self.region_xy()
            return reg[self.outlet_region_index]
        if what == "distributors" and _REGION_ID in frame.columns and self._has_geometry(self.regions):
            idx = pd.Index(self.region_ids).get_indexer(frame[_REGION_ID])
            if (idx >= 0).all():
                return self.region_xy()[idx]
        return None

    def region_xy(self) -> np.ndarray | None:
        """Representative point of each region (x/lon, y/lat), or None without geometry."""
        if not self._has_geometry(self.regions):
            return None
        geoms = self.regions.geometry
        pts = geoms if (geoms.geom_type == "Point").all() else geoms.representative_point()
        return np.column_stack([pts.x.to_numpy(), pts.y.to_numpy()])

    def outlet_xy(self) -> np.ndarray | None:
        return self._points(self.outlets, "outlets")

    def distributor_xy(self) -> np.ndarray | None:
        return self._points(self.distributors, "distributors")

    def distances(self) -> np.ndarray:
        """Outlet x distributor distances in km (haversine for lon/lat; projected CRS units converted).

        Dense (n x m, cached). Large networks: prefer :meth:`links` and
        :meth:`link_distances`, which make no n x m array.

        Raises
        ------
        SettingsError
            When neither geometry nor a distance matrix is available.
        """
        if self._distances is not None:
            return self._distances
        a, b = self.outlet_xy(), self.distributor_xy()
        if a is None or b is None:
            raise SettingsError("distances need outlet and distributor locations (geometry) or a "
                                "distances= / costs= matrix.")
        if self.road_graph is not None:
            # Road lengths are metres (the osmnx convention), reported in km like every distance.
            self._distances = geo.road_distances(self.road_graph, a, b, weight=self.road_weight) / 1000.0
        else:
            self._distances = geo.pairwise_distances(a, b, self.geographic) * self._km_per_crs_unit
        return self._distances

    def point_distances(self, a_xy: np.ndarray, b_xy: np.ndarray) -> np.ndarray:
        """Distances in km between points given in the network's CRS (haversine for lon/lat).

        For models and charts that measure between their own points (e.g. distributor
        pairs) in the same unit as :meth:`distances`.
        """
        return geo.pairwise_distances(a_xy, b_xy, self.geographic) * self._km_per_crs_unit

    def link_distances(self, oi, dj) -> np.ndarray:
        """Distances in km of the links ``(oi[k], dj[k])`` (outlet and distributor positions).

        Read from the distance matrix when one was given or already computed; otherwise
        measured on the links alone, so no n x m array is made (issue 13).
        """
        oi, dj = np.asarray(oi, dtype=np.int64), np.asarray(dj, dtype=np.int64)
        if self._distances is not None or self.road_graph is not None:
            return self.distances()[oi, dj]
        a, b = self.outlet_xy(), self.distributor_xy()
        if a is None or b is None:
            raise SettingsError("distances need outlet and distributor locations (geometry) or a "
                                "distances= / costs= matrix.")
        if self.geographic:
            return geo.haversine_km(a[oi, 0], a[oi, 1], b[dj, 0], b[dj, 1])
        diff = a[oi] - b[dj]
        return np.sqrt(np.einsum("ij,ij->i", diff, diff)) * self._km_per_crs_unit

    def link_costs(self, oi, dj) -> np.ndarray:
        """Cost of serving outlet ``oi[k]``'s whole demand from distributor ``dj[k]``, per link.

        From the cost matrix when one was given or already computed; otherwise
        ``cost_per_km * demand * distance`` on the links alone (no n x m array).
        """
        oi, dj = np.asarray(oi, dtype=np.int64), np.asarray(dj, dtype=np.int64)
        if self._costs is not None:
            return self._costs[oi, dj]
        demand = self._need_outlets()["demand"].to_numpy(dtype=float)
        return self.cost_per_km * demand[oi] * self.link_distances(oi, dj)

    def channel_table(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Channel compatibility without an n x m array: ``(codes, channels, table)``.

        ``channels`` are the distinct outlet channels, ``codes`` each outlet's position in
        them and ``table[c, j]`` whether distributor ``j`` serves channel ``c``; outlet
        ``i``'s row of :attr:`compatibility` is ``table[codes[i]]``.
        """
        codes, uniq = pd.factorize(self._column("outlets", "channel"))
        table = np.ones((len(uniq), self._count("distributors")), dtype=bool)
        for j, value in enumerate(self._column("distributors", "channels").tolist()):
            allowed = _parse_channels(value)
            if allowed is not None:
                table[:, j] = np.isin(np.asarray(uniq, dtype=object), list(allowed))
        return codes, np.asarray(uniq, dtype=object), table

    def _link_chunks(self, *, max_distance: float | None, exclude, need_distance: bool,
                     chunk_cells: int = 1 << 18):
        """Blocks of whole outlet rows: ``(lo, hi, ok, cost, distance)``, each ``(hi - lo, m)``.

        ``ok`` marks the allowed links (compatible channel, finite cost, within
        ``max_distance``, distributor not excluded); ``distance`` is None unless needed.
        """
        n, m = self._count("outlets"), self._count("distributors")
        cols = np.ones(m, dtype=bool) if exclude is None else ~np.asarray(exclude, dtype=bool)
        if all(_parse_channels(v) is None for v in self._column("distributors", "channels").tolist()):
            # every distributor carries every channel (e.g. any from_cost_matrix network): the outlets'
            # channels need no codes (factorising them took ~0.1 ms of a 5 ms 100 x 5 set cover)
            codes, table = np.zeros(n, dtype=np.intp), cols[None, :]
        else:
            codes, _, table = self.channel_table()
            table = table & cols[None, :]
        step = max(1, int(chunk_cells) // max(m, 1))
        need = need_distance or max_distance is not None
        demand = self._column("outlets", "demand", float)
        for lo in range(0, n, step):
            hi = min(n, lo + step)
            dist = None
            if need:
                if self._distances is not None or self.road_graph is not None:
                    dist = self.distances()[lo:hi]
                else:
                    oi, dj = np.divmod(np.arange(lo * m, hi * m, dtype=np.int64), m)
                    dist = self.link_distances(oi, dj).reshape(hi - lo, m)
            if self._costs is not None:
                cost = self._costs[lo:hi]
            elif dist is not None and self._distances is None and self.road_graph is None:
                # link_costs' own formula on the distances in hand (measured once, not twice)
                cost = self.cost_per_km * demand[lo:hi, None] * dist
            else:
                oi, dj = np.divmod(np.arange(lo * m, hi * m, dtype=np.int64), m)
                cost = self.link_costs(oi, dj).reshape(hi - lo, m)
            ok = table[codes[lo:hi]] & np.isfinite(cost)
            if max_distance is not None:
                ok &= dist <= max_distance
            yield lo, hi, ok, cost, dist

    def _allowed_cache(self, max_distance, exclude) -> dict:
        """What is kept of :meth:`allowed_counts` for these settings and this data (one entry: a network serves
        one model's settings at a time).

        The key holds what the links depend on besides the settings: the distributors' channel
        lists, and the outlets' channels when some list restricts them (by value: an edit in
        place counts), and the frames, cost and distance arrays in use (by object: a replaced
        one counts). Keyed on the settings alone, a re-solve after ``net.distributors =
        ....assign(channels=...)`` reused the old links and served outlets from distributors
        that no longer carry their channel.
        """
        served = tuple(_parse_channels(v) for v in self._column("distributors", "channels").tolist())
        channels = None
        if any(s is not None for s in served):
            channels = tuple(self._column("outlets", "channel").tolist())
        key = (max_distance, None if exclude is None else np.asarray(exclude, dtype=bool).tobytes(), served, channels)
        d = self.__dict__
        objects = (d.get("outlets"), d.get("distributors"), self._costs, self._distances, self.road_graph)
        cache = d.setdefault("_allowed_kept", {})
        held = d.get("_allowed_for")
        if key not in cache or held is None or any(a is not b for a, b in zip(held, objects)):
            cache.clear()
            cache[key] = {}
            d["_allowed_for"] = objects
        return cache[key]

    def allowed_links(self, *, max_distance: float | None = None, exclude=None) -> tuple[np.ndarray, np.ndarray]:
        """Allowed (outlet, distributor) links as position arrays ``(oi, dj)``, by outlet then distributor.

        A link is allowed when the distributor carries the outlet's channel, the cost is
        finite, the distance is within ``max_distance`` km and the distributor is not in
        ``exclude`` (a boolean mask): :meth:`links` without ``k`` or ``radius``. Built a
        chunk of outlets at a time, so no n x m array is made (issue 13); the network
        keeps only each outlet's count (:meth:`allowed_counts`), not the links (but for
        networks of at most 65,536 pairs, whose links :meth:`allowed_counts` keeps).

        Examples
        --------
        >>> net = ChannelNetwork.from_cost_matrix([[1, 4, 2], [3, 1, 9]], distances=[[1, 4, 2], [3, 1, 9]])
        >>> [a.tolist() for a in net.allowed_links(max_distance=3)]
        [[0, 0, 1, 1], [0, 2, 0, 1]]
        """
        kept = self._allowed_cache(max_distance, exclude)
        if "links" in kept:  # a small network's, kept by allowed_counts: copies, the caller may change them
            return kept["links"][0].copy(), kept["links"][1].copy()
        oi_parts, dj_parts = [], []
        for lo, _hi, ok, _, _ in self._link_chunks(max_distance=max_distance, exclude=exclude, need_distance=False):
            r, c = np.nonzero(ok)
            oi_parts.append(r + lo)
            dj_parts.append(c)
        oi = np.concatenate(oi_parts) if oi_parts else np.zeros(0, dtype=np.intp)
        dj = np.concatenate(dj_parts) if dj_parts else np.zeros(0, dtype=np.intp)
        if "counts" not in kept:
            counts = np.bincount(oi, minlength=self._count("outlets"))
            counts.flags.writeable = False
            kept["counts"] = counts
        return oi, dj

    def allowed_counts(self, *, max_distance: float | None = None, exclude=None) -> np.ndarray:
        """How many allowed links (see :meth:`allowed_links`) each outlet has; kept by the network (read-only).

        One pass over chunks of outlets that keeps only the counts, unless
        :meth:`allowed_links` already counted them.
        """
        kept = self._allowed_cache(max_distance, exclude)
        if "counts" not in kept and self._count("outlets") * self._count("distributors") <= _KEEP_LINKS_PAIRS:
            oi, dj = self.allowed_links(max_distance=max_distance, exclude=exclude)  # counts them too
            oi.flags.writeable = dj.flags.writeable = False
            kept["links"] = (oi, dj)
        if "counts" not in kept:
            counts = np.zeros(self._count("outlets"), dtype=np.intp)
            for lo, hi, ok, _, _ in self._link_chunks(max_distance=max_distance, exclude=exclude,
                                                      need_distance=False):
                counts[lo:hi] = ok.sum(axis=1)
            counts.flags.writeable = False
            kept["counts"] = counts
        return kept["counts"]

    def links(self, *, k: int | None = None, radius: float | None = None, max_distance: float | None = None,
              exclude=None, by: str = "distance", keep_nearest: bool = True,
              chunk_cells: int = 1 << 18) -> pd.DataFrame:
        """Candidate (outlet, distributor) links as a sparse table, built without any n x m array.

        Allowed links are channel-compatible, of finite cost, within ``max_distance``
        and not to an ``exclude``-d distributor. Outlets are taken a chunk at a time
        (about ``chunk_cells`` pairs), so memory stays O(links + chunk) whatever the
        network's size (issue 13).

        Parameters
        ----------
        k : int, optional
            Keep each outlet's ``k`` nearest allowed distributors.
        radius : float, optional
            Keep links within ``radius`` (with ``keep_nearest``, an outlet whose every
            allowed link is farther keeps its nearest one).
        max_distance : float, optional
            Drop links farther than this many km (a hard rule: no nearest is kept).
        exclude : boolean array over distributors, optional
        by : {"distance", "cost"}
            What "nearest" means for ``k`` and ``radius``.

        Returns
        -------
        DataFrame
            ``outlet`` and ``distributor`` (positions), ``distance`` (km; NaN without
            locations or a distance matrix), ``cost``; sorted by outlet, then by ``by``.

        Examples
        --------
        >>> net = ChannelNetwork.from_cost_matrix([[1, 4, 2], [3, 1, 9]], distances=[[1, 4, 2], [3, 1, 9]])
        >>> net.links(k=2)[["outlet", "distributor", "cost"]].to_numpy().tolist()
        [[0.0, 0.0, 1.0], [0.0, 2.0, 2.0], [1.0, 1.0, 1.0], [1.0, 0.0, 3.0]]
        """
        if by not in ("distance", "cost"):
            raise SettingsError(f"links(by=...) is 'distance' or 'cost', got {by!r}.")
        need = by == "distance"
        if need and max_distance is None:
            try:
                self.link_distances(np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64))
            except SettingsError:
                if k is not None or radius is not None:
                    raise
                need = False
        parts = []
        for lo, _hi, ok, cost, dist in self._link_chunks(max_distance=max_distance, exclude=exclude,
                                                        need_distance=need, chunk_cells=chunk_cells):
            rows, m = ok.shape
            key = np.where(ok, dist if by == "distance" else cost, np.inf)
            if k is not None and k < m:
                # each row's k smallest (argpartition, as the dense rule did), then in order
                cand = np.argpartition(key, k - 1, axis=1)[:, :k]
            else:
                cand = np.broadcast_to(np.arange(m), (rows, m))
            ck = np.take_along_axis(key, cand, axis=1)
            order = np.lexsort((cand, ck), axis=1)
            cand, ck = np.take_along_axis(cand, order, axis=1), np.take_along_axis(ck, order, axis=1)
            sel = np.isfinite(ck)
            if radius is not None:
                near = ck <= radius
                if keep_nearest:
                    near[:, 0] |= ~near.any(axis=1)  # the nearest allowed one stays
                sel &= near
            r, c = np.nonzero(sel)
            oi, dj = r + lo, cand[r, c]
            parts.append((oi, dj, np.full(len(oi), np.nan) if dist is None else dist[r, dj],
                          cost[r, dj]))
        cat = [np.concatenate([p_[i] for p_ in parts]) if parts else np.zeros(0) for i in range(4)]
        return pd.DataFrame({"outlet": cat[0].astype(np.int64), "distributor": cat[1].astype(np.int64),
                             "distance": cat[2].astype(float), "cost": cat[3].astype(float)})

    def costs(self) -> np.ndarray:
        """Outlet x distributor cost of serving the outlet's whole demand (dense, n x m).

        Large networks: prefer :meth:`links` (candidate links) and :meth:`link_costs`,
        which make no n x m array.
        """
        if self._costs is None:
            demand = self._need_outlets()["demand"].to_numpy(dtype=float)
            self._costs = self.cost_per_km * demand[:, None] * self.distances()
        return self._costs

    def region_distances(self) -> np.ndarray:
        """Region x region distances in km between representative points, or graph hops without geometry."""
        xy = self.region_xy()
        if xy is not None:
            return geo.pairwise_distances(xy, xy, self.geographic) * self._km_per_crs_unit
        ids = list(self.region_ids)
        pos = {r: i for i, r in enumerate(ids)}
        out = np.full((len(ids), len(ids)), np.inf)
        for src, lengths in nx.all_pairs_shortest_path_length(self.graph):
            i = pos[src]
            for dst, d in lengths.items():
                out[i, pos[dst]] = d
        return out

    @cached_property
    def compatibility(self) -> np.ndarray:
        """Boolean (n_outlets, n_distributors): may distributor j serve outlet i's channel.

        Dense; :meth:`links` applies the same rule a chunk of outlets at a time.
        """
        outlets, dists = self._need_outlets(), self._need_distributors()
        channel = outlets["channel"].to_numpy()
        out = np.ones((len(outlets), len(dists)), dtype=bool)
        for j, value in enumerate(dists["channels"].tolist()):
            allowed = _parse_channels(value)
            if allowed is not None:
                out[:, j] = np.isin(channel, list(allowed))
        return out

    def region_table(self) -> pd.DataFrame:
        """Regions with outlet aggregates: ``n_outlets``, ``potential``, ``workload``, ``demand``.

        Territory and budget models balance and weight by these columns (and by any
        numeric region column).
        """
        table = pd.DataFrame(self.regions.drop(columns="geometry", errors="ignore"))
        if self.outlets is not None:
            agg = self.outlets.groupby(_REGION_ID).agg(
                n_outlets=(_OUTLET_ID, "size"), potential=("potential", "sum"),
                workload=("workload", "sum"), demand=("demand", "sum"),
            )
            agg = agg.reindex(table[_REGION_ID]).fillna(0.0).reset_index(drop=True)
            for col in agg.columns:
                if col not in table.columns:
                    table[col] = agg[col].to_numpy()
                else:
                    table[f"outlet_{col}"] = agg[col].to_numpy()
        return table

    def components(self) -> list[list]:
        """Connected components of the adjacency graph, largest first."""
        comps = [sorted(c, key=str) for c in nx.connected_components(self.graph)]
        return sorted(comps, key=len, reverse=True)

    def with_bridged_islands(self) -> ChannelNetwork:
        """A copy whose graph joins every island component to its nearest neighbour."""
        xy = self.region_xy()
        if xy is None:
            raise SettingsError("bridging islands needs region geometry to find the nearest neighbours.")
        coords = dict(zip(self.region_ids.tolist(), xy.tolist()))
        out = self.copy()
        out.graph = geo.bridge_components(self.graph, coords, self.geographic)
        return out

    def copy(self) -> ChannelNetwork:
        for table in ("regions", "outlets", "distributors"):
            getattr(self, table)  # a copy shares its frames with this network, as it always has: make them first
        new = object.__new__(ChannelNetwork)
        new.__dict__.update(self.__dict__)
        new.__dict__.pop("_allowed_kept", None)
        new.__dict__.pop("_allowed_for", None)
        new.__dict__.pop("_points_kept", None)
        new.graph = self.graph.copy()
        return new

    def subset(self, regions: Iterable[Hashable]) -> ChannelNetwork:
        """The part of the network in the given regions (outlets and distributors inside)."""
        keep = set(regions)
        reg = self.regions[self.regions[_REGION_ID].isin(keep)]
        out = self.outlets[self.outlets[_REGION_ID].isin(keep)] if self.outlets is not None else None
        dist = self.distributors
        if dist is not None and _REGION_ID in dist.columns:
            dist = dist[dist[_REGION_ID].isin(keep) | dist[_REGION_ID].isna()]
        return ChannelNetwork(reg, out, dist, self.graph.subgraph(reg[_REGION_ID]).copy(),
                              contiguity=self.contiguity, cost_per_km=self.cost_per_km, name=self.name)
