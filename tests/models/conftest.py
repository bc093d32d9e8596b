"""Fixtures the territory model tests share (pytest runs with ``--import-mode=importlib``, so test modules cannot
import each other; a fixture is how they share a helper).

- ``planar``: conftest's :func:`delaunay_pop_map` without x/y (the exact cut-edge checks see the graph and its
  pops alone). test_territory_design.py keeps its own ``planar`` (with x/y) for its compactness instances.
- ``window``: :func:`window`, the balance window ``(lo, hi)`` of k territories at +-tol of an even share.
- ``canonical``: :func:`canonical`, a partition's slots renumbered as the symmetry rows number them.
- ``cut_edge_data``: :func:`cut_edge_data`, the prepared cut-edge problem of a graph.

::

    def test_fixing(planar, window, cut_edge_data):
        g = planar(9, 3)
        lo, hi = window(g, 3, 0.2)
        d = cut_edge_data(g, 3, lo, hi)
"""

from __future__ import annotations

import functools

import networkx as nx
import numpy as np
import pytest

import channelopt as co
from channelopt.models.territories import TerritoryDesign
from channelopt.models.territories.data import prepare


@pytest.fixture(name="planar", scope="session")
def planar_fixture(delaunay_pop_map):
    """conftest's :func:`delaunay_pop_map` without x/y: these checks see the graph and its pops alone."""
    return functools.partial(delaunay_pop_map, xy=False)


def window(g: nx.Graph, k: int, tol: float) -> tuple[float, float]:
    """The balance window: each of k territories holds (1 +- tol) of an even share of the population."""
    total = sum(nx.get_node_attributes(g, "pop").values())
    return (1 - tol) * total / k, (1 + tol) * total / k


@pytest.fixture(name="window", scope="session")
def window_fixture():
    return window


def canonical(lab: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Slots renumbered by their first region in ``order`` (as the symmetry rows number them)."""
    first: dict[int, int] = {}
    for t in lab[order].tolist():
        first.setdefault(t, len(first))
    return np.array([first[t] for t in lab.tolist()])


@pytest.fixture(name="canonical", scope="session")
def canonical_fixture():
    return canonical


def cut_edge_data(g: nx.Graph, k: int, lo: float, hi: float, weight: str | None = None):
    """The prepared cut-edge problem of ``g``: ``k`` territories, each one's pop in ``[lo, hi]``, borders weighted by
    the edge attribute ``weight`` (None: each border counts 1)."""
    return prepare(TerritoryDesign(k=k, objective="cut_edges", balance={"pop": (lo, hi)}, edge_weight=weight),
                   co.ChannelNetwork.from_graph(g, ["pop"]))


@pytest.fixture(name="cut_edge_data", scope="session")
def cut_edge_data_fixture():
    return cut_edge_data
