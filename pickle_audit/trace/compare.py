"""Structural equality for round trips.

Plain objects compare by identity, so `original == loaded` would flag every
instance; this compares what pickling carries instead (items, attribute state),
uses a class's own `__eq__` when it has one, and treats an `__eq__` that raises
as "compare the state instead" rather than as a crash.
"""

from __future__ import annotations

from typing import Any

from pickle_audit.trace.parts import ATOMIC_TYPES, instance_attributes


def same_value(original: Any, loaded: Any) -> bool:
    """True when `loaded` carries the same data as `original`; undecidable counts as same."""
    try:
        return _same(original, loaded, {})
    except RecursionError:
        return True


def _same(a: Any, b: Any, seen: dict[tuple[int, int], tuple[Any, Any]]) -> bool:
    """`seen` holds every compared pair alive: the state dicts built on the way are
    temporaries, and a freed one's id would otherwise be reused by the next."""
    if a is b:
        return True
    kind = type(a)
    if kind is not type(b):
        return False
    if kind is float or kind is complex:
        return a == b or (a != a and b != b)  # NaN survives a round trip as NaN
    if kind in ATOMIC_TYPES:
        return a == b
    pair = (id(a), id(b))
    if pair in seen:
        return True
    seen[pair] = (a, b)
    if kind is list or kind is tuple:
        return len(a) == len(b) and all(_same(x, y, seen) for x, y in zip(a, b, strict=True))
    if kind is dict:
        return len(a) == len(b) and all(
            _same(ka, kb, seen) and _same(va, vb, seen)
            for (ka, va), (kb, vb) in zip(a.items(), b.items(), strict=True)
        )
    if kind.__eq__ is not object.__eq__:
        verdict = _own_equality(a, b)
        if verdict is not None:
            return verdict
    return _same(_state(a), _state(b), seen)


def _own_equality(a: Any, b: Any) -> bool | None:
    try:
        result = a == b
        if isinstance(result, bool):
            return result
        if result is NotImplemented:
            return None
        return bool(result.all())  # numpy-style elementwise comparison
    except Exception:
        return None


def _state(obj: Any) -> dict[str, Any]:
    state = instance_attributes(obj, c_level=False)
    if isinstance(obj, BaseException):
        state["args"] = obj.args
    return state
