"""The differential harness's fast sample: `audit` agrees with each serializer.

Each serializer's sample runs in its own subprocess (tests/differential.py), so
a hang is a timeout here rather than a stuck test run. The full run is
benchmarks/trace_differential.py; its totals are in README.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HARNESS = Path(__file__).with_name("differential.py")


def run_harness(*arguments: str) -> tuple[list[dict], dict]:
    run = subprocess.run(
        [sys.executable, str(HARNESS), *arguments],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    return lines[:-1], lines[-1]["totals"]


@pytest.mark.timeout(700)
@pytest.mark.parametrize("serializer", ["pickle2", "pickle5", "cloudpickle", "dill"])
def test_sample_agrees_with_the_serializer(serializer):
    failures, totals = run_harness(
        "--serializer", serializer, "--generated", "150", "--harvest", "300", "--seconds", "10"
    )
    assert failures == []
    assert totals["failures"] == 0
    assert totals["modules"] == 300
    assert totals["objects"] >= 150 + 3000  # the generated graphs and every harvested global
    assert totals["checks"] == totals["objects"]


def test_the_harness_catches_a_wrong_leaf_set():
    """The harness must be able to fail: a graph whose bad leaf the audit cannot name
    on its own (an object refusing every pickler, inside an object that lies about it)."""
    sys.path.insert(0, str(HARNESS.parent))
    try:
        import differential
    finally:
        sys.path.remove(str(HARNESS.parent))
    totals = differential.Totals()
    leaf = differential.SelfFailing()
    graph = [leaf]
    differential.judge("planted", graph, "pickle5", totals, 10.0, injected=[leaf, object()])
    assert [(f["check"], f["detail"]) for f in totals.failures] == [
        ("leaves", "reported ['obj[0]'], 2 injected")
    ]
