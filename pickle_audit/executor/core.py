"""`Executor`: one API over serial, thread, process and Dask backends.

The facade owns what every backend shares: option checking, task labels, the
pre-flight payload audit (a bad payload fails at `submit`, named), and the
guarantee that leaving a `with` block on an exception - Ctrl-C included -
cancels pending work and stops every worker. An executor that is never shut
down is cancelled at interpreter exit, so a forgotten pool cannot hang exit.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import itertools
import os
import weakref
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from typing import Any

from pickle_audit.executor.errors import ExecutorShutdown, PayloadError
from pickle_audit.executor.options import WorkerOptions
from pickle_audit.executor.payload import PayloadAuditor, audit_report, payload_error

BACKENDS: tuple[str, ...] = ("serial", "thread", "process", "dask")


def available_cores() -> int:
    """Cores this process may use (affinity-aware where the OS tells)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


class Executor:
    """Run labelled tasks in parallel with pickle-safe payloads and clean failures.

    `timeout` is per task (seconds of run time); `retries` re-runs tasks whose
    worker crashed; `audit` is "first" (first task of each shape), "all" or
    "off"; `start_method` is a multiprocessing start method for the process
    backend (default forkserver, else spawn: both safe after OpenMP threads
    ran in the parent); `address` is a Dask scheduler address (None starts an
    embedded LocalCluster); `initializer(*initargs)` runs once per worker, and
    `finalizer(*finalargs)` undoes it at shutdown where workers outlive the
    executor (every Dask worker it ran on; the caller, for thread and serial);
    `worker_env` is set in each worker process before it imports anything.

    The process backend hands each task to the first worker that is free, so a
    short task never waits behind a long one while another worker idles. Only when
    tasks are measured to be tiny (under 5 ms) is a busy worker sent its next one
    ahead of time (while more work is queued than there are workers and no timeout
    is set), to save the round trip; such a task can still be cancelled (it then
    runs, and its result is dropped).
    """

    def __init__(
        self,
        backend: str = "process",
        workers: int | None = None,
        *,
        timeout: float | None = None,
        retries: int = 0,
        audit: str = "first",
        start_method: str | None = None,
        address: str | None = None,
        initializer: Callable[..., Any] | None = None,
        initargs: tuple = (),
        worker_env: dict[str, str] | None = None,
        finalizer: Callable[..., Any] | None = None,
        finalargs: tuple = (),
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be at least 1, not {workers}")
        if timeout is not None and timeout <= 0:
            raise ValueError(f"timeout must be a positive number of seconds, not {timeout}")
        if retries < 0:
            raise ValueError(f"retries must be 0 or more, not {retries}")
        if backend == "serial" and timeout is not None:
            raise ValueError(
                "timeout needs a thread, process or dask backend (serial runs in the caller)"
            )
        self.backend_name = backend
        self.workers = 1 if backend == "serial" else (workers or available_cores())
        # workers on this machine (a Dask scheduler elsewhere may have them anywhere)
        self.shares_host = backend != "dask" or address is None
        self._labels = itertools.count(1)
        options = WorkerOptions(
            initializer,
            initargs,
            timeout,
            retries,
            dict(worker_env or {}),
            finalizer,
            finalargs,
        )
        if backend in ("process", "dask") and initializer is not None and audit != "off":
            _audit_initializer(options, "pickle" if backend == "process" else "cloudpickle")
        self._backend = self._create(backend, options, start_method, address)
        self._auditor = PayloadAuditor(audit, self._backend.serializer or "pickle")
        self._closed = False
        self._exit_hook = functools.partial(_cancel_at_exit, weakref.ref(self))
        atexit.register(self._exit_hook)

    def _create(self, backend: str, options: WorkerOptions, start_method, address):
        if backend == "serial":
            from pickle_audit.executor.threads import SerialBackend

            return SerialBackend(options)
        if backend == "thread":
            from pickle_audit.executor.threads import ThreadBackend

            return ThreadBackend(self.workers, options)
        if backend == "process":
            from pickle_audit.executor.processes import ProcessBackend

            return ProcessBackend(self.workers, options, start_method=start_method)
        from pickle_audit.executor.dask import DaskBackend

        return DaskBackend(self.workers, options, address=address)

    def submit(
        self, fn: Callable[..., Any], /, *args: Any, label: str | None = None, **kwargs: Any
    ) -> Future:
        """Schedule `fn(*args, **kwargs)`; a bad payload raises PayloadError here."""
        if label is None:
            label = f"{getattr(fn, '__qualname__', type(fn).__name__)}#{next(self._labels)}"
        if self._closed:
            raise ExecutorShutdown("cannot submit after shutdown", label)
        if self._backend.serializer is None:
            return self._backend.submit(fn, args, kwargs, label)
        self._auditor.check(fn, args, kwargs, label)
        try:
            return self._backend.submit(fn, args, kwargs, label)
        except PayloadError:
            raise
        except Exception as exc:
            if not _is_serialization_error(exc):
                raise
            task = {"fn": fn, "args": args, "kwargs": kwargs}
            report = audit_report(task, name="task", serializer=self._backend.serializer)
            raise payload_error(
                report or f"{type(exc).__name__}: {exc}",
                label=label,
                serializer=self._backend.serializer,
            ) from exc

    def map(
        self, fn: Callable[..., Any], *iterables: Iterable[Any], labels: Iterable[str] | None = None
    ) -> Iterator[Any]:
        """Submit all, then yield results in order (the first failure raises)."""
        label_iter = iter(labels) if labels is not None else itertools.repeat(None)
        futures = [
            self.submit(fn, *args, label=next(label_iter)) for args in zip(*iterables, strict=False)
        ]

        def results() -> Iterator[Any]:
            for future in futures:
                yield future.result()

        return results()

    @contextlib.contextmanager
    def worker_state(
        self,
        setup: Callable[..., Any],
        args: tuple = (),
        teardown: Callable[..., Any] | None = None,
        teardown_args: tuple = (),
    ) -> Iterator[None]:
        """Set every worker up with `setup(*args)` for the tasks submitted inside the
        block (workers started meanwhile too), and undo it with `teardown` at the end.

        A kept executor serves many runs this way (a geometry scan, many molecules):
        workers start once, and each run sends its own state once per worker.
        """
        if self._closed:
            raise ExecutorShutdown("cannot set workers up after shutdown")
        serializer = self._backend.serializer
        if serializer is not None and self._auditor.mode != "off":
            _audit_initializer(WorkerOptions(setup, args), serializer)
        teardown_call = None if teardown is None else (teardown, teardown_args)
        handle = self._backend.add_setup((setup, args), teardown_call)
        try:
            yield
        finally:
            self._backend.remove_setup(handle)

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until every worker has started and run its initializer."""
        return self._backend.wait_ready(timeout)

    def worker_pids(self) -> list[int]:
        """Process ids of the current workers (process backend; empty otherwise)."""
        pids = getattr(self._backend, "worker_pids", None)
        return pids() if pids is not None else []

    @property
    def bytes_sent(self) -> int:
        """Total pickled task bytes sent to workers (process backend)."""
        return getattr(self._backend, "bytes_sent", 0)

    def shutdown(self, wait: bool = True, cancel: bool = False) -> None:
        """Stop the workers. `cancel=True` drops pending tasks and terminates running ones."""
        if self._closed and not cancel:
            return
        self._closed = True
        atexit.unregister(self._exit_hook)
        self._backend.shutdown(wait=wait, cancel=cancel)

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.shutdown(wait=True, cancel=exc_type is not None)


def _audit_initializer(options: WorkerOptions, serializer: str) -> None:
    report = audit_report(
        (options.initializer, options.initargs), name="initializer", serializer=serializer
    )
    if report is not None:
        raise payload_error(report, label="initializer", serializer=serializer)


def _is_serialization_error(exc: Exception) -> bool:
    import pickle

    return isinstance(exc, (pickle.PicklingError, TypeError, AttributeError, RecursionError))


def _cancel_at_exit(ref: weakref.ReferenceType) -> None:
    executor = ref()
    if executor is not None:
        executor.shutdown(wait=True, cancel=True)
