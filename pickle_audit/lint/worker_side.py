"""Attributes an instance gets only once it runs in a worker.

`pool.map(Task(n), xs)` pickles the Task as it was built. What `__call__`, or
a method that only `__call__` calls, then assigns (`self.lock = Lock()`) is set
in the worker, after pickling, and never travels; flagging it is a false alarm
that teaches users to ignore the rule. The same holds for the method of a
bound-method task (`pool.submit(self.run)`).

"Only" is judged conservatively. A method the parent may run first is
parent-side, and so is everything it calls on `self`: every dunder but
`__call__`, every decorated method (a property runs on attribute access), and
every method whose name is called on anything but `self` anywhere in the
project (`task.prepare()`), matched by name alone.
"""

from __future__ import annotations

from collections.abc import Iterable

from pickle_audit.lint.facts import AttributeFact
from pickle_audit.lint.index import ClassRef, ProjectIndex


def _is_dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__")


class WorkerSide:
    """Which methods of a class run only in the worker, per class, computed once."""

    def __init__(self, index: ProjectIndex, tasks: Iterable[tuple[ClassRef, str]]) -> None:
        """`tasks`: each class whose instance a boundary runs, with the method it runs
        (`__call__` for a callable instance)."""
        self.index = index
        self._entries: dict[str, set[str]] = {}
        for owner, method in tasks:
            self._entries.setdefault(owner.qualified, set()).add(method)
        self._called_elsewhere = frozenset(
            name for module in index.modules.values() for name in module.method_calls
        )
        self._methods: dict[str, frozenset[str]] = {}

    def assigned_in_worker(self, ref: ClassRef, fact: AttributeFact) -> bool:
        """Whether `fact` is assigned only in methods that run once the instance is in a
        worker, so its value is not part of what was pickled."""
        prefix = f"{ref.fact.qualname}."
        if not fact.on_instance or not fact.method.startswith(prefix):
            return False
        method = fact.method[len(prefix) :].partition(".")[0]
        return method in self.methods(ref)

    def methods(self, ref: ClassRef) -> frozenset[str]:
        found = self._methods.get(ref.qualified)
        if found is None:
            found = self._compute(ref)
            self._methods[ref.qualified] = found
        return found

    def _compute(self, ref: ClassRef) -> frozenset[str]:
        defined: dict[str, tuple[bool, tuple[str, ...]]] = {}
        for current in self.index.mro(ref):  # nearest first: an override wins
            for method in current.fact.methods:
                name = method.qualname.rpartition(".")[2]
                defined.setdefault(name, (method.decorated, method.self_calls))
        entries = self._entries.get(ref.qualified)
        if not entries:
            return frozenset()
        parent_side = [
            name
            for name, (decorated, _) in defined.items()
            if (_is_dunder(name) and name != "__call__")
            or decorated
            or name in self._called_elsewhere
        ]
        return frozenset(self._closure(entries, defined) - self._closure(parent_side, defined))

    @staticmethod
    def _closure(
        start: Iterable[str], defined: dict[str, tuple[bool, tuple[str, ...]]]
    ) -> set[str]:
        """The methods `start` runs, following calls on `self`."""
        seen: set[str] = set()
        stack = [name for name in start if name in defined]
        while stack:
            name = stack.pop()
            if name not in seen:
                seen.add(name)
                stack.extend(call for call in defined[name][1] if call in defined)
        return seen
