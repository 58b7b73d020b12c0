"""The Airflow notifier of fairgate's alerts: one JSON line per alert, then any provider notifier.

Not a DAG file (``.airflowignore`` keeps the DAG processor from parsing it);
Airflow puts the DAG folder on ``sys.path``, so DAG files import it as
``alert_notifier``, like ``governed_dag``.  ``pipelines`` never imports it.

The ``monitor`` DAG hangs :class:`AlertNotifier` on the task that acts on the
alerts (``pipelines.flows.auto_rollback.act_on_alerts``) as its
``on_success_callback`` and ``on_failure_callback``.  Airflow calls it in the
worker once the task has ended, with the task's context: on success it reads
the task's outcome from XCom; on failure (a refused rollback, an integrity
alarm, a crash) it reports the error.  When the severity is at least
``min_severity`` it appends one JSON line to the notification file
(``monitoring.alerts.notification_file``, under the project's ``var/``), then
calls every notifier in ``forward_to`` with the same context plus
``fairgate_alert`` (the line), so a provider's templates can say
``{{ fairgate_alert.summary }}``: ``SmtpNotifier`` (installed with the SMTP
provider), ``SlackNotifier`` (``apache-airflow-providers-slack``) or any other
``BaseNotifier``.  Only severe outcomes reach them; an ``ok`` interval
notifies nobody.

Nothing heavy is imported here: DAG files are parsed every few seconds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from airflow.sdk.bases.notifier import BaseNotifier

# "error": the task acting on the alerts failed (a refused rollback, an integrity alarm, a crash)
SEVERITIES = ("ok", "warn", "critical", "error")
ERR_SEVERITY = "min_severity must be one of " + ", ".join(SEVERITIES) + ", found {found!r}"
ERR_FORWARD = "forward_to must hold Airflow notifiers (BaseNotifier), found {found}"


class AlertNotifier(BaseNotifier):
    """Notify the outcome of fairgate's alert task: a JSON line in a local file, then any provider notifiers.

    Parameters
    ----------
    path : str, optional
        The notification file.  Default: ``monitoring.alerts.notification_file``
        of the project (``FAIRGATE_HOME``), resolved when notifying.
    task_id : str, optional
        The task whose XCom holds the outcome.  Default: the task the callback
        belongs to.
    min_severity : str
        The least severe outcome that notifies: ``warn`` (default),
        ``critical`` or ``error``.
    forward_to : sequence of BaseNotifier
        Provider notifiers called after the line is written, with the context
        plus ``fairgate_alert``.
    """

    template_fields = ("path",)

    def __init__(
        self,
        *,
        path: str | None = None,
        task_id: str | None = None,
        min_severity: str = "warn",
        forward_to: Sequence[BaseNotifier] = (),
    ) -> None:
        super().__init__()
        if min_severity not in SEVERITIES[1:]:
            raise ValueError(ERR_SEVERITY.format(found=min_severity))
        bad = [type(n).__name__ for n in forward_to if not isinstance(n, BaseNotifier)]
        if bad:
            raise TypeError(ERR_FORWARD.format(found=", ".join(bad)))
        self.path = path
        self.task_id = task_id
        self.min_severity = min_severity
        self.forward_to = tuple(forward_to)

    def notify(self, context: Any) -> None:
        """Write the alert line when the outcome is severe enough, then forward it."""
        line = alert_line(context, self.task_id)
        if SEVERITIES.index(line["severity"]) < SEVERITIES.index(self.min_severity):
            self.log.info("fairgate alert: %s, nothing to notify", line["severity"])
            return
        target = Path(self.path) if self.path else configured_notification_file()
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(line, sort_keys=True) + "\n")
        self.log.warning("fairgate alert (%s) written to %s: %s", line["severity"], target, line["summary"])
        for notifier in self.forward_to:
            notifier({**context, "fairgate_alert": line})


def alert_line(context: Mapping[str, Any], task_id: str | None = None) -> dict[str, Any]:
    """The notification of one ended task: its alert outcome (from XCom) or its error, as one JSON-ready dict."""
    ti = context["ti"]
    dag_run = context.get("dag_run")
    error = context.get("exception")
    outcome = None if error is not None else ti.xcom_pull(task_ids=task_id or ti.task_id)
    line: dict[str, Any] = {
        # when the notification was written: a record for people, never an input to a decision
        "notified_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "dag_id": ti.dag_id,
        "run_id": ti.run_id,
        "task_id": ti.task_id,
        "try_number": ti.try_number,
        "logical_date": str(getattr(dag_run, "logical_date", None) or "") or None,
    }
    if error is not None or not isinstance(outcome, Mapping):
        why = str(error) if error is not None else f"no alert outcome in XCom (found {type(outcome).__name__})"
        return {**line, "severity": "error", "summary": f"{ti.task_id} failed: {why}", "error": why}
    keep = ("interval", "verdict", "summary", "action", "evidence", "rollback", "freeze", "retrain", "alert_seq")
    return {**line, "severity": str(outcome.get("verdict", "error")), **{k: outcome.get(k) for k in keep}}


def configured_notification_file() -> Path:
    """``monitoring.alerts.notification_file`` of the project, from its root (read when a task ends)."""
    from pipelines.core.project import open_project  # lazy: DAG files are parsed without importing pipelines

    paths, config = open_project()
    return paths.root / config.monitoring.alerts.notification_file
