"""Two-person approval through a real Airflow deployment and its REST API, with two authenticated users.

The module starts ``airflow api-server``, ``airflow scheduler`` (LocalExecutor)
and ``airflow dag-processor`` on their own AIRFLOW_HOME and SQLite metadata
database, with the SimpleAuthManager holding two users, alice and bob, whose
passwords are written to the manager's passwords file. Each user gets a JWT
from ``POST /auth/token`` and triggers ``approve`` and ``unfreeze`` runs with
``POST /api/v2/dags/<dag>/dagRuns``; who signed is what Airflow recorded as the
run's triggering user, never a field of the request.

The project behind it was driven as a user would: ``fairgate freeze``, then a
``fairgate run`` (the real ``retrain`` DAG) whose candidate passed both gates
and waits (version 1). Version 2 is a candidate the ethical gate blocked: to
keep this module within its time budget it is registered directly, from the
same model, with the tags ``retrain.register`` writes for a blocked candidate,
plus a forged ``fairgate.awaiting_approval=true``: registered outside fairgate,
so the audit log holds no registration of it and every move refuses it (the
C07 suite refuses real blocked candidates by every route). The Airflow components run with
override-like environment variables set (``FAIRGATE_OVERRIDE=1`` ...): nothing
reads them.

The tests run in file order, like the life of a deployment. Every process the
module starts is stopped by its process group in the fixture's teardown. If
Airflow cannot start here, the tests fail and say why.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO, make_project
from tests.projects import MODEL, champion_version, client_for, fairgate

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

USERS = ("alice", "bob")
COMPONENTS = ("api-server", "scheduler", "dag-processor")
STARTUP_TIMEOUT = 120.0
RUN_TIMEOUT = 90.0
OVERRIDE_LIKE_VARIABLES = {
    "FAIRGATE_OVERRIDE": "1",
    "FAIRGATE_FORCE_PROMOTE": "1",
    "FAIRGATE_SKIP_GATE": "1",
    "FAIRGATE_APPROVE": "all",
}
SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
BLOCKING_ETHICAL_BOUND = "gate.ethical.demographic_parity_difference.max=0.000001"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def tail(path: Path, chars: int = 3000) -> str:
    return path.read_text(encoding="utf-8", errors="replace")[-chars:] if path.is_file() else f"({path} missing)"


@dataclass
class Airflow:
    """One Airflow deployment for the test: its processes, its users and their tokens."""

    home: Path
    project: Path
    port: int = field(default_factory=free_port)
    passwords: dict[str, str] = field(default_factory=lambda: {u: secrets.token_urlsafe(12) for u in USERS})
    secret: str = field(default_factory=lambda: secrets.token_hex(16))
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MLFLOW_"))}
        env.update(OVERRIDE_LIKE_VARIABLES)
        env.update({
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
            "FAIRGATE_HOME": str(self.project),
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.home / 'airflow.db'}",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "2",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__CORE__AUTH_MANAGER": SIMPLE_AUTH_MANAGER,
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{user}:user" for user in USERS),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.home / "passwords.json"),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__BASE_URL": self.base_url,
            "AIRFLOW__API__SECRET_KEY": self.secret,
            "AIRFLOW__API_AUTH__JWT_SECRET": self.secret,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        })
        return env

    def migrate(self) -> subprocess.Popen:
        """Start migrating the metadata database (in the background, in its own process group)."""
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "passwords.json").write_text(json.dumps(self.passwords), encoding="utf-8")
        with (self.home / "db-migrate.log").open("w", encoding="utf-8") as handle:
            self.processes["db migrate"] = subprocess.Popen(
                [sys.executable, "-m", "airflow", "db", "migrate"], env=self.environment(), stdout=handle,
                stderr=subprocess.STDOUT, start_new_session=True,
            )
        return self.processes["db migrate"]

    def start(self) -> None:
        """Once the database is migrated, start the three components, each in its own process group."""
        migrated = self.processes["db migrate"].wait(timeout=300)
        if migrated != 0:
            pytest.fail(f"airflow db migrate failed (exit {migrated}):\n{tail(self.home / 'db-migrate.log')}")
        env = self.environment()
        for component in COMPONENTS:
            with (self.home / f"{component}.log").open("w", encoding="utf-8") as handle:
                self.processes[component] = subprocess.Popen(
                    [sys.executable, "-m", "airflow", component], env=env, stdout=handle,
                    stderr=subprocess.STDOUT, start_new_session=True,
                )

    def stop(self) -> None:
        """Stop every started process by its process group: SIGTERM, then SIGKILL what is left."""
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for process in self.processes.values():
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        for process in self.processes.values():
            try:
                os.killpg(process.pid, signal.SIGKILL)  # children that outlived their parent (task workers)
            except ProcessLookupError:
                continue

    def crashed(self) -> str | None:
        for component, process in self.processes.items():
            if component in COMPONENTS and process.poll() is not None:
                return (f"airflow {component} exited with {process.returncode}:\n"
                        f"{tail(self.home / f'{component}.log')}")
        return None

    def wait_until_ready(self, dag_ids: tuple[str, ...]) -> None:
        """Wait for a healthy scheduler and dag-processor, the users' tokens and the parsed DAGs; unpause them."""
        deadline = time.monotonic() + STARTUP_TIMEOUT
        problem = "no answer yet"
        while time.monotonic() < deadline:
            crashed = self.crashed()
            if crashed:
                pytest.fail(crashed)
            try:
                health = httpx.get(f"{self.base_url}/api/v2/monitor/health", timeout=5).json()
                statuses = {part: (health.get(part) or {}).get("status") for part in ("scheduler", "dag_processor")}
                if set(statuses.values()) == {"healthy"}:
                    for user in USERS:
                        self.tokens.setdefault(user, self.login(user))
                    missing = [d for d in dag_ids if self.get(f"/api/v2/dags/{d}", USERS[0]).status_code != 200]
                    if not missing:
                        for dag_id in dag_ids:
                            patched = self.request("PATCH", f"/api/v2/dags/{dag_id}", USERS[0], {"is_paused": False})
                            assert patched.status_code == 200, patched.text
                        return
                    problem = f"DAGs not parsed yet: {missing}"
                else:
                    problem = f"health: {statuses}"
            except (httpx.HTTPError, ValueError) as e:
                problem = f"{type(e).__name__}: {e}"
            time.sleep(1)
        pytest.fail(
            f"Airflow was not ready after {STARTUP_TIMEOUT:.0f} s ({problem});\n"
            + "\n".join(f"--- {c}:\n{tail(self.home / f'{c}.log', 1500)}" for c in COMPONENTS)
        )

    def login(self, user: str) -> str:
        """A JWT for ``user`` from the SimpleAuthManager's token endpoint."""
        response = httpx.post(
            f"{self.base_url}/auth/token", json={"username": user, "password": self.passwords[user]}, timeout=30
        )
        assert response.status_code == 201, response.text
        return str(response.json()["access_token"])

    def request(self, method: str, path: str, user: str, body: dict | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"}
        return httpx.request(method, f"{self.base_url}{path}", headers=headers, json=body, timeout=30)

    def get(self, path: str, user: str) -> httpx.Response:
        return self.request("GET", path, user)

    def trigger(self, dag_id: str, user: str, conf: dict) -> str:
        """Trigger a run as ``user``; return its run id."""
        run_id = f"{user}__{dag_id}__{secrets.token_hex(4)}"
        response = self.request(
            "POST", f"/api/v2/dags/{dag_id}/dagRuns", user, {"dag_run_id": run_id, "logical_date": None, "conf": conf}
        )
        assert response.status_code == 200, response.text
        created = response.json()
        assert created["triggering_user_name"] == user and created["run_type"] == "manual"
        return run_id

    def finished(self, dag_id: str, run_id: str) -> dict:
        """Wait until the run ends; return its record (with the task log, for the failure messages)."""
        deadline = time.monotonic() + RUN_TIMEOUT
        while time.monotonic() < deadline:
            crashed = self.crashed()
            if crashed:
                pytest.fail(crashed)
            run = self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}", USERS[0]).json()
            if run["state"] in ("success", "failed"):
                logs = sorted((self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}").rglob("*.log"))
                run["task_log"] = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in logs)
                return run
            time.sleep(0.5)
        pytest.fail(f"{dag_id} run {run_id} did not finish in {RUN_TIMEOUT:.0f} s;\n"
                    f"{tail(self.home / 'scheduler.log')}")

    def run_together(self, *requests: tuple[str, str, dict]) -> list[dict]:
        """Trigger runs of different DAGs at once (each DAG runs one at a time) and wait for all of them."""
        started = [(dag_id, self.trigger(dag_id, user, conf)) for dag_id, user, conf in requests]
        return [self.finished(dag_id, run_id) for dag_id, run_id in started]


@dataclass
class Deployment:
    project: Path
    airflow: Airflow
    waiting_run: subprocess.CompletedProcess


def register_blocked_candidate(project: Path, source_version: str) -> str:
    """Register the source version's model again with the tags `register` writes when the ethical gate blocks."""
    client = client_for(project)
    source = client.get_model_version(MODEL, source_version)
    tags = {
        **{k: v for k, v in source.tags.items() if not k.startswith(("fairgate.gate.", "fairgate.airflow_run_id"))},
        "fairgate.airflow_run_id": "scheduled__blocked-candidate",
        "fairgate.gate.decision": "blocked",
        "fairgate.gate.technical": "passed",
        "fairgate.gate.ethical": "blocked",
        "fairgate.gate.reasons": "ethical.gender.demographic_parity_difference 0.0140 > max 0.000001",
        # forged: as if someone tagged it by hand to get it approved
        "fairgate.awaiting_approval": "true",
        "fairgate.approval.gated_against": "none",
    }
    created = client.create_model_version(MODEL, source.source, run_id=source.run_id, tags=tags)
    return str(created.version)


@pytest.fixture(scope="module")
def deployment(session_root: Path):
    started = time.monotonic()
    project = make_project(session_root / "approval-project", **{"generator.rows_per_month": 600})
    airflow = Airflow(session_root / "approval-airflow", project)
    try:
        airflow.migrate()  # while the project runs its retrain; the components start after it (2 cores)
        frozen = fairgate(project, "freeze", "--reason", "C07 recovery: no automatic deployment")
        assert frozen.returncode == 0, frozen.stdout + frozen.stderr
        waiting = fairgate(project, "run", "--interval", "2026-01")
        print(f"\nfreeze and retrain done after {time.monotonic() - started:.1f} s")
        if waiting.returncode != 0 or "outcome: WAITING FOR APPROVAL" not in waiting.stdout:
            pytest.fail(f"the frozen retrain run did not leave a candidate waiting (exit {waiting.returncode}):\n"
                        f"{waiting.stdout[-3000:]}{waiting.stderr[-2000:]}")
        assert register_blocked_candidate(project, "1") == "2"
        airflow.start()
        airflow.wait_until_ready(("approve", "unfreeze"))
        print(f"approval deployment ready after {time.monotonic() - started:.1f} s")
        yield Deployment(project, airflow, waiting)
    finally:
        airflow.stop()
        print(f"\napproval deployment stopped after {time.monotonic() - started:.1f} s")


@pytest.fixture
def cli(deployment, monkeypatch, capsys):
    """Run ``fairgate`` in this process (MLflow is already imported here) on the deployment's project."""
    from pipelines.flows.cli import main

    monkeypatch.setenv("FAIRGATE_HOME", str(deployment.project))

    def run(*args: str) -> tuple[int, str]:
        code = main(list(args))
        return code, capsys.readouterr().out

    return run


def audit_entries(project: Path, kind: str | None = None) -> list:
    from pipelines.core.config import load_config
    from pipelines.core.project import ProjectPaths, audit_log_url
    from pipelines.governance.audit_log import open_log

    paths = ProjectPaths(project)
    with open_log(audit_log_url(paths, load_config(paths.config_file))) as log:
        return [e for e in log.entries() if kind is None or e.kind == kind]


def sign_offs(project: Path, subject: str) -> list[tuple[str, str]]:
    return [
        (e.actor, e.payload["sign_off"])
        for e in audit_entries(project, "approval")
        if e.payload.get("step") == "sign_off" and e.payload.get("subject") == subject
    ]


def frozen(project: Path) -> bool:
    from pipelines.governance.approvals import freeze_state

    return freeze_state(audit_entries(project), MODEL).frozen


def version_tags(project: Path, version: str) -> dict[str, str]:
    return dict(client_for(project).get_model_version(MODEL, version).tags)


def test_a_frozen_pipeline_gates_and_registers_but_waits_for_approval(deployment, cli):
    project = deployment.project
    waiting = deployment.waiting_run
    assert waiting.returncode == 0, waiting.stdout + waiting.stderr
    assert "\npromote    waiting" in waiting.stdout and "frozen: version 1 awaits approval" in waiting.stdout
    assert "outcome: WAITING FOR APPROVAL   champion of fairgate-credit-default: none" in waiting.stdout
    assert champion_version(project) is None
    tags = version_tags(project, "1")
    assert tags["fairgate.gate.decision"] == "passed"
    assert tags["fairgate.awaiting_approval"] == "true" and tags["fairgate.approval.gated_against"] == "none"
    (awaiting,) = [e for e in audit_entries(project, "approval") if e.payload["step"] == "awaiting"]
    assert awaiting.model_version == 1
    code, status = cli("status")
    assert code == 0 and "deployments: FROZEN since" in status and "C07 recovery" in status
    assert "awaiting approval: technical: missing; ethical: missing" in status


def test_one_sign_off_neither_promotes_nor_unfreezes(deployment):
    airflow, project = deployment.airflow, deployment.project
    approve, unfreeze = airflow.run_together(
        ("approve", "alice", {"model_version": 1, "sign_off": "technical", "comment": "metrics reviewed"}),
        ("unfreeze", "alice", {"sign_off": "technical"}),
    )
    assert approve["state"] == "success", approve["task_log"][-3000:]
    assert unfreeze["state"] == "success", unfreeze["task_log"][-3000:]
    assert champion_version(project) is None and frozen(project)
    assert sign_offs(project, "promotion") == [("alice", "technical")]
    assert sign_offs(project, "unfreeze") == [("alice", "technical")]


def test_the_same_person_cannot_give_the_second_sign_off(deployment):
    airflow, project = deployment.airflow, deployment.project
    approve, unfreeze = airflow.run_together(
        ("approve", "alice", {"model_version": 1, "sign_off": "ethical"}),
        ("unfreeze", "alice", {"sign_off": "ethical"}),
    )
    assert approve["state"] == "failed" and unfreeze["state"] == "failed"
    assert "alice already gave the technical sign-off for version 1" in approve["task_log"]
    assert "alice already gave the technical sign-off to lift the freeze" in unfreeze["task_log"]
    assert champion_version(project) is None and frozen(project)
    refusals = sorted((e.actor, e.payload["what"]) for e in audit_entries(project, "refusal"))
    assert refusals == [("alice", "approval"), ("alice", "unfreeze")]  # the two runs ran side by side
    assert sign_offs(project, "promotion") == [("alice", "technical")]


@pytest.mark.fairness
def test_approving_the_version_that_failed_the_ethical_gate_is_refused_whatever_the_request_says(deployment):
    """No field, flag or environment variable overrides a failed gate; the attempt is recorded."""
    airflow, project = deployment.airflow, deployment.project
    (refused,) = airflow.run_together(
        ("approve", "bob", {"model_version": 2, "sign_off": "ethical", "force": True, "override_gate": True,
                            "approver": "alice"}),
    )
    assert refused["state"] == "failed"
    # version 2 was registered outside fairgate (see the module docstring): its tags say it waits, but the audit
    # log, which decides, holds no registration of it
    assert "version 2 of 'fairgate-credit-default' cannot be champion: the audit log holds no registration entry " \
           "for it (registered outside fairgate)" in refused["task_log"]
    assert champion_version(project) is None
    refusal = audit_entries(project, "refusal")[-1]
    assert (refusal.actor, refusal.model_version, refusal.payload["what"]) == ("bob", 2, "approval")
    assert "holds no registration entry" in refusal.payload["reason"]
    assert version_tags(project, "2").get("fairgate.stable_fair") is None


def test_two_distinct_people_promote_the_waiting_version_and_unfreeze(deployment, cli):
    airflow, project = deployment.airflow, deployment.project
    approve, unfreeze = airflow.run_together(
        # a field naming someone else changes nothing: the signer is the authenticated user
        ("approve", "bob", {"model_version": 1, "sign_off": "ethical", "approver": "alice"}),
        ("unfreeze", "bob", {"sign_off": "ethical", "comment": "rollback cause fixed"}),
    )
    assert approve["state"] == "success", approve["task_log"][-3000:]
    assert unfreeze["state"] == "success", unfreeze["task_log"][-3000:]
    assert champion_version(project) == "1"
    from pipelines.governance import registry
    move = registry.alias_history(client_for(project), MODEL)[-1]
    assert (move["action"], move["from_version"], move["to_version"], move["actor"]) == ("approval", None, "1", "bob")
    tags = version_tags(project, "1")
    assert tags["fairgate.awaiting_approval"] == "false" and tags["fairgate.stable_fair"] == "true"
    assert json.loads(tags["fairgate.approved_by"]) == {"technical": "alice", "ethical": "bob"}
    (promotion,) = audit_entries(project, "promotion")
    assert promotion.actor == "bob" and promotion.model_version == 1
    assert promotion.payload["approved_by"] == {"technical": "alice", "ethical": "bob"}
    assert sign_offs(project, "promotion") == [("alice", "technical"), ("bob", "ethical")]
    (lifted,) = audit_entries(project, "unfreeze")
    assert lifted.actor == "bob" and lifted.payload["approved_by"] == {"technical": "alice", "ethical": "bob"}
    assert not frozen(project)

    code, status = cli("status")
    assert code == 0 and "deployments: not frozen since" in status and "champion: version 1" in status
    code, history = cli("audit", "log")
    assert "technical sign-off for version 1 by alice" in history
    assert "ethical sign-off for version 1 by bob" in history
    code, verify = cli("audit", "verify")
    assert code == 0 and "chain intact" in verify
