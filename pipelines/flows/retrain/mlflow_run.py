"""How a ``retrain`` run's MLflow run ends: FINISHED, FAILED (blocked, bad input, crashed) or KILLED.

The ``ingest`` stage opens one MLflow run per Airflow run (tag
``fairgate.airflow_run_id``).  Its status says how the run ended:

- ``FINISHED``: the ``promote`` stage reached its verdict (promoted, or
  waiting for approval while deployments are frozen);
- ``FAILED`` with ``fairgate.blocked_at`` (the stage whose check said no, or
  which refused bad input) and ``fairgate.blocked_reasons``;
- ``FAILED`` with ``fairgate.crashed_at`` and ``fairgate.crashed_reason``: an
  unexpected exception (a bug or a broken tool); Airflow may retry the task;
- ``KILLED`` with ``fairgate.stopped_at`` and ``fairgate.stopped_reason``: the
  Airflow process was stopped by a signal (set by ``fairgate run``).

A stage that starts on a run a crash or a stop ended (an Airflow retry, or a
re-run completing an interrupted run) sets it ``RUNNING`` again and keeps
what ended it in ``fairgate.resumed_after``.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from mlflow.tracking import MlflowClient

from pipelines.core.config import FairgateConfig
from pipelines.core.project import ProjectPaths
from pipelines.flows.retrain.results import read_stage_records
from pipelines.governance import registry, tags

logger = logging.getLogger(__name__)

FINISHED, FAILED, KILLED, RUNNING = "FINISHED", "FAILED", "KILLED", "RUNNING"
# the retrain stages in order (the stage records and the summary follow it)
STAGES = ("ingest", "audit", "leakage", "split", "train", "evaluate", "gate", "register", "promote")
# the tags of an ended run that a resumed run moves into fairgate.resumed_after
_INTERRUPTION_TAGS = (tags.CRASHED_AT, tags.CRASHED_REASON, tags.STOPPED_AT, tags.STOPPED_REASON)


def find_mlflow_run(client: MlflowClient, config: FairgateConfig, airflow_run_id: str) -> Any | None:
    """The MLflow run of this Airflow run, or None when ``ingest`` has not opened it yet."""
    experiment = client.get_experiment_by_name(config.registry.experiment)
    if experiment is None:
        return None
    found = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.`{tags.AIRFLOW_RUN_ID}` = '{airflow_run_id}'",
        max_results=1,
    )
    return found[0] if found else None


def end_mlflow_run(
    paths: ProjectPaths,
    config: FairgateConfig,
    airflow_run_id: str,
    status: str,
    run_tags: dict[str, str],
    current: dict[str, Any] | None = None,
) -> str | None:
    """Tag the run and end it with ``status``; return its MLflow run id (None: no MLflow run yet).

    ``current`` is the record of the stage that ends the run, not written yet;
    with the records already written it names and describes the run.
    """
    client = registry.connect(paths)
    run = find_mlflow_run(client, config, airflow_run_id)
    if run is None:
        return None
    run_id = str(run.info.run_id)
    for key, value in run_tags.items():
        client.set_tag(run_id, key, registry.tag_value(value))
    client.set_terminated(run_id, status=status)
    describe_run(paths, config, client, run, status, {**run.data.tags, **run_tags}, current)
    logger.info("MLflow run %s of %s ended %s", run_id, airflow_run_id, status)
    return run_id


def run_verdict(status: str, run_tags: dict[str, str], records: list[dict[str, Any]]) -> tuple[str, str]:
    """How a run ended, for its page: ``(verdict line, short verdict for the run name)``."""
    by_stage = {record["stage"]: record for record in records}
    if status == FINISHED:
        promote = by_stage.get("promote", {})
        details = promote.get("details", {})
        if promote.get("verdict") == "waiting":
            version = details.get("version", "?")
            return (f"PASSED: version {version} waits for a technical and an ethical sign-off; nothing promoted",
                    f"v{version} waiting for approval")
        version = details.get("to_version", "?")
        return (f"PASSED: version {version} promoted to champion (was {details.get('from_version') or 'none'})",
                f"v{version} promoted")
    for word, at_tag, reason_tag in (("BLOCKED", tags.BLOCKED_AT, tags.BLOCKED_REASONS),
                                     ("CRASHED", tags.CRASHED_AT, tags.CRASHED_REASON),
                                     ("STOPPED", tags.STOPPED_AT, tags.STOPPED_REASON)):
        if at_tag in run_tags:
            stage = run_tags[at_tag]
            reason = run_tags.get(reason_tag) or "no reason recorded"
            return f"{word} at {stage}: {reason}", f"{word.lower()} at {stage}"
    return f"{status}: no verdict recorded", status.lower()


def describe_run(
    paths: ProjectPaths,
    config: FairgateConfig,
    client: MlflowClient,
    run: Any,
    status: str,
    run_tags: dict[str, str],
    current: dict[str, Any] | None = None,
) -> None:
    """Name the ended run and write its description (verdict first) from its stage records and tags."""
    from pipelines.reports.mlflow_pages import (
        DESCRIPTION_TAG,
        GATE_REPORT_PATH,
        artifact_link,
        run_description,
        run_name,
        version_link,
    )

    records = read_stage_records(paths, run_tags.get(tags.AIRFLOW_RUN_ID, ""))
    if current is not None:
        records = [record for record in records if record["stage"] != current["stage"]] + [current]
    line, short = run_verdict(status, run_tags, records)
    by_stage = {record["stage"]: record for record in records}
    evaluation = by_stage.get("evaluate", {}).get("details", {})
    run_id, experiment_id = str(run.info.run_id), str(run.info.experiment_id)
    links = []
    if "gate" in by_stage:
        links.append(("Gate report", artifact_link(experiment_id, run_id, GATE_REPORT_PATH)))
    registered = by_stage.get("register", {}).get("details", {}).get("version")
    if registered is not None:
        links.append((f"Version {registered} (its model card)", version_link(config.registry.model_name, registered)))
    text = run_description(line, run_tags, evaluation.get("key_metrics") or {},
                           evaluation.get("champion_key_metrics") or {}, links)
    client.set_tag(run_id, DESCRIPTION_TAG, text)
    client.update_run(run_id, name=run_name(run_tags.get(tags.DATA_INTERVAL), short))


def keep_running(client: MlflowClient, mlflow_run_id: str) -> None:
    """Set the run ``RUNNING`` again after a ``with mlflow.start_run(run_id=...)`` block ended it FINISHED."""
    client.update_run(mlflow_run_id, status=RUNNING)


def resume_mlflow_run(paths: ProjectPaths, config: FairgateConfig, airflow_run_id: str) -> None:
    """Before a stage works: a run ended by a crash or a stop is ``RUNNING`` again (retry or completion).

    What ended it is kept in ``fairgate.resumed_after``; a run that ended
    with a verdict (FINISHED, or FAILED with ``fairgate.blocked_at``) is left as it is.
    """
    client = registry.connect(paths)
    run = find_mlflow_run(client, config, airflow_run_id)
    if run is None or run.info.status == RUNNING:
        return
    run_tags = run.data.tags
    if run.info.status == FINISHED or tags.BLOCKED_AT in run_tags:
        return
    run_id = str(run.info.run_id)
    what = "; ".join(f"{key.removeprefix(tags.PREFIX)}={run_tags[key]}" for key in _INTERRUPTION_TAGS
                     if key in run_tags)
    client.set_tag(run_id, tags.RESUMED_AFTER, registry.tag_value(f"{run.info.status}: {what or 'no reason recorded'}"))
    for key in _INTERRUPTION_TAGS:
        if key in run_tags:
            client.delete_tag(run_id, key)
    client.update_run(run_id, status=RUNNING)
    logger.warning("MLflow run %s of %s resumed after %s", run_id, airflow_run_id, run.info.status)


def stage_end_status(stage: str, record: dict[str, Any], raised: bool) -> tuple[str, dict[str, str]] | None:
    """How a stage ends the MLflow run: ``(status, tags)``, or None when the run goes on.

    Only a stage that raised, or the last stage, ends it: the gate records a
    blocked verdict without raising, so that the candidate is registered; the
    ``promote`` stage then refuses it and ends the run.
    """
    verdict = record["verdict"]
    reasons = "; ".join(str(r) for r in record.get("reasons", []))
    if not raised:
        return (FINISHED, {}) if stage == "promote" and verdict in ("passed", "waiting") else None
    if verdict == "blocked":
        return FAILED, {tags.BLOCKED_AT: str(record.get("blocked_at") or stage), tags.BLOCKED_REASONS: reasons}
    if verdict == "error":
        return FAILED, {tags.BLOCKED_AT: stage, tags.BLOCKED_REASONS: reasons}
    if verdict == "crashed":
        return FAILED, {tags.CRASHED_AT: stage, tags.CRASHED_REASON: reasons}
    raise ValueError(f"a stage that raised has verdict blocked, error or crashed, found {verdict!r}")


def stage_in_progress(paths: ProjectPaths, airflow_run_id: str) -> str:
    """The stage a run without a verdict was in: the first one without a passed (or waiting) record."""
    folder = paths.run_dir(airflow_run_id) / "stages"
    verdicts = {}
    for file in folder.glob("*.json"):
        record = json.loads(file.read_text(encoding="utf-8"))
        verdicts[record["stage"]] = record["verdict"]
    return next((s for s in STAGES if verdicts.get(s) not in ("passed", "waiting")), STAGES[-1])
