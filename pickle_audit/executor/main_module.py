"""Whether workers started by spawn or forkserver can import the main module as it is.

Such a worker imports the main module again (as `__mp_main__`) before it runs
anything. Two scripts break that, and multiprocessing reports both only from
inside the dying worker: one that starts workers from its top level outside
`if __name__ == "__main__":` (the worker re-runs that line and is refused a pool
of its own while it bootstraps), and one read from standard input (the worker
looks for a file named `<stdin>`). The parent can tell both before it starts a
worker, and say what to change.
"""

from __future__ import annotations

import ast
import functools
import os
import sys
import types

from pickle_audit.executor.errors import MainModuleError


def check_main_module(start_method: str) -> None:
    """Raise MainModuleError when `start_method` workers cannot import `__main__`."""
    if start_method == "fork":
        return  # a forked worker is a copy: it imports nothing
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or path is None:
        return  # python -c, a notebook: workers do not import the main module at all
    if getattr(main, "__spec__", None) is None and not os.path.isfile(path):
        raise MainModuleError(
            f"this script was read from {path}, and workers started by {start_method}"
            " import the main module again from its file. Save it to a file and run"
            ' `python script.py`, or pass start_method="fork" or backend="thread"'
        )
    line = _unguarded_top_level_line(main, path)
    if line is not None:
        raise MainModuleError(
            f"{path}:{line} starts workers from the main module's top level, outside"
            f' `if __name__ == "__main__":`. Workers started by {start_method} import'
            f" {os.path.basename(path)} again, which runs this line again in each of"
            " them. Put the code that starts the work under"
            ' `if __name__ == "__main__":`'
        )


def _unguarded_top_level_line(main: types.ModuleType, path: str) -> int | None:
    """The line of the main module's top-level code running now, unless it is under
    the guard; None when the main module's top level is not on the stack."""
    frame = sys._getframe(1)
    namespace = vars(main)
    while frame is not None:
        if frame.f_globals is namespace and frame.f_code.co_name == "<module>":
            guarded = _guarded_lines(path, os.stat(path).st_mtime_ns)
            line = frame.f_lineno
            return None if any(start <= line <= end for start, end in guarded) else line
        frame = frame.f_back  # type: ignore[assignment]
    return None


@functools.lru_cache(maxsize=8)
def _guarded_lines(path: str, mtime_ns: int) -> tuple[tuple[int, int], ...]:
    """(first, last) line of each top-level `if __name__ == "__main__":` block."""
    try:
        with open(path, "rb") as stream:
            tree = ast.parse(stream.read(), path)
    except (OSError, SyntaxError, ValueError):
        return ((1, sys.maxsize),)  # cannot tell: never refuse on a guess
    return tuple(
        (node.lineno, node.end_lineno or node.lineno)
        for node in tree.body
        if isinstance(node, ast.If) and _is_main_test(node.test)
    )


def _is_main_test(test: ast.expr) -> bool:
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1):
        return False
    if not isinstance(test.ops[0], ast.Eq):
        return False
    sides = [test.left, test.comparators[0]]
    names = [s.id for s in sides if isinstance(s, ast.Name)]
    texts = [s.value for s in sides if isinstance(s, ast.Constant)]
    return names == ["__name__"] and texts == ["__main__"]
