"""Every rule doc's examples are tests: the bad one is flagged, the good one is clean.

The docs ship inside the package (see test_packaging.py), so `pickle-audit rule PA102`
works from an installed wheel.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from error_text import as_this_python_says

from pickle_audit.catalog import RULES
from pickle_audit.cli import main
from pickle_audit.config import Config
from pickle_audit.lint.run import lint_paths

REPO = Path(__file__).resolve().parent.parent
RULES_DIR = REPO / "pickle_audit" / "rules"
SECTIONS = ("What it flags", "Why it breaks", "Bad", "Good", "Fix", "What trace reports")


def example(rule_id: str, section: str) -> str:
    text = (RULES_DIR / f"{rule_id}.md").read_text(encoding="utf-8")
    match = re.search(rf"^## {section}\n\n```python\n(.*?)^```$", text, re.S | re.M)
    assert match, f"pickle_audit/rules/{rule_id}.md has no python block under '## {section}'"
    return match.group(1)


def lint_example(tmp_path: Path, rule_id: str, section: str) -> list[tuple[str, str]]:
    """Lint the example as its own one-file project; (rule, severity) of each finding."""
    project = tmp_path / f"{rule_id.lower()}_{section.lower()}"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "example"\n')
    (project / "example.py").write_text(example(rule_id, section), encoding="utf-8")
    result = lint_paths([project], Config(), project, use_cache=False, jobs=1)
    assert result.files_checked == 1
    return [(finding.rule, finding.severity) for finding in result.findings]


def test_every_rule_has_a_doc_with_every_section() -> None:
    assert sorted(path.stem for path in RULES_DIR.glob("PA*.md")) == sorted(RULES)
    for rule in RULES.values():
        text = (RULES_DIR / f"{rule.id}.md").read_text(encoding="utf-8")
        assert text.startswith(f"# {rule.id} {rule.name}\n")
        assert f"Severity: {rule.severity}" in text
        assert re.findall(r"^## (.+)$", text, re.M) == list(SECTIONS)


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_bad_example_is_flagged_with_its_rule(tmp_path: Path, rule_id: str) -> None:
    found = lint_example(tmp_path, rule_id, "Bad")
    if RULES[rule_id].trace_only:  # the doc's trace output, checked below, is its flag
        assert found == [] and rule_id in trace_examples()
    else:
        assert rule_id in {rule for rule, _ in found}, found


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_good_example_is_clean(tmp_path: Path, rule_id: str) -> None:
    assert lint_example(tmp_path, rule_id, "Good") == []


@pytest.mark.parametrize(
    ("rule_id", "fixed", "broken"),
    [
        ("PA101", "self.factor = factor", "self.factor = lambda: factor"),
        ("PA102", "list(self.nbodies_per_level.keys())", "self.nbodies_per_level.keys()"),
        ("PA104", "[index * index for index in range(count)]", "(i * i for i in range(count))"),
        ("PA302", 'if name.startswith("_"):', "if False:"),
    ],
)
def test_good_example_with_its_fix_undone_is_flagged(
    tmp_path: Path, rule_id: str, fixed: str, broken: str
) -> None:
    """The good examples really send their class to a worker: undoing the fix is caught."""
    source = example(rule_id, "Good")
    assert source.count(fixed) == 1
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "example.py").write_text(source.replace(fixed, broken))
    result = lint_paths([tmp_path], Config(), tmp_path, use_cache=False, jobs=1)
    assert [finding.rule for finding in result.findings] == [rule_id]


def trace_examples() -> list[str]:
    """Rules whose 'What trace reports' section shows real output."""
    return [
        rule_id
        for rule_id in sorted(RULES)
        if "## What trace reports\n" in (text := (RULES_DIR / f"{rule_id}.md").read_text())
        and "```text\n" in text.split("## What trace reports\n", 1)[1]
    ]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("rule_id", trace_examples())
def test_trace_output_shown_in_the_doc_is_what_trace_prints(tmp_path: Path, rule_id: str) -> None:
    """The doc's block is either `$ command` and its output, or `pickle-audit trace bad.py`'s."""
    section = (
        (RULES_DIR / f"{rule_id}.md")
        .read_text(encoding="utf-8")
        .split("## What trace reports\n", 1)[1]
    )
    shown = re.search(r"```text\n(.*?)```", section, re.S).group(1)
    command = ["pickle-audit", "trace", "bad.py"]
    if shown.startswith("$ "):
        first, shown = shown.split("\n", 1)
        command = shlex.split(first[2:])
    (tmp_path / "bad.py").write_text(example(rule_id, "Bad"), encoding="utf-8")
    run = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=110, check=False
    )
    printed = re.sub(r"0x[0-9a-f]+", "0x...", run.stdout + run.stderr)  # object addresses vary
    assert printed.strip() == as_this_python_says(shown).strip()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("rule_id", [rule.id for rule in RULES.values() if rule.trace_only])
def test_good_example_of_a_trace_only_rule_traces_clean(tmp_path: Path, rule_id: str) -> None:
    section = (RULES_DIR / f"{rule_id}.md").read_text(encoding="utf-8")
    command = shlex.split(re.search(r"```text\n\$ (.*)\n", section).group(1))
    (tmp_path / "bad.py").write_text(example(rule_id, "Good"), encoding="utf-8")
    run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=110)
    assert (run.returncode, rule_id in run.stderr) == (0, False), run.stderr


def test_rule_command_prints_the_doc_and_lists_rules() -> None:
    runner = CliRunner()
    shown = runner.invoke(main, ["rule", "pa102"])
    assert shown.exit_code == 0
    assert shown.output == (RULES_DIR / "PA102.md").read_text(encoding="utf-8")

    listing = runner.invoke(main, ["rule"])
    assert listing.exit_code == 0
    rows = {line.split()[0]: line.split(None, 3) for line in listing.output.splitlines()}
    assert list(rows) == list(RULES)
    assert rows["PA102"] == ["PA102", "dict-view", "error", RULES["PA102"].summary]
    assert rows["PA202"][:3] == ["PA202", "bound-method-task", "warning"]

    unknown = runner.invoke(main, ["rule", "PA999"])
    assert unknown.exit_code == 2
    assert "unknown rule id 'PA999'" in unknown.output


def test_rule_command_json_and_all() -> None:
    runner = CliRunner()
    one = runner.invoke(main, ["rule", "PA109", "--output-format", "json"])
    assert one.exit_code == 0
    assert json.loads(one.output) == {
        "code": "PA109",
        "name": "inherited-only",
        "severity": "error",
        "summary": RULES["PA109"].summary,
        "fix": RULES["PA109"].fix,
        "explanation": (RULES_DIR / "PA109.md").read_text(encoding="utf-8"),
    }
    listing = json.loads(runner.invoke(main, ["rule", "--output-format", "json"]).output)
    assert [record["code"] for record in listing] == list(RULES)
    assert listing[1]["name"] == "unused-suppression"

    every = runner.invoke(main, ["rule", "--all"])
    assert every.exit_code == 0
    assert every.output == "\n".join(
        (RULES_DIR / f"{rule_id}.md").read_text(encoding="utf-8") for rule_id in RULES
    )
    both = runner.invoke(main, ["rule", "PA102", "--all"])
    assert (both.exit_code, both.output) == (2, "Error: give a rule ID or --all, not both\n")
