"""The `pickle-audit` command line.

Each command parses options and hands plain data to the module that does the
work; exit codes are 0 clean, 1 findings, 2 usage or configuration error.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import traceback
from dataclasses import replace
from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import TextIO

import click

from pickle_audit import __version__
from pickle_audit.atomic import write_atomically
from pickle_audit.catalog import RULES
from pickle_audit.config import (
    START_METHODS,
    TRACE_START_METHODS,
    Config,
    ConfigError,
    find_project_root,
    load_config,
    rule_ids,
    split_selectors,
)
from pickle_audit.findings import LintResult


class UsageProblem(click.ClickException):
    """A configuration or usage error reported without a usage banner; exits 2."""

    exit_code = 2


class _Commands(click.Group):
    """A bug in pickle-audit exits 2 with the traceback, never 1: a gate must not
    mistake a crash for findings."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as error:
            traceback.print_exc()
            raise UsageProblem(
                f"internal error: {type(error).__name__}: {error}"
                " (a pickle-audit bug: please report it with the traceback above)"
            ) from None


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="pickle-audit")
def main() -> None:
    """Find values that cannot be pickled across a process boundary."""


def io_problem(action: str, error: OSError, path: Path | str | None = None) -> UsageProblem:
    """One line naming the file and what the system said; exit 2, never a traceback."""
    named = error.filename
    where = path if path is not None else named
    detail = f" ({named})" if named is not None and str(named) != str(where) else ""
    return UsageProblem(f"{action} {where}: {error.strerror or error}{detail}")


@main.command()
@click.argument(
    "paths",
    nargs=-1,
    type=click.Path(exists=True, allow_dash=True, path_type=Path),
    metavar="[PATH]...",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "sarif", "github"]),
    default="text",
    show_default=True,
    help="Output format (stdout); a one-line summary goes to stderr.",
)
@click.option("--select", metavar="IDS", help="Rules or prefixes to report, e.g. PA1,PA202.")
@click.option("--ignore", metavar="IDS", help="Rules or prefixes to leave out, e.g. PA107.")
@click.option("--all-classes", is_flag=True, help="Treat every class as reaching a worker.")
@click.option(
    "--library",
    is_flag=True,
    help="Treat the public API's classes as reaching a worker (a library whose users"
    " parallelise it).",
)
@click.option(
    "--start-method",
    type=click.Choice(START_METHODS),
    default=None,
    help="How processes start where the code does not say [default: portable, i.e. judged"
    " as spawn/forkserver, or the config's].",
)
@click.option(
    "--baseline",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Report only findings not recorded in this baseline file.",
)
@click.option(
    "--write-baseline",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Record today's findings in this file and exit 0.",
)
@click.option("--fix", is_flag=True, help="Apply safe rewrites (e.g. a view -> list(...)).")
@click.option("--diff", is_flag=True, help="With --fix: print the rewrites, change nothing.")
@click.option("--no-cache", is_flag=True, help="Parse every file, ignoring the facts cache.")
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Parallel parser processes [default: all cores].",
)
@click.option(
    "-o",
    "--output-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report to this file instead of stdout.",
)
@click.option("-e", "--exit-zero", is_flag=True, help="Exit 0 even when there are findings.")
@click.option(
    "--fail-on",
    type=click.Choice(["warning", "error"]),
    default=None,
    help="Least severe finding that makes the run fail [default: warning, or the config's].",
)
@click.option("-q", "--quiet", is_flag=True, help="Print the findings only, no summary.")
@click.option(
    "-s", "--silent", is_flag=True, help="Print nothing but errors; the exit status tells."
)
@click.option("--statistics", is_flag=True, help="Print the number of findings per rule.")
@click.option(
    "--project-root",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Index and configure from this folder instead of discovering the project root.",
)
@click.option(
    "--stdin-filename",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read the source from stdin and lint it as this file (for editors).",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read settings from this TOML file instead of the project's pyproject.toml.",
)
def lint(
    paths: tuple[Path, ...],
    fmt: str,
    select: str | None,
    ignore: str | None,
    all_classes: bool,
    library: bool,
    start_method: str | None,
    baseline: Path | None,
    write_baseline: Path | None,
    fix: bool,
    diff: bool,
    no_cache: bool,
    jobs: int | None,
    output_file: Path | None,
    exit_zero: bool,
    fail_on: str | None,
    quiet: bool,
    silent: bool,
    statistics: bool,
    project_root: Path | None,
    stdin_filename: Path | None,
    config_file: Path | None,
) -> None:
    """Statically find values that cannot cross a process boundary.

    PATH defaults to the project root: the nearest folder above the paths whose
    pyproject.toml has a [tool.pickle-audit] table, else the git work tree's root,
    else the nearest folder with a pyproject.toml.
    Exit status: 0 no findings, 1 findings, 2 usage, configuration or I/O error.
    """
    unsaved = None
    if stdin_filename is not None:
        _check_stdin_options(paths, fix or diff, write_baseline)
        from pickle_audit.lint.engine import decode_source

        paths = (stdin_filename,)
        unsaved = {stdin_filename: decode_source(click.get_binary_stream("stdin").read())}
    elif Path("-") in paths:
        raise UsageProblem("`-` reads the source from stdin: name the file with --stdin-filename")
    root = find_project_root(list(paths) or [Path.cwd()], project_root)
    try:
        config = _command_line_config(
            load_config(root, config_file),
            select,
            ignore,
            all_classes=all_classes,
            library=library,
            start_method=start_method,
        )
    except ConfigError as error:
        raise UsageProblem(str(error)) from None
    from pickle_audit.lint.run import lint_paths  # imported late: `rule` needs no parser
    from pickle_audit.report import FORMATS, render, render_text, statistics_table, summary

    if fmt not in FORMATS:
        raise UsageProblem(f"--format {fmt} is not available in this installation")
    targets = list(paths) or [root]

    def run() -> LintResult:
        try:
            return lint_paths(
                targets, config, root, use_cache=not no_cache, jobs=jobs, unsaved=unsaved
            )
        except ConfigError as error:  # found once the project is indexed
            raise UsageProblem(str(error)) from None

    result = run()
    if fix or diff:
        if _apply_fixes(result, preview=diff):
            if diff:
                raise SystemExit(1)
            result = run()
        elif diff:
            return
    for warning in () if silent else result.warnings:
        click.echo(f"warning: {warning}", err=True)
    # Named paths cover only part of the project: baseline entries elsewhere are left alone.
    scope = list(paths) or None
    if write_baseline is not None:
        baselines = _optional_module("pickle_audit.baseline", "--write-baseline")
        try:
            baselines.write_baseline(write_baseline, result.findings, scope)
        except ConfigError as error:
            raise UsageProblem(str(error)) from None
        except OSError as error:
            raise io_problem("cannot write the baseline", error, write_baseline) from None
        click.echo(_baseline_written(result, write_baseline, baselines), err=True)
        return
    baseline_file = baseline or (Path(config.baseline) if config.baseline else None)
    if baseline_file is not None:
        result = _without_baselined(result, baseline_file, scope)
    if statistics:
        report = statistics_table(result)
    elif fmt == "text" and output_file is None and _wants_colour(sys.stdout):
        report = render_text(result, colour=True)
    else:
        report = render(result, fmt)
    if output_file is not None:
        try:
            write_atomically(output_file, report.encode("utf-8"))
        except OSError as error:
            raise io_problem("cannot write the report", error, output_file) from None
    elif not silent:
        click.echo(report, nl=False, color=True)  # styled only when _wants_colour said so
    for entry in () if silent else result.stale_baseline:
        click.echo(f"stale baseline entry (no longer found): {entry}", err=True)
    if not (quiet or silent):
        click.echo(summary(result), err=True)
    threshold = fail_on or config.fail_on
    failing = [f for f in result.findings if threshold == "warning" or f.severity == "error"]
    raise SystemExit(1 if failing and not exit_zero else 0)


def _wants_colour(stream: TextIO) -> bool:
    """Colour on a terminal; NO_COLOR (https://no-color.org) turns it off, FORCE_COLOR on."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _check_stdin_options(
    paths: tuple[Path, ...], fixing: bool, write_baseline: Path | None
) -> None:
    """Stdin is one file that exists nowhere else: nothing to walk, rewrite or record."""
    if any(path != Path("-") for path in paths):
        raise UsageProblem("--stdin-filename lints stdin alone: name no other PATH")
    if fixing or write_baseline is not None:
        option = "--write-baseline" if write_baseline is not None else "--fix/--diff"
        raise UsageProblem(f"{option} works on files, not on stdin (--stdin-filename)")


def _baseline_written(result: LintResult, path: Path, baselines: ModuleType) -> str:
    """What was recorded, and what a baseline never records (files nobody could check)."""
    unchecked = [f for f in result.findings if f.rule in baselines.UNBASELINABLE_RULES]
    text = f"Wrote {len(result.findings) - len(unchecked)} findings to baseline {path}."
    if unchecked:
        files = "file" if len(unchecked) == 1 else "files"
        text += (
            f" Not recorded: {len(unchecked)} {files} that could not be checked (PA000),"
            " which the gate keeps reporting: "
            + ", ".join(f"{f.path} ({f.message})" for f in unchecked)
        )
    return text


def _command_line_config(
    config: Config,
    select: str | None,
    ignore: str | None,
    *,
    all_classes: bool,
    library: bool,
    start_method: str | None,
) -> Config:
    """Command-line options on top of the file: --select replaces, --ignore adds, a flag
    turns its setting on, --start-method replaces."""
    if select is not None:
        config = replace(config, select=rule_ids(split_selectors(select), "--select"))
    if ignore is not None:
        config = replace(
            config, ignore=config.ignore | rule_ids(split_selectors(ignore), "--ignore")
        )
    return replace(
        config,
        all_classes=config.all_classes or all_classes,
        library=config.library or library,
        start_method=start_method or config.start_method,
    )


def _optional_module(name: str, option: str) -> ModuleType:
    """Import the module behind an option, or explain that this build lacks it."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name != name:
            raise
        raise UsageProblem(f"{option} is not available: {name} is not installed") from None


def _apply_fixes(result: LintResult, *, preview: bool) -> bool:
    """Rewrite files (or print the diff when previewing); whether there was anything to do."""
    fixer = _optional_module("pickle_audit.lint.fix", "--diff" if preview else "--fix")
    fixes = fixer.plan_fixes(result.findings)
    if preview:
        click.echo(fixer.unified_diff(fixes), nl=False)
    else:
        try:
            fixes = fixer.apply_fixes(fixes)
        except OSError as error:
            raise io_problem("cannot apply the fix to", error) from None
    verb = "Would fix" if preview else "Fixed"
    click.echo(f"{verb} {len(fixes)} file{'' if len(fixes) == 1 else 's'}.", err=True)
    return bool(fixes)


def _without_baselined(
    result: LintResult, baseline_file: Path, scope: list[Path] | None
) -> LintResult:
    baselines = _optional_module("pickle_audit.baseline", "--baseline")
    try:
        new, stale = baselines.apply_baseline(
            result.findings, baselines.load_baseline(baseline_file), scope
        )
    except ConfigError as error:
        raise UsageProblem(str(error)) from None
    return replace(result, findings=tuple(new), stale_baseline=tuple(stale))


@main.command()
@click.argument("rule_id", required=False, metavar="[ID]")
@click.option(
    "--output-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: the rule records (code, name, severity, summary, fix, explanation).",
)
@click.option("--all", "every", is_flag=True, help="Print the documentation of every rule.")
def rule(rule_id: str | None, output_format: str, every: bool) -> None:
    """List the rules, or print the documentation of rule ID (e.g. PA102)."""
    if rule_id is not None and every:
        raise UsageProblem("give a rule ID or --all, not both")
    chosen = list(RULES) if rule_id is None else [_known_rule_id(rule_id)]
    if output_format == "json":
        records = [_rule_record(key) for key in chosen]
        document = records[0] if rule_id is not None else records
        click.echo(json.dumps(document, indent=2))
    elif rule_id is None and not every:
        width = max(len(record.name) for record in RULES.values())
        for record in RULES.values():
            click.echo(
                f"{record.id}  {record.name:<{width}}  {record.severity:<7}  {record.summary}"
            )
    else:
        click.echo("\n".join(rule_doc(key) for key in chosen), nl=False)


def _known_rule_id(rule_id: str) -> str:
    key = rule_id.strip().upper()
    if key not in RULES:
        raise UsageProblem(
            f"unknown rule id {rule_id!r}; run `pickle-audit rule` to list the rules"
        )
    return key


def _rule_record(rule_id: str) -> dict[str, str]:
    """A rule as ruff's `rule --output-format json` gives it, in our catalogue's terms."""
    record = RULES[rule_id]
    return {
        "code": record.id,
        "name": record.name,
        "severity": record.severity,
        "summary": record.summary,
        "fix": record.fix,
        "explanation": rule_doc(rule_id),
    }


def rule_doc(rule_id: str) -> str:
    """The Markdown doc shipped for a rule (`rules/PA102.md`, inside the package)."""
    return (
        resources.files("pickle_audit")
        .joinpath("rules")
        .joinpath(f"{rule_id}.md")
        .read_text("utf-8")
    )


@main.command()
def server() -> None:
    """Run the language server (LSP over stdio) that editors start.

    Needs the `server` extra: pip install 'pickle-audit[server]'.
    """
    try:
        from pickle_audit.server import serve
    except ModuleNotFoundError as error:
        if error.name not in {"pygls", "lsprotocol"}:
            raise
        raise UsageProblem(
            f"the language server needs {error.name}: pip install 'pickle-audit[server]'"
        ) from None
    serve()


_SERIALIZER_CHOICE = click.Choice(["pickle", "cloudpickle", "dill"])


@main.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option(
    "--serializer",
    type=_SERIALIZER_CHOICE,
    default=None,
    help="Judge every payload by this serializer [default: each boundary's own].",
)
@click.option("--keep-going", is_flag=True, help="Record every bad payload instead of stopping.")
@click.option(
    "--start-method",
    type=click.Choice(TRACE_START_METHODS),
    default=None,
    help="Run as where this is the default start method (forkserver: Linux from Python 3.14;"
    " spawn: macOS, Windows) [default: this Python's].",
)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report to this file [default: stderr, apart from the script's stdout].",
)
@click.argument("script", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("script_args", nargs=-1, type=click.UNPROCESSED, metavar="[ARGS]...")
def trace(
    serializer: str | None,
    keep_going: bool,
    start_method: str | None,
    fmt: str,
    output: Path | None,
    script: Path,
    script_args: tuple[str, ...],
) -> None:
    """Run SCRIPT as __main__ and audit every payload at a process boundary.

    Stops at the first bad payload (exit 1) naming the call site, unless
    --keep-going; a clean run exits with the script's own status. With
    --start-method, also reports payloads pickled only under that method and
    module globals its workers would see differently (PA204).
    """
    import multiprocessing

    from pickle_audit.trace.runner import run_script
    from pickle_audit.trace.serializers import SerializerUnavailable, get_serializer

    try:
        if serializer is not None:
            get_serializer(serializer)
    except SerializerUnavailable as error:
        raise UsageProblem(str(error)) from None
    if start_method is not None and start_method not in multiprocessing.get_all_start_methods():
        raise UsageProblem(f"start method {start_method!r} is not available on this platform")
    outcome = run_script(
        script,
        list(script_args),
        serializer=serializer,
        keep_going=keep_going,
        start_method=start_method,
    )
    text = outcome.format_json() if fmt == "json" else outcome.format_text()
    if output is not None:
        try:
            write_atomically(output, (text + "\n").encode("utf-8"))
        except OSError as error:
            raise io_problem("cannot write the report", error, output) from None
    else:
        click.echo(text, err=True)
    raise SystemExit(outcome.status)


@main.command()
@click.argument("target", metavar="MODULE:EXPR")
@click.option("--serializer", type=_SERIALIZER_CHOICE, default="pickle", show_default=True)
@click.option("--roundtrip", is_flag=True, help="Also load the bytes back and compare.")
@click.option("--spawn", is_flag=True, help="Also load the bytes in a fresh interpreter.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def check(target: str, serializer: str, roundtrip: bool, spawn: bool, fmt: str) -> None:
    """Import MODULE, evaluate EXPR in it and audit the value (exit 0 clean, 1 problems)."""

    from pickle_audit.trace.audit import audit
    from pickle_audit.trace.serializers import SerializerUnavailable

    module_name, _, expression = target.partition(":")
    if not module_name or not expression:
        raise UsageProblem(f"expected MODULE:EXPR (e.g. mypkg.tasks:make_task()), got {target!r}")
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))  # like `python -m`: the working directory imports
    try:
        module = importlib.import_module(module_name)
    except Exception as error:
        raise UsageProblem(
            f"cannot import {module_name!r}: {type(error).__name__}: {error}"
        ) from None
    try:
        value = eval(expression, vars(module))
    except Exception as error:
        raise UsageProblem(
            f"cannot evaluate {expression!r} in module {module_name}:"
            f" {type(error).__name__}: {error}"
        ) from None
    try:
        report = audit(
            value, name=expression, serializer=serializer, roundtrip=roundtrip, spawn=spawn
        )
    except SerializerUnavailable as error:
        raise UsageProblem(str(error)) from None
    click.echo(report.to_json() if fmt == "json" else report.format())
    raise SystemExit(0 if report.ok else 1)
