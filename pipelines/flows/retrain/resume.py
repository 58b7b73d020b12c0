"""Completing a run that was interrupted after registration, instead of registering a second candidate.

Each stage from ``ingest`` to ``register`` saves the run state it hands on
(``var/runs/<run>/state.json``, see :func:`handed_on`).  When a ``retrain``
run starts for an interval, :func:`interrupted_run` looks for an earlier run
of the same DAG, interval, configuration and data whose candidate was
registered (its ``registration`` audit entry written) but which never reached
its verdict: its MLflow run is ``RUNNING``, ``KILLED`` or ``FAILED`` by a
crash (``fairgate.crashed_at``), never ``FINISHED`` and never blocked.
The new run then carries on *that* run: same Airflow run id in every
idempotency key, so the stages it already did hand the state on unchanged and
``promote`` decides on the candidate already registered (promoted, waiting for
approval while frozen, or refused), once.

A run interrupted before its registration is not completed: nothing of it
was registered, and the new run does the whole work again; if its MLflow run
was left ``RUNNING`` (no process was left to end it), it ends ``KILLED``,
``fairgate.stopped_reason`` saying which run superseded it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path

from pipelines.core.config import FairgateConfig
from pipelines.core.files import write_json
from pipelines.core.project import ProjectPaths, open_project
from pipelines.data import versioning
from pipelines.flows.retrain.mlflow_run import FINISHED, KILLED, RUNNING, end_mlflow_run, stage_in_progress
from pipelines.flows.retrain.results import RunState
from pipelines.governance import registry, tags
from pipelines.governance.records import version_entries

logger = logging.getLogger(__name__)

STATE_FILE = "state.json"
SUPERSEDED = (
    "superseded by run {run} of the same interval and configuration: it had stopped without a verdict, "
    "and nothing of it was left to complete on this data"
)
ERR_BAD_STATE = "the saved run state {path} is not a run state (expected a JSON object with 'ref'): {problem}"

Stage = Callable[[RunState], RunState]


def handed_on(result_key: str) -> Callable[[Stage], Stage]:
    """Make a stage resumable: skip it when the state already holds its result; save what it hands on.

    A state holds a stage's result before the stage ran only when the run
    completes an interrupted one (:func:`interrupted_run`): the stage's work
    was done and recorded by that run, and is not done twice.
    """

    def wrap(step: Stage) -> Stage:
        @functools.wraps(step)
        def run(state: RunState) -> RunState:
            if result_key in state:
                logger.info("%s: done by the interrupted run %s, handed on", step.__name__,
                            state["ref"]["airflow_run_id"])
                return state
            handed = step(state)
            paths, _ = open_project()
            write_json(paths.run_dir(handed["ref"]["airflow_run_id"]) / STATE_FILE, dict(handed))
            return handed

        return run

    return wrap


def saved_state(paths: ProjectPaths, airflow_run_id: str) -> RunState | None:
    """The last run state a run's stages handed on, or None when no stage finished."""
    path = paths.run_dir(airflow_run_id) / STATE_FILE
    if not path.is_file():
        return None
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(ERR_BAD_STATE.format(path=path, problem=e)) from e
    if not isinstance(state, dict) or "ref" not in state:
        raise ValueError(ERR_BAD_STATE.format(path=path, problem="no 'ref'"))
    return state  # type: ignore[return-value]


def source_digest(paths: ProjectPaths, config: FairgateConfig) -> str | None:
    """The SHA-256 of a file dataset's source (None for the generator: its data follow from the configuration)."""
    if config.dataset.source != "file":
        return None
    source = Path(str(config.dataset.path))
    source = source if source.is_absolute() else paths.root / source
    return hashlib.sha256(source.read_bytes()).hexdigest()


def interrupted_run(
    paths: ProjectPaths, config: FairgateConfig, dag_id: str, interval: str, airflow_run_id: str
) -> RunState | None:
    """The saved state of an earlier run to complete (see the module's docstring), or None."""
    if not paths.data_pointer.is_file():
        return None
    client = registry.connect(paths)
    experiment = client.get_experiment_by_name(config.registry.experiment)
    if experiment is None:
        return None
    runs = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.`{tags.DAG_ID}` = '{dag_id}' and tags.`{tags.DATA_INTERVAL}` = '{interval}' "
        f"and tags.`{tags.CONFIG_HASH}` = '{config.config_hash}'",
        order_by=["attributes.start_time DESC"],
    )
    data_hash, source = versioning.recorded_data_hash(paths), source_digest(paths, config)
    completed: RunState | None = None
    for run in runs:
        run_tags = run.data.tags
        earlier = run_tags.get(tags.AIRFLOW_RUN_ID)
        if earlier in (None, airflow_run_id) or run.info.status == FINISHED or tags.BLOCKED_AT in run_tags:
            continue  # this run, or one that reached its verdict
        same_data = run_tags.get(tags.DATA_HASH) == data_hash and run_tags.get(tags.SOURCE_SHA256) == source
        state = _registered_state(paths, config, str(earlier)) if same_data and completed is None else None
        if state is not None:
            logger.warning("run %s completes %s, interrupted after registering version %s",
                           airflow_run_id, earlier, state["registered"]["version"])
            completed = state
        elif run.info.status == RUNNING:
            # no process of it is left to end it (its Airflow run of the same date is replaced by this one)
            end_mlflow_run(paths, config, str(earlier), KILLED, {
                tags.STOPPED_AT: stage_in_progress(paths, str(earlier)),
                tags.STOPPED_REASON: SUPERSEDED.format(run=airflow_run_id),
            })
    return completed


def _registered_state(paths: ProjectPaths, config: FairgateConfig, airflow_run_id: str) -> RunState | None:
    """The saved state of a run whose candidate's registration is in the audit log, or None."""
    state = saved_state(paths, airflow_run_id)
    if state is None or "registered" not in state:
        return None
    version = str(state["registered"]["version"])
    key = f"{airflow_run_id}:registration:{version}"
    recorded = [e for e in version_entries(paths, config, version) if e.idempotency_key == key]
    return state if recorded else None


def completion_of(state: RunState, airflow_run_id: str) -> RunState:
    """The state of an interrupted run, marked as completed by ``airflow_run_id`` (its MLflow run tagged)."""
    ref = {**state["ref"], "completed_by": airflow_run_id}
    paths, _ = open_project()
    client = registry.connect(paths)
    client.set_tag(state["ingested"]["mlflow_run_id"], tags.COMPLETED_BY, airflow_run_id)
    return {**state, "ref": ref}  # type: ignore[typeddict-item]

