"""The `__init__` that `@dataclass`, attrs, `NamedTuple` and pydantic write for a class.

There is no `def __init__` to read, yet `Job("a", lambda v: v)` stores the lambda on
`job.key` all the same: the fields of the class body are the parameters, in order,
and each is kept on the instance under its own name. What changes the signature is
read from the source: `ClassVar` annotations and `field(init=False)` are no
parameters, `InitVar` is one that is not stored, and `KW_ONLY`, `kw_only=True` (on
the decorator or the field) and pydantic models make parameters keyword-only.
"""

from __future__ import annotations

import libcst as cst

from pickle_audit.lint.facts import InitField
from pickle_audit.lint.names import dotted_name

_FIELD_FUNCTIONS = frozenset({"field", "ib", "attrib"})  # dataclasses.field, attr.ib, attrs.field


def _last(name: str | None) -> str:
    return (name or "").rpartition(".")[2]


def _keyword(call: cst.Call, name: str) -> cst.BaseExpression | None:
    return next((a.value for a in call.args if a.keyword and a.keyword.value == name), None)


def _is_false(node: cst.BaseExpression | None) -> bool:
    return isinstance(node, cst.Name) and node.value == "False"


def _is_true(node: cst.BaseExpression | None) -> bool:
    return isinstance(node, cst.Name) and node.value == "True"


def writes_init(decorators: list[cst.Decorator]) -> tuple[bool, bool]:
    """Whether the class decorators ask for a generated `__init__` (`init=False` does
    not), and whether it takes every field by keyword (`kw_only=True`)."""
    for decorator in decorators:
        if isinstance(decorator.decorator, cst.Call):
            call = decorator.decorator
            if _is_false(_keyword(call, "init")):
                return False, False
            if _is_true(_keyword(call, "kw_only")):
                return True, True
    return True, False


def is_keyword_only_marker(node: cst.AnnAssign) -> bool:
    """`_: KW_ONLY`: the fields after it are keyword-only."""
    return _last(dotted_name(node.annotation.annotation)) == "KW_ONLY"


def init_field(node: cst.AnnAssign, line: int, keyword_only: bool) -> InitField | None:
    """The parameter an annotated class-body name makes, or None when it makes none."""
    if not isinstance(node.target, cst.Name):
        return None
    annotation = node.annotation.annotation
    head = annotation.value if isinstance(annotation, cst.Subscript) else annotation
    kind = _last(dotted_name(head))
    if kind == "ClassVar":
        return None
    value = node.value
    if isinstance(value, cst.Call) and _last(dotted_name(value.func)) in _FIELD_FUNCTIONS:
        if _is_false(_keyword(value, "init")):
            return None
        keyword_only = keyword_only or _is_true(_keyword(value, "kw_only"))
    return InitField(
        name=node.target.value, line=line, stored=kind != "InitVar", keyword_only=keyword_only
    )
