"""Blocking fairness tests on the generated data: the gate is deaf to noise and blind to no real regression.

The project's own generator (``pipelines.data.generator``, the seed and batch size of
``fairgate.yaml``), its own out-of-time split, its own gate settings and bootstrap
defaults; simple seeded logistic regressions stand in for trained models.  Holdout:
the latest 20% of twelve months, 3,600 rows.

The generator's measurement bias (``generator.recorded_income_gap``) is set to 0
here: unmitigated stand-ins on biased data fail the absolute ethical thresholds
(``tests/model/test_mitigation.py`` shows it), and these tests are about
non-regression against a champion, which needs models that pass them.  The bias
takes no random draw, so every other column is what the full generator draws.

- (a) a candidate equal to the champion, or the champion retrained on a resample of
  its training data, is never blocked, whatever the bootstrap seed;
- (b) a candidate more accurate than the champion but with a demographic parity
  difference worse by 0.030 (tolerance 0.02) is blocked, although its paired interval
  cannot prove the regression: the point estimate decides;
- (c) a candidate with smaller disparities but a lower ROC AUC, balanced accuracy and
  higher expected cost is blocked by the technical gate.

The verdicts never depend on the bootstrap seed; the interval labels may.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.compose import make_column_selector, make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from pipelines.core.config import BootstrapSettings, FairgateConfig, load_config
from pipelines.data.generator import generate_history
from pipelines.data.split import holdout_mask
from pipelines.governance.gate import GateCheck, GateDecision, decide
from pipelines.model.evaluate import METRIC_DIRECTION, compare_predictions

ROOT = Path(__file__).resolve().parents[2]
FEATURES = ["age", "region", "income", "debt_ratio", "employment_years", "n_credit_lines", "loan_amount", "education"]
WITHOUT_EDUCATION = [f for f in FEATURES if f != "education"]
UNAWARE = [f for f in FEATURES if f not in ("income", "region", "education")]  # income and region track gender
BOOTSTRAP_SEEDS = (1, 2, 3)

pytestmark = pytest.mark.fairness


class Holdout:
    """The generated data, split as the pipeline splits it, and a way to score feature subsets."""

    def __init__(self, config: FairgateConfig) -> None:
        frame = generate_history(config.generator)
        mask = holdout_mask(frame, config.dataset, config.split)
        self.config = config
        self.train = frame[~mask].reset_index(drop=True)
        self.frame = frame[mask].reset_index(drop=True)

    def fit(self, features: list[str], resample_seed: int | None = None) -> Any:
        data = self.train
        if resample_seed is not None:
            data = data.sample(frac=1.0, replace=True, random_state=resample_seed)
        preprocess = make_column_transformer(
            (StandardScaler(), make_column_selector(dtype_include="number")),
            (OneHotEncoder(handle_unknown="ignore"), make_column_selector(dtype_exclude="number")),
        )
        model = make_pipeline(preprocess, LogisticRegression(max_iter=1000, random_state=0))
        return model.fit(data[features], data[self.config.dataset.target])

    def p_default(self, model: Any, features: list[str]) -> np.ndarray:
        return model.predict_proba(self.frame[features])[:, list(model.classes_).index(1)]

    def gate(self, p_candidate: np.ndarray, p_champion: np.ndarray, seed: int) -> tuple[GateDecision, dict[str, Any]]:
        settings = self.config.evaluation.model_copy(
            update={"bootstrap": BootstrapSettings(**{**self.config.evaluation.bootstrap.model_dump(), "seed": seed})}
        )
        dataset = self.config.dataset
        pair = compare_predictions(
            self.frame[dataset.target], p_candidate, p_champion, self.frame[dataset.sensitive], dataset,
            self.config.decision, settings,
        )
        decision = decide(pair["candidate"], pair["champion"], self.config.gate, "1", pair["comparison"])
        return decision, pair


@pytest.fixture(scope="module")
def holdout() -> Holdout:
    config = load_config(ROOT / "fairgate.yaml")
    unbiased = config.generator.model_copy(update={"recorded_income_gap": 0.0})
    return Holdout(config.model_copy(update={"generator": unbiased}))


@pytest.fixture(scope="module")
def champion(holdout: Holdout) -> np.ndarray:
    return holdout.p_default(holdout.fit(FEATURES), FEATURES)


def regressions(decision: GateDecision) -> list[GateCheck]:
    return [check for check in decision.checks if check.kind == "non_regression"]


def worsening(check: GateCheck) -> tuple[float, float, float]:
    """(point, lower bound, upper bound) of how much worse the candidate is, in the metric's bad direction."""
    assert check.difference is not None and check.difference_low is not None and check.difference_high is not None
    if check.bound == "min":  # higher is better: worse = champion - candidate
        return -check.difference, -check.difference_high, -check.difference_low
    return check.difference, check.difference_low, check.difference_high


def tolerance(config: FairgateConfig, check: GateCheck) -> float:
    family, *_, name = check.metric.split(".")
    return config.gate.non_regression[f"{family}.{name}"]


def test_the_holdout_is_the_generated_default(holdout: Holdout) -> None:
    assert len(holdout.frame) == 3600 and len(holdout.train) == 14400
    assert holdout.frame["application_date"].min() > holdout.train["application_date"].max()


# --------------------------------------------------------------------------- (a) equal within noise


@pytest.mark.parametrize("seed", BOOTSTRAP_SEEDS)
def test_a_the_same_model_is_never_blocked_and_every_paired_difference_is_exactly_zero(
    holdout: Holdout, champion: np.ndarray, seed: int
) -> None:
    decision, pair = holdout.gate(champion, champion.copy(), seed)
    assert decision.passed, decision.reasons()
    for check in regressions(decision):
        assert (check.difference, check.difference_low, check.difference_high) == (0.0, 0.0, 0.0), check.metric
        assert check.confidence == "confident"
    # every metric of the comparison, not only the gated ones
    stack: list[Any] = [pair["comparison"]]
    while stack:
        node = stack.pop()
        if "difference" in node:
            assert node["difference"] in (0.0, None) and node["low"] in (0.0, None) and node["high"] in (0.0, None)
        else:
            stack.extend(value for value in node.values() if isinstance(value, dict))


@pytest.fixture(scope="module")
def retrained(holdout: Holdout, champion: np.ndarray) -> dict[int, dict[int, GateDecision]]:
    """The champion refitted on eight resamples of its training rows, each gated with three bootstrap seeds."""
    out: dict[int, dict[int, GateDecision]] = {}
    for resample in range(1, 9):
        candidate = holdout.p_default(holdout.fit(FEATURES, resample_seed=resample), FEATURES)
        out[resample] = {seed: holdout.gate(candidate, champion, seed)[0] for seed in BOOTSTRAP_SEEDS}
    return out


def test_a_a_retrained_champion_is_not_blocked_by_noise(
    holdout: Holdout, retrained: dict[int, dict[int, GateDecision]]
) -> None:
    worst: dict[str, float] = {}
    for resample, by_seed in retrained.items():
        verdicts = {seed: [(c.metric, c.kind, c.passed) for c in d.checks] for seed, d in by_seed.items()}
        assert len({tuple(v) for v in verdicts.values()}) == 1, f"resample {resample}: verdict depends on the seed"
        for seed, decision in by_seed.items():
            assert decision.passed, (resample, seed, decision.reasons())
            for check in regressions(decision):
                share = worsening(check)[0] / tolerance(holdout.config, check)
                worst[check.metric] = max(worst.get(check.metric, -np.inf), share)
    # the defaults leave room: no retrain comes within 75% of any tolerance (the comment in fairgate.yaml)
    assert max(worst.values()) < 0.75, worst
    assert set(worst) == {
        "technical.roc_auc",
        "technical.balanced_accuracy",
        "technical.log_loss",
        "technical.brier",
        "business.expected_cost",
        "ethical.gender.demographic_parity_difference",
        "ethical.gender.equalized_odds_difference",
        "ethical.gender.worst_group_accuracy",
    }


def test_a_why_the_upper_bound_must_not_decide(
    holdout: Holdout, retrained: dict[int, dict[int, GateDecision]]
) -> None:
    """Blocking unless the whole interval stays within tolerance would block equivalent retrains on noise."""
    reaching = [
        (resample, seed, check)
        for resample, by_seed in retrained.items()
        for seed, decision in by_seed.items()
        for check in regressions(decision)
        if worsening(check)[2] > tolerance(holdout.config, check)
    ]
    assert len({resample for resample, _, _ in reaching}) >= 2, "the argument needs retrains that reach the tolerance"
    # under the point rule they pass, flagged for the reviewer
    for resample, seed, check in reaching:
        assert retrained[resample][seed].passed and check.passed and check.confidence == "uncertain"


# --------------------------------------------------------------------------- (b) more accurate, less fair


@pytest.fixture(scope="module")
def sharper_but_less_fair(holdout: Holdout) -> tuple[np.ndarray, np.ndarray]:
    candidate = holdout.p_default(holdout.fit(WITHOUT_EDUCATION), WITHOUT_EDUCATION)
    champion = holdout.p_default(holdout.fit(UNAWARE), UNAWARE)
    return candidate, champion


@pytest.mark.parametrize("seed", BOOTSTRAP_SEEDS)
def test_b_more_accurate_but_less_fair_is_blocked_by_the_ethical_gate(
    holdout: Holdout, sharper_but_less_fair: tuple[np.ndarray, np.ndarray], seed: int
) -> None:
    decision, pair = holdout.gate(*sharper_but_less_fair, seed)
    comparison = pair["comparison"]
    # more accurate on every technical and business metric ...
    for name in ("accuracy", "balanced_accuracy", "roc_auc"):
        assert comparison["technical"][name]["difference"] > 0.04
    assert comparison["business"]["expected_cost"]["difference"] < -0.05
    assert decision.technical_passed is True
    # ... but approval rates further apart: blocked, and only for that
    assert decision.ethical_passed is False and decision.passed is False
    failed = [check for check in decision.checks if not check.passed]
    assert [(c.gate, c.metric, c.kind) for c in failed] == [
        ("ethical", "ethical.gender.demographic_parity_difference", "non_regression")
    ]
    (check,) = failed
    assert check.candidate == pytest.approx(0.0355, abs=5e-4) and check.champion == pytest.approx(0.0052, abs=5e-4)
    point, low, high = worsening(check)
    assert 0.02 < point < 0.035  # a small real regression: 0.030 against a tolerance of 0.02
    # the holdout cannot prove it (the interval reaches below the tolerance, even below zero) ...
    assert low < 0.0 < 0.02 < high
    assert check.confidence == "uncertain"
    # ... a rule that needed proof (lower bound beyond the tolerance) would have waved it through
    assert not low > 0.02
    assert "worse by 0.03024 > tolerance 0.02" in check.reason
    assert decision.uncertain_checks()[0] == "failed non-regression ethical.gender.demographic_parity_difference"


# --------------------------------------------------------------------------- (c) fairer, less accurate


@pytest.mark.parametrize("seed", BOOTSTRAP_SEEDS)
def test_c_fairer_but_less_accurate_is_blocked_by_the_technical_gate(
    holdout: Holdout, champion: np.ndarray, seed: int
) -> None:
    candidate = holdout.p_default(holdout.fit(UNAWARE), UNAWARE)
    decision, pair = holdout.gate(candidate, champion, seed)
    ethical = pair["comparison"]["ethical"]["gender"]
    # smaller disparities ...
    assert ethical["demographic_parity_difference"]["difference"] < -0.015
    assert ethical["equalized_odds_difference"]["difference"] < -0.015
    # ... bought with a worse model: the technical gate blocks, with confidence, on five metrics
    assert decision.technical_passed is False and decision.passed is False
    technical_failures = {c.metric: c for c in decision.checks if c.gate == "technical" and not c.passed}
    assert set(technical_failures) == {
        "technical.roc_auc",
        "technical.balanced_accuracy",
        "technical.log_loss",
        "technical.brier",
        "business.expected_cost",
    }
    assert all(c.kind == "non_regression" and c.confidence == "confident" for c in technical_failures.values())
    auc = technical_failures["technical.roc_auc"]
    assert worsening(auc)[1] > 0.02  # beyond the tolerance over the whole interval
    # the disparity checks pass; the ethical gate still refuses the lower worst-group accuracy (leveling down)
    passed = {c.metric for c in decision.checks if c.gate == "ethical" and c.passed and c.kind == "non_regression"}
    assert passed == {"ethical.gender.demographic_parity_difference", "ethical.gender.equalized_odds_difference"}
    assert [c.metric for c in decision.checks if c.gate == "ethical" and not c.passed] == [
        "ethical.gender.worst_group_accuracy"
    ]


def test_every_gated_metric_has_a_direction(holdout: Holdout) -> None:
    for key in holdout.config.gate.non_regression:
        assert key.split(".", 1)[1] in METRIC_DIRECTION


def test_results_are_identical_for_the_same_seed(holdout: Holdout, champion: np.ndarray) -> None:
    first = holdout.gate(champion * 0.9, champion, 5)
    again = holdout.gate(champion * 0.9, champion, 5)
    assert first[1] == again[1]
    assert first[0].to_dict() == again[0].to_dict()
