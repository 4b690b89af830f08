"""The plain data that stages hand to each other: findings (lint) and problems (trace).

Both are frozen dataclasses of strings and ints so they pickle, compare and
hash cheaply: the linter ships them between its worker processes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pickle_audit.catalog import Severity


@dataclass(frozen=True)
class ChainStep:
    """One hop of the explanation of why a class travels to a worker."""

    text: str
    path: str
    line: int
    column: int = 1

    def __str__(self) -> str:
        return f"{self.text} ({self.path}:{self.line})"


@dataclass(frozen=True)
class Finding:
    """A lint finding: where, which rule, why the value travels, how to fix it.

    `symbol` (e.g. "ManyBodyCore.mc_levels") and `snippet` (the flagged
    statement's source, whitespace-normalised) identify the finding without
    line numbers, for baselines and SARIF fingerprints.
    """

    rule: str
    severity: Severity
    path: str
    line: int
    column: int
    message: str
    chain: tuple[ChainStep, ...] = ()
    fix: str | None = None
    symbol: str = ""
    snippet: str = ""

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.path, self.line, self.column, self.rule)


@dataclass(frozen=True)
class Problem:
    """One unpicklable leaf found at runtime.

    `path` uses DESIGN.md's path syntax (`task.core.mc_levels`); `type` is the
    leaf's qualified type name; `error` is what the serializer itself said.
    """

    path: str
    type: str
    rule: str | None
    error: str
    source: str | None = None
    fix: str | None = None

    def resolve(self, root: Any) -> Any:
        """The object this problem names, read from `root` along `path`."""
        from pickle_audit.trace.resolve import resolve_path

        return resolve_path(root, self.path)


@dataclass(frozen=True)
class LintResult:
    """What one lint run produced, before formatting."""

    findings: tuple[Finding, ...]
    files_checked: int
    root: str
    stale_baseline: tuple[str, ...] = field(default=())
    warnings: tuple[str, ...] = field(default=())  # about the run, not the code
