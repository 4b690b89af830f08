"""Real xtb through QCEngine: every backend reproduces a direct qcengine.compute loop to 1e-9."""

from __future__ import annotations

import numpy as np
import pytest
import qcengine
from qcelemental.models.v2 import AtomicInput
from qcmanybody import ManyBodyCore

from pickle_audit.executor.dask import local_cluster
from pickle_audit.executor.mbe import run_many_body
from pickle_audit.executor.water import water_core

pytestmark = [pytest.mark.xtb, pytest.mark.timeout(180)]
MODEL = {"method": "GFN2-xTB"}
# nocp only: xtb computes ghost atoms as real atoms, so counterpoise runs are refused
# (test_mbe_capabilities.py); ghost-atom fragments are rebuilt in test_mbe_fragments.py
CASES = {
    "trimer-nocp-energy": (3, ["nocp"], "energy"),
    "trimer-nocp-gradient": (3, ["nocp"], "gradient"),
    "tetramer-nocp-gradient": (4, ["nocp"], "gradient"),
}
BACKENDS = ["serial", "thread", "process", "dask"]


def direct_loop(core: ManyBodyCore, driver: str) -> dict:
    """The reference: qcmanybody's own molecules, one qcengine.compute after another."""
    component_results = {}
    for _, label, molecule in core.iterate_molecules():
        spec = {"program": "xtb", "driver": driver, "model": MODEL}
        atomic = AtomicInput(molecule=molecule, specification=spec)
        result = qcengine.compute(atomic, "xtb", raise_error=True, task_config={"ncores": 1})
        values = {"energy": result.properties.return_energy}
        if driver == "gradient":
            values["gradient"] = np.asarray(result.return_result)
        component_results[label] = values
    return core.analyze(component_results)


def assert_same_numbers(actual, expected, path="results"):
    if isinstance(expected, dict):
        assert set(actual) == set(expected), path
        for key in expected:
            assert_same_numbers(actual[key], expected[key], f"{path}[{key!r}]")
    elif isinstance(expected, (float, int, np.ndarray, np.floating)):
        np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-9, err_msg=path)


@pytest.fixture(scope="module")
def cluster():
    cluster = local_cluster(2)
    yield cluster
    cluster.close()


@pytest.fixture(scope="module", params=list(CASES))
def case(request):
    n_waters, bsse, driver = CASES[request.param]
    core = water_core(n_waters, bsse=bsse)
    return core, bsse, driver, direct_loop(core, driver)


@pytest.mark.parametrize("backend", BACKENDS)
def test_backend_matches_the_direct_loop(case, backend, cluster):
    core, bsse, driver, expected = case
    options = {"address": cluster.scheduler_address} if backend == "dask" else {}
    spec = {"gfn2": {"program": "xtb", "driver": driver, "model": MODEL}}
    results = run_many_body(core, spec, backend=backend, workers=2, **options)
    assert_same_numbers(results, expected)
    assert results["ret_energy"] == pytest.approx(expected["ret_energy"], abs=1e-9)
    if bsse[0] == "nocp":  # three or four waters at GFN2-xTB: about -5.07 each
        assert -5.2 * len(core.molecule.fragments) < results["ret_energy"] < -15
    if driver == "gradient":
        assert results["ret_gradient"].shape == (3 * len(core.molecule.fragments), 3)
        assert np.abs(results["ret_gradient"]).max() > 1e-4
