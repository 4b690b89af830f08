"""Shared helpers for the lint command's tests: real projects on disk, the real CLI."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from pickle_audit.cli import main
from pickle_audit.config import Config
from pickle_audit.findings import Finding
from pickle_audit.lint.run import lint_paths

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"


def cli(*args: str) -> Result:
    """Run `pickle-audit ARGS` in-process, keeping stdout and stderr apart."""
    try:
        runner = CliRunner(mix_stderr=False)
    except TypeError:  # click >= 8.2 always keeps them apart
        runner = CliRunner()
    return runner.invoke(main, list(args), catch_exceptions=False)


def run_pickle_audit(*args: str, **options: object) -> subprocess.CompletedProcess[str]:
    """`python -m pickle_audit ARGS` in a real child process, text captured, never raising;
    `options` go to `subprocess.run` (cwd, input, env, preexec_fn)."""
    return subprocess.run(
        [sys.executable, "-m", "pickle_audit", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        **options,
    )


def replace_in(path: Path, old: str, new: str) -> None:
    """Edit a copied fixture file; the text to replace must be there."""
    text = path.read_text()
    assert old in text, f"{old!r} is not in {path}"
    path.write_text(text.replace(old, new))


def copy_fixture(name: str, target: Path) -> Path:
    """A private copy of `fixtures/NAME`, so runs never write into the checkout."""
    return Path(shutil.copytree(FIXTURES / name, target / name))


def write_project(root: Path, files: dict[str, str], table: str = "") -> Path:
    """A project folder with a pyproject.toml (plus `table` lines) and the given files."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(f'[project]\nname = "demo"\n\n{table}')
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def lint_and_run(tmp_path: Path, *parts: str) -> tuple[list[tuple], subprocess.CompletedProcess]:
    """Lint the program made of `parts` (two blank lines apart), then run it."""
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "example"\n')
    script = tmp_path / "program.py"
    script.write_text("\n\n\n".join(textwrap.dedent(part).strip("\n") for part in parts) + "\n")
    result = lint_paths([tmp_path], Config(), tmp_path, use_cache=False, jobs=1)
    findings = [(f.rule, f.line, f.severity) for f in result.findings]
    run = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=90
    )
    return findings, run


def run_script(folder: Path, script: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`python SCRIPT ARGS` in `folder`, a real child process, text captured, never raising."""
    return subprocess.run(
        [sys.executable, script, *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def project_findings(root: Path, monkeypatch: pytest.MonkeyPatch) -> list[Finding]:
    """Every finding of a fresh lint of `root` (cwd there, so paths are relative)."""
    monkeypatch.chdir(root)
    return list(lint_paths([root], Config(), root, use_cache=False, jobs=1).findings)
