"""The rule catalogue: one record per kind of pickling problem.

Lint, trace, reports and docs all read these records, so a rule's id, name,
severity and fix text are written exactly once.
"""

from __future__ import annotations

import functools
import types
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    severity: Severity
    summary: str
    fix: str
    trace_only: bool = False  # only a run can tell (values that exist only at run time)


_RULES = (
    Rule(
        "PA000",
        "parse-error",
        "error",
        "the file could not be parsed, so it was not checked",
        "fix the syntax error, or exclude the file",
    ),
    Rule(
        "PA001",
        "unused-suppression",
        "warning",
        "a suppression comment that hides no finding, or names a rule that does not exist",
        "remove the comment, or the rule ids in it that no longer apply",
    ),
    Rule(
        "PA101",
        "lambda-value",
        "error",
        "a lambda stored on an instance or passed across a process boundary",
        "use a module-level function (def) instead of the lambda",
    ),
    Rule(
        "PA102",
        "dict-view",
        "error",
        "a dict view (.keys()/.values()/.items()) stored on an instance or passed across"
        " a boundary",
        "store list(...) or tuple(...) instead of the view",
    ),
    Rule(
        "PA103",
        "closure-value",
        "error",
        "a nested function or a partial over one stored on an instance or passed as a value",
        "move the function to module level and pass what it captures as arguments",
    ),
    Rule(
        "PA104",
        "generator-value",
        "error",
        "a generator stored on an instance or passed across a boundary",
        "materialise it with list(...) or store what creates it instead",
    ),
    Rule(
        "PA105",
        "resource-value",
        "error",
        "a thread or OS resource (lock, file, socket, connection, pool, handler) stored or passed",
        "create the resource in the worker, or drop it in __getstate__ and recreate it"
        " in __setstate__",
    ),
    Rule(
        "PA106",
        "local-class",
        "error",
        "an instance of a class defined inside a function stored or passed",
        "define the class at module level",
    ),
    Rule(
        "PA107",
        "cached-state",
        "warning",
        "functools.cached_property on a class that reaches a worker: the cached value travels"
        " with the instance",
        "drop the cached value in __getstate__, or compute it in the worker",
    ),
    Rule(
        "PA108",
        "module-or-weakref",
        "error",
        "a module object, weak reference or weak container, frame or mappingproxy stored or passed",
        "store the module's name (or a strong reference / plain dict) instead",
    ),
    Rule(
        "PA109",
        "inherited-only",
        "error",
        "a multiprocessing Queue, Lock, Event, Semaphore, Condition or Barrier in a task"
        " payload: multiprocessing shares these only with processes it starts",
        "hand it to the workers when they start (Process args, or a pool's initializer and"
        " initargs), or use a Manager() proxy",
    ),
    Rule(
        "PA201",
        "unpicklable-callable",
        "error",
        "the callable handed to a process boundary is a lambda, nested function, local class"
        " method or a partial over one",
        "pass a module-level function",
    ),
    Rule(
        "PA202",
        "bound-method-task",
        "warning",
        "a bound method handed to a process boundary pickles its whole instance per task",
        "submit a module-level function with only the data the task needs",
    ),
    Rule(
        "PA203",
        "main-guard-callable",
        "error",
        "a function or class defined under if __name__ == '__main__': handed to a boundary",
        "define it at module level, outside the __main__ guard",
    ),
    Rule(
        "PA204",
        "global-changed-after-import",
        "error",
        "a task reads a module global that the parent changed after import: workers started"
        " by spawn or forkserver import the module afresh and see another value",
        "pass the value to the task (or to the pool's initializer) instead of changing the"
        " global after import",
        trace_only=True,
    ),
    Rule(
        "PA301",
        "exception-init",
        "error",
        "an exception whose __init__ cannot be called with self.args: it pickles but fails"
        " to unpickle",
        "pass every __init__ argument to super().__init__(...), or define __reduce__",
    ),
    Rule(
        "PA302",
        "getattr-recursion",
        "error",
        "__getattr__ that reads instance state without guarding dunder/private names"
        " (unpickling recurses forever), or lets a KeyError out (unpickling fails)",
        "raise AttributeError for names starting with '_' before touching instance state",
    ),
)

RULES: MappingProxyType[str, Rule] = MappingProxyType({rule.id: rule for rule in _RULES})


def get_rule(rule_id: str) -> Rule:
    """Look a rule up by id, with an error that lists the valid ids."""
    try:
        return RULES[rule_id]
    except KeyError:
        raise KeyError(f"unknown rule id {rule_id!r}; known: {', '.join(RULES)}") from None


def expand_selector(selector: str) -> frozenset[str]:
    """Turn `PA1`, `PA10`, `PA102` or `ALL` into the rule ids it selects.

    Prefixes work the way ruff's do, so `--select PA1,PA202` means every PA1xx
    rule and PA202. A selector that matches no rule is an error, not a no-op.
    """
    token = selector.strip().upper()
    if token == "ALL":
        return frozenset(RULES)
    matched = frozenset(rule_id for rule_id in RULES if rule_id.startswith(token))
    if not token or not matched:
        raise KeyError(f"unknown rule id or prefix {selector!r}; known: {', '.join(RULES)}")
    return matched


# Runtime classification: which rule explains an unpicklable value. Types are
# matched by qualified name along the MRO, so classifying a value never imports
# the modules that define these types (and subclasses match too).
_RULE_BY_TYPE_NAME: MappingProxyType[str, str] = MappingProxyType(
    {
        **dict.fromkeys(
            (
                "builtins.dict_keys",
                "builtins.dict_values",
                "builtins.dict_items",
                "builtins.odict_keys",
                "builtins.odict_values",
                "builtins.odict_items",
            ),
            "PA102",
        ),
        **dict.fromkeys(("builtins.generator", "builtins.async_generator"), "PA104"),
        **dict.fromkeys(
            (
                "_thread.lock",
                "_thread.RLock",
                "threading._RLock",
                "threading.Condition",
                "threading.Semaphore",
                "threading.Event",
                "threading.Barrier",
                "queue.Queue",
                "_queue.SimpleQueue",
                "_io._IOBase",
                "_socket.socket",
                "sqlite3.Connection",
                "sqlite3.Cursor",
                "subprocess.Popen",
                "concurrent.futures._base.Executor",
                "multiprocessing.pool.Pool",
                "multiprocessing.connection.Connection",
                "logging.Handler",
                "mmap.mmap",
                "builtins.memoryview",
            ),
            "PA105",
        ),
        **dict.fromkeys(
            (
                "multiprocessing.synchronize.SemLock",
                "multiprocessing.queues.Queue",
                "multiprocessing.queues.SimpleQueue",
            ),
            "PA109",
        ),
        **dict.fromkeys(
            (
                "builtins.module",
                "weakref.ReferenceType",
                "weakref.ProxyType",
                "weakref.CallableProxyType",
                "builtins.mappingproxy",
            ),
            "PA108",
        ),
    }
)


def qualified_type_name(cls: type) -> str:
    """`module.QualName` of a class, the way problems and rules name types."""
    return f"{getattr(cls, '__module__', '?')}.{getattr(cls, '__qualname__', cls.__name__)}"


def rule_for_value(value: object) -> str | None:
    """The rule that explains why `value` cannot be pickled, or None if no rule does.

    Only type-level facts are read (never attributes of the instance), so hostile
    objects with `__getattr__` or side-effecting properties are safe to classify.
    """
    cls = type(value)  # never isinstance(): it reads a `__class__` the object may fake
    if cls is list or cls is tuple or cls is dict or cls is set or cls is frozenset:
        return None  # the containers every graph is made of: by identity, at no cost
    if issubclass(cls, type):
        return "PA106" if "<locals>" in getattr(value, "__qualname__", "") else None
    if issubclass(cls, (types.FunctionType, functools.partial)):
        return _rule_for_callable(value)
    for base in cls.__mro__:
        rule = _RULE_BY_TYPE_NAME.get(qualified_type_name(base))
        if rule is not None:
            return rule
    if "<locals>" in cls.__qualname__:
        return "PA106"
    return None


def _rule_for_callable(value: object) -> str | None:
    if issubclass(type(value), functools.partial):
        inner = _rule_for_callable(value.func)
        return "PA103" if inner in ("PA101", "PA103") else inner
    if not issubclass(type(value), types.FunctionType):
        return None
    if value.__name__ == "<lambda>":
        return "PA101"
    if "<locals>" in value.__qualname__:
        return "PA103"
    return None
