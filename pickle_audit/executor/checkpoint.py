"""sqlite3 checkpoint of a many-body run: one committed row per finished job.

Each result is committed the moment it arrives in the parent, so Ctrl-C, a
crash or a failed job loses nothing finished; a rerun with the same file
computes only the missing jobs. The file records a fingerprint of the
calculation (molecule, job labels, specifications in canonical form, so a dict
and the equivalent AtomicSpecification agree) and refuses to mix runs. Each row
carries a checksum of its label and result under that fingerprint: a row that
was edited or damaged is recomputed, with a warning naming the file and the
label, never used. Results are stored as JSON (floats round-trip exactly),
never pickled, so a checkpoint file cannot execute code when loaded.

One run at a time holds a file (an advisory lock on `FILE.lock`): a second run
of the same calculation waits, says so, and then computes only what the first
one left, instead of computing everything a second time.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np


class CheckpointError(ValueError):
    """The checkpoint file cannot be used: damaged, not a checkpoint, or another run's."""


class CheckpointWarning(UserWarning):
    """Something about the checkpoint a user should know; the run goes on."""


def run_fingerprint(molecule_hash: str, labels: Iterable[str], specifications: dict) -> str:
    """Identity of a calculation: same molecule, same jobs, same specifications."""
    canonical = {mc: canonical_specification(spec) for mc, spec in specifications.items()}
    text = json.dumps([molecule_hash, sorted(labels), canonical], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def canonical_specification(specification: dict[str, Any]) -> Any:
    """The specification with every default spelled out, as QCElemental validates it."""
    try:
        from qcelemental.models.v2 import AtomicSpecification

        return AtomicSpecification(**specification).model_dump(mode="json")
    except Exception:  # not a valid specification: QCEngine will say why; fingerprint it as is
        return specification


class Checkpoint:
    """Finished job results of one calculation, in a sqlite3 file."""

    def __init__(self, path: str | Path, fingerprint: str) -> None:
        self.path = Path(path)
        self._fingerprint = fingerprint
        self._lock = _hold_lock(self.path)
        self._save_failed = False
        try:
            self._db = self._open()
        except BaseException:
            self._lock.close()
            raise

    def _open(self) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(self.path)
        except sqlite3.Error as error:
            raise self._unusable(error) from None
        try:
            db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            db.execute("CREATE TABLE IF NOT EXISTS jobs (label TEXT PRIMARY KEY, result TEXT)")
            columns = {row[1] for row in db.execute("PRAGMA table_info(jobs)")}
            if "checksum" not in columns:  # a file from before checksums: rows are unverified
                db.execute("ALTER TABLE jobs ADD COLUMN checksum TEXT")
            row = db.execute("SELECT value FROM meta WHERE key = 'fingerprint'").fetchone()
            if row is None:
                db.execute("INSERT INTO meta VALUES ('fingerprint', ?)", (self._fingerprint,))
            db.commit()
        except sqlite3.Error as error:
            db.close()
            raise self._unusable(error) from None
        if row is not None and row[0] != self._fingerprint:
            db.close()
            raise CheckpointError(
                f"checkpoint {self.path} belongs to a different calculation (molecule, "
                "n-body levels or specifications differ); delete it or choose another file"
            )
        return db

    def _unusable(self, error: sqlite3.Error) -> CheckpointError:
        return CheckpointError(
            f"checkpoint {self.path} cannot be read ({error}): it is damaged or not a"
            " checkpoint; move it aside (or delete it) to start afresh"
        )

    def load(self) -> dict[str, dict[str, Any]]:
        """label -> properties (energy float, gradient/hessian numpy arrays) of every row
        whose checksum holds; the others are left out, to be computed again."""
        try:
            rows = self._db.execute("SELECT label, result, checksum FROM jobs").fetchall()
        except sqlite3.Error as error:
            raise self._unusable(error) from None
        results = {}
        for label, text, checksum in rows:
            decoded = None
            if checksum == self._checksum(label, text):
                with contextlib.suppress(ValueError, TypeError, KeyError):
                    decoded = _decode(json.loads(text))
            if decoded is None:
                warnings.warn(
                    f"checkpoint {self.path}: the row of job {label!r} does not match its"
                    " checksum (edited, damaged, or written before checksums); the job is"
                    " computed again",
                    CheckpointWarning,
                    stacklevel=3,
                )
                continue
            results[label] = decoded
        return results

    def save(self, label: str, properties: dict[str, Any]) -> None:
        """Commit one result; a failed write (a full disk) is reported once and the run
        goes on: the job is only computed again by a later resume."""
        encoded = json.dumps({k: _encode(v) for k, v in properties.items()})
        try:
            self._db.execute(
                "INSERT OR REPLACE INTO jobs VALUES (?, ?, ?)",
                (label, encoded, self._checksum(label, encoded)),
            )
            self._db.commit()
        except sqlite3.Error as error:
            with contextlib.suppress(sqlite3.Error):
                self._db.rollback()
            if not self._save_failed:
                self._save_failed = True
                warnings.warn(
                    f"checkpoint {self.path}: cannot write job {label!r} ({error}); the run"
                    " goes on, and jobs not written are computed again on resume",
                    CheckpointWarning,
                    stacklevel=2,
                )

    def _checksum(self, label: str, text: str) -> str:
        return hashlib.sha256(f"{self._fingerprint}\0{label}\0{text}".encode()).hexdigest()

    def close(self) -> None:
        self._db.close()
        self._lock.close()


def _hold_lock(path: Path) -> Any:
    """Take the file's run lock, waiting (and saying so) while another run holds it."""
    try:
        import fcntl
    except ImportError:  # no advisory locks here (Windows): runs are not kept apart
        return _NoLock()
    lock_path = path.with_name(path.name + ".lock")
    try:
        handle = open(lock_path, "a+")  # noqa: SIM115 -- held until close()
    except OSError as error:
        raise CheckpointError(f"cannot create the lock file {lock_path}: {error}") from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        warnings.warn(
            f"checkpoint {path} is in use by another run ({holder}); waiting for it to"
            " finish, then computing only the jobs it left",
            CheckpointWarning,
            stacklevel=4,
        )
        fcntl.flock(handle, fcntl.LOCK_EX)
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}\n")
    handle.flush()
    return handle


class _NoLock:
    def close(self) -> None:
        pass


def _encode(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return {"shape": list(value.shape), "data": value.ravel().tolist()}
    return float(value)


def _decode(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        key: np.array(value["data"], dtype=float).reshape(value["shape"])
        if isinstance(value, dict)
        else float(value)
        for key, value in properties.items()
    }
