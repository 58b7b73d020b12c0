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

from airflow.sdk import Asset, get_current_context, task
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
    """Wire the one monitoring step; the work is in ``pipelines.flows.monitor.monitor_intervals``."""

    @task
    def monitor_decisions() -> list[dict[str, Any]]:
        # pipelines is imported when the task runs, never when the DAG file is parsed
        from pipelines.flows import monitor as monitoring

        context = get_current_context()
        events = context.get("triggering_asset_events") or {}
        named = context["params"].get("interval")
        intervals = [named] if named else [event.extra.get("interval") for event in events.get(SCORES, [])]
        return governed_call(monitoring.monitor_intervals, intervals, context["dag_run"].run_id)

    monitor_decisions()


monitor()
