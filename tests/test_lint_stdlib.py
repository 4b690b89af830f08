"""Lint a representative slice of the running interpreter's standard library.

Real, large, idiosyncratic code with every class treated as reaching a
worker: the run must finish, report only catalogue rules, and turn each file
libcst cannot parse into PA000 instead of stopping.
"""

from __future__ import annotations

import json
import shutil
import sys
import sysconfig
from pathlib import Path

import libcst
import pytest
from lint_helpers import cli

from pickle_audit.catalog import RULES

STDLIB = Path(sysconfig.get_paths()["stdlib"])
PARTS = ("concurrent", "multiprocessing", "logging", "email", "json", "pydoc_data/topics.py")
LIBCST_REJECTS = "(x): int = 1\n"  # valid Python that libcst's parser refuses


def copy_parts(target: Path) -> None:
    for part in PARTS:
        source = STDLIB / part
        if source.is_dir():
            shutil.copytree(source, target / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (target / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / part)


def rejected_by_libcst(files: list[Path]) -> set[Path]:
    """Files libcst refuses: a syntax error, or a literal too deep to parse or to print.

    Positions come from libcst's code generator, which on some interpreters (CPython
    3.12.0-3.12.1, whose C recursion limit is low) fails on long implicit string
    concatenations such as `pydoc_data/topics.py` that the parser itself accepts.
    """
    rejected = set()
    previous = sys.getrecursionlimit()
    for path in files:
        try:
            module = libcst.parse_module(path.read_bytes())
            sys.setrecursionlimit(60_000)  # as the linter's position pass allows
            module.code  # noqa: B018 (the printing is the test)
        except (libcst.ParserSyntaxError, RecursionError):
            rejected.add(path)
        finally:
            sys.setrecursionlimit(previous)
    return rejected


@pytest.mark.timeout(240)
def test_stdlib_slice_with_all_classes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "stdlib"
    copy_parts(project)
    (project / "pyproject.toml").write_text('[project]\nname = "stdlib-slice"\n')
    (project / "json" / "rejected_by_libcst.py").write_text(LIBCST_REJECTS)
    files = sorted(project.rglob("*.py"))
    monkeypatch.chdir(tmp_path)

    run = cli("lint", "stdlib", "--all-classes", "--no-cache", "--format", "json")

    assert run.exit_code in (0, 1), run.output
    findings = json.loads(run.stdout)["findings"]
    assert {finding["rule"] for finding in findings} <= set(RULES)
    assert all(finding["path"].startswith("stdlib/") for finding in findings)
    parse_errors = {
        Path(finding["path"]).resolve() for finding in findings if finding["rule"] == "PA000"
    }
    assert parse_errors == {path.resolve() for path in rejected_by_libcst(files)}
    assert project.joinpath("json", "rejected_by_libcst.py").resolve() in parse_errors
    assert run.stderr.strip().endswith(f"in {len(files)} files.") or run.stderr.strip() == (
        f"All checked: {len(files)} files, no problems."
    )
