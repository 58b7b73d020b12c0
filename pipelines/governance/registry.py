"""The MLflow side: runs, the model registry, and the ``champion`` alias.

Conventions (DESIGN.md): one registered model per use case; every trained
candidate is registered, blocked ones too, with tags saying why; only the
gate, an approval or a rollback moves ``champion``; version tags carry the
``fairgate.`` prefix.  Every write here is idempotent on retry: a run, a
version or an alias move already made for the same Airflow run is found and
reused, never made twice.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import mlflow
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from pipelines.core.errors import BadInputError
from pipelines.core.project import ProjectPaths, tracking_uri
from pipelines.governance import tags
from pipelines.governance.mlflow_sign_in import check_sign_in

logger = logging.getLogger(__name__)


ERR_NO_VERSION = "model {name!r} has no version {version}"


@dataclass(frozen=True)
class AliasMove:
    """One move of the ``champion`` alias, as recorded in tags."""

    action: str
    from_version: str | None
    to_version: str
    actor: str
    reason: str
    airflow_run_id: str
    at: str = ""
    already_done: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "action": self.action,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "actor": self.actor,
            "reason": self.reason,
            "airflow_run_id": self.airflow_run_id,
            "at": self.at,
            "already_done": self.already_done,
        }


def connect(paths: ProjectPaths) -> MlflowClient:
    """Point MLflow at the project's store and return a client.

    On a tracking server (``http(s)://``), the credentials of the environment
    are checked once per process: a refusal is a ``BadInputError`` naming the
    user, never a traceback in the middle of a stage.
    """
    uri = tracking_uri(paths)
    if uri.startswith("sqlite:///"):
        paths.mlflow_artifacts.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    if uri.startswith(("http://", "https://")):
        check_sign_in(client, uri)
    return client


# the experiment's kind: MLflow 3's UI opens a "custom model development" experiment on its runs, not on the
# GenAI overview with empty trace charts
EXPERIMENT_KIND_TAG, EXPERIMENT_KIND = "mlflow.experimentKind", "custom_model_development"


def ensure_experiment(client: MlflowClient, paths: ProjectPaths, name: str) -> str:
    """Return the experiment id, creating it with the project's artifact root as a machine-learning experiment."""
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        if experiment.tags.get(EXPERIMENT_KIND_TAG) != EXPERIMENT_KIND:
            client.set_experiment_tag(experiment.experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND)
        return str(experiment.experiment_id)
    location = None
    if tracking_uri(paths).startswith("sqlite:///"):
        location = paths.mlflow_artifacts.as_uri()
    return str(client.create_experiment(name, artifact_location=location, tags={EXPERIMENT_KIND_TAG: EXPERIMENT_KIND}))


def open_run(client: MlflowClient, experiment_id: str, airflow_run_id: str, run_tags: dict[str, str]) -> str:
    """Return the MLflow run of this Airflow run, creating it once."""
    existing = client.search_runs(
        [experiment_id], filter_string=f"tags.`{tags.AIRFLOW_RUN_ID}` = '{airflow_run_id}'", max_results=1
    )
    if existing:
        return str(existing[0].info.run_id)
    run = client.create_run(
        experiment_id, run_name=airflow_run_id, tags={tags.AIRFLOW_RUN_ID: airflow_run_id, **run_tags}
    )
    return str(run.info.run_id)


def _not_found(error: MlflowException) -> bool:
    return error.error_code == "RESOURCE_DOES_NOT_EXIST"


def champion(client: MlflowClient, model_name: str, alias: str) -> ModelVersion | None:
    """The version the alias points at, or None when the model or the alias does not exist yet."""
    try:
        model = client.get_registered_model(model_name)
    except MlflowException as e:
        if _not_found(e):
            return None
        raise
    version = model.aliases.get(alias)
    if version is None:
        return None
    return client.get_model_version(model_name, str(version))


def get_version(client: MlflowClient, model_name: str, version: str) -> ModelVersion:
    """One model version; ``BadInputError`` when it does not exist."""
    try:
        return client.get_model_version(model_name, str(version))
    except MlflowException as e:
        if _not_found(e):
            raise BadInputError(ERR_NO_VERSION.format(name=model_name, version=version)) from e
        raise


def tag_value(text: str) -> str:
    """A tag value within MLflow's size limit, marked when shortened (the full text is an artifact)."""
    if len(text) <= tags.MAX_TAG_CHARS:
        return text
    marker = " … (shortened; the full text is in the run's artifacts)"
    return text[: tags.MAX_TAG_CHARS - len(marker)] + marker


def register_candidate(
    client: MlflowClient,
    model_name: str,
    model_uri: str,
    run_id: str,
    airflow_run_id: str,
    version_tags: dict[str, str],
) -> str:
    """Register the candidate once per Airflow run and set its tags; return its version."""
    try:
        client.create_registered_model(model_name)
    except MlflowException as e:
        if e.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    existing = [
        v
        for v in client.search_model_versions(f"name = '{model_name}'")
        if v.tags.get(tags.AIRFLOW_RUN_ID) == airflow_run_id
    ]
    if existing:
        version = str(existing[0].version)
    else:
        # a tracking server accepts a logged model's models:/m-<id> source only with its model id
        model_id = model_uri.removeprefix("models:/") if model_uri.startswith("models:/m-") else None
        created = client.create_model_version(
            model_name, model_uri, run_id=run_id, tags={tags.AIRFLOW_RUN_ID: airflow_run_id}, model_id=model_id
        )
        version = str(created.version)
    for key, value in version_tags.items():
        client.set_model_version_tag(model_name, version, key, tag_value(value))
    return version


def alias_history(client: MlflowClient, model_name: str) -> list[dict[str, Any]]:
    """Every recorded move of the alias, oldest first (kept as a registered-model tag)."""
    try:
        model = client.get_registered_model(model_name)
    except MlflowException as e:
        if _not_found(e):
            return []
        raise
    raw = model.tags.get(tags.ALIAS_HISTORY)
    return list(json.loads(raw)) if raw else []
