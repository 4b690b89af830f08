"""qcmanybody's own interface, run in parallel: a `ManyBodyInput` in, a `ManyBodyResult` out.

qcmanybody's `ManyBodyComputer.from_manybodyinput` validates the input, builds
the core and then runs every fragment job one after another. Here qcmanybody
still validates and builds (so an input it rejects is rejected with its own
error) and still assembles the result (so properties, `cluster_properties` and
`cluster_results` are what it would return), while the jobs run through
`run_many_body`: in parallel, with the checks that refuse silent wrong numbers,
and with gradients taken from `return_result` where a harness (xtb) leaves
`properties.return_gradient` empty, which makes qcmanybody's own computer stop
with `KeyError: 'ret_gradient'`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pickle_audit.executor.mbe import run_many_body


def compute_many_body(input_model: Any, **options: Any) -> Any:
    """The `ManyBodyResult` qcmanybody's `ManyBodyComputer` returns for `input_model`
    (a v2 `ManyBodyInput` or its dict), with the fragment jobs run in parallel.

    `options` are `run_many_body`'s: `backend`, `workers`, `executor`, `timeout`,
    `retries`, `task_config`, `progress`, ... (not `checkpoint`: a result keeps
    every job's AtomicResult, which a checkpoint does not store).
    """
    from qcmanybody.v2.computer import ManyBodyComputer

    computer = ManyBodyComputer.from_manybodyinput(input_model, build_tasks=False)
    driver = str(getattr(computer.driver, "value", computer.driver))
    specifications = {}
    for model_chemistry, atomic in computer.input_data.specification.specification.items():
        spec = atomic.model_dump()
        spec.pop("schema_name", None)
        spec["driver"] = driver  # the many-body driver wins, as in qcmanybody
        specifications[model_chemistry] = spec
    cluster_results: dict[str, Any] = {}
    analyzed = run_many_body(
        computer.qcmb_core, specifications, cluster_results=cluster_results, **options
    )
    analyzed["nbody_number"] = len(cluster_results)
    return computer.get_results(external_results=analyzed, component_results=cluster_results)


PROCEDURE_NAME = "qcmanybody-parallel"


def register_procedure() -> str:
    """Make `qcengine.compute_procedure(input, "qcmanybody-parallel")` run here, in
    parallel on `task_config={"ncores": N}` worker processes (one core each), through
    QCEngine's own `register_procedure` (QCEngine itself is not patched). Idempotent;
    returns the procedure's name. v1 inputs work too: QCEngine converts them."""
    import qcengine
    from qcengine.procedures.base import register_procedure as register_with_qcengine
    from qcengine.procedures.qcmanybody import QCManyBodyProcedure

    class ParallelManyBodyProcedure(QCManyBodyProcedure):
        _defaults: ClassVar[dict[str, str]] = {"name": PROCEDURE_NAME, "procedure": "manybody"}

        def compute(self, input_model: Any, config: Any) -> Any:
            return compute_many_body(input_model, workers=max(1, int(config.ncores)))

    if PROCEDURE_NAME not in qcengine.list_all_procedures():
        register_with_qcengine(ParallelManyBodyProcedure())
    return PROCEDURE_NAME
