"""A decorator that returns a nested function without `functools.wraps` replaces the
module-level function with one pickle cannot find by name, so handing the decorated
function to a pool fails ("Can't pickle local object 'timed.<locals>.wrapper'"); with
`functools.wraps`, or a decorator that returns its argument, it pickles by name. The same
holds one level up, for a decorator factory (`@retried(2)`) whose decorator does either.

Reported publicly for decorators in typing and checking libraries
(dobarkod/typedecorator#3, kislyuk/ensure#29) and in SCOOP (soravux/scoop#52). The
program is our own; it is linted, then each task is run in a spawn pool.
"""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest
from lint_helpers import project_findings, run_script, write_project

pytestmark = pytest.mark.timeout(300)

TASKS = """
import functools
import multiprocessing
import sys
import time

CALLS = {}


def timed(function):
    def wrapper(*args):
        started = time.perf_counter()
        try:
            return function(*args)
        finally:
            CALLS[function.__name__] = time.perf_counter() - started

    return wrapper


def logged(function):
    @functools.wraps(function)
    def wrapper(*args):
        print("calling", function.__name__, file=sys.stderr)
        return function(*args)

    return wrapper


def registered(function):
    CALLS[function.__name__] = 0.0
    return function


@timed
def timed_square(value):
    return value * value


@logged
def logged_square(value):
    return value * value


@registered
def registered_square(value):
    return value * value


def run(task, values):
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.map(task, values)


def timed_run(values):
    return run(timed_square, values)


def logged_run(values):
    return run(logged_square, values)


def registered_run(values):
    return run(registered_square, values)


def retried(times):
    def decorate(function):
        def attempt(*args):
            for _ in range(times - 1):
                try:
                    return function(*args)
                except OSError:
                    pass
            return function(*args)

        return attempt

    return decorate


def labelled(label):
    def decorate(function):
        @functools.wraps(function)
        def call(*args):
            print(label, file=sys.stderr)
            return function(*args)

        return call

    return decorate


@retried(2)
def retried_square(value):
    return value * value


@labelled("square")
def labelled_square(value):
    return value * value


def retried_run(values):
    return run(retried_square, values)


def labelled_run(values):
    return run(labelled_square, values)


if __name__ == "__main__":
    print(globals()[sys.argv[1]]([1, 2, 3]))
"""


# a decorator factory: what `retried(2)` returns is the decorator that replaces the function
RETRIED = (
    "function retried_square, replaced by the nested function that @retried(...) returns"
    " without functools.wraps"
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path, {"tasks.py": textwrap.dedent(TASKS).lstrip()})


def test_only_the_function_a_decorator_replaces_is_flagged(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = project_findings(project, monkeypatch)
    assert [(f.rule, f.line, f.message, [str(s) for s in f.chain]) for f in found] == [
        (
            "PA201",
            55,
            "function timed_square, replaced by the nested function that @timed returns"
            " without functools.wraps, passed as `task` to run() reaches pool.map(task, ...)"
            " and cannot be pickled",
            ["passed as `task` to run() (tasks.py:55)", "<- pool.map(task, ...) (tasks.py:51)"],
        ),
        (
            "PA201",
            104,
            RETRIED
            + ", passed as `task` to run() reaches pool.map(task, ...) and cannot be pickled",
            ["passed as `task` to run() (tasks.py:104)", "<- pool.map(task, ...) (tasks.py:51)"],
        ),
    ]


def test_a_direct_pool_call_names_the_decorator_too(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tasks = project / "tasks.py"
    tasks.write_text(
        tasks.read_text().replace(
            "return run(timed_square, values)",
            "return multiprocessing.Pool(1).map(timed_square, values)",
        )
    )
    found = project_findings(project, monkeypatch)
    assert [(f.rule, f.line, f.message) for f in found] == [
        (
            "PA201",
            55,
            "function timed_square, replaced by the nested function that @timed returns"
            " without functools.wraps, handed to multiprocessing.Pool(...).map(timed_square,"
            " ...) cannot be pickled",
        ),
        (
            "PA201",
            104,
            RETRIED
            + ", passed as `task` to run() reaches pool.map(task, ...) and cannot be pickled",
        ),
    ]


def run(project: Path, function: str) -> subprocess.CompletedProcess[str]:
    return run_script(project, "tasks.py", function)


def test_the_flagged_task_fails_and_the_others_run_under_spawn(project: Path) -> None:
    failed = run(project, "timed_run")
    assert failed.returncode == 1
    assert "local object 'timed.<locals>.wrapper'" in failed.stderr
    assert run(project, "logged_run").stdout == "[1, 4, 9]\n"
    assert run(project, "registered_run").stdout == "[1, 4, 9]\n"
    failed = run(project, "retried_run")
    assert failed.returncode == 1
    assert "local object 'retried.<locals>.decorate.<locals>.attempt'" in failed.stderr
    assert run(project, "labelled_run").stdout == "[1, 4, 9]\n"
