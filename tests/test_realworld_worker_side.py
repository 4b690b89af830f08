"""State that does not travel: what a task assigns once it runs in the worker.

The pattern from public reports, in our own words: a callable object (or the
instance behind a bound-method task) opens its lock, connection or cache the
first time it runs, in the worker, so the pickled instance never held it.
Flagging that attribute is a false alarm. Each program is linted and run under
spawn: quiet and clean where the state is made in the worker, flagged and
failing with the serializer's own error where the parent made it first.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lint_helpers import lint_and_run

pytestmark = pytest.mark.timeout(120)

SCORER = """
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor


class Scorer:
    def __init__(self, weight):
        self.weight = weight

    def __call__(self, item):
        self.open_lock()
        with self.lock:
            return item * self.weight

    def open_lock(self):
        self.lock = threading.Lock()
"""


def test_a_lock_made_by_the_task_method_in_the_worker_is_not_flagged(tmp_path: Path) -> None:
    findings, run = lint_and_run(
        tmp_path,
        SCORER,
        """
        if __name__ == "__main__":
            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(2, mp_context=ctx) as pool:
                print(list(pool.map(Scorer(3), [1, 2])))
        """,
    )
    assert findings == []
    assert run.stdout == "[3, 6]\n", run.stderr


def test_the_same_lock_made_by_the_parent_first_is_flagged_and_fails(tmp_path: Path) -> None:
    findings, run = lint_and_run(
        tmp_path,
        SCORER,
        """
        if __name__ == "__main__":
            ctx = multiprocessing.get_context("spawn")
            scorer = Scorer(3)
            scorer.open_lock()
            with ProcessPoolExecutor(2, mp_context=ctx) as pool:
                print(list(pool.map(scorer, [1, 2])))
        """,
    )
    assert findings == [("PA105", 16, "error")]
    assert "TypeError: cannot pickle '_thread.lock' object" in run.stderr


def test_a_connection_opened_by_a_bound_method_task_is_not_state(tmp_path: Path) -> None:
    """`pool.submit(self.run)` pickles the instance as it is; `run` connects in the worker.
    The bound-method warning stays (the instance is pickled per task), the error goes."""
    findings, run = lint_and_run(
        tmp_path,
        """
        import multiprocessing
        import sqlite3
        from concurrent.futures import ProcessPoolExecutor


        class Loader:
            def __init__(self, rows):
                self.rows = rows

            def run(self):
                self.connection = sqlite3.connect(":memory:")
                return self.connection.execute("select ?", (self.rows,)).fetchone()[0]

            def load_all(self):
                ctx = multiprocessing.get_context("spawn")
                with ProcessPoolExecutor(1, mp_context=ctx) as pool:
                    return pool.submit(self.run).result()
        """,
        """
        if __name__ == "__main__":
            print(Loader(7).load_all())
        """,
    )
    assert findings == [("PA202", 17, "warning")]
    assert run.stdout == "7\n", run.stderr


def test_a_property_the_task_reads_is_still_parent_side(tmp_path: Path) -> None:
    """A property may run on any attribute access, in the parent too: still flagged."""
    findings, run = lint_and_run(
        tmp_path,
        """
        import multiprocessing
        import threading
        from concurrent.futures import ProcessPoolExecutor


        class Counter:
            def __init__(self):
                self._lock = None

            @property
            def guard(self):
                if self._lock is None:
                    self._lock = threading.Lock()
                return self._lock

            def __call__(self, item):
                with self.guard:
                    return item + 1
        """,
        """
        if __name__ == "__main__":
            counter = Counter()
            print(counter.guard.locked())
            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(1, mp_context=ctx) as pool:
                print(list(pool.map(counter, [1])))
        """,
    )
    assert findings == [("PA105", 13, "error")]
    assert "TypeError: cannot pickle '_thread.lock' object" in run.stderr
