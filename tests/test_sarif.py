"""SARIF 2.1.0 output: valid against the OASIS schema, with what code scanning needs."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from gate_helpers import finding
from lint_helpers import cli, copy_fixture

from pickle_audit import __version__
from pickle_audit.baseline import fingerprint
from pickle_audit.catalog import RULES, Rule
from pickle_audit.findings import ChainStep, LintResult
from pickle_audit.report import render
from pickle_audit.sarif import _rule_descriptor, render_sarif

SCHEMA = json.loads(
    (Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8")
)

CHAIN = (
    ChainStep("Core reaches a worker via Driver.core", "pkg/driver.py", 14, 9),
    ChainStep("<- pool.submit(self.run_fragment, job)", "pkg/driver.py", 21, 24),
)


def validate(log: dict) -> None:
    validator = jsonschema.Draft7Validator(
        SCHEMA, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )
    errors = sorted(validator.iter_errors(log), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def sarif_of(project: Path, *findings) -> dict:
    result = LintResult(findings=tuple(findings), files_checked=4, root=str(project))
    return json.loads(render(result, "sarif"))


def test_log_with_findings_validates_against_the_schema(project: Path) -> None:
    log = sarif_of(
        project,
        finding(chain=CHAIN),
        finding("PA202", "pkg/driver.py", 21, 24, symbol="Driver.run", message="bound method"),
        finding(path="pkg/a dir/odd name.py", line=3, column=1),
    )
    validate(log)
    assert log["version"] == "2.1.0"


def test_empty_log_validates_and_still_describes_every_rule(project: Path) -> None:
    log = sarif_of(project)
    validate(log)
    run = log["runs"][0]
    assert run["results"] == []
    assert [rule["id"] for rule in run["tool"]["driver"]["rules"]] == list(RULES)


def test_driver_describes_the_tool_and_its_rules_with_their_docs(project: Path) -> None:
    driver = sarif_of(project)["runs"][0]["tool"]["driver"]
    assert driver["name"] == "pickle-audit"
    assert driver["version"] == __version__
    assert driver["informationUri"] == "https://pypi.org/project/pickle-audit/"
    dict_view = next(rule for rule in driver["rules"] if rule["id"] == "PA102")
    assert dict_view["name"] == "dict-view"
    assert dict_view["shortDescription"]["text"] == (
        "A dict view (.keys()/.values()/.items()) stored on an instance or passed across a boundary"
    )
    assert dict_view["fullDescription"]["text"].startswith("The result of `.keys()`")
    doc = (Path(__file__).parent.parent / "pickle_audit" / "rules" / "PA102.md").read_text(
        encoding="utf-8"
    )
    assert dict_view["help"]["text"] == doc
    assert dict_view["help"]["markdown"] == doc
    assert dict_view["defaultConfiguration"] == {"level": "error"}
    cached = next(rule for rule in driver["rules"] if rule["id"] == "PA107")
    assert cached["defaultConfiguration"] == {"level": "warning"}


def test_a_rule_without_a_doc_falls_back_to_its_catalogue_text() -> None:
    descriptor = _rule_descriptor(Rule("PA999", "made-up", "error", "a made-up rule", "do less"))
    assert descriptor["fullDescription"] == {"text": "A made-up rule. Fix: do less."}
    assert descriptor["help"]["text"] == "A made-up rule.\n\nFix: do less."


def test_result_carries_rule_level_message_location_and_fingerprint(project: Path) -> None:
    flagged = finding(chain=CHAIN)
    (result,) = sarif_of(project, flagged)["runs"][0]["results"]
    assert result["ruleId"] == "PA102"
    assert result["ruleIndex"] == list(RULES).index("PA102")
    assert result["level"] == "error"
    assert result["message"]["text"] == (
        "dict view stored on Core.levels cannot be pickled\n"
        "fix: store list(...) or tuple(...) instead of the view"
    )
    assert result["locations"] == [
        {
            "physicalLocation": {
                "artifactLocation": {"uri": "pkg/core.py", "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": 10, "startColumn": 9},
            }
        }
    ]
    assert result["partialFingerprints"] == {"pickleAudit/v1": f"{fingerprint(flagged, project)}:1"}


def test_chain_becomes_related_locations(project: Path) -> None:
    (result,) = sarif_of(project, finding(chain=CHAIN))["runs"][0]["results"]
    assert result["relatedLocations"] == [
        {
            "id": 1,
            "message": {"text": "Core reaches a worker via Driver.core"},
            "physicalLocation": {
                "artifactLocation": {"uri": "pkg/driver.py", "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": 14, "startColumn": 9},
            },
        },
        {
            "id": 2,
            "message": {"text": "pool.submit(self.run_fragment, job)"},
            "physicalLocation": {
                "artifactLocation": {"uri": "pkg/driver.py", "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": 21, "startColumn": 24},
            },
        },
    ]


def test_warning_findings_have_warning_level(project: Path) -> None:
    bound = finding("PA202", symbol="Driver.run", message="bound method handed to a pool")
    (result,) = sarif_of(project, bound)["runs"][0]["results"]
    assert result["level"] == "warning"


def test_identical_findings_get_distinct_fingerprints_stable_across_moves(project: Path) -> None:
    first = sarif_of(project, finding(line=10), finding(line=11))["runs"][0]["results"]
    moved = sarif_of(project, finding(line=40), finding(line=41))["runs"][0]["results"]
    prints = [r["partialFingerprints"]["pickleAudit/v1"] for r in first]
    assert prints[0].endswith(":1") and prints[1].endswith(":2")
    assert prints[0][:-2] == prints[1][:-2]
    assert [r["partialFingerprints"] for r in moved] == [r["partialFingerprints"] for r in first]


def test_uris_are_percent_encoded_and_relative_to_the_source_root(project: Path) -> None:
    run = sarif_of(project, finding(path="pkg/a dir/odd name.py"))["runs"][0]
    location = run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert location == {"uri": "pkg/a%20dir/odd%20name.py", "uriBaseId": "%SRCROOT%"}
    assert run["originalUriBaseIds"] == {"%SRCROOT%": {"uri": project.as_uri() + "/"}}


def test_render_sarif_ends_with_a_newline(project: Path) -> None:
    text = render_sarif(LintResult(findings=(), files_checked=0, root=str(project)))
    assert text.endswith("}\n")


def test_cli_sarif_for_the_seed_bug_validates_and_locates_each_finding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = copy_fixture("seedbug", tmp_path)
    monkeypatch.chdir(project)
    run = cli("lint", "--format", "sarif")
    assert run.exit_code == 1
    log = json.loads(run.stdout)
    validate(log)
    results = log["runs"][0]["results"]
    assert [
        (
            r["ruleId"],
            r["level"],
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            r["locations"][0]["physicalLocation"]["region"]["startLine"],
        )
        for r in results
    ] == [
        ("PA102", "error", "mbepar/core.py", 11),
        ("PA202", "error", "mbepar/parallel.py", 21),  # error: the driver's state is unpicklable
        ("PA101", "error", "mbepar/settings.py", 10),
    ]
    assert results[0]["relatedLocations"][-1]["physicalLocation"]["artifactLocation"] == {
        "uri": "mbepar/parallel.py",
        "uriBaseId": "%SRCROOT%",
    }
    baseline = cli("lint", "--write-baseline", "b.json")
    assert baseline.exit_code == 0
    recorded = {e["fingerprint"] for e in json.loads((project / "b.json").read_text())["entries"]}
    assert {r["partialFingerprints"]["pickleAudit/v1"][:-2] for r in results} == recorded
