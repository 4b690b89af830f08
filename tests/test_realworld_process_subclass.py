"""A `multiprocessing.Process` subclass is pickled whole when it starts under spawn.

The shape of many public reports ("cannot pickle '_thread.lock' object" from
`Popen._launch` on macOS and Windows): a worker class subclasses `Process`, keeps a
lock, a connection or a generator on `self`, and `start()` pickles it. Its queues
are fine (shared by inheritance), and so is what `run` sets, in the child.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lint_helpers import lint_and_run

pytestmark = pytest.mark.timeout(120)

WORKER = """
import multiprocessing
import threading


class Worker(multiprocessing.Process):
    def __init__(self, results):
        super().__init__()
        self.results = results
        self.guard = {0}
        self.seen = 0

    def run(self):
        self.guard = threading.Lock()  # made in the child: never pickled
        with self.guard:
            self.results.put(len(multiprocessing.current_process().name) > 0)
"""
MAIN = """
if __name__ == "__main__":
    multiprocessing.set_start_method("{method}")
    results = multiprocessing.Queue()
    worker = Worker(results)
    try:
        worker.start()
        print(results.get(timeout=30))
        worker.join(30)
    except TypeError as error:
        print(error)
"""


def test_a_lock_kept_on_a_process_subclass_fails_its_start(tmp_path: Path) -> None:
    findings, run = lint_and_run(
        tmp_path,
        WORKER.replace("self.seen = 0", "self.seen = threading.Lock()"),
        MAIN.format(method="spawn"),
    )
    assert findings == [("PA105", 10, "error")]
    assert (run.returncode, run.stdout) == (0, "cannot pickle '_thread.lock' object\n")


def test_queues_and_what_run_sets_are_fine(tmp_path: Path) -> None:
    findings, run = lint_and_run(tmp_path, WORKER, MAIN.format(method="spawn"))
    assert findings == []
    assert (run.returncode, run.stdout) == (0, "True\n"), run.stderr


def test_under_fork_nothing_is_pickled(tmp_path: Path) -> None:
    findings, run = lint_and_run(
        tmp_path,
        WORKER.replace("self.seen = 0", "self.seen = threading.Lock()"),
        MAIN.format(method="fork"),
    )
    assert findings == []
    assert (run.returncode, run.stdout) == (0, "True\n"), run.stderr


def test_a_subclass_nothing_starts_is_not_a_boundary(tmp_path: Path) -> None:
    findings, run = lint_and_run(
        tmp_path,
        WORKER.replace("self.seen = 0", "self.seen = threading.Lock()"),
        """
        if __name__ == "__main__":
            worker = Worker(multiprocessing.Queue())
            worker.run()  # in this process, as tests of a worker often do
            print(worker.results.get(timeout=30))
        """,
    )
    assert findings == []
    assert (run.returncode, run.stdout) == (0, "True\n"), run.stderr
