"""End to end: real `retrain` and `rollback` DAG runs through Airflow in a temporary project.

One project (its own AIRFLOW_HOME, MLflow store, DVC remote) is shared by the
tests of this module, which run in file order, like the life of a deployment:
a first champion, hazards that must be blocked, new data that is gated against
the champion, a gate refusal, rollbacks.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import make_project
from tests.projects import GERMAN_FILE_PROJECT, MODEL, champion_version, client_for, fairgate, versions

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

LINEAGE_TAGS = (
    "fairgate.data_hash",
    "fairgate.git_commit",
    "fairgate.git_dirty",
    "fairgate.config_hash",
    "fairgate.dag_id",
    "fairgate.airflow_run_id",
    "fairgate.data_interval",
    "fairgate.beta_factor",
    "fairgate.class_weights",
    "fairgate.class_weights_hex",
    "fairgate.sample_weight_sha256",
    "fairgate.weights_check",
    "fairgate.gate.decision",
    "fairgate.gate.technical",
    "fairgate.gate.ethical",
)


@pytest.fixture(scope="module")
def project(first_run) -> Path:
    return first_run.project


def test_first_run_creates_the_data_version_and_promotes_a_champion(project, first_run):
    result = first_run.result
    assert result.returncode == 0, result.stdout + result.stderr
    assert "outcome: PROMOTED" in result.stdout
    assert "history rebuilt from the seeded generator" in result.stdout
    assert "first data version created" in result.stdout
    summary_at = result.stdout.index("fairgate retrain  run ")
    for stage in ("ingest", "audit", "leakage", "split", "train", "evaluate", "gate", "register", "promote"):
        assert f"\n{stage:<10} passed" in result.stdout, stage
        assert result.stdout.index(f"\n  {stage}: passed in ") < summary_at, stage  # printed while it ran
    assert champion_version(project) == "1"
    (version,) = versions(project)
    for tag in LINEAGE_TAGS:
        assert version.tags.get(tag), f"lineage tag {tag} missing"
    pointer = yaml.safe_load((project / "data.dvc").read_text())
    assert version.tags["fairgate.data_hash"] == pointer["outs"][0]["md5"]
    assert version.tags["fairgate.weights_check"].startswith("passed: ")
    weights = json.loads(version.tags["fairgate.class_weights"])
    assert set(weights) == {"0", "1"}
    assert all(float(w).hex() == float.fromhex(float(w).hex()).hex() for w in weights.values())
    # the data version is in the DVC remote: a clean checkout can rebuild data/
    status = subprocess.run(
        [sys.executable, "-m", "dvc", "status", "--cloud", "data.dvc"], cwd=project, capture_output=True, text=True
    )
    assert status.returncode == 0 and "new" not in status.stdout, status.stdout
    run = client_for(project).get_run(version.tags["fairgate.mlflow_run_id"])
    for tag in ("fairgate.data_hash", "fairgate.git_commit", "fairgate.config_hash", "fairgate.dag_id",
                "fairgate.data_interval", "fairgate.beta_factor", "fairgate.class_weights", "fairgate.gate.decision"):
        assert run.data.tags.get(tag), f"run tag {tag} missing"  # the lineage is on the run as well
    assert run.data.tags["fairgate.git_commit"] == version.tags["fairgate.git_commit"]
    families = {key.split(".")[0] for key in run.data.metrics}
    assert {"technical", "business", "ethical"} <= families
    artifacts = {
        a.path
        for folder in ("audit", "evaluation", "gate")
        for a in client_for(project).list_artifacts(run.info.run_id, folder)
    }
    assert {"audit/audit_report.html", "evaluation/per_group.csv", "evaluation/per_group.png"} <= artifacts
    assert "gate/gate_decision.json" in artifacts
    # the default mitigation, on the version and with what it cost against the unmitigated twin
    assert json.loads(version.tags["fairgate.mitigation"])["method"] == "exponentiated_gradient"
    assert {"evaluation/mitigation_cost.md", "evaluation/mitigation_cost.json"} <= artifacts
    assert "mitigation.cost.technical.roc_auc" in run.data.metrics
    assert "mitigation.unmitigated.ethical.gender.demographic_parity_ratio" in run.data.metrics
    # the datasets MLflow's dataset panel shows: training and holdout, from the DVC version of data/
    inputs = {item.dataset.name: item for item in run.inputs.dataset_inputs}
    assert set(inputs) == {"training", "holdout"}
    for item in inputs.values():
        source = json.loads(item.dataset.source)
        assert item.dataset.source_type == "dvc" and source["md5"] == version.tags["fairgate.data_hash"]
        assert item.dataset.digest and {t.key for t in item.tags} >= {"fairgate.rows", "fairgate.file_sha256"}
        # fairgate's own digest (the split file's SHA-256), a schema and a profile, as from_pandas gave them
        input_tags = {t.key: t.value for t in item.tags}
        assert input_tags["fairgate.file_sha256"].startswith(item.dataset.digest)
        assert json.loads(item.dataset.profile)["num_rows"] == int(input_tags["fairgate.rows"])
        assert {c["name"] for c in json.loads(item.dataset.schema)["mlflow_colspec"]} >= {"default", "gender"}
    # the run dataset (data/ read once, for the leakage checks and the split) is gone once the split is written
    assert not list((project / "var" / "runs").glob("*/dataset/*.arrow"))
    # the model's files, checksummed at registration; the model card (Markdown, HTML, facts)
    assert len(version.tags["fairgate.model_sha256"]) == 64 and "MLmodel" in version.tags["fairgate.model_files_sha256"]
    cards = {a.path for a in client_for(project).list_artifacts(run.info.run_id, "model_card")}
    assert cards == {"model_card/model_card.md", "model_card/model_card.html", "model_card/model_card.json"}
    assert version.tags["fairgate.model_card"].endswith("model_card/model_card.md")


def test_the_run_s_execution_api_built_the_router_of_the_task_sdk_s_version_only(first_run):
    """fairgate's ``dags test`` hook ran in the run's Airflow process (deploy/embedded/fairgate_dags_test.py)."""
    log = re.search(r"Airflow log of this run: (\S+)", first_run.result.stdout)
    assert log is not None, first_run.result.stdout
    text = Path(log[1]).read_text(encoding="utf-8")
    assert text.count("in-process execution API: built the router of version") == 1


def test_same_interval_again_is_idempotent_and_registers_nothing(project):
    before = len(versions(project))
    result = fairgate(project, "run", "--interval", "2026-01")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "already processed" in result.stdout
    assert len(versions(project)) == before


@pytest.mark.parametrize(
    ("hazard", "stage", "column"),
    [
        ("post_outcome_column", "audit", "collections_date"),  # a new column: schema, before leakage
        ("label_copy", "audit", "internal_risk_flag"),
        ("duplicated_rows", "audit", "application_id"),
        # the migration hazard is replayed by the C07 suite (step 4), blocked at the same stage
    ],
)
def test_each_hazard_ends_blocked_with_champion_unchanged(project, hazard, stage, column):
    before_versions = len(versions(project))
    result = fairgate(project, "run", "--interval", "2026-02", "--hazard", hazard)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "outcome: BLOCKED" in result.stdout
    assert f"\n{stage:<10} blocked" in result.stdout
    assert column in result.stdout
    assert champion_version(project) == "1"
    assert len(versions(project)) == before_versions  # blocked before training: nothing to register
    runs = client_for(project).search_runs(
        [client_for(project).get_experiment_by_name(MODEL).experiment_id],
        filter_string=f"tags.`fairgate.hazards` = '{hazard}'",
    )
    assert runs and runs[0].data.tags["fairgate.blocked_at"] == stage
    assert column in runs[0].data.tags["fairgate.blocked_reasons"]


def test_new_clean_data_is_gated_against_the_champion_and_promoted(project):
    result = fairgate(project, "run", "--interval", "2026-02")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "champion compared: 1" in result.stdout
    assert "non-regression against champion version 1" in result.stdout
    assert champion_version(project) == "2"


def test_a_gate_refusal_registers_the_candidate_as_blocked_and_keeps_the_champion(project):
    result = fairgate(project, "run", "--interval", "2026-03", "--set", "gate.technical.roc_auc.min=0.99")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "technical.roc_auc" in result.stdout and "min 0.99" in result.stdout
    blocked = versions(project)[-1]
    assert blocked.tags["fairgate.gate.decision"] == "blocked"
    assert "technical.roc_auc" in blocked.tags["fairgate.gate.reasons"]
    assert champion_version(project) == "2"


def test_rollback_refuses_a_version_that_failed_a_gate(project):
    blocked = versions(project)[-1]
    result = fairgate(project, "rollback", "--reason", "try the blocked one", "--to", str(blocked.version))
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "did not pass every gate" in result.stderr
    assert champion_version(project) == "2"


def test_rollback_dag_moves_champion_back_and_records_who_and_why(project):
    from pipelines.core.project import ProjectPaths, airflow_environment
    from pipelines.flows.cli import airflow_command

    # never pass on the MLFLOW_TRACKING_URI that mlflow exported into this test process
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env = {**inherited, **airflow_environment(ProjectPaths(project)), "FAIRGATE_HOME": str(project)}
    conf = json.dumps({"reason": "e2e: champion misbehaves"})
    completed = subprocess.run(
        airflow_command("dags", "test", "rollback", "-c", conf),
        cwd=project, env=env, capture_output=True, text=True, timeout=600,
    )
    assert champion_version(project) == "1", completed.stdout[-3000:] + completed.stderr[-3000:]
    from pipelines.governance import registry
    history = registry.alias_history(client_for(project), MODEL)
    last = history[-1]
    assert last["action"] == "rollback" and last["from_version"] == "2" and last["to_version"] == "1"
    assert last["reason"] == "e2e: champion misbehaves" and last["actor"] and last["at"].endswith("+00:00")
    assert [m["action"] for m in history] == ["promote", "promote", "rollback"]


def test_a_second_rollback_does_not_roll_back_twice(project):
    result = fairgate(project, "rollback", "--reason", "again")
    assert result.returncode == 0, result.stderr
    assert "still standing (deployments frozen): nothing moved" in result.stdout
    assert champion_version(project) == "1"


def test_lineage_follows_a_version_to_its_data_and_every_alias_move(project, tmp_path):
    result = fairgate(project, "lineage", "2")
    assert result.returncode == 0, result.stderr
    version = versions(project)[1]
    for expected in (version.tags["fairgate.data_hash"], "audit         pass", "leakage       pass",
                     version.run_id, "gate          passed", "promotion 1 -> 2", "rollback  2 -> 1",
                     "e2e: champion misbehaves", "chain intact"):
        assert expected in result.stdout, expected
    restored = fairgate(project, "data", "restore", "--model-version", "1", "--to", str(tmp_path / "v1"))
    assert restored.returncode == 0, restored.stderr
    assert versions(project)[0].tags["fairgate.data_hash"] in restored.stdout and "verified" in restored.stdout
    assert sorted(p.name for p in (tmp_path / "v1" / "batches").iterdir())[-1] == "2025-01.parquet"


def test_mlflow_pages_state_the_verdict_first(project):
    """What a reviewer reads first in the MLflow UI: a blocked version does not look like the champion."""
    client = client_for(project)
    first, second, *_, blocked = versions(project)
    assert blocked.description.startswith("**BLOCKED at gate: technical.roc_auc")
    assert "| technical | `roc_auc` |" in blocked.description and "**failed**" in blocked.description
    assert first.description.startswith("**PASSED: the champion (serving)**")
    assert second.description.startswith("**PASSED: not serving**")
    assert f"data `{second.tags['fairgate.data_hash']}`" in second.description
    assert "[Gate report](#/experiments/" in second.description and "model_card/model_card.md" in second.description
    model = client.get_registered_model(MODEL)
    assert model.description.startswith("**Champion: version 1**")
    rows = [line for line in model.description.splitlines() if line.startswith("| 20")]
    assert [row.split(" | ")[1] for row in rows] == ["rollback", "promote", "promote"]  # the latest first
    assert "e2e: champion misbehaves" in rows[0]
    experiment = client.get_experiment_by_name(MODEL)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    runs = {run.info.run_name: run for run in client.search_runs([experiment.experiment_id])}
    assert runs["retrain 2026-03 · blocked at gate"].info.status == "FAILED"
    assert runs["retrain 2026-02 · v2 promoted"].info.status == "FINISHED"
    described = runs["retrain 2026-03 · blocked at gate"].data.tags["mlflow.note.content"]
    assert described.startswith("**BLOCKED at gate: ") and "| technical | `roc_auc` |" in described
    hazard_names = [name for name in runs if name.startswith("retrain 2026-02 · blocked at ")]
    assert hazard_names and all(runs[name].info.status == "FAILED" for name in hazard_names)


def test_rollback_by_cli_to_a_named_version_that_passed(project):
    result = fairgate(project, "rollback", "--reason", "v2 was fine after all", "--to", "2")
    assert result.returncode == 0, result.stderr
    assert champion_version(project) == "2"
    status = fairgate(project, "status")
    assert "champion: version 2" in status.stdout and "rollback: 1 -> 2 by cli:" in status.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("run", "--interval", "2026-13"), "interval must be a month as YYYY-MM"),
        (("run", "--set", "training.beta_factor=1.5"), "training.beta_factor"),
        (("run", "--set", "training.beta=0.5"), "no such setting"),
        (("rollback", "--reason", "  "), "rollback needs a reason"),
        (("rollback", "--reason", "x", "--to", "99"), "has no version 99"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(project, args, message):
    before = (champion_version(project), len(versions(project)))
    result = fairgate(project, *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert (champion_version(project), len(versions(project))) == before


@pytest.fixture(scope="module")
def file_project(session_root: Path, german_credit_path: Path) -> Path:
    root = make_project(session_root / "e2e-german", **GERMAN_FILE_PROJECT)
    (root / "german_credit.csv").write_bytes(german_credit_path.read_bytes())
    return root


def test_a_real_public_dataset_runs_through_the_same_pipeline(file_project):
    result = fairgate(file_project, "run", "--interval", "2026-05")
    assert result.returncode in (0, 1), result.stdout + result.stderr
    assert "out-of-time validation was not possible" in result.stdout
    assert "excluded status_sex" not in result.stderr
    for stage in ("ingest", "audit", "leakage", "split", "train", "evaluate", "gate", "register"):
        assert f"\n{stage:<10} passed" in result.stdout or f"\n{stage:<10} blocked" in result.stdout, result.stdout


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda df: df.drop(columns=["sex"]), "missing configured column(s): sex"),
        (lambda df: df.head(0), "has a header (22 columns) but no rows"),
        (lambda df: df.assign(bad_credit=0), "single class"),
    ],
)
def test_bad_datasets_stop_with_one_line_and_nothing_registered(file_project, mutate, message):
    import pandas as pd

    source = file_project / "german_credit.csv"
    original = source.read_bytes()
    try:
        mutate(pd.read_csv(source)).to_csv(source, index=False)
        before = len(client_for(file_project).search_model_versions(f"name = '{MODEL}'"))
        result = fairgate(file_project, "run", "--interval", "2026-06")
        assert result.returncode == 2, result.stdout + result.stderr
        assert message in result.stdout
        assert len(client_for(file_project).search_model_versions(f"name = '{MODEL}'")) == before
    finally:
        source.write_bytes(original)
