"""The engine end to end: real files, the cache, worker processes, parse errors, qcmanybody."""

from __future__ import annotations

import json
import os
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
    collected = collect_findings(root, [root / "pkg" / "core.py"], Config(), cache_dir=None, jobs=1)
    findings = collected.findings
    assert collected.files_checked == 1
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
        ("PA000", "proj/broken.py", 2),  # Python's location; libcst gives up on line 3
        ("PA102", "proj/fine.py", 3),
        ("PA000", "proj/rejected.py", 1),
    ]
    assert findings[0].message == (
        "cannot parse the file: syntax error at line 2, column 7: invalid syntax"
    )
    assert findings[2].message.startswith("cannot parse the file: libcst rejects it at line 1")
    assert findings[0].severity == "error"


@pytest.mark.parametrize(
    ("source", "where", "message"),
    [
        ("def f(:\n    pass\n", (1, 7), "syntax error at line 1, column 7: invalid syntax"),
        (
            "total = (1,\n2\n",
            (1, 9),
            "syntax error at line 1, column 9: '(' was never closed",
        ),
        (
            'print "energy"\n',
            (1, 1),
            "syntax error at line 1, column 1: Missing parentheses in call to 'print'."
            " Did you mean print(...)?",
        ),
    ],
)
def test_syntax_errors_are_where_python_puts_them(
    tmp_path: Path, source: str, where: tuple[int, int], message: str
) -> None:
    root = write_files(tmp_path / "proj", {"bad.py": source})
    [finding] = lint(root)
    assert (finding.rule, finding.line, finding.column) == ("PA000", *where)
    assert finding.message == f"cannot parse the file: {message}"
    assert finding.fix == "fix the syntax error, or exclude the file"


def test_unreadable_files_and_dangling_links_have_their_own_message_and_fix(
    tmp_path: Path,
) -> None:
    root = write_files(tmp_path / "proj", {"fine.py": "x = 1\n"})
    (root / "gone.py").symlink_to(root / "deleted.py")
    (root / "folder.py").mkdir()  # a folder named like a module cannot be read either
    findings = {
        Path(f.path).name: (f.message, f.fix)
        for f in collect_findings(
            root, [root / "gone.py", root / "folder.py"], Config(), cache_dir=None, jobs=1
        ).findings
    }
    assert findings == {
        "gone.py": (
            "cannot read the file: it is a symbolic link to a missing file",
            "remove the link or restore what it points to, or exclude it",
        ),
        "folder.py": (
            "cannot read the file: Is a directory",
            "make the file readable by the user running pickle-audit, or exclude it",
        ),
    }


def test_a_file_too_deep_for_the_parser_says_so(tmp_path: Path) -> None:
    # libcst's native parser overflows its stack on both files (a segfault that
    # would end the run); Python's parser refuses them first
    root = write_files(
        tmp_path / "proj",
        {
            "chain.py": "x = " + "-" * 20000 + "1\n",
            "brackets.py": "x = " + "[" * 5000 + "]" * 5000 + "\n",
        },
    )
    brackets, chain = lint(root)
    assert (chain.rule, chain.line, chain.column) == ("PA000", 1, 1)
    assert chain.message == ("cannot check the file: it nests too deeply for the parser")
    assert chain.fix == "split the deeply nested expression into named parts, or exclude the file"
    assert (brackets.rule, brackets.line, brackets.column) == ("PA000", 1, 205)
    assert brackets.message == (
        "cannot parse the file: syntax error at line 1, column 205: too many nested parentheses"
    )


def test_cache_is_reused_and_follows_content(tmp_path: Path) -> None:
    root = write_files(tmp_path / "proj", SEED)
    cache = tmp_path / "cache"
    first = lint(root, cache_dir=cache)
    [store] = cache.glob("facts-*.json")
    assert (cache / ".gitignore").read_text() == "# created by pickle-audit\n*\n"
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
    [store] = cache.glob("facts-*.json")
    store.write_bytes(b"\x80\x04not json at all")
    assert lint(root, cache_dir=cache) == expected
    document = json.loads(store.read_text())  # rewritten, readable
    assert document["format"] == "pickle-audit facts"
    assert sorted(Path(path).name for path in document["entries"]) == [
        "__init__.py",
        "core.py",
        "driver.py",
    ]


class Planted:
    """Unpickling this creates a folder: proof that a cache file was unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def test_a_planted_pickle_in_the_cache_folder_is_never_loaded(tmp_path: Path) -> None:
    root = write_files(tmp_path / "proj", SEED)
    cache = tmp_path / "cache"
    expected = lint(root, cache_dir=cache)
    [store] = cache.glob("facts-*.json")
    marker = tmp_path / "code-ran"
    payload = pickle.dumps(Planted(marker))
    store.write_bytes(payload)  # the very file the next run reads
    store.with_suffix(".pickle").write_bytes(payload)  # where older versions kept it
    assert lint(root, cache_dir=cache) == expected
    assert not marker.exists()
    assert not store.with_suffix(".pickle").exists()  # the old store is removed
    assert json.loads(store.read_text())["format"] == "pickle-audit facts"


@pytest.mark.parametrize(
    "forge",
    [
        lambda facts: facts[:-1],  # a field missing
        lambda facts: [facts[0], 7, *facts[2:]],  # a number where the module name goes
        lambda facts: {"__reduce__": facts},  # not a record at all
        lambda facts: [*facts[:5], [["Core", 1, 1, "not a list of bases"]], *facts[6:]],
    ],
)
def test_a_forged_cache_entry_is_refused_and_rebuilt(tmp_path: Path, forge) -> None:
    root = write_files(tmp_path / "proj", SEED)
    cache = tmp_path / "cache"
    expected = lint(root, cache_dir=cache)
    [store] = cache.glob("facts-*.json")
    document = json.loads(store.read_text())
    core = next(path for path in document["entries"] if path.endswith("core.py"))
    document["entries"][core][1] = forge(document["entries"][core][1])
    store.write_text(json.dumps(document))
    assert lint(root, cache_dir=cache) == expected
    rebuilt = json.loads(store.read_text())["entries"][core][1]
    assert rebuilt != forge(rebuilt)
    assert rebuilt[0] == core


def test_a_torn_gitignore_is_repaired_even_when_nothing_changed(tmp_path: Path) -> None:
    root = write_files(tmp_path / "proj", SEED)
    cache = tmp_path / "cache"
    lint(root, cache_dir=cache)
    (cache / ".gitignore").write_text("")  # as a full disk once left it
    lint(root, cache_dir=cache)
    assert (cache / ".gitignore").read_text() == "# created by pickle-audit\n*\n"


def test_a_cache_that_cannot_be_written_is_a_warning_and_findings_stay(tmp_path: Path) -> None:
    root = write_files(tmp_path / "proj", SEED)
    expected = lint(root, cache_dir=None)
    blocked = tmp_path / "cache"
    blocked.write_text("a file where the cache folder goes")
    collected = collect_findings(
        root,
        [root / "pkg" / "core.py", root / "pkg" / "driver.py"],
        Config(),
        cache_dir=blocked,
        jobs=1,
    )
    assert list(collected.findings) == expected
    assert collected.warnings == (f"cannot write the facts cache {blocked}: File exists",)


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
