"""Scenarios: many (network, model, settings) runs, local or on Dask, stored as they finish.

A :class:`Scenario` names a network (or a cheap recipe for one), a model (or a
:class:`~channelopt.planner.ChannelPlanner`) with its settings, and solver settings.
:func:`run_scenarios` runs a batch on a process pool or a Dask cluster and writes each
result to a folder the moment it finishes; :func:`compare_results` reads that folder
back as one table and :func:`pareto_front` keeps its non-dominated rows.

One module per job: :mod:`.spec` (what a scenario is, checked early), :mod:`.files`
(YAML / TOML parsing), :mod:`.grid` (grid expansion), :mod:`.run` (one solve, a batch,
executors), :mod:`.store` (result folders, resume) and :mod:`.compare` (one table of
stored results).

Result folder layout (``out/``)::

    <scenario>/result.json         written last: its presence means "done"
    <scenario>/<table>.parquet     decisions and metric tables of the plan
    solves.log                     an audit line per stored result (name, run, worker); a
                                   kill right after a result's write may drop its line

Every write goes to a temporary file in the same folder and is moved into place
with :func:`os.replace`, so a killed batch leaves no half-written result.
"""

from __future__ import annotations

from ..comparison import pareto_front
from .compare import compare_results
from .files import load_scenarios, scenarios_from_dict
from .run import _plan_tables, run_one, run_scenarios  # noqa: F401  (kept importable from here)
from .spec import (  # noqa: F401
    MODELS,
    Scenario,
    ScenarioFileError,
    known_params,
    model_class,
    network_from_recipe,
)
from .store import KEY_METRICS, RESULT_COLUMNS, load_result, slug, store_result  # noqa: F401

__all__ = [
    "Scenario",
    "ScenarioFileError",
    "compare_results",
    "load_result",
    "load_scenarios",
    "pareto_front",
    "run_scenarios",
    "scenarios_from_dict",
]
