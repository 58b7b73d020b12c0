"""Input drift at decision time: the interval's applications against the champion's training data.

The statistics are :mod:`pipelines.data.drift`'s, unchanged: the
Kolmogorov-Smirnov statistic of every numeric feature, the population
stability index of every categorical one, and the change of every sensitive
group's share of the rows, each with what sampling noise alone reaches at
``audit.drift.significance``.  Here they become
:class:`~pipelines.core.monitored_values.MonitoredValue` s with the limits of
``monitoring.decision_time``, each limit raised to the statistic's noise
bound (a value counts only beyond both, as in the audit).  The label is not
measured: at decision time there is none.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from pipelines.core.config import DatasetSettings, DriftSettings
from pipelines.core.errors import BadInputError
from pipelines.core.monitored_values import MonitoredValue
from pipelines.core.monitoring_settings import AlertLimit, DecisionTimeMonitoring
from pipelines.core.small_groups import merge_small_groups
from pipelines.data.columns import EncodedFrame
from pipelines.data.drift import DriftStatistic, measure_drift

logger = logging.getLogger(__name__)

ERR_MISSING = "input drift: the {side} lacks column(s) {columns}"
NOTE_LABEL = "labels are not known at decision time: the label's rate is not compared"


@dataclass(frozen=True)
class InputDrift:
    """The drift values (one per feature, one per sensitive group) and what could not be compared."""

    values: list[MonitoredValue]
    notes: list[str]


def input_drift(
    applications: pd.DataFrame,
    reference: pd.DataFrame,
    features: Sequence[str],
    dataset: DatasetSettings,
    limits: DecisionTimeMonitoring,
    significance: float,
    pseudo_count: float,
) -> InputDrift:
    """Measure every feature's drift and every sensitive group's share shift against ``reference``.

    Parameters
    ----------
    applications
        The interval's applications (the rows the champion decided).
    reference
        The champion's training data.
    features
        The champion's input columns.
    dataset
        ``sensitive``, ``small_groups`` and ``target`` of fairgate.yaml.
    limits
        ``monitoring.decision_time``.
    significance
        ``audit.drift.significance``: the noise bound's level.
    pseudo_count
        ``audit.drift.pseudo_count``: keeps the PSI of a new or vanished category finite.

    Returns
    -------
    InputDrift
        One value per compared feature (``feature_ks`` or ``feature_psi``, the keys of their
        limits) and per sensitive group (``group_share_shift``, subject ``attribute=group``),
        and the notes.

    Raises
    ------
    BadInputError
        a feature or sensitive column is missing on either side.
    """
    wanted = list(dict.fromkeys([*features, *dataset.sensitive]))
    for side, frame in (("applications", applications), ("champion's training data", reference)):
        missing = [column for column in wanted if column not in frame.columns]
        if missing:
            raise BadInputError(ERR_MISSING.format(side=side, columns=", ".join(missing)))
    settings = DriftSettings(
        significance=significance,
        pseudo_count=pseudo_count,
        psi_warn=limits.feature_psi.warn,
        psi_block=limits.feature_psi.critical,
        ks_warn=limits.feature_ks.warn,
        ks_block=limits.feature_ks.critical,
        group_share_shift_warn=limits.group_share_shift.warn,
        group_share_shift_block=limits.group_share_shift.critical,
    )
    batch, base = _comparable(applications, wanted, dataset), _comparable(reference, wanted, dataset)
    measured = measure_drift(EncodedFrame(batch), EncodedFrame(base), list(features), dataset, settings)
    values: list[MonitoredValue] = []
    for statistic in measured.statistics:
        values.extend(_monitored(statistic, limits))
    notes = [note for note in measured.notes if not note.startswith("drift: label")] + [NOTE_LABEL]
    logger.info("input drift: %d values, %d notes", len(values), len(notes))
    return InputDrift(values, notes)


def _comparable(frame: pd.DataFrame, columns: list[str], dataset: DatasetSettings) -> pd.DataFrame:
    """The compared columns, sensitive groups merged as the gate merges them, the label column empty.

    At decision time there is no label: the target column is present but
    holds no value on either side, so :func:`measure_drift` compares no label rate.
    """
    selected = frame[columns].reset_index(drop=True)
    merged = merge_small_groups(selected[list(dataset.sensitive)], dataset.small_groups)
    selected = selected.assign(**{name: merged[name] for name in dataset.sensitive})
    return selected.assign(**{dataset.target: pd.Series([None] * len(selected), dtype=object)})


def _limited(limit: AlertLimit, noise: float) -> tuple[float, float]:
    """The warn and critical limits of a drift statistic, each raised to its noise bound."""
    return max(limit.warn, noise), max(limit.critical, noise)


def _monitored(statistic: DriftStatistic, limits: DecisionTimeMonitoring) -> list[MonitoredValue]:
    """One drift statistic as monitored values (a group-share statistic: one per group)."""
    if statistic.statistic in ("ks", "psi"):
        limit = limits.feature_ks if statistic.statistic == "ks" else limits.feature_psi
        warn, critical = _limited(limit, statistic.noise)
        return [
            MonitoredValue(
                "decision_time", "drift", f"feature_{statistic.statistic}", statistic.column, statistic.value,
                None, None, warn, critical, "max",
            )
        ]  # fmt: skip
    if statistic.statistic != "group_share_shift":
        return []
    values = []
    for group in statistic.detail["groups"]:
        warn, critical = _limited(limits.group_share_shift, group["noise"])
        values.append(
            MonitoredValue(
                "decision_time", "drift", "group_share_shift", f"{statistic.column}={group['group']}",
                float(group["shift"]), None, None, warn, critical, "max",
            )
        )  # fmt: skip
    return values
