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
    """The module-level project function a call reaches, and the parameter the argument
    binds to; None for methods, nested functions and anything not in the project."""
    ref = index.function_named(facts, fact.callee)
    if ref is None or "." in ref.fact.qualname:
        return None
    params = ref.fact.params
    if fact.position >= 0:
        if fact.position >= len(params):
            return None
        name = params[fact.position]
    elif fact.keyword in params:
        name = fact.keyword
    else:
        return None
    return PassedTo((ref.module.path, ref.fact.qualname), name, fact.callee)
