"""Model tests of pipelines.model.evaluate: conventions, hand computations, fairlearn parity, edge cases."""

from __future__ import annotations

import ast
import json
import math
import posixpath
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sklearn.metrics as skm
import yaml
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

from pipelines.core.config import DatasetSettings, DecisionSettings, EvaluationSettings, parse_config
from pipelines.core.errors import BadInputError
from pipelines.model.evaluate import (
    BUSINESS_METRICS,
    ERR_CHAMPION_FEATURES,
    ERR_DECISION_SHAPE,
    ERR_DECISION_VALUES,
    ERR_EMPTY,
    ERR_INDEX,
    ERR_INTERSECTION_COLLISION,
    ERR_LABEL_MISSING,
    ERR_LENGTH,
    ERR_MODEL_CLASSES,
    ERR_POSITIVE_ABSENT,
    ERR_PROBA_RANGE,
    ERR_SENSITIVE_COLLISION,
    ERR_SENSITIVE_COLUMNS,
    ERR_SENSITIVE_MISSING,
    ERR_SINGLE_CLASS,
    ERR_TOO_MANY_CLASSES,
    ETHICAL_METRICS,
    METRIC_DIRECTION,
    TECHNICAL_METRICS,
    approve_decisions,
    compare_predictions,
    cost_saving,
    evaluate_decisions,
    evaluate_model,
    evaluate_models,
    evaluate_predictions,
    flatten_metrics,
    per_group_table,
)
from pipelines.reports.plots import plot_per_group

ROOT = Path(__file__).resolve().parents[2]
# MLflow's rule for metric names (mlflow.utils.validation): these characters, and a normalised relative path
MLFLOW_METRIC_NAME = re.compile(r"^[/\w.\- :]*$")

ADVERSE = DatasetSettings(
    target="default", sensitive=["gender"], positive_label=1, positive_is_favorable=False
)
FAVOURABLE = DatasetSettings(
    target="repaid", sensitive=["gender"], positive_label=1, positive_is_favorable=True
)
HALF = DecisionSettings(cost_wrong_favorable=5.0, cost_wrong_unfavorable=1.0, threshold=0.5)

# A tiny frame computed by hand (positive class = default, adverse; refuse when p > 0.5).
#            0     1     2     3     4     5     6     7
Y_DEFAULT = [1, 0, 0, 1, 0, 0, 1, 0]
P_DEFAULT = [0.9, 0.2, 0.6, 0.4, 0.1, 0.3, 0.8, 0.45]
GENDER = ["f", "f", "f", "f", "m", "m", "m", "m"]
# approved:        F  T  F  T  T  T  F  T
# favourable truth F  T  T  F  T  T  F  T


def tiny(dataset: DatasetSettings = ADVERSE) -> dict:
    return evaluate_predictions(
        pd.Series(Y_DEFAULT), np.array(P_DEFAULT), pd.DataFrame({"gender": GENDER}), dataset, HALF
    )


def assert_valid_mlflow_metric_name(name: str) -> None:
    assert MLFLOW_METRIC_NAME.match(name), name
    assert posixpath.normpath(name) == name and not name.startswith(("/", "..")) and name != ".", name


class StubModel:
    """A fitted-model stand-in returning fixed probabilities in classes_ order."""

    def __init__(self, classes: list, proba: np.ndarray) -> None:
        self.classes_ = np.array(classes)
        self._proba = proba

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        return self._proba[np.asarray(features["row"])]


# --------------------------------------------------------------------------- hand computations


def test_technical_metrics_by_hand_on_the_positive_class() -> None:
    technical = tiny()["technical"]
    # refused = predicted default: T F T F F F T F; TP 2, FN 1, FP 1, TN 4
    assert technical["accuracy"] == pytest.approx(6 / 8)
    assert technical["balanced_accuracy"] == pytest.approx((2 / 3 + 4 / 5) / 2)
    assert technical["f1"] == pytest.approx(2 / 3)
    assert technical["roc_auc"] == pytest.approx(13 / 15)
    y, p = np.array(Y_DEFAULT), np.array(P_DEFAULT)
    assert technical["brier"] == pytest.approx(np.mean((p - y) ** 2))
    assert technical["log_loss"] == pytest.approx(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
    assert set(technical) == set(TECHNICAL_METRICS) - {"latency_ms_p50", "latency_ms_p95"}


def test_business_costs_and_best_constant_by_hand() -> None:
    business = tiny()["business"]
    assert business["approval_rate"] == 5 / 8
    # one false approval (row 3, cost 5) and one false refusal (row 2, cost 1)
    assert business["expected_cost"] == pytest.approx(6 / 8)
    assert business["cost_approve_all"] == pytest.approx(3 / 8 * 5)
    assert business["cost_refuse_all"] == pytest.approx(5 / 8 * 1)
    assert business["cost_best_constant"] == pytest.approx(5 / 8)
    assert business["cost_saving_vs_best_constant"] == pytest.approx(1 - 0.75 / 0.625)
    assert business["by_group"]["gender"] == {
        "f": {"rows": 4, "approval_rate": 0.5, "expected_cost": 1.5},
        "m": {"rows": 4, "approval_rate": 0.75, "expected_cost": 0.0},
    }
    assert set(BUSINESS_METRICS) <= set(business)


@pytest.mark.fairness
def test_ethical_metrics_by_hand_on_approvals() -> None:
    ethical = tiny()["ethical"]["gender"]
    assert ethical["by_group"] == {
        "f": {"rows": 4, "selection_rate": 0.5, "tpr": 0.5, "fpr": 0.5, "accuracy": 0.5},
        "m": {"rows": 4, "selection_rate": 0.75, "tpr": 1.0, "fpr": 0.0, "accuracy": 1.0},
    }
    assert ethical["demographic_parity_difference"] == pytest.approx(0.25)
    assert ethical["demographic_parity_ratio"] == pytest.approx(2 / 3)
    assert ethical["equalized_odds_difference"] == pytest.approx(0.5)
    assert ethical["equal_opportunity_difference"] == pytest.approx(0.5)
    assert ethical["worst_group_accuracy"] == pytest.approx(0.5)
    assert ethical["notes"] == []
    assert set(ETHICAL_METRICS) <= set(ethical)


def test_result_shape_and_strict_json() -> None:
    result = tiny()
    assert result["rows"] == 8
    assert result["refusal_threshold"] == 0.5
    assert result["positive_threshold"] == 0.5  # the positive class (default) is the unfavourable outcome
    assert result["positive_label"] == 1
    assert result["positive_is_favorable"] is False
    assert json.loads(json.dumps(result, allow_nan=False)) == result


def test_default_threshold_is_bayes_optimal_for_the_cost_matrix() -> None:
    result = evaluate_predictions(
        pd.Series(Y_DEFAULT),
        np.array(P_DEFAULT),
        pd.DataFrame({"gender": GENDER}),
        ADVERSE,
        DecisionSettings(),
    )
    assert result["refusal_threshold"] == result["positive_threshold"] == 1.0 / 6.0
    # only p = 0.1 is <= 1/6
    assert result["business"]["approval_rate"] == 1 / 8


# --------------------------------------------------------------------------- conventions


@pytest.mark.fairness
def test_favourable_positive_class_gives_the_same_decisions_and_fairness() -> None:
    adverse = tiny(ADVERSE)
    favourable = evaluate_predictions(
        pd.Series([1 - y for y in Y_DEFAULT]),
        1.0 - np.array(P_DEFAULT),
        pd.DataFrame({"gender": GENDER}),
        FAVOURABLE,
        HALF,
    )
    assert favourable["ethical"]["gender"]["by_group"] == adverse["ethical"]["gender"]["by_group"]
    for name in ETHICAL_METRICS:
        assert favourable["ethical"]["gender"][name] == pytest.approx(adverse["ethical"]["gender"][name])
    assert favourable["business"]["by_group"] == adverse["business"]["by_group"]
    for name in ("approval_rate", "expected_cost", "cost_best_constant", "cost_saving_vs_best_constant"):
        assert favourable["business"][name] == pytest.approx(adverse["business"][name])
    # technical metrics follow the model's own positive class (repaid): accuracy and AUC agree, F1 does not
    assert favourable["technical"]["accuracy"] == pytest.approx(adverse["technical"]["accuracy"])
    assert favourable["technical"]["roc_auc"] == pytest.approx(adverse["technical"]["roc_auc"])
    # predicted "repaid" = approved: T F T T T T F T vs truth repaid F T T F T T F T -> TP 4, FP 1, FN 1
    assert favourable["technical"]["f1"] == pytest.approx(4 / 5)


def test_decision_rule_at_the_threshold_is_symmetric() -> None:
    threshold = DecisionSettings(threshold=0.25)  # on the unfavourable outcome's probability
    p_default = np.array([0.25, 0.2500001, 0.0, 1.0])
    assert approve_decisions(p_default, threshold, positive_is_favorable=False).tolist() == [
        True,
        False,
        True,
        False,
    ]
    p_repaid = np.array([0.75, 0.7499999, 1.0, 0.0])
    assert approve_decisions(p_repaid, threshold, positive_is_favorable=True).tolist() == [
        True,
        False,
        True,
        False,
    ]


@pytest.mark.fairness
def test_string_labels_match_integer_labels() -> None:
    as_int = tiny()
    labels = pd.Series(["bad" if y else "good" for y in Y_DEFAULT])
    bad_positive = DatasetSettings(target="risk", sensitive=["gender"], positive_label="bad")
    as_text = evaluate_predictions(
        labels, np.array(P_DEFAULT), pd.DataFrame({"gender": GENDER}), bad_positive, HALF
    )
    assert as_text["technical"] == as_int["technical"]
    assert as_text["business"] == as_int["business"]
    assert as_text["ethical"] == as_int["ethical"]
    assert as_text["positive_label"] == "bad"


def test_evaluate_model_takes_the_positive_label_column_of_predict_proba() -> None:
    p_bad = np.array(P_DEFAULT)
    model = StubModel(["bad", "good"], np.column_stack([p_bad, 1.0 - p_bad]))
    features = pd.DataFrame({"row": range(8)})
    labels = pd.Series(["bad" if y else "good" for y in Y_DEFAULT])
    dataset = DatasetSettings(target="risk", sensitive=["gender"], positive_label="bad")
    timing = EvaluationSettings(latency_batch_rows=3, latency_repeats=5)
    result = evaluate_model(model, features, labels, pd.DataFrame({"gender": GENDER}), dataset, HALF, timing)
    expected = tiny()
    assert result["ethical"] == expected["ethical"]
    assert result["business"] == expected["business"]
    latency = result["latency"]
    assert latency == {"batch_rows": 3, "batches": 2, "repeats": 5, "samples": 10}
    assert 0.0 <= result["technical"]["latency_ms_p50"] <= result["technical"]["latency_ms_p95"]
    # the column order follows classes_, not an assumption that the positive class is last
    flipped = StubModel(["good", "bad"], np.column_stack([1.0 - p_bad, p_bad]))
    again = evaluate_model(flipped, features, labels, pd.DataFrame({"gender": GENDER}), dataset, HALF)
    assert again["ethical"] == expected["ethical"]


# --------------------------------------------------------------------------- fairlearn parity


def _random_case(seed: int, rows: int = 600) -> tuple[pd.Series, np.ndarray, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    region = rng.choice(["north", "south", "east"], size=rows, p=[0.5, 0.3, 0.2])
    gender = rng.choice(["female", "male"], size=rows)
    y = (rng.random(rows) < np.where(region == "east", 0.45, 0.25)).astype(int)
    p = np.clip(0.25 + 0.35 * y + rng.normal(0.0, 0.2, rows), 0.0, 1.0)
    return pd.Series(y), p, pd.DataFrame({"gender": gender, "region": region})


@pytest.mark.fairness
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("positive_is_favorable", [False, True])
def test_ethical_point_estimates_equal_fairlearn(seed: int, positive_is_favorable: bool) -> None:
    y, p, sensitive = _random_case(seed)
    dataset = DatasetSettings(
        target="y", sensitive=["gender", "region"], positive_is_favorable=positive_is_favorable
    )
    decision = DecisionSettings(threshold=0.4)
    result = evaluate_predictions(y, p, sensitive, dataset, decision)

    approved = (p >= 1 - 0.4) if positive_is_favorable else (p <= 0.4)
    good = (y == 1) if positive_is_favorable else (y == 0)
    y_true, y_pred = good.astype(int).to_numpy(), approved.astype(int)
    for attribute in ("gender", "region"):
        groups = sensitive[attribute]
        ethical = result["ethical"][attribute]
        assert ethical["demographic_parity_difference"] == demographic_parity_difference(
            y_true, y_pred, sensitive_features=groups
        )
        assert ethical["demographic_parity_ratio"] == demographic_parity_ratio(
            y_true, y_pred, sensitive_features=groups
        )
        assert ethical["equalized_odds_difference"] == equalized_odds_difference(
            y_true, y_pred, sensitive_features=groups
        )
        assert ethical["equal_opportunity_difference"] == equal_opportunity_difference(
            y_true, y_pred, sensitive_features=groups
        )
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
        assert ethical["worst_group_accuracy"] == frame.group_min()["accuracy"]
        for group, row in frame.by_group.iterrows():
            mine = ethical["by_group"][group]
            for name in ("selection_rate", "tpr", "fpr", "accuracy"):
                assert mine[name] == row[name]
            assert mine["rows"] == int((groups == group).sum())
            assert result["business"]["by_group"][attribute][group]["approval_rate"] == row["selection_rate"]


@pytest.mark.parametrize(
    ("y_kind", "p_kind", "sensitive_kind"),
    [
        ("series", "ndarray", "frame"),
        ("ndarray", "series", "series"),
        ("list", "list", "frame"),
        ("ndarray", "ndarray", "series"),
    ],
)
def test_pandas_and_numpy_inputs_give_the_same_result(y_kind: str, p_kind: str, sensitive_kind: str) -> None:
    y = {"series": pd.Series(Y_DEFAULT), "ndarray": np.array(Y_DEFAULT), "list": list(Y_DEFAULT)}[y_kind]
    p = {"series": pd.Series(P_DEFAULT), "ndarray": np.array(P_DEFAULT), "list": list(P_DEFAULT)}[p_kind]
    sensitive = {
        "frame": pd.DataFrame({"gender": GENDER}),
        "series": pd.Series(GENDER, name="gender"),
    }[sensitive_kind]
    assert evaluate_predictions(y, p, sensitive, ADVERSE, HALF) == tiny()


def test_categorical_and_non_default_index_inputs() -> None:
    index = pd.Index([10, 11, 12, 13, 14, 15, 16, 17])
    y = pd.Series(Y_DEFAULT, index=index)
    sensitive = pd.DataFrame({"gender": pd.Categorical(GENDER)}, index=index)
    assert evaluate_predictions(y, np.array(P_DEFAULT), sensitive, ADVERSE, HALF) == tiny()


# --------------------------------------------------------------------------- edge cases


@pytest.mark.fairness
def test_group_without_favourable_truth_rows_has_undefined_tpr_not_a_made_up_zero() -> None:
    y = pd.Series([1, 0, 0, 1, 1, 1])  # group "x" only has defaults: nobody truly good
    p = np.array([0.9, 0.2, 0.6, 0.4, 0.3, 0.8])
    sensitive = pd.DataFrame({"gender": ["f", "f", "f", "x", "x", "x"]})
    result = evaluate_predictions(y, p, sensitive, ADVERSE, HALF)
    ethical = result["ethical"]["gender"]
    assert ethical["by_group"]["x"]["tpr"] is None
    assert ethical["by_group"]["x"]["fpr"] == pytest.approx(2 / 3)
    assert ethical["equal_opportunity_difference"] is None
    assert ethical["equalized_odds_difference"] is None
    # demographic parity does not need the truth: still defined
    assert ethical["demographic_parity_difference"] == pytest.approx(abs(1 / 3 - 2 / 3))
    assert any("['x']" in note and "tpr undefined" in note for note in ethical["notes"])
    json.dumps(result, allow_nan=False)
    # why: fairlearn 0.15 silently scores the empty TPR as 0.0 and returns a number
    approved = (p <= 0.5).astype(int)
    good = (y == 0).astype(int)
    silent = equal_opportunity_difference(good, approved, sensitive_features=sensitive["gender"])
    assert math.isfinite(silent)


@pytest.mark.fairness
def test_group_of_one_row() -> None:
    y = pd.Series([1, 0, 0, 1, 0])
    p = np.array([0.9, 0.2, 0.6, 0.4, 0.1])
    sensitive = pd.DataFrame({"gender": ["f", "f", "f", "f", "solo"]})
    ethical = evaluate_predictions(y, p, sensitive, ADVERSE, HALF)["ethical"]["gender"]
    solo = ethical["by_group"]["solo"]
    assert solo == {"rows": 1, "selection_rate": 1.0, "tpr": 1.0, "fpr": None, "accuracy": 1.0}
    assert ethical["equalized_odds_difference"] is None
    assert ethical["equal_opportunity_difference"] == pytest.approx(1.0 - 0.5)
    assert ethical["demographic_parity_ratio"] == pytest.approx(0.5)
    assert any("fpr undefined" in note for note in ethical["notes"])


def test_all_predictions_equal_approve_everyone() -> None:
    y = pd.Series(Y_DEFAULT)
    result = evaluate_predictions(y, np.zeros(8), pd.DataFrame({"gender": GENDER}), ADVERSE, HALF)
    assert result["business"]["approval_rate"] == 1.0
    assert result["business"]["expected_cost"] == result["business"]["cost_approve_all"]
    assert result["technical"]["roc_auc"] == 0.5
    assert result["technical"]["f1"] == 0.0  # nothing predicted as default
    ethical = result["ethical"]["gender"]
    assert ethical["demographic_parity_difference"] == 0.0
    assert ethical["demographic_parity_ratio"] == 1.0
    assert ethical["equalized_odds_difference"] == 0.0


@pytest.mark.fairness
def test_all_predictions_equal_refuse_everyone_makes_parity_ratio_undefined() -> None:
    y = pd.Series(Y_DEFAULT)
    result = evaluate_predictions(y, np.ones(8), pd.DataFrame({"gender": GENDER}), ADVERSE, HALF)
    assert result["business"]["approval_rate"] == 0.0
    assert result["business"]["expected_cost"] == result["business"]["cost_refuse_all"]
    ethical = result["ethical"]["gender"]
    assert ethical["demographic_parity_difference"] == 0.0
    assert ethical["demographic_parity_ratio"] is None
    assert any("0/0" in note for note in ethical["notes"])


@pytest.mark.fairness
def test_single_group_makes_disparities_undefined() -> None:
    result = evaluate_predictions(
        pd.Series(Y_DEFAULT), np.array(P_DEFAULT), pd.DataFrame({"gender": ["f"] * 8}), ADVERSE, HALF
    )
    ethical = result["ethical"]["gender"]
    for name in ETHICAL_METRICS:
        if name != "worst_group_accuracy":
            assert ethical[name] is None
    assert ethical["worst_group_accuracy"] == pytest.approx(0.75)
    assert any("single group" in note for note in ethical["notes"])


def test_cost_saving_when_the_best_constant_costs_nothing() -> None:
    assert cost_saving(0.0, 0.0) == 0.0
    assert cost_saving(0.3, 0.0) is None
    assert cost_saving(0.25, 0.5) == 0.5


# --------------------------------------------------------------------------- input validation


def _evaluate(
    y: Any = None, p: Any = None, sensitive: Any = None, dataset: DatasetSettings = ADVERSE
) -> dict:
    return evaluate_predictions(
        pd.Series(Y_DEFAULT) if y is None else y,
        np.array(P_DEFAULT) if p is None else p,
        pd.DataFrame({"gender": GENDER}) if sensitive is None else sensitive,
        dataset,
        HALF,
    )


def test_single_class_is_refused_with_the_exact_message() -> None:
    with pytest.raises(BadInputError) as error:
        _evaluate(y=pd.Series([0] * 8))
    assert str(error.value) == ERR_SINGLE_CLASS.format(found="[0]", positive=1)
    assert str(error.value) == (
        "y_true holds a single class [0]: evaluation needs both the positive label 1 and another class"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"y": pd.Series([], dtype=int), "p": np.array([]), "sensitive": pd.DataFrame({"gender": []})},
            ERR_EMPTY,
        ),
        ({"p": np.array(P_DEFAULT[:7])}, ERR_LENGTH.format(expected=8, name="p_positive", found=7)),
        (
            {"sensitive": pd.DataFrame({"gender": GENDER[:7]})},
            ERR_LENGTH.format(expected=8, name="sensitive", found=7),
        ),
        ({"y": pd.Series([1, 0, 0, 1, 0, None, 1, 0])}, ERR_LABEL_MISSING.format(count=1)),
        ({"y": pd.Series([1, 0, 2, 1, 0, 0, 1, 0])}, ERR_TOO_MANY_CLASSES.format(count=3, found="[0, 1, 2]")),
        (
            {"y": pd.Series(["bad", "good"] * 4)},
            ERR_POSITIVE_ABSENT.format(positive=1, found="['bad', 'good']"),
        ),
        (
            {"p": np.array([0.9, 0.2, 0.6, 1.4, 0.1, 0.3, 0.8, 0.45])},
            ERR_PROBA_RANGE.format(name="p_positive", count=1, example=1.4),
        ),
        (
            {"p": np.array([0.9, 0.2, np.nan, 0.4, 0.1, 0.3, 0.8, 0.45])},
            ERR_PROBA_RANGE.format(name="p_positive", count=1, example=np.nan),
        ),
        (
            {"sensitive": pd.DataFrame({"gender": ["f", "f", None, "f", "m", "m", np.nan, "m"]})},
            ERR_SENSITIVE_MISSING.format(attribute="gender", count=2),
        ),
        (
            {"sensitive": pd.DataFrame({"sex": GENDER})},
            ERR_SENSITIVE_COLUMNS.format(expected=["gender"], found=["sex"]),
        ),
        (
            {"sensitive": pd.DataFrame({"gender": GENDER, "age": [1] * 8})},
            ERR_SENSITIVE_COLUMNS.format(expected=["gender"], found=["gender", "age"]),
        ),
        (
            {"sensitive": pd.DataFrame({"gender": GENDER}, index=range(1, 9))},
            ERR_INDEX.format(name="sensitive"),
        ),
        (
            {"sensitive": pd.DataFrame({"gender": pd.Series([1, "1", 1, 1, 2, 2, 2, 2], dtype=object)})},
            ERR_SENSITIVE_COLLISION.format(attribute="gender", found=["1", "2"]),
        ),
    ],
)
def test_bad_inputs_are_refused_at_the_entry_point(kwargs: dict, message: str) -> None:
    with pytest.raises(BadInputError) as error:
        _evaluate(**kwargs)
    assert str(error.value) == message
    assert "\n" not in str(error.value)


def test_model_without_the_positive_label_is_refused() -> None:
    model = StubModel(["no", "yes"], np.full((8, 2), 0.5))
    with pytest.raises(BadInputError) as error:
        evaluate_model(
            model,
            pd.DataFrame({"row": range(8)}),
            pd.Series(Y_DEFAULT),
            pd.DataFrame({"gender": GENDER}),
            ADVERSE,
            HALF,
        )
    assert str(error.value) == ERR_MODEL_CLASSES.format(found=["no", "yes"], positive=1)


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("latency_batch_rows", 0, "Input should be greater than or equal to 1"),
        ("latency_repeats", 0, "Input should be greater than or equal to 1"),
        ("latency_batches", 0, "Input should be greater than or equal to 1"),
    ],
)
def test_latency_settings_are_validated_with_the_key_named(key: str, value: int, problem: str) -> None:
    raw = yaml.safe_load((ROOT / "fairgate.yaml").read_text(encoding="utf-8"))
    raw["evaluation"][key] = value
    with pytest.raises(BadInputError) as error:
        parse_config(raw)
    assert str(error.value) == f"fairgate.yaml: evaluation.{key}: {problem}"


# --------------------------------------------------------------------------- reporting


def test_flatten_metrics_gives_valid_mlflow_names_and_keeps_undefined_as_nan() -> None:
    y = pd.Series([1, 0, 0, 1, 1, 1])
    p = np.array([0.9, 0.2, 0.6, 0.4, 0.3, 0.8])
    sensitive = pd.DataFrame(
        {"gender": ["female : married", "female : married", "female : married", "x/y", "x/y", "x/y"]}
    )
    flat = flatten_metrics(evaluate_predictions(y, p, sensitive, ADVERSE, HALF))
    for name in flat:
        assert_valid_mlflow_metric_name(name)
    assert flat["technical.roc_auc"] == pytest.approx(skm.roc_auc_score(y, p))
    assert "business.gender.female___married.approval_rate" in flat
    assert math.isnan(flat["ethical.gender.x_y.tpr"])
    assert math.isnan(flat["ethical.gender.equalized_odds_difference"])
    assert all(isinstance(value, float) for value in flat.values())
    assert not any(name.endswith("notes") or "by_group" in name for name in flat)


def test_flatten_metrics_names_from_the_brief() -> None:
    flat = flatten_metrics(tiny())
    assert flat["technical.roc_auc"] == tiny()["technical"]["roc_auc"]
    assert flat["business.expected_cost"] == tiny()["business"]["expected_cost"]
    assert (
        flat["ethical.gender.demographic_parity_ratio"]
        == tiny()["ethical"]["gender"]["demographic_parity_ratio"]
    )
    assert flat["business.gender.f.approval_rate"] == 0.5
    assert flat["ethical.gender.m.tpr"] == 1.0


def test_per_group_table() -> None:
    table = per_group_table(tiny())
    base = ["attribute", "group", "rows", "approval_rate", "tpr", "fpr", "accuracy", "expected_cost"]
    bounds = [f"{m}_ci_{side}" for m in base[3:] for side in ("low", "high")]
    assert list(table.columns) == base + bounds
    assert table[base].to_dict("records") == [
        {
            "attribute": "gender",
            "group": "f",
            "rows": 4,
            "approval_rate": 0.5,
            "tpr": 0.5,
            "fpr": 0.5,
            "accuracy": 0.5,
            "expected_cost": 1.5,
        },
        {
            "attribute": "gender",
            "group": "m",
            "rows": 4,
            "approval_rate": 0.75,
            "tpr": 1.0,
            "fpr": 0.0,
            "accuracy": 1.0,
            "expected_cost": 0.0,
        },
    ]
    # the interval columns are the result's own intervals; NaN where one is undefined (4-row groups
    # are empty in some resamples)
    intervals = tiny()["intervals"]
    for column, path in (
        ("approval_rate", ("ethical", "gender", "by_group", "f", "selection_rate")),
        ("expected_cost", ("business", "by_group", "gender", "f", "expected_cost")),
    ):
        node = intervals
        for part in path:
            node = node[part]
        for side in ("low", "high"):
            shown = table.loc[0, f"{column}_ci_{side}"]
            assert (math.isnan(shown) and node[side] is None) or shown == node[side]


def test_plot_per_group_writes_a_png_without_touching_pyplot(tmp_path: Path) -> None:
    y, p, sensitive = _random_case(3, rows=200)
    dataset = DatasetSettings(target="y", sensitive=["gender", "region"])
    result = evaluate_predictions(y, p, sensitive, dataset, DecisionSettings(threshold=0.4))
    had_pyplot = "matplotlib.pyplot" in sys.modules
    path = plot_per_group(result, tmp_path / "per_group.png")
    assert path == tmp_path / "per_group.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert ("matplotlib.pyplot" in sys.modules) == had_pyplot


@pytest.mark.parametrize(
    "module",
    [
        "model/evaluate.py",
        "model/metrics.py",
        "model/holdout.py",
        "model/latency.py",
        "model/evaluation_tables.py",
        "model/bootstrap.py",
        "governance/gate.py",
        "reports/plots.py",
    ],
)
def test_matplotlib_is_not_imported_at_module_level(module: str) -> None:
    tree = ast.parse((ROOT / "pipelines" / module).read_text(encoding="utf-8"))
    top_level: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            top_level += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            top_level.append(node.module)
    assert not [name for name in top_level if name.split(".")[0] in {"matplotlib", "mlflow"}]


def test_metric_direction_covers_every_gateable_metric() -> None:
    assert set(METRIC_DIRECTION) == set(TECHNICAL_METRICS) | set(BUSINESS_METRICS) | set(ETHICAL_METRICS)
    assert METRIC_DIRECTION["roc_auc"] == "higher"
    assert METRIC_DIRECTION["log_loss"] == "lower"
    assert METRIC_DIRECTION["demographic_parity_ratio"] == "higher"
    assert METRIC_DIRECTION["demographic_parity_difference"] == "lower"


# --------------------------------------------------------------------------- the paired evaluation


def _pair(**settings: Any) -> dict:
    y, p, sensitive = _random_case(4, rows=400)
    p_champion = np.clip(p + np.random.default_rng(5).normal(0, 0.05, len(p)), 0, 1)
    dataset = DatasetSettings(target="y", sensitive=["gender", "region"])
    return compare_predictions(y, p, p_champion, sensitive, dataset, DecisionSettings(threshold=0.4),
                               EvaluationSettings(**settings))


def test_the_pair_has_both_results_a_comparison_and_the_bootstrap_settings() -> None:
    pair = _pair()
    assert set(pair) == {"candidate", "champion", "comparison", "bootstrap"}
    assert pair["bootstrap"] == {
        "method": "poisson",
        "interval": "percentile",
        "resamples": 1000,
        "seed": 20240607,
        "confidence": 0.95,
        "paired": True,
    }
    candidate, champion, comparison = pair["candidate"], pair["champion"], pair["comparison"]
    for path in (
        ("technical", "roc_auc"),
        ("business", "expected_cost"),
        ("business", "by_group", "region", "east", "approval_rate"),
        ("ethical", "gender", "demographic_parity_difference"),
        ("ethical", "region", "by_group", "north", "tpr"),
    ):
        values = []
        for tree in (candidate, champion, comparison, candidate["intervals"], champion["intervals"]):
            node = tree
            for part in path:
                node = node[part]
            values.append(node)
        mine, theirs, difference, my_interval, their_interval = values
        assert difference["difference"] == mine - theirs
        assert difference["low"] <= difference["high"] and difference["undefined"] == 0
        assert my_interval["low"] <= my_interval["high"] and their_interval["low"] <= their_interval["high"]
        if path[-1] != "demographic_parity_difference":  # a max - min near 0 is biased upward under resampling
            assert my_interval["low"] <= mine <= my_interval["high"], path
            assert their_interval["low"] <= theirs <= their_interval["high"], path
    json.dumps(pair, allow_nan=False)


def test_without_a_champion_there_is_no_comparison() -> None:
    y, p, sensitive = _random_case(4, rows=200)
    dataset = DatasetSettings(target="y", sensitive=["gender", "region"])
    pair = compare_predictions(y, p, None, sensitive, dataset, DecisionSettings(threshold=0.4))
    assert pair["champion"] is None and pair["comparison"] is None
    assert pair["candidate"]["bootstrap"]["paired"] is False
    assert pair["candidate"] == evaluate_predictions(y, p, sensitive, dataset, DecisionSettings(threshold=0.4))


def test_the_seed_decides_the_intervals_and_nothing_else() -> None:
    first, again, other = _pair(), _pair(), _pair(bootstrap={"seed": 99})
    assert first == again
    for key in ("technical", "business", "ethical"):
        assert first["candidate"][key] == other["candidate"][key]
    assert first["candidate"]["intervals"] != other["candidate"]["intervals"]


def test_the_intersection_is_one_more_attribute_when_configured() -> None:
    pair = _pair(intersection=True)
    ethical = pair["candidate"]["ethical"]
    assert list(ethical) == ["gender", "region", "gender+region"]
    groups = ethical["gender+region"]["by_group"]
    assert list(groups) == sorted(groups) and "female+east" in groups
    assert sum(g["rows"] for g in groups.values()) == 400
    assert set(pair["candidate"]["business"]["by_group"]) == {"gender", "region", "gender+region"}
    assert "gender+region" not in _pair()["candidate"]["ethical"]


def test_intersection_names_that_collide_are_refused() -> None:
    sensitive = pd.DataFrame({"a": ["x+y", "x", "x", "x+y"], "b": ["z", "y+z", "z", "z"]})
    dataset = DatasetSettings(target="y", sensitive=["a", "b"])
    with pytest.raises(BadInputError) as error:
        evaluate_predictions(pd.Series([1, 0, 1, 0]), np.array([0.1, 0.2, 0.3, 0.4]), sensitive, dataset, HALF,
                             EvaluationSettings(intersection=True))
    assert str(error.value) == ERR_INTERSECTION_COLLISION.format(attribute="a+b", found=["x+y+z"], separator="+")


def test_a_champion_probability_is_validated_like_the_candidates() -> None:
    with pytest.raises(BadInputError) as error:
        compare_predictions(pd.Series(Y_DEFAULT), np.array(P_DEFAULT), np.array(P_DEFAULT[:7]),
                            pd.DataFrame({"gender": GENDER}), ADVERSE, HALF)
    assert str(error.value) == ERR_LENGTH.format(expected=8, name="p_champion", found=7)
    with pytest.raises(BadInputError) as error:
        compare_predictions(pd.Series(Y_DEFAULT), np.array(P_DEFAULT), np.array(P_DEFAULT) + 0.5,
                            pd.DataFrame({"gender": GENDER}), ADVERSE, HALF)
    assert str(error.value) == ERR_PROBA_RANGE.format(name="p_champion", count=3, example=1.4)


def test_evaluate_models_times_both_models_on_the_same_batches() -> None:
    p_bad = np.array(P_DEFAULT)
    candidate = StubModel([0, 1], np.column_stack([1.0 - p_bad, p_bad]))
    champion = StubModel([0, 1], np.column_stack([p_bad * 0.5, 1.0 - p_bad * 0.5]))
    features = pd.DataFrame({"row": range(8)})
    timing = EvaluationSettings(latency_batch_rows=2, latency_batches=3, latency_repeats=2)
    pair = evaluate_models(candidate, features, champion, features, pd.Series(Y_DEFAULT),
                           pd.DataFrame({"gender": GENDER}), ADVERSE, HALF, timing)
    for which in ("candidate", "champion"):
        assert pair[which]["latency"] == {"batch_rows": 2, "batches": 3, "repeats": 2, "samples": 6}
        assert {"latency_ms_p50", "latency_ms_p95"} <= set(pair[which]["technical"])
        assert pair[which]["intervals"]["technical"]["latency_ms_p95"]["undefined"] == 0
    assert "latency_ms_p95" in pair["comparison"]["technical"]
    assert pair["candidate"]["ethical"] == tiny()["ethical"]
    with pytest.raises(BadInputError) as error:
        evaluate_models(candidate, features, champion, None, pd.Series(Y_DEFAULT),
                        pd.DataFrame({"gender": GENDER}), ADVERSE, HALF)
    assert str(error.value) == ERR_CHAMPION_FEATURES


def test_flatten_with_the_pair_puts_champion_and_difference_next_to_each_metric() -> None:
    pair = _pair()
    flat = flatten_metrics(pair["candidate"], pair)
    for name in flat:
        assert_valid_mlflow_metric_name(name)
    comparison = pair["comparison"]["ethical"]["gender"]["demographic_parity_difference"]
    assert flat["ethical.gender.demographic_parity_difference.difference"] == comparison["difference"]
    assert flat["ethical.gender.demographic_parity_difference.difference.ci_low"] == comparison["low"]
    assert flat["ethical.gender.demographic_parity_difference.difference.ci_high"] == comparison["high"]
    assert flat["technical.roc_auc.champion"] == pair["champion"]["technical"]["roc_auc"]
    roc = pair["champion"]["intervals"]["technical"]["roc_auc"]
    assert (flat["technical.roc_auc.champion.ci_low"], flat["technical.roc_auc.champion.ci_high"]) == (
        roc["low"],
        roc["high"],
    )
    assert flat["ethical.region.north.tpr.ci_low"] == pair["candidate"]["intervals"]["ethical"]["region"]["by_group"][
        "north"
    ]["tpr"]["low"]
    # counts have no interval and nothing to compare
    assert "ethical.gender.female.rows" in flat and "ethical.gender.female.rows.ci_low" not in flat
    assert "ethical.gender.female.rows.difference" not in flat
    # every metric of the candidate with an interval has its 9 numbers
    assert len([n for n in flat if n.endswith(".difference.ci_high")]) == len(
        [n for n in flatten_metrics(pair["candidate"]) if n.endswith(".ci_high")]
    )


def test_fairgate_yaml_has_the_evaluation_section() -> None:
    raw = yaml.safe_load((ROOT / "fairgate.yaml").read_text(encoding="utf-8"))
    config = parse_config(raw)
    assert config.evaluation == EvaluationSettings()  # the file states the defaults explicitly
    assert raw["evaluation"]["bootstrap"] == {"resamples": 1000, "seed": 20240607, "confidence": 0.95, "workers": 2}


# --------------------------------------------------------------------------- decisions only: the count path


def test_evaluate_decisions_is_the_count_path_of_compare_predictions() -> None:
    y, p, sensitive = _random_case(6, rows=500)
    p_champion = np.clip(p + np.random.default_rng(7).normal(0, 0.05, len(p)), 0, 1)
    dataset = DatasetSettings(target="y", sensitive=["gender", "region"])
    decision = DecisionSettings(threshold=0.4)
    full = compare_predictions(y, p, p_champion, sensitive, dataset, decision)
    counts = evaluate_decisions(y, p <= 0.4, (p_champion <= 0.4).astype(int), sensitive, dataset, decision)
    for which in ("candidate", "champion"):
        assert counts[which]["ethical"] == full[which]["ethical"]
        assert counts[which]["business"] == full[which]["business"]
        assert counts[which]["intervals"]["ethical"] == full[which]["intervals"]["ethical"]
        assert counts[which]["intervals"]["business"] == full[which]["intervals"]["business"]
        assert set(counts[which]["technical"]) == {"accuracy", "balanced_accuracy", "f1"}
        for name in ("accuracy", "balanced_accuracy", "f1"):
            # from the counts here, from scikit-learn there: the same numbers
            assert counts[which]["technical"][name] == pytest.approx(full[which]["technical"][name], abs=1e-15)
            assert counts[which]["intervals"]["technical"][name] == full[which]["intervals"]["technical"][name]
    assert counts["comparison"]["ethical"] == full["comparison"]["ethical"]


@pytest.mark.parametrize(
    ("approved", "message"),
    [
        (np.array([1, 0, 2, 1, 0, 1, 1, 0]), ERR_DECISION_VALUES.format(name="approved", count=1, example=2)),
        (np.array([[1, 0]] * 8), ERR_DECISION_SHAPE.format(name="approved", shape=(8, 2))),
        (np.array([True] * 7), ERR_LENGTH.format(expected=8, name="approved", found=7)),
    ],
)
def test_decisions_are_validated(approved: np.ndarray, message: str) -> None:
    with pytest.raises(BadInputError) as error:
        evaluate_decisions(pd.Series(Y_DEFAULT), approved, None, pd.DataFrame({"gender": GENDER}), ADVERSE, HALF)
    assert str(error.value) == message


@pytest.mark.parametrize(
    ("key", "value"),
    [("evaluation.intersection", False), ("evaluation.latency_batch_rows", 10), ("evaluation.bootstrap.seed", 1)],
)
def test_a_run_may_not_change_how_the_gate_measures(key: str, value: object) -> None:
    from pipelines.core.config import load_config, override_refusals

    config = load_config(ROOT / "fairgate.yaml")
    assert override_refusals(config, {key: value}) == [
        f"override refused: {key} is a governance setting (evaluation) and cannot change for one run; "
        "change fairgate.yaml through review instead"
    ]
