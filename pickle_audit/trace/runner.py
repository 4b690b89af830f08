"""`pickle-audit trace SCRIPT`: run a script as `__main__` with every boundary intercepted."""

from __future__ import annotations

import json
import runpy
import sys
import traceback
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path

from pickle_audit.trace.hooks import (
    Interceptor,
    PayloadRejected,
    StaleGlobals,
    Violation,
    iter_stale_lines,
    iter_violation_lines,
)
from pickle_audit.trace.start_methods import start_method_as_default


@dataclass(frozen=True)
class TraceOutcome:
    """How the traced script ended and which payloads were bad."""

    script: str
    exit_status: int  # the script's own status (0 when it was stopped at a bad payload)
    stopped: bool  # stopped at the first bad payload (no --keep-going)
    payloads_checked: int
    violations: tuple[Violation, ...]
    stale_globals: tuple[StaleGlobals, ...] = ()

    @property
    def status(self) -> int:
        """The command's exit status: 1 for any bad payload or stale global, else the
        script's own."""
        return 1 if self.violations or self.stale_globals else self.exit_status

    def format_text(self) -> str:
        lines = [line for v in self.violations for line in iter_violation_lines(v)]
        lines.extend(line for stale in self.stale_globals for line in iter_stale_lines(stale))
        count = len(self.violations)
        stale = sum(len(s.globals) for s in self.stale_globals)
        also = f"; {stale} global{'s' if stale != 1 else ''} seen differently by workers"
        if self.stopped:
            lines.append(
                f"pickle-audit trace: stopped {self.script} at its first bad payload"
                f"{also if stale else ''}"
            )
        else:
            lines.append(
                f"pickle-audit trace: {count} bad payload{'s' if count != 1 else ''} in"
                f" {self.payloads_checked} checked{also if stale else ''}; {self.script}"
                f" exited with status {self.exit_status}"
            )
        return "\n".join(lines)

    def format_json(self) -> str:
        return json.dumps(
            {
                "version": 1,
                "script": self.script,
                "exit_status": self.exit_status,
                "stopped": self.stopped,
                "payloads_checked": self.payloads_checked,
                "violations": [
                    {
                        "boundary": v.boundary,
                        "call_site": v.call_site,
                        "serializer": v.serializer,
                        "start_method": v.start_method,
                        "problems": [asdict(p) for p in v.problems],
                    }
                    for v in self.violations
                ],
                "stale_globals": [asdict(stale) for stale in self.stale_globals],
            },
            indent=2,
        )


def run_script(
    script: Path,
    argv: list[str],
    *,
    serializer: str | None = None,
    keep_going: bool = False,
    start_method: str | None = None,
) -> TraceOutcome:
    """Run `script` the way `python script.py ARGS` would, with boundaries intercepted;
    with `start_method`, as it runs where that is the default start method."""
    interceptor = Interceptor(serializer=serializer, keep_going=keep_going)
    default = start_method_as_default(start_method) if start_method else nullcontext()
    saved_argv, saved_path = sys.argv[:], sys.path[:]
    sys.argv = [str(script), *argv]
    sys.path.insert(0, str(script.resolve().parent))
    exit_status, stopped = 0, False
    try:
        with default, interceptor:
            runpy.run_path(str(script), run_name="__main__")
    except PayloadRejected:
        stopped = True
        _stop_children()
    except SystemExit as exit_request:
        exit_status = _exit_status(exit_request.code)
    except Exception:
        traceback.print_exc()
        exit_status = 1
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path
    return TraceOutcome(
        str(script),
        exit_status,
        stopped,
        interceptor.result.payloads_checked,
        tuple(interceptor.result.violations),
        tuple(interceptor.result.stale_globals),
    )


def _stop_children() -> None:
    """End the processes the stopped script started: they may wait for it forever."""
    import multiprocessing

    for child in multiprocessing.active_children():
        child.terminate()
        child.join(5)


def _exit_status(code: object) -> int:
    """What the interpreter would exit with for `sys.exit(code)`."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1
