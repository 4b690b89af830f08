"""`.gitignore` files, read the way git reads them.

A project's generated code, vendored copies and scratch folders are usually
listed there, and findings in them are noise nobody can fix; ruff and black
skip them too. Only the patterns are read: nothing runs `git`, so a folder
that is not a work tree is handled the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pathspec import GitIgnoreSpec


@dataclass(frozen=True)
class IgnoreFile:
    """The patterns of one `.gitignore`, which apply below its folder."""

    folder: Path
    spec: GitIgnoreSpec


def read_ignore_file(folder: Path) -> IgnoreFile | None:
    """The `.gitignore` of `folder`, or None when there is none (or it has no patterns).

    A line git would reject is skipped on its own, as git skips it, so one bad
    pattern does not switch the whole file off; an unreadable file counts as absent.
    """
    try:
        text = (folder / ".gitignore").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    lines = text.splitlines()
    try:
        spec = GitIgnoreSpec.from_lines(lines)
    except ValueError:
        spec = GitIgnoreSpec.from_lines([line for line in lines if _valid(line)])
    return IgnoreFile(folder, spec) if spec.patterns else None


def _valid(line: str) -> bool:
    try:
        GitIgnoreSpec.from_lines([line])
    except ValueError:
        return False
    return True


def is_ignored(path: Path, is_folder: bool, ignore_files: Sequence[IgnoreFile]) -> bool:
    """Whether git would ignore `path`, given the `.gitignore` files above it (outermost
    first): the deepest file with a matching pattern decides, and within a file the
    last matching pattern, so `!keep.py` re-includes what a parent file excluded."""
    for ignore in reversed(ignore_files):
        relative = path.relative_to(ignore.folder).as_posix() + ("/" if is_folder else "")
        include = ignore.spec.check_file(relative).include
        if include is not None:
            return include
    return False


def ignore_files_above(folder: Path, root: Path) -> tuple[IgnoreFile, ...]:
    """The `.gitignore` files from `root` down to `folder`'s parent, outermost first, so
    a walk that starts inside the project still honours the project's own file."""
    if folder == root or not folder.is_relative_to(root):
        return ()
    chain = [root, *reversed(folder.relative_to(root).parents[:-1])]
    found = (read_ignore_file(root / part) for part in chain)
    return tuple(ignore for ignore in found if ignore is not None)
