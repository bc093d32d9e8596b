"""Ctrl-C stops a solve: a real SIGINT to a real Python process solving a hard model without a limit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import channelopt as co
from channelopt.metrics import Metrics
from channelopt.models._base import Model
from channelopt.plan import Plan

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent('''
    import sys, warnings
    import numpy as np
    import pandas as pd
    import pulp
    import channelopt as co
    from channelopt.metrics import Metrics
    from channelopt.models._base import Model
    from channelopt.plan import Plan

    class Mkp(Model):
        """A 150 x 20 multi-dimensional knapsack: a plan at once, optimality far away."""
        kind = "mkp"
        sense = pulp.LpMaximize

        def __init__(self, *, stall_heuristic=False):
            self.stall_heuristic = stall_heuristic

        def _build_arrays(self, net, ap):
            rng = np.random.default_rng(1)
            x = ap.add_vars("x", 150, upper=1, integer=True, cost=rng.integers(50, 100, 150))
            for r in range(20):
                ap.add_row(f"w{r}", x.index, rng.integers(20, 60, 150), "<=", 1500)
            return {"x": x}

        def _warm_start(self, net, state):
            if self.stall_heuristic:
                print("HEURISTIC", flush=True)
                import time
                time.sleep(600)
            return None

        def _extract(self, net, state, info):
            return Plan(kind=self.kind, info=info, assignments=pd.DataFrame({"take": state["x"].value}),
                        metrics=Metrics())

    warnings.simplefilter("ignore")
    name, stall = sys.argv[1], sys.argv[2] == "stall"
    model = Mkp(stall_heuristic=stall)
    if not stall:
        print("SOLVING", flush=True)
    try:
        plan = model.solve(None, co.Solver(name, time_limit=None))
    except KeyboardInterrupt:
        print("RESULT KeyboardInterrupt", flush=True)
        sys.exit(130)
    take = plan.assignments["take"].to_numpy()
    print("RESULT", plan.status, plan.info.termination, plan.objective, plan.bound, int(take.sum()), flush=True)
''')


def interrupt(tmp_path, solver: str, mode: str, after: float) -> tuple[str, int, float]:
    script = tmp_path / "solve.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, str(script), solver, mode], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)
    first = proc.stdout.readline()
    assert first.strip() in ("SOLVING", "HEURISTIC"), first
    time.sleep(after)
    sent = time.perf_counter()
    proc.send_signal(signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=120)  # a guard against a hang, not a timing claim
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        pytest.fail(f"Ctrl-C did not stop the {solver} solve: {out[-500:]}")
    return out, proc.returncode, time.perf_counter() - sent


@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_ctrl_c_returns_the_best_plan_so_far(tmp_path, solver):
    out, code, _ = interrupt(tmp_path, solver, "plain", after=3.0)
    line = next(row for row in out.splitlines() if row.startswith("RESULT"))
    _, status, termination, objective, bound, taken = line.split()
    assert code == 0, out
    assert (status, termination) == ("feasible", "interrupted")
    assert int(taken) > 0 and float(objective) > 0
    assert float(bound) >= float(objective)  # a real bound of the maximisation, not NaN


def test_ctrl_c_before_any_plan_raises_keyboard_interrupt(tmp_path):
    out, code, _ = interrupt(tmp_path, "highs", "stall", after=0.5)
    assert "RESULT KeyboardInterrupt" in out
    assert code == 130


class TinyLocation(Model):
    """Open one of two distributors for two outlets (costs [[1, 2], [2, 1]], no fixed cost)."""

    kind = "tiny"

    def __init__(self, *, start: bool = False):
        self.start = start

    def _build_arrays(self, net, ap):
        x = ap.add_vars("x", (2, 2), upper=1.0, cost=[[1.0, 2.0], [2.0, 1.0]])
        y = ap.add_vars("y", 2, upper=1.0, integer=True)
        ap.add_rows("assign", rows=[0, 0, 1, 1], cols=x.index, sense="==", rhs=1.0)
        ap.add_rows("link", rows=np.r_[0:4, 0:4], cols=np.r_[x.index, y[[0, 1, 0, 1]]],
                    coefs=np.r_[np.ones(4), -np.ones(4)], sense="<=", rhs=0.0)
        ap.add_row("p", y.index, 1.0, "==", 1.0)
        return {"x": x, "y": y}

    def _warm_start(self, net, state):
        # open d0 and serve both outlets from it: cost 1 + 2 = 3
        return {state["x"]: [1, 0, 1, 0], state["y"]: [1, 0]} if self.start else None

    def _extract(self, net, state, info):
        return Plan(kind=self.kind, info=info, assignments=pd.DataFrame({"open": state["y"].value}),
                    metrics=Metrics())


def test_interrupted_no_plan_in_process():
    from channelopt.solver import SolveInfo

    class Interrupted(co.Solver):
        def _run(self, a, start):
            self.deadline.interrupt()
            return SolveInfo(self.name, "no_solution", "interrupted"), None, None

    with pytest.raises(KeyboardInterrupt, match="interrupted before any feasible plan"):
        TinyLocation().solve(None, Interrupted())
    # With the heuristic's plan in hand, that plan comes back, marked as interrupted.
    with pytest.warns(co.NotOptimalWarning, match="feasible \\(interrupted\\)"):
        plan = TinyLocation(start=True).solve(None, Interrupted())
    assert (plan.status, plan.info.termination) == ("feasible", "interrupted")
    assert "no better plan than the warm start" in plan.info.message
    assert plan.objective == pytest.approx(3.0)  # brute force: open d0 (1 + 2) or d1 (2 + 1)
    assert list(plan.assignments["open"]) == [1.0, 0.0]
