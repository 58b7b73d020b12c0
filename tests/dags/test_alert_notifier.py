"""The alert notifier's own checks, called with the task context Airflow hands a callback.

The notifier run by Airflow itself, as a callback of a real DAG run
(``airflow dags test``) on real outcomes of the automatic rollback, is in
``tests/e2e/test_auto_rollback.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"
sys.path.insert(0, str(DAGS))  # as Airflow does for the DAG folder

from alert_notifier import AlertNotifier, alert_line  # noqa: E402

from pipelines.core.monitored_values import MonitoredValue  # noqa: E402
from pipelines.governance.alerts import classify  # noqa: E402


def _outcome(values: list[MonitoredValue]) -> dict:
    """The shape act_on_alerts returns, for a result that moved nothing (ok / warn need no project)."""
    result = classify(values)
    return {
        "interval": "2026-05",
        **result.to_dict(),
        "evidence": [b.describe() for b in result.breaches],
        "action": "none" if result.verdict == "ok" else "notify",
        "notify": result.verdict != "ok",
        "rollback": None,
        "freeze": None,
        "retrain": {"requested": False, "interval": "2026-05", "reason": None},
        "alert_seq": None,
    }


def _ratio(value: float, low: float, high: float) -> MonitoredValue:
    return MonitoredValue("decision_time", "ethical", "demographic_parity_ratio", "gender", value, low, high,
                          0.85, 0.8, "min")


def test_the_notifier_refuses_a_bad_severity_and_a_forward_that_is_not_a_notifier():
    with pytest.raises(ValueError, match="min_severity must be one of ok, warn, critical, error, found 'loud'"):
        AlertNotifier(min_severity="loud")
    with pytest.raises(TypeError, match="forward_to must hold Airflow notifiers"):
        AlertNotifier(forward_to=[print])  # type: ignore[list-item]


class _TaskInstance:
    """What the notifier reads of Airflow's task instance: ids and ``xcom_pull`` (of the task's return value)."""

    dag_id, run_id, task_id, try_number = "monitor", "scheduled__2026-06-01", "act_on_alerts", 1

    def __init__(self, outcome: object) -> None:
        self.outcome = outcome

    def xcom_pull(self, task_ids: str) -> object:
        assert task_ids == self.task_id
        return self.outcome


def test_a_task_that_returned_no_outcome_is_an_error_line_not_a_silent_ok():
    line = alert_line({"ti": _TaskInstance(None)})
    assert line["severity"] == "error" and "no alert outcome in XCom (found NoneType)" in line["summary"]
    critical = _outcome([_ratio(0.6, 0.55, 0.66)])
    assert alert_line({"ti": _TaskInstance(critical)})["severity"] == "critical"


def test_the_default_file_is_the_configured_one_under_the_project(tmp_path, monkeypatch):
    import yaml

    raw = yaml.safe_load((REPO / "fairgate.yaml").read_text(encoding="utf-8"))
    raw["monitoring"]["alerts"]["notification_file"] = "var/elsewhere/alerts.jsonl"
    (tmp_path / "fairgate.yaml").write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    monkeypatch.setenv("FAIRGATE_HOME", str(tmp_path))
    AlertNotifier().notify({"ti": _TaskInstance(_outcome([_ratio(0.6, 0.55, 0.66)]))})
    written = (tmp_path / "var" / "elsewhere" / "alerts.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["severity"] for line in written] == ["critical"]
