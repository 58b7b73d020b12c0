"""What every ``retrain`` stage shares: the run reference, the stage context, the stage record.

A stage takes the :class:`~pipelines.flows.retrain.results.RunState` the
stage before it returned, rebuilds its :class:`StageContext` (project,
configuration with the run's overrides, run folder), does its work inside
:func:`stage_record` (which times it and writes its verdict for the summary),
and returns the state with its own result added.
"""

from __future__ import annotations

import logging
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.core.arrow_memory import use_system_allocator
from pipelines.core.config import FairgateConfig, apply_overrides, override_refusals
from pipelines.core.errors import BadInputError, BlockedError, FairgateError
from pipelines.core.files import write_json
from pipelines.core.intervals import check_month
from pipelines.core.project import CODE_ROOT, ProjectPaths, open_project, safe_key
from pipelines.flows.retrain.mlflow_run import STAGES, end_mlflow_run, resume_mlflow_run, stage_end_status
from pipelines.flows.retrain.results import RunReference, RunState
from pipelines.flows.retrain.resume import completion_of, interrupted_run
from pipelines.governance import champion_record, registry, tags
from pipelines.governance.records import record_event

logger = logging.getLogger(__name__)

ERR_END_RUN = "the MLflow run could not be ended {status}: {error}"
ERR_STAGE_MISSING = "the {stage} stage needs the result of {needed}, which the run state does not hold: {keys}"


@dataclass
class StageContext:
    """Everything a stage needs, rebuilt from the run reference in each task."""

    paths: ProjectPaths
    config: FairgateConfig
    airflow_run_id: str
    dag_id: str
    interval: str
    actor: str
    reingest: bool = False  # audit again a batch that was quarantined before (``fairgate run --force``)

    @property
    def run_dir(self) -> Path:
        """This run's output folder."""
        return self.paths.run_dir(self.airflow_run_id)

    @classmethod
    def open(cls, run_ref: RunReference | dict[str, Any]) -> StageContext:
        """Load the project and apply the run's overrides."""
        paths, config = open_project()
        overrides = dict(run_ref.get("overrides") or {})
        if overrides:
            config = apply_overrides(config, overrides)
        interval = str(run_ref["interval"])
        check_month(interval)
        return cls(
            paths=paths,
            config=config,
            airflow_run_id=str(run_ref["airflow_run_id"]),
            dag_id=str(run_ref.get("dag_id", "retrain")),
            interval=interval,
            actor=str(run_ref.get("actor") or "unknown"),
            reingest=bool(run_ref.get("reingest", False)),
        )


def interval_for_run(run_type: Any, data_interval_end: Any, logical_date: Any) -> str:
    """The data interval (YYYY-MM) a run processes when none is given: the last complete month.

    A scheduled run processes the month that ended when its data interval
    ended. With Airflow 3's ``@monthly`` (a cron *trigger*: the data interval
    is the instant of the run, start = end = the 1st of the month) and with a
    cron data-interval timetable ([1st of last month, 1st of this month)) alike,
    that is the month before ``data_interval_end``. Any other run (manual,
    backfill) processes the last complete month before its logical date (its
    own month is not over yet). ``run_type`` may be Airflow's ``DagRunType`` or
    its text in any form (``"scheduled"``, ``"DagRunType.SCHEDULED"``).
    """
    kind = str(getattr(run_type, "value", run_type)).lower()
    when = data_interval_end if "scheduled" in kind and data_interval_end is not None else logical_date
    if when is None:
        when = data_interval_end
    if when is None:
        raise BadInputError("cannot tell which data interval to process: no interval, no logical date")
    year, month = (when.year, when.month - 1) if when.month > 1 else (when.year - 1, 12)
    return f"{year:04d}-{month:02d}"


def run_reference(
    airflow_run_id: str,
    dag_id: str,
    interval: str,
    overrides: dict[str, Any] | None,
    actor: str | None,
    request_id: str | None = None,
    reingest: bool = False,
) -> RunState:
    """Build the run state every stage receives, holding the run reference (validated here, at the entry point).

    Overrides are validated now, so a bad key stops the run before any data moves.
    When an earlier run of the same interval, configuration and data was
    interrupted after registering its candidate, the state returned is that
    run's, to complete it (see :mod:`~pipelines.flows.retrain.resume`).
    When the run was requested by ``fairgate run``, a pointer from the request id
    to the Airflow run id is written so the command can find its run's records.
    """
    check_month(interval)
    paths, config = open_project()
    if overrides:
        refusals = override_refusals(config, dict(overrides))
        if refusals:
            who = actor or "airflow:unknown"
            record_override_refusal(paths, config, dict(overrides), refusals, who, airflow_run_id)
            raise BlockedError("overrides", refusals)
    # the first task of the DAG: a champion moved outside fairgate is an integrity alarm, never gated against
    # (and never completed against: this comes before an interrupted run is picked up)
    champion_record.reconcile(paths, config, registry.connect(paths))
    effective = apply_overrides(config, dict(overrides)) if overrides else config
    interrupted = interrupted_run(paths, effective, dag_id, interval, airflow_run_id)
    if interrupted is not None:
        # an earlier run of this interval, configuration and data registered its candidate and was stopped:
        # this run completes it (same idempotency keys), it does not register a second candidate
        completion = completion_of(interrupted, airflow_run_id)
        if request_id:
            write_json(_request_pointer(paths, request_id),
                       {"airflow_run_id": completion["ref"]["airflow_run_id"], "completed_by": airflow_run_id})
        return completion
    if request_id:
        write_json(_request_pointer(paths, request_id), {"airflow_run_id": airflow_run_id})
    ref: RunReference = {
        "airflow_run_id": airflow_run_id,
        "dag_id": dag_id,
        "interval": interval,
        "overrides": dict(overrides or {}),
        "actor": actor or "airflow:scheduler",
    }
    if reingest:
        ref["reingest"] = True
    return {"ref": ref}


def record_override_refusal(
    paths: ProjectPaths,
    config: FairgateConfig,
    overrides: dict[str, Any],
    refusals: list[str],
    actor: str,
    airflow_run_id: str | None = None,
) -> None:
    """Record a refused attempt to loosen the gate or change a governed setting."""
    logger.warning("refused overrides by %s: %s", actor, "; ".join(refusals))
    # each attempt from the CLI is its own event; a DAG run is refused once however often it is retried
    key = f"{airflow_run_id}:refusal:overrides" if airflow_run_id else f"cli:refusal:overrides:{uuid.uuid4().hex}"
    record_event(
        paths,
        config,
        "refusal",
        actor,
        {
            "what": "run overrides",
            "overrides": overrides,
            "reason": "; ".join(refusals),
            "airflow_run_id": airflow_run_id,
        },
        key,
    )


def _request_pointer(paths: ProjectPaths, request_id: str) -> Path:
    """Where ``fairgate run`` finds the Airflow run that its request started (or completed)."""
    return paths.root / "var" / "requests" / f"{safe_request(request_id)}.json"


def safe_request(request_id: str) -> str:
    """A request id usable as a file name."""
    return safe_key(request_id)


@contextmanager
def stage_record(ctx: StageContext, stage: str) -> Iterator[dict[str, Any]]:
    """Time a stage and write its verdict (passed, blocked, error or crashed) for the summary.

    It also keeps the run's MLflow run honest (see :mod:`~pipelines.flows.retrain.mlflow_run`): a run a
    crash or a stop ended is resumed before the stage works; a stage that raises ends it FAILED with
    ``fairgate.blocked_at`` (a refusal or bad input) or ``fairgate.crashed_at`` (anything else) before
    the exception goes on; the last stage's verdict ends it FINISHED.
    """
    record: dict[str, Any] = {"stage": stage, "verdict": "passed", "details": {}}
    use_system_allocator()
    started = time.perf_counter()
    raised = True
    try:
        resume_mlflow_run(ctx.paths, ctx.config, ctx.airflow_run_id)
        yield record
        raised = False
    except BlockedError as e:
        record["verdict"] = "blocked"
        record["reasons"] = e.reasons
        record["blocked_at"] = e.stage  # the promote stage refuses what the gate blocked: blocked at gate
        raise
    except FairgateError as e:
        record["verdict"] = "error"
        record["reasons"] = [str(e)]
        raise
    except BaseException as e:
        # not a verdict: a bug or a broken tool; recorded so the summary cannot show it as passed
        record["verdict"] = "crashed"
        record["reasons"] = [f"{type(e).__name__}: {e}"]
        raise
    finally:
        record["seconds"] = time.perf_counter() - started
        order = STAGES.index(stage) if stage in STAGES else 99
        try:
            _end_mlflow_run_for(ctx, stage, record, raised)
        finally:
            write_json(ctx.run_dir / "stages" / f"{order:02d}-{stage}.json", record)


def _end_mlflow_run_for(ctx: StageContext, stage: str, record: dict[str, Any], raised: bool) -> None:
    """End the MLflow run as the stage's verdict says; a failure to end it makes the stage crashed."""
    ending = stage_end_status(stage, record, raised)
    if ending is None:
        return
    try:
        end_mlflow_run(ctx.paths, ctx.config, ctx.airflow_run_id, *ending, current=record)
    except Exception as e:
        # a verdict cannot stand over a run left open: the stage crashed (Airflow retries it), the reason says why
        problem = ERR_END_RUN.format(status=ending[0], error=f"{type(e).__name__}: {e}")
        record["reasons"] = [*record.get("reasons", []), problem]
        record["verdict"] = "crashed"
        raise


def git_state() -> dict[str, str]:
    """The commit of the code that ran and whether its tree was dirty."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=CODE_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=CODE_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as e:
        logger.warning("git state unknown: %s", e)
        return {"git_commit": "unknown (not a git checkout)", "git_dirty": "unknown"}
    return {"git_commit": commit, "git_dirty": "true" if dirty else "false"}



def stage_input(state: RunState, stage: str, *needed: str) -> StageContext:
    """The context of ``stage``, after checking the state holds the results it needs.

    A DAG wired out of order, or a state edited by hand, is bad input: one
    line naming the stage and what is missing, before any work is done.
    """
    missing = [key for key in ("ref", *needed) if key not in state]
    if missing:
        raise BadInputError(
            ERR_STAGE_MISSING.format(stage=stage, needed=", ".join(missing), keys=", ".join(sorted(state)) or "none")
        )
    return StageContext.open(state["ref"])


def log_artifact_files(ctx: StageContext, mlflow_run_id: str, files: list[Path], folder: str) -> None:
    """Log each file as an artifact of the run's MLflow run, under ``folder``."""
    client = registry.connect(ctx.paths)
    for file in files:
        client.log_artifact(mlflow_run_id, str(file), folder)


def block_run(ctx: StageContext, mlflow_run_id: str, stage: str, reasons: list[str]) -> None:
    """Record on the MLflow run where and why the run was blocked, then stop it."""
    client = registry.connect(ctx.paths)
    client.set_tag(mlflow_run_id, tags.BLOCKED_AT, stage)
    client.set_tag(mlflow_run_id, tags.BLOCKED_REASONS, registry.tag_value("; ".join(reasons)))
    raise BlockedError(stage, reasons)

