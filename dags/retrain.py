"""
### retrain: one governed retraining run per data interval

Monthly, one run per data interval (or triggered by hand with an `interval`):

ingest and version with DVC → data audit (Great Expectations) → leakage checks →
out-of-time split → train (exact float64 class weights from `beta_factor`) →
evaluate candidate and champion on the same holdout (technical, business,
ethical families) → gate (technical gate and ethical gate) → register the
candidate with its lineage → promote (`champion` alias) only when both gates pass.
While deployments are frozen (`fairgate freeze`, the `freeze` DAG, any rollback),
a candidate that passed both gates is not promoted: it waits for a technical and
an ethical sign-off from two different people (the `approve` DAG).

A check that says no fails its task with the reason (no retry: the data or the
model, not the infrastructure, is the problem); nothing downstream runs, so a
blocked run never promotes. A candidate blocked by the gate is still
registered, with tags saying why, so it can be inspected in the MLflow UI.

Every task body is one call into `pipelines.flows.retrain` (and
`pipelines.flows.champion` for the promotion). Each task hands the next one
small run state through XCom (paths, hashes, run ids, verdicts; never a
DataFrame), so the graph is the chain it is.
"""

from __future__ import annotations

import importlib
from datetime import timedelta
from typing import Any

from airflow.sdk import Param, get_current_context, task
from governed_dag import governed_call, governed_dag, triggering_user

RunState = dict[str, Any]  # pipelines.flows.retrain.results.RunState, not imported at parse time

# the chain after run_reference: (task id, the pipelines.flows module whose function of that name it calls)
STAGES = (
    ("ingest", "retrain"),
    ("audit", "retrain"),
    ("leakage", "retrain"),
    ("split", "retrain"),
    ("train", "retrain"),
    ("evaluate", "retrain"),
    ("gate", "retrain"),
    ("register", "retrain"),
    ("promote", "champion"),
)


def _stage_task(stage: tuple[str, str]) -> Any:
    """The task of one stage: it hands the run state to ``pipelines.flows.<module>.<name>``."""
    name, module = stage

    def run_stage(state: RunState) -> RunState:
        # the stage's module is imported when the task runs, never when the DAG file is parsed
        step = getattr(importlib.import_module(f"pipelines.flows.{module}"), name)
        return governed_call(step, state)

    run_stage.__doc__ = f"Call ``pipelines.flows.{module}.{name}`` with the run state; return it extended."
    return task(task_id=name)(run_stage)


@governed_dag(
    dag_id="retrain",
    description="Governed retraining: audit, leakage, train, evaluate, gate, register, promote",
    doc_md=__doc__,
    schedule="@monthly",
    tags=["retrain", "governed"],
    retry_delay=timedelta(minutes=1),
    params={
        "interval": Param(
            None,
            type=["null", "string"],
            pattern=r"^(\d{4}-(0[1-9]|1[0-2])|data-[0-9a-f]{12})$",
            title="Data interval (YYYY-MM)",
            description="The month whose batch is ingested (or data-<12 hex>: a one-off version of a file "
            "without a time column). Empty: the scheduled interval, or for a manual run the last complete month "
            "before the run.",
        ),
        "request_id": Param(
            None,
            type=["null", "string"],
            title="Request id",
            description="Set by `fairgate run` to find the records of the run it asked for; leave empty.",
        ),
        "reingest": Param(
            False,
            type="boolean",
            title="Re-ingest a quarantined batch",
            description="Audit again a batch the audit or the leakage checks refused before (its bytes are in "
            "quarantine/). Off: such a batch is refused at ingest, naming its quarantine record.",
        ),
        "overrides": Param(
            {},
            type="object",
            title="Configuration overrides",
            description='Dotted fairgate.yaml keys for this run only, e.g. {"training.beta_factor": 0.99}. '
            "They go through the same validation as the file and are recorded in the run.",
        ),
    },
)
def retrain() -> None:
    """Wire the stages as one chain; the work is in ``pipelines.flows.retrain``."""

    @task
    def run_reference() -> RunState:
        from pipelines.flows import retrain as stages

        context = get_current_context()
        dag_run = context["dag_run"]
        interval = context["params"].get("interval") or stages.interval_for_run(
            str(dag_run.run_type), context.get("data_interval_end"), context.get("logical_date")
        )
        return governed_call(
            stages.run_reference,
            dag_run.run_id,
            dag_run.dag_id,
            interval,
            context["params"].get("overrides"),
            triggering_user(dag_run),
            context["params"].get("request_id"),
            bool(context["params"].get("reingest")),
        )

    state = run_reference()
    for stage in STAGES:
        state = _stage_task(stage)(state)


retrain()
