"""Differential checks of `audit` against the serializers themselves.

Two sources of objects: every module-level object of importable modules
(harvested), and generated graphs (hypothesis) with injected bad leaves among
lists, tuples, dicts (bad keys too), sets, instances with `__dict__` or slots,
dataclasses, numpy object and structured arrays, pydantic models, shared
references and cycles. For each object and serializer (pickle protocols 2 and
5, cloudpickle, dill) the checks are:

- verdict: `audit(...).ok` exactly when the serializer's own `dumps` succeeds;
- leaves (generated graphs): the reported paths resolve to exactly the injected
  bad leaves, so replacing them makes the graph pickle (completeness);
- no crash out of `audit`, no hang (an alarm per case, and the caller's
  subprocess timeout), no mutation of the graph, no property called.

Run as a script (`python tests/differential.py --generated 200 ...`) it prints one
JSON line per failed check and a totals line; the test suite runs a small
sample in a subprocess, `benchmarks/trace_differential.py` the full run.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import importlib
import json
import pickle
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from typing import Any

from pickle_audit import audit

SERIALIZERS = ("pickle2", "pickle5", "cloudpickle", "dill")


def audit_options(serializer: str) -> dict[str, Any]:
    if serializer.startswith("pickle"):
        return {"serializer": "pickle", "protocol": int(serializer[len("pickle") :])}
    return {"serializer": serializer}


def real_dumps(serializer: str) -> Callable[[Any], bytes]:
    if serializer.startswith("pickle"):
        protocol = int(serializer[len("pickle") :])
        return lambda obj: pickle.dumps(obj, protocol)
    module = importlib.import_module(serializer)
    return module.dumps


class _CaseTimeout(BaseException):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise _CaseTimeout


@dataclasses.dataclass
class Totals:
    objects: int = 0
    checks: int = 0
    failures: list[dict[str, str]] = dataclasses.field(default_factory=list)

    def fail(self, case: str, serializer: str, check: str, detail: str) -> None:
        self.failures.append(
            {"case": case[:2000], "serializer": serializer, "check": check, "detail": detail[:300]}
        )


def judge(
    label: str,
    obj: Any,
    serializer: str,
    totals: Totals,
    seconds: float,
    injected: list[Any] | None = None,
) -> None:
    """Run every check on one object; failures go into `totals`."""
    totals.checks += 1
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        try:
            real_dumps(serializer)(obj)
            really_ok = True
        except Exception:
            really_ok = False
        try:
            report = audit(obj, **audit_options(serializer))
        except Exception as error:
            totals.fail(label, serializer, "crash", f"{type(error).__name__}: {error}")
            return
        if report.ok != really_ok:
            verdict = f"audit ok={report.ok}, {serializer} ok={really_ok}"
            totals.fail(label, serializer, "verdict", verdict)
        if injected is not None:
            _check_leaves(label, obj, serializer, report, injected, totals)
    except _CaseTimeout:
        totals.fail(label, serializer, "hang", f"no verdict within {seconds:g} s")
    except RecursionError:
        pass  # the serializer itself overflows: a deep graph is the caller's, not a case
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _check_leaves(label, obj, serializer, report, injected, totals) -> None:
    found = set()
    for problem in report.problems:
        try:
            found.add(id(problem.resolve(obj)))
        except Exception as error:
            message = f"{problem.path}: {type(error).__name__}: {error}"
            totals.fail(label, serializer, "path", message)
    expected = {id(leaf) for leaf in injected}
    if found != expected:
        paths = [problem.path for problem in report.problems]
        detail = f"reported {paths}, {len(expected)} injected"
        totals.fail(label, serializer, "leaves", detail)


# --- harvested objects -------------------------------------------------------------


def harvested(module_names: list[str]) -> Iterator[tuple[str, Any]]:
    for name in module_names:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                module = importlib.import_module(name)
        except BaseException:
            continue
        for attribute, value in sorted(vars(module).items()):
            yield f"{name}.{attribute}", value


_UNSAFE = {"antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo", "pydoc_data"}
# Installed packages whose objects are harvested too (when installed).
INSTALLED = ("numpy", "dill", "cloudpickle", "pydantic", "hypothesis", "libcst", "click")


def harvest_modules(limit: int | None) -> list[str]:
    """Stdlib modules and their submodules, then the installed packages above, that
    are safe to import (no GUI, no tests, no `__main__` scripts)."""
    import pkgutil

    tops = sorted(n for n in sys.stdlib_module_names if not n.startswith("_") and n not in _UNSAFE)
    names: list[str] = []
    for top in [*tops, *INSTALLED]:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                module = importlib.import_module(top)
        except BaseException:
            continue
        names.append(top)
        for info in pkgutil.walk_packages(getattr(module, "__path__", []), f"{top}.", _skip):
            parts = info.name.split(".")
            if any(part.startswith(("test", "_")) or part == "__main__" for part in parts[1:]):
                continue
            names.append(info.name)
        if limit is not None and len(names) >= limit:
            return names[:limit]
    return names


def _skip(name: str) -> None:
    """walk_packages' onerror: a subpackage that fails to import is skipped."""


# --- generated graphs ----------------------------------------------------------------


class SelfFailing:
    """Fails for its own reason under every serializer."""

    def __reduce_ex__(self, protocol: int) -> Any:
        raise TypeError("SelfFailing refuses to be pickled")

    def __hash__(self) -> int:
        return id(self)


class Plain:
    def __init__(self, value: Any) -> None:
        self.value = value


class Slotted:
    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


@dataclasses.dataclass
class Record:
    value: Any
    label: str = "r"


PROPERTY_CALLS: list[str] = []


class Watched:
    """A property that pickling never reads; the audit must not read it either."""

    def __init__(self, value: Any) -> None:
        self.value = value

    @property
    def computed(self) -> Any:
        PROPERTY_CALLS.append("computed")
        return self.value


def _generator() -> Any:
    return (number for number in range(3))


def bad_leaf_factories(serializer: str) -> dict[str, Callable[[], Any]]:
    """Leaf kinds this serializer really refuses (checked, not assumed)."""
    candidates = {
        "self-failing": SelfFailing,
        "generator": _generator,
        "lock": threading.Lock,
        "frame": lambda: sys._getframe(0),
        "dict view": lambda: {"a": 1}.keys(),
    }
    dumps = real_dumps(serializer)
    refused = {}
    for name, factory in candidates.items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                dumps(factory())
        except Exception:
            refused[name] = factory
    return refused


def _build(spec: Any, make_bad: Callable[[], Any], injected: list[Any], parents: list[Any]) -> Any:
    """Turn a generated spec (nested tuples) into objects, recording bad leaves."""
    kind = spec[0]
    if kind == "atom":
        return spec[1]
    if kind == "bad":
        leaf = make_bad()
        injected.append(leaf)
        return leaf
    if kind == "back":  # a reference to an enclosing mutable container: a cycle
        return parents[-1 - spec[1] % len(parents)] if parents else None
    if kind == "list":
        built: list[Any] = []
        parents.append(built)
        built.extend(_build(child, make_bad, injected, parents) for child in spec[1])
        parents.pop()
        return built
    if kind == "set":  # members must hash: a set holds strings, and maybe one bad leaf
        return _as_set(len(spec[1]), spec, make_bad, injected)
    children = [_build(child, make_bad, injected, parents) for child in spec[1]]
    return _CONTAINERS[kind](children, spec, make_bad, injected)


def _as_dict(children, spec, make_bad, injected):
    table: dict[Any, Any] = {f"k{index}": child for index, child in enumerate(children)}
    if spec[2]:  # a bad key
        key = make_bad()
        try:
            hash(key)
        except TypeError:
            return table
        injected.append(key)
        table[key] = 0
    return table


def _as_set(size, spec, make_bad, injected):
    members: set[Any] = {f"m{index}" for index in range(size)}
    if spec[2]:
        member = make_bad()
        try:
            hash(member)
        except TypeError:
            return members
        injected.append(member)
        members.add(member)
    return members


def _as_object_array(children, spec, make_bad, injected):
    import numpy

    array = numpy.empty(len(children), dtype=object)
    for index, child in enumerate(children):
        array[index] = child
    return array


def _as_structured_array(children, spec, make_bad, injected):
    import numpy

    array = numpy.zeros(len(children), dtype=[("n", "i4"), ("o", "O")])
    for index, child in enumerate(children):
        array["o"][index] = child
    return array


def _as_model(children, spec, make_bad, injected):
    try:
        import pydantic
    except ImportError:
        return Plain(children)
    return _model_class(pydantic)(items=children)


def _model_class(pydantic: Any) -> type:
    global _MODEL
    if _MODEL is None:

        class GraphModel(pydantic.BaseModel):
            model_config = pydantic.ConfigDict(arbitrary_types_allowed=True)
            items: list[Any]

        GraphModel.__qualname__ = GraphModel.__name__ = "GraphModel"
        globals()["GraphModel"] = GraphModel
        _MODEL = GraphModel
    return _MODEL


_MODEL: type | None = None

_CONTAINERS: dict[str, Callable[..., Any]] = {
    "tuple": lambda children, *_: tuple(children),
    "dict": _as_dict,
    "set": _as_set,  # built by _build itself
    "plain": lambda children, *_: Plain(children),
    "slotted": lambda children, *_: Slotted(children),
    "record": lambda children, *_: Record(children),
    "watched": lambda children, *_: Watched(children),
    "ordered": lambda children, *_: collections.OrderedDict(enumerate(children)),
    "deque": lambda children, *_: collections.deque(children),
    "object array": _as_object_array,
    "structured array": _as_structured_array,
    "model": _as_model,
}


def graph_specs() -> Any:
    from hypothesis import strategies as st

    atoms = st.one_of(st.integers(), st.text(max_size=5), st.none(), st.floats())
    leaves = st.one_of(
        atoms.map(lambda value: ("atom", value)),
        st.just(("bad",)),
        st.integers(0, 3).map(lambda depth: ("back", depth)),
    )

    def extend(children: Any) -> Any:
        kids = st.lists(children, max_size=4)
        return st.one_of(
            kids.map(lambda items: ("list", items)),
            st.tuples(st.sampled_from(sorted(_CONTAINERS)), kids, st.booleans()),
        )

    return st.recursive(leaves, extend, max_leaves=20)


def run_generated(count: int, seed: int, serializer: str, totals: Totals, seconds: float) -> None:
    from hypothesis import HealthCheck, given, settings

    factories = bad_leaf_factories(serializer)
    kinds = sorted(factories)
    number = [0]  # generated graphs so far

    @settings(
        max_examples=count,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(graph_specs())
    def case(spec: Any) -> None:
        totals.objects += 1
        number[0] += 1
        kind = kinds[(number[0] + seed) % len(kinds)]
        injected: list[Any] = []
        graph = _build(spec, factories[kind], injected, [])
        before = _fingerprint(graph)
        PROPERTY_CALLS.clear()
        label = f"generated #{number[0]} ({kind}): {spec!r}"
        judge(label, graph, serializer, totals, seconds, injected)
        if PROPERTY_CALLS:
            totals.fail(label, serializer, "property", str(PROPERTY_CALLS))
        if _fingerprint(graph) != before:
            totals.fail(label, serializer, "mutated", "the graph changed during the audit")

    case()


def _fingerprint(obj: Any) -> Any:
    """Identity and shape of every container, to tell whether the audit changed any."""
    seen: dict[int, int] = {}
    out: list[Any] = []
    stack = [obj]
    while stack:
        value = stack.pop()
        if id(value) in seen:
            out.append(("ref", seen[id(value)]))
            continue
        seen[id(value)] = len(seen)
        out.append((type(value).__name__, id(value)))
        if isinstance(value, (list, tuple, collections.deque)):
            out.append(len(value))
            stack.extend(value)
        elif isinstance(value, dict):
            out.append(tuple(map(id, value)))
            stack.extend(value.values())
        elif isinstance(value, (Plain, Slotted, Record, Watched)):
            stack.append(value.value)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serializer", choices=SERIALIZERS, required=True)
    parser.add_argument("--generated", type=int, default=0, help="generated graphs")
    parser.add_argument("--harvest", type=int, default=0, help="modules to harvest (-1: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=10.0, help="per case")
    options = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    signal.signal(signal.SIGALRM, _alarm)
    totals = Totals()
    modules: list[str] = []
    if options.harvest:
        modules = harvest_modules(None if options.harvest < 0 else options.harvest)
        for label, value in harvested(modules):
            totals.objects += 1
            judge(label, value, options.serializer, totals, options.seconds)
    if options.generated:
        run_generated(options.generated, options.seed, options.serializer, totals, options.seconds)
    for failure in totals.failures:
        print(json.dumps(failure), flush=True)
    summary = {"serializer": options.serializer, "modules": len(modules)}
    summary.update(objects=totals.objects)
    summary.update(checks=totals.checks, failures=len(totals.failures))
    print(json.dumps({"totals": summary}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
