"""Per-sample class weights: the vectorised path against the reference loops, with proof of equality.

Usage: ``python -m benchmarks.weights [--labels 1000000 10000000]``.

A speed-up is printed only next to the check that the outputs did not change:
the vectorised weights must equal a plain per-sample loop over the same class
weights bit for bit, and the 50-digit reference loop within MAX_ULP units in
the last place.  When either check fails the speed-up is not printed and the
command exits 1: C07's "93.1% faster" path skipped edge cases and ignored
``beta_factor``.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pandas as pd

BETA = 0.999


def _labels(size: int, seed: int = 11) -> pd.Series:
    rng = np.random.default_rng(seed)
    # imbalanced, with a rare third class: the edge cases a shortcut would skip
    return pd.Series(rng.choice(np.array([0, 1, 2]), size=size, p=[0.78, 0.2199, 0.0001]))


def measure(size: int, beta: float = BETA) -> dict[str, float | bool | int]:
    """Time the three ways of computing per-sample weights and compare their outputs."""
    from pipelines.model.weights import per_sample_weights, training_weights
    from pipelines.model.weights_reference import MAX_ULP, reference_sample_weights, ulp_distance

    labels = _labels(size)
    started = time.perf_counter()
    plan = training_weights(labels, beta)
    vectorised = per_sample_weights(plan, labels)
    vectorised_s = time.perf_counter() - started

    started = time.perf_counter()
    plain = np.array([plan.class_weights[label] for label in labels.tolist()], dtype=np.float64)
    plain_loop_s = time.perf_counter() - started

    started = time.perf_counter()
    reference = np.array(reference_sample_weights(labels.to_numpy(), beta), dtype=np.float64)
    reference_s = time.perf_counter() - started

    return {
        "labels": size,
        "vectorised_s": vectorised_s,
        "plain_loop_s": plain_loop_s,
        "reference_loop_s": reference_s,
        "identical_to_plain_loop": vectorised.tobytes() == plain.tobytes(),
        "max_ulp_to_reference": int(ulp_distance(vectorised, reference).max()),
        "within_reference": bool(ulp_distance(vectorised, reference).max() <= MAX_ULP),
    }


def report(sizes: list[int]) -> int:
    """Print the weights benchmark; 1 when any output differed (no speed-up is then claimed)."""
    from pipelines.model.weights_reference import MAX_ULP

    status = 0
    print(f"class weights, beta_factor={BETA!r}, 3 classes (one rare)")
    print(f"{'labels':>12} {'vectorised s':>13} {'plain loop s':>13} {'50-digit ref s':>15} {'speed-up':>9}  outputs")
    for size in sizes:
        m = measure(size)
        same = bool(m["identical_to_plain_loop"]) and bool(m["within_reference"])
        check = (
            f"identical to the plain loop bit for bit; within {m['max_ulp_to_reference']} ulp "
            f"(allowed {MAX_ULP}) of the 50-digit reference"
            if same
            else f"DIFFERENT (bit-identical: {m['identical_to_plain_loop']}, "
            f"max ulp to reference: {m['max_ulp_to_reference']}): no speed-up is claimed"
        )
        speed = f"{m['plain_loop_s'] / m['vectorised_s']:>8.1f}x" if same else f"{'-':>9}"
        print(
            f"{size:>12,} {m['vectorised_s']:>13.3f} {m['plain_loop_s']:>13.3f} {m['reference_loop_s']:>15.3f} "
            f"{speed}  {check}",
            flush=True,
        )
        status = status or (0 if same else 1)
    print("speed-up = plain per-sample loop / vectorised; printed only when the outputs were checked equal.")
    return status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, nargs="+", default=[1_000_000, 10_000_000])
    return report(parser.parse_args().labels)


if __name__ == "__main__":
    sys.exit(main())
