"""channelopt against spopt on the instances of spopt's own locate tests and docs, one table, one run.

Run: ``python benchmarks/bench_spopt.py [--repeats 5] [--only suite sweep]``

``suite``: every spopt locate test / docs instance channelopt can express (LSCP,
LSCP-B, MCLP, p-median, p-center), each solved by spopt (``from_cost_matrix`` +
``solve(pulp.HiGHS())``) and by channelopt (``ChannelNetwork.from_cost_matrix`` +
``DistributorSelection(...).solve()``), both on HiGHS, both timed from the cost
matrix to the finished result, alternating, the median of ``--repeats`` runs. The
p-center rows also time ``strategy="mip"`` (the assignment MIP, the path before the
covering search) in the same run. ``same`` compares the optima (relative 1e-6; the
assignment p-center MIPs agree to the solvers' feasibility tolerance, 1e-6).

Instances (spopt 0.7 ``spopt/tests/test_locate`` and ``notebooks/``):

- ``lattice 100x5``: the tests' 10 x 10 street lattice (spaghetti, 0.2 buffer), 100
  clients (seed 5) and 5 sites (seed 6) snapped to it, network distances; LSCP r=8,
  MCLP r=7 p=4 and p-median p=4 with weights 1..11 (seed 0), p-center p=4, p-center
  p=3 with sites 3 and 4 predefined (``keep``).
- ``lattice 100x10``: the docs notebooks' lattice (0.5 buffer), 10 sites; p-center p=3,
  p-median p=3, MCLP r=7 p=4, LSCP r=8.
- ``SF 205x16``: San Francisco census tracts x candidate stores, network distance
  (the tests' real-world case), POP2000 weights; LSCP, LSCP-B and MCLP at r=5000 m,
  p-median and p-center p=4.
- ``Columbus 49x49``: libpysal's Columbus tract centroids as clients and sites,
  Euclidean; p-center p=2/4/6/8 (the case issue 13 reported: 18.5 s against 1.7 s).
- ``random 300x30``: random Euclidean (seed 300), weights 1..9; LSCP r=25, MCLP r=15
  p=5, p-median and p-center p=5 (a size between the docs' and real use).

``sweep``: random Euclidean p-center sizes (channelopt default vs spopt, one process).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pulp

import channelopt as co

REPEATS = 5
INSTANCES: list[str] | None = None
#: time the p-center rows' assignment MIP (the old path) too; --skip-mip turns it off
TIME_MIP = True
#: p-center sweep sizes (n, m, p); spopt's assignment MIP at 2,000 x 300 holds 600,000 link columns
SWEEP = [(200, 50, 5), (500, 100, 10), (1000, 200, 20)]
#: seconds spopt gets per sweep size (its assignment MIP at 500 x 100 ran past 20 minutes)
SWEEP_LIMIT = 300.0


def table(rows: list[dict], title: str) -> None:
    print(f"\n## {title}")
    cols = list(dict.fromkeys(k for r in rows for k in r))
    text = [[f"{r.get(c):.4g}" if isinstance(r.get(c), float) else str(r.get(c, "")) for c in cols] for r in rows]
    width = [max(len(c), *(len(t[i]) for t in text)) for i, c in enumerate(cols)]
    print(" | ".join(c.ljust(w) for c, w in zip(cols, width)))
    print("-+-".join("-" * w for w in width))
    for t in text:
        print(" | ".join(v.ljust(w) for v, w in zip(t, width)))
    sys.stdout.flush()


# ------------------------------------------------------------------ instances
def _spopt_data() -> Path:
    import spopt

    return Path(spopt.__file__).parent / "tests" / "test_locate" / "data"


def lattice(clients: int, facilities: int, buffer: float) -> np.ndarray:
    """spopt's synthetic street lattice (tests' ``network_instance``; docs use buffer 0.5)."""
    import geopandas
    import spaghetti
    from spopt.locate.util import simulated_geo_points

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lat = spaghetti.regular_lattice((0, 0, 10, 10), 9, exterior=True)
        ntw = spaghetti.Network(in_data=lat)
        arcs = spaghetti.element_as_gdf(ntw, arcs=True)
        space = arcs["geometry"].buffer(buffer).union_all()
        street = geopandas.GeoDataFrame(geopandas.GeoSeries(space), crs=arcs.crs, columns=["geometry"])
        ntw.snapobservations(simulated_geo_points(street, needed=clients, seed=5), "clients", attribute=True)
        ntw.snapobservations(simulated_geo_points(street, needed=facilities, seed=6), "facilities", attribute=True)
        return np.asarray(ntw.allneighbordistances(sourcepattern=ntw.pointpatterns["clients"],
                                                   destpattern=ntw.pointpatterns["facilities"]), dtype=float)


def san_francisco() -> tuple[np.ndarray, np.ndarray]:
    import pandas as pd

    data = _spopt_data()
    dist = pd.read_csv(data / "SF_network_distance_candidateStore_16_censusTract_205_new.csv")
    piv = dist.pivot_table(values="distance", index="DestinationName", columns="name")
    demand = pd.read_csv(data / "SF_demand_205_centroid_uniform_weight.csv").sort_values("NAME")
    w = demand.set_index("NAME").loc[piv.index, "POP2000"].to_numpy(dtype=float)
    return piv.to_numpy(dtype=float), w


def columbus() -> np.ndarray:
    import geopandas
    from libpysal import examples

    g = geopandas.read_file(examples.get_path("columbus.shp"))
    xy = np.c_[g.centroid.x, g.centroid.y]
    return np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1))


# ------------------------------------------------------------------ one case, both libraries
def _spopt(kind: str, d, w, p, r, keep, limit: float | None = None):
    from spopt.locate import LSCP, LSCPB, MCLP, PCenter, PMedian

    if kind == "set_cover":
        model = LSCP.from_cost_matrix(d, service_radius=r)
    elif kind == "backup_coverage":
        model = LSCPB.from_cost_matrix(d, service_radius=r, solver=pulp.HiGHS(msg=False))
    elif kind == "max_coverage":
        model = MCLP.from_cost_matrix(d, w, service_radius=r, p_facilities=p)
    elif kind == "p_median":
        model = PMedian.from_cost_matrix(d, w, p_facilities=p)
    else:
        pre = None
        if keep:
            pre = np.zeros(d.shape[1], dtype=int)
            pre[list(keep)] = 1
        model = PCenter.from_cost_matrix(d, p_facilities=p, predefined_facilities_arr=pre)
    try:
        model.solve(pulp.HiGHS(msg=False, timeLimit=limit))
    except RuntimeError:  # spopt refuses a plan PuLP calls "Not Solved" (its time limit)
        return float("nan")
    return float(pulp.value(model.problem.objective))


def _channelopt(kind: str, d, w, p, r, keep, strategy="auto"):
    n, m = d.shape
    net = co.ChannelNetwork.from_cost_matrix(d * w[:, None], demand=w, distances=d)
    settings = {"objective": kind, "strategy": strategy}
    if kind in ("max_coverage", "p_median", "p_center"):
        settings["p"] = p
    if kind in ("set_cover", "backup_coverage", "max_coverage"):
        settings["max_distance"] = r
    if keep:
        settings["keep"] = [net.distributor_ids[j] for j in keep]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plan = co.DistributorSelection(**settings).solve(net)
    if kind == "backup_coverage":
        return float(plan.metrics["backup_covered_outlets"]), plan.status
    return float(plan.objective), plan.status


def _timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def cases() -> list[tuple]:
    rng = np.random.default_rng(0)
    lat5 = lattice(100, 5, 0.2)
    lat10 = lattice(100, 10, 0.5)
    w5 = rng.integers(1, 12, 100).astype(float)
    ones = np.ones(100)
    sf, sf_w = san_francisco()
    col = columbus()
    out = [
        ("lattice 100x5 (tests)", "set_cover", lat5, ones, None, 8.0, None),
        ("lattice 100x5 (tests)", "max_coverage", lat5, w5, 4, 7.0, None),
        ("lattice 100x5 (tests)", "p_median", lat5, w5, 4, None, None),
        ("lattice 100x5 (tests)", "p_center", lat5, ones, 4, None, None),
        ("lattice 100x5 (tests)", "p_center", lat5, ones, 3, None, (3, 4)),
        ("lattice 100x10 (docs)", "set_cover", lat10, ones, None, 8.0, None),
        ("lattice 100x10 (docs)", "max_coverage", lat10, w5, 4, 7.0, None),
        ("lattice 100x10 (docs)", "p_median", lat10, w5, 3, None, None),
        ("lattice 100x10 (docs)", "p_center", lat10, ones, 3, None, None),
        ("SF 205x16 (tests)", "set_cover", sf, sf_w, None, 5000.0, None),
        ("SF 205x16 (tests)", "backup_coverage", sf, sf_w, None, 5000.0, None),
        ("SF 205x16 (tests)", "max_coverage", sf, sf_w, 4, 5000.0, None),
        ("SF 205x16 (tests)", "p_median", sf, sf_w, 4, None, None),
        ("SF 205x16 (tests)", "p_center", sf, sf_w, 4, None, None),
    ]
    out += [("Columbus 49x49", "p_center", col, np.ones(49), p, None, None) for p in (2, 4, 6, 8)]
    # a size between the docs' and real use: random Euclidean 300 x 30 (not an spopt instance)
    rng = np.random.default_rng(300)
    a, b = rng.uniform(0, 100, (300, 2)), rng.uniform(0, 100, (30, 2))
    r300 = np.sqrt(((a[:, None] - b[None]) ** 2).sum(-1)).round(3)
    w300 = rng.integers(1, 10, 300).astype(float)
    out += [("random 300x30", "set_cover", r300, w300, None, 25.0, None),
            ("random 300x30", "max_coverage", r300, w300, 5, 15.0, None),
            ("random 300x30", "p_median", r300, w300, 5, None, None),
            ("random 300x30", "p_center", r300, np.ones(300), 5, None, None)]
    return out


def bench_suite(repeats: int) -> None:
    rows = []
    load0 = os.getloadavg()[0]
    for name, kind, d, w, p, r, keep in cases():
        if INSTANCES and not any(name.startswith(x) for x in INSTANCES):
            continue
        # spopt first, then channelopt, alternating per repeat (same load for both)
        sp_t, co_t, mip_t = [], [], []
        sp_obj = co_obj = mip_obj = None
        status = None
        for _ in range(repeats):
            sp_obj, t = _timed(_spopt, kind, d, w, p, r, keep)
            sp_t.append(t)
            (co_obj, status), t = _timed(_channelopt, kind, d, w, p, r, keep)
            co_t.append(t)
            if kind == "p_center" and TIME_MIP:
                (mip_obj, _), t = _timed(_channelopt, kind, d, w, p, r, keep, "mip")
                mip_t.append(t)
        sp_s, co_s = statistics.median(sp_t), statistics.median(co_t)
        tol = 1e-6 * max(1.0, abs(sp_obj))
        row = {"instance": name, "model": kind + (f" p={p}" if p else "") + (" keep 2" if keep else ""),
               "spopt_obj": sp_obj, "channelopt_obj": co_obj, "same": abs(sp_obj - co_obj) <= tol,
               "status": status, "spopt_s": sp_s, "channelopt_s": co_s, "spopt/channelopt": sp_s / co_s}
        if kind == "backup_coverage":
            row["same"] = "n/a (spopt's objective is its own count)"
        if mip_t:
            row["mip_s (old path)"] = statistics.median(mip_t)
            row["mip/channelopt"] = row["mip_s (old path)"] / co_s
        rows.append(row)
        table(rows[-1:], "progress")
    table(rows, f"spopt's locate test and docs instances, HiGHS, median of {repeats} (ratio > 1: channelopt "
                f"faster); load average {load0:.2f} before, {os.getloadavg()[0]:.2f} after")
    slower = [f"{r['instance']} {r['model']}" for r in rows if r["spopt/channelopt"] < 1]
    print(f"channelopt slower on {len(slower)} of {len(rows)}: {slower}")


def bench_sweep(repeats: int) -> None:
    rows = []
    for n, m, p in SWEEP:
        rng = np.random.default_rng(n)
        a, b = rng.uniform(0, 100, (n, 2)), rng.uniform(0, 100, (m, 2))
        d = np.sqrt(((a[:, None] - b[None]) ** 2).sum(-1)).round(3)
        w = np.ones(n)
        sp_obj, sp_s = _timed(_spopt, "p_center", d, w, p, None, None, SWEEP_LIMIT)
        (co_obj, status), co_s = _timed(_channelopt, "p_center", d, w, p, None, None)
        rows.append({"size": f"{n}x{m}", "p": p, "spopt_obj": sp_obj, "channelopt_obj": co_obj,
                     "same": abs(sp_obj - co_obj) <= 1e-6 * max(1.0, sp_obj), "status": status,
                     "spopt_s": sp_s, "channelopt_s": co_s, "spopt/channelopt": sp_s / co_s,
                     "load": os.getloadavg()[0]})
        table(rows[-1:], "progress")
    table(rows, "p-center size sweep, random Euclidean, HiGHS (ratio > 1: channelopt faster)")


SECTIONS = {"suite": bench_suite, "sweep": bench_sweep}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=REPEATS, help="runs per case (median reported)")
    ap.add_argument("--only", nargs="*", choices=list(SECTIONS), default=list(SECTIONS))
    ap.add_argument("--instances", nargs="*", default=None, help="suite instances whose name starts so, "
                                                                  "e.g. random Columbus")
    ap.add_argument("--skip-mip", action="store_true", help="do not time the p-center rows' assignment MIP "
                                                            "(the old path; 73 s a run at random 300x30)")
    args = ap.parse_args(argv)
    global INSTANCES, TIME_MIP
    INSTANCES = args.instances
    TIME_MIP = not args.skip_mip
    for name in args.only:
        SECTIONS[name](args.repeats)


if __name__ == "__main__":
    main()
