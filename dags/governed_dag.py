"""What every fairgate DAG shares: the ``@dag`` arguments and the call into ``pipelines``.

Not a DAG file (``.airflowignore`` keeps the DAG processor from parsing it);
Airflow puts the DAG folder on ``sys.path``, so DAG files import it as
``governed_dag``.  ``pipelines`` never imports it: the package knows nothing of
Airflow.  Nothing heavy is imported here, since DAG files are parsed every few
seconds.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import Asset, Param, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException

START_DATE = pendulum.datetime(2025, 1, 1, tz="UTC")

# The project's decisions, var/scores (one Parquet file per interval and model): the score DAG's task
# updates it each time it scores an interval; the event's extra names the interval and the files
# (pipelines.flows.score.asset_extra).  A DAG scheduled on it (schedule=[SCORES]) runs after each scoring.
SCORES = Asset(name="fairgate_scores", uri="fairgate://var/scores", group="fairgate")
UNKNOWN_USER = "airflow:unknown-user"


def governed_dag(
    *,
    dag_id: str,
    description: str,
    doc_md: str | None,
    schedule: Any,
    tags: list[str],
    params: dict[str, Any],
    retry_delay: timedelta = timedelta(seconds=30),
) -> Any:
    """The ``@dag`` decorator with the house rules every fairgate DAG follows.

    A fixed tz-aware start, no catch-up, one active run at a time, owner
    ``fairgate`` and two retries (every task is idempotent), the ``fairgate``
    tag first.
    """
    return dag(
        dag_id=dag_id,
        description=description,
        doc_md=doc_md,
        schedule=schedule,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=["fairgate", *tags],
        default_args={"owner": "fairgate", "retries": 2, "retry_delay": retry_delay},
        params=params,
    )


def governed_call(step: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run one ``pipelines`` step; a refusal or bad input fails the task without retries.

    A check that says no is not an infrastructure problem: retrying it would
    only say no again.  Anything else (a crash) keeps Airflow's retries.
    """
    from pipelines.core.errors import FairgateError  # lazy: DAG files are parsed without importing pipelines

    try:
        return step(*args, **kwargs)
    except FairgateError as e:
        raise AirflowFailException(str(e)) from e


def comment_param() -> Any:
    """The optional free-text comment a sign-off carries (recorded, it decides nothing)."""
    return Param(
        None,
        type=["null", "string"],
        title="Comment",
        description="Optional note recorded with your sign-off (it decides nothing).",
    )


def triggering_user(dag_run: Any) -> str | None:
    """The user Airflow authenticated for a manual trigger (None for scheduled runs)."""
    return getattr(dag_run, "triggering_user_name", None)


def sign_off_dag(*, dag_id: str, description: str, doc_md: str | None, step: str, sign_off_help: str) -> Any:
    """A manual DAG of one sign-off task: ``pipelines.flows.champion.<step>`` with the authenticated user.

    The ``unfreeze`` and ``repair`` DAGs are this shape: a typed ``sign_off``
    (technical or ethical) and an optional comment; who signs is the Airflow
    user who triggered the run, never a field of the form.
    """

    @governed_dag(
        dag_id=dag_id,
        description=description,
        doc_md=doc_md,
        schedule=None,
        tags=["approval", "governed"],
        params={
            "sign_off": Param(type="string", enum=["technical", "ethical"], title="Sign-off",
                              description=sign_off_help),
            "comment": comment_param(),
        },
    )
    def one_sign_off() -> None:
        @task(task_id=f"sign_off_{dag_id}")
        def sign_off() -> dict[str, Any]:
            # pipelines is imported when the task runs, never when the DAG file is parsed
            champion = importlib.import_module("pipelines.flows.champion")
            context = get_current_context()
            dag_run = context["dag_run"]
            return governed_call(
                getattr(champion, step),
                dag_run.run_id,
                context["params"]["sign_off"],
                actor=triggering_user(dag_run),
                run_type=dag_run.run_type,
                comment=context["params"].get("comment"),
            )

        sign_off()

    return one_sign_off()


def interval_param(description: str) -> Any:
    """The optional data interval of a manual trigger (``YYYY-MM``, or a file's one-off ``data-<hash>``)."""
    return Param(
        None,
        type=["null", "string"],
        pattern=r"^(\d{4}-(0[1-9]|1[0-2])|data-[0-9a-f]{12})$",
        title="Data interval (YYYY-MM)",
        description=description,
    )
