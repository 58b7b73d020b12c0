"""Where a project's stores are: no project may read another's MLflow store."""

from __future__ import annotations

from pathlib import Path

import pipelines.core.project as project
from pipelines.core.project import ProjectPaths, tracking_uri


def test_an_exported_tracking_uri_does_not_send_a_second_project_to_the_first_store(monkeypatch, tmp_path: Path):
    monkeypatch.setattr(project, "_inherited_tracking_uri", project._UNREAD)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    first, second = ProjectPaths(tmp_path / "a"), ProjectPaths(tmp_path / "b")
    assert tracking_uri(first) == f"sqlite:///{first.mlflow_db}"
    # what mlflow.set_tracking_uri() does to the process environment
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{first.mlflow_db}")
    assert tracking_uri(second) == f"sqlite:///{second.mlflow_db}"


def test_production_sets_the_tracking_uri_before_start(monkeypatch, tmp_path: Path):
    monkeypatch.setattr(project, "_inherited_tracking_uri", project._UNREAD)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.internal:5000")
    assert tracking_uri(ProjectPaths(tmp_path)) == "http://mlflow.internal:5000"


def test_the_code_root_holds_the_dags_and_the_plugins(tmp_path: Path):
    """The DAG and plugin folders Airflow is pointed at are the repository's own (not inside the package)."""
    paths = ProjectPaths(tmp_path)
    assert (paths.dags_dir / "retrain.py").is_file(), paths.dags_dir
    assert (paths.dags_dir / "governed_dag.py").is_file(), paths.dags_dir
    assert (paths.plugins_dir / "README.md").is_file(), paths.plugins_dir
    assert (project.CODE_ROOT / "pyproject.toml").is_file(), project.CODE_ROOT
