"""``fairgate run`` on a project's own per-interval source, before Airflow starts (issue 15).

Without ``--interval`` the interval comes from the source, never the clock:
nothing new is said and exits 0; a source holding no interval, a one-off
version name for a monthly source, and a missing month are one line, exit 2.
None of these start Airflow.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.data import sources
from tests.conftest import make_project
from tests.own_sources import MONTHS, OWN_SOURCE_PROJECT, monthly_applications, write_monthly_files
from tests.projects import fairgate

FILES = {**OWN_SOURCE_PROJECT, "dataset.source": "files", "dataset.path": "applications/{interval}.parquet"}


@pytest.fixture
def files_project(tmp_path: Path) -> Path:
    project = make_project(tmp_path / "project", **FILES)
    write_monthly_files(project / "applications", monthly_applications())
    return project


def test_without_an_interval_an_already_accepted_latest_month_is_nothing_new(files_project: Path) -> None:
    batches = files_project / "dataset" / "batches"
    batches.mkdir(parents=True)
    (batches / f"{MONTHS[-1]}.parquet").write_bytes(b"accepted before")
    result = fairgate(files_project, "run")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == sources.NOTHING_NEW.format(
        interval=MONTHS[-1], how="accepted", where=f"dataset/batches/{MONTHS[-1]}.parquet"
    )
    assert not (files_project / ".airflow").exists()


def test_a_source_holding_no_interval_yet_is_one_line(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", **FILES)
    result = fairgate(project, "run")
    assert result.returncode == 2
    assert result.stderr.strip() == "fairgate: " + sources.ERR_NO_INTERVALS.format(
        pattern=project / "applications" / "*.parquet"
    )


def test_a_missing_month_is_one_line_before_airflow_starts(files_project: Path) -> None:
    result = fairgate(files_project, "run", "--interval", "2024-07")
    assert result.returncode == 2
    assert result.stderr.strip() == "fairgate: " + sources.ERR_NO_INTERVAL_FILE.format(
        interval="2024-07", location=files_project / "applications" / "2024-07.parquet"
    )
    assert not (files_project / ".airflow").exists()


@pytest.mark.parametrize("changes", [FILES, {}], ids=["files", "generator"])
def test_a_one_off_version_name_is_refused_by_a_monthly_source(tmp_path: Path, changes: dict) -> None:
    project = make_project(tmp_path / "project", **changes)
    result = fairgate(project, "run", "--interval", "data-0123456789ab")
    assert result.returncode == 2
    source = changes.get("dataset.source", "generator")
    assert result.stderr.strip() == "fairgate: " + sources.ERR_NOT_MONTH.format(
        source=source, interval="data-0123456789ab"
    )
