"""The verdict is the serializer's own, nothing escapes `audit`, and paths lead back.

Each object here once got a wrong verdict, an exception out of `audit`, a walk
that never ended, a false "value changed", a misattributed rule or a path that
named another object. Every test compares with what the serializer itself does.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import pickle
import subprocess
import sys
import textwrap
import threading
import unittest.mock
import weakref

import cloudpickle
import dill
import numpy
import pytest

from pickle_audit import audit
from pickle_audit.trace import source as trace_source

SERIALIZERS = {"pickle": pickle, "cloudpickle": cloudpickle, "dill": dill}


def really_pickles(obj, serializer):
    try:
        SERIALIZERS[serializer].dumps(obj)
    except Exception:
        return False
    return True


class ListItemsNotAnIterator:
    """Fails for its own reason (pickle wants an iterator), and its items lead back to it."""

    def __init__(self):
        self.items = [self]

    def __reduce__(self):
        return (ListItemsNotAnIterator, (), None, self.items)


class Plain:
    def __init__(self, value=1):
        self.value = value


@dataclasses.dataclass
class Pair:
    left: object
    right: object


def test_a_value_failing_for_its_own_reason_with_a_back_reference_is_not_clean():
    obj = ListItemsNotAnIterator()
    assert not really_pickles(obj, "pickle")
    report = audit(obj, name="obj")
    assert not report.ok
    [problem] = report.problems
    assert problem.path == "obj"
    assert problem.error == (
        "PicklingError: fourth element of the tuple returned by __reduce__ must be an"
        " iterator, not list"
    )


def test_a_main_module_class_under_cloudpickle_names_its_lock(tmp_path):
    script = tmp_path / "script.py"
    script.write_text(
        textwrap.dedent(
            """
            import threading
            from pickle_audit import audit

            class Holder:
                def __init__(self):
                    self.lock = threading.Lock()

                def again(self):
                    return Holder  # the class's methods lead back to the class

            report = audit(Holder(), name="holder", serializer="cloudpickle")
            print(report.ok, [(p.path, p.rule) for p in report.problems])
            """
        )
    )
    run = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=True
    )
    assert run.stdout.strip() == "False [('holder.lock', 'PA105')]"


@pytest.mark.filterwarnings("ignore::dill.PicklingWarning")
@pytest.mark.parametrize("serializer", ["pickle", "dill"])
def test_a_magicmock_is_reported_whole_as_the_serializer_fails_on_it(serializer):
    mock = unittest.mock.MagicMock()
    assert not really_pickles(mock, serializer)
    report = audit({"mock": mock}, serializer=serializer)
    assert [(p.path, p.type) for p in report.problems] == [
        ("obj['mock']", "unittest.mock.MagicMock")
    ]


class RaisingItems:
    """A reduction whose lazy list items raise half-way, as pickling them does."""

    def __reduce__(self):
        def items():
            yield 1
            raise ValueError("the items ran out of data")

        return (list, (), None, items())


def test_an_exception_from_lazy_items_is_the_reported_error():
    obj = {"rows": RaisingItems()}
    with pytest.raises(ValueError, match="ran out of data"):
        pickle.dumps(obj)
    report = audit(obj)
    assert [(p.path, p.error) for p in report.problems] == [
        ("obj['rows']", "ValueError: the items ran out of data")
    ]


def test_a_dead_weakref_proxy_is_a_reported_leaf():
    class_holder = Plain()
    proxy = weakref.proxy(class_holder)
    del class_holder
    report = audit({"proxy": proxy})
    assert [(p.path, p.type, p.rule, p.error) for p in report.problems] == [
        (
            "obj['proxy']",
            "weakref.ProxyType",
            "PA108",
            "ReferenceError: weakly-referenced object no longer exists",
        )
    ]


@pytest.mark.timeout(30)
def test_a_structured_array_with_an_object_field_names_the_element():
    array = numpy.zeros(3, dtype=[("x", "i4"), ("payload", "O")])
    lock = threading.Lock()
    array[2]["payload"] = lock
    report = audit(array, name="rows")
    assert [(p.path, p.rule) for p in report.problems] == [("rows['payload'][2]", "PA105")]
    assert report.problems[0].resolve(array) is lock


def test_a_walk_over_its_budget_is_reported_not_waited_for():
    locks = [Plain(threading.Lock()) for _ in range(5000)]
    report = audit(locks, name="jobs", time_limit=0.0)
    assert not report.ok
    stopped = report.problems[-1]
    assert stopped.path == "jobs"
    assert stopped.rule is None
    assert stopped.error.startswith("TypeError: cannot pickle '_thread.lock' object")
    assert "the search for the failing part stopped after 1,024 objects" in stopped.error
    assert stopped.fix == (
        "audit a part of the object (an attribute or an item) to find the rest,"
        " or raise audit(..., time_limit=...)"
    )
    # what was found before the budget ran out is kept, in walk order
    assert [p.path for p in report.problems[:2]] == ["jobs[0].value", "jobs[1].value"]


CARRIED_INTACT = {
    "set of tuples": lambda: {1, (2, "three"), frozenset({4})},
    "set of plain objects": lambda: {Plain(1), Plain(2)},
    "deque": lambda: collections.deque([Plain(), Plain(2)], maxlen=5),
    "ordered dict": lambda: collections.OrderedDict(b=Plain(), a=Plain(2)),
    "defaultdict": lambda: collections.defaultdict(list, {"k": [Plain()]}),
    "dataclass of plain objects": lambda: Pair(Plain(), [Plain(3)]),
    "float array with NaN": lambda: numpy.array([1.0, float("nan"), -0.0]),
    "object array": lambda: numpy.array([Plain(), None, float("nan")], dtype=object),
}


@pytest.mark.parametrize("kind", sorted(CARRIED_INTACT))
def test_roundtrip_reports_no_change_for_what_a_pool_carries_intact(kind):
    report = audit(CARRIED_INTACT[kind](), roundtrip=True)
    assert report.ok, report.format()


class ForgetsItsState:
    def __init__(self):
        self.value = Plain(5)

    def __getstate__(self):
        return {}


@pytest.mark.parametrize(
    "wrap",
    [lambda v: {v}, lambda v: collections.deque([v]), lambda v: Pair(v, 1), lambda v: {"k": v}],
)
def test_roundtrip_still_reports_a_real_change_inside_containers(wrap):
    report = audit(wrap(ForgetsItsState()), roundtrip=True)
    assert not report.ok
    assert report.problems[-1].type == f"{__name__}.ForgetsItsState"
    assert report.problems[-1].error.startswith("value changed in a pickle round trip")


def test_spawn_gives_a_main_module_exception_its_real_rule(tmp_path):
    script = tmp_path / "script.py"
    script.write_text(
        textwrap.dedent(
            """
            from pickle_audit import audit

            class JobFailed(Exception):
                def __init__(self, label, code):
                    super().__init__(f"{label} failed with {code}")

            if __name__ == "__main__":
                report = audit(JobFailed("dimer", 3), name="error", spawn=True)
                print([(p.path, p.rule) for p in report.problems])
            """
        )
    )
    run = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=tmp_path,
    )
    # importable by the worker (module level, behind the guard): its __init__ is the cause
    assert run.stdout.strip() == "[('error', 'PA301')]"


class FakesItsClass:
    reads = 0

    @property
    def __class__(self):
        type(self).reads += 1
        return FakesItsClass


def test_a_class_property_is_read_no_more_often_than_pickle_reads_it():
    obj = FakesItsClass()
    obj.lock = threading.Lock()
    with pytest.raises(TypeError):
        pickle.dumps(obj)
    by_pickle, FakesItsClass.reads = FakesItsClass.reads, 0
    audit(obj)
    assert FakesItsClass.reads == by_pickle


Point = collections.namedtuple("Point", "x y")


class ByNewArgs:
    def __new__(cls, value):
        return super().__new__(cls)

    def __init__(self, value):
        self._kept = [value]

    def __getnewargs__(self):
        return (self._kept[0],)


class ByNewArgsEx:
    def __new__(cls, *, value):
        return super().__new__(cls)

    def __init__(self, *, value):
        self._kept = (value,)

    def __getnewargs_ex__(self):
        return ((), {"value": self._kept[0]})


class ByReduce:
    def __init__(self, value):
        self._kept = {"v": value}

    def __reduce__(self):
        return (ByReduce, (self._kept["v"],))


class Unnamed:
    def __repr__(self):
        return "Unnamed()"  # two keys with one repr


def _paths_cases(leaf):
    return {
        "set member": ({1, frozenset({leaf})}, r"obj\{#\d\}\{#0\}"),
        "key among equal reprs": ({Unnamed(): 1, Unnamed(): leaf}, r"obj\[#1\]"),
        "bad key": ({leaf: 1}, r"obj<#0>"),
        "long string key": ({"k" * 100: leaf}, r"obj\[#0\]"),
        "tuple key": ({(1, "a"): leaf}, r"obj\[\(1, 'a'\)\]"),
        "namedtuple field": (Point(1, leaf), r"obj\.y"),
        "reduce argument": (ByReduce(leaf), r"obj\.__reduce_ex__\(\d\)\[1\]\[0\]"),
        "getnewargs": (ByNewArgs(leaf), r"obj\.__getnewargs__\(\)\[0\]"),
        "getnewargs_ex": (ByNewArgsEx(value=leaf), r"obj\.__getnewargs_ex__\(\)\[1\]\['value'\]"),
        "2-d object array": (numpy.array([[1, leaf], [2, 3]], dtype=object), r"obj\[0, 1\]"),
        "ordered dict": (collections.OrderedDict([(Unnamed(), leaf)]), r"obj\[#0\]"),
        "partial argument": (functools.partial(print, leaf), r"obj\.args\[0\]"),
    }


@pytest.mark.parametrize("serializer", ["pickle", "cloudpickle"])
@pytest.mark.parametrize("case", sorted(_paths_cases(None)))
def test_every_path_resolves_to_the_object_it_names(case, serializer):
    import re

    lock = threading.Lock()
    obj, pattern = _paths_cases(lock)[case]
    report = audit(obj, serializer=serializer)
    [problem] = report.problems
    assert re.fullmatch(pattern, problem.path), problem.path
    assert problem.resolve(obj) is lock


def test_source_lookups_parse_each_file_once_per_content(monkeypatch):
    from pickle_audit.lint import facts

    parsed = []
    real = facts.extract_facts

    def counting(source, filename, module):
        parsed.append(filename)
        return real(source, filename, module)

    trace_source._facts_of_file.cache_clear()
    trace_source._facts_of_source.cache_clear()
    monkeypatch.setattr(facts, "extract_facts", counting)
    obj = Plain({}.keys())
    first = audit(obj)
    second = audit(obj)
    assert first.problems == second.problems
    assert first.problems[0].source == f"tests/{__name__.rsplit('.', 1)[-1]}.py:52"
    assert parsed == [__file__]


@pytest.mark.parametrize("serializer", ["pickle", "cloudpickle"])
def test_a_child_leading_back_to_its_parent_is_not_blamed_with_its_class(serializer):
    outer = []
    generator = (number for number in range(2))
    outer.extend([generator, collections.deque([outer])])
    report = audit(outer, serializer=serializer)
    assert [(p.path, p.rule) for p in report.problems] == [("obj[0]", "PA104")]


lock = threading.Lock()  # a module global that shares its name with an attribute below
MODULE_LOCK = threading.Lock()


def reads_module_lock():
    return MODULE_LOCK


def _local_class_instance():
    class Job:
        def __init__(self):
            self.pending = (number for number in range(2))

        def reads_attribute(self, other):
            return other.lock  # an attribute: the global `lock` does not travel

        def reads_global(self):
            return MODULE_LOCK

    return Job()


@pytest.mark.filterwarnings("ignore::dill.PicklingWarning")
@pytest.mark.parametrize(
    ("serializer", "expected"),
    [
        # cloudpickle ships a local class by value, with the globals its methods read
        (
            "cloudpickle",
            [("obj.reads_global.__globals__['MODULE_LOCK']", "PA105"), ("obj.pending", "PA104")],
        ),
        # dill saves a function's module globals by reference to the module
        ("dill", [("obj.pending", "PA104")]),
    ],
)
def test_by_value_serializers_are_judged_by_their_own_rules(serializer, expected):
    job = _local_class_instance()
    report = audit(job, serializer=serializer)
    assert [(p.path, p.rule) for p in report.problems] == expected
    for problem in report.problems:
        problem.resolve(job)  # every path leads somewhere


@pytest.mark.filterwarnings("ignore::dill.PicklingWarning")
@pytest.mark.parametrize("serializer", ["cloudpickle", "dill"])
def test_importable_functions_travel_by_name_and_bound_methods_are_opened(serializer):
    job = _local_class_instance()
    report = audit([reads_module_lock, job.reads_attribute], serializer=serializer)
    paths = [p.path for p in report.problems]
    assert "obj[1].__self__.pending" in paths
    assert not any(path.startswith("obj[0]") for path in paths)  # saved by reference


_GENERATOR_IN_VIEWS = {
    # view, {serializer: (ok, paths)}; a generator sits inside each view
    "values": (
        lambda gen: {"a": 1, "b": gen}.values(),
        {
            "pickle": ["obj.view"],
            "cloudpickle": ["obj.view{#1}"],
            "dill": ["obj.view.mapping['b']"],
        },
    ),
    "keys": (
        lambda gen: {gen: 1}.keys(),
        {"pickle": ["obj.view"], "cloudpickle": ["obj.view{#0}"], "dill": ["obj.view.mapping<#0>"]},
    ),
    "items": (
        lambda gen: {"b": gen}.items(),
        {
            "pickle": ["obj.view"],
            "cloudpickle": ["obj.view{#0}[1]"],
            "dill": ["obj.view.mapping['b']"],
        },
    ),
    # cloudpickle saves a keys view's keys only; dill saves the whole dict behind it
    "keys-over-a-bad-value": (
        lambda gen: {"a": gen}.keys(),
        {"pickle": ["obj.view"], "cloudpickle": [], "dill": ["obj.view.mapping['a']"]},
    ),
}


@pytest.mark.parametrize("serializer", ["pickle", "cloudpickle", "dill"])
@pytest.mark.parametrize("case", sorted(_GENERATOR_IN_VIEWS))
def test_a_dict_view_is_opened_where_the_serializer_saves_it(case, serializer):
    """Stdlib pickle refuses any dict view (PA102, reported whole); cloudpickle and dill
    save views, so what fails is inside, named by a path that leads back to it."""
    from types import SimpleNamespace  # imported here: tests above quote this file's lines

    make_view, expected = _GENERATOR_IN_VIEWS[case]
    gen = (x for x in [1])
    holder = SimpleNamespace(view=make_view(gen))
    report = audit(holder, serializer=serializer)
    assert [problem.path for problem in report.problems] == expected[serializer]
    assert report.ok is (not expected[serializer])
    for problem in report.problems:
        if serializer == "pickle":
            assert (problem.rule, problem.resolve(holder)) == ("PA102", holder.view)
        else:
            assert (problem.rule, problem.resolve(holder)) == ("PA104", gen)
