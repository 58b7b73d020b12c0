"""Vectorised statistics over encoded columns, each equal to a textbook implementation.

Every function here works on counts per distinct value (see
:mod:`pipelines.data.columns`), never on a per-row loop, and each is tested
against a straightforward reference on small data:

- :func:`auc_from_counts` and :func:`rank_auc`: the Mann-Whitney ROC AUC with
  mid-ranks for ties (``sklearn.metrics.roc_auc_score``);
- :func:`encoded_auc`: the AUC on test rows of a category's mean outcome on
  training rows (target encoding, then ``roc_auc_score``);
- :func:`uncertainty_coefficient`: mutual information over the label's
  entropy (``sklearn.metrics.mutual_info_score`` / ``scipy.stats.entropy``),
  less the Miller-Madow bias of the plug-in estimate;
- :func:`ks_wasserstein`: the two-sample Kolmogorov-Smirnov statistic and the
  first Wasserstein distance (``scipy.stats.ks_2samp``,
  ``scipy.stats.wasserstein_distance``);
- :func:`psi` and :func:`js_distance`: population stability index and
  Jensen-Shannon distance of two count vectors (a loop over categories,
  ``scipy.spatial.distance.jensenshannon``);
- the noise floors: what a statistic reaches by sampling alone at a given
  significance level, from its asymptotic null distribution.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from pipelines.data.columns import EncodedColumn, sorted_unique


def auc_from_counts(pos: np.ndarray, neg: np.ndarray, pos_missing: int = 0, neg_missing: int = 0) -> float | None:
    """ROC AUC of an ordered score from its positives and negatives per distinct value.

    Ties count one half.  Missing values are one more value, placed below or
    above every other, whichever separates better; the AUC returned is
    ``max(AUC, 1 - AUC)``, the separation whatever its direction.

    Parameters
    ----------
    pos, neg : numpy.ndarray
        Positives and negatives per distinct score value, in ascending order.
    pos_missing, neg_missing : int
        Positives and negatives whose score is missing.

    Returns
    -------
    float or None
        The AUC in [0.5, 1], or None when a class is absent.
    """
    pos = np.asarray(pos, dtype=np.int64)
    neg = np.asarray(neg, dtype=np.int64)
    pos_present, neg_present = int(pos.sum()), int(neg.sum())
    positives, negatives = pos_present + pos_missing, neg_present + neg_missing
    if positives == 0 or negatives == 0:
        return None
    neg_below = np.cumsum(neg) - neg
    # integer sums stay exact: at most rows**2 / 4 pairs
    twice_wins = 2 * int(np.dot(pos, neg_below)) + int(np.dot(pos, neg)) + pos_missing * neg_missing
    pairs = float(positives) * float(negatives)
    best = 0.0
    for twice_extra in (
        2 * pos_missing * neg_present,
        2 * pos_present * neg_missing,
    ):  # missing above / below
        auc = (twice_wins + twice_extra) / (2.0 * pairs)
        best = max(best, auc, 1.0 - auc)
    return best


def rank_auc(column: EncodedColumn, outcome: np.ndarray) -> float | None:
    """ROC AUC of an ordered column (numbers, dates, booleans) for a boolean outcome.

    Parameters
    ----------
    column : EncodedColumn
        An ordered column.
    outcome : numpy.ndarray
        Boolean, one per row.

    Returns
    -------
    float or None
        ``max(AUC, 1 - AUC)`` with missing values as their own value, None
        when the outcome has a single class.
    """
    k = column.n_unique
    positives = np.bincount(column.ranks[outcome] + 1, minlength=k + 1)
    totals = np.empty(k + 1, dtype=np.int64)
    totals[0] = column.missing
    totals[1:] = column.sorted_counts
    negatives = totals - positives
    return auc_from_counts(positives[1:], negatives[1:], int(positives[0]), int(negatives[0]))


def encoded_auc(codes: np.ndarray, n_codes: int, outcome: np.ndarray, test: np.ndarray) -> float | None:
    """ROC AUC on test rows of each category's mean outcome on training rows.

    Missing values are one more category.  A category never seen in training
    scores the training prior, so a column cannot score by memorising rows.

    Parameters
    ----------
    codes : numpy.ndarray
        Category code per row, ``-1`` for missing.
    n_codes : int
        Number of categories.
    outcome : numpy.ndarray
        Boolean, one per row.
    test : numpy.ndarray
        Boolean mask of the test rows.

    Returns
    -------
    float or None
        ``max(AUC, 1 - AUC)`` on the test rows, None when a class is absent there.
    """
    shifted = codes + 1
    size = n_codes + 1
    train = ~test
    train_rows = np.bincount(shifted[train], minlength=size)
    train_positives = np.bincount(shifted[train & outcome], minlength=size)
    prior = float(train_positives.sum()) / max(int(train_rows.sum()), 1)
    means = np.where(train_rows > 0, train_positives / np.maximum(train_rows, 1), prior)
    test_rows = np.bincount(shifted[test], minlength=size)
    test_positives = np.bincount(shifted[test & outcome], minlength=size)
    levels, level_of_code = np.unique(means, return_inverse=True)
    pos = np.bincount(level_of_code, weights=test_positives, minlength=len(levels)).astype(np.int64)
    neg = np.bincount(level_of_code, weights=test_rows - test_positives, minlength=len(levels)).astype(np.int64)
    return auc_from_counts(pos, neg)


def quantile_bins(column: EncodedColumn, bins: int) -> tuple[np.ndarray, int]:
    """Cut an ordered column into at most ``bins`` quantile bins; ties stay in one bin.

    Parameters
    ----------
    column : EncodedColumn
        An ordered column.
    bins : int
        The number of bins wanted.

    Returns
    -------
    tuple of (numpy.ndarray, int)
        The bin of each row (``-1`` when missing) and the number of bins.
    """
    counts = column.sorted_counts
    if len(counts) <= bins:
        return column.ranks, len(counts)
    below = (np.cumsum(counts) - counts) / max(column.present, 1)
    bin_of_rank = np.minimum((below * bins).astype(np.int32), bins - 1)
    lookup = np.append(bin_of_rank, np.int32(-1))
    return lookup[column.ranks], bins


def uncertainty_coefficient(codes: np.ndarray, n_codes: int, outcome: np.ndarray) -> float | None:
    """Share of the outcome's entropy a column explains: ``I(X; Y) / H(Y)``, bias-corrected.

    The plug-in mutual information (in nats) is reduced by the Miller-Madow
    bias ``(kx - 1)(ky - 1) / 2n`` (``kx`` and ``ky`` the values seen), so a
    column with many values is not credited with what it explains by chance.
    Missing values are one more value.

    Parameters
    ----------
    codes : numpy.ndarray
        Value (or bin) code per row, ``-1`` for missing.
    n_codes : int
        Number of codes.
    outcome : numpy.ndarray
        Boolean, one per row.

    Returns
    -------
    float or None
        In [0, 1]; None when the outcome has a single class.
    """
    rows = len(codes)
    shifted = codes + 1
    totals = np.bincount(shifted, minlength=n_codes + 1).astype(np.float64)
    positives = np.bincount(shifted[outcome], minlength=n_codes + 1).astype(np.float64)
    joint = np.stack([totals - positives, positives], axis=1)
    label = joint.sum(axis=0)
    if (label == 0).any():
        return None
    label_entropy = -float(np.sum(label / rows * np.log(label / rows)))
    value = totals[:, None]
    nonzero = joint > 0
    expected = value * label[None, :] / rows
    information = float(np.sum(joint[nonzero] / rows * np.log(joint[nonzero] / expected[nonzero])))
    seen_values = int((totals > 0).sum())
    bias = (seen_values - 1) * (2 - 1) / (2.0 * rows)
    return max(0.0, information - bias) / label_entropy


def ks_wasserstein(
    values_a: np.ndarray, counts_a: np.ndarray, values_b: np.ndarray, counts_b: np.ndarray
) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov statistic and first Wasserstein distance, exactly.

    Parameters
    ----------
    values_a, values_b : numpy.ndarray
        Ascending distinct values of each sample (numbers).
    counts_a, counts_b : numpy.ndarray
        How often each value occurs.

    Returns
    -------
    tuple of float
        ``(ks, wasserstein)``: the largest gap between the two empirical
        distribution functions, and the area between them.
    """
    values_a = np.asarray(values_a, dtype=np.float64)
    values_b = np.asarray(values_b, dtype=np.float64)
    grid = sorted_unique(np.concatenate([values_a, values_b]))
    cdf_a = np.concatenate([[0.0], np.cumsum(counts_a) / float(np.sum(counts_a))])
    cdf_b = np.concatenate([[0.0], np.cumsum(counts_b) / float(np.sum(counts_b))])
    at_a = cdf_a[np.searchsorted(values_a, grid, side="right")]
    at_b = cdf_b[np.searchsorted(values_b, grid, side="right")]
    gap = np.abs(at_a - at_b)
    ks = float(gap.max()) if len(gap) else 0.0
    wasserstein = float(np.sum(gap[:-1] * np.diff(grid))) if len(grid) > 1 else 0.0
    return ks, wasserstein


def smoothed_shares(counts: np.ndarray, pseudo_count: float) -> np.ndarray:
    """Shares after adding ``pseudo_count`` to every count (no share is ever zero)."""
    smoothed = np.asarray(counts, dtype=np.float64) + pseudo_count
    return smoothed / smoothed.sum()


def psi(counts: np.ndarray, reference_counts: np.ndarray, pseudo_count: float) -> float:
    """Return the population stability index ``sum((p - q) * ln(p / q))`` of aligned count vectors.

    Parameters
    ----------
    counts, reference_counts : numpy.ndarray
        Rows per category of the data and of the reference, aligned.
    pseudo_count : float
        Added to every count first, so a new or vanished category is finite.

    Returns
    -------
    float
        The index, >= 0.
    """
    p = smoothed_shares(counts, pseudo_count)
    q = smoothed_shares(reference_counts, pseudo_count)
    return float(np.sum((p - q) * np.log(p / q)))


def js_distance(counts: np.ndarray, reference_counts: np.ndarray) -> float:
    """Jensen-Shannon distance (base 2, in [0, 1]) of two aligned count vectors."""
    p = np.asarray(counts, dtype=np.float64) / max(float(np.sum(counts)), 1.0)
    q = np.asarray(reference_counts, dtype=np.float64) / max(float(np.sum(reference_counts)), 1.0)
    m = (p + q) / 2.0
    divergence = 0.0
    for share in (p, q):
        kept = share > 0
        divergence += 0.5 * float(np.sum(share[kept] * np.log2(share[kept] / m[kept])))
    return math.sqrt(max(divergence, 0.0))


def ks_noise(rows: int, reference_rows: int, significance: float) -> float:
    """Return the Kolmogorov-Smirnov statistic sampling alone exceeds with probability ``significance``."""
    c_alpha = math.sqrt(-0.5 * math.log(significance / 2.0))
    return c_alpha * math.sqrt((rows + reference_rows) / (rows * reference_rows))


def psi_noise(categories: int, rows: int, reference_rows: int, significance: float) -> float:
    """Return the PSI that sampling alone exceeds with probability ``significance``.

    Under no drift, PSI times ``1 / (1/n + 1/m)`` is asymptotically chi-square
    with ``categories - 1`` degrees of freedom.
    """
    if categories < 2:
        return 0.0
    quantile = float(special.chdtri(categories - 1, significance))
    return quantile * (1.0 / rows + 1.0 / reference_rows)


def share_noise(share: float, reference_share: float, rows: int, reference_rows: int, significance: float) -> float:
    """Return the change of a proportion sampling alone exceeds with probability ``significance``.

    Two-sided, with the pooled proportion (the normal approximation).
    """
    pooled = (share * rows + reference_share * reference_rows) / (rows + reference_rows)
    z = float(special.ndtri(1.0 - significance / 2.0))
    return z * math.sqrt(pooled * (1.0 - pooled) * (1.0 / rows + 1.0 / reference_rows))
