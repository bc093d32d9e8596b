"""Throughput of a scenario batch: 1 vs 2 workers, process pool vs Dask, and scheduling overhead.

Runs N p-median scenarios (p x sparse-candidate grid) on the built-in example network
(``nc`` by default) with:

* ``serial``       this process, one after another (the baseline),
* ``processes/1``  a local process pool of 1 worker,
* ``processes/2``  a local process pool of 2 workers,
* ``dask/2``       a dask.distributed LocalCluster of 2 single-threaded workers.

Every configuration solves the same scenarios; the script checks that the objectives
agree scenario for scenario, and prints scenarios per minute, the speed-up against
the serial baseline measured in the same run, and the scheduling overhead per
scenario: ``(wall x workers - sum of the scenarios' own wall time) / N``, i.e. the
worker time not spent solving (start-up, shipping, storing, idling at the tail).

    python benchmarks/bench_scenarios.py            # 100 scenarios on nc (~10 min on 2 cores)
    python benchmarks/bench_scenarios.py --n 20     # quicker
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from pathlib import Path

import channelopt as co
from channelopt.scenarios import run_scenarios

P = list(range(2, 15))
K = [8, 9, 10, 11, 12, 13, 14, 15]


def scenarios(n: int, example: str) -> list[co.Scenario]:
    grid = list(itertools.product(P, K))[:n]
    return [co.Scenario(name=f"p{p}_k{k}", network={"example": example}, model="DistributorSelection",
                        params={"objective": "p_median", "p": p, "candidates": k, "keep_existing": False},
                        solver={"name": "highs", "threads": 1}) for p, k in grid]


def run(label: str, sc, executor, workers, root: Path):
    out = root / label.replace("/", "_")
    t0 = time.perf_counter()
    res = run_scenarios(sc, out=out, executor=executor, workers=workers, resume=False, progress=False)
    wall = time.perf_counter() - t0
    busy = float(res["wall_seconds"].sum())
    n_workers = workers or 1
    return {"label": label, "wall": wall, "per_min": 60 * len(sc) / wall, "busy": busy,
            "overhead": (wall * n_workers - busy) / len(sc), "res": res}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100, help="number of scenarios (<= 100)")
    ap.add_argument("--example", default="nc", choices=["nc", "china"])
    ap.add_argument("--skip-dask", action="store_true")
    args = ap.parse_args()
    sc = scenarios(args.n, args.example)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        rows.append(run("serial", sc, "serial", None, root))
        rows.append(run("processes/1", sc, "processes", 1, root))
        rows.append(run("processes/2", sc, "processes", 2, root))
        if not args.skip_dask:
            import distributed

            with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                          dashboard_address=None) as cluster, distributed.Client(cluster) as client:
                r = run("dask/2", sc, client, 2, root)
            rows.append(r)
    base = rows[0]
    ref = base["res"].set_index("name")["objective"]
    print(f"\n{len(sc)} p-median scenarios on {args.example!r}; serial baseline {base['wall']:.1f}s\n")
    print(f"{'executor':<13} {'wall s':>8} {'scen/min':>9} {'vs serial':>10} {'overhead s/scen':>16} "
          f"{'objectives equal':>17}")
    for r in rows:
        obj = r["res"].set_index("name")["objective"]
        same = bool((((obj - ref).abs() <= 1e-6 * ref.abs().clip(lower=1)) | (obj.isna() & ref.isna())).all())
        statuses = r["res"]["status"].value_counts().to_dict()
        print(f"{r['label']:<13} {r['wall']:8.1f} {r['per_min']:9.1f} {base['wall'] / r['wall']:9.2f}x "
              f"{r['overhead']:16.3f} {str(same):>17}   {statuses}")
    by = {r["label"]: r for r in rows}
    print(f"\n2 vs 1 process workers: {by['processes/1']['wall'] / by['processes/2']['wall']:.2f}x throughput")
    if "dask/2" in by:
        print(f"dask/2 vs processes/2: {by['processes/2']['wall'] / by['dask/2']['wall']:.2f}x throughput")


if __name__ == "__main__":
    main()
