"""The planner's exclusive assignment stage: its greedy first plan, its rule check, and its optimum.

Every plan is checked against the rules from the network's own tables (written here), and the
optimum against brute force over every owner choice.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import channelopt as co
from channelopt.models._exclusive import assign_exclusive, exclusive_violations, greedy_owners


def _net(seed, k=4):
    net = co.make_synthetic(8, 60, 4, seed=seed)
    # capacities that hold each territory alone, and the two smallest together, barely: the rule binds
    per = np.sort(np.bincount(_territories(net, k), weights=net.outlets["demand"].to_numpy()))
    net.distributors = net.distributors.assign(capacity=max(per[-1], per[0] + per[1]) * 1.02, channels=None)
    # D-004 is cheap to sign: with may_open the optimum signs it on seeds 0 and 2
    net.distributors.loc[3, "fixed_cost"] = 500.0
    return net


def _territories(net, k):
    regions = {r: i % k for i, r in enumerate(net.region_ids)}
    return net.outlets["region_id"].map(regions).to_numpy()


def _rules_hold(net, territory, owner, is_open):
    """Exclusivity (one owner per territory), signed owners, capacity: from the tables, not the model."""
    served = owner >= 0
    assert served.all()
    for t in np.unique(territory):
        assert len(set(owner[territory == t])) == 1, t
    assert is_open[owner].all()
    load = np.bincount(owner, weights=net.outlets["demand"].to_numpy(), minlength=len(is_open))
    assert (load <= net.distributors["capacity"].to_numpy() * (1 + 1e-9)).all()


def _brute_force(net, territory, signed, usable):
    """Least service + new fixed cost over every owner per territory (None: no plan keeps the rules)."""
    terrs = np.unique(territory)
    cost = net.costs()
    demand = net.outlets["demand"].to_numpy()
    cap = net.distributors["capacity"].to_numpy()
    fixed = net.distributors["fixed_cost"].to_numpy()
    cols = np.flatnonzero(usable | signed)
    best = None
    for choice in itertools.product(cols, repeat=len(terrs)):
        owner = np.empty(len(territory), dtype=int)
        for t, j in zip(terrs, choice):
            owner[territory == t] = j
        load = np.bincount(owner, weights=demand, minlength=len(cap))
        if (load > cap).any():
            continue
        new = sorted(set(choice) - set(np.flatnonzero(signed)))
        value = cost[np.arange(len(owner)), owner].sum() + fixed[new].sum()
        best = value if best is None or value < best else best
    return best


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("may_open", [False, True])
def test_the_stage_reaches_the_brute_force_optimum(seed, may_open):
    net = _net(seed)
    territory = _territories(net, 4)
    signed = np.array([True, True, True, False])
    usable = np.ones(4, dtype=bool) if may_open else signed.copy()
    best = _brute_force(net, territory, signed, usable)
    assert best is not None
    owner, opened, info, table = assign_exclusive(
        net, territory, np.ones(len(territory), dtype=bool), signed, usable=usable, exclusivity="territory",
        capacitated=True, max_distance=None, solver=co.Solver())
    assert info.status == "optimal"
    assert info.objective == pytest.approx(best, rel=1e-9)
    _rules_hold(net, territory, owner, opened)
    assert len(table) == 4 and table["distributor_id"].notna().all()


def test_without_time_for_a_solver_call_the_greedy_plan_comes_back_and_keeps_the_rules():
    # The clock is spent before the stage starts (the planner's assignment share on china at 1-5 s):
    # before, HiGHS got no time and the stage raised NoSolutionError.
    net = _net(3)
    territory = _territories(net, 4)
    signed = np.ones(4, dtype=bool)
    spent = co.Solver(time_limit=100).start_clock().share(0.0)
    owner, opened, info, _ = assign_exclusive(
        net, territory, np.ones(len(territory), dtype=bool), signed, usable=signed, exclusivity="territory",
        capacitated=True, max_distance=None, solver=spent)
    assert info.status == "feasible"
    assert "greedy start" in info.message and "returning it" in info.message
    _rules_hold(net, territory, owner, opened)
    # its objective is what the plan costs
    assert info.objective == pytest.approx(net.costs()[np.arange(len(owner)), owner].sum(), rel=1e-9)
    assert info.objective >= _brute_force(net, territory, signed, signed) * (1 - 1e-9)


def test_no_exclusive_plan_is_an_honest_infeasibility():
    # Each of 2 territories needs 55% of all demand at one distributor; capacities of 50% each cannot
    # take either: no greedy, and the solver proves it.
    net = _net(0)
    demand = net.outlets["demand"].to_numpy()
    half = np.zeros(len(demand), dtype=int)
    order = np.argsort(-demand)
    half[order[1::2]] = 1
    net.distributors = net.distributors.assign(capacity=demand.sum() * 0.6)
    signed = np.ones(4, dtype=bool)
    # 2 territories of ~50% each; 4 distributors of 60%: feasible (one each)
    owner, opened, info, _ = assign_exclusive(
        net, half, np.ones(len(half), dtype=bool), signed, usable=signed, exclusivity="territory",
        capacitated=True, max_distance=None, solver=co.Solver())
    _rules_hold(net, half, owner, opened)
    # one territory holding 80% of demand: no distributor can take it alone
    big = np.zeros(len(demand), dtype=int)
    big[np.cumsum(demand[order]) / demand.sum() > 0.8] = 1
    territory = np.empty(len(demand), dtype=int)
    territory[order] = big
    alone = r"no signed distributor can serve the whole of \['0'\] \(territory\) alone"
    with pytest.raises(co.InfeasibleError, match=alone):
        assign_exclusive(net, territory, np.ones(len(half), dtype=bool), signed, usable=signed,
                         exclusivity="territory", capacitated=True, max_distance=None, solver=co.Solver())
    # three territories of about a third each onto two distributors of 45%: each fits alone, together not
    signed2 = np.array([True, True, False, False])
    thirds = np.empty(len(demand), dtype=int)
    thirds[order] = np.arange(len(demand)) % 3  # round robin by size: about a third each
    assert (np.bincount(thirds, weights=demand) < demand.sum() * 0.45).all()
    net.distributors = net.distributors.assign(capacity=demand.sum() * 0.45)
    with pytest.raises(co.InfeasibleError, match="signed distributors cannot serve each territory group alone"):
        assign_exclusive(net, thirds, np.ones(len(half), dtype=bool), signed2, usable=signed2,
                         exclusivity="territory", capacitated=True, max_distance=None, solver=co.Solver())


def test_greedy_owners_keeps_capacity_and_never_beats_brute_force():
    found = feasible = 0
    for seed in range(60):
        rng = np.random.default_rng(seed)
        G, C = 6, 3
        cost = rng.uniform(1, 10, (G, C))
        cost[rng.random((G, C)) < 0.2] = np.inf
        demand = rng.uniform(1, 5, G)
        cap = np.full(C, demand.sum() / C * rng.uniform(1.05, 1.6))
        signed, open_cost = np.array([True, True, False]), np.array([0.0, 0.0, 5.0])
        best = None
        for a in itertools.product(range(C), repeat=G):
            a = np.array(a)
            c = cost[np.arange(G), a]
            if np.isfinite(c).all() and (np.bincount(a, weights=demand, minlength=C) <= cap).all():
                v = c.sum() + (5.0 if (a == 2).any() else 0.0)
                best = v if best is None else min(best, v)
        got = greedy_owners(cost, demand, cap, open_cost, signed)
        if best is None:
            assert got is None
            continue
        feasible += 1
        if got is None:
            continue
        found += 1
        owner, used = got
        assert np.isfinite(cost[np.arange(G), owner]).all()
        assert (np.bincount(owner, weights=demand, minlength=C) <= cap).all()
        assert used[owner].all() and used[:2].all()
        value = cost[np.arange(G), owner].sum() + (5.0 if used[2] else 0.0)
        assert value >= best - 1e-9
    # the repair passes place every instance a plan exists for (measured 252 of 253 over 300 seeds)
    assert feasible >= 50 and found == feasible


def test_the_rule_check_catches_each_broken_rule():
    net = _net(0)
    n = len(net.outlets)
    group = np.zeros(n, dtype=int)
    group[n // 2:] = 1
    owner = np.where(group == 0, 0, 1)
    is_open = np.array([True, True, False, False])
    assert exclusive_violations(net, owner, is_open, group, capacitated=False, max_distance=None) == []
    split = owner.copy()
    split[0] = 1
    assert exclusive_violations(net, split, is_open, group, capacitated=False, max_distance=None) == [
        "group 0 has 2 owners"]
    closed = np.where(group == 0, 0, 2)
    assert "not signed" in exclusive_violations(net, closed, is_open, group, capacitated=False,
                                                max_distance=None)[0]
    small = net.copy()
    small.distributors = net.distributors.assign(capacity=1.0)
    msg = exclusive_violations(small, owner, is_open, group, capacitated=True, max_distance=None)
    assert msg and msg[0].startswith("D-001 carries") and "over its capacity 1" in msg[0]
    far = exclusive_violations(net, owner, is_open, group, capacitated=False, max_distance=1e-6)
    assert far == ["an outlet is served from further than max_distance 1e-06 km"]


def test_ejection_moves_a_group_where_only_a_chain_of_two_moves_pays():
    from channelopt.models._exclusive import _eject_moves

    # g (6) sits on A at 10 and would cost 1 on B, but B holds h (6) with 4 left; h may go on to C (5.5
    # instead of 5). No shift fits and the swap costs more (h on A: 100); the chain saves 8.5.
    cost = np.array([[10.0, 1.0, np.inf], [100.0, 5.0, 5.5]])
    demand = np.array([6.0, 6.0])
    owner = np.array([0, 1])
    rem = np.array([4.0, 4.0, 10.0])
    used = np.ones(3, dtype=bool)
    assert _eject_moves(owner, cost, demand, rem, used, lambda: False)
    assert owner.tolist() == [1, 2]
    assert rem.tolist() == [10.0, 4.0, 4.0]


@pytest.mark.parametrize("max_distance", [None, 40.0])
def test_group_sums_match_the_dense_matrices(max_distance):
    """The stage's per-group counts and costs, made a few outlets at a time on the links, are the dense
    matrices' sums (written here from compatibility, costs() and distances())."""
    from channelopt.models._exclusive import _group_links

    net = co.make_synthetic(8, 60, 6, seed=3)
    fresh = co.make_synthetic(8, 60, 6, seed=3)  # no dense matrix computed before the stage reads it
    territory = _territories(net, 3)
    live = np.flatnonzero(np.arange(len(territory)) % 5 != 0)  # some outlets not served
    codes = territory[live]
    cols = np.array([0, 2, 3, 5])
    ok = net.compatibility[np.ix_(live, cols)]
    if max_distance is not None:
        ok = ok & (net.distances()[np.ix_(live, cols)] <= max_distance)
    bad = np.zeros((3, len(cols)), dtype=int)
    np.add.at(bad, codes, (~ok).astype(int))
    cost = np.zeros((3, len(cols)))
    np.add.at(cost, codes, net.costs()[np.ix_(live, cols)])
    got_bad, got_cost = _group_links(fresh, live, codes, cols, 3, max_distance, chunk_cells=37)  # many chunks
    assert got_bad.tolist() == bad.tolist()
    assert len(np.unique(bad)) > 2  # the rules bind unevenly (not a vacuous check)
    assert got_cost == pytest.approx(cost, rel=1e-12)
    assert fresh._costs is None and fresh._distances is None
