"""Assembling an evaluation result: every metric's point and resampled values, and its count sections.

:class:`Measured` holds, for one model, the point estimate and the resampled
values of every interval-bearing metric (by its path in the result tree);
:func:`count_metrics` fills a result's ``business`` and ``ethical`` sections
(and the count-based technical metrics) from the model's confusion counts,
index 0 the holdout and every further index one resample.  The conventions
are documented in :mod:`pipelines.model.evaluate`, which assembles the rest.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipelines.core.config import DecisionSettings
from pipelines.model.holdout import Attribute, Partition
from pipelines.model.metrics import (
    BUSINESS_GROUP_VALUES,
    BUSINESS_VALUES,
    COUNT_TECHNICAL_METRICS,
    ETHICAL_METRICS,
    GROUP_RATES,
    MetricPath,
    attribute_counts,
    business_metrics,
    costs,
    disparities,
    group_rates,
    technical_count_metrics,
)

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


def finite_or_none(number: Any) -> float | None:
    """A plain float at full precision, or None when undefined (NaN/inf)."""
    value = float(number)
    return value if math.isfinite(value) else None


@dataclass
class Measured:
    """Every interval-bearing metric of one model: its point estimate and its resampled values."""

    points: dict[MetricPath, float | None]
    replicates: dict[MetricPath, np.ndarray]

    def add(self, path: MetricPath, point: Any, replicates: np.ndarray) -> None:
        """Record one metric: its point estimate (None when undefined) and its resampled values."""
        self.points[path] = finite_or_none(point)
        self.replicates[path] = np.asarray(replicates, dtype=np.float64)


def put(tree: dict[str, Any], path: MetricPath, value: Any) -> None:
    """Set ``value`` at ``path`` in a nested dict, creating the dicts on the way."""
    node = tree
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value


def group_sections(
    measured: Measured, attribute: Attribute, rates: dict[str, np.ndarray], group_costs: dict[str, np.ndarray]
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


def attribute_notes(
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


def ethical_section(
    measured: Measured, attribute: Attribute, rates: dict[str, np.ndarray], ethical_groups: dict[str, Any]
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
    notes = attribute_notes(gated_attribute, gated_rates, section["demographic_parity_ratio"] is None, single)
    if attribute.report_only:
        reported = [group for group in attribute.groups if group in attribute.report_only]
        section["report_only"] = {"groups": reported, "reason": attribute.report_only_reason}
        notes.append(NOTE_REPORT_ONLY.format(groups=reported, reason=attribute.report_only_reason))
    for note in notes:
        logger.warning("sensitive attribute %r: %s", attribute.name, note)
    section["notes"] = notes
    return section


def count_metrics(
    measured: Measured,
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
        business_groups, ethical_groups = group_sections(measured, attribute, rates, costs(per_group, decision))
        result["business"]["by_group"][attribute.name] = business_groups
        result["ethical"][attribute.name] = ethical_section(measured, attribute, rates, ethical_groups)
    for name in BUSINESS_VALUES:
        result["business"][name] = measured.points[("business", name)]
    # business keys in their documented order, by_group last
    result["business"] = {
        **{name: result["business"][name] for name in BUSINESS_VALUES},
        "by_group": result["business"]["by_group"],
    }
