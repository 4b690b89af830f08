"""Acceptance: the real pre-commit hook, installed from this checkout, gates a real repository.

pre-commit builds the hook's own virtual environment by pip-installing this
package (from a git copy of the current working tree), once per module.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from lint_helpers import FIXTURES, REPO
from pre_commit.clientlib import load_manifest

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.invalid",
}


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)


def git(cwd: Path, env: dict[str, str], *args: str) -> str:
    done = run(["git", *args], cwd, env)
    assert done.returncode == 0, done.stderr
    return done.stdout


def snapshot_checkout(target: Path, env: dict[str, str]) -> str:
    """A git repository holding this checkout's working tree; returns its commit."""
    listed = run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], REPO, env
    ).stdout
    for name in sorted(set(filter(None, listed.split("\0")))):
        source, copy = REPO / name, target / name
        if not source.is_symlink() and not source.is_file():
            continue  # deleted in the working tree
        copy.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            copy.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, copy)
    git(target, env, "init", "-q")
    git(target, env, "add", "-A")
    git(target, env, "commit", "-q", "-m", "snapshot")
    return git(target, env, "rev-parse", "HEAD").strip()


@pytest.fixture(scope="module")
def hook_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment whose PRE_COMMIT_HOME already holds the built hook."""
    base = tmp_path_factory.mktemp("precommit")
    env = {**os.environ, **GIT_IDENTITY, "PRE_COMMIT_HOME": str(base / "cache")}
    env.pop("PRE_COMMIT", None)
    source = base / "pickle-audit-src"
    rev = snapshot_checkout(source, env)
    env["HOOK_REPO"], env["HOOK_REV"] = str(source), rev
    warmup = base / "warmup"
    make_project(warmup, env)
    installed = run([sys.executable, "-m", "pre_commit", "install-hooks"], warmup, env)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return env


def make_project(root: Path, env: dict[str, str]) -> Path:
    shutil.copytree(FIXTURES / "seedbug", root)
    (root / ".pre-commit-config.yaml").write_text(
        "repos:\n"
        f"  - repo: {env['HOOK_REPO']}\n"
        f"    rev: {env['HOOK_REV']}\n"
        "    hooks:\n"
        "      - id: pickle-audit\n"
    )
    (root / ".gitignore").write_text(".pickle-audit-cache/\n")
    git(root, env, "init", "-q")
    git(root, env, "add", "-A")
    git(root, env, "commit", "-q", "-m", "project")
    return root


def pre_commit_all_files(root: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    git(root, env, "add", "-A")
    return run(
        [sys.executable, "-m", "pre_commit", "run", "--all-files", "--color", "never"], root, env
    )


def pre_commit_files(root: Path, env: dict[str, str], *files: str) -> subprocess.CompletedProcess:
    """The hook on some files only, as a commit that stages just those runs it."""
    command = [sys.executable, "-m", "pre_commit", "run", "--files", *files, "--color", "never"]
    return run(command, root, env)


def finding_lines(output: str) -> list[str]:
    return [
        line.split(" ")[0] + " " + line.split(" ")[1]
        for line in output.splitlines()
        if line.startswith("mbepar/")
    ]


@pytest.mark.timeout(900)
def test_hook_gates_new_findings_only(hook_env: dict[str, str], tmp_path: Path) -> None:
    env = hook_env
    project = make_project(tmp_path / "project", env)
    core = project / "mbepar" / "core.py"
    original = core.read_text()
    assert "        self.levels = self.nbodies_per_level.keys()\n" in original

    first = pre_commit_all_files(project, env)
    assert first.returncode == 1, first.stdout + first.stderr
    assert "mbepar/core.py:11:9: PA102" in first.stdout

    # One file passed (a commit touching only core.py): only its finding is reported,
    # but the chain shows the index still saw parallel.py, where the pool is.
    one_file = pre_commit_files(project, env, "mbepar/core.py")
    assert one_file.returncode == 1, one_file.stdout + one_file.stderr
    assert finding_lines(one_file.stdout) == ["mbepar/core.py:11:9: PA102"]
    assert "FragmentCore reaches a worker via ParallelDriver.core (mbepar/parallel.py:14)" in (
        one_file.stdout
    )

    baseline = run(
        [
            sys.executable,
            "-m",
            "pickle_audit",
            "lint",
            "--write-baseline",
            "pickle-audit-baseline.json",
        ],
        project,
        env,
    )
    assert baseline.returncode == 0, baseline.stderr
    with (project / "pyproject.toml").open("a") as handle:
        handle.write('baseline = "pickle-audit-baseline.json"\n')
    adopted = pre_commit_all_files(project, env)
    assert adopted.returncode == 0, adopted.stdout + adopted.stderr

    core.write_text(
        original.replace(
            "        self.settings = settings\n",
            "        self.settings = settings\n"
            "        self.weights = self.nbodies_per_level.values()\n",
        )
    )
    regressed = pre_commit_all_files(project, env)
    assert regressed.returncode == 1, regressed.stdout + regressed.stderr
    assert finding_lines(regressed.stdout) == ["mbepar/core.py:13:9: PA102"]

    core.write_text(
        original.replace(
            '"""Which fragments a many-body expansion computes."""\n',
            '"""Which fragments a many-body expansion computes."""\n\n'
            "# Levels are keyed by model chemistry.\nDEFAULT_LEVEL = 'mp2'\n",
        ).replace(
            "        self.levels = self.nbodies_per_level.keys()\n",
            "        self.levels = (\n"
            "            self.nbodies_per_level.keys()  # all levels\n"
            "        )\n",
        )
    )
    reformatted = pre_commit_all_files(project, env)
    assert reformatted.returncode == 0, reformatted.stdout + reformatted.stderr


MONOREPO = {
    "packages/core/pyproject.toml": '[project]\nname = "core"\n',
    "packages/core/corelib/__init__.py": "",
    "packages/core/corelib/levels.py": (
        "class Levels:\n    def __init__(self, table):\n        self.order = table.keys()\n"
    ),
    "packages/runner/pyproject.toml": '[project]\nname = "runner"\n',
    "packages/runner/runlib/__init__.py": "",
    "packages/runner/runlib/run.py": (
        "from concurrent.futures import ProcessPoolExecutor\n\n"
        "from corelib.levels import Levels\n\n\n"
        "def count(levels: Levels) -> int:\n    return len(list(levels.order))\n\n\n"
        "def main() -> None:\n    with ProcessPoolExecutor() as pool:\n"
        '        print(pool.submit(count, Levels({"mp2": 2})).result())\n'
    ),
}


@pytest.mark.timeout(900)
def test_one_staged_file_in_a_monorepo_sees_the_sibling_package(
    hook_env: dict[str, str], tmp_path: Path
) -> None:
    """The pool is in another package with its own pyproject.toml: the git root is the root."""
    env = hook_env
    project = tmp_path / "mono"
    for name, text in MONOREPO.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text)
    (project / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {env['HOOK_REPO']}\n    rev: {env['HOOK_REV']}\n"
        "    hooks:\n      - id: pickle-audit\n"
    )
    (project / ".gitignore").write_text(".pickle-audit-cache/\n")
    git(project, env, "init", "-q")
    git(project, env, "add", "-A")
    git(project, env, "commit", "-q", "-m", "monorepo")
    expected = "packages/core/corelib/levels.py:3:9: PA102"
    every_file = pre_commit_all_files(project, env)
    assert every_file.returncode == 1, every_file.stdout + every_file.stderr
    one_file = pre_commit_files(project, env, "packages/core/corelib/levels.py")
    assert one_file.returncode == 1, one_file.stdout + one_file.stderr
    for output in (every_file.stdout, one_file.stdout):
        assert [line for line in output.splitlines() if ": PA" in line] == [
            f"{expected} dict view stored on Levels.order cannot be pickled"
        ]
        assert "<- pool.submit(count, ...) (packages/runner/runlib/run.py:12)" in output


def test_manifest_declares_the_hook_as_pre_commit_reads_it() -> None:
    (hook,) = load_manifest(str(REPO / ".pre-commit-hooks.yaml"))
    assert {key: hook[key] for key in ("id", "name", "entry", "language")} == {
        "id": "pickle-audit",
        "name": "pickle-audit",
        "entry": "pickle-audit lint",
        "language": "python",
    }
    assert hook["types_or"] == ["python", "pyi"]
    assert hook["require_serial"] is True
    assert hook["pass_filenames"] is True


WARM_RUN_PROBE = """
import sys
from pickle_audit.cli import main
try:
    main(["lint", "mbepar/core.py"])
except SystemExit as done:
    print(done.code, "libcst" in sys.modules, file=sys.stderr)
"""


def test_a_warm_one_file_run_never_imports_the_parser(tmp_path: Path) -> None:
    """What keeps the hook fast: with the cache warm, libcst (0.25 s to import) stays out."""
    project = shutil.copytree(FIXTURES / "seedbug", tmp_path / "seedbug")
    probe = [sys.executable, "-c", WARM_RUN_PROBE]
    cold = subprocess.run(probe, cwd=project, capture_output=True, text=True, check=False)
    warm = subprocess.run(probe, cwd=project, capture_output=True, text=True, check=False)
    assert cold.stderr.splitlines()[-1] == "1 True"
    assert warm.stderr.splitlines()[-1] == "1 False"
    assert "mbepar/core.py:11:9: PA102" in warm.stdout
