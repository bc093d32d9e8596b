"""A HiGHS run channelopt stopped waiting for must not abort the process at exit.

highspy solves in a daemon thread; one still inside HiGHS at interpreter exit made C++
abort the process (exit status 134, "terminate called without an active exception")
after the user's script had finished. The script below forces the watchdog to give up
on a run at once, so the path is exercised on every run of the test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent('''
    import warnings
    import numpy as np
    import pandas as pd
    import pulp
    import channelopt as co
    import channelopt.solver as cs
    from channelopt.metrics import Metrics
    from channelopt.models._base import Model
    from channelopt.plan import Plan

    import highspy

    cs.CANCEL_WAIT = -1.0   # give up on a stopped run at once
    cs.HIGHS_GRACE = 0.0
    # a run that ignores being told to stop (as HiGHS's full MIP presolve does), ending by its own limit
    highspy.Highs.cancelSolve = lambda self: None
    _set = highspy.Highs.setOptionValue

    def set_option(self, key, value):
        return highspy.HighsStatus.kOk if (key, value) == ("time_limit", 0.0) else _set(self, key, value)

    highspy.Highs.setOptionValue = set_option

    class Mkp(Model):
        kind = "mkp"
        sense = pulp.LpMaximize

        def __init__(self):
            pass

        def _build_arrays(self, net, ap):
            rng = np.random.default_rng(1)
            x = ap.add_vars("x", 300, upper=1, integer=True, cost=rng.integers(50, 100, 300))
            for r in range(40):
                ap.add_row(f"w{r}", x.index, rng.integers(20, 60, 300), "<=", 3000)
            return {"x": x}

        def _extract(self, net, state, info):
            return Plan(kind=self.kind, info=info, assignments=pd.DataFrame({"take": state["x"].value}),
                        metrics=Metrics())

    warnings.simplefilter("ignore")
    try:
        # HiGHS's own limit of 4 s: the watchdog gives up on the run after 1 s, and it ends by itself
        Mkp().solve(None, co.Solver("highs", time_limit=1, options={"time_limit": 4.0}))
    except co.NoSolutionError:
        pass
    print("ABANDONED", len(cs._ABANDONED), flush=True)
''')


def test_process_exits_cleanly_after_an_abandoned_highs_run(tmp_path):
    script = tmp_path / "abandon.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300)
    assert "ABANDONED 1" in done.stdout, (done.stdout, done.stderr)
    assert "terminate called" not in done.stderr
    assert done.returncode == 0, done.stderr
    assert "waiting for 1 stopped HiGHS run(s) to end before exit" in done.stderr


def test_ctrl_c_while_waiting_at_exit_for_a_stopped_run_exits_at_once(tmp_path):
    # the stopped run goes on for its own 120 s; Ctrl-C during the wait at exit leaves with 130
    script = tmp_path / "abandon.py"
    script.write_text(SCRIPT.replace('options={"time_limit": 4.0}', 'options={"time_limit": 120.0}'))
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    line = proc.stderr.readline()
    while line and "waiting for 1 stopped HiGHS run(s) to end before exit" not in line:
        line = proc.stderr.readline()
    assert "Ctrl-C to exit at once" in line
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)  # a guard against a hang (the run has 100+ s to go)
    assert "ABANDONED 1" in out
    assert proc.returncode == 130
    assert "terminate called" not in err
