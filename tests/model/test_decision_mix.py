"""The decisions actually made, without labels: approval rates, the four-fifths ratio, shadow disagreement.

Both directions on data unlike the generator's (a skewed base rate, three
groups, one of them tiny): a planted fall of one group's approvals breaks the
four-fifths rule confidently, clean decisions do not; a shadow that flips
one group's decisions is seen for that group only, an identical shadow for none.
fairlearn is the reference the ratio is checked against.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import demographic_parity_ratio

from pipelines.core.config import BootstrapSettings
from pipelines.core.errors import BadInputError
from pipelines.core.monitoring_settings import DecisionTimeMonitoring
from pipelines.flows.monitor import horizon_result, level
from pipelines.model.decision_mix import decision_mix, shadow_disagreement

LIMITS = DecisionTimeMonitoring()
BOOTSTRAP = BootstrapSettings(resamples=300)
ROWS = 6000


def _applicants(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    # three groups, one of them 0.6% of the rows: tiny groups are common in real data
    group = rng.choice(["north", "south", "islands"], size=ROWS, p=[0.694, 0.3, 0.006])
    return pd.DataFrame({"region": group})


def _approvals(applicants: pd.DataFrame, seed: int, south_rate: float = 0.2) -> np.ndarray:
    """A skewed base rate: about 20% approved in every group unless ``south_rate`` says otherwise."""
    rng = np.random.default_rng(seed)
    rate = np.where(applicants["region"].to_numpy() == "south", south_rate, 0.2)
    return rng.random(len(applicants)) < rate


def _one(values: list, metric: str, subject: str):
    (found,) = [v for v in values if v.metric == metric and v.subject == subject]
    return found


def test_clean_decisions_keep_the_four_fifths_ratio() -> None:
    applicants = _applicants(1)
    # the tiny group's rate is noisy: left out of the ratio by the report-only policy, the rest is clean
    values = decision_mix(_approvals(applicants, 2), applicants, {"region": ["islands"]}, LIMITS, BOOTSTRAP)
    ratio = _one(values, "demographic_parity_ratio", "region")
    assert ratio.family == "ethical" and ratio.direction == "min"
    assert level(ratio) == "ok", ratio
    assert ratio.low is not None and ratio.low < ratio.value <= ratio.high
    assert horizon_result("2025-01", values, [])["verdict"] == "ok"


def test_a_group_approved_less_breaks_the_four_fifths_rule_confidently() -> None:
    applicants = _applicants(1)
    favorable = _approvals(applicants, 2, south_rate=0.12)  # 0.12 / 0.2 = 0.6
    values = decision_mix(favorable, applicants, {"region": ["islands"]}, LIMITS, BOOTSTRAP)
    ratio = _one(values, "demographic_parity_ratio", "region")
    assert level(ratio) == "critical"
    assert ratio.high is not None and ratio.high < LIMITS.demographic_parity_ratio.critical  # confident
    south = _one(values, "approval_rate", "region=south")
    assert south.value == pytest.approx(favorable[applicants["region"] == "south"].mean(), abs=0)
    assert south.warn is None and level(south) is None  # approval rates inform, they have no limit
    verdict = horizon_result("2025-01", values, [])
    assert verdict["verdict"] == "critical" and verdict["worst"]["subject"] == "region"


def test_the_ratio_is_fairlearns_on_the_gated_groups() -> None:
    applicants = _applicants(3)
    favorable = _approvals(applicants, 4, south_rate=0.15)
    gated = applicants["region"] != "islands"
    expected = demographic_parity_ratio(
        favorable[gated], favorable[gated], sensitive_features=applicants.loc[gated, "region"]
    )
    values = decision_mix(favorable, applicants, {"region": ["islands"]}, LIMITS, BOOTSTRAP)
    assert _one(values, "demographic_parity_ratio", "region").value == pytest.approx(expected, rel=1e-12)
    overall = _one(values, "approval_rate", "overall")
    assert overall.value == pytest.approx(favorable.mean(), rel=1e-12)


def test_intervals_are_seeded_and_a_group_that_can_vanish_has_none() -> None:
    applicants = pd.DataFrame({"region": ["a"] * 400 + ["b"] * 2})
    favorable = np.tile([True, False], 201)
    first = decision_mix(favorable, applicants, {}, LIMITS, BOOTSTRAP)
    assert first == decision_mix(favorable, applicants, {}, LIMITS, BOOTSTRAP)
    tiny = _one(first, "approval_rate", "region=b")
    assert tiny.low is None and tiny.high is None  # two rows: some resamples leave the group empty


def test_a_shadow_that_flips_one_group_is_seen_for_that_group_only() -> None:
    applicants = _applicants(5)
    champion = _approvals(applicants, 6)
    shadow = champion.copy()
    south = (applicants["region"] == "south").to_numpy()
    flip = south & (np.random.default_rng(7).random(ROWS) < 0.3)
    shadow[flip] = ~shadow[flip]
    values = shadow_disagreement(champion, shadow, "3", applicants, LIMITS, BOOTSTRAP)
    by_subject = {v.subject: v for v in values}
    assert set(by_subject) == {"v3/overall", "v3/region=islands", "v3/region=north", "v3/region=south"}
    assert level(by_subject["v3/region=south"]) == "critical"
    assert by_subject["v3/region=south"].low > LIMITS.shadow_disagreement.critical
    for subject in ("v3/region=north", "v3/region=islands"):
        assert by_subject[subject].value == 0.0 and level(by_subject[subject]) == "ok"
    assert all(v.family == "shadow" for v in values)


def test_an_identical_shadow_disagrees_nowhere() -> None:
    applicants = _applicants(5)
    champion = _approvals(applicants, 6)
    values = shadow_disagreement(champion, champion.copy(), "3", applicants, LIMITS, BOOTSTRAP)
    assert all(v.value == 0.0 and level(v) == "ok" for v in values)
    assert horizon_result("2025-01", values, [])["verdict"] == "ok"


def test_decisions_of_other_rows_are_refused() -> None:
    applicants = _applicants(5)
    with pytest.raises(BadInputError, match="decision mix: 10 decision"):
        decision_mix(np.ones(10, dtype=bool), applicants, {}, LIMITS, BOOTSTRAP)
    with pytest.raises(BadInputError, match="shadow: 10 decision"):
        shadow_disagreement(np.ones(ROWS, dtype=bool), np.ones(10, dtype=bool), "2", applicants, LIMITS, BOOTSTRAP)


def test_equal_rates_keep_the_ratio_inside_its_interval() -> None:
    """Noise lowers a minimum and raises a maximum: resampled ratios lie below 1, the observed one is 1."""
    applicants = pd.DataFrame({"region": ["a"] * 500 + ["b"] * 500})
    favorable = np.tile([True, False, False, False], 250)
    ratio = _one(decision_mix(favorable, applicants, {}, LIMITS, BOOTSTRAP), "demographic_parity_ratio", "region")
    assert ratio.value == 1.0
    assert ratio.low < ratio.value <= ratio.high
