"""What a release ships: the wheel and the sdist are built from a copy of the sources.

The sdist must be enough to run the test suite (downstream packagers test from it),
and the wheel must carry the rule docs, the licence and the typing marker as real
files: a symlink inside the package is lost or left dangling by some installers.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import pickle_audit
from pickle_audit.catalog import RULES

REPO = Path(__file__).resolve().parent.parent
BUILD = "from setuptools import build_meta as b; import sys; print(b.build_{kind}(sys.argv[1]))"


def _tracked_copy(destination: Path) -> Path:
    """The files git tracks, as a release is built from a clean checkout."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True, timeout=30
    ).stdout.decode("utf-8")
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if not source.is_file():
            continue  # deleted in the work tree, not yet committed
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source.read_bytes())
    return destination


def _build(kind: str, source: Path, out: Path) -> Path:
    done = subprocess.run(
        [sys.executable, "-c", BUILD.format(kind=kind), str(out)],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=170,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return out / done.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if not (REPO / ".git").exists():
        pytest.skip("needs a git checkout to know which files a release contains")
    root = tmp_path_factory.mktemp("release")
    source = _tracked_copy(root / "src")
    out = root / "dist"
    out.mkdir()
    return {kind: _build(kind, source, out) for kind in ("wheel", "sdist")}


@pytest.mark.timeout(400)
def test_wheel_ships_docs_licence_and_typing_marker(built: dict[str, Path]) -> None:
    assert built["wheel"].name == f"pickle_audit-{pickle_audit.__version__}-py3-none-any.whl"
    with zipfile.ZipFile(built["wheel"]) as archive:
        names = set(archive.namelist())
        shipped = archive.read("pickle_audit/rules/PA102.md").decode("utf-8")
        metadata = archive.read(
            f"pickle_audit-{pickle_audit.__version__}.dist-info/METADATA"
        ).decode("utf-8")
        symlinks = [i.filename for i in archive.infolist() if (i.external_attr >> 28) == 0o12]
    assert {f"pickle_audit/rules/{rule_id}.md" for rule_id in RULES} <= names
    assert shipped == (REPO / "pickle_audit" / "rules" / "PA102.md").read_text("utf-8")
    assert "pickle_audit/py.typed" in names
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)
    assert symlinks == []
    assert "License-Expression: BSD-3-Clause" in metadata
    assert "Classifier: Programming Language :: Python :: 3.13" in metadata
    assert re.search(r"^Project-URL: Repository, https://", metadata, re.M)


@pytest.mark.timeout(400)
def test_sdist_tests_are_collected_from_the_unpacked_archive(
    built: dict[str, Path], tmp_path: Path
) -> None:
    with tarfile.open(built["sdist"]) as archive:
        archive.extractall(tmp_path, filter="data") if hasattr(
            tarfile, "data_filter"
        ) else archive.extractall(tmp_path)
    (unpacked,) = tmp_path.iterdir()
    assert (unpacked / "LICENSE").is_file()
    assert not (unpacked / "pickle_audit" / "rules").is_symlink()

    def collected(where: Path) -> list[str]:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=170,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
        return sorted(line for line in done.stdout.splitlines() if "::" in line)

    assert collected(unpacked) == collected(REPO)


def test_readme_pre_commit_snippet_pins_this_release() -> None:
    readme = (REPO / "README.md").read_text("utf-8")
    (rev,) = re.findall(r"^\s+rev: (\S+)$", readme, re.M)
    assert rev == f"v{pickle_audit.__version__}"
