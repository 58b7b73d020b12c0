"""MLflow's accounts for fairgate: run once after the MLflow server is healthy; safe to run again.

    python deploy/mlflow_accounts.py /path/to/fairgate.yaml

The MLflow server runs its basic-auth app (``deploy/mlflow-auth.ini``): every
request needs a user, anonymous ones are refused (401), and a user may read
what nobody granted otherwise (``default_permission = READ``). Signed in as the
admin the server created on its first start, this script:

1. creates the registered model and the experiment named in ``fairgate.yaml``
   when they do not exist yet, so that nobody else can create them first and
   own them (the creator of a model gets MANAGE on it);
2. creates fairgate's service account, or sets its password when it exists
   (rotation: change it in the environment, run this again, restart the
   workers), never an admin, with MANAGE on that registered model and that
   experiment: only it can register versions and move ``champion``;
3. creates the reviewer account the same way, with READ on both: it can open
   every run, version, tag and artifact, and every write is refused (403).

Everything comes from the environment, as compose gives it (see .env.example):
``MLFLOW_TRACKING_URI``; ``MLFLOW_ADMIN_USER`` / ``MLFLOW_ADMIN_PASSWORD``;
``MLFLOW_SERVICE_USER`` / ``MLFLOW_SERVICE_PASSWORD``; ``MLFLOW_REVIEWER_USER``
/ ``MLFLOW_REVIEWER_PASSWORD``. No password is printed. Exit codes: 0 done,
2 bad input (a variable missing, the configuration unreadable, the admin's
credentials refused: one line), 3 crashed (the traceback follows).
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path

NEEDED = (
    "MLFLOW_TRACKING_URI",
    "MLFLOW_ADMIN_USER",
    "MLFLOW_ADMIN_PASSWORD",
    "MLFLOW_SERVICE_USER",
    "MLFLOW_SERVICE_PASSWORD",
    "MLFLOW_REVIEWER_USER",
    "MLFLOW_REVIEWER_PASSWORD",
)
SERVICE_PERMISSION, REVIEWER_PERMISSION = "MANAGE", "READ"
MODEL_DESCRIPTION = "Registered by fairgate: only its service account moves champion (through the gate)."
EXIT_DONE, EXIT_BAD_INPUT, EXIT_CRASHED = 0, 2, 3


class BadInput(Exception):
    """A missing variable, an unreadable configuration or refused admin credentials."""


def _say(text: str) -> None:
    sys.stdout.write(f"mlflow-accounts: {text}\n")
    sys.stdout.flush()


def _environment() -> dict[str, str]:
    missing = [name for name in NEEDED if not os.environ.get(name)]
    if missing:
        raise BadInput(f"set {', '.join(missing)} (see .env.example)")
    return {name: os.environ[name] for name in NEEDED}


def _names(config_file: Path) -> tuple[str, str]:
    """The registered model and the experiment of ``fairgate.yaml``, through fairgate's own validation."""
    from pipelines.core.config import load_config
    from pipelines.core.errors import BadInputError

    try:
        config = load_config(config_file)
    except BadInputError as e:
        raise BadInput(f"{config_file}: {e}") from e
    return config.registry.model_name, config.registry.experiment


def _ensure_user(auth, username: str, password: str) -> None:  # noqa: ANN001  (an AuthServiceClient)
    from mlflow.exceptions import MlflowException

    try:
        auth.create_user(username, password)
        _say(f"user {username} created")
    except MlflowException as e:
        if e.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
        auth.update_user_password(username, password)
        _say(f"user {username} exists: password set from the environment")
    if auth.get_user(username).is_admin:
        auth.update_user_admin(username, False)
        _say(f"user {username} is no longer an admin")


def _grant(auth, username: str, resource_type: str, resource_id: str, permission: str) -> None:  # noqa: ANN001
    """Give ``username`` exactly ``permission`` on one resource (an existing grant is replaced)."""
    from mlflow.exceptions import MlflowException

    try:
        auth.grant_user_permission(username, resource_type, resource_id, permission)
    except MlflowException as e:
        if e.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
        auth.revoke_user_permission(username, resource_type, resource_id)
        auth.grant_user_permission(username, resource_type, resource_id, permission)
    _say(f"{username}: {permission} on {resource_type} {resource_id}")


def _ensure_model_and_experiment(client, model_name: str, experiment_name: str) -> str:  # noqa: ANN001
    """Create the registered model and the experiment when missing; return the experiment's id."""
    from mlflow.exceptions import MlflowException

    try:
        client.create_registered_model(model_name, description=MODEL_DESCRIPTION)
        _say(f"registered model {model_name} created")
    except MlflowException as e:
        if e.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
        _say(f"registered model {model_name} exists")
    experiment = client.get_experiment_by_name(experiment_name)
    if experiment is None:
        experiment_id = str(client.create_experiment(experiment_name))
        _say(f"experiment {experiment_name} created (id {experiment_id})")
        return experiment_id
    _say(f"experiment {experiment_name} exists (id {experiment.experiment_id})")
    return str(experiment.experiment_id)


def set_up_accounts(config_file: Path) -> None:
    """Create or update the service and reviewer accounts and their grants (see the module's docstring)."""
    env = _environment()
    model_name, experiment_name = _names(config_file)
    # this process speaks as the admin; the variables are MLflow's own, read at every request
    os.environ["MLFLOW_TRACKING_USERNAME"] = env["MLFLOW_ADMIN_USER"]
    os.environ["MLFLOW_TRACKING_PASSWORD"] = env["MLFLOW_ADMIN_PASSWORD"]
    from mlflow.exceptions import MlflowException
    from mlflow.server.auth.client import AuthServiceClient
    from mlflow.tracking import MlflowClient

    uri = env["MLFLOW_TRACKING_URI"]
    auth, client = AuthServiceClient(uri), MlflowClient(tracking_uri=uri, registry_uri=uri)
    try:
        if not auth.get_user(env["MLFLOW_ADMIN_USER"]).is_admin:
            raise BadInput(f"MLFLOW_ADMIN_USER {env['MLFLOW_ADMIN_USER']} is not an admin of {uri}")
    except MlflowException as e:
        if e.error_code in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
            raise BadInput(f"{uri} refused the admin {env['MLFLOW_ADMIN_USER']} ({e.error_code})") from e
        raise
    experiment_id = _ensure_model_and_experiment(client, model_name, experiment_name)
    accounts = (
        (env["MLFLOW_SERVICE_USER"], env["MLFLOW_SERVICE_PASSWORD"], SERVICE_PERMISSION),
        (env["MLFLOW_REVIEWER_USER"], env["MLFLOW_REVIEWER_PASSWORD"], REVIEWER_PERMISSION),
    )
    if accounts[0][0] == accounts[1][0] or env["MLFLOW_ADMIN_USER"] in (accounts[0][0], accounts[1][0]):
        raise BadInput("MLFLOW_ADMIN_USER, MLFLOW_SERVICE_USER and MLFLOW_REVIEWER_USER must be three different users")
    for username, password, permission in accounts:
        _ensure_user(auth, username, password)
        _grant(auth, username, "registered_model", model_name, permission)
        _grant(auth, username, "experiment", experiment_id, permission)


def main(argv: list[str]) -> int:
    """Entry point: ``mlflow_accounts.py FAIRGATE_YAML``."""
    if len(argv) != 1:
        sys.stderr.write("mlflow-accounts: usage: mlflow_accounts.py FAIRGATE_YAML\n")
        return EXIT_BAD_INPUT
    try:
        set_up_accounts(Path(argv[0]))
    except BadInput as e:
        sys.stderr.write(f"mlflow-accounts: {e}\n")
        return EXIT_BAD_INPUT
    except Exception:  # noqa: BLE001  (a crash: its traceback, exit 3, never carry on)
        traceback.print_exc()
        return EXIT_CRASHED
    _say("done")
    return EXIT_DONE


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
