"""The bare script the whole governed run is timed against: read, split, fit, ``predict_proba``.

Usage: ``python -m benchmarks.bare_fit PROJECT OUT.npy``.  It reads the
project's accepted batches, makes the out-of-time split, fits the configured
``LogisticRegression`` with the exact class weights (and, with
``training.mitigation.method: exponentiated_gradient``, fairlearn's
``ExponentiatedGradient`` with the same cost-weighted objective and
constraint), then computes the holdout's positive-class probabilities, and
writes them to ``OUT.npy``.  It prints one line, ``BARE {json}``: the seconds
of each step.

What it reuses from fairgate, and why: reading the batches
(:func:`pipelines.data.dataset.load_dataset`), the split
(:func:`pipelines.data.split.holdout_mask`), the feature columns and their
types, and the class weights (:func:`pipelines.model.train.compute_sample_weights`):
the same inputs, so the fit is the same computation.  The model itself is
written out here with scikit-learn and fairlearn, as someone without fairgate
would write it; the probability of the reduction's mixture is its weighted
mean, moved to the decision threshold's scale, as
:class:`pipelines.model.mitigation.ExponentiatedGradientClassifier` does.
Nothing of the governance runs: no audit, no leakage checks, no MLflow, no
DVC, no evaluation or bootstrap.

``python -m benchmarks.bare_fit --check PROJECT OUT.npy VERSION`` (not timed)
loads the registered version ``VERSION`` from the project's registry,
computes its ``predict_proba`` on the same holdout and prints ``CHECK {json}``:
whether it equals the bare script's output bit for bit, the largest
difference, and the data's size in memory.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

STARTED = time.perf_counter()

import numpy as np  # noqa: E402  (the clock starts before the imports: they are part of the bare cost)
import pandas as pd  # noqa: E402


def _read_and_split(project: Path) -> tuple[Any, pd.DataFrame, pd.DataFrame, list[str]]:
    """The project's configuration, its training rows, its holdout and the model's feature columns."""
    from pipelines.core.config import load_config
    from pipelines.core.project import ProjectPaths
    from pipelines.data.dataset import load_dataset
    from pipelines.data.leakage import candidate_feature_columns
    from pipelines.data.split import holdout_mask

    paths = ProjectPaths(project)
    config = load_config(paths.config_file)
    frame = load_dataset(paths, config)
    is_test = holdout_mask(frame, config.dataset, config.split)
    train = frame[~is_test].reset_index(drop=True)
    holdout = frame[is_test].reset_index(drop=True)
    return config, train, holdout, candidate_feature_columns(train, config.dataset)


def _preprocess(numeric: list[str], categorical: list[str]) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    parts: list[tuple[str, Any, list[str]]] = []
    if numeric:
        parts.append(("numeric", Pipeline([("impute", SimpleImputer(strategy="median")),
                                           ("scale", StandardScaler())]), numeric))
    if categorical:
        parts.append(("categorical", OneHotEncoder(handle_unknown="ignore", sparse_output=False), categorical))
    return ColumnTransformer(parts)


def bare_fit(project: Path) -> tuple[np.ndarray, dict[str, float]]:
    """Fit and score as the module's docstring says; return the holdout's P(positive) and each step's seconds."""
    from scipy.special import expit, logit
    from sklearn.linear_model import LogisticRegression

    from pipelines.core.small_groups import merge_small_groups
    from pipelines.model.train import compute_sample_weights, split_feature_types

    steps = {"imports": time.perf_counter() - STARTED}
    clock = time.perf_counter()
    config, train, holdout, features = _read_and_split(project)
    steps["read_and_split"] = time.perf_counter() - clock
    dataset, training = config.dataset, config.training
    if training.estimator != "logistic_regression" or training.mitigation.method not in (
        "none", "exponentiated_gradient"
    ):
        raise SystemExit(f"bare script: only logistic_regression with mitigation none or exponentiated_gradient, "
                         f"found {training.estimator} with {training.mitigation.method}")
    clock = time.perf_counter()
    labels = train[dataset.target]
    classes = sorted(set(labels.dropna().tolist()) | set(holdout[dataset.target].dropna().tolist()),
                     key=lambda v: (str(type(v)), v))
    plan, weights = compute_sample_weights(labels, None, training, classes)
    numeric, categorical = split_feature_types(train, features)
    preprocess = _preprocess(numeric, categorical)
    x_train = preprocess.fit_transform(train[features])
    estimator = LogisticRegression(random_state=training.seed, **training.params)
    positive = dataset.positive_label
    if training.mitigation.method == "none":
        estimator.fit(x_train, labels.to_numpy(), sample_weight=weights)
        steps["fit"] = time.perf_counter() - clock
        clock = time.perf_counter()
        x_holdout = preprocess.transform(holdout[features])
        p_positive = estimator.predict_proba(x_holdout)[:, list(estimator.classes_).index(positive)]
    else:
        from fairlearn.reductions import DemographicParity, EqualizedOdds, ErrorRate, ExponentiatedGradient

        mitigation = training.mitigation
        s = float(config.decision.positive_threshold(dataset.positive_is_favorable))
        negative = next(c for c in classes if c != positive)
        costs = {"fn": plan.class_weights[positive] * (1.0 - s), "fp": plan.class_weights[negative] * s}
        moment = DemographicParity if mitigation.constraint == "demographic_parity" else EqualizedOdds
        reduction = ExponentiatedGradient(
            estimator, moment(difference_bound=mitigation.difference_bound), objective=ErrorRate(costs=costs),
            eps=mitigation.difference_bound, max_iter=mitigation.max_iter,
        )
        groups = merge_small_groups(train[dataset.sensitive], dataset.small_groups)  # as dataset.small_groups says
        reduction.fit(x_train, (labels.to_numpy() == positive).astype(np.int64), sensitive_features=groups.astype(str))
        steps["fit"] = time.perf_counter() - clock
        clock = time.perf_counter()
        x_holdout = preprocess.transform(holdout[features])
        q = np.zeros(len(holdout), dtype=np.float64)
        for weight, predictor in zip(np.asarray(reduction.weights_, dtype=np.float64), reduction.predictors_,
                                     strict=True):
            if weight > 0 and 1 in list(predictor.classes_):
                q += weight * predictor.predict_proba(x_holdout)[:, list(predictor.classes_).index(1)]
        with np.errstate(divide="ignore"):
            p_positive = expit(logit(np.clip(q, 0.0, 1.0)) + logit(s))
    steps["predict_proba"] = time.perf_counter() - clock
    return p_positive, steps


def check_registered(project: Path, bare_output: Path, version: str) -> dict[str, Any]:
    """The registered ``version``'s P(positive) on the same holdout against the bare script's, bit for bit."""
    import mlflow.sklearn

    from pipelines.core.project import ProjectPaths
    from pipelines.governance import registry

    config, train, holdout, features = _read_and_split(project)
    registry.connect(ProjectPaths(project))
    model = mlflow.sklearn.load_model(f"models:/{config.registry.model_name}/{version}")
    governed = model.predict_proba(holdout[features])[:, list(model.classes_).index(config.dataset.positive_label)]
    governed = np.ascontiguousarray(governed, dtype=np.float64)
    bare = np.load(bare_output)
    same_shape = governed.shape == bare.shape
    difference = float(np.max(np.abs(governed - bare))) if same_shape and len(bare) else None
    data_bytes = int(train.memory_usage(deep=True).sum() + holdout.memory_usage(deep=True).sum())
    return {
        "version": version,
        "holdout_rows": len(holdout),
        "train_rows": len(train),
        "bit_identical": bool(same_shape and np.array_equal(governed.view(np.uint64), bare.view(np.uint64))),
        "max_abs_difference": difference,
        "governed_sha256": hashlib.sha256(governed.tobytes()).hexdigest(),
        "bare_sha256": hashlib.sha256(np.ascontiguousarray(bare).tobytes()).hexdigest(),
        "data_bytes": data_bytes,
    }


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--check":
        project, output, version = Path(argv[1]), Path(argv[2]), argv[3]
        sys.stdout.write("CHECK " + json.dumps(check_registered(project, output, version)) + "\n")
        return 0
    project, output = Path(argv[0]), Path(argv[1])
    p_positive, steps = bare_fit(project)
    np.save(output, np.ascontiguousarray(p_positive, dtype=np.float64))
    steps["total_in_process"] = time.perf_counter() - STARTED
    sys.stdout.write("BARE " + json.dumps(steps) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
