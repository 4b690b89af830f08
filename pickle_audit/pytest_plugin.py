"""pytest plugin: the `assert_picklable` fixture.

Registered through the `pytest11` entry point, so any test can write
`def test_payload(assert_picklable): assert_picklable(task, spawn=True)`.
The tracer is imported only when a test asks for the fixture.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest


@pytest.fixture
def assert_picklable() -> Callable[..., None]:
    """`assert_picklable(obj, **audit_options)`: fail the test with the audit report."""
    from pickle_audit.trace.audit import assert_picklable as check

    return check
