"""Interception of process boundaries, for `pickle-audit trace script.py`.

Every call that hands values to another process (pool submit/map/apply,
Process.start, queue put, Connection.send, Manager proxies, Dask and loky
submit/map) is wrapped so the payload is audited with that boundary's
serializer *before* the real call pickles it, and reported at the user's line.

Pool and executor entry points count whoever calls them: `multiprocessing.Pool(...)`
reaches the pool class through multiprocessing's own context, joblib and
`loop.run_in_executor` reach `submit` from library code. A boundary call made
while another one is running (an executor's map calling its own submit) is part
of that call and is not audited twice. The plumbing (queue puts, connection
sends, worker processes) counts only when user code calls it: a pool feeding its
own workers is not a payload of the user's. Thread pools share the process and
are let through.

Iterators handed to map-like calls are audited item by item as the pool consumes
them, so an endless `itertools.count()` works and memory stays flat.
Everything patched is restored on exit, and modules imported later (Dask, loky)
are patched as they are imported.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import inspect
import multiprocessing.pool
import os
import sys
import sysconfig
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from pickle_audit.catalog import get_rule
from pickle_audit.findings import Problem
from pickle_audit.trace.divergence import Divergence, ImportTimeValues, divergences
from pickle_audit.trace.serializers import MULTIPROCESSING
from pickle_audit.trace.source import display_path
from pickle_audit.trace.start_methods import method_of_context, method_of_pool, method_of_process


@dataclass(frozen=True)
class Boundary:
    """Where values leave the process, and which parameters carry them."""

    module: str
    owner: str  # class name in `module`
    method: str
    serializer: str
    fn: str | None = None  # the parameter holding the callable
    args: str | None = None  # the parameter holding positional payload values
    args_kind: str = "varargs"  # varargs | tuple | iterable | iterables | value
    kwargs: str | None = None  # the parameter holding keyword payload values
    exclude: tuple[str, ...] = ()  # keyword parameters that configure, not carry
    public_owner: str | None = None  # the documented class, when `owner` is a private base
    fn_root: str = "fn"  # how the report names the callable ...
    args_root: str = "args"  # ... and the positional values
    from_libraries: bool = False  # an entry point: audited when library code calls it too
    title: str | None = None  # how reports name the call, when not `Owner.method`
    inherited_under_fork: bool = False  # a forked child inherits it: pickled only otherwise

    @property
    def label(self) -> str:
        if self.title is not None:
            return self.title
        owner = self.public_owner or self.owner
        return (
            f"{owner}(initializer=...)" if self.method == "__init__" else f"{owner}.{self.method}"
        )


def _pool(method: str, kind: str) -> Boundary:
    module, owner = "multiprocessing.pool", "Pool"
    if kind == "apply":
        return Boundary(
            module, owner, method, "pickle", "func", "args", "tuple", "kwds", from_libraries=True
        )
    return Boundary(module, owner, method, "pickle", "func", "iterable", kind, from_libraries=True)


def _executor(module: str, owner: str, serializer: str) -> tuple[Boundary, ...]:
    return (
        Boundary(
            module,
            owner,
            "submit",
            serializer,
            "fn",
            "args",
            "varargs",
            "kwargs",
            from_libraries=True,
        ),
        Boundary(
            module, owner, "map", serializer, "fn", "iterables", "iterables", from_libraries=True
        ),
    )


def _initializer(module: str, owner: str) -> Boundary:
    """A pool's constructor ships `initializer(*initargs)` to every worker it starts."""
    return Boundary(
        module,
        owner,
        "__init__",
        "pickle",
        "initializer",
        "initargs",
        "tuple",
        fn_root="initializer",
        args_root="initargs",
        from_libraries=True,
        inherited_under_fork=True,
    )


_DASK_OPTIONS = (
    "key",
    "workers",
    "resources",
    "retries",
    "priority",
    "fifo_timeout",
    "allow_other_workers",
    "actor",
    "actors",
    "pure",
    "batch_size",
)

BOUNDARIES: tuple[Boundary, ...] = (
    *_executor("concurrent.futures.process", "ProcessPoolExecutor", "pickle"),
    _initializer("concurrent.futures.process", "ProcessPoolExecutor"),
    _initializer("multiprocessing.pool", "Pool"),
    _pool("apply", "apply"),
    _pool("apply_async", "apply"),
    _pool("map", "iterable"),
    _pool("map_async", "iterable"),
    _pool("imap", "iterable"),
    _pool("imap_unordered", "iterable"),
    _pool("starmap", "iterable"),
    _pool("starmap_async", "iterable"),
    Boundary(
        "multiprocessing.process",
        "BaseProcess",
        "start",
        "pickle",
        public_owner="Process",
        inherited_under_fork=True,
    ),
    Boundary("multiprocessing.queues", "Queue", "put", "pickle", None, "obj", "value"),
    Boundary("multiprocessing.queues", "JoinableQueue", "put", "pickle", None, "obj", "value"),
    Boundary("multiprocessing.queues", "SimpleQueue", "put", "pickle", None, "obj", "value"),
    Boundary(
        "multiprocessing.connection",
        "_ConnectionBase",
        "send",
        "pickle",
        None,
        "obj",
        "value",
        public_owner="Connection",
    ),
    Boundary(
        "multiprocessing.managers",
        "BaseProxy",
        "_callmethod",
        "pickle",
        None,
        "args",
        "tuple",
        "kwds",
        from_libraries=True,
        title="Manager() proxy call",
    ),
    Boundary(
        "distributed.client",
        "Client",
        "submit",
        "cloudpickle",
        "func",
        "args",
        "varargs",
        "kwargs",
        _DASK_OPTIONS,
        from_libraries=True,
    ),
    Boundary(
        "distributed.client",
        "Client",
        "map",
        "cloudpickle",
        "func",
        "iterables",
        "iterables",
        "kwargs",
        _DASK_OPTIONS,
        from_libraries=True,
    ),
    *_executor("loky.process_executor", "ProcessPoolExecutor", "cloudpickle"),
    *_executor("joblib.externals.loky.process_executor", "ProcessPoolExecutor", "cloudpickle"),
)

# Always present: patched up front. The rest are patched when (if) imported.
_STDLIB_MODULES = (
    "concurrent.futures.process",
    "multiprocessing.pool",
    "multiprocessing.process",
    "multiprocessing.queues",
    "multiprocessing.connection",
)
# multiprocessing.managers is patched when the script imports it, never imported here:
# importing it registers reducers that let dict views through every multiprocessing call

# Receivers whose workers are threads of this process: nothing they are given is pickled.
_IN_PROCESS_POOLS = ("multiprocessing.pool.ThreadPool",)


@dataclass(frozen=True)
class Violation:
    """A bad payload at one boundary call."""

    boundary: str  # e.g. "ProcessPoolExecutor.submit"
    call_site: str  # "file:line" of the user's call
    serializer: str
    problems: tuple[Problem, ...]
    start_method: str | None = None  # set when only this start method pickles the payload


@dataclass(frozen=True)
class StaleGlobals:
    """Globals a task reads that workers started by spawn/forkserver see differently."""

    boundary: str
    call_site: str
    start_method: str
    globals: tuple[Divergence, ...]


class PayloadRejected(BaseException):
    """Stops the traced script at a bad boundary call.

    A BaseException, like KeyboardInterrupt, so the script's own `except
    Exception` blocks do not swallow it while `with` blocks still shut pools down.
    """

    def __init__(self, violation: Violation) -> None:
        super().__init__(f"{violation.call_site}: bad payload for {violation.boundary}")
        self.violation = violation


class BadPayloadError(TypeError):
    """A bad item met while a pool consumes an iterator in one of its own threads.

    Raising PayloadRejected there would kill the pool's feeder thread and hang
    the script; a TypeError is what the pool reports back through that task's
    result, as it does for any item that cannot be pickled. The violation is
    recorded all the same.
    """


@dataclass
class Interceptions:
    """What the interceptor saw; filled while the script runs."""

    violations: list[Violation] = field(default_factory=list)
    stale_globals: list[StaleGlobals] = field(default_factory=list)
    payloads_checked: int = 0


def _library_roots() -> tuple[str, ...]:
    """Directories whose frames are library internals, never the user's call site."""
    import multiprocessing

    import pickle_audit

    roots = [
        os.path.dirname(multiprocessing.__file__),
        os.path.join(sysconfig.get_paths()["stdlib"], "concurrent"),
        os.path.join(sysconfig.get_paths()["stdlib"], "runpy.py"),
        os.path.dirname(pickle_audit.__file__),
        os.path.join(sysconfig.get_paths()["stdlib"], "threading.py"),
    ]
    for name in ("distributed", "dask", "loky", "joblib", "tornado", "asyncio"):
        spec = importlib.util.find_spec(name) if name not in sys.modules else None
        origin = getattr(sys.modules.get(name), "__file__", None) or (spec and spec.origin)
        if origin:
            roots.append(os.path.dirname(origin))
    return tuple(os.path.realpath(root) for root in roots)


class Interceptor:
    """Context manager: audit every payload at a process boundary while active."""

    def __init__(self, *, serializer: str | None = None, keep_going: bool = False) -> None:
        self.result = Interceptions()
        self._serializer_override = serializer
        self._keep_going = keep_going
        self._patched: list[tuple[type, str, Any]] = []
        self._finder: _PatchOnImport | None = None
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._active = threading.local()  # boundary calls running in this thread
        self._library_roots = _library_roots()
        self._import_values = ImportTimeValues()
        self._stale_seen: set[tuple[str, str]] = set()  # (module, name): reported once

    def __enter__(self) -> Interceptor:
        for module_name in _STDLIB_MODULES:
            self._patch_module(importlib.import_module(module_name))
        pending = {b.module for b in BOUNDARIES} - set(_STDLIB_MODULES)
        for module_name in sorted(pending):
            if module_name in sys.modules:
                self._patch_module(sys.modules[module_name])
        self._finder = _PatchOnImport(pending - set(sys.modules), self._patch_module)
        sys.meta_path.insert(0, self._finder)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._finder is not None and self._finder in sys.meta_path:
            sys.meta_path.remove(self._finder)
        for owner, name, original in reversed(self._patched):
            setattr(owner, name, original)
        self._patched.clear()

    def _patch_module(self, module: Any) -> None:
        for boundary in BOUNDARIES:
            if boundary.module != module.__name__:
                continue
            owner = getattr(module, boundary.owner, None)
            original = owner.__dict__.get(boundary.method) if owner is not None else None
            if original is None:
                continue
            self._patched.append((owner, boundary.method, original))
            setattr(owner, boundary.method, self._wrap(boundary, original))

    def _wrap(self, boundary: Boundary, original: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(original)
        interceptor = self
        active = self._active

        def intercepted(*args: Any, **kwargs: Any) -> Any:
            if not interceptor._judges(boundary, args, sys._getframe(1).f_code.co_filename):
                return original(*args, **kwargs)
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError:  # a wrong call: let the library say what is wrong with it
                return original(*args, **kwargs)
            method = _start_method(boundary, bound)
            if boundary.inherited_under_fork and method == "fork":
                return original(*bound.args, **bound.kwargs)  # inherited: nothing is pickled
            call_site = interceptor._call_site()
            roots = _payload_roots(boundary, bound)
            interceptor._audit_lazily(boundary, bound, call_site)
            if method in ("spawn", "forkserver"):
                interceptor._check_globals(boundary, roots, call_site, method)
            only = method if boundary.inherited_under_fork else None
            try:
                interceptor._check(boundary, roots, call_site, only)
            except PayloadRejected:
                if boundary.method == "__init__":
                    _never_started(args[0])
                raise
            active.depth = getattr(active, "depth", 0) + 1
            try:
                return original(*bound.args, **bound.kwargs)
            finally:
                active.depth -= 1

        intercepted.__wrapped__ = original  # type: ignore[attr-defined]
        intercepted.__name__ = getattr(original, "__name__", boundary.method)
        intercepted.__qualname__ = getattr(original, "__qualname__", boundary.label)
        return intercepted

    def _judges(self, boundary: Boundary, args: tuple[Any, ...], caller: str) -> bool:
        """Whether this call is a payload of the user's (see the module docstring)."""
        if os.getpid() != self._pid or getattr(self._active, "depth", 0):
            return False
        if not boundary.from_libraries and self._is_library(caller):
            return False
        receiver = type(args[0]) if args else None
        names = {f"{k.__module__}.{k.__qualname__}" for k in getattr(receiver, "__mro__", ())}
        return not names.intersection(_IN_PROCESS_POOLS)

    def _audit_lazily(self, boundary: Boundary, bound: inspect.BoundArguments, site: str) -> None:
        """Iterators (not lists) handed to map-like calls: each item is audited as the
        pool takes it, with the call's own site, and handed on unchanged."""
        arguments = bound.arguments
        name = boundary.args
        if name is None or name not in arguments:
            return
        caller = threading.get_ident()
        if boundary.args_kind == "iterable" and _is_lazy(arguments[name]):
            root = f"{boundary.args_root}[0]"
            arguments[name] = self._audited_items(boundary, arguments[name], root, site, caller)
        elif boundary.args_kind == "iterables":
            arguments[name] = tuple(
                self._audited_items(boundary, items, f"{boundary.args_root}[{i}]", site, caller)
                if _is_lazy(items)
                else items
                for i, items in enumerate(arguments[name])
            )

    def _audited_items(
        self, boundary: Boundary, items: Any, root: str, site: str, caller: int
    ) -> Iterator[Any]:
        for index, item in enumerate(items):
            try:
                self._check(boundary, [(f"{root}[{index}]", item)], site)
            except PayloadRejected as rejected:
                if threading.get_ident() == caller:
                    raise
                _stop_thread(caller)  # the caller stops as at any bad payload ...
                raise BadPayloadError(str(rejected)) from None  # ... and the pool goes on
            yield item

    def _is_library(self, filename: str) -> bool:
        if filename.startswith("<"):
            return True
        real = os.path.realpath(filename)
        return any(real == root or real.startswith(root + os.sep) for root in self._library_roots)

    def _call_site(self) -> str:
        frame = sys._getframe(2)  # the caller of `intercepted`
        while frame is not None and self._is_library(frame.f_code.co_filename):
            frame = frame.f_back  # type: ignore[assignment]
        if frame is None:
            return "<unknown>"
        return f"{display_path(frame.f_code.co_filename)}:{frame.f_lineno}"

    def _check_globals(
        self, boundary: Boundary, roots: list[tuple[str, Any]], call_site: str, method: str
    ) -> None:
        """Globals the task reads that a freshly imported worker sees differently."""
        task = next((value for name, value in roots if name == boundary.fn_root), None)
        if task is None:
            return
        found, failures = divergences(task, self._import_values)
        for failure in failures:
            print(f"pickle-audit trace: cannot compare globals: {failure}", file=sys.stderr)
        with self._lock:
            new = [d for d in found if (d.module, d.name) not in self._stale_seen]
            self._stale_seen.update((d.module, d.name) for d in new)
            if new:
                stale = StaleGlobals(boundary.label, call_site, method, tuple(new))
                self.result.stale_globals.append(stale)

    def _check(
        self,
        boundary: Boundary,
        roots: list[tuple[str, Any]],
        call_site: str,
        start_method: str | None = None,
    ) -> None:
        from pickle_audit.trace.audit import audit_payload

        serializer = self._serializer_override or boundary.serializer
        # multiprocessing's calls pickle with its own pickler, unless told otherwise
        profile = (
            serializer if self._serializer_override or serializer != "pickle" else MULTIPROCESSING
        )
        try:
            problems = audit_payload(roots, serializer=profile)
        except Exception as error:  # never break the traced script over an audit failure
            print(
                f"pickle-audit trace: could not audit the payload of {boundary.label} at"
                f" {call_site}: {type(error).__name__}: {error}",
                file=sys.stderr,
            )
            return
        with self._lock:
            self.result.payloads_checked += 1
        if not problems:
            return
        violation = Violation(boundary.label, call_site, serializer, tuple(problems), start_method)
        with self._lock:
            self.result.violations.append(violation)
        if not self._keep_going:
            raise PayloadRejected(violation)


def _never_started(pool: Any) -> None:
    """A pool stopped before its constructor ran: `Pool.__del__` would fail on it."""
    if isinstance(pool, multiprocessing.pool.Pool):
        pool._state = multiprocessing.pool.CLOSE


def _start_method(boundary: Boundary, bound: inspect.BoundArguments) -> str | None:
    """How the processes this call feeds start; None where that does not matter."""
    arguments = bound.arguments
    receiver = next(iter(arguments.values()), None)
    if boundary.method == "start":
        return method_of_process(receiver)
    if boundary.method == "__init__":
        return method_of_context(arguments.get("mp_context", arguments.get("context")))
    if boundary.module in ("concurrent.futures.process", "multiprocessing.pool"):
        return method_of_pool(receiver)
    return None


def _payload_roots(boundary: Boundary, bound: inspect.BoundArguments) -> list[tuple[str, Any]]:
    """Name what the call sends: `fn`, `args[i]`, `kwargs['k']`. Iterators handed to
    map-like calls are left out here: they are audited as they are consumed."""
    arguments = bound.arguments
    if boundary.method == "start":
        process = next(iter(arguments.values()))
        return _process_roots(process)
    roots: list[tuple[str, Any]] = []
    if boundary.fn is not None and boundary.fn in arguments:
        roots.append((boundary.fn_root, arguments[boundary.fn]))
    if boundary.args is not None and boundary.args in arguments:
        value = arguments[boundary.args]
        name = boundary.args_root
        if boundary.args_kind == "iterable":
            if not _is_lazy(value):
                roots.append((f"{name}[0]", value))
        elif boundary.args_kind == "iterables":
            roots.extend((f"{name}[{i}]", v) for i, v in enumerate(value) if not _is_lazy(v))
        elif boundary.args_kind == "value":
            roots.append((f"{name}[0]", value))
        else:
            roots.extend((f"{name}[{i}]", item) for i, item in enumerate(value or ()))
    if boundary.kwargs is not None and boundary.kwargs in arguments:
        keywords = arguments[boundary.kwargs] or {}
        roots.extend(
            (f"kwargs[{key!r}]", value)
            for key, value in keywords.items()
            if key not in boundary.exclude
        )
    return roots


class _StoppedByAnotherThread(PayloadRejected):
    """Raised in the thread that made the call when a pool's own thread met the bad item."""

    def __init__(self) -> None:
        BaseException.__init__(self, "stopped at a bad payload met by a pool's feeder thread")


def _stop_thread(thread_id: int) -> None:
    """Raise `_StoppedByAnotherThread` in that thread, at its next Python instruction."""
    import ctypes

    set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc
    set_async_exc(ctypes.c_ulong(thread_id), ctypes.py_object(_StoppedByAnotherThread))


def _is_lazy(iterable: Any) -> bool:
    """An iterator or generator (consumed once, maybe endless), not a sized collection."""
    return not hasattr(type(iterable), "__len__")


def _process_roots(process: Any) -> list[tuple[str, Any]]:
    """A Process sends its target and arguments (pickled under spawn/forkserver)."""
    target = getattr(process, "_target", None)
    if target is None:
        return []
    roots: list[tuple[str, Any]] = [("fn", target)]
    roots.extend((f"args[{i}]", value) for i, value in enumerate(process._args))
    roots.extend((f"kwargs[{key!r}]", value) for key, value in process._kwargs.items())
    return roots


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Runs `callback(module)` right after one of `names` is first imported."""

    def __init__(self, names: set[str], callback: Callable[[Any], None]) -> None:
        self._names = set(names)
        self._callback = callback

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: Any = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self._names:
            return None
        self._names.discard(fullname)
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader = spec.loader
        original_exec = loader.exec_module
        callback = self._callback

        def exec_module(module: Any) -> None:
            original_exec(module)
            callback(module)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def iter_violation_lines(violation: Violation) -> Iterator[str]:
    from pickle_audit.trace.report import format_problem

    count = len(violation.problems)
    noun = "problem" if count == 1 else "problems"
    call = violation.boundary if violation.boundary.endswith(")") else f"{violation.boundary}(...)"
    yield (
        f"{violation.call_site}: {call} sends a payload that cannot be"
        f" pickled with {violation.serializer}: {count} {noun}"
    )
    if violation.start_method is not None:
        yield (
            f"  pickled because processes start by {violation.start_method} here;"
            " under fork the child inherits it"
        )
    for problem in violation.problems:
        yield from format_problem(problem)


def iter_stale_lines(stale: StaleGlobals) -> Iterator[str]:
    call = stale.boundary if stale.boundary.endswith(")") else f"{stale.boundary}(...)"
    count = len(stale.globals)
    noun = "global" if count == 1 else "globals"
    yield (
        f"{stale.call_site}: {call} runs code in workers started by {stale.start_method},"
        f" which see {count} {noun} other than this process does"
    )
    for divergence in stale.globals:
        yield f"  {divergence.module}.{divergence.name}  PA204"
        yield f"      {divergence.describe()}"
        yield f"      source: {divergence.source} ({divergence.function} reads it)"
        yield f"      fix: {get_rule('PA204').fix}"
