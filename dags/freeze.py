"""
### freeze: stop automatic promotion.

Manual trigger only. Give a **reason** (required). From then on `retrain`
still trains, evaluates, gates and registers, but does not promote: a
candidate that passed both gates waits for two sign-offs (the `approve` DAG).

One person can freeze (it only tightens); lifting the freeze needs a
technical and an ethical sign-off from two different people (the `unfreeze`
DAG). The freeze is an entry of the tamper-evident audit log, with the Airflow
user who triggered this run and the reason; `fairgate status` shows it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import Param, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException


@dag(
    dag_id="freeze",
    description="Freeze automatic promotion of the champion model (lifting it needs two people)",
    doc_md=__doc__,
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["fairgate", "approval", "governed"],
    default_args={"owner": "fairgate", "retries": 2, "retry_delay": timedelta(seconds=30)},
    params={
        "reason": Param(
            type="string",
            minLength=1,
            title="Reason",
            description="Why automatic promotion stops (recorded with your user name).",
        ),
    },
)
def freeze() -> None:
    """Wire the one freeze step; the work is in ``pipelines.governance.approvals.freeze``."""

    @task
    def freeze_promotion() -> dict[str, Any]:
        from pipelines.core.errors import FairgateError
        from pipelines.governance.approvals import freeze as freeze_deployments

        context = get_current_context()
        dag_run = context["dag_run"]
        try:
            return freeze_deployments(dag_run.run_id, context["params"]["reason"], dag_run.triggering_user_name)
        except FairgateError as e:
            raise AirflowFailException(str(e)) from e

    freeze_promotion()


freeze()
