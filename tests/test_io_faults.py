"""I/O faults through the real CLI: one line naming the file, exit 2, nothing lost.

A full disk is made real with RLIMIT_FSIZE in the child process: the kernel
then refuses any write past the limit with EFBIG ("File too large"), exactly
where a full disk refuses with ENOSPC, and Python turns both into OSError.
"""

from __future__ import annotations

import json
import resource
import subprocess
from pathlib import Path

import pytest
from lint_helpers import cli, copy_fixture, run_pickle_audit

SEED_FINDINGS = 3


@pytest.fixture
def seedbug(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    project = copy_fixture("seedbug", tmp_path)
    monkeypatch.chdir(project)
    return project


def run_with_file_size_limit(project: Path, limit: int, *args: str) -> subprocess.CompletedProcess:
    def limit_writes() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return run_pickle_audit(*args, cwd=project, preexec_fn=limit_writes)


def test_a_baseline_that_cannot_be_written_is_one_line_and_exit_2(seedbug: Path) -> None:
    (seedbug / "records").write_text("a file, not a folder")
    result = cli("lint", "--write-baseline", "records/baseline.json")
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: cannot write the baseline records/baseline.json: File exists (records)\n"
    )


def test_a_full_disk_keeps_the_old_baseline_and_reports_the_findings(seedbug: Path) -> None:
    assert cli("lint", "--write-baseline", "baseline.json").exit_code == 0
    before = (seedbug / "baseline.json").read_bytes()
    (seedbug / "mbepar" / "extra.py").write_text("class Extra:\n    pass\n")
    full = run_with_file_size_limit(seedbug, 64, "lint", "--write-baseline", "baseline.json")
    assert full.returncode == 2
    assert full.stderr.splitlines()[-1] == (
        "Error: cannot write the baseline baseline.json: File too large"
    )
    assert (seedbug / "baseline.json").read_bytes() == before  # untouched, not truncated
    assert sorted(p.name for p in seedbug.iterdir() if p.name.endswith(".tmp")) == []
    assert json.loads(before)["entries"]


def test_a_cache_that_cannot_be_written_still_prints_every_finding(seedbug: Path) -> None:
    full = run_with_file_size_limit(seedbug, 64, "lint")
    assert full.returncode == 1
    assert full.stdout.count(": PA") == SEED_FINDINGS
    warning, summary = full.stderr.splitlines()
    assert warning.startswith("warning: cannot write the facts cache ")
    assert warning.endswith(": File too large")
    assert summary == f"Found {SEED_FINDINGS} problems ({SEED_FINDINGS} errors) in 5 files."


def test_a_file_where_the_cache_folder_goes_is_a_warning(seedbug: Path) -> None:
    (seedbug / ".pickle-audit-cache").write_text("not a folder")
    result = cli("lint")
    assert result.exit_code == 1
    assert result.stdout.count(": PA") == SEED_FINDINGS
    assert result.stderr.splitlines()[0] == (
        f"warning: cannot write the facts cache {seedbug / '.pickle-audit-cache'}: File exists"
    )


def test_a_fix_on_a_full_disk_leaves_the_source_file_whole(seedbug: Path) -> None:
    core = seedbug / "mbepar" / "core.py"
    before = core.read_bytes()
    full = run_with_file_size_limit(seedbug, 64, "lint", "--fix", "--no-cache")
    assert full.returncode == 2
    assert full.stderr.splitlines()[-1] == (
        "Error: cannot apply the fix to mbepar/core.py: File too large"
    )
    assert core.read_bytes() == before
    assert [p.name for p in core.parent.iterdir() if p.name.endswith(".tmp")] == []
