"""One lint run: list files, collect raw findings, apply the user's filters, sort.

The engine reports everything it finds; what the user asked to see (select,
ignore, per-file-ignores, inline comments) is decided here, in one place, so
every output format and the baseline see the same findings.
"""

from __future__ import annotations

import os
import tokenize
from collections.abc import Iterable, Sequence
from pathlib import Path

from pickle_audit.catalog import RULES
from pickle_audit.config import Config, matches_any
from pickle_audit.findings import Finding, LintResult
from pickle_audit.lint.engine import collect_findings
from pickle_audit.lint.files import list_python_files, relative_to_root
from pickle_audit.lint.suppress import is_suppressed, suppressions

CACHE_FOLDER = ".pickle-audit-cache"
PARSE_ERROR = "PA000"


def lint_paths(
    paths: Sequence[Path],
    config: Config,
    root: Path,
    *,
    use_cache: bool = True,
    jobs: int | None = None,
) -> LintResult:
    """Lint the Python files under `paths` against the whole project at `root`."""
    root = root.resolve()
    report_files = list_python_files(paths or [root], root, config.exclude)
    raw, files_checked, warnings = collect_findings(
        root, report_files, config, cache_dir=_cache_folder(root, use_cache), jobs=jobs
    )
    kept = filter_findings(raw, config, root)
    return LintResult(
        findings=tuple(sorted(kept, key=Finding.sort_key)),
        files_checked=files_checked,
        root=str(root),
        warnings=warnings,
    )


def _cache_folder(root: Path, use_cache: bool) -> Path | None:
    """The facts cache lives in the project; a read-only checkout just runs without it."""
    if not use_cache:
        return None
    folder = root / CACHE_FOLDER
    return folder if os.access(folder if folder.exists() else root, os.W_OK) else None


def filter_findings(findings: Iterable[Finding], config: Config, root: Path) -> list[Finding]:
    """Drop what select/ignore, per-file-ignores and inline comments switch off.

    A parse error (PA000) is never hidden by `select` — a file nobody could
    check must not look clean — only by naming PA000 in an ignore.
    """
    enabled = (config.select if config.select is not None else frozenset(RULES)) | {PARSE_ERROR}
    enabled -= config.ignore
    tables: dict[str, dict[int, frozenset[str]]] = {}
    kept = []
    for finding in findings:
        if finding.rule not in enabled:
            continue
        absolute = Path(finding.path).resolve()
        if _ignored_for_file(finding.rule, relative_to_root(absolute, root), config):
            continue
        if finding.path not in tables:
            tables[finding.path] = _read_suppressions(absolute)
        if finding.rule != PARSE_ERROR and is_suppressed(
            finding.rule, finding.line, tables[finding.path]
        ):
            continue
        kept.append(finding)
    return kept


def _ignored_for_file(rule: str, relative_path: str, config: Config) -> bool:
    return any(
        rule in ids and matches_any(relative_path, [glob]) for glob, ids in config.per_file_ignores
    )


def _read_suppressions(path: Path) -> dict[int, frozenset[str]]:
    try:
        with tokenize.open(path) as handle:  # honours PEP 263 coding cookies
            return dict(suppressions(handle.read()))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return {}
