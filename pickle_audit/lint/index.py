"""The project index: module names, and name resolution across modules.

Facts keep names as written; this is the one place that turns `Lock`,
`pool.submit` or `qcmanybody.ManyBodyCore` into the definition they mean,
following imports, relative imports and re-exports in `__init__.py`.
"""

from __future__ import annotations

import builtins
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

from pickle_audit.lint.facts import ClassFact, FunctionFact, ModuleFacts, ValueFact, evidence

_ATTRIBUTE_HOPS = 3  # `self.shared = self.manager.dict()`, `self.manager = Manager()`

_HEAD = re.compile(r"([A-Za-z_]\w*)(.*)", re.DOTALL)
_MAX_HOPS = 12


def _shared(path: str, other: str) -> int:
    try:
        return len(os.path.commonpath([path, other]))
    except ValueError:
        return 0


def module_name_for(path: Path) -> str:
    """Dotted module name from the chain of packages (`__init__.py`) above `path`.

    A file in a directory without `__init__.py` is a top-level module, so
    `site-packages/qcmanybody/core.py` is `qcmanybody.core` whatever the root is.
    """
    parts = [] if path.name == "__init__.py" else [path.stem]
    folder = path.parent
    while (folder / "__init__.py").is_file():
        parts.append(folder.name)
        if folder.parent == folder:
            break
        folder = folder.parent
    return ".".join(reversed(parts)) or path.stem


def namespace_names(path: Path, module: str, root: Path) -> Iterator[str]:
    """The longer names a module also has when the folders above its top package are
    PEP 420 namespace packages (no `__init__.py`), up to but not including `root`.

    `root/ns/sub/mod.py` with no `__init__.py` anywhere is importable as `mod`,
    `sub.mod` or `ns.sub.mod`, depending on which folder is on `sys.path`; the
    index answers to all of them, so `from ns.sub.mod import X` resolves.
    """
    folder = path.parent
    for _ in range(module.count(".") + (path.name == "__init__.py")):
        folder = folder.parent
    name = module
    while folder != root and folder.is_relative_to(root) and folder.name.isidentifier():
        name = f"{folder.name}.{name}"
        yield name
        folder = folder.parent


class ClassRef(NamedTuple):
    """A class found in the project, with the module it lives in."""

    module: ModuleFacts
    fact: ClassFact
    module_key: str  # the module's name, made unique when two files share it

    @property
    def qualified(self) -> str:
        return f"{self.module_key}.{self.fact.qualname}"

    @property
    def name(self) -> str:
        return self.fact.qualname


class FunctionRef(NamedTuple):
    module: ModuleFacts
    fact: FunctionFact


class ProjectIndex:
    """Every module below the root, by dotted name."""

    def __init__(self, modules: Iterable[ModuleFacts], root: Path | None = None) -> None:
        self.modules: dict[str, ModuleFacts] = {}  # unique key -> facts
        self.classes: dict[str, ClassRef] = {}
        self.functions: dict[str, FunctionRef] = {}
        self.key_of: dict[str, str] = {}  # path -> unique module key
        self._by_name: dict[str, list[str]] = {}
        self._locals: dict[str, dict[str, str]] = {}
        self._import_maps: dict[str, dict[str, str]] = {}
        self._module_imports: dict[str, set[str]] = {}
        for facts in modules:
            if facts.parse_error is not None:
                continue
            key = facts.module
            if key in self.modules:
                key = f"{facts.module}@{len(self._by_name[facts.module])}"
            self._by_name.setdefault(facts.module, []).append(key)
            self.modules[key] = facts
            self.key_of[facts.path] = key
            for cls in facts.classes:
                self.classes[f"{key}.{cls.qualname}"] = ClassRef(facts, cls, key)
            for function in facts.functions:
                self.functions[f"{key}.{function.qualname}"] = FunctionRef(facts, function)
        # a module's namespace-package names, consulted only where no module has the name
        self._namespace_names: dict[str, list[str]] = {}
        if root is not None:
            for key, facts in self.modules.items():
                for name in namespace_names(Path(facts.path), facts.module, root):
                    self._namespace_names.setdefault(name, []).append(key)
        self._mro_cache: dict[str, tuple[ClassRef, ...]] = {}
        self._method_names: dict[str, frozenset[str]] = {}
        self._class_names: dict[tuple[str, str, str], ClassRef | None] = {}

    # ---- names -----------------------------------------------------------------

    def _imports(self, facts: ModuleFacts) -> dict[str, str]:
        found = self._import_maps.get(facts.path)
        if found is None:
            found = {}
            for item in facts.imports:
                found.setdefault(item.local, item.target)
            self._import_maps[facts.path] = found
            self._module_imports[facts.path] = {i.local for i in facts.imports if i.is_module}
        return found

    def _defined(self, facts: ModuleFacts) -> dict[str, str]:
        found = self._locals.get(facts.path)
        if found is None:
            found = {}
            key = self.key_of.get(facts.path, facts.module)
            for cls in facts.classes:
                if "." not in cls.qualname:
                    found[cls.qualname] = f"{key}.{cls.qualname}"
            for function in facts.functions:
                found[function.qualname] = f"{key}.{function.qualname}"
            for name, _ in facts.variables:
                found.setdefault(name, f"{key}.{name}")
            self._locals[facts.path] = found
        return found

    def resolve(self, facts: ModuleFacts, name: str, _hops: int = 0) -> str:
        """Fully qualified form of a name (or evidence string) as written in `facts`."""
        match = _HEAD.match(name)
        if match is None:
            return name
        head, rest = match.groups()
        defined = self._defined(facts).get(head)
        if defined is not None:
            return defined + rest
        target = self._imports(facts).get(head)
        if target is not None:
            return target + rest
        if _hops < _MAX_HOPS:
            for item in facts.imports:
                if item.local != "*":
                    continue
                split = self._split_module(item.target + ".x", facts.path)
                if split is not None and split[1] == "x":
                    other = split[0]
                    if head in self._defined(other) or head in self._imports(other):
                        return self.resolve(other, name, _hops + 1)
        if hasattr(builtins, head):
            return f"builtins.{head}{rest}"
        return name

    def is_module_name(self, facts: ModuleFacts, name: str) -> bool:
        """True when `name` is bound by `import x` (a module object) in `facts`."""
        self._imports(facts)
        return name in self._module_imports.get(facts.path, set())

    def variable(self, facts: ModuleFacts, name: str) -> ValueFact | None:
        return next((value for var, value in facts.variables if var == name), None)

    def _split_module(self, qualified: str, near: str) -> tuple[ModuleFacts, str] | None:
        """The module a dotted name starts with (the nearest file if names collide)."""
        parts = qualified.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            prefix = ".".join(parts[:cut])
            keys = (
                self._by_name.get(prefix)
                or ([prefix] if prefix in self.modules else [])
                or self._namespace_names.get(prefix)
            )
            if keys:
                key = (
                    keys[0]
                    if len(keys) == 1 or not near
                    else max(keys, key=lambda k: _shared(self.modules[k].path, near))
                )
                return self.modules[key], ".".join(parts[cut:])
        return None

    def class_in(self, facts: ModuleFacts, qualname: str) -> ClassRef | None:
        """A class defined in `facts` by its qualname."""
        return self.classes.get(f"{self.key_of.get(facts.path, facts.module)}.{qualname}")

    def _lookup(self, table: dict, qualified: str, near: str) -> object | None:
        """A class or function by qualified name, following re-exports in packages."""
        for _ in range(_MAX_HOPS):
            split = self._split_module(qualified, near)
            if split is None:
                return table.get(qualified)
            module, rest = split
            found = table.get(f"{self.key_of[module.path]}.{rest}")
            if found is not None:
                return found
            resolved = self.resolve(module, rest)
            if resolved == qualified or resolved.startswith("builtins."):
                return None
            qualified = resolved
            near = module.path
        return None

    def lookup_class(self, qualified: str, near: str = "") -> ClassRef | None:
        """The project class a qualified name means, following re-exports."""
        return self._lookup(self.classes, qualified, near)  # type: ignore[return-value]

    def lookup_function(self, qualified: str, near: str = "") -> FunctionRef | None:
        return self._lookup(self.functions, qualified, near)  # type: ignore[return-value]

    def class_named(self, facts: ModuleFacts, name: str, scope_class: str = "") -> ClassRef | None:
        """A class referred to by `name` in `facts` (nested classes of `scope_class` first)."""
        key = (facts.path, name, scope_class)
        if key in self._class_names:
            return self._class_names[key]
        found = self.class_in(facts, f"{scope_class}.{name}") if scope_class else None
        if found is None:
            found = self.lookup_class(self.resolve(facts, name), facts.path)
        self._class_names[key] = found
        return found

    def callee(
        self, facts: ModuleFacts, class_qualname: str, name: str
    ) -> tuple[ModuleFacts, FunctionFact, str] | None:
        """The project function or method a call names: `self.method` inside
        `class_qualname` (its own or an inherited one), else a qualified function name;
        with the module it is written in and the qualname of its class ("" for none)."""
        head, _, rest = name.partition(".")
        if head == "self":
            owner = self.class_in(facts, class_qualname) if class_qualname else None
            method = self.find_method(owner, rest) if owner is not None and rest else None
            return (method[0].module, method[1], method[0].fact.qualname) if method else None
        function = self.lookup_function(name, facts.path)
        if function is None:
            return None
        return function.module, function.fact, function.fact.qualname.rpartition(".")[0]

    def callee_named(
        self, facts: ModuleFacts, class_qualname: str, name: str
    ) -> tuple[ModuleFacts, FunctionFact, str] | None:
        """`callee` for a name as written in `facts` (`self.method`, `helper`,
        `module.helper`), resolving it first where it is not a method of `self`."""
        if name.startswith("self."):
            return self.callee(facts, class_qualname, name)
        return self.callee(facts, "", self.resolve(facts, name))

    def self_attribute_type(
        self, facts: ModuleFacts, class_qualname: str, rest: str, hops: int = 0
    ) -> str:
        """What `self.<rest>` is, resolved, from the attributes the class (or a base)
        sets (`self.ctx.Queue` -> `multiprocessing.get_context().Queue`); an attribute
        made from another attribute is followed (a proxy from `self.manager`)."""
        owner = self.class_in(facts, class_qualname)
        attr, _, tail = rest.partition(".")
        if owner is None:
            return ""
        for ref in self.mro(owner):
            for fact in ref.fact.attributes:
                if fact.name != attr:
                    continue
                text = evidence(fact.value) if fact.value is not None else ""
                if not text and fact.annotation:
                    text = f"{fact.annotation[0]}()"
                if not text:
                    continue
                own, dot, inner = text.partition(".")
                resolved = ""
                if own == "self" and dot and hops < _ATTRIBUTE_HOPS:
                    resolved = self.self_attribute_type(ref.module, class_qualname, inner, hops + 1)
                # `self._executor()` stays as written: made_by_factory follows the method
                resolved = resolved or self.resolve(ref.module, text)
                return resolved + ("." + tail if tail else "")
        return ""

    def function_named(self, facts: ModuleFacts, name: str) -> FunctionRef | None:
        return self.lookup_function(self.resolve(facts, name), facts.path)

    # ---- classes ---------------------------------------------------------------

    def bases(self, ref: ClassRef) -> list[ClassRef]:
        found = []
        for base in ref.fact.bases:
            base_ref = self.class_named(ref.module, base)
            if base_ref is not None and base_ref.qualified != ref.qualified:
                found.append(base_ref)
        return found

    def mro(self, ref: ClassRef) -> tuple[ClassRef, ...]:
        """The class and its project ancestors, nearest first, each once."""
        cached = self._mro_cache.get(ref.qualified)
        if cached is not None:
            return cached
        seen: dict[str, ClassRef] = {}
        queue = [ref]
        while queue:
            current = queue.pop(0)
            if current.qualified in seen:
                continue
            seen[current.qualified] = current
            queue.extend(self.bases(current))
        result = tuple(seen.values())
        self._mro_cache[ref.qualified] = result
        return result

    def external_bases(self, ref: ClassRef) -> Iterator[str]:
        """Qualified names of bases (of the class or its ancestors) outside the project."""
        for current in self.mro(ref):
            for base in current.fact.bases:
                if self.class_named(current.module, base) is None:
                    yield self.resolve(current.module, base)

    def method_names(self, ref: ClassRef) -> frozenset[str]:
        """The names of the methods the class body itself defines."""
        found = self._method_names.get(ref.qualified)
        if found is None:
            found = frozenset(m.qualname.rpartition(".")[2] for m in ref.fact.methods)
            self._method_names[ref.qualified] = found
        return found

    def defines_any(self, ref: ClassRef, names: frozenset[str]) -> bool:
        """Whether the class or a project base defines one of these methods."""
        return any(not names.isdisjoint(self.method_names(current)) for current in self.mro(ref))

    def find_method(self, ref: ClassRef, name: str) -> tuple[ClassRef, FunctionFact] | None:
        for current in self.mro(ref):
            method = current.fact.method(name)
            if method is not None:
                return current, method
        return None

    def all_classes(self) -> Iterator[ClassRef]:
        yield from self.classes.values()
