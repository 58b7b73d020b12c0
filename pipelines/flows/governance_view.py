"""What the governance view in Airflow shows, gathered from the record into one plain dict.

The Airflow plugin (``plugins/fairgate_governance``) only routes, authenticates
and renders; everything it shows comes from :func:`governance_view`, read from
the tamper-evident audit log (the record) and, for what only the registry
knows (which versions exist, their gate tags, their model cards), from MLflow:

- the audit chain's verify verdict (:func:`pipelines.governance.records.verify_log`);
  when it fails, nothing below can be trusted and the dict says so;
- the champion the last recorded move left, with its recorded gate verdicts
  and checks, and whether the registry's alias agrees (an open integrity alarm
  is shown with it);
- every registered version with its recorded gate verdict (blocked ones too);
- the alias history from the audit log (who, when, from, to, why, automatic
  or manual), never from the MLflow alias;
- the freeze state and who froze it, and the sign-offs held to lift it;
- the candidates waiting for approval, with the sign-offs present and missing;
- the latest refusals;
- the latest monitoring verdict per horizon.

:func:`version_document` returns a version's model card (HTML, as fairgate
rendered it) or gate report (Markdown) from its MLflow run's artifacts, for the
view's links.  Nothing here writes anything: reading state never appends to the
log or moves the alias (the integrity alarm is shown as found, not recorded).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlflow.exceptions import MlflowException

from pipelines.core.config import FairgateConfig
from pipelines.core.errors import BadInputError
from pipelines.core.project import ProjectPaths
from pipelines.flows.monitor_cli import worst_text
from pipelines.governance import approvals, champion_record, registry, tags
from pipelines.governance.audit_log import Entry, VerifyResult
from pipelines.governance.records import open_audit_log

RECENT_REFUSALS = 20
MODEL_CARD_HTML = "model_card/model_card.html"
GATE_REPORT_MD = "gate/gate_report.md"
DOCUMENTS = {"model_card": MODEL_CARD_HTML, "gate_report": GATE_REPORT_MD}
# a move nobody decided by hand: the gate's own promotion, or anything fairgate's own actors did (monitoring)
AUTOMATIC_ACTIONS = ("promote",)
AUTOMATIC_ACTOR_PREFIX = "fairgate:"

ERR_DOCUMENT = "document must be one of: " + ", ".join(DOCUMENTS) + "; found {found!r}"
ERR_NO_VERSION = "version {version} of {name!r} is not registered"
ERR_NO_DOCUMENT = "version {version} of {name!r} has no {what} in its MLflow run {run_id} ({path}): {problem}"


@dataclass(frozen=True)
class Document:
    """One version's document as stored: its text and what it is (``html`` or ``markdown``)."""

    version: str
    name: str
    kind: str
    text: str


def move_mode(action: str, actor: str) -> str:
    """``automatic`` for the gate's own promotion and fairgate's own actors (monitoring), else ``manual``."""
    automatic = action in AUTOMATIC_ACTIONS or actor.startswith(AUTOMATIC_ACTOR_PREFIX)
    return "automatic" if automatic else "manual"


def _audit(result: VerifyResult, url: str) -> dict[str, Any]:
    return {
        "ok": result.ok,
        "verdict": result.describe(),
        "checked": result.checked,
        "broken_seq": result.broken_seq,
        "problem": result.problem,
        "detail": result.detail,
        "url": url,
    }


def _history(entries: Iterable[Entry], name: str) -> list[dict[str, Any]]:
    """Every recorded move of ``champion``, the latest first."""
    moves = []
    for entry in champion_record.recorded_moves(entries, name):
        payload = entry.payload
        action = str(payload.get("action") or entry.kind)
        moves.append({
            "seq": entry.seq,
            "at": entry.recorded_at,
            "kind": entry.kind,
            "action": action,
            "from_version": payload.get("from_version"),
            "to_version": payload.get("to_version"),
            "actor": entry.actor,
            "mode": move_mode(action, entry.actor),
            "reason": str(payload.get("reason") or payload.get("summary") or ""),
            "airflow_run_id": payload.get("airflow_run_id"),
        })
    return list(reversed(moves))


def _gate_entry(entries: Sequence[Entry], run_id: str | None) -> Entry | None:
    """The latest ``gate_decision`` entry of an MLflow run (the gate records it before the version exists)."""
    found = None
    for entry in entries:
        if entry.kind == "gate_decision" and run_id and entry.payload.get("mlflow_run_id") == run_id:
            found = entry
    return found


def _checks(gate: Entry | None) -> list[dict[str, Any]]:
    decision = gate.payload.get("decision") if gate is not None else None
    checks = decision.get("checks") if isinstance(decision, dict) else None
    return [dict(check) for check in checks or [] if isinstance(check, dict)]


def _version(entries: Sequence[Entry], name: str, version: Any, champion: str | None) -> dict[str, Any]:
    """One registered version as the record sees it: its recorded gate verdicts, failed checks and tags."""
    record = champion_record.recorded_gate(entries, name, version)
    gate = _gate_entry(entries, version.run_id)
    checks = _checks(gate)
    version_tags = dict(version.tags)
    number = str(version.version)
    if isinstance(record, str):
        verdicts: dict[str, Any] = {
            "recorded": False, "problem": record, "decision": "not recorded", "technical": "not recorded",
            "ethical": "not recorded", "passed": False, "gate_seq": None, "tag_disagreements": [],
        }
    else:
        verdicts = {
            "recorded": True, "problem": None, "decision": record.decision, "technical": record.technical,
            "ethical": record.ethical, "passed": record.passed, "gate_seq": record.gate_seq,
            "tag_disagreements": champion_record.tag_disagreements(record, name, version),
        }
    return {
        "version": number,
        "run_id": version.run_id,
        **verdicts,
        "gated_against": version_tags.get(tags.GATE_CHAMPION),
        "checks": checks,
        "failed_checks": [c for c in checks if not c.get("passed")],
        "reasons": list(gate.payload.get("reasons") or []) if gate is not None else [],
        "interval": version_tags.get(tags.DATA_INTERVAL),
        "data_hash": version_tags.get(tags.DATA_HASH),
        "champion": number == champion,
        "awaiting": version_tags.get(tags.AWAITING_APPROVAL) == "true",
        "stable_fair": version_tags.get(tags.STABLE_FAIR) == "true",
        "has_model_card": tags.MODEL_CARD in version_tags,
    }


def _pending(
    entries: Sequence[Entry], name: str, versions: Sequence[dict[str, Any]], champion: str | None
) -> list[dict[str, Any]]:
    """Each version waiting for approval: its recorded wait, the sign-offs held and those missing.

    A version waits when the record holds its wait (an ``approval`` entry with
    ``step=awaiting``) and no recorded move made it champion since; a version
    only tagged as waiting, without that record, is listed and says so.
    """
    model_entries = [e for e in entries if e.model_name == name]
    moves = champion_record.recorded_moves(model_entries, name)
    waiting = []
    for version in versions:
        awaiting = approvals.awaiting_entry(model_entries, name, version["version"])
        if awaiting is not None and any(
            str(m.payload.get("to_version")) == version["version"] and m.seq > awaiting.seq for m in moves
        ):
            continue  # promoted on approval since
        if awaiting is None and not version["awaiting"]:
            continue
        decision = approvals.decide(approvals.version_sign_offs(model_entries, name, version["version"]))
        gated_against = None if awaiting is None else awaiting.payload.get("gated_against")
        waiting.append({
            "version": version["version"],
            "recorded": awaiting is not None,
            "tagged_waiting": version["awaiting"],
            "awaiting_seq": None if awaiting is None else awaiting.seq,
            "since": None if awaiting is None else awaiting.recorded_at,
            "summary": "" if awaiting is None else str(awaiting.payload.get("summary") or ""),
            "gated_against": gated_against,
            "stale": str(gated_against or "none") != str(champion or "none"),
            "technical": list(decision.technical),
            "ethical": list(decision.ethical),
            "missing": decision.missing,
            "enough": decision.enough,
            "has_model_card": version["has_model_card"],
        })
    return waiting


def _refusals(entries: Sequence[Entry], name: str, limit: int) -> list[dict[str, Any]]:
    refusals = [e for e in entries if e.kind == "refusal" and e.model_name in (name, None)]
    return [
        {
            "seq": e.seq,
            "at": e.recorded_at,
            "actor": e.actor,
            "what": str(e.payload.get("what") or ""),
            "reason": str(e.payload.get("reason") or ""),
            "version": e.model_version,
            "airflow_run_id": e.payload.get("airflow_run_id"),
        }
        for e in sorted(refusals, key=lambda e: e.seq, reverse=True)[:limit]
    ]


def _monitoring(entries: Sequence[Entry], name: str) -> list[dict[str, Any]]:
    """The latest verdict per horizon, from the ``monitoring`` entries (as ``fairgate status`` shows them)."""
    latest: dict[str, dict[str, Any]] = {}
    for entry in sorted(entries, key=lambda e: e.seq):
        if entry.kind != "monitoring" or entry.model_name != name:
            continue
        for horizon_name, horizon in (entry.payload.get("horizons") or {}).items():
            latest[horizon_name] = {
                "horizon": horizon_name,
                "interval": horizon.get("interval"),
                "verdict": str(horizon.get("verdict")),
                "worst": worst_text(horizon.get("worst")),
                "breaches": dict(horizon.get("breaches") or {}),
                "champion_version": entry.model_version,
                "seq": entry.seq,
                "at": entry.recorded_at,
            }
    return list(latest.values())


def governance_view(paths: ProjectPaths, config: FairgateConfig, refusals: int = RECENT_REFUSALS) -> dict[str, Any]:
    """Everything the governance view shows, read from the audit log and the registry (reads only).

    Returns
    -------
    dict
        ``model_name``, ``alias``; ``audit`` (the verify verdict; ``trusted``
        is False when it failed: what follows comes from a log that does not
        verify); ``champion`` (the recorded champion's version dict, or None)
        with ``registry_champion`` (what the alias points at) and
        ``integrity`` (None, or why the two disagree, or the open alarm);
        ``versions`` (latest first), ``history`` (latest first), ``freeze``
        (with ``unfreeze``: the sign-offs held to lift it), ``pending``,
        ``refusals`` (latest first) and ``monitoring`` (one per horizon).
    """
    name, alias = config.registry.model_name, config.registry.champion_alias
    with open_audit_log(paths, config) as log:
        audit = _audit(log.verify(), log.url)
        entries = log.entries()
    client = registry.connect(paths)
    recorded, last_move = champion_record.recorded_champion(entries, name)
    in_registry = registry.champion(client, name, alias)
    registry_champion = None if in_registry is None else str(in_registry.version)
    found = sorted(client.search_model_versions(f"name = '{name}'"), key=lambda v: int(v.version), reverse=True)
    versions = [_version(entries, name, v, recorded) for v in found]
    by_number = {v["version"]: v for v in versions}
    alarm = champion_record.open_alarm(entries, name)
    integrity = None
    if alarm is not None:
        integrity = f"integrity alarm (audit entry {alarm.seq}): {alarm.payload.get('summary', '')}"
    elif registry_champion != recorded:
        integrity = (
            f"the registry's {alias} is {registry_champion or 'unset'}, the record says "
            f"{recorded or 'no champion'}: moved outside fairgate (the next fairgate command records the alarm)"
        )
    freeze = approvals.freeze_state(entries, name)
    unfreeze = None
    if freeze.frozen and freeze.seq is not None:
        unfreeze = approvals.decide(approvals.unfreeze_sign_offs(entries, name, freeze.seq)).to_dict()
    champion = None
    if recorded is not None:
        champion = dict(by_number.get(recorded) or {"version": recorded, "recorded": False,
                                                      "problem": ERR_NO_VERSION.format(version=recorded, name=name)})
        champion["since"] = None if last_move is None else last_move.recorded_at
        champion["move_seq"] = None if last_move is None else last_move.seq
    return {
        "model_name": name,
        "alias": alias,
        "audit": audit,
        "trusted": audit["ok"],
        "champion": champion,
        "registry_champion": registry_champion,
        "integrity": integrity,
        "versions": versions,
        "history": _history(entries, name),
        "freeze": {**freeze.to_dict(), "describe": freeze.describe(), "unfreeze": unfreeze},
        "pending": _pending(entries, name, versions, recorded),
        "refusals": _refusals(entries, name, refusals),
        "monitoring": _monitoring(entries, name),
    }


def version_document(paths: ProjectPaths, config: FairgateConfig, version: str, document: str) -> Document:
    """A version's model card (HTML) or gate report (Markdown), read from its MLflow run's artifacts.

    Raises
    ------
    BadInputError
        For an unknown document, a version that is not registered, or a run
        that holds no such artifact (the message names which).
    """
    if document not in DOCUMENTS:
        raise BadInputError(ERR_DOCUMENT.format(found=document))
    number = approvals.check_version(version)
    name = config.registry.model_name
    client = registry.connect(paths)
    try:
        found = client.get_model_version(name, number)
    except MlflowException as e:
        raise BadInputError(ERR_NO_VERSION.format(version=number, name=name)) from e
    path = DOCUMENTS[document]
    if not found.run_id:
        raise BadInputError(ERR_NO_DOCUMENT.format(
            version=number, name=name, what=document.replace("_", " "), run_id="none", path=path,
            problem="the version names no run",
        ))
    with tempfile.TemporaryDirectory(prefix="fairgate-view-") as folder:
        try:
            local = Path(client.download_artifacts(found.run_id, path, folder))
        except (MlflowException, OSError) as e:
            raise BadInputError(ERR_NO_DOCUMENT.format(
                version=number, name=name, what=document.replace("_", " "), run_id=found.run_id, path=path,
                problem=str(e).splitlines()[0] if str(e) else type(e).__name__,
            )) from e
        text = local.read_text(encoding="utf-8")
    return Document(number, document, "html" if path.endswith(".html") else "markdown", text)
