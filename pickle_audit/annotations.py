"""`--format github`: GitHub Actions workflow commands that annotate the diff.

Each finding becomes `::error file=..,line=..,col=..,title=PA102::message`
(`::warning` for warning-severity rules). Values are escaped the way the
Actions runner unescapes them, so a message with a newline or a path with a
comma cannot break the command or forge another one.
"""

from __future__ import annotations

from pickle_audit.findings import Finding, LintResult


def escape_data(text: str) -> str:
    """Escape the message part of a workflow command."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a `key=value` property; `:` and `,` separate properties."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _annotation(finding: Finding) -> str:
    command = "warning" if finding.severity == "warning" else "error"
    properties = ",".join(
        f"{key}={escape_property(str(value))}"
        for key, value in (
            ("file", finding.path),
            ("line", finding.line),
            ("col", finding.column),
            ("title", finding.rule),
        )
    )
    lines = [finding.message, *(str(step) for step in finding.chain)]
    if finding.fix:
        lines.append(f"fix: {finding.fix}")
    return f"::{command} {properties}::{escape_data(chr(10).join(lines))}"


def render_github(result: LintResult) -> str:
    """One annotation line per finding, in file order; empty when clean."""
    findings = sorted(result.findings, key=Finding.sort_key)
    return "".join(_annotation(finding) + "\n" for finding in findings)
