"""Evaluation and gating at growing holdout sizes: wall seconds and peak memory, checked against fairlearn.

Usage: ``python -m benchmarks.evaluate_gate [--rows 100000 1000000 5000000] [--resamples 1000]``.

For each size, three measurements, each in its own process (so its peak resident
memory is its own, imports and the generated holdout included; the timing covers
only the measured call):

- ``metricframe``: fairlearn ``MetricFrame`` with four metrics (selection rate,
  TPR, FPR, accuracy) by one binary attribute, for one model: point estimates only;
- ``ethical``: the fast path, :func:`pipelines.model.evaluate.evaluate_decisions`, for the
  candidate *and* the champion: every ethical and business metric per group and
  overall, with ``--resamples`` paired bootstrap resamples (intervals of both models
  and of every candidate-minus-champion difference);
- ``full``: :func:`pipelines.model.evaluate.compare_predictions` then
  :func:`pipelines.governance.gate.decide` with the gate of ``fairgate.yaml``: all three families
  for both models, every metric with its paired interval (ROC AUC, log loss and Brier
  score resampled row by row), then both gates.  Latency is not part of it (there is no
  model to time here).

On the same line: whether the fast path's point estimates equal fairlearn's
(``MetricFrame.by_group``, ``difference``, ``ratio`` and ``group_min``, which is what
fairlearn's ``demographic_parity_*``, ``equalized_odds_difference`` and
``equal_opportunity_difference`` compute) to 1e-12, with the largest difference found,
and how many times faster than ``MetricFrame`` each measurement was.  Nothing is
asserted: this measures.  The holdout is generated, seeded: a binary attribute, a 25%
default rate, scores that separate the classes and a champion that disagrees with the
candidate on a few percent of rows.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
MEASUREMENTS = ("metricframe", "ethical", "full")
TOLERANCE = 1e-12
RATES = ("selection_rate", "tpr", "fpr", "accuracy")


def _holdout(rows: int) -> tuple[Any, Any, Any, Any]:
    """Seeded holdout: outcomes, sensitive frame, candidate and champion probabilities of default."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(20240607)
    female = rng.random(rows) < 0.5
    default = rng.random(rows) < 0.23 + 0.04 * female
    p_candidate = np.clip(0.1 + 0.35 * default + rng.normal(0.0, 0.15, rows) + 0.02 * female, 0.0, 1.0)
    p_champion = np.clip(p_candidate + rng.normal(0.0, 0.03, rows), 0.0, 1.0)
    y = pd.Series(default.astype(np.int64), name="default")
    sensitive = pd.DataFrame({"gender": np.where(female, "female", "male")})
    return y, sensitive, p_candidate, p_champion


def _config(resamples: int) -> Any:
    from pipelines.core.config import load_config

    config = load_config(REPO / "fairgate.yaml")
    bootstrap = config.evaluation.bootstrap.model_copy(update={"resamples": resamples})
    evaluation = config.evaluation.model_copy(update={"bootstrap": bootstrap})
    return config.model_copy(update={"evaluation": evaluation})


def _summary(section: dict[str, Any]) -> dict[str, Any]:
    """One attribute's per-group rates and summaries, as the equality check compares them."""
    return {
        "by_group": {g: {r: values[r] for r in RATES} for g, values in section["by_group"].items()},
        "demographic_parity_difference": section["demographic_parity_difference"],
        "demographic_parity_ratio": section["demographic_parity_ratio"],
        "equalized_odds_difference": section["equalized_odds_difference"],
        "equal_opportunity_difference": section["equal_opportunity_difference"],
        "worst_group_accuracy": section["worst_group_accuracy"],
    }


def measure(name: str, rows: int, resamples: int) -> dict[str, Any]:
    """Run one measurement on a generated holdout; return its wall seconds and what it computed."""
    import numpy as np

    config = _config(resamples)
    y, sensitive, p_candidate, p_champion = _holdout(rows)
    threshold = config.decision.refusal_threshold
    if name == "metricframe":
        import sklearn.metrics as skm
        from fairlearn.metrics import MetricFrame, false_positive_rate, selection_rate, true_positive_rate

        good = (y.to_numpy() == 0).astype(int)
        approved = (p_candidate <= threshold).astype(int)
        started = time.perf_counter()
        frame = MetricFrame(
            metrics={
                "selection_rate": selection_rate,
                "tpr": true_positive_rate,
                "fpr": false_positive_rate,
                "accuracy": skm.accuracy_score,
            },
            y_true=good,
            y_pred=approved,
            sensitive_features=sensitive["gender"],
        )
        seconds = time.perf_counter() - started
        difference, ratio = frame.difference(), frame.ratio()
        summary = {
            "by_group": {str(g): {r: float(row[r]) for r in RATES} for g, row in frame.by_group.iterrows()},
            "demographic_parity_difference": float(difference["selection_rate"]),
            "demographic_parity_ratio": float(ratio["selection_rate"]),
            "equalized_odds_difference": float(max(difference["tpr"], difference["fpr"])),
            "equal_opportunity_difference": float(difference["tpr"]),
            "worst_group_accuracy": float(frame.group_min()["accuracy"]),
        }
        return {"seconds": seconds, "summary": summary}
    if name == "ethical":
        from pipelines.model.evaluate import evaluate_decisions

        started = time.perf_counter()
        pair = evaluate_decisions(
            y,
            p_candidate <= threshold,
            p_champion <= threshold,
            sensitive,
            config.dataset,
            config.decision,
            config.evaluation,
        )
        seconds = time.perf_counter() - started
        return {"seconds": seconds, "summary": _summary(pair["candidate"]["ethical"]["gender"])}
    if name == "full":
        from pipelines.governance.gate import decide
        from pipelines.model.evaluate import compare_predictions

        started = time.perf_counter()
        pair = compare_predictions(
            y, p_candidate, p_champion, sensitive, config.dataset, config.decision, config.evaluation
        )
        decision = decide(pair["candidate"], pair["champion"], config.gate, "1", pair["comparison"])
        seconds = time.perf_counter() - started
        del np
        return {
            "seconds": seconds,
            "summary": _summary(pair["candidate"]["ethical"]["gender"]),
            "verdict": "passed" if decision.passed else "blocked",
        }
    raise SystemExit(f"unknown measurement {name}")


def _largest_difference(ours: dict[str, Any], reference: dict[str, Any]) -> float:
    """Largest absolute difference between two summaries (inf when a value is missing or undefined)."""
    worst = 0.0
    pairs = [(ours[k], reference[k]) for k in reference if k != "by_group"]
    for group, rates in reference["by_group"].items():
        pairs += [(ours["by_group"].get(group, {}).get(r), value) for r, value in rates.items()]
    for mine, theirs in pairs:
        if mine is None or theirs is None:
            return float("inf")
        worst = max(worst, abs(float(mine) - float(theirs)))
    return worst


def _run(name: str, rows: int, resamples: int, env: dict[str, str]) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.evaluate_gate", "--measure", name, "--rows", str(rows),
         "--resamples", str(resamples)],
        capture_output=True, text=True, env=env, cwd=REPO,
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith("BENCH ")]
    if completed.returncode != 0 or not lines:
        raise RuntimeError(f"{name} failed at {rows} rows:\n{completed.stderr[-3000:]}")
    return json.loads(lines[-1][6:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000, 5_000_000])
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--measure", choices=MEASUREMENTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        result = measure(args.measure, args.rows[0], args.resamples)
        result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        sys.stdout.write("BENCH " + json.dumps(result) + "\n")
        return 0
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "AIRFLOW", "DVC_"))}
    print(f"evaluation and gate, {args.resamples} paired bootstrap resamples, {os.cpu_count()} cores", flush=True)
    print(f"{'measurement':<12} {'rows':>10} {'wall s':>9} {'peak MB':>9} {'vs MetricFrame':>15}  check", flush=True)
    for rows in args.rows:
        try:
            results = {name: _run(name, rows, args.resamples, env) for name in MEASUREMENTS}
        except RuntimeError as error:
            sys.stderr.write(f"{error}\n")
            return 1
        reference = results["metricframe"]
        for name in MEASUREMENTS:
            result = results[name]
            if name == "metricframe":
                speed, check = "1.0x", "reference (point estimates only, one model)"
            else:
                ratio = reference["seconds"] / result["seconds"]
                speed = f"{ratio:.1f}x faster" if ratio >= 1.0 else f"{1.0 / ratio:.2f}x slower"
                worst = _largest_difference(result["summary"], reference["summary"])
                verdict = "equal to MetricFrame" if worst <= TOLERANCE else "DIFFERS from MetricFrame"
                check = f"{verdict} (max |diff| {worst:.1e})"
                if "verdict" in result:
                    check += f"; gate {result['verdict']}"
            print(
                f"{name:<12} {rows:>10,} {result['seconds']:>9.2f} {result['peak_mb']:>9.0f} {speed:>15}  {check}",
                flush=True,
            )
    print("peak MB is each measurement's own process maximum resident memory, imports and holdout included.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
