"""spopt's lattice instances, channelopt against spopt in one process, wall and CPU medians (issue 13).

Run: ``PYTHONPATH=TREE python benchmarks/bench_spopt_cpu.py [--repeats 41] [--rows 1]``

``bench_spopt.py`` times wall clock only, and its first row (the tests' 100 x 5 set
cover) gets no warm-up run. Here each of the first ``--rows`` lattice rows gets 3
warm-up runs, then ``--repeats`` runs alternating spopt and channelopt; the ratios
are spopt / channelopt of the medians of wall time and of ``time.process_time`` (the
process's CPU, every thread). On a loaded machine the wall median is mostly time spent
preempted, which grows with CPU; the CPU ratio is the steadier one. For a before/after,
run it once per tree (``git archive REF | tar -x -C DIR``), alternating.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings

import bench_spopt as b
import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=41)
    ap.add_argument("--rows", type=int, default=1, help="the first ROWS lattice rows (1: the 100 x 5 set cover)")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    rng = np.random.default_rng(0)
    lat5, lat10 = b.lattice(100, 5, 0.2), b.lattice(100, 10, 0.5)
    w5, ones = rng.integers(1, 12, 100).astype(float), np.ones(100)
    rows = [("100x5 set_cover", "set_cover", lat5, ones, None, 8.0, None),
            ("100x5 max_coverage", "max_coverage", lat5, w5, 4, 7.0, None),
            ("100x5 p_median", "p_median", lat5, w5, 4, None, None),
            ("100x10 set_cover", "set_cover", lat10, ones, None, 8.0, None)]
    load0 = os.getloadavg()[0]
    for name, kind, d, w, p, r, keep in rows[: args.rows]:
        for _ in range(3):
            b._spopt(kind, d, w, p, r, keep)
            b._channelopt(kind, d, w, p, r, keep)
        sw, cw, sc, cc = [], [], [], []
        for _ in range(args.repeats):
            t, c = time.perf_counter(), time.process_time()
            sp_obj = b._spopt(kind, d, w, p, r, keep)
            sw.append(time.perf_counter() - t)
            sc.append(time.process_time() - c)
            t, c = time.perf_counter(), time.process_time()
            co_obj, _ = b._channelopt(kind, d, w, p, r, keep)
            cw.append(time.perf_counter() - t)
            cc.append(time.process_time() - c)
        med = statistics.median
        print(f"{name}: same optimum {abs(sp_obj - co_obj) <= 1e-6 * max(1.0, abs(sp_obj))}; spopt/channelopt "
              f"wall {med(sw) / med(cw):.2f}, CPU {med(sc) / med(cc):.2f}; channelopt wall min/median "
              f"{min(cw) * 1e3:.2f}/{med(cw) * 1e3:.2f} ms, spopt {min(sw) * 1e3:.2f}/{med(sw) * 1e3:.2f} ms",
              flush=True)
    print(f"load average {load0:.2f} -> {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
