"""The quarantine: batches refused at audit or leakage, kept apart from the accepted dataset.

``ingest`` adds the interval's batch to ``data/`` and versions it (so what the
audit reads is a versioned batch), and leaves a *pending* marker
(``var/pending/batch.json``) holding the ``data.dvc`` of the accepted data
before it.  Then one of two things happens:

- the leakage checks pass: the batch is accepted, the marker is cleared;
- the audit or the leakage checks block it: :func:`quarantine_batch` moves the
  file to ``quarantine/<interval>/<md5>/`` with a ``record.json`` (interval,
  stage, findings, run ids, md5), versions ``quarantine/`` with its own
  ``quarantine.dvc`` (pushed to the DVC remote), puts ``data.dvc`` back to the
  accepted version and checks ``data/`` out of it, and verifies the hash is
  the one recorded before the batch arrived.

Every step is idempotent: a retried task finds the record its first attempt
wrote and finishes what is left, never a second record.  While a marker is
pending, an ingest of any other batch is refused: data that never passed its
checks is never trained on.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pipelines.core.errors import BadInputError, BlockedError
from pipelines.core.files import write_json
from pipelines.core.project import ProjectPaths
from pipelines.data import versioning

logger = logging.getLogger(__name__)

RECORD_NAME = "record.json"
ERR_BATCH_CHANGED = (
    "{batch} changed since it was ingested (ingested with md5 {md5}): it cannot be quarantined as the batch the "
    "checks refused (see {folder})"
)
ERR_NO_REFUSAL = "run {run} refused no batch recorded in {record}"
ERR_BATCH_LOST = "{batch} (md5 {md5}) is neither in data/ nor in {folder}: the refused batch cannot be found"
ERR_NOT_RESTORED = (
    "data/ could not be put back to the accepted version {expected} after quarantining {batch}: {problem}"
)
ERR_PENDING_OTHER = (
    "{batch} of interval {interval} (run {run}) was added to data/ but never passed the audit and leakage "
    "checks: run interval {interval} again first; nothing ingested"
)
ERR_ALREADY_QUARANTINED = (
    "batch {batch} of interval {interval} (md5 {md5}) was quarantined at {stage} by run {run}: {record}"
)


@dataclass(frozen=True)
class PendingBatch:
    """A batch in ``data/`` that has not passed audit and leakage yet, and the accepted data before it.

    Attributes
    ----------
    interval : str
        The data interval (YYYY-MM) that ingested it.
    batch : str
        Its path relative to the project root (``data/batches/<month>.parquet``).
    batch_md5 : str
        The md5 of its bytes.
    airflow_run_id : str
        The run that ingested it.
    previous_pointer : str or None
        The text of ``data.dvc`` before it (None: it came with the first data version).
    """

    interval: str
    batch: str
    batch_md5: str
    airflow_run_id: str
    previous_pointer: str | None


def pending_file(paths: ProjectPaths) -> Path:
    """Where the pending marker lives (``var/pending/batch.json``; never versioned)."""
    return paths.root / "var" / "pending" / "batch.json"


def pending_batch(paths: ProjectPaths) -> PendingBatch | None:
    """The batch waiting for its checks, or None."""
    marker = pending_file(paths)
    if not marker.is_file():
        return None
    return PendingBatch(**json.loads(marker.read_text(encoding="utf-8")))


def mark_pending(paths: ProjectPaths, pending: PendingBatch) -> None:
    """Record that ``pending`` is in ``data/`` unchecked (before it is written there)."""
    write_json(pending_file(paths), asdict(pending))


def clear_pending(paths: ProjectPaths, airflow_run_id: str) -> None:
    """The batch of ``airflow_run_id`` passed its checks or left ``data/``: drop its marker."""
    pending = pending_batch(paths)
    if pending is not None and pending.airflow_run_id == airflow_run_id:
        pending_file(paths).unlink()


def previous_pointer(paths: ProjectPaths, batch: str) -> str | None:
    """The ``data.dvc`` of the accepted data that ``batch`` will be added to.

    A batch still pending from an earlier attempt (a retried ingest, a run
    that stopped before its checks) is replaced by this one: the accepted
    version is then the one before it.  Any other pending batch refuses the
    ingest (:class:`~pipelines.core.errors.BlockedError`, before anything is written).
    """
    pending = pending_batch(paths)
    if pending is not None:
        if pending.batch != batch:
            raise BlockedError("ingest", [ERR_PENDING_OTHER.format(
                batch=pending.batch, interval=pending.interval, run=pending.airflow_run_id)])
        return pending.previous_pointer
    pointer = paths.data_pointer
    return pointer.read_text(encoding="utf-8") if pointer.is_file() else None


def records(paths: ProjectPaths, interval: str | None = None) -> list[dict[str, Any]]:
    """Every quarantine record (of one interval, or all), oldest interval first."""
    pattern = f"{interval}/*/{RECORD_NAME}" if interval else f"*/*/{RECORD_NAME}"
    found = sorted(paths.quarantine_dir.glob(pattern))
    return [json.loads(f.read_text(encoding="utf-8")) for f in found]


def find_record(
    paths: ProjectPaths, interval: str, batch_md5: str | None = None, airflow_run_id: str | None = None
) -> dict[str, Any] | None:
    """The record of ``interval`` holding the batch ``batch_md5`` or quarantined by ``airflow_run_id``."""
    for record in records(paths, interval):
        if batch_md5 is not None and record["batch_md5"] == batch_md5:
            return record
        if airflow_run_id is not None and refusal_of(record, airflow_run_id) is not None:
            return record
    return None


def refusal(record: dict[str, Any]) -> str:
    """One line saying this batch was already refused, naming its record."""
    return ERR_ALREADY_QUARANTINED.format(
        batch=Path(record["batch"]).name, interval=record["interval"], md5=record["batch_md5"],
        stage=record["stage"], run=record["airflow_run_id"], record=record["record"],
    )


def note(record: dict[str, Any], airflow_run_id: str, quarantine_hash: str) -> str:
    """The summary's line about the batch ``airflow_run_id`` quarantined (``quarantine_hash``: ``quarantine.dvc``'s)."""
    refusal = refusal_of(record, airflow_run_id) or record
    return (
        f"batch {Path(record['batch']).stem} of interval {record['interval']} quarantined at {refusal['stage']}: "
        f"{record['file']} (md5 {record['batch_md5']}, quarantine.dvc {quarantine_hash}); "
        # the batch's data folder names its pointer: data.dvc (generator) or dataset.dvc (a project's own source)
        f"{Path(record['batch']).parts[0]}.dvc back to {refusal['accepted_data_hash'] or 'the data before it'}"
    )


def quarantine_batch(
    paths: ProjectPaths, pending: PendingBatch, stage: str, findings: list[str], mlflow_run_id: str
) -> tuple[dict[str, Any], str]:
    """Move a refused batch out of ``data/`` into the quarantine; version both; return its record.

    Parameters
    ----------
    paths : ProjectPaths
        The project.
    pending : PendingBatch
        The batch the check refused, as ``ingest`` marked it.
    stage : str
        ``audit`` or ``leakage``.
    findings : list of str
        The blocking findings, one line each.
    mlflow_run_id : str
        The MLflow run that holds the check's reports.

    Returns
    -------
    tuple of (dict, str)
        The record written in ``quarantine/<interval>/<md5>/record.json`` (a batch
        refused again after a deliberate re-ingest keeps its first record, which
        lists the later refusal under ``refused_again``) and the hash
        ``quarantine.dvc`` records.

    Raises
    ------
    BadInputError
        The batch changed since ingest or cannot be found, DVC failed, or ``data/``
        could not be put back to the accepted version.
    """
    folder = paths.quarantine_dir / pending.interval / pending.batch_md5
    record_file = folder / RECORD_NAME
    accepted = (
        versioning.pointer_hash(paths.data_pointer, pending.previous_pointer)
        if pending.previous_pointer is not None else None
    )
    refusal = {
        "airflow_run_id": pending.airflow_run_id, "mlflow_run_id": mlflow_run_id, "stage": stage,
        "findings": findings, "previous_pointer": pending.previous_pointer, "accepted_data_hash": accepted,
    }
    if record_file.is_file():
        record: dict[str, Any] = json.loads(record_file.read_text(encoding="utf-8"))
        if refusal_of(record, pending.airflow_run_id) is None:
            record["refused_again"] = [*record.get("refused_again", []), refusal]
            write_json(record_file, record)
    else:
        record = {
            "interval": pending.interval,
            "batch": pending.batch,
            "batch_md5": pending.batch_md5,
            "folder": folder.relative_to(paths.root).as_posix(),
            "record": record_file.relative_to(paths.root).as_posix(),
            "file": (folder / Path(pending.batch).name).relative_to(paths.root).as_posix(),
            **refusal,
        }
        write_json(record_file, record)
    quarantine_hash = finish_quarantine(paths, record, pending.airflow_run_id)
    return record, quarantine_hash


def finish_interrupted(paths: ProjectPaths) -> None:
    """Finish a quarantine whose run stopped half-way: the pending batch has a record of its run's refusal."""
    pending = pending_batch(paths)
    if pending is None:
        return
    record = find_record(paths, pending.interval, batch_md5=pending.batch_md5)
    if record is not None and refusal_of(record, pending.airflow_run_id) is not None:
        finish_quarantine(paths, record, pending.airflow_run_id)


def refusal_of(record: dict[str, Any], airflow_run_id: str) -> dict[str, Any] | None:
    """The refusal of ``record`` made by ``airflow_run_id``: the first one (the record) or a later one."""
    for refusal in (record, *record.get("refused_again", [])):
        if refusal["airflow_run_id"] == airflow_run_id:
            return refusal
    return None


def finish_quarantine(paths: ProjectPaths, record: dict[str, Any], airflow_run_id: str) -> str:
    """Do what is left of the refusal by ``airflow_run_id`` (idempotent): move, version, put ``data/`` back.

    Returns the hash ``quarantine.dvc`` records.
    """
    refusal = refusal_of(record, airflow_run_id)
    if refusal is None:
        raise BadInputError(ERR_NO_REFUSAL.format(run=airflow_run_id, record=record["record"]))
    source, target = paths.root / record["batch"], paths.root / record["file"]
    kept = target.is_file() and versioning.file_md5(target) == record["batch_md5"]
    if source.is_file() and versioning.file_md5(source) == record["batch_md5"]:
        if kept:
            source.unlink()  # the same bytes are already in the quarantine: a re-ingest refused again
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target)
    elif not kept:
        problem = ERR_BATCH_CHANGED if source.is_file() else ERR_BATCH_LOST
        raise BadInputError(problem.format(batch=record["batch"], md5=record["batch_md5"], folder=record["folder"]))
    quarantine_hash = versioning.version_folder(paths, paths.quarantine_dir)
    _restore_accepted(paths, record["batch"], refusal)
    clear_pending(paths, airflow_run_id)
    logger.info("quarantined %s at %s into %s", record["batch"], refusal["stage"], record["folder"])
    return quarantine_hash


def _restore_accepted(paths: ProjectPaths, batch: str, refusal: dict[str, Any]) -> None:
    """Put ``data.dvc`` and ``data/`` back to the accepted version recorded before the refused batch."""
    previous = refusal["previous_pointer"]
    if previous is None:
        # the batch came with the first data version: what is left is the accepted data
        versioning.version_data(paths)
        return
    expected = refusal["accepted_data_hash"]
    tmp = paths.data_pointer.with_suffix(".dvc.tmp")
    tmp.write_text(previous, encoding="utf-8")
    tmp.replace(paths.data_pointer)
    problem = None if versioning.checkout_data(paths) else "dvc could not check it out"
    found = versioning.recorded_data_hash(paths)
    if problem is None and found != expected:
        problem = f"data.dvc records {found}"
    if problem is not None:
        raise BadInputError(ERR_NOT_RESTORED.format(expected=expected, batch=batch, problem=problem))
