"""The lint pipeline: discover files, extract facts (cached, in parallel), judge.

Every Python file below the root is indexed, so a boundary in one file still
explains a finding in another; only `report_files` get findings. Selection,
ignores and inline suppressions are applied by `run.py`, not here.
"""

from __future__ import annotations

import difflib
import functools
import io
import os
import tokenize
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from pickle_audit.config import Config, ConfigError
from pickle_audit.findings import Finding
from pickle_audit.lint.boundaries import find_boundaries
from pickle_audit.lint.cache import FactsCache, content_digest, paused_gc
from pickle_audit.lint.facts import CommentFact, ModuleFacts, ParseErrorFact, extract_facts
from pickle_audit.lint.files import list_python_files
from pickle_audit.lint.index import ProjectIndex, module_name_for
from pickle_audit.lint.locations import Location, make_finding
from pickle_audit.lint.reach import Reachability
from pickle_audit.lint.rules import RuleRunner

_PARALLEL_THRESHOLD = 16  # below this many files, worker start-up costs more than it saves


def discover(
    root: Path, exclude: Sequence[str] = (), *, respect_gitignore: bool = True
) -> list[Path]:
    """Every Python file of the project: what the index covers."""
    return list_python_files([root], root, exclude, respect_gitignore=respect_gitignore)


def decode_source(data: bytes) -> str:
    """Text of a Python file, honouring its coding cookie and BOM."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError:
        encoding = "utf-8"
    if encoding == "utf-8":
        encoding = "utf-8-sig"
    return data.decode(encoding, errors="replace")


def facts_for(path: str, module: str, data: bytes | str) -> ModuleFacts:
    """Facts of one file (its bytes, or text already decoded); any failure becomes a
    parse error, never a crashed run."""
    try:
        return extract_facts(decode_source(data) if isinstance(data, bytes) else data, path, module)
    except Exception as error:  # a bug here must not lose the other files' findings
        return ModuleFacts(
            path=path,
            module=module,
            is_package=path.endswith("__init__.py"),
            parse_error=ParseErrorFact(
                1,
                1,
                f"cannot check the file: pickle-audit failed on it ({error!r})",
                "please report this as a pickle-audit bug; exclude the file meanwhile",
            ),
        )


def _extract_from_disk(job: tuple[str, str]) -> tuple[str, ModuleFacts]:
    path, module = job
    data = Path(path).read_bytes()
    return content_digest(data), facts_for(path, module, data)


def unreadable(path: Path, error: OSError) -> ParseErrorFact:
    if path.is_symlink() and not path.exists():
        return ParseErrorFact(
            1,
            1,
            "cannot read the file: it is a symbolic link to a missing file",
            "remove the link or restore what it points to, or exclude it",
        )
    return ParseErrorFact(
        1,
        1,
        f"cannot read the file: {error.strerror or error}",
        "make the file readable by the user running pickle-audit, or exclude it",
    )


def load_facts(
    files: Sequence[Path],
    cache: FactsCache,
    jobs: int | None,
    unsaved: Mapping[str, str] | None = None,
) -> tuple[list[ModuleFacts], str | None]:
    """Facts for every file, from the cache where the content is unchanged.

    `unsaved` maps absolute paths to content that replaces the file's (an editor
    buffer, stdin); it is parsed here and never cached, since the file on disk
    is what the next run will see. Also returns why the cache could not be
    saved, if it could not.
    """
    results: dict[str, ModuleFacts] = {}
    missing: list[tuple[str, str]] = []
    for path in files:
        key = str(path)
        if unsaved is not None and key in unsaved:
            results[key] = facts_for(key, module_name_for(path), unsaved[key])
            continue
        try:
            data = path.read_bytes()
        except OSError as error:
            results[key] = ModuleFacts(
                path=key,
                module=path.stem,
                is_package=False,
                parse_error=unreadable(path, error),
            )
            continue
        cached = cache.get(key, content_digest(data))
        if cached is not None:
            results[key] = cached
        else:
            missing.append((key, module_name_for(path)))
    workers = jobs if jobs is not None else (os.cpu_count() or 1)
    if workers > 1 and len(missing) >= _PARALLEL_THRESHOLD:
        chunk = max(1, len(missing) // (workers * 8))
        with ProcessPoolExecutor(max_workers=workers) as pool:
            extracted = list(pool.map(_extract_from_disk, missing, chunksize=chunk))
    else:
        extracted = [_extract_from_disk(job) for job in missing]
    for (path, _), (digest, facts) in zip(missing, extracted, strict=True):
        results[path] = facts
        cache.put(path, digest, facts)
    cache_problem = cache.save(set(results))
    return [results[str(path)] for path in files], cache_problem


def _relpath_from(cwd: str) -> Callable[[str], str]:
    """Paths as findings show them: relative to the working directory, with `/`."""

    @functools.cache
    def relpath(path: str) -> str:
        try:
            return os.path.relpath(path, cwd).replace(os.sep, "/")
        except ValueError:
            return path.replace(os.sep, "/")

    return relpath


@dataclass(frozen=True)
class Collected:
    """Raw findings of the report files, how many were checked, warnings about the run
    itself (a cache that could not be written), and the suppression comments of each
    report file that parsed, by its path as findings show it."""

    findings: tuple[Finding, ...]
    files_checked: int
    warnings: tuple[str, ...]
    comments: Mapping[str, tuple[CommentFact, ...]]


def collect_findings(
    root: Path,
    report_files: Sequence[Path],
    config: Config,
    *,
    cache_dir: Path | None,
    jobs: int | None,
    unsaved: Mapping[str, str] | None = None,
) -> Collected:
    """Lint `report_files` (absolute paths) against the whole project at `root`.

    `unsaved`: content to use instead of the file on disk, by absolute path.
    """
    root = root.resolve()
    files = discover(root, config.exclude, respect_gitignore=config.respect_gitignore)
    # callers pass absolute paths; resolving 2000 of them again costs a warm run 0.2 s
    report = {str(p) if Path(p).is_absolute() else str(Path(p).resolve()) for p in report_files}
    known = {str(p) for p in files}
    files.extend(sorted(Path(p) for p in report if p not in known))
    relpath = _relpath_from(os.getcwd())
    with paused_gc():
        all_facts, cache_problem = load_facts(files, FactsCache(cache_dir), jobs, unsaved)
        findings = list(_judge(all_facts, report, config, relpath, root))
    return Collected(
        findings=tuple(sorted(dict.fromkeys(findings), key=Finding.sort_key)),
        files_checked=len(report),
        warnings=(cache_problem,) if cache_problem else (),
        comments={
            relpath(facts.path): facts.comments
            for facts in all_facts
            if facts.path in report and facts.comments  # none where the file did not parse
        },
    )


def _judge(
    all_facts: list[ModuleFacts], report: set[str], config: Config, relpath, root: Path
) -> Iterator[Finding]:
    for facts in all_facts:
        error = facts.parse_error
        if error is not None and facts.path in report:
            where = Location(relpath(facts.path), error.line, error.column, "", "")
            finding = make_finding("PA000", where, error.message)
            yield replace(finding, fix=error.fix) if error.fix else finding
    index = ProjectIndex(all_facts, root)
    check_boundary_classes(index, config.boundary_classes)
    boundaries = find_boundaries(index, config.start_method)
    reach = Reachability(index, boundaries, config, relpath)
    runner = RuleRunner(index, boundaries, reach, relpath)
    for ref in index.all_classes():
        if ref.module.path in report:
            yield from runner.class_findings(ref)
    for boundary in boundaries:
        if boundary.module.path in report:
            yield from runner.boundary_findings(boundary)
    for facts in all_facts:
        if facts.path in report:
            yield from runner.forwarded_findings(facts)


def check_boundary_classes(index: ProjectIndex, names: Sequence[str]) -> None:
    """A `boundary-classes` entry naming no project class is a typo, not a quiet no-op."""
    for name in names:
        if index.lookup_class(name) is None:
            known = sorted(ref.qualified for ref in index.all_classes())
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"boundary-classes: {name!r} is not a class of this project"
                f" (give the module path and class name, e.g. 'pkg.module.Class'){hint}"
            )
