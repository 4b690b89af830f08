"""PA301 through bases in the standard library: exceptions raised in a worker that the
parent cannot rebuild.

The pattern from public bug reports, in our own words: a project error derives
from a library error (here `configparser`'s, whose `__init__`s format a message
or set `self.args` themselves), adds an argument, and passes only a message up.
The worker pickles it fine; the parent's `cls(*self.args)` fails, and the pool
breaks. Each program is linted and run under spawn.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lint_helpers import lint_and_run

pytestmark = pytest.mark.timeout(120)

RAISE_IN_A_WORKER = """
if __name__ == "__main__":
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=ctx) as pool:
        try:
            pool.submit(read_option, "basis", "scf").result()
        except Exception as error:
            print(type(error).__name__)
"""


def _program(error_class: str) -> str:
    return f"""
import configparser
import multiprocessing
from concurrent.futures import ProcessPoolExecutor


{error_class.strip()}


def read_option(option, section):
    raise OptionMissing(option, section)
"""


@pytest.mark.parametrize(
    "error_class",
    [
        """
class OptionMissing(configparser.Error):
    def __init__(self, option, section):
        super().__init__(f"no {option!r} in [{section}]")
        self.option = option
        self.section = section
""",
        # configparser.NoSectionError sets `self.args = (section,)`: one item, two needed
        """
class OptionMissing(configparser.NoSectionError):
    def __init__(self, option, section):
        super().__init__(section)
        self.option = option
""",
        # a keyword argument fills the base's parameter; the base passes one item up
        """
class OptionMissing(configparser.Error):
    def __init__(self, option, section):
        super().__init__(msg=f"no {option!r} in [{section}]")
""",
    ],
    ids=["message-up", "base-sets-args", "keyword-to-base"],
)
def test_a_stdlib_based_error_the_parent_cannot_rebuild_is_pa301(
    tmp_path: Path, error_class: str
) -> None:
    findings, run = lint_and_run(tmp_path, _program(error_class), RAISE_IN_A_WORKER)
    assert findings == [("PA301", 7, "error")]
    assert run.stdout == "BrokenProcessPool\n", run.stderr


@pytest.mark.parametrize(
    "error_class",
    [
        # NoOptionError keeps (option, section), exactly what its __init__ takes
        """
class OptionMissing(configparser.NoOptionError):
    pass
""",
        """
class OptionMissing(configparser.NoOptionError):
    def __init__(self, option, section):
        super().__init__(option, section)
""",
        """
class OptionMissing(configparser.Error):
    def __init__(self, option, section):
        super().__init__(msg=f"no {option!r} in [{section}]")
        self.args = (option, section)
""",
    ],
    ids=["no-init", "same-arguments", "sets-args"],
)
def test_stdlib_based_errors_that_round_trip_are_not_flagged(
    tmp_path: Path, error_class: str
) -> None:
    findings, run = lint_and_run(tmp_path, _program(error_class), RAISE_IN_A_WORKER)
    assert findings == []
    assert run.stdout == "OptionMissing\n", run.stderr
