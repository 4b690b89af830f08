"""Values made by the project's own helpers: what a function or method returns is
judged where it is written, and the message says which helper returned it.

The pattern from public reports, in our own words: `self.levels = self.level_names(t)`
where the helper returns `t.keys()`, `self.log = open_log(path)`, a key function
built by a factory. Each program is linted and run under spawn.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lint_helpers import lint_and_run

from pickle_audit.config import Config
from pickle_audit.lint.run import lint_paths

pytestmark = pytest.mark.timeout(120)

PROGRAM = """
import multiprocessing
from concurrent.futures import ProcessPoolExecutor


def open_log(path):
    return open(path, "a")


def make_key():
    return lambda item: item[0]


class Run:
    def __init__(self, table):
        self.value = {assignment}

    def level_names(self, table):
        return table.keys()

    def level_list(self, table):
        return sorted(table)

    def energy(self, x):
        return x
"""

MAIN = """
if __name__ == "__main__":
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=ctx) as pool:
        print(pool.submit(Run({1: 2}).energy, 7).result())
"""


@pytest.mark.parametrize(
    ("assignment", "rule", "what", "error"),
    [
        (
            "self.level_names(table)",
            "PA102",
            "dict view returned by self.level_names()",
            "TypeError: cannot pickle 'dict_keys' object",
        ),
        (
            'open_log("run.log")',
            "PA105",
            "open file (open) returned by open_log()",
            "TextIOWrapper",  # the wording differs between Python versions
        ),
        (
            "make_key()",
            "PA101",
            "lambda returned by make_key()",
            "local object 'make_key.<locals>.<lambda>'",
        ),
    ],
    ids=["method-returns-view", "function-returns-file", "factory-returns-lambda"],
)
def test_what_a_helper_returns_is_judged_where_it_is_stored(
    tmp_path: Path, assignment: str, rule: str, what: str, error: str
) -> None:
    findings, run = lint_and_run(tmp_path, PROGRAM.format(assignment=assignment), MAIN)
    assert findings == [(rule, 15, "error"), ("PA202", 30, "error")]
    [stored, _task] = lint_paths([tmp_path], Config(), tmp_path, use_cache=False, jobs=1).findings
    assert stored.message == f"{what} stored on Run.value cannot be pickled"
    assert error in run.stderr


def test_a_helper_that_returns_a_list_is_clean(tmp_path: Path) -> None:
    findings, run = lint_and_run(
        tmp_path, PROGRAM.format(assignment="self.level_list(table)"), MAIN
    )
    assert findings == [("PA202", 30, "warning")]
    assert (run.returncode, run.stdout) == (0, "7\n"), run.stderr


def test_an_instance_a_factory_returns_is_judged_where_it_is_sent(tmp_path: Path) -> None:
    # `job = make_job(n)` (or `self.new_job(n)`): the class is what the factory returns
    findings, run = lint_and_run(
        tmp_path,
        """
        import multiprocessing
        import threading
        from concurrent.futures import ProcessPoolExecutor


        class Job:
            def __init__(self, n):
                self.n = n
                self.lock = threading.Lock()


        def make_job(n):
            return Job(n)


        def size(job):
            return job.n


        class Planner:
            def new_job(self, n):
                return make_job(n)

            def run(self):
                job = self.new_job(2)
                spawn = multiprocessing.get_context("spawn")
                with ProcessPoolExecutor(1, mp_context=spawn) as pool:
                    try:
                        return pool.submit(size, job).result()
                    except TypeError as error:
                        return str(error)


        if __name__ == "__main__":
            print(Planner().run())
        """,
    )
    assert findings == [("PA105", 9, "error")]
    assert (run.returncode, run.stdout) == (0, "cannot pickle '_thread.lock' object\n")
