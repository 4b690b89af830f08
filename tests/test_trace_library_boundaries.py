"""Boundaries reached through library code, lazy iterators, and pools that never pickle.

Each case is a real script traced by a real `pickle-audit trace` process, with
real worker processes; the report must name the user's line.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest


def trace(tmp_path: Path, body: str, *options: str) -> subprocess.CompletedProcess:
    script = tmp_path / "job.py"
    script.write_text(textwrap.dedent(body))
    return subprocess.run(
        [sys.executable, "-m", "pickle_audit", "trace", *options, script.name],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
    )


def line_of(tmp_path: Path, marker: str) -> int:
    lines = (tmp_path / "job.py").read_text().splitlines()
    return next(number for number, line in enumerate(lines, 1) if marker in line)


def assert_stopped_at(
    result: subprocess.CompletedProcess, tmp_path: Path, marker: str, call: str, leaf: str
) -> None:
    """Exit 1, the report's first line names the marked line and the call, and `leaf`
    (path, type and rule) is among the problems."""
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines()[0] == (
        f"job.py:{line_of(tmp_path, marker)}: {call} sends a payload that cannot be pickled"
        " with pickle: 1 problem"
    )
    assert f"  {leaf}" in result.stderr


@pytest.mark.timeout(200)
def test_a_pool_made_by_multiprocessing_pool_has_its_initializer_audited(tmp_path):
    result = trace(
        tmp_path,
        """
        import multiprocessing

        if __name__ == "__main__":
            with multiprocessing.get_context("spawn").Pool(1, initializer=lambda: None) as pool:
                print(pool.apply(abs, (-1,)))
        """,
    )
    assert_stopped_at(
        result,
        tmp_path,
        "initializer=lambda",
        "Pool(initializer=...)",
        "initializer  function  PA101",
    )


@pytest.mark.timeout(200)
def test_an_endless_iterator_is_audited_item_by_item_as_the_pool_takes_it(tmp_path):
    result = trace(
        tmp_path,
        """
        import itertools
        import multiprocessing

        def square(x):
            return x * x

        def numbers():
            for n in itertools.count():
                yield (lambda: n) if n == 40 else n  # one bad item, deep in an endless stream

        if __name__ == "__main__":
            with multiprocessing.get_context("fork").Pool(2) as pool:
                for value in pool.imap(square, numbers()):  # the imap line
                    if value > 10**6:
                        break
        """,
    )
    assert_stopped_at(
        result, tmp_path, "# the imap line", "Pool.imap(...)", "args[0][40]  function  PA101"
    )
    assert result.stderr.splitlines()[-1] == (
        "pickle-audit trace: stopped job.py at its first bad payload"
    )


@pytest.mark.timeout(200)
def test_an_endless_clean_iterator_runs_to_the_scripts_own_end(tmp_path):
    result = trace(
        tmp_path,
        """
        import itertools
        import multiprocessing

        def square(x):
            return x * x

        if __name__ == "__main__":
            with multiprocessing.get_context("fork").Pool(2) as pool:
                total = 0
                for value in pool.imap(square, itertools.count(), chunksize=50):
                    total += 1
                    if total == 2000:
                        break
            print(total)
        """,
        "--keep-going",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "2000\n"
    assert result.stderr.startswith("pickle-audit trace: 0 bad payloads in")


@pytest.mark.timeout(200)
def test_a_thread_pool_is_not_a_process_boundary(tmp_path):
    result = trace(
        tmp_path,
        """
        from multiprocessing.pool import ThreadPool

        with ThreadPool(2) as pool:
            print(pool.map(lambda x: x * 2, [1, 2]))
        """,
        "--keep-going",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "[2, 4]\n"


@pytest.mark.timeout(200)
def test_run_in_executor_with_a_process_pool_is_audited_at_the_users_line(tmp_path):
    result = trace(
        tmp_path,
        """
        import asyncio
        import threading
        from concurrent.futures import ProcessPoolExecutor

        def work(guard):
            return 1

        async def main():
            loop = asyncio.get_running_loop()
            with ProcessPoolExecutor(1) as pool:
                await loop.run_in_executor(pool, work, threading.Lock())  # the call

        if __name__ == "__main__":
            asyncio.run(main())
        """,
    )
    assert_stopped_at(
        result,
        tmp_path,
        "# the call",
        "ProcessPoolExecutor.submit(...)",
        "args[0]  _thread.lock  PA105",
    )


@pytest.mark.timeout(200)
def test_joblib_parallel_is_audited_with_cloudpickle(tmp_path):
    result = trace(
        tmp_path,
        """
        import threading
        from joblib import Parallel, delayed

        def work(guard, n):
            return n

        if __name__ == "__main__":
            guard = threading.Lock()
            print(Parallel(n_jobs=2)(delayed(work)(guard, n) for n in range(3)))  # the call
        """,
    )
    assert result.returncode == 1, result.stderr
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"job.py:{line_of(tmp_path, '# the call')}: ")
    assert first.endswith("sends a payload that cannot be pickled with cloudpickle: 1 problem")
    assert "_thread.lock  PA105" in result.stderr


@pytest.mark.timeout(200)
def test_a_value_stored_into_a_manager_proxy_is_audited(tmp_path):
    result = trace(
        tmp_path,
        """
        import multiprocessing
        import threading

        if __name__ == "__main__":
            with multiprocessing.Manager() as manager:
                shared = manager.dict()
                shared["fine"] = 1
                shared["guard"] = threading.Lock()  # the store
        """,
    )
    assert_stopped_at(
        result, tmp_path, "# the store", "Manager() proxy call(...)", "args[1]  _thread.lock  PA105"
    )


@pytest.mark.timeout(200)
def test_an_iterator_handed_to_dask_map_gets_dasks_own_answer(tmp_path):
    """Dask refuses iterators itself; the tracer, which audits iterators lazily, hands
    Dask the iterator it was given, so the script fails exactly as it does untraced."""
    pytest.importorskip("distributed")
    result = trace(
        tmp_path,
        """
        import threading
        from distributed import Client, LocalCluster

        def values():
            for n in range(6):
                yield threading.Lock() if n == 3 else n

        if __name__ == "__main__":
            with LocalCluster(
                n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster, Client(cluster) as client:
                print(client.gather(client.map(str, values())))
        """,
    )
    assert result.returncode == 1
    assert "TypeError: Dask no longer supports mapping over Iterators" in result.stderr
    assert result.stderr.splitlines()[-1] == (
        "pickle-audit trace: 0 bad payloads in 1 checked; job.py exited with status 1"
    )
