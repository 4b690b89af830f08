"""The path-tracking walk that finds every bad leaf of an object graph in one pass.

Each child is first tried whole with the serializer's own (C) pickler, so
clean subtrees cost what pickling them costs; only a child that fails is
opened up, following the serializer's own reduction rules (see parts.py). The
walk is iterative (a 100,000-deep list cannot overflow it), memoised by
identity (cycles and shared references are visited once), and keeps going
after a bad leaf, so all of them are found.

The cost stays linear: the last child that could explain a parent's failure
is not probed (it must fail when all its siblings pickled), so a failing
chain is not re-pickled once per level. A subtree whose pickling overflows the
recursion limit is reported once, at the top of the deep chain, and walked
without probing down to the leaves, where nesting no longer matters.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pickle_audit.catalog import rule_for_value
from pickle_audit.trace.parts import ATOMIC_TYPES, Group, children, opens_dict_view

Probe = Callable[[Any], "BaseException | None"]

# A path is a linked list (parent, segment) so that building one is O(1) and a
# deep graph costs no quadratic string building; segments of None are skipped.
Path = tuple["Path | None", "str | None"]

# Rules whose values are reported whole: opening a lock or a handler up would
# only name its internals.
_WHOLE_VALUE_RULES = frozenset({"PA102", "PA104", "PA105", "PA108"})

_MAX_PATH_SEGMENTS = 60


class _Unknown:
    """Marks a node walked without probing (below a recursion-limit overflow)."""


UNKNOWN: Any = _Unknown()


class _Assumed:
    """Marks a node not probed because it must fail: its parent failed (not by
    overflowing the recursion limit), every earlier sibling pickled, and it is the
    last child that could fail. Skipping that probe keeps a failing chain linear."""


ASSUMED: Any = _Assumed()


def _unprobed(error: Any) -> bool:
    return error is UNKNOWN or error is ASSUMED  # `is`: a hostile error may override ==


_IN_PROGRESS, _BAD, _OK = 0, 1, 2


@dataclass(frozen=True)
class Budget:
    """How long one walk may take and how many objects it may open: a graph too big
    to explain in time is reported as such rather than hanging the caller."""

    seconds: float = 30.0
    objects: int = 5_000_000


DEFAULT_BUDGET = Budget()
_CHECK_EVERY = 1024  # objects between clock reads


class WalkStopped(Exception):
    """The budget ran out: the leaves found so far are reported, and this says so."""

    def __init__(self, budget: Budget, visited: int, error: BaseException) -> None:
        super().__init__(budget, visited, error)
        self.budget = budget
        self.visited = visited
        self.error = error

    def __str__(self) -> str:
        return (
            f"{type(self.error).__name__}: {self.error} (the search for the failing part stopped"
            f" after {self.visited:,} objects, at its budget of {self.budget.seconds:g} s /"
            f" {self.budget.objects:,} objects: parts not examined may hold more problems)"
        )


class WalkFailed(Exception):
    """The serializer fails on the object, and the object breaks the walk itself too."""

    def __init__(self, error: BaseException, walk_error: BaseException) -> None:
        super().__init__(error, walk_error)
        self.error = error
        self.walk_error = walk_error

    def __str__(self) -> str:
        walk_error = self.walk_error
        return (
            f"{type(self.error).__name__}: {self.error} (no part of it could be opened:"
            f" {type(walk_error).__name__}: {walk_error})"
        )


class _OutOfBudget(BaseException):
    """Not an Exception: no handler inside the walk may mistake it for the object's own."""


@dataclass(frozen=True)
class Leaf:
    """One bad value as the walk found it, before it is described for users."""

    value: Any
    subject: Any  # what to name the type of: the instance when its class is the culprit
    path: str
    segments: tuple[str, ...]
    holder: Any  # the object whose attribute/item holds `value` (None for the root)
    error: BaseException
    too_deep: bool = False


class _Frame:
    __slots__ = (
        "back_refs",
        "deep",
        "error",
        "failed_child",
        "formatter",
        "group_index",
        "groups",
        "holder",
        "iterator",
        "obj",
        "own_problem",
        "path",
        "pending",
    )

    def __init__(self, obj: Any, path: Path, holder: Any, error: Any, groups: list[Group]):
        self.obj = obj
        self.path = path
        self.holder = holder
        self.error = error
        self.groups = groups
        self.group_index = 0
        self.iterator: Iterator[tuple[Any, Any]] | None = None
        self.formatter: Callable[[Any], str | None] = str
        self.failed_child = False
        self.back_refs: set[int] = set()
        self.own_problem = False
        self.deep = error is UNKNOWN
        # The latest complex child, probed only once the next one shows up: the last
        # one may not need a probe at all (see _Assumed).
        self.pending: tuple[Any, Any, Callable[[Any], str | None]] | None = None


def render_path(path: Path) -> tuple[str, ...]:
    segments: list[str] = []
    node: Path | None = path
    while node is not None:
        parent, segment = node
        if segment is not None:
            segments.append(segment)
        node = parent
    segments.reverse()
    return tuple(segments)


def join_segments(segments: tuple[str, ...]) -> str:
    """Join segments; absurdly deep paths keep both ends and count the middle."""
    if len(segments) <= _MAX_PATH_SEGMENTS:
        return "".join(segments)
    keep = _MAX_PATH_SEGMENTS // 2
    hidden = len(segments) - 2 * keep
    return "".join(segments[:keep]) + f"...<{hidden} levels>..." + "".join(segments[-keep:])


def _only_complex_item(items: list[Any] | tuple[Any, ...]) -> tuple[int, Any] | None:
    """(index, item) of the one item that is not an atom, if exactly one is not."""
    found = None
    for index, item in enumerate(items):
        if type(item) not in ATOMIC_TYPES:
            if found is not None:
                return None
            found = (index, item)
    return found


def _complex_children(groups: list[Group]) -> int:
    """How many children could fail (0, 1 or 2 meaning "more than one")."""
    count = 0
    for items, _ in groups:
        for _, value in items:  # type: ignore[misc]
            if type(value) not in ATOMIC_TYPES:
                count += 1
                if count > 1:
                    return count
    return count


class Walker:
    """One walk over one object graph; not reusable."""

    def __init__(
        self, serializer: Any, pickler: Any, probe: Probe, budget: Budget = DEFAULT_BUDGET
    ) -> None:
        self._budget = budget
        self._deadline = time.monotonic() + budget.seconds
        self._entered = 0
        self._serializer = serializer
        self._pickler = pickler
        self._probe = probe
        # DumpProbe's C-level dump, called directly in the hot loop (None: use probe)
        self._raw_dump = getattr(probe, "raw_dump", None)
        self._reset = getattr(probe, "reset", None)
        self._status: dict[int, int] = {}
        self._keep: list[Any] = []  # ids stay unique while the walk runs
        self._stack: list[_Frame] = []
        self._leaves: list[Leaf] = []

    def walk(self, roots: list[tuple[Any, str, BaseException]]) -> list[Leaf]:
        """All bad leaves below the roots, each given as (value, name, its probe's error).

        Roots share one memo, so a value reachable from several is reported once.
        """
        for root, name, error in roots:
            if id(root) in self._status:
                continue
            try:
                self._enter(root, (None, name), None, error)
                while self._stack:
                    frame = self._stack[-1]
                    if not self._advance(frame):
                        self._stack.pop()
                        self._finish(frame)
            except _OutOfBudget:
                self._stack.clear()
                stopped = WalkStopped(self._budget, self._entered, error)
                self._leaves.append(Leaf(root, root, name, (name,), None, stopped))
                self._status[id(root)] = _BAD
                break
        return self._leaves

    def found_bad(self, root: Any) -> bool:
        """Whether the walk pinned the failure of `root` on something it reported."""
        return self._status.get(id(root)) == _BAD

    def _count_entered(self) -> None:
        self._entered += 1
        if not self._entered % _CHECK_EVERY and (
            self._entered >= self._budget.objects or time.monotonic() > self._deadline
        ):
            raise _OutOfBudget

    def _enter(self, obj: Any, path: Path, holder: Any, error: Any) -> None:
        if (type(obj) is list or type(obj) is tuple) and not (
            error is UNKNOWN or isinstance(error, RecursionError)
        ):
            obj, path, holder, error = self._through_chain(obj, path, holder, error)
        self._count_entered()
        self._status[id(obj)] = _IN_PROGRESS
        self._keep.append(obj)
        if rule_for_value(obj) in _WHOLE_VALUE_RULES and not opens_dict_view(obj, self._serializer):
            self._report_leaf(obj, path, holder, error)
            return
        try:
            groups = children(obj, self._serializer, self._pickler)
        except Exception as reduce_error:
            self._report_leaf(obj, path, holder, reduce_error if _unprobed(error) else error)
            return
        if not groups:  # saved whole: its own probe is the verdict
            if _unprobed(error):
                error = self._probe(obj)
                if error is None:
                    self._status[id(obj)] = _OK
                    return
            self._report_leaf(obj, path, holder, error)
            return
        if isinstance(error, RecursionError):
            groups = [(list(iterable), formatter) for iterable, formatter in groups]
        self._keep.append(groups)
        frame = _Frame(obj, path, holder, error, groups)
        if isinstance(error, RecursionError) and _complex_children(groups) <= 1:
            # The top of a linear chain (list in list in list ...): that is where the
            # nesting is; below it, only leaves are probed.
            frame.own_problem = True
            frame.deep = True
            self._record(obj, path, holder, error)
        self._stack.append(frame)

    def _through_chain(
        self, obj: Any, path: Path, holder: Any, error: Any
    ) -> tuple[Any, Path, Any, Any]:
        """Down a failing list-in-list chain without a frame per level.

        A failing list or tuple whose only item that could fail is one not met before
        fails because of it (atoms always pickle): it is bad, and the walk goes on at
        that item, which must fail too. One level costs a scan of its items, not a
        frame, a probe and a settling of children.
        """
        status, keep = self._status, self._keep.append
        while type(obj) is list or type(obj) is tuple:
            if len(obj) == 1:  # the common chain: [[[...]]]
                only: tuple[int, Any] | None = (0, obj[0])
                if type(obj[0]) in ATOMIC_TYPES:
                    break
            else:
                only = _only_complex_item(obj)
            if only is None or id(only[1]) in status:
                break
            self._count_entered()
            status[id(obj)] = _BAD
            keep(obj)
            index, child = only
            obj, path, holder, error = child, (path, f"[{index}]"), obj, ASSUMED
        return obj, path, holder, error

    def _advance(self, frame: _Frame) -> bool:
        """Visit children until one needs opening up; False when none is left."""
        status_of = self._status.get
        raw_dump = self._raw_dump
        while True:
            if frame.iterator is None:
                if frame.group_index >= len(frame.groups):
                    return self._settle_last(frame)
                iterable, frame.formatter = frame.groups[frame.group_index]
                frame.group_index += 1
                frame.iterator = iter(iterable)
            formatter = frame.formatter
            try:
                for key, value in frame.iterator:
                    if type(value) in ATOMIC_TYPES:
                        continue
                    known = status_of(id(value))
                    if known is not None:
                        self._note_visited(frame, value, known)
                        continue
                    if frame.deep:
                        self._enter(value, (frame.path, formatter(key)), frame.obj, UNKNOWN)
                        return True
                    previous, frame.pending = frame.pending, (value, key, formatter)
                    if previous is None:
                        continue
                    if raw_dump is not None and status_of(id(previous[0])) is None:
                        try:  # the common case, inlined: the previous child pickles
                            raw_dump(previous[0])
                            continue
                        except Exception as error:
                            self._reset()
                            self._enter(
                                previous[0],
                                (frame.path, previous[2](previous[1])),
                                frame.obj,
                                error,
                            )
                            return True
                    if self._descend_if_failing(frame, previous, None):
                        return True
            except Exception as error:  # the object's own items raised (a lazy reduction)
                self._items_failed(frame, error)
            frame.iterator = None

    def _items_failed(self, frame: _Frame, error: Exception) -> None:
        """The serializer fails on `frame.obj` with this same error when it iterates."""
        if not frame.own_problem:
            frame.own_problem = True
            self._record(frame.obj, frame.path, frame.holder, error)

    def _note_visited(self, frame: _Frame, value: Any, known: int) -> None:
        """A child seen before: a bad one explains the parent's failure; one still in
        progress (an ancestor) does not yet: that ancestor is judged when it finishes."""
        if known == _BAD:
            frame.failed_child = True
        elif known == _IN_PROGRESS:
            frame.back_refs.add(id(value))

    def _settle_last(self, frame: _Frame) -> bool:
        """The last complex child: assumed bad when nothing else explains the failure."""
        last, frame.pending = frame.pending, None
        if last is None:
            return False
        parent_failed_plainly = frame.error is ASSUMED or not isinstance(
            frame.error, (RecursionError, _Unknown)
        )
        # A child leading back to an ancestor may be all that fails: then probe the last one.
        explained_elsewhere = frame.failed_child or frame.back_refs
        assumption = ASSUMED if parent_failed_plainly and not explained_elsewhere else None
        return self._descend_if_failing(frame, last, assumption)

    def _descend_if_failing(
        self, frame: _Frame, child: tuple[Any, Any, Callable[[Any], str | None]], error: Any
    ) -> bool:
        value, key, formatter = child
        known = self._status.get(id(value))  # it may have been visited meanwhile
        if known is not None:
            self._note_visited(frame, value, known)
            return False
        if error is None:
            error = self._probe(value)
            if error is None:
                return False
        self._enter(value, (frame.path, formatter(key)), frame.obj, error)
        return True

    def _finish(self, frame: _Frame) -> None:
        frame.back_refs.discard(id(frame.obj))
        if not frame.failed_child and not frame.own_problem:
            if frame.back_refs:
                # It leads back to an ancestor still being walked, whose own failure may be
                # all that fails here: the ancestor is reported, not this path to it.
                self._status[id(frame.obj)] = _BAD
                if self._stack:
                    self._stack[-1].back_refs |= frame.back_refs
                return
            if frame.error is ASSUMED:  # no child explains it: the node's own verdict
                frame.error = self._probe(frame.obj)
            if frame.error is UNKNOWN or frame.error is None:
                self._status[id(frame.obj)] = _OK
                return
            self._record(frame.obj, frame.path, frame.holder, frame.error)
        self._status[id(frame.obj)] = _BAD
        if self._stack:
            self._stack[-1].failed_child = True

    def _report_leaf(self, obj: Any, path: Path, holder: Any, error: Any) -> None:
        if _unprobed(error):
            error = self._probe(obj)
            if error is None:  # a whole value that pickles after all
                self._status[id(obj)] = _OK
                return
        self._record(obj, path, holder, error)
        self._status[id(obj)] = _BAD
        if self._stack:
            self._stack[-1].failed_child = True

    def _record(self, obj: Any, path: Path, holder: Any, error: BaseException) -> None:
        too_deep = isinstance(error, RecursionError)
        subject = obj
        if path[1] is None and self._stack:  # the class or reconstructor of the parent
            subject, holder = self._stack[-1].obj, self._stack[-1].holder
        segments = render_path(path)
        self._leaves.append(
            Leaf(obj, subject, join_segments(segments), segments, holder, error, too_deep)
        )
