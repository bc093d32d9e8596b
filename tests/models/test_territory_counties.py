"""The synthetic county-level network and territories on it (the 2,800-region run is in the benchmark)."""

from __future__ import annotations

import warnings

import networkx as nx
import numpy as np

import channelopt as co
from channelopt.datasets import make_counties


def test_counties_are_a_labelled_connected_synthetic_map():
    net = make_counties(120, seed=3)
    assert net.name == "synthetic_counties"
    assert len(net.region_ids) == 120 and nx.is_connected(net.graph)
    table = net.region_table()
    assert (table["workload"] > 0).all() and table["n_outlets"].sum() == 600
    again = make_counties(120, seed=3)
    assert sorted(map(sorted, again.graph.edges)) == sorted(map(sorted, net.graph.edges))


def test_heuristic_territories_on_counties_keep_every_rule_and_an_honest_bound():
    net = make_counties(210, seed=1)  # above LP_BOUND_MAX_PAIRS: the bound is the Lagrangian
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plan = co.TerritoryDesign(k=6, balance={"workload": 0.05}, method="heuristic", heuristic_seconds=3).solve(net)
    label = plan.assignments.set_index("region_id")["territory"]
    for t in label.unique():
        assert nx.is_connected(net.graph.subgraph(label.index[label == t]))
    loads = net.region_table().set_index("region_id")["workload"].groupby(label).sum()
    mean = loads.sum() / 6
    assert len(loads) == 6 and (np.abs(loads / mean - 1) <= 0.05 + 1e-9).all()
    # the bound is the p-median Lagrangian, below the plan and reported with its source
    assert 0 < plan.bound < plan.objective and "Lagrangian" in plan.info.message
