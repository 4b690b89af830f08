"""One kept executor for many expansions (a scan over geometries): workers start once,
each expansion sends its own molecule, and every result matches a fresh run."""

from __future__ import annotations

import pytest
from qcelemental.models.v2 import Molecule
from qcmanybody import ManyBodyCore

from pickle_audit.executor.mbe import RunStats, many_body_executor, run_many_body
from pickle_audit.executor.water import water_cluster

pytestmark = [pytest.mark.xtb, pytest.mark.timeout(180)]
XTB = {"program": "xtb", "driver": "gradient", "model": {"method": "GFN2-xTB"}}


def stretched(fragments: int, scale: float) -> ManyBodyCore:
    """The same water cluster with every coordinate scaled: one point of a scan."""
    cluster = water_cluster(fragments, 1).model_dump()
    cluster["geometry"] = cluster["geometry"] * scale
    return ManyBodyCore(
        Molecule(**cluster),
        ["nocp"],
        {1: "gfn2", 2: "gfn2"},
        return_total_data=True,
        supersystem_ie_only=False,
        embedding_charges={},
    )


@pytest.mark.parametrize("backend", ["process", "thread"])
def test_a_kept_executor_runs_a_scan_with_workers_started_once(backend):
    points = [1.0, 1.02, 1.05]
    fresh = [run_many_body(stretched(3, s), {"gfn2": XTB}, backend="serial") for s in points]
    with many_body_executor(backend, 2) as executor:
        pids = executor.worker_pids()
        scanned, stats = [], []
        for scale in points:
            stats.append(RunStats())
            scanned.append(
                run_many_body(
                    stretched(3, scale), {"gfn2": XTB}, executor=executor, stats=stats[-1]
                )
            )
            assert executor.worker_pids() == pids  # the same workers for every point
    for ours, reference in zip(scanned, fresh, strict=True):
        assert ours["ret_energy"] == pytest.approx(reference["ret_energy"], abs=1e-9)
    assert len({round(r["ret_energy"], 6) for r in scanned}) == 3  # three different points
    assert [s.jobs for s in stats] == [6, 6, 6]
    if backend == "process":  # each task carries a label and a specification, no molecule
        assert all(s.bytes_sent / s.jobs < 1000 for s in stats)
