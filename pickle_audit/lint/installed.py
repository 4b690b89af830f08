"""Classes of the standard library and installed packages, read from their source.

Whether an exception round-trips depends on every `__init__` up to
`BaseException`, and a project's exceptions often derive from a library's
(`configparser.Error`, `requests.RequestException`). Those bases are found on
the running interpreter's `sys.path` with `PathFinder`, which locates a file
without importing anything, and parsed like project files: nothing is
imported or executed. A name that has no `.py` source (a C extension, a
package the linter's environment lacks) is simply unknown.
"""

from __future__ import annotations

from importlib.machinery import PathFinder
from pathlib import Path

from pickle_audit.lint.facts import ClassFact, ModuleFacts, extract_facts
from pickle_audit.lint.index import ProjectIndex

_MAX_HOPS = 6  # re-exports followed from the name written to the defining module
_MAX_MODULES = 32  # a run reads at most this many library modules
_MAX_BYTES = 2_000_000  # a generated module this large is not worth the parse


def module_source(name: str) -> Path | None:
    """The `.py` file that `import name` would load, found without importing, or None."""
    parts = name.split(".")
    if not all(part.isidentifier() for part in parts):
        return None
    try:
        spec = PathFinder.find_spec(parts[0])
        for depth in range(2, len(parts) + 1):
            if spec is None or spec.submodule_search_locations is None:
                return None
            spec = PathFinder.find_spec(".".join(parts[:depth]), spec.submodule_search_locations)
    except (ImportError, ValueError, OSError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    return Path(spec.origin)


class InstalledClasses:
    """The library classes one run asked about, each module parsed once."""

    def __init__(self) -> None:
        self._modules: dict[str, tuple[ModuleFacts, ProjectIndex] | None] = {}
        self._parsed = 0

    def _module(self, name: str) -> tuple[ModuleFacts, ProjectIndex] | None:
        if name in self._modules:
            return self._modules[name]
        found = None
        path = module_source(name) if self._parsed < _MAX_MODULES else None
        if path is not None:
            self._parsed += 1
            found = self._parse(path, name)
        self._modules[name] = found
        return found

    @staticmethod
    def _parse(path: Path, name: str) -> tuple[ModuleFacts, ProjectIndex] | None:
        try:
            data = path.read_bytes()
            if len(data) > _MAX_BYTES:
                return None
            facts = extract_facts(data.decode("utf-8", errors="replace"), str(path), name)
        except Exception:  # a library file this extractor cannot read is just unknown
            return None
        if facts.parse_error is not None:
            return None
        return facts, ProjectIndex([facts])

    def lookup(self, qualified: str) -> tuple[ClassFact, str, ProjectIndex, ModuleFacts] | None:
        """The class a qualified name means, following re-exports (`requests.HTTPError`
        is defined in `requests.exceptions`): its facts, its own qualified name, and the
        module to resolve its bases in."""
        for _ in range(_MAX_HOPS):
            split = self._split(qualified)
            if split is None:
                return None
            (facts, index), module, rest = split
            cls = next((c for c in facts.classes if c.qualname == rest), None)
            if cls is not None:
                return cls, f"{module}.{rest}", index, facts
            resolved = index.resolve(facts, rest)
            if resolved in (qualified, rest) or resolved.startswith("builtins."):
                return None
            qualified = resolved
        return None

    def _split(self, qualified: str) -> tuple[tuple[ModuleFacts, ProjectIndex], str, str] | None:
        parts = qualified.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            module = ".".join(parts[:cut])
            found = self._module(module)
            if found is not None:
                return found, module, ".".join(parts[cut:])
        return None
