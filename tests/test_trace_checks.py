"""roundtrip=True, spawn=True and `largest`: the checks beyond "does it pickle"."""

from __future__ import annotations

import copyreg
import json
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
from error_text import UNGUARDED_GETATTR_ERROR

from pickle_audit import audit
from pickle_audit.trace import probes
from pickle_audit.trace.compare import same_value

ROOT = Path(__file__).resolve().parents[1]


class BadError(Exception):
    """PA301: pickles, but `BadError(*self.args)` cannot be called."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


class GoodError(Exception):
    def __init__(self, code, message):
        super().__init__(code, message)


class ForgetfulState:
    """Drops its data on the way out, so the loaded copy differs."""

    def __init__(self, value):
        self.value = value

    def __getstate__(self):
        return {}


class UnguardedGetattr:
    """PA302: unpickling looks up __setstate__ before `data` exists -> endless recursion."""

    def __init__(self):
        self.data = {"x": 1}

    def __getattr__(self, name):
        return self.data[name]


@pytest.fixture(autouse=True)
def plain_exception_pickling(monkeypatch):
    """Undo tblib's exception reducers for this module's exceptions.

    Importing dask.multiprocessing or distributed (other tests do) runs
    `tblib.pickling_support.install()`, which registers a copyreg reducer for every
    exception class that rebuilds it without calling `__init__`: in such a process
    PA301 exceptions load fine, and the audit rightly says so.
    """
    for error_class in (BadError, GoodError):
        monkeypatch.delitem(copyreg.dispatch_table, error_class, raising=False)


class Plain:
    def __init__(self, value):
        self.value = value


def test_roundtrip_reports_exceptions_that_cannot_be_loaded_as_pa301():
    payload = {"ok": GoodError(1, "fine"), "err": BadError(2, "boom")}
    report = audit(payload, name="result", roundtrip=True)
    [problem] = report.problems
    assert problem.path == "result['err']"
    assert problem.type == f"{__name__}.BadError"
    assert problem.rule == "PA301"
    assert problem.error.startswith("pickles, but loading it back raises TypeError:")
    assert "missing 1 required positional argument: 'message'" in problem.error
    assert report.size == len(pickle.dumps(payload))


def test_roundtrip_reports_getattr_recursion_as_pa302():
    report = audit([1, UnguardedGetattr()], roundtrip=True)
    assert [(p.path, p.rule) for p in report.problems] == [("obj[1]", "PA302")]
    # 3.11+: the loaded copy recurses; 3.10 already fails to pickle (KeyError: '__getstate__')
    assert report.problems[0].error == UNGUARDED_GETATTR_ERROR


def test_sibling_objects_are_compared_each_by_its_own_state():
    # the state dicts built while comparing are temporaries: a freed one's id is
    # reused by the next, which must not make the next pair look already compared
    assert not same_value([Plain(1), Plain(2)], [Plain(1), Plain(3)])
    assert not same_value({"a": Plain(1), "b": Plain(2)}, {"a": Plain(1), "b": Plain(3)})
    assert same_value([Plain(1), Plain(2)], [Plain(1), Plain(2)])


def test_roundtrip_reports_values_that_come_back_different():
    report = audit({"jobs": [Plain(1), ForgetfulState(Plain(2))]}, roundtrip=True)
    [problem] = report.problems
    assert problem.path == "obj['jobs'][1]"
    assert problem.rule is None
    assert problem.error.startswith("value changed in a pickle round trip")
    assert "__getstate__" in problem.fix


def test_roundtrip_of_equal_plain_objects_is_clean():
    value = {"a": [Plain(float("nan")), Plain({"x": (1, 2)})], "b": GoodError(3, "m")}
    assert audit(value, roundtrip=True).ok


def test_audit_loads_only_the_bytes_it_just_produced(monkeypatch):
    produced: list[bytes] = []
    loaded: list[bytes] = []
    real_dumps = probes.StandaloneDumper.dumps
    real_loads = pickle.loads

    def recording_dumps(self, obj):
        data = real_dumps(self, obj)
        produced.append(data)
        return data

    def recording_loads(data, *args, **kwargs):
        loaded.append(data)
        return real_loads(data, *args, **kwargs)

    monkeypatch.setattr(probes.StandaloneDumper, "dumps", recording_dumps)
    monkeypatch.setattr(pickle, "loads", recording_loads)
    report = audit({"err": BadError(1, "x"), "fine": [Plain(1)]}, roundtrip=True)
    monkeypatch.undo()
    assert [p.rule for p in report.problems] == ["PA301"]
    assert loaded, "the round trip must load something"
    produced_ids = {id(data) for data in produced}
    assert all(id(data) in produced_ids for data in loaded)
    assert audit({"plain": 1}).ok  # a plain audit loads nothing at all
    assert len(loaded) == len([d for d in loaded if id(d) in produced_ids])


@pytest.mark.timeout(120)
def test_spawn_flags_functions_defined_under_the_main_guard_as_pa203():
    script = ROOT / "fixtures" / "scripts" / "spawn_main_guard.py"
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=ROOT, timeout=100
    )
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert [(p["path"], p["rule"], p["type"]) for p in report["problems"]] == [
        ("payload['broken']", "PA203", "builtins.function")
    ]
    problem = report["problems"][0]
    assert (
        "in a spawn worker raises AttributeError: Can't get attribute 'guarded'"
        in (problem["error"])
    )
    guard_line = script.read_text().splitlines().index("    def guarded(x):") + 1
    assert problem["source"] == f"fixtures/scripts/spawn_main_guard.py:{guard_line}"


@pytest.mark.timeout(120)
def test_spawn_loads_importable_values_cleanly():
    report = audit({"fn": Plain, "value": Plain([1, 2])}, spawn=True)
    assert report.ok, report.format()


def test_largest_lists_the_fattest_subtrees_first():
    big = b"x" * 50_000
    medium = list(range(2_000))
    value = Plain({"big": big, "medium": medium, "small": [1]})
    report = audit(value, name="task")
    assert report.largest == [
        ("task.value", len(pickle.dumps(value.value))),
        ("task.value['big']", len(pickle.dumps(big))),
        ("task.value['medium']", len(pickle.dumps(medium))),
        ("task.value['small']", len(pickle.dumps([1]))),
    ]


def test_largest_keeps_the_ten_biggest():
    value = [bytes(100 * i) for i in range(1, 30)]
    expected = [(f"obj[{i}]", len(pickle.dumps(value[i]))) for i in range(28, 18, -1)]
    assert audit(value).largest == expected


def test_largest_of_a_failing_payload_looks_inside_the_failing_parts():
    big = b"y" * 20_000
    value = Plain({"bad": Plain([{}.keys(), big]), "small": [1, 2]})
    report = audit(value, name="task")
    assert not report.ok
    assert report.largest == [
        ("task.value['bad'].value[1]", len(pickle.dumps(big))),
        ("task.value['small']", len(pickle.dumps([1, 2]))),
    ]


def test_largest_survives_pickling_the_report():
    report = audit(Plain([b"a" * 1000, 2]), name="x")
    copy = pickle.loads(pickle.dumps(report))
    assert copy.largest == report.largest
    assert copy.largest[0] == ("x.value", len(pickle.dumps([b"a" * 1000, 2])))
    assert copy.problems == [] and copy.size == report.size


@pytest.mark.timeout(120)
def test_spawn_check_explains_a_main_module_that_cannot_be_reimported(tmp_path):
    script = tmp_path / "fragile.py"
    script.write_text(
        "import sys\n"
        "if __name__ != '__main__':\n"
        "    raise RuntimeError('only runs as a script')\n"
        "from pickle_audit import audit\n"
        "try:\n"
        "    audit([1, 2], spawn=True)\n"
        "except RuntimeError as error:\n"
        "    print(error)\n"
    )
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, timeout=100
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "spawn=True could not prepare a fresh interpreter: re-importing the main module the way"
        " a spawn worker does failed (its traceback is above)"
    )
    assert "RuntimeError: only runs as a script" in result.stderr
