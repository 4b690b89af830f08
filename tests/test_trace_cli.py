"""`pickle-audit trace` and `pickle-audit check`, run as real commands on real scripts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from error_text import LOCAL_OBJECT

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "fixtures" / "scripts"
BOUNDARIES = SCRIPTS / "boundaries.py"


def pickle_audit(*args: str, cwd: Path = ROOT, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pickle_audit", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
    )


def line_of(path: Path, marker: str) -> int:
    lines = path.read_text().splitlines()
    return next(i for i, text in enumerate(lines, start=1) if marker in text)


LAMBDA_LINE = line_of(BOUNDARIES, "return (lambda: good)")

# --bad NAME -> (boundary, call-site marker, path of the lambda in the payload);
# a forked child inherits its target and initializer: those are pickled only under spawn
SPAWN_ONLY = {"initializer", "process"}
BOUNDARY_CASES = {
    "submit": ("ProcessPoolExecutor.submit", 'step("submit"', "args[0]"),
    "kwargs": ("ProcessPoolExecutor.submit", 'step("kwargs"', "kwargs['y']"),
    "initializer": (
        "ProcessPoolExecutor(initializer=...)",
        "return ProcessPoolExecutor(1, context, initializer",
        "initializer",
    ),
    "executor_map": ("ProcessPoolExecutor.map", 'step("map"', "args[1][0]"),
    "apply_async": ("Pool.apply_async", 'step("apply_async"', "args[0]"),
    "starmap": ("Pool.starmap", 'step("starmap"', "args[0][0][1]"),
    "imap": ("Pool.imap", 'step("imap"', "args[0][0]"),
    "queue": ("Queue.put", 'queue.put({"value": payload', "args[0]['value']"),
    "process": ("Process.start", 'step("process"', "fn"),
    "send": ("Connection.send", 'step("send"', "args[0][0]"),
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("bad", sorted(BOUNDARY_CASES))
def test_trace_stops_at_the_bad_boundary_call(bad):
    boundary, marker, path = BOUNDARY_CASES[bad]
    start = ["--start-method", "spawn"] if bad in SPAWN_ONLY else []
    result = pickle_audit("trace", *start, str(BOUNDARIES.relative_to(ROOT)), "--bad", bad)
    assert result.returncode == 1, result.stderr
    call_site = f"fixtures/scripts/boundaries.py:{line_of(BOUNDARIES, marker)}"
    call = boundary if boundary.endswith(")") else f"{boundary}(...)"
    note = "  pickled because processes start by spawn here; under fork the child inherits it"
    expected = [
        f"{call_site}: {call} sends a payload that cannot be pickled with pickle: 1 problem",
        *([note] if start else []),
        f"  {path}  function  PA101",
        f"      AttributeError: {LOCAL_OBJECT} 'main.<locals>.payload.<locals>.<lambda>'",
        f"      source: fixtures/scripts/boundaries.py:{LAMBDA_LINE}",
        "      fix: use a module-level function (def) instead of the lambda",
        "pickle-audit trace: stopped fixtures/scripts/boundaries.py at its first bad payload",
    ]
    assert result.stderr.splitlines()[-len(expected) :] == expected
    # stopped right there: nothing after the bad call ran
    assert "recv [7]" not in result.stdout


@pytest.mark.timeout(120)
@pytest.mark.parametrize("bad", sorted(SPAWN_ONLY))
def test_under_fork_the_inherited_payloads_are_not_pickled_and_not_reported(bad):
    result = pickle_audit("trace", str(BOUNDARIES.relative_to(ROOT)), "--bad", bad)
    assert result.returncode == 3, result.stderr  # the script ran to its end
    # (a forked child the script does not wait for may still be writing to stderr)
    assert (
        "pickle-audit trace: 0 bad payloads in 11 checked; fixtures/scripts/boundaries.py"
        " exited with status 3"
    ) in result.stderr.splitlines()
    assert "cannot be pickled" not in result.stderr


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("start", "checked"), [((), 11), (("--start-method", "spawn"), 16)])
def test_clean_run_keeps_the_scripts_status_and_output(start, checked):
    result = pickle_audit("trace", *start, str(BOUNDARIES.relative_to(ROOT)), "--status", "5")
    assert result.returncode == 5, result.stderr
    assert result.stdout.splitlines() == [
        "initializer None",
        "submit 9",
        "kwargs 3",
        "map [11, 22]",
        "apply_async 16",
        "starmap [3]",
        "imap [25]",
        "queue {'value': 6}",
        "process None",
        "send None",
        "recv [7]",
    ]
    assert result.stderr.splitlines() == [
        f"pickle-audit trace: 0 bad payloads in {checked} checked;"
        " fixtures/scripts/boundaries.py exited with status 5"
    ]


@pytest.mark.timeout(120)
def test_keep_going_collects_every_bad_payload_as_json(tmp_path):
    report_file = tmp_path / "trace.json"
    result = pickle_audit(
        "trace",
        "--keep-going",
        "--format",
        "json",
        "--output",
        str(report_file),
        str(BOUNDARIES),
        *("--bad", "submit", "--bad", "starmap", "--bad", "send"),
    )
    assert result.returncode == 1, result.stderr
    report = json.loads(report_file.read_text())
    assert report["version"] == 1
    assert report["stopped"] is False
    assert report["exit_status"] == 3  # the script ran to its end
    # 2 x submit, map, apply_async, starmap, imap's function and its one item (audited as
    # the pool takes it), 2 x Queue.put, 2 x send; forked children inherit their targets
    # and initializers
    assert report["payloads_checked"] == 11
    assert [
        (v["boundary"], v["serializer"], [p["path"] for p in v["problems"]])
        for v in report["violations"]
    ] == [
        ("ProcessPoolExecutor.submit", "pickle", ["args[0]"]),
        ("Pool.starmap", "pickle", ["args[0][0][1]"]),
        ("Connection.send", "pickle", ["args[0][0]"]),
    ]
    # the bad payloads failed harmlessly inside the script, which carried on
    assert "submit failed: AttributeError" in result.stdout
    assert "recv [7]" in result.stdout


@pytest.mark.timeout(120)
def test_serializer_override_judges_every_boundary_by_it():
    result = pickle_audit(
        "trace", "--serializer", "cloudpickle", str(BOUNDARIES), "--bad", "submit"
    )
    assert result.returncode == 3, result.stderr  # cloudpickle carries the lambda fine


@pytest.mark.timeout(120)
def test_trace_of_a_qcmanybody_core_behind_a_bound_method():
    script = SCRIPTS / "qc_bound_method.py"
    result = pickle_audit("trace", str(script.relative_to(ROOT)))
    assert result.returncode == 1, result.stderr
    lines = result.stderr.splitlines()
    call_site = f"fixtures/scripts/qc_bound_method.py:{line_of(script, 'pool.submit(')}"
    assert lines[0] == (
        f"{call_site}: ProcessPoolExecutor.submit(...) sends a payload that cannot be pickled"
        " with pickle: 1 problem"
    )
    assert lines[1] == "  fn.__self__.core.mc_levels  dict_keys  PA102"
    assert lines[2] == "      TypeError: cannot pickle 'dict_keys' object"
    assert lines[3].startswith("      source: ")
    assert lines[3].endswith("/site-packages/qcmanybody/core.py:120")
    assert result.stdout == ""  # stopped before the task ran


@pytest.mark.timeout(180)
def test_trace_dask_client_judges_by_cloudpickle():
    script = SCRIPTS / "dask_submit.py"
    result = pickle_audit("trace", str(script.relative_to(ROOT)), timeout=170)
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines()[:2] == ["lambda 2", "map submitted"]
    lock_line = line_of(script, 'print("lock"')
    call_site = f"fixtures/scripts/dask_submit.py:{lock_line}"
    assert (
        f"{call_site}: Client.submit(...) sends a payload that cannot be pickled with"
        " cloudpickle: 1 problem"
    ) in result.stderr
    assert "  args[1]  _thread.lock  PA105" in result.stderr
    assert "kwargs['key']" not in result.stderr


@pytest.mark.timeout(120)
def test_trace_loky_judges_by_cloudpickle():
    script = SCRIPTS / "loky_submit.py"
    result = pickle_audit("trace", str(script.relative_to(ROOT)))
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines() == ["closure 11"]
    assert "  args[1]  generator  PA104" in result.stderr


def test_trace_missing_script_is_a_usage_error():
    result = pickle_audit("trace", "no/such/script.py")
    assert result.returncode == 2
    assert "no/such/script.py" in result.stderr


# --- check MODULE:EXPR -----------------------------------------------------------------------


@pytest.fixture
def tasks_module(tmp_path):
    (tmp_path / "tasks.py").write_text(
        "import threading\n"
        "\n"
        "class Task:\n"
        "    def __init__(self):\n"
        "        self.settings = {'a': 1}\n"
        "        self.names = self.settings.keys()\n"
        "        self.lock = threading.Lock()\n"
        "\n"
        "def clean():\n"
        "    return {'a': [1, 2]}\n"
        "\n"
        "class BadError(Exception):\n"
        "    def __init__(self, code, message):\n"
        "        super().__init__(message)\n"
    )
    return tmp_path


def test_check_reports_problems_and_exits_1(tasks_module):
    result = pickle_audit("check", "tasks:Task()", cwd=tasks_module)
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines() == [
        "Task() cannot cross a process boundary with pickle: 2 problems",
        "  Task().names  dict_keys  PA102",
        "      TypeError: cannot pickle 'dict_keys' object",
        "      source: tasks.py:6",
        "      fix: store list(...) or tuple(...) instead of the view",
        "  Task().lock  _thread.lock  PA105",
        "      TypeError: cannot pickle '_thread.lock' object",
        "      source: tasks.py:7",
        "      fix: create the resource in the worker, or drop it in __getstate__ and recreate"
        " it in __setstate__",
    ]


def test_check_clean_value_exits_0_and_json(tasks_module):
    result = pickle_audit("check", "tasks:clean()", "--format", "json", cwd=tasks_module)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report == {
        "name": "clean()",
        "serializer": "pickle",
        "ok": True,
        "size": report["size"],
        "problems": [],
    }
    assert report["size"] > 0


def test_check_roundtrip_finds_exceptions_that_cannot_be_loaded(tasks_module):
    target = "tasks:{'error': BadError(1, 'boom')}"
    assert pickle_audit("check", target, cwd=tasks_module).returncode == 0
    result = pickle_audit("check", target, "--roundtrip", cwd=tasks_module)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1] == "  {'error': BadError(1, 'boom')}['error']  tasks.BadError  PA301"
    assert lines[2].startswith("      pickles, but loading it back raises TypeError")


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("tasks", "expected MODULE:EXPR"),
        ("no_such_module:x", "cannot import 'no_such_module': ModuleNotFoundError"),
        ("tasks:undefined_name", "cannot evaluate 'undefined_name' in module tasks: NameError"),
        ("tasks:Task(", "cannot evaluate 'Task(' in module tasks: SyntaxError"),
    ],
)
def test_check_bad_import_or_expression_exits_2(tasks_module, target, message):
    result = pickle_audit("check", target, cwd=tasks_module)
    assert result.returncode == 2
    assert message in result.stderr
