"""Every error channelopt raises on purpose is a ChannelOptError; missing paths stay FileNotFoundErrors."""

from __future__ import annotations

import pytest

import channelopt as co
from channelopt.cli import EXIT_USAGE, main
from channelopt.report_index import report_folder
from channelopt.scenarios import compare_results, load_scenarios
from channelopt.scenarios.store import load_result


def _entry_points(tmp_path):
    missing = tmp_path / "nowhere"
    return [
        (lambda: report_folder(missing), missing),
        (lambda: compare_results(missing), missing),
        (lambda: load_scenarios(missing / "s.toml"), missing / "s.toml"),
        (lambda: co.run_scenarios(missing / "s.toml"), missing / "s.toml"),
        (lambda: load_result(tmp_path, "p3"), tmp_path / "p3" / "result.json"),
    ]


@pytest.mark.parametrize("i", range(5))
def test_missing_path_is_channelopt_error_naming_the_path(tmp_path, i):
    call, path = _entry_points(tmp_path)[i]
    with pytest.raises(co.PathNotFoundError) as info:
        call()
    err = info.value
    assert isinstance(err, co.ChannelOptError) and isinstance(err, FileNotFoundError)
    assert str(path) in str(err) and str(err).startswith("no ")   # the message, not OSError's errno form
    assert err.filename == str(path)
    try:                                   # callers' existing ``except FileNotFoundError`` still catch it
        call()
    except FileNotFoundError as exc:
        assert type(exc) is co.PathNotFoundError


def test_cli_report_on_missing_folder_names_it(tmp_path, capsys):
    missing = tmp_path / "nowhere"
    assert main(["report", str(missing)]) == EXIT_USAGE
    assert str(missing) in capsys.readouterr().err


def test_error_tree_exports():
    assert "PathNotFoundError" in co.__all__
    assert issubclass(co.PathNotFoundError, co.ChannelOptError)
    assert issubclass(co.PathNotFoundError, FileNotFoundError)
