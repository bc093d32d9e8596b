"""TerritoryDesign: contiguous, balanced, compact, exclusive territories (settings and contract)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..._arrays import ArrayProblem
from ...exceptions import SettingsError
from ...plan import Plan
from ...solver import SolveInfo, Solver
from .._base import Model, _build_path
from .assembly import assemble_plan
from .data import prepare
from .diagnosis import check_totals, reasons
from .labelling import build_labelling
from .pmedian import build_pmedian, pairs, read_plan
from .search import HEURISTIC_SHARE, TerritoryBuilt, respects_rules, warm_start_plan

__all__ = ["TerritoryDesign"]


class TerritoryDesign(Model):
    """Split the regions of a network into ``k`` exclusive territories.

    Every region goes to exactly one territory. Territories can be held contiguous
    on the region graph (exact: single-commodity flow per territory, or separator
    rows added in a re-solve loop when centres are free), balanced on one or
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
        Region column weighting the distances of ``"compactness"``. A name that is not
        a column raises (with the nearest one), except the default ``"workload"`` on a
        network without outlets, where every region weighs 1, as with ``None``.
    current : mapping region_id -> territory, or str, optional
        The current alignment (a mapping, or the name of a region column).
    max_changes : int, optional
        At most this many regions may change territory versus ``current``.
    locked : mapping region_id -> territory, optional
        Regions that must stay in the given territory.
    capacity : mapping, optional
        Attribute -> largest sum one territory may carry.
    edge_weight : str, optional
        Edge attribute giving the length of a border for ``"cut_edges"``; every edge
        must carry it (island bridges count 1).
    bridge_islands : bool
        When the region graph is disconnected, join each island to its nearest
        neighbour (:meth:`ChannelNetwork.with_bridged_islands`) instead of raising.
    method : {"exact", "heuristic", "cut_and_price"}
        ``"exact"`` solves the MILP (warm-started by the heuristic); ``"cut_and_price"``
        runs the exact path with a root cut-and-price stage first (:mod:`.cutprice`: the
        set-partitioning master over connected balanced territories, subset-row cuts,
        exact pricing by root), for contiguous ``"cut_edges"`` with interchangeable
        territories (no centres, current alignment or locks) where the MILP's bound is
        weak: many territories on a few dozen regions. Measured: Alabama (67 counties,
        k=7) is proven in 738-887 CPU s, where the MILP alone ends 55/44 at 1,800 s; on
        Oklahoma (k=5) it is 6x slower than ``"exact"``, whose MILP proves it in 31 s.
        The stage gets 0.8 of the time left after the warm start (600 s without a
        ``time_limit``); the MILP runs after it if it does not prove the plan. ``"heuristic"``
        returns the construction + local search plan (large graphs) with a bound valid
        for the full problem (free-centre compactness: the balanced p-median Lagrangian;
        otherwise counting, e.g. the ``k - 1`` lightest borders), so its gap stays honest.
        On the synthetic 2,800-county map, k=60, 5%: gap 4.7% in under 4 minutes.
    heuristic_seconds : float
        Time for the heuristic: multi-start construction plus local search and, for
        ``"compactness"`` with free centres, location-allocation rounds (regions assigned
        to fixed centres, then each centre moves to its territory's median). Above 200
        regions the assignment is the balanced LP, rounded, with contiguity repaired and
        centre kicks between descents (china, 340 regions: 6.88e6 to 5.76e6 in 30 s);
        below, a small MIP, contiguous by distance chains and then exactly. With
        ``method="exact"`` it gets at most a quarter of ``time_limit``.
    seed : int
        Seed of the heuristic.
    centre_candidates : int, optional
        With free centres, a region may only join a centre among its
        ``centre_candidates`` nearest regions. This shrinks the p-median MILP from
        ``n^2`` pairs to ``n x centre_candidates``. ``build`` then runs the heuristic,
        and its plan's pairs are always kept, so the restricted model starts from that
        plan. The restricted model's own bound proves nothing for the full problem, so
        the plan reports a bound valid for every pair instead (the unrestricted LP up to
        ``LP_BOUND_MAX_PAIRS`` pairs, else a nearest-distance count) and is "optimal"
        only when that bound proves it; otherwise its termination is ``"restricted"`` when
        the restricted model was solved to its end, and the solve's own (``"time_limit"``,
        ``"interrupted"``) when that stopped it. When the restriction leaves no plan, it is
        dropped and the full model is solved (never reported as a balance problem).
        ``None`` (default) allows every pair.

    Raises
    ------
    SettingsError
        Unknown objective, attribute or region id; a disconnected graph with
        ``contiguity=True`` and ``bridge_islands=False`` (the message lists the
        components).
    InfeasibleError
        No plan meets the balance bounds; the message names the attribute and the
        tightest tolerance found.

    Notes
    -----
    The solve runs the heuristic (a quarter of ``time_limit`` at most), then the MILP
    from its plan, all inside ``time_limit``; building happens before. With free centres
    (``compactness``) and a time limit, HiGHS first gets a fifth of the exact search's
    time; when it has not improved the heuristic's plan (or its gap is above 1%), the
    rest goes to the heuristic, run as ``method="heuristic"`` runs it, and the better
    plan is kept (china, k=12, 120 s: HiGHS never improved the warm start there). The
    bound stage then uses the time left: the balanced p-median Lagrangian, then
    branching on centres, which lifts it above the LP. With
    interchangeable territories the labelling model keeps each partition once: slots
    are ordered by their first region in load order, with O(n k) running-sum rows, and
    roots the balance bounds rule out are fixed (see :mod:`.labelling`). HiGHS 1.16
    cannot add rows inside its own search from Python (:mod:`.callbacks`), so the
    separator rows of free-centre compactness are added between warm-started solves.
    For contiguous ``cut_edges`` on a connected planar map (:mod:`.planar`), the first
    plan is carved one territory at a time along short dual cycles (with ``k >= 3``
    then improved by re-splitting groups of neighbouring territories, :mod:`.improve`), and with ``k=2``
    the shortest balanced closed dual walk bounds the cut, which often proves the plan
    before the MILP starts; with ``k=3`` the bound follows how three parts can sit (two
    strips, three boundaries meeting at the outer face, one part enclosed), and plans
    are traced from that search.

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

    Build once, change the problem, then solve (the model itself keeps nothing):

    >>> built = co.TerritoryDesign(k=2, objective="cut_edges", balance={"pop": (6, 6)}).build(net)
    >>> built.solve(co.Solver("highs")).objective
    3.0
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

    # ------------------------------------------------------------------ contract
    def solve(self, network=None, solver: Solver | None = None, *, warm_start: bool = True) -> Plan:
        """Build and solve on one clock: with ``centre_candidates`` the heuristic in ``build`` is charged too.

        Raises
        ------
        InfeasibleError, NoSolutionError
            As for :meth:`TerritoryBuilt.solve`.
        """
        solver = (solver or Solver()).start_clock() if isinstance(solver, Solver | None) else solver
        return self._build_on(network, solver, warm_start).solve(solver, warm_start=warm_start)

    def build(self, network=None) -> TerritoryBuilt:
        """Check the settings against ``network`` and build the MILP; nothing is kept on the model.

        With ``centre_candidates`` the heuristic runs here (its plan's pairs stay in
        the restricted model); otherwise it runs at solve time as the warm start.

        Returns
        -------
        TerritoryBuilt
            ``.arrays`` holds the rows as blocks; ``.problem`` materialises the PuLP
            problem on first use, open to added rows; ``.solve(solver)`` returns the
            :class:`~channelopt.Plan`.

        Raises
        ------
        SettingsError, InfeasibleError
            As for :meth:`solve`: bad settings, or totals that rule out the balance.
        """
        return self._build_on(network, None)

    def _build_on(self, network, solver: Solver | None, warm_start: bool = False) -> TerritoryBuilt:
        """``build``; a started ``solver`` clock bounds the heuristic run here.

        The heuristic runs before the MILP is built when ``centre_candidates`` needs its
        plan, and on the solve path (``solver`` given, ``warm_start``): building the MILP
        can take most of a short limit (china, k=12: 0.8 s of 1 s), and the first plan
        must come from the heuristic within its share of the limit, not after the build.
        """
        cc = self.centre_candidates
        if cc is not None and not (isinstance(cc, (int, np.integer)) and not isinstance(cc, bool) and cc >= 1):
            raise SettingsError(
                f"centre_candidates must be a positive integer (nearest centres per region) or None, got {cc!r}."
            )
        d = prepare(self, network)
        free_centres = self.objective == "compactness" and d.centres is None
        if free_centres and d.current is not None:
            raise SettingsError(
                "objective='compactness' with a current alignment needs fixed centres= "
                "(territory -> centre region); or use objective='disruption'."
            )
        check_totals(self, d)
        state: dict[str, Any] = {"data": d}
        ap = ArrayProblem(self.kind, self.sense)
        heuristic_seconds = 0.0
        restricted = self.method in ("exact", "cut_and_price") and free_centres and cc is not None and cc < d.n
        if restricted or (self.method in ("exact", "cut_and_price") and warm_start and isinstance(solver, Solver)):
            t0 = time.perf_counter()
            seconds, hsolver = self.heuristic_seconds, Solver()
            if isinstance(solver, Solver):
                hsolver = solver
                if solver.remaining() is not None:
                    # the same share of the one clock as the warm start at solve time (search.HEURISTIC_SHARE)
                    hsolver = solver.share(HEURISTIC_SHARE)
                    seconds = min(seconds, hsolver.remaining())
            hres = warm_start_plan(self, d, hsolver, seconds)
            heuristic_seconds = time.perf_counter() - t0
            state.update(heuristic=hres, heuristic_seconds=heuristic_seconds)
        if self.method in ("exact", "cut_and_price") and free_centres:
            seed = None
            if restricted and respects_rules(self, d, state["heuristic"]):
                hres = state["heuristic"]
                seed = (hres.label, hres.centres)
            t0 = time.perf_counter()
            pv, pc = pairs(d, cc, seed)
            state.update(build_pmedian(self, d, ap, pv, pc))
            state["restricted"] = len(pv) < d.n * d.n
        else:
            t0 = time.perf_counter()
            if self.method in ("exact", "cut_and_price"):
                state.update(build_labelling(self, d, ap, solver=solver if isinstance(solver, Solver) else None))
        built = TerritoryBuilt(self, network, None, state, time.perf_counter() - t0, arrays=ap)
        if _build_path() == "pulp":
            built.problem  # noqa: B018 - the before/after benchmark's PuLP objects
            built.build_seconds = time.perf_counter() - t0
        return built

    def _extract(self, net, state: dict[str, Any], info: SolveInfo) -> Plan:
        d = state["data"]
        label, centres = read_plan(d, state)
        return assemble_plan(self, d, label, centres, info, state)

    def _diagnose(self, net, state: dict[str, Any]) -> list[str]:
        return reasons(self, state["data"])
