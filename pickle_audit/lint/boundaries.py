"""Which recorded calls really hand values to another process, and with which serializer.

A call is a boundary only when its receiver is *known* to be a process pool,
process, queue, Dask client or joblib/loky executor: thread pools never are,
and an unresolvable receiver is not one (no guessing, no false alarms).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace

from pickle_audit.findings import ChainStep
from pickle_audit.lint.arguments import passed_to
from pickle_audit.lint.facts import (
    ArgumentPassFact,
    BoundaryCallFact,
    FunctionFact,
    ModuleFacts,
    ValueFact,
    evidence,
)
from pickle_audit.lint.index import ClassRef, ProjectIndex

PICKLE = "pickle"
CLOUDPICKLE = "cloudpickle"
DILL = "dill"

_EXECUTOR = frozenset({"submit", "map", "call"})
_POOL = frozenset(
    {
        "apply",
        "apply_async",
        "map",
        "map_async",
        "imap",
        "imap_unordered",
        "starmap",
        "starmap_async",
        "call",
    }
)
_PATHOS = frozenset({"map", "imap", "uimap", "amap", "pipe", "apipe", "call"})
_PROCESS = frozenset({"call"})
_QUEUE = frozenset({"put", "put_nowait"})
_PIPE = frozenset({"send"})
_DASK = frozenset({"submit", "map", "scatter"})
_DELAYED = frozenset({"delayed"})
_RAY = frozenset({"remote"})
# What a Manager proxy pickles and sends to the manager's process.
_PROXY = frozenset({"__setitem__", "append", "extend", "insert", "update", "setdefault"})
_RAY_REMOTE = frozenset({"ray.remote", "ray.remote()"})
_CALLBACK_METHODS = frozenset({"apply_async", "map_async", "starmap_async"})
_PARENT_SIDE = frozenset({"callback", "error_callback"})
# What a DataLoader's worker processes get: the dataset and the two functions they call
# (the sampler, batch size and the rest stay in the parent).
_LOADER_PAYLOAD = frozenset({"dataset", "collate_fn", "worker_init_fn"})
PROCESS_SUBCLASS = "process subclass"
_STARTS_PROCESSES = frozenset({"process", "process pool", "data loader", PROCESS_SUBCLASS})
_ITERATING = frozenset(
    {"map", "map_async", "imap", "imap_unordered", "starmap", "starmap_async", "uimap", "amap"}
)


def _variants(prefixes: tuple[str, ...], names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"{p}.{n}()" for p in prefixes for n in names)


_MP = ("multiprocessing", "multiprocessing.get_context()", "multiprocessing.context")
_MPD = ("multiprocess", "multiprocess.get_context()", "multiprocess.context")

# Receiver evidence (resolved) -> (kind, serializer, methods that cross).
_RECEIVERS: dict[str, tuple[str, str, frozenset[str]]] = {}
for _name in (
    "concurrent.futures.ProcessPoolExecutor()",
    "concurrent.futures.process.ProcessPoolExecutor()",
):
    _RECEIVERS[_name] = ("process pool", PICKLE, _EXECUTOR)
# Executors and pools also pickle their initializer and initargs at construction.
for _name in _variants((*_MP, "multiprocessing.pool"), ("Pool",)):
    _RECEIVERS[_name] = ("process pool", PICKLE, _POOL)
for _name in _variants(_MP, ("Process",)):
    _RECEIVERS[_name] = ("process", PICKLE, _PROCESS)
for _name in _variants((*_MP, "multiprocessing.queues"), ("Queue", "SimpleQueue", "JoinableQueue")):
    _RECEIVERS[_name] = ("process queue", PICKLE, _QUEUE)
for _prefix, _serializer in (("multiprocessing", PICKLE), ("multiprocess", DILL)):
    for _name in (f"{_prefix}.Pipe()[]", f"{_prefix}.get_context().Pipe()[]"):
        _RECEIVERS[_name] = ("process pipe", _serializer, _PIPE)
for _name in _variants((*_MPD, "multiprocess.pool"), ("Pool",)):
    _RECEIVERS[_name] = ("process pool", DILL, _POOL)
for _name in _variants(_MPD, ("Process",)):
    _RECEIVERS[_name] = ("process", DILL, _PROCESS)
for _name in _variants(_MPD, ("Queue", "SimpleQueue", "JoinableQueue")):
    _RECEIVERS[_name] = ("process queue", DILL, _QUEUE)
for _name in _variants(
    ("pathos.multiprocessing", "pathos.pools", "pathos.pools._ProcessPool"),
    ("ProcessingPool", "ProcessPool", "Pool"),
):
    _RECEIVERS[_name] = ("process pool", DILL, _PATHOS | _POOL)
for _name in _variants(
    ("distributed", "dask.distributed", "distributed.client"), ("Client", "get_client")
):
    _RECEIVERS[_name] = ("Dask client", CLOUDPICKLE, _DASK)
for _name in _variants(
    ("loky", "joblib.externals.loky", "loky.reusable_executor", "loky.process_executor"),
    ("get_reusable_executor", "ProcessPoolExecutor"),
):
    _RECEIVERS[_name] = ("loky executor", CLOUDPICKLE, _EXECUTOR)
for _name in _variants(("torch.utils.data", "torch.utils.data.dataloader"), ("DataLoader",)):
    _RECEIVERS[_name] = ("data loader", PICKLE, _PROCESS)
for _name in _variants(
    (
        "multiprocessing.Manager()",
        "multiprocessing.get_context().Manager()",
        "multiprocessing.managers.SyncManager()",
    ),
    ("dict", "list", "Queue", "JoinableQueue"),
):
    _RECEIVERS[_name] = ("manager proxy", PICKLE, _PROXY | _QUEUE)
_RECEIVERS["ray"] = ("Ray object store", CLOUDPICKLE, frozenset({"put"}))
_RECEIVERS["ray.remote()"] = ("Ray task", CLOUDPICKLE, _RAY)  # `ray.remote(f).remote(x)`
for _name in ("joblib.delayed", "dask.delayed", "dask.delayed.delayed"):
    _RECEIVERS[_name] = ("joblib/dask delayed", CLOUDPICKLE, _DELAYED)
del _name, _prefix, _serializer

ITERATING_METHODS = _ITERATING
PROXY_METHODS = _PROXY - _QUEUE
# What the extractor records: calls of these methods on any receiver may be boundaries.
VALUE_METHODS = _QUEUE | _PIPE | _RAY | {"scatter"}
CALLABLE_FIRST_METHODS = (
    frozenset().union(*(methods for _, _, methods in _RECEIVERS.values()))
    - VALUE_METHODS
    - PROXY_METHODS
    - {"call", "delayed"}
)


@dataclass(frozen=True)
class FactoryHop:
    """A project function or method that returned the pool a boundary calls."""

    text: str  # "the process pool is returned by make_pool()"
    path: str
    line: int
    column: int


@dataclass(frozen=True)
class Boundary:
    """A call that pickles its arguments for another process."""

    call: BoundaryCallFact
    module: ModuleFacts
    kind: str  # "process pool", "process", "process queue", "Dask client", ...
    serializer: str
    start_method: str = "portable"  # the call's own, else the project's, else configured
    factory: tuple[FactoryHop, ...] = ()  # the factories the receiver came from, outermost first

    def chain(self, relpath: Callable[[str], str]) -> tuple[ChainStep, ...]:
        """The last hops of every chain that ends here: the call, then its pool's makers."""
        call = self.call
        return (
            ChainStep(f"<- {call.text}", relpath(self.module.path), call.line, call.column),
            *(ChainStep(hop.text, relpath(hop.path), hop.line, hop.column) for hop in self.factory),
        )

    @property
    def iterates_arguments(self) -> bool:
        """map-like calls send the *items* of their arguments, not the iterables."""
        return self.call.method in _ITERATING

    @property
    def runs_once_per_worker(self) -> bool:
        """A `Process` target or an executor's initializer: pickled when a worker
        starts (under spawn and forkserver), never once per task."""
        return self.call.method == "call"

    @property
    def payload(self) -> tuple[ValueFact, ...]:
        """The argument values that travel; a pool's `callback` and `error_callback`
        run in the parent and do not, nor does what a DataLoader keeps to itself."""
        if self.kind == "data loader":
            return (
                *self.call.args[:1],
                *(value for name, value in self.call.keywords if name in _LOADER_PAYLOAD),
            )
        parent_side = _PARENT_SIDE if self.call.method in _CALLBACK_METHODS else ()
        return (
            *self.call.args,
            *(value for name, value in self.call.keywords if name not in parent_side),
        )

    @property
    def carries_dict_views(self) -> bool:
        """A Manager proxy sends with multiprocessing's own pickler, and importing
        `multiprocessing.managers` (which a Manager does) registers a reducer that
        sends every dict view as a list."""
        return self.kind == "manager proxy"

    @property
    def shares_descriptors(self) -> bool:
        """loky pickles with cloudpickle plus multiprocessing's reducers, which send a
        socket as a duplicated file descriptor; so does joblib, whose default backend is
        loky (Dask and Ray have no such reducer)."""
        if self.kind == "joblib/dask delayed":
            return self.call.receiver.startswith("joblib.")
        return self.kind == "loky executor"

    @property
    def starts_processes(self) -> bool:
        """`Process(target, args)`, a pool's `initializer`/`initargs` or a DataLoader's
        dataset: what multiprocessing hands to a process it starts, where its queues and
        locks may go (inheritance), and what fork passes on without pickling."""
        return self.call.method == "call" and self.kind in _STARTS_PROCESSES


def receiver_type(index: ProjectIndex, facts: ModuleFacts, call: BoundaryCallFact) -> str:
    """Fully qualified evidence string for what the call's receiver is."""
    receiver = call.receiver
    head, dot, rest = receiver.partition(".")
    if head == "self" and dot and call.class_qualname:
        return index.self_attribute_type(facts, call.class_qualname, rest)
    if not dot and not receiver.endswith(")") and not _is_parameter(facts, call, receiver):
        variable = index.variable(facts, receiver)
        if variable is not None and evidence(variable):
            return index.resolve(facts, evidence(variable))
    return index.resolve(facts, receiver)


def _is_parameter(facts: ModuleFacts, call: BoundaryCallFact, name: str) -> bool:
    """A parameter of the function the call is in: it shadows a module-level variable
    of the same name (what it holds comes from the callers, see passed_receivers)."""
    if not call.scope:
        return False
    functions = [*facts.functions, *(m for cls in facts.classes for m in cls.methods)]
    return any(f.qualname == call.scope and name in f.params for f in functions)


# (module path, function qualname, parameter) -> the receiver the project passes there
# (resolved, as in _RECEIVERS), and the calls that pass it, nearest first
PassedReceivers = Mapping[tuple[str, str, str], tuple[str, tuple[FactoryHop, ...]]]


def classify_boundary(
    index: ProjectIndex,
    facts: ModuleFacts,
    call: BoundaryCallFact,
    passed: PassedReceivers | None = None,
) -> Boundary | None:
    """The boundary this call is, or None when it is not (provably) a process boundary."""
    resolved = receiver_type(index, facts, call)
    known = _RECEIVERS.get(resolved)
    if known is None and call.method in _RAY:
        known = ray_remote(index, facts, resolved)
    makers: tuple[tuple[str, ModuleFacts, FunctionFact], ...] = ()
    hops: tuple[FactoryHop, ...] = ()
    if known is None:
        made, makers = made_by_factory(index, facts, call.class_qualname, resolved)
        known = _RECEIVERS.get(made)
    if known is None and passed and "." not in call.receiver:
        # `def run_all(pool, jobs): pool.map(...)`, called with a pool somewhere
        made, hops = passed.get((facts.path, call.scope, call.receiver), ("", ()))
        known = _RECEIVERS.get(made)
    if known is None:
        return None
    kind, serializer, methods = known
    if call.method not in methods:
        return None
    factory = hops or tuple(
        FactoryHop(f"the {kind} is returned by {name}()", module.path, fact.line, fact.column)
        for name, module, fact in makers
    )
    return Boundary(call=call, module=facts, kind=kind, serializer=serializer, factory=factory)


def passed_receivers(index: ProjectIndex) -> PassedReceivers:
    """The parameters of project functions that some call hands a pool, executor or
    queue (made at the call, or returned by a project factory), followed through
    helpers that pass the parameter on, so the helper's calls on it are boundaries.
    Flow-insensitive: one call that passes a process pool is enough."""
    found: dict[tuple[str, str, str], tuple[str, tuple[FactoryHop, ...]]] = dict(
        _process_arguments(index)
    )
    forwarding: list[tuple[ModuleFacts, ArgumentPassFact]] = []
    for facts in index.modules.values():
        for fact in facts.passes:
            if fact.forwards:
                forwarding.append((facts, fact))
            elif fact.value.kind == "call":
                _record(found, index, facts, fact, _made_receiver(index, facts, fact.value), ())
    for _ in range(_FACTORY_HOPS):  # helpers that pass the parameter on
        grown = False
        for facts, fact in forwarding:
            upstream = found.get((facts.path, fact.scope, fact.forwards))
            if upstream is not None:
                grown = _record(found, index, facts, fact, *upstream) or grown
        if not grown:
            break
    return found


def _record(
    found: dict[tuple[str, str, str], tuple[str, tuple[FactoryHop, ...]]],
    index: ProjectIndex,
    facts: ModuleFacts,
    fact: ArgumentPassFact,
    made: str,
    earlier: tuple[FactoryHop, ...],
) -> bool:
    """Note that the parameter `fact` binds to receives `made`, if that is a pool or
    queue and the parameter has nothing yet; whether it was noted."""
    known = _RECEIVERS.get(made)
    target = passed_to(index, facts, fact) if known is not None else None
    if known is None or target is None or (*target.function, target.param) in found:
        return False
    text = f"the {known[0]} is passed as `{target.param}` to {target.callee}()"
    hop = FactoryHop(text, facts.path, fact.line, fact.column)
    found[(*target.function, target.param)] = (made, (hop, *earlier))
    return True


def _process_arguments(
    index: ProjectIndex,
) -> Iterator[tuple[tuple[str, str, str], tuple[str, tuple[FactoryHop, ...]]]]:
    """`Process(target=worker, args=(queue, n))`: the queue binds to `worker`'s first
    parameter, so `queue.put(x)` in `worker` sends `x` through a real queue."""
    for facts in index.modules.values():
        for call in facts.boundary_calls:
            target = call.callable
            arguments = dict(call.keywords).get("args")
            if call.method != "call" or target is None or target.kind != "name":
                continue
            if arguments is None or arguments.kind != "container":
                continue
            known = _RECEIVERS.get(index.resolve(facts, call.receiver))
            function = index.callee_named(facts, call.class_qualname, target.name)
            if known is None or known[0] != "process" or function is None:
                continue
            module, function_fact, _ = function
            for param, value in zip(function_fact.params, arguments.items, strict=False):
                made = _made_receiver(index, facts, value)
                if made in _RECEIVERS:
                    text = f"the {_RECEIVERS[made][0]} is handed as `{param}` to {call.text}"
                    hop = FactoryHop(text, facts.path, call.line, call.column)
                    yield (module.path, function_fact.qualname, param), (made, (hop,))


def _made_receiver(index: ProjectIndex, facts: ModuleFacts, value: ValueFact) -> str:
    """What an argument is, resolved: `ProcessPoolExecutor(4)`, or what `make_pool()`
    returns; "" for anything else."""
    text = evidence(value) if value.kind == "call" else ""
    if not text:
        return ""
    resolved = index.resolve(facts, text)
    if resolved in _RECEIVERS:
        return resolved
    return made_by_factory(index, facts, "", resolved)[0]


def ray_remote(
    index: ProjectIndex, facts: ModuleFacts, resolved: str
) -> tuple[str, str, frozenset[str]] | None:
    """`f.remote(x)` for a `@ray.remote` function, `Actor.remote(x)` for a `@ray.remote`
    class, `actor.step.remote(x)` on its handle, each also after `.options(...)`: Ray
    sends the arguments to a worker process with cloudpickle. None for anything else."""
    target = resolved.removesuffix(".options()")
    kind = "Ray task"
    head, handle, _method = target.partition(".remote().")
    if handle:
        target, kind = head, "Ray actor"
    function = index.lookup_function(target, facts.path)
    if function is not None and not handle:
        decorators = function.fact.decorators
        module = function.module
    else:
        ref = index.lookup_class(target, facts.path)
        if ref is None:
            return None
        decorators, module, kind = ref.fact.decorators, ref.module, "Ray actor"
    remote = any(
        index.resolve(module, name.removesuffix("(...)")) in _RAY_REMOTE for name in decorators
    )
    return (kind, CLOUDPICKLE, _RAY) if remote else None


_FACTORY_HOPS = 4  # a factory that calls a factory that ...


def made_by_factory(
    index: ProjectIndex, facts: ModuleFacts, class_qualname: str, made: str
) -> tuple[str, tuple[tuple[str, ModuleFacts, FunctionFact], ...]]:
    """What a project function or method returns, when `made` is its call (`make_pool()`,
    `self._executor()`): the evidence of its `return` (or its return annotation), so a
    pool that a factory builds is a boundary where it is used; with the factories
    followed (name as written, module, function). ("", ()) when unknown."""
    makers: list[tuple[str, ModuleFacts, FunctionFact]] = []
    for _ in range(_FACTORY_HOPS):
        if not made.endswith("()"):
            return "", ()
        name = made[:-2]
        found = index.callee(facts, class_qualname, name)
        if found is None:
            return "", ()
        facts, function_fact, class_qualname = found
        shown = name if name.startswith("self.") else name.rpartition(".")[2]
        makers.append((shown, facts, function_fact))
        products = [evidence(value) for value in function_fact.returned]
        products = [p for p in products if p] or [f"{r}()" for r in function_fact.returns]
        if not products:
            return "", ()
        # `return ProcessPoolExecutor(n) if n > 1 else ThreadPoolExecutor()`: any return
        # that is a process pool makes the call a boundary; else follow the first
        made_ones = [index.resolve(facts, product) for product in products]
        pools = [made for made in made_ones if made in _RECEIVERS]
        if pools:
            return pools[0], tuple(makers)
        made = made_ones[0]
    return "", ()


def find_boundaries(index: ProjectIndex, start_method: str = "portable") -> list[Boundary]:
    """Every call that pickles something for another process.

    A process start under fork pickles nothing (the child inherits its target,
    arguments and initializer), so it is no boundary. The start method is the
    call's own (`get_context("fork").Process`, `mp_context=`), else the one the
    project sets with `set_start_method`, else `start_method` from the config.
    """
    chosen = project_start_method(index) or start_method
    passed = passed_receivers(index)
    found = []
    for facts in index.modules.values():
        for call in facts.boundary_calls:
            boundary = classify_boundary(index, facts, call, passed)
            if boundary is None:
                continue
            boundary = replace(boundary, start_method=call.start_method or chosen)
            if boundary.starts_processes and boundary.start_method == "fork":
                continue
            found.append(boundary)
    started = any("start" in facts.method_calls for facts in index.modules.values())
    if chosen != "fork" and started:
        found.extend(
            replace(boundary, start_method=chosen) for boundary in process_subclass_starts(index)
        )
    return found


def process_subclass_starts(index: ProjectIndex) -> Iterator[Boundary]:
    """`class Worker(multiprocessing.Process)`: `Worker(...).start()` pickles the whole
    instance under spawn and forkserver, and `run` is what the new process calls. One
    boundary per such class, at the class, as if it were `Process(target=worker.run)`
    (find_boundaries adds them only where the project calls some `.start()`)."""
    direct: dict[str, bool] = {}  # qualified class name -> a base of its own is Process
    for ref in index.all_classes():
        if ref.fact.is_local:
            continue
        if not any(_names_process(index, current, direct) for current in index.mro(ref)):
            continue
        fact = ref.fact
        name = fact.qualname.rpartition(".")[2]
        text = (
            f"{name}.start(): a multiprocessing.Process subclass is pickled when it starts"
            " under spawn or forkserver"
        )
        call = BoundaryCallFact(
            line=fact.line,
            column=fact.column,
            snippet="",
            text=text,
            scope="",
            class_qualname="",
            method="call",
            receiver="multiprocessing.Process()",
            callable=ValueFact("name", name=f"{fact.qualname}().run"),
            args=(),
            keywords=(),
        )
        yield Boundary(call=call, module=ref.module, kind=PROCESS_SUBCLASS, serializer=PICKLE)


def _names_process(index: ProjectIndex, ref: ClassRef, direct: dict[str, bool]) -> bool:
    """Whether one of the class's own bases is multiprocessing's Process (memoized)."""
    found = direct.get(ref.qualified)
    if found is None:
        found = any(
            _RECEIVERS.get(index.resolve(ref.module, base) + "()", ("",))[0] == "process"
            for base in ref.fact.bases
        )
        direct[ref.qualified] = found
    return found


def project_start_method(index: ProjectIndex) -> str:
    """The start method the project's `set_start_method` calls agree on, else ""."""
    chosen = {facts.start_method for facts in index.modules.values() if facts.start_method}
    return chosen.pop() if len(chosen) == 1 else ""
