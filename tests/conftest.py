"""Shared fixtures: the benchmark data beside the repo, and small networks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def benchdata_dir() -> Path | None:
    """``../shared/benchdata`` next to the clone (CI and developers have it; users do not)."""
    env = os.environ.get("CHANNELOPT_BENCHDATA")
    for cand in ([Path(env)] if env else []) + [ROOT.parent / "shared" / "benchdata"]:
        if cand.is_dir():
            return cand
    return None


@pytest.fixture(scope="session")
def benchdata() -> Path:
    path = benchdata_dir()
    if path is None:
        pytest.skip("published benchmark data not found: ../shared/benchdata is absent "
                    "(set CHANNELOPT_BENCHDATA to its folder to run these checks)")
    return path
