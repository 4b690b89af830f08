"""compute_many_body against qcmanybody's own serial ManyBodyComputer, on real xtb runs."""

from __future__ import annotations

import numpy as np
import pytest
from qcelemental.models.v2 import AtomicSpecification
from qcmanybody.models.v2 import ManyBodyInput
from qcmanybody.v2.computer import ManyBodyComputer

from pickle_audit.executor.computer import compute_many_body
from pickle_audit.executor.mbe import run_many_body
from pickle_audit.executor.water import water_cluster, water_core

pytestmark = [pytest.mark.xtb, pytest.mark.timeout(240)]


def xtb(driver: str = "energy", method: str = "GFN2-xTB") -> AtomicSpecification:
    return AtomicSpecification(program="xtb", driver=driver, model={"method": method})


def many_body_input(driver: str, keywords: dict, specification: dict | AtomicSpecification):
    return ManyBodyInput(
        molecule=water_cluster(4, 1),
        specification={
            "specification": specification,
            "keywords": keywords,
            "driver": driver,
            "protocols": {"cluster_results": "all"},
        },
    )


CASES = {
    "nocp, all bodies": ({"bsse_type": "nocp"}, xtb()),
    "nocp, max_nbody 2": ({"bsse_type": "nocp", "max_nbody": 2}, xtb()),
    "nocp, interaction only": ({"bsse_type": "nocp", "return_total_data": False}, xtb()),
    "multilevel": (
        {"bsse_type": "nocp", "levels": {1: "gfn1", 3: "gfn2"}},
        {"gfn2": xtb(), "gfn1": xtb(method="GFN1-xTB")},
    ),
    "supersystem": (
        {"bsse_type": "nocp", "levels": {2: "gfn2", "supersystem": "gfn1"}},
        {"gfn2": xtb(), "gfn1": xtb(method="GFN1-xTB")},
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_result_is_qcmanybodys_own(case):
    keywords, specification = CASES[case]
    theirs = ManyBodyComputer.from_manybodyinput(many_body_input("energy", keywords, specification))
    ours = compute_many_body(
        many_body_input("energy", keywords, specification), backend="process", workers=2
    )
    assert ours.return_result == pytest.approx(theirs.return_result, abs=1e-9)
    mine, reference = ours.properties.model_dump(), theirs.properties.model_dump()
    assert mine.keys() == reference.keys()
    for key, value in reference.items():
        if isinstance(value, float):
            assert mine[key] == pytest.approx(value, abs=1e-9), key
        else:
            assert mine[key] == value, key
    assert ours.cluster_results.keys() == theirs.cluster_results.keys()
    for label, result in theirs.cluster_results.items():
        kept = ours.cluster_results[label]
        assert kept.return_result == pytest.approx(result.return_result, abs=1e-9), label
        assert kept.provenance.creator == result.provenance.creator
        assert (kept.stdout is None) == (result.stdout is None), label
    assert ours.input_data == theirs.input_data


def test_gradients_where_qcmanybodys_own_computer_stops():
    keywords = {"bsse_type": "nocp", "max_nbody": 2}
    with pytest.raises(KeyError, match="ret_gradient"):
        ManyBodyComputer.from_manybodyinput(many_body_input("gradient", keywords, xtb()))
    ours = compute_many_body(many_body_input("gradient", keywords, xtb()), backend="thread")
    reference = run_many_body(
        water_core(4, max_nbody=2), {"gfn2": xtb("gradient")}, backend="serial"
    )
    np.testing.assert_allclose(ours.return_result, reference["ret_gradient"], atol=1e-9)
    assert ours.properties.return_energy == pytest.approx(reference["ret_energy"], abs=1e-9)
    assert len(ours.cluster_results) == 10


def test_an_input_qcmanybody_rejects_is_rejected_with_its_own_error():
    bad = many_body_input("energy", {"bsse_type": "nocp", "max_nbody": 7}, xtb())
    with pytest.raises(ValueError) as theirs:
        ManyBodyComputer.from_manybodyinput(bad, build_tasks=False)
    with pytest.raises(type(theirs.value)) as ours:
        compute_many_body(bad, backend="serial")
    assert str(ours.value) == str(theirs.value)


@pytest.mark.filterwarnings("ignore:Using the `compute_procedure` function is deprecated")
@pytest.mark.parametrize("schema_version", [2, 1])
def test_qcengine_users_reach_it_as_a_procedure(schema_version):
    import qcengine

    from pickle_audit.executor.computer import register_procedure

    name = register_procedure()
    assert register_procedure() == name == "qcmanybody-parallel"  # once is enough
    request = many_body_input("energy", {"bsse_type": "nocp", "max_nbody": 2}, xtb())
    if schema_version == 1:
        request = request.convert_v(1)
    ours = qcengine.compute_procedure(request, name, task_config={"ncores": 2}, raise_error=True)
    theirs = qcengine.compute_procedure(request, "qcmanybody", raise_error=True)
    assert ours.schema_version == theirs.schema_version == schema_version
    assert ours.return_result == pytest.approx(theirs.return_result, abs=1e-9)
