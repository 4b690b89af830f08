"""`--fix` / `--diff`: safe, mechanical rewrites of flagged code.

Only two cases are rewritten, both with a single obviously-equivalent answer:

- PA102: a dict view stored by assignment, `self.x = d.keys()`, becomes
  `self.x = list(d.keys())` (a view passed as an argument is wrapped the same
  way when the finding points at it);
- PA201: a lambda handed to a process pool that only forwards its own
  arguments, in order, to a module-level function, an imported function or a
  builtin (`pool.map(lambda x: f(x), xs)`) becomes that function (`f`).

The findings drive the rewrite (rule + line/column), so nothing unflagged is
touched; libcst keeps every other byte of the file, comments included. A
rewritten node no longer matches its pattern, so fixing twice is a no-op.
Everything else is left for a human, with the fix text in the message.
"""

from __future__ import annotations

import difflib
import io
import tokenize
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import libcst as cst
from libcst.metadata import (
    BuiltinAssignment,
    CodeRange,
    MetadataWrapper,
    PositionProvider,
    ScopeProvider,
)

from pickle_audit.atomic import write_atomically
from pickle_audit.findings import Finding

FIXABLE_RULES = frozenset({"PA102", "PA201"})
DICT_VIEW_METHODS = frozenset({"keys", "values", "items"})


@dataclass(frozen=True)
class FileFix:
    """A file's text before and after its fixes; `fixed` lists what was fixed."""

    path: str
    before: str
    after: str
    fixed: tuple[Finding, ...] = ()


def _is_dict_view_call(node: cst.BaseExpression) -> bool:
    return (
        isinstance(node, cst.Call)
        and not node.args
        and isinstance(node.func, cst.Attribute)
        and node.func.attr.value in DICT_VIEW_METHODS
    )


def _covers_line(where: CodeRange, line: int) -> bool:
    return where.start.line <= line <= where.end.line


def _covers(where: CodeRange, line: int, column: int) -> bool:
    """Whether (line, 1-based column) lies within `where`."""
    start, end = (where.start.line, where.start.column), (where.end.line, where.end.column)
    return start <= (line, column - 1) < end


def _passed_values(call: cst.Call) -> list[cst.BaseExpression]:
    """What a call hands over: its argument values, and the items of list/tuple/set literals."""
    values = []
    for arg in call.args:
        values.append(arg.value)
        if isinstance(arg.value, cst.List | cst.Tuple | cst.Set):
            values.extend(element.value for element in arg.value.elements)
    return values


def _pick(candidates: list[tuple[cst.CSTNode, CodeRange]], finding: Finding) -> cst.CSTNode | None:
    """The one candidate node a finding points at, or None when unsure."""
    on_line = [(n, r) for n, r in candidates if _covers_line(r, finding.line)]
    if len(on_line) == 1:
        return on_line[0][0]
    exact = [n for n, r in on_line if _covers(r, finding.line, finding.column)]
    return exact[0] if len(exact) == 1 else None


class _Targets(cst.CSTVisitor):
    """Collects the fixable nodes of a module, with their positions."""

    METADATA_DEPENDENCIES = (PositionProvider, ScopeProvider)

    def __init__(self) -> None:
        self.stored_views: list[tuple[cst.CSTNode, CodeRange]] = []
        self.view_calls: set[cst.CSTNode] = set()
        self.forwarding_lambdas: list[tuple[cst.CSTNode, CodeRange]] = []
        # 1-based (line, column) -> the outermost call starting there (a boundary call)
        self.calls_at: dict[tuple[int, int], cst.Call] = {}
        # defs and from-imports at the module's top level: a worker can import what they bind
        self.top_level: set[cst.CSTNode] = set()

    def visit_Module(self, node: cst.Module) -> None:
        for statement in node.body:
            if isinstance(statement, cst.FunctionDef):
                self.top_level.add(statement)
            elif isinstance(statement, cst.SimpleStatementLine):
                self.top_level.update(s for s in statement.body if isinstance(s, cst.ImportFrom))

    def _where(self, node: cst.CSTNode) -> CodeRange:
        return self.get_metadata(PositionProvider, node)

    def visit_Assign(self, node: cst.Assign) -> None:
        if _is_dict_view_call(node.value):
            self.stored_views.append((node, self._where(node)))

    def visit_Call(self, node: cst.Call) -> None:
        start = self._where(node).start
        self.calls_at.setdefault((start.line, start.column + 1), node)
        if _is_dict_view_call(node):
            self.view_calls.add(node)

    def flagged_views(self, finding: Finding) -> list[cst.CSTNode]:
        """A stored view on the finding's line, else the views the call it points at passes."""
        stored = _pick(self.stored_views, finding)
        if stored is not None:
            return [stored]
        call = self.calls_at.get((finding.line, finding.column))
        if call is None:
            return []
        if call in self.view_calls:
            return [call]
        return [value for value in _passed_values(call) if value in self.view_calls]

    def flagged_lambdas(self, finding: Finding) -> list[cst.CSTNode]:
        """The forwarding lambdas handed to the call the finding points at (or on its line)."""
        call = self.calls_at.get((finding.line, finding.column))
        forwarding = {node for node, _ in self.forwarding_lambdas}
        if call is not None:
            return [value for value in _passed_values(call) if value in forwarding]
        picked = _pick(self.forwarding_lambdas, finding)
        return [] if picked is None else [picked]

    def visit_Lambda(self, node: cst.Lambda) -> None:
        if self._forwarded_function(node) is not None:
            self.forwarding_lambdas.append((node, self._where(node)))

    def _forwarded_function(self, node: cst.Lambda) -> cst.Name | None:
        params = node.params
        if params.star_arg != cst.MaybeSentinel.DEFAULT or params.kwonly_params:
            return None
        if params.star_kwarg is not None:
            return None
        names = [p.name.value for p in (*params.posonly_params, *params.params)]
        if any(p.default is not None for p in (*params.posonly_params, *params.params)):
            return None
        body = node.body
        if not isinstance(body, cst.Call) or not isinstance(body.func, cst.Name):
            return None
        forwarded = [
            arg.value.value
            for arg in body.args
            if arg.keyword is None and not arg.star and isinstance(arg.value, cst.Name)
        ]
        if forwarded != names or len(body.args) != len(names) or body.func.value in names:
            return None
        return body.func if self._is_module_level_callable(body.func) else None

    def _is_module_level_callable(self, name: cst.Name) -> bool:
        scope = self.get_metadata(ScopeProvider, name, None)
        if scope is None:
            return False
        assignments = list(scope[name.value])
        if not assignments:
            return False
        for assignment in assignments:
            if isinstance(assignment, BuiltinAssignment):
                continue
            # Not `GlobalScope` alone: a def under `if __name__ == "__main__":` is global
            # too, but a spawned worker cannot import it (PA203).
            if assignment.node not in self.top_level:
                return False
        return True


class _Rewrite(cst.CSTTransformer):
    def __init__(
        self, stored: set[cst.CSTNode], calls: set[cst.CSTNode], lambdas: set[cst.CSTNode]
    ) -> None:
        self.stored, self.calls, self.lambdas = stored, calls, lambdas

    @staticmethod
    def _listed(value: cst.BaseExpression) -> cst.Call:
        # Keep the value's own parentheses (and any comments in them) outside list(...).
        inner = value.with_changes(lpar=(), rpar=())
        return cst.Call(
            func=cst.Name("list"), args=[cst.Arg(inner)], lpar=value.lpar, rpar=value.rpar
        )

    def leave_Assign(self, original: cst.Assign, updated: cst.Assign) -> cst.Assign:
        if original in self.stored:
            return updated.with_changes(value=self._listed(updated.value))
        return updated

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        return self._listed(updated) if original in self.calls else updated

    def leave_Lambda(self, original: cst.Lambda, updated: cst.Lambda) -> cst.BaseExpression:
        if original not in self.lambdas:
            return updated
        function = updated.body
        assert isinstance(function, cst.Call) and isinstance(function.func, cst.Name)
        return function.func.with_changes(lpar=updated.lpar, rpar=updated.rpar)


def _fix_module(source: str, findings: Sequence[Finding]) -> tuple[str, tuple[Finding, ...]]:
    try:
        wrapper = MetadataWrapper(cst.parse_module(source))
    except cst.ParserSyntaxError:
        return source, ()
    targets = _Targets()
    wrapper.visit(targets)
    stored: set[cst.CSTNode] = set()
    calls: set[cst.CSTNode] = set()
    lambdas: set[cst.CSTNode] = set()
    fixed = []
    for finding in findings:
        if finding.rule == "PA102":
            nodes = targets.flagged_views(finding)
            for node in nodes:
                (stored if isinstance(node, cst.Assign) else calls).add(node)
        else:
            nodes = targets.flagged_lambdas(finding)
            lambdas.update(nodes)
        if nodes:
            fixed.append(finding)
    # An assignment wrapped whole must not have its value wrapped a second time.
    calls -= {node.value for node in stored if isinstance(node, cst.Assign)}
    if not fixed:
        return source, ()
    rewritten = wrapper.module.visit(_Rewrite(stored, calls, lambdas))
    return rewritten.code, tuple(fixed)


def _encoding(data: bytes) -> str:
    return tokenize.detect_encoding(io.BytesIO(data).readline)[0]


def _read(path: Path) -> tuple[str, str] | None:
    """A file's text (newlines untouched) and its encoding, or None if unreadable."""
    try:
        data = path.read_bytes()
        encoding = _encoding(data)
        return data.decode(encoding), encoding
    except (OSError, SyntaxError, LookupError, UnicodeDecodeError):
        return None


def plan_fixes(findings: Sequence[Finding]) -> list[FileFix]:
    """The rewrites the fixable findings call for, one FileFix per changed file.

    Findings of other rules, files that cannot be read or parsed, and findings
    whose code does not match a safe pattern are left alone.
    """
    by_path: dict[str, list[Finding]] = defaultdict(list)
    for finding in findings:
        if finding.rule in FIXABLE_RULES:
            by_path[finding.path].append(finding)
    fixes = []
    for path in sorted(by_path):
        read = _read(Path(path))
        if read is None:
            continue
        before = read[0]
        after, fixed = _fix_module(before, by_path[path])
        if after != before:
            fixes.append(FileFix(path, before, after, fixed))
    return fixes


def unified_diff(fixes: Iterable[FileFix]) -> str:
    """What `--fix` would change, as one unified diff (`a/` and `b/` prefixes)."""
    chunks = []
    for fix in fixes:
        chunks.extend(
            difflib.unified_diff(
                fix.before.splitlines(keepends=True),
                fix.after.splitlines(keepends=True),
                fromfile=f"a/{fix.path}",
                tofile=f"b/{fix.path}",
            )
        )
    return "".join(chunks)


def apply_fixes(fixes: Iterable[FileFix]) -> list[FileFix]:
    """Write each fix whose file is unchanged since it was planned; return those written.

    A file edited in between (an editor, a formatter in the same hook run) is
    skipped rather than overwritten: its fix is planned again on the next run.
    """
    written = []
    for fix in fixes:
        read = _read(Path(fix.path))
        if read is None or read[0] != fix.before:
            continue
        write_atomically(Path(fix.path), fix.after.encode(read[1]))
        written.append(fix)
    return written
