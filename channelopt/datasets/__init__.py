"""Example and synthetic datasets for channelopt.

Shipped examples (fully offline, see ``data/README.md`` for provenance):

``"china"``
    ~340 approximate prefecture-level regions of China built from GeoNames
    cities (CC BY 4.0; region shapes are approximate Voronoi cells, **not**
    official boundaries), 8,000 synthetic outlets, 80 candidate distributors.
``"nc"``
    The 100 North Carolina counties (real polygons, from libpysal's ``sids2``
    example), 1,500 synthetic outlets, 15 candidate distributors.

Synthetic generators (labelled synthetic, seeded): :func:`make_synthetic` and
:func:`make_counties` (networks), :func:`synthetic_dual_graph` (a planar dual graph
with populations, for territory design at districting scale).

Contains data from GeoNames (https://www.geonames.org), licensed CC BY 4.0.

Examples
--------
>>> from channelopt.datasets import example_frames, synthetic_frames
>>> len(example_frames("china")["regions"]) >= 300
True
>>> len(synthetic_frames(10, 100, 3, seed=0)["outlets"])
100
"""

from channelopt.datasets._counties import make_counties
from channelopt.datasets._dual import synthetic_dual_graph
from channelopt.datasets._generate import CHANNELS, synthetic_frames
from channelopt.datasets._loaders import (
    available_examples,
    example_frames,
    load_example,
    make_synthetic,
)
from channelopt.datasets._partner_history import load_partner_history, partner_history
from channelopt.datasets._products import load_product_catalogue, synthetic_catalogue

__all__ = [
    "CHANNELS",
    "available_examples",
    "example_frames",
    "load_example",
    "load_partner_history",
    "partner_history",
    "make_synthetic",
    "load_product_catalogue",
    "synthetic_catalogue",
    "make_counties",
    "synthetic_dual_graph",
    "synthetic_frames",
]
