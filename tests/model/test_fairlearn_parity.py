"""The fast path against its reference: every ethical point estimate equals fairlearn's to 1e-12.

fairlearn 0.15 is the reference: ``MetricFrame`` (selection rate, TPR, FPR, accuracy per
group, the worst group's accuracy, the TPR difference for equal opportunity) and
``demographic_parity_difference`` / ``_ratio``, ``equalized_odds_difference`` and
``equal_opportunity_difference``.  The fast path (one ``bincount`` over cells) must give
the same numbers on generated data (both models of a paired evaluation, both polarities of
the positive class, two attributes and their intersection), on German Credit, and on edge
cases.  Where fairlearn makes up a number for a rate with an empty denominator (a TPR of
0.0 for a group without favourable-truth rows), the fast path says None: those places are
listed and checked, every other value must match.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sklearn.metrics as skm
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equal_opportunity_difference,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)

from pipelines.core.config import DatasetSettings, DecisionSettings, EvaluationSettings, GeneratorSettings
from pipelines.data.generator import generate_history
from pipelines.model.evaluate import approve_decisions, compare_predictions, evaluate_predictions

pytestmark = pytest.mark.fairness

TOLERANCE = 1e-12
GERMAN_CREDIT = Path(__file__).resolve().parents[1] / "fixtures" / "german_credit.csv"  # CC BY 4.0
INTERSECTION = EvaluationSettings(intersection=True)


def close(ours: float | None, theirs: float) -> bool:
    return ours is not None and abs(ours - float(theirs)) <= TOLERANCE


def assert_matches_fairlearn(section: dict[str, Any], good: np.ndarray, approved: np.ndarray, groups: pd.Series) -> int:
    """Compare one attribute's section with fairlearn; return how many values were compared."""
    y_true, y_pred = good.astype(int), approved.astype(int)
    frame = MetricFrame(
        metrics={
            "selection_rate": selection_rate,
            "tpr": true_positive_rate,
            "fpr": false_positive_rate,
            "accuracy": skm.accuracy_score,
        },
        y_true=y_true,
        y_pred=y_pred,
        sensitive_features=groups,
    )
    compared = 0
    no_good, no_bad = [], []
    assert list(section["by_group"]) == [str(g) for g in frame.by_group.index]
    for group, row in frame.by_group.iterrows():
        ours = section["by_group"][str(group)]
        in_group = (groups == group).to_numpy()
        assert ours["rows"] == int(in_group.sum())
        for name in ("selection_rate", "accuracy"):
            assert close(ours[name], row[name]), (group, name, ours[name], row[name])
            compared += 1
        if good[in_group].any():
            assert close(ours["tpr"], row["tpr"]), (group, ours["tpr"], row["tpr"])
            compared += 1
        else:  # fairlearn's 0.0 is made up: no favourable-truth row in the group
            assert ours["tpr"] is None and row["tpr"] == 0.0
            no_good.append(group)
        if (~good[in_group]).any():
            assert close(ours["fpr"], row["fpr"]), (group, ours["fpr"], row["fpr"])
            compared += 1
        else:
            assert ours["fpr"] is None and row["fpr"] == 0.0
            no_bad.append(group)
    kwargs = {"sensitive_features": groups}
    single = frame.by_group.shape[0] < 2
    if single:
        for name in ("demographic_parity_difference", "demographic_parity_ratio", "equalized_odds_difference",
                     "equal_opportunity_difference"):
            assert section[name] is None
    else:
        assert close(section["demographic_parity_difference"], demographic_parity_difference(y_true, y_pred, **kwargs))
        ratio = demographic_parity_ratio(y_true, y_pred, **kwargs)
        if math.isnan(ratio):
            assert section["demographic_parity_ratio"] is None
        else:
            assert close(section["demographic_parity_ratio"], ratio)
        if no_good:
            assert section["equal_opportunity_difference"] is None and section["equalized_odds_difference"] is None
        else:
            reference = equal_opportunity_difference(y_true, y_pred, **kwargs)
            assert close(section["equal_opportunity_difference"], reference)
            assert close(section["equal_opportunity_difference"], frame.difference()["tpr"])
            if not no_bad:
                assert close(section["equalized_odds_difference"], equalized_odds_difference(y_true, y_pred, **kwargs))
            else:
                assert section["equalized_odds_difference"] is None
        compared += 4
    assert close(section["worst_group_accuracy"], frame.group_min()["accuracy"])
    return compared + 1


def check_result(result: dict[str, Any], y: np.ndarray, p: np.ndarray, sensitive: pd.DataFrame,
                 dataset: DatasetSettings, decision: DecisionSettings) -> int:
    is_positive = y == dataset.positive_label
    good = is_positive if dataset.positive_is_favorable else ~is_positive
    approved = approve_decisions(p, decision, dataset.positive_is_favorable)
    compared = 0
    for attribute, section in result["ethical"].items():
        if attribute in sensitive.columns:
            groups = sensitive[attribute].astype(str)
        else:  # the intersection
            parts = attribute.split("+")
            groups = sensitive[parts[0]].astype(str)
            for part in parts[1:]:
                groups = groups + "+" + sensitive[part].astype(str)
        compared += assert_matches_fairlearn(section, good, approved, groups.reset_index(drop=True))
        for group, values in result["business"]["by_group"][attribute].items():
            assert values["approval_rate"] == section["by_group"][group]["selection_rate"]
    return compared


# --------------------------------------------------------------------------- generated data


@pytest.fixture(scope="module")
def generated() -> pd.DataFrame:
    return generate_history(GeneratorSettings(rows_per_month=500, history_months=6))


@pytest.mark.parametrize("positive_is_favorable", [False, True])
def test_generated_data_both_models_two_attributes_and_their_intersection(
    generated: pd.DataFrame, positive_is_favorable: bool
) -> None:
    rng = np.random.default_rng(8)
    y = generated["default"].to_numpy()
    # scores that know something, a candidate and a champion that disagree on some rows
    p_default = np.clip(0.12 + 0.4 * y + rng.normal(0, 0.15, len(y)) - 0.03 * (generated["gender"] == "male"), 0, 1)
    p_champion = np.clip(p_default + rng.normal(0, 0.05, len(y)), 0, 1)
    if positive_is_favorable:  # the same applicants, labelled by repayment
        y, p_default, p_champion = 1 - y, 1 - p_default, 1 - p_champion
    dataset = DatasetSettings(target="y", sensitive=["gender", "region"], positive_is_favorable=positive_is_favorable)
    decision = DecisionSettings()
    sensitive = generated[["gender", "region"]]
    pair = compare_predictions(pd.Series(y), p_default, p_champion, sensitive, dataset, decision, INTERSECTION)
    assert list(pair["candidate"]["ethical"]) == ["gender", "region", "gender+region"]
    compared = 0
    for which, p in (("candidate", p_default), ("champion", p_champion)):
        compared += check_result(pair[which], y, p, sensitive, dataset, decision)
    # every rate of every group (2 + 5 + 10 groups, 4 rates) and 5 summaries per attribute, for both models
    assert compared == 2 * ((2 + 5 + 10) * 4 + 3 * 5)


# --------------------------------------------------------------------------- German Credit


def test_german_credit_with_the_5_to_1_cost_matrix() -> None:
    frame = pd.read_csv(GERMAN_CREDIT)
    rng = np.random.default_rng(0)
    y = frame["bad_credit"].to_numpy()
    # a score from two documented risk factors, so the decisions are not trivial
    p_bad = np.clip(0.15 + 0.2 * y + 0.004 * (frame["duration"] - 20) + rng.normal(0, 0.1, len(y)), 0, 1)
    sensitive = frame[["sex", "foreign_worker"]].astype({"foreign_worker": str})
    dataset = DatasetSettings(target="bad_credit", sensitive=["sex", "foreign_worker"])
    decision = DecisionSettings(cost_wrong_favorable=5.0, cost_wrong_unfavorable=1.0)
    result = evaluate_predictions(frame["bad_credit"], p_bad, sensitive, dataset, decision, INTERSECTION)
    assert decision.positive_threshold(False) == 1 / 6
    assert check_result(result, y, p_bad, sensitive, dataset, decision) > 30


# --------------------------------------------------------------------------- edge cases

Y = [1, 0, 0, 1, 0, 0, 1, 0]
P = [0.9, 0.2, 0.6, 0.4, 0.1, 0.3, 0.8, 0.45]
HALF = DecisionSettings(threshold=0.5)
GENDER = DatasetSettings(target="default", sensitive=["gender"])


@pytest.mark.parametrize(
    ("name", "y", "p", "groups"),
    [
        # group x has only defaults: no favourable-truth row, so no TPR
        ("a group with no positives", [1, 0, 0, 1, 1, 1], [0.9, 0.2, 0.6, 0.4, 0.3, 0.8], list("fffxxx")),
        # group x repays everywhere: no adverse-truth row, so no FPR
        ("a group with no negatives", [1, 0, 1, 0, 0, 0], [0.9, 0.2, 0.6, 0.4, 0.3, 0.8], list("fffxxx")),
        ("a group of one row", [1, 0, 0, 1, 0], [0.9, 0.2, 0.6, 0.4, 0.1], ["f", "f", "f", "f", "solo"]),
        ("all predictions equal: approve everyone", Y, [0.0] * 8, list("ffffmmmm")),
        ("all predictions equal: refuse everyone", Y, [1.0] * 8, list("ffffmmmm")),
        ("all predictions equal, all on the threshold", Y, [0.5] * 8, list("ffffmmmm")),
        ("a single group", Y, P, list("ffffffff")),
        ("three groups, one of them tiny", Y, P, list("ffffmmmx")),
    ],
)
def test_edge_cases(name: str, y: list[int], p: list[float], groups: list[str]) -> None:
    sensitive = pd.DataFrame({"gender": groups})
    result = evaluate_predictions(pd.Series(y), np.array(p), sensitive, GENDER, HALF)
    assert check_result(result, np.array(y), np.array(p), sensitive, GENDER, HALF) >= 3, name


def test_the_made_up_zero_is_why_the_fast_path_says_none() -> None:
    """fairlearn scores an empty TPR as 0.0 and returns a finite equal-opportunity difference."""
    y = np.array([1, 0, 0, 1, 1, 1])
    approved = approve_decisions(np.array([0.9, 0.2, 0.6, 0.4, 0.3, 0.8]), HALF, False)
    groups = pd.Series(list("fffxxx"))
    silent = equal_opportunity_difference((y == 0).astype(int), approved.astype(int), sensitive_features=groups)
    assert math.isfinite(silent)
    ours = evaluate_predictions(pd.Series(y), np.array([0.9, 0.2, 0.6, 0.4, 0.3, 0.8]),
                                pd.DataFrame({"gender": groups}), GENDER, HALF)
    assert ours["ethical"]["gender"]["equal_opportunity_difference"] is None
