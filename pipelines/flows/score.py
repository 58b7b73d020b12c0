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
A candidate waiting for two sign-offs (deployments frozen), and the last
candidate registered after the champion whose recorded gate decision blocked
it only on non-regression (every absolute check passed), are checked the same
way (the latter's record must say exactly that, its tags agree, its files
match) and scored in shadow: their decisions go beside the champion's, in
``shadow-v<version>.parquet``, and are never served.

The applications are the interval's rows from the same sources as
``retrain``: for the generator, the month whose decisions ``fairgate run
--interval`` ingests for that interval (decided ``label_lag_months`` before
it); for ``files`` and ``sql``, the interval's rows; for a ``file``, its rows
decided inside the interval (or the whole file for its one-off version).

The decisions are those the gate evaluated: ``p_positive`` is the model's
``predict_proba`` column of the positive label and the decision is the gate's
rule (:func:`pipelines.model.metrics.decide_at_threshold`) at the threshold
and direction the model was evaluated and gated with, read from its
``gate_decision`` entry (:mod:`pipelines.governance.decision_record`), never
from today's ``decision`` in fairgate.yaml: a difference is reported, not
applied.  They are written to
``var/scores/interval=<interval>/champion-v<version>.parquet`` (one row per
application, its ids first), and one ``scoring`` entry is appended to the
audit log.  Scoring the same interval again with the same champion and the
same data rewrites the same file and appends nothing; another champion writes
its own file beside it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow.artifacts
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
from pipelines.governance import approvals, champion_record, decision_record, records, registry, tags
from pipelines.governance.decision_record import DecisionPolicy
from pipelines.governance.model_integrity import manifest_digest, verify_registered_model
from pipelines.model.holdout import positive_column, predict_positive
from pipelines.model.metrics import decide_at_threshold

logger = logging.getLogger(__name__)

STAGE = "score"
ACTOR = "fairgate:score"  # one actor whoever asks: a retry or a second call is the same event, appended once
ROW_COLUMN = "row"  # the row's position in the interval's batch, when dataset.id_columns is empty
OUTPUT_COLUMNS = (
    "p_positive", "favorable", "model_version", "model_digest", "positive_threshold", "positive_is_favorable",
    "data_hash",
)

SHADOW_WAITING = "waiting for approval"
SHADOW_NON_REGRESSION = "blocked only on non-regression"
NOTE_POLICY_DIFFERS = (
    "decision policy: fairgate.yaml now gives {field} {today!r}, the model was gated with {recorded!r} "
    "({source}); it decides with the recorded one"
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
    version, digest, policy = model.version, model.digest, model.policy
    differences = policy_differences(policy, config)
    for note in differences:
        logger.warning("interval %s, %s version %s: %s", interval, role, version, note)
    relative = Path("var") / "scores" / f"interval={interval}" / f"{role}-v{version}.parquet"
    payload = {
        "interval": interval,
        "role": role,
        "served": role == "champion",
        "model_version": version,
        "model_digest": digest,
        "positive_threshold": float(decisions["positive_threshold"].iloc[0]),
        "positive_is_favorable": policy.positive_is_favorable,
        "decision_policy": policy.to_dict(),
        "shadow_reason": model.shadow_reason or None,
        "data_hash": applications.data_hash,
        "decisions_hash": frame_hash(decisions),
        "rows": len(decisions),
        "favorable": int(decisions["favorable"].sum()),
        "file": relative.as_posix(),
        "source": applications.note,
        "summary": f"interval {interval}: {len(decisions)} application(s) scored with {role} version {version}"
        + ("" if role == "champion" else f" (in shadow, never served: {model.shadow_reason})"),
    }
    write_parquet(decisions, paths.root / relative)
    name = config.registry.model_name
    key = f"scoring:{name}:{interval}:{role}:{version}:{digest}:{applications.data_hash}"
    with records.open_audit_log(paths, config) as log:
        last_seq = max((e.seq for e in log.entries()), default=0)
        entry = records.append_event(log, config, "scoring", ACTOR, payload, key, model_version=version)
    logger.info("interval %s scored by %s v%s: %s (audit entry %d)", interval, role, version, relative, entry.seq)
    # today's differences are reported, never recorded: the entry is the same event whatever fairgate.yaml says
    return {
        **payload,
        "policy_differences": differences,
        "audit_seq": entry.seq,
        "already_recorded": entry.seq <= last_seq,
    }


@dataclass(frozen=True)
class VerifiedModel:
    """A version as checked: its number, files digest, loaded model, inputs, and the policy it was gated with.

    ``shadow_reason`` says why a model other than the champion is scored (in shadow); empty for the champion.
    """

    version: str
    digest: str
    model: Any
    inputs: list[str]
    policy: DecisionPolicy
    shadow_reason: str = ""


def verified_models(
    paths: ProjectPaths, config: FairgateConfig, folder: Path
) -> tuple[VerifiedModel, list[VerifiedModel]]:
    """The champion and the candidates scored in shadow, each checked and loaded from its checked files.

    Every check a move of ``champion`` makes, in the same order (see the
    module's docstring).  A candidate waiting for two sign-offs (recorded as
    waiting in the audit log, and tagged so), and the last candidate registered
    after the champion that its recorded gate decision blocked only on
    non-regression, are checked the same way and scored in shadow: a check that
    fails refuses the whole scoring.
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
    every = sorted(client.search_model_versions(f"name = '{name}'"), key=lambda v: int(v.version))
    waiting = [
        version
        for version in every
        if version.tags.get(tags.AWAITING_APPROVAL) == "true" and str(version.version) != str(current.version)
        and approvals.awaiting_entry(entries, name, str(version.version)) is not None
    ]
    blocked = [
        version
        for version in every
        if int(version.version) > int(current.version) and _blocked_only_on_non_regression(entries, version)
    ][-1:]
    chosen = [(current, "", champion_record.target_problems(entries, name, current))]
    chosen += [
        (version, SHADOW_WAITING, champion_record.target_problems(entries, name, version)) for version in waiting
    ]
    chosen += [(version, SHADOW_NON_REGRESSION, _shadow_problems(entries, name, version)) for version in blocked]
    checked = [
        _verified(name, version, entries, folder / f"v{version.version}", problems, reason)
        for version, reason, problems in chosen
    ]
    return checked[0], checked[1:]


def _blocked_only_on_non_regression(entries: list[Any], version: Any) -> bool:
    """Whether the audit log's gate decision of ``version`` blocked it on non-regression checks only."""
    entry = decision_record.gate_entry(entries, version.run_id)
    return entry is not None and decision_record.blocked_only_on_non_regression(entry.payload.get("decision"))


def _shadow_problems(entries: list[Any], name: str, version: Any) -> list[str]:
    """Why a candidate blocked only on non-regression may not be scored in shadow: its record and tags disagree."""
    record = champion_record.recorded_gate(entries, name, version)
    if isinstance(record, str):
        return [record]
    return champion_record.tag_disagreements(record, name, version)


def _verified(
    name: str, version: Any, entries: list[Any], folder: Path, problems: list[str], shadow_reason: str
) -> VerifiedModel:
    """One registered version: its record as required, its files as registered, loaded from them."""
    number = str(version.version)
    if problems:
        raise BlockedError(STAGE, problems)
    policy = decision_record.recorded_policy(entries, version, _read_run_artifact)
    if isinstance(policy, str):
        raise BlockedError(STAGE, [policy])
    folder.mkdir(parents=True)
    checksums = verify_registered_model(name, number, entries, STAGE, into=folder)
    model_folder = _model_folder(folder)
    model = mlflow.sklearn.load_model(str(model_folder))
    inputs = model_inputs(model, model_folder, name, number)
    return VerifiedModel(number, manifest_digest(checksums), model, inputs, policy, shadow_reason)


def _read_run_artifact(run_id: str, artifact: str) -> dict[str, Any]:
    """A JSON artifact of an MLflow run (the tracking URI is the project's, set by ``registry.connect``)."""
    with tempfile.TemporaryDirectory(prefix="fairgate-score-artifact-") as folder:
        local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=artifact, dst_path=folder)
        loaded: dict[str, Any] = json.loads(Path(local).read_text(encoding="utf-8"))
    return loaded


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

    ``p_positive`` is never rounded; ``favorable`` is the gate's rule
    (:func:`~pipelines.model.metrics.decide_at_threshold`) at the threshold and
    direction the model was gated with (its recorded :class:`DecisionPolicy`),
    whatever ``decision`` in fairgate.yaml says today.
    """
    frame, model, inputs, policy = applications.frame, champion.model, champion.inputs, champion.policy
    missing = [column for column in inputs if column not in frame.columns]
    if missing:
        raise BadInputError(ERR_MISSING_INPUTS.format(interval=interval, columns=", ".join(missing)))
    column, labels = positive_column(model, policy.positive_label)
    p_positive = predict_positive(model, frame[inputs], column, labels)
    favorable = decide_at_threshold(p_positive, policy.positive_threshold, policy.positive_is_favorable)
    decisions = applications.ids.reset_index(drop=True).assign(
        p_positive=np.asarray(p_positive, dtype=np.float64),
        favorable=favorable,
        model_version=champion.version,
        model_digest=champion.digest,
        positive_threshold=np.float64(policy.positive_threshold),
        positive_is_favorable=policy.positive_is_favorable,
        data_hash=applications.data_hash,
    )
    return decisions


def policy_differences(policy: DecisionPolicy, config: FairgateConfig) -> list[str]:
    """How fairgate.yaml's decision policy today differs from the one a model was gated with (empty: it does not).

    Reported, never applied: the model decides with the recorded policy.
    """
    dataset = config.dataset
    today = {
        "positive_threshold": config.decision.positive_threshold(dataset.positive_is_favorable),
        "positive_is_favorable": dataset.positive_is_favorable,
        "positive_label": dataset.positive_label,
    }
    recorded = policy.to_dict()
    return [
        NOTE_POLICY_DIFFERS.format(field=field, today=value, recorded=recorded[field], source=policy.source)
        for field, value in today.items()
        if value != recorded[field]
    ]


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


def asset_extra(scored: dict[str, Any]) -> dict[str, Any]:
    """What a scoring's Asset event says (small, JSON): the interval, and each model's version and file."""
    return {
        "interval": scored["interval"],
        "champion": {"version": scored["model_version"], "file": scored["file"]},
        "shadows": [
            {"version": shadow["model_version"], "reason": shadow["shadow_reason"], "file": shadow["file"]}
            for shadow in scored["shadows"]
        ],
    }
