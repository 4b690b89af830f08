"""Tests marked `xtb` run real xtb calculations through QCEngine.

The xtb Python package has wheels only up to CPython 3.11, so on newer Pythons (or
where the QC extra was left out) those tests are skipped, each with the reason, rather
than failing in the middle of a calculation.
"""

from __future__ import annotations

import importlib.util
import sys

import pytest

QC_MODULES = ("xtb", "qcengine", "qcmanybody", "qcelemental")


def missing_qc_modules() -> list[str]:
    return [name for name in QC_MODULES if importlib.util.find_spec(name) is None]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "xtb: runs real xtb through QCEngine; skipped where xtb cannot be installed"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    missing = missing_qc_modules()
    if not missing:
        return
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    skip = pytest.mark.skip(
        reason=f"the QC stack is incomplete on Python {python} (not installed: "
        f"{', '.join(missing)}); xtb ships wheels for CPython <= 3.11 only"
    )
    for item in items:
        if item.get_closest_marker("xtb") is not None:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _plain_output(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reports are compared as plain text: a FORCE_COLOR or NO_COLOR in the caller's
    environment must not change them (the colour tests set these themselves)."""
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
