"""Shared helpers for the lint command's tests: real projects on disk, the real CLI."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner, Result

from pickle_audit.cli import main

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"


def cli(*args: str) -> Result:
    """Run `pickle-audit ARGS` in-process, keeping stdout and stderr apart."""
    try:
        runner = CliRunner(mix_stderr=False)
    except TypeError:  # click >= 8.2 always keeps them apart
        runner = CliRunner()
    return runner.invoke(main, list(args), catch_exceptions=False)


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
