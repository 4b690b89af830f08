"""audit(): every kind of bad leaf, in every kind of place, named by path, rule and type."""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import functools
import logging
import mmap
import multiprocessing.pool
import queue
import socket
import sqlite3
import subprocess
import sys
import threading
import types
import weakref
from pathlib import Path
from typing import ClassVar

import numpy
import pydantic
import pytest
from error_text import LOCAL_OBJECT

from pickle_audit import audit
from pickle_audit.catalog import get_rule

HERE = Path(__file__)


def line_of(marker: str) -> int:
    """1-based line of the first line of this file containing `marker`."""
    for number, text in enumerate(HERE.read_text().splitlines(), start=1):
        if marker in text and "line_of(" not in text:
            return number
    raise AssertionError(marker)


class Holder:
    def __init__(self, value):
        self.value = value  # holder-assignment
        self.fine = [1, 2, 3]


class Slotted:
    __slots__ = ("fine", "value")

    def __init__(self, value):
        self.value = value  # slotted-assignment
        self.fine = "ok"


class Worker:
    def __init__(self, value):
        self.value = value  # worker-assignment

    def run(self, item):
        return item


@dataclasses.dataclass(slots=True)
class SlotsPoint:
    x: object


class Model(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(arbitrary_types_allowed=True)
    handle: object


def module_function(x):
    return x


def make_local_instance():
    class Local:
        pass

    return Local()


def make_nested_function():
    def nested():
        return 1

    return nested


def make_generator():
    return (i for i in range(3))


def _popen():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process


# name -> (builder, expected qualified type, expected rule)
LEAF_KINDS = {
    "dict_keys": (lambda: {"a": 1}.keys(), "builtins.dict_keys", "PA102"),
    "dict_values": (lambda: {"a": 1}.values(), "builtins.dict_values", "PA102"),
    "dict_items": (lambda: {"a": 1}.items(), "builtins.dict_items", "PA102"),
    "odict_keys": (
        lambda: collections.OrderedDict(a=1).keys(),
        "builtins.odict_keys",
        "PA102",
    ),
    "lambda": (lambda: lambda x: x, "builtins.function", "PA101"),
    "nested_function": (make_nested_function, "builtins.function", "PA103"),
    "generator": (make_generator, "builtins.generator", "PA104"),
    "lock": (threading.Lock, "_thread.lock", "PA105"),
    "rlock": (threading.RLock, "_thread.RLock", "PA105"),
    "condition": (threading.Condition, "threading.Condition", "PA105"),
    "semaphore": (threading.Semaphore, "threading.Semaphore", "PA105"),
    "event": (threading.Event, "threading.Event", "PA105"),
    "barrier": (lambda: threading.Barrier(2), "threading.Barrier", "PA105"),
    "queue": (queue.Queue, "queue.Queue", "PA105"),
    "file": (lambda: open(HERE, encoding="utf-8"), "_io.TextIOWrapper", "PA105"),  # noqa: SIM115
    "socket": (socket.socket, "socket.socket", "PA105"),
    "sqlite3": (lambda: sqlite3.connect(":memory:"), "sqlite3.Connection", "PA105"),
    "popen": (_popen, "subprocess.Popen", "PA105"),
    "executor": (
        lambda: concurrent.futures.ThreadPoolExecutor(1),
        "concurrent.futures.thread.ThreadPoolExecutor",
        "PA105",
    ),
    "pool": (
        lambda: multiprocessing.pool.ThreadPool(1),
        "multiprocessing.pool.ThreadPool",
        "PA105",
    ),
    "handler": (logging.StreamHandler, "logging.StreamHandler", "PA105"),
    "mmap": (lambda: mmap.mmap(-1, 16), "mmap.mmap", "PA105"),
    "memoryview": (lambda: memoryview(b"abc"), "builtins.memoryview", "PA105"),
    "local_class": (make_local_instance, f"{__name__}.make_local_instance.<locals>.Local", "PA106"),
    "module": (lambda: types, "builtins.module", "PA108"),
    "weakref": (lambda: weakref.ref(Worker), "weakref.ReferenceType", "PA108"),
    "mappingproxy": (lambda: types.MappingProxyType({}), "builtins.mappingproxy", "PA108"),
}


def _close(value):
    if isinstance(value, multiprocessing.pool.Pool):
        value.terminate()
    elif isinstance(value, concurrent.futures.Executor):
        value.shutdown()
    elif hasattr(value, "close") and not isinstance(value, types.GeneratorType):
        value.close()


@pytest.mark.parametrize("kind", sorted(LEAF_KINDS))
def test_every_leaf_kind_held_in_an_attribute(kind):
    builder, type_name, rule = LEAF_KINDS[kind]
    value = builder()
    try:
        report = audit(Holder(value), name="task")
    finally:
        _close(value)
    assert not report.ok
    assert report.size is None
    assert len(report.problems) == 1, report.format()
    problem = report.problems[0]
    assert problem.path == "task.value"
    assert problem.type == type_name
    assert problem.rule == rule
    assert problem.fix == get_rule(rule).fix
    assert problem.error  # the serializer's own words, checked per kind below
    if kind in ("lambda", "nested_function"):
        code = value.__code__
        assert problem.source == f"tests/{HERE.name}:{code.co_firstlineno}"
    else:
        assert problem.source == f"tests/{HERE.name}:{line_of('# holder-assignment')}"


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("dict_keys", "TypeError: cannot pickle 'dict_keys' object"),
        ("lock", "TypeError: cannot pickle '_thread.lock' object"),
        ("generator", "TypeError: cannot pickle 'generator' object"),
        ("module", "TypeError: cannot pickle 'module' object"),
        ("nested_function", f"AttributeError: {LOCAL_OBJECT}"),
    ],
)
def test_error_is_the_serializers_own_message(kind, message):
    report = audit(Holder(LEAF_KINDS[kind][0]()))
    assert report.problems[0].error.startswith(message)


CONTAINERS = {
    "attribute": (Holder, "obj.value", "# holder-assignment"),
    "slot": (Slotted, "obj.value", "# slotted-assignment"),
    "list": (lambda v: [1, "two", v], "obj[2]", None),
    "tuple": (lambda v: (None, v), "obj[1]", None),
    "dict_value": (lambda v: {"ok": 1, "bad": v}, "obj['bad']", None),
    "nested": (lambda v: {"jobs": [Holder(1), Holder((0, v))]}, "obj['jobs'][1].value[1]", None),
    "bound_method": (lambda v: Worker(v).run, "obj.__self__.value", "# worker-assignment"),
    "partial_argument": (lambda v: functools.partial(module_function, v), "obj.args[0]", None),
    "partial_keyword": (
        lambda v: functools.partial(module_function, x=v),
        "obj.keywords['x']",
        None,
    ),
}


@pytest.mark.parametrize("container", sorted(CONTAINERS))
@pytest.mark.parametrize("kind", ["dict_keys", "lock", "local_class"])
def test_leaf_path_in_every_container(container, kind):
    wrap, path, marker = CONTAINERS[container]
    builder, type_name, rule = LEAF_KINDS[kind]
    report = audit(wrap(builder()))
    assert [(p.path, p.type, p.rule) for p in report.problems] == [(path, type_name, rule)]
    expected_source = f"tests/{HERE.name}:{line_of(marker)}" if marker else None
    assert report.problems[0].source == expected_source


def test_bad_dict_key_uses_angle_brackets_and_its_position():
    lock = threading.Lock()
    table = {"fine": 1, lock: "value"}
    report = audit(table, name="table")
    # the second key in iteration order: a repr may be cut short or shared by two keys
    assert [(p.path, p.rule) for p in report.problems] == [("table<#1>", "PA105")]
    assert report.problems[0].resolve(table) is lock


def test_partial_over_a_lambda_names_its_func():
    report = audit(functools.partial(lambda x: x, 1), name="fn")
    assert [(p.path, p.rule) for p in report.problems] == [("fn.func", "PA101")]


def test_two_distinct_bad_leaves_are_both_reported_in_walk_order():
    task = Holder({"a": 1}.keys())
    task.fine = [threading.Lock()]
    report = audit(task, name="task")
    assert [(p.path, p.rule) for p in report.problems] == [
        ("task.value", "PA102"),
        ("task.fine[0]", "PA105"),
    ]


def test_shared_bad_leaf_is_reported_once():
    lock = threading.Lock()
    report = audit([Holder(lock), Holder(lock), {"again": lock}])
    assert [p.path for p in report.problems] == ["obj[0].value"]


def test_cycles_terminate_and_report_each_leaf_once():
    first, second = Holder(None), Holder(None)
    first.value = [second, {"x": 1}.keys()]
    second.value = first  # first -> second -> first
    report = audit(first, name="root")
    assert [(p.path, p.rule) for p in report.problems] == [("root.value[1]", "PA102")]


def test_clean_object_reports_nothing_and_its_size():
    import pickle

    value = {"jobs": [Holder(i) for i in range(5)], "fn": module_function}
    report = audit(value)
    assert report.ok
    assert report.problems == []
    assert report.size == len(pickle.dumps(value))
    assert report.format() == f"obj pickles with pickle ({report.size} bytes)"


def test_unknown_kind_keeps_the_serializers_message_and_no_rule():
    class_without_rule = type("Frozen", (), {"__reduce__": lambda self: 42})
    report = audit(Holder(class_without_rule()), name="task")
    [problem] = report.problems
    assert problem.path == "task.value"
    assert problem.rule is None
    assert problem.fix is None
    assert "__reduce__ must return a string or tuple" in problem.error


def test_dataclass_numpy_and_pydantic_values_are_named_by_field():
    report = audit(
        {
            "array": numpy.array([1, threading.Lock()], dtype=object),
            "point": SlotsPoint(x={}.keys()),
            "model": Model(handle=queue.Queue()),
        }
    )
    assert [(p.path, p.rule) for p in report.problems] == [
        ("obj['array'][1]", "PA105"),
        ("obj['point'].x", "PA102"),
        ("obj['model'].handle", "PA105"),
    ]


def test_format_lists_every_problem_with_source_and_fix():
    report = audit(Holder({"a": 1}.keys()), name="task")
    line = line_of("# holder-assignment")
    assert report.format() == "\n".join(
        [
            "task cannot cross a process boundary with pickle: 1 problem",
            "  task.value  dict_keys  PA102",
            "      TypeError: cannot pickle 'dict_keys' object",
            f"      source: tests/{HERE.name}:{line}",
            "      fix: store list(...) or tuple(...) instead of the view",
        ]
    )


class Counted:
    """Counts how often pickling reduces it, to see how often the walk re-pickles it."""

    reductions: ClassVar[dict[int, int]] = {}

    def __reduce__(self):
        Counted.reductions[id(self)] = Counted.reductions.get(id(self), 0) + 1
        return (Counted, ())


class Link:
    def __init__(self, next_link):
        self.sibling = Counted()
        self.next = next_link


def test_a_failing_chain_is_walked_in_linear_time():
    chain = Link(lambda: 0)
    for _ in range(150):
        chain = Link(chain)
    Counted.reductions.clear()
    report = audit(chain, name="head")
    [problem] = report.problems
    assert problem.rule == "PA101"
    assert problem.path.startswith("head.next.next") and problem.path.endswith(".next.next")
    assert "...<" in problem.path  # 151 levels, the middle counted rather than spelled
    # every sibling is pickled at most twice (the failed whole attempt, its own probe),
    # never once per level above it
    assert len(Counted.reductions) == 151
    assert max(Counted.reductions.values()) <= 2


def test_a_list_in_list_chain_is_followed_to_every_leaf_at_its_bottom():
    first, second = (lambda: 0), (lambda: 1)
    chain: object = [1, "x", first, (2, second)]
    above = ""
    for level in range(50):  # lists of one, and tuples with atoms beside the chain
        chain, above = ([chain], "[0]" + above) if level % 3 else (("a", chain, 4.0), "[1]" + above)
    report = audit(chain, name="chain")
    assert [(p.path, p.rule) for p in report.problems] == [
        (f"chain{above}[2]", "PA101"),
        (f"chain{above}[3][1]", "PA101"),
    ]
    assert [p.resolve(chain) for p in report.problems] == [first, second]


def test_a_shared_bad_list_in_a_chain_is_reported_once():
    shared = [lambda: 0]
    chain = [[[shared]], shared]
    report = audit(chain, name="chain")
    assert [(p.path, p.rule) for p in report.problems] == [("chain[0][0][0][0]", "PA101")]
