"""fairlearn's ThresholdOptimizer as a mitigation option, on the fixture whose base rates are three times apart.

It decides with the sensitive attribute, so the configuration refuses it unless
``dataset.use_sensitive_as_feature`` is true; with it, the option is fitted by
the pipeline's own training code, evaluated and gated like any candidate, and
the logged MLflow model gives the same seeded decisions through pyfunc.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from fairlearn.metrics import demographic_parity_difference
from fairlearn.postprocessing import ThresholdOptimizer
from sklearn.base import clone

from pipelines.core.config import (
    ERR_THRESHOLD_OPTIMIZER,
    ERR_THRESHOLD_OPTIMIZER_BOUND,
    FairgateConfig,
    MitigationOption,
    TrainingSettings,
    parse_config,
)
from pipelines.core.errors import BadInputError
from pipelines.governance.gate import decide
from pipelines.governance.mitigation_search import search_mitigation
from pipelines.model.evaluate import evaluate_model
from pipelines.model.metrics import approve_decisions
from pipelines.model.mitigation import ThresholdOptimizerClassifier, _cost_objective
from pipelines.model.train import TrainedModel, positive_threshold, train_model

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_mitigation_search import ROOT, Fixture, fixture_config  # noqa: E402

GRID = 1000  # fairlearn's default grid_size: the constraint is met on a grid of 1/1000


def optimizer_config(constraint: str = "demographic_parity", seed: int | None = None) -> FairgateConfig:
    """The fixture's config with the sensitive attribute as a model input and ThresholdOptimizer as the mitigation."""
    base = fixture_config(search=False)
    dataset = base.dataset.model_copy(update={"use_sensitive_as_feature": True})
    mitigation = base.training.mitigation.model_validate({"method": "threshold_optimizer", "constraint": constraint})
    update: dict[str, Any] = {"mitigation": mitigation}
    if seed is not None:
        update["seed"] = seed
    return base.model_copy(update={"dataset": dataset, "training": base.training.model_copy(update=update)})


def fit(fixture: Fixture, config: FairgateConfig) -> TrainedModel:
    return train_model(fixture.train, fixture.features, config.dataset, config.training, [0, 1], config.decision)


@pytest.fixture(scope="module")
def parity() -> Fixture:
    return Fixture(optimizer_config())


@pytest.fixture(scope="module")
def parity_model(parity: Fixture) -> TrainedModel:
    return fit(parity, parity.config)


def optimizer_of(trained: TrainedModel) -> ThresholdOptimizerClassifier:
    estimator = trained.model.named_steps["estimator"]
    assert isinstance(estimator, ThresholdOptimizerClassifier)
    return estimator


# --------------------------------------------------------------------------- configuration


def raw_config(**changes: Any) -> dict[str, Any]:
    raw = yaml.safe_load((ROOT / "fairgate.yaml").read_text(encoding="utf-8"))
    for dotted, value in changes.items():
        node = raw
        *parents, leaf = dotted.split("__")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    return raw


SEARCH = {"options": [{"method": "none"}, {"method": "threshold_optimizer", "constraint": "demographic_parity"}]}


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        pytest.param(
            {"training__mitigation__search": SEARCH}, "training.mitigation.search.options.1.method", id="search"
        ),
        pytest.param({"training__mitigation__method": "threshold_optimizer",
                      "training__mitigation__difference_bound": None}, "training.mitigation.method", id="method"),
    ],
)
def test_threshold_optimizer_is_refused_without_the_sensitive_attribute_as_input(
    changes: dict[str, Any], key: str
) -> None:
    raw = raw_config(**changes)
    raw["training"]["mitigation"] = {k: v for k, v in raw["training"]["mitigation"].items() if v is not None}
    with pytest.raises(BadInputError) as refused:
        parse_config(raw)
    assert str(refused.value) == f"fairgate.yaml: {key}: {ERR_THRESHOLD_OPTIMIZER}"
    assert "dataset.use_sensitive_as_feature: true" in str(refused.value)
    assert "disparate treatment" in str(refused.value)
    raw["dataset"]["use_sensitive_as_feature"] = True
    assert parse_config(raw).dataset.use_sensitive_as_feature


def test_a_bound_stated_for_threshold_optimizer_is_refused() -> None:
    with pytest.raises(ValueError, match=ERR_THRESHOLD_OPTIMIZER_BOUND):
        MitigationOption.model_validate(
            {"method": "threshold_optimizer", "constraint": "equalized_odds", "difference_bound": 0.05}
        )
    assert MitigationOption(method="threshold_optimizer", constraint="equalized_odds").label == (
        "threshold_optimizer(equalized_odds)"
    )


def test_train_refuses_sensitive_columns_missing_from_the_model_input(parity: Fixture) -> None:
    config = parity.config
    without = [c for c in parity.features if c != "group"]
    with pytest.raises(BadInputError, match=r"training.mitigation threshold_optimizer: .*\['group'\]"):
        train_model(parity.train, without, config.dataset, config.training, [0, 1], config.decision)


# --------------------------------------------------------------------------- fitting and the constraint


def test_the_cost_objective_at_equal_costs_chooses_what_accuracy_chooses(
    parity: Fixture, parity_model: TrainedModel
) -> None:
    """The objective registered with fairlearn is wired in: at equal costs it is accuracy (up to a constant)."""
    X, y = parity.train[parity.features], parity.train["default"].to_numpy()
    optimizer = optimizer_of(parity_model)
    estimator = optimizer.estimator
    groups = parity.train["group"]
    accuracy = ThresholdOptimizer(
        estimator=clone(estimator), objective="accuracy_score", predict_method="predict_proba"
    )
    accuracy.fit(X, y, sensitive_features=groups)
    with _cost_objective({"fn": 1.0, "fp": 1.0}) as objective:
        costed = ThresholdOptimizer(estimator=clone(estimator), objective=objective, predict_method="predict_proba")
        costed.fit(X, y, sensitive_features=groups)
    for group in ("a", "b"):
        assert repr(accuracy.interpolated_thresholder_.interpolation_dict[group]) == repr(
            costed.interpolated_thresholder_.interpolation_dict[group]
        )
    # the pipeline's costs (5:1 against approving a default) refuse far more than accuracy's 1:1 does
    refused_for_accuracy = accuracy._pmf_predict(X, sensitive_features=groups)[:, 1].mean()
    assert refused_for_accuracy + 0.2 < optimizer.positive_decision_probability(X).mean()


def test_the_decision_probabilities_are_fairlearns(parity: Fixture, parity_model: TrainedModel) -> None:
    """Plain-number rules reproduce fairlearn's own ``_pmf_predict`` for the same fit."""
    optimizer = optimizer_of(parity_model)
    X, y = parity.train[parity.features], (parity.train["default"] == 1).astype(np.int64).to_numpy()
    with _cost_objective(optimizer.costs_) as objective:
        reference = ThresholdOptimizer(
            estimator=clone(optimizer.estimator), constraints="demographic_parity", objective=objective,
            predict_method="predict_proba",
        )
        reference.fit(X, y, sensitive_features=optimizer.groups(X),
                      estimator__sample_weight=parity_model.received_sample_weight)
    expected = reference._pmf_predict(X, sensitive_features=optimizer.groups(X))[:, 1]
    np.testing.assert_array_equal(optimizer.positive_decision_probability(X), expected)


def test_demographic_parity_holds_on_the_training_rows(parity: Fixture, parity_model: TrainedModel) -> None:
    optimizer = optimizer_of(parity_model)
    X, groups = parity.train[parity.features], parity.train["group"].to_numpy()
    expected = {g: optimizer.positive_decision_probability(X)[groups == g].mean() for g in ("a", "b")}
    assert abs(expected["a"] - expected["b"]) <= 1 / GRID
    decided = optimizer.decide_positive(X)
    assert demographic_parity_difference(parity.train["default"], decided, sensitive_features=groups) <= 0.01
    # and the decisions are not the plain threshold's: the group thresholds moved them
    plain = optimizer.estimator_probability(X) >= optimizer.positive_threshold
    assert demographic_parity_difference(parity.train["default"], plain, sensitive_features=groups) > 0.1
    assert parity_model.fingerprint["mitigation"]["sensitive_at_decision"] == ["group"]
    assert parity_model.fingerprint["mitigation"]["costs"] == {k: repr(v) for k, v in optimizer.costs_.items()}


def test_decisions_are_seeded_per_row(parity: Fixture, parity_model: TrainedModel) -> None:
    optimizer = optimizer_of(parity_model)
    rows = parity.holdout[parity.features]
    again = optimizer_of(fit(parity, parity.config))
    assert again.group_rules_ == optimizer.group_rules_
    np.testing.assert_array_equal(again.predict_proba(rows), optimizer.predict_proba(rows))
    # a row's decision does not depend on the batch it comes in
    shuffled = rows.sample(frac=1.0, random_state=3)
    np.testing.assert_array_equal(
        optimizer.decide_positive(shuffled), optimizer.decide_positive(rows).take(shuffled.index.to_numpy())
    )
    single = [bool(optimizer.decide_positive(rows.iloc[[i]])[0]) for i in range(50)]
    assert single == optimizer.decide_positive(rows.head(50)).tolist()
    # another seed draws differently where the rule is random, and only there
    other = optimizer_of(fit(parity, optimizer_config(seed=7)))
    pi = optimizer.positive_decision_probability(rows)
    random_rows = (pi > 0) & (pi < 1)
    assert random_rows.sum() > 0
    changed = other.decide_positive(rows) != optimizer.decide_positive(rows)
    assert changed.any() and not changed[~random_rows].any()


# --------------------------------------------------------------------------- evaluation, gate, search, serving


def test_the_evaluation_and_the_gate_see_the_optimizers_decisions(parity: Fixture, parity_model: TrainedModel) -> None:
    config = parity.config
    optimizer = optimizer_of(parity_model)
    rows = parity.holdout[parity.features]
    p_default = parity_model.model.predict_proba(rows)[:, 1]
    approved = approve_decisions(p_default, config.decision, config.dataset.positive_is_favorable)
    np.testing.assert_array_equal(approved, ~optimizer.decide_positive(rows))
    s = positive_threshold(config.dataset, config.decision)
    assert not np.any(p_default == s)
    result = evaluate_model(
        parity_model.model, rows, parity.holdout["default"], parity.holdout[["group"]],
        config.dataset, config.decision, config.evaluation,
    )
    assert result["business"]["approval_rate"] == pytest.approx(approved.mean(), abs=0)
    gate = decide(result, None, config.gate)
    verdicts = {check.metric: check.passed for check in gate.checks}
    # parity is met on the holdout too; with base rates three times apart equalized odds is not
    assert verdicts["ethical.group.demographic_parity_difference"]
    assert verdicts["ethical.group.demographic_parity_ratio"]
    assert not verdicts["ethical.group.equalized_odds_difference"]
    assert result["technical"]["roc_auc"] > 0.85


def test_the_equalized_odds_option_meets_equalized_odds_on_the_holdout() -> None:
    fixture = Fixture(optimizer_config("equalized_odds"))
    trained = fit(fixture, fixture.config)
    gate = fixture.holdout_gate(trained.model)
    verdicts = {check.metric: check.passed for check in gate.checks}
    assert verdicts["ethical.group.equalized_odds_difference"]
    assert optimizer_of(trained).group_rules_["a"]["p_ignore"] is not None


def test_the_search_fits_and_judges_threshold_optimizer_options(parity: Fixture) -> None:
    config = parity.config
    search = config.training.mitigation.model_validate(
        {"search": {"options": [
            {"method": "none"},
            {"method": "threshold_optimizer", "constraint": "demographic_parity"},
            {"method": "threshold_optimizer", "constraint": "equalized_odds"},
        ]}}
    )
    searched_config = config.model_copy(
        update={"training": config.training.model_copy(update={"mitigation": search})}
    )
    result = search_mitigation(parity.train, parity.features, searched_config, [0, 1])
    labels = [o.label for o in result.options]
    assert labels == ["none", "threshold_optimizer(demographic_parity)", "threshold_optimizer(equalized_odds)"]
    parity_option = result.options[1]
    assert parity_option.metrics["ethical.group.demographic_parity_difference"] < 0.05
    assert "ethical.group.equalized_odds_difference <= 0.1" in parity_option.failed_checks


def test_the_logged_model_serves_the_same_decisions_through_pyfunc(
    parity: Fixture, parity_model: TrainedModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow

    from pipelines.flows.retrain.logged_model import log_sklearn_model

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    example = parity.train[parity.features].head(5)
    experiment = mlflow.create_experiment("threshold", artifact_location=(tmp_path / "artifacts").as_uri())
    with mlflow.start_run(experiment_id=experiment):
        info = log_sklearn_model(parity_model.model, example)
    assert "group" in [spec.name for spec in info.signature.inputs]
    local = mlflow.artifacts.download_artifacts(info.model_uri, dst_path=str(tmp_path / "model"))
    rows = parity.holdout[parity.features].head(500).reset_index(drop=True)
    rows.to_parquet(tmp_path / "rows.parquet")
    probe = textwrap.dedent(
        """
        import importlib.abc, sys
        class NoFairgate(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name == "pipelines" or name.startswith("pipelines.") or name.startswith("fairlearn"):
                    raise ImportError(f"{name} must not be needed to predict")
        sys.meta_path.insert(0, NoFairgate())
        import mlflow.pyfunc, mlflow.sklearn, numpy, pandas
        rows = pandas.read_parquet(sys.argv[2])
        numpy.save(sys.argv[3], numpy.asarray(mlflow.pyfunc.load_model(sys.argv[1]).predict(rows)))
        numpy.save(sys.argv[4], mlflow.sklearn.load_model(sys.argv[1]).predict_proba(rows))
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    outputs = [str(tmp_path / "served.npy"), str(tmp_path / "proba.npy")]
    done = subprocess.run(
        [sys.executable, "-c", probe, local, str(tmp_path / "rows.parquet"), *outputs],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    # pyfunc (mlflow models serve) answers predict_proba, as the signature says; the caller applies the threshold
    served = np.load(outputs[0])
    np.testing.assert_array_equal(served, parity_model.model.predict_proba(rows))
    np.testing.assert_array_equal(np.load(outputs[1]), parity_model.model.predict_proba(rows))
    optimizer = optimizer_of(parity_model)
    decided_default = optimizer.decide_positive(rows)
    # the served probability lies on the optimizer's side of the threshold, never on it
    np.testing.assert_array_equal(served[:, 1] > optimizer.positive_threshold, decided_default)
    assert not np.any(served[:, 1] == optimizer.positive_threshold)
    np.testing.assert_array_equal(parity_model.model.predict(rows) == 1, decided_default)


def test_training_settings_accept_the_method_when_the_attribute_is_an_input() -> None:
    settings = TrainingSettings.model_validate({"mitigation": {"method": "threshold_optimizer"}})
    assert settings.mitigation.method == "threshold_optimizer"
    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "group": ["a", "b", "a", "b"]})
    with pytest.raises(ValueError, match="not among the model's input columns"):
        ThresholdOptimizerClassifier(sensitive_columns=["sex"]).groups(frame)


def test_a_merged_small_group_is_decided_with_the_group_it_is_merged_into(parity: Fixture) -> None:
    """``dataset.small_groups`` merges apply at decision time too: no threshold is fitted on a handful of rows."""
    config = parity.config
    policy = {"merge": [{"into": "b", "groups": ["c"]}], "reason": "twenty applicants: judged with group b"}
    dataset = config.dataset.model_validate({**config.dataset.model_dump(), "small_groups": {"group": policy}})
    train = parity.train.copy()
    small = train.index[train["group"] == "b"][:20]
    train.loc[small, "group"] = "c"
    trained = train_model(train, parity.features, dataset, config.training, [0, 1], config.decision)
    optimizer = optimizer_of(trained)
    assert set(optimizer.group_rules_) == {"a", "b"}
    rows = train.loc[small, parity.features]
    # judged by group b's thresholds (the estimator itself still sees the value "c" as a feature)
    assert optimizer.groups(rows).tolist() == ["b"] * len(rows)
    assert set(optimizer.positive_decision_probability(rows).tolist()) <= {0.0, 1.0} | {
        optimizer.group_rules_["b"]["p0"], optimizer.group_rules_["b"]["p1"]
    }
    with pytest.raises(ValueError, match=r"no threshold for the group\(s\) \['d'\]"):
        optimizer.positive_decision_probability(rows.assign(group="d"))
