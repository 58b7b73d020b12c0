"""Model tests of how bootstrap intervals enter the gate: the point decides, the interval qualifies.

Hand-made results with chosen intervals, so every quadrant (pass or fail x the interval
on the verdict's side or straddling the limit) is pinned down exactly.
"""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import pytest

from pipelines.core.config import Bound, GateSettings
from pipelines.governance.gate import NOTE_NO_COMPARISON, NOTE_UNCERTAIN, GateCheck, decide
from tests.model.results import ethical_section, make_result


def interval(low: float | None, high: float | None) -> dict[str, Any]:
    return {"low": low, "high": high, "undefined": 0 if low is not None else 7}


def with_intervals(result: dict[str, Any], entries: dict[tuple[str, ...], dict[str, Any]]) -> dict[str, Any]:
    result = copy.deepcopy(result)
    tree: dict[str, Any] = {}
    for path, node in entries.items():
        where = tree
        for part in path[:-1]:
            where = where.setdefault(part, {})
        where[path[-1]] = node
    result["intervals"] = tree
    result["bootstrap"] = {"confidence": 0.9, "resamples": 1000, "seed": 1, "method": "poisson"}
    return result


def comparison(entries: dict[tuple[str, ...], tuple[float, float | None, float | None]]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path, (difference, low, high) in entries.items():
        where = tree
        for part in path[:-1]:
            where = where.setdefault(part, {})
        where[path[-1]] = {"difference": difference, **interval(low, high)}
    return tree


def only(checks: list[GateCheck], metric: str, kind: str) -> GateCheck:
    (check,) = [c for c in checks if c.metric == metric and c.kind == kind]
    return check


# --------------------------------------------------------------------------- absolute bounds


@pytest.mark.parametrize(
    ("value", "low", "high", "bound", "passed", "confidence"),
    [
        (0.80, 0.75, 0.85, Bound(min=0.7), True, "confident"),  # whole interval above the min
        (0.72, 0.68, 0.76, Bound(min=0.7), True, "uncertain"),  # passes on the point, interval straddles
        (0.68, 0.64, 0.72, Bound(min=0.7), False, "uncertain"),  # fails on the point, interval straddles
        (0.60, 0.55, 0.65, Bound(min=0.7), False, "confident"),  # whole interval below the min
        (0.70, 0.70, 0.75, Bound(min=0.7), True, "confident"),  # the bound itself is on the passing side
        (0.40, 0.35, 0.44, Bound(max=0.45), True, "confident"),
        (0.44, 0.40, 0.48, Bound(max=0.45), True, "uncertain"),
        (0.47, 0.44, 0.50, Bound(max=0.45), False, "uncertain"),
        (0.50, 0.46, 0.55, Bound(max=0.45), False, "confident"),
    ],
)
def test_absolute_check_confidence(
    value: float, low: float, high: float, bound: Bound, passed: bool, confidence: str
) -> None:
    candidate = with_intervals(
        make_result(technical={"log_loss": value}), {("technical", "log_loss"): interval(low, high)}
    )
    gate = GateSettings(technical={"log_loss": bound}, ethical={"worst_group_accuracy": Bound(min=0.0)})
    check = only(decide(candidate, None, gate).checks, "technical.log_loss", "absolute")
    assert check.passed is passed
    assert check.confidence == confidence
    assert (check.interval_low, check.interval_high) == (low, high)
    assert check.reason.endswith(f"; 90% interval [{low:.4g}, {high:.4g}]: {confidence}")


@pytest.mark.fairness
def test_the_verdict_never_depends_on_the_interval() -> None:
    """Same point estimates, intervals anywhere: the same verdicts, only the labels change."""
    gate = GateSettings(
        technical={"roc_auc": Bound(min=0.7)},
        ethical={"demographic_parity_difference": Bound(max=0.1)},
        non_regression={"technical.roc_auc": 0.02, "ethical.demographic_parity_difference": 0.02},
    )
    candidate = make_result(
        technical={"roc_auc": 0.71}, ethical={"gender": ethical_section(demographic_parity_difference=0.08)}
    )
    champion = make_result(
        technical={"roc_auc": 0.72}, ethical={"gender": ethical_section(demographic_parity_difference=0.05)}
    )
    verdicts = set()
    for low, high in ((-0.5, 0.5), (0.0, 0.0), (-0.001, 0.001), (0.2, 0.3), (None, None)):
        paths = {("technical", "roc_auc"): interval(low, high)}
        differences = {
            ("technical", "roc_auc"): (-0.01, low, high),
            ("ethical", "gender", "demographic_parity_difference"): (0.03, low, high),
        }
        decision = decide(with_intervals(candidate, paths), champion, gate, "3", comparison(differences))
        verdicts.add(tuple((c.metric, c.kind, c.passed) for c in decision.checks))
    assert verdicts == {
        (
            ("technical.roc_auc", "absolute", True),
            ("technical.roc_auc", "non_regression", True),
            ("ethical.gender.demographic_parity_difference", "absolute", True),
            ("ethical.gender.demographic_parity_difference", "non_regression", False),
        )
    }


# --------------------------------------------------------------------------- non-regression


@pytest.mark.fairness
@pytest.mark.parametrize(
    ("candidate_value", "low", "high", "passed", "confidence"),
    [
        # lower is better, champion 0.05, tolerance 0.02: the limit is 0.07 (worsening 0.02)
        (0.05, -0.01, 0.01, True, "confident"),  # worsening at most 0.01 over the whole interval
        (0.06, -0.005, 0.03, True, "uncertain"),  # passes on the point; the worsening may reach 0.03
        (0.08, 0.01, 0.05, False, "uncertain"),  # a small regression the holdout cannot prove: still blocked
        (0.09, 0.025, 0.055, False, "confident"),  # regression beyond the tolerance with confidence
    ],
)
def test_non_regression_lower_is_better_confidence(
    candidate_value: float, low: float, high: float, passed: bool, confidence: str
) -> None:
    gate = GateSettings(non_regression={"ethical.demographic_parity_difference": 0.02})
    candidate = make_result(ethical={"gender": ethical_section(demographic_parity_difference=candidate_value)})
    champion = make_result(ethical={"gender": ethical_section(demographic_parity_difference=0.05)})
    pair = comparison({("ethical", "gender", "demographic_parity_difference"): (candidate_value - 0.05, low, high)})
    decision = decide(candidate, champion, gate, "2", pair)
    check = only(decision.checks, "ethical.gender.demographic_parity_difference", "non_regression")
    assert check.passed is passed
    assert check.confidence == confidence
    assert (check.difference_low, check.difference_high) == (low, high)
    assert check.difference == pytest.approx(candidate_value - 0.05)
    assert check.reason.endswith(f"; paired interval of the difference [{low:+.4g}, {high:+.4g}]: {confidence}")
    assert decision.ethical_passed is passed


@pytest.mark.parametrize(
    ("candidate_value", "low", "high", "passed", "confidence"),
    [
        # higher is better, champion 0.80, tolerance 0.02: the limit is 0.78
        (0.81, -0.01, 0.03, True, "confident"),
        (0.79, -0.03, 0.01, True, "uncertain"),
        (0.77, -0.05, 0.01, False, "uncertain"),
        (0.75, -0.07, -0.03, False, "confident"),
    ],
)
def test_non_regression_higher_is_better_confidence(
    candidate_value: float, low: float, high: float, passed: bool, confidence: str
) -> None:
    gate = GateSettings(non_regression={"technical.roc_auc": 0.02}, ethical={"worst_group_accuracy": Bound(min=0)})
    pair = comparison({("technical", "roc_auc"): (candidate_value - 0.8, low, high)})
    decision = decide(make_result(technical={"roc_auc": candidate_value}), make_result(), gate, "2", pair)
    check = only(decision.checks, "technical.roc_auc", "non_regression")
    assert check.passed is passed
    assert check.confidence == confidence
    assert check.bound == "min" and check.limit == pytest.approx(0.78)


def test_intervals_are_read_per_attribute() -> None:
    gate = GateSettings(
        ethical={"demographic_parity_ratio": Bound(min=0.8)},
        non_regression={"ethical.demographic_parity_ratio": 0.05},
    )
    candidate = make_result(
        ethical={
            "gender": ethical_section(demographic_parity_ratio=0.9),
            "age_band": ethical_section(demographic_parity_ratio=0.85),
        }
    )
    candidate = with_intervals(
        candidate,
        {
            ("ethical", "gender", "demographic_parity_ratio"): interval(0.86, 0.94),
            ("ethical", "age_band", "demographic_parity_ratio"): interval(0.78, 0.91),
        },
    )
    champion = make_result(
        ethical={
            "gender": ethical_section(demographic_parity_ratio=0.9),
            "age_band": ethical_section(demographic_parity_ratio=0.88),
        }
    )
    pair = comparison(
        {
            ("ethical", "gender", "demographic_parity_ratio"): (0.0, -0.01, 0.01),
            ("ethical", "age_band", "demographic_parity_ratio"): (-0.03, -0.09, 0.02),
        }
    )
    checks = decide(candidate, champion, gate, "4", pair).checks
    assert only(checks, "ethical.gender.demographic_parity_ratio", "absolute").confidence == "confident"
    assert only(checks, "ethical.age_band.demographic_parity_ratio", "absolute").confidence == "uncertain"
    assert only(checks, "ethical.gender.demographic_parity_ratio", "non_regression").confidence == "confident"
    age = only(checks, "ethical.age_band.demographic_parity_ratio", "non_regression")
    assert (age.passed, age.confidence, age.difference_low, age.difference_high) == (True, "uncertain", -0.09, 0.02)


def test_uncertain_checks_are_listed_in_the_decision_json_and_notes() -> None:
    gate = GateSettings(
        technical={"roc_auc": Bound(min=0.7)},
        ethical={"demographic_parity_difference": Bound(max=0.1)},
    )
    candidate = with_intervals(
        make_result(technical={"roc_auc": 0.72}),
        {
            ("technical", "roc_auc"): interval(0.68, 0.76),
            ("ethical", "gender", "demographic_parity_difference"): interval(0.01, 0.09),
        },
    )
    decision = decide(candidate, None, gate)
    assert decision.passed
    assert decision.uncertain_checks() == ["passed absolute technical.roc_auc"]
    assert decision.notes[-1] == NOTE_UNCERTAIN.format(count=1, metrics="passed absolute technical.roc_auc")
    data = json.loads(json.dumps(decision.to_dict(), allow_nan=False))
    assert data["uncertain_checks"] == ["passed absolute technical.roc_auc"]
    assert data["confidence_level"] == 0.9
    roc = [c for c in data["checks"] if c["metric"] == "technical.roc_auc"][0]
    assert (roc["interval_low"], roc["interval_high"], roc["confidence"]) == (0.68, 0.76, "uncertain")
    markdown = decision.to_markdown()
    assert "| technical.roc_auc | absolute | 0.72 | [0.68, 0.76] | - | - | - | >= 0.7 | uncertain | pass |" in markdown
    assert "- passed absolute technical.roc_auc" in markdown
    assert "- checks decided on an uncertain point estimate: 1" in markdown


def test_a_champion_without_a_comparison_is_noted_and_checks_carry_no_interval() -> None:
    gate = GateSettings(non_regression={"technical.roc_auc": 0.02}, ethical={"worst_group_accuracy": Bound(min=0)})
    decision = decide(make_result(), make_result(), gate, "5")
    assert NOTE_NO_COMPARISON in decision.notes
    check = only(decision.checks, "technical.roc_auc", "non_regression")
    assert check.confidence == "no interval" and check.passed


def test_an_undefined_interval_bound_means_no_interval() -> None:
    candidate = with_intervals(make_result(), {("technical", "roc_auc"): interval(None, None)})
    gate = GateSettings(technical={"roc_auc": Bound(min=0.7)}, ethical={"worst_group_accuracy": Bound(min=0)})
    check = only(decide(candidate, None, gate).checks, "technical.roc_auc", "absolute")
    assert check.confidence == "no interval"
    assert check.reason.endswith("; 90% interval: none")
    assert check.interval_low is None and check.interval_high is None


@pytest.mark.fairness
def test_an_undefined_value_still_fails_closed_whatever_its_interval() -> None:
    gate = GateSettings(
        technical={"roc_auc": Bound(min=0.5)}, non_regression={"ethical.equalized_odds_difference": 0.02}
    )
    candidate = make_result(ethical={"gender": ethical_section(equalized_odds_difference=None)})
    pair = comparison({("ethical", "gender", "equalized_odds_difference"): (math.nan, -0.01, 0.01)})
    decision = decide(candidate, make_result(), gate, "1", pair)
    check = only(decision.checks, "ethical.gender.equalized_odds_difference", "non_regression")
    assert check.passed is False and check.confidence == "no interval"
    assert not decision.passed
