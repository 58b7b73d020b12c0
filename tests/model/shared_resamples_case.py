"""A seeded holdout with three fitted models for the shared-resamples tests (and the frozen numbers they pin).

Two sensitive attributes (their intersection evaluated, one small report-only
group), numeric features, and three scikit-learn models fitted on seeded
rows: ``candidate``, ``champion`` (fitted on other rows, other features) and
``twin`` (the candidate's features, another regularisation): three different
rankings and decisions.  ``frozen_outputs`` is what every evaluation entry
point returns on it, latency left out (a timing): run with the code of
commit f6a9597 (before the resamples were shared) it wrote
``tests/fixtures/evaluation_before_shared_resamples.json``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from pipelines.core.config import BootstrapSettings, DatasetSettings, DecisionSettings, EvaluationSettings

FROZEN = Path(__file__).resolve().parents[1] / "fixtures" / "evaluation_before_shared_resamples.json"
ROWS = 6000
DATASET = DatasetSettings(
    target="default",
    time_column=None,
    id_columns=[],
    sensitive=["gender", "region"],
    small_groups={"region": {"report_only": ["islands"], "reason": "reviewed: about 30 rows, reported only"}},
)
DECISION = DecisionSettings(cost_wrong_favorable=5.0, cost_wrong_unfavorable=1.0)
EVALUATION = EvaluationSettings(
    bootstrap=BootstrapSettings(resamples=200, seed=11, workers=2),
    intersection=True,
    latency_batch_rows=500,
    latency_batches=3,
    latency_repeats=1,
)
FEATURES = ["x1", "x2", "x3", "x4"]


def _frame(rng: np.random.Generator, rows: int) -> pd.DataFrame:
    gender = np.where(rng.random(rows) < 0.45, "female", "male")
    region = rng.choice(["north", "south", "islands"], size=rows, p=[0.55, 0.445, 0.005])
    x = rng.normal(size=(rows, 4))
    logit = -1.2 + 0.9 * x[:, 0] - 0.6 * x[:, 1] + 0.3 * x[:, 2] + 0.25 * (gender == "female")
    default = (rng.random(rows) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)
    frame = pd.DataFrame(x, columns=FEATURES)
    return frame.assign(gender=gender, region=region, default=default)


def case() -> dict[str, Any]:
    """The holdout (features, truth, sensitive columns) and the three fitted models."""
    rng = np.random.default_rng(20261207)
    train, holdout = _frame(rng, 4000), _frame(rng, ROWS)
    candidate = LogisticRegression(C=1.0).fit(train[FEATURES], train["default"])
    champion = LogisticRegression(C=0.05).fit(train[FEATURES[:3]].iloc[:1500], train["default"].iloc[:1500])
    twin = LogisticRegression(C=0.002).fit(train[FEATURES], train["default"])
    return {
        "features": holdout[FEATURES],
        "champion_features": holdout[FEATURES[:3]],
        "y": holdout["default"],
        "sensitive": holdout[["gender", "region"]],
        "models": {"candidate": candidate, "champion": champion, "twin": twin},
    }


def probabilities(data: dict[str, Any]) -> dict[str, np.ndarray]:
    """Each model's probability of default on the holdout."""
    models = data["models"]
    return {
        "candidate": models["candidate"].predict_proba(data["features"])[:, 1],
        "champion": models["champion"].predict_proba(data["champion_features"])[:, 1],
        "twin": models["twin"].predict_proba(data["features"])[:, 1],
    }


def without_latency(node: Any) -> Any:
    """A result without its timings (latency metrics, their intervals and differences, the latency section)."""
    if isinstance(node, dict):
        return {k: without_latency(v) for k, v in node.items() if not str(k).startswith("latency")}
    return node


def frozen_outputs() -> dict[str, Any]:
    """Every evaluation entry point on the case: the pairs the evaluate stage made, and the single-model ones."""
    from pipelines.model.evaluate import compare_predictions, evaluate_decisions, evaluate_models

    data = case()
    p = probabilities(data)
    models = data["models"]
    common = (data["y"], data["sensitive"], DATASET, DECISION, EVALUATION)
    approved = {name: p[name] >= DECISION.positive_threshold(False) for name in p}  # refuse at s
    return without_latency(
        {
            "models_champion": evaluate_models(
                models["candidate"], data["features"], models["champion"], data["champion_features"], *common
            ),
            "models_twin": evaluate_models(
                models["candidate"], data["features"], models["twin"], data["features"], *common
            ),
            "models_alone": evaluate_models(models["candidate"], data["features"], None, None, *common),
            "predictions_champion": compare_predictions(data["y"], p["candidate"], p["champion"], *common[1:]),
            "decisions_champion": evaluate_decisions(
                data["y"], ~approved["candidate"], ~approved["champion"], *common[1:]
            ),
        }
    )


if __name__ == "__main__":
    FROZEN.write_text(json.dumps(frozen_outputs(), allow_nan=False, sort_keys=True, indent=1) + "\n", "utf-8")
    sys.stdout.write(f"wrote {FROZEN}\n")
