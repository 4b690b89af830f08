"""`[tool.pickle-audit]` loading, project-root discovery and inline suppressions."""

from __future__ import annotations

from pathlib import Path

import pytest

from pickle_audit.catalog import RULES
from pickle_audit.config import (
    Config,
    ConfigError,
    find_project_root,
    load_config,
    matches_any,
)
from pickle_audit.lint.files import list_python_files
from pickle_audit.lint.suppress import Suppression, is_suppressed, read_suppressions


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


FULL_TABLE = """
[project]
name = "demo"

[tool.pickle-audit]
select = ["PA1", "PA202"]
ignore = ["PA107"]
all-classes = true
library = true
boundary-classes = ["demo.core.Core"]
exclude = ["build", "tests/data/*"]
baseline = "ci/pickle-audit-baseline.json"
serializer = "cloudpickle"
fail-on = "error"
start-method = "fork"

[tool.pickle-audit.per-file-ignores]
"tests/*" = ["PA2"]
"demo/legacy.py" = ["PA102", "PA101"]
"""


def test_load_config_reads_every_key(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", FULL_TABLE)
    config = load_config(tmp_path)
    assert config == Config(
        select=frozenset(
            {"PA101", "PA102", "PA103", "PA104", "PA105", "PA106", "PA107", "PA108"}
            | {"PA109", "PA202"}
        ),
        ignore=frozenset({"PA107"}),
        per_file_ignores=(
            ("tests/*", frozenset({"PA201", "PA202", "PA203", "PA204"})),
            ("demo/legacy.py", frozenset({"PA101", "PA102"})),
        ),
        boundary_classes=("demo.core.Core",),
        all_classes=True,
        library=True,
        exclude=("build", "tests/data/*"),
        baseline=str(tmp_path.resolve() / "ci/pickle-audit-baseline.json"),
        serializer="cloudpickle",
        fail_on="error",
        start_method="fork",
    )


def test_an_unknown_start_method_names_the_choices(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[tool.pickle-audit]\nstart-method = "threads"\n')
    with pytest.raises(ConfigError) as raised:
        load_config(tmp_path)
    assert str(raised.value) == (
        f"'start-method' in [tool.pickle-audit] in {tmp_path / 'pyproject.toml'} must be one of"
        " portable, fork, spawn, forkserver, not 'threads'"
    )


def test_missing_pyproject_or_table_gives_defaults(tmp_path: Path) -> None:
    assert load_config(tmp_path) == Config()
    write(tmp_path / "pyproject.toml", '[project]\nname = "demo"\n')
    assert load_config(tmp_path) == Config()


@pytest.mark.parametrize(
    ("table", "named"),
    [
        ('selct = ["PA1"]', "'selct'"),
        ('select = ["PA1", "PA999"]', "'PA999'"),
        ('ignore = ["XY1"]', "'XY1'"),
        ('per-file-ignores = { "tests/*" = ["PA77"] }', "'PA77'"),
        ("all-classes = 1", "'all-classes'"),
        ('exclude = "build"', None),
        ("exclude = [1]", "'exclude'"),
        ('serializer = "marshal"', "'marshal'"),
        ("baseline = 3", "'baseline'"),
    ],
)
def test_bad_settings_are_errors_naming_the_culprit(
    tmp_path: Path, table: str, named: str | None
) -> None:
    write(tmp_path / "pyproject.toml", f"[tool.pickle-audit]\n{table}\n")
    if named is None:  # a single string is accepted where a list is expected
        assert load_config(tmp_path).exclude == ("build",)
        return
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert named in str(caught.value)
    assert str(tmp_path / "pyproject.toml") in str(caught.value)


def test_unparsable_toml_names_the_file(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", "[tool.pickle-audit\nselect = [")
    with pytest.raises(ConfigError, match=r"cannot read configuration file .*pyproject\.toml"):
        load_config(tmp_path)


def test_explicit_file_wins_and_may_hold_keys_at_top_level(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[tool.pickle-audit]\nselect = ["PA102"]\n')
    explicit = write(tmp_path / "ci" / "strict.toml", 'select = ["PA3"]\nbaseline = "b.json"\n')
    config = load_config(tmp_path, explicit)
    assert config.select == frozenset({"PA301", "PA302"})
    assert config.baseline == str((tmp_path / "ci" / "b.json").resolve())
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path, tmp_path / "missing.toml")


def test_project_root_is_the_nearest_pyproject_or_git_folder(tmp_path: Path) -> None:
    write(tmp_path / "repo" / "pyproject.toml", "")
    module = write(tmp_path / "repo" / "pkg" / "sub" / "mod.py", "")
    other = write(tmp_path / "repo" / "pkg" / "other.py", "")
    assert find_project_root([module]) == (tmp_path / "repo").resolve()
    assert find_project_root([module, other]) == (tmp_path / "repo").resolve()

    (tmp_path / "gitrepo" / ".git").mkdir(parents=True)
    script = write(tmp_path / "gitrepo" / "tools" / "run.py", "")
    assert find_project_root([script]) == (tmp_path / "gitrepo").resolve()

    lone_a = write(tmp_path / "loose" / "a" / "x.py", "")
    lone_b = write(tmp_path / "loose" / "b" / "y.py", "")
    assert find_project_root([lone_a, lone_b]) == (tmp_path / "loose").resolve()


def test_root_is_the_nearest_pickle_audit_table_then_git_then_any_pyproject(
    tmp_path: Path,
) -> None:
    mono = tmp_path / "mono"
    (mono / ".git").mkdir(parents=True)
    write(mono / "packages" / "core" / "pyproject.toml", '[project]\nname = "core"\n')
    module = write(mono / "packages" / "core" / "corelib" / "levels.py", "")
    # a sub-package's own pyproject.toml without the table: the git root wins
    assert find_project_root([module]) == mono.resolve()
    # the table makes a folder the project, wherever it is
    write(mono / "packages" / "pyproject.toml", '[tool.pickle-audit]\nselect = ["PA1"]\n')
    assert find_project_root([module]) == (mono / "packages").resolve()
    write(
        mono / "packages" / "core" / "pyproject.toml",
        '[project]\nname = "core"\n\n[tool.pickle-audit]\n',
    )
    assert find_project_root([module]) == (mono / "packages" / "core").resolve()
    # a mention of the tool in another table is not a configuration
    write(
        mono / "packages" / "core" / "pyproject.toml", '[project]\ndescription = "pickle-audit"\n'
    )
    assert find_project_root([module]) == (mono / "packages").resolve()
    # a damaged file that mentions the tool is chosen, so that loading it reports the damage
    write(mono / "packages" / "core" / "pyproject.toml", "[tool.pickle-audit\n")
    assert find_project_root([module]) == (mono / "packages" / "core").resolve()
    with pytest.raises(ConfigError, match="cannot read configuration file"):
        load_config(find_project_root([module]))
    # --project-root wins over everything
    assert find_project_root([module], mono) == mono.resolve()


def test_globs_match_files_and_the_folders_above_them() -> None:
    assert matches_any("build/lib/x.py", ["build"])
    assert matches_any("tests/data/deep/x.py", ["tests/data/*"])
    assert matches_any("pkg/legacy.py", ["pkg/legacy.py"])
    assert matches_any("pkg/gen_models.py", ["*/gen_*.py"])
    assert matches_any("pkg/build/x.py", ["build"])
    assert matches_any("pkg/sub/conftest.py", ["conftest.py"])
    assert not matches_any("pkg/builder.py", ["build"])
    assert not matches_any("other/tests/data/x.py", ["tests/data"])
    assert not matches_any("src/tests.py", ["tests"])


def test_file_listing_applies_exclude_and_skips_tool_folders(tmp_path: Path) -> None:
    kept = write(tmp_path / "pkg" / "core.py", "")
    script = write(tmp_path / "tools" / "run.py", "print(1)\n")
    readme = write(tmp_path / "README.md", "")
    write(tmp_path / "pkg" / "generated" / "models.py", "")
    write(tmp_path / ".venv" / "lib" / "site.py", "")
    write(tmp_path / "pkg" / "__pycache__" / "core.py", "")
    write(tmp_path / "pkg" / "notes.txt", "")
    files = list_python_files([tmp_path, script, kept, readme], tmp_path, ["pkg/generated"])
    assert files == sorted([kept.resolve(), script.resolve()])
    assert (
        list_python_files(
            [tmp_path / "pkg" / "generated" / "models.py"], tmp_path, ["pkg/generated"]
        )
        == []
    )


def test_inline_suppressions() -> None:
    source = (
        "a = 1  # pickle-audit: ignore[PA102]\n"
        "b = 2  # pickle-audit: ignore[PA101, pa2]\n"
        "c = 3  # pickle-audit: ignore\n"
        "d = '# pickle-audit: ignore'\n"
        "e = 5  # noqa: E501  # pickle-audit: ignore[PA999]\n"
        "f = 6  # noqa: E501  # pickle-audit: ignore[PA104]\n"
    )
    table = read_suppressions(source)
    assert is_suppressed("PA102", 1, table)
    assert not is_suppressed("PA101", 1, table)
    assert is_suppressed("PA101", 2, table)
    assert is_suppressed("PA203", 2, table)
    assert not is_suppressed("PA102", 2, table)
    assert is_suppressed("PA301", 3, table)
    assert not is_suppressed("PA102", 4, table)  # inside a string: not a comment
    assert not is_suppressed("PA102", 5, table)  # an unknown id suppresses nothing
    assert is_suppressed("PA104", 6, table)  # after another tool's comment


def test_a_suppression_covers_every_line_of_its_statement() -> None:
    source = (
        "class Core:\n"
        "    def __init__(self, table):\n"
        "        self.levels = (\n"  # line 3: where the finding is reported
        "            table.keys()\n"
        "        )  # pickle-audit: ignore[PA102]\n"  # where `ruff format` moves the comment
        "        self.other = table.values()\n"
        "        # pickle-audit: ignore[PA101]\n"  # a comment line covers only itself
        "        self.more = (lambda: 1,\n"
        "                     2)\n"
    )
    table = read_suppressions(source)
    assert [line for line in range(1, 10) if is_suppressed("PA102", line, table)] == [3, 4, 5]
    assert [line for line in range(1, 10) if is_suppressed("PA101", line, table)] == [7]


def test_noqa_with_pickle_audit_codes_is_honoured_and_a_bare_noqa_is_not() -> None:
    source = (
        "a = d.keys()  # noqa: PA102\n"
        "b = d.keys()  # noqa: E501, PA102,PA101\n"
        "c = d.keys()  # noqa\n"
        "e = d.keys()  # NOQA:PA1\n"
        "f = d.keys()  # noqa: E501\n"
    )
    table = read_suppressions(source)
    assert [is_suppressed("PA102", line, table) for line in range(1, 6)] == [
        True,
        True,
        False,  # a bare noqa belongs to the other linters
        True,
        False,
    ]
    assert is_suppressed("PA101", 2, table)
    assert not is_suppressed("PA101", 1, table)


def test_suppression_records_keep_where_the_marker_is_and_what_it_could_not_read() -> None:
    source = (
        "a = d.keys()  # noqa: E501  # pickle-audit: ignore[PA102, PA1O2]\n"
        "b = (d,\n"
        "     e)  # NOQA: PAR001, PA1\n"  # PAR001 belongs to another plugin
        "c = 1  # noqa: PAR001\n"
    )
    assert read_suppressions(source) == (
        Suppression(
            line=1,
            column=29,
            first=1,
            last=1,
            ids=frozenset({"PA102"}),
            unknown=("PA1O2",),
            text="# pickle-audit: ignore[PA102, PA1O2]",
        ),
        Suppression(
            line=3,
            column=10,
            first=2,
            last=3,
            ids=frozenset(rule for rule in RULES if rule.startswith("PA1")),
            unknown=(),
            text="# NOQA: PAR001, PA1",
        ),
    )
