"""Branch-and-price by root (:mod:`.branchprice`) against brute force on small maps.

The tree, exhausted, must give the brute-force optimum over contiguous balanced partitions, with a plan that keeps
every rule; its bound (also the root's, and any open node's when stopped early) must never pass that optimum.
"""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest

import channelopt as co
from channelopt.models.territories import TerritoryDesign, branchprice
from channelopt.models.territories.data import prepare


def _map(delaunay_pop_map, n, seed, k, tol):
    g = delaunay_pop_map(n, seed, xy=False)
    total = sum(nx.get_node_attributes(g, "pop").values())
    lo, hi = (1 - tol) * total / k, (1 + tol) * total / k
    net = co.ChannelNetwork.from_graph(g, ["pop"])
    d = prepare(TerritoryDesign(k=k, objective="cut_edges", balance={"pop": (lo, hi)}), net)
    return g, lo, hi, d


def _rules(g, d, label, lo, hi, k):
    nodes = list(g.nodes)
    assert len(np.unique(label)) == k
    for t in np.unique(label):
        members = np.flatnonzero(label == t)
        assert nx.is_connected(g.subgraph([nodes[i] for i in members]))
        load = float(d.loads[members, 0].sum())
        assert lo - 1e-9 <= load <= hi + 1e-9
    e = np.asarray(d.edges)
    return float(np.asarray(d.edge_w)[label[e[:, 0]] != label[e[:, 1]]].sum())


CASES = [(9, 11, 3, 0.3), (10, 40, 3, 0.2), (10, 7, 2, 0.1), (11, 5, 3, 0.25), (10, 23, 4, 0.3), (10, 2, 3, 0.1),
         (11, 13, 3, 0.1)]


@pytest.mark.parametrize("n, seed, k, tol", CASES)
def test_exhausted_tree_gives_the_brute_force_optimum(delaunay_pop_map, brute_force, n, seed, k, tol):
    g, lo, hi, d = _map(delaunay_pop_map, n, seed, k, tol)
    best = brute_force(g, k, lo, hi)
    assert math.isfinite(best)
    res = branchprice.branch_and_price(d, 60.0)
    assert res.proven
    assert res.objective == pytest.approx(best)
    assert res.root_bound <= best + 1e-6
    assert _rules(g, d, res.label, lo, hi, k) == pytest.approx(best)


@pytest.mark.parametrize("n, seed, k, tol", CASES)
def test_with_an_incumbent_one_above_it_finds_the_optimum(delaunay_pop_map, brute_force, n, seed, k, tol):
    """The incumbent's cutoff prunes and fixes roots (whole-number borders: nodes above ``incumbent - 1``); every
    node holding the optimum must survive, so the tree still finds it."""
    g, lo, hi, d = _map(delaunay_pop_map, n, seed, k, tol)
    best = brute_force(g, k, lo, hi)
    res = branchprice.branch_and_price(d, 60.0, incumbent=best + 1.0)
    assert res.proven and res.label is not None
    assert _rules(g, d, res.label, lo, hi, k) == pytest.approx(best)
    assert res.objective == pytest.approx(best)
    assert res.root_bound <= best + 1e-6


def _plans(partitions, g, k, lo, hi, tree):
    """Every contiguous balanced partition once, as a list of territories (bool arrays) with their roots."""
    seen, out = set(), []
    for lab in partitions(g, k, lo, hi):
        parts = [lab == t for t in range(k)]
        key = frozenset(np.packbits(m).tobytes() for m in parts)
        if key not in seen:
            seen.add(key)
            out.append([(int(tree.pos[m].min()), m) for m in parts])
    return out


def _seeded_tree(partitions, g, k, lo, hi, d):
    """A search tree whose master holds every territory of every contiguous balanced partition."""
    tree = branchprice._Tree(d, co.Solver("highs").start_clock(), lambda: 10.0, lambda: math.inf)
    plans = _plans(partitions, g, k, lo, hi, tree)
    for plan in plans:
        for _, m in plan:
            tree.add(m)
    return tree, plans


def _obeys(plan, node, tree) -> bool:
    """The node's decisions read on a plan: roots forced or forbidden, region in or out of a root's territory."""
    roots = {r: m for r, m in plan}
    for p in range(len(node.state)):
        if node.state[p] == 1 and p not in roots or node.state[p] == -1 and p in roots:
            return False
    for (p, q), inside in node.fix.items():
        v = tree.order[q]
        if inside and (p not in roots or not roots[p][v]) or not inside and p in roots and roots[p][v]:
            return False
    return True


def _compatible(r, m, node, tree) -> bool:
    """Whether a territory rooted at ``r`` may be in a plan obeying the node, read from the decisions alone."""
    if node.state[r] == -1 or any(node.state[p] == 1 and p != r and m[tree.order[p]] for p in range(len(m))):
        return False
    for (p, q), inside in node.fix.items():
        v = tree.order[q]
        if p == r and m[v] != inside or p != r and inside and m[v]:
            return False
    return True


def _nodes(tree, plans, rng, count):
    """Random nodes reached by branching along the decisions of random plans (so that some plans obey them)."""
    n = len(tree.order)
    for _ in range(count):
        plan = plans[rng.integers(len(plans))]
        roots = {r: m for r, m in plan}
        state = np.zeros(n, dtype=np.int8)
        fix = {}
        for p in rng.choice(tree.roots, size=min(2, len(tree.roots)), replace=False).tolist():
            state[p] = 1 if (p in roots) == (rng.random() < 0.8) else -1
        for p in [p for p in roots if state[p] == 1]:
            q = int(rng.integers(p, n))
            fix[(p, q)] = bool(roots[p][tree.order[q]]) if rng.random() < 0.8 else not roots[p][tree.order[q]]
        yield branchprice._Node((0,), state, fix, -math.inf, 0, None)


SMALL = [(9, 11, 3, 0.3), (10, 23, 4, 0.3), (10, 40, 3, 0.2)]


@pytest.mark.parametrize("n, seed, k, tol", SMALL)
def test_node_columns_and_pricing_bounds_are_the_compatible_territories(delaunay_pop_map, partitions, n, seed, k,
                                                                        tol):
    g, lo, hi, d = _map(delaunay_pop_map, n, seed, k, tol)
    tree, plans = _seeded_tree(partitions, g, k, lo, hi, d)
    assert len(tree.cost) > k
    rng = np.random.default_rng(seed)
    checked = 0
    for node in _nodes(tree, plans, rng, 25):
        ok = tree.column_ok(node)
        for i in range(len(tree.cost)):
            r, m = int(tree.root[i]), tree.cols[i]
            want = _compatible(r, m, node, tree)
            assert ok[i] == want
            b = None if node.state[r] == -1 else tree.bounds(node, r)
            inside = b is not None and bool(np.all(b[0] <= m) and np.all(m <= b[1]))
            assert inside == want  # the root's pricing MIP may price exactly these territories
            checked += want
        # every territory of a plan obeying the node is compatible with it
        for plan in plans:
            if _obeys(plan, node, tree):
                assert all(_compatible(r, m, node, tree) for r, m in plan)
    assert checked


@pytest.mark.parametrize("n, seed, k, tol", SMALL)
def test_children_split_the_parents_plans(delaunay_pop_map, partitions, n, seed, k, tol):
    g, lo, hi, d = _map(delaunay_pop_map, n, seed, k, tol)
    tree, plans = _seeded_tree(partitions, g, k, lo, hi, d)
    rng = np.random.default_rng(seed + 1)
    branched = {"root": 0, "member": 0}
    for node in _nodes(tree, plans, rng, 25):
        ok = np.flatnonzero(tree.column_ok(node))
        if not len(ok):
            continue
        # a fractional master: every compatible column at weight 1/2 (or an integral one, one plan)
        for lam in (np.full(len(ok), 0.5), 0.4 * rng.random(len(ok)), np.full(len(ok), 1.0 / len(ok))):
            children = branchprice._branch(tree, node, lam, ok)
            if children is None:
                continue
            kids = [branchprice._Node((0,), s, f, -math.inf, 1, None) for s, f in children]
            branched["member" if children[0][1] != node.fix else "root"] += 1
            for plan in plans:
                assert _obeys(plan, node, tree) == sum(_obeys(plan, kid, tree) for kid in kids)
    assert branched["root"] and branched["member"]


def _territories(g, d, tree):
    """Every connected balanced set a root's MIP may price (members the fixing allows that root), with its root."""
    import itertools

    nodes = list(g.nodes)
    out = []
    for r in range(1, d.n + 1):
        for sub in itertools.combinations(range(d.n), r):
            m = np.zeros(d.n, dtype=bool)
            m[list(sub)] = True
            p = int(tree.pos[m].min())
            load = float(d.loads[m, 0].sum())
            if (d.lower[0] - 1e-9 <= load <= d.upper[0] + 1e-9 and tree.root_ok[p].any()
                    and not (m & ~tree.allowed[p]).any() and nx.is_connected(g.subgraph([nodes[i] for i in sub]))):
                out.append((p, m, 0.5 * float(np.asarray(d.edge_w)[m[d.edges[:, 0]] != m[d.edges[:, 1]]].sum())))
    return out


@pytest.mark.parametrize("n, seed, k, tol", SMALL)
def test_pricing_with_cutoffs_gives_lower_bounds_on_each_roots_least(delaunay_pop_map, n, seed, k, tol):
    """``least`` from :meth:`_Tree.price` never passes the exact least reduced cost by root (brute force), also
    where a MIP's cutoff left no set under it (the cutoffs come from the previous round's ``least``)."""
    g, lo, hi, d = _map(delaunay_pop_map, n, seed, k, tol)
    sets = _territories(g, d, branchprice._Tree(d, co.Solver("highs").start_clock(), lambda: 10.0, lambda: 0.0))
    rng = np.random.default_rng(seed)
    cut_off = 0
    for trial in range(9):
        pi = rng.uniform(-1.0, 3.0, d.n)
        exact = np.full(d.n, np.inf)
        for p, m, c in sets:
            exact[p] = min(exact[p], c - float(pi[m].sum()))
        state = np.zeros(d.n, dtype=np.int8)
        dp = branchprice.node_dp(exact, branchprice._Tree(d, co.Solver("highs"), lambda: 10.0, lambda: 0.0).root_ok,
                                 state)
        # a cutoff a little under or over the best plan's Lagrangian value: the MIPs get cutoffs near their least
        level = float(pi.sum()) + dp + (-3.0, -0.5, 0.5)[trial % 3]
        tree = branchprice._Tree(d, co.Solver("highs").start_clock(), lambda: 10.0, lambda level=level: level)
        node = branchprice._Node((0,), state, {}, -math.inf, 0, None, exact - rng.uniform(0.0, 1.0, d.n))
        _, least = tree.price(node, pi)
        assert np.all(least <= exact + 1e-6)
        cut_off += tree.cut_off
    assert cut_off  # the cutoff case was reached


@pytest.mark.parametrize("n, seed, k, tol", [(10, 23, 4, 0.3), (11, 13, 3, 0.1)])
def test_the_opt_in_stage_proves_the_optimum_in_the_exact_path(delaunay_pop_map, brute_force, monkeypatch, n, seed,
                                                                 k, tol):
    g, lo, hi, _ = _map(delaunay_pop_map, n, seed, k, tol)
    best = brute_force(g, k, lo, hi)
    monkeypatch.setattr(branchprice, "STAGE", True)
    net = co.ChannelNetwork.from_graph(g, ["pop"])
    plan = TerritoryDesign(k=k, objective="cut_edges", balance={"pop": (lo, hi)}).solve(
        net, solver=co.Solver("highs", time_limit=60, threads=1))
    assert plan.info.status == "optimal"
    assert plan.info.objective == pytest.approx(best)
    assert "branch-and-price" in plan.info.message


def test_a_cutoff_far_under_the_least_proves_no_more_than_the_cutoff(delaunay_pop_map):
    """On a 20-region map HiGHS, given ``objective_bound`` far under a root's least, comes back "optimal" with a set
    above it (and a dual bound that counts its pruning): that proves ``least >= cutoff`` only. The reference is each
    root's MIP solved without a cutoff (an exact MIP, gap 0): with cutoffs ``least`` must never be above it."""
    g, lo, hi, d = _map(delaunay_pop_map, 20, 3, 3, 0.03)
    rng = np.random.default_rng(0)
    pi = rng.uniform(-0.5, 1.5, d.n)
    solver = co.Solver("highs").start_clock()
    state = np.zeros(d.n, dtype=np.int8)
    ref = branchprice._Tree(d, solver, lambda: 30.0, lambda: math.inf)
    node = branchprice._Node((0,), state, {}, -math.inf, 0, None)
    _, exact = ref.price(node, pi)  # no node.least: no cutoffs
    assert ref.cut_off == 0 and np.isfinite(exact[ref.roots]).all()
    level = float(pi.sum()) + branchprice.node_dp(exact, ref.root_ok, state) - 3.0
    tree = branchprice._Tree(d, solver, lambda: 30.0, lambda: level)
    _, least = tree.price(branchprice._Node((0,), state.copy(), {}, -math.inf, 0, None, exact.copy()), pi)
    assert tree.cut_off
    assert np.all(least[ref.roots] <= exact[ref.roots] + 1e-6)


KEYBOARD_SCRIPT = '''
import json, os, signal
import networkx as nx
import channelopt as co
from channelopt.models.territories import TerritoryDesign, branchprice
from channelopt.models.territories.data import prepare

g = nx.Graph()
for v, pop in enumerate(__POPS__):
    g.add_node(v, pop=pop)
g.add_edges_from(__EDGES__)
net = co.ChannelNetwork.from_graph(g, ["pop"])
d = prepare(TerritoryDesign(k=__K__, objective="cut_edges", balance={"pop": (__LO__, __HI__)}), net)
price, branch = branchprice._Tree.price, branchprice._branch
armed = [False, False]

def branched(*args, **kwargs):
    out = branch(*args, **kwargs)
    armed[0] = armed[0] or out is not None
    return out

def price_with_ctrl_c(self, node, pi):
    # a real SIGINT in the Python steps of the first child (before its first pricing MIP)
    if armed[0] and not armed[1]:
        armed[1] = True
        os.kill(os.getpid(), signal.SIGINT)
    return price(self, node, pi)

branchprice._branch, branchprice._Tree.price = branched, price_with_ctrl_c
res = branchprice.branch_and_price(d, 60.0)
print("RESULT " + json.dumps({"sent": armed[1], "bound": res.bound, "open": res.open, "nodes": res.nodes,
                              "proven": res.proven, "objective": res.objective}))
'''


def test_ctrl_c_in_a_nodes_python_steps_leaves_that_node_open(delaunay_pop_map, brute_force, run_result, tmp_path):
    """A SIGINT outside a pricing MIP raises KeyboardInterrupt in the node's own steps: the node in hand must stay
    open (its plans are unexplored), or the least open bound leaves them out. Here the first child is interrupted
    before its first pricing MIP, so both children are open and the bound is at most the brute-force optimum."""
    n, seed, k, tol = 10, 2, 3, 0.1  # (the tree branches at the root: 3 nodes)
    g, lo, hi, _ = _map(delaunay_pop_map, n, seed, k, tol)
    best = brute_force(g, k, lo, hi)
    text = KEYBOARD_SCRIPT
    for key, value in (("__POPS__", [g.nodes[v]["pop"] for v in g]), ("__EDGES__", [list(e) for e in g.edges]),
                       ("__K__", k), ("__LO__", lo), ("__HI__", hi)):
        text = text.replace(key, repr(value))
    r = run_result(tmp_path / "bnp_keyboard.py", text)
    assert r["sent"] and r["nodes"] == 2 and not r["proven"]
    assert r["open"] == 2  # the interrupted child and its sibling
    assert r["bound"] <= best + 1e-6


@pytest.mark.parametrize("n, seed, k, tol", [(10, 2, 3, 0.1), (11, 13, 3, 0.1)])
def test_a_childs_first_round_at_its_parents_duals_keeps_the_parents_bound(delaunay_pop_map, brute_force, caplog, n,
                                                                         seed, k, tol):
    """A child prices first at the duals its parent's bound came from (:data:`.branchprice.CHILD_FIRST_EXACT`): its
    plans are among its parent's, so that round's bound is at least the parent's, and never past the optimum. (It
    read -15.45 under a parent's 12.0 on the second map: the children got the duals of the parent's first round with
    the least of its last, so the MIPs' cutoffs came from other duals.)"""
    g, lo, hi, d = _map(delaunay_pop_map, n, seed, k, tol)
    best = brute_force(g, k, lo, hi)
    with caplog.at_level("INFO", logger="channelopt.models"):
        res = branchprice.branch_and_price(d, 60.0, log_nodes=True)
    assert res.proven and res.objective == pytest.approx(best)
    first = [r.args for r in caplog.records if "first round bound" in r.getMessage()]
    assert first  # the tree branched
    for _, depth, bound, came, *_ in first:
        assert depth >= 1
        assert came - 1e-6 <= bound <= best + 1e-6
