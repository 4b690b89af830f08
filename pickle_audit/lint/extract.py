"""One focused libcst pass over a module, producing `facts.ModuleFacts`.

The walk is hand-written rather than a `CSTVisitor`: libcst's generic visitor
re-builds the tree and costs about as much as the parse. Statements are
dispatched by type; expressions are only scanned for calls and `yield`.
Names stay as written; only a few helpers (`partial`, `dataclass`,
`cached_property`) are recognised here through the imports seen so far.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import dataclasses
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import libcst as cst

from pickle_audit.lint.boundaries import (
    CALLABLE_FIRST_METHODS,
    ITERATING_METHODS,
    PROXY_METHODS,
    VALUE_METHODS,
)
from pickle_audit.lint.facts import (
    OTHER,
    ArgumentPassFact,
    AttributeFact,
    BoundaryCallFact,
    ClassFact,
    FunctionFact,
    GetattrFact,
    ImportFact,
    InitFact,
    InitField,
    ModuleFacts,
    ParamFact,
    ParseErrorFact,
    SuperInitCall,
    ValueFact,
    evidence,
)
from pickle_audit.lint.generated_init import init_field, is_keyword_only_marker, writes_init
from pickle_audit.lint.getstate import dropped_attributes
from pickle_audit.lint.names import dotted_name
from pickle_audit.lint.positions import SourcePositions
from pickle_audit.lint.suppress import marker_comments
from pickle_audit.lint.values import is_known_resource

DICT_VIEW_METHODS = frozenset({"keys", "values", "items"})
CALL_KEYWORDS = frozenset({"target", "initializer"})
# A keyword that makes a constructor start worker processes that get its other
# arguments: `DataLoader(dataset, num_workers=4, collate_fn=...)`; `num_workers=0`
# keeps the work in the calling process.
WORKER_COUNT_KEYWORDS = frozenset({"num_workers"})
START_METHOD_KEYWORDS = frozenset({"mp_context", "multiprocessing_context"})
_MANAGER_MADE = "Manager()."  # in the evidence of a proxy: `multiprocessing.Manager().dict()`
PARTIAL_NAMES = frozenset({"functools.partial", "partial"})
DEFAULTDICT_NAMES = frozenset({"collections.defaultdict", "defaultdict"})
FACTORY_KEYWORDS = frozenset({"default_factory", "factory"})  # dataclasses.field, attrs.field
WRAPS_NAMES = frozenset({"functools.wraps", "wraps"})
CACHED_PROPERTY_NAMES = frozenset({"functools.cached_property", "cached_property"})
FIELD_CALLS = frozenset(
    {"dataclasses.field", "field", "attr.ib", "attr.attrib", "attrs.field", "attr.field"}
)
DATACLASS_DECORATORS = frozenset(
    {
        "dataclasses.dataclass",
        "dataclass",
        "attr.s",
        "attr.attrs",
        "attr.define",
        "attr.frozen",
        "attr.mutable",
        "attrs.define",
        "attrs.frozen",
        "attrs.mutable",
        "pydantic.dataclasses.dataclass",
    }
)
FIELD_BASES = frozenset({"pydantic.BaseModel", "typing.NamedTuple", "msgspec.Struct"})
KEYWORD_FIELD_BASES = frozenset({"pydantic.BaseModel"})  # `Model(**fields)` only
BOUNDARY_MARKER = "pickle-audit: boundary"
_LEAVES = (cst.Name, cst.SimpleString, cst.Integer, cst.Float, cst.Imaginary, cst.Ellipsis)
_SKIP_FIELDS = frozenset(
    {
        "lpar",
        "rpar",
        "whitespace_before",
        "whitespace_after",
        "operator",
        "comma",
        "equal",
        "colon",
        "star",
        "semicolon",
        "leading_lines",
        "header",
        "footer",
        "lines_after_decorators",
        "whitespace_after_arg",
        "whitespace_after_star",
        "whitespace_after_param",
        "whitespace_before_args",
        "whitespace_after_func",
        "whitespace_before_colon",
        "whitespace_after_colon",
        "whitespace_after_dot",
        "whitespace_before_dot",
        "dot",
        "first_line",
        "empty_lines",
        "indent",
        "newline",
        "trailing_whitespace",
        "whitespace_before_indicator",
        "whitespace_after_indicator",
        "whitespace_after_await",
        "whitespace_after_in",
        "whitespace_before_in",
        "whitespace_after_for",
        "whitespace_before_for",
        "whitespace_after_if",
        "whitespace_before_if",
        "whitespace_after_lambda",
        "whitespace_after_from",
        "whitespace_after_yield",
        "whitespace_before_else",
        "whitespace_after_else",
        "whitespace_before_walrus",
        "whitespace_after_walrus",
        "whitespace_after_not",
        "whitespace_before_not",
        "whitespace_after_is",
        "whitespace_before_is",
        "whitespace_after_async",
        "left_bracket",
        "right_bracket",
        "lbrace",
        "rbrace",
        "lbracket",
        "rbracket",
        "value_ws",
    }
)
_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}


def _child_fields(node_type: type) -> tuple[str, ...]:
    names = _CHILD_FIELDS.get(node_type)
    if names is None:
        if issubclass(node_type, _LEAVES):
            names = ()
        else:
            names = tuple(
                f.name
                for f in dataclasses.fields(node_type)
                if f.name not in _SKIP_FIELDS and not f.name.startswith("whitespace")
            )
        _CHILD_FIELDS[node_type] = names
    return names


def iter_children(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """Children that can hold expressions, skipping whitespace and tokens."""
    for name in _child_fields(type(node)):
        value = getattr(node, name)
        if isinstance(value, cst.CSTNode):
            yield value
        elif isinstance(value, tuple | list):
            for item in value:
                if isinstance(item, cst.CSTNode):
                    yield item


def annotation_refs(node: cst.BaseExpression | None) -> tuple[str, ...]:
    """Class names mentioned in an annotation: containers and unions are looked through."""
    if node is None:
        return ()
    found: list[str] = []
    stack: list[cst.CSTNode] = [node]
    while stack:
        current = stack.pop()
        name = dotted_name(current) if isinstance(current, cst.Name | cst.Attribute) else None
        if name is not None:
            found.append(name)
        elif isinstance(current, cst.SimpleString):
            text = current.evaluated_value
            if isinstance(text, str):
                with contextlib.suppress(cst.ParserSyntaxError, RecursionError):
                    stack.append(cst.parse_expression(text))
        else:
            stack.extend(iter_children(current))
    # dict.fromkeys keeps order and drops duplicates
    return tuple(dict.fromkeys(reversed(found)))


@dataclass
class _Scope:
    """A function or module body being walked."""

    qualname: str
    class_qualname: str  # enclosing class, "" if none
    self_name: str = ""
    function_name: str = ""
    locals: dict[str, ValueFact] = field(default_factory=dict)
    nested_functions: set[str] = field(default_factory=set)
    wrapping_functions: set[str] = field(default_factory=set)  # `@functools.wraps(f)` ones
    # nested functions that return a nested function of their own without functools.wraps
    replacing_functions: set[str] = field(default_factory=set)
    local_classes: set[str] = field(default_factory=set)
    is_generator: bool = False
    super_calls: list[SuperInitCall] = field(default_factory=list)
    sets_args: bool = False
    args_length: int | None = None
    returned: list[ValueFact] = field(default_factory=list)  # what `return` statements give
    # methods called on `self` (`self.compute()`); a nested function shares its method's set
    self_calls: set[str] = field(default_factory=set)
    start_methods: dict[str, str] = field(default_factory=dict)  # ctx = get_context("fork")
    params: frozenset[str] = frozenset()  # the function's own parameters, `self` aside
    stored_params: list[tuple[str, str]] = field(default_factory=list)  # self.a = param


@dataclass
class _ClassBuilder:
    node: cst.ClassDef
    qualname: str
    field_like: bool
    writes_init: bool = False  # a generated `__init__` from the fields (generated_init.py)
    keyword_only: bool = False  # the fields read from here on are keyword-only
    init_fields: list[InitField] = field(default_factory=list)
    attributes: list[AttributeFact] = field(default_factory=list)
    methods: list[FunctionFact] = field(default_factory=list)
    cached: list[AttributeFact] = field(default_factory=list)
    init: InitFact | None = None
    getattr: GetattrFact | None = None
    defines_reduce: bool = False
    getstate_drops: tuple[str, ...] | None = None


class _Extractor:
    def __init__(self, module: cst.Module, path: str, module_name: str, is_package: bool):
        self.module = module
        self.path = path
        self.module_name = module_name
        self.is_package = is_package
        self.positions = SourcePositions(module)
        self.imports: list[ImportFact] = []
        self.imported: dict[str, str] = {}  # local name -> dotted target, as imported so far
        self.import_map: dict[str, str] = {}
        self.functions: list[FunctionFact] = []
        self.classes: list[ClassFact] = []
        self.variables: dict[str, ValueFact] = {}
        self.module_scope = _Scope(qualname="", class_qualname="")  # what functions see
        self.calls: list[BoundaryCallFact] = []
        self.main_guard_names: list[str] = []
        self.start_method = ""  # set by a set_start_method("...") call
        self.passes: list[ArgumentPassFact] = []
        self.method_calls: set[str] = set()  # `x.name(...)` on anything but `self`
        self.under_main_guard = False
        # classes being walked, innermost last: `self.x = ...` belongs to the last one
        self._class_stack: list[_ClassBuilder] = []

    # ---- names -----------------------------------------------------------------

    def resolve_now(self, name: str) -> str:
        """Resolve a dotted name through the imports seen so far (for helpers only)."""
        head, dot, rest = name.partition(".")
        target = self.import_map.get(head)
        if target is None:
            return name
        return target + dot + rest

    def _is(self, name: str | None, wanted: frozenset[str]) -> bool:
        return name is not None and (name in wanted or self.resolve_now(name) in wanted)

    # ---- module ----------------------------------------------------------------

    def run(self) -> ModuleFacts:
        scope = self.module_scope
        scope.locals = self.variables
        self.block(self.module.body, scope, None)
        return ModuleFacts(
            path=self.path,
            module=self.module_name,
            is_package=self.is_package,
            imports=tuple(self.imports),
            functions=tuple(self.functions),
            classes=tuple(self.classes),
            variables=tuple(self.variables.items()),
            boundary_calls=tuple(self.calls),
            main_guard_names=tuple(self.main_guard_names),
            start_method=self.start_method,
            passes=tuple(self.passes),
            method_calls=tuple(sorted(self.method_calls)),
        )

    def block(
        self,
        statements: Sequence[cst.CSTNode],
        scope: _Scope,
        cls: _ClassBuilder | None,
    ) -> None:
        for statement in statements:
            self.statement(statement, scope, cls)

    def body_of(self, node: cst.CSTNode) -> Sequence[cst.CSTNode]:
        body = node.body  # type: ignore[attr-defined]
        return body.body

    def statement(self, node: cst.CSTNode, scope: _Scope, cls: _ClassBuilder | None) -> None:
        kind = type(node)
        if kind is cst.SimpleStatementLine:
            for small in node.body:
                self.small_statement(small, scope, cls)
        elif kind is cst.FunctionDef:
            self.function(node, scope, cls)
        elif kind is cst.ClassDef:
            self.class_def(node, scope, cls)
        elif kind is cst.If:
            self.if_statement(node, scope, cls)
        elif kind is cst.With:
            for item in node.items:
                self.scan(item.item, scope)
                if item.asname is not None and isinstance(item.asname.name, cst.Name):
                    scope.locals[item.asname.name.value] = self.classify(item.item, scope)
                    self.remember_start_method(item.asname.name.value, item.item, scope)
            self.block(self.body_of(node), scope, cls)
        elif kind is cst.For:
            self.scan(node.iter, scope)
            for bound in _bound_names(node.target):
                scope.locals[bound] = OTHER
            self.block(self.body_of(node), scope, cls)
            if node.orelse is not None:
                self.statement(node.orelse, scope, cls)
        elif kind is cst.SimpleStatementSuite:
            for small in node.body:
                self.small_statement(small, scope, cls)
        else:
            for child in iter_children(node):
                if isinstance(child, cst.BaseExpression):
                    self.scan(child, scope)
                else:
                    self.statement(child, scope, cls)

    def if_statement(self, node: cst.If, scope: _Scope, cls: _ClassBuilder | None) -> None:
        is_main = scope.qualname == "" and cls is None and _is_main_test(node.test)
        self.scan(node.test, scope)
        if is_main:
            self.under_main_guard = True
            self.block(self.body_of(node), scope, cls)
            self.under_main_guard = False
        else:
            self.block(self.body_of(node), scope, cls)
        if node.orelse is not None:
            self.statement(node.orelse, scope, cls)

    def small_statement(self, node: cst.CSTNode, scope: _Scope, cls: _ClassBuilder | None) -> None:
        kind = type(node)
        if kind is cst.Assign:
            self.scan(node.value, scope)
            value = None
            for target in node.targets:
                value = value or self.classify(node.value, scope)
                self.assign(target.target, value, None, node, scope, cls)
        elif kind is cst.AnnAssign:
            if node.value is not None:
                self.scan(node.value, scope)
            self.annotated_assign(node, scope, cls)
        elif kind is cst.AugAssign:
            self.scan(node.value, scope)
        elif kind is cst.Return:
            if node.value is not None:
                self.scan(node.value, scope)
                returned = self.classify(node.value, scope)
                if returned.kind != "other" and returned not in scope.returned:
                    scope.returned.append(returned)
        elif kind is cst.Expr:
            self.scan(node.value, scope)
            self.container_call(node.value, scope)
        elif kind is cst.Import:
            self.import_statement(node)
        elif kind is cst.ImportFrom:
            self.import_from(node)
        else:
            for child in iter_children(node):
                self.scan(child, scope)

    # ---- imports ---------------------------------------------------------------

    def _add_import(self, local: str, target: str, is_module: bool) -> None:
        self.imports.append(ImportFact(local, target, is_module))
        self.imported[local] = target
        self.import_map.setdefault(local, target)

    def import_statement(self, node: cst.Import) -> None:
        for alias in node.names:
            target = dotted_name(alias.name) or ""
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                self._add_import(alias.asname.name.value, target, True)
            else:
                head = target.split(".")[0]
                self._add_import(head, head, True)

    def import_from(self, node: cst.ImportFrom) -> None:
        base = dotted_name(node.module) if node.module is not None else ""
        if node.relative:
            package = self.module_name if self.is_package else self.module_name.rpartition(".")[0]
            for _ in range(len(node.relative) - 1):
                package = package.rpartition(".")[0]
            base = f"{package}.{base}" if base and package else (base or package)
        base = base or ""
        if isinstance(node.names, cst.ImportStar):
            self._add_import("*", base, False)
            return
        for alias in node.names:
            name = dotted_name(alias.name) or ""
            local = name
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                local = alias.asname.name.value
            self._add_import(local, f"{base}.{name}" if base else name, False)

    # ---- assignments -----------------------------------------------------------

    def assign(
        self,
        target: cst.BaseExpression,
        value: ValueFact,
        annotation: tuple[str, ...] | None,
        node: cst.CSTNode,
        scope: _Scope,
        cls: _ClassBuilder | None,
    ) -> None:
        if isinstance(target, cst.Name):
            if cls is not None and scope.qualname == cls.qualname:
                self.add_attribute(cls, target.value, value, annotation or (), node, False, "")
            else:
                scope.locals[target.value] = value
                assigned = getattr(node, "value", None)
                if isinstance(assigned, cst.BaseExpression):
                    self.remember_start_method(target.value, assigned, scope)
            return
        if (
            isinstance(target, cst.Attribute)
            and scope.self_name
            and isinstance(target.value, cst.Name)
            and target.value.value == scope.self_name
        ):
            if target.attr.value == "args" and scope.function_name == "__init__":
                length = _tuple_length(getattr(node, "value", None))
                # two assignments of different lengths (branches): nothing is known
                first = not scope.sets_args
                scope.args_length = length if first or scope.args_length == length else None
                scope.sets_args = True
            owner = self._class_of(scope)
            if owner is not None:
                self.add_attribute(
                    owner, target.attr.value, value, annotation or (), node, True, scope.qualname
                )
            assigned = getattr(node, "value", None)
            if (
                scope.function_name == "__init__"
                and isinstance(assigned, cst.Name)
                and assigned.value in scope.params
            ):
                scope.stored_params.append((assigned.value, target.attr.value))
        elif isinstance(target, cst.Subscript):
            self.proxy_store(target, value, node, scope)
            self.grow_local(target.value, (value,), scope, node)
        elif isinstance(target, cst.Tuple | cst.List):
            # `a, b = Pipe()`: each name is an item of the call's result
            item = ValueFact("name", name=f"{value.name}()[]") if value.kind == "call" else OTHER
            for name in _bound_names(target):
                scope.locals[name] = item

    def container_call(self, node: cst.BaseExpression, scope: _Scope) -> None:
        """`jobs.append((open(p), n))`, `args.update(log=handle)`: what a method puts in a
        local list, dict or set is an item of it from then on (in source order)."""
        if not isinstance(node, cst.Call) or not isinstance(node.func, cst.Attribute):
            return
        method = node.func.attr.value
        if method not in _GROWING_METHODS:
            return
        positional = [self.classify(a.value, scope) for a in node.args if not a.keyword]
        named = [self.classify(a.value, scope) for a in node.args if a.keyword and not a.star]
        if method in ("insert", "setdefault"):
            positional = positional[1:]
        elif method in ("extend", "update"):  # the items of what is passed
            positional = [item for value in positional for item in _items_of(value)]
        self.grow_local(node.func.value, (*positional, *named), scope, node)

    def grow_local(
        self,
        target: cst.BaseExpression,
        values: tuple[ValueFact, ...],
        scope: _Scope,
        statement: cst.CSTNode,
    ) -> None:
        """Add `values` to the items of the local container `target` names, if it is one;
        on `self.handlers.append(h)`, record `h` as held by the attribute (at this line)."""
        kept = tuple(value for value in values if value.kind != "other")
        if (
            isinstance(target, cst.Attribute)
            and isinstance(target.value, cst.Name)
            and scope.self_name
            and target.value.value == scope.self_name
            and kept
        ):
            owner = self._class_of(scope)
            if owner is not None:
                held = ValueFact("container", items=kept)
                name = target.attr.value
                self.add_attribute(owner, name, held, (), statement, True, scope.qualname)
            return
        if not isinstance(target, cst.Name) or not values:
            return
        held = scope.locals.get(target.value)
        if held is None:
            return
        if held.kind == "call" and held.name in ("list", "dict", "set") and not held.items:
            held = ValueFact("container")
        if held.kind != "container":
            return
        if kept:
            scope.locals[target.value] = dataclasses.replace(held, items=(*held.items, *kept))

    def annotated_assign(
        self, node: cst.AnnAssign, scope: _Scope, cls: _ClassBuilder | None
    ) -> None:
        annotation = node.annotation.annotation
        refs = annotation_refs(annotation)
        target = node.target
        in_class_body = cls is not None and scope.qualname == cls.qualname
        if in_class_body and isinstance(target, cst.Name):
            head = dotted_name(annotation.value) if isinstance(annotation, cst.Subscript) else None
            is_classvar = head is not None and head.rpartition(".")[2] == "ClassVar"
            on_instance = not is_classvar and (cls.field_like or node.value is None)
            value = None
            if node.value is not None and cls.field_like:
                value = self.field_default(node.value, scope)
            elif node.value is not None:
                value = self.classify(node.value, scope)
            self.add_attribute(cls, target.value, value, refs, node, on_instance, "")
            if cls.writes_init:
                self.init_field(node, cls)
            return
        if node.value is None:
            value = ValueFact("annotation", name=_annotation_name(annotation), refs=refs)
        else:
            value = self.classify(node.value, scope)
        self.assign(target, value, refs, node, scope, cls)

    def init_field(self, node: cst.AnnAssign, cls: _ClassBuilder) -> None:
        if is_keyword_only_marker(node):
            cls.keyword_only = True
            return
        made = init_field(node, self.positions.start(node)[0], cls.keyword_only)
        if made is not None:
            cls.init_fields.append(made)

    def field_default(self, node: cst.BaseExpression, scope: _Scope) -> ValueFact:
        """A dataclass field's default: `field(default=...)` counts, a factory does not."""
        if isinstance(node, cst.Call) and self._is(dotted_name(node.func), FIELD_CALLS):
            for arg in node.args:
                if arg.keyword is not None and arg.keyword.value == "default":
                    return self.classify(arg.value, scope)
                if arg.keyword is not None and arg.keyword.value in FACTORY_KEYWORDS:
                    # the factory runs at construction: what its lambda makes is stored, or
                    # what calling it makes (`default_factory=threading.Lock`)
                    made = arg.value
                    if isinstance(made, cst.Lambda):
                        return self.classify(made.body, scope)
                    name = self.substitute(dotted_name(made), scope)
                    return ValueFact("call", name=name, refs=(name,)) if name else OTHER
            return OTHER
        return self.classify(node, scope)

    def add_attribute(
        self,
        cls: _ClassBuilder,
        name: str,
        value: ValueFact | None,
        annotation: tuple[str, ...],
        node: cst.CSTNode,
        on_instance: bool,
        method: str,
    ) -> None:
        line, column = self.positions.start(node)
        cls.attributes.append(
            AttributeFact(
                name=name,
                line=line,
                column=column,
                snippet=self.positions.text(node),
                value=value,
                annotation=annotation,
                on_instance=on_instance,
                method=method,
            )
        )

    def _class_of(self, scope: _Scope) -> _ClassBuilder | None:
        return self._class_stack[-1] if self._class_stack else None

    # ---- values ----------------------------------------------------------------

    def classify(self, node: cst.BaseExpression, scope: _Scope) -> ValueFact:
        kind = type(node)
        if kind is cst.Lambda:
            return ValueFact("lambda")
        if kind is cst.GeneratorExp:
            return ValueFact("genexp")
        if kind is cst.Call:
            return self.classify_call(node, scope)
        if kind is cst.Name:
            name = node.value
            if name in scope.nested_functions:
                return ValueFact("nested_function", name=name)
            if name in scope.local_classes:
                return ValueFact("local_class", name=name)
            local = scope.locals.get(name)
            if local is not None:
                return local
            if name in ("None", "True", "False"):
                return OTHER
            return ValueFact("name", name=name)
        if kind is cst.Attribute:
            if isinstance(node.value, cst.Call):  # `Task(...).run`: a method of a new instance
                made = self.classify_call(node.value, scope)
                if made.kind == "call":
                    return ValueFact("name", name=f"{made.name}().{node.attr.value}")
                if made.kind == "local_class_instance":
                    return ValueFact("local_class_method", name=f"{made.name}().{node.attr.value}")
                return OTHER
            written = dotted_name(node) or ""
            head = scope.locals.get(written.partition(".")[0])
            if head is not None and head.kind == "local_class_instance":
                return ValueFact("local_class_method", name=written)
            name = self.substitute(written, scope)
            return ValueFact("name", name=name) if name else OTHER
        if kind in (cst.List, cst.Tuple, cst.Set):
            items = tuple(
                self.classify(e.value, scope) for e in node.elements if isinstance(e, cst.Element)
            )
            return ValueFact("container", items=items)
        if kind is cst.Dict:
            items = tuple(
                self.classify(e.value, scope)
                for e in node.elements
                if isinstance(e, cst.DictElement)
            )
            return ValueFact("container", items=items)
        if kind is cst.IfExp:
            return ValueFact(
                "container",
                items=(self.classify(node.body, scope), self.classify(node.orelse, scope)),
            )
        if kind is cst.BooleanOperation:  # `lock or threading.Lock()`: either side may be it
            return ValueFact(
                "container",
                items=(self.classify(node.left, scope), self.classify(node.right, scope)),
            )
        if kind in (cst.ListComp, cst.SetComp):  # every item is what the element makes
            return ValueFact("container", items=(self.classify(node.elt, scope),))
        if kind is cst.DictComp:
            return ValueFact("container", items=(self.classify(node.value, scope),))
        return OTHER

    def substitute(self, name: str | None, scope: _Scope) -> str:
        """Replace a local variable head by its evidence: `ctx.Pool` -> `get_context().Pool`."""
        if not name:
            return ""
        head, dot, rest = name.partition(".")
        if head == scope.self_name and scope.self_name:
            return name
        local = self.binding(head, scope)
        if local is not None and dot:
            base = evidence(local)
            if base:
                return base + dot + rest
        return name

    def classify_call(self, node: cst.Call, scope: _Scope) -> ValueFact:
        func = node.func
        if (
            isinstance(func, cst.Attribute)
            and func.attr.value in DICT_VIEW_METHODS
            and not node.args
        ):
            return ValueFact("dict_view", name=func.attr.value)
        name = dotted_name(func)
        if name is None:
            chained = self.chained_callee(func, scope)
            return ValueFact("call", name=chained, refs=(chained,)) if chained else OTHER
        if name in scope.local_classes:
            return ValueFact("local_class_instance", name=name)
        if self._is(name, PARTIAL_NAMES) and node.args:
            inner = self.classify(node.args[0].value, scope)
            if inner.kind in ("lambda", "nested_function", "local_class", "partial_closure"):
                return ValueFact("partial_closure", name=inner.name or inner.kind)
            # the wrapped callable first, then what the partial binds: all of it is pickled
            bound = tuple(self.classify(arg.value, scope) for arg in node.args[1:] if not arg.star)
            return ValueFact("partial", name=inner.name, items=(inner, *bound))
        if self._is(name, DEFAULTDICT_NAMES) and node.args and node.args[0].keyword is None:
            factory = self.classify(node.args[0].value, scope)
            if factory.kind in _FOLLOWED_KINDS or factory.kind == "partial":
                # pickled with the dict: `defaultdict(lambda: 0)` fails where `dict` would not
                return ValueFact("defaultdict", name="defaultdict", items=(factory,))
        name = self.substitute(name, scope)
        return ValueFact("call", name=name, refs=(name,), mode=_open_mode(name, node))

    def start_method_of(self, node: cst.BaseExpression, scope: _Scope) -> str:
        """The start method an expression fixes: `get_context("fork")`, a name bound to
        one, or a method or call on either (`ctx.Pool(2)`); "" when it fixes none."""
        while True:
            if isinstance(node, cst.Call):
                name = dotted_name(node.func) or ""
                if name.rpartition(".")[2] == "get_context":
                    return _string_argument(node)
                node = node.func
            elif isinstance(node, cst.Attribute):
                node = node.value
            elif isinstance(node, cst.Name):
                return scope.start_methods.get(node.value) or self.module_scope.start_methods.get(
                    node.value, ""
                )
            else:
                return ""

    def remember_start_method(self, name: str, value: cst.BaseExpression, scope: _Scope) -> None:
        method = self.start_method_of(value, scope)
        if method:
            scope.start_methods[name] = method
        else:
            scope.start_methods.pop(name, None)

    def chained_callee(self, func: cst.BaseExpression, scope: _Scope) -> str:
        """`get_context("spawn").Pool` as `multiprocessing.get_context().Pool`: a method
        of what another call returns, named by that call's evidence; else ""."""
        if not isinstance(func, cst.Attribute) or not isinstance(func.value, cst.Call):
            return ""
        base = evidence(self.classify_call(func.value, scope))
        return f"{base}.{func.attr.value}" if base else ""

    # ---- expressions -----------------------------------------------------------

    def scan(self, node: cst.CSTNode, scope: _Scope) -> None:
        """Find boundary calls, super().__init__ calls and yields in an expression."""
        stack = [node]
        while stack:
            current = stack.pop()
            kind = type(current)
            if kind is cst.Name:
                continue
            if kind is cst.Call:
                self.call(current, scope)
            elif kind is cst.Yield:
                scope.is_generator = True
            elif kind is cst.Lambda:
                continue
            stack.extend(iter_children(current))

    def call(self, node: cst.Call, scope: _Scope) -> None:
        func = node.func
        if isinstance(func, cst.Attribute):
            method = func.attr.value
            receiver_name = func.value.value if isinstance(func.value, cst.Name) else None
            if scope.self_name and receiver_name == scope.self_name:
                scope.self_calls.add(method)
            else:
                self.method_calls.add(method)
            if method == "__init__" and scope.function_name == "__init__":
                self.super_init(node, scope)
                return
            if method in CALLABLE_FIRST_METHODS or method in VALUE_METHODS:
                receiver = self.receiver(func.value, scope)
                if receiver:
                    self.boundary(node, scope, method, receiver, method in CALLABLE_FIRST_METHODS)
                if receiver_name is None or receiver_name != scope.self_name:
                    return  # `self.submit(f, x)` may be the class's own helper: followed too
            if method in PROXY_METHODS:
                receiver = self.receiver(func.value, scope)
                if _may_be_proxy(receiver, scope):
                    self.boundary(node, scope, method, receiver, False)
                    return
        elif isinstance(func, cst.Call):
            inner_name = dotted_name(func.func)
            if inner_name and inner_name.rpartition(".")[2] == "delayed" and func.args:
                self.boundary(node, scope, "delayed", self.resolve_now(inner_name), False, func)
                return
        elif isinstance(func, cst.Name) and self.bound_method_call(node, func, scope):
            return
        name = self.substitute(dotted_name(func), scope) or self.chained_callee(func, scope)
        bound = self.binding(name, scope)
        if bound is not None and bound.kind == "name" and "." in bound.name:
            name = bound.name  # `Process = get_context("spawn").Process`, then `Process(...)`
        if name.rpartition(".")[2] == "set_start_method":
            self.start_method = _string_argument(node) or self.start_method
        if name and any(_starts_workers(a) for a in node.args):
            self.boundary(node, scope, "call", name + "()", False)
        elif name:
            self.argument_passes(node, name, scope)

    def argument_passes(self, node: cst.Call, callee: str, scope: _Scope) -> None:
        """Record the arguments of a call that are worth following into the callee.

        Only a module-level function can be followed (see forwarding.py), so a
        method of a local value (`self.f(x)`, `items.append(x)`) or a builtin is
        followed only for a value that is bad in itself, which is rare; passing a
        parameter on is common, and recorded only where it can lead somewhere.
        """
        head = callee.partition(".")[0]
        source = self.imported.get(head, "").lstrip(".").partition(".")[0]
        method = callee.partition(".")[2]
        own_method = bool(scope.self_name) and head == scope.self_name and method.isidentifier()
        if own_method:
            callee = f"self.{method}"  # `self.submit_all(pool, jobs)`: followed by class
        followable = own_method or (
            head not in scope.locals
            and head != scope.self_name
            and (head == callee or head in self.imported)  # `helper(...)`, `module.helper(...)`
            and "(" not in callee
            and source not in _STDLIB_MODULES
            and not (head == callee and head in _BUILTIN_NAMES and head not in self.variables)
        )
        position = 0
        for arg in node.args:
            if arg.star:
                break  # positions after *args are unknown
            value = self.classify(arg.value, scope)
            forwards = (
                arg.value.value
                if followable
                and isinstance(arg.value, cst.Name)
                and arg.value.value in scope.params
                else ""
            )
            bad = self.worth_following(value) or self.decorated_function(arg.value, scope)
            # `send(Wrapper(x))`: the instance's class reaches whatever `send` sends it to
            instance = followable and value.kind == "call" and _names_a_class(value.name)
            if forwards or bad or instance:
                line, column = self.positions.start(node)
                self.passes.append(
                    ArgumentPassFact(
                        line=line,
                        column=column,
                        snippet=self.positions.text(node) if bad else "",  # for findings only
                        scope=scope.qualname,
                        callee=callee,
                        position=-1 if arg.keyword is not None else position,
                        keyword=arg.keyword.value if arg.keyword is not None else "",
                        value=value,
                        forwards=forwards,
                    )
                )
            if arg.keyword is None:
                position += 1

    def worth_following(self, value: ValueFact) -> bool:
        """A value some serializer refuses whatever the callee does with it: a lambda,
        a view, ... or a catalogued resource made at the call (`helper(open(p, "wb"))`,
        `helper((threading.Lock(), n))`), judged where the helper sends it (rules.py)."""
        if value.kind in ("container", "partial", "defaultdict"):
            return any(self.worth_following(item) for item in value.items)
        if value.kind != "call" or not value.name:
            return value.kind in _FOLLOWED_KINDS
        resolved = self.resolve_now(value.name)
        return is_known_resource(resolved) or is_known_resource(f"builtins.{resolved}")

    def decorated_function(self, node: cst.BaseExpression, scope: _Scope) -> bool:
        """A module-level function defined above with a decorator (`@timed`, or a
        factory's `@retry(3)`), which may have replaced it with what pickle cannot
        find (judged in rules.py)."""
        if not isinstance(node, cst.Name) or node.value in scope.locals:
            return False
        return any(fact.qualname == node.value and fact.decorators for fact in self.functions)

    def binding(self, name: str, scope: _Scope) -> ValueFact | None:
        """What `name` holds where it is used: a local (parameters included) shadows a
        module-level variable."""
        if name in scope.locals:
            return scope.locals[name]
        return self.variables.get(name)

    def bound_method_call(self, node: cst.Call, func: cst.Name, scope: _Scope) -> bool:
        """`submit = pool.submit` and later `submit(f, x)`: the boundary method called
        through the name it was bound to. Whether the call was recorded as one."""
        bound = self.binding(func.value, scope)
        if bound is None or bound.kind != "name" or "." not in bound.name:
            return False
        receiver, _, method = bound.name.rpartition(".")
        if method not in CALLABLE_FIRST_METHODS and method not in VALUE_METHODS:
            return False
        self.boundary(node, scope, method, receiver, method in CALLABLE_FIRST_METHODS)
        return True

    def receiver(self, node: cst.BaseExpression, scope: _Scope) -> str:
        if isinstance(node, cst.Call):
            value = self.classify(node, scope)
            return evidence(value)
        name = dotted_name(node)
        if name is None:
            return ""
        _head, dot, _rest = name.partition(".")
        if not dot:
            local = scope.locals.get(name)
            if local is not None:
                return evidence(local) or name
            return name
        return self.substitute(name, scope)

    def boundary(
        self,
        node: cst.Call,
        scope: _Scope,
        method: str,
        receiver: str,
        callable_first: bool,
        delayed: cst.Call | None = None,
    ) -> None:
        positional = [a for a in node.args if a.keyword is None and not a.star]
        keywords = [a for a in node.args if a.keyword is not None]
        target: cst.BaseExpression | None = None
        target_keyword = ""  # `initializer=` when the callable is passed by keyword
        if delayed is not None:
            target = delayed.args[0].value
        elif callable_first and positional:
            target = positional.pop(0).value
        elif method == "call":
            for arg in keywords:
                if arg.keyword.value in CALL_KEYWORDS:
                    target, target_keyword = arg.value, f"{arg.keyword.value}="
                    break
        callable_fact = self.classify(target, scope) if target is not None else None
        if callable_fact is not None and callable_fact.kind == "name" and dotted_name(target):
            callable_fact = ValueFact(
                "name", name=self.substitute(_dotted_or(target), scope), refs=callable_fact.refs
            )
        args = tuple(self.classify(a.value, scope) for a in positional)
        kw = tuple(
            (a.keyword.value, self.classify(a.value, scope))
            for a in keywords
            if a.keyword.value not in CALL_KEYWORDS
        )
        forwarded = _forwarded_params(target, positional, keywords, method, scope)
        start_method = self.start_method_of(node.func, scope)
        for arg in keywords:
            if arg.keyword.value in START_METHOD_KEYWORDS and not start_method:
                start_method = _string_value(arg.value) or self.start_method_of(arg.value, scope)
        line, column = self.positions.start(node)
        func_text = _dotted_or(node.func) if delayed is None else _dotted_or(delayed.func)
        shown = target_keyword + _short(target) if target is not None else ""
        others = positional or [a for a in keywords if a.value is not target]
        extra = ", ..." if others and shown else ("..." if others else "")
        text = f"{func_text}({shown}{extra})"
        if delayed is not None:
            text = f"{func_text}({shown})(...)"
        self.calls.append(
            BoundaryCallFact(
                line=line,
                column=column,
                snippet=self.positions.text(node),
                text=text,
                scope=scope.qualname,
                class_qualname=scope.class_qualname,
                method=method,
                receiver=receiver,
                callable=callable_fact,
                args=args,
                keywords=kw,
                start_method=start_method,
                forwarded=forwarded,
            )
        )

    def proxy_store(
        self, target: cst.Subscript, value: ValueFact, node: cst.CSTNode, scope: _Scope
    ) -> None:
        """`shared[key] = value` on a `Manager().dict()`: the value is pickled and sent
        to the manager's process, like the argument of a proxy method."""
        receiver = self.receiver(target.value, scope)
        if not _may_be_proxy(receiver, scope):
            return
        line, column = self.positions.start(node)
        self.calls.append(
            BoundaryCallFact(
                line=line,
                column=column,
                snippet=self.positions.text(node),
                text=f"{_dotted_or(target.value)}[...] = ...",
                scope=scope.qualname,
                class_qualname=scope.class_qualname,
                method="__setitem__",
                receiver=receiver,
                callable=None,
                args=(value,),
                keywords=(),
            )
        )

    def super_init(self, node: cst.Call, scope: _Scope) -> None:
        func = node.func
        args = list(node.args)
        receiver = func.value  # type: ignore[attr-defined]
        if isinstance(receiver, cst.Call) and dotted_name(receiver.func) == "super":
            pass
        elif isinstance(receiver, cst.Name | cst.Attribute) and args:
            first = args[0].value
            if not (isinstance(first, cst.Name) and first.value == scope.self_name):
                return
            args = args[1:]
        else:
            return
        positional = sum(1 for a in args if a.keyword is None and not a.star)
        starred = any(a.star == "*" for a in args)
        keywords = tuple(a.keyword.value for a in args if a.keyword is not None)
        line, _ = self.positions.start(node)
        scope.super_calls.append(SuperInitCall(positional, starred, keywords, line))

    # ---- definitions -----------------------------------------------------------

    def params(self, node: cst.Parameters) -> tuple[ParamFact, ...]:
        out: list[ParamFact] = []

        def add(param: cst.Param, kind: str) -> None:
            annotation = param.annotation.annotation if param.annotation else None
            out.append(
                ParamFact(
                    name=param.name.value,
                    annotation=annotation_refs(annotation),
                    has_default=param.default is not None,
                    kind=kind,
                )
            )

        for param in (*node.posonly_params, *node.params):
            add(param, "positional")
        if isinstance(node.star_arg, cst.Param):
            add(node.star_arg, "varargs")
        for param in node.kwonly_params:
            add(param, "kwonly")
        if isinstance(node.star_kwarg, cst.Param):
            add(node.star_kwarg, "varkw")
        return tuple(out)

    def function(self, node: cst.FunctionDef, scope: _Scope, cls: _ClassBuilder | None) -> None:
        name = node.name.value
        in_class = cls is not None and scope.qualname == cls.qualname
        qualname = f"{scope.qualname}.{name}" if scope.qualname else name
        if not in_class and scope.qualname:
            qualname = f"{scope.qualname}.<locals>.{name}"
            scope.nested_functions.add(name)
            scope.locals.pop(name, None)
        decorators = tuple(_dotted_or(d.decorator) for d in node.decorators)
        if not in_class and scope.qualname:
            if any(self._is(d.partition("(")[0], WRAPS_NAMES) for d in decorators):
                scope.wrapping_functions.add(name)
            else:
                scope.wrapping_functions.discard(name)
        params = self.params(node.params)
        takes_class = name in _CLASS_METHODS or any(
            d.rpartition(".")[2] in ("staticmethod", "classmethod") for d in decorators
        )
        self_name = params[0].name if in_class and params and not takes_class else ""
        static = any(d.rpartition(".")[2] == "staticmethod" for d in decorators)
        bound = params[0].name if in_class and params and not static else ""
        inner = _Scope(
            qualname=qualname,
            class_qualname=cls.qualname if in_class else scope.class_qualname,
            self_name=self_name or (scope.self_name if not in_class else ""),
            function_name=name,
        )
        inner.params = frozenset(
            p.name for p in params if p.name != self_name and p.kind in ("positional", "kwonly")
        )
        if not in_class and scope.self_name:
            inner.self_calls = scope.self_calls  # what a nested function calls, its method calls
        for param in params:
            if param.name != self_name:
                # a parameter shadows any module-level name (`def f(queue): self.q = queue`)
                typed = param.annotation and param.kind in ("positional", "kwonly")
                inner.locals[param.name] = (
                    ValueFact("annotation", name=param.annotation[0], refs=param.annotation)
                    if typed
                    else OTHER
                )
        for decorator in node.decorators:
            self.scan(decorator.decorator, scope)
        for param in (*node.params.params, *node.params.kwonly_params):
            if param.default is not None:
                self.scan(param.default, scope)
        self.block(self.body_of(node), inner, None)
        line, column = self.positions.start(node)
        fact = FunctionFact(
            qualname=qualname,
            line=line,
            column=column,
            is_generator=inner.is_generator,
            returns=annotation_refs(node.returns.annotation) if node.returns else (),
            under_main_guard=self.under_main_guard,
            unbound=in_class
            and any(d.rpartition(".")[2] in ("staticmethod", "classmethod") for d in decorators),
            self_calls=tuple(sorted(inner.self_calls)) if self_name else (),
            returned=tuple(inner.returned),
            decorated=bool(decorators) and not takes_class,
            decorators=decorators,
            returns_local_function=any(
                value.kind == "nested_function" and value.name not in inner.wrapping_functions
                for value in inner.returned
            ),
            returns_replacing_decorator=any(
                value.kind == "nested_function" and value.name in inner.replacing_functions
                for value in inner.returned
            ),
            # module-level functions and methods can be followed into (arguments.py); a
            # method's own instance (or class) parameter is left out, as a call binds it
            params=tuple(p.name for p in params if p.kind == "positional" and p.name != bound)
            + tuple(p.name for p in params if p.kind == "kwonly")
            if not scope.qualname or in_class
            else (),
        )
        if in_class:
            assert cls is not None
            cls.methods.append(fact)
            self.method_details(node, fact, params, inner, cls, decorators)
        elif not scope.qualname:
            self.functions.append(fact)
            if self.under_main_guard:
                self.main_guard_names.append(name)
        elif fact.returns_local_function:
            scope.replacing_functions.add(name)
        else:
            scope.replacing_functions.discard(name)

    def method_details(
        self,
        node: cst.FunctionDef,
        fact: FunctionFact,
        params: tuple[ParamFact, ...],
        inner: _Scope,
        cls: _ClassBuilder,
        decorators: tuple[str, ...],
    ) -> None:
        name = node.name.value
        if any(self._is(d, CACHED_PROPERTY_NAMES) for d in decorators):
            cls.cached.append(
                AttributeFact(
                    name=name,
                    line=fact.line,
                    column=fact.column,
                    snippet=self.positions.text(node, until=node.body),
                    value=None,
                    annotation=fact.returns,
                    on_instance=True,
                    method=fact.qualname,
                )
            )
        if name in ("__reduce__", "__reduce_ex__"):
            cls.defines_reduce = True
        elif name == "__getstate__" and params:
            cls.getstate_drops = dropped_attributes(node, params[0].name)
        elif name == "__init__":
            cls.init = InitFact(
                params=params[1:],
                super_calls=tuple(inner.super_calls),
                sets_args=inner.sets_args,
                line=fact.line,
                column=fact.column,
                snippet=self.positions.text(node, until=node.body),
                args_length=inner.args_length,
                stores=tuple(inner.stored_params),
            )
        elif name == "__getattr__" and params:
            reads, guarded, subscripts = _getattr_behaviour(node, params)
            cls.getattr = GetattrFact(
                line=fact.line,
                column=fact.column,
                snippet=self.positions.text(node, until=node.body),
                reads_self=reads,
                guarded=guarded,
                subscripts_name=subscripts,
            )

    def class_def(self, node: cst.ClassDef, scope: _Scope, cls: _ClassBuilder | None) -> None:
        name = node.name.value
        in_function = bool(scope.qualname) and not (
            cls is not None and scope.qualname == cls.qualname
        )
        if in_function:
            scope.local_classes.add(name)
            scope.locals.pop(name, None)
            qualname = f"{scope.qualname}.<locals>.{name}"
        else:
            qualname = f"{scope.qualname}.{name}" if scope.qualname else name
        bases = tuple(_dotted_or(a.value) for a in node.bases if a.keyword is None)
        decorators = tuple(_dotted_or(d.decorator) for d in node.decorators)
        field_like = any(
            self._is(d.partition("(")[0], DATACLASS_DECORATORS) for d in decorators
        ) or any(self._is(b, FIELD_BASES) for b in bases)
        builder = _ClassBuilder(node=node, qualname=qualname, field_like=field_like)
        if field_like:
            builder.writes_init, builder.keyword_only = writes_init(node.decorators)
            if any(self._is(b, KEYWORD_FIELD_BASES) for b in bases):
                builder.keyword_only = True
        for decorator in node.decorators:
            self.scan(decorator.decorator, scope)
        class_scope = _Scope(qualname=qualname, class_qualname=qualname)
        self._class_stack.append(builder)
        self.block(self.body_of(node), class_scope, builder)
        self._class_stack.pop()
        line, column = self.positions.start(node)
        if in_function:
            return
        self.classes.append(
            ClassFact(
                qualname=qualname,
                line=line,
                column=column,
                bases=bases,
                decorators=decorators,
                attributes=tuple(builder.attributes),
                methods=tuple(builder.methods),
                cached_properties=tuple(builder.cached),
                init=builder.init,
                init_fields=tuple(builder.init_fields) if builder.init is None else (),
                getattr=builder.getattr,
                defines_reduce=builder.defines_reduce,
                getstate_drops=builder.getstate_drops,
                boundary_marker=line if _has_marker(node) else 0,
                is_local=False,
                under_main_guard=self.under_main_guard,
            )
        )
        if self.under_main_guard and not scope.qualname:
            self.main_guard_names.append(name)


_CLASS_METHODS = frozenset({"__new__", "__init_subclass__", "__class_getitem__"})


def _bound_names(target: cst.BaseExpression) -> Iterator[str]:
    if isinstance(target, cst.Name):
        yield target.value
    elif isinstance(target, cst.Tuple | cst.List):
        for element in target.elements:
            yield from _bound_names(element.value)
    elif isinstance(target, cst.StarredElement):
        yield from _bound_names(target.value)


_BUILTIN_NAMES = frozenset(dir(builtins))
# stdlib functions are never a project's forwarding helpers
_STDLIB_MODULES = frozenset(getattr(sys, "stdlib_module_names", ())) - {""}
# methods that put their arguments into a list, dict, set or deque
_GROWING_METHODS = frozenset(
    {"append", "appendleft", "add", "extend", "update", "insert", "setdefault"}
)


def _items_of(value: ValueFact) -> tuple[ValueFact, ...]:
    """What iterating a value gives, as far as the source says: a literal's items."""
    return value.items if value.kind == "container" else ()


_FOLLOWED_KINDS = frozenset(
    {"lambda", "nested_function", "partial_closure", "local_class", "local_class_instance"}
    | {"local_class_method", "dict_view", "genexp"}
)


def _forwarded_params(
    target: cst.BaseExpression | None,
    positional: list[cst.Arg],
    keywords: list[cst.Arg],
    method: str,
    scope: _Scope,
) -> tuple[tuple[str, str], ...]:
    """Parameters of the enclosing function that a boundary call sends on, and how."""
    if not scope.params:
        return ()
    found: list[tuple[str, str]] = []
    if isinstance(target, cst.Name) and target.value in scope.params:
        found.append((target.value, "callable"))
    values = [a.value for a in positional]
    values += [a.value for a in keywords if a.keyword.value not in CALL_KEYWORDS]
    for value in values:
        items = list(value.elements) if isinstance(value, cst.Tuple | cst.List) else []
        candidates = [e.value for e in items if isinstance(e, cst.Element)]
        if method not in ITERATING_METHODS:
            candidates.append(value)  # a map-like call sends the items, not the iterable
        found.extend(
            (c.value, "payload")
            for c in candidates
            if isinstance(c, cst.Name) and c.value in scope.params
        )
    return tuple(dict.fromkeys(found))


def _string_argument(call: cst.Call) -> str:
    """The first argument when it is a plain string literal (`"fork"`), else ""."""
    if not call.args or call.args[0].keyword is not None:
        return ""
    return _string_value(call.args[0].value)


def _names_a_class(name: str) -> bool:
    """`Wrapper`, `shapes.Circle`: a constructor by the naming convention (PEP 8), which
    is all the extractor can tell before the project's classes are known."""
    last = name.rpartition(".")[2]
    return last[:1].isupper() and not last.isupper()


def _may_be_proxy(receiver: str, scope: _Scope) -> bool:
    """A receiver that may be a Manager proxy: one made here (`Manager().dict()`), or an
    attribute of the instance (`self.results`), which the engine resolves through the
    class's attributes (`self.results = self.manager.dict()`) wherever they are set."""
    if _MANAGER_MADE in receiver:
        return True
    head, dot, attr = receiver.partition(".")
    return bool(dot) and head == scope.self_name and "." not in attr


def _open_mode(name: str, call: cst.Call) -> str:
    """The literal mode of `open(path, "wb")` (or `mode="wb"`, any `...open` callee):
    which file object comes back decides whether cloudpickle can carry it."""
    if name.rpartition(".")[2] not in ("open", "fdopen"):
        return ""
    for position, arg in enumerate(call.args):
        keyword = arg.keyword.value if arg.keyword else None
        if keyword == "mode" or (keyword is None and not arg.star and position == 1):
            return _string_value(arg.value)
    return ""


def _string_value(value: cst.BaseExpression) -> str:
    """A plain string literal's value (`"spawn"`), else ""."""
    if isinstance(value, cst.SimpleString):
        evaluated = value.evaluated_value
        return evaluated if isinstance(evaluated, str) else ""
    return ""


def _starts_workers(arg: cst.Arg) -> bool:
    """`target=`/`initializer=`, or a worker count that is not a literal 0."""
    if arg.keyword is None:
        return False
    keyword = arg.keyword.value
    if keyword in CALL_KEYWORDS:
        return True
    value = arg.value
    return keyword in WORKER_COUNT_KEYWORDS and not (
        isinstance(value, cst.Integer) and value.evaluated_value == 0
    )


def _dotted_or(node: cst.BaseExpression) -> str:
    """`pool.map`, `ProcessPool(...).map`, `get_context(...).Pool(...)`; else `...`."""
    if isinstance(node, cst.Call):
        inner = _dotted_or(node.func)
        return f"{inner}(...)" if inner != "..." else "..."
    name = dotted_name(node)
    if name is None and isinstance(node, cst.Attribute):
        owner = _dotted_or(node.value)
        return f"{owner}.{node.attr.value}" if owner != "..." else "..."
    return name or "..."


def _short(node: cst.BaseExpression) -> str:
    if isinstance(node, cst.Lambda):
        return "lambda ..."
    return _dotted_or(node)


def _annotation_name(node: cst.BaseExpression) -> str:
    return dotted_name(node) or ""


def _is_main_test(test: cst.BaseExpression) -> bool:
    if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
        return False
    left = test.left
    right = test.comparisons[0].comparator
    if not isinstance(test.comparisons[0].operator, cst.Equal):
        return False
    sides = {type(left), type(right)}
    if sides != {cst.Name, cst.SimpleString}:
        return False
    name, text = (left, right) if isinstance(left, cst.Name) else (right, left)
    return name.value == "__name__" and text.evaluated_value == "__main__"


def _has_marker(node: cst.ClassDef) -> bool:
    comments = [line.comment for line in node.leading_lines]
    for decorator in node.decorators:
        comments.extend(line.comment for line in decorator.leading_lines)
    comments.extend(line.comment for line in node.lines_after_decorators)
    if isinstance(node.body, cst.IndentedBlock):
        comments.append(node.body.header.comment)
    return any(c is not None and BOUNDARY_MARKER in c.value for c in comments)


def _reads_self(node: cst.CSTNode, self_name: str) -> bool:
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, cst.Attribute):
            if (
                isinstance(current.value, cst.Name)
                and current.value.value == self_name
                and current.attr.value not in ("__class__", "__dict__", "__getattribute__")
            ):
                return True
        elif isinstance(current, cst.Call):
            func = dotted_name(current.func)
            if (
                func == "getattr"
                and current.args
                and isinstance(current.args[0].value, cst.Name)
                and current.args[0].value.value == self_name
            ):
                return True
            if func in ("object.__getattribute__", "super.__getattribute__"):
                continue
        elif isinstance(current, cst.FunctionDef | cst.Lambda):
            continue
        stack.extend(iter_children(current))
    return False


def _contains(node: cst.CSTNode, found: Callable[[cst.CSTNode], bool]) -> bool:
    """Whether any node of the tree below `node` (itself included) is `found`."""
    stack = [node]
    while stack:
        current = stack.pop()
        if found(current):
            return True
        stack.extend(iter_children(current))
    return False


def _mentions(node: cst.CSTNode, name: str) -> bool:
    return _contains(node, lambda n: isinstance(n, cst.Name) and n.value == name)


def _raises(node: cst.CSTNode) -> bool:
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, cst.Raise):
            return True
        if isinstance(current, cst.Call) and dotted_name(current.func) in (
            "object.__getattribute__",
            "super.__getattr__",
        ):
            return True
        if isinstance(current, cst.Attribute) and current.attr.value in (
            "__getattr__",
            "__getattribute__",
        ):
            return True
        stack.extend(iter_children(current))
    return False


def _getattr_behaviour(
    node: cst.FunctionDef, params: tuple[ParamFact, ...]
) -> tuple[bool, bool, bool]:
    """(reads instance state, guards names first, looks the name up in a mapping that
    raises KeyError) for a `__getattr__` body."""
    self_name = params[0].name
    attr_name = params[1].name if len(params) > 1 else ""
    subscripts = False
    for statement in node.body.body:
        if isinstance(statement, cst.If) and attr_name and _mentions(statement.test, attr_name):
            if _reads_self(statement.test, self_name):
                return True, False, subscripts
            if _raises(statement.body) and not _spares_setstate(statement.test, attr_name):
                return _reads_self(node.body, self_name), True, subscripts
            if _selects_names(statement.test, attr_name) and statement.orelse is None:
                continue  # runs only for the names listed, which pickle never asks for
        if _reads_self(statement, self_name):
            return True, False, subscripts
        subscripts = subscripts or _subscripts_by(statement, attr_name, self_name)
    # state read through __getattribute__ raises AttributeError first on an empty
    # instance, and `name in table` guards the lookup: neither lets a KeyError out
    if subscripts and (_mentions_getattribute(node.body) or _tests_membership(node, attr_name)):
        subscripts = False
    return False, False, subscripts


def _mentions_getattribute(node: cst.CSTNode) -> bool:
    return _contains(
        node, lambda n: isinstance(n, cst.Attribute) and n.attr.value == "__getattribute__"
    )


def _tests_membership(node: cst.CSTNode, attr_name: str) -> bool:
    """`name in table` / `name not in table` anywhere in the body."""
    return _contains(
        node,
        lambda n: (
            isinstance(n, cst.Comparison)
            and isinstance(n.left, cst.Name)
            and n.left.value == attr_name
            and any(isinstance(c.operator, cst.In | cst.NotIn) for c in n.comparisons)
        ),
    )


_LOOKUP_ERRORS = frozenset({"KeyError", "LookupError", "Exception", "BaseException"})


def _subscripts_by(node: cst.CSTNode, attr_name: str, self_name: str) -> bool:
    """`mapping[name]`, or any `self.__dict__[...]` (empty while unpickling), where
    nothing around it catches the KeyError."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, cst.Try) and any(
            handler.type is None
            or any(
                dotted_name(name) in _LOOKUP_ERRORS
                for name in (
                    [e.value for e in handler.type.elements]
                    if isinstance(handler.type, cst.Tuple)
                    else [handler.type]
                )
            )
            for handler in current.handlers
        ):
            stack.extend(current.handlers)  # only the handlers themselves may still fail
            continue
        if isinstance(current, cst.FunctionDef | cst.Lambda):
            continue
        if isinstance(current, cst.Subscript) and (
            _is_self_dict(current.value, self_name)
            or any(
                isinstance(element.slice, cst.Index)
                and isinstance(element.slice.value, cst.Name)
                and bool(attr_name)
                and element.slice.value.value == attr_name
                for element in current.slice
            )
        ):
            return True
        stack.extend(iter_children(current))
    return False


def _is_self_dict(node: cst.BaseExpression, self_name: str) -> bool:
    return (
        isinstance(node, cst.Attribute)
        and node.attr.value == "__dict__"
        and isinstance(node.value, cst.Name)
        and node.value.value == self_name
    )


def _spares_setstate(test: cst.BaseExpression, attr_name: str) -> bool:
    """`if name in {"__array_struct__"}: raise`: a guard that lists the names it refuses
    and `__setstate__` is not among them, the one name unpickling asks for, so the
    read below it still runs while the instance is empty."""
    if not _selects_names(test, attr_name):
        return False
    comparator = test.comparisons[0].comparator  # type: ignore[attr-defined]
    items = (
        [element.value for element in comparator.elements]
        if isinstance(comparator, cst.Set | cst.List | cst.Tuple)
        else [comparator]
    )
    if not all(isinstance(item, cst.SimpleString) for item in items):
        return False
    return "__setstate__" not in {item.evaluated_value for item in items}


def _selects_names(test: cst.BaseExpression, attr_name: str) -> bool:
    """`name in {...}` / `name == "x"`: a branch taken only for specific names."""
    return (
        isinstance(test, cst.Comparison)
        and isinstance(test.left, cst.Name)
        and test.left.value == attr_name
        and len(test.comparisons) == 1
        and isinstance(test.comparisons[0].operator, cst.In | cst.Equal)
    )


def extract_module_facts(source: str, path: str, module: str) -> ModuleFacts:
    is_package = path.replace("\\", "/").rsplit("/", 1)[-1] == "__init__.py"

    def unchecked(problem: ParseErrorFact) -> ModuleFacts:
        return ModuleFacts(path=path, module=module, is_package=is_package, parse_error=problem)

    # Python's own parser goes first: it reports syntax errors where they are, and
    # it refuses nesting (more than 200 brackets, 20,000-term chains) on which
    # libcst's native parser overflows its stack and takes the process down
    rejected = _python_rejects(source)
    if rejected is not None:
        return unchecked(rejected)
    try:
        tree = cst.parse_module(source)
    except cst.ParserSyntaxError as error:
        return unchecked(_libcst_only_problem(error))
    except RecursionError:
        return unchecked(TOO_DEEP)
    try:
        extractor = _Extractor(tree, path, module, is_package)
        return dataclasses.replace(extractor.run(), comments=marker_comments(source))
    except RecursionError:
        return unchecked(TOO_DEEP)


TOO_DEEP = ParseErrorFact(
    1,
    1,
    "cannot check the file: it nests too deeply for the parser",
    "split the deeply nested expression into named parts, or exclude the file",
)
_SYNTAX_FIX = "fix the syntax error, or exclude the file"
_LIBCST_FIX = "exclude the file until libcst supports the construct (Python itself accepts it)"


def _python_rejects(source: str) -> ParseErrorFact | None:
    """Python's verdict on the syntax (a syntax tree only: nothing is compiled or run)."""
    try:
        compile(source, "<checked>", "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError as error:
        if error.lineno is None:  # null bytes, on Python 3.11+
            return ParseErrorFact(1, 1, f"cannot parse the file: {error.msg}", _SYNTAX_FIX)
        line, column = error.lineno, error.offset or 1
        return ParseErrorFact(
            line,
            column,
            f"cannot parse the file: syntax error at line {line}, column {column}: {error.msg}",
            _SYNTAX_FIX,
        )
    except ValueError as error:  # null bytes, on Python 3.10
        return ParseErrorFact(1, 1, f"cannot parse the file: {error}", _SYNTAX_FIX)
    except (RecursionError, MemoryError):
        return TOO_DEEP
    return None


def _libcst_only_problem(error: cst.ParserSyntaxError) -> ParseErrorFact:
    """Python accepts the file but libcst cannot parse it: libcst's position is all there is."""
    line, column = error.raw_line, error.raw_column + 1
    return ParseErrorFact(
        line,
        column,
        f"cannot parse the file: libcst rejects it at line {line}, column {column},"
        " though Python accepts it",
        _LIBCST_FIX,
    )


def _tuple_length(node: object) -> int | None:
    """How many items a tuple display holds, or None when it is not one (or unpacks)."""
    if not isinstance(node, cst.Tuple):
        return None
    if any(isinstance(item, cst.StarredElement) for item in node.elements):
        return None
    return len(node.elements)
