"""The loop a worker process runs: one task at a time, over its own pipe.

Kept free of heavy imports: a spawn/forkserver worker imports this module
first, and its start-up time is paid once per worker.

Wire protocol (parent -> worker): pickled `(label, fn, args, kwargs)`; `S`
and a pickled `(fn, args)`: set this worker up for the tasks that follow (no
reply); or an empty message meaning "exit". Worker -> parent: a pickled
("ready",) after the initializer, ("init-failed", traceback_text) when the
initializer or a setup fails, or an `Outcome` per task.
"""

from __future__ import annotations

import os
import pickle
import signal
import threading
import traceback

from pickle_audit.executor.outcome import Failure, Outcome, pack_outcome, run_task

PARENT_GONE_EXIT_CODE = 75
SETUP = b"S"  # a pickled task starts with the protocol byte 0x80, never with this
_PARENT_CHECK_SECONDS = 0.2


def worker_main(conn, env: dict[str, str], init: bytes, lifeline=None) -> None:
    """Entry point of a worker process.

    `init` is the pickled `(initializer, initargs)`, loaded only after `env`
    is in place: unpickling may import numpy or OpenMP libraries, which size
    their thread pools from the environment as they load. `lifeline` is the
    read end of a pipe only the parent writes to: it reads as closed once the
    parent is gone, however it died.
    """
    # Ctrl-C on a terminal reaches the whole process group; the parent decides
    # what to cancel, so workers ignore it and are terminated by the parent.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(
        target=_exit_with_parent,
        args=(lifeline, os.getppid()),
        name="pickle-audit-lifeline",
        daemon=True,
    ).start()
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
        if message[:1] == SETUP:
            try:
                fn, args = pickle.loads(message[1:])
                fn(*args)
            except BaseException:
                conn.send_bytes(pickle.dumps(("init-failed", traceback.format_exc())))
                return
            continue
        conn.send_bytes(_serve(message))


def _exit_with_parent(lifeline, parent_pid: int) -> None:
    """End this worker within a fraction of a second of its parent's death.

    A QC job may run for hours: a worker must not finish it for nobody after the
    parent was SIGKILLed. The lifeline closes when the parent dies (spawn and
    forkserver workers hold only its read end); a forked worker, which shares the
    write end with its siblings, sees its parent process id change instead.
    """
    while True:
        if lifeline is not None:
            try:
                if lifeline.poll(_PARENT_CHECK_SECONDS):
                    os._exit(PARENT_GONE_EXIT_CODE)  # closed: the parent is gone
            except (EOFError, OSError):
                os._exit(PARENT_GONE_EXIT_CODE)
        else:
            threading.Event().wait(_PARENT_CHECK_SECONDS)
        if os.getppid() != parent_pid:
            os._exit(PARENT_GONE_EXIT_CODE)


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
