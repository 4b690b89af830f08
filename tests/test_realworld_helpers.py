"""Values that reach a pool through a project helper, across modules, run under spawn.

The well-known "parmap" helper (start processes that apply `f` to queued
items) and a thin `map_in_pool(func, items)` wrapper, written in our own
words: the lambda or nested function handed to the helper is the culprit,
and the finding is at the call that hands it over, with the route.

Reported publicly where a library's helper wraps the user's function before
sending it to a process pool (ross/requests-futures#64,
nalepae/pandarallel#72).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pickle_audit.config import Config
from pickle_audit.lint.rules import SPAWN_ONLY
from pickle_audit.lint.run import lint_paths

pytestmark = pytest.mark.timeout(120)

HELPERS = """
import multiprocessing

CONTEXT = multiprocessing.get_context("spawn")


def _drain(f, jobs, results):
    for index, item in iter(jobs.get, None):
        results.put((index, f(item)))


def parmap(f, items, workers=2):
    jobs, results = CONTEXT.Queue(), CONTEXT.Queue()
    started = [
        multiprocessing.Process(target=_drain, args=(f, jobs, results)) for _ in range(workers)
    ]
    for process in started:
        process.start()
    for pair in enumerate(items):
        jobs.put(pair)
    for _ in started:
        jobs.put(None)
    done = sorted(results.get(timeout=60) for _ in items)
    for process in started:
        process.join(60)
    return [value for _, value in done]


def map_in_pool(func, items):
    with CONTEXT.Pool(2) as pool:
        return pool.map(func, items)


def apply_all(function, items):
    return map_in_pool(function, items)
"""


def project(tmp_path: Path, main: str) -> Path:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "example"\n')
    package = tmp_path / "tools"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "parallel.py").write_text(textwrap.dedent(HELPERS).lstrip())
    (tmp_path / "main.py").write_text(textwrap.dedent(main).lstrip())
    return tmp_path


def findings(root: Path, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int, str, list]]:
    monkeypatch.chdir(root)
    result = lint_paths([root], Config(), root, use_cache=False, jobs=1)
    return [(f.rule, f.line, f.message, [str(step) for step in f.chain]) for f in result.findings]


def run(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "main.py"], cwd=root, capture_output=True, text=True, timeout=90
    )


def test_a_lambda_handed_to_a_process_starting_helper(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(
        tmp_path,
        """
        import multiprocessing

        from tools.parallel import parmap

        if __name__ == "__main__":
            multiprocessing.set_start_method("spawn")
            print(parmap(lambda x: x + 1, [1, 2, 3]))
        """,
    )
    assert findings(root, monkeypatch) == [
        (
            "PA101",
            7,
            "lambda passed as `f` to parmap() reaches"
            " multiprocessing.Process(target=_drain, ...) and cannot be pickled"
            " when the process starts (start method 'spawn')",
            [
                "passed as `f` to parmap() (main.py:7)",
                "<- multiprocessing.Process(target=_drain, ...) (tools/parallel.py:14)",
            ],
        )
    ]
    outcome = run(root)
    assert outcome.returncode == 1
    assert "lambda" in outcome.stderr


def test_a_nested_function_through_two_helpers_into_a_pool_map(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(
        tmp_path,
        """
        from tools import parallel


        def main(items):
            def double(value):
                return 2 * value

            return parallel.apply_all(double, items)


        if __name__ == "__main__":
            print(main([1, 2]))
        """,
    )
    assert findings(root, monkeypatch) == [
        (
            "PA201",
            8,
            "nested function double passed as `function` to parallel.apply_all() reaches"
            " pool.map(func, ...) and cannot be pickled",
            [
                "passed as `function` to parallel.apply_all() (main.py:8)",
                "passed as `func` to map_in_pool() (tools/parallel.py:34)",
                "<- pool.map(func, ...) (tools/parallel.py:30)",
            ],
        )
    ]
    outcome = run(root)
    assert outcome.returncode == 1
    assert "local object" in outcome.stderr


def test_a_module_level_function_through_the_helpers_is_clean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(
        tmp_path,
        """
        from tools.parallel import apply_all, parmap


        def double(value):
            return 2 * value


        if __name__ == "__main__":
            print(apply_all(double, [1, 2]), parmap(double, [3]))
        """,
    )
    assert findings(root, monkeypatch) == []
    outcome = run(root)
    assert (outcome.returncode, outcome.stdout) == (0, "[2, 4] [6]\n")


def test_portable_is_the_default_where_the_code_sets_no_start_method(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(
        tmp_path,
        """
        from tools.parallel import parmap


        def run(items):
            return parmap(lambda x: x, items)
        """,
    )
    [(rule, _, message, _)] = findings(root, monkeypatch)
    assert rule == "PA101"
    assert message.endswith(SPAWN_ONLY)
