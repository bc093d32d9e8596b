"""evaluate_partners: the standard partner KPIs of a network (and a sales history), rated and tiered."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..exceptions import ValidationError, format_ids
from ..solver import Solver
from .dea import PartnerEvaluation

__all__ = ["partner_kpis", "evaluate_partners"]

_HISTORY_COLUMNS = ("distributor_id", "period", "sales")


def _areas(net) -> np.ndarray:
    """Position of each outlet's nearest distributor allowed to sell its channel (-1: none)."""
    from ..datasets._partner_history import partner_areas

    return partner_areas(net)


def partner_kpis(net, history: pd.DataFrame | None = None, *, window: int = 12) -> pd.DataFrame:
    """The standard KPIs of every distributor of ``net``, one row per ``distributor_id``.

    Parameters
    ----------
    net : ChannelNetwork
        Reads ``distributors`` (``distributor_id``, ``region_id``, ``fixed_cost``, and
        ``capacity`` / ``staff`` when present) and ``outlets`` (``demand``, ``potential``).
        A distributor's *area* is the outlets for which it is the nearest distributor
        allowed to sell their channel.
    history : DataFrame, optional
        Sales per partner and period: ``distributor_id``, ``period`` (sortable, e.g.
        ``YYYY-MM``), ``sales``, and optionally ``active_outlets``, ``active_potential``
        and ``staff``. See :func:`channelopt.datasets.load_partner_history`.
    window : int, default 12
        Periods summed into ``sales`` (the latest ones); ``growth`` compares them with the
        window before (or, with a shorter history, the later half with the earlier half).

    Returns
    -------
    DataFrame
        Inputs: ``fixed_cost``, ``capacity``, ``staff`` (those available). Outputs:
        ``load`` (demand of the area) and ``area_outlets`` without history; with
        history ``sales``, ``outlets_served`` (mean active outlets), ``weighted_distribution``
        (mean active potential / area potential) and ``growth`` (ratio, 1 = flat).
        Also ``region_id``, ``area_potential``.
    """
    dists, outlets = net.distributors, net.outlets
    if dists is None or outlets is None:
        raise ValidationError("partner_kpis needs a network with outlets and distributors.")
    ids = dists["distributor_id"]
    out = pd.DataFrame(index=pd.Index(ids.to_numpy(), name="distributor_id"))
    if "name" in dists.columns:
        out["name"] = dists["name"].to_numpy()
    out["region_id"] = dists["region_id"].to_numpy() if "region_id" in dists.columns else None
    for col in ("fixed_cost", "capacity", "staff"):
        if col in dists.columns:
            out[col] = pd.to_numeric(dists[col], errors="coerce").to_numpy(dtype=float)
    area = _areas(net)
    inside = area >= 0
    m = len(dists)
    out["area_outlets"] = np.bincount(area[inside], minlength=m)
    out["area_potential"] = np.bincount(area[inside], weights=outlets["potential"].to_numpy(dtype=float)[inside],
                                        minlength=m)
    out["load"] = np.bincount(area[inside], weights=outlets["demand"].to_numpy(dtype=float)[inside], minlength=m)
    if history is None:
        return out
    if not isinstance(history, pd.DataFrame):
        raise ValidationError(f"history must be a DataFrame, got {type(history).__name__}.")
    missing = [c for c in _HISTORY_COLUMNS if c not in history.columns]
    if missing:
        raise ValidationError(f"history lacks column(s) {missing}; it needs one row per distributor_id and period "
                              f"with sales (optional: active_outlets, active_potential, staff).", column=missing[0])
    unknown = sorted(set(history["distributor_id"]) - set(ids), key=str)
    if unknown:
        raise ValidationError(f"history names distributors {format_ids(unknown)} that the network does not have.",
                              column="distributor_id", ids=unknown)
    sales = pd.to_numeric(history["sales"], errors="coerce")
    bad = np.flatnonzero(~np.isfinite(sales.to_numpy(dtype=float)) | (sales.to_numpy(dtype=float) < 0))
    if len(bad):
        raise ValidationError(f"history.sales must be non-negative numbers; rows {format_ids(bad.tolist())} are not.",
                              column="sales", ids=bad.tolist())
    periods = sorted(history["period"].unique().tolist())
    last = periods[-window:]
    if len(periods) >= 2 * window:
        before = periods[-2 * window:-window]
    else:
        half = len(periods) // 2
        last, before = periods[len(periods) - half:], periods[:half]
    h = history.assign(sales=sales)
    recent = h[h["period"].isin(periods[-window:])]
    out["sales"] = recent.groupby("distributor_id")["sales"].sum().reindex(out.index).fillna(0.0)
    now = h[h["period"].isin(last)].groupby("distributor_id")["sales"].sum().reindex(out.index).fillna(0.0)
    base = h[h["period"].isin(before)].groupby("distributor_id")["sales"].sum().reindex(out.index).fillna(0.0)
    # Growth as a ratio (1 = flat) keeps it non-negative, as a DEA output must be; no base: flat.
    out["growth"] = np.where(base > 0, now / base.where(base > 0, 1.0), 1.0)
    if "active_outlets" in h.columns:
        out["outlets_served"] = recent.groupby("distributor_id")["active_outlets"].mean().reindex(out.index).fillna(0)
    if "active_potential" in h.columns:
        served = recent.groupby("distributor_id")["active_potential"].mean().reindex(out.index).fillna(0.0)
        out["weighted_distribution"] = np.where(out["area_potential"] > 0,
                                                served / out["area_potential"].where(out["area_potential"] > 0, 1.0),
                                                0.0)
    if "staff" in h.columns and "staff" not in out.columns:
        out["staff"] = recent.groupby("distributor_id")["staff"].mean().reindex(out.index)
    return out


def evaluate_partners(
    net,
    history: pd.DataFrame | None = None,
    *,
    inputs: Sequence[str] | None = None,
    outputs: Sequence[str] | None = None,
    returns_to_scale: str = "vrs",
    orientation: str = "output",
    super_efficiency: bool = False,
    weight_bounds: Mapping | None = None,
    tiers: Mapping | None = None,
    window: int = 12,
    solver: Solver | None = None,
) -> pd.DataFrame:
    """Rate and tier every distributor of ``net``: :func:`partner_kpis`, then :class:`PartnerEvaluation`.

    Parameters
    ----------
    net : ChannelNetwork
    history : DataFrame, optional
        Sales per partner and period (see :func:`partner_kpis`).
    inputs, outputs : sequence of str, optional
        KPI columns to rate on. Default inputs: ``fixed_cost``, ``capacity`` and ``staff``
        (those present); default outputs: ``sales``, ``outlets_served``,
        ``weighted_distribution`` and ``growth`` with a history, else ``load`` and
        ``area_outlets``.
    returns_to_scale, orientation, super_efficiency, weight_bounds, tiers
        As in :class:`PartnerEvaluation` (default: VRS, output orientation: how much more
        could each partner sell with what it has, against partners of its size).
    window : int
        Periods of history per KPI (see :func:`partner_kpis`).
    solver : Solver, optional

    Returns
    -------
    DataFrame
        Indexed by ``distributor_id``: the KPIs, then ``efficiency``, ``expansion``,
        ``status``, ``reason``, ``peers``, ``target_<kpi>``, ``slack_<kpi>`` and ``tier``.

    Examples
    --------
    >>> import channelopt as co
    >>> net = co.load_example("nc")
    >>> ev = co.evaluate_partners(net, co.load_partner_history("nc"))
    >>> ev.index.name, len(ev), sorted(ev["tier"].unique().tolist())
    ('distributor_id', 15, ['A', 'B', 'C'])
    """
    kpis = partner_kpis(net, history, window=window)
    if inputs is None:
        inputs = [c for c in ("fixed_cost", "capacity", "staff") if c in kpis.columns and kpis[c].notna().all()]
    if outputs is None:
        outputs = (["sales", "outlets_served", "weighted_distribution", "growth"] if history is not None
                   else ["load", "area_outlets"])
        outputs = [c for c in outputs if c in kpis.columns]
    model = PartnerEvaluation(inputs=list(inputs), outputs=list(outputs), returns_to_scale=returns_to_scale,
                              orientation=orientation, super_efficiency=super_efficiency,
                              weight_bounds=weight_bounds, tiers=tiers)
    ev = model.evaluate(kpis, solver=solver)
    out = kpis.join(ev)
    out.attrs.update(ev.attrs)
    if history is not None and history.attrs.get("synthetic"):
        out.attrs["synthetic_history"] = history.attrs.get("source", True)
    return out
