"""The score DAG updates the ``fairgate_scores`` Asset, so monitoring can be scheduled on each scoring."""

from __future__ import annotations

from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def score_dag():
    from airflow.dag_processing.dagbag import BundleDagBag

    bag = BundleDagBag(dag_folder=str(DAGS), bundle_path=DAGS)
    assert bag.import_errors == {}, bag.import_errors
    return bag.dags["score"]


def test_the_scoring_task_declares_the_scores_asset_as_its_outlet(score_dag) -> None:
    from airflow.sdk import Asset

    (task,) = score_dag.tasks
    assets = [outlet for outlet in task.outlets if isinstance(outlet, Asset)]
    assert [(a.name, a.uri) for a in assets] == [("fairgate_scores", "fairgate://var/scores")]


def test_a_dag_scheduled_on_the_asset_by_name_is_triggered_by_it(score_dag) -> None:
    """What the monitor DAG does: ``schedule=[SCORES]`` names the same Asset the score task updates."""
    from airflow.sdk import DAG, Asset
    from governed_dag import SCORES  # the DAG folder is on sys.path once the bag is built

    consumer = DAG("consumer_probe", schedule=[SCORES])
    (outlet,) = score_dag.tasks[0].outlets
    assert outlet == SCORES == Asset(name="fairgate_scores", uri="fairgate://var/scores", group="fairgate")
    assert list(consumer.timetable.asset_condition.objects) == [outlet]


def test_the_asset_event_names_the_interval_and_every_file() -> None:
    from pipelines.flows.score import asset_extra

    scored = {
        "interval": "2026-01", "model_version": "3", "file": "var/scores/interval=2026-01/champion-v3.parquet",
        "shadows": [{"model_version": "4", "shadow_reason": "blocked only on non-regression",
                     "file": "var/scores/interval=2026-01/shadow-v4.parquet"}],
    }
    assert asset_extra(scored) == {
        "interval": "2026-01",
        "champion": {"version": "3", "file": "var/scores/interval=2026-01/champion-v3.parquet"},
        "shadows": [{"version": "4", "reason": "blocked only on non-regression",
                     "file": "var/scores/interval=2026-01/shadow-v4.parquet"}],
    }
