"""`[tool.pickle-audit]` settings.

The fields are the contract every stage reads; loading, validation and the
walk up to the nearest pyproject.toml live here too.
"""

from __future__ import annotations

from dataclasses import dataclass


class ConfigError(Exception):
    """A configuration or usage error: the CLI exits 2 with this message."""


@dataclass(frozen=True)
class Config:
    select: frozenset[str] | None = None  # None: every rule
    ignore: frozenset[str] = frozenset()
    per_file_ignores: tuple[tuple[str, frozenset[str]], ...] = ()  # (glob, rule ids)
    boundary_classes: tuple[str, ...] = ()  # qualified names, e.g. "pkg.core.Core"
    all_classes: bool = False
    exclude: tuple[str, ...] = ()  # globs, relative to the project root
    baseline: str | None = None
    serializer: str = "pickle"  # for boundaries whose serializer is unknown
