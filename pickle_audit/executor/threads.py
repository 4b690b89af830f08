"""Thread and serial backends: no process boundary, same error types.

Nothing is pickled, so no payload audit; a task's exception still arrives as
`TaskError` with the label and traceback text, so code written against the
process backend handles failures the same way everywhere.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from pickle_audit.executor.errors import ExecutorShutdown
from pickle_audit.executor.options import WorkerOptions
from pickle_audit.executor.outcome import overdue, run_task


class SerialBackend:
    """Runs each task in the caller, at submit: the reference for every other backend."""

    serializer = None

    def __init__(self, options: WorkerOptions) -> None:
        if options.initializer is not None:
            options.initializer(*options.initargs)

    def submit(
        self, fn: Callable[..., Any], args: tuple, kwargs: dict, label: str | None
    ) -> Future:
        future: Future = Future()
        future.set_running_or_notify_cancel()
        run_task(fn, args, kwargs, label, portable=False).settle(future, label)
        return future

    def wait_ready(self, timeout: float | None = None) -> bool:
        return True

    def shutdown(self, wait: bool = True, cancel: bool = False) -> None:
        """Nothing runs in the background: every task finished inside its submit."""


class ThreadBackend:
    """A thread pool; `timeout` fails an overdue task (the thread itself runs on)."""

    serializer = None

    def __init__(self, workers: int, options: WorkerOptions) -> None:
        if options.initializer is not None:  # shared process state: initialize once, up front
            options.initializer(*options.initargs)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pickle-audit")
        self._timeout = options.timeout
        self._pending: set[Future] = set()
        self._lock = threading.Lock()

    def submit(
        self, fn: Callable[..., Any], args: tuple, kwargs: dict, label: str | None
    ) -> Future:
        future: Future = Future()
        try:
            inner = self._pool.submit(self._run, future, fn, args, kwargs, label)
        except RuntimeError as exc:
            raise ExecutorShutdown(f"cannot submit: {exc}", label) from None
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._forget)
        future.add_done_callback(lambda f: f.cancelled() and inner.cancel())
        return future

    def _forget(self, future: Future) -> None:
        with self._lock:
            self._pending.discard(future)

    def _run(self, future: Future, fn, args: tuple, kwargs: dict, label: str | None) -> None:
        if not future.set_running_or_notify_cancel():
            return
        timer = None
        if self._timeout is not None:
            expired = overdue(label, self._timeout, "a thread")
            timer = threading.Timer(self._timeout, expired.settle, (future, label))
            timer.daemon = True
            timer.start()
        outcome = run_task(fn, args, kwargs, label, portable=False)
        if timer is not None:
            timer.cancel()
        outcome.settle(future, label)

    def wait_ready(self, timeout: float | None = None) -> bool:
        return True

    def shutdown(self, wait: bool = True, cancel: bool = False) -> None:
        if cancel:
            with self._lock:
                pending = list(self._pending)
            for future in pending:
                future.cancel()
        self._pool.shutdown(wait=wait, cancel_futures=cancel)
