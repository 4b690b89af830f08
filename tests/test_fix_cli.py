"""`--fix` / `--diff` through the real CLI: re-linted files are clean of the fixed rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gate_helpers import copy_qcmanybody
from lint_helpers import cli, copy_fixture, write_project

LAMBDA_PROJECT = {
    "energies/__init__.py": "",
    "energies/run.py": (
        "from concurrent.futures import ProcessPoolExecutor\n"
        "\n"
        "\n"
        "def energy(fragment):\n"
        "    return -1.0 * len(fragment)\n"
        "\n"
        "\n"
        "def run(jobs, table):\n"
        "    with ProcessPoolExecutor() as pool:\n"
        "        # one task per fragment\n"
        "        energies = list(pool.map(lambda job: energy(job), jobs))\n"
        "        sizes = pool.submit(\n"
        "            len,  # how many levels\n"
        "            table.keys(),\n"
        "        )\n"
        "        return energies, sizes.result()\n"
    ),
}


@pytest.fixture
def seedbug(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    project = copy_fixture("seedbug", tmp_path)
    monkeypatch.chdir(project)
    return project


def rules_found(output: str) -> list[tuple[str, str, int]]:
    return [(f["rule"], f["path"], f["line"]) for f in json.loads(output)["findings"]]


def test_diff_prints_the_rewrite_and_writes_nothing(seedbug: Path) -> None:
    before = (seedbug / "mbepar/core.py").read_text()
    preview = cli("lint", "--fix", "--diff")
    assert preview.exit_code == 1
    assert preview.stdout == (
        "--- a/mbepar/core.py\n"
        "+++ b/mbepar/core.py\n"
        "@@ -8,7 +8,7 @@\n"
        " class FragmentCore:\n"
        "     def __init__(self, nfragments: int, settings: RunSettings):\n"
        '         self.nbodies_per_level = {"mp2": list(range(1, settings.max_nbody + 1))}\n'
        "-        self.levels = self.nbodies_per_level.keys()\n"
        "+        self.levels = list(self.nbodies_per_level.keys())\n"
        "         self.settings = settings\n"
        "         self.fragments = list(range(nfragments))\n"
        " \n"
    )
    assert "Would fix 1 file." in preview.stderr
    assert (seedbug / "mbepar/core.py").read_text() == before


def test_fix_rewrites_then_relints_and_a_second_run_changes_nothing(seedbug: Path) -> None:
    fixed = cli("lint", "--fix", "--format", "json")
    assert "Fixed 1 file." in fixed.stderr
    remaining = rules_found(fixed.stdout)
    assert [rule for rule, _, _ in remaining] == ["PA202", "PA101"]
    text = (seedbug / "mbepar/core.py").read_text()
    assert "        self.levels = list(self.nbodies_per_level.keys())\n" in text
    again = cli("lint", "--fix", "--format", "json")
    assert "Fixed 0 files." in again.stderr
    assert (seedbug / "mbepar/core.py").read_text() == text
    assert rules_found(again.stdout) == remaining


def test_forwarding_lambda_at_a_process_pool_becomes_the_function(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = write_project(tmp_path / "demo", LAMBDA_PROJECT)
    monkeypatch.chdir(project)
    assert rules_found(cli("lint", "--format", "json").stdout) == [
        ("PA201", "energies/run.py", 11),
        ("PA102", "energies/run.py", 12),
    ]
    fixed = cli("lint", "--fix")
    assert (fixed.exit_code, fixed.stdout) == (0, "")
    expected = LAMBDA_PROJECT["energies/run.py"].replace("lambda job: energy(job)", "energy")
    expected = expected.replace("            table.keys(),\n", "            list(table.keys()),\n")
    assert (project / "energies/run.py").read_text() == expected


def test_qcmanybody_fix_diff_shows_the_mc_levels_rewrite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy_qcmanybody(tmp_path)
    monkeypatch.chdir(tmp_path)
    before = (tmp_path / "qcmanybody/core.py").read_text()
    preview = cli("lint", "--fix", "--diff")
    assert preview.exit_code == 1
    assert "--- a/qcmanybody/core.py\n+++ b/qcmanybody/core.py\n" in preview.stdout
    assert "-        self.mc_levels = self.nbodies_per_mc_level.keys()\n" in preview.stdout
    assert "+        self.mc_levels = list(self.nbodies_per_mc_level.keys())\n" in preview.stdout
    assert (tmp_path / "qcmanybody/core.py").read_text() == before
    cli("lint", "--fix")
    after = rules_found(cli("lint", "--format", "json").stdout)
    assert ("PA102", "qcmanybody/core.py", 120) not in after
