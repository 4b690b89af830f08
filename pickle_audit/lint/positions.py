"""Line/column and source text of selected nodes, without libcst's metadata machinery.

libcst's PositionProvider costs several times the parse itself, because it
tracks every node. Here one code-generation pass records only the token index
at which interesting node types start and end; line, column and source text
are then computed on demand from the token list, with a cursor that moves
forward (the extractor asks in document order).
"""

from __future__ import annotations

import sys
from bisect import bisect_right
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field

import libcst as cst
from libcst._nodes.internal import CodegenState

_TRACKED = frozenset(
    {
        cst.Assign,
        cst.AnnAssign,
        cst.Call,
        cst.ClassDef,
        cst.FunctionDef,
        cst.IndentedBlock,
        cst.SimpleStatementSuite,
    }
)


_NO_OP = nullcontext()


@dataclass
class _RecordingState(CodegenState):
    starts: dict[int, int] = field(default_factory=dict)
    ends: dict[int, int] = field(default_factory=dict)

    def before_codegen(self, node: cst.CSTNode) -> None:
        if type(node) in _TRACKED:
            self.starts[id(node)] = len(self.tokens)

    def after_codegen(self, node: cst.CSTNode) -> None:
        if type(node) in _TRACKED:
            self.ends[id(node)] = len(self.tokens)

    def record_syntactic_position(self, node: cst.CSTNode, **_: object) -> AbstractContextManager:
        # the base class builds a generator-based context manager per statement
        return _NO_OP


def _generate(module: cst.Module) -> _RecordingState:
    """Run code generation, with a deeper stack for deeply nested literals.

    The parser copes with `pydoc_data/topics.py` (thousands of implicitly
    concatenated strings), but generating its code recurses once per string; a
    temporarily higher limit is safe because these frames are pure Python.
    """
    for limit in (0, 60_000):
        state = _RecordingState(
            default_indent=module.default_indent, default_newline=module.default_newline
        )
        previous = sys.getrecursionlimit()
        try:
            if limit > previous:
                sys.setrecursionlimit(limit)
            module._codegen(state)
            return state
        except RecursionError:
            if limit:
                raise
        finally:
            sys.setrecursionlimit(previous)
    raise AssertionError("unreachable")


class SourcePositions:
    """Answers "where does this node start" and "what is its source text"."""

    def __init__(self, module: cst.Module) -> None:
        state = _generate(module)
        self._tokens = state.tokens
        self._starts = state.starts
        self._ends = state.ends
        # checkpoints: token index -> (line, column offset), sorted by index
        self._ck_index = [0]
        self._ck_pos = [(1, 0)]

    def _position_of_token(self, index: int) -> tuple[int, int]:
        at = bisect_right(self._ck_index, index) - 1
        base = self._ck_index[at]
        line, col = self._ck_pos[at]
        if index > base:
            text = "".join(self._tokens[base:index])
            newlines = text.count("\n")
            if newlines:
                line += newlines
                col = len(text) - text.rfind("\n") - 1
            else:
                col += len(text)
            if at == len(self._ck_index) - 1:
                self._ck_index.append(index)
                self._ck_pos.append((line, col))
        return line, col

    def start(self, node: cst.CSTNode) -> tuple[int, int]:
        """1-based (line, column) where the node's own text starts."""
        index = self._starts.get(id(node))
        if index is None:
            return (0, 0)
        if isinstance(node, cst.ClassDef | cst.FunctionDef):
            index = self._keyword_index(index, "class" if isinstance(node, cst.ClassDef) else "def")
        line, col = self._position_of_token(index)
        return line, col + 1

    def _keyword_index(self, index: int, keyword: str) -> int:
        tokens = self._tokens
        for i in range(index, min(len(tokens), index + 10_000)):
            if tokens[i] == keyword:
                if i > 0 and tokens[i - 1] == "async":
                    return i - 1
                return i
        return index

    def text(self, node: cst.CSTNode, until: cst.CSTNode | None = None) -> str:
        """The node's source (up to the start of `until`), whitespace collapsed."""
        start = self._starts.get(id(node))
        if start is None:
            return ""
        if isinstance(node, cst.ClassDef | cst.FunctionDef):
            start = self._keyword_index(start, "class" if isinstance(node, cst.ClassDef) else "def")
        end = self._starts.get(id(until)) if until is not None else self._ends.get(id(node))
        if end is None:
            return ""
        # Comments are left out: once line breaks collapse, a comment inside
        # brackets would swallow the code after it (and baselines need the code).
        code = (token for token in self._tokens[start:end] if not token.startswith("#"))
        return " ".join("".join(code).split())
