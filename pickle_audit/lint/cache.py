"""Facts cached by file content hash, in one JSON store file per cache directory.

The store sits in the project (`.pickle-audit-cache/`), where a pull request
can plant a file, so it is JSON, never pickle: reading it cannot run code,
and every entry is checked against the fact records' field types before use
(`facts_json.py`); a damaged, forged or foreign store is ignored and rebuilt.
A warm run reads the single store; the price is rewriting the whole store
when any file changed, paid only on runs that parse anyway. Entries are keyed
by path and content digest, and the store's name carries a digest of the
extractor's own source, so a new version of the linter never reads facts an
older one wrote. Writes go to a temporary file that is renamed into place, so
a concurrent run, a crash or a full disk never leaves a torn store, and the
folder's `.gitignore` is written (and repaired) the same way before anything else.
"""

from __future__ import annotations

import gc
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import util
from pathlib import Path
from typing import Any

from pickle_audit.atomic import write_atomically
from pickle_audit.lint.facts import ModuleFacts
from pickle_audit.lint.facts_json import ForgedFacts, decode_facts, encode_facts

_EXTRACTOR_FILES = (
    "facts.py",
    "facts_json.py",
    "extract.py",
    "positions.py",
    "names.py",
    "getstate.py",
    "suppress.py",
    "boundaries.py",
    "cache.py",
)
STORE_FORMAT = "pickle-audit facts"
GITIGNORE = "# created by pickle-audit\n*\n"


def _libcst_version() -> bytes:
    """libcst's version file, found without importing libcst (that costs a warm run 0.25 s)."""
    spec = util.find_spec("libcst")
    if spec is None or spec.origin is None:
        return b""
    try:
        return (Path(spec.origin).parent / "_version.py").read_bytes()
    except OSError:
        return b""


def _extractor_digest() -> str:
    digest = hashlib.blake2b(_libcst_version(), digest_size=8)
    here = Path(__file__).parent
    for name in _EXTRACTOR_FILES:
        digest.update((here / name).read_bytes())
    return digest.hexdigest()


def content_digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cycle collector while building large acyclic data.

    Loading the store creates hundreds of thousands of small objects, none of
    them in a cycle; letting the collector scan them (again and again while the
    rules run) costs more than the whole warm run otherwise does.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _read_store(store: Path, extractor: str) -> dict[str, Any]:
    """The raw entries of a store this extractor wrote; anything else reads as empty."""
    try:
        data = store.read_bytes()
        with paused_gc():
            document = json.loads(data)
    except (OSError, ValueError, RecursionError):
        return {}
    if (
        not isinstance(document, dict)
        or document.get("format") != STORE_FORMAT
        or document.get("extractor") != extractor
        or not isinstance(document.get("entries"), dict)
    ):
        return {}
    return document["entries"]


def _keep_out_of_git(cache_dir: Path) -> None:
    ignore = cache_dir / ".gitignore"
    try:
        if ignore.read_text(encoding="utf-8") == GITIGNORE:
            return
    except (OSError, UnicodeDecodeError):
        pass  # missing, unreadable, or left torn by an earlier failure: write it again
    write_atomically(ignore, GITIGNORE.encode("utf-8"))


class FactsCache:
    """path -> (content digest, facts); `cache_dir=None` disables caching."""

    def __init__(self, cache_dir: Path | None) -> None:
        self.cache_dir = cache_dir
        self._extractor = _extractor_digest()
        self._raw: dict[str, Any] = {}
        self._entries: dict[str, tuple[str, ModuleFacts]] = {}
        self._dirty = False
        self._store = cache_dir / f"facts-{self._extractor}.json" if cache_dir else None
        if self._store is not None and self._store.is_file():
            self._raw = _read_store(self._store, self._extractor)

    def get(self, path: str, digest: str) -> ModuleFacts | None:
        entry = self._entries.get(path)
        if entry is None and path in self._raw:
            entry = self._decoded(path, self._raw.pop(path))
        if entry is not None and entry[0] == digest:
            return entry[1]
        return None

    def _decoded(self, path: str, raw: Any) -> tuple[str, ModuleFacts] | None:
        try:
            if not (isinstance(raw, list) and len(raw) == 2 and isinstance(raw[0], str)):
                raise ForgedFacts("expected [digest, facts]")
            with paused_gc():
                facts = decode_facts(raw[1])
        except (ForgedFacts, RecursionError):
            self._dirty = True  # rewritten without it
            return None
        if facts.path != path:
            self._dirty = True
            return None
        self._entries[path] = (raw[0], facts)
        return self._entries[path]

    def put(self, path: str, digest: str, facts: ModuleFacts) -> None:
        if self._store is not None:
            self._raw.pop(path, None)
            self._entries[path] = (digest, facts)
            self._dirty = True

    def save(self, keep: set[str]) -> str | None:
        """Write the store, dropping entries for files that no longer exist.

        Returns why the cache could not be written (a full disk, a read-only
        folder, a file in the folder's place), or None: a cache that cannot be
        saved costs the next run its speed, never this run its findings.
        """
        if self._store is None or self.cache_dir is None:
            return None
        try:
            self._save(keep)
        except OSError as error:
            where = error.filename or self.cache_dir
            return f"cannot write the facts cache {where}: {error.strerror or error}"
        return None

    def _save(self, keep: set[str]) -> None:
        assert self._store is not None and self.cache_dir is not None
        if self.cache_dir.is_dir():
            _keep_out_of_git(self.cache_dir)  # repaired even on a run that changes nothing
        for path in [path for path in self._raw if path in keep]:  # read, never asked for
            self._decoded(path, self._raw.pop(path))
        stale = [path for path in self._entries if path not in keep] + list(self._raw)
        self._raw.clear()
        for path in stale:
            self._entries.pop(path, None)
        if not self._dirty and not stale:
            return
        if not self.cache_dir.is_dir():
            self.cache_dir.mkdir(parents=True)
            _keep_out_of_git(self.cache_dir)
        for old in self.cache_dir.glob("facts-*"):
            if old != self._store and old.suffix in (".json", ".pickle"):
                old.unlink(missing_ok=True)
        document = {
            "format": STORE_FORMAT,
            "extractor": self._extractor,
            "entries": {
                path: [digest, encode_facts(facts)]
                for path, (digest, facts) in sorted(self._entries.items())
            },
        }
        write_atomically(self._store, json.dumps(document, separators=(",", ":")).encode("utf-8"))
