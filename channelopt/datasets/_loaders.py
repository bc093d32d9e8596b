"""Loaders for the example datasets shipped with channelopt."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib.resources import files
from typing import TYPE_CHECKING, Any

import pandas as pd

from channelopt.datasets._generate import edges_to_graph, synthetic_frames
from channelopt.exceptions import SettingsError

if TYPE_CHECKING:
    from channelopt.network import ChannelNetwork

__all__ = ["available_examples", "example_frames", "load_example", "make_synthetic"]

_EXAMPLES: dict[str, str] = {
    "china": "~340 approximate prefecture-level regions of China (GeoNames, CC BY 4.0), "
    "8,000 synthetic outlets, 80 candidate distributors",
    "nc": "100 North Carolina counties (libpysal sids2, real polygons), "
    "1,500 synthetic outlets, 15 candidate distributors",
}
_PARTS: tuple[str, ...] = ("regions", "outlets", "distributors", "edges")
_GEO_PARTS: frozenset[str] = frozenset({"regions", "outlets", "distributors"})


def available_examples() -> dict[str, str]:
    """Names and one-line descriptions of the shipped example datasets.

    Returns
    -------
    dict of str to str
        ``{name: description}``.

    Examples
    --------
    >>> from channelopt.datasets import available_examples
    >>> sorted(available_examples())
    ['china', 'nc']
    """
    return dict(_EXAMPLES)


def _check_name(name: str) -> str:
    key = str(name).lower()
    if key not in _EXAMPLES:
        raise SettingsError(
            f"unknown example {name!r}; available examples: {sorted(_EXAMPLES)}"
        )
    return key


def example_frames(name: str = "china") -> dict[str, pd.DataFrame]:
    """Raw frames of a shipped example dataset.

    Parameters
    ----------
    name : {"china", "nc"}
        Dataset name (case-insensitive).

    Returns
    -------
    dict of str to DataFrame
        ``"regions"``, ``"outlets"``, ``"distributors"`` (GeoDataFrames in
        EPSG:4326) and ``"edges"`` (DataFrame with columns ``region_a``,
        ``region_b``: queen contiguity, ``region_a < region_b``).  Fresh copies
        are returned on each call.

    Raises
    ------
    ValueError
        If ``name`` is not an available example.

    Notes
    -----
    The ``china`` region polygons are approximate Voronoi cells (column
    ``approx_geometry`` is True), not official boundaries.  It contains data
    from GeoNames (https://www.geonames.org), licensed CC BY 4.0.  Outlets and
    distributors of both examples are synthetic.

    Examples
    --------
    >>> from channelopt.datasets import example_frames
    >>> frames = example_frames("nc")
    >>> len(frames["regions"])
    100
    >>> sorted(frames)
    ['distributors', 'edges', 'outlets', 'regions']
    """
    key = _check_name(name)
    import geopandas as gpd

    root = files("channelopt.datasets") / "data"
    out: dict[str, pd.DataFrame] = {}
    for part in _PARTS:
        with (root / f"{key}_{part}.parquet").open("rb") as fh:
            out[part] = (
                gpd.read_parquet(fh) if part in _GEO_PARTS else pd.read_parquet(fh)
            )
    return out


def _network(frames: Mapping[str, Any], name: str | None = None) -> ChannelNetwork:
    from channelopt.network import DEFAULT_COST_PER_KM, ChannelNetwork

    graph = edges_to_graph(list(frames["regions"]["region_id"]), frames["edges"])
    # Distances are km whatever the CRS (projected metres are converted by the network),
    # so one cost per km serves every example and make_synthetic.
    return ChannelNetwork(
        regions=frames["regions"],
        outlets=frames["outlets"],
        distributors=frames["distributors"],
        graph=graph,
        cost_per_km=DEFAULT_COST_PER_KM,
        name=name,
    )


def load_example(name: str = "china") -> ChannelNetwork:
    """Load a shipped example dataset as a :class:`~channelopt.network.ChannelNetwork`.

    Parameters
    ----------
    name : {"china", "nc"}
        ``"china"`` (default): about 340 approximate prefecture-level regions
        of China, 8,000 outlets and 80 candidate distributors.  ``"nc"``: the
        100 North Carolina counties with real polygons, 1,500 outlets and 15
        candidate distributors.  Fully offline.

    Returns
    -------
    ChannelNetwork
        Built from :func:`example_frames` with the shipped contiguity graph
        (a networkx Graph whose nodes are the region ids).

    Raises
    ------
    ValueError
        If ``name`` is not an available example.

    Examples
    --------
    >>> from channelopt.datasets import load_example
    >>> net = load_example("china")  # doctest: +SKIP
    """
    return _network(example_frames(name), name=_check_name(name))


def make_synthetic(
    n_regions: int = 50,
    n_outlets: int = 1000,
    n_distributors: int = 20,
    *,
    seed: int = 0,
    crs: str = "EPSG:3857",
    channels: Sequence[str] | Mapping[str, float] | None = None,
    extent: float | None = None,
    n_existing: int | None = None,
) -> ChannelNetwork:
    """Generate a random channel network of any size.

    Region seeds are drawn in a square of side ``extent`` metres (projected
    coordinates, EPSG:3857 by default) and the regions are their Voronoi cells clipped to the square,
    so regions tile the square and the contiguity graph is connected.  Outlets
    (count per region proportional to a lognormal population, channel mix,
    lognormal potentials, workload, visit frequency) and distributors (sized
    with their host region, channel portfolios covering every channel) follow
    the same recipes as the shipped examples.

    Parameters
    ----------
    n_regions, n_outlets, n_distributors : int
        Sizes.  Each region gets at least ``min(3, n_outlets // n_regions)``
        outlets.
    seed : int, default 0
        Seed of :func:`numpy.random.default_rng`; equal seeds give identical data.
    crs : str, default "EPSG:3857"
        Projected CRS (metres) attached to the geometries.  Coordinates start at
        the CRS origin.
    channels : sequence of str or mapping of str to float, optional
        Channel types to use (subset of ``channelopt.datasets.CHANNELS``) or
        ``{channel: relative share}``.  Default: all six with default shares.
    extent : float, optional
        Side of the square in metres; default ``20 km * sqrt(n_regions)``.
    n_existing : int, optional
        Number of distributors flagged ``existing``; default 12 % (at least 1).

    Returns
    -------
    ChannelNetwork
        Use :func:`synthetic_frames` (same parameters) for the raw frames. Its
        distances are in **km**, like the shipped examples' (``max_distance=30`` means
        30 km), and service costs use the same ``cost_per_km`` as the examples.

    Examples
    --------
    >>> from channelopt.datasets import make_synthetic
    >>> net = make_synthetic(20, 300, 6, seed=1)
    >>> net.distance_unit, round(float(net.distances().max()), 1)     # km across a ~89 km square
    ('km', 98.1)
    """
    frames = synthetic_frames(
        n_regions,
        n_outlets,
        n_distributors,
        seed=seed,
        crs=crs,
        channels=channels,
        extent=extent,
        n_existing=n_existing,
    )
    return _network(frames, name="synthetic")
