"""Scoring one interval's applications with the champion: ``fairgate score`` and the ``score`` DAG.

The registry's ``champion`` alias is resolved once, when scoring starts, and
the version it names is checked as every move of ``champion`` checks its
target before anything is scored:

- the audit log verifies (:func:`pipelines.governance.records.require_intact_log`);
- the registry's champion is the one the last recorded move left there, and
  no integrity alarm is open (:func:`pipelines.governance.champion_record.reconcile`);
- the audit log records that this version passed every gate, and its gate tags
  agree (:func:`pipelines.governance.champion_record.target_problems`);
- its model files, downloaded once, match the SHA-256 checksums its
  registration entry recorded (:mod:`pipelines.governance.model_integrity`);
  the model scored is loaded from exactly those checked files.

A check that fails refuses the scoring (exit 1, one line), with nothing written.
A candidate waiting for two sign-offs (deployments frozen) is checked the same
way and scored in shadow: its decisions go beside the champion's, in
``shadow-v<version>.parquet``, and are never served.

The applications are the interval's rows from the same sources as
``retrain``: for the generator, the month whose decisions ``fairgate run
--interval`` ingests for that interval (decided ``label_lag_months`` before
it); for ``files`` and ``sql``, the interval's rows; for a ``file``, its rows
decided inside the interval (or the whole file for its one-off version).

The decisions are those the gate evaluated: ``p_positive`` is the champion's
``predict_proba`` column of ``dataset.positive_label`` and the decision is
:func:`pipelines.model.metrics.approve_decisions` with ``decision`` and
``dataset.positive_is_favorable`` of fairgate.yaml.  They are written to
``var/scores/interval=<interval>/champion-v<version>.parquet`` (one row per
application, its ids first), and one ``scoring`` entry is appended to the
audit log.  Scoring the same interval again with the same champion and the
same data rewrites the same file and appends nothing; another champion writes
its own file beside it.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow.sklearn
import numpy as np
import pandas as pd
from mlflow.models import Model

from pipelines.core.config import FairgateConfig
from pipelines.core.errors import BadInputError, BlockedError
from pipelines.core.files import write_parquet
from pipelines.core.project import ProjectPaths, open_project
from pipelines.core.tables import read_table
from pipelines.data import generator, sources
from pipelines.governance import approvals, champion_record, records, registry, tags
from pipelines.governance.model_integrity import manifest_digest, verify_registered_model
from pipelines.model.holdout import positive_column, predict_positive
from pipelines.model.metrics import approve_decisions

logger = logging.getLogger(__name__)

STAGE = "score"
ACTOR = "fairgate:score"  # one actor whoever asks: a retry or a second call is the same event, appended once
ROW_COLUMN = "row"  # the row's position in the interval's batch, when dataset.id_columns is empty
OUTPUT_COLUMNS = (
    "p_positive", "favorable", "model_version", "model_digest", "positive_threshold", "positive_is_favorable",
    "data_hash",
)

ERR_NO_CHAMPION = "no champion to score with: {name!r} has no version under the alias {alias!r}"
ERR_EMPTY = "interval {interval}: the source holds no application to score"
ERR_NOT_IN_FILE = (
    "interval {interval}: dataset.path {path} is a one-off data version {found} (no time column), not {interval}"
)
ERR_NEEDS_TIME = "interval {interval}: dataset.path {path} has no time_column to select the interval's rows by"
ERR_MISSING_INPUTS = "interval {interval}: the applications lack the champion's input column(s): {columns}"
ERR_MISSING_IDS = "interval {interval}: the applications lack the id column(s) of dataset.id_columns: {columns}"
ERR_NO_INPUTS = (
    "version {version} of {name!r}: its input columns cannot be told (no feature_names_in_, no signature)"
)


@dataclass(frozen=True)
class Applications:
    """One interval's applications: the rows, what identifies them, and a note on where they came from."""

    frame: pd.DataFrame
    ids: pd.DataFrame
    data_hash: str
    note: str


def score(interval: str, airflow_run_id: str | None = None) -> dict[str, Any]:
    """Score ``interval``'s applications with the verified champion; write and record the decisions.

    Parameters
    ----------
    interval : str
        The data interval, as ``fairgate run --interval`` names it (``YYYY-MM``).
    airflow_run_id : str, optional
        The Airflow run (or CLI call) that asked; logged, never part of the record,
        so that every identical scoring is one event.

    Returns
    -------
    dict
        The champion's scoring: ``interval``, ``model_version``, ``model_digest``,
        ``positive_threshold``, ``data_hash``, ``rows``, ``favorable``, ``file``
        (relative to the project), ``audit_seq``, ``already_recorded``; and
        ``shadows``, the same for each candidate scored in shadow.

    Raises
    ------
    BlockedError
        No champion, or the champion or a shadow fails an integrity check (nothing written).
    BadInputError
        The interval's applications cannot be read, or lack the champion's inputs.
    """
    paths, config = open_project()
    logger.info("scoring interval %s (asked by %s)", interval, airflow_run_id or "a direct call")
    with tempfile.TemporaryDirectory(prefix="fairgate-score-") as folder:
        champion, shadows = verified_models(paths, config, Path(folder))
        applications = read_applications(paths, config, interval)
        scored = [
            (role, model, score_applications(model, applications, config, interval))
            for role, model in (("champion", champion), *(("shadow", shadow) for shadow in shadows))
        ]
    written = [_write_and_record(paths, config, interval, applications, *one) for one in scored]
    return {**written[0], "shadows": written[1:]}


def _write_and_record(
    paths: ProjectPaths,
    config: FairgateConfig,
    interval: str,
    applications: Applications,
    role: str,
    model: VerifiedModel,
    decisions: pd.DataFrame,
) -> dict[str, Any]:
    """Write one model's decisions of the interval and append its ``scoring`` entry (once per key)."""
    version, digest = model.version, model.digest
    relative = Path("var") / "scores" / f"interval={interval}" / f"{role}-v{version}.parquet"
    payload = {
        "interval": interval,
        "role": role,
        "served": role == "champion",
        "model_version": version,
        "model_digest": digest,
        "positive_threshold": float(decisions["positive_threshold"].iloc[0]),
        "positive_is_favorable": config.dataset.positive_is_favorable,
        "data_hash": applications.data_hash,
        "decisions_hash": frame_hash(decisions),
        "rows": len(decisions),
        "favorable": int(decisions["favorable"].sum()),
        "file": relative.as_posix(),
        "source": applications.note,
        "summary": f"interval {interval}: {len(decisions)} application(s) scored with {role} version {version}"
        + ("" if role == "champion" else " (in shadow, never served)"),
    }
    write_parquet(decisions, paths.root / relative)
    name = config.registry.model_name
    key = f"scoring:{name}:{interval}:{role}:{version}:{digest}:{applications.data_hash}"
    with records.open_audit_log(paths, config) as log:
        last_seq = max((e.seq for e in log.entries()), default=0)
        entry = records.append_event(log, config, "scoring", ACTOR, payload, key, model_version=version)
    logger.info("interval %s scored by %s v%s: %s (audit entry %d)", interval, role, version, relative, entry.seq)
    return {**payload, "audit_seq": entry.seq, "already_recorded": entry.seq <= last_seq}


@dataclass(frozen=True)
class VerifiedModel:
    """A version as checked: its number, the digest of its files, the model loaded from them, its inputs."""

    version: str
    digest: str
    model: Any
    inputs: list[str]


def verified_models(
    paths: ProjectPaths, config: FairgateConfig, folder: Path
) -> tuple[VerifiedModel, list[VerifiedModel]]:
    """The champion, and the candidates waiting for approval, each checked and loaded from its checked files.

    Every check a move of ``champion`` makes, in the same order (see the
    module's docstring).  A candidate waiting for two sign-offs (recorded as
    waiting in the audit log, and tagged so) is checked the same way and
    scored in shadow: a check that fails refuses the whole scoring.
    """
    records.require_intact_log(paths, config)
    client = registry.connect(paths)
    champion_record.reconcile(paths, config, client)
    name, alias = config.registry.model_name, config.registry.champion_alias
    current = registry.champion(client, name, alias)
    if current is None:
        raise BlockedError(STAGE, [ERR_NO_CHAMPION.format(name=name, alias=alias)])
    with records.open_audit_log(paths, config) as log:
        entries = log.entries()
    waiting = [
        version
        for version in sorted(client.search_model_versions(f"name = '{name}'"), key=lambda v: int(v.version))
        if version.tags.get(tags.AWAITING_APPROVAL) == "true" and str(version.version) != str(current.version)
        and approvals.awaiting_entry(entries, name, str(version.version)) is not None
    ]
    checked = [_verified(name, version, entries, folder / f"v{version.version}") for version in [current, *waiting]]
    return checked[0], checked[1:]


def _verified(name: str, version: Any, entries: list[Any], folder: Path) -> VerifiedModel:
    """One registered version: its recorded gate passed, its files as registered, loaded from them."""
    number = str(version.version)
    problems = champion_record.target_problems(entries, name, version)
    if problems:
        raise BlockedError(STAGE, problems)
    folder.mkdir(parents=True)
    checksums = verify_registered_model(name, number, entries, STAGE, into=folder)
    model_folder = _model_folder(folder)
    model = mlflow.sklearn.load_model(str(model_folder))
    return VerifiedModel(number, manifest_digest(checksums), model, model_inputs(model, model_folder, name, number))


def _model_folder(folder: Path) -> Path:
    """The folder holding the ``MLmodel`` file among the downloaded files."""
    found = sorted(folder.rglob("MLmodel"), key=lambda p: len(p.parts))
    return found[0].parent if found else folder


def model_inputs(model: Any, model_folder: Path, name: str, version: str) -> list[str]:
    """The champion's input columns: ``feature_names_in_``, else its logged signature's inputs."""
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        return [str(column) for column in names]
    signature = Model.load(str(model_folder)).signature
    if signature is not None and signature.inputs is not None:
        return [str(column) for column in signature.inputs.input_names()]
    raise BadInputError(ERR_NO_INPUTS.format(version=version, name=name))


def score_applications(
    champion: VerifiedModel, applications: Applications, config: FairgateConfig, interval: str
) -> pd.DataFrame:
    """One row per application: its ids, ``p_positive``, the favourable decision and what decided it.

    ``p_positive`` is never rounded; ``favorable`` is
    :func:`~pipelines.model.metrics.approve_decisions` on it, as in the gate's evaluation.
    """
    frame, model, inputs = applications.frame, champion.model, champion.inputs
    missing = [column for column in inputs if column not in frame.columns]
    if missing:
        raise BadInputError(ERR_MISSING_INPUTS.format(interval=interval, columns=", ".join(missing)))
    column, labels = positive_column(model, config.dataset.positive_label)
    p_positive = predict_positive(model, frame[inputs], column, labels)
    favorable = approve_decisions(p_positive, config.decision, config.dataset.positive_is_favorable)
    threshold = config.decision.positive_threshold(config.dataset.positive_is_favorable)
    decisions = applications.ids.reset_index(drop=True).assign(
        p_positive=np.asarray(p_positive, dtype=np.float64),
        favorable=favorable,
        model_version=champion.version,
        model_digest=champion.digest,
        positive_threshold=np.float64(threshold),
        positive_is_favorable=config.dataset.positive_is_favorable,
        data_hash=applications.data_hash,
    )
    return decisions


def read_applications(paths: ProjectPaths, config: FairgateConfig, interval: str) -> Applications:
    """The interval's applications from the project's source (see the module's docstring)."""
    dataset = config.dataset
    if dataset.source == "generator":
        if not sources.is_month(interval):
            raise BadInputError(sources.ERR_NOT_MONTH.format(source="generator", interval=interval))
        decision_month = generator.shift_month(interval, -config.generator.label_lag_months)
        frame = generator.generate_month(decision_month, config.generator, config.generator.hazards).frame
        note = f"generator: applications decided in {decision_month} (interval {interval})"
    elif dataset.source in ("files", "sql"):
        with tempfile.TemporaryDirectory(prefix="fairgate-score-source-") as staging:
            batch = sources.read_interval(dataset, paths.root, interval, Path(staging))
        frame, note = batch.frame, batch.note
    else:
        frame, note = _file_interval(paths, config, interval)
    if frame.empty:
        raise BadInputError(ERR_EMPTY.format(interval=interval))
    frame = frame.reset_index(drop=True)
    missing = [column for column in dataset.id_columns if column not in frame.columns]
    if missing:
        raise BadInputError(ERR_MISSING_IDS.format(interval=interval, columns=", ".join(missing)))
    ids = frame[list(dataset.id_columns)] if dataset.id_columns else pd.DataFrame({ROW_COLUMN: np.arange(len(frame))})
    return Applications(frame, ids, frame_hash(frame), note)


def _file_interval(paths: ProjectPaths, config: FairgateConfig, interval: str) -> tuple[pd.DataFrame, str]:
    """A ``file`` source's rows of ``interval``: decided inside the month, or the whole file for its one-off version."""
    dataset = config.dataset
    source = Path(str(dataset.path))
    source = source if source.is_absolute() else paths.root / source
    if not sources.is_month(interval):
        found, _ = sources.default_interval(dataset, paths)
        if found != interval:
            raise BadInputError(ERR_NOT_IN_FILE.format(interval=interval, path=source, found=found))
        return read_table(source), f"dataset copied from {source}"
    column = dataset.time_column
    frame = read_table(source)
    if not column or column not in frame.columns:
        raise BadInputError(ERR_NEEDS_TIME.format(interval=interval, path=source))
    frame = sources.with_decision_times(frame, column, str(source))
    start, end = sources.interval_bounds(interval)
    inside = (frame[column] >= pd.Timestamp(start)) & (frame[column] < pd.Timestamp(end))
    return frame[inside.to_numpy()], f"{source}: the rows with {column} in {interval}"


def frame_hash(frame: pd.DataFrame) -> str:
    """SHA-256 of a frame's columns, dtypes and values (row order included; independent of file encoding)."""
    digest = hashlib.sha256()
    digest.update(repr([(str(c), str(t)) for c, t in frame.dtypes.items()]).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return "sha256:" + digest.hexdigest()
