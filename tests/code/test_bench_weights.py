"""The weights benchmark claims a speed-up only next to a passed equality check."""

from __future__ import annotations

import numpy as np

import pipelines.model.weights
from benchmarks import weights as bench


def test_the_bench_prints_a_speed_up_with_the_equality_check(capsys):
    assert bench.report([2000]) == 0
    line = capsys.readouterr().out.splitlines()[2]
    assert "identical to the plain loop bit for bit" in line and "x  " in line


def test_a_fast_path_that_changes_outputs_gets_no_speed_up_and_fails(monkeypatch, capsys):
    real = pipelines.model.weights.per_sample_weights
    monkeypatch.setattr(pipelines.model.weights, "per_sample_weights", lambda *a, **k: np.round(real(*a, **k), 3))
    assert bench.report([2000]) == 1
    line = capsys.readouterr().out.splitlines()[2]
    assert "DIFFERENT" in line and "no speed-up is claimed" in line and "x  " not in line
