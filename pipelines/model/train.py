"""Training: a scikit-learn pipeline fitted with exact float64 class weights.

The estimator receives ``sample_weight`` from :mod:`pipelines.model.weights`; the
training fingerprint (beta, counts, weights as ``float.hex``, hash of the
sample-weight vector) is recorded so the weights can be recomputed and
checked after the fact.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from pipelines.core.config import DatasetSettings, DecisionSettings, TrainingSettings
from pipelines.core.errors import BadInputError
from pipelines.core.small_groups import merge_small_groups
from pipelines.model.mitigation import ExponentiatedGradientClassifier, ThresholdOptimizerClassifier
from pipelines.model.weights import (
    TrainingWeights,
    exact_repr,
    per_sample_weights,
    training_weights,
    weights_fingerprint,
)

logger = logging.getLogger(__name__)

ERR_NO_FEATURES = "no feature columns left to train on after removing target, time, ids, sensitive and excluded"
ERR_DATETIME_FEATURE = (
    "feature {column!r} is a date/time: the model cannot use it raw; exclude it with a reason "
    "in dataset.exclude_columns or derive a numeric feature"
)
ERR_ESTIMATOR_PARAMS = "training.params are not valid for {estimator}: {problem}"
ERR_MITIGATION = "training.mitigation {method}: {problem}"
ERR_NO_DECISION = (
    "training.mitigation {method} needs the decision settings (its constraint is set at the threshold)"
)
THRESHOLDED_METHODS = ("exponentiated_gradient", "threshold_optimizer")


@dataclass
class TrainedModel:
    """A fitted pipeline and the facts needed to verify how it was trained."""

    model: Pipeline
    features: list[str]
    numeric_features: list[str]
    categorical_features: list[str]
    beta_factor: float
    class_counts: dict[Any, int]
    class_weights: dict[Any, float]
    sample_weight_sha256: str
    received_sample_weight: np.ndarray | None = None
    fingerprint: dict[str, Any] = field(default_factory=dict)
    unmitigated: Pipeline | None = None


def split_feature_types(frame: pd.DataFrame, features: list[str]) -> tuple[list[str], list[str]]:
    """Partition features into numeric and categorical; refuse raw datetimes."""
    numeric, categorical = [], []
    for column in features:
        dtype = frame[column].dtype
        if pd.api.types.is_datetime64_any_dtype(dtype):
            raise BadInputError(ERR_DATETIME_FEATURE.format(column=column))
        if pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
            categorical.append(column)
        else:
            numeric.append(column)
    return numeric, categorical


def positive_threshold(dataset: DatasetSettings, decision: DecisionSettings) -> float:
    """``s``: the threshold on the positive class's probability at which the pipeline decides.

    The same number the evaluation compares (see
    :meth:`pipelines.core.config.DecisionSettings.positive_threshold` and
    :func:`pipelines.model.evaluate.approve_decisions`), so a mitigation fitted at ``s``
    is constrained on the decisions the pipeline takes.
    """
    return float(decision.positive_threshold(dataset.positive_is_favorable))


def build_pipeline(
    training: TrainingSettings,
    numeric: list[str],
    categorical: list[str],
    mitigate_at: float | None = None,
    positive_label: Any = 1,
    sensitive: list[str] | None = None,
    merged_groups: dict[str, dict[str, str]] | None = None,
) -> Pipeline:
    """Preprocessing (impute, scale, one-hot) and the configured estimator.

    With ``mitigate_at`` (the threshold ``s`` of :func:`positive_threshold`) the
    estimator is wrapped in :class:`~pipelines.model.mitigation.ExponentiatedGradientClassifier`
    with the configured constraint; for ``threshold_optimizer`` the whole
    preprocessing-and-estimator pipeline is wrapped in
    :class:`~pipelines.model.mitigation.ThresholdOptimizerClassifier` (it reads
    the ``sensitive`` columns from the raw input rows, with the small groups
    merged as ``merged_groups`` says: ``{attribute: {group: merged into}}``),
    as the single ``estimator`` step.
    """
    transformers = []
    if numeric:
        transformers.append(
            ("numeric", Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]), numeric)
        )
    if categorical:
        transformers.append(
            (
                "categorical",
                # a missing value is a category of its own: no imputation guesses for it
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                categorical,
            )
        )
    estimator: Any
    try:
        if training.estimator == "logistic_regression":
            estimator = LogisticRegression(random_state=training.seed, **training.params)
        else:
            estimator = HistGradientBoostingClassifier(random_state=training.seed, **training.params)
    except TypeError as e:
        raise BadInputError(ERR_ESTIMATOR_PARAMS.format(estimator=training.estimator, problem=e)) from e
    preprocess = ColumnTransformer(transformers)
    mitigation = training.mitigation
    if mitigate_at is not None and mitigation.method == "threshold_optimizer":
        optimizer = ThresholdOptimizerClassifier(
            Pipeline([("preprocess", preprocess), ("estimator", estimator)]),
            constraint=mitigation.constraint,
            sensitive_columns=list(sensitive or []),
            merged_groups=dict(merged_groups or {}),
            positive_threshold=mitigate_at,
            positive_label=positive_label,
            seed=training.seed,
        )
        return Pipeline([("estimator", optimizer)])
    if mitigate_at is not None:
        estimator = ExponentiatedGradientClassifier(
            estimator,
            constraint=mitigation.constraint,
            difference_bound=mitigation.difference_bound,
            max_iter=mitigation.max_iter,
            positive_threshold=mitigate_at,
            positive_label=positive_label,
        )
    return Pipeline([("preprocess", preprocess), ("estimator", estimator)])


@contextmanager
def recording_received_weights(estimator: Any) -> Iterator[dict[str, Any]]:
    """Record the ``sample_weight`` the estimator's ``fit`` actually receives.

    The wrapper is an instance attribute removed after fitting, so the fitted
    (and logged) estimator is the plain scikit-learn object.
    """
    received: dict[str, Any] = {"sample_weight": None, "calls": 0}
    original_fit = estimator.fit

    def fit(X: Any, y: Any, sample_weight: Any = None, **kwargs: Any) -> Any:
        received["calls"] += 1
        received["sample_weight"] = None if sample_weight is None else np.array(sample_weight, copy=True)
        return original_fit(X, y, sample_weight=sample_weight, **kwargs)

    estimator.fit = fit
    try:
        yield received
    finally:
        del estimator.fit


def compute_sample_weights(
    labels: pd.Series, groups: pd.DataFrame | None, training: TrainingSettings, classes: list[Any] | None
) -> tuple[TrainingWeights, np.ndarray]:
    """The per-cell plan and the per-sample vector the estimator is given."""
    plan = training_weights(labels, training.beta_factor, groups, classes)
    return plan, per_sample_weights(plan, labels, groups)


def train_model(
    train: pd.DataFrame,
    features: list[str],
    dataset: DatasetSettings,
    training: TrainingSettings,
    classes: list[Any] | None = None,
    decision: DecisionSettings | None = None,
    with_unmitigated: bool = True,
) -> TrainedModel:
    """Fit the pipeline on the training rows with exact sample weights; record what the estimator received.

    With a mitigation, the same pipeline without it (same class weights, no
    group reweighing, no reduction) is fitted too, as ``unmitigated``: the
    evaluate stage reports what the mitigation cost against it.

    Parameters
    ----------
    classes : list, optional
        The classes the model must learn (each must be in the training window).
    decision : DecisionSettings, optional
        Needed by ``exponentiated_gradient`` and ``threshold_optimizer`` (constrained at the decision threshold).
    with_unmitigated : bool, default True
        Also fit the ``unmitigated`` twin (the mitigation search, which only compares
        options on a validation split, does without it).
    """
    if not features:
        raise BadInputError(ERR_NO_FEATURES)
    method = training.mitigation.method
    labels = train[dataset.target].reset_index(drop=True)
    # the sensitive groups as dataset.small_groups forms them (merged groups are one group)
    sensitive = merge_small_groups(train[dataset.sensitive], dataset.small_groups).reset_index(drop=True)
    groups = sensitive if training.reweigh_sensitive else None
    plan, per_sample = compute_sample_weights(labels, groups, training, classes)
    numeric, categorical = split_feature_types(train, features)
    fit_params: dict[str, Any] = {"estimator__sample_weight": per_sample}
    mitigate_at = None
    if method in THRESHOLDED_METHODS:
        if decision is None:
            raise BadInputError(ERR_NO_DECISION.format(method=method))
        mitigate_at = positive_threshold(dataset, decision)
    if method == "exponentiated_gradient":
        fit_params["estimator__sensitive_features"] = sensitive.astype(str)
    # threshold_optimizer forms the groups again at decision time: with the same merges
    merged = {name: dict(policy.merged_into) for name, policy in dataset.small_groups.items() if policy.merged_into}
    pipeline = build_pipeline(
        training, numeric, categorical, mitigate_at, dataset.positive_label, dataset.sensitive, merged
    )
    with recording_received_weights(pipeline.named_steps["estimator"]) as received:
        try:
            pipeline.fit(train[features], labels.to_numpy(), **fit_params)
        except ValueError as e:
            if mitigate_at is None:
                raise
            raise BadInputError(ERR_MITIGATION.format(method=method, problem=e)) from e
    got = received["sample_weight"]
    unmitigated = None
    if method != "none" and with_unmitigated:
        plain_plan, plain_weights = compute_sample_weights(labels, None, training, classes)
        unmitigated = build_pipeline(training, numeric, categorical)
        unmitigated.fit(train[features], labels.to_numpy(), estimator__sample_weight=plain_weights)
    fingerprint = {
        "beta_factor": float(training.beta_factor).hex(),
        "beta_factor_repr": repr(float(training.beta_factor)),
        "class_counts": {str(k): v for k, v in plan.class_counts.items()},
        "class_weights_hex": exact_repr(plan.class_weights),
        "class_weights_repr": {str(k): repr(v) for k, v in plan.class_weights.items()},
        "reweigh_sensitive": bool(plan.group_columns),
        "group_columns": list(plan.group_columns),
        "cell_weights_repr": {f"{group}|{label}": repr(w) for (group, label), w in plan.cell_weights.items()},
        "cell_counts": {f"{group}|{label}": n for (group, label), n in plan.cell_counts.items()},
        "received_dtype": None if got is None else str(got.dtype),
        "sample_weight_sha256": None if got is None else weights_fingerprint(got),
        "rows": int(len(train)),
        "mitigation": _mitigation_facts(training, pipeline.named_steps["estimator"], mitigate_at),
    }
    logger.info(
        "trained %s on %d rows, class weights %s", training.estimator, len(train), fingerprint["class_weights_repr"]
    )
    return TrainedModel(
        model=pipeline,
        features=list(features),
        numeric_features=numeric,
        categorical_features=categorical,
        beta_factor=training.beta_factor,
        class_counts=plan.class_counts,
        class_weights=plan.class_weights,
        sample_weight_sha256=str(fingerprint["sample_weight_sha256"]),
        received_sample_weight=got,
        fingerprint=fingerprint,
        unmitigated=unmitigated,
    )


def _mitigation_facts(training: TrainingSettings, estimator: Any, mitigate_at: float | None) -> dict[str, Any]:
    """What the mitigation was and, for the reduction, the exact costs and the mixture it kept."""
    mitigation = training.mitigation
    facts: dict[str, Any] = {"method": mitigation.method}
    if mitigate_at is None:
        return facts
    if mitigation.method == "threshold_optimizer":
        facts.update(
            {
                "constraint": mitigation.constraint,
                "positive_threshold": repr(mitigate_at),
                "class_weights": {k: repr(v) for k, v in estimator.class_weights_.items()},
                "costs": {k: repr(v) for k, v in estimator.costs_.items()},
                "sensitive_at_decision": list(estimator.sensitive_columns),
                "draw_seed": estimator.seed,
                "group_rules": {
                    group: {k: v if isinstance(v, str) or v is None else repr(v) for k, v in rule.items()}
                    for group, rule in estimator.group_rules_.items()
                },
            }
        )
        return facts
    facts.update(
        {
            "constraint": mitigation.constraint,
            "difference_bound": repr(float(mitigation.difference_bound)),
            "max_iter": mitigation.max_iter,
            "positive_threshold": repr(mitigate_at),
            "class_weights": {k: repr(v) for k, v in estimator.class_weights_.items()},
            "costs": {k: repr(v) for k, v in estimator.costs_.items()},
            "mixture_weights": [repr(float(w)) for w in estimator.mixture_weights_],
            "oracle_calls": estimator.iterations_,
        }
    )
    return facts
