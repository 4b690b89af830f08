"""`--fix` codemods: only flagged, mechanical cases; formatting and comments kept; idempotent."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from gate_helpers import finding

from pickle_audit.lint.fix import FileFix, apply_fixes, plan_fixes, unified_diff

DICT_VIEW_BEFORE = '''\
"""Levels of an expansion."""


class Core:
    def __init__(self, table):
        # which levels to run
        self.table = table
        self.levels = self.table.keys()  # every level
        self.pairs = (
            self.table.items()  # kept for the report
        )
        self.unflagged = self.table.values()
'''

DICT_VIEW_AFTER = '''\
"""Levels of an expansion."""


class Core:
    def __init__(self, table):
        # which levels to run
        self.table = table
        self.levels = list(self.table.keys())  # every level
        self.pairs = (
            list(self.table.items())  # kept for the report
        )
        self.unflagged = self.table.values()
'''

LAMBDA_BEFORE = """\
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import Pool

from energies import scaled


def energy(fragment):
    return -1.0 * len(fragment)


def run(jobs):
    with ProcessPoolExecutor() as pool:
        first = list(pool.map(lambda job: energy(job), jobs))  # one per job
        second = pool.submit(lambda a, b: scaled(a, b), 2.0, jobs[0])
    with Pool(2) as workers:
        third = workers.map(
            lambda job: energy(job),
            jobs,
        )
    return first, second, third
"""

LAMBDA_AFTER = """\
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import Pool

from energies import scaled


def energy(fragment):
    return -1.0 * len(fragment)


def run(jobs):
    with ProcessPoolExecutor() as pool:
        first = list(pool.map(energy, jobs))  # one per job
        second = pool.submit(scaled, 2.0, jobs[0])
    with Pool(2) as workers:
        third = workers.map(
            energy,
            jobs,
        )
    return first, second, third
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(project: Path, name: str, text: str) -> str:
    (project / name).write_text(text, encoding="utf-8")
    return name


def view_findings(path: str) -> list:
    return [finding("PA102", path, 8, 9), finding("PA102", path, 9, 9)]


def lambda_findings(path: str) -> list:
    return [
        finding("PA201", path, 13, 31),
        finding("PA201", path, 14, 30),
        finding("PA201", path, 17, 13),
    ]


def test_stored_dict_views_become_lists_keeping_comments(project: Path) -> None:
    path = write(project, "core.py", DICT_VIEW_BEFORE)
    (fix,) = plan_fixes(view_findings(path))
    assert fix.path == "core.py"
    assert fix.before == DICT_VIEW_BEFORE
    assert fix.after == DICT_VIEW_AFTER
    assert [(f.rule, f.line) for f in fix.fixed] == [("PA102", 8), ("PA102", 9)]


def test_forwarding_lambdas_become_the_function(project: Path) -> None:
    path = write(project, "run.py", LAMBDA_BEFORE)
    (fix,) = plan_fixes(lambda_findings(path))
    assert fix.after == LAMBDA_AFTER
    assert len(fix.fixed) == 3


def test_findings_may_point_at_the_boundary_call_instead(project: Path) -> None:
    path = write(project, "run.py", LAMBDA_BEFORE)
    at_calls = [
        finding("PA201", path, 13, 22),  # pool.map(
        finding("PA201", path, 14, 18),  # pool.submit(
        finding("PA201", path, 16, 17),  # workers.map(  -- the lambda is on the next line
    ]
    (fix,) = plan_fixes(at_calls)
    assert fix.after == LAMBDA_AFTER


def test_views_handed_to_a_boundary_call_are_wrapped(project: Path) -> None:
    source = (
        "a = pool.submit(report, table.keys(), len(table.keys()))\n"
        "b = pool.map(report, [t.values()])\n"
    )
    path = write(project, "send.py", source)
    (fix,) = plan_fixes([finding("PA102", path, 1, 5), finding("PA102", path, 2, 5)])
    assert fix.after == (
        "a = pool.submit(report, list(table.keys()), len(table.keys()))\n"
        "b = pool.map(report, [list(t.values())])\n"
    )


@pytest.mark.parametrize(
    ("before", "findings"),
    [(DICT_VIEW_BEFORE, view_findings), (LAMBDA_BEFORE, lambda_findings)],
)
def test_fixing_twice_changes_nothing_the_second_time(project: Path, before, findings) -> None:
    path = write(project, "mod.py", before)
    assert len(apply_fixes(plan_fixes(findings(path)))) == 1
    fixed = (project / path).read_text()
    assert plan_fixes(findings(path)) == []
    assert (project / path).read_text() == fixed


def test_a_lambda_forwarding_to_a_builtin_becomes_the_builtin(project: Path) -> None:
    path = write(project, "sizes.py", "sizes = pool.map(lambda item: len(item), items)\n")
    (fix,) = plan_fixes([finding("PA201", path, 1, 9)])
    assert fix.after == "sizes = pool.map(len, items)\n"


def test_a_view_passed_as_an_argument_is_wrapped_where_the_finding_points(project: Path) -> None:
    path = write(project, "send.py", "pool.submit(report, table.keys(), table.values())\n")
    (fix,) = plan_fixes([finding("PA102", path, 1, 21)])
    assert fix.after == "pool.submit(report, list(table.keys()), table.values())\n"


UNSAFE_LAMBDAS = {
    "captures a local": "def run(pool, xs):\n    f = len\n    pool.map(lambda x: f(x), xs)\n",
    "reorders arguments": "def g(a, b): ...\npool.map(lambda a, b: g(b, a), xs)\n",
    "adds an argument": "def g(a, b): ...\npool.map(lambda a: g(a, 2), xs)\n",
    "keyword argument": "def g(a): ...\npool.map(lambda a: g(a=a), xs)\n",
    "default value": "def g(a): ...\npool.map(lambda a=1: g(a), xs)\n",
    "star arguments": "def g(*a): ...\npool.map(lambda *a: g(*a), xs)\n",
    "method call": "import numpy as np\npool.map(lambda a: np.sqrt(a), xs)\n",
    "reassigned name": "def g(a): ...\ng = make()\npool.map(lambda a: g(a), xs)\n",
    "calls its argument": "pool.map(lambda a: a(a), xs)\n",
    "defined under the main guard": (
        'if __name__ == "__main__":\n    def g(a): ...\n    pool.map(lambda a: g(a), xs)\n'
    ),
    "not a call": "pool.map(lambda a: a + 1, xs)\n",
}


@pytest.mark.parametrize("source", UNSAFE_LAMBDAS.values(), ids=UNSAFE_LAMBDAS.keys())
def test_lambdas_that_do_more_than_forward_are_left_alone(project: Path, source: str) -> None:
    path = write(project, "mod.py", source)
    line = source.count("\n")
    column = source.splitlines()[-1].index("lambda") + 1
    assert plan_fixes([finding("PA201", path, line, column)]) == []


def test_views_that_are_not_plain_assignments_are_left_alone(project: Path) -> None:
    source = textwrap.dedent(
        """\
        class Core:
            def __init__(self, d):
                self.keys: KeysView = d.keys()
                self.union = d.keys() | {"x"}
                self.filtered = d.keys(only_set=True)
        """
    )
    path = write(project, "mod.py", source)
    assert plan_fixes([finding("PA102", path, line, 9) for line in (3, 4, 5)]) == []


def test_other_rules_and_unparsable_or_missing_files_are_skipped(project: Path) -> None:
    path = write(project, "mod.py", "self.levels = d.keys()\n")
    broken = write(project, "broken.py", "def broken(:\n    self.x = d.keys()\n")
    assert plan_fixes([finding("PA101", path, 1, 1)]) == []
    assert plan_fixes([finding("PA102", broken, 2, 5)]) == []
    assert plan_fixes([finding("PA102", "missing.py", 1, 1)]) == []


def test_windows_newlines_and_coding_cookies_survive(project: Path) -> None:
    source = "# -*- coding: latin-1 -*-\r\nname = 'café'\r\nself.levels = d.keys()\r\n"
    (project / "old.py").write_bytes(source.encode("latin-1"))
    apply_fixes(plan_fixes([finding("PA102", "old.py", 3, 1)]))
    assert (project / "old.py").read_bytes() == (
        "# -*- coding: latin-1 -*-\r\nname = 'café'\r\nself.levels = list(d.keys())\r\n"
    ).encode("latin-1")


def test_diff_is_a_unified_diff_with_a_and_b_prefixes(project: Path) -> None:
    path = write(project, "core.py", DICT_VIEW_BEFORE)
    diff = unified_diff(plan_fixes(view_findings(path)))
    assert diff.splitlines()[:3] == ["--- a/core.py", "+++ b/core.py", "@@ -5,8 +5,8 @@"]
    assert "-        self.levels = self.table.keys()  # every level\n" in diff
    assert "+        self.levels = list(self.table.keys())  # every level\n" in diff
    assert "+            list(self.table.items())  # kept for the report\n" in diff
    assert (project / path).read_text() == DICT_VIEW_BEFORE


def test_a_file_edited_after_planning_is_not_overwritten(project: Path) -> None:
    path = write(project, "core.py", DICT_VIEW_BEFORE)
    fixes = plan_fixes(view_findings(path))
    (project / path).write_text(DICT_VIEW_BEFORE + "# edited meanwhile\n")
    assert apply_fixes(fixes) == []
    assert (project / path).read_text() == DICT_VIEW_BEFORE + "# edited meanwhile\n"


def test_file_fix_is_plain_data() -> None:
    fix = FileFix("a.py", "x = d.keys()\n", "x = list(d.keys())\n")
    assert fix.fixed == ()
