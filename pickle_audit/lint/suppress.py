"""Inline suppressions: `# pickle-audit: ignore[PA102]`, a bare `# pickle-audit: ignore`,
or `# noqa: PA102` as ruff and flake8 users write it.

Comments are read with `tokenize`, so a marker inside a string literal does not
count. A comment anywhere in a statement that spans several lines covers every
line of it: formatters move trailing comments to the closing line of a wrapped
statement, and the suppression must not stop working when they do. A bare
`# noqa` is left to the linters it was written for. Only files that have
findings are read.
"""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Mapping

from pickle_audit.catalog import expand_selector

ALL_RULES = frozenset({"*"})
_MARKER = re.compile(r"#\s*pickle-audit:\s*ignore\b(?:\[(?P<ids>[^\]]*)\])?", re.IGNORECASE)
_NOQA = re.compile(r"#\s*noqa\s*:\s*(?P<ids>[a-z]+\d*(?:[\s,]+[a-z]+\d*)*)", re.IGNORECASE)
_ANY_MARKER = re.compile(r"pickle-audit:|noqa", re.IGNORECASE)


def suppressions(source: str) -> Mapping[int, frozenset[str]]:
    """Line number -> rule ids suppressed on that line (`{"*"}` for a bare ignore)."""
    by_line: dict[int, frozenset[str]] = {}
    if _ANY_MARKER.search(source) is None:  # most files: skip tokenizing (the costly part)
        return by_line
    for first, last, comment in _comments(source):
        ids = _suppressed_by(comment)
        if ids is None:
            continue
        for line in range(first, last + 1):
            known = by_line.get(line, frozenset())
            by_line[line] = ALL_RULES if ALL_RULES in (ids, known) else known | ids
    return by_line


def _suppressed_by(comment: str) -> frozenset[str] | None:
    match = _MARKER.search(comment)
    if match:
        return _ids(match.group("ids"))
    match = _NOQA.search(comment)
    if match:
        codes = match.group("ids").replace(",", " ").split()
        ours = [code for code in codes if code.upper().startswith("PA")]
        return _ids(",".join(ours)) if ours else None  # other tools' codes: not ours
    return None


def is_suppressed(rule: str, line: int, table: Mapping[int, frozenset[str]]) -> bool:
    ids = table.get(line)
    return ids is not None and (ids == ALL_RULES or rule in ids)


def _ids(listed: str | None) -> frozenset[str]:
    if listed is None:
        return ALL_RULES
    ids: set[str] = set()
    for token in listed.split(","):
        try:
            ids |= expand_selector(token)
        except KeyError:
            continue  # an unknown id suppresses nothing rather than everything
    return frozenset(ids)


def _comments(source: str) -> list[tuple[int, int, str]]:
    """(first line, last line, text) of every comment, the lines being those of the
    statement it sits in; falls back to a line scan for untokenizable files."""
    found: list[tuple[int, int, str]] = []
    try:
        statement_start: int | None = None
        pending: list[str] = []
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            kind, (row, _) = token.type, token.start
            if kind == tokenize.COMMENT:
                if statement_start is None:  # a comment on a line of its own
                    found.append((row, row, token.string))
                else:
                    pending.append(token.string)
            elif kind == tokenize.NEWLINE:  # the end of a logical line
                if statement_start is not None:
                    found.extend((statement_start, row, text) for text in pending)
                statement_start, pending = None, []
            elif kind not in _BETWEEN_STATEMENTS and statement_start is None:
                statement_start = row
    except (tokenize.TokenError, SyntaxError):
        return [
            (number, number, text[text.index("#") :])
            for number, text in enumerate(source.splitlines(), start=1)
            if "#" in text
        ]
    return found


_BETWEEN_STATEMENTS = frozenset(
    {tokenize.NL, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER, tokenize.ENCODING}
)
