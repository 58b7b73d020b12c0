"""What one ``retrain`` stage hands the next: small, typed, JSON-ready values.

The DAG passes one :class:`RunState` from task to task (through XCom), so the
graph in the Airflow UI is the chain it is.  Each stage adds its own result
under its own key and returns the state; nothing in it is a DataFrame: only
paths, hashes, run ids, verdicts and short lists.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, NotRequired, Required, TypedDict

if TYPE_CHECKING:
    from pipelines.core.project import ProjectPaths


class RunReference(TypedDict):
    """Who runs what: the Airflow run, the data interval, the overrides, the actor."""

    airflow_run_id: str
    dag_id: str
    interval: str
    overrides: dict[str, Any]
    actor: str
    reingest: NotRequired[bool]  # audit again a batch quarantined before (``fairgate run --force``)
    completed_by: NotRequired[str]  # the Airflow run completing this one, interrupted after registration


class Ingested(TypedDict):
    """The interval's batch in ``data/``, its DVC data version, and the run's MLflow run."""

    data_hash: str
    batch_file: str
    decision_month: str | None
    rows: int
    mlflow_run_id: str
    notes: list[str]


class Audited(TypedDict):
    """The data audit passed (a blocked audit stops the run instead)."""

    verdict: str
    findings: int
    reference: str


class LeakageChecked(TypedDict):
    """The leakage checks passed (a leak stops the run instead)."""

    verdict: str
    findings: int


class SplitResult(TypedDict):
    """The run's training set and holdout files, and what the MLflow dataset inputs recorded."""

    train_file: str
    holdout_file: str
    train_rows: int
    holdout_rows: int
    notes: list[str]
    dataset_digests: dict[str, str]
    train_until: NotRequired[str]
    holdout_from: NotRequired[str]


class Trained(TypedDict):
    """The logged candidate, its features and its training fingerprint (exact weights as text)."""

    model_uri: str
    unmitigated_model_uri: str | None
    mitigation: dict[str, Any]
    features: list[str]
    class_weights: dict[str, str]
    class_weights_hex: dict[str, str]
    beta_factor: str
    reweigh_sensitive: bool
    sample_weight_sha256: str
    weights_check: str
    mitigation_search_file: NotRequired[str | None]


class Evaluated(TypedDict):
    """Where the paired evaluation of candidate and champion was written."""

    evaluation_file: str
    champion_version: str | None


class Gated(TypedDict):
    """The gate's decision: both verdicts, the reasons, and where the full decision was written."""

    decision_file: str
    decision: str
    technical: str
    ethical: str
    reasons: list[str]
    uncertain_checks: list[str]
    notes: list[str]
    policy_loosened: NotRequired[list[str]]  # thresholds looser than the champion's policy: promotion waits


class Registered(TypedDict):
    """The registered version of the candidate (passed or blocked)."""

    version: str


class RunState(TypedDict, total=False):
    """Everything the stages so far handed on, one key per stage."""

    ref: Required[RunReference]
    ingested: Ingested
    audited: Audited
    leakage: LeakageChecked
    split: SplitResult
    trained: Trained
    evaluated: Evaluated
    gated: Gated
    registered: Registered
    promoted: dict[str, Any]  # the move of champion (AliasMove.to_dict()) or the wait for approval


def read_stage_records(paths: ProjectPaths, airflow_run_id: str) -> list[dict[str, Any]]:
    """The per-stage records a run wrote (``var/runs/<run>/stages/``), in stage order."""
    folder = paths.run_dir(airflow_run_id) / "stages"
    return [json.loads(f.read_text(encoding="utf-8")) for f in sorted(folder.glob("*.json"))]
