"""The record decides, not the mirror: what the audit log says about the gate and about ``champion``.

MLflow tags and aliases are a mirror for people: anyone who can write to the
registry can edit them (the alias pencil of the MLflow UI, a
``set_model_version_tag`` call).  The hash-chained audit log is the record.
So before ``champion`` moves to a version, this module reads the version's
``gate_decision`` entry (found by the version's MLflow run) and its
``registration`` entry from the log, and refuses the move when either is
missing, when the recorded decision is not "passed" in both gates, or when
the version's gate tags disagree with the record (one line naming both).

It also reconciles the registry with the record: the version the alias
points at must be the one the last recorded move of ``champion`` left there.
A move made outside fairgate is an integrity alarm (:class:`IntegrityError`,
exit 1): it is recorded once (``integrity_alarm``), and promotion, approval
and rollback refuse until a technical and an ethical sign-off from two
people repair it (``repair``, which moves the alias back to the recorded
champion).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pipelines.core.config import FairgateConfig, GateSettings, loosened_thresholds
from pipelines.core.errors import BlockedError
from pipelines.core.project import ProjectPaths
from pipelines.core.small_groups import loosened_small_groups
from pipelines.governance import registry, tags
from pipelines.governance.audit_log import Entry
from pipelines.governance.records import append_event, open_audit_log

logger = logging.getLogger(__name__)

GATE_TAGS = (
    (tags.GATE_DECISION, "decision"),
    (tags.GATE_TECHNICAL, "technical"),
    (tags.GATE_ETHICAL, "ethical"),
)
MOVE_KINDS = ("promotion", "rollback", "repair")

ERR_NO_GATE_RECORD = (
    "version {version} of {name!r} cannot be champion: the audit log holds no gate decision for its run "
    "{run_id} (a version the gate never decided on is never promoted)"
)
ERR_NO_REGISTRATION = (
    "version {version} of {name!r} cannot be champion: the audit log holds no registration entry for it "
    "(registered outside fairgate)"
)
ERR_RECORD_BLOCKED = (
    "version {version} of {name!r} cannot be champion: it did not pass every gate according to the audit log "
    "(gate decision, entry {seq}: decision={decision}, technical={technical}, ethical={ethical}); a model that "
    "failed a gate is never promoted"
)
ERR_TAG_DISAGREES = (
    "version {version} of {name!r}: MLflow tag {tag} says {tag_value!r} but the audit log's gate decision "
    "(entry {seq}) says {recorded!r}: the tag was changed outside fairgate, so nothing moves (the audit log decides)"
)
ERR_POLICY_UNRECORDED = (
    "the gate policy champion version {version} passed under is not in the audit log: this candidate's policy "
    "cannot be shown to be as strict"
)
ERR_POLICY_LOOSER = "{key}: {before} when champion version {version} passed, now {after}"
ERR_NO_ROLLBACK_TARGET = (
    "no rollback target: no version of {name!r} other than the current champion {current} "
    "passed every gate and served before, according to the audit log"
)
ERR_TARGET_IS_CHAMPION = "version {version} of {name!r} is already the champion"
ERR_INTEGRITY = (
    "champion of {name!r} is {found} in the MLflow registry, but the last move the audit log recorded "
    "({recorded_move}) left {recorded}: it was moved outside fairgate"
)
ERR_ALARM_OPEN = (
    "integrity alarm (audit entry {seq}): {summary}; promotion, approval and rollback are refused until a "
    "technical and an ethical sign-off from two people repair it (the repair DAG)"
)


class IntegrityError(BlockedError):
    """The registry and the audit log disagree about ``champion`` (exit 1: an integrity alarm)."""

    def __init__(self, reason: str) -> None:
        super().__init__("integrity", [reason])
        self.args = (reason,)  # the one line the CLI prints is the reason itself


@dataclass(frozen=True)
class RecordedGate:
    """The gate decision and registration the audit log holds for one version."""

    version: str
    gate_seq: int
    registration_seq: int
    decision: str
    technical: str
    ethical: str

    @property
    def passed(self) -> bool:
        """True only when the record says both gates passed."""
        return (self.decision, self.technical, self.ethical) == ("passed", "passed", "passed")

    def value(self, field: str) -> str:
        """The recorded verdict named ``decision``, ``technical`` or ``ethical``."""
        return str(getattr(self, field))


def _verdict(passed: Any) -> str:
    return "passed" if passed is True else "blocked"


def recorded_gate(entries: Iterable[Entry], model_name: str, version: Any) -> RecordedGate | str:
    """The recorded gate of ``version`` (a registry ``ModelVersion``), or why there is none.

    The ``gate_decision`` entry is written before the version exists, so it is
    found by the version's MLflow run id; the ``registration`` entry by the
    model name and version.  The latest of each counts.
    """
    number, run_id = str(version.version), version.run_id
    gate: Entry | None = None
    registration: Entry | None = None
    for entry in entries:
        if entry.kind == "gate_decision" and run_id and entry.payload.get("mlflow_run_id") == run_id:
            gate = entry
        elif entry.kind == "registration" and entry.model_name == model_name and str(entry.model_version) == number:
            registration = entry
    if registration is None:
        return ERR_NO_REGISTRATION.format(version=number, name=model_name)
    if gate is None:
        return ERR_NO_GATE_RECORD.format(version=number, name=model_name, run_id=run_id or "none")
    decision = gate.payload.get("decision")
    decision = decision if isinstance(decision, dict) else {}
    return RecordedGate(
        version=number,
        gate_seq=gate.seq,
        registration_seq=registration.seq,
        decision=_verdict(decision.get("passed")),
        technical=_verdict(decision.get("technical_passed")),
        ethical=_verdict(decision.get("ethical_passed")),
    )


def target_problems(entries: Sequence[Entry], model_name: str, version: Any) -> list[str]:
    """Why ``champion`` may not move to ``version`` according to the record (empty when it may).

    A version without a recorded registration or gate decision, one the record
    says was blocked, or one whose gate tags disagree with the record.
    """
    record = recorded_gate(entries, model_name, version)
    if isinstance(record, str):
        return [record]
    problems = tag_disagreements(record, model_name, version)
    if not record.passed:
        problems.insert(
            0,
            ERR_RECORD_BLOCKED.format(
                version=record.version, name=model_name, seq=record.gate_seq,
                decision=record.decision, technical=record.technical, ethical=record.ethical,
            ),
        )
    return problems


def tag_disagreements(record: RecordedGate, model_name: str, version: Any) -> list[str]:
    """One line per gate tag of ``version`` that disagrees with its recorded gate decision."""
    return [
        ERR_TAG_DISAGREES.format(
            version=record.version, name=model_name, tag=tag, tag_value=version.tags.get(tag, "absent"),
            seq=record.gate_seq, recorded=record.value(field),
        )
        for tag, field in GATE_TAGS
        if version.tags.get(tag) != record.value(field)
    ]


def recorded_moves(entries: Iterable[Entry], model_name: str) -> list[Entry]:
    """Every recorded move of ``champion`` (promotion, rollback, repair) that moved it, oldest first."""
    return [
        e for e in sorted(entries, key=lambda e: e.seq)
        if e.kind in MOVE_KINDS and e.model_name == model_name and "to_version" in e.payload
        and e.payload.get("moved", True) is not False
    ]


def recorded_champion(entries: Iterable[Entry], model_name: str) -> tuple[str | None, Entry | None]:
    """The version the last recorded move left as champion (None before any move), and that entry."""
    moves = recorded_moves(entries, model_name)
    if not moves:
        return None, None
    to_version = moves[-1].payload["to_version"]
    return (None if to_version is None else str(to_version)), moves[-1]


def served_versions(entries: Iterable[Entry], model_name: str) -> set[str]:
    """The versions some recorded move made champion."""
    return {str(e.payload["to_version"]) for e in recorded_moves(entries, model_name) if e.payload["to_version"]}


def open_alarm(entries: Iterable[Entry], model_name: str) -> Entry | None:
    """The latest ``integrity_alarm`` of ``model_name`` not followed by a ``repair``, or None."""
    alarm: Entry | None = None
    for entry in sorted(entries, key=lambda e: e.seq):
        if entry.model_name != model_name:
            continue
        if entry.kind == "integrity_alarm":
            alarm = entry
        elif entry.kind == "repair":
            alarm = None
    return alarm


def detect(paths: ProjectPaths, config: FairgateConfig, client: Any) -> Entry | None:
    """Record a mismatch between the registry's ``champion`` and the record; return the open alarm, or None.

    A mismatch found for the first time is recorded (one ``integrity_alarm``
    entry per mismatch, idempotent).  An alarm recorded earlier and not yet
    repaired is returned even if the alias has since been put back by hand.
    """
    name, alias = config.registry.model_name, config.registry.champion_alias
    current = registry.champion(client, name, alias)
    found = None if current is None else str(current.version)
    with open_audit_log(paths, config) as log:
        entries = log.entries()
        recorded, last_move = recorded_champion(entries, name)
        if found != recorded:
            seq = last_move.seq if last_move is not None else 0
            reason = ERR_INTEGRITY.format(
                name=name,
                found=f"version {found}" if found else "unset",
                recorded_move=f"audit entry {seq}" if last_move is not None else "none yet",
                recorded=f"version {recorded}" if recorded else "no champion",
            )
            logger.info("integrity alarm recorded: %s", reason)
            return append_event(
                log,
                config,
                "integrity_alarm",
                "fairgate:reconcile",
                {"found": found, "recorded": recorded, "last_move_seq": seq, "summary": reason},
                f"integrity_alarm:{name}:{found}:{seq}",
            )
        return open_alarm(entries, name)


def reconcile(paths: ProjectPaths, config: FairgateConfig, client: Any) -> None:
    """Raise :class:`IntegrityError` while the registry's ``champion`` and the record disagree or an alarm is open.

    Every command that reads state, every move and the first task of every DAG
    call this (see :func:`detect`, which records what it finds).
    """
    alarm = detect(paths, config, client)
    if alarm is not None:
        raise IntegrityError(ERR_ALARM_OPEN.format(seq=alarm.seq, summary=alarm.payload.get("summary", "")))


def rollback_target(client: Any, entries: Sequence[Entry], model_name: str, alias: str, requested: str | None) -> str:
    """The version a rollback moves the alias to, chosen from the record.

    With ``requested``: that version (the move then checks it against the
    record).  Without: the highest-numbered version below the current champion
    that the audit log shows passed every gate and was champion before.
    """
    current = registry.champion(client, model_name, alias)
    current_number = int(current.version) if current is not None else None
    if requested is not None:
        target = registry.get_version(client, model_name, str(requested))
        if current_number is not None and int(target.version) == current_number:
            raise BlockedError("rollback", [ERR_TARGET_IS_CHAMPION.format(version=requested, name=model_name)])
        return str(target.version)
    served = served_versions(entries, model_name)
    candidates = [
        v
        for v in client.search_model_versions(f"name = '{model_name}'")
        if str(v.version) in served
        and (current_number is None or int(v.version) < current_number)
        and not target_problems(entries, model_name, v)
    ]
    if not candidates:
        raise BlockedError("rollback", [ERR_NO_ROLLBACK_TARGET.format(name=model_name, current=current_number)])
    return str(max(candidates, key=lambda v: int(v.version)).version)


def loosened_since_champion(
    paths: ProjectPaths, config: FairgateConfig, client: Any, champion_version: str | None
) -> list[str]:
    """Which thresholds of ``config.gate`` are looser than the policy the champion passed under.

    The policy is the one recorded with the champion's gate decision.  Empty
    when there is no champion or nothing was loosened; a champion whose policy
    was not recorded counts as loosened (it cannot be shown otherwise).
    """
    if champion_version is None:
        return []
    name = config.registry.model_name
    version = registry.get_version(client, name, champion_version)
    with open_audit_log(paths, config) as log:
        entries = log.entries()
    recorded = None
    recorded_groups: Any = None
    for entry in entries:
        if entry.kind == "gate_decision" and version.run_id and entry.payload.get("mlflow_run_id") == version.run_id:
            recorded = entry.payload.get("policy")
            # decisions recorded before dataset.small_groups existed were made with no small-group policy
            recorded_groups = entry.payload.get("small_groups", {})
    if not isinstance(recorded, dict):
        return [ERR_POLICY_UNRECORDED.format(version=champion_version)]
    before = GateSettings.model_validate(recorded)
    loosened: list[tuple[str, Any, Any]] = list(loosened_thresholds(before, config.gate))
    loosened += loosened_small_groups(recorded_groups if isinstance(recorded_groups, dict) else {}, config.dataset)
    return [
        ERR_POLICY_LOOSER.format(
            key=key, before=old, version=champion_version, after="removed" if new is None else new
        )
        for key, old, new in loosened
    ]
