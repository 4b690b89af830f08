"""Many-body expansion on every backend, side by side, from one run.

    python benchmarks/mbe_backends.py                 # both cases, 2 workers
    python benchmarks/mbe_backends.py --workers 4 --cases overhead

Cases (GFN2-xTB through QCEngine, nocp, up to 3-body, energies):
  overhead-bound  9 waters, 129 jobs of a few ms: the cost of shipping tasks dominates
  compute-bound   9 fragments of 6 waters, 129 jobs: the xtb work dominates

Contenders: `run_many_body` with the serial, thread, process and dask
backends, and the naive pattern: a bound method of a driver object that
holds a core-like object (ManyBodyCore's state with `mc_levels` made a list
so it pickles at all), submitted per job to concurrent.futures'
ProcessPoolExecutor (default start method), which pickles the whole driver
every time.

Contender `kept` is the process backend through one executor kept for many
expansions (`many_body_executor`): its row is the second expansion.

Columns: startup (executor creation until every worker is initialized; for
`kept`, whose workers are running, about 0), wall (workers ready until the
last result), speedup and efficiency (speedup per worker) against serial
wall, efficiency including start-up (+start), bytes per task crossing the
process boundary,
first result (after ready), and |dE| of the total energy against serial. The
naive pool starts its workers lazily (by fork, from a parent where xtb ran
with one OpenMP thread), so its wall includes their start-up.

Targets on 2 workers: compute-bound efficiency >= 0.95 on process;
overhead-bound speedup >= 1.8 on process; <= 2 kB per task; first result <=
0.5 s after the executor is ready.

The scheduling case (`--cases scheduling`, no QC work) runs tasks of 5 s, 0.1 s,
5 s and seven of 0.1 s (sleeps) on the process backend and on concurrent.futures'
ProcessPoolExecutor, both with their workers started, and prints the wall times and
their ratio (target <= 1.05: no task waits behind a long one while a worker idles).
"""

from __future__ import annotations

import argparse
import pickle
import time
import types
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass

import cloudpickle
import qcengine
from qcelemental.models.v2 import AtomicInput
from qcmanybody import ManyBodyCore

from pickle_audit.executor.fragments import FragmentSystem, compute_fragment
from pickle_audit.executor.mbe import RunStats, job_labels, many_body_executor, run_many_body
from pickle_audit.executor.water import water_core

SPEC = {"program": "xtb", "driver": "energy", "model": {"method": "GFN2-xTB"}}
CASES = {"overhead": (9, 1), "compute": (9, 6)}
MIXED_LENGTHS = [5.0, 0.1, 5.0, *[0.1] * 7]
TASK_CONFIG = {"ncores": 1}


@dataclass
class Row:
    contender: str
    workers: int
    startup: float
    wall: float
    bytes_per_task: float
    first_result: float | None
    energy: float


def run_backend(core: ManyBodyCore, backend: str, workers: int) -> Row:
    stats = RunStats()
    workers = 1 if backend == "serial" else workers
    if backend == "kept":  # one executor for many expansions: this is its second one
        with many_body_executor("process", workers) as executor:
            run_many_body(core, {"gfn2": SPEC}, executor=executor)
            results = run_many_body(core, {"gfn2": SPEC}, executor=executor, stats=stats)
    else:
        results = run_many_body(core, {"gfn2": SPEC}, backend=backend, workers=workers, stats=stats)
    if backend in ("process", "kept"):
        per_task = stats.bytes_sent / stats.jobs
    elif backend == "dask":  # what Dask ships per task: the function and (token, label, spec)
        _, label = job_labels(core)[-1]
        per_task = len(cloudpickle.dumps((compute_fragment, ("0" * 32, label, SPEC), {})))
    else:
        per_task = 0
    return Row(
        backend,
        workers,
        stats.startup,
        stats.wall,
        per_task,
        stats.first_result,
        results["ret_energy"],
    )


class NaiveDriver:
    """The pattern the executor replaces: the driver (and its core) travel with every task."""

    def __init__(self, core: ManyBodyCore) -> None:
        state = dict(vars(core), mc_levels=list(core.mc_levels))
        self.core = types.SimpleNamespace(**state)
        self.spec = SPEC

    def execute_fragment(self, label: str) -> dict:
        system = FragmentSystem(self.core.molecule, self.core.nfragments, {})
        atomic = AtomicInput(molecule=system.molecule_for(label), specification=self.spec)
        result = qcengine.compute(atomic, "xtb", raise_error=True, task_config=TASK_CONFIG)
        return {"energy": result.properties.return_energy}

    def run(self, labels: list[str], workers: int, original_core: ManyBodyCore) -> Row:
        started = time.perf_counter()
        with ProcessPoolExecutor(workers) as pool:
            futures = {}
            run = self.execute_fragment
            for label in labels:  # the pattern under test, on purpose:
                futures[pool.submit(run, label)] = label  # pickle-audit: ignore[PA202]
            results, first = {}, None
            for future in as_completed(futures):
                first = first or time.perf_counter() - started
                results[futures[future]] = future.result()
        wall = time.perf_counter() - started
        per_task = len(pickle.dumps((self.execute_fragment, labels[-1])))
        energy = original_core.analyze(results)["ret_energy"]
        return Row("naive", workers, 0.0, wall, per_task, first, energy)


def run_case(name: str, workers: int, contenders: list[str]) -> list[Row]:
    core = water_core(*CASES[name])
    rows = []
    for contender in contenders:
        if contender == "naive":
            labels = [label for _, label in job_labels(core)]
            rows.append(NaiveDriver(core).run(labels, workers, core))
        else:
            rows.append(run_backend(core, contender, workers))
    return rows


def print_table(case: str, jobs: int, rows: list[Row]) -> None:
    serial = next(r for r in rows if r.contender == "serial")
    print(f"\n{case}-bound: {jobs} jobs")
    header = (
        f"{'contender':<10} {'workers':>7} {'startup s':>9} {'wall s':>8} {'speedup':>8} "
        f"{'effic.':>7} {'+start':>7} {'B/task':>7} {'first s':>8} {'|dE| Eh':>9}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        speedup = serial.wall / row.wall
        with_startup = serial.wall / (row.workers * (row.startup + row.wall))
        first = "-" if row.first_result is None else f"{row.first_result:.3f}"
        print(
            f"{row.contender:<10} {row.workers:>7} {row.startup:>9.2f} {row.wall:>8.2f} "
            f"{speedup:>8.2f} {speedup / row.workers:>7.2f} {with_startup:>7.2f} "
            f"{row.bytes_per_task:>7.0f} "
            f"{first:>8} {abs(row.energy - serial.energy):>9.1e}"
        )


def scheduling_case(workers: int) -> None:
    """Mixed task lengths: our process backend against ProcessPoolExecutor."""
    from pickle_audit.executor import Executor

    with Executor("process", workers) as executor:
        executor.wait_ready()
        start = time.perf_counter()
        list(executor.map(time.sleep, MIXED_LENGTHS))
        ours = time.perf_counter() - start
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(abs, range(4 * workers)))  # its workers are started too
        start = time.perf_counter()
        list(pool.map(time.sleep, MIXED_LENGTHS))
        theirs = time.perf_counter() - start
    ratio = ours / theirs
    print(
        f"\nscheduling: tasks of 5, 0.1, 5 and 7 x 0.1 s on {workers} workers\n"
        f"process {ours:.2f} s, ProcessPoolExecutor {theirs:.2f} s, ratio {ratio:.3f}"
        f" (<= 1.05 {'ok' if ratio <= 1.05 else 'MISSED'})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--cases", nargs="+", choices=[*CASES, "scheduling"], default=[*CASES, "scheduling"]
    )
    parser.add_argument(
        "--contenders",
        nargs="+",
        default=["serial", "thread", "process", "kept", "naive", "dask"],
        help="serial must come first: it is the reference",
    )
    args = parser.parse_args()
    for case in args.cases:
        if case == "scheduling":
            scheduling_case(args.workers)
            continue
        rows = run_case(case, args.workers, args.contenders)
        print_table(case, len(job_labels(water_core(*CASES[case]))), rows)


if __name__ == "__main__":
    main()
