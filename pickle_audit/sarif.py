"""SARIF 2.1.0 output, for GitHub code scanning and other SARIF viewers.

Every catalogue rule is described in `tool.driver.rules` (with its doc from
`rules/PAxxx.md` as help), each finding becomes a result whose
`partialFingerprints` are the baseline fingerprints, so code scanning tracks
an alert across edits the same way `--baseline` does, and the chain that
explains why a class travels becomes `relatedLocations`.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from importlib import resources
from pathlib import Path
from urllib.parse import quote

from pickle_audit import __version__
from pickle_audit.baseline import fingerprint
from pickle_audit.catalog import RULES, Rule
from pickle_audit.findings import ChainStep, Finding, LintResult

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://pypi.org/project/pickle-audit/"
SOURCE_ROOT = "%SRCROOT%"
FINGERPRINT_KEY = "pickleAudit/v1"


def rule_doc(rule_id: str) -> str | None:
    """The markdown doc of a rule as shipped in the package, or None if absent."""
    try:
        return (resources.files("pickle_audit") / "rules" / f"{rule_id}.md").read_text(
            encoding="utf-8"
        )
    except OSError:
        return None


def _first_paragraph(doc: str) -> str | None:
    """The prose that opens the doc's "What it flags" section (or, lacking one, the doc)."""
    _, found, section = doc.partition("## What it flags")
    for block in (section if found else doc).split("\n\n"):
        text = block.strip()
        if text and not text.startswith(("#", "```", "|", "-", "*", "Severity:")):
            return " ".join(text.split())
    return None


def _rule_descriptor(rule: Rule) -> dict:
    doc = rule_doc(rule.id)
    summary = rule.summary[:1].upper() + rule.summary[1:]
    fallback_help = f"{summary}.\n\nFix: {rule.fix}."
    full = (_first_paragraph(doc) if doc else None) or f"{summary}. Fix: {rule.fix}."
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": summary},
        "fullDescription": {"text": full},
        "help": {"text": doc or fallback_help, "markdown": doc or fallback_help},
        "defaultConfiguration": {"level": rule.severity},
        "properties": {"tags": ["pickle", "multiprocessing"]},
    }


def _uri(path: str) -> str:
    return quote(path.replace(os.sep, "/"))


def _physical_location(path: str, line: int, column: int) -> dict:
    return {
        "artifactLocation": {"uri": _uri(path), "uriBaseId": SOURCE_ROOT},
        "region": {"startLine": max(line, 1), "startColumn": max(column, 1)},
    }


def _related(index: int, step: ChainStep) -> dict:
    return {
        "id": index,
        "message": {"text": step.text.removeprefix("<- ")},  # the arrow is for text output
        "physicalLocation": _physical_location(step.path, step.line, step.column),
    }


def _message(finding: Finding) -> str:
    return f"{finding.message}\nfix: {finding.fix}" if finding.fix else finding.message


def _result(finding: Finding, rule_index: dict[str, int], occurrence: str) -> dict:
    result = {
        "ruleId": finding.rule,
        "level": finding.severity,
        "message": {"text": _message(finding)},
        "locations": [
            {"physicalLocation": _physical_location(finding.path, finding.line, finding.column)}
        ],
        "partialFingerprints": {FINGERPRINT_KEY: occurrence},
    }
    if finding.rule in rule_index:
        result["ruleIndex"] = rule_index[finding.rule]
    if finding.chain:
        result["relatedLocations"] = [
            _related(i, step) for i, step in enumerate(finding.chain, start=1)
        ]
    return result


def render_sarif(result: LintResult) -> str:
    """The SARIF log of one lint run, as a JSON document with a trailing newline."""
    rules = list(RULES.values())
    rule_index = {rule.id: i for i, rule in enumerate(rules)}
    seen: Counter[str] = Counter()
    results = []
    for finding in sorted(result.findings, key=Finding.sort_key):
        key = fingerprint(finding, Path(result.root))
        seen[key] += 1
        results.append(_result(finding, rule_index, f"{key}:{seen[key]}"))
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "pickle-audit",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": [_rule_descriptor(rule) for rule in rules],
                    }
                },
                "originalUriBaseIds": {SOURCE_ROOT: {"uri": Path.cwd().as_uri().rstrip("/") + "/"}},
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2) + "\n"
