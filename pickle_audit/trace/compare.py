"""Structural equality for round trips.

Plain objects compare by identity, so `original == loaded` would flag every
instance; this compares what pickling carries instead: items in order for
sequences and mappings (deques, OrderedDicts and dict subclasses too, with
their own state), members for sets (matched structurally, since plain members
hash by identity), arrays with NaN equal to NaN, attribute state for
instances. A class's own `__eq__` is trusted when it says "equal"; when it says
"different" the state decides, since a generated `__eq__` (dataclasses,
attrs) compares fields that are plain objects by identity too. An `__eq__` that
raises means "compare the state instead", never a crash.
"""

from __future__ import annotations

import collections
from typing import Any

from pickle_audit.trace.parts import ATOMIC_TYPES, instance_attributes

# Matching the members of two sets pairwise is quadratic; above this many members
# that are not equal by value, the comparison is undecidable and counts as same.
_MAX_SET_PAIRS = 250_000

Seen = dict[tuple[int, int], tuple[Any, Any]]


def same_value(original: Any, loaded: Any) -> bool:
    """True when `loaded` carries the same data as `original`; undecidable counts as same."""
    try:
        return _same(original, loaded, {})
    except RecursionError:
        return True


def _same(a: Any, b: Any, seen: Seen) -> bool:
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
        return _same_sequence(a, b, seen)
    if kind is dict:
        return _same_mapping(a, b, seen)
    structural = _structural(kind, a, b, seen)
    if structural is not None:
        return structural
    if kind.__eq__ is not object.__eq__ and _own_equality(a, b) is True:
        return True
    return _same(_state(a), _state(b), seen)


def _structural(kind: type, a: Any, b: Any, seen: Seen) -> bool | None:
    """Containers whose own `==` would compare plain members by identity."""
    if issubclass(kind, (set, frozenset)):
        return _same_members(a, b, seen) and _same(_state(a), _state(b), seen)
    if issubclass(kind, dict):
        return _same_mapping(a, b, seen) and _same(_state(a), _state(b), seen)
    if issubclass(kind, (list, tuple, collections.deque)):
        maxlen = (a.maxlen, b.maxlen) if issubclass(kind, collections.deque) else (0, 0)
        return (
            maxlen[0] == maxlen[1]
            and _same_sequence(a, b, seen)
            and _same(_state(a), _state(b), seen)
        )
    if _is_ndarray(kind):
        return _same_array(a, b, seen)
    return None


def _same_sequence(a: Any, b: Any, seen: Seen) -> bool:
    return len(a) == len(b) and all(_same(x, y, seen) for x, y in zip(a, b, strict=True))


def _same_mapping(a: Any, b: Any, seen: Seen) -> bool:
    return len(a) == len(b) and all(
        _same(ka, kb, seen) and _same(va, vb, seen)
        for (ka, va), (kb, vb) in zip(a.items(), b.items(), strict=True)
    )


def _same_members(a: Any, b: Any, seen: Seen) -> bool:
    if len(a) != len(b):
        return False
    unmatched_a = [x for x in a if not _hash_member(x, b)]
    unmatched_b = [y for y in b if not _hash_member(y, a)]
    if len(unmatched_a) != len(unmatched_b):
        return False
    if len(unmatched_a) * len(unmatched_b) > _MAX_SET_PAIRS:
        return True
    for x in unmatched_a:
        for index, y in enumerate(unmatched_b):
            if _same(x, y, seen):
                del unmatched_b[index]
                break
        else:
            return False
    return True


def _hash_member(value: Any, other: Any) -> bool:
    """Members equal by value (strings, numbers, tuples of them) pair up by hash."""
    try:
        return value in other
    except Exception:
        return False


def _is_ndarray(kind: type) -> bool:
    return kind.__name__ == "ndarray" and kind.__module__.startswith("numpy")


def _same_array(a: Any, b: Any, seen: Seen) -> bool:
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.hasobject:
        return _same_sequence(a.ravel().tolist(), b.ravel().tolist(), seen)
    import numpy

    try:
        return bool(numpy.array_equal(a, b, equal_nan=True))
    except TypeError:  # a dtype without NaN (strings, structured): plain equality
        return bool(numpy.array_equal(a, b))


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
    if issubclass(type(obj), BaseException):
        state["args"] = obj.args
    return state
