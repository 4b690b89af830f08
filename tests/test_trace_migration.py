"""`pickle-audit trace --start-method`: a script run as it will run where spawn or forkserver
is the default (Python 3.14 on Linux, macOS, Windows), as a real command on a real script."""

from __future__ import annotations

import json

import pytest
from error_text import LOCAL_OBJECT
from test_trace_cli import ROOT, SCRIPTS, line_of, pickle_audit

MIGRATION = SCRIPTS / "migration.py"
SCRIPT = str(MIGRATION.relative_to(ROOT))


def at(marker: str) -> str:
    return f"{SCRIPT}:{line_of(MIGRATION, marker)}"


@pytest.mark.timeout(120)
def test_under_fork_the_script_is_right_and_nothing_is_reported():
    result = pickle_audit("trace", SCRIPT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "scaled [2.0, 4.0]",
        "named ['one']",
        "described one in batch",
        "child ran",
    ]
    assert result.stderr.splitlines() == [
        f"pickle-audit trace: 0 bad payloads in 3 checked; {SCRIPT} exited with status 0"
    ]


def stale_lines(method: str) -> list[str]:
    fix = (
        "      fix: pass the value to the task (or to the pool's initializer) instead of"
        " changing the global after import"
    )

    def header(marker: str, call: str) -> str:
        return (
            f"{at(marker)}: {call}(...) runs code in workers started by {method},"
            " which see 1 global other than this process does"
        )

    return [
        header("pool.map(scaled", "ProcessPoolExecutor.map"),
        "  __main__.SCALE  PA204",
        "      SCALE is 2.0 here but 1.0 in a worker, which imports __main__ afresh",
        f"      source: {at('def scaled')} (scaled reads it)",
        fix,
        header("pool.map(named", "ProcessPoolExecutor.map"),
        "  __main__.NAMES  PA204",
        "      NAMES is {1: 'one'} here but {} in a worker, which imports __main__ afresh",
        f"      source: {at('def named')} (named reads it)",
        fix,
        header("pool.submit(describe", "ProcessPoolExecutor.submit"),
        "  __main__.MODE  PA204",
        "      MODE is 'batch' here but not defined when a worker imports __main__:"
        " NameError in describe()",
        f"      source: {at('def describe')} (describe reads it)",
        fix,
    ]


@pytest.mark.timeout(180)
@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_migration_mode_reports_what_only_spawn_and_forkserver_pickle_and_stale_globals(method):
    result = pickle_audit("trace", "--start-method", method, SCRIPT)
    assert result.returncode == 1, result.stderr
    # the script really ran that way: its workers computed something else
    assert result.stdout.splitlines() == [
        "scaled [1.0, 2.0]",
        "named ['?']",
        "described failed: name 'MODE' is not defined",
    ]
    assert result.stderr.splitlines() == [
        f"{at('child.start()')}: Process.start(...) sends a payload that cannot be pickled"
        " with pickle: 1 problem",
        f"  pickled because processes start by {method} here; under fork the child inherits it",
        "  fn  function  PA101",
        f"      AttributeError: {LOCAL_OBJECT} 'main.<locals>.<lambda>'",
        f"      source: {at('target=lambda')}",
        "      fix: use a module-level function (def) instead of the lambda",
        *stale_lines(method),
        f"pickle-audit trace: stopped {SCRIPT} at its first bad payload;"
        " 3 globals seen differently by workers",
    ]


@pytest.mark.timeout(180)
def test_migration_report_as_json(tmp_path):
    report_file = tmp_path / "trace.json"
    args = ("--start-method", "forkserver", "--keep-going", "--format", "json")
    result = pickle_audit("trace", *args, "--output", str(report_file), SCRIPT, "3")
    assert result.returncode == 1, result.stderr
    report = json.loads(report_file.read_text())
    assert [(v["boundary"], v["start_method"]) for v in report["violations"]] == [
        ("Process.start", "forkserver")
    ]
    stale = report["stale_globals"]
    seen = [(g["name"], g["here"], g["there"]) for s in stale for g in s["globals"]]
    assert [(s["call_site"], s["start_method"]) for s in report["stale_globals"]] == [
        (at("pool.map(scaled"), "forkserver"),
        (at("pool.map(named"), "forkserver"),
        (at("pool.submit(describe"), "forkserver"),
    ]
    assert seen == [
        ("SCALE", "3.0", "1.0"),
        ("NAMES", "{1: 'one'}", "{}"),
        ("MODE", "'batch'", None),
    ]


@pytest.mark.timeout(120)
def test_a_start_method_this_platform_lacks_or_an_unknown_one_is_a_usage_error():
    unknown = pickle_audit("trace", "--start-method", "thread", SCRIPT)
    assert unknown.returncode == 2
    assert "Invalid value for '--start-method': 'thread' is not one of" in unknown.stderr
