"""Every rule on small real projects: what is flagged, with which message, and what is not."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

import pytest
from lint_core_helpers import lint, summary, write_files

from pickle_audit.config import Config

POOL = "from concurrent.futures import ProcessPoolExecutor\n"
DRIVER = """
class Driver:
    def __init__(self, item: Item):
        self.item = item

    def work(self, n):
        return n

    def run(self):
        with ProcessPoolExecutor() as pool:
            return list(pool.map(self.work, range(3)))
"""


def project_with(tmp_path: Path, body: str, imports: str = "") -> Path:
    """A module whose class `Item` reaches a process pool through `Driver.item`."""
    source = POOL + imports + "\n\n" + body.strip("\n") + "\n\n" + DRIVER
    return write_files(tmp_path / "proj", {"mod.py": source})


def item_findings(tmp_path: Path, body: str, imports: str = "") -> list[tuple[str, int, str]]:
    root = project_with(tmp_path, body, imports)
    return [
        (f.rule, f.line, f.message)
        for f in lint(root)
        if f.symbol.startswith("Item") or f.rule == "PA301"
    ]


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


# --- PA1: state stored on a class that reaches a worker --------------------------------

STATE_CASES = [
    (
        "self.key = lambda x: x",
        "",
        "PA101",
        "lambda stored on Item.key cannot be pickled",
    ),
    (
        "self.handlers = {'a': lambda: 1}",
        "",
        "PA101",
        "lambda stored on Item.handlers cannot be pickled",
    ),
    (
        "self.levels = self.table.keys()",
        "",
        "PA102",
        "dict view stored on Item.levels cannot be pickled",
    ),
    (
        "self.pairs = {}.items()",
        "",
        "PA102",
        "dict view stored on Item.pairs cannot be pickled",
    ),
    (
        "def helper():\n            return 1\n        self.cb = helper",
        "",
        "PA103",
        "nested function helper stored on Item.cb cannot be pickled",
    ),
    (
        "self.cb = functools.partial(lambda a, b: a, 1)",
        "import functools\n",
        "PA103",
        "functools.partial over a lambda or nested function stored on Item.cb cannot be pickled",
    ),
    (
        "self.rows = (r for r in range(3))",
        "",
        "PA104",
        "generator stored on Item.rows cannot be pickled",
    ),
    (
        "self.rows = numbers()",
        "",
        "PA104",
        "generator from numbers() stored on Item.rows cannot be pickled",
    ),
    (
        "self.lock = threading.Lock()",
        "import threading\n",
        "PA105",
        "threading lock (threading.Lock) stored on Item.lock cannot be pickled",
    ),
    (
        "self.lock = RLock()",
        "from threading import RLock\n",
        "PA105",
        "threading lock (threading.RLock) stored on Item.lock cannot be pickled",
    ),
    (
        "self.out = open('log.txt', 'w')",
        "",
        "PA105",
        "open file (open) stored on Item.out cannot be pickled",
    ),
    (
        "self.conn = sqlite3.connect(':memory:')",
        "import sqlite3\n",
        "PA105",
        "sqlite3 connection (sqlite3.connect) stored on Item.conn cannot be pickled",
    ),
    (
        "self.proc = sp.Popen(['true'])",
        "import subprocess as sp\n",
        "PA105",
        "subprocess (subprocess.Popen) stored on Item.proc cannot be pickled",
    ),
    (
        "self.handler = logging.FileHandler('x.log')",
        "import logging\n",
        "PA105",
        "logging handler (logging.FileHandler) stored on Item.handler cannot be pickled",
    ),
    (
        "self.buf = memoryview(b'abc')",
        "",
        "PA105",
        "memoryview (memoryview) stored on Item.buf cannot be pickled",
    ),
    (
        "self.inner = ThreadPoolExecutor()",
        "from concurrent.futures import ThreadPoolExecutor\n",
        "PA105",
        "executor or pool (concurrent.futures.ThreadPoolExecutor) stored on Item.inner"
        " cannot be pickled",
    ),
    (
        "class Local:\n            pass\n        self.obj = Local()",
        "",
        "PA106",
        "instance of local class Local stored on Item.obj cannot be pickled",
    ),
    (
        "self.np = json",
        "import json\n",
        "PA108",
        "module object json stored on Item.np cannot be pickled",
    ),
    (
        "self.parent = weakref.ref(self)",
        "import weakref\n",
        "PA108",
        "weak reference (weakref.ref) stored on Item.parent cannot be pickled",
    ),
    (
        "self.view = types.MappingProxyType({})",
        "import types\n",
        "PA108",
        "mappingproxy (types.MappingProxyType) stored on Item.view cannot be pickled",
    ),
]


@pytest.mark.parametrize(("statement", "imports", "rule", "message"), STATE_CASES)
def test_state_rules_flag_the_assignment(
    tmp_path: Path, statement: str, imports: str, rule: str, message: str
) -> None:
    body = f"""
def numbers():
    yield 1


class Item:
    def __init__(self):
        self.table = {{}}
        {statement}
"""
    findings = item_findings(tmp_path, body, imports)
    line = 11 + len(imports.splitlines()) + statement.count("\n")
    assert findings == [(rule, line, message)]


NEGATIVE_STATE = [
    "lock = threading.Lock()",  # class attribute: not pickled with instances
    # the class decides what is pickled
    "def __init__(self):\n        self.lock = threading.Lock()\n\n"
    "    def __getstate__(self):\n        return {}",
    # names that shadow modules are not module objects
    "def __init__(self, logging):\n        self.log = logging",
    "def __init__(self, items):\n        for threading in items:\n"
    "            self.last = threading",
    # a classmethod's first argument is the class
    "@classmethod\n    def setup(cls):\n        cls.hook = lambda: 1",
    "def __init__(self, d):\n        self.order = sorted(d.items(), key=lambda kv: kv[1])",
    "def __init__(self, d):\n        self.keys = list(d.keys())",
    "def __init__(self, d):\n        for k, v in d.items():\n            setattr(self, k, v)",
    "def __init__(self):\n        self.log = logging.getLogger(__name__)",
    "def __init__(self, xs):\n        self.pairs = zip(xs, xs)\n        self.names = map(str, xs)",
    "def __init__(self, d):\n        self.n = max(d.keys())\n        self.levels = set(d.values())",
    "def __init__(self):\n        self.value = None\n        self.table = {}",
]


@pytest.mark.parametrize("body", NEGATIVE_STATE)
def test_picklable_state_is_not_flagged(tmp_path: Path, body: str) -> None:
    source = f"class Item:\n    {body}\n"
    assert item_findings(tmp_path, source, "import threading\nimport logging\n") == []


def test_dataclass_field_defaults(tmp_path: Path) -> None:
    body = """
@dataclass
class Item:
    bad: Callable = field(default=lambda x: x)
    direct: Callable = lambda x: x
    made: Callable = field(default_factory=lambda: (lambda x: x))
    listing: list = field(default_factory=list)
    shared: ClassVar[Callable] = lambda x: x
"""
    imports = "from dataclasses import dataclass, field\nfrom typing import Callable, ClassVar\n"
    assert item_findings(tmp_path, body, imports) == [
        ("PA101", 8, "lambda stored on Item.bad cannot be pickled"),
        ("PA101", 9, "lambda stored on Item.direct cannot be pickled"),
        # each instance holds the lambda the factory returns ('Item.<lambda>.<locals>.<lambda>')
        ("PA101", 10, "lambda stored on Item.made cannot be pickled"),
    ]


def test_cached_property_is_a_warning(tmp_path: Path) -> None:
    body = """
class Item:
    @functools.cached_property
    def total(self) -> int:
        return 3
"""
    root = project_with(tmp_path, body, "import functools\n")
    [finding] = [f for f in lint(root) if f.rule == "PA107"]
    assert (finding.severity, finding.line, finding.symbol) == ("warning", 7, "Item.total")
    assert finding.message == (
        "cached_property Item.total travels with the instance: its cached value is pickled too"
    )
    assert finding.snippet == "def total(self) -> int:"


def test_classes_that_never_reach_a_worker_are_clean_unless_all_classes(tmp_path: Path) -> None:
    root = write_files(
        tmp_path / "proj",
        {"mod.py": "class Lonely:\n    def __init__(self, d):\n        self.k = d.keys()\n"},
    )
    assert lint(root) == []
    assert summary(lint(root, Config(all_classes=True))) == [("PA102", "proj/mod.py", 3)]
    [finding] = lint(root, Config(all_classes=True))
    assert finding.chain == ()


# --- PA302 -------------------------------------------------------------------------------


def test_getattr_reading_state_without_guard(tmp_path: Path) -> None:
    body = """
class Item:
    def __init__(self):
        self._data = {}

    def __getattr__(self, name):
        return self._data[name]
"""
    [finding] = item_findings(tmp_path, body)
    assert finding[:2] == ("PA302", 8)
    assert finding[2].startswith("Item.__getattr__ reads instance state without first raising")


@pytest.mark.parametrize(
    "getattr_body",
    [
        "if name.startswith('_'):\n            raise AttributeError(name)\n"
        "        return self._data[name]",
        "if name in ('__getstate__', '__setstate__'):\n            raise AttributeError(name)\n"
        "        return self._data[name]",
        "return name.upper()",
        "return object.__getattribute__(self, '_data')[name]",
        # raises AttributeError itself while `_data` is missing: no recursion (see below)
        "data = self.__getattribute__('_data')\n        if name in data:\n"
        "            return data[name]\n        raise AttributeError(name)",
        # a branch for listed names only: pickle's '__setstate__' lookup never enters it
        "if name in ('size', 'shape'):\n            return self._data[name]\n"
        "        raise AttributeError(name)",
        "if name == 'size':\n            return len(self._data)\n"
        "        raise AttributeError(name)",
    ],
)
def test_guarded_or_stateless_getattr_is_clean(tmp_path: Path, getattr_body: str) -> None:
    body = f"""
class Item:
    def __init__(self):
        self._data = {{}}

    def __getattr__(self, name):
        {getattr_body}
"""
    assert item_findings(tmp_path, body) == []


def test_a_getattr_reading_state_through_getattribute_really_round_trips() -> None:
    """The clean `self.__getattribute__` case above, really pickled: unpickling asks the
    empty instance for `__setstate__`, `__getattribute__('_data')` raises AttributeError
    without calling `__getattr__` again, and pickle takes that as "no such method"."""
    namespace: dict = {}
    exec(
        "class Item:\n"
        "    def __init__(self):\n"
        "        self._data = {'size': 3}\n"
        "    def __getattr__(self, name):\n"
        "        data = self.__getattribute__('_data')\n"
        "        if name in data:\n"
        "            return data[name]\n"
        "        raise AttributeError(name)\n",
        namespace,
    )
    item_class = namespace["Item"]
    item_class.__module__, item_class.__qualname__ = __name__, "RoundTripItem"
    globals()["RoundTripItem"] = item_class
    try:
        assert pickle.loads(pickle.dumps(item_class())).size == 3
    finally:
        del globals()["RoundTripItem"]


def test_a_guard_that_refuses_only_other_names_is_flagged_and_really_recurses(
    tmp_path: Path,
) -> None:
    """`if name in {"__array_struct__"}: raise` leaves `__setstate__` to the read below."""
    body = """
class Item:
    def __init__(self):
        self.data = {}

    def __getattr__(self, name):
        if name in {"__array_struct__", "__array_interface__"}:
            raise AttributeError(name)
        return self.data[name]
"""
    [finding] = item_findings(tmp_path, body)
    assert finding[:2] == ("PA302", 8)
    namespace: dict = {}
    exec(body, namespace)
    item_class = namespace["Item"]
    item_class.__module__, item_class.__qualname__ = __name__, "PartlyGuardedItem"
    globals()["PartlyGuardedItem"] = item_class
    # before 3.11 there is no object.__getstate__: pickling itself asks __getattr__ for it
    failure = RecursionError if sys.version_info >= (3, 11) else KeyError
    try:
        with pytest.raises(failure):
            pickle.loads(pickle.dumps(item_class()))
    finally:
        del globals()["PartlyGuardedItem"]


KEYERROR_GETATTRS = {
    "vars": "return vars(self)['data'][name]",
    "dict-get": "return self.__dict__.get('data', {})[name]",
    "class-table": "return type(self).defaults[name]",
}


def _loaded_class(body: str, qualname: str) -> type:
    """The class `body` defines, importable from this module under `qualname`."""
    namespace: dict = {}
    exec(body, namespace)
    cls = namespace["Item"]
    cls.__module__, cls.__qualname__ = __name__, qualname
    globals()[qualname] = cls
    return cls


@pytest.mark.parametrize("lookup", sorted(KEYERROR_GETATTRS))
def test_a_getattr_that_lets_a_keyerror_out_is_flagged_and_really_fails(
    tmp_path: Path, lookup: str
) -> None:
    """No recursion here, but unpickling asks for `__setstate__`, and a KeyError is not
    the AttributeError that means "no such method"."""
    body = f"""
class Item:
    defaults = {{"size": 3}}

    def __init__(self):
        self.data = {{"size": 3}}

    def __getattr__(self, name):
        {KEYERROR_GETATTRS[lookup]}
"""
    [finding] = item_findings(tmp_path, body)
    assert finding[:2] == ("PA302", 10)
    assert finding[2] == (
        "Item.__getattr__ looks the name up in a mapping and lets its KeyError out:"
        " pickling asks it for __getstate__ (Python 3.10) and unpickling asks the empty"
        " instance for __setstate__; each gets KeyError instead of AttributeError, and fails"
    )
    item_class = _loaded_class(body, f"KeyErrorItem_{lookup.replace('-', '_')}")
    try:
        with pytest.raises(KeyError):
            pickle.loads(pickle.dumps(item_class()))
    finally:
        del globals()[item_class.__qualname__]


def test_a_keyerror_turned_into_attributeerror_is_clean_and_round_trips(tmp_path: Path) -> None:
    body = """
class Item:
    defaults = {"size": 3}

    def __getattr__(self, name):
        try:
            return type(self).defaults[name]
        except KeyError:
            raise AttributeError(name) from None
"""
    assert item_findings(tmp_path, body) == []
    item_class = _loaded_class(body, "TranslatedKeyErrorItem")
    try:
        assert pickle.loads(pickle.dumps(item_class())).size == 3
    finally:
        del globals()["TranslatedKeyErrorItem"]


def test_getattr_via_dict_and_getattr_builtin_are_flagged(tmp_path: Path) -> None:
    body = """
class Item:
    def __getattr__(self, name):
        return self.__dict__["_target"][name]


class Other:
    def __getattr__(self, name):
        return getattr(self, "_target").get(name)


class Checked:
    def __getattr__(self, name):
        if name != self._expected:
            raise AttributeError(name)
        return 1


class Restored:
    def __getattr__(self, name):
        return self._target[name]

    def __setstate__(self, state):
        self.__dict__.update(state)
"""
    root = write_files(tmp_path / "p", {"m.py": body})
    assert summary(lint(root, Config(all_classes=True))) == [
        ("PA302", "p/m.py", 2),
        ("PA302", "p/m.py", 7),
        ("PA302", "p/m.py", 12),
    ]


# --- PA301 -------------------------------------------------------------------------------

EXCEPTIONS_FLAGGED = [
    (
        "class E(Exception):\n    def __init__(self, a, b):\n"
        "        super().__init__(f'{a} {b}')\n",
        "__init__ needs 2 argument(s) but self.args holds 1",
    ),
    (
        "class E(ValueError):\n    def __init__(self, msg, *, code):\n"
        "        super().__init__(msg)\n",
        "keyword-only parameter 'code' of __init__ is not kept in self.args",
    ),
    (
        "class E(Exception):\n    def __init__(self, path):\n        super().__init__()\n",
        "__init__ needs 1 argument(s) but self.args holds 0",
    ),
    (
        "class E(Exception):\n    def __init__(self, a):\n"
        "        Exception.__init__(self, a, 'extra')\n",
        "__init__ takes 1 argument(s) but self.args holds 2",
    ),
]


@pytest.mark.parametrize(("source", "reason"), EXCEPTIONS_FLAGGED)
def test_exceptions_that_cannot_unpickle(tmp_path: Path, source: str, reason: str) -> None:
    root = write_files(tmp_path / "p", {"errors.py": source})
    [finding] = lint(root)
    assert (finding.rule, finding.line, finding.symbol) == ("PA301", 2, "E")
    assert finding.message.startswith(f"E pickles but cannot be unpickled: {reason}")


EXCEPTIONS_CLEAN = [
    "class E(Exception):\n    def __init__(self, msg):\n        super().__init__(msg)\n",
    "class E(Exception):\n    def __init__(self, *args):\n        super().__init__(*args)\n",
    "class E(Exception):\n    def __init__(self, a, b=None):\n        super().__init__(a)\n",
    "class E(Exception):\n    def __init__(self, a, b=1, c=2):\n"
    "        super().__init__(a, b, c)\n        self.c = c\n",
    "class E(Exception):\n    def __init__(self, a, b):\n        self.a, self.b = a, b\n",
    "class E(Exception):\n    def __init__(self, a, b):\n        super().__init__(f'{a}{b}')\n"
    "        self.a, self.b = a, b\n\n    def __reduce__(self):\n"
    "        return (E, (self.a, self.b))\n",
    "class E(Exception):\n    def __init__(self, a, b):\n        super().__init__(a)\n"
    "        self.args = (a, b)\n",
    "class E(KeyError):\n    pass\n",
    "class NotAnError:\n    def __init__(self, a, b):\n        super().__init__()\n",
]


@pytest.mark.parametrize("source", EXCEPTIONS_CLEAN)
def test_exceptions_that_round_trip_are_clean(tmp_path: Path, source: str) -> None:
    root = write_files(tmp_path / "p", {"errors.py": source})
    assert lint(root) == []


def test_exception_hierarchy_across_modules(tmp_path: Path) -> None:
    root = write_files(
        tmp_path / "p",
        {
            "pkg/__init__.py": "",
            "pkg/base.py": "class BaseError(RuntimeError):\n    pass\n",
            "pkg/errors.py": "from .base import BaseError\n\n\n"
            "class Broken(BaseError):\n    def __init__(self, a, b):\n"
            "        super().__init__(a)\n",
        },
    )
    assert summary(lint(root)) == [("PA301", "p/pkg/errors.py", 5)]


# --- PA2: the boundary call ---------------------------------------------------------------


def boundary_findings(tmp_path: Path, source: str) -> list[tuple[str, int, str, str]]:
    root = write_files(tmp_path / "p", {"main.py": source})
    return [(f.rule, f.line, f.severity, f.message) for f in lint(root)]


def test_lambda_and_nested_function_as_the_task(tmp_path: Path) -> None:
    source = """
from concurrent.futures import ProcessPoolExecutor


def run(xs):
    def square(x):
        return x * x

    class Task:
        def go(self):
            return 1

    task = Task()
    with ProcessPoolExecutor() as pool:
        a = pool.submit(lambda: 1)
        b = list(pool.map(square, xs))
        c = pool.submit(task.go)
    return a, b, c
"""
    assert boundary_findings(tmp_path, source) == [
        ("PA201", 14, "error", "lambda handed to pool.submit(lambda ...) cannot be pickled"),
        (
            "PA201",
            15,
            "error",
            "nested function square handed to pool.map(square, ...) cannot be pickled",
        ),
        (
            "PA201",
            16,
            "error",
            "method task.go of a local class instance handed to pool.submit(task.go) cannot"
            " be pickled",
        ),
    ]


def test_values_passed_across_the_boundary(tmp_path: Path) -> None:
    source = """
import multiprocessing


def work(*args):
    return args


def run(d):
    pool = multiprocessing.Pool(2)
    pool.apply_async(work, (d.keys(), lambda: 0))
    pool.map(work, d.items())
    pool.map(work, [d.values()])
"""
    assert boundary_findings(tmp_path, source) == [
        ("PA101", 10, "error", "lambda passed to pool.apply_async(work, ...) cannot be pickled"),
        ("PA102", 10, "error", "dict view passed to pool.apply_async(work, ...) cannot be pickled"),
        ("PA102", 12, "error", "dict view passed to pool.map(work, ...) cannot be pickled"),
    ]


def test_bound_method_is_a_warning_when_the_instance_pickles(tmp_path: Path) -> None:
    source = """
from concurrent.futures import ProcessPoolExecutor


class Job:
    def __init__(self, n: int):
        self.n = n

    def step(self, i):
        return i * self.n

    def run(self):
        with ProcessPoolExecutor() as pool:
            return list(pool.map(self.step, range(self.n)))
"""
    [(rule, line, severity, message)] = boundary_findings(tmp_path, source)
    assert (rule, line, severity) == ("PA202", 13, "warning")
    assert message == (
        "bound method self.step handed to pool.map(self.step, ...) pickles the whole Job"
        " instance with every task"
    )


def test_bound_methods_of_local_instances_and_inside_partial(tmp_path: Path) -> None:
    source = """
import functools
from concurrent.futures import ProcessPoolExecutor


class Job:
    def __init__(self):
        self.order = {}.values()

    def step(self, i):
        return i


def run():
    job = Job()
    with ProcessPoolExecutor() as pool:
        pool.submit(job.step, 1)
        pool.submit(functools.partial(job.step, 2))
"""
    findings = boundary_findings(tmp_path, source)
    assert [(rule, line, severity) for rule, line, severity, _ in findings] == [
        ("PA102", 7, "error"),
        ("PA202", 16, "error"),
        ("PA202", 17, "error"),
    ]
    assert findings[1][3] == (
        "bound method Job.step handed to pool.submit(job.step, ...) pickles the whole Job"
        " instance with every task, and it cannot be pickled: dict view on Job.order"
    )


def test_main_guard_function_handed_to_a_process(tmp_path: Path) -> None:
    source = """
import multiprocessing as mp

if __name__ == "__main__":
    def job(x):
        return x

    proc = mp.Process(target=job, args=(1,))
    proc.start()
"""
    assert boundary_findings(tmp_path, source) == [
        (
            "PA203",
            7,
            "error",
            "function job, defined under the __main__ guard, handed to mp.Process(target=job, ...)"
            " cannot be imported by spawn/forkserver workers",
        )
    ]


@pytest.mark.parametrize(
    "source",
    [
        # thread pools are never process boundaries
        "from concurrent.futures import ThreadPoolExecutor\n\n\ndef run(d):\n"
        "    with ThreadPoolExecutor() as pool:\n        pool.submit(lambda: d.keys())\n",
        "from multiprocessing.pool import ThreadPool\n\n\ndef run(d):\n"
        "    pool = ThreadPool(2)\n    pool.apply_async(lambda: 1, (d.keys(),))\n",
        # an unknown receiver is not a boundary
        "def run(pool, d):\n    pool.submit(lambda: 1, d.keys())\n",
        # cloudpickle handles lambdas, closures and views
        "from dask.distributed import Client\n\n\ndef run(d):\n    client = Client()\n"
        "    client.submit(lambda x: x, d.keys())\n",
        "from joblib import Parallel, delayed\n\n\ndef run(xs):\n"
        "    return Parallel(n_jobs=2)(delayed(lambda x: x)(x) for x in xs)\n",
        # items of an iterated argument cross, not the iterable
        "from concurrent.futures import ProcessPoolExecutor\n\n\ndef work(kv):\n    return kv\n\n\n"
        "def run(d):\n    with ProcessPoolExecutor() as pool:\n"
        "        return list(pool.map(work, d.items()))\n",
    ],
)
def test_clean_boundaries(tmp_path: Path, source: str) -> None:
    assert boundary_findings(tmp_path, source) == []


def test_cloudpickle_boundaries_still_reject_generators_and_locks(tmp_path: Path) -> None:
    source = """
import threading
from dask.distributed import Client


def work(x):
    return x


def run(xs):
    client = Client()
    client.submit(work, (x for x in xs))
    client.submit(work, threading.Lock())
"""
    assert boundary_findings(tmp_path, source) == [
        (
            "PA104",
            11,
            "error",
            "generator passed to client.submit(work, ...) cannot be pickled by cloudpickle",
        ),
        (
            "PA105",
            12,
            "error",
            "threading lock (threading.Lock) passed to client.submit(work, ...) cannot be pickled"
            " by cloudpickle",
        ),
    ]


def test_dill_boundaries_accept_locks_and_sockets(tmp_path: Path) -> None:
    # multiprocess pickles with dill, which saves locks, and has multiprocessing's
    # reducers, which send a socket as a duplicated descriptor (tests/test_realworld_sockets.py)
    source = """
import socket
import threading
from multiprocess import Pool


class Holder:
    def __init__(self):
        self.lock = threading.Lock()
        self.sock = socket.socket()


def work(holder: Holder):
    return holder


def run():
    with Pool(2) as pool:
        pool.apply(work, (Holder(),))
"""
    root = write_files(tmp_path / "p", {"main.py": source})
    assert lint(root) == []
