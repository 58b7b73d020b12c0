"""Class weights from beta_factor: exact, normalised, stable, never rounded.

The production weights (:mod:`pipelines.model.weights`) are held against the
50-digit reference (:mod:`pipelines.model.weights_reference`) that shares no code
with them, within MAX_ULP units in the last place.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression

from pipelines.core.config import DatasetSettings, MitigationSettings, TrainingSettings
from pipelines.core.errors import BadInputError
from pipelines.model.train import recording_received_weights, train_model
from pipelines.model.weights import (
    class_weights,
    exact_repr,
    per_sample_weights,
    sample_weights,
    training_weights,
)
from pipelines.model.weights_reference import (
    MAX_ULP,
    check_received_weights,
    reference_cell_weights,
    reference_sample_weights,
)


def labels_from(counts: dict) -> np.ndarray:
    return np.concatenate([np.full(n, c) for c, n in counts.items()])


def assert_matches_reference(labels, beta, groups: pd.DataFrame | None = None) -> None:
    plan = training_weights(labels, beta, groups)
    rows = None if groups is None else list(groups.itertuples(index=False, name=None))
    reference = reference_cell_weights(labels, beta, rows)
    assert set(plan.cell_weights) == set(reference)
    got = np.array([plan.cell_weights[c] for c in reference])
    want = np.array(list(reference.values()))
    np.testing.assert_array_max_ulp(got, want, maxulp=MAX_ULP)


# ---------------------------------------------------------------- limits and monotonicity


def test_beta_zero_gives_all_ones():
    assert class_weights(labels_from({0: 900, 1: 100}), 0.0) == {0: 1.0, 1: 1.0}


def test_beta_one_is_inverse_frequency_not_nan():
    weights = class_weights(labels_from({0: 900, 1: 100}), 1.0)
    assert weights[1] / weights[0] == pytest.approx(9.0, rel=1e-15)
    assert 900 * weights[0] + 100 * weights[1] == pytest.approx(1000.0, rel=1e-15)
    assert_matches_reference(labels_from({0: 900, 1: 100}), 1.0)


def test_minority_weight_grows_with_beta():
    labels = labels_from({0: 5000, 1: 200})
    previous = 0.0
    for beta in (0.0, 0.5, 0.9, 0.99, 0.999, 0.9999, 1 - 2**-30, 1.0):
        minority = class_weights(labels, beta)[1]
        assert minority >= previous
        previous = minority


def test_beta_just_below_one_approaches_inverse_frequency_without_cancellation():
    labels = labels_from({0: 10**6, 1: 3})
    near = class_weights(labels, 1 - 2**-50)
    limit = class_weights(labels, 1.0)
    assert near[1] == pytest.approx(limit[1], rel=1e-9)
    assert_matches_reference(labels, 1 - 2**-50)


# ---------------------------------------------------------------- against the 50-digit reference


@settings(max_examples=200, deadline=None, database=None)
@given(
    counts=st.lists(st.integers(min_value=1, max_value=3000), min_size=2, max_size=4),
    beta=st.one_of(
        st.floats(min_value=0.0, max_value=1.0),
        st.sampled_from([0.0, 1.0, 0.5, 1e-9, 0.999, 0.999999, 1 - 2**-40, 1 - 2**-52]),
    ),
)
def test_production_weights_match_the_reference_within_a_few_ulp(counts, beta):
    assert_matches_reference(labels_from(dict(enumerate(counts))), beta)


@settings(max_examples=60, deadline=None, database=None)
@given(
    counts=st.lists(st.integers(min_value=1, max_value=400), min_size=2, max_size=3),
    beta=st.floats(min_value=0.0, max_value=1.0),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_group_reweighed_weights_match_the_reference(counts, beta, seed):
    labels = labels_from(dict(enumerate(counts)))
    rng = np.random.default_rng(seed)
    size = len(labels)
    groups = pd.DataFrame({"sex": rng.choice(["F", "M"], size=size), "age": rng.choice([1, 2], size=size)})
    assert_matches_reference(labels, beta, groups)


@pytest.mark.parametrize(
    "labels",
    [
        labels_from({0: 999, 1: 1}),  # a class with one sample
        labels_from({"good": 50, "bad": 7}),  # string labels
        pd.Series(labels_from({0: 30, 1: 12})),  # pandas
        pd.Series([True] * 10 + [False] * 3),  # booleans
        labels_from({0: 1, 1: 1}),  # two rows
    ],
    ids=["one-sample-class", "strings", "pandas", "booleans", "two-rows"],
)
@pytest.mark.parametrize("beta", [0.0, 0.9, 0.9999, 1.0])
def test_edge_cases_match_the_reference(labels, beta):
    assert_matches_reference(labels, beta)


def test_weights_are_not_rounded_and_are_logged_exactly():
    weights = class_weights(labels_from({0: 7000, 1: 3000}), 0.999)
    for value in weights.values():
        assert value != round(value, 3)
    assert exact_repr(weights)["1"] == float(weights[1]).hex()
    assert float.fromhex(exact_repr(weights)["1"]) == weights[1]


# ---------------------------------------------------------------- vectorised equals the loop, bit for bit


@pytest.mark.parametrize("reweigh", [False, True])
def test_vectorised_sample_weights_match_a_plain_loop_bit_for_bit(reweigh):
    rng = np.random.default_rng(3)
    labels = pd.Series(rng.choice(np.array(["good", "bad", "unknown"]), size=5000, p=[0.7, 0.25, 0.05]))
    groups = pd.DataFrame({"sex": rng.choice(["F", "M", "X"], size=5000)}) if reweigh else None
    plan = training_weights(labels, 0.99, groups)
    vectorised = per_sample_weights(plan, labels, groups)
    rows = groups["sex"].tolist() if reweigh else [None] * len(labels)
    loop = np.array(
        [plan.cell_weights[((g,) if reweigh else (), label)] for label, g in zip(labels, rows, strict=True)],
        dtype=np.float64,
    )
    assert vectorised.tobytes() == loop.tobytes()


def test_sample_weights_average_one():
    rng = np.random.default_rng(5)
    labels = rng.choice([0, 1], size=20_000, p=[0.93, 0.07])
    groups = pd.DataFrame({"g": rng.choice(["a", "b"], size=20_000, p=[0.8, 0.2])})
    for frame in (None, groups):
        vector = per_sample_weights(training_weights(labels, 0.9999, frame), labels, frame)
        assert vector.mean() == pytest.approx(1.0, rel=1e-12)


# ---------------------------------------------------------------- Kamiran-Calders


def test_reweighing_makes_group_and_label_independent():
    rng = np.random.default_rng(11)
    groups = pd.DataFrame({"sex": rng.choice(["F", "M"], size=4000, p=[0.3, 0.7])})
    # the positive rate differs by group: 40% for F, 15% for M
    labels = np.where(groups["sex"] == "F", rng.random(4000) < 0.4, rng.random(4000) < 0.15).astype(int)
    plan = training_weights(labels, 0.0, groups)  # beta 0: the group factor alone
    w = per_sample_weights(plan, labels, groups)
    for sex in ("F", "M"):
        in_group = (groups["sex"] == sex).to_numpy()
        weighted_rate = w[in_group & (labels == 1)].sum() / w[in_group].sum()
        assert weighted_rate == pytest.approx(labels.mean(), rel=1e-12)


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("beta", [-0.1, 1.1, float("nan"), "x", None])
def test_bad_beta(beta):
    with pytest.raises(BadInputError, match=r"beta_factor must be a number in \[0, 1\]"):
        class_weights([0, 1], beta)


def test_single_class_empty_and_missing_labels():
    with pytest.raises(BadInputError, match="at least two classes in the training labels, found only 1"):
        class_weights([1, 1, 1], 0.9)
    with pytest.raises(BadInputError, match="at least one training label"):
        class_weights([], 0.9)
    with pytest.raises(BadInputError, match="1 missing value"):
        class_weights(pd.Series([0, 1, None]), 0.9)


def test_class_absent_from_the_training_window_is_an_error():
    with pytest.raises(BadInputError, match=r"class 2 is absent from the training window \(found classes \[0, 1\]\)"):
        class_weights([0, 1, 1], 0.9, classes=[0, 1, 2])
    with pytest.raises(BadInputError, match=r"class\(es\) \[2\] outside the expected classes \[0, 1\]"):
        class_weights([0, 1, 2], 0.9, classes=[0, 1])


def test_label_without_weight_and_missing_group_are_refused():
    with pytest.raises(BadInputError, match="labels without a class weight: 2"):
        sample_weights(np.array([0, 1, 2]), {0: 1.0, 1: 1.0})
    with pytest.raises(BadInputError, match="sensitive column 'sex' has 1 missing value"):
        training_weights([0, 1, 1], 0.9, pd.DataFrame({"sex": ["F", None, "M"]}))


# ---------------------------------------------------------------- the run-time check


def test_run_time_check_passes_the_real_weights_and_names_each_fault():
    rng = np.random.default_rng(7)
    labels = pd.Series(rng.choice([0, 1], size=3000, p=[0.8, 0.2]))
    plan = training_weights(labels, 0.999)
    real = per_sample_weights(plan, labels)
    assert check_received_weights(real, labels, 0.999).passed

    rounded = check_received_weights(np.round(real, 3), labels, 0.999)
    assert not rounded.passed
    want = reference_cell_weights(labels, 0.999)[((), 0)]
    assert rounded.mismatches[0] == (
        f"training fingerprint mismatch for class 0: the estimator received 0.834 on 2383 of 2383 row(s), "
        f"the 50-digit reference gives {want!r} (beta_factor=0.999)"
    )

    other_beta = per_sample_weights(training_weights(labels, 0.9), labels)
    assert any("class 1" in m for m in check_received_weights(other_beta, labels, 0.999).mismatches)

    dropped = np.where(labels == 1, 0.0, real)
    message = " ".join(check_received_weights(dropped, labels, 0.999).mismatches)
    assert "class 1" in message and "received 0.0" in message

    assert check_received_weights(None, labels, 0.999).mismatches == [
        "the estimator received no sample weights: class re-balancing was skipped"
    ]
    assert "received 2999 sample weights for 3000" in check_received_weights(real[1:], labels, 0.999).mismatches[0]
    assert not check_received_weights(real.astype(np.float32), labels, 0.999).passed


def test_reference_loop_equals_reference_cells():
    labels = [0, 1, 1, 0, 0, 0]
    cells = reference_cell_weights(labels, 0.9)
    assert reference_sample_weights(labels, 0.9) == [cells[((), y)] for y in labels]


def test_the_recorder_sees_what_fit_received_and_leaves_a_plain_estimator():
    X = np.arange(20, dtype=float).reshape(-1, 1)
    y = np.array([0, 1] * 10)
    estimator = LogisticRegression()
    weights = np.linspace(0.5, 1.5, 20)
    with recording_received_weights(estimator) as received:
        estimator.fit(X, y, sample_weight=weights)
    assert received["sample_weight"].tobytes() == weights.tobytes()
    assert "fit" not in vars(estimator)


def test_train_model_records_received_weights_equal_to_the_reference():
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(
        {
            "income": rng.normal(size=600),
            "region": rng.choice(["n", "s"], size=600),
            "sex": rng.choice(["F", "M"], size=600),
            "default": rng.choice([0, 1], size=600, p=[0.85, 0.15]),
        }
    )
    dataset = DatasetSettings(target="default", sensitive=["sex"])
    for reweigh in (False, True):
        training = TrainingSettings(
            beta_factor=0.999, mitigation=MitigationSettings(method="reweighing" if reweigh else "none")
        )
        trained = train_model(frame, ["income", "region"], dataset, training, classes=[0, 1])
        groups = list(frame[["sex"]].itertuples(index=False, name=None)) if reweigh else None
        check = check_received_weights(trained.received_sample_weight, frame["default"], 0.999, groups)
        assert check.passed, check.mismatches
        assert trained.fingerprint["reweigh_sensitive"] is reweigh
