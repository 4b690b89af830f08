"""Function summaries: a helper that sends its parameter to a pool is itself a sink.

    def parmap(f, items):                      # a project helper
        ...Process(target=f, args=(...))...    # f reaches a process boundary

    parmap(lambda x: x + 1, data)              # so this lambda is pickled there

Each boundary call records which parameters of its enclosing function it
sends on (as the callable, or in the payload). A call that passes one of its
own parameters on to such a helper makes that parameter a sink too, up to a
fixed number of hops, so summaries stay linear in the number of calls
recorded. The extractor records only calls worth following: those passing a
value a serializer refuses, or a parameter of the caller.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pickle_audit.findings import ChainStep
from pickle_audit.lint.arguments import FunctionKey, PassedTo, passed_to
from pickle_audit.lint.boundaries import Boundary
from pickle_audit.lint.facts import ArgumentPassFact, InitField, ModuleFacts
from pickle_audit.lint.index import ClassRef, ProjectIndex

MAX_HOPS = 8


@dataclass(frozen=True)
class Sink:
    """Where a helper's parameter ends up: the boundary, as what, through which hops."""

    boundary: Boundary
    role: str  # "callable" or "payload"
    via: tuple[ChainStep, ...] = ()


@dataclass(frozen=True)
class StoredBy:
    """The instance attribute a constructor argument ends up on (`self.a = param`)."""

    cls: ClassRef  # the class the call builds
    init_owner: ClassRef  # the class whose `__init__` runs (the first in the MRO with one)
    param: str
    attribute: str
    # a field of a generated `__init__` (`@dataclass`): where the field is declared
    field_of: ClassRef | None = None
    field_line: int = 0


def stored_by_init(
    index: ProjectIndex, facts: ModuleFacts, fact: ArgumentPassFact
) -> StoredBy | None:
    """Where `Task(value)` keeps its argument: the `__init__` parameter it binds to and
    the attribute that parameter is assigned to; None when it is not stored as it is."""
    ref = index.class_named(facts, fact.callee)
    if ref is None:
        return None
    owner = next(
        (base for base in index.mro(ref) if base.fact.init is not None or base.fact.init_fields),
        None,
    )
    if owner is None:
        return None
    if owner.fact.init is None:
        return _stored_as_field(index, ref, owner, fact)
    params = owner.fact.init.params
    positional = [p.name for p in params if p.kind == "positional"]
    if fact.position >= 0:
        name = positional[fact.position] if fact.position < len(positional) else ""
    else:
        name = next((p.name for p in params if p.name == fact.keyword and p.kind != "varkw"), "")
    attribute = next((a for p, a in owner.fact.init.stores if p == name), "") if name else ""
    return StoredBy(ref, owner, name, attribute) if attribute else None


def _stored_as_field(
    index: ProjectIndex, ref: ClassRef, owner: ClassRef, fact: ArgumentPassFact
) -> StoredBy | None:
    """The field a generated `__init__` binds the argument to. Fields come base first,
    and a field a subclass declares again keeps its first place (as in dataclasses)."""
    fields: dict[str, tuple[InitField, ClassRef]] = {}
    for base in reversed(index.mro(owner)):
        for field in base.fact.init_fields:
            fields[field.name] = (field, base)
    if fact.position >= 0:
        positional = [entry for entry in fields.values() if not entry[0].keyword_only]
        if fact.position >= len(positional):
            return None
        field, declared = positional[fact.position]
    elif fact.keyword in fields:
        field, declared = fields[fact.keyword]
    else:
        return None
    if not field.stored:
        return None
    return StoredBy(ref, owner, field.name, field.name, declared, field.line)


def helper_sinks(
    index: ProjectIndex, boundaries: list[Boundary], relpath: Callable[[str], str]
) -> dict[FunctionKey, dict[str, Sink]]:
    """Function -> parameter -> the sink it reaches, for every forwarding helper."""
    sinks: dict[FunctionKey, dict[str, Sink]] = {}
    for boundary in boundaries:
        if boundary.call.scope:
            key = (boundary.module.path, boundary.call.scope)
            for param, role in boundary.call.forwarded:
                sinks.setdefault(key, {}).setdefault(param, Sink(boundary, role))
    forwarding = [
        (facts, fact)
        for facts in index.modules.values()
        for fact in facts.passes
        if fact.forwards and fact.scope
    ]
    targets: dict[int, PassedTo | None] = {}  # resolved once, and only where names match
    for _ in range(MAX_HOPS):
        changed = False
        helpers = {qualname.rpartition(".")[2] for _, qualname in sinks}
        for number, (facts, fact) in enumerate(forwarding):
            if fact.callee.rpartition(".")[2] not in helpers:
                continue
            if number not in targets:
                targets[number] = passed_to(index, facts, fact)
            target = targets[number]
            sink = sinks.get(target.function, {}).get(target.param) if target else None
            caller = sinks.setdefault((facts.path, fact.scope), {})
            if target is None or sink is None or fact.forwards in caller:
                continue
            step = ChainStep(
                f"passed as `{target.param}` to {target.callee}()",
                relpath(facts.path),
                fact.line,
                fact.column,
            )
            caller[fact.forwards] = Sink(sink.boundary, sink.role, (step, *sink.via))
            changed = True
        if not changed:
            break
    return sinks
