"""The interceptor in-process: what it patches, restores, lets through and records."""

from __future__ import annotations

import concurrent.futures
import concurrent.futures.process
import multiprocessing.connection
import multiprocessing.managers
import multiprocessing.pool
import multiprocessing.process
import multiprocessing.queues
import sys
import threading

import pytest

from pickle_audit.trace.hooks import BOUNDARIES, Interceptor, PayloadRejected


def double(x):
    return 2 * x


def originals():
    return {
        (b.module, b.owner, b.method): vars(getattr(sys.modules[b.module], b.owner))[b.method]
        for b in BOUNDARIES
        if b.module in sys.modules
    }


def test_everything_patched_is_restored():
    before = originals()
    with Interceptor():
        patched = originals()
        assert all(patched[key] is not before[key] for key in before)
        assert (
            concurrent.futures.ProcessPoolExecutor.submit.__wrapped__
            is before[("concurrent.futures.process", "ProcessPoolExecutor", "submit")]
        )
    assert originals() == before


def test_restored_even_when_the_script_is_stopped():
    before = originals()
    with pytest.raises(PayloadRejected) as stopped, Interceptor():
        queue = multiprocessing.get_context("fork").SimpleQueue()
        queue.put(threading.Lock())
    assert originals() == before
    violation = stopped.value.violation
    assert violation.boundary == "SimpleQueue.put"
    assert violation.call_site == f"tests/test_trace_hooks.py:{line_of('queue.put(threading')}"
    assert [(p.path, p.rule) for p in violation.problems] == [("args[0]", "PA105")]


def test_a_wrong_call_gets_the_librarys_own_error():
    with Interceptor() as interceptor, concurrent.futures.ProcessPoolExecutor(1) as pool:
        with pytest.raises(TypeError, match=r"submit\(\) missing 1 required positional"):
            pool.submit()
        assert pool.submit(double, 21).result() == 42
    assert interceptor.result.payloads_checked == 2  # the constructor (initializer) and submit
    assert interceptor.result.violations == []


def test_keep_going_records_and_lets_the_real_call_fail_as_it_would():
    with (
        Interceptor(keep_going=True) as interceptor,
        concurrent.futures.ProcessPoolExecutor(1) as pool,
    ):
        future = pool.submit(double, threading.Lock())
        with pytest.raises(TypeError, match=r"cannot pickle '_thread\.lock' object"):
            future.result(timeout=60)
        assert pool.submit(double, 2).result(timeout=60) == 4  # the pool still works
    [violation] = interceptor.result.violations
    assert violation.boundary == "ProcessPoolExecutor.submit"
    assert interceptor.result.payloads_checked == 3  # the constructor and two submits


def line_of(marker: str) -> int:
    with open(__file__, encoding="utf-8") as source:
        lines = source.read().splitlines()
    return next(i for i, text in enumerate(lines, start=1) if marker in text)


def test_modules_imported_later_are_patched_on_import(monkeypatch):
    for name in [m for m in sys.modules if m == "loky" or m.startswith("loky.")]:
        monkeypatch.delitem(sys.modules, name)
    with Interceptor():
        import loky.process_executor

        submit = loky.process_executor.ProcessPoolExecutor.submit
        assert hasattr(submit, "__wrapped__")
    assert not hasattr(loky.process_executor.ProcessPoolExecutor.submit, "__wrapped__")
