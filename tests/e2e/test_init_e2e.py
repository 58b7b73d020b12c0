"""End to end: German Credit from `fairgate init` to a promoted champion, with the reviewed config committed.

``tests/fixtures/german_credit.fairgate.yaml`` is what ``fairgate init german_credit.csv`` wrote, with the
review's edits (the placeholder reason of the one proposed exclusion replaced by the real one;
tests/code/test_init_config.py holds the fixture to a fresh draft).  Here it runs the governed retrain.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO, make_project
from tests.projects import champion_version, fairgate, versions

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REVIEWED = REPO / "tests" / "fixtures" / "german_credit.fairgate.yaml"
MODEL = "fairgate-german-credit"  # the registry name the draft guessed from the file name


def test_german_credit_from_init_to_a_promoted_champion(session_root: Path, german_credit_path: Path) -> None:
    project = make_project(session_root / "e2e-init-german")
    shutil.copyfile(REVIEWED, project / "fairgate.yaml")
    shutil.copyfile(german_credit_path, project / "german_credit.csv")
    result = fairgate(project, "run", "--interval", "2026-05")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "outcome: PROMOTED" in result.stdout
    for stage in ("ingest", "audit", "leakage", "split", "train", "evaluate", "gate", "register", "promote"):
        assert f"\n{stage:<10} passed" in result.stdout, result.stdout
    assert champion_version(project, MODEL) == "1" and len(versions(project, MODEL)) == 1
    # the reviewed exclusion is recorded on the run, with its reason
    assert "status_sex" in (project / "fairgate.yaml").read_text(encoding="utf-8")


def test_the_unreviewed_draft_never_starts_a_run(session_root: Path, german_credit_path: Path) -> None:
    project = make_project(session_root / "e2e-init-draft")
    (project / "fairgate.yaml").unlink()
    shutil.copyfile(german_credit_path, project / "german_credit.csv")
    drafted = fairgate(project, "init", "german_credit.csv")
    assert drafted.returncode == 0, drafted.stdout + drafted.stderr
    result = fairgate(project, "run", "--interval", "2026-05")
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip() == (
        "fairgate: fairgate.yaml: dataset.exclude_columns.status_sex: still the unreviewed placeholder fairgate "
        "init wrote ('REVIEW: why is status_sex excluded? (finding above)'): replace it with the reviewed decision"
    )
    assert not (project / "var").exists() and not (project / "mlflow" / "mlflow.db").exists()
