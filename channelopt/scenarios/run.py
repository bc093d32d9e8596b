"""Running scenarios: one solve to a result record, and a batch on serial, process or Dask executors."""

from __future__ import annotations

import logging
import math
import os
import socket
import time
import traceback
import uuid
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._executors import resolve_executor
from ..exceptions import (
    ChannelOptError,
    InfeasibleError,
    NoSolutionError,
    SettingsError,
    SolverError,
    ValidationError,
)
from .files import load_scenarios
from .spec import Scenario, _jsonable
from .store import _records_frame, _stored, slug, store_result

__all__ = ['run_one', 'run_scenarios']

log = logging.getLogger("channelopt.scenarios")

# ----------------------------------------------------------------------------- running one
def _flat_scalars(d: Mapping, prefix: str = "") -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        if isinstance(v, np.generic):
            v = v.item()
        if isinstance(v, (bool, int, float, str)) or v is None:
            out[prefix + str(k)] = v
    return out


def _plan_tables(plan) -> dict[str, pd.DataFrame]:
    tables = {"assignments": plan.assignments, **plan.tables, **plan.metrics.tables()}
    for stage, sub in getattr(plan, "stages", {}).items():
        for name, t in {"assignments": sub.assignments, **sub.tables}.items():
            tables[f"{stage}__{name}"] = t
    out = {}
    for name, t in tables.items():
        if t is None:
            continue
        frame = pd.DataFrame(t.drop(columns="geometry", errors="ignore"))
        if not isinstance(frame.index, pd.RangeIndex):
            frame = frame.reset_index()
        out[str(name)] = frame
    return out


def run_one(scenario: Scenario, run_id: str = "", with_tables: bool = True) -> tuple[dict, dict]:
    """Solve one scenario; never raises for the scenario's own failures.

    Returns
    -------
    record : dict
        JSON-ready: name, status, objective, bound, gap, seconds, error_type, error,
        metrics, the scenario (settings, seeds, solver) and where and when it ran.
    tables : dict of DataFrame
        The plan's decision and metric tables (empty for a failed scenario).
    """
    t0 = time.perf_counter()
    record: dict[str, Any] = {"name": getattr(scenario, "name", None), "status": "error", "objective": math.nan,
                              "bound": math.nan, "gap": math.nan, "seconds": math.nan, "build_seconds": math.nan,
                              "error_type": None, "error": None, "metrics": {}}
    tables: dict[str, pd.DataFrame] = {}
    try:
        record["scenario"] = scenario.to_dict()
    except Exception as exc:  # an unknown parameter is still described, as given
        record["scenario"] = {"name": scenario.name, "model": str(getattr(scenario.model, "__name__", scenario.model)),
                              "params": _jsonable(dict(scenario.params or {})), "seed": scenario.seed,
                              "network": _jsonable(scenario.network if not hasattr(scenario.network, "region_ids")
                                                   else repr(scenario.network)),
                              "solver": _jsonable(scenario.solver)}
        del exc
    try:
        model = scenario.build_model()
        solver = scenario.build_solver()
        net = scenario.build_network()
        with warnings.catch_warnings():
            # The status column says "feasible" for a plan not proven optimal.
            from ..exceptions import NotOptimalWarning

            warnings.simplefilter("ignore", NotOptimalWarning)
            plan = model.solve(net, solver=solver)
        info = plan.info
        record.update(status=info.status, objective=info.objective, bound=info.bound, gap=info.gap,
                      seconds=info.seconds, build_seconds=info.build_seconds, termination=info.termination)
        record["metrics"] = _jsonable(_flat_scalars(plan.metrics.overall))
        if with_tables:
            tables = _plan_tables(plan)
    except InfeasibleError as exc:
        record.update(status="infeasible", error_type=type(exc).__name__, error=str(exc), reasons=exc.reasons)
    except NoSolutionError as exc:
        record.update(status="no_solution", error_type=type(exc).__name__, error=str(exc))
    except (SettingsError, ValidationError) as exc:
        record.update(status="invalid", error_type=type(exc).__name__, error=str(exc))
    except (SolverError, ChannelOptError) as exc:
        record.update(status="error", error_type=type(exc).__name__, error=str(exc))
    except Exception as exc:  # a bug or bad data must not stop the batch; keep where it happened
        record.update(status="error", error_type=type(exc).__name__, error=str(exc) or repr(exc),
                      traceback="".join(traceback.format_exception(exc)[-4:]))
    record.update(wall_seconds=time.perf_counter() - t0, run_id=run_id, host=socket.gethostname(),
                  pid=os.getpid(), finished_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    from .. import __version__

    record["channelopt_version"] = __version__
    return _jsonable(record), tables


# ----------------------------------------------------------------------------- batch
def run_scenarios(
    scenarios: Iterable[Scenario] | str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    executor: Any = "processes",
    workers: int | None = None,
    resume: bool = True,
    retry_failed: bool = False,
    progress: bool = True,
    tables: bool = True,
) -> pd.DataFrame:
    """Run a batch of scenarios; store each result in ``out`` as soon as it finishes.

    Parameters
    ----------
    scenarios : iterable of Scenario, or a path to a scenario file
    out : path-like, optional
        Result folder (created). Without it, nothing is stored and resume is off.
    executor : {"processes", "serial", "dask"}, scheduler address, or dask Client
        Where the solves run: a local process pool (default), this process, a private
        Dask ``LocalCluster``, a Dask scheduler (``"tcp://host:8786"``), or a
        ``dask.distributed.Client``. Workers need channelopt installed; results
        come back to this process, which writes them, so workers need no shared disk.
    workers : int, optional
        Pool size for ``"processes"`` and ``"dask"`` (default: CPUs - 1).
    resume : bool, default True
        Skip scenarios whose ``result.json`` is already in ``out``.
    retry_failed : bool, default False
        With ``resume``, solve again the stored scenarios that failed.
    progress : bool, default True
        Show a tqdm progress bar.
    tables : bool, default True
        Store the plan's decision tables as Parquet (else only ``result.json``).

    Returns
    -------
    DataFrame
        One row per scenario, in input order: name, status, objective, bound, gap,
        seconds, error_type, error, the model, the grid tags, every overall metric,
        and ``resumed`` (read from the store, not solved in this run).

    Raises
    ------
    SettingsError
        Repeated scenario names, or a bad executor.

    Examples
    --------
    >>> import tempfile, channelopt as co
    >>> net = {"synthetic": {"n_regions": 8, "n_outlets": 60, "n_distributors": 4, "seed": 1}}
    >>> sc = [co.Scenario(name=f"p{p}", network=net, model="DistributorSelection",
    ...                   params={"objective": "p_median", "p": p}) for p in (1, 2, 3)]
    >>> res = co.run_scenarios(sc, out=tempfile.mkdtemp(), executor="serial", progress=False)
    >>> res["status"].tolist(), bool(res["objective"].is_monotonic_decreasing)
    (['optimal', 'optimal', 'optimal'], True)
    """
    if isinstance(scenarios, (str, os.PathLike)):
        scenarios = load_scenarios(scenarios)
    scenarios = list(scenarios)
    bad = [type(s).__name__ for s in scenarios if not isinstance(s, Scenario)]
    if bad:
        raise SettingsError(f"run_scenarios takes channelopt.Scenario objects, got {bad[0]}.")
    names = [s.name for s in scenarios]
    dupes = sorted({n for n in names if names.count(n) > 1}, key=str)
    if dupes:
        raise SettingsError(f"scenario names must be unique (they name the result folders); repeated: {dupes}.")
    slugs = [slug(n) for n in names]
    if len(set(slugs)) != len(slugs):  # pragma: no cover - the hash makes this practically impossible
        raise SettingsError("two scenario names map to the same folder; rename one.")

    out_path = Path(out) if out is not None else None
    if out_path is not None:
        out_path.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict] = {}
    todo: list[Scenario] = []
    for s in scenarios:
        stored = _stored(out_path, s.name) if (out_path is not None and resume) else None
        failed = stored is not None and stored.get("status") not in ("optimal", "feasible")
        if stored is not None and not (retry_failed and failed):
            stored["_resumed"] = True
            results[s.name] = stored
        else:
            todo.append(s)
    run_id = uuid.uuid4().hex[:12]
    if todo:
        log.info("run %s: %d scenarios to solve, %d already stored", run_id, len(todo), len(results))
        ex, owned = resolve_executor(executor, workers)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(scenarios), initial=len(results), desc="scenarios", unit="sc")
        futures = {}
        try:
            for s in todo:
                futures[ex.submit(run_one, s, run_id, tables)] = s
            for fut in ex.as_completed(futures):
                s = futures[fut]
                try:
                    record, frames = ex.result(fut)
                except Exception as exc:  # the worker itself died (killed, out of memory, lost)
                    record, frames = _jsonable({
                        "name": s.name, "status": "error", "objective": math.nan, "bound": math.nan,
                        "gap": math.nan, "error_type": type(exc).__name__,
                        "error": f"worker failed: {exc}", "metrics": {}, "run_id": run_id,
                        "scenario": _safe_dict(s)}), {}
                if out_path is not None:
                    store_result(out_path, record, frames)
                results[s.name] = record
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix_str(f"{s.name}: {record['status']}", refresh=False)
        except BaseException:
            ex.cancel([f for f in futures if not f.done()])
            if owned and hasattr(ex, "abort"):
                ex.abort()
                owned = False
            raise
        finally:
            if bar is not None:
                bar.close()
            if owned:
                ex.close()
    return _records_frame([results[n] for n in names])


def _safe_dict(s: Scenario) -> dict:
    try:
        return s.to_dict()
    except Exception:
        return {"name": s.name, "params": _jsonable(dict(s.params or {}))}
