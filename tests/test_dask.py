"""The same batch on a real dask.distributed LocalCluster (2 workers) and on the process pool."""

from __future__ import annotations

import pytest

import channelopt as co
from channelopt.scenarios import load_result, run_scenarios

distributed = pytest.importorskip("distributed", reason="needs channelopt[dask]")

NET = {"synthetic": {"n_regions": 12, "n_outlets": 150, "n_distributors": 6, "seed": 5}}


def _scenarios():
    sc = [co.Scenario(name=f"pm{p}", network=NET, model="DistributorSelection",
                      params={"objective": "p_median", "p": p}) for p in (2, 3, 4)]
    sc.append(co.Scenario(name="cost", network=NET, model="DistributorSelection",
                          params={"objective": "min_cost"}, solver={"name": "cbc"}))
    sc.append(co.Scenario(name="terr", network=NET, model="TerritoryDesign",
                          params={"k": 3, "balance": {"workload": 0.5}}, seed=3))
    sc.append(co.Scenario(name="broken", network=NET, model="DistributorSelection",
                          params={"objective": "p_median", "p": 99}))
    return sc


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as c:
        yield c


def test_dask_matches_process_pool_scenario_for_scenario(client, tmp_path):
    on_dask = run_scenarios(_scenarios(), out=tmp_path / "dask", executor=client, progress=False)
    on_pool = run_scenarios(_scenarios(), out=tmp_path / "pool", executor="processes", workers=2, progress=False)
    assert on_dask["name"].tolist() == on_pool["name"].tolist()
    assert on_dask["status"].tolist() == on_pool["status"].tolist() == ["optimal"] * 5 + ["invalid"]
    assert on_dask["objective"].iloc[:5].tolist() == pytest.approx(on_pool["objective"].iloc[:5].tolist(), rel=1e-7)
    # The Dask results were written by this process, from the workers' returns.
    workers = {load_result(tmp_path / "dask", n)["pid"] for n in on_dask["name"]}
    assert len(workers) == 2
    assert load_result(tmp_path / "dask", "broken")["error_type"] == "SettingsError"
    # The client still works after the batch: run_scenarios closes only what it opened.
    assert client.submit(sum, [1, 2], pure=False).result() == 3


def test_dask_scheduler_address_and_resume(client, tmp_path):
    address = client.scheduler.address
    sc = _scenarios()[:2]
    first = run_scenarios(sc, out=tmp_path, executor=address, progress=False)
    again = run_scenarios(sc, out=tmp_path, executor=address, progress=False)
    assert again["resumed"].all() and again["objective"].tolist() == first["objective"].tolist()


def test_unreachable_scheduler_is_a_settings_error(tmp_path):
    with pytest.raises(co.SettingsError, match="cannot reach the Dask scheduler"):
        run_scenarios(_scenarios()[:1], out=tmp_path, executor="tcp://127.0.0.1:9", progress=False)
