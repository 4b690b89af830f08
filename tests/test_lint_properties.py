"""Generated programs never make the linter raise: bad input is a finding, not a crash."""

from __future__ import annotations

import tempfile
from pathlib import Path

import hypothesmith
import pytest
from hypothesis import HealthCheck, given, settings

from pickle_audit.config import Config
from pickle_audit.lint.run import lint_paths

# A boundary in every generated project, so reachability and the boundary rules run too.
DRIVER = """\
from concurrent.futures import ProcessPoolExecutor

from generated import *


def drive(values):
    with ProcessPoolExecutor() as pool:
        return [pool.submit(print, value) for value in values]
"""

EXAMPLES = settings(
    max_examples=20,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def lint_generated(source: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder)
        (project / "pyproject.toml").write_text("[tool.pickle-audit]\nall-classes = true\n")
        (project / "driver.py").write_text(DRIVER)
        generated = project / "generated.py"
        generated.write_text(source, encoding="utf-8", errors="surrogatepass")
        result = lint_paths([generated], Config(all_classes=True), project, use_cache=False)
        assert result.files_checked >= 1
        assert {Path(finding.path).name for finding in result.findings} <= {"generated.py"}


@pytest.mark.timeout(60)
@EXAMPLES
@given(source=hypothesmith.from_grammar())
def test_programs_from_the_grammar_never_crash_the_linter(source: str) -> None:
    lint_generated(source)


@pytest.mark.timeout(60)
@EXAMPLES
@given(source=hypothesmith.from_node())
def test_programs_from_syntax_trees_never_crash_the_linter(source: str) -> None:
    lint_generated(source)
