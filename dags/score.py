"""
### score: the interval's applications decided by the champion

Monthly, one run per data interval (or triggered by hand with an `interval`),
after `retrain` has had its say: `champion` is resolved in the registry when
the task runs, never when the DAG is parsed.

Before anything is scored, the champion is checked as every move of
`champion` checks its target: the audit log verifies, the registry's champion
is the one the last recorded move left there (no integrity alarm), the log
records that it passed every gate, and its model files match the SHA-256
checksums recorded at its registration. A check that fails fails the task with
the reason and no retry; nothing is written. No champion: nothing to score.

The decisions (ids, `p_positive`, the favourable decision, the champion's
version, the model digest, the threshold, the input data hash) go to
`var/scores/interval=<YYYY-MM>/champion-v<version>.parquet`, and one `scoring`
entry to the audit log. A retried or repeated run with the same champion and
data rewrites the same file and appends nothing.

A candidate waiting for two sign-offs (deployments frozen), and the last
candidate blocked only on non-regression, are checked the same way and scored
in shadow beside the champion (`shadow-v<version>.parquet`); their decisions are never served. Every model
decides with the threshold it was gated with (recorded in the audit log), not
with today's `decision` in fairgate.yaml.

Each successful scoring updates the Asset `fairgate_scores`
(`fairgate://var/scores`); the event's extra names the interval and the files,
so a DAG scheduled on that Asset (monitoring) runs after each scoring.

The task body is one call into `pipelines.flows.score`; `fairgate score
--interval YYYY-MM` makes the same call from the shell.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Param, get_current_context, task
from governed_dag import SCORES, governed_call, governed_dag


@governed_dag(
    dag_id="score",
    description="Score the interval's applications with the verified champion; record the decisions",
    doc_md=__doc__,
    schedule="@monthly",
    tags=["score", "governed"],
    params={
        "interval": Param(
            None,
            type=["null", "string"],
            pattern=r"^(\d{4}-(0[1-9]|1[0-2])|data-[0-9a-f]{12})$",
            title="Data interval (YYYY-MM)",
            description="The month whose applications are scored, as `retrain` names it. Empty: the scheduled "
            "interval, or for a manual run the last complete month before the run.",
        ),
    },
)
def score() -> None:
    """Wire the one scoring step; the work is in ``pipelines.flows.score.score``."""

    @task(outlets=[SCORES])
    def score_with_champion() -> dict[str, Any]:
        # pipelines is imported when the task runs, never when the DAG file is parsed
        from pipelines.flows import score as scoring
        from pipelines.flows.retrain.context import interval_for_run

        context = get_current_context()
        dag_run = context["dag_run"]
        interval = context["params"].get("interval") or interval_for_run(
            str(dag_run.run_type), context.get("data_interval_end"), context.get("logical_date")
        )
        scored: dict[str, Any] = governed_call(scoring.score, interval, dag_run.run_id)
        context["outlet_events"][SCORES].extra = scoring.asset_extra(scored)
        return scored

    score_with_champion()


score()
