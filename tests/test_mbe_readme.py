"""The README's many-body example runs as written and prints what the README shows."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
pytestmark = [pytest.mark.xtb, pytest.mark.timeout(120)]


def section(title: str) -> str:
    text = README.read_text()
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def test_water_example_prints_the_documented_output(tmp_path):
    part = section("Parallel many-body expansions")
    code = re.search(r"```python\n(.*?)```", part, re.S).group(1)
    shown = re.search(r"```console\n\$ python water4.py\n(.*?)```", part, re.S).group(1)
    (tmp_path / "water4.py").write_text(code)
    for _ in range(2):  # the second run takes every job from the checkpoint
        done = subprocess.run(
            [sys.executable, "water4.py"], cwd=tmp_path, capture_output=True, text=True, timeout=90
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout == shown
    assert (tmp_path / "water4.sqlite").exists()
