"""How a run ends when a stage refuses, crashes or is never reached, through the real stages (no Airflow).

The stages are called in process on a real project (generator, DVC, MLflow,
the audit log), the way the ``retrain`` DAG calls them; a crash is planted by
making a library call raise.  A run stopped between two stages is replayed by
not calling the next one: its process is gone, nothing of it ran.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.core.config import load_config
from pipelines.core.errors import BlockedError
from pipelines.core.project import ProjectPaths
from pipelines.flows import champion, cli
from pipelines.flows import retrain as stages
from pipelines.flows.retrain import data_stages
from pipelines.flows.retrain.mlflow_run import find_mlflow_run
from pipelines.governance import registry
from pipelines.governance.records import version_entries
from tests.conftest import make_project
from tests.projects import champion_version, fairgate, versions

pytestmark = [pytest.mark.c07, pytest.mark.slow]

PLANTED = "planted: the expectation suite could not be built"
BEFORE_REGISTRATION = (stages.ingest, stages.audit, stages.leakage, stages.split, stages.train)
TO_REGISTRATION = (*BEFORE_REGISTRATION, stages.evaluate, stages.gate, stages.register)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ProjectPaths:
    root = make_project(tmp_path / "project", **{"generator.rows_per_month": 600})
    monkeypatch.setenv("FAIRGATE_HOME", str(root))
    return ProjectPaths(root)


def start(airflow_run_id: str, overrides: dict | None = None, interval: str = "2026-01") -> stages.RunState:
    return stages.run_reference(airflow_run_id, "retrain", interval, overrides or {}, "tests:crash-safe")


def through(state: stages.RunState, chain: tuple) -> stages.RunState:
    for stage in chain:
        state = stage(state)
    return state


def mlflow_run(project: ProjectPaths, airflow_run_id: str):
    run = find_mlflow_run(registry.connect(project), load_config(project.config_file), airflow_run_id)
    assert run is not None, f"no MLflow run for {airflow_run_id}"
    return run


def summary_code(project: ProjectPaths, airflow_run_id: str, capsys: pytest.CaptureFixture) -> tuple[int, str]:
    code = cli.render_summary(project, load_config(project.config_file), airflow_run_id, None)
    return code, capsys.readouterr().out


def test_a_crash_in_a_stage_ends_the_run_failed_with_crashed_at_exit_3_and_a_retry_resumes_it(
    project, monkeypatch, capsys
):
    state = start("manual__crash")
    state = stages.ingest(state)

    def broken_audit(*args: object, **kwargs: object) -> None:
        raise ValueError(PLANTED)

    with monkeypatch.context() as patch:
        patch.setattr(data_stages, "audit_dataset", broken_audit)
        with pytest.raises(ValueError, match=PLANTED):
            stages.audit(state)
    run = mlflow_run(project, "manual__crash")
    assert run.info.status == "FAILED"
    assert run.data.tags["fairgate.crashed_at"] == "audit"
    assert run.data.tags["fairgate.crashed_reason"] == f"ValueError: {PLANTED}"
    assert "fairgate.blocked_at" not in run.data.tags
    code, out = summary_code(project, "manual__crash", capsys)
    assert code == 3 and "outcome: CRASHED" in out and f"reason: ValueError: {PLANTED}" in out

    # Airflow retries a crashed task: the run is RUNNING again, what ended it kept
    stages.audit(state)
    run = mlflow_run(project, "manual__crash")
    assert run.info.status == "RUNNING"
    assert run.data.tags["fairgate.resumed_after"] == f"FAILED: crashed_at=audit; crashed_reason=ValueError: {PLANTED}"
    assert "fairgate.crashed_at" not in run.data.tags


def test_a_run_blocked_at_audit_ends_failed_with_blocked_at_and_is_never_completed_later(project, capsys):
    overrides = {"generator.hazards": ["duplicated_rows"]}
    state = stages.ingest(start("manual__blocked", overrides))
    with pytest.raises(BlockedError) as refused:
        stages.audit(state)
    assert refused.value.stage == "audit"
    run = mlflow_run(project, "manual__blocked")
    assert run.info.status == "FAILED"
    assert run.data.tags["fairgate.blocked_at"] == "audit"
    assert "application_id" in run.data.tags["fairgate.blocked_reasons"]
    assert "fairgate.crashed_at" not in run.data.tags
    code, out = summary_code(project, "manual__blocked", capsys)
    assert code == 1 and "outcome: BLOCKED" in out
    # a verdict is final: a new run of the same interval and configuration starts afresh
    again = start("manual__blocked-again", overrides)
    assert again["ref"]["airflow_run_id"] == "manual__blocked-again" and set(again) == {"ref"}


def test_only_a_run_stopped_after_registration_is_completed_and_only_once(project):
    # stopped during training: nothing registered, so the next run does the whole work
    through(start("manual__first"), BEFORE_REGISTRATION)
    second = start("manual__second")
    assert second["ref"]["airflow_run_id"] == "manual__second" and set(second) == {"ref"}
    superseded = mlflow_run(project, "manual__first")  # no process was left to end it
    assert superseded.info.status == "KILLED" and superseded.data.tags["fairgate.stopped_at"] == "evaluate"
    assert superseded.data.tags["fairgate.stopped_reason"].startswith("superseded by run manual__second")
    # stopped after registration, before promotion: the next run completes it
    registered = through(second, TO_REGISTRATION)
    version = registered["registered"]["version"]
    assert champion_version(project.root) is None
    # between stages the run is open, though split and train log through MLflow's fluent run blocks
    assert mlflow_run(project, "manual__second").info.status == "RUNNING"
    third = start("manual__third")
    assert third["ref"]["airflow_run_id"] == "manual__second"
    assert third["ref"]["completed_by"] == "manual__third"
    assert through(third, TO_REGISTRATION) is third  # every stage it already did hands the state on
    promoted = champion.promote(third)
    assert promoted["promoted"]["to_version"] == version
    assert champion_version(project.root) == version
    assert [str(v.version) for v in versions(project.root)] == [version]
    entries = version_entries(project, load_config(project.config_file), version)
    assert [e.kind for e in entries].count("registration") == 1
    assert [e.kind for e in entries].count("promotion") == 1
    run = mlflow_run(project, "manual__second")
    assert run.info.status == "FINISHED" and run.data.tags["fairgate.completed_by"] == "manual__third"
    # completed, it is not completed again
    fourth = start("manual__fourth")
    assert fourth["ref"]["airflow_run_id"] == "manual__fourth" and set(fourth) == {"ref"}
    assert champion_version(project.root) == version and len(versions(project.root)) == 1


def test_a_gate_refusal_ends_the_run_failed_blocked_at_gate(project, capsys):
    state = through(start("manual__strict", {"gate.technical.roc_auc.min": 0.99}), TO_REGISTRATION)
    with pytest.raises(BlockedError):
        champion.promote(state)
    run = mlflow_run(project, "manual__strict")
    assert run.info.status == "FAILED" and run.data.tags["fairgate.blocked_at"] == "gate"
    assert "technical.roc_auc" in run.data.tags["fairgate.blocked_reasons"]
    code, out = summary_code(project, "manual__strict", capsys)
    assert code == 1 and "outcome: BLOCKED" in out


def test_an_unexpected_exception_in_a_command_exits_3_crashed_with_its_log_never_1(project):
    # a broken tool: the MLflow store is not a database
    project.mlflow_dir.mkdir(parents=True, exist_ok=True)
    project.mlflow_db.write_bytes(b"this is not an SQLite database" * 100)
    result = fairgate(project.root, "status")
    assert result.returncode == 3, result.stdout + result.stderr
    # one line of fairgate's own (a library may log warnings before it)
    (line,) = [text for text in result.stderr.splitlines() if text.startswith("fairgate: ")]
    assert line.startswith("fairgate: crashed: ") and "; see " in line
    log = Path(line.rsplit("; see ", 1)[1])
    assert log.parent == project.root / "var" / "logs" and log.name.startswith("fairgate-status-crash-")
    assert "Traceback (most recent call last)" in log.read_text(encoding="utf-8")


def test_a_completed_run_waits_for_approval_when_deployments_were_frozen_meanwhile(project):
    version = through(start("manual__before-freeze"), TO_REGISTRATION)["registered"]["version"]
    assert cli.main(["freeze", "--reason", "stopped run: look before anything ships"]) == 0
    completion = start("manual__after-freeze")
    assert completion["ref"]["airflow_run_id"] == "manual__before-freeze"
    held = champion.promote(through(completion, TO_REGISTRATION))
    assert held["promoted"]["awaiting_approval"] is True and held["promoted"]["version"] == version
    assert champion_version(project.root) is None
    (only,) = versions(project.root)
    assert only.tags["fairgate.awaiting_approval"] == "true"
    assert mlflow_run(project, "manual__before-freeze").info.status == "FINISHED"
    # a later run of the interval finds the verdict (waiting) and completes nothing again
    assert start("manual__later")["ref"]["airflow_run_id"] == "manual__later"
    entries = version_entries(project, load_config(project.config_file), version)
    assert [e.kind for e in entries].count("approval") == 1 and [e.kind for e in entries].count("registration") == 1
