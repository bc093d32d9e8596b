"""Balance repair of heuristic territory plans (issue 12): checked against brute force, from the loads and networkx."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import channelopt as co
from channelopt.datasets import synthetic_dual_graph
from channelopt.models.territories import TerritoryDesign
from channelopt.models.territories import heuristics as heur
from channelopt.models.territories.data import balance_kept, prepare
from channelopt.models.territories.diagnosis import heuristic_problem
from channelopt.models.territories.repair import repair_balance


def instance(n, seed, k, tol):
    """A synthetic planar map with Validi & Buchanan style whole-number bounds, as the library sees it."""
    g = synthetic_dual_graph(n, seed=seed)
    total = sum(p for _, p in g.nodes(data="TOTPOP"))
    lo, hi = int(np.ceil((1 - tol) * total / k)), int(np.floor((1 + tol) * total / k))
    model = TerritoryDesign(k=k, objective="cut_edges", balance={"TOTPOP": (lo, hi)})
    d = prepare(model, co.ChannelNetwork.from_graph(g, weight_attrs=["TOTPOP"]))
    return g, d, heuristic_problem(model, d), (lo, hi)


def graph_of(d):
    """The map as networkx sees it, in region positions (independent of the library's adjacency lists)."""
    g = nx.Graph()
    g.add_nodes_from(range(d.n))
    g.add_edges_from(map(tuple, np.asarray(d.edges).tolist()))
    return g


def connected_parts(g, label, k) -> bool:
    return all((label == t).any() and nx.is_connected(g.subgraph(np.flatnonzero(label == t).tolist()))
               for t in range(k))


def loads_within(g, label, k, bounds) -> bool:
    pop = np.array([g.nodes[v]["TOTPOP"] for v in range(len(label))])
    sums = np.bincount(label, weights=pop, minlength=k)
    return bool(((sums >= bounds[0]) & (sums <= bounds[1])).all())


def balanced_plan_exists(g, d, bounds) -> bool:
    """Brute force: some labelling into k connected, non-empty parts keeps the bounds."""
    pop = np.array([g.nodes[v]["TOTPOP"] for v in range(d.n)])
    labs = np.array(list(itertools.product(range(d.k), repeat=d.n - 1)))
    labs = np.hstack([np.zeros((len(labs), 1), dtype=int), labs])  # part names are interchangeable
    sums = np.stack([(labs == t) @ pop for t in range(d.k)], axis=1)
    keep = ((sums >= bounds[0]) & (sums <= bounds[1])).all(axis=1)
    gd = graph_of(d)
    return any(connected_parts(gd, lab, d.k) for lab in labs[keep])


def test_repair_balances_the_heuristics_plan_where_brute_force_finds_a_balanced_one(monkeypatch):
    g, d, pb, bounds = instance(9, 4, 3, 0.02)
    assert balanced_plan_exists(g, d, bounds)
    monkeypatch.setattr(heur, "REPAIR", False)
    before = heur.solve_heuristic(pb, seconds=5, max_starts=1)
    # the local search alone stops past a bound (single moves only), with connected parts
    assert not balance_kept(d, before.label) and connected_parts(graph_of(d), before.label, d.k)
    monkeypatch.setattr(heur, "REPAIR", True)
    after = heur.solve_heuristic(pb, seconds=5, max_starts=1)
    assert balance_kept(d, after.label) and loads_within(g, after.label, d.k, bounds)
    assert connected_parts(graph_of(d), after.label, d.k)
    assert after.violation == 0.0


def test_single_moves_alone_do_not_repair_it_but_an_exchange_or_chain_does():
    g, d, pb, bounds = instance(9, 4, 3, 0.02)
    start = np.array([2, 2, 2, 1, 0, 1, 1, 0, 0])  # the local search's plan above, past a bound
    assert connected_parts(graph_of(d), start, d.k) and not loads_within(g, start, d.k, bounds)
    lab1, ok1 = repair_balance(pb, start, depth=1)
    assert not ok1 and not balance_kept(d, lab1)
    lab, ok = repair_balance(pb, start)
    assert ok and balance_kept(d, lab) and loads_within(g, lab, d.k, bounds)
    assert connected_parts(graph_of(d), lab, d.k)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(6, 9), seed=st.integers(0, 10_000), k=st.integers(2, 3),
       tol=st.sampled_from([0.01, 0.03, 0.08, 0.2]), start_seed=st.integers(0, 100))
def test_repair_never_returns_a_broken_plan_nor_claims_balance_it_lacks(n, seed, k, tol, start_seed):
    g, d, pb, bounds = instance(n, seed, k, tol)
    gd = graph_of(d)
    # a connected start: regions grown from random seeds with no balance at all
    loose = heur.Problem(pb.adj, k, pb.loads, np.zeros(1), np.full(1, np.inf))
    start = heur.solve_heuristic(loose, seconds=0.05, seed=start_seed, max_starts=1).label
    if not connected_parts(gd, start, k):
        return
    lab, ok = repair_balance(pb, start)
    assert connected_parts(gd, lab, k)
    assert ok == (balance_kept(d, lab) and loads_within(g, lab, k, bounds))
    if not balanced_plan_exists(g, d, bounds):
        assert not ok


@pytest.mark.parametrize("objective", ["cut_edges", "compactness"])
def test_repaired_plans_keep_locked_regions(objective):
    g, d, pb, bounds = instance(9, 4, 3, 0.02)
    start = np.array([2, 2, 2, 1, 0, 1, 1, 0, 0])
    pb.objective = objective
    if objective == "compactness":
        pb.weights = np.ones(d.n)
        pb.dist = np.array(nx.floyd_warshall_numpy(graph_of(d), nodelist=range(d.n)))
    pb.locked = np.full(d.n, -1)
    pb.locked[[0, 4, 3]] = start[[0, 4, 3]]
    lab, ok = repair_balance(pb, start, centres_of=heur.best_centres)
    assert (lab[[0, 4, 3]] == start[[0, 4, 3]]).all()
    assert connected_parts(graph_of(d), lab, d.k)
    assert ok == loads_within(g, lab, d.k, bounds)


def test_compactness_without_a_centre_rule_is_an_error_naming_it():
    g, d, pb, bounds = instance(9, 4, 3, 0.02)
    pb.objective = "compactness"
    pb.weights = np.ones(d.n)
    pb.dist = np.array(nx.floyd_warshall_numpy(graph_of(d), nodelist=range(d.n)))
    with pytest.raises(ValueError, match="needs centres_of"):
        repair_balance(pb, np.array([2, 2, 2, 1, 0, 1, 1, 0, 0]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_of_the_steps_that_reach_balance_the_repair_takes_the_fewest_cut_edges(seed):
    # unit loads, k=2, both parts bounded to n/2 and a start one region over: with steps of at most two moves
    # only single moves reach balance (a pair moves 0 or 2 regions net), so trying each one finds the cheapest
    g, d, pb, _ = instance(14, seed, 2, 0.02)
    gd = graph_of(d)
    start = np.ones(d.n, dtype=int)
    start[list(nx.bfs_tree(gd, 0))[:8]] = 0  # a prefix of a breadth-first order: connected
    assert connected_parts(gd, start, 2)
    pb = heur.Problem(pb.adj, 2, np.ones((d.n, 1)), np.array([7.0]), np.array([7.0]))

    def cut(lab):
        return sum(lab[u] != lab[v] for u, v in gd.edges)

    costs = {}
    for v in np.flatnonzero(start == 0).tolist():
        lab = start.copy()
        lab[v] = 1
        if connected_parts(gd, lab, 2):
            costs[v] = cut(lab)
    assert len(set(costs.values())) > 1  # a map where the choice matters
    lab, ok = repair_balance(pb, start, depth=2)
    assert ok and connected_parts(gd, lab, 2) and int((lab != start).sum()) == 1
    assert cut(lab) == min(costs.values())
