"""Plain, picklable facts about one module: the only thing later stages read.

One libcst pass per file (see `extract.py`) fills these records; they are
cached by content hash and shipped between processes, so they hold strings,
ints and tuples only. Names are kept *as written* (`"Lock"`, `"pool.submit"`);
`index.py` resolves them through the module's imports later, when every
module is known.

Value evidence strings use a tiny notation: `"Foo()"` is "the result of
calling (or an instance annotated as) Foo", so `ctx = get_context("spawn");
ctx.Pool()` becomes `"get_context().Pool()"` and `obj = Driver(); obj.run`
becomes `"Driver().run"`.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Position:
    line: int
    column: int


@dataclass(frozen=True)
class ImportFact:
    """`local` is the name bound in the module, `target` the dotted name it means."""

    local: str
    target: str
    is_module: bool  # `import x` binds a module object; `from x import y` may not


@dataclass(frozen=True)
class ValueFact:
    """What kind of value an expression produces, as far as the syntax tells.

    kind is one of: "lambda", "dict_view", "nested_function", "partial_closure",
    "genexp", "local_class", "local_class_instance", "local_class_method",
    "call" (name = callee; `mode` = the literal mode of an `open`-like call),
    "name" (name = dotted reference), "annotation" (only `refs` known),
    "container" (`items` hold the elements), "partial" (name = wrapped callable),
    "other".
    """

    kind: str
    name: str = ""
    refs: tuple[str, ...] = ()  # class names that instances of this value may be
    items: tuple[ValueFact, ...] = ()
    mode: str = ""  # open(path, "rb"): cloudpickle carries only text files it can read


OTHER = ValueFact("other")


@dataclass(frozen=True)
class AttributeFact:
    """An attribute assignment or annotation in a class (`self.x = ...` or class body)."""

    name: str
    line: int
    column: int
    snippet: str
    value: ValueFact | None  # None: annotation only
    annotation: tuple[str, ...]  # class names from the annotation, as written
    on_instance: bool  # False: a class-body attribute, not pickled with instances
    method: str  # method it was assigned in ("" for the class body)


@dataclass(frozen=True)
class ParamFact:
    name: str
    annotation: tuple[str, ...]
    has_default: bool
    kind: str  # "positional", "varargs", "kwonly", "varkw"


@dataclass(frozen=True)
class FunctionFact:
    qualname: str
    line: int
    column: int
    is_generator: bool
    returns: tuple[str, ...]  # class names from the return annotation
    under_main_guard: bool = False
    params: tuple[str, ...] = ()  # positional parameters in order, then keyword-only ones
    # a @staticmethod or @classmethod: reached through an instance, it does not carry it
    unbound: bool = False
    self_calls: tuple[str, ...] = ()  # methods it calls on its own instance (`self.x()`)
    decorated: bool = False  # a property or other wrapper: who calls it is unknown
    returned: tuple[ValueFact, ...] = ()  # what its `return` statements give back
    decorators: tuple[str, ...] = ()  # as written: `ray.remote`, `ray.remote(...)`
    # returns a nested function not made with `functools.wraps`: as a decorator, it
    # replaces the function it decorates with one pickle cannot find by name
    returns_local_function: bool = False
    # a decorator factory (`@retry(3)`) whose nested decorator does the above
    returns_replacing_decorator: bool = False


@dataclass(frozen=True)
class SuperInitCall:
    """How `__init__` calls the base initializer: positional count, starred or not."""

    positional: int
    starred: bool  # *args forwarded
    keywords: tuple[str, ...]
    line: int


@dataclass(frozen=True)
class InitFact:
    """A class's `__init__`: enough to tell whether an exception's `cls(*self.args)`
    works, and which arguments a constructor call stores on the instance."""

    params: tuple[ParamFact, ...]
    super_calls: tuple[SuperInitCall, ...]
    sets_args: bool  # assigns self.args itself
    line: int
    column: int
    snippet: str
    args_length: int | None = None  # `self.args = (a, b)`: a tuple display, no starred item
    stores: tuple[tuple[str, str], ...] = ()  # (parameter, attribute): `self.a = param`


@dataclass(frozen=True)
class InitField:
    """A parameter of the `__init__` that `@dataclass` (or attrs, a NamedTuple, a
    pydantic model) writes from the class body, in declaration order."""

    name: str
    line: int
    stored: bool  # False for an `InitVar`: a parameter that is not kept on the instance
    keyword_only: bool


@dataclass(frozen=True)
class GetattrFact:
    line: int
    column: int
    snippet: str
    reads_self: bool
    guarded: bool  # raises AttributeError for some names before touching state
    # `table[name]` outside a `try` that turns the KeyError into AttributeError: the
    # lookup of `__setstate__` on an empty instance raises KeyError, and loading fails
    subscripts_name: bool = False


@dataclass(frozen=True)
class ClassFact:
    qualname: str
    line: int
    column: int
    bases: tuple[str, ...]
    decorators: tuple[str, ...]
    attributes: tuple[AttributeFact, ...]
    methods: tuple[FunctionFact, ...]
    cached_properties: tuple[AttributeFact, ...] = ()
    init: InitFact | None = None
    # the generated `__init__`'s own fields, when the class body writes none (see InitField)
    init_fields: tuple[InitField, ...] = ()
    getattr: GetattrFact | None = None
    defines_reduce: bool = False
    # what a copy-and-drop __getstate__ leaves out; None: no such method (see getstate.py)
    getstate_drops: tuple[str, ...] | None = None
    boundary_marker: int = 0  # line of `# pickle-audit: boundary`, 0 if none
    is_local: bool = False  # defined inside a function
    under_main_guard: bool = False

    def method(self, name: str) -> FunctionFact | None:
        wanted = f"{self.qualname}.{name}"
        return next((m for m in self.methods if m.qualname == wanted), None)


@dataclass(frozen=True)
class BoundaryCallFact:
    """A call that *may* hand values to another process, depending on its receiver.

    `method` is the called attribute (`submit`, `map`, `apply_async`, `put`, ...),
    or "call" for a constructor-like call carrying `target=`/`initializer=`, or
    "delayed" for `delayed(f)(...)`. `receiver` is the evidence string for what
    the method is called on (or the constructor's name).
    """

    line: int
    column: int
    snippet: str
    text: str  # short rendering: "executor.submit(self.execute_fragment, ...)"
    scope: str  # qualname of the enclosing function, "" at module level
    class_qualname: str  # enclosing class of that function, "" if none
    method: str
    receiver: str
    callable: ValueFact | None
    args: tuple[ValueFact, ...]
    keywords: tuple[tuple[str, ValueFact], ...]
    start_method: str = ""  # chosen at the call: get_context("fork").Process, mp_context=...
    # parameters of the enclosing function that the call sends on: (name, "callable" or
    # "payload"), so a helper that forwards its argument to a pool is itself a sink
    forwarded: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ArgumentPassFact:
    """A call of a project function with a value worth following: one a serializer may
    refuse (a lambda, a view, ...) or a parameter of the calling function passed on.

    `position` is the argument's index (-1 when passed by `keyword`); `forwards` the
    caller's parameter when the argument is one, else "".
    """

    line: int
    column: int
    snippet: str
    scope: str  # qualname of the calling function, "" at module level
    callee: str  # the called name, as resolvable in the module
    position: int
    keyword: str
    value: ValueFact
    forwards: str = ""


@dataclass(frozen=True)
class CommentFact:
    """A comment that may be a suppression (it mentions `pickle-audit:` or `noqa`), with
    the lines of the statement it sits in (see suppress.py)."""

    line: int
    column: int  # 0-based, of the `#`
    first: int
    last: int
    text: str


@dataclass(frozen=True)
class ParseErrorFact:
    """Why a file was not checked; `message` is the whole finding text, `fix` its advice."""

    line: int
    column: int
    message: str
    fix: str = ""


@dataclass(frozen=True)
class ModuleFacts:
    path: str
    module: str
    is_package: bool
    imports: tuple[ImportFact, ...] = ()
    functions: tuple[FunctionFact, ...] = ()
    classes: tuple[ClassFact, ...] = ()
    variables: tuple[tuple[str, ValueFact], ...] = ()  # module-level assignments
    boundary_calls: tuple[BoundaryCallFact, ...] = ()
    main_guard_names: tuple[str, ...] = ()
    parse_error: ParseErrorFact | None = None
    start_method: str = ""  # from a multiprocessing.set_start_method("...") call in it
    passes: tuple[ArgumentPassFact, ...] = ()
    comments: tuple[CommentFact, ...] = ()  # read once here, so warm runs never tokenize
    method_calls: tuple[str, ...] = ()  # names called as methods of anything but `self`
    _class_map: dict[str, ClassFact] = field(
        default_factory=dict, compare=False, repr=False, hash=False
    )

    def class_named(self, qualname: str) -> ClassFact | None:
        if not self._class_map and self.classes:
            self._class_map.update((c.qualname, c) for c in self.classes)
        return self._class_map.get(qualname)

    def find_attribute(self, class_qualname: str, attr: str) -> AttributeFact | None:
        """Where `attr` is given a value on instances of the class (first such place)."""
        cls = self.class_named(class_qualname)
        if cls is None:
            return None
        candidates = [a for a in cls.attributes if a.name == attr]
        for wanted in (
            lambda a: a.on_instance and a.value is not None,
            lambda a: a.on_instance,
            lambda a: True,
        ):
            found = next((a for a in candidates if wanted(a)), None)
            if found is not None:
                return found
        return None


def evidence(value: ValueFact) -> str:
    """The evidence string of a value: `Foo()` for an instance of Foo, else its name.

    Lives with the facts, not the extractor, so judging cached facts never
    imports libcst (a warm pre-commit run stays well under a second).
    """
    if value.kind == "call":
        return f"{value.name}()"
    if value.kind == "annotation" and value.name:
        return f"{value.name}()"
    if value.kind == "name":
        return value.name
    return ""


def extract_facts(source: str, path: str, module: str) -> ModuleFacts:
    """Parse `source` once with libcst and return its facts (see `extract.py`)."""
    from pickle_audit.lint.extract import extract_module_facts

    return extract_module_facts(source, path, module)
