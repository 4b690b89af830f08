"""The engine end to end: real files, the cache, worker processes, parse errors, qcmanybody."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import pytest
import qcmanybody
from lint_core_helpers import lint, summary, write_files

from pickle_audit.config import Config
from pickle_audit.findings import ChainStep
from pickle_audit.lint.engine import collect_findings

SEED = {
    "pkg/__init__.py": "from .core import Core\n",
    "pkg/core.py": """
        class Core:
            def __init__(self, table):
                self.table = table
                self.levels = table.keys()
    """,
    "pkg/driver.py": """
        from concurrent.futures import ProcessPoolExecutor

        from pkg import Core


        class Driver:
            def __init__(self, core: Core):
                self.core = core

            def one(self, level):
                return level

            def run(self):
                with ProcessPoolExecutor() as pool:
                    return [pool.submit(self.one, x) for x in range(3)]
    """,
}


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def test_chain_across_modules_and_a_reexport(tmp_path: Path) -> None:
    root = write_files(tmp_path / "proj", SEED)
    findings = lint(root)
    assert summary(findings) == [
        ("PA102", "proj/pkg/core.py", 4),
        ("PA202", "proj/pkg/driver.py", 15),
    ]
    view, bound = findings
    assert view.message == "dict view stored on Core.levels cannot be pickled"
    assert view.symbol == "Core.levels"
    assert view.snippet == "self.levels = table.keys()"
    assert view.column == 9
    assert view.fix == "store list(...) or tuple(...) instead of the view"
    assert view.chain == (
        ChainStep("Core reaches a worker via Driver.core", "proj/pkg/driver.py", 8, 9),
        ChainStep("<- pool.submit(self.one, ...)", "proj/pkg/driver.py", 15, 21),
    )
    assert [str(step) for step in view.chain] == [
        "Core reaches a worker via Driver.core (proj/pkg/driver.py:8)",
        "<- pool.submit(self.one, ...) (proj/pkg/driver.py:15)",
    ]
    assert (bound.severity, bound.symbol) == ("error", "Driver.run")
    assert bound.snippet == "pool.submit(self.one, x)"


def test_report_files_choose_what_is_reported_but_the_index_sees_everything(
    tmp_path: Path,
) -> None:
    root = write_files(tmp_path / "proj", SEED)
    findings, checked = collect_findings(
        root, [root / "pkg" / "core.py"], Config(), cache_dir=None, jobs=1
    )
    assert checked == 1
    assert summary(findings) == [("PA102", "proj/pkg/core.py", 4)]
    assert findings[0].chain[-1].path == "proj/pkg/driver.py"


def test_shortest_chain_wins(tmp_path: Path) -> None:
    files = dict(SEED)
    files["pkg/driver.py"] += """
        class Outer:
            def __init__(self, driver: Driver):
                self.driver = driver

            def go(self, n):
                return n

            def run(self):
                with ProcessPoolExecutor() as pool:
                    pool.submit(self.go, 1)
    """
    root = write_files(tmp_path / "proj", files)
    view = next(f for f in lint(root) if f.rule == "PA102")
    assert [step.text for step in view.chain] == [
        "Core reaches a worker via Driver.core",
        "<- pool.submit(self.one, ...)",
    ]


def test_base_class_attributes_travel_with_a_subclass(tmp_path: Path) -> None:
    root = write_files(
        tmp_path / "proj",
        {
            "base.py": "import threading\n\n\nclass Base:\n    def __init__(self):\n"
            "        self.lock = threading.Lock()\n",
            "child.py": "import multiprocessing\n\nfrom base import Base\n\n\n"
            "class Child(Base):\n    pass\n\n\ndef work(c: Child):\n    return c\n\n\n"
            "def main():\n    with multiprocessing.Pool() as pool:\n"
            "        pool.apply(work, (Child(),))\n",
        },
    )
    [finding] = lint(root)
    assert (finding.rule, finding.path, finding.line) == ("PA105", "proj/base.py", 6)
    assert [str(step) for step in finding.chain] == [
        "Base travels as a base class of Child (proj/child.py:6)",
        "<- pool.apply(work, ...) (proj/child.py:16)",
    ]


def test_marker_and_configured_boundary_classes(tmp_path: Path) -> None:
    root = write_files(
        tmp_path / "proj",
        {
            "mod.py": "class Marked:  # pickle-audit: boundary\n    def __init__(self):\n"
            "        self.f = lambda: 1\n\n\nclass Listed:\n    def __init__(self):\n"
            "        self.g = (i for i in range(3))\n",
        },
    )
    assert summary(lint(root)) == [("PA101", "proj/mod.py", 3)]
    findings = lint(root, Config(boundary_classes=("mod.Listed",)))
    assert summary(findings) == [("PA101", "proj/mod.py", 3), ("PA104", "proj/mod.py", 8)]
    assert [str(step) for step in findings[1].chain] == [
        "Listed is listed in boundary-classes (proj/mod.py:6)"
    ]
    # a class reached only by configuration is judged with the configured serializer
    assert lint(root, Config(serializer="cloudpickle")) == []


def test_unparsable_files_become_pa000_and_the_rest_is_linted(tmp_path: Path) -> None:
    root = write_files(
        tmp_path / "proj",
        {
            "broken.py": "x = 1\ndef f(:\n    pass\n",
            "rejected.py": "(x): int = 1\n",
            "fine.py": "class A:\n    def __init__(self):\n        self.k = {}.keys()\n",
        },
    )
    findings = lint(root, Config(all_classes=True))
    assert summary(findings) == [
        ("PA000", "proj/broken.py", 3),
        ("PA102", "proj/fine.py", 3),
        ("PA000", "proj/rejected.py", 1),
    ]
    assert findings[0].message == (
        "cannot parse the file: syntax error at line 3, column 1: expected one of ), *, **, NAME"
    )
    assert findings[2].message.startswith("cannot parse the file: syntax error at line 1")
    assert findings[0].severity == "error"


def test_cache_is_reused_and_follows_content(tmp_path: Path) -> None:
    root = write_files(tmp_path / "proj", SEED)
    cache = tmp_path / "cache"
    first = lint(root, cache_dir=cache)
    [store] = cache.glob("facts-*.pickle")
    assert (cache / ".gitignore").read_text().endswith("*\n")
    stamp = store.stat().st_mtime_ns
    assert lint(root, cache_dir=cache) == first
    assert store.stat().st_mtime_ns == stamp  # nothing changed, nothing written
    (root / "pkg" / "core.py").write_text(
        "class Core:\n    def __init__(self, table):\n        self.levels = list(table)\n"
    )
    assert [f.rule for f in lint(root, cache_dir=cache)] == ["PA202"]
    assert [f.rule for f in lint(root, cache_dir=cache)] == ["PA202"]


def test_a_damaged_cache_is_rebuilt(tmp_path: Path) -> None:
    root = write_files(tmp_path / "proj", SEED)
    cache = tmp_path / "cache"
    expected = lint(root, cache_dir=cache)
    [store] = cache.glob("facts-*.pickle")
    store.write_bytes(b"not a pickle")
    assert lint(root, cache_dir=cache) == expected
    assert pickle.loads(store.read_bytes())  # rewritten, readable


@pytest.mark.timeout(120)
def test_worker_processes_give_the_same_findings(tmp_path: Path) -> None:
    files = dict(SEED)
    for n in range(20):
        files[f"pkg/extra{n}.py"] = f"class Extra{n}:\n    def __init__(self):\n" + (
            "        self.f = lambda: 1\n"
        )
    root = write_files(tmp_path / "proj", files)
    config = Config(all_classes=True)
    assert lint(root, config, jobs=2) == lint(root, config, jobs=1)
    assert len(lint(root, config, jobs=2)) == 22


def test_modules_with_the_same_name_resolve_to_their_neighbours(tmp_path: Path) -> None:
    broken = dict(SEED)
    clean = dict(SEED)
    clean["pkg/core.py"] = "class Core:\n    def __init__(self, table):\n        self.t = table\n"
    root = tmp_path / "proj"
    write_files(root / "a", broken)
    write_files(root / "b", clean)
    (root / "pyproject.toml").write_text("[project]\nname = 'both'\n")
    assert summary(lint(root)) == [
        ("PA102", "proj/a/pkg/core.py", 4),
        ("PA202", "proj/a/pkg/driver.py", 15),
        ("PA202", "proj/b/pkg/driver.py", 15),
    ]
    assert [f.severity for f in lint(root) if f.rule == "PA202"] == ["error", "warning"]


def test_findings_are_picklable(tmp_path: Path) -> None:
    root = write_files(tmp_path / "proj", SEED)
    findings = lint(root)
    assert pickle.loads(pickle.dumps(findings)) == findings


@pytest.mark.timeout(180)
def test_qcmanybody_080_seed_bug(tmp_path: Path) -> None:
    """The installed qcmanybody 0.8.0 stores a dict view on ManyBodyCore (core.py:120)."""
    installed = Path(qcmanybody.__file__).parent
    project = tmp_path / "site"
    shutil.copytree(installed, project / "qcmanybody", ignore=shutil.ignore_patterns("__pycache__"))
    findings = lint(project, Config(boundary_classes=("qcmanybody.core.ManyBodyCore",)))
    from_core = [f for f in findings if f.symbol.startswith("ManyBodyCore")]
    assert summary(from_core) == [("PA102", "site/qcmanybody/core.py", 120)]
    [finding] = from_core
    assert finding.message == "dict view stored on ManyBodyCore.mc_levels cannot be pickled"
    assert finding.snippet == "self.mc_levels = self.nbodies_per_mc_level.keys()"
    assert [str(step) for step in finding.chain] == [
        "ManyBodyCore is listed in boundary-classes (site/qcmanybody/core.py:44)"
    ]
