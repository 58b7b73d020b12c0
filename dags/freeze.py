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

from typing import Any

from airflow.sdk import Param, get_current_context, task
from governed_dag import governed_call, governed_dag, triggering_user


@governed_dag(
    dag_id="freeze",
    description="Freeze automatic promotion of the champion model (lifting it needs two people)",
    doc_md=__doc__,
    schedule=None,
    tags=["approval", "governed"],
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
    """Wire the one freeze step; the work is in ``pipelines.flows.champion.freeze``."""

    @task
    def freeze_promotion() -> dict[str, Any]:
        from pipelines.flows import champion

        context = get_current_context()
        dag_run = context["dag_run"]
        return governed_call(champion.freeze, dag_run.run_id, context["params"]["reason"], triggering_user(dag_run))

    freeze_promotion()


freeze()
