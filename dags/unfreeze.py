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

from typing import Any

from airflow.sdk import Param, get_current_context, task
from governed_dag import comment_param, governed_call, governed_dag, triggering_user


@governed_dag(
    dag_id="unfreeze",
    description="Technical or ethical sign-off for lifting the freeze on automatic promotion",
    doc_md=__doc__,
    schedule=None,
    tags=["approval", "governed"],
    params={
        "sign_off": Param(
            type="string",
            enum=["technical", "ethical"],
            title="Sign-off",
            description="technical or ethical: the side you vouch for when automatic promotion resumes. "
            "Your Airflow user is recorded; one person cannot give both.",
        ),
        "comment": comment_param(),
    },
)
def unfreeze() -> None:
    """Wire the one sign-off step; the work is in ``pipelines.flows.champion.sign_unfreeze``."""

    @task
    def sign_off_unfreeze() -> dict[str, Any]:
        from pipelines.flows import champion

        context = get_current_context()
        dag_run = context["dag_run"]
        return governed_call(
            champion.sign_unfreeze,
            dag_run.run_id,
            context["params"]["sign_off"],
            actor=triggering_user(dag_run),
            run_type=dag_run.run_type,
            comment=context["params"].get("comment"),
        )

    sign_off_unfreeze()


unfreeze()
