"""Import structure: no import cycles, through the plan / report / viz / planner / scenarios layer or anywhere.

Imports inside functions count: a cycle that only closes at call time still ties two
modules into one.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1] / "channelopt"
# The modules this layer owns; a cycle through any of them fails.
LAYER = ["channelopt.plan", "channelopt.report", "channelopt.viz", "channelopt.comparison", "channelopt.planner",
         "channelopt.models.joint", "channelopt.models.budget", "channelopt.response", "channelopt.metrics",
         "channelopt._plan_geo", "channelopt._json", "channelopt._executors", "channelopt.models._exclusive"]
LAYER += sorted(".".join(p.relative_to(ROOT.parent).with_suffix("").parts).removesuffix(".__init__")
                for p in (ROOT / "scenarios").rglob("*.py")) if (ROOT / "scenarios").is_dir() \
    else ["channelopt.scenarios"]


@functools.lru_cache(maxsize=1)
def import_graph() -> nx.DiGraph:
    mods = {}
    for f in ROOT.rglob("*.py"):
        parts = list(f.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = f
    g = nx.DiGraph()
    for name, f in mods.items():
        pkg = name if f.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1] if node.level else []
                target = ".".join(base + ([node.module] if node.module else []))
                targets = [target] + [f"{target}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            for t in targets:
                # A submodule reaching its own package's __init__ is how Python imports it, not a cycle.
                if t in mods and t != name and not name.startswith(t + ".") and t != "channelopt":
                    g.add_edge(name, t)
    return g


def test_the_graph_sees_imports_inside_functions():
    g = import_graph()
    # plan.to_html imports report inside the method: the edge must be there.
    assert g.has_edge("channelopt.plan", "channelopt.report")


@pytest.mark.parametrize("module", LAYER)
def test_no_import_cycle_through(module):
    g = import_graph()
    if module not in g:
        return
    reach = nx.descendants(g, module)
    back = [m for m in reach if module in nx.descendants(g, m) or g.has_edge(m, module)]
    assert not back, f"{module} is in an import cycle with {sorted(back)}"


def test_no_import_cycle_anywhere_in_the_package():
    """Issue 11: no cycles at all, counting imports inside functions (the model packages included)."""
    g = import_graph()
    cycles = sorted(sorted(c) for c in nx.simple_cycles(g))
    assert not cycles, f"import cycles: {cycles[:5]}"


def public_definitions() -> dict[str, list[str]]:
    """Module-level public classes and functions (no leading underscore), by name -> defining modules."""
    out: dict[str, list[str]] = {}
    for f in sorted(ROOT.rglob("*.py")):
        for node in ast.parse(f.read_text(encoding="utf-8")).body:
            kinds = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
            if isinstance(node, kinds) and not node.name.startswith("_"):
                out.setdefault(node.name, []).append(str(f.relative_to(ROOT.parent)))
    return out


def test_the_definition_scan_sees_classes_and_functions():
    defs = public_definitions()
    assert defs["DistributorSelection"] == ["channelopt/models/distributors/selection.py"]
    assert defs["pareto_front"] == ["channelopt/comparison.py"]


def test_no_public_name_is_defined_in_two_modules():
    """Issue 11: one definition of each thing; a moved name's old path re-exports, it does not define again."""
    twice = {name: where for name, where in public_definitions().items() if len(where) > 1}
    assert not twice, f"public names defined in more than one module: {twice}"
