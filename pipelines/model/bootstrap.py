"""A seeded, paired Poisson bootstrap that is fast enough for millions of holdout rows.

Every resample gives each holdout row an independent Poisson(1) weight (the
Poisson bootstrap: Hanley and MacGibbon 2006, Chamandy et al. 2012).  The
candidate and the champion are always scored on the *same* weights, so each
candidate-minus-champion difference has its own interval, narrow when the two
models agree and wide when they do not.

Two exact shortcuts keep the cost far below re-running fairlearn a thousand times:

- **Cells** (:func:`cell_replicates`).  Every count metric (approval rate,
  TPR, FPR, accuracy, cost, per group and overall, for both models) is a
  function of how many rows fall in each cell ``group x truth x candidate
  decision x champion decision``.  A sum of independent Poisson(1) weights is
  Poisson(count), so a resample's cell totals are drawn directly as
  ``Poisson(cell count)``: the same distribution as weighting every row, at a
  cost that does not grow with the number of rows.
  A further model (the unmitigated twin, compared with the candidate
  besides the champion) joins the same resamples through
  :func:`split_cells`: each resampled total is split binomially by its
  decision, which keeps the totals and is again the law of the row weights.
- **Scores** (:func:`score_replicates`).  ROC AUC, log loss and Brier score
  need each row's own weight.  Weights are drawn exactly (a 16-bit inverse-CDF
  table, with the few table cells that straddle a CDF step resolved by a
  further uniform draw), ``R`` resamples at a time as an ``(n, R)`` byte
  matrix, and the AUC numerator is an exact integer: the weighted count of
  (positive, negative) pairs ranked in the right order, ties counting one half,
  accumulated block by block over the rows sorted by score.

Seeds: every stream is ``SeedSequence([seed, stream, ...])`` with fixed stream
codes, so results depend only on the seed, the number of resamples and the
data: not on the number of worker threads or the order they finish in.

The interval of a metric is the two-sided percentile interval of its
resampled values.  A metric undefined in any resample (for instance a TPR
when a resample leaves a small group without a favourable-truth row) has no
interval: ``low`` and ``high`` are None and ``undefined`` says in how many
resamples it could not be computed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from pipelines.core.errors import BadInputError

# stream codes: fixed here so that adding a stream never changes another one's draws
STREAM_CELLS = 1
STREAM_SCORES = 2
STREAM_LATENCY = 3
STREAM_CELL_SPLITS = 4

RESAMPLES_PER_CHUNK = 16
"""Row-level resamples drawn together as one ``(rows, 16)`` weight matrix (one seed per chunk)."""
_BLOCK_ELEMENTS = 1 << 20
"""Resamples x rows of the weight matrix converted to float64 at once for the loss sums."""
_TABLE_BITS = 16
_TABLE_SIZE = 1 << _TABLE_BITS
_AMBIGUOUS = np.uint8(255)
_POISSON_MAX = 40  # P(Poisson(1) > 40) < 1e-48: the CDF is exactly 1.0 in float64 well before

ERR_RESAMPLES = "resamples must be an integer >= 1, found {found!r}"
ERR_CONFIDENCE = "confidence must be a number in (0, 1), found {found!r}"
ERR_WORKERS = "workers must be an integer >= 1, found {found!r}"
ERR_SCORE_SHAPE = (
    "every model needs one probability per holdout row: expected {rows} rows, found {found} for model {model}"
)
ERR_NO_MODEL = "score_replicates needs at least one model's probabilities, found none"
ERR_TOGETHER = "together must be an integer from 1 to the number of models ({models}), found {found!r}"


def _check_count(value: Any, message: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise BadInputError(message.format(found=value))
    return int(value)


def _check_confidence(confidence: Any) -> float:
    if isinstance(confidence, bool) or not isinstance(confidence, int | float) or not 0.0 < confidence < 1.0:
        raise BadInputError(ERR_CONFIDENCE.format(found=confidence))
    return float(confidence)


def generator(seed: int, stream: int, *extra: int) -> np.random.Generator:
    """Return the generator of one stream: ``PCG64(SeedSequence([seed, stream, *extra]))``.

    Parameters
    ----------
    seed : int
        ``evaluation.bootstrap.seed``.
    stream : int
        One of the ``STREAM_*`` codes.
    *extra : int
        Further keys, e.g. the chunk index of row-level resamples.

    Returns
    -------
    numpy.random.Generator
        A generator whose draws depend only on these keys.
    """
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, stream, *extra])))


# --------------------------------------------------------------------------- Poisson(1) weights


@lru_cache(maxsize=1)
def _poisson_table() -> tuple[np.ndarray, np.ndarray]:
    """Return the Poisson(1) CDF and a 16-bit inverse-CDF table (255 marks a cell holding a CDF step)."""
    probabilities = [math.exp(-1.0) / math.factorial(k) for k in range(_POISSON_MAX + 1)]
    cdf = np.array([math.fsum(probabilities[: k + 1]) for k in range(_POISSON_MAX + 1)])
    cdf[-1] = 1.0
    starts = np.arange(_TABLE_SIZE, dtype=np.float64) / _TABLE_SIZE
    ends = np.nextafter(np.arange(1, _TABLE_SIZE + 1, dtype=np.float64) / _TABLE_SIZE, 0.0)
    low = np.searchsorted(cdf, starts, side="right")
    high = np.searchsorted(cdf, ends, side="right")
    table = low.astype(np.uint8)
    table[low != high] = _AMBIGUOUS
    return cdf, table


def poisson_weights(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Draw independent Poisson(1) weights as ``uint8``, exactly (inverse CDF at float64 resolution).

    A 16-bit uniform ``u`` picks the table cell ``[u, u + 1) / 2**16`` of the
    uniform variate; when no CDF step falls inside that cell the weight is the
    cell's, otherwise a further uniform double places the variate inside the
    cell and the CDF decides.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    shape : tuple of int
        Shape of the weight array.

    Returns
    -------
    numpy.ndarray
        ``uint8`` weights with the Poisson(1) distribution.
    """
    cdf, table = _poisson_table()
    cells = rng.integers(0, _TABLE_SIZE, size=shape, dtype=np.uint16)
    weights = table[cells]
    ambiguous = np.flatnonzero(weights.ravel() == _AMBIGUOUS)
    if ambiguous.size:
        flat = weights.reshape(-1)
        position = (cells.reshape(-1)[ambiguous] + rng.random(ambiguous.size)) / _TABLE_SIZE
        flat[ambiguous] = np.searchsorted(cdf, position, side="right").astype(np.uint8)
    return weights


# --------------------------------------------------------------------------- cells


def cell_replicates(counts: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    """Resampled cell totals: ``Poisson(count)`` per cell and resample.

    Parameters
    ----------
    counts : numpy.ndarray
        Row count of every cell (any shape), from the holdout.
    resamples : int
        Number of bootstrap resamples.
    seed : int
        ``evaluation.bootstrap.seed`` (the cell stream is :data:`STREAM_CELLS`).

    Returns
    -------
    numpy.ndarray
        ``int64`` array of shape ``(resamples, *counts.shape)``: each resample's
        weighted row count per cell, distributed exactly as the sum of the
        Poisson(1) weights of that cell's rows.
    """
    resamples = _check_count(resamples, ERR_RESAMPLES)
    lam = np.asarray(counts, dtype=np.float64)
    drawn = generator(seed, STREAM_CELLS).poisson(lam, size=(resamples, *lam.shape))
    return np.asarray(drawn, dtype=np.int64)


def split_cells(totals: np.ndarray, counts: np.ndarray, seed: int, model: int) -> np.ndarray:
    """Split every resampled cell total by one more model's decision: the same resamples, finer cells.

    A cell of ``n`` rows has a resampled total ``T ~ Poisson(n)``; ``n1`` of its rows get
    decision 1 from the further model.  Given ``T``, the weight of those rows is
    ``Binomial(T, n1 / n)`` and the rest is ``T`` minus it: the two parts are then
    independent ``Poisson(n1)`` and ``Poisson(n - n1)``, exactly the law of the row
    weights summed per finer cell.  The totals themselves are kept, so every metric of
    the models drawn before is unchanged, and every model is resampled on the same
    (implicit) row weights: the resamples stay paired and shared.

    Parameters
    ----------
    totals : numpy.ndarray
        ``int64`` resampled totals, ``(resamples, *cells)``.
    counts : numpy.ndarray
        The holdout's row counts ``(*cells, 2)``: each cell's rows by the further model's
        decision (0, 1).
    seed : int
        ``evaluation.bootstrap.seed`` (the stream is :data:`STREAM_CELL_SPLITS`, keyed by ``model``).
    model : int
        The further model's position (its own stream: adding a model never changes another's draws).

    Returns
    -------
    numpy.ndarray
        ``int64`` totals ``(resamples, *cells, 2)`` whose sum over the last axis is ``totals``.
    """
    rows = counts.sum(axis=-1)
    share = np.divide(counts[..., 1], rows, out=np.zeros(rows.shape, dtype=np.float64), where=rows > 0)
    ones = generator(seed, STREAM_CELL_SPLITS, model).binomial(totals, share)
    ones = np.asarray(ones, dtype=np.int64)
    return np.stack([totals - ones, ones], axis=-1)


# --------------------------------------------------------------------------- scores


@dataclass(frozen=True)
class ScoreReplicates:
    """Resampled score metrics, one row per model (in the order given) and one column per resample."""

    roc_auc: np.ndarray
    log_loss: np.ndarray
    brier: np.ndarray


@dataclass(frozen=True)
class _RankedModel:
    """One model's rows in score order, with the positions the exact weighted AUC reads."""

    order: np.ndarray | None  # home positions sorted by this model's score; None = the home order itself
    negative: np.ndarray  # uint8, 1 where the row (in this model's order) is a negative
    positives: np.ndarray  # positions (in this model's order) of the positive rows
    tie_start: np.ndarray | None  # for each positive: first position of its block of tied scores (None: no tie)
    tie_end: np.ndarray | None  # for each positive: one past the last position of that block


def _rank_model(scores: np.ndarray, positive: np.ndarray, order: np.ndarray | None) -> _RankedModel:
    """Describe one model's ranking; ``scores`` and ``positive`` are already in its score order.

    Index arrays stay ``intp``: numpy converts any other index type before gathering.
    """
    rows = len(scores)
    change = np.flatnonzero(scores[1:] != scores[:-1]) + 1  # first row of every tie block but the first
    positives = np.flatnonzero(positive)
    if len(change) == rows - 1:  # every score distinct: a positive's tie block is itself
        return _RankedModel(order, (~positive).astype(np.uint8), positives, None, None)
    block_starts = np.concatenate(([0], change))
    block_ends = np.concatenate((change, [rows]))
    block_of_row = np.repeat(np.arange(len(block_starts)), block_ends - block_starts)
    return _RankedModel(
        order=order,
        negative=(~positive).astype(np.uint8),
        positives=positives,
        tie_start=block_starts[block_of_row[positives]],
        tie_end=block_ends[block_of_row[positives]],
    )


class _ScoreKernel:
    """Resampled AUC, log loss and Brier score of one or more models, one chunk of resamples at a time.

    Rows are kept in the first model's score order (the *home* order), so its
    ranking needs no gather; every other model reads the same weights through
    its own permutation.  A chunk's weights are an ``(R, rows)`` byte matrix:
    the rank sums run on each resample's contiguous row, the loss sums on
    column blocks of the whole chunk.
    """

    def __init__(
        self, is_positive: np.ndarray, probabilities: Sequence[np.ndarray], together: int | None = None
    ) -> None:
        rows = len(is_positive)
        home = np.argsort(probabilities[0], kind="stable")
        positive_home = is_positive[home]
        self.rows = rows
        self.models = len(probabilities)
        # exact integer prefix sums: int32 while rows x the largest weight cannot overflow it
        self.prefix_dtype = np.int32 if rows * (_POISSON_MAX + 1) < np.iinfo(np.int32).max // 2 else np.int64
        # row 0: ones (the total weight); rows 1, 2: the first model's log-loss and Brier terms per row;
        # then each other model's terms *minus the first model's*, so that a model identical to the first
        # has paired differences that are exactly zero, whatever the summation order of the matrix product
        self.terms = np.empty((1 + 2 * self.models, rows), dtype=np.float64)
        self.terms[0] = 1.0
        self.ranked: list[_RankedModel] = []
        eps = np.finfo(np.float64).eps
        truth = positive_home.astype(np.float64)
        for m, p in enumerate(probabilities):
            p_home = np.asarray(p, dtype=np.float64)[home]
            # scikit-learn's log_loss clips the probability of each class to [eps, 1 - eps]
            p_true = np.where(positive_home, p_home, 1.0 - p_home)
            self.terms[1 + 2 * m] = -np.log(np.clip(p_true, eps, 1.0 - eps))
            self.terms[2 + 2 * m] = (truth - p_home) ** 2
            if m > 0:
                self.terms[1 + 2 * m] -= self.terms[1]
                self.terms[2 + 2 * m] -= self.terms[2]
            if m == 0:
                self.ranked.append(_rank_model(p_home, positive_home, None))
            else:
                order = np.argsort(p_home, kind="stable")
                self.ranked.append(_rank_model(p_home[order], positive_home[order], order))
        step = max(1, _BLOCK_ELEMENTS // RESAMPLES_PER_CHUNK)
        self.column_blocks = [(a, min(rows, a + step)) for a in range(0, rows, step)]
        # The loss sums are matrix products, whose last bits depend on the shape BLAS is given.  The first
        # ``together`` models are summed in one product; every further model in a product with the first
        # model alone, the shape of their pair: each model's sums are then bit for bit those of its own pair.
        self.together = self.models if together is None else together
        self.products = [np.ascontiguousarray(self.terms[: 1 + 2 * self.together])]
        self.products += [np.ascontiguousarray(self.terms[[0, 1, 2, 1 + 2 * m, 2 + 2 * m]])
                          for m in range(self.together, self.models)]

    def chunk(self, seed: int, index: int, count: int) -> np.ndarray:
        """Return ``(3 * models, count)``: AUC, then log loss, then Brier, per model, for ``count`` resamples."""
        rng = generator(seed, STREAM_SCORES, index)
        weights = np.empty((count, self.rows), dtype=np.uint8)
        for r in range(count):
            weights[r] = poisson_weights(rng, (self.rows,))
        products = [np.zeros((terms.shape[0], count), dtype=np.float64) for terms in self.products]
        for a, b in self.column_blocks:
            block = weights[:, a:b].astype(np.float64).T
            for terms, product in zip(self.products, products, strict=True):
                product += terms[:, a:b] @ block
        total = products[0][0]
        out = np.full((3 * self.models, count), np.nan, dtype=np.float64)
        buffers: dict[str, np.ndarray] = {}
        with np.errstate(divide="ignore", invalid="ignore"):
            for r in range(count):
                for m, ranked in enumerate(self.ranked):
                    out[m, r] = self._auc(weights[r], ranked, buffers)
            defined = total > 0
            for m in range(self.models):
                # a model's sums in its product: its place in ``terms``, or 3 and 4 in a pair's product
                sums, k = (products[0], m) if m < self.together else (products[1 + m - self.together], 1)
                log_loss = sums[1 + 2 * k] + (sums[1] if k > 0 else 0.0)
                brier = sums[2 + 2 * k] + (sums[2] if k > 0 else 0.0)
                out[self.models + m] = np.where(defined, log_loss / total, np.nan)
                out[2 * self.models + m] = np.where(defined, brier / total, np.nan)
        return out

    def _auc(
        self, home_weights: np.ndarray, ranked: _RankedModel, buffers: dict[str, np.ndarray] | None = None
    ) -> float:
        """Weighted AUC: correctly ordered (positive, negative) pairs over all pairs, ties counting 1/2."""
        buffers = {} if buffers is None else buffers
        if "below" not in buffers:
            buffers["below"] = np.zeros(self.rows + 1, dtype=self.prefix_dtype)
            buffers["gathered"] = np.empty(self.rows, dtype=np.uint8)
            buffers["negatives"] = np.empty(self.rows, dtype=np.uint8)
        below = buffers["below"]  # below[k]: weighted negatives among the first k rows in this model's order
        weights = home_weights
        if ranked.order is not None:
            weights = np.take(home_weights, ranked.order, out=buffers["gathered"])
        np.multiply(weights, ranked.negative, out=buffers["negatives"])
        np.cumsum(buffers["negatives"], dtype=self.prefix_dtype, out=below[1:])
        positive_weights = weights[ranked.positives]
        if ranked.tie_start is None or ranked.tie_end is None:
            # no tie: the negatives below a positive are those before it (a positive adds no negative)
            twice_concordant = 2 * int(np.einsum("p,p->", positive_weights, below[ranked.positives], dtype=np.int64))
        else:
            # a positive in tie block [s, e): the negatives strictly below it, plus half of those tied with it
            twice_concordant = int(
                np.einsum(
                    "p,p->",
                    positive_weights,
                    below[ranked.tie_start].astype(np.int64) + below[ranked.tie_end],
                    dtype=np.int64,
                )
            )
        pairs = float(positive_weights.sum(dtype=np.int64)) * float(below[-1])
        return float(twice_concordant) / (2.0 * pairs) if pairs > 0 else math.nan


def score_replicates(
    is_positive: np.ndarray,
    probabilities: Sequence[np.ndarray],
    resamples: int,
    seed: int,
    workers: int = 1,
    together: int | None = None,
) -> ScoreReplicates:
    """Resampled ROC AUC, log loss and Brier score of every model, on shared Poisson row weights.

    Parameters
    ----------
    is_positive : numpy.ndarray
        Boolean truth per holdout row (the model's positive class).
    probabilities : sequence of numpy.ndarray
        Probability of the positive class per row, one array per model (candidate first).
    resamples : int
        Number of bootstrap resamples.
    seed : int
        ``evaluation.bootstrap.seed``; chunk ``i`` of :data:`RESAMPLES_PER_CHUNK`
        resamples draws from ``SeedSequence([seed, STREAM_SCORES, i])``.
    workers : int, default 1
        Threads sharing the chunks; the result does not depend on it.
    together : int, optional
        How many leading models are evaluated as one group (default: all); every further
        model's values are then bit for bit those of its pair with the first model alone
        (the loss sums are matrix products, whose last bits depend on their shape).  Every
        model is resampled on the same row weights either way.

    Returns
    -------
    ScoreReplicates
        Arrays of shape ``(models, resamples)``; NaN where a resample left a class empty.

    Raises
    ------
    BadInputError
        No model, probabilities of the wrong length, or bad counts.
    """
    resamples = _check_count(resamples, ERR_RESAMPLES)
    workers = _check_count(workers, ERR_WORKERS)
    truth = np.asarray(is_positive, dtype=bool)
    if not probabilities:
        raise BadInputError(ERR_NO_MODEL)
    arrays = []
    for m, p in enumerate(probabilities):
        values = np.asarray(p, dtype=np.float64)
        if values.shape != truth.shape:
            raise BadInputError(ERR_SCORE_SHAPE.format(rows=len(truth), found=values.shape, model=m))
        arrays.append(values)
    if together is not None and (
        isinstance(together, bool) or not isinstance(together, int | np.integer) or not 1 <= together <= len(arrays)
    ):
        raise BadInputError(ERR_TOGETHER.format(models=len(arrays), found=together))
    kernel = _ScoreKernel(truth, arrays, together)
    chunks = [
        (index, min(RESAMPLES_PER_CHUNK, resamples - start))
        for index, start in enumerate(range(0, resamples, RESAMPLES_PER_CHUNK))
    ]
    # the workers are the parallelism: a multi-threaded BLAS under them would only oversubscribe the cores
    with threadpool_limits(limits=1, user_api="blas"):
        if workers == 1 or len(chunks) == 1:
            parts = [kernel.chunk(seed, index, count) for index, count in chunks]
        else:
            with ThreadPoolExecutor(max_workers=min(workers, len(chunks))) as pool:
                parts = list(pool.map(lambda chunk: kernel.chunk(seed, *chunk), chunks))
    stacked = np.concatenate(parts, axis=1)
    models = len(arrays)
    return ScoreReplicates(
        roc_auc=stacked[:models], log_loss=stacked[models : 2 * models], brier=stacked[2 * models :]
    )


# --------------------------------------------------------------------------- intervals


def percentile_interval(replicates: np.ndarray, confidence: float) -> dict[str, Any]:
    """Two-sided percentile interval of one metric's resampled values.

    Parameters
    ----------
    replicates : numpy.ndarray
        The metric in every resample (1-D); NaN where it could not be computed.
    confidence : float
        Coverage, e.g. 0.95 for the 2.5% and 97.5% quantiles (numpy's linear interpolation).

    Returns
    -------
    dict
        ``{"low": float or None, "high": float or None, "undefined": int}``: no bounds
        when the metric is undefined in any resample.
    """
    return percentile_intervals(np.asarray(replicates, dtype=np.float64)[None, :], confidence)[0]


def percentile_intervals(replicates: np.ndarray, confidence: float) -> list[dict[str, Any]]:
    """Vectorised :func:`percentile_interval` over the rows of a ``(metrics, resamples)`` array."""
    confidence = _check_confidence(confidence)
    values = np.asarray(replicates, dtype=np.float64)
    alpha = 1.0 - confidence
    undefined = np.count_nonzero(~np.isfinite(values), axis=1)
    bounds = np.quantile(np.where(np.isfinite(values), values, 0.0), [alpha / 2.0, 1.0 - alpha / 2.0], axis=1)
    intervals: list[dict[str, Any]] = []
    for row, missing in enumerate(undefined.tolist()):
        if missing:
            intervals.append({"low": None, "high": None, "undefined": int(missing)})
        else:
            intervals.append({"low": float(bounds[0, row]), "high": float(bounds[1, row]), "undefined": 0})
    return intervals
