"""The three QCEngine/xtb hazards cannot occur through run_many_body, on any backend.

1. QCEngine sets OMP_NUM_THREADS to all cores around the first xtb import:
   every job then pays OpenMP start-up (3-6x slower for small fragments).
2. A process forked after xtb's OpenMP threads ran in the parent hangs.
3. `qcengine.get_config()` races on first use from several threads.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading

import pytest

from pickle_audit.executor import Executor
from pickle_audit.executor.fragments import (
    FragmentSystem,
    WorkerSetup,
    compute_fragment,
    prepare_worker,
    probe_host,
)
from pickle_audit.executor.mbe import job_labels
from pickle_audit.executor.water import water_core

pytestmark = [pytest.mark.xtb, pytest.mark.timeout(120)]
XTB = {"program": "xtb", "driver": "energy", "model": {"method": "GFN2-xTB"}}


def threads_after_a_job(token: str, label: str) -> tuple[int, str]:
    """Run one fragment job in this worker; report how many threads it has that Python
    did not start (OpenMP or BLAS pools) and its OMP setting."""
    compute_fragment(token, label, XTB)
    native = len(os.listdir("/proc/self/task")) - threading.active_count()
    return native, os.environ["OMP_NUM_THREADS"]


@pytest.mark.parametrize("ncores", [1, 2])
def test_worker_openmp_threads_follow_task_config(ncores):
    core = water_core(3, max_nbody=2)
    setup = WorkerSetup({"ncores": ncores}, ("xtb",), set_environment=True)
    label = job_labels(core)[-1][1]
    with Executor(
        "process",
        1,
        initializer=prepare_worker,
        initargs=("t", FragmentSystem.from_core(core), setup),
        worker_env=setup.environment(),
    ) as executor:
        threads, omp = executor.submit(threads_after_a_job, "t", label).result()
    assert omp == str(ncores)
    if ncores == 1:
        assert threads == 0  # no OpenMP or BLAS pool thread at all
    else:
        assert threads >= 1


DRIVER = """
import qcengine
from qcelemental.models.v2 import AtomicInput
from pickle_audit.executor.mbe import run_many_body
from pickle_audit.executor.water import water_cluster, water_core

XTB = {xtb!r}

if __name__ == "__main__":
    core = water_core(4, max_nbody=2)
    # hazard 3: the first QCEngine use of this process comes from four threads at once
    threaded = run_many_body(core, {{"gfn2": XTB}}, backend="thread", workers=4)
    # hazard 2: the parent now runs xtb with two OpenMP threads, then starts worker processes
    molecule = water_cluster(2)
    qcengine.compute(AtomicInput(molecule=molecule, specification=XTB), "xtb",
                     raise_error=True, task_config={{"ncores": 2}})
    processes = run_many_body(core, {{"gfn2": XTB}}, backend="process", workers=2)
    print(repr(threaded["ret_energy"]), repr(processes["ret_energy"]))
"""


def test_threads_first_then_processes_after_openmp_ran_in_the_parent(tmp_path):
    script = tmp_path / "driver.py"
    script.write_text(textwrap.dedent(DRIVER.format(xtb=XTB)))
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=90, check=False
    )
    assert done.returncode == 0, done.stderr
    threaded, processes = map(float, done.stdout.split())
    assert threaded == pytest.approx(processes, abs=1e-9)
    assert -21 < threaded < -20  # four waters at GFN2-xTB


def qcengine_hostname() -> str:
    import qcengine

    return qcengine.config.get_global("hostname")


def test_workers_reuse_the_parents_host_probe_instead_of_running_cpuinfo():
    facts = probe_host()
    assert facts is not None and "cpuinfo" in facts
    setup = WorkerSetup({"ncores": 1}, ("xtb",), True, host_facts={**facts, "hostname": "seeded"})
    system = FragmentSystem.from_core(water_core(3, max_nbody=2))
    with Executor(
        "process", 1, initializer=prepare_worker, initargs=("t", system, setup)
    ) as executor:
        assert executor.submit(qcengine_hostname).result() == "seeded"
