"""Inline suppressions: `# pickle-audit: ignore[PA102]`, a bare `# pickle-audit: ignore`,
or `# noqa: PA102` as ruff and flake8 users write it.

Comments are read with `tokenize`, so a marker inside a string literal does not
count. A comment anywhere in a statement that spans several lines covers every
line of it: formatters move trailing comments to the closing line of a wrapped
statement, and the suppression must not stop working when they do. A bare
`# noqa` and codes of other tools are left to the linters they were written for.

Each comment is kept as a `Suppression` record that knows where it is and
which ids it names, so the run can tell which comments did suppress something
and report the others (PA001), as ruff's RUF100 does.
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass

from pickle_audit.catalog import expand_selector
from pickle_audit.lint.facts import CommentFact

ALL_RULES = frozenset({"*"})
_MARKER = re.compile(r"#\s*pickle-audit:\s*ignore\b(?:\[(?P<ids>[^\]]*)\])?", re.IGNORECASE)
_NOQA = re.compile(r"#\s*noqa\s*:\s*(?P<ids>[a-z]+\d*(?:[\s,]+[a-z]+\d*)*)", re.IGNORECASE)
_OUR_CODE = re.compile(r"PA\d+", re.IGNORECASE)


@dataclass(frozen=True)
class Suppression:
    """One suppression comment: where it is, the statement lines it covers, what it names.

    `ids` are the rule ids it suppresses (`{"*"}` for a bare ignore); `unknown`
    the ids written in it that name no rule, which suppress nothing.
    """

    line: int
    column: int  # 1-based, of the marker
    first: int
    last: int
    ids: frozenset[str]
    unknown: tuple[str, ...]
    text: str

    def covers(self, rule: str, line: int) -> bool:
        return self.first <= line <= self.last and (self.ids == ALL_RULES or rule in self.ids)


def read_suppressions(source: str) -> tuple[Suppression, ...]:
    """Every suppression comment of a file, in source order."""
    return suppressions_from(marker_comments(source))


def marker_comments(source: str) -> tuple[CommentFact, ...]:
    """The comments of a file that are suppressions, with their statements' lines: what
    the facts cache keeps, so that only a changed file is ever tokenized again."""
    lowered = source.lower()  # ten times faster than a case-blind regex on big files
    if "pickle-audit:" not in lowered and "noqa" not in lowered:
        return ()  # most files: skip tokenizing, the costly part
    return tuple(
        CommentFact(row, column, first, last, comment)
        for first, last, row, column, comment in _comments(source)
        if _parse(comment) is not None
    )


def suppressions_from(comments: tuple[CommentFact, ...]) -> tuple[Suppression, ...]:
    found = []
    for comment in comments:
        parsed = _parse(comment.text)
        if parsed is not None:
            offset, written, ids, unknown = parsed
            column = comment.column + offset + 1
            found.append(
                Suppression(
                    comment.line, column, comment.first, comment.last, ids, unknown, written
                )
            )
    return tuple(found)


def is_suppressed(rule: str, line: int, table: tuple[Suppression, ...]) -> bool:
    return any(suppression.covers(rule, line) for suppression in table)


def _parse(comment: str) -> tuple[int, str, frozenset[str], tuple[str, ...]] | None:
    """(offset of the marker in the comment, marker text, ids, unknown ids), or None."""
    match = _MARKER.search(comment)
    if match:
        listed = match.group("ids")
        if listed is None:
            return match.start(), match.group(0), ALL_RULES, ()
        return (match.start(), match.group(0), *_ids(listed.split(",")))
    match = _NOQA.search(comment)
    if match:
        codes = match.group("ids").replace(",", " ").split()
        ours = [code for code in codes if _OUR_CODE.fullmatch(code)]
        if ours:  # other tools' codes are theirs to judge
            return (match.start(), match.group(0), *_ids(ours))
    return None


def _ids(tokens: list[str]) -> tuple[frozenset[str], tuple[str, ...]]:
    ids: set[str] = set()
    unknown: list[str] = []
    for token in (token.strip() for token in tokens):
        if not token:
            continue
        try:
            ids |= expand_selector(token)
        except KeyError:
            unknown.append(token)  # an unknown id suppresses nothing rather than everything
    return frozenset(ids), tuple(unknown)


def _comments(source: str) -> list[tuple[int, int, int, int, str]]:
    """(first line, last line, row, column, text) of every comment, the lines being
    those of the statement it sits in; falls back to a line scan for untokenizable files."""
    found: list[tuple[int, int, int, int, str]] = []
    try:
        statement_start: int | None = None
        pending: list[tuple[int, int, str]] = []
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            kind, (row, column) = token.type, token.start
            if kind == tokenize.COMMENT:
                if statement_start is None:  # a comment on a line of its own
                    found.append((row, row, row, column, token.string))
                else:
                    pending.append((row, column, token.string))
            elif kind == tokenize.NEWLINE:  # the end of a logical line
                if statement_start is not None:
                    found.extend((statement_start, row, *comment) for comment in pending)
                statement_start, pending = None, []
            elif kind not in _BETWEEN_STATEMENTS and statement_start is None:
                statement_start = row
    except (tokenize.TokenError, SyntaxError):
        return [
            (number, number, number, text.index("#"), text[text.index("#") :])
            for number, text in enumerate(source.splitlines(), start=1)
            if "#" in text
        ]
    return found


_BETWEEN_STATEMENTS = frozenset(
    {tokenize.NL, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER, tokenize.ENCODING}
)
