"""Ray sends the arguments of `f.remote(...)`, `Actor.remote(...)`, `handle.m.remote(...)`
and `ray.put(...)` to worker processes with cloudpickle: locks, open files and
generators fail there, while lambdas and dict views travel.

Reported publicly as "can't pickle _thread.lock objects" or "_thread.RLock" from a
remote call (ray-project/ray#11180, ray-project/ray#30972). The program is our own;
every flagged argument is pickled with cloudpickle (what Ray uses), and with Ray
itself where it is installed.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path

import cloudpickle
import pytest
from lint_helpers import project_findings, run_script, write_project

pytestmark = pytest.mark.timeout(300)

JOBS = """
import sys
import tempfile
import threading

import ray


@ray.remote
def count(rows, guard):
    return len(rows)


@ray.remote(num_cpus=1)
class Tally:
    def __init__(self, start):
        self.total = 0

    def add(self, rows):
        self.total += len(rows)
        return self.total


def square(value):
    return value * value


def locked_task(rows):
    return ray.get(count.remote(rows, threading.Lock()))


def locked_options(rows):
    return ray.get(count.options(num_cpus=1).remote(rows, threading.RLock()))


def locked_actor(rows):
    return Tally.remote(threading.Lock())


def locked_method(rows):
    tally = Tally.remote(0)
    return ray.get(tally.add.remote(threading.Lock()))


def generator_task(rows):
    return ray.get(ray.remote(square).remote(x for x in rows))


def stored_file(rows):
    return ray.get(ray.put(tempfile.TemporaryFile()))


def travels(rows):
    tally = Tally.remote(0)
    first = ray.get(count.remote(rows.keys(), lambda: None))
    text = ray.get(ray.put(open(__file__))).readline()  # a text file read: its contents
    return first, ray.get(tally.add.remote(rows.values())), text.strip()


if __name__ == "__main__":
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        print(globals()[sys.argv[1]]({"a": 1, "b": 2}))
    except Exception as error:
        print(type(error).__name__, error, file=sys.stderr)
        sys.exit(1)
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path, {"jobs.py": textwrap.dedent(JOBS).lstrip()})


def test_every_remote_call_is_a_cloudpickle_boundary(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = project_findings(project, monkeypatch)
    assert [(f.rule, f.line, f.message) for f in found] == [
        (
            "PA105",
            28,
            "threading lock (threading.Lock) passed to count.remote(...) cannot be pickled"
            " by cloudpickle",
        ),
        (
            "PA105",
            32,
            "threading lock (threading.RLock) passed to count.options(...).remote(...)"
            " cannot be pickled by cloudpickle",
        ),
        (
            "PA105",
            36,
            "threading lock (threading.Lock) passed to Tally.remote(...) cannot be pickled"
            " by cloudpickle",
        ),
        (
            "PA105",
            41,
            "threading lock (threading.Lock) passed to tally.add.remote(...) cannot be pickled"
            " by cloudpickle",
        ),
        (
            "PA104",
            45,
            "generator passed to ray.remote(...).remote(...) cannot be pickled by cloudpickle",
        ),
        (
            "PA105",
            49,
            "open file (tempfile.TemporaryFile) passed to ray.put(...) cannot be pickled"
            " by cloudpickle",
        ),
    ]
    assert [str(step) for step in found[1].chain] == [
        "<- count.options(...).remote(...) (jobs.py:32)"
    ]


def test_what_is_flagged_fails_cloudpickle_and_what_is_not_travels(project: Path) -> None:
    refused = [threading.Lock(), threading.RLock(), (x for x in "ab")]
    with tempfile.TemporaryFile() as binary, open(project / "jobs.py") as text:
        for value in (*refused, binary):
            with pytest.raises(TypeError, match="cannot pickle"):
                cloudpickle.dumps(value)
        rows = {"a": 1, "b": 2}
        for value in (rows.keys(), rows.values(), lambda: None, text):
            cloudpickle.dumps(value)


def run(project: Path, function: str) -> subprocess.CompletedProcess[str]:
    pytest.importorskip("ray", reason="ray is not installed: the real Ray runs need it")
    return run_script(project, "jobs.py", function)


def _refusal(type_name: str) -> str:
    """pickle's refusal of a type: `cannot pickle '_io.X' object`, or from Python 3.12
    for io classes, `cannot pickle 'X' instances`."""
    module, _, name = type_name.rpartition(".")
    prefix = f"(?:{re.escape(module)}\\.)?" if module else ""
    return rf"cannot pickle '{prefix}{re.escape(name)}' (?:object|instances)"


def _failure_chain(call: Callable[[Path], object], path: Path) -> str:
    """Every error in what `call(path)` raises, causes included: loky reports a task it
    cannot pickle as a PicklingError whose cause is cloudpickle's own error."""
    with pytest.raises(Exception) as caught:
        call(path)
    texts = []
    error: BaseException | None = caught.value
    while error is not None:
        texts.append(f"{type(error).__name__}: {error}")
        error = error.__cause__ or error.__context__
    return "\n".join(texts)


@pytest.mark.parametrize(
    ("function", "culprit"),
    [
        ("locked_task", "_thread.lock"),
        ("locked_options", "_thread.RLock"),
        ("locked_actor", "_thread.lock"),
        ("locked_method", "_thread.lock"),
        ("generator_task", "generator"),
        ("stored_file", "_io.BufferedRandom"),
    ],
)
def test_each_flagged_call_fails_in_ray(project: Path, function: str, culprit: str) -> None:
    result = run(project, function)
    assert result.returncode == 1, result.stdout
    assert re.search(_refusal(culprit), result.stderr), result.stderr


def test_the_calls_left_alone_run_in_ray(project: Path) -> None:
    result = run(project, "travels")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "(2, 2, 'import sys')"


def test_a_text_file_read_travels_by_cloudpickle_and_not_by_pickle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """cloudpickle carries a text file opened for reading as its contents, so `open(path)`
    is no finding at a loky (cloudpickle) boundary, and stays one at a process pool."""
    source = """
    from concurrent.futures import ProcessPoolExecutor

    from loky import get_reusable_executor


    def first_line(handle):
        return handle.readline()


    def by_loky(path):
        with open(path) as handle:
            return get_reusable_executor(1).submit(first_line, handle).result()


    def by_pool(path):
        with ProcessPoolExecutor(1) as pool, open(path) as handle:
            return pool.submit(first_line, handle).result()
    """
    root = write_project(tmp_path, {"lines.py": textwrap.dedent(source).lstrip()})
    found = project_findings(root, monkeypatch)
    assert [(f.rule, f.line, f.message) for f in found] == [
        (
            "PA105",
            17,
            "open file (open) passed to pool.submit(first_line, ...) cannot be pickled",
        )
    ]
    monkeypatch.syspath_prepend(str(root))
    import lines  # the project above, to run both calls for real

    try:
        assert (
            lines.by_loky(root / "lines.py")
            == "from concurrent.futures import ProcessPoolExecutor\n"
        )
        with pytest.raises(TypeError, match=_refusal("_io.TextIOWrapper")):
            lines.by_pool(root / "lines.py")
    finally:
        sys.modules.pop("lines", None)


def test_cloudpickle_refuses_binary_and_write_only_files_by_the_mode_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Which file object `open` returns depends on its mode: cloudpickle reduces a text
    file it can read back (`r+`, `w+`, `a+` too) and refuses a binary file (no reducer for
    BufferedReader) or a write-only one ("not opened for reading"). The mode written at the
    call decides the finding at a loky boundary; a mode that is not a literal stays quiet."""
    source = """
    from loky import get_reusable_executor


    def size(handle):
        return handle.seek(0, 2)


    def submit(handle):
        # a fresh executor: one an earlier test left cannot import this module
        return get_reusable_executor(1, reuse=False).submit(size, handle).result()


    def binary(path):
        with open(path, "rb") as handle:
            return submit(handle)


    def write_only(path):
        with open(path, mode="a") as handle:
            return submit(handle)


    def updating(path):
        with open(path, "r+") as handle:
            return submit(handle)


    def chosen(path, mode):
        with open(path, mode) as handle:
            return submit(handle)
    """
    root = write_project(tmp_path, {"files.py": textwrap.dedent(source).lstrip()})
    found = project_findings(root, monkeypatch)
    assert [(f.rule, f.line, f.message) for f in found] == [
        (
            "PA105",
            15,
            "open file (open, mode 'rb') passed as `handle` to submit() reaches"
            " get_reusable_executor(...).submit(size, ...) and cannot be pickled by cloudpickle",
        ),
        (
            "PA105",
            20,
            "open file (open, mode 'a') passed as `handle` to submit() reaches"
            " get_reusable_executor(...).submit(size, ...) and cannot be pickled by cloudpickle",
        ),
    ]
    monkeypatch.syspath_prepend(str(root))
    import files  # the project above, run for real through loky

    path = root / "files.py"
    try:
        assert re.search(_refusal("_io.BufferedReader"), _failure_chain(files.binary, path))
        assert "Cannot pickle files that are not opened for reading: a" in _failure_chain(
            files.write_only, path
        )
        assert files.updating(path) == path.stat().st_size
        assert files.chosen(path, "r") == path.stat().st_size
    finally:
        sys.modules.pop("files", None)
