"""Readers of the OR-Library facility-location files (private: tests and benchmarks).

Formats (Beasley, OR-Library): ``capXX`` / ``capa|b|c`` capacitated warehouse
location, ``pmedXX`` p-median graphs, and Osman & Christofides ``pmedcapXX``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["FacilityInstance", "read_cap", "read_pmed", "read_pmedcap", "read_optima"]


@dataclass
class FacilityInstance:
    """Arrays of one instance: ``cost`` is (n_customers, n_facilities)."""

    name: str
    cost: np.ndarray
    demand: np.ndarray
    fixed_cost: np.ndarray
    capacity: np.ndarray
    p: int | None = None
    distances: np.ndarray | None = None


def read_cap(path, capacity: float | None = None) -> FacilityInstance:
    """A ``capXX`` file: m facilities (capacity, fixed cost), n customers (demand, cost row per facility).

    Costs are the cost of serving a customer's whole demand. ``capacity`` replaces the
    word ``capacity`` of capa/b/c (and every capacity when given).
    """
    tokens = Path(path).read_text().split()
    m, n = int(tokens[0]), int(tokens[1])
    pos = 2
    cap = np.empty(m)
    fixed = np.empty(m)
    for j in range(m):
        raw = tokens[pos]
        cap[j] = np.inf if raw == "capacity" else float(raw)
        fixed[j] = float(tokens[pos + 1])
        pos += 2
    if capacity is not None:
        cap[:] = capacity
    demand = np.empty(n)
    cost = np.empty((n, m))
    for i in range(n):
        demand[i] = float(tokens[pos])
        cost[i] = np.array(tokens[pos + 1: pos + 1 + m], dtype=float)
        pos += 1 + m
    return FacilityInstance(Path(path).stem, cost, demand, fixed, cap)


def read_pmed(path) -> FacilityInstance:
    """A ``pmedXX`` graph: all-pairs shortest paths become the cost; every node is customer and candidate.

    Repeated edges: the last one read counts (as in Beasley's own reader).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import shortest_path

    tokens = Path(path).read_text().split()
    n, e, p = int(tokens[0]), int(tokens[1]), int(tokens[2])
    arr = np.array(tokens[3: 3 + 3 * e], dtype=np.int64).reshape(e, 3)
    weight = {}
    for a, b, w in arr.tolist():
        weight[(min(a, b), max(a, b))] = w
    keys = np.array(list(weight.keys())) - 1
    vals = np.array(list(weight.values()), dtype=float)
    g = coo_matrix((vals, (keys[:, 0], keys[:, 1])), shape=(n, n)).tocsr()
    dist = shortest_path(g, method="D", directed=False)
    ones = np.ones(n)
    return FacilityInstance(Path(path).stem, dist, ones, np.zeros(n), np.full(n, np.inf), p=p, distances=dist)


def read_pmedcap(path) -> FacilityInstance:
    """An Osman & Christofides capacitated p-median: distances are floor(Euclidean), cost = distance.

    The cost does not scale with demand (the objective is total distance).
    """
    tokens = Path(path).read_text().split()
    n, p, q = int(tokens[2]), int(tokens[3]), float(tokens[4])
    arr = np.array(tokens[5: 5 + 4 * n], dtype=float).reshape(n, 4)
    xy, demand = arr[:, 1:3], arr[:, 3]
    dist = np.floor(np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2)))
    return FacilityInstance(Path(path).stem, dist, demand, np.zeros(n), np.full(n, q), p=p, distances=dist)


def read_optima(path) -> dict[tuple[str, str], float]:
    """``optima.csv`` as ``{(instance, problem): value}``."""
    # some copies carry stray carriage returns inside fields
    text = Path(path).read_bytes().decode().replace("\r", "")
    rows = csv.DictReader(io.StringIO(text))
    return {(row["instance"], row["problem"]): float(row["optimal_value"]) for row in rows}
