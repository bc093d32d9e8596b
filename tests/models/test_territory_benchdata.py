"""Validi & Buchanan's county districting instances: proven minimum cut edges.

The data (GPL-3) is read from ``../shared/benchdata``; it is never copied here.
WV (k=3) and the larger states run in ``benchmarks/bench_territories.py``.
"""

from __future__ import annotations

import csv
import json

import pytest
from networkx.readwrite import json_graph

import channelopt as co
from channelopt.models.territories import TerritoryDesign


def instance(benchdata, state: str, contiguity: str):
    folder = benchdata / "districting"
    with open(folder / "optima_districting.csv", newline="") as fh:
        row = next(r for r in csv.DictReader(fh) if r["state"] == state and r["contiguity"] == contiguity)
    with open(folder / row["graph_file"]) as fh:
        graph = json_graph.adjacency_graph(json.load(fh))
    net = co.ChannelNetwork.from_graph(graph, weight_attrs=["TOTPOP"])
    return net, int(row["k"]), int(row["L"]), int(row["U"]), int(row["optimal_cut_edges"])


@pytest.mark.parametrize("state", ["ME", "NM", "ID"])
def test_contiguous_optimum_reproduced(benchdata, state):
    net, k, lo, hi, optimum = instance(benchdata, state, "contiguous")
    plan = TerritoryDesign(k=k, objective="cut_edges", contiguity=True, balance={"TOTPOP": (lo, hi)}).solve(
        net, solver=co.Solver("highs")
    )
    assert plan.status == "optimal"
    assert plan.objective == pytest.approx(optimum, abs=1e-6)
    assert plan.metrics["cut_edges"] == optimum
    assert plan.metrics["contiguity_verified"]
    loads = plan.territories["TOTPOP"]
    assert ((loads >= lo) & (loads <= hi)).all()
    assert len(plan.assignments) == net.graph.number_of_nodes()


@pytest.mark.parametrize("state", ["ME", "ID"])
def test_optimum_without_contiguity_reproduced(benchdata, state):
    net, k, lo, hi, optimum = instance(benchdata, state, "none")
    plan = TerritoryDesign(k=k, objective="cut_edges", contiguity=False, balance={"TOTPOP": (lo, hi)}).solve(
        net, solver=co.Solver("highs")
    )
    assert plan.status == "optimal"
    assert plan.objective == pytest.approx(optimum, abs=1e-6)
    assert plan.metrics["cut_edges"] == optimum
