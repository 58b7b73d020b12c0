"""The holdout: out-of-time with a time column, stratified and seeded without."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.core.config import load_config
from pipelines.core.errors import BadInputError
from pipelines.data.split import holdout_mask, split_notes

CONFIG = load_config(Path(__file__).resolve().parents[2] / "fairgate.yaml")


def frame_with_times(times):
    return pd.DataFrame({"application_date": pd.to_datetime(times), "default": [0, 1] * (len(times) // 2)})


def test_out_of_time_every_training_row_precedes_every_holdout_row():
    rng = np.random.default_rng(0)
    times = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, 1000), unit="D")
    frame = frame_with_times(times)
    mask = holdout_mask(frame, CONFIG.dataset, CONFIG.split)
    assert frame.loc[~mask, "application_date"].max() < frame.loc[mask, "application_date"].min()
    assert 0.15 < mask.mean() < 0.25


def test_ties_at_the_cut_all_go_to_the_holdout():
    frame = frame_with_times(["2024-01-01"] * 6 + ["2024-02-01"] * 4)
    mask = holdout_mask(frame, CONFIG.dataset, CONFIG.split)
    assert mask.tolist() == [False] * 6 + [True] * 4


def test_single_instant_cannot_be_split_out_of_time():
    frame = frame_with_times(["2024-01-01"] * 10)
    with pytest.raises(BadInputError, match="holds a single instant"):
        holdout_mask(frame, CONFIG.dataset, CONFIG.split)


def test_without_time_column_stratified_seeded(german_credit_path):
    frame = pd.read_csv(german_credit_path)
    dataset = CONFIG.dataset.model_copy(
        update={"target": "bad_credit", "time_column": None, "id_columns": [], "sensitive": ["sex"]}
    )
    first = holdout_mask(frame, dataset, CONFIG.split)
    assert (first == holdout_mask(frame, dataset, CONFIG.split)).all()
    assert frame.loc[first, "bad_credit"].mean() == pytest.approx(frame["bad_credit"].mean(), abs=0.01)
    assert "out-of-time validation was not possible" in split_notes(dataset)[0]
