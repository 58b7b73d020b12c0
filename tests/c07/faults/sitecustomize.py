"""Test-only fault injection for the C07 regression suite (never on a user's path).

The C07 suite puts this folder first on PYTHONPATH of a ``fairgate run`` and
names a fault in FAIRGATE_C07_FAULT.  Every Python process of that run (the
CLI, ``airflow dags test`` and its tasks) imports this file at start-up; when
``pipelines.model.train`` is imported, its ``compute_sample_weights`` is replaced by
a faulty version that replays one C07 training bug.  The real run-time check
in the ``train`` stage must then block the run.

``stop_before_promote`` (the crash-safety tests) does not change a result: when
``pipelines.flows.champion`` is imported, its ``promote`` first stops its own
process with SIGSTOP, so the test kills the run exactly between the
registration and the promotion.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
from typing import Any

FAULTS = ("rounded_weights", "beta_ignored", "rare_class_dropped", "stop_before_promote")


def _faulty(original: Any, fault: str) -> Any:
    import numpy as np

    def compute_sample_weights(labels, groups, training, classes):  # type: ignore[no-untyped-def]
        if fault == "beta_ignored":
            # C07 step 2: a "vectorized" path that never read beta_factor (beta 0: no re-balancing)
            return original(labels, groups, training.model_copy(update={"beta_factor": 0.0}), classes)
        plan, weights = original(labels, groups, training, classes)
        if fault == "rounded_weights":
            # C07 step 1: round(..., 3) to make the logs look tidy
            return plan, np.round(weights, 3)
        # C07 step 2: a fast path that skipped the rare class (its rows get no weight at all)
        rare = min(plan.class_counts, key=plan.class_counts.get)
        return plan, np.where(labels.to_numpy() == rare, 0.0, weights)

    return compute_sample_weights


def _stopped_first(original: Any) -> Any:
    import signal

    def promote(state):  # type: ignore[no-untyped-def]
        sys.stderr.write("fault stop_before_promote: promote stops its process (SIGSTOP)\n")
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGSTOP)
        return original(state)

    return promote


def _patch(module: Any, fault: str) -> None:
    if fault == "stop_before_promote":
        module.promote = _stopped_first(module.promote)
    else:
        module.compute_sample_weights = _faulty(module.compute_sample_weights, fault)


class _PatchTrainOnImport(importlib.abc.MetaPathFinder):
    def __init__(self, fault: str) -> None:
        self.fault = fault
        self.module = "pipelines.flows.champion" if fault == "stop_before_promote" else "pipelines.model.train"

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name != self.module:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        loader, fault = spec.loader, self.fault

        class _Loader(importlib.abc.Loader):
            def create_module(self, spec: Any) -> Any:
                return None

            def exec_module(self, module: Any) -> None:
                loader.exec_module(module)  # type: ignore[union-attr]
                _patch(module, fault)
                sys.stderr.write(f"C07 fault injected into {name}: {fault}\n")

        spec.loader = _Loader()
        return spec


_fault = os.environ.get("FAIRGATE_C07_FAULT")
if _fault:
    if _fault not in FAULTS:
        raise SystemExit(f"FAIRGATE_C07_FAULT must be one of {FAULTS}, found {_fault!r}")
    sys.meta_path.insert(0, _PatchTrainOnImport(_fault))
