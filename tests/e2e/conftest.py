"""The first governed retraining of the end-to-end project, shared by the modules that start from it.

A real ``fairgate run`` through Airflow costs tens of seconds, so it is made
once per session: the browser module reads the promoted version (it changes
nothing), then ``test_retrain_e2e`` carries the same project on through the
life of a deployment, its first test checking this run's output.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from tests.conftest import make_project
from tests.projects import fairgate


@dataclass(frozen=True)
class FirstRun:
    """The e2e project and the output of its first run (interval 2026-01)."""

    project: Path
    result: CompletedProcess


@pytest.fixture(scope="session")
def first_run(session_root: Path) -> FirstRun:
    project = make_project(session_root / "e2e-project", **{"generator.rows_per_month": 600})
    return FirstRun(project, fairgate(project, "run", "--interval", "2026-01"))
