"""Process backend: our own workers, one pipe each, one task at a time.

Unlike `concurrent.futures.ProcessPoolExecutor`, the parent always knows which
task each worker runs. So a worker that dies (segfault, `os._exit`, SIGKILL)
fails only that task with `WorkerCrashed` and is replaced; an overdue task's
worker is killed and replaced; cancelling terminates and joins every worker.
A single dispatcher thread owns all worker state; callers only append to the
queue and wake it up.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import pickle
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from typing import Any

from pickle_audit.executor.errors import (
    ExecutorShutdown,
    TaskTimeout,
    WorkerCrashed,
    describe_exit,
)
from pickle_audit.executor.main_module import check_main_module
from pickle_audit.executor.options import WorkerOptions
from pickle_audit.executor.worker import SETUP, worker_main

STOP_GRACE_SECONDS = 2.0
# When tasks are tiny, a worker is sent its next task while it runs the current
# one, so it never idles for a parent round trip (about 0.1 ms). A worker runs its
# tasks in order, so the parent still knows which one is running (the first) and a
# crash still fails only that one. A task sent ahead cannot be taken back, so it
# waits however long the running one takes: only tasks measured to take less than
# SEND_AHEAD_BELOW_SECONDS are sent ahead, and then the wait is bounded by that.
IN_FLIGHT_PER_WORKER = 2
SEND_AHEAD_BELOW_SECONDS = 0.005


def default_start_method() -> str:
    """forkserver where available: safe after OpenMP threads ran in the parent, and fast."""
    methods = multiprocessing.get_all_start_methods()
    return "forkserver" if "forkserver" in methods else "spawn"


@dataclass
class _Job:
    future: Future
    label: str | None
    message: bytes
    crashes: int = 0
    started: bool = False  # its future is RUNNING (it is, or was, first in a worker's pipe)
    began: float = 0.0  # monotonic time it became first in its worker's pipe


@dataclass
class _Worker:
    process: Any
    conn: Any
    ready: bool = False
    jobs: deque[_Job] = field(default_factory=deque)  # sent, in order; the first is running
    setups: deque[bytes] = field(default_factory=deque)  # to send before its next task
    deadline: float | None = None  # of the running job
    retired: bool = False


class ProcessBackend:
    """Runs pickled tasks in worker processes it starts, watches and replaces."""

    serializer = "pickle"

    def __init__(self, workers: int, options: WorkerOptions, *, start_method: str | None) -> None:
        self._context = multiprocessing.get_context(start_method or default_start_method())
        check_main_module(self._context.get_start_method())
        self._env = options.env
        # pickled here, loaded in the worker only after `env` is applied
        self._init = pickle.dumps((options.initializer, options.initargs))
        self._timeout = options.timeout
        self._retries = options.retries
        self._lock = threading.RLock()
        self._queue: deque[_Job] = deque()
        self._workers: list[_Worker] = []
        self._stopping = False
        self._cancelling = False
        self._broken: str | None = None
        self._ready = threading.Condition(self._lock)
        self._wake_reader, self._wake_writer = multiprocessing.Pipe(duplex=False)
        # never written to: workers see it close when this process dies
        self._lifeline_reader, self._lifeline_writer = self._context.Pipe(duplex=False)
        self._wake_pending = False
        self.bytes_sent = 0
        self.tasks_sent = 0
        self._typical_seconds: float | None = None  # moving average of task run times
        self._setups: dict[int, tuple[bytes, bytes | None]] = {}  # handle -> (set up, undo)
        self._next_setup = 0
        for _ in range(workers):
            self._workers.append(self._start_worker())
        self._thread = threading.Thread(
            target=self._dispatch, name="pickle-audit-dispatcher", daemon=True
        )
        self._thread.start()

    # --- caller side -------------------------------------------------------
    def submit(
        self, fn: Callable[..., Any], args: tuple, kwargs: dict, label: str | None
    ) -> Future:
        message = pickle.dumps((label, fn, args, kwargs))
        future: Future = Future()
        with self._lock:
            if self._broken is not None:
                raise ExecutorShutdown(self._broken, label)
            if self._stopping:
                raise ExecutorShutdown("cannot submit after shutdown", label)
            self._queue.append(_Job(future, label, message))
            self.bytes_sent += len(message)
            self.tasks_sent += 1
            self._wake()
        return future

    def add_setup(
        self,
        setup: tuple[Callable[..., Any], tuple],
        teardown: tuple[Callable[..., Any], tuple] | None,
    ) -> int:
        """Run `fn(*args)` on every worker before its next task, and on every worker
        started later, until `remove_setup` (which runs the teardown on each)."""
        message = SETUP + pickle.dumps(setup)
        undo = None if teardown is None else SETUP + pickle.dumps(teardown)
        with self._lock:
            handle, self._next_setup = self._next_setup, self._next_setup + 1
            self._setups[handle] = (message, undo)
            for worker in self._workers:
                worker.setups.append(message)
            self._wake()
        return handle

    def remove_setup(self, handle: int) -> None:
        """Stop setting new workers up; run the teardown on the current ones."""
        with self._lock:
            _, teardown = self._setups.pop(handle, (None, None))
            if teardown is not None:
                for worker in self._workers:
                    worker.setups.append(teardown)
                self._wake()

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until every worker has run its initializer (or the pool broke)."""
        with self._ready:
            return self._ready.wait_for(
                lambda: self._broken is not None or all(w.ready for w in self._workers), timeout
            )

    def worker_pids(self) -> list[int]:
        with self._lock:
            return [w.process.pid for w in self._workers]

    def shutdown(self, wait: bool = True, cancel: bool = False) -> None:
        with self._lock:
            self._stopping = True
            if cancel:
                self._cancelling = True
                while self._queue:
                    self._cancel(self._queue.popleft())
            self._wake()
        if wait:
            try:
                self._thread.join()
            except KeyboardInterrupt:
                self.shutdown(wait=True, cancel=True)
                raise

    @staticmethod
    def _cancel(job: _Job) -> None:
        """Cancel a job's future; one already RUNNING (a retry) fails instead."""
        if not job.future.cancel() and not job.future.done():
            job.future.set_exception(
                ExecutorShutdown(f"task {job.label!r} was cancelled by shutdown", job.label)
            )

    def _wake(self) -> None:  # caller holds the lock
        # one pending wake-up at most: the pipe can never fill up and block a
        # caller that holds the lock the dispatcher needs
        if not self._wake_pending and not self._wake_writer.closed:
            self._wake_pending = True
            self._wake_writer.send_bytes(b"w")

    # --- dispatcher thread -------------------------------------------------
    def _start_worker(self) -> _Worker:
        parent_conn, child_conn = self._context.Pipe(duplex=True)
        process = self._context.Process(
            target=worker_main,
            args=(child_conn, self._env, self._init, self._lifeline_reader),
            name="pickle-audit-worker",
            daemon=True,
        )
        process.start()
        child_conn.close()
        setups = deque(setup for setup, _ in self._setups.values())
        return _Worker(process, parent_conn, setups=setups)

    def _dispatch(self) -> None:
        try:
            while not self._finished():
                self._assign()
                self._poll()
                self._expire()
        except BaseException as exc:  # never leave a caller waiting on a future forever
            self._break(f"the executor's dispatcher failed: {exc!r}")
            raise
        finally:
            self._stop_workers()

    def _finished(self) -> bool:
        with self._lock:
            if self._cancelling:
                return True
            busy = any(w.jobs for w in self._workers)
            return self._stopping and not self._queue and not busy

    def _assign(self) -> None:
        with self._lock:
            for worker in self._workers:  # before any task that follows them
                self._send_setups(worker)
            # idle workers first, then the tasks sent ahead
            for depth in range(1, IN_FLIGHT_PER_WORKER + 1):
                for worker in self._workers:
                    if worker.ready and len(worker.jobs) < depth and self._may_send(worker):
                        job = self._next_job()
                        if job is None:
                            return
                        self._send(worker, job)

    def _may_send(self, worker: _Worker) -> bool:
        # sending ahead is only safe when no task may hang (no timeout), only
        # harmless while every worker is up and busy and more work is queued, and
        # only worth it for tiny tasks (see SEND_AHEAD_BELOW_SECONDS)
        return not worker.jobs or (
            self._timeout is None
            and self._typical_seconds is not None
            and self._typical_seconds < SEND_AHEAD_BELOW_SECONDS
            and len(self._queue) >= len(self._workers)
            and all(w.ready and w.jobs for w in self._workers)
        )

    def _send_setups(self, worker: _Worker) -> None:
        while worker.setups:
            try:
                worker.conn.send_bytes(worker.setups[0])
            except OSError:  # died between polls: its replacement gets the current setups
                worker.setups.clear()
                return
            worker.setups.popleft()

    def _send(self, worker: _Worker, job: _Job) -> None:
        try:
            worker.conn.send_bytes(job.message)
        except OSError:  # died between polls; its sentinel reports it next
            self._queue.appendleft(job)
            return
        worker.jobs.append(job)
        if len(worker.jobs) == 1:
            self._begin(worker)

    def _begin(self, worker: _Worker) -> None:
        """The first job in a worker's pipe is running from now on."""
        if worker.jobs:
            job = worker.jobs[0]
            # a task cancelled while it waited in the pipe still runs; its result is dropped
            job.started = job.started or job.future.set_running_or_notify_cancel()
            job.began = time.monotonic()
        running = self._timeout is not None and worker.jobs
        worker.deadline = time.monotonic() + self._timeout if running else None

    def _next_job(self) -> _Job | None:
        while self._queue:
            job = self._queue.popleft()
            if job.started or not job.future.cancelled():
                return job
        return None

    def _poll(self) -> None:
        deadlines = [w.deadline for w in self._workers if w.deadline is not None]
        wait_for = None if not deadlines else max(0.0, min(deadlines) - time.monotonic())
        conns = {w.conn: w for w in self._workers}
        sentinels = {w.process.sentinel: w for w in self._workers}
        ready = wait([self._wake_reader, *conns, *sentinels], wait_for)
        if self._wake_reader in ready:
            while self._wake_reader.poll():
                self._wake_reader.recv_bytes()
            with self._lock:  # after draining: a later wake-up writes again
                self._wake_pending = False
        for conn in [c for c in ready if c in conns]:
            self._receive(conns[conn])
        for sentinel in [s for s in ready if s in sentinels]:
            worker = sentinels[sentinel]
            if not worker.retired:
                self._bury(worker)

    def _receive(self, worker: _Worker) -> None:
        try:
            message = pickle.loads(worker.conn.recv_bytes())
        except (EOFError, OSError):
            self._bury(worker)
            return
        if isinstance(message, tuple):
            self._handle_control(worker, message)
            return
        job = worker.jobs.popleft()
        self._note_run_time(time.monotonic() - job.began)
        self._begin(worker)
        message.settle(job.future, job.label)

    def _note_run_time(self, seconds: float) -> None:
        typical = self._typical_seconds
        self._typical_seconds = seconds if typical is None else 0.8 * typical + 0.2 * seconds

    def _handle_control(self, worker: _Worker, message: tuple) -> None:
        if message[0] == "ready":
            with self._ready:
                worker.ready = True
                self._ready.notify_all()
            return
        self._break(f"the worker initializer failed:\n{message[1]}")

    def _break(self, reason: str) -> None:
        with self._ready:
            self._broken = reason
            self._cancelling = True
            while self._queue:
                job = self._queue.popleft()
                if job.started or job.future.set_running_or_notify_cancel():
                    job.future.set_exception(ExecutorShutdown(reason, job.label))
            self._ready.notify_all()

    def _bury(self, worker: _Worker) -> None:
        """A worker died: fail (or retry) only its task, then replace it."""
        worker.retired = True
        worker.process.join(STOP_GRACE_SECONDS)
        if not worker.ready:
            self._break(
                f"a worker died while starting ({describe_exit(worker.process.exitcode)}); "
                "check the initializer and the start method"
            )
        job = worker.jobs.popleft() if worker.jobs else None
        with self._lock:
            self._workers.remove(worker)
            self._queue.extendleft(reversed(worker.jobs))  # sent ahead, never started
            worker.jobs.clear()
            if job is not None and job.started and job.crashes < self._retries:
                job.crashes += 1
                self._queue.appendleft(job)
                job = None
            if not self._cancelling and self._broken is None:
                self._workers.append(self._start_worker())
        worker.conn.close()
        if job is not None and job.started and not job.future.done():
            exitcode = worker.process.exitcode
            job.future.set_exception(
                WorkerCrashed(
                    f"the worker running task {job.label!r} {describe_exit(exitcode)} "
                    f"(pid {worker.process.pid}); other tasks are unaffected",
                    label=job.label,
                    exitcode=exitcode,
                )
            )

    def _expire(self) -> None:
        now = time.monotonic()
        for worker in list(self._workers):
            if worker.deadline is None or worker.deadline > now or not worker.jobs:
                continue
            job = worker.jobs.popleft()
            worker.process.kill()
            self._bury(worker)
            if job.future.cancelled():
                continue
            job.future.set_exception(
                TaskTimeout(
                    f"task {job.label!r} exceeded its timeout of {self._timeout} s; "
                    "its worker was killed and replaced",
                    label=job.label,
                    timeout=self._timeout,
                )
            )

    def _stop_workers(self) -> None:
        with self._lock:
            workers, self._workers = list(self._workers), []
        for worker in workers:
            for job in worker.jobs:
                self._cancel(job)
            if self._cancelling:
                worker.process.terminate()
            else:
                with contextlib.suppress(OSError):
                    worker.conn.send_bytes(b"")
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for worker in workers:
            worker.process.join(max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.conn.close()
        with self._ready:
            self._ready.notify_all()
        self._wake_reader.close()
        self._wake_writer.close()
        self._lifeline_reader.close()
        self._lifeline_writer.close()
