"""Progress bars and logging for long solves and batches.

channelopt is quiet by default: its logger has a ``NullHandler`` and progress bars
are off. :func:`set_verbosity` turns both on (``"INFO"``) or up (``"DEBUG"``).
Code that loops over many solves wraps its iterable in :func:`progress`, which
shows a tqdm bar (the notebook widget in Jupyter) only when verbosity is on or
``show=True``, so scripts and tests stay silent.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from typing import Any

__all__ = ["set_verbosity", "progress", "progress_enabled"]

_LOGGER = "channelopt"
_HANDLER_NAME = "channelopt-verbosity"


def set_verbosity(level: str | int | bool = "INFO") -> logging.Logger:
    """Show channelopt's log messages (and progress bars) at ``level`` or above.

    Parameters
    ----------
    level : {"DEBUG", "INFO", "WARNING", "ERROR"}, int or bool
        ``True`` means ``"INFO"``; ``False`` or ``"WARNING"`` and above returns to
        quiet (warnings still show through Python's ``warnings``).

    Returns
    -------
    logging.Logger
        The ``channelopt`` logger.

    Examples
    --------
    >>> log = set_verbosity("DEBUG")
    >>> log.level == logging.DEBUG, progress_enabled()
    (True, True)
    >>> log = set_verbosity(False)
    >>> progress_enabled()
    False
    """
    if level is True:
        level = logging.INFO
    elif level is False:
        level = logging.WARNING
    if isinstance(level, str):
        name = level.upper()
        if name not in logging.getLevelNamesMapping():
            from .exceptions import SettingsError

            raise SettingsError(f"verbosity {level!r} is not a logging level; use DEBUG, INFO, WARNING or ERROR.")
        level = logging.getLevelNamesMapping()[name]
    logger = logging.getLogger(_LOGGER)
    logger.setLevel(level)
    handler = next((h for h in logger.handlers if h.get_name() == _HANDLER_NAME), None)
    if level < logging.WARNING and handler is None:
        handler = logging.StreamHandler()
        handler.set_name(_HANDLER_NAME)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s", "%H:%M:%S"))
        logger.addHandler(handler)
    elif level >= logging.WARNING and handler is not None:
        logger.removeHandler(handler)
    return logger


def progress_enabled() -> bool:
    """Are progress bars on? (verbosity INFO or lower, or ``CHANNELOPT_PROGRESS=1``)."""
    env = os.environ.get("CHANNELOPT_PROGRESS", "").strip().lower()
    if env in ("0", "false", "no", "off"):
        return False
    if env in ("1", "true", "yes", "on"):
        return True
    logger = logging.getLogger(_LOGGER)
    return logger.level != logging.NOTSET and logger.level <= logging.INFO


def progress(iterable: Iterable | None = None, *, total: int | None = None, desc: str | None = None,
             show: bool | None = None, **kwargs: Any):
    """Wrap ``iterable`` in a tqdm progress bar, shown only when progress is on.

    Parameters
    ----------
    iterable : iterable, optional
    total : int, optional
    desc : str, optional
    show : bool, optional
        Force the bar on or off; default :func:`progress_enabled`.
    **kwargs
        Passed to ``tqdm``.

    Returns
    -------
    tqdm.tqdm
        Iterate over it, or call ``update(n)`` on it; ``close()`` when done.

    Examples
    --------
    >>> sum(progress(range(4), desc="solves", show=False))
    6
    """
    from tqdm.auto import tqdm

    disable = not (progress_enabled() if show is None else show)
    return tqdm(iterable, total=total, desc=desc, disable=disable, **kwargs)
