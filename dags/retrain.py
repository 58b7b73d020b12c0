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

Every task body is one call into `pipelines.flows.retrain`; tasks pass only small
values (paths, hashes, run ids, metric dictionaries) through XCom.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import Param, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException


def _governed(stage: Any, *args: Any) -> Any:
    """Run a pipeline stage; a refusal or bad input fails the task without retries."""
    from pipelines.core.errors import FairgateError

    try:
        return stage(*args)
    except FairgateError as e:
        raise AirflowFailException(str(e)) from e


@dag(
    dag_id="retrain",
    description="Governed retraining: audit, leakage, train, evaluate, gate, register, promote",
    doc_md=__doc__,
    schedule="@monthly",
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["fairgate", "retrain", "governed"],
    default_args={"owner": "fairgate", "retries": 2, "retry_delay": timedelta(minutes=1)},
    params={
        "interval": Param(
            None,
            type=["null", "string"],
            pattern=r"^\d{4}-(0[1-9]|1[0-2])$",
            title="Data interval (YYYY-MM)",
            description="The month whose batch is ingested. Empty: the scheduled interval, "
            "or for a manual run the last complete month before the run.",
        ),
        "request_id": Param(
            None,
            type=["null", "string"],
            title="Request id",
            description="Set by `fairgate run` to find the records of the run it asked for; leave empty.",
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
    """Wire the stages; the work is in ``pipelines.flows.retrain``."""

    @task
    def run_reference() -> dict[str, Any]:
        from pipelines.flows.retrain import interval_for_run, run_reference

        context = get_current_context()
        dag_run = context["dag_run"]
        interval = context["params"].get("interval") or interval_for_run(
            str(dag_run.run_type), context.get("data_interval_end"), context.get("logical_date")
        )
        return _governed(
            run_reference,
            dag_run.run_id,
            dag_run.dag_id,
            interval,
            context["params"].get("overrides"),
            getattr(dag_run, "triggering_user_name", None),
            context["params"].get("request_id"),
        )

    @task
    def ingest(run_ref: dict[str, Any]) -> dict[str, Any]:
        from pipelines.flows import retrain as stages
        return _governed(stages.ingest, run_ref)

    @task
    def audit(run_ref: dict[str, Any], ingested: dict[str, Any]) -> dict[str, Any]:
        from pipelines.flows import retrain as stages
        return _governed(stages.audit, run_ref, ingested)

    @task
    def leakage(run_ref: dict[str, Any], ingested: dict[str, Any], audited: dict[str, Any]) -> dict[str, Any]:
        from pipelines.flows import retrain as stages
        return _governed(stages.leakage, run_ref, ingested)

    @task
    def split(run_ref: dict[str, Any], ingested: dict[str, Any], leak_checked: dict[str, Any]) -> dict[str, Any]:
        from pipelines.flows import retrain as stages
        return _governed(stages.split, run_ref, ingested)

    @task
    def train(run_ref: dict[str, Any], ingested: dict[str, Any], split_result: dict[str, Any]) -> dict[str, Any]:
        from pipelines.flows import retrain as stages
        return _governed(stages.train, run_ref, ingested, split_result)

    @task
    def evaluate(
        run_ref: dict[str, Any], ingested: dict[str, Any], split_result: dict[str, Any], trained: dict[str, Any]
    ) -> dict[str, Any]:
        from pipelines.flows import retrain as stages
        return _governed(stages.evaluate, run_ref, ingested, split_result, trained)

    @task
    def gate(run_ref: dict[str, Any], ingested: dict[str, Any], evaluated: dict[str, Any]) -> dict[str, Any]:
        from pipelines.flows import retrain as stages
        return _governed(stages.gate, run_ref, ingested, evaluated)

    @task
    def register(
        run_ref: dict[str, Any], ingested: dict[str, Any], trained: dict[str, Any], gated: dict[str, Any]
    ) -> dict[str, Any]:
        from pipelines.flows import retrain as stages
        return _governed(stages.register, run_ref, ingested, trained, gated)

    @task
    def promote(run_ref: dict[str, Any], registered: dict[str, Any], gated: dict[str, Any]) -> dict[str, Any]:
        from pipelines.flows import retrain as stages
        return _governed(stages.promote, run_ref, registered, gated)

    ref = run_reference()
    ingested = ingest(ref)
    audited = audit(ref, ingested)
    leak_checked = leakage(ref, ingested, audited)
    split_result = split(ref, ingested, leak_checked)
    trained = train(ref, ingested, split_result)
    evaluated = evaluate(ref, ingested, split_result, trained)
    gated = gate(ref, ingested, evaluated)
    registered = register(ref, ingested, trained, gated)
    promote(ref, registered, gated)


retrain()
