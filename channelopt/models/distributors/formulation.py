"""The MILP of DistributorSelection as array blocks: variables, rows and objective of every objective.

Rows are assembled from numpy index arrays over the allowed links ``(oi, dj)`` and
handed to :class:`~channelopt._arrays.ArrayProblem` a block at a time; no PuLP object
is made unless a user asks for ``built.problem``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..._arrays import ArrayProblem

__all__ = ["build_formulation", "link_state", "links_member", "links_union", "min_loads"]


def min_loads(net) -> np.ndarray:
    """The ``min_load`` column of the distributors table (0 where absent): a contracted minimum volume."""
    if not net._has_column("distributors", "min_load"):
        return np.zeros(net._count("distributors"))
    return np.nan_to_num(pd.to_numeric(net.distributors["min_load"], errors="coerce").to_numpy(dtype=float), nan=0.0)


def links_member(oi: np.ndarray, dj: np.ndarray, links: tuple[np.ndarray, np.ndarray], m: int) -> np.ndarray:
    """Whether each pair ``(oi[k], dj[k])`` is one of ``links`` (given by outlet, then distributor)."""
    key = links[0].astype(np.int64) * m + links[1]
    query = np.asarray(oi, dtype=np.int64) * m + dj
    if not len(key):
        return np.zeros(len(query), dtype=bool)
    pos = np.minimum(np.searchsorted(key, query), len(key) - 1)
    return key[pos] == query


def links_union(links: tuple[np.ndarray, np.ndarray], oi: np.ndarray, dj: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``links`` and the pairs ``(oi, dj)`` (not among them), by outlet, then distributor."""
    w_oi, w_dj = np.r_[links[0], oi], np.r_[links[1], dj]
    order = np.lexsort((w_dj, w_oi))
    return w_oi[order], w_dj[order]


def link_state(model, net, allowed: tuple[np.ndarray, np.ndarray] | None = None,
               close_idle: bool | None = None) -> dict[str, Any]:
    """The links and per-distributor arrays of ``model`` on ``net``, without any variable or row.

    The part of :func:`build_formulation`'s state that the radius strategies need (they
    build their own problems); ``allowed`` and ``close_idle`` as there.
    """
    narrowed = allowed is not None if close_idle is None else close_idle
    oi, dj = model._allowed(net) if allowed is None else allowed
    n, m = net._count("outlets"), net._count("distributors")
    forced = model._forced_open(net)
    excluded = model._excluded(net)
    if narrowed:
        # a distributor the narrowing left without links can only add fixed cost: keep it closed
        excluded = excluded | ((np.bincount(dj, minlength=m) == 0) & ~forced)
    column = net._column
    return {"oi": oi, "dj": dj, "cost": net.link_costs(oi, dj), "demand": column("outlets", "demand", float),
            "capacity": column("distributors", "capacity", float), "fixed": column("distributors", "fixed_cost", float),
            "forced": forced, "excluded": excluded, "existing": column("distributors", "existing", bool),
            "n": n, "m": m}


def build_formulation(model, net, ap: ArrayProblem, allowed: tuple[np.ndarray, np.ndarray] | None = None,
                      close_idle: bool | None = None, relax: bool = False) -> dict[str, Any]:
    """Add the variables, rows and objective of ``model`` on ``net`` to ``ap``; return the state.

    ``allowed`` (links ``(oi, dj)``, by outlet then distributor) narrows the links; with
    ``close_idle`` (the default when ``allowed`` is given: the Lagrangian strategy) a
    distributor left without links is kept closed.
    ``relax`` makes every variable continuous (the LP relaxation).
    """
    base = link_state(model, net, allowed, close_idle)
    oi, dj, cost, demand, capacity = base["oi"], base["dj"], base["cost"], base["demand"], base["capacity"]
    fixed, forced, excluded, existing, n, m = (base[k] for k in ("fixed", "forced", "excluded", "existing", "n", "m"))
    potential = net._column("outlets", "potential", float)
    serve_all = model._serve_all()
    integer = not relax
    n_links = len(oi)
    ones = np.ones(n_links)
    links = np.arange(n_links)
    obj = model.objective

    y = ap.add_vars("y", m, lower=forced.astype(float), upper=(~excluded).astype(float), integer=integer)
    x = z = w = None
    rows: dict[str, Any] = {}
    loads = min_loads(net) if obj not in ("backup_coverage", "p_dispersion") else np.zeros(m)
    if model._uses_assignment() or loads.any():
        x = ap.add_vars("x", n_links, upper=1.0, integer=integer and model.single_source)
        if serve_all:
            rows["assign"] = ap.add_rows("assign", rows=oi, cols=x.index, sense="==", rhs=1.0, n_rows=n,
                                         skip_empty=True)
        else:
            # an outlet is served whole or not at all: z_i = sum_j x_ij, z binary
            z = ap.add_vars("z", n, upper=1.0, integer=integer)
            rows["assign"] = ap.add_rows("assign", rows=np.r_[oi, np.arange(n)], cols=np.r_[x.index, z.index],
                                         coefs=np.r_[ones, -np.ones(n)], sense="==", rhs=0.0, n_rows=n)
        if model.linking == "strong":
            ap.add_rows("link", rows=np.r_[links, links], cols=np.r_[x.index, y[dj]],
                        coefs=np.r_[ones, -ones], sense="<=", rhs=0.0, n_rows=n_links)
        else:
            counts = np.bincount(dj, minlength=m).astype(float)
            ap.add_rows("wlink", rows=np.r_[dj, np.arange(m)], cols=np.r_[x.index, y.index],
                        coefs=np.r_[ones, -counts], sense="<=", rhs=0.0, n_rows=m)
        if model.capacitated:
            finite = np.flatnonzero(np.isfinite(capacity))
            group_of = np.full(m, -1)
            group_of[finite] = np.arange(len(finite))
            sel = group_of[dj] >= 0
            rows["cap"] = ap.add_rows("cap", rows=np.r_[group_of[dj[sel]], np.arange(len(finite))],
                                      cols=np.r_[x[sel], y[finite]],
                                      coefs=np.r_[demand[oi[sel]], -capacity[finite]],
                                      sense="<=", rhs=0.0, n_rows=len(finite))
            rows["cap_of"] = finite
            if serve_all:
                _add_capacity_cuts(ap, y, capacity, demand, excluded)
        bound = np.flatnonzero(loads > 0)
        if len(bound):
            # an open distributor carries at least its contracted minimum volume
            group_of = np.full(m, -1)
            group_of[bound] = np.arange(len(bound))
            sel = group_of[dj] >= 0
            ap.add_rows("min_load", rows=np.r_[group_of[dj[sel]], np.arange(len(bound))],
                        cols=np.r_[x[sel], y[bound]], coefs=np.r_[demand[oi[sel]], -loads[bound]],
                        sense=">=", rhs=0.0, n_rows=len(bound))
        if obj == "p_center":
            dist = model._link_distances(net, oi, dj)
            w = ap.add_vars("max_distance", 1, cost=1.0)
            ap.add_rows("radius", rows=np.r_[oi, np.arange(n)], cols=np.r_[x.index, np.full(n, w.start)],
                        coefs=np.r_[dist, -np.ones(n)], sense="<=", rhs=0.0, n_rows=n)
        if model.max_per_region is not None:
            _add_region_cap(model, net, ap, x, oi, dj, m, integer)
    elif obj == "p_dispersion":
        # max D with D <= d_jk + M (2 - y_j - y_k) for every pair of candidates
        xy = net.distributor_xy()
        dd = net.point_distances(xy, xy)  # km, like every distance setting
        usable = np.flatnonzero(~excluded)
        a, b = np.triu_indices(len(usable), 1)
        ja, jb = usable[a], usable[b]
        big = float(dd[ja, jb].max(initial=0.0))
        w = ap.add_vars("min_distance", 1, upper=big, cost=1.0)
        k = np.arange(len(ja))
        ap.add_rows("spread", rows=np.r_[k, k, k], cols=np.r_[np.full(len(k), w.start), y[ja], y[jb]],
                    coefs=np.r_[np.ones(len(k)), np.full(2 * len(k), big)], sense="<=",
                    rhs=dd[ja, jb] + 2 * big, n_rows=len(k))
    elif obj == "backup_coverage":
        # LSCP-B: every outlet covered once; u_i = 1 only with a second open distributor in range
        z = ap.add_vars("backup", n, upper=1.0, integer=integer, cost=1.0)
        reach = np.bincount(oi, minlength=n)
        ap.set_bounds(z.index[reach < 2], upper=0.0)
        rows["assign"] = ap.add_rows("cover", rows=np.r_[oi, np.arange(n)], cols=np.r_[y[dj], z.index],
                                     coefs=np.r_[ones, -np.ones(n)], sense=">=", rhs=1.0, n_rows=n)
    elif serve_all:  # set_cover: every outlet within reach of an open distributor
        rows["assign"] = ap.add_rows("cover", rows=oi, cols=y[dj], sense=">=", rhs=1.0, n_rows=n, skip_empty=True)
    else:
        z = ap.add_vars("z", n, upper=1.0)
        rows["assign"] = ap.add_rows("cover", rows=np.r_[oi, np.arange(n)], cols=np.r_[y[dj], z.index],
                                     coefs=np.r_[-ones, np.ones(n)], sense="<=", rhs=0.0, n_rows=n)

    spec = model._coverage_spec()
    if spec is not None and z is not None and obj != "backup_coverage":
        _add_coverage_floor(net, ap, z, spec)
    if model.p is not None:  # backup_coverage gets its count from set_cover at solve time
        ap.add_row("p", y.index, 1.0, "==", float(model.p))
    if model.budget is not None:
        ap.add_row("budget", y.index, fixed, "<=", float(model.budget))
    new = ~existing
    if model.max_new is not None:
        ap.add_row("max_new", y[new], 1.0, "<=", float(model.max_new))
    if model.max_new_cost is not None:
        ap.add_row("max_new_cost", y[new], fixed[new], "<=", float(model.max_new_cost))

    if obj in ("min_cost", "p_median"):
        ap.add_cost(x.index, cost)
        if obj == "min_cost":
            ap.add_cost(y.index, fixed)
    elif obj == "set_cover":
        ap.add_cost(y.index, fixed if model.set_cover_cost == "fixed_cost" else 1.0)
    elif obj == "max_coverage":
        weight = demand if model.coverage_weight == "demand" else potential
        ap.add_cost(z.index, weight)
    return {"oi": oi, "dj": dj, "x": x, "y": y, "z": z, "cost": cost, "demand": demand,
            "capacity": capacity, "fixed": fixed, "forced": forced, "excluded": excluded,
            "existing": existing, "n": n, "m": m, "w": w, "rows": rows, "min_load": loads if loads.any() else None}


def _add_capacity_cuts(ap, y, capacity, demand, excluded) -> None:
    """Valid rows when all demand is served: open capacity covers it, so at least k open.

    The LP relaxation opens fractions (load / capacity); these rows let the solver see
    that a whole k distributors are needed. Measured on OR-Library capa@8000 (50,886
    units, capacities 8,000): the root bound of the plain model sits 2.2% below the
    optimum, which the count row (>= 7 open) largely closes.
    """
    usable = ~excluded
    cap = capacity[usable]
    if not len(cap) or not np.isfinite(cap).all():
        return
    total = float(demand.sum())
    ap.add_row("capacity_total", y[usable], cap, ">=", total * (1 - 1e-9))
    ordered = np.cumsum(np.sort(cap)[::-1])
    k_min = int(np.searchsorted(ordered, total * (1 - 1e-9))) + 1
    if 1 < k_min <= len(cap):
        ap.add_row("min_open", y[usable], 1.0, ">=", float(k_min))


def _add_region_cap(model, net, ap, x, oi, dj, m, integer) -> None:
    # u_rj = 1 when distributor j serves any outlet of region r; sum_j u_rj <= max_per_region
    region = net.outlet_region_index[oi]
    key = region.astype(np.int64) * m + dj
    pairs, group = np.unique(key, return_inverse=True)
    u = ap.add_vars("u", len(pairs), upper=1.0, integer=integer)
    size = np.bincount(group, minlength=len(pairs)).astype(float)
    ap.add_rows("use", rows=np.r_[group, np.arange(len(pairs))], cols=np.r_[x.index, u.index],
                coefs=np.r_[np.ones(len(group)), -size], sense="<=", rhs=0.0, n_rows=len(pairs))
    pair_region = pairs // m
    ap.add_rows("per_region", rows=pair_region, cols=u.index, sense="<=", rhs=float(model.max_per_region),
                n_rows=len(net.region_ids), skip_empty=True)


def _add_coverage_floor(net, ap, z, spec) -> None:
    value, measure, by = spec
    outlets = net.outlets
    weight = np.ones(len(outlets)) if measure == "numeric" else outlets["potential"].to_numpy(dtype=float)
    if by == "overall":
        groups = np.zeros(len(outlets), dtype=np.int64)
    else:
        col = outlets["region_id"] if by == "region" else outlets["channel"]
        groups = pd.factorize(col)[0]
    n_groups = int(groups.max()) + 1 if len(groups) else 0
    rhs = value * np.bincount(groups, weights=weight, minlength=n_groups)
    ap.add_rows(f"coverage_{by}", rows=groups, cols=z.index, coefs=weight, sense=">=",
                rhs=rhs - 1e-9 * np.maximum(rhs, 1.0), n_rows=n_groups, skip_empty=True)
