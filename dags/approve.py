"""
### approve: one sign-off for a candidate that waits while deployments are frozen.

Manual trigger only. While deployments are frozen, a candidate that passed
both gates is registered with `fairgate.awaiting_approval=true` instead of
being promoted. It becomes `champion` once it holds **two sign-offs from two
different people**: one **technical** (technical and business metrics
reviewed) and one **ethical** (fairness metrics reviewed, per group).

Each run gives one sign-off. Who signs is the Airflow user who triggered the
run (the identity Airflow authenticated), never a field of this form; a run
without a triggering user is refused. The same person cannot give both
sign-offs. The run that completes the pair moves `champion`.

Refused, and recorded as a `refusal` in the audit log: a version that did not
pass every gate (there is no override of a failed gate, by any field, flag or
setting), a version that is not awaiting approval, a version gated against a
champion that has changed since, a second kind of sign-off by the same person.
A retried task appends nothing twice.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Param, get_current_context, task
from governed_dag import comment_param, governed_call, governed_dag, triggering_user


@governed_dag(
    dag_id="approve",
    description="Technical or ethical sign-off for a candidate waiting while deployments are frozen",
    doc_md=__doc__,
    schedule=None,
    tags=["approval", "governed"],
    params={
        "model_version": Param(
            type="integer",
            minimum=1,
            title="Model version",
            description="The registered version awaiting approval (`fairgate status` lists them; in MLflow "
            "its tag fairgate.awaiting_approval is true).",
        ),
        "sign_off": Param(
            type="string",
            enum=["technical", "ethical"],
            title="Sign-off",
            description="technical: you reviewed the technical and business metrics and gate. ethical: you "
            "reviewed the fairness metrics per group. Your Airflow user is recorded; one person cannot give both.",
        ),
        "comment": comment_param(),
    },
)
def approve() -> None:
    """Wire the one sign-off step; the work is in ``pipelines.flows.champion.approve_version``."""

    @task
    def sign_off_and_promote() -> dict[str, Any]:
        from pipelines.flows import champion

        context = get_current_context()
        dag_run = context["dag_run"]
        return governed_call(
            champion.approve_version,
            dag_run.run_id,
            context["params"]["model_version"],
            context["params"]["sign_off"],
            actor=triggering_user(dag_run),
            run_type=dag_run.run_type,
            comment=context["params"].get("comment"),
        )

    sign_off_and_promote()


approve()
