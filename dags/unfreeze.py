"""
### unfreeze: one sign-off for lifting the freeze on automatic promotion.

Manual trigger only. Deployments are frozen by `fairgate freeze`, by the
`freeze` DAG, and after every rollback. Lifting the freeze takes the same rule
as approving a model: **two sign-offs from two different people**, one
**technical** and one **ethical**, both given for the current freeze (a newer
freeze, e.g. another rollback, needs new sign-offs).

Each run gives one sign-off. Who signs is the Airflow user who triggered the
run, never a field of this form; a run without a triggering user is refused,
and so is a second kind of sign-off by the same person (recorded as a
`refusal` in the audit log). The run that completes the pair appends the
`unfreeze` entry. A retried task appends nothing twice.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import Param, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException


@dag(
    dag_id="unfreeze",
    description="Technical or ethical sign-off for lifting the freeze on automatic promotion",
    doc_md=__doc__,
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["fairgate", "approval", "governed"],
    default_args={"owner": "fairgate", "retries": 2, "retry_delay": timedelta(seconds=30)},
    params={
        "sign_off": Param(
            type="string",
            enum=["technical", "ethical"],
            title="Sign-off",
            description="technical or ethical: the side you vouch for when automatic promotion resumes. "
            "Your Airflow user is recorded; one person cannot give both.",
        ),
        "comment": Param(
            None,
            type=["null", "string"],
            title="Comment",
            description="Optional note recorded with your sign-off (it decides nothing).",
        ),
    },
)
def unfreeze() -> None:
    """Wire the one sign-off step; the work is in ``pipelines.governance.approvals.sign_unfreeze``."""

    @task
    def sign_off_unfreeze() -> dict[str, Any]:
        from pipelines.core.errors import FairgateError
        from pipelines.governance.approvals import sign_unfreeze

        context = get_current_context()
        dag_run = context["dag_run"]
        try:
            return sign_unfreeze(
                dag_run.run_id,
                context["params"]["sign_off"],
                actor=dag_run.triggering_user_name,
                run_type=dag_run.run_type,
                comment=context["params"].get("comment"),
            )
        except FairgateError as e:
            raise AirflowFailException(str(e)) from e

    sign_off_unfreeze()


unfreeze()
