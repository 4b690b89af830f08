"""The cache format: every fact the extractor produces survives JSON exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pickle_audit.lint.facts import extract_facts
from pickle_audit.lint.facts_json import ForgedFacts, decode_facts, encode_facts

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "pickle_audit").rglob("*.py")) + sorted((ROOT / "fixtures").rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_facts_of_real_files_round_trip_through_json(path: Path) -> None:
    facts = extract_facts(path.read_text(encoding="utf-8"), str(path), path.stem)
    loaded = decode_facts(json.loads(json.dumps(encode_facts(facts))))
    assert loaded == facts
    for cls in facts.classes:  # the per-record lookup cache is rebuilt, not shared
        assert loaded.class_named(cls.qualname) == cls


def test_nested_values_and_parse_errors_round_trip() -> None:
    source = "def f(:\n"
    facts = extract_facts(source, "bad.py", "bad")
    assert facts.parse_error is not None
    assert decode_facts(json.loads(json.dumps(encode_facts(facts)))) == facts


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (None, "expected ModuleFacts with 14 fields, found NoneType"),
        (
            ["a.py", "a", 1, [], [], [], [], [], [], None, "", [], [], []],
            "expected bool, found int",
        ),
        (
            ["a.py", "a", False, [["x"]], [], [], [], [], [], None, "", [], [], []],
            "expected ImportFact",
        ),
        (
            ["a.py", "a", False, [], [], [], [], [], "main", None, "", [], [], []],
            "expected a list, found str",
        ),
        (
            ["a.py", "a", False, [], [], [], [], [], [], None, 3, [], [], []],
            "expected str, found int",
        ),
        (
            ["a.py", "a", False, [], [], [], [], [], [], None, "", [[1]], [], []],
            "expected ArgumentPassFact",
        ),
    ],
)
def test_anything_but_encoded_facts_is_refused(data: object, why: str) -> None:
    with pytest.raises(ForgedFacts, match=why):
        decode_facts(data)
