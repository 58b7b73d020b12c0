"""Stage-by-stage wall time and peak memory of the retrain pipeline at growing sizes.

Usage: ``python benchmarks/run.py [--rows 100000 1000000] [--only stages|scoring|monitoring]``.  Each stage runs in
its own process (so its peak resident memory is its own) on generated loan
applications, calling the same ``pipelines`` functions the DAG calls.  Nothing
is asserted: this measures, to keep the project honest over time.  The
timing excludes imports and reading inputs; peak memory includes them.
Then the scoring throughput at the same sizes (:mod:`benchmarks.scoring`):
fairgate's scoring against a plain ``predict_proba`` on the same rows, the
outputs checked equal.  Then the monitoring throughput at the same sizes
(:mod:`benchmarks.monitoring`): each horizon of the monitor against the same
plain ``predict_proba``, its values checked against fairlearn's and
sklearn's.  ``--only`` runs one of the three parts.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STAGES = ("generate", "version", "audit", "leakage", "split", "train", "evaluate", "gate", "register")


def _config():
    from pipelines.core.config import load_config

    return load_config(REPO / "fairgate.yaml")


def _months(rows: int) -> tuple[list[str], int]:
    from pipelines.data.generator import month_range

    count = 13
    return month_range("2024-01", count), max(50, rows // count)


def run_stage(stage: str, work: Path, rows: int) -> dict:
    """Run one stage on the prepared work folder; return its wall seconds."""
    import numpy as np
    import pandas as pd

    config = _config()
    dataset = config.dataset
    months, per_month = _months(rows)
    batches = work / "data" / "batches"
    started = time.perf_counter()
    if stage == "generate":
        from pipelines.core.config import GeneratorSettings
        from pipelines.data.generator import generate_month

        settings = GeneratorSettings(rows_per_month=per_month)
        batches.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        for month in months:
            generate_month(month, settings).frame.to_parquet(batches / f"{month}.parquet", index=False)
    elif stage == "version":
        from pipelines.core.project import ProjectPaths
        from pipelines.data.versioning import version_data

        version_data(ProjectPaths(work), push=True)
    elif stage == "audit":
        import great_expectations  # noqa: F401  (its ~2-6 s import is not the audit's cost)

        from pipelines.data.audit import audit_dataset

        files = sorted(batches.glob("*.parquet"))
        reference = pd.concat([pd.read_parquet(f) for f in files[:-1]], ignore_index=True)
        batch = pd.read_parquet(files[-1])
        started = time.perf_counter()
        audit_dataset(batch, reference, dataset, config.audit)
    elif stage in ("leakage", "split"):
        from pipelines.data.leakage import find_leakage
        from pipelines.data.split import holdout_mask

        frame = pd.concat([pd.read_parquet(f) for f in sorted(batches.glob("*.parquet"))], ignore_index=True)
        started = time.perf_counter()
        mask = holdout_mask(frame, dataset, config.split)
        if stage == "leakage":
            find_leakage(frame, dataset, config.leakage, mask)
        else:
            frame[~mask].to_parquet(work / "train.parquet", index=False)
            frame[mask].to_parquet(work / "holdout.parquet", index=False)
    elif stage == "train":
        import cloudpickle

        from pipelines.data.leakage import candidate_feature_columns
        from pipelines.model.train import train_model

        train = pd.read_parquet(work / "train.parquet")
        started = time.perf_counter()
        features = candidate_feature_columns(train, dataset)
        trained = train_model(train, features, dataset, config.training, decision=config.decision)
        (work / "model.pkl").write_bytes(cloudpickle.dumps((trained.model, features)))
    elif stage in ("evaluate", "gate"):
        import cloudpickle

        from pipelines.governance.gate import decide
        from pipelines.model.evaluate import evaluate_model

        model, features = cloudpickle.loads((work / "model.pkl").read_bytes())
        holdout = pd.read_parquet(work / "holdout.parquet")
        started = time.perf_counter()
        if stage == "evaluate":
            # candidate and champion on the same holdout, as the DAG does
            for _ in range(2):
                result = evaluate_model(
                    model,
                    holdout[features],
                    holdout[dataset.target],
                    holdout[dataset.sensitive],
                    dataset,
                    config.decision,
                )
            (work / "evaluation.json").write_text(json.dumps(result))
        else:
            result = json.loads((work / "evaluation.json").read_text())
            started = time.perf_counter()
            decide(result, result, config.gate, "1")
    elif stage == "register":
        import cloudpickle
        import mlflow

        from pipelines.core.project import ProjectPaths
        from pipelines.flows.retrain.logged_model import log_sklearn_model
        from pipelines.governance import registry

        model, features = cloudpickle.loads((work / "model.pkl").read_bytes())
        example = pd.read_parquet(work / "train.parquet")[features]  # the example is built from the training rows
        paths = ProjectPaths(work)
        started = time.perf_counter()
        client = registry.connect(paths)
        experiment = registry.ensure_experiment(client, paths, "bench")
        run_id = registry.open_run(client, experiment, f"bench-{time.time_ns()}", {})
        with mlflow.start_run(run_id=run_id):
            info = log_sklearn_model(model, example)
        registry.register_candidate(client, "bench", info.model_uri, run_id, run_id, {"fairgate.bench": "true"})
    else:
        raise SystemExit(f"unknown stage {stage}")
    del np
    return {"seconds": time.perf_counter() - started}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--only", choices=("stages", "scoring", "monitoring"), help="run only this part (default: all)")
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        result = run_stage(args.stage, Path(args.work), args.rows[0])
        result["peak_mb"] = _peak_mb()
        sys.stdout.write("BENCH " + json.dumps(result) + "\n")
        return 0
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "AIRFLOW", "DVC_"))}
    if args.only in (None, "stages"):
        status = _stages(args.rows, env)
        if status != 0:
            return status
    rows = [str(size) for size in args.rows]
    for part in ("scoring", "monitoring"):
        if args.only in (None, part):
            status = subprocess.run(
                [sys.executable, "-m", f"benchmarks.{part}", "--rows", *rows], cwd=REPO, env=env
            ).returncode
            if status != 0:
                return status
    return 0


def _stages(sizes: list[int], env: dict[str, str]) -> int:
    """Each stage in its own process at each size; print its wall seconds and peak memory."""
    print(f"{'stage':<10} {'rows':>10} {'wall s':>9} {'peak MB':>9}")
    for rows in sizes:
        with tempfile.TemporaryDirectory(prefix="fairgate-bench-") as folder:
            work = Path(folder) / "project"
            work.mkdir()
            (work / "fairgate.yaml").write_text((REPO / "fairgate.yaml").read_text())
            for command in (
                ["git", "init", "-q"],
                [sys.executable, "-m", "dvc", "init", "-q"],
                [sys.executable, "-m", "dvc", "remote", "add", "-d", "local", str(Path(folder) / "remote")],
            ):
                subprocess.run(command, cwd=work, check=True, capture_output=True, env=env)
            for stage in STAGES:
                completed = subprocess.run(
                    [sys.executable, __file__, "--stage", stage, "--work", str(work), "--rows", str(rows)],
                    capture_output=True,
                    text=True,
                    env={**env, "FAIRGATE_HOME": str(work)},
                )
                lines = [line for line in completed.stdout.splitlines() if line.startswith("BENCH ")]
                if completed.returncode != 0 or not lines:
                    sys.stderr.write(f"stage {stage} failed at {rows} rows:\n{completed.stderr[-2000:]}\n")
                    return 1
                result = json.loads(lines[-1][6:])
                print(f"{stage:<10} {rows:>10,} {result['seconds']:>9.2f} {result['peak_mb']:>9.0f}", flush=True)
    print("peak MB is the stage process's maximum resident memory, imports included.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
