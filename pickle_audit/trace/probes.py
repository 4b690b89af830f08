"""Probes: the verdict on one subtree, as an exception or None.

The walk asks a probe about each child it meets. Dumping with one long-lived
pickler lets clean shared subtrees be saved once (later dumps emit a memo
reference); after a failure the memo may hold half-saved containers, so it is
cleared.
"""

from __future__ import annotations

import collections
import io
from typing import Any

from pickle_audit.trace.serializers import Serializer


class DumpProbe:
    """Does the subtree pickle? Reuses one pickler so shared values are saved once.

    The bytes go to a sink that drops them (a C-level `write`), so probing costs
    what pickling costs and holds no memory. `raw_dump` (raises on failure, then
    call `reset`) lets the walk's inner loop skip a Python-level call per child.
    """

    def __init__(self, serializer: Serializer) -> None:
        self.pickler = serializer.new_pickler(_Sink())
        self.raw_dump = self.pickler.dump
        self.reset = self.pickler.clear_memo

    def __call__(self, obj: Any) -> BaseException | None:
        try:
            self.raw_dump(obj)
        except Exception as error:
            self.reset()
            return error
        return None


class _Sink:
    """A write-only file that forgets what it is given."""

    def __init__(self) -> None:
        self.write = collections.deque(maxlen=0).append


class StandaloneDumper:
    """Pickles each subtree on its own (fresh memo), for true per-subtree sizes and bytes."""

    def __init__(self, serializer: Serializer) -> None:
        self.buffer = io.BytesIO()
        self.pickler = serializer.new_pickler(self.buffer)

    def dumps(self, obj: Any) -> bytes:
        self.buffer.seek(0)
        self.buffer.truncate()
        self.pickler.clear_memo()
        self.pickler.dump(obj)
        return self.buffer.getvalue()

    def size(self, obj: Any) -> int | None:
        self.buffer.seek(0)
        self.pickler.clear_memo()
        try:
            self.pickler.dump(obj)
        except Exception:
            return None
        return self.buffer.tell()
