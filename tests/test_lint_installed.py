"""Library bases read from source: found on sys.path, parsed, and never imported."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from lint_core_helpers import lint, summary, write_files

from pickle_audit.lint.installed import InstalledClasses, module_source

TRAP = "raise SystemExit('importing this package runs its code')\n"


@pytest.fixture
def library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An installed package whose `__init__` would end the run if anything imported it."""
    site = tmp_path / "site"
    write_files(
        site,
        {
            "chemlib/__init__.py": TRAP + "from .errors import ChemError, InputError\n",
            "chemlib/errors.py": """
            class ChemError(Exception):
                def __init__(self, message, code=1):
                    super().__init__(message)
                    self.code = code


            class InputError(ChemError):
                def __init__(self, keyword):
                    super().__init__(f"unknown keyword {keyword}", code=2)
                    self.args = (keyword,)
            """,
        },
    )
    monkeypatch.syspath_prepend(str(site))
    return site


def test_a_module_is_found_without_importing_its_package(library: Path) -> None:
    assert module_source("chemlib.errors") == library / "chemlib" / "errors.py"
    assert module_source("chemlib") == library / "chemlib" / "__init__.py"
    assert module_source("configparser") == Path(sys.modules["os"].__file__).parent / (
        "configparser.py"
    )
    assert module_source("chemlib.missing") is None
    assert module_source("_socket") is None  # a C extension has no source to read
    assert "chemlib" not in sys.modules


def test_a_re_exported_class_is_followed_to_its_definition(library: Path) -> None:
    found = InstalledClasses().lookup("chemlib.InputError")
    assert found is not None
    cls, qualified, _, _ = found
    assert (qualified, cls.bases, cls.init.args_length) == (
        "chemlib.errors.InputError",
        ("ChemError",),
        1,
    )
    assert "chemlib" not in sys.modules


def test_pa301_through_an_installed_base(
    library: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_files(
        tmp_path / "proj",
        {
            "app/__init__.py": "",
            "app/errors.py": """
            from chemlib import ChemError, InputError


            class BasisError(ChemError):
                def __init__(self, basis, element):
                    super().__init__(f"{basis} has no {element}", code=3)


            class KeywordError(InputError):
                def __init__(self, keyword, section):
                    super().__init__(keyword)
                    self.section = section


            class FineError(ChemError):
                def __init__(self, message):
                    super().__init__(message, code=4)
            """,
        },
    )
    monkeypatch.chdir(root)
    findings = lint(root)
    assert summary(findings) == [("PA301", "app/errors.py", 5), ("PA301", "app/errors.py", 10)]
    assert findings[1].message == (
        "KeywordError pickles but cannot be unpickled: __init__ needs 2 argument(s) but"
        " self.args holds 1 (what reaches BaseException.__init__), so KeywordError(*self.args)"
        " fails"
    )
    assert "chemlib" not in sys.modules
