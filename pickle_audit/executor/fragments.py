"""Worker side of a many-body run: rebuild one fragment molecule, run QCEngine.

A worker receives the parent molecule once (through the executor's
initializer) and afterwards only `(label, specification)` per job; it rebuilds
the fragment exactly as `ManyBodyCore.iterate_molecules` does. The prepared
systems live in this module's registry, keyed by a per-run token, because an
initializer can only leave state in the process it ran in; thread and serial
runs share the parent's registry and remove their entry when they finish.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from qcmanybody.utils import delabeler

from pickle_audit.executor.capabilities import with_embedding_charges

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
SPEC_FIELDS = ("program", "driver", "model", "keywords", "protocols", "extras")


@dataclass(frozen=True)
class FragmentSystem:
    """What a worker needs from a ManyBodyCore to rebuild any fragment molecule.

    Plain data on purpose: `ManyBodyCore` itself cannot be pickled
    (`mc_levels` is a dict view) and is much larger than this.
    """

    molecule: Any
    nfragments: int
    embedding_charges: dict = field(default_factory=dict)

    @classmethod
    def from_core(cls, core: Any) -> FragmentSystem:
        return cls(core.molecule, core.nfragments, dict(core.embedding_charges or {}))

    def molecule_for(self, label: str) -> Any:
        """The fragment molecule of a job label, as `iterate_molecules` builds it."""
        _, real_atoms, basis_atoms = delabeler(label)
        ghost_atoms = list(set(basis_atoms) - set(real_atoms))
        real_atoms_0 = [x - 1 for x in real_atoms]
        ghost_atoms_0 = [x - 1 for x in ghost_atoms]
        mol = self.molecule.get_fragment(
            real_atoms_0, ghost_atoms_0, orient=False, group_fragments=False
        )
        updates: dict[str, Any] = {"fix_com": True, "fix_orientation": True}
        if self.molecule.fix_symmetry == "c1":
            updates["fix_symmetry"] = "c1"
        mol = mol.model_copy(update=updates)
        if self.embedding_charges:
            embedding_frags = list(set(range(1, self.nfragments + 1)) - set(basis_atoms))
            charges = []
            for ifr in embedding_frags:
                positions = self.molecule.get_fragment(ifr - 1).geometry.tolist()
                ifr_charges = self.embedding_charges[ifr]
                charges.extend([[chg, i] for i, chg in zip(positions, ifr_charges, strict=False)])
            mol.extras["embedding_charges"] = charges
        return mol


@dataclass(frozen=True)
class WorkerSetup:
    """How a worker prepares its environment before the first job."""

    task_config: dict
    programs: tuple[str, ...]
    set_environment: bool  # True in worker processes; never mutate a caller's environment
    host_facts: dict | None = None  # QCEngine's probe of this host, when workers share it

    def environment(self) -> dict[str, str]:
        """Thread-count variables for OpenMP/BLAS, one value: QCEngine's ncores."""
        return dict.fromkeys(THREAD_VARIABLES, str(self.task_config.get("ncores", 1)))


_SYSTEMS: dict[str, tuple[FragmentSystem, WorkerSetup]] = {}


def prepare_worker(token: str, system: FragmentSystem, setup: WorkerSetup) -> None:
    """Executor initializer: defuse the QCEngine/xtb hazards, then register the system.

    - OpenMP reads its thread count once, when the library loads; QCEngine
      sets OMP_NUM_THREADS to `ncores` (default: all cores) around each
      compute, so the program is imported here under the per-worker count.
    - `qcengine.get_config()` is not thread-safe on first use: warm it once
      (seeded with the parent's host facts when the worker shares its host).
    """
    import qcengine
    from qcengine.util import environ_context

    if setup.set_environment:  # already set at process start, unless the workers pre-existed
        os.environ.update(setup.environment())
    if setup.host_facts and getattr(qcengine.config, "_global_values", False) is None:
        qcengine.config._global_values = dict(setup.host_facts)
    config = qcengine.get_config(task_config=setup.task_config)
    with environ_context(config=config):
        for program in setup.programs:
            qcengine.get_program(program).get_version()
    _SYSTEMS[token] = (system, setup)


def import_qc_stack() -> None:
    """Executor initializer: import QCEngine (and with it QCElemental, numpy) once per
    worker as it starts, so the first job of a run does not pay for it."""
    import qcengine  # noqa: F401


def probe_host() -> dict | None:
    """QCEngine's facts about this host, probed once here instead of once per worker.

    QCEngine's first `get_config()` in a process runs `cpuinfo` in a
    subprocess (over a second); workers on the same host reuse the parent's
    answer. None when this QCEngine keeps its facts elsewhere.
    """
    import qcengine

    qcengine.get_config()
    facts = getattr(qcengine.config, "_global_values", None)
    return dict(facts) if isinstance(facts, dict) else None


def release_worker(token: str) -> None:
    """Forget a run's system (thread and serial runs share the caller's registry)."""
    _SYSTEMS.pop(token, None)


def compute_fragment(token: str, label: str, specification: dict) -> dict[str, Any]:
    """Run one fragment job; return only what `ManyBodyCore.analyze` consumes."""
    return compute_fragment_keeping_result(token, label, specification)[0]


def compute_fragment_keeping_result(
    token: str, label: str, specification: dict
) -> tuple[dict[str, Any], Any]:
    """Run one fragment job; return what `analyze` consumes and the whole AtomicResult
    (stdout, provenance, ...), for a ManyBodyResult's `cluster_results`."""
    import qcengine

    system, setup = _SYSTEMS[token]
    atomic = atomic_input(system, label, specification)
    program = specification["program"]
    result = qcengine.compute(atomic, program, raise_error=True, task_config=setup.task_config)
    return needed_properties(result, specification["driver"]), result


def atomic_input(system: FragmentSystem, label: str, specification: dict) -> Any:
    """The AtomicInput of one job; embedding charges go where the harness reads them.

    Which programs can take them is checked before the run starts
    (`capabilities.refuse_unsupported`), so none is dropped silently here.
    """
    from qcelemental.models.v1 import Molecule as MoleculeV1
    from qcelemental.models.v2 import AtomicInput

    molecule = system.molecule_for(label)
    if isinstance(molecule, MoleculeV1):  # a core built on a v1 molecule
        molecule = molecule.convert_v(2)
    charges = molecule.extras.get("embedding_charges")
    if charges:
        specification = with_embedding_charges(specification, charges)
    return AtomicInput(molecule=molecule, specification=specification)


def needed_properties(result: Any, driver: str) -> dict[str, Any]:
    """energy (float), gradient/hessian (numpy) from an AtomicResult, as analyze wants them."""
    props = result.properties
    energy = props.return_energy
    if energy is None and driver == "energy":
        energy = result.return_result
    values: dict[str, Any] = {"energy": float(energy)}
    if driver in ("gradient", "hessian"):
        gradient = props.return_gradient
        if gradient is None and driver == "gradient":
            gradient = result.return_result
        if gradient is not None:
            values["gradient"] = np.asarray(gradient, dtype=float)
    if driver == "hessian":
        hessian = props.return_hessian if props.return_hessian is not None else result.return_result
        values["hessian"] = np.asarray(hessian, dtype=float)
    return values


def normalize_specification(label: str, specification: Any) -> dict[str, Any]:
    """A plain dict AtomicSpecification (v2 field names) from a model or a dict."""
    if hasattr(specification, "model_dump"):
        specification = specification.model_dump()
    if not isinstance(specification, dict):
        raise TypeError(
            f"specification {label!r} must be an AtomicSpecification or a dict, "
            f"not {type(specification).__name__}"
        )
    missing = [key for key in ("program", "driver", "model") if not specification.get(key)]
    if missing:
        raise ValueError(
            f"specification {label!r} lacks {', '.join(missing)}; give e.g. "
            '{"program": "xtb", "driver": "energy", "model": {"method": "GFN2-xTB"}}'
        )
    plain = {key: specification[key] for key in SPEC_FIELDS if specification.get(key) is not None}
    plain["driver"] = str(getattr(plain["driver"], "value", plain["driver"]))
    if plain["driver"] not in ("energy", "gradient", "hessian"):
        raise ValueError(
            f"specification {label!r}: driver must be energy, gradient or hessian, "
            f"not {plain['driver']!r}"
        )
    return plain
