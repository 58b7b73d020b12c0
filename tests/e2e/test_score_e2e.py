"""``fairgate score --interval``: the verified champion decides one interval's applications, recorded once.

One real ``fairgate run`` promotes version 1 of a small generated project;
scoring then writes exactly the gate's decisions for the interval's rows,
refuses a champion whose files changed, and refuses to score without one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import mlflow.pyfunc
import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow.models import Model

from pipelines.core.config import load_config
from pipelines.core.project import ProjectPaths
from pipelines.data import generator
from pipelines.governance.decision_record import blocked_only_on_non_regression, gate_entry
from pipelines.governance.records import open_audit_log, version_entries
from pipelines.governance.tags import AWAITING_APPROVAL
from pipelines.model.metrics import approve_decisions
from tests.conftest import make_project
from tests.projects import MODEL, champion_version, client_for, fairgate, versions

INTERVAL = "2026-01"
GATED_THRESHOLD = 0.1729384756102938  # decision.threshold at the gate: every digit must reach the decisions


@pytest.fixture(scope="module")
def project(session_root: Path) -> Path:
    root = make_project(
        session_root / "score-project", **{"generator.rows_per_month": 600, "decision.threshold": GATED_THRESHOLD}
    )
    result = fairgate(root, "run", "--interval", INTERVAL)
    assert result.returncode == 0, result.stdout + result.stderr
    assert champion_version(root) == "1"
    return root


def _scorings(project: Path) -> list:
    paths = ProjectPaths(project)
    return [e for e in version_entries(paths, load_config(paths.config_file)) if e.kind == "scoring"]


@contextmanager
def _config_changed(project: Path, **changes: object) -> Iterator[None]:
    """fairgate.yaml with dotted keys changed, as a user edits it; put back afterwards."""
    path = project / "fairgate.yaml"
    original = path.read_text(encoding="utf-8")
    raw = yaml.safe_load(original)
    for dotted, value in changes.items():
        section = raw
        *parents, leaf = dotted.split(".")
        for part in parents:
            section = section[part]
        section[leaf] = value
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    try:
        yield
    finally:
        path.write_text(original, encoding="utf-8")


def _applications(project: Path, interval: str) -> pd.DataFrame:
    config = load_config(project / "fairgate.yaml")
    month = generator.shift_month(interval, -config.generator.label_lag_months)
    return generator.generate_month(month, config.generator, config.generator.hazards).frame


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


def test_the_registered_model_carries_its_example_and_a_probability_schema(project: Path) -> None:
    """What `mlflow models serve` answers is described: one float64 column per class label, classes_ order."""
    client_for(project)
    uri = f"models:/{MODEL}@champion"
    local = mlflow.artifacts.download_artifacts(uri)
    metadata = Model.load(local)
    model = mlflow.sklearn.load_model(uri)
    outputs = metadata.signature.outputs
    assert outputs.input_names() == [str(label) for label in model.classes_] == ["0", "1"]
    assert [spec.type.name for spec in outputs.inputs] == ["double", "double"]
    assert not outputs.is_tensor_spec()
    assert metadata.signature.inputs.input_names() == list(model.feature_names_in_)
    assert "gender" not in metadata.signature.inputs.input_names()  # no sensitive column is needed to predict

    example = metadata.load_input_example(local)
    assert isinstance(example, pd.DataFrame) and list(example.columns) == list(model.feature_names_in_)
    assert len(example) == 3
    # not an applicant's row: the training quartiles of each number (values the column holds)
    training = pd.concat(
        [pd.read_parquet(f) for f in sorted((project / "data" / "batches").glob("*.parquet"))], ignore_index=True
    )
    assert set(example["income"]) <= set(training["income"])
    served = mlflow.pyfunc.load_model(uri).predict(example)
    assert np.array_equal(np.asarray(served), model.predict_proba(example))  # exactly, not approximately
    assert np.asarray(served).dtype == np.float64


def test_decisions_use_the_recorded_threshold_when_fairgate_yaml_is_loosened_later(project: Path) -> None:
    interval = "2026-04"
    before = fairgate(project, "score", "--interval", interval)
    assert before.returncode == 0, before.stdout + before.stderr
    written = project / "var" / "scores" / f"interval={interval}" / "champion-v1.parquet"
    first = written.read_bytes()
    with _config_changed(project, **{"decision.threshold": 0.5}):  # refuse fewer applicants, after promotion
        loosened = fairgate(project, "score", "--interval", interval)
        later = fairgate(project, "score", "--interval", "2026-07")
    assert loosened.returncode == 0 and later.returncode == 0, loosened.stderr + later.stderr
    # the same decisions, byte for byte, one entry: the change decided nothing ...
    assert written.read_bytes() == first and "already recorded" in loosened.stdout
    assert [e.payload["interval"] for e in _scorings(project)].count(interval) == 1
    # ... and it is reported, with both thresholds
    note = (
        f"champion version 1: decision policy: fairgate.yaml now gives positive_threshold 0.5, the model was "
        f"gated with {GATED_THRESHOLD!r}"
    )
    assert note in loosened.stdout and note in later.stdout
    decisions = pd.read_parquet(project / "var" / "scores" / "interval=2026-07" / "champion-v1.parquet")
    assert set(decisions["positive_threshold"]) == {GATED_THRESHOLD}  # exactly the recorded float
    p_positive = decisions["p_positive"].to_numpy()
    assert np.array_equal(decisions["favorable"].to_numpy(), p_positive <= GATED_THRESHOLD)
    assert (p_positive <= 0.5).sum() > (p_positive <= GATED_THRESHOLD).sum()  # 0.5 would have decided otherwise
    (entry,) = [e for e in _scorings(project) if e.payload["interval"] == "2026-07"]
    assert entry.payload["decision_policy"]["positive_threshold"] == GATED_THRESHOLD
    assert entry.payload["positive_threshold"] == GATED_THRESHOLD
    assert "policy_differences" not in entry.payload  # reported, not recorded: the same event whatever the file says


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


def _recorded_decision(project: Path, number: str) -> dict:
    """The gate decision the audit log holds for a version (its gate_decision entry, found by its run)."""
    paths = ProjectPaths(project)
    with open_audit_log(paths, load_config(paths.config_file)) as log:
        entries = log.entries()
    entry = gate_entry(entries, client_for(project).get_model_version(MODEL, number).run_id)
    assert entry is not None
    return entry.payload["decision"]


def test_the_last_candidate_blocked_only_on_non_regression_is_scored_in_shadow(project: Path) -> None:
    # every non-regression tolerance at zero: a candidate slightly worse than champion 1 anywhere is blocked
    zero = {key: 0.0 for key in load_config(project / "fairgate.yaml").gate.non_regression}
    with _config_changed(project, **{"gate.non_regression": zero}):
        run = fairgate(project, "run", "--interval", "2026-03")
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-3000:]
    assert [str(v.version) for v in versions(project)] == ["1", "2", "3"] and champion_version(project) == "1"
    assert blocked_only_on_non_regression(_recorded_decision(project, "3"))

    interval = "2026-08"
    result = fairgate(project, "score", "--interval", interval)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "in shadow (never served): version 3, blocked only on non-regression" in result.stdout
    folder = project / "var" / "scores" / f"interval={interval}"
    assert sorted(p.name for p in folder.iterdir()) == ["champion-v1.parquet", "shadow-v2.parquet", "shadow-v3.parquet"]
    shadow = pd.read_parquet(folder / "shadow-v3.parquet")
    applications = _applications(project, interval)
    client_for(project)
    candidate = mlflow.sklearn.load_model(f"models:/{MODEL}/3")
    p_positive = candidate.predict_proba(applications[list(candidate.feature_names_in_)])[:, 1]
    assert np.array_equal(shadow["p_positive"].to_numpy(), p_positive)
    assert np.array_equal(shadow["favorable"].to_numpy(), p_positive <= GATED_THRESHOLD)
    (entry,) = [e for e in _scorings(project) if e.payload["interval"] == interval and str(e.model_version) == "3"]
    assert entry.payload["role"] == "shadow" and entry.payload["served"] is False
    assert entry.payload["shadow_reason"] == "blocked only on non-regression"

    # the same integrity checks as a waiting candidate: changed files refuse the whole scoring
    count = len(_scorings(project))
    pickled = _model_folder(project, "3") / "model.pkl"
    original = pickled.read_bytes()
    pickled.write_bytes(original + b"\0")
    try:
        refused = fairgate(project, "score", "--interval", "2026-09")
    finally:
        pickled.write_bytes(original)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "version 3 of 'fairgate-credit-default': the model's files do not match" in refused.stderr
    assert not (project / "var" / "scores" / "interval=2026-09").exists()
    assert len(_scorings(project)) == count


def test_a_candidate_blocked_on_an_absolute_ethical_check_is_never_scored_in_shadow(project: Path) -> None:
    with _config_changed(project, **{"gate.ethical.demographic_parity_ratio": {"min": 0.9999}}):
        run = fairgate(project, "run", "--interval", "2026-04")
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-3000:]
    decision = _recorded_decision(project, "4")
    failed = [(c["gate"], c["kind"]) for c in decision["checks"] if not c["passed"]]
    assert ("ethical", "absolute") in failed and not blocked_only_on_non_regression(decision)

    interval = "2026-10"
    result = fairgate(project, "score", "--interval", interval)
    assert result.returncode == 0, result.stdout + result.stderr
    folder = project / "var" / "scores" / f"interval={interval}"
    # version 3 stays the last candidate blocked only on non-regression; version 4 is never scored
    assert sorted(p.name for p in folder.iterdir()) == ["champion-v1.parquet", "shadow-v2.parquet", "shadow-v3.parquet"]
    assert "version 4" not in result.stdout
    assert not [e for e in _scorings(project) if str(e.model_version) == "4"]


def test_no_champion_no_scoring(session_root: Path) -> None:
    root = make_project(session_root / "score-no-champion")
    result = fairgate(root, "score", "--interval", INTERVAL)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "fairgate: blocked at score: no champion to score with: 'fairgate-credit-default' has no version "
        "under the alias 'champion'"
    )
    assert not (root / "var" / "scores").exists()
