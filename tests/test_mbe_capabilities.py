"""No silent wrong numbers: programs that drop embedding charges or ghost atoms are refused.

The refusals happen before any job runs, so they are tested on every Python;
the `xtb` tests show, with real xtb through QCEngine, the wrong numbers that
running anyway would give.
"""

from __future__ import annotations

import pytest
from qcmanybody import ManyBodyCore

from pickle_audit.executor.capabilities import UnsupportedByProgram, refuse_unsupported
from pickle_audit.executor.fragments import FragmentSystem, atomic_input
from pickle_audit.executor.mbe import job_labels, run_many_body
from pickle_audit.executor.water import water_cluster

XTB = {"program": "xtb", "driver": "energy", "model": {"method": "GFN2-xTB"}}
PSI4 = {"program": "psi4", "driver": "energy", "model": {"method": "hf", "basis": "sto-3g"}}
CHARGES = {i: [-0.834, 0.417, 0.417] for i in (1, 2, 3)}


def core(bsse: list[str], levels: dict, charges: dict | None = None) -> ManyBodyCore:
    return ManyBodyCore(
        water_cluster(3),
        bsse,
        levels,
        return_total_data=True,
        supersystem_ie_only=False,
        embedding_charges=charges or {},
    )


@pytest.fixture
def embedding_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QCMANYBODY_EMBEDDING_CHARGES", "1")


def test_embedding_charges_with_xtb_are_refused_before_any_job_runs(embedding_allowed) -> None:
    embedded = core(["nocp"], {1: "gfn2", 2: "gfn2"}, CHARGES)
    with pytest.raises(UnsupportedByProgram) as refused:
        run_many_body(embedded, {"gfn2": XTB}, backend="serial")
    assert str(refused.value) == (
        "model chemistry 'gfn2' runs xtb, whose QCEngine harness cannot apply embedding"
        ' charges: its fragment jobs (first ["gfn2", [1], [1]]) would run without them and'
        " give unembedded energies; compute that level with psi4, or drop embedding_charges"
    )


@pytest.mark.parametrize("bsse", ["cp", "vmfc"])
def test_counterpoise_with_xtb_is_refused_naming_the_fix(bsse: str) -> None:
    corrected = core([bsse], {1: "gfn2", 2: "gfn2"})
    with pytest.raises(UnsupportedByProgram, match="computes ghost atoms as real atoms") as refused:
        run_many_body(corrected, {"gfn2": XTB}, backend="serial")
    assert "use bsse_type 'nocp' for xtb, or a program with a basis set" in str(refused.value)


def test_what_each_program_can_do_decides_per_level() -> None:
    # counterpoise at the level psi4 computes, xtb only where no ghost atom occurs
    mixed = core(["nocp"], {1: "hf", 2: "gfn2"})
    refuse_unsupported({"hf": PSI4, "gfn2": XTB}, job_labels(mixed), nfragments=3, embedded=False)
    ghosts = core(["cp"], {1: "hf", 2: "gfn2"})
    with pytest.raises(UnsupportedByProgram, match=r"^model chemistry 'gfn2' runs xtb"):
        refuse_unsupported(
            {"hf": PSI4, "gfn2": XTB}, job_labels(ghosts), nfragments=3, embedded=False
        )
    refuse_unsupported({"hf": PSI4, "gfn2": PSI4}, job_labels(ghosts), nfragments=3, embedded=True)


def test_psi4_jobs_carry_the_charges_as_its_harness_reads_them(embedding_allowed) -> None:
    embedded = core(["nocp"], {1: "hf", 2: "hf"}, CHARGES)
    system = FragmentSystem.from_core(embedded)
    spec = {**PSI4, "keywords": {"scf_type": "pk"}}
    for _, label, molecule in embedded.iterate_molecules():
        job = atomic_input(system, label, spec)
        expected = molecule.extras["embedding_charges"]
        if expected:
            assert job.specification.keywords == {
                "scf_type": "pk",
                "function_kwargs": {"external_potentials": expected},
            }
        else:  # the supersystem job: every fragment is in it, nothing to embed
            assert job.specification.keywords == {"scf_type": "pk"}
    assert spec == {**PSI4, "keywords": {"scf_type": "pk"}}  # the caller's dict is not edited


@pytest.mark.xtb
def test_xtb_really_computes_ghost_atoms_as_real_atoms() -> None:
    """Why counterpoise with xtb is refused: a monomer in the dimer's basis is the dimer."""
    import qcengine

    corrected = core(["cp"], {1: "gfn2", 2: "gfn2"})
    system = FragmentSystem.from_core(corrected)

    def energy(label: str) -> float:
        job = atomic_input(system, label, XTB)
        return qcengine.compute(job, "xtb", raise_error=True).return_result

    monomer_with_ghosts = energy('["gfn2", [1], [1, 2]]')
    dimer = energy('["gfn2", [1, 2], [1, 2]]')
    monomer = energy('["gfn2", [1], [1]]')
    assert monomer_with_ghosts == pytest.approx(dimer, abs=1e-8)
    assert monomer_with_ghosts - monomer < -4.0  # a whole water molecule's energy, not a BSSE


@pytest.mark.xtb
def test_xtb_really_ignores_embedding_charges(embedding_allowed) -> None:
    """Why embedding with xtb is refused: the charges change nothing."""
    import qcengine

    embedded = core(["nocp"], {1: "gfn2", 2: "gfn2"}, CHARGES)
    system = FragmentSystem.from_core(embedded)
    job = atomic_input(system, '["gfn2", [1], [1]]', XTB)
    assert job.molecule.extras["embedding_charges"]  # the charges are on the molecule
    bare = job.model_copy(update={"molecule": job.molecule.model_copy(update={"extras": {}})})
    with_charges = qcengine.compute(job, "xtb", raise_error=True).return_result
    without = qcengine.compute(bare, "xtb", raise_error=True).return_result
    assert with_charges == without
