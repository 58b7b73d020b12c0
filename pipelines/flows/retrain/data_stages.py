"""The data stages of ``retrain``: ingest, audit, leakage, split.

Each takes the run state of the stage before it and returns it with its own
result added (see :mod:`pipelines.flows.retrain.results`).  A check that says
no records why on the MLflow run and raises
:class:`~pipelines.core.errors.BlockedError`.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.core.config import FairgateConfig
from pipelines.core.errors import BadInputError, BlockedError
from pipelines.core.files import write_json, write_parquet
from pipelines.core.project import ProjectPaths
from pipelines.core.small_groups import policy_line, policy_summary
from pipelines.core.tables import read_table
from pipelines.data import generator, quarantine, sources, versioning
from pipelines.data.audit import audit_dataset
from pipelines.data.dataset import dataset_files, load_dataset, require_columns
from pipelines.data.leakage import find_leakage
from pipelines.data.run_dataset import (
    open_run_dataset,
    remove_run_dataset,
    run_dataset_files,
    run_dataset_path,
    to_frame,
    write_run_dataset,
    write_split,
)
from pipelines.data.split import holdout_mask, split_notes
from pipelines.flows.retrain.context import StageContext, block_run, log_artifact_files, stage_input, stage_record
from pipelines.flows.retrain.results import Audited, Ingested, LeakageChecked, RunState, SplitResult
from pipelines.flows.retrain.resume import handed_on, source_digest
from pipelines.governance import registry, tags
from pipelines.governance.lineage import audit_reference, champion_lineage, log_split_datasets
from pipelines.reports.check_report import ReportPage, audit_report_html, render_html
from pipelines.reports.model_card import DATA_SUMMARY_PATH, summarise_split

logger = logging.getLogger(__name__)

ERR_DATA_MOVED = (
    "split: the run's data version is {expected} but {found} is recorded now: data/ changed since ingest, "
    "so the rows to split are not this run's"
)
ERR_EMPTY_BATCH = "the batch for {interval} is empty: nothing to ingest"
ERR_REFUSED_BEFORE = "; nothing ingested (to audit it again deliberately: fairgate run --force)"
ERR_NOT_PENDING = (
    "the {stage} stage refused the batch of run {run}, but no batch of that run is pending in data/: "
    "it cannot be quarantined (see var/pending/batch.json)"
)


def _ensure_history(paths: ProjectPaths, config: FairgateConfig) -> list[str]:
    """Make sure the committed data version is present; say how it was obtained."""
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
        write_parquet(generator.generate_month(month, config.generator).frame, paths.batches_dir / f"{month}.parquet")
    notes.append(
        f"history rebuilt from the seeded generator ({len(missing)} month(s) from {missing[0]} to {missing[-1]})"
    )
    return notes


@handed_on("ingested")
def ingest(state: RunState) -> RunState:
    """Add the interval's batch to the data folder, version it with DVC, open the MLflow run.

    The data folder is ``data/`` (``data.dvc``) for the generator and
    ``dataset/`` (``dataset.dvc``) for a project's own source
    (:func:`pipelines.core.project.data_folder_for`).

    The batch is versioned before its audit, and marked pending
    (:mod:`pipelines.data.quarantine`) until the leakage checks pass; a batch
    the checks refuse leaves ``data/`` for the quarantine.  A batch already
    quarantined (same bytes) is refused here, before anything is written.
    """
    ctx = stage_input(state, "ingest")
    with stage_record(ctx, "ingest") as record:
        config, paths = ctx.config, ctx.paths
        notes: list[str] = []
        if config.dataset.source == "generator":
            notes += _ensure_history(paths, config)
        frame, batch_file, decision_month, source_note = _new_batch(ctx)
        rows = len(frame)
        notes.append(source_note)
        accepted = versioning.recorded_data_hash(paths) if paths.data_pointer.is_file() else "none"
        record["details"] = {"rows": rows, "data_hash": f"{accepted} (unchanged)", "notes": notes}
        previous = _stage_batch(ctx, frame, batch_file, notes)
        committed_hash = versioning.pointer_hash(paths.data_pointer, previous) if previous is not None else None
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
                # a file dataset: which bytes were ingested (a re-run completes this run only for the same file)
                **({tags.SOURCE_SHA256: digest} if (digest := source_digest(paths, config)) else {}),
            },
        )
        client.log_dict(mlflow_run_id, config.as_dict(), "config/fairgate.json")
        record["details"] = {"rows": rows, "data_hash": data_hash, "notes": notes}
        ingested: Ingested = {
            "data_hash": data_hash,
            "batch_file": str(batch_file),
            "decision_month": decision_month,
            "rows": rows,
            "mlflow_run_id": mlflow_run_id,
            "notes": notes,
        }
        return {**state, "ingested": ingested}


def _new_batch(ctx: StageContext) -> tuple[pd.DataFrame, Path, str | None, str]:
    """The interval's batch: its rows, where it goes in ``data/``, its decision month, a note on its source."""
    config, paths = ctx.config, ctx.paths
    if config.dataset.source == "generator":
        if not sources.is_month(ctx.interval):
            raise BadInputError(sources.ERR_NOT_MONTH.format(source="generator", interval=ctx.interval))
        decision_month = generator.shift_month(ctx.interval, -config.generator.label_lag_months)
        batch = generator.generate_month(decision_month, config.generator, config.generator.hazards)
        if batch.frame.empty:
            raise BadInputError(ERR_EMPTY_BATCH.format(interval=ctx.interval))
        write_json(ctx.run_dir / "generator_truth.json", batch.truth)
        note = (
            f"interval {ctx.interval}: applications decided in {decision_month}, "
            f"outcome observed {config.generator.label_lag_months} months later"
        )
        return batch.frame, paths.batches_dir / f"{decision_month}.parquet", decision_month, note
    if config.dataset.source in ("files", "sql"):
        # exactly this interval's rows, every one of them decided inside it
        interval_batch = sources.read_interval(config.dataset, paths.root, ctx.interval, ctx.run_dir / "source")
        require_columns(interval_batch.frame, config)
        return interval_batch.frame, paths.batches_dir / f"{ctx.interval}.parquet", ctx.interval, interval_batch.note
    source = Path(str(config.dataset.path))
    if not source.is_absolute():
        source = paths.root / source
    frame = sources.with_decision_times(read_table(source), config.dataset.time_column, str(source))
    if frame.empty:
        raise BadInputError(ERR_EMPTY_BATCH.format(interval=ctx.interval))
    require_columns(frame, config)
    return frame, paths.data_dir / "dataset.parquet", None, f"dataset copied from {source}"


def _stage_batch(ctx: StageContext, frame: pd.DataFrame, batch_file: Path, notes: list[str]) -> str | None:
    """Write the batch into ``data/`` marked pending; return the ``data.dvc`` of the accepted data before it.

    The file is written in the run folder first: a batch whose bytes were
    quarantined before is refused (blocked, naming its record) unless the run
    re-ingests it deliberately or it has been accepted since, and a batch
    left unchecked by another run refuses this one, with ``data/`` untouched.
    """
    paths = ctx.paths
    staged = ctx.run_dir / "ingest" / batch_file.name
    write_parquet(frame, staged)
    batch_md5 = versioning.file_md5(staged)
    quarantine.finish_interrupted(paths)  # a refusal whose run stopped before data/ was put back
    refused = quarantine.find_record(paths, ctx.interval, batch_md5=batch_md5)
    unchecked = quarantine.pending_batch(paths)
    accepted_since = (
        batch_file.is_file() and versioning.file_md5(batch_file) == batch_md5
        and (unchecked is None or unchecked.batch_md5 != batch_md5)
    )
    if refused is not None and not accepted_since:
        if not ctx.reingest:
            staged.unlink()
            raise BlockedError("ingest", [quarantine.refusal(refused) + ERR_REFUSED_BEFORE])
        notes.append(f"re-ingested deliberately (--force), audited again: {quarantine.refusal(refused)}")
    relative = batch_file.relative_to(paths.root).as_posix()
    previous = quarantine.previous_pointer(paths, relative)
    quarantine.mark_pending(
        paths, quarantine.PendingBatch(ctx.interval, relative, batch_md5, ctx.airflow_run_id, previous)
    )
    batch_file.parent.mkdir(parents=True, exist_ok=True)
    staged.replace(batch_file)
    return previous


@handed_on("audited")
def audit(state: RunState) -> RunState:
    """Audit the new batch against the champion's training data (Great Expectations, drift).

    The reference is found through the champion's lineage (see
    :mod:`pipelines.governance.lineage`); without a champion it is, explicitly and said
    in the report, the data in ``data/`` before the batch.  The JSON and HTML
    reports and the Great Expectations Data Docs go to the MLflow run.
    """
    ctx = stage_input(state, "audit", "ingested")
    ingested = state["ingested"]
    with stage_record(ctx, "audit") as record:
        _refused_before(ctx, record)
        config = ctx.config
        batch_file = Path(ingested["batch_file"])
        batch = pd.read_parquet(batch_file)
        client = registry.connect(ctx.paths)
        # the reviewed small-group policies this run audits, evaluates and gates under (recorded even when blocked)
        client.set_tag(ingested["mlflow_run_id"], tags.SMALL_GROUPS, registry.tag_value(policy_line(config.dataset)))
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
        json_file = write_json(folder / "audit_report.json", result.report.to_dict())
        html_file = folder / "audit_report.html"
        link = "data_docs/index.html" if result.data_docs is not None else None
        html_file.write_text(audit_report_html(result, data_docs_link=link), encoding="utf-8")
        log_artifact_files(ctx, ingested["mlflow_run_id"], [json_file, html_file], "audit")
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
            "small_groups": policy_summary(config.dataset),
        }
        _verdict_tag(
            ctx, ingested["mlflow_run_id"], "audit", result.report.verdict, result.report.findings,
            result.report.blocking,
        )
        if result.report.verdict == "blocked":
            _quarantine_and_block(
                ctx, record, "audit", [_finding_line(f) for f in result.report.blocking], ingested["mlflow_run_id"]
            )
        audited: Audited = {"verdict": "pass", "findings": len(result.report.findings), "reference": reference.source}
        return {**state, "audited": audited}


def _quarantine_and_block(
    ctx: StageContext, record: dict[str, Any], stage: str, reasons: list[str], mlflow_run_id: str
) -> None:
    """Move this run's refused batch to the quarantine (``data/`` back to the accepted version), then block."""
    pending = quarantine.pending_batch(ctx.paths)
    if pending is None or pending.airflow_run_id != ctx.airflow_run_id:
        raise BadInputError(ERR_NOT_PENDING.format(stage=stage, run=ctx.airflow_run_id))
    refused, quarantine_hash = quarantine.quarantine_batch(ctx.paths, pending, stage, reasons, mlflow_run_id)
    record["details"]["quarantine"] = quarantine.note(refused, ctx.airflow_run_id, quarantine_hash)
    block_run(ctx, mlflow_run_id, stage, reasons)


def _refused_before(ctx: StageContext, record: dict[str, Any]) -> None:
    """A retried check whose first attempt quarantined the batch: finish that quarantine and block again."""
    earlier = quarantine.find_record(ctx.paths, ctx.interval, airflow_run_id=ctx.airflow_run_id)
    if earlier is None:
        return
    quarantine_hash = quarantine.finish_quarantine(ctx.paths, earlier, ctx.airflow_run_id)
    mine = quarantine.refusal_of(earlier, ctx.airflow_run_id) or earlier
    record["details"] = {"quarantine": quarantine.note(earlier, ctx.airflow_run_id, quarantine_hash)}
    block_run(ctx, mine["mlflow_run_id"], mine["stage"], list(mine["findings"]))


def _fresh_folder(folder: Path) -> Path:
    """An empty folder at ``folder`` (a retried task rebuilds its outputs from scratch)."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


def _reference_tag(source: str, champion_version: str | None, files: list[str]) -> str:
    """The audit's reference in one tag value: where it came from and which files."""
    head = f"champion version {champion_version}" if source == "champion" else source.replace("_", " ")
    return registry.tag_value(f"{head}: {', '.join(files) or 'no files'}")


def _verdict_tag(
    ctx: StageContext, mlflow_run_id: str, stage: str, verdict: str, findings: Any, blocking: Any
) -> None:
    """Tag the run with a check stage's verdict (``fairgate.<stage>.verdict``), for lineage."""
    findings, blocking = list(findings), list(blocking)
    registry.connect(ctx.paths).set_tag(
        mlflow_run_id,
        tags.stage_verdict(stage),
        f"{verdict}: {len(findings)} finding(s), {len(blocking)} blocking",
    )


def _finding_line(finding: Any) -> str:
    columns = ", ".join(finding.columns) if finding.columns else "(table)"
    return f"{finding.check} [{columns}]: {finding.message}"


@handed_on("leakage")
def leakage(state: RunState) -> RunState:
    """Leakage checks on the whole training frame and its prospective split (JSON and HTML to MLflow)."""
    ctx = stage_input(state, "leakage", "ingested", "audited")
    ingested = state["ingested"]
    with stage_record(ctx, "leakage") as record:
        _refused_before(ctx, record)
        files = dataset_files(ctx.paths, ctx.config)
        frame = load_dataset(ctx.paths, ctx.config, files)
        is_test = holdout_mask(frame, ctx.config.dataset, ctx.config.split)
        report = find_leakage(frame, ctx.config.dataset, ctx.config.leakage, is_test)
        json_file = write_json(ctx.run_dir / "leakage" / "leakage_report.json", report.to_dict())
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
        log_artifact_files(ctx, ingested["mlflow_run_id"], [json_file, html_file], "leakage")
        record["details"] = {"rows": len(frame), "findings": len(report.findings), "notes": report.notes}
        _verdict_tag(ctx, ingested["mlflow_run_id"], "leakage", report.verdict, report.findings, report.blocking)
        if report.verdict == "blocked":
            _quarantine_and_block(
                ctx, record, "leakage", [_finding_line(f) for f in report.blocking], ingested["mlflow_run_id"]
            )
        # the batch passed both checks: it is part of the accepted dataset from now on
        quarantine.clear_pending(ctx.paths, ctx.airflow_run_id)
        # the rows just read, kept for the split (memory-mapped there) instead of reading data/ again
        write_run_dataset(
            frame, run_dataset_path(ctx.run_dir, ingested["data_hash"]), ingested["data_hash"], _relative(ctx, files)
        )
        checked: LeakageChecked = {"verdict": "pass", "findings": len(report.findings)}
        return {**state, "leakage": checked}


def _relative(ctx: StageContext, files: list[Path]) -> list[str]:
    return [f.relative_to(ctx.paths.data_dir).as_posix() for f in files]


def _run_dataset(ctx: StageContext, data_hash: str) -> tuple[Any, Path]:
    """The run dataset the leakage stage wrote, memory-mapped; written from ``data/`` first when it is absent.

    It is absent only when this run's leakage checks were done by an earlier
    attempt that stopped before writing it: the rows are then read from
    ``data/``, which still holds the version ``data_hash`` names (checked).
    """
    path = run_dataset_path(ctx.run_dir, data_hash)
    if not path.is_file():
        logger.info("split: no run dataset at %s: reading %s once to write it", path, ctx.paths.data_folder)
        recorded = versioning.recorded_data_hash(ctx.paths)
        if recorded != data_hash:
            raise BadInputError(ERR_DATA_MOVED.format(expected=data_hash, found=recorded))
        files = dataset_files(ctx.paths, ctx.config)
        write_run_dataset(load_dataset(ctx.paths, ctx.config, files), path, data_hash, _relative(ctx, files))
    return open_run_dataset(path, data_hash), path


@handed_on("split")
def split(state: RunState) -> RunState:
    """Write the training set and the holdout for this run; log both as the run's MLflow dataset inputs.

    The rows come from the run dataset the leakage stage wrote (memory-mapped,
    see :mod:`pipelines.data.run_dataset`), which is deleted once both sides
    are written.
    """
    ctx = stage_input(state, "split", "ingested", "leakage")
    ingested = state["ingested"]
    with stage_record(ctx, "split") as record:
        dataset = ctx.config.dataset
        table, dataset_file = _run_dataset(ctx, ingested["data_hash"])
        require_columns(to_frame(table.slice(0, 0)), ctx.config)
        # the holdout rule and the data summary read only their own columns
        roles = list(dict.fromkeys([dataset.target, *dataset.sensitive, *filter(None, [dataset.time_column])]))
        columns = to_frame(table.select(roles))
        is_test = holdout_mask(columns, dataset, ctx.config.split)
        train_file, test_file = ctx.run_dir / "train.parquet", ctx.run_dir / "holdout.parquet"
        sides = write_split(table, is_test, train_file, test_file)
        client = registry.connect(ctx.paths)
        client.log_dict(
            ingested["mlflow_run_id"],
            summarise_split(columns[~is_test], columns[is_test], dataset),
            DATA_SUMMARY_PATH,
        )
        digests = log_split_datasets(
            ingested["mlflow_run_id"],
            {name: to_frame(side) for name, side in sides.items()},
            {"training": train_file, "holdout": test_file},
            dataset.target,
            ingested["data_hash"],
            run_dataset_files(table),
            ctx.paths.data_folder,
            client,
        )
        del table, sides  # the memory map is closed with its last buffer, before the file is deleted
        remove_run_dataset(dataset_file)
        details: dict[str, Any] = {
            "train_rows": int((~is_test).sum()),
            "holdout_rows": int(is_test.sum()),
            "notes": split_notes(dataset),
            "dataset_digests": digests,
        }
        if dataset.time_column:
            times = pd.to_datetime(columns[dataset.time_column])
            details["train_until"] = str(times[~is_test].max())
            details["holdout_from"] = str(times[is_test].min())
        record["details"] = details
        result: SplitResult = {
            "train_file": str(train_file),
            "holdout_file": str(test_file),
            "train_rows": details["train_rows"],
            "holdout_rows": details["holdout_rows"],
            "notes": details["notes"],
            "dataset_digests": details["dataset_digests"],
        }
        if dataset.time_column:
            result["train_until"] = details["train_until"]
            result["holdout_from"] = details["holdout_from"]
        return {**state, "split": result}
