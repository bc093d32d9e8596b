"""assign_tiers: sort partners into tiers (分层分级) by thresholds, quantiles, ABC, a 2x2 matrix or quotas."""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import pulp

from ..exceptions import InfeasibleError, SettingsError, ValidationError, format_ids
from ..solver import Solver

__all__ = ["assign_tiers", "MATRIX_NAMES"]

#: default names of the 2x2 efficiency x volume matrix:
#: (high, high), (high eff, low vol), (low eff, high vol), (low, low)
MATRIX_NAMES = ("strategic", "develop", "maintain", "review")
_METHODS = ("threshold", "quantile", "abc", "matrix", "quota")


def _numbers(values, what: str) -> pd.Series:
    if isinstance(values, pd.DataFrame):
        raise ValidationError(f"{what} must be one column (a Series), got a DataFrame with columns "
                              f"{list(values.columns)}; pick one, e.g. df['efficiency'].")
    s = pd.Series(values) if not isinstance(values, pd.Series) else values
    num = pd.to_numeric(s, errors="coerce").astype(float)
    bad = num.index[~np.isfinite(num.to_numpy())].tolist()
    if bad:
        raise ValidationError(f"{what} must be finite numbers; {format_ids(bad)} are not. Fill or drop them.",
                              ids=bad)
    return num


def _names(names, k: int, default: Sequence[str]) -> list:
    out = list(default[:k]) if names is None else list(names)
    if len(out) != k:
        raise SettingsError(f"{k} tiers need {k} names, got {len(out)}: {out}.")
    if len(set(out)) != len(out):
        raise SettingsError(f"tier names must differ, got {out}.")
    return out


def _categorical(codes: np.ndarray, names: list, index) -> pd.Series:
    return pd.Series(pd.Categorical.from_codes(codes, categories=names, ordered=True), index=index, name="tier")


def _count(share, n: int, upper: bool, what: str) -> int | None:
    if share is None:
        return None
    if not (isinstance(share, (int, float, np.number)) and 0 <= share <= 1):
        raise SettingsError(f"{what} must be a share in [0, 1] (0.2 means 20%), got {share!r}.")
    # Shares become whole partners: at most floor(share n), at least ceil(share n).
    return int(math.floor(share * n + 1e-9)) if upper else int(math.ceil(share * n - 1e-9))


def assign_tiers(
    values,
    *,
    method: str = "threshold",
    thresholds: Sequence[float] | None = None,
    quantiles: Sequence[float] = (0.2, 0.5),
    shares: Sequence[float] = (0.8, 0.15, 0.05),
    volume=None,
    cuts: tuple[float | None, float | None] | None = None,
    quotas: Mapping | None = None,
    group_quotas: Mapping | None = None,
    groups=None,
    names: Sequence[str] | None = None,
    solver: Solver | None = None,
) -> pd.Series:
    """Tier of every partner, best tier first (an ordered categorical Series named ``tier``).

    Parameters
    ----------
    values : Series
        One number per partner, higher is better (an efficiency, a scorecard ``score``;
        the sales volume for ``"abc"``).
    method : {"threshold", "quantile", "abc", "matrix", "quota"}
        ``"threshold"``: tier 1 where ``value >= thresholds[0]``, tier 2 where
        ``value >= thresholds[1]``, ... (thresholds falling).
        ``"quantile"``: the best ``quantiles[0]`` share of partners by rank (ties share
        the better rank) in tier 1, up to ``quantiles[1]`` in tier 2, the rest below;
        a tier holds the partners ranked within ``floor(q n)``.
        ``"abc"``: partners sorted by ``values`` (sales); A while the cumulative share
        before a partner is below ``shares[0]`` (80%), B below ``shares[0] + shares[1]``
        (95%), C the rest: the partner that crosses 80% is still A.
        ``"matrix"``: 2x2 of ``values`` (efficiency) against ``volume``, high when at or
        above ``cuts`` (default: the medians): strategic (high, high), develop (efficient,
        small), maintain (inefficient, large), review (low, low).
        ``"quota"``: a MILP over tiers that meets ``quotas`` (and ``group_quotas`` in
        each of ``groups``) while maximising agreement with the scores:
        ``sum_i sum_t z_i (K - 1 - t) x_it`` with ``z`` the min-max scaled values, so a
        higher score never sits in a lower tier than a lower score unless a quota forces it.
    thresholds : sequence of float
        For ``"threshold"`` (default ``(1.0, 0.8)``: efficient, near the frontier, the rest).
    quantiles : sequence of float
        Cumulative top shares for ``"quantile"`` (default 20% / 50%).
    shares : sequence of float
        ABC shares of sales (default 80/15/5).
    volume : Series
        Sales or load per partner, for ``"matrix"``.
    cuts : (float or None, float or None)
        Efficiency and volume cuts for ``"matrix"`` (None: the median).
    quotas : mapping tier -> (min share, max share)
        For ``"quota"``: shares of all partners, e.g. ``{"A": (None, 0.2)}``.
    group_quotas : mapping tier -> (min count, max count)
        For ``"quota"``: whole partners within every group, e.g. ``{"A": (1, None)}``: each
        province keeps a top partner.
    groups : Series
        Group of each partner (province, region, channel) for ``group_quotas``.
    names : sequence of str
        Tier names, best first (default A, B, C, ...; the matrix names for ``"matrix"``).
    solver : Solver
        For ``"quota"`` (default HiGHS).

    Returns
    -------
    Series
        Ordered categorical (best tier first), indexed like ``values``, named ``tier``.

    Examples
    --------
    >>> import pandas as pd
    >>> from channelopt.partners import assign_tiers
    >>> eff = pd.Series([1.0, 0.9, 0.7, 0.95, 0.85], index=["d1", "d2", "d3", "d4", "d5"])
    >>> assign_tiers(eff, thresholds=(1.0, 0.8)).tolist()
    ['A', 'B', 'C', 'B', 'B']
    >>> sales = pd.Series([50, 30, 10, 6, 4], index=eff.index)
    >>> assign_tiers(sales, method="abc").tolist()
    ['A', 'A', 'B', 'B', 'C']
    >>> assign_tiers(eff, method="quota", quotas={"A": (None, 0.2), "B": (None, 0.4)}).tolist()
    ['A', 'B', 'C', 'B', 'C']
    """
    method = str(method).lower()
    if method not in _METHODS:
        close = difflib.get_close_matches(method, _METHODS, n=1)
        raise SettingsError(f"method must be one of {list(_METHODS)}, got {method!r}."
                            + (f" Did you mean {close[0]!r}?" if close else ""))
    v = _numbers(values, "values")
    n = len(v)
    x = v.to_numpy()
    if method == "threshold":
        th = [1.0, 0.8] if thresholds is None else [float(t) for t in thresholds]
        if any(a < b for a, b in zip(th, th[1:])):
            raise SettingsError(f"thresholds must fall (best tier first), got {th}.")
        labels = _names(names, len(th) + 1, "ABCDEFGHIJ")
        codes = (x[:, None] < np.array(th)[None, :]).sum(axis=1)
        return _categorical(codes, labels, v.index)
    if method == "quantile":
        qs = [float(q) for q in quantiles]
        if any(not 0 < q <= 1 for q in qs) or any(a >= b for a, b in zip(qs, qs[1:])):
            raise SettingsError(f"quantiles must rise within (0, 1], e.g. (0.2, 0.5); got {qs}.")
        labels = _names(names, len(qs) + 1, "ABCDEFGHIJ")
        rank = v.rank(ascending=False, method="min").to_numpy()
        limits = np.floor(np.array(qs) * n + 1e-9)
        codes = (rank[:, None] > limits[None, :]).sum(axis=1)
        return _categorical(codes, labels, v.index)
    if method == "abc":
        sh = [float(a) for a in shares]
        if any(a <= 0 for a in sh) or abs(sum(sh) - 1.0) > 1e-6:
            raise SettingsError(f"ABC shares must be positive and sum to 1, e.g. (0.8, 0.15, 0.05); got {sh}.")
        if (x < 0).any():
            bad = v.index[x < 0].tolist()
            raise ValidationError(f"ABC needs non-negative sales; {format_ids(bad)} are negative.", ids=bad)
        labels = _names(names, len(sh), "ABCDEFGHIJ")
        total = x.sum()
        if total <= 0:
            raise ValidationError("ABC needs some sales: every value is zero.")
        order = np.argsort(-x, kind="stable")
        before = np.concatenate([[0.0], np.cumsum(x[order])[:-1]]) / total
        bounds = np.cumsum(sh)[:-1]
        codes = np.empty(n, dtype=np.int64)
        codes[order] = (before[:, None] >= bounds[None, :] - 1e-12).sum(axis=1)
        return _categorical(codes, labels, v.index)
    if method == "matrix":
        if volume is None:
            raise SettingsError("method='matrix' needs volume (sales or load per partner) beside the efficiency.")
        vol = _numbers(volume, "volume")
        if not vol.index.equals(v.index):
            vol = vol.reindex(v.index)
            if vol.isna().any():
                miss = v.index[vol.isna().to_numpy()].tolist()
                raise ValidationError(f"volume has no value for partners {format_ids(miss)}.", ids=miss)
        labels = _names(names, 4, MATRIX_NAMES)
        ec, vc = cuts if cuts is not None else (None, None)
        ec = float(np.median(x)) if ec is None else float(ec)
        vc = float(np.median(vol.to_numpy())) if vc is None else float(vc)
        high_e = x >= ec
        high_v = vol.to_numpy() >= vc
        codes = np.where(high_e, np.where(high_v, 0, 1), np.where(high_v, 2, 3))
        return _categorical(codes, labels, v.index)
    return _quota(v, quotas, group_quotas, groups, names, solver)


def _quota(v: pd.Series, quotas, group_quotas, groups, names, solver) -> pd.Series:
    n = len(v)
    keys = list(quotas or {}) + list(group_quotas or {})
    if names is None:
        k = max([3] + [ord(str(t)[0]) - ord("A") + 1 for t in keys if len(str(t)) == 1 and str(t).isupper()])
        labels = list("ABCDEFGHIJ"[:k])
    else:
        labels = _names(names, len(list(names)), list(names))
    K = len(labels)
    for what, spec in (("quotas", quotas), ("group_quotas", group_quotas)):
        for t in (spec or {}):
            if t not in labels:
                close = difflib.get_close_matches(str(t), labels, n=1)
                raise SettingsError(f"{what} names tier {t!r}, not one of {labels}."
                                    + (f" Did you mean {close[0]!r}?" if close else ""))
    lo = np.zeros(K, dtype=np.int64)
    hi = np.full(K, n, dtype=np.int64)
    for t, bounds in (quotas or {}).items():
        a, b = bounds
        k = labels.index(t)
        c = _count(a, n, False, f"quotas[{t!r}] min")
        lo[k] = 0 if c is None else c
        c = _count(b, n, True, f"quotas[{t!r}] max")
        hi[k] = n if c is None else c
    reasons = []
    if lo.sum() > n:
        reasons.append(f"the minimum quotas ask for {int(lo.sum())} partners but there are {n}")
    if hi.sum() < n:
        reasons.append(f"the maximum quotas hold {int(hi.sum())} partners but there are {n}")
    bad = [labels[k] for k in range(K) if lo[k] > hi[k]]
    if bad:
        reasons.append(f"tiers {bad} have a minimum above their maximum once shares are rounded to whole partners")
    if reasons:
        raise InfeasibleError("tier quotas cannot all hold: " + "; ".join(reasons) + ".", reasons=reasons)
    x = v.to_numpy()
    spread = x.max() - x.min()
    z = (x - x.min()) / spread if spread > 0 else np.zeros(n)
    prob = pulp.LpProblem("tier_quota", pulp.LpMaximize)
    xv = np.empty((n, K), dtype=object)
    for i in range(n):
        for k in range(K):
            # Integer in [0, 1], not LpBinary: PuLP resets a binary's bounds.
            xv[i, k] = prob.add_variable(f"x_{i}_{k}", 0, 1, pulp.LpInteger)
    coef = (z[:, None] * (K - 1 - np.arange(K))[None, :]).ravel().tolist()
    prob.setObjective(pulp.LpAffineExpression(zip(xv.ravel().tolist(), coef)))
    for i in range(n):
        prob.addConstraint(pulp.LpConstraint(pulp.LpAffineExpression(dict.fromkeys(xv[i].tolist(), 1.0)),
                                             pulp.LpConstraintEQ, f"one_{i}", 1.0))
    for k in range(K):
        expr = pulp.LpAffineExpression(dict.fromkeys(xv[:, k].tolist(), 1.0))
        if lo[k] > 0:
            prob.addConstraint(pulp.LpConstraint(expr, pulp.LpConstraintGE, f"min_{k}", float(lo[k])))
        if hi[k] < n:
            prob.addConstraint(pulp.LpConstraint(expr, pulp.LpConstraintLE, f"max_{k}", float(hi[k])))
    if group_quotas:
        if groups is None:
            raise SettingsError("group_quotas need groups: the group (province, region, ...) of every partner.")
        g = pd.Series(groups).reindex(v.index) if isinstance(groups, pd.Series) else pd.Series(list(groups),
                                                                                                index=v.index)
        if g.isna().any():
            miss = v.index[g.isna().to_numpy()].tolist()
            raise ValidationError(f"groups has no group for partners {format_ids(miss)}.", ids=miss)
        codes, uniques = pd.factorize(g)
        for t, bounds in group_quotas.items():
            a, b = bounds
            k = labels.index(t)
            for gi, name in enumerate(uniques.tolist()):
                members = np.flatnonzero(codes == gi)
                expr = pulp.LpAffineExpression(dict.fromkeys(xv[members, k].tolist(), 1.0))
                if a is not None:
                    if a > len(members):
                        reason = (f"group {name!r} has {len(members)} partners but group_quotas asks for at least "
                                  f"{a} in tier {t!r}")
                        raise InfeasibleError(f"tier quotas cannot all hold: {reason}.", reasons=[reason])
                    prob.addConstraint(pulp.LpConstraint(expr, pulp.LpConstraintGE, f"gmin_{k}_{gi}", float(a)))
                if b is not None:
                    prob.addConstraint(pulp.LpConstraint(expr, pulp.LpConstraintLE, f"gmax_{k}_{gi}", float(b)))
    info = (solver or Solver()).solve(prob)
    if info.status == "infeasible":
        raise InfeasibleError("tier quotas cannot all hold together (the overall and per-group quotas contradict "
                              "each other); loosen one of them.", reasons=["quotas contradict group_quotas"])
    if not info.has_solution:
        raise InfeasibleError(f"the tier quota MILP returned {info.status} ({info.termination}).")
    sol = np.array([[xv[i, k].varValue or 0.0 for k in range(K)] for i in range(n)])
    series = _categorical(sol.argmax(axis=1), labels, v.index)
    series.attrs["solve_info"] = info.to_dict()
    return series
