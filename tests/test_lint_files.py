"""Which files the linter reads: `.gitignore`, `build`/`dist` packages and PEP 420
namespace packages, each on a real project tree with the real engine."""

from __future__ import annotations

from pathlib import Path

import pytest
from lint_core_helpers import lint, summary, write_files

from pickle_audit.config import Config
from pickle_audit.lint.files import list_python_files
from pickle_audit.lint.gitignore import ignore_files_above, is_ignored, read_ignore_file

BAD_CORE = """
class Core:
    def __init__(self, table):
        self.levels = table.keys()
"""

RUNNER = """
from concurrent.futures import ProcessPoolExecutor

from {module} import Core


def energy(core):
    return len(core.levels)


def main():
    with ProcessPoolExecutor() as pool:
        return list(pool.map(energy, [Core({{1: 2}})]))
"""


def relative(root: Path, files: list[Path]) -> list[str]:
    return [path.relative_to(root.resolve()).as_posix() for path in files]


def test_gitignore_files_are_read_as_git_reads_them(tmp_path: Path) -> None:
    root = write_files(
        tmp_path / "proj",
        {
            ".gitignore": "generated/\n*_pb2.py\n/scratch.py\n[\n",
            "pkg/__init__.py": "",
            "pkg/core.py": "",
            "pkg/service_pb2.py": "",
            "pkg/generated/models.py": "",
            "pkg/scratch.py": "",  # `/scratch.py` is anchored to the root's folder
            "scratch.py": "",
            "vendor/.gitignore": "*.py\n!keep.py\n",
            "vendor/keep.py": "",
            "vendor/lib.py": "",
        },
    )
    walked = list_python_files([root], root, [])
    assert relative(root, walked) == [
        "pkg/__init__.py",
        "pkg/core.py",
        "pkg/scratch.py",
        "vendor/keep.py",
    ]
    # the bad `[` line is skipped on its own: the rest of the file still applies
    assert read_ignore_file(root) is not None
    assert is_ignored(root / "pkg" / "service_pb2.py", False, (read_ignore_file(root),))
    # a walk that starts inside the project still honours the project's file
    assert relative(root, list_python_files([root / "pkg"], root, [])) == [
        "pkg/__init__.py",
        "pkg/core.py",
        "pkg/scratch.py",
    ]
    assert ignore_files_above(root / "pkg" / "generated", root)[0].folder == root
    # a file named on the command line is linted, as ruff does; the setting turns it all off
    assert relative(root, list_python_files([root / "scratch.py"], root, [])) == ["scratch.py"]
    everything = list_python_files([root], root, [], respect_gitignore=False)
    assert len(everything) == 8


def test_a_finding_in_an_ignored_file_is_not_reported_and_its_boundaries_do_not_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_files(
        tmp_path / "proj",
        {
            ".gitignore": "experiments/\n",
            "demo/__init__.py": "",
            "demo/core.py": BAD_CORE,
            "experiments/run.py": RUNNER.format(module="demo.core"),
        },
    )
    monkeypatch.chdir(root)
    assert summary(lint(root)) == []
    (root / ".gitignore").write_text("")
    assert summary(lint(root)) == [("PA102", "demo/core.py", 3)]
    (root / ".gitignore").write_text("experiments/\n")
    assert summary(lint(root, Config(respect_gitignore=False))) == [("PA102", "demo/core.py", 3)]


@pytest.mark.parametrize("folder", ["build", "dist"])
def test_a_build_or_dist_folder_is_linted_when_it_is_a_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, folder: str
) -> None:
    root = write_files(
        tmp_path / "proj",
        {
            f"demo/{folder}/__init__.py": "",
            f"demo/{folder}/core.py": BAD_CORE,
            "demo/__init__.py": "",
            "demo/run.py": RUNNER.format(module=f"demo.{folder}.core"),
            f"{folder}/lib/demo/core.py": BAD_CORE,  # tool output: not a package, skipped
        },
    )
    monkeypatch.chdir(root)
    assert summary(lint(root)) == [("PA102", f"demo/{folder}/core.py", 3)]
    assert f"{folder}/lib/demo/core.py" not in relative(root, list_python_files([root], root, []))


@pytest.mark.parametrize("layout", ["", "src/"])
def test_namespace_packages_resolve_across_modules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layout: str
) -> None:
    """No `__init__.py` anywhere: `acme.chem.core` is still the file below `acme/chem`."""
    root = write_files(
        tmp_path / "proj",
        {
            f"{layout}acme/chem/core.py": BAD_CORE,
            f"{layout}acme/run.py": RUNNER.format(module="acme.chem.core"),
        },
    )
    monkeypatch.chdir(root)
    findings = lint(root)
    assert summary(findings) == [("PA102", f"{layout}acme/chem/core.py", 3)]
    assert [str(step) for step in findings[0].chain] == [
        f"<- pool.map(energy, ...) ({layout}acme/run.py:12)"
    ]
