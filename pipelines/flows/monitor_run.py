"""Publishing a monitoring verdict: the JSON file, one MLflow run of ``monitoring.experiment``, one audit entry.

The MLflow run is named for people (``monitor 2025-01 · champion v2 · warn``)
and tagged with the model name, the champion version, the interval, the
verdict and the key of the verdict; its metrics carry the champion's logged
model id, so they also show on the model's page.  Its artifacts: the verdict
(``verdict.json``), a Markdown summary (``summary.md``) and one PNG per metric
family (``plots/<family>.png``) showing every interval monitored so far
(read back from ``var/monitoring``), bootstrap intervals shaded.

One key, one event: a second call with the same key finds the finished run
and logs nothing, and the audit entry is appended once.
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
import time
from pathlib import Path
from typing import Any

from mlflow.entities import Metric, RunStatus

from pipelines.core.config import FairgateConfig
from pipelines.core.project import ProjectPaths
from pipelines.flows.monitor import ACTOR, LEVELS, verdict_file, write_verdict
from pipelines.governance import records, registry, tags
from pipelines.reports.monitoring import families, plot_family, summary_markdown

logger = logging.getLogger(__name__)

_METRIC_NAME = re.compile(r"[^\w./\- ]")
_METRICS_PER_BATCH = 1000


def publish(paths: ProjectPaths, config: FairgateConfig, verdict: dict[str, Any]) -> dict[str, Any]:
    """Write the verdict, log it to its MLflow run (once) and append its ``monitoring`` entry (once)."""
    written = write_verdict(paths, verdict)
    relative = written.relative_to(paths.root).as_posix()
    run_id = _log_run(paths, config, verdict)
    payload = {
        "interval": verdict["interval"],
        "model_version": verdict["model_version"],
        "model_digest": verdict["model_digest"],
        "decisions_hash": verdict["decisions_hash"],
        "data_hash": verdict["data_hash"],
        "shadows": verdict["shadows"],
        "verdict": verdict["verdict"],
        "horizons": {name: _horizon_record(horizon) for name, horizon in verdict["horizons"].items()},
        "alerts": {key: verdict["alerts"].get(key) for key in ("action", "alert_seq", "summary")},
        "file": relative,
        "mlflow_run_id": run_id,
        "summary": f"interval {verdict['interval']}: champion v{verdict['model_version']} monitored: "
        + "; ".join(f"{name} {h['verdict']}" for name, h in verdict["horizons"].items()),
    }
    with records.open_audit_log(paths, config) as log:
        last_seq = max((e.seq for e in log.entries()), default=0)
        entry = records.append_event(
            log, config, "monitoring", ACTOR, payload, verdict["key"], model_version=verdict["model_version"]
        )
    logger.info("interval %s monitored: %s (audit entry %d)", verdict["interval"], verdict["verdict"], entry.seq)
    return {
        **verdict,
        "file": relative,
        "mlflow_run_id": run_id,
        "audit_seq": entry.seq,
        "already_recorded": entry.seq <= last_seq,
    }


def _horizon_record(horizon: dict[str, Any]) -> dict[str, Any]:
    """What the audit entry keeps of a horizon: its interval, verdict, worst value and breach counts."""
    counts = {name: sum(1 for row in horizon["values"] if row["level"] == name) for name in LEVELS[1:]}
    worst = horizon["worst"]
    return {
        "interval": horizon["interval"],
        "verdict": horizon["verdict"],
        "breaches": counts,
        "worst": None
        if worst is None
        else {
            k: worst[k] for k in ("family", "metric", "subject", "value", "low", "high", "warn", "critical", "level")
        },
    }


def run_name(verdict: dict[str, Any]) -> str:
    """The MLflow run's name: ``monitor <interval> · champion v<version> · <verdict>``."""
    return f"monitor {verdict['interval']} · champion v{verdict['model_version']} · {verdict['verdict']}"


def _log_run(paths: ProjectPaths, config: FairgateConfig, verdict: dict[str, Any]) -> str:
    """The finished MLflow run of this verdict's key, created and filled once."""
    client = registry.connect(paths)
    experiment_id = registry.ensure_experiment(client, paths, config.monitoring.experiment)
    found = client.search_runs(
        [experiment_id], filter_string=f"tags.`{tags.MONITORING_KEY}` = '{verdict['key']}'", max_results=1
    )
    if found and found[0].info.status == RunStatus.to_string(RunStatus.FINISHED):
        return str(found[0].info.run_id)
    run_tags = {
        tags.MONITORING_KEY: verdict["key"],
        tags.MONITORING_INTERVAL: verdict["interval"],
        tags.MONITORING_VERDICT: verdict["verdict"],
        tags.MONITORED_MODEL: verdict["model_name"],
        tags.MONITORED_VERSION: str(verdict["model_version"]),
        tags.DATA_HASH: verdict["data_hash"],
        "mlflow.note.content": registry.tag_value(_description(verdict)),
    }
    run_id = (
        str(found[0].info.run_id)
        if found
        else str(client.create_run(experiment_id, run_name=run_name(verdict), tags=run_tags).info.run_id)
    )
    version = registry.get_version(client, verdict["model_name"], str(verdict["model_version"]))
    model_id = getattr(version, "model_id", None)
    stamp = int(time.time() * 1000)
    metrics = [
        Metric(metric_key(horizon, row), float(row["value"]), stamp, 0, model_id=model_id)
        for horizon, content in verdict["horizons"].items()
        for row in content["values"]
        if row["value"] is not None and row["value"] == row["value"]
    ]
    for start in range(0, len(metrics), _METRICS_PER_BATCH):
        client.log_batch(run_id, metrics=metrics[start : start + _METRICS_PER_BATCH])
    with tempfile.TemporaryDirectory(prefix="fairgate-monitor-run-") as folder:
        root = Path(folder)
        (root / "plots").mkdir()
        (root / "verdict.json").write_text(
            verdict_file(paths, verdict["interval"], str(verdict["model_version"])).read_text(encoding="utf-8"),
            encoding="utf-8",
        )
        (root / "summary.md").write_text(summary_markdown(verdict), encoding="utf-8")
        history = monitoring_history(paths, verdict)
        for family in families(verdict):
            plot_family(history, family, root / "plots" / f"{family}.png")
        client.log_artifacts(run_id, str(root))
    client.set_terminated(run_id, RunStatus.to_string(RunStatus.FINISHED))
    return run_id


def _description(verdict: dict[str, Any]) -> str:
    """The run's description: the verdict first."""
    horizons = "; ".join(
        f"{name}: {h['verdict']}"
        + (
            ""
            if h["worst"] is None
            else f" (worst: {h['worst']['metric']} {h['worst']['subject']} {h['worst']['value']:.4g})"
        )
        for name, h in verdict["horizons"].items()
    )
    return (
        f"{verdict['verdict'].upper()}: monitoring of interval {verdict['interval']}, champion "
        f"{verdict['model_name']} v{verdict['model_version']}. {horizons}"
    )


def metric_key(horizon: str, row: dict[str, Any]) -> str:
    """The MLflow metric name of one value: ``<horizon>/<family>/<metric>/<subject>`` (MLflow's characters only)."""
    subject = str(row["subject"]).replace("=", "/")
    return _METRIC_NAME.sub("_", f"{horizon}/{row['family']}/{row['metric']}/{subject}")


def monitoring_history(paths: ProjectPaths, verdict: dict[str, Any]) -> list[dict[str, Any]]:
    """The verdicts written so far for this model, one per interval (this one for its own interval).

    An interval monitored under several champions shows the one written last.
    """
    latest: dict[str, tuple[float, dict[str, Any]]] = {}
    for path in (paths.root / "var" / "monitoring").glob("interval=*/champion-v*.json"):
        earlier = json.loads(path.read_text(encoding="utf-8"))
        if earlier.get("model_name") != verdict["model_name"]:
            continue
        stamp = path.stat().st_mtime
        if earlier["interval"] not in latest or stamp > latest[earlier["interval"]][0]:
            latest[earlier["interval"]] = (stamp, earlier)
    chosen = {interval: item[1] for interval, item in latest.items()}
    chosen[verdict["interval"]] = json.loads(
        verdict_file(paths, verdict["interval"], str(verdict["model_version"])).read_text(encoding="utf-8")
    )
    return [chosen[interval] for interval in sorted(chosen)]
