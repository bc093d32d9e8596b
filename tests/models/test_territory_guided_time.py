"""Where the balanced Lagrangian guides and bounds a map, the time goes to it: no HiGHS probe on large maps, and
the location-allocation kicks and cycles stop once they find nothing (``search.PROBE_SKIP_GUIDED``,
``allocation.STOP_GUIDED``, ``allocation.KICK_PATIENCE``)."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

import channelopt as co
from channelopt.models.territories import TerritoryDesign, allocation, search
from channelopt.models.territories import heuristics as heur
from channelopt.models.territories.data import prepare
from channelopt.models.territories.diagnosis import heuristic_problem


class _Built:
    """What ``_probe_then_improve`` reads of a built model: the model, and ``_exact`` (HiGHS), recorded."""

    def __init__(self, model, hres):
        self.model, self.calls, self.hres = model, [], hres

    def _exact(self, built, state, solver, deadline, hres):
        self.calls.append(deadline)
        info = co.SolveInfo("highs", "feasible", "time_limit", objective=hres.objective, bound=math.nan,
                            gap=math.nan, seconds=0.0)
        return hres.label, hres.centres, info


@pytest.mark.parametrize(("n", "skip", "probed"), [(210, True, False), (210, False, True), (120, True, True)])
def test_highs_probes_only_where_the_lagrangian_does_not_guide_a_map_too_big_for_the_lp(monkeypatch, planar_map, n,
                                                                                       skip, probed):
    # 210 regions: 44,100 pairs, above LP_BOUND_MAX_PAIRS, so the Lagrangian bounds the plan: no probe; 120: the
    # unrestricted LP bounds it and HiGHS may prove the plan, so it probes
    model = TerritoryDesign(k=4, weight="pop", balance={"size": 0.05})
    d = prepare(model, co.ChannelNetwork.from_graph(planar_map(n, 0), ["pop", "size"]))
    hres = heur.Result(label=np.arange(n) % 4, centres=[0, 1, 2, 3], objective=100.0, violation=0.0,
                       contiguous=True, seconds=0.0)
    monkeypatch.setattr(search, "PROBE_SKIP_GUIDED", skip)
    monkeypatch.setattr(search, "run_heuristic", lambda model, d, solver, seconds, start: start)
    built = _Built(model, hres)
    solver = co.Solver("highs", threads=1).start_clock()
    label, centres, info = search.TerritoryBuilt._probe_then_improve(built, d, {}, solver,
                                                                    time.perf_counter() + 60.0, hres)
    assert bool(built.calls) is probed
    assert info.objective == 100.0 and list(centres) == [0, 1, 2, 3]


def _no_better(monkeypatch, planar_map):
    """A 40-region guided map whose guide, dives and LP rounds find nothing better; LP rounds counted."""
    model = TerritoryDesign(k=4, weight="pop", balance={"size": 0.05})
    d = prepare(model, co.ChannelNetwork.from_graph(planar_map(40, 1), ["pop", "size"]))
    assert allocation.guided(d)
    rounds = []
    monkeypatch.setattr(allocation, "_guided", lambda d, pb, best, solver, seconds, rng: best)
    monkeypatch.setattr(allocation, "_dives", lambda d, pb, best, solver, seconds, rng: best)
    monkeypatch.setattr(allocation, "_lp_round", lambda *a: rounds.append(1))
    return model, d, heuristic_problem(model, d), rounds


@pytest.mark.parametrize(("stop", "patience", "more"), [(True, 0.0, False), (False, 0.0, True), (True, 1e9, True)])
def test_the_lp_kicks_stop_after_their_patience_where_the_lagrangian_guides(monkeypatch, planar_map, stop, patience,
                                                                           more):
    model, d, pb, rounds = _no_better(monkeypatch, planar_map)
    monkeypatch.setattr(allocation, "STOP_GUIDED", stop)
    monkeypatch.setattr(allocation, "KICK_PATIENCE", patience)
    solver = co.Solver("highs", threads=1).start_clock()
    label = np.arange(d.n) % 4
    out = allocation.lp_polish(d, pb, label, [0, 1, 2, 3], solver, 1.0)
    assert out[0] is not None and out[1] == [0, 1, 2, 3]
    assert (len(rounds) > 1) is more  # patience 0: the first kick already waited too long


@pytest.mark.parametrize(("stop", "cycles"), [(True, 2), (False, None)])
def test_the_location_allocation_cycles_stop_after_one_that_found_nothing(monkeypatch, planar_map, stop, cycles):
    model, d, pb, _ = _no_better(monkeypatch, planar_map)
    calls = []

    def lp_polish(d, pb, label, centres, solver, seconds, seed):  # 100 -> 50 in the first cycle, then nothing
        calls.append(seed)
        return label, centres, 50.0

    monkeypatch.setattr(allocation, "STOP_GUIDED", stop)
    monkeypatch.setattr(search, "lp_polish", lp_polish)
    mip = []
    monkeypatch.setattr(search, "polish",
                        lambda d, pb, label, centres, solver, seconds: mip.append(1) or (label, centres, 50.0))
    monkeypatch.setattr(search, "LP_POLISH_REGIONS", 10)  # the LP rounds' path on this 40-region map
    solver = co.Solver("highs", threads=1).start_clock()
    res = heur.Result(label=np.arange(d.n) % 4, centres=[0, 1, 2, 3], objective=100.0, violation=0.0,
                      contiguous=True, seconds=0.0)
    out = search._polish(model, d, pb, solver, res, time.perf_counter(), 3.5)
    assert out.objective == 50.0
    if cycles is None:
        assert len(calls) > 2 and len(mip) == len(calls)  # the cycles run on to the deadline
    else:
        # the second cycle's LP rounds found nothing: no MIP rounds from the plan the first ones ended on
        assert len(calls) == cycles and len(mip) == 1
