"""PA301: exceptions that pickle but cannot be unpickled.

An exception pickles as `(type(e), e.args, e.__dict__)` and unpickles as
`type(e)(*e.args)`. `e.args` is whatever reached `BaseException.__init__`
(or, without a super call, the constructor's own positional arguments), so an
`__init__` that passes a formatted message up, or takes keyword-only
arguments, breaks the round trip: a worker that raises it kills the pool.
Only provable cases are flagged; bases outside the project other than the
builtin exceptions, `__reduce__`, `*args` forwarding and `self.args = ...`
all leave the class alone.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterator

from pickle_audit.findings import Finding
from pickle_audit.lint.facts import InitFact
from pickle_audit.lint.index import ClassRef, ProjectIndex
from pickle_audit.lint.locations import Location, make_finding

_BUILTIN_EXCEPTIONS = frozenset(
    f"builtins.{name}"
    for name in dir(builtins)
    if isinstance(getattr(builtins, name), type)
    and issubclass(getattr(builtins, name), BaseException)
)
_EXCEPTION_SUFFIXES = ("Error", "Exception", "Warning", "Exit", "Interrupt")


class ExceptionInitRule:
    def __init__(self, index: ProjectIndex, relpath: Callable[[str], str]) -> None:
        self.index = index
        self.relpath = relpath

    def findings(self, ref: ClassRef) -> Iterator[Finding]:
        if self.is_exception(ref):
            yield from self.exception_findings(ref)

    def is_exception(self, ref: ClassRef) -> bool:
        for name in self.index.external_bases(ref):
            if name in _BUILTIN_EXCEPTIONS or name.rpartition(".")[2].endswith(_EXCEPTION_SUFFIXES):
                return True
        return False

    def exception_findings(self, ref: ClassRef) -> Iterator[Finding]:
        init = ref.fact.init
        if init is None or any(c.fact.defines_reduce for c in self.index.mro(ref)):
            return
        reason = self.init_problem(ref, init)
        if reason is None:
            return
        where = Location(
            self.relpath(ref.module.path), init.line, init.column, ref.name, init.snippet
        )
        message = f"{ref.name} pickles but cannot be unpickled: {reason}"
        yield make_finding("PA301", where, message)

    def init_problem(self, ref: ClassRef, init: InitFact) -> str | None:
        params = init.params
        if init.sets_args:
            return None
        kwonly = [p.name for p in params if p.kind == "kwonly" and not p.has_default]
        if kwonly:
            return (
                f"keyword-only parameter {kwonly[0]!r} of __init__ is not kept in self.args,"
                f" so {ref.name}(*self.args) fails"
            )
        positional = [p for p in params if p.kind == "positional"]
        required = sum(1 for p in positional if not p.has_default)
        has_varargs = any(p.kind == "varargs" for p in params)
        for held in self.args_after_init(ref, init):
            if held < required:
                return (
                    f"__init__ needs {required} argument(s) but self.args holds {held}"
                    f" (what reaches BaseException.__init__), so {ref.name}(*self.args) fails"
                )
            if held > len(positional) and not has_varargs:
                return (
                    f"__init__ takes {len(positional)} argument(s) but self.args holds {held},"
                    f" so {ref.name}(*self.args) fails"
                )
        return None

    def args_after_init(self, ref: ClassRef, init: InitFact) -> list[int]:
        """How many items self.args holds after __init__, one per super() call path.

        Empty when self.args keeps the constructor's own arguments (no super call,
        or `*args` forwarded), or when a base outside the project decides.
        """
        counts: list[int] = []
        mro = self.index.mro(ref)
        for call in init.super_calls:
            if call.starred or call.keywords:
                continue
            held: int | None = call.positional
            for base in mro[1:]:
                if base.fact.init is None:
                    continue
                base_init = base.fact.init
                plain = [c for c in base_init.super_calls if not c.starred and not c.keywords]
                if (
                    base_init.sets_args
                    or not base_init.super_calls
                    or len(plain) != len(base_init.super_calls)
                ):
                    held = None
                else:
                    held = plain[0].positional
                break
            if held is not None and self._base_is_builtin(ref):
                counts.append(held)
        return counts

    def _base_is_builtin(self, ref: ClassRef) -> bool:
        return all(name in _BUILTIN_EXCEPTIONS for name in self.index.external_bases(ref))
