"""The small-group policies of ``dataset.small_groups``, applied where sensitive groups are formed.

A group's name is ``str`` of its value (as the evaluation names groups), so a
policy naming ``1`` or ``"1"`` names the group of the value ``1``.  Merging
replaces the named groups' values by the ``into`` name; every place that forms
groups from a sensitive column (training's sensitive features and group
reweighing, the evaluation's partition, hence the gate) goes through
:func:`merge_small_groups`.  The audit plans its group checks from the same
policy (:func:`policy_groups`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from pipelines.core.config import DatasetSettings, SmallGroupPolicy

POLICY_KEYS = "dataset.small_groups.{attribute}: merge ({{into, groups}}) or report_only ([groups]), with a reason"


def merge_small_groups(sensitive: pd.DataFrame, small_groups: Mapping[str, SmallGroupPolicy]) -> pd.DataFrame:
    """Return ``sensitive`` with every merged group's values replaced by the name it is merged into.

    Columns without a merge are returned as they are (same values, same dtype);
    a merged column holds every value's name (``str``, as the evaluation names
    groups) with the merged ones replaced by the ``into`` name.  Missing values
    stay missing.
    """
    merged = sensitive
    for attribute, policy in small_groups.items():
        into = policy.merged_into
        if not into or attribute not in sensitive.columns:
            continue
        column = sensitive[attribute]
        names = column.map(lambda value: None if pd.isna(value) else str(value), na_action="ignore")
        replace = names.isin(list(into))
        if not bool(replace.any()):
            continue
        if merged is sensitive:
            merged = sensitive.copy()
        # every value by its name, so a group merged into an existing one (2 into "1") is one group
        merged[attribute] = names.astype(object).where(~replace, names.map(into))
    return merged


def merged_values(values: Iterable[Any], policy: SmallGroupPolicy | None) -> dict[str, list[Any]]:
    """The groups formed from an attribute's distinct values: group name -> the values it holds, by name."""
    into = policy.merged_into if policy is not None else {}
    groups: dict[str, list[Any]] = {}
    for value in values:
        name = str(value)
        groups.setdefault(into.get(name, name), []).append(value)
    return groups


def policy_groups(dataset: DatasetSettings, attribute: str) -> SmallGroupPolicy | None:
    """The policy of ``attribute`` (None without one)."""
    return dataset.small_groups.get(attribute)


def policy_summary(dataset: DatasetSettings) -> dict[str, Any]:
    """Every attribute's policy as plain data (what runs and model cards record); empty without any."""
    return {attribute: policy.model_dump(mode="json") for attribute, policy in dataset.small_groups.items()}


def policy_line(dataset: DatasetSettings) -> str:
    """The policies in one line for a run tag: ``none`` without any."""
    summary = policy_summary(dataset)
    return json.dumps(summary, sort_keys=True, ensure_ascii=False) if summary else "none"


def loosened_small_groups(before: Mapping[str, Any], dataset: DatasetSettings) -> list[tuple[str, Any, Any]]:
    """Every policy of ``dataset.small_groups`` looser than ``before`` (as :func:`policy_summary` recorded it).

    Looser is a group reported and no longer gated that was gated before, or a
    merge that was not there before (a merge can hide a group inside another):
    ``(dotted key, before, now)``.  Dropping a policy is never looser: its small
    groups block at the audit again.
    """
    loosened: list[tuple[str, Any, Any]] = []
    for attribute, policy in dataset.small_groups.items():
        old = before.get(attribute)
        old = old if isinstance(old, Mapping) else {}
        old_reported = sorted(str(group) for group in old.get("report_only") or [])
        if set(policy.report_only) - set(old_reported):
            key = f"dataset.small_groups.{attribute}.report_only"
            loosened.append((key, old_reported or "none", sorted(policy.report_only)))
        old_merged = {
            str(group): str(merge.get("into"))
            for merge in old.get("merge") or []
            if isinstance(merge, Mapping)
            for group in merge.get("groups") or []
        }
        if any(old_merged.get(group) != into for group, into in policy.merged_into.items()):
            key = f"dataset.small_groups.{attribute}.merge"
            loosened.append((key, old_merged or "none", policy.merged_into))
    return loosened
