"""Pre-flight checks: a task that cannot be pickled fails at `submit`, named.

Auditing walks the whole object graph, so by default only the first task of
each *shape* (callable identity plus argument types) is audited; later tasks
of the same shape are still pickled at submit time, and a failure there is
audited on the spot so the error always names the bad leaf.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, Literal

from pickle_audit import audit
from pickle_audit.executor.errors import PayloadError

AuditMode = Literal["first", "all", "off"]
AUDIT_MODES: tuple[str, ...] = ("first", "all", "off")


def audit_report(obj: Any, *, name: str, serializer: str = "pickle") -> str | None:
    """The formatted audit report when `obj` cannot be serialized, else None.

    No round trip: functions shipped by value (cloudpickle) never compare
    equal to their copy, and a payload that fails to load in the worker is
    reported there, as a PayloadError on that task's future.
    """
    report = audit(obj, name=name, serializer=serializer)
    if report.ok:
        return None
    return report.format()


def payload_error(report: str, *, label: str | None, serializer: str) -> PayloadError:
    """The PayloadError for a payload whose audit `report` names the bad leaves."""
    return PayloadError(
        f"task {label!r} cannot be sent to a worker ({serializer}):\n{report}\n"
        "fix: pass plain data (lists, dicts, numbers, module-level functions) "
        "instead of the object at that path",
        label=label,
        report=report,
    )


def task_shape(fn: Callable[..., Any], args: tuple, kwargs: dict) -> Hashable:
    """What makes two tasks alike for auditing: the callable and the argument types."""
    owner = getattr(fn, "__self__", None)
    function = getattr(fn, "__func__", fn)
    return (
        id(function),
        type(owner),
        tuple(type(a) for a in args),
        tuple(sorted((k, type(v)) for k, v in kwargs.items())),
    )


class PayloadAuditor:
    """Remembers which task shapes were audited for one executor."""

    def __init__(self, mode: str, serializer: str) -> None:
        if mode not in AUDIT_MODES:
            raise ValueError(f"audit must be one of {', '.join(AUDIT_MODES)}, not {mode!r}")
        self.mode = mode
        self.serializer = serializer
        self._seen: set[Hashable] = set()

    def check(self, fn: Callable[..., Any], args: tuple, kwargs: dict, label: str | None) -> None:
        """Raise PayloadError when this task's payload is bad (per the audit mode)."""
        if self.mode == "off":
            return
        if self.mode == "first":
            shape = task_shape(fn, args, kwargs)
            if shape in self._seen:
                return
        task = {"fn": fn, "args": args, "kwargs": kwargs}
        report = audit_report(task, name="task", serializer=self.serializer)
        if report is not None:
            raise payload_error(report, label=label, serializer=self.serializer)
        if self.mode == "first":
            self._seen.add(shape)
