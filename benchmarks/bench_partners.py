"""PartnerEvaluation (DEA) at scale: 5,000 partners x 3 inputs x 3 outputs.

Run: ``python benchmarks/bench_partners.py`` (``--sizes 1000 5000``, ``--sample 100``).

For each model (CCR input, BCC output, CCR input super-efficiency) and size:
  - channelopt: all partners' envelopment LPs by column generation, batched block LPs
    through the one solve path (radial phase, then the max-slack phase);
  - baseline, same run: each partner's *full* envelopment LP (n columns) solved one at a
    time by scipy ``linprog`` (HiGHS), radial phase only, on a random sample of
    ``--sample`` partners, extrapolated to all of them (seconds per LP x n). Its scores
    are compared with channelopt's on the sample (largest absolute difference).

Data: inputs uniform on [1, 10]; outputs = geometric mean of the inputs^0.9 x uniform
[0.3, 1] noise per output, so that a few percent of partners lie on the frontier.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from scipy.optimize import linprog

from channelopt import PartnerEvaluation


def instance(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = rng.uniform(1, 10, (n, 3))
    Y = (X.prod(axis=1) ** (0.9 / 3))[:, None] * rng.uniform(0.3, 1.0, (n, 3))
    df = pd.DataFrame(np.column_stack([X, Y]), columns=["x0", "x1", "x2", "y0", "y1", "y2"])
    df.index = [f"p{i}" for i in range(n)]
    return df


def full_lp(X, Y, o, vrs, output, super_eff):
    n = len(X)
    cols = [j for j in range(n) if not (super_eff and j == o)]
    k = len(cols)
    c = np.zeros(k + 1)
    c[0] = -1.0 if output else 1.0
    if output:
        A = np.vstack([np.column_stack([np.zeros(3), X[cols].T]), np.column_stack([Y[o], -Y[cols].T])])
        b = np.concatenate([X[o], np.zeros(3)])
    else:
        A = np.vstack([np.column_stack([-X[o], X[cols].T]), np.column_stack([np.zeros(3), -Y[cols].T])])
        b = np.concatenate([np.zeros(3), -Y[o]])
    eq = (np.concatenate([[0.0], np.ones(k)])[None, :], [1.0]) if vrs else (None, None)
    res = linprog(c, A_ub=A, b_ub=b, A_eq=eq[0], b_eq=eq[1], bounds=[(0, None)] * (k + 1), method="highs")
    return res.x[0] if res.status == 0 else np.nan


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[5000])
    ap.add_argument("--sample", type=int, default=100)
    args = ap.parse_args()
    models = [("CCR input", "crs", "input", False), ("BCC output", "vrs", "output", False),
              ("CCR input super", "crs", "input", True)]
    rows = []
    for n in args.sizes:
        df = instance(n)
        X, Y = df[["x0", "x1", "x2"]].to_numpy(), df[["y0", "y1", "y2"]].to_numpy()
        sample = np.random.default_rng(1).choice(n, size=min(args.sample, n), replace=False)
        for label, rts, orient, sup in models:
            model = PartnerEvaluation(inputs=["x0", "x1", "x2"], outputs=["y0", "y1", "y2"], returns_to_scale=rts,
                                      orientation=orient, super_efficiency=sup)
            t0 = time.perf_counter()
            ev = model.evaluate(df)
            ours = time.perf_counter() - t0
            t0 = time.perf_counter()
            ref = np.array([full_lp(X, Y, o, rts == "vrs", orient == "output", sup) for o in sample])
            per_lp = (time.perf_counter() - t0) / len(sample)
            got = (ev["expansion"] if orient == "output" else ev["efficiency"]).to_numpy()[sample]
            stats = ev.attrs["dea"]
            rows.append({
                "model": label, "partners": n, "channelopt_s": round(ours, 2),
                "baseline_s_extrapolated": round(per_lp * n, 1),
                "baseline/channelopt": round(per_lp * n / ours, 1),
                "max_abs_diff_on_sample": float(np.nanmax(np.abs(got - ref))),
                "efficient": int((ev["efficiency"] >= 1 - 1e-9).sum()),
                "block_lps": stats["lps"], "blocks": stats["blocks"], "max_rounds": stats["rounds"],
            })
            print(pd.DataFrame(rows[-1:]).to_string(index=False), flush=True)
    print()
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
