"""Where scenario tasks run: in this process, a local process pool, or a Dask cluster.

One small interface (``submit``, ``as_completed``, ``close``) hides the three, so
:func:`channelopt.scenarios.run_scenarios` has a single loop. Dask is optional: it
is imported only when asked for, with an error naming the ``channelopt[dask]`` extra.
"""

from __future__ import annotations

import ast
import concurrent.futures as cf
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .exceptions import SettingsError

__all__ = ["Executor", "resolve_executor", "import_distributed", "unguarded_main_call"]

#: executor names accepted by :func:`resolve_executor` (anything else is a scheduler address)
NAMES = ("processes", "serial", "dask")


def import_distributed():
    """``dask.distributed``, or an ImportError that says how to install it."""
    try:
        import distributed
    except ImportError as exc:  # pragma: no cover - dask is installed in the dev venv
        raise ImportError(
            "running scenarios on Dask needs dask.distributed: pip install 'channelopt[dask]' "
            f"({exc})") from exc
    return distributed


class Executor:
    """Runs ``fn(*args)`` tasks somewhere and yields them as they finish.

    Attributes
    ----------
    kind : str
        ``"serial"``, ``"processes"`` or ``"dask"``.
    workers : int
        How many tasks may run at once.
    """

    kind = "serial"

    def __init__(self) -> None:
        self.workers = 1

    def submit(self, fn: Callable, *args: Any) -> Any:
        fut: cf.Future = cf.Future()
        # Serial tasks run lazily in as_completed, so a KeyboardInterrupt lands between tasks.
        fut._channelopt_call = (fn, args)  # type: ignore[attr-defined]
        return fut

    def as_completed(self, futures: Iterable[Any]) -> Iterator[Any]:
        for fut in futures:
            fn, args = fut._channelopt_call
            try:
                fut.set_result(fn(*args))
            except BaseException as exc:  # the task's own failures are the caller's to record
                if isinstance(exc, KeyboardInterrupt):
                    raise
                fut.set_exception(exc)
            yield fut

    def result(self, future: Any) -> Any:
        return future.result()

    def cancel(self, futures: Iterable[Any]) -> None:
        for fut in futures:
            fut.cancel()

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return f"{self.kind} ({self.workers} worker{'s' if self.workers != 1 else ''})"


class ProcessExecutor(Executor):
    """A local :class:`concurrent.futures.ProcessPoolExecutor`.

    Workers are forked from a forkserver that has imported channelopt once, so each
    starts fast, and none inherits solver threads from the parent (forking a process
    that runs HiGHS threads can deadlock the child).
    """

    kind = "processes"

    def __init__(self, workers: int | None = None, preload: Iterable[str] = ("channelopt.scenarios",)) -> None:
        self.workers = int(workers or max(1, (os.cpu_count() or 2) - 1))
        unguarded = unguarded_main_call()
        if unguarded is not None:
            path, line = unguarded
            raise SettingsError(
                f"executor='processes' was started from the top level of {path} (line {line}) outside an "
                f"`if __name__ == \"__main__\":` block. Each worker process re-runs that script when it starts, "
                f"so every scenario would fail (BrokenProcessPool). Put the call under "
                f"`if __name__ == \"__main__\":`, or pass executor='serial'.")
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
        if ctx.get_start_method() == "forkserver":
            ctx.set_forkserver_preload(list(preload))
        self.pool = cf.ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx)

    def submit(self, fn: Callable, *args: Any) -> Any:
        return self.pool.submit(fn, *args)

    def as_completed(self, futures: Iterable[Any]) -> Iterator[Any]:
        return cf.as_completed(list(futures))

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

    def abort(self) -> None:
        """Stop now: cancel what has not started and do not wait for running tasks."""
        self.pool.shutdown(wait=False, cancel_futures=True)


def _guarded_lines(path: str) -> list[tuple[int, int]]:
    """Line ranges of the ``if __name__ == "__main__":`` blocks of a script."""
    try:
        tree = ast.parse(open(path, encoding="utf-8").read(), path)
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return []
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Compare) and len(node.test.ops) == 1 \
                and isinstance(node.test.ops[0], ast.Eq):
            sides = [node.test.left, *node.test.comparators]
            names = {s.id for s in sides if isinstance(s, ast.Name)}
            consts = {s.value for s in sides if isinstance(s, ast.Constant)}
            if names == {"__name__"} and consts == {"__main__"}:
                out.append((node.body[0].lineno, node.end_lineno or node.body[-1].lineno))
    return out


def unguarded_main_call() -> tuple[str, int] | None:
    """``(script, line)`` when the running call comes from a script's unguarded top level.

    A ``spawn`` or ``forkserver`` worker re-runs the main script (as ``__mp_main__``)
    before it takes any task; a script that starts the pool at its top level then
    starts it again in every worker, and each dies. Interactive sessions and
    notebooks have no main file, and are safe.
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or not path or not os.path.isfile(path) or "get_ipython" in vars(main):
        return None  # no script, or an IPython/Jupyter session (its cells are not re-run by workers)
    frame = sys._getframe(1)
    line = None
    while frame is not None:
        if frame.f_globals is main.__dict__ and frame.f_code.co_name == "<module>":
            line = frame.f_lineno
        frame = frame.f_back
    if line is None:
        return None
    if any(lo <= line <= hi for lo, hi in _guarded_lines(path)):
        return None
    return path, line


class DaskExecutor(Executor):
    """A ``dask.distributed.Client``: given, or connected to a scheduler address here."""

    kind = "dask"

    def __init__(self, client: Any = None, address: str | None = None, workers: int | None = None) -> None:
        distributed = import_distributed()
        self._distributed = distributed
        self._own_client = client is None
        self._cluster = None
        if client is None:
            if address is None:
                # A private local cluster: one single-threaded worker process per slot,
                # since each HiGHS solve is itself the unit of work.
                self._cluster = distributed.LocalCluster(
                    n_workers=int(workers or max(1, (os.cpu_count() or 2) - 1)), threads_per_worker=1,
                    processes=True, dashboard_address=None)
                client = distributed.Client(self._cluster)
            else:
                try:
                    client = distributed.Client(address, timeout="3s")
                except OSError as exc:
                    raise SettingsError(f"cannot reach the Dask scheduler at {address!r}: {exc}. Start one with "
                                        f"`dask scheduler` (and `dask worker {address}`), or check the address."
                                        ) from None
        self.client = client
        info = client.scheduler_info() if hasattr(client, "scheduler_info") else {}
        n = sum(int(w.get("nthreads", 1)) for w in info.get("workers", {}).values())
        self.workers = n or 1

    def submit(self, fn: Callable, *args: Any) -> Any:
        # pure=False: two equal scenarios are still two solves (their timings differ).
        return self.client.submit(fn, *args, pure=False)

    def as_completed(self, futures: Iterable[Any]) -> Iterator[Any]:
        return iter(self._distributed.as_completed(list(futures)))

    def cancel(self, futures: Iterable[Any]) -> None:
        futures = list(futures)
        if futures:
            self.client.cancel(futures)

    def close(self) -> None:
        if self._own_client:
            self.client.close()
            if self._cluster is not None:
                self._cluster.close()

    def describe(self) -> str:
        addr = getattr(getattr(self.client, "scheduler", None), "address", "?")
        return f"dask at {addr} ({self.workers} worker thread{'s' if self.workers != 1 else ''})"


def _is_dask_client(obj: Any) -> bool:
    return type(obj).__name__ == "Client" and type(obj).__module__.startswith("distributed")


def resolve_executor(executor: Any = "processes", workers: int | None = None) -> tuple[Executor, bool]:
    """An :class:`Executor` for ``executor``, and whether the caller must close it.

    Parameters
    ----------
    executor : str, dask.distributed.Client or Executor
        ``"processes"`` (a local process pool of ``workers``), ``"serial"`` (this
        process, one task at a time), ``"dask"`` (a private ``LocalCluster`` of
        ``workers``), a Dask scheduler address (``"tcp://host:8786"``), or a
        ``dask.distributed.Client``.
    workers : int, optional
        Pool size for ``"processes"`` and ``"dask"`` (default: CPUs - 1).

    Raises
    ------
    SettingsError
        An unknown executor name, or ``workers`` below 1.

    Examples
    --------
    >>> ex, owned = resolve_executor("serial")
    >>> ex.describe(), owned
    ('serial (1 worker)', True)
    """
    if workers is not None and (int(workers) != workers or workers < 1):
        raise SettingsError(f"workers must be a positive integer, got {workers!r}.")
    if isinstance(executor, Executor):
        return executor, False
    if _is_dask_client(executor):
        return DaskExecutor(client=executor), False
    if executor is None or executor == "processes":
        return ProcessExecutor(workers), True
    if executor == "serial":
        return Executor(), True
    if executor == "dask":
        return DaskExecutor(workers=workers), True
    if isinstance(executor, str) and ("://" in executor or ":" in executor):
        return DaskExecutor(address=executor), True
    raise SettingsError(f"executor must be one of {NAMES}, a Dask scheduler address such as "
                        f"'tcp://127.0.0.1:8786', or a dask.distributed.Client; got {executor!r}.")
