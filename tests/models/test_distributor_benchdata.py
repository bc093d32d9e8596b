"""Published optima (OR-Library, Osman & Christofides) reproduced by DistributorSelection.

The larger ones (pmed6, capa, capa@8000) run in ``benchmarks/bench_distributors.py``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

import channelopt as co


def _load_orlib():
    # the OR-Library readers live beside the benchmarks (test and benchmark tooling, not the package)
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "orlib.py"
    spec = importlib.util.spec_from_file_location("_bench_orlib", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


_orlib = _load_orlib()
read_cap, read_optima, read_pmed, read_pmedcap = _orlib.read_cap, _orlib.read_optima, _orlib.read_pmed, \
    _orlib.read_pmedcap

pytestmark = pytest.mark.slow


def _net(inst):
    return co.ChannelNetwork.from_cost_matrix(inst.cost, demand=inst.demand, fixed_cost=inst.fixed_cost,
                                              capacity=inst.capacity, distances=inst.distances)


@pytest.fixture(scope="module")
def optima(benchdata):
    out = read_optima(benchdata / "orlib" / "optima.csv")
    out.update(read_optima(benchdata / "pmedcap" / "optima.csv"))
    return out


@pytest.mark.parametrize(("name", "problem"), [
    ("cap41", "capacitated"), ("cap63", "capacitated"), ("cap71", "capacitated"), ("cap101", "capacitated"),
    ("cap131", "capacitated"), ("cap71", "uncapacitated"), ("cap101", "uncapacitated"),
    ("cap131", "uncapacitated"),
])
def test_orlib_facility_location(benchdata, optima, name, problem):
    inst = read_cap(benchdata / "orlib" / f"{name}.txt")
    model = co.DistributorSelection(objective="min_cost", capacitated=problem == "capacitated")
    plan = model.solve(_net(inst), solver=co.Solver("highs"))
    assert plan.status == "optimal"
    assert plan.objective == pytest.approx(optima[(name, problem)], abs=0.01)
    assert plan.metrics.overall["total_cost"] == pytest.approx(optima[(name, problem)], abs=0.01)


def test_orlib_capacitated_with_cbc(benchdata, optima):
    inst = read_cap(benchdata / "orlib" / "cap41.txt")
    plan = co.DistributorSelection(capacitated=True).solve(_net(inst), solver=co.Solver("cbc"))
    assert plan.objective == pytest.approx(optima[("cap41", "capacitated")], abs=0.01)


@pytest.mark.parametrize("name", ["pmed1", "pmed2"])
def test_orlib_p_median(benchdata, optima, name):
    inst = read_pmed(benchdata / "orlib" / f"{name}.txt")
    plan = co.DistributorSelection(objective="p_median", p=inst.p).solve(_net(inst))
    assert plan.status == "optimal"
    assert plan.objective == pytest.approx(optima[(name, "pmedian")], abs=0.01)
    assert plan.distributors["open"].sum() == inst.p


def test_pmedcap01_single_source(benchdata, optima):
    inst = read_pmedcap(benchdata / "pmedcap" / "pmedcap01.txt")
    plan = co.DistributorSelection(objective="p_median", p=inst.p, capacitated=True,
                                   single_source=True).solve(_net(inst))
    assert plan.status == "optimal"
    assert plan.objective == pytest.approx(optima[("pmedcap01", "capacitated_pmedian")], abs=0.01)
    assert (plan.assignments["n_distributors"] == 1).all()
    assert (plan.distributors["load"] <= 120 + 1e-9).all()


@pytest.mark.parametrize(("name", "problem"), [("cap41", "capacitated"), ("cap71", "uncapacitated")])
def test_orlib_lagrangian_strategy(benchdata, optima, name, problem):
    inst = read_cap(benchdata / "orlib" / f"{name}.txt")
    model = co.DistributorSelection(capacitated=problem == "capacitated", strategy="lagrangian")
    plan = model.solve(_net(inst), solver=co.Solver("highs"))
    assert plan.status == "optimal"
    assert plan.objective == pytest.approx(optima[(name, problem)], abs=0.01)
    assert plan.info.bound <= optima[(name, problem)] + 0.01
    steps = plan.solve_steps.set_index("step")
    assert steps.loc["lagrangian", "bound"] <= optima[(name, problem)] + 0.01
