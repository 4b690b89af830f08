"""Dask backend: an embedded LocalCluster, or any running scheduler by address.

Tasks travel with Dask's serializers (cloudpickle), so payloads are audited
against cloudpickle. The task wrapper below runs inside the Dask worker and
returns an already-serialized `Outcome`: a task exception or an unpicklable
result never reaches Dask's own error path. A worker that dies is reported by
Dask as `KilledWorker` once its retry budget (`allowed-failures`, set to the
executor's `retries` for an embedded cluster) is spent; it becomes
`WorkerCrashed` for that task only.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

from pickle_audit.executor.errors import ExecutorShutdown, WorkerCrashed
from pickle_audit.executor.options import WorkerOptions
from pickle_audit.executor.outcome import Failure, Outcome, overdue, pack_outcome, run_task


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


def dask_scheduler_settings(retries: int) -> dict[str, Any]:
    """Scheduler settings under which a dying worker takes down only its running task.

    Dask blames every task *assigned* to a worker when it dies; with a
    saturation of 1.0 a worker is assigned only the task it runs. Use the same
    settings when starting your own scheduler for this executor.
    """
    return {
        "distributed.scheduler.allowed-failures": retries,
        "distributed.scheduler.worker-saturation": 1.0,
    }


def local_cluster(workers: int, *, retries: int = 0, env: dict[str, str] | None = None) -> Any:
    """A LocalCluster of single-threaded worker processes, set up for this executor."""
    import dask
    from distributed import LocalCluster

    with dask.config.set(dask_scheduler_settings(retries)):
        return LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            env=env or {},  # applied by each nanny before its worker starts
        )


class InitializerPlugin(WorkerPlugin):
    """Runs the executor's initializer once on every worker, including replacements."""

    def __init__(self, initializer: Callable[..., Any], initargs: tuple) -> None:
        self.initializer = initializer
        self.initargs = initargs

    def setup(self, worker: Any) -> None:
        self.initializer(*self.initargs)


class DaskBackend:
    """Submits wrapped tasks to a Dask cluster and mirrors them as stdlib futures."""

    serializer = "cloudpickle"

    def __init__(self, workers: int, options: WorkerOptions, *, address: str | None) -> None:
        from distributed import Client

        self._cluster = None
        if address is None:
            self._cluster = local_cluster(workers, retries=options.retries, env=options.env)
            address = self._cluster.scheduler_address
        self._client = Client(address, set_as_default=False)
        self._timeout = options.timeout
        self._workers = workers
        self._lock = threading.Lock()
        self._pending: dict[Future, tuple[Any, str | None]] = {}
        self._stopped = False
        if options.initializer is not None:
            self._client.register_plugin(
                InitializerPlugin(options.initializer, options.initargs),
                name=f"pickle-audit-init-{uuid.uuid4().hex}",
            )

    def submit(
        self, fn: Callable[..., Any], args: tuple, kwargs: dict, label: str | None
    ) -> Future:
        future: Future = Future()
        remote = self._client.submit(
            run_in_dask_worker,
            DaskTask(label, fn, args, kwargs, self._timeout),
            # one key prefix per function: Dask queues such a task group on the
            # scheduler, so a worker holds only the task it runs
            key=f"{getattr(fn, '__name__', 'task')}-{uuid.uuid4().hex}",
            pure=False,
        )
        future.set_running_or_notify_cancel()
        with self._lock:
            self._pending[future] = (remote, label)
        remote.add_done_callback(lambda done: self._settle(future, done, label))
        return future

    def _settle(self, future: Future, remote: Any, label: str | None) -> None:
        """Mirror a finished Dask future; runs in Dask's callback thread.

        `result()` rather than `status`: when a worker holding a finished
        result dies, Dask recomputes it, and `result()` waits for that.
        """
        import cloudpickle
        from distributed import KilledWorker

        try:
            data = remote.result()
        except KilledWorker as error:
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
        if crash is not None:
            if not future.done():
                future.set_exception(crash)
        else:
            outcome.settle(future, label)

    def wait_ready(self, timeout: float | None = None) -> bool:
        if self._cluster is not None:
            self._client.wait_for_workers(self._workers, timeout=timeout)
        return True

    def shutdown(self, wait: bool = True, cancel: bool = False) -> None:
        if self._stopped:
            return
        self._stopped = True
        with self._lock:
            pending = dict(self._pending)
        if cancel:
            for future, (remote, label) in pending.items():
                remote.cancel()
                if not future.done():
                    future.set_exception(
                        ExecutorShutdown(f"task {label!r} was cancelled by shutdown", label)
                    )
        elif wait:
            for future in pending:
                with contextlib.suppress(Exception):
                    future.exception()
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()
