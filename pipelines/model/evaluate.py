"""Evaluation: one structured result with three metric families, overall and per group, with intervals.

The candidate and the current champion are scored on the same holdout by
:func:`evaluate_models` (or :func:`compare_predictions` from probabilities);
:func:`evaluate_against` compares the candidate with several models at once
(the champion and the unmitigated twin), each scored once, on one set of
paired resamples.
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
This module holds the entry points and assembles the result; the count
sections (business, ethical) are filled by :mod:`pipelines.model.result_sections`.
The inputs are validated and the groups coded in :mod:`pipelines.model.holdout`; metric
names, directions and every count metric live in :mod:`pipelines.model.metrics`;
latency timing in :mod:`pipelines.model.latency`; :func:`flatten_metrics` and
:func:`per_group_table` in :mod:`pipelines.model.evaluation_tables`; the
per-group plot in :mod:`pipelines.reports.plots`.  Every name other code
imported from here before that split is still importable from here.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
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
    Holdout,
    check_alignment,
    positive_column,
    predict_positive,
    validated_decisions,
    validated_holdout,
    validated_probabilities,
)
from pipelines.model.latency import LatencyReplicates, latency_replicates, time_models
from pipelines.model.metrics import (
    BUSINESS_METRICS,
    COUNT_TECHNICAL_METRICS,
    ETHICAL_METRICS,
    GROUP_RATES,
    METRIC_DIRECTION,
    TECHNICAL_METRICS,
    MetricDirection,
    MetricPath,
    approve_decisions,
    cost_saving,
)
from pipelines.model.result_sections import (
    NOTE_FPR_UNDEFINED,
    NOTE_PARITY_RATIO_UNDEFINED,
    NOTE_REPORT_ONLY,
    NOTE_SINGLE_GROUP,
    NOTE_TPR_UNDEFINED,
    Measured,
    count_metrics,
    put,
)

__all__ = [
    # the evaluation
    "compare_predictions",
    "evaluate_decisions",
    "evaluate_predictions",
    "evaluate_models",
    "evaluate_model",
    "evaluate_against",
    "ERR_NO_REFERENCE",
    "ERR_REFERENCE",
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

ERR_NO_REFERENCE = "evaluate_against needs at least one reference (a name mapped to a model or None), found none"
ERR_REFERENCE = "reference {name!r} must be a (model, features) pair or None, found {found}"

_DEFAULT_EVALUATION = EvaluationSettings()


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
    measured: Measured,
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


def _intervals(measured: Measured, confidence: float) -> dict[MetricPath, dict[str, Any]]:
    paths = list(measured.replicates)
    if not paths:
        return {}
    stacked = np.vstack([measured.replicates[path] for path in paths])
    return dict(zip(paths, bootstrap.percentile_intervals(stacked, confidence), strict=True))


def _tree(entries: Mapping[MetricPath, Any]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path, value in entries.items():
        put(tree, path, value)
    return tree


def _stacked_counts(
    holdout: Holdout, approved: list[np.ndarray], settings: BootstrapSettings, drawn: int
) -> np.ndarray:
    """The holdout's cell counts (index 0) and every resample's, ``(1 + resamples, joint, truth, decision...)``.

    One bincount over the cells joint group x truth x every model's decision.  The cells of
    the first ``drawn`` models are drawn as Poisson totals, exactly as for those models alone;
    every further model's decisions then split each total (:func:`bootstrap.split_cells`), so
    that all models share one set of resamples.
    """
    cell = holdout.partition.joint * 2 + holdout.favourable_truth
    for decisions in approved:
        cell = cell * 2 + decisions
    shape = (holdout.partition.joint_count, 2) + (2,) * len(approved)
    observed = np.bincount(cell, minlength=int(np.prod(shape))).reshape(shape)
    later = tuple(range(2 + drawn, len(shape)))
    first_cells = observed.sum(axis=later) if later else observed
    totals = bootstrap.cell_replicates(first_cells, settings.resamples, settings.seed)
    for model in range(drawn, len(approved)):
        later = tuple(range(3 + model, len(shape)))
        level = observed.sum(axis=later) if later else observed
        totals = bootstrap.split_cells(totals, level, settings.seed, model)
    return np.concatenate([observed[None], totals], axis=0)


def _comparison(candidate: Measured, champion: Measured, confidence: float) -> dict[str, Any]:
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
    drawn: int | None = None,
) -> tuple[list[dict[str, Any]], list[Measured]]:
    """Evaluate every model (candidate first) on a validated holdout and one set of resamples.

    The count path always runs: approvals give every ethical and business metric and
    accuracy, balanced accuracy and F1.  With ``probabilities``, scikit-learn gives the
    technical point estimates and the row-level kernel the replicates of ROC AUC, log
    loss and Brier score; with ``latency``, the timings are added.  ``drawn`` (default:
    every model) is how many leading models' cells are drawn directly (see
    :func:`_stacked_counts`).  Each model's metrics are computed once, whatever the number
    of comparisons it enters; returns every model's result (with its intervals) and
    its resampled values.
    """
    settings = evaluation.bootstrap
    models = len(approved)
    drawn = models if drawn is None else drawn
    stacked = _stacked_counts(holdout, approved, settings, drawn)
    scores = None
    if probabilities is not None:
        scores = bootstrap.score_replicates(
            holdout.is_positive, probabilities, settings.resamples, settings.seed, settings.workers, drawn
        )

    measured: list[Measured] = []
    results: list[dict[str, Any]] = []
    for m in range(models):
        others = tuple(3 + k for k in range(models) if k != m)  # the other models' decision axes
        counts = stacked.sum(axis=others) if others else stacked
        result = _result_header(len(holdout.is_positive), dataset, decision)
        found = Measured(points={}, replicates={})
        count_metrics(found, counts, holdout.partition, decision, dataset.positive_is_favorable, result)
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
        result["intervals"] = _tree(_intervals(found, settings.confidence))
        measured.append(found)
        results.append(result)
    return results, measured


def _pair(
    results: list[dict[str, Any]], measured: list[Measured], reference: int | None, settings: BootstrapSettings
) -> dict[str, Any]:
    """The candidate with one reference model (or alone): both results and their paired comparison."""
    info = {
        "method": "poisson",
        "interval": "percentile",
        "resamples": settings.resamples,
        "seed": settings.seed,
        "confidence": settings.confidence,
        "paired": reference is not None,
    }
    candidate = {**results[0], "bootstrap": dict(info)}
    if reference is None:
        return {"candidate": candidate, "champion": None, "comparison": None, "bootstrap": info}
    return {
        "candidate": candidate,
        "champion": {**results[reference], "bootstrap": dict(info)},
        "comparison": _comparison(measured[0], measured[reference], settings.confidence),
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
    results, measured = _evaluate(holdout, approved, dataset, decision, evaluation, probabilities)
    return _pair(results, measured, 1 if p_champion is not None else None, evaluation.bootstrap)


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
    results, measured = _evaluate(holdout, decisions, dataset, decision, evaluation)
    return _pair(results, measured, 1 if approved_champion is not None else None, evaluation.bootstrap)


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
    champion = None if champion_model is None else (champion_model, champion_features)
    pairs = evaluate_against(
        candidate_model, candidate_features, {"champion": champion}, y_true, sensitive, dataset, decision, evaluation
    )
    return pairs["champion"]


def evaluate_against(
    candidate_model: Any,
    candidate_features: pd.DataFrame,
    references: Mapping[str, tuple[Any, pd.DataFrame] | None],
    y_true: Any,
    sensitive: Any,
    dataset: DatasetSettings,
    decision: DecisionSettings,
    evaluation: EvaluationSettings = _DEFAULT_EVALUATION,
) -> dict[str, dict[str, Any]]:
    """Score the candidate and every reference model once; evaluate each pair on one set of paired resamples.

    Every model's ``predict_proba`` runs once on the holdout (and on the latency batches,
    every model interleaved), and the candidate's metrics, resampled values included, are
    computed once and enter every comparison.  All comparisons share one set of
    resamples: the same row weights for ROC AUC, log loss and Brier score, and one draw
    of cell totals for the count metrics.  The first reference is drawn with the
    candidate exactly as :func:`evaluate_models` draws that pair (so that pair's result is
    the same to the last digit); every further reference's decisions split those totals
    (:func:`pipelines.model.bootstrap.split_cells`), which keeps each pair paired and
    leaves the resamples Poisson row weights, as if drawn for all models at once.

    Parameters
    ----------
    candidate_model : object
        Fitted classifier with ``classes_`` and ``predict_proba`` (columns in ``classes_`` order).
    candidate_features : pandas.DataFrame
        The candidate's input rows, aligned with ``y_true`` and ``sensitive``.
    references : mapping of str to (model, features) or None
        The models the candidate is compared with, by name, each with its own input rows
        (the same rows in the same order), e.g. ``{"champion": ..., "unmitigated": ...}``;
        None for one that does not exist (a first run has no champion).  At least one name.
    y_true, sensitive, dataset, decision, evaluation
        As :func:`evaluate_models`.

    Returns
    -------
    dict of str to dict
        For every name of ``references``, what :func:`evaluate_models` returns for the
        candidate and that model (``champion`` holds the reference's result); for a None
        reference, the candidate alone (``champion`` and ``comparison`` None).

    Raises
    ------
    BadInputError
        As :func:`evaluate_models`, plus no reference at all or one that is not a
        ``(model, features)`` pair.
    """
    if not references:
        raise BadInputError(ERR_NO_REFERENCE)
    for name, reference in references.items():
        if reference is not None and (
            not isinstance(reference, tuple) or len(reference) != 2 or any(part is None for part in reference)
        ):
            raise BadInputError(ERR_REFERENCE.format(name=name, found=type(reference).__name__))
    holdout = validated_holdout(y_true, sensitive, dataset, evaluation)
    rows = len(holdout.is_positive)
    present = [(name, reference) for name, reference in references.items() if reference is not None]
    scored: list[tuple[Any, Any]] = [(candidate_model, candidate_features), *(ref for _, ref in present)]
    probabilities = []
    for name, (model, features) in zip(["candidate", *(name for name, _ in present)], scored, strict=True):
        first = name == "candidate"
        check_alignment("features" if first else f"{name}_features", rows, holdout.index, features)
        column, labels = positive_column(model, dataset.positive_label)
        p_positive = predict_positive(model, features, column, labels)
        probabilities.append(validated_probabilities(p_positive, rows, None, "p_positive" if first else f"p_{name}"))
    timings, details = time_models(scored, evaluation)
    latency = latency_replicates(timings, evaluation)
    approved = _approvals(probabilities, dataset, decision)
    drawn = 2 if next(iter(references.values())) is not None else 1
    results, measured = _evaluate(
        holdout, approved, dataset, decision, evaluation, probabilities, latency, details, drawn
    )
    position = {name: m for m, (name, _) in enumerate(present, start=1)}
    return {name: _pair(results, measured, position.get(name), evaluation.bootstrap) for name in references}


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
