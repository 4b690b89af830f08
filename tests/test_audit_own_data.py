"""pickle-audit's own stage data crosses process boundaries, so it must pass its own audit.

Uses the `assert_picklable` fixture of the pytest plugin (entry point `pytest11`).
"""

from __future__ import annotations

from pathlib import Path

import qcmanybody.core

from pickle_audit import audit
from pickle_audit.config import Config
from pickle_audit.lint.facts import extract_facts
from pickle_audit.lint.run import lint_paths
from pickle_audit.trace.hooks import Violation

ROOT = Path(__file__).resolve().parents[1]
SEEDBUG = ROOT / "fixtures" / "seedbug"


def test_lint_facts_of_a_large_real_module_pass(assert_picklable):
    path = Path(qcmanybody.core.__file__)
    facts = extract_facts(path.read_text(), str(path), "qcmanybody.core")
    assert facts.find_attribute("ManyBodyCore", "mc_levels") is not None
    assert_picklable(facts, name="facts", roundtrip=True)
    assert_picklable(facts, name="facts", serializer="cloudpickle", roundtrip=True)


def test_lint_findings_and_result_pass(assert_picklable):
    result = lint_paths([SEEDBUG], Config(), SEEDBUG, use_cache=False, jobs=1)
    assert result.findings, "the seed-bug project has findings to ship"
    assert_picklable(result, name="result", roundtrip=True)
    assert_picklable(list(result.findings), name="findings", roundtrip=True, spawn=True)


def test_trace_reports_and_violations_pass(assert_picklable):
    report = audit({"view": {}.keys()}, name="payload")
    violation = Violation("Pool.map", "run.py:3", "pickle", tuple(report.problems))
    assert_picklable(report.problems, name="problems", roundtrip=True)
    assert_picklable(violation, name="violation", roundtrip=True)
    assert_picklable(report, name="report", roundtrip=True)
