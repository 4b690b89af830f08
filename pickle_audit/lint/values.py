"""Does a value, as the syntax describes it, survive a given serializer?

The tables say which serializers fail on which kinds of value: cloudpickle
handles lambdas, closures, dict views and local classes; dill handles even
locks and files; nothing pickles a generator. multiprocessing's own pickler (which
multiprocess and loky extend) sends sockets as duplicated file descriptors.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources

from pickle_audit.lint.facts import FunctionFact, ModuleFacts, ValueFact
from pickle_audit.lint.index import ProjectIndex

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

PICKLE_ONLY = frozenset({"pickle"})
NOT_DILL = frozenset({"pickle", "cloudpickle"})
EVERY = frozenset({"pickle", "cloudpickle", "dill"})
PICKLE_AND_DILL = frozenset({"pickle", "dill"})
CLOUDPICKLE_ONLY = frozenset({"cloudpickle"})
SOCKET = "socket"


# Shared by multiprocessing with the processes it starts (Process args, a pool's
# initargs), refused everywhere else: "Queue objects should only be shared between
# processes through inheritance".
INHERITED_ONLY = "PA109"
_MP_PREFIXES = ("multiprocessing", "multiprocessing.get_context()", "multiprocessing.context")

_TEXT_OPENERS = ("builtins.open", "io.open", "os.fdopen")

_RESOURCE_GROUPS: tuple[tuple[str, str, frozenset[str], tuple[str, ...]], ...] = (
    (
        "PA105",
        "threading lock",
        NOT_DILL,
        (
            *tuple(
                f"threading.{n}"
                for n in (
                    "Lock",
                    "RLock",
                    "Condition",
                    "Semaphore",
                    "BoundedSemaphore",
                    "Event",
                    "Barrier",
                )
            ),
            "_thread.allocate_lock",
            "_thread.RLock",
        ),
    ),
    (
        "PA105",
        "thread queue",
        NOT_DILL,
        tuple(f"queue.{n}" for n in ("Queue", "LifoQueue", "PriorityQueue", "SimpleQueue")),
    ),
    # cloudpickle carries a text file opened for reading (the default mode of these
    # three) by reading its contents; binary and write-only files it refuses (the mode
    # written at the call decides: _cloudpickle_refuses_mode)
    ("PA105", "open file", PICKLE_ONLY, _TEXT_OPENERS),
    (
        "PA105",
        "open file",
        NOT_DILL,
        (
            "io.FileIO",
            "gzip.open",
            "bz2.open",
            "lzma.open",
            "codecs.open",
            "tempfile.TemporaryFile",
            "tempfile.NamedTemporaryFile",
            "tempfile.SpooledTemporaryFile",
        ),
    ),
    # multiprocessing's pickler (and multiprocess's, and loky's) sends a socket as a
    # duplicated file descriptor; plain cloudpickle (Dask, Ray) refuses it
    (
        "PA105",
        SOCKET,
        CLOUDPICKLE_ONLY,
        (
            "socket.socket",
            "socket.create_connection",
            "socket.create_server",
            "socket.fromfd",
            "socket.socketpair",
        ),
    ),
    ("PA105", "sqlite3 connection", EVERY, ("sqlite3.connect", "sqlite3.Connection")),
    ("PA105", "subprocess", EVERY, ("subprocess.Popen",)),
    (
        "PA105",
        "executor or pool",
        EVERY,
        (
            "concurrent.futures.ProcessPoolExecutor",
            "concurrent.futures.ThreadPoolExecutor",
            "concurrent.futures.process.ProcessPoolExecutor",
            "concurrent.futures.thread.ThreadPoolExecutor",
            "multiprocessing.Pool",
            "multiprocessing.pool.Pool",
            "multiprocessing.pool.ThreadPool",
            "multiprocessing.get_context().Pool",
            "multiprocessing.dummy.Pool",
        ),
    ),
    (
        INHERITED_ONLY,
        "multiprocessing primitive",
        EVERY,
        tuple(
            f"{prefix}.{n}"
            for prefix in _MP_PREFIXES
            for n in (
                "Queue",
                "SimpleQueue",
                "JoinableQueue",
                "Lock",
                "RLock",
                "Semaphore",
                "BoundedSemaphore",
                "Condition",
                "Event",
                "Barrier",
                "Value",
                "Array",
                "RawValue",
                "RawArray",
            )
        )
        + tuple(
            f"multiprocessing.sharedctypes.{n}" for n in ("Value", "Array", "RawValue", "RawArray")
        ),
    ),
    (
        "PA105",
        "multiprocessing manager",
        EVERY,
        tuple(f"{prefix}.Manager" for prefix in _MP_PREFIXES),
    ),
    (
        "PA105",
        "logging handler",
        NOT_DILL,
        tuple(f"logging.{n}" for n in ("Handler", "StreamHandler", "FileHandler"))
        + tuple(
            f"logging.handlers.{n}"
            for n in (
                "RotatingFileHandler",
                "TimedRotatingFileHandler",
                "WatchedFileHandler",
                "SocketHandler",
                "DatagramHandler",
                "SysLogHandler",
                "QueueHandler",
                "QueueListener",
                "MemoryHandler",
                "BufferingHandler",
                "HTTPHandler",
                "SMTPHandler",
            )
        ),
    ),
    ("PA105", "memory map", EVERY, ("mmap.mmap",)),
    ("PA105", "memoryview", PICKLE_AND_DILL, ("builtins.memoryview",)),
    ("PA108", "weak reference", NOT_DILL, ("weakref.ref", "weakref.proxy", "_weakref.ref")),
    ("PA108", "mappingproxy", PICKLE_ONLY, ("types.MappingProxyType",)),
    ("PA108", "module object", PICKLE_ONLY, ("importlib.import_module", "builtins.__import__")),
)


@dataclass(frozen=True)
class KnownValue:
    """One catalogue entry: the calls that make a value, and who refuses it."""

    rule: str
    label: str
    fails: frozenset[str]
    calls: tuple[str, ...]
    package: str  # imported by the test that verifies the entry


def known_unpicklable() -> tuple[KnownValue, ...]:
    """The catalogue of well-known third-party (and more stdlib) values. It is data
    (pickle_audit/data/known_unpicklable.toml), so a library's client type takes one
    entry, and tests/test_known_unpicklable.py proves each entry on a real instance."""
    text = resources.files("pickle_audit").joinpath("data/known_unpicklable.toml").read_text()
    return tuple(
        KnownValue(
            entry["rule"],
            entry["label"],
            frozenset(entry["fails"]),
            tuple(entry["calls"]),
            entry["package"],
        )
        for entry in tomllib.loads(text)["entry"]
    )


_CALLS: dict[str, tuple[str, str, frozenset[str]]] = {
    name: (rule, label, fails)
    for rule, label, fails, names in (
        *_RESOURCE_GROUPS,
        *((known.rule, known.label, known.fails, known.calls) for known in known_unpicklable()),
    )
    for name in names
}


def is_known_resource(resolved: str) -> bool:
    """A call (by its resolved name) that makes a value some serializer refuses: the
    extractor records such a value when it is handed to a helper, to judge it there."""
    return resolved in _CALLS


@dataclass(frozen=True)
class ValueProblem:
    rule: str
    what: str  # "dict view", "threading lock (threading.Lock)", ...
    # sent as a file descriptor by picklers with multiprocessing's reducers (loky's too)
    by_descriptor: bool = False


@dataclass(frozen=True)
class ValueContext:
    """Where a value was written: names in it resolve in this module and class."""

    index: ProjectIndex
    module: ModuleFacts
    class_qualname: str = ""
    depth: int = 0  # project functions followed into for what they return


def judge(value: ValueFact | None, serializer: str, ctx: ValueContext) -> ValueProblem | None:
    """The first reason `value` cannot be serialized by `serializer`, or None."""
    return next(judge_all(value, serializer, ctx), None)


def judge_all(
    value: ValueFact | None, serializer: str, ctx: ValueContext
) -> Iterator[ValueProblem]:
    """Every reason, one per bad element of a literal container."""
    if value is None:
        return
    if value.kind in ("container", "partial"):
        for item in value.items:
            yield from judge_all(item, serializer, ctx)
        return
    if value.kind == "defaultdict":
        for problem in judge_all(value.items[0], serializer, ctx):
            what = f"defaultdict whose default factory is a {problem.what}"
            yield ValueProblem(problem.rule, what)
        return
    problem = _judge_single(value, serializer, ctx)
    if problem is not None:
        yield problem


def _judge_single(value: ValueFact, serializer: str, ctx: ValueContext) -> ValueProblem | None:
    kind = value.kind
    if kind == "call":
        return _judge_call(value.name, serializer, ctx, value.mode)
    if kind == "name":
        if serializer == "pickle" and ctx.index.is_module_name(ctx.module, value.name):
            return ValueProblem("PA108", f"module object {value.name}")
        return None
    if kind == "genexp":
        return ValueProblem("PA104", "generator")
    if serializer != "pickle":
        return None
    simple = {
        "lambda": ("PA101", "lambda"),
        "dict_view": ("PA102", "dict view"),
        "nested_function": ("PA103", f"nested function {value.name}"),
        "partial_closure": ("PA103", "functools.partial over a lambda or nested function"),
        "local_class": ("PA106", f"local class {value.name}"),
        "local_class_instance": ("PA106", f"instance of local class {value.name}"),
        "local_class_method": ("PA106", f"method {value.name} of a local class instance"),
    }.get(kind)
    return ValueProblem(*simple) if simple else None


_MAX_RETURN_DEPTH = 3


def _judge_call(name: str, serializer: str, ctx: ValueContext, mode: str) -> ValueProblem | None:
    index = ctx.index
    head, _, rest = name.partition(".")
    if head == "self" and "." not in rest:
        if not rest:
            return None
        return _judge_callee(
            index.callee(ctx.module, ctx.class_qualname, name), name, serializer, ctx
        )
    if head == "self":
        # `self.ctx.Queue()`, where the class sets `self.ctx = get_context("spawn")`
        resolved = index.self_attribute_type(ctx.module, ctx.class_qualname, rest)
        if not resolved or resolved.startswith("self."):
            return None
    else:
        resolved = index.resolve(ctx.module, name)
    known = _CALLS.get(resolved)
    if known is not None:
        rule, label, fails = known
        shown = resolved.removeprefix("builtins.")
        if serializer in fails:
            return ValueProblem(rule, f"{label} ({shown})", by_descriptor=label == SOCKET)
        refused_mode = serializer == "cloudpickle" and resolved in _TEXT_OPENERS
        if refused_mode and _cloudpickle_refuses_mode(mode):
            return ValueProblem(rule, f"{label} ({shown}, mode {mode!r})")
        return None
    return _judge_callee(index.callee(ctx.module, "", resolved), name, serializer, ctx)


def _cloudpickle_refuses_mode(mode: str) -> bool:
    """cloudpickle reduces only text files it can read back (`r`, `r+`, `w+`, `a+`): a
    binary mode gives a buffered file it has no reducer for, `w`/`a`/`x` one it refuses.
    An unknown mode (not a literal) is given the benefit of the doubt."""
    return bool(mode) and ("b" in mode or ("r" not in mode and "+" not in mode))


def _judge_callee(
    found: tuple[ModuleFacts, FunctionFact, str] | None,
    name: str,
    serializer: str,
    ctx: ValueContext,
) -> ValueProblem | None:
    if found is None:
        return None
    module, function, owner = found
    if function.is_generator:
        return ValueProblem("PA104", f"generator from {name}()")
    inner = ValueContext(ctx.index, module, owner, ctx.depth + 1)
    return _judge_returned(function, name, serializer, inner)


def _judge_returned(
    function: FunctionFact, name: str, serializer: str, ctx: ValueContext
) -> ValueProblem | None:
    """What a project function returns, judged where it is written: `self.log =
    self.open_log()` stores the file that `open_log` opens."""
    if ctx.depth > _MAX_RETURN_DEPTH:
        return None
    for value in function.returned:
        problem = judge(value, serializer, ctx)
        if problem is not None:
            return ValueProblem(problem.rule, f"{problem.what} returned by {name}()")
    return None
