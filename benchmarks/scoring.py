"""Scoring throughput: fairgate's scoring of an interval against a plain ``predict_proba`` on the same rows.

Usage: ``python -m benchmarks.scoring [--rows 100000 1000000]`` (or ``python benchmarks/run.py --only scoring``).

One model is trained the way ``retrain`` trains it (``train_model`` with the
repository's fairgate.yaml: its estimator, class weights and mitigation), on
a fixed 40,000 generated rows: the size of the training set does not change
what scoring costs per row.  Then, for each size, one generated month of
that many applications is scored both ways, each three times (the median is
printed):

- *fairgate*: what ``fairgate score`` does per row once the champion is
  checked and loaded: the input data hash, ``score_applications`` (the
  positive column of ``predict_proba``, the decision at the recorded
  threshold, the columns that say what decided), the Parquet file of the
  decisions and their hash;
- *plain*: ``model.predict_proba(rows)``.

The outputs are compared before any figure is printed: fairgate's
``p_positive`` must equal the plain call's positive column bit for bit, and
its decisions the gate's rule applied to that column.  If they differ, no
ratio is printed and the command exits 1.  The per-call costs outside the
rows (the audit log and registry checks, downloading and checksumming the
model files) are not in these figures.

``--part fairgate|plain|none --work DIR --rows N`` runs one path once on a
folder prepared by ``--prepare DIR``, so that a whole process can be timed
from outside; ``none`` imports and reads the same and scores nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
TRAIN_ROWS_PER_MONTH = 20_000
TRAIN_MONTHS = ("2024-01", "2024-02")
SCORED_MONTH = "2025-01"
REPEATS = 3


def _config() -> Any:
    from pipelines.core.config import load_config

    return load_config(REPO / "fairgate.yaml")


def _month(month: str, rows: int) -> Any:
    from pipelines.data.generator import generate_month

    config = _config()
    settings = config.generator.model_copy(update={"rows_per_month": rows})
    return generate_month(month, settings).frame


def prepare(work: Path, sizes: list[int]) -> None:
    """Train the model and write it with one Parquet file of applications per size into ``work``."""
    import cloudpickle
    import pandas as pd

    from pipelines.data.leakage import candidate_feature_columns
    from pipelines.model.train import train_model

    config = _config()
    dataset = config.dataset
    train = pd.concat([_month(month, TRAIN_ROWS_PER_MONTH) for month in TRAIN_MONTHS], ignore_index=True)
    features = candidate_feature_columns(train, dataset)
    trained = train_model(train, features, dataset, config.training, decision=config.decision, with_unmitigated=False)
    (work / "model.pkl").write_bytes(cloudpickle.dumps((trained.model, features)))
    for rows in sizes:
        _month(SCORED_MONTH, rows).to_parquet(work / f"applications-{rows}.parquet", index=False)


def _verified_model(work: Path) -> Any:
    """The trained model as scoring holds a checked champion, deciding at the configured threshold."""
    import cloudpickle

    from pipelines.flows.score import VerifiedModel
    from pipelines.governance.decision_record import DecisionPolicy

    config = _config()
    model, features = cloudpickle.loads((work / "model.pkl").read_bytes())
    favorable = config.dataset.positive_is_favorable
    policy = DecisionPolicy(
        config.decision.positive_threshold(favorable), favorable, config.dataset.positive_label, "benchmark"
    )
    return VerifiedModel("1", "0" * 64, model, list(features), policy)


def score_fairgate(champion: Any, frame: Any, out: Path) -> Any:
    """Fairgate's per-row scoring work: data hash, decisions, their Parquet file and hash."""
    import pandas as pd

    from pipelines.core.files import write_parquet
    from pipelines.flows.score import Applications, frame_hash, score_applications

    config = _config()
    ids = frame[list(config.dataset.id_columns)] if config.dataset.id_columns else pd.DataFrame(index=frame.index)
    applications = Applications(frame, ids, frame_hash(frame), "benchmark")
    decisions = score_applications(champion, applications, config, SCORED_MONTH)
    write_parquet(decisions, out)
    frame_hash(decisions)
    return decisions


def score_plain(champion: Any, frame: Any) -> Any:
    """The bare call: ``predict_proba`` on the model's inputs."""
    return champion.model.predict_proba(frame[champion.inputs])


def _timed(call: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def check_equal(champion: Any, decisions: Any, probabilities: Any) -> str | None:
    """Why fairgate's decisions differ from the plain call's (None when they are the same, bit for bit)."""
    import numpy as np

    from pipelines.model.holdout import positive_column
    from pipelines.model.metrics import decide_at_threshold

    column, _ = positive_column(champion.model, champion.policy.positive_label)
    plain = np.asarray(probabilities, dtype=np.float64)[:, column]
    if not np.array_equal(decisions["p_positive"].to_numpy(), plain):
        return "p_positive differs from predict_proba's positive column"
    expected = decide_at_threshold(plain, champion.policy.positive_threshold, champion.policy.positive_is_favorable)
    if not np.array_equal(decisions["favorable"].to_numpy(), expected):
        return "the decisions differ from the gate's rule on predict_proba"
    return None


def measure(work: Path, rows: int) -> dict[str, Any]:
    """Both paths on ``rows`` applications, REPEATS times each; the medians and the equality check."""
    import pandas as pd

    champion = _verified_model(work)
    frame = pd.read_parquet(work / f"applications-{rows}.parquet")
    fairgate_s, plain_s = [], []
    decisions = probabilities = None
    for _ in range(REPEATS):
        seconds, decisions = _timed(lambda: score_fairgate(champion, frame, work / "decisions.parquet"))
        fairgate_s.append(seconds)
        seconds, probabilities = _timed(lambda: score_plain(champion, frame))
        plain_s.append(seconds)
    return {
        "rows": rows,
        "fairgate_s": statistics.median(fairgate_s),
        "plain_s": statistics.median(plain_s),
        "difference": check_equal(champion, decisions, probabilities),
    }


def run_part(work: Path, rows: int, part: str) -> None:
    """One path, once, for timing the whole process from outside (``none``: imports and reading only)."""
    import pandas as pd

    champion = _verified_model(work)
    frame = pd.read_parquet(work / f"applications-{rows}.parquet")
    if part == "fairgate":
        score_fairgate(champion, frame, work / f"decisions-{rows}.parquet")
    elif part == "plain":
        score_plain(champion, frame)


def main(argv: list[str] | None = None) -> int:
    """Print the scoring lines; exit 1 when an output differs from the plain call's."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--prepare", type=Path, help="train the model and write the applications into this folder")
    parser.add_argument("--part", choices=("fairgate", "plain", "none"), help="run one path once (with --work)")
    parser.add_argument("--work", type=Path, help="a folder made by --prepare")
    args = parser.parse_args(argv)
    if args.prepare:
        args.prepare.mkdir(parents=True, exist_ok=True)
        prepare(args.prepare, args.rows)
        return 0
    if args.part:
        run_part(args.work, args.rows[0], args.part)
        return 0
    print(f"{'scoring':<10} {'rows':>10} {'fairgate s':>11} {'plain s':>9} {'ratio':>7} {'rows/s':>12}  outputs")
    failed = False
    with tempfile.TemporaryDirectory(prefix="fairgate-bench-scoring-") as folder:
        work = Path(folder)
        prepare(work, args.rows)
        for rows in args.rows:
            result = measure(work, rows)
            if result["difference"] is not None:
                failed = True
                print(f"{'scoring':<10} {rows:>10,} DIFFERENT: {result['difference']}; no figure is claimed")
                continue
            print(
                f"{'scoring':<10} {rows:>10,} {result['fairgate_s']:>11.3f} {result['plain_s']:>9.3f} "
                f"{result['fairgate_s'] / result['plain_s']:>6.2f}x {rows / result['fairgate_s']:>12,.0f}  "
                "equal to predict_proba bit for bit, decisions equal to the gate's rule",
                flush=True,
            )
    print(f"medians of {REPEATS}; fairgate = data hash + decisions + Parquet + decisions hash, plain = predict_proba")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
