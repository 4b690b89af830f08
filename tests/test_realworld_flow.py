"""Values that reach a pool through a comprehension, a partial's bound arguments, or
`a or B()`.

Patterns from public reports, in our own words: `pool.starmap(f, [(self, n) for n
in items])` ships `self` with every item; `pool.submit(partial(work, self), n)` ships
the instance the partial binds; `self.lock = lock or threading.Lock()` stores a lock
whichever side wins. Each program is linted and run under spawn.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lint_helpers import lint_and_run

pytestmark = pytest.mark.timeout(120)

STARMAP = """
import multiprocessing


def weight(core, n):
    return n * len(core.levels)


class Core:
    def __init__(self, table):
        self.levels = {levels}

    def run_all(self, items):
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            return pool.starmap(weight, [(self, n) for n in items])
"""

MAIN = """
if __name__ == "__main__":
    print(Core({1: "a", 2: "b"}).run_all([1, 2]))
"""


def test_self_in_the_items_of_a_comprehension_travels_with_every_item(tmp_path: Path) -> None:
    findings, run = lint_and_run(tmp_path, STARMAP.format(levels="table.keys()"), MAIN)
    assert findings == [("PA102", 10, "error")]
    assert "TypeError: cannot pickle 'dict_keys' object" in run.stderr


def test_the_same_comprehension_with_a_list_is_clean(tmp_path: Path) -> None:
    findings, run = lint_and_run(tmp_path, STARMAP.format(levels="list(table)"), MAIN)
    assert findings == []
    assert (run.returncode, run.stdout) == (0, "[2, 4]\n"), run.stderr


def test_the_instance_a_partial_binds_travels_and_or_keeps_both_sides(tmp_path: Path) -> None:
    findings, run = lint_and_run(
        tmp_path,
        """
        import functools
        import multiprocessing
        import threading
        from concurrent.futures import ProcessPoolExecutor


        def work(driver, n):
            return n


        class Driver:
            def __init__(self, lock=None):
                self.lock = lock or threading.Lock()

            def go(self):
                ctx = multiprocessing.get_context("spawn")
                with ProcessPoolExecutor(1, mp_context=ctx) as pool:
                    return pool.submit(functools.partial(work, self), 1).result()
        """,
        """
        if __name__ == "__main__":
            print(Driver().go())
        """,
    )
    assert findings == [("PA105", 13, "error")]
    assert "TypeError: cannot pickle '_thread.lock' object" in run.stderr
