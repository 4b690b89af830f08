"""Executor API: the same results and the same error types on every local backend."""

from __future__ import annotations

import threading
import time

import pytest
from executor_helpers import (
    exit_with,
    forget,
    lock_holder,
    raise_two_argument_error,
    raise_value_error,
    record_environment,
    remember,
    remembered,
    set_environment,
    sleep_for,
    square,
)

from pickle_audit.executor import (
    Executor,
    ExecutorShutdown,
    PayloadError,
    RemoteError,
    TaskError,
    TaskTimeout,
    WorkerCrashed,
)

pytestmark = pytest.mark.timeout(60)
LOCAL_BACKENDS = ["serial", "thread", "process"]


@pytest.mark.parametrize("backend", LOCAL_BACKENDS)
def test_submit_and_map_return_results_in_order(backend):
    with Executor(backend, 2) as executor:
        futures = [executor.submit(square, i, label=f"sq-{i}") for i in range(5)]
        assert [f.result() for f in futures] == [0, 1, 4, 9, 16]
        assert list(executor.map(square, range(7))) == [i * i for i in range(7)]


@pytest.mark.parametrize("backend", LOCAL_BACKENDS)
def test_task_exception_is_task_error_with_label_and_traceback(backend):
    with Executor(backend, 2) as executor:
        error = executor.submit(raise_value_error, "SCF did not converge", label="j1").exception()
        assert executor.submit(square, 5).result() == 25
    assert isinstance(error, TaskError)
    assert error.label == "j1"
    assert str(error).startswith("task 'j1' raised ValueError: SCF did not converge")
    assert isinstance(error.original, ValueError)
    assert error.__cause__ is error.original
    assert "raise ValueError(text)" in error.remote_traceback


@pytest.mark.parametrize("backend", LOCAL_BACKENDS)
def test_map_raises_the_first_failure_with_its_label(backend):
    with Executor(backend, 2) as executor:
        results = executor.map(raise_value_error, ["a", "b"], labels=["first", "second"])
        with pytest.raises(TaskError) as raised:
            list(results)
    assert raised.value.label == "first"


def test_default_labels_name_the_function_and_the_task_number():
    with Executor("serial") as executor:
        executor.submit(square, 1)
        error = executor.submit(raise_value_error, "x").exception()
    assert error.label == "raise_value_error#2"


def test_unpicklable_exception_only_converted_across_processes():
    with Executor("thread", 2) as executor:
        error = executor.submit(raise_two_argument_error, label="t").exception()
    assert type(error.original).__name__ == "TwoArgumentError"  # no boundary, nothing lost
    with Executor("process", 1) as executor:
        error = executor.submit(raise_two_argument_error, label="p").exception()
    assert isinstance(error.original, RemoteError)


def test_thread_and_serial_backends_do_not_audit_payloads():
    with Executor("thread", 2) as executor:
        assert executor.submit(len, {1: 2}.keys()).result() == 1
    with Executor("serial") as executor:
        lock = executor.submit(lock_holder).result()["lock"]
    assert type(lock) is type(lock_holder()["lock"])


def test_thread_timeout_fails_the_task_and_keeps_the_pool():
    with Executor("thread", 2, timeout=0.3) as executor:
        slow = executor.submit(sleep_for, 1.2, label="slow")
        fast = executor.submit(square, 3)
        started = time.monotonic()
        error = slow.exception()
        assert time.monotonic() - started < 1.0
        assert fast.result() == 9
    assert isinstance(error, TaskTimeout)
    assert error.label == "slow"
    assert error.timeout == 0.3
    assert "a thread cannot be killed" in str(error)


def test_initializer_runs_in_each_process_worker():
    with Executor(
        "process", 2, initializer=set_environment, initargs=("PA_TEST_FLAG", "set")
    ) as executor:
        assert executor.wait_ready(30)
        values = [executor.submit(record_environment, "PA_TEST_FLAG").result() for _ in range(4)]
    assert values == ["set"] * 4


def test_unpicklable_initializer_arguments_raise_at_construction():
    with pytest.raises(PayloadError) as raised:
        Executor("process", 1, initializer=set_environment, initargs=({}.keys(), "x"))
    assert "initializer[1][0]" in raised.value.report


def test_bytes_sent_counts_the_pickled_payloads():
    with Executor("process", 1) as executor:
        executor.submit(square, 3, label="a").result()
        first = executor.bytes_sent
        executor.submit(square, 4, label="b").result()
    assert 0 < first < 200
    assert executor.bytes_sent == 2 * first


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"backend": "gpu"}, "backend must be one of serial, thread, process, dask, not 'gpu'"),
        ({"backend": "process", "workers": 0}, "workers must be at least 1, not 0"),
        ({"backend": "thread", "timeout": -1}, "timeout must be a positive number"),
        ({"backend": "thread", "retries": -2}, "retries must be 0 or more, not -2"),
        ({"backend": "serial", "timeout": 5}, "timeout needs a thread, process or dask backend"),
        ({"backend": "thread", "audit": "x"}, "audit must be one of first, all, off, not 'x'"),
    ],
)
def test_bad_options_are_rejected_with_the_fix(options, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        Executor(**options).shutdown()


@pytest.mark.parametrize("backend", LOCAL_BACKENDS)
def test_submit_after_shutdown_raises(backend):
    executor = Executor(backend, 1)
    executor.shutdown()
    with pytest.raises(ExecutorShutdown):
        executor.submit(square, 1)


@pytest.mark.parametrize("backend", LOCAL_BACKENDS)
def test_plain_shutdown_finishes_every_submitted_task(backend):
    executor = Executor(backend, 2)
    futures = [executor.submit(sleep_for, 0.05, label=f"s{i}") for i in range(8)]
    executor.shutdown()
    assert [f.result(timeout=0) for f in futures] == ["slept"] * 8


def test_shutdown_twice_and_cancel_after_shutdown_are_harmless():
    executor = Executor("process", 1)
    assert executor.submit(square, 2).result() == 4
    executor.shutdown()
    executor.shutdown()
    executor.shutdown(cancel=True)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("backend", LOCAL_BACKENDS)
def test_worker_state_sets_every_worker_up_for_one_block_and_undoes_it(backend):
    with Executor(backend, 2) as executor:
        with executor.worker_state(remember, ("scan-1", "geometry 1"), forget, ("scan-1",)):
            seen = {executor.submit(remembered).result().get("scan-1") for _ in range(6)}
        after = [executor.submit(remembered).result() for _ in range(4)]
        with executor.worker_state(remember, ("scan-2", "geometry 2"), forget, ("scan-2",)):
            second = {executor.submit(remembered).result().get("scan-2") for _ in range(6)}
    assert seen == {"geometry 1"}
    assert second == {"geometry 2"}
    assert after == [{}] * 4


@pytest.mark.timeout(120)
def test_a_worker_started_during_the_block_is_set_up_too():
    with (
        Executor("process", 1) as executor,
        executor.worker_state(remember, ("run", "molecule"), forget, ("run",)),
    ):
        first_pid = executor.worker_pids()
        assert isinstance(executor.submit(exit_with, 1).exception(), WorkerCrashed)
        assert executor.submit(remembered).result() == {"run": "molecule"}
        assert executor.worker_pids() != first_pid


def test_worker_state_is_audited_like_an_initializer():
    with (
        Executor("process", 1) as executor,
        pytest.raises(PayloadError) as raised,
        executor.worker_state(print, (threading.Lock(),)),
    ):
        pass
    assert "initializer[1][0]" in raised.value.report
