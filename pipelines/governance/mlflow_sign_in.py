"""Credentials for an MLflow server with authentication, checked once per process.

Kept apart from :mod:`pipelines.governance.registry`: the modules that decide
and move the champion read no environment variable (a test holds them to it),
and the credentials MLflow's client reads from the environment decide nothing.
"""

from __future__ import annotations

import hashlib
import os

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from pipelines.core.errors import BadInputError

ERR_MLFLOW_REFUSED = (
    "the MLflow server at {uri} refused {who} (HTTP 401 {code}): set MLFLOW_TRACKING_USERNAME and "
    "MLFLOW_TRACKING_PASSWORD to fairgate's service account (docs/production.md, MLflow accounts)"
)
_signed_in: set[tuple[str, str, str]] = set()


def check_sign_in(client: MlflowClient, uri: str) -> None:
    """Refuse, in one line, credentials an MLflow server with authentication does not accept.

    MLflow's client reads ``MLFLOW_TRACKING_USERNAME`` and ``MLFLOW_TRACKING_PASSWORD`` at every
    request; a server running its basic-auth app answers 401 to a missing or wrong pair. That is
    bad input (exit 2, nothing written, a retry cannot help), found here with one cheap read
    before any write, once per process and pair. A 403 later (a user without the grant) is not
    caught here: the refusal surfaces where the write was attempted.
    """
    username = os.environ.get("MLFLOW_TRACKING_USERNAME", "")
    digest = hashlib.sha256(os.environ.get("MLFLOW_TRACKING_PASSWORD", "").encode()).hexdigest()
    if (uri, username, digest) in _signed_in:
        return
    try:
        client.search_experiments(max_results=1)
    except MlflowException as e:
        if e.error_code == "UNAUTHENTICATED":
            who = f"user {username!r}" if username else "a request without credentials (no MLFLOW_TRACKING_USERNAME)"
            raise BadInputError(ERR_MLFLOW_REFUSED.format(uri=uri, who=who, code=e.error_code)) from e
        raise
    _signed_in.add((uri, username, digest))
