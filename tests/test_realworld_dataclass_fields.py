"""A dataclass has no `def __init__` to read, yet its generated one stores every field:
`Job("a", lambda v: v)` keeps the lambda on `job.key`, and the instance fails to pickle
wherever it is sent. The fields are the parameters in declaration order (base fields
first); `ClassVar` and `field(init=False)` are none, `InitVar` is one that is not kept,
and `KW_ONLY` or `kw_only=True` make the rest keyword-only.

Reported publicly for dataclasses and pydantic models whose fields hold lambdas or
defaultdicts of lambdas (lsst/daf_butler#844). The program is our own; it is linted,
then each call is run in a spawn pool.
"""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest
from lint_helpers import lint_and_run, project_findings, run_script, write_project

pytestmark = pytest.mark.timeout(300)

JOBS = """
import dataclasses
import multiprocessing
import sys
import threading
from concurrent.futures import ProcessPoolExecutor
from dataclasses import KW_ONLY, InitVar, dataclass, field
from typing import Callable, ClassVar


@dataclass
class Job:
    name: str
    key: Callable
    retries: int = 1
    registry: ClassVar[dict] = {}


@dataclass
class GuardedJob(Job):
    _: KW_ONLY
    guard: object = None
    seed: InitVar[int] = 0

    def __post_init__(self, seed):
        self.retries += 0 if callable(seed) else seed


@dataclasses.dataclass(kw_only=True)
class Settings:
    label: str
    hook: object = None


@dataclass
class Derived:
    name: str
    size: int = field(init=False, default=0)
    transform: object = None


def run(job):
    return job.name


def spawn_pool():
    return ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))


def lambda_key():
    with spawn_pool() as pool:
        return pool.submit(run, Job("a", lambda v: v)).result()


def keyword_lock():
    with spawn_pool() as pool:
        return pool.submit(run, GuardedJob("b", len, 2, guard=threading.Lock())).result()


def init_var_lambda():
    with spawn_pool() as pool:
        return pool.submit(run, GuardedJob("c", len, seed=lambda: 1)).result()


def keyword_only_hook():
    with spawn_pool() as pool:
        return pool.submit(run, Settings(label="d", hook=lambda: 2)).result()


def after_init_false():
    with spawn_pool() as pool:
        return pool.submit(run, Derived("e", lambda: 3)).result()


def plain_fields():
    with spawn_pool() as pool:
        return pool.submit(run, Derived("f", len)).result()


if __name__ == "__main__":
    print(globals()[sys.argv[1]]())
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path, {"jobs.py": textwrap.dedent(JOBS).lstrip()})


def test_a_field_the_generated_init_stores_is_flagged_at_the_constructor_call(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = project_findings(project, monkeypatch)
    assert [(f.rule, f.line, f.column, f.message) for f in found] == [
        (
            "PA101",
            51,
            33,
            "lambda passed as `key` to Job() is stored on Job.key and cannot be pickled",
        ),
        (
            "PA105",
            56,
            33,
            "threading lock (threading.Lock) passed as `guard` to GuardedJob() is stored on"
            " GuardedJob.guard and cannot be pickled",
        ),
        (
            "PA101",
            66,
            33,
            "lambda passed as `hook` to Settings() is stored on Settings.hook and cannot"
            " be pickled",
        ),
        (
            "PA101",
            71,
            33,
            "lambda passed as `transform` to Derived() is stored on Derived.transform and"
            " cannot be pickled",
        ),
    ]
    assert [str(step) for step in found[1].chain] == [
        "GuardedJob.guard is a field the generated __init__ sets (jobs.py:21)",
        "<- pool.submit(run, ...) (jobs.py:56)",
        "the process pool is returned by spawn_pool() (jobs.py:45)",
    ]
    assert str(found[0].chain[0]) == "Job.key is a field the generated __init__ sets (jobs.py:13)"


def run(project: Path, function: str) -> subprocess.CompletedProcess[str]:
    return run_script(project, "jobs.py", function)


@pytest.mark.parametrize(
    ("function", "error"),
    [
        ("lambda_key", "local object 'lambda_key.<locals>.<lambda>'"),
        ("keyword_lock", "cannot pickle '_thread.lock' object"),
        ("keyword_only_hook", "local object 'keyword_only_hook.<locals>.<lambda>'"),
        ("after_init_false", "local object 'after_init_false.<locals>.<lambda>'"),
    ],
)
def test_each_flagged_instance_fails_under_spawn(project: Path, function: str, error: str) -> None:
    result = run(project, function)
    assert result.returncode == 1
    assert error in result.stderr


def test_an_init_var_and_plain_fields_travel(project: Path) -> None:
    # the InitVar lambda reaches __post_init__ only; it is not kept on the instance
    assert run(project, "init_var_lambda").stdout == "c\n"
    assert run(project, "plain_fields").stdout == "f\n"


def test_a_field_whose_default_factory_is_a_lock_class_is_flagged(tmp_path: Path) -> None:
    # `field(default_factory=threading.Lock)`: every instance is built holding a lock
    findings, run = lint_and_run(
        tmp_path,
        """
        import multiprocessing
        import threading
        from dataclasses import dataclass, field


        @dataclass
        class Settings:
            name: str
            guard: threading.Lock = field(default_factory=threading.Lock)
            tags: list = field(default_factory=list)


        if __name__ == "__main__":
            with multiprocessing.get_context("spawn").Pool(1) as pool:
                try:
                    pool.apply(len, ([Settings("a")],))
                except TypeError as error:
                    print(error)
        """,
    )
    assert findings == [("PA105", 9, "error")]
    assert (run.returncode, run.stdout) == (0, "cannot pickle '_thread.lock' object\n")
