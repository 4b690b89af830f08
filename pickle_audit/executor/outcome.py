"""What a task produced, in a form that always crosses a process boundary.

A worker never lets an exception or an unpicklable result escape on its own:
it turns both into an `Outcome` whose failure part is plain strings plus the
original exception only when that exception survives a pickle round trip.
That is what keeps one bad task from breaking the pool.
"""

from __future__ import annotations

import pickle
import traceback
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from typing import Any

from pickle_audit.executor.errors import (
    ExecutorError,
    PayloadError,
    RemoteError,
    TaskError,
    TaskTimeout,
)


@dataclass(frozen=True)
class Failure:
    """Why a task failed: which error class to raise in the parent and with what."""

    kind: str  # "raised" | "result" | "payload" | "timeout"
    message: str
    remote_traceback: str = ""
    original: BaseException | None = None
    report: str = ""
    timeout: float | None = None

    def to_error(self, label: str | None) -> ExecutorError:
        if self.kind == "payload":
            return PayloadError(self.message, label=label, report=self.report)
        if self.kind == "timeout":
            return TaskTimeout(self.message, label=label, timeout=self.timeout)
        return TaskError(self.message, label, self.remote_traceback, self.original)


@dataclass(frozen=True)
class Outcome:
    """A task's result, or the Failure that replaced it."""

    value: Any = None
    failure: Failure | None = None

    def settle(self, future: Future, label: str | None) -> None:
        """Complete `future` with the value or the matching executor error."""
        if future.done():
            return
        try:
            if self.failure is None:
                future.set_result(self.value)
            else:
                future.set_exception(self.failure.to_error(label))
        except InvalidStateError:  # settled concurrently by a timeout or a cancel
            pass


def overdue(label: str | None, timeout: float, who: str) -> Outcome:
    """The outcome of a task that outlived its timeout in a `who` that cannot be killed."""
    message = (
        f"task {label!r} exceeded its timeout of {timeout} s "
        f"({who} cannot be killed: it runs on, its result is dropped)"
    )
    return Outcome(failure=Failure("timeout", message, timeout=timeout))


def run_task(
    fn: Callable[..., Any], args: tuple, kwargs: dict, label: str | None, *, portable: bool = True
) -> Outcome:
    """Call the task; an exception becomes a Failure that keeps its traceback text.

    `portable`: the outcome will cross a process boundary, so an exception that
    cannot make the round trip is replaced by a RemoteError.
    """
    try:
        return Outcome(value=fn(*args, **kwargs))
    except BaseException as exc:  # the task's own error, whatever it is, is the result
        return Outcome(failure=failure_from_exception(exc, label, portable=portable))


def failure_from_exception(exc: BaseException, label: str | None, *, portable: bool) -> Failure:
    """Keep the original exception (when portable: if it survives pickling, else a RemoteError)."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    type_name = f"{type(exc).__module__}.{type(exc).__qualname__}"
    message = _safe_str(exc)
    return Failure(
        kind="raised",
        message=f"task {label!r} raised {type(exc).__name__}: {message}",
        remote_traceback=text,
        original=_portable_exception(exc, type_name, message) if portable else exc,
    )


def _portable_exception(exc: BaseException, type_name: str, message: str) -> BaseException:
    try:
        clone = pickle.loads(pickle.dumps(exc))
    except Exception:
        return RemoteError(type_name, message + " (exception converted: it cannot be pickled)")
    clone.__traceback__ = None
    return clone


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:
        return f"<{type(exc).__name__} whose str() failed>"


def pack_outcome(outcome: Outcome, label: str | None, dumps: Callable[[Any], bytes]) -> bytes:
    """Serialize an outcome; an unpicklable result becomes a Failure naming the leaf."""
    try:
        return dumps(outcome)
    except Exception as exc:
        if outcome.failure is not None:  # only the original exception can be at fault
            stripped = Failure(
                outcome.failure.kind,
                outcome.failure.message,
                outcome.failure.remote_traceback,
                RemoteError(type(outcome.failure.original).__name__, str(outcome.failure.original)),
            )
            return dumps(Outcome(failure=stripped))
        return dumps(Outcome(failure=result_failure(outcome.value, label, exc)))


def result_failure(value: Any, label: str | None, exc: Exception) -> Failure:
    from pickle_audit.executor.payload import audit_report

    report = audit_report(value, name="result") or f"result  {type(exc).__name__}: {exc}"
    return Failure(
        kind="result",
        message=(
            f"the result of task {label!r} cannot be pickled back to the parent:\n{report}\n"
            "fix: return plain data (numbers, lists, dicts, numpy arrays) instead"
        ),
        remote_traceback="",
        original=RemoteError(type(exc).__name__, str(exc)),
    )
