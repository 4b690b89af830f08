"""Module globals a worker will see differently once it is started by spawn or forkserver.

A forked worker is a copy of the parent: a global the parent changed after
import (`THRESHOLD = float(sys.argv[1])` under the `__main__` guard, a `global`
statement in `main()`, a cache filled at start-up) has the parent's value there.
A worker started by spawn or forkserver imports the module afresh and sees the
value the import gives, or no value at all. Nothing fails: the results differ.

To know what the import gives, the module is imported once more in a fresh
interpreter the way a spawned worker imports it (the main module as
`__mp_main__`, with process start-up refused as in a worker's bootstrap), and
each global is reduced there to a fingerprint: a plain description of its value
that both interpreters can compute and compare. Values too large or too opaque
to describe are never called divergent.
"""

from __future__ import annotations

import dis
import functools
import hashlib
import json
import os
import subprocess
import sys
import sysconfig
import tempfile
import types
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pickle_audit.trace.source import function_source

_GLOBAL_READS = frozenset({"LOAD_GLOBAL", "LOAD_NAME"})
_MAX_FUNCTIONS = 64  # functions followed from one worker function
_MAX_NODES = 20_000  # values described per global
_IMPORT_TIMEOUT = 120.0  # seconds for the fresh interpreter to import the module


@dataclass(frozen=True)
class Divergence:
    """A global that a worker function reads, whose value differs in a spawned worker."""

    function: str  # qualified name of the function that reads it
    source: str  # "file:line" of that function
    module: str  # the module whose global it is ("__main__" for the script)
    name: str
    here: str  # short repr of the parent's value
    there: str | None  # short repr of the import-time value; None: not defined at import

    def describe(self) -> str:
        if self.there is None:
            return (
                f"{self.name} is {self.here} here but not defined when a worker imports"
                f" {self.module}: NameError in {self.function}()"
            )
        return (
            f"{self.name} is {self.here} here but {self.there} in a worker,"
            f" which imports {self.module} afresh"
        )


def fingerprint(value: Any, budget: list[int] | None = None) -> str | None:
    """A description of `value` equal across interpreters exactly when the values are
    equal in the ways a worker would notice; None when it cannot be told."""
    budget = [_MAX_NODES] if budget is None else budget
    budget[0] -= 1
    if budget[0] < 0:
        return None
    kind = type(value)
    if value is None or kind in (bool, int, float, complex, str, bytes):
        text = repr(value)
        return f"{kind.__name__}:{text if len(text) <= 200 else _digest(text)}"
    if kind in (list, tuple):
        return _joined(kind.__name__, (fingerprint(item, budget) for item in value))
    if kind in (set, frozenset):
        items = [fingerprint(item, budget) for item in value]
        return None if None in items else _joined(kind.__name__, iter(sorted(items)))  # type: ignore[type-var]
    if kind is dict:
        pairs = [(fingerprint(k, budget), fingerprint(v, budget)) for k, v in value.items()]
        if any(None in pair for pair in pairs):
            return None
        return _joined("dict", (f"{k}={v}" for k, v in sorted(pairs)))  # type: ignore[type-var]
    if isinstance(value, (types.ModuleType,)):
        return f"module:{value.__name__}"
    if isinstance(value, (type, types.FunctionType, types.BuiltinFunctionType)):
        return f"ref:{_module_of(value)}.{getattr(value, '__qualname__', '?')}"
    if type(value).__module__ == "numpy" and kind.__name__ == "ndarray":
        if value.dtype.hasobject:
            return None
        return f"ndarray:{value.dtype.str}:{value.shape}:{_digest(value.tobytes())}"
    state = _plain_state(value)
    if state is None:
        return None
    inner = fingerprint(state, budget)
    return None if inner is None else f"{_module_of(kind)}.{kind.__qualname__}({inner})"


def _module_of(value: Any) -> str:
    """The defining module's name, the same in the parent and in a spawned worker (which
    knows the main module as `__mp_main__`)."""
    module = str(getattr(value, "__module__", "?"))
    return "__main__" if module == "__mp_main__" else module


def _plain_state(value: Any) -> dict[str, Any] | None:
    """The instance dict of an ordinary object (dataclasses, plain classes), else None."""
    try:
        state = object.__getattribute__(value, "__dict__")
    except AttributeError:
        return None
    return dict(state) if type(state) is dict else None


def _joined(kind: str, parts: Iterator[str | None]) -> str | None:
    collected = []
    for part in parts:
        if part is None:
            return None
        collected.append(part)
    text = ",".join(collected)
    return f"{kind}[{text if len(text) <= 400 else _digest(text)}]"


def _digest(data: str | bytes) -> str:
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def worker_function(task: Any) -> types.FunctionType | None:
    """The Python function a task runs: through partials, bound methods and callable objects."""
    for _ in range(16):
        if isinstance(task, functools.partial):
            task = task.func
        elif isinstance(task, types.MethodType):
            task = task.__func__
        elif isinstance(task, types.FunctionType):
            return task
        else:
            owner = next((k for k in type(task).__mro__ if "__call__" in vars(k)), object)
            call = vars(owner).get("__call__")
            return call if isinstance(call, types.FunctionType) else None
    return None


def is_user_code(filename: str) -> bool:
    """Written by the user: not the standard library, not an installed package."""
    if not filename or filename.startswith("<"):
        return False
    real = os.path.realpath(filename)
    paths = sysconfig.get_paths()
    roots = {paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths}
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    roots.add(here)
    return not any(real.startswith(os.path.realpath(root) + os.sep) for root in roots)


def globals_read(function: types.FunctionType) -> list[tuple[types.FunctionType, str]]:
    """(function, name) for every module global it reads, following the user's own
    functions it calls by global name, each once."""
    found: list[tuple[types.FunctionType, str]] = []
    queue, seen = [function], {id(function)}
    while queue and len(seen) <= _MAX_FUNCTIONS:
        current = queue.pop(0)
        namespace = current.__globals__
        for name in _names_loaded(current.__code__):
            if name not in namespace:
                continue  # a builtin
            found.append((current, name))
            value = namespace[name]
            if (
                isinstance(value, types.FunctionType)
                and id(value) not in seen
                and is_user_code(value.__code__.co_filename)
            ):
                seen.add(id(value))
                queue.append(value)
    return found


def _names_loaded(code: types.CodeType) -> Iterator[str]:
    names: dict[str, None] = {}
    stack = [code]
    while stack:
        current = stack.pop()
        for instruction in dis.get_instructions(current):
            if instruction.opname in _GLOBAL_READS:
                names[str(instruction.argval).removesuffix(" + NULL")] = None
        stack.extend(const for const in current.co_consts if isinstance(const, types.CodeType))
    return iter(names)


class ImportTimeValues:
    """Fingerprints of each module's globals as a freshly started worker imports it.

    One fresh interpreter per module, for the whole run: the import runs once more,
    as it will in every spawned worker.
    """

    def __init__(self) -> None:
        self._modules: dict[str, dict[str, tuple[str | None, str]] | str] = {}

    def of(self, namespace: dict[str, Any]) -> dict[str, tuple[str | None, str]] | str:
        """{name: (fingerprint, repr)} at import, or the reason the import failed."""
        module = str(namespace.get("__name__"))
        if module not in self._modules:
            self._modules[module] = _import_in_fresh_interpreter(
                module, namespace.get("__file__"), list(sys.path)
            )
        return self._modules[module]


def divergences(task: Any, import_values: ImportTimeValues) -> tuple[list[Divergence], list[str]]:
    """What `task` reads that a spawned worker sees differently, and import failures."""
    function = worker_function(task)
    if function is None or not is_user_code(function.__code__.co_filename):
        return [], []
    found: list[Divergence] = []
    failures: list[str] = []
    for reader, name in globals_read(function):
        if not is_user_code(reader.__code__.co_filename):
            continue
        at_import = import_values.of(reader.__globals__)
        module = str(reader.__globals__.get("__name__"))
        if isinstance(at_import, str):
            if at_import not in failures:
                failures.append(at_import)
            continue
        here = reader.__globals__[name]
        shown_there: str | None = None
        if name in at_import:
            there, shown_there = at_import[name]
            now = fingerprint(here)
            if there is None or now is None or now == there:
                continue
        found.append(
            Divergence(
                reader.__qualname__,
                function_source(reader) or reader.__code__.co_filename,
                module,
                name,
                _short(here),
                shown_there,
            )
        )
    return found, failures


def _short(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 60 else text[:57] + "..."


def _import_in_fresh_interpreter(
    module: str, filename: str | None, path: list[str]
) -> dict[str, tuple[str | None, str]] | str:
    with tempfile.TemporaryDirectory(prefix="pickle-audit-") as scratch:
        request = os.path.join(scratch, "request.json")
        answer = os.path.join(scratch, "answer.json")
        with open(request, "w", encoding="utf-8") as stream:
            json.dump({"module": module, "file": filename, "path": path}, stream)
        command = [sys.executable, "-c", _CHILD, request, answer]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=_IMPORT_TIMEOUT, check=False
            )
        except subprocess.TimeoutExpired:
            return f"importing {module} as a worker would took over {_IMPORT_TIMEOUT:g} s"
        if done.returncode != 0 or not os.path.exists(answer):
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            return f"importing {module} as a spawned worker would failed: {last}"
        with open(answer, encoding="utf-8") as stream:
            result = json.load(stream)
    return {name: (described, shown) for name, (described, shown) in result.items()}


_CHILD = """
import json, sys
with open(sys.argv[1], encoding="utf-8") as stream:
    request = json.load(stream)
sys.path[:] = request["path"]
from pickle_audit.trace.divergence import describe_import
describe_import(request, sys.argv[2])
"""


def describe_import(request: dict[str, Any], answer: str) -> None:
    """In the fresh interpreter: import as a spawned worker does, write the fingerprints."""
    import importlib
    import multiprocessing.process
    import multiprocessing.spawn

    multiprocessing.process.current_process()._inheriting = True  # type: ignore[attr-defined]
    if request["module"] == "__main__":
        multiprocessing.spawn._fixup_main_from_path(request["file"])  # type: ignore[attr-defined]
        namespace = vars(sys.modules["__mp_main__"])
    else:
        namespace = vars(importlib.import_module(request["module"]))
    values = list(namespace.items())
    described = {name: (fingerprint(value), _short(value)) for name, value in values}
    with open(answer, "w", encoding="utf-8") as stream:
        json.dump(described, stream)
