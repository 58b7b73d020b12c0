"""``fairgate score --interval``: the verified champion decides one interval's applications, recorded once.

One real ``fairgate run`` promotes version 1 of a small generated project;
scoring then writes exactly the gate's decisions for the interval's rows,
refuses a champion whose files changed, and refuses to score without one.
"""

from __future__ import annotations

import json
from pathlib import Path

import mlflow.pyfunc
import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest

from pipelines.core.config import load_config
from pipelines.core.project import ProjectPaths
from pipelines.data import generator
from pipelines.governance.records import version_entries
from pipelines.governance.tags import AWAITING_APPROVAL
from pipelines.model.metrics import approve_decisions
from tests.conftest import make_project
from tests.projects import MODEL, champion_version, client_for, fairgate, versions

INTERVAL = "2026-01"


@pytest.fixture(scope="module")
def project(session_root: Path) -> Path:
    root = make_project(session_root / "score-project", **{"generator.rows_per_month": 600})
    result = fairgate(root, "run", "--interval", INTERVAL)
    assert result.returncode == 0, result.stdout + result.stderr
    assert champion_version(root) == "1"
    return root


def _scorings(project: Path) -> list:
    paths = ProjectPaths(project)
    return [e for e in version_entries(paths, load_config(paths.config_file)) if e.kind == "scoring"]


def _model_folder(project: Path, number: str | None = None) -> Path:
    """Where the registry stores a version's model files, the champion's by default (embedded store: a folder)."""
    client = client_for(project)
    version = client.get_model_version(MODEL, number or champion_version(project))
    location = client.get_logged_model(version.source.removeprefix("models:/")).artifact_location
    return Path(location.removeprefix("file://"))


def test_score_writes_the_gate_decisions_of_the_champion_once(project: Path) -> None:
    first = fairgate(project, "score", "--interval", INTERVAL)
    assert first.returncode == 0, first.stdout + first.stderr
    written = project / "var" / "scores" / f"interval={INTERVAL}" / "champion-v1.parquet"
    decisions = pd.read_parquet(written)

    # the interval's applications, as retrain ingests them: one row per application, in order
    config = load_config(project / "fairgate.yaml")
    month = generator.shift_month(INTERVAL, -config.generator.label_lag_months)
    applications = generator.generate_month(month, config.generator, config.generator.hazards).frame
    assert decisions["application_id"].tolist() == applications["application_id"].tolist()

    # exactly the gate's decision rule on the champion's own predict_proba, loaded by alias
    client_for(project)  # the project's own MLflow store
    model = mlflow.sklearn.load_model(f"models:/{MODEL}@champion")
    column = list(model.classes_).index(config.dataset.positive_label)
    p_positive = model.predict_proba(applications[list(model.feature_names_in_)])[:, column]
    assert np.array_equal(decisions["p_positive"].to_numpy(), p_positive)
    # served as `mlflow models serve -m models:/<name>@champion` serves it (pyfunc): the same probabilities
    served = mlflow.pyfunc.load_model(f"models:/{MODEL}@champion").predict(applications[list(model.feature_names_in_)])
    assert np.array_equal(np.asarray(served)[:, column], p_positive)
    favorable = approve_decisions(p_positive, config.decision, config.dataset.positive_is_favorable)
    assert np.array_equal(decisions["favorable"].to_numpy(), favorable)
    assert 0 < favorable.sum() < len(favorable)  # a threshold that decides, not a constant
    threshold = config.decision.positive_threshold(config.dataset.positive_is_favorable)
    assert set(decisions["positive_threshold"]) == {threshold}
    assert set(decisions["model_version"]) == {"1"}

    # one scoring entry, naming the same version, digest, threshold and data as the file
    (entry,) = _scorings(project)
    assert str(entry.model_version) == "1" and entry.payload["interval"] == INTERVAL
    assert entry.payload["rows"] == len(applications) and entry.payload["favorable"] == int(favorable.sum())
    assert {entry.payload["model_digest"]} == set(decisions["model_digest"])
    assert {entry.payload["data_hash"]} == set(decisions["data_hash"])
    assert entry.payload["positive_threshold"] == threshold

    # the same call again: the same file, no second entry
    before = written.read_bytes()
    again = fairgate(project, "score", "--interval", INTERVAL)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "already recorded" in again.stdout
    assert written.read_bytes() == before
    assert len(_scorings(project)) == 1


def test_the_score_dag_makes_the_same_call(project: Path) -> None:
    """The DAG's task and the command are one event: same file, one entry between them."""
    interval = "2026-03"
    by_hand = fairgate(project, "score", "--interval", interval)
    assert by_hand.returncode == 0, by_hand.stdout + by_hand.stderr
    written = project / "var" / "scores" / f"interval={interval}" / "champion-v1.parquet"
    before = written.read_bytes()
    written.unlink()  # the DAG's task must write it again, byte for byte
    scheduled = fairgate(project, "airflow", "dags", "test", "score", "-c", json.dumps({"interval": interval}))
    assert scheduled.returncode == 0, scheduled.stdout[-3000:] + scheduled.stderr[-3000:]
    assert written.read_bytes() == before
    assert [e.payload["interval"] for e in _scorings(project)].count(interval) == 1


def test_a_champion_whose_files_changed_scores_nothing(project: Path) -> None:
    entries = len(_scorings(project))
    pickled = _model_folder(project) / "model.pkl"
    original = pickled.read_bytes()
    pickled.write_bytes(original + b"\0")
    try:
        result = fairgate(project, "score", "--interval", "2026-02")
    finally:
        pickled.write_bytes(original)
    assert result.returncode == 1, result.stdout + result.stderr
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("fairgate:")]
    assert "do not match the checksums recorded at registration: model.pkl changed" in line
    assert not (project / "var" / "scores" / "interval=2026-02").exists()
    assert len(_scorings(project)) == entries
    # the same files put back: scoring works again (the refusal was the change, nothing else)
    assert fairgate(project, "score", "--interval", "2026-02").returncode == 0


def test_a_candidate_waiting_for_approval_is_scored_in_shadow_beside_the_champion(project: Path) -> None:
    assert fairgate(project, "freeze", "--reason", "scoring in shadow first").returncode == 0
    run = fairgate(project, "run", "--interval", "2026-02")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    waiting = [str(v.version) for v in versions(project) if v.tags.get(AWAITING_APPROVAL) == "true"]
    assert waiting == ["2"] and champion_version(project) == "1"

    interval = "2026-05"
    result = fairgate(project, "score", "--interval", interval)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "in shadow (never served): version 2" in result.stdout
    folder = project / "var" / "scores" / f"interval={interval}"
    champion = pd.read_parquet(folder / "champion-v1.parquet")
    shadow = pd.read_parquet(folder / "shadow-v2.parquet")
    assert shadow["application_id"].tolist() == champion["application_id"].tolist()
    assert set(shadow["model_version"]) == {"2"} and set(champion["model_version"]) == {"1"}

    config = load_config(project / "fairgate.yaml")
    month = generator.shift_month(interval, -config.generator.label_lag_months)
    applications = generator.generate_month(month, config.generator, config.generator.hazards).frame
    client_for(project)
    candidate = mlflow.sklearn.load_model(f"models:/{MODEL}/2")
    column = list(candidate.classes_).index(config.dataset.positive_label)
    p_positive = candidate.predict_proba(applications[list(candidate.feature_names_in_)])[:, column]
    assert np.array_equal(shadow["p_positive"].to_numpy(), p_positive)
    assert not np.array_equal(shadow["p_positive"].to_numpy(), champion["p_positive"].to_numpy())

    recorded = {e.payload["role"]: e for e in _scorings(project) if e.payload["interval"] == interval}
    assert set(recorded) == {"champion", "shadow"}
    assert recorded["shadow"].payload["served"] is False and str(recorded["shadow"].model_version) == "2"
    assert recorded["champion"].payload["served"] is True
    # a second call: nothing appended for either
    count = len(_scorings(project))
    assert fairgate(project, "score", "--interval", interval).returncode == 0
    assert len(_scorings(project)) == count

    # a waiting candidate whose files changed refuses the whole scoring: an integrity problem is never skipped
    pickled = _model_folder(project, "2") / "model.pkl"
    original = pickled.read_bytes()
    pickled.write_bytes(original + b"\0")
    try:
        refused = fairgate(project, "score", "--interval", "2026-06")
    finally:
        pickled.write_bytes(original)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "version 2 of 'fairgate-credit-default': the model's files do not match" in refused.stderr
    assert not (project / "var" / "scores" / "interval=2026-06").exists()
    assert len(_scorings(project)) == count


def test_no_champion_no_scoring(session_root: Path) -> None:
    root = make_project(session_root / "score-no-champion")
    result = fairgate(root, "score", "--interval", INTERVAL)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "fairgate: blocked at score: no champion to score with: 'fairgate-credit-default' has no version "
        "under the alias 'champion'"
    )
    assert not (root / "var" / "scores").exists()
