"""The worker rebuilds each fragment molecule exactly as qcmanybody's iterate_molecules does."""

from __future__ import annotations

import pickle

import pytest
from qcelemental.models.v1 import Molecule as MoleculeV1
from qcmanybody import ManyBodyCore

from pickle_audit.executor.fragments import FragmentSystem, normalize_specification
from pickle_audit.executor.mbe import job_labels, run_many_body
from pickle_audit.executor.water import water_cluster

XTB = {"program": "xtb", "driver": "energy", "model": {"method": "GFN2-xTB"}}


def make_core(molecule, bsse, levels, embedding_charges=None):
    return ManyBodyCore(
        molecule,
        bsse,
        levels,
        return_total_data=True,
        supersystem_ie_only=False,
        embedding_charges=embedding_charges or {},
    )


CASES = {
    "trimer-nocp": (water_cluster(3), ["nocp"], {1: "a", 2: "a", 3: "a"}),
    "tetramer-cp": (water_cluster(4), ["cp"], {1: "a", 2: "a", 3: "a"}),
    "tetramer-vmfc-multilevel": (water_cluster(4), ["vmfc"], {1: "a", 2: "b", 3: "b"}),
    "dimer-blocks-v1": (
        MoleculeV1(**water_cluster(3, 2).model_dump(exclude={"schema_version", "schema_name"})),
        ["cp", "nocp"],
        {1: "a", 2: "a"},
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_rebuilt_fragments_equal_iterate_molecules(case):
    core = make_core(*CASES[case])
    system = pickle.loads(pickle.dumps(FragmentSystem.from_core(core)))  # as a worker gets it
    expected = list(core.iterate_molecules())
    assert job_labels(core) == [(mc, label) for mc, label, _ in expected]
    for _, label, molecule in expected:
        rebuilt = system.molecule_for(label)
        assert type(rebuilt) is type(molecule)
        assert rebuilt.model_dump_json() == molecule.model_dump_json()


def test_embedding_charges_are_rebuilt(monkeypatch):
    monkeypatch.setenv("QCMANYBODY_EMBEDDING_CHARGES", "1")
    charges = {i: [-0.8, 0.4, 0.4] for i in (1, 2, 3)}
    core = make_core(water_cluster(3), ["nocp"], {1: "a", 2: "a"}, charges)
    system = FragmentSystem.from_core(core)
    seen = 0
    for _, label, molecule in core.iterate_molecules():
        rebuilt = system.molecule_for(label)
        assert rebuilt.extras["embedding_charges"] == molecule.extras["embedding_charges"]
        seen += bool(molecule.extras["embedding_charges"])
    assert seen == 6  # every 1-body and 2-body job embeds the fragments outside it


def test_qcmanybody_core_cannot_be_pickled_but_its_system_can():
    core = make_core(water_cluster(3), ["nocp"], {1: "a", 2: "a"})
    with pytest.raises(TypeError, match="cannot pickle 'dict_keys' object"):
        pickle.dumps(core)
    assert len(pickle.dumps(FragmentSystem.from_core(core))) < 4000


def test_specification_from_a_qcelemental_model():
    from qcelemental.models.v2 import AtomicSpecification

    spec = AtomicSpecification(program="xtb", driver="gradient", model={"method": "GFN2-xTB"})
    plain = normalize_specification("gfn2", spec)
    assert plain["program"] == "xtb"
    assert plain["driver"] == "gradient"
    assert plain["model"]["method"] == "GFN2-xTB"
    assert pickle.loads(pickle.dumps(plain)) == plain


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"driver": "energy", "model": {"method": "x"}}, "specification 'a' lacks program"),
        ({**XTB, "driver": "properties"}, "driver must be energy, gradient or hessian"),
        ("xtb", "must be an AtomicSpecification or a dict, not str"),
    ],
)
def test_bad_specifications_are_named(spec, message):
    core = make_core(water_cluster(3), ["nocp"], {1: "a", 2: "a"})
    with pytest.raises((ValueError, TypeError), match=message):
        run_many_body(core, {"a": spec}, backend="serial")


def test_missing_specification_is_named():
    core = make_core(water_cluster(3), ["nocp"], {1: "a", 2: "b"})
    with pytest.raises(ValueError, match="no specification for model chemistry 'b'"):
        run_many_body(core, {"a": XTB}, backend="serial")


@pytest.mark.xtb
def test_core_on_a_v1_molecule_gives_the_same_energies():
    v2 = water_cluster(3)
    v1 = MoleculeV1(**v2.model_dump(exclude={"schema_version", "schema_name"}))
    levels = {1: "gfn2", 2: "gfn2"}
    spec = {"gfn2": XTB}
    from_v1 = run_many_body(make_core(v1, ["nocp"], levels), spec, backend="serial")
    from_v2 = run_many_body(make_core(v2, ["nocp"], levels), spec, backend="serial")
    assert from_v1["ret_energy"] == pytest.approx(from_v2["ret_energy"], abs=1e-12)
    assert from_v1["ret_energy"] < -15
