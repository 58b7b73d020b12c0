"""Freeze switch and two-person approval: who signed what, and is it enough.

The state lives in the tamper-evident audit log (:mod:`pipelines.governance.audit_log`),
never in a flag a person could flip unrecorded:

- **freeze**: the pipeline is frozen when the latest ``freeze``/``unfreeze``
  entry of the registered model is a ``freeze``.  Freezing needs one person
  (it only tightens); every rollback freezes.
- **waiting**: while frozen, ``retrain`` gates and registers but does not
  promote.  A candidate that passed both gates is tagged
  ``fairgate.awaiting_approval=true`` and an ``approval`` entry with
  ``step=awaiting`` is appended.
- **sign-offs**: ``approval`` entries with ``step=sign_off``, one technical
  and one ethical.  They count only from two different people, taken from the
  identity Airflow authenticated for the run that gave them (the ``approve``
  and ``unfreeze`` DAGs pass ``dag_run.triggering_user_name``, never a Param).
  The same person cannot give both.
- **promotion on approval**: when a waiting version holds both sign-offs, the
  run that completed the pair moves ``champion`` through
  :func:`pipelines.flows.champion.move_champion` (action ``approval``), which
  re-checks the gate tags.  Unfreezing needs the same two sign-offs, given for
  the current freeze.

This module decides and records; the acts that follow (holding a candidate,
approving, unfreezing, moving the alias) are in :mod:`pipelines.flows.champion`.
- **no override**: a version whose gate decision is not ``passed`` is never
  approved.  Nothing here reads a flag, a Param or an environment variable
  that could change that; every refused attempt appends a ``refusal`` entry.

Every append carries an idempotency key built from the Airflow run id, so a
retried task appends nothing twice.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pipelines.core.config import FairgateConfig
from pipelines.core.errors import BadInputError, BlockedError
from pipelines.core.project import ProjectPaths
from pipelines.governance.audit_log import AuditLog, Entry
from pipelines.governance.records import append_event, model_entries, open_audit_log

logger = logging.getLogger(__name__)

SIGN_OFFS = ("technical", "ethical")
SUBJECT_PROMOTION = "promotion"
SUBJECT_UNFREEZE = "unfreeze"
SUBJECT_REPAIR = "repair"
STEP_AWAITING = "awaiting"
STEP_SIGN_OFF = "sign_off"
ACTION_APPROVAL = "approval"
MANUAL_RUN_TYPE = "manual"
# names Airflow writes where no person was authenticated: `airflow dags test` records "dag_test"
NOT_A_PERSON = ("dag_test",)
UNKNOWN_ACTOR = "airflow:unknown-user"


ERR_SIGN_OFF = "sign_off must be one of: " + ", ".join(SIGN_OFFS) + "; found {found!r}"
ERR_VERSION = "model_version must be a positive integer, found {found!r}"
ERR_COMMENT = "comment must be text or empty, found {found}"
ERR_REASON = "freezing needs a reason: a non-empty sentence saying why"
ERR_NO_PERSON = (
    "an approval needs the authenticated Airflow user who triggered the run; this run records {found!r}, "
    "which is not a person (trigger the DAG from the Airflow UI or its REST API)"
)
ERR_NOT_MANUAL = (
    "an approval must come from a manually triggered run (UI or REST API); this run is of type {found!r}"
)
ERR_GATE_FAILED = (
    "version {version} of {name!r} cannot be approved: it did not pass every gate "
    "(gate.decision={decision}, technical={technical}, ethical={ethical}); a model that failed a gate "
    "is never promoted and there is no override"
)
ERR_NOT_AWAITING = (
    "version {version} of {name!r} is not awaiting approval ({tag}={found}); only a candidate that passed "
    "both gates while deployments were frozen waits for sign-offs"
)
ERR_CHAMPION_MOVED = (
    "version {version} of {name!r} was gated against champion {gated}, but the champion is now {current}; "
    "its comparison is out of date: run retrain again to gate a candidate against the current champion"
)
ERR_BOTH_SIGN_OFFS = (
    "{actor} already gave the {given} sign-off {scope}; the same person cannot give both the technical "
    "and the ethical sign-off"
)
ERR_NOT_FROZEN = "deployments are not frozen: there is nothing to unfreeze"


# ------------------------------------------------------------------ what the log says


@dataclass(frozen=True)
class FreezeState:
    """Whether automatic promotion is frozen, and the entry that decided it."""

    frozen: bool
    seq: int | None = None
    actor: str | None = None
    reason: str | None = None
    recorded_at: str | None = None

    def describe(self) -> str:
        """One line for ``fairgate status`` and the run summary."""
        if self.seq is None:
            return "not frozen: a candidate that passes both gates is promoted"
        if not self.frozen:
            return f"not frozen since {self.recorded_at} (audit entry {self.seq}, {self.actor}): {self.reason}"
        return f"FROZEN since {self.recorded_at} by {self.actor} (audit entry {self.seq}): {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "frozen": self.frozen,
            "seq": self.seq,
            "actor": self.actor,
            "reason": self.reason,
            "recorded_at": self.recorded_at,
        }


@dataclass(frozen=True)
class SignOff:
    """One sign-off as recorded: who, which kind, in which audit entry."""

    seq: int
    actor: str
    sign_off: str
    comment: str | None = None
    airflow_run_id: str | None = None


@dataclass(frozen=True)
class ApprovalDecision:
    """Who signed what, and whether it is enough (two kinds from two different people)."""

    enough: bool
    technical: tuple[str, ...]
    ethical: tuple[str, ...]
    approved_by: dict[str, str] = field(default_factory=dict)
    both_kinds: tuple[str, ...] = ()

    @property
    def missing(self) -> list[str]:
        """What is still needed, in words."""
        if self.enough:
            return []
        if not self.technical and not self.ethical:
            return ["a technical sign-off", "an ethical sign-off (from another person)"]
        if not self.ethical:
            return [f"an ethical sign-off from someone other than {', '.join(self.technical)}"]
        if not self.technical:
            return [f"a technical sign-off from someone other than {', '.join(self.ethical)}"]
        return ["a technical and an ethical sign-off from two different people"]

    def describe(self) -> str:
        """One line: the sign-offs held and what is missing."""
        technical = ", ".join(self.technical) or "missing"
        ethical = ", ".join(self.ethical) or "missing"
        held = f"technical: {technical}; ethical: {ethical}"
        if self.enough:
            return f"{held}; enough (technical {self.approved_by['technical']}, ethical {self.approved_by['ethical']})"
        return f"{held}; still needs {' and '.join(self.missing)}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "enough": self.enough,
            "technical": list(self.technical),
            "ethical": list(self.ethical),
            "approved_by": dict(self.approved_by),
            "both_kinds": list(self.both_kinds),
            "missing": self.missing,
        }


def freeze_state(entries: Iterable[Entry], model_name: str) -> FreezeState:
    """The freeze state of ``model_name``: the latest ``freeze`` or ``unfreeze`` entry decides."""
    latest: Entry | None = None
    for entry in entries:
        if entry.kind in ("freeze", "unfreeze") and entry.model_name == model_name:
            if latest is None or entry.seq > latest.seq:
                latest = entry
    if latest is None:
        return FreezeState(frozen=False)
    payload = latest.payload
    return FreezeState(
        frozen=latest.kind == "freeze",
        seq=latest.seq,
        actor=latest.actor,
        reason=str(payload.get("reason") or payload.get("summary") or ""),
        recorded_at=latest.recorded_at,
    )


def _sign_offs(entries: Iterable[Entry], keep: Any) -> list[SignOff]:
    chosen = []
    for entry in sorted(entries, key=lambda e: e.seq):
        if entry.kind != "approval":
            continue
        payload = entry.payload
        if payload.get("step") != STEP_SIGN_OFF or payload.get("sign_off") not in SIGN_OFFS:
            continue
        if keep(entry, payload):
            comment, run_id = payload.get("comment"), payload.get("airflow_run_id")
            chosen.append(SignOff(entry.seq, entry.actor, payload["sign_off"], comment, run_id))
    return chosen


def version_sign_offs(entries: Iterable[Entry], model_name: str, version: int | str) -> list[SignOff]:
    """The sign-offs recorded for promoting one model version, oldest first."""
    number = int(version)
    return _sign_offs(
        entries,
        lambda entry, payload: entry.model_name == model_name
        and entry.model_version == number
        and payload.get("subject") == SUBJECT_PROMOTION,
    )


def awaiting_entry(entries: Iterable[Entry], model_name: str, version: str) -> Entry | None:
    """The latest recorded wait of ``version`` for sign-offs (the record behind its waiting tag), or None."""
    found: Entry | None = None
    for entry in sorted(entries, key=lambda e: e.seq):
        payload = entry.payload
        if (
            entry.kind == "approval"
            and entry.model_name == model_name
            and str(entry.model_version) == str(version)
            and payload.get("subject") == SUBJECT_PROMOTION
            and payload.get("step") == STEP_AWAITING
        ):
            found = entry
    return found


def repair_sign_offs(entries: Iterable[Entry], model_name: str, alarm_seq: int) -> list[SignOff]:
    """The sign-offs recorded for repairing one integrity alarm (the entry ``alarm_seq``), oldest first."""
    return _sign_offs(
        entries,
        lambda entry, payload: entry.model_name == model_name
        and payload.get("subject") == SUBJECT_REPAIR
        and payload.get("alarm_seq") == alarm_seq,
    )


def unfreeze_sign_offs(entries: Iterable[Entry], model_name: str, freeze_seq: int) -> list[SignOff]:
    """The sign-offs recorded for lifting one freeze (the entry ``freeze_seq``), oldest first.

    A sign-off given for an earlier freeze does not count: a new freeze (a
    rollback, say) is new information and needs new sign-offs.
    """
    return _sign_offs(
        entries,
        lambda entry, payload: entry.model_name == model_name
        and payload.get("subject") == SUBJECT_UNFREEZE
        and payload.get("freeze_seq") == freeze_seq,
    )


def decide(sign_offs: Sequence[SignOff]) -> ApprovalDecision:
    """Enough when a technical and an ethical sign-off come from two different people.

    One person alone is never enough, whatever they signed; the earliest valid
    pair is the one recorded as ``approved_by``.
    """
    technical = tuple(dict.fromkeys(s.actor for s in sign_offs if s.sign_off == "technical"))
    ethical = tuple(dict.fromkeys(s.actor for s in sign_offs if s.sign_off == "ethical"))
    both = tuple(actor for actor in technical if actor in ethical)
    for technical_actor in technical:
        for ethical_actor in ethical:
            if technical_actor != ethical_actor:
                return ApprovalDecision(
                    True, technical, ethical, {"technical": technical_actor, "ethical": ethical_actor}, both
                )
    return ApprovalDecision(False, technical, ethical, {}, both)


# ------------------------------------------------------------------ input checks


def check_sign_off(sign_off: Any) -> str:
    """``technical`` or ``ethical``; ``BadInputError`` otherwise."""
    if not isinstance(sign_off, str) or sign_off not in SIGN_OFFS:
        raise BadInputError(ERR_SIGN_OFF.format(found=sign_off))
    return sign_off


def check_version(model_version: Any) -> str:
    """A positive version number as MLflow spells it; ``BadInputError`` otherwise."""
    if isinstance(model_version, bool):
        raise BadInputError(ERR_VERSION.format(found=model_version))
    if isinstance(model_version, int) and model_version >= 1:
        return str(model_version)
    if isinstance(model_version, str) and model_version.strip().isdecimal() and int(model_version) >= 1:
        return str(int(model_version))
    raise BadInputError(ERR_VERSION.format(found=model_version))


def check_comment(comment: Any) -> str | None:
    """Free text for the record only (it never decides anything); empty is None."""
    if comment is None:
        return None
    if not isinstance(comment, str):
        raise BadInputError(ERR_COMMENT.format(found=type(comment).__name__))
    return comment.strip() or None


def identity_problem(actor: Any, run_type: Any) -> str | None:
    """Why a run's identity cannot sign, or None: a person, on a manually triggered run.

    ``run_type`` is the run's type as Airflow gives it: a string or a string
    enum (its ``value`` is compared, ``manual`` being the only one accepted).
    """
    if not isinstance(actor, str) or not actor.strip() or actor.strip() in NOT_A_PERSON:
        return ERR_NO_PERSON.format(found=actor)
    kind = str(getattr(run_type, "value", run_type))
    if kind != MANUAL_RUN_TYPE:
        return ERR_NOT_MANUAL.format(found=kind)
    return None


# ------------------------------------------------------------------ the log


def record_refusal(
    log: AuditLog,
    config: FairgateConfig,
    what: str,
    reason: str,
    actor: Any,
    airflow_run_id: str,
    details: dict[str, Any],
    model_version: str | None = None,
) -> BlockedError:
    """Record a refused attempt in the audit log and return the error to raise."""
    who = actor.strip() if isinstance(actor, str) and actor.strip() else UNKNOWN_ACTOR
    logger.warning("refused %s by %s: %s", what, who, reason)
    append_event(
        log,
        config,
        "refusal",
        who,
        {"what": what, "reason": reason, "airflow_run_id": airflow_run_id, **details},
        f"{airflow_run_id}:refusal:{what.replace(' ', '_')}",
        model_version=model_version,
    )
    return BlockedError(what.replace(" ", "_"), [reason])


def current_freeze(paths: ProjectPaths, config: FairgateConfig) -> FreezeState:
    """The freeze state recorded in the project's audit log."""
    with open_audit_log(paths, config) as log:
        return freeze_state(model_entries(log, config), config.registry.model_name)


def freeze_deployments(
    paths: ProjectPaths,
    config: FairgateConfig,
    reason: str,
    actor: str,
    idempotency_key: str,
    cause: str = "manual",
) -> FreezeState:
    """Freeze automatic promotion (one person suffices: it only tightens); idempotent by key."""
    if not isinstance(reason, str) or not reason.strip():
        raise BadInputError(ERR_REASON)
    with open_audit_log(paths, config) as log:
        entry = append_event(log, config, "freeze", actor, {"reason": reason.strip(), "cause": cause}, idempotency_key)
        return FreezeState(True, entry.seq, entry.actor, entry.payload["reason"], entry.recorded_at)


# ------------------------------------------------------------------ status


def approval_status(paths: ProjectPaths, config: FairgateConfig, waiting_versions: Sequence[str]) -> dict[str, Any]:
    """The freeze state, the unfreeze sign-offs and each waiting version's sign-offs, for ``fairgate status``."""
    name = config.registry.model_name
    with open_audit_log(paths, config) as log:
        entries = model_entries(log, config)
    state = freeze_state(entries, name)
    unfreeze = decide(unfreeze_sign_offs(entries, name, state.seq)) if state.frozen and state.seq else None
    return {
        "freeze": state,
        "unfreeze": unfreeze,
        "versions": {version: decide(version_sign_offs(entries, name, version)) for version in waiting_versions},
    }
