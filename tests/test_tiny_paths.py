"""The tiny-instance fast paths (issue 13) give what the general paths give.

- ``ChannelNetwork.from_cost_matrix`` builds its network without the general
  constructor when every check passes in numpy: the network must equal one built by
  ``ChannelNetwork(regions, outlets, distributors, costs=, distances=)`` from the same
  data, and bad input must still be named (column, ids) by the general checks.
"""

from __future__ import annotations

import itertools
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from channelopt import ChannelNetwork
from channelopt.exceptions import ValidationError

ROOT = Path(__file__).resolve().parents[1]


def _general(cost, demand=None, fixed_cost=None, capacity=None, *, outlet_ids=None, distributor_ids=None,
             distances=None, potential=None, channel="all", region_ids=None) -> ChannelNetwork:
    """The same network through the general constructor, written out here from the documented defaults."""
    cost = np.asarray(cost, dtype=float)
    n, m = cost.shape
    demand = np.ones(n) if demand is None else np.asarray(demand, dtype=float)
    outlet_ids = [f"o{i}" for i in range(n)] if outlet_ids is None else list(outlet_ids)
    distributor_ids = [f"d{j}" for j in range(m)] if distributor_ids is None else list(distributor_ids)
    region_ids = ["all"] * n if region_ids is None else list(region_ids)
    outlets = pd.DataFrame({"outlet_id": outlet_ids, "region_id": region_ids, "channel": channel,
                            "potential": demand if potential is None else np.asarray(potential, dtype=float),
                            "demand": demand})
    dists = pd.DataFrame({"distributor_id": distributor_ids,
                          "fixed_cost": np.zeros(m) if fixed_cost is None else np.asarray(fixed_cost, dtype=float),
                          "capacity": np.full(m, np.inf) if capacity is None else np.asarray(capacity, dtype=float)})
    regions = pd.DataFrame({"region_id": list(dict.fromkeys(region_ids))})
    return ChannelNetwork(regions, outlets, dists, costs=cost, distances=cost if distances is None else distances)


RNG = np.random.default_rng(13)
COST = RNG.uniform(0, 10, (6, 3))
CASES = [
    {},
    {"demand": [1, 2, 3, 4, 5, 6.5], "fixed_cost": [1, 2, 3], "capacity": [10, np.inf, 5],
     "outlet_ids": [10, 11, 12, 13, 14, 15], "distributor_ids": ["a", "b", "c"],
     "channel": ["pharmacy", "catering", "pharmacy", "pharmacy", "catering", "catering"],
     "region_ids": ["r1", "r2", "r1", "r3", "r3", "r2"], "potential": [1, 0, 3, 4, 5, 6], "distances": COST * 2},
    {"region_ids": [1, 1, 2, 2, 3, 3], "channel": "traditional"},
]


@pytest.mark.parametrize("kw", CASES)
def test_matrix_network_equals_the_general_constructors(kw):
    light = ChannelNetwork.from_cost_matrix(COST, **kw)
    general = _general(COST, **kw)
    for name in ("regions", "outlets", "distributors"):
        pd.testing.assert_frame_equal(getattr(light, name), getattr(general, name), check_exact=True)
    assert list(light.graph.nodes) == list(general.graph.nodes)
    assert light.graph.number_of_edges() == general.graph.number_of_edges() == 0
    np.testing.assert_array_equal(light.costs(), general.costs())
    np.testing.assert_array_equal(light.distances(), general.distances())
    assert light.distance_unit == general.distance_unit == "as given"
    # the light path fills the cached outlet_region_index from its lists: the general one, computed
    np.testing.assert_array_equal(light.outlet_region_index, general.outlet_region_index)
    assert sorted(vars(light)) == sorted(vars(general))
    for key in ("name", "road_graph", "road_weight", "contiguity", "cost_per_km", "crs", "_distances_given"):
        assert getattr(light, key) == getattr(general, key), key
    # costs and distances are two arrays (each is handed out), neither the caller's
    assert light.costs() is not light.distances()
    assert not np.shares_memory(light.costs(), COST)


def test_matrix_network_does_not_alias_the_callers_arrays():
    cost, dist = COST.copy(), COST.copy() * 3
    net = ChannelNetwork.from_cost_matrix(cost, distances=dist)
    net.costs()[0, 0] = -1.0
    net.distances()[0, 0] = -1.0
    assert cost[0, 0] == COST[0, 0] and dist[0, 0] == COST[0, 0] * 3
    plain = ChannelNetwork.from_cost_matrix(cost)
    plain.costs()[1, 1] = 99.0
    assert plain.distances()[1, 1] == COST[1, 1]


@pytest.mark.parametrize("kw, column, ids, words", [
    ({"cost": np.where(np.arange(18).reshape(6, 3) == 7, np.nan, COST)}, "costs", ["o2"], "NaN"),
    ({"cost": np.where(np.arange(18).reshape(6, 3) == 4, -1.0, COST)}, "costs", ["o1"], "negative"),
    ({"distances": np.where(np.arange(18).reshape(6, 3) == 16, np.nan, COST)}, "distances", ["o5"], "NaN"),
    # potential defaults to demand and is checked first: give it, so that demand is the one named
    ({"demand": [1, 1, -2, 1, 1, 1], "potential": np.ones(6)}, "demand", ["o2"], "negative"),
    ({"demand": [1, 1, 1, np.nan, 1, 1], "potential": np.ones(6)}, "demand", ["o3"], "NaN"),
    ({"potential": [1, np.inf, 1, 1, 1, 1]}, "potential", ["o1"], "infinite"),
    ({"fixed_cost": [1, -1, 0]}, "fixed_cost", ["d1"], "negative"),
    ({"capacity": [1, np.nan, 0]}, "capacity", ["d1"], "NaN"),
    ({"outlet_ids": ["a", "b", "a", "c", "d", "e"]}, "outlet_id", ["a"], "duplicate"),
    ({"distributor_ids": ["x", "y", "y"]}, "distributor_id", ["y"], "duplicate"),
    ({"outlet_ids": ["a", None, "b", "c", "d", "e"]}, "outlet_id", [1], "missing ids"),
    ({"channel": ["traditional", None, "traditional", "traditional", "traditional", "traditional"]},
     "channel", ["o1"], "missing"),
])
def test_bad_matrix_input_is_named_by_the_general_checks(kw, column, ids, words):
    kw = dict(kw)
    cost = kw.pop("cost", COST)
    with pytest.raises(ValidationError) as err:
        ChannelNetwork.from_cost_matrix(cost, **kw)
    assert err.value.column == column
    assert list(err.value.ids) == ids
    assert words in str(err.value) and column in str(err.value)


def test_non_text_channels_are_text_as_in_the_general_path():
    net = ChannelNetwork.from_cost_matrix(COST, channel=[1, 2, 1, 2, 1, 2])
    assert net.outlets["channel"].tolist() == ["1", "2", "1", "2", "1", "2"]
    assert net.channels == ["1", "2"]


# ---------------------------------------------------------------- tables made on first read
def _network():
    return ChannelNetwork.from_cost_matrix(
        COST * np.arange(1, 7)[:, None], demand=np.arange(1, 7), fixed_cost=[1.0, 2.0, 3.0],
        outlet_ids=["a", "b", "c", "d", "e", "f"], distributor_ids=["x", "y", "z"], distances=COST,
        channel=["pharmacy", "catering", "pharmacy", "pharmacy", "catering", "catering"],
        region_ids=["r1", "r2", "r1", "r3", "r3", "r2"])


def _every_table(plan) -> dict[str, pd.DataFrame]:
    m = plan.metrics
    # the p-median below solves by the radius strategy, whose plan also carries its solve_steps
    return {"assignments": plan.assignments, "distributors": plan.distributors, "links": plan.links,
            "solve_steps": plan.solve_steps.drop(columns="seconds"),  # seconds differ from solve to solve
            "by_region": m.by_region, "by_channel": m.by_channel, "by_distributor": m.by_distributor}


def _solve(net):
    import channelopt as co

    return co.DistributorSelection(objective="p_median", p=2).solve(net)


def test_tables_read_late_are_the_tables_at_solve_time():
    net = _network()
    now = {k: v.copy() for k, v in _every_table(_solve(net)).items()}
    later = _solve(net)
    assert "_pending" in vars(later) and "assignments" not in vars(later)  # nothing made yet
    # the user edits the network's frames in place before reading the plan
    net.outlets.loc[0, "potential"] = 1e6
    net.outlets.loc[1, "outlet_id"] = "changed"
    net.outlets.loc[2, "region_id"] = "r2"
    net.outlets.loc[3, "channel"] = "catering"
    net.distributors.loc[0, "capacity"] = 0.5
    net.distributors.loc[1, "fixed_cost"] = 99.0
    net.distributors.loc[2, "distributor_id"] = "changed"
    net.distributors.loc[0, "existing"] = True
    net.regions.loc[0, "region_id"] = "renamed"
    for name, table in _every_table(later).items():
        pd.testing.assert_frame_equal(table, now[name], check_exact=True, obj=name)
    # what the tables say, from the data (p-median, uncapacitated: each outlet to its cheapest open one)
    opened = now["distributors"]["open"].to_numpy()
    assert opened.sum() == 2
    cost = COST * np.arange(1, 7)[:, None]
    best = np.where(opened, cost, np.inf).argmin(axis=1)
    assert now["assignments"]["distributor_id"].tolist() == [["x", "y", "z"][j] for j in best]
    assert now["assignments"]["potential"].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]


def test_unread_tables_survive_pickle_copy_and_export(tmp_path):
    import copy
    import pickle

    eager = _every_table(_solve(_network()))
    for clone in (lambda p: pickle.loads(pickle.dumps(p)), copy.deepcopy, copy.copy):
        plan = _solve(_network())
        back = clone(plan)
        assert "_pending" not in vars(back)
        # a shallow copy shares the metrics object (its tables still to be made, once, for both)
        assert "_pending" not in vars(back.metrics) or back.metrics is plan.metrics
        for name, table in _every_table(back).items():
            pd.testing.assert_frame_equal(table, eager[name], check_exact=True, obj=name)
    plan = _solve(_network())
    assert plan.to_dict()["tables"]["links"] == _solve(_network()).to_dict()["tables"]["links"]
    plan = _solve(_network())
    plan.save(tmp_path / "p")
    from channelopt import Plan

    pd.testing.assert_frame_equal(Plan.load(tmp_path / "p").links, eager["links"], check_exact=True)


def test_a_table_set_before_it_is_read_is_the_one_kept():
    plan = _solve(_network())
    mine = pd.DataFrame({"x": [1]})
    plan.assignments = mine
    plan.metrics.by_region = mine
    assert plan.assignments is mine and plan.metrics.by_region is mine
    import pickle

    back = pickle.loads(pickle.dumps(plan))  # pickling makes the pending tables, not the ones set
    pd.testing.assert_frame_equal(back.assignments, mine)
    pd.testing.assert_frame_equal(back.metrics.by_region, mine)
    assert plan.distributors["open"].sum() == 2  # the others are still made when read
    assert plan.metrics.by_channel.index.tolist() == ["catering", "pharmacy"]
    # read once, kept: the same object on every read
    assert plan.links is plan.links and plan.metrics.by_distributor is plan.metrics.by_distributor


# ---------------------------------------------------------------- HiGHS in the calling thread
def _mkp():
    """150 x 20 multi-dimensional knapsack (3,000 nonzeros): a plan at once, optimality far away."""
    from channelopt._arrays import ArrayProblem

    rng = np.random.default_rng(1)
    ap = ArrayProblem("mkp", "max")
    value = rng.integers(50, 100, 150).astype(float)
    weights = rng.integers(20, 60, (20, 150)).astype(float)
    x = ap.add_vars("x", 150, upper=1, integer=True, cost=value)
    for r in range(20):
        ap.add_row(f"w{r}", x.index, weights[r], "<=", 1500)
    return ap, x, value, weights


def _knapsack():
    from channelopt._arrays import ArrayProblem

    value, weight = np.array([3.0, 4, 4, 10, 4]), np.array([3.0, 4, 5, 9, 4])
    ap = ArrayProblem("knap", "max")
    x = ap.add_vars("x", 5, upper=1, integer=True, cost=value)
    ap.add_row("weight", x.index, weight, "<=", 13.0)
    best = max(value @ np.array(t) for t in itertools.product([0, 1], repeat=5) if weight @ np.array(t) <= 13)
    return ap, x, best


@pytest.fixture
def worker_starts(monkeypatch):
    """Every start of the solver's worker thread, recorded (the threads run for real)."""
    import channelopt.solver as cs

    started = []

    class Recorded(cs._Run):
        def start(self):
            started.append(self.thread.name)
            super().start()

    monkeypatch.setattr(cs, "_Run", Recorded)
    return started


def test_a_tiny_model_runs_in_the_calling_thread_with_the_threaded_result(worker_starts, monkeypatch):
    import channelopt.solver as cs
    from channelopt import Solver

    # a slice long enough for a loaded machine: the path is under test here, not the slice
    monkeypatch.setattr(cs, "INLINE_SLICE", 30.0)
    ap, x, best = _knapsack()
    inline = Solver("highs", time_limit=60.0).solve(ap)
    inline_x = x.value.copy()
    assert worker_starts == []
    monkeypatch.setattr(cs, "INLINE_NNZ", -1)  # every model through the worker thread
    threaded = Solver("highs", time_limit=60.0).solve(ap)
    assert worker_starts == ["channelopt-highs"]
    assert (inline.status, inline.termination) == (threaded.status, threaded.termination) == ("optimal", "optimal")
    assert inline.objective == threaded.objective == pytest.approx(best)  # brute force
    np.testing.assert_array_equal(inline_x, x.value)


def test_a_run_longer_than_its_slice_goes_on_in_the_worker_thread(worker_starts, monkeypatch, caplog):
    import logging

    import channelopt.solver as cs
    from channelopt import Solver

    monkeypatch.setattr(cs, "INLINE_SLICE", 0.05)
    ap, x, value, weights = _mkp()
    with caplog.at_level(logging.INFO, logger="channelopt.solver"):
        info = Solver("highs", time_limit=1.5).solve(ap)
    assert "inline slice; going on in a worker thread" in caplog.text
    assert worker_starts == ["channelopt-highs"]
    # the solve's own limit stopped it, not the slice's: the call's last HiGHS limit is what was left
    assert (info.status, info.termination) == ("feasible", "time_limit")
    assert 0.5 < info.calls[-1]["solver_time_limit"] < 1.5
    take = x.value
    assert np.all(weights @ take <= 1500 + 1e-9)
    assert info.objective == pytest.approx(float(value @ take))
    assert math.isfinite(info.bound) and info.bound >= info.objective


INLINE_SIGINT = textwrap.dedent('''
    import sys, warnings
    import numpy as np
    import channelopt.solver as cs
    from channelopt import Solver
    from channelopt._arrays import ArrayProblem

    cs.INLINE_SLICE = 3.0   # the whole inline run is 3 s, so that the signal lands inside it
    started = []
    class Recorded(cs._Run):
        def start(self):
            started.append(1)
            super().start()
    cs._Run = Recorded
    rng = np.random.default_rng(1)
    ap = ArrayProblem("mkp", "max")
    value = rng.integers(50, 100, 150).astype(float)
    weights = rng.integers(20, 60, (20, 150)).astype(float)
    x = ap.add_vars("x", 150, upper=1, integer=True, cost=value)
    for r in range(20):
        ap.add_row(f"w{r}", x.index, weights[r], "<=", 1500)
    print("SOLVING", flush=True)
    try:
        info = Solver("highs", time_limit=None).solve(ap)
    except KeyboardInterrupt:
        print("RESULT KeyboardInterrupt", flush=True)
        sys.exit(130)
    ok = bool(np.all(weights @ x.value <= 1500 + 1e-9))
    print("RESULT", info.status, info.termination, info.objective, info.bound, ok, len(started), flush=True)
''')


def test_ctrl_c_during_an_inline_run_is_held_and_returns_its_plan(tmp_path):
    script = tmp_path / "inline.py"
    script.write_text(INLINE_SIGINT)
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env)
    assert proc.stdout.readline().strip() == "SOLVING"
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=120)  # a guard against a hang, not a timing claim
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"Ctrl-C did not stop the inline solve: {proc.communicate()[0][-500:]}")
    line = next(row for row in out.splitlines() if row.startswith("RESULT"))
    assert proc.returncode == 0, out
    _, status, termination, objective, bound, ok, threads = line.split()
    assert (status, termination, ok, threads) == ("feasible", "interrupted", "True", "0")
    assert float(objective) > 0 and float(bound) >= float(objective)


def test_a_recycled_highs_object_keeps_nothing_of_the_run_before(monkeypatch):
    import channelopt.solver as cs
    from channelopt import Solver
    from channelopt._arrays import ArrayProblem

    monkeypatch.setattr(cs, "_IDLE_HIGHS", [])

    def lp():
        ap = ArrayProblem("lp", "max")
        x = ap.add_vars("x", 2, upper=3.0, cost=[1.0, 1.0])
        ap.add_row("r", x.index, [1.0, 2.0], "<=", 4.0)
        return ap, x

    ap, _ = lp()
    first = Solver("highs", options={"simplex_iteration_limit": 0}).solve(ap)
    assert first.termination == "iteration_limit" and first.status != "optimal"
    assert len(cs._IDLE_HIGHS) == 1
    pooled = cs._IDLE_HIGHS[0]
    ap, x = lp()
    second = Solver("highs").solve(ap)
    assert cs._IDLE_HIGHS == [pooled]  # the same object served the second solve, and came back
    # by hand: x0 = 3 (its bound), then x1 = (4 - 3) / 2
    assert (second.status, second.objective) == ("optimal", pytest.approx(3.5))
    np.testing.assert_allclose(x.value, [3.0, 0.5])
    # a MIP start of the run before is not carried either: a knapsack after it is solved afresh
    kn, y, best = _knapsack()
    third = Solver("highs").solve(kn, warm_start={y: [1, 1, 0, 0, 1]})
    ap, x = lp()
    assert Solver("highs").solve(ap).objective == pytest.approx(3.5)
    assert third.objective == pytest.approx(best)


def test_overall_coverage_numbers_are_the_plans_own():
    import channelopt as co

    net = _network()
    # one distributor within 0.5: only outlet c (region r1) is in range of one (y, at 0.03; by hand)
    plan = co.DistributorSelection(objective="max_coverage", p=1, max_distance=0.5).solve(net)
    a = plan.assignments
    covered = a["covered"].to_numpy()
    assert covered.tolist() == [False, False, True, False, False, False]
    regions = ["r1", "r2", "r3"]
    reached = set(a.loc[a["covered"], "region_id"])
    assert plan.metrics["region_coverage"] == pytest.approx(len(reached) / len(regions))
    assert plan.metrics["covered_outlets"] == int(covered.sum())
    assert plan.metrics["covered_weight"] == pytest.approx(float(np.arange(1, 7)[covered].sum()))
    by_region = plan.metrics.by_region
    assert by_region.index.tolist() == regions
    assert by_region["covered"].tolist() == [r in reached for r in regions]


def test_looking_for_private_attributes_makes_no_table():
    plan = _solve(_network())
    # what copy, pickle and IPython's display ask for before they do anything
    for name in ("_repr_html_", "_ipython_display_", "__deepcopy__"):
        assert not hasattr(plan, name)
    assert "assignments" not in vars(plan) and "tables" not in vars(plan)
    with pytest.raises(AttributeError, match="its tables are \\['distributors', 'links', 'solve_steps'\\]"):
        plan.territories  # noqa: B018 - a table this plan has not: the message lists the ones it has


def test_an_inline_run_in_a_thread_of_the_callers_own(worker_starts, monkeypatch):
    # a scenario batch's Dask or pool threads: no SIGINT handler can be set there, and none is needed
    import threading

    import channelopt.solver as cs
    from channelopt import Solver

    monkeypatch.setattr(cs, "INLINE_SLICE", 30.0)
    out = {}

    def solve():
        ap, x, best = _knapsack()
        try:
            out["info"], out["best"] = Solver("highs", time_limit=60.0).solve(ap), best
        except BaseException as exc:  # reported to the test below, not lost in the thread
            out["error"] = exc

    thread = threading.Thread(target=solve)
    thread.start()
    thread.join()
    assert "error" not in out, out.get("error")
    assert worker_starts == []
    assert (out["info"].status, out["info"].objective) == ("optimal", pytest.approx(out["best"]))


def test_a_small_networks_kept_links_are_its_allowed_links_and_copies():
    """allowed_counts keeps a small network's links for the build; allowed_links then returns them,
    per (max_distance, exclude), as arrays the caller may change. Expected links from the matrix here."""
    rng = np.random.default_rng(3)
    d = rng.uniform(0, 10, (12, 4)).round(2)
    net = ChannelNetwork.from_cost_matrix(2 * d, distances=d)
    ex = np.array([False, True, False, False])
    for md, exclude in [(5.0, None), (5.0, ex), (7.0, ex), (None, None)]:
        ok = np.ones(d.shape, dtype=bool) if md is None else d <= md
        if exclude is not None:
            ok &= ~exclude[None, :]
        want = [a.tolist() for a in np.nonzero(ok)]
        assert net.allowed_counts(max_distance=md, exclude=exclude).tolist() == ok.sum(axis=1).tolist()
        assert "links" in next(iter(net._allowed_kept.values()))  # the kept path is the one tested
        for _ in range(2):
            oi, dj = net.allowed_links(max_distance=md, exclude=exclude)
            assert [oi.tolist(), dj.tolist()] == want
            oi[:] = 0  # the caller's to change: the next call is unharmed
            dj[:] = 0


def test_settings_are_each_constructors_own_when_the_names_are_kept():
    """get_params keeps the constructor's parameter names per function: a subclass with a setting of its
    own reports it, and its parent does not (names from inspect, here)."""
    import inspect

    import channelopt as co

    class Wider(co.DistributorSelection):
        def __init__(self, extra=1, objective="min_cost", max_distance=None):
            super().__init__(objective=objective, max_distance=max_distance)
            self.extra = extra

    parent = co.DistributorSelection(objective="set_cover", max_distance=8.0)
    assert list(parent.get_params()) == [n for n in inspect.signature(co.DistributorSelection.__init__).parameters
                                         if n != "self"]
    assert "extra" not in parent.get_params()
    wide = Wider(extra=3, objective="set_cover", max_distance=8.0)
    assert wide.get_params() == {"extra": 3, "objective": "set_cover", "max_distance": 8.0}
    assert wide.clone(extra=4).extra == 4


def test_allowed_links_follow_the_distributors_channels_with_and_without_restrictions():
    """Links from the channels written here: every link when no distributor restricts channels (whatever the
    outlets' channels), only the compatible ones when one does."""
    d = np.arange(1.0, 13.0).reshape(4, 3)
    outlets = pd.DataFrame({"outlet_id": ["a", "b", "c", "e"], "region_id": "r",
                            "channel": ["pharmacy", "catering", "pharmacy", "community"], "potential": 1.0})
    regions = pd.DataFrame({"region_id": ["r"]})
    for channels, ok in [([None, None, None], np.ones((4, 3), dtype=bool)),
                         ([None, "pharmacy", "catering;community"],
                          np.array([[1, 1, 0], [1, 0, 1], [1, 1, 0], [1, 0, 1]], dtype=bool))]:
        dists = pd.DataFrame({"distributor_id": ["x", "y", "z"], "fixed_cost": 0.0, "capacity": np.inf,
                              "channels": channels})
        net = ChannelNetwork(regions, outlets, dists, costs=d, distances=d, graph=_one_node("r"))
        oi, dj = net.allowed_links(max_distance=9.5)
        want = ok & (d <= 9.5)
        assert [oi.tolist(), dj.tolist()] == [a.tolist() for a in np.nonzero(want)]
        net2 = ChannelNetwork(regions, outlets, dists, costs=d, distances=d, graph=_one_node("r"))
        assert net2.allowed_counts(exclude=np.array([False, True, False])).tolist() == \
            (ok & np.array([True, False, True])).sum(axis=1).tolist()


def _one_node(name):
    import networkx as nx

    g = nx.Graph()
    g.add_node(name)
    return g
