"""Which start method a traced call really uses, and running a script under another default.

Under `fork` a child inherits its target, arguments and pool initializer; under
`spawn` and `forkserver` (the default on macOS, Windows, and Linux from Python
3.14) they are pickled, and the child imports the main module afresh. The tracer
asks this module which of the two a call gets, so it reports what really happens
on this run, and `--start-method` makes a run behave as it will where the
default differs.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pickle_audit.config import TRACE_START_METHODS


def default_start_method() -> str:
    """The method a call that names none gets, without fixing it the way
    `multiprocessing.get_start_method()` does."""
    default = multiprocessing.context._default_context
    context = default._actual_context or default._default_context
    return str(context.get_start_method())


def method_of_context(context: Any) -> str:
    """`mp_context=` / `context=` of a pool: None means the default."""
    if context is None:
        return default_start_method()
    method = getattr(context, "get_start_method", None)
    return str(method()) if callable(method) else default_start_method()


def method_of_process(process: Any) -> str:
    """`get_context("spawn").Process` says spawn; `multiprocessing.Process` follows the default."""
    return getattr(type(process), "_start_method", None) or default_start_method()


def method_of_pool(pool: Any) -> str | None:
    """How a stdlib pool starts its workers (None: not a stdlib process pool)."""
    for attribute in ("_mp_context", "_ctx"):  # ProcessPoolExecutor, multiprocessing.Pool
        context = getattr(pool, attribute, None)
        if context is not None:
            return method_of_context(context)
    return None


@contextmanager
def start_method_as_default(method: str) -> Iterator[None]:
    """Make `method` the default, as a newer Python or another platform would.

    Unlike `set_start_method(method, force=True)` the choice stays open: a script
    that calls `set_start_method("fork")` itself still may, as it will there.
    """
    if method not in TRACE_START_METHODS:
        known = ", ".join(TRACE_START_METHODS)
        raise ValueError(f"unknown start method {method!r}; known: {known}")
    if method not in multiprocessing.get_all_start_methods():
        raise ValueError(f"start method {method!r} is not available on this platform")
    default = multiprocessing.context._default_context
    saved = default._default_context, default._actual_context
    default._default_context = multiprocessing.context._concrete_contexts[method]
    default._actual_context = None
    try:
        yield
    finally:
        default._default_context, default._actual_context = saved
