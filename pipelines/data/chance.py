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


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)


def _mixed(state: np.ndarray, codes: np.ndarray, position: int) -> np.ndarray:
    """``state`` with one more column's codes mixed in (splitmix64's finaliser; wrapping arithmetic)."""
    out = (
        state + (codes.astype(np.int64) + 1).astype(np.uint64) + np.uint64((position + 1) * 0x632BE59BD9B4E019 % 2**64)
    )
    out ^= out >> np.uint64(30)
    out *= _MIX_1
    out ^= out >> np.uint64(27)
    out *= _MIX_2
    out ^= out >> np.uint64(31)
    return out


def _agreeing_pairs(keys: np.ndarray) -> float:
    """Pairs of rows with equal keys."""
    _, counts = np.unique(keys, return_counts=True)
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

    Rows are grouped by 64-bit hashes of their values: two different rows
    could share one (about one pair in 10**19), which would move an estimate,
    never a count the checks report.

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
    rows = float(encoded.rows)
    total = rows * (rows - 1.0) / 2.0
    if total == 0.0:
        return 0.0
    varied = sorted(columns, key=lambda name: pair_match_probability(encoded[name].codes))[:MODELLED_COLUMNS]
    fixed = [c for c in columns if c not in varied]
    # the columns outside ``varied`` are hashed once; each subset of ``varied`` is mixed into that
    base = encoded.row_hashes(fixed) if fixed else np.full(encoded.rows, _GOLDEN, dtype=np.uint64)
    codes = [encoded[name].codes for name in varied]

    def agreeing(left_out: set[int]) -> float:
        state = base
        for position, column_codes in enumerate(codes):
            if position not in left_out:
                state = _mixed(state, column_codes, position)
        return _agreeing_pairs(state)

    everywhere = agreeing(set())
    estimates: list[float] = []
    for first in range(len(varied)):
        for second in range(first + 1, len(varied)):
            agree_others = agreeing({first, second})
            first_only = agreeing({second}) - everywhere
            second_only = agreeing({first}) - everywhere
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
