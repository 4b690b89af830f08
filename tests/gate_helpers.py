"""Shared helpers for the CI-gate tests (baseline, SARIF, annotations, fixes)."""

from __future__ import annotations

import shutil
from pathlib import Path

import qcmanybody

from pickle_audit.findings import ChainStep, Finding
from pickle_audit.lint.locations import Location, make_finding


def finding(
    rule: str = "PA102",
    path: str = "pkg/core.py",
    line: int = 10,
    column: int = 9,
    *,
    symbol: str = "Core.levels",
    snippet: str = "self.levels = self.table.keys()",
    message: str = "dict view stored on Core.levels cannot be pickled",
    chain: tuple[ChainStep, ...] = (),
) -> Finding:
    """A finding as the linter reports it, with the catalogue's severity and fix."""
    return make_finding(rule, Location(path, line, column, symbol, snippet), message, chain)


def copy_qcmanybody(root: Path) -> Path:
    """The installed qcmanybody 0.8.0 package as a project of its own under `root`.

    Its pyproject names ManyBodyCore as a boundary class, the way a user whose
    parallel driver pickles the core would configure it.
    """
    shutil.copytree(
        Path(qcmanybody.__file__).parent,
        root / "qcmanybody",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    (root / "pyproject.toml").write_text(
        '[project]\nname = "qcmanybody-copy"\n\n'
        '[tool.pickle-audit]\nboundary-classes = ["qcmanybody.core.ManyBodyCore"]\n'
    )
    return root
