"""Thread and serial backends: no process boundary, same error types.

Nothing is pickled, so no payload audit; a task's exception still arrives as
`TaskError` with the label and traceback text, so code written against the
process backend handles failures the same way everywhere.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from concurrent.futures import wait as futures_wait
from typing import Any

from pickle_audit.executor.errors import ExecutorShutdown
from pickle_audit.executor.options import WorkerOptions
from pickle_audit.executor.outcome import overdue, run_task


class InProcessSetups:
    """Setups for workers that share this process: run once, here, when added and removed."""

    def __init__(self) -> None:
        self._teardowns: dict[int, tuple[Callable[..., Any], tuple] | None] = {}

    def add_setup(
        self,
        setup: tuple[Callable[..., Any], tuple],
        teardown: tuple[Callable[..., Any], tuple] | None,
    ) -> int:
        fn, args = setup
        fn(*args)
        handle = len(self._teardowns)
        self._teardowns[handle] = teardown
        return handle

    def remove_setup(self, handle: int) -> None:
        teardown = self._teardowns.pop(handle, None)
        if teardown is not None:
            fn, args = teardown
            fn(*args)


class SerialBackend(InProcessSetups):
    """Runs each task in the caller, at submit: the reference for every other backend."""

    serializer = None

    def __init__(self, options: WorkerOptions) -> None:
        if options.initializer is not None:
            options.initializer(*options.initargs)
        super().__init__()
        self._options = options
        self._finished = False

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
        if not self._finished:
            self._finished = True
            finalize(self._options)


class ThreadBackend(InProcessSetups):
    """Daemon threads taking tasks in order; `timeout` fails an overdue task.

    A Python thread cannot be stopped, so an overdue or cancelled task's thread
    runs on in the background. The threads are daemons and shutdown waits only for
    tasks still owed a result: a hung task never blocks a `with` block whose tasks
    all have a result (its own is TaskTimeout), `shutdown(cancel=True)`, or
    interpreter exit. (concurrent.futures' ThreadPoolExecutor joins its threads at
    exit, so there one hung task keeps the interpreter alive forever.)
    """

    serializer = None

    def __init__(self, workers: int, options: WorkerOptions) -> None:
        if options.initializer is not None:  # shared process state: initialize once, up front
            options.initializer(*options.initargs)
        super().__init__()
        self._options = options
        self._timeout = options.timeout
        self._tasks: queue.SimpleQueue = queue.SimpleQueue()
        self._pending: dict[Future, str | None] = {}  # owed a result, with its label
        self._lock = threading.Lock()
        self._closed = False
        self._threads = [
            threading.Thread(target=self._serve, name=f"pickle-audit-{index}", daemon=True)
            for index in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(
        self, fn: Callable[..., Any], args: tuple, kwargs: dict, label: str | None
    ) -> Future:
        future: Future = Future()
        with self._lock:
            if self._closed:
                raise ExecutorShutdown("cannot submit after shutdown", label)
            self._pending[future] = label
        future.add_done_callback(self._forget)
        self._tasks.put((future, fn, args, kwargs, label))
        return future

    def _forget(self, future: Future) -> None:
        with self._lock:
            self._pending.pop(future, None)

    def _serve(self) -> None:
        while (task := self._tasks.get()) is not None:
            self._run(*task)

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
        with self._lock:
            if self._closed:
                return
            self._closed = True
            pending = dict(self._pending)
        for _ in self._threads:
            self._tasks.put(None)  # after every task already queued
        if cancel:
            for future, label in pending.items():
                if not future.cancel():  # running: its thread cannot be stopped
                    with contextlib.suppress(InvalidStateError):  # it may just have ended
                        future.set_exception(
                            ExecutorShutdown(
                                f"task {label!r} was cancelled by shutdown while running;"
                                " its thread runs on in the background",
                                label,
                            )
                        )
        elif wait:
            futures_wait(pending)
        finalize(self._options)


def finalize(options: WorkerOptions) -> None:
    """Run the finalizer once in this process (thread and serial workers share it)."""
    if options.finalizer is not None:
        options.finalizer(*options.finalargs)
