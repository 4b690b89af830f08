"""Progress: a bar on a terminal, silence in pipes and CI logs."""

from __future__ import annotations

import io

import pytest

from pickle_audit.executor.mbe import run_many_body
from pickle_audit.executor.progress import Progress
from pickle_audit.executor.water import water_core


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bar_counts_jobs_and_failures_on_a_terminal():
    stream = Terminal()
    bar = Progress(5, enabled=True, done=2, stream=stream)
    bar.update(failed=False)
    bar.update(failed=True)
    bar.close()
    text = stream.getvalue()
    assert "4/5" in text
    assert "failed=1" in text
    assert (bar.done, bar.failed) == (4, 1)


def test_plain_line_without_tqdm():
    stream = Terminal()
    bar = Progress(4, enabled=True, stream=stream, use_tqdm=False)
    bar.update(failed=True)
    bar.close()
    assert stream.getvalue() == "\rjobs 0/4, 0 failed\rjobs 1/4, 1 failed\n"


@pytest.mark.xtb
def test_nothing_is_written_when_not_a_terminal(capsys):
    stream = io.StringIO()
    bar = Progress(3, enabled=True, stream=stream)
    bar.update(failed=False)
    bar.close()
    assert stream.getvalue() == ""
    core = water_core(3, max_nbody=2)
    spec = {"gfn2": {"program": "xtb", "driver": "energy", "model": {"method": "GFN2-xTB"}}}
    run_many_body(core, spec, backend="serial", progress=True)
    assert capsys.readouterr().err == ""
