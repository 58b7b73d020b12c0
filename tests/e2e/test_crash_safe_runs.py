"""Killed and stopped runs, through real processes: ``fairgate run``, its Airflow child, signals, the registry.

A run killed between its registration and its promotion is completed by the
next run of its interval (one version, one registration entry, one promotion);
SIGTERM to ``fairgate run`` stops its Airflow child's whole process group and
ends the MLflow run KILLED.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import psutil
import pytest

from pipelines.flows.airflow_child import STOP_GRACE_SECONDS
from tests.c07.test_c07_incident import c07_fault
from tests.conftest import make_project
from tests.projects import MODEL, champion_version, client_for, fairgate, start_fairgate, versions, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

DEADLINE_SECONDS = 600.0


@pytest.fixture(scope="module")
def project(session_root: Path) -> Path:
    return make_project(session_root / "crash-safe-project", **{"generator.rows_per_month": 600})


def airflow_child(fairgate_process: psutil.Popen | object) -> psutil.Process | None:
    """The Airflow process ``fairgate run`` started (the leader of its own process group), once it exists."""
    try:
        children = psutil.Process(fairgate_process.pid).children()
    except psutil.NoSuchProcess:
        return None
    return next((c for c in children if os.getpgid(c.pid) == c.pid), None)


def group_members(group: int) -> list[psutil.Process]:
    """The live (not zombie) processes of a process group."""
    members = []
    for process in psutil.process_iter(["pid", "status"]):
        try:
            if os.getpgid(process.pid) == group and process.info["status"] != psutil.STATUS_ZOMBIE:
                members.append(process)
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue  # ended while we looked: not a member any more
    return members


def mlflow_runs(project: Path, interval: str) -> list:
    c = client_for(project)
    return c.search_runs(
        [c.get_experiment_by_name(MODEL).experiment_id], filter_string=f"tags.`fairgate.data_interval` = '{interval}'"
    )


def audit_kinds(project: Path, version: str) -> list[str]:
    result = fairgate(project, "audit", "log", "--model-version", version, "--json")
    assert result.returncode == 0, result.stderr
    return [entry["kind"] for entry in json.loads(result.stdout)]


def registered(project: Path) -> Path | None:
    return next(iter((project / "var" / "runs").glob("*/stages/07-register.json")), None)


def test_a_run_killed_after_registration_is_completed_once_by_the_next_run_of_its_interval(project, tmp_path):
    output = tmp_path / "killed.txt"
    process = start_fairgate(project, "run", "--interval", "2026-01", output=output,
                             extra_env=c07_fault("stop_before_promote"))
    try:
        # the fault stops the promote task's process with SIGSTOP once the register stage has written
        child = wait_for(
            lambda: registered(project) and (c := airflow_child(process)) and c.status() == psutil.STATUS_STOPPED and c,
            "the Airflow child stopped at promote, after the register stage wrote its record",
        )
        os.killpg(child.pid, signal.SIGKILL)
        process.wait(timeout=DEADLINE_SECONDS)
    finally:
        if process.poll() is None:
            process.kill()
    text = output.read_text(encoding="utf-8")
    assert process.returncode == 3, text
    assert "outcome: STOPPED" in text and "the Airflow process was killed by SIGKILL" in text
    assert f"\n{'register':<10} passed" in text and f"\n{'promote':<10} not run" in text
    assert champion_version(project) is None and [str(v.version) for v in versions(project)] == ["1"]
    (killed,) = mlflow_runs(project, "2026-01")
    assert killed.info.status == "KILLED"
    assert killed.data.tags["fairgate.stopped_at"] == "promote"
    assert "killed by SIGKILL" in killed.data.tags["fairgate.stopped_reason"]

    again = fairgate(project, "run", "--interval", "2026-01")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "outcome: PROMOTED" in again.stdout
    assert "interrupted after registering version 1: nothing was trained or registered again" in again.stdout
    assert "already processed" not in again.stdout
    assert champion_version(project) == "1"
    assert [str(v.version) for v in versions(project)] == ["1"]
    kinds = audit_kinds(project, "1")
    assert kinds.count("registration") == 1 and kinds.count("promotion") == 1, kinds
    (completed,) = mlflow_runs(project, "2026-01")  # the completing run opened no MLflow run of its own
    assert completed.info.run_id == killed.info.run_id and completed.info.status == "FINISHED"
    assert completed.data.tags["fairgate.completed_by"].startswith("manual__")
    assert completed.data.tags["fairgate.resumed_after"].startswith("KILLED: stopped_at=promote")
    assert "fairgate.stopped_at" not in completed.data.tags

    third = fairgate(project, "run", "--interval", "2026-01")
    assert third.returncode == 0 and "already processed" in third.stdout, third.stdout + third.stderr
    assert [str(v.version) for v in versions(project)] == ["1"] and audit_kinds(project, "1") == kinds


def test_sigterm_to_fairgate_run_stops_the_airflow_process_group_and_ends_the_run_killed(project, tmp_path):
    runs_folder = project / "var" / "runs"
    runs_before = {p.name for p in runs_folder.iterdir()} if runs_folder.is_dir() else set()
    champion_before = champion_version(project)
    output = tmp_path / "stopped.txt"
    process = start_fairgate(project, "run", "--interval", "2026-02", output=output)
    try:
        # the MLflow run exists once ingest wrote its record; the child is then well inside its run
        wait_for(
            lambda: runs_folder.is_dir() and any((p / "stages" / "00-ingest.json").is_file()
                                                 for p in runs_folder.iterdir() if p.name not in runs_before),
            "the new run's ingest stage wrote its record",
        )
        child = airflow_child(process)
        assert child is not None and child.is_running()
        group = child.pid
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=STOP_GRACE_SECONDS + 120)
    finally:
        if process.poll() is None:
            process.kill()
    text = output.read_text(encoding="utf-8")
    assert process.returncode == 3, text
    assert "outcome: STOPPED" in text
    assert "fairgate run received SIGTERM and interrupted the Airflow process group (SIGINT)" in text
    assert "its MLflow run ends KILLED" in text
    wait_for(lambda: not group_members(group), f"no process left in the Airflow process group {group}", 30.0)
    (stopped,) = mlflow_runs(project, "2026-02")
    assert stopped.info.status == "KILLED"
    assert stopped.data.tags["fairgate.stopped_at"] in ("audit", "leakage", "split", "train", "evaluate", "gate",
                                                        "register", "promote")
    assert champion_version(project) == champion_before
