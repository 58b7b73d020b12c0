"""Realised outcomes: the gate's metrics on an interval's stored decisions once their labels are known.

Held to independent references (scikit-learn, fairlearn) on the decisions
actually stored; maturity in both directions; a planted unfair interval
breaches the four-fifths limit confidently and a fair one does not; data whose
base rates differ threefold, with a tiny group.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sklearn.metrics as skm
from fairlearn.metrics import demographic_parity_ratio, equalized_odds_difference
from scipy.special import expit

from pipelines.core.config import BootstrapSettings, DatasetSettings, DecisionSettings, EvaluationSettings
from pipelines.core.errors import BadInputError
from pipelines.core.monitoring_settings import RealisedMonitoring
from pipelines.model.metrics import approve_decisions
from pipelines.model.realised_outcomes import ROW_COLUMN, realised_performance

DATASET = DatasetSettings(target="default", sensitive=["group"], positive_label=1, positive_is_favorable=False)
WITH_IDS = DatasetSettings(
    target="default", sensitive=["group"], positive_label=1, positive_is_favorable=False, id_columns=["loan_id"]
)
DECISION = DecisionSettings()
EVALUATION = EvaluationSettings(bootstrap=BootstrapSettings(resamples=200, seed=3))
SETTINGS = RealisedMonitoring()


def interval(seed: int = 0, rows: int = 3000, tiny: float = 0.0, refuse_b: float = 0.0) -> pd.DataFrame:
    """Decisions with their outcome: group ``b`` defaults about three times as often as ``a``.

    ``refuse_b`` is the share of ``b``'s approvals turned into refusals after scoring (an unfair interval).
    """
    rng = np.random.default_rng(seed)
    u = rng.random(rows)
    group = np.where(u < tiny, "c", np.where(u < tiny + (1 - tiny) * 0.6, "a", "b"))
    x = rng.normal(0.0, 1.0, rows)
    risk = -3.0 + 1.5 * x + np.where(group == "a", 0.0, 1.6)
    default = (rng.random(rows) < expit(risk)).astype(np.int64)
    p_positive = expit(-2.3 + 1.5 * x)  # the group-blind model
    favorable = approve_decisions(p_positive, DECISION, DATASET.positive_is_favorable)
    favorable &= ~((group == "b") & (rng.random(rows) < refuse_b))
    return pd.DataFrame(
        {
            ROW_COLUMN: np.arange(rows),
            "p_positive": p_positive,
            "favorable": favorable,
            "group": group,
            "default": default,
        }
    )


def split(frame: pd.DataFrame, known: float = 1.0, seed: int = 9) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The score rows and the outcomes known so far (shuffled; the rest not known yet)."""
    outcomes = frame[[ROW_COLUMN, "default"]].sample(frac=1.0, random_state=seed).reset_index(drop=True)
    outcomes["default"] = outcomes["default"].astype("float64")
    outcomes.loc[int(round(known * len(outcomes))) :, "default"] = np.nan
    return frame.drop(columns="default"), outcomes


def by_key(result) -> dict[tuple[str, str, str], object]:
    return {(v.family, v.metric, v.subject): v for v in result.values}


def test_realised_metrics_equal_scikit_learn_and_fairlearn_on_the_known_decisions():
    frame = interval()
    decisions, outcomes = split(frame, known=0.95)
    result = realised_performance(decisions, outcomes, DATASET, DECISION, EVALUATION, SETTINGS)
    assert result.mature and result.known == 2850 and result.label_share == pytest.approx(0.95, abs=1e-12)
    known = frame.set_index(ROW_COLUMN).loc[outcomes.dropna()[ROW_COLUMN]]
    y, approved, group = known["default"].to_numpy(), known["favorable"].to_numpy(), known["group"]
    values = by_key(result)
    assert {v.horizon for v in result.values} == {"realised"}
    assert values[("technical", "roc_auc", "overall")].value == pytest.approx(
        skm.roc_auc_score(y, known["p_positive"]), abs=1e-12
    )
    assert values[("technical", "balanced_accuracy", "overall")].value == pytest.approx(
        skm.balanced_accuracy_score(y, ~approved), abs=1e-12
    )
    assert values[("ethical", "demographic_parity_ratio", "group")].value == pytest.approx(
        demographic_parity_ratio(y == 0, approved, sensitive_features=group), abs=1e-12
    )
    assert values[("ethical", "equalized_odds_difference", "group")].value == pytest.approx(
        equalized_odds_difference(y == 0, approved, sensitive_features=group), abs=1e-12
    )
    rate_a = values[("ethical", "selection_rate", "group=a")]
    assert rate_a.value == pytest.approx(approved[group.to_numpy() == "a"].mean(), abs=1e-12)
    assert rate_a.low < rate_a.value < rate_a.high


def test_the_stored_decisions_are_judged_not_the_threshold_applied_again():
    frame = interval(1)
    flipped = frame.assign(favorable=~frame["favorable"])  # decisions made under another threshold
    decisions, outcomes = split(flipped)
    values = by_key(realised_performance(decisions, outcomes, DATASET, DECISION, EVALUATION, SETTINGS))
    assert values[("business", "approval_rate", "overall")].value == pytest.approx(flipped["favorable"].mean())
    assert values[("technical", "accuracy", "overall")].value == pytest.approx(
        skm.accuracy_score(flipped["default"], ~flipped["favorable"])
    )


def test_below_the_label_share_the_interval_is_not_mature_and_nothing_is_measured():
    decisions, outcomes = split(interval(2), known=0.6)
    result = realised_performance(decisions, outcomes, DATASET, DECISION, EVALUATION, SETTINGS)
    assert not result.mature
    assert (result.values, result.evaluation, result.known, result.rows) == ([], None, 1800, 3000)
    assert result.notes[-1].startswith("not mature: 1800 of 3000 decisions have a known outcome (60.0%)")
    lowered = realised_performance(
        decisions, outcomes, DATASET, DECISION, EVALUATION, RealisedMonitoring(min_label_share=0.5)
    )
    assert lowered.mature and lowered.values


def test_outcomes_missing_from_the_file_count_as_unknown_and_foreign_ones_are_noted():
    decisions, outcomes = split(interval(3))
    partial = outcomes.dropna().iloc[:2850]  # 150 decisions without an outcome row at all
    foreign = pd.DataFrame({ROW_COLUMN: [10_000, 10_001], "default": [0.0, 1.0]})
    result = realised_performance(decisions, pd.concat([partial, foreign]), DATASET, DECISION, EVALUATION, SETTINGS)
    assert result.mature and result.known == 2850
    assert result.notes == ["2 outcome row(s) match no decision of the interval: not used"]


def test_a_planted_unfair_interval_breaches_the_four_fifths_limit_confidently_and_a_fair_one_does_not():
    fair = by_key(realised_performance(*split(interval(4)), DATASET, DECISION, EVALUATION, SETTINGS))
    ratio = fair[("ethical", "demographic_parity_ratio", "group")]
    assert ratio.low > ratio.critical
    unfair = by_key(realised_performance(*split(interval(4, refuse_b=0.6)), DATASET, DECISION, EVALUATION, SETTINGS))
    ratio = unfair[("ethical", "demographic_parity_ratio", "group")]
    assert (ratio.critical, ratio.direction) == (0.8, "min")
    assert ratio.high < ratio.critical  # critical, confident under its interval


def test_three_times_the_base_rate_and_a_tiny_group_with_ids():
    frame = interval(5, rows=4000, tiny=0.005).rename(columns={ROW_COLUMN: "loan_id"})
    frame["loan_id"] = frame["loan_id"] * 7 + 100
    rates = frame.groupby("group")["default"].mean()
    assert rates["b"] / rates["a"] > 2.5
    decisions = frame.drop(columns="default")
    outcomes = frame[["loan_id", "default"]].iloc[::-1]
    result = realised_performance(decisions, outcomes, WITH_IDS, DECISION, EVALUATION, SETTINGS)
    values = by_key(result)
    tiny = values[("ethical", "selection_rate", "group=c")]
    assert tiny.value == pytest.approx(frame.loc[frame["group"] == "c", "favorable"].mean())
    large = values[("ethical", "selection_rate", "group=a")]
    assert tiny.low is None or (tiny.high - tiny.low) > 3 * (large.high - large.low)
    # the gate's evaluation result is kept for logging
    assert result.evaluation["decisions"]["ethical"]["group"]["by_group"]["c"]["rows"] == int(
        (frame["group"] == "c").sum()
    )


def test_seeded_and_deterministic():
    decisions, outcomes = split(interval(6, rows=1000))
    first = realised_performance(decisions, outcomes, DATASET, DECISION, EVALUATION, SETTINGS)
    again = realised_performance(decisions, outcomes, DATASET, DECISION, EVALUATION, SETTINGS)
    assert first.values == again.values


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d, o: (d.drop(columns="group"), o), "decisions lacks the column(s) ['group']"),
        (lambda d, o: (d, o.drop(columns="default")), "outcomes lacks the column(s) ['default']"),
        (lambda d, o: (pd.concat([d, d.iloc[:3]]), o), "decisions holds 6 repeated id(s) of ['row']"),
        (lambda d, o: (d, pd.concat([o, o.iloc[:1]])), "outcomes holds 2 repeated id(s) of ['row']"),
        (lambda d, o: (d.iloc[:0], o), "decisions has no rows"),
        (lambda d, o: (d, o.assign(default=o["default"].where(o["default"].isna(), 0.0))), "y_true holds a single"),
        (lambda d, o: (d.assign(p_positive=-0.5), o), "decisions.p_positive must hold finite probabilities"),
    ],
)
def test_bad_input_is_one_clear_error(change, message):
    decisions, outcomes = change(*split(interval(7, rows=300)))
    with pytest.raises(BadInputError) as error:
        realised_performance(decisions, outcomes, DATASET, DECISION, EVALUATION, SETTINGS)
    assert str(error.value).startswith(message)
