"""Pools that a project's own factory builds are boundaries where they are used.

The pattern from public reports, in our own words: a helper (`make_pool()`, or a
method such as `self._executor()`) creates the process pool, and the code that
submits to it never names ProcessPoolExecutor. Each program is linted (with the
chain naming the factory) and run under spawn.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lint_helpers import lint_and_run

from pickle_audit.config import Config
from pickle_audit.lint.run import lint_paths

pytestmark = pytest.mark.timeout(120)

FACTORIES = """
import multiprocessing
from concurrent.futures import ProcessPoolExecutor


def spawn_pool(workers):
    ctx = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(workers, mp_context=ctx)


def make_pool(workers):
    return spawn_pool(workers)


class Expansion:
    def __init__(self, levels):
        self.levels = levels
        self.pool = self._executor()

    def _executor(self):
        return make_pool(1)

    def count(self):
        return self.pool.submit(len, {levels}).result()
"""


def test_a_dict_view_sent_to_a_pool_from_a_factory_is_flagged_and_fails(tmp_path: Path) -> None:
    findings, run = lint_and_run(
        tmp_path,
        FACTORIES.format(levels="self.levels.keys()"),
        """
        if __name__ == "__main__":
            with make_pool(1) as pool:
                print(pool.submit(len, [1, 2]).result())
            print(Expansion({1: "a", 2: "b"}).count())
        """,
    )
    assert findings == [("PA102", 23, "error")]
    assert run.stdout == "2\n"
    assert "TypeError: cannot pickle 'dict_keys' object" in run.stderr
    [finding] = lint_paths([tmp_path], Config(), tmp_path, use_cache=False, jobs=1).findings
    assert [str(step) for step in finding.chain] == [
        f"<- self.pool.submit(len, ...) ({finding.path}:23)",
        f"the process pool is returned by self._executor() ({finding.path}:19)",
        f"the process pool is returned by make_pool() ({finding.path}:10)",
        f"the process pool is returned by spawn_pool() ({finding.path}:5)",
    ]


def test_the_same_code_with_a_list_is_clean_and_runs(tmp_path: Path) -> None:
    findings, run = lint_and_run(
        tmp_path,
        FACTORIES.format(levels="list(self.levels)"),
        """
        if __name__ == "__main__":
            print(Expansion({1: "a", 2: "b"}).count())
        """,
    )
    assert findings == []
    assert (run.returncode, run.stdout) == (0, "2\n"), run.stderr


def test_a_factory_returning_a_thread_pool_is_no_boundary(tmp_path: Path) -> None:
    findings, run = lint_and_run(
        tmp_path,
        """
        from concurrent.futures import ThreadPoolExecutor


        def make_pool() -> ThreadPoolExecutor:
            return ThreadPoolExecutor(1)
        """,
        """
        if __name__ == "__main__":
            table = {1: "a"}
            with make_pool() as pool:
                print(pool.submit(len, table.keys()).result())
        """,
    )
    assert findings == []
    assert run.stdout == "1\n", run.stderr
