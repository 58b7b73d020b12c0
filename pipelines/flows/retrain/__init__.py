"""The ``retrain`` DAG's stages, each a plain function of the run state.

In order: :func:`run_reference`, :func:`ingest`, :func:`audit`,
:func:`leakage`, :func:`split` (:mod:`~pipelines.flows.retrain.data_stages`),
:func:`train`, :func:`evaluate`, :func:`gate`, :func:`register`
(:mod:`~pipelines.flows.retrain.model_stages`), then
:func:`pipelines.flows.champion.promote`.  Each takes the
:class:`~pipelines.flows.retrain.results.RunState` the stage before it
returned and returns it with its own typed result added; a check that says no
raises :class:`~pipelines.core.errors.BlockedError` after recording why.
"""

from pipelines.flows.retrain.context import STAGES, StageContext, interval_for_run, run_reference
from pipelines.flows.retrain.data_stages import audit, ingest, leakage, split
from pipelines.flows.retrain.model_stages import evaluate, gate, register, train
from pipelines.flows.retrain.results import RunReference, RunState

__all__ = [
    "STAGES",
    "RunReference",
    "RunState",
    "StageContext",
    "audit",
    "evaluate",
    "gate",
    "ingest",
    "interval_for_run",
    "leakage",
    "register",
    "run_reference",
    "split",
    "train",
]
