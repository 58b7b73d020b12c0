"""What chance alone produces: identical rows in data of a given shape, and the noise around a count.

Census-style data, with many columns of few values each, holds identical rows
from different people; a copied row is identical too.  The audit's
``duplicate_rows`` and the leakage check's ``contamination`` tell them apart
by comparing what they count with what chance gives in data of that shape,
estimated from the rows themselves: how often rows that agree on all columns
but two agree on one, the other or neither of those two
(:func:`modelled_match_probability`).  The estimate keeps how the columns
depend on each other, and rows copied whole do not raise it, so a copied
batch cannot raise its own allowance.

A count then blocks only beyond ``factor`` times that expectation and beyond
what binomial noise reaches at a declared significance
(:func:`allowed_count`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats

from pipelines.data.columns import EncodedFrame

# The estimate looks at pairs of the columns whose values two rows share least often, this many.
MODELLED_COLUMNS = 8


def pair_match_probability(keys: np.ndarray) -> float:
    """Share of the pairs of rows whose keys are equal (unbiased: a row is never paired with itself).

    Parameters
    ----------
    keys : numpy.ndarray
        One integer key per row (codes of a column, or row hashes).

    Returns
    -------
    float
        ``sum(c * (c - 1)) / (n * (n - 1))`` over the counts ``c`` of equal
        keys; 0.0 with fewer than two rows.
    """
    rows = len(keys)
    if rows < 2:
        return 0.0
    _, counts = np.unique(keys, return_counts=True)
    counts = counts.astype(np.float64)
    return float(np.dot(counts, counts - 1.0)) / (float(rows) * float(rows - 1))


def _agreeing_pairs(encoded: EncodedFrame, columns: Sequence[str]) -> float:
    """Pairs of rows equal on every one of ``columns`` (all pairs when there are none)."""
    rows = float(encoded.rows)
    if not columns:
        return rows * (rows - 1.0) / 2.0
    _, counts = np.unique(encoded.row_hashes(columns, keep=False), return_counts=True)
    counts = counts.astype(np.float64)
    return float(np.dot(counts, counts - 1.0)) / 2.0


def modelled_match_probability(encoded: EncodedFrame, columns: Sequence[str]) -> float | None:
    """Probability that two rows agree on every column by chance, from the rows that nearly agree.

    For two columns *j* and *k*, the pairs of rows that agree on every other
    column form a 2x2 table: they agree on *j* or not, on *k* or not.  Rows
    copied whole fall only in the "agree on both" cell; so do chance
    duplicates.  The three other cells hold only pairs that differ somewhere,
    and if agreeing on *j* and agreeing on *k* are independent among them,
    the chance count of the last cell is ``agree_j_only * agree_k_only /
    agree_neither``.  It keeps every dependence between the other columns
    (the table is taken among pairs that agree on all of them), and copies
    add nothing to it.  The estimate is the median over the pairs of the
    :data:`MODELLED_COLUMNS` most varied columns (those whose values two rows
    share least often) whose table is informative; a column that two rows
    never share by chance (a measured amount, a date) makes it 0.

    Parameters
    ----------
    encoded : EncodedFrame
        The rows.
    columns : sequence of str
        The columns compared.

    Returns
    -------
    float or None
        The probability, in [0, 1]; None with a single column (every
        duplicate of one column is its value repeated: nothing to model).
    """
    if len(columns) < 2:
        return None
    total = _agreeing_pairs(encoded, [])
    if total == 0.0:
        return 0.0
    everywhere = _agreeing_pairs(encoded, columns)
    varied = sorted(columns, key=lambda name: pair_match_probability(encoded[name].codes))[:MODELLED_COLUMNS]
    estimates: list[float] = []
    for position, first in enumerate(varied):
        for second in varied[position + 1 :]:
            others = [c for c in columns if c not in (first, second)]
            agree_others = _agreeing_pairs(encoded, others)
            first_only = _agreeing_pairs(encoded, [*others, first]) - everywhere
            second_only = _agreeing_pairs(encoded, [*others, second]) - everywhere
            neither = agree_others - first_only - second_only - everywhere
            if neither <= 0.0 or first_only + second_only == 0.0:
                continue  # one column decides the other here: the table says nothing about chance
            estimates.append(first_only * second_only / neither)
    if not estimates:
        return 0.0
    return min(1.0, float(np.median(estimates)) / total)


def expected_repeated_rows(match_probability: float, rows: int) -> float:
    """Rows expected to be identical to another row by chance, among ``rows`` drawn alike.

    ``rows * min(1, (rows - 1) * p)``: each row agrees with one of the other
    ``rows - 1`` with probability at most ``(rows - 1) * p`` (the union
    bound, close for small ``p``; it never understates chance).

    Parameters
    ----------
    match_probability : float
        Probability that two rows agree on every compared column.
    rows : int
        Rows in the batch.

    Returns
    -------
    float
        Expected rows.
    """
    if rows < 2:
        return 0.0
    return float(rows) * min(1.0, float(rows - 1) * match_probability)


def allowed_count(expected: float, rows: int, factor: float, significance: float) -> int:
    """The largest count that is still chance: binomial noise around ``factor`` times the expectation.

    Parameters
    ----------
    expected : float
        Rows expected by chance.
    rows : int
        Rows counted over.
    factor : float
        How many times the expectation chance may reach (the expectation is an estimate).
    significance : float
        One-sided level of the binomial upper bound.

    Returns
    -------
    int
        The ``1 - significance`` quantile of ``Binomial(rows, min(1, factor * expected / rows))``;
        0 when nothing is expected.
    """
    if rows <= 0 or expected <= 0.0:
        return 0
    share = min(1.0, factor * expected / rows)
    return int(stats.binom.ppf(1.0 - significance, rows, share))
