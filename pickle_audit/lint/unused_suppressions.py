"""PA001: suppression comments that suppress nothing, or name rules that do not exist.

A stale `# pickle-audit: ignore[PA102]` hides the next real PA102 on that
statement, and a misspelt id (`PA1O2`) hides nothing while looking as if it
did, so both are worth a warning, as ruff's RUF100 gives them. Only ids whose
rule ran are judged: a comment for a rule left out by `select` or `ignore` may
be needed on a run that checks it. A comment that names PA001 itself is never
reported.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from dataclasses import replace

from pickle_audit.findings import Finding
from pickle_audit.lint.locations import Location, make_finding
from pickle_audit.lint.suppress import ALL_RULES, Suppression

RULE = "PA001"


def unused_suppressions(
    path: str,
    table: Iterable[Suppression],
    used: Collection[tuple[Suppression, str]],
    enabled: Collection[str],
) -> Iterator[Finding]:
    """A PA001 finding for each comment in `table` with an unknown or an unused id.

    `used` holds (comment, rule id) for every finding a comment suppressed.
    """
    for suppression in table:
        if RULE in suppression.ids:
            continue
        problems = []
        if suppression.unknown:
            names = ", ".join(suppression.unknown)
            problems.append(f"names no rule: {names}")
        unused = _unused_ids(suppression, used, enabled)
        if unused is not None:
            problems.append(unused)
        if problems:
            yield _finding(path, suppression, " and ".join(problems), unused is not None)


def _unused_ids(
    suppression: Suppression, used: Collection[tuple[Suppression, str]], enabled: Collection[str]
) -> str | None:
    if suppression.ids == ALL_RULES:
        if any(comment == suppression for comment, _ in used):
            return None
        return "suppresses nothing: no finding on this statement"
    judged = sorted(rule for rule in suppression.ids if rule in enabled)
    unused = [rule for rule in judged if (suppression, rule) not in used]
    if not unused:
        return None
    named = ", ".join(unused)
    if len(unused) == len(suppression.ids):
        return f"suppresses nothing: no {named} finding on this statement"
    return f"names {named} needlessly: no {named} finding on this statement"


def _finding(path: str, suppression: Suppression, problem: str, unused: bool) -> Finding:
    where = Location(path, suppression.line, suppression.column, suppression.text, "")
    finding = make_finding(RULE, where, f"suppression `{suppression.text}` {problem}")
    if not unused:  # only unknown ids: the comment may be right apart from a typo
        return replace(finding, fix="correct the rule id (`pickle-audit rule` lists them)")
    return finding
