"""Scenarios: many (network, model, settings) runs, local or on Dask, stored as they finish.

A :class:`Scenario` names a network (or a cheap recipe for one), a model (or a
:class:`~channelopt.planner.ChannelPlanner`) with its settings, and solver settings.
:func:`run_scenarios` runs a batch on a process pool or a Dask cluster and writes each
result to a folder the moment it finishes; :func:`compare_results` reads that folder
back as one table and :func:`pareto_front` keeps its non-dominated rows.

Result folder layout (``out/``)::

    <scenario>/result.json         written last: its presence means "done"
    <scenario>/<table>.parquet     decisions and metric tables of the plan
    solves.log                     an audit line per stored result (name, run, worker); a
                                   kill right after a result's write may drop its line

Every write goes to a temporary file in the same folder and is moved into place
with :func:`os.replace`, so a killed batch leaves no half-written result.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import importlib
import inspect
import itertools
import json
import logging
import math
import os
import re
import socket
import tempfile
import time
import traceback
import uuid
import warnings
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._executors import resolve_executor
from ._json import jsonable
from .comparison import pareto_front
from .exceptions import (
    ChannelOptError,
    InfeasibleError,
    NoSolutionError,
    SettingsError,
    SolverError,
    ValidationError,
)
from .solver import Solver

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

log = logging.getLogger(__name__)

#: model names accepted in scenario files -> "module:Class"
MODELS = {
    "DistributorSelection": "channelopt.models.distributors:DistributorSelection",
    "TerritoryDesign": "channelopt.models.territories:TerritoryDesign",
    "BudgetAllocation": "channelopt.models.budget:BudgetAllocation",
    "ChannelPlanner": "channelopt.planner:ChannelPlanner",
}
_ALIASES = {"distributor_selection": "DistributorSelection", "territory_design": "TerritoryDesign",
            "budget_allocation": "BudgetAllocation", "channel_plan": "ChannelPlanner",
            "channel_planner": "ChannelPlanner"}
_FIELDS = ("name", "network", "model", "params", "solver", "seed", "tags")
_RECIPES = ("example", "synthetic", "path")
# Keys a {path = ...} recipe may carry besides the path: read_network options.
_PATH_OPTIONS = ("tables", "keep_columns", "crs", "cost_per_km", "grid_degrees", "contiguity", "name")
#: columns every result row has, in this order, before the metrics
RESULT_COLUMNS = ["name", "status", "objective", "bound", "gap", "seconds", "build_seconds", "wall_seconds",
                  "error_type", "error"]
#: metrics shown first in comparisons (breadth, depth, cost, ROI, balance, conflict)
KEY_METRICS = ["numeric_distribution", "weighted_distribution", "region_coverage", "mean_channel_breadth",
               "mean_penetration_covered_regions", "total_cost", "fixed_cost", "service_cost", "spend",
               "response", "roi", "marginal_roi", "balance_max_deviation", "load_cv", "cut_edges",
               "multi_served_outlets", "split_regions"]


class ScenarioFileError(SettingsError):
    """A scenario file or spec is malformed; the message names the file, key and line.

    Attributes
    ----------
    key : str or None
        Path of the offending key, e.g. ``"scenarios[2].params.p"``.
    line : int or None
        1-based line in the file, where known.
    """

    def __init__(self, message: str, *, key: str | None = None, line: int | None = None):
        super().__init__(message)
        self.key = key
        self.line = line


# ----------------------------------------------------------------------------- models
def model_class(name: str) -> type:
    """The model class registered under ``name`` (``"DistributorSelection"``, ...)."""
    real = _ALIASES.get(name, name)
    if real not in MODELS:
        raise SettingsError(f"unknown model {name!r}; known: {sorted(MODELS)}.")
    module, cls = MODELS[real].split(":")
    return getattr(importlib.import_module(module), cls)


def known_params(cls: type) -> list[str]:
    """Settings a model class takes (its keyword constructor parameters)."""
    return [n for n in inspect.signature(cls.__init__).parameters if n != "self"]


def _check_params(cls: type, params: Mapping, where: str) -> None:
    known = known_params(cls)
    unknown = [k for k in params if k not in known]
    if unknown:
        raise SettingsError(f"{where}: {cls.__name__} has no parameter {unknown[0]!r}; known parameters: "
                            f"{', '.join(known)}.")
    check = getattr(cls, "check_params", None)
    if callable(check):
        check(params, where=where)


def _solver_from(spec: Any, where: str = "solver") -> Solver:
    if spec is None:
        return Solver()
    if isinstance(spec, Solver):
        return spec
    if not isinstance(spec, Mapping):
        raise SettingsError(f"{where} must be a channelopt.Solver or a mapping of its settings, got {spec!r}.")
    fields = [f.name for f in dataclasses.fields(Solver)]
    unknown = [k for k in spec if k not in fields]
    if unknown:
        raise SettingsError(f"{where}: Solver has no setting {unknown[0]!r}; known settings: {', '.join(fields)}.")
    return Solver(**dict(spec))


def _check_recipe(recipe: Any, where: str = "network") -> None:
    if not isinstance(recipe, Mapping):
        raise SettingsError(f"{where} must be a ChannelNetwork or a recipe such as {{'example': 'china'}} or "
                            f"{{'synthetic': {{'n_regions': 20, 'n_outlets': 300, 'n_distributors': 8, "
                            f"'seed': 0}}}}; got {recipe!r}.")
    kinds = [k for k in recipe if k in _RECIPES]
    other = [k for k in recipe if k not in _RECIPES and not ("path" in recipe and k in _PATH_OPTIONS)]
    if len(kinds) != 1 or other:
        bad = other[0] if other else ", ".join(kinds) or "nothing"
        raise SettingsError(f"{where}: a network recipe has exactly one key out of {list(_RECIPES)}; got {bad!r}.")
    if kinds[0] == "path":
        if not Path(str(recipe["path"])).exists():
            raise SettingsError(f"{where}.path: no file or folder {str(recipe['path'])!r} (a relative path is read "
                                f"from the scenario file's folder).")
    elif kinds[0] == "example":
        from .datasets import available_examples

        names = list(available_examples())
        if recipe["example"] not in names:
            raise SettingsError(f"{where}.example: unknown example {recipe['example']!r}; known: {names}.")
    else:
        from .datasets import make_synthetic

        spec = recipe["synthetic"]
        known = [n for n in inspect.signature(make_synthetic).parameters]
        if not isinstance(spec, Mapping):
            raise SettingsError(f"{where}.synthetic must be a mapping of make_synthetic arguments ({known}).")
        unknown = [k for k in spec if k not in known]
        if unknown:
            raise SettingsError(f"{where}.synthetic: make_synthetic has no parameter {unknown[0]!r}; known "
                                f"parameters: {', '.join(known)}.")


# Networks built from recipes, per worker process: a batch of 100 scenarios on one
# example loads it once per worker, not 100 times.
_NETWORKS: OrderedDict[str, Any] = OrderedDict()
_NETWORK_CACHE_SIZE = 8


def network_from_recipe(recipe: Mapping) -> Any:
    """Build (or fetch from this process's cache) the network a recipe describes.

    Examples
    --------
    >>> net = network_from_recipe({"synthetic": {"n_regions": 6, "n_outlets": 40, "n_distributors": 3}})
    >>> len(net.outlets), network_from_recipe({"synthetic": {"n_regions": 6, "n_outlets": 40,
    ...                                                      "n_distributors": 3}}) is net
    (40, True)
    """
    _check_recipe(recipe)
    key = json.dumps(_jsonable(recipe), sort_keys=True)
    if key in _NETWORKS:
        _NETWORKS.move_to_end(key)
        return _NETWORKS[key]
    from .datasets import load_example, make_synthetic

    if "path" in recipe:
        from .io import read_network

        net = read_network(recipe["path"], **{k: v for k, v in recipe.items() if k != "path"})
    else:
        net = load_example(recipe["example"]) if "example" in recipe else make_synthetic(**recipe["synthetic"])
    _NETWORKS[key] = net
    while len(_NETWORKS) > _NETWORK_CACHE_SIZE:
        _NETWORKS.popitem(last=False)
    return net


def _jsonable(value: Any) -> Any:
    # Scenario records keep frames short: a settings frame (e.g. budget cells) is named, not dumped.
    return jsonable(value, frames="name")


# ----------------------------------------------------------------------------- Scenario
@dataclasses.dataclass
class Scenario:
    """One what-if run: a name, a network, a model with settings, and solver settings.

    Parameters
    ----------
    name : str
        Unique within a batch; names the result folder.
    network : ChannelNetwork, mapping or None
        The network, or a recipe that each worker builds (and caches) itself, which
        is cheaper to ship than the network: ``{"example": "china"}`` or
        ``{"synthetic": {"n_regions": 20, "n_outlets": 300, "n_distributors": 8,
        "seed": 0}}``. None for a model that needs none (BudgetAllocation on cells).
    model : Model, ChannelPlanner or str
        A model instance, or the name of one (``"DistributorSelection"``,
        ``"TerritoryDesign"``, ``"BudgetAllocation"``, ``"ChannelPlanner"``) built from
        ``params``.
    params : mapping
        Settings of the model; with a model instance, they override its settings
        (``model.set_params(**params)``).
    solver : Solver or mapping, optional
        Solver settings (default ``Solver()``: HiGHS, no time limit, gap 0).
    seed : int, optional
        Given to the model's ``seed`` setting where it has one; recorded always.
    tags : mapping
        Free labels stored with the result (grid values land here).

    Examples
    --------
    >>> import channelopt as co
    >>> sc = co.Scenario(name="p3", network={"synthetic": {"n_regions": 8, "n_outlets": 60,
    ...                  "n_distributors": 4, "seed": 1}}, model="DistributorSelection",
    ...                  params={"objective": "p_median", "p": 2})
    >>> sc.build_model()
    DistributorSelection(objective='p_median', p=2)
    >>> sc.to_dict()["network"]["synthetic"]["seed"]
    1
    """

    name: str
    network: Any = None
    model: Any = "DistributorSelection"
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    solver: Solver | Mapping | None = None
    seed: int | None = None
    tags: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def build_model(self):
        """The model instance this scenario solves (never mutates ``self.model``)."""
        params = dict(self.params or {})
        if isinstance(self.model, str):
            cls = model_class(self.model)
            if self.seed is not None and "seed" in known_params(cls) and "seed" not in params:
                params["seed"] = self.seed
            _check_params(cls, params, f"scenario {self.name!r} params")
            return cls(**params)
        if not hasattr(self.model, "get_params"):
            raise SettingsError(f"scenario {self.name!r}: model must be a channelopt model, a ChannelPlanner or "
                                f"a model name {sorted(MODELS)}; got {type(self.model).__name__}.")
        if self.seed is not None and "seed" in self.model.get_params() and "seed" not in params:
            params["seed"] = self.seed
        if params:
            _check_params(type(self.model), params, f"scenario {self.name!r} params")
            return self.model.set_params(**params)
        return self.model

    def build_solver(self) -> Solver:
        """The :class:`~channelopt.Solver` of this scenario."""
        return _solver_from(self.solver, f"scenario {self.name!r} solver")

    def build_network(self):
        """The network: given, or built from the recipe (cached per process)."""
        if self.network is None or hasattr(self.network, "region_ids"):
            return self.network
        return network_from_recipe(self.network)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description: enough to rebuild the scenario when the network is a recipe."""
        model = self.build_model()
        net = self.network
        if net is not None and hasattr(net, "region_ids"):
            net = {"object": repr(net), "fingerprint": _fingerprint(net)}
        return {
            "name": self.name,
            "network": _jsonable(net),
            "model": type(model).__name__,
            "params": _jsonable(model.get_params()),
            "solver": self.build_solver().to_dict(),
            "seed": self.seed,
            "tags": _jsonable(dict(self.tags or {})),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Scenario:
        """Rebuild a scenario from :meth:`to_dict` (or a stored result's ``"scenario"``).

        Raises
        ------
        SettingsError
            When the stored network was an object, not a recipe: pass it yourself with
            ``dataclasses.replace(scenario, network=net)``.
        """
        net = d.get("network")
        if isinstance(net, Mapping) and "object" in net:
            raise SettingsError(f"scenario {d.get('name')!r} was run on a network object ({net['object']}), "
                                f"not a recipe; rebuild it with dataclasses.replace(scenario, network=net).")
        return cls(name=d["name"], network=net, model=d.get("model", "DistributorSelection"),
                   params=dict(d.get("params") or {}), solver=d.get("solver"), seed=d.get("seed"),
                   tags=dict(d.get("tags") or {}))


def _fingerprint(net) -> str:
    """A short hash of the network's data, to tell which network a stored result came from."""
    h = hashlib.sha1()
    for frame in (net.regions, net.outlets, net.distributors):
        if frame is not None:
            plain = pd.DataFrame(frame.drop(columns="geometry", errors="ignore"))
            h.update(pd.util.hash_pandas_object(plain.astype(str), index=False).to_numpy().tobytes())
    return h.hexdigest()[:16]


# ----------------------------------------------------------------------------- files
def _lines_yaml(text: str) -> dict[str, int]:
    """``{key path: 1-based line}`` for every mapping key and list item of a YAML text."""
    import yaml

    out: dict[str, int] = {}

    def walk(node, path):
        out.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                sub = f"{path}.{k.value}" if path else str(k.value)
                out[sub] = k.start_mark.line + 1
                walk(v, sub)
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                walk(v, f"{path}[{i}]")

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return out
    if root is not None:
        walk(root, "")
    return out


def _lines_toml(text: str) -> dict[str, int]:
    """Best-effort ``{key: line}`` for TOML, where the key is written once (tomllib keeps no positions)."""
    seen: dict[str, list[int]] = {}
    for no, line in enumerate(text.splitlines(), 1):
        stripped = line.split("#", 1)[0]
        for m in re.finditer(r"(?:^|[{,\s\[])\"?([A-Za-z_][\w.]*)\"?\s*=", stripped):
            seen.setdefault(m.group(1).split(".")[-1], []).append(no)
        m = re.match(r"\s*\[\[?\s*([\w.\"]+)\s*\]\]?", stripped)
        if m:
            seen.setdefault(m.group(1).replace('"', "").split(".")[-1], []).append(no)
    return {k: v[0] for k, v in seen.items() if len(v) == 1}


def load_scenarios(path: str | os.PathLike) -> list[Scenario]:
    """Read scenarios from a TOML (``.toml``) or YAML (``.yaml``/``.yml``) file.

    The file holds a ``base`` scenario, an optional list of ``scenarios`` (each one
    overrides the base: ``params`` and ``solver`` merge key by key, other fields
    replace), and an optional ``grid`` of values (every combination applies to every
    override). Grid keys are a parameter name (``p``), or a dotted path
    (``params.p``, ``solver.time_limit``, ``network.synthetic.seed``, ``seed``).
    Files are parsed with :mod:`tomllib` / ``yaml.safe_load``: nothing in them runs.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    list of Scenario

    Raises
    ------
    ScenarioFileError
        Malformed syntax (with the line), an unknown key, model or parameter (with
        the key path, the line where known, and the known names).
    FileNotFoundError
        No such file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> text = '''
    ... [base]
    ... name = "pm"
    ... network = {synthetic = {n_regions = 8, n_outlets = 60, n_distributors = 4}}
    ... model = "DistributorSelection"
    ... params = {objective = "p_median", p = 2}
    ... [grid]
    ... p = [2, 3]
    ... '''
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "s.toml"
    >>> _ = f.write_text(text)
    >>> [s.name for s in load_scenarios(f)]
    ['pm[p=2]', 'pm[p=3]']
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no scenario file {str(path)!r}")
    text = path.read_text(encoding="utf-8")
    suffix = path.suffix.lower()
    if suffix == ".toml":
        import tomllib

        try:
            spec = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ScenarioFileError(f"{path}: malformed TOML: {exc}",
                                    line=_int_or_none(re.search(r"line (\d+)", str(exc)))) from None
        lines = _lines_toml(text)
    elif suffix in (".yaml", ".yml"):
        import yaml

        try:
            spec = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else None
            what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise ScenarioFileError(f"{path}: malformed YAML at line {line}: {what}", line=line) from None
        lines = _lines_yaml(text)
    else:
        raise ScenarioFileError(f"{path}: scenario files must end in .toml, .yaml or .yml, not {suffix!r}.")
    return scenarios_from_dict(_network_paths_from(spec, path.parent), source=str(path), lines=lines)


def _network_paths_from(spec: Any, folder: Path) -> Any:
    """``network = {path = "mydata.xlsx"}`` is read from the scenario file's folder, wherever we run."""
    if not isinstance(spec, Mapping):
        return spec
    spec = copy.deepcopy(dict(spec))
    entries = [spec.get("base")] + list(spec.get("scenarios") or spec.get("overrides") or [])
    for entry in entries:
        net = entry.get("network") if isinstance(entry, Mapping) else None
        if isinstance(net, dict) and isinstance(net.get("path"), str) and not Path(net["path"]).is_absolute():
            net["path"] = str((folder / net["path"]).resolve())
    return spec


def _int_or_none(m) -> int | None:
    return int(m.group(1)) if m else None


def _set_path(d: dict, dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    cur = d
    for p in parts[:-1]:
        nxt = cur.get(p)
        cur[p] = nxt = dict(nxt) if isinstance(nxt, Mapping) else {}
        cur = nxt
    cur[parts[-1]] = value


def scenarios_from_dict(spec: Mapping, *, source: str = "<spec>", lines: Mapping[str, int] | None = None
                        ) -> list[Scenario]:
    """Scenarios from an already-parsed spec (the contents of a scenario file).

    See :func:`load_scenarios` for the layout. ``lines`` maps key paths (or, for TOML,
    bare key names) to lines, to point errors at them.

    Examples
    --------
    >>> spec = {"base": {"network": {"example": "nc"}, "params": {"objective": "p_median"}},
    ...         "scenarios": [{"name": "small", "params": {"p": 2}}, {"name": "large", "params": {"p": 6}}]}
    >>> [(s.name, s.params["p"]) for s in scenarios_from_dict(spec)]
    [('small', 2), ('large', 6)]
    """
    lines = lines or {}

    def fail(key: str, message: str) -> ScenarioFileError:
        line = lines.get(key)
        if line is None:
            line = lines.get(key.split(".")[-1].split("[")[0])
        where = f"{source}: {key}" + (f" (line {line})" if line else "")
        return ScenarioFileError(f"{where}: {message}", key=key, line=line)

    if not isinstance(spec, Mapping):
        raise fail("<top>", "a scenario file holds a mapping with keys 'base', 'scenarios' and 'grid'.")
    unknown = [k for k in spec if k not in ("base", "scenarios", "overrides", "grid")]
    if unknown:
        raise fail(unknown[0], f"unknown key {unknown[0]!r}; a scenario file has 'base', 'scenarios' and 'grid'.")
    base = spec.get("base") or {}
    if not isinstance(base, Mapping):
        raise fail("base", "must be a mapping of scenario fields " + str(list(_FIELDS)) + ".")
    key_over = "overrides" if "overrides" in spec else "scenarios"
    overrides = spec.get(key_over)
    if overrides is None:
        overrides = [{}]
    if not isinstance(overrides, list) or not overrides:
        raise fail(key_over, "must be a non-empty list of scenario overrides.")
    grid = spec.get("grid") or {}
    if not isinstance(grid, Mapping):
        raise fail("grid", "must map a parameter (or a dotted path) to a list of values.")
    axes = []
    for k, values in grid.items():
        if not isinstance(values, list) or not values:
            raise fail(f"grid.{k}", f"must be a non-empty list of values, got {values!r}.")
        head = k.split(".")[0]
        path = k if head in _FIELDS and "." in k or k == "seed" else f"params.{k}"
        if head in ("name", "tags", "model") and "." not in k:
            raise fail(f"grid.{k}", f"{k!r} cannot vary in a grid; write one override per {k}.")
        axes.append((k, path, values))

    def check_fields(entry: Any, where: str) -> None:
        if not isinstance(entry, Mapping):
            raise fail(where, f"must be a mapping of scenario fields {list(_FIELDS)}, got {entry!r}.")
        bad = [k for k in entry if k not in _FIELDS]
        if bad:
            raise fail(f"{where}.{bad[0]}" if where else bad[0],
                       f"unknown key {bad[0]!r}; a scenario has {', '.join(_FIELDS)}.")

    check_fields(base, "base")
    out: list[Scenario] = []
    for i, over in enumerate(overrides):
        where = f"{key_over}[{i}]"
        check_fields(over, where)
        merged: dict[str, Any] = copy.deepcopy(dict(base))
        for k, v in over.items():
            if k in ("params", "solver", "tags") and isinstance(v, Mapping):
                merged[k] = {**dict(merged.get(k) or {}), **copy.deepcopy(dict(v))}
            else:
                merged[k] = copy.deepcopy(v)
        stem = str(merged.get("name") or (f"s{i}" if len(overrides) > 1 else "scenario"))
        combos = itertools.product(*[vals for _, _, vals in axes]) if axes else [()]
        for combo in combos:
            entry = copy.deepcopy(merged)
            tags = dict(entry.get("tags") or {})
            label = []
            for (k, path, _), value in zip(axes, combo):
                _set_path(entry, path, value)
                tags[k] = value
                label.append(f"{k.split('.')[-1]}={value}")
            entry["tags"] = tags
            entry["name"] = stem + (f"[{','.join(label)}]" if label else "")
            out.append(_scenario_from_entry(entry, where, fail, over, [p for _, p, _ in axes]))
    names = [s.name for s in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise fail(key_over, f"scenario names must be unique; repeated: {dupes}. Give each override a name.")
    return out


def _scenario_from_entry(entry: dict, where: str, fail, over: Mapping, grid_paths: Sequence[str]) -> Scenario:
    def src(field: str, sub: str | None = None) -> str:
        """Where a value came from: the override, the grid or the base (to point errors at it)."""
        if sub is not None:
            if f"{field}.{sub}" in grid_paths:
                return f"grid.{sub}" if field == "params" else f"grid.{field}.{sub}"
            inner = over.get(field)
            if isinstance(inner, Mapping) and sub in inner:
                return f"{where}.{field}.{sub}"
            return f"base.{field}.{sub}"
        return f"{where}.{field}" if field in over else f"base.{field}"

    model = entry.get("model", "DistributorSelection")
    try:
        cls = model_class(model)
    except SettingsError:
        raise fail(src("model"), f"unknown model {model!r}; known: {sorted(MODELS)}.") from None
    params = entry.get("params") or {}
    if not isinstance(params, Mapping):
        raise fail(src("params"), f"must be a mapping of {cls.__name__} parameters.")
    known = known_params(cls)
    for k in params:
        if k not in known:
            raise fail(src("params", k), f"{cls.__name__} has no parameter {k!r}; known parameters: "
                                         f"{', '.join(known)}.")
    try:
        check = getattr(cls, "check_params", None)
        if callable(check):
            for k in params:  # attribute each nested check to where its stage came from
                check({k: params[k], **({"curves": params.get("curves", True)} if k == "budget" else {})},
                      where=src("params", k).rsplit(".", 1)[0])
            check(params, where=src("params"))
        if entry.get("network") is not None:
            _check_recipe(entry["network"], src("network"))
        _solver_from(entry.get("solver"), src("solver"))
    except ScenarioFileError:
        raise
    except SettingsError as exc:
        key, _, rest = str(exc).partition(": ")
        raise fail(key if " " not in key else where, rest or str(exc)) from None
    seed = entry.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise fail(src("seed"), f"must be an integer, got {seed!r}.")
    return Scenario(name=entry["name"], network=entry.get("network"), model=model, params=dict(params),
                    solver=entry.get("solver"), seed=seed, tags=entry.get("tags") or {})


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
            from .exceptions import NotOptimalWarning

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
    from . import __version__

    record["channelopt_version"] = __version__
    return _jsonable(record), tables


# ----------------------------------------------------------------------------- store
def slug(name: str) -> str:
    """Folder name of a scenario: the name where it is safe, else a safe form plus a hash.

    Examples
    --------
    >>> slug("p3"), slug("pm[p=2]")
    ('p3', 'pm_p_2_-ea9c84fc')
    """
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", str(name)).strip(".") or "scenario"
    if safe == name and len(safe) <= 120:
        return safe
    return f"{safe[:100]}-{hashlib.sha1(str(name).encode()).hexdigest()[:8]}"


def _atomic_write(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        with _suppress():
            os.unlink(tmp)
        raise


class _suppress:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return exc[0] is not None and issubclass(exc[0], OSError)


def _write_parquet(frame: pd.DataFrame, tmp: str) -> None:
    try:
        frame.to_parquet(tmp, index=False)
    except Exception:  # lists, sets and curve objects in object columns: store their text
        plain = frame.copy()
        for c in plain.columns:
            if plain[c].dtype == object:
                plain[c] = plain[c].map(lambda v: v if v is None or isinstance(v, (int, float, bool)) else str(v))
        plain.to_parquet(tmp, index=False)


def store_result(out: str | os.PathLike, record: Mapping, tables: Mapping[str, pd.DataFrame]) -> Path:
    """Write one result: its tables, then ``result.json`` (the "done" marker), then a log line."""
    folder = Path(out) / slug(record["name"])
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        _atomic_write(folder / f"{slug(name)}.parquet", lambda tmp, f=frame: _write_parquet(f, tmp))
    text = json.dumps({**record, "tables": sorted(tables)}, indent=1, ensure_ascii=False, allow_nan=True)
    _atomic_write(folder / "result.json", lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    line = json.dumps({"name": record["name"], "status": record["status"], "run_id": record.get("run_id"),
                       "pid": record.get("pid"), "host": record.get("host"), "stored_at": time.time()})
    # One short append per result: O_APPEND writes of a line are not interleaved.
    with open(Path(out) / "solves.log", "a", encoding="utf-8") as fh:
        fh.write(line + "\n")
    return folder


def load_result(out: str | os.PathLike, name: str) -> dict:
    """The stored ``result.json`` of scenario ``name`` (reproduce it with ``Scenario.from_dict(r["scenario"])``)."""
    path = Path(out) / slug(name) / "result.json"
    if not path.is_file():
        raise FileNotFoundError(f"no stored result for scenario {name!r} in {str(out)!r}")
    return json.loads(path.read_text(encoding="utf-8"))


def _stored(out: Path, name: str) -> dict | None:
    path = out / slug(name) / "result.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # unreadable marker: treat as not done, solve again
        return None


def _records_frame(records: Sequence[Mapping]) -> pd.DataFrame:
    rows = []
    for r in records:
        row = {c: r.get(c) for c in RESULT_COLUMNS}
        for k, v in (r.get("metrics") or {}).items():
            if k not in row:
                row[k] = v
        for k, v in (r.get("scenario", {}).get("tags") or {}).items():
            row[f"tag.{k}"] = v
        row["model"] = r.get("scenario", {}).get("model")
        row["resumed"] = bool(r.get("_resumed", False))
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=RESULT_COLUMNS)
    metric_cols = [c for c in frame.columns if c not in RESULT_COLUMNS and c not in ("model", "resumed")
                   and not c.startswith("tag.")]
    ordered = [c for c in KEY_METRICS if c in metric_cols] + sorted(c for c in metric_cols if c not in KEY_METRICS)
    tags = sorted(c for c in frame.columns if c.startswith("tag."))
    frame = frame[RESULT_COLUMNS + ["model"] + tags + ordered + ["resumed"]]
    for c in ["objective", "bound", "gap", "seconds", "build_seconds", "wall_seconds"]:
        frame[c] = pd.to_numeric(frame[c], errors="coerce")
    for c in ordered:
        conv = pd.to_numeric(frame[c], errors="coerce")
        if conv.notna().sum() == frame[c].notna().sum():
            frame[c] = conv
    return frame.reset_index(drop=True)


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


# ----------------------------------------------------------------------------- comparison
def compare_results(out: str | os.PathLike, *, excel: str | os.PathLike | None = None) -> pd.DataFrame:
    """One table of every stored scenario in ``out``: status, gap, and every metric.

    With ``excel="comparison.xlsx"`` the table is also written as a formatted workbook
    (see :func:`channelopt.io.results_to_excel`).

    Columns as in :func:`run_scenarios` (breadth, depth, cost, ROI, balance and
    conflict metrics first where the plans have them), one row per scenario sorted
    by name; failed scenarios keep their row with ``error_type`` and ``error``.

    Raises
    ------
    FileNotFoundError
        ``out`` is not a folder.

    Examples
    --------
    >>> import tempfile, channelopt as co
    >>> from channelopt.scenarios import compare_results
    >>> d = tempfile.mkdtemp()
    >>> net = {"synthetic": {"n_regions": 8, "n_outlets": 60, "n_distributors": 4, "seed": 1}}
    >>> sc = [co.Scenario(name="ok", network=net, params={"objective": "p_median", "p": 2}),
    ...       co.Scenario(name="bad", network=net, params={"objective": "p_median", "p": 9})]
    >>> _ = co.run_scenarios(sc, out=d, executor="serial", progress=False)
    >>> table = compare_results(d)
    >>> table["name"].tolist(), table["status"].tolist(), table["error_type"].tolist()[0]
    (['bad', 'ok'], ['invalid', 'optimal'], 'SettingsError')
    """
    folder = Path(out)
    if not folder.is_dir():
        raise FileNotFoundError(f"no result folder {str(folder)!r}")
    records = []
    for path in sorted(folder.glob("*/result.json")):
        try:
            records.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            log.warning("skipping unreadable %s: %s", path, exc)
    frame = _records_frame(records).drop(columns="resumed", errors="ignore")
    frame = frame.sort_values("name", kind="stable").reset_index(drop=True) if len(frame) else frame
    if excel is not None:
        from .io import results_to_excel

        results_to_excel(frame, excel)
    return frame
