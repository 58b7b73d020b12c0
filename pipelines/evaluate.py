"""Evaluation: one structured result with three metric families, overall and per group.

The result of :func:`evaluate_model` (or :func:`evaluate_predictions`) is the
single object that is logged to MLflow, gated by :mod:`pipelines.gate` and
rendered in reports.  It is plain JSON-ready data (``json.dumps(result,
allow_nan=False)`` works); floats are kept at full precision.

Conventions
-----------
The model predicts ``p_positive``, the probability of ``dataset.positive_label``.

Decision rule (``t = decision.refusal_threshold``, the probability of the
*adverse* outcome above which an application is refused):

- positive class adverse (``positive_is_favorable`` False, e.g. default=1):
  approve when ``p_positive <= t``, refuse when ``p_positive > t``;
- positive class favourable: ``p_adverse = 1 - p_positive``, so approve when
  ``p_positive >= 1 - t`` and refuse when ``p_positive < 1 - t``.

Families:

- ``technical``: on the model's own positive class.  ``accuracy``,
  ``balanced_accuracy`` and ``f1`` (positive class, 0.0 when nothing is
  predicted positive) on the thresholded decision; ``roc_auc``, ``log_loss``
  and ``brier`` on the probabilities; ``latency_ms_p50`` / ``latency_ms_p95``
  (only from :func:`evaluate_model`).
- ``business``: the cost matrix.  A false approval (approving an applicant
  whose true outcome is adverse) costs ``cost_false_approval``; a false
  refusal costs ``cost_false_refusal``.  ``expected_cost`` is the mean cost
  per application; ``cost_best_constant`` the lower of the mean costs of
  approving everyone and refusing everyone; ``cost_saving_vs_best_constant``
  is ``1 - expected_cost / cost_best_constant``.
- ``ethical``: per sensitive attribute, computed with fairlearn on the
  *favourable* decision (approval = 1) against the favourable truth:
  ``selection_rate`` is the approval rate, ``tpr`` the share of truly-good
  applicants approved, ``fpr`` the share of truly-bad applicants approved.

Undefined values are ``None`` (JSON ``null``), never a made-up number:

- a group without favourable-truth rows has ``tpr`` None; without
  adverse-truth rows ``fpr`` None.  fairlearn 0.15 (through scikit-learn's
  normalised confusion matrix) silently returns 0.0 for such a group, which
  would distort the disparities; so ``equal_opportunity_difference`` (needs
  every TPR) and ``equalized_odds_difference`` (needs every TPR and FPR) are
  None and the attribute's ``notes`` say which group made them undefined;
- ``demographic_parity_ratio`` is None when every group's approval rate is 0;
- an attribute with a single group in the data has every disparity None;
- the gate treats None (and NaN) as "not computable" and fails closed.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import sklearn.metrics as skm
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equal_opportunity_difference,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)

from pipelines.config import DatasetSettings, DecisionSettings
from pipelines.errors import BadInputError

logger = logging.getLogger(__name__)

ERR_EMPTY = "nothing to evaluate: y_true has 0 rows"
ERR_LENGTH = "length mismatch: y_true has {expected} rows but {name} has {found}"
ERR_INDEX = (
    "y_true and {name} carry different pandas indexes: rows would be paired by position, "
    "not by label; align them (or reset both indexes) before evaluating"
)
ERR_LABEL_MISSING = "y_true has {count} missing values (NaN/None): every evaluated row needs a known outcome"
ERR_SINGLE_CLASS = (
    "y_true holds a single class {found}: evaluation needs both the positive label {positive!r} "
    "and another class"
)
ERR_TOO_MANY_CLASSES = "y_true must be binary: expected 2 classes, found {count}: {found}"
ERR_POSITIVE_ABSENT = "dataset.positive_label {positive!r} is not among the y_true classes {found}"
ERR_LABEL_SHAPE = "y_true must be one outcome per row (1-D), found shape {shape}"
ERR_PROBA_SHAPE = "p_positive must be one probability per row (1-D), found shape {shape}"
ERR_PROBA_RANGE = (
    "p_positive must hold finite probabilities in [0, 1]; found {count} values that are not, e.g. {example}"
)
ERR_SENSITIVE_TYPE = (
    "sensitive must be a pandas DataFrame (one column per attribute) or a Series, found {found}"
)
ERR_SENSITIVE_COLUMNS = (
    "sensitive must hold exactly the columns of dataset.sensitive {expected}, found {found}"
)
ERR_SENSITIVE_MISSING = (
    "sensitive attribute {attribute!r} has {count} missing values (NaN/None): every row needs a known group"
)
ERR_SENSITIVE_COLLISION = (
    "sensitive attribute {attribute!r} has values that do not map one-to-one to group names "
    "({found}): recode them"
)
ERR_MODEL_PROBA = (
    "model.predict_proba returned shape {shape}, expected ({rows}, {classes}) for classes {labels}"
)
ERR_MODEL_CLASSES = "model.classes_ {found} does not contain dataset.positive_label {positive!r}"
ERR_MODEL_NO_CLASSES = (
    "model has no classes_ attribute: cannot tell which predict_proba column is {positive!r}"
)
ERR_LATENCY_ARGS = "latency_batch_rows and latency_repeats must be integers >= 1, found {batch} and {repeats}"
ERR_METRIC_NAME_COLLISION = "metric names {first!r} and {second!r} both flatten to {name!r}: rename a group"

MetricDirection = Literal["higher", "lower"]

TECHNICAL_METRICS = (
    "accuracy",
    "balanced_accuracy",
    "roc_auc",
    "f1",
    "log_loss",
    "brier",
    "latency_ms_p50",
    "latency_ms_p95",
)
BUSINESS_METRICS = ("approval_rate", "expected_cost", "cost_saving_vs_best_constant")
ETHICAL_METRICS = (
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equalized_odds_difference",
    "equal_opportunity_difference",
    "worst_group_accuracy",
)

METRIC_DIRECTION: dict[str, MetricDirection] = {
    # technical
    "accuracy": "higher",
    "balanced_accuracy": "higher",
    "roc_auc": "higher",
    "f1": "higher",
    "log_loss": "lower",
    "brier": "lower",
    "latency_ms_p50": "lower",
    "latency_ms_p95": "lower",
    # business (cost_best_constant describes the data, not the model: not gateable)
    "approval_rate": "higher",  # lending volume; a fall is a business regression
    "expected_cost": "lower",
    "cost_saving_vs_best_constant": "higher",
    # ethical (per sensitive attribute, on approvals)
    "demographic_parity_difference": "lower",
    "demographic_parity_ratio": "higher",
    "equalized_odds_difference": "lower",
    "equal_opportunity_difference": "lower",
    "worst_group_accuracy": "higher",
}
"""Which way is better, for every metric a gate may name (without family prefix)."""

_GROUP_METRICS = ("rows", "approval_rate", "tpr", "fpr", "accuracy", "expected_cost")
_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9_\-]")


# --------------------------------------------------------------------------- validation


def _labels_array(y_true: Any) -> tuple[np.ndarray, pd.Index | None]:
    if isinstance(y_true, pd.DataFrame):
        if y_true.shape[1] != 1:
            raise BadInputError(ERR_LABEL_SHAPE.format(shape=y_true.shape))
        y_true = y_true.iloc[:, 0]
    if isinstance(y_true, pd.Series):
        return y_true.to_numpy(dtype=object), y_true.index
    values = np.asarray(y_true, dtype=object)
    if values.ndim != 1:
        raise BadInputError(ERR_LABEL_SHAPE.format(shape=values.shape))
    return values, None


def _is_positive(y_true: Any, positive_label: Any) -> tuple[np.ndarray, pd.Index | None]:
    """Validate ``y_true`` and return a boolean mask of the positive class and its index."""
    values, index = _labels_array(y_true)
    if len(values) == 0:
        raise BadInputError(ERR_EMPTY)
    missing = pd.isna(values)
    if missing.any():
        raise BadInputError(ERR_LABEL_MISSING.format(count=int(missing.sum())))
    classes = pd.unique(values)
    found = "[" + ", ".join(sorted(repr(c) for c in classes)) + "]"
    if len(classes) == 1:
        raise BadInputError(ERR_SINGLE_CLASS.format(found=found, positive=positive_label))
    if len(classes) > 2:
        raise BadInputError(ERR_TOO_MANY_CLASSES.format(count=len(classes), found=found))
    is_positive = np.asarray(values == positive_label, dtype=bool)
    if not is_positive.any():
        raise BadInputError(ERR_POSITIVE_ABSENT.format(positive=positive_label, found=found))
    return is_positive, index


def _check_alignment(name: str, rows: int, index: pd.Index | None, other: Any) -> None:
    found = len(other)
    if found != rows:
        raise BadInputError(ERR_LENGTH.format(expected=rows, name=name, found=found))
    other_index = getattr(other, "index", None)
    if index is not None and isinstance(other_index, pd.Index) and not index.equals(other_index):
        raise BadInputError(ERR_INDEX.format(name=name))


def _probabilities(p_positive: Any, rows: int, index: pd.Index | None) -> np.ndarray:
    _check_alignment("p_positive", rows, index, p_positive)
    probabilities = np.asarray(p_positive, dtype=float)
    if probabilities.ndim != 1:
        raise BadInputError(ERR_PROBA_SHAPE.format(shape=probabilities.shape))
    bad = ~(np.isfinite(probabilities) & (probabilities >= 0.0) & (probabilities <= 1.0))
    if bad.any():
        example = probabilities[bad][0]
        raise BadInputError(ERR_PROBA_RANGE.format(count=int(bad.sum()), example=example))
    return probabilities


def _sensitive_groups(
    sensitive: Any, attributes: list[str], rows: int, index: pd.Index | None
) -> dict[str, pd.Series]:
    """Validate the sensitive frame; return one string-valued Series per attribute, in config order."""
    if isinstance(sensitive, pd.Series):
        sensitive = sensitive.to_frame()
    if not isinstance(sensitive, pd.DataFrame):
        raise BadInputError(ERR_SENSITIVE_TYPE.format(found=type(sensitive).__name__))
    _check_alignment("sensitive", rows, index, sensitive)
    found = [str(c) for c in sensitive.columns]
    if sorted(found) != sorted(attributes) or len(set(found)) != len(found):
        raise BadInputError(ERR_SENSITIVE_COLUMNS.format(expected=list(attributes), found=found))
    groups: dict[str, pd.Series] = {}
    for attribute in attributes:
        column = sensitive[attribute]
        missing = column.isna()
        if missing.any():
            raise BadInputError(ERR_SENSITIVE_MISSING.format(attribute=attribute, count=int(missing.sum())))
        raw = column.to_numpy(dtype=object)
        as_text = np.array([str(v) for v in raw], dtype=object)
        if len(pd.unique(raw)) != len(pd.unique(as_text)):
            shown = sorted({str(v) for v in pd.unique(raw)})
            raise BadInputError(ERR_SENSITIVE_COLLISION.format(attribute=attribute, found=shown))
        groups[attribute] = pd.Series(as_text, name=attribute, dtype=object)
    return groups


# --------------------------------------------------------------------------- metrics


def _number(value: Any) -> float | None:
    """Return a plain float at full precision, or None when the value is undefined (NaN/inf)."""
    number = float(value)
    return number if math.isfinite(number) else None


def approve_decisions(
    p_positive: np.ndarray, refusal_threshold: float, positive_is_favorable: bool
) -> np.ndarray:
    """Return the approval decision (True = approve) for each probability of the positive class.

    Parameters
    ----------
    p_positive : numpy.ndarray
        Probability of ``dataset.positive_label`` per application.
    refusal_threshold : float
        Probability of the adverse outcome above which an application is refused.
    positive_is_favorable : bool
        Whether the positive class is the favourable outcome.

    Returns
    -------
    numpy.ndarray
        Boolean array, True where the application is approved: ``p_positive <= t``
        when the positive class is adverse, ``p_positive >= 1 - t`` when it is favourable.
    """
    if positive_is_favorable:
        return np.asarray(p_positive >= 1.0 - refusal_threshold, dtype=bool)
    return np.asarray(p_positive <= refusal_threshold, dtype=bool)


def cost_saving(expected_cost: float, cost_best_constant: float) -> float | None:
    """Return ``1 - expected_cost / cost_best_constant``, defined when the baseline costs nothing.

    Parameters
    ----------
    expected_cost : float
        Mean cost per application of the model's decisions.
    cost_best_constant : float
        Mean cost of the better of "approve everyone" and "refuse everyone".

    Returns
    -------
    float or None
        The relative saving.  When ``cost_best_constant`` is 0: 0.0 if the model also
        costs nothing (it matches the baseline), else None (undefined: the model is
        infinitely worse than a free baseline; the gate fails it closed).  With positive
        costs and both classes present (what :func:`evaluate_predictions` enforces) the
        baseline is never 0.
    """
    if cost_best_constant == 0.0:
        return 0.0 if expected_cost == 0.0 else None
    return 1.0 - expected_cost / cost_best_constant


def _technical(
    is_positive: np.ndarray, predicted_positive: np.ndarray, p_positive: np.ndarray
) -> dict[str, Any]:
    y = is_positive.astype(int)
    y_hat = predicted_positive.astype(int)
    return {
        "accuracy": float(skm.accuracy_score(y, y_hat)),
        "balanced_accuracy": float(skm.balanced_accuracy_score(y, y_hat)),
        "roc_auc": float(skm.roc_auc_score(y, p_positive)),
        "f1": float(skm.f1_score(y, y_hat, zero_division=0.0)),
        "log_loss": float(skm.log_loss(y, p_positive, labels=[0, 1])),
        "brier": float(skm.brier_score_loss(y, p_positive)),
    }


def _costs(approved: np.ndarray, favourable_truth: np.ndarray, decision: DecisionSettings) -> np.ndarray:
    false_approval = approved & ~favourable_truth
    false_refusal = ~approved & favourable_truth
    return false_approval * decision.cost_false_approval + false_refusal * decision.cost_false_refusal


def _business(
    approved: np.ndarray,
    favourable_truth: np.ndarray,
    groups: dict[str, pd.Series],
    decision: DecisionSettings,
) -> dict[str, Any]:
    costs = _costs(approved, favourable_truth, decision)
    expected_cost = float(costs.mean())
    cost_approve_all = float(np.mean(~favourable_truth) * decision.cost_false_approval)
    cost_refuse_all = float(np.mean(favourable_truth) * decision.cost_false_refusal)
    cost_best_constant = min(cost_approve_all, cost_refuse_all)
    by_group: dict[str, dict[str, dict[str, Any]]] = {}
    for attribute, group_of_row in groups.items():
        frame = pd.DataFrame({"group": group_of_row.to_numpy(), "approved": approved, "cost": costs})
        summary = frame.groupby("group", sort=True).agg(
            rows=("approved", "size"), approval_rate=("approved", "mean"), expected_cost=("cost", "mean")
        )
        by_group[attribute] = {
            str(group): {
                "rows": int(row.rows),
                "approval_rate": float(row.approval_rate),
                "expected_cost": float(row.expected_cost),
            }
            for group, row in summary.iterrows()
        }
    return {
        "approval_rate": float(approved.mean()),
        "expected_cost": expected_cost,
        "cost_approve_all": cost_approve_all,
        "cost_refuse_all": cost_refuse_all,
        "cost_best_constant": cost_best_constant,
        "cost_saving_vs_best_constant": cost_saving(expected_cost, cost_best_constant),
        "by_group": by_group,
    }


def _ethical_for_attribute(
    attribute: str, group_of_row: pd.Series, favourable_truth: np.ndarray, approved: np.ndarray
) -> dict[str, Any]:
    """Fairness of the favourable decision across the groups of one attribute, with fairlearn."""
    y_true = favourable_truth.astype(int)
    y_pred = approved.astype(int)
    frame = MetricFrame(
        metrics={
            "selection_rate": selection_rate,
            "tpr": true_positive_rate,
            "fpr": false_positive_rate,
            "accuracy": skm.accuracy_score,
        },
        y_true=y_true,
        y_pred=y_pred,
        sensitive_features=group_of_row,
    )
    by_group_frame = frame.by_group
    truth = pd.DataFrame({"group": group_of_row.to_numpy(), "good": y_true})
    counts = truth.groupby("group", sort=True)["good"].agg(["size", "sum"])

    notes: list[str] = []
    by_group: dict[str, dict[str, Any]] = {}
    tpr_undefined: list[str] = []
    fpr_undefined: list[str] = []
    for group, row in by_group_frame.iterrows():
        name = str(group)
        rows = int(counts.loc[group, "size"])
        good = int(counts.loc[group, "sum"])
        tpr: float | None = float(row["tpr"])
        fpr: float | None = float(row["fpr"])
        if good == 0:
            tpr = None
            tpr_undefined.append(name)
        if good == rows:
            fpr = None
            fpr_undefined.append(name)
        by_group[name] = {
            "rows": rows,
            "selection_rate": float(row["selection_rate"]),
            "tpr": tpr,
            "fpr": fpr,
            "accuracy": float(row["accuracy"]),
        }

    kwargs: dict[str, Any] = {"sensitive_features": group_of_row}
    metrics: dict[str, float | None] = {
        "demographic_parity_difference": _number(demographic_parity_difference(y_true, y_pred, **kwargs)),
        "demographic_parity_ratio": _number(demographic_parity_ratio(y_true, y_pred, **kwargs)),
        "equalized_odds_difference": _number(equalized_odds_difference(y_true, y_pred, **kwargs)),
        "equal_opportunity_difference": _number(equal_opportunity_difference(y_true, y_pred, **kwargs)),
        "worst_group_accuracy": _number(frame.group_min()["accuracy"]),
    }
    if metrics["demographic_parity_ratio"] is None:
        notes.append("no group is approved at all: demographic_parity_ratio (0/0) is undefined")
    if tpr_undefined:
        notes.append(
            f"groups without favourable-truth rows {tpr_undefined}: tpr undefined, so "
            "equal_opportunity_difference and equalized_odds_difference are undefined"
        )
        metrics["equal_opportunity_difference"] = None
        metrics["equalized_odds_difference"] = None
    if fpr_undefined:
        notes.append(
            f"groups without adverse-truth rows {fpr_undefined}: fpr undefined, so "
            "equalized_odds_difference is undefined"
        )
        metrics["equalized_odds_difference"] = None
    if len(by_group) < 2:
        notes.append(
            f"a single group {list(by_group)} in the evaluation data: "
            "disparities between groups are undefined"
        )
        for name in ETHICAL_METRICS:
            if name != "worst_group_accuracy":
                metrics[name] = None
    for note in notes:
        logger.warning("sensitive attribute %r: %s", attribute, note)
    return {"by_group": by_group, **metrics, "notes": notes}


# --------------------------------------------------------------------------- entry points


def evaluate_predictions(
    y_true: pd.Series,
    p_positive: np.ndarray,
    sensitive: pd.DataFrame,
    dataset: DatasetSettings,
    decision: DecisionSettings,
) -> dict[str, Any]:
    """Evaluate probabilities of the positive class: technical, business and ethical families.

    Parameters
    ----------
    y_true : pandas.Series or array-like
        True outcomes, two classes, one of them ``dataset.positive_label``.
    p_positive : numpy.ndarray or array-like
        Probability of ``dataset.positive_label`` per row, in [0, 1].
    sensitive : pandas.DataFrame or pandas.Series
        Exactly the columns named in ``dataset.sensitive``; no missing values.
    dataset : DatasetSettings
        Positive label, whether it is favourable, sensitive attribute names.
    decision : DecisionSettings
        Cost matrix and refusal threshold.

    Returns
    -------
    dict
        ``rows``, ``refusal_threshold``, ``positive_label``, ``positive_is_favorable``,
        ``technical``, ``business`` and ``ethical`` as described in the module docstring.
        No latency metrics (see :func:`evaluate_model`).

    Raises
    ------
    BadInputError
        Empty input, lengths or pandas indexes that differ, missing labels, a single class,
        more than two classes, a positive label absent from ``y_true``, probabilities outside
        [0, 1], sensitive columns other than ``dataset.sensitive``, or missing group values.
    """
    is_positive, index = _is_positive(y_true, dataset.positive_label)
    rows = len(is_positive)
    probabilities = _probabilities(p_positive, rows, index)
    groups = _sensitive_groups(sensitive, list(dataset.sensitive), rows, index)

    threshold = decision.refusal_threshold
    approved = approve_decisions(probabilities, threshold, dataset.positive_is_favorable)
    favourable_truth = is_positive if dataset.positive_is_favorable else ~is_positive
    predicted_positive = approved if dataset.positive_is_favorable else ~approved

    return {
        "rows": rows,
        "refusal_threshold": float(threshold),
        "positive_label": dataset.positive_label,
        "positive_is_favorable": dataset.positive_is_favorable,
        "technical": _technical(is_positive, predicted_positive, probabilities),
        "business": _business(approved, favourable_truth, groups, decision),
        "ethical": {
            attribute: _ethical_for_attribute(attribute, group_of_row, favourable_truth, approved)
            for attribute, group_of_row in groups.items()
        },
    }


def _positive_column(model: Any, positive_label: Any) -> tuple[int, list[Any]]:
    classes = getattr(model, "classes_", None)
    if classes is None:
        raise BadInputError(ERR_MODEL_NO_CLASSES.format(positive=positive_label))
    labels = list(np.asarray(classes).tolist())
    matches = [i for i, label in enumerate(labels) if label == positive_label]
    if len(matches) != 1:
        raise BadInputError(ERR_MODEL_CLASSES.format(found=labels, positive=positive_label))
    return matches[0], labels


def _predict_positive(model: Any, features: Any, column: int, labels: list[Any]) -> np.ndarray:
    proba = np.asarray(model.predict_proba(features), dtype=float)
    if proba.ndim != 2 or proba.shape != (len(features), len(labels)):
        raise BadInputError(
            ERR_MODEL_PROBA.format(shape=proba.shape, rows=len(features), classes=len(labels), labels=labels)
        )
    return proba[:, column]


def _latency(
    model: Any, features: Any, batch_rows: int, repeats: int
) -> tuple[dict[str, float], dict[str, int]]:
    """Time ``predict_proba`` on every full batch of ``batch_rows`` rows, ``repeats`` times.

    When there are fewer rows than ``batch_rows`` the one batch is all rows.  The
    full-holdout prediction made just before serves as the warm-up.
    """
    rows = len(features)
    size = min(batch_rows, rows)
    starts = range(0, rows - size + 1, size)
    timings_ms: list[float] = []
    for _ in range(repeats):
        for start in starts:
            stop = start + size
            batch = features.iloc[start:stop] if hasattr(features, "iloc") else features[start:stop]
            began = time.perf_counter()
            model.predict_proba(batch)
            timings_ms.append((time.perf_counter() - began) * 1000.0)
    p50, p95 = np.percentile(np.asarray(timings_ms), [50.0, 95.0])
    metrics = {"latency_ms_p50": float(p50), "latency_ms_p95": float(p95)}
    details = {"batch_rows": size, "batches": len(starts), "repeats": repeats, "samples": len(timings_ms)}
    return metrics, details


def evaluate_model(
    model: Any,
    features: pd.DataFrame,
    y_true: pd.Series,
    sensitive: pd.DataFrame,
    dataset: DatasetSettings,
    decision: DecisionSettings,
    latency_batch_rows: int = 1000,
    latency_repeats: int = 5,
) -> dict[str, Any]:
    """Score a fitted model on a holdout and evaluate it, latency included.

    Parameters
    ----------
    model : object
        Fitted classifier with ``classes_`` and ``predict_proba`` (columns in ``classes_`` order).
    features : pandas.DataFrame
        The model's input rows, aligned with ``y_true`` and ``sensitive``.
    y_true : pandas.Series
        True outcomes.
    sensitive : pandas.DataFrame
        The columns of ``dataset.sensitive``.
    dataset : DatasetSettings
        Positive label and its meaning, sensitive attribute names.
    decision : DecisionSettings
        Cost matrix and refusal threshold.
    latency_batch_rows : int, default 1000
        Rows per timed ``predict_proba`` call.
    latency_repeats : int, default 5
        Passes over the batches; p50/p95 are taken over every timed call.

    Returns
    -------
    dict
        The result of :func:`evaluate_predictions` with ``technical.latency_ms_p50`` and
        ``technical.latency_ms_p95`` (wall time, milliseconds) and a ``latency`` section
        (``batch_rows``, ``batches``, ``repeats``, ``samples``).

    Raises
    ------
    BadInputError
        As :func:`evaluate_predictions`, plus a model without the positive label in
        ``classes_``, a ``predict_proba`` of the wrong shape, or bad latency arguments.
    """
    if (
        isinstance(latency_batch_rows, bool)
        or isinstance(latency_repeats, bool)
        or not isinstance(latency_batch_rows, int)
        or not isinstance(latency_repeats, int)
        or latency_batch_rows < 1
        or latency_repeats < 1
    ):
        raise BadInputError(ERR_LATENCY_ARGS.format(batch=latency_batch_rows, repeats=latency_repeats))
    is_positive, index = _is_positive(y_true, dataset.positive_label)
    _check_alignment("features", len(is_positive), index, features)
    column, labels = _positive_column(model, dataset.positive_label)
    p_positive = _predict_positive(model, features, column, labels)
    result = evaluate_predictions(y_true, p_positive, sensitive, dataset, decision)
    latency_metrics, latency_details = _latency(model, features, latency_batch_rows, latency_repeats)
    result["technical"].update(latency_metrics)
    result["latency"] = latency_details
    return result


# --------------------------------------------------------------------------- reporting


def _name_part(text: str) -> str:
    return _UNSAFE_NAME_CHARS.sub("_", str(text)) or "_"


def flatten_metrics(result: dict[str, Any]) -> dict[str, float]:
    """Flatten the scalar metrics of a result into dotted, MLflow-valid metric names.

    Parameters
    ----------
    result : dict
        A result of :func:`evaluate_model` or :func:`evaluate_predictions`.

    Returns
    -------
    dict of str to float
        ``technical.<metric>``, ``business.<metric>``, ``business.<attr>.<group>.<metric>``,
        ``ethical.<attr>.<metric>`` and ``ethical.<attr>.<group>.<metric>`` (metric is one of
        ``rows``, ``selection_rate``, ``tpr``, ``fpr``, ``accuracy``).  Undefined values (None)
        become NaN, which MLflow stores as NaN: nothing is silently dropped.  Attribute and
        group names keep letters, digits, ``_`` and ``-``; any other character becomes ``_``.

    Raises
    ------
    BadInputError
        Two different metrics would get the same flattened name.
    """
    flat: dict[str, float] = {}
    origin: dict[str, str] = {}

    def put(parts: list[str], value: Any, source: str) -> None:
        name = ".".join(parts)
        if name in flat and origin[name] != source:
            problem = ERR_METRIC_NAME_COLLISION.format(first=origin[name], second=source, name=name)
            raise BadInputError(problem)
        flat[name] = math.nan if value is None else float(value)
        origin[name] = source

    def scalars(section: Mapping[str, Any]) -> list[tuple[str, Any]]:
        return [
            (key, value)
            for key, value in section.items()
            if value is None or (isinstance(value, int | float) and not isinstance(value, bool))
        ]

    for key, value in scalars(result.get("technical", {})):
        put(["technical", key], value, f"technical/{key}")
    business = result.get("business", {})
    for key, value in scalars(business):
        put(["business", key], value, f"business/{key}")
    for attribute, groups in business.get("by_group", {}).items():
        for group, values in groups.items():
            for key, value in scalars(values):
                put(
                    ["business", _name_part(attribute), _name_part(group), key],
                    value,
                    f"business/{attribute}/{group}/{key}",
                )
    for attribute, section in result.get("ethical", {}).items():
        for key, value in scalars(section):
            put(["ethical", _name_part(attribute), key], value, f"ethical/{attribute}/{key}")
        for group, values in section.get("by_group", {}).items():
            for key, value in scalars(values):
                put(
                    ["ethical", _name_part(attribute), _name_part(group), key],
                    value,
                    f"ethical/{attribute}/{group}/{key}",
                )
    return flat


def per_group_table(result: dict[str, Any]) -> pd.DataFrame:
    """Return one row per (attribute, group) with the per-group metrics of a result.

    Parameters
    ----------
    result : dict
        A result of :func:`evaluate_model` or :func:`evaluate_predictions`.

    Returns
    -------
    pandas.DataFrame
        Columns ``attribute``, ``group``, ``rows``, ``approval_rate``, ``tpr``, ``fpr``,
        ``accuracy``, ``expected_cost``; undefined values are NaN.
    """
    records: list[dict[str, Any]] = []
    business_groups = result["business"]["by_group"]
    for attribute, section in result["ethical"].items():
        for group, values in section["by_group"].items():
            business = business_groups[attribute][group]
            records.append(
                {
                    "attribute": attribute,
                    "group": group,
                    "rows": int(values["rows"]),
                    "approval_rate": float(values["selection_rate"]),
                    "tpr": math.nan if values["tpr"] is None else float(values["tpr"]),
                    "fpr": math.nan if values["fpr"] is None else float(values["fpr"]),
                    "accuracy": float(values["accuracy"]),
                    "expected_cost": float(business["expected_cost"]),
                }
            )
    table = pd.DataFrame.from_records(records, columns=["attribute", "group", *_GROUP_METRICS])
    return table.astype({"rows": "int64"})


def plot_per_group(result: dict[str, Any], path: Path) -> Path:
    """Draw approval rate, TPR and FPR per group, one panel per sensitive attribute, as PNG.

    The Agg canvas is attached to this figure only (no pyplot, no global backend
    switch).  An undefined TPR or FPR is drawn as no bar with an ``n/a`` label.

    Parameters
    ----------
    result : dict
        A result of :func:`evaluate_model` or :func:`evaluate_predictions`.
    path : pathlib.Path
        Where to write the PNG; its folder must exist.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    table = per_group_table(result)
    attributes = list(result["ethical"])
    widest = int(table.groupby("attribute").size().max())
    figure = Figure(figsize=(max(7.0, 1.6 * widest + 2.0), 3.6 * len(attributes)))
    FigureCanvasAgg(figure)
    axes = figure.subplots(nrows=len(attributes), ncols=1, squeeze=False)[:, 0]
    series = (
        ("approval_rate", "approval rate"),
        ("tpr", "TPR (truly good approved)"),
        ("fpr", "FPR (truly bad approved)"),
    )
    width = 0.8 / len(series)
    for axis, attribute in zip(axes, attributes, strict=True):
        rows = table[table["attribute"] == attribute].reset_index(drop=True)
        positions = np.arange(len(rows))
        for offset, (column, label) in enumerate(series):
            values = rows[column].to_numpy(dtype=float)
            x = positions + (offset - (len(series) - 1) / 2) * width
            axis.bar(x, np.nan_to_num(values, nan=0.0), width=width, label=label)
            for xi, value in zip(x, values, strict=True):
                if math.isnan(value):
                    axis.text(xi, 0.02, "n/a", ha="center", va="bottom", fontsize=7, rotation=90)
        ticks = [f"{g}\n(n={n})" for g, n in zip(rows["group"], rows["rows"], strict=True)]
        axis.set_xticks(positions, ticks)
        axis.set_ylim(0.0, 1.05)
        axis.set_ylabel("rate")
        ratio = result["ethical"][attribute]["demographic_parity_ratio"]
        shown = "n/a" if ratio is None else f"{ratio:.3f}"
        axis.set_title(f"{attribute}: approvals by group (demographic parity ratio {shown})", fontsize=10)
        axis.legend(loc="upper right", fontsize=8)
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, format="png", dpi=100)
    return path
