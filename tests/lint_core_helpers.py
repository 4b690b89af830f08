"""Helpers for the linter-core tests: write a real project, run the real engine on it."""

from __future__ import annotations

import textwrap
from pathlib import Path

from pickle_audit.config import Config
from pickle_audit.findings import Finding
from pickle_audit.lint.engine import collect_findings, discover


def write_files(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text('[project]\nname = "demo"\n')
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root


def lint(root: Path, config: Config | None = None, **options: object) -> list[Finding]:
    """Findings for every file of the project (paths relative to the current directory)."""
    return list(
        collect_findings(
            root,
            discover(root),
            config or Config(),
            cache_dir=options.get("cache_dir"),  # type: ignore[arg-type]
            jobs=options.get("jobs", 1),  # type: ignore[arg-type]
        ).findings
    )


def summary(findings: list[Finding]) -> list[tuple[str, str, int]]:
    return [(f.rule, f.path, f.line) for f in findings]
