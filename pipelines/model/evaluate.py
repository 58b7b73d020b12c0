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

Decision rule: ``s = decision.positive_threshold(positive_is_favorable)`` is a
threshold on ``p_positive`` itself, Bayes-optimal for the costs in both
orientations (:meth:`~pipelines.core.config.DecisionSettings.positive_threshold`,
:func:`~pipelines.model.metrics.approve_decisions`; "approve" is the favourable
decision).  Each result records ``positive_threshold`` (``s``, the number
compared) and ``refusal_threshold`` (on the unfavourable outcome's probability).

Families:

- ``technical``: on the model's own positive class.  ``accuracy``,
  ``balanced_accuracy`` and ``f1`` (positive class, 0.0 when nothing is
  predicted positive) on the thresholded decision; ``roc_auc``, ``log_loss``
  and ``brier`` on the probabilities (point estimates from scikit-learn);
  ``latency_ms_p50`` / ``latency_ms_p95``: wall milliseconds of one
  ``predict_proba`` call on ``evaluation.latency_batch_rows`` rows, measured
  (only when a model is evaluated, not bare probabilities).
- ``business``: the cost matrix.  A wrong favourable decision (approving an
  applicant whose true outcome is unfavourable) costs ``cost_wrong_favorable``;
  a wrong unfavourable decision (refusing one whose true outcome is
  favourable) costs ``cost_wrong_unfavorable``.  ``expected_cost`` is the mean cost
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

Modules
-------
This module holds the entry points and assembles the result.  The inputs are
validated and the groups coded in :mod:`pipelines.model.holdout`; metric
names, directions and every count metric live in :mod:`pipelines.model.metrics`;
latency timing in :mod:`pipelines.model.latency`; :func:`flatten_metrics` and
:func:`per_group_table` in :mod:`pipelines.model.evaluation_tables`; the
per-group plot in :mod:`pipelines.reports.plots`.  Every name other code
imported from here before that split is still importable from here.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import sklearn.metrics as skm

from pipelines.core.config import BootstrapSettings, DatasetSettings, DecisionSettings, EvaluationSettings
from pipelines.core.errors import BadInputError
from pipelines.model import bootstrap
from pipelines.model.evaluation_tables import ERR_METRIC_NAME_COLLISION, flatten_metrics, per_group_table
from pipelines.model.holdout import (
    ERR_CHAMPION_FEATURES,
    ERR_DECISION_SHAPE,
    ERR_DECISION_VALUES,
    ERR_EMPTY,
    ERR_INDEX,
    ERR_INTERSECTION_COLLISION,
    ERR_LABEL_MISSING,
    ERR_LABEL_SHAPE,
    ERR_LENGTH,
    ERR_MODEL_CLASSES,
    ERR_MODEL_NO_CLASSES,
    ERR_MODEL_PROBA,
    ERR_POSITIVE_ABSENT,
    ERR_PROBA_RANGE,
    ERR_PROBA_SHAPE,
    ERR_SENSITIVE_COLLISION,
    ERR_SENSITIVE_COLUMNS,
    ERR_SENSITIVE_MISSING,
    ERR_SENSITIVE_TYPE,
    ERR_SINGLE_CLASS,
    ERR_TOO_MANY_CLASSES,
    INTERSECTION_SEPARATOR,
    Attribute,
    Holdout,
    Partition,
    check_alignment,
    positive_column,
    predict_positive,
    validated_decisions,
    validated_holdout,
    validated_probabilities,
)
from pipelines.model.latency import LatencyReplicates, latency_replicates, time_models
from pipelines.model.metrics import (
    BUSINESS_GROUP_VALUES,
    BUSINESS_METRICS,
    BUSINESS_VALUES,
    COUNT_TECHNICAL_METRICS,
    ETHICAL_METRICS,
    GROUP_RATES,
    METRIC_DIRECTION,
    TECHNICAL_METRICS,
    MetricDirection,
    MetricPath,
    approve_decisions,
    attribute_counts,
    business_metrics,
    cost_saving,
    costs,
    disparities,
    group_rates,
    technical_count_metrics,
)

__all__ = [
    # the evaluation
    "compare_predictions",
    "evaluate_decisions",
    "evaluate_predictions",
    "evaluate_models",
    "evaluate_model",
    "NOTE_PARITY_RATIO_UNDEFINED",
    "NOTE_TPR_UNDEFINED",
    "NOTE_FPR_UNDEFINED",
    "NOTE_SINGLE_GROUP",
    "NOTE_REPORT_ONLY",
    # pipelines.model.metrics
    "MetricDirection",
    "MetricPath",
    "TECHNICAL_METRICS",
    "BUSINESS_METRICS",
    "ETHICAL_METRICS",
    "GROUP_RATES",
    "METRIC_DIRECTION",
    "approve_decisions",
    "cost_saving",
    # pipelines.model.holdout
    "INTERSECTION_SEPARATOR",
    "ERR_EMPTY",
    "ERR_LENGTH",
    "ERR_INDEX",
    "ERR_LABEL_MISSING",
    "ERR_SINGLE_CLASS",
    "ERR_TOO_MANY_CLASSES",
    "ERR_POSITIVE_ABSENT",
    "ERR_LABEL_SHAPE",
    "ERR_PROBA_SHAPE",
    "ERR_PROBA_RANGE",
    "ERR_SENSITIVE_TYPE",
    "ERR_SENSITIVE_COLUMNS",
    "ERR_SENSITIVE_MISSING",
    "ERR_SENSITIVE_COLLISION",
    "ERR_INTERSECTION_COLLISION",
    "ERR_MODEL_PROBA",
    "ERR_MODEL_CLASSES",
    "ERR_MODEL_NO_CLASSES",
    "ERR_DECISION_SHAPE",
    "ERR_DECISION_VALUES",
    "ERR_CHAMPION_FEATURES",
    # pipelines.model.evaluation_tables
    "ERR_METRIC_NAME_COLLISION",
    "flatten_metrics",
    "per_group_table",
]

logger = logging.getLogger(__name__)

NOTE_PARITY_RATIO_UNDEFINED = "no group is approved at all: demographic_parity_ratio (0/0) is undefined"
NOTE_TPR_UNDEFINED = (
    "groups without favourable-truth rows {groups}: tpr undefined, so "
    "equal_opportunity_difference and equalized_odds_difference are undefined"
)
NOTE_FPR_UNDEFINED = (
    "groups without adverse-truth rows {groups}: fpr undefined, so equalized_odds_difference is undefined"
)
NOTE_SINGLE_GROUP = "a single group {groups} in the evaluation data: disparities between groups are undefined"
NOTE_REPORT_ONLY = (
    "groups {groups} are reported, not gated (dataset.small_groups report_only: {reason}): they enter none "
    "of the attribute's disparities nor its worst_group_accuracy"
)

_DEFAULT_EVALUATION = EvaluationSettings()


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


def _group_sections(
    measured: _Measured, attribute: Attribute, rates: dict[str, np.ndarray], group_costs: dict[str, np.ndarray]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The business and the ethical ``by_group`` of one attribute (rows, then each value per group)."""
    business_groups: dict[str, Any] = {}
    ethical_groups: dict[str, Any] = {}
    for g, group in enumerate(attribute.groups):
        rows = int(rates["rows"][0, g])
        business_groups[group] = {"rows": rows}
        for name in BUSINESS_GROUP_VALUES:
            path = ("business", "by_group", attribute.name, group, name)
            measured.add(path, group_costs[name][0, g], group_costs[name][1:, g])
            business_groups[group][name] = measured.points[path]
        ethical_groups[group] = {"rows": rows}
        for name in GROUP_RATES:
            path = ("ethical", attribute.name, "by_group", group, name)
            measured.add(path, rates[name][0, g], rates[name][1:, g])
            ethical_groups[group][name] = measured.points[path]
    return business_groups, ethical_groups


def _attribute_notes(
    attribute: Attribute, rates: dict[str, np.ndarray], parity_ratio_undefined: bool, single: bool
) -> list[str]:
    """Why some of an attribute's disparities are undefined, in words (empty when all are defined)."""
    notes: list[str] = []
    if parity_ratio_undefined and not single:
        notes.append(NOTE_PARITY_RATIO_UNDEFINED)
    no_good = [group for g, group in enumerate(attribute.groups) if rates["good"][0, g] == 0]
    no_bad = [group for g, group in enumerate(attribute.groups) if rates["bad"][0, g] == 0]
    if no_good:
        notes.append(NOTE_TPR_UNDEFINED.format(groups=no_good))
    if no_bad:
        notes.append(NOTE_FPR_UNDEFINED.format(groups=no_bad))
    if single:
        notes.append(NOTE_SINGLE_GROUP.format(groups=list(attribute.groups)))
    return notes


def _ethical_section(
    measured: _Measured, attribute: Attribute, rates: dict[str, np.ndarray], ethical_groups: dict[str, Any]
) -> dict[str, Any]:
    """One attribute's ethical section: its groups, its five disparities and the notes on them.

    Every group is in ``by_group`` with its intervals; the five disparities are taken over the
    gated groups only (a report-only group of ``dataset.small_groups`` enters none of them), and
    then ``report_only`` lists the groups left out.
    """
    gated = [g for g, group in enumerate(attribute.groups) if group not in attribute.report_only]
    gated_attribute = Attribute(
        name=attribute.name, groups=[attribute.groups[g] for g in gated], of_joint=attribute.of_joint
    )
    gated_rates = {name: values[:, gated] for name, values in rates.items()}
    resamples = next(iter(rates.values())).shape[0]
    undefined = {name: np.full(resamples, np.nan) for name in ETHICAL_METRICS}
    summaries = disparities(gated_rates) if gated else undefined
    single = len(gated) < 2
    section: dict[str, Any] = {"by_group": ethical_groups}
    for name in ETHICAL_METRICS:
        values = summaries[name]
        if single and name != "worst_group_accuracy":
            values = undefined[name]
        measured.add(("ethical", attribute.name, name), values[0], values[1:])
        section[name] = measured.points[("ethical", attribute.name, name)]
    notes = _attribute_notes(gated_attribute, gated_rates, section["demographic_parity_ratio"] is None, single)
    if attribute.report_only:
        reported = [group for group in attribute.groups if group in attribute.report_only]
        section["report_only"] = {"groups": reported, "reason": attribute.report_only_reason}
        notes.append(NOTE_REPORT_ONLY.format(groups=reported, reason=attribute.report_only_reason))
    for note in notes:
        logger.warning("sensitive attribute %r: %s", attribute.name, note)
    section["notes"] = notes
    return section


def _count_metrics(
    measured: _Measured,
    counts: np.ndarray,
    partition: Partition,
    decision: DecisionSettings,
    positive_is_favorable: bool,
    result: dict[str, Any],
) -> None:
    """Fill a model's business and ethical sections (and count-based technical replicates) from its counts.

    ``counts`` has shape ``(1 + resamples, joint groups, 2, 2)``; index 0 is the holdout.
    """
    total = counts.sum(axis=1)
    technical = technical_count_metrics(total, positive_is_favorable)
    for name in COUNT_TECHNICAL_METRICS:
        measured.add(("technical", name), technical[name][0], technical[name][1:])
    business = business_metrics(total, decision)
    for name in BUSINESS_VALUES:
        measured.add(("business", name), business[name][0], business[name][1:])
    result["business"]["by_group"] = {}
    for attribute in partition.attributes:
        per_group = attribute_counts(counts, attribute.of_joint, len(attribute.groups))
        rates = group_rates(per_group)
        business_groups, ethical_groups = _group_sections(measured, attribute, rates, costs(per_group, decision))
        result["business"]["by_group"][attribute.name] = business_groups
        result["ethical"][attribute.name] = _ethical_section(measured, attribute, rates, ethical_groups)
    for name in BUSINESS_VALUES:
        result["business"][name] = measured.points[("business", name)]
    # business keys in their documented order, by_group last
    result["business"] = {
        **{name: result["business"][name] for name in BUSINESS_VALUES},
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


def _score_metrics(
    measured: _Measured,
    holdout: Holdout,
    approved: np.ndarray,
    p_positive: np.ndarray,
    scores: bootstrap.ScoreReplicates,
    model: int,
    positive_is_favorable: bool,
) -> None:
    """Add one model's score metrics: scikit-learn points, row-level replicates of ROC AUC, log loss, Brier."""
    predicted_positive = approved if positive_is_favorable else ~approved
    technical = _score_points(holdout.is_positive, predicted_positive, p_positive)
    # the count path gives the replicates of accuracy, balanced accuracy and F1; scikit-learn the points
    for name in COUNT_TECHNICAL_METRICS:
        measured.points[("technical", name)] = technical[name]
    measured.add(("technical", "roc_auc"), technical["roc_auc"], scores.roc_auc[model])
    measured.add(("technical", "log_loss"), technical["log_loss"], scores.log_loss[model])
    measured.add(("technical", "brier"), technical["brier"], scores.brier[model])


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


def _stacked_counts(holdout: Holdout, approved: list[np.ndarray], settings: BootstrapSettings) -> np.ndarray:
    """The holdout's cell counts (index 0) and every resample's, ``(1 + resamples, joint, truth, decision...)``.

    One bincount over the cells joint group x truth x decision(s), then Poisson cell totals per resample.
    """
    cell = holdout.partition.joint * 2 + holdout.favourable_truth
    for decisions in approved:
        cell = cell * 2 + decisions
    shape = (holdout.partition.joint_count, 2) + (2,) * len(approved)
    observed = np.bincount(cell, minlength=int(np.prod(shape))).reshape(shape)
    drawn = bootstrap.cell_replicates(observed, settings.resamples, settings.seed)
    return np.concatenate([observed[None], drawn], axis=0)


def _comparison(candidate: _Measured, champion: _Measured, confidence: float) -> dict[str, Any]:
    """Candidate minus champion for every metric both have, with its paired interval."""
    paths = [path for path in candidate.replicates if path in champion.replicates]
    differences = np.vstack([candidate.replicates[p] - champion.replicates[p] for p in paths])
    intervals = bootstrap.percentile_intervals(differences, confidence)
    entries: dict[MetricPath, Any] = {}
    for path, interval in zip(paths, intervals, strict=True):
        a, b = candidate.points[path], champion.points[path]
        entries[path] = {"difference": None if a is None or b is None else a - b, **interval}
    return _tree(entries)


def _result_header(rows: int, dataset: DatasetSettings, decision: DecisionSettings) -> dict[str, Any]:
    """A model's result before any metric: what was evaluated, and the three empty families."""
    return {
        "rows": rows,
        "refusal_threshold": float(decision.refusal_threshold),
        "positive_threshold": float(decision.positive_threshold(dataset.positive_is_favorable)),
        "positive_label": dataset.positive_label,
        "positive_is_favorable": dataset.positive_is_favorable,
        "technical": {},
        "business": {},
        "ethical": {},
    }


def _evaluate(
    holdout: Holdout,
    approved: list[np.ndarray],
    dataset: DatasetSettings,
    decision: DecisionSettings,
    evaluation: EvaluationSettings,
    probabilities: list[np.ndarray] | None = None,
    latency: list[LatencyReplicates] | None = None,
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
    stacked = _stacked_counts(holdout, approved, settings)
    scores = None
    if probabilities is not None:
        scores = bootstrap.score_replicates(
            holdout.is_positive, probabilities, settings.resamples, settings.seed, settings.workers
        )

    measured: list[_Measured] = []
    results: list[dict[str, Any]] = []
    for m in range(models):
        counts = stacked if models == 1 else stacked.sum(axis=-1 if m == 0 else -2)
        result = _result_header(len(holdout.is_positive), dataset, decision)
        found = _Measured(points={}, replicates={})
        _count_metrics(found, counts, holdout.partition, decision, dataset.positive_is_favorable, result)
        if probabilities is not None and scores is not None:
            _score_metrics(found, holdout, approved[m], probabilities[m], scores, m, dataset.positive_is_favorable)
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
    return {
        "candidate": results[0],
        "champion": results[1] if models == 2 else None,
        "comparison": _comparison(measured[0], measured[1], settings.confidence) if models == 2 else None,
        "bootstrap": info,
    }


def _approvals(
    probabilities: list[np.ndarray], dataset: DatasetSettings, decision: DecisionSettings
) -> list[np.ndarray]:
    return [approve_decisions(p, decision, dataset.positive_is_favorable) for p in probabilities]


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
        Cost matrix and decision threshold.
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
    holdout = validated_holdout(y_true, sensitive, dataset, evaluation)
    rows = len(holdout.is_positive)
    probabilities = [validated_probabilities(p_candidate, rows, holdout.index, "p_positive")]
    if p_champion is not None:
        probabilities.append(validated_probabilities(p_champion, rows, holdout.index, "p_champion"))
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
    holdout = validated_holdout(y_true, sensitive, dataset, evaluation)
    rows = len(holdout.is_positive)
    decisions = [validated_decisions(approved, rows, holdout.index, "approved")]
    if approved_champion is not None:
        decisions.append(validated_decisions(approved_champion, rows, holdout.index, "approved_champion"))
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
        Cost matrix and decision threshold.
    evaluation : EvaluationSettings, optional
        Bootstrap and intersection settings.

    Returns
    -------
    dict
        ``rows``, ``refusal_threshold``, ``positive_threshold``, ``positive_label``, ``positive_is_favorable``,
        ``technical``, ``business``, ``ethical``, ``intervals`` and ``bootstrap`` as
        described in the module docstring.  No latency metrics (see :func:`evaluate_model`).

    Raises
    ------
    BadInputError
        As :func:`compare_predictions`.
    """
    result = compare_predictions(y_true, p_positive, None, sensitive, dataset, decision, evaluation)["candidate"]
    return dict(result)


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
        Cost matrix and decision threshold.
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
    holdout = validated_holdout(y_true, sensitive, dataset, evaluation)
    rows = len(holdout.is_positive)
    scored: list[tuple[Any, Any]] = [(candidate_model, candidate_features)]
    if champion_model is not None:
        scored.append((champion_model, champion_features))
    probabilities = []
    for name, (model, features) in zip(("p_positive", "p_champion"), scored, strict=False):
        check_alignment("features" if name == "p_positive" else "champion_features", rows, holdout.index, features)
        column, labels = positive_column(model, dataset.positive_label)
        p_positive = predict_positive(model, features, column, labels)
        probabilities.append(validated_probabilities(p_positive, rows, None, name))
    timings, details = time_models(scored, evaluation)
    latency = latency_replicates(timings, evaluation)
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
        Cost matrix and decision threshold.
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
