"""The model card of a registered version: Markdown and HTML, generated only from recorded facts.

:func:`gather_facts` reads what was recorded about one registered version and
nothing else: the version's tags, its MLflow run (params, tags and the
artifacts the ``retrain`` stages logged) and the audit-log entries about it.
:func:`render_markdown` and :func:`render_html` turn those facts into the same
card, whose sections follow the technical documentation that Annex IV of the
EU AI Act asks of a high-risk system (credit scoring is one):

1. general description and intended use (Annex IV 1);
2. data and data governance (Annex IV 2(d), Article 10);
3. training (Annex IV 2(a), 2(b));
4. metrics and their limits (Annex IV 2(g), 3, 4);
5. gate decisions: the test log (Annex IV 2(g));
6. human oversight (Annex IV 2(e), 3; Article 14);
7. changes over the life cycle (Annex IV 6).

Rules the card keeps:

- a fact that was not recorded is shown as *not recorded*, never invented and
  never filled with a default; an artifact that is recorded but cannot be
  read says so, with the problem;
- numbers are rounded for display only (4 significant digits); class weights,
  ``beta_factor`` and the mitigation's costs are shown exactly as recorded
  (their ``repr`` strings); ``model_card.json`` next to the card holds the
  facts themselves, at full precision;
- every recorded string is escaped: ``html.escape`` in HTML, backslash escapes
  (or code spans) in Markdown.

:func:`write_model_card` renders all three files first, then logs them to the
version's MLflow run under ``model_card/`` (overwriting an earlier card) and
sets the version tag ``fairgate.model_card``.  :func:`summarise_split` is the
split stage's half: the data summary the card's data section reads.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import logging
import math
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from mlflow.exceptions import MlflowException

from pipelines.core.config import DatasetSettings, FairgateConfig
from pipelines.core.errors import BadInputError
from pipelines.core.project import ProjectPaths, audit_log_url
from pipelines.governance import tags
from pipelines.governance.approvals import decide as decide_approval
from pipelines.governance.approvals import freeze_state, version_sign_offs
from pipelines.governance.audit_log import Entry, open_log
from pipelines.model.evaluate import BUSINESS_METRICS, ETHICAL_METRICS, TECHNICAL_METRICS

logger = logging.getLogger(__name__)

CARD_FORMAT = 1
CARD_FOLDER = "model_card"
CARD_MARKDOWN = "model_card.md"
CARD_HTML = "model_card.html"
CARD_JSON = "model_card.json"
DATA_SUMMARY_PATH = "data/data_summary.json"
PER_GROUP_PLOT_PATH = "evaluation/per_group.png"
# the card lives in model_card/ of the run: the plot is one folder up
PER_GROUP_PLOT_FROM_CARD = "../" + PER_GROUP_PLOT_PATH

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

SECTION_TITLES = (
    "1. General description and intended use",
    "2. Data and data governance",
    "3. Training",
    "4. Metrics and their limits",
    "5. Gate decisions",
    "6. Human oversight",
    "7. Changes over the life cycle",
)
"""The card's numbered sections, in order (Annex IV references follow each title)."""
ANNEX_REFERENCES = (
    "Annex IV 1",
    "Annex IV 2(d), Article 10",
    "Annex IV 2(a), 2(b)",
    "Annex IV 2(g), 3, 4",
    "Annex IV 2(g): test log",
    "Annex IV 2(e), 3; Article 14",
    "Annex IV 6",
)
APPENDIX_TITLES = ("Appendix A. Recorded tags", "Appendix B. Sources of this card")

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
ERR_NO_RUN = "model card: version {version} of {name!r} has no MLflow run ({problem}): there is nowhere to log its card"
ERR_NOT_JSON_ABLE = "model card: the facts of version {version} cannot be written as exact JSON: {problem}"

ROUNDING_NOTE = (
    "Numbers are rounded to 4 significant digits for display only; class weights, beta_factor and the "
    "mitigation's costs are shown exactly as recorded. The exact values are in model_card.json next to this card."
)

# fairgate's rules for moving the champion alias (pipelines/registry.py, pipelines/approvals.py)
OVERSIGHT_RULES = (
    "Only three actions move the champion alias: promotion by the retrain DAG when both gates passed and "
    "deployments are not frozen; an approval while deployments are frozen, which needs a technical and an "
    "ethical sign-off from two different people authenticated by Airflow (the approve DAG); and a rollback.",
    "Each of the three re-checks the target version's gate tags (fairgate.gate.decision, .technical and "
    ".ethical all passed): a version that failed a gate can never become champion, and there is no override. "
    "Each also checks that the version's model files still match the SHA-256 checksums the audit log recorded "
    "at registration, and all three hold one lock (the champion lock) over their checks and the move.",
    "Rollback is triggered by hand (the rollback DAG, or fairgate rollback --reason ...) with a required reason: "
    "it moves champion back to the highest version below the current champion that passed every gate and "
    "served before (fairgate.stable_fair=true), or to a named version after checking that it passed; it records "
    "who and why, and it freezes deployments.",
    "Freezing takes one person (it only tightens); unfreezing takes a technical and an ethical sign-off from two "
    "different people, given for the current freeze. Every step is an entry of the tamper-evident audit log.",
)


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
    with open_log(audit_log_url(paths, config)) as log:
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



# ------------------------------------------------------------------ the card as a document


@dataclass(frozen=True)
class Code:
    """An identifier, hash or exact value, shown verbatim (a code span)."""

    text: str


@dataclass(frozen=True)
class Strong:
    """Emphasised text."""

    text: str


@dataclass(frozen=True)
class Missing:
    """A fact that was not recorded (or cannot be read): always rendered with the words ``not recorded``."""

    detail: str = ""
    status: str = NOT_RECORDED


Inline = str | Code | Strong | Missing
Cell = tuple[Inline, ...]


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of inline parts."""

    parts: Cell


@dataclass(frozen=True)
class Fields:
    """Label-value pairs."""

    rows: tuple[tuple[str, Cell], ...]


@dataclass(frozen=True)
class Table:
    """A table with a header row."""

    headers: tuple[str, ...]
    rows: tuple[Cell, ...]


@dataclass(frozen=True)
class Bullets:
    """A bulleted list."""

    items: tuple[Cell, ...]


@dataclass(frozen=True)
class Heading:
    """A sub-heading inside a section."""

    text: str


@dataclass(frozen=True)
class Image:
    """The per-group plot: a relative link in Markdown, embedded (base64) in HTML."""

    alt: str
    markdown_target: str
    png_base64: str


Block = Paragraph | Fields | Table | Bullets | Heading | Image


@dataclass(frozen=True)
class Section:
    """One titled section of the card."""

    anchor: str
    title: str
    blocks: tuple[Block, ...]


def _cell(*parts: Inline) -> Cell:
    return tuple(parts)


def _number(value: Any, signed: bool = False) -> str:
    """A number for people: 4 significant digits; ``undefined`` for null or NaN; ints exact."""
    if value is None:
        return "undefined"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:+d}" if signed else str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return "undefined"
        return f"{value:+.4g}" if signed else f"{value:.4g}"
    return str(value)


_ABSENT = object()


def _at(tree: Any, *path: str) -> Any:
    """The node at ``path``, or ``_ABSENT`` when any key is missing."""
    node = tree
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return _ABSENT
        node = node[part]
    return node


def _shown(value: Any, signed: bool = False) -> Inline:
    """A recorded number (rounded for display), or ``not recorded`` when absent."""
    if value is _ABSENT:
        return Missing()
    return _number(value, signed)


def _interval(node: Any, signed: bool = False) -> Inline:
    """``[low, high]`` of an interval node, ``no interval`` when undefined, ``not recorded`` when absent."""
    if node is _ABSENT or node is None:
        return Missing()
    if not isinstance(node, Mapping):
        return Missing(f"unexpected interval {node!r}", UNREADABLE)
    low, high = node.get("low"), node.get("high")
    if low is None or high is None:
        undefined = node.get("undefined")
        return f"no interval (undefined in {undefined} resamples)" if undefined else "no interval"
    return f"[{_number(low, signed)}, {_number(high, signed)}]"


EMPTY_VALUE = "(recorded empty)"


def _tag(version_tags: Mapping[str, str], key: str) -> Inline:
    """A tag value shown verbatim, ``not recorded`` when the tag is absent."""
    value = version_tags.get(key)
    if value is None:
        return Missing()
    return Code(value) if value.strip() else EMPTY_VALUE


def _tag_text(version_tags: Mapping[str, str], key: str) -> Inline:
    """A tag holding a sentence, ``not recorded`` when the tag is absent."""
    value = version_tags.get(key)
    if value is None:
        return Missing()
    return value if value.strip() else EMPTY_VALUE


def _artifact(facts: Mapping[str, Any], name: str) -> Any:
    """The content of a recorded JSON artifact, or ``_ABSENT``."""
    item = facts["artifacts"].get(name, {})
    return item["content"] if item.get("status") == RECORDED else _ABSENT


def _artifact_missing(facts: Mapping[str, Any], name: str) -> Missing:
    item = facts["artifacts"].get(name, {"path": RECORDED_ARTIFACTS.get(name, name), "status": NOT_RECORDED})
    if item.get("status") == UNREADABLE:
        return Missing(f"{item['path']}: {item.get('problem', '')}", UNREADABLE)
    return Missing(f"no {item['path']} on the run")


def _json_tag(version_tags: Mapping[str, str], key: str) -> tuple[Any, Inline | None]:
    """A tag holding JSON: the parsed value, or what to show instead (absent or not JSON)."""
    raw = version_tags.get(key)
    if raw is None:
        return _ABSENT, Missing()
    try:
        return json.loads(raw), None
    except ValueError:
        return _ABSENT, Code(raw)


def _config(facts: Mapping[str, Any], *path: str) -> Any:
    return _at(_artifact(facts, "config"), *path)


def _config_value(facts: Mapping[str, Any], *path: str) -> Inline:
    value = _config(facts, *path)
    if value is _ABSENT:
        return Missing("no config/fairgate.json on the run" if _artifact(facts, "config") is _ABSENT else "")
    if isinstance(value, list | dict):
        return Code(json.dumps(value, sort_keys=True, ensure_ascii=False))
    return Code(str(value)) if isinstance(value, str) else Code(json.dumps(value))


def _sources(*paths: str) -> Paragraph:
    parts: list[Inline] = ["Sources: "]
    for index, path in enumerate(paths):
        parts += [", " if index else "", Code(path)]
    parts.append(".")
    return Paragraph(tuple(part for part in parts if part != ""))


def _summary_of(payload: Mapping[str, Any]) -> str:
    """The payload's ``summary`` or ``reason`` (all of it), else its compact JSON."""
    for key in ("summary", "reason"):
        value = payload.get(key)
        if value not in (None, "", []):
            return "; ".join(str(item) for item in value) if isinstance(value, list) else str(value)
    return json.dumps(payload, sort_keys=True, ensure_ascii=False)


# ------------------------------------------------------------------ the sections


def _threshold(facts: Mapping[str, Any]) -> tuple[Inline, str]:
    """The refusal threshold: from the evaluation when recorded, else derived from the recorded cost matrix."""
    recorded = _at(_artifact(facts, "evaluation"), "candidate", "refusal_threshold")
    if isinstance(recorded, int | float) and not isinstance(recorded, bool):
        return Code(repr(float(recorded))), "as recorded in evaluation/evaluation.json"
    decision = _config(facts, "decision")
    if isinstance(decision, Mapping):
        if decision.get("threshold") is not None:
            return Code(repr(float(decision["threshold"]))), "set explicitly in the recorded configuration"
        approval, refusal = decision.get("cost_false_approval"), decision.get("cost_false_refusal")
        if isinstance(approval, int | float) and isinstance(refusal, int | float):
            derived = float(refusal) / (float(approval) + float(refusal))
            return Code(repr(derived)), "derived from the recorded cost matrix (no evaluation recorded)"
    return Missing(), ""


def _section_general(facts: Mapping[str, Any]) -> tuple[Block, ...]:
    params = facts["run"].get("params", {})
    dataset = _config(facts, "dataset")
    target, positive = _config(facts, "dataset", "target"), _config(facts, "dataset", "positive_label")
    favourable = _config(facts, "dataset", "positive_is_favorable")
    if favourable is _ABSENT or target is _ABSENT:
        meaning: Cell = (Missing("no config/fairgate.json on the run"),)
    elif favourable:
        meaning = (
            f"{target} = {positive} is the favourable outcome: an application is approved when the "
            f"predicted probability of {positive} is at least 1 minus the refusal threshold",
        )
    else:
        meaning = (
            f"{target} = {positive} is the adverse outcome: an application is refused when the predicted "
            f"probability of {positive} exceeds the refusal threshold; fairness is measured on approvals",
        )
    threshold, threshold_source = _threshold(facts)
    sensitive_as_feature = _config(facts, "dataset", "use_sensitive_as_feature")
    features = params.get("features")
    blocks: list[Block] = [
        Fields(
            (
                ("Use case", _cell(_config_value(facts, "use_case"))),
                ("Registered model", _cell(Code(facts["model"]["name"]))),
                ("Version", _cell(Code(facts["model"]["version"]))),
                ("Registered at (MLflow)", _cell(facts["model"]["created_at"] or Missing())),
                ("Outcome predicted (target)", _cell(_config_value(facts, "dataset", "target"))),
                ("Positive label", _cell(_config_value(facts, "dataset", "positive_label"))),
                ("Meaning of the positive label", meaning),
                ("Cost of a false approval", _cell(_config_value(facts, "decision", "cost_false_approval"))),
                ("Cost of a false refusal", _cell(_config_value(facts, "decision", "cost_false_refusal"))),
                ("Refusal threshold", _cell(threshold, f" ({threshold_source})" if threshold_source else "")),
                ("Estimator", _cell(Code(params["estimator"]) if "estimator" in params else Missing())),
                ("Features the model uses", _cell(Code(features) if features is not None else Missing())),
                ("Sensitive attributes", _cell(_config_value(facts, "dataset", "sensitive"))),
                (
                    "Sensitive attributes used as features",
                    _cell(Missing() if sensitive_as_feature is _ABSENT else _number(sensitive_as_feature)),
                ),
            )
        ),
        Heading("Intended use"),
    ]
    intended = _config(facts, "model_card", "intended_use")
    out_of_scope = _config(facts, "model_card", "out_of_scope_use")
    use_case, name = _config(facts, "use_case"), facts["model"]["name"]
    if isinstance(intended, str) and intended.strip():
        blocks.append(Paragraph((intended,)))
    else:
        blocks.append(
            Paragraph(
                (
                    Missing("the recorded configuration declares no intended-use statement"),
                    ". What it declares: the model ",
                    Code(name),
                    " serves the use case ",
                    Code(str(use_case)) if use_case is not _ABSENT else Missing(),
                    " and decides on each application from the features above, with the cost matrix and "
                    "refusal threshold above.",
                )
            )
        )
    blocks.append(Heading("Out-of-scope use"))
    if isinstance(out_of_scope, str) and out_of_scope.strip():
        blocks.append(Paragraph((out_of_scope,)))
    else:
        declared: list[Cell] = []
        if sensitive_as_feature is False:
            declared.append(
                ("the sensitive attributes are not model inputs: the model is not meant to decide on them",)
            )
        if isinstance(dataset, Mapping) and dataset.get("source") == "generator":
            declared.append(("it was trained and validated on synthetic data only (dataset.source: generator)",))
        summary_period = _at(_artifact(facts, "data_summary"), "train", "period")
        if isinstance(summary_period, Mapping):
            declared.append(
                (
                    f"it was trained on decisions from {summary_period.get('start')} to {summary_period.get('end')} "
                    "only; other periods or populations were not validated",
                )
            )
        blocks.append(
            Paragraph(
                (
                    Missing("the recorded configuration declares no out-of-scope statement"),
                    ". What the recorded facts imply:" if declared else ".",
                )
            )
        )
        if declared:
            blocks.append(Bullets(tuple(declared)))
    blocks.append(_sources("config/fairgate.json", "evaluation/evaluation.json", "run params", "version tags"))
    return tuple(blocks)


def _finding_rows(report: Any) -> tuple[Cell, ...]:
    rows: list[Cell] = []
    for finding in report.get("findings", []) if isinstance(report, Mapping) else []:
        rows.append(
            (
                Code(str(finding.get("check"))),
                str(finding.get("severity")),
                ", ".join(str(c) for c in finding.get("columns") or []) or "(table)",
                str(finding.get("message")),
            )
        )
    return tuple(rows)


def _check_report(facts: Mapping[str, Any], name: str, title: str) -> list[Block]:
    report = _artifact(facts, name)
    if report is _ABSENT:
        return [Fields(((f"{title} verdict", _cell(_artifact_missing(facts, name))),))]
    findings = report.get("findings", []) if isinstance(report, Mapping) else []
    blocking = sum(1 for f in findings if isinstance(f, Mapping) and f.get("severity") == "block")
    blocks: list[Block] = [
        Fields(
            (
                (f"{title} verdict", _cell(Strong(str(report.get("verdict"))))),
                (f"{title} findings", _cell(f"{len(findings)} ({blocking} blocking)")),
                (f"{title} rows checked", _cell(_shown(_at(report, "rows")))),
            )
        )
    ]
    if findings:
        blocks.append(Table(("check", "severity", "columns", "message"), _finding_rows(report)))
    notes = report.get("notes") if isinstance(report, Mapping) else None
    if notes:
        blocks.append(Bullets(tuple((str(note),) for note in notes)))
    return blocks


def _section_data(facts: Mapping[str, Any]) -> tuple[Block, ...]:
    version_tags = facts["version_tags"]
    run_tags = facts["run"].get("tags", {})
    source = _config(facts, "dataset", "source")
    exclusions = _config(facts, "dataset", "exclude_columns")
    blocks: list[Block] = [
        Fields(
            (
                ("Data version (DVC md5 of data/)", _cell(_tag(version_tags, tags.DATA_HASH))),
                ("Data interval", _cell(_tag(version_tags, tags.DATA_INTERVAL))),
                (
                    "Dataset source",
                    _cell(
                        _config_value(facts, "dataset", "source"),
                        " (synthetic: fairgate's seeded generator)" if source == "generator" else "",
                    ),
                ),
                ("Time column (decision time)", _cell(_config_value(facts, "dataset", "time_column"))),
                ("Identifier columns", _cell(_config_value(facts, "dataset", "id_columns"))),
                (
                    "Columns excluded, with reasons",
                    _cell(
                        Missing()
                        if exclusions is _ABSENT
                        else (
                            Code(json.dumps(exclusions, sort_keys=True, ensure_ascii=False)) if exclusions else "none"
                        )
                    ),
                ),
                ("Audit reference (run tag)", _cell(_tag_text(run_tags, tags.AUDIT_REFERENCE))),
                ("Hazards planted (run tag)", _cell(_tag(run_tags, tags.HAZARDS))),
                ("Blocked at (run tag)", _cell(_tag(run_tags, tags.BLOCKED_AT))),
                ("Blocked because (run tag)", _cell(_tag_text(run_tags, tags.BLOCKED_REASONS))),
            )
        ),
        Heading("Training set and holdout"),
    ]
    summary = _artifact(facts, "data_summary")
    if summary is _ABSENT:
        blocks.append(
            Paragraph(("Size, period, label rate and group shares: ", _artifact_missing(facts, "data_summary"), "."))
        )
    else:
        rows: list[Cell] = []
        for side in ("train", "holdout"):
            part = _at(summary, side)
            if part is _ABSENT:
                rows.append((side, Missing(), Missing(), Missing(), Missing()))
                continue
            period = part.get("period")
            rows.append(
                (
                    side,
                    _shown(_at(part, "rows")),
                    (Missing("no time column") if period is None else str(period.get("start"))),
                    (Missing("no time column") if period is None else str(period.get("end"))),
                    _shown(_at(part, "positive_label_rate")),
                )
            )
        blocks.append(Table(("set", "rows", "first decision", "last decision", "positive label rate"), tuple(rows)))
        for attribute in summary.get("sensitive", []):
            train_groups = _at(summary, "train", "groups", attribute)
            holdout_groups = _at(summary, "holdout", "groups", attribute)
            names = sorted(
                set(train_groups if isinstance(train_groups, Mapping) else {})
                | set(holdout_groups if isinstance(holdout_groups, Mapping) else {})
            )
            group_rows = tuple(
                (
                    group,
                    _shown(_at(train_groups, group, "rows")),
                    _shown(_at(train_groups, group, "share")),
                    _shown(_at(holdout_groups, group, "rows")),
                    _shown(_at(holdout_groups, group, "share")),
                )
                for group in names
            )
            blocks += [
                Heading(f"Groups of {attribute}"),
                Table(("group", "train rows", "train share", "holdout rows", "holdout share"), group_rows),
            ]
    blocks.append(Heading("Data audit and leakage checks"))
    blocks += _check_report(facts, "audit_report", "Audit")
    blocks += _check_report(facts, "leakage_report", "Leakage")
    blocks.append(
        _sources(
            DATA_SUMMARY_PATH,
            "audit/audit_report.json",
            "leakage/leakage_report.json",
            "config/fairgate.json",
            "version and run tags",
        )
    )
    return tuple(blocks)


def _exact_table(mapping: Any, key_header: str, value_header: str) -> Table:
    return Table((key_header, value_header), tuple((str(k), Code(str(v))) for k, v in mapping.items()))


def _section_training(facts: Mapping[str, Any]) -> tuple[Block, ...]:
    version_tags = facts["version_tags"]
    params = facts["run"].get("params", {})
    fingerprint = _artifact(facts, "fingerprint")
    estimator_params = {k.partition(".")[2]: v for k, v in params.items() if k.startswith("estimator.")}
    check = _at(fingerprint, "reference_check")
    blocks: list[Block] = [
        Fields(
            (
                ("Estimator", _cell(Code(params["estimator"]) if "estimator" in params else Missing())),
                (
                    "Estimator parameters",
                    _cell(Code(json.dumps(estimator_params, sort_keys=True)) if estimator_params else Missing()),
                ),
                ("Training rows", _cell(Code(params["train_rows"]) if "train_rows" in params else Missing())),
                ("beta_factor (exact)", _cell(_tag(version_tags, tags.BETA_FACTOR))),
                (
                    "Class counts",
                    _cell(
                        Missing()
                        if _at(fingerprint, "class_counts") is _ABSENT
                        else Code(json.dumps(fingerprint["class_counts"], sort_keys=True))
                    ),
                ),
                ("Sensitive reweighing", _cell(_tag(version_tags, tags.REWEIGH_SENSITIVE))),
                ("SHA-256 of the sample weights received", _cell(_tag(version_tags, tags.SAMPLE_WEIGHT_SHA256))),
                ("Weights check (against the 50-digit reference)", _cell(_tag_text(version_tags, tags.WEIGHTS_CHECK))),
                (
                    "Weights check in training/fingerprint.json",
                    _cell(
                        Missing()
                        if not isinstance(check, Mapping)
                        else f"{check.get('verdict')}: {check.get('rows')} rows, max {check.get('max_ulp_found')} ulp "
                        f"found, {check.get('max_ulp_allowed')} allowed"
                    ),
                ),
            )
        ),
        Heading("Class weights (exact, as recorded)"),
    ]
    weights, weights_problem = _json_tag(version_tags, tags.CLASS_WEIGHTS)
    hexes, _ = _json_tag(version_tags, tags.CLASS_WEIGHTS_HEX)
    if weights_problem is not None:
        blocks.append(Paragraph((tags.CLASS_WEIGHTS + ": ", weights_problem)))
    elif isinstance(weights, Mapping):
        rows = tuple(
            (
                str(label),
                Code(str(value)),
                Code(str(hexes[label])) if isinstance(hexes, Mapping) and label in hexes else Missing(),
            )
            for label, value in weights.items()
        )
        blocks.append(Table(("class", "weight (repr)", "weight (float.hex)"), rows))
        recorded = _at(fingerprint, "class_weights_repr")
        agreement: Inline = (
            Missing("no training/fingerprint.json on the run")
            if recorded is _ABSENT
            else ("yes" if recorded == weights else Strong("NO: the tag and the fingerprint differ"))
        )
        blocks.append(Paragraph(("training/fingerprint.json records the same class weights: ", agreement)))
    cells = _at(fingerprint, "cell_weights_repr")
    if _at(fingerprint, "reweigh_sensitive") is True and isinstance(cells, Mapping):
        counts = _at(fingerprint, "cell_counts")
        blocks += [
            Heading("Cell weights of the sensitive reweighing (exact, training/fingerprint.json)"),
            Table(
                ("group | class", "rows", "weight (repr)"),
                tuple(
                    (Code(str(cell)), _shown(_at(counts, str(cell))), Code(str(weight)))
                    for cell, weight in cells.items()
                ),
            ),
        ]
    blocks.append(Heading("Fairness mitigation"))
    mitigation, mitigation_problem = _json_tag(version_tags, tags.MITIGATION)
    if mitigation_problem is not None:
        blocks.append(Paragraph((tags.MITIGATION + ": ", mitigation_problem)))
    elif isinstance(mitigation, Mapping):
        rows_m: list[tuple[str, Cell]] = [("Method", _cell(Code(str(mitigation.get("method")))))]
        for key in ("constraint", "difference_bound", "max_iter", "positive_threshold", "oracle_calls"):
            if key in mitigation:
                rows_m.append((key.replace("_", " ").capitalize(), _cell(Code(str(mitigation[key])))))
        blocks.append(Fields(tuple(rows_m)))
        for key, title in (("costs", "cost"), ("class_weights", "class")):
            if isinstance(mitigation.get(key), Mapping):
                blocks.append(_exact_table(mitigation[key], title, f"reduction {key.replace('_', ' ')} (exact)"))
        if isinstance(mitigation.get("mixture_weights"), list):
            blocks.append(
                Paragraph(("Mixture weights (exact): ", Code(", ".join(map(str, mitigation["mixture_weights"])))))
            )
    cost = _artifact(facts, "mitigation_cost")
    if cost is _ABSENT:
        method = mitigation.get("method") if isinstance(mitigation, Mapping) else None
        detail = " (mitigation method none: nothing to compare)" if method == "none" else ""
        blocks.append(Paragraph(("What the mitigation cost: ", _artifact_missing(facts, "mitigation_cost"), detail)))
    else:
        cost_rows = tuple(
            (
                Code(str(row.get("metric"))),
                _number(row.get("unmitigated")),
                _number(row.get("mitigated")),
                _number(row.get("difference"), signed=True),
                _interval({"low": row.get("ci_low"), "high": row.get("ci_high")}, signed=True),
                str(row.get("effect")),
            )
            for row in cost.get("rows", [])
            if isinstance(row, Mapping) and row.get("key")
        )
        blocks += [
            Paragraph(
                (
                    "What the mitigation cost (mitigated minus the same pipeline without it, same holdout, "
                    "paired interval; key metrics, all of them in evaluation/mitigation_cost.json):",
                )
            ),
            Table(("metric", "unmitigated", "mitigated", "difference", "paired interval", "effect"), cost_rows),
        ]
    blocks.append(
        _sources("run params", "version tags", "training/fingerprint.json", "evaluation/mitigation_cost.json")
    )
    return tuple(blocks)


def _ordered(section: Any, known: Sequence[str]) -> list[str]:
    if not isinstance(section, Mapping):
        return []
    scalars = [k for k, v in section.items() if not isinstance(v, Mapping | list)]
    return [k for k in known if k in scalars] + sorted(k for k in scalars if k not in known)


def _metric_rows(evaluation: Mapping[str, Any], path: tuple[str, ...], names: Sequence[str]) -> tuple[Cell, ...]:
    """Candidate and interval, then (with a champion) champion, interval, difference, paired interval."""
    has_champion = isinstance(evaluation.get("champion"), Mapping)
    rows: list[Cell] = []
    for name in names:
        full = (*path, name)
        champion: Cell = ()
        if has_champion:
            difference = _at(evaluation.get("comparison"), *full)
            champion = (
                _shown(_at(evaluation["champion"], *full)),
                _interval(_at(evaluation["champion"], "intervals", *full)),
                _shown(_at(difference, "difference"), signed=True),
                _interval(difference, signed=True),
            )
        rows.append(
            (
                Code(".".join(full)),
                _shown(_at(evaluation["candidate"], *full)),
                _interval(_at(evaluation["candidate"], "intervals", *full)),
                *champion,
            )
        )
    return tuple(rows)


def _level(evaluation: Any) -> str:
    confidence = _at(evaluation, "bootstrap", "confidence")
    return f"{confidence * 100:g}% interval" if isinstance(confidence, int | float) else "interval"


def _limitations(facts: Mapping[str, Any], evaluation: Any) -> tuple[Cell, ...]:
    items: list[Cell] = []
    decision = _artifact(facts, "gate_decision")
    for check in _at(decision, "uncertain_checks") if isinstance(_at(decision, "uncertain_checks"), list) else []:
        items.append(("Decided on a point estimate whose interval straddles the limit: ", Code(str(check))))
    candidate = _at(evaluation, "candidate")
    if isinstance(candidate, Mapping):
        for family in ("technical", "business"):
            for name in _ordered(candidate.get(family), ()):
                if candidate[family][name] is None:
                    items.append(("Undefined: ", Code(f"{family}.{name}")))
        for attribute, section in (candidate.get("ethical") or {}).items():
            for name in _ordered(section, ()):
                if section[name] is None:
                    items.append(("Undefined: ", Code(f"ethical.{attribute}.{name}")))
            for note in section.get("notes") or []:
                items.append((f"{attribute}: {note}",))
        rows = candidate.get("rows")
        min_group_rows = _config(facts, "audit", "min_group_rows")
        smallest: tuple[int, str, str] | None = None
        for attribute, section in (candidate.get("ethical") or {}).items():
            for group, values in (section.get("by_group") or {}).items():
                if isinstance(values, Mapping) and isinstance(values.get("rows"), int):
                    if smallest is None or values["rows"] < smallest[0]:
                        smallest = (values["rows"], attribute, group)
        text = f"The holdout has {_number(rows)} rows"
        if smallest is not None:
            text += f"; the smallest group is {smallest[2]} of {smallest[1]} with {smallest[0]} rows"
            if isinstance(min_group_rows, int) and smallest[0] < min_group_rows:
                text += f", below audit.min_group_rows = {min_group_rows}: its rates are mostly noise"
        items.append((text + ". Every interval above reflects this size.",))
        latency = candidate.get("latency")
        if isinstance(latency, Mapping):
            items.append(
                (
                    f"Latency is wall time on the machine that ran the evaluation ({latency.get('samples')} "
                    f"timed batches of {latency.get('batch_rows')} rows): it says little about another machine.",
                )
            )
    elif evaluation is _ABSENT:
        items.append(("Metrics: ", _artifact_missing(facts, "evaluation")))
    source = _config(facts, "dataset", "source")
    if source == "generator":
        gap = _config(facts, "generator", "recorded_income_gap")
        items.append(
            (
                "The data is synthetic: generated by fairgate's seeded generator (with a planted measurement bias, "
                f"recorded_income_gap = {gap if gap is not _ABSENT else 'not recorded'}). These metrics say nothing "
                "about how the model would treat real applicants.",
            )
        )
    elif source is _ABSENT:
        items.append(("Whether the data is synthetic: ", Missing("no config/fairgate.json on the run")))
    if _config(facts, "dataset", "time_column") is None:
        items.append(
            (
                "No time column is configured: the holdout is a seeded stratified split, so out-of-time "
                "validation was not possible.",
            )
        )
    return tuple(items)


def _section_metrics(facts: Mapping[str, Any]) -> tuple[Block, ...]:
    evaluation = _artifact(facts, "evaluation")
    blocks: list[Block] = []
    if evaluation is _ABSENT or not isinstance(_at(evaluation, "candidate"), Mapping):
        blocks.append(Paragraph(("Evaluation: ", _artifact_missing(facts, "evaluation"), ".")))
    else:
        candidate = evaluation["candidate"]
        boot = evaluation.get("bootstrap") or candidate.get("bootstrap") or {}
        level = _level(candidate)
        champion_version = evaluation.get("champion_version")
        blocks.append(
            Fields(
                (
                    ("Holdout rows", _cell(_shown(_at(candidate, "rows")))),
                    (
                        "Champion compared on the same holdout",
                        _cell(
                            f"version {champion_version}" if champion_version is not None else "none (no champion yet)"
                        ),
                    ),
                    (
                        "Intervals",
                        _cell(
                            f"{_number(boot.get('confidence'))} two-sided {boot.get('interval')} intervals "
                            f"of a seeded {boot.get('method')} bootstrap, {boot.get('resamples')} "
                            f"resamples, seed {boot.get('seed')}, paired: {_number(boot.get('paired'))}"
                        ),
                    ),
                )
            )
        )
        headers: tuple[str, ...] = ("metric", "candidate", level)
        if isinstance(evaluation.get("champion"), Mapping):
            headers += ("champion", f"champion {level}", "difference", f"paired {level} of the difference")
        blocks += [
            Heading("Technical"),
            Table(
                headers,
                _metric_rows(evaluation, ("technical",), _ordered(candidate.get("technical"), TECHNICAL_METRICS)),
            ),
            Heading("Business"),
            Table(
                headers, _metric_rows(evaluation, ("business",), _ordered(candidate.get("business"), BUSINESS_METRICS))
            ),
        ]
        champion = evaluation.get("champion") if isinstance(evaluation.get("champion"), Mapping) else None
        for attribute, section in (candidate.get("ethical") or {}).items():
            blocks += [
                Heading(f"Ethical: {attribute}"),
                Table(headers, _metric_rows(evaluation, ("ethical", attribute), _ordered(section, ETHICAL_METRICS))),
            ]
            group_rows: list[Cell] = []
            for group, values in (section.get("by_group") or {}).items():
                path = ("intervals", "ethical", attribute, "by_group", group)
                row: list[Inline] = [group, _shown(_at(values, "rows"))]
                for rate in ("selection_rate", "tpr", "fpr"):
                    row += [_shown(_at(values, rate)), _interval(_at(candidate, *path, rate))]
                if champion is not None:
                    row.append(_shown(_at(champion, "ethical", attribute, "by_group", group, "selection_rate")))
                group_rows.append(tuple(row))
            group_headers: tuple[str, ...] = ("group", "rows", "approval rate", level, "TPR", level, "FPR", level)
            if champion is not None:
                group_headers += ("champion approval rate",)
            blocks.append(Table(group_headers, tuple(group_rows)))
            if section.get("notes"):
                blocks.append(Bullets(tuple((str(note),) for note in section["notes"])))
    blocks.append(Heading("Approval rate, TPR and FPR per group"))
    plot = facts["per_group_plot"]
    if plot.get("status") == RECORDED:
        blocks.append(
            Image(
                "Approval rate, TPR and FPR per group with their intervals (champion's approval rate as a black mark)",
                PER_GROUP_PLOT_FROM_CARD,
                plot["base64"],
            )
        )
    else:
        blocks.append(Paragraph(("Per-group plot: ", Missing(f"no {PER_GROUP_PLOT_PATH} on the run"), ".")))
    blocks += [Heading("Known limitations"), Bullets(_limitations(facts, evaluation))]
    blocks.append(
        _sources("evaluation/evaluation.json", PER_GROUP_PLOT_PATH, "gate/gate_decision.json", "config/fairgate.json")
    )
    return tuple(blocks)


def _check_row(check: Mapping[str, Any]) -> Cell:
    bound = ">=" if check.get("bound") == "min" else "<="
    return (
        Code(str(check.get("metric"))),
        str(check.get("kind", "")).replace("_", "-"),
        _number(check.get("candidate")),
        _interval({"low": check.get("interval_low"), "high": check.get("interval_high")}),
        _number(check.get("champion")) if check.get("champion") is not None else "-",
        _number(check.get("difference"), signed=True) if check.get("difference") is not None else "-",
        _interval({"low": check.get("difference_low"), "high": check.get("difference_high")}, signed=True),
        f"{bound} {_number(check.get('limit'))}",
        str(check.get("confidence")),
        Strong("pass") if check.get("passed") else Strong("FAIL"),
    )


def _verdict(value: Any) -> Inline:
    if value is _ABSENT:
        return Missing()
    return Strong("passed") if value else Strong("blocked")


def _section_gate(facts: Mapping[str, Any]) -> tuple[Block, ...]:
    version_tags = facts["version_tags"]
    run_tags = facts["run"].get("tags", {})
    decision = _artifact(facts, "gate_decision")
    blocks: list[Block] = [
        Fields(
            (
                ("Decision (version tag)", _cell(_tag(version_tags, tags.GATE_DECISION))),
                ("Technical gate (version tag)", _cell(_tag(version_tags, tags.GATE_TECHNICAL))),
                ("Ethical gate (version tag)", _cell(_tag(version_tags, tags.GATE_ETHICAL))),
                ("Reasons (version tag)", _cell(_tag_text(version_tags, tags.GATE_REASONS))),
                ("Checks (run tag)", _cell(_tag_text(run_tags, tags.GATE_CHECKS))),
                ("Gated against champion (run tag)", _cell(_tag(run_tags, tags.GATE_CHAMPION))),
            )
        )
    ]
    if decision is _ABSENT:
        blocks.append(Paragraph(("Every check with its values: ", _artifact_missing(facts, "gate_decision"), ".")))
    else:
        blocks.append(
            Fields(
                (
                    ("Decision (gate/gate_decision.json)", _cell(_verdict(_at(decision, "passed")))),
                    ("Technical gate", _cell(_verdict(_at(decision, "technical_passed")))),
                    ("Ethical gate", _cell(_verdict(_at(decision, "ethical_passed")))),
                    ("Champion version", _cell(str(decision.get("champion_version") or "none"))),
                    ("Rule", _cell(str(decision.get("rule")) if decision.get("rule") else Missing())),
                )
            )
        )
        level = (
            "interval"
            if not isinstance(decision.get("confidence_level"), int | float)
            else (f"{decision['confidence_level'] * 100:g}% interval")
        )
        headers = (
            "metric",
            "kind",
            "candidate",
            level,
            "champion",
            "difference",
            f"paired {level}",
            "limit",
            "confidence",
            "verdict",
        )
        checks = [check for check in decision.get("checks", []) if isinstance(check, Mapping)]
        for gate in ("technical", "ethical"):
            own = [check for check in checks if check.get("gate") == gate]
            blocks.append(Heading(f"{gate.capitalize()} gate: {len(own)} check(s)"))
            if own:
                blocks.append(Table(headers, tuple(_check_row(check) for check in own)))
                blocks.append(
                    Bullets(
                        tuple((Code(str(c.get("metric"))), f" ({c.get('kind')}): ", str(c.get("reason"))) for c in own)
                    )
                )
            else:
                blocks.append(Paragraph(("No check recorded for this gate: it fails closed.",)))
        reasons = decision.get("reasons") or []
        blocks += [
            Heading("Why it is blocked" if reasons else "Reasons"),
            Bullets(tuple((str(reason),) for reason in reasons))
            if reasons
            else Paragraph(("None: every check passed.",)),
        ]
        if decision.get("notes"):
            blocks += [Heading("Notes"), Bullets(tuple((str(note),) for note in decision["notes"]))]
    gate_entries = [e for e in facts["audit_log"]["entries"] if e["kind"] == "gate_decision"]
    blocks.append(Heading("The decision in the audit log"))
    if gate_entries:
        blocks.append(
            Table(
                ("entry", "recorded at (UTC)", "actor", "summary"),
                tuple(
                    (str(e["seq"]), str(e["recorded_at"]), str(e["actor"]), _summary_of(e["payload"]))
                    for e in gate_entries
                ),
            )
        )
    else:
        blocks.append(Paragraph((Missing("no gate_decision entry for this version's run in the audit log"),)))
    blocks.append(_sources("gate/gate_decision.json", "version and run tags", "audit log"))
    return tuple(blocks)


def _section_oversight(facts: Mapping[str, Any]) -> tuple[Block, ...]:
    version_tags = facts["version_tags"]
    audit = facts["audit_log"]
    freeze = audit["freeze"]
    if freeze.get("seq") is None:
        freeze_text: Cell = ("not frozen: no freeze was ever recorded for this model",)
    elif freeze.get("frozen"):
        freeze_text = (
            Strong("FROZEN"),
            f" since {freeze['recorded_at']} by {freeze['actor']} (audit entry {freeze['seq']}): {freeze['reason']}",
        )
    else:
        freeze_text = (
            f"not frozen since {freeze['recorded_at']} (audit entry {freeze['seq']}, "
            f"{freeze['actor']}): {freeze['reason']}",
        )
    alias = _config(facts, "registry", "champion_alias")
    alias_name = alias if isinstance(alias, str) else "champion"
    aliases = facts["model"]["aliases"]
    blocks: list[Block] = [
        Fields(
            (
                ("Deployments now", freeze_text),
                ("Aliases on this version now", _cell(Code(", ".join(aliases)) if aliases else "none")),
                ("Awaiting approval (version tag)", _cell(_tag(version_tags, tags.AWAITING_APPROVAL))),
                ("Gated against (version tag)", _cell(_tag(version_tags, tags.GATED_AGAINST))),
                ("Approved by (version tag)", _cell(_tag_text(version_tags, tags.APPROVED_BY))),
                (
                    "Sign-offs for this version",
                    _cell(audit["approval"]["description"] if audit["sign_offs"] else "none recorded"),
                ),
            )
        ),
        Heading("Sign-offs for this version"),
    ]
    if audit["sign_offs"]:
        blocks.append(
            Table(
                ("entry", "person", "sign-off", "comment", "Airflow run"),
                tuple(
                    (
                        str(s["seq"]),
                        str(s["actor"]),
                        Strong(str(s["sign_off"])),
                        str(s["comment"]) if s.get("comment") else "-",
                        Code(str(s["airflow_run_id"])) if s.get("airflow_run_id") else "-",
                    )
                    for s in audit["sign_offs"]
                ),
            )
        )
    else:
        blocks.append(Paragraph(("No sign-off recorded for this version.",)))
    refusals = [e for e in audit["entries"] if e["kind"] == "refusal"]
    blocks.append(Heading("Refused attempts about this version"))
    if refusals:
        blocks.append(
            Table(
                ("entry", "recorded at (UTC)", "actor", "what", "reason"),
                tuple(
                    (
                        str(e["seq"]),
                        str(e["recorded_at"]),
                        str(e["actor"]),
                        str(e["payload"].get("what")),
                        str(e["payload"].get("reason")),
                    )
                    for e in refusals
                ),
            )
        )
    else:
        blocks.append(Paragraph(("None recorded.",)))
    blocks += [
        Heading("Who may move the champion, and how rollback works"),
        Paragraph(
            (
                "fairgate's rules (pipelines/registry.py and pipelines/approvals.py at git commit ",
                _tag(version_tags, tags.GIT_COMMIT),
                "); the alias is ",
                Code(alias_name),
                ":",
            )
        ),
        Bullets(tuple((rule,) for rule in OVERSIGHT_RULES)),
        Heading("Integrity of the audit log"),
        Paragraph(
            (
                Strong("OK") if audit["verify"]["ok"] else Strong("BROKEN: this history cannot be trusted"),
                f": {audit['verify']['description']} (",
                Code(audit["url"]),
                f"; {audit['entries_in_log']} entries; head hash ",
                Code(str(audit["verify"]["head_hash"])),
                ").",
            )
        ),
        _sources("audit log", "version tags"),
    ]
    return tuple(blocks)


def _section_life_cycle(facts: Mapping[str, Any]) -> tuple[Block, ...]:
    version_tags = facts["version_tags"]
    check = facts["config_check"]
    if check["status"] != RECORDED:
        config_match: Cell = (Missing("no config/fairgate.json on the run"),)
    elif check["match"] is None:
        config_match = (
            "the artifact hashes to ",
            Code(check["computed_from_artifact"]),
            "; the version tag is ",
            Missing(),
        )
    else:
        config_match = (
            ("yes" if check["match"] else Strong("NO")),
            ": the artifact hashes to ",
            Code(check["computed_from_artifact"]),
        )
    run = facts["run"]
    blocks: list[Block] = [
        Fields(
            (
                ("Registered at (MLflow)", _cell(facts["model"]["created_at"] or Missing())),
                ("Git commit", _cell(_tag(version_tags, tags.GIT_COMMIT))),
                ("Working tree dirty", _cell(_tag(version_tags, tags.GIT_DIRTY))),
                ("Configuration hash", _cell(_tag(version_tags, tags.CONFIG_HASH))),
                ("config/fairgate.json matches the configuration hash", config_match),
                ("DAG", _cell(_tag(version_tags, tags.DAG_ID))),
                ("Airflow run", _cell(_tag(version_tags, tags.AIRFLOW_RUN_ID))),
                ("MLflow run", _cell(Code(run["run_id"]) if run.get("run_id") else Missing(run.get("problem", "")))),
                ("Model source", _cell(Code(str(facts["model"]["source"])))),
                ("SHA-256 of the model's file manifest", _cell(_tag(version_tags, tags.MODEL_DIGEST))),
                ("Served as champion (fairgate.stable_fair)", _cell(_tag(version_tags, tags.STABLE_FAIR))),
                ("Last rollback to this version (version tag)", _cell(_tag_text(version_tags, tags.LAST_ROLLBACK))),
            )
        ),
        Heading("Events about this version in the audit log"),
    ]
    entries = facts["audit_log"]["entries"]
    if entries:
        blocks.append(
            Table(
                ("entry", "recorded at (UTC)", "actor", "event", "what happened"),
                tuple(
                    (
                        str(e["seq"]),
                        str(e["recorded_at"]),
                        str(e["actor"]),
                        Strong(str(e["kind"])),
                        _summary_of(e["payload"]),
                    )
                    for e in entries
                ),
            )
        )
    else:
        blocks.append(Paragraph((Missing("no audit-log entry about this version"),)))
    blocks.append(_sources("version tags", "audit log", "config/fairgate.json"))
    return tuple(blocks)


def _appendices(facts: Mapping[str, Any]) -> tuple[Section, ...]:
    run = facts["run"]
    tag_blocks: list[Block] = [
        Heading("Version tags"),
        Table(("tag", "value"), tuple((Code(k), Code(v)) for k, v in facts["version_tags"].items())),
        Heading("Run tags (fairgate.*)"),
        Table(("tag", "value"), tuple((Code(k), Code(v)) for k, v in run.get("tags", {}).items()))
        if run["status"] == RECORDED
        else Paragraph((Missing(run.get("problem", "")),)),
    ]
    rows: list[Cell] = [
        (
            Code(item["path"]),
            item["status"] if item["status"] == RECORDED else Missing(item.get("problem", ""), item["status"]),
        )
        for item in (facts["artifacts"][name] for name in RECORDED_ARTIFACTS if name in facts["artifacts"])
    ]
    plot = facts["per_group_plot"]
    rows.append((Code(plot["path"]), plot["status"] if plot["status"] == RECORDED else Missing()))
    not_recorded = facts.get("not_recorded") or []
    source_blocks: list[Block] = [
        Paragraph(
            (
                "This card was generated only from recorded facts: the registered version's tags, its MLflow "
                "run (params, tags, artifacts) and the audit log. ",
                ROUNDING_NOTE,
            )
        ),
        Table(("run artifact", "status"), tuple(rows)),
        Paragraph((f"Facts looked for and not recorded: {len(not_recorded)}.",)),
    ]
    if not_recorded:
        source_blocks.append(Bullets(tuple((str(item),) for item in not_recorded)))
    return (
        Section("appendix-tags", APPENDIX_TITLES[0], tuple(tag_blocks)),
        Section("appendix-sources", APPENDIX_TITLES[1], tuple(source_blocks)),
    )


def _card_title(facts: Mapping[str, Any]) -> str:
    return f"Model card: {facts['model']['name']} version {facts['model']['version']}"


def _overview(facts: Mapping[str, Any]) -> tuple[Block, ...]:
    version_tags = facts["version_tags"]
    return (
        Paragraph(
            (
                "Technical documentation of one registered model version, following Annex IV of the EU AI Act "
                "for a high-risk credit-scoring system. ",
                ROUNDING_NOTE,
                " A fact that was not recorded is shown as ",
                Missing(),
                ".",
            )
        ),
        Fields(
            (
                ("Gate decision", _cell(_tag(version_tags, tags.GATE_DECISION))),
                (
                    "Aliases now",
                    _cell(Code(", ".join(facts["model"]["aliases"])) if facts["model"]["aliases"] else "none"),
                ),
                ("Data interval", _cell(_tag(version_tags, tags.DATA_INTERVAL))),
                ("Data version", _cell(_tag(version_tags, tags.DATA_HASH))),
            )
        ),
    )


def _document(facts: Mapping[str, Any]) -> tuple[tuple[Block, ...], tuple[Section, ...]]:
    builders = (
        _section_general,
        _section_data,
        _section_training,
        _section_metrics,
        _section_gate,
        _section_oversight,
        _section_life_cycle,
    )
    sections = tuple(
        Section(f"section-{index}", f"{title} ({reference})", builder(facts))
        for index, (title, reference, builder) in enumerate(
            zip(SECTION_TITLES, ANNEX_REFERENCES, builders, strict=True), start=1
        )
    )
    return _overview(facts), sections + _appendices(facts)


# ------------------------------------------------------------------ Markdown


_WHITESPACE = re.compile(r"\s+")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>&|#~!])")


def _md_text(text: str) -> str:
    """Recorded text as inert Markdown: one line, every markup character backslash-escaped."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", _WHITESPACE.sub(" ", str(text)))


def _md_code(text: str, in_table: bool) -> str:
    content = " ".join(str(text).split("\n"))
    if in_table:
        content = content.replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", content)), default=0)
    fence = "`" * (longest + 1)
    padded = f" {content} " if content.startswith("`") or content.endswith("`") or not content.strip() else content
    return f"{fence}{padded}{fence}"


def _md_inline(part: Inline, in_table: bool = False) -> str:
    if isinstance(part, Code):
        return _md_code(part.text, in_table)
    if isinstance(part, Strong):
        return f"**{_md_text(part.text)}**"
    if isinstance(part, Missing):
        detail = f" ({_md_text(part.detail)})" if part.detail else ""
        return f"*{_md_text(part.status)}*{detail}"
    return _md_text(part)


def _md_cell(parts: Cell, in_table: bool = False) -> str:
    return "".join(_md_inline(part, in_table) for part in parts)


def _md_block(block: Block) -> list[str]:
    if isinstance(block, Heading):
        return [f"### {_md_text(block.text)}", ""]
    if isinstance(block, Paragraph):
        return [_md_cell(block.parts), ""]
    if isinstance(block, Fields):
        return [f"- **{_md_text(label)}**: {_md_cell(value)}" for label, value in block.rows] + [""]
    if isinstance(block, Bullets):
        return [f"- {_md_cell(item)}" for item in block.items] + [""]
    if isinstance(block, Table):
        if not block.rows:
            return ["*(no rows)*", ""]
        lines = [
            "| " + " | ".join(_md_text(h) for h in block.headers) + " |",
            "|" + "|".join(" --- " for _ in block.headers) + "|",
        ]
        lines += ["| " + " | ".join(_md_cell((cell,), in_table=True) for cell in row) + " |" for row in block.rows]
        return lines + [""]
    return [f"![{_md_text(block.alt)}]({block.markdown_target})", ""]


def render_markdown(facts: Mapping[str, Any]) -> str:
    """Render the model card as Markdown (the per-group plot linked as ``../evaluation/per_group.png``).

    Parameters
    ----------
    facts : dict
        What :func:`gather_facts` returned.

    Returns
    -------
    str
        The card; every recorded string escaped, numbers rounded for display only.
    """
    overview, sections = _document(facts)
    lines = [f"# {_md_text(_card_title(facts))}", ""]
    for block in overview:
        lines += _md_block(block)
    for section in sections:
        lines += [f"## {_md_text(section.title)}", ""]
        for block in section.blocks:
            lines += _md_block(block)
    return "\n".join(lines).rstrip("\n") + "\n"


# ------------------------------------------------------------------ HTML

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #1b1f24; margin: 0; background: #f6f7f9; }
main { max-width: 72rem; margin: 0 auto; padding: 1.5rem 2rem 3rem; background: #fff; }
h1 { font-size: 1.6rem; border-bottom: 2px solid #1b1f24; padding-bottom: .4rem; }
h2 { font-size: 1.25rem; margin-top: 2.2rem; border-bottom: 1px solid #d0d7de; padding-bottom: .3rem; }
h3 { font-size: 1.05rem; margin-top: 1.4rem; }
table { border-collapse: collapse; margin: .6rem 0 1rem; font-size: .9rem; }
th, td { border: 1px solid #d0d7de; padding: .3rem .55rem; text-align: left; vertical-align: top; }
th { background: #eef1f4; }
table.fields th { width: 20rem; }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; font-size: .85rem; word-break: break-all; }
em.missing { color: #9a3412; font-style: italic; }
nav ol { columns: 2; }
img { max-width: 100%; border: 1px solid #d0d7de; }
"""


def _html_inline(part: Inline) -> str:
    if isinstance(part, Code):
        return f"<code>{html.escape(part.text)}</code>"
    if isinstance(part, Strong):
        return f"<strong>{html.escape(part.text)}</strong>"
    if isinstance(part, Missing):
        detail = f" ({html.escape(part.detail)})" if part.detail else ""
        return f'<em class="missing">{html.escape(part.status)}</em>{detail}'
    return html.escape(str(part))


def _html_cell(parts: Cell) -> str:
    return "".join(_html_inline(part) for part in parts)


def _html_block(block: Block) -> str:
    if isinstance(block, Heading):
        return f"<h3>{html.escape(block.text)}</h3>"
    if isinstance(block, Paragraph):
        return f"<p>{_html_cell(block.parts)}</p>"
    if isinstance(block, Fields):
        rows = "".join(
            f"<tr><th>{html.escape(label)}</th><td>{_html_cell(value)}</td></tr>" for label, value in block.rows
        )
        return f'<table class="fields"><tbody>{rows}</tbody></table>'
    if isinstance(block, Bullets):
        return "<ul>" + "".join(f"<li>{_html_cell(item)}</li>" for item in block.items) + "</ul>"
    if isinstance(block, Table):
        if not block.rows:
            return "<p><em>(no rows)</em></p>"
        head = "".join(f"<th>{html.escape(header)}</th>" for header in block.headers)
        body = "".join(
            "<tr>" + "".join(f"<td>{_html_inline(cell)}</td>" for cell in row) + "</tr>" for row in block.rows
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    return (
        f'<figure><img src="data:image/png;base64,{html.escape(block.png_base64)}" '
        f'alt="{html.escape(block.alt)}" /><figcaption>{html.escape(block.alt)} '
        f"(<code>{html.escape(PER_GROUP_PLOT_PATH)}</code>)</figcaption></figure>"
    )


def render_html(facts: Mapping[str, Any]) -> str:
    """Render the model card as one self-contained HTML page (the per-group plot embedded as base64).

    Parameters
    ----------
    facts : dict
        What :func:`gather_facts` returned.

    Returns
    -------
    str
        A well-formed HTML5 document with inline CSS; every recorded string
        goes through ``html.escape``.
    """
    overview, sections = _document(facts)
    title = html.escape(_card_title(facts))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        f'<head><meta charset="utf-8" /><title>{title}</title><style>{_CSS}</style></head>',
        "<body><main>",
        f"<h1>{title}</h1>",
        *(_html_block(block) for block in overview),
        "<nav><ol>"
        + "".join(f'<li><a href="#{s.anchor}">{html.escape(s.title)}</a></li>' for s in sections)
        + "</ol></nav>",
    ]
    for section in sections:
        parts.append(f'<section id="{section.anchor}"><h2>{html.escape(section.title)}</h2>')
        parts += [_html_block(block) for block in section.blocks]
        parts.append("</section>")
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"


# ------------------------------------------------------------------ writing the card


def facts_json(facts: Mapping[str, Any]) -> str:
    """The facts as exact, canonical JSON (``model_card.json``); ``BadInputError`` if a value cannot be exact."""
    try:
        return json.dumps(facts, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"
    except (TypeError, ValueError) as e:
        version = facts.get("model", {}).get("version") if isinstance(facts.get("model"), Mapping) else None
        raise BadInputError(ERR_NOT_JSON_ABLE.format(version=version, problem=e)) from e


def write_model_card(client: Any, paths: ProjectPaths, config: FairgateConfig, version: str) -> dict[str, str]:
    """Gather, render and log the card of one registered version; tag the version with its URI.

    The three files (``model_card.md``, ``model_card.html``, ``model_card.json``)
    are rendered into a temporary folder first, so a failure leaves nothing
    half-written; they are then logged to the version's MLflow run under
    ``model_card/``, replacing an earlier card (the card is regenerated after a
    promotion, an approval or a rollback), and the version tag
    ``fairgate.model_card`` is set to the Markdown file's artifact URI.

    Returns
    -------
    dict of str to str
        ``markdown``, ``html`` and ``json``: the artifact paths in the run;
        ``markdown_uri``: the full artifact URI of the Markdown card.

    Raises
    ------
    BadInputError
        The version does not exist or has no MLflow run to log to.
    """
    facts = gather_facts(client, paths, config, version)
    run = facts["run"]
    name, number = facts["model"]["name"], facts["model"]["version"]
    if run["status"] != RECORDED:
        raise BadInputError(ERR_NO_RUN.format(version=number, name=name, problem=run.get("problem")))
    rendered = {
        CARD_MARKDOWN: render_markdown(facts),
        CARD_HTML: render_html(facts),
        CARD_JSON: facts_json(facts),
    }
    with tempfile.TemporaryDirectory(prefix="fairgate-card-") as workdir:
        folder = Path(workdir) / CARD_FOLDER
        folder.mkdir()
        for file_name, text in rendered.items():
            (folder / file_name).write_text(text, encoding="utf-8")
        client.log_artifacts(run["run_id"], str(folder), CARD_FOLDER)
    markdown_uri = f"{run['artifact_uri'].rstrip('/')}/{CARD_FOLDER}/{CARD_MARKDOWN}"
    client.set_model_version_tag(name, number, tags.MODEL_CARD, markdown_uri)
    logger.info("model card of %s version %s written to %s", name, number, markdown_uri)
    return {
        "markdown": f"{CARD_FOLDER}/{CARD_MARKDOWN}",
        "html": f"{CARD_FOLDER}/{CARD_HTML}",
        "json": f"{CARD_FOLDER}/{CARD_JSON}",
        "markdown_uri": markdown_uri,
    }
