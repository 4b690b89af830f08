"""A `multiprocessing.Manager()` proxy pickles what is stored into it and sends it to the
manager's process: `shared[key] = value`, `append`, `extend`, `insert`, `update`,
`setdefault`, and `put` on a manager queue. A dict view is no problem there: importing
`multiprocessing.managers` registers a reducer that sends views as lists. The proxies
themselves travel in pool tasks (unlike a plain `multiprocessing.Queue`). A proxy kept on
the instance (`self.totals = self.manager.dict()`) is judged the same way wherever the
class stores into it. Each program is linted, then run under spawn.
"""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest
from lint_helpers import project_findings, run_script, write_project

pytestmark = pytest.mark.timeout(300)

SHARING = """
import multiprocessing
import sys
import threading
from multiprocessing import Manager


def stored_view(rows):
    with Manager() as manager:
        shared = manager.dict()
        shared["keys"] = rows.keys()
        return dict(shared)


def stored_lock(rows):
    with Manager() as manager:
        shared = manager.dict()
        shared["rows"] = list(rows)
        shared["lock"] = threading.RLock()
        return dict(shared)


def appended_lock(rows):
    with Manager() as manager:
        log = manager.list()
        log.append("fine")
        log.append(threading.Lock())
        return list(log)


def queued_generator(rows):
    with Manager() as manager:
        queue = manager.Queue()
        queue.put(x for x in rows)
        return queue.get()


def updated_lambda(rows):
    manager = multiprocessing.Manager()
    table = manager.dict()
    try:
        table.update(first=lambda: 1)
        return dict(table)
    finally:
        manager.shutdown()


def plain_dict(rows):
    plain = {}
    plain["keys"] = rows.keys()
    return sorted(plain["keys"])


def count(queue, rows):
    queue.put(len(rows))


def proxies_in_tasks(rows):
    with Manager() as manager, multiprocessing.Pool(1) as pool:
        queue = manager.Queue()
        pool.apply(count, (queue, list(rows)))
        return queue.get()


class Tally:
    def __init__(self):
        self.manager = Manager()
        self.totals = self.manager.dict()
        self.notes = self.manager.list()
        self.local = []

    def add(self, name, rows):
        self.local.append(lambda: name)
        self.totals[name] = len(rows)
        self.totals["last"] = lambda: name
        self.notes.append(name)

    def note_lock(self):
        self.notes.extend(["fine", threading.Lock()])

    def remember(self, name):
        self.local.append(lambda: name)
        return len(self.local)


def attribute_proxies(rows):
    tally = Tally()
    try:
        tally.add("rows", rows)
        return dict(tally.totals)
    finally:
        tally.manager.shutdown()


def attribute_list_lock(rows):
    tally = Tally()
    try:
        tally.note_lock()
        return list(tally.notes)
    finally:
        tally.manager.shutdown()


def attribute_plain_list(rows):
    tally = Tally()
    try:
        return tally.remember("rows")
    finally:
        tally.manager.shutdown()


if __name__ == "__main__":
    multiprocessing.set_start_method("spawn")
    print(globals()[sys.argv[1]]({"a": 1, "b": 2}))
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path, {"share.py": textwrap.dedent(SHARING).lstrip()})


def test_what_is_stored_into_a_proxy_is_judged(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = project_findings(project, monkeypatch)
    assert [(f.rule, f.line, f.column, f.message) for f in found] == [
        (
            "PA105",
            18,
            9,
            "threading lock (threading.RLock) passed to shared[...] = ... cannot be pickled",
        ),
        (
            "PA105",
            26,
            9,
            "threading lock (threading.Lock) passed to log.append(...) cannot be pickled",
        ),
        ("PA104", 33, 9, "generator passed to queue.put(...) cannot be pickled"),
        ("PA101", 41, 9, "lambda passed to table.update(...) cannot be pickled"),
        ("PA101", 74, 9, "lambda passed to self.totals[...] = ... cannot be pickled"),
        (
            "PA105",
            78,
            9,
            "threading lock (threading.Lock) passed to self.notes.extend(...) cannot be pickled",
        ),
    ]
    assert [str(step) for step in found[0].chain] == ["<- shared[...] = ... (share.py:18)"]


def run(project: Path, function: str) -> subprocess.CompletedProcess[str]:
    return run_script(project, "share.py", function)


@pytest.mark.parametrize(
    ("function", "error"),
    [
        ("stored_lock", "cannot pickle '_thread.RLock' object"),
        ("appended_lock", "cannot pickle '_thread.lock' object"),
        ("queued_generator", "cannot pickle 'generator' object"),
        ("updated_lambda", "local object 'updated_lambda.<locals>.<lambda>'"),
        ("attribute_proxies", "local object 'Tally.add.<locals>.<lambda>'"),
        ("attribute_list_lock", "cannot pickle '_thread.lock' object"),
    ],
)
def test_each_flagged_store_fails_under_spawn(project: Path, function: str, error: str) -> None:
    result = run(project, function)
    assert result.returncode == 1
    assert error in result.stderr


def test_views_plain_dicts_and_proxies_in_tasks_are_left_alone(project: Path) -> None:
    assert run(project, "stored_view").stdout == "{'keys': ['a', 'b']}\n"
    assert run(project, "plain_dict").stdout == "['a', 'b']\n"
    assert run(project, "proxies_in_tasks").stdout == "2\n"
    # `self.local` is a plain list: the lambda appended to it stays in this process
    assert run(project, "attribute_plain_list").stdout == "1\n"
