"""Errors and warnings raised by channelopt.

The errors form a tree so callers can catch at the depth they need::

    ChannelOptError
    ├── ValidationError (also ValueError)   bad input data
    ├── SettingsError (also ValueError)     bad model or solver settings
    ├── InfeasibleError                     the constraints cannot all hold
    ├── NoSolutionError                     the solver stopped without any plan
    ├── SolverError                         the solver itself failed
    ├── BuildError (also ValueError)        a model assembled an inconsistent problem (a bug)
    └── PathNotFoundError (also FileNotFoundError)   a file or folder the user named is missing
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "ChannelOptError",
    "ValidationError",
    "SettingsError",
    "InfeasibleError",
    "NoSolutionError",
    "SolverError",
    "BuildError",
    "PathNotFoundError",
    "NotOptimalWarning",
    "format_ids",
]


class ChannelOptError(Exception):
    """Base class of every error channelopt raises on purpose."""


class ValidationError(ChannelOptError, ValueError):
    """Input data is malformed: the message names the column, the ids and the fix.

    Attributes
    ----------
    column : str or None
        The offending column, where one is to blame.
    ids : list
        The offending row ids (at most the first 20 are kept).
    """

    def __init__(self, message: str, *, column: str | None = None, ids: Iterable | None = None):
        super().__init__(message)
        self.column = column
        self.ids = list(ids)[:20] if ids is not None else []


class SettingsError(ChannelOptError, ValueError):
    """A model or solver setting is invalid or contradicts the data."""


class InfeasibleError(ChannelOptError):
    """The model has no feasible plan; the message says which constraint is to blame.

    Attributes
    ----------
    reasons : list of str
        Human-readable diagnoses found by cheap checks, most likely first.
    """

    def __init__(self, message: str, *, reasons: Iterable[str] = ()):
        super().__init__(message)
        self.reasons = list(reasons)


class NoSolutionError(ChannelOptError):
    """The solver stopped (time limit, interrupt) before finding any feasible plan."""


class SolverError(ChannelOptError):
    """The solver failed or returned a status channelopt cannot interpret."""


class BuildError(ChannelOptError, ValueError):
    """A model assembled an inconsistent array problem (a bug in the model, not in the data)."""


class PathNotFoundError(ChannelOptError, FileNotFoundError):
    """A file or folder the user named does not exist; the message names the path.

    Also a ``FileNotFoundError``, so ``except FileNotFoundError`` keeps catching it.

    Attributes
    ----------
    filename : str or None
        The missing path.

    Examples
    --------
    >>> err = PathNotFoundError("no scenario file 'x.toml'", path="x.toml")
    >>> isinstance(err, FileNotFoundError), isinstance(err, ChannelOptError), err.filename
    (True, True, 'x.toml')
    """

    def __init__(self, message: str, *, path: object = None):
        super().__init__(message)
        self.filename = None if path is None else str(path)

    def __str__(self) -> str:  # OSError's own form would print "[Errno None] None: <path>"
        return str(self.args[0]) if self.args else ""


class NotOptimalWarning(UserWarning):
    """A plan is feasible but not proven optimal (e.g. stopped by its time limit)."""


def format_ids(ids: Iterable, limit: int = 10) -> str:
    """Render ids for an error message, eliding past ``limit``.

    Examples
    --------
    >>> format_ids(["a", "b", "c"], limit=2)
    "['a', 'b'] and 1 more"
    """
    ids = list(ids)
    head = repr([i.item() if hasattr(i, "item") else i for i in ids[:limit]])
    rest = len(ids) - limit
    return f"{head} and {rest} more" if rest > 0 else head
