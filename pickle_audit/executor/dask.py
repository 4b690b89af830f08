"""Dask backend: an embedded LocalCluster, or any running scheduler by address.

Tasks travel with Dask's serializers (cloudpickle), so payloads are audited
against cloudpickle. The task wrapper below runs inside the Dask worker and
returns an already-serialized `Outcome`: a task exception or an unpicklable
result never reaches Dask's own error path. A worker that dies is reported by
Dask as `KilledWorker` once its retry budget (`allowed-failures`, set to the
executor's `retries` for an embedded cluster) is spent; it becomes
`WorkerCrashed` for that task only.

Dask blames a dying worker for every task *assigned* to it, not only the one
it was running, and tasks submitted one at a time are assigned eagerly (the
scheduler queues a task group only once it is large). So the backend keeps at
most one task per worker thread inside Dask and holds the rest itself: with
no dependencies between tasks, the scheduler places each on an idle thread,
and a crash takes down only the task that caused it.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

from pickle_audit.executor.errors import ExecutorShutdown, WorkerCrashed
from pickle_audit.executor.options import WorkerOptions
from pickle_audit.executor.outcome import Failure, Outcome, overdue, pack_outcome, run_task

_CAPACITY_TTL = 0.5  # seconds a scheduler's thread count is trusted


@dataclass(frozen=True)
class DaskTask:
    """One task as a single opaque argument: Dask never looks inside it for keys or tasks."""

    label: str | None
    fn: Callable[..., Any]
    args: tuple
    kwargs: dict
    timeout: float | None


def run_in_dask_worker(task: DaskTask) -> bytes:
    """Run one task in a Dask worker; always returns a cloudpickled Outcome."""
    import cloudpickle

    def run() -> Outcome:
        return run_task(task.fn, task.args, task.kwargs, task.label)

    if task.timeout is None:
        return pack_outcome(run(), task.label, cloudpickle.dumps)
    box: list[Outcome] = []
    runner = threading.Thread(target=lambda: box.append(run()), daemon=True)
    runner.start()
    runner.join(task.timeout)
    if not box:
        return cloudpickle.dumps(overdue(task.label, task.timeout, "a Dask task's thread"))
    return pack_outcome(box[0], task.label, cloudpickle.dumps)


def dask_scheduler_settings() -> dict[str, Any]:
    """Scheduler settings for this executor; use them when starting your own scheduler.

    `allowed-failures` is how often Dask itself re-runs a task whose worker died
    before it reports `KilledWorker`: 0 leaves that to the executor's `retries`,
    which count the same on any scheduler (on one with Dask's default of 3, a
    crashing task is re-run that often first). A saturation of 1.0 keeps large
    queued task groups off busy workers as well.
    """
    return {
        "distributed.scheduler.allowed-failures": 0,
        "distributed.scheduler.worker-saturation": 1.0,
    }


def local_cluster(workers: int, *, env: dict[str, str] | None = None) -> Any:
    """A LocalCluster of single-threaded worker processes, set up for this executor."""
    import dask
    from distributed import LocalCluster

    with dask.config.set(dask_scheduler_settings()):
        return LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            env=env or {},  # applied by each nanny before its worker starts
        )


class InitializerPlugin(WorkerPlugin):
    """Runs the executor's initializer once on every worker, including replacements,
    and its finalizer when the executor shuts down and the plugin is removed."""

    def __init__(self, options: WorkerOptions) -> None:
        self.initializer = options.initializer
        self.initargs = options.initargs
        self.finalizer = options.finalizer
        self.finalargs = options.finalargs

    def setup(self, worker: Any) -> None:
        if self.initializer is not None:
            self.initializer(*self.initargs)

    def teardown(self, worker: Any) -> None:
        if self.finalizer is not None:
            self.finalizer(*self.finalargs)


class DaskBackend:
    """Submits wrapped tasks to a Dask cluster and mirrors them as stdlib futures."""

    serializer = "cloudpickle"

    def __init__(self, workers: int, options: WorkerOptions, *, address: str | None) -> None:
        from distributed import Client

        self._cluster = None
        if address is None:
            self._cluster = local_cluster(workers, env=options.env)
            address = self._cluster.scheduler_address
        self._client = Client(address, set_as_default=False)
        self._timeout = options.timeout
        self._retries = options.retries
        self._crashes: dict[Future, int] = {}
        self._workers = workers
        self._lock = threading.Lock()
        self._pending: dict[Future, tuple[Any, str | None]] = {}
        self._waiting: deque[tuple[Future, DaskTask, str]] = deque()
        self._in_dask = 0
        self._threads: int | None = None  # see _capacity
        self._threads_seen = 0.0
        self._stopped = False
        self._closing = False
        self._plugin: str | None = None
        if options.initializer is not None or options.finalizer is not None:
            self._plugin = f"pickle-audit-init-{uuid.uuid4().hex}"
            self._client.register_plugin(InitializerPlugin(options), name=self._plugin)

    def submit(
        self, fn: Callable[..., Any], args: tuple, kwargs: dict, label: str | None
    ) -> Future:
        future: Future = Future()
        future.set_running_or_notify_cancel()
        task = DaskTask(label, fn, args, kwargs, self._timeout)
        key = f"{getattr(fn, '__name__', 'task')}-{uuid.uuid4().hex}"
        with self._lock:
            self._pending[future] = (None, label)
            self._waiting.append((future, task, key))
        self._dispatch()
        return future

    def _capacity(self) -> int:
        """Worker threads the cluster has; at least one, so work starts as workers join.

        Asking the scheduler is a round trip, so the answer is kept for
        `_CAPACITY_TTL` seconds (and dropped when a worker dies): a run of many
        short tasks asks a few times a second, not once per submit and result.
        """
        now = time.monotonic()
        with self._lock:
            if self._threads is not None and now - self._threads_seen < _CAPACITY_TTL:
                return self._threads
        workers = self._client.scheduler_info().get("workers", {})
        threads = max(1, sum(int(info.get("nthreads", 1)) for info in workers.values()))
        with self._lock:
            self._threads, self._threads_seen = threads, now
        return threads

    def _dispatch(self) -> None:
        """Hand waiting tasks to Dask while it holds fewer tasks than it has threads."""
        capacity = None
        while True:
            with self._lock:
                if self._stopped or not self._waiting:
                    return
            capacity = capacity or self._capacity()
            with self._lock:
                if self._stopped or not self._waiting or self._in_dask >= capacity:
                    return
                future, task, key = self._waiting.popleft()
                self._in_dask += 1
            try:
                remote = self._client.submit(run_in_dask_worker, task, key=key, pure=False)
            except Exception as error:  # the client lost its scheduler
                with self._lock:
                    self._pending.pop(future, None)
                    self._in_dask -= 1
                future.set_exception(
                    ExecutorShutdown(f"Dask did not take task {task.label!r}: {error}", task.label)
                )
                continue
            with self._lock:
                self._pending[future] = (remote, task.label)
            remote.add_done_callback(
                lambda done, future=future, task=task: self._settle(future, done, task)
            )

    def _settle(self, future: Future, remote: Any, task: DaskTask) -> None:
        """Mirror a finished Dask future; runs in Dask's callback thread.

        `result()` rather than `status`: when a worker holding a finished
        result dies, Dask recomputes it, and `result()` waits for that.
        """
        import cloudpickle
        from distributed import KilledWorker

        label = task.label
        try:
            data = remote.result()
        except KilledWorker as error:
            if self._retry(future, task):
                return
            outcome = None
            crash = WorkerCrashed(
                f"the Dask worker running task {label!r} died ({error}); "
                "other tasks are unaffected",
                label=label,
            )
        except BaseException as error:  # cancelled, or Dask itself failed
            outcome = Outcome(
                failure=Failure("raised", f"Dask could not run task {label!r}: {error!r}")
            )
            crash = (
                ExecutorShutdown(f"task {label!r} was cancelled", label)
                if remote.cancelled()
                else None
            )
        else:
            outcome, crash = cloudpickle.loads(data), None
        with self._lock:
            self._pending.pop(future, None)
            self._in_dask -= 1
            if isinstance(crash, WorkerCrashed):
                self._threads = None  # the cluster lost threads: ask again
        if crash is not None:
            if not future.done():
                future.set_exception(crash)
        else:
            outcome.settle(future, label)
        self._dispatch()

    def add_setup(
        self,
        setup: tuple[Callable[..., Any], tuple],
        teardown: tuple[Callable[..., Any], tuple] | None,
    ) -> str:
        """A worker plugin: set up every worker (and later ones) until removed."""
        finalizer, finalargs = teardown if teardown is not None else (None, ())
        options = WorkerOptions(setup[0], setup[1], finalizer=finalizer, finalargs=finalargs)
        name = f"pickle-audit-setup-{uuid.uuid4().hex}"
        self._client.register_plugin(InitializerPlugin(options), name=name)
        return name

    def remove_setup(self, handle: str) -> None:
        """Unregister the plugin: its teardown runs on every worker."""
        with contextlib.suppress(Exception):  # a scheduler already gone keeps nothing
            self._client.unregister_worker_plugin(handle)

    def _retry(self, future: Future, task: DaskTask) -> bool:
        """Send a task whose worker died back in, while its `retries` last."""
        with self._lock:
            crashes = self._crashes.get(future, 0)
            if self._stopped or crashes >= self._retries:
                self._crashes.pop(future, None)
                return False
            self._crashes[future] = crashes + 1
            self._in_dask -= 1
            self._threads = None  # the cluster lost threads: ask again
            self._waiting.appendleft((future, task, f"retry-{uuid.uuid4().hex}"))
        self._dispatch()
        return True

    def wait_ready(self, timeout: float | None = None) -> bool:
        if self._cluster is not None:
            self._client.wait_for_workers(self._workers, timeout=timeout)
        return True

    def shutdown(self, wait: bool = True, cancel: bool = False) -> None:
        if self._closing:
            return
        self._closing = True
        if wait and not cancel:
            with self._lock:
                pending = list(self._pending)
            for future in pending:  # waiting tasks keep flowing into Dask meanwhile
                with contextlib.suppress(Exception):
                    future.exception()
        with self._lock:
            self._stopped = True  # nothing more is handed to Dask
            pending = dict(self._pending)
            self._waiting.clear()
        for future, (remote, label) in pending.items():
            if remote is not None:
                remote.cancel()
            if not future.done():
                future.set_exception(
                    ExecutorShutdown(f"task {label!r} was cancelled by shutdown", label)
                )
        if self._plugin is not None:  # its teardown runs the finalizer on every worker
            with contextlib.suppress(Exception):  # a scheduler already gone keeps nothing
                self._client.unregister_worker_plugin(self._plugin)
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()
