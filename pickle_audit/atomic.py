"""Replace a file's contents all at once, so a failed write never damages what was there.

A full disk or a killed process in the middle of a plain `write_bytes` leaves
a truncated file: a user's source file after `--fix`, a baseline, the cache's
`.gitignore`. Writing a sibling temporary file and renaming it over the target
is atomic on POSIX and Windows; on failure the temporary file is removed and
the error propagates for the caller to report.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


def write_atomically(target: Path, data: bytes) -> None:
    """Write `data` to `target`, keeping an existing file's permission bits."""
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = 0o644  # mkstemp's 0o600 would hide a new file from the user's other tools
    try:
        handle, temporary = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
        )
    except OSError as error:
        raise _about(target, error) from error
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException as error:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise _about(target, error) from error
        raise


def _about(target: Path, error: OSError) -> OSError:
    """The same error, naming the file the user asked for rather than the temporary one."""
    return type(error)(error.errno, error.strerror, str(target))
