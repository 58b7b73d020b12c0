"""
### rollback: move `champion` back to the last fair and stable model

Manual trigger only. Give a **reason** (required) and optionally a **target
version**. Without a target, `champion` moves to the highest-numbered version
below the current champion that passed every gate and served before. A named
target is checked first: a version that did not pass both gates (technical and
ethical) is refused, whoever asks.

Before the move, the target's model files are downloaded and compared with the
SHA-256 checksums recorded in the audit log at its registration: a changed,
missing or added file refuses the rollback.

The move records who triggered it (Airflow's authenticated user), when, from
which version to which, and why, in the tamper-evident audit log and on the
registered model in MLflow. Triggering it twice does not roll back twice: a
retried task finds its own move, and a second run without a target while the
first rollback still stands moves nothing and says so (name a target version
to go further back). Every rollback freezes deployments: the next candidate
that passes both gates waits for two sign-offs (`approve` DAG), and lifting the
freeze needs two people too (`unfreeze` DAG).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Param, get_current_context, task
from governed_dag import UNKNOWN_USER, governed_call, governed_dag, triggering_user


@governed_dag(
    dag_id="rollback",
    description="Manual rollback of the champion model to the last version that passed every gate",
    doc_md=__doc__,
    schedule=None,
    tags=["rollback", "governed"],
    params={
        "reason": Param(
            type="string",
            minLength=1,
            title="Reason",
            description="Why the champion is rolled back (recorded with your user name).",
        ),
        "target_version": Param(
            None,
            type=["null", "integer"],
            minimum=1,
            title="Target version",
            description="A registered version that passed every gate. Empty: the last one that served "
            "before the current champion.",
        ),
    },
)
def rollback() -> None:
    """Wire the one rollback step; the work is in ``pipelines.flows.champion.rollback``."""

    @task
    def move_champion_back() -> dict[str, Any]:
        from pipelines.flows import champion

        context = get_current_context()
        dag_run = context["dag_run"]
        return governed_call(
            champion.rollback,
            dag_run.run_id,
            context["params"]["reason"],
            context["params"].get("target_version"),
            actor=triggering_user(dag_run) or UNKNOWN_USER,
            dag_id=dag_run.dag_id,
        )

    move_champion_back()


rollback()
