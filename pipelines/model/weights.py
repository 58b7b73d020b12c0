"""Class weights from ``beta_factor``: the effective number of samples, exact in float64.

The weight of class ``c`` with ``n_c`` training samples is proportional to
``(1 - beta) / (1 - beta**n_c)`` (Cui et al., CVPR 2019).  ``beta = 0`` gives
equal weights; ``beta -> 1`` tends to inverse class frequency and ``beta = 1``
is that limit, not 0/0.

Normalisation: the per-sample weights average to one over the training set
(``sum_c n_c * w_c = N`` up to float64 rounding), so the loss scale does not
move with ``beta``.  Nothing here is ever rounded: C07 began with
``round(w, 3)``.

Optional Kamiran–Calders reweighing of sensitive groups (switch
``training.reweigh_sensitive``): the rows of cell (group g, label y) are
weighted by ``P(g) P(y) / P(g, y)``, which makes group and label independent
in the weighted training set.  It is combined multiplicatively with the class
weight, and the product is renormalised to average one.  ``g`` is the
intersection of every configured sensitive attribute.

:mod:`pipelines.model.weights_reference` recomputes all of this at 50 digits with a
per-sample loop; the training stage checks the weights the estimator actually
received against it.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pipelines.core.errors import BadInputError

ERR_BETA = "beta_factor must be a number in [0, 1], found {beta!r}"
ERR_EMPTY = "class weights need at least one training label, found none"
ERR_SINGLE_CLASS = "class weights need at least two classes in the training labels, found only {label!r}"
ERR_NULL_LABEL = "training labels contain {count} missing value(s)"
ERR_ABSENT_CLASS = (
    "class {label!r} is absent from the training window (found classes {found}): "
    "its weight is undefined, widen the window or check the data"
)
ERR_UNEXPECTED_CLASS = "training labels hold class(es) {labels} outside the expected classes {expected}"
ERR_NULL_GROUP = (
    "sensitive column {column!r} has {count} missing value(s): Kamiran-Calders reweighing needs every row's group"
)
ERR_GROUP_ROWS = "groups must hold one row per label: expected {expected} rows, found {found}"


def _validate_beta(beta: float) -> float:
    try:
        value = float(beta)
    except (TypeError, ValueError) as e:
        raise BadInputError(ERR_BETA.format(beta=beta)) from e
    if math.isnan(value) or not 0.0 <= value <= 1.0:
        raise BadInputError(ERR_BETA.format(beta=beta))
    return value


def effective_number_factor(count: int, beta: float) -> float:
    """Return ``(1 - beta) / (1 - beta**count)`` for ``count >= 1``, stably.

    ``1 - beta**n`` is computed as ``-expm1(n * log(beta))`` with ``log(beta)``
    taken as ``log1p(beta - 1)`` for ``beta >= 0.5`` (where ``beta - 1`` is exact),
    so nothing cancels when ``beta`` is close to one; ``beta = 1`` returns ``1 / n``.
    """
    if count < 1:
        raise BadInputError(f"a class count must be >= 1, found {count}")
    beta = _validate_beta(beta)
    if beta == 0.0:
        return 1.0
    if beta == 1.0:
        return 1.0 / count
    log_beta = math.log1p(beta - 1.0) if beta >= 0.5 else math.log(beta)
    return (1.0 - beta) / -math.expm1(count * log_beta)


def class_counts(labels: Any) -> dict[Hashable, int]:
    """Count training labels per class, in sorted class order."""
    series = pd.Series(np.asarray(labels) if not isinstance(labels, pd.Series) else labels)
    if len(series) == 0:
        raise BadInputError(ERR_EMPTY)
    missing = int(series.isna().sum())
    if missing:
        raise BadInputError(ERR_NULL_LABEL.format(count=missing))
    counts = series.value_counts(sort=False)
    ordered = sorted(counts.index.tolist(), key=_sort_key)
    return {label: int(counts[label]) for label in ordered}


def _sort_key(value: Any) -> tuple[str, Any]:
    return (str(type(value)), value)


def _check_classes(counts: Mapping[Hashable, int], classes: Any) -> None:
    if classes is None:
        return
    expected = sorted(classes, key=_sort_key)
    for label in expected:
        if label not in counts:
            raise BadInputError(ERR_ABSENT_CLASS.format(label=label, found=list(counts)))
    unexpected = [label for label in counts if label not in set(expected)]
    if unexpected:
        raise BadInputError(ERR_UNEXPECTED_CLASS.format(labels=unexpected, expected=expected))


def class_weights(labels: Any, beta: float, classes: Any = None) -> dict[Hashable, float]:
    """Return the weight of each class, normalised so sample weights average to one.

    Parameters
    ----------
    labels : array-like
        The training labels (integers, strings or booleans; pandas or numpy).
    beta : float
        ``beta_factor`` in [0, 1].
    classes : iterable, optional
        The classes the model must learn; each must be present in ``labels``
        (a class absent from the training window is an error, not weight 0).

    Returns
    -------
    dict
        Class label to float64 weight, never rounded.
    """
    beta = _validate_beta(beta)
    counts = class_counts(labels)
    _check_classes(counts, classes)
    if len(counts) < 2:
        raise BadInputError(ERR_SINGLE_CLASS.format(label=next(iter(counts))))
    factors = {label: effective_number_factor(n, beta) for label, n in counts.items()}
    total = sum(counts.values())
    scale = total / math.fsum(counts[label] * factors[label] for label in counts)
    return {label: factors[label] * scale for label in counts}


def sample_weights(labels: Any, weights: Mapping[Hashable, float]) -> np.ndarray:
    """Map each label to its class weight (vectorised, float64)."""
    values = np.asarray(labels)
    classes = list(weights)
    lookup = np.array([weights[c] for c in classes], dtype=np.float64)
    codes = pd.Categorical(values, categories=classes).codes
    if (codes < 0).any():
        unknown = sorted({str(v) for v in values[codes < 0]})
        raise BadInputError(f"labels without a class weight: {', '.join(unknown)}")
    return lookup[codes]


Cell = tuple[tuple[Any, ...], Hashable]


@dataclass(frozen=True)
class TrainingWeights:
    """The per-cell weights a training set receives, and the counts they came from.

    A cell is ``(group, label)``; without reweighing the group is ``()`` and
    each cell is a class.  ``cell_weights`` are the per-sample weights.
    """

    beta_factor: float
    class_counts: dict[Hashable, int]
    class_weights: dict[Hashable, float]
    group_columns: tuple[str, ...]
    cell_counts: dict[Cell, int]
    cell_weights: dict[Cell, float]


def _group_frame(groups: pd.DataFrame | None, rows: int) -> pd.DataFrame | None:
    if groups is None or groups.shape[1] == 0:
        return None
    if len(groups) != rows:
        raise BadInputError(ERR_GROUP_ROWS.format(expected=rows, found=len(groups)))
    for column in groups.columns:
        missing = int(groups[column].isna().sum())
        if missing:
            raise BadInputError(ERR_NULL_GROUP.format(column=column, count=missing))
    return groups.reset_index(drop=True)


def _key_columns(labels: pd.Series, groups: pd.DataFrame) -> list[np.ndarray]:
    return [groups[column].to_numpy() for column in groups.columns] + [labels.to_numpy()]


def _combined_codes(columns: list[np.ndarray], categories: list[list[Any]]) -> np.ndarray:
    """One integer per row for its (group..., label) combination; -1 when a value is unknown."""
    codes = [
        pd.Categorical(values, categories=cats).codes.astype(np.int64)
        for values, cats in zip(columns, categories, strict=True)
    ]
    unknown = np.zeros(len(columns[0]), dtype=bool)
    for column_codes in codes:
        unknown |= column_codes < 0
    combined = np.ravel_multi_index(
        [np.where(unknown, 0, c) for c in codes], tuple(max(len(cats), 1) for cats in categories)
    )
    return np.where(unknown, -1, combined)


def _native(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def training_weights(
    labels: Any, beta: float, groups: pd.DataFrame | None = None, classes: Any = None
) -> TrainingWeights:
    """Class weights from ``beta``, times Kamiran–Calders group weights when ``groups`` is given.

    Parameters
    ----------
    labels : array-like
        The training labels.
    beta : float
        ``beta_factor`` in [0, 1].
    groups : DataFrame, optional
        The sensitive columns of the same rows; their intersection is the group.
        ``None`` (or no columns) means no group reweighing.
    classes : iterable, optional
        The classes that must be present (see :func:`class_weights`).

    Returns
    -------
    TrainingWeights
        Per-cell float64 weights, never rounded, averaging one per sample.
    """
    series = labels if isinstance(labels, pd.Series) else pd.Series(np.asarray(labels))
    series = series.reset_index(drop=True)
    weights = class_weights(series, beta, classes)
    counts = class_counts(series)
    grouped = _group_frame(groups, len(series))
    if grouped is None:
        cell_counts: dict[Cell, int] = {((), label): n for label, n in counts.items()}
    else:
        columns = _key_columns(series, grouped)
        categories = [sorted(pd.unique(values).tolist(), key=_sort_key) for values in columns]
        sizes = np.bincount(_combined_codes(columns, categories), minlength=math.prod(len(c) for c in categories))
        shape = tuple(len(c) for c in categories)
        cell_counts = {}
        for flat in np.flatnonzero(sizes).tolist():
            position = np.unravel_index(flat, shape)
            values = tuple(_native(categories[i][int(position[i])]) for i in range(len(categories)))
            cell_counts[(values[:-1], values[-1])] = int(sizes[flat])
    if grouped is None:
        cell_weights = {cell: weights[cell[1]] for cell in cell_counts}
    else:
        total = len(series)
        group_sizes: dict[tuple[Any, ...], int] = {}
        for (group, _), n in cell_counts.items():
            group_sizes[group] = group_sizes.get(group, 0) + n
        # P(g) P(y) / P(g, y) = n_g n_y / (N n_gy): exact integers, one correctly rounded division
        combined = {
            cell: weights[cell[1]] * (group_sizes[cell[0]] * counts[cell[1]] / (total * n))
            for cell, n in cell_counts.items()
        }
        scale = total / math.fsum(cell_counts[cell] * combined[cell] for cell in cell_counts)
        cell_weights = {cell: combined[cell] * scale for cell in cell_counts}
    return TrainingWeights(
        beta_factor=_validate_beta(beta),
        class_counts=counts,
        class_weights=weights,
        group_columns=tuple(grouped.columns) if grouped is not None else (),
        cell_counts=cell_counts,
        cell_weights=cell_weights,
    )


def per_sample_weights(plan: TrainingWeights, labels: Any, groups: pd.DataFrame | None = None) -> np.ndarray:
    """Each row's weight from its cell (vectorised, float64)."""
    series = labels if isinstance(labels, pd.Series) else pd.Series(np.asarray(labels))
    series = series.reset_index(drop=True)
    if not plan.group_columns:
        return sample_weights(series.to_numpy(), plan.class_weights)
    grouped = _group_frame(groups, len(series))
    if grouped is None:
        raise BadInputError(f"these weights reweigh groups {list(plan.group_columns)}: pass their columns")
    grouped = grouped[list(plan.group_columns)]
    cells = list(plan.cell_weights)
    categories = [
        sorted({cell[0][i] for cell in cells}, key=_sort_key) for i in range(len(plan.group_columns))
    ] + [sorted({cell[1] for cell in cells}, key=_sort_key)]
    shape = tuple(len(c) for c in categories)
    lookup = np.full(math.prod(shape) + 1, np.nan)  # the last slot answers code -1 (unknown)
    for cell in cells:
        position = [categories[i].index(v) for i, v in enumerate((*cell[0], cell[1]))]
        lookup[np.ravel_multi_index(position, shape)] = plan.cell_weights[cell]
    codes = _combined_codes(_key_columns(series, grouped), categories)
    weights = lookup[codes]
    if np.isnan(weights).any():
        raise BadInputError(f"{int(np.isnan(weights).sum())} row(s) fall in a (group, label) cell without a weight")
    return weights


def weights_fingerprint(weights_vector: np.ndarray) -> str:
    """SHA-256 of the exact bytes of a float64 sample-weight vector."""
    contiguous = np.ascontiguousarray(weights_vector, dtype=np.float64)
    return hashlib.sha256(contiguous.tobytes()).hexdigest()


def exact_repr(weights: Mapping[Hashable, float]) -> dict[str, str]:
    """Class weights as ``float.hex`` strings: the full-precision form that is logged."""
    return {str(label): float(value).hex() for label, value in weights.items()}
