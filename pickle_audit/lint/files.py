"""Which Python files a run looks at.

Both the report set (the paths on the command line) and the project index
(everything below the root) are listed here, so `exclude` means the same thing
to both.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from pickle_audit.config import matches_any

# Folders that never hold the project's own code; skipped while walking (not
# when a file inside them is named explicitly).
SKIPPED_FOLDERS = frozenset(
    {
        "__pycache__",
        "__pypackages__",
        "node_modules",
        "site-packages",
        "venv",
        "build",
        "dist",
    }
)


def relative_to_root(path: Path, root: Path) -> str:
    """`path` relative to `root` with `/`, or the absolute posix path when outside it."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def walk_python_files(folder: Path) -> Iterator[Path]:
    """Every `.py` file below `folder`, skipping hidden, cache and environment folders."""
    for current, folders, files in os.walk(folder):
        folders[:] = sorted(
            name for name in folders if not name.startswith(".") and name not in SKIPPED_FOLDERS
        )
        for name in sorted(files):
            if name.endswith(".py"):
                yield Path(current, name)


def list_python_files(paths: Sequence[Path], root: Path, exclude: Iterable[str]) -> list[Path]:
    """The absolute, de-duplicated, sorted `.py` files named by `paths`.

    Folders are walked; a named file counts when it ends in `.py`, the files
    the project index reads. `exclude` globs (relative to `root`) apply to
    both, so a pre-commit hook that passes an excluded file does not lint it.
    """
    globs = tuple(exclude)
    found: set[Path] = set()
    for path in paths:
        absolute = path.resolve()
        if absolute.is_dir():
            candidates: Iterable[Path] = walk_python_files(absolute)
        else:
            candidates = [absolute] if absolute.suffix == ".py" else []
        found.update(
            candidate
            for candidate in candidates
            if not globs or not matches_any(relative_to_root(candidate, root), globs)
        )
    return sorted(found)
