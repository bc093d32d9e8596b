"""Shared fixtures: the benchmark data beside the repo, and outside resources.

Some checks need what a user's clone may lack: the published optima in
``../shared/benchdata`` and headless Chromium. A user's clone skips them with a
message saying what is missing and how to get it; CI (``.ci/run`` sets ``CI=true``)
must run them, so there a missing resource FAILS the test instead of skipping it.

In a test, call the ``need_resource`` fixture, or skip with a reason starting with
``[needs resource]``::

    def test_render(need_resource, tmp_path):
        need_resource(shutil.which("chromium") is not None, "headless Chromium",
                      "apt-get install -y chromium")

Test maps: the ``planar_map`` fixture is :func:`planar_map`, the seeded random Delaunay map the territory
tests share (pytest runs with ``--import-mode=importlib``, so test modules cannot import each other; a
fixture is how they share it)::

    def test_bound(planar_map):
        net = co.ChannelNetwork.from_graph(planar_map(30, 1), ["pop", "size"])

The ``delaunay_pop_map`` fixture is :func:`delaunay_pop_map`, the other seeded Delaunay map (pop and x/y; ``xy=False``
for the graph and pops alone), on which test_territory_design and test_territory_exact chose their instances.

Scripts: the ``run_result`` fixture is :func:`run_result` (a script run with this checkout's package, its
``RESULT`` line read back; the Ctrl-C tests send a real SIGINT there), and ``plan_result_rules`` is
:func:`plan_result_rules` (the territory plan such a script printed keeps every rule, checked on its graph).

Brute force: the ``partitions`` and ``brute_force`` fixtures are :func:`partitions` (every balanced partition of
a small graph into k connected parts) and :func:`brute_force` (the best cut edges or compactness over them), the
reference the territory models are checked against. They use networkx and numpy only, never channelopt::

    def test_optimum(planar_map, brute_force):
        g = planar_map(9, 3)
        expected = brute_force(g, 3, 10.0, 20.0)  # fewest cut edges, each territory's pop in [10, 20]
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

    import networkx as nx
    import numpy as np

# The Ctrl-C tests press Ctrl-C (SIGINT) in this process and in commands they start. A suite launched
# with SIGINT ignored (`nohup make test &` in a shell without job control) passes SIG_IGN on to every
# child, and Python then never raises KeyboardInterrupt there: 17 Ctrl-C tests failed that way. Put back
# Python's own handler, which a terminal run has; children then start with the default disposition.
if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

ROOT = Path(__file__).resolve().parents[1]
RESOURCE = "[needs resource]"


def in_ci() -> bool:
    """Whether this run is CI (``CI=true``, as ``.ci/run`` and most CI services set it)."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def need_resource(available: bool, what: str, fix: str) -> None:
    """Skip (a user's clone) or fail (CI) when ``what`` is not available."""
    if available:
        return
    message = f"{RESOURCE} {what} is not available: {fix}"
    if in_ci():
        pytest.fail(f"CI must run this check. {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture(name="need_resource")
def need_resource_fixture():
    return need_resource


def planar_map(n: int, seed: int) -> nx.Graph:
    """A seeded random planar map: the Delaunay triangulation of ``n`` points in a 1000 x 1000 square.

    Nodes ``0 .. n-1`` carry ``x``, ``y``, an integer ``pop`` in [1, 9] and an integer ``size`` in [1, 19]
    (floats). The same ``(n, seed)`` gives the same map: the tests choose their instances by seed (a map where
    what they check matters), so this draw order must not change.
    """
    import networkx as nx
    import numpy as np
    from scipy.spatial import Delaunay

    rng = np.random.default_rng(seed)
    pts = rng.random((n, 2)) * 1000
    g = nx.Graph()
    for i, (x, y) in enumerate(pts.tolist()):
        g.add_node(i, x=x, y=y, pop=float(rng.integers(1, 10)), size=float(rng.integers(1, 20)))
    for s in Delaunay(pts).simplices.tolist():
        g.add_edges_from([(s[0], s[1]), (s[1], s[2]), (s[0], s[2])])
    return g


@pytest.fixture(name="planar_map")
def planar_map_fixture():
    return planar_map


def delaunay_pop_map(n: int, seed: int, xy: bool = True) -> nx.Graph:
    """Another seeded Delaunay map (other draws than :func:`planar_map`): ``n`` points in a 1000 x 1000 square.

    Nodes ``0 .. n-1`` carry an integer ``pop`` in [1, 9] (floats) and, with ``xy`` (default), the ``x`` and ``y``
    of their point; edges are added simplex by simplex. Without ``xy`` the model sees no coordinates (the exact
    cut-edge tests check the graph alone). The design and exact tests chose their instances by seed on this draw
    order, so it must not change.
    """
    import itertools

    import networkx as nx
    import numpy as np
    from scipy.spatial import Delaunay

    rng = np.random.default_rng(seed)
    pts = rng.random((n, 2)) * 1000
    g = nx.Graph()
    for i, (x, y) in enumerate(pts.tolist()):
        g.add_node(i, **({"x": x, "y": y} if xy else {}), pop=float(rng.integers(1, 10)))
    for simplex in Delaunay(pts).simplices.tolist():
        for a, b in itertools.combinations(simplex, 2):
            g.add_edge(a, b)
    return g


@pytest.fixture(name="delaunay_pop_map", scope="session")
def delaunay_pop_map_fixture():
    return delaunay_pop_map


def run_result(path: Path, text: str, timeout: float = 300) -> dict:
    """Write ``text`` to ``path``, run it with this checkout's package first on the path (not whichever one the
    interpreter has installed), and return the JSON of its last line starting ``RESULT ``; fail with the
    script's stderr when it exits non-zero or prints none."""
    import json
    import subprocess
    import sys

    path.write_text(text)
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=timeout, env=env)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-2000:]
    return json.loads(lines[-1][len("RESULT "):])


@pytest.fixture(name="run_result", scope="session")
def run_result_fixture():
    return run_result


def plan_result_rules(r: dict, k: int, n: int) -> None:
    """The territory plan a script printed keeps every rule, checked on its graph with networkx: ``r["label"]``
    (region -> territory) has ``k`` territories over ``n`` regions, each connected in ``r["edges"]`` with its
    ``r["pop"]`` total within ``[r["lower"], r["upper"]]``, and ``r["objective"]`` is its cut edges."""
    import networkx as nx

    g = nx.Graph(map(tuple, r["edges"]))
    parts: dict[str, list[int]] = {}
    for v, t in r["label"].items():
        parts.setdefault(t, []).append(int(v))
    assert len(parts) == k and sum(map(len, parts.values())) == n
    for members in parts.values():
        assert nx.is_connected(g.subgraph(members))
        assert r["lower"] - 1e-6 <= sum(r["pop"][v] for v in members) <= r["upper"] + 1e-6
    label = {int(v): t for v, t in r["label"].items()}
    assert r["objective"] == sum(label[u] != label[v] for u, v in g.edges)


@pytest.fixture(name="plan_result_rules", scope="session")
def plan_result_rules_fixture():
    return plan_result_rules


def partitions(g: nx.Graph, k: int, lo: float, hi: float, attr: str = "pop", connected: bool = True
               ) -> Iterator[np.ndarray]:
    """Every labelling of ``g``'s nodes into ``k`` non-empty parts, each part's ``attr`` total in [lo, hi].

    A label vector follows ``list(g.nodes)``; the first node is in part 0, the others take every label in
    ``itertools.product`` order, so a partition into k parts comes (k-1)! times (once per naming of the other
    parts). ``connected`` (default) keeps only partitions whose parts are all connected subgraphs. Totals are
    float sums of the node attribute (exact for whole-number loads).
    """
    import itertools

    import networkx as nx
    import numpy as np

    nodes = list(g.nodes)
    n = len(nodes)
    load = np.array([g.nodes[v][attr] for v in nodes], dtype=float)
    rest = np.array(list(itertools.product(range(k), repeat=n - 1)), dtype=np.int64).reshape(-1, n - 1)
    labels = np.c_[np.zeros(len(rest), dtype=np.int64), rest]
    keep = np.ones(len(labels), dtype=bool)
    for t in range(k):  # the balance of every labelling at once; connectivity only for the balanced ones
        member = labels == t
        total = member @ load
        keep &= member.any(axis=1) & (total >= lo) & (total <= hi)
    for lab in labels[keep]:
        if not connected or all(nx.is_connected(g.subgraph([nodes[i] for i in np.flatnonzero(lab == t)]))
                                for t in range(k)):
            yield lab


def brute_force(g: nx.Graph, k: int, lo: float, hi: float, attr: str = "pop", objective: str = "cut_edges",
                weight=None, dist=None, connected: bool = True) -> float:
    """The best objective over :func:`partitions` ``(g, k, lo, hi, attr, connected)``; inf when there is none.

    ``objective="cut_edges"``: edges of ``g`` whose ends are in different parts. ``"compactness"``: the sum over
    parts of ``min over c in part of sum over v in part of weight[v] * dist[v][c]`` (each part's weighted distance
    to its best centre), ``weight`` and ``dist`` indexed by position in ``list(g.nodes)``.
    """
    import numpy as np

    pos = {v: i for i, v in enumerate(g.nodes)}
    edges = np.array([(pos[u], pos[v]) for u, v in g.edges], dtype=np.int64).reshape(-1, 2)
    best = np.inf
    for lab in partitions(g, k, lo, hi, attr, connected):
        if objective == "cut_edges":
            cost = float((lab[edges[:, 0]] != lab[edges[:, 1]]).sum())
        elif objective == "compactness":
            parts = [np.flatnonzero(lab == t).tolist() for t in range(k)]
            cost = sum(min(sum(weight[v] * dist[v][c] for v in p) for c in p) for p in parts)
        else:
            raise ValueError(f"objective must be 'cut_edges' or 'compactness', got {objective!r}")
        best = min(best, cost)
    return float(best)


@pytest.fixture(name="partitions", scope="session")
def partitions_fixture():
    return partitions


@pytest.fixture(name="brute_force", scope="session")
def brute_force_fixture():
    return brute_force


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    # A test that skipped itself for a missing resource with a plain pytest.skip
    # ("[needs resource] ...") fails under CI as well.
    outcome = yield
    report = outcome.get_result()
    if in_ci() and report.skipped and call.excinfo is not None:
        reason = str(call.excinfo.value)
        if RESOURCE in reason:
            report.outcome = "failed"
            report.longrepr = f"CI must run this check. {reason}"


def benchdata_dir() -> Path | None:
    """``../shared/benchdata`` next to the clone (CI and developers have it; users do not)."""
    env = os.environ.get("CHANNELOPT_BENCHDATA")
    for cand in [Path(env)] if env else [ROOT.parent / "shared" / "benchdata"]:
        if cand.is_dir():
            return cand
    return None


@pytest.fixture(scope="session")
def benchdata() -> Path:
    path = benchdata_dir()
    need_resource(path is not None, "the published benchmark data (../shared/benchdata)",
                  "put it beside the clone or set CHANNELOPT_BENCHDATA to its folder")
    return path
