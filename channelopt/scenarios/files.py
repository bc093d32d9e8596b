"""Scenario files (YAML / TOML): parsing, with errors that name the key and line."""

from __future__ import annotations

import copy
import logging
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..exceptions import (
    PathNotFoundError,
    SettingsError,
)
from .grid import expand, grid_axes
from .spec import (
    _FIELDS,
    MODELS,
    Scenario,
    ScenarioFileError,
    _check_recipe,
    _solver_from,
    known_params,
    model_class,
)

__all__ = ['load_scenarios', 'scenarios_from_dict']

log = logging.getLogger("channelopt.scenarios")

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
    PathNotFoundError
        No such file (also a ``FileNotFoundError``).

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
        raise PathNotFoundError(f"no scenario file {str(path)!r} (looked from {Path.cwd()}).", path=path)
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
    axes = grid_axes(grid, fail)

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
        for entry in expand(merged, axes, stem):
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
