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
from pickle_audit.lint.gitignore import IgnoreFile, ignore_files_above, is_ignored, read_ignore_file

# Folders that never hold the project's own code; skipped while walking (not
# when a file inside them is named explicitly).
SKIPPED_FOLDERS = frozenset({"__pycache__", "__pypackages__", "node_modules", "site-packages"})
# Usually tool output, skipped unless the folder is itself a package (`__init__.py`):
# a project may well name a subpackage `build` or `dist`.
OUTPUT_FOLDERS = frozenset({"venv", "build", "dist"})


def relative_to_root(path: Path, root: Path) -> str:
    """`path` relative to `root` with `/`, or the absolute posix path when outside it."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _walked_folder(parent: str, name: str) -> bool:
    if name.startswith(".") or name in SKIPPED_FOLDERS:
        return False
    return name not in OUTPUT_FOLDERS or os.path.isfile(os.path.join(parent, name, "__init__.py"))


def walk_python_files(folder: Path, root: Path | None = None) -> Iterator[Path]:
    """Every `.py` file below `folder`, skipping hidden, cache, environment and tool
    output folders; with `root`, also what the `.gitignore` files from `root` down
    ignore (pass None to read none)."""
    inherited: dict[str, tuple[IgnoreFile, ...]] = {
        str(folder): ignore_files_above(folder, root) if root is not None else ()
    }
    for current, folders, files in os.walk(folder):
        ignores = inherited.pop(current)
        own = read_ignore_file(Path(current)) if root is not None else None
        if own is not None:
            ignores = (*ignores, own)
        folders[:] = sorted(
            name
            for name in folders
            if _walked_folder(current, name)
            and not (ignores and is_ignored(Path(current, name), True, ignores))
        )
        inherited.update((os.path.join(current, name), ignores) for name in folders)
        for name in sorted(files):
            if name.endswith(".py") and not (
                ignores and is_ignored(Path(current, name), False, ignores)
            ):
                yield Path(current, name)


def list_python_files(
    paths: Sequence[Path], root: Path, exclude: Iterable[str], *, respect_gitignore: bool = True
) -> list[Path]:
    """The absolute, de-duplicated, sorted `.py` files named by `paths`.

    Folders are walked; a named file counts when it ends in `.py`, the files
    the project index reads. `exclude` globs (relative to `root`) apply to
    both, so a pre-commit hook that passes an excluded file does not lint it.
    `.gitignore` files apply to walked folders only: a file named on the
    command line is linted even when git ignores it, as ruff does.
    """
    globs = tuple(exclude)
    found: set[Path] = set()
    for path in paths:
        absolute = path.resolve()
        if absolute.is_dir():
            candidates: Iterable[Path] = walk_python_files(
                absolute, root.resolve() if respect_gitignore else None
            )
        else:
            candidates = [absolute] if absolute.suffix == ".py" else []
        found.update(
            candidate
            for candidate in candidates
            if not globs or not matches_any(relative_to_root(candidate, root), globs)
        )
    return sorted(found)
