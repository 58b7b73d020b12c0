"""Training: a scikit-learn pipeline fitted with exact float64 class weights.

The estimator receives ``sample_weight`` from :mod:`pipelines.weights`; the
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

from pipelines.config import DatasetSettings, TrainingSettings
from pipelines.errors import BadInputError
from pipelines.weights import TrainingWeights, exact_repr, per_sample_weights, training_weights, weights_fingerprint

logger = logging.getLogger(__name__)

ERR_NO_FEATURES = "no feature columns left to train on after removing target, time, ids, sensitive and excluded"
ERR_DATETIME_FEATURE = (
    "feature {column!r} is a date/time: the model cannot use it raw; exclude it with a reason "
    "in dataset.exclude_columns or derive a numeric feature"
)
ERR_ESTIMATOR_PARAMS = "training.params are not valid for {estimator}: {problem}"


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


def build_pipeline(training: TrainingSettings, numeric: list[str], categorical: list[str]) -> Pipeline:
    """Preprocessing (impute, scale, one-hot) and the configured estimator."""
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
    return Pipeline([("preprocess", ColumnTransformer(transformers)), ("estimator", estimator)])


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
) -> TrainedModel:
    """Fit the pipeline on the training rows with exact sample weights; record what the estimator received.

    Parameters
    ----------
    classes : list, optional
        The classes the model must learn (each must be in the training window).
    """
    if not features:
        raise BadInputError(ERR_NO_FEATURES)
    labels = train[dataset.target].reset_index(drop=True)
    groups = train[dataset.sensitive].reset_index(drop=True) if training.reweigh_sensitive else None
    plan, per_sample = compute_sample_weights(labels, groups, training, classes)
    numeric, categorical = split_feature_types(train, features)
    pipeline = build_pipeline(training, numeric, categorical)
    with recording_received_weights(pipeline.named_steps["estimator"]) as received:
        pipeline.fit(train[features], labels.to_numpy(), estimator__sample_weight=per_sample)
    got = received["sample_weight"]
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
    )
