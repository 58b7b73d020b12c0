"""Input drift at decision time, both ways: a planted shift in one feature and in one group's share is found
on exactly that column; applications drawn like the training data find nothing.

The data is census-style (many columns of few values, a skewed label), not the generator's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipelines.core.config import DatasetSettings, DriftSettings
from pipelines.core.errors import BadInputError
from pipelines.core.monitoring_settings import DecisionTimeMonitoring
from pipelines.data.input_drift import NOTE_LABEL, input_drift
from pipelines.flows.monitor import horizon_result, level
from tests.data.census_like import census_like

DATASET = DatasetSettings(target="income", sensitive=["sex"])
LIMITS = DecisionTimeMonitoring()
DRIFT = DriftSettings()


def _frames(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    reference = census_like(8000, seed=seed)
    applications = census_like(3000, seed=seed + 1)
    rng = np.random.default_rng(seed)
    for frame in (reference, applications):  # one numeric feature, for the KS statistic
        frame["loan_amount"] = rng.lognormal(9.0, 0.5, len(frame))
    return reference, applications


def _features(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in ("income", "sex", "person_id", "decision_date")]


def _measure(applications: pd.DataFrame, reference: pd.DataFrame) -> list:
    measured = input_drift(
        applications, reference, _features(reference), DATASET, LIMITS, DRIFT.significance, DRIFT.pseudo_count
    )
    assert NOTE_LABEL in measured.notes
    return measured.values


def test_applications_like_the_training_data_drift_nowhere() -> None:
    reference, applications = _frames(11)
    values = _measure(applications, reference)
    metrics = {v.metric for v in values}
    assert metrics == {"ks", "psi", "group_share_shift"}  # no label statistic at decision time
    assert [v for v in values if level(v) != "ok"] == []
    assert horizon_result("2025-01", values, [])["verdict"] == "ok"


def test_a_shifted_feature_is_found_on_that_feature_only() -> None:
    reference, applications = _frames(11)
    applications["loan_amount"] = applications["loan_amount"] * 1.6  # a migration rescaled amounts
    values = _measure(applications, reference)
    flagged = {(v.metric, v.subject) for v in values if level(v) != "ok"}
    assert flagged == {("ks", "loan_amount")}
    (shifted,) = [v for v in values if v.subject == "loan_amount"]
    assert level(shifted) == "critical" and shifted.family == "drift" and shifted.direction == "max"


def test_a_group_whose_share_moved_is_found_per_group() -> None:
    reference, applications = _frames(12)
    women = applications[applications["sex"] == applications["sex"].unique()[0]]
    fewer = pd.concat([applications, women.iloc[: len(women) // 2]], ignore_index=True)  # one group over-sampled
    values = _measure(fewer, reference)
    shares = [v for v in values if v.metric == "group_share_shift"]
    assert {v.subject.split("=")[0] for v in shares} == {"sex"} and len(shares) >= 2
    assert all(level(v) in ("warn", "critical") for v in shares)
    assert [v for v in values if v.metric != "group_share_shift" and level(v) != "ok"] == []


def test_a_small_batch_is_not_flagged_for_being_small() -> None:
    reference, applications = _frames(13)
    values = _measure(applications.iloc[:60], reference)
    # the limits are raised to what sampling noise reaches with 60 rows
    assert all(v.warn >= LIMITS.feature_ks.warn or v.metric != "ks" for v in values)
    assert [v for v in values if level(v) == "critical"] == []


def test_a_missing_feature_is_named() -> None:
    reference, applications = _frames(11)
    with pytest.raises(BadInputError, match="applications lacks column.*loan_amount"):
        _measure(applications.drop(columns=["loan_amount"]), reference)
