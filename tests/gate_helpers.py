"""Shared helpers for the CI-gate tests (baseline, SARIF, annotations, fixes)."""

from __future__ import annotations

from pickle_audit.catalog import get_rule
from pickle_audit.findings import ChainStep, Finding


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
    record = get_rule(rule)
    return Finding(
        rule=rule,
        severity=record.severity,
        path=path,
        line=line,
        column=column,
        message=message,
        chain=chain,
        fix=record.fix,
        symbol=symbol,
        snippet=snippet,
    )
