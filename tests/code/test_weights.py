"""Class weights from beta_factor: exact, normalised, stable, never rounded."""

from __future__ import annotations

from decimal import Decimal, localcontext

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.errors import BadInputError
from pipelines.weights import class_weights, effective_number_factor, exact_repr, sample_weights


def reference_weights(counts: dict, beta: float) -> dict:
    """High-precision reference (60 significant digits): (1 - b) / (1 - b**n), normalised to mean one."""
    with localcontext() as ctx:
        ctx.prec = 60
        b = Decimal(beta)  # the exact binary value of the float
        if b == 1:
            factors = {c: Decimal(1) / n for c, n in counts.items()}
        else:
            factors = {c: (1 - b) / (1 - b**n) for c, n in counts.items()}
        total = Decimal(sum(counts.values()))
        scale = total / sum(counts[c] * factors[c] for c in counts)
        return {c: factors[c] * scale for c in counts}


def labels_from(counts: dict) -> np.ndarray:
    return np.concatenate([np.full(n, c) for c, n in counts.items()])


def test_beta_zero_gives_equal_weights():
    assert class_weights(labels_from({0: 900, 1: 100}), 0.0) == {0: 1.0, 1: 1.0}


def test_beta_one_is_inverse_frequency_not_nan():
    weights = class_weights(labels_from({0: 900, 1: 100}), 1.0)
    assert weights[1] / weights[0] == pytest.approx(9.0, rel=1e-15)
    assert 900 * weights[0] + 100 * weights[1] == pytest.approx(1000.0, rel=1e-15)


def test_minority_weight_grows_with_beta():
    labels = labels_from({0: 5000, 1: 200})
    previous = 0.0
    for beta in (0.0, 0.9, 0.99, 0.999, 0.9999, 1.0):
        minority = class_weights(labels, beta)[1]
        assert minority >= previous
        previous = minority


@settings(max_examples=200, deadline=None, database=None)
@given(
    counts=st.lists(st.integers(min_value=1, max_value=200_000), min_size=2, max_size=4),
    beta=st.one_of(st.floats(min_value=0.0, max_value=1.0), st.sampled_from([0.999999, 1 - 2**-40, 0.5, 1e-9])),
)
def test_production_weights_match_the_exact_reference(counts, beta):
    count_map = dict(enumerate(counts))
    # the factor uses the counts only, so build weights from counts without materialising huge label arrays
    factors = {c: effective_number_factor(n, beta) for c, n in count_map.items()}
    reference = reference_weights(count_map, beta)
    scale_ref = {c: float(reference[c]) for c in count_map}
    total = sum(counts)
    from math import fsum

    scale = total / fsum(count_map[c] * factors[c] for c in count_map)
    got = np.array([factors[c] * scale for c in count_map])
    want = np.array([scale_ref[c] for c in count_map])
    np.testing.assert_array_max_ulp(got, want, maxulp=64)


def test_weights_are_not_rounded():
    weights = class_weights(labels_from({0: 7000, 1: 3000}), 0.999)
    for value in weights.values():
        assert value != round(value, 3)
    assert exact_repr(weights)["1"] == float(weights[1]).hex()


def test_sample_weights_match_a_plain_loop_bit_for_bit():
    rng = np.random.default_rng(3)
    labels = rng.choice(np.array(["good", "bad", "unknown"]), size=5000, p=[0.7, 0.25, 0.05])
    weights = class_weights(labels, 0.99)
    vectorised = sample_weights(labels, weights)
    loop = np.array([weights[label] for label in labels], dtype=np.float64)
    assert vectorised.tobytes() == loop.tobytes()


@pytest.mark.parametrize("kind", ["numpy", "pandas"])
def test_integer_and_string_labels_pandas_and_numpy(kind):
    for values in ([0, 1, 1, 0, 0], ["no", "yes", "yes", "no", "no"]):
        labels = np.array(values) if kind == "numpy" else pd.Series(values)
        weights = class_weights(labels, 0.9)
        assert len(weights) == 2
        assert sum(weights[v] for v in values) == pytest.approx(5.0, rel=1e-15)


def test_class_with_one_sample():
    weights = class_weights(labels_from({0: 999, 1: 1}), 0.9999)
    assert weights[1] > weights[0]


@pytest.mark.parametrize("beta", [-0.1, 1.1, float("nan"), "x"])
def test_bad_beta(beta):
    with pytest.raises(BadInputError, match=r"beta_factor must be a number in \[0, 1\]"):
        class_weights([0, 1], beta)


def test_single_class_and_empty_and_missing_labels():
    with pytest.raises(BadInputError, match="at least two classes in the training labels, found only 1"):
        class_weights([1, 1, 1], 0.9)
    with pytest.raises(BadInputError, match="at least one training label"):
        class_weights([], 0.9)
    with pytest.raises(BadInputError, match="1 missing value"):
        class_weights(pd.Series([0, 1, None]), 0.9)


def test_label_without_weight_is_refused():
    with pytest.raises(BadInputError, match="labels without a class weight: 2"):
        sample_weights(np.array([0, 1, 2]), {0: 1.0, 1: 1.0})
