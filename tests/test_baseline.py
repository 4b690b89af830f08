"""Baselines: line-free fingerprints, counts, stale entries and the file format."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
from gate_helpers import finding

from pickle_audit.baseline import (
    apply_baseline,
    fingerprint,
    load_baseline,
    normalise_snippet,
    write_baseline,
)
from pickle_audit.config import ConfigError


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    "reformatted",
    [
        "self.levels  =  self.table.keys( )",
        "self.levels = (\n    self.table.keys()\n)",
        "self.levels = self.table.keys()  # the levels",
        "self.levels = self.table.keys(\n)",
    ],
)
def test_reformatting_keeps_the_fingerprint(reformatted: str) -> None:
    assert fingerprint(finding(snippet=reformatted)) == fingerprint(finding())


def test_quotes_and_trailing_commas_do_not_matter() -> None:
    black_style = 'self.names = {"a": 1, "b": 2,}.keys()'
    other_style = "self.names = {'a': 1,\n 'b': 2}.keys()"
    assert normalise_snippet(black_style) == normalise_snippet(other_style)
    assert normalise_snippet(black_style) == "self.names = {'a': 1, 'b': 2}.keys()"


def test_block_headers_normalise_without_their_body() -> None:
    assert normalise_snippet("class BadError( Exception, ):  # why") == "class BadError(Exception):"
    assert normalise_snippet("@cached_property") == "@ cached_property"


# Snippets that ast.unparse or tokenize render differently on Python 3.10-3.13:
# an argument-less lambda, f-strings (split into parts by the 3.12 tokenizer),
# nested quotes, and syntax that older Pythons cannot parse at all.
VERSION_SENSITIVE = {
    "self.f = lambda: 1": "self.f = lambda: 1",
    "self.msg = f'{name!r}: {value:>{width}}'": "self.msg = f'{name!r}: {value:>{width}}'",
    "self.pick = lambda : {'k': f\"{k}\"}.keys()": "self.pick = lambda: {'k': f'{k}'}.keys()",
}


@pytest.mark.parametrize("snippet", sorted(VERSION_SENSITIVE))
def test_canonical_snippet_is_the_same_on_every_python(snippet: str) -> None:
    assert normalise_snippet(snippet) == VERSION_SENSITIVE[snippet]


def test_fingerprints_are_the_same_on_every_python() -> None:
    # the digests were computed once; CI asserts them on 3.10, 3.11, 3.12 and 3.13
    assert [fingerprint(finding(snippet=s)) for s in sorted(VERSION_SENSITIVE)] == [
        "1e2b6825320f51d7",
        "8738b3b96a63b0ca",
        "d8d1ff20a65ac125",
    ]
    new_syntax = finding(snippet="type Table[K] = dict[K, int]")  # a SyntaxError before 3.12
    assert fingerprint(new_syntax) == "f1c351f866581d48"


def test_a_baseline_matches_by_its_recorded_fields_not_its_stored_digest(project: Path) -> None:
    recorded = finding(snippet="self.levels = self.table.keys()")
    write_baseline(Path("baseline.json"), [recorded])
    document = json.loads(Path("baseline.json").read_text())
    document["entries"][0]["fingerprint"] = "0" * 16  # as written by another version
    Path("baseline.json").write_text(json.dumps(document))
    new, stale = apply_baseline([recorded], load_baseline(Path("baseline.json")))
    assert (new, stale) == ([], [])


def test_line_and_column_are_not_part_of_the_fingerprint() -> None:
    assert fingerprint(finding(line=10, column=9)) == fingerprint(finding(line=400, column=13))


@pytest.mark.parametrize(
    "changed",
    [
        {"rule": "PA101"},
        {"path": "pkg/other.py"},
        {"symbol": "Core.other"},
        {"snippet": "self.levels = self.table.values()"},
    ],
)
def test_rule_file_symbol_and_source_each_change_the_fingerprint(changed: dict) -> None:
    assert fingerprint(finding(**changed)) != fingerprint(finding())


def test_written_file_is_sorted_indented_json_with_a_trailing_newline(project: Path) -> None:
    findings = [
        finding(path="pkg/z.py", symbol="Z.a", snippet="self.a = d.items()"),
        finding(rule="PA101", path="pkg/a.py", symbol="A.f", snippet="self.f = lambda: 1"),
        finding(path="pkg/z.py", line=30, symbol="Z.a", snippet="self.a = d.items()"),
    ]
    write_baseline(Path("baseline.json"), findings)
    text = (project / "baseline.json").read_text()
    document = json.loads(text)
    assert text.endswith("}\n")
    assert text == json.dumps(document, indent=2, sort_keys=True) + "\n"
    assert document["tool"] == "pickle-audit"
    assert document["version"] == 1
    assert [
        {key: entry[key] for key in ("rule", "path", "symbol", "snippet", "count")}
        for entry in document["entries"]
    ] == [
        {
            "rule": "PA101",
            "path": "pkg/a.py",
            "symbol": "A.f",
            "snippet": "self.f = lambda: 1",
            "count": 1,
        },
        {
            "rule": "PA102",
            "path": "pkg/z.py",
            "symbol": "Z.a",
            "snippet": "self.a = d.items()",
            "count": 2,
        },
    ]
    assert document["entries"][1]["fingerprint"] == fingerprint(findings[0], project)


def test_written_file_does_not_depend_on_finding_order(project: Path) -> None:
    findings = [
        finding(symbol=f"Core.attr{i}", snippet=f"self.attr{i} = d.keys()") for i in range(5)
    ]
    write_baseline(Path("one.json"), findings)
    write_baseline(Path("two.json"), list(reversed(findings)))
    assert (project / "one.json").read_bytes() == (project / "two.json").read_bytes()


def test_moved_and_reformatted_findings_stay_baselined(project: Path) -> None:
    write_baseline(Path("baseline.json"), [finding(line=10)])
    moved = finding(line=52, column=13, snippet="self.levels = (\n  self.table.keys()\n)")
    new, stale = apply_baseline([moved], load_baseline(Path("baseline.json")))
    assert new == []
    assert stale == []


def test_a_second_identical_finding_is_new_and_reported_at_its_own_line(project: Path) -> None:
    write_baseline(Path("baseline.json"), [finding(line=10)])
    first, second = finding(line=10), finding(line=11)
    new, stale = apply_baseline([second, first], load_baseline(Path("baseline.json")))
    assert new == [second]
    assert stale == []


def test_counts_absorb_exactly_as_many_findings_as_recorded(project: Path) -> None:
    write_baseline(Path("baseline.json"), [finding(line=10), finding(line=11)])
    baseline = load_baseline(Path("baseline.json"))
    assert apply_baseline([finding(line=10), finding(line=11)], baseline) == ([], [])
    three = [finding(line=10), finding(line=11), finding(line=12)]
    assert apply_baseline(three, baseline) == ([three[2]], [])
    new, stale = apply_baseline([finding(line=10)], baseline)
    assert new == []
    assert stale == [
        "PA102 pkg/core.py Core.levels: self.levels = self.table.keys() (1 of 2 still found)"
    ]


def test_fixed_findings_are_reported_stale_and_pruned_by_rewriting(project: Path) -> None:
    kept = finding(rule="PA101", symbol="Core.f", snippet="self.f = lambda x: x")
    write_baseline(Path("baseline.json"), [finding(), kept])
    new, stale = apply_baseline([kept], load_baseline(Path("baseline.json")))
    assert new == []
    assert stale == ["PA102 pkg/core.py Core.levels: self.levels = self.table.keys()"]
    write_baseline(Path("baseline.json"), [kept])
    entries = load_baseline(Path("baseline.json")).entries
    assert [(e.rule, e.symbol) for e in entries] == [("PA101", "Core.f")]


def test_parse_errors_are_never_baselined(project: Path) -> None:
    broken = finding(rule="PA000", symbol="", snippet="", message="invalid syntax at line 3")
    write_baseline(Path("baseline.json"), [broken, finding()])
    baseline = load_baseline(Path("baseline.json"))
    assert [e.rule for e in baseline.entries] == ["PA102"]
    assert apply_baseline([broken, finding()], baseline) == ([broken], [])


def test_paths_are_relative_to_the_baseline_file_not_the_working_directory(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "pkg").mkdir()
    write_baseline(Path("ci/baseline.json"), [finding(path="pkg/core.py")])
    assert load_baseline(Path("ci/baseline.json")).entries[0].path == "../pkg/core.py"
    monkeypatch.chdir(project / "pkg")
    same_file = finding(path="core.py")
    assert apply_baseline([same_file], load_baseline(project / "ci/baseline.json")) == ([], [])


def test_entries_outside_the_linted_paths_are_neither_stale_nor_pruned(project: Path) -> None:
    other = finding(path="pkg/other.py", symbol="Other.v", snippet="self.v = d.values()")
    write_baseline(Path("baseline.json"), [finding(), other])
    baseline = load_baseline(Path("baseline.json"))
    scope = [project / "pkg/core.py"]
    assert apply_baseline([finding()], baseline, scope) == ([], [])
    _, stale = apply_baseline([], baseline, scope)
    assert stale == ["PA102 pkg/core.py Core.levels: self.levels = self.table.keys()"]
    write_baseline(Path("baseline.json"), [], scope)
    assert [e.path for e in load_baseline(Path("baseline.json")).entries] == ["pkg/other.py"]


def test_a_folder_scope_covers_deleted_files_below_it(project: Path) -> None:
    write_baseline(Path("baseline.json"), [finding(path="pkg/gone.py")])
    _, stale = apply_baseline([], load_baseline(Path("baseline.json")), [project / "pkg"])
    assert stale == ["PA102 pkg/gone.py Core.levels: self.levels = self.table.keys()"]


def test_missing_baseline_names_the_file_and_how_to_create_it(project: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load_baseline(Path("nowhere.json"))
    assert str(error.value) == (
        "baseline file nowhere.json does not exist; create it with "
        "`pickle-audit lint --write-baseline nowhere.json`"
    )


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ("{not json", "invalid JSON at line 1: Expecting property name enclosed in double quotes"),
        ("[]", "expected an object with an 'entries' list"),
        ('{"version": 7, "entries": []}', "version 7, this pickle-audit reads 1"),
        ('{"version": 1, "entries": [3]}', "entry 0 is not an object"),
        ('{"version": 1, "entries": [{"rule": "PA102"}]}', "entry 0 has no string 'fingerprint'"),
    ],
)
def test_malformed_baseline_is_a_configuration_error(project: Path, content: str, why: str) -> None:
    (project / "b.json").write_text(content)
    with pytest.raises(ConfigError) as error:
        load_baseline(Path("b.json"))
    assert str(error.value) == (
        f"baseline b.json is malformed ({why}); regenerate it with "
        "`pickle-audit lint --write-baseline b.json`"
    )


def test_duplicate_entries_from_a_merge_add_up(project: Path) -> None:
    write_baseline(Path("baseline.json"), [finding()])
    document = json.loads((project / "baseline.json").read_text())
    document["entries"] *= 2
    (project / "baseline.json").write_text(json.dumps(document))
    (entry,) = load_baseline(Path("baseline.json")).entries
    assert entry.count == 2
    assert apply_baseline(
        [finding(line=1), finding(line=2)], load_baseline(Path("baseline.json"))
    ) == ([], [])


def test_baseline_data_pickles(project: Path) -> None:
    write_baseline(Path("baseline.json"), [finding()])
    baseline = load_baseline(Path("baseline.json"))
    assert pickle.loads(pickle.dumps(baseline)) == baseline
