"""The monitoring benchmark prints figures only next to values checked against fairlearn's and sklearn's."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from benchmarks import monitoring as bench
from benchmarks.scoring import _config
from pipelines.flows.monitor_horizons import realised_horizon
from pipelines.model.decision_mix import decision_mix


@pytest.fixture(scope="module")
def measured():
    """Skewed groups (a tiny one), skewed base rate: the real decision mix and realised horizon of random decisions."""
    config = _config()
    rng = np.random.default_rng(16)
    rows = 3000
    month = pd.DataFrame(
        {
            "application_id": np.arange(rows),
            "gender": rng.choice(["female", "male", "x"], size=rows, p=[0.3, 0.68, 0.02]),
            "default": (rng.random(rows) < 0.1).astype(int),
        }
    )
    p_positive = rng.random(rows)
    decisions = pd.DataFrame(
        {"application_id": month["application_id"], "p_positive": p_positive, "favorable": p_positive < 0.7}
    )
    mix = decision_mix(
        decisions["favorable"].to_numpy(), month[["gender"]], {}, config.monitoring.decision_time,
        config.evaluation.bootstrap,
    )  # fmt: skip
    realised, _ = realised_horizon(config, decisions, month)
    return config, month, decisions, mix, realised


def test_the_monitor_values_equal_fairlearn_and_sklearn(measured):
    assert bench.check_equal(*measured) is None


@pytest.mark.parametrize(
    ("where", "metric", "subject"),
    [
        ("mix", "demographic_parity_ratio", "gender"),
        ("mix", "approval_rate", "gender=x"),
        ("realised", "demographic_parity_ratio", "gender"),
        ("realised", "roc_auc", "overall"),
    ],
)
def test_a_value_off_by_a_billionth_is_different(measured, where, metric, subject):
    config, month, decisions, mix, realised = measured
    values = {"mix": list(mix), "realised": list(realised)}
    changed = values[where]
    index = next(i for i, v in enumerate(changed) if v.metric == metric and v.subject == subject)
    changed[index] = dataclasses.replace(changed[index], value=changed[index].value * (1 + 1e-9))
    found = bench.check_equal(config, month, decisions, values["mix"], values["realised"])
    assert found is not None and metric.replace("demographic_parity_ratio", "four-fifths ratio").split("_")[0] in found
