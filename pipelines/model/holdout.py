"""The evaluation's inputs, validated: truth, probabilities, decisions, groups and a model's outputs.

Every entry point of :mod:`pipelines.model.evaluate` validates what it is
given here before anything is computed; each error message is a module
constant that says what was expected and what was found, raised as
:class:`~pipelines.core.errors.BadInputError`.

Groups are coded once for the whole holdout: every row gets its *joint*
group (the intersection of every sensitive attribute's value), and each
attribute (and, on request, the intersection ``"<a>+<b>"``) maps every joint
group to one of its own groups, named and sorted by the string of the value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pipelines.core.config import DatasetSettings, EvaluationSettings, SmallGroupPolicy
from pipelines.core.errors import BadInputError
from pipelines.core.small_groups import merge_small_groups

ERR_EMPTY = "nothing to evaluate: y_true has 0 rows"
ERR_LENGTH = "length mismatch: y_true has {expected} rows but {name} has {found}"
ERR_INDEX = (
    "y_true and {name} carry different pandas indexes: rows would be paired by position, "
    "not by label; align them (or reset both indexes) before evaluating"
)
ERR_LABEL_MISSING = "y_true has {count} missing values (NaN/None): every evaluated row needs a known outcome"
ERR_SINGLE_CLASS = (
    "y_true holds a single class {found}: evaluation needs both the positive label {positive!r} "
    "and another class"
)
ERR_TOO_MANY_CLASSES = "y_true must be binary: expected 2 classes, found {count}: {found}"
ERR_POSITIVE_ABSENT = "dataset.positive_label {positive!r} is not among the y_true classes {found}"
ERR_LABEL_SHAPE = "y_true must be one outcome per row (1-D), found shape {shape}"
ERR_PROBA_SHAPE = "{name} must be one probability per row (1-D), found shape {shape}"
ERR_PROBA_RANGE = (
    "{name} must hold finite probabilities in [0, 1]; found {count} values that are not, e.g. {example}"
)
ERR_SENSITIVE_TYPE = (
    "sensitive must be a pandas DataFrame (one column per attribute) or a Series, found {found}"
)
ERR_SENSITIVE_COLUMNS = (
    "sensitive must hold exactly the columns of dataset.sensitive {expected}, found {found}"
)
ERR_SENSITIVE_MISSING = (
    "sensitive attribute {attribute!r} has {count} missing values (NaN/None): every row needs a known group"
)
ERR_SENSITIVE_COLLISION = (
    "sensitive attribute {attribute!r} has values that do not map one-to-one to group names "
    "({found}): recode them"
)
ERR_INTERSECTION_COLLISION = (
    "the intersection {attribute!r} gives the same group name to different combinations "
    "({found}): recode groups that contain {separator!r}"
)
ERR_MODEL_PROBA = (
    "model.predict_proba returned shape {shape}, expected ({rows}, {classes}) for classes {labels}"
)
ERR_MODEL_CLASSES = "model.classes_ {found} does not contain dataset.positive_label {positive!r}"
ERR_MODEL_NO_CLASSES = (
    "model has no classes_ attribute: cannot tell which predict_proba column is {positive!r}"
)
ERR_DECISION_SHAPE = "{name} must be one decision per row (1-D), found shape {shape}"
ERR_DECISION_VALUES = "{name} must hold approvals as booleans or 0/1; found {count} other values, e.g. {example!r}"
ERR_CHAMPION_FEATURES = "champion_model and champion_features go together: give both or neither"

INTERSECTION_SEPARATOR = "+"


# --------------------------------------------------------------------------- truth, probabilities, decisions


def _labels_array(y_true: Any) -> tuple[np.ndarray, pd.Index | None]:
    if isinstance(y_true, pd.DataFrame):
        if y_true.shape[1] != 1:
            raise BadInputError(ERR_LABEL_SHAPE.format(shape=y_true.shape))
        y_true = y_true.iloc[:, 0]
    if isinstance(y_true, pd.Series):
        return y_true.to_numpy(), y_true.index
    values = np.asarray(y_true) if not isinstance(y_true, list) else np.asarray(y_true, dtype=object)
    if values.ndim != 1:
        raise BadInputError(ERR_LABEL_SHAPE.format(shape=values.shape))
    return values, None


def _is_positive(y_true: Any, positive_label: Any) -> tuple[np.ndarray, pd.Index | None]:
    """Validate ``y_true`` and return a boolean mask of the positive class and its index."""
    values, index = _labels_array(y_true)
    if len(values) == 0:
        raise BadInputError(ERR_EMPTY)
    codes, uniques = pd.factorize(values)
    missing = int(np.count_nonzero(codes < 0))
    if missing:
        raise BadInputError(ERR_LABEL_MISSING.format(count=missing))
    classes = list(np.asarray(uniques, dtype=object).tolist()) if len(uniques) else []
    found = "[" + ", ".join(sorted(repr(c) for c in classes)) + "]"
    if len(classes) == 1:
        raise BadInputError(ERR_SINGLE_CLASS.format(found=found, positive=positive_label))
    if len(classes) > 2:
        raise BadInputError(ERR_TOO_MANY_CLASSES.format(count=len(classes), found=found))
    matches = [i for i, label in enumerate(classes) if bool(label == positive_label)]
    if not matches:
        raise BadInputError(ERR_POSITIVE_ABSENT.format(positive=positive_label, found=found))
    return np.isin(codes, matches), index


def check_alignment(name: str, rows: int, index: pd.Index | None, other: Any) -> None:
    """Check that ``other`` has one entry per holdout row and, if it is pandas, the holdout's index.

    Parameters
    ----------
    name : str
        What ``other`` is, for the error message.
    rows : int
        Number of holdout rows.
    index : pandas.Index or None
        The index of ``y_true`` (None when it was not pandas).
    other : object
        Anything with a length; a pandas ``index`` is compared with ``index``.

    Raises
    ------
    BadInputError
        A different length, or a different pandas index.
    """
    found = len(other)
    if found != rows:
        raise BadInputError(ERR_LENGTH.format(expected=rows, name=name, found=found))
    other_index = getattr(other, "index", None)
    if index is not None and isinstance(other_index, pd.Index) and not index.equals(other_index):
        raise BadInputError(ERR_INDEX.format(name=name))


def validated_probabilities(
    p_positive: Any, rows: int, index: pd.Index | None, name: str = "p_positive"
) -> np.ndarray:
    """Return the probabilities as a 1-D float array, checked to be finite and in [0, 1].

    Parameters
    ----------
    p_positive : array-like
        Probability of the positive class per holdout row.
    rows : int
        Number of holdout rows.
    index : pandas.Index or None
        The index of ``y_true``.
    name : str, optional
        What the probabilities are, for the error message.

    Returns
    -------
    numpy.ndarray
        The probabilities, float64, unchanged.

    Raises
    ------
    BadInputError
        Misaligned, not 1-D, or a value that is not a finite probability.
    """
    check_alignment(name, rows, index, p_positive)
    probabilities = np.asarray(p_positive, dtype=float)
    if probabilities.ndim != 1:
        raise BadInputError(ERR_PROBA_SHAPE.format(name=name, shape=probabilities.shape))
    bad = ~(np.isfinite(probabilities) & (probabilities >= 0.0) & (probabilities <= 1.0))
    if bad.any():
        example = probabilities[bad][0]
        raise BadInputError(ERR_PROBA_RANGE.format(name=name, count=int(bad.sum()), example=example))
    return probabilities


def validated_decisions(approved: Any, rows: int, index: pd.Index | None, name: str) -> np.ndarray:
    """Return approval decisions as a boolean array, checked to be one boolean (or 0/1) per row.

    Parameters
    ----------
    approved : array-like
        The decision per holdout row: True (or 1) = approved.
    rows : int
        Number of holdout rows.
    index : pandas.Index or None
        The index of ``y_true``.
    name : str
        What the decisions are, for the error message.

    Returns
    -------
    numpy.ndarray
        Boolean array, True where approved.

    Raises
    ------
    BadInputError
        Misaligned, not 1-D, or a value other than a boolean, 0 or 1.
    """
    check_alignment(name, rows, index, approved)
    values = np.asarray(approved)
    if values.ndim != 1:
        raise BadInputError(ERR_DECISION_SHAPE.format(name=name, shape=values.shape))
    if values.dtype != np.bool_:
        bad = ~np.isin(values, [0, 1]) if values.dtype != object else ~np.array([v in (0, 1) for v in values])
        if bad.any():
            example = values[bad][0]
            example = example.item() if isinstance(example, np.generic) else example
            raise BadInputError(ERR_DECISION_VALUES.format(name=name, count=int(bad.sum()), example=example))
    return values.astype(bool)


# --------------------------------------------------------------------------- a model's outputs


def positive_column(model: Any, positive_label: Any) -> tuple[int, list[Any]]:
    """Return which ``predict_proba`` column is the positive label, and the model's classes.

    Parameters
    ----------
    model : object
        Fitted classifier with ``classes_``.
    positive_label : object
        ``dataset.positive_label``.

    Returns
    -------
    tuple of (int, list)
        The column index and ``classes_`` as a list.

    Raises
    ------
    BadInputError
        No ``classes_``, or the positive label is not exactly once in it.
    """
    classes = getattr(model, "classes_", None)
    if classes is None:
        raise BadInputError(ERR_MODEL_NO_CLASSES.format(positive=positive_label))
    labels = list(np.asarray(classes).tolist())
    matches = [i for i, label in enumerate(labels) if label == positive_label]
    if len(matches) != 1:
        raise BadInputError(ERR_MODEL_CLASSES.format(found=labels, positive=positive_label))
    return matches[0], labels


def predict_positive(model: Any, features: Any, column: int, labels: list[Any]) -> np.ndarray:
    """Return the model's probability of the positive class for every row of ``features``.

    Parameters
    ----------
    model : object
        Fitted classifier with ``predict_proba``.
    features : pandas.DataFrame or array-like
        The model's input rows.
    column : int
        The positive label's column (:func:`positive_column`).
    labels : list
        The model's classes.

    Returns
    -------
    numpy.ndarray
        One probability per row.

    Raises
    ------
    BadInputError
        ``predict_proba`` returned an array of the wrong shape.
    """
    proba = np.asarray(model.predict_proba(features), dtype=float)
    if proba.ndim != 2 or proba.shape != (len(features), len(labels)):
        raise BadInputError(
            ERR_MODEL_PROBA.format(shape=proba.shape, rows=len(features), classes=len(labels), labels=labels)
        )
    return proba[:, column]


# --------------------------------------------------------------------------- groups


@dataclass(frozen=True)
class Attribute:
    """One sensitive attribute (or the intersection): its group names and each joint group's group."""

    name: str
    groups: list[str]
    of_joint: np.ndarray  # joint group index -> index into ``groups``
    # groups reported but not gated (dataset.small_groups report_only; in the intersection, every
    # group one of whose parts is report_only in its attribute)
    report_only: frozenset[str] = frozenset()
    report_only_reason: str = ""  # the policy's reason (the intersection: each attribute's, by name)


@dataclass(frozen=True)
class Partition:
    """Rows coded by joint group (the intersection of every attribute) and the attributes over it."""

    joint: np.ndarray  # per row, in [0, joint_count)
    joint_count: int
    attributes: list[Attribute]


def _coded_attribute(column: pd.Series, attribute: str) -> tuple[np.ndarray, list[str]]:
    """Codes of one validated sensitive column, in the sorted order of the group names."""
    missing = int(column.isna().sum())
    if missing:
        raise BadInputError(ERR_SENSITIVE_MISSING.format(attribute=attribute, count=missing))
    codes, uniques = pd.factorize(column)  # observed values only (a categorical's unused levels are no group)
    raw = list(np.asarray(uniques, dtype=object).tolist())
    names = [str(value) for value in raw]
    if len(set(names)) != len(names):
        raise BadInputError(ERR_SENSITIVE_COLLISION.format(attribute=attribute, found=sorted(set(names))))
    order = sorted(range(len(names)), key=lambda i: names[i])
    rank = np.empty(len(names), dtype=np.int64)
    rank[order] = np.arange(len(names))
    return rank[codes], [names[i] for i in order]


def _sensitive_frame(sensitive: Any, attributes: list[str], rows: int, index: pd.Index | None) -> pd.DataFrame:
    """The sensitive input as a frame holding exactly the configured attributes, aligned with the holdout."""
    if isinstance(sensitive, pd.Series):
        sensitive = sensitive.to_frame()
    if not isinstance(sensitive, pd.DataFrame):
        raise BadInputError(ERR_SENSITIVE_TYPE.format(found=type(sensitive).__name__))
    check_alignment("sensitive", rows, index, sensitive)
    found = [str(c) for c in sensitive.columns]
    if sorted(found) != sorted(attributes) or len(set(found)) != len(found):
        raise BadInputError(ERR_SENSITIVE_COLUMNS.format(expected=list(attributes), found=found))
    return sensitive


def _intersection(
    attributes: list[Attribute], coded: list[tuple[np.ndarray, list[str]]], members: list[np.ndarray], present: int
) -> Attribute:
    """The intersection of every attribute, one group per joint group present, named ``"<x>+<y>"``.

    A group one of whose parts is report-only in its attribute is report-only.
    """
    name = INTERSECTION_SEPARATOR.join(attribute.name for attribute in attributes)
    labels = [
        INTERSECTION_SEPARATOR.join(
            names[int(member[j])] for (_codes, names), member in zip(coded, members, strict=True)
        )
        for j in range(present)
    ]
    reported = {
        labels[j]
        for j in range(present)
        if any(
            names[int(member[j])] in attribute.report_only
            for attribute, (_codes, names), member in zip(attributes, coded, members, strict=True)
        )
    }
    if len(set(labels)) != len(labels):
        repeated = sorted({label for label in labels if labels.count(label) > 1})
        raise BadInputError(
            ERR_INTERSECTION_COLLISION.format(attribute=name, found=repeated, separator=INTERSECTION_SEPARATOR)
        )
    order = sorted(range(len(labels)), key=lambda j: labels[j])
    rank = np.empty(len(labels), dtype=np.int64)
    rank[order] = np.arange(len(labels))
    reasons = "; ".join(f"{a.name}: {a.report_only_reason}" for a in attributes if a.report_only)
    return Attribute(
        name=name,
        groups=[labels[j] for j in order],
        of_joint=rank,
        report_only=frozenset(reported),
        report_only_reason=reasons if reported else "",
    )


def _attribute(name: str, groups: list[str], of_joint: np.ndarray, policy: SmallGroupPolicy | None) -> Attribute:
    """One attribute over the joint groups, its report-only groups (those present) marked."""
    reported = frozenset(policy.report_only) & set(groups) if policy is not None else frozenset()
    return Attribute(
        name=name,
        groups=groups,
        of_joint=of_joint,
        report_only=reported,
        report_only_reason=policy.reason if policy is not None and reported else "",
    )


def partition_groups(
    sensitive: Any,
    attributes: list[str],
    rows: int,
    index: pd.Index | None,
    intersection: bool,
    small_groups: Mapping[str, SmallGroupPolicy] | None = None,
) -> Partition:
    """Validate the sensitive frame; code every row by attribute, joint group and (optionally) intersection.

    Parameters
    ----------
    sensitive : pandas.DataFrame or pandas.Series
        Exactly the columns named in ``attributes``; no missing values.
    attributes : list of str
        ``dataset.sensitive``, in its order.
    rows : int
        Number of holdout rows.
    index : pandas.Index or None
        The index of ``y_true``.
    intersection : bool
        Add the intersection of the attributes (only with two or more).
    small_groups : mapping, optional
        ``dataset.small_groups``: merged groups are coded as one group, and
        report-only groups are marked on their attribute.

    Returns
    -------
    Partition
        The joint group of every row, and every attribute over the joint groups.

    Raises
    ------
    BadInputError
        Not pandas, misaligned, other columns, missing values, or group names that collide.
    """
    sensitive = _sensitive_frame(sensitive, attributes, rows, index)
    policies = dict(small_groups or {})
    sensitive = merge_small_groups(sensitive, policies)
    coded = [_coded_attribute(sensitive[attribute], attribute) for attribute in attributes]
    combined = np.zeros(rows, dtype=np.int64)
    for codes, names in coded:
        combined = combined * len(names) + codes
    present, joint = np.unique(combined, return_inverse=True)
    joint = joint.reshape(-1)
    members: list[np.ndarray] = []
    remainder = present.copy()
    for _codes, names in reversed(coded):
        remainder, member = np.divmod(remainder, len(names))
        members.append(member)
    members.reverse()
    result = [
        _attribute(attribute, names, member, policies.get(attribute))
        for attribute, (_codes, names), member in zip(attributes, coded, members, strict=True)
    ]
    if intersection and len(attributes) > 1:
        result.append(_intersection(result, coded, members, len(present)))
    return Partition(joint=joint.astype(np.int64), joint_count=len(present), attributes=result)


# --------------------------------------------------------------------------- the holdout


@dataclass(frozen=True)
class Holdout:
    """A validated holdout: truth, groups and what the decisions are measured against."""

    is_positive: np.ndarray
    index: pd.Index | None
    partition: Partition
    favourable_truth: np.ndarray


def validated_holdout(
    y_true: Any, sensitive: Any, dataset: DatasetSettings, evaluation: EvaluationSettings
) -> Holdout:
    """Validate the truth and the sensitive groups of a holdout.

    Parameters
    ----------
    y_true : pandas.Series or array-like
        True outcomes, two classes, one of them ``dataset.positive_label``.
    sensitive : pandas.DataFrame or pandas.Series
        Exactly the columns named in ``dataset.sensitive``; no missing values.
    dataset : DatasetSettings
        Positive label, whether it is favourable, sensitive attribute names.
    evaluation : EvaluationSettings
        Whether to add the intersection of the attributes.

    Returns
    -------
    Holdout
        The positive-class mask, the pandas index (or None), the group partition and
        the favourable truth per row.

    Raises
    ------
    BadInputError
        As :func:`pipelines.model.evaluate.compare_predictions` for ``y_true`` and ``sensitive``.
    """
    is_positive, index = _is_positive(y_true, dataset.positive_label)
    partition = partition_groups(
        sensitive, list(dataset.sensitive), len(is_positive), index, evaluation.intersection, dataset.small_groups
    )
    favourable = is_positive if dataset.positive_is_favorable else ~is_positive
    return Holdout(is_positive=is_positive, index=index, partition=partition, favourable_truth=favourable)
