"""Hand-made evaluation results for gate tests: shaped like ``pipelines.model.evaluate`` results, values chosen."""

from __future__ import annotations

from typing import Any


def ethical_section(**overrides: Any) -> dict[str, Any]:
    section: dict[str, Any] = {
        "by_group": {
            "a": {"rows": 50, "selection_rate": 0.6, "tpr": 0.7, "fpr": 0.2, "accuracy": 0.8},
            "b": {"rows": 50, "selection_rate": 0.55, "tpr": 0.68, "fpr": 0.18, "accuracy": 0.79},
        },
        "demographic_parity_difference": 0.05,
        "demographic_parity_ratio": 0.9166666666666666,
        "equalized_odds_difference": 0.02,
        "equal_opportunity_difference": 0.02,
        "worst_group_accuracy": 0.79,
        "notes": [],
    }
    section.update(overrides)
    return section


def make_result(
    technical: dict[str, Any] | None = None,
    business: dict[str, Any] | None = None,
    ethical: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "rows": 100,
        "refusal_threshold": 1 / 6,
        "positive_threshold": 1 / 6,
        "positive_label": 1,
        "positive_is_favorable": False,
        "technical": {
            "accuracy": 0.8,
            "balanced_accuracy": 0.75,
            "roc_auc": 0.8,
            "f1": 0.6,
            "log_loss": 0.45,
            "brier": 0.15,
            "latency_ms_p50": 2.0,
            "latency_ms_p95": 3.0,
        },
        "business": {
            "approval_rate": 0.6,
            "expected_cost": 0.4,
            "cost_approve_all": 1.5,
            "cost_refuse_all": 0.7,
            "cost_best_constant": 0.7,
            "cost_saving_vs_best_constant": 0.42857142857142855,
            "by_group": {"gender": {"a": {"rows": 50, "approval_rate": 0.6, "expected_cost": 0.4}}},
        },
        "ethical": {"gender": ethical_section()},
    }
    result["technical"].update(technical or {})
    result["business"].update(business or {})
    if ethical is not None:
        result["ethical"] = ethical
    return result
