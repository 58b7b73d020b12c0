"""The decisions actually made, per group, without labels: approval rates, the four-fifths ratio, shadow disagreement.

Every value has the gate's bootstrap interval (``evaluation.bootstrap``): each
rate is a function of how many rows fall in each cell ``group x decision``
(or ``group x agree/disagree``), so a resample's cells are drawn directly as
``Poisson(cell count)`` (:func:`pipelines.model.bootstrap.cell_replicates`),
exactly the distribution of the Poisson bootstrap's weighted row counts.

- ``approval_rate``: the share of favourable decisions, overall and per group
  (``attribute=group``); informational, no limit.
- ``demographic_parity_ratio``: per attribute, the lowest group approval rate
  over the highest, among the gated groups (a ``report_only`` group of
  ``dataset.small_groups`` enters no ratio, as in the gate); the four-fifths
  rule says it should not fall under 0.8.
- ``shadow_disagreement``: per shadow, the share of rows it decides
  differently from the champion, overall and per group.

A rate undefined in a resample (a group with no row in it) leaves the value
without interval (``low`` and ``high`` None), as in the gate's bootstrap.  The
interval is the percentile interval, moved out to the value where the
resamples' bias leaves the value outside it (see :func:`_held`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import numpy as np
import pandas as pd

from pipelines.core.config import BootstrapSettings
from pipelines.core.errors import BadInputError
from pipelines.core.monitored_values import MonitoredFamily, MonitoredValue
from pipelines.core.monitoring_settings import AlertLimit, DecisionTimeMonitoring
from pipelines.model.bootstrap import cell_replicates, percentile_intervals

ERR_LENGTH = "{what}: {found} decision(s) for {rows} application(s)"
MISSING_GROUP = "<missing>"


def group_codes(column: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Each row's group index and the group names (``str`` of the value, as the evaluation names groups)."""
    names = column.map(lambda value: MISSING_GROUP if pd.isna(value) else str(value), na_action=None)
    codes, uniques = pd.factorize(names, sort=True)
    return np.asarray(codes, dtype=np.int64), [str(u) for u in uniques]


def _cells(codes: np.ndarray, flags: np.ndarray, groups: int) -> np.ndarray:
    """Rows per ``group x flag`` cell (flag 1: approved, or disagreeing)."""
    return np.bincount(codes * 2 + flags.astype(np.int64), minlength=2 * groups).reshape(groups, 2)


def _share(cells: np.ndarray) -> np.ndarray:
    """Flag-1 share per group of ``[..., group, 2]`` cells; NaN for a group without rows."""
    rows = cells.sum(axis=-1).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(rows > 0, cells[..., 1] / np.where(rows > 0, rows, 1.0), np.nan)


def _replicated(cells: np.ndarray, bootstrap: BootstrapSettings) -> np.ndarray:
    """``(1 + resamples, *cells.shape)``: the observed cells first, then every resample's."""
    drawn = cell_replicates(cells, bootstrap.resamples, bootstrap.seed)
    return np.concatenate([cells[None, ...].astype(np.int64), drawn], axis=0)


def _held(bound: float | None, value: float, widen: Any) -> float | None:
    """A percentile bound moved out to the value when the resamples' bias leaves the value outside.

    The ratio of the lowest to the highest group rate is biased downwards in
    resamples (noise lowers a minimum and raises a maximum): with equal rates its
    percentile interval can lie wholly below the observed ratio.  The interval
    recorded always holds the value it qualifies.
    """
    return None if bound is None or not np.isfinite(value) else float(widen(bound, value))


def _values(
    family: MonitoredFamily,
    metric: str,
    subjects: list[str],
    series: np.ndarray,
    bootstrap: BootstrapSettings,
    limit: AlertLimit | None,
) -> list[MonitoredValue]:
    """One value per subject from ``series[0]`` (observed) and its resamples ``series[1:]``."""
    intervals = percentile_intervals(series[1:].T.reshape(len(subjects), -1), bootstrap.confidence)
    return [
        MonitoredValue(
            horizon="decision_time",
            family=family,
            metric=metric,
            subject=subject,
            value=float(series[0, i]),
            low=_held(interval["low"], float(series[0, i]), min),
            high=_held(interval["high"], float(series[0, i]), max),
            warn=None if limit is None else limit.warn,
            critical=None if limit is None else limit.critical,
            direction="min" if limit is None else limit.direction,
        )
        for i, (subject, interval) in enumerate(zip(subjects, intervals, strict=True))
    ]


def decision_mix(
    favorable: np.ndarray,
    sensitive: pd.DataFrame,
    report_only: Mapping[str, Collection[str]],
    limits: DecisionTimeMonitoring,
    bootstrap: BootstrapSettings,
) -> list[MonitoredValue]:
    """Approval rate overall and per group, and the four-fifths ratio of every attribute.

    Parameters
    ----------
    favorable
        The favourable decision per application (True = approved).
    sensitive
        The sensitive attributes of the same rows (small groups already merged).
    report_only
        Per attribute, the groups reported but left out of the ratio.
    limits
        ``monitoring.decision_time`` (its ``demographic_parity_ratio``).
    bootstrap
        ``evaluation.bootstrap``.

    Returns
    -------
    list of MonitoredValue
        ``approval_rate`` overall and per ``attribute=group``, then ``demographic_parity_ratio``
        per attribute, each with its bootstrap interval.

    Raises
    ------
    BadInputError
        the decisions and the attributes are not the same rows.
    """
    approved = np.asarray(favorable, dtype=bool)
    if len(approved) != len(sensitive):
        raise BadInputError(ERR_LENGTH.format(what="decision mix", found=len(approved), rows=len(sensitive)))
    overall = _replicated(_cells(np.zeros(len(approved), dtype=np.int64), approved, 1), bootstrap)
    values = _values("decisions", "approval_rate", ["overall"], _share(overall), bootstrap, None)
    for attribute in sensitive.columns:
        codes, names = group_codes(sensitive[attribute])
        replicated = _replicated(_cells(codes, approved, len(names)), bootstrap)
        rates = _share(replicated)
        subjects = [f"{attribute}={name}" for name in names]
        values += _values("decisions", "approval_rate", subjects, rates, bootstrap, None)
        gated = [i for i, name in enumerate(names) if name not in set(report_only.get(attribute, ()))]
        gated_rates = rates[:, gated]
        with np.errstate(divide="ignore", invalid="ignore"):
            highest = gated_rates.max(axis=1)
            ratio = np.where(highest > 0, gated_rates.min(axis=1) / np.where(highest > 0, highest, 1.0), np.nan)
        values += _values(
            "ethical", "demographic_parity_ratio", [str(attribute)], ratio[:, None], bootstrap,
            limits.demographic_parity_ratio,
        )  # fmt: skip
    return values


def shadow_disagreement(
    champion: np.ndarray,
    shadow: np.ndarray,
    shadow_version: str,
    sensitive: pd.DataFrame,
    limits: DecisionTimeMonitoring,
    bootstrap: BootstrapSettings,
) -> list[MonitoredValue]:
    """The share of rows a shadow decides differently from the champion, overall and per group.

    Parameters
    ----------
    champion
        The champion's favourable decisions.
    shadow
        The shadow's favourable decisions on the same rows.
    shadow_version
        The shadow's model version (subjects read ``v<version>/<group>``).
    sensitive
        The sensitive attributes of the rows (small groups already merged).
    limits
        ``monitoring.decision_time`` (its ``shadow_disagreement``).
    bootstrap
        ``evaluation.bootstrap``.

    Returns
    -------
    list of MonitoredValue
        ``shadow_disagreement`` overall and per ``attribute=group``, with bootstrap intervals.

    Raises
    ------
    BadInputError
        the two models' decisions or the attributes are not the same rows.
    """
    served, waiting = np.asarray(champion, dtype=bool), np.asarray(shadow, dtype=bool)
    for what, rows in (("shadow", len(waiting)), ("sensitive attributes", len(sensitive))):
        if rows != len(served):
            raise BadInputError(ERR_LENGTH.format(what=what, found=rows, rows=len(served)))
    differ = served != waiting
    limit = limits.shadow_disagreement
    overall = _replicated(_cells(np.zeros(len(differ), dtype=np.int64), differ, 1), bootstrap)
    prefix = f"v{shadow_version}/"
    values = _values("shadow", "shadow_disagreement", [prefix + "overall"], _share(overall), bootstrap, limit)
    for attribute in sensitive.columns:
        codes, names = group_codes(sensitive[attribute])
        shares = _share(_replicated(_cells(codes, differ, len(names)), bootstrap))
        subjects = [f"{prefix}{attribute}={name}" for name in names]
        values += _values("shadow", "shadow_disagreement", subjects, shares, bootstrap, limit)
    return values
