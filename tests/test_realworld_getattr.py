"""A `__getattr__` that forwards to instance state breaks unpickling: the instance is
rebuilt empty, pickle asks it for `__setstate__`, and the lookup of the state itself
comes back to `__getattr__`, forever (RecursionError). One that reads `self.__dict__[name]`
instead lets a KeyError out where pickle expects AttributeError. A guard that raises
AttributeError for underscored names first keeps both working.

Reported publicly for wrapper and proxy classes sent through a multiprocessing queue
(python/cpython#133015), a settings object whose guard reads its own state
(benoitc/gunicorn#2401) and store wrappers fixed with a leading-underscore guard
(developmentseed/obspec-utils#30). The program is our own; it is linted, then each
class is sent through a spawn-context queue and read back.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from lint_helpers import project_findings, run_script, write_project

pytestmark = pytest.mark.timeout(300)

RECORD_LOOKUP = "__getstate__" if sys.version_info < (3, 11) else "__setstate__"

PROXIES = """
import multiprocessing
import sys


class Wrapper:
    def __init__(self, inner):
        self.inner = inner

    def __getattr__(self, name):
        return getattr(self.inner, name)


class Settings:
    def __init__(self):
        self.values = {"workers": 2}

    def __getattr__(self, name):
        if name not in self.values:
            raise AttributeError(name)
        return self.values[name]


class Record:
    def __init__(self, **fields):
        self.__dict__.update(fields)

    def __getattr__(self, name):
        return self.__dict__[name]


class Guarded:
    def __init__(self, inner):
        self._inner = inner

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._inner, name)


def round_trip(value):
    queue = multiprocessing.get_context("spawn").Queue()
    queue.put(value)
    return type(queue.get(timeout=10)).__name__


def send_wrapper():
    return round_trip(Wrapper([1]))


def send_settings():
    return round_trip(Settings())


def send_record():
    return round_trip(Record(size=1))


def send_guarded():
    return round_trip(Guarded([1]))


if __name__ == "__main__":
    print(globals()[sys.argv[1]]())
"""

RECURSES = (
    "__getattr__ reads instance state without first raising AttributeError for"
    " dunder/private names: unpickling recurses forever"
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path, {"proxies.py": textwrap.dedent(PROXIES).lstrip()})


def test_each_getattr_that_breaks_unpickling_is_flagged_with_its_reason(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = project_findings(project, monkeypatch)
    assert [(f.rule, f.line, f.message) for f in found] == [
        ("PA302", 9, f"Wrapper.{RECURSES}"),
        ("PA302", 17, f"Settings.{RECURSES}"),
        (
            "PA302",
            27,
            "Record.__getattr__ looks the name up in a mapping and lets its KeyError out:"
            " pickling asks it for __getstate__ (Python 3.10) and unpickling asks the empty"
            " instance for __setstate__; each gets KeyError instead of AttributeError, and fails",
        ),
    ]
    assert [str(step) for step in found[0].chain] == [
        "passed as `value` to round_trip() (proxies.py:48)",
        "<- queue.put(...) (proxies.py:43)",
    ]


def run(project: Path, function: str) -> subprocess.CompletedProcess[str]:
    return run_script(project, "proxies.py", function)


@pytest.mark.parametrize(
    ("function", "error"),
    [
        ("send_wrapper", "RecursionError: maximum recursion depth exceeded"),
        ("send_settings", "RecursionError: maximum recursion depth exceeded"),
        # Python 3.10's object has no __getstate__, so pickling asks __getattr__ first.
        ("send_record", f"KeyError: '{RECORD_LOOKUP}'"),
    ],
)
def test_each_flagged_class_fails_to_come_back(project: Path, function: str, error: str) -> None:
    result = run(project, function)
    assert result.returncode == 1
    assert error in result.stderr


def test_the_underscore_guard_comes_back(project: Path) -> None:
    assert run(project, "send_guarded").stdout == "Guarded\n"
