"""Model tests of pipelines.model.bootstrap: exact Poisson weights, cell totals, the row-level kernel, intervals."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import sklearn.metrics as skm
from scipy import stats

from pipelines.core.config import BootstrapSettings, DatasetSettings, DecisionSettings, EvaluationSettings
from pipelines.core.errors import BadInputError
from pipelines.model import bootstrap
from pipelines.model.bootstrap import (
    ERR_CONFIDENCE,
    ERR_NO_MODEL,
    ERR_RESAMPLES,
    ERR_SCORE_SHAPE,
    ERR_WORKERS,
    RESAMPLES_PER_CHUNK,
    STREAM_SCORES,
    cell_replicates,
    generator,
    percentile_interval,
    percentile_intervals,
    poisson_weights,
    score_replicates,
)
from pipelines.model.evaluate import compare_predictions

# --------------------------------------------------------------------------- Poisson(1) weights


def test_the_inverse_cdf_table_agrees_with_scipy_at_both_ends_of_every_cell() -> None:
    cdf, table = bootstrap._poisson_table()
    poisson = stats.poisson(1.0)
    cells = np.arange(1 << 16)
    clear = table != 255
    # the inverse CDF at the start of the cell and just below its end: both give the table's value
    start = poisson.ppf(np.nextafter(cells / 65536.0, 1.0))  # ppf(q) = min k with cdf(k) >= q
    end = poisson.ppf(np.nextafter((cells + 1) / 65536.0, 0.0))
    assert np.array_equal(table[clear], start[clear].astype(np.uint8))
    assert np.array_equal(table[clear], end[clear].astype(np.uint8))
    # an ambiguous cell holds at least one CDF step (the last cell holds every step above k = 7)
    assert np.all(end[~clear] > start[~clear])
    steps = np.unique(np.floor(cdf[:-1][cdf[:-1] < 1.0] * 65536))
    assert (~clear).sum() == len(steps) <= 10
    assert np.allclose(cdf[:10], poisson.cdf(np.arange(10)), rtol=0, atol=1e-15)


def test_poisson_weights_have_the_poisson_distribution() -> None:
    draws = poisson_weights(generator(5, 99), (2_000_000,))
    assert draws.dtype == np.uint8
    counts = np.bincount(draws, minlength=12)[:8]
    expected = stats.poisson(1.0).pmf(np.arange(8)) * draws.size
    # every frequency within 5 standard errors of the Poisson(1) probability
    assert np.all(np.abs(counts - expected) <= 5 * np.sqrt(expected) + 1)
    assert abs(draws.mean() - 1.0) < 0.004 and abs(draws.var() - 1.0) < 0.006
    # the rare cells that straddle a CDF step are resolved, never left as the marker
    assert draws.max() < 20


def test_weights_depend_only_on_the_seed_and_stream() -> None:
    first = poisson_weights(generator(7, STREAM_SCORES, 0), (10_000,))
    again = poisson_weights(generator(7, STREAM_SCORES, 0), (10_000,))
    other = poisson_weights(generator(7, STREAM_SCORES, 1), (10_000,))
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


# --------------------------------------------------------------------------- cells


def test_cell_totals_are_poisson_of_the_cell_counts() -> None:
    counts = np.array([[0, 3], [40, 900]])
    drawn = cell_replicates(counts, 4000, seed=11)
    assert drawn.shape == (4000, 2, 2) and drawn.dtype == np.int64
    assert np.all(drawn[:, 0, 0] == 0)  # an empty cell stays empty
    assert np.allclose(drawn.mean(axis=0), counts, rtol=0.03, atol=0.1)
    assert np.allclose(drawn.var(axis=0), counts, rtol=0.1, atol=0.1)  # Poisson: variance = mean
    assert np.array_equal(drawn, cell_replicates(counts, 4000, seed=11))


@pytest.mark.fairness
def test_cell_resampling_matches_resampling_every_row() -> None:
    """The cell shortcut has the distribution of the row-level Poisson bootstrap (here for the DPD)."""
    rng = np.random.default_rng(3)
    rows = 400
    group = rng.choice(["a", "b"], size=rows, p=[0.3, 0.7])
    y = (rng.random(rows) < 0.3).astype(int)
    p = np.clip(0.3 + 0.3 * y - 0.1 * (group == "a") + rng.normal(0, 0.2, rows), 0, 1)
    dataset = DatasetSettings(target="y", sensitive=["group"])
    settings = EvaluationSettings(bootstrap=BootstrapSettings(resamples=3000, seed=4))
    result = compare_predictions(pd.Series(y), p, None, pd.DataFrame({"group": group}), dataset,
                                 DecisionSettings(threshold=0.4), settings)
    approved = p <= 0.4
    row_level = []
    weights = poisson_weights(generator(123, 1), (3000, rows)).astype(float)
    for w in weights:
        rates = [np.sum(w * approved * (group == g)) / np.sum(w * (group == g)) for g in ("a", "b")]
        row_level.append(abs(rates[0] - rates[1]))
    cells = result["candidate"]["intervals"]["ethical"]["group"]["demographic_parity_difference"]
    low, high = np.quantile(row_level, [0.025, 0.975])
    spread = high - low
    assert abs(cells["low"] - low) < 0.1 * spread and abs(cells["high"] - high) < 0.1 * spread


# --------------------------------------------------------------------------- the row-level kernel


def _kernel_case(rows: int, seed: int = 3, ties: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.random(rows) < 0.3
    candidate = rng.random(rows) * 0.3 + 0.5 * y * rng.random(rows)
    champion = candidate + rng.normal(0, 0.05, rows)
    if ties:  # many ties within each model, and ties between positives and negatives
        candidate, champion = np.round(candidate, 3), np.clip(np.round(champion, 2), 0, 1)
        champion[:5], champion[5:8] = 0.0, 1.0
    else:
        champion = 1 / (1 + np.exp(-champion))
    return y, candidate, champion


@pytest.mark.parametrize("ties", [True, False])
@pytest.mark.parametrize("rows", [37, 3000, 300_000])
def test_kernel_equals_weighted_scikit_learn_on_the_same_weights(rows: int, ties: bool) -> None:
    y, candidate, champion = _kernel_case(rows, ties=ties)
    kernel = bootstrap._ScoreKernel(y, [candidate, champion])
    assert [ranked.tie_start is None for ranked in kernel.ranked] == [not ties, not ties]
    out = kernel.chunk(7, 0, 3)
    # the weights of chunk 0: one Poisson row per resample, in the candidate's score order
    rng = generator(7, STREAM_SCORES, 0)
    home = np.argsort(candidate, kind="stable")
    for r in range(3):
        weights = np.empty(rows)
        weights[home] = poisson_weights(rng, (rows,))
        for m, p in enumerate((candidate, champion)):
            assert out[m, r] == pytest.approx(skm.roc_auc_score(y, p, sample_weight=weights), abs=1e-12)
            assert out[2 + m, r] == pytest.approx(skm.log_loss(y, p, sample_weight=weights), abs=1e-12)
            assert out[4 + m, r] == pytest.approx(skm.brier_score_loss(y, p, sample_weight=weights), abs=1e-12)


def test_unit_weights_give_the_point_estimates() -> None:
    y, candidate, champion = _kernel_case(5000)
    kernel = bootstrap._ScoreKernel(y, [candidate, champion])
    ones = np.ones(5000, dtype=np.uint8)
    for m, p in enumerate((candidate, champion)):
        assert kernel._auc(ones, kernel.ranked[m]) == pytest.approx(skm.roc_auc_score(y, p), abs=1e-15)


def test_score_replicates_do_not_depend_on_the_number_of_workers() -> None:
    y, candidate, champion = _kernel_case(2000)
    one = score_replicates(y, [candidate, champion], 40, seed=9, workers=1)
    two = score_replicates(y, [candidate, champion], 40, seed=9, workers=2)
    for name in ("roc_auc", "log_loss", "brier"):
        assert np.array_equal(getattr(one, name), getattr(two, name))
        assert getattr(one, name).shape == (2, 40)
    # chunk i always draws from its own stream: a longer run starts with the same resamples
    longer = score_replicates(y, [candidate, champion], 40 + RESAMPLES_PER_CHUNK, seed=9)
    assert np.array_equal(longer.roc_auc[:, :32], one.roc_auc[:, :32])


@pytest.mark.fairness
def test_identical_models_have_exactly_zero_paired_differences() -> None:
    y, candidate, _ = _kernel_case(3000)
    replicates = score_replicates(y, [candidate, candidate.copy()], 50, seed=2)
    for name in ("roc_auc", "log_loss", "brier"):
        values = getattr(replicates, name)
        assert np.array_equal(values[0], values[1])
        assert np.std(values[0]) > 0  # while each model's own value does vary


def test_a_resample_without_one_class_has_an_undefined_auc() -> None:
    y = np.array([True, False])
    replicates = score_replicates(y, [np.array([0.9, 0.1])], 200, seed=1)
    undefined = np.isnan(replicates.roc_auc[0])
    assert 0 < undefined.sum() < 200
    assert np.all(replicates.roc_auc[0][~undefined] == 1.0)


def test_score_replicates_validates_its_input() -> None:
    y = np.array([True, False, True])
    with pytest.raises(BadInputError) as error:
        score_replicates(y, [], 10, seed=1)
    assert str(error.value) == ERR_NO_MODEL
    with pytest.raises(BadInputError) as error:
        score_replicates(y, [np.array([0.1, 0.2, 0.3]), np.array([0.1, 0.2])], 10, seed=1)
    assert str(error.value) == ERR_SCORE_SHAPE.format(rows=3, found=(2,), model=1)
    with pytest.raises(BadInputError) as error:
        score_replicates(y, [np.array([0.1, 0.2, 0.3])], 0, seed=1)
    assert str(error.value) == ERR_RESAMPLES.format(found=0)
    with pytest.raises(BadInputError) as error:
        score_replicates(y, [np.array([0.1, 0.2, 0.3])], 10, seed=1, workers=True)
    assert str(error.value) == ERR_WORKERS.format(found=True)


# --------------------------------------------------------------------------- intervals


def test_percentile_interval_is_numpys_linear_quantiles() -> None:
    values = np.arange(1000, dtype=float)
    found = percentile_interval(values, 0.95)
    assert found["undefined"] == 0
    assert found["low"] == pytest.approx(np.quantile(values, 0.025), abs=1e-12) == 24.975
    assert found["high"] == pytest.approx(np.quantile(values, 0.975), abs=1e-12) == 974.025


def test_an_interval_is_undefined_when_any_resample_is() -> None:
    values = np.array([[0.1, 0.2, math.nan, 0.4], [0.1, 0.2, 0.3, 0.4], [math.nan] * 4])
    found = percentile_intervals(values, 0.9)
    assert found[0] == {"low": None, "high": None, "undefined": 1}
    assert found[1]["undefined"] == 0 and found[1]["low"] == pytest.approx(0.115)
    assert found[2] == {"low": None, "high": None, "undefined": 4}


@pytest.mark.parametrize("confidence", [0.0, 1.0, 1.5, True, "0.9"])
def test_confidence_must_be_inside_zero_one(confidence: object) -> None:
    with pytest.raises(BadInputError) as error:
        percentile_interval(np.arange(10.0), confidence)  # type: ignore[arg-type]
    assert str(error.value) == ERR_CONFIDENCE.format(found=confidence)
