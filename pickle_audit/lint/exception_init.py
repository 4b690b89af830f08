"""PA301: exceptions that pickle but cannot be unpickled.

An exception pickles as `(type(e), e.args, e.__dict__)` and unpickles as
`type(e)(*e.args)`. `e.args` is whatever reached `BaseException.__init__`
(or, without a super call, the constructor's own positional arguments), so an
`__init__` that passes a formatted message up, or takes keyword-only
arguments, breaks the round trip: a worker that raises it kills the pool.
The whole `__init__` chain is followed: project bases, and bases in the
standard library or installed packages, read from their source (see
installed.py). Only provable cases are flagged: a base whose source cannot be
read, a cooperative mixin with its own `__init__`, `__reduce__`, `*args`
forwarding and an `self.args = ...` that is not a plain tuple all leave the
class alone.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from pickle_audit.findings import Finding
from pickle_audit.lint.facts import ClassFact, InitFact
from pickle_audit.lint.index import ClassRef, ProjectIndex
from pickle_audit.lint.installed import InstalledClasses
from pickle_audit.lint.locations import Location, make_finding

_BUILTIN_EXCEPTIONS = frozenset(
    f"builtins.{name}"
    for name in dir(builtins)
    if isinstance(getattr(builtins, name), type)
    and issubclass(getattr(builtins, name), BaseException)
)
_EXCEPTION_SUFFIXES = ("Error", "Exception", "Warning", "Exit", "Interrupt")
_MAX_DEPTH = 24  # bases followed above one class


@dataclass(frozen=True)
class InitChain:
    """The `__init__`s an exception's construction can run, nearest first.

    `reaches_builtin`: the chain ends in a builtin exception, whose `__init__`
    stores its positional arguments in `self.args`. When False, a base is
    unknown (no source, or a mixin with its own `__init__`) and nothing is
    provable.
    """

    inits: tuple[InitFact | None, ...]
    reaches_builtin: bool
    defines_reduce: bool = False
    known: bool = True  # every base was found and followed

    def args_after(self, start: int = 0, positional: int = 0) -> list[int] | None:
        """How many items `self.args` holds once the `__init__` at `start` (or the next
        one up the chain) ran with `positional` arguments: one count per path through
        its super calls, or None when the source does not say."""
        for at in range(start, len(self.inits)):
            init = self.inits[at]
            if init is None:
                continue
            if init.sets_args:
                return None if init.args_length is None else [init.args_length]
            if not init.super_calls:  # self.args keeps the constructor's own arguments
                return None
            counts: list[int] = []
            for call in init.super_calls:
                if call.starred:
                    return None
                after = self.args_after(at + 1, call.positional)  # keywords fill base params
                if after is None:
                    return None
                counts.extend(after)
            return counts
        return [positional] if self.reaches_builtin else None


_BUILTIN_END = InitChain((), reaches_builtin=True)
_OBJECT_END = InitChain((), reaches_builtin=False)


def _joined(cls: ClassFact, bases: Sequence[InitChain | None]) -> InitChain:
    """A class's chain from its bases' chains: exactly one base may lead to a builtin
    exception, and any other base must be known and have no `__init__` of its own."""
    if not bases:
        return InitChain((cls.init,), reaches_builtin=False, defines_reduce=cls.defines_reduce)
    found = [chain for chain in bases if chain is not None]
    exceptional = [chain for chain in found if chain.reaches_builtin]
    others = [chain for chain in found if not chain.reaches_builtin]
    reduce = cls.defines_reduce or any(chain.defines_reduce for chain in found)
    if (
        len(found) != len(bases)
        or len(exceptional) != 1
        or not exceptional[0].known
        or any(not chain.known or any(chain.inits) for chain in others)
    ):
        return InitChain((cls.init,), reaches_builtin=False, defines_reduce=reduce, known=False)
    (base,) = exceptional
    return InitChain((cls.init, *base.inits), reaches_builtin=True, defines_reduce=reduce)


class ExceptionInitRule:
    def __init__(self, index: ProjectIndex, relpath: Callable[[str], str]) -> None:
        self.index = index
        self.relpath = relpath
        self.installed = InstalledClasses()
        self._chains: dict[str, InitChain | None] = {}

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
        if init is None:
            return
        chain = self.project_chain(ref, 0)
        if chain.defines_reduce:
            return
        reason = self.init_problem(ref, init, chain)
        if reason is None:
            return
        where = Location(
            self.relpath(ref.module.path), init.line, init.column, ref.name, init.snippet
        )
        message = f"{ref.name} pickles but cannot be unpickled: {reason}"
        yield make_finding("PA301", where, message)

    def init_problem(self, ref: ClassRef, init: InitFact, chain: InitChain) -> str | None:
        params = init.params
        kwonly = [p.name for p in params if p.kind == "kwonly" and not p.has_default]
        if kwonly and not init.sets_args:
            return (
                f"keyword-only parameter {kwonly[0]!r} of __init__ is not kept in self.args,"
                f" so {ref.name}(*self.args) fails"
            )
        positional = [p for p in params if p.kind == "positional"]
        required = sum(1 for p in positional if not p.has_default)
        has_varargs = any(p.kind == "varargs" for p in params)
        for held in chain.args_after() or ():
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

    def project_chain(self, ref: ClassRef, depth: int) -> InitChain:
        bases: list[InitChain | None] = []
        for base in ref.fact.bases:
            base_ref = self.index.class_named(ref.module, base)
            if base_ref is not None and base_ref.qualified != ref.qualified:
                bases.append(
                    self.project_chain(base_ref, depth + 1) if depth < _MAX_DEPTH else None
                )
            else:
                bases.append(self.named_chain(self.index.resolve(ref.module, base), depth + 1))
        return _joined(ref.fact, bases)

    def named_chain(self, qualified: str, depth: int) -> InitChain | None:
        """The chain of a class outside the project, by its qualified name."""
        if qualified in _BUILTIN_EXCEPTIONS:
            return _BUILTIN_END
        if qualified == "builtins.object":
            return _OBJECT_END
        if depth > _MAX_DEPTH:
            return None
        if qualified not in self._chains:
            self._chains[qualified] = None  # a base cycle ends here, unknown
            found = self.installed.lookup(qualified)
            if found is not None:
                cls, _, index, facts = found
                bases = [self.named_chain(index.resolve(facts, b), depth + 1) for b in cls.bases]
                self._chains[qualified] = _joined(cls, bases)
        return self._chains[qualified]
