"""Monitoring one scored interval: ``fairgate monitor`` and the ``monitor`` DAG.

Before anything is measured, the champion goes through the checks scoring
makes (:func:`pipelines.flows.score.verified_models`: the audit log verifies,
no integrity alarm, its recorded gate passed, its files match their
registration checksums).  Then the decisions ``fairgate score`` wrote for the
interval (``var/scores/interval=<m>/champion-v<v>.parquet``, and each
``shadow-v<v>.parquet`` beside it) are checked against their ``scoring``
entries in the audit log (the hash of the decisions, the version, the digest),
and the interval's applications, read again from the source, against the data
hash they were scored with.  A file that does not match its record is an
integrity alarm (exit 1); an interval the champion did not score is bad input
(exit 2).

The decision-time horizon (no labels) measures, each value a
:class:`~pipelines.core.monitored_values.MonitoredValue`:

- input drift of every feature and every sensitive group's share against the
  champion's training data, found through its lineage
  (:mod:`pipelines.data.input_drift`);
- approval rates overall and per group and the four-fifths ratio of the
  decisions made, and each shadow's disagreement with the champion per group
  (:mod:`pipelines.model.decision_mix`).

The estimated and realised horizons come from
:mod:`pipelines.flows.monitor_horizons`.  Every value measured goes to the
alerting (:func:`pipelines.flows.auto_rollback.monitor_alerts`), which
classifies it (``warn``, ``critical``, confident or not) and acts: a confident
critical ethical breach rolls the champion back and freezes.  The verdict of a
horizon is its worst classification (``ok``, ``warn``, ``critical``).  It is written to
``var/monitoring/interval=<m>/champion-v<v>.json``, logged to one MLflow run of
``monitoring.experiment`` (:mod:`pipelines.flows.monitor_run`), and recorded
as one ``monitoring`` entry of the audit log.  Monitoring the same interval
again with the same champion, decisions and settings rewrites the same file,
finds the same MLflow run and appends nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.core.config import FairgateConfig
from pipelines.core.errors import BadInputError, BlockedError
from pipelines.core.monitored_values import MonitoredValue
from pipelines.core.project import ProjectPaths, open_project
from pipelines.core.small_groups import merge_small_groups
from pipelines.data.input_drift import input_drift
from pipelines.flows import score as scoring
from pipelines.flows.monitor_horizons import champion_data, estimated_horizon, realised_horizon
from pipelines.flows.monitor_run import LEVELS, finish, publish
from pipelines.governance import champion_record, records, registry
from pipelines.governance.alerts import breach_of, classify
from pipelines.governance.model_integrity import manifest_digest, verify_registered_model
from pipelines.model.decision_mix import decision_mix, shadow_disagreement

logger = logging.getLogger(__name__)

STAGE = "monitor"

ERR_NOT_SCORED = (
    "interval {interval} was not scored by champion version {version}: no {file} "
    "(run: fairgate score --interval {interval})"
)
ERR_NO_SCORING_ENTRY = (
    "{file}: no scoring entry of the audit log records it (interval {interval}, {role} version {version}, "
    "digest {digest}): decisions not written by fairgate score"
)
ERR_DECISIONS_CHANGED = (
    "{file}: its decisions no longer match the scoring entry that recorded them (audit entry {seq}): "
    "hash {found}, recorded {recorded}"
)
ERR_DATA_CHANGED = (
    "interval {interval}: the applications read again from the source (data hash {found}) are not those "
    "that were scored ({recorded})"
)
ERR_ROWS_DIFFER = "{file}: {found} row(s), but the champion decided {rows} application(s) of interval {interval}"
ERR_NO_SENSITIVE = "interval {interval}: the applications lack the sensitive attribute(s) {columns}"


@dataclass(frozen=True)
class ScoredFile:
    """One model's decisions of the interval, as written by ``fairgate score`` and checked against its record."""

    role: str
    version: str
    relative: str
    decisions: pd.DataFrame
    decisions_hash: str
    audit_seq: int


def monitor(interval: str, airflow_run_id: str | None = None) -> dict[str, Any]:
    """Monitor the champion's decisions of ``interval``: measure, write, log and record the verdict.

    Parameters
    ----------
    interval
        The data interval, as ``fairgate score --interval`` named it.
    airflow_run_id
        The Airflow run (or CLI call) that asked; logged, never part of the record.

    Returns
    -------
    dict
        The verdict (as written to ``var/monitoring``), with ``file``, ``mlflow_run_id``,
        ``audit_seq`` and ``already_recorded``.

    Raises
    ------
    BlockedError
        an integrity check fails (the champion, or a file against its record).
    BadInputError
        the interval was not scored by the champion, or its applications cannot be read.
    """
    paths, config = open_project()
    logger.info("monitoring interval %s (asked by %s)", interval, airflow_run_id or "a direct call")
    with tempfile.TemporaryDirectory(prefix="fairgate-monitor-") as folder:
        current, _ = scoring.verified_models(paths, config, Path(folder))
        with records.open_audit_log(paths, config) as log:
            entries = records.model_entries(log, config)
        version = served_version(entries, interval, current.version)
        champion = (
            ServedModel(current.version, current.digest, current.model, current.inputs)
            if version == current.version
            else _verified_served(paths, config, entries, version, Path(folder) / "served")
        )
    served = _scored_file(paths, entries, interval, "champion", champion.version, champion.digest)
    shadows = [
        _scored_file(paths, entries, interval, "shadow", version, None) for version in _shadow_versions(paths, interval)
    ]
    applications = scoring.read_applications(paths, config, interval)
    recorded_hash = str(served.decisions["data_hash"].iloc[0])
    if applications.data_hash != recorded_hash:
        raise BlockedError(
            STAGE, [ERR_DATA_CHANGED.format(interval=interval, found=applications.data_hash, recorded=recorded_hash)]
        )
    for shadow in shadows:
        if len(shadow.decisions) != len(served.decisions):
            raise BlockedError(STAGE, [ERR_ROWS_DIFFER.format(
                file=shadow.relative, found=len(shadow.decisions), rows=len(served.decisions), interval=interval
            )])  # fmt: skip
    data = champion_data(paths, config, champion.version)
    decision_time = measure_decision_time(
        config, applications.frame, data.training, champion.inputs, served, shadows, interval
    )
    decision_time["notes"] = data.notes + decision_time["notes"]
    estimated = horizon_result(interval, *estimated_horizon(
        config, champion.model, champion.inputs, data.holdout, served.decisions, applications.frame
    ))  # fmt: skip
    realised = horizon_result(interval, *realised_horizon(config, served.decisions, applications.frame))
    horizons = {"decision_time": decision_time, "estimated": estimated, "realised": realised}
    verdict = _verdict(config, interval, champion, served, shadows, applications.data_hash, horizons)
    classified = classify_verdict(verdict)
    from pipelines.flows.auto_rollback import act_on_alerts  # lazy: the moves of champion

    published = publish(paths, config, verdict)  # what was measured is recorded before anything acts on it
    # the alerting's idempotency key is the verdict's: the DAG and the shell are one event
    outcome = act_on_alerts(classified, interval=interval, airflow_run_id=verdict["key"])
    return finish(paths, config, published, outcome)


def classify_verdict(verdict: dict[str, Any]) -> Any:
    """Classify the measured values (:func:`pipelines.governance.alerts.classify`); each horizon takes its verdict.

    The values handed over are those measured: an undefined one is left out and
    named in its horizon's notes.
    """
    measured = {
        name: [_as_value(row) for row in horizon["values"] if row["value"] is not None and math.isfinite(row["value"])]
        for name, horizon in verdict["horizons"].items()
    }
    classified = classify(
        [value for values in measured.values() for value in values],
        checked={name: len(values) for name, values in measured.items()},
    )
    for name, horizon in verdict["horizons"].items():
        found = classified.horizon(name)
        horizon["verdict"] = "ok" if found is None else found.verdict
    verdict["verdict"] = classified.verdict
    return classified


@dataclass(frozen=True)
class ServedModel:
    """The version whose decisions are monitored: its number, files' digest, the model loaded from them, inputs."""

    version: str
    digest: str
    model: Any
    inputs: list[str]


def served_version(entries: list[Any], interval: str, champion: str) -> str:
    """The version whose decisions of ``interval`` were served: the last recorded champion scoring of it.

    Usually the current champion; after a rollback, the version rolled back
    from (its decisions were the ones served), so that monitoring the interval
    again is the same event.

    Raises
    ------
    BadInputError
        The interval was never scored with a champion.
    """
    scorings = [
        entry
        for entry in entries
        if entry.kind == "scoring"
        and entry.payload.get("interval") == interval
        and entry.payload.get("role", "champion") == "champion"
    ]
    if not scorings:
        relative = (Path("var") / "scores" / f"interval={interval}" / f"champion-v{champion}.parquet").as_posix()
        raise BadInputError(ERR_NOT_SCORED.format(interval=interval, version=champion, file=relative))
    return str(scorings[-1].payload["model_version"])


def _verified_served(
    paths: ProjectPaths, config: FairgateConfig, entries: list[Any], version: str, folder: Path
) -> ServedModel:
    """A served version that is no longer champion, checked as a move checks its target, loaded from its files."""
    import mlflow.sklearn  # lazy: only a version other than the champion is loaded here

    name = config.registry.model_name
    registered = registry.get_version(registry.connect(paths), name, version)
    problems = champion_record.target_problems(entries, name, registered)
    if problems:
        raise BlockedError(STAGE, problems)
    folder.mkdir(parents=True)
    checksums = verify_registered_model(name, version, entries, STAGE, into=folder)
    model_folder = min(folder.rglob("MLmodel"), key=lambda path: len(path.parts)).parent
    model = mlflow.sklearn.load_model(str(model_folder))
    inputs = scoring.model_inputs(model, model_folder, name, version)
    return ServedModel(version, manifest_digest(checksums), model, inputs)


def _as_value(row: dict[str, Any]) -> MonitoredValue:
    """A value row of the verdict (its ``level`` aside) as the ``MonitoredValue`` it records."""
    return MonitoredValue(**{name: row[name] for name in MonitoredValue.__dataclass_fields__})


ERR_NO_INTERVAL = "no interval to monitor: give one (interval parameter), or trigger the run by a scoring"


def monitor_intervals(intervals: list[str | None], airflow_run_id: str | None = None) -> dict[str, Any]:
    """Monitor each interval named (once each, in order); return the alert outcome the notifier reads (XCom).

    The outcome is the alerting's (:func:`act_on_verdict`) of the interval with
    the worst verdict (the latest among equals), with ``intervals``: every
    interval's verdict in brief, and ``summary`` naming each.

    Raises
    ------
    BadInputError
        No interval at all, or one that is not a string.
    """
    named = [interval for interval in dict.fromkeys(intervals) if interval]
    if not named or any(not isinstance(interval, str) for interval in named):
        raise BadInputError(ERR_NO_INTERVAL)
    verdicts = [monitor(interval, airflow_run_id) for interval in sorted(named)]
    worst = max(reversed(verdicts), key=lambda verdict: LEVELS.index(verdict["verdict"]))
    briefs = [
        {
            key: verdict[key]
            for key in (
                "interval",
                "model_version",
                "verdict",
                "file",
                "mlflow_run_id",
                "audit_seq",
                "already_recorded",
            )
        }  # fmt: skip
        for verdict in verdicts
    ]
    summary = "; ".join(f"{verdict['interval']}: {verdict['alerts']['summary']}" for verdict in verdicts)
    return {**worst["alerts"], "interval": worst["interval"], "summary": summary, "intervals": briefs}


def _shadow_versions(paths: ProjectPaths, interval: str) -> list[str]:
    """The versions scored in shadow for the interval (``shadow-v<version>.parquet`` beside the champion's)."""
    folder = paths.root / "var" / "scores" / f"interval={interval}"
    found = [path.stem.removeprefix("shadow-v") for path in folder.glob("shadow-v*.parquet")]
    return sorted(found, key=lambda version: int(version) if version.isdecimal() else 0)


def _scored_file(
    paths: ProjectPaths, entries: list[Any], interval: str, role: str, version: str, digest: str | None
) -> ScoredFile:
    """Read one scored file and check it against its ``scoring`` entry (digest too, for the champion)."""
    relative = (Path("var") / "scores" / f"interval={interval}" / f"{role}-v{version}.parquet").as_posix()
    path = paths.root / relative
    if not path.is_file():
        raise BadInputError(ERR_NOT_SCORED.format(interval=interval, version=version, file=relative))
    decisions = pd.read_parquet(path)
    found = scoring.frame_hash(decisions)
    recorded = [
        entry
        for entry in entries
        if entry.kind == "scoring"
        and entry.payload.get("interval") == interval
        and entry.payload.get("role") == role
        and str(entry.payload.get("model_version")) == version
        and (digest is None or entry.payload.get("model_digest") == digest)
        and entry.payload.get("file") == relative
    ]
    if not recorded:
        raise BlockedError(STAGE, [ERR_NO_SCORING_ENTRY.format(
            file=relative, interval=interval, role=role, version=version, digest=digest or "any",
        )])  # fmt: skip
    matching = [entry for entry in recorded if entry.payload.get("decisions_hash") == found]
    if not matching:
        last = recorded[-1]
        raise BlockedError(STAGE, [ERR_DECISIONS_CHANGED.format(
            file=relative, seq=last.seq, found=found, recorded=last.payload.get("decisions_hash"),
        )])  # fmt: skip
    return ScoredFile(role, version, relative, decisions, found, matching[-1].seq)


def measure_decision_time(
    config: FairgateConfig,
    applications: pd.DataFrame,
    reference: pd.DataFrame,
    features: list[str],
    served: ScoredFile,
    shadows: list[ScoredFile],
    interval: str,
) -> dict[str, Any]:
    """The decision-time horizon: drift, decision mix and shadow disagreement, and their verdict."""
    dataset, limits = config.dataset, config.monitoring.decision_time
    bootstrap = config.evaluation.bootstrap
    missing = [column for column in dataset.sensitive if column not in applications.columns]
    if missing:
        raise BadInputError(ERR_NO_SENSITIVE.format(interval=interval, columns=", ".join(missing)))
    drift = input_drift(
        applications, reference, features, dataset, limits,
        config.audit.drift.significance, config.audit.drift.pseudo_count,
    )  # fmt: skip
    sensitive = merge_small_groups(applications[list(dataset.sensitive)], dataset.small_groups)
    report_only = {attribute: policy.report_only for attribute, policy in dataset.small_groups.items()}
    favorable = served.decisions["favorable"].to_numpy(dtype=bool)
    values = drift.values + decision_mix(favorable, sensitive, report_only, limits, bootstrap)
    for shadow in shadows:
        values += shadow_disagreement(
            favorable, shadow.decisions["favorable"].to_numpy(dtype=bool), shadow.version, sensitive, limits,
            bootstrap,
        )  # fmt: skip
    return horizon_result(interval, values, drift.notes)


def level(value: MonitoredValue) -> str | None:
    """``critical``, ``warn`` or ``ok`` for a value, as the alerting classifies it; None when undefined or unlimited.

    The same rule as :func:`pipelines.governance.alerts.breach_of` (critical needs
    the whole interval beyond the limit), so a verdict never says critical where
    the alerting saw a warning.
    """
    if value.warn is None or value.critical is None or not math.isfinite(value.value):
        return None
    found = breach_of(value)
    return "ok" if found is None else found.severity


def _excess(value: MonitoredValue) -> float:
    """How far the value lies beyond its warning limit, relative to it (larger is worse)."""
    assert value.warn is not None
    gap = value.warn - value.value if value.direction == "min" else value.value - value.warn
    return gap / max(abs(value.warn), 1e-12)


def horizon_result(interval: str, values: list[MonitoredValue], notes: list[str]) -> dict[str, Any]:
    """A horizon's values with their levels, its verdict (the worst level) and its worst value."""
    rows = [{**value.to_dict(), "level": level(value)} for value in values]
    judged = [
        (LEVELS.index(row["level"]), _excess(value), row)
        for value, row in zip(values, rows, strict=True)
        if row["level"] is not None
    ]
    worst = max(judged, key=lambda item: (item[0], item[1]))[2] if judged else None
    undefined = [
        f"{row['metric']} {row['subject']}" for row in rows if row["level"] is None and row["warn"] is not None
    ]
    extra = [f"undefined (no verdict): {', '.join(undefined)}"] if undefined else []
    return {
        "interval": interval,
        "verdict": worst["level"] if worst is not None else "ok",
        "worst": worst,
        "values": rows,
        "notes": notes + extra,
    }


def _verdict(
    config: FairgateConfig,
    interval: str,
    champion: Any,
    served: ScoredFile,
    shadows: list[ScoredFile],
    data_hash: str,
    horizons: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """The whole verdict of the interval, keyed by everything that determines it."""
    settings = {
        "monitoring": config.monitoring.model_dump(mode="json", exclude={"experiment"}),
        "bootstrap": config.evaluation.bootstrap.model_dump(mode="json", exclude={"workers"}),
        "drift": {"significance": config.audit.drift.significance, "pseudo_count": config.audit.drift.pseudo_count},
    }
    inputs = {
        "interval": interval,
        "model_version": champion.version,
        "model_digest": champion.digest,
        "decisions_hash": served.decisions_hash,
        "data_hash": data_hash,
        "shadows": [{"model_version": s.version, "decisions_hash": s.decisions_hash} for s in shadows],
        "settings": settings,
    }
    digest = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:20]
    name = config.registry.model_name
    return {
        "model_name": name,
        **inputs,
        "decisions_file": served.relative,
        "scoring_audit_seq": served.audit_seq,
        "shadow_files": [s.relative for s in shadows],
        "key": f"monitoring:{name}:{interval}:{champion.version}:{digest}",
        "horizons": horizons,
        "verdict": max((h["verdict"] for h in horizons.values()), key=LEVELS.index),
    }
