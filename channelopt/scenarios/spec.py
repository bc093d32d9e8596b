"""What a scenario is: a network recipe, a model with its settings, solver settings; checked early."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import importlib
import inspect
import json
import logging
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from .._json import jsonable
from ..exceptions import (
    SettingsError,
)
from ..solver import Solver

__all__ = ['Scenario', 'ScenarioFileError', 'model_class', 'known_params', 'network_from_recipe']

log = logging.getLogger("channelopt.scenarios")

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
        from ..datasets import available_examples

        names = list(available_examples())
        if recipe["example"] not in names:
            raise SettingsError(f"{where}.example: unknown example {recipe['example']!r}; known: {names}.")
    else:
        from ..datasets import make_synthetic

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
    from ..datasets import load_example, make_synthetic

    if "path" in recipe:
        from ..io import read_network

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
        (on a copy: ``copy.copy(model).set_params(**params)``).
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
            # set_params changes a model in place (scikit-learn): change a copy.
            return copy.copy(self.model).set_params(**params)
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
