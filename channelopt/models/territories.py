"""TerritoryDesign: contiguous, balanced, compact, exclusive territories."""

from __future__ import annotations

import dataclasses
import math
import time
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
import pulp

from ..exceptions import InfeasibleError, NoSolutionError, NotOptimalWarning, SettingsError, SolverError, format_ids
from ..metrics import balance as balance_of
from ..metrics import coverage_metrics, territory_metrics
from ..metrics import cut_edges as count_cut_edges
from ..plan import Plan
from ..solver import SolveInfo, Solver
from . import _territory_heuristics as heur
from ._base import Model
from ._contiguity import add_flow_contiguity, adjacency_lists, pieces, separator_cuts
from ._lp import add_grouped_rows, add_row, linear, new_vars, values

__all__ = ["TerritoryDesign"]

OBJECTIVES = ("compactness", "cut_edges", "disruption")
METHODS = ("exact", "heuristic")
_ALIASES = {"outlets": "n_outlets"}


@dataclasses.dataclass
class _Data:
    net: Any
    ids: list
    n: int
    k: int
    labels: list
    edges: np.ndarray
    adj: list
    attrs: list
    loads: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    weights: np.ndarray
    dist: np.ndarray | None
    centres: list | None
    current: np.ndarray | None
    locked: np.ndarray | None
    edge_w: np.ndarray
    table: pd.DataFrame
    bridged: bool = False


class TerritoryDesign(Model):
    """Split the regions of a network into ``k`` exclusive territories.

    Every region goes to exactly one territory. Territories can be held contiguous
    on the region graph (exact: single-commodity flow per territory, or separator
    cuts added lazily in a re-solve loop when centres are free), balanced on one or
    more attributes, and the plan minimises distance to the centres, cut edges or
    change from a current alignment.

    Parameters
    ----------
    k : int, optional
        Number of territories. Defaults to the number of fixed ``centres`` or of
        territories in ``current``.
    objective : {"compactness", "cut_edges", "disruption"}
        ``"compactness"``: sum over regions of ``weight`` x distance to the
        territory's centre (p-median-like; centres chosen by the model unless
        ``centres`` fixes them). ``"cut_edges"``: number (or total ``edge_weight``) of
        graph edges between territories. ``"disruption"``: number of regions whose
        territory differs from ``current``.
    balance : mapping, optional
        Attribute -> relative tolerance around the mean (``{"workload": 0.05}``) or
        absolute bounds ``(L, U)`` on each territory's sum (``{"TOTPOP": (L, U)}``).
        Attributes are region columns or the outlet aggregates of
        :meth:`ChannelNetwork.region_table` (``workload``, ``potential``, ``demand``,
        ``outlets``).
    contiguity : bool
        Every territory must be one connected piece of the region graph.
    centres : sequence or mapping of region ids, optional
        Fixed centres (reps' home bases, the regions of chosen distributors). A
        mapping names the territories: ``{territory: region_id}``.
    weight : str or None
        Region attribute weighting the distances of ``"compactness"`` (regions
        without it weigh 1).
    current : mapping region_id -> territory, or str, optional
        The current alignment (a mapping, or the name of a region column).
    max_changes : int, optional
        At most this many regions may change territory versus ``current``.
    locked : mapping region_id -> territory, optional
        Regions that must stay in the given territory.
    capacity : mapping, optional
        Attribute -> largest sum one territory may carry.
    edge_weight : str, optional
        Edge attribute giving the length of a border for ``"cut_edges"``.
    bridge_islands : bool
        When the region graph is disconnected, join each island to its nearest
        neighbour (:meth:`ChannelNetwork.with_bridged_islands`) instead of raising.
    method : {"exact", "heuristic"}
        ``"exact"`` solves the MILP (warm-started by the heuristic); ``"heuristic"``
        returns the construction + local search plan with no bound (large graphs).
    heuristic_seconds : float
        Time for the heuristic: multi-start construction plus local search and, for
        ``"compactness"`` with free centres, location-allocation rounds (a small MIP
        assigns every region to fixed centres, contiguous by distance chains and then
        exactly; each centre then moves to its territory's median). On the 340-region
        china example those rounds take the plan from 6.88e6 to 5.76e6 in about 60 s.
    seed : int
        Seed of the heuristic.
    centre_candidates : int, optional
        With free centres, a region may only join a centre among its
        ``centre_candidates`` nearest regions. This shrinks the p-median MILP from
        ``n^2`` pairs to ``n x centre_candidates``. The pairs of the heuristic's plan
        are always kept, so the restricted model starts from that plan. The reported
        bound is then the bound of the restricted model, not a proof for the full one
        (the china example's heuristic plan uses 55 pairs outside the 40 nearest).
        ``None`` (default) allows every pair and the bound is valid for the problem.

    Raises
    ------
    SettingsError
        Unknown objective, attribute or region id; a disconnected graph with
        ``contiguity=True`` and ``bridge_islands=False`` (the message lists the
        components).
    InfeasibleError
        No plan meets the balance bounds; the message names the attribute and the
        tightest tolerance found.

    Examples
    --------
    >>> import networkx as nx, channelopt as co
    >>> g = nx.grid_2d_graph(3, 4)
    >>> g = nx.convert_node_labels_to_integers(g)
    >>> nx.set_node_attributes(g, 1.0, "pop")
    >>> net = co.ChannelNetwork.from_graph(g, ["pop"])
    >>> plan = co.TerritoryDesign(k=2, objective="cut_edges", balance={"pop": (6, 6)}).solve(net)
    >>> plan.status, plan.objective, plan.metrics["contiguity_verified"]
    ('optimal', 3.0, True)
    >>> plan.territories["pop"].tolist()
    [6.0, 6.0]
    """

    kind = "territory_design"

    def __init__(
        self,
        *,
        k: int | None = None,
        objective: str = "compactness",
        balance: Mapping[str, float | tuple[float, float]] | None = None,
        contiguity: bool = True,
        centres: Sequence | Mapping | None = None,
        weight: str | None = "workload",
        current: Mapping | str | None = None,
        max_changes: int | None = None,
        locked: Mapping | None = None,
        capacity: Mapping[str, float] | None = None,
        edge_weight: str | None = None,
        bridge_islands: bool = False,
        method: str = "exact",
        heuristic_seconds: float = 5.0,
        seed: int = 0,
        centre_candidates: int | None = None,
    ) -> None:
        self.k = k
        self.objective = objective
        self.balance = balance
        self.contiguity = contiguity
        self.centres = centres
        self.weight = weight
        self.current = current
        self.max_changes = max_changes
        self.locked = locked
        self.capacity = capacity
        self.edge_weight = edge_weight
        self.bridge_islands = bridge_islands
        self.method = method
        self.heuristic_seconds = heuristic_seconds
        self.seed = seed
        self.centre_candidates = centre_candidates

    # ------------------------------------------------------------------ data
    def _prepare(self, net) -> _Data:
        if self.objective not in OBJECTIVES:
            raise SettingsError(f"objective must be one of {OBJECTIVES}, got {self.objective!r}.")
        if self.method not in METHODS:
            raise SettingsError(f"method must be one of {METHODS}, got {self.method!r}.")
        if net is None or not hasattr(net, "graph"):
            raise SettingsError("TerritoryDesign.solve needs a ChannelNetwork.")
        bridged = False
        if self.contiguity and net.graph.number_of_nodes() and not nx.is_connected(net.graph):
            comps = net.components()
            if not self.bridge_islands:
                listing = "; ".join(format_ids(c, 8) for c in comps[1:6])
                raise SettingsError(
                    f"contiguity=True needs a connected region graph, but it has {len(comps)} components: "
                    f"the main one ({len(comps[0])} regions) and {listing}"
                    f"{' ...' if len(comps) > 6 else ''}. Pass bridge_islands=True to join each island to "
                    f"its nearest neighbour, add the missing edges to the graph, or set contiguity=False."
                )
            net = net.with_bridged_islands()
            bridged = True
        ids = net.region_ids.tolist()
        n = len(ids)
        pos = {r: i for i, r in enumerate(ids)}
        table = net.region_table()

        def region_index(rid, what):
            if rid not in pos:
                raise SettingsError(
                    f"{what} names unknown region_id {rid!r}; known ids look like {format_ids(ids, 5)}."
                )
            return pos[rid]

        current = None
        labels = None
        if self.current is not None:
            if isinstance(self.current, str):
                if self.current not in table.columns:
                    raise SettingsError(
                        f"current={self.current!r} is not a region column; columns: {list(table.columns)}."
                    )
                cur_map = dict(zip(ids, table[self.current].tolist()))
            else:
                cur_map = dict(self.current)
            missing = [r for r in ids if r not in cur_map or pd.isna(cur_map[r])]
            if missing:
                raise SettingsError(
                    f"current alignment lacks a territory for region_id {format_ids(missing)}; "
                    "give every region its current territory."
                )
            for r in cur_map:
                region_index(r, "current")
            labels = sorted(set(cur_map[r] for r in ids), key=str)
        elif self.objective == "disruption" or self.max_changes is not None:
            raise SettingsError(
                f"{'objective=' + repr(self.objective) if self.objective == 'disruption' else 'max_changes'}"
                " needs current= (the current alignment: region_id -> territory)."
            )
        centre_regions = None
        if self.centres is not None:
            if isinstance(self.centres, Mapping):
                c_labels, c_regions = list(self.centres.keys()), list(self.centres.values())
            else:
                c_regions = list(self.centres)
                c_labels = c_regions if labels is None else labels
            if labels is not None and sorted(c_labels, key=str) != labels:
                raise SettingsError(
                    f"centres name territories {format_ids(c_labels)} but current has {format_ids(labels)}; "
                    "give centres as a mapping {territory: region_id}."
                )
            if len(set(c_regions)) != len(c_regions):
                raise SettingsError("centres repeats a region; give one distinct centre region per territory.")
            labels = list(c_labels) if labels is None else labels
            order = {lab: i for i, lab in enumerate(c_labels)}
            centre_regions = [region_index(c_regions[order[lab]], "centres") for lab in labels]
        k = self.k
        if labels is not None:
            if k is not None and k != len(labels):
                raise SettingsError(
                    f"k={k} but {'current' if self.current is not None else 'centres'} defines "
                    f"{len(labels)} territories; drop k or make them agree."
                )
            k = len(labels)
        if k is None:
            raise SettingsError("give k (the number of territories), centres, or current.")
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= n:
            raise SettingsError(f"k must be an integer in [1, {n}] (the number of regions), got {k!r}.")
        k = int(k)
        if labels is None:
            labels = list(range(k))
            if self.locked:
                named = sorted(set(self.locked.values()), key=str)
                if not all(isinstance(v, (int, np.integer)) and 0 <= v < k for v in named):
                    if len(named) > k:
                        raise SettingsError(f"locked names {len(named)} territories but k={k}.")
                    labels = named + [f"T{i}" for i in range(k - len(named))]
        lab_pos = {lab: j for j, lab in enumerate(labels)}
        if current is None and self.current is not None:
            current = np.array([lab_pos[cur_map[r]] for r in ids])
        locked = None
        if self.locked:
            locked = np.full(n, -1)
            for r, lab in self.locked.items():
                if lab not in lab_pos:
                    raise SettingsError(
                        f"locked sends region {r!r} to unknown territory {lab!r}; territories: {format_ids(labels)}."
                    )
                locked[region_index(r, "locked")] = lab_pos[lab]
            if centre_regions is not None:
                clash = [ids[c] for j, c in enumerate(centre_regions) if locked[c] >= 0 and locked[c] != j]
                if clash:
                    raise SettingsError(
                        f"locked moves centre region(s) {format_ids(clash)} out of their own territory."
                    )
        if self.max_changes is not None and (
            not isinstance(self.max_changes, (int, np.integer)) or self.max_changes < 0
        ):
            raise SettingsError(f"max_changes must be a non-negative integer, got {self.max_changes!r}.")

        # balance and capacity attributes
        attrs, lower, upper = [], [], []
        spec: dict[str, list] = {}
        for name, value in (self.balance or {}).items():
            spec.setdefault(name, [None, None])
            spec[name][0] = value
        for name, value in (self.capacity or {}).items():
            spec.setdefault(name, [None, None])
            spec[name][1] = value
        cols = []
        for name, (bal, cap) in spec.items():
            col = _ALIASES.get(name, name)
            if col not in table.columns or not pd.api.types.is_numeric_dtype(table[col]):
                numeric = [c for c in table.columns if c != "region_id" and pd.api.types.is_numeric_dtype(table[c])]
                raise SettingsError(
                    f"balance/capacity attribute {name!r} is not a numeric region column; available: {numeric}."
                )
            a = table[col].to_numpy(dtype=float)
            mean = a.sum() / k
            lo, hi = 0.0, math.inf
            if bal is not None:
                if isinstance(bal, (tuple, list)) and len(bal) == 2:
                    lo, hi = float(bal[0]), float(bal[1])
                    if lo > hi:
                        raise SettingsError(f"balance[{name!r}] = {bal}: the lower bound exceeds the upper bound.")
                elif isinstance(bal, (int, float)) and 0 <= bal:
                    lo, hi = (1 - bal) * mean, (1 + bal) * mean
                else:
                    raise SettingsError(
                        f"balance[{name!r}] must be a tolerance >= 0 (e.g. 0.05) or bounds (L, U); got {bal!r}."
                    )
            if cap is not None:
                if not (isinstance(cap, (int, float)) and cap > 0):
                    raise SettingsError(f"capacity[{name!r}] must be a positive number, got {cap!r}.")
                hi = min(hi, float(cap))
            attrs.append(name)
            cols.append(a)
            lower.append(lo)
            upper.append(hi)
        loads = np.column_stack(cols) if cols else np.zeros((n, 0))

        edges_list, edge_w = [], []
        for u, v, d in net.graph.edges(data=True):
            if u == v:
                continue
            edges_list.append((pos[u], pos[v]))
            edge_w.append(float(d.get(self.edge_weight, 1.0)) if self.edge_weight else 1.0)
        edges = np.array(edges_list, dtype=np.int64).reshape(-1, 2)
        adj = adjacency_lists(n, edges)

        if self.weight is not None and self.weight in table.columns:
            weights = table[self.weight].to_numpy(dtype=float).copy()
        else:
            weights = np.ones(n)
        dist = None
        if self.objective == "compactness":
            dist = np.array(net.region_distances(), dtype=float)
            if not np.isfinite(dist).all():
                dist[~np.isfinite(dist)] = 10.0 * np.nanmax(np.where(np.isfinite(dist), dist, np.nan)) + 1.0
        return _Data(
            net,
            ids,
            n,
            k,
            labels,
            edges,
            adj,
            attrs,
            loads,
            np.array(lower),
            np.array(upper),
            weights,
            dist,
            centre_regions,
            current,
            locked,
            np.array(edge_w),
            table,
            bridged,
        )

    def _uses_hess(self, d: _Data) -> bool:
        return self.objective == "compactness" and d.centres is None

    # ------------------------------------------------------------------ checks
    def _check(self, net) -> None:
        cc = self.centre_candidates
        if cc is not None and not (isinstance(cc, (int, np.integer)) and not isinstance(cc, bool) and cc >= 1):
            raise SettingsError(
                f"centre_candidates must be a positive integer (nearest centres per region) or None, got {cc!r}."
            )
        d = self._prepare(net)
        self._data = d
        if self._uses_hess(d) and d.current is not None:
            raise SettingsError(
                "objective='compactness' with a current alignment needs fixed centres= "
                "(territory -> centre region); or use objective='disruption'."
            )
        reasons = []
        for p, name in enumerate(d.attrs):
            a = d.loads[:, p]
            total, lo, hi = a.sum(), d.lower[p], d.upper[p]
            if total > d.k * hi + 1e-9:
                reasons.append(f"{name}: the total {total:.6g} exceeds k x upper bound = {d.k} x {hi:.6g}")
            if total < d.k * lo - 1e-9:
                reasons.append(f"{name}: the total {total:.6g} is below k x lower bound = {d.k} x {lo:.6g}")
            big = np.flatnonzero(a > hi + 1e-9)
            if len(big):
                reasons.append(
                    f"{name}: region(s) {format_ids([d.ids[i] for i in big])} alone carry "
                    f"{a[big].max():.6g} > the upper bound {hi:.6g}"
                )
        if reasons:
            raise InfeasibleError(self._balance_message(d, reasons), reasons=reasons)

    def _heuristic_problem(self, d: _Data, lower=None, upper=None) -> heur.Problem:
        return heur.Problem(
            adj=d.adj,
            k=d.k,
            loads=d.loads,
            lower=d.lower if lower is None else lower,
            upper=d.upper if upper is None else upper,
            objective=self.objective,
            weights=d.weights,
            dist=d.dist,
            fixed_centres=d.centres,
            current=d.current,
            locked=d.locked,
            max_changes=self.max_changes,
            contiguity=self.contiguity,
            edge_weight=_adj_weights(d) if self.edge_weight else None,
        )

    def _balance_message(self, d: _Data, reasons: list[str]) -> str:
        """Explain an infeasible balance: name the attribute and the tightest tolerance found."""
        parts = ["TerritoryDesign is infeasible: " + "; ".join(reasons)]
        if d.attrs:
            pb = self._heuristic_problem(d, lower=np.zeros(len(d.attrs)), upper=np.full(len(d.attrs), np.inf))
            # search for the most balanced plan by shrinking the bounds around the mean
            best = _tightest(pb, d, seconds=min(5.0, self.heuristic_seconds), seed=self.seed)
            for p, name in enumerate(d.attrs):
                parts.append(
                    f"the tightest {name} tolerance found is {best[p]:.2%} around the mean "
                    f"{d.loads[:, p].sum() / d.k:.6g} (bounds {(1 - best[p]) * d.loads[:, p].sum() / d.k:.6g}"
                    f"..{(1 + best[p]) * d.loads[:, p].sum() / d.k:.6g})"
                )
        return "; ".join(parts) + "."

    # ------------------------------------------------------------------ build
    def _build(self, net, prob: pulp.LpProblem) -> dict[str, Any]:
        d = self._data
        state: dict[str, Any] = {"data": d, "cuts": 0, "rounds": 0}
        if self.method == "heuristic":
            return state
        if self._uses_hess(d):
            self._build_hess(d, prob, state)
        else:
            self._build_labelling(d, prob, state)
        return state

    def _build_labelling(self, d: _Data, prob, state) -> None:
        n, k = d.n, d.k
        x = new_vars(prob, "x", n * k, low=0, up=1, cat=pulp.LpBinary).reshape(n, k)
        state.update(form="labelling", x=x)
        add_grouped_rows(prob, x.reshape(-1), None, np.repeat(np.arange(n), k), n, "==", 1.0, "assign")
        fix = {}
        if d.locked is not None:
            for v in np.flatnonzero(d.locked >= 0).tolist():
                for j in range(k):
                    fix[x[v, j]] = 1.0 if j == d.locked[v] else 0.0
        if d.centres is not None:
            for j, c in enumerate(d.centres):
                for jj in range(k):
                    fix[x[c, jj]] = 1.0 if jj == j else 0.0
        symmetric = d.centres is None and d.current is None and d.locked is None
        roots = [None] * k
        if d.centres is not None:
            roots = list(d.centres)
        elif d.locked is not None:
            for j in range(k):
                lk = np.flatnonzero(d.locked == j)
                if len(lk):
                    roots[j] = int(lk[0])
        if symmetric:
            # a territory's root is its lowest-index region and roots increase with the
            # slot (Validi & Buchanan): one labelling per partition instead of k!
            for v in range(n):
                for j in range(v + 1, k):
                    fix[x[v, j]] = 0.0
        for var, val in fix.items():
            var.lowBound = var.upBound = val
        r = None
        need_r = [j for j in range(k) if roots[j] is None]
        if need_r and (self.contiguity or symmetric):
            r = np.empty((n, k), dtype=object)
            for j in need_r:
                r[:, j] = new_vars(prob, f"r{j}", n, low=0, up=1, cat=pulp.LpBinary)
                add_row(prob, r[:, j], None, "==", 1.0, f"oneroot_{j}")
                for v in range(n):
                    add_row(prob, [r[v, j], x[v, j]], [1.0, -1.0], "<=", 0.0, f"rootin_{v}_{j}")
            if symmetric:
                for j in range(k):
                    for v in range(n):
                        if j > v:
                            r[v, j].upBound = 0.0
                            continue
                        # no member of slot j below its root
                        add_row(
                            prob, [x[v, j], *r[: v + 1, j]], [1.0] + [-1.0] * (v + 1), "<=", 0.0, f"minroot_{v}_{j}"
                        )
                        if j + 1 < k:
                            add_row(
                                prob,
                                [*r[: v + 1, j + 1], *r[:v, j]],
                                [1.0] * (v + 1) + [-1.0] * v,
                                "<=",
                                0.0,
                                f"rootorder_{v}_{j}",
                            )
            state["r"] = r
        for p in range(len(d.attrs)):
            a = d.loads[:, p]
            for j in range(k):
                if d.lower[p] > 0:
                    add_row(prob, x[:, j], a, ">=", d.lower[p], f"bal_lo_{p}_{j}")
                if np.isfinite(d.upper[p]):
                    add_row(prob, x[:, j], a, "<=", d.upper[p], f"bal_hi_{p}_{j}")
        if self.contiguity and k > 1:
            add_flow_contiguity(prob, x, d.edges, roots=roots, root_vars=r)
        if d.current is not None and self.max_changes is not None:
            stay = x[np.arange(n), d.current]
            add_row(prob, stay, None, ">=", n - self.max_changes, "max_changes")
        if self.objective == "cut_edges":
            m = len(d.edges)
            y = new_vars(prob, "cut", m, low=0, up=1)
            state["y"] = y
            for e, (u, v) in enumerate(d.edges.tolist()):
                for j in range(k):
                    add_row(prob, [y[e], x[u, j], x[v, j]], [1.0, -1.0, 1.0], ">=", 0.0, f"cut_{e}_{j}")
            prob.setObjective(linear(y, d.edge_w))
        elif self.objective == "disruption":
            stay = x[np.arange(n), d.current]
            prob.setObjective(linear(stay, -np.ones(n), constant=float(n)))
        else:
            cost = d.weights[:, None] * d.dist[:, d.centres]
            prob.setObjective(linear(x.reshape(-1), cost.reshape(-1)))

    def _pairs(self, d: _Data) -> tuple[np.ndarray, np.ndarray]:
        """The (region, centre) pairs the compactness model may use, region-major."""
        n = d.n
        if self.centre_candidates is None:
            allowed = np.ones((n, n), dtype=bool)
        else:
            near = np.argsort(d.dist, axis=1, kind="stable")[:, : int(self.centre_candidates)]
            allowed = np.zeros((n, n), dtype=bool)
            allowed[np.repeat(np.arange(n), near.shape[1]), near.reshape(-1)] = True
            allowed[np.arange(n), np.arange(n)] = True
            seed = getattr(self, "_seed_plan", None)
            if seed is not None:
                # the incumbent's own pairs stay, so the warm start is a plan of the restricted model
                label, centres = seed
                allowed[np.arange(n), np.asarray(centres)[label]] = True
        if d.locked is not None:
            # every region of a locked group must be able to join the same centres
            for j in range(d.k):
                g = np.flatnonzero(d.locked == j)
                if len(g) > 1:
                    allowed[g] = allowed[g].any(axis=0)
        return np.nonzero(allowed)

    def _build_hess(self, d: _Data, prob, state) -> None:
        """p-median (Hess) assignment ``x[v, c]`` over the allowed pairs only; ``x[c, c]`` opens centre ``c``."""
        n, k = d.n, d.k
        pv, pc = self._pairs(d)
        x = new_vars(prob, "x", len(pv), low=0, up=1, cat=pulp.LpBinary)
        index = {(v, c): i for i, (v, c) in enumerate(zip(pv.tolist(), pc.tolist()))}
        diag = x[[index[c, c] for c in range(n)]]
        state.update(form="hess", x=x, pv=pv, pc=pc, index=index, diag=diag)
        add_grouped_rows(prob, x, None, pv, n, "==", 1.0, "assign")
        add_row(prob, diag, None, "==", float(k), "k_centres")
        le = pulp.LpConstraintLE
        off = pv != pc
        xl, yl = x.tolist(), diag.tolist()
        for i in np.flatnonzero(off).tolist():
            prob.addConstraint(
                pulp.LpConstraint(pulp.LpAffineExpression([(xl[i], 1.0), (yl[pc[i]], -1.0)]), le, f"open_{i}", 0.0)
            )
        for p in range(len(d.attrs)):
            a = d.loads[pv, p]
            # x[c, c] is the centre switch itself, so the bound rides on it
            if d.lower[p] > 0:
                add_grouped_rows(prob, x, a - np.where(off, 0.0, d.lower[p]), pc, n, ">=", 0.0, f"bal_lo_{p}")
            if np.isfinite(d.upper[p]):
                add_grouped_rows(prob, x, a - np.where(off, 0.0, d.upper[p]), pc, n, "<=", 0.0, f"bal_hi_{p}")
        if self.contiguity and k > 1:
            # a member that is not next to its centre needs a member among its own neighbours
            # (the separator of the piece {v}); valid for every contiguous plan, and it
            # removes most of the scattered LP and B&B solutions before any lazy round
            adjset = [set(a) for a in d.adj]
            for i in np.flatnonzero(off).tolist():
                v, c = int(pv[i]), int(pc[i])
                if c in adjset[v]:
                    continue
                nb = [xl[index[u, c]] for u in d.adj[v] if (u, c) in index]
                if not nb:
                    xl[i].upBound = 0.0
                    continue
                add_row(prob, [xl[i], *nb], [1.0] + [-1.0] * len(nb), "<=", 0.0, f"nbr_{i}")
        if d.locked is not None:
            groups = [np.flatnonzero(d.locked == j) for j in range(k)]
            groups = [g for g in groups if len(g)]
            for g in groups:
                for v in g[1:].tolist():
                    for c in range(n):
                        a, b = index.get((v, c)), index.get((int(g[0]), c))
                        if a is not None and b is not None:
                            add_row(prob, [xl[a], xl[b]], [1.0, -1.0], "==", 0.0, f"lock_{v}_{c}")
            if len(groups) > 1:
                reps = [int(g[0]) for g in groups]
                for c in range(n):
                    terms = [xl[index[r, c]] for r in reps if (r, c) in index]
                    if len(terms) > 1:
                        add_row(prob, terms, None, "<=", 1.0, f"lockapart_{c}")
        prob.setObjective(linear(x, d.weights[pv] * d.dist[pv, pc]))

    # ------------------------------------------------------------------ solve
    def solve(self, network=None, solver: Solver | None = None, *, warm_start: bool = True) -> Plan:
        """Build and solve; return a :class:`~channelopt.Plan` of territories.

        With free centres and ``contiguity=True`` the model is re-solved, adding the
        separator cuts the last plan violates, until every territory is connected.

        Raises
        ------
        InfeasibleError
            Balance, capacity, locks or change cap cannot all hold; names the attribute
            and the tightest tolerance found.
        NoSolutionError
            The solver stopped before any plan and the heuristic found none either.
        """
        solver = solver or Solver()
        if not isinstance(solver, Solver):
            raise TypeError(f"solver must be a channelopt.Solver, got {type(solver).__name__}.")
        self._seed_plan = None
        self._check(network)
        d: _Data = self._data
        t0 = time.perf_counter()
        hres = None
        if warm_start or self.method == "heuristic":
            pb = self._heuristic_problem(d)
            polish = self._uses_hess(d) and d.locked is None
            # construction + local search get a quarter (at most 10 s) when location-allocation
            # rounds follow: those rounds, not more restarts, are what lower the objective
            hres = heur.solve_heuristic(
                pb, seconds=min(self.heuristic_seconds / 4, 10.0) if polish else self.heuristic_seconds, seed=self.seed
            )
            if polish and hres.violation <= 1e-9 and hres.contiguous:
                label, centres, obj = _polish(
                    d, pb, hres.label, hres.centres, solver, t0 + self.heuristic_seconds - time.perf_counter()
                )
                hres = dataclasses.replace(hres, label=label, centres=centres, objective=obj)
        heuristic_seconds = time.perf_counter() - t0
        h_ok = hres is not None and hres.violation <= 1e-9 and hres.contiguous and self._respects_rules(d, hres.label)
        if h_ok and self._uses_hess(d):
            self._seed_plan = (hres.label, hres.centres)
        try:
            built = self.build(network)
        finally:
            self._seed_plan = None
        d = built.state["data"]
        state = built.state
        state["heuristic_seconds"] = heuristic_seconds
        if self.method == "heuristic":
            if not h_ok:
                raise NoSolutionError(
                    f"the heuristic found no plan meeting every rule in {self.heuristic_seconds}s "
                    f"(balance violation {hres.violation:.3g}, contiguous={hres.contiguous}); "
                    "raise heuristic_seconds, loosen balance, or use method='exact'."
                )
            info = SolveInfo("heuristic", "feasible", "heuristic", objective=hres.objective, seconds=hres.seconds)
            return self._plan(d, hres.label, hres.centres, info, state, built.build_seconds)
        start = self._start(d, state, hres) if h_ok else None
        deadline = None if solver.time_limit is None else time.perf_counter() + solver.time_limit
        seconds = 0.0
        while True:
            sv = solver
            if deadline is not None:
                sv = dataclasses.replace(solver, time_limit=max(deadline - time.perf_counter(), 1.0))
            info = sv.solve(built.problem, warm_start=start)
            seconds += info.seconds
            state["rounds"] += 1
            if info.status in ("infeasible", "unbounded"):
                raise InfeasibleError(self._balance_message(d, self._diagnose(d)), reasons=self._diagnose(d))
            if info.status == "error":
                raise SolverError(f"{solver.name} failed: {info.termination} {info.message}".strip())
            if not info.has_solution:
                if h_ok:
                    info = dataclasses.replace(
                        info, status="feasible", objective=hres.objective, gap=_gap(hres.objective, info.bound)
                    )
                    label, centres = hres.label, hres.centres
                    break
                raise NoSolutionError(
                    f"{solver.name} stopped ({info.termination}) after {seconds:.1f}s without a plan and the "
                    f"heuristic found none; raise time_limit (now {solver.time_limit}) or loosen the model."
                )
            label, centres = self._read(d, state)
            if (len(np.unique(label)) != d.k or heur.violation(self._heuristic_problem(d), label) > 1e-6) and h_ok:
                # a solver answer that is not a k-territory balanced plan is never reported
                info = dataclasses.replace(
                    info, status="feasible", objective=hres.objective, gap=_gap(hres.objective, info.bound)
                )
                label, centres = hres.label, hres.centres
                break
            if state["form"] != "hess" or not self.contiguity:
                break
            cuts = separator_cuts(d.adj, label, dict(enumerate(centres)))
            if not cuts:
                break
            if deadline is not None and time.perf_counter() >= deadline:
                # out of time with a disconnected plan: the heuristic's plan is the answer
                if not h_ok:
                    raise NoSolutionError(f"time limit reached before a contiguous plan ({state['rounds']} rounds).")
                info = dataclasses.replace(
                    info, status="feasible", objective=hres.objective, gap=_gap(hres.objective, info.bound)
                )
                label, centres = hres.label, hres.centres
                break
            self._add_cuts(d, built.problem, state, cuts, centres)
        info.seconds = seconds
        if h_ok and info.has_solution and hres.objective < info.objective - 1e-9 and info.status != "optimal":
            info = dataclasses.replace(info, objective=hres.objective, gap=_gap(hres.objective, info.bound))
            label, centres = hres.label, hres.centres
        plan = self._plan(d, label, centres, info, state, built.build_seconds)
        if info.status != "optimal":
            warnings.warn(
                f"TerritoryDesign plan is {info.status} ({info.termination}), not proven optimal: gap {info.gap:.2%}.",
                NotOptimalWarning,
                stacklevel=2,
            )
        return plan

    def _respects_rules(self, d: _Data, label) -> bool:
        if d.locked is not None and (label[d.locked >= 0] != d.locked[d.locked >= 0]).any():
            return False
        if self.max_changes is not None and (label != d.current).sum() > self.max_changes:
            return False
        return len(np.unique(label)) == d.k

    def _start(self, d: _Data, state, hres) -> dict:
        x = state["x"]
        label = hres.label
        start = {}
        if state["form"] == "hess":
            cl = np.asarray(hres.centres)[label]
            hit = (cl[state["pv"]] == state["pc"]).astype(float).tolist()
            return dict(zip(x.tolist(), hit))
        slot = label
        if state.get("r") is not None and d.centres is None and d.current is None and d.locked is None:
            # renumber territories by their lowest region, as the symmetry rows demand
            first = {}
            for t in label.tolist():
                first.setdefault(t, len(first))
            slot = np.array([first[t] for t in label.tolist()])
        for v in range(d.n):
            for j in range(d.k):
                start[x[v, j]] = 1.0 if slot[v] == j else 0.0
        return start

    def _add_cuts(self, d: _Data, prob, state, cuts, centres) -> None:
        x, index = state["x"], state["index"]
        ge = pulp.LpConstraintGE
        for piece, sep, c in cuts:
            targets = sorted(set(centres) | {c})
            for cc in targets:
                if cc in piece or cc in sep:
                    continue
                for v in piece:
                    if (v, cc) not in index:
                        continue
                    terms = [(x[index[u, cc]], 1.0) for u in sep if (u, cc) in index] + [(x[index[v, cc]], -1.0)]
                    state["cuts"] += 1
                    prob.addConstraint(
                        pulp.LpConstraint(pulp.LpAffineExpression(terms), ge, f"sep{state['cuts']}", 0.0)
                    )

    def _read(self, d: _Data, state):
        x = state["x"]
        if state["form"] == "hess":
            hit = values(x) > 0.5
            centre_of = np.zeros(d.n, dtype=np.int64)
            centre_of[state["pv"][hit]] = state["pc"][hit]
            centres = sorted(set(centre_of.tolist()), key=lambda c: c)
            slot = {c: j for j, c in enumerate(centres)}
            label = np.array([slot[c] for c in centre_of.tolist()])
            if d.locked is not None:
                # name each territory after the locked group it holds
                perm = {}
                for j in range(d.k):
                    lk = np.flatnonzero(d.locked == j)
                    if len(lk):
                        perm[int(label[lk[0]])] = j
                free = [j for j in range(d.k) if j not in perm.values()]
                for s in range(d.k):
                    if s not in perm:
                        perm[s] = free.pop(0)
                label = np.array([perm[s] for s in label.tolist()])
                new_centres = [0] * d.k
                for s, c in enumerate(centres):
                    new_centres[perm[s]] = c
                centres = new_centres
            return label, list(centres)
        xv = values(x.reshape(-1)).reshape(d.n, d.k)
        return np.argmax(xv, axis=1), (list(d.centres) if d.centres is not None else None)

    def _diagnose(self, d: _Data, state=None) -> list[str]:
        out = []
        for p, name in enumerate(d.attrs):
            out.append(
                f"no {'contiguous ' if self.contiguity else ''}plan keeps every territory's {name} within "
                f"[{d.lower[p]:.6g}, {d.upper[p]:.6g}]"
            )
        if self.max_changes is not None:
            out.append(f"at most {self.max_changes} region(s) may change territory")
        if d.locked is not None:
            out.append(f"{int((d.locked >= 0).sum())} region(s) are locked")
        return out or ["the locks, centres and contiguity cannot all hold"]

    def _extract(self, net, state, info):  # pragma: no cover - solve() builds the plan itself
        raise NotImplementedError

    # ------------------------------------------------------------------ plan
    def _plan(self, d: _Data, label, centres, info: SolveInfo, state, build_seconds) -> Plan:
        info.build_seconds = build_seconds
        integral = self.objective == "disruption" or (
            self.objective == "cut_edges" and np.all(d.edge_w == np.round(d.edge_w))
        )
        if integral and math.isfinite(info.objective) and abs(info.objective - round(info.objective)) < 1e-6:
            # counts come back as 2.9999999999999996 from the solver's floating point
            info.objective = float(round(info.objective))
        labels = [d.labels[t] for t in np.asarray(label).tolist()]
        assignments = pd.DataFrame({"region_id": d.ids, "territory": labels})
        if centres is not None:
            assignments["centre"] = [d.ids[centres[t]] for t in np.asarray(label).tolist()]
        if d.current is not None:
            assignments["current_territory"] = [d.labels[t] for t in d.current.tolist()]
            assignments["changed"] = np.asarray(label) != d.current
        if d.locked is not None:
            assignments["locked"] = d.locked >= 0
        lab_map = dict(zip(d.ids, labels))
        graph = d.net.graph
        table = d.table.copy()
        for p, name in enumerate(d.attrs):
            if name not in table.columns:
                table[name] = d.loads[:, p]
        geom = None
        regions = d.net.regions
        if (
            hasattr(regions, "geometry")
            and "geometry" in regions.columns
            and regions.crs is not None
            and regions.geom_type.isin(["Polygon", "MultiPolygon"]).all()
        ):
            geom = regions.set_index("region_id").geometry
        terr = territory_metrics(graph, lab_map, table, d.attrs, region_geometry=geom)
        terr = terr.reindex([lab for lab in d.labels if lab in set(labels)])
        for p, name in enumerate(d.attrs):
            terr[f"{name}_deviation"] = terr[f"{name}_ratio"] - 1.0
            terr[f"{name}_within_bounds"] = (terr[name] >= d.lower[p] - 1e-6) & (terr[name] <= d.upper[p] + 1e-6)
        if centres is not None:
            terr["centre"] = [d.ids[centres[d.labels.index(lab)]] for lab in terr.index]
        if d.net.outlets is not None and len(d.net.outlets):
            outlets = d.net.outlets.copy()
            outlets["region_id"] = outlets["region_id"].map(lab_map)
            cov = coverage_metrics(outlets, np.ones(len(outlets), dtype=bool), list(terr.index))
            br = cov.by_region
            terr["outlets"] = br["outlets"].to_numpy()
            terr["potential"] = br["potential"].to_numpy()
            terr["channels"] = (
                outlets.groupby("region_id")["channel"].nunique().reindex(terr.index).fillna(0).astype(int)
            )
            terr["channel_breadth"] = br["channel_breadth"].to_numpy()
        terr.index.name = "territory"
        overall: dict[str, Any] = {"territories": int(len(terr)), "regions": d.n}
        for name in d.attrs:
            b = balance_of(terr[name])
            overall[f"max_deviation_{name}"] = b["max_deviation"]
            overall[f"cv_{name}"] = b["cv"]
            overall[f"balance_ok_{name}"] = bool(terr[f"{name}_within_bounds"].all())
        overall["cut_edges"] = count_cut_edges(graph, lab_map)
        if self.edge_weight:
            overall["cut_length"] = count_cut_edges(graph, lab_map, weight=self.edge_weight)
        # checked on the graph itself, never taken from the model
        overall["contiguity_verified"] = bool(
            all(nx.is_connected(graph.subgraph([r for r, t in lab_map.items() if t == lab])) for lab in terr.index)
        )
        overall["islands_bridged"] = d.bridged
        if d.dist is not None and centres is not None:
            cl = np.asarray(centres)[np.asarray(label)]
            overall["weighted_distance"] = float((d.weights * d.dist[np.arange(d.n), cl]).sum())
        if d.current is not None:
            overall["regions_changed"] = int((np.asarray(label) != d.current).sum())
        overall.update(
            {
                "gap": info.gap,
                "lazy_rounds": state.get("rounds", 0),
                "lazy_cuts": state.get("cuts", 0),
                "heuristic_seconds": state.get("heuristic_seconds", math.nan),
            }
        )
        metrics = (
            coverage_metrics(d.net.outlets, np.ones(len(d.net.outlets), dtype=bool), d.ids)
            if d.net.outlets is not None and len(d.net.outlets)
            else None
        )
        from ..metrics import Metrics

        if metrics is None:
            metrics = Metrics()
        metrics.overall.update(overall)
        metrics.by_territory = terr
        plan = Plan(
            kind=self.kind,
            info=info,
            assignments=assignments,
            metrics=metrics,
            tables={"territories": terr},
            network=d.net,
        )
        plan.settings = {"model": type(self).__name__, **self.get_params()}
        return plan


def _gap(objective: float, bound: float) -> float:
    if not (math.isfinite(objective) and math.isfinite(bound)):
        return math.nan
    diff = abs(objective - bound)
    return 0.0 if diff <= 1e-9 else diff / max(abs(objective), 1e-10)


def _adj_weights(d: _Data) -> list[list[float]]:
    w = {}
    for (u, v), ew in zip(d.edges.tolist(), d.edge_w.tolist()):
        w[(u, v)] = w[(v, u)] = ew
    return [[w[(u, v)] for v in nbrs] for u, nbrs in enumerate(d.adj)]


def _tightest(pb: heur.Problem, d: _Data, *, seconds: float, seed: int) -> list[float]:
    """Smallest max relative deviation per attribute the heuristic reaches (bisection on a common tolerance)."""
    means = d.loads.sum(axis=0) / d.k
    lo, hi = 0.0, 1.0
    best = None
    budget = time.perf_counter() + seconds
    for _ in range(12):
        if time.perf_counter() > budget and best is not None:
            break
        tol = (lo + hi) / 2
        pb.lower, pb.upper = (1 - tol) * means, (1 + tol) * means
        res = heur.solve_heuristic(pb, seconds=max(seconds / 12, 0.05), seed=seed, max_starts=5)
        if res.violation <= 1e-9 and res.contiguous:
            hi, best = tol, res.label
        else:
            lo = tol
    if best is None:
        pb.lower, pb.upper = np.zeros_like(means), np.full_like(means, np.inf)
        best = heur.solve_heuristic(pb, seconds=0.2, seed=seed, max_starts=3).label
    sums = np.zeros((d.k, d.loads.shape[1]))
    np.add.at(sums, best, d.loads)
    return np.abs(sums / np.maximum(means, 1e-12) - 1).max(axis=0).tolist()


def _allocate(
    d: _Data,
    centres: list[int],
    solver: Solver,
    start_label,
    time_limit: float,
    contiguity: bool = True,
    mip_gap: float = 1e-3,
    chains: bool = True,
):
    """Best assignment of every region to fixed ``centres`` (balance kept, contiguous).

    With ``chains`` a region may join centre ``c`` only next to a member strictly
    closer to ``c`` (Hess-style distance chains): every territory is connected in one
    solve, but some contiguous plans are excluded. Without it, contiguity is exact:
    neighbour rows up front and separator cuts added in a re-solve loop.
    Returns ``(label, objective)`` or ``None`` when no plan is found in time.
    """
    deadline = time.perf_counter() + time_limit
    n, k = d.n, len(centres)
    prob = pulp.LpProblem("allocate", pulp.LpMinimize)
    dc = d.dist[:, centres]  # (n, k)
    ok = np.ones((n, k), dtype=bool)
    if contiguity and chains:
        # a region with no neighbour closer to c cannot be reached from c along a chain
        for t, c in enumerate(centres):
            for v in range(n):
                ok[v, t] = v == c or any(dc[u, t] < dc[v, t] for u in d.adj[v])
    pv, pt = np.nonzero(ok)
    x = new_vars(prob, "a", len(pv), low=0, up=1, cat=pulp.LpBinary)
    idx = {(v, t): i for i, (v, t) in enumerate(zip(pv.tolist(), pt.tolist()))}
    for t, c in enumerate(centres):
        x[idx[c, t]].lowBound = 1.0
    add_grouped_rows(prob, x, None, pv, n, "==", 1.0, "assign")
    for p in range(len(d.attrs)):
        a = d.loads[pv, p]
        if d.lower[p] > 0:
            add_grouped_rows(prob, x, a, pt, k, ">=", d.lower[p], f"lo{p}")
        if np.isfinite(d.upper[p]):
            add_grouped_rows(prob, x, a, pt, k, "<=", d.upper[p], f"hi{p}")
    if contiguity:
        for (v, t), i in idx.items():
            c = centres[t]
            if v == c or (not chains and c in d.adj[v]):
                continue
            if chains:
                nb = [x[idx[u, t]] for u in d.adj[v] if dc[u, t] < dc[v, t] and (u, t) in idx]
            else:
                nb = [x[idx[u, t]] for u in d.adj[v]]
            add_row(prob, [x[i], *nb], [1.0] + [-1.0] * len(nb), "<=", 0.0, f"chain_{v}_{t}")
    prob.setObjective(linear(x, d.weights[pv] * dc[pv, pt]))
    start = None
    if start_label is not None:
        start = {x[i]: float(start_label[v] == t) for (v, t), i in idx.items()}
    rounds = 0
    while True:
        left = deadline - time.perf_counter()
        if left < 0.5:
            return None
        info = dataclasses.replace(solver, time_limit=left, mip_gap=mip_gap).solve(prob, warm_start=start)
        if not info.has_solution:
            return None
        hit = values(x) > 0.5
        label = np.full(n, -1)
        label[pv[hit]] = pt[hit]
        cuts = separator_cuts(d.adj, label, dict(enumerate(centres))) if contiguity and not chains else []
        if not cuts:
            return label, info.objective
        for piece, sep, _c in cuts:
            t = int(label[piece[0]])
            for v in piece:
                rounds += 1
                add_row(prob, [x[idx[v, t]], *(x[idx[u, t]] for u in sep)], [1.0] + [-1.0] * len(sep), "<=", 0.0,
                        f"sep_{rounds}")


def _polish(d: _Data, pb: heur.Problem, label, centres, solver: Solver, seconds: float):
    """Location-allocation rounds: optimal assignment to fixed centres, then each territory's best centre.

    Rounds use the distance-chain assignment until it stops improving, then one
    exact-contiguity assignment; returns the best ``(label, centres, objective)``
    found, never worse than the input.
    """
    deadline = time.perf_counter() + seconds
    best = (np.asarray(label).copy(), list(centres), heur.objective_value(pb, label, centres))
    chains = True
    while time.perf_counter() < deadline - 0.5:
        out = _allocate(
            d, best[1], solver, best[0], deadline - time.perf_counter(), pb.contiguity, chains=chains
        )
        ok = out is not None and not (out[0] < 0).any() and heur.violation(pb, out[0]) <= 1e-9
        if ok and pb.contiguity:
            # never taken unless every territory really is one piece
            ok = all(len(pieces(d.adj, np.flatnonzero(out[0] == t))) == 1 for t in range(d.k))
        improved = False
        if ok:
            new_centres = heur._best_centres(pb, out[0])
            obj = heur.objective_value(pb, out[0], new_centres)
            if obj < best[2] - 1e-9 * max(1.0, abs(best[2])):
                best, improved = (out[0], new_centres, obj), True
        if improved:
            chains = True
        elif chains and pb.contiguity:
            chains = False
        else:
            break
    return best
