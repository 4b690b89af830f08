"""Which classes reach a worker, and the shortest chain that explains why.

Roots are boundary arguments, bound-method instances, annotated return types
of task functions, configured `boundary-classes` and `# pickle-audit: boundary`
markers. Edges go from a class to the types of its instance attributes and to
its base classes (a subclass instance carries its bases' attributes). One
breadth-first search per serializer gives every class its shortest chain.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

from pickle_audit.config import Config
from pickle_audit.findings import ChainStep
from pickle_audit.lint.arguments import FunctionKey, enclosing_class, passed_to
from pickle_audit.lint.boundaries import PROCESS_SUBCLASS, Boundary
from pickle_audit.lint.facts import AttributeFact, FunctionFact, ModuleFacts, ValueFact
from pickle_audit.lint.forwarding import Sink, helper_sinks
from pickle_audit.lint.index import ClassRef, ProjectIndex
from pickle_audit.lint.public_api import public_classes
from pickle_audit.lint.worker_side import WorkerSide

RelPath = Callable[[str], str]
SERIALIZER_ORDER = ("pickle", "cloudpickle", "dill")


@dataclass(frozen=True)
class BoundMethod:
    owner: ClassRef
    method: FunctionFact


class _Root(NamedTuple):
    """A class whose instances a boundary (None: the configuration) sends."""

    ref: ClassRef
    steps: tuple[ChainStep, ...]
    boundary: Boundary | None


_RETURN_DEPTH = 3  # project functions followed into for what they return

# Classes that decide themselves what is pickled.
_REDUCE = frozenset({"__reduce__", "__reduce_ex__"})


def value_names(value: ValueFact | None) -> Iterator[str]:
    """Names of classes that a value may be an instance of, as written."""
    if value is None:
        return
    if value.kind in ("call", "annotation", "local_class_instance"):
        yield from value.refs
    for item in value.items:
        yield from value_names(item)


def _travels(fact: AttributeFact) -> bool:
    """Instance attributes travel; so does what a class-level annotation declares."""
    if fact.on_instance:
        return True
    return bool(fact.annotation) and not any(
        name.rpartition(".")[2] == "ClassVar" for name in fact.annotation
    )


class Reachability:
    def __init__(
        self, index: ProjectIndex, boundaries: list[Boundary], config: Config, relpath: RelPath
    ) -> None:
        self.index = index
        self.config = config
        self.relpath = relpath
        self._edges: dict[str, list[tuple[ClassRef, ChainStep]]] = {}
        self.worker_side = WorkerSide(
            index, (task for boundary in boundaries for task in self.tasks(boundary))
        )
        roots: dict[str, list[_Root]] = {s: [] for s in SERIALIZER_ORDER}
        for boundary in boundaries:
            steps = boundary.chain(relpath)
            for ref in self.boundary_roots(boundary):
                roots.setdefault(boundary.serializer, []).append(_Root(ref, steps, boundary))
        # helper summaries: `send(Wrapper(x))` where `send` puts its parameter on a queue
        self.sinks: dict[FunctionKey, dict[str, Sink]] = helper_sinks(index, boundaries, relpath)
        for ref, boundary, steps in self.helper_roots():
            roots.setdefault(boundary.serializer, []).append(_Root(ref, steps, boundary))
        for ref, step in self.configured_roots():
            roots.setdefault(config.serializer, []).append(_Root(ref, (step,), None))
        self.chains: dict[str, dict[str, tuple[ChainStep, ...]]] = {
            serializer: self._search(found) for serializer, found in roots.items() if found
        }
        # the classes each serializer reaches without loky's descriptor reducers (see
        # refuses_descriptors), and through something other than a process start (see
        # task_chain), searched again only where some root is of that kind
        self._without_sharing = self._search_without(roots, lambda b: b.shares_descriptors)
        self._in_tasks = self._search_without(roots, lambda b: b.starts_processes)
        self._not_only_started = self._search_without(roots, lambda b: b.kind == PROCESS_SUBCLASS)

    # ---- roots -----------------------------------------------------------------

    def helper_roots(self) -> Iterator[tuple[ClassRef, Boundary, tuple[ChainStep, ...]]]:
        """Classes whose instances are handed to a project helper that sends that
        parameter to a boundary, with the chain from the call to the boundary."""
        # a helper's own name must match before the call is resolved (most do not)
        helpers = {qualname.rpartition(".")[2] for _, qualname in self.sinks}
        for facts in self.index.modules.values():
            for fact in facts.passes:
                if fact.callee.rpartition(".")[2] not in helpers:
                    continue
                target = passed_to(self.index, facts, fact)
                sink = self.sinks.get(target.function, {}).get(target.param) if target else None
                if target is None or sink is None:
                    continue
                step = ChainStep(
                    f"passed as `{target.param}` to {target.callee}()",
                    self.relpath(facts.path),
                    fact.line,
                    fact.column,
                )
                steps = (step, *sink.via, *sink.boundary.chain(self.relpath))
                class_qualname = enclosing_class(facts, fact.scope)
                for ref in self.value_classes(fact.value, facts, class_qualname):
                    yield ref, sink.boundary, steps

    def configured_roots(self) -> Iterator[tuple[ClassRef, ChainStep]]:
        """Classes the configuration, a marker or library mode declares to travel."""
        for name in self.config.boundary_classes:
            ref = self.index.lookup_class(name)
            if ref is not None:
                yield ref, self._class_step(ref, "is listed in boundary-classes")
        for ref in self.index.all_classes():
            if ref.fact.boundary_marker:
                text = "is marked '# pickle-audit: boundary'"
                yield ref, self._class_step(ref, text, ref.fact.boundary_marker)
        if self.config.library:
            for ref, package in public_classes(self.index):
                why = f"exported by {package}" if package else f"public in {ref.module.module}"
                yield ref, self._class_step(ref, f"is {why}: library users may hand it to a worker")

    def _class_step(self, ref: ClassRef, text: str, line: int = 0) -> ChainStep:
        """`Class <text>`, at the class (or at `line`, with no column)."""
        path = self.relpath(ref.module.path)
        if line:
            return ChainStep(f"{ref.name} {text}", path, line)
        return ChainStep(f"{ref.name} {text}", path, ref.fact.line, ref.fact.column)

    def bound_method(self, boundary: Boundary) -> BoundMethod | None:
        """The instance and method when the boundary's callable is a bound method."""
        value = boundary.call.callable
        if value is not None and value.kind == "partial" and value.items:
            value = value.items[0]  # partial(self.step, x) still pickles self
        if value is None or value.kind != "name" or "." not in value.name:
            return None
        owner_text, _, method = value.name.rpartition(".")
        module = boundary.module
        owner: ClassRef | None = None
        head, dot, attr = owner_text.partition(".")
        if owner_text == "self" and boundary.call.class_qualname:
            owner = self.index.class_in(module, boundary.call.class_qualname)
        elif head == "self" and dot and "." not in attr and boundary.call.class_qualname:
            # `self.core.compute`: the instance the attribute holds is what travels
            holder = self.index.class_in(module, boundary.call.class_qualname)
            owner = next(self.attribute_classes(holder, attr), None) if holder else None
        elif owner_text.endswith("()"):
            owner = self.index.class_named(module, owner_text[:-2])
        if owner is None:
            return None
        found = self.index.find_method(owner, method)
        if found is None or found[1].unbound:  # `self.helper` of a staticmethod: a function
            return None
        return BoundMethod(owner, found[1])

    def tasks(self, boundary: Boundary) -> Iterator[tuple[ClassRef, str]]:
        """The instance a boundary runs in the worker, with the method it runs there."""
        bound = self.bound_method(boundary)
        if bound is not None:
            yield bound.owner, bound.method.qualname.rpartition(".")[2]
        elif self._callable_instance(boundary):
            for ref in self.value_classes(
                boundary.call.callable, boundary.module, boundary.call.class_qualname
            ):
                yield ref, "__call__"

    @staticmethod
    def _callable_instance(boundary: Boundary) -> bool:
        """`pool.map(Job(...), xs)`, `pool.apply(self, ...)`: an instance as the task."""
        target = boundary.call.callable
        return target is not None and (
            target.kind in ("call", "annotation")
            or (target.kind == "name" and target.name == "self")
        )

    def boundary_roots(self, boundary: Boundary) -> Iterator[ClassRef]:
        bound = self.bound_method(boundary)
        if bound is not None:
            yield bound.owner
        call = boundary.call
        target = call.callable
        if target is not None and target.kind == "name":
            function = self.index.function_named(boundary.module, target.name)
            returns = function.fact.returns if function else ()
            if bound is not None:
                returns = bound.method.returns
                module = bound.owner.module
            else:
                module = boundary.module
            for name in returns:
                ref = self.index.class_named(module, name)
                if ref is not None:
                    yield ref
        module, scope_class = boundary.module, call.class_qualname
        if bound is None and self._callable_instance(boundary):
            yield from self.value_classes(target, module, scope_class)
        if target is not None and target.kind == "partial":  # `partial(work, self)`
            for argument in target.items[1:]:
                yield from self.value_classes(argument, module, scope_class)
        for value in boundary.payload:
            yield from self.value_classes(value, module, scope_class)

    def value_classes(
        self, value: ValueFact, module: ModuleFacts, scope_class: str, depth: int = 0
    ) -> Iterator[ClassRef]:
        """The project classes a value's instances belong to, as written in `module`
        inside `scope_class` (where `self` means an instance of it); a call of a project
        function or method counts as what it returns (`job = make_job(n)`). `depth`
        bounds the attributes and functions followed (they may refer to each other)."""
        if depth > _RETURN_DEPTH:
            return
        if value.kind == "container":
            for item in value.items:
                yield from self.value_classes(item, module, scope_class, depth)
            return
        if value.kind == "name":
            head, _, attr = value.name.partition(".")
            owner = self.index.class_in(module, scope_class) if scope_class else None
            if head == "self" and owner is not None:
                if not attr:
                    yield owner
                else:
                    yield from self.attribute_classes(owner, attr.partition(".")[0], depth + 1)
                return
            variable = self.index.variable(module, value.name)
            if variable is not None:
                value = variable
        for name in value_names(value):
            ref = self.index.class_named(module, name, scope_class)
            if ref is not None:
                yield ref
            elif value.kind == "call":
                yield from self.returned_classes(module, scope_class, name, depth)

    def returned_classes(
        self, module: ModuleFacts, scope_class: str, name: str, depth: int = 0
    ) -> Iterator[ClassRef]:
        """The project classes a call of the project function or method `name` returns:
        its return annotation, and what its `return` statements give, a few helpers deep."""
        if depth >= _RETURN_DEPTH:
            return
        found = self.index.callee_named(module, scope_class, name)
        if found is None:
            return
        facts, function, owner = found
        for returned in function.returns:
            ref = self.index.class_named(facts, returned)
            if ref is not None:
                yield ref
        for value in function.returned:
            yield from self.value_classes(value, facts, owner, depth + 1)

    def attribute_classes(self, owner: ClassRef, attr: str, depth: int = 0) -> Iterator[ClassRef]:
        for ref in self.index.mro(owner):
            for fact in ref.fact.attributes:
                if fact.name == attr:
                    yield from self.attribute_types(ref, fact, depth)

    def attribute_types(
        self, ref: ClassRef, fact: AttributeFact, depth: int = 0
    ) -> Iterator[ClassRef]:
        for name in fact.annotation:
            found = self.index.class_named(ref.module, name, ref.fact.qualname)
            if found is not None:
                yield found
        if fact.value is not None:
            yield from self.value_classes(fact.value, ref.module, ref.fact.qualname, depth)

    # ---- edges -----------------------------------------------------------------

    def left_out_of_state(self, ref: ClassRef) -> frozenset[str] | None:
        """Attributes that are not pickled with an instance: none by default; the ones a
        copy-and-drop `__getstate__` removes; None (every one) for other custom state."""
        mro = self.index.mro(ref)
        if self.index.defines_any(ref, _REDUCE):
            return None
        for current in mro:
            if "__getstate__" in self.index.method_names(current):
                dropped = current.fact.getstate_drops
                return None if dropped is None else frozenset(dropped)
        return frozenset()

    def edges(self, ref: ClassRef) -> list[tuple[ClassRef, ChainStep]]:
        """What an instance carries: the classes of the attributes in its pickled state,
        and its bases."""
        cached = self._edges.get(ref.qualified)
        if cached is not None:
            return cached
        found: list[tuple[ClassRef, ChainStep]] = []
        path = self.relpath(ref.module.path)
        left_out = self.left_out_of_state(ref)
        for fact in ref.fact.attributes:
            if not _travels(fact) or self.worker_side.assigned_in_worker(ref, fact):
                continue
            if left_out is None or fact.name in left_out:
                continue
            for child in self.attribute_types(ref, fact):
                text = f"{child.name} reaches a worker via {ref.name}.{fact.name}"
                found.append((child, ChainStep(text, path, fact.line, fact.column)))
        for base in self.index.bases(ref):
            text = f"{base.name} travels as a base class of {ref.name}"
            found.append((base, ChainStep(text, path, ref.fact.line, ref.fact.column)))
        self._edges[ref.qualified] = found
        return found

    def _search_without(
        self, roots: dict[str, list[_Root]], leave_out: Callable[[Boundary], bool]
    ) -> dict[str, dict[str, tuple[ChainStep, ...]]]:
        """Per serializer, the chains found when the roots at `leave_out` boundaries are
        left out; only for serializers that have such a root (the others: `self.chains`)."""
        return {
            serializer: self._search(
                [root for root in found if root.boundary is None or not leave_out(root.boundary)]
            )
            for serializer, found in roots.items()
            if any(root.boundary is not None and leave_out(root.boundary) for root in found)
        }

    def _search(self, roots: list[_Root]) -> dict[str, tuple[ChainStep, ...]]:
        chains: dict[str, tuple[ChainStep, ...]] = {}
        queue: deque[ClassRef] = deque()
        for ref, steps, _ in roots:
            if ref.qualified not in chains:
                chains[ref.qualified] = steps
                queue.append(ref)
        while queue:
            ref = queue.popleft()
            chain = chains[ref.qualified]
            for child, step in self.edges(ref):
                if child.qualified not in chains:
                    chains[child.qualified] = (step, *chain)
                    queue.append(child)
        return chains

    def reached(self, ref: ClassRef) -> dict[str, tuple[ChainStep, ...]]:
        """serializer -> chain, for every serializer whose boundary this class reaches."""
        found = {
            serializer: chains[ref.qualified]
            for serializer, chains in self.chains.items()
            if ref.qualified in chains
        }
        if not found and self.config.all_classes:
            found[self.config.serializer] = ()
        return found

    def refuses_descriptors(self, ref: ClassRef, serializer: str) -> bool:
        """Whether the class reaches a `serializer` boundary that cannot send a socket as
        a descriptor (Dask, Ray), not only loky executors, which can."""
        without = self._without_sharing.get(serializer)
        return without is None or ref.qualified in without

    def reached_by_more_than_subclass_starts(self, ref: ClassRef, serializer: str) -> bool:
        """Whether the class reaches a `serializer` boundary other than the start of a
        Process subclass, which is known to pickle *some* instance, not a given one."""
        chains = self._not_only_started.get(serializer, self.chains.get(serializer, {}))
        return ref.qualified in chains

    def task_chain(self, ref: ClassRef, serializer: str) -> tuple[ChainStep, ...] | None:
        """The chain by which the class reaches a `serializer` boundary other than a
        process start (Process args, initargs), or None when process starts are its
        only way: there multiprocessing shares its queues and locks by inheritance."""
        chains = self._in_tasks.get(serializer, self.chains.get(serializer, {}))
        found = chains.get(ref.qualified)
        if found is None and self.config.all_classes and not self.reached(ref):
            return ()
        return found

    def reachable_from(self, ref: ClassRef) -> Iterator[ClassRef]:
        """The class and every class its instances carry."""
        seen = {ref.qualified}
        queue = deque([ref])
        while queue:
            current = queue.popleft()
            yield current
            for child, _ in self.edges(current):
                if child.qualified not in seen:
                    seen.add(child.qualified)
                    queue.append(child)
