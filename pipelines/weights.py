"""Class weights from ``beta_factor``: the effective number of samples, exact in float64.

The weight of class ``c`` with ``n_c`` training samples is proportional to
``(1 - beta) / (1 - beta**n_c)`` (Cui et al., CVPR 2019).  ``beta = 0`` gives
equal weights; ``beta -> 1`` tends to inverse class frequency and ``beta = 1``
is that limit, not 0/0.

Normalisation: the per-sample weights average to exactly one over the
training set (``sum_c n_c * w_c = N``), so the loss scale does not move with
``beta``.  Nothing here is ever rounded: C07 began with ``round(w, 3)``.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from pipelines.errors import BadInputError

ERR_BETA = "beta_factor must be a number in [0, 1], found {beta!r}"
ERR_EMPTY = "class weights need at least one training label, found none"
ERR_SINGLE_CLASS = "class weights need at least two classes in the training labels, found only {label!r}"
ERR_NULL_LABEL = "training labels contain {count} missing value(s)"


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
    ordered = sorted(counts.index.tolist(), key=lambda v: (str(type(v)), v))
    return {label: int(counts[label]) for label in ordered}


def class_weights(labels: Any, beta: float) -> dict[Hashable, float]:
    """Return the weight of each class, normalised so sample weights average to one.

    Parameters
    ----------
    labels : array-like
        The training labels (integers, strings or booleans; pandas or numpy).
    beta : float
        ``beta_factor`` in [0, 1].

    Returns
    -------
    dict
        Class label to float64 weight, never rounded.
    """
    beta = _validate_beta(beta)
    counts = class_counts(labels)
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


def weights_fingerprint(weights_vector: np.ndarray) -> str:
    """SHA-256 of the exact bytes of a float64 sample-weight vector."""
    contiguous = np.ascontiguousarray(weights_vector, dtype=np.float64)
    return hashlib.sha256(contiguous.tobytes()).hexdigest()


def exact_repr(weights: Mapping[Hashable, float]) -> dict[str, str]:
    """Class weights as ``float.hex`` strings: the full-precision form that is logged."""
    return {str(label): float(value).hex() for label, value in weights.items()}
