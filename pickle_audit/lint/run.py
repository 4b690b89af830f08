"""One lint run: list files, collect raw findings, apply the user's filters, sort.

The engine reports everything it finds; what the user asked to see (select,
ignore, per-file-ignores, inline comments) is decided here, in one place, so
every output format and the baseline see the same findings.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from pickle_audit.catalog import RULES
from pickle_audit.config import Config, matches_any
from pickle_audit.findings import Finding, LintResult
from pickle_audit.lint.engine import Collected, collect_findings
from pickle_audit.lint.files import list_python_files, relative_to_root
from pickle_audit.lint.suppress import Suppression, suppressions_from
from pickle_audit.lint.unused_suppressions import RULE as UNUSED_SUPPRESSION
from pickle_audit.lint.unused_suppressions import unused_suppressions

CACHE_FOLDER = ".pickle-audit-cache"
PARSE_ERROR = "PA000"


def lint_paths(
    paths: Sequence[Path],
    config: Config,
    root: Path,
    *,
    use_cache: bool = True,
    jobs: int | None = None,
    unsaved: Mapping[Path, str] | None = None,
) -> LintResult:
    """Lint the Python files under `paths` against the whole project at `root`.

    `unsaved` gives the text of files whose content is not (or not yet) on disk,
    an editor's buffers or stdin: they are linted, and seen by the rest of the
    project, with that text. A named file need not exist when its text is given.
    """
    root = root.resolve()
    report_files = list_python_files(
        paths or [root], root, config.exclude, respect_gitignore=config.respect_gitignore
    )
    texts = {str(path.resolve()): text for path, text in (unsaved or {}).items()}
    collected = collect_findings(
        root,
        report_files,
        config,
        cache_dir=_cache_folder(root, use_cache),
        jobs=jobs,
        unsaved=texts,
    )
    kept = filter_findings(collected, config, root)
    return LintResult(
        findings=tuple(sorted(kept, key=Finding.sort_key)),
        files_checked=collected.files_checked,
        root=str(root),
        warnings=collected.warnings,
    )


def _cache_folder(root: Path, use_cache: bool) -> Path | None:
    """The facts cache lives in the project; a read-only checkout just runs without it."""
    if not use_cache:
        return None
    folder = root / CACHE_FOLDER
    return folder if os.access(folder if folder.exists() else root, os.W_OK) else None


def filter_findings(collected: Collected, config: Config, root: Path) -> list[Finding]:
    """Drop what select/ignore, per-file-ignores and inline comments switch off, and
    add a PA001 for every suppression comment of a checked file that hid nothing.

    A parse error (PA000) is never hidden by `select` — a file nobody could
    check must not look clean — only by naming PA000 in an ignore.
    """
    enabled = (config.select if config.select is not None else frozenset(RULES)) | {PARSE_ERROR}
    enabled -= config.ignore
    tables = {path: suppressions_from(found) for path, found in collected.comments.items()}
    used: set[tuple[Suppression, str]] = set()
    kept = []
    for finding in collected.findings:
        if not _reported(finding, enabled, config, root):
            continue
        if finding.rule != PARSE_ERROR:
            table = tables.get(finding.path, ())
            covering = [s for s in table if s.covers(finding.rule, finding.line)]
            used.update((suppression, finding.rule) for suppression in covering)
            if covering:
                continue
        kept.append(finding)
    if UNUSED_SUPPRESSION in enabled:  # files that did not parse have no comments recorded
        for path, table in tables.items():
            judged = unused_suppressions(path, table, used, enabled)
            kept.extend(f for f in judged if _reported(f, enabled, config, root))
    return kept


def _reported(finding: Finding, enabled: frozenset[str], config: Config, root: Path) -> bool:
    if finding.rule not in enabled:
        return False
    relative = relative_to_root(Path(finding.path).resolve(), root)
    return not _ignored_for_file(finding.rule, relative, config)


def _ignored_for_file(rule: str, relative_path: str, config: Config) -> bool:
    return any(
        rule in ids and matches_any(relative_path, [glob]) for glob, ids in config.per_file_ignores
    )
