"""The audit's reference in ``retrain``: the champion's training data, found by lineage in a real DVC repo.

A temporary project (git, DVC, a local DVC remote) versions two months of
generated data (what the champion trained on), then a third (the new batch).
The champion's ``fairgate.data_hash`` leads to its data through the DVC
cache, or the remote when the cache lacks it; no champion falls back to the
data before the batch, and says so; a broken lineage is an error.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from pipelines.core.config import GeneratorSettings
from pipelines.core.errors import BadInputError
from pipelines.core.project import ProjectPaths
from pipelines.data.generator import generate_month
from pipelines.data.versioning import version_data
from pipelines.governance.lineage import (
    ERR_DATA_VERSION_MISSING,
    ERR_NO_DATA_HASH,
    NOTE_CHAMPION,
    NOTE_FIRST_RUN,
    NOTE_NO_CHAMPION,
    NOTE_PREVIOUS_VERSION,
    NOTE_REPLACED,
    ChampionLineage,
    audit_reference,
    champion_lineage,
)
from tests.conftest import make_project

MODEL = "fairgate-credit-default"
SETTINGS = GeneratorSettings(rows_per_month=200)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[ProjectPaths, str]:
    """The champion's data version (2024-01, 2024-02, pushed to the remote), then the new batch 2024-03."""
    paths = ProjectPaths(make_project(tmp_path_factory.mktemp("lineage") / "project"))
    paths.batches_dir.mkdir(parents=True)
    for month in ("2024-01", "2024-02"):
        generate_month(month, SETTINGS).frame.to_parquet(paths.batches_dir / f"{month}.parquet", index=False)
    champion_hash = version_data(paths)
    generate_month("2024-03", SETTINGS).frame.to_parquet(paths.batches_dir / "2024-03.parquet", index=False)
    return paths, champion_hash


def _months(*months: str) -> pd.DataFrame:
    return pd.concat([generate_month(m, SETTINGS).frame for m in months], ignore_index=True)


def _before(paths: ProjectPaths, batch: Path) -> list[Path]:
    return [f for f in sorted(paths.batches_dir.glob("*.parquet")) if f != batch]


def test_the_reference_is_the_champions_training_data(project: tuple[ProjectPaths, str]) -> None:
    paths, champion_hash = project
    batch = paths.batches_dir / "2024-03.parquet"
    reference = audit_reference(paths, "generator", MODEL, ChampionLineage("1", champion_hash), batch, [])
    assert (reference.source, reference.earlier) == ("champion", True)
    assert reference.files == ["batches/2024-01.parquet", "batches/2024-02.parquet"]
    pd.testing.assert_frame_equal(reference.frame, _months("2024-01", "2024-02"))
    assert reference.notes == [NOTE_CHAMPION.format(version="1", data_hash=champion_hash, files=2, rows=400)]


def test_a_month_the_batch_replaces_is_left_out(project: tuple[ProjectPaths, str]) -> None:
    paths, champion_hash = project
    batch = paths.batches_dir / "2024-02.parquet"  # re-ingested: the champion's copy of it is not a reference
    reference = audit_reference(paths, "generator", MODEL, ChampionLineage("1", champion_hash), batch, [])
    assert reference.files == ["batches/2024-01.parquet"]
    assert reference.notes == [
        NOTE_CHAMPION.format(version="1", data_hash=champion_hash, files=1, rows=200),
        NOTE_REPLACED.format(relpath="batches/2024-02.parquet"),
    ]


def test_a_whole_dataset_replaced_has_its_previous_version_as_reference(
    project: tuple[ProjectPaths, str],
) -> None:
    paths, champion_hash = project
    batch = paths.batches_dir / "2024-02.parquet"
    reference = audit_reference(paths, "file", MODEL, ChampionLineage("1", champion_hash), batch, [])
    assert (reference.source, reference.earlier) == ("champion", False)
    assert reference.files == ["batches/2024-01.parquet", "batches/2024-02.parquet"]
    assert NOTE_PREVIOUS_VERSION in reference.notes


def test_the_data_comes_back_from_the_remote_when_the_cache_lost_it(
    project: tuple[ProjectPaths, str],
) -> None:
    paths, champion_hash = project
    shutil.rmtree(paths.root / ".dvc" / "cache")
    batch = paths.batches_dir / "2024-03.parquet"
    reference = audit_reference(paths, "generator", MODEL, ChampionLineage("1", champion_hash), batch, [])
    pd.testing.assert_frame_equal(reference.frame, _months("2024-01", "2024-02"))
    assert (paths.root / ".dvc" / "cache" / "files" / "md5" / champion_hash[:2] / champion_hash[2:]).is_file()


def test_a_broken_lineage_is_an_error_never_another_reference(project: tuple[ProjectPaths, str]) -> None:
    paths, _ = project
    batch = paths.batches_dir / "2024-03.parquet"
    gone = "0123456789abcdef0123456789abcdef.dir"
    with pytest.raises(BadInputError) as error:
        audit_reference(paths, "generator", MODEL, ChampionLineage("4", gone), batch, _before(paths, batch))
    assert str(error.value) == ERR_DATA_VERSION_MISSING.format(
        version="4", data_hash=gone, problem="its manifest could not be fetched"
    )
    with pytest.raises(BadInputError) as error:
        audit_reference(paths, "generator", MODEL, ChampionLineage("5", None), batch, _before(paths, batch))
    assert str(error.value) == ERR_NO_DATA_HASH.format(version="5", model=MODEL, tag="fairgate.data_hash")


def test_without_a_champion_the_fallback_is_explicit(project: tuple[ProjectPaths, str]) -> None:
    paths, _ = project
    batch = paths.batches_dir / "2024-03.parquet"
    reference = audit_reference(paths, "generator", MODEL, None, batch, _before(paths, batch))
    assert reference.source == "data_before_batch"
    assert reference.notes == [NOTE_NO_CHAMPION.format(model=MODEL, files=2, rows=400)]
    first = audit_reference(paths, "generator", MODEL, None, batch, [])
    assert (first.frame, first.source, first.notes) == (None, "none", [NOTE_FIRST_RUN.format(model=MODEL)])


class _Registry:
    """The two calls ``pipelines.governance.registry.champion`` makes of an MLflow client."""

    def __init__(self, aliases: dict[str, str], tags: dict[str, str]) -> None:
        self.aliases, self.tags = aliases, tags

    def get_registered_model(self, name: str) -> SimpleNamespace:
        return SimpleNamespace(aliases=self.aliases)

    def get_model_version(self, name: str, version: str) -> SimpleNamespace:
        return SimpleNamespace(version=version, tags=self.tags)


def test_the_champion_lineage_comes_from_its_version_tag() -> None:
    tagged = _Registry({"champion": "3"}, {"fairgate.data_hash": "abc.dir"})
    assert champion_lineage(tagged, MODEL, "champion") == ChampionLineage("3", "abc.dir")
    assert champion_lineage(_Registry({"champion": "3"}, {}), MODEL, "champion") == ChampionLineage("3", None)
    assert champion_lineage(_Registry({}, {}), MODEL, "champion") is None
