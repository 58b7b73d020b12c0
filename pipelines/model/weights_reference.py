"""The reference the training weights are checked against: 50 digits, one row at a time.

This module deliberately shares no code with :mod:`pipelines.model.weights`: it
counts with a plain loop, computes ``(1 - beta) / (1 - beta**n)`` and the
Kamiran–Calders factor in :class:`decimal.Decimal` at :data:`PRECISION`
significant digits from the exact binary value of ``beta``, and rounds to
float64 once, at the end.  A fault in the fast code (rounding, a forgotten
``beta``, a class dropped by a shortcut) cannot also be in here.

:func:`check_received_weights` is the run-time check of the training stage:
the per-sample weights the estimator actually received must be within
:data:`MAX_ULP` units in the last place of this reference, row by row.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Any

import numpy as np

PRECISION = 50
# float64 evaluation of the formula (log1p, expm1, a division and a normalising
# sum) stays within a few ulp of the exact value; the hypothesis tests in
# tests/code/test_weights.py measure it.  Rounding to 3 decimals is ~1e11 ulp.
MAX_ULP = 8

ERR_NO_WEIGHTS = "the estimator received no sample weights: class re-balancing was skipped"
ERR_LENGTH = "the estimator received {got} sample weights for {want} training rows"
ERR_NOT_FINITE = "the estimator received {count} sample weight(s) that are not finite positive numbers"
ERR_CELL = (
    "training fingerprint mismatch for class {label!r}{group}: the estimator received {got} "
    "on {rows} of {size} row(s), the 50-digit reference gives {want} (beta_factor={beta!r})"
)


def _cell_of(label: Any, group: tuple[Any, ...]) -> tuple[tuple[Any, ...], Hashable]:
    return (group, label.item() if isinstance(label, np.generic) else label)


def _rows(labels: Any, groups: Sequence[Sequence[Any]] | None) -> list[tuple[tuple[Any, ...], Hashable]]:
    """Each row's (group, label) cell, built one row at a time."""
    label_list = list(labels.tolist() if hasattr(labels, "tolist") else labels)
    if groups is None:
        return [_cell_of(label, ()) for label in label_list]
    return [
        _cell_of(label, tuple(v.item() if isinstance(v, np.generic) else v for v in group))
        for label, group in zip(label_list, groups, strict=True)
    ]


def reference_cell_weights(
    labels: Any, beta: float, groups: Sequence[Sequence[Any]] | None = None
) -> dict[tuple[tuple[Any, ...], Hashable], float]:
    """Per-cell weights from first principles, at :data:`PRECISION` digits, rounded once to float64.

    Parameters
    ----------
    labels : sequence
        Training labels.
    beta : float
        ``beta_factor``; its exact binary value is used.
    groups : sequence of tuples, optional
        Each row's sensitive-attribute values (Kamiran–Calders); ``None`` for none.
    """
    cells = _rows(labels, groups)
    cell_counts = Counter(cells)
    class_counts: Counter[Hashable] = Counter()
    group_counts: Counter[tuple[Any, ...]] = Counter()
    for (group, label), n in cell_counts.items():
        class_counts[label] += n
        group_counts[group] += n
    total = len(cells)
    with localcontext() as ctx:
        ctx.prec = PRECISION
        b = Decimal(beta)
        if b == 0:
            factor = {label: Decimal(1) for label in class_counts}
        elif b == 1:
            factor = {label: Decimal(1) / n for label, n in class_counts.items()}
        else:
            factor = {label: (1 - b) / (1 - b**n) for label, n in class_counts.items()}
        class_scale = Decimal(total) / sum(class_counts[label] * factor[label] for label in class_counts)
        weight = {label: factor[label] * class_scale for label in class_counts}
        if groups is None:
            return {cell: float(weight[cell[1]]) for cell in cell_counts}
        # the float code multiplies the float class weight by the reweighing factor: so do we,
        # so that the two differ only by the rounding of what follows
        combined = {
            (group, label): Decimal(float(weight[label]))
            * (Decimal(group_counts[group] * class_counts[label]) / Decimal(total * n))
            for (group, label), n in cell_counts.items()
        }
        scale = Decimal(total) / sum(cell_counts[cell] * combined[cell] for cell in cell_counts)
        return {cell: float(combined[cell] * scale) for cell in cell_counts}


def reference_sample_weights(labels: Any, beta: float, groups: Sequence[Sequence[Any]] | None = None) -> list[float]:
    """Each row's reference weight, by a plain loop over the rows."""
    cell_weights = reference_cell_weights(labels, beta, groups)
    return [cell_weights[cell] for cell in _rows(labels, groups)]


def ulp_distance(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """Units in the last place between two arrays of positive finite float64."""
    a = np.ascontiguousarray(got, dtype=np.float64).view(np.int64)
    b = np.ascontiguousarray(want, dtype=np.float64).view(np.int64)
    return np.abs(a - b)


@dataclass(frozen=True)
class WeightCheck:
    """The verdict of the run-time weight check."""

    rows: int
    max_ulp: int
    mismatches: list[str]

    @property
    def passed(self) -> bool:
        """True when every row's weight is within :data:`MAX_ULP` of the reference."""
        return not self.mismatches


def check_received_weights(
    received: np.ndarray | None,
    labels: Any,
    beta: float,
    groups: Sequence[Sequence[Any]] | None = None,
    max_ulp: int = MAX_ULP,
) -> WeightCheck:
    """Compare the weights the estimator received with the reference, naming each bad cell.

    Returns
    -------
    WeightCheck
        ``mismatches`` holds one line per (group, label) cell whose rows did not
        receive the reference weight: the class, both values at full precision.
    """
    cells = _rows(labels, groups)
    if received is None:
        return WeightCheck(len(cells), -1, [ERR_NO_WEIGHTS])
    got = np.asarray(received, dtype=np.float64).ravel()
    if len(got) != len(cells):
        return WeightCheck(len(cells), -1, [ERR_LENGTH.format(got=len(got), want=len(cells))])
    bad_values = ~np.isfinite(got) | (got <= 0)
    mismatches = [ERR_NOT_FINITE.format(count=int(bad_values.sum()))] if bad_values.any() else []
    cell_weights = reference_cell_weights(labels, beta, groups)
    want = np.array([cell_weights[cell] for cell in cells], dtype=np.float64)
    distance = np.where(bad_values, np.iinfo(np.int64).max, ulp_distance(np.where(bad_values, 1.0, got), want))
    worst = int(distance.max()) if len(distance) else 0
    off = np.flatnonzero(distance > max_ulp)
    by_cell: dict[tuple[tuple[Any, ...], Hashable], list[int]] = {}
    for row in off.tolist():
        by_cell.setdefault(cells[row], []).append(row)
    size = Counter(cells)
    for (group, label), rows in by_cell.items():
        mismatches.append(
            ERR_CELL.format(
                label=label,
                group=f" in group {group!r}" if groups is not None else "",
                got=repr(float(got[rows[0]])),
                rows=len(rows),
                size=size[(group, label)],
                want=repr(cell_weights[(group, label)]),
                beta=float(beta),
            )
        )
    return WeightCheck(len(cells), worst if math.isfinite(worst) else -1, mismatches)
