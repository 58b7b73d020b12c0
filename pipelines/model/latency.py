"""Latency of ``predict_proba``: timed batches, interleaved between models, with bootstrap replicates.

``latency_ms_p50`` / ``latency_ms_p95`` are wall milliseconds of one
``predict_proba`` call on ``evaluation.latency_batch_rows`` rows.  They are
timings: unlike every other metric they are not reproducible to the bit, and
no other metric depends on them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from pipelines.core.config import EvaluationSettings
from pipelines.model import bootstrap

LatencyReplicates = tuple[dict[str, float], dict[str, np.ndarray]]
"""One model's latency: point estimates by metric name, and their resampled values."""


def _batches(rows: int, evaluation: EvaluationSettings) -> tuple[int, list[int]]:
    """Batch size and the starts of the timed batches, spread evenly over the holdout."""
    size = min(evaluation.latency_batch_rows, rows)
    available = rows // size
    count = min(evaluation.latency_batches, available)
    # row positions, not values: rounding picks whole batch starts for the latency timing only
    starts = sorted({int(s) for s in np.linspace(0, (available - 1) * size, count).round() // size * size})
    return size, starts


def time_models(
    models: Sequence[tuple[Any, Any]], evaluation: EvaluationSettings
) -> tuple[list[np.ndarray], dict[str, int]]:
    """Time ``predict_proba`` of every model on the same batches, interleaved, ``latency_repeats`` times.

    Interleaving (batch 1 of each model, then batch 2, ...) exposes every model to the
    same machine load, so the paired latency difference is not a load artefact.  Each
    model's full-holdout prediction made just before serves as its warm-up.

    Parameters
    ----------
    models : sequence of (model, features)
        Each fitted model with its own input rows (the same rows, in the same order).
    evaluation : EvaluationSettings
        Batch rows, number of batches and repeats.

    Returns
    -------
    tuple of (list of numpy.ndarray, dict of str to int)
        Every model's timings in milliseconds, and ``batch_rows``, ``batches``,
        ``repeats`` and ``samples``.
    """
    rows = len(models[0][1])
    size, starts = _batches(rows, evaluation)
    timings: list[list[float]] = [[] for _ in models]
    for _ in range(evaluation.latency_repeats):
        for start in starts:
            for m, (model, features) in enumerate(models):
                stop = start + size
                batch = features.iloc[start:stop] if hasattr(features, "iloc") else features[start:stop]
                began = time.perf_counter()
                model.predict_proba(batch)
                timings[m].append((time.perf_counter() - began) * 1000.0)
    details = {
        "batch_rows": size,
        "batches": len(starts),
        "repeats": evaluation.latency_repeats,
        "samples": len(starts) * evaluation.latency_repeats,
    }
    return [np.asarray(t, dtype=np.float64) for t in timings], details


def latency_replicates(timings: list[np.ndarray], evaluation: EvaluationSettings) -> list[LatencyReplicates]:
    """p50 and p95 of every model's timings, and their resampled values on shared resamples of the batches.

    Parameters
    ----------
    timings : list of numpy.ndarray
        Every model's timings (:func:`time_models`), the same number for each.
    evaluation : EvaluationSettings
        Bootstrap resamples and seed.

    Returns
    -------
    list of LatencyReplicates
        Per model, ``latency_ms_p50`` and ``latency_ms_p95``: the point estimates and
        their resampled values.
    """
    settings = evaluation.bootstrap
    samples = len(timings[0])
    picks = bootstrap.generator(settings.seed, bootstrap.STREAM_LATENCY).integers(
        0, samples, size=(settings.resamples, samples)
    )
    out = []
    for t in timings:
        p50, p95 = np.percentile(t, [50.0, 95.0])
        resampled = np.percentile(t[picks], [50.0, 95.0], axis=1)
        out.append(
            (
                {"latency_ms_p50": float(p50), "latency_ms_p95": float(p95)},
                {"latency_ms_p50": resampled[0], "latency_ms_p95": resampled[1]},
            )
        )
    return out
