"""Branch-and-price over connected balanced territories, branching by root.

The set-partitioning master of :mod:`.columns` (columns: connected territories with every balance attribute in its
bounds) is re-priced at every node of a search tree. Every territory of a plan has a *root*: its first region in
the labelling model's symmetry order (:func:`.labelling.symmetric_fixing`), and the exact pricing is one MIP per
possible root (:class:`.columns._RootPricing`'s split). The branching keeps that pricing intact:

1. *region p is a root* (no territory rooted earlier holds ``p``: ``s_p = 0`` in the MIPs of the roots before
   ``p``; ``p``'s partition row then makes the territories rooted at ``p`` sum to one) or *p is not a root*
   (root ``p``'s MIP is dropped);
2. once the roots are integral: *region v lies in the territory rooted at p* (``s_v = 1`` in root ``p``'s MIP and
   ``s_v = 0`` in every other root's) or not (``s_v = 0`` in ``p``'s).

Both remove columns only, so a node's master is the parent's columns that obey its decisions, and a node's
pricing MIPs are the same HiGHS models with other variable bounds (their connectivity rows hold for every
territory holding the root, so they are kept across nodes). A node's bound at duals ``pi`` (any ``pi``) is the
Lagrangian ``sum pi + `` the cheapest choice of one root per slot (increasing, every forced root chosen, no
forbidden one: :func:`node_dp`) of the roots' least ``c(S) - pi(S)`` (the MIPs' dual bounds): every plan the node
allows costs ``sum_v pi_v + sum_j (c(S_j) - pi(S_j))`` and its territory ``j`` rooted at ``p_j`` costs at least
``least[p_j]``. So a node is pruned by the first exact round whose bound passes the incumbent (whole-number
borders: ``incumbent - 1``), before its column generation converges.
"""

from __future__ import annotations

import dataclasses
import heapq
import logging
import math
import time

import numpy as np

from ..._arrays import ArrayProblem
from ...solver import Solver
from .columns import _balanced, _components, _Local, _local_price, _Pricing, territory_cost
from .data import TerritoryData

__all__ = ["BranchPriceResult", "branch_and_price", "node_dp", "bnp_applies", "bnp_stage"]

log = logging.getLogger("channelopt.models")

#: run :func:`branch_and_price` as a stage of the exact path (contiguous interchangeable cut-edge territories with a
#: warm start keeping every rule), before the labelling MILP; off by default (AL, benchmarks/RESULTS.md issue 12
#: session 10: the first node alone took 393 CPU s from session 9's converged duals, bound 52.63, and its first child
#: 240 more to 53.92; the MILP's own time is better spent)
STAGE = False
#: share of what is left of the solve's time limit that the stage may use (and seconds without a limit)
STAGE_SHARE = 0.5
STAGE_SECONDS = 120.0

#: Wentges smoothing weight of the node's best duals so far
SMOOTHING = 0.5
#: seconds at most for one pricing MIP (its dual bound is used when it stops)
PRICING_SECONDS = 20.0
#: heuristic pricing rounds (:class:`.columns._Local`) in a row before an exact round
LOCAL_ROUNDS = 8
LOCAL_STARTS = 20
#: give each pricing MIP a cutoff from the other roots' last least (:meth:`_Tree.price`), this much above what
#: pruning needs
TARGET = True
TARGET_MARGIN = 0.05
#: separator rows also around the root's own component of a disconnected answer (one per other component)
ROOT_SIDE_CUTS = True
#: Lagrangian fixing of roots at every node (:meth:`_Tree.fix_roots`)
FIX_ROOTS = True
#: node order: "best" (least bound first, deeper first on ties) or "depth" (last made first)
ORDER = "best"
#: price a node's children at the node's best duals first (an exact round before the master: prunes a child whose
#: branch raises a root's least past the incumbent without any column generation)
CHILD_FIRST_EXACT = True


@dataclasses.dataclass
class BranchPriceResult:
    """What :func:`branch_and_price` found.

    Attributes
    ----------
    bound : float
        A lower bound on the cut edges of every contiguous balanced ``k``-partition (the least bound of the open
        nodes; the incumbent's value once the tree is exhausted).
    label : numpy.ndarray or None
        The best plan (territory per region), the incumbent given or a better integral master.
    objective : float
    proven : bool
        The tree was exhausted: no plan beats ``objective`` (by a whole border where every border is whole).
    nodes, open, columns : int
        Nodes processed, nodes left open, columns generated.
    root_bound : float
        The first node's bound.
    seconds : float
    trajectory : list of (seconds, bound, nodes)
    mips, cut_off : int
        Pricing MIPs solved, and how many of them ended with no set under their cutoff (:data:`TARGET`).
    mip_cpu : float
        Process CPU seconds in the pricing MIPs.
    """

    bound: float
    label: np.ndarray | None
    objective: float
    proven: bool
    nodes: int
    open: int
    columns: int
    root_bound: float
    seconds: float
    trajectory: list = dataclasses.field(default_factory=list)
    mips: int = 0
    cut_off: int = 0
    mip_cpu: float = 0.0


def node_dp(least: np.ndarray, root_ok: np.ndarray, state: np.ndarray) -> float:
    """The least ``sum_j least[p_j]`` over positions ``p_0 < ... < p_{k-1}`` with ``root_ok[p_j, j]``, every
    position with ``state == 1`` among them and none with ``state == -1`` (``inf`` when there is no such choice).
    """
    n, k = root_ok.shape
    if np.isneginf(least[state != -1]).any():
        return -math.inf
    g = np.full(k + 1, np.inf)
    g[0] = 0.0
    for p in range(n):
        new = np.full(k + 1, np.inf) if state[p] == 1 else g.copy()
        if state[p] != -1 and least[p] < np.inf:
            ok = root_ok[p]
            take = g[:k] + least[p]
            new[1:] = np.where(ok, np.minimum(new[1:], take), new[1:])
        g = new
    return float(g[k])


class _RootMIP(_Pricing):
    """Root ``p``'s pricing MIP: its region fixed in, the regions it may never hold fixed out; node decisions are
    bounds on top. Disconnected answers get rooted separator rows (``s_a <= sum_{c in N(C)} s_c`` for ``a`` in a
    component ``C`` away from the root), valid for every territory holding the root."""

    def __init__(self, d: TerritoryData, root: int, allowed: np.ndarray):
        super().__init__(d)
        self.root = root
        self.upper = allowed.astype(float)
        self.lower = np.zeros(d.n)
        self.lower[root] = 1.0
        self.set_bounds(self.lower, self.upper)

    def set_bounds(self, lower: np.ndarray, upper: np.ndarray) -> None:
        n = self.d.n
        self.h.changeColsBounds(n, np.arange(n, dtype=np.int32), lower.astype(float), upper.astype(float))

    def _add_cuts(self, comps, pi) -> None:
        adj, n = self.d.adj, self.d.n
        for comp in comps:
            inside = np.zeros(n, dtype=bool)
            inside[comp] = True
            border = sorted({v for u in comp for v in adj[u] if not inside[v]})
            if self.root in comp:
                # the root's component: its border separates the root from every other component
                far = [max(c, key=lambda v: pi[v]) for c in comps if self.root not in c] if ROOT_SIDE_CUTS else []
            else:
                far = comp
            for a in far:
                idx = np.asarray([a, *border], dtype=np.int32)
                self.h.addRow(-self.inf, 0.0, len(idx), idx, np.r_[1.0, -np.ones(len(border))])
                self.cuts += 1


@dataclasses.dataclass(order=True)
class _Node:
    key: tuple
    state: np.ndarray = dataclasses.field(compare=False)  # by position: 1 a root, -1 not a root, 0 free
    fix: dict = dataclasses.field(compare=False)  # (root position, region position) -> in (True) / out (False)
    bound: float = dataclasses.field(compare=False)
    depth: int = dataclasses.field(compare=False)
    pi: np.ndarray | None = dataclasses.field(compare=False)
    least: np.ndarray | None = dataclasses.field(compare=False, default=None)


class _Tree:
    def __init__(self, d: TerritoryData, solver: Solver, left, cutoff):
        from .labelling import symmetric_fixing

        self.d, self.solver, self.left, self.cutoff = d, solver, left, cutoff
        self.order, self.root_ok, member_ok = symmetric_fixing(d, True)
        n = d.n
        self.pos = np.empty(n, dtype=np.int64)
        self.pos[self.order] = np.arange(n)
        self.roots = np.flatnonzero(self.root_ok.any(axis=1))
        self.allowed = np.zeros((n, n), dtype=bool)  # [root position, region]: members a root's territory may hold
        self.models: dict[int, _RootMIP] = {}
        for p in self.roots.tolist():
            allowed = member_ok[:, self.root_ok[p]].any(axis=1)
            allowed[:p] = False
            allowed[p] = True
            self.allowed[p, self.order[allowed]] = True
        self.cols = np.zeros((0, n), dtype=bool)
        self.cost = np.zeros(0)
        self.root = np.zeros(0, dtype=np.int64)
        self.keys: set[bytes] = set()
        self.mip_seconds = 0.0
        self.mips = 0
        self.cut_off = 0

    def model(self, p: int) -> _RootMIP:
        if p not in self.models:
            self.models[p] = _RootMIP(self.d, int(self.order[p]), self.allowed[p])
        return self.models[p]

    def add(self, members: np.ndarray) -> int:
        """Index of the column (new or known), or -1 when it is no territory of a plan the fixing allows."""
        key = np.packbits(members).tobytes()
        if key in self.keys:
            return -2
        d = self.d
        if not members.any() or not _balanced(d, members) or len(_components(d.adj, members)) != 1:
            return -1
        p = int(self.pos[members].min())
        if not self.root_ok[p].any() or (members & ~self.allowed[p]).any():
            return -1
        self.keys.add(key)
        self.cols = np.vstack([self.cols, members[None, :]])
        self.cost = np.r_[self.cost, territory_cost(d, members)]
        self.root = np.r_[self.root, p]
        return len(self.cost) - 1

    def column_ok(self, node: _Node) -> np.ndarray:
        """Bool per column: whether the node's decisions allow it."""
        ok = node.state[self.root] != -1
        for p in np.flatnonzero(node.state == 1).tolist():
            ok &= ~(self.cols[:, self.order[p]] & (self.root != p))
        for (p, q), inside in node.fix.items():
            v = self.order[q]
            mine = self.root == p
            if inside:
                ok &= ~(mine & ~self.cols[:, v]) & ~(~mine & self.cols[:, v])
            else:
                ok &= ~(mine & self.cols[:, v])
        return ok

    def bounds(self, node: _Node, p: int):
        """Root ``p``'s MIP bounds at the node (``None`` when no territory rooted at ``p`` is left)."""
        upper = self.allowed[p].astype(float)
        lower = np.zeros(self.d.n)
        lower[self.order[p]] = 1.0
        for q in np.flatnonzero(node.state == 1).tolist():
            if q != p:
                upper[self.order[q]] = 0.0
        for (r, q), inside in node.fix.items():
            v = self.order[q]
            if r == p:
                if inside:
                    lower[v] = 1.0
                else:
                    upper[v] = 0.0
            elif inside:
                upper[v] = 0.0
        if (lower > upper).any():
            return None
        return lower, upper

    def price(self, node: _Node, pi: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """Pricing at ``pi``: columns found and a lower bound on ``least`` by position (``-inf`` where time ran out).

        Roots go cheapest first (by the node's last round); each later root's MIP gets a cutoff (HiGHS's
        ``objective_bound``): the least it must reach for every root choice through it to pass the node's cutoff,
        were the roots not yet priced as cheap as last time (:data:`TARGET`). A MIP with no set under its cutoff
        proves ``least >= cutoff`` (the cutoff only decides how much is proven, never whether it is valid).
        """
        n = self.d.n
        least = np.full(n, np.inf)
        cols: list[np.ndarray] = []
        todo = [p for p in self.roots.tolist() if node.state[p] != -1]
        prev = node.least
        if prev is not None:
            todo.sort(key=lambda p: prev[p])
        target = self.cutoff() - float(pi.sum())
        for i, p in enumerate(todo):
            b = self.bounds(node, p)
            if b is None:
                continue
            rest = self.left()
            if rest <= 0.05 or self.solver.interrupted:
                least[p] = -np.inf
                continue
            m = self.model(p)
            if m.h is None:
                least[p] = -np.inf
                continue
            cut = math.inf
            if TARGET and prev is not None and math.isfinite(target):
                est = least.copy()
                for q in todo[i:]:
                    est[q] = prev[q] if np.isfinite(prev[q]) else -np.inf
                est[p] = 0.0
                forced = node.state.copy()
                forced[p] = 1
                rest_dp = node_dp(est, self.root_ok, forced)
                if math.isfinite(rest_dp):
                    cut = target - rest_dp + TARGET_MARGIN
            m.set_bounds(*b)
            m.h.setOptionValue("objective_bound", float(cut) if math.isfinite(cut) else m.inf)
            t = time.process_time()
            found, lb = m.solve(pi, self.solver, min(PRICING_SECONDS, rest))
            self.mip_seconds += time.process_time() - t
            self.mips += 1
            if math.isfinite(cut) and lb >= cut - 1e-6:
                # nothing under the cutoff (or nothing at all): least >= cutoff, and no more is proven (HiGHS keeps
                # plans above its objective_bound and reads them "optimal"; its dual bound then counts the pruning)
                lb = cut - 1e-6
                self.cut_off += 1
            least[p] = lb
            cols.extend(found)
        return cols, least

    def fix_roots(self, node: _Node, pi: np.ndarray, least: np.ndarray) -> int:
        """Lagrangian fixing at the node: a root every choice through which passes the cutoff is no root, one
        every choice without which does is a root. Returns how many were fixed."""
        base = float(pi.sum())
        cutoff = self.cutoff()
        fixed = 0
        for p in self.roots.tolist():
            if node.state[p] != 0:
                continue
            for value in (1, -1):
                trial = node.state.copy()
                trial[p] = value
                if base + node_dp(least, self.root_ok, trial) > cutoff:
                    node.state[p] = -value
                    fixed += 1
                    break
        return fixed

    def close(self) -> None:
        for m in self.models.values():
            m.close()


def _master_lp(d: TerritoryData, cols: np.ndarray, cost: np.ndarray, big: float, solver: Solver):
    """The restricted master LP with artificial columns: ``(value, lam, pi, mu, artificial total)`` or ``None``."""
    n, q = d.n, len(cost)
    ap = ArrayProblem("master")
    lam = ap.add_vars("lam", q, cost=np.asarray(cost, dtype=float))
    rr, cc = np.nonzero(cols.T) if q else (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    art = ap.add_vars("art", n, cost=big)
    ap.add_rows("part", np.r_[rr, np.arange(n)], np.r_[lam[cc], art.index], sense="==", rhs=1.0, n_rows=n)
    cp = ap.add_vars("cardslack", 2, cost=big)
    ap.add_row("card", np.r_[lam.index, cp.index], np.r_[np.ones(q), 1.0, -1.0], "==", float(d.k))
    sub = dataclasses.replace(solver, name="highs", mip_gap=0.0, threads=1, msg=False, options={})
    info = sub.solve(ap)
    if info.duals is None:
        return None
    duals = np.asarray(info.duals, dtype=float)
    values = np.asarray(info.values, dtype=float)
    return float(info.objective), values[:q], duals[:n], float(duals[n]), float(values[q:].sum())


def branch_and_price(d: TerritoryData, seconds: float, *, solver: Solver | None = None, seeds=(),
                     incumbent: float = math.inf, duals: np.ndarray | None = None,
                     log_nodes: bool = False) -> BranchPriceResult:
    """Branch-and-price for the least cut edges of a contiguous balanced ``k``-partition (branching by root).

    Parameters
    ----------
    d : TerritoryData
        Interchangeable territories, cut-edge objective, balance bounds on ``loads``.
    seconds : float
        Time for the search, on ``solver``'s clock when it has one (Ctrl-C stops it; the bound so far holds).
    seeds : iterable of label arrays
        Plans whose territories seed the columns; the best contiguous balanced one is the incumbent.
    incumbent : float
        Cut edges of a plan known (nodes that cannot beat it are pruned).
    duals : numpy.ndarray, optional
        Duals (one per region) to price the first node at first, e.g. :attr:`.columns.ColumnBound.duals`; by default
        the incumbent's cut edges spread over the regions by load (as :data:`.columns.START`).

    Returns
    -------
    BranchPriceResult

    Examples
    --------
    >>> import networkx as nx, channelopt as co
    >>> from channelopt.models.territories.data import prepare
    >>> g = nx.convert_node_labels_to_integers(nx.grid_2d_graph(2, 4))
    >>> nx.set_node_attributes(g, 1.0, "pop")
    >>> net = co.ChannelNetwork.from_graph(g, ["pop"])
    >>> d = prepare(co.TerritoryDesign(k=2, objective="cut_edges", balance={"pop": (4, 4)}), net)
    >>> res = branch_and_price(d, 30.0)
    >>> res.objective, res.proven
    (2.0, True)
    """
    t0 = time.perf_counter()
    solver = (solver or Solver("highs")).start_clock()
    w = np.asarray(d.edge_w, dtype=float)
    e = np.asarray(d.edges, dtype=np.int64).reshape(-1, 2)
    integral = bool(np.all(w == np.round(w)))
    big = 3.0 * max(float(w.mean()) if len(w) else 1.0, 1e-9)

    def left() -> float:
        rest = seconds - (time.perf_counter() - t0)
        r = solver.remaining()
        return rest if r is None else min(rest, r)

    best_label, best_obj = None, math.inf

    def cutoff() -> float:
        """A node whose bound is above this holds no plan better than the incumbent."""
        return best_obj - 1.0 + 1e-6 if integral else best_obj - 1e-9 * max(1.0, abs(best_obj))

    tree = _Tree(d, solver, left, cutoff)
    n = d.n
    for label in seeds:
        label = np.asarray(label)
        for j in np.unique(label):
            tree.add(label == j)
        obj = float(w[label[e[:, 0]] != label[e[:, 1]]].sum())
        if obj < best_obj and len(np.unique(label)) == d.k and all(
                _balanced(d, label == j) and len(_components(d.adj, label == j)) == 1 for j in np.unique(label)):
            best_label, best_obj = label.copy(), obj
    if incumbent < best_obj:
        best_obj = incumbent  # (a plan known elsewhere: prunes, its label stays the caller's)
    local = _Local(d)
    heap: list[_Node] = []
    serial = 0
    trajectory: list = []
    nodes = 0
    root_bound = -math.inf

    def push(state, fix, bound, depth, pi, least=None):
        nonlocal serial
        serial += 1
        key = (bound, -depth, serial) if ORDER == "best" else (-serial,)
        heapq.heappush(heap, _Node(key, state, fix, bound, depth, pi, least))

    def global_bound(current: float) -> float:
        return min([current, *(nd.bound for nd in heap)]) if (heap or math.isfinite(current)) else best_obj

    def _after_pricing(node: _Node, pi: np.ndarray, least: np.ndarray) -> int:
        """Keep the round's ``least`` (the next round's order and cutoffs) and fix roots by it."""
        complete = not np.isneginf(least[node.state != -1]).any()
        fixed = tree.fix_roots(node, pi, least) if FIX_ROOTS and complete else 0
        node.least = least if node.least is None else np.where(np.isneginf(least), node.least, least)
        return fixed

    def process(node: _Node):
        """Column generation at the node: ``(bound, lam, column indices)`` (``lam`` ``None`` when pruned)."""
        nonlocal big, best_label, best_obj
        # the node's best bound, the duals it was priced at and each root's least there: a node comes with its
        # parent's (:func:`branch_and_price` pushes the pair), and hands its own on to its children
        best, best_pi, best_least = node.bound, node.pi, node.least

        def hand_on(out):
            node.pi, node.least = best_pi, best_least
            return out

        a = SMOOTHING if best_pi is not None else 0.0
        if CHILD_FIRST_EXACT and node.pi is not None:
            cols, least = tree.price(node, node.pi)
            if node.least is not None:
                # the parent's least at these duals: each root's sets here are among its sets there, so its least
                # is at least the parent's (where a MIP stopped at a cutoff short of it, or did not run)
                least = np.maximum(least, node.least)
            for c in cols:
                tree.add(c)
            bound = float(node.pi.sum()) + node_dp(least, tree.root_ok, node.state)
            if bound > best:
                best, best_least = bound, least.copy()
            fixed = _after_pricing(node, node.pi, least)
            if log_nodes:
                log.info("bnp: node %d depth %d first round bound %.4f (came with %.4f) fixed %d columns %d mips %d "
                         "(%.1f cpu s, %d cut off) %.1fs", nodes, node.depth, bound, node.bound, fixed, len(tree.cost),
                         tree.mips, tree.mip_seconds, tree.cut_off, time.perf_counter() - t0)
            if best > cutoff():
                return hand_on((best, None, None))
        local_rounds = 0
        while left() > 0.05 and not solver.interrupted:
            ok = np.flatnonzero(tree.column_ok(node))
            res = _master_lp(d, tree.cols[ok], tree.cost[ok], big, solver)
            if res is None:
                return hand_on((best, None, None))
            lp, lam, pi_rmp, mu, art = res
            if lp <= best + 1e-6 * max(1.0, abs(lp)) and art <= 1e-9:
                return hand_on((best, lam, ok))  # converged (the bound meets the master)
            added = 0
            if local_rounds < LOCAL_ROUNDS:
                local_rounds += 1
                sub = _SubMaster(tree.cols[ok], tree.cost[ok])
                new = []
                for pi in ((a * best_pi + (1 - a) * pi_rmp, pi_rmp) if a else (pi_rmp,)):
                    for col in _local_price(local, sub, pi, LOCAL_STARTS):
                        if territory_cost(d, col) - float(pi_rmp[col].sum()) - mu < -1e-7:
                            i = tree.add(col)
                            if i >= 0:
                                new.append(i)
                # (a descent may leave the node's decisions: such columns wait in the pool for other nodes)
                added = int(tree.column_ok(node)[new].sum()) if new else 0
                if added:
                    if log_nodes:
                        log.info("bnp: node %d local lp %.4f +%d columns %d %.1fs", nodes, lp, added, len(tree.cost),
                                 time.perf_counter() - t0)
                    continue
            local_rounds = 0
            a_now = a
            while True:
                pi = pi_rmp if a_now == 0.0 else a_now * best_pi + (1 - a_now) * pi_rmp
                cols, least = tree.price(node, pi)
                complete = not np.isneginf(least).any()
                bound = float(pi.sum()) + node_dp(least, tree.root_ok, node.state)
                if bound > best:
                    best, best_pi, best_least = bound, pi.copy(), least.copy()
                if best > cutoff():
                    return hand_on((best, None, None))
                fixed = _after_pricing(node, pi, least)
                for col in cols:
                    if territory_cost(d, col) - float(pi_rmp[col].sum()) - mu < -1e-7:
                        i = tree.add(col)
                        if i >= 0:
                            added += 1
                if added or a_now == 0.0 or left() <= 0.05:
                    break
                a_now = 0.0  # mis-pricing: price at the master's own duals
            if log_nodes:
                log.info("bnp: node %d depth %d lp %.4f bound %.4f at %.4f fixed %d columns %d mips %d (%.1f cpu "
                         "s, %d cut off) %.1fs", nodes, node.depth, lp, best, bound, fixed, len(tree.cost), tree.mips,
                         tree.mip_seconds, tree.cut_off, time.perf_counter() - t0)
            if not added:
                if not complete:
                    return hand_on((best, None, None))  # (time ran out in the pricing)
                if art > 1e-9:
                    big *= 4.0
                    continue
                # (priced at the master's duals without a column: with cutoffs on the MIPs the master's LP need not
                # be the node's, so only the Lagrangian bound counts)
                return hand_on((best, lam, ok))
            node.pi = best_pi
            a = SMOOTHING if best_pi is not None else 0.0
        return hand_on((best, None, None))  # (time ran out: the caller keeps the node open)

    exhausted = False
    current = None  # the node in hand: a Ctrl-C in its Python steps leaves it open (its plans are unexplored)
    try:
        state = np.zeros(n, dtype=np.int8)
        single = tree.root_ok.sum(axis=0) == 1  # slots with one possible root: those positions are roots
        state[np.flatnonzero(tree.root_ok[:, single].any(axis=1))] = 1
        if duals is None and d.loads.shape[1] and math.isfinite(best_obj):
            duals = best_obj * d.loads[:, 0] / max(float(d.loads[:, 0].sum()), 1e-12)
        push(state, {}, -math.inf, 0, None if duals is None else np.asarray(duals, dtype=float))
        while heap and left() > 0.05 and not solver.interrupted:
            node = current = heapq.heappop(heap)
            if node.bound > cutoff():
                current = None
                continue
            nodes += 1
            bound, lam, ok = process(node)
            if lam is None and (left() <= 0.05 or solver.interrupted) and bound <= cutoff():
                current = None
                push(node.state, node.fix, bound, node.depth, node.pi, node.least)  # unfinished: stays open
                break
            if nodes == 1:
                root_bound = bound
            if lam is not None and bound <= cutoff():
                child = _branch(tree, node, lam, ok)
                if child is None:  # integral master: a plan
                    chosen = ok[lam > 0.5]
                    obj = float(tree.cost[chosen].sum())
                    if obj < best_obj - 1e-9:
                        label = np.full(n, -1, dtype=np.int64)
                        for j, c in enumerate(chosen.tolist()):
                            label[tree.cols[c]] = j
                        best_label, best_obj = label, obj
                else:
                    for state, fix in child:
                        push(state, fix, bound, node.depth + 1, node.pi, node.least)
            current = None
            gb = global_bound(math.inf) if heap else min(best_obj, math.inf)
            trajectory.append((time.perf_counter() - t0, gb, nodes))
            if log_nodes:
                log.info("bnp: node %d done bound %.4f (depth %d) open %d global %.4f columns %d %.1fs", nodes,
                         bound, node.depth, len(heap), gb, len(tree.cost), time.perf_counter() - t0)
        exhausted = not heap
    except KeyboardInterrupt:
        solver.deadline.interrupt()
        if current is not None:
            # Ctrl-C in the node's own Python steps (a SIGINT inside a pricing MIP ends that MIP instead): the node
            # stays open at the bound it came with, or the least open bound would leave its plans out
            push(current.state, current.fix, current.bound, current.depth, current.pi, current.least)
    finally:
        tree.close()
    final = best_obj if exhausted else global_bound(math.inf)
    if not heap and not exhausted:
        final = -math.inf
    return BranchPriceResult(bound=min(final, best_obj), label=best_label, objective=best_obj, proven=exhausted,
                             nodes=nodes, open=len(heap), columns=len(tree.cost), root_bound=root_bound,
                             seconds=time.perf_counter() - t0, trajectory=trajectory, mips=tree.mips,
                             cut_off=tree.cut_off, mip_cpu=tree.mip_seconds)


def bnp_applies(model, d: TerritoryData, built=None) -> bool:
    """Whether the stage runs: :data:`STAGE` on, contiguous interchangeable territories by cut edges, no user rows."""
    from .labelling import symmetric

    return bool(STAGE and model.objective == "cut_edges" and model.contiguity and d.k >= 2 and symmetric(d)
                and len(d.edges) and not getattr(built, "has_problem", False))


def bnp_stage(d: TerritoryData, hres, deadline: float | None, solver: Solver, columns_result=None) -> BranchPriceResult:
    """:func:`branch_and_price` in its share of the time (:data:`STAGE_SHARE`), seeded with the warm start ``hres``
    (keeping every rule) and priced first at the column stage's duals where it ran."""
    seconds = STAGE_SECONDS if deadline is None else STAGE_SHARE * max(deadline - time.perf_counter(), 0.0)
    duals = None if columns_result is None else columns_result.duals
    res = branch_and_price(d, seconds, solver=solver, seeds=[hres.label], incumbent=hres.objective, duals=duals)
    log.debug("territories: branch-and-price %.2fs, bound %s, %d nodes (%d open), proven %s", res.seconds, res.bound,
              res.nodes, res.open, res.proven)
    return res


class _SubMaster:
    """The columns :func:`.columns._local_price` starts from (``cols`` and ``cost``, as on ``_Master``)."""

    def __init__(self, cols: np.ndarray, cost: np.ndarray):
        self.cols = list(cols)
        self.cost = list(cost)


def _branch(tree: _Tree, node: _Node, lam: np.ndarray, ok: np.ndarray):
    """The two children of a node with a fractional master (``None`` when the master is integral)."""
    n = tree.d.n
    used = lam > 1e-9
    idx, val = ok[used], lam[used]
    x = np.zeros(n)
    np.add.at(x, tree.root[idx], val)
    frac = np.minimum(x, 1.0 - x)
    frac[node.state != 0] = 0.0
    if frac.max() > 1e-6:
        p = int(np.argmax(frac))
        yes, no = node.state.copy(), node.state.copy()
        yes[p], no[p] = 1, -1
        return [(yes, dict(node.fix)), (no, dict(node.fix))]
    # roots integral: every used root is a root of the plan
    best, pick = 1e-6, None
    for p in np.flatnonzero(x > 0.5).tolist():
        mine = tree.root[idx] == p
        y = val[mine] @ tree.cols[idx[mine]][:, tree.order]  # by region position
        f = np.minimum(y, 1.0 - y)
        q = int(np.argmax(f))
        if f[q] > best:
            best, pick = float(f[q]), (p, q)
    if pick is None:
        return None
    # v in the territory rooted at p makes p a root; v outside it says nothing on the roots
    yes = node.state.copy()
    yes[pick[0]] = 1
    return [(yes, {**node.fix, pick: True}), (node.state.copy(), {**node.fix, pick: False})]
