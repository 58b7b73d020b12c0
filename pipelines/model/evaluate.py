"""Evaluation: one structured result with three metric families, overall and per group, with intervals.

The candidate and the current champion are scored on the same holdout by
:func:`evaluate_models` (or :func:`compare_predictions` from probabilities).
Each model's result is the single object that is logged to MLflow, gated by
:mod:`pipelines.governance.gate` and rendered in reports.  It is plain JSON-ready data
(``json.dumps(result, allow_nan=False)`` works); floats are kept at full
precision.

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
  and ``brier`` on the probabilities (point estimates from scikit-learn);
  ``latency_ms_p50`` / ``latency_ms_p95``: wall milliseconds of one
  ``predict_proba`` call on ``evaluation.latency_batch_rows`` rows, measured
  (only when a model is evaluated, not bare probabilities).
- ``business``: the cost matrix.  A false approval (approving an applicant
  whose true outcome is adverse) costs ``cost_false_approval``; a false
  refusal costs ``cost_false_refusal``.  ``expected_cost`` is the mean cost
  per application; ``cost_best_constant`` the lower of the mean costs of
  approving everyone and refusing everyone; ``cost_saving_vs_best_constant``
  is ``1 - expected_cost / cost_best_constant``.  ``by_group`` holds the
  approval rate and expected cost of every group of every attribute.
- ``ethical``: per sensitive attribute (and, with ``evaluation.intersection``
  and two or more attributes, their intersection under the key
  ``"<a>+<b>"`` with groups ``"<x>+<y>"``), on the *favourable* decision
  (approval = 1) against the favourable truth: ``selection_rate`` is the
  approval rate, ``tpr`` the share of truly-good applicants approved, ``fpr``
  the share of truly-bad applicants approved, ``accuracy`` per group; then
  ``demographic_parity_difference`` and ``_ratio`` (disparate impact),
  ``equalized_odds_difference``, ``equal_opportunity_difference`` (the TPR
  difference) and ``worst_group_accuracy``.

The fast path
-------------
Every count metric (all of ``ethical`` and ``business``, and ``accuracy``,
``balanced_accuracy``, ``f1``) is computed from confusion counts: one
``numpy.bincount`` over the cells ``group x truth x decision`` (x the
champion's decision), aggregated per attribute.  fairlearn's ``MetricFrame``
(about 12 microseconds per row) is the reference the tests hold these numbers
to, never a dependency of this path.  Because the counts of a resample are
drawn per cell (:func:`pipelines.model.bootstrap.cell_replicates`), the bootstrap of
every count metric costs the same for a thousand rows or five million.

Intervals
---------
``result["intervals"]`` mirrors ``technical``, ``business`` and ``ethical``
with ``{"low", "high", "undefined"}`` for every metric: the two-sided
percentile interval of the seeded Poisson bootstrap at
``evaluation.bootstrap.confidence`` (see :mod:`pipelines.model.bootstrap`).  The
candidate and the champion share every resample, and
``comparison`` holds, for every metric of both, ``{"difference", "low",
"high", "undefined"}``: candidate minus champion and its own paired interval.

Undefined values are ``None`` (JSON ``null``), never a made-up number:

- a group without favourable-truth rows has ``tpr`` None; without
  adverse-truth rows ``fpr`` None.  fairlearn 0.15 (through scikit-learn's
  normalised confusion matrix) silently returns 0.0 for such a group, which
  would distort the disparities; so ``equal_opportunity_difference`` (needs
  every TPR) and ``equalized_odds_difference`` (needs every TPR and FPR) are
  None and the attribute's ``notes`` say which group made them undefined;
- ``demographic_parity_ratio`` is None when every group's approval rate is 0;
- an attribute with a single group in the data has every disparity None;
- an interval is None when its metric is undefined in any resample (its
  ``undefined`` says in how many);
- the gate treats None (and NaN) as "not computable" and fails closed.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import sklearn.metrics as skm

from pipelines.core.config import DatasetSettings, DecisionSettings, EvaluationSettings
from pipelines.core.errors import BadInputError
from pipelines.model import bootstrap

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
ERR_PROBA_SHAPE = "{name} must be one probability per row (1-D), found shape {shape}"
ERR_PROBA_RANGE = (
    "{name} must hold finite probabilities in [0, 1]; found {count} values that are not, e.g. {example}"
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
ERR_INTERSECTION_COLLISION = (
    "the intersection {attribute!r} gives the same group name to different combinations "
    "({found}): recode groups that contain {separator!r}"
)
ERR_MODEL_PROBA = (
    "model.predict_proba returned shape {shape}, expected ({rows}, {classes}) for classes {labels}"
)
ERR_MODEL_CLASSES = "model.classes_ {found} does not contain dataset.positive_label {positive!r}"
ERR_MODEL_NO_CLASSES = (
    "model has no classes_ attribute: cannot tell which predict_proba column is {positive!r}"
)
ERR_DECISION_SHAPE = "{name} must be one decision per row (1-D), found shape {shape}"
ERR_DECISION_VALUES = "{name} must hold approvals as booleans or 0/1; found {count} other values, e.g. {example!r}"
ERR_CHAMPION_FEATURES = "champion_model and champion_features go together: give both or neither"
ERR_METRIC_NAME_COLLISION = "metric names {first!r} and {second!r} both flatten to {name!r}: rename a group"

NOTE_PARITY_RATIO_UNDEFINED = "no group is approved at all: demographic_parity_ratio (0/0) is undefined"
NOTE_TPR_UNDEFINED = (
    "groups without favourable-truth rows {groups}: tpr undefined, so "
    "equal_opportunity_difference and equalized_odds_difference are undefined"
)
NOTE_FPR_UNDEFINED = (
    "groups without adverse-truth rows {groups}: fpr undefined, so equalized_odds_difference is undefined"
)
NOTE_SINGLE_GROUP = "a single group {groups} in the evaluation data: disparities between groups are undefined"

INTERSECTION_SEPARATOR = "+"

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
GROUP_RATES = ("selection_rate", "tpr", "fpr", "accuracy")
"""The per-group rates of an attribute (``ethical.<attr>.by_group.<group>``)."""
_BUSINESS_VALUES = (
    "approval_rate",
    "expected_cost",
    "cost_approve_all",
    "cost_refuse_all",
    "cost_best_constant",
    "cost_saving_vs_best_constant",
)
_BUSINESS_GROUP_VALUES = ("approval_rate", "expected_cost")

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
_DEFAULT_EVALUATION = EvaluationSettings()

MetricPath = tuple[str, ...]


# --------------------------------------------------------------------------- validation


def _labels_array(y_true: Any) -> tuple[np.ndarray, pd.Index | None]:
    if isinstance(y_true, pd.DataFrame):
        if y_true.shape[1] != 1:
            raise BadInputError(ERR_LABEL_SHAPE.format(shape=y_true.shape))
        y_true = y_true.iloc[:, 0]
    if isinstance(y_true, pd.Series):
        return y_true.to_numpy(), y_true.index
    values = np.asarray(y_true) if not isinstance(y_true, list) else np.asarray(y_true, dtype=object)
    if values.ndim != 1:
        raise BadInputError(ERR_LABEL_SHAPE.format(shape=values.shape))
    return values, None


def _is_positive(y_true: Any, positive_label: Any) -> tuple[np.ndarray, pd.Index | None]:
    """Validate ``y_true`` and return a boolean mask of the positive class and its index."""
    values, index = _labels_array(y_true)
    if len(values) == 0:
        raise BadInputError(ERR_EMPTY)
    codes, uniques = pd.factorize(values)
    missing = int(np.count_nonzero(codes < 0))
    if missing:
        raise BadInputError(ERR_LABEL_MISSING.format(count=missing))
    classes = list(np.asarray(uniques, dtype=object).tolist()) if len(uniques) else []
    found = "[" + ", ".join(sorted(repr(c) for c in classes)) + "]"
    if len(classes) == 1:
        raise BadInputError(ERR_SINGLE_CLASS.format(found=found, positive=positive_label))
    if len(classes) > 2:
        raise BadInputError(ERR_TOO_MANY_CLASSES.format(count=len(classes), found=found))
    matches = [i for i, label in enumerate(classes) if bool(label == positive_label)]
    if not matches:
        raise BadInputError(ERR_POSITIVE_ABSENT.format(positive=positive_label, found=found))
    return np.isin(codes, matches), index


def _check_alignment(name: str, rows: int, index: pd.Index | None, other: Any) -> None:
    found = len(other)
    if found != rows:
        raise BadInputError(ERR_LENGTH.format(expected=rows, name=name, found=found))
    other_index = getattr(other, "index", None)
    if index is not None and isinstance(other_index, pd.Index) and not index.equals(other_index):
        raise BadInputError(ERR_INDEX.format(name=name))


def _probabilities(p_positive: Any, rows: int, index: pd.Index | None, name: str = "p_positive") -> np.ndarray:
    _check_alignment(name, rows, index, p_positive)
    probabilities = np.asarray(p_positive, dtype=float)
    if probabilities.ndim != 1:
        raise BadInputError(ERR_PROBA_SHAPE.format(name=name, shape=probabilities.shape))
    bad = ~(np.isfinite(probabilities) & (probabilities >= 0.0) & (probabilities <= 1.0))
    if bad.any():
        example = probabilities[bad][0]
        raise BadInputError(ERR_PROBA_RANGE.format(name=name, count=int(bad.sum()), example=example))
    return probabilities


@dataclass(frozen=True)
class _Attribute:
    """One sensitive attribute (or the intersection): its group names and each joint group's group."""

    name: str
    groups: list[str]
    of_joint: np.ndarray  # joint group index -> index into ``groups``


@dataclass(frozen=True)
class _Partition:
    """Rows coded by joint group (the intersection of every attribute) and the attributes over it."""

    joint: np.ndarray  # per row, in [0, joint_count)
    joint_count: int
    attributes: list[_Attribute]


def _coded_attribute(column: pd.Series, attribute: str) -> tuple[np.ndarray, list[str]]:
    """Codes of one validated sensitive column, in the sorted order of the group names."""
    missing = int(column.isna().sum())
    if missing:
        raise BadInputError(ERR_SENSITIVE_MISSING.format(attribute=attribute, count=missing))
    codes, uniques = pd.factorize(column)  # observed values only (a categorical's unused levels are no group)
    raw = list(np.asarray(uniques, dtype=object).tolist())
    names = [str(value) for value in raw]
    if len(set(names)) != len(names):
        raise BadInputError(ERR_SENSITIVE_COLLISION.format(attribute=attribute, found=sorted(set(names))))
    order = sorted(range(len(names)), key=lambda i: names[i])
    rank = np.empty(len(names), dtype=np.int64)
    rank[order] = np.arange(len(names))
    return rank[codes], [names[i] for i in order]


def _partition(
    sensitive: Any, attributes: list[str], rows: int, index: pd.Index | None, intersection: bool
) -> _Partition:
    """Validate the sensitive frame; code every row by attribute, joint group and (optionally) intersection."""
    if isinstance(sensitive, pd.Series):
        sensitive = sensitive.to_frame()
    if not isinstance(sensitive, pd.DataFrame):
        raise BadInputError(ERR_SENSITIVE_TYPE.format(found=type(sensitive).__name__))
    _check_alignment("sensitive", rows, index, sensitive)
    found = [str(c) for c in sensitive.columns]
    if sorted(found) != sorted(attributes) or len(set(found)) != len(found):
        raise BadInputError(ERR_SENSITIVE_COLUMNS.format(expected=list(attributes), found=found))
    coded = [_coded_attribute(sensitive[attribute], attribute) for attribute in attributes]
    combined = np.zeros(rows, dtype=np.int64)
    for codes, names in coded:
        combined = combined * len(names) + codes
    present, joint = np.unique(combined, return_inverse=True)
    joint = joint.reshape(-1)
    members: list[np.ndarray] = []
    remainder = present.copy()
    for _codes, names in reversed(coded):
        remainder, member = np.divmod(remainder, len(names))
        members.append(member)
    members.reverse()
    result = [
        _Attribute(name=attribute, groups=names, of_joint=member)
        for attribute, (_codes, names), member in zip(attributes, coded, members, strict=True)
    ]
    if intersection and len(attributes) > 1:
        name = INTERSECTION_SEPARATOR.join(attributes)
        labels = [
            INTERSECTION_SEPARATOR.join(
                names[int(member[j])] for (_codes, names), member in zip(coded, members, strict=True)
            )
            for j in range(len(present))
        ]
        if len(set(labels)) != len(labels):
            repeated = sorted({label for label in labels if labels.count(label) > 1})
            raise BadInputError(
                ERR_INTERSECTION_COLLISION.format(attribute=name, found=repeated, separator=INTERSECTION_SEPARATOR)
            )
        order = sorted(range(len(labels)), key=lambda j: labels[j])
        rank = np.empty(len(labels), dtype=np.int64)
        rank[order] = np.arange(len(labels))
        result.append(_Attribute(name=name, groups=[labels[j] for j in order], of_joint=rank))
    return _Partition(joint=joint.astype(np.int64), joint_count=len(present), attributes=result)


# --------------------------------------------------------------------------- decisions and costs


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


# --------------------------------------------------------------------------- metrics from counts
#
# ``counts[..., group, truth, decision]``: truth 1 = favourable (good), decision 1 = approved.
# Leading axes are resamples (index 0 of the stacked array is the holdout itself).


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``numerator / denominator`` as float64, NaN where the denominator is 0."""
    num = np.asarray(numerator, dtype=np.float64)
    den = np.asarray(denominator, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def _group_rates(counts: np.ndarray) -> dict[str, np.ndarray]:
    """Per-group rows, selection rate, TPR, FPR and accuracy (NaN where undefined)."""
    rows = counts.sum(axis=(-2, -1))
    good = counts[..., 1, :].sum(axis=-1)
    bad = counts[..., 0, :].sum(axis=-1)
    approved = counts[..., :, 1].sum(axis=-1)
    return {
        "rows": rows,
        "good": good,
        "bad": bad,
        "selection_rate": _ratio(approved, rows),
        "tpr": _ratio(counts[..., 1, 1], good),
        "fpr": _ratio(counts[..., 0, 1], bad),
        "accuracy": _ratio(counts[..., 1, 1] + counts[..., 0, 0], rows),
    }


def _spread(values: np.ndarray) -> np.ndarray:
    """Largest minus smallest group value (NaN as soon as one group's value is NaN)."""
    return values.max(axis=-1) - values.min(axis=-1)


def _disparities(rates: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The five ethical summaries of one attribute from its per-group rates."""
    selection = rates["selection_rate"]
    highest = selection.max(axis=-1)
    tpr_spread = _spread(rates["tpr"])
    return {
        "demographic_parity_difference": _spread(selection),
        "demographic_parity_ratio": _ratio(selection.min(axis=-1), highest),
        "equalized_odds_difference": np.maximum(tpr_spread, _spread(rates["fpr"])),
        "equal_opportunity_difference": tpr_spread,
        "worst_group_accuracy": rates["accuracy"].min(axis=-1),
    }


def _costs(counts: np.ndarray, decision: DecisionSettings) -> dict[str, np.ndarray]:
    """Approval rate and expected cost of the counts (summed over the last two axes)."""
    rows = counts.sum(axis=(-2, -1))
    false_approvals = counts[..., 0, 1]
    false_refusals = counts[..., 1, 0]
    cost = false_approvals * decision.cost_false_approval + false_refusals * decision.cost_false_refusal
    return {
        "approval_rate": _ratio(counts[..., :, 1].sum(axis=-1), rows),
        "expected_cost": _ratio(cost, rows),
    }


def _business(total: np.ndarray, decision: DecisionSettings) -> dict[str, np.ndarray]:
    """Overall business metrics from the counts ``[..., truth, decision]`` of the whole holdout."""
    rows = total.sum(axis=(-2, -1))
    good = total[..., 1, :].sum(axis=-1)
    bad = total[..., 0, :].sum(axis=-1)
    values = _costs(total, decision)
    approve_all = _ratio(bad * decision.cost_false_approval, rows)
    refuse_all = _ratio(good * decision.cost_false_refusal, rows)
    best = np.minimum(approve_all, refuse_all)
    with np.errstate(divide="ignore", invalid="ignore"):
        saving = np.where(
            best > 0,
            1.0 - values["expected_cost"] / np.where(best > 0, best, 1.0),
            np.where(values["expected_cost"] == 0.0, 0.0, np.nan),
        )
    return {
        **values,
        "cost_approve_all": approve_all,
        "cost_refuse_all": refuse_all,
        "cost_best_constant": best,
        "cost_saving_vs_best_constant": np.where(np.isnan(best), np.nan, saving),
    }


def _technical_counts(total: np.ndarray, positive_is_favorable: bool) -> dict[str, np.ndarray]:
    """Accuracy, balanced accuracy and F1 (on the model's positive class) from the counts."""
    rows = total.sum(axis=(-2, -1))
    good_approved, good_refused = total[..., 1, 1], total[..., 1, 0]
    bad_approved, bad_refused = total[..., 0, 1], total[..., 0, 0]
    recall_good = _ratio(good_approved, good_approved + good_refused)
    recall_bad = _ratio(bad_refused, bad_refused + bad_approved)
    if positive_is_favorable:  # positive = good, predicted positive = approved
        tp, fp, fn = good_approved, bad_approved, good_refused
    else:  # positive = bad, predicted positive = refused
        tp, fp, fn = bad_refused, good_refused, bad_approved
    f1_denominator = 2 * tp + fp + fn
    f1 = np.where(f1_denominator > 0, _ratio(2 * tp, f1_denominator), 0.0)  # zero_division=0, as scikit-learn
    return {
        "accuracy": _ratio(good_approved + bad_refused, rows),
        "balanced_accuracy": (recall_good + recall_bad) / 2.0,
        "f1": f1,
    }


# --------------------------------------------------------------------------- assembling the result


def _value(number: Any) -> float | None:
    """A plain float at full precision, or None when undefined (NaN/inf)."""
    value = float(number)
    return value if math.isfinite(value) else None


@dataclass
class _Measured:
    """Every interval-bearing metric of one model: its point estimate and its resampled values."""

    points: dict[MetricPath, float | None]
    replicates: dict[MetricPath, np.ndarray]

    def add(self, path: MetricPath, point: Any, replicates: np.ndarray) -> None:
        self.points[path] = _value(point)
        self.replicates[path] = np.asarray(replicates, dtype=np.float64)


def _put(tree: dict[str, Any], path: MetricPath, value: Any) -> None:
    node = tree
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value


def _count_metrics(
    measured: _Measured,
    counts: np.ndarray,
    partition: _Partition,
    decision: DecisionSettings,
    positive_is_favorable: bool,
    result: dict[str, Any],
) -> None:
    """Fill a model's business and ethical sections (and count-based technical replicates) from its counts.

    ``counts`` has shape ``(1 + resamples, joint groups, 2, 2)``; index 0 is the holdout.
    """
    total = counts.sum(axis=1)
    technical = _technical_counts(total, positive_is_favorable)
    for name in ("accuracy", "balanced_accuracy", "f1"):
        measured.add(("technical", name), technical[name][0], technical[name][1:])
    business = _business(total, decision)
    for name in _BUSINESS_VALUES:
        measured.add(("business", name), business[name][0], business[name][1:])
    result["business"]["by_group"] = {}
    for attribute in partition.attributes:
        membership = np.zeros((partition.joint_count, len(attribute.groups)), dtype=np.int64)
        membership[np.arange(partition.joint_count), attribute.of_joint] = 1
        per_group = np.einsum("bjtd,jg->bgtd", counts, membership)
        rates = _group_rates(per_group)
        costs = _costs(per_group, decision)
        business_groups: dict[str, Any] = {}
        ethical_groups: dict[str, Any] = {}
        for g, group in enumerate(attribute.groups):
            rows = int(rates["rows"][0, g])
            business_groups[group] = {"rows": rows}
            for name in _BUSINESS_GROUP_VALUES:
                path = ("business", "by_group", attribute.name, group, name)
                measured.add(path, costs[name][0, g], costs[name][1:, g])
                business_groups[group][name] = measured.points[path]
            ethical_groups[group] = {"rows": rows}
            for name in GROUP_RATES:
                path = ("ethical", attribute.name, "by_group", group, name)
                measured.add(path, rates[name][0, g], rates[name][1:, g])
                ethical_groups[group][name] = measured.points[path]
        result["business"]["by_group"][attribute.name] = business_groups
        disparities = _disparities(rates)
        notes: list[str] = []
        single = len(attribute.groups) < 2
        section: dict[str, Any] = {"by_group": ethical_groups}
        for name in ETHICAL_METRICS:
            values = disparities[name]
            if single and name != "worst_group_accuracy":
                values = np.full_like(values, np.nan)
            measured.add(("ethical", attribute.name, name), values[0], values[1:])
            section[name] = measured.points[("ethical", attribute.name, name)]
        if section["demographic_parity_ratio"] is None and not single:
            notes.append(NOTE_PARITY_RATIO_UNDEFINED)
        no_good = [group for g, group in enumerate(attribute.groups) if rates["good"][0, g] == 0]
        no_bad = [group for g, group in enumerate(attribute.groups) if rates["bad"][0, g] == 0]
        if no_good:
            notes.append(NOTE_TPR_UNDEFINED.format(groups=no_good))
        if no_bad:
            notes.append(NOTE_FPR_UNDEFINED.format(groups=no_bad))
        if single:
            notes.append(NOTE_SINGLE_GROUP.format(groups=list(attribute.groups)))
        for note in notes:
            logger.warning("sensitive attribute %r: %s", attribute.name, note)
        section["notes"] = notes
        result["ethical"][attribute.name] = section
    for name in _BUSINESS_VALUES:
        result["business"][name] = measured.points[("business", name)]
    # business keys in their documented order, by_group last
    result["business"] = {
        **{name: result["business"][name] for name in _BUSINESS_VALUES},
        "by_group": result["business"]["by_group"],
    }


def _score_points(is_positive: np.ndarray, predicted_positive: np.ndarray, p_positive: np.ndarray) -> dict[str, float]:
    """Technical point estimates with scikit-learn, the reference implementation."""
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


def _intervals(measured: _Measured, confidence: float) -> dict[MetricPath, dict[str, Any]]:
    paths = list(measured.replicates)
    if not paths:
        return {}
    stacked = np.vstack([measured.replicates[path] for path in paths])
    return dict(zip(paths, bootstrap.percentile_intervals(stacked, confidence), strict=True))


def _tree(entries: Mapping[MetricPath, Any]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path, value in entries.items():
        _put(tree, path, value)
    return tree


@dataclass(frozen=True)
class _Holdout:
    """A validated holdout: truth, groups and what the decisions are measured against."""

    is_positive: np.ndarray
    index: pd.Index | None
    partition: _Partition
    favourable_truth: np.ndarray


def _validated_holdout(
    y_true: Any, sensitive: Any, dataset: DatasetSettings, evaluation: EvaluationSettings
) -> _Holdout:
    is_positive, index = _is_positive(y_true, dataset.positive_label)
    partition = _partition(sensitive, list(dataset.sensitive), len(is_positive), index, evaluation.intersection)
    favourable = is_positive if dataset.positive_is_favorable else ~is_positive
    return _Holdout(is_positive=is_positive, index=index, partition=partition, favourable_truth=favourable)


def _evaluate(
    holdout: _Holdout,
    approved: list[np.ndarray],
    dataset: DatasetSettings,
    decision: DecisionSettings,
    evaluation: EvaluationSettings,
    probabilities: list[np.ndarray] | None = None,
    latency: list[tuple[dict[str, float], dict[str, np.ndarray]]] | None = None,
    latency_details: dict[str, int] | None = None,
) -> dict[str, Any]:
    """Evaluate one or two models (candidate first) on a validated holdout.

    The count path always runs: approvals give every ethical and business metric and
    accuracy, balanced accuracy and F1.  With ``probabilities``, scikit-learn gives the
    technical point estimates and the row-level kernel the replicates of ROC AUC, log
    loss and Brier score; with ``latency``, the timings are added.
    """
    settings = evaluation.bootstrap
    models = len(approved)
    rows = len(holdout.is_positive)

    # one bincount over the cells joint group x truth x decision(s), then Poisson cell totals per resample
    cell = holdout.partition.joint * 2 + holdout.favourable_truth
    for decisions in approved:
        cell = cell * 2 + decisions
    shape = (holdout.partition.joint_count, 2) + (2,) * models
    observed = np.bincount(cell, minlength=int(np.prod(shape))).reshape(shape)
    drawn = bootstrap.cell_replicates(observed, settings.resamples, settings.seed)
    stacked = np.concatenate([observed[None], drawn], axis=0)
    scores = None
    if probabilities is not None:
        scores = bootstrap.score_replicates(
            holdout.is_positive, probabilities, settings.resamples, settings.seed, settings.workers
        )

    measured: list[_Measured] = []
    results: list[dict[str, Any]] = []
    for m in range(models):
        counts = stacked if models == 1 else stacked.sum(axis=-1 if m == 0 else -2)
        result: dict[str, Any] = {
            "rows": rows,
            "refusal_threshold": float(decision.refusal_threshold),
            "positive_label": dataset.positive_label,
            "positive_is_favorable": dataset.positive_is_favorable,
            "technical": {},
            "business": {},
            "ethical": {},
        }
        found = _Measured(points={}, replicates={})
        _count_metrics(found, counts, holdout.partition, decision, dataset.positive_is_favorable, result)
        if probabilities is not None and scores is not None:
            p = probabilities[m]
            predicted_positive = approved[m] if dataset.positive_is_favorable else ~approved[m]
            technical = _score_points(holdout.is_positive, predicted_positive, p)
            # the count path gives the replicates of accuracy, balanced accuracy and F1; scikit-learn the points
            for name in ("accuracy", "balanced_accuracy", "f1"):
                found.points[("technical", name)] = technical[name]
            found.add(("technical", "roc_auc"), technical["roc_auc"], scores.roc_auc[m])
            found.add(("technical", "log_loss"), technical["log_loss"], scores.log_loss[m])
            found.add(("technical", "brier"), technical["brier"], scores.brier[m])
        if latency is not None:
            points, samples = latency[m]
            for name, value in points.items():
                found.add(("technical", name), value, samples[name])
        order = [n for n in TECHNICAL_METRICS if ("technical", n) in found.points]
        result["technical"] = {name: found.points[("technical", name)] for name in order}
        if latency_details is not None:
            result["latency"] = dict(latency_details)
        measured.append(found)
        results.append(result)

    info = {
        "method": "poisson",
        "interval": "percentile",
        "resamples": settings.resamples,
        "seed": settings.seed,
        "confidence": settings.confidence,
        "paired": models == 2,
    }
    for found, result in zip(measured, results, strict=True):
        result["intervals"] = _tree(_intervals(found, settings.confidence))
        result["bootstrap"] = dict(info)
    comparison = None
    if models == 2:
        candidate, champion = measured
        paths = [path for path in candidate.replicates if path in champion.replicates]
        differences = np.vstack([candidate.replicates[p] - champion.replicates[p] for p in paths])
        intervals = bootstrap.percentile_intervals(differences, settings.confidence)
        entries: dict[MetricPath, Any] = {}
        for path, interval in zip(paths, intervals, strict=True):
            a, b = candidate.points[path], champion.points[path]
            entries[path] = {"difference": None if a is None or b is None else a - b, **interval}
        comparison = _tree(entries)
    return {
        "candidate": results[0],
        "champion": results[1] if models == 2 else None,
        "comparison": comparison,
        "bootstrap": info,
    }


def _approvals(
    probabilities: list[np.ndarray], dataset: DatasetSettings, decision: DecisionSettings
) -> list[np.ndarray]:
    return [approve_decisions(p, decision.refusal_threshold, dataset.positive_is_favorable) for p in probabilities]


def _decisions(approved: Any, rows: int, index: pd.Index | None, name: str) -> np.ndarray:
    _check_alignment(name, rows, index, approved)
    values = np.asarray(approved)
    if values.ndim != 1:
        raise BadInputError(ERR_DECISION_SHAPE.format(name=name, shape=values.shape))
    if values.dtype != np.bool_:
        bad = ~np.isin(values, [0, 1]) if values.dtype != object else ~np.array([v in (0, 1) for v in values])
        if bad.any():
            example = values[bad][0]
            example = example.item() if isinstance(example, np.generic) else example
            raise BadInputError(ERR_DECISION_VALUES.format(name=name, count=int(bad.sum()), example=example))
    return values.astype(bool)


# --------------------------------------------------------------------------- entry points


def compare_predictions(
    y_true: Any,
    p_candidate: Any,
    p_champion: Any | None,
    sensitive: Any,
    dataset: DatasetSettings,
    decision: DecisionSettings,
    evaluation: EvaluationSettings = _DEFAULT_EVALUATION,
) -> dict[str, Any]:
    """Evaluate the candidate and (optionally) the champion on the same holdout, paired.

    Parameters
    ----------
    y_true : pandas.Series or array-like
        True outcomes, two classes, one of them ``dataset.positive_label``.
    p_candidate : numpy.ndarray or array-like
        The candidate's probability of ``dataset.positive_label`` per row, in [0, 1].
    p_champion : numpy.ndarray or array-like or None
        The champion's, on the same rows; None when there is no champion.
    sensitive : pandas.DataFrame or pandas.Series
        Exactly the columns named in ``dataset.sensitive``; no missing values.
    dataset : DatasetSettings
        Positive label, whether it is favourable, sensitive attribute names.
    decision : DecisionSettings
        Cost matrix and refusal threshold.
    evaluation : EvaluationSettings, optional
        Bootstrap resamples, seed, confidence, workers; intersection on or off.

    Returns
    -------
    dict
        ``candidate`` and ``champion`` (None without one): each a result as described in
        the module docstring, with ``intervals`` and ``bootstrap``; ``comparison`` (None
        without a champion): candidate minus champion for every metric, with its paired
        interval; ``bootstrap``: method, resamples, seed, confidence, paired.

    Raises
    ------
    BadInputError
        Empty input, lengths or pandas indexes that differ, missing labels, a single class,
        more than two classes, a positive label absent from ``y_true``, probabilities outside
        [0, 1], sensitive columns other than ``dataset.sensitive``, missing group values, or
        group names that collide.
    """
    holdout = _validated_holdout(y_true, sensitive, dataset, evaluation)
    rows = len(holdout.is_positive)
    probabilities = [_probabilities(p_candidate, rows, holdout.index, "p_positive")]
    if p_champion is not None:
        probabilities.append(_probabilities(p_champion, rows, holdout.index, "p_champion"))
    approved = _approvals(probabilities, dataset, decision)
    return _evaluate(holdout, approved, dataset, decision, evaluation, probabilities)


def evaluate_decisions(
    y_true: Any,
    approved: Any,
    approved_champion: Any | None,
    sensitive: Any,
    dataset: DatasetSettings,
    decision: DecisionSettings,
    evaluation: EvaluationSettings = _DEFAULT_EVALUATION,
) -> dict[str, Any]:
    """Evaluate approval decisions (no probabilities): the fast count path alone, paired.

    Every ethical and business metric, and accuracy, balanced accuracy and F1, per
    group and overall, with bootstrap intervals, from one ``bincount`` and resampled
    cell totals: its cost hardly grows with the number of rows.  Use it where only
    decisions exist (live decisions with observed outcomes); the evaluate stage uses
    :func:`evaluate_models`, which adds the score metrics and latency.

    Parameters
    ----------
    y_true : pandas.Series or array-like
        True outcomes, two classes, one of them ``dataset.positive_label``.
    approved : array-like of bool
        The candidate's decision per row: True (or 1) = approved.
    approved_champion : array-like of bool or None
        The champion's decisions on the same rows; None when there is no champion.
    sensitive : pandas.DataFrame or pandas.Series
        Exactly the columns named in ``dataset.sensitive``; no missing values.
    dataset : DatasetSettings
        Positive label, whether it is favourable, sensitive attribute names.
    decision : DecisionSettings
        Cost matrix (the threshold is reported, the decisions are given).
    evaluation : EvaluationSettings, optional
        Bootstrap and intersection settings.

    Returns
    -------
    dict
        As :func:`compare_predictions`, with ``technical`` holding ``accuracy``,
        ``balanced_accuracy`` and ``f1`` only (computed from the counts).

    Raises
    ------
    BadInputError
        As :func:`compare_predictions`, or decisions that are not one boolean (0/1) per row.
    """
    holdout = _validated_holdout(y_true, sensitive, dataset, evaluation)
    rows = len(holdout.is_positive)
    decisions = [_decisions(approved, rows, holdout.index, "approved")]
    if approved_champion is not None:
        decisions.append(_decisions(approved_champion, rows, holdout.index, "approved_champion"))
    return _evaluate(holdout, decisions, dataset, decision, evaluation)


def evaluate_predictions(
    y_true: Any,
    p_positive: Any,
    sensitive: Any,
    dataset: DatasetSettings,
    decision: DecisionSettings,
    evaluation: EvaluationSettings = _DEFAULT_EVALUATION,
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
    evaluation : EvaluationSettings, optional
        Bootstrap and intersection settings.

    Returns
    -------
    dict
        ``rows``, ``refusal_threshold``, ``positive_label``, ``positive_is_favorable``,
        ``technical``, ``business``, ``ethical``, ``intervals`` and ``bootstrap`` as
        described in the module docstring.  No latency metrics (see :func:`evaluate_model`).

    Raises
    ------
    BadInputError
        As :func:`compare_predictions`.
    """
    result = compare_predictions(y_true, p_positive, None, sensitive, dataset, decision, evaluation)["candidate"]
    return dict(result)


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


def _batches(rows: int, evaluation: EvaluationSettings) -> tuple[int, list[int]]:
    """Batch size and the starts of the timed batches, spread evenly over the holdout."""
    size = min(evaluation.latency_batch_rows, rows)
    available = rows // size
    count = min(evaluation.latency_batches, available)
    # row positions, not values: rounding picks whole batch starts for the latency timing only
    starts = sorted({int(s) for s in np.linspace(0, (available - 1) * size, count).round() // size * size})
    return size, starts


def _time_models(
    models: Sequence[tuple[Any, Any]], evaluation: EvaluationSettings
) -> tuple[list[np.ndarray], dict[str, int]]:
    """Time ``predict_proba`` of every model on the same batches, interleaved, ``latency_repeats`` times.

    Interleaving (batch 1 of each model, then batch 2, ...) exposes every model to the
    same machine load, so the paired latency difference is not a load artefact.  Each
    model's full-holdout prediction made just before serves as its warm-up.
    """
    rows = len(models[0][1])
    size, starts = _batches(rows, evaluation)
    timings: list[list[float]] = [[] for _ in models]
    for _ in range(evaluation.latency_repeats):
        for start in starts:
            for m, (model, features) in enumerate(models):
                stop = start + size
                batch = features.iloc[start:stop] if hasattr(features, "iloc") else features[start:stop]
                began = time.perf_counter()
                model.predict_proba(batch)
                timings[m].append((time.perf_counter() - began) * 1000.0)
    details = {
        "batch_rows": size,
        "batches": len(starts),
        "repeats": evaluation.latency_repeats,
        "samples": len(starts) * evaluation.latency_repeats,
    }
    return [np.asarray(t, dtype=np.float64) for t in timings], details


def _latency_replicates(
    timings: list[np.ndarray], evaluation: EvaluationSettings
) -> list[tuple[dict[str, float], dict[str, np.ndarray]]]:
    """p50 and p95 of every model's timings, and their resampled values on shared resamples of the batches."""
    settings = evaluation.bootstrap
    samples = len(timings[0])
    picks = bootstrap.generator(settings.seed, bootstrap.STREAM_LATENCY).integers(
        0, samples, size=(settings.resamples, samples)
    )
    out = []
    for t in timings:
        p50, p95 = np.percentile(t, [50.0, 95.0])
        resampled = np.percentile(t[picks], [50.0, 95.0], axis=1)
        out.append(
            (
                {"latency_ms_p50": float(p50), "latency_ms_p95": float(p95)},
                {"latency_ms_p50": resampled[0], "latency_ms_p95": resampled[1]},
            )
        )
    return out


def evaluate_models(
    candidate_model: Any,
    candidate_features: pd.DataFrame,
    champion_model: Any | None,
    champion_features: pd.DataFrame | None,
    y_true: Any,
    sensitive: Any,
    dataset: DatasetSettings,
    decision: DecisionSettings,
    evaluation: EvaluationSettings = _DEFAULT_EVALUATION,
) -> dict[str, Any]:
    """Score the candidate and the champion on one holdout and evaluate them, latency included.

    Parameters
    ----------
    candidate_model : object
        Fitted classifier with ``classes_`` and ``predict_proba`` (columns in ``classes_`` order).
    candidate_features : pandas.DataFrame
        The candidate's input rows, aligned with ``y_true`` and ``sensitive``.
    champion_model : object or None
        The current champion; None when there is none yet.
    champion_features : pandas.DataFrame or None
        The champion's input rows (its own columns), the same rows in the same order.
    y_true : pandas.Series
        True outcomes.
    sensitive : pandas.DataFrame
        The columns of ``dataset.sensitive``.
    dataset : DatasetSettings
        Positive label and its meaning, sensitive attribute names.
    decision : DecisionSettings
        Cost matrix and refusal threshold.
    evaluation : EvaluationSettings, optional
        Bootstrap, latency and intersection settings.

    Returns
    -------
    dict
        As :func:`compare_predictions`, with ``technical.latency_ms_p50`` and
        ``technical.latency_ms_p95`` (wall milliseconds per batch, with intervals, and a paired
        difference) and a ``latency`` section (``batch_rows``, ``batches``, ``repeats``,
        ``samples``) in each model's result.

    Raises
    ------
    BadInputError
        As :func:`compare_predictions`, plus a model without the positive label in
        ``classes_``, a ``predict_proba`` of the wrong shape, or a champion model given
        without its features (or the reverse).
    """
    if (champion_model is None) != (champion_features is None):
        raise BadInputError(ERR_CHAMPION_FEATURES)
    holdout = _validated_holdout(y_true, sensitive, dataset, evaluation)
    rows = len(holdout.is_positive)
    scored: list[tuple[Any, Any]] = [(candidate_model, candidate_features)]
    if champion_model is not None:
        scored.append((champion_model, champion_features))
    probabilities = []
    for name, (model, features) in zip(("p_positive", "p_champion"), scored, strict=False):
        _check_alignment("features" if name == "p_positive" else "champion_features", rows, holdout.index, features)
        column, labels = _positive_column(model, dataset.positive_label)
        probabilities.append(_probabilities(_predict_positive(model, features, column, labels), rows, None, name))
    timings, details = _time_models(scored, evaluation)
    latency = _latency_replicates(timings, evaluation)
    approved = _approvals(probabilities, dataset, decision)
    return _evaluate(holdout, approved, dataset, decision, evaluation, probabilities, latency, details)


def evaluate_model(
    model: Any,
    features: pd.DataFrame,
    y_true: Any,
    sensitive: Any,
    dataset: DatasetSettings,
    decision: DecisionSettings,
    evaluation: EvaluationSettings = _DEFAULT_EVALUATION,
) -> dict[str, Any]:
    """Score one fitted model on a holdout and evaluate it, latency included.

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
    evaluation : EvaluationSettings, optional
        Bootstrap, latency and intersection settings.

    Returns
    -------
    dict
        The candidate result of :func:`evaluate_models` without a champion.

    Raises
    ------
    BadInputError
        As :func:`evaluate_models`.
    """
    pair = evaluate_models(model, features, None, None, y_true, sensitive, dataset, decision, evaluation)
    return dict(pair["candidate"])


# --------------------------------------------------------------------------- reporting


def _name_part(text: str) -> str:
    return _UNSAFE_NAME_CHARS.sub("_", str(text)) or "_"


def _leaves(result: Mapping[str, Any] | None) -> Iterator[tuple[str, MetricPath, Any]]:
    """Every scalar of a result as ``(flattened name, path in the result tree, value)``."""
    if not result:
        return

    def scalars(section: Mapping[str, Any]) -> list[tuple[str, Any]]:
        return [
            (key, value)
            for key, value in section.items()
            if value is None or (isinstance(value, int | float) and not isinstance(value, bool))
        ]

    for key, value in scalars(result.get("technical", {})):
        yield f"technical.{key}", ("technical", key), value
    business = result.get("business", {})
    for key, value in scalars(business):
        yield f"business.{key}", ("business", key), value
    for attribute, groups in business.get("by_group", {}).items():
        for group, values in groups.items():
            for key, value in scalars(values):
                name = ".".join(["business", _name_part(attribute), _name_part(group), key])
                yield name, ("business", "by_group", attribute, group, key), value
    for attribute, section in result.get("ethical", {}).items():
        for key, value in scalars(section):
            yield ".".join(["ethical", _name_part(attribute), key]), ("ethical", attribute, key), value
        for group, values in section.get("by_group", {}).items():
            for key, value in scalars(values):
                name = ".".join(["ethical", _name_part(attribute), _name_part(group), key])
                yield name, ("ethical", attribute, "by_group", group, key), value


def _lookup(tree: Mapping[str, Any] | None, path: MetricPath) -> Any:
    """The node of a result, intervals or comparison tree at ``path`` (None when absent)."""
    node: Any = tree
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def flatten_metrics(result: dict[str, Any], evaluation: dict[str, Any] | None = None) -> dict[str, float]:
    """Flatten every number of a result (and of its comparison) into dotted, MLflow-valid names.

    Parameters
    ----------
    result : dict
        A model's result (:func:`evaluate_predictions`, :func:`evaluate_model`, or the
        ``candidate`` of :func:`compare_predictions` / :func:`evaluate_models`).
    evaluation : dict, optional
        The whole pair (``candidate``, ``champion``, ``comparison``): adds the champion's
        values and the paired differences, next to each metric.

    Returns
    -------
    dict of str to float
        Grouped by family: ``technical.<metric>``, ``business.<metric>``,
        ``business.<attr>.<group>.<metric>``, ``ethical.<attr>.<metric>`` and
        ``ethical.<attr>.<group>.<metric>``; for each metric with an interval also
        ``<name>.ci_low`` and ``<name>.ci_high``; with ``evaluation`` and a champion,
        ``<name>.champion`` (and its ``.ci_low``/``.ci_high``) and ``<name>.difference``
        (candidate minus champion, and its paired ``.ci_low``/``.ci_high``).  Undefined
        values (None) become NaN, which MLflow stores as NaN: nothing is silently dropped.
        Attribute and group names keep letters, digits, ``_`` and ``-``; any other
        character becomes ``_``.

    Raises
    ------
    BadInputError
        Two different metrics would get the same flattened name.
    """
    flat: dict[str, float] = {}
    origin: dict[str, str] = {}

    def put(name: str, value: Any, path: MetricPath, what: str = "") -> None:
        source = "/".join(path) + what
        if name in flat and origin[name] != source:
            problem = ERR_METRIC_NAME_COLLISION.format(first=origin[name], second=source, name=name)
            raise BadInputError(problem)
        flat[name] = math.nan if value is None else float(value)
        origin[name] = source

    def bounds(name: str, interval: Any, path: MetricPath, what: str) -> None:
        if isinstance(interval, Mapping):
            put(f"{name}.ci_low", interval.get("low"), path, f"{what}#ci_low")
            put(f"{name}.ci_high", interval.get("high"), path, f"{what}#ci_high")

    champion = evaluation.get("champion") if evaluation else None
    comparison = evaluation.get("comparison") if evaluation else None
    for name, path, value in _leaves(result):
        put(name, value, path)
        interval = _lookup(result.get("intervals"), path)
        bounds(name, interval, path, "")
        if interval is None:
            continue  # a count such as rows: no interval, nothing to compare
        if champion is not None:
            put(f"{name}.champion", _lookup(champion, path), path, "#champion")
            bounds(f"{name}.champion", _lookup(champion.get("intervals"), path), path, "#champion")
        difference = _lookup(comparison, path)
        if isinstance(difference, Mapping):
            put(f"{name}.difference", difference.get("difference"), path, "#difference")
            bounds(f"{name}.difference", difference, path, "#difference")
    return flat


def per_group_table(result: dict[str, Any]) -> pd.DataFrame:
    """Return one row per (attribute, group) with the per-group metrics of a result and their intervals.

    Parameters
    ----------
    result : dict
        A model's result.

    Returns
    -------
    pandas.DataFrame
        Columns ``attribute``, ``group``, ``rows``, ``approval_rate``, ``tpr``, ``fpr``,
        ``accuracy``, ``expected_cost``, then ``<metric>_ci_low`` and ``<metric>_ci_high``
        for each of the five rates; undefined values are NaN.
    """
    records: list[dict[str, Any]] = []
    business_groups = result["business"]["by_group"]
    intervals = result.get("intervals") or {}

    def number(value: Any) -> float:
        return math.nan if value is None else float(value)

    for attribute, section in result["ethical"].items():
        for group, values in section["by_group"].items():
            business = business_groups[attribute][group]
            record: dict[str, Any] = {
                "attribute": attribute,
                "group": group,
                "rows": int(values["rows"]),
                "approval_rate": number(values["selection_rate"]),
                "tpr": number(values["tpr"]),
                "fpr": number(values["fpr"]),
                "accuracy": number(values["accuracy"]),
                "expected_cost": number(business["expected_cost"]),
            }
            sources = {
                "approval_rate": ("ethical", attribute, "by_group", group, "selection_rate"),
                "tpr": ("ethical", attribute, "by_group", group, "tpr"),
                "fpr": ("ethical", attribute, "by_group", group, "fpr"),
                "accuracy": ("ethical", attribute, "by_group", group, "accuracy"),
                "expected_cost": ("business", "by_group", attribute, group, "expected_cost"),
            }
            for column, path in sources.items():
                node: Any = intervals
                for part in path:
                    node = node.get(part) if isinstance(node, Mapping) else None
                interval = node if isinstance(node, Mapping) else {}
                record[f"{column}_ci_low"] = number(interval.get("low"))
                record[f"{column}_ci_high"] = number(interval.get("high"))
            records.append(record)
    columns = ["attribute", "group", *_GROUP_METRICS]
    columns += [f"{c}_ci_{side}" for c in _GROUP_METRICS[1:] for side in ("low", "high")]
    table = pd.DataFrame.from_records(records, columns=columns)
    return table.astype({"rows": "int64"})


def plot_per_group(result: dict[str, Any], path: Path, champion: dict[str, Any] | None = None) -> Path:
    """Draw approval rate, TPR and FPR per group with their intervals, one panel per attribute, as PNG.

    The Agg canvas is attached to this figure only (no pyplot, no global backend
    switch).  An undefined TPR or FPR is drawn as no bar with an ``n/a`` label;
    error bars are the bootstrap intervals; with a champion, its approval rate per
    group is drawn as a black marker for comparison.

    Parameters
    ----------
    result : dict
        The candidate's result.
    path : pathlib.Path
        Where to write the PNG; its folder must exist.
    champion : dict, optional
        The champion's result on the same holdout.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    table = per_group_table(result)
    champion_table = per_group_table(champion) if champion is not None else None
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
            low = rows[f"{column}_ci_low"].to_numpy(dtype=float)
            high = rows[f"{column}_ci_high"].to_numpy(dtype=float)
            errors = np.vstack([np.nan_to_num(values - low, nan=0.0), np.nan_to_num(high - values, nan=0.0)])
            x = positions + (offset - (len(series) - 1) / 2) * width
            axis.bar(x, np.nan_to_num(values, nan=0.0), width=width, label=label, yerr=errors, capsize=2)
            for xi, value in zip(x, values, strict=True):
                if math.isnan(value):
                    axis.text(xi, 0.02, "n/a", ha="center", va="bottom", fontsize=7, rotation=90)
        if champion_table is not None:
            theirs = champion_table[champion_table["attribute"] == attribute].set_index("group")
            marks = [theirs["approval_rate"].get(g, math.nan) for g in rows["group"]]
            axis.plot(
                positions - (len(series) - 1) / 2 * width, marks, "k_", markersize=14, mew=2,
                label="champion approval rate",
            )
        ticks = [f"{g}\n(n={n})" for g, n in zip(rows["group"], rows["rows"], strict=True)]
        axis.set_xticks(positions, ticks)
        axis.set_ylim(0.0, 1.05)
        axis.set_ylabel("rate")
        ratio = result["ethical"][attribute]["demographic_parity_ratio"]
        shown = "n/a" if ratio is None else f"{ratio:.3f}"
        bounds = (result.get("intervals") or {}).get("ethical", {}).get(attribute, {}).get("demographic_parity_ratio")
        if ratio is not None and bounds and bounds.get("low") is not None:
            level = result.get("bootstrap", {}).get("confidence", 0.95)
            shown += f", {level * 100:g}% interval {bounds['low']:.3f} to {bounds['high']:.3f}"
        axis.set_title(f"{attribute}: approvals by group (demographic parity ratio {shown})", fontsize=10)
        axis.legend(loc="upper right", fontsize=8)
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, format="png", dpi=100)
    return path
