"""Celery configuration of fairgate's Airflow workers: Airflow's own, with the pipeline imported once per worker.

Point a worker at it with two environment variables (compose sets them on the
``airflow-worker`` service only; the integration test sets them on its worker)::

    PYTHONPATH=/opt/fairgate/deploy
    AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS=fairgate_celery.CELERY_CONFIG

Each Airflow task runs in a process forked from a worker process. The stages
import MLflow, scikit-learn, pandas, fairlearn and Great Expectations inside
their task bodies (DAG files stay light to parse), which costs several seconds
per task when every fork imports them again. Importing every ``pipelines``
module here, once, before Celery forks its pool, lets every task start with
them loaded: on the 2-core test machine a ``retrain`` run took about 45 s
instead of 100 to 130 s.

Nothing else changes: broker, result backend and every other setting are
Airflow's defaults, read from the same ``AIRFLOW__CELERY__*`` variables. A
module that cannot be imported stops the worker at start-up with its error,
never a slower worker that seems to work.
"""

from __future__ import annotations

import importlib
import pkgutil

import mlflow.artifacts
import mlflow.sklearn
from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

import pipelines

PRELOADED = (
    mlflow.artifacts.__name__,
    mlflow.sklearn.__name__,
    *(
        importlib.import_module(module.name).__name__
        for module in pkgutil.walk_packages(pipelines.__path__, prefix="pipelines.")
    ),
)

CELERY_CONFIG = DEFAULT_CELERY_CONFIG
