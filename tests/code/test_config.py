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
    kept_one = {"demographic_parity_ratio": {"min": 0.8}}
    removed = override_refusals(config, {"gate.ethical": kept_one})
    assert len(removed) == 2 and all("to None" in line for line in removed)
    # removing the whole ethical gate is not even a valid configuration (exit 2, not a refusal)
    with pytest.raises(BadInputError, match=r"^fairgate.yaml: gate.ethical: the ethical gate needs at least one"):
        override_refusals(config, {"gate.ethical": {}})


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


# --------------------------------------------------------------------------- protections the file cannot remove
# C07's third failure was an override of red alerts.  Each case below is a fairgate.yaml edit that would
# remove a check while the file still looks like a gate; each is refused with one line naming the key.


def _line_of(fragment: str) -> int:
    """The 1-based line of the repository's fairgate.yaml where ``fragment`` starts (sections above may grow)."""
    return (REPO / "fairgate.yaml").read_text(encoding="utf-8").split(fragment, 1)[0].count("\n") + 1


ROC_AUC_LINE = _line_of("    roc_auc: {min: 0.70}")


def _edited(tmp_path: Path, old: str, new: str) -> Path:
    text = (REPO / "fairgate.yaml").read_text(encoding="utf-8")
    assert old in text, old
    path = tmp_path / "fairgate.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


ETHICAL_BLOCK = (
    "    demographic_parity_ratio: {min: 0.8}       # the four-fifths rule, on approvals\n"
    "    demographic_parity_difference: {max: 0.1}\n"
    "    equalized_odds_difference: {max: 0.1}\n"
)
ETHICAL_SECTION = "  ethical:                     # applied to every sensitive attribute\n" + ETHICAL_BLOCK
TECHNICAL_BLOCK = "    roc_auc: {min: 0.70}\n    balanced_accuracy: {min: 0.60}\n"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            ETHICAL_SECTION,
            "  ethical: {}\n",
            "fairgate.yaml: gate.ethical: the ethical gate needs at least one check (every sensitive attribute "
            "keeps at least one ethical check); removing it is not a configuration choice",
        ),
        (
            "  technical:\n" + TECHNICAL_BLOCK,
            "  technical: {}\n",
            "fairgate.yaml: gate.technical: the technical gate needs at least one check (technical or business "
            "quality is never left unchecked); removing it is not a configuration choice",
        ),
        (
            "    roc_auc: {min: 0.70}",
            "    roc_auc: {min: -0.5}",
            "fairgate.yaml: gate.technical.roc_auc.min: min = -0.5 lies outside the metric's range [0.0, 1.0], "
            "so the check could never fail",
        ),
        (
            "    demographic_parity_difference: {max: 0.1}",
            "    demographic_parity_difference: {max: 1.5}",
            "fairgate.yaml: gate.ethical.demographic_parity_difference.max: max = 1.5 lies outside the metric's "
            "range [0.0, 1.0], so the check could never fail",
        ),
        (
            "    demographic_parity_ratio: {min: 0.8}",
            "    demographic_parity_ratio: {min: 1.25}",
            "fairgate.yaml: gate.ethical.demographic_parity_ratio.min: min = 1.25 lies outside the metric's "
            "range [0.0, 1.0], so the check could never pass",
        ),
        (
            "    roc_auc: {min: 0.70}",
            "    roc_auc: {min: 0.9, max: 0.8}",
            "fairgate.yaml: gate.technical.roc_auc: Value error, min = 0.9 is above max = 0.8: no value could pass",
        ),
        (
            "    demographic_parity_ratio: {min: 0.8}",
            "    disparate_impact: {min: 0.8}",
            "fairgate.yaml: gate.ethical.disparate_impact: no such metric; known: demographic_parity_difference, "
            "demographic_parity_ratio, equal_opportunity_difference, equalized_odds_difference, "
            "worst_group_accuracy",
        ),
        (
            "    technical.roc_auc: 0.02",
            "    technical.roc_auc: 1.5",
            "fairgate.yaml: gate.non_regression.technical.roc_auc: a tolerance of 1.5 is wider than the metric's "
            "whole range [0.0, 1.0]: no regression could fail it",
        ),
        (
            "    technical.roc_auc: 0.02",
            "    technical.roc_auk: 0.02",
            "fairgate.yaml: gate.non_regression.technical.roc_auk: no such metric; known: ",
        ),
        (
            "    roc_auc: {min: 0.70}\n",
            "    roc_auc: {min: 0.70}\n    roc_auc: {min: 0.10}\n",
            f"is not valid YAML: key 'roc_auc' appears twice in one mapping (line {ROC_AUC_LINE} "
            f"and line {ROC_AUC_LINE + 1}); keep one",
        ),
        (
            ETHICAL_SECTION,
            "  ethical: &weak\n    demographic_parity_ratio: {min: 0.1}\n",
            f"is not valid YAML: YAML anchors and aliases are refused (line {_line_of(ETHICAL_SECTION)}): "
            "write the value out",
        ),
    ],
    ids=[
        "no-ethical-gate",
        "no-technical-gate",
        "min-under-range",
        "max-over-range",
        "min-over-range",
        "min-above-max",
        "unknown-metric",
        "tolerance-wider-than-range",
        "unknown-tolerance-key",
        "duplicate-key",
        "anchor",
    ],
)
def test_the_file_cannot_remove_a_protection(tmp_path, old, new, message):
    with pytest.raises(BadInputError) as caught:
        load_config(_edited(tmp_path, old, new))
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_an_alias_bomb_is_refused_before_it_expands(tmp_path):
    text = (REPO / "fairgate.yaml").read_text(encoding="utf-8")
    layers = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    layers += [f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 10) + "]" for i in range(8)]
    path = tmp_path / "fairgate.yaml"
    path.write_text(text + "\nbomb:\n" + "\n".join("  " + line for line in layers) + "\n", encoding="utf-8")
    with pytest.raises(BadInputError, match="YAML anchors and aliases are refused"):
        load_config(path)


def test_edges_of_the_ranges_are_accepted(tmp_path):
    """The check refuses what removes a protection, not a strict but legal policy."""
    path = _edited(tmp_path, "    roc_auc: {min: 0.70}", "    roc_auc: {min: 0.0, max: 1.0}")
    assert load_config(path).gate.technical["roc_auc"].min == 0.0
    path = _edited(tmp_path, "    demographic_parity_ratio: {min: 0.8}", "    demographic_parity_ratio: {min: 1.0}")
    assert load_config(path).gate.ethical["demographic_parity_ratio"].min == 1.0
    path = _edited(tmp_path, "    technical.roc_auc: 0.02", "    technical.roc_auc: 1.0")
    assert load_config(path).gate.non_regression["technical.roc_auc"] == 1.0


def test_a_protection_is_refused_with_exit_2_and_one_line(tmp_path, monkeypatch, capsys):
    from pipelines.core.errors import EXIT_BAD_INPUT
    from pipelines.flows.cli import main

    _edited(tmp_path, ETHICAL_SECTION, "  ethical: {}\n")
    monkeypatch.delenv("FAIRGATE_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["status"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err == (
        "fairgate: fairgate.yaml: gate.ethical: the ethical gate needs at least one check (every sensitive "
        "attribute keeps at least one ethical check); removing it is not a configuration choice\n"
    )


def test_the_metric_ranges_name_every_gateable_metric():
    """core's table of ranges and the metrics the evaluation computes are the same names."""
    from pipelines.core.config import GATE_METRIC_RANGES
    from pipelines.model.metrics import BUSINESS_METRICS, ETHICAL_METRICS, METRIC_DIRECTION, TECHNICAL_METRICS

    assert set(GATE_METRIC_RANGES["technical"]) == set(TECHNICAL_METRICS)
    assert set(GATE_METRIC_RANGES["business"]) == set(BUSINESS_METRICS)
    assert set(GATE_METRIC_RANGES["ethical"]) == set(ETHICAL_METRICS)
    assert {name for family in GATE_METRIC_RANGES.values() for name in family} == set(METRIC_DIRECTION)


# --------------------------------------------------------------------------- the cost matrix (issue 15, item 6)


def test_the_lending_default_keeps_its_threshold_float():
    """The rename changes no decision of the default project: 1/6 on P(default), exactly as before."""
    config = load_config(REPO / "fairgate.yaml")
    decision = config.decision
    assert (decision.cost_wrong_favorable, decision.cost_wrong_unfavorable) == (5.0, 1.0)
    assert config.dataset.positive_is_favorable is False
    # before issue 15: cost_false_refusal / (cost_false_approval + cost_false_refusal) = 1.0 / (5.0 + 1.0)
    assert decision.refusal_threshold == decision.positive_threshold(False) == 1.0 / (5.0 + 1.0)
    assert decision.refusal_threshold.hex() == "0x1.5555555555555p-3"


@pytest.mark.parametrize(
    ("old", "new"),
    [("cost_false_approval", "cost_wrong_favorable"), ("cost_false_refusal", "cost_wrong_unfavorable")],
)
def test_the_former_cost_keys_are_refused_naming_the_new_ones(raw, old, new):
    raw["decision"][old] = raw["decision"].pop(new)
    with pytest.raises(BadInputError) as caught:
        parse_config(raw)
    message = str(caught.value)
    assert message.startswith(f"fairgate.yaml: decision.{old}: renamed: write decision.{new} (")
    assert "\n" not in message
    config = load_config(REPO / "fairgate.yaml")
    with pytest.raises(BadInputError, match=rf"^override 'decision.{old}': renamed: write decision.{new} \("):
        apply_overrides(config, {f"decision.{old}": 2.0})


@pytest.mark.parametrize("key", ["cost_wrong_favorable", "cost_wrong_unfavorable"])
@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (0.0, "Input should be greater than 0"),
        (-1.0, "Input should be greater than 0"),
        (float("inf"), "Input should be a finite number"),
        (float("nan"), "Input should be a finite number"),
        ("five", "Input should be a valid number, unable to parse string as a number"),
    ],
)
def test_a_bad_cost_names_its_key(raw, key, value, problem):
    raw["decision"][key] = value
    with pytest.raises(BadInputError) as caught:
        parse_config(raw)
    assert str(caught.value) == f"fairgate.yaml: decision.{key}: {problem}"


def test_costs_too_far_apart_for_a_threshold_are_refused(raw):
    raw["decision"].update(cost_wrong_favorable=1e300, cost_wrong_unfavorable=1e-300)
    with pytest.raises(BadInputError, match=r"^fairgate.yaml: decision: .*too far apart for a threshold strictly"):
        parse_config(raw)
    raw["decision"].update(cost_wrong_favorable=1e308, cost_wrong_unfavorable=1e308)  # the sum overflows
    with pytest.raises(BadInputError, match="too far apart"):
        parse_config(raw)


@pytest.mark.parametrize("threshold", [0.0, 1.0, float("nan")])
def test_an_explicit_threshold_stays_strictly_inside_zero_one(raw, threshold):
    raw["decision"]["threshold"] = threshold
    with pytest.raises(BadInputError, match=r"^fairgate.yaml: decision.threshold: "):
        parse_config(raw)


@pytest.mark.parametrize("unstated", ["cost_wrong_favorable", "cost_wrong_unfavorable"])
def test_a_favourable_positive_class_must_state_its_costs(raw, unstated):
    """The 5:1 default is lending's: with hired = 1 favourable it would hire only from p >= 5/6."""
    raw["dataset"].update(target="hired", positive_is_favorable=True)
    raw["decision"].pop(unstated)
    with pytest.raises(BadInputError) as caught:
        parse_config(raw)
    message = str(caught.value)
    assert message.startswith(f"fairgate.yaml: decision.{unstated}: dataset.positive_is_favorable is true, so state")
    assert "at least 5/6" in message and "\n" not in message
    raw.pop("decision")  # no decision section at all: the first cost is named
    with pytest.raises(BadInputError, match=r"^fairgate.yaml: decision.cost_wrong_favorable: dataset.positive_is"):
        parse_config(raw)


def test_a_favourable_positive_class_with_stated_costs_gets_its_own_threshold(raw):
    raw["dataset"].update(target="hired", positive_is_favorable=True)
    raw["decision"].update(cost_wrong_favorable=1.0, cost_wrong_unfavorable=3.0)
    decision = parse_config(raw).decision
    assert decision.positive_threshold(True) == 1.0 / 4.0  # hire from P(hired = 1) >= 1/4
    assert decision.refusal_threshold == 3.0 / 4.0  # refuse above P(hired = 0) = 3/4
    # the lending orientation: only the positive class differs, never the meaning of the costs
    raw["dataset"].update(positive_is_favorable=False)
    assert parse_config(raw).decision.positive_threshold(False) == 3.0 / 4.0
    # stated costs survive the round trip of a run's overrides
    assert apply_overrides(parse_config(raw), {}).decision == parse_config(raw).decision


def test_an_explicit_threshold_is_on_the_unfavourable_outcome(raw):
    raw["decision"]["threshold"] = 0.3
    lending = parse_config(raw).decision
    assert lending.refusal_threshold == lending.positive_threshold(False) == 0.3  # refuse above P(default) = 0.3
    assert lending.positive_threshold(True) == 1.0 - 0.3  # grant from P(favourable) = 0.7


def test_a_file_read_again_is_the_same_configuration_in_a_copy_of_its_own(tmp_path, raw):
    """load_config keeps what it parsed (by the file's text); every call still gets an independent copy."""
    path = tmp_path / "fairgate.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    first, second = load_config(path), load_config(path)
    assert first == second == parse_config(raw)
    assert first is not second and first.gate.technical is not second.gate.technical
    first.gate.technical.clear()  # a caller that changes its copy changes nobody else's
    assert load_config(path).gate.technical == parse_config(raw).gate.technical != {}


def test_an_edited_file_is_parsed_and_validated_again(tmp_path, raw):
    path = tmp_path / "fairgate.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    assert load_config(path).training.beta_factor == raw["training"]["beta_factor"]
    raw["training"]["beta_factor"] = 0.5
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    assert load_config(path).training.beta_factor == 0.5
    raw["training"]["beta_factor"] = "high"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    with pytest.raises(BadInputError, match="training.beta_factor"):
        load_config(path)
    with pytest.raises(BadInputError, match="training.beta_factor"):  # a refused text is never kept
        load_config(path)
