"""`--format github`: workflow-command annotations, escaped the way the runner reads them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gate_helpers import finding
from lint_helpers import cli, copy_fixture

from pickle_audit.annotations import escape_data, escape_property, render_github
from pickle_audit.findings import ChainStep, LintResult
from pickle_audit.report import FORMATS, render


def result(*findings) -> LintResult:
    return LintResult(findings=tuple(findings), files_checked=3, root="/project")


def test_error_annotation_names_file_line_column_and_rule() -> None:
    chain = (ChainStep("Core reaches a worker via Driver.core", "pkg/driver.py", 14),)
    text = render(result(finding(chain=chain)), "github")
    assert text == (
        "::error file=pkg/core.py,line=10,col=9,title=PA102::"
        "dict view stored on Core.levels cannot be pickled"
        "%0ACore reaches a worker via Driver.core (pkg/driver.py:14)"
        "%0Afix: store list(...) or tuple(...) instead of the view\n"
    )


def test_warning_severity_gives_a_warning_annotation() -> None:
    bound = finding("PA202", line=21, column=29, symbol="Driver.run", message="bound method")
    assert render_github(result(bound)).startswith(
        "::warning file=pkg/core.py,line=21,col=29,title=PA202::bound method%0Afix: "
    )


def test_annotations_come_in_file_order_one_per_line() -> None:
    later, earlier = finding(line=30), finding(path="pkg/a.py", line=2)
    lines = render_github(result(later, earlier)).splitlines()
    assert [line.split("::")[1] for line in lines] == [
        "error file=pkg/a.py,line=2,col=9,title=PA102",
        "error file=pkg/core.py,line=30,col=9,title=PA102",
    ]


def test_no_findings_print_nothing() -> None:
    assert render_github(result()) == ""


def test_message_escapes_percent_and_line_breaks() -> None:
    assert escape_data("100% done\r\nnext") == "100%25 done%0D%0Anext"


def test_properties_also_escape_colon_and_comma() -> None:
    assert escape_property("C:\\odd,name%.py") == "C%3A\\odd%2Cname%25.py"
    hostile = finding(path="dir,x/a:b.py", message="line one\n::error::forged")
    text = render_github(result(hostile))
    assert text.startswith("::error file=dir%2Cx/a%3Ab.py,line=10,col=9,title=PA102::")
    assert text.count("\n") == 1
    assert "line one%0A::error::forged" in text


def test_github_and_sarif_are_registered_formats() -> None:
    assert {"text", "json", "sarif", "github"} <= set(FORMATS)


def test_cli_github_format_annotates_each_finding_of_the_seed_bug(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(copy_fixture("seedbug", tmp_path))
    run = cli("lint", "--format", "github")
    assert run.exit_code == 1
    findings = json.loads(cli("lint", "--format", "json").stdout)["findings"]
    assert [(f["rule"], f["path"], f["line"]) for f in findings] == [
        ("PA102", "mbepar/core.py", 11),
        ("PA202", "mbepar/parallel.py", 21),
        ("PA101", "mbepar/settings.py", 10),
    ]
    assert [line.split("::")[1] for line in run.stdout.splitlines()] == [
        f"{f['severity']} file={f['path']},line={f['line']},col={f['column']},title={f['rule']}"
        for f in findings
    ]
    assert run.stdout.splitlines()[0] == (
        "::error file=mbepar/core.py,line=11,col=9,title=PA102::"
        "dict view stored on FragmentCore.levels cannot be pickled"
        "%0AFragmentCore reaches a worker via ParallelDriver.core (mbepar/parallel.py:14)"
        "%0A<- pool.submit(self.run_fragment, ...) (mbepar/parallel.py:21)"
        "%0Afix: store list(...) or tuple(...) instead of the view"
    )
