"""Where a finding points, and how a finding is built from a catalogue rule."""

from __future__ import annotations

from dataclasses import dataclass

from pickle_audit.catalog import Severity, get_rule
from pickle_audit.findings import ChainStep, Finding


@dataclass(frozen=True)
class Location:
    path: str
    line: int
    column: int
    symbol: str
    snippet: str


def make_finding(
    rule: str,
    where: Location,
    message: str,
    chain: tuple[ChainStep, ...] = (),
    severity: Severity | None = None,
) -> Finding:
    record = get_rule(rule)
    return Finding(
        rule=rule,
        severity=severity or record.severity,
        path=where.path,
        line=where.line,
        column=where.column,
        message=message,
        chain=chain,
        fix=record.fix,
        symbol=where.symbol,
        snippet=where.snippet,
    )
