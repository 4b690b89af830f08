"""Which calls are process boundaries, and which serializer each one uses."""

from __future__ import annotations

import textwrap

import pytest

from pickle_audit.lint.boundaries import find_boundaries
from pickle_audit.lint.facts import extract_facts
from pickle_audit.lint.index import ProjectIndex


def boundaries_in(source: str) -> list[tuple[int, str, str, str]]:
    facts = extract_facts(textwrap.dedent(source).lstrip("\n"), "/p/mod.py", "mod")
    return [
        (b.call.line, b.call.method, b.kind, b.serializer)
        for b in find_boundaries(ProjectIndex([facts]))
    ]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            """
            from concurrent.futures import ProcessPoolExecutor
            def f(x): return x
            with ProcessPoolExecutor() as ex:
                ex.submit(f, 1)
            """,
            [(4, "submit", "process pool", "pickle")],
        ),
        (
            """
            import concurrent.futures as cf
            def f(x): return x
            def run(xs):
                with cf.ProcessPoolExecutor(max_workers=2, initializer=f, initargs=(1,)) as ex:
                    return list(ex.map(f, xs))
            """,
            [(4, "call", "process pool", "pickle"), (5, "map", "process pool", "pickle")],
        ),
        (
            """
            import multiprocessing
            def f(x): return x
            pool = multiprocessing.Pool()
            pool.starmap(f, [(1,)])
            """,
            [(4, "starmap", "process pool", "pickle")],
        ),
        (
            """
            from multiprocessing import get_context
            def f(x): return x
            def run():
                ctx = get_context("spawn")
                p = ctx.Process(target=f, args=(1,))
                q = ctx.SimpleQueue()
                q.put(1)
            """,
            [(5, "call", "process", "pickle"), (7, "put", "process queue", "pickle")],
        ),
        (
            """
            from concurrent.futures import ProcessPoolExecutor
            def f(x): return x
            class Runner:
                def __init__(self):
                    self.pool = ProcessPoolExecutor()
                def go(self):
                    self.pool.submit(f, 1)
            """,
            [(7, "submit", "process pool", "pickle")],
        ),
        (
            """
            from concurrent.futures import ProcessPoolExecutor
            def f(x): return x
            def go(pool: ProcessPoolExecutor):
                pool.submit(f, 1)
            """,
            [(4, "submit", "process pool", "pickle")],
        ),
        (
            """
            import multiprocessing
            def run():
                parent, child = multiprocessing.Pipe()
                parent.send([1, 2])
            """,
            [(4, "send", "process pipe", "pickle")],
        ),
        (
            """
            from dask.distributed import Client
            def f(x): return x
            client = Client()
            client.submit(f, 1)
            client.scatter([1, 2])
            """,
            [
                (4, "submit", "Dask client", "cloudpickle"),
                (5, "scatter", "Dask client", "cloudpickle"),
            ],
        ),
        (
            """
            from joblib import Parallel, delayed
            def f(x): return x
            Parallel(n_jobs=2)(delayed(f)(x) for x in range(3))
            """,
            [(3, "delayed", "joblib/dask delayed", "cloudpickle")],
        ),
        (
            """
            from loky import get_reusable_executor
            def f(x): return x
            get_reusable_executor(max_workers=2).submit(f, 1)
            """,
            [(3, "submit", "loky executor", "cloudpickle")],
        ),
        (
            """
            import multiprocess as mp
            def f(x): return x
            with mp.Pool(2) as pool:
                pool.map(f, [1])
            """,
            [(4, "map", "process pool", "dill")],
        ),
        (
            """
            from pathos.multiprocessing import ProcessingPool
            def f(x): return x
            ProcessingPool(2).map(f, [1])
            """,
            [(3, "map", "process pool", "dill")],
        ),
    ],
)
def test_process_boundaries_and_their_serializer(
    source: str, expected: list[tuple[int, str, str, str]]
) -> None:
    assert boundaries_in(source) == expected


@pytest.mark.parametrize(
    "source",
    [
        "from concurrent.futures import ThreadPoolExecutor\n"
        "with ThreadPoolExecutor() as ex:\n    ex.submit(print, 1)\n",
        "from multiprocessing.pool import ThreadPool\nThreadPool(2).map(print, [1])\n",
        "from multiprocessing.dummy import Pool\nPool(2).map(print, [1])\n",
        "import threading\nthreading.Thread(target=print, args=(1,))\n",
        "def go(executor):\n    executor.submit(print, 1)\n",  # unknown receiver
        "import queue\nq = queue.Queue()\nq.put(lambda: 1)\n",
        "d = {}\nd.map = None\nresult = {}.items()\n",
    ],
)
def test_threads_and_unknown_receivers_are_not_boundaries(source: str) -> None:
    assert boundaries_in(source) == []
