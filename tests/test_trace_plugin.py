"""The `assert_picklable` fixture, as a user's test suite sees it (real pytest run)."""

from __future__ import annotations

import subprocess
import sys

import pytest

USER_TESTS = """
import threading


class Task:
    def __init__(self):
        self.lock = threading.Lock()


def test_clean(assert_picklable):
    assert_picklable({"a": [1, 2]})


def test_bad(assert_picklable):
    assert_picklable(Task(), name="task")
"""


@pytest.mark.timeout(120)
def test_fixture_passes_clean_values_and_fails_with_the_report(tmp_path):
    (tmp_path / "test_user.py").write_text(USER_TESTS)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_user.py"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=100,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 failed, 1 passed" in result.stdout
    report_lines = [
        "E       AssertionError: task cannot cross a process boundary with pickle: 1 problem",
        "E         task.lock  _thread.lock  PA105",
        "E             TypeError: cannot pickle '_thread.lock' object",
        "E             source: test_user.py:7",
    ]
    lines = result.stdout.splitlines()
    start = lines.index(report_lines[0])
    assert lines[start : start + 4] == report_lines
