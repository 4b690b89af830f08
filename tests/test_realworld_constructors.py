"""A value handed to a constructor that `__init__` stores (`self.transform = transform`)
travels with every instance that reaches a worker, and a bound method reached through
an attribute (`pool.map(self.scaler.apply, ...)`) ships the instance that attribute holds.

Reported publicly where a lambda handed to a transform class breaks DataLoader workers
under spawn (belskikh/kekas#26). The program is our own; it is linted, then each call is
run in a spawn pool.
"""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest
from lint_helpers import project_findings, run_script, write_project

pytestmark = pytest.mark.timeout(300)

PROGRAM = """
import multiprocessing
import sys


class Scaler:
    def __init__(self, transform, factor=2):
        self.transform = transform
        self.factor = factor

    def apply(self, value):
        return self.transform(value) * self.factor


class Runner:
    def __init__(self, scaler: Scaler):
        self.scaler = scaler

    def run(self, values):
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            return pool.map(self.scaler.apply, values)


class Unused:
    def __init__(self, hook):
        self.hook = hook


def square(value):
    return value * value


def with_lambda(values):
    return Runner(Scaler(lambda value: value + 1)).run(values)


def with_keys(values):
    return Runner(Scaler(square, factor={"a": 1}.keys())).run(values)


def with_function(values):
    Unused(lambda: None)  # never reaches a worker
    return Runner(Scaler(square, factor=3)).run(values)


if __name__ == "__main__":
    print(globals()[sys.argv[1]]([1, 2]))
"""

CHAIN = [
    "Scaler.{} is set from `{}` in __init__ (program.py:6)",
    "<- pool.map(self.scaler.apply, ...) (program.py:20)",
]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path, {"program.py": textwrap.dedent(PROGRAM).lstrip()})


def test_stored_arguments_and_the_attribute_instance_are_judged(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [
        (f.rule, f.line, f.column, f.message, [str(s) for s in f.chain])
        for f in project_findings(project, monkeypatch)
    ]
    assert rows == [
        (
            "PA202",
            20,
            20,
            "bound method self.scaler.apply handed to pool.map(self.scaler.apply, ...) pickles"
            " the whole Scaler instance with every task",
            ["<- pool.map(self.scaler.apply, ...) (program.py:20)"],
        ),
        (
            "PA101",
            33,
            19,
            "lambda passed as `transform` to Scaler() is stored on Scaler.transform and cannot"
            " be pickled",
            [CHAIN[0].format("transform", "transform"), CHAIN[1]],
        ),
        (
            "PA102",
            37,
            19,
            "dict view passed as `factor` to Scaler() is stored on Scaler.factor and cannot"
            " be pickled",
            [CHAIN[0].format("factor", "factor"), CHAIN[1]],
        ),
    ]


def run(project: Path, function: str) -> subprocess.CompletedProcess[str]:
    return run_script(project, "program.py", function)


def test_the_flagged_calls_fail_under_spawn_and_the_other_runs(project: Path) -> None:
    lambda_run = run(project, "with_lambda")
    assert lambda_run.returncode == 1
    assert "local object 'with_lambda.<locals>.<lambda>'" in lambda_run.stderr
    keys_run = run(project, "with_keys")
    assert keys_run.returncode == 1
    assert "cannot pickle 'dict_keys' object" in keys_run.stderr
    assert run(project, "with_function").stdout == "[3, 12]\n"
