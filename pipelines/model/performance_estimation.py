"""Performance before labels mature: confidence-based performance estimation (CBPE), per group.

Credit outcomes arrive months after the decision.  Until then the champion's
performance on an interval can only be *estimated*, from its own probabilities
once they are calibrated (the method of NannyML's CBPE, Kivimäki et al.; NannyML
itself resolves against the pinned set but pulls 26 further packages, and does
not import under it: docs/performance-estimation.md).

1. **Calibration, on a reference with labels** (the champion's holdout).  An
   isotonic regression maps ``p_positive`` to the observed frequency of the
   positive class; then each joint sensitive group gets a shift of that
   calibration on the logit scale, fitted by penalised maximum likelihood with a
   zero-centred normal prior of precision ``group_offset_precision``.  A large
   group whose outcomes the pooled calibration misses (a base rate three times
   another group's, which a model blind to the group cannot see) gets its own
   level; a tiny group stays near the pooled calibration.
2. **The estimate, on the interval without labels.**  With ``q`` the calibrated
   probability of the positive class, each decision's expected confusion cell is
   ``q`` / ``1 - q``: the expected counts give every count metric of the gate
   (accuracy, balanced accuracy, F1, expected cost, saving, TPR/FPR/accuracy per
   group and their disparities) through the same functions the gate uses
   (:mod:`pipelines.model.metrics`); the expected ROC AUC is the ratio of the
   expected correctly ordered (positive, negative) pairs to the expected pairs,
   ranked by the model's own ``p_positive``, ties counting one half.
3. **The interval.**  Each of ``evaluation.bootstrap.resamples`` seeded
   resamples refits the calibration on Poisson(1)-weighted reference rows, then
   draws every decision's outcome from its calibrated probability and measures
   the metrics on those outcomes.  The percentile interval of these values at
   ``evaluation.bootstrap.confidence`` is a *predictive* interval: where the
   realised metric should fall once the labels arrive, counting the uncertainty
   of the calibration and the chance in the outcomes.

What the estimate assumes: the probability of the outcome given the model's
score and the group is the same in the interval as in the reference (covariate
shift, not concept shift).  A change of how outcomes follow from the inputs
(a recession) is invisible to it, and only the realised horizon
(:mod:`pipelines.model.realised_outcomes`) can see it.  Approval rates and
demographic parity are known at decision time and are not estimated here.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

# the pool-adjacent-violators kernel behind sklearn.isotonic.isotonic_regression, called once per resample:
# the public function's per-call validation costs ten times the fit (tests hold the result to IsotonicRegression)
from sklearn._isotonic import _inplace_contiguous_isotonic_regression

from pipelines.core.config import DatasetSettings, DecisionSettings, EvaluationSettings
from pipelines.core.errors import BadInputError
from pipelines.core.monitored_values import Horizon, MonitoredFamily, MonitoredValue
from pipelines.core.monitoring_settings import AlertLimit, EstimatedPerformanceMonitoring
from pipelines.model import bootstrap
from pipelines.model.holdout import Attribute, Partition, partition_groups, validated_decisions
from pipelines.model.metrics import (
    METRIC_DIRECTION,
    attribute_counts,
    business_metrics,
    costs,
    disparities,
    group_rates,
    technical_count_metrics,
)

logger = logging.getLogger(__name__)

# stream codes of this module's draws (pipelines.model.bootstrap uses 1 to 3)
STREAM_REFERENCE = 11
"""Poisson(1) weights of the reference rows, one generator per resample."""
STREAM_OUTCOMES = 12
"""The simulated outcomes of the interval's decisions, one generator per resample."""

ESTIMATED_TECHNICAL = ("roc_auc", "accuracy", "balanced_accuracy", "f1")
ESTIMATED_BUSINESS = ("expected_cost", "cost_saving_vs_best_constant")
ESTIMATED_ETHICAL = ("equalized_odds_difference", "equal_opportunity_difference", "worst_group_accuracy")
"""Per attribute; demographic parity needs no outcome: it is measured at decision time, not estimated."""
ESTIMATED_RATES = ("tpr", "fpr", "accuracy")
"""Per group."""

P_POSITIVE = "p_positive"
FAVORABLE = "favorable"
CALIBRATION_METHODS = ("isotonic", "identity")
_NEWTON_STEPS = 100
_NEWTON_TOLERANCE = 1e-10
BLOCK_PRIOR_ROWS = 1.0
"""Pseudo-rows at the model's mean score added to every isotonic block (see :func:`_smoothed`)."""
_MAX_STEP = 4.0  # largest change of a group offset (logit) in one Newton step
_LOGIT_BOUND = 1e-12  # calibrated probabilities enter the logit inside [1e-12, 1 - 1e-12]

ERR_FRAME = "{name} must be a pandas DataFrame, found {found}"
ERR_COLUMNS = "{name} lacks the column(s) {columns}: {needs}"
ERR_EMPTY_FRAME = "{name} has no rows: nothing to estimate"
ERR_METHOD = "calibration method must be one of {allowed}, found {found!r}"
ERR_TARGET_MISSING = "reference has {count} rows without a known {target!r}: calibration needs every outcome"
ERR_REFERENCE_CLASSES = "reference holds a single class of {target!r}: calibration needs both outcomes"
ERR_PROBABILITIES = "{name}.p_positive must hold finite probabilities in [0, 1]; found {count} that are not, e.g. {x}"

# the per-group rates: which way is better (for the direction of a MonitoredValue)
RATE_DIRECTION: dict[str, Literal["min", "max"]] = {
    "selection_rate": "min",
    "approval_rate": "min",
    "tpr": "min",
    "fpr": "max",
    "accuracy": "min",
    "expected_cost": "max",
}


# --------------------------------------------------------------------------- shared with realised_outcomes


def direction_of(metric: str) -> Literal["min", "max"]:
    """Return which side of a metric breaches: ``min`` when higher is better, ``max`` when lower is."""
    if metric in RATE_DIRECTION:
        return RATE_DIRECTION[metric]
    return "min" if METRIC_DIRECTION[metric] == "higher" else "max"


def monitored_value(
    horizon: Horizon,
    family: MonitoredFamily,
    metric: str,
    subject: str,
    value: float | None,
    interval: dict[str, Any] | None,
    limit: AlertLimit | None,
) -> MonitoredValue | None:
    """Build one :class:`MonitoredValue`, or None when the value is undefined (NaN or None).

    Parameters
    ----------
    horizon, family, metric, subject : str
        What was measured (see :class:`~pipelines.core.monitored_values.MonitoredValue`).
    value : float or None
        The measured (or estimated) value, unrounded.
    interval : dict or None
        ``{"low", "high", ...}`` from :func:`pipelines.model.bootstrap.percentile_interval`.
    limit : AlertLimit or None
        The warn / critical limits, None when the value is reported without limits.

    Returns
    -------
    MonitoredValue or None
        None for an undefined value (a group without good applicants has no TPR).
    """
    if value is None or not math.isfinite(float(value)):
        return None
    low = None if interval is None else interval.get("low")
    high = None if interval is None else interval.get("high")
    return MonitoredValue(
        horizon=horizon,
        family=family,
        metric=metric,
        subject=subject,
        value=float(value),
        low=low,
        high=high,
        warn=None if limit is None else limit.warn,
        critical=None if limit is None else limit.critical,
        direction=limit.direction if limit is not None else direction_of(metric),
    )


def group_subject(attribute: str, group: str) -> str:
    """The ``subject`` of a group's value: ``"<attribute>=<group>"``."""
    return f"{attribute}={group}"


def checked_frame(frame: Any, name: str, columns: list[str], needs: str) -> pd.DataFrame:
    """Check that ``frame`` is a non-empty DataFrame holding ``columns``; return it.

    Raises
    ------
    BadInputError
        Not a DataFrame, a missing column, or no rows.
    """
    if not isinstance(frame, pd.DataFrame):
        raise BadInputError(ERR_FRAME.format(name=name, found=type(frame).__name__))
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise BadInputError(ERR_COLUMNS.format(name=name, columns=missing, needs=needs))
    if len(frame) == 0:
        raise BadInputError(ERR_EMPTY_FRAME.format(name=name))
    return frame


def checked_probabilities(values: Any, name: str) -> np.ndarray:
    """Return ``values`` as float64 probabilities, refusing any that is not finite in [0, 1]."""
    p = np.asarray(values, dtype=np.float64)
    bad = ~(np.isfinite(p) & (p >= 0.0) & (p <= 1.0))
    if bad.any():
        raise BadInputError(ERR_PROBABILITIES.format(name=name, count=int(bad.sum()), x=p[bad][0]))
    return p


# --------------------------------------------------------------------------- calibration


@dataclass(frozen=True)
class Calibration:
    """A fitted calibration: the pooled isotonic map of ``p_positive`` and one logit offset per joint group.

    The isotonic map is piecewise linear between ``knots`` (the distinct reference scores)
    and constant beyond them, as scikit-learn's ``IsotonicRegression(out_of_bounds="clip")``.
    ``knots`` is None for the ``identity`` method (the probabilities taken as they are).
    """

    method: str
    knots: np.ndarray | None
    fitted: np.ndarray | None
    offsets: np.ndarray  # per joint group (of the coding shared by reference and interval)

    def pooled(self, p_positive: np.ndarray) -> np.ndarray:
        """Return the pooled calibrated probability (before the group offsets)."""
        if self.knots is None or self.fitted is None:
            return p_positive
        return np.interp(p_positive, self.knots, self.fitted)

    def probabilities(self, p_positive: np.ndarray, joint: np.ndarray) -> np.ndarray:
        """Return the calibrated probability of the positive class for scores and their joint groups."""
        if self.knots is None:
            return p_positive
        return _shifted(self.pooled(p_positive), self.offsets[joint])


def _logit(p: np.ndarray) -> np.ndarray:
    inside = np.clip(p, _LOGIT_BOUND, 1.0 - _LOGIT_BOUND)
    return np.log(inside) - np.log1p(-inside)


def _shifted(pooled: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """``sigmoid(logit(pooled) + offset)``, exact where the offset is 0 or ``pooled`` is 0 or 1."""
    shifted = 1.0 / (1.0 + np.exp(-(_logit(pooled) + offsets)))
    certain = (pooled <= 0.0) | (pooled >= 1.0) | (offsets == 0.0)
    return np.where(certain, pooled, shifted)


def _group_offsets(
    pooled: np.ndarray, positive: np.ndarray, weights: np.ndarray, joint: np.ndarray, groups: int, precision: float
) -> np.ndarray:
    """Each joint group's logit offset: Newton steps on the penalised weighted log-likelihood, all groups at once.

    The objective is strictly concave (the prior's precision is positive); a step is
    bounded by :data:`_MAX_STEP` so that a group whose outcomes are all one class
    cannot overshoot.
    """
    logit = _logit(pooled)
    offsets = np.zeros(groups, dtype=np.float64)
    for _ in range(_NEWTON_STEPS):
        q = 1.0 / (1.0 + np.exp(-(logit + offsets[joint])))
        gradient = np.bincount(joint, weights * (positive - q), minlength=groups) - precision * offsets
        curvature = np.bincount(joint, weights * q * (1.0 - q), minlength=groups) + precision
        step = np.clip(gradient / curvature, -_MAX_STEP, _MAX_STEP)
        offsets += step
        if np.max(np.abs(step)) < _NEWTON_TOLERANCE:
            break
    return offsets


@dataclass(frozen=True)
class _Reference:
    """The reference rows, with their distinct scores found once for every refit."""

    p_positive: np.ndarray
    positive: np.ndarray  # float64 0/1
    joint: np.ndarray
    groups: int
    knots: np.ndarray  # distinct scores, ascending
    knot_of_row: np.ndarray


def _reference(p_positive: np.ndarray, positive: np.ndarray, joint: np.ndarray, groups: int) -> _Reference:
    knots, knot_of_row = np.unique(p_positive, return_inverse=True)
    return _Reference(p_positive, positive.astype(np.float64), joint, groups, knots, knot_of_row.reshape(-1))


def _isotonic(reference: _Reference, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The isotonic fit on the distinct reference scores: knots, fitted values, weight per knot.

    scikit-learn's ``IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip")`` (tied
    scores averaged, weighted), computed with the kernel of
    :func:`sklearn.isotonic.isotonic_regression` without its per-call validation: the
    tests hold it to the estimator.  Knots whose rows all weigh 0 are left out.
    """
    knot_weight = np.bincount(reference.knot_of_row, weights, minlength=len(reference.knots))
    knot_positive = np.bincount(reference.knot_of_row, weights * reference.positive, minlength=len(reference.knots))
    present = knot_weight > 0
    kept_weight = np.ascontiguousarray(knot_weight[present], dtype=np.float64)
    fitted = np.ascontiguousarray(knot_positive[present] / kept_weight, dtype=np.float64)
    _inplace_contiguous_isotonic_regression(fitted, kept_weight.copy())
    np.clip(fitted, 0.0, 1.0, out=fitted)  # y_min=0, y_max=1 (frequencies already lie inside)
    return reference.knots[present], fitted, kept_weight


def _smoothed(fitted: np.ndarray, knot_weight: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """Add :data:`BLOCK_PRIOR_ROWS` pseudo-rows to every isotonic block, at the model's own mean score there.

    A block is a run of knots with one fitted value.  An end block of a few pure rows
    would otherwise say 0 or 1, a certainty no finite reference supports, and certain
    probabilities make the estimate optimistic; a large block hardly moves.
    """
    starts = np.concatenate(([True], fitted[1:] != fitted[:-1]))
    block = np.cumsum(starts) - 1
    block_weight = np.bincount(block, knot_weight)
    block_score = np.bincount(block, knot_weight * knots) / block_weight
    return (fitted * block_weight[block] + BLOCK_PRIOR_ROWS * block_score[block]) / (
        block_weight[block] + BLOCK_PRIOR_ROWS
    )


def _fit(method: str, reference: _Reference, precision: float, weights: np.ndarray | None = None) -> Calibration:
    """Fit the calibration on (weighted) reference rows; weight 0 leaves a row out."""
    if method == "identity":
        return Calibration(method, None, None, np.zeros(reference.groups))
    w = np.ones(len(reference.p_positive)) if weights is None else np.asarray(weights, dtype=np.float64)
    knots, fitted, knot_weight = _isotonic(reference, w)
    pooled_map = Calibration(method, knots, _smoothed(fitted, knot_weight, knots), np.zeros(0))
    kept = w > 0
    offsets = _group_offsets(
        pooled_map.pooled(reference.p_positive[kept]),
        reference.positive[kept],
        w[kept],
        reference.joint[kept],
        reference.groups,
        precision,
    )
    return Calibration(method, pooled_map.knots, pooled_map.fitted, offsets)


# --------------------------------------------------------------------------- the inputs, coded once


@dataclass(frozen=True)
class _Inputs:
    """The validated reference and interval: scores, truth, decisions, groups."""

    reference: _Reference  # joint groups in the coding shared with the interval
    p_positive: np.ndarray
    favorable: np.ndarray
    joint: np.ndarray  # the interval's rows, shared coding (for the calibration offsets)
    partition: Partition  # the interval's own groups (what the metrics are measured over)


def _inputs(decisions: Any, reference: Any, dataset: DatasetSettings, evaluation: EvaluationSettings) -> _Inputs:
    """Validate both frames and code their sensitive groups."""
    sensitive = list(dataset.sensitive)
    decisions = checked_frame(
        decisions, "decisions", [P_POSITIVE, FAVORABLE, *sensitive], "the interval's scores joined to its groups"
    )
    reference = checked_frame(
        reference, "reference", [P_POSITIVE, dataset.target, *sensitive], "the champion's holdout scores"
    )
    target = reference[dataset.target]
    unknown = int(target.isna().sum())
    if unknown:
        raise BadInputError(ERR_TARGET_MISSING.format(count=unknown, target=dataset.target))
    positive = np.asarray(target == dataset.positive_label, dtype=bool)
    if positive.all() or not positive.any():
        raise BadInputError(ERR_REFERENCE_CLASSES.format(target=dataset.target))
    favorable = validated_decisions(decisions[FAVORABLE].to_numpy(), len(decisions), None, "decisions.favorable")
    both = pd.concat(
        [reference[sensitive].reset_index(drop=True), decisions[sensitive].reset_index(drop=True)], ignore_index=True
    )
    shared = partition_groups(both, sensitive, len(both), None, False, dataset.small_groups)
    own = partition_groups(
        decisions[sensitive].reset_index(drop=True),
        sensitive,
        len(decisions),
        None,
        evaluation.intersection,
        dataset.small_groups,
    )
    split = len(reference)
    return _Inputs(
        reference=_reference(
            checked_probabilities(reference[P_POSITIVE], "reference"),
            positive,
            shared.joint[:split],
            shared.joint_count,
        ),
        p_positive=checked_probabilities(decisions[P_POSITIVE], "decisions"),
        favorable=favorable,
        joint=shared.joint[split:],
        partition=own,
    )


# --------------------------------------------------------------------------- ROC AUC


@dataclass(frozen=True)
class _Ranking:
    """The interval's rows sorted by ``p_positive``, with the tie block of every sorted row."""

    order: np.ndarray
    block: np.ndarray  # block index of each sorted row
    block_start: np.ndarray
    block_end: np.ndarray


def _ranking(p_positive: np.ndarray) -> _Ranking:
    order = np.argsort(p_positive, kind="stable")
    ranked = p_positive[order]
    change = np.flatnonzero(ranked[1:] != ranked[:-1]) + 1
    block_start = np.concatenate(([0], change))
    block_end = np.concatenate((change, [len(ranked)]))
    block = np.repeat(np.arange(len(block_start)), block_end - block_start)
    return _Ranking(order, block, block_start, block_end)


def _auc(ranking: _Ranking, positive_weight: np.ndarray, negative_weight: np.ndarray) -> float:
    """ROC AUC from each row's weight as a positive and as a negative, in score order, self-pairs excluded.

    With 0/1 weights (drawn outcomes) this is the ROC AUC of those outcomes; with ``q`` and
    ``1 - q`` it is the expected number of correctly ordered pairs over the expected pairs.
    """
    pos = positive_weight[ranking.order]
    neg = negative_weight[ranking.order]
    cumulative = np.concatenate(([0.0], np.cumsum(neg)))
    below = cumulative[ranking.block_start]  # negatives in lower blocks
    tied = cumulative[ranking.block_end] - below  # negatives in the row's own block
    before = below[ranking.block]
    same = tied[ranking.block] - neg  # a row is no pair of itself
    numerator = float(np.dot(pos, before + 0.5 * same))
    denominator = float(pos.sum() * neg.sum() - np.dot(pos, neg))
    return numerator / denominator if denominator > 0 else math.nan


# --------------------------------------------------------------------------- the estimate


@dataclass(frozen=True)
class EstimatedPerformance:
    """The estimated horizon of one interval.

    ``values`` is what the monitor hands to the alerting; ``estimates`` maps every
    value's ``(family, metric, subject)`` to its point and interval for logging;
    ``notes`` say what the estimate rests on.
    """

    values: list[MonitoredValue]
    rows: int
    reference_rows: int
    method: str
    resamples: int
    seed: int
    confidence: float
    notes: list[str] = field(default_factory=list)


def _cell_counts(truth_weight: np.ndarray, favorable: np.ndarray, joint: np.ndarray, groups: int) -> np.ndarray:
    """``(groups, truth, decision)`` counts where each row counts ``truth_weight`` as favourable truth."""
    decision = favorable.astype(np.int64)
    good = np.bincount(joint * 2 + decision, truth_weight, minlength=groups * 2).reshape(groups, 2)
    bad = np.bincount(joint * 2 + decision, 1.0 - truth_weight, minlength=groups * 2).reshape(groups, 2)
    return np.stack([bad, good], axis=1)


def _simulations(
    inputs: _Inputs,
    method: str,
    settings: EstimatedPerformanceMonitoring,
    evaluation: EvaluationSettings,
    positive_is_favorable: bool,
    ranking: _Ranking,
) -> tuple[np.ndarray, np.ndarray]:
    """Counts and ROC AUC: the first ``1 + resamples`` drawn, the next ``1 + resamples`` expected.

    Index 0 of both halves is the estimate (expected under the calibration on the whole
    reference).  Resample ``r`` refits the calibration on Poisson(1)-weighted reference
    rows; its drawn half holds the metrics of outcomes drawn from that refit, its expected
    half the metrics expected under it (what :func:`_estimated` corrects the bias with).
    """
    boot = evaluation.bootstrap
    precision = settings.group_offset_precision
    groups, own, size = inputs.partition.joint_count, inputs.partition.joint, 1 + boot.resamples
    counts = np.empty((2 * size, groups, 2, 2), dtype=np.float64)
    auc = np.empty(2 * size, dtype=np.float64)

    def expected(position: int, q: np.ndarray) -> None:
        counts[position] = _cell_counts(q if positive_is_favorable else 1.0 - q, inputs.favorable, own, groups)
        auc[position] = _auc(ranking, q, 1.0 - q)

    expected(0, _fit(method, inputs.reference, precision).probabilities(inputs.p_positive, inputs.joint))
    counts[size], auc[size] = counts[0], auc[0]
    for r in range(1, size):
        weights = bootstrap.poisson_weights(
            bootstrap.generator(boot.seed, STREAM_REFERENCE, r), (len(inputs.reference.p_positive),)
        )
        q_r = _fit(method, inputs.reference, precision, weights).probabilities(inputs.p_positive, inputs.joint)
        expected(size + r, q_r)
        drawn = (bootstrap.generator(boot.seed, STREAM_OUTCOMES, r).random(len(q_r)) < q_r).astype(np.float64)
        expected(r, drawn)  # outcomes of probability 0 or 1: their counts and AUC are the drawn ones
    return counts, auc


def limit_of(settings: Any, metric: str) -> AlertLimit | None:
    """Return the :class:`AlertLimit` a monitoring section sets for ``metric``, or None when it sets none."""
    limit = getattr(settings, metric, None)
    return limit if isinstance(limit, AlertLimit) else None


def _estimated(
    family: MonitoredFamily, metric: str, subject: str, values: np.ndarray, confidence: float, limit: AlertLimit | None
) -> MonitoredValue | None:
    """One estimated value, bias-corrected, from the drawn and expected halves of :func:`_simulations`.

    A calibration fitted on a finite reference is noisier than the truth, and noise in the
    probabilities looks like separation: the plain estimate is optimistic.  The bootstrap
    measures that bias as the mean of the refits' expected values minus the estimate, and
    removes it once from the estimate and twice from each drawn value (which is centred on
    its refit, one bias further from the truth).
    """
    size = len(values) // 2
    drawn, expected = values[:size], values[size:]
    refits = expected[1:]
    bias = float(np.mean(refits)) - float(expected[0]) if np.isfinite(refits).all() else 0.0
    interval = bootstrap.percentile_interval(drawn[1:] - 2.0 * bias, confidence)
    return monitored_value("estimated", family, metric, subject, float(drawn[0]) - bias, interval, limit)


def _overall_values(
    counts: np.ndarray,
    auc: np.ndarray,
    settings: EstimatedPerformanceMonitoring,
    decision: DecisionSettings,
    positive_is_favorable: bool,
    confidence: float,
) -> list[MonitoredValue | None]:
    """The technical and business values of the whole interval."""
    total = counts.sum(axis=1)
    technical = {"roc_auc": auc, **technical_count_metrics(total, positive_is_favorable)}
    business = business_metrics(total, decision)
    found = [
        _estimated("technical", name, "overall", technical[name], confidence, limit_of(settings, name))
        for name in ESTIMATED_TECHNICAL
    ]
    found += [
        _estimated("business", name, "overall", business[name], confidence, limit_of(settings, name))
        for name in ESTIMATED_BUSINESS
    ]
    return found


def _attribute_values(
    counts: np.ndarray,
    attribute: Attribute,
    settings: EstimatedPerformanceMonitoring,
    decision: DecisionSettings,
    confidence: float,
) -> list[MonitoredValue | None]:
    """One attribute's estimated values: every group's rates and cost, then its disparities over gated groups."""
    per_group = attribute_counts(counts, attribute.of_joint, len(attribute.groups))
    rates = group_rates(per_group)
    group_cost = costs(per_group, decision)["expected_cost"]
    found: list[MonitoredValue | None] = []
    for g, group in enumerate(attribute.groups):
        subject = group_subject(attribute.name, group)
        found += [_estimated("ethical", name, subject, rates[name][:, g], confidence, None) for name in ESTIMATED_RATES]
        found.append(_estimated("business", "expected_cost", subject, group_cost[:, g], confidence, None))
    gated = [g for g, group in enumerate(attribute.groups) if group not in attribute.report_only]
    if len(gated) < 2:
        return found
    summaries = disparities({name: array[:, gated] for name, array in rates.items()})
    found += [
        _estimated("ethical", name, attribute.name, summaries[name], confidence, limit_of(settings, name))
        for name in ESTIMATED_ETHICAL
    ]
    return found


def estimate_performance(
    decisions: pd.DataFrame,
    reference: pd.DataFrame,
    dataset: DatasetSettings,
    decision: DecisionSettings,
    evaluation: EvaluationSettings,
    settings: EstimatedPerformanceMonitoring,
    method: str = "isotonic",
) -> EstimatedPerformance:
    """Estimate the champion's performance on an interval whose outcomes are not known yet.

    Parameters
    ----------
    decisions : pandas.DataFrame
        The interval's decisions: the score file's ``p_positive`` and ``favorable``
        (docs/scoring.md) joined to the columns of ``dataset.sensitive``, one row per decision.
    reference : pandas.DataFrame
        Rows with known outcomes scored by the same model (the champion's holdout):
        ``p_positive``, ``dataset.target`` and the sensitive columns.
    dataset : DatasetSettings
        Target, positive label and its meaning, sensitive attributes, small-group policy.
    decision : DecisionSettings
        The cost matrix (expected cost and its saving).
    evaluation : EvaluationSettings
        The gate's bootstrap (resamples, seed, confidence) and the intersection switch.
    settings : EstimatedPerformanceMonitoring
        ``monitoring.estimated``: the limits and the group offset prior.
    method : str, optional
        ``isotonic`` (the estimate) or ``identity``: the model's probabilities taken as
        they are, what an estimate without calibration claims (for comparison only).

    Returns
    -------
    EstimatedPerformance
        ``values``: one :class:`~pipelines.core.monitored_values.MonitoredValue` per
        estimated metric (horizon ``estimated``), overall, per attribute and per group;
        undefined metrics are left out.

    Raises
    ------
    BadInputError
        A frame that is not a DataFrame, lacks a column or is empty; probabilities outside
        [0, 1]; decisions that are not booleans; a reference outcome missing or a single class.
    """
    if method not in CALIBRATION_METHODS:
        raise BadInputError(ERR_METHOD.format(allowed=list(CALIBRATION_METHODS), found=method))
    inputs = _inputs(decisions, reference, dataset, evaluation)
    confidence = evaluation.bootstrap.confidence
    ranking = _ranking(inputs.p_positive)
    counts, auc = _simulations(inputs, method, settings, evaluation, dataset.positive_is_favorable, ranking)
    found = _overall_values(counts, auc, settings, decision, dataset.positive_is_favorable, confidence)
    for attribute in inputs.partition.attributes:
        found.extend(_attribute_values(counts, attribute, settings, decision, confidence))
    values = [value for value in found if value is not None]
    notes = [
        f"calibration: {method} on {len(inputs.reference.p_positive)} reference rows; "
        f"{inputs.reference.groups} joint groups with a logit offset (prior precision "
        f"{settings.group_offset_precision})"
    ]
    logger.info("estimated performance: %d values on %d decisions (%s)", len(values), len(inputs.p_positive), method)
    return EstimatedPerformance(
        values=values,
        rows=len(inputs.p_positive),
        reference_rows=len(inputs.reference.p_positive),
        method=method,
        resamples=evaluation.bootstrap.resamples,
        seed=evaluation.bootstrap.seed,
        confidence=confidence,
        notes=notes,
    )
