"""A synthetic national network at county level (about 2,800 regions), labelled synthetic.

China has about 2,800 county-level divisions. This generator gives a network of that
size with the shipped examples' recipes (Voronoi regions tiling a square, lognormal
populations, outlets with channel mix and workload, distributors), so territory and
selection models can be tried at national scale fully offline. It is **synthetic**:
no real boundary, place or population is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from channelopt.network import ChannelNetwork

__all__ = ["make_counties", "N_COUNTIES"]

#: county-level divisions of China (2,844 at the end of 2022), the default size
N_COUNTIES = 2800


def make_counties(
    n_regions: int = N_COUNTIES,
    *,
    outlets_per_region: int = 5,
    n_distributors: int = 300,
    seed: int = 0,
) -> ChannelNetwork:
    """A synthetic county-level national network (``name="synthetic_counties"``).

    Regions are Voronoi cells of random seeds in a square of side ``20 km * sqrt(n)``
    (about 1,060 km for 2,800 regions), with queen contiguity; distances in km.

    Parameters
    ----------
    n_regions : int, default 2800
    outlets_per_region : int, default 5
        Outlets drawn per region on average (regions get at least 3).
    n_distributors : int, default 300
    seed : int, default 0

    Returns
    -------
    ChannelNetwork

    Examples
    --------
    >>> from channelopt.datasets import make_counties
    >>> net = make_counties(60, seed=1)
    >>> len(net.region_ids), net.graph.number_of_nodes() == 60
    (60, True)
    """
    from channelopt.datasets._generate import synthetic_frames
    from channelopt.datasets._loaders import _network

    frames = synthetic_frames(n_regions, outlets_per_region * n_regions, n_distributors, seed=seed)
    return _network(frames, name="synthetic_counties")
