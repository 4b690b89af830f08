"""Checkpoints: Ctrl-C midway loses no finished job, a rerun computes only the missing ones."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
from executor_helpers import wait_gone

from pickle_audit.executor.mbe import ManyBodyJobsFailed, job_labels, run_many_body
from pickle_audit.executor.water import water_core

pytestmark = [pytest.mark.xtb, pytest.mark.timeout(180)]
TESTS = Path(__file__).resolve().parent
XTB = {"program": "xtb", "driver": "gradient", "model": {"method": "GFN2-xTB"}}

DRIVER = """
from pickle_audit.executor.mbe import run_many_body
from pickle_audit.executor.water import water_core

if __name__ == "__main__":
    core = water_core(6, 2)
    run_many_body(core, {{"gfn2": {xtb!r}}}, backend="process", workers=1, checkpoint={path!r})
"""


def committed_rows(path: Path) -> dict[str, int]:
    """label -> sqlite rowid of every committed job (empty before the table exists)."""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            return dict(db.execute("SELECT label, rowid FROM jobs").fetchall())
    except sqlite3.OperationalError:
        return {}


def start_driver(tmp_path: Path, path: Path) -> subprocess.Popen:
    """A real run of the 6-water expansion with `path` as its checkpoint, in its own process."""
    script = tmp_path / "driver.py"
    script.write_text(textwrap.dedent(DRIVER.format(xtb=XTB, path=str(path))))
    return subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_interrupted_run_resumes_with_only_the_missing_jobs(tmp_path):
    path = tmp_path / "run.sqlite"
    driver = start_driver(tmp_path, path)
    while len(committed_rows(path)) < 5:
        assert driver.poll() is None, driver.communicate()
        time.sleep(0.01)
    descendants = [p.pid for p in psutil.Process(driver.pid).children(recursive=True)]
    driver.send_signal(signal.SIGINT)
    _, stderr = driver.communicate(timeout=20)
    assert "KeyboardInterrupt" in stderr, (driver.returncode, stderr)
    assert wait_gone(descendants) == []

    total = len(job_labels(water_core(6, 2)))
    before = committed_rows(path)
    assert 5 <= len(before) < total
    resumed = run_many_body(
        water_core(6, 2), {"gfn2": XTB}, backend="process", workers=2, checkpoint=path
    )
    after = committed_rows(path)
    assert len(after) == total == 41
    assert {label: after[label] for label in before} == before  # finished jobs did not rerun
    assert min(after[label] for label in set(after) - set(before)) > max(before.values())

    uninterrupted = run_many_body(water_core(6, 2), {"gfn2": XTB}, backend="thread", workers=2)
    assert resumed["ret_energy"] == pytest.approx(uninterrupted["ret_energy"], abs=1e-9)
    np.testing.assert_allclose(resumed["ret_gradient"], uninterrupted["ret_gradient"], atol=1e-9)


def test_failed_jobs_are_named_after_all_others_finished(tmp_path):
    core = water_core(3, levels={1: "good", 2: "bad"})
    bad = {**XTB, "model": {"method": "GFN-unknown"}}
    path = tmp_path / "run.sqlite"
    with pytest.raises(ManyBodyJobsFailed) as raised:
        run_many_body(
            core, {"good": XTB, "bad": bad}, backend="process", workers=2, checkpoint=path
        )
    labels = [label for _, label in job_labels(core)]
    bad_labels = [label for label in labels if label.startswith('["bad"')]
    good_labels = [label for label in labels if label.startswith('["good"')]
    error = raised.value
    assert sorted(error.failures) == sorted(bad_labels)
    assert error.label in bad_labels
    assert f"{len(bad_labels)} of {len(labels)} fragment jobs failed" in str(error)
    assert f"the other results are in {path}" in str(error)
    for label in bad_labels:
        assert label in str(error)
    assert sorted(committed_rows(path)) == sorted(good_labels)


def test_checkpoint_of_another_calculation_is_refused(tmp_path):
    path = tmp_path / "run.sqlite"
    core = water_core(3, max_nbody=2)
    run_many_body(core, {"gfn2": XTB}, backend="serial", checkpoint=path)
    energy_only = {**XTB, "driver": "energy"}
    with pytest.raises(ValueError, match="belongs to a different calculation"):
        run_many_body(core, {"gfn2": energy_only}, backend="serial", checkpoint=path)


def test_two_runs_sharing_a_checkpoint_never_compute_a_job_twice(tmp_path):
    from pickle_audit.executor.checkpoint import CheckpointWarning
    from pickle_audit.executor.mbe import RunStats

    path = tmp_path / "run.sqlite"
    first = start_driver(tmp_path, path)
    while not committed_rows(path):
        assert first.poll() is None, first.communicate()
        time.sleep(0.01)
    stats = RunStats()
    with pytest.warns(CheckpointWarning, match="is in use by another run"):
        second = run_many_body(
            water_core(6, 2), {"gfn2": XTB}, backend="thread", workers=1, checkpoint=path,
            stats=stats,
        )  # fmt: skip
    assert first.wait(60) == 0, first.communicate()
    assert stats.jobs == 0  # everything came from the first run
    alone = run_many_body(water_core(6, 2), {"gfn2": XTB}, backend="thread", workers=2)
    assert second["ret_energy"] == pytest.approx(alone["ret_energy"], abs=1e-9)
