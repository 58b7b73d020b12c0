"""Scoring without a registry: which applications an interval holds, the decision rule, the data hash."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.linear_model import LogisticRegression

from pipelines.core.config import FairgateConfig, parse_config
from pipelines.core.errors import BadInputError
from pipelines.core.project import ProjectPaths
from pipelines.data import generator
from pipelines.flows.score import (
    ROW_COLUMN,
    Applications,
    VerifiedModel,
    frame_hash,
    policy_differences,
    read_applications,
    score_applications,
)
from pipelines.governance.decision_record import DecisionPolicy
from pipelines.model.metrics import approve_decisions
from tests.conftest import REPO


def _config(**changes: Any) -> FairgateConfig:
    raw = yaml.safe_load((REPO / "fairgate.yaml").read_text(encoding="utf-8"))
    for dotted, value in changes.items():
        section = raw
        *parents, leaf = dotted.split(".")
        for part in parents:
            section = section[part]
        section[leaf] = value
    return parse_config(raw)


def _applications(rows: int, start: str, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    debt_ratio = rng.uniform(0, 1, rows)
    return pd.DataFrame({
        "application_id": [f"X{i:05d}" for i in range(rows)],
        "decided_at": pd.date_range(start, periods=rows, freq="12h"),
        "income": rng.normal(40_000, 9_000, rows),
        "debt_ratio": debt_ratio,
        "gender": rng.choice(["f", "m"], rows),
        "default": (debt_ratio + rng.normal(0, 0.15, rows) > 0.5).astype(int),  # probabilities across (0, 1)
    })


OWN = {
    "dataset.target": "default",
    "dataset.time_column": "decided_at",
    "dataset.id_columns": ["application_id"],
    "dataset.sensitive": ["gender"],
}


def _policy_of(config: FairgateConfig) -> DecisionPolicy:
    """The policy fairgate.yaml gives today, as if it had been recorded at the gate."""
    favorable = config.dataset.positive_is_favorable
    return DecisionPolicy(
        config.decision.positive_threshold(favorable), favorable, config.dataset.positive_label, "test"
    )


def test_generator_interval_is_the_batch_retrain_ingests(tmp_path: Path) -> None:
    config = _config(**{"generator.rows_per_month": 300})
    applications = read_applications(ProjectPaths(tmp_path), config, "2026-01")
    expected = generator.generate_month("2025-01", config.generator, config.generator.hazards).frame
    pd.testing.assert_frame_equal(applications.frame, expected)
    assert applications.ids["application_id"].tolist() == expected["application_id"].tolist()


def test_a_file_source_gives_the_rows_decided_inside_the_month(tmp_path: Path) -> None:
    frame = _applications(200, "2025-01-20")  # 20 January to 29 March
    frame.to_csv(tmp_path / "applications.csv", index=False)
    config = _config(**OWN, **{"dataset.source": "file", "dataset.path": "applications.csv"})
    february = read_applications(ProjectPaths(tmp_path, "dataset"), config, "2025-02")
    inside = frame[(frame["decided_at"] >= "2025-02-01") & (frame["decided_at"] < "2025-03-01")]
    assert february.ids["application_id"].tolist() == inside["application_id"].tolist()
    assert len(inside) == 56
    with pytest.raises(BadInputError, match="holds no application to score"):
        read_applications(ProjectPaths(tmp_path, "dataset"), config, "2025-06")


def test_a_file_without_time_column_is_scored_whole_under_its_own_version_only(tmp_path: Path) -> None:
    frame = _applications(50, "2025-01-01").drop(columns="decided_at")
    frame.to_csv(tmp_path / "applications.csv", index=False)
    config = _config(**{**OWN, "dataset.time_column": None, "dataset.id_columns": [],
                        "dataset.source": "file", "dataset.path": "applications.csv"})
    paths = ProjectPaths(tmp_path, "dataset")
    with pytest.raises(BadInputError, match="has no time_column to select the interval's rows by"):
        read_applications(paths, config, "2025-01")
    with pytest.raises(BadInputError, match="is a one-off data version data-[0-9a-f]{12} .*not data-000000000000"):
        read_applications(paths, config, "data-000000000000")
    from pipelines.data.sources import default_interval

    version, _ = default_interval(config.dataset, paths)
    whole = read_applications(paths, config, str(version))
    assert len(whole.frame) == 50 and whole.ids[ROW_COLUMN].tolist() == list(range(50))


def test_a_files_source_gives_that_interval_file(tmp_path: Path) -> None:
    (tmp_path / "applications").mkdir()
    _applications(40, "2025-03-01").to_parquet(tmp_path / "applications" / "2025-03.parquet")
    config = _config(**OWN, **{"dataset.source": "files", "dataset.path": "applications/{interval}.parquet"})
    applications = read_applications(ProjectPaths(tmp_path, "dataset"), config, "2025-03")
    assert len(applications.frame) == 40
    with pytest.raises(BadInputError, match="no file or folder for interval 2025-04"):
        read_applications(ProjectPaths(tmp_path, "dataset"), config, "2025-04")


def test_the_data_hash_names_the_rows_and_their_order() -> None:
    frame = _applications(30, "2025-01-01")
    assert frame_hash(frame) == frame_hash(frame.copy())
    changed = frame.copy()
    changed.loc[3, "income"] = np.nextafter(changed.loc[3, "income"], np.inf)  # one ulp
    assert frame_hash(changed) != frame_hash(frame)
    assert frame_hash(frame.iloc[::-1].reset_index(drop=True)) != frame_hash(frame)


@pytest.mark.parametrize("positive_is_favorable", [False, True])
def test_decisions_are_the_gate_rule_on_the_positive_column(positive_is_favorable: bool) -> None:
    frame = _applications(400, "2025-01-01")
    inputs = ["income", "debt_ratio"]
    model = LogisticRegression().fit(frame[inputs], frame["default"])
    config = _config(**OWN, **{"dataset.positive_is_favorable": positive_is_favorable})
    champion = VerifiedModel("4", "d" * 64, model, inputs, _policy_of(config))
    applications = Applications(frame, frame[["application_id"]], frame_hash(frame), "test")
    decisions = score_applications(champion, applications, config, "2025-01")
    p_positive = model.predict_proba(frame[inputs])[:, list(model.classes_).index(1)]
    assert np.array_equal(decisions["p_positive"].to_numpy(), p_positive)
    expected = approve_decisions(p_positive, config.decision, positive_is_favorable)
    assert np.array_equal(decisions["favorable"].to_numpy(), expected)
    assert 0 < expected.sum() < len(expected)
    assert decisions.columns.tolist()[0] == "application_id"
    assert set(decisions["model_version"]) == {"4"}

    with pytest.raises(BadInputError, match="lack the champion's input column\\(s\\): debt_ratio"):
        score_applications(
            champion, Applications(frame.drop(columns="debt_ratio"), frame[["application_id"]], "h", "t"),
            config, "2025-01",
        )


def test_a_model_decides_with_its_recorded_threshold_whatever_fairgate_yaml_says_today() -> None:
    frame = _applications(400, "2025-01-01")
    inputs = ["income", "debt_ratio"]
    model = LogisticRegression().fit(frame[inputs], frame["default"])
    gated_with = _config(**OWN, **{"decision.threshold": 0.4123456789012345})
    recorded = _policy_of(gated_with)
    assert recorded.positive_threshold == 0.4123456789012345  # positive unfavourable: s is the threshold itself
    today = _config(**OWN, **{"decision.threshold": 0.6})  # loosened after promotion: more approvals
    applications = Applications(frame, frame[["application_id"]], frame_hash(frame), "test")
    decisions = score_applications(VerifiedModel("4", "d" * 64, model, inputs, recorded), applications, today, "m")
    p_positive = decisions["p_positive"].to_numpy()
    assert np.array_equal(decisions["favorable"].to_numpy(), p_positive <= 0.4123456789012345)
    assert not np.array_equal(decisions["favorable"].to_numpy(), p_positive <= 0.6)  # today's would differ
    assert set(decisions["positive_threshold"]) == {0.4123456789012345}  # the exact float, never rounded
    (note,) = policy_differences(recorded, today)
    assert "fairgate.yaml now gives positive_threshold 0.6" in note and "0.4123456789012345" in note
    assert policy_differences(recorded, gated_with) == []
