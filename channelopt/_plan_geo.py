"""Join a plan's decisions onto its network's geometry (for export and maps)."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely


def _has_geom(frame) -> bool:
    return isinstance(frame, gpd.GeoDataFrame) and "geometry" in frame.columns and frame.crs is not None


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(frame.drop(columns="geometry", errors="ignore"))
    return out.reset_index() if not isinstance(out.index, pd.RangeIndex) else out


def plan_layers(plan) -> dict[str, Any]:
    net = plan.network
    if net is None or not _has_geom(net.regions):
        return {}
    layers: dict[str, gpd.GeoDataFrame] = {}
    regions = net.regions[["region_id", "geometry"]].copy()
    if plan.metrics.by_region is not None:
        by_region = _plain(plan.metrics.by_region)
        regions = regions.merge(by_region, on="region_id", how="left")
    if "territory" in plan.assignments.columns and "region_id" in plan.assignments.columns:
        terr = _plain(plan.assignments)[["region_id", "territory"]].drop_duplicates("region_id")
        regions = regions.drop(columns="territory", errors="ignore").merge(terr, on="region_id", how="left")
    layers["regions"] = gpd.GeoDataFrame(regions, geometry="geometry", crs=net.regions.crs)
    xy_out = net.outlet_xy() if net.outlets is not None else None
    if xy_out is not None:
        outlets = _plain(net.outlets)
        if "outlet_id" in plan.assignments.columns:
            cols = [c for c in plan.assignments.columns if c not in outlets.columns or c == "outlet_id"]
            outlets = outlets.merge(_plain(plan.assignments)[cols], on="outlet_id", how="left")
        layers["outlets"] = gpd.GeoDataFrame(outlets, geometry=gpd.points_from_xy(xy_out[:, 0], xy_out[:, 1]),
                                             crs=net.crs)
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
                                                  crs=net.crs)
        links = plan.tables.get("links")
        if links is not None and xy_out is not None and len(links):
            opos = pd.Index(net.outlet_ids).get_indexer(links["outlet_id"])
            dpos = pd.Index(net.distributor_ids).get_indexer(links["distributor_id"])
            coords = np.stack([xy_out[opos], xy_d[dpos]], axis=1)
            lines = shapely.linestrings(coords)
            layers["links"] = gpd.GeoDataFrame(_plain(links), geometry=lines, crs=net.crs)
    return layers
