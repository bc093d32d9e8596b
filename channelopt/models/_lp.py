"""Vectorised PuLP building blocks: Python works once per row, never once per zero."""

from __future__ import annotations

import numpy as np
import pulp

__all__ = ["new_vars", "linear", "add_row", "add_grouped_rows"]

_SENSE = {"<=": pulp.LpConstraintLE, ">=": pulp.LpConstraintGE, "==": pulp.LpConstraintEQ}


def new_vars(prob: pulp.LpProblem, name: str, n: int, *, low: float | None = 0.0, up: float | None = None,
             cat: str = pulp.LpContinuous) -> np.ndarray:
    """``n`` variables named ``name_0 .. name_{n-1}`` as an object array."""
    if cat == pulp.LpBinary:
        # PuLP resets a binary's bounds to [0, 1]; keep the caller's (e.g. a forced 1).
        cat = pulp.LpInteger
        low = 0.0 if low is None else max(0.0, low)
        up = 1.0 if up is None else min(1.0, up)
    out = np.empty(n, dtype=object)
    add = prob.add_variable
    for i in range(n):
        out[i] = add(f"{name}_{i}", low, up, cat)
    return out


def linear(variables, coefs=None, constant: float = 0.0) -> pulp.LpAffineExpression:
    """``sum(coef * var) + constant`` built in one call (coefficients as Python floats)."""
    variables = list(variables)
    if coefs is None:
        expr = pulp.LpAffineExpression(dict.fromkeys(variables, 1.0))
    else:
        expr = pulp.LpAffineExpression(zip(variables, np.asarray(coefs, dtype=float).tolist()))
    if constant:
        expr.constant = float(constant)
    return expr


def add_row(prob: pulp.LpProblem, variables, coefs, sense: str, rhs: float, name: str) -> pulp.LpConstraint:
    con = pulp.LpConstraint(linear(variables, coefs), _SENSE[sense], name, float(rhs))
    prob.addConstraint(con)
    return con


def add_grouped_rows(
    prob: pulp.LpProblem,
    variables: np.ndarray,
    coefs,
    groups: np.ndarray,
    n_groups: int,
    sense: str,
    rhs,
    name: str,
    *,
    extra_vars=None,
    extra_coefs=None,
    skip_empty: bool = True,
) -> dict[int, pulp.LpConstraint]:
    """One row per group ``g``: ``sum_{k in g} coef_k var_k (+ extra_coef_g extra_var_g) sense rhs_g``.

    ``groups`` holds each variable's group number in ``[0, n_groups)``. Variables are
    sorted by group once (numpy), then each row is one ``LpAffineExpression`` call.
    """
    variables = np.asarray(variables, dtype=object)
    groups = np.asarray(groups, dtype=np.int64)
    n = len(variables)
    coefs = np.ones(n) if coefs is None else np.broadcast_to(np.asarray(coefs, dtype=float), n)
    rhs = np.broadcast_to(np.asarray(rhs, dtype=float), n_groups)
    order = np.argsort(groups, kind="stable")
    bounds = np.searchsorted(groups[order], np.arange(n_groups + 1))
    var_sorted = variables[order].tolist()
    coef_sorted = coefs[order].tolist()
    sense_code = _SENSE[sense]
    out = {}
    rhs_list = rhs.tolist()
    ev = None if extra_vars is None else list(extra_vars)
    ec = None if extra_coefs is None else np.broadcast_to(np.asarray(extra_coefs, dtype=float), n_groups).tolist()
    for g in range(n_groups):
        lo, hi = bounds[g], bounds[g + 1]
        if lo == hi and skip_empty and ev is None:
            continue
        terms = list(zip(var_sorted[lo:hi], coef_sorted[lo:hi]))
        if ev is not None and ev[g] is not None:
            terms.append((ev[g], ec[g]))
        con = pulp.LpConstraint(pulp.LpAffineExpression(terms), sense_code, f"{name}_{g}", rhs_list[g])
        prob.addConstraint(con)
        out[g] = con
    return out


def values(variables) -> np.ndarray:
    """Solution values of an object array of variables, or of a ``VarBlock`` (NaN where unset)."""
    from .._arrays import VarBlock

    if isinstance(variables, VarBlock):
        return variables.value
    return np.array([np.nan if v.varValue is None else v.varValue for v in variables], dtype=float)
