"""Globals a spawned worker sees differently: fingerprints, the functions followed, and a
real fresh-interpreter import of a real module."""

from __future__ import annotations

import functools
import importlib
import math
import sys
import threading
from dataclasses import dataclass

import numpy as np
import pytest

from pickle_audit.trace.divergence import (
    Divergence,
    ImportTimeValues,
    divergences,
    fingerprint,
    globals_read,
    worker_function,
)


@dataclass
class Settings:
    level: int
    names: tuple[str, ...]


def test_fingerprints_are_equal_exactly_when_a_worker_would_not_notice():
    assert fingerprint({"b": 1, "a": {3, 1, 2}}) == fingerprint({"a": {2, 3, 1}, "b": 1})
    assert fingerprint([1, 2]) != fingerprint((1, 2))
    assert fingerprint(1) != fingerprint(1.0) != fingerprint(True)
    assert fingerprint(math.nan) == fingerprint(float("nan"))
    assert fingerprint(Settings(1, ("x",))) == fingerprint(Settings(1, ("x",)))
    assert fingerprint(Settings(1, ("x",))) != fingerprint(Settings(2, ("x",)))
    assert fingerprint(np.arange(3.0)) == fingerprint(np.arange(3.0))
    assert fingerprint(np.arange(3.0)) != fingerprint(np.arange(3))
    assert fingerprint("x" * 10_000) != fingerprint("x" * 10_001)
    assert fingerprint(math.sqrt) == "ref:math.sqrt"


def test_what_cannot_be_described_is_never_called_divergent():
    assert fingerprint(threading.Lock()) is None
    assert fingerprint([1, threading.Lock()]) is None
    assert fingerprint(np.array([object()])) is None
    assert fingerprint(list(range(30_000))) is None  # over the budget


def test_the_main_module_has_one_name_in_the_parent_and_in_a_worker():
    class Local:
        pass

    Local.__module__ = "__mp_main__"
    shown_in_worker = fingerprint(Local)
    Local.__module__ = "__main__"
    assert fingerprint(Local) == shown_in_worker


class Task:
    def __call__(self, value):
        return value

    def run(self, value):
        return value


def plain(value, scale=1):
    return value * scale


def test_the_function_a_task_runs_is_found_through_wrappers():
    assert worker_function(functools.partial(plain, scale=2)) is plain
    assert worker_function(Task().run) is Task.run
    assert worker_function(Task()) is Task.__call__
    assert worker_function(len) is None


MODULE = """
import os

LEVEL = 1
TABLE = {"a": 1}
LOCK = __import__("threading").Lock()
if os.environ.get("PICKLE_AUDIT_TEST_REFUSE"):
    raise RuntimeError("refusing to import")


def helper():
    return TABLE["a"], LOCK


def task(value):
    return value * LEVEL + helper()[0] + len(str(value))
"""


@pytest.fixture
def tasks(tmp_path, monkeypatch):
    (tmp_path / "divergence_tasks.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("divergence_tasks")
    yield module
    sys.modules.pop("divergence_tasks", None)


def test_the_globals_read_include_the_users_helpers_but_not_builtins(tasks):
    read = [(function.__name__, name) for function, name in globals_read(tasks.task)]
    assert read == [("task", "LEVEL"), ("task", "helper"), ("helper", "TABLE"), ("helper", "LOCK")]


@pytest.mark.timeout(120)
def test_globals_changed_after_import_are_found_by_a_fresh_import(tasks, monkeypatch):
    assert divergences(tasks.task, ImportTimeValues()) == ([], [])
    monkeypatch.setattr(tasks, "LEVEL", 5)
    monkeypatch.setitem(tasks.TABLE, "a", 2)
    monkeypatch.setattr(tasks, "LOCK", threading.Lock())  # opaque: never reported
    found, failures = divergences(tasks.task, ImportTimeValues())
    source = f"{tasks.__file__}:{tasks.task.__code__.co_firstlineno}"
    helper = f"{tasks.__file__}:{tasks.helper.__code__.co_firstlineno}"
    assert failures == []
    assert found == [
        Divergence("task", source, "divergence_tasks", "LEVEL", "5", "1"),
        Divergence("helper", helper, "divergence_tasks", "TABLE", "{'a': 2}", "{'a': 1}"),
    ]


@pytest.mark.timeout(120)
def test_a_module_that_a_fresh_interpreter_cannot_import_is_named(tasks, monkeypatch):
    monkeypatch.setenv("PICKLE_AUDIT_TEST_REFUSE", "1")
    assert divergences(tasks.task, ImportTimeValues()) == (
        [],
        [
            "importing divergence_tasks as a spawned worker would failed:"
            " RuntimeError: refusing to import"
        ],
    )
