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


FORK = multiprocessing.get_context("fork")


def test_a_wrong_call_gets_the_librarys_own_error():
    with Interceptor() as interceptor, concurrent.futures.ProcessPoolExecutor(1, FORK) as pool:
        with pytest.raises(TypeError, match=r"submit\(\) missing 1 required positional"):
            pool.submit()
        assert pool.submit(double, 21).result() == 42
    assert interceptor.result.payloads_checked == 1  # submit: a forked pool inherits the rest
    assert interceptor.result.violations == []


def test_keep_going_records_and_lets_the_real_call_fail_as_it_would():
    with (
        Interceptor(keep_going=True) as interceptor,
        concurrent.futures.ProcessPoolExecutor(1, FORK) as pool,
    ):
        future = pool.submit(double, threading.Lock())
        with pytest.raises(TypeError, match=r"cannot pickle '_thread\.lock' object"):
            future.result(timeout=60)
        assert pool.submit(double, 2).result(timeout=60) == 4  # the pool still works
    [violation] = interceptor.result.violations
    assert violation.boundary == "ProcessPoolExecutor.submit"
    assert interceptor.result.payloads_checked == 2  # the two submits


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


def hello() -> str:
    return "hello"


@pytest.mark.timeout(120)
def test_a_forked_child_inherits_its_target_and_initializer_so_nothing_is_audited():
    with Interceptor() as interceptor:
        child = FORK.Process(target=lambda: None)
        child.start()
        child.join(60)
        with concurrent.futures.ProcessPoolExecutor(1, FORK, initializer=lambda: None) as pool:
            assert pool.submit(hello).result(timeout=60) == "hello"
    assert child.exitcode == 0
    assert (interceptor.result.payloads_checked, interceptor.result.violations) == (1, [])


@pytest.mark.timeout(120)
@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_spawn_and_forkserver_pickle_the_target_and_say_so(method):
    context = multiprocessing.get_context(method)
    with pytest.raises(PayloadRejected) as stopped, Interceptor():
        context.Process(target=lambda: None).start()
    violation = stopped.value.violation
    assert (violation.boundary, violation.start_method) == ("Process.start", method)
    assert [(p.path, p.rule) for p in violation.problems] == [("fn", "PA101")]
    with pytest.raises(PayloadRejected) as stopped, Interceptor():
        multiprocessing.pool.Pool(1, initializer=lambda: None, context=context)
    assert stopped.value.violation.boundary == "Pool(initializer=...)"
    assert stopped.value.violation.start_method == method


@pytest.mark.timeout(120)
def test_another_default_start_method_for_one_run_leaves_the_choice_open():
    from pickle_audit.trace.start_methods import default_start_method, start_method_as_default

    before = default_start_method()
    with start_method_as_default("spawn"), Interceptor() as interceptor:
        with pytest.raises(PayloadRejected) as stopped:
            multiprocessing.Process(target=lambda: None).start()
        assert multiprocessing.get_start_method() == "spawn"
    assert stopped.value.violation.start_method == "spawn"
    with start_method_as_default("spawn"), Interceptor() as interceptor:
        multiprocessing.set_start_method("fork")  # a script may still choose, as there
        child = multiprocessing.Process(target=lambda: None)
        child.start()  # inherited: let through
        child.join(60)
    assert (child.exitcode, interceptor.result.payloads_checked) == (0, 0)
    assert default_start_method() == before
    with (
        pytest.raises(ValueError, match="unknown start method 'thread'"),
        start_method_as_default("thread"),
    ):
        pass
