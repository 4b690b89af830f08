"""What QCEngine's program harnesses can do with a fragment job, checked before any job runs.

A many-body expansion can ask two things of a program that not every
harness does: point charges around the fragment (embedding charges) and ghost
atoms (basis functions without nuclei or electrons, for counterpoise and vmfc
corrections). A harness that cannot do either does not fail: it runs the job
without the charges, or computes the ghosts as real atoms, and the expansion
returns a number that looks right and is not (counterpoise with xtb gives a
"interaction energy" tens of hartree off). So such a run is refused up front,
naming the model chemistry, the program and what to change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from qcmanybody.utils import delabeler

# Harnesses that take point charges, the way qcmanybody hands them over
# (psi4: `function_kwargs={"external_potentials": [[charge, [x, y, z]], ...]}`).
EXTERNAL_CHARGE_PROGRAMS = frozenset({"psi4"})

# Harnesses with no notion of a basis set, whose QCEngine code never reads
# `Molecule.real`: a ghost atom is computed as an ordinary atom.
NO_GHOST_ATOM_PROGRAMS = frozenset(
    {"xtb", "mopac", "rdkit", "torchani", "openmm", "mace", "aimnet2", "orb", "dftd4", "s-dftd3"}
)


class UnsupportedByProgram(ValueError):
    """The expansion needs something the chosen program's harness silently skips."""


def refuse_unsupported(
    specifications: Mapping[str, Mapping],
    jobs: Iterable[tuple[str, str]],
    *,
    nfragments: int,
    embedded: bool,
) -> None:
    """Raise UnsupportedByProgram for the first job whose program would give a wrong number."""
    every_fragment = set(range(1, nfragments + 1))
    for model_chemistry, label in jobs:
        program = str(specifications[model_chemistry]["program"]).lower()
        _, real, basis = delabeler(label)
        if embedded and program not in EXTERNAL_CHARGE_PROGRAMS and every_fragment - set(basis):
            raise UnsupportedByProgram(
                f"model chemistry {model_chemistry!r} runs {program}, whose QCEngine harness"
                " cannot apply embedding charges: its fragment jobs (first "
                f"{label}) would run without them and give unembedded energies; compute"
                f" that level with {_listed(EXTERNAL_CHARGE_PROGRAMS)}, or drop embedding_charges"
            )
        if set(basis) != set(real) and program in NO_GHOST_ATOM_PROGRAMS:
            raise UnsupportedByProgram(
                f"model chemistry {model_chemistry!r} runs {program}, whose QCEngine harness"
                " computes ghost atoms as real atoms: its counterpoise jobs (first"
                f" {label}) would give wrong energies; use bsse_type 'nocp' for {program},"
                " or a program with a basis set for that level"
            )


def _listed(programs: Iterable[str]) -> str:
    return " or ".join(sorted(programs))


def with_embedding_charges(specification: dict, charges: list) -> dict:
    """The specification with the charges passed as the harness expects (psi4 only)."""
    keywords = dict(specification.get("keywords") or {})
    function_kwargs = dict(keywords.get("function_kwargs") or {})
    function_kwargs["external_potentials"] = charges
    keywords["function_kwargs"] = function_kwargs
    return {**specification, "keywords": keywords}
