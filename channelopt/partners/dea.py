"""PartnerEvaluation: data envelopment analysis (DEA) of partners' inputs against their outputs."""

from __future__ import annotations

import difflib
import inspect
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import SettingsError, ValidationError, format_ids
from ..solver import Solver
from ._envelopment import solve_envelopment

__all__ = ["PartnerEvaluation"]

#: efficiency within this of 1 is reported as exactly 1 (LP tolerance, not a real difference)
_SNAP = 1e-7


def _suggest(name: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(str(name), [str(k) for k in known], n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


class PartnerEvaluation:
    """Frontier efficiency of partners: the envelopment LPs of data envelopment analysis.

    Each partner (a decision-making unit) is compared with the best combinations of
    the others: ``efficiency`` 1 means no combination of partners does better on every
    input and output; 0.8 means the best combination needs only 80% of its inputs for
    its outputs (input orientation), or makes 1/0.8 = 1.25 times its outputs with its
    inputs (output orientation).

    Parameters
    ----------
    inputs, outputs : sequence of str
        Columns of the evaluated frame: resources used (fixed cost, capacity, staff;
        less is better) and results (sales, outlets served; more is better).
        Inputs must be non-negative with a positive value for every partner; outputs
        non-negative.
    returns_to_scale : {"crs", "vrs"}
        Constant (CCR, Charnes-Cooper-Rhodes 1978) or variable (BCC, Banker-Charnes-Cooper
        1984) returns to scale. VRS compares partners only with combinations of their
        own size.
    orientation : {"input", "output"}
        Shrink inputs at fixed outputs (``efficiency = theta``), or expand outputs at
        fixed inputs (``expansion = phi >= 1`` and ``efficiency = 1 / phi``).
    super_efficiency : bool
        Leave each partner out of its own reference set (Andersen-Petersen), so that
        efficient partners are ranked: their efficiency can exceed 1. Under VRS the LP of
        some partners is infeasible; they get ``status = "infeasible"``, NaN efficiency,
        a ``reason``, and the top tier (nothing else envelops them, so they are on the
        frontier).
    weight_bounds : mapping, optional
        Assurance regions: ``{("a", "b"): (low, high)}`` bounds the ratio of the weights
        (multipliers) of two inputs, or of two outputs, to ``low <= w_a / w_b <= high``
        (in the columns' own units; None for no bound on a side). It stops a partner from
        looking efficient by weighting one output it happens to be best at and ignoring
        the rest. Targets then also move along the bounded weights, so they are no longer
        pure combinations of peers.
    tiers : mapping, optional
        Keyword arguments of :func:`~channelopt.partners.assign_tiers` applied to
        ``efficiency`` (default: thresholds 1.0 and 0.8 into tiers A, B, C).

    Notes
    -----
    Envelopment LP of partner ``o`` (input orientation): ``min theta`` subject to
    ``sum_j lambda_j x_ij <= theta x_io``, ``sum_j lambda_j y_rj >= y_ro``,
    ``lambda >= 0`` and, under VRS, ``sum_j lambda_j = 1``. Output orientation:
    ``max phi`` with ``sum_j lambda_j x_ij <= x_io`` and ``sum_j lambda_j y_rj >= phi y_ro``.
    A second phase keeps the score and maximises the slacks (each in units of its
    column's mean); its ``lambda`` are the ``peers`` and it gives ``target_<col>`` and
    ``slack_<col>``. All partners' LPs are solved by column generation as block LPs
    through :class:`~channelopt.Solver` (see ``channelopt.partners._envelopment``).
    A partner whose outputs are all zero has no output direction to expand (output
    orientation): it gets efficiency 0 and ``status = "no_output"``.

    Examples
    --------
    Two inputs, one output (Cooper, Seiford & Tone 2007, Example 3.2):

    >>> import pandas as pd
    >>> import channelopt as co
    >>> df = pd.DataFrame({"staff": [4, 7, 8, 4, 2, 10], "area": [3, 3, 1, 2, 4, 1], "sales": 1.0},
    ...                   index=list("ABCDEF"))
    >>> ev = co.PartnerEvaluation(inputs=["staff", "area"], outputs=["sales"]).evaluate(df)
    >>> ev["efficiency"].round(4).tolist()
    [0.8571, 0.6316, 1.0, 1.0, 1.0, 1.0]
    >>> ev.loc["A", "peers"]
    {'D': 0.714286, 'E': 0.285714}
    >>> ev.loc["F", ["slack_staff", "target_staff"]].round(6).tolist()
    [2.0, 8.0]
    >>> ev["tier"].tolist()
    ['B', 'C', 'A', 'A', 'A', 'A']
    """

    def __init__(
        self,
        *,
        inputs: Sequence[str] = (),
        outputs: Sequence[str] = (),
        returns_to_scale: str = "crs",
        orientation: str = "input",
        super_efficiency: bool = False,
        weight_bounds: Mapping | None = None,
        tiers: Mapping | None = None,
    ) -> None:
        self.inputs = inputs
        self.outputs = outputs
        self.returns_to_scale = returns_to_scale
        self.orientation = orientation
        self.super_efficiency = super_efficiency
        self.weight_bounds = weight_bounds
        self.tiers = tiers

    def get_params(self) -> dict[str, Any]:
        """The settings given to the constructor, by name (as in scikit-learn)."""
        sig = inspect.signature(type(self).__init__)
        return {name: getattr(self, name) for name in sig.parameters if name != "self"}

    def set_params(self, **params: Any) -> PartnerEvaluation:
        """A copy with some settings changed (the original is untouched)."""
        current = self.get_params()
        unknown = sorted(set(params) - set(current))
        if unknown:
            raise SettingsError(f"PartnerEvaluation has no setting(s) {unknown}.{_suggest(unknown[0], current)}")
        return type(self)(**{**current, **params})

    def __repr__(self) -> str:
        return f"PartnerEvaluation({', '.join(f'{k}={v!r}' for k, v in self.get_params().items())})"

    # ------------------------------------------------------------------ checks
    def _check(self, df) -> tuple[list, list, bool, bool]:
        if not isinstance(df, pd.DataFrame):
            raise ValidationError(f"evaluate needs a pandas DataFrame with one row per partner, got "
                                  f"{type(df).__name__}.")
        rts = str(self.returns_to_scale).lower()
        if rts not in ("crs", "vrs"):
            raise SettingsError(f"returns_to_scale must be 'crs' or 'vrs', got {self.returns_to_scale!r}."
                                f"{_suggest(rts, ['crs', 'vrs'])}")
        orient = str(self.orientation).lower()
        if orient not in ("input", "output"):
            raise SettingsError(f"orientation must be 'input' or 'output', got {self.orientation!r}."
                                f"{_suggest(orient, ['input', 'output'])}")
        inputs = [self.inputs] if isinstance(self.inputs, str) else list(self.inputs)
        outputs = [self.outputs] if isinstance(self.outputs, str) else list(self.outputs)
        if not inputs or not outputs:
            raise SettingsError("PartnerEvaluation needs at least one input and one output column, e.g. "
                                "inputs=['fixed_cost'], outputs=['sales'].")
        both = sorted(set(inputs) & set(outputs))
        if both:
            raise SettingsError(f"columns {both} are given both as inputs and as outputs.")
        for col in inputs + outputs:
            if col not in df.columns:
                raise ValidationError(f"column {col!r} is not in the evaluated frame.{_suggest(col, df.columns)} "
                                      f"Columns: {list(map(str, df.columns))}.", column=col)
        if len(df) < 2:
            raise ValidationError(f"DEA compares partners with each other: give at least 2 rows, got {len(df)}.")
        if df.index.has_duplicates:
            dup = df.index[df.index.duplicated()].unique().tolist()
            raise ValidationError(f"the frame's index must identify partners; {format_ids(dup)} repeat.", ids=dup)
        for col in inputs + outputs:
            raw = df[col]
            vals = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
            bad = np.flatnonzero(~np.isfinite(vals) | (vals < 0))
            if len(bad):
                ids = df.index[bad].tolist()
                raise ValidationError(f"column {col!r} must hold finite non-negative numbers; partners "
                                      f"{format_ids(ids)} do not (first: {raw.iloc[bad[0]]!r}). Fill or drop them.",
                                      column=col, ids=ids)
        X = df[inputs].to_numpy(dtype=float)
        no_input = np.flatnonzero(X.sum(axis=1) <= 0)
        if len(no_input):
            ids = df.index[no_input].tolist()
            raise ValidationError(f"partners {format_ids(ids)} use none of the inputs {inputs}; DEA cannot rate "
                                  f"output from nothing. Drop them or add the input they use.", column=inputs[0],
                                  ids=ids)
        for col, total in zip(inputs + outputs, df[inputs + outputs].to_numpy(dtype=float).sum(axis=0)):
            if total <= 0:
                raise ValidationError(f"column {col!r} is zero for every partner; it cannot discriminate. Drop it.",
                                      column=col)
        return inputs, outputs, rts == "vrs", orient == "output"

    def _bound_rows(self, inputs, outputs, scale_in, scale_out):
        """Assurance-region rows ``P v <= 0`` (inputs) and ``Q u <= 0`` (outputs) in scaled units."""
        P, Q, names = [], [], []
        wb = self.weight_bounds or {}
        if not isinstance(wb, Mapping):
            raise SettingsError("weight_bounds must be a mapping {('a', 'b'): (low, high)}.")
        for key, bounds in wb.items():
            if not (isinstance(key, tuple) and len(key) == 2):
                raise SettingsError(f"weight_bounds keys are pairs of column names, got {key!r}.")
            a, b = key
            if a in inputs and b in inputs:
                side, cols, scale, rows = "input", inputs, scale_in, P
            elif a in outputs and b in outputs:
                side, cols, scale, rows = "output", outputs, scale_out, Q
            else:
                wrong = a if (a not in inputs and a not in outputs) else b
                known = list(inputs) + list(outputs)
                raise SettingsError(f"weight_bounds {key!r}: both columns must be inputs, or both outputs; "
                                    f"{wrong!r} is not one of the same side.{_suggest(wrong, known)}")
            try:
                low, high = bounds
            except (TypeError, ValueError):
                raise SettingsError(f"weight_bounds[{key!r}] must be (low, high), got {bounds!r}.") from None
            ia, ib = cols.index(a), cols.index(b)
            # Scaled weights are w * scale: the ratio bound moves by scale_a / scale_b.
            factor = scale[ia] / scale[ib]
            for bound, upper in ((low, False), (high, True)):
                if bound is None:
                    continue
                if not (isinstance(bound, (int, float, np.number)) and math.isfinite(bound) and bound >= 0):
                    raise SettingsError(f"weight_bounds[{key!r}] bounds must be non-negative numbers or None, "
                                        f"got {bound!r}.")
                row = np.zeros(len(cols))
                if upper:       # w_a - high w_b <= 0
                    row[ia], row[ib] = 1.0, -bound * factor
                else:           # low w_b - w_a <= 0
                    row[ia], row[ib] = -1.0, bound * factor
                rows.append(row)
                names.append((side, key, "high" if upper else "low"))
            if low is not None and high is not None and low > high:
                raise SettingsError(f"weight_bounds[{key!r}] has low {low} above high {high}.")
        P = np.array(P).reshape(len(P), len(inputs))
        Q = np.array(Q).reshape(len(Q), len(outputs))
        return P, Q

    # ------------------------------------------------------------------ the verb
    def evaluate(self, df: pd.DataFrame, solver: Solver | None = None) -> pd.DataFrame:
        """Efficiency, peers, targets, slacks and tier of every row of ``df``.

        Parameters
        ----------
        df : DataFrame
            One row per partner, indexed by partner id, holding the input and output columns.
        solver : Solver, optional
            Solver settings for the LPs (default HiGHS).

        Returns
        -------
        DataFrame
            Indexed like ``df``: ``efficiency``, ``expansion`` (output orientation),
            ``status`` (``"optimal"``, ``"infeasible"`` or ``"no_output"``), ``reason``,
            ``peers`` (``{partner id: lambda}``), ``target_<col>`` and ``slack_<col>`` for
            every input and output, and ``tier``.

        Raises
        ------
        ValidationError
            Missing columns, negative or missing values, a partner with no input.
        SettingsError
            Unknown returns_to_scale / orientation, bad weight bounds or tiers.
        """
        from .tiers import assign_tiers

        inputs, outputs, vrs, output = self._check(df)
        X = df[inputs].to_numpy(dtype=float)
        Y = df[outputs].to_numpy(dtype=float)
        # Scale each column to mean 1: scores do not change, the LPs are better conditioned
        # and the slack phase's sum of slacks is unit-free.
        scale_in = X.mean(axis=0)
        scale_out = Y.mean(axis=0)
        P, Q = self._bound_rows(inputs, outputs, scale_in, scale_out)
        Xs, Ys = X / scale_in, Y / scale_out
        n = len(df)
        no_output = (Ys.sum(axis=1) <= 0) if output else np.zeros(n, dtype=bool)
        rows = np.flatnonzero(~no_output)
        env = solve_envelopment(Xs[rows] if len(rows) < n else Xs, Ys[rows] if len(rows) < n else Ys, vrs=vrs,
                                output=output, super_eff=bool(self.super_efficiency), P=P, Q=Q, solver=solver)
        ids = df.index.tolist()
        score = np.full(n, np.nan)
        score[rows] = env.score
        status = np.full(n, "optimal", dtype=object)
        reason = np.full(n, "", dtype=object)
        status[no_output] = "no_output"
        reason[no_output] = f"every output ({', '.join(outputs)}) is zero: no output to expand"
        peers: list = [{} for _ in range(n)]
        slack_in = np.zeros((n, len(inputs)))
        slack_out = np.zeros((n, len(outputs)))
        rts = "VRS" if vrs else "CRS"
        for k, o in enumerate(rows.tolist()):
            if not env.feasible[k]:
                status[o] = "infeasible"
                short = [inputs[i] for i in env.short_inputs[k]] + [outputs[r] for r in env.short_outputs[k]]
                if output:
                    what = f"uses no more of {', '.join(short)} than it does" if short else "fits its inputs"
                else:
                    what = f"reaches its {', '.join(short)}" if short else "reaches its outputs"
                reason[o] = (f"super-efficiency LP infeasible under {rts}: no combination of the other partners "
                             f"{what}; the partner is on the frontier (top tier)")
                continue
            peers[o] = {ids[rows[j]]: round(float(v), 6) for j, v in zip(env.lam_index[k], env.lam_value[k])}
            slack_in[o] = env.slack_in[k] * scale_in
            slack_out[o] = env.slack_out[k] * scale_out
        slack_in[np.abs(slack_in) < 1e-9 * (1 + np.abs(X))] = 0.0
        slack_out[np.abs(slack_out) < 1e-9 * (1 + np.abs(Y))] = 0.0
        snapped = np.where(np.abs(score - 1.0) <= _SNAP, 1.0, score)
        out = pd.DataFrame(index=df.index.copy())
        if output:
            out["efficiency"] = np.where(no_output, 0.0, 1.0 / snapped)
            out["expansion"] = np.where(no_output, np.inf, snapped)
            radial_x, radial_y = X, Y * np.where(np.isnan(snapped), 1.0, snapped)[:, None]
        else:
            out["efficiency"] = snapped
            radial_x, radial_y = X * np.where(np.isnan(snapped), 1.0, snapped)[:, None], Y
        out["status"] = status
        out["reason"] = reason
        out["peers"] = peers
        done = (status == "optimal")[:, None]
        for i, col in enumerate(inputs):
            out[f"target_{col}"] = np.where(done[:, 0], radial_x[:, i] - slack_in[:, i], X[:, i])
            out[f"slack_{col}"] = np.where(done[:, 0], slack_in[:, i], 0.0)
        for r, col in enumerate(outputs):
            out[f"target_{col}"] = np.where(done[:, 0], radial_y[:, r] + slack_out[:, r], Y[:, r])
            out[f"slack_{col}"] = np.where(done[:, 0], slack_out[:, r], 0.0)
        tier_kw = dict(self.tiers) if self.tiers is not None else {"method": "threshold", "thresholds": (1.0, 0.8)}
        eff = out["efficiency"].copy()
        # Infeasible super-efficiency partners are on the frontier: rank them above everyone.
        top = np.nanmax(eff.to_numpy()) if np.isfinite(eff.to_numpy()).any() else 1.0
        eff[status == "infeasible"] = max(top, 1.0)
        out["tier"] = assign_tiers(eff, **tier_kw)
        out.attrs["dea"] = {"inputs": inputs, "outputs": outputs, "returns_to_scale": "vrs" if vrs else "crs",
                            "orientation": "output" if output else "input",
                            "super_efficiency": bool(self.super_efficiency), **env.stats}
        return out
