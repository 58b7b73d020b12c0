"""fairgate.yaml: parsed once, validated, a bad value names its key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipelines.core.config import apply_overrides, load_config, parse_config
from pipelines.core.errors import BadInputError

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def raw():
    return yaml.safe_load((REPO / "fairgate.yaml").read_text(encoding="utf-8"))


def test_repository_config_is_valid():
    config = load_config(REPO / "fairgate.yaml")
    assert config.dataset.target == "default"
    assert config.decision.refusal_threshold == 1.0 / 6.0  # exact, from the 5:1 cost matrix
    assert len(config.config_hash) == 64


def test_missing_file(tmp_path):
    with pytest.raises(BadInputError, match=r"^configuration file not found: "):
        load_config(tmp_path / "fairgate.yaml")


def test_malformed_yaml(tmp_path):
    path = tmp_path / "fairgate.yaml"
    path.write_text("dataset: [unclosed\n", encoding="utf-8")
    with pytest.raises(BadInputError, match="is not valid YAML"):
        load_config(path)


def test_not_a_mapping(tmp_path):
    path = tmp_path / "fairgate.yaml"
    path.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(BadInputError, match="must hold a mapping of sections, found list"):
        load_config(path)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r["dataset"].pop("target"), "fairgate.yaml: dataset.target: required key is missing"),
        (
            lambda r: r["training"].update(beta_factor=1.5),
            "fairgate.yaml: training.beta_factor: Value error, expected a number in [0, 1], found 1.5",
        ),
        (
            lambda r: r["training"].update(beta_factor=float("nan")),
            "fairgate.yaml: training.beta_factor: Value error, expected a number in [0, 1], found nan",
        ),
        (lambda r: r["training"].update(estimator="svm"), "fairgate.yaml: training.estimator: "),
        (lambda r: r["audit"].update(min_rowz=3), "fairgate.yaml: audit.min_rowz: unknown key"),
        (lambda r: r["dataset"].update(sensitive=[]), "fairgate.yaml: dataset.sensitive: "),
        (lambda r: r["dataset"].update(exclude_columns={"x": " "}), "exclude_columns.x needs a reason"),
        (lambda r: r["gate"]["ethical"].update(demographic_parity_ratio={}), "a bound needs 'min' or 'max'"),
        (lambda r: r["gate"]["non_regression"].update({"technical.roc_auc": -1}), "tolerance of technical.roc_auc"),
        (lambda r: r["generator"].update(history_start="2024-13"), "expected a month as YYYY-MM"),
        (lambda r: r["dataset"].update(source="file"), "source 'file' needs 'path'"),
    ],
)
def test_bad_values_name_their_key(raw, mutate, message):
    mutate(raw)
    with pytest.raises(BadInputError) as caught:
        parse_config(raw)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_overrides_are_validated_like_the_file():
    config = load_config(REPO / "fairgate.yaml")
    changed = apply_overrides(config, {"training.beta_factor": 0.5})
    assert changed.training.beta_factor == 0.5 and config.training.beta_factor == 0.999
    assert changed.config_hash != config.config_hash
    with pytest.raises(BadInputError, match="override 'training.beta': no such setting"):
        apply_overrides(config, {"training.beta": 0.5})
    with pytest.raises(BadInputError, match="training.beta_factor"):
        apply_overrides(config, {"training.beta_factor": -0.1})


def test_a_run_override_may_tighten_the_gate_but_never_loosen_it():
    from pipelines.core.config import override_refusals

    config = load_config(REPO / "fairgate.yaml")
    assert override_refusals(config, {"gate.technical.roc_auc.min": 0.99, "training.beta_factor": 0.5}) == []
    assert override_refusals(config, {"gate.ethical.equalized_odds_difference.max": 0.01}) == []
    assert override_refusals(config, {"gate.ethical.demographic_parity_ratio.min": 0.5}) == [
        "override refused: gate.ethical.demographic_parity_ratio.min would go from 0.8 to 0.5, which loosens the "
        "gate; a per-run override may only tighten it (loosening is a reviewed change to fairgate.yaml)"
    ]
    tolerances = {**config.gate.non_regression, "ethical.equalized_odds_difference": 0.5}
    loosened_tolerance = override_refusals(config, {"gate.non_regression": tolerances})
    assert len(loosened_tolerance) == 1 and "from 0.02 to 0.5" in loosened_tolerance[0]
    removed = override_refusals(config, {"gate.ethical": {}})
    assert len(removed) == 3 and all("to None" in line for line in removed)


@pytest.mark.parametrize(
    "key",
    [
        "dataset.exclude_columns",
        "audit.min_rows",
        "leakage.max_single_feature_auc",
        "registry.model_name",
        "audit_log.url",
    ],
)
def test_a_run_override_may_not_touch_governance_settings(key):
    from pipelines.core.config import override_refusals

    config = load_config(REPO / "fairgate.yaml")
    value = {
        "dataset.exclude_columns": {"income": "x"},
        "audit.min_rows": 1,
        "leakage.max_single_feature_auc": 1.0,
        "registry.model_name": "other",
        "audit_log.url": "sqlite:///x.db",
    }[key]
    refusals = override_refusals(config, {key: value})
    assert refusals[0].startswith(f"override refused: {key} is a governance setting")
