"""The gate-aware mitigation search on a fixture whose base rates are three times apart.

The project's own split, training, evaluation and gate with the settings of
``fairgate.yaml``; the dataset is :mod:`tests.model.base_rates` (10% and 30%
defaults in groups ``a`` and ``b``, a proxy of the group among the features).
On it the configured default (exponentiated gradient under demographic parity
at 0.01) is blocked by equalized odds, as in issue 15; the search must find
the option that passes when there is one, and explain the conflict when the
gate asks for both criteria tightly.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from pipelines.core.config import FairgateConfig, MitigationSettings, TrainingSettings, load_config
from pipelines.core.errors import BadInputError
from pipelines.data.leakage import candidate_feature_columns
from pipelines.data.split import holdout_mask
from pipelines.governance.gate import GateDecision, decide
from pipelines.governance.mitigation_search import (
    SearchResult,
    explain_conflict,
    search_mitigation,
    train_with_search,
)
from pipelines.model.evaluate import evaluate_model
from pipelines.model.train import TrainedModel
from pipelines.reports.mitigation_search_report import (
    blocked_reason,
    gate_report_section,
    options_frame,
    write_search_files,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from base_rates import base_rate_frame  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OPTIONS = [
    {"method": "none"},
    {"method": "reweighing"},
    {"method": "exponentiated_gradient", "constraint": "demographic_parity", "difference_bound": 0.01},
    {"method": "exponentiated_gradient", "constraint": "demographic_parity", "difference_bound": 0.05},
    {"method": "exponentiated_gradient", "constraint": "equalized_odds", "difference_bound": 0.01},
    {"method": "exponentiated_gradient", "constraint": "equalized_odds", "difference_bound": 0.05},
]
# both criteria at 0.05: with defaults three times as frequent in one group, no model meets them together
BOTH_TIGHT = {
    "demographic_parity_ratio": {"min": 0.8},
    "demographic_parity_difference": {"max": 0.05},
    "equalized_odds_difference": {"max": 0.05},
}


def fixture_config(time_column: str | None = "decided_at", ethical: dict[str, Any] | None = None,
                   search: bool = True) -> FairgateConfig:
    """``fairgate.yaml`` pointed at the base-rate fixture, with the search (or not) and a gate."""
    base = load_config(ROOT / "fairgate.yaml")
    dataset = base.dataset.model_copy(
        update={
            "source": "file", "path": "applications.csv", "target": "default", "time_column": time_column,
            "id_columns": ["application_id"], "sensitive": ["group"],
            "exclude_columns": {} if time_column else {"decided_at": "no time column in this variant"},
            "positive_label": 1, "positive_is_favorable": False,
        }
    )
    mitigation = base.training.mitigation.model_validate(
        {**base.training.mitigation.model_dump(), "search": {"options": OPTIONS} if search else None}
    )
    training = base.training.model_copy(update={"mitigation": mitigation})
    gate = base.gate if ethical is None else base.gate.model_validate(
        {**base.gate.model_dump(exclude_none=True), "ethical": ethical}
    )
    # fewer resamples and latency batches than fairgate.yaml: the verdicts rest on point estimates, not on these
    evaluation = base.evaluation.model_copy(
        update={"latency_batches": 5, "bootstrap": base.evaluation.bootstrap.model_copy(update={"resamples": 200})}
    )
    return base.model_copy(
        update={"dataset": dataset, "training": training, "gate": gate, "evaluation": evaluation}
    )


class Fixture:
    """The base-rate frame split as the pipeline splits it (out-of-time holdout)."""

    def __init__(self, config: FairgateConfig) -> None:
        self.frame = base_rate_frame()
        self.config = config
        mask = holdout_mask(self.frame, config.dataset, config.split)
        self.train = self.frame[~mask].reset_index(drop=True)
        self.holdout = self.frame[mask].reset_index(drop=True)
        self.features = candidate_feature_columns(self.train, config.dataset)

    def search(self) -> SearchResult:
        return search_mitigation(self.train, self.features, self.config, [0, 1])

    def holdout_gate(self, model: Any, config: FairgateConfig | None = None) -> GateDecision:
        config = config or self.config
        result = evaluate_model(
            model, self.holdout[self.features], self.holdout["default"], self.holdout[["group"]],
            config.dataset, config.decision, config.evaluation,
        )
        return decide(result, None, config.gate)


@pytest.fixture(scope="module")
def passable() -> Fixture:
    return Fixture(fixture_config())


@pytest.fixture(scope="module")
def passable_trained(passable: Fixture) -> tuple[TrainedModel, TrainingSettings, SearchResult | None]:
    return train_with_search(passable.train, passable.features, passable.config, [0, 1])


@pytest.fixture(scope="module")
def passable_search(passable_trained: tuple[TrainedModel, TrainingSettings, SearchResult | None]) -> SearchResult:
    searched = passable_trained[2]
    assert searched is not None
    return searched


@pytest.fixture(scope="module")
def conflicting() -> Fixture:
    return Fixture(fixture_config(ethical=BOTH_TIGHT))


@pytest.fixture(scope="module")
def conflicting_search(conflicting: Fixture) -> SearchResult:
    return conflicting.search()


def _without_latency(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metrics.items() if "latency" not in k}


def test_the_fixture_has_base_rates_three_times_apart(passable: Fixture) -> None:
    rates = passable.train.groupby("group")["default"].mean()
    assert 2.7 < rates["b"] / rates["a"] < 3.3


def test_before_the_configured_default_is_blocked_by_equalized_odds(passable: Fixture) -> None:
    """Before: today's single method (exponentiated gradient, demographic parity, 0.01) on this data."""
    config = fixture_config(search=False)
    trained, _, searched = train_with_search(passable.train, passable.features, config, [0, 1])
    assert searched is None
    assert trained.fingerprint["mitigation"]["method"] == "exponentiated_gradient"
    decision = passable.holdout_gate(trained.model, config)
    failed = [c.metric for c in decision.checks if not c.passed]
    assert not decision.passed
    assert failed == ["ethical.group.equalized_odds_difference"]


def test_the_search_keeps_a_mitigated_option_that_passes_and_records_every_option(
    passable: Fixture, passable_search: SearchResult
) -> None:
    assert passable_search.any_passed
    kept = passable_search.chosen_option
    assert kept.passed and kept.option["method"] != "none"
    assert [o.label for o in passable_search.options] == [
        "none", "reweighing",
        "exponentiated_gradient(demographic_parity, 0.01)", "exponentiated_gradient(demographic_parity, 0.05)",
        "exponentiated_gradient(equalized_odds, 0.01)", "exponentiated_gradient(equalized_odds, 0.05)",
    ]
    passing = [o for o in passable_search.options if o.passed]
    # the kept option is the cheapest of those passing on the validation split
    assert kept.metrics["business.expected_cost"] == min(o.metrics["business.expected_cost"] for o in passing)
    # the no-mitigation option fails there: the search is not a formality on this data
    assert not passable_search.options[0].passed
    assert passable_search.conflict is None
    for outcome in passable_search.options:
        assert outcome.metrics["ethical.group.equalized_odds_difference"] is not None
        assert outcome.metrics["technical.roc_auc"] > 0.8


def test_the_kept_option_is_refitted_on_the_whole_window_and_passes_the_holdout_gate(
    passable: Fixture, passable_trained: tuple[TrainedModel, TrainingSettings, SearchResult | None]
) -> None:
    """After: the search's choice, refitted on every training row, passes both gates on the holdout."""
    trained, training, searched = passable_trained
    assert searched is not None
    kept = searched.chosen_option.option
    assert trained.fingerprint["rows"] == len(passable.train)  # the validation rows are back in
    assert training.mitigation.method == kept["method"]
    assert training.mitigation.search is None
    facts = trained.fingerprint["mitigation"]
    assert facts["search"]["kept"] == searched.chosen_option.label
    if kept["method"] == "exponentiated_gradient":
        assert facts["constraint"] == kept["constraint"]
        assert float(facts["difference_bound"]) == kept["difference_bound"]
    decision = passable.holdout_gate(trained.model)
    assert decision.passed, decision.reasons()


def test_when_no_option_passes_the_conflict_names_the_checks_and_the_base_rates(
    conflicting: Fixture, conflicting_search: SearchResult
) -> None:
    assert not conflicting_search.any_passed
    conflict = conflicting_search.conflict
    assert conflict is not None
    named = {name for pair in conflict["pairs"] for name in pair[:2]} | set(conflict["never_met"])
    assert any("demographic_parity" in name for name in named)
    assert any("equalized_odds_difference" in name for name in named)
    search = conflicting_search.to_dict()
    section = gate_report_section(search)
    assert "conflict" in section
    assert "equalized_odds_difference" in section and "demographic_parity" in section
    rates = conflicting_search.base_rates["group"]
    for group in ("a", "b"):
        assert f"{group} {rates[group]['base_rate']:.4f}" in section
    assert "cannot both hold" in section and "share of default = 1 per group" in section
    for outcome in conflicting_search.options:  # the trade-off table lists every option
        assert outcome.label in section
    reason = blocked_reason(search)
    assert reason is not None and "equalized_odds_difference" in reason
    assert f"base rates group: a {rates['a']['base_rate']:.3f}, b {rates['b']['base_rate']:.3f}" in reason


def test_the_conflict_is_read_from_the_verdicts_not_assumed() -> None:
    """Two checks met separately and never together are a conflict; a check met with every other is not."""
    from pipelines.governance.mitigation_search import OptionOutcome

    def outcome(label: str, passed: list[str], failed: list[str]) -> OptionOutcome:
        return OptionOutcome(label, {}, not failed, True, not failed, failed, passed, [], {})

    dp, eo, ratio = "ethical.g.dp <= 0.1", "ethical.g.eo <= 0.1", "ethical.g.ratio >= 0.8"
    conflict = explain_conflict([outcome("x", [dp, ratio], [eo]), outcome("y", [eo, ratio], [dp])])
    assert conflict["pairs"] == [[dp, eo, ["x"], ["y"]]]
    assert conflict["never_met"] == []
    no_conflict = explain_conflict([outcome("x", [dp, eo, ratio], []), outcome("y", [eo], [dp, ratio])])
    assert no_conflict["pairs"] == [] and no_conflict["never_met"] == []


def test_the_passable_fixture_gives_no_blocked_reason(passable_search: SearchResult) -> None:
    assert blocked_reason(passable_search.to_dict()) is None
    assert "kept" in gate_report_section(passable_search.to_dict())


@pytest.mark.parametrize("time_column", ["decided_at", None])
def test_the_validation_split_never_touches_the_holdout(time_column: str | None) -> None:
    config = fixture_config(time_column=time_column)
    fixture = Fixture(config)
    # the search is given the training window only: its validation rows are training rows
    searched = search_mitigation(fixture.train, fixture.features, config.model_copy(update={
        "training": config.training.model_copy(update={"mitigation": config.training.mitigation.model_copy(
            update={"search": config.training.mitigation.search.model_copy(update={"options": [
                o for o in config.training.mitigation.search.options if o.method != "exponentiated_gradient"
            ]})})})}), [0, 1])
    validation_ids = set(fixture.train.loc[searched.validation_positions, "application_id"])
    holdout_ids = set(fixture.holdout["application_id"])
    assert validation_ids and not validation_ids & holdout_ids
    assert validation_ids <= set(fixture.train["application_id"])
    assert searched.validation["rows"] == len(validation_ids)
    assert searched.validation["fitting_rows"] == len(fixture.train) - len(validation_ids)
    if time_column is not None:
        in_validation = fixture.train["application_id"].isin(validation_ids)
        times = fixture.train[time_column]
        assert times[~in_validation].max() < times[in_validation].min()  # out of time within the window
        assert times[in_validation].max() < fixture.holdout[time_column].min()
    else:
        share = fixture.train.loc[searched.validation_positions, "default"].mean()
        assert share == pytest.approx(fixture.train["default"].mean(), abs=0.01)  # stratified


def test_the_search_is_deterministic(passable: Fixture, passable_search: SearchResult) -> None:
    again = passable.search()
    assert again.chosen == passable_search.chosen
    assert again.validation_positions == passable_search.validation_positions
    for first, second in zip(passable_search.options, again.options, strict=True):
        assert first.failed_checks == second.failed_checks
        assert _without_latency(first.metrics) == _without_latency(second.metrics)


def test_the_table_and_the_trade_off_plot_are_written(passable_search: SearchResult, tmp_path: Path) -> None:
    search = passable_search.to_dict()
    files = write_search_files(search, {"equalized_odds_difference": {"max": 0.1}}, tmp_path)
    table = pd.read_csv(files[0])
    assert table["option"].tolist() == [o.label for o in passable_search.options]
    assert table["kept"].sum() == 1
    assert files[2].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert options_frame(search)["validation_gate"].tolist().count("passed") == sum(
        o.passed for o in passable_search.options
    )


def test_an_option_listed_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="listed more than once: reweighing"):
        fixture_config().training.mitigation.model_validate(
            {"search": {"options": [{"method": "reweighing"}, {"method": "reweighing"}]}}
        )


def test_a_validation_split_with_one_class_is_refused(passable: Fixture) -> None:
    train = passable.train.copy()
    cut = train["decided_at"].quantile(0.7)
    train.loc[train["decided_at"] >= cut, "default"] = 0
    with pytest.raises(BadInputError, match="validation_fraction"):
        search_mitigation(train, passable.features, passable.config, [0, 1])


def test_the_gate_stage_reports_the_conflict_and_adds_it_to_the_blocked_reasons(
    conflicting: Fixture, conflicting_search: SearchResult
) -> None:
    from pipelines.flows.retrain.model_stages import gate_report
    from pipelines.model.train import train_model

    plain = train_model(conflicting.train, conflicting.features, conflicting.config.dataset,
                        conflicting.config.training.model_copy(update={"mitigation": MitigationSettings()}),
                        [0, 1], conflicting.config.decision)
    decision = conflicting.holdout_gate(plain.model)
    assert not decision.passed
    report, reasons = gate_report(decision, conflicting_search.to_dict(), [])
    assert reasons[:-1] == decision.reasons()
    assert reasons[-1].startswith("mitigation search: none of 6 options passed")
    assert report.startswith("# Gate decision: BLOCKED")
    assert "## Why no mitigation could pass: the ethical checks conflict on this data" in report
    # without a search, the report and the reasons are today's
    assert gate_report(decision, None, []) == (decision.to_markdown(), decision.reasons())
