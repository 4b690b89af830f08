"""What code puts into a local list or dict after making it travels with it.

The shape of many public reports: an argument dict gets an open file handle
(`args["log"] = open(...)`) or a job list is built with `append` in a loop, and
the whole container then goes to a pool. Each program is linted and also run
under spawn, so the test shows the real error next to the finding.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from error_text import LOCAL_OBJECT, OPEN_FILE_ERROR
from lint_helpers import lint_and_run

pytestmark = pytest.mark.timeout(120)

HEADER = """
import multiprocessing
import os
import tempfile

SPAWN = multiprocessing.get_context("spawn")


def count(options):
    return options["n"]


def first(job):
    return job[1]
"""
IN_A_FOLDER = """
if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as folder:
        print(main(folder))
"""


def test_a_file_stored_into_an_options_dict_is_flagged_where_the_dict_is_sent(
    tmp_path: Path,
) -> None:
    findings, run = lint_and_run(
        tmp_path,
        HEADER,
        """
        def main(folder):
            options = {"n": 3}
            options["log"] = open(os.path.join(folder, "run.log"), "w")
            with SPAWN.Pool(1) as pool:
                try:
                    return pool.apply_async(count, (options,)).get(30)
                except TypeError as error:
                    return str(error)
                finally:
                    options["log"].close()
        """,
        IN_A_FOLDER,
    )
    assert findings == [("PA105", 21, "error")]
    assert (run.returncode, run.stdout) == (0, f"{OPEN_FILE_ERROR}\n"), run.stderr


def test_jobs_appended_in_a_loop_are_judged_as_the_map_items(tmp_path: Path) -> None:
    findings, run = lint_and_run(
        tmp_path,
        HEADER,
        """
        def main(folder):
            jobs = []
            for n in range(2):
                jobs.append((open(os.path.join(folder, f"{n}.txt"), "w"), n))
            with SPAWN.Pool(1) as pool:
                try:
                    return pool.map(first, jobs)
                except TypeError as error:
                    return str(error)
                finally:
                    for handle, _ in jobs:
                        handle.close()
        """,
        IN_A_FOLDER,
    )
    assert findings == [("PA105", 22, "error")]
    assert (run.returncode, run.stdout) == (0, f"{OPEN_FILE_ERROR}\n"), run.stderr


def test_plain_values_appended_and_updated_are_not_flagged(tmp_path: Path) -> None:
    findings, run = lint_and_run(
        tmp_path,
        HEADER,
        """
        def main(folder):
            jobs = []
            for n in range(2):
                jobs.append((os.path.join(folder, f"{n}.txt"), n))
            options = {}
            options.update(n=4, folder=folder)
            with SPAWN.Pool(1) as pool:
                return pool.map(first, jobs), pool.apply(count, (options,))
        """,
        IN_A_FOLDER,
    )
    assert findings == []
    assert (run.returncode, run.stdout) == (0, "([0, 1], 4)\n"), run.stderr


def test_a_lock_given_by_keyword_to_update_is_flagged(tmp_path: Path) -> None:
    findings, run = lint_and_run(
        tmp_path,
        HEADER,
        """
        import threading


        def main():
            options = dict()
            options.update(n=5, guard=threading.Lock())
            with SPAWN.Pool(1) as pool:
                try:
                    return pool.apply(count, (options,))
                except TypeError as error:
                    return str(error)


        if __name__ == "__main__":
            print(main())
        """,
    )
    assert findings == [("PA105", 24, "error")]
    assert (run.returncode, run.stdout) == (0, "cannot pickle '_thread.lock' object\n")


PIPELINE = """
import multiprocessing
from concurrent.futures import ProcessPoolExecutor


class Pipeline:
    def __init__(self):
        self.steps = []
        self.sizes = {}

    def add(self, step, size):
        self.steps.append(step)
        self.sizes[size] = size

    def add_offset(self, n):
        self.steps.append(lambda x: x + n)


def apply(pipeline, x):
    for step in pipeline.steps:
        x = step(x)
    return x
"""


def test_a_lambda_appended_to_an_attribute_travels_with_the_instance(tmp_path: Path) -> None:
    findings, run = lint_and_run(
        tmp_path,
        PIPELINE,
        """
        if __name__ == "__main__":
            pipeline = Pipeline()
            pipeline.add_offset(2)
            spawn = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(1, mp_context=spawn) as pool:
                try:
                    print(pool.submit(apply, pipeline, 1).result())
                except Exception as error:
                    print(error)
        """,
    )
    assert findings == [("PA101", 15, "error")]
    assert run.returncode == 0, run.stderr
    assert f"{LOCAL_OBJECT} 'Pipeline.add_offset.<locals>.<lambda>'" in run.stdout


def test_module_functions_appended_to_an_attribute_are_fine(tmp_path: Path) -> None:
    findings, run = lint_and_run(
        tmp_path,
        PIPELINE.replace("        self.steps.append(lambda x: x + n)\n", "        pass\n"),
        """
        if __name__ == "__main__":
            pipeline = Pipeline()
            pipeline.add(abs, 1)
            spawn = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(1, mp_context=spawn) as pool:
                print(pool.submit(apply, pipeline, -5).result())
        """,
    )
    assert findings == []
    assert (run.returncode, run.stdout) == (0, "5\n"), run.stderr
