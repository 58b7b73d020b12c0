"""Small sensitive groups by declared policy, from evaluation to the gate (and training's groups).

The fixture (tests/small_groups.py) holds groups of 18 and 32 rows in 10,000.
A planted case: every ``amer_indian`` applicant is refused, so the four-fifths
ratio of ``race`` is 0 when that group is gated.  Under ``report_only`` the
group is reported with its intervals and the gate passes on the other groups;
without the policy (and with the audit's group limits lowered so the data
passes it) the same predictions are blocked by the gate.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from pipelines.core.config import (
    AuditSettings,
    DatasetSettings,
    DecisionSettings,
    EvaluationSettings,
    TrainingSettings,
    parse_config,
)
from pipelines.data.audit import audit_dataset
from pipelines.governance.gate import decide
from pipelines.model import train as train_module
from pipelines.model.evaluate import evaluate_predictions
from pipelines.model.metrics import ETHICAL_METRICS
from pipelines.model.train import train_model
from tests.small_groups import default_probability, small_group_table

REPO = Path(__file__).resolve().parents[2]
REASON = "reviewed 2026-12-07: 18 and 32 rows cannot carry a fairness estimate of their own"
MERGE = {"merge": [{"into": "other", "groups": ["amer_indian", "pacific"]}], "reason": REASON}
REPORT_ONLY = {"report_only": ["amer_indian", "pacific"], "reason": REASON}
DECISION = DecisionSettings()
EVALUATION = EvaluationSettings(bootstrap={"resamples": 200})
FEATURES = ["debt_ratio", "income", "employment_years", "education"]


def _dataset(small_groups: dict[str, Any] | None = None, sensitive: tuple[str, ...] = ("race",)) -> DatasetSettings:
    return DatasetSettings(
        target="default",
        time_column=None,
        id_columns=["application_id"],
        sensitive=list(sensitive),
        small_groups=small_groups or {},
    )


def _gate() -> Any:
    """The repository's gate (four-fifths ratio, parity and equalized-odds differences)."""
    raw = yaml.safe_load((REPO / "fairgate.yaml").read_text(encoding="utf-8"))
    return parse_config(raw).gate


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    frame = small_group_table()
    frame["sex"] = np.random.default_rng(5).choice(np.array(["f", "m"], dtype=object), len(frame)).astype(str)
    return frame


@pytest.fixture(scope="module")
def p_default(table: pd.DataFrame) -> np.ndarray:
    """A group-blind probability of default from the features (the planted case refuses amer_indian)."""
    return default_probability(table["debt_ratio"], table["income"], table["employment_years"])


@pytest.fixture(scope="module")
def refusing_amer_indian(table: pd.DataFrame, p_default: np.ndarray) -> np.ndarray:
    return np.where(table["race"] == "amer_indian", 0.99, p_default)


def _evaluate(table: pd.DataFrame, p: np.ndarray, dataset: DatasetSettings, **evaluation: Any) -> dict[str, Any]:
    settings = EvaluationSettings(bootstrap={"resamples": 200}, **evaluation)
    return evaluate_predictions(table["default"], p, table[dataset.sensitive], dataset, DECISION, settings)


# --------------------------------------------------------------------------- merge


def test_a_merged_group_is_what_evaluation_reports(table, p_default):
    result = _evaluate(table, p_default, _dataset({"race": MERGE}))
    race = result["ethical"]["race"]
    assert sorted(race["by_group"]) == ["black", "other", "white"]
    assert race["by_group"]["other"]["rows"] == 50
    members = table["race"].isin(["amer_indian", "pacific"]).to_numpy()
    approved = p_default <= DECISION.refusal_threshold
    assert race["by_group"]["other"]["selection_rate"] == approved[members].mean()
    interval = result["intervals"]["ethical"]["race"]["by_group"]["other"]["selection_rate"]
    assert interval["low"] <= race["by_group"]["other"]["selection_rate"] <= interval["high"]
    assert sorted(result["business"]["by_group"]["race"]) == ["black", "other", "white"]
    assert "report_only" not in race


# --------------------------------------------------------------------------- report_only


def test_report_only_groups_are_reported_with_intervals_and_left_out_of_the_gated_metrics(
    table, refusing_amer_indian
):
    result = _evaluate(table, refusing_amer_indian, _dataset({"race": REPORT_ONLY}))
    race = result["ethical"]["race"]
    assert sorted(race["by_group"]) == ["amer_indian", "black", "pacific", "white"]
    assert race["by_group"]["amer_indian"]["selection_rate"] == 0.0
    for group in ("amer_indian", "pacific"):
        interval = result["intervals"]["ethical"]["race"]["by_group"][group]["selection_rate"]
        assert interval["low"] is not None and interval["high"] is not None
    assert race["report_only"] == {"groups": ["amer_indian", "pacific"], "reason": REASON}
    # the gated ratio is over the gated groups only: white and black
    rates = [race["by_group"][g]["selection_rate"] for g in ("black", "white")]
    assert race["demographic_parity_ratio"] == min(rates) / max(rates)
    assert race["demographic_parity_difference"] == max(rates) - min(rates)
    accuracy = [race["by_group"][g]["accuracy"] for g in ("black", "white")]
    assert race["worst_group_accuracy"] == min(accuracy)
    assert any("reported, not gated" in note and REASON in note for note in race["notes"])


def test_a_report_only_group_failing_an_ethical_bound_does_not_block(table, refusing_amer_indian):
    decision = decide(_evaluate(table, refusing_amer_indian, _dataset({"race": REPORT_ONLY})), None, _gate())
    assert decision.ethical_passed, decision.reasons()
    ratio = [c for c in decision.checks if c.metric == "ethical.race.demographic_parity_ratio"]
    assert len(ratio) == 1 and ratio[0].candidate > 0.8
    assert any("ethical.race: groups ['amer_indian', 'pacific'] reported, not gated" in n for n in decision.notes)
    assert "reported, not gated" in decision.to_markdown() and REASON in decision.to_markdown()


def test_without_the_policy_the_same_small_group_blocks_at_the_gate(table, refusing_amer_indian):
    # min_group_rows lowered so the audit lets the 18 rows through: the gate then measures them
    audit = audit_dataset(table, None, _dataset(), AuditSettings(min_group_rows=10, min_group_share=0.0))
    assert audit.report.verdict == "pass"
    decision = decide(_evaluate(table, refusing_amer_indian, _dataset()), None, _gate())
    assert not decision.ethical_passed
    ratio = [c for c in decision.checks if c.metric == "ethical.race.demographic_parity_ratio"]
    assert ratio[0].candidate == 0.0 and not ratio[0].passed
    assert not any("reported, not gated" in n for n in decision.notes)


def test_a_report_only_groups_decisions_change_no_gated_metric(table, p_default, refusing_amer_indian):
    """The planted refusal of the report-only group leaves every gated value of race unchanged."""
    dataset = _dataset({"race": REPORT_ONLY})
    plain, planted = _evaluate(table, p_default, dataset), _evaluate(table, refusing_amer_indian, dataset)
    for name in ETHICAL_METRICS:
        assert planted["ethical"]["race"][name] == plain["ethical"]["race"][name]
    assert plain["ethical"]["race"]["by_group"]["amer_indian"] != planted["ethical"]["race"]["by_group"]["amer_indian"]
    assert decide(plain, None, _gate()).ethical_passed


def test_the_intersection_reports_every_group_holding_a_report_only_part(table, refusing_amer_indian):
    dataset = _dataset({"race": REPORT_ONLY}, sensitive=("race", "sex"))
    result = _evaluate(table, refusing_amer_indian, dataset, intersection=True)
    joint = result["ethical"]["race+sex"]
    assert joint["report_only"]["groups"] == ["amer_indian+f", "amer_indian+m", "pacific+f", "pacific+m"]
    assert joint["report_only"]["reason"] == f"race: {REASON}"
    reported = joint["report_only"]["groups"]
    gated = [values["selection_rate"] for g, values in joint["by_group"].items() if g not in reported]
    assert joint["demographic_parity_ratio"] == min(gated) / max(gated)
    assert "report_only" not in result["ethical"]["sex"]


def test_a_policy_leaving_fewer_than_two_gated_groups_fails_closed(table, p_default):
    policy = {"report_only": ["amer_indian", "pacific", "black"], "reason": REASON}
    result = _evaluate(table, p_default, _dataset({"race": policy}))
    assert result["ethical"]["race"]["demographic_parity_ratio"] is None
    assert not decide(result, None, _gate()).ethical_passed


# --------------------------------------------------------------------------- training's groups


def test_reweighing_weighs_the_merged_group_as_one_cell(table):
    training = TrainingSettings(mitigation={"method": "reweighing"})
    trained = train_model(table, FEATURES, _dataset({"race": MERGE}), training, classes=[0, 1])
    cells = trained.fingerprint["cell_counts"]
    assert any("other" in cell for cell in cells) and not any("amer_indian" in cell for cell in cells)
    assert sum(n for cell, n in cells.items() if "other" in cell) == 50


def test_exponentiated_gradient_is_fitted_on_the_merged_groups(table, monkeypatch):
    seen: dict[str, Any] = {}
    original = train_module.ExponentiatedGradientClassifier.fit

    def fit(self: Any, X: Any, y: Any, sample_weight: Any = None, sensitive_features: Any = None) -> Any:
        seen["groups"] = sorted(pd.DataFrame(sensitive_features)["race"].unique())
        return original(self, X, y, sample_weight=sample_weight, sensitive_features=sensitive_features)

    monkeypatch.setattr(train_module.ExponentiatedGradientClassifier, "fit", fit)
    training = TrainingSettings(mitigation={"method": "exponentiated_gradient", "max_iter": 5})
    train_model(table, FEATURES, _dataset({"race": MERGE}), training, classes=[0, 1], decision=DECISION)
    assert seen["groups"] == ["black", "other", "white"]
