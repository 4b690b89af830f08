"""`[tool.pickle-audit]` settings.

The fields are the contract every stage reads; loading, validation and the
walk up to the nearest pyproject.toml live here too. Validation is strict on
purpose: a misspelt key or rule id that is silently ignored turns a CI gate
into a gate that lets everything through.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath
from typing import Any

from pickle_audit.catalog import expand_selector

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

SERIALIZERS = ("pickle", "cloudpickle", "dill")


class ConfigError(Exception):
    """A configuration or usage error: the CLI exits 2 with this message."""


@dataclass(frozen=True)
class Config:
    select: frozenset[str] | None = None  # None: every rule
    ignore: frozenset[str] = frozenset()
    per_file_ignores: tuple[tuple[str, frozenset[str]], ...] = ()  # (glob, rule ids)
    boundary_classes: tuple[str, ...] = ()  # qualified names, e.g. "pkg.core.Core"
    all_classes: bool = False
    library: bool = False  # the public API's classes are roots (see lint/public_api.py)
    exclude: tuple[str, ...] = ()  # globs, relative to the project root
    respect_gitignore: bool = True  # walked folders skip what .gitignore files ignore
    baseline: str | None = None
    serializer: str = "pickle"  # for boundaries whose serializer is unknown
    fail_on: str = "warning"  # the least severe finding that fails the run (exit 1)
    start_method: str = "portable"  # for calls that do not choose one; see START_METHODS


def find_project_root(paths: Sequence[Path], forced: Path | None = None) -> Path:
    """The project the paths belong to, the same whichever of its files are passed.

    In order: the nearest folder above the paths whose pyproject.toml has a
    `[tool.pickle-audit]` table; else the root of the git work tree; else the
    nearest folder with a pyproject.toml; else the paths' common folder. So in a
    monorepo, a pre-commit run on one staged file of a sub-package uses the
    same root, index and settings as `--all-files` and CI, rather than the
    sub-package's own pyproject.toml. `forced` (`--project-root`) wins.
    """
    if forced is not None:
        return forced.resolve()
    start = common_folder(paths or [Path.cwd()])
    folders = (start, *start.parents)
    for folder in folders:
        if _configures_pickle_audit(folder / "pyproject.toml"):
            return folder
    for marker in (".git", "pyproject.toml"):
        for folder in folders:
            if (folder / marker).exists():
                return folder
    return start


def _configures_pickle_audit(pyproject: Path) -> bool:
    """Whether the file has a `[tool.pickle-audit]` table; a damaged one that mentions
    pickle-audit counts, so that loading it reports the damage instead of skipping it."""
    try:
        data = pyproject.read_bytes()
    except OSError:
        return False
    if b"pickle-audit" not in data:
        return False
    try:
        tool = tomllib.loads(data.decode("utf-8")).get("tool", {})
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        return True
    return isinstance(tool, Mapping) and "pickle-audit" in tool


def common_folder(paths: Sequence[Path]) -> Path:
    """The deepest folder containing every path (a file counts as its folder)."""
    folders = [
        str(path.resolve() if path.resolve().is_dir() else path.resolve().parent) for path in paths
    ]
    return Path(os.path.commonpath(folders))


def load_config(root: Path, explicit: Path | None = None) -> Config:
    """Read `[tool.pickle-audit]` from `explicit`, else from `root/pyproject.toml`.

    A missing file or table gives the defaults. Relative paths in the table
    (`baseline`) are resolved against the folder of the file they are written in.
    """
    source = explicit if explicit is not None else root / "pyproject.toml"
    if explicit is None and not source.is_file():
        return Config()
    try:
        with open(source, "rb") as handle:
            document = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"configuration file {source} does not exist") from None
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"cannot read configuration file {source}: {error}") from None
    table = _pickle_audit_table(document, source, explicit is not None)
    return parse_table(table, source=source, base=source.resolve().parent)


def _pickle_audit_table(document: Mapping[str, Any], source: Path, explicit: bool) -> Any:
    """`[tool.pickle-audit]`; an explicit non-pyproject file may hold the keys at top level."""
    tool = document.get("tool", {})
    if isinstance(tool, Mapping) and "pickle-audit" in tool:
        return tool["pickle-audit"]
    if explicit and source.name != "pyproject.toml":
        return document
    return {}


def parse_table(table: Any, *, source: Path, base: Path) -> Config:
    """Validate the raw TOML table and turn it into a `Config`."""
    where = f"[tool.pickle-audit] in {source}"
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where} must be a table")
    unknown = sorted(set(table) - set(_KEYS))
    if unknown:
        raise ConfigError(f"unknown key {unknown[0]!r} in {where}; known keys: {', '.join(_KEYS)}")
    values: dict[str, Any] = {}
    for key, raw in table.items():
        field_name, convert = _KEYS[key]
        values[field_name] = convert(raw, f"{key!r} in {where}", base)
    return Config(**values)


def rule_ids(selectors: Iterable[str], where: str) -> frozenset[str]:
    """Expand rule ids and prefixes (`PA1`, `PA202`, `ALL`); unknown ones are errors."""
    ids: set[str] = set()
    for selector in selectors:
        try:
            ids |= expand_selector(selector)
        except KeyError:
            raise ConfigError(
                f"unknown rule id {selector.strip()!r} in {where}; "
                "run `pickle-audit rule` to list the rules"
            ) from None
    return frozenset(ids)


def split_selectors(text: str) -> list[str]:
    """`"PA1, PA202"` -> `["PA1", "PA202"]` (the command-line spelling)."""
    return [part for part in (piece.strip() for piece in text.split(",")) if part]


def matches_any(relative_path: str, globs: Sequence[str]) -> bool:
    """Whether a root-relative posix path matches one of the globs, gitignore-style.

    A glob without `/` matches any single file or folder name (`build`,
    `conftest.py`, `*_pb2.py`); a glob with `/` matches the path from the root
    or one of its folders (`tests/data`, `tests/*`), so excluding a folder
    drops everything below it, the way ruff and flake8 behave.
    """
    if not globs:
        return False
    pure = PurePosixPath(relative_path)
    prefixes = [str(pure), *(str(parent) for parent in pure.parents if str(parent) != ".")]
    for pattern in globs:
        pattern = pattern.rstrip("/")
        candidates = prefixes if "/" in pattern else pure.parts
        if any(fnmatchcase(candidate, pattern) for candidate in candidates):
            return True
    return False


def _string_list(raw: Any, where: str) -> list[str]:
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        raise ConfigError(f"{where} must be a list of strings")
    return raw


def _select(raw: Any, where: str, _base: Path) -> frozenset[str]:
    return rule_ids(_string_list(raw, where), where)


def _per_file_ignores(raw: Any, where: str, _base: Path) -> tuple[tuple[str, frozenset[str]], ...]:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where} must be a table of glob = [rule ids]")
    return tuple(
        (glob, rule_ids(_string_list(ids, f"{where}[{glob!r}]"), f"{where}[{glob!r}]"))
        for glob, ids in raw.items()
    )


def _strings(raw: Any, where: str, _base: Path) -> tuple[str, ...]:
    return tuple(_string_list(raw, where))


def _boolean(raw: Any, where: str, _base: Path) -> bool:
    if not isinstance(raw, bool):
        raise ConfigError(f"{where} must be true or false")
    return raw


def _baseline(raw: Any, where: str, base: Path) -> str:
    if not isinstance(raw, str) or not raw:
        raise ConfigError(f"{where} must be a file path")
    return str(base / raw)


SEVERITIES = ("warning", "error")
# "portable": judge what a process start pickles as spawn and forkserver do (the
# default on macOS and Windows, and on Linux from Python 3.14)
START_METHODS = ("portable", "fork", "spawn", "forkserver")
TRACE_START_METHODS = START_METHODS[1:]  # a run has one real start method


def _one_of(choices: Sequence[str]) -> Callable[[Any, str, Path], str]:
    def parse(raw: Any, where: str, _base: Path) -> str:
        if raw not in choices:
            raise ConfigError(f"{where} must be one of {', '.join(choices)}, not {raw!r}")
        return raw

    return parse


_KEYS: dict[str, tuple[str, Callable[[Any, str, Path], Any]]] = {
    "select": ("select", _select),
    "ignore": ("ignore", _select),
    "per-file-ignores": ("per_file_ignores", _per_file_ignores),
    "boundary-classes": ("boundary_classes", _strings),
    "all-classes": ("all_classes", _boolean),
    "library": ("library", _boolean),
    "exclude": ("exclude", _strings),
    "respect-gitignore": ("respect_gitignore", _boolean),
    "baseline": ("baseline", _baseline),
    "serializer": ("serializer", _one_of(SERIALIZERS)),
    "fail-on": ("fail_on", _one_of(SEVERITIES)),
    "start-method": ("start_method", _one_of(START_METHODS)),
}
