"""Inline suppressions: `# pickle-audit: ignore[PA102]` or a bare `# pickle-audit: ignore`.

Comments are read with `tokenize`, so the marker inside a string literal does
not count. Only files that have findings are read.
"""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Mapping

from pickle_audit.catalog import expand_selector

ALL_RULES = frozenset({"*"})
_MARKER = re.compile(r"#\s*pickle-audit:\s*ignore\b(?:\[(?P<ids>[^\]]*)\])?", re.IGNORECASE)


def suppressions(source: str) -> Mapping[int, frozenset[str]]:
    """Line number -> rule ids suppressed on that line (`{"*"}` for a bare ignore)."""
    by_line: dict[int, frozenset[str]] = {}
    if _MARKER.search(source) is None:  # most files: skip tokenizing (the costly part)
        return by_line
    for line, comment in _comments(source):
        match = _MARKER.search(comment)
        if match:
            by_line[line] = _ids(match.group("ids"))
    return by_line


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


def _comments(source: str) -> list[tuple[int, str]]:
    """(line, text) of every comment; falls back to a line scan for untokenizable files."""
    try:
        return [
            (token.start[0], token.string)
            for token in tokenize.generate_tokens(io.StringIO(source).readline)
            if token.type == tokenize.COMMENT
        ]
    except (tokenize.TokenError, SyntaxError):
        return [
            (number, text[text.index("#") :])
            for number, text in enumerate(source.splitlines(), start=1)
            if "#" in text
        ]
