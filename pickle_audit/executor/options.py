"""The worker settings every backend receives, as one plain value."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class WorkerOptions:
    """How workers start and how long their tasks may run.

    `env` is applied in a worker process before anything else is unpickled
    or imported: thread pools of OpenMP/BLAS libraries size themselves once,
    when the library loads, so this is the only reliable moment. Thread and
    serial backends share the caller's process and leave its environment alone.
    """

    initializer: Callable[..., Any] | None = None
    initargs: tuple = ()
    timeout: float | None = None
    retries: int = 0
    env: dict[str, str] = field(default_factory=dict)
    # undoes what the initializer left on a worker that outlives the executor (Dask)
    finalizer: Callable[..., Any] | None = None
    finalargs: tuple = ()
