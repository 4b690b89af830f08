"""Library mode: a package with no pool of its own, checked as its users will use it."""

from __future__ import annotations

import shutil
from pathlib import Path

import qcmanybody
from lint_helpers import cli, write_project

from pickle_audit.config import Config
from pickle_audit.lint.run import lint_paths

LIBRARY = {
    "fragments/__init__.py": "from fragments._engine import Engine\n",
    "fragments/core.py": (
        "import threading\n\n\n"
        "class Core:\n"
        "    def __init__(self, table):\n"
        "        self.levels = table.keys()\n"
        "        self.helper = _Helper()\n\n\n"
        "class _Helper:\n"
        "    def __init__(self):\n"
        "        self.lock = threading.Lock()\n\n\n"
        "class _Unused:\n"  # private, held by nothing public: no user can reach it
        "    def __init__(self):\n"
        "        self.hook = lambda: 0\n"
    ),
    "fragments/_engine.py": (  # a private module, but its class is exported by __init__
        "class Engine:\n    def __init__(self):\n        self.rows = (r for r in range(3))\n"
    ),
    "fragments/_cache.py": (  # private module, not exported
        "class Store:\n    def __init__(self):\n        self.hook = lambda: 0\n"
    ),
    "fragments/tests/test_core.py": (
        "import threading\n\n\nclass Fake:\n    def __init__(self):\n"
        "        self.lock = threading.Lock()\n"
    ),
    "setup_helpers.py": "class Build:\n    def __init__(self):\n        self.hook = lambda: 0\n",
}


def test_public_classes_are_roots_and_private_ones_stay_quiet(tmp_path: Path) -> None:
    project = write_project(tmp_path / "lib", LIBRARY)
    assert lint_paths([project], Config(), project, use_cache=False, jobs=1).findings == ()
    result = lint_paths([project], Config(library=True), project, use_cache=False, jobs=1)
    found = [
        (f.rule, Path(f.path).name, f.line, [step.text for step in f.chain])
        for f in result.findings
    ]
    assert found == [
        (
            "PA104",
            "_engine.py",
            3,
            ["Engine is exported by fragments: library users may hand it to a worker"],
        ),
        (
            "PA102",
            "core.py",
            6,
            ["Core is public in fragments.core: library users may hand it to a worker"],
        ),
        (
            "PA105",
            "core.py",
            12,
            [
                "_Helper reaches a worker via Core.helper",
                "Core is public in fragments.core: library users may hand it to a worker",
            ],
        ),
    ]


def test_qcmanybody_reports_its_stored_dict_view_and_nothing_else(
    tmp_path: Path, monkeypatch
) -> None:
    """The seed bug in the real release: qcmanybody never starts a pool, its users do."""
    assert qcmanybody.__version__.startswith("0.8.0")
    copy = tmp_path / "qcmanybody-src"
    shutil.copytree(Path(qcmanybody.__file__).parent, copy / "qcmanybody")
    monkeypatch.chdir(copy)
    default = cli("lint", "--project-root", ".", "--no-cache", "--format", "json", ".")
    assert (default.exit_code, default.stdout) == (0, '{\n  "version": 1,\n  "findings": []\n}\n')
    library = cli("lint", "--project-root", ".", "--no-cache", "--library", "-q", ".")
    assert library.exit_code == 1
    assert library.stdout == (
        "qcmanybody/core.py:120:9: PA102 dict view stored on ManyBodyCore.mc_levels"
        " cannot be pickled\n"
        "    ManyBodyCore is exported by qcmanybody: library users may hand it to a worker"
        " (qcmanybody/core.py:44)\n"
        "    fix: store list(...) or tuple(...) instead of the view\n"
    )
