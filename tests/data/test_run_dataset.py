"""The run dataset (data/ read once, memory-mapped for the split) changes no output of the split.

The split made the new way (the leakage stage's frame written as Arrow,
memory-mapped, cut in Arrow) is compared with the split made the old way
(``frame[mask].to_parquet``) on generated months with the generator's
hazards: the same rows in the same order, the same values and dtypes read
back, hence the same class weights, and the same data summary.  Each check
is also shown to fail on a split that differs by one row.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.core.config import load_config
from pipelines.core.errors import BadInputError
from pipelines.data.generator import generate_month
from pipelines.data.run_dataset import (
    open_run_dataset,
    remove_run_dataset,
    run_dataset_files,
    run_dataset_path,
    to_frame,
    write_run_dataset,
    write_split,
)
from pipelines.data.split import holdout_mask
from pipelines.model.weights import class_weights
from pipelines.reports.model_card import summarise_split

CONFIG = load_config(Path(__file__).resolve().parents[2] / "fairgate.yaml")
DATA_HASH = "5f0c6a1e2b3d4c5e6f708192a3b4c5d6.dir"
FILES = ["batches/2024-01.parquet", "batches/2024-02.parquet", "batches/2024-03.parquet"]


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """Three generated months with the generator's hazards, as load_dataset reads them, and some missing values."""
    settings = CONFIG.generator.model_copy(update={"rows_per_month": 3000})
    months = [generate_month(m, settings, CONFIG.generator.hazards).frame for m in ("2024-01", "2024-02", "2024-03")]
    frame = pd.concat(months, ignore_index=True)
    frame.loc[[3, 4000, 8999], "region"] = None
    frame.loc[[5, 7000], "employment_years"] = np.nan
    return frame


def _old_split(frame: pd.DataFrame, mask: np.ndarray, folder: Path) -> dict[str, pd.DataFrame]:
    """The split as the stage wrote it before: pandas selections through DataFrame.to_parquet."""
    folder.mkdir()
    frame[~mask].to_parquet(folder / "train.parquet", index=False)
    frame[mask].to_parquet(folder / "holdout.parquet", index=False)
    return {name: pd.read_parquet(folder / f"{name}.parquet") for name in ("train", "holdout")}


def _new_split(frame: pd.DataFrame, mask: np.ndarray, folder: Path) -> dict[str, pd.DataFrame]:
    path = write_run_dataset(frame, run_dataset_path(folder, DATA_HASH), DATA_HASH, FILES)
    write_split(open_run_dataset(path, DATA_HASH), mask, folder / "train.parquet", folder / "holdout.parquet")
    return {name: pd.read_parquet(folder / f"{name}.parquet") for name in ("train", "holdout")}


def test_the_run_dataset_gives_back_the_frame_read_exactly(frame: pd.DataFrame, tmp_path: Path) -> None:
    assert frame[["region", "employment_years"]].isna().any().all()
    path = write_run_dataset(frame, run_dataset_path(tmp_path, DATA_HASH), DATA_HASH, FILES)
    assert path == tmp_path / "dataset" / "5f0c6a1e2b3d4c5e6f708192a3b4c5d6.arrow"
    table = open_run_dataset(path, DATA_HASH)
    pd.testing.assert_frame_equal(to_frame(table), frame, check_exact=True)
    assert run_dataset_files(table) == FILES
    changed = frame.copy()
    changed.loc[len(frame) - 1, "income"] = np.nextafter(changed.loc[len(frame) - 1, "income"], np.inf)
    with pytest.raises(AssertionError):
        pd.testing.assert_frame_equal(to_frame(table), changed, check_exact=True)


def test_the_split_gives_the_same_rows_values_and_dtypes_as_before(frame: pd.DataFrame, tmp_path: Path) -> None:
    mask = holdout_mask(frame, CONFIG.dataset, CONFIG.split)
    # the rule read from the memory-mapped roles' columns cuts where it cut on the whole frame
    table = open_run_dataset(write_run_dataset(frame, run_dataset_path(tmp_path, DATA_HASH), DATA_HASH, FILES),
                             DATA_HASH)
    roles = to_frame(table.select([CONFIG.dataset.target, CONFIG.dataset.time_column, *CONFIG.dataset.sensitive]))
    assert np.array_equal(holdout_mask(roles, CONFIG.dataset, CONFIG.split), mask)
    before, after = _old_split(frame, mask, tmp_path / "old"), _new_split(frame, mask, tmp_path / "new")
    for name in ("train", "holdout"):
        pd.testing.assert_frame_equal(after[name], before[name], check_exact=True)
        assert after[name]["application_id"].tolist() == before[name]["application_id"].tolist()
    target, beta = CONFIG.dataset.target, CONFIG.training.beta_factor
    assert class_weights(after["train"][target], beta) == class_weights(before["train"][target], beta)
    assert summarise_split(roles[~mask], roles[mask], CONFIG.dataset) == summarise_split(
        before["train"], before["holdout"], CONFIG.dataset
    )


def test_a_split_one_row_apart_is_told_apart(frame: pd.DataFrame, tmp_path: Path) -> None:
    mask = holdout_mask(frame, CONFIG.dataset, CONFIG.split)
    moved = mask.copy()
    moved[np.flatnonzero(~mask)[-1]] = True  # the last training row goes to the holdout
    before, after = _old_split(frame, mask, tmp_path / "old"), _new_split(frame, moved, tmp_path / "new")
    with pytest.raises(AssertionError):
        pd.testing.assert_frame_equal(after["train"], before["train"], check_exact=True)
    assert len(after["holdout"]) == len(before["holdout"]) + 1


def test_the_same_rows_give_the_same_files_and_other_rows_other_files(frame: pd.DataFrame, tmp_path: Path) -> None:
    mask = holdout_mask(frame, CONFIG.dataset, CONFIG.split)

    def file_digests(folder: Path, cut: np.ndarray) -> list[str]:
        _new_split(frame, cut, folder)
        return [hashlib.sha256((folder / f"{n}.parquet").read_bytes()).hexdigest() for n in ("train", "holdout")]

    first, again = file_digests(tmp_path / "a", mask), file_digests(tmp_path / "b", mask)
    assert first == again
    moved = mask.copy()
    moved[np.flatnonzero(~mask)[-1]] = True
    other = file_digests(tmp_path / "c", moved)
    assert other[0] != first[0] and other[1] != first[1]


def test_the_run_dataset_is_refused_for_another_data_version(frame: pd.DataFrame, tmp_path: Path) -> None:
    path = write_run_dataset(frame.head(10), run_dataset_path(tmp_path, DATA_HASH), DATA_HASH, FILES)
    other = "0" * 32 + ".dir"
    with pytest.raises(BadInputError, match=f"holds data version '{DATA_HASH}', not '{other}'"):
        open_run_dataset(path, other)
    with pytest.raises(BadInputError, match="DVC hash of the data folder"):
        run_dataset_path(tmp_path, "5f0c6a1e2b3d4c5e6f708192a3b4c5d6")
    with pytest.raises(BadInputError, match="2 value"):
        write_split(open_run_dataset(path, DATA_HASH), np.array([True, False]), tmp_path / "t", tmp_path / "h")


def test_the_run_dataset_is_removed_with_its_folder(frame: pd.DataFrame, tmp_path: Path) -> None:
    path = write_run_dataset(frame.head(10), run_dataset_path(tmp_path, DATA_HASH), DATA_HASH, FILES)
    table = open_run_dataset(path, DATA_HASH)
    del table
    remove_run_dataset(path)
    assert not path.exists() and not path.parent.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []
