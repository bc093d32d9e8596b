"""Ctrl-C and the clock reach the sub-solves of the radius strategy and of restricted ``candidates``.

A real SIGINT goes to a real Python process solving without a time limit. The
process marks the phase it is in: each solver call through the caller's
:class:`~channelopt.Solver` (a subclass that prints before calling the real solver),
and the start of the radius Lagrangian stage. A sub-solve on a fresh ``Solver`` of
its own (the old code) never prints, so these tests fail there.
"""

from __future__ import annotations

import itertools
import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import channelopt as co

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent('''
    import sys, warnings
    import numpy as np
    import channelopt as co
    from channelopt.models.distributors import radius

    class Marked(co.Solver):
        """The caller's solver: says when one of its calls starts."""
        def _run(self, a, start):
            print("CALL", "mip" if a.is_mip else "lp", flush=True)
            return super()._run(a, start)

    real = radius.median_lagrangian
    def marked_lagrangian(*args, **kwargs):
        print("LAGRANGIAN", flush=True)
        return real(*args, **kwargs)
    radius.median_lagrangian = marked_lagrangian
    real_branch = radius.branch
    def marked_branch(*args, **kwargs):
        print("BRANCH", flush=True)
        return real_branch(*args, **kwargs)
    radius.branch = marked_branch

    warnings.simplefilter("ignore")
    case, n, m, k = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    rng = np.random.default_rng(0)
    pts = rng.random((n, 2))
    cost = np.round(np.sqrt(((pts[:, None] - pts[rng.choice(n, m, replace=False)][None]) ** 2).sum(-1)) * 1000)
    if case == "restricted":
        demand = rng.integers(1, 10, n).astype(float)
        net = co.ChannelNetwork.from_cost_matrix(cost * demand[:, None], demand=demand, distances=cost,
                                                 fixed_cost=np.full(m, 3000.0))
        model = co.DistributorSelection(objective="min_cost", candidates=k, strategy="mip")
    else:
        if case in ("radius-mip", "radius-branch"):
            radius.LAGRANGIAN_SECONDS = 0.05  # a weak bound: the MIP / the tree has to run
        if case == "radius-branch":
            radius.NODE_ITERATIONS = 1  # weak node bounds: a tree that runs for long
        net = co.ChannelNetwork.from_cost_matrix(cost, distances=cost)
        # a max_new row (not binding) sends the model to the radius MIP instead of the tree
        model = co.DistributorSelection(objective="p_median", p=k, strategy="radius",
                                        max_new=k if case == "radius-mip" else None)
    np.save(sys.argv[5], net.costs())
    try:
        plan = model.build(net).solve(Marked())
    except KeyboardInterrupt:
        print("RESULT KeyboardInterrupt", flush=True)
        sys.exit(130)
    opened = plan.distributors["open"].to_numpy().astype(bool)
    np.save(sys.argv[6], opened)
    print("RESULT", plan.status, plan.info.termination, repr(plan.objective), repr(plan.bound), flush=True)
    print("MESSAGE", plan.info.message, flush=True)
''')


def interrupt_at(tmp_path, case: str, size: tuple[int, int, int], marker: str, after: float):
    """Run ``case``; send SIGINT ``after`` seconds past the first ``marker`` line. Returns the lines
    printed after the signal, the exit code, the network's costs and the open distributors."""
    script = tmp_path / "solve.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    costs, opened = tmp_path / "costs.npy", tmp_path / "open.npy"
    proc = subprocess.Popen([sys.executable, str(script), case, *map(str, size), str(costs), str(opened)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(row) for row in proc.stdout] + [lines.put(None)], daemon=True).start()
    before: list[str] = []
    try:
        while True:  # a guard against a hang, not a timing claim
            row = lines.get(timeout=90)
            if row is None or row.startswith("RESULT"):
                pytest.fail(f"the solve never reached {marker!r} through the caller's Solver: {''.join(before)}")
            before.append(row)
            if row.strip() == marker:
                break
        time.sleep(after)
        proc.send_signal(signal.SIGINT)
        after_lines = []
        while (row := lines.get(timeout=90)) is not None:
            after_lines.append(row.strip())
        proc.wait(timeout=30)
    except queue.Empty:
        proc.kill()
        pytest.fail(f"Ctrl-C did not stop the {case} solve: {''.join(before)[-500:]}")
    opened_mask = np.load(opened) if opened.exists() else None
    return after_lines, proc.returncode, np.load(costs), opened_mask


def _result(lines):
    # a marker line the signal cut short before its newline ("LAGRANGIAN" + "RESULT ...") joins the next
    row = next(r[r.index("RESULT"):] for r in lines if "RESULT" in r)
    assert row != "RESULT KeyboardInterrupt", f"Ctrl-C lost the plan in hand: {lines}"
    _, status, termination, objective, bound = row.split()
    message = next((r[r.index("MESSAGE"):] for r in lines if "MESSAGE" in r), "")
    return status, termination, float(objective), float(bound), message


def test_ctrl_c_in_the_radius_lagrangian_stage_returns_the_heuristic_plan(tmp_path):
    # 3000 x 300, p=30: the root Lagrangian stage runs for seconds (900,000 links) without proving the plan
    lines, code, costs, opened = interrupt_at(tmp_path, "radius", (3000, 300, 30), "LAGRANGIAN", after=1.0)
    status, termination, objective, bound, _ = _result(lines)
    assert code == 0, lines
    assert (status, termination) == ("feasible", "interrupted")
    assert int(opened.sum()) == 30
    # the plan's objective is its own p-median cost, computed here from the costs
    assert objective == pytest.approx(costs[:, opened].min(axis=1).sum())
    assert np.isnan(bound)  # the Lagrangian stage was cut short: no bound is claimed
    assert not any(r.startswith("CALL") for r in lines)  # no MIP started after Ctrl-C


def test_ctrl_c_in_the_radius_mip_stops_it_and_starts_no_other_round(tmp_path):
    # 1200 x 300, p=40: rounds of ~0.25 s at first (800 x 200, p=20 was proven in one round before a signal
    # 1.5 s later). The signal goes at once, so it lands in the first round or in the loop's own Python
    # steps around it, which used to let KeyboardInterrupt escape and lose the plan in hand
    lines, code, costs, opened = interrupt_at(tmp_path, "radius-mip", (1200, 300, 40), "CALL mip", after=0.0)
    status, termination, objective, bound, _ = _result(lines)
    assert code == 0, lines
    assert (status, termination) == ("feasible", "interrupted")
    assert not any(r.startswith("CALL") for r in lines)  # the interrupted round was the last one
    assert int(opened.sum()) == 40
    assert objective == pytest.approx(costs[:, opened].min(axis=1).sum())
    assert 0 < bound <= objective  # the Lagrangian bound: a real bound, below the plan


def test_ctrl_c_in_the_radius_branch_and_bound_returns_its_best_plan_and_bound(tmp_path):
    lines, code, costs, opened = interrupt_at(tmp_path, "radius-branch", (800, 200, 20), "BRANCH", after=1.5)
    status, termination, objective, bound, message = _result(lines)
    assert code == 0, lines
    assert (status, termination) == ("feasible", "interrupted")
    assert not any(r.startswith("CALL") for r in lines)  # no MIP after the tree
    assert int(opened.sum()) == 20
    assert objective == pytest.approx(costs[:, opened].min(axis=1).sum())
    assert 0 < bound < objective  # the open nodes' bound: a real bound, below the plan


def test_ctrl_c_in_the_restricted_full_lp_bound_returns_the_restricted_plan(tmp_path):
    # candidates=3 on 600 x 60 uncapacitated min_cost: the restricted MIP is quick, then about
    # 15 LPs of column generation for the full problem's bound, then a widened MIP
    lines, code, costs, opened = interrupt_at(tmp_path, "restricted", (600, 60, 3), "CALL lp", after=0.0)
    status, termination, objective, bound, message = _result(lines)
    assert code == 0, lines
    assert (status, termination) == ("feasible", "interrupted")
    assert np.isnan(bound)
    assert "Ctrl-C stopped the full-problem bound" in message
    assert not any(r.startswith("CALL") for r in lines)  # neither another LP nor the widened MIP


def test_restricted_sub_solves_run_on_the_callers_clock():
    calls = []

    class Recording(co.Solver):
        def _run(self, a, start):
            calls.append((a.is_mip, self._deadline, self.remaining()))
            return super()._run(a, start)

    rng = np.random.default_rng(3)
    cost = rng.integers(1, 50, (40, 8)).astype(float)
    net = co.ChannelNetwork.from_cost_matrix(cost, fixed_cost=np.full(8, 30.0))
    built = co.DistributorSelection(objective="min_cost", candidates=2, strategy="mip").build(net)
    solver = Recording(time_limit=120).start_clock()
    plan = built.solve(solver)
    lps = [c for c in calls if not c[0]]
    assert lps, "the full-problem LP bound was not solved through the caller's Solver"
    for _, deadline, left in calls:
        chain = []
        while deadline is not None:
            chain.append(deadline)
            deadline = deadline.parent
        assert solver.deadline in chain  # every call draws on the one clock
        assert left <= 120
    # the bound holds for the full problem: brute force over every open set
    fixed = 30.0
    best = min(fixed * len(s) + cost[:, list(s)].min(axis=1).sum()
               for r in range(1, 9) for s in itertools.combinations(range(8), r))
    assert plan.info.bound <= best + 1e-6
    assert plan.objective >= best - 1e-6
