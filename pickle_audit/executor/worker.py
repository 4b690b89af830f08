"""The loop a worker process runs: one task at a time, over its own pipe.

Kept free of heavy imports: a spawn/forkserver worker imports this module
first, and its start-up time is paid once per worker.

Wire protocol (parent -> worker): pickled `(label, fn, args, kwargs)`, or an
empty message meaning "exit". Worker -> parent: a pickled ("ready",) after
the initializer, ("init-failed", traceback_text), or an `Outcome` per task.
"""

from __future__ import annotations

import os
import pickle
import signal
import traceback

from pickle_audit.executor.outcome import Failure, Outcome, pack_outcome, run_task


def worker_main(conn, env: dict[str, str], init: bytes) -> None:
    """Entry point of a worker process.

    `init` is the pickled `(initializer, initargs)`, loaded only after `env`
    is in place: unpickling may import numpy or OpenMP libraries, which size
    their thread pools from the environment as they load.
    """
    # Ctrl-C on a terminal reaches the whole process group; the parent decides
    # what to cancel, so workers ignore it and are terminated by the parent.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.update(env)
    try:
        initializer, initargs = pickle.loads(init)
        if initializer is not None:
            initializer(*initargs)
    except BaseException:
        conn.send_bytes(pickle.dumps(("init-failed", traceback.format_exc())))
        return
    conn.send_bytes(pickle.dumps(("ready",)))
    while True:
        try:
            message = conn.recv_bytes()
        except (EOFError, OSError):  # the parent is gone: nothing left to do
            return
        if not message:
            return
        conn.send_bytes(_serve(message))


def _serve(message: bytes) -> bytes:
    try:
        label, fn, args, kwargs = pickle.loads(message)
    except BaseException as exc:
        failure = Failure(
            kind="payload",
            message=(
                f"the worker could not unpickle the task: {type(exc).__name__}: {exc}\n"
                "fix: define the callable and argument classes at module level in an "
                "importable module (not under `if __name__ == '__main__':`)"
            ),
            remote_traceback=traceback.format_exc(),
        )
        return pickle.dumps(Outcome(failure=failure))
    return pack_outcome(run_task(fn, args, kwargs, label), label, pickle.dumps)
