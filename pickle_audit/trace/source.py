"""Where a bad value came from: the line that assigned the attribute, or a function's def.

Attribute assignments are found with the linter's own per-file facts, so trace
and lint agree on what "the line that stores mc_levels" is.
"""

from __future__ import annotations

import functools
import os
import sys
import types
from pathlib import Path
from typing import Any


def display_path(filename: str) -> str:
    """Relative to the working directory when inside it (with '/'), else absolute."""
    return _display_path(filename, os.getcwd())


@functools.lru_cache(maxsize=1024)
def _display_path(filename: str, cwd: str) -> str:
    """Resolving a path costs a system call per component: more than the failing dump
    it is shown with, so it is done once per file and working directory."""
    path = Path(filename).resolve()
    try:
        return path.relative_to(Path(cwd).resolve()).as_posix()
    except ValueError:
        return str(path)


class SourceFinder:
    """Looks up sources for one audit; parsed files are cached for its duration."""

    def __init__(self) -> None:
        self._facts: dict[str, Any] = {}

    def locate(
        self, value: Any, holder: Any, segments: tuple[str, ...], rule: str | None
    ) -> str | None:
        defined_at = function_source(value)
        if defined_at is not None:
            return defined_at
        last = segments[-1] if segments else ""
        if last.startswith((".__closure__[", ".__globals__[")):
            return function_source(holder)  # the function that captures or uses it
        if holder is not None and last.startswith(".") and last[1:].isidentifier():
            found = self._attribute_source(type(holder), last[1:], rule)
            if found is not None:
                return found
        return None

    def _attribute_source(self, cls: type, attribute: str, rule: str | None) -> str | None:
        for klass in cls.__mro__[:-1]:
            module = sys.modules.get(klass.__module__)
            filename = getattr(module, "__file__", None)
            if not filename or not filename.endswith(".py"):
                continue
            facts = self._facts_for(filename, klass.__module__)
            if facts is None:
                continue
            fact = _matching_assignment(facts, klass.__qualname__, attribute, rule)
            if fact is not None:
                return f"{display_path(filename)}:{fact.line}"
        return None

    def _facts_for(self, filename: str, module: str) -> Any:
        if filename not in self._facts:
            self._facts[filename] = _read_facts(filename, module)
        return self._facts[filename]


# The syntactic value kinds (lint facts) that produce a value of each rule.
_KINDS_FOR_RULE = {
    "PA101": ("lambda",),
    "PA102": ("dict_view",),
    "PA103": ("nested_function", "partial_closure"),
    "PA104": ("genexp",),
    "PA106": ("local_class_instance", "local_class"),
}


def _matching_assignment(facts: Any, class_qualname: str, attribute: str, rule: str | None) -> Any:
    """The assignment that produced the value: an attribute may be assigned several
    times (qcmanybody stores a set in mc_levels, then replaces it by a dict view), and
    the one whose syntax produces this kind of value is the one to show."""
    kinds = _KINDS_FOR_RULE.get(rule or "", ())
    cls = facts.class_named(class_qualname) if kinds else None
    if cls is not None:
        matching = [
            a
            for a in cls.attributes
            if a.name == attribute
            and a.on_instance
            and a.value is not None
            and a.value.kind in kinds
        ]
        if matching:
            return matching[-1]
    return facts.find_attribute(class_qualname, attribute)


def _read_facts(filename: str, module: str) -> Any:
    try:
        status = os.stat(filename)
    except OSError:  # unreadable source only costs the hint
        return None
    return _facts_of_file(filename, module, status.st_mtime_ns, status.st_size)


@functools.lru_cache(maxsize=32)
def _facts_of_file(filename: str, module: str, mtime_ns: int, size: int) -> Any:
    """Reading the file again on every failing audit costs as much as the dump: a file
    whose modification time and size are unchanged is not read again."""
    try:
        source = Path(filename).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return _facts_of_source(source, filename, module)


@functools.lru_cache(maxsize=32)
def _facts_of_source(source: str, filename: str, module: str) -> Any:
    """Parsing a module costs far more than the failing dump it explains, so the
    facts are kept per file *content*: an audit in a loop parses each file once,
    and an edited file (new content) is parsed again."""
    try:
        from pickle_audit.lint.facts import extract_facts
    except ImportError:  # an install without the linter: sources are best effort
        return None
    try:
        return extract_facts(source, filename, module)
    except Exception:  # unparsable source only costs the hint
        return None


def function_source(value: Any) -> str | None:
    """`file:line` of the def of a function, a method's function or a partial's function."""
    while issubclass(type(value), (functools.partial, types.MethodType)):
        value = value.func if issubclass(type(value), functools.partial) else value.__func__
    code = value.__code__ if issubclass(type(value), types.FunctionType) else None
    if code is None or not os.path.exists(code.co_filename):
        return None
    return f"{display_path(code.co_filename)}:{code.co_firstlineno}"
