"""Performance when labels mature: the gate's metrics on the decisions whose outcomes are now known.

An interval's stored decisions (the score file: ids, ``p_positive``,
``favorable``; docs/scoring.md) are joined to the outcomes known so far (ids and
``dataset.target``).  The *label share* is the share of the interval's
decisions whose outcome is known.  Below ``monitoring.realised.min_label_share``
the interval is "not mature": nothing is measured, because the outcomes that
arrive first are not a random sample of all outcomes (an early default is
known before a loan is repaid).  From that share on, the decisions with a known
outcome are measured by the gate's own evaluation code
(:func:`pipelines.model.evaluate.evaluate_decisions` for every count metric, on
the decisions actually made; :func:`pipelines.model.evaluate.evaluate_predictions`
for ROC AUC, log loss and Brier score), with the gate's seeded bootstrap
intervals, overall, per attribute and per group.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from pipelines.core.config import DatasetSettings, DecisionSettings, EvaluationSettings
from pipelines.core.errors import BadInputError
from pipelines.core.monitored_values import MonitoredFamily, MonitoredValue
from pipelines.core.monitoring_settings import RealisedMonitoring
from pipelines.model.evaluate import evaluate_decisions, evaluate_predictions
from pipelines.model.metrics import (
    BUSINESS_GROUP_VALUES,
    BUSINESS_METRICS,
    COUNT_TECHNICAL_METRICS,
    ETHICAL_METRICS,
    GROUP_RATES,
)
from pipelines.model.performance_estimation import (
    FAVORABLE,
    P_POSITIVE,
    checked_frame,
    checked_probabilities,
    group_subject,
    limit_of,
    monitored_value,
)

logger = logging.getLogger(__name__)

ROW_COLUMN = "row"
"""The id of a decision when ``dataset.id_columns`` is empty: its position in the interval's batch (as scored)."""
SCORE_TECHNICAL_METRICS = ("roc_auc", "log_loss", "brier")

ERR_DUPLICATE_IDS = "{name} holds {count} repeated id(s) of {columns}, e.g. {example}: one row per decision expected"
NOTE_NOT_MATURE = (
    "not mature: {known} of {rows} decisions have a known outcome ({share:.1%}), below "
    "monitoring.realised.min_label_share {minimum:.1%}"
)
NOTE_UNMATCHED = "{count} outcome row(s) match no decision of the interval: not used"


@dataclass(frozen=True)
class RealisedPerformance:
    """The realised horizon of one interval.

    ``mature`` is False when fewer than ``min_label_share`` of the decisions have a
    known outcome; then ``values`` is empty and ``evaluation`` None.  Otherwise
    ``values`` holds one :class:`~pipelines.core.monitored_values.MonitoredValue` per
    metric and ``evaluation`` the gate-shaped results (``decisions``: the count
    metrics of the decisions made; ``scores``: the score metrics).
    """

    mature: bool
    label_share: float
    known: int
    rows: int
    values: list[MonitoredValue]
    evaluation: dict[str, Any] | None
    notes: list[str] = field(default_factory=list)


def _checked_ids(frame: pd.DataFrame, name: str, ids: list[str]) -> None:
    repeated = frame.duplicated(subset=ids, keep=False)
    if repeated.any():
        example = frame.loc[repeated, ids].iloc[0].tolist()
        raise BadInputError(
            ERR_DUPLICATE_IDS.format(name=name, count=int(repeated.sum()), columns=ids, example=example)
        )


def _joined(decisions: Any, outcomes: Any, dataset: DatasetSettings) -> tuple[pd.DataFrame, int, int]:
    """The decisions with their outcome (NaN while unknown), and how many outcomes matched none."""
    ids = list(dataset.id_columns) or [ROW_COLUMN]
    sensitive = list(dataset.sensitive)
    decisions = checked_frame(
        decisions, "decisions", [*ids, P_POSITIVE, FAVORABLE, *sensitive], "the score file joined to its groups"
    )
    outcomes = checked_frame(outcomes, "outcomes", [*ids, dataset.target], "the outcomes known so far")
    _checked_ids(decisions, "decisions", ids)
    _checked_ids(outcomes, "outcomes", ids)
    kept = decisions[[*ids, P_POSITIVE, FAVORABLE, *sensitive]].reset_index(drop=True)
    joined = kept.merge(outcomes[[*ids, dataset.target]], on=ids, how="left", validate="one_to_one")
    unmatched = len(outcomes) - int(outcomes.set_index(ids).index.isin(kept.set_index(ids).index).sum())
    return joined, unmatched, len(kept)


def _family_values(
    result: dict[str, Any], family: MonitoredFamily, names: tuple[str, ...], settings: RealisedMonitoring
) -> list[MonitoredValue | None]:
    return [
        monitored_value(
            "realised",
            family,
            name,
            "overall",
            result[family][name],
            result["intervals"][family][name],
            limit_of(settings, name),
        )
        for name in names
        if name in result[family]
    ]


def _group_values(result: dict[str, Any], settings: RealisedMonitoring) -> list[MonitoredValue | None]:
    """Per attribute: its disparities; per group: its rates and business values."""
    values: list[MonitoredValue | None] = []
    intervals = result["intervals"]
    for attribute, section in result["ethical"].items():
        for name in ETHICAL_METRICS:
            values.append(
                monitored_value(
                    "realised",
                    "ethical",
                    name,
                    attribute,
                    section[name],
                    intervals["ethical"][attribute][name],
                    limit_of(settings, name),
                )
            )
        for group, rates in section["by_group"].items():
            subject = group_subject(attribute, group)
            for name in GROUP_RATES:
                values.append(
                    monitored_value(
                        "realised",
                        "ethical",
                        name,
                        subject,
                        rates[name],
                        intervals["ethical"][attribute]["by_group"][group][name],
                        None,
                    )
                )
    for attribute, groups in result["business"]["by_group"].items():
        for group, numbers in groups.items():
            for name in BUSINESS_GROUP_VALUES:
                values.append(
                    monitored_value(
                        "realised",
                        "business",
                        name,
                        group_subject(attribute, group),
                        numbers[name],
                        intervals["business"]["by_group"][attribute][group][name],
                        None,
                    )
                )
    return values


def realised_performance(
    decisions: pd.DataFrame,
    outcomes: pd.DataFrame,
    dataset: DatasetSettings,
    decision: DecisionSettings,
    evaluation: EvaluationSettings,
    settings: RealisedMonitoring,
) -> RealisedPerformance:
    """Measure an interval's decisions against the outcomes known so far, or say it is not mature.

    Parameters
    ----------
    decisions : pandas.DataFrame
        The interval's score file (``dataset.id_columns``, or ``row`` without them;
        ``p_positive``; ``favorable``) joined to the columns of ``dataset.sensitive``.
    outcomes : pandas.DataFrame
        The ids and ``dataset.target`` of the outcomes known so far; a missing target
        (or an id absent from it) is an outcome not known yet.
    dataset : DatasetSettings
        Ids, target, positive label and its meaning, sensitive attributes.
    decision : DecisionSettings
        The cost matrix.
    evaluation : EvaluationSettings
        The gate's bootstrap and intersection settings.
    settings : RealisedMonitoring
        ``monitoring.realised``: the minimum label share and the limits.

    Returns
    -------
    RealisedPerformance
        The label share, and when mature the values (horizon ``realised``) and the
        gate-shaped evaluation they come from.

    Raises
    ------
    BadInputError
        A frame that is not a DataFrame, lacks a column or is empty; repeated ids;
        probabilities outside [0, 1]; decisions that are not booleans; known outcomes
        holding a single class or a class other than two (as the gate's evaluation).
    """
    joined, unmatched, rows = _joined(decisions, outcomes, dataset)
    notes = [NOTE_UNMATCHED.format(count=unmatched)] if unmatched else []
    known_mask = joined[dataset.target].notna().to_numpy()
    known = int(known_mask.sum())
    share = known / rows
    if share < settings.min_label_share:
        notes.append(NOTE_NOT_MATURE.format(known=known, rows=rows, share=share, minimum=settings.min_label_share))
        logger.info("realised: %s", notes[-1])
        return RealisedPerformance(False, share, known, rows, [], None, notes)
    matured = joined.loc[known_mask].reset_index(drop=True)
    truth = matured[dataset.target]
    sensitive = matured[list(dataset.sensitive)]
    p_positive = checked_probabilities(matured[P_POSITIVE], "decisions")
    made = evaluate_decisions(truth, matured[FAVORABLE].to_numpy(), None, sensitive, dataset, decision, evaluation)[
        "candidate"
    ]
    scored = evaluate_predictions(truth, p_positive, sensitive, dataset, decision, evaluation)
    values: list[MonitoredValue | None] = []
    values += _family_values(scored, "technical", SCORE_TECHNICAL_METRICS, settings)
    values += _family_values(made, "technical", COUNT_TECHNICAL_METRICS, settings)
    values += _family_values(made, "business", BUSINESS_METRICS, settings)
    values += _group_values(made, settings)
    found = [value for value in values if value is not None]
    logger.info("realised: %d values on %d of %d decisions", len(found), known, rows)
    return RealisedPerformance(True, share, known, rows, found, {"decisions": made, "scores": scored}, notes)
