"""sqlite3 checkpoint of a many-body run: one committed row per finished job.

Each result is committed the moment it arrives in the parent, so Ctrl-C, a
crash or a failed job loses nothing finished; a rerun with the same file
computes only the missing jobs. The file records a fingerprint of the
calculation (molecule, job labels, specifications) and refuses to mix runs.
Results are stored as JSON (floats round-trip exactly), never pickled, so a
checkpoint file cannot execute code when loaded.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np


def run_fingerprint(molecule_hash: str, labels: Iterable[str], specifications: dict) -> str:
    """Identity of a calculation: same molecule, same jobs, same specifications."""
    text = json.dumps([molecule_hash, sorted(labels), specifications], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class Checkpoint:
    """Finished job results of one calculation, in a sqlite3 file."""

    def __init__(self, path: str | Path, fingerprint: str) -> None:
        self.path = Path(path)
        self._db = sqlite3.connect(self.path)
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        self._db.execute("CREATE TABLE IF NOT EXISTS jobs (label TEXT PRIMARY KEY, result TEXT)")
        row = self._db.execute("SELECT value FROM meta WHERE key = 'fingerprint'").fetchone()
        if row is None:
            self._db.execute("INSERT INTO meta VALUES ('fingerprint', ?)", (fingerprint,))
            self._db.commit()
        elif row[0] != fingerprint:
            self._db.close()
            raise ValueError(
                f"checkpoint {self.path} belongs to a different calculation (molecule, "
                "n-body levels or specifications differ); delete it or choose another file"
            )

    def load(self) -> dict[str, dict[str, Any]]:
        """label -> properties (energy float, gradient/hessian numpy arrays)."""
        rows = self._db.execute("SELECT label, result FROM jobs").fetchall()
        return {label: _decode(json.loads(text)) for label, text in rows}

    def save(self, label: str, properties: dict[str, Any]) -> None:
        encoded = json.dumps({k: _encode(v) for k, v in properties.items()})
        self._db.execute("INSERT OR REPLACE INTO jobs VALUES (?, ?)", (label, encoded))
        self._db.commit()

    def close(self) -> None:
        self._db.close()


def _encode(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return {"shape": list(value.shape), "data": value.ravel().tolist()}
    return float(value)


def _decode(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        key: np.array(value["data"], dtype=float).reshape(value["shape"])
        if isinstance(value, dict)
        else value
        for key, value in properties.items()
    }
