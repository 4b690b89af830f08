"""Errors an executor hands back instead of a hung pool or a bare TypeError.

Every error carries the `label` of the task it belongs to, so a failure in a
run of hundreds of fragment jobs names the one that broke. They pickle by
their constructor arguments (`__reduce__`), so they survive the trip from a
Dask worker or a checkpointing parent intact.
"""

from __future__ import annotations

import signal


class ExecutorError(Exception):
    """Base class: something went wrong with one task (named by `label`)."""

    def __init__(self, message: str, label: str | None = None) -> None:
        super().__init__(message)
        self.label = label

    def __reduce__(self):
        return (type(self), (str(self), self.label))


class PayloadError(ExecutorError, TypeError):
    """The task (callable, arguments) cannot be sent to a worker.

    Raised at `submit`, before anything leaves the process; `report` is the
    audit report text naming the path of every bad leaf.
    """

    def __init__(self, message: str, label: str | None = None, report: str = "") -> None:
        super().__init__(message, label)
        self.report = report

    def __reduce__(self):
        return (type(self), (str(self), self.label, self.report))


class MainModuleError(ExecutorError, RuntimeError):
    """Workers started by spawn or forkserver could not import the main module.

    Raised when the executor is created, before any worker starts: a script that
    starts workers outside its `if __name__ == "__main__":` guard, or one read from
    standard input, would otherwise end in "a worker died while starting".
    """


class RemoteError(Exception):
    """Stands in for a task exception that could not cross the process boundary.

    Happens when the exception class cannot be pickled or unpickled (an
    `__init__` that cannot be called with `self.args`, rule PA301): the type
    name and message are kept, nothing is lost.
    """

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(f"{type_name}: {message}")
        self.type_name = type_name
        self.message = message

    def __reduce__(self):
        return (type(self), (self.type_name, self.message))


class TaskError(ExecutorError):
    """The task raised. `original` is its exception (also `__cause__`).

    `remote_traceback` is the traceback text formatted where the task ran.
    """

    def __init__(
        self,
        message: str,
        label: str | None = None,
        remote_traceback: str = "",
        original: BaseException | None = None,
    ) -> None:
        super().__init__(message, label)
        self.remote_traceback = remote_traceback
        self.original = original
        self.__cause__ = original

    def __reduce__(self):
        return (type(self), (str(self), self.label, self.remote_traceback, self.original))

    def __str__(self) -> str:
        text = super().__str__()
        if self.remote_traceback:
            return f"{text}\n\nRemote traceback:\n{self.remote_traceback.rstrip()}"
        return text


class TaskTimeout(ExecutorError, TimeoutError):
    """The task ran longer than the executor's per-task `timeout`."""

    def __init__(self, message: str, label: str | None = None, timeout: float | None = None):
        super().__init__(message, label)
        self.timeout = timeout

    def __reduce__(self):
        return (type(self), (str(self), self.label, self.timeout))


class WorkerCrashed(ExecutorError):
    """The worker process died while running the task (segfault, `os._exit`, kill).

    `exitcode` is the process exit code (negative: killed by that signal);
    `signal_name` names the signal, e.g. "SIGSEGV".
    """

    def __init__(self, message: str, label: str | None = None, exitcode: int | None = None):
        super().__init__(message, label)
        self.exitcode = exitcode

    @property
    def signal_name(self) -> str | None:
        return describe_signal(self.exitcode)

    def __reduce__(self):
        return (type(self), (str(self), self.label, self.exitcode))


class ExecutorShutdown(ExecutorError, RuntimeError):
    """The executor was shut down (or its workers could not start) before the task ran."""


def describe_signal(exitcode: int | None) -> str | None:
    """Name of the signal behind a negative exit code, e.g. -11 -> "SIGSEGV"."""
    if exitcode is None or exitcode >= 0:
        return None
    try:
        return signal.Signals(-exitcode).name
    except ValueError:
        return f"signal {-exitcode}"


def describe_exit(exitcode: int | None) -> str:
    """Human-readable cause of a worker's death."""
    name = describe_signal(exitcode)
    if name is not None:
        return f"killed by {name}"
    return f"exited with code {exitcode}"
