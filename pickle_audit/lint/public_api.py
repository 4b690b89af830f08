"""Library mode's roots: the classes a library's users can get hold of.

A library such as qcmanybody never hands its classes to a pool; its users do,
with whatever the public API gives them. So in library mode the public
classes are roots, as if each were handed to a process pool, and what they
hold is checked through the same reach as any boundary. Public means what a
user can import without touching a private name: a class the top-level
package's `__init__` imports (and so exports, wherever it is defined), or a
class whose own name and module path have no `_`-prefixed part. Test modules
(`tests`, `test_*`, `conftest`) and classes defined inside functions are not
API, and neither are top-level scripts outside any package.
"""

from __future__ import annotations

from collections.abc import Iterator

from pickle_audit.lint.index import ClassRef, ProjectIndex

_TEST_PARTS = frozenset({"test", "tests", "testing", "conftest"})


def public_classes(index: ProjectIndex) -> Iterator[tuple[ClassRef, str]]:
    """Each public class once, with why it is public: the package that exports it,
    or "" when its module is public."""
    exported = dict(_exported_by_packages(index))
    for ref in index.all_classes():
        key = ref.qualified
        if key in exported:
            yield ref, exported[key]
        elif _public_where_defined(ref):
            yield ref, ""


def _exported_by_packages(index: ProjectIndex) -> Iterator[tuple[str, str]]:
    """(qualified class, package) for classes a top-level `__init__` imports."""
    for facts in index.modules.values():
        if not facts.is_package or "." in facts.module or _private(facts.module):
            continue
        for fact in facts.imports:
            if fact.is_module or fact.local.startswith("_"):
                continue
            ref = index.lookup_class(index.resolve(facts, fact.local), facts.path)
            if ref is not None and not ref.fact.is_local:
                yield ref.qualified, facts.module


def _public_where_defined(ref: ClassRef) -> bool:
    module = ref.module
    if "." not in module.module and not module.is_package:
        return False  # a script or a top-level module outside any package
    if ref.fact.is_local or any(part.startswith("_") for part in ref.fact.qualname.split(".")):
        return False
    return not _private(module.module)


def _private(dotted: str) -> bool:
    return any(
        part.startswith("_") or part in _TEST_PARTS or part.startswith("test_")
        for part in dotted.split(".")
    )
