"""The tracer judges multiprocessing's calls by the pickler they really use.

multiprocessing sends with its own `ForkingPickler`: stdlib pickle plus the reducers
registered in the process, which carry sockets and connections as file descriptors,
and dict views as lists once `multiprocessing.managers` has been imported. The tracer
audits with that pickler, so its verdict is the call's own; and it never imports
`multiprocessing.managers` itself, so tracing a script does not change what the
script's pools accept. Each script is run untraced and under `pickle-audit trace`.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(300)

VIEW_ONLY = """
import multiprocessing
import sys


def count(levels):
    return len(list(levels))


if __name__ == "__main__":
    table = {1: "a", 2: "b"}
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        print(pool.apply(count, (table.keys(),)))
"""

WITH_MANAGERS = """
import multiprocessing
import multiprocessing.managers
import socket
import threading


def count(levels):
    return len(list(levels))


def family(sock):
    return int(sock.family)


if __name__ == "__main__":
    table = {1: "a", 2: "b"}
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        print(pool.apply(count, (table.keys(),)))
        print(pool.apply(family, (socket.socket(),)))
    with multiprocessing.Manager() as manager:
        shared = manager.dict()
        shared["keys"] = table.keys()
        print(sorted(shared["keys"]))
        shared["lock"] = threading.Lock()
"""


def run(tmp_path: Path, body: str, *command: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "job.py").write_text(textwrap.dedent(body).lstrip())
    return subprocess.run(
        [sys.executable, *command, "job.py"],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
        check=False,
    )


TRACE = ("-m", "pickle_audit", "trace", "--keep-going")


def test_a_view_fails_traced_exactly_as_it_fails_untraced(tmp_path: Path) -> None:
    untraced = run(tmp_path, VIEW_ONLY)
    traced = run(tmp_path, VIEW_ONLY, *TRACE)
    assert untraced.returncode == traced.returncode == 1
    for result in (untraced, traced):
        assert "TypeError: cannot pickle 'dict_keys' object" in result.stderr
    assert "job.py:12: Pool.apply(...) sends a payload that cannot be pickled" in traced.stderr
    assert "args[0]  dict_keys  PA102" in traced.stderr


def test_what_the_registered_reducers_carry_is_not_reported(tmp_path: Path) -> None:
    untraced = run(tmp_path, WITH_MANAGERS)
    traced = run(tmp_path, WITH_MANAGERS, *TRACE)
    assert untraced.stdout == traced.stdout == "2\n2\n[1, 2]\n"  # the view, the socket
    assert untraced.returncode == traced.returncode == 1
    report = traced.stderr.splitlines()
    assert "job.py:24: Manager() proxy call(...) sends a payload that cannot be pickled" in (
        traced.stderr
    )
    assert [line.split()[:3] for line in report if "PA1" in line] == [
        ["args[1]", "_thread.lock", "PA105"]
    ]
    assert (
        report[-1] == "pickle-audit trace: 1 bad payload in 6 checked; job.py exited with status 1"
    )
