"""A small, robust parallel executor with pickle-safe payloads and clean failures.

from pickle_audit.executor import Executor
with Executor(backend="process", workers=2) as ex:
    futures = [ex.submit(fn, arg, label="frag-1") for ...]
"""

from pickle_audit.executor.core import BACKENDS, Executor
from pickle_audit.executor.errors import (
    ExecutorError,
    ExecutorShutdown,
    MainModuleError,
    PayloadError,
    RemoteError,
    TaskError,
    TaskTimeout,
    WorkerCrashed,
)

__all__ = [
    "BACKENDS",
    "Executor",
    "ExecutorError",
    "ExecutorShutdown",
    "MainModuleError",
    "PayloadError",
    "RemoteError",
    "TaskError",
    "TaskTimeout",
    "WorkerCrashed",
]
