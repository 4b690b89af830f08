"""`--write-baseline` / `--baseline` / config `baseline` through the real CLI, on real files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import qcmanybody
from gate_helpers import copy_qcmanybody
from lint_helpers import cli, copy_fixture

CORE_VIEW = "        self.levels = self.nbodies_per_level.keys()\n"
SETTINGS_LINE = "        self.settings = settings\n"
NEW_VIEW = "        self.weights = self.nbodies_per_level.values()\n"


@pytest.fixture
def seedbug(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of fixtures/seedbug, which is also the working directory."""
    project = copy_fixture("seedbug", tmp_path)
    monkeypatch.chdir(project)
    return project


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def use_baseline_in_config(project: Path, name: str = "pickle-audit-baseline.json") -> None:
    with (project / "pyproject.toml").open("a") as handle:
        handle.write(f'baseline = "{name}"\n')


def test_write_baseline_records_every_finding_and_exits_0(seedbug: Path) -> None:
    written = cli("lint", "--write-baseline", "pickle-audit-baseline.json")
    assert written.exit_code == 0
    assert written.stdout == ""
    assert written.stderr == "Wrote 3 findings to baseline pickle-audit-baseline.json.\n"
    entries = json.loads((seedbug / "pickle-audit-baseline.json").read_text())["entries"]
    assert [(e["rule"], e["path"], e["symbol"], e["snippet"], e["count"]) for e in entries] == [
        ("PA102", "mbepar/core.py", "FragmentCore.levels", CORE_VIEW.strip(), 1),
        ("PA202", "mbepar/parallel.py", entries[1]["symbol"], entries[1]["snippet"], 1),
        (
            "PA101",
            "mbepar/settings.py",
            "RunSettings.energy_transform",
            "energy_transform: object = lambda energy: energy",
            1,
        ),
    ]
    assert "self.run_fragment" in entries[1]["snippet"]


def test_write_baseline_says_that_unchecked_files_are_not_recorded(seedbug: Path) -> None:
    (seedbug / "mbepar" / "gone.py").symlink_to(seedbug / "mbepar" / "deleted.py")
    written = cli("lint", "--write-baseline", "baseline.json")
    assert written.exit_code == 0
    assert written.stderr == (
        "Wrote 3 findings to baseline baseline.json. Not recorded: 1 file that could not be"
        " checked (PA000), which the gate keeps reporting: mbepar/gone.py (cannot read the"
        " file: it is a symbolic link to a missing file)\n"
    )
    gate = cli("lint", "--baseline", "baseline.json", "--format", "json")
    assert gate.exit_code == 1
    assert [f["rule"] for f in json.loads(gate.stdout)["findings"]] == ["PA000"]


def test_baseline_passes_until_a_new_finding_appears(seedbug: Path) -> None:
    assert cli("lint", "--write-baseline", "base.json").exit_code == 0
    clean = cli("lint", "--baseline", "base.json")
    assert (clean.exit_code, clean.stdout) == (0, "")

    edit(seedbug / "mbepar/core.py", SETTINGS_LINE, SETTINGS_LINE + NEW_VIEW)
    regressed = cli("lint", "--baseline", "base.json", "--format", "json")
    assert regressed.exit_code == 1
    findings = json.loads(regressed.stdout)["findings"]
    assert [(f["rule"], f["path"], f["line"]) for f in findings] == [
        ("PA102", "mbepar/core.py", 13)
    ]


def test_config_baseline_survives_moves_and_reformatting(seedbug: Path) -> None:
    assert cli("lint", "--write-baseline", "pickle-audit-baseline.json").exit_code == 0
    use_baseline_in_config(seedbug)
    core = seedbug / "mbepar/core.py"
    edit(
        core,
        "from itertools import combinations\n",
        "import os\nfrom itertools import combinations\n\nSEP = os.sep\n",
    )
    edit(
        core,
        CORE_VIEW,
        "        self.levels = (\n            self.nbodies_per_level.keys()  # levels\n        )\n",
    )
    moved = cli("lint")
    assert (moved.exit_code, moved.stdout) == (0, "")
    assert "stale" not in moved.stderr


def test_a_copy_of_a_baselined_line_is_new(seedbug: Path) -> None:
    assert cli("lint", "--write-baseline", "pickle-audit-baseline.json").exit_code == 0
    use_baseline_in_config(seedbug)
    edit(seedbug / "mbepar/core.py", CORE_VIEW, CORE_VIEW + CORE_VIEW)
    doubled = cli("lint")
    assert doubled.exit_code == 1
    assert doubled.stdout.startswith(
        "mbepar/core.py:12:9: PA102 dict view stored on FragmentCore.levels cannot be pickled\n"
    )
    assert "mbepar/core.py:11:" not in doubled.stdout


def test_fixed_findings_are_reported_stale_then_pruned(seedbug: Path) -> None:
    assert cli("lint", "--write-baseline", "pickle-audit-baseline.json").exit_code == 0
    use_baseline_in_config(seedbug)
    edit(
        seedbug / "mbepar/core.py",
        CORE_VIEW,
        CORE_VIEW.replace("= self", "= list(self").replace("()\n", "())\n"),
    )
    fixed = cli("lint")
    assert (fixed.exit_code, fixed.stdout) == (0, "")
    assert (
        "stale baseline entry (no longer found): PA102 mbepar/core.py FragmentCore.levels: "
        "self.levels = self.nbodies_per_level.keys()\n"
    ) in fixed.stderr
    assert cli("lint", "--write-baseline", "pickle-audit-baseline.json").exit_code == 0
    pruned = json.loads((seedbug / "pickle-audit-baseline.json").read_text())["entries"]
    assert [e["rule"] for e in pruned] == ["PA202", "PA101"]
    assert "stale" not in cli("lint").stderr


def test_linting_one_file_does_not_call_other_files_entries_stale(seedbug: Path) -> None:
    assert cli("lint", "--write-baseline", "pickle-audit-baseline.json").exit_code == 0
    use_baseline_in_config(seedbug)
    one = cli("lint", "mbepar/settings.py")
    assert (one.exit_code, one.stdout) == (0, "")
    assert "stale" not in one.stderr
    assert (
        cli(
            "lint", "mbepar/settings.py", "--write-baseline", "pickle-audit-baseline.json"
        ).exit_code
        == 0
    )
    kept = json.loads((seedbug / "pickle-audit-baseline.json").read_text())["entries"]
    assert [e["rule"] for e in kept] == ["PA102", "PA202", "PA101"]


def test_missing_or_malformed_baseline_is_a_usage_error(seedbug: Path) -> None:
    missing = cli("lint", "--baseline", "absent.json")
    assert missing.exit_code == 2
    assert "baseline file absent.json does not exist; create it with" in missing.stderr
    (seedbug / "bad.json").write_text("{")
    malformed = cli("lint", "--baseline", "bad.json")
    assert malformed.exit_code == 2
    assert "baseline bad.json is malformed (invalid JSON at line 1" in malformed.stderr


@pytest.fixture(scope="module")
def qcmanybody_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_qcmanybody(tmp_path_factory.mktemp("qcmb"))


def test_qcmanybody_baseline_round_trip(
    qcmanybody_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(qcmanybody_project)
    assert qcmanybody.__version__ == "0.8.0"
    before = cli("lint", "--format", "json")
    assert before.exit_code == 1
    flagged = [(f["rule"], f["path"], f["line"]) for f in json.loads(before.stdout)["findings"]]
    assert ("PA102", "qcmanybody/core.py", 120) in flagged
    written = cli("lint", "--write-baseline", "pickle-audit-baseline.json")
    assert written.exit_code == 0
    gated = cli("lint", "--baseline", "pickle-audit-baseline.json")
    assert (gated.exit_code, gated.stdout) == (0, "")
    entries = json.loads((qcmanybody_project / "pickle-audit-baseline.json").read_text())["entries"]
    (mc_levels,) = [e for e in entries if e["symbol"] == "ManyBodyCore.mc_levels"]
    assert {key: mc_levels[key] for key in ("rule", "path", "snippet", "count")} == {
        "rule": "PA102",
        "path": "qcmanybody/core.py",
        "snippet": "self.mc_levels = self.nbodies_per_mc_level.keys()",
        "count": 1,
    }


def test_ruff_format_keeps_baselined_findings_matched(seedbug: Path) -> None:
    core = seedbug / "mbepar/core.py"
    edit(
        core,
        CORE_VIEW,
        "        self.levels=self.nbodies_per_level .keys( )\n"
        "        self.level_table = { 'mp2' : self.nbodies_per_level['mp2'], "
        "'hf': self.nbodies_per_level['mp2'][:1] }.items()\n",
    )
    flagged = cli("lint").stdout
    assert "mbepar/core.py:11:9: PA102 dict view stored on FragmentCore.levels" in flagged
    assert "mbepar/core.py:12:9: PA102 dict view stored on FragmentCore.level_table" in flagged
    assert cli("lint", "--write-baseline", "pickle-audit-baseline.json").exit_code == 0
    use_baseline_in_config(seedbug)
    before = core.read_text()
    formatted = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--isolated", "--line-length", "88", str(core)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert formatted.returncode == 0, formatted.stderr
    after = core.read_text()
    assert after != before
    assert "        self.levels = self.nbodies_per_level.keys()\n" in after
    assert '        self.level_table = {\n            "mp2": ' in after
    relinted = cli("lint")
    assert (relinted.exit_code, relinted.stdout) == (0, "")
    assert "stale" not in relinted.stderr
