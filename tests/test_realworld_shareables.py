"""multiprocessing's own queues and locks: shared with the processes it starts, refused in tasks.

Patterns from public bug reports, reproduced in our own words. Each program is
linted and also run under the spawn start method, so the test shows the real
outcome: a clean run where the linter is quiet, multiprocessing's own error
where it flags.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lint_helpers import lint_and_run

from pickle_audit.config import Config
from pickle_audit.lint.run import lint_paths

pytestmark = pytest.mark.timeout(120)
INHERITANCE_ERROR = "Queue objects should only be shared between processes through inheritance"
REPORTER = """
import multiprocessing
from concurrent.futures import ProcessPoolExecutor


def report(progress, fragment):
    progress.put(fragment)
    return fragment
"""


def test_queue_and_event_handed_to_a_process_are_not_flagged(tmp_path: Path) -> None:
    findings, run = lint_and_run(
        tmp_path,
        """
        import multiprocessing


        def drain(jobs, done):
            while jobs.get() is not None:
                pass
            done.set()


        class Feeder:
            def __init__(self):
                ctx = multiprocessing.get_context("spawn")
                self.jobs = ctx.Queue()
                self.done = ctx.Event()
                self.worker = ctx.Process(target=drain, args=(self.jobs, self.done))

            def run(self):
                self.worker.start()
                for item in (1, 2, None):
                    self.jobs.put(item)
                self.done.wait(30)
                self.worker.join(30)
                return self.worker.exitcode


        def main():
            ctx = multiprocessing.get_context("spawn")
            jobs, done = ctx.Queue(), ctx.Event()
            worker = ctx.Process(target=drain, args=(jobs, done))
            worker.start()
            jobs.put(None)
            worker.join(30)
            return worker.exitcode


        if __name__ == "__main__":
            print(Feeder().run(), main())
        """,
    )
    assert findings == []
    assert (run.returncode, run.stdout) == (0, "0 0\n"), run.stderr


def test_a_process_target_method_whose_instance_holds_a_queue_is_fine(tmp_path: Path) -> None:
    findings, run = lint_and_run(
        tmp_path,
        """
        import multiprocessing


        class Listener:
            def __init__(self):
                self.ctx = multiprocessing.get_context("spawn")
                self.inbox = self.ctx.Queue()
                self.lock = self.ctx.Lock()

            def listen(self):
                with self.lock:
                    self.inbox.get(timeout=30)

            def start(self):
                worker = self.ctx.Process(target=self.listen)
                worker.start()
                self.inbox.put("hello")
                worker.join(30)
                return worker.exitcode


        if __name__ == "__main__":
            print(Listener().start())
        """,
    )
    assert findings == []  # neither PA109 nor a PA202 warning for a process start
    assert (run.returncode, run.stdout) == (0, "0\n"), run.stderr


def test_a_queue_in_pool_tasks_is_pa109_and_really_fails(tmp_path: Path) -> None:
    findings, run = lint_and_run(
        tmp_path,
        REPORTER,
        """
        if __name__ == "__main__":
            ctx = multiprocessing.get_context("spawn")
            progress = ctx.Queue()
            with ProcessPoolExecutor(2, mp_context=ctx) as pool:
                print(pool.submit(report, progress, 1).result())
        """,
    )
    assert findings == [("PA109", 14, "error")]
    assert run.returncode == 1
    assert f"RuntimeError: {INHERITANCE_ERROR}" in run.stderr


def test_a_lock_in_a_pool_initializer_is_fine_and_a_lock_in_apply_async_is_not(
    tmp_path: Path,
) -> None:
    findings, run = lint_and_run(
        tmp_path,
        """
        import multiprocessing

        _lock = None


        def remember(lock):
            global _lock
            _lock = lock


        def count(n):
            with _lock:
                return n * n


        def locked_count(lock, n):
            with lock:
                return n


        if __name__ == "__main__":
            ctx = multiprocessing.get_context("spawn")
            lock = ctx.Lock()
            with ctx.Pool(2, initializer=remember, initargs=(lock,)) as pool:
                print(pool.map(count, [1, 2, 3]))
                try:
                    pool.apply_async(locked_count, (lock, 1)).get(30)
                except RuntimeError as error:
                    print(error)
        """,
    )
    assert findings == [("PA109", 27, "error")]
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        "[1, 4, 9]",
        "Lock objects should only be shared between processes through inheritance",
    ]


def test_manager_queues_travel_in_tasks(tmp_path: Path) -> None:
    findings, run = lint_and_run(
        tmp_path,
        REPORTER,
        """
        if __name__ == "__main__":
            ctx = multiprocessing.get_context("spawn")
            with ctx.Manager() as manager, ProcessPoolExecutor(2, mp_context=ctx) as pool:
                progress = manager.Queue()
                print(pool.submit(report, progress, 7).result(), progress.get(timeout=30))
        """,
    )
    assert findings == []
    assert (run.returncode, run.stdout) == (0, "7 7\n"), run.stderr


def test_a_shared_value_or_array_in_a_task_is_pa109_and_in_initargs_is_fine(
    tmp_path: Path,
) -> None:
    findings, run = lint_and_run(
        tmp_path,
        """
        import multiprocessing
        from multiprocessing import sharedctypes

        _total = None


        def remember(total):
            global _total
            _total = total


        def add(n):
            with _total.get_lock():
                _total.value += n
            return n


        def add_to(total, n):
            total.value += n


        if __name__ == "__main__":
            ctx = multiprocessing.get_context("spawn")
            total = ctx.Value("i", 0)
            with ctx.Pool(2, initializer=remember, initargs=(total,)) as pool:
                pool.map(add, [1, 2, 3])
                print(total.value)
                try:
                    pool.apply(add_to, (total, 1))
                except RuntimeError as error:
                    print(error)
                try:
                    pool.apply(add_to, (sharedctypes.RawArray("d", 3), 1))
                except RuntimeError as error:
                    print(error)
        """,
    )
    assert findings == [("PA109", 29, "error"), ("PA109", 33, "error")]
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        "6",
        "Synchronized objects should only be shared between processes through inheritance",
        "c_double_Array_3 objects should only be shared between processes through inheritance",
    ]


def test_queue_set_in_a_method_on_a_process_target_instance_is_fine(tmp_path: Path) -> None:
    # a tool that makes its queue and lock when it goes parallel, then starts processes
    # on one of its own methods: the processes inherit both, nothing is refused
    findings, run = lint_and_run(
        tmp_path,
        """
        import multiprocessing


        class Converter:
            def __init__(self):
                self.jobs = None
                self.print_lock = None

            def convert_all(self, names, workers):
                self.jobs = multiprocessing.JoinableQueue()
                self.print_lock = multiprocessing.Lock()
                children = [multiprocessing.Process(target=self._child) for _ in range(workers)]
                for child in children:
                    child.start()
                for name in names:
                    self.jobs.put(name)
                self.jobs.join()
                for _ in children:
                    self.jobs.put(None)
                for child in children:
                    child.join(30)
                return [child.exitcode for child in children]

            def _child(self):
                name = self.jobs.get()
                while name is not None:
                    with self.print_lock:
                        name.upper()
                    self.jobs.task_done()
                    name = self.jobs.get()


        if __name__ == "__main__":
            multiprocessing.set_start_method("spawn")
            print(Converter().convert_all(["a", "b", "c"], 2))
        """,
    )
    assert findings == []
    assert (run.returncode, run.stdout) == (0, "[0, 0]\n"), run.stderr


def test_the_same_instance_in_a_pool_task_is_pa109_on_the_attribute(tmp_path: Path) -> None:
    findings, run = lint_and_run(
        tmp_path,
        """
        import multiprocessing


        class Counter:
            def __init__(self):
                self.ctx = multiprocessing.get_context("spawn")
                self.done = self.ctx.Queue()

            def count(self, n):
                return n * n

            def start(self):
                worker = self.ctx.Process(target=self.count, args=(2,))
                worker.start()
                worker.join(30)
                with self.ctx.Pool(1) as pool:
                    try:
                        pool.apply_async(self.count, (3,)).get(30)
                    except RuntimeError as error:
                        return worker.exitcode, str(error)


        if __name__ == "__main__":
            print(*Counter().start())
        """,
    )
    assert findings == [("PA109", 7, "error"), ("PA202", 18, "error")]
    assert run.returncode == 0, run.stderr
    assert run.stdout == f"0 {INHERITANCE_ERROR}\n"


def test_the_pa109_chain_is_the_pool_route_not_the_process_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "example"\n')
    (tmp_path / "program.py").write_text(
        "import multiprocessing\n"
        "\n"
        "\n"
        "class Counter:\n"
        "    def __init__(self):\n"
        "        self.done = multiprocessing.Queue()\n"
        "\n"
        "    def count(self, n):\n"
        "        return n\n"
        "\n"
        "    def start(self):\n"
        "        multiprocessing.Process(target=self.count, args=(1,)).start()\n"
        "        with multiprocessing.Pool(1) as pool:\n"
        "            return pool.apply_async(self.count, (3,))\n"
    )
    result = lint_paths([tmp_path], Config(), tmp_path, use_cache=False, jobs=1)
    stored = [finding for finding in result.findings if finding.rule == "PA109"]
    assert [(f.line, f.message) for f in stored] == [
        (
            6,
            "multiprocessing primitive (multiprocessing.Queue) stored on Counter.done"
            " cannot be pickled",
        )
    ]
    assert [str(step) for step in stored[0].chain] == [
        "<- pool.apply_async(self.count, ...) (program.py:14)"
    ]
