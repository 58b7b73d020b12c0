"""Drift of a batch against its reference: per feature, the label, and every sensitive group.

For each feature the reference also holds:

- numeric: the two-sample Kolmogorov-Smirnov statistic (exact, from the
  sorted distinct values of each side), with the Wasserstein distance scaled
  by the reference's interquartile range as evidence;
- categorical: the population stability index over the union of categories
  (a pseudo count keeps a new or vanished category finite), with the
  Jensen-Shannon distance and the categories that moved most as evidence;
- the label: the change of the positive-label rate;
- each sensitive attribute: the change of every group's share of rows.

Each statistic has a warning bound and a blocking bound (``audit.drift`` in
``fairgate.yaml``), and counts only beyond what sampling noise alone reaches
at ``audit.drift.significance``: a small batch is not blocked for being
small.  Everything is computed from the encodings of :mod:`pipelines.data.columns`
(histograms per distinct value), never row by row.  Columns that cannot be
compared (dates, a kind that changed, no values on one side) are named in the
notes, never skipped silently.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pipelines.core.config import DatasetSettings, DriftSettings
from pipelines.core.findings import Finding, Severity
from pipelines.data import statistics
from pipelines.data.audit_values import native
from pipelines.data.columns import EncodedColumn, EncodedFrame

logger = logging.getLogger(__name__)

NOTE_DATES = "drift: {columns}: dates, not compared (decision times move by nature; freshness checks them)"
NOTE_KINDS = "drift: {column}: {reference_kind} in the reference, {kind} here: not compared (column_type reports it)"
NOTE_EMPTY = "drift: {column}: no values {where}: not compared (null_share reports it)"
NOTE_NO_LABEL = "drift: label {target!r}: no labelled rows {where}: rate not compared"
_MOVES_SHOWN = 3


@dataclass(frozen=True)
class DriftStatistic:
    """One drift statistic with the bounds it was judged against.

    Attributes
    ----------
    column : str
        The column measured.
    statistic : str
        ``ks``, ``psi``, ``label_rate_shift`` or ``group_share_shift``.
    value : float
        The statistic.
    warn, block : float
        The configured bounds.
    noise : float
        What sampling alone reaches at the configured significance.
    severity : str or None
        ``block``, ``warn`` or None (within bounds).
    detail : dict
        JSON-ready evidence.
    """

    column: str
    statistic: str
    value: float
    warn: float
    block: float
    noise: float
    severity: Severity | None
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (one row of the report's drift table)."""
        return {
            "column": self.column,
            "statistic": self.statistic,
            "value": self.value,
            "warn": self.warn,
            "block": self.block,
            "noise": self.noise,
            "severity": self.severity,
            "detail": self.detail,
        }


@dataclass
class DriftResult:
    """The drift findings, every statistic measured, and what could not be compared."""

    findings: list[Finding] = field(default_factory=list)
    statistics: list[DriftStatistic] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _judge(value: float, warn: float, block: float, noise: float) -> Severity | None:
    if value > max(block, noise):
        return "block"
    if value > max(warn, noise):
        return "warn"
    return None


def _bound_text(stat: DriftStatistic) -> str:
    bound = stat.block if stat.severity == "block" else stat.warn
    return f"at most {bound:g} (or the {stat.noise:.3g} sampling noise reaches)"


def measure_drift(
    batch: EncodedFrame,
    reference: EncodedFrame,
    features: Sequence[str],
    dataset: DatasetSettings,
    settings: DriftSettings,
) -> DriftResult:
    """Compare the batch with its reference: features, label rate, sensitive groups.

    Parameters
    ----------
    batch, reference : EncodedFrame
        The data checked and the data it is compared with.
    features : sequence of str
        The columns compared one by one (present in both frames).
    dataset : DatasetSettings
        ``target``, ``positive_label`` and ``sensitive``.
    settings : DriftSettings
        Bounds and significance.

    Returns
    -------
    DriftResult
        One finding per statistic beyond its bounds, every statistic, notes.
    """
    result = DriftResult()
    dates: list[str] = []
    for name in features:
        column, base = batch[name], reference[name]
        if column.kind == "datetime" and base.kind == "datetime":
            dates.append(name)
            continue
        if column.kind != base.kind:
            result.notes.append(NOTE_KINDS.format(column=name, reference_kind=base.kind, kind=column.kind))
            continue
        empty = [where for where, side in (("in the reference", base), ("here", column)) if side.present == 0]
        if empty:
            result.notes.append(NOTE_EMPTY.format(column=name, where=" and ".join(empty)))
            continue
        if column.kind == "numeric":
            result.statistics.append(_numeric(name, column, base, settings))
        elif column.kind == "categorical":
            result.statistics.append(_categorical(name, column, base, settings))
        else:
            result.notes.append(NOTE_KINDS.format(column=name, reference_kind=base.kind, kind=column.kind))
    if dates:
        result.notes.append(NOTE_DATES.format(columns=", ".join(dates)))
    label = _label(batch, reference, dataset, settings, result.notes)
    if label is not None:
        result.statistics.append(label)
    for name in dataset.sensitive:
        group = _groups(name, batch[name], reference[name], settings)
        if group is not None:
            result.statistics.append(group)
    result.findings = [_finding(stat) for stat in result.statistics if stat.severity is not None]
    logger.info("drift: %d statistics, %d beyond their bounds", len(result.statistics), len(result.findings))
    return result


# --------------------------------------------------------------------------- per statistic


def _quantile(values: np.ndarray, counts: np.ndarray, probability: float) -> float:
    """Return the lower empirical quantile from sorted distinct values and their counts."""
    cumulative = np.cumsum(counts)
    position = int(np.searchsorted(cumulative, probability * cumulative[-1], side="left"))
    return float(values[min(position, len(values) - 1)])


def _numeric(name: str, column: EncodedColumn, base: EncodedColumn, settings: DriftSettings) -> DriftStatistic:
    values, counts = column.sorted_uniques, column.sorted_counts
    ref_values, ref_counts = base.sorted_uniques, base.sorted_counts
    ks, wasserstein = statistics.ks_wasserstein(values, counts, ref_values, ref_counts)
    ref_values_f = np.asarray(ref_values, dtype=np.float64)
    iqr = _quantile(ref_values_f, ref_counts, 0.75) - _quantile(ref_values_f, ref_counts, 0.25)
    noise = statistics.ks_noise(column.present, base.present, settings.significance)
    detail = {
        "ks": ks,
        "wasserstein": wasserstein,
        "wasserstein_over_reference_iqr": wasserstein / iqr if iqr > 0 else None,
        "median": _quantile(np.asarray(values, dtype=np.float64), counts, 0.5),
        "reference_median": _quantile(ref_values_f, ref_counts, 0.5),
        "rows": column.present,
        "reference_rows": base.present,
    }
    return DriftStatistic(
        name, "ks", ks, settings.ks_warn, settings.ks_block, noise,
        _judge(ks, settings.ks_warn, settings.ks_block, noise), detail,
    )  # fmt: skip


def _aligned(column: EncodedColumn, base: EncodedColumn) -> tuple[pd.Index, np.ndarray, np.ndarray]:
    here = column.value_counts()
    there = base.value_counts()
    categories = there.index.append(here.index.difference(there.index, sort=False))
    counts = here.reindex(categories, fill_value=0).to_numpy(dtype=np.int64)
    reference_counts = there.reindex(categories, fill_value=0).to_numpy(dtype=np.int64)
    return categories, counts, reference_counts


def _categorical(name: str, column: EncodedColumn, base: EncodedColumn, settings: DriftSettings) -> DriftStatistic:
    categories, counts, reference_counts = _aligned(column, base)
    value = statistics.psi(counts, reference_counts, settings.pseudo_count)
    noise = statistics.psi_noise(len(categories), column.present, base.present, settings.significance)
    shares = counts / counts.sum()
    reference_shares = reference_counts / reference_counts.sum()
    moved = np.argsort(-np.abs(shares - reference_shares), kind="stable")[:_MOVES_SHOWN]
    detail = {
        "psi": value,
        "js_distance": statistics.js_distance(counts, reference_counts),
        "categories": len(categories),
        "largest_moves": [
            {
                "value": native(categories[i]),
                "share": float(shares[i]),
                "reference_share": float(reference_shares[i]),
            }
            for i in moved
        ],
        "rows": column.present,
        "reference_rows": base.present,
    }
    return DriftStatistic(
        name, "psi", value, settings.psi_warn, settings.psi_block, noise,
        _judge(value, settings.psi_warn, settings.psi_block, noise), detail,
    )  # fmt: skip


def _positive_rate(column: EncodedColumn, positive: Any) -> tuple[float, int]:
    matches = [i for i, value in enumerate(column.uniques) if native(value) == positive]
    labelled = column.present
    positives = int(column.counts[matches[0]]) if matches else 0
    return (positives / labelled if labelled else float("nan")), labelled


def _label(
    batch: EncodedFrame,
    reference: EncodedFrame,
    dataset: DatasetSettings,
    settings: DriftSettings,
    notes: list[str],
) -> DriftStatistic | None:
    target, positive = dataset.target, native(dataset.positive_label)
    rate, rows = _positive_rate(batch[target], positive)
    reference_rate, reference_rows = _positive_rate(reference[target], positive)
    empty = [where for where, n in (("in the reference", reference_rows), ("here", rows)) if n == 0]
    if empty:
        notes.append(NOTE_NO_LABEL.format(target=target, where=" and ".join(empty)))
        return None
    shift = abs(rate - reference_rate)
    noise = statistics.share_noise(rate, reference_rate, rows, reference_rows, settings.significance)
    detail = {
        "positive_label": positive,
        "rate": rate,
        "reference_rate": reference_rate,
        "rows": rows,
        "reference_rows": reference_rows,
    }
    return DriftStatistic(
        target, "label_rate_shift", shift, settings.label_rate_shift_warn, settings.label_rate_shift_block,
        noise, _judge(shift, settings.label_rate_shift_warn, settings.label_rate_shift_block, noise), detail,
    )  # fmt: skip


def _groups(name: str, column: EncodedColumn, base: EncodedColumn, settings: DriftSettings) -> DriftStatistic | None:
    if column.present == 0 or base.present == 0:
        return None
    categories, counts, reference_counts = _aligned(column, base)
    shares = counts / counts.sum()
    reference_shares = reference_counts / reference_counts.sum()
    groups = []
    worst: tuple[float, float, Severity | None] = (0.0, 0.0, None)
    order = {"block": 2, "warn": 1, None: 0}
    for i, group in enumerate(categories):
        shift = abs(float(shares[i]) - float(reference_shares[i]))
        noise = statistics.share_noise(
            float(shares[i]), float(reference_shares[i]), column.present, base.present, settings.significance
        )
        severity = _judge(shift, settings.group_share_shift_warn, settings.group_share_shift_block, noise)
        groups.append(
            {
                "group": native(group),
                "share": float(shares[i]),
                "reference_share": float(reference_shares[i]),
                "shift": shift,
                "noise": noise,
                "severity": severity,
            }
        )
        if (order[severity], shift) > (order[worst[2]], worst[0]):
            worst = (shift, noise, severity)
    detail = {"groups": groups, "rows": column.present, "reference_rows": base.present}
    return DriftStatistic(
        name, "group_share_shift", worst[0], settings.group_share_shift_warn,
        settings.group_share_shift_block, worst[1], worst[2], detail,
    )  # fmt: skip


# --------------------------------------------------------------------------- findings


def _pct(share: float) -> str:
    return f"{100 * share:.1f}%"


def _finding(stat: DriftStatistic) -> Finding:
    detail = stat.detail
    severity: Severity = "block" if stat.severity == "block" else "warn"
    if stat.statistic == "ks":
        expected = (
            f"distribution of {stat.column!r} like the reference's (Kolmogorov-Smirnov statistic {_bound_text(stat)})"
        )
        found = (
            f"KS {stat.value:.3f}, median {detail['median']:.6g} against {detail['reference_median']:.6g} "
            "in the reference"
        )
        check = "drift"
    elif stat.statistic == "psi":
        expected = (
            f"distribution of {stat.column!r} like the reference's (population stability index {_bound_text(stat)})"
        )
        moves = ", ".join(
            f"{m['value']!r} {_pct(m['reference_share'])} -> {_pct(m['share'])}" for m in detail["largest_moves"]
        )
        found = f"PSI {stat.value:.3f}; largest moves {moves}"
        check = "drift"
    elif stat.statistic == "label_rate_shift":
        bound = stat.block if severity == "block" else stat.warn
        expected = (
            f"rate of {stat.column!r} == {detail['positive_label']!r} within {bound:g} of the reference's "
            f"{detail['reference_rate']:.4f} (or the {stat.noise:.3g} sampling noise reaches)"
        )
        found = f"{detail['rate']:.4f} (a shift of {stat.value:.4f})"
        check = "label_drift"
    else:
        bound = stat.block if severity == "block" else stat.warn
        expected = (
            f"share of every group of {stat.column!r} within {bound:g} of its reference share "
            "(or what sampling noise reaches)"
        )
        moved = [g for g in detail["groups"] if g["severity"] is not None]
        found = ", ".join(f"{g['group']!r} {_pct(g['reference_share'])} -> {_pct(g['share'])}" for g in moved)
        check = "group_share_drift"
    return Finding(
        check=check,
        severity=severity,
        columns=[stat.column],
        message=f"{expected}; found {found}",
        evidence={"statistic": stat.statistic, "value": stat.value, "noise": stat.noise, **detail},
    )


