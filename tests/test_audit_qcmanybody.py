"""audit() on qcmanybody 0.8.0's ManyBodyCore: the dict view it stores, and nothing else."""

from __future__ import annotations

import pickle
import runpy
from pathlib import Path

import pytest
import qcmanybody

from pickle_audit import assert_picklable, audit

SCRIPT = Path(__file__).resolve().parents[1] / "fixtures" / "scripts" / "qc_bound_method.py"


@pytest.fixture(scope="module")
def core():
    make_core = runpy.run_path(str(SCRIPT))["make_core"]  # the water dimer of the trace test
    return make_core()


def test_core_has_exactly_one_problem_the_stored_dict_view(core):
    assert qcmanybody.__version__.startswith("0.8.0")
    report = audit(core, name="core")
    assert len(report.problems) == 1, report.format()
    [problem] = report.problems
    assert problem.path == "core.mc_levels"
    assert problem.type == "builtins.dict_keys"
    assert problem.rule == "PA102"
    assert problem.error == "TypeError: cannot pickle 'dict_keys' object"
    # the line that stores the view (line 81 stores a set in the same attribute)
    assert problem.source.endswith("qcmanybody/core.py:120")
    source_file, line = problem.source.rsplit(":", 1)
    assert (
        "self.mc_levels = self.nbodies_per_mc_level.keys()"
        in (Path(source_file).read_text().splitlines()[int(line) - 1])
    )
    assert problem.fix == "store list(...) or tuple(...) instead of the view"
    assert report.size is None


def test_fixed_core_pickles_round_trips_and_reports_its_fattest_parts(core):
    views = core.mc_levels
    core.mc_levels = list(views)
    try:
        report = audit(core, name="core", roundtrip=True)
        assert report.ok, report.format()
        assert report.size == len(pickle.dumps(core))
        assert report.largest[0] == ("core.molecule", len(pickle.dumps(core.molecule)))
        assert_picklable(core, name="core", spawn=True)
    finally:
        core.mc_levels = views


def test_assert_picklable_message_is_the_report(core):
    with pytest.raises(AssertionError) as caught:
        assert_picklable({"core": core}, name="payload")
    text = str(caught.value)
    assert text.splitlines()[:3] == [
        "payload cannot cross a process boundary with pickle: 1 problem",
        "  payload['core'].mc_levels  dict_keys  PA102",
        "      TypeError: cannot pickle 'dict_keys' object",
    ]
