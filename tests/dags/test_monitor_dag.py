"""The monitor DAG: scheduled on the score DAG's Asset, one monitoring task with the notifier, the retrain path."""

from __future__ import annotations

from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def monitor_dag():
    from airflow.dag_processing.dagbag import BundleDagBag

    bag = BundleDagBag(dag_folder=str(DAGS), bundle_path=DAGS)
    assert bag.import_errors == {}, bag.import_errors
    return bag.dags["monitor"]


def test_monitor_runs_after_each_scoring(monitor_dag) -> None:
    from airflow.sdk import Asset

    scores = Asset(name="fairgate_scores", uri="fairgate://var/scores", group="fairgate")
    assert list(monitor_dag.timetable.asset_condition.objects) == [scores]
    interval = monitor_dag.params.get_param("interval")
    assert interval.resolve("2025-01") == "2025-01" and interval.resolve(None) is None


def test_the_notifier_hears_every_end_of_the_monitoring_task(monitor_dag) -> None:
    from alert_notifier import AlertNotifier

    task = monitor_dag.get_task("monitor_decisions")
    for callbacks in (task.on_success_callback, task.on_failure_callback):
        assert any(isinstance(callback, AlertNotifier) for callback in callbacks)


def test_a_critical_breach_opens_the_retrain_path_once(monitor_dag) -> None:
    assert monitor_dag.get_task("monitor_decisions").downstream_task_ids == {"retrain_requested"}
    trigger = monitor_dag.get_task("open_retrain_path")
    assert trigger.upstream_task_ids == {"retrain_requested"}
    assert trigger.trigger_dag_id == "retrain"
    assert trigger.trigger_run_id == "retrain_on_alert__{{ run_id }}"
    assert trigger.skip_when_already_exists is True
