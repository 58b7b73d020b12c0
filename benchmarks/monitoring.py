"""Monitoring throughput: each horizon of ``fairgate monitor`` against a plain ``predict_proba`` on the same rows.

Usage: ``python -m benchmarks.monitoring [--rows 100000 1000000]`` (or ``python benchmarks/run.py --only monitoring``).

One model is trained as :mod:`benchmarks.scoring` trains it (``train_model``
with the repository's fairgate.yaml, on the same 40,000 generated rows), but
on the training rows of the retraining's split (``holdout_mask``): the
holdout left out is the reference the estimated horizon is calibrated on, as
the monitor calibrates on the champion's holdout.  Then, for each size, one
generated month of that many applications is scored once with the scoring
code (:func:`benchmarks.scoring.score_fairgate`) and each part below is timed
three times (the median is printed), with the repository's settings
(``evaluation.bootstrap``: 1,000 resamples):

- *decision_mix*: approval rates overall and per group and the four-fifths
  ratio, each with its bootstrap interval (decision-time horizon);
- *input_drift*: every feature's drift and every group's share shift against
  the training rows (decision-time horizon);
- *estimated*: the monitor's ``estimated_horizon`` (the holdout scored by the
  model, then ``estimate_performance``: calibrated probabilities, simulated
  outcomes, their intervals);
- *realised*: the monitor's ``realised_horizon`` (the month's labels joined to
  its decisions, then ``realised_performance``: the gate's evaluation with
  its bootstrap);
- *plain*: ``model.predict_proba(rows)``, the baseline of the ratios.

The outputs are checked before any figure is printed: the decision-time
four-fifths ratio must equal fairlearn's ``demographic_parity_ratio`` of the
same decisions (relative 1e-12), each group's approval rate the plain mean of
its decisions, the realised ROC AUC ``sklearn.metrics.roc_auc_score`` on the
same rows and the realised four-fifths ratio fairlearn's.  If one differs, no
figure is printed for that size and the command exits 1.

``--fewer-resamples ROWS:PART=N`` runs PART with N resamples at ROWS rows
(its line then says ``ONLY N resamples``); ``--repeats N`` changes the three
runs of each part.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.scoring import (
    REPEATS,
    SCORED_MONTH,
    TRAIN_MONTHS,
    TRAIN_ROWS_PER_MONTH,
    _config,
    _month,
    _timed,
    _verified_model,
    score_fairgate,
    score_plain,
)

PARTS = ("decision_mix", "input_drift", "estimated", "realised", "plain")
RESAMPLED = ("decision_mix", "estimated", "realised")
RELATIVE = 1e-12


def prepare(work: Path, sizes: list[int]) -> None:
    """Train on the split's training rows; write the model, both halves and one month per size into ``work``."""
    import cloudpickle
    import pandas as pd

    from pipelines.data.leakage import candidate_feature_columns
    from pipelines.data.split import holdout_mask
    from pipelines.model.train import train_model

    config = _config()
    dataset = config.dataset
    frame = pd.concat([_month(month, TRAIN_ROWS_PER_MONTH) for month in TRAIN_MONTHS], ignore_index=True)
    is_holdout = holdout_mask(frame, dataset, config.split)
    train = frame[~is_holdout].reset_index(drop=True)
    features = candidate_feature_columns(train, dataset)
    trained = train_model(train, features, dataset, config.training, decision=config.decision, with_unmitigated=False)
    (work / "model.pkl").write_bytes(cloudpickle.dumps((trained.model, features)))
    train.to_parquet(work / "training.parquet", index=False)
    frame[is_holdout].reset_index(drop=True).to_parquet(work / "holdout.parquet", index=False)
    for rows in sizes:
        _month(SCORED_MONTH, rows).to_parquet(work / f"applications-{rows}.parquet", index=False)


def with_resamples(config: Any, resamples: int | None) -> Any:
    """``config`` with ``evaluation.bootstrap.resamples`` replaced (None: as it is)."""
    if resamples is None:
        return config
    bootstrap = config.evaluation.bootstrap.model_copy(update={"resamples": resamples})
    return config.model_copy(update={"evaluation": config.evaluation.model_copy(update={"bootstrap": bootstrap})})


def _parts(
    config: Any, champion: Any, month: Any, decisions: Any, training: Any, holdout: Any, fewer: dict[str, int]
) -> dict[str, Any]:
    """Each part as a call without arguments, the monitor's calls on the month (``fewer``: resamples per part)."""
    from pipelines.core.small_groups import merge_small_groups
    from pipelines.data.input_drift import input_drift
    from pipelines.flows.monitor_horizons import estimated_horizon, realised_horizon
    from pipelines.model.decision_mix import decision_mix

    dataset, limits = config.dataset, config.monitoring.decision_time
    sensitive = merge_small_groups(month[list(dataset.sensitive)], dataset.small_groups)
    report_only = {attribute: policy.report_only for attribute, policy in dataset.small_groups.items()}
    favorable = decisions["favorable"].to_numpy(dtype=bool)
    drift = config.audit.drift
    mix, estimated, realised = (with_resamples(config, fewer.get(part)) for part in RESAMPLED)
    return {
        "decision_mix": lambda: decision_mix(favorable, sensitive, report_only, limits, mix.evaluation.bootstrap),
        "input_drift": lambda: input_drift(
            month, training, champion.inputs, dataset, limits, drift.significance, drift.pseudo_count
        ),
        "estimated": lambda: estimated_horizon(estimated, champion.model, champion.inputs, holdout, decisions, month),
        "realised": lambda: realised_horizon(realised, decisions, month),
        "plain": lambda: score_plain(champion, month),
    }


def _value(values: list[Any], metric: str, subject: str) -> float:
    found = [v.value for v in values if v.metric == metric and v.subject == subject]
    if len(found) != 1:
        raise SystemExit(f"monitoring benchmark: {len(found)} value(s) {metric} of {subject}, expected one")
    return float(found[0])


def _differs(name: str, found: float, expected: float) -> str | None:
    if math.isclose(found, expected, rel_tol=RELATIVE, abs_tol=0.0):
        return None
    return f"{name}: {found!r} against {expected!r}"


def check_equal(config: Any, month: Any, decisions: Any, mix: list[Any], realised: list[Any]) -> str | None:
    """Why the monitor's values differ from fairlearn's and sklearn's on the same rows (None when equal)."""
    import numpy as np
    import pandas as pd
    from fairlearn.metrics import demographic_parity_ratio
    from sklearn.metrics import roc_auc_score

    from pipelines.core.small_groups import merge_small_groups
    from pipelines.model.decision_mix import MISSING_GROUP

    dataset = config.dataset
    favorable = decisions["favorable"].to_numpy(dtype=bool)
    truth = (month[dataset.target] == dataset.positive_label).to_numpy()
    sensitive = merge_small_groups(month[list(dataset.sensitive)], dataset.small_groups)
    problems = []
    for attribute in dataset.sensitive:
        groups = sensitive[attribute].map(lambda value: MISSING_GROUP if pd.isna(value) else str(value)).to_numpy()
        for group in np.unique(groups):
            plain = float(favorable[groups == group].mean())
            found = _value(mix, "approval_rate", f"{attribute}={group}")
            problems.append(_differs(f"approval rate of {attribute}={group}", found, plain))
        policy = dataset.small_groups.get(attribute)
        gated = ~np.isin(groups, list(policy.report_only if policy else ()))
        expected = demographic_parity_ratio(
            truth[gated], favorable[gated].astype(int), sensitive_features=groups[gated]
        )
        for horizon, values in (("decision-time", mix), ("realised", realised)):
            found = _value(values, "demographic_parity_ratio", attribute)
            problems.append(_differs(f"{horizon} four-fifths ratio of {attribute}", found, expected))
    auc = roc_auc_score(truth, decisions["p_positive"].to_numpy())
    problems.append(_differs("realised roc_auc", _value(realised, "roc_auc", "overall"), auc))
    found = [problem for problem in problems if problem is not None]
    return "; ".join(found) if found else None


def measure(work: Path, rows: int, fewer: dict[str, int], repeats: int = REPEATS) -> dict[str, Any]:
    """Every part on ``rows`` applications, ``repeats`` times each; the medians and the equality check."""
    import pandas as pd

    config = _config()
    champion = _verified_model(work)
    month = pd.read_parquet(work / f"applications-{rows}.parquet")
    training = pd.read_parquet(work / "training.parquet")
    holdout = pd.read_parquet(work / "holdout.parquet")
    decisions = score_fairgate(champion, month, work / "decisions.parquet")
    seconds: dict[str, list[float]] = {part: [] for part in PARTS}
    results: dict[str, Any] = {}
    for _ in range(repeats):
        for part, call in _parts(config, champion, month, decisions, training, holdout, fewer).items():
            elapsed, results[part] = _timed(call)
            seconds[part].append(elapsed)
            print(f"  {rows:,} rows: {part} {elapsed:.3f} s", file=sys.stderr, flush=True)
    realised = results["realised"][0]
    return {
        "rows": rows,
        "seconds": {part: statistics.median(values) for part, values in seconds.items()},
        "difference": check_equal(config, month, decisions, results["decision_mix"], realised),
    }


def _fewer(parser: argparse.ArgumentParser, given: list[str]) -> dict[int, dict[str, int]]:
    """``ROWS:PART=N`` arguments as ``{rows: {part: resamples}}``; a bad one is a usage error (exit 2)."""
    fewer: dict[int, dict[str, int]] = {}
    for item in given:
        rows, _, rest = item.partition(":")
        part, _, count = rest.partition("=")
        if not (rows.isdigit() and part in RESAMPLED and count.isdigit() and int(count) > 0):
            parser.error(f"--fewer-resamples {item!r}: expected ROWS:PART=N, PART one of {', '.join(RESAMPLED)}")
        fewer.setdefault(int(rows), {})[part] = int(count)
    return fewer


def main(argv: list[str] | None = None) -> int:
    """Print the monitoring lines; exit 1 when a value differs from fairlearn's or sklearn's."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument(
        "--fewer-resamples",
        nargs="+",
        default=[],
        metavar="ROWS:PART=N",
        help=f"at ROWS rows, run PART ({', '.join(RESAMPLED)}) with N bootstrap resamples (printed on its line)",
    )
    parser.add_argument("--repeats", type=int, default=REPEATS, help="runs of each part (the median is printed)")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, found {args.repeats}")
    resamples = _config().evaluation.bootstrap.resamples
    fewer = _fewer(parser, args.fewer_resamples)
    print(f"{'monitoring':<12} {'rows':>10} {'part':<13} {'median s':>9} {'rows/s':>12} {'x plain':>8}")
    failed = False
    with tempfile.TemporaryDirectory(prefix="fairgate-bench-monitoring-") as folder:
        work = Path(folder)
        prepare(work, args.rows)
        for rows in args.rows:
            result = measure(work, rows, fewer.get(rows, {}), args.repeats)
            if result["difference"] is not None:
                failed = True
                print(f"{'monitoring':<12} {rows:>10,} DIFFERENT: {result['difference']}; no figure is claimed")
                continue
            plain = result["seconds"]["plain"]
            for part in PARTS:
                median = result["seconds"][part]
                reduced = fewer.get(rows, {}).get(part)
                print(
                    f"{'monitoring':<12} {rows:>10,} {part:<13} {median:>9.3f} {rows / median:>12,.0f} "
                    f"{median / plain:>7.1f}x"
                    + ("" if reduced is None else f"  ONLY {reduced} resamples, not the configured {resamples}"),
                    flush=True,
                )
            print(
                f"{'monitoring':<12} {rows:>10,} outputs: four-fifths ratios (decision-time, realised) equal to "
                f"fairlearn's, approval rates to the plain means, realised ROC AUC to sklearn's (rel {RELATIVE:g})",
                flush=True,
            )
    print(
        f"medians of {args.repeats}; bootstrap {resamples} resamples (evaluation.bootstrap); estimated = "
        "estimated_horizon, realised = realised_horizon, plain = predict_proba"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
