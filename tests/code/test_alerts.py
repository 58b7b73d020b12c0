"""Classifying monitored values into breaches: severity, confidence, the rollback trigger, bad input.

Every rule is tested in both directions: a value just beyond a limit
breaches, a value at it does not; an interval wholly beyond is confident, one
that reaches the limit is not; only an ethical value triggers the rollback.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from pipelines.core.config import load_config
from pipelines.core.errors import BadInputError
from pipelines.core.monitored_values import MonitoredValue
from pipelines.governance.alerts import AlertResult, classify

REPO = Path(__file__).resolve().parents[2]


def value(v: float, low: float | None = None, high: float | None = None, *, family: str = "ethical",
          horizon: str = "decision_time", direction: str = "min", warn: float | None = 0.85,
          critical: float | None = 0.8, metric: str = "demographic_parity_ratio",
          subject: str = "gender") -> MonitoredValue:
    return MonitoredValue(horizon, family, metric, subject, v, low, high, warn, critical, direction)  # type: ignore[arg-type]


def only_breach(*values: MonitoredValue):
    (breach,) = classify(values).breaches
    return breach


# ---------------------------------------------------------------- severity


@pytest.mark.parametrize(
    ("measured", "severity"),
    [(0.9, None), (0.85, None), (0.8499999, "warn"), (0.8, "warn"), (0.7999999, "critical"), (0.1, "critical")],
)
def test_severity_by_the_limits_a_value_at_a_limit_passes_as_at_the_gate(measured, severity):
    result = classify([value(measured)])
    assert result.verdict == (severity or "ok")
    assert [b.severity for b in result.breaches] == ([severity] if severity else [])


@pytest.mark.parametrize(("measured", "severity"), [(0.05, None), (0.1, None), (0.11, "warn"), (0.21, "critical")])
def test_a_maximum_breaches_above_its_limits(measured, severity):
    drift = value(measured, family="drift", direction="max", warn=0.1, critical=0.2, metric="psi", subject="income")
    assert [b.severity for b in classify([drift]).breaches] == ([severity] if severity else [])


def test_a_value_with_only_one_limit_and_one_with_none():
    assert only_breach(value(0.5, warn=None)).severity == "critical"
    assert only_breach(value(0.82, critical=None)).severity == "warn"
    assert classify([value(0.0, warn=None, critical=None)]).verdict == "ok"  # recorded, never alerting


# ---------------------------------------------------------------- confidence


@pytest.mark.parametrize(
    ("low", "high", "confident"),
    [(0.6, 0.79, True), (0.6, 0.8, False), (0.6, 0.95, False), (None, None, True)],
)
def test_a_critical_breach_is_confident_only_when_the_whole_interval_lies_beyond(low, high, confident):
    breach = only_breach(value(0.7, low, high))
    assert breach.severity == "critical" and breach.confident is confident
    assert breach.triggers_rollback is confident
    assert ("; confident" in breach.describe()) is confident


@pytest.mark.parametrize(("low", "high", "confident"), [(0.21, 0.4, True), (0.2, 0.4, False), (0.05, 0.4, False)])
def test_confidence_on_a_maximum_is_the_low_bound_beyond(low, high, confident):
    drift = value(0.3, low, high, family="ethical", direction="max", warn=0.1, critical=0.2,
                  metric="demographic_parity_difference")
    assert only_breach(drift).confident is confident


def test_a_warn_breach_is_confident_against_the_warn_limit_and_never_triggers():
    breach = only_breach(value(0.82, 0.81, 0.84))
    assert (breach.severity, breach.limit, breach.confident, breach.triggers_rollback) == ("warn", 0.85, True, False)


# ---------------------------------------------------------------- what triggers the rollback


@pytest.mark.parametrize("family", ["technical", "business", "drift", "decisions", "shadow"])
def test_a_confident_critical_breach_of_any_other_family_never_triggers_the_rollback(family):
    result = classify([value(0.5, 0.4, 0.6, family=family)])
    assert result.verdict == "critical" and result.critical and result.rollback_trigger == ()


def test_only_the_ethical_confident_critical_breach_is_the_trigger_among_many():
    result = classify([
        value(0.5, 0.4, 0.6, family="technical", metric="roc_auc", subject="overall", horizon="estimated"),
        value(0.7, 0.6, 0.85),                                   # ethical, critical, straddling: not confident
        value(0.7, 0.6, 0.79, horizon="realised"),                # ethical, critical, confident: the trigger
        value(0.83, 0.8, 0.84, subject="age_band"),               # ethical warn
    ])
    assert [(b.value.horizon, b.value.subject) for b in result.rollback_trigger] == [("realised", "gender")]
    assert {h.horizon: h.verdict for h in result.horizons} == {
        "decision_time": "critical", "estimated": "critical", "realised": "critical"
    }
    assert result.summary().startswith("critical: decision_time critical (2 of 2 beyond a limit)")


def test_clean_values_are_ok_and_the_horizons_keep_their_order():
    result = classify([value(0.95, 0.9, 0.99, horizon="realised"), value(0.9, 0.86, 0.94)])
    assert result.verdict == "ok" and result.breaches == ()
    assert [h.horizon for h in result.horizons] == ["decision_time", "realised"]
    assert classify([]).verdict == "ok" and classify([]).summary() == "ok: nothing was monitored"


def test_the_result_survives_its_json_form_exactly():
    """Through XCom: the same breaches, the same floats to the last bit, the same counts."""
    third = 1 / 3
    result = classify([value(third, third - 1e-12, third + 1e-12), value(0.95, 0.9, 0.99, subject="age_band"),
                       value(0.83, None, None, horizon="realised")])
    back = AlertResult.from_dict(result.to_dict())
    assert back == result
    assert back.breaches[0].value.value == third
    assert back.horizon("decision_time").checked == 2  # the value within its limits is counted, not carried


# ---------------------------------------------------------------- bad input, one line each


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (value(math.nan), "value is nan; a value that could not be measured must be left out"),
        (value(0.7, 0.6, math.inf), "high is inf"),
        (value(0.7, 0.6, None), "low and high must both be given or both be None"),
        (value(0.7, 0.72, 0.9), "the interval [0.72, 0.9] does not hold the value 0.7"),
        (value(0.7, warn=0.8, critical=0.85), "critical (0.85) must lie beyond warn (0.8) on the min side"),
        (replace(value(0.7), family="fairness"), "family must be one of drift, decisions, shadow, technical"),
        (replace(value(0.7), horizon="yearly"), "horizon must be one of decision_time, estimated, realised"),
        (replace(value(0.7), value="0.7"), "value must be a number, found '0.7'"),
        (replace(value(0.7), value=True), "value must be a number, found True"),
    ],
)
def test_bad_monitored_values_are_refused_naming_the_value(bad, message):
    with pytest.raises(BadInputError) as refused:
        classify([bad])
    assert message in str(refused.value)
    assert "\n" not in str(refused.value)


def test_the_same_value_twice_is_refused():
    with pytest.raises(BadInputError, match="decision_time/ethical/demographic_parity_ratio/gender is given twice"):
        classify([value(0.9), value(0.7)])


def test_something_else_than_a_result_is_refused():
    with pytest.raises(BadInputError, match="not a classified alert result"):
        AlertResult.from_dict({"verdict": "ok"})


# ---------------------------------------------------------------- configuration


def _config(tmp_path: Path, **alerts: object):
    raw = yaml.safe_load((REPO / "fairgate.yaml").read_text(encoding="utf-8"))
    raw["monitoring"]["alerts"].update(alerts)
    path = tmp_path / "fairgate.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return load_config(path)


def test_the_alert_settings_of_the_repository_file():
    settings = load_config(REPO / "fairgate.yaml").monitoring.alerts
    assert settings.automatic_rollback is True and settings.retrain_on_critical is True
    assert settings.notification_file == "var/alerts/notifications.jsonl"


@pytest.mark.parametrize("bad", ["/tmp/alerts.jsonl", "alerts.jsonl", "var/../alerts.jsonl", "var", "var\\a.jsonl"])
def test_a_notification_file_outside_var_is_refused_naming_the_key(tmp_path, bad):
    with pytest.raises(BadInputError, match=r"fairgate.yaml: monitoring.alerts.notification_file: .*under var/"):
        _config(tmp_path, notification_file=bad)


@pytest.mark.parametrize(("key", "bad"), [("automatic_rollback", "sometimes"), ("retrain_on_critical", 3)])
def test_switches_must_be_booleans(tmp_path, key, bad):
    with pytest.raises(BadInputError, match=f"monitoring.alerts.{key}"):
        _config(tmp_path, **{key: bad})
