"""A `__getstate__` that copies the instance dict and drops what cannot travel.

The usual fix for "cannot pickle '_thread.lock' object" on an object sent to a
pool, written in our own words: the dropped attributes no longer travel, and
whatever else the instance holds still does, so it is still checked. Each
program is linted and run under spawn.

Reported publicly as "cannot pickle '_thread.lock' object" on objects sent to
a worker (aboul3la/Sublist3r#242, EnterpriseDB/barman#1184,
mailpile/moggie#14).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lint_helpers import lint_and_run

pytestmark = pytest.mark.timeout(120)

WORKER = """
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor


class Counter:
    def __init__(self, table):
        self.lock = threading.Lock()
        self.names = {NAMES}

    def __getstate__(self):
        state = self.__dict__.copy()
        del state["lock"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.lock = threading.Lock()

    def count(self, name):
        with self.lock:
            return sum(1 for known in self.names if known == name)
"""
MAIN = """
if __name__ == "__main__":
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2, mp_context=context) as pool:
        print(pool.submit(Counter({"a": 1}).count, "a").result())
"""


def test_a_dropped_lock_is_not_flagged_and_the_instance_travels(tmp_path: Path) -> None:
    findings, run = lint_and_run(tmp_path, WORKER.replace("{NAMES}", "list(table)"), MAIN)
    assert findings == [("PA202", 28, "warning")]  # a whole instance per task, nothing worse
    assert (run.returncode, run.stdout) == (0, "1\n")


def test_what_the_copy_keeps_is_still_checked(tmp_path: Path) -> None:
    findings, run = lint_and_run(tmp_path, WORKER.replace("{NAMES}", "table.keys()"), MAIN)
    assert findings == [("PA102", 9, "error"), ("PA202", 28, "error")]
    assert run.returncode == 1
    assert "cannot pickle 'dict_keys' object" in run.stderr


def test_a_getstate_of_another_shape_is_trusted(tmp_path: Path) -> None:
    opaque = WORKER.replace("{NAMES}", "table.keys()").replace(
        '        state = self.__dict__.copy()\n        del state["lock"]\n        return state\n',
        "        return {'names': list(self.names)}\n",
    )
    findings, run = lint_and_run(tmp_path, opaque, MAIN)
    assert findings == [("PA202", 26, "warning")]
    assert (run.returncode, run.stdout) == (0, "1\n")


GUARDED = """
import multiprocessing
import threading


class Guard:
    def __init__(self):
        self.lock = threading.Lock()


class Box:
    def __init__(self):
        self.items = [1, 2]
        self.guard = Guard()
        self.spare = Guard()

    def __getstate__(self):
        {GETSTATE}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.guard = self.spare = Guard()


def size(box):
    return len(box.items)
"""
SEND_BOX = """
if __name__ == "__main__":
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        print(pool.map(size, [Box()]))
"""


@pytest.mark.parametrize(
    "getstate",
    [
        'state = self.__dict__.copy()\n        del state["guard"], state["spare"]\n'
        "        return state",
        'return {"items": self.items}',
    ],
    ids=["copy-and-drop", "new-dict"],
)
def test_a_class_only_a_dropped_attribute_holds_does_not_travel(
    tmp_path: Path, getstate: str
) -> None:
    findings, run = lint_and_run(tmp_path, GUARDED.replace("{GETSTATE}", getstate), SEND_BOX)
    assert findings == []
    assert (run.returncode, run.stdout) == (0, "[2]\n")


def test_a_class_a_kept_attribute_holds_still_travels(tmp_path: Path) -> None:
    keeps_spare = 'state = self.__dict__.copy()\n        del state["guard"]\n        return state'
    findings, run = lint_and_run(tmp_path, GUARDED.replace("{GETSTATE}", keeps_spare), SEND_BOX)
    assert findings == [("PA105", 7, "error")]
    assert run.returncode == 1
    assert "cannot pickle '_thread.lock' object" in run.stderr
