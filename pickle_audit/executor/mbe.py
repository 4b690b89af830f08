"""Parallel many-body expansions: qcmanybody's fragment jobs through QCEngine.

    from pickle_audit.executor.mbe import run_many_body
    results = run_many_body(core, {"gfn2": {"program": "xtb", "driver": "energy",
                                           "model": {"method": "GFN2-xTB"}}},
                            backend="process", workers=2)

The core is never pickled (qcmanybody 0.8.0's cannot be: `mc_levels` is a
dict view). Each worker gets the parent molecule once, through the executor's
initializer, and then only `(label, specification)` per job. All jobs are
submitted at once: every n-body level is an independent computation, only the
final `core.analyze` needs them all.
"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qcmanybody.utils import delabeler, labeler

from pickle_audit.executor.capabilities import refuse_unsupported
from pickle_audit.executor.checkpoint import Checkpoint, run_fingerprint
from pickle_audit.executor.core import Executor
from pickle_audit.executor.errors import ExecutorError
from pickle_audit.executor.fragments import (
    FragmentSystem,
    WorkerSetup,
    compute_fragment,
    compute_fragment_keeping_result,
    import_qc_stack,
    normalize_specification,
    prepare_worker,
    probe_host,
    release_worker,
)
from pickle_audit.executor.progress import Progress

DEFAULT_TASK_CONFIG: dict[str, Any] = {"ncores": 1}


class ManyBodyJobsFailed(ExecutorError):
    """Some fragment jobs failed; every other job ran (and is in the checkpoint).

    `failures` maps each failed job label to its executor error; `label` is the
    first of them.
    """

    def __init__(self, message: str, label: str | None = None, failures: dict | None = None):
        super().__init__(message, label)
        self.failures = failures or {}

    def __reduce__(self):
        return (type(self), (str(self), self.label, self.failures))


@dataclass
class RunStats:
    """Timings of one run_many_body call (seconds), for benchmarks and logs."""

    jobs: int = 0  # jobs computed (not taken from the checkpoint)
    startup: float = 0.0  # executor creation until every worker ran its initializer
    wall: float = 0.0  # workers ready until the last result arrived
    first_result: float | None = None  # workers ready until the first result arrived
    bytes_sent: int = 0  # pickled task bytes sent to workers (process backend)

    def record(
        self, jobs: int, started: float, ready: float, finished: list[float], bytes_sent: int
    ) -> None:
        self.jobs = jobs
        self.startup = ready - started
        self.wall = max(finished) - ready if finished else 0.0
        self.first_result = min(finished) - ready if finished else None
        self.bytes_sent = bytes_sent


def job_labels(core: Any) -> list[tuple[str, str]]:
    """(model chemistry, job label) of every job, in `iterate_molecules` order.

    Built from `core.compute_map` directly, so the parent never builds the
    fragment molecules it hands to workers by label.
    """
    seen: set[str] = set()
    jobs = []
    for mc, compute_dict in core.compute_map.items():
        for compute_list in compute_dict["all"].values():
            for real_atoms, basis_atoms in compute_list:
                label = labeler(mc, real_atoms, basis_atoms)
                if label not in seen:
                    seen.add(label)
                    jobs.append((mc, label))
    return jobs


def largest_first(jobs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Jobs with the most fragments in their basis first.

    All jobs are submitted at once and workers take them in order; starting
    the long ones first keeps both workers busy to the end instead of one
    finishing a big trimer while the other idles.
    """
    return sorted(jobs, key=lambda job: -len(delabeler(job[1])[2]))


def run_many_body(
    core: Any,
    specifications: dict[str, Any],
    *,
    backend: str = "process",
    workers: int | None = None,
    progress: bool = False,
    checkpoint: str | Path | None = None,
    timeout: float | None = None,
    task_config: dict[str, Any] | None = None,
    retries: int = 0,
    start_method: str | None = None,
    address: str | None = None,
    stats: RunStats | None = None,
    executor: Executor | None = None,
    cluster_results: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run every fragment job of `core` through `qcengine.compute`; return `core.analyze`.

    `specifications` maps each model-chemistry label of the core's levels to an
    AtomicSpecification (or dict with program, driver, model, keywords).
    `task_config` is QCEngine's per-job config (default one core per worker:
    many small jobs side by side beat threading inside each). `checkpoint`
    names a sqlite3 file: finished jobs are committed as they arrive and a
    rerun computes only the missing ones. A failed job raises
    `ManyBodyJobsFailed` naming it, after all other jobs finished. `stats`, if
    given, is filled with the run's timings (startup, wall, first result).
    A level whose program would silently drop embedding charges or compute
    ghost atoms as real atoms raises `UnsupportedByProgram` before any job runs.
    `executor` (from `many_body_executor`) is kept by the caller and reused
    across calls: its workers start once, and each call sends its molecule once
    per worker; `backend`, `workers`, `timeout`, `retries`, `start_method` and
    `address` are then the executor's own. `cluster_results`, if given, is
    filled with each job's whole AtomicResult (not with a checkpoint, which keeps
    only the numbers).
    """
    specs = {mc: normalize_specification(mc, spec) for mc, spec in specifications.items()}
    missing = [mc for mc in core.mc_levels if mc not in specs]
    if missing:
        raise ValueError(
            f"no specification for model chemistry {', '.join(map(repr, missing))}; "
            f"specifications has {', '.join(map(repr, specs)) or 'none'}"
        )
    jobs = job_labels(core)
    refuse_unsupported(
        specs, jobs, nfragments=core.nfragments, embedded=bool(core.embedding_charges)
    )
    if cluster_results is not None and checkpoint is not None:
        raise ValueError(
            "cluster_results needs every job's AtomicResult, and a checkpoint keeps only"
            " energies, gradients and hessians: give one or the other"
        )
    config = dict(DEFAULT_TASK_CONFIG if task_config is None else task_config)
    store = None
    if checkpoint is not None:
        fingerprint = run_fingerprint(core.molecule.get_hash(), [lb for _, lb in jobs], specs)
        store = Checkpoint(checkpoint, fingerprint)
    owned = None
    try:
        results = store.load() if store else {}
        todo = largest_first([(mc, label) for mc, label in jobs if label not in results])
        started = time.perf_counter()
        if executor is None and todo:  # its workers import the QC stack meanwhile
            executor = owned = many_body_executor(
                backend, workers, task_config=config, timeout=timeout, retries=retries,
                start_method=start_method, address=address,
            )  # fmt: skip
        failures = _run_jobs(
            core, specs, todo, results, store, executor, started,
            progress=progress, total=len(jobs), task_config=config, stats=stats,
            kept=cluster_results,
        )  # fmt: skip
    except BaseException:  # Ctrl-C, a broken pool: stop what runs, as a `with` block would
        if owned is not None:
            owned.shutdown(cancel=True)
        raise
    finally:
        if owned is not None:
            owned.shutdown()
        if store is not None:
            store.close()
    if failures:
        raise _jobs_failed(failures, len(jobs), checkpoint)
    return core.analyze(results)


def many_body_executor(
    backend: str = "process",
    workers: int | None = None,
    *,
    task_config: dict[str, Any] | None = None,
    timeout: float | None = None,
    retries: int = 0,
    start_method: str | None = None,
    address: str | None = None,
) -> Executor:
    """An executor for many `run_many_body(..., executor=...)` calls (a scan, many molecules).

    Its workers set the OpenMP/BLAS thread counts from `task_config` (ncores,
    default 1) before anything loads, and import the QC stack as they start,
    while the caller goes on preparing. Shut it down (or use it in a `with`
    block) when the last expansion is done.
    """
    config = dict(DEFAULT_TASK_CONFIG if task_config is None else task_config)
    in_workers = backend in ("process", "dask")
    return Executor(
        backend,
        workers,
        timeout=timeout,
        retries=retries,
        start_method=start_method,
        address=address,
        initializer=import_qc_stack,
        worker_env=WorkerSetup(config, (), in_workers).environment() if in_workers else None,
    )


def _run_jobs(
    core: Any,
    specs: dict[str, dict],
    todo: list[tuple[str, str]],
    results: dict[str, Any],
    store: Checkpoint | None,
    executor: Executor | None,
    started: float,
    *,
    progress: bool,
    total: int,
    task_config: dict[str, Any],
    stats: RunStats | None,
    kept: dict[str, Any] | None = None,
) -> dict[str, BaseException]:
    """Submit every job at once; collect results as they arrive (and each whole
    AtomicResult into `kept`, when given). Returns failures."""
    failures: dict[str, BaseException] = {}
    if not todo or executor is None:
        return failures
    token = uuid.uuid4().hex
    programs = tuple(sorted({spec["program"] for spec in specs.values()}))
    in_workers = executor.backend_name in ("process", "dask")
    setup = WorkerSetup(
        task_config,
        programs,
        set_environment=in_workers,
        host_facts=probe_host() if executor.shares_host else None,
    )
    system = FragmentSystem.from_core(core)
    sent_before = executor.bytes_sent  # a kept executor counts every run's bytes
    bar = Progress(total, enabled=progress, done=total - len(todo))
    try:
        with executor.worker_state(
            prepare_worker, (token, system, setup), release_worker, (token,)
        ):
            executor.wait_ready()
            ready = time.perf_counter()
            finished: list[float] = []
            futures = {}
            task = compute_fragment if kept is None else compute_fragment_keeping_result
            for mc, label in todo:
                future = executor.submit(task, token, label, specs[mc], label=label)
                future.add_done_callback(lambda _: finished.append(time.perf_counter()))
                futures[future] = label
            for future in as_completed(futures):
                label = futures[future]
                error = future.exception()
                if error is None:
                    results[label] = future.result()
                    if kept is not None:
                        results[label], kept[label] = results[label]
                    if store is not None:
                        store.save(label, results[label])
                else:
                    failures[label] = error
                bar.update(failed=error is not None)
            if stats is not None:
                sent = executor.bytes_sent - sent_before
                stats.record(len(todo), started, ready, finished, sent)
    finally:
        bar.close()
    return failures


def _jobs_failed(
    failures: dict[str, BaseException], total: int, checkpoint: Any
) -> ManyBodyJobsFailed:
    lines = [f"  {label}: {str(error).splitlines()[0]}" for label, error in failures.items()]
    kept = f"; the other results are in {checkpoint}" if checkpoint else ""
    return ManyBodyJobsFailed(
        f"{len(failures)} of {total} fragment jobs failed{kept}:\n" + "\n".join(lines),
        label=next(iter(failures)),
        failures=failures,
    )
