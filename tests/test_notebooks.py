"""Every tutorial notebook executes top to bottom (a broken notebook fails CI)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9]*.ipynb"))


def test_notebooks_are_present_and_stripped():
    assert [p.stem[:2] for p in NOTEBOOKS] == ["01", "02", "03", "04", "05", "06", "07", "08", "09"]
    for path in NOTEBOOKS:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        code = [c for c in cells if c["cell_type"] == "code"]
        assert code, path.name
        assert all(not c["outputs"] and c["execution_count"] is None for c in code), f"{path.name} has outputs"


def test_generator_reproduces_the_committed_notebooks(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("_build_notebooks", NOTEBOOKS[0].parent / "_build_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for fresh in module.build(tmp_path):
        committed = NOTEBOOKS[0].parent / fresh.name
        strip = lambda nb: [(c["cell_type"], c["source"]) for c in json.loads(nb.read_text())["cells"]]  # noqa: E731
        assert strip(fresh) == strip(committed), f"rerun notebooks/_build_notebooks.py: {fresh.name} is stale"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path, tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=240, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    # Each story shows at least one figure.
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if "image/png" in o.get("data", {})]
    assert images, f"{path.name} drew no figure"
