"""What one libcst pass records about a module: plain, picklable facts with exact positions."""

from __future__ import annotations

import pickle
import textwrap
from pathlib import Path

from pickle_audit.lint.facts import ModuleFacts, ValueFact, extract_facts
from pickle_audit.lint.index import ProjectIndex, module_name_for


def facts_of(source: str, path: str = "pkg/mod.py", module: str = "pkg.mod") -> ModuleFacts:
    return extract_facts(textwrap.dedent(source).lstrip("\n"), path, module)


def test_imports_absolute_relative_and_aliased() -> None:
    facts = facts_of(
        """
        import os.path
        import numpy as np
        from concurrent.futures import ProcessPoolExecutor as PPE
        from . import sibling
        from .core import Core
        from ..top import thing
        from .helpers import *
        """,
        path="pkg/sub/mod.py",
        module="pkg.sub.mod",
    )
    assert [(i.local, i.target, i.is_module) for i in facts.imports] == [
        ("os", "os", True),
        ("np", "numpy", True),
        ("PPE", "concurrent.futures.ProcessPoolExecutor", False),
        ("sibling", "pkg.sub.sibling", False),
        ("Core", "pkg.sub.core.Core", False),
        ("thing", "pkg.top.thing", False),
        ("*", "pkg.sub.helpers", False),
    ]


def test_relative_imports_in_a_package_init() -> None:
    facts = facts_of("from .core import Core\n", path="pkg/__init__.py", module="pkg")
    assert facts.is_package
    assert [(i.local, i.target) for i in facts.imports] == [("Core", "pkg.core.Core")]


def test_attribute_kinds_and_positions() -> None:
    facts = facts_of(
        """
        import threading
        from functools import partial


        class Holder(Base, mixins.Mixin):
            lock = threading.Lock()
            count: int

            def __init__(self, core: Core, d, xs):
                def inner():
                    return 1

                class Local:
                    pass

                self.core = core
                self.view = d.items()
                self.fn = lambda: 0
                self.inner = inner
                self.part = partial(inner, 1)
                self.gen = (x for x in xs)
                self.lock2 = threading.RLock()
                self.local = Local()
                self.items: list[Core] = []
                self.nothing = None
        """
    )
    [holder] = facts.classes
    assert holder.bases == ("Base", "mixins.Mixin")
    kinds = {
        a.name: (a.value.kind if a.value else None, a.value.name if a.value else "", a.on_instance)
        for a in holder.attributes
    }
    assert kinds == {
        "lock": ("call", "threading.Lock", False),
        "count": (None, "", True),
        "core": ("annotation", "Core", True),
        "view": ("dict_view", "items", True),
        "fn": ("lambda", "", True),
        "inner": ("nested_function", "inner", True),
        "part": ("partial_closure", "inner", True),
        "gen": ("genexp", "", True),
        "lock2": ("call", "threading.RLock", True),
        "local": ("local_class_instance", "Local", True),
        "items": ("container", "", True),
        "nothing": ("other", "", True),
    }
    view = facts.find_attribute("Holder", "view")
    assert (view.line, view.column, view.snippet) == (17, 9, "self.view = d.items()")
    assert facts.find_attribute("Holder", "items").annotation == ("list", "Core")
    assert facts.find_attribute("Holder", "missing") is None
    assert facts.find_attribute("Nope", "view") is None


def test_find_attribute_prefers_an_instance_assignment_over_the_class_body() -> None:
    facts = facts_of(
        """
        class A:
            x: int = 0

            def __init__(self):
                self.x = {}.keys()
        """
    )
    found = facts.find_attribute("A", "x")
    assert (found.line, found.on_instance, found.value.kind) == (5, True, "dict_view")


def test_dataclass_fields_generators_cached_properties_and_nested_classes() -> None:
    facts = facts_of(
        """
        import dataclasses
        import functools


        @dataclasses.dataclass(frozen=True)
        class Settings:
            transform: object = dataclasses.field(default=lambda x: x)
            factory: list = dataclasses.field(default_factory=lambda: [])

            class Inner:
                def rows(self):
                    yield 1

            @functools.cached_property
            def total(self):
                return 1


        def numbers():
            yield from range(3)


        def plain() -> Settings:
            return Settings()
        """
    )
    settings, inner = sorted(facts.classes, key=lambda c: c.qualname)
    assert (settings.qualname, inner.qualname) == ("Settings", "Settings.Inner")
    assert settings.decorators == ("dataclasses.dataclass(...)",)
    fields = {a.name: a.value.kind for a in settings.attributes}
    # what the factory's lambda returns is what each instance holds
    assert fields == {"transform": "lambda", "factory": "container"}
    assert [c.name for c in settings.cached_properties] == ["total"]
    assert settings.cached_properties[0].line == 15
    assert [(m.qualname, m.is_generator) for m in inner.methods] == [("Settings.Inner.rows", True)]
    functions = {f.qualname: (f.is_generator, f.returns) for f in facts.functions}
    assert functions == {"numbers": (True, ()), "plain": (False, ("Settings",))}


def test_exception_init_and_getattr_facts() -> None:
    facts = facts_of(
        """
        class Failure(Exception):
            def __init__(self, a, b=1, *rest, code, **extra):
                super().__init__(a)
                Exception.__init__(self, *rest)

            def __reduce__(self):
                return (Failure, ())


        class Proxy:
            def __getattr__(self, name):
                if name.startswith("_"):
                    raise AttributeError(name)
                return getattr(self._target, name)
        """
    )
    failure, proxy = facts.classes
    init = failure.init
    assert [(p.name, p.kind, p.has_default) for p in init.params] == [
        ("a", "positional", False),
        ("b", "positional", True),
        ("rest", "varargs", False),
        ("code", "kwonly", False),
        ("extra", "varkw", False),
    ]
    assert [(c.positional, c.starred, c.line) for c in init.super_calls] == [
        (1, False, 3),
        (0, True, 4),
    ]
    assert failure.defines_reduce
    assert (proxy.getattr.reads_self, proxy.getattr.guarded, proxy.getattr.line) == (
        True,
        True,
        11,
    )


def test_boundary_calls_with_receiver_evidence() -> None:
    facts = facts_of(
        """
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        from joblib import Parallel, delayed


        class Driver:
            def __init__(self):
                self.pool = ProcessPoolExecutor()

            def step(self, x):
                return x

            def run(self, data, pool: ProcessPoolExecutor):
                ctx = multiprocessing.get_context("spawn")
                with ctx.Pool(2) as workers:
                    workers.apply_async(self.step, (data,))
                self.pool.submit(self.step, data)
                pool.map(self.step, data)
                proc = multiprocessing.Process(target=self.step, args=(1,))
                Parallel(n_jobs=2)(delayed(self.step)(x) for x in data)
                queue = multiprocessing.Queue()
                queue.put(lambda: 1)
        """
    )
    calls = [(c.line, c.method, c.receiver, c.scope, c.text) for c in facts.boundary_calls]
    assert calls == [
        (
            16,
            "apply_async",
            "multiprocessing.get_context().Pool()",
            "Driver.run",
            "workers.apply_async(self.step, ...)",
        ),
        (17, "submit", "self.pool", "Driver.run", "self.pool.submit(self.step, ...)"),
        (18, "map", "ProcessPoolExecutor()", "Driver.run", "pool.map(self.step, ...)"),
        (
            19,
            "call",
            "multiprocessing.Process()",
            "Driver.run",
            "multiprocessing.Process(target=self.step, ...)",
        ),
        (20, "delayed", "joblib.delayed", "Driver.run", "delayed(self.step)(...)"),
        (22, "put", "multiprocessing.Queue()", "Driver.run", "queue.put(...)"),
    ]
    first = facts.boundary_calls[0]
    assert first.callable == ValueFact("name", name="self.step")
    assert first.args == (ValueFact("container", items=(ValueFact("other"),)),)
    assert first.class_qualname == "Driver"
    assert facts.boundary_calls[-1].args == (ValueFact("lambda"),)


def test_main_guard_definitions_and_boundary_marker() -> None:
    facts = facts_of(
        """
        class Shipped:  # pickle-audit: boundary
            pass


        if __name__ == "__main__":
            def job(x):
                return x

            class Task:
                pass
        """
    )
    shipped = facts.classes[0]
    assert shipped.boundary_marker == 1
    assert facts.main_guard_names == ("job", "Task")
    assert [f.under_main_guard for f in facts.functions] == [True]


def test_parse_errors_are_facts_not_exceptions() -> None:
    broken = facts_of("def f(:\n    pass\n")
    assert broken.parse_error is not None
    assert (broken.parse_error.line, broken.parse_error.column) == (1, 7)  # as Python says
    rejected = facts_of("(x): int = 1\n")  # Python accepts it; libcst does not
    assert rejected.parse_error is not None and rejected.parse_error.line == 1
    assert "though Python accepts it" in rejected.parse_error.message
    assert rejected.classes == ()


def test_facts_round_trip_through_pickle() -> None:
    facts = facts_of(
        """
        class A:
            def __init__(self, d):
                self.k = d.keys()
        """
    )
    facts.find_attribute("A", "k")  # fills the lookup table; must still pickle
    assert pickle.loads(pickle.dumps(facts)) == facts


def test_module_names_follow_the_package_chain(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    (site / "qcmanybody" / "models").mkdir(parents=True)
    for init in ("qcmanybody/__init__.py", "qcmanybody/models/__init__.py"):
        (site / init).write_text("")
    (site / "qcmanybody" / "core.py").write_text("")
    (site / "script.py").write_text("")
    assert module_name_for(site / "qcmanybody" / "core.py") == "qcmanybody.core"
    assert module_name_for(site / "qcmanybody" / "models" / "__init__.py") == "qcmanybody.models"
    assert module_name_for(site / "script.py") == "script"


def test_index_resolves_reexports_and_star_imports() -> None:
    core = facts_of("class Core:\n    pass\n", path="/p/pkg/core.py", module="pkg.core")
    init = facts_of("from .core import Core\n", path="/p/pkg/__init__.py", module="pkg")
    star = facts_of("from pkg.core import *\n", path="/p/star.py", module="star")
    user = facts_of("import pkg\nfrom pkg import Core as C\n", path="/p/user.py", module="user")
    index = ProjectIndex([core, init, star, user])
    assert index.class_named(user, "C").qualified == "pkg.core.Core"
    assert index.class_named(user, "pkg.Core").qualified == "pkg.core.Core"
    assert index.class_named(star, "Core").qualified == "pkg.core.Core"
    assert index.resolve(user, "open") == "builtins.open"
    assert index.class_named(user, "Missing") is None
