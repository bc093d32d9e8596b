"""Root cut-and-price (subset-row cuts on the set-partitioning master) against brute force on tiny maps.

Every test enumerates, by itself, all connected balanced region sets and all contiguous balanced k-partitions; the
master LP over every set with the stage's SR3 rows is a ``scipy.optimize.linprog`` model written here.
"""

from __future__ import annotations

import itertools
import math

import networkx as nx
import numpy as np
import pytest
from scipy.optimize import linprog

from channelopt.models.territories import cutprice, master_cuts

# (n, k, seed, tol) of Delaunay maps (conftest's delaunay_pop_map) whose set-partitioning LP is fractional and
# SR3 rows lift it (found by a search over seeds; every value the tests compare is computed here)
LIFTED = [(10, 3, 11, 0.1), (11, 3, 7, 0.2), (12, 3, 1, 0.2)]


def _enumerate(g: nx.Graph, lo: float, hi: float):
    """All connected sets with load in [lo, hi] (frozensets of nodes) and their costs (cut edges / 2)."""
    nodes = list(g.nodes)
    pop = np.array([g.nodes[v]["pop"] for v in nodes], dtype=float)
    cols = []
    for r in range(1, len(nodes) + 1):
        for sub in itertools.combinations(nodes, r):
            if lo - 1e-9 <= pop[list(sub)].sum() <= hi + 1e-9 and nx.is_connected(g.subgraph(sub)):
                s = set(sub)
                cols.append((frozenset(sub), sum((u in s) != (v in s) for u, v in g.edges) / 2))
    return cols


def _partitions(n: int, k: int, cols):
    """Every partition of range(n) into k of the enumerated sets (exact cover search)."""
    by_first: dict[int, list] = {}
    for s, c in cols:
        by_first.setdefault(min(s), []).append((s, c))
    out = []

    def cover(left: frozenset, parts: list):
        if not left:
            if len(parts) == k:
                out.append(list(parts))
            return
        if len(parts) >= k:
            return
        for s, c in by_first.get(min(left), []):
            if s <= left:
                cover(left - s, [*parts, (s, c)])

    cover(frozenset(range(n)), [])
    return out


def _best(n: int, k: int, cols) -> tuple[float, np.ndarray]:
    """The brute-force optimum and one optimal plan as region labels."""
    best = min(_partitions(n, k, cols), key=lambda p: sum(c for _, c in p))
    label = np.zeros(n, dtype=np.int64)
    for j, (s, _) in enumerate(best):
        label[list(s)] = j
    return sum(c for _, c in best), label


def _lp(n: int, k: int, cols, rows=()) -> float:
    """min sum c(S) lam_S, every region covered once, k sets, sum_S floor(|S & T| / 2) lam_S <= 1 per row T."""
    a = np.zeros((n + 1, len(cols)))
    for j, (s, _) in enumerate(cols):
        a[list(s), j] = 1.0
    a[n, :] = 1.0
    ub = np.array([[len(s & set(t)) // 2 for s, _ in cols] for t in rows], dtype=float).reshape(-1, len(cols))
    res = linprog([c for _, c in cols], A_eq=a, b_eq=np.r_[np.ones(n), k], A_ub=ub if len(rows) else None,
                  b_ub=np.ones(len(rows)) if len(rows) else None, bounds=(0, None), method="highs")
    return res.fun if res.status == 0 else math.inf


def _case(planar, window, cut_edge_data, n, k, seed, tol):
    g = planar(n, seed)
    lo, hi = window(g, k, tol)
    return g, cut_edge_data(g, k, lo, hi), _enumerate(g, lo, hi)


@pytest.mark.parametrize("case", LIFTED)
def test_cuts_lift_the_bound_to_the_full_master_with_them_and_never_past_the_optimum(planar, window, cut_edge_data,
                                                                                    case):
    n, k = case[:2]
    g, d, cols = _case(planar, window, cut_edge_data, *case)
    opt = min(sum(c for _, c in p) for p in _partitions(n, k, cols))
    lp0 = _lp(n, k, cols)
    res = cutprice.cut_and_price(d, 30.0)
    assert res.converged and res.rows
    with_rows = _lp(n, k, cols, res.rows)
    # converged: the Lagrangian bound is the master LP over every connected balanced set with the same rows
    assert res.bound == pytest.approx(with_rows, abs=1e-6)
    assert lp0 + 1e-3 < res.bound <= opt + 1e-6


@pytest.mark.parametrize("case", LIFTED)
def test_a_cut_row_holds_at_every_contiguous_balanced_partition(planar, window, cut_edge_data, case):
    # every triple's row, counted here over each partition's sets, and the rows the stage added
    n, k = case[:2]
    g, d, cols = _case(planar, window, cut_edge_data, *case)
    parts = _partitions(n, k, cols)
    assert parts
    rows = cutprice.cut_and_price(d, 30.0).rows
    assert rows
    for p in parts:
        for t in itertools.combinations(range(n), 3):
            assert sum(len(s & set(t)) // 2 for s, _ in p) <= 1
        mat = np.zeros((k, n), dtype=bool)
        for j, (s, _) in enumerate(p):
            mat[j, list(s)] = True
        assert master_cuts.coefficients(mat, rows).sum(axis=1).max() <= 1.0
        # and a plan's own master solution violates none
        assert master_cuts.separate(mat, np.ones(k), tol=0.0) == []


@pytest.mark.parametrize("case", LIFTED[:2])
@pytest.mark.parametrize("seconds", [0.0, 0.05, 0.2])
def test_a_bound_stopped_early_is_valid(planar, window, cut_edge_data, case, seconds):
    n, k = case[:2]
    g, d, cols = _case(planar, window, cut_edge_data, *case)
    opt = min(sum(c for _, c in p) for p in _partitions(n, k, cols))
    res = cutprice.cut_and_price(d, seconds)
    assert res.bound <= opt + 1e-6


def test_the_incumbent_is_proven_when_the_bound_passes_incumbent_minus_one(planar, window, cut_edge_data):
    # (10, 3, 11, 0.1): LP 12.5 without rows, 13 (the optimum) with them
    n, k = LIFTED[0][:2]
    g, d, cols = _case(planar, window, cut_edge_data, *LIFTED[0])
    opt, label = _best(n, k, cols)
    assert _lp(n, k, cols) < opt - 0.25
    res = cutprice.cut_and_price(d, 30.0, seeds=[label], incumbent=opt)
    assert res.proven and opt - 1 < res.bound <= opt + 1e-6
    # one more than the optimum is not proven (its bound would have to pass the optimum)
    res = cutprice.cut_and_price(d, 30.0, seeds=[label], incumbent=opt + 1)
    assert not res.proven and res.bound <= opt + 1e-6


def test_stage_proves_the_optimum_on_the_exact_path(planar, window, monkeypatch):
    import channelopt as co
    from channelopt.models.territories import TerritoryDesign, search

    n, k, seed, tol = LIFTED[0]
    g = planar(n, seed)
    lo, hi = window(g, k, tol)
    cols = _enumerate(g, lo, hi)
    opt = min(sum(c for _, c in p) for p in _partitions(n, k, cols))
    # the module objects the solve path reads (under --import-mode=importlib a doctest run can leave others); the
    # planar search (k = 3, unit borders) would prove this map before the stage
    monkeypatch.setattr(search.cutprice, "STAGE", True)
    monkeypatch.setattr(search.planar, "applies", lambda *a, **kw: False)
    plan = TerritoryDesign(k=k, objective="cut_edges", balance={"pop": (lo, hi)}).solve(
        co.ChannelNetwork.from_graph(g, ["pop"]), solver=co.Solver("highs", time_limit=60, threads=1))
    assert plan.status == "optimal" and plan.objective == pytest.approx(opt)
    assert plan.info.solver == "cutprice" and "cut-and-price" in plan.info.message
    a = plan.assignments.set_index("region_id")["territory"]
    assert sum(a[u] != a[v] for u, v in g.edges) == opt
    # the plan's own rules, read from the assignments: every region once, k contiguous balanced territories
    assert sorted(a.index) == sorted(g.nodes) and a.nunique() == k
    for t in a.unique():
        members = [v for v in g if a[v] == t]
        assert nx.is_connected(g.subgraph(members))
        assert lo - 1e-9 <= sum(g.nodes[v]["pop"] for v in members) <= hi + 1e-9


@pytest.mark.parametrize("case", [*LIFTED, (12, 4, 3, 0.2), (13, 3, 5, 0.2), (11, 3, 2, 0.3)])
def test_every_bound_on_the_way_to_a_proof_is_valid(planar, window, cut_edge_data, case, monkeypatch):
    # seeded with an optimal plan, incumbent = optimum: the master starts above incumbent - 1, so the exact passes
    # price at smoothed duals with the proof's cutoff; every full pass's bound (the trajectory) stays <= optimum
    n, k = case[:2]
    g, d, cols = _case(planar, window, cut_edge_data, *case)
    opt, label = _best(n, k, cols)
    monkeypatch.setattr(cutprice, "PARTIAL", 0)  # every pass a full one: a bound each time
    res = cutprice.cut_and_price(d, 30.0, seeds=[label], incumbent=opt)
    assert res.trajectory
    assert max(b for _, _, b, _ in res.trajectory) <= opt + 1e-6
    assert res.bound <= opt + 1e-6
    assert res.proven == (res.bound > opt - 1 + 1e-6)


def _doubled(planar, window, cut_edge_data, n, k, seed, tol):
    """A LIFTED map with every border weighing 2: the set-partitioning LP is then at most optimum - 1 (its cut rows
    are needed for the proof, and the master LP with them is above the proof threshold)."""
    g = planar(n, seed)
    nx.set_edge_attributes(g, 2.0, "w")
    lo, hi = window(g, k, tol)
    cols = [(s, 2 * c) for s, c in _enumerate(g, lo, hi)]
    return g, cut_edge_data(g, k, lo, hi, "w"), cols


@pytest.mark.parametrize("case", LIFTED)
def test_passes_with_cuts_price_at_the_masters_own_duals(planar, window, cut_edge_data, case, monkeypatch):
    # the smoothing centre holds no sigma: once rows are in, every exact pass prices at the master's duals (a bound
    # near the master LP with the rows, which proves here; cutprice12's smoothed passes certified nothing with them)
    from channelopt.models.territories import columns

    n, k = case[:2]
    g, d, cols = _doubled(planar, window, cut_edge_data, *case)
    opt, label = _best(n, k, cols)
    assert _lp(n, k, cols) <= opt - 1 + 1e-9 < _lp(n, k, cols, list(itertools.combinations(range(n), 3)))
    duals, calls = [], []
    solve_master, solve_mip = cutprice._CutMaster.solve, columns._Pricing.solve

    def spy_master(self):
        out = solve_master(self)
        duals.append(None if out is None else out[1].copy())
        return out

    def spy_mip(self, pi, *a, **kw):
        if self.h is not None and self.h.getNumCol() > d.n + len(d.edges):  # the MIP carries cut variables
            calls.append(np.array_equal(pi, duals[-1]))
        return solve_mip(self, pi, *a, **kw)

    monkeypatch.setattr(cutprice._CutMaster, "solve", spy_master)
    monkeypatch.setattr(columns._Pricing, "solve", spy_mip)
    res = cutprice.cut_and_price(d, 30.0, seeds=[label], incumbent=opt)
    assert res.proven and opt - 1 < res.bound <= opt + 1e-6 and res.cuts
    assert calls and all(calls)


@pytest.mark.parametrize("case", LIFTED)
def test_a_dropped_cut_leaves_the_pricing_as_if_never_added(planar, window, cut_edge_data, case):
    # three triangles' rows, the middle one dropped: every root's MIP is then the MIP built with the other two
    n, k = case[:2]
    g, d, cols = _case(planar, window, cut_edge_data, *case)
    tris = sorted({tuple(sorted(c)) for c in nx.enumerate_all_cliques(g) if len(c) == 3})[:3]
    assert len(tris) == 3
    pi = 0.6 * np.asarray(d.loads[:, 0]) * g.number_of_edges() / float(d.loads[:, 0].sum())
    sigma = np.array([-1.5, -0.7])
    solver = cutprice.Solver("highs")
    dropped, fresh = cutprice._CutRootPricing(d), cutprice._CutRootPricing(d)
    try:
        for t in tris:
            dropped.add_cut(t)
        dropped.drop_cuts([1])
        for t in (tris[0], tris[2]):
            fresh.add_cut(t)
        dropped.set_sigma(sigma)
        fresh.set_sigma(sigma)
        for a, b in zip(dropped.models, fresh.models):
            ca, la = a.solve(pi, solver, 30.0)
            cb, lb = b.solve(pi, solver, 30.0)
            assert la == pytest.approx(lb, abs=1e-7)
            assert a.h.getNumCol() == b.h.getNumCol() and a.h.getNumRow() - a.cuts == b.h.getNumRow() - b.cuts
        # and the pricing without the drop differs (the dropped row mattered at these duals)
        whole = cutprice._CutRootPricing(d)
        try:
            for t in tris:
                whole.add_cut(t)
            whole.set_sigma(np.array([-1.5, -3.0, -0.7]))
            assert any(abs(w.solve(pi, solver, 30.0)[1] - f.solve(pi, solver, 30.0)[1]) > 1e-6
                       for w, f in zip(whole.models, fresh.models))
        finally:
            whole.close()
    finally:
        dropped.close()
        fresh.close()


def test_dropping_idle_cuts_keeps_every_bound_and_the_converged_master(planar, window, cut_edge_data, monkeypatch):
    # rows out after one pass at sigma 0: the converged bound is still the full master LP with the rows left, every
    # full pass's bound stays under the optimum, and rows were dropped on the way
    # (and every pricing MIP carries exactly the master's rows when it runs)
    from channelopt.models.territories import columns

    monkeypatch.setattr(cutprice, "DROP_PASSES", 1)
    masters, carried = [], []
    solve_master, solve_mip = cutprice._CutMaster.solve, columns._Pricing.solve

    def spy_master(self):
        masters.append(self)
        return solve_master(self)

    def spy_mip(self, pi, *a, **kw):
        if self.h is not None:
            carried.append(self.h.getNumCol() - self.d.n - len(self.d.edges) == len(masters[-1].cuts))
        return solve_mip(self, pi, *a, **kw)

    monkeypatch.setattr(cutprice._CutMaster, "solve", spy_master)
    monkeypatch.setattr(columns._Pricing, "solve", spy_mip)
    dropped = 0
    for case in LIFTED:
        n, k = case[:2]
        g, d, cols = _case(planar, window, cut_edge_data, *case)
        opt = min(sum(c for _, c in p) for p in _partitions(n, k, cols))
        res = cutprice.cut_and_price(d, 30.0)
        assert carried and all(carried)
        assert res.converged
        assert res.bound == pytest.approx(_lp(n, k, cols, res.rows), abs=1e-6)
        assert max(b for _, _, b, _ in res.trajectory) <= opt + 1e-6
        dropped += res.dropped
    assert dropped


@pytest.mark.parametrize("case", LIFTED)
def test_rows_are_separated_only_at_masters_a_full_pass_certified(planar, window, cut_edge_data, case, monkeypatch):
    # sr12's schedule: a round of rows only after a full exact pass with the rows in hand bounded its master LP to
    # within SEPARATE_GAP
    n, k = case[:2]
    g, d, cols = _case(planar, window, cut_edge_data, *case)
    monkeypatch.setattr(cutprice, "DROP_PASSES", 0)
    at, separate = [], cutprice._CutMaster.separate

    def spy(self, lam):
        out = separate(self, lam)
        if out:
            at.append(len(self.cuts))
        return out

    monkeypatch.setattr(cutprice._CutMaster, "separate", spy)
    res = cutprice.cut_and_price(d, 30.0)
    assert at and res.converged
    for c in at:
        assert any(cuts == c and bound >= lp - cutprice.SEPARATE_GAP - 1e-9 for _, lp, bound, cuts in res.trajectory)


def test_roots_stopped_by_their_cap_run_again_until_the_pass_is_a_bound(planar, window, cut_edge_data, monkeypatch):
    # every MIP starts with a cap far too short: the roots it stops are re-run with their own cap doubled, and the
    # stage still ends at the full master LP with its rows (no bound from a MIP cut short is taken for a solve)
    from channelopt.models.territories import columns

    monkeypatch.setattr(cutprice, "PRICING_SECONDS", 1e-3)
    runs: dict[int, int] = {}
    solve_mip = columns._Pricing.solve

    def spy_mip(self, *a, **kw):
        runs[id(self)] = runs.get(id(self), 0) + 1
        return solve_mip(self, *a, **kw)

    monkeypatch.setattr(columns._Pricing, "solve", spy_mip)
    masters = []
    solve_master = cutprice._CutMaster.solve

    def spy_master(self):
        masters.append((len(self.cols), len(self.cuts), self.big))
        return solve_master(self)

    monkeypatch.setattr(cutprice._CutMaster, "solve", spy_master)
    n, k = LIFTED[1][:2]
    g, d, cols = _case(planar, window, cut_edge_data, *LIFTED[1])
    res = cutprice.cut_and_price(d, 30.0)
    assert res.converged and res.bound == pytest.approx(_lp(n, k, cols, res.rows), abs=1e-6)
    assert max(runs.values()) > min(runs.values())  # the hard roots ran more often than the easy ones
    # ... within their pass: the master is never solved twice as it was (a new pass at the same duals)
    assert all(a != b for a, b in itertools.pairwise(masters))


def test_method_cut_and_price_runs_the_stage_without_the_switch(planar, window, monkeypatch):
    # the public setting: method="cut_and_price" runs the stage with the module switch off, and proves the brute-force
    # optimum there; method="exact" on the same map does not run it
    import channelopt as co
    from channelopt.models.territories import TerritoryDesign, search

    n, k, seed, tol = LIFTED[0]
    g = planar(n, seed)
    lo, hi = window(g, k, tol)
    opt = min(sum(c for _, c in p) for p in _partitions(n, k, _enumerate(g, lo, hi)))
    monkeypatch.setattr(search.cutprice, "STAGE", False)
    monkeypatch.setattr(search.planar, "applies", lambda *a, **kw: False)  # as above: the stage, not the planar proof
    net = co.ChannelNetwork.from_graph(g, ["pop"])
    plans = {method: TerritoryDesign(k=k, objective="cut_edges", balance={"pop": (lo, hi)}, method=method).solve(
        net, solver=co.Solver("highs", time_limit=60, threads=1)) for method in ("cut_and_price", "exact")}
    assert plans["cut_and_price"].info.solver == "cutprice" and plans["exact"].info.solver != "cutprice"
    for plan in plans.values():
        assert plan.status == "optimal" and plan.objective == pytest.approx(opt)
        a = plan.assignments.set_index("region_id")["territory"]
        assert sum(a[u] != a[v] for u, v in g.edges) == opt
        # the plan's own rules, read from its assignments: every region once, k contiguous balanced territories
        assert sorted(a.index) == sorted(g.nodes) and a.nunique() == k
        for t in a.unique():
            members = [v for v in g if a[v] == t]
            assert nx.is_connected(g.subgraph(members))
            assert lo - 1e-9 <= sum(g.nodes[v]["pop"] for v in members) <= hi + 1e-9


@pytest.mark.parametrize("settings, needs", [
    ({"objective": "compactness"}, "objective='cut_edges' (got 'compactness')"),
    ({"contiguity": False}, "contiguity=True"),
    ({"locked": {0: 0}}, "no locked= regions"),
])
def test_method_cut_and_price_names_the_settings_it_needs(planar, window, settings, needs):
    import channelopt as co
    from channelopt.exceptions import SettingsError
    from channelopt.models.territories import TerritoryDesign

    g = planar(10, 11)
    lo, hi = window(g, 3, 0.1)
    net = co.ChannelNetwork.from_graph(g, ["pop"])
    model = TerritoryDesign(**{"k": 3, "objective": "cut_edges", "balance": {"pop": (lo, hi)},
                               "method": "cut_and_price", **settings})
    with pytest.raises(SettingsError, match=r"method='cut_and_price' needs .*use method='exact'") as err:
        model.solve(net, solver=co.Solver("highs", time_limit=10, threads=1))
    assert needs in str(err.value)


def test_a_misspelled_method_suggests_the_nearest():
    import channelopt as co
    from channelopt.exceptions import SettingsError
    from channelopt.models.territories import TerritoryDesign

    g = nx.path_graph(4)
    nx.set_node_attributes(g, 1.0, "pop")
    with pytest.raises(SettingsError, match=r"method must be one of .* got 'cut_and_prise'\. Did you mean "
                                            r"'cut_and_price'\?"):
        TerritoryDesign(k=2, objective="cut_edges", method="cut_and_prise").solve(
            co.ChannelNetwork.from_graph(g, ["pop"]))
