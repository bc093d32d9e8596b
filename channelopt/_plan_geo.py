"""Join a plan's decisions onto its network's geometry (for export and maps).

Works with polygon regions and with points-only networks: when regions carry no
geometry, each region is placed at the mean of its outlets' points so that maps and
tooltips still have one feature per region.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

__all__ = ["plan_layers", "has_polygons"]


def _has_geom(frame) -> bool:
    return isinstance(frame, gpd.GeoDataFrame) and "geometry" in frame.columns and frame.crs is not None


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(frame.drop(columns="geometry", errors="ignore"))
    return out.reset_index() if not isinstance(out.index, pd.RangeIndex) else out


def has_polygons(layer) -> bool:
    """Does a regions layer hold areas (rather than points)?"""
    return layer is not None and len(layer) > 0 and bool(
        layer.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).any())


def _region_geometry(net, xy_out) -> tuple[Any, Any] | None:
    """Region geometry and CRS: polygons/points as given, else the mean outlet point."""
    if _has_geom(net.regions):
        return net.regions.geometry.to_numpy(), net.regions.crs
    if xy_out is None or net.crs is None:
        return None
    pos = net.outlet_region_index
    n = len(net.regions)
    count = np.bincount(pos, minlength=n).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        x = np.bincount(pos, weights=xy_out[:, 0], minlength=n) / count
        y = np.bincount(pos, weights=xy_out[:, 1], minlength=n) / count
    # Regions without outlets get no point; geopandas keeps them as empty geometry.
    pts = [shapely.Point(a, b) if np.isfinite(a) else None for a, b in zip(x.tolist(), y.tolist())]
    return np.array(pts, dtype=object), net.crs


def plan_layers(plan) -> dict[str, Any]:
    """GeoDataFrames ``regions``, ``outlets``, ``distributors``, ``links`` carrying the decisions.

    Returns an empty dict when the network has no locations at all (a plain cost matrix).
    """
    net = plan.network
    if net is None:
        return {}
    xy_out = net.outlet_xy() if net.outlets is not None else None
    region_geom = _region_geometry(net, xy_out)
    if region_geom is None:
        return {}
    geometry, crs = region_geom
    layers: dict[str, gpd.GeoDataFrame] = {}
    regions = _plain(net.regions)[["region_id"]].copy()
    if plan.metrics.by_region is not None:
        by_region = _plain(plan.metrics.by_region)
        if "region_id" in by_region.columns:
            regions = regions.merge(by_region, on="region_id", how="left")
    if "territory" in plan.assignments.columns and "region_id" in plan.assignments.columns:
        terr = _plain(plan.assignments)[["region_id", "territory"]].drop_duplicates("region_id")
        regions = regions.drop(columns="territory", errors="ignore").merge(terr, on="region_id", how="left")
    layers["regions"] = gpd.GeoDataFrame(regions, geometry=gpd.GeoSeries(list(geometry), crs=crs), crs=crs)
    if xy_out is not None:
        outlets = _plain(net.outlets)
        if "outlet_id" in plan.assignments.columns:
            cols = [c for c in plan.assignments.columns if c not in outlets.columns or c == "outlet_id"]
            outlets = outlets.merge(_plain(plan.assignments)[cols], on="outlet_id", how="left")
        if "territory" in regions.columns and "territory" not in outlets.columns:
            outlets = outlets.merge(regions[["region_id", "territory"]], on="region_id", how="left")
        layers["outlets"] = gpd.GeoDataFrame(outlets, geometry=gpd.points_from_xy(xy_out[:, 0], xy_out[:, 1]),
                                             crs=crs)
    xy_d = net.distributor_xy() if net.distributors is not None else None
    if xy_d is not None:
        dists = _plain(net.distributors)
        dists["channels"] = dists["channels"].map(
            lambda v: v if isinstance(v, str) or v is None else ";".join(map(str, v)))
        table = plan.tables.get("distributors")
        if table is not None:
            cols = [c for c in table.columns if c not in dists.columns or c == "distributor_id"]
            dists = dists.merge(_plain(table)[cols], on="distributor_id", how="left")
        layers["distributors"] = gpd.GeoDataFrame(dists, geometry=gpd.points_from_xy(xy_d[:, 0], xy_d[:, 1]),
                                                  crs=crs)
        links = plan.tables.get("links")
        if links is not None and xy_out is not None and len(links):
            opos = pd.Index(net.outlet_ids).get_indexer(links["outlet_id"])
            dpos = pd.Index(net.distributor_ids).get_indexer(links["distributor_id"])
            coords = np.stack([xy_out[opos], xy_d[dpos]], axis=1)
            lines = shapely.linestrings(coords)
            layers["links"] = gpd.GeoDataFrame(_plain(links), geometry=lines, crs=crs)
    return layers
