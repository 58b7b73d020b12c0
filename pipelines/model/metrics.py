"""Metric names and directions, the decision rule, and every metric computed from confusion counts.

The names here are what a gate may name (:data:`METRIC_DIRECTION` says which
way is better for each) and what an evaluation result holds (see
:mod:`pipelines.model.evaluate`, which documents the families and the
conventions).

Count arrays
------------
``counts[..., group, truth, decision]``: truth 1 = favourable (good),
decision 1 = approved.  Leading axes are resamples (index 0 of the stacked
array is the holdout itself), so every function here gives the holdout's
value and every resample's value in one call.  A rate whose denominator is 0
is NaN (undefined), never a made-up number.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from pipelines.core.config import DecisionSettings

MetricDirection = Literal["higher", "lower"]
MetricPath = tuple[str, ...]
"""Where a metric sits in a result tree, e.g. ``("ethical", "gender", "demographic_parity_ratio")``."""

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
COUNT_TECHNICAL_METRICS = ("accuracy", "balanced_accuracy", "f1")
"""The technical metrics whose resampled values come from the counts (the decisions alone)."""
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
BUSINESS_VALUES = (
    "approval_rate",
    "expected_cost",
    "cost_approve_all",
    "cost_refuse_all",
    "cost_best_constant",
    "cost_saving_vs_best_constant",
)
"""The overall business values of a result, in their documented order."""
BUSINESS_GROUP_VALUES = ("approval_rate", "expected_cost")
"""The business values of every group (``business.by_group.<attr>.<group>``)."""

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


# --------------------------------------------------------------------------- decisions and costs


def approve_decisions(
    p_positive: np.ndarray, decision: DecisionSettings, positive_is_favorable: bool
) -> np.ndarray:
    """Return the favourable decision (True = approve, grant) for each probability of the positive class.

    Parameters
    ----------
    p_positive : numpy.ndarray
        Probability of ``dataset.positive_label`` per application.
    decision : DecisionSettings
        The costs (or the explicit threshold) that give the threshold ``s`` on ``p_positive``
        (:meth:`~pipelines.core.config.DecisionSettings.positive_threshold`).
    positive_is_favorable : bool
        Whether the positive class is the favourable outcome.

    Returns
    -------
    numpy.ndarray
        Boolean array, True where the favourable decision is taken: ``p_positive >= s``
        when the positive class is favourable, ``p_positive <= s`` when it is unfavourable.
        Either way the decision minimises the expected cost given ``p_positive``.
    """
    return decide_at_threshold(p_positive, decision.positive_threshold(positive_is_favorable), positive_is_favorable)


def decide_at_threshold(p_positive: np.ndarray, positive_threshold: float, positive_is_favorable: bool) -> np.ndarray:
    """Return the favourable decision for each ``p_positive`` at the threshold ``s`` itself.

    ``p_positive >= s`` when the positive class is favourable, ``p_positive <= s``
    otherwise: the rule of :func:`approve_decisions`, for a threshold already
    known (the one a model was gated with, read from the audit log).
    """
    if positive_is_favorable:
        return np.asarray(p_positive >= positive_threshold, dtype=bool)
    return np.asarray(p_positive <= positive_threshold, dtype=bool)


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
        costs and both classes present (what
        :func:`pipelines.model.evaluate.evaluate_predictions` enforces) the baseline is
        never 0.
    """
    if cost_best_constant == 0.0:
        return 0.0 if expected_cost == 0.0 else None
    return 1.0 - expected_cost / cost_best_constant


# --------------------------------------------------------------------------- metrics from counts


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``numerator / denominator`` as float64, NaN where the denominator is 0."""
    num = np.asarray(numerator, dtype=np.float64)
    den = np.asarray(denominator, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def attribute_counts(counts: np.ndarray, of_joint: np.ndarray, groups: int) -> np.ndarray:
    """Sum the counts of the joint groups into the groups of one attribute.

    Parameters
    ----------
    counts : numpy.ndarray
        Shape ``(resamples, joint groups, 2, 2)``: truth x decision per joint group.
    of_joint : numpy.ndarray
        For every joint group, the index of its group in the attribute.
    groups : int
        Number of groups of the attribute.

    Returns
    -------
    numpy.ndarray
        Shape ``(resamples, groups, 2, 2)``.
    """
    joint_count = len(of_joint)
    membership = np.zeros((joint_count, groups), dtype=np.int64)
    membership[np.arange(joint_count), of_joint] = 1
    return np.einsum("bjtd,jg->bgtd", counts, membership)


def group_rates(counts: np.ndarray) -> dict[str, np.ndarray]:
    """Per-group rows, selection rate, TPR, FPR and accuracy (NaN where undefined).

    Parameters
    ----------
    counts : numpy.ndarray
        ``[..., group, truth, decision]``.

    Returns
    -------
    dict of str to numpy.ndarray
        ``rows``, ``good`` and ``bad`` (counts), ``selection_rate``, ``tpr``, ``fpr``
        and ``accuracy``, each of shape ``[..., group]``.
    """
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


def disparities(rates: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The five ethical summaries of one attribute from its per-group rates.

    Parameters
    ----------
    rates : dict of str to numpy.ndarray
        The result of :func:`group_rates` for the attribute's groups.

    Returns
    -------
    dict of str to numpy.ndarray
        One array per name of :data:`ETHICAL_METRICS`, the group axis reduced.
    """
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


def costs(counts: np.ndarray, decision: DecisionSettings) -> dict[str, np.ndarray]:
    """Approval rate and expected cost of the counts (summed over the last two axes).

    Parameters
    ----------
    counts : numpy.ndarray
        ``[..., truth, decision]``.
    decision : DecisionSettings
        The cost matrix.

    Returns
    -------
    dict of str to numpy.ndarray
        ``approval_rate`` and ``expected_cost`` (mean cost per application).
    """
    rows = counts.sum(axis=(-2, -1))
    wrong_favourable = counts[..., 0, 1]  # approved, truly unfavourable
    wrong_unfavourable = counts[..., 1, 0]  # refused, truly favourable
    cost = wrong_favourable * decision.cost_wrong_favorable + wrong_unfavourable * decision.cost_wrong_unfavorable
    return {
        "approval_rate": _ratio(counts[..., :, 1].sum(axis=-1), rows),
        "expected_cost": _ratio(cost, rows),
    }


def business_metrics(total: np.ndarray, decision: DecisionSettings) -> dict[str, np.ndarray]:
    """Overall business metrics from the counts ``[..., truth, decision]`` of the whole holdout.

    Parameters
    ----------
    total : numpy.ndarray
        ``[..., truth, decision]``, summed over every group.
    decision : DecisionSettings
        The cost matrix.

    Returns
    -------
    dict of str to numpy.ndarray
        One array per name of :data:`BUSINESS_VALUES`.
    """
    rows = total.sum(axis=(-2, -1))
    good = total[..., 1, :].sum(axis=-1)
    bad = total[..., 0, :].sum(axis=-1)
    values = costs(total, decision)
    approve_all = _ratio(bad * decision.cost_wrong_favorable, rows)
    refuse_all = _ratio(good * decision.cost_wrong_unfavorable, rows)
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


def technical_count_metrics(total: np.ndarray, positive_is_favorable: bool) -> dict[str, np.ndarray]:
    """Accuracy, balanced accuracy and F1 (on the model's positive class) from the counts.

    Parameters
    ----------
    total : numpy.ndarray
        ``[..., truth, decision]``, summed over every group.
    positive_is_favorable : bool
        Whether the model's positive class is the favourable outcome (then a predicted
        positive is an approval; otherwise it is a refusal).

    Returns
    -------
    dict of str to numpy.ndarray
        One array per name of :data:`COUNT_TECHNICAL_METRICS`; F1 is 0.0 when nothing is
        predicted positive (scikit-learn's ``zero_division=0``).
    """
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
