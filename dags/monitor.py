"""
### monitor: watching the champion's decisions, interval by interval

Runs after each scoring: the DAG is scheduled on the Asset `fairgate_scores`
(`fairgate://var/scores`) that the `score` DAG's task updates, and monitors
the interval(s) named in the triggering events. Triggered by hand, it
monitors the `interval` parameter.

Before anything is measured, the champion is checked as scoring checks it
(audit log intact, no integrity alarm, recorded gate passed, model files as
registered), and the decisions `fairgate score` wrote for the interval are
checked against their `scoring` entries in the audit log. A check that fails
fails the task with the reason and no retry. An interval the champion did not
score fails the same way (nothing to monitor).

At decision time, without labels: input drift of every feature and every
sensitive group's share against the champion's training data (found through
its lineage), approval rates per group and the four-fifths ratio of the
decisions made, and each shadow's disagreement with the champion per group,
each with the gate's bootstrap interval. Limits: `monitoring.decision_time`
in fairgate.yaml (docs/monitoring.md).

Before labels mature, the champion's performance estimated from its
calibrated probabilities; once they are known, the realised metrics. Every
value goes to the alerting (`pipelines.flows.auto_rollback`): a confident
critical breach of an ethical value rolls `champion` back and freezes; the
`AlertNotifier` on the task writes one line per severe outcome
(`monitoring.alerts.notification_file`) and forwards it to any provider
notifier; a critical breach opens the retrain path (`open_retrain_path`
triggers `retrain` for the interval, once per monitor run).

The verdict goes to `var/monitoring/interval=<YYYY-MM>/champion-v<version>.json`,
to one MLflow run of the `monitoring.experiment` experiment (plots over time,
Markdown summary), and one `monitoring` entry to the audit log. A retried or
repeated run rewrites the same file, finds the same MLflow run and appends
nothing. A critical verdict does not fail the task: the monitoring worked.

The task body is one call into `pipelines.flows.monitor`; `fairgate monitor
--interval YYYY-MM` makes the same call from the shell.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import Asset, get_current_context, task
from alert_notifier import AlertNotifier
from governed_dag import governed_call, governed_dag, interval_param

# The decisions the score DAG writes (its task's outlet): the same name and URI as the score DAG's Asset
SCORES = Asset(name="fairgate_scores", uri="fairgate://var/scores", group="fairgate")


@governed_dag(
    dag_id="monitor",
    description="Monitor the champion's decisions of each scored interval: drift, decisions per group, shadows",
    doc_md=__doc__,
    schedule=[SCORES],
    tags=["monitor", "governed"],
    params={
        "interval": interval_param(
            "The scored month to monitor. Empty: the interval(s) of the scorings that triggered the run."
        ),
    },
)
def monitor() -> None:
    """Wire the monitoring step, its notifier and the retrain path; the work is in ``pipelines.flows``."""
    # the notifier reads the task's outcome from XCom (or its error) and writes one line per severe outcome
    notify = AlertNotifier()

    @task(on_success_callback=notify, on_failure_callback=notify)
    def monitor_decisions() -> dict[str, Any]:
        # pipelines is imported when the task runs, never when the DAG file is parsed
        from pipelines.flows import monitor as monitoring

        context = get_current_context()
        events = context.get("triggering_asset_events") or {}
        named = context["params"].get("interval")
        intervals = [named] if named else [event.extra.get("interval") for event in events.get(SCORES, [])]
        return governed_call(monitoring.monitor_intervals, intervals, context["dag_run"].run_id)

    @task.short_circuit
    def retrain_requested(outcome: dict[str, Any]) -> bool:
        """Go on to the retrain trigger only when a critical breach opened the retrain path."""
        return bool((outcome.get("retrain") or {}).get("requested"))

    outcome = monitor_decisions()
    retrain_on_alert = TriggerDagRunOperator(
        task_id="open_retrain_path",
        trigger_dag_id="retrain",
        trigger_run_id="retrain_on_alert__{{ run_id }}",
        conf={"interval": "{{ ti.xcom_pull(task_ids='monitor_decisions')['retrain']['interval'] }}"},
        skip_when_already_exists=True,  # a retried trigger starts nothing twice
    )
    retrain_requested(outcome) >> retrain_on_alert


monitor()
