"""The quarantine on a real DVC project, without Airflow: a refused batch leaves data/, nothing is lost.

Each test builds a small project (git, DVC, a local remote), versions two
accepted months, then plays what ``ingest`` and a refusing check do through
:mod:`pipelines.data.quarantine`, and checks ``data.dvc``, ``data/``, the
quarantine and its record.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from pipelines.core.errors import BlockedError
from pipelines.core.project import ProjectPaths
from pipelines.data import quarantine, versioning
from tests.conftest import make_project

RUN = "manual__2026-03-01T00:00:00+00:00"


def _month(month: str, rows: int = 40, shift: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame({
        "application_id": [f"A{month}-{i:04d}" for i in range(rows)],
        "income": [1000.0 + i + shift for i in range(rows)],
        "defaulted": [i % 2 for i in range(rows)],
    })


@pytest.fixture
def project(tmp_path: Path) -> ProjectPaths:
    paths = ProjectPaths(make_project(tmp_path / "project"))
    for month in ("2025-10", "2025-11"):
        paths.batches_dir.mkdir(parents=True, exist_ok=True)
        _month(month).to_parquet(paths.batches_dir / f"{month}.parquet", index=False)
    versioning.version_data(paths)
    return paths


def _ingest(
    paths: ProjectPaths, interval: str, frame: pd.DataFrame, name: str, run: str = RUN
) -> quarantine.PendingBatch:
    """What ingest does: mark the batch pending with the accepted pointer, write it, version data/."""
    relative = f"data/batches/{name}"
    staged = paths.root / "staged.parquet"
    frame.to_parquet(staged, index=False)
    pending = quarantine.PendingBatch(
        interval, relative, versioning.file_md5(staged), run, quarantine.previous_pointer(paths, relative)
    )
    quarantine.mark_pending(paths, pending)
    staged.replace(paths.root / relative)
    versioning.version_data(paths)
    return pending


def test_a_refused_new_month_leaves_data_dvc_as_accepted_once_however_often_retried(
    project: ProjectPaths,
) -> None:
    accepted_pointer = project.data_pointer.read_text(encoding="utf-8")
    accepted_hash = versioning.recorded_data_hash(project)
    pending = _ingest(project, "2026-02", _month("2025-12", shift=500.0), "2025-12.parquet")
    assert versioning.recorded_data_hash(project) != accepted_hash  # the audit read a versioned batch

    record, quarantine_hash = quarantine.quarantine_batch(
        project, pending, "audit", ["drift [income]: moved"], "mlflow-run-1"
    )

    assert project.data_pointer.read_text(encoding="utf-8") == accepted_pointer
    assert versioning.recorded_data_hash(project) == accepted_hash == record["accepted_data_hash"]
    assert versioning.data_is_current(project)
    assert sorted(p.name for p in project.batches_dir.iterdir()) == ["2025-10.parquet", "2025-11.parquet"]
    kept = project.root / record["file"]
    assert kept == project.quarantine_dir / "2026-02" / pending.batch_md5 / "2025-12.parquet"
    assert versioning.file_md5(kept) == pending.batch_md5
    on_disk = json.loads((project.root / record["record"]).read_text(encoding="utf-8"))
    assert on_disk["stage"] == "audit" and on_disk["findings"] == ["drift [income]: moved"]
    assert on_disk["airflow_run_id"] == RUN and on_disk["mlflow_run_id"] == "mlflow-run-1"
    assert versioning.pointer_hash(project.quarantine_pointer) == quarantine_hash
    assert quarantine.pending_batch(project) is None

    # a retried task: the batch already moved, the record already written
    again, again_hash = quarantine.quarantine_batch(project, pending, "audit", ["drift [income]: moved"], "m-1")
    assert again == record and again_hash == quarantine_hash
    assert len(quarantine.records(project)) == 1
    assert versioning.recorded_data_hash(project) == accepted_hash

    # a deliberate re-ingest of the same bytes by another run, refused again: one record, listing both
    forced = _ingest(project, "2026-02", _month("2025-12", shift=500.0), "2025-12.parquet", run="forced-run")
    record, _ = quarantine.quarantine_batch(project, forced, "audit", ["drift again"], "m-2")
    assert [r["airflow_run_id"] for r in record["refused_again"]] == ["forced-run"]
    assert len(quarantine.records(project)) == 1
    assert versioning.recorded_data_hash(project) == accepted_hash
    assert not (project.batches_dir / "2025-12.parquet").exists()
    assert quarantine.pending_batch(project) is None

    # nothing lost: the quarantine comes back from the DVC remote alone
    shutil.rmtree(project.quarantine_dir)
    shutil.rmtree(project.root / ".dvc" / "cache")
    versioning.run_dvc(project, "pull", "--quiet", "quarantine.dvc")
    assert versioning.file_md5(kept) == pending.batch_md5
    assert json.loads((project.root / record["record"]).read_text(encoding="utf-8")) == record


def test_a_refused_batch_that_replaced_an_accepted_month_gives_the_accepted_month_back(
    project: ProjectPaths,
) -> None:
    accepted_hash = versioning.recorded_data_hash(project)
    accepted_bytes = (project.batches_dir / "2025-11.parquet").read_bytes()
    pending = _ingest(project, "2026-01", _month("2025-11", shift=900.0), "2025-11.parquet")
    assert (project.batches_dir / "2025-11.parquet").read_bytes() != accepted_bytes

    quarantine.quarantine_batch(project, pending, "leakage", ["label_copy [flag]: copies the label"], "run-2")

    assert versioning.recorded_data_hash(project) == accepted_hash
    assert (project.batches_dir / "2025-11.parquet").read_bytes() == accepted_bytes


def test_an_accepted_batch_stays_and_an_unchecked_one_refuses_the_next_ingest(project: ProjectPaths) -> None:
    _ingest(project, "2026-02", _month("2025-12"), "2025-12.parquet")
    with_batch = versioning.recorded_data_hash(project)
    quarantine.clear_pending(project, RUN)  # the leakage checks passed
    assert quarantine.pending_batch(project) is None
    assert (project.batches_dir / "2025-12.parquet").is_file()
    assert versioning.recorded_data_hash(project) == with_batch
    assert quarantine.records(project) == []

    accepted_pointer = project.data_pointer.read_text(encoding="utf-8")
    _ingest(project, "2026-03", _month("2026-01"), "2026-01.parquet", run="crashed-run")
    with pytest.raises(BlockedError, match="2026-01.parquet of interval 2026-03 .run crashed-run. was added to data/"):
        quarantine.previous_pointer(project, "data/batches/2026-02.parquet")
    # the same batch again (a retry, a re-run of that interval) replaces it, keeping the accepted pointer
    assert quarantine.previous_pointer(project, "data/batches/2026-01.parquet") == accepted_pointer


def test_a_quarantine_stopped_half_way_is_finished_by_the_next_look_at_it(
    project: ProjectPaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    accepted_hash = versioning.recorded_data_hash(project)
    pending = _ingest(project, "2026-02", _month("2025-12", shift=500.0), "2025-12.parquet")

    def killed(*args: object) -> None:
        raise OSError("worker killed")

    monkeypatch.setattr(quarantine.versioning, "version_folder", killed)
    with pytest.raises(OSError, match="worker killed"):
        quarantine.quarantine_batch(project, pending, "audit", ["drift"], "m-1")
    monkeypatch.undo()
    [record] = quarantine.records(project)  # written, the batch moved, but data.dvc still holds it
    assert versioning.recorded_data_hash(project) != accepted_hash
    assert quarantine.pending_batch(project) == pending

    quarantine.finish_interrupted(project)

    assert not (project.batches_dir / "2025-12.parquet").exists()
    assert versioning.file_md5(project.root / record["file"]) == pending.batch_md5
    assert versioning.recorded_data_hash(project) == accepted_hash
    assert quarantine.pending_batch(project) is None
