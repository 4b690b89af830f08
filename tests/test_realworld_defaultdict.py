"""A `defaultdict` pickles its default factory with its items, so
`self.counts = defaultdict(lambda: 0)` makes every instance unpicklable, and a pool task
or callable instance that carries it fails ("Can't pickle local object
'Tokenizer.__init__.<locals>.<lambda>'"). `defaultdict(list)` or a module-level factory
pickles by name. A dataclass field built by `field(default_factory=lambda: ...)` holds
what the lambda returns, so it is judged by that.

Reported publicly in tokenizer, particle-physics and dataset-record classes
(feyninc/chonkie#153, PlasmaPy/PlasmaPy#1013, lsst/daf_butler#844). The program is our
own; it is linted, then each call is run in a spawn pool.
"""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest
from lint_helpers import project_findings, run_script, write_project

pytestmark = pytest.mark.timeout(300)

COUNTING = """
import collections
import multiprocessing
import sys
from collections import defaultdict
from dataclasses import dataclass, field


def zero():
    return 0


class Tokenizer:
    def __init__(self, named):
        self.vocabulary = defaultdict(list)
        if named:
            self.counts = defaultdict(zero)
        else:
            self.counts = collections.defaultdict(lambda: 0)

    def __call__(self, text):
        self.counts[text] += 1
        return len(text)


@dataclass
class Records:
    rows: dict = field(default_factory=lambda: defaultdict(lambda: None))
    plain: dict = field(default_factory=lambda: defaultdict(list))


def tokenize(named):
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.map(Tokenizer(named), ["ab", "c"])


def lambda_counts():
    return tokenize(False)


def named_counts():
    return tokenize(True)


def records():
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(len, (Records(),))


if __name__ == "__main__":
    print(globals()[sys.argv[1]]())
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path, {"counting.py": textwrap.dedent(COUNTING).lstrip()})


def test_a_defaultdict_of_a_lambda_is_flagged_where_it_is_stored(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = project_findings(project, monkeypatch)
    assert [(f.rule, f.line, f.column, f.message, f.fix) for f in found] == [
        (
            "PA101",
            18,
            13,
            "defaultdict whose default factory is a lambda stored on Tokenizer.counts"
            " cannot be pickled",
            "use a module-level function (def) instead of the lambda",
        ),
        (
            "PA101",
            27,
            5,
            "defaultdict whose default factory is a lambda stored on Records.rows"
            " cannot be pickled",
            "use a module-level function (def) instead of the lambda",
        ),
    ]
    assert [str(step) for step in found[0].chain] == [
        "<- pool.map(Tokenizer(...), ...) (counting.py:33)"
    ]


def run(project: Path, function: str) -> subprocess.CompletedProcess[str]:
    return run_script(project, "counting.py", function)


@pytest.mark.parametrize(
    ("function", "error"),
    [
        ("lambda_counts", "local object 'Tokenizer.__init__.<locals>.<lambda>'"),
        ("records", "local object 'Records.<lambda>.<locals>.<lambda>'"),
    ],
)
def test_each_flagged_defaultdict_fails_under_spawn(
    project: Path, function: str, error: str
) -> None:
    result = run(project, function)
    assert result.returncode == 1
    assert error in result.stderr


def test_a_named_factory_travels(project: Path) -> None:
    assert run(project, "named_counts").stdout == "[2, 1]\n"
