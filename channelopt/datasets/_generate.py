"""Seeded generators shared by :func:`make_synthetic` and ``data/build_china_example.py``.

Everything here is deterministic given a :class:`numpy.random.Generator`, and
vectorised over outlets (the only Python loops run over rejection rounds or over
the handful of distributor portfolios).

Changing any of these functions changes the shipped example data: rebuild it
with ``python data/build_china_example.py`` and re-run the dataset tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np
import pandas as pd
import shapely
from numpy.typing import ArrayLike, NDArray

from channelopt.exceptions import SettingsError

__all__ = [
    "CHANNELS",
    "CHANNEL_PROFILES",
    "ChannelProfile",
    "allocate_counts",
    "draw_distributors",
    "draw_outlets",
    "edges_to_graph",
    "queen_edges",
    "resolve_channels",
    "scatter_points",
    "synthetic_frames",
]


@dataclass(frozen=True)
class ChannelProfile:
    """Generation parameters for one channel type.

    Attributes
    ----------
    share : float
        Baseline share of outlets of this type.
    potential : float
        Mean annual sales potential of one outlet (currency units).
    sigma : float
        Log-scale standard deviation of the lognormal potential.
    visits : float
        Baseline visits per month.
    hours_per_visit : float
        Service time per visit, hours (including a travel allowance).
    urban_tilt : float
        Exponent applied to relative region population when computing the mix:
        positive = over-represented in big cities.
    """

    share: float
    potential: float
    sigma: float
    visits: float
    hours_per_visit: float
    urban_tilt: float


#: The six channel types, in canonical order.
CHANNELS: tuple[str, ...] = (
    "traditional",
    "modern_ka",
    "catering",
    "pharmacy",
    "convenience",
    "community",
)

#: Default generation profile of each channel type.
CHANNEL_PROFILES: dict[str, ChannelProfile] = {
    "traditional": ChannelProfile(0.36, 40_000.0, 0.60, 2.0, 0.75, -0.10),
    "modern_ka": ChannelProfile(0.06, 500_000.0, 0.80, 6.0, 3.00, 0.35),
    "catering": ChannelProfile(0.14, 50_000.0, 0.70, 2.0, 0.75, 0.10),
    "pharmacy": ChannelProfile(0.10, 45_000.0, 0.50, 1.5, 0.75, 0.05),
    "convenience": ChannelProfile(0.18, 60_000.0, 0.50, 4.0, 0.50, 0.20),
    "community": ChannelProfile(0.16, 30_000.0, 0.60, 2.0, 0.50, -0.05),
}

# Distributor portfolios and their draw probabilities.
_PORTFOLIOS: tuple[tuple[tuple[str, ...], float], ...] = (
    (("traditional", "catering", "community"), 0.34),
    (("traditional", "catering", "community", "convenience"), 0.24),
    (("modern_ka", "convenience"), 0.15),
    (("pharmacy", "community"), 0.12),
    (CHANNELS, 0.15),
)


def resolve_channels(
    channels: Sequence[str] | Mapping[str, float] | None,
) -> dict[str, float]:
    """Normalise a channel specification to ``{channel: share}``.

    Parameters
    ----------
    channels : sequence of str, mapping of str to float, or None
        ``None`` means all six channels with their default shares; a sequence
        selects a subset (default shares, renormalised); a mapping gives
        explicit relative shares.

    Returns
    -------
    dict of str to float
        Shares summing to 1, in canonical channel order.
    """
    if channels is None:
        raw = {c: CHANNEL_PROFILES[c].share for c in CHANNELS}
    elif isinstance(channels, Mapping):
        raw = {str(c): float(s) for c, s in channels.items()}
    else:
        raw = {
            str(c): CHANNEL_PROFILES[c].share if c in CHANNEL_PROFILES else 0.0
            for c in channels
        }
    unknown = sorted(set(raw) - set(CHANNELS))
    if unknown:
        raise SettingsError(f"unknown channel(s) {unknown}; choose from {list(CHANNELS)}")
    if not raw or any(s < 0 for s in raw.values()) or sum(raw.values()) <= 0:
        raise SettingsError(
            "channels must contain at least one channel with a positive share"
        )
    total = sum(raw.values())
    return {c: raw[c] / total for c in CHANNELS if c in raw}


def allocate_counts(
    weights: ArrayLike, total: int, minimum: int = 0
) -> NDArray[np.int64]:
    """Split ``total`` items over bins proportionally to ``weights``.

    Every bin gets ``minimum`` items first; the rest is allocated by the
    largest-remainder method (ties broken by bin order), so the result sums to
    exactly ``max(total, minimum * len(weights))``.
    """
    w = np.asarray(weights, dtype=float)
    n = w.size
    base = np.full(n, minimum, dtype=np.int64)
    rest = int(total) - minimum * n
    if rest <= 0 or n == 0:
        return base
    share = w / w.sum() * rest
    floor = np.floor(share).astype(np.int64)
    left = rest - int(floor.sum())
    order = np.argsort(-(share - floor), kind="stable")
    floor[order[:left]] += 1
    return base + floor


def scatter_points(
    polygons: NDArray[np.object_],
    owner: NDArray[np.intp],
    center_x: NDArray[np.float64],
    center_y: NDArray[np.float64],
    sd_x: NDArray[np.float64],
    sd_y: NDArray[np.float64],
    rng: np.random.Generator,
    max_rounds: int = 40,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Draw one point per item, normally scattered around a centre, inside a polygon.

    Item ``i`` belongs to ``polygons[owner[i]]``; candidates are drawn from
    ``N(center, sd)`` and rejected when they fall outside the polygon.  Items
    still unplaced after ``max_rounds`` rounds fall back to their centre (which
    must lie inside the polygon).  ``center_*`` and ``sd_*`` are per item.
    """
    n = owner.size
    x = np.empty(n)
    y = np.empty(n)
    pending = np.arange(n)
    shapely.prepare(polygons)
    for _ in range(max_rounds):
        if pending.size == 0:
            break
        cx = center_x[pending] + rng.standard_normal(pending.size) * sd_x[pending]
        cy = center_y[pending] + rng.standard_normal(pending.size) * sd_y[pending]
        ok = shapely.contains_xy(polygons[owner[pending]], cx, cy)
        x[pending[ok]] = cx[ok]
        y[pending[ok]] = cy[ok]
        pending = pending[~ok]
    x[pending] = center_x[pending]
    y[pending] = center_y[pending]
    return x, y


def draw_outlets(
    populations: NDArray[np.float64],
    n_outlets: int,
    rng: np.random.Generator,
    channels: Mapping[str, float],
    *,
    min_per_region: int = 3,
) -> pd.DataFrame:
    """Draw outlet attributes (no location).

    Returns a frame with columns ``region_idx`` (positional index of the region),
    ``channel``, ``potential``, ``workload`` and ``visits_per_month``, sorted by
    region.  Outlet counts per region are proportional to population (at least
    ``min_per_region``); the channel mix tilts towards modern formats in big
    regions; potentials are lognormal with channel-specific mean, scaled mildly
    with region size.
    """
    pop = np.asarray(populations, dtype=float)
    counts = allocate_counts(pop, n_outlets, min_per_region)
    region_idx = np.repeat(np.arange(pop.size), counts)
    rel = np.clip(pop / np.median(pop), 0.05, 50.0)[region_idx]

    names = list(channels)
    prof = [CHANNEL_PROFILES[c] for c in names]
    share = np.array([channels[c] for c in names])
    tilt = np.array([p.urban_tilt for p in prof])
    prob = share[None, :] * rel[:, None] ** tilt[None, :]
    prob /= prob.sum(axis=1, keepdims=True)
    u = rng.random(region_idx.size)
    code = (u[:, None] > np.cumsum(prob, axis=1)).sum(axis=1)
    code = np.minimum(code, len(names) - 1)

    mean = np.array([p.potential for p in prof])[code]
    sigma = np.array([p.sigma for p in prof])[code]
    z = rng.standard_normal(region_idx.size)
    potential = mean * rel**0.1 * np.exp(sigma * z - 0.5 * sigma**2)

    base_visits = np.array([p.visits for p in prof])[code]
    hpv = np.array([p.hours_per_visit for p in prof])[code]
    visits = np.clip(base_visits * np.exp(0.3 * sigma * z), 1.0, 3.0 * base_visits)
    visits = np.round(visits * 2.0) / 2.0
    workload = visits * hpv * np.exp(0.2 * rng.standard_normal(region_idx.size))

    return pd.DataFrame(
        {
            "region_idx": region_idx,
            "channel": np.asarray(names, dtype=object)[code],
            "potential": np.round(potential, 2),
            "workload": np.round(workload, 3),
            "visits_per_month": visits,
        }
    )


def draw_distributors(
    host_population: NDArray[np.float64],
    total_potential: float | Mapping[str, float],
    rng: np.random.Generator,
    channels: Mapping[str, float],
    *,
    capacity_ratio: float = 1.75,
    channel_ratio: float = 1.3,
    n_existing: int = 10,
    min_cover: int = 3,
) -> pd.DataFrame:
    """Draw distributor attributes for given host-city populations (no location).

    Capacities grow sub-linearly with host size and sum to
    ``capacity_ratio * total_potential``; fixed costs combine a size-dependent
    overhead with a capacity-proportional part.  Channel portfolios are drawn
    from a small menu (generalists, KA specialists, pharmacy specialists,
    full-line), then fixed up so that every channel is served by at least
    ``min(min_cover, n)`` distributors.  ``n_existing`` of them are flagged as
    current partners.  When ``total_potential`` is a mapping of channel to
    potential, the capacities of the distributors able to serve a channel are
    raised until they hold ``channel_ratio`` times that channel's potential, so
    that a capacitated, channel-compatible plan exists.
    """
    by_channel = dict(total_potential) if isinstance(total_potential, Mapping) else None
    if by_channel is not None:
        total_potential = float(sum(by_channel.values()))
    hp = np.asarray(host_population, dtype=float)
    n = hp.size
    rel = hp / np.median(hp) if n else hp
    raw = rel**0.6 * np.exp(0.25 * rng.standard_normal(n))
    capacity = raw / raw.sum() * capacity_ratio * total_potential if n else raw
    overhead = 300_000.0 * rel**0.35 * np.exp(0.15 * rng.standard_normal(n))

    avail = list(channels)
    menu = [
        tuple(c for c in p if c in channels) or tuple(avail) for p, _ in _PORTFOLIOS
    ]
    weights = np.array([w for _, w in _PORTFOLIOS])
    pick = rng.choice(len(menu), size=n, p=weights / weights.sum())
    portfolios = [set(menu[k]) for k in pick]
    need = min(min_cover, n)
    order = rng.permutation(n)
    forced = 0
    while forced < n:
        cover = {c: sum(c in p for p in portfolios) for c in avail}
        if min(cover.values(), default=need) >= need:
            break
        portfolios[order[forced]] = set(avail)
        forced += 1
    if by_channel is not None and n:
        # Specialists (e.g. KA) must be able to carry their channel's demand, or every
        # capacitated plan with channel compatibility is infeasible.
        for c in sorted(by_channel, key=by_channel.get, reverse=True):
            able = np.array([c in p for p in portfolios])
            need, have = channel_ratio * by_channel[c], capacity[able].sum()
            if able.any() and have < need:
                capacity[able] *= need / have
    fixed_cost = np.round(overhead + 0.04 * capacity, -3)
    chan_str = [";".join(c for c in avail if c in p) for p in portfolios]
    existing = np.zeros(n, dtype=bool)
    existing[rng.choice(n, size=min(n_existing, n), replace=False)] = True
    return pd.DataFrame(
        {
            "fixed_cost": fixed_cost,
            "capacity": np.round(capacity, 0),
            "channels": pd.Series(chan_str, dtype=object),
            "existing": existing,
        }
    )


def queen_edges(geometries: ArrayLike, region_ids: Sequence[str]) -> pd.DataFrame:
    """Queen-contiguity edge list (shared boundary or point) of polygons.

    Returns a frame with columns ``region_a`` < ``region_b`` (string order),
    sorted, one row per adjacent pair.
    """
    geoms = np.asarray(geometries, dtype=object)
    ids = np.asarray(region_ids, dtype=object)
    tree = shapely.STRtree(geoms)
    i, j = tree.query(geoms, predicate="intersects")
    keep = i < j
    a, b = ids[i[keep]], ids[j[keep]]
    lo = np.where(a < b, a, b)
    hi = np.where(a < b, b, a)
    df = pd.DataFrame({"region_a": lo.astype(object), "region_b": hi.astype(object)})
    return df.sort_values(["region_a", "region_b"], ignore_index=True)


def edges_to_graph(region_ids: Sequence[str], edges: pd.DataFrame) -> nx.Graph:
    """Build an undirected graph with one node per region id and the given edges."""
    g = nx.Graph()
    g.add_nodes_from(region_ids)
    g.add_edges_from(zip(edges["region_a"], edges["region_b"], strict=True))
    return g


def _id_width(n: int, minimum: int) -> int:
    return max(minimum, len(str(n)))


def synthetic_frames(
    n_regions: int = 50,
    n_outlets: int = 1000,
    n_distributors: int = 20,
    *,
    seed: int = 0,
    crs: str = "EPSG:3857",
    channels: Sequence[str] | Mapping[str, float] | None = None,
    extent: float | None = None,
    n_existing: int | None = None,
) -> dict[str, pd.DataFrame]:
    """Generate the raw frames of a random channel network.

    Same parameters and recipe as :func:`channelopt.datasets.make_synthetic`;
    returns ``{"regions", "outlets", "distributors", "edges"}`` laid out like
    :func:`channelopt.datasets.example_frames` (geometries in ``crs``).

    Examples
    --------
    >>> from channelopt.datasets import synthetic_frames
    >>> frames = synthetic_frames(20, 300, 5, seed=1)
    >>> len(frames["regions"]), len(frames["outlets"]), len(frames["distributors"])
    (20, 300, 5)
    """
    import geopandas as gpd

    if n_regions < 1:
        raise SettingsError("n_regions must be >= 1")
    if n_outlets < 0 or n_distributors < 0:
        raise SettingsError("n_outlets and n_distributors must be >= 0")
    shares = resolve_channels(channels)
    rng = np.random.default_rng(seed)
    side = float(extent) if extent is not None else 20_000.0 * np.sqrt(n_regions)
    x0, y0 = 0.0, 0.0

    # Seeds: uniform in the square, rejecting points closer than a fraction of
    # the mean spacing so cells are not slivers.
    min_d = 0.3 * side / np.sqrt(n_regions)
    pts = np.empty((0, 2))
    while pts.shape[0] < n_regions:
        cand = rng.uniform(0.02 * side, 0.98 * side, size=(2 * n_regions, 2))
        for p in cand:
            if pts.shape[0] >= n_regions:
                break
            if pts.shape[0] == 0 or np.min(np.hypot(*(pts - p).T)) >= min_d:
                pts = np.vstack([pts, p])
        min_d *= 0.9
    square = shapely.box(x0, y0, x0 + side, y0 + side)
    if n_regions == 1:
        cells = np.array([square], dtype=object)
    else:
        vor = shapely.voronoi_polygons(
            shapely.multipoints(pts), extend_to=square, ordered=True
        )
        cells = shapely.intersection(np.asarray(shapely.get_parts(vor)), square)
    w = _id_width(n_regions, 4)
    region_ids = np.array([f"R-{k + 1:0{w}d}" for k in range(n_regions)], dtype=object)
    population = np.round(np.exp(rng.normal(np.log(300_000.0), 0.9, n_regions)), 0)
    regions = gpd.GeoDataFrame(
        {
            "region_id": region_ids,
            "name": [f"Region {k + 1}" for k in range(n_regions)],
            "province": "synthetic",
            "population": population,
            "approx_geometry": False,
        },
        geometry=cells,
        crs=crs,
    )

    # Outlets.
    odf = draw_outlets(
        population,
        n_outlets,
        rng,
        shares,
        min_per_region=min(3, n_outlets // n_regions),
    )
    area = shapely.area(cells)
    sd = (0.35 * np.sqrt(area))[odf["region_idx"].to_numpy()]
    owner = odf["region_idx"].to_numpy()
    ox, oy = scatter_points(cells, owner, pts[owner, 0], pts[owner, 1], sd, sd, rng)
    wo = _id_width(len(odf), 6)
    outlets = gpd.GeoDataFrame(
        {
            "outlet_id": np.array(
                [f"O-{k + 1:0{wo}d}" for k in range(len(odf))], dtype=object
            ),
            "region_id": region_ids[owner],
            "channel": odf["channel"].to_numpy(),
            "potential": odf["potential"].to_numpy(),
            "workload": odf["workload"].to_numpy(),
            "visits_per_month": odf["visits_per_month"].to_numpy(),
        },
        geometry=shapely.points(ox, oy),
        crs=crs,
    )

    # Distributors: hosts drawn with probability proportional to population.
    host = rng.choice(n_regions, size=n_distributors, p=population / population.sum())
    host = np.sort(host, kind="stable")
    ddf = draw_distributors(
        population[host],
        outlets.groupby("channel")["potential"].sum().to_dict(),
        rng,
        shares,
        n_existing=(
            max(1, round(0.12 * n_distributors)) if n_existing is None else n_existing
        ),
    )
    dsd = (0.15 * np.sqrt(area))[host]
    dx, dy = scatter_points(cells, host, pts[host, 0], pts[host, 1], dsd, dsd, rng)
    wd = _id_width(n_distributors, 3)
    distributors = gpd.GeoDataFrame(
        {
            "distributor_id": np.array(
                [f"D-{k + 1:0{wd}d}" for k in range(n_distributors)], dtype=object
            ),
            "name": [f"Distributor {k + 1}" for k in range(n_distributors)],
            "region_id": region_ids[host],
            **{c: ddf[c].to_numpy() for c in ddf.columns},
        },
        geometry=shapely.points(dx, dy),
        crs=crs,
    )
    edges = queen_edges(cells, region_ids)
    return {
        "regions": regions,
        "outlets": outlets,
        "distributors": distributors,
        "edges": edges,
    }
