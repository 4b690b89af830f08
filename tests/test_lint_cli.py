"""The `pickle-audit lint` command end to end: real projects on disk, the real CLI.

The seed-bug fixture is the acceptance case: a driver submits a bound method
to a process pool, a core class three hops away stores a dict view, and a
settings dataclass has a lambda default.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from lint_helpers import REPO, cli, copy_fixture, replace_in, run_pickle_audit

from pickle_audit import assert_picklable
from pickle_audit.config import Config
from pickle_audit.findings import ChainStep, Finding, LintResult
from pickle_audit.lint.facts import extract_facts
from pickle_audit.lint.run import lint_paths
from pickle_audit.report import render, summary

SUBMIT = "<- pool.submit(self.run_fragment, ...) (seedbug/mbepar/parallel.py:21)"
DRIVER_HOLDS_CORE = (
    "FragmentCore reaches a worker via ParallelDriver.core (seedbug/mbepar/parallel.py:14)"
)
PA202_MESSAGE = (
    "bound method self.run_fragment handed to pool.submit(self.run_fragment, ...) pickles"
    " the whole ParallelDriver instance with every task, and it cannot be pickled:"
    " dict view on FragmentCore.levels"
)
LAMBDA_MESSAGE = "lambda stored on RunSettings.energy_transform cannot be pickled"

SEEDBUG_TEXT = f"""\
seedbug/mbepar/core.py:11:9: PA102 dict view stored on FragmentCore.levels cannot be pickled
    {DRIVER_HOLDS_CORE}
    {SUBMIT}
    fix: store list(...) or tuple(...) instead of the view
seedbug/mbepar/parallel.py:21:24: PA202 {PA202_MESSAGE}
    {SUBMIT}
    fix: submit a module-level function with only the data the task needs
seedbug/mbepar/settings.py:10:5: PA101 {LAMBDA_MESSAGE}
    RunSettings reaches a worker via FragmentCore.settings (seedbug/mbepar/core.py:12)
    <- {DRIVER_HOLDS_CORE}
    {SUBMIT}
    fix: use a module-level function (def) instead of the lambda
"""
SEEDBUG_FILES = 5  # mbepar/__init__.py, core.py, parallel.py, settings.py, run.py


def seedbug_findings(run_output: str) -> list[tuple[str, str, int]]:
    """(rule, path, line) of each finding in a JSON report."""
    return [(f["rule"], f["path"], f["line"]) for f in json.loads(run_output)["findings"]]


@pytest.fixture
def seedbug(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of fixtures/seedbug; the working directory is its parent."""
    monkeypatch.chdir(tmp_path)
    return copy_fixture("seedbug", tmp_path)


# --- formats -------------------------------------------------------------------------------

EXAMPLE = Finding(
    rule="PA102",
    severity="error",
    path="pkg/core.py",
    line=130,
    column=9,
    message="dict view stored on Core.levels cannot be pickled",
    chain=(
        ChainStep("Core reaches a worker via Driver.core", "pkg/parallel.py", 98, 9),
        ChainStep("executor.submit(self.run, ...)", "pkg/parallel.py", 282, 13),
    ),
    fix="store list(...) or tuple(...) instead of the view",
    symbol="Core.levels",
    snippet="self.levels = self.table.keys()",
)
WARNING = Finding("PA107", "warning", "pkg/grid.py", 4, 5, "cached_property Grid.points")


def test_text_format_prints_the_chain_and_the_fix() -> None:
    result = LintResult(findings=(EXAMPLE, WARNING), files_checked=12, root="/p")
    assert render(result, "text") == (
        "pkg/core.py:130:9: PA102 dict view stored on Core.levels cannot be pickled\n"
        "    Core reaches a worker via Driver.core (pkg/parallel.py:98)\n"
        "    <- executor.submit(self.run, ...) (pkg/parallel.py:282)\n"
        "    fix: store list(...) or tuple(...) instead of the view\n"
        "pkg/grid.py:4:5: PA107 cached_property Grid.points\n"
    )
    assert summary(result) == "Found 2 problems (1 error, 1 warning) in 12 files."


def test_json_format_has_exactly_the_documented_keys() -> None:
    result = LintResult(findings=(EXAMPLE,), files_checked=1, root="/p")
    assert json.loads(render(result, "json")) == {
        "version": 1,
        "findings": [
            {
                "rule": "PA102",
                "severity": "error",
                "path": "pkg/core.py",
                "line": 130,
                "column": 9,
                "message": "dict view stored on Core.levels cannot be pickled",
                "chain": [
                    "Core reaches a worker via Driver.core (pkg/parallel.py:98)",
                    "executor.submit(self.run, ...) (pkg/parallel.py:282)",
                ],
                "fix": "store list(...) or tuple(...) instead of the view",
            }
        ],
    }
    assert summary(result) == "Found 1 problem (1 error) in 1 file."


def test_clean_result_prints_nothing_on_stdout() -> None:
    clean = LintResult(findings=(), files_checked=3, root="/p")
    assert render(clean, "text") == ""
    assert json.loads(render(clean, "json")) == {"version": 1, "findings": []}
    assert summary(clean) == "All checked: 3 files, no problems."


# --- usage and configuration errors: exit 2, naming the culprit -----------------------------


def test_unknown_rule_in_select_is_a_usage_error(seedbug: Path) -> None:
    run = cli("lint", "seedbug", "--select", "PA1,PA999")
    assert run.exit_code == 2
    assert "unknown rule id 'PA999' in --select" in run.stderr
    assert run.stdout == ""


def test_unknown_config_key_is_a_configuration_error(seedbug: Path) -> None:
    pyproject = seedbug / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + "exclude-classes = []\n")
    run = cli("lint", "seedbug")
    assert run.exit_code == 2
    assert "unknown key 'exclude-classes' in [tool.pickle-audit]" in run.stderr


def test_explicit_config_file_is_validated(seedbug: Path) -> None:
    strict = seedbug / "strict.toml"
    strict.write_text('[tool.pickle-audit]\nignore = ["PA3", "PA42"]\n')
    run = cli("lint", "seedbug", "--config", str(strict))
    assert run.exit_code == 2
    assert "unknown rule id 'PA42'" in run.stderr


def test_missing_path_is_a_usage_error(seedbug: Path) -> None:
    run = cli("lint", "no-such-folder")
    assert run.exit_code == 2
    assert "no-such-folder" in run.stderr


# --- the seed bug ----------------------------------------------------------------------------


def test_seedbug_text_report_cold_and_warm(seedbug: Path) -> None:
    for _ in ("cold", "warm"):
        run = cli("lint", "seedbug")
        assert run.exit_code == 1
        assert run.stdout == SEEDBUG_TEXT
        assert run.stderr == f"Found 3 problems (3 errors) in {SEEDBUG_FILES} files.\n"
    assert (seedbug / ".pickle-audit-cache").is_dir()


def test_seedbug_json_report(seedbug: Path) -> None:
    run = cli("lint", "seedbug", "--format", "json", "--no-cache", "--jobs", "1")
    assert run.exit_code == 1
    findings = json.loads(run.stdout)["findings"]
    assert [(f["rule"], f["path"], f["line"], f["column"]) for f in findings] == [
        ("PA102", "seedbug/mbepar/core.py", 11, 9),
        ("PA202", "seedbug/mbepar/parallel.py", 21, 24),
        ("PA101", "seedbug/mbepar/settings.py", 10, 5),
    ]
    assert findings[0]["chain"] == [DRIVER_HOLDS_CORE, SUBMIT]
    assert findings[0]["fix"] == "store list(...) or tuple(...) instead of the view"


def test_thread_pool_twin_is_clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    copy_fixture("seedbug_threads", tmp_path)
    run = cli("lint", "seedbug_threads")
    assert run.exit_code == 0
    assert run.stdout == ""
    assert run.stderr == f"All checked: {SEEDBUG_FILES} files, no problems.\n"


def test_default_path_is_the_project_root(seedbug: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(seedbug / "mbepar")
    run = cli("lint", "--format", "json")
    assert run.exit_code == 1
    assert seedbug_findings(run.stdout) == [
        ("PA102", "core.py", 11),
        ("PA202", "parallel.py", 21),
        ("PA101", "settings.py", 10),
    ]


def test_one_named_file_still_sees_the_boundary_in_another(seedbug: Path) -> None:
    run = cli("lint", "seedbug/mbepar/core.py", "--format", "json")
    assert run.exit_code == 1
    assert seedbug_findings(run.stdout) == [("PA102", "seedbug/mbepar/core.py", 11)]
    assert run.stderr == "Found 1 problem (1 error) in 1 file.\n"


def test_installed_console_script_on_the_bundled_fixture() -> None:
    """What the README's first command prints, from the checkout itself."""
    executable = shutil.which("pickle-audit")
    assert executable, "the package is not installed: pip install -e ."
    run = subprocess.run(
        [executable, "lint", "fixtures/seedbug", "--no-cache"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1, run.stderr
    assert run.stdout == SEEDBUG_TEXT.replace("seedbug/", "fixtures/seedbug/")
    assert run.stderr == f"Found 3 problems (3 errors) in {SEEDBUG_FILES} files.\n"
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    shown = readme.split("$ pickle-audit lint fixtures/seedbug\n", 1)[1].split("```", 1)[0]
    assert shown == run.stdout + run.stderr, "README's lint example is out of date"


# --- choosing what is reported ------------------------------------------------------------


def test_select_and_ignore_take_rule_prefixes(seedbug: Path) -> None:
    only_views = cli("lint", "seedbug", "--select", "PA10", "--ignore", "PA101", "--format", "json")
    assert seedbug_findings(only_views.stdout) == [("PA102", "seedbug/mbepar/core.py", 11)]
    no_boundary_rules = cli("lint", "seedbug", "--ignore", "pa2", "--format", "json")
    assert [rule for rule, _, _ in seedbug_findings(no_boundary_rules.stdout)] == ["PA102", "PA101"]
    boundary_only = cli("lint", "seedbug", "--select", "PA2")
    assert boundary_only.exit_code == 1
    assert boundary_only.stderr == f"Found 1 problem (1 error) in {SEEDBUG_FILES} files.\n"


def test_per_file_ignores_from_the_config(seedbug: Path) -> None:
    pyproject = seedbug / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text()
        + 'per-file-ignores = { "mbepar/settings.py" = ["PA1"], "mbepar/par*.py" = ["PA202"] }\n'
    )
    run = cli("lint", "seedbug", "--format", "json")
    assert seedbug_findings(run.stdout) == [("PA102", "seedbug/mbepar/core.py", 11)]


def test_inline_suppression_on_the_flagged_line(seedbug: Path) -> None:
    replace_in(
        seedbug / "mbepar" / "core.py",
        "self.levels = self.nbodies_per_level.keys()",
        "self.levels = self.nbodies_per_level.keys()  # pickle-audit: ignore[PA102]",
    )
    replace_in(
        seedbug / "mbepar" / "settings.py",
        "lambda energy: energy",
        "lambda energy: energy  # pickle-audit: ignore",
    )
    run = cli("lint", "seedbug", "--format", "json")
    assert seedbug_findings(run.stdout) == [("PA202", "seedbug/mbepar/parallel.py", 21)]


def test_a_suppression_left_behind_by_a_fix_is_reported_as_pa001(seedbug: Path) -> None:
    core = seedbug / "mbepar" / "core.py"
    replace_in(
        core,
        "self.levels = self.nbodies_per_level.keys()",
        "self.levels = list(self.nbodies_per_level)  # pickle-audit: ignore[PA102]",
    )
    run = cli("lint", "seedbug", "--format", "json", "--no-cache")
    assert run.exit_code == 1
    stale = [f for f in json.loads(run.stdout)["findings"] if f["rule"] == "PA001"]
    assert stale == [
        {
            "rule": "PA001",
            "severity": "warning",
            "path": "seedbug/mbepar/core.py",
            "line": 11,
            "column": 53,
            "message": "suppression `# pickle-audit: ignore[PA102]` suppresses nothing:"
            " no PA102 finding on this statement",
            "chain": [],
            "fix": "remove the comment, or the rule ids in it that no longer apply",
        }
    ]
    # a run that does not check PA102 cannot know the comment is stale
    narrowed = cli("lint", "seedbug", "--format", "json", "--select", "PA001,PA101")
    assert seedbug_findings(narrowed.stdout) == [("PA101", "seedbug/mbepar/settings.py", 10)]
    # PA001 is a rule like any other: ignored, or kept quiet by naming it in the comment
    ignored = cli("lint", "seedbug", "--format", "json", "--ignore", "PA001")
    assert "PA001" not in {rule for rule, _, _ in seedbug_findings(ignored.stdout)}
    core.write_text(core.read_text().replace("ignore[PA102]", "ignore[PA102, PA001]"))
    kept = cli("lint", "seedbug", "--format", "json")
    assert "PA001" not in {rule for rule, _, _ in seedbug_findings(kept.stdout)}


def test_unknown_ids_and_partly_used_suppressions_are_named(seedbug: Path) -> None:
    core = seedbug / "mbepar" / "core.py"
    core.write_text(
        core.read_text()
        .replace(
            "self.levels = self.nbodies_per_level.keys()",
            "self.levels = self.nbodies_per_level.keys()  # noqa: E501, PA102, PA101",
        )
        .replace(
            "self.settings = settings", "self.settings = settings  # pickle-audit: ignore[PA1O2]"
        )
    )
    (seedbug / "mbepar" / "broken.py").write_text("x = (  # pickle-audit: ignore[PA999]\n")
    run = cli("lint", "seedbug", "--format", "json", "--no-cache")
    stale = [
        (f["line"], f["column"], f["message"], f["fix"])
        for f in json.loads(run.stdout)["findings"]
        if f["rule"] == "PA001"
    ]
    assert stale == [
        (
            11,
            54,
            "suppression `# noqa: E501, PA102, PA101` names PA101 needlessly:"
            " no PA101 finding on this statement",
            "remove the comment, or the rule ids in it that no longer apply",
        ),
        (
            12,
            35,
            "suppression `# pickle-audit: ignore[PA1O2]` names no rule: PA1O2",
            "correct the rule id (`pickle-audit rule` lists them)",
        ),
    ]  # broken.py was not checked (PA000), so its comments are not judged
    assert ("PA000", "seedbug/mbepar/broken.py", 1) in seedbug_findings(run.stdout)


def test_unparsable_file_is_reported_and_the_rest_still_linted(seedbug: Path) -> None:
    (seedbug / "mbepar" / "broken.py").write_text("import os\n\n\ndef f(:\n    pass\n")
    (seedbug / "mbepar" / "libcst_rejects.py").write_text("(x): int = 1\n")
    run = cli("lint", "seedbug", "--format", "json")
    assert run.exit_code == 1
    found = json.loads(run.stdout)["findings"]
    assert seedbug_findings(run.stdout) == [
        ("PA000", "seedbug/mbepar/broken.py", 4),  # where Python puts it, not libcst (5)
        ("PA102", "seedbug/mbepar/core.py", 11),
        ("PA000", "seedbug/mbepar/libcst_rejects.py", 1),
        ("PA202", "seedbug/mbepar/parallel.py", 21),
        ("PA101", "seedbug/mbepar/settings.py", 10),
    ]
    assert found[0]["message"] == (
        "cannot parse the file: syntax error at line 4, column 7: invalid syntax"
    )
    assert found[0]["column"] == 7
    assert found[0]["fix"] == "fix the syntax error, or exclude the file"
    assert found[2]["message"] == (
        "cannot parse the file: libcst rejects it at line 1, column 1, though Python accepts it"
    )
    assert found[2]["fix"] == (
        "exclude the file until libcst supports the construct (Python itself accepts it)"
    )
    select_hides_no_parse_error = cli("lint", "seedbug", "--select", "PA102", "--format", "json")
    assert [rule for rule, _, _ in seedbug_findings(select_hides_no_parse_error.stdout)] == [
        "PA000",
        "PA102",
        "PA000",
    ]


# --- baseline and fixes: the CLI wiring --------------------------------------------------


def test_baseline_from_the_option_and_from_the_config(seedbug: Path) -> None:
    written = cli("lint", "seedbug", "--write-baseline", "seedbug/baseline.json")
    assert written.exit_code == 0
    assert written.stderr == "Wrote 3 findings to baseline seedbug/baseline.json.\n"

    by_option = cli("lint", "seedbug", "--baseline", "seedbug/baseline.json")
    assert (by_option.exit_code, by_option.stdout) == (0, "")

    pyproject = seedbug / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + 'baseline = "baseline.json"\n')
    by_config = cli("lint", "seedbug")
    assert (by_config.exit_code, by_config.stdout) == (0, "")

    core = seedbug / "mbepar" / "core.py"
    stored_view = "        self.names = self.nbodies_per_level.values()\n"
    core.write_text(
        core.read_text().replace(
            "        self.fragments =", stored_view + "        self.fragments ="
        )
    )
    new_only = cli("lint", "seedbug", "--format", "json")
    assert new_only.exit_code == 1
    assert seedbug_findings(new_only.stdout) == [("PA102", "seedbug/mbepar/core.py", 13)]

    missing = cli("lint", "seedbug", "--baseline", "seedbug/nothing.json")
    assert missing.exit_code == 2
    assert "seedbug/nothing.json" in missing.stderr


def test_diff_previews_and_fix_rewrites(seedbug: Path) -> None:
    core = seedbug / "mbepar" / "core.py"
    before = core.read_text()
    preview = cli("lint", "seedbug", "--diff")
    assert preview.exit_code == 1
    assert "-        self.levels = self.nbodies_per_level.keys()\n" in preview.stdout
    assert "+        self.levels = list(self.nbodies_per_level.keys())\n" in preview.stdout
    assert core.read_text() == before

    fixed = cli("lint", "seedbug", "--fix", "--format", "json")
    assert "self.levels = list(self.nbodies_per_level.keys())" in core.read_text()
    assert "PA102" not in [rule for rule, _, _ in seedbug_findings(fixed.stdout)]


@pytest.mark.parametrize(
    ("option", "module"),
    [("--fix", "pickle_audit.lint.fix"), ("--baseline=b.json", "pickle_audit.baseline")],
)
def test_option_whose_module_is_missing_is_a_usage_error(
    seedbug: Path, monkeypatch: pytest.MonkeyPatch, option: str, module: str
) -> None:
    """A trimmed installation without the gate modules says so instead of crashing."""
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail
    run = cli("lint", "seedbug", option)
    assert run.exit_code == 2
    assert f"{option.split('=')[0]} is not available: {module} is not installed" in run.stderr


# --- the linter's own data is picklable (it ships it between processes) --------------------


def test_facts_and_findings_survive_pickling(seedbug: Path) -> None:
    for module in ("core", "parallel", "settings"):  # classes, boundaries, dataclass fields
        path = f"seedbug/mbepar/{module}.py"
        facts = extract_facts(Path(path).read_text(), path, f"mbepar.{module}")
        assert pickle.loads(pickle.dumps(facts)) == facts
        assert_picklable(facts, name="facts", roundtrip=True)
        if module == "core":
            assert facts.find_attribute("FragmentCore", "levels").line == 11

    result = lint_paths([seedbug], Config(), seedbug, use_cache=False, jobs=2)
    assert len(result.findings) == 3
    assert pickle.loads(pickle.dumps(result)) == result
    assert_picklable(result, name="result", roundtrip=True)


def test_parallel_and_serial_runs_agree(seedbug: Path) -> None:
    serial = lint_paths([seedbug], Config(), seedbug, use_cache=False, jobs=1)
    parallel = lint_paths([seedbug], Config(), seedbug, use_cache=False, jobs=os.cpu_count())
    assert serial == parallel


# --- the real thing: qcmanybody 0.8.0 as installed ---------------------------------------


def test_installed_qcmanybody_reports_the_stored_view_and_nothing_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import qcmanybody  # the `qc` extra, part of `test`: never skipped

    assert qcmanybody.__version__ == "0.8.0"
    package = Path(qcmanybody.__file__).parent
    project = tmp_path / "qcmb"
    shutil.copytree(package, project / "qcmanybody", ignore=shutil.ignore_patterns("__pycache__"))
    (project / "pyproject.toml").write_text(
        '[tool.pickle-audit]\nboundary-classes = ["qcmanybody.core.ManyBodyCore"]\n'
    )
    core_lines = (project / "qcmanybody" / "core.py").read_text().splitlines()
    stored = core_lines.index("        self.mc_levels = self.nbodies_per_mc_level.keys()") + 1
    declared = core_lines.index("class ManyBodyCore:") + 1
    monkeypatch.chdir(tmp_path)

    run = cli("lint", "qcmb", "--format", "json", "--no-cache")

    assert run.exit_code == 1
    assert json.loads(run.stdout)["findings"] == [
        {
            "rule": "PA102",
            "severity": "error",
            "path": "qcmb/qcmanybody/core.py",
            "line": stored,
            "column": 9,
            "message": "dict view stored on ManyBodyCore.mc_levels cannot be pickled",
            "chain": [
                f"ManyBodyCore is listed in boundary-classes (qcmb/qcmanybody/core.py:{declared})"
            ],
            "fix": "store list(...) or tuple(...) instead of the view",
        }
    ]


def test_a_boundary_class_that_names_no_class_is_a_configuration_error(seedbug: Path) -> None:
    pyproject = seedbug / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + 'boundary-classes = ["mbepar.core.FragmentCor"]\n')
    run = cli("lint", "seedbug")
    assert run.exit_code == 2
    assert run.stdout == ""
    assert run.stderr == (
        "Error: boundary-classes: 'mbepar.core.FragmentCor' is not a class of this project"
        " (give the module path and class name, e.g. 'pkg.module.Class');"
        " did you mean 'mbepar.core.FragmentCore'?\n"
    )


def test_project_root_option_overrides_discovery(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / ".git").mkdir()
    for name, text in {
        "core/pyproject.toml": '[project]\nname = "core"\n',
        "core/corelib/__init__.py": "",
        "core/corelib/levels.py": "class Levels:\n    def __init__(self, t):\n"
        "        self.order = t.keys()\n",
        "runner/job.py": "from concurrent.futures import ProcessPoolExecutor\n"
        "from corelib.levels import Levels\n\n"
        "def run(pool: ProcessPoolExecutor):\n    return pool.submit(len, Levels({}))\n",
    }.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    monkeypatch.chdir(tmp_path)
    discovered = cli("lint", "core/corelib/levels.py", "--no-cache", "--format", "json")
    assert seedbug_findings(discovered.stdout) == [("PA102", "core/corelib/levels.py", 3)]
    forced = cli("lint", "core/corelib/levels.py", "--no-cache", "--project-root", "core")
    assert (forced.exit_code, forced.stdout) == (0, "")  # runner/ is outside that project


def test_a_suppression_survives_ruff_format_wrapping_the_statement(seedbug: Path) -> None:
    core = seedbug / "mbepar" / "core.py"
    view = "        self.levels = self.nbodies_per_level.keys()\n"
    long_view = (
        "        self.levels = self.nbodies_per_level_with_a_much_longer_name_here.keys()"
        "  # pickle-audit: ignore[PA102]\n"
    )
    text = core.read_text()
    assert view in text
    core.write_text(
        text.replace(view, long_view).replace(
            "self.nbodies_per_level =", "self.nbodies_per_level_with_a_much_longer_name_here ="
        )
    )
    formatted = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--line-length", "88", str(core)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "1 file reformatted" in formatted.stdout + formatted.stderr
    wrapped = core.read_text()
    assert "        )  # pickle-audit: ignore[PA102]\n" in wrapped  # moved to the closing line
    run = cli("lint", "seedbug", "--format", "json", "--no-cache")
    assert [
        rule for rule, path, _ in seedbug_findings(run.stdout) if path.endswith("core.py")
    ] == []


# --- ruff's conventions -------------------------------------------------------------------


def lint_stdin(source: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`pickle-audit lint ... -` as an editor runs it: a real process, source on stdin."""
    return run_pickle_audit("lint", "--format", "json", *args, input=source)


def test_stdin_is_linted_as_the_named_file_against_the_project_on_disk(seedbug: Path) -> None:
    core = seedbug / "mbepar" / "core.py"
    on_disk = core.read_text()
    as_is = lint_stdin(on_disk, "--stdin-filename", "seedbug/mbepar/core.py", "-")
    assert as_is.returncode == 1
    finding = json.loads(as_is.stdout)["findings"]
    assert [(f["rule"], f["path"], f["line"], f["column"]) for f in finding] == [
        ("PA102", "seedbug/mbepar/core.py", 11, 9)
    ]  # only the named file is reported, with the chain through the files on disk
    assert finding[0]["chain"] == [DRIVER_HOLDS_CORE, SUBMIT]
    assert as_is.stderr == "Found 1 problem (1 error) in 1 file.\n"

    edited = on_disk.replace("self.nbodies_per_level.keys()", "list(self.nbodies_per_level)")
    fixed = lint_stdin(edited, "--stdin-filename", "seedbug/mbepar/core.py")
    assert (fixed.returncode, json.loads(fixed.stdout)["findings"]) == (0, [])
    assert core.read_text() == on_disk  # the buffer is never written, nor cached as the file
    assert ("PA102", "seedbug/mbepar/core.py", 11) in seedbug_findings(
        cli("lint", "seedbug", "--format", "json").stdout
    )

    unsaved = "class Extra:\n    def __init__(self):\n        self.hook = lambda: 0\n"
    new_file = lint_stdin(unsaved, "--all-classes", "--stdin-filename", "seedbug/mbepar/extra.py")
    assert seedbug_findings(new_file.stdout) == [("PA101", "seedbug/mbepar/extra.py", 3)]
    assert not (seedbug / "mbepar" / "extra.py").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-"], "Error: `-` reads the source from stdin: name the file with --stdin-filename\n"),
        (
            ["--stdin-filename", "a.py", "seedbug"],
            "Error: --stdin-filename lints stdin alone: name no other PATH\n",
        ),
        (
            ["--stdin-filename", "a.py", "--fix"],
            "Error: --fix/--diff works on files, not on stdin (--stdin-filename)\n",
        ),
    ],
)
def test_stdin_misuse_is_a_usage_error(seedbug: Path, args: list[str], message: str) -> None:
    run = lint_stdin("x = 1\n", *args)
    assert (run.returncode, run.stdout, run.stderr) == (2, "", message)


def lint_on_a_terminal(environment: dict[str, str]) -> str:
    """What `pickle-audit lint seedbug` writes to a real pseudo-terminal."""
    import pty

    leader, follower = pty.openpty()
    with subprocess.Popen(
        [sys.executable, "-m", "pickle_audit", "lint", "seedbug", "--no-cache"],
        stdout=follower,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **environment},
    ) as process:
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closes when the process exits (EIO on Linux)
                break
            if not chunk:
                break
            chunks.append(chunk)
        process.wait(timeout=120)
    os.close(leader)
    return b"".join(chunks).decode().replace("\r\n", "\n")


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_colour_on_a_terminal_and_never_with_no_color(seedbug: Path) -> None:
    coloured = lint_on_a_terminal({})
    assert coloured.startswith(
        "\x1b[1mseedbug/mbepar/core.py:11:9:\x1b[0m \x1b[31m\x1b[1mPA102\x1b[0m dict view"
    )
    assert "    \x1b[36mfix: store list(...) or tuple(...) instead of the view\x1b[0m\n" in (
        coloured
    )
    plain = lint_on_a_terminal({"NO_COLOR": "1"})
    assert plain == SEEDBUG_TEXT
    # a pipe gets plain text, unless FORCE_COLOR asks for colour
    assert cli("lint", "seedbug").stdout == SEEDBUG_TEXT
    forced = run_pickle_audit("lint", "seedbug", env={**os.environ, "FORCE_COLOR": "1"})
    assert forced.stdout.startswith(coloured.split("\n", 1)[0])
    assert click.unstyle(forced.stdout) == SEEDBUG_TEXT


def test_silent_prints_nothing_and_keeps_the_exit_status(seedbug: Path) -> None:
    run = cli("lint", "seedbug", "-s")
    assert (run.exit_code, run.stdout, run.stderr) == (1, "", "")
    (seedbug / "mbepar" / "broken.py").write_text("def f(:\n")
    report = seedbug.parent / "report.json"
    saved = cli("lint", "seedbug", "--silent", "-o", str(report), "--format", "json")
    assert (saved.exit_code, saved.stdout, saved.stderr) == (1, "", "")
    assert ("PA000", "seedbug/mbepar/broken.py", 1) in seedbug_findings(report.read_text())
    unknown = cli("lint", "seedbug", "-s", "--select", "PA999")
    assert unknown.exit_code == 2
    assert "unknown rule id" in unknown.stderr  # errors are still shown


def test_exit_zero_quiet_and_output_file(seedbug: Path) -> None:
    report = seedbug.parent / "report.json"
    run = cli("lint", "seedbug", "-e", "-q", "-o", str(report), "--format", "json")
    assert (run.exit_code, run.stdout, run.stderr) == (0, "", "")
    assert seedbug_findings(report.read_text()) == [
        ("PA102", "seedbug/mbepar/core.py", 11),
        ("PA202", "seedbug/mbepar/parallel.py", 21),
        ("PA101", "seedbug/mbepar/settings.py", 10),
    ]
    long_names = cli("lint", "seedbug", "--exit-zero", "--quiet", "--output-file", str(report))
    assert (long_names.exit_code, long_names.stderr) == (0, "")
    assert report.read_text().count(": PA") == 3


def test_fail_on_error_lets_warnings_pass_from_the_option_and_the_config(seedbug: Path) -> None:
    core = seedbug / "mbepar" / "core.py"
    settings = seedbug / "mbepar" / "settings.py"
    core.write_text(core.read_text().replace(".keys()", ""))
    settings.write_text(settings.read_text().replace("lambda energy: energy", "None"))
    warnings_only = cli("lint", "seedbug", "--format", "json")
    assert [f["severity"] for f in json.loads(warnings_only.stdout)["findings"]] == ["warning"]
    assert warnings_only.exit_code == 1  # by default a warning fails the run, as before
    assert cli("lint", "seedbug", "--fail-on", "error").exit_code == 0
    pyproject = seedbug / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + 'fail-on = "error"\n')
    assert cli("lint", "seedbug").exit_code == 0
    assert cli("lint", "seedbug", "--fail-on", "warning").exit_code == 1
    pyproject.write_text(pyproject.read_text().replace('"error"', '"never"'))
    bad = cli("lint", "seedbug")
    assert bad.exit_code == 2
    assert bad.stderr == (
        f"Error: 'fail-on' in [tool.pickle-audit] in {pyproject} must be one of warning,"
        " error, not 'never'\n"
    )


def test_statistics_counts_findings_per_rule(seedbug: Path) -> None:
    parallel = seedbug / "mbepar" / "core.py"
    parallel.write_text(
        parallel.read_text().replace(
            "        self.levels = self.nbodies_per_level.keys()\n",
            "        self.levels = self.nbodies_per_level.keys()\n"
            "        self.weights = self.nbodies_per_level.values()\n",
        )
    )
    run = cli("lint", "seedbug", "--statistics")
    assert run.exit_code == 1
    assert (
        run.stdout == "2\tPA102\tdict-view\n1\tPA101\tlambda-value\n1\tPA202\tbound-method-task\n"
    )


def test_short_version_flag() -> None:
    from pickle_audit import __version__

    assert cli("-V").stdout == f"pickle-audit, version {__version__}\n"


def test_server_without_its_extra_names_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("lsprotocol", "pygls", "pickle_audit.server"):
        monkeypatch.setitem(sys.modules, name, None)  # as if the extra were not installed
    monkeypatch.delitem(sys.modules, "pickle_audit.server")
    run = cli("server")
    assert (run.exit_code, run.stdout) == (2, "")
    assert run.stderr == (
        "Error: the language server needs lsprotocol: pip install 'pickle-audit[server]'\n"
    )


def test_a_crash_is_exit_2_with_its_traceback_never_exit_1(
    seedbug: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pickle_audit.lint.run

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("index out of step")

    monkeypatch.setattr(pickle_audit.lint.run, "lint_paths", broken)
    run = cli("lint", "seedbug")
    assert (run.exit_code, run.stdout) == (2, "")
    assert run.stderr.startswith("Traceback (most recent call last):\n")
    assert run.stderr.endswith(
        "Error: internal error: RuntimeError: index out of step"
        " (a pickle-audit bug: please report it with the traceback above)\n"
    )


def test_a_warm_run_reads_suppressions_from_the_cache_without_tokenizing(
    seedbug: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    replace_in(
        seedbug / "mbepar" / "core.py",
        "self.levels = self.nbodies_per_level.keys()",
        "self.levels = self.nbodies_per_level.keys()  # pickle-audit: ignore[PA102, PA101]",
    )
    cold = cli("lint", "seedbug", "--format", "json")
    import pickle_audit.lint.suppress

    def no_tokenizing(source: str) -> None:
        raise AssertionError("a warm run tokenized a file")

    monkeypatch.setattr(pickle_audit.lint.suppress, "_comments", no_tokenizing)
    warm = cli("lint", "seedbug", "--format", "json")
    assert warm.stdout == cold.stdout
    assert [(rule, line) for rule, path, line in seedbug_findings(warm.stdout)] == [
        ("PA001", 11),  # PA101 was not needed; PA102 still hidden
        ("PA202", 21),
        ("PA101", 10),
    ]
