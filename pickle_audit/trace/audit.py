"""`audit` and `assert_picklable`: the tracer's Python API (DESIGN.md, "Python API")."""

from __future__ import annotations

import functools
import types
from collections.abc import Sequence
from typing import Any

from pickle_audit.catalog import get_rule, qualified_type_name, rule_for_value
from pickle_audit.findings import Problem
from pickle_audit.trace.checks import (
    LoadFailed,
    RoundTripProbe,
    SpawnProbe,
    ValueChanged,
    largest_subtrees,
)
from pickle_audit.trace.probes import DumpProbe
from pickle_audit.trace.report import AuditReport
from pickle_audit.trace.serializers import Serializer, get_serializer
from pickle_audit.trace.source import SourceFinder
from pickle_audit.trace.walk import DEFAULT_BUDGET, Budget, Leaf, Walker, WalkFailed, WalkStopped

_TOO_DEEP_FIX = (
    "the value nests deeper than the pickler's recursion limit: flatten it (e.g. a list of"
    " nodes with parent indices), or raise sys.setrecursionlimit in both processes"
)
_STOPPED_FIX = (
    "audit a part of the object (an attribute or an item) to find the rest, or raise"
    " audit(..., time_limit=...)"
)
_CHANGED_FIX = "make the class pickle its whole state (check __getstate__/__setstate__/__reduce__)"


def audit(
    obj: Any,
    *,
    name: str = "obj",
    serializer: str = "pickle",
    protocol: int | None = None,
    roundtrip: bool = False,
    spawn: bool = False,
    time_limit: float = DEFAULT_BUDGET.seconds,
) -> AuditReport:
    """Judge `obj` by `serializer`'s own rules and report every value that cannot travel.

    The whole object is tried with the serializer first, so a clean object costs
    one pickling and the verdict is always the serializer's own; only a failure
    is walked, once, to name every bad leaf. `time_limit` bounds that walk: a
    graph too big to explain in time is reported as such, never hangs.
    """
    profile = get_serializer(serializer, protocol)
    budget = Budget(seconds=time_limit, objects=DEFAULT_BUDGET.objects)
    largest = functools.partial(largest_subtrees, obj, name, profile)
    try:
        size = len(profile.dumps(obj))
    except Exception as error:
        probe = DumpProbe(profile)
        problems = _explain(probe, [(obj, name, error)], profile, "dump", budget)
        return AuditReport(name, profile.name, problems, None, largest)
    problems = []
    if roundtrip:
        problems.extend(
            _walk_with(RoundTripProbe(profile), obj, name, profile, "roundtrip", budget)
        )
    if spawn:
        with SpawnProbe(profile) as spawn_probe:
            problems.extend(_walk_with(spawn_probe, obj, name, profile, "spawn", budget))
    return AuditReport(name, profile.name, problems, size, largest)


def assert_picklable(obj: Any, **options: Any) -> None:
    """Raise AssertionError with the formatted report when `obj` cannot travel."""
    __tracebackhide__ = True  # pytest: point at the caller's line
    report = audit(obj, **options)
    if not report.ok:
        raise AssertionError(report.format())


def _walk_with(
    probe: Any, obj: Any, name: str, profile: Serializer, check: str, budget: Budget
) -> list[Problem]:
    error = probe(obj)
    if error is None:
        return []
    return _explain(probe, [(obj, name, error)], profile, check, budget)


def _explain(
    probe: Any,
    failing: list[tuple[Any, str, BaseException]],
    profile: Serializer,
    check: str,
    budget: Budget = DEFAULT_BUDGET,
) -> list[Problem]:
    """The leaves that explain each failing root; a root the walk cannot pin on any
    part of it (or that the walk itself chokes on) is reported whole with the
    serializer's own error, so a failure is never reported as clean."""
    walker = Walker(profile, probe.pickler, probe, budget)
    try:
        leaves = walker.walk(failing)
    except Exception as walk_error:  # a hostile object the walk itself cannot open
        leaves = [
            _whole(value, name, WalkFailed(error, walk_error)) for value, name, error in failing
        ]
    else:
        leaves.extend(
            _whole(value, name, error)
            for value, name, error in failing
            if not walker.found_bad(value)
        )
    return describe(leaves, check)


def _whole(value: Any, name: str, error: BaseException) -> Leaf:
    return Leaf(value, value, name, (name,), None, error)


def audit_payload(
    roots: Sequence[tuple[str, Any]], *, serializer: str = "pickle", protocol: int | None = None
) -> list[Problem]:
    """Audit the values one boundary call sends (`fn`, `args[0]`, ...) as one payload.

    The roots share one memo, so a bad value reachable from two of them (a
    bound method's instance also passed as an argument) is reported once.
    """
    profile = get_serializer(serializer, protocol)
    probe = DumpProbe(profile)
    failing = []
    for name, value in roots:
        error = probe(value)
        if error is not None:
            failing.append((value, name, error))
    if not failing:
        return []
    return _explain(probe, failing, profile, "dump")


def describe(leaves: list[Leaf], check: str) -> list[Problem]:
    """Turn walk leaves into Problems: type, rule, the serializer's message, source, fix."""
    finder = SourceFinder()
    problems = []
    for leaf in leaves:
        rule = None if leaf.too_deep else _rule_for(leaf, check)
        fix = get_rule(rule).fix if rule else None
        if leaf.too_deep:
            fix = _TOO_DEEP_FIX
        elif isinstance(leaf.error, WalkStopped):
            fix = _STOPPED_FIX
        elif rule is None and isinstance(leaf.error, ValueChanged):
            fix = _CHANGED_FIX
        subject = leaf.subject
        type_name = qualified_type_name(
            subject if issubclass(type(subject), type) else type(subject)
        )
        problems.append(
            Problem(
                path=leaf.path,
                type=type_name,
                rule=rule,
                error=_message(leaf.error),
                source=finder.locate(leaf.value, leaf.holder, leaf.segments, rule),
                fix=fix,
            )
        )
    return problems


def _rule_for(leaf: Leaf, check: str) -> str | None:
    value = leaf.value
    if isinstance(leaf.error, WalkStopped):
        return None
    if check == "spawn" and isinstance(leaf.error, LoadFailed) and _missing_in_worker(leaf):
        return "PA203"
    if check != "dump" and isinstance(leaf.error, LoadFailed):
        if issubclass(type(leaf.subject), BaseException):
            return "PA301"
        if _getattr_answered_a_lookup(value, leaf.error):
            return "PA302"
        return None
    if _getattr_answered_a_lookup(value, leaf.error):
        return "PA302"
    return rule_for_value(value)


def _getattr_answered_a_lookup(value: Any, error: BaseException) -> bool:
    """Whether the class's own `__getattr__` is what broke pickling or loading.

    The serializer looks up `__reduce_ex__`, `__getstate__` (Python 3.10 has no
    default one) and `__setstate__` on the instance; a `__getattr__` that does
    not refuse such names either recurses (on a loaded copy with no state yet),
    raises its own error (`KeyError: '__getstate__'`), or hands back something
    the serializer then calls. Decided from the type and the error alone: no
    attribute of the instance is read.
    """
    hook = _own_getattr(type(value))
    if hook is None:
        return False
    if isinstance(error, LoadFailed):
        return error.exception_type == "RecursionError" or _called_what_getattr_returned(
            value, error.cause
        )
    return _raised_inside(hook, error) or _called_what_getattr_returned(
        value, f"{type(error).__name__}: {error}"
    )


def _own_getattr(cls: type) -> types.FunctionType | None:
    for klass in cls.__mro__:
        hook = vars(klass).get("__getattr__")
        if hook is not None:
            return hook if isinstance(hook, types.FunctionType) else None
    return None


def _raised_inside(hook: types.FunctionType, error: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        trace = current.__traceback__
        while trace is not None:
            if trace.tb_frame.f_code is hook.__code__:
                return True
            trace = trace.tb_next
        current = current.__context__
    return False


def _called_what_getattr_returned(value: Any, message: str) -> bool:
    """`TypeError: 'X' object is not callable` for X itself: `__getattr__` returned the object."""
    return message == f"TypeError: {type(value).__name__!r} object is not callable"


def _missing_in_worker(leaf: Leaf) -> bool:
    """PA203 is a `__main__` definition the worker cannot find by name; any other
    load failure of a `__main__` class has the cause any module's class would."""
    error = leaf.error
    assert isinstance(error, LoadFailed)
    return error.exception_type == "AttributeError" and _defined_in_main(leaf.value)


def _defined_in_main(value: Any) -> bool:
    if issubclass(type(value), (types.FunctionType, type)):
        return getattr(value, "__module__", None) == "__main__"
    return type(value).__module__ == "__main__"


def _message(error: BaseException) -> str:
    if isinstance(error, (LoadFailed, ValueChanged, WalkStopped, WalkFailed)):
        return str(error)
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
