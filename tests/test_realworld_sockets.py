"""multiprocessing's own pickler sends a socket as a duplicated file descriptor (its
reducer, registered for `socket.socket`, shares the descriptor with the receiving
process), and multiprocess and loky (joblib's default backend) register the same
reducer. A socket in a pool
task, or on an instance that is one, therefore travels, although `pickle.dumps` of
it fails: flagging it there would be a false alarm. Plain cloudpickle, as Dask uses
it, has no such reducer, and a socket sent to a Dask worker fails ("cannot pickle
'socket' object").

Reported publicly where a socket reached a Dask submission through the object it
was held by (NVIDIA/cuml#5850). The programs are our own; each is linted, then run.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from lint_helpers import project_findings, run_script, write_project

pytestmark = pytest.mark.timeout(300)

SHARED = """
import multiprocessing
import socket
import sys
from concurrent.futures import ProcessPoolExecutor


class Endpoint:
    def __init__(self):
        self.sock = socket.socket()

    def family(self):
        return int(self.sock.family)


def family(sock):
    return int(sock.family)


def describe(endpoint):
    return endpoint.family()


def pool_task():
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(family, (socket.socket(),))


def executor_instance():
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=spawn) as executor:
        return executor.submit(describe, Endpoint()).result()


def loky_instance():
    from loky import get_reusable_executor

    return get_reusable_executor(1, reuse=False).submit(describe, Endpoint()).result()


def multiprocess_task():
    import multiprocess

    with multiprocess.get_context("spawn").Pool(1) as pool:
        return pool.apply(family, (socket.socket(),))


def joblib_task():
    from joblib import Parallel, delayed

    return Parallel(n_jobs=2)(delayed(family)(socket.socket()) for _ in range(2))[0]


if __name__ == "__main__":
    print(globals()[sys.argv[1]]())
"""

DASK = """
import socket
import sys

from distributed import Client, LocalCluster


class Endpoint:
    def __init__(self):
        self.sock = socket.socket()


def describe(endpoint):
    return int(endpoint.sock.family)


def run(client: Client):
    return client.submit(describe, Endpoint()).result()


if __name__ == "__main__":
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster, Client(cluster) as client:
        print(run(client))
"""


@pytest.fixture
def shared(tmp_path: Path) -> Path:
    return write_project(tmp_path, {"shared.py": textwrap.dedent(SHARED).lstrip()})


def test_sockets_sent_by_multiprocessing_and_loky_are_not_flagged(
    shared: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert project_findings(shared, monkeypatch) == []


@pytest.mark.parametrize(
    ("function", "needs"),
    [
        ("pool_task", "multiprocessing"),
        ("executor_instance", "multiprocessing"),
        ("loky_instance", "loky"),
        ("multiprocess_task", "multiprocess"),
        ("joblib_task", "joblib"),
    ],
)
def test_each_socket_really_reaches_the_worker(shared: Path, function: str, needs: str) -> None:
    pytest.importorskip(needs)
    result = run_script(shared, "shared.py", function)
    assert (result.returncode, result.stdout) == (0, "2\n"), result.stderr  # AF_INET


def test_a_socket_held_by_a_dask_task_is_flagged_and_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("distributed")
    project = write_project(tmp_path, {"remote.py": textwrap.dedent(DASK).lstrip()})
    found = project_findings(project, monkeypatch)
    assert [(f.rule, f.line, f.message) for f in found] == [
        (
            "PA105",
            9,
            "socket (socket.socket) stored on Endpoint.sock cannot be pickled by cloudpickle",
        )
    ]
    assert [str(step) for step in found[0].chain] == [
        "<- client.submit(describe, ...) (remote.py:17)"
    ]
    result = run_script(project, "remote.py")
    assert result.returncode == 1
    assert "cannot pickle 'socket' object" in result.stderr
