"""Serializer profiles: a value is judged by the serializer that will really carry it."""

from __future__ import annotations

import functools
import sys
import threading

import pytest

from pickle_audit import audit
from pickle_audit.trace.serializers import SerializerUnavailable, get_serializer


def make_task():
    lock = threading.Lock()
    numbers = (i for i in range(3))
    names = {"a": 1}.keys()

    def task(x):
        return lock, numbers, names, x

    return task


class Job:
    def __init__(self, callback):
        self.callback = callback


def test_pickle_stops_at_the_nested_function_itself():
    report = audit(make_task(), name="fn")
    assert [(p.path, p.rule) for p in report.problems] == [("fn", "PA103")]


def test_cloudpickle_opens_closures_and_names_captured_variables():
    report = audit(Job(make_task()), name="job", serializer="cloudpickle")
    assert [(p.path, p.type, p.rule) for p in report.problems] == [
        ("job.callback.__closure__[lock]", "_thread.lock", "PA105"),
        ("job.callback.__closure__[numbers]", "builtins.generator", "PA104"),
    ]
    assert report.problems[0].error == "TypeError: cannot pickle '_thread.lock' object"
    task_line = make_task.__code__.co_firstlineno + 5  # `def task(x):`
    assert report.problems[0].source == f"tests/test_trace_serializers.py:{task_line}"


def test_dill_judges_by_dill_which_carries_locks_but_not_generators():
    report = audit(Job(make_task()), name="job", serializer="dill")
    assert [(p.path, p.rule) for p in report.problems] == [
        ("job.callback.__closure__[numbers]", "PA104")
    ]


GLOBAL_LOCK = threading.Lock()


def uses_global_lock():
    return GLOBAL_LOCK


def test_cloudpickle_follows_the_globals_a_function_uses():
    uses_global_lock.__module__ = "__main__"  # what cloudpickle ships by value
    try:
        report = audit(uses_global_lock, name="fn", serializer="cloudpickle")
    finally:
        uses_global_lock.__module__ = __name__
    assert [(p.path, p.rule) for p in report.problems] == [
        ("fn.__globals__['GLOBAL_LOCK']", "PA105")
    ]


@pytest.mark.parametrize("serializer", ["cloudpickle", "dill"])
def test_values_only_stdlib_pickle_rejects_pass_by_value_serializers(serializer):
    value = {
        "lambda": lambda x: x,
        "view": {"a": 1}.keys(),
        "partial": functools.partial(make_task()),
    }
    assert not audit(value).ok
    report = audit(value, serializer=serializer)
    if serializer == "cloudpickle":  # the partial's closure still holds a lock and a generator
        assert [p.path for p in report.problems] == [
            "obj['partial'].func.__closure__[lock]",
            "obj['partial'].func.__closure__[numbers]",
        ]
    else:
        assert [p.path for p in report.problems] == ["obj['partial'].func.__closure__[numbers]"]


def test_protocol_is_passed_to_the_pickler():
    assert audit([1, 2], protocol=2).size == len(__import__("pickle").dumps([1, 2], protocol=2))
    assert get_serializer("pickle", 3).protocol == 3


def test_unknown_serializer_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown serializer 'marshal'; choose one of: pickle"):
        audit(1, serializer="marshal")


def test_missing_cloudpickle_names_the_extra_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "cloudpickle", None)  # what `import` sees when absent
    with pytest.raises(SerializerUnavailable) as caught:
        audit(1, serializer="cloudpickle")
    assert str(caught.value) == (
        "serializer 'cloudpickle' is not installed: pip install 'pickle-audit[cloudpickle]'"
    )
