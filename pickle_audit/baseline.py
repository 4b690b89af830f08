"""Baselines: adopt the linter on a codebase that already has findings.

A baseline records today's findings so a CI gate fails only on *new* ones.
Entries are keyed by a fingerprint that ignores line numbers: rule, file,
symbol (e.g. ``ManyBodyCore.mc_levels``) and the flagged statement's source in
a canonical form. Moving code, inserting lines above it or reformatting it
(``ruff format``) keeps the finding matched; a second identical finding in the
same place is new, because each fingerprint carries a count.

The file is sorted, indented JSON with a trailing newline, and each entry
spells out rule, path, symbol and snippet, so its diffs review like code.
"""

from __future__ import annotations

import ast
import hashlib
import io
import json
import os
import re
import sys
import tokenize
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from pickle_audit.atomic import write_atomically
from pickle_audit.config import ConfigError
from pickle_audit.findings import Finding

BASELINE_VERSION = 1

# A file that does not parse was not checked at all: hiding that behind a
# baseline would let every later finding in it slip through unseen.
UNBASELINABLE_RULES = frozenset({"PA000"})


@dataclass(frozen=True)
class BaselineEntry:
    """One recorded fingerprint and how many findings it covered."""

    fingerprint: str
    rule: str
    path: str  # relative to the baseline file's folder, with '/'
    symbol: str
    snippet: str  # canonical source, see normalise_snippet
    count: int = 1

    def describe(self) -> str:
        where = f"{self.path} {self.symbol}".rstrip()
        return f"{self.rule} {where}: {self.snippet}"


@dataclass(frozen=True)
class Baseline:
    """A loaded baseline file; `base` is the folder its paths are relative to."""

    base: Path
    entries: tuple[BaselineEntry, ...] = ()


def normalise_snippet(snippet: str) -> str:
    """Canonical source of a statement, so reformatting does not change it.

    A parsable statement is round-tripped through `ast` (quotes, spacing, line
    breaks, redundant parentheses and trailing commas all vanish). A fragment
    such as a `class X(Exception):` header falls back to its tokens, which
    still drops spacing, comments and trailing commas.
    """
    text = snippet.strip()
    if not text:
        return ""
    try:
        return _unparse(text)
    except (SyntaxError, ValueError):
        pass
    try:  # a block header such as `class E(Exception):` parses once given a body
        header = _unparse(text + "\n pass")
    except (SyntaxError, ValueError):
        return " ".join(_tokens(text))
    return header.rsplit(":", 1)[0] + ":"


def _unparse(text: str) -> str:
    code = ast.unparse(ast.parse(text))
    if sys.version_info < (3, 11):  # 3.10 prints an argument-less lambda as `lambda :`
        code = re.sub(r"\blambda :", "lambda:", code)
    return code


def identity_form(canonical: str) -> str:
    """What a fingerprint hashes: a canonical snippet's tokens, the same on every Python.

    `ast.unparse` spaces and quotes some constructs differently from one
    Python version to the next, so the readable canonical form (from
    `normalise_snippet`, or as a baseline recorded it) is reduced once more to
    its tokens, with string literals in one quoting style. A baseline written
    on one Python therefore matches on another.
    """
    return " ".join(_tokens(canonical))


_TRIVIA = frozenset(
    {
        tokenize.COMMENT,
        tokenize.NL,
        tokenize.NEWLINE,
        tokenize.INDENT,
        tokenize.DEDENT,
        tokenize.ENDMARKER,
    }
)
# Python 3.12 splits an f-string into parts; older Pythons see one STRING token
_FSTRING_START = getattr(tokenize, "FSTRING_START", None)
_FSTRING_END = getattr(tokenize, "FSTRING_END", None)


def _tokens(text: str) -> list[str]:
    """Significant tokens, trailing commas dropped, each f-string kept whole as written."""
    lines = text.splitlines(keepends=True)
    tokens: list[str] = []
    open_fstrings = 0
    fstring_start = (0, 0)
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if _FSTRING_START is not None and token.type == _FSTRING_START:
                if open_fstrings == 0:
                    fstring_start = token.start
                open_fstrings += 1
                continue
            if open_fstrings:
                if token.type == _FSTRING_END:
                    open_fstrings -= 1
                    if open_fstrings == 0:
                        tokens.append(_source_between(lines, fstring_start, token.end))
                continue
            if token.type in _TRIVIA:
                continue
            if token.string in (")", "]", "}") and tokens and tokens[-1] == ",":
                tokens.pop()
            tokens.append(_literal(token) if token.type == tokenize.STRING else token.string)
    except (tokenize.TokenError, SyntaxError):
        return text.split()
    return tokens


def _literal(token: tokenize.TokenInfo) -> str:
    """A plain string or bytes literal in `repr`'s quoting; an f-string as written."""
    if "f" in token.string.split(token.string[-1], 1)[0].lower():
        return token.string
    try:
        return repr(ast.literal_eval(token.string))
    except (SyntaxError, ValueError):
        return token.string


def _source_between(lines: list[str], start: tuple[int, int], end: tuple[int, int]) -> str:
    (first_row, first_col), (last_row, last_col) = start, end
    if first_row == last_row:
        return lines[first_row - 1][first_col:last_col]
    middle = lines[first_row : last_row - 1]
    return lines[first_row - 1][first_col:] + "".join(middle) + lines[last_row - 1][:last_col]


def _relative_path(path: str, relative_to: Path | None) -> str:
    if relative_to is None:
        return path.replace(os.sep, "/")
    absolute = Path(path) if os.path.isabs(path) else Path.cwd() / path
    try:
        relative = os.path.relpath(absolute.resolve(), relative_to.resolve())
    except ValueError:  # another drive on Windows
        relative = str(absolute)
    return relative.replace(os.sep, "/")


def _digest(rule: str, path: str, symbol: str, snippet: str) -> str:
    key = "\0".join((rule, path, symbol, identity_form(snippet)))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def fingerprint(finding: Finding, relative_to: Path | None = None) -> str:
    """Line-number-free identity of a finding.

    `finding.path` is relative to the working directory; pass `relative_to`
    (the baseline's folder, or the project root) to make the fingerprint
    independent of where the command was run.
    """
    return _digest(
        finding.rule,
        _relative_path(finding.path, relative_to),
        finding.symbol,
        normalise_snippet(finding.snippet),
    )


def _entries_for(findings: Iterable[Finding], base: Path) -> list[BaselineEntry]:
    counts: Counter[str] = Counter()
    first: dict[str, BaselineEntry] = {}
    for finding in findings:
        if finding.rule in UNBASELINABLE_RULES:
            continue
        path = _relative_path(finding.path, base)
        snippet = normalise_snippet(finding.snippet)
        key = _digest(finding.rule, path, finding.symbol, snippet)
        counts[key] += 1
        first.setdefault(key, BaselineEntry(key, finding.rule, path, finding.symbol, snippet))
    entries = [
        BaselineEntry(e.fingerprint, e.rule, e.path, e.symbol, e.snippet, counts[key])
        for key, e in first.items()
    ]
    return sorted(entries, key=_entry_order)


def _entry_order(entry: BaselineEntry) -> tuple[str, ...]:
    return (entry.path, entry.rule, entry.symbol, entry.snippet, entry.fingerprint)


def _in_scope(entry: BaselineEntry, base: Path, scope: Collection[Path] | None) -> bool:
    """Whether the entry's file is one of `scope`'s files or lies below one of its folders."""
    if scope is None:
        return True
    target = (base / entry.path).resolve()
    return target in scope or any(parent in scope for parent in target.parents)


def _resolved(scope: Collection[Path] | None) -> frozenset[Path] | None:
    return None if scope is None else frozenset(Path(p).resolve() for p in scope)


def write_baseline(
    path: Path, findings: Iterable[Finding], scope: Collection[Path] | None = None
) -> None:
    """Record `findings` in `path`, replacing (and so pruning) what was there.

    `scope` is the files and folders that were linted when not the whole
    project was (`pickle-audit lint a.py --write-baseline ...`): entries of an
    existing baseline for other files are kept, since nothing was learned about them.
    """
    path = Path(path)
    base = path.resolve().parent
    entries = _entries_for(findings, base)
    scope = _resolved(scope)
    if scope is not None and path.exists():
        kept = load_baseline(path).entries
        entries = sorted(
            [e for e in kept if not _in_scope(e, base, scope)] + entries, key=_entry_order
        )
    document = {
        "tool": "pickle-audit",
        "version": BASELINE_VERSION,
        "entries": [
            {
                "count": e.count,
                "fingerprint": e.fingerprint,
                "path": e.path,
                "rule": e.rule,
                "snippet": e.snippet,
                "symbol": e.symbol,
            }
            for e in entries
        ],
    }
    text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, text.encode("utf-8"))


def _malformed(path: Path, why: str) -> ConfigError:
    return ConfigError(
        f"baseline {path} is malformed ({why}); regenerate it with "
        f"`pickle-audit lint --write-baseline {path}`"
    )


def _parse_entry(raw: object, path: Path, index: int) -> BaselineEntry:
    if not isinstance(raw, dict):
        raise _malformed(path, f"entry {index} is not an object")
    fields = {}
    for name in ("fingerprint", "rule", "path", "symbol", "snippet"):
        value = raw.get(name)
        if not isinstance(value, str):
            raise _malformed(path, f"entry {index} has no string {name!r}")
        fields[name] = value
    count = raw.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise _malformed(path, f"entry {index} has count {count!r}, expected a positive integer")
    return BaselineEntry(count=count, **fields)


def load_baseline(path: Path) -> Baseline:
    """Read a baseline file; a missing or malformed file is a ConfigError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"baseline file {path} does not exist; create it with "
            f"`pickle-audit lint --write-baseline {path}`"
        ) from None
    except OSError as error:
        raise ConfigError(f"cannot read baseline {path}: {error.strerror}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise _malformed(path, f"invalid JSON at line {error.lineno}: {error.msg}") from None
    if not isinstance(document, dict) or not isinstance(document.get("entries"), list):
        raise _malformed(path, "expected an object with an 'entries' list")
    if document.get("version") != BASELINE_VERSION:
        raise _malformed(
            path, f"version {document.get('version')!r}, this pickle-audit reads {BASELINE_VERSION}"
        )
    merged: dict[str, BaselineEntry] = {}
    for index, raw in enumerate(document["entries"]):
        entry = _parse_entry(raw, path, index)
        # identity comes from the recorded fields, so a file written by another
        # version of pickle-audit or Python keeps matching
        entry = replace(
            entry, fingerprint=_digest(entry.rule, entry.path, entry.symbol, entry.snippet)
        )
        if entry.fingerprint in merged:  # e.g. both sides of a resolved merge conflict
            entry = replace(entry, count=entry.count + merged[entry.fingerprint].count)
        merged[entry.fingerprint] = entry
    return Baseline(base=path.resolve().parent, entries=tuple(merged.values()))


def apply_baseline(
    findings: Sequence[Finding], baseline: Baseline, scope: Collection[Path] | None = None
) -> tuple[list[Finding], list[str]]:
    """Split off the recorded findings: returns (new findings, stale entries).

    Each fingerprint absorbs at most its recorded count of findings, taken in
    file order, so a copy of a recorded line added below it is reported. An
    entry that absorbs fewer findings than it recorded is stale, described in
    one line for the user. `scope` (the files and folders that were linted,
    when not the whole project was, as in a pre-commit hook) keeps entries of
    other files from being called stale.
    """
    scope = _resolved(scope)
    remaining = Counter({e.fingerprint: e.count for e in baseline.entries})
    new: list[Finding] = []
    for finding in sorted(findings, key=Finding.sort_key):
        key = fingerprint(finding, baseline.base)
        if finding.rule not in UNBASELINABLE_RULES and remaining[key] > 0:
            remaining[key] -= 1
        else:
            new.append(finding)
    stale = []
    for entry in baseline.entries:
        left = remaining[entry.fingerprint]
        if left and _in_scope(entry, baseline.base, scope):
            found = entry.count - left
            suffix = f" ({found} of {entry.count} still found)" if entry.count > 1 else ""
            stale.append(entry.describe() + suffix)
    return new, stale
