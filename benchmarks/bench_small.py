"""Small instances: plan assembly and metrics of a solved DistributorSelection (issue 13 item 3).

Run: ``python benchmarks/bench_small.py [--baseline GIT_REF] [--repeat N]``

Times ``_extract`` (plan assembly: tables plus ``coverage_metrics``) and ``coverage_metrics``
alone on a solved p-median (p=3) of a synthetic network, median of ``--repeat`` calls. With
``--baseline`` (default ``9d32b42``, the last commit before the vectorised metrics), the
``coverage_metrics`` of that commit is loaded from git and timed in the same run on the same
inputs, both alone and swapped into the plan assembly; the ratio is baseline / current.
The values of both are compared too (relative 1e-12: np.bincount sums in row order, pandas'
groupby differently, so float sums may differ in the last bit).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import channelopt as co
from channelopt.models.distributors import plan as plan_mod

ROOT = Path(__file__).resolve().parents[1]


def _median_ms(fn, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def _baseline_metrics(ref: str):
    text = subprocess.run(["git", "-C", str(ROOT), "show", f"{ref}:channelopt/metrics.py"],
                          capture_output=True, text=True, check=True).stdout
    path = Path(tempfile.mkdtemp()) / "baseline_metrics.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("baseline_metrics", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["baseline_metrics"] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def _same(a, b) -> bool:
    keys = a.overall.keys() == b.overall.keys()
    vals = all(np.isclose(a.overall[k], b.overall[k], rtol=1e-12, atol=0, equal_nan=True) for k in a.overall)
    try:
        pd.testing.assert_frame_equal(a.by_region, b.by_region, check_exact=False, rtol=1e-12, atol=0)
        pd.testing.assert_frame_equal(a.by_channel, b.by_channel, check_exact=False, rtol=1e-12, atol=0)
    except AssertionError:
        return False
    return keys and vals


def _case(n_out: int, n_dist: int, n_reg: int, base, repeat: int) -> list[str]:
    net = co.make_synthetic(n_regions=n_reg, n_outlets=n_out, n_distributors=n_dist, seed=1)
    model = co.DistributorSelection(objective="p_median", p=3, keep_existing=False)
    built = model.build(net)
    plan = built.solve(co.Solver())
    state, info = built.state, plan.info
    seen = {}
    current = plan_mod.coverage_metrics

    def capture(*a, **k):
        seen.update(args=a, kw=k)
        return current(*a, **k)

    plan_mod.coverage_metrics = capture          # the inputs the plan assembly really passes
    try:
        model._extract(net, state, info)
    finally:
        plan_mod.coverage_metrics = current
    args_m, kw = seen["args"], seen["kw"]
    asm = _median_ms(lambda: model._extract(net, state, info), repeat)
    met = _median_ms(lambda: current(*args_m, **kw), repeat)
    row = [f"{n_out} x {n_dist}", f"{asm:.1f}", f"{met:.1f}"]
    if base is not None:
        plan_mod.coverage_metrics = base.coverage_metrics
        try:
            b_asm = _median_ms(lambda: model._extract(net, state, info), repeat)
        finally:
            plan_mod.coverage_metrics = current
        b_met = _median_ms(lambda: base.coverage_metrics(*args_m, **kw), repeat)
        same = _same(current(*args_m, **kw), base.coverage_metrics(*args_m, **kw))
        row += [f"{b_asm:.1f}", f"{b_met:.1f}", f"{b_asm / asm:.1f}x", str(same)]
    return row


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline", default="9d32b42")
    ap.add_argument("--repeat", type=int, default=30)
    args = ap.parse_args(argv)
    base = _baseline_metrics(args.baseline) if args.baseline else None
    print("| outlets x distributors | plan assembly ms | coverage_metrics ms | baseline assembly ms "
          "| baseline metrics ms | assembly ratio | same values |")
    print("|---|---|---|---|---|---|---|")
    for n_out, n_dist, n_reg in [(100, 10, 20), (1000, 20, 60)]:
        print("| " + " | ".join(_case(n_out, n_dist, n_reg, base, args.repeat)) + " |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
