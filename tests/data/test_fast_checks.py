"""Every fast check gives the same numbers and verdicts as a straightforward implementation.

The audit, drift and leakage checks run on encoded columns (histograms per
distinct value, hashed row keys).  Each statistic is compared here, on small
seeded data, with the textbook version: scikit-learn's ROC AUC and mutual
information, scipy's two-sample statistics, a loop for PSI, pandas'
``duplicated``, ``merge`` and ``isin`` for rows and ids, numpy's quantile.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import jensenshannon
from scipy.stats import entropy, ks_2samp, wasserstein_distance
from sklearn.metrics import mutual_info_score, roc_auc_score

from pipelines.core.config import DatasetSettings, LeakageSettings
from pipelines.data import statistics
from pipelines.data.audit import _linear_quantile
from pipelines.data.columns import EncodedFrame, encode_column, values_in
from pipelines.data.leakage import find_leakage, label_information, univariate_auc

SEEDS = range(20)


def _outcome(rng: np.random.Generator, rows: int, share: float = 0.4) -> np.ndarray:
    outcome = rng.random(rows) < share
    outcome[0], outcome[1] = True, False  # both classes present
    return outcome


# ---------------------------------------- univariate AUC


def _reference_rank_auc(values: np.ndarray, outcome: np.ndarray) -> float:
    """sklearn on the values, missing values placed below, then above, every value; the best separation."""
    present = ~np.isnan(values)
    best = 0.0
    for fill in (-1e18, 1e18):
        auc = roc_auc_score(outcome, np.where(present, values, fill))
        best = max(best, auc, 1 - auc)
    return best


@pytest.mark.parametrize("seed", SEEDS)
def test_rank_auc_equals_scikit_learn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    rows = int(rng.integers(3, 80))
    values = rng.integers(-4, 5, rows).astype(float)  # many ties
    values[rng.random(rows) < 0.15] = np.nan
    outcome = _outcome(rng, rows)
    ours = statistics.rank_auc(encode_column(pd.Series(values)), outcome)
    assert ours == pytest.approx(_reference_rank_auc(values, outcome), abs=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_encoded_auc_equals_target_encoding_then_scikit_learn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    rows = int(rng.integers(12, 80))
    categories = rng.choice(np.array(["a", "b", "c", "d", "e"], dtype=object), rows)
    categories[rng.random(rows) < 0.1] = None
    outcome = _outcome(rng, rows)
    test = rng.random(rows) < 0.4
    test[0], test[1], test[2] = True, True, False
    column = encode_column(pd.Series(categories))
    ours = statistics.encoded_auc(column.codes, column.n_unique, outcome, test)
    # straightforward: mean outcome per category on training rows (missing is a category), prior when unseen
    frame = pd.DataFrame({"c": pd.Series(categories).fillna("<missing>"), "y": outcome})
    means = frame[~test].groupby("c")["y"].mean()
    scores = frame.loc[test, "c"].map(means).fillna(frame.loc[~test, "y"].mean())
    auc = roc_auc_score(outcome[test], scores)
    assert ours == pytest.approx(max(auc, 1 - auc), abs=1e-12)


def test_univariate_auc_verdicts_match_on_a_planted_leak() -> None:
    rng = np.random.default_rng(3)
    rows = 400
    outcome = _outcome(rng, rows, 0.3)
    leak = outcome + rng.normal(0, 0.05, rows)
    honest = outcome + rng.normal(0, 1.5, rows)
    bound = LeakageSettings().max_single_feature_auc
    test = np.arange(rows) >= 320
    for values, leaks in ((leak, True), (honest, False)):
        ours = univariate_auc(encode_column(pd.Series(values)), outcome, test)
        assert (ours > bound) is leaks
        assert ((_reference_rank_auc(values, outcome)) > bound) is leaks


# ---------------------------------------- mutual information


@pytest.mark.parametrize("seed", SEEDS)
def test_uncertainty_coefficient_equals_scikit_learn_mutual_information(seed: int) -> None:
    rng = np.random.default_rng(seed)
    rows = int(rng.integers(10, 120))
    values = rng.choice(np.array(["a", "b", "c", "d"], dtype=object), rows)
    values[rng.random(rows) < 0.1] = None
    outcome = _outcome(rng, rows)
    column = encode_column(pd.Series(values))
    ours = statistics.uncertainty_coefficient(column.codes, column.n_unique, outcome)
    labels = pd.Series(values).fillna("<missing>")
    corrected = mutual_info_score(outcome, labels) - (labels.nunique() - 1) / (2 * rows)  # Miller-Madow
    expected = max(0.0, corrected) / entropy(np.bincount(outcome))
    assert ours == pytest.approx(expected, abs=1e-12)


def test_quantile_bins_keep_ties_together_and_match_pandas_qcut_counts() -> None:
    rng = np.random.default_rng(5)
    values = np.round(rng.gamma(2.0, 3.0, 1000), 1)
    column = encode_column(pd.Series(values))
    bins, size = statistics.quantile_bins(column, 10)
    assert size == 10
    frame = pd.DataFrame({"v": values, "bin": bins})
    assert frame.groupby("v")["bin"].nunique().max() == 1  # equal values, one bin
    assert (np.diff(frame.sort_values("v")["bin"].to_numpy()) >= 0).all()  # bins follow the order
    assert np.bincount(bins).max() < 0.2 * len(values)


def test_non_monotone_leak_is_seen_by_information_not_by_auc() -> None:
    """A status code whose odd values mean default: AUC near 0.5, information near 1."""
    rng = np.random.default_rng(8)
    outcome = _outcome(rng, 2000, 0.3)
    code = rng.integers(0, 5, 2000) * 2 + outcome  # 0..9, odd = default
    column = encode_column(pd.Series(code))
    settings_ = LeakageSettings()
    assert univariate_auc(column, outcome, np.arange(2000) >= 1600) < settings_.max_single_feature_auc
    information = label_information(column, outcome, settings_.nmi_bins)
    assert information > 0.95
    labels = pd.Series(code)
    reference = (mutual_info_score(outcome, labels) - (labels.nunique() - 1) / 4000) / entropy(np.bincount(outcome))
    assert information == pytest.approx(reference, abs=1e-12)


# ---------------------------------------- two-sample distances


@pytest.mark.parametrize("seed", SEEDS)
def test_ks_and_wasserstein_equal_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = np.round(rng.normal(0, 3, int(rng.integers(1, 90))))
    b = np.round(rng.normal(1, 4, int(rng.integers(1, 90))))
    ca, cb = encode_column(pd.Series(a)), encode_column(pd.Series(b))
    ks, w = statistics.ks_wasserstein(ca.sorted_uniques, ca.sorted_counts, cb.sorted_uniques, cb.sorted_counts)
    assert ks == pytest.approx(ks_2samp(a, b).statistic, abs=1e-12)
    assert w == pytest.approx(wasserstein_distance(a, b), abs=1e-9)


def _loop_psi(counts: list[int], reference: list[int], pseudo: float) -> float:
    total = sum(counts) + pseudo * len(counts)
    reference_total = sum(reference) + pseudo * len(reference)
    value = 0.0
    for n, m in zip(counts, reference, strict=True):
        p, q = (n + pseudo) / total, (m + pseudo) / reference_total
        value += (p - q) * math.log(p / q)
    return value


@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 50)), min_size=1, max_size=12))
@settings(max_examples=80, deadline=None, derandomize=True, database=None)
def test_psi_and_js_equal_a_loop_and_scipy(pairs: list[tuple[int, int]]) -> None:
    counts, reference = [a for a, _ in pairs], [b for _, b in pairs]
    assert statistics.psi(np.array(counts), np.array(reference), 0.5) == pytest.approx(
        _loop_psi(counts, reference, 0.5), abs=1e-12
    )
    if sum(counts) and sum(reference):
        expected = jensenshannon(np.array(counts) / sum(counts), np.array(reference) / sum(reference), base=2)
        assert statistics.js_distance(np.array(counts), np.array(reference)) == pytest.approx(expected, abs=1e-9)


def test_noise_floors_hold_on_samples_of_one_population() -> None:
    """Under no drift, the statistics exceed their floors at most about `significance` of the time."""
    rng = np.random.default_rng(11)
    significance, trials, over = 0.01, 200, {"ks": 0, "psi": 0, "share": 0}
    for _ in range(trials):
        a, b = rng.normal(size=300), rng.normal(size=900)
        over["ks"] += ks_2samp(a, b).statistic > statistics.ks_noise(300, 900, significance)
        ca, cb = rng.multinomial(300, [0.5, 0.3, 0.2]), rng.multinomial(900, [0.5, 0.3, 0.2])
        over["psi"] += statistics.psi(ca, cb, 0.5) > statistics.psi_noise(3, 300, 900, significance)
        sa, sb = rng.binomial(300, 0.3) / 300, rng.binomial(900, 0.3) / 900
        over["share"] += abs(sa - sb) > statistics.share_noise(sa, sb, 300, 900, significance)
    assert all(count <= 3 * significance * trials + 2 for count in over.values()), over


def test_linear_quantile_equals_numpy() -> None:
    rng = np.random.default_rng(2)
    for _ in range(50):
        values = np.round(rng.normal(0, 5, int(rng.integers(1, 60))))
        column = encode_column(pd.Series(values))
        for q in (0.0, 0.001, 0.1, 0.5, 0.73, 0.999, 1.0):
            ours = _linear_quantile(column.sorted_uniques.astype(float), column.sorted_counts, q)
            assert ours == np.quantile(values, q)


# ---------------------------------------- rows and ids


def _rows(seed: int, rows: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "a": rng.integers(0, 3, rows),
            "b": rng.choice(np.array(["x", "y"], dtype=object), rows),
            "c": np.where(rng.random(rows) < 0.2, np.nan, rng.integers(0, 2, rows).astype(float)),
        }
    )
    return frame.astype({"b": "str"})


@pytest.mark.parametrize("seed", range(10))
def test_repeated_rows_equal_pandas_duplicated(seed: int) -> None:
    frame = _rows(seed).assign(d=pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(300) % 7, unit="D"))
    encoded = EncodedFrame(frame)
    for columns in (["a", "b", "c"], ["a", "b", "c", "d"], ["b"], ["c"]):
        expected = frame[columns].duplicated(keep=False).to_numpy()
        assert (encoded.repeated_rows(columns) == expected).all(), columns


def test_a_hash_collision_never_makes_a_duplicate() -> None:
    """Rows are confirmed value by value: two different rows forced onto one hash stay distinct."""
    frame = pd.DataFrame({"a": [1, 2, 1], "b": ["x", "y", "x"]})
    encoded = EncodedFrame(frame)
    encoded._row_hashes[("a", "b")] = np.zeros(3, dtype=np.uint64)  # every row on one hash
    assert encoded.repeated_rows(["a", "b"]).tolist() == [True, False, True]
    assert encoded.shared_rows(["a", "b"], np.array([True, True, False])).tolist() == [True, False, True]


@pytest.mark.parametrize("seed", range(10))
def test_rows_on_both_sides_equal_a_pandas_merge(seed: int) -> None:
    frame = _rows(seed, 200)
    test = np.random.default_rng(seed).random(len(frame)) < 0.3
    ours = test & EncodedFrame(frame).shared_rows(["a", "b", "c"], test)
    filled = frame.fillna(-999)  # merge does not match NaN with NaN the way duplicated does
    train_rows = filled[~test].drop_duplicates()
    merged = filled[test].reset_index().merge(train_rows, on=["a", "b", "c"], how="inner")
    expected = np.zeros(len(frame), dtype=bool)
    expected[merged["index"].to_numpy()] = True
    assert (ours == expected).all()


def test_ids_in_reference_equal_pandas_isin() -> None:
    rng = np.random.default_rng(4)
    here = pd.Series([f"A{i}" for i in rng.integers(0, 500, 300)], dtype="str")
    there = pd.Series([f"A{i}" for i in rng.integers(250, 900, 400)], dtype="str")
    a, b = encode_column(here), encode_column(there)
    ours = np.append(values_in(a.uniques, b.uniques), False)[a.codes]
    assert (ours == here.astype(object).isin(set(there)).to_numpy()).all()
    numbers = values_in(np.array([1, 2, 3]), np.array([3, 4]))
    assert numbers.tolist() == [False, False, True]


def test_contamination_counts_equal_the_straightforward_ones() -> None:
    rng = np.random.default_rng(6)
    rows = 500
    frame = pd.DataFrame(
        {
            "id": [f"E{i}" for i in rng.integers(0, 400, rows)],
            "x": rng.integers(0, 4, rows),
            "g": rng.choice(np.array(["f", "m"]), rows),
            "y": rng.integers(0, 2, rows),
        }
    )
    test = np.arange(rows) >= 400
    dataset = DatasetSettings(target="y", id_columns=["id"], sensitive=["g"])
    report = find_leakage(frame, dataset, LeakageSettings(), test)
    by_id = next(f for f in report.blocking if f.columns == ["id"])
    shared = set(frame.loc[test, "id"]) & set(frame.loc[~test, "id"])
    assert by_id.evidence["shared_entities"] == len(shared)
    assert by_id.evidence["test_rows"] == int(frame.loc[test, "id"].isin(shared).sum())
    # 16 possible rows in 500: every test row meets a training row by chance, a warning only
    by_rows = next(f for f in report.findings if f.check == "contamination" and f.columns != ["id"])
    assert by_rows.severity == "warn"
    merged = frame[test].reset_index().merge(frame.loc[~test, ["x", "g", "y"]].drop_duplicates(), on=["x", "g", "y"])
    assert by_rows.evidence["test_rows"] == merged["index"].nunique()
