"""What stays in the parent, and what travels only when a worker starts.

Patterns met when linting released scientific packages (see
benchmarks/real_world.py), reproduced in our own words and run under spawn:
a pool's result callback is called in the parent and never pickled; an
executor's initializer is pickled once per worker, not per task; a `Process`
target is pickled only under spawn and forkserver, and the finding says so.

Reported publicly as, among others: nested `Process` targets that work on Linux
and fail on macOS (DataDog/dd-trace-py#3342, numpy/numpy#22203,
MaxMind-DB-Reader-python#116, gentoo/portage#1260), a lambda target
(starlinglab/integrity-backend#70), and a nested task next to a pool's
`error_callback` (python/cpython#96464).
"""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
from lint_helpers import cli, lint_and_run

from pickle_audit.config import Config
from pickle_audit.lint.rules import SPAWN_ONLY
from pickle_audit.lint.run import lint_paths

pytestmark = pytest.mark.timeout(120)


def test_a_nested_result_callback_runs_in_the_parent_and_is_not_flagged(tmp_path: Path) -> None:
    findings, run = lint_and_run(
        tmp_path,
        """
        import multiprocessing


        def square(value):
            return value * value


        def collect(values):
            gathered = []

            def keep(result):  # called by the pool's result thread, in this process
                gathered.append(result)

            def complain(error):
                gathered.append(repr(error))

            with multiprocessing.get_context("spawn").Pool(2) as pool:
                for value in values:
                    pool.apply_async(square, (value,), callback=keep, error_callback=complain)
                pool.close()
                pool.join()
            return sorted(gathered)
        """,
        """
        if __name__ == "__main__":
            print(collect([1, 2, 3]))
        """,
    )
    assert findings == []
    assert (run.returncode, run.stdout) == (0, "[1, 4, 9]\n")


def test_a_nested_function_in_the_task_arguments_is_still_flagged(tmp_path: Path) -> None:
    findings, run = lint_and_run(
        tmp_path,
        """
        import multiprocessing


        def call(function, value):
            return function(value)


        def collect(values):
            def double(value):
                return 2 * value

            with multiprocessing.get_context("spawn").Pool(2) as pool:
                pending = [pool.apply_async(call, (double, v), callback=print) for v in values]
                return [job.get(timeout=60) for job in pending]
        """,
        """
        if __name__ == "__main__":
            print(collect([1, 2, 3]))
        """,
    )
    assert findings == [("PA103", 13, "error")]
    assert run.returncode == 1
    assert "local object" in run.stderr  # "Can't pickle" / "Can't get local object"


def test_a_bound_method_initializer_is_pickled_once_per_worker_not_flagged(
    tmp_path: Path,
) -> None:
    findings, run = lint_and_run(
        tmp_path,
        """
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        _scale = 1


        def scaled(value):
            return value * _scale


        class Runner:
            def __init__(self, scale):
                self.scale = scale

            def setup(self):
                global _scale
                _scale = self.scale

            def run(self, values):
                context = multiprocessing.get_context("spawn")
                with ProcessPoolExecutor(2, mp_context=context, initializer=self.setup) as pool:
                    return list(pool.map(scaled, values))
        """,
        """
        if __name__ == "__main__":
            print(Runner(10).run([1, 2, 3]))
        """,
    )
    assert findings == []
    assert (run.returncode, run.stdout) == (0, "[10, 20, 30]\n")


def test_a_nested_process_target_is_flagged_as_failing_under_spawn(tmp_path: Path) -> None:
    findings, run = lint_and_run(
        tmp_path,
        """
        import multiprocessing


        def watch(path):
            def follow():
                print("following", path)

            watcher = multiprocessing.get_context("spawn").Process(target=follow)
            watcher.start()
            watcher.join(60)
            return watcher.exitcode
        """,
        """
        if __name__ == "__main__":
            print(watch("job.log"))
        """,
    )
    assert findings == [("PA201", 8, "error")]
    [finding] = lint_paths([tmp_path], Config(), tmp_path, use_cache=False, jobs=1).findings
    assert finding.message == (
        "nested function follow handed to multiprocessing.get_context(...).Process(target=follow)"
        " cannot be pickled when the process starts (start method 'spawn')"
    )
    assert run.returncode == 1
    assert "local object" in run.stderr


FORK_ONLY = pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="this platform cannot fork"
)


@FORK_ONLY
def test_a_process_started_by_fork_inherits_its_target_and_is_not_flagged(
    tmp_path: Path,
) -> None:
    findings, run = lint_and_run(
        tmp_path,
        """
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor


        def square(value):
            return value * value


        def watch(path):
            def follow():
                print("following", path, flush=True)

            forked = multiprocessing.get_context("fork")
            watcher = forked.Process(target=follow)
            watcher.start()
            watcher.join(60)
            with ProcessPoolExecutor(1, mp_context=forked, initializer=follow) as pool:
                print(pool.submit(square, 3).result(), flush=True)
                return pool.submit(follow).exception() is not None
        """,
        """
        if __name__ == "__main__":
            print(watch("job.log"))
        """,
    )
    # tasks are pickled whatever the start method: only the submit of `follow` is flagged
    assert findings == [("PA201", 19, "error")]
    assert (run.returncode, run.stdout.splitlines()) == (
        0,
        ["following job.log", "following job.log", "9", "True"],
    )  # the target and the initializer ran in forked children; the task could not travel


@pytest.mark.parametrize(
    ("configured", "set_in_code", "expected"),
    [
        ("portable", "", [("PA201", SPAWN_ONLY)]),
        ("fork", "", []),
        ("spawn", "", [("PA201", " when the process starts (start method 'spawn')")]),
        ("portable", 'multiprocessing.set_start_method("fork")', []),
        (
            "fork",
            'multiprocessing.set_start_method("forkserver")',
            [("PA201", " when the process starts (start method 'forkserver')")],
        ),
    ],
)
def test_the_start_method_comes_from_the_code_then_the_config(
    tmp_path: Path, configured: str, set_in_code: str, expected: list[tuple[str, str]]
) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "example"\n')
    (tmp_path / "program.py").write_text(
        "import multiprocessing\n\n\n"
        "def watch(path):\n"
        "    def follow():\n"
        "        print(path)\n\n"
        "    return multiprocessing.Process(target=follow)\n\n\n"
        'if __name__ == "__main__":\n'
        f"    {set_in_code or 'pass'}\n"
        '    watch("job.log").start()\n'
    )
    result = lint_paths(
        [tmp_path], Config(start_method=configured), tmp_path, use_cache=False, jobs=1
    )
    prefix = (
        "nested function follow handed to multiprocessing.Process(target=follow) cannot be pickled"
    )
    assert [(f.rule, f.message.removeprefix(prefix)) for f in result.findings] == expected


def test_the_start_method_option_overrides_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.pickle-audit]\nstart-method = "spawn"\n')
    (tmp_path / "program.py").write_text(
        "import multiprocessing\n\n\ndef watch():\n    def follow():\n        pass\n\n"
        "    return multiprocessing.Process(target=follow)\n"
    )
    monkeypatch.chdir(tmp_path)
    assert cli("lint", ".", "--no-cache", "-q").stdout.startswith("program.py:8:12: PA201 ")
    forked = cli("lint", ".", "--no-cache", "--start-method", "fork")
    assert (forked.exit_code, forked.stdout) == (0, "")
    bad = cli("lint", ".", "--start-method", "thread")
    assert bad.exit_code == 2
    assert "'thread' is not one of 'portable', 'fork', 'spawn', 'forkserver'" in bad.stderr


def test_a_static_or_class_method_reached_through_self_does_not_carry_the_instance(
    tmp_path: Path,
) -> None:
    findings, run = lint_and_run(
        tmp_path,
        """
        import multiprocessing
        import threading
        from concurrent.futures import ProcessPoolExecutor


        class Runner:
            def __init__(self):
                self.lock = threading.Lock()  # would fail to pickle, but never travels

            @staticmethod
            def square(value):
                return value * value

            @classmethod
            def cube(cls, value):
                return value**3

            def run(self, values):
                context = multiprocessing.get_context("spawn")
                with ProcessPoolExecutor(2, mp_context=context) as pool:
                    return list(pool.map(self.square, values)), list(pool.map(self.cube, values))
        """,
        """
        if __name__ == "__main__":
            print(Runner().run([1, 2]))
        """,
    )
    assert findings == []
    assert (run.returncode, run.stdout) == (0, "([1, 4], [1, 8])\n")
