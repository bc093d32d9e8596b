"""Why a territory problem is infeasible: cheap checks before building, and the message after."""

from __future__ import annotations

import numpy as np

from ...exceptions import InfeasibleError, format_ids
from . import heuristics as heur
from .allocation import tightest
from .data import TerritoryData, adj_weights

__all__ = ["heuristic_problem", "check_totals", "reasons", "balance_message"]


def heuristic_problem(model, d: TerritoryData, lower=None, upper=None) -> heur.Problem:
    """The heuristics' view of ``d`` under ``model``'s settings (optionally other balance bounds)."""
    return heur.Problem(
        adj=d.adj,
        k=d.k,
        loads=d.loads,
        lower=d.lower if lower is None else lower,
        upper=d.upper if upper is None else upper,
        objective=model.objective,
        weights=d.weights,
        dist=d.dist,
        fixed_centres=d.centres,
        current=d.current,
        locked=d.locked,
        max_changes=model.max_changes,
        contiguity=model.contiguity,
        edge_weight=adj_weights(d) if model.edge_weight else None,
    )


def check_totals(model, d: TerritoryData) -> None:
    """Raise before building when totals alone rule out the balance or capacity bounds."""
    found = []
    for p, name in enumerate(d.attrs):
        a = d.loads[:, p]
        total, lo, hi = a.sum(), d.lower[p], d.upper[p]
        if total > d.k * hi + 1e-9:
            found.append(f"{name}: the total {total:.6g} exceeds k x upper bound = {d.k} x {hi:.6g}")
        if total < d.k * lo - 1e-9:
            found.append(f"{name}: the total {total:.6g} is below k x lower bound = {d.k} x {lo:.6g}")
        big = np.flatnonzero(a > hi + 1e-9)
        if len(big):
            found.append(
                f"{name}: region(s) {format_ids([d.ids[i] for i in big])} alone carry "
                f"{a[big].max():.6g} > the upper bound {hi:.6g}"
            )
    if found:
        raise InfeasibleError(balance_message(model, d, found), reasons=found)


def reasons(model, d: TerritoryData) -> list[str]:
    """The rules that together have no plan (the solver proved it for the full model)."""
    out = []
    for p, name in enumerate(d.attrs):
        out.append(
            f"no {'contiguous ' if model.contiguity else ''}plan keeps every territory's {name} within "
            f"[{d.lower[p]:.6g}, {d.upper[p]:.6g}]"
        )
    if model.max_changes is not None:
        out.append(f"at most {model.max_changes} region(s) may change territory")
    if d.locked is not None:
        out.append(f"{int((d.locked >= 0).sum())} region(s) are locked")
    return out or ["the locks, centres and contiguity cannot all hold"]


def balance_message(model, d: TerritoryData, found: list[str]) -> str:
    """Explain an infeasible balance: name the attribute and the tightest tolerance found."""
    parts = ["TerritoryDesign is infeasible: " + "; ".join(found)]
    if d.attrs:
        pb = heuristic_problem(model, d, lower=np.zeros(len(d.attrs)), upper=np.full(len(d.attrs), np.inf))
        # search for the most balanced plan by shrinking the bounds around the mean
        best = tightest(pb, d, seconds=min(5.0, model.heuristic_seconds), seed=model.seed)
        for p, name in enumerate(d.attrs):
            mean = d.loads[:, p].sum() / d.k
            parts.append(
                f"the tightest {name} tolerance found is {best[p]:.2%} around the mean {mean:.6g} "
                f"(bounds {(1 - best[p]) * mean:.6g}..{(1 + best[p]) * mean:.6g})"
            )
    return "; ".join(parts) + "."
