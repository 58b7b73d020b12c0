"""The cost matrix in favourable and unfavourable decisions: Bayes-optimal whichever class is positive.

``decision.cost_wrong_favorable`` is the cost of granting the favourable outcome to someone
whose true outcome is unfavourable, ``decision.cost_wrong_unfavorable`` the cost of refusing
someone whose true outcome is favourable.  ``dataset.positive_is_favorable`` maps them onto
the model's positive class.  These tests hold the pipeline's decisions to a brute-force
minimisation of the expected cost over every threshold, in both orientations, and show the
trap the lending default set for a favourable positive class (issue 15, item 6).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipelines.core.config import DatasetSettings, DecisionSettings, MitigationSettings, TrainingSettings
from pipelines.model.evaluate import approve_decisions, evaluate_model
from pipelines.model.train import positive_threshold, train_model
from tests.model.hiring import BASE_RATE, hiring_frame

# the hiring team's costs: a hire who does not succeed costs 1, turning away one who would have costs 3
HIRING = DecisionSettings(cost_wrong_favorable=1.0, cost_wrong_unfavorable=3.0)
HIRED = DatasetSettings(target="hired", sensitive=["gender"], positive_label=1, positive_is_favorable=True)
COST_PAIRS = [(5.0, 1.0), (1.0, 3.0), (1.0, 1.0), (2.5, 0.7), (0.001, 1.0), (7.0, 3.0)]
FEATURES = ["years_experience", "skills_test", "interview_score", "education"]


@pytest.fixture(scope="module")
def hiring() -> pd.DataFrame:
    return hiring_frame()


def expected_costs(granted: np.ndarray, p_positive: np.ndarray, decision: DecisionSettings, favourable: bool) -> float:
    """Mean expected cost of the decisions when ``p_positive`` is the true probability of the positive class."""
    p_favourable_truth, p_unfavourable_truth = (p_positive, 1.0 - p_positive) if favourable else (
        1.0 - p_positive, p_positive)
    risk = np.where(
        granted,
        p_unfavourable_truth * decision.cost_wrong_favorable,
        p_favourable_truth * decision.cost_wrong_unfavorable,
    )
    return float(np.mean(risk))


def brute_force(p_positive: np.ndarray, decision: DecisionSettings, favourable: bool) -> tuple[float, np.ndarray]:
    """The lowest expected cost over every threshold rule on ``p_positive``, and its decisions.

    Every distinct decision vector of a threshold rule is tried: grant from each distinct
    probability (and grant nobody) when the positive class is favourable, grant up to each
    one (and grant nobody) when it is unfavourable.
    """
    cuts = np.unique(p_positive)
    candidates = [p_positive >= c for c in cuts] if favourable else [p_positive <= c for c in cuts]
    candidates.append(np.zeros(len(p_positive), dtype=bool))
    costs = [expected_costs(granted, p_positive, decision, favourable) for granted in candidates]
    best = int(np.argmin(costs))
    return costs[best], candidates[best]


@pytest.mark.parametrize("favourable", [True, False])
@pytest.mark.parametrize(("wrong_favourable", "wrong_unfavourable"), COST_PAIRS)
def test_the_threshold_from_the_costs_is_bayes_optimal_in_both_orientations(
    hiring: pd.DataFrame, favourable: bool, wrong_favourable: float, wrong_unfavourable: float
) -> None:
    # the same probabilities read as P(hired = 1) (positive favourable) or P(not hired) (positive unfavourable)
    p = hiring["p_hired"].to_numpy()
    decision = DecisionSettings(cost_wrong_favorable=wrong_favourable, cost_wrong_unfavorable=wrong_unfavourable)
    granted = approve_decisions(p, decision, favourable)
    s = decision.positive_threshold(favourable)
    assert np.min(np.abs(p - s)) > 1e-9  # no probability on the threshold: the optimum is unique
    lowest, best = brute_force(p, decision, favourable)
    assert expected_costs(granted, p, decision, favourable) == lowest  # the same computation: exact
    assert np.array_equal(granted, best)
    # and row by row: granted exactly where granting is the cheaper of the two expected costs
    p_unfavourable = 1.0 - p if favourable else p
    cheaper_to_grant = p_unfavourable * wrong_favourable < (1.0 - p_unfavourable) * wrong_unfavourable
    assert np.array_equal(granted, cheaper_to_grant)


def test_the_threshold_is_computed_directly_for_each_orientation() -> None:
    for wrong_favourable, wrong_unfavourable in COST_PAIRS:
        decision = DecisionSettings(cost_wrong_favorable=wrong_favourable, cost_wrong_unfavorable=wrong_unfavourable)
        total = wrong_favourable + wrong_unfavourable
        assert decision.positive_threshold(True) == wrong_favourable / total
        assert decision.positive_threshold(False) == decision.refusal_threshold == wrong_unfavourable / total
    # the same float whichever way it is reached, for the lending default
    assert DecisionSettings().positive_threshold(False) == 1.0 / 6.0
    assert DecisionSettings().positive_threshold(True) == 5.0 / 6.0 == 1.0 - 1.0 / 6.0


def test_the_lending_default_on_a_favourable_positive_class_was_a_trap(hiring: pd.DataFrame) -> None:
    """Before: hired = 1 under the 5:1 lending costs hires only from p >= 5/6; after: the stated costs decide.

    The fixture's mean probability of ``hired = 1`` is 30%.  The lending matrix, unchanged,
    hires 1.85% of candidates (74 of 4,000); the hiring team's own costs (1 for a hire who does not succeed,
    3 for a good candidate turned away) hire from p >= 1/4.
    """
    p = hiring["p_hired"].to_numpy()
    assert np.mean(p) == pytest.approx(BASE_RATE, abs=1e-15)
    lending = DecisionSettings()  # what a copied lending fairgate.yaml (or no decision section) gave
    trapped = approve_decisions(p, lending, positive_is_favorable=True)
    assert lending.positive_threshold(True) == 5.0 / 6.0
    stated = approve_decisions(p, HIRING, positive_is_favorable=True)
    assert HIRING.positive_threshold(True) == 0.25
    assert np.count_nonzero(trapped) == np.count_nonzero(p >= 5 / 6) == 74  # of 4,000: 1.85%
    assert float(np.mean(stated)) == np.count_nonzero(p >= 0.25) / len(p) > BASE_RATE
    # under the hiring team's costs the trap is far from optimal; the stated costs are the optimum
    trapped_cost = expected_costs(trapped, p, HIRING, favourable=True)
    optimum, _ = brute_force(p, HIRING, favourable=True)
    assert expected_costs(stated, p, HIRING, favourable=True) == optimum < 0.75 * trapped_cost
    # the figures docs/pipeline.md quotes
    assert (round(trapped_cost, 3), round(optimum, 3)) == (0.853, 0.439)


@pytest.mark.parametrize("method", ["none", "exponentiated_gradient"])
def test_training_and_evaluation_decide_at_the_same_threshold_for_hired(hiring: pd.DataFrame, method: str) -> None:
    """hired = 1 favourable: the trained pipeline's decisions are the evaluation's, at s = 1/4."""
    train, holdout = hiring.iloc[:3000], hiring.iloc[3000:]
    training = TrainingSettings(
        mitigation=MitigationSettings(method=method, constraint="demographic_parity", max_iter=20)
    )
    trained = train_model(train, FEATURES, HIRED, training, [0, 1], HIRING)
    s = positive_threshold(HIRED, HIRING)
    assert s == 0.25
    p = trained.model.predict_proba(holdout[FEATURES])[:, 1]
    result = evaluate_model(trained.model, holdout[FEATURES], holdout["hired"], holdout[["gender"]], HIRED, HIRING)
    assert result["positive_threshold"] == 0.25 and result["refusal_threshold"] == 0.75
    assert result["business"]["approval_rate"] == np.count_nonzero(p >= 0.25) / len(p)
    if method == "exponentiated_gradient":
        estimator = trained.model.named_steps["estimator"]
        assert trained.fingerprint["mitigation"]["positive_threshold"] == repr(0.25)
        q = estimator.mixture_probability(trained.model.named_steps["preprocess"].transform(holdout[FEATURES]))
        assert np.array_equal(p >= s, q >= 0.5)  # the constraint holds on the decisions the pipeline takes


def test_class_rebalancing_moves_the_probabilities_the_threshold_is_applied_to(hiring: pd.DataFrame) -> None:
    """A documented limitation (docs/pipeline.md): beta_factor shifts the log-odds by about log(w1 / w0)."""
    none = MitigationSettings(method="none")
    rebalanced = train_model(hiring, FEATURES, HIRED, TrainingSettings(mitigation=none), [0, 1], HIRING)
    plain = train_model(hiring, FEATURES, HIRED, TrainingSettings(mitigation=none, beta_factor=0.0), [0, 1], HIRING)
    w0, w1 = rebalanced.class_weights[0], rebalanced.class_weights[1]
    p_rebalanced = rebalanced.model.predict_proba(hiring[FEATURES])[:, 1]
    p_plain = plain.model.predict_proba(hiring[FEATURES])[:, 1]
    shift = float(np.mean(np.log(p_rebalanced / (1 - p_rebalanced)) - np.log(p_plain / (1 - p_plain))))
    figures = (round(w0, 3), round(w1, 3), round(float(np.log(w1 / w0)), 3), round(shift, 3))
    assert figures == (0.902, 1.245, 0.323, 0.323)
    shares = [float(np.mean(p >= 0.25)) for p in (hiring["p_hired"].to_numpy(), p_plain, p_rebalanced)]
    assert [round(share, 3) for share in shares] == [0.491, 0.466, 0.561]
