"""Model tests of pipelines.governance.gate: absolute bounds, non-regression, fail-closed, two gates."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from pipelines.core.config import Bound, DatasetSettings, DecisionSettings, GateSettings, load_config
from pipelines.core.errors import BadInputError
from pipelines.governance.gate import (
    ERR_CHAMPION_MISSING,
    NOTE_NO_CHAMPION,
    REASON_EMPTY_GATE,
    RULE,
    GateDecision,
    decide,
)
from pipelines.model.evaluate import evaluate_predictions
from tests.model.results import ethical_section, make_result

ROOT = Path(__file__).resolve().parents[2]


def only(decision: GateDecision, metric: str) -> Any:
    matches = [check for check in decision.checks if check.metric == metric]
    assert len(matches) == 1, [c.metric for c in decision.checks]
    return matches[0]


# --------------------------------------------------------------------------- absolute bounds


@pytest.mark.parametrize(
    ("value", "bound", "passed"),
    [
        (0.71, Bound(min=0.7), True),
        (0.70, Bound(min=0.7), True),  # the bound itself passes
        (0.69, Bound(min=0.7), False),
        (0.44, Bound(max=0.45), True),
        (0.45, Bound(max=0.45), True),
        (0.46, Bound(max=0.45), False),
    ],
)
def test_absolute_min_and_max(value: float, bound: Bound, passed: bool) -> None:
    gate = GateSettings(technical={"log_loss": bound}, ethical={"worst_group_accuracy": Bound(min=0.0)})
    decision = decide(make_result(technical={"log_loss": value}), None, gate)
    check = only(decision, "technical.log_loss")
    assert check.passed is passed
    assert check.kind == "absolute"
    assert check.gate == "technical"
    assert check.candidate == value
    assert check.limit == (bound.min if bound.min is not None else bound.max)
    assert check.champion is None and check.difference is None
    assert decision.technical_passed is passed
    assert decision.passed is passed


def test_reason_sentences_for_people() -> None:
    gate = GateSettings(
        technical={"roc_auc": Bound(min=0.7), "log_loss": Bound(max=0.4)},
        ethical={"demographic_parity_ratio": Bound(min=0.8)},
    )
    candidate = make_result(
        technical={"roc_auc": 0.7712, "log_loss": 0.45},
        ethical={"gender": ethical_section(demographic_parity_ratio=0.7312)},
    )
    decision = decide(candidate, None, gate)
    # a hand-made result carries no bootstrap intervals: the sentence says so
    assert only(decision, "technical.roc_auc").reason == (
        "technical.roc_auc = 0.7712 >= min 0.7 (margin 0.0712); interval: none"
    )
    assert only(decision, "technical.log_loss").reason == (
        "technical.log_loss = 0.45 > max 0.4 (over by 0.05); interval: none"
    )
    assert only(decision, "ethical.gender.demographic_parity_ratio").reason == (
        "ethical.gender.demographic_parity_ratio = 0.7312 < min 0.8 (short by 0.0688); interval: none"
    )
    assert decision.reasons() == [
        "technical.log_loss = 0.45 > max 0.4 (over by 0.05); interval: none",
        "ethical.gender.demographic_parity_ratio = 0.7312 < min 0.8 (short by 0.0688); interval: none",
    ]
    assert all(check.confidence == "no interval" for check in decision.checks)


def test_a_bound_with_both_sides_makes_two_checks() -> None:
    gate = GateSettings(
        business={"approval_rate": Bound(min=0.3, max=0.5)}, ethical={"worst_group_accuracy": Bound(min=0)}
    )
    decision = decide(make_result(business={"approval_rate": 0.6}), None, gate)
    checks = [c for c in decision.checks if c.metric == "business.approval_rate"]
    assert [(c.bound, c.limit, c.passed) for c in checks] == [("min", 0.3, True), ("max", 0.5, False)]
    assert not decision.technical_passed


def test_values_are_never_rounded_in_the_decision() -> None:
    value = 0.70000000000000007  # one ulp above 0.7
    gate = GateSettings(
        technical={"roc_auc": Bound(min=0.7000000000000001)}, ethical={"worst_group_accuracy": Bound(min=0)}
    )
    decision = decide(make_result(technical={"roc_auc": value}), None, gate)
    check = only(decision, "technical.roc_auc")
    assert check.candidate == value
    assert check.passed is (value >= 0.7000000000000001)
    assert decision.to_dict()["checks"][0]["candidate"] == value


@pytest.mark.fairness
@pytest.mark.parametrize("undefined", [None, float("nan")])
def test_an_undefined_metric_fails_closed(undefined: float | None) -> None:
    gate = GateSettings(
        technical={"roc_auc": Bound(min=0.7)},
        ethical={"equalized_odds_difference": Bound(max=0.1)},
    )
    candidate = make_result(ethical={"gender": ethical_section(equalized_odds_difference=undefined)})
    decision = decide(candidate, None, gate)
    check = only(decision, "ethical.gender.equalized_odds_difference")
    assert check.passed is False
    assert math.isnan(check.candidate)
    assert "not computable" in check.reason
    assert check.reason == (
        "ethical.gender.equalized_odds_difference not computable (undefined value): "
        "fails closed against max 0.1"
    )
    assert decision.technical_passed and not decision.ethical_passed and not decision.passed
    as_dict = decision.to_dict()
    json.dumps(as_dict, allow_nan=False)
    assert as_dict["checks"][-1]["candidate"] is None


# --------------------------------------------------------------------------- configuration errors


def test_unknown_metric_key_error_message_is_exact() -> None:
    gate = GateSettings(technical={"roc_auk": Bound(min=0.7)})
    with pytest.raises(BadInputError) as error:
        decide(make_result(), None, gate)
    assert str(error.value) == (
        "gate.technical.roc_auk: no such metric; known: accuracy, balanced_accuracy, brier, f1, "
        "latency_ms_p50, latency_ms_p95, log_loss, roc_auc"
    )


@pytest.mark.parametrize(
    ("gate", "message"),
    [
        (
            GateSettings(business={"cost_best_constant": Bound(max=1.0)}),
            "gate.business.cost_best_constant: no such metric; known: approval_rate, "
            "cost_saving_vs_best_constant, expected_cost",
        ),
        (
            GateSettings(ethical={"disparate_impact": Bound(min=0.8)}),
            "gate.ethical.disparate_impact: no such metric; known: demographic_parity_difference, "
            "demographic_parity_ratio, equal_opportunity_difference, equalized_odds_difference, "
            "worst_group_accuracy",
        ),
    ],
)
def test_unknown_keys_in_other_families(gate: GateSettings, message: str) -> None:
    with pytest.raises(BadInputError) as error:
        decide(make_result(), None, gate)
    assert str(error.value) == message


def test_unknown_non_regression_key_is_refused_even_without_a_champion() -> None:
    gate = GateSettings(non_regression={"roc_auc": 0.02})
    with pytest.raises(BadInputError) as error:
        decide(make_result(), None, gate)
    assert str(error.value).startswith(
        "gate.non_regression.roc_auc: no such metric; known: business.approval_rate, "
    )
    assert "technical.roc_auc" in str(error.value)
    assert "ethical.demographic_parity_difference" in str(error.value)


def test_latency_bound_on_a_result_without_latency_is_an_unknown_metric() -> None:
    candidate = make_result()
    del candidate["technical"]["latency_ms_p50"], candidate["technical"]["latency_ms_p95"]
    with pytest.raises(BadInputError, match=r"^gate\.technical\.latency_ms_p95: no such metric; known: "):
        decide(candidate, None, GateSettings(technical={"latency_ms_p95": Bound(max=50.0)}))


def test_champion_without_a_compared_metric_is_an_error() -> None:
    champion = make_result()
    del champion["technical"]["roc_auc"]
    gate = GateSettings(technical={"roc_auc": Bound(min=0.5)}, non_regression={"technical.roc_auc": 0.02})
    with pytest.raises(BadInputError) as error:
        decide(make_result(), champion, gate)
    assert str(error.value) == ERR_CHAMPION_MISSING.format(metric="technical.roc_auc")


def test_every_key_of_fairgate_yaml_is_a_known_metric() -> None:
    config = load_config(ROOT / "fairgate.yaml")
    candidate = make_result(ethical={"gender": ethical_section()})
    decision = decide(candidate, copy.deepcopy(candidate), config.gate, champion_version="1")
    metrics = {check.metric for check in decision.checks}
    for name in config.gate.technical:
        assert f"technical.{name}" in metrics
    for name in config.gate.business:
        assert f"business.{name}" in metrics
    for name in config.gate.ethical:
        assert f"ethical.gender.{name}" in metrics
    assert sum(c.kind == "non_regression" for c in decision.checks) == len(config.gate.non_regression)


# --------------------------------------------------------------------------- non-regression


def _non_regression(metric: str, candidate_value: float, champion_value: float, tolerance: float) -> Any:
    family, name = metric.split(".")
    gate = GateSettings(non_regression={metric: tolerance})
    candidate_overrides: dict[str, dict[str, Any]] = {family: {name: candidate_value}}
    champion_overrides: dict[str, dict[str, Any]] = {family: {name: champion_value}}
    candidate = make_result(**candidate_overrides)
    champion = make_result(**champion_overrides)
    return only(decide(candidate, champion, gate, champion_version="7"), metric)


@pytest.mark.parametrize(
    ("candidate_value", "passed"),
    [
        (0.83, True),  # better
        (0.80, True),  # equal
        (0.79, True),  # worse by 0.01 <= 0.02
        (0.77, False),  # worse by 0.03 > 0.02
    ],
)
def test_non_regression_higher_is_better(candidate_value: float, passed: bool) -> None:
    check = _non_regression("technical.roc_auc", candidate_value, 0.80, 0.02)
    assert check.kind == "non_regression" and check.gate == "technical"
    assert check.passed is passed
    assert check.champion == 0.80
    assert check.limit == 0.80 - 0.02
    assert check.bound == "min"
    assert check.difference == candidate_value - 0.80
    if not passed:
        assert check.reason == (
            "technical.roc_auc = 0.77 vs champion 0.8 (higher is better): worse by 0.03 > tolerance 0.02 "
            "(needs >= 0.78); paired interval of the difference: none"
        )


@pytest.mark.parametrize(
    ("candidate_value", "passed"),
    [
        (0.40, True),  # better (lower)
        (0.46, True),  # worse by 0.01 <= 0.02
        (0.50, False),  # worse by 0.05 > 0.02
    ],
)
def test_non_regression_lower_is_better(candidate_value: float, passed: bool) -> None:
    check = _non_regression("technical.log_loss", candidate_value, 0.45, 0.02)
    assert check.passed is passed
    assert check.limit == 0.45 + 0.02
    assert check.bound == "max"
    assert check.difference == candidate_value - 0.45
    if passed and candidate_value < 0.45:
        assert "better by 0.05" in check.reason
    if not passed:
        assert "worse by 0.05 > tolerance 0.02" in check.reason


def test_business_non_regression_goes_to_the_technical_gate() -> None:
    check = _non_regression("business.expected_cost", 0.50, 0.40, 0.05)
    assert check.gate == "technical" and check.passed is False


@pytest.mark.fairness
def test_non_regression_against_an_undefined_champion_value_fails_closed() -> None:
    gate = GateSettings(non_regression={"ethical.equalized_odds_difference": 0.02})
    champion = make_result(ethical={"gender": ethical_section(equalized_odds_difference=None)})
    decision = decide(make_result(), champion, gate)
    check = only(decision, "ethical.gender.equalized_odds_difference")
    assert check.passed is False
    assert check.reason == (
        "ethical.gender.equalized_odds_difference not computable (champion value undefined): "
        "non-regression fails closed"
    )


def test_without_champion_only_absolute_thresholds_apply() -> None:
    gate = GateSettings(
        technical={"roc_auc": Bound(min=0.7)},
        ethical={"demographic_parity_ratio": Bound(min=0.8)},
        non_regression={"technical.roc_auc": 0.0, "ethical.demographic_parity_difference": 0.0},
    )
    decision = decide(make_result(), None, gate)
    assert decision.notes == [NOTE_NO_CHAMPION]
    assert decision.notes == ["no champion yet: only absolute thresholds applied"]
    assert all(check.kind == "absolute" for check in decision.checks)
    assert decision.passed
    assert decision.champion_version is None


def test_with_a_champion_absolute_checks_show_its_value_for_context() -> None:
    gate = GateSettings(
        technical={"roc_auc": Bound(min=0.7)}, ethical={"worst_group_accuracy": Bound(min=0.5)}
    )
    decision = decide(make_result(technical={"roc_auc": 0.82}), make_result(), gate, champion_version="3")
    check = only(decision, "technical.roc_auc")
    assert check.champion == 0.8
    assert check.difference == 0.82 - 0.8
    assert decision.notes == ["non-regression against champion version 3"]


# --------------------------------------------------------------------------- two gates


@pytest.mark.fairness
def test_ethical_checks_apply_to_every_attribute() -> None:
    gate = GateSettings(
        technical={"roc_auc": Bound(min=0.7)},
        ethical={"demographic_parity_ratio": Bound(min=0.8)},
        non_regression={"ethical.demographic_parity_difference": 0.02},
    )
    candidate = make_result(
        ethical={
            "gender": ethical_section(demographic_parity_ratio=0.9, demographic_parity_difference=0.05),
            "age_band": ethical_section(demographic_parity_ratio=0.75, demographic_parity_difference=0.10),
        }
    )
    champion = make_result(
        ethical={
            "gender": ethical_section(demographic_parity_difference=0.04),
            "age_band": ethical_section(demographic_parity_difference=0.05),
        }
    )
    decision = decide(candidate, champion, gate, champion_version="2")
    ethical = {(c.metric, c.kind): c.passed for c in decision.checks if c.gate == "ethical"}
    assert ethical == {
        ("ethical.gender.demographic_parity_ratio", "absolute"): True,
        ("ethical.age_band.demographic_parity_ratio", "absolute"): False,
        ("ethical.gender.demographic_parity_difference", "non_regression"): True,
        ("ethical.age_band.demographic_parity_difference", "non_regression"): False,
    }
    assert decision.technical_passed and not decision.ethical_passed and not decision.passed
    assert all("age_band" in reason for reason in decision.reasons())
    assert len(decision.reasons()) == 2


@pytest.mark.fairness
def test_more_accurate_but_less_fair_candidate_is_blocked_by_the_ethical_gate() -> None:
    # group a: 200 applicants, 20 defaults; group b: 200 applicants, 100 defaults
    group = np.array(["a"] * 200 + ["b"] * 200)
    default = np.array([1] * 20 + [0] * 180 + [1] * 100 + [0] * 100)
    # champion: approves 70% in each group (equal approval rates), 80% accurate in each
    champion_approves = np.concatenate(
        [np.r_[np.zeros(20), np.ones(140), np.zeros(40)], np.r_[np.ones(40), np.zeros(60), np.ones(100)]]
    ).astype(bool)
    champion_p = np.where(champion_approves, 0.1, 0.9)
    # candidate: approves exactly the good applicants: more accurate, unequal approval rates (0.9 vs 0.5)
    candidate_p = np.where(default == 1, 0.95, 0.05)
    dataset = DatasetSettings(target="default", sensitive=["gender"])
    decision_settings = DecisionSettings(threshold=0.5)
    sensitive = pd.DataFrame({"gender": group})
    y = pd.Series(default)
    champion = evaluate_predictions(y, champion_p, sensitive, dataset, decision_settings)
    candidate = evaluate_predictions(y, candidate_p, sensitive, dataset, decision_settings)
    assert candidate["technical"]["accuracy"] > champion["technical"]["accuracy"]
    assert (
        candidate["ethical"]["gender"]["demographic_parity_difference"]
        > champion["ethical"]["gender"]["demographic_parity_difference"] + 0.02
    )

    gate = GateSettings(
        technical={"roc_auc": Bound(min=0.7), "accuracy": Bound(min=0.7)},
        ethical={"demographic_parity_ratio": Bound(min=0.5)},
        non_regression={
            "technical.accuracy": 0.02,
            "technical.roc_auc": 0.02,
            "ethical.demographic_parity_difference": 0.02,
        },
    )
    decision = decide(candidate, champion, gate, champion_version="4")
    assert decision.technical_passed is True
    assert decision.ethical_passed is False
    assert decision.passed is False
    failed = [c for c in decision.checks if not c.passed]
    assert [(c.gate, c.metric, c.kind) for c in failed] == [
        ("ethical", "ethical.gender.demographic_parity_difference", "non_regression")
    ]
    assert failed[0].candidate == pytest.approx(0.4)
    assert failed[0].champion == pytest.approx(0.0)
    assert decision.reasons() == [failed[0].reason]
    assert "worse by 0.4 > tolerance 0.02" in failed[0].reason


@pytest.mark.fairness
def test_an_empty_gate_fails_closed() -> None:
    decision = decide(make_result(), None, GateSettings(technical={"roc_auc": Bound(min=0.5)}))
    assert decision.technical_passed is True
    assert decision.ethical_passed is False
    assert decision.passed is False
    assert decision.reasons() == [REASON_EMPTY_GATE.format(gate="ethical")]


# --------------------------------------------------------------------------- reports


def test_to_dict_and_markdown() -> None:
    gate = GateSettings(
        technical={"roc_auc": Bound(min=0.7)},
        ethical={"demographic_parity_ratio": Bound(min=0.8)},
        non_regression={"technical.roc_auc": 0.02},
    )
    candidate = make_result(ethical={"gender": ethical_section(demographic_parity_ratio=0.7312)})
    decision = decide(candidate, make_result(), gate, champion_version="5")
    data = decision.to_dict()
    assert json.loads(json.dumps(data, allow_nan=False)) == data
    assert data["verdict"] == "blocked"
    assert data["passed"] is False and data["technical_passed"] is True and data["ethical_passed"] is False
    assert data["champion_version"] == "5"
    assert data["reasons"] == [
        "ethical.gender.demographic_parity_ratio = 0.7312 < min 0.8 (short by 0.0688); interval: none"
    ]
    assert data["rule"] == RULE
    assert data["uncertain_checks"] == []
    assert {c["metric"] for c in data["checks"]} == {
        "technical.roc_auc",
        "ethical.gender.demographic_parity_ratio",
    }

    markdown = decision.to_markdown()
    assert markdown.startswith("# Gate decision: BLOCKED\n")
    assert "## Technical gate: passed" in markdown
    assert "## Ethical gate: FAILED" in markdown
    assert f"Rule: {RULE}." in markdown
    header = (
        "| metric | kind | candidate | interval | champion | difference | interval of difference | limit "
        "| confidence | verdict |"
    )
    assert header in markdown
    row = (
        "| ethical.gender.demographic_parity_ratio | absolute | 0.7312 | - | 0.9167 | -0.1855 | - | >= 0.8 "
        "| no interval | **FAIL** |"
    )
    assert row in markdown
    assert "| technical.roc_auc | non-regression | 0.8 | - | 0.8 | +0 | - | >= 0.78 | no interval | pass |" in markdown
    assert (
        "- ethical.gender.demographic_parity_ratio = 0.7312 < min 0.8 (short by 0.0688); interval: none"
        in markdown
    )
