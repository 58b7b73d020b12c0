"""German Credit with its 5:1 cost matrix: the per-group numbers of a seeded model, kept as a regression baseline.

Statlog German Credit (``tests/fixtures/german_credit.csv``, CC BY 4.0): target
``bad_credit`` (1 = bad risk, adverse), sensitive attribute ``sex``; predicting "good"
for a bad applicant costs 5, the reverse 1, so an application is refused above a 1/6
probability of bad credit.  A seeded logistic regression on a seeded, stratified 70/30
split; no decision lies within 2e-4 of the threshold, so the counts below are stable.

The per-group values are ratios of counts, written as such: a change in any of them is a
change in what the evaluation computes (or in the model), never rounding.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import make_column_selector, make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from pipelines.core.config import DatasetSettings, DecisionSettings
from pipelines.governance.gate import decide
from pipelines.model.evaluate import evaluate_model, flatten_metrics

GERMAN_CREDIT = Path(__file__).resolve().parents[1] / "fixtures" / "german_credit.csv"  # CC BY 4.0
DATASET = DatasetSettings(target="bad_credit", sensitive=["sex"], positive_label=1, positive_is_favorable=False)
COSTS = DecisionSettings(cost_wrong_favorable=5.0, cost_wrong_unfavorable=1.0)

# counts behind the baseline (approved, favourable truth = good credit):
#   female: 100 rows, 38 approved, 66 good of whom 36 approved, 34 bad of whom 2 approved,
#           68 correct decisions, 2 false approvals (x5) and 30 false refusals (x1)
#   male:   200 rows, 86 approved, 144 good of whom 81 approved, 56 bad of whom 5 approved,
#           132 correct decisions, 5 false approvals (x5) and 63 false refusals (x1)
BASELINE_GROUPS = {
    "female": {"rows": 100, "selection_rate": 38 / 100, "tpr": 36 / 66, "fpr": 2 / 34, "accuracy": 68 / 100},
    "male": {"rows": 200, "selection_rate": 86 / 200, "tpr": 81 / 144, "fpr": 5 / 56, "accuracy": 132 / 200},
}
BASELINE_BUSINESS_GROUPS = {
    "female": {"rows": 100, "approval_rate": 38 / 100, "expected_cost": (2 * 5.0 + 30 * 1.0) / 100},
    "male": {"rows": 200, "approval_rate": 86 / 200, "expected_cost": (5 * 5.0 + 63 * 1.0) / 200},
}


@pytest.fixture(scope="module")
def german_credit() -> tuple[dict[str, Any], pd.Series, np.ndarray, pd.Series]:
    frame = pd.read_csv(GERMAN_CREDIT)
    y = frame.pop("bad_credit")
    sensitive = frame[["sex"]]
    features = frame.drop(columns=["sex", "status_sex"])  # status_sex encodes sex
    x_train, x_test, y_train, y_test, _, s_test = train_test_split(
        features, y, sensitive, test_size=0.3, random_state=0, stratify=y
    )
    preprocess = make_column_transformer(
        (StandardScaler(), make_column_selector(dtype_include="number")),
        (OneHotEncoder(handle_unknown="ignore"), make_column_selector(dtype_exclude="number")),
    )
    model = make_pipeline(preprocess, LogisticRegression(max_iter=1000, random_state=0)).fit(x_train, y_train)
    result = evaluate_model(model, x_test, y_test, s_test, DATASET, COSTS)
    p_bad = model.predict_proba(x_test)[:, list(model.classes_).index(1)]
    return result, y_test, p_bad, s_test["sex"]


@pytest.mark.fairness
def test_per_group_baseline(german_credit: tuple) -> None:
    result, _, p_bad, _ = german_credit
    assert np.min(np.abs(p_bad - 1 / 6)) > 1e-4  # the baseline does not hang on a borderline decision
    ethical = result["ethical"]["sex"]
    assert ethical["by_group"] == BASELINE_GROUPS
    assert result["business"]["by_group"]["sex"] == BASELINE_BUSINESS_GROUPS
    assert ethical["demographic_parity_difference"] == 86 / 200 - 38 / 100
    assert ethical["demographic_parity_ratio"] == (38 / 100) / (86 / 200)
    assert ethical["equal_opportunity_difference"] == 81 / 144 - 36 / 66
    assert ethical["equalized_odds_difference"] == max(81 / 144 - 36 / 66, 5 / 56 - 2 / 34)
    assert ethical["worst_group_accuracy"] == 132 / 200
    assert ethical["notes"] == []


@pytest.mark.fairness
def test_overall_baseline(german_credit: tuple) -> None:
    result, _, _, _ = german_credit
    assert result["rows"] == 300 and result["refusal_threshold"] == 1 / 6
    business = result["business"]
    assert business["approval_rate"] == 124 / 300
    assert business["expected_cost"] == (7 * 5.0 + 93 * 1.0) / 300
    # the 5:1 matrix: approving all costs 0.3 * 5 = 1.5, refusing all 0.7 * 1 = 0.7
    assert business["cost_approve_all"] == 90 * 5.0 / 300 == 1.5
    assert business["cost_refuse_all"] == 210 * 1.0 / 300 == 0.7
    assert business["cost_best_constant"] == 0.7
    assert business["cost_saving_vs_best_constant"] == 1 - (128 / 300) / 0.7
    technical = result["technical"]
    assert technical["accuracy"] == 200 / 300
    # predicted bad (refused) is the positive class: 83 of 90 bad refused, 93 of 210 good refused
    assert technical["balanced_accuracy"] == pytest.approx((83 / 90 + 117 / 210) / 2, abs=1e-15)
    assert technical["f1"] == pytest.approx(2 * 83 / (2 * 83 + 93 + 7), abs=1e-15)
    assert technical["roc_auc"] == pytest.approx(0.7964021164021164, rel=1e-9)
    assert technical["log_loss"] == pytest.approx(0.4918062212859193, rel=1e-9)
    assert technical["brier"] == pytest.approx(0.16429285092248108, rel=1e-9)
    assert technical["latency_ms_p95"] >= technical["latency_ms_p50"] > 0.0
    assert result["latency"] == {"batch_rows": 300, "batches": 1, "repeats": 3, "samples": 3}


@pytest.mark.fairness
def test_interval_baseline(german_credit: tuple) -> None:
    """The seeded bootstrap's intervals (seed 20240607, 1,000 resamples): a change here is a change in method."""
    result, _, _, _ = german_credit
    assert result["bootstrap"] == {
        "method": "poisson",
        "interval": "percentile",
        "resamples": 1000,
        "seed": 20240607,
        "confidence": 0.95,
        "paired": False,
    }
    intervals = result["intervals"]
    dpd = intervals["ethical"]["sex"]["demographic_parity_difference"]
    female = intervals["ethical"]["sex"]["by_group"]["female"]["selection_rate"]
    for interval, point in ((dpd, 0.05), (female, 0.38), (intervals["technical"]["roc_auc"], 0.7964)):
        assert interval["undefined"] == 0 and interval["low"] < point < interval["high"]
    # a 100-applicant group: its approval rate is known to within about +-0.1
    assert 0.07 < female["high"] - female["low"] < 0.25
    # pinned: numpy's PCG64 stream and Poisson sampler, the seed and the method give exactly these bounds
    assert dpd["low"] == pytest.approx(0.0019586509100526198, abs=1e-12)
    assert dpd["high"] == pytest.approx(0.16217366454479856, abs=1e-12)
    assert female["low"] == pytest.approx(0.2856792717086835, abs=1e-12)
    assert female["high"] == pytest.approx(0.46989723600283484, abs=1e-12)


def test_the_result_is_logged_and_gated_as_it_is(german_credit: tuple) -> None:
    from pipelines.core.config import Bound, GateSettings

    result, _, _, _ = german_credit
    json.dumps(result, allow_nan=False)
    flat = flatten_metrics(result)
    assert flat["ethical.sex.female.tpr"] == 36 / 66
    assert flat["ethical.sex.demographic_parity_difference.ci_low"] == result["intervals"]["ethical"]["sex"][
        "demographic_parity_difference"
    ]["low"]
    gate = GateSettings(ethical={"demographic_parity_ratio": Bound(min=0.8)}, technical={"roc_auc": Bound(min=0.7)})
    decision = decide(result, None, gate)
    assert decision.passed
    assert decision.notes[0] == "no champion yet: only absolute thresholds applied"
