"""Scenario files, run_scenarios (store, resume, failures), compare_results and pareto_front."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import channelopt as co
from channelopt.scenarios import (
    ScenarioFileError,
    compare_results,
    load_result,
    load_scenarios,
    pareto_front,
    run_scenarios,
    scenarios_from_dict,
    slug,
)

SMALL = {"synthetic": {"n_regions": 10, "n_outlets": 90, "n_distributors": 5, "seed": 4}}


def _pm(p, name=None, network=SMALL, **kw):
    return co.Scenario(name=name or f"p{p}", network=network, model="DistributorSelection",
                       params={"objective": "p_median", "p": p, **kw})


def _write(tmp_path, name, text):
    f = tmp_path / name
    f.write_text(textwrap.dedent(text), encoding="utf-8")
    return f


# ----------------------------------------------------------------------------- files
def test_toml_base_overrides_and_grid(tmp_path):
    f = _write(tmp_path, "s.toml", """
        [base]
        name = "pm"
        network = { synthetic = { n_regions = 8, n_outlets = 60, n_distributors = 4, seed = 2 } }
        params = { objective = "p_median", p = 2 }
        solver = { name = "highs", time_limit = 30 }

        [[scenarios]]
        name = "a"

        [[scenarios]]
        name = "b"
        params = { capacitated = true }
        solver = { name = "cbc" }

        [grid]
        p = [2, 3]
        "network.synthetic.seed" = [0, 1]
        """)
    sc = load_scenarios(f)
    assert [s.name for s in sc] == ["a[p=2,seed=0]", "a[p=2,seed=1]", "a[p=3,seed=0]", "a[p=3,seed=1]",
                                    "b[p=2,seed=0]", "b[p=2,seed=1]", "b[p=3,seed=0]", "b[p=3,seed=1]"]
    b = sc[-1]
    # params and solver merge key by key over the base; the grid wins over both.
    assert b.params == {"objective": "p_median", "p": 3, "capacitated": True}
    assert b.build_solver() == co.Solver("cbc", time_limit=30)
    assert b.network["synthetic"]["seed"] == 1 and b.network["synthetic"]["n_outlets"] == 60
    assert b.tags == {"p": 3, "network.synthetic.seed": 1}
    # The base spec is not shared between scenarios (no aliasing through the merge).
    assert sc[0].network["synthetic"]["seed"] == 0


def test_yaml_file_same_as_dict(tmp_path):
    f = _write(tmp_path, "s.yaml", """
        base:
          network: {example: nc}
          params: {objective: p_median}
        scenarios:
          - {name: small, params: {p: 2}}
          - {name: large, params: {p: 6}}
        """)
    from_file = load_scenarios(f)
    from_dict = scenarios_from_dict({"base": {"network": {"example": "nc"}, "params": {"objective": "p_median"}},
                                     "scenarios": [{"name": "small", "params": {"p": 2}},
                                                   {"name": "large", "params": {"p": 6}}]})
    assert [(s.name, s.params, s.network) for s in from_file] == [(s.name, s.params, s.network) for s in from_dict]


def test_malformed_toml_names_line(tmp_path):
    f = _write(tmp_path, "bad.toml", """
        [base]
        name = "x"
        params = { p = 3
        """)
    with pytest.raises(ScenarioFileError, match=r"malformed TOML.*line 4") as err:
        load_scenarios(f)
    assert err.value.line == 4


def test_malformed_yaml_names_line(tmp_path):
    f = _write(tmp_path, "bad.yaml", """
        base:
          params: {p: 3
        scenarios: []
        """)
    with pytest.raises(ScenarioFileError, match=r"malformed YAML at line \d+") as err:
        load_scenarios(f)
    assert err.value.line is not None and err.value.line >= 3


def test_unknown_parameter_names_key_line_and_known_params(tmp_path):
    f = _write(tmp_path, "s.yaml", """
        base:
          network: {example: nc}
          params: {objective: p_median, p: 3}
        scenarios:
          - name: ok
          - name: typo
            params: {pp: 4}
        """)
    with pytest.raises(ScenarioFileError) as err:
        load_scenarios(f)
    msg = str(err.value)
    assert "scenarios[1].params.pp" in msg and "(line 8)" in msg
    assert "DistributorSelection has no parameter 'pp'" in msg and "max_distance" in msg
    assert err.value.key == "scenarios[1].params.pp" and err.value.line == 8


@pytest.mark.parametrize("spec, key, words", [
    ({"bases": {}}, "bases", "unknown key 'bases'"),
    ({"base": {"modle": "x"}}, "base.modle", "unknown key 'modle'"),
    ({"base": {"model": "Nope"}}, "base.model", "unknown model 'Nope'"),
    ({"base": {"network": {"exmple": "nc"}}}, "base.network", "'exmple'"),
    ({"base": {"network": {"example": "atlantis"}}}, "base.network.example", "unknown example"),
    ({"base": {"solver": {"nme": "cbc"}}}, "base.solver", "Solver has no setting 'nme'"),
    ({"grid": {"p": 3}}, "grid.p", "non-empty list"),
    ({"scenarios": [{"name": "a"}, {"name": "a"}]}, "scenarios", "repeated: ['a']"),
    ({"base": {"model": "ChannelPlanner", "params": {"territories": {"k": 3}}}}, "base.params.territories.k",
     "set by the planner"),
])
def test_bad_specs_name_the_key(spec, key, words):
    with pytest.raises(ScenarioFileError) as err:
        scenarios_from_dict(spec)
    assert err.value.key == key
    assert words in str(err.value)


def test_files_are_not_executed(tmp_path):
    # A YAML python tag must be refused by safe_load, not run.
    f = _write(tmp_path, "evil.yaml", """
        base: !!python/object/apply:os.system ["echo pwned > pwned.txt"]
        """)
    with pytest.raises(ScenarioFileError):
        load_scenarios(f)
    assert not (tmp_path / "pwned.txt").exists()


def test_example_files_parse():
    from pathlib import Path

    folder = Path(__file__).resolve().parents[1] / "examples" / "scenarios"
    files = sorted(folder.glob("*.*"))
    assert len(files) >= 3
    for f in files:
        sc = load_scenarios(f)
        assert sc and all(s.build_model() is not None for s in sc)


# ----------------------------------------------------------------------------- running
def test_reference_interface_matches_direct_solves(tmp_path):
    net = co.make_synthetic(10, 90, 5, seed=4)
    sc = [co.Scenario(name=f"p{p}", network=net, model=co.DistributorSelection(objective="p_median", p=p))
          for p in range(2, 6)]
    res = run_scenarios(sc, out=tmp_path, executor="serial", resume=True, progress=False)
    assert res["name"].tolist() == ["p2", "p3", "p4", "p5"]
    assert (res["status"] == "optimal").all()
    for p, obj in zip(range(2, 6), res["objective"]):
        direct = co.DistributorSelection(objective="p_median", p=p).solve(net).objective
        assert obj == pytest.approx(direct, rel=1e-9)
    assert {"numeric_distribution", "weighted_distribution", "total_cost", "gap"} <= set(res.columns)
    # The network object was not shipped as a recipe: the stored result fingerprints it.
    rec = load_result(tmp_path, "p2")
    assert len(rec["scenario"]["network"]["fingerprint"]) == 16


def test_failures_are_recorded_and_batch_carries_on(tmp_path):
    tight = co.ChannelNetwork.from_cost_matrix([[1, 2], [2, 1], [3, 3]], demand=[5, 5, 5], fixed_cost=[1, 1],
                                               capacity=[4, 4])
    sc = [_pm(2, "good"),
          co.Scenario(name="infeasible", network=tight, model=co.DistributorSelection(capacitated=True)),
          co.Scenario(name="unknown_param", network=SMALL, model="DistributorSelection", params={"q": 1}),
          _pm(50, "too_many"),
          co.Scenario(name="bad_recipe", network={"example": "atlantis"}, params={"objective": "p_median", "p": 2}),
          _pm(3, "good2")]
    res = run_scenarios(sc, out=tmp_path, executor="serial", progress=False).set_index("name")
    assert res.loc["good", "status"] == res.loc["good2", "status"] == "optimal"
    assert res.loc["infeasible", "status"] == "infeasible"
    assert res.loc["infeasible", "error_type"] == "InfeasibleError"
    # The error explains itself with the numbers: demand 15 against capacity 8.
    assert "15" in res.loc["infeasible", "error"] and "8" in res.loc["infeasible", "error"]
    assert res.loc["unknown_param", "status"] == "invalid"
    assert "no parameter 'q'" in res.loc["unknown_param", "error"] and "objective" in res.loc["unknown_param", "error"]
    assert res.loc["too_many", "status"] == "invalid" and "50" in res.loc["too_many", "error"]
    assert res.loc["bad_recipe", "status"] == "invalid" and "atlantis" in res.loc["bad_recipe", "error"]
    stored = compare_results(tmp_path).set_index("name")
    assert sorted(stored.index) == sorted(res.index)
    assert stored.loc["infeasible", "error_type"] == "InfeasibleError"
    assert np.isnan(stored.loc["infeasible", "objective"])


def test_resume_solves_only_missing_and_logs_once(tmp_path):
    sc = [_pm(p) for p in (2, 3, 4)]
    first = run_scenarios(sc, out=tmp_path, executor="serial", progress=False)
    assert not first["resumed"].any()
    # Remove one finished marker: only that scenario is solved again.
    (tmp_path / "p3" / "result.json").unlink()
    before = {n: load_result(tmp_path, n)["run_id"] for n in ("p2", "p4")}
    second = run_scenarios(sc, out=tmp_path, executor="serial", progress=False)
    assert second["resumed"].tolist() == [True, False, True]
    assert second["objective"].tolist() == pytest.approx(first["objective"].tolist())
    assert {n: load_result(tmp_path, n)["run_id"] for n in ("p2", "p4")} == before
    log = [json.loads(line) for line in (tmp_path / "solves.log").read_text().splitlines()]
    assert [e["name"] for e in log] == ["p2", "p3", "p4", "p3"]
    # resume=False solves everything again.
    third = run_scenarios(sc, out=tmp_path, executor="serial", resume=False, progress=False)
    assert not third["resumed"].any()
    assert not list(tmp_path.rglob("*.tmp"))


def test_retry_failed(tmp_path):
    sc = [_pm(50, "bad")]
    run_scenarios(sc, out=tmp_path, executor="serial", progress=False)
    again = run_scenarios(sc, out=tmp_path, executor="serial", progress=False)
    assert again["resumed"].tolist() == [True]
    fixed = [_pm(2, "bad")]
    retried = run_scenarios(fixed, out=tmp_path, executor="serial", progress=False, retry_failed=True)
    assert retried["status"].tolist() == ["optimal"] and retried["resumed"].tolist() == [False]


def test_stored_result_reproduces(tmp_path):
    sc = [co.Scenario(name="td", network=SMALL, model="TerritoryDesign",
                      params={"k": 3, "objective": "compactness", "balance": {"workload": 0.4}}, seed=11,
                      solver={"name": "highs", "time_limit": 30})]
    res = run_scenarios(sc, out=tmp_path, executor="serial", progress=False)
    rec = load_result(tmp_path, "td")
    assert rec["scenario"]["params"]["seed"] == 11          # the seed reached the model
    assert rec["scenario"]["solver"]["time_limit"] == 30
    again = co.Scenario.from_dict(rec["scenario"])
    plan = again.build_model().solve(again.build_network(), solver=again.build_solver())
    assert plan.objective == pytest.approx(res["objective"].iloc[0], rel=1e-9)
    tables = set(rec["tables"])
    assert {"assignments", "territories"} <= tables
    assignments = pd.read_parquet(tmp_path / slug("td") / "assignments.parquet")
    assert len(assignments) == 10 and assignments["territory"].nunique() == 3


def test_duplicate_names_and_bad_executor(tmp_path):
    with pytest.raises(co.SettingsError, match="repeated"):
        run_scenarios([_pm(1, "a"), _pm(2, "a")], out=tmp_path, progress=False)
    with pytest.raises(co.SettingsError, match="executor must be one of"):
        run_scenarios([_pm(1)], out=tmp_path, executor="threads", progress=False)


def test_process_pool_matches_serial(tmp_path):
    sc = [_pm(p) for p in (2, 3, 4, 5)]
    serial = run_scenarios(sc, executor="serial", progress=False)
    pooled = run_scenarios(sc, out=tmp_path, executor="processes", workers=2, progress=False)
    assert pooled["name"].tolist() == serial["name"].tolist()
    assert pooled["objective"].tolist() == pytest.approx(serial["objective"].tolist(), rel=1e-9)
    pids = {load_result(tmp_path, n)["pid"] for n in pooled["name"]}
    import os

    assert os.getpid() not in pids


# ----------------------------------------------------------------------------- pareto
def test_pareto_front_example():
    df = pd.DataFrame({"name": list("abcde"), "status": ["optimal"] * 4 + ["infeasible"],
                       "wd": [0.9, 0.8, 0.95, 0.7, 1.0], "cost": [10, 12, 20, 5, 1]})
    front = pareto_front(df, maximize=["wd"], minimize=["cost"])
    assert front["name"].tolist() == ["c", "a", "d"]
    with pytest.raises(co.SettingsError, match="no column 'roi'"):
        pareto_front(df, maximize=["roi"])


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), min_size=1, max_size=25))
def test_pareto_front_property(points):
    df = pd.DataFrame(points, columns=["wd", "cost"])
    front = pareto_front(df, maximize=["wd"], minimize=["cost"])
    inside = set(front.index)

    def dominates(j, i):
        return (df.wd[j] >= df.wd[i] and df.cost[j] <= df.cost[i]
                and (df.wd[j] > df.wd[i] or df.cost[j] < df.cost[i]))

    for i in df.index:
        dominated = any(dominates(j, i) for j in df.index)
        assert (i in inside) == (not dominated)


# ---------------------------------------------------------------- issue 10 item 18
_SCRIPT = '''
import channelopt as co
recipe = {{"synthetic": {{"n_regions": 6, "n_outlets": 40, "n_distributors": 4, "seed": 1}}}}
sc = [co.Scenario(name=f"p{{p}}", network=recipe, model="DistributorSelection",
                  params={{"objective": "p_median", "p": p}}) for p in (1, 2)]
{guard}
{indent}res = co.run_scenarios(sc, executor="processes", workers=2, progress=False)
{indent}print("STATUS", ",".join(res["status"]))
'''


def _run_script(tmp_path, guard: str):
    import subprocess
    import sys
    from pathlib import Path

    script = tmp_path / "batch.py"
    body = _SCRIPT.format(guard='if __name__ == "__main__":' if guard else "", indent="    " if guard else "")
    script.write_text(body, encoding="utf-8")
    root = str(Path(__file__).resolve().parents[1])
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, cwd=tmp_path,
                          env={**__import__("os").environ, "PYTHONPATH": root})


def test_process_pool_from_a_plain_script_stops_before_starting_and_names_the_fix(tmp_path):
    done = _run_script(tmp_path, guard="")
    assert done.returncode == 1
    assert "SettingsError: executor='processes' was started from the top level of" in done.stderr
    assert 'if __name__ == "__main__":' in done.stderr and "executor='serial'" in done.stderr
    # One error, raised in this process before any worker started (no worker tracebacks, no results).
    assert done.stderr.count("Traceback") == 1 and "concurrent.futures" not in done.stderr
    assert "STATUS" not in done.stdout
    # The same script with the guard runs both scenarios in worker processes.
    done = _run_script(tmp_path, guard="yes")
    assert done.returncode == 0, done.stderr
    assert "STATUS optimal,optimal" in done.stdout


def test_storing_a_result_clears_what_a_killed_write_left(tmp_path):
    from channelopt.scenarios.store import store_result

    folder = tmp_path / "a"
    folder.mkdir()
    stale = folder / ".assignments.parquet.x1y2.tmp"   # as tempfile.mkstemp names it in _atomic_write
    stale.write_bytes(b"half a parquet file")
    store_result(tmp_path, {"name": "a", "status": "optimal"}, {"assignments": pd.DataFrame({"x": [1]})})
    assert not list(tmp_path.rglob("*.tmp"))
    assert pd.read_parquet(folder / "assignments.parquet")["x"].tolist() == [1]


def test_a_scenario_never_changes_the_model_object_it_was_given():
    planner = co.ChannelPlanner(selection={"objective": "p_median", "p": 3})
    sc = co.Scenario(name="x", network=SMALL, model=planner, params={"exclusivity": "territory"})
    built = sc.build_model()
    assert built.exclusivity == "territory" and built is not planner
    assert planner.exclusivity == "channel"
