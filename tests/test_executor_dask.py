"""Dask backend against a real LocalCluster (one per module: it takes seconds to start)."""

from __future__ import annotations

import threading
import time

import pytest
from executor_helpers import (
    crash_once,
    dict_keys_result,
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
from pickle_audit.executor.dask import local_cluster

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def cluster():
    cluster = local_cluster(2)
    yield cluster
    cluster.close()


@pytest.fixture
def executor(cluster):
    with Executor("dask", address=cluster.scheduler_address) as executor:
        yield executor


def test_results_and_task_errors(executor):
    futures = [executor.submit(square, i, label=f"sq-{i}") for i in range(6)]
    failing = executor.submit(raise_value_error, "no SCF", label="bad")
    assert [f.result() for f in futures] == [0, 1, 4, 9, 16, 25]
    error = failing.exception()
    assert isinstance(error, TaskError)
    assert error.label == "bad"
    assert type(error.original) is ValueError
    assert "raise ValueError(text)" in error.remote_traceback


def test_unpicklable_exception_and_result_do_not_break_the_cluster(executor):
    raised = executor.submit(raise_two_argument_error, label="exc").exception()
    assert executor.submit(dict_keys_result).result()["energies"] == {"a": 1.0}.keys()
    returned = executor.submit(lock_holder, label="res").exception()
    assert isinstance(raised.original, RemoteError)
    assert "code 7: bad fragment" in str(raised)
    assert isinstance(returned, TaskError)
    assert "result['lock']" in str(returned)
    assert executor.submit(square, 3).result() == 9


def test_payload_audited_against_cloudpickle(executor):
    # cloudpickle ships a lambda fine; a lock it cannot
    assert executor.submit(lambda x: x + 1, 1).result() == 2
    with pytest.raises(PayloadError) as raised:
        executor.submit(square, threading.Lock(), label="locked")
    assert "task['args'][0]" in raised.value.report
    assert "(cloudpickle)" in str(raised.value)


def test_worker_death_fails_only_its_task(executor):
    others = [executor.submit(square, i) for i in range(8)]
    dying = executor.submit(exit_with, 1, label="frag-9")
    error = dying.exception(timeout=60)
    assert isinstance(error, WorkerCrashed)
    assert error.label == "frag-9"
    assert "the Dask worker running task 'frag-9' died" in str(error)
    assert [f.result(timeout=60) for f in others] == [i * i for i in range(8)]
    assert executor.submit(square, 5).result(timeout=60) == 25


def test_worker_death_behind_busy_workers_fails_only_its_task(executor):
    # both workers are busy when the dying task arrives; Dask would blame a crash
    # on every task assigned to that worker, so none may wait there behind it
    slow = [executor.submit(sleep_for, 0.3, label=f"slow-{i}") for i in range(4)]
    dying = executor.submit(exit_with, 1, label="frag-9")
    after = [executor.submit(square, i) for i in range(4)]
    assert isinstance(dying.exception(timeout=60), WorkerCrashed)
    assert [f.exception(timeout=60) for f in slow] == [None] * 4
    assert [f.result(timeout=60) for f in after] == [0, 1, 4, 9]


def test_cancelling_shutdown_fails_tasks_still_waiting_for_a_worker(cluster):
    executor = Executor("dask", address=cluster.scheduler_address)
    futures = [executor.submit(sleep_for, 1, label=f"slow-{i}") for i in range(6)]
    executor.shutdown(cancel=True)
    errors = [f.exception(timeout=60) for f in futures]
    assert {type(e) for e in errors} == {ExecutorShutdown}
    assert [e.label for e in errors] == [f"slow-{i}" for i in range(6)]


def test_timeout_reports_the_task(cluster):
    with Executor("dask", address=cluster.scheduler_address, timeout=0.5) as executor:
        error = executor.submit(sleep_for, 2, label="slow").exception()
        assert executor.submit(square, 2).result() == 4
    assert isinstance(error, TaskTimeout)
    assert error.label == "slow"
    assert error.timeout == 0.5


def test_initializer_runs_on_every_worker(cluster):
    with Executor(
        "dask",
        address=cluster.scheduler_address,
        initializer=set_environment,
        initargs=("PA_DASK_FLAG", "on"),
    ) as executor:
        values = {executor.submit(record_environment, "PA_DASK_FLAG").result() for _ in range(6)}
    assert values == {"on"}


def test_embedded_cluster_starts_and_stops():
    with Executor("dask", 1) as executor:
        assert executor.wait_ready(60)
        assert list(executor.map(square, range(4))) == [0, 1, 4, 9]


def test_arguments_that_look_like_dask_tasks_are_passed_as_they_are(executor):
    # a tuple starting with a callable is a task in a Dask graph; here it is just data
    assert executor.submit(len, (square, 3)).result() == 2
    assert executor.submit(str, ["square-0"]).result() == "['square-0']"


def test_the_scheduler_is_asked_for_its_threads_a_few_times_a_second_not_per_task(executor):
    """Many short tasks: one thread-count round trip per half second at most (each answer
    is kept that long), where asking on every submit and every result would be 400."""
    client = executor._backend._client
    asked = []
    real = client.scheduler_info

    def counting(*args, **kwargs):
        asked.append(time.monotonic())
        return real(*args, **kwargs)

    client.scheduler_info = counting
    try:
        started = time.monotonic()
        futures = [executor.submit(square, i) for i in range(200)]
        assert [f.result() for f in futures] == [i * i for i in range(200)]
        elapsed = time.monotonic() - started
    finally:
        del client.scheduler_info
    # two threads (submitting, settling) may both find the answer expired at once
    assert 1 <= len(asked) <= 2 * (elapsed / 0.5 + 1), (len(asked), elapsed)


def test_retries_rerun_a_crashed_task_on_a_scheduler_the_executor_did_not_start(cluster, tmp_path):
    address = cluster.scheduler_address
    with Executor("dask", address=address, retries=1) as executor:
        flaky = executor.submit(crash_once, str(tmp_path / "first"), label="flaky")
        assert flaky.result(timeout=60) == "second attempt"
    with Executor("dask", address=address) as executor:
        error = executor.submit(crash_once, str(tmp_path / "second"), label="flaky").exception(60)
    assert isinstance(error, WorkerCrashed)
    assert "the Dask worker running task 'flaky' died" in str(error)


def test_a_run_leaves_neither_its_plugin_nor_its_state_on_the_workers(cluster):
    from distributed import Client

    with Client(cluster.scheduler_address, set_as_default=False) as client:
        client.wait_for_workers(2, timeout=60)  # a worker killed by an earlier test is back
    with Executor(
        "dask",
        address=cluster.scheduler_address,
        initializer=remember,
        initargs=("run-1", "molecule"),
        finalizer=forget,
        finalargs=("run-1",),
    ) as executor:
        seen = {executor.submit(remembered).result()["run-1"] for _ in range(4)}
    assert seen == {"molecule"}
    with Client(cluster.scheduler_address, set_as_default=False) as client:
        client.wait_for_workers(2, timeout=60)
        plugins = client.run(lambda dask_worker: sorted(dask_worker.plugins))
        state = client.run(remembered)
    assert len(plugins) == 2
    assert [n for names in plugins.values() for n in names if n.startswith("pickle-audit")] == []
    assert list(state.values()) == [{}, {}]


def test_worker_state_on_dask_is_a_plugin_for_one_block(executor):
    with executor.worker_state(remember, ("scan", "geometry"), forget, ("scan",)):
        seen = {executor.submit(remembered).result().get("scan") for _ in range(4)}
    assert seen == {"geometry"}
    assert [executor.submit(remembered).result() for _ in range(2)] == [{}, {}]
