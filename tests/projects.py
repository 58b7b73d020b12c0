"""Driving a test project from outside, as a user would: the ``fairgate`` CLI and its registry."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

MODEL = "fairgate-credit-default"

# fairgate.yaml changes of a project whose dataset is the German Credit file (german_credit.csv in the project)
GERMAN_FILE_PROJECT: dict[str, object] = {
    "dataset.source": "file",
    "dataset.path": "german_credit.csv",
    "dataset.target": "bad_credit",
    "dataset.time_column": None,
    "dataset.id_columns": [],
    "dataset.sensitive": ["sex"],
    # sex was decoded from status_sex: keeping it would hand the model the attribute
    "dataset.exclude_columns": {"status_sex": "encodes sex, the sensitive attribute"},
}


def fairgate(project: Path, *args: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``fairgate ARGS`` in ``project`` and capture its output."""
    # mlflow.set_tracking_uri() in this test process exports MLFLOW_TRACKING_URI: never pass it on,
    # or a second project would read the first project's store
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["FAIRGATE_HOME"] = str(project)
    env.update(extra_env or {})
    return subprocess.run(
        [sys.executable, "-m", "pipelines.flows.cli", *args],
        cwd=project, env=env, capture_output=True, text=True, timeout=900,
    )


def client_for(project: Path):
    """An MLflow client on the project's own store."""
    from pipelines.core.project import ProjectPaths
    from pipelines.governance import registry

    return registry.connect(ProjectPaths(project))


def champion_version(project: Path, model: str = MODEL) -> str | None:
    """The version ``champion`` points at, or None."""
    from pipelines.governance import registry
    current = registry.champion(client_for(project), model, "champion")
    return None if current is None else str(current.version)


def versions(project: Path, model: str = MODEL) -> list:
    """Every registered version, oldest first."""
    return sorted(client_for(project).search_model_versions(f"name = '{model}'"), key=lambda v: int(v.version))


def start_fairgate(
    project: Path, *args: str, output: Path, extra_env: dict[str, str] | None = None
) -> subprocess.Popen:
    """Start ``fairgate ARGS`` in ``project`` without waiting; stdout and stderr go to ``output``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["FAIRGATE_HOME"] = str(project)
    env.update(extra_env or {})
    with output.open("w", encoding="utf-8") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", "pipelines.flows.cli", *args],
            cwd=project, env=env, stdout=handle, stderr=subprocess.STDOUT, text=True,
        )


def wait_for(condition: Callable[[], object], what: str, deadline: float = 600.0, every: float = 0.2) -> object:
    """Poll ``condition`` until it is truthy and return it; fail naming ``what`` once the bounded deadline passed."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(every)
    pytest.fail(f"not within {deadline:g} s: {what}")
