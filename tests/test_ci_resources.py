"""Under CI a check with a missing outside resource fails; a user's clone skips it with a message."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent

PROBE = '''
import pytest

def test_fixture_form(need_resource):
    need_resource(False, "the moon", "look up")

def test_plain_skip_form():
    pytest.skip("[needs resource] headless Chromium not installed")

def test_benchdata(benchdata):
    assert benchdata.is_dir()

def test_other_skip_stays_a_skip():
    pytest.skip("not applicable on this platform")
'''


def run_probe(tmp_path: Path, ci: str | None) -> str:
    shutil.copy(HERE / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_probe.py").write_text(PROBE)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["CHANNELOPT_BENCHDATA"] = str(tmp_path / "absent")
    if ci is not None:
        env["CI"] = ci
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:xdist", "-p", "no:cacheprovider",
                          "--rootdir", str(tmp_path), str(tmp_path / "test_probe.py")],
                         capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    return res.stdout


@pytest.mark.parametrize("ci", ["true", "1"])
def test_missing_resources_fail_under_ci(tmp_path, ci):
    out = run_probe(tmp_path, ci)
    # A fixture that fails makes an error, which CI counts as a failure as well.
    assert "2 failed, 1 skipped, 1 error" in out, out
    assert "FAILED test_probe.py::test_fixture_form" in out
    assert "FAILED test_probe.py::test_plain_skip_form" in out
    assert "ERROR test_probe.py::test_benchdata" in out
    assert "CI must run this check. [needs resource] the moon is not available: look up" in out
    assert "SKIPPED" in out and "not applicable on this platform" in out


def test_missing_resources_skip_with_a_message_in_a_users_clone(tmp_path):
    out = run_probe(tmp_path, None)
    assert "4 skipped" in out, out
    assert "[needs resource] the published benchmark data (../shared/benchdata) is not available" in out
    assert "set CHANNELOPT_BENCHDATA" in out
