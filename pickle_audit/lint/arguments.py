"""The parameter of a project function that a recorded argument binds to.

Shared by the boundary search (a pool passed to a helper makes the helper's
calls on that parameter boundaries) and the function summaries (a helper that
sends its parameter on makes the caller's argument travel).
"""

from __future__ import annotations

from dataclasses import dataclass

from pickle_audit.lint.facts import ArgumentPassFact, ModuleFacts
from pickle_audit.lint.index import ProjectIndex

FunctionKey = tuple[str, str]  # (module path, function qualname)


@dataclass(frozen=True)
class PassedTo:
    """The parameter of a project function that an argument binds to."""

    function: FunctionKey
    param: str
    callee: str  # as written at the call


def passed_to(index: ProjectIndex, facts: ModuleFacts, fact: ArgumentPassFact) -> PassedTo | None:
    """The project function or method (`self.method(...)`) a call reaches, and the
    parameter the argument binds to; None for nested functions and anything not in
    the project."""
    if fact.callee.startswith("self."):
        owner = enclosing_class(facts, fact.scope)
        found = index.callee(facts, owner, fact.callee) if owner else None
        if found is None:
            return None
        module, function, _ = found
    else:
        ref = index.function_named(facts, fact.callee)
        if ref is None or "." in ref.fact.qualname:
            return None
        module, function = ref.module, ref.fact
    params = function.params
    if fact.position >= 0:
        if fact.position >= len(params):
            return None
        name = params[fact.position]
    elif fact.keyword in params:
        name = fact.keyword
    else:
        return None
    return PassedTo((module.path, function.qualname), name, fact.callee)


def enclosing_class(facts: ModuleFacts, scope: str) -> str:
    """The class a call's scope (`Task.run`, `Task.run.<locals>.go`) is a method of."""
    head = scope.partition(".<locals>.")[0]
    owner, _, _ = head.rpartition(".")
    return owner if any(cls.qualname == owner for cls in facts.classes) else ""
