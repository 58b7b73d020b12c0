"""Acting on a classified monitoring result: notify, roll back automatically, freeze, open the retrain path.

The ``monitor`` DAG (and ``fairgate monitor``) classifies what it measured with
:func:`pipelines.governance.alerts.classify` and hands the result to
:func:`act_on_alerts`:

- ``ok``: nothing is recorded, nothing notifies.
- ``warn`` only: the outcome asks the notifier to notify; nothing moves and the
  audit log is not touched.
- a critical breach: one ``alert`` entry in the audit log records the trigger,
  the evidence (each breaching value with its interval and limit, the interval
  monitored) and the decision, by the automatic actor ``fairgate:monitor``.
  Then, only when an **ethical** value is critically beyond its limit with its
  whole interval (the rollback trigger) and ``monitoring.alerts.automatic_rollback``
  is true, ``champion`` moves back through :func:`pipelines.flows.champion.rollback`
  (the manual rollback's target rule, checks, lock and records) and deployments
  freeze.  With no earlier version that passed every gate and served, or with
  the automatic rollback switched off, deployments freeze and nothing moves.
  While an earlier rollback still stands, nothing moves further.  Any other
  critical breach (technical, business, drift, decisions, shadow, or an ethical
  one whose interval reaches the limit) never moves anything: it alerts and,
  with ``monitoring.alerts.retrain_on_critical``, asks the ``monitor`` DAG to
  trigger ``retrain`` for the interval.

Idempotent: the alert entry is keyed by the Airflow run id and the interval,
and a retry carries out the decision that entry recorded (the rollback finds
its own move), so a retried monitor task never rolls back twice nor appends a
duplicate entry.  An automatic rollback is undone like a manual one: its
freeze is lifted only by the two-person ``unfreeze`` DAG, and ``champion``
moves forward again only through a new candidate approved by two people.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from pipelines.core.config import FairgateConfig
from pipelines.core.errors import BadInputError, BlockedError
from pipelines.core.monitored_values import MonitoredValue
from pipelines.core.project import ProjectPaths, open_project
from pipelines.flows import champion
from pipelines.flows.model_cards import refresh_model_cards
from pipelines.governance import approvals, champion_record, records, registry
from pipelines.governance.alerts import AlertResult, Breach, classify
from pipelines.governance.champion_record import IntegrityError

logger = logging.getLogger(__name__)

MONITOR_ACTOR = "fairgate:monitor"
# what a critical breach decided, as the alert entry records it
DECISION_ROLLBACK = "rollback"
DECISION_FREEZE = "freeze"
DECISION_STANDING = "rollback_standing"
DECISION_ALERT = "alert"
DECISION_REFUSED = "refused_integrity_alarm"

ERR_TEXT = "{what} must be a non-empty string, found {found!r}"


def monitor_alerts(
    values: Iterable[MonitoredValue | Mapping[str, Any]],
    *,
    interval: str,
    airflow_run_id: str,
    checked: Mapping[str, int] | None = None,
    actor: str = MONITOR_ACTOR,
) -> dict[str, Any]:
    """Classify the monitored values of one interval and act on the result (see :func:`act_on_alerts`)."""
    return act_on_alerts(classify(values, checked), interval=interval, airflow_run_id=airflow_run_id, actor=actor)


def act_on_alerts(
    result: AlertResult | Mapping[str, Any],
    *,
    interval: str,
    airflow_run_id: str,
    actor: str = MONITOR_ACTOR,
) -> dict[str, Any]:
    """Act on the classified breaches of one monitored interval; return what was done (JSON-ready).

    Parameters
    ----------
    result : AlertResult or dict
        The classified result, or its ``to_dict()`` form (through XCom).
    interval : str
        The data interval monitored (``YYYY-MM``), recorded with the evidence.
    airflow_run_id : str
        The monitor run's id: the idempotency key of everything recorded.
    actor : str
        Who acts; the automatic monitor (``fairgate:monitor``) by default.

    Returns
    -------
    dict
        ``verdict``, ``summary``, ``horizons`` (the classified result),
        ``evidence`` (one line per breach), ``action`` (``none``, ``notify``, or
        the decision of a critical breach), ``notify``, ``rollback`` (the move, or
        None), ``freeze``, ``retrain`` (``requested``, ``interval``, ``reason``),
        ``alert_seq`` and ``notification_file``: what the notifier writes.

    Raises
    ------
    BadInputError
        A malformed result, interval or run id.
    BlockedError
        The rollback was refused (an integrity alarm, a target whose files
        changed); deployments are frozen first.
    """
    classified = result if isinstance(result, AlertResult) else AlertResult.from_dict(result)
    for what, found in (("interval", interval), ("airflow_run_id", airflow_run_id), ("actor", actor)):
        if not isinstance(found, str) or not found.strip():
            raise BadInputError(ERR_TEXT.format(what=what, found=found))
    paths, config = open_project()
    settings = config.monitoring.alerts
    outcome: dict[str, Any] = {
        "interval": interval,
        "airflow_run_id": airflow_run_id,
        **classified.to_dict(),
        "evidence": [b.describe() for b in classified.breaches],
        "action": "none" if classified.verdict == "ok" else "notify",
        "notify": classified.verdict != "ok",
        "rollback": None,
        "freeze": None,
        "retrain": {"requested": False, "interval": interval, "reason": None},
        "alert_seq": None,
        "notification_file": str(paths.root / settings.notification_file),
    }
    if not classified.critical:
        return outcome
    client = registry.connect(paths)
    # an alias moved outside fairgate is recorded (and found) before anything is decided from the registry
    alarm = champion_record.detect(paths, config, client)
    entry = _recorded_alert(paths, config, classified, interval, airflow_run_id, actor, alarm)
    decision = entry.payload
    outcome.update(
        alert_seq=entry.seq,
        action=decision["decision"],
        retrain={
            "requested": decision["retrain_requested"],
            "interval": interval,
            "reason": decision["retrain_reason"],
        },
    )
    if decision["decision"] == DECISION_ROLLBACK:
        try:
            outcome["rollback"] = champion.rollback(airflow_run_id, decision["reason"], None, actor, dag_id="monitor")
        except BlockedError as refused:
            # refused after all (an integrity alarm, changed model files, nowhere to go): freezing only tightens
            _freeze(paths, config, f"{decision['reason']}; the rollback was refused: {refused}", actor, airflow_run_id)
            raise
    elif decision["decision"] in (DECISION_FREEZE, DECISION_REFUSED):
        _freeze(paths, config, decision["reason"], actor, airflow_run_id)
        if decision["decision"] == DECISION_REFUSED:
            champion_record.reconcile(paths, config, client)  # the open alarm refuses, like every move
    outcome["freeze"] = approvals.current_freeze(paths, config).to_dict()
    if outcome["rollback"] is None:
        refresh_model_cards(paths, config, [decision["champion_version"]])  # the rollback wrote them itself
    return outcome


def _freeze(
    paths: ProjectPaths, config: FairgateConfig, reason: str, actor: str, airflow_run_id: str
) -> approvals.FreezeState:
    """Freeze automatic promotion for this monitor run (one entry per run, however often retried)."""
    return approvals.freeze_deployments(paths, config, reason, actor, f"{airflow_run_id}:freeze:alert", cause="alert")


def _recorded_alert(
    paths: ProjectPaths,
    config: FairgateConfig,
    classified: AlertResult,
    interval: str,
    airflow_run_id: str,
    actor: str,
    alarm: Any,
) -> Any:
    """The ``alert`` entry of this run: the one already recorded (a retry), else decided and recorded now."""
    key = f"{airflow_run_id}:alert:{interval}"
    with records.open_audit_log(paths, config) as log:
        entries = log.entries()
        own = next((e for e in entries if e.idempotency_key == key), None)
        if own is not None:
            return own  # a retry carries out what the first attempt decided, whatever has moved since
        decided = _decide(paths, config, classified, entries, alarm, interval)
        trigger = classified.rollback_trigger
        payload = {
            **decided,
            "interval": interval,
            "verdict": classified.verdict,
            "horizons": {h.horizon: h.verdict for h in classified.horizons},
            "trigger": [b.to_dict() for b in trigger],
            "critical": [b.to_dict() for b in classified.critical if not b.triggers_rollback],
            "criteria": "rollback on a critical breach of an ethical value whose whole interval lies beyond the "
            "limit (automatic_rollback); every other critical breach alerts (retrain_on_critical opens retrain)",
            "airflow_run_id": airflow_run_id,
            "summary": f"{classified.verdict} on interval {interval}: {decided['reason']}",
        }
        logger.warning("alert on interval %s: %s", interval, payload["summary"])
        return records.append_event(
            log, config, "alert", actor, payload, key, model_version=decided["champion_version"]
        )


def _decide(
    paths: ProjectPaths,
    config: FairgateConfig,
    classified: AlertResult,
    entries: list[Any],
    alarm: Any,
    interval: str,
) -> dict[str, Any]:
    """What a critical breach leads to, from the record: roll back, freeze, stand, or alert only."""
    settings = config.monitoring.alerts
    name, alias = config.registry.model_name, config.registry.champion_alias
    client = registry.connect(paths)
    current = registry.champion(client, name, alias)
    current_version = None if current is None else str(current.version)
    trigger = classified.rollback_trigger
    evidence = "; ".join(b.describe() for b in (trigger or classified.critical))
    decided: dict[str, Any] = {
        "champion_version": current_version,
        "target_version": None,
        "retrain_requested": settings.retrain_on_critical,
        "retrain_reason": f"critical breach: {evidence}" if settings.retrain_on_critical else None,
    }
    if trigger and alarm is not None:
        why = (
            f"integrity alarm open (audit entry {alarm.seq}): the automatic rollback is refused like every "
            f"move, deployments freeze; evidence: {evidence}"
        )
        return {**decided, "decision": DECISION_REFUSED, "reason": why}
    if not trigger:
        return {
            **decided,
            "decision": DECISION_ALERT,
            "reason": f"no automatic move (not a confident critical breach of an ethical value): {evidence}",
        }
    if not settings.automatic_rollback:
        return {
            **decided,
            "decision": DECISION_FREEZE,
            "reason": f"automatic rollback switched off "
            f"(monitoring.alerts.automatic_rollback: false): deployments freeze, nothing moves; {evidence}",
        }
    standing = champion.standing_rollback(entries, name, current_version)
    if standing is not None:
        return {
            **decided,
            "decision": DECISION_STANDING,
            "reason": f"champion {current_version} was put in place "
            f"by the rollback of audit entry {standing.seq}, still standing (frozen): nothing moves further; "
            f"{evidence}",
        }
    try:
        target = champion_record.rollback_target(client, entries, name, alias, None)
    except BlockedError as nowhere:
        return {
            **decided,
            "decision": DECISION_FREEZE,
            "reason": f"{'; '.join(nowhere.reasons)}: deployments freeze, nothing moves; {evidence}",
        }
    return {
        **decided,
        "decision": DECISION_ROLLBACK,
        "target_version": target,
        "reason": f"automatic, on a confident critical ethical breach in interval {interval}: {_trigger_line(trigger)}",
    }


def _trigger_line(trigger: tuple[Breach, ...]) -> str:
    """The evidence of the trigger in one line (the rollback's recorded reason)."""
    return "; ".join(b.describe() for b in trigger)


__all__ = ["MONITOR_ACTOR", "IntegrityError", "act_on_alerts", "monitor_alerts"]
