"""An evaluation result as flat MLflow metrics and as a per-group table.

Both read a result of :mod:`pipelines.model.evaluate` and never round: a
value is copied as it is, an undefined one (None) becomes NaN.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

import pandas as pd

from pipelines.core.errors import BadInputError
from pipelines.model.metrics import MetricPath

ERR_METRIC_NAME_COLLISION = "metric names {first!r} and {second!r} both flatten to {name!r}: rename a group"

_GROUP_METRICS = ("rows", "approval_rate", "tpr", "fpr", "accuracy", "expected_cost")
_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9_\-]")


def _name_part(text: str) -> str:
    return _UNSAFE_NAME_CHARS.sub("_", str(text)) or "_"


def _scalars(section: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """The numbers (and Nones) directly in a section, booleans excluded."""
    return [
        (key, value)
        for key, value in section.items()
        if value is None or (isinstance(value, int | float) and not isinstance(value, bool))
    ]


def _leaves(result: Mapping[str, Any] | None) -> Iterator[tuple[str, MetricPath, Any]]:
    """Every scalar of a result as ``(flattened name, path in the result tree, value)``."""
    if not result:
        return
    for key, value in _scalars(result.get("technical", {})):
        yield f"technical.{key}", ("technical", key), value
    business = result.get("business", {})
    for key, value in _scalars(business):
        yield f"business.{key}", ("business", key), value
    for attribute, groups in business.get("by_group", {}).items():
        for group, values in groups.items():
            for key, value in _scalars(values):
                name = ".".join(["business", _name_part(attribute), _name_part(group), key])
                yield name, ("business", "by_group", attribute, group, key), value
    for attribute, section in result.get("ethical", {}).items():
        for key, value in _scalars(section):
            yield ".".join(["ethical", _name_part(attribute), key]), ("ethical", attribute, key), value
        for group, values in section.get("by_group", {}).items():
            for key, value in _scalars(values):
                name = ".".join(["ethical", _name_part(attribute), _name_part(group), key])
                yield name, ("ethical", attribute, "by_group", group, key), value


def _lookup(tree: Mapping[str, Any] | None, path: MetricPath) -> Any:
    """The node of a result, intervals or comparison tree at ``path`` (None when absent)."""
    node: Any = tree
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def flatten_metrics(result: dict[str, Any], evaluation: dict[str, Any] | None = None) -> dict[str, float]:
    """Flatten every number of a result (and of its comparison) into dotted, MLflow-valid names.

    Parameters
    ----------
    result : dict
        A model's result (:func:`pipelines.model.evaluate.evaluate_predictions`,
        :func:`pipelines.model.evaluate.evaluate_model`, or the ``candidate`` of
        :func:`pipelines.model.evaluate.compare_predictions` /
        :func:`pipelines.model.evaluate.evaluate_models`).
    evaluation : dict, optional
        The whole pair (``candidate``, ``champion``, ``comparison``): adds the champion's
        values and the paired differences, next to each metric.

    Returns
    -------
    dict of str to float
        Grouped by family: ``technical.<metric>``, ``business.<metric>``,
        ``business.<attr>.<group>.<metric>``, ``ethical.<attr>.<metric>`` and
        ``ethical.<attr>.<group>.<metric>``; for each metric with an interval also
        ``<name>.ci_low`` and ``<name>.ci_high``; with ``evaluation`` and a champion,
        ``<name>.champion`` (and its ``.ci_low``/``.ci_high``) and ``<name>.difference``
        (candidate minus champion, and its paired ``.ci_low``/``.ci_high``).  Undefined
        values (None) become NaN, which MLflow stores as NaN: nothing is silently dropped.
        Attribute and group names keep letters, digits, ``_`` and ``-``; any other
        character becomes ``_``.

    Raises
    ------
    BadInputError
        Two different metrics would get the same flattened name.
    """
    flat: dict[str, float] = {}
    origin: dict[str, str] = {}

    def put(name: str, value: Any, path: MetricPath, what: str = "") -> None:
        source = "/".join(path) + what
        if name in flat and origin[name] != source:
            problem = ERR_METRIC_NAME_COLLISION.format(first=origin[name], second=source, name=name)
            raise BadInputError(problem)
        flat[name] = math.nan if value is None else float(value)
        origin[name] = source

    def bounds(name: str, interval: Any, path: MetricPath, what: str) -> None:
        if isinstance(interval, Mapping):
            put(f"{name}.ci_low", interval.get("low"), path, f"{what}#ci_low")
            put(f"{name}.ci_high", interval.get("high"), path, f"{what}#ci_high")

    champion = evaluation.get("champion") if evaluation else None
    comparison = evaluation.get("comparison") if evaluation else None
    for name, path, value in _leaves(result):
        put(name, value, path)
        interval = _lookup(result.get("intervals"), path)
        bounds(name, interval, path, "")
        if interval is None:
            continue  # a count such as rows: no interval, nothing to compare
        if champion is not None:
            put(f"{name}.champion", _lookup(champion, path), path, "#champion")
            bounds(f"{name}.champion", _lookup(champion.get("intervals"), path), path, "#champion")
        difference = _lookup(comparison, path)
        if isinstance(difference, Mapping):
            put(f"{name}.difference", difference.get("difference"), path, "#difference")
            bounds(f"{name}.difference", difference, path, "#difference")
    return flat


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)


def _group_record(
    attribute: str, group: str, values: Mapping[str, Any], business: Mapping[str, Any], intervals: Mapping[str, Any]
) -> dict[str, Any]:
    """One row of :func:`per_group_table`: a group's rates, expected cost and their intervals."""
    record: dict[str, Any] = {
        "attribute": attribute,
        "group": group,
        "rows": int(values["rows"]),
        "approval_rate": _number(values["selection_rate"]),
        "tpr": _number(values["tpr"]),
        "fpr": _number(values["fpr"]),
        "accuracy": _number(values["accuracy"]),
        "expected_cost": _number(business["expected_cost"]),
    }
    sources = {
        "approval_rate": ("ethical", attribute, "by_group", group, "selection_rate"),
        "tpr": ("ethical", attribute, "by_group", group, "tpr"),
        "fpr": ("ethical", attribute, "by_group", group, "fpr"),
        "accuracy": ("ethical", attribute, "by_group", group, "accuracy"),
        "expected_cost": ("business", "by_group", attribute, group, "expected_cost"),
    }
    for column, path in sources.items():
        node: Any = intervals
        for part in path:
            node = node.get(part) if isinstance(node, Mapping) else None
        interval = node if isinstance(node, Mapping) else {}
        record[f"{column}_ci_low"] = _number(interval.get("low"))
        record[f"{column}_ci_high"] = _number(interval.get("high"))
    return record


def per_group_table(result: dict[str, Any]) -> pd.DataFrame:
    """Return one row per (attribute, group) with the per-group metrics of a result and their intervals.

    Parameters
    ----------
    result : dict
        A model's result.

    Returns
    -------
    pandas.DataFrame
        Columns ``attribute``, ``group``, ``rows``, ``approval_rate``, ``tpr``, ``fpr``,
        ``accuracy``, ``expected_cost``, then ``<metric>_ci_low`` and ``<metric>_ci_high``
        for each of the five rates; undefined values are NaN.
    """
    records: list[dict[str, Any]] = []
    business_groups = result["business"]["by_group"]
    intervals = result.get("intervals") or {}
    for attribute, section in result["ethical"].items():
        for group, values in section["by_group"].items():
            business = business_groups[attribute][group]
            records.append(_group_record(attribute, group, values, business, intervals))
    columns = ["attribute", "group", *_GROUP_METRICS]
    columns += [f"{c}_ci_{side}" for c in _GROUP_METRICS[1:] for side in ("low", "high")]
    table = pd.DataFrame.from_records(records, columns=columns)
    return table.astype({"rows": "int64"})
