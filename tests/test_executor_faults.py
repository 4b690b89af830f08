"""Process backend faults with real worker processes: each fails only its own task."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest
from executor_helpers import (
    crash_until_marker,
    dict_keys_result,
    exit_with,
    kill_self,
    pid_of_worker,
    raise_two_argument_error,
    raise_value_error,
    segfault,
    sleep_for,
    square,
    wait_gone,
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

TESTS = Path(__file__).resolve().parent
pytestmark = pytest.mark.timeout(60)


def run_around(executor: Executor, fn, *args, label: str):
    """Submit squares, the faulty task, more squares; return (faulty future, squares ok?)."""
    before = [executor.submit(square, i) for i in range(6)]
    faulty = executor.submit(fn, *args, label=label)
    after = [executor.submit(square, i) for i in range(6, 12)]
    assert [f.result() for f in before + after] == [i * i for i in range(12)]
    return faulty


def assert_usable_then_clean(executor: Executor, crashed_pids: list[int] = ()) -> None:
    assert executor.submit(square, 9, label="after").result() == 81
    assert wait_gone(list(crashed_pids)) == []
    pids = executor.worker_pids()
    assert len(pids) == 2
    executor.shutdown()
    assert wait_gone(pids) == []


@pytest.mark.parametrize(
    ("fn", "args", "exitcode", "cause"),
    [
        (exit_with, (1,), 1, "exited with code 1"),
        (segfault, (), -signal.SIGSEGV, "killed by SIGSEGV"),
        (kill_self, (signal.SIGKILL,), -signal.SIGKILL, "killed by SIGKILL"),
    ],
    ids=["os._exit", "sigsegv", "sigkill"],
)
def test_crashed_worker_fails_only_its_task(fn, args, exitcode, cause):
    executor = Executor("process", 2)
    pids_before = executor.worker_pids()
    faulty = run_around(executor, fn, *args, label="frag-7")
    error = faulty.exception()
    assert isinstance(error, WorkerCrashed)
    assert error.label == "frag-7"
    assert error.exitcode == exitcode
    assert f"task 'frag-7' {cause}" in str(error)
    replaced = set(pids_before) - set(executor.worker_pids())
    assert len(replaced) == 1
    assert_usable_then_clean(executor, list(replaced))


def test_retries_rerun_a_crashed_task(tmp_path):
    with Executor("process", 2, retries=1) as executor:
        future = executor.submit(crash_until_marker, str(tmp_path / "marker"), label="flaky")
        assert future.result() == "second attempt"
        assert (tmp_path / "marker").read_text() == "crashed once"


def test_exception_that_cannot_unpickle_is_converted():
    executor = Executor("process", 2)
    faulty = run_around(executor, raise_two_argument_error, label="frag-3")
    error = faulty.exception()
    assert isinstance(error, TaskError)
    assert error.label == "frag-3"
    assert isinstance(error.original, RemoteError)
    assert error.original.type_name == "executor_helpers.TwoArgumentError"
    assert "code 7: bad fragment" in error.original.message
    assert error.__cause__ is error.original
    assert "in raise_two_argument_error" in error.remote_traceback
    assert "TwoArgumentError: code 7: bad fragment" in error.remote_traceback
    assert_usable_then_clean(executor)


def test_picklable_exception_arrives_as_the_original():
    with Executor("process", 2) as executor:
        error = executor.submit(raise_value_error, "no basis", label="frag-1").exception()
    assert isinstance(error, TaskError)
    assert type(error.original) is ValueError
    assert error.original.args == ("no basis",)
    assert error.__cause__ is error.original
    assert "task 'frag-1' raised ValueError: no basis" in str(error)
    assert "raise ValueError(text)" in error.remote_traceback


def test_unpicklable_result_names_the_leaf():
    executor = Executor("process", 2)
    faulty = run_around(executor, dict_keys_result, label="frag-5")
    error = faulty.exception()
    assert isinstance(error, TaskError)
    assert error.label == "frag-5"
    assert "the result of task 'frag-5' cannot be pickled" in str(error)
    assert "result['energies']" in str(error)
    assert "dict_keys" in str(error)
    assert_usable_then_clean(executor)


@pytest.mark.parametrize("audit", ["first", "all", "off"])
def test_unpicklable_argument_raises_at_submit_with_the_path(audit):
    with Executor("process", 2, audit=audit) as executor:
        assert executor.submit(square, 3).result() == 9  # the shape is now audited
        with pytest.raises(PayloadError) as raised:
            executor.submit(square, {"fragments": {1: 2}.keys()}, label="frag-2")
        assert executor.submit(square, 4).result() == 16
    error = raised.value
    assert error.label == "frag-2"
    assert "task['args'][0]['fragments']" in error.report
    assert "dict_keys" in error.report
    assert "task 'frag-2' cannot be sent to a worker (pickle)" in str(error)


def test_hung_task_times_out_and_its_worker_is_replaced():
    executor = Executor("process", 2, timeout=1.0)
    hung = executor.submit(sleep_for, 60, label="hung")
    pid = executor.submit(pid_of_worker).result()  # the other worker
    others = [executor.submit(square, i) for i in range(8)]
    hung_pid = (set(executor.worker_pids()) - {pid}).pop()
    started = time.monotonic()
    error = hung.exception()
    assert time.monotonic() - started < 5
    assert isinstance(error, TaskTimeout)
    assert error.label == "hung"
    assert "exceeded its timeout of 1.0 s" in str(error)
    assert [f.result() for f in others] == [i * i for i in range(8)]
    assert_usable_then_clean(executor, [hung_pid])


def test_cancel_drops_pending_work_and_stops_every_worker():
    executor = Executor("process", 2)
    running = [executor.submit(sleep_for, 30, label=f"long-{i}") for i in range(2)]
    pending = [executor.submit(square, i) for i in range(20)]
    pids = executor.worker_pids()
    deadline = time.monotonic() + 20
    while not all(f.running() for f in running) and time.monotonic() < deadline:
        time.sleep(0.02)
    started = time.monotonic()
    executor.shutdown(cancel=True)
    assert time.monotonic() - started < 5
    assert all(f.cancelled() for f in pending)
    for future in running:
        assert isinstance(future.exception(), ExecutorShutdown)
    assert wait_gone(pids) == []
    with pytest.raises(ExecutorShutdown):
        executor.submit(square, 1)


def test_failing_initializer_fails_tasks_with_the_reason():
    with Executor("process", 2, initializer=raise_value_error, initargs=("no xtb",)) as executor:
        error = executor.submit(square, 2, label="first").exception()
    assert isinstance(error, ExecutorShutdown)
    assert "the worker initializer failed" in str(error)
    assert "ValueError: no xtb" in str(error)


DRIVER = """
import sys
import time
sys.path.insert(0, {tests!r})
from executor_helpers import sleep_for
from pickle_audit.executor import Executor

if __name__ == "__main__":
    executor = Executor("process", 2, start_method=(sys.argv[1:] or [None])[0])
    futures = [executor.submit(sleep_for, 30, label=f"job-{{i}}") for i in range(10)]
    print(" ".join(map(str, executor.worker_pids())), flush=True)
    {ending}
"""


def start_driver(tmp_path: Path, ending: str, *args: str) -> tuple[subprocess.Popen, list[int]]:
    script = tmp_path / "driver.py"
    script.write_text(textwrap.dedent(DRIVER.format(tests=str(TESTS), ending=ending)))
    driver = subprocess.Popen(
        [sys.executable, str(script), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, like a job in a terminal
    )
    worker_pids = [int(pid) for pid in driver.stdout.readline().split()]
    assert len(worker_pids) == 2
    time.sleep(0.3)  # both workers are inside sleep_for
    descendants = [p.pid for p in psutil.Process(driver.pid).children(recursive=True)]
    assert set(worker_pids) <= set(descendants)
    return driver, descendants


@pytest.mark.parametrize("ctrl_c", ["driver only", "whole process group"])
def test_sigint_exits_promptly_and_leaves_no_child(tmp_path, ctrl_c):
    driver, descendants = start_driver(tmp_path, "[f.result() for f in futures]")
    started = time.monotonic()
    if ctrl_c == "driver only":
        driver.send_signal(signal.SIGINT)
    else:  # what Ctrl-C in a terminal does: every process of the job gets SIGINT
        os.killpg(driver.pid, signal.SIGINT)
    _, stderr = driver.communicate(timeout=15)
    assert time.monotonic() - started < 10
    assert driver.returncode != 0
    assert "KeyboardInterrupt" in stderr
    assert wait_gone(descendants) == []


@pytest.mark.parametrize("start_method", ["forkserver", "spawn", "fork"])
@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM])
def test_workers_end_within_a_second_of_their_parents_death(tmp_path, start_method, signum):
    """A worker must not run an hours-long QC job to its end for a parent that is gone."""
    driver, descendants = start_driver(tmp_path, "time.sleep(60)", start_method)
    driver.send_signal(signum)
    driver.wait(timeout=15)
    assert driver.returncode == -signum
    assert wait_gone(descendants, seconds=1.0) == []


def test_forgotten_executor_does_not_hang_interpreter_exit(tmp_path):
    driver, descendants = start_driver(
        tmp_path, "time.sleep(1.0); print('leaving without shutdown')"
    )
    stdout, _ = driver.communicate(timeout=15)
    assert "leaving without shutdown" in stdout
    assert driver.returncode == 0
    assert wait_gone(descendants) == []


HUNG_THREAD_DRIVER = """
import sys
import time
sys.path.insert(0, {tests!r})
from executor_helpers import sleep_for
from pickle_audit.executor import Executor, TaskTimeout

if __name__ == "__main__":
    if sys.argv[1] == "timeout":
        with Executor("thread", 2, timeout=0.5) as executor:
            hung = executor.submit(sleep_for, 3600, label="hung")
            print(type(hung.exception()).__name__, flush=True)
            print(executor.submit(sleep_for, 0.1).result(), flush=True)
        print("left the with block", flush=True)
    else:  # no timeout, never shut down: the interpreter exits anyway
        executor = Executor("thread", 2)
        hung = executor.submit(sleep_for, 3600, label="hung")
        time.sleep(0.3)
        print("leaving with a task still running", flush=True)
"""


@pytest.mark.parametrize(
    ("case", "printed"),
    [
        ("timeout", ["TaskTimeout", "slept", "left the with block"]),
        ("forgotten", ["leaving with a task still running"]),
    ],
)
def test_a_hung_thread_task_blocks_neither_the_with_block_nor_interpreter_exit(
    tmp_path, case, printed
):
    script = tmp_path / "hung.py"
    script.write_text(HUNG_THREAD_DRIVER.format(tests=str(TESTS)))
    done = subprocess.run(
        [sys.executable, str(script), case], capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout.splitlines()) == (0, printed), done.stderr


UNGUARDED = """
import math
import sys
sys.path.insert(0, {tests!r})
from pickle_audit.executor import Executor


def main():
    with Executor("process", 2{options}) as executor:
        print(executor.submit(math.sqrt, 9.0).result())


main()
"""


@pytest.mark.parametrize("start_method", ["forkserver", "spawn"])
def test_a_script_without_the_main_guard_fails_at_once_naming_the_line_and_fix(
    tmp_path, start_method
):
    script = tmp_path / "unguarded.py"
    options = f", start_method={start_method!r}"
    script.write_text(UNGUARDED.format(tests=str(TESTS), options=options))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        f"pickle_audit.executor.errors.MainModuleError: {script}:13 starts workers from the"
        ' main module\'s top level, outside `if __name__ == "__main__":`. Workers started by'
        f" {start_method} import unguarded.py again, which runs this line again in each of"
        ' them. Put the code that starts the work under `if __name__ == "__main__":`'
    )
    assert "died while starting" not in done.stderr


def test_the_same_script_under_fork_needs_no_guard(tmp_path):
    script = tmp_path / "unguarded.py"
    script.write_text(UNGUARDED.format(tests=str(TESTS), options=', start_method="fork"'))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (0, "3.0\n"), done.stderr


def test_a_script_read_from_stdin_fails_at_once_naming_the_fix():
    source = UNGUARDED.format(tests=str(TESTS), options="").replace(
        "\nmain()\n", '\nif __name__ == "__main__":\n    main()\n'
    )
    done = subprocess.run(
        [sys.executable, "-"], input=source, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        "pickle_audit.executor.errors.MainModuleError: this script was read from <stdin>, and"
        " workers started by forkserver import the main module again from its file. Save it"
        ' to a file and run `python script.py`, or pass start_method="fork" or'
        ' backend="thread"'
    )
