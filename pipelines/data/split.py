"""The holdout: out-of-time when a time column exists, else seeded and stratified."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from pipelines.core.config import DatasetSettings, SplitSettings
from pipelines.core.errors import BadInputError

ERR_TOO_FEW_ROWS = "cannot split {rows} row(s) into a training set and a holdout"
ERR_SINGLE_TIME = "time column {column!r} holds a single instant: no out-of-time split is possible"
ERR_TIME_NULLS = "time column {column!r} has {count} missing value(s): every decision needs a time"
NOTE_NO_TIME = "no time column configured: seeded stratified split, out-of-time validation was not possible"


def holdout_mask(frame: pd.DataFrame, dataset: DatasetSettings, split: SplitSettings) -> np.ndarray:
    """Return a boolean mask of the holdout rows.

    With a time column, the holdout is the latest ``test_fraction`` of
    decisions, cut at an instant so that every training row is strictly
    earlier than every holdout row (ties go to the holdout).  Without one, a
    seeded split stratified on the target.
    """
    rows = len(frame)
    if rows < 2:
        raise BadInputError(ERR_TOO_FEW_ROWS.format(rows=rows))
    if dataset.time_column is None:
        positions = np.arange(rows)
        _, test_positions = train_test_split(
            positions,
            test_size=split.test_fraction,
            random_state=split.seed,
            stratify=frame[dataset.target].to_numpy(),
        )
        mask = np.zeros(rows, dtype=bool)
        mask[test_positions] = True
        return mask
    times = pd.to_datetime(frame[dataset.time_column])
    missing = int(times.isna().sum())
    if missing:
        raise BadInputError(ERR_TIME_NULLS.format(column=dataset.time_column, count=missing))
    ordered = np.sort(times.to_numpy())
    cut_position = min(rows - 1, max(1, math.floor(rows * (1.0 - split.test_fraction))))
    cut = ordered[cut_position]
    mask = (times >= cut).to_numpy()
    if mask.all():
        if ordered[0] == ordered[-1]:
            raise BadInputError(ERR_SINGLE_TIME.format(column=dataset.time_column))
        # the cut fell on the earliest instant: move it to the next distinct one
        cut = ordered[ordered > ordered[0]][0]
        mask = (times >= cut).to_numpy()
    return mask


def split_notes(dataset: DatasetSettings) -> list[str]:
    """What the reports must say about how the holdout was made."""
    if dataset.time_column is None:
        return [NOTE_NO_TIME]
    return [f"out-of-time holdout on {dataset.time_column!r}: every training row precedes every holdout row"]
