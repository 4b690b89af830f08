"""Probes: the verdict on one subtree, as an exception or None.

The walk asks a probe about each child it meets. Dumping with one long-lived
pickler lets clean shared subtrees be saved once (later dumps emit a memo
reference); after a failure the memo may hold half-saved containers, so it is
cleared.
"""

from __future__ import annotations

import io
from typing import Any

from pickle_audit.trace.serializers import Serializer


class DumpProbe:
    """Does the subtree pickle? Reuses one pickler so shared values are saved once."""

    def __init__(self, serializer: Serializer) -> None:
        self.buffer = io.BytesIO()
        self.pickler = serializer.new_pickler(self.buffer)

    def __call__(self, obj: Any) -> BaseException | None:
        self.buffer.seek(0)
        try:
            self.pickler.dump(obj)
        except Exception as error:
            self.pickler.clear_memo()
            return error
        return None


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
