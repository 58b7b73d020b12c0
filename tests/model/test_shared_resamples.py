"""The evaluate stage's comparisons: every model scored once, one set of paired resamples for all of them.

The candidate is compared with the champion and with its unmitigated twin by
:func:`pipelines.model.evaluate.evaluate_against`.  These tests hold it to:

- the numbers every evaluation entry point gave before the resamples were
  shared, to the last digit (frozen from the code of that commit, latency
  left out: it is a timing);
- the pair with the champion equal to :func:`evaluate_models` of that pair,
  per-group values and intervals included;
- the twin's pair: every point value and every score-metric interval equal to
  the separate pair's, its count intervals from the shared resamples;
- shared resamples (the candidate's result is one, whatever it is compared
  with) and paired ones (a twin identical to the candidate differs by exactly
  zero in every resample), each shown to fail when the resamples are not;
- :func:`pipelines.model.bootstrap.split_cells` drawing the law of Poisson
  row weights.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from pipelines.core.errors import BadInputError
from pipelines.model import bootstrap
from pipelines.model.evaluate import (
    ERR_NO_REFERENCE,
    ERR_REFERENCE,
    evaluate_against,
    evaluate_models,
)
from tests.model import shared_resamples_case as case_module
from tests.model.shared_resamples_case import DATASET, DECISION, EVALUATION, FROZEN, without_latency

SCORE_METRICS = ("roc_auc", "log_loss", "brier")
REAL_SCORE_REPLICATES = bootstrap.score_replicates


@pytest.fixture(scope="module")
def data() -> dict[str, Any]:
    return case_module.case()


def _common(data: dict[str, Any]) -> tuple[Any, ...]:
    return (data["y"], data["sensitive"], DATASET, DECISION, EVALUATION)


def _against(data: dict[str, Any], champion: bool = True, twin: Any = None) -> dict[str, dict[str, Any]]:
    models = data["models"]
    references = {
        "champion": (models["champion"], data["champion_features"]) if champion else None,
        "unmitigated": (models["twin"] if twin is None else twin, data["features"]),
    }
    return evaluate_against(models["candidate"], data["features"], references, *_common(data))


def _json(node: Any) -> Any:
    """As written to evaluation.json (floats at full precision, NaN refused)."""
    return json.loads(json.dumps(without_latency(node), allow_nan=False))


def _leaves(node: Any, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    if isinstance(node, dict):
        found: dict[tuple[str, ...], Any] = {}
        for key, value in node.items():
            found.update(_leaves(value, (*path, str(key))))
        return found
    return {path: node}


# --------------------------------------------------------------------------- the same numbers as before


def test_every_entry_point_gives_the_numbers_frozen_before_the_resamples_were_shared() -> None:
    frozen = json.loads(FROZEN.read_text(encoding="utf-8"))
    now = _json(case_module.frozen_outputs())
    assert set(now) == set(frozen)
    for name in frozen:
        differing = [p for p, v in _leaves(frozen[name]).items() if _leaves(now[name]).get(p, "missing") != v]
        assert not differing, f"{name}: {len(differing)} values changed, e.g. {differing[:5]}"
        assert now[name] == frozen[name]


def test_the_pair_with_the_champion_is_the_separate_pair_to_the_last_digit(data: dict[str, Any]) -> None:
    models = data["models"]
    shared = _json(_against(data)["champion"])
    separate = _json(
        evaluate_models(
            models["candidate"], data["features"], models["champion"], data["champion_features"], *_common(data)
        )
    )
    assert shared == separate
    # per-group values and their intervals are part of it
    by_group = shared["candidate"]["intervals"]["ethical"]["gender+region"]["by_group"]
    assert set(by_group) == {"female+islands", "female+north", "female+south", "male+islands", "male+north",
                             "male+south"}
    assert shared["comparison"]["ethical"]["region"]["by_group"]["south"]["tpr"]["difference"] is not None


def test_without_a_champion_the_candidate_alone_is_evaluate_model_to_the_last_digit(data: dict[str, Any]) -> None:
    models = data["models"]
    pairs = _against(data, champion=False)
    alone = evaluate_models(models["candidate"], data["features"], None, None, *_common(data))
    assert _json(pairs["champion"]) == _json(alone)
    assert pairs["champion"]["champion"] is None and pairs["champion"]["comparison"] is None
    assert pairs["unmitigated"]["bootstrap"]["paired"] is True


def test_the_twin_pair_keeps_every_point_value_and_score_interval_of_the_separate_pair(data: dict[str, Any]) -> None:
    models = data["models"]
    shared = _leaves(_json(_against(data)["unmitigated"]))
    separate = _leaves(
        _json(evaluate_models(models["candidate"], data["features"], models["twin"], data["features"], *_common(data)))
    )
    assert set(shared) == set(separate)
    count_intervals = 0
    for path, value in separate.items():
        interval = "intervals" in path or path[-1] in ("low", "high", "undefined")
        score = any(name in path for name in SCORE_METRICS)
        if not interval or score:
            assert shared[path] == value, path  # points, differences, score intervals: the same computation
        elif path[0] == "champion" or path[0] == "comparison":
            count_intervals += 1  # the twin's count metrics: drawn by splitting the champion pair's cells
    assert count_intervals > 100
    # the shared draws are not the separate ones (else the twin would not be resampled with the champion)
    low = ("comparison", "technical", "accuracy", "low")
    assert shared[low] != separate[low]


# --------------------------------------------------------------------------- shared and paired, both directions


def _identical_twin_differences(pairs: dict[str, dict[str, Any]]) -> dict[tuple[str, ...], Any]:
    """Every difference, bound and undefined count of the candidate against a twin that is the candidate."""
    return {p: v for p, v in _leaves(_json(pairs["unmitigated"]["comparison"])).items()}


def test_the_candidate_is_one_result_whatever_it_is_compared_with(data: dict[str, Any]) -> None:
    pairs = _against(data)
    assert _json(pairs["champion"]["candidate"]) == _json(pairs["unmitigated"]["candidate"])


def test_separate_pairs_resample_the_candidate_differently_so_the_check_above_can_fail(data: dict[str, Any]) -> None:
    models = data["models"]
    with_champion = evaluate_models(
        models["candidate"], data["features"], models["champion"], data["champion_features"], *_common(data)
    )
    with_twin = evaluate_models(models["candidate"], data["features"], models["twin"], data["features"], *_common(data))
    a, b = _json(with_champion["candidate"]), _json(with_twin["candidate"])
    assert a != b
    assert {k: v for k, v in a.items() if k != "intervals"} == {k: v for k, v in b.items() if k != "intervals"}


def test_a_twin_identical_to_the_candidate_differs_by_exactly_zero_in_every_resample(data: dict[str, Any]) -> None:
    differences = _identical_twin_differences(_against(data, twin=data["models"]["candidate"]))
    assert differences
    for path, value in differences.items():
        if path[-1] == "undefined":
            continue
        assert value is None or value == 0.0, path
    assert differences[("technical", "roc_auc", "low")] == 0.0
    assert differences[("ethical", "gender", "demographic_parity_difference", "high")] == 0.0


def _unpaired_split(totals: np.ndarray, counts: np.ndarray, seed: int, model: int) -> np.ndarray:
    """Split every total by the further model's approval share in its group and truth alone.

    The totals are kept, but whatever the earlier models decided on a row no longer says
    anything about the further model's decision on it: resampled, not paired.
    """
    marginal = counts.sum(axis=tuple(range(2, counts.ndim - 1)), keepdims=True)
    rows = marginal.sum(axis=-1)
    share = np.divide(marginal[..., 1], rows, out=np.zeros(rows.shape), where=rows > 0)
    share = np.broadcast_to(share, counts.shape[:-1])
    ones = np.asarray(bootstrap.generator(seed, 99, model).binomial(totals, share), dtype=np.int64)
    return np.stack([totals - ones, ones], axis=-1)


def _unshared_scores(
    is_positive: Any, probabilities: Any, resamples: int, seed: int, workers: int = 1, together: Any = None
) -> Any:
    """Every model's score replicates on row weights of its own: resampled, but not paired."""
    parts = [REAL_SCORE_REPLICATES(is_positive, [p], resamples, seed + m, workers) for m, p in
             enumerate(probabilities)]
    return bootstrap.ScoreReplicates(*(np.vstack([getattr(part, name) for part in parts]) for name in
                                       ("roc_auc", "log_loss", "brier")))


def test_unpaired_resamples_would_fail_the_identical_twin_check(
    data: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(bootstrap, "split_cells", _unpaired_split)
        counts = _identical_twin_differences(_against(data, twin=data["models"]["candidate"]))
    assert counts[("ethical", "gender", "demographic_parity_difference", "high")] > 0.0
    assert counts[("technical", "roc_auc", "low")] == 0.0  # the score weights were still shared
    with monkeypatch.context() as patch:
        patch.setattr(bootstrap, "score_replicates", _unshared_scores)
        scores = _identical_twin_differences(_against(data, twin=data["models"]["candidate"]))
    assert scores[("technical", "roc_auc", "low")] < 0.0 < scores[("technical", "roc_auc", "high")]
    assert scores[("ethical", "gender", "demographic_parity_difference", "high")] == 0.0


# --------------------------------------------------------------------------- scored once


class _Counted:
    """A fitted model whose ``predict_proba`` calls are counted by the number of rows asked for."""

    def __init__(self, model: Any) -> None:
        self.model, self.classes_, self.calls = model, model.classes_, []

    def predict_proba(self, features: Any) -> Any:
        self.calls.append(len(features))
        return self.model.predict_proba(features)


def test_every_model_is_scored_on_the_holdout_once(data: dict[str, Any]) -> None:
    counted = {name: _Counted(model) for name, model in data["models"].items()}
    evaluate_against(
        counted["candidate"],
        data["features"],
        {"champion": (counted["champion"], data["champion_features"]),
         "unmitigated": (counted["twin"], data["features"])},
        *_common(data),
    )
    rows = len(data["y"])
    batches = EVALUATION.latency_batches * EVALUATION.latency_repeats
    for name, model in counted.items():
        assert model.calls.count(rows) == 1, name
        assert model.calls.count(EVALUATION.latency_batch_rows) == batches, name  # latency times real calls
    # the two separate pairs the stage made before scored (and timed) the candidate twice
    again = _Counted(data["models"]["candidate"])
    for other, features in ((counted["champion"], data["champion_features"]), (counted["twin"], data["features"])):
        evaluate_models(again, data["features"], other, features, *_common(data))
    assert again.calls.count(rows) == 2


def test_evaluate_against_refuses_no_reference_and_a_malformed_one(data: dict[str, Any]) -> None:
    models = data["models"]
    with pytest.raises(BadInputError) as none:
        evaluate_against(models["candidate"], data["features"], {}, *_common(data))
    assert str(none.value) == ERR_NO_REFERENCE
    with pytest.raises(BadInputError) as bad:
        evaluate_against(models["candidate"], data["features"], {"champion": (models["champion"], None)},
                         *_common(data))
    assert str(bad.value) == ERR_REFERENCE.format(name="champion", found="tuple")


# --------------------------------------------------------------------------- split_cells draws Poisson row weights


def test_split_cells_keeps_the_totals_and_draws_independent_poisson_parts() -> None:
    counts = np.array([[0, 0], [3, 0], [0, 5], [40, 160], [1, 1]])  # rows of each cell by the further decision
    resamples = 40_000
    totals = bootstrap.cell_replicates(counts.sum(axis=-1), resamples, 5)
    split = bootstrap.split_cells(totals, counts, 5, 1)
    assert split.shape == (resamples, 5, 2) and split.dtype == np.int64
    assert np.array_equal(split.sum(axis=-1), totals)  # the totals, hence every earlier model, unchanged
    assert not split[:, 0].any() and not split[:, 1, 1].any() and not split[:, 2, 0].any()
    # Poisson(n) parts: mean and variance n, independent of each other
    parts = split[:, 3:].reshape(resamples, -1).astype(np.float64)
    expected = counts[3:].reshape(-1).astype(np.float64)
    standard_error = np.sqrt(expected / resamples)
    assert np.all(np.abs(parts.mean(axis=0) - expected) < 5 * standard_error)
    assert np.all(np.abs(parts.var(axis=0) / expected - 1.0) < 0.05)
    correlation = np.corrcoef(parts[:, 0], parts[:, 1])[0, 1]
    assert abs(correlation) < 5 / np.sqrt(resamples)



def test_split_cells_pairs_a_further_model_with_the_rows_of_each_cell() -> None:
    # cells (group, truth, first model's decision); the further model decides as the first on every row
    counts = np.zeros((2, 2, 2, 2), dtype=np.int64)
    for group, truth, decision in np.ndindex(2, 2, 2):
        counts[group, truth, decision, decision] = 10 + 7 * group + 3 * truth + 20 * decision
    totals = bootstrap.cell_replicates(counts.sum(axis=-1), 500, 3)
    paired = bootstrap.split_cells(totals, counts, 3, 1)
    assert not paired[..., ~np.eye(2, dtype=bool)].any()  # never a row the two models decide differently
    assert np.array_equal(paired.sum(axis=-1), totals)
    # splitting by the further model's share alone keeps the totals but loses the pairing: the check can fail
    unpaired = _unpaired_split(totals, counts, 3, 1)
    assert np.array_equal(unpaired.sum(axis=-1), totals)
    assert unpaired[..., ~np.eye(2, dtype=bool)].any()


def test_split_cells_depends_on_the_seed_and_the_model_only() -> None:
    counts = np.array([[[7, 3], [2, 8]], [[0, 4], [5, 5]]])
    totals = bootstrap.cell_replicates(counts.sum(axis=-1), 300, 9)
    first = bootstrap.split_cells(totals, counts, 9, 2)
    assert np.array_equal(first, bootstrap.split_cells(totals, counts, 9, 2))
    assert not np.array_equal(first, bootstrap.split_cells(totals, counts, 9, 3))
