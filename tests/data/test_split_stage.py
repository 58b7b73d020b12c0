"""The split stage of ``retrain`` on the run dataset: data/ read once, the Arrow file gone after the split.

The stages run in-process on a temporary project, as Airflow's tasks call
them.  The split files are compared with the split made the old way from
``load_dataset`` (exact frames), with the run dataset present (the leakage
stage wrote it), absent (an attempt stopped after the leakage checks: data/
is read again), and refused when data.dvc records another data version.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pipelines.core.config import load_config
from pipelines.core.errors import BadInputError
from pipelines.core.project import ProjectPaths
from pipelines.data.dataset import load_dataset
from pipelines.data.run_dataset import run_dataset_path
from pipelines.data.split import holdout_mask
from pipelines.flows import retrain as stages
from pipelines.governance import registry
from tests.conftest import make_project

pytestmark = [pytest.mark.slow]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ProjectPaths:
    root = make_project(tmp_path / "project", **{"generator.rows_per_month": 600})
    monkeypatch.setenv("FAIRGATE_HOME", str(root))
    return ProjectPaths(root)


def _checked(airflow_run_id: str) -> stages.RunState:
    state = stages.run_reference(airflow_run_id, "retrain", "2026-01", {}, "tests:split-stage")
    for stage in (stages.ingest, stages.audit, stages.leakage):
        state = stage(state)
    return state


def _split_as_before(paths: ProjectPaths) -> dict[str, pd.DataFrame]:
    """The split the stage made before the run dataset: load_dataset, the mask, pandas selections."""
    config = load_config(paths.config_file)
    frame = load_dataset(paths, config)
    mask = holdout_mask(frame, config.dataset, config.split)
    return {"train_file": frame[~mask].reset_index(drop=True), "holdout_file": frame[mask].reset_index(drop=True)}


def _assert_same_split(paths: ProjectPaths, state: stages.RunState) -> None:
    for key, expected in _split_as_before(paths).items():
        pd.testing.assert_frame_equal(pd.read_parquet(state["split"][key]), expected, check_exact=True)


def test_the_split_reads_the_run_dataset_and_removes_it(project: ProjectPaths) -> None:
    state = _checked("manual__once")
    dataset_file = run_dataset_path(project.run_dir("manual__once"), state["ingested"]["data_hash"])
    assert dataset_file.is_file()  # written by the leakage stage
    state = stages.split(state)
    assert not dataset_file.exists() and not dataset_file.parent.exists()
    _assert_same_split(project, state)
    run = registry.connect(project).get_run(state["ingested"]["mlflow_run_id"])
    assert run.info.status == "RUNNING"
    inputs = {item.dataset.name: item for item in run.inputs.dataset_inputs}
    assert {name: item.dataset.digest for name, item in inputs.items()} == state["split"]["dataset_digests"]
    files = json.loads(inputs["training"].dataset.source)["files"]
    assert files == sorted(p.relative_to(project.data_dir).as_posix() for p in project.batches_dir.glob("*.parquet"))


def test_without_the_run_dataset_the_split_reads_data_again(project: ProjectPaths) -> None:
    state = _checked("manual__again")
    run_dataset_path(project.run_dir("manual__again"), state["ingested"]["data_hash"]).unlink()
    state = stages.split(state)
    _assert_same_split(project, state)


def test_without_the_run_dataset_another_data_version_is_refused(project: ProjectPaths) -> None:
    state = _checked("manual__moved")
    run_dataset_path(project.run_dir("manual__moved"), state["ingested"]["data_hash"]).unlink()
    pointer = yaml.safe_load(project.data_pointer.read_text(encoding="utf-8"))
    pointer["outs"][0]["md5"] = "0" * 32 + ".dir"
    project.data_pointer.write_text(yaml.safe_dump(pointer), encoding="utf-8")
    with pytest.raises(BadInputError, match="data/ changed since ingest"):
        stages.split(state)
