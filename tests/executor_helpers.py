"""Task functions for the executor tests (module level, so worker processes import them)."""

from __future__ import annotations

import ctypes
import os
import threading
import time

import psutil


def square(x: int) -> int:
    return x * x


def exit_with(code: int) -> None:
    os._exit(code)


def segfault() -> None:
    ctypes.string_at(0)  # reads address 0: a real SIGSEGV


def kill_self(signum: int) -> None:
    os.kill(os.getpid(), signum)


def raise_value_error(text: str) -> None:
    raise ValueError(text)


class TwoArgumentError(Exception):
    """Pickles, but cannot be unpickled: `__init__` needs two arguments (rule PA301)."""

    def __init__(self, code: int, detail: str) -> None:  # pickle-audit: ignore[PA301]
        super().__init__(f"code {code}: {detail}")


def raise_two_argument_error() -> None:
    raise TwoArgumentError(7, "bad fragment")


def sleep_for(seconds: float) -> str:
    time.sleep(seconds)
    return "slept"


def dict_keys_result() -> dict:
    return {"energies": {"a": 1.0}.keys()}


def pid_of_worker() -> int:
    return os.getpid()


def lock_holder() -> object:
    return {"lock": threading.Lock()}


def crash_until_marker(marker: str) -> str:
    """Crash the worker the first time (leaving a marker file), succeed on the retry."""
    if not os.path.exists(marker):
        with open(marker, "w") as handle:
            handle.write("crashed once")
        os._exit(1)
    return "second attempt"


def record_environment(name: str) -> str | None:
    return os.environ.get(name)


def set_environment(name: str, value: str) -> None:
    os.environ[name] = value


def wait_gone(pids: list[int], seconds: float = 5.0) -> list[int]:
    """The pids still alive (zombies count as gone) after waiting up to `seconds`."""
    deadline = time.monotonic() + seconds
    alive = list(pids)
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in alive if _alive(pid)]
        if alive:
            time.sleep(0.05)
    return alive


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def nap(seconds: float) -> tuple[int, float, float]:
    """Sleep; say which worker ran it, from when to when (wall clock)."""
    began = time.time()
    time.sleep(seconds)
    return os.getpid(), began, time.time()


_REMEMBERED: dict[str, object] = {}  # per-worker state an initializer leaves behind


def remember(key: str, value: object) -> None:
    _REMEMBERED[key] = value


def forget(key: str) -> None:
    _REMEMBERED.pop(key, None)


def remembered() -> dict[str, object]:
    return dict(_REMEMBERED)


def crash_once(marker: str) -> str:
    """Kill this worker the first time (leaving a marker file), succeed after."""
    if not os.path.exists(marker):
        with open(marker, "w"):
            pass
        os._exit(1)
    return "second attempt"
