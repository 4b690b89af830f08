"""Boundaries written indirectly, as real code writes them, each linted and run under spawn.

A pool method bound to a name first, a `Process` class taken from a spawn
context at module level, and an instance with `__call__` as the task: all
pickle the same things as the direct spelling.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lint_helpers import lint_and_run

from pickle_audit.config import Config
from pickle_audit.lint.run import lint_paths

pytestmark = pytest.mark.timeout(120)


def messages(project: Path) -> list[str]:
    return [f.message for f in lint_paths([project], Config(), project, jobs=1).findings]


def test_a_pool_method_bound_to_a_name_is_still_a_boundary(tmp_path: Path) -> None:
    findings, run = lint_and_run(
        tmp_path,
        """
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor


        def run(values):
            def double(value):
                return 2 * value

            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(2, mp_context=context) as pool:
                submit = pool.submit
                return [submit(double, v).result() for v in values]
        """,
        """
        if __name__ == "__main__":
            print(run([1, 2]))
        """,
    )
    assert findings == [("PA201", 12, "error")]
    assert messages(tmp_path) == [
        "nested function double handed to submit(double, ...) cannot be pickled"
    ]
    assert run.returncode == 1
    assert "local object" in run.stderr


def test_a_process_class_taken_from_a_context_keeps_its_start_method(tmp_path: Path) -> None:
    findings, run = lint_and_run(
        tmp_path,
        """
        import multiprocessing

        SpawnProcess = multiprocessing.get_context("spawn").Process


        def watch(path):
            def follow():
                print(path)

            watcher = SpawnProcess(target=follow)
            watcher.start()
            watcher.join(60)
            return watcher.exitcode
        """,
        """
        if __name__ == "__main__":
            print(watch("job.log"))
        """,
    )
    assert findings == [("PA201", 10, "error")]
    assert messages(tmp_path) == [
        "nested function follow handed to SpawnProcess(target=follow) cannot be pickled"
        " when the process starts (start method 'spawn')"
    ]
    assert run.returncode == 1
    assert "local object" in run.stderr


def test_a_callable_instance_as_the_task_carries_its_attributes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    findings, run = lint_and_run(
        tmp_path,
        """
        import multiprocessing


        class Scale:
            def __init__(self, table):
                self.levels = table.keys()
                self.factor = len(table)

            def __call__(self, value):
                return value * self.factor
        """,
        """
        if __name__ == "__main__":
            scale = Scale({"a": 1, "b": 2})
            with multiprocessing.get_context("spawn").Pool(2) as pool:
                print(pool.map(scale, [1, 2]))
        """,
    )
    assert findings == [("PA102", 6, "error")]
    monkeypatch.chdir(tmp_path)
    [finding] = lint_paths([tmp_path], Config(), tmp_path, jobs=1).findings
    assert [str(step) for step in finding.chain] == ["<- pool.map(scale, ...) (program.py:16)"]
    assert run.returncode == 1
    assert "cannot pickle 'dict_keys' object" in run.stderr
