"""The checkpoint file itself: checksums, damage, a full disk, two runs on one file,
and fingerprints that do not depend on how a specification was written."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

from pickle_audit.executor.checkpoint import (
    Checkpoint,
    CheckpointError,
    CheckpointWarning,
    run_fingerprint,
)

RESULT = {"energy": -5.070544440569, "gradient": np.arange(6.0).reshape(2, 3) / 7}


def test_rows_come_back_exactly(tmp_path):
    store = Checkpoint(tmp_path / "run.sqlite", "f1")
    store.save('["gfn2", [1], [1]]', RESULT)
    store.close()
    store = Checkpoint(tmp_path / "run.sqlite", "f1")
    [(label, loaded)] = store.load().items()
    store.close()
    assert label == '["gfn2", [1], [1]]'
    assert loaded["energy"] == RESULT["energy"]
    np.testing.assert_array_equal(loaded["gradient"], RESULT["gradient"])


def test_an_edited_row_is_computed_again_with_a_warning_naming_file_and_label(tmp_path):
    path = tmp_path / "run.sqlite"
    store = Checkpoint(path, "f1")
    store.save("job-a", RESULT)
    store.save("job-b", RESULT)
    store.close()
    with sqlite3.connect(path) as db:  # 14 Eh off, as a hand edit or a bad sector would do
        text = db.execute("SELECT result FROM jobs WHERE label = 'job-a'").fetchone()[0]
        edited = text.replace("-5.070544440569", "-19.070544440569")
        db.execute("UPDATE jobs SET result = ? WHERE label = 'job-a'", (edited,))
    store = Checkpoint(path, "f1")
    with pytest.warns(CheckpointWarning) as warned:
        loaded = store.load()
    store.close()
    assert list(loaded) == ["job-b"]
    assert [str(w.message) for w in warned] == [
        f"checkpoint {path}: the row of job 'job-a' does not match its checksum (edited,"
        " damaged, or written before checksums); the job is computed again"
    ]


def test_a_damaged_file_is_named_in_a_clear_error(tmp_path):
    path = tmp_path / "run.sqlite"
    path.write_bytes(b"this is not a database, it was overwritten" * 100)
    with pytest.raises(CheckpointError) as raised:
        Checkpoint(path, "f1")
    assert str(raised.value) == (
        f"checkpoint {path} cannot be read (file is not a database): it is damaged or not a"
        " checkpoint; move it aside (or delete it) to start afresh"
    )
    assert path.read_bytes().startswith(b"this is not a database")  # left as it was


def test_another_calculations_file_is_refused(tmp_path):
    Checkpoint(tmp_path / "run.sqlite", "f1").close()
    with pytest.raises(CheckpointError, match="belongs to a different calculation"):
        Checkpoint(tmp_path / "run.sqlite", "f2")


def test_a_full_disk_is_reported_once_and_the_run_goes_on(tmp_path):
    path = tmp_path / "run.sqlite"
    store = Checkpoint(path, "f1")
    store.save("job-0", RESULT)
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count = {pages}")  # the disk is full from here on
    big = {"gradient": np.zeros((2000, 3))}
    with pytest.warns(CheckpointWarning) as warned:
        store.save("job-1", big)
        store.save("job-2", big)
    assert len(warned) == 1
    assert str(warned[0].message).startswith(f"checkpoint {path}: cannot write job 'job-1' (")
    assert list(store.load()) == ["job-0"]  # what was committed is intact
    store.close()


HOLDER = """
import sys, time
sys.path.insert(0, {root!r})
from pickle_audit.executor.checkpoint import Checkpoint
store = Checkpoint({path!r}, "f1")
print("holding", flush=True)
time.sleep(1.0)
store.save("from-the-first-run", {{"energy": -1.5}})
store.close()
"""


@pytest.mark.timeout(60)
def test_a_second_run_on_the_same_file_waits_and_then_sees_the_first_runs_jobs(tmp_path):
    path = tmp_path / "run.sqlite"
    root = str(__import__("pathlib").Path(__file__).resolve().parents[1])
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(HOLDER.format(root=root, path=str(path)))],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline() == "holding\n"
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        store = Checkpoint(path, "f1")
    assert holder.wait(30) == 0
    assert [str(w.message) for w in warned] == [
        f"checkpoint {path} is in use by another run (pid {holder.pid}); waiting for it to"
        " finish, then computing only the jobs it left"
    ]
    # it waited until the first run had committed its job and let go of the file
    assert store.load() == {"from-the-first-run": {"energy": -1.5}}
    store.close()


def test_a_dict_and_the_equivalent_atomic_specification_share_a_fingerprint():
    models = pytest.importorskip("qcelemental.models.v2")
    from pickle_audit.executor.fragments import normalize_specification

    plain = {"program": "xtb", "driver": "energy", "model": {"method": "GFN2-xTB"}}
    spelled_out = normalize_specification("gfn2", models.AtomicSpecification(**plain))
    short = normalize_specification("gfn2", plain)
    assert short != spelled_out
    labels = ['["gfn2", [1], [1]]']
    assert run_fingerprint("h", labels, {"gfn2": short}) == run_fingerprint(
        "h", labels, {"gfn2": spelled_out}
    )
    other = {**plain, "keywords": {"accuracy": 0.1}}
    assert run_fingerprint("h", labels, {"gfn2": other}) != run_fingerprint(
        "h", labels, {"gfn2": short}
    )
