"""Hostile objects never crash or hang the audit, and are never mutated."""

from __future__ import annotations

import copy
import pickle
import threading
from typing import ClassVar

import pytest

from pickle_audit import audit


class RaisingReduce:
    def __init__(self):
        self.payload = [1, 2]

    def __reduce__(self):
        raise ValueError("refusing to be reduced")


class SelfForEveryName:
    """`__getattr__` returns the object itself for any missing name."""

    def __init__(self):
        self.data = {"k": 1}

    def __getattr__(self, name):
        return self


class RaisingEq:
    def __init__(self, value):
        self.value = value

    def __eq__(self, other):
        raise RuntimeError("== is not allowed")

    __hash__ = object.__hash__


class SideEffects:
    calls: ClassVar[list[str]] = []  # class attribute: not pickled with instances

    def __init__(self):
        self.lock = threading.Lock()
        self.items = [1, 2, 3]

    @property
    def expensive(self):
        SideEffects.calls.append("expensive")
        return [threading.Lock()]

    @property
    def items_view(self):
        SideEffects.calls.append("items_view")
        return {}.keys()


@pytest.mark.timeout(30)
def test_reduce_that_raises_is_a_leaf_with_its_message():
    report = audit({"ok": [1], "bad": RaisingReduce()}, name="task")
    [problem] = report.problems
    assert problem.path == "task['bad']"
    assert problem.type == f"{__name__}.RaisingReduce"
    assert problem.rule is None
    assert problem.error == "ValueError: refusing to be reduced"


@pytest.mark.timeout(30)
def test_getattr_returning_itself_neither_hangs_nor_crashes():
    hostile = SelfForEveryName()
    # Python 3.10 asks __getattr__ for __getstate__ while pickling and calls the
    # object it gets back; later Pythons only do that with __setstate__ on loading
    try:
        pickle.dumps(hostile)
    except TypeError:
        dump_fails, where = True, ""
    else:
        dump_fails, where = False, "pickles, but loading it back raises "
    report = audit([hostile, {}.keys()], roundtrip=True)
    assert [(p.path, p.rule) for p in report.problems] == [("obj[0]", "PA302")] * dump_fails + [
        ("obj[1]", "PA102")
    ]
    [problem] = audit(hostile, roundtrip=True).problems
    assert (problem.path, problem.type, problem.rule) == (
        "obj",
        f"{__name__}.SelfForEveryName",
        "PA302",
    )
    assert problem.error == f"{where}TypeError: 'SelfForEveryName' object is not callable"


@pytest.mark.timeout(30)
def test_eq_that_raises_does_not_break_the_round_trip_comparison():
    value = {"a": RaisingEq([1, 2]), "b": [RaisingEq("x")]}
    report = audit(value, roundtrip=True)
    assert report.ok, report.format()
    changed = RaisingEq(threading.Lock())
    report = audit([changed], name="v")
    assert [(p.path, p.rule) for p in report.problems] == [("v[0].value", "PA105")]


@pytest.mark.timeout(60)
def test_100000_deep_nested_list_is_reported_not_raised():
    deep: list = []
    cursor = deep
    for _ in range(100_000):
        cursor.append([])
        cursor = cursor[0]
    cursor.append(lambda: 0)  # and one genuinely bad leaf at the bottom
    report = audit({"deep": deep, "fine": [1]}, name="tree")
    assert [(p.path, p.type, p.rule) for p in report.problems[:1]] == [
        ("tree['deep']", "builtins.list", None)
    ]
    assert report.problems[0].error.startswith("RecursionError: maximum recursion depth exceeded")
    assert "recursion limit" in report.problems[0].fix
    bottom = report.problems[1]
    assert bottom.rule == "PA101"
    assert bottom.path.startswith("tree['deep'][0][0]")
    assert "...<" in bottom.path and bottom.path.endswith("[0][0][0]")
    assert len(report.problems) == 2


@pytest.mark.timeout(30)
def test_properties_with_side_effects_are_never_called():
    SideEffects.calls.clear()
    report = audit(SideEffects(), name="obj", roundtrip=False)
    assert [(p.path, p.rule) for p in report.problems] == [("obj.lock", "PA105")]
    assert SideEffects.calls == []
    SideEffects.calls.clear()


@pytest.mark.timeout(30)
def test_audited_objects_are_never_mutated():
    original = {
        "holder": SideEffects(),
        "deep": [[[{"k": {1, 2}}]]],
        "hostile": SelfForEveryName(),
        "raising": RaisingReduce(),
    }
    snapshot = pickle.dumps({k: v for k, v in original.items() if k in ("deep",)})
    before = {
        "holder": dict(vars(original["holder"])),
        "hostile": copy.copy(vars(original["hostile"])),
        "raising": copy.copy(vars(original["raising"])),
    }
    audit(original, roundtrip=True)
    assert pickle.dumps({"deep": original["deep"]}) == snapshot
    assert vars(original["holder"]) == before["holder"]
    assert vars(original["hostile"]) == before["hostile"]
    assert vars(original["raising"]) == before["raising"]
    assert SideEffects.calls == []


@pytest.mark.timeout(30)
def test_hostile_repr_does_not_break_paths():
    class BadRepr:
        def __repr__(self):
            raise RuntimeError("no repr")

        def __hash__(self):
            return 1

    key = BadRepr()  # a local class: the key itself is the bad leaf
    table = {key: 1}
    report = audit(table, name="m")
    # named by position, so the repr is never called and the path leads back to the key
    assert [(p.path, p.rule) for p in report.problems] == [("m<#0>", "PA106")]
    assert report.problems[0].resolve(table) is key
