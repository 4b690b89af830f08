"""Reading a `__getstate__` instead of trusting it blindly.

Most hand-written `__getstate__`s copy the instance dict and drop what cannot
travel:

    def __getstate__(self):
        state = self.__dict__.copy()
        del state["pool"]
        return state

Such a method removes `pool` and nothing else, so the other attributes still
travel and are still checked. Any other shape (building a new dict, calling
helpers, returning a tuple) is opaque: the class decides its own state, and
its attributes are not judged.
"""

from __future__ import annotations

import libcst as cst

from pickle_audit.lint.names import dotted_name

_DICT_COPIES = frozenset({"dict", "copy.copy", "copy"})


def dropped_attributes(node: cst.FunctionDef, self_name: str) -> tuple[str, ...] | None:
    """The attribute names a copy-and-drop `__getstate__` leaves out, or None when the
    method has another shape."""
    statements = _simple_statements(node)
    if statements is None or len(statements) < 2:
        return None
    state = _copied_state(statements[0], self_name)
    last = statements[-1]
    if state is None or not (
        isinstance(last, cst.Return)
        and isinstance(last.value, cst.Name)
        and last.value.value == state
    ):
        return None
    dropped: list[str] = []
    for statement in statements[1:-1]:
        names = _drops(statement, state)
        if names is None:
            return None
        dropped.extend(names)
    return tuple(dict.fromkeys(dropped))


def _simple_statements(node: cst.FunctionDef) -> list[cst.BaseSmallStatement] | None:
    """The body as one small statement per line, docstring left out; None if compound."""
    found: list[cst.BaseSmallStatement] = []
    body = node.body.body if isinstance(node.body, cst.IndentedBlock) else (node.body,)
    for line in body:
        if not isinstance(line, cst.SimpleStatementLine | cst.SimpleStatementSuite):
            return None
        found.extend(line.body)
    if found and isinstance(found[0], cst.Expr) and isinstance(found[0].value, cst.SimpleString):
        found = found[1:]
    return found


def _copied_state(statement: cst.BaseSmallStatement, self_name: str) -> str | None:
    """`state = self.__dict__.copy()` (or `dict(self.__dict__)`, `{**self.__dict__}`,
    `copy.copy(self.__dict__)`): the name the copy is bound to."""
    if not isinstance(statement, cst.Assign) or len(statement.targets) != 1:
        return None
    target = statement.targets[0].target
    if not isinstance(target, cst.Name):
        return None
    value = statement.value
    instance_dict = f"{self_name}.__dict__"
    copied = False
    if isinstance(value, cst.Call):
        func = dotted_name(value.func)
        if func == f"{instance_dict}.copy" and not value.args:
            copied = True
        elif func in _DICT_COPIES and len(value.args) == 1:
            copied = dotted_name(value.args[0].value) == instance_dict
    elif isinstance(value, cst.Dict) and len(value.elements) == 1:
        element = value.elements[0]
        copied = isinstance(element, cst.StarredDictElement) and (
            dotted_name(element.value) == instance_dict
        )
    return target.value if copied else None


def _drops(statement: cst.BaseSmallStatement, state: str) -> list[str] | None:
    """Names removed from `state` by `del state["x"]`, `state.pop("x", ...)` or
    `state["x"] = ...`; None for any other statement."""
    if isinstance(statement, cst.Del):
        targets = (
            [element.value for element in statement.target.elements]
            if isinstance(statement.target, cst.Tuple)
            else [statement.target]
        )
        keys = [_key_of(target, state) for target in targets]
        return None if None in keys else [key for key in keys if key is not None]
    if isinstance(statement, cst.Assign) and len(statement.targets) == 1:
        key = _key_of(statement.targets[0].target, state)
        return [key] if key is not None else None
    if isinstance(statement, cst.Expr) and isinstance(statement.value, cst.Call):
        call = statement.value
        if dotted_name(call.func) == f"{state}.pop" and call.args:
            key = _string(call.args[0].value)
            return [key] if key is not None else None
    return None


def _key_of(node: cst.BaseExpression, state: str) -> str | None:
    if not (
        isinstance(node, cst.Subscript)
        and isinstance(node.value, cst.Name)
        and node.value.value == state
        and len(node.slice) == 1
        and isinstance(node.slice[0].slice, cst.Index)
    ):
        return None
    return _string(node.slice[0].slice.value)


def _string(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    return None
