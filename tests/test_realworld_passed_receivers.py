"""A pool or queue handed to a helper as a parameter: the helper's calls on it are boundaries.

Helpers that take the executor or the result queue as an argument (`def submit_all(pool,
jobs)`, `Process(target=worker, args=(results, n))`) are the usual shape of parallel
code; the values they send are judged like values sent where the pool was made. Each
program is linted and also run under spawn, so the test shows the real outcome.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from error_text import LOCAL_OBJECT
from lint_helpers import lint_and_run

from pickle_audit.config import Config
from pickle_audit.lint.run import lint_paths

pytestmark = pytest.mark.timeout(120)

JOB = """
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor


class Job:
    def __init__(self, n):
        self.n = n
        self.lock = threading.Lock()


def square(job):
    return job.n**2
"""


def chains(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int, list[str]]]:
    """Rule, line and chain of every finding, paths relative to the program's folder."""
    monkeypatch.chdir(tmp_path)
    result = lint_paths([tmp_path], Config(), tmp_path, use_cache=False, jobs=1)
    return [(f.rule, f.line, [str(step) for step in f.chain]) for f in result.findings]


def test_a_pool_passed_through_two_helpers_makes_their_submit_a_boundary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    findings, run = lint_and_run(
        tmp_path,
        JOB,
        """
        def submit_one(pool, job):
            return pool.submit(square, job)


        def relay(job, pool):
            return submit_one(pool, job)


        def main():
            spawn = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(1, mp_context=spawn) as pool:
                try:
                    relay(Job(3), pool).result()
                except TypeError as error:
                    print(error)


        if __name__ == "__main__":
            main()
        """,
    )
    assert findings == [("PA105", 9, "error")]
    assert (run.returncode, run.stdout) == (0, "cannot pickle '_thread.lock' object\n"), run.stderr
    assert chains(tmp_path, monkeypatch) == [
        (
            "PA105",
            9,
            [
                "passed as `job` to relay() (program.py:28)",
                "passed as `job` to submit_one() (program.py:21)",
                "<- pool.submit(square, ...) (program.py:17)",
                "the process pool is passed as `pool` to submit_one() (program.py:21)",
                "the process pool is passed as `pool` to relay() (program.py:28)",
            ],
        )
    ]


def test_a_helper_never_handed_a_process_pool_is_not_a_boundary(tmp_path: Path) -> None:
    findings, run = lint_and_run(
        tmp_path,
        JOB,
        """
        from concurrent.futures import ThreadPoolExecutor


        def submit_one(pool, job):
            return pool.submit(square, job)


        if __name__ == "__main__":
            with ThreadPoolExecutor(1) as pool:
                print(submit_one(pool, Job(3)).result())
        """,
    )
    assert findings == []  # threads share the object: nothing is pickled
    assert (run.returncode, run.stdout) == (0, "9\n"), run.stderr


def test_a_queue_handed_to_a_process_target_makes_its_put_a_boundary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    findings, run = lint_and_run(
        tmp_path,
        JOB,
        """
        def produce(results, n):
            results.put(Job(n))
            results.close()
            results.join_thread()  # the feeder thread pickles the Job, and fails


        def main():
            spawn = multiprocessing.get_context("spawn")
            results = spawn.Queue()
            child = spawn.Process(target=produce, args=(results, 2))
            child.start()
            try:
                results.get(timeout=10)
            except Exception as error:
                print(type(error).__name__)
            child.join(30)


        if __name__ == "__main__":
            main()
        """,
    )
    assert findings == [("PA105", 9, "error")]
    # the child's feeder thread cannot pickle the Job: it prints why, nothing arrives
    assert (run.returncode, run.stdout) == (0, "Empty\n"), run.stderr
    assert "TypeError: cannot pickle '_thread.lock' object" in run.stderr
    assert chains(tmp_path, monkeypatch)[0][2] == [
        "<- results.put(...) (program.py:17)",
        "the process queue is handed as `results` to"
        " spawn.Process(target=produce, ...) (program.py:25)",
    ]


def test_a_parameter_shadows_a_module_level_pool_of_the_same_name(tmp_path: Path) -> None:
    findings, run = lint_and_run(
        tmp_path,
        JOB,
        """
        from concurrent.futures import ThreadPoolExecutor


        def in_threads(pool, job):
            return pool.submit(square, job)


        if __name__ == "__main__":
            spawn = multiprocessing.get_context("spawn")
            with ThreadPoolExecutor(1) as threads:
                print(in_threads(threads, Job(3)).result())
            with ProcessPoolExecutor(1, mp_context=spawn) as pool:
                print(pool.submit(abs, -16).result())
        """,
    )
    assert findings == []
    assert (run.returncode, run.stdout) == (0, "9\n16\n"), run.stderr


def test_a_pool_passed_to_the_classes_own_helper_method(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    findings, run = lint_and_run(
        tmp_path,
        JOB,
        """
        class Runner:
            def run(self, n):
                spawn = multiprocessing.get_context("spawn")
                with ProcessPoolExecutor(1, mp_context=spawn) as pool:
                    try:
                        return self._submit(pool, Job(n)).result()
                    except TypeError as error:
                        return str(error)

            def _submit(self, executor, job):
                return executor.submit(square, job)


        if __name__ == "__main__":
            print(Runner().run(2))
        """,
    )
    assert findings == [("PA105", 9, "error")]
    assert (run.returncode, run.stdout) == (0, "cannot pickle '_thread.lock' object\n"), run.stderr
    assert chains(tmp_path, monkeypatch)[0][2] == [
        "passed as `job` to self._submit() (program.py:21)",
        "<- executor.submit(square, ...) (program.py:26)",
        "the process pool is passed as `executor` to self._submit() (program.py:21)",
    ]


def test_a_lambda_handed_to_a_wrapper_method_named_submit(tmp_path: Path) -> None:
    findings, run = lint_and_run(
        tmp_path,
        """
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor


        class Farm:
            def __init__(self):
                spawn = multiprocessing.get_context("spawn")
                self._pool = ProcessPoolExecutor(1, mp_context=spawn)

            def submit(self, fn, *args):
                return self._pool.submit(fn, *args)

            def run(self, n):
                try:
                    return self.submit(lambda: n).result()
                except Exception as error:
                    return str(error)
                finally:
                    self._pool.shutdown()


        if __name__ == "__main__":
            print(Farm().run(3))
        """,
    )
    assert findings == [("PA201", 15, "error")]
    assert run.returncode == 0, run.stderr
    assert f"{LOCAL_OBJECT} 'Farm.run.<locals>.<lambda>'" in run.stdout
