"""Small instances: plan assembly and metrics of a solved DistributorSelection (issue 13 item 3).

Run: ``python benchmarks/bench_small.py [--baseline GIT_REF] [--repeat N]``

Times the plan assembly of a solved p-median (p=3) on a synthetic network
(``selection_plan``: the numbers, with the tables left to be made on first read; and the
same with every table read, which is what an eager build made) and the public
``coverage_metrics`` on the same plan's inputs, median of ``--repeat`` calls. With
``--baseline`` (default ``38325a7``: before plan assembly built each table once and
took the metrics from link codes; ``9d32b42`` is before the vectorised metrics), that
commit's ``plan.py`` and ``metrics.py`` are loaded from git and timed in the same run on
the same inputs; the ratio is baseline / current. Both plans are compared too: every
table and metric, floats to relative 1e-12 (np.bincount sums in row order, pandas'
groupby differently, so float sums may differ in the last bit).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import channelopt as co
from channelopt.metrics import coverage_metrics
from channelopt.models.distributors import plan as plan_mod
from channelopt.models.distributors import selection as selection_mod

ROOT = Path(__file__).resolve().parents[1]


def _median_ms(fn, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def _load(ref: str, rel: str, name: str, package: str | None = None):
    text = subprocess.run(["git", "-C", str(ROOT), "show", f"{ref}:{rel}"],
                          capture_output=True, text=True, check=True).stdout
    path = Path(tempfile.mkdtemp()) / f"{name}.py"
    path.write_text(text)
    full = f"{package}.{name}" if package else name
    spec = importlib.util.spec_from_file_location(full, path)
    mod = importlib.util.module_from_spec(spec)
    if package:
        mod.__package__ = package
    sys.modules[full] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def _baseline(ref: str):
    """That commit's selection_plan, with that commit's coverage_metrics."""
    metrics = _load(ref, "channelopt/metrics.py", "baseline_metrics")
    plan = _load(ref, "channelopt/models/distributors/plan.py", "_baseline_plan", "channelopt.models.distributors")
    plan.coverage_metrics = metrics.coverage_metrics
    return plan.selection_plan, metrics.coverage_metrics


def _same_frames(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    try:
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12, atol=0)
    except AssertionError as exc:
        print(f"  differs: {str(exc).splitlines()[0]}")
        return False
    return True


def _same(a, b) -> bool:
    ma, mb = a.metrics, b.metrics
    keys = ma.overall.keys() == mb.overall.keys()
    if not keys:
        print(f"  metric names differ: {sorted(set(ma.overall) ^ set(mb.overall))}")
        return False
    vals = all(np.isclose(ma.overall[k], mb.overall[k], rtol=1e-12, atol=0, equal_nan=True) for k in ma.overall)
    frames = [(ma.by_region, mb.by_region), (ma.by_channel, mb.by_channel),
              (ma.by_distributor, mb.by_distributor), (a.assignments, b.assignments)]
    frames += [(a.tables[k], b.tables[k]) for k in ("distributors", "links")]
    return keys and vals and all([_same_frames(x, y) for x, y in frames])


def _case(n_out: int, n_dist: int, n_reg: int, base, repeat: int) -> list[str]:
    net = co.make_synthetic(n_regions=n_reg, n_outlets=n_out, n_distributors=n_dist, seed=1)
    model = co.DistributorSelection(objective="p_median", p=3, keep_existing=False, strategy="mip")
    built = model.build(net)
    plan = built.solve(co.Solver())
    seen = {}
    current = plan_mod.selection_plan

    def capture(*a, **k):
        seen.update(args=a, kw=k)
        return current(*a, **k)

    selection_mod.selection_plan = capture          # the inputs the plan assembly really gets
    try:
        model._extract(net, built.state, plan.info)
    finally:
        selection_mod.selection_plan = current
    args, kw = seen["args"], seen["kw"]
    base_kw = {k: v for k, v in kw.items() if k != "covered_weight"}  # added with the deferred tables

    def every_table(p):
        # what an eager build made: assignments, tables, the metric tables
        return p.assignments, p.tables, p.metrics.by_region, p.metrics.by_channel, p.metrics.by_distributor

    asm = _median_ms(lambda: current(*args, **kw), repeat)
    full = _median_ms(lambda: every_table(current(*args, **kw)), repeat)
    ours = current(*args, **kw)
    met_args = (net.outlets, ours.assignments["covered"].to_numpy(), net.region_ids)
    met = _median_ms(lambda: coverage_metrics(*met_args, served_by=ours.links), repeat)
    met_full = _median_ms(lambda: (lambda m: (m.by_region, m.by_channel))(
        coverage_metrics(*met_args, served_by=ours.links)), repeat)
    row = [f"{n_out} x {n_dist}", f"{asm:.2f}", f"{full:.2f}", f"{met:.2f} / {met_full:.2f}"]
    if base is not None:
        b_plan, b_metrics = base
        b_asm = _median_ms(lambda: b_plan(*args, **base_kw), repeat)
        b_met = _median_ms(lambda: b_metrics(*met_args, served_by=ours.links), repeat)
        same = _same(ours, b_plan(*args, **base_kw))
        row += [f"{b_asm:.2f}", f"{b_met:.2f}", f"{b_asm / asm:.1f}x", f"{b_asm / full:.1f}x", str(same)]
    return row


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline", default="38325a7")
    ap.add_argument("--repeat", type=int, default=30)
    args = ap.parse_args(argv)
    base = _baseline(args.baseline) if args.baseline else None
    print(f"load average {os.getloadavg()[0]:.2f}")
    print("| outlets x distributors | plan assembly ms | assembly + every table read ms "
          "| coverage_metrics ms (+ tables read) | baseline assembly ms | baseline metrics ms "
          "| assembly ratio | ratio with every table | same values |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n_out, n_dist, n_reg in [(100, 10, 20), (1000, 20, 60)]:
        print("| " + " | ".join(_case(n_out, n_dist, n_reg, base, args.repeat)) + " |")
        sys.stdout.flush()
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
