"""The optional checks beyond "does it pickle": round trip, spawn worker, largest subtrees.

Every check only ever loads bytes it has just produced from the audited object.
"""

from __future__ import annotations

import heapq
import itertools
import os
import pickle
import struct
import subprocess
import sys
from typing import Any

from pickle_audit.trace.compare import same_value
from pickle_audit.trace.parts import ATOMIC_TYPES, children
from pickle_audit.trace.probes import StandaloneDumper
from pickle_audit.trace.serializers import Serializer
from pickle_audit.trace.walk import join_segments, render_path


class LoadFailed(Exception):
    """The bytes of a value were produced, but loading them raised `cause`."""

    def __init__(self, cause: str, exception_type: str, where: str) -> None:
        super().__init__(cause, exception_type, where)
        self.cause = cause
        self.exception_type = exception_type
        self.where = where

    def __str__(self) -> str:
        return f"pickles, but loading it {self.where} raises {self.cause}"


class ValueChanged(Exception):
    """The value loaded back differs from the original."""

    def __str__(self) -> str:
        return f"value changed in a pickle round trip: {self.args[0]} came back as {self.args[1]}"


class RoundTripProbe:
    """Dump, load those very bytes, compare."""

    def __init__(self, serializer: Serializer) -> None:
        self._dumper = StandaloneDumper(serializer)
        self.pickler = self._dumper.pickler
        self._loads = serializer.loads

    def __call__(self, obj: Any) -> BaseException | None:
        from pickle_audit.trace.parts import safe_repr

        try:
            data = self._dumper.dumps(obj)
        except Exception as error:
            return error
        try:
            loaded = self._loads(data)
        except Exception as error:
            return LoadFailed(f"{type(error).__name__}: {error}", type(error).__name__, "back")
        if not same_value(obj, loaded):
            return ValueChanged(safe_repr(obj), safe_repr(loaded))
        return None


# The worker: spawn-style preparation (sys.path, cwd, the caller's main module
# re-imported as __mp_main__ without its `if __name__ == "__main__":` block),
# then length-prefixed payloads in, length-prefixed verdicts out (empty = loaded).
_SPAWN_WORKER = r"""
import os, pickle, struct, sys
inp = os.fdopen(os.dup(0), "rb")
out = os.fdopen(os.dup(1), "wb")
os.dup2(2, 1)
def read():
    header = inp.read(8)
    if len(header) < 8:
        return None
    return inp.read(struct.unpack(">Q", header)[0])
def write(text):
    data = text.encode("utf-8", "replace")
    out.write(struct.pack(">Q", len(data)) + data)
    out.flush()
loads_name = read().decode()
import multiprocessing.spawn
multiprocessing.spawn.prepare(pickle.loads(read()))
if loads_name == "dill":
    import dill
    loads = dill.loads
else:
    loads = pickle.loads
write("ready")
while True:
    data = read()
    if data is None:
        break
    try:
        loads(data)
    except BaseException as error:
        write(type(error).__name__ + ": " + str(error))
    else:
        write("")
"""


class SpawnProbe:
    """Loads payloads in a fresh interpreter prepared the way a spawn worker is."""

    def __init__(self, serializer: Serializer) -> None:
        import multiprocessing.spawn

        self._dumper = StandaloneDumper(serializer)
        self.pickler = self._dumper.pickler
        self._loads_name = "dill" if serializer.name == "dill" else "pickle"
        preparation = multiprocessing.spawn.get_preparation_data("pickle-audit-spawn-check")
        preparation.pop("authkey", None)  # the check needs no connection back to this process
        self._preparation = pickle.dumps(preparation)
        self._worker: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> SpawnProbe:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            assert worker.stdin is not None
            worker.stdin.close()
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
            assert worker.stdout is not None
            worker.stdout.close()

    def __call__(self, obj: Any) -> BaseException | None:
        try:
            data = self._dumper.dumps(obj)
        except Exception as error:
            return error
        verdict = self._load_remotely(data)
        if not verdict:
            return None
        exception_type = verdict.split(":", 1)[0]
        return LoadFailed(verdict, exception_type, "in a spawn worker")

    def _load_remotely(self, data: bytes) -> str:
        worker = self._started()
        assert worker.stdin is not None and worker.stdout is not None
        try:
            worker.stdin.write(struct.pack(">Q", len(data)) + data)
            worker.stdin.flush()
            return _read_message(worker.stdout)
        except (OSError, EOFError):
            self.close()
            return "WorkerDied: the spawn worker exited while loading the payload"

    def _started(self) -> subprocess.Popen[bytes]:
        if self._worker is None:
            self._worker = subprocess.Popen(
                [sys.executable, "-c", _SPAWN_WORKER],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                cwd=os.getcwd(),
            )
            assert self._worker.stdin is not None and self._worker.stdout is not None
            for message in (self._loads_name.encode(), self._preparation):
                self._worker.stdin.write(struct.pack(">Q", len(message)) + message)
            self._worker.stdin.flush()
            try:
                ready = _read_message(self._worker.stdout) == "ready"
            except (OSError, EOFError):
                ready = False
            if not ready:
                self.close()
                raise RuntimeError(
                    "spawn=True could not prepare a fresh interpreter: re-importing the main"
                    " module the way a spawn worker does failed (its traceback is above)"
                )
        return self._worker


def _read_message(stream: Any) -> str:
    header = stream.read(8)
    if len(header) < 8:
        raise EOFError("spawn worker closed its output")
    return stream.read(struct.unpack(">Q", header)[0]).decode("utf-8", "replace")


def largest_subtrees(
    obj: Any, name: str, serializer: Serializer, limit: int = 10
) -> list[tuple[str, int]]:
    """The biggest subtrees by standalone pickled size, best first.

    Best-first: only the biggest subtree found so far is opened up, so the cost
    is a few passes over the fattest branch, not over the whole graph. Subtrees
    that cannot be pickled have no size: they are opened up first and not listed,
    so a failing payload still shows where its bytes are.
    """
    dumper = StandaloneDumper(serializer)
    counter = itertools.count()
    unsized = float("-inf")  # sorts first in the heap of negated sizes
    heap: list[tuple[float, int, Any, Any]] = [(unsized, next(counter), (None, name), obj)]
    seen = {id(obj)}
    keep: list[Any] = []  # temporaries from reductions: their ids must stay unique
    found: list[tuple[str, int]] = []
    while heap and len(found) < limit:
        negative_size, _, path, value = heapq.heappop(heap)
        if value is not obj and negative_size != unsized:
            found.append((join_segments(render_path(path)), int(-negative_size)))
        try:
            groups = children(value, serializer, dumper.pickler)
        except Exception:
            continue
        keep.append(groups)
        for iterable, formatter in groups:
            for key, child in iterable:
                if type(child) in ATOMIC_TYPES and not isinstance(child, (str, bytes)):
                    continue
                segment = formatter(key)
                if segment is None or id(child) in seen:
                    continue
                seen.add(id(child))
                size = dumper.size(child)
                priority = unsized if size is None else -size
                heapq.heappush(heap, (priority, next(counter), (path, segment), child))
    return found
