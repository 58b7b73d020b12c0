"""The stages of one governed retraining run, each a plain function.

Each ``retrain`` DAG task is a one-line call into this module.  A stage takes
the run reference (a small dict: Airflow run id, DAG id, data interval,
overrides, actor) and the small results of the stages before it, does its
work on files keyed by the run id, logs to the run's MLflow run, records its
verdict and duration for the summary, and returns a small dict.  A check that
says no raises :class:`~pipelines.core.errors.BlockedError` after recording why.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.core.arrow_memory import use_system_allocator
from pipelines.core.config import FairgateConfig, apply_overrides, override_refusals
from pipelines.core.errors import BadInputError, BlockedError, FairgateError
from pipelines.core.project import CODE_ROOT, ProjectPaths, find_project_root, open_project
from pipelines.governance import tags

logger = logging.getLogger(__name__)

STAGES = ("ingest", "audit", "leakage", "split", "train", "evaluate", "gate", "register", "promote")

ERR_NO_DATA = "no data to train on in {folder}"
ERR_EMPTY_BATCH = "the batch for {interval} is empty: nothing to ingest"
ERR_MISSING_COLUMNS = "dataset is missing configured column(s): {columns}"
ERR_SOURCE_UNREADABLE = "cannot read dataset {path}: {problem}"
ERR_SOURCE_FORMAT = "dataset {path}: expected a .csv or .parquet file"
ERR_INTERVAL = "interval must be a month as YYYY-MM, found {value!r}"
MLFLOW_BATCH_METRICS = 1000  # MLflow's limit of metrics per log_batch call
ERR_CHAMPION_CHANGED = (
    "version {version} was gated against champion {gated}, but the champion is now {current} (moved since "
    "the gate by another promotion or a rollback): nothing was promoted; run retrain again to gate it against "
    "the current champion"
)


@dataclass
class StageContext:
    """Everything a stage needs, rebuilt from the run reference in each task."""

    paths: ProjectPaths
    config: FairgateConfig
    airflow_run_id: str
    dag_id: str
    interval: str
    actor: str

    @property
    def run_dir(self) -> Path:
        """This run's output folder."""
        return self.paths.run_dir(self.airflow_run_id)

    @classmethod
    def open(cls, run_ref: dict[str, Any]) -> StageContext:
        """Load the project and apply the run's overrides."""
        paths, config = open_project()
        overrides = dict(run_ref.get("overrides") or {})
        if overrides:
            config = apply_overrides(config, overrides)
        interval = str(run_ref["interval"])
        _check_month(interval)
        return cls(
            paths=paths,
            config=config,
            airflow_run_id=str(run_ref["airflow_run_id"]),
            dag_id=str(run_ref.get("dag_id", "retrain")),
            interval=interval,
            actor=str(run_ref.get("actor") or "unknown"),
        )


def _check_month(value: str) -> None:
    from pipelines.core.config import MONTH_PATTERN

    if not MONTH_PATTERN.match(value):
        raise BadInputError(ERR_INTERVAL.format(value=value))


def interval_for_run(run_type: Any, data_interval_end: Any, logical_date: Any) -> str:
    """The data interval (YYYY-MM) a run processes when none is given: the last complete month.

    A scheduled run processes the month that ended when its data interval
    ended. With Airflow 3's ``@monthly`` (a cron *trigger*: the data interval
    is the instant of the run, start = end = the 1st of the month) and with a
    cron data-interval timetable ([1st of last month, 1st of this month)) alike,
    that is the month before ``data_interval_end``. Any other run (manual,
    backfill) processes the last complete month before its logical date (its
    own month is not over yet). ``run_type`` may be Airflow's ``DagRunType`` or
    its text in any form (``"scheduled"``, ``"DagRunType.SCHEDULED"``).
    """
    kind = str(getattr(run_type, "value", run_type)).lower()
    when = data_interval_end if "scheduled" in kind and data_interval_end is not None else logical_date
    if when is None:
        when = data_interval_end
    if when is None:
        raise BadInputError("cannot tell which data interval to process: no interval, no logical date")
    year, month = (when.year, when.month - 1) if when.month > 1 else (when.year - 1, 12)
    return f"{year:04d}-{month:02d}"


def run_reference(
    airflow_run_id: str,
    dag_id: str,
    interval: str,
    overrides: dict[str, Any] | None,
    actor: str | None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """Build the small dict every stage receives (validated here, at the entry point).

    Overrides are validated now, so a bad key stops the run before any data moves.
    When the run was requested by ``fairgate run``, a pointer from the request id
    to the Airflow run id is written so the command can find its run's records.
    """
    _check_month(interval)
    paths, config = open_project()
    if overrides:
        refusals = override_refusals(config, dict(overrides))
        if refusals:
            who = actor or "airflow:unknown"
            record_override_refusal(paths, config, dict(overrides), refusals, who, airflow_run_id)
            raise BlockedError("overrides", refusals)
    if request_id:
        pointer = paths.root / "var" / "requests" / f"{safe_request(request_id)}.json"
        _write_json(pointer, {"airflow_run_id": airflow_run_id})
    return {
        "airflow_run_id": airflow_run_id,
        "dag_id": dag_id,
        "interval": interval,
        "overrides": dict(overrides or {}),
        "actor": actor or "airflow:scheduler",
    }


def record_event(
    paths: ProjectPaths,
    config: FairgateConfig,
    kind: str,
    actor: str,
    payload: dict[str, Any],
    idempotency_key: str,
    model_version: str | int | None = None,
) -> None:
    """Append one governance event to the tamper-evident audit log (idempotent by key)."""
    from pipelines.core.project import audit_log_url
    from pipelines.governance.audit_log import open_log

    with open_log(audit_log_url(paths, config)) as log:
        log.append(
            kind,
            actor,
            payload,
            model_name=config.registry.model_name if model_version is not None else None,
            model_version=model_version,
            idempotency_key=idempotency_key,
        )


def record_override_refusal(
    paths: ProjectPaths,
    config: FairgateConfig,
    overrides: dict[str, Any],
    refusals: list[str],
    actor: str,
    airflow_run_id: str | None = None,
) -> None:
    """Record a refused attempt to loosen the gate or change a governed setting."""
    logger.warning("refused overrides by %s: %s", actor, "; ".join(refusals))
    # each attempt from the CLI is its own event; a DAG run is refused once however often it is retried
    key = f"{airflow_run_id}:refusal:overrides" if airflow_run_id else f"cli:refusal:overrides:{uuid.uuid4().hex}"
    record_event(
        paths,
        config,
        "refusal",
        actor,
        {
            "what": "run overrides",
            "overrides": overrides,
            "reason": "; ".join(refusals),
            "airflow_run_id": airflow_run_id,
        },
        key,
    )


def safe_request(request_id: str) -> str:
    """A request id usable as a file name."""
    from pipelines.core.project import safe_key

    return safe_key(request_id)


def _write_json(path: Path, payload: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str), encoding="utf-8")
    tmp.replace(path)
    return path


@contextmanager
def stage_record(ctx: StageContext, stage: str) -> Iterator[dict[str, Any]]:
    """Time a stage and write its verdict (passed, blocked, error or crashed) for the summary."""
    record: dict[str, Any] = {"stage": stage, "verdict": "passed", "details": {}}
    use_system_allocator()
    started = time.perf_counter()
    try:
        yield record
    except BlockedError as e:
        record["verdict"] = "blocked"
        record["reasons"] = e.reasons
        raise
    except FairgateError as e:
        record["verdict"] = "error"
        record["reasons"] = [str(e)]
        raise
    except BaseException as e:
        # not a verdict: a bug or a broken tool; recorded so the summary cannot show it as passed
        record["verdict"] = "crashed"
        record["reasons"] = [f"{type(e).__name__}: {e}"]
        raise
    finally:
        record["seconds"] = time.perf_counter() - started
        order = STAGES.index(stage) if stage in STAGES else 99
        _write_json(ctx.run_dir / "stages" / f"{order:02d}-{stage}.json", record)


# ---------------------------------------------------------------- data


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV or Parquet file; one clear line when it cannot be read."""
    use_system_allocator()
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise BadInputError(ERR_SOURCE_FORMAT.format(path=path))
    try:
        if suffix == ".csv":
            return pd.read_csv(path)
        return pd.read_parquet(path)
    except (OSError, ValueError, UnicodeDecodeError) as e:
        problem = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise BadInputError(ERR_SOURCE_UNREADABLE.format(path=path, problem=problem)) from e


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".parquet.tmp")
    frame.to_parquet(tmp, index=False)
    tmp.replace(path)


def dataset_files(paths: ProjectPaths, config: FairgateConfig) -> list[Path]:
    """The files that make up the versioned dataset, in time order."""
    if config.dataset.source == "generator":
        return sorted(paths.batches_dir.glob("*.parquet"))
    single = paths.data_dir / "dataset.parquet"
    return [single] if single.is_file() else []


def load_dataset(paths: ProjectPaths, config: FairgateConfig, files: list[Path] | None = None) -> pd.DataFrame:
    """Concatenate the dataset's files and check the configured columns exist."""
    files = dataset_files(paths, config) if files is None else files
    if not files:
        raise BadInputError(ERR_NO_DATA.format(folder=paths.data_dir))
    frame = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    require_columns(frame, config)
    return frame


def require_columns(frame: pd.DataFrame, config: FairgateConfig) -> None:
    """Every configured column must exist in the data."""
    dataset = config.dataset
    wanted = [dataset.target, *dataset.sensitive, *dataset.id_columns]
    if dataset.time_column:
        wanted.append(dataset.time_column)
    wanted += list(dataset.features or [])
    missing = [c for c in dict.fromkeys(wanted) if c not in frame.columns]
    if missing:
        raise BadInputError(ERR_MISSING_COLUMNS.format(columns=", ".join(missing)))


def _ensure_history(paths: ProjectPaths, config: FairgateConfig) -> list[str]:
    """Make sure the committed data version is present; say how it was obtained."""
    from pipelines.data import generator, versioning
    notes: list[str] = []
    months = generator.month_range(config.generator.history_start, config.generator.history_months)
    missing = [m for m in months if not (paths.batches_dir / f"{m}.parquet").is_file()]
    if not missing:
        return notes
    if paths.data_pointer.is_file() and versioning.checkout_data(paths):
        notes.append("data/ restored from the DVC cache or remote (matches data.dvc)")
        missing = [m for m in months if not (paths.batches_dir / f"{m}.parquet").is_file()]
        if not missing:
            return notes
    for month in missing:
        _write_parquet(generator.generate_month(month, config.generator).frame, paths.batches_dir / f"{month}.parquet")
    notes.append(
        f"history rebuilt from the seeded generator ({len(missing)} month(s) from {missing[0]} to {missing[-1]})"
    )
    return notes


def ingest(run_ref: dict[str, Any]) -> dict[str, Any]:
    """Add the interval's batch to ``data/``, version it with DVC, open the MLflow run."""
    from pipelines.data import generator, versioning
    from pipelines.governance import registry
    ctx = StageContext.open(run_ref)
    with stage_record(ctx, "ingest") as record:
        config, paths = ctx.config, ctx.paths
        committed_hash = versioning.recorded_data_hash(paths) if paths.data_pointer.is_file() else None
        notes: list[str] = []
        if config.dataset.source == "generator":
            notes += _ensure_history(paths, config)
            decision_month = generator.shift_month(ctx.interval, -config.generator.label_lag_months)
            batch = generator.generate_month(decision_month, config.generator, config.generator.hazards)
            if batch.frame.empty:
                raise BadInputError(ERR_EMPTY_BATCH.format(interval=ctx.interval))
            batch_file = paths.batches_dir / f"{decision_month}.parquet"
            _write_parquet(batch.frame, batch_file)
            _write_json(ctx.run_dir / "generator_truth.json", batch.truth)
            rows = len(batch.frame)
            notes.append(
                f"interval {ctx.interval}: applications decided in {decision_month}, "
                f"outcome observed {config.generator.label_lag_months} months later"
            )
        else:
            source = Path(str(config.dataset.path))
            if not source.is_absolute():
                source = paths.root / source
            frame = read_table(source)
            if frame.empty:
                raise BadInputError(ERR_EMPTY_BATCH.format(interval=ctx.interval))
            require_columns(frame, config)
            batch_file = paths.data_dir / "dataset.parquet"
            _write_parquet(frame, batch_file)
            decision_month = None
            rows = len(frame)
            notes.append(f"dataset copied from {source}")
        data_hash = versioning.version_data(paths)
        if committed_hash is None:
            notes.append(f"first data version created: {data_hash}")
        elif committed_hash != data_hash:
            notes.append(f"new data version {data_hash} (was {committed_hash})")
        else:
            notes.append(f"data unchanged: {data_hash}")

        client = registry.connect(paths)
        experiment_id = registry.ensure_experiment(client, paths, config.registry.experiment)
        mlflow_run_id = registry.open_run(
            client,
            experiment_id,
            ctx.airflow_run_id,
            {
                tags.DAG_ID: ctx.dag_id,
                tags.DATA_INTERVAL: ctx.interval,
                tags.DATA_HASH: data_hash,
                tags.CONFIG_HASH: config.config_hash,
                tags.HAZARDS: ",".join(config.generator.hazards) if config.dataset.source == "generator" else "",
            },
        )
        client.log_dict(mlflow_run_id, config.as_dict(), "config/fairgate.json")
        record["details"] = {"rows": rows, "data_hash": data_hash, "notes": notes}
        return {
            "data_hash": data_hash,
            "batch_file": str(batch_file),
            "decision_month": decision_month,
            "rows": rows,
            "mlflow_run_id": mlflow_run_id,
            "notes": notes,
        }


def _log_artifact_files(ctx: StageContext, mlflow_run_id: str, files: list[Path], folder: str) -> None:
    from pipelines.governance import registry
    client = registry.connect(ctx.paths)
    for file in files:
        client.log_artifact(mlflow_run_id, str(file), folder)


def audit(run_ref: dict[str, Any], ingested: dict[str, Any]) -> dict[str, Any]:
    """Audit the new batch against the champion's training data (Great Expectations, drift).

    The reference is found through the champion's lineage (see
    :mod:`pipelines.governance.lineage`); without a champion it is, explicitly and said
    in the report, the data in ``data/`` before the batch.  The JSON and HTML
    reports and the Great Expectations Data Docs go to the MLflow run.
    """
    from pipelines.data.audit import audit_dataset
    from pipelines.governance import registry
    from pipelines.governance.lineage import audit_reference, champion_lineage
    from pipelines.reports.check_report import audit_report_html

    ctx = StageContext.open(run_ref)
    with stage_record(ctx, "audit") as record:
        config = ctx.config
        batch_file = Path(ingested["batch_file"])
        batch = pd.read_parquet(batch_file)
        client = registry.connect(ctx.paths)
        champion = champion_lineage(client, config.registry.model_name, config.registry.champion_alias)
        reference = audit_reference(
            ctx.paths,
            config.dataset.source,
            config.registry.model_name,
            champion,
            batch_file,
            [f for f in dataset_files(ctx.paths, config) if f != batch_file],
        )
        folder = ctx.run_dir / "audit"
        data_docs = _fresh_folder(folder / "data_docs")
        result = audit_dataset(
            batch,
            reference.frame,
            config.dataset,
            config.audit,
            data_docs_dir=data_docs,
            reference_is_earlier=reference.earlier,
        )
        result.report.notes[:0] = reference.notes
        json_file = _write_json(folder / "audit_report.json", result.report.to_dict())
        html_file = folder / "audit_report.html"
        link = "data_docs/index.html" if result.data_docs is not None else None
        html_file.write_text(audit_report_html(result, data_docs_link=link), encoding="utf-8")
        _log_artifact_files(ctx, ingested["mlflow_run_id"], [json_file, html_file], "audit")
        if result.data_docs is not None:
            client.log_artifacts(ingested["mlflow_run_id"], str(data_docs), "audit/data_docs")
        client.set_tag(
            ingested["mlflow_run_id"],
            tags.AUDIT_REFERENCE,
            _reference_tag(reference.source, champion.version if champion else None, reference.files),
        )
        record["details"] = {
            "rows": result.report.rows,
            "findings": len(result.report.findings),
            "expectations": len(result.expectations),
            "reference": reference.source,
            "notes": reference.notes,
        }
        _verdict_tag(
            ctx, ingested["mlflow_run_id"], "audit", result.report.verdict, result.report.findings,
            result.report.blocking,
        )
        if result.report.verdict == "blocked":
            _block(ctx, ingested["mlflow_run_id"], "audit", [_finding_line(f) for f in result.report.blocking])
        return {"verdict": "pass", "findings": len(result.report.findings), "reference": reference.source}


def _fresh_folder(folder: Path) -> Path:
    """An empty folder at ``folder`` (a retried task rebuilds its outputs from scratch)."""
    import shutil

    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


def _reference_tag(source: str, champion_version: str | None, files: list[str]) -> str:
    """The audit's reference in one tag value: where it came from and which files."""
    from pipelines.governance import registry
    head = f"champion version {champion_version}" if source == "champion" else source.replace("_", " ")
    return registry.tag_value(f"{head}: {', '.join(files) or 'no files'}")


def _verdict_tag(
    ctx: StageContext, mlflow_run_id: str, stage: str, verdict: str, findings: Any, blocking: Any
) -> None:
    """Tag the run with a check stage's verdict (``fairgate.<stage>.verdict``), for lineage."""
    from pipelines.governance import registry
    findings, blocking = list(findings), list(blocking)
    registry.connect(ctx.paths).set_tag(
        mlflow_run_id,
        tags.stage_verdict(stage),
        f"{verdict}: {len(findings)} finding(s), {len(blocking)} blocking",
    )


def _block(ctx: StageContext, mlflow_run_id: str, stage: str, reasons: list[str]) -> None:
    """Record on the MLflow run where and why the run was blocked, then stop it."""
    from pipelines.governance import registry
    client = registry.connect(ctx.paths)
    client.set_tag(mlflow_run_id, tags.BLOCKED_AT, stage)
    client.set_tag(mlflow_run_id, tags.BLOCKED_REASONS, registry.tag_value("; ".join(reasons)))
    raise BlockedError(stage, reasons)


def _finding_line(finding: Any) -> str:
    columns = ", ".join(finding.columns) if finding.columns else "(table)"
    return f"{finding.check} [{columns}]: {finding.message}"


def leakage(run_ref: dict[str, Any], ingested: dict[str, Any]) -> dict[str, Any]:
    """Leakage checks on the whole training frame and its prospective split (JSON and HTML to MLflow)."""
    from pipelines.data.leakage import find_leakage
    from pipelines.data.split import holdout_mask
    from pipelines.reports.check_report import ReportPage, render_html

    ctx = StageContext.open(run_ref)
    with stage_record(ctx, "leakage") as record:
        frame = load_dataset(ctx.paths, ctx.config)
        is_test = holdout_mask(frame, ctx.config.dataset, ctx.config.split)
        report = find_leakage(frame, ctx.config.dataset, ctx.config.leakage, is_test)
        json_file = _write_json(ctx.run_dir / "leakage" / "leakage_report.json", report.to_dict())
        html_file = ctx.run_dir / "leakage" / "leakage_report.html"
        page = ReportPage(
            title="fairgate leakage checks",
            verdict=report.verdict,
            rows=report.rows,
            columns=report.columns,
            findings=list(report.findings),
            notes=list(report.notes),
        )
        html_file.write_text(render_html(page), encoding="utf-8")
        _log_artifact_files(ctx, ingested["mlflow_run_id"], [json_file, html_file], "leakage")
        record["details"] = {"rows": len(frame), "findings": len(report.findings), "notes": report.notes}
        _verdict_tag(ctx, ingested["mlflow_run_id"], "leakage", report.verdict, report.findings, report.blocking)
        if report.verdict == "blocked":
            _block(ctx, ingested["mlflow_run_id"], "leakage", [_finding_line(f) for f in report.blocking])
        return {"verdict": "pass", "findings": len(report.findings)}


def split(run_ref: dict[str, Any], ingested: dict[str, Any]) -> dict[str, Any]:
    """Write the training set and the holdout for this run; log both as the run's MLflow dataset inputs."""
    from pipelines.data.split import holdout_mask, split_notes
    from pipelines.governance import registry
    from pipelines.governance.lineage import log_split_datasets
    from pipelines.reports.model_card import DATA_SUMMARY_PATH, summarise_split

    ctx = StageContext.open(run_ref)
    with stage_record(ctx, "split") as record:
        dataset = ctx.config.dataset
        files = dataset_files(ctx.paths, ctx.config)
        frame = load_dataset(ctx.paths, ctx.config, files)
        is_test = holdout_mask(frame, dataset, ctx.config.split)
        train_file, test_file = ctx.run_dir / "train.parquet", ctx.run_dir / "holdout.parquet"
        _write_parquet(frame[~is_test], train_file)
        _write_parquet(frame[is_test], test_file)
        client = registry.connect(ctx.paths)
        client.log_dict(
            ingested["mlflow_run_id"],
            summarise_split(frame[~is_test], frame[is_test], dataset),
            DATA_SUMMARY_PATH,
        )
        digests = log_split_datasets(
            ingested["mlflow_run_id"],
            {"training": frame[~is_test], "holdout": frame[is_test]},
            {"training": train_file, "holdout": test_file},
            dataset.target,
            ingested["data_hash"],
            [f.relative_to(ctx.paths.data_dir).as_posix() for f in files],
        )
        details: dict[str, Any] = {
            "train_rows": int((~is_test).sum()),
            "holdout_rows": int(is_test.sum()),
            "notes": split_notes(dataset),
            "dataset_digests": digests,
        }
        if dataset.time_column:
            times = pd.to_datetime(frame[dataset.time_column])
            details["train_until"] = str(times[~is_test].max())
            details["holdout_from"] = str(times[is_test].min())
        record["details"] = details
        return {"train_file": str(train_file), "holdout_file": str(test_file), **details}


def git_state() -> dict[str, str]:
    """The commit of the code that ran and whether its tree was dirty."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=CODE_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=CODE_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as e:
        logger.warning("git state unknown: %s", e)
        return {"git_commit": "unknown (not a git checkout)", "git_dirty": "unknown"}
    return {"git_commit": commit, "git_dirty": "true" if dirty else "false"}


def train(run_ref: dict[str, Any], ingested: dict[str, Any], split_result: dict[str, Any]) -> dict[str, Any]:
    """Fit the candidate with exact class weights, verify them, log the model."""
    import mlflow

    from pipelines.data.leakage import candidate_feature_columns
    from pipelines.governance import registry
    from pipelines.model.train import train_model
    from pipelines.model.weights_reference import MAX_ULP, check_received_weights

    ctx = StageContext.open(run_ref)
    with stage_record(ctx, "train") as record:
        dataset, training = ctx.config.dataset, ctx.config.training
        train_frame = pd.read_parquet(split_result["train_file"]).reset_index(drop=True)
        holdout_labels = pd.read_parquet(split_result["holdout_file"], columns=[dataset.target])[dataset.target]
        classes = sorted(
            set(train_frame[dataset.target].dropna().tolist()) | set(holdout_labels.dropna().tolist()),
            key=lambda v: (str(type(v)), v),
        )
        features = candidate_feature_columns(train_frame, dataset)
        trained = train_model(train_frame, features, dataset, training, classes, ctx.config.decision)
        # verify, do not trust: the weights the estimator received against a 50-digit reference
        groups = (
            list(train_frame[dataset.sensitive].itertuples(index=False, name=None))
            if training.reweigh_sensitive
            else None
        )
        check = check_received_weights(
            trained.received_sample_weight, train_frame[dataset.target], training.beta_factor, groups
        )
        trained.fingerprint["reference_check"] = {
            "verdict": "passed" if check.passed else "blocked",
            "rows": check.rows,
            "max_ulp_found": check.max_ulp,
            "max_ulp_allowed": MAX_ULP,
            "mismatches": check.mismatches,
        }
        _write_json(ctx.run_dir / "train" / "fingerprint.json", trained.fingerprint)
        record["details"] = {"fingerprint": trained.fingerprint["reference_check"]}
        if not check.passed:
            registry.connect(ctx.paths)
            with mlflow.start_run(run_id=ingested["mlflow_run_id"]):
                mlflow.log_dict(trained.fingerprint, "training/fingerprint.json")
            _block(ctx, ingested["mlflow_run_id"], "train", check.mismatches)
        registry.connect(ctx.paths)
        with mlflow.start_run(run_id=ingested["mlflow_run_id"]):
            mlflow.log_params(
                {
                    "estimator": training.estimator,
                    "beta_factor": repr(float(training.beta_factor)),
                    "features": ",".join(features),
                    "train_rows": len(train_frame),
                    **{f"estimator.{k}": v for k, v in training.params.items()},
                }
            )
            mlflow.log_dict(trained.fingerprint, "training/fingerprint.json")
            mlflow.set_tags(
                {
                    tags.BETA_FACTOR: repr(float(training.beta_factor)),
                    tags.CLASS_WEIGHTS: json.dumps(trained.fingerprint["class_weights_repr"], sort_keys=True),
                    tags.SAMPLE_WEIGHT_SHA256: trained.sample_weight_sha256,
                    tags.MITIGATION: json.dumps(trained.fingerprint["mitigation"], sort_keys=True),
                }
            )
            model_info = _log_sklearn_model(trained.model, train_frame[features].head(5))
            unmitigated_uri = None
            if trained.unmitigated is not None:
                # not registered: the evaluate stage scores it to report what the mitigation cost
                unmitigated_uri = _log_sklearn_model(
                    trained.unmitigated, train_frame[features].head(5), name="unmitigated_model"
                ).model_uri
        record["details"] = {
            "estimator": training.estimator,
            "features": len(features),
            "class_weights": trained.fingerprint["class_weights_repr"],
            "fingerprint": trained.fingerprint["reference_check"],
        }
        return {
            "model_uri": model_info.model_uri,
            "unmitigated_model_uri": unmitigated_uri,
            "mitigation": trained.fingerprint["mitigation"],
            "features": features,
            "class_weights": trained.fingerprint["class_weights_repr"],
            "class_weights_hex": trained.fingerprint["class_weights_hex"],
            "beta_factor": repr(float(training.beta_factor)),
            "reweigh_sensitive": bool(training.reweigh_sensitive),
            "sample_weight_sha256": trained.sample_weight_sha256,
            "weights_check": (
                f"passed: {check.rows} rows within {check.max_ulp} ulp (allowed {MAX_ULP}) of the 50-digit reference"
            ),
        }


def _log_sklearn_model(model: Any, example: pd.DataFrame, name: str = "model") -> Any:
    """Log the pipeline as a self-contained MLflow model (cloudpickle, explicit requirements).

    ``pipelines.model.mitigation`` is pickled by value, so a mitigated model loads
    where fairgate is not installed; its signature holds the features only,
    since no sensitive column is needed to predict.
    """
    import cloudpickle
    import mlflow.sklearn
    import numpy
    import scipy
    import sklearn
    from mlflow.models import infer_signature

    from pipelines.model import mitigation
    requirements = [
        f"scikit-learn=={sklearn.__version__}",
        f"pandas=={pd.__version__}",
        f"numpy=={numpy.__version__}",
        f"scipy=={scipy.__version__}",
        f"cloudpickle=={cloudpickle.__version__}",
    ]
    signature = infer_signature(example, model.predict_proba(example))
    cloudpickle.register_pickle_by_value(mitigation)
    try:
        return mlflow.sklearn.log_model(
            model,
            name=name,
            serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE,
            pip_requirements=requirements,
            signature=signature,
        )
    finally:
        cloudpickle.unregister_pickle_by_value(mitigation)


def evaluate(
    run_ref: dict[str, Any], ingested: dict[str, Any], split_result: dict[str, Any], trained: dict[str, Any]
) -> dict[str, Any]:
    """Score the candidate and the current champion on the same holdout: one paired evaluation.

    Writes ``evaluation/evaluation.json`` (``candidate``, ``champion``, ``champion_version``,
    ``comparison``, ``bootstrap``), the per-group table of both models and the per-group
    chart, and logs every number to the run, grouped by family (see
    :func:`pipelines.model.evaluate.flatten_metrics`).
    """
    import mlflow
    import mlflow.sklearn

    from pipelines.governance import registry
    from pipelines.model.evaluate import evaluate_models, flatten_metrics, per_group_table, plot_per_group
    from pipelines.reports.mitigation_report import mitigation_cost_markdown, mitigation_cost_table

    ctx = StageContext.open(run_ref)
    with stage_record(ctx, "evaluate") as record:
        dataset = ctx.config.dataset
        holdout = pd.read_parquet(split_result["holdout_file"])
        y_true = holdout[dataset.target]
        sensitive = holdout[dataset.sensitive]
        client = registry.connect(ctx.paths)
        candidate_model = mlflow.sklearn.load_model(trained["model_uri"])
        current = registry.champion(client, ctx.config.registry.model_name, ctx.config.registry.champion_alias)
        champion_model = None
        champion_features = None
        champion_version = None
        if current is not None:
            champion_version = str(current.version)
            champion_model = mlflow.sklearn.load_model(
                f"models:/{ctx.config.registry.model_name}/{champion_version}"
            )
            needed = list(getattr(champion_model, "feature_names_in_", holdout.columns))
            missing = [c for c in needed if c not in holdout.columns]
            if missing:
                raise BlockedError(
                    "evaluate",
                    [f"champion version {champion_version} cannot be scored on this holdout: "
                     f"missing column(s) {', '.join(missing)}"],
                )
            champion_features = holdout[needed]
        pair = evaluate_models(
            candidate_model,
            holdout[trained["features"]],
            champion_model,
            champion_features,
            y_true,
            sensitive,
            dataset,
            ctx.config.decision,
            ctx.config.evaluation,
        )
        cost_files: list[Path] = []
        mitigation_cost = None
        if trained.get("unmitigated_model_uri"):
            # the same pipeline without its mitigation, paired with the candidate on the same rows
            unmitigated = evaluate_models(
                candidate_model,
                holdout[trained["features"]],
                mlflow.sklearn.load_model(trained["unmitigated_model_uri"]),
                holdout[trained["features"]],
                y_true,
                sensitive,
                dataset,
                ctx.config.decision,
                ctx.config.evaluation,
            )
            mitigation_cost = mitigation_cost_table(unmitigated, trained.get("mitigation", {}))
            cost_files = [
                _write_json(ctx.run_dir / "evaluation" / "mitigation_cost.json", mitigation_cost),
                ctx.run_dir / "evaluation" / "mitigation_cost.md",
            ]
            cost_files[1].write_text(mitigation_cost_markdown(mitigation_cost), encoding="utf-8")
        candidate, champion_result = pair["candidate"], pair["champion"]
        evaluation = {
            "candidate": candidate,
            "champion": champion_result,
            "champion_version": champion_version,
            "comparison": pair["comparison"],
            "bootstrap": pair["bootstrap"],
        }
        eval_file = _write_json(ctx.run_dir / "evaluation" / "evaluation.json", evaluation)
        table_file = ctx.run_dir / "evaluation" / "per_group.csv"
        tables = [per_group_table(candidate).assign(model="candidate")]
        if champion_result is not None:
            tables.append(per_group_table(champion_result).assign(model=f"champion v{champion_version}"))
        table = pd.concat(tables, ignore_index=True)
        table[["model", *[c for c in table.columns if c != "model"]]].to_csv(table_file, index=False)
        plot_file = plot_per_group(candidate, ctx.run_dir / "evaluation" / "per_group.png", champion=champion_result)
        metrics = list(flatten_metrics(candidate, evaluation).items())
        if mitigation_cost is not None:
            metrics += [
                (f"mitigation.{kind}.{row['metric']}", row[value])
                for row in mitigation_cost["rows"]
                for kind, value in (("unmitigated", "unmitigated"), ("cost", "difference"))
                if row[value] is not None
            ]
        for start in range(0, len(metrics), MLFLOW_BATCH_METRICS):
            client.log_batch(
                ingested["mlflow_run_id"],
                metrics=[
                    mlflow.entities.Metric(key=k, value=v, timestamp=0, step=0)
                    for k, v in metrics[start : start + MLFLOW_BATCH_METRICS]
                ],
            )
        _log_artifact_files(
            ctx, ingested["mlflow_run_id"], [eval_file, table_file, plot_file, *cost_files], "evaluation"
        )
        record["details"] = {
            "holdout_rows": int(len(holdout)),
            "champion_version": champion_version,
            "key_metrics": _key_metrics(candidate),
            "champion_key_metrics": _key_metrics(champion_result) if champion_result else None,
            "key_differences": _key_differences(candidate, pair["comparison"]),
            "bootstrap": pair["bootstrap"],
            "metrics_logged": len(metrics),
            "mitigation_cost": None if mitigation_cost is None else {
                row["metric"]: row["difference"] for row in mitigation_cost["rows"] if row["key"]
            },
        }
        return {"evaluation_file": str(eval_file), "champion_version": champion_version}


_KEY_METRICS = {
    "technical": ("roc_auc", "balanced_accuracy", "accuracy", "latency_ms_p95"),
    "business": ("approval_rate", "expected_cost", "cost_saving_vs_best_constant"),
}
_KEY_ETHICAL = ("demographic_parity_ratio", "demographic_parity_difference", "equalized_odds_difference")


def _key_paths(result: dict[str, Any]) -> list[tuple[str, tuple[str, ...]]]:
    """The summary's metrics of a result: dotted name and path in the result."""
    chosen: list[tuple[str, tuple[str, ...]]] = []
    for family, names in _KEY_METRICS.items():
        for name in names:
            if name in result.get(family, {}):
                chosen.append((f"{family}.{name}", (family, name)))
    for attribute, values in result.get("ethical", {}).items():
        for name in _KEY_ETHICAL:
            if name in values:
                chosen.append((f"ethical.{attribute}.{name}", ("ethical", attribute, name)))
    return chosen


def _key_metrics(result: dict[str, Any]) -> dict[str, float]:
    """The point estimates the run summary prints (None when undefined)."""
    chosen: dict[str, float] = {}
    for name, path in _key_paths(result):
        node: Any = result
        for part in path:
            node = node[part]
        chosen[name] = node
    return chosen


def _key_differences(result: dict[str, Any], comparison: dict[str, Any] | None) -> dict[str, Any] | None:
    """Candidate minus champion with its paired interval, for the summary's metrics (None without a champion)."""
    if comparison is None:
        return None
    chosen: dict[str, Any] = {}
    for name, path in _key_paths(result):
        node: Any = comparison
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            chosen[name] = {"difference": node["difference"], "low": node["low"], "high": node["high"]}
    return chosen


def gate(run_ref: dict[str, Any], ingested: dict[str, Any], evaluated: dict[str, Any]) -> dict[str, Any]:
    """Decide: technical gate and ethical gate, absolute and against the champion, with paired intervals."""
    from pipelines.governance import registry
    from pipelines.governance.gate import decide

    ctx = StageContext.open(run_ref)
    with stage_record(ctx, "gate") as record:
        evaluation = json.loads(Path(evaluated["evaluation_file"]).read_text(encoding="utf-8"))
        decision = decide(
            evaluation["candidate"],
            evaluation["champion"],
            ctx.config.gate,
            evaluation["champion_version"],
            comparison=evaluation["comparison"],
        )
        decision_file = _write_json(ctx.run_dir / "gate" / "gate_decision.json", decision.to_dict())
        report_file = ctx.run_dir / "gate" / "gate_report.md"
        report_file.write_text(decision.to_markdown(), encoding="utf-8")
        _log_artifact_files(ctx, ingested["mlflow_run_id"], [decision_file, report_file], "gate")
        client = registry.connect(ctx.paths)
        for key, value in _gate_tags(decision).items():
            client.set_tag(ingested["mlflow_run_id"], key, value)
        record["details"] = {
            "decision": "passed" if decision.passed else "blocked",
            "technical": "passed" if decision.technical_passed else "blocked",
            "ethical": "passed" if decision.ethical_passed else "blocked",
            "reasons": decision.reasons(),
            "uncertain_checks": decision.uncertain_checks(),
            "notes": decision.notes,
        }
        if not decision.passed:
            record["verdict"] = "blocked"
            record["reasons"] = decision.reasons()
        record_event(
            ctx.paths,
            ctx.config,
            "gate_decision",
            ctx.actor,
            {
                "summary": f"{record['details']['decision']} (technical {record['details']['technical']}, "
                f"ethical {record['details']['ethical']}) on data interval {ctx.interval}",
                "reasons": decision.reasons(),
                "decision": decision.to_dict(),
                "airflow_run_id": ctx.airflow_run_id,
                "mlflow_run_id": ingested["mlflow_run_id"],
                "data_hash": ingested["data_hash"],
                "config_hash": ctx.config.config_hash,
            },
            f"{ctx.airflow_run_id}:gate_decision",
        )
        # the gate does not raise: a blocked candidate is still registered for inspection
        return {"decision_file": str(decision_file), **record["details"]}


def _gate_tags(decision: Any) -> dict[str, str]:
    """The gate's run tags: both verdicts, the reasons, and the checks decided on an uncertain estimate."""
    from pipelines.governance import registry
    checks = decision.checks
    failed = sum(not check.passed for check in checks)
    uncertain = decision.uncertain_checks()
    return {
        tags.GATE_DECISION: "passed" if decision.passed else "blocked",
        tags.GATE_TECHNICAL: "passed" if decision.technical_passed else "blocked",
        tags.GATE_ETHICAL: "passed" if decision.ethical_passed else "blocked",
        tags.GATE_REASONS: registry.tag_value("; ".join(decision.reasons()) or "all checks passed"),
        tags.GATE_CHECKS: f"{len(checks)} checks: {len(checks) - failed} passed, {failed} failed, "
        f"{len(uncertain)} uncertain",
        tags.GATE_UNCERTAIN: registry.tag_value("; ".join(uncertain) or "none"),
        tags.GATE_CHAMPION: decision.champion_version if decision.champion_version is not None else "none",
    }


def register(
    run_ref: dict[str, Any], ingested: dict[str, Any], trained: dict[str, Any], gated: dict[str, Any]
) -> dict[str, Any]:
    """Register the candidate, passed or blocked, with its lineage, gate tags and file checksums."""
    from pipelines.governance import registry
    from pipelines.governance.model_integrity import manifest_digest, model_checksums

    ctx = StageContext.open(run_ref)
    with stage_record(ctx, "register") as record:
        decision = json.loads(Path(gated["decision_file"]).read_text(encoding="utf-8"))
        registry.connect(ctx.paths)
        # checksummed before registration: these are the files the gate's verdict is about
        model_files = model_checksums(trained["model_uri"])
        version_tags = {
            tags.MODEL_DIGEST: manifest_digest(model_files),
            tags.MODEL_FILES: json.dumps(model_files, sort_keys=True),
            tags.AIRFLOW_RUN_ID: ctx.airflow_run_id,
            tags.DATA_HASH: ingested["data_hash"],
            tags.CONFIG_HASH: ctx.config.config_hash,
            tags.DAG_ID: ctx.dag_id,
            tags.DATA_INTERVAL: ctx.interval,
            tags.MLFLOW_RUN_ID: ingested["mlflow_run_id"],
            tags.BETA_FACTOR: trained["beta_factor"],
            tags.CLASS_WEIGHTS: json.dumps(trained["class_weights"], sort_keys=True),
            tags.CLASS_WEIGHTS_HEX: json.dumps(trained["class_weights_hex"], sort_keys=True),
            tags.REWEIGH_SENSITIVE: str(trained.get("reweigh_sensitive", False)).lower(),
            tags.MITIGATION: json.dumps(trained.get("mitigation", {"method": "none"}), sort_keys=True),
            tags.SAMPLE_WEIGHT_SHA256: str(trained.get("sample_weight_sha256")),
            tags.WEIGHTS_CHECK: trained.get("weights_check", "missing"),
            tags.GATE_DECISION: "passed" if decision["passed"] else "blocked",
            tags.GATE_TECHNICAL: "passed" if decision["technical_passed"] else "blocked",
            tags.GATE_ETHICAL: "passed" if decision["ethical_passed"] else "blocked",
            tags.GATE_REASONS: "; ".join(gated["reasons"]) or "all checks passed",
            **{tags.lineage(k): v for k, v in git_state().items()},
        }
        client = registry.connect(ctx.paths)
        version = registry.register_candidate(
            client,
            ctx.config.registry.model_name,
            trained["model_uri"],
            ingested["mlflow_run_id"],
            ctx.airflow_run_id,
            version_tags,
        )
        # the code that trained it, on the run too (the run's other lineage tags are set by the stages)
        for key in (tags.GIT_COMMIT, tags.GIT_DIRTY, tags.MODEL_DIGEST):
            client.set_tag(ingested["mlflow_run_id"], key, version_tags[key])
        record_event(
            ctx.paths,
            ctx.config,
            "registration",
            ctx.actor,
            {
                "summary": f"registered as {version_tags[tags.GATE_DECISION]} (data interval {ctx.interval})",
                "tags": version_tags,
                "model_uri": trained["model_uri"],
                "model_files_sha256": model_files,
            },
            f"{ctx.airflow_run_id}:registration:{version}",
            model_version=version,
        )
        refresh_model_cards(ctx.paths, ctx.config, [version])
        record["details"] = {"model": ctx.config.registry.model_name, "version": version}
        return {"version": version}


def promote(run_ref: dict[str, Any], registered: dict[str, Any], gated: dict[str, Any]) -> dict[str, Any]:
    """Move ``champion`` to the candidate only when both gates passed and deployments are not frozen.

    While frozen (see :mod:`pipelines.governance.approvals`), a candidate that passed both
    gates is not promoted: it is tagged as awaiting approval, the stage's
    verdict is ``waiting``, and the ``approve`` DAG promotes it once a technical
    and an ethical sign-off from two different people are in.
    """
    from pipelines.core.project import audit_log_url
    from pipelines.governance import approvals, registry
    from pipelines.governance.champion_lock import champion_lock

    ctx = StageContext.open(run_ref)
    with stage_record(ctx, "promote") as record:
        if gated["decision"] != "passed":
            raise BlockedError("gate", gated["reasons"] or ["the gate did not pass"])
        client = registry.connect(ctx.paths)
        name = ctx.config.registry.model_name
        version = str(registered["version"])
        decision = json.loads(Path(gated["decision_file"]).read_text(encoding="utf-8"))
        gated_against = decision.get("champion_version")
        gated_against = None if gated_against is None else str(gated_against)
        # the freeze, the champion gated against and the move are decided under one lock: a rollback or
        # another promotion cannot slip in between the checks and the move
        with champion_lock(audit_log_url(ctx.paths, ctx.config), name):
            state = approvals.current_freeze(ctx.paths, ctx.config)
            if state.frozen:
                held = approvals.hold_for_approval(
                    ctx.paths, ctx.config, client, version, gated_against, state, ctx.actor, ctx.airflow_run_id
                )
                move = None
            else:
                move = _promote_under_lock(ctx, client, version, gated_against)
        if move is None:
            refresh_model_cards(ctx.paths, ctx.config, [version])
            record["verdict"] = "waiting"
            record["reasons"] = [
                f"deployments {state.describe()}",
                f"version {version} waits for a technical and an ethical sign-off from two "
                "different people (the approve DAG); nothing was promoted",
            ]
            record["details"] = held
            return held
        refresh_model_cards(ctx.paths, ctx.config, [move.to_version, move.from_version])
        record["details"] = move.to_dict()
        return move.to_dict()


def _promote_under_lock(ctx: StageContext, client: Any, version: str, gated_against: str | None) -> Any:
    """Move champion to ``version`` if it is still the champion the gate compared with; record it."""
    from pipelines.governance import registry
    name, alias = ctx.config.registry.model_name, ctx.config.registry.champion_alias
    current = registry.champion(client, name, alias)
    current_version = None if current is None else str(current.version)
    already = any(
        m["airflow_run_id"] == ctx.airflow_run_id and m["action"] == "promote"
        for m in registry.alias_history(client, name)
    )
    if current_version != gated_against and not already:
        raise BlockedError(
            "promote",
            [ERR_CHAMPION_CHANGED.format(version=version, gated=gated_against or "none",
                                         current=current_version or "none")],
        )
    move = registry.move_champion(
        client,
        name,
        alias,
        version,
        action="promote",
        actor=ctx.actor,
        reason=f"passed both gates on data interval {ctx.interval}",
        airflow_run_id=ctx.airflow_run_id,
        audit_entries=version_entries(ctx.paths, ctx.config, version),
    )
    record_event(
        ctx.paths,
        ctx.config,
        "promotion",
        ctx.actor,
        # without already_done, so that a retried task repeats the same event and appends nothing
        {**_recorded_move(move.to_dict()), "summary": f"champion {move.from_version} -> {move.to_version}"},
        f"{ctx.airflow_run_id}:promotion:{move.to_version}",
        model_version=move.to_version,
    )
    return move


def refresh_model_cards(paths: ProjectPaths, config: FairgateConfig, versions: list[str | None]) -> None:
    """Write (again) the model card of each version whose recorded history just changed."""
    from pipelines.governance import registry
    from pipelines.reports.model_card import write_model_card

    client = registry.connect(paths)
    for version in dict.fromkeys(str(v) for v in versions if v not in (None, "", "none")):
        write_model_card(client, paths, config, version)


def version_entries(paths: ProjectPaths, config: FairgateConfig, version: str | int | None = None) -> list[Any]:
    """The audit log's entries of the configured model (of one version when given), oldest first."""
    from pipelines.core.project import audit_log_url
    from pipelines.governance.audit_log import open_log

    with open_log(audit_log_url(paths, config)) as log:
        return log.entries(model_version=version, model_name=config.registry.model_name)


def rollback(
    airflow_run_id: str, reason: str, target_version: str | int | None, actor: str, dag_id: str = "rollback"
) -> dict[str, Any]:
    """Move ``champion`` back to the last version that passed every gate and served.

    Idempotent: a retry of the same Airflow run finds its own move and changes nothing.
    """
    from pipelines.core.project import audit_log_url
    from pipelines.governance import registry
    from pipelines.governance.champion_lock import champion_lock

    if not isinstance(reason, str) or not reason.strip():
        raise BadInputError("rollback needs a reason: a non-empty sentence saying why")
    paths, config = open_project()
    client = registry.connect(paths)
    name, alias = config.registry.model_name, config.registry.champion_alias
    for earlier in registry.alias_history(client, name):
        if earlier["airflow_run_id"] == airflow_run_id and earlier["action"] == "rollback":
            # a retry: make sure the records of the first attempt are complete, move nothing
            _record_rollback(paths, config, earlier, airflow_run_id)
            return {**earlier, "already_done": True}
    requested = None if target_version in (None, "") else str(target_version)
    with champion_lock(audit_log_url(paths, config), name):
        current = registry.champion(client, name, alias)
        current_version = None if current is None else str(current.version)
        if requested is not None:
            registry.get_version(client, name, requested)  # an unknown version is bad input (exit 2)
        entries = version_entries(paths, config)
        standing = None if requested is not None else standing_rollback(entries, name, current_version)
        if current_version is not None and (requested == current_version or standing is not None):
            return _unchanged_rollback(paths, config, current_version, requested, standing, reason, actor,
                                       airflow_run_id)
        try:
            target = registry.rollback_target(client, name, alias, requested)
            move = registry.move_champion(
                client,
                name,
                alias,
                target,
                action="rollback",
                actor=actor,
                reason=reason.strip(),
                airflow_run_id=airflow_run_id,
                audit_entries=[e for e in entries if str(e.model_version) == str(target)],
            )
        except BlockedError as e:
            record_event(
                paths,
                config,
                "refusal",
                actor,
                {
                    "what": "rollback",
                    "requested_version": requested,
                    "reason": "; ".join(e.reasons),
                    "asked_because": reason,
                },
                f"{airflow_run_id}:refusal:rollback",
            )
            raise
        client.set_model_version_tag(name, target, tags.LAST_ROLLBACK, json.dumps(move.to_dict()))
        _record_rollback(paths, config, move.to_dict(), airflow_run_id)
    refresh_model_cards(paths, config, [move.to_version, move.from_version])
    return move.to_dict()


def standing_rollback(entries: list[Any], model_name: str, champion_version: str | None) -> Any | None:
    """The rollback that put the current champion in place and still stands, or None.

    It stands while it is the latest move of ``champion`` (promotion, approval or
    rollback) and the freeze it set has not been lifted. Another rollback
    without a named target then changes nothing: triggering rollback twice does
    not roll back twice.
    """
    from pipelines.governance import approvals
    moves = [
        e for e in entries
        if e.kind in ("promotion", "rollback") and e.payload.get("moved", True) and "to_version" in e.payload
    ]
    if not moves or moves[-1].kind != "rollback" or str(moves[-1].payload["to_version"]) != champion_version:
        return None
    return moves[-1] if approvals.freeze_state(entries, model_name).frozen else None


def _unchanged_rollback(
    paths: ProjectPaths,
    config: FairgateConfig,
    current_version: str,
    requested: str | None,
    standing: Any | None,
    reason: str,
    actor: str,
    airflow_run_id: str,
) -> dict[str, Any]:
    """Record a rollback request that moves nothing (the champion is already where it asks for)."""
    if standing is not None:
        why = (
            f"champion is version {current_version} since rollback {standing.payload.get('airflow_run_id')} by "
            f"{standing.actor} (audit entry {standing.seq}), still standing (deployments frozen): nothing moved; "
            "name a target version to go further back"
        )
    else:
        why = f"version {requested} is already the champion: nothing moved"
    outcome = {
        "action": "rollback",
        "moved": False,
        "from_version": current_version,
        "to_version": current_version,
        "actor": actor,
        "reason": reason.strip(),
        "airflow_run_id": airflow_run_id,
        "summary": why,
    }
    record_event(paths, config, "rollback", actor, outcome, f"{airflow_run_id}:rollback:unchanged",
                 model_version=current_version)
    return outcome


def _recorded_move(move: dict[str, Any]) -> dict[str, Any]:
    """An alias move as the audit log records it: the same on a retry (``already_done`` left out)."""
    return {key: value for key, value in move.items() if key != "already_done"}


def _record_rollback(paths: ProjectPaths, config: FairgateConfig, move: dict[str, Any], airflow_run_id: str) -> None:
    """Record a rollback and the freeze that follows it (both idempotent on retry).

    After any rollback automatic promotion is frozen: the next candidate that
    passes both gates waits for two sign-offs (see :mod:`pipelines.governance.approvals`).
    """
    from pipelines.governance import approvals
    recorded = _recorded_move(move)
    record_event(
        paths,
        config,
        "rollback",
        str(move["actor"]),
        {**recorded, "summary": f"champion {move['from_version']} -> {move['to_version']}"},
        f"{airflow_run_id}:rollback:{move['to_version']}",
        model_version=move["to_version"],
    )
    approvals.freeze_deployments(
        paths,
        config,
        f"rollback of champion {move['from_version']} -> {move['to_version']}: {move['reason']}",
        str(move["actor"]),
        f"{airflow_run_id}:freeze:rollback",
        cause="rollback",
    )


def project_root_for_tasks() -> str:
    """The project root tasks run against (for logs)."""
    return str(find_project_root())


def environment_summary() -> dict[str, str]:
    """The store locations in effect, for the run summary."""
    from pipelines.core.project import tracking_uri

    paths, _ = open_project()
    return {
        "project": str(paths.root),
        "mlflow": tracking_uri(paths),
        "airflow_home": os.environ.get("AIRFLOW_HOME", str(paths.airflow_home)),
    }
