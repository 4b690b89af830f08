"""Turn a `LintResult` into text for people or JSON for programs.

Formats are registered in `FORMATS` by name, so a new format is one function
and one entry. Everything printed on stdout is parseable; the human summary
goes to stderr (see `summary`).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable

import click

from pickle_audit.annotations import render_github
from pickle_audit.catalog import get_rule
from pickle_audit.findings import Finding, LintResult
from pickle_audit.sarif import render_sarif

JSON_VERSION = 1
INDENT = "    "
CHAIN_ARROW = "<- "


def render(result: LintResult, fmt: str) -> str:
    """The findings of `result` in format `fmt` (a key of `FORMATS`)."""
    try:
        formatter = FORMATS[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}") from None
    return formatter(result)


def render_text(result: LintResult, colour: bool = False) -> str:
    """`path:line:col: RULE message`, then the chain and the fix, indented.

    With `colour`, ANSI styles as ruff uses them: a bold location, the rule id
    red for errors and yellow for warnings, the chain dimmed, the fix in cyan.
    """
    style = _ansi if colour else _plain
    return "".join(_text_block(finding, style) for finding in result.findings)


def _plain(text: str, **_: object) -> str:
    return text


def _ansi(text: str, **styles: object) -> str:
    return click.style(text, **styles)  # type: ignore[arg-type]


def _text_block(finding: Finding, style: Callable[..., str]) -> str:
    where = style(f"{finding.path}:{finding.line}:{finding.column}:", bold=True)
    rule = style(finding.rule, fg="red" if finding.severity == "error" else "yellow", bold=True)
    lines = [f"{where} {rule} {finding.message}"]
    lines += [
        INDENT + style(_chain_line(index, str(step)), dim=True)
        for index, step in enumerate(finding.chain)
    ]
    if finding.fix:
        lines.append(INDENT + style(f"fix: {finding.fix}", fg="cyan"))
    return "\n".join(lines) + "\n"


def _chain_line(index: int, text: str) -> str:
    """Every hop after the first reads `<- ...`; a step may already carry the arrow."""
    if index == 0 or text.startswith(CHAIN_ARROW):
        return text
    return CHAIN_ARROW + text


def finding_to_json(finding: Finding) -> dict[str, object]:
    return {
        "rule": finding.rule,
        "severity": finding.severity,
        "path": finding.path,
        "line": finding.line,
        "column": finding.column,
        "message": finding.message,
        "chain": [str(step) for step in finding.chain],
        "fix": finding.fix,
    }


def render_json(result: LintResult) -> str:
    document = {
        "version": JSON_VERSION,
        "findings": [finding_to_json(finding) for finding in result.findings],
    }
    return json.dumps(document, indent=2) + "\n"


def summary(result: LintResult) -> str:
    """One line for stderr: `Found 3 problems (2 errors, 1 warning) in 12 files.`"""
    files = _plural(result.files_checked, "file")
    if not result.findings:
        return f"All checked: {files}, no problems."
    errors = sum(finding.severity == "error" for finding in result.findings)
    warnings = len(result.findings) - errors
    kinds = ", ".join(
        _plural(count, kind) for count, kind in ((errors, "error"), (warnings, "warning")) if count
    )
    return f"Found {_plural(len(result.findings), 'problem')} ({kinds}) in {files}."


def statistics_table(result: LintResult) -> str:
    """`--statistics`: one line per rule that fired, most frequent first, as ruff prints it."""
    counts = Counter(finding.rule for finding in result.findings)
    rows = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    width = max((len(str(count)) for _, count in rows), default=1)
    return "".join(f"{count:>{width}}\t{rule}\t{get_rule(rule).name}\n" for rule, count in rows)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


FORMATS: dict[str, Callable[[LintResult], str]] = {
    "text": render_text,
    "json": render_json,
    "sarif": render_sarif,
    "github": render_github,
}
