"""Following a problem's path back to the object it names.

Paths are written so that each one leads to exactly one object: attributes,
items under keys whose repr reads back as the key, `[#i]`/`<#i>`/`{#i}` for
the i-th value, key or member in iteration order, and the calls that produced
reduction parts (`.__reduce_ex__(2)[1][0]`, `.__getnewargs__()[0]`). Reading
a path back is how the tracer's names are tested; it is also a way for users
to get at the culprit in a debugger.
"""

from __future__ import annotations

import ast
import re
from typing import Any

_ATTRIBUTE = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)")
_CALL = re.compile(r"\(([^()]*)\)")
_POSITION = re.compile(r"([\[<{])#(\d+)([\]>}])")
_CLOSURE_NAME = re.compile(r"\[([A-Za-z_][A-Za-z0-9_]*)\]")
_PAIRS = {"[": "]", "<": ">", "{": "}"}


class UnresolvablePath(ValueError):
    """The path cannot be followed (shortened, or made by the serializer's own reducer)."""


def resolve_path(root: Any, path: str) -> Any:
    """The object `path` names, starting from `root` (the object its first name is)."""
    if "...<" in path:
        raise UnresolvablePath(f"{path!r} was shortened: its middle levels are not spelled out")
    position = _end_of_root_name(path)
    value = root
    while position < len(path):
        value, position = _step(value, path, position)
    return value


def _end_of_root_name(path: str) -> int:
    for index, char in enumerate(path):
        if char in ".[<{":
            return index
    return len(path)


def _step(value: Any, path: str, at: int) -> tuple[Any, int]:
    positional = _POSITION.match(path, at)
    if positional is not None and _PAIRS[positional.group(1)] == positional.group(3):
        return _nth(value, positional.group(1), int(positional.group(2)), path), positional.end()
    if path[at] == "[":
        return _item(value, path, at)
    attribute = _ATTRIBUTE.match(path, at)
    if attribute is None:
        raise UnresolvablePath(f"cannot read {path[at:]!r} in {path!r}")
    name, after = attribute.group(1), attribute.end()
    if name == "__closure__":
        cell = _CLOSURE_NAME.match(path, after)
        if cell is not None:
            return _captured(value, cell.group(1)), cell.end()
    call = _CALL.match(path, after)
    if call is not None:
        arguments = ast.literal_eval(f"({call.group(1)},)") if call.group(1) else ()
        return getattr(value, name)(*arguments), call.end()
    return getattr(value, name), after


def _nth(value: Any, kind: str, index: int, path: str) -> Any:
    if kind == "[":
        entries = list(value.values())
    elif kind == "<":
        entries = list(value.keys())
    else:
        entries = list(value)
    if index >= len(entries):
        raise UnresolvablePath(f"{path!r}: entry {index} is gone (the object changed)")
    return entries[index]


def _item(value: Any, path: str, at: int) -> tuple[Any, int]:
    """`[key]` where key is a literal: the first `]` after which the text reads back."""
    end = path.find("]", at)
    while end != -1:
        try:
            key = ast.literal_eval(path[at + 1 : end])
        except (ValueError, SyntaxError):
            end = path.find("]", end + 1)
            continue
        return value[key], end + 1
    raise UnresolvablePath(f"cannot read the key in {path[at:]!r}")


def _captured(function: Any, name: str) -> Any:
    names = function.__code__.co_freevars
    return function.__closure__[names.index(name)].cell_contents
