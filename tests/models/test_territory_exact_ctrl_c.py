"""Ctrl-C in the opt-in exact stages (branch-and-price, root cut-and-price): a real SIGINT to the solving process.

The SIGINT lands while a pricing MIP of the stage's second pass of exact pricing runs in HiGHS's worker thread (a
thread sends it once that run has started; the run coming back interrupted shows it landed there). The solve must
stop there: no pricing MIP starts after it, no later stage or MILP runs, and the plan in hand comes back marked
interrupted, keeping every rule, with a bound that never passes the optimum (the default exact path's, proven in a
solve of its own).
"""

from __future__ import annotations

import warnings

import pytest

import channelopt as co
from channelopt.datasets import synthetic_dual_graph
from channelopt.models.territories import TerritoryDesign

N, SEED, K, TOL = 30, 2, 4, 0.05

SCRIPT = '''
import json, os, signal, threading, time, warnings
import channelopt as co
import channelopt.solver as cs
from channelopt.datasets import synthetic_dual_graph
from channelopt.models.territories import TerritoryDesign, branchprice, columns, cutprice

STAGE = "__STAGE__"
g = synthetic_dual_graph(__N__, seed=__SEED__)
total = sum(p for _, p in g.nodes(data="TOTPOP"))
lower, upper = (1 - __TOL__) * total / __K__, (1 + __TOL__) * total / __K__
module = branchprice if STAGE == "branchprice" else cutprice
module.STAGE = True
# a pass of exact pricing (every root's MIP) begins with one call of this method
hook, name = (branchprice._Tree, "price") if STAGE == "branchprice" else (cutprice._CutRootPricing, "set_sigma")
passes = [0]
counted = getattr(hook, name)

def count(self, *args, **kwargs):
    passes[0] += 1
    return counted(self, *args, **kwargs)

setattr(hook, name, count)
pressed = {"at": None, "inside": None}
pricing = {"before": 0, "after": 0}
solve = columns._Pricing.solve

def counted_solve(self, *args, **kwargs):
    pricing["after" if pressed["at"] is not None else "before"] += 1
    return solve(self, *args, **kwargs)

columns._Pricing.solve = counted_solve
run = cs._run_interruptible

def run_with_ctrl_c(h, deadline, limit):
    # the first pricing MIP of the second pass: a real SIGINT once its run has started in HiGHS's worker thread
    if passes[0] < 2 or pressed["inside"] is not None:
        return run(h, deadline, limit)

    def press():
        while not any(t.name == "channelopt-highs" for t in threading.enumerate()):
            time.sleep(0.001)
        time.sleep(0.01)
        pressed["at"] = time.perf_counter()
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=press, daemon=True).start()
    out = run(h, deadline, limit)
    pressed["inside"] = out[1]  # the run came back interrupted: the SIGINT landed inside it
    return out

cs._run_interruptible = run_with_ctrl_c
net = co.ChannelNetwork.from_graph(g, ["TOTPOP"])
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    # no time limit: only Ctrl-C ends this solve before the stage's own 120-600 s
    plan = TerritoryDesign(k=__K__, objective="cut_edges", balance={"TOTPOP": (lower, upper)}).solve(
        net, solver=co.Solver("highs", threads=1))
a = plan.assignments
print("RESULT " + json.dumps({"status": plan.status, "termination": plan.info.termination, "passes": passes[0],
                              "pricing": pricing, "inside": pressed["inside"], "message": plan.info.message,
                              "seconds": None if pressed["at"] is None else time.perf_counter() - pressed["at"],
                              "objective": plan.objective, "bound": plan.bound,
                              "label": dict(zip(map(int, a["region_id"]), map(str, a["territory"]))),
                              "edges": [list(e) for e in g.edges], "pop": [g.nodes[v]["TOTPOP"] for v in g],
                              "lower": lower, "upper": upper}))
'''


@pytest.fixture(scope="module")
def optimum() -> float:
    """The map's optimum by the default exact path (no opt-in stage), proven."""
    g = synthetic_dual_graph(N, seed=SEED)
    total = sum(p for _, p in g.nodes(data="TOTPOP"))
    net = co.ChannelNetwork.from_graph(g, ["TOTPOP"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plan = TerritoryDesign(k=K, objective="cut_edges", balance={
            "TOTPOP": ((1 - TOL) * total / K, (1 + TOL) * total / K)}).solve(
            net, solver=co.Solver("highs", threads=1, time_limit=120))
    assert plan.status == "optimal"
    return float(plan.objective)


@pytest.mark.parametrize("stage, name", [("branchprice", "branch-and-price's"), ("cutprice", "root cut-and-price's")])
def test_ctrl_c_in_a_pricing_mip_of_the_stage_returns_the_plan_in_hand(tmp_path, run_result, plan_result_rules,
                                                                        optimum, stage, name):
    text = SCRIPT
    for key, value in (("__STAGE__", stage), ("__N__", N), ("__SEED__", SEED), ("__K__", K), ("__TOL__", TOL)):
        text = text.replace(key, str(value))
    r = run_result(tmp_path / f"{stage}_sigint.py", text)
    assert r["inside"] is True  # the SIGINT landed in a pricing MIP of the stage's second pass
    assert r["passes"] == 2 and r["pricing"]["before"] > 0
    assert r["pricing"]["after"] == 0  # no pricing MIP started after it
    assert (r["status"], r["termination"]) == ("feasible", "interrupted")
    assert "interrupted before the solver call" in r["message"]  # the MILP never ran
    assert name in r["message"]  # the stage's first pass gave the bound (above the planar search's)
    plan_result_rules(r, K, N)
    assert r["objective"] >= optimum
    assert r["bound"] is not None and r["bound"] <= optimum
