"""The recorded facts about one registered version, and the split stage's data summary.

:func:`gather_facts` reads what was recorded about one registered version and
nothing else: the version's tags, its MLflow run (params, tags and the
artifacts the ``retrain`` stages logged) and the audit-log entries about it.
:func:`facts_json` writes those facts as the exact, canonical JSON of
``model_card.json``.  :func:`summarise_split` is the split stage's half: the
data summary (``data/data_summary.json``) the card's data section reads.

A fact that was not recorded has the status ``not recorded``; an artifact that
is recorded but cannot be read has the status ``unreadable`` and says why.
"""

from __future__ import annotations

import base64
import hashlib
import json
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from pipelines.core.config import DatasetSettings, FairgateConfig
from pipelines.core.errors import BadInputError
from pipelines.core.project import ProjectPaths
from pipelines.governance import tags
from pipelines.governance.approvals import decide as decide_approval
from pipelines.governance.approvals import freeze_state, version_sign_offs
from pipelines.governance.audit_log import Entry
from pipelines.governance.records import open_audit_log

if TYPE_CHECKING:
    from mlflow.exceptions import MlflowException

CARD_FORMAT = 1
DATA_SUMMARY_PATH = "data/data_summary.json"
PER_GROUP_PLOT_PATH = "evaluation/per_group.png"

RECORDED_ARTIFACTS: dict[str, str] = {
    "data_summary": DATA_SUMMARY_PATH,
    "evaluation": "evaluation/evaluation.json",
    "gate_decision": "gate/gate_decision.json",
    "fingerprint": "training/fingerprint.json",
    "config": "config/fairgate.json",
    "audit_report": "audit/audit_report.json",
    "leakage_report": "leakage/leakage_report.json",
    "mitigation_cost": "evaluation/mitigation_cost.json",
}
"""The JSON artifacts of a run the card reads: fact name to artifact path."""

RECORDED = "recorded"
NOT_RECORDED = "not recorded"
UNREADABLE = "unreadable"

ERR_NOT_A_FRAME = "summarise_split: {name} must be a pandas DataFrame, found {found}"
ERR_EMPTY_SPLIT = "summarise_split: the {name} set has 0 rows: nothing to summarise"
ERR_MISSING_COLUMNS = "summarise_split: the {name} set lacks configured column(s) {columns}; found {found}"
ERR_POSITIVE_ABSENT = (
    "summarise_split: dataset.positive_label {positive!r} occurs in neither the training set nor the holdout "
    "(labels found: {found})"
)
ERR_TIME_COLUMN = "summarise_split: time column {column!r} of the {name} set cannot be read as dates: {problem}"
ERR_GROUP_COLLISION = (
    "summarise_split: sensitive attribute {attribute!r} has values that do not map one-to-one to group names "
    "({found}): recode them"
)
ERR_VERSION = "model card: version must be a positive integer, found {found!r}"
ERR_NOT_JSON_ABLE = "model card: the facts of version {version} cannot be written as exact JSON: {problem}"


# ------------------------------------------------------------------ the data summary (split stage)


def _check_frame(frame: Any, name: str, dataset: DatasetSettings) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise BadInputError(ERR_NOT_A_FRAME.format(name=name, found=type(frame).__name__))
    if frame.empty:
        raise BadInputError(ERR_EMPTY_SPLIT.format(name=name))
    wanted = [dataset.target, *dataset.sensitive] + ([dataset.time_column] if dataset.time_column else [])
    missing = [column for column in dict.fromkeys(wanted) if column not in frame.columns]
    if missing:
        raise BadInputError(
            ERR_MISSING_COLUMNS.format(name=name, columns=missing, found=[str(c) for c in frame.columns])
        )
    return frame


def _iso(value: Any) -> str | None:
    return None if pd.isna(value) else pd.Timestamp(value).isoformat()


def _split_summary(frame: pd.DataFrame, dataset: DatasetSettings, name: str) -> dict[str, Any]:
    """Rows, period, positive-label rate and group sizes of one side of the split (exact floats)."""
    rows = len(frame)
    labels = frame[dataset.target]
    labelled = int(labels.notna().sum())
    positives = int((labels[labels.notna()] == dataset.positive_label).sum())
    summary: dict[str, Any] = {
        "rows": rows,
        "period": None,
        "labelled_rows": labelled,
        "positive_rows": positives,
        "positive_label_rate": positives / labelled if labelled else None,
        "groups": {},
        "sensitive_missing_rows": {},
    }
    if dataset.time_column:
        try:
            times = pd.to_datetime(frame[dataset.time_column])
        except (ValueError, TypeError) as e:
            problem = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise BadInputError(ERR_TIME_COLUMN.format(column=dataset.time_column, name=name, problem=problem)) from e
        summary["period"] = {
            "start": _iso(times.min()),
            "end": _iso(times.max()),
            "missing_rows": int(times.isna().sum()),
        }
    for attribute in dataset.sensitive:
        column = frame[attribute]
        counts = column.dropna().value_counts(sort=False)
        names = [str(value) for value in counts.index]
        if len(set(names)) != len(names):
            raise BadInputError(ERR_GROUP_COLLISION.format(attribute=attribute, found=sorted(names)))
        groups = {str(value): int(count) for value, count in counts.items()}
        summary["groups"][attribute] = {
            group: {"rows": groups[group], "share": groups[group] / rows} for group in sorted(groups)
        }
        summary["sensitive_missing_rows"][attribute] = int(column.isna().sum())
    return summary


def summarise_split(train: pd.DataFrame, holdout: pd.DataFrame, dataset: DatasetSettings) -> dict[str, Any]:
    """Summarise the training set and the holdout for the model card (``data/data_summary.json``).

    Parameters
    ----------
    train, holdout : pandas.DataFrame
        The two sides of the split, with the target, the sensitive attributes
        and the time column (when configured).
    dataset : DatasetSettings
        Column roles and the positive label.

    Returns
    -------
    dict
        JSON-ready: ``target``, ``positive_label``, ``positive_is_favorable``,
        ``time_column``, ``sensitive``, then for ``train`` and ``holdout``:
        ``rows``, ``period`` (``start``/``end`` as ISO strings and
        ``missing_rows``; null without a time column), ``labelled_rows``,
        ``positive_rows``, ``positive_label_rate`` (exact float; null when no
        row is labelled), ``groups`` (attribute -> group -> ``rows`` and
        ``share`` of all rows, exact floats) and ``sensitive_missing_rows``.

    Raises
    ------
    BadInputError
        A side is not a DataFrame, is empty or lacks a configured column; the
        positive label occurs nowhere; group names collide.
    """
    sides = {"train": _check_frame(train, "train", dataset), "holdout": _check_frame(holdout, "holdout", dataset)}
    labels = pd.concat([side[dataset.target] for side in sides.values()], ignore_index=True).dropna()
    if not bool((labels == dataset.positive_label).any()):
        found = sorted({repr(value) for value in labels.unique().tolist()})
        raise BadInputError(ERR_POSITIVE_ABSENT.format(positive=dataset.positive_label, found=", ".join(found)))
    return {
        "target": dataset.target,
        "positive_label": dataset.positive_label,
        "positive_is_favorable": dataset.positive_is_favorable,
        "time_column": dataset.time_column,
        "sensitive": list(dataset.sensitive),
        **{name: _split_summary(frame, dataset, name) for name, frame in sides.items()},
    }


# ------------------------------------------------------------------ gathering the recorded facts


def _check_version(version: Any) -> str:
    if isinstance(version, bool):
        raise BadInputError(ERR_VERSION.format(found=version))
    text = str(version).strip()
    if not text.isdecimal() or int(text) < 1:
        raise BadInputError(ERR_VERSION.format(found=version))
    return str(int(text))


def _iso_from_millis(millis: Any) -> str | None:
    if millis is None:
        return None
    return datetime.fromtimestamp(int(millis) / 1000.0, UTC).isoformat(timespec="milliseconds")


def _not_found(error: MlflowException) -> bool:
    return error.error_code == "RESOURCE_DOES_NOT_EXIST"


def _run_facts(client: Any, run_id: str | None) -> dict[str, Any]:
    """The version's MLflow run: ids, times, params and tags; ``not recorded`` when there is none."""
    if not run_id:
        return {"status": NOT_RECORDED, "problem": "the registered version names no MLflow run"}
    # lazy: importing mlflow takes one to three seconds; the split stage imports this package without it
    from mlflow.exceptions import MlflowException

    try:
        run = client.get_run(run_id)
    except MlflowException as e:
        if _not_found(e):
            return {"status": NOT_RECORDED, "run_id": run_id, "problem": f"MLflow run {run_id} not found"}
        raise
    return {
        "status": RECORDED,
        "run_id": run.info.run_id,
        "run_name": run.info.run_name,
        "experiment_id": str(run.info.experiment_id),
        "artifact_uri": run.info.artifact_uri,
        "lifecycle_stage": run.info.lifecycle_stage,
        "start_time": _iso_from_millis(run.info.start_time),
        "params": dict(sorted(run.data.params.items())),
        "tags": dict(sorted((k, v) for k, v in run.data.tags.items() if k.startswith(tags.PREFIX))),
    }


def _listed_files(client: Any, run_id: str, folders: Iterable[str]) -> set[str]:
    listed: set[str] = set()
    for folder in sorted(set(folders)):
        listed.update(info.path for info in client.list_artifacts(run_id, folder) if not info.is_dir)
    return listed


def _read_artifacts(client: Any, run: dict[str, Any], workdir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Download the run's JSON artifacts and the per-group plot: each recorded, not recorded or unreadable."""
    artifacts: dict[str, Any] = {}
    plot: dict[str, Any] = {"path": PER_GROUP_PLOT_PATH, "status": NOT_RECORDED}
    if run["status"] != RECORDED:
        for name, path in RECORDED_ARTIFACTS.items():
            artifacts[name] = {"path": path, "status": NOT_RECORDED}
        return artifacts, plot
    run_id = run["run_id"]
    wanted = [*RECORDED_ARTIFACTS.values(), PER_GROUP_PLOT_PATH]
    listed = _listed_files(client, run_id, (path.rpartition("/")[0] for path in wanted))
    for name, path in RECORDED_ARTIFACTS.items():
        if path not in listed:
            artifacts[name] = {"path": path, "status": NOT_RECORDED}
            continue
        local = Path(client.download_artifacts(run_id, path, str(workdir)))
        try:
            content = json.loads(local.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            artifacts[name] = {"path": path, "status": UNREADABLE, "problem": f"not valid JSON: {e}"}
            continue
        artifacts[name] = {"path": path, "status": RECORDED, "content": content}
    if PER_GROUP_PLOT_PATH in listed:
        data = Path(client.download_artifacts(run_id, PER_GROUP_PLOT_PATH, str(workdir))).read_bytes()
        plot = {
            "path": PER_GROUP_PLOT_PATH,
            "status": RECORDED,
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "base64": base64.b64encode(data).decode("ascii"),
        }
    return artifacts, plot


def _config_check(recorded_config: Any, tag: str | None) -> dict[str, Any]:
    """Does ``config/fairgate.json`` hash to the version's ``fairgate.config_hash``? (as ``config_hash`` hashes)."""
    if not isinstance(recorded_config, Mapping):
        return {"status": NOT_RECORDED, "version_tag": tag}
    settings = dict(recorded_config)
    settings.pop("audit_log", None)
    canonical = json.dumps(settings, sort_keys=True, separators=(",", ":"))
    computed = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return {
        "status": RECORDED,
        "computed_from_artifact": computed,
        "version_tag": tag,
        "match": None if tag is None else computed == tag,
    }


def _concerns_version(entry: Entry, model_name: str, version: int, run_id: str | None) -> bool:
    """An audit entry about this version: its own, a move of champion away from it, its gate decision."""
    if entry.model_name == model_name and entry.model_version == version:
        return True
    payload = entry.payload
    if entry.model_name == model_name and entry.kind in ("promotion", "rollback"):
        return str(payload.get("from_version")) == str(version)
    if entry.kind == "gate_decision":
        return run_id is not None and payload.get("mlflow_run_id") == run_id
    if entry.kind == "refusal" and entry.model_version is None:
        return payload.get("requested_version") == str(version)
    return False


def _audit_facts(paths: ProjectPaths, config: FairgateConfig, version: int, run_id: str | None) -> dict[str, Any]:
    """The audit-log entries about the version, its sign-offs, the freeze state and the chain's verdict."""
    name = config.registry.model_name
    with open_audit_log(paths, config) as log:
        entries = log.entries()
        verdict = log.verify()
        shown_url = log.url
    model_entries = [entry for entry in entries if entry.model_name == name]
    sign_offs = version_sign_offs(model_entries, name, version)
    approval = decide_approval(sign_offs)
    return {
        "url": shown_url,
        "verify": {
            "ok": verdict.ok,
            "checked": verdict.checked,
            "broken_seq": verdict.broken_seq,
            "problem": verdict.problem,
            "description": verdict.describe(),
            "head_hash": verdict.head_hash,
        },
        # the log's last entry when the card was written, and the entry the registry's anchor records
        "head": {
            "seq": entries[-1].seq if entries else 0,
            "entry_hash": entries[-1].entry_hash if entries else None,
            "anchored_seq": verdict.anchored_seq,
            "anchor": verdict.anchor_where,
        },
        "entries_in_log": len(entries),
        "entries": [entry.as_dict() for entry in entries if _concerns_version(entry, name, version, run_id)],
        "freeze": freeze_state(model_entries, name).to_dict(),
        "sign_offs": [asdict(sign_off) for sign_off in sign_offs],
        "approval": {**approval.to_dict(), "description": approval.describe()},
    }


def gather_facts(client: Any, paths: ProjectPaths, config: FairgateConfig, version: str) -> dict[str, Any]:
    """Read every recorded fact about one registered version of ``config.registry.model_name``.

    Parameters
    ----------
    client : mlflow.tracking.MlflowClient
        A client on the project's tracking and registry store.
    paths : ProjectPaths
        The project (locates the audit log with ``config``).
    config : FairgateConfig
        Gives the registered model's name and the audit log's location; what the
        card says about the run's settings comes from the run's own
        ``config/fairgate.json``, never from this object.
    version : str
        The registered version.

    Returns
    -------
    dict
        JSON-ready facts: ``model`` (name, version, source, run id, creation
        time, aliases), ``version_tags``, ``run`` (params and ``fairgate.*``
        tags, or ``status: not recorded``), ``artifacts`` (each JSON artifact of
        :data:`RECORDED_ARTIFACTS` with ``status`` and ``content``),
        ``per_group_plot`` (base64 PNG), ``config_check``, ``audit_log``
        (entries about this version, sign-offs, freeze state, chain verdict)
        and ``not_recorded`` (every fact looked for and not found).

    Raises
    ------
    BadInputError
        The version is not a positive integer or does not exist.
    """
    # lazy: the registry module imports mlflow (one to three seconds), which only reading a version needs
    from pipelines.governance import registry

    number = _check_version(version)
    name = config.registry.model_name
    model_version = registry.get_version(client, name, number)
    run = _run_facts(client, model_version.run_id)
    with tempfile.TemporaryDirectory(prefix="fairgate-card-") as workdir:
        artifacts, plot = _read_artifacts(client, run, Path(workdir))
    version_tags = dict(sorted(model_version.tags.items()))
    recorded_config = artifacts["config"].get("content")
    facts: dict[str, Any] = {
        "card": {
            "format": CARD_FORMAT,
            "rule": "generated only from recorded facts: the version's tags, its MLflow run and the audit log",
        },
        "model": {
            "name": name,
            "version": number,
            "source": model_version.source,
            "run_id": model_version.run_id or None,
            "created_at": _iso_from_millis(model_version.creation_timestamp),
            "aliases": sorted(getattr(model_version, "aliases", None) or []),
            "status": model_version.status,
        },
        "version_tags": version_tags,
        "run": run,
        "artifacts": artifacts,
        "per_group_plot": plot,
        "config_check": _config_check(recorded_config, version_tags.get(tags.CONFIG_HASH)),
        "audit_log": _audit_facts(paths, config, int(number), run.get("run_id")),
    }
    facts["not_recorded"] = [
        *(f"run artifact {item['path']}" for item in artifacts.values() if item["status"] == NOT_RECORDED),
        *([f"run artifact {PER_GROUP_PLOT_PATH}"] if plot["status"] == NOT_RECORDED else []),
        *(["MLflow run"] if run["status"] != RECORDED else []),
        *(f"version tag {key}" for key in tags.EXPECTED_VERSION_TAGS if key not in version_tags),
    ]
    # canonical: the facts are exactly what model_card.json holds, so a card renders the same from either
    canonical: dict[str, Any] = json.loads(facts_json(facts))
    return canonical


# ------------------------------------------------------------------ the facts as exact JSON


def facts_json(facts: Mapping[str, Any]) -> str:
    """The facts as exact, canonical JSON (``model_card.json``); ``BadInputError`` if a value cannot be exact.

    Parameters
    ----------
    facts : dict
        What :func:`gather_facts` returned (or any JSON-ready mapping).

    Returns
    -------
    str
        Indented JSON with sorted keys, non-ASCII kept, ending with a newline.

    Raises
    ------
    BadInputError
        A value is not JSON (a NaN or an infinity, or an object JSON cannot hold).
    """
    try:
        return json.dumps(facts, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"
    except (TypeError, ValueError) as e:
        version = facts.get("model", {}).get("version") if isinstance(facts.get("model"), Mapping) else None
        raise BadInputError(ERR_NOT_JSON_ABLE.format(version=version, problem=e)) from e
