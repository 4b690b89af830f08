"""The rules: turn facts, boundaries and reachability into findings.

PA1 and PA302 judge classes that reach a worker, under the serializer of the
boundary they reach; PA2 judges the boundary calls themselves; PA301 judges
every exception class. Messages name the culprit; fixes come from the catalogue.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from pickle_audit.catalog import Severity
from pickle_audit.findings import ChainStep, Finding
from pickle_audit.lint.arguments import passed_to
from pickle_audit.lint.boundaries import PROCESS_SUBCLASS, Boundary
from pickle_audit.lint.exception_init import ExceptionInitRule
from pickle_audit.lint.facts import ArgumentPassFact, ModuleFacts, ValueFact
from pickle_audit.lint.forwarding import Sink, StoredBy, stored_by_init
from pickle_audit.lint.index import ClassRef, ProjectIndex
from pickle_audit.lint.locations import Location, make_finding
from pickle_audit.lint.reach import SERIALIZER_ORDER, Reachability
from pickle_audit.lint.values import (
    INHERITED_ONLY,
    ValueContext,
    ValueProblem,
    judge,
    judge_all,
)

# Classes that restore themselves without looking up __setstate__ on the instance.
_CUSTOM_RESTORE = frozenset({"__setstate__", "__reduce__", "__reduce_ex__"})


def _carried_by(boundary: Boundary, problem: ValueProblem) -> bool:
    """What this boundary carries although its serializer's profile refuses it: views
    sent by a Manager, sockets sent by loky as descriptors, and multiprocessing's
    queues and locks handed to a process it starts (the documented way to share them)."""
    return (
        (problem.rule == "PA102" and boundary.carries_dict_views)
        or (problem.by_descriptor and boundary.shares_descriptors)
        or (problem.rule == INHERITED_ONLY and boundary.starts_processes)
    )


def _suffix(serializer: str) -> str:
    return "" if serializer == "pickle" else f" by {serializer}"


SPAWN_ONLY = (
    " when the process starts under spawn or forkserver (the default on macOS and Windows,"
    " and on Linux from Python 3.14; fork inherits it instead)"
)


def _start_method_note(boundary: Boundary) -> str:
    """What multiprocessing hands to a process it starts is pickled only under spawn and
    forkserver; the finding says so, since on Linux before 3.14 the code may run."""
    if not boundary.starts_processes:
        return ""
    if boundary.start_method == "portable":
        return SPAWN_ONLY
    return f" when the process starts (start method {boundary.start_method!r})"


class RuleRunner:
    def __init__(
        self,
        index: ProjectIndex,
        boundaries: list[Boundary],
        reach: Reachability,
        relpath: Callable[[str], str],
    ) -> None:
        self.index = index
        self.boundaries = boundaries
        self.reach = reach
        self.relpath = relpath
        self._unsafe: dict[tuple[str, str, bool], str | None] = {}
        self.exception_rule = ExceptionInitRule(index, relpath)

    # ---- classes ---------------------------------------------------------------

    def class_findings(self, ref: ClassRef) -> Iterator[Finding]:
        reached = self.reach.reached(ref)
        if reached:
            yield from self.state_findings(ref, reached)
        yield from self.exception_rule.findings(ref)

    def _serializers(self, reached: dict[str, tuple[ChainStep, ...]]) -> list[str]:
        return [s for s in SERIALIZER_ORDER if s in reached] + [
            s for s in reached if s not in SERIALIZER_ORDER
        ]

    def state_findings(
        self, ref: ClassRef, reached: dict[str, tuple[ChainStep, ...]]
    ) -> Iterator[Finding]:
        path = self.relpath(ref.module.path)
        ctx = ValueContext(self.index, ref.module, ref.fact.qualname)
        serializers = self._serializers(reached)
        left_out = self.reach.left_out_of_state(ref)
        worker_side = self.reach.worker_side
        for fact in ref.fact.attributes:
            if not fact.on_instance or fact.value is None:
                continue
            if left_out is None or fact.name in left_out:
                continue
            if worker_side.assigned_in_worker(ref, fact):
                continue
            for serializer in serializers:
                problem = judge(fact.value, serializer, ctx)
                if problem is None:
                    continue
                if problem.by_descriptor and not self.reach.refuses_descriptors(ref, serializer):
                    continue
                chain: tuple[ChainStep, ...] | None = reached[serializer]
                if problem.rule == INHERITED_ONLY:
                    # fine on an instance a process start hands over; wrong in a task
                    chain = self.reach.task_chain(ref, serializer)
                    if chain is None:
                        continue
                where = Location(
                    path, fact.line, fact.column, f"{ref.name}.{fact.name}", fact.snippet
                )
                message = (
                    f"{problem.what} stored on {ref.name}.{fact.name} cannot be pickled"
                    f"{_suffix(serializer)}"
                )
                yield make_finding(problem.rule, where, message, chain)
                break
        first = serializers[0]
        cached = () if left_out is None else ref.fact.cached_properties
        for fact in (fact for fact in cached if fact.name not in left_out):
            where = Location(path, fact.line, fact.column, f"{ref.name}.{fact.name}", fact.snippet)
            message = (
                f"cached_property {ref.name}.{fact.name} travels with the instance:"
                " its cached value is pickled too"
            )
            yield make_finding("PA107", where, message, reached[first])
        getattr_fact = ref.fact.getattr
        if (
            getattr_fact is not None
            and (getattr_fact.reads_self or getattr_fact.subscripts_name)
            and not getattr_fact.guarded
            and not self.index.defines_any(ref, _CUSTOM_RESTORE)
        ):
            where = Location(
                path,
                getattr_fact.line,
                getattr_fact.column,
                f"{ref.name}.__getattr__",
                getattr_fact.snippet,
            )
            if getattr_fact.reads_self:
                message = (
                    f"{ref.name}.__getattr__ reads instance state without first raising"
                    " AttributeError for dunder/private names: unpickling recurses forever"
                )
            else:
                message = (
                    f"{ref.name}.__getattr__ looks the name up in a mapping and lets its"
                    " KeyError out: pickling asks it for __getstate__ (Python 3.10) and"
                    " unpickling asks the empty instance for __setstate__; each gets KeyError"
                    " instead of AttributeError, and fails"
                )
            yield make_finding("PA302", where, message, reached[first])

    def unsafe_state(
        self, ref: ClassRef, serializer: str, *, inherited: bool = False
    ) -> str | None:
        """A description of the first unpicklable attribute an instance carries, or None.

        `inherited`: the instance goes to a process multiprocessing starts, where its
        queues and locks are shared, not refused.
        """
        key = (ref.qualified, serializer, inherited)
        if key in self._unsafe:
            return self._unsafe[key]
        self._unsafe[key] = None
        for current in self.reach.reachable_from(ref):
            ctx = ValueContext(self.index, current.module, current.fact.qualname)
            left_out = self.reach.left_out_of_state(current)
            if left_out is None:
                continue
            for fact in current.fact.attributes:
                if (
                    fact.on_instance
                    and fact.name not in left_out
                    and not self.reach.worker_side.assigned_in_worker(current, fact)
                ):
                    problem = judge(fact.value, serializer, ctx)
                    if problem is not None and not (inherited and problem.rule == INHERITED_ONLY):
                        self._unsafe[key] = f"{problem.what} on {current.name}.{fact.name}"
                        return self._unsafe[key]
        return None

    # ---- boundaries ------------------------------------------------------------

    def boundary_findings(self, boundary: Boundary) -> Iterator[Finding]:
        call = boundary.call
        module = boundary.module
        serializer = boundary.serializer
        path = self.relpath(module.path)
        where = Location(path, call.line, call.column, call.scope or "<module>", call.snippet)
        chain = boundary.chain(self.relpath)
        ctx = ValueContext(self.index, module, call.class_qualname)
        yield from self.callable_findings(boundary, where, chain, ctx)
        for value in boundary.payload:
            candidates = value.items if boundary.iterates_arguments else (value,)
            if boundary.iterates_arguments and value.kind != "container":
                candidates = ()
            for candidate in candidates:
                for problem in judge_all(candidate, serializer, ctx):
                    if _carried_by(boundary, problem):
                        continue
                    if problem.rule == INHERITED_ONLY:
                        message = (
                            f"{problem.what} passed to {call.text} cannot travel in a task:"
                            " multiprocessing shares it only with processes it starts"
                        )
                    else:
                        message = f"{problem.what} passed to {call.text} cannot be pickled"
                        message += _suffix(serializer) + _start_method_note(boundary)
                    yield make_finding(problem.rule, where, message, chain)

    def callable_findings(
        self, boundary: Boundary, where: Location, chain: tuple[ChainStep, ...], ctx: ValueContext
    ) -> Iterator[Finding]:
        call = boundary.call
        value = call.callable
        if value is None:
            return
        serializer = boundary.serializer
        bound = self.reach.bound_method(boundary)
        if boundary.kind == PROCESS_SUBCLASS:
            return  # what the instance cannot carry is flagged on its attributes
        if bound is not None:
            owner = bound.owner
            unsafe = self.unsafe_state(owner, serializer, inherited=boundary.starts_processes)
            # `self.step` as written; `Job().step` (a local instance) as `Job.step`
            method_name = bound.method.qualname.rpartition(".")[2]
            shown = value.name if value.name.startswith("self.") else f"{owner.name}.{method_name}"
            if boundary.runs_once_per_worker and unsafe is None:
                return  # one pickling, when the process starts: the usual way to start one
            message = (
                f"bound method {shown} handed to {call.text} pickles the whole"
                f" {owner.name} instance with every task"
                if not boundary.runs_once_per_worker
                else f"bound method {shown} handed to {call.text} pickles the whole"
                f" {owner.name} instance when the process starts (spawn, forkserver)"
            )
            severity: Severity = "warning"
            if unsafe is not None:
                message += f", and it cannot be pickled{_suffix(serializer)}: {unsafe}"
                severity = "error"
            yield make_finding("PA202", where, message, chain, severity)
            return
        problem = self.callable_problem(value, serializer, ctx)
        if problem is not None:
            message = f"{problem.what} handed to {call.text}"
            if problem.rule == "PA201":
                message += f" cannot be pickled{_suffix(serializer)}{_start_method_note(boundary)}"
            else:
                message += " cannot be imported by spawn/forkserver workers"
            yield make_finding(problem.rule, where, message, chain)

    # ---- values passed to helpers that send them on -----------------------------

    def forwarded_findings(self, module: ModuleFacts) -> Iterator[Finding]:
        """A bad value handed to a project helper whose parameter reaches a boundary."""
        if not module.passes:
            return
        path = self.relpath(module.path)
        for fact in module.passes:
            if not fact.snippet:
                continue  # a parameter passed on, or an instance (reach.py follows those)
            target = passed_to(self.index, module, fact)
            if target is None and fact.snippet:
                stored = stored_by_init(self.index, module, fact)
                if stored is not None:
                    yield from self.stored_findings(module, fact, stored)
                continue
            sink = self.reach.sinks.get(target.function, {}).get(target.param) if target else None
            if target is None or sink is None:
                continue
            boundary = sink.boundary
            where = Location(path, fact.line, fact.column, fact.scope or "<module>", fact.snippet)
            chain = (
                ChainStep(f"passed as `{target.param}` to {target.callee}()", path, fact.line),
                *sink.via,
                *boundary.chain(self.relpath),
            )
            ctx = ValueContext(self.index, module, "")
            for problem in self._sent_problems(fact.value, sink, ctx):
                reaches = (
                    f"passed as `{target.param}` to {target.callee}() reaches {boundary.call.text}"
                )
                if problem.rule == "PA203":
                    message = f"{problem.what} {reaches}: spawn/forkserver workers cannot import it"
                else:
                    message = (
                        f"{problem.what} {reaches} and cannot be pickled"
                        f"{_suffix(boundary.serializer)}{_start_method_note(boundary)}"
                    )
                yield make_finding(problem.rule, where, message, chain)

    def stored_findings(
        self, module: ModuleFacts, fact: ArgumentPassFact, stored: StoredBy
    ) -> Iterator[Finding]:
        """`Squares(lambda v: v * v)` where `__init__` keeps it as `self.transform`: the
        value travels with every instance that reaches a worker, so it is flagged at
        the call that hands it over (the attribute line itself shows only a parameter)."""
        reached = self.reach.reached(stored.cls)
        ctx = ValueContext(self.index, module, "")
        for serializer in SERIALIZER_ORDER:
            if serializer not in reached:
                continue
            if not self.reach.reached_by_more_than_subclass_starts(stored.cls, serializer):
                continue  # the instance built here may never be started
            problems = [
                problem
                for problem in judge_all(fact.value, serializer, ctx)
                if problem.rule != INHERITED_ONLY  # fine where a process is started
            ]
            if not problems:
                continue
            step = self._stored_step(stored)
            path = self.relpath(module.path)
            where = Location(path, fact.line, fact.column, fact.scope or "<module>", fact.snippet)
            for problem in problems:
                message = (
                    f"{problem.what} passed as `{stored.param}` to {fact.callee}() is stored"
                    f" on {stored.cls.name}.{stored.attribute} and cannot be pickled"
                    f"{_suffix(serializer)}"
                )
                yield make_finding(problem.rule, where, message, (step, *reached[serializer]))
            return

    def _stored_step(self, stored: StoredBy) -> ChainStep:
        owner = stored.init_owner
        if stored.field_of is not None:
            return ChainStep(
                f"{stored.cls.name}.{stored.attribute} is a field the generated __init__ sets",
                self.relpath(stored.field_of.module.path),
                stored.field_line,
            )
        init = owner.fact.init
        return ChainStep(
            f"{owner.name}.{stored.attribute} is set from `{stored.param}` in __init__",
            self.relpath(owner.module.path),
            init.line if init is not None else owner.fact.line,
        )

    def _sent_problems(self, value: ValueFact, sink: Sink, ctx: ValueContext) -> list[ValueProblem]:
        serializer = sink.boundary.serializer
        if sink.role == "callable":
            problem = self.callable_problem(value, serializer, ctx)
            return [problem] if problem is not None else []
        return [
            problem
            for problem in judge_all(value, serializer, ctx)
            if not _carried_by(sink.boundary, problem)
        ]

    def callable_problem(
        self, value: ValueFact, serializer: str, ctx: ValueContext
    ) -> ValueProblem | None:
        if value.kind == "partial":
            inner = value.items[0] if value.items else None
            return self.callable_problem(inner, serializer, ctx) if inner else None
        if serializer != "pickle":
            return None
        labels = {
            "lambda": "lambda",
            "nested_function": f"nested function {value.name}",
            "partial_closure": "functools.partial over a lambda or nested function",
            "local_class": f"local class {value.name}",
            "local_class_method": f"method {value.name} of a local class instance",
        }
        if value.kind in labels:
            return ValueProblem("PA201", labels[value.kind])
        if value.kind == "name":
            defined = self._main_guard_definition(ctx.module, value.name)
            if defined:
                return ValueProblem(
                    "PA203", f"{defined} {value.name}, defined under the __main__ guard,"
                )
            decorator = self._replacing_decorator(ctx.module, value.name)
            if decorator:
                return ValueProblem(
                    "PA201",
                    f"function {value.name}, replaced by the nested function that @{decorator}"
                    " returns without functools.wraps,",
                )
        return None

    def _replacing_decorator(self, module: ModuleFacts, name: str) -> str:
        """The project decorator (`@timed`, or a factory's `@retry(...)`) that swaps the
        function for a nested one pickle cannot look up (`timer.<locals>.wrapper`),
        as written, else ""."""
        function = self.index.function_named(module, name)
        if function is None:
            return ""
        for decorator in function.fact.decorators:
            factory = decorator.removesuffix("(...)")
            found = self.index.function_named(function.module, factory)
            if found is None:
                continue
            if factory == decorator and found.fact.returns_local_function:
                return decorator
            if factory != decorator and found.fact.returns_replacing_decorator:
                return decorator
        return ""

    def _main_guard_definition(self, module: ModuleFacts, name: str) -> str:
        resolved = self.index.resolve(module, name)
        function = self.index.lookup_function(resolved, module.path)
        if function is not None and function.fact.under_main_guard:
            return "function"
        head = name.partition(".")[0]
        ref = self.index.class_named(module, head)
        if ref is not None and ref.fact.under_main_guard:
            return "class"
        return ""
