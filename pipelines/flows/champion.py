"""Every move of the ``champion`` alias, in one place: promote, approve, rollback; freeze and unfreeze.

``champion`` is what serving and batch scoring load, so moving it is the most
critical act of the system.  Only this module calls
``set_registered_model_alias``, always through :func:`move_champion`, which
re-checks the target's gate decision and its model files, inside the champion
lock (:mod:`pipelines.governance.champion_lock`) together with the checks that
decided the move:

- :func:`promote` (the last ``retrain`` stage): a candidate that passed both
  gates becomes champion, unless deployments are frozen; then it waits for
  two sign-offs (:func:`hold_for_approval`).
- :func:`approve_version` (the ``approve`` DAG): one sign-off; the second,
  from another person, promotes the waiting version.
- :func:`rollback` (the ``rollback`` DAG, ``fairgate rollback``): back to the
  last version that passed every gate and served, or a named one that passed;
  every rollback freezes.
- :func:`freeze` and :func:`sign_unfreeze` (the ``freeze`` and ``unfreeze``
  DAGs): freezing needs one person, lifting it two.
- :func:`sign_repair` (the ``repair`` DAG): after an integrity alarm (the
  alias was moved outside fairgate), two sign-offs move it back to the
  champion the audit log recorded.

The audit log decides (:mod:`pipelines.governance.champion_record`): a move
checks the target's recorded gate decision and registration, never the MLflow
tags alone, and every move first reconciles the registry's champion with the
last recorded move.

What decides (freeze state, sign-offs, their rules) is
:mod:`pipelines.governance.approvals`; every step is recorded in the
tamper-evident audit log, idempotently by Airflow run id.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlflow.tracking import MlflowClient

from pipelines.core.config import FairgateConfig
from pipelines.core.errors import BadInputError, BlockedError
from pipelines.core.project import ProjectPaths, audit_log_url, open_project
from pipelines.flows.model_cards import refresh_model_cards
from pipelines.flows.retrain.context import StageContext, stage_input, stage_record
from pipelines.flows.retrain.results import RunState
from pipelines.governance import approvals, champion_record, records, registry, tags
from pipelines.governance.audit_log import AuditLog
from pipelines.governance.champion_lock import champion_lock
from pipelines.governance.model_integrity import verify_registered_model
from pipelines.governance.records import record_event

logger = logging.getLogger(__name__)

ERR_CHAMPION_CHANGED = (
    "version {version} was gated against champion {gated}, but the champion is now {current} (moved since "
    "the gate by another promotion or a rollback): nothing was promoted; run retrain again to gate it against "
    "the current champion"
)


def promote(state: RunState) -> RunState:
    """Move ``champion`` to the candidate only when both gates passed and deployments are not frozen.

    While frozen (see :mod:`pipelines.governance.approvals`), a candidate that passed both
    gates is not promoted: it is tagged as awaiting approval, the stage's
    verdict is ``waiting``, and the ``approve`` DAG promotes it once a technical
    and an ethical sign-off from two different people are in.
    """
    ctx = stage_input(state, "promote", "gated", "registered")
    gated, registered = state["gated"], state["registered"]
    with stage_record(ctx, "promote") as record:
        if gated["decision"] != "passed":
            raise BlockedError("gate", gated["reasons"] or ["the gate did not pass"])
        records.require_intact_log(ctx.paths, ctx.config)
        client = registry.connect(ctx.paths)
        name = ctx.config.registry.model_name
        version = str(registered["version"])
        decision = json.loads(Path(gated["decision_file"]).read_text(encoding="utf-8"))
        gated_against = decision.get("champion_version")
        gated_against = None if gated_against is None else str(gated_against)
        # the freeze, the champion gated against and the move are decided under one lock: a rollback or
        # another promotion cannot slip in between the checks and the move
        with champion_lock(audit_log_url(ctx.paths, ctx.config), name):
            champion_record.reconcile(ctx.paths, ctx.config, client)
            freeze = approvals.current_freeze(ctx.paths, ctx.config)
            loosened = list(gated.get("policy_loosened") or [])
            if freeze.frozen or loosened:
                held = hold_for_approval(
                    ctx.paths, ctx.config, client, version, gated_against, freeze, ctx.actor, ctx.airflow_run_id,
                    loosened=loosened,
                )
                move = None
            else:
                move = _promote_under_lock(ctx, client, version, gated_against)
        if move is None:
            refresh_model_cards(ctx.paths, ctx.config, [version])
            record["verdict"] = "waiting"
            record["reasons"] = [
                f"deployments {freeze.describe()}" if freeze.frozen else
                "the gate policy is looser than the champion's: " + "; ".join(held["policy_loosened"]),
                f"version {version} waits for a technical and an ethical sign-off from two "
                "different people (the approve DAG); nothing was promoted",
            ]
            record["details"] = held
            return {**state, "promoted": held}
        refresh_model_cards(ctx.paths, ctx.config, [move.to_version, move.from_version])
        record["details"] = move.to_dict()
        return {**state, "promoted": move.to_dict()}


def _promote_under_lock(ctx: StageContext, client: Any, version: str, gated_against: str | None) -> Any:
    """Move champion to ``version`` if it is still the champion the gate compared with; record it."""
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
    try:
        move = move_champion(
            client,
            name,
            alias,
            version,
            action="promote",
            actor=ctx.actor,
            reason=f"passed both gates on data interval {ctx.interval}",
            airflow_run_id=ctx.airflow_run_id,
            audit_entries=all_entries(ctx.paths, ctx.config),
        )
    except BlockedError as e:
        record_event(
            ctx.paths, ctx.config, "refusal", ctx.actor,
            {"what": "promote", "requested_version": version, "reason": "; ".join(e.reasons),
             "airflow_run_id": ctx.airflow_run_id},
            f"{ctx.airflow_run_id}:refusal:promote",
            model_version=version,
        )
        raise
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


def rollback(
    airflow_run_id: str, reason: str, target_version: str | int | None, actor: str, dag_id: str = "rollback"
) -> dict[str, Any]:
    """Move ``champion`` back to the last version that passed every gate and served.

    Idempotent: a retry of the same Airflow run finds its own move and changes nothing.
    """
    if not isinstance(reason, str) or not reason.strip():
        raise BadInputError("rollback needs a reason: a non-empty sentence saying why")
    paths, config = open_project()
    records.require_intact_log(paths, config)
    client = registry.connect(paths)
    name, alias = config.registry.model_name, config.registry.champion_alias
    for earlier in registry.alias_history(client, name):
        if earlier["airflow_run_id"] == airflow_run_id and earlier["action"] == "rollback":
            # a retry: make sure the records of the first attempt are complete, move nothing
            _record_rollback(paths, config, earlier, airflow_run_id)
            return {**earlier, "already_done": True}
    requested = None if target_version in (None, "") else str(target_version)
    with champion_lock(audit_log_url(paths, config), name):
        champion_record.reconcile(paths, config, client)
        current = registry.champion(client, name, alias)
        current_version = None if current is None else str(current.version)
        if requested is not None:
            registry.get_version(client, name, requested)  # an unknown version is bad input (exit 2)
        entries = all_entries(paths, config)
        standing = None if requested is not None else standing_rollback(entries, name, current_version)
        if current_version is not None and (requested == current_version or standing is not None):
            return _unchanged_rollback(paths, config, current_version, requested, standing, reason, actor,
                                       airflow_run_id)
        try:
            target = champion_record.rollback_target(client, entries, name, alias, requested)
            move = move_champion(
                client,
                name,
                alias,
                target,
                action="rollback",
                actor=actor,
                reason=reason.strip(),
                airflow_run_id=airflow_run_id,
                audit_entries=entries,
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


def freeze(airflow_run_id: str, reason: str, actor: str | None) -> dict[str, Any]:
    """Freeze from the ``freeze`` DAG: recorded with the triggering user and why (idempotent per run)."""
    who = actor.strip() if isinstance(actor, str) and actor.strip() else approvals.UNKNOWN_ACTOR
    paths, config = open_project()
    state = approvals.freeze_deployments(paths, config, reason, who, f"{airflow_run_id}:freeze")
    # freezing only tightens, so it is recorded first; an integrity alarm then fails the task, naming it
    champion_record.reconcile(paths, config, registry.connect(paths))
    return state.to_dict()


def hold_for_approval(
    paths: ProjectPaths,
    config: FairgateConfig,
    client: Any,
    version: str,
    gated_against: str | None,
    state: approvals.FreezeState,
    actor: str,
    airflow_run_id: str,
    loosened: list[str] | None = None,
) -> dict[str, Any]:
    """Tag a candidate that passed both gates as waiting, and record it (no alias moves).

    It waits while deployments are frozen, and when its gate policy is looser
    than the one the champion passed under (``loosened`` names the thresholds).
    """
    name = config.registry.model_name
    client.set_model_version_tag(name, version, tags.AWAITING_APPROVAL, "true")
    client.set_model_version_tag(name, version, tags.GATED_AGAINST, gated_against or "none")
    why = f"deployments are frozen (audit entry {state.seq})" if state.frozen else (
        "its gate policy is looser than the champion's (" + "; ".join(loosened or []) + ")"
    )
    summary = (
        f"version {version} passed both gates; {why}, so it waits "
        "for a technical and an ethical sign-off from two different people"
    )
    with records.open_audit_log(paths, config) as log:
        records.append_event(
            log,
            config,
            "approval",
            actor,
            {
                "subject": approvals.SUBJECT_PROMOTION,
                "step": approvals.STEP_AWAITING,
                "summary": summary,
                "gated_against": gated_against,
                "freeze_seq": state.seq,
                "policy_loosened": list(loosened or []),
                "airflow_run_id": airflow_run_id,
            },
            f"{airflow_run_id}:approval:awaiting:{version}",
            model_version=version,
        )
    return {
        "version": version,
        "awaiting_approval": True,
        "gated_against": gated_against,
        "freeze": state.to_dict(),
        "policy_loosened": list(loosened or []),
        "summary": summary,
    }


def _complete_promotion(
    log: AuditLog,
    config: FairgateConfig,
    client: Any,
    version: str,
    move: dict[str, Any],
    decision: approvals.ApprovalDecision,
    airflow_run_id: str,
) -> dict[str, Any]:
    """After the alias moved: clear the waiting tag, name the approvers, record the promotion (idempotent)."""
    name = config.registry.model_name
    client.set_model_version_tag(name, version, tags.AWAITING_APPROVAL, "false")
    client.set_model_version_tag(name, version, tags.APPROVED_BY, json.dumps(decision.approved_by, sort_keys=True))
    recorded = {k: v for k, v in move.items() if k != "already_done"}
    records.append_event(
        log,
        config,
        "promotion",
        str(move["actor"]),
        {
            **recorded,
            "approved_by": decision.approved_by,
            "summary": f"champion {move['from_version']} -> {move['to_version']} on approval "
            f"(technical {decision.approved_by['technical']}, ethical {decision.approved_by['ethical']})",
        },
        f"{airflow_run_id}:promotion:{version}",
        model_version=version,
    )
    return {
        "model_version": version,
        "promoted": True,
        "champion": move["to_version"],
        "from_version": move["from_version"],
        "approved_by": decision.approved_by,
        "sign_offs": decision.to_dict(),
    }


def approve_version(
    airflow_run_id: str,
    model_version: Any,
    sign_off: Any,
    actor: str | None,
    run_type: Any,
    comment: Any = None,
) -> dict[str, Any]:
    """Record one sign-off for a waiting version; promote it once both are in from two people.

    Refused, and recorded as a ``refusal``: a run without an authenticated
    person or not triggered by hand; a version that did not pass every gate
    (there is no override); a version not awaiting approval; a version gated
    against a champion that has since changed; a person giving the second kind
    of sign-off after the first.  Idempotent on retry of the same Airflow run.
    The model cards of the versions concerned are written again afterwards.
    """
    paths, config = open_project()
    try:
        outcome = _approve_version(airflow_run_id, model_version, sign_off, actor, run_type, comment)
    except BlockedError:
        # the refusal is part of the version's history: its card says so
        refresh_model_cards(paths, config, [approvals.check_version(model_version)])
        raise
    refresh_model_cards(paths, config, [str(outcome["model_version"]), outcome.get("from_version")])
    return outcome


def _approve_version(
    airflow_run_id: str, model_version: Any, sign_off: Any, actor: str | None, run_type: Any, comment: Any
) -> dict[str, Any]:
    """The checks, the sign-off and the promotion of :func:`approve_version` (model cards aside)."""
    kind = approvals.check_sign_off(sign_off)
    version = approvals.check_version(model_version)
    note = approvals.check_comment(comment)
    paths, config = open_project()
    records.require_intact_log(paths, config)
    name, alias = config.registry.model_name, config.registry.champion_alias
    client = registry.connect(paths)
    target = registry.get_version(client, name, version)
    # every check that decides the move, and the move, under the champion lock (see pipelines.governance.champion_lock)
    with champion_lock(audit_log_url(paths, config), name), records.open_audit_log(paths, config) as log:
        champion_record.reconcile(paths, config, client)
        # a retry of the run that already promoted: finish its records, move nothing
        for move in registry.alias_history(client, name):
            if move["airflow_run_id"] == airflow_run_id and move["action"] == approvals.ACTION_APPROVAL:
                decision = _version_decision(log, config, version)
                completed = _complete_promotion(log, config, client, version, move, decision, airflow_run_id)
                return {**completed, "already_done": True}
        details = {"requested_version": version, "sign_off": kind, "triggering_user": actor}
        problem = approvals.identity_problem(actor, run_type) or _approval_problem(
            log, config, client, target, str(actor).strip(), kind
        )
        if problem:
            raise approvals.record_refusal(log, config, "approval", problem, actor, airflow_run_id, details, version)
        person = str(actor).strip()
        held = approvals.version_sign_offs(records.model_entries(log, config), name, version)
        if not any(s.actor == person and s.sign_off == kind for s in held):
            summary = f"{kind} sign-off for version {version} by {person}" + (f": {note}" if note else "")
            records.append_event(
                log,
                config,
                "approval",
                person,
                {
                    "subject": approvals.SUBJECT_PROMOTION,
                    "step": approvals.STEP_SIGN_OFF,
                    "sign_off": kind,
                    "comment": note,
                    "airflow_run_id": airflow_run_id,
                    "summary": summary,
                },
                f"{airflow_run_id}:approval:{kind}:{version}",
                model_version=version,
            )
        decision = _version_decision(log, config, version)
        if not decision.enough:
            logger.info("version %s waits: %s", version, decision.describe())
            return {"model_version": version, "promoted": False, "sign_offs": decision.to_dict(),
                    "summary": decision.describe()}
        moved = move_champion(
            client,
            name,
            alias,
            version,
            action=approvals.ACTION_APPROVAL,
            actor=person,
            reason=f"approved: technical sign-off by {decision.approved_by['technical']}, "
            f"ethical sign-off by {decision.approved_by['ethical']}",
            airflow_run_id=airflow_run_id,
            audit_entries=log.entries(),
        )
        return _complete_promotion(log, config, client, version, moved.to_dict(), decision, airflow_run_id)


def _version_decision(log: AuditLog, config: FairgateConfig, version: str) -> approvals.ApprovalDecision:
    """Whether the sign-offs recorded for ``version`` are enough to promote it."""
    name = config.registry.model_name
    return approvals.decide(approvals.version_sign_offs(records.model_entries(log, config), name, version))


def _approval_problem(
    log: AuditLog, config: FairgateConfig, client: MlflowClient, target: Any, person: str, kind: str
) -> str | None:
    """Why this sign-off for ``target`` must be refused, or None.

    A version that did not pass every gate (there is no override), a version
    not awaiting approval, a version gated against a champion that has since
    changed, a person who already gave the other kind of sign-off.
    """
    name, version, version_tags = config.registry.model_name, str(target.version), target.tags
    entries = log.entries()
    record = champion_record.recorded_gate(entries, name, target)
    if isinstance(record, str):
        return record
    if not record.passed:
        return approvals.ERR_GATE_FAILED.format(
            version=version, name=name, decision=record.decision, technical=record.technical, ethical=record.ethical
        )
    disagreements = champion_record.target_problems(entries, name, target)
    if disagreements:
        return disagreements[0]
    waiting = approvals.awaiting_entry(entries, name, version)
    if waiting is None or version_tags.get(tags.AWAITING_APPROVAL) != "true":
        return approvals.ERR_NOT_AWAITING.format(
            version=version, name=name, tag=tags.AWAITING_APPROVAL,
            found=version_tags.get(tags.AWAITING_APPROVAL, "absent") if waiting is not None else "not recorded",
        )
    current = registry.champion(client, name, config.registry.champion_alias)
    current_version = str(current.version) if current is not None else "none"
    gated_against = str(waiting.payload.get("gated_against") or "none")
    if gated_against != current_version:
        return approvals.ERR_CHAMPION_MOVED.format(
            version=version, name=name, gated=gated_against, current=current_version
        )
    held = approvals.version_sign_offs(records.model_entries(log, config), name, version)
    other = {s.sign_off for s in held if s.actor == person} - {kind}
    if other:
        return approvals.ERR_BOTH_SIGN_OFFS.format(actor=person, given=other.pop(), scope=f"for version {version}")
    return None


def sign_unfreeze(
    airflow_run_id: str, sign_off: Any, actor: str | None, run_type: Any, comment: Any = None
) -> dict[str, Any]:
    """Record one sign-off for lifting the current freeze; unfreeze once both are in from two people.

    The same rule as an approval: a technical and an ethical sign-off from two
    different authenticated people, given for the current freeze entry.
    Idempotent on retry of the same Airflow run.
    """
    kind = approvals.check_sign_off(sign_off)
    note = approvals.check_comment(comment)
    paths, config = open_project()
    records.require_intact_log(paths, config)
    name = config.registry.model_name
    champion_record.reconcile(paths, config, registry.connect(paths))
    with records.open_audit_log(paths, config) as log:
        entries = records.model_entries(log, config)
        own = [e for e in entries if e.kind == "unfreeze" and e.idempotency_key.startswith(f"{airflow_run_id}:")]
        if own:
            return {"unfrozen": True, "already_done": True, "seq": own[0].seq, **own[0].payload}
        details = {"sign_off": kind, "triggering_user": actor}
        problem = approvals.identity_problem(actor, run_type)
        if problem:
            raise approvals.record_refusal(log, config, "unfreeze", problem, actor, airflow_run_id, details)
        person = str(actor).strip()
        state = approvals.freeze_state(entries, name)
        if not state.frozen or state.seq is None:
            raise BadInputError(approvals.ERR_NOT_FROZEN)
        held = approvals.unfreeze_sign_offs(entries, name, state.seq)
        other = {s.sign_off for s in held if s.actor == person} - {kind}
        if other:
            scope = f"to lift the freeze of audit entry {state.seq}"
            reason = approvals.ERR_BOTH_SIGN_OFFS.format(actor=person, given=other.pop(), scope=scope)
            raise approvals.record_refusal(
                log, config, "unfreeze", reason, actor, airflow_run_id, {**details, "freeze_seq": state.seq}
            )
        if not any(s.actor == person and s.sign_off == kind for s in held):
            records.append_event(
                log,
                config,
                "approval",
                person,
                {
                    "subject": approvals.SUBJECT_UNFREEZE,
                    "step": approvals.STEP_SIGN_OFF,
                    "sign_off": kind,
                    "freeze_seq": state.seq,
                    "comment": note,
                    "airflow_run_id": airflow_run_id,
                    "summary": f"{kind} sign-off to unfreeze (freeze of entry {state.seq}) by {person}"
                    + (f": {note}" if note else ""),
                },
                f"{airflow_run_id}:approval:unfreeze:{kind}",
            )
        decision = approvals.decide(approvals.unfreeze_sign_offs(records.model_entries(log, config), name, state.seq))
        if not decision.enough:
            return {"unfrozen": False, "freeze": state.to_dict(), "sign_offs": decision.to_dict(),
                    "summary": decision.describe()}
        entry = records.append_event(
            log,
            config,
            "unfreeze",
            person,
            {
                "reason": f"unfrozen on two sign-offs: technical {decision.approved_by['technical']}, "
                f"ethical {decision.approved_by['ethical']}",
                "freeze_seq": state.seq,
                "approved_by": decision.approved_by,
                "airflow_run_id": airflow_run_id,
            },
            f"{airflow_run_id}:unfreeze:{state.seq}",
        )
        return {"unfrozen": True, "seq": entry.seq, **entry.payload}


ERR_NOTHING_TO_REPAIR = (
    "no integrity alarm is open: the registry's champion is the one the audit log recorded; there is nothing "
    "to repair"
)


def sign_repair(
    airflow_run_id: str, sign_off: Any, actor: str | None, run_type: Any, comment: Any = None
) -> dict[str, Any]:
    """Record one sign-off for repairing an integrity alarm; with both, put back the recorded champion.

    The same rule as an approval: a technical and an ethical sign-off from two
    different authenticated people, given for the open alarm.  The run that
    completes the pair moves the alias back to the champion the audit log
    recorded (its recorded gate decision and files checked, its gate tags
    written again from the record) and appends the ``repair`` entry, which
    closes the alarm.  Idempotent on retry of the same Airflow run.
    """
    kind = approvals.check_sign_off(sign_off)
    note = approvals.check_comment(comment)
    paths, config = open_project()
    name, alias = config.registry.model_name, config.registry.champion_alias
    client = registry.connect(paths)
    with champion_lock(audit_log_url(paths, config), name):
        alarm = champion_record.detect(paths, config, client)
        with records.open_audit_log(paths, config) as log:
            mine = f"{airflow_run_id}:"
            own = [e for e in log.entries() if e.kind == "repair" and e.idempotency_key.startswith(mine)]
            if own:
                return {"repaired": True, "already_done": True, "seq": own[0].seq, **own[0].payload}
            if alarm is None:
                raise BadInputError(ERR_NOTHING_TO_REPAIR)
            details = {"sign_off": kind, "triggering_user": actor, "alarm_seq": alarm.seq}
            problem = approvals.identity_problem(actor, run_type)
            person = str(actor).strip()
            held = approvals.repair_sign_offs(log.entries(), name, alarm.seq)
            other = {s.sign_off for s in held if s.actor == person} - {kind}
            if problem is None and other:
                scope = f"to repair the integrity alarm of audit entry {alarm.seq}"
                problem = approvals.ERR_BOTH_SIGN_OFFS.format(actor=person, given=other.pop(), scope=scope)
            if problem:
                raise approvals.record_refusal(log, config, "repair", problem, actor, airflow_run_id, details)
            if not any(s.actor == person and s.sign_off == kind for s in held):
                summary = f"{kind} sign-off to repair the integrity alarm of entry {alarm.seq} by {person}"
                records.append_event(
                    log, config, "approval", person,
                    {"subject": approvals.SUBJECT_REPAIR, "step": approvals.STEP_SIGN_OFF, "sign_off": kind,
                     "alarm_seq": alarm.seq, "comment": note, "airflow_run_id": airflow_run_id,
                     "summary": summary + (f": {note}" if note else "")},
                    f"{airflow_run_id}:approval:repair:{kind}",
                )
            decision = approvals.decide(approvals.repair_sign_offs(log.entries(), name, alarm.seq))
            if not decision.enough:
                return {"repaired": False, "alarm_seq": alarm.seq, "sign_offs": decision.to_dict(),
                        "summary": decision.describe()}
            move = _restore_recorded_champion(client, log.entries(), name, alias, person, airflow_run_id)
            entry = records.append_event(
                log, config, "repair", person,
                {**move, "alarm_seq": alarm.seq, "approved_by": decision.approved_by,
                 "summary": f"champion {move['from_version']} -> {move['to_version']}: integrity alarm of entry "
                 f"{alarm.seq} repaired on two sign-offs (technical {decision.approved_by['technical']}, "
                 f"ethical {decision.approved_by['ethical']})"},
                f"{airflow_run_id}:repair:{alarm.seq}",
                model_version=move["to_version"],
            )
    refresh_model_cards(paths, config, [move["to_version"], move["from_version"]])
    return {"repaired": True, "seq": entry.seq, **entry.payload}


def _restore_recorded_champion(
    client: MlflowClient, entries: list[Any], name: str, alias: str, actor: str, airflow_run_id: str
) -> dict[str, Any]:
    """Point the alias at the champion the last recorded move left (or remove it); say what moved."""
    current = registry.champion(client, name, alias)
    found = None if current is None else str(current.version)
    recorded, _ = champion_record.recorded_champion(entries, name)
    if recorded is None:
        if found is not None:
            client.delete_registered_model_alias(name, alias)
    else:
        target = registry.get_version(client, name, recorded)
        record = champion_record.recorded_gate(entries, name, target)
        if isinstance(record, str) or not record.passed:
            raise BlockedError("repair", [record if isinstance(record, str) else "the recorded champion did not pass"])
        verify_registered_model(name, recorded, entries, "repair")
        client.set_registered_model_alias(name, alias, recorded)
        for tag, field in champion_record.GATE_TAGS:  # the mirror, written again from the record
            client.set_model_version_tag(name, recorded, tag, record.value(field))
    logger.warning("repair: %s moved from %s back to the recorded %s by %s", alias, found, recorded, actor)
    return {"action": "repair", "moved": True, "from_version": found, "to_version": recorded, "actor": actor,
            "reason": "integrity alarm repaired", "airflow_run_id": airflow_run_id}


def move_champion(
    client: MlflowClient,
    model_name: str,
    alias: str,
    version: str,
    *,
    action: str,
    actor: str,
    reason: str,
    airflow_run_id: str,
    audit_entries: list[Any],
) -> registry.AliasMove:
    """Point the alias at ``version`` after re-checking its recorded gate decision and its files.

    Call it inside :func:`pipelines.governance.champion_lock.champion_lock`, with the
    checks that decided the move. ``audit_entries`` are the audit log's
    entries (all of them): the version's recorded gate decision must say both
    gates passed and its gate tags must agree with it
    (:func:`pipelines.governance.champion_record.target_problems`), and its files
    must match the checksums its ``registration`` entry recorded (see
    :mod:`pipelines.governance.model_integrity`).

    Idempotent: when the move for this Airflow run was already made, it is
    reported as such and nothing changes.
    """
    target = registry.get_version(client, model_name, version)
    problems = champion_record.target_problems(audit_entries, model_name, target)
    if problems:
        raise BlockedError(action, problems)
    current = registry.champion(client, model_name, alias)
    history = registry.alias_history(client, model_name)
    for earlier in history:
        if earlier["airflow_run_id"] == airflow_run_id and earlier["action"] == action:
            return registry.AliasMove(
                action,
                earlier["from_version"],
                earlier["to_version"],
                earlier["actor"],
                earlier["reason"],
                airflow_run_id,
                earlier.get("at", ""),
                True,
            )
    verify_registered_model(model_name, str(version), audit_entries, action)
    from_version = str(current.version) if current is not None else None
    client.set_registered_model_alias(model_name, alias, str(version))
    client.set_model_version_tag(model_name, str(version), tags.STABLE_FAIR, "true")
    # when the alias moved: a record of the event, it never feeds a result
    moved_at = datetime.now(UTC).isoformat(timespec="seconds")
    move = registry.AliasMove(action, from_version, str(version), actor, reason, airflow_run_id, moved_at)
    _append_alias_history(client, model_name, move)
    logger.info("%s: %s moved from %s to %s by %s", action, alias, from_version, version, actor)
    return move


def all_entries(paths: ProjectPaths, config: FairgateConfig) -> list[Any]:
    """Every entry of the project's audit log, oldest first (a move reads the gate and registration records)."""
    with records.open_audit_log(paths, config) as log:
        return log.entries()


def _append_alias_history(client: MlflowClient, model_name: str, move: registry.AliasMove) -> None:
    history = registry.alias_history(client, model_name)
    history.append(move.to_dict())
    # the full history also goes to the tamper-evident audit log; the tag keeps the latest moves
    while len(json.dumps(history)) > tags.MAX_TAG_CHARS and len(history) > 1:
        history.pop(0)
    client.set_registered_model_tag(model_name, tags.ALIAS_HISTORY, json.dumps(history))
    for key, value in move.to_dict().items():
        client.set_registered_model_tag(model_name, tags.last_alias_move(key), str(value))

