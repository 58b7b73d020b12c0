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

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipelines.flows.retrain.context import STAGES, StageContext, interval_for_run, run_reference
    from pipelines.flows.retrain.data_stages import audit, ingest, leakage, split
    from pipelines.flows.retrain.model_stages import evaluate, gate, register, train
    from pipelines.flows.retrain.results import RunReference, RunState

# Each name is imported from its module when first asked for: importing one module of this package (the
# CLI's summary needs only the stage names) must not import every stage's libraries with it.
_MODULE_OF = {
    "STAGES": "context",
    "StageContext": "context",
    "interval_for_run": "context",
    "run_reference": "context",
    "audit": "data_stages",
    "ingest": "data_stages",
    "leakage": "data_stages",
    "split": "data_stages",
    "evaluate": "model_stages",
    "gate": "model_stages",
    "register": "model_stages",
    "train": "model_stages",
    "RunReference": "results",
    "RunState": "results",
}


def __getattr__(name: str) -> Any:
    """Import a stage (or a name the stages share) from its module on first use."""
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


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
