"""``fairgate monitor --interval``: the champion's scored decisions of an interval, watched and recorded once.

One real ``fairgate run`` promotes version 1 of a small generated project and
``fairgate score`` decides one interval; ``fairgate monitor`` then writes the
verdict, logs one MLflow run of the monitoring experiment linked to version
1, appends one ``monitoring`` audit entry, and does nothing twice.  An
interval the champion did not score is bad input (exit 2, one line); a
decisions file changed after scoring is an integrity alarm (exit 1).
"""

from __future__ import annotations

import json
from pathlib import Path

import mlflow.sklearn
import pandas as pd
import pytest

from pipelines.core.config import load_config
from pipelines.core.project import ProjectPaths
from pipelines.governance import tags
from pipelines.governance.records import version_entries
from tests.conftest import make_project
from tests.projects import MODEL, champion_version, client_for, fairgate

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TRAINED, SCORED = "2026-01", "2026-02"


@pytest.fixture(scope="module")
def project(session_root: Path) -> Path:
    root = make_project(session_root / "monitor-project", **{"generator.rows_per_month": 600})
    for command in (("run", "--interval", TRAINED), ("score", "--interval", SCORED)):
        result = fairgate(root, *command)
        assert result.returncode == 0, result.stdout + result.stderr
    assert champion_version(root) == "1"
    return root


@pytest.fixture(scope="module")
def monitored(project: Path) -> dict:
    result = fairgate(project, "monitor", "--interval", SCORED)
    verdict_file = project / "var" / "monitoring" / f"interval={SCORED}" / "champion-v1.json"
    assert verdict_file.is_file(), result.stdout + result.stderr
    verdict = json.loads(verdict_file.read_text(encoding="utf-8"))
    return {"result": result, "verdict": verdict, "file": verdict_file, "bytes": verdict_file.read_bytes()}


def _monitoring_entries(project: Path) -> list:
    paths = ProjectPaths(project)
    return [e for e in version_entries(paths, load_config(paths.config_file)) if e.kind == "monitoring"]


def _monitoring_runs(project: Path) -> list:
    client = client_for(project)
    experiment = client.get_experiment_by_name(load_config(project / "fairgate.yaml").monitoring.experiment)
    assert experiment is not None
    return client.search_runs([experiment.experiment_id])


def test_monitor_measures_the_decision_time_horizon(project: Path, monitored: dict) -> None:
    verdict, result = monitored["verdict"], monitored["result"]
    assert result.returncode == (1 if verdict["verdict"] == "critical" else 0), result.stdout + result.stderr
    assert f"interval {SCORED}: champion version 1: {verdict['verdict'].upper()}" in result.stdout
    horizon = verdict["horizons"]["decision_time"]
    values = horizon["values"]
    config = load_config(project / "fairgate.yaml")
    # every feature of the champion and every group of every sensitive attribute, against its training data
    drifted = {row["subject"] for row in values if row["family"] == "drift" and row["metric"] in ("ks", "psi")}
    client_for(project)  # the project's own MLflow store
    assert drifted == set(mlflow.sklearn.load_model(f"models:/{MODEL}@champion").feature_names_in_)
    shares = {row["subject"] for row in values if row["metric"] == "group_share_shift"}
    assert {s.split("=")[0] for s in shares} == set(config.dataset.sensitive)
    assert any("training rows of champion version 1" in note for note in horizon["notes"])
    # the decisions actually made: exactly those of the scored file, with the gate's bootstrap interval
    decisions = pd.read_parquet(project / "var" / "scores" / f"interval={SCORED}" / "champion-v1.parquet")
    (overall,) = [r for r in values if r["metric"] == "approval_rate" and r["subject"] == "overall"]
    assert overall["value"] == decisions["favorable"].mean()
    assert overall["low"] < overall["value"] < overall["high"]
    ratios = [r for r in values if r["metric"] == "demographic_parity_ratio"]
    assert [r["subject"] for r in ratios] == list(config.dataset.sensitive)
    assert ratios[0]["critical"] == config.monitoring.decision_time.demographic_parity_ratio.critical
    levels = ("ok", "warn", "critical")
    assert verdict["verdict"] == max((h["verdict"] for h in verdict["horizons"].values()), key=levels.index)


def test_all_three_horizons_and_the_alerts(project: Path, monitored: dict) -> None:
    verdict = monitored["verdict"]
    assert list(verdict["horizons"]) == ["decision_time", "estimated", "realised"]
    estimated, realised = verdict["horizons"]["estimated"], verdict["horizons"]["realised"]
    assert {row["horizon"] for row in estimated["values"]} == {"estimated"}
    assert any(r["metric"] == "roc_auc" and r["subject"] == "overall" for r in estimated["values"])
    # the generator hands over applications whose outcomes matured: the realised horizon measures at once
    assert any("label share 100.0%" in note for note in realised["notes"])
    assert any(r["metric"] == "roc_auc" for r in realised["values"])
    alerts = verdict["alerts"]
    assert alerts["verdict"] == verdict["verdict"]
    assert alerts["action"] == {"ok": "none", "warn": "notify"}.get(verdict["verdict"], alerts["action"])
    assert "alerts: " in monitored["result"].stdout


def test_one_mlflow_run_linked_to_the_champion(project: Path, monitored: dict) -> None:
    verdict = monitored["verdict"]
    (run,) = _monitoring_runs(project)
    assert run.info.run_name == f"monitor {SCORED} · champion v1 · {verdict['verdict']}"
    assert run.info.status == "FINISHED"
    run_tags = run.data.tags
    assert run_tags[tags.MONITORED_MODEL] == MODEL and run_tags[tags.MONITORED_VERSION] == "1"
    assert run_tags[tags.MONITORING_INTERVAL] == SCORED and run_tags[tags.MONITORING_VERDICT] == verdict["verdict"]
    assert run_tags[tags.MONITORING_KEY] == verdict["key"]
    assert "decision_time/decisions/approval_rate/overall" in run.data.metrics
    client = client_for(project)
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"verdict.json", "summary.md", "plots"} <= artifacts
    plots = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
    assert {"plots/drift.png", "plots/decisions.png", "plots/ethical.png"} <= plots
    summary = Path(client.download_artifacts(run.info.run_id, "summary.md")).read_text(encoding="utf-8")
    assert summary.startswith(f"# Monitoring {SCORED}: champion v1: {verdict['verdict'].upper()}")


def test_one_audit_entry_and_nothing_twice(project: Path, monitored: dict) -> None:
    (entry,) = _monitoring_entries(project)
    verdict = monitored["verdict"]
    assert entry.actor == "fairgate:monitor" and str(entry.model_version) == "1"
    assert entry.payload["verdict"] == verdict["verdict"]
    assert entry.payload["horizons"]["decision_time"]["interval"] == SCORED
    assert entry.payload["mlflow_run_id"] == _monitoring_runs(project)[0].info.run_id
    again = fairgate(project, "monitor", "--interval", SCORED)
    assert again.returncode == monitored["result"].returncode, again.stdout + again.stderr
    assert "already recorded" in again.stdout
    assert monitored["file"].read_bytes() == monitored["bytes"]
    assert len(_monitoring_entries(project)) == 1 and len(_monitoring_runs(project)) == 1
    status = fairgate(project, "status")
    assert f"decision_time  interval={SCORED} champion=v1 {verdict['verdict'].upper()}" in status.stdout


def test_an_unscored_interval_is_refused_in_one_line(project: Path, monitored: dict) -> None:
    result = fairgate(project, "monitor", "--interval", "2026-05")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "fairgate: interval 2026-05 was not scored by champion version 1: no "
        "var/scores/interval=2026-05/champion-v1.parquet (run: fairgate score --interval 2026-05)"
    ]
    assert not (project / "var" / "monitoring" / "interval=2026-05").exists()


def test_decisions_changed_after_scoring_are_an_integrity_alarm(project: Path, monitored: dict) -> None:
    scored = project / "var" / "scores" / f"interval={SCORED}" / "champion-v1.parquet"
    original = scored.read_bytes()
    decisions = pd.read_parquet(scored)
    decisions.loc[0, "favorable"] = not decisions.loc[0, "favorable"]
    decisions.to_parquet(scored, index=False)
    try:
        result = fairgate(project, "monitor", "--interval", SCORED)
    finally:
        scored.write_bytes(original)
    assert result.returncode == 1
    assert "no longer match the scoring entry that recorded them" in result.stderr
    assert len(_monitoring_entries(project)) == 1


def test_the_monitor_dag_makes_the_same_call_and_notifies(project: Path, monitored: dict) -> None:
    """The DAG's task and the command are one event; the notifier on the task writes the severe outcome."""
    notifications = project / "var" / "alerts" / "notifications.jsonl"
    before = notifications.read_text(encoding="utf-8").splitlines() if notifications.is_file() else []
    scheduled = fairgate(project, "airflow", "dags", "test", "monitor", "-c", json.dumps({"interval": SCORED}))
    assert scheduled.returncode == 0, scheduled.stdout[-3000:] + scheduled.stderr[-3000:]
    assert monitored["file"].read_bytes() == monitored["bytes"]
    assert len(_monitoring_entries(project)) == 1 and len(_monitoring_runs(project)) == 1
    lines = notifications.read_text(encoding="utf-8").splitlines() if notifications.is_file() else []
    verdict = monitored["verdict"]["verdict"]
    if verdict == "ok":
        assert lines == before  # an ok interval notifies nobody
    else:
        (line,) = [json.loads(text) for text in lines[len(before):]]
        assert line["severity"] == verdict and line["dag_id"] == "monitor" and line["interval"] == SCORED
