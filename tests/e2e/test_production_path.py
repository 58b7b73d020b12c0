"""The production path, for real: Airflow, MLflow and the audit log on Postgres, Celery on Redis.

The module runs what ``docker-compose.yml`` runs, as processes on this machine
(no Docker engine here), configured through environment variables only, as
compose and the Helm chart configure them:

- Postgres and Redis from Debian's packages (``tests.postgres_redis``): the
  ``airflow``, ``mlflow`` and ``fairgate_audit`` databases, each with its own
  user and password;
- ``mlflow server --app-name basic-auth`` on the ``mlflow`` database (its URL
  in ``MLFLOW_BACKEND_STORE_URI``) with ``--serve-artifacts``: the Airflow tasks
  and this test reach it through ``MLFLOW_TRACKING_URI`` only and never touch
  the artifact folder behind it. Its users and permissions live in the
  ``mlflow_auth`` database, configured by compose's ``deploy/mlflow-auth.ini``
  unchanged; ``deploy/mlflow_accounts.py``, compose's mlflow-init job, creates
  fairgate's service account (MANAGE on the registered model) and a reviewer
  (READ). The worker signs in as the service account
  (``MLFLOW_TRACKING_USERNAME`` / ``MLFLOW_TRACKING_PASSWORD``); this test reads
  as the reviewer;
- ``deploy/airflow-init.sh``, compose's init job (``airflow db migrate``, the
  admin's password from the environment, the project's git and DVC), then
  ``airflow api-server``, ``airflow scheduler``, ``airflow dag-processor`` and
  one ``airflow celery worker`` (the CeleryExecutor, Redis as broker, Postgres
  as result backend), the worker configured by ``deploy/fairgate_celery.py``
  as in compose;
- the audit log in ``fairgate_audit`` through ``FAIRGATE_AUDIT_LOG_URL``. As in
  compose, only the worker, which runs the tasks, gets the MLflow and audit-log
  settings.

The tests run in file order, like the life of a deployment: a retrain
triggered through ``/api/v2`` (a JWT from ``/auth/token``) makes version 1 the
champion; a backfill created through the API is run by the scheduler on its
own, processes the month asked for and makes version 2 the champion; a
rollback through the API, with a reason, moves ``champion`` back to version 1
and freezes deployments, and the audit log on Postgres holds every event in
order and verifies; the reviewer reads the registry but its move of
``champion`` is refused (403) and changes nothing, an anonymous client is
refused (401), and ``fairgate`` with a wrong or missing password says so in
one line (exit 2); no password of the services appears in any log, any file
Airflow or the pipeline wrote, or MLflow. Every process the module starts is
stopped by its process group at the end.

The scheduler's own ``@monthly`` runs are switched off
(``AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE=False``): unpausing ``retrain`` would
otherwise start a run for the latest first of the month, whose month depends
on today's date. The backfill is the scheduler running ``retrain`` on its own,
on a month the test chooses. About 2.5 minutes on the 2-core test machine.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO, make_project
from tests.postgres_redis import PostgresRedis, postgres_redis  # noqa: F401  (the session fixture)
from tests.projects import MODEL
from tests.servers import (
    MLFLOW_SERVER_ENVIRONMENT,
    MlflowServer,
    ServerProcess,
    free_port,
    start_process,
    tail,
    wait_for_http,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ADMIN = "fairgate-operator"
COMPONENTS = ("api-server", "scheduler", "dag-processor", "celery-worker")
COMMANDS = {
    "api-server": ["api-server"],
    "scheduler": ["scheduler"],
    "dag-processor": ["dag-processor"],
    "celery-worker": ["celery", "worker", "--concurrency", "2", "--without-mingle", "--without-gossip"],
}
STARTUP_TIMEOUT = 180.0
RUN_TIMEOUT = 600.0  # a bound on failure only: on a loaded 2-core machine a retrain took over 300 s
SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
FIRST_INTERVAL, BACKFILLED_INTERVAL = "2026-01", "2026-02"
# retrain is @monthly on a cron trigger: the one run in this window fires on 2026-03-01 and processes
# February, the month that ended then
BACKFILL_WINDOW = ("2026-02-15T00:00:00Z", "2026-03-15T00:00:00Z")
BACKFILLED_LOGICAL_DATE = "2026-03-01T00:00:00Z"
ROLLBACK_REASON = "production path: champion misbehaves on live traffic"
MLFLOW_AUTH_CONFIG = REPO / "deploy" / "mlflow-auth.ini"
CREDENTIALS = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")


@dataclass(frozen=True)
class MlflowAccounts:
    """The MLflow server's accounts, as .env gives them in compose: random passwords, none in a file."""

    admin: str = "mlflow-admin"
    service: str = "fairgate-service"
    reviewer: str = "risk-reviewer"
    admin_password: str = field(default_factory=lambda: secrets.token_hex(16))
    service_password: str = field(default_factory=lambda: secrets.token_hex(16))
    reviewer_password: str = field(default_factory=lambda: secrets.token_hex(16))
    secret_key: str = field(default_factory=lambda: secrets.token_hex(16))

    @property
    def passwords(self) -> list[str]:
        return [self.admin_password, self.service_password, self.reviewer_password, self.secret_key]

    def init_environment(self, tracking_uri: str) -> dict[str, str]:
        """What compose's mlflow-init job gets."""
        return {
            "MLFLOW_TRACKING_URI": tracking_uri,
            "MLFLOW_ADMIN_USER": self.admin, "MLFLOW_ADMIN_PASSWORD": self.admin_password,
            "MLFLOW_SERVICE_USER": self.service, "MLFLOW_SERVICE_PASSWORD": self.service_password,
            "MLFLOW_REVIEWER_USER": self.reviewer, "MLFLOW_REVIEWER_PASSWORD": self.reviewer_password,
        }  # fmt: skip


@contextmanager
def signed_in(username: str | None, password: str | None) -> Iterator[None]:
    """MLflow's client reads its credentials from the environment at every request: set them for a block."""
    before = {key: os.environ.get(key) for key in CREDENTIALS}
    for key, value in zip(CREDENTIALS, (username, password), strict=True):
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


# the audit log's key, as compose passes FAIRGATE_AUDIT_KEY to the worker (a Postgres log refuses to open without it)
AUDIT_KEY = secrets.token_hex(32)


@dataclass
class Airflow:
    """The Airflow deployment of this module: its environment, processes and the operator's token."""

    home: Path
    project: Path
    services: PostgresRedis
    tracking_uri: str
    accounts: MlflowAccounts
    port: int = field(default_factory=free_port)
    password: str = field(default_factory=lambda: secrets.token_hex(12))
    secret: str = field(default_factory=lambda: secrets.token_hex(16))
    processes: dict[str, ServerProcess] = field(default_factory=dict)
    token: str = ""

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self, component: str = "") -> dict[str, str]:
        """Everything a component gets: nothing but environment variables, as in compose."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MLFLOW_", "FAIRGATE_"))}
        airflow_db = self.services.account("airflow")
        env.update({
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
            "FAIRGATE_HOME": str(self.project),
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": airflow_db.url("psycopg2"),
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CELERY__BROKER_URL": self.services.redis.url(),
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + airflow_db.url("psycopg2"),
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__CORE__AUTH_MANAGER": SIMPLE_AUTH_MANAGER,
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.home / "passwords.json"),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__BASE_URL": self.base_url,
            "AIRFLOW__API__SECRET_KEY": self.secret,
            "AIRFLOW__API_AUTH__JWT_SECRET": self.secret,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            # test-only: no run for the latest @monthly fire time on unpause (its month would depend on
            # today's date); the scheduler runs the backfill this module asks for instead
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        })  # fmt: skip
        if component == "airflow-init":  # only the init job sees the admin's password
            env["AIRFLOW_ADMIN_USER"], env["AIRFLOW_ADMIN_PASSWORD"] = ADMIN, self.password
            env["DVC_REMOTE_URL"] = str(self.project.parent / f"{self.project.name}-remote")  # make_project's
        if component == "celery-worker":  # as compose's airflow-worker: the stores, the pipeline preloaded
            env["MLFLOW_TRACKING_URI"] = self.tracking_uri
            env["MLFLOW_TRACKING_USERNAME"] = self.accounts.service  # fairgate's service account
            env["MLFLOW_TRACKING_PASSWORD"] = self.accounts.service_password
            env["FAIRGATE_AUDIT_LOG_URL"] = self.services.account("audit").url("psycopg")
            env["FAIRGATE_AUDIT_KEY"] = AUDIT_KEY
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "deploy"), os.environ.get("PYTHONPATH")]))
            env["AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS"] = "fairgate_celery.CELERY_CONFIG"
        return env

    def initialise(self) -> None:
        """Start ``deploy/airflow-init.sh`` as compose's airflow-init job runs it (:meth:`start` waits for it).

        It migrates the metadata database, writes the admin's password from the environment, and
        prepares the project (git, DVC, the default remote: here the project's local folder).
        """
        self.home.mkdir(parents=True, exist_ok=True)
        command = ["bash", str(REPO / "deploy" / "airflow-init.sh")]
        self.processes["airflow-init"] = start_process(
            "airflow-init", command, self.home, env=self.environment("airflow-init"), cwd=self.home
        )

    def _start(self, name: str, arguments: list[str]) -> ServerProcess:
        command = [sys.executable, "-m", "airflow", *arguments]
        return start_process(name, command, self.home, env=self.environment(name), cwd=self.home)

    def start(self) -> None:
        """Once the database is migrated, start every component in its own process group."""
        initialised = self.processes["airflow-init"]
        code = initialised.process.wait(timeout=300)
        if code != 0:
            pytest.fail(f"deploy/airflow-init.sh failed (exit {code}):\n{tail(initialised.log)}")
        for component in COMPONENTS:
            self.processes[component] = self._start(component, COMMANDS[component])

    def stop(self) -> None:
        """Stop every process this module started, by its process group: all asked at once, then waited for."""
        for process in self.processes.values():
            if process.process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:  # it ended in between: stop() below reaps it
                    continue
        for process in self.processes.values():
            process.stop()

    def crashed(self) -> str | None:
        for component in COMPONENTS:
            process = self.processes.get(component)
            exited = process.exited() if process is not None else None
            if exited:
                return exited
        return None

    def wait_until_ready(self, dag_ids: tuple[str, ...]) -> None:
        """Wait for a healthy scheduler and dag-processor, a token and the parsed DAGs; unpause them."""
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
                    self.token = self.token or self.login()
                    missing = [d for d in dag_ids if self.request("GET", f"/api/v2/dags/{d}").status_code != 200]
                    if not missing:
                        for dag_id in dag_ids:
                            patched = self.request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
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

    def login(self) -> str:
        """A JWT for the operator from the SimpleAuthManager's token endpoint."""
        response = httpx.post(
            f"{self.base_url}/auth/token", json={"username": ADMIN, "password": self.password}, timeout=30
        )
        assert response.status_code == 201, response.text
        return str(response.json()["access_token"])

    def request(self, method: str, path: str, body: dict | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        return httpx.request(method, f"{self.base_url}{path}", headers=headers, json=body, timeout=30)

    def trigger(self, dag_id: str, conf: dict) -> str:
        """Trigger a manual run as the operator; return its run id."""
        run_id = f"{dag_id}__{secrets.token_hex(4)}"
        response = self.request(
            "POST", f"/api/v2/dags/{dag_id}/dagRuns", {"dag_run_id": run_id, "logical_date": None, "conf": conf}
        )
        assert response.status_code == 200, response.text
        created = response.json()
        assert created["triggering_user_name"] == ADMIN and created["run_type"] == "manual"
        return run_id

    def finished(self, dag_id: str, run_id: str) -> dict:
        """Wait until the run ends; return its record with its task logs (for failure messages)."""
        deadline = time.monotonic() + RUN_TIMEOUT
        while time.monotonic() < deadline:
            crashed = self.crashed()
            if crashed:
                pytest.fail(crashed)
            run = self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}").json()
            if run["state"] in ("success", "failed"):
                # oldest first: the tail is the last task that ran, the one that failed if any did
                logs = sorted(self.task_logs(dag_id, run_id), key=lambda path: path.stat().st_mtime)
                run["task_log"] = "\n".join(path.read_text(encoding="utf-8", errors="replace") for path in logs)
                return run
            time.sleep(0.5)
        latest = max(self.task_logs(dag_id, run_id), key=lambda p: p.stat().st_mtime, default=None)
        pytest.fail(
            f"{dag_id} run {run_id} did not finish in {RUN_TIMEOUT:.0f} s;\n"
            f"--- scheduler:\n{tail(self.home / 'scheduler.log', 1500)}\n"
            f"--- worker:\n{tail(self.home / 'celery-worker.log', 1500)}\n"
            f"--- latest task log {latest}:\n{tail(latest) if latest else '(none)'}"
        )

    def task_logs(self, dag_id: str = "*", run_id: str = "*") -> list[Path]:
        return sorted((self.home / "logs").glob(f"dag_id={dag_id}/run_id={run_id}/**/*.log"))


@dataclass
class Deployment:
    project: Path
    airflow: Airflow
    mlflow: MlflowServer
    services: PostgresRedis
    artifacts: Path
    accounts: MlflowAccounts

    def client(self):
        """An MLflow client that knows only the server's URL (no store, no artifact folder).

        It signs in as whoever the environment names: the reviewer for this module (see the fixture).
        """
        from mlflow.tracking import MlflowClient

        return MlflowClient(tracking_uri=self.mlflow.base_url, registry_uri=self.mlflow.base_url)

    def champion(self) -> str | None:
        from mlflow.exceptions import MlflowException

        try:
            return str(self.client().get_model_version_by_alias(MODEL, "champion").version)
        except MlflowException as e:
            if e.error_code == "RESOURCE_DOES_NOT_EXIST" or "not found" in str(e).lower():
                return None
            raise

    def metadata(self, query: str, params: tuple = ()) -> list[tuple]:
        """Rows of Airflow's metadata database, read as its own user."""
        import psycopg

        account = self.services.account("airflow")
        with psycopg.connect(
            host="127.0.0.1", port=account.port, user=account.user, password=account.password,
            dbname=account.database,
        ) as connection:  # fmt: skip
            return connection.execute(query, params).fetchall()

    def audit_entries(self) -> list:
        with self.open_audit_log() as log:
            return log.entries()

    def verify_audit_log(self):
        with self.open_audit_log() as log:
            return log.verify()

    def open_audit_log(self):
        """The worker's audit log on Postgres, opened with the worker's key."""
        from pipelines.governance.audit_log import open_log

        previous = os.environ.get("FAIRGATE_AUDIT_KEY")
        os.environ["FAIRGATE_AUDIT_KEY"] = AUDIT_KEY
        try:
            return open_log(self.services.account("audit").url("psycopg"))
        finally:
            if previous is None:
                del os.environ["FAIRGATE_AUDIT_KEY"]
            else:
                os.environ["FAIRGATE_AUDIT_KEY"] = previous


def start_mlflow_server(
    port: int, services: PostgresRedis, accounts: MlflowAccounts, artifacts: Path, log_dir: Path
) -> ServerProcess:
    """Start ``mlflow server --app-name basic-auth`` on the Postgres stores, configured as compose configures it.

    The tracking store's URL in ``MLFLOW_BACKEND_STORE_URI``; the basic-auth app's configuration is
    ``deploy/mlflow-auth.ini`` itself, its database ``mlflow_auth`` reached through libpq's ``PG*``
    variables; the admin from ``MLFLOW_AUTH_ADMIN_*``. It serves the artifacts it proxies from
    ``artifacts``; nobody else is told where that is.
    """
    auth_db = services.account("mlflow_auth")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "PG"))}
    env.update(MLFLOW_SERVER_ENVIRONMENT)
    env.update({
        "MLFLOW_BACKEND_STORE_URI": services.account("mlflow").url("psycopg2"),
        "MLFLOW_ARTIFACTS_DESTINATION": artifacts.as_uri(),
        "MLFLOW_AUTH_CONFIG_PATH": str(MLFLOW_AUTH_CONFIG),
        "PGHOST": "127.0.0.1", "PGPORT": str(auth_db.port), "PGUSER": auth_db.user, "PGPASSWORD": auth_db.password,
        "MLFLOW_AUTH_ADMIN_USERNAME": accounts.admin, "MLFLOW_AUTH_ADMIN_PASSWORD": accounts.admin_password,
        "MLFLOW_FLASK_SERVER_SECRET_KEY": accounts.secret_key,
    })  # fmt: skip
    command = [
        sys.executable, "-m", "mlflow", "server", "--app-name", "basic-auth",
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--serve-artifacts",
    ]  # fmt: skip
    return start_process("mlflow-server", command, log_dir, env=env)


def create_mlflow_accounts(tracking_uri: str, accounts: MlflowAccounts, project: Path, log_dir: Path) -> None:
    """Run ``deploy/mlflow_accounts.py`` as compose's mlflow-init job runs it; fail the test with its log."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update(accounts.init_environment(tracking_uri))
    log = log_dir / "mlflow-init.log"
    with log.open("w", encoding="utf-8") as handle:
        ran = subprocess.run(
            [sys.executable, str(REPO / "deploy" / "mlflow_accounts.py"), str(project / "fairgate.yaml")],
            env=env, stdout=handle, stderr=subprocess.STDOUT, timeout=120,
        )  # fmt: skip
    if ran.returncode != 0:
        pytest.fail(f"deploy/mlflow_accounts.py failed (exit {ran.returncode}):\n{tail(log)}")


@pytest.fixture(scope="module")
def deployment(session_root: Path, postgres_redis: PostgresRedis):  # noqa: F811
    started = time.monotonic()
    artifacts = session_root / "prod-mlflow-artifacts"
    artifacts.mkdir()
    mlflow_port = free_port()
    tracking_uri = f"http://127.0.0.1:{mlflow_port}"
    accounts = MlflowAccounts()
    mlflow_logs = session_root / "prod-mlflow"
    mlflow_process = start_mlflow_server(mlflow_port, postgres_redis, accounts, artifacts, mlflow_logs)
    airflow = Airflow(
        session_root / "prod-airflow", session_root / "prod-project", postgres_redis, tracking_uri, accounts
    )
    try:
        make_project(airflow.project, **{"generator.rows_per_month": 600})
        airflow.initialise()  # MLflow and Airflow migrate their databases side by side
        airflow.start()
        wait_for_http(f"{tracking_uri}/health", mlflow_process, STARTUP_TIMEOUT)
        create_mlflow_accounts(tracking_uri, accounts, airflow.project, mlflow_logs)  # before any task signs in
        airflow.wait_until_ready(("retrain", "rollback"))
        print(f"\nproduction deployment ready after {time.monotonic() - started:.1f} s")
        with signed_in(accounts.reviewer, accounts.reviewer_password):  # this module reads as a person would
            yield Deployment(
                airflow.project, airflow, MlflowServer(mlflow_port, mlflow_process), postgres_redis, artifacts,
                accounts,
            )  # fmt: skip
    finally:
        airflow.stop()
        mlflow_process.stop()
        print(f"\nproduction deployment stopped after {time.monotonic() - started:.1f} s")


def test_a_retrain_triggered_through_the_api_promotes_a_champion_on_the_mlflow_server(deployment):
    airflow = deployment.airflow
    run = airflow.finished("retrain", airflow.trigger("retrain", {"interval": FIRST_INTERVAL}))
    assert run["state"] == "success", run["task_log"][-4000:]
    assert deployment.champion() == "1"

    client = deployment.client()
    version = client.get_model_version(MODEL, "1")
    assert version.tags["fairgate.data_interval"] == FIRST_INTERVAL
    assert version.tags["fairgate.gate.decision"] == "passed"
    # the artifacts went through the server's proxy into the folder behind it
    assert client.get_run(version.run_id).info.artifact_uri.startswith("mlflow-artifacts:")
    assert {artifact.path for artifact in client.list_artifacts(version.run_id)}
    assert any(deployment.artifacts.rglob("MLmodel"))
    # every task went through Redis to the Celery worker
    worker_log = (airflow.home / "celery-worker.log").read_text(encoding="utf-8")
    for task in ("run_reference", "ingest", "train", "gate", "register", "promote"):
        assert f"run_id={run['dag_run_id']}/task_id={task}/" in worker_log, task


def test_the_scheduler_runs_a_backfill_created_through_the_api_on_its_own(deployment):
    airflow = deployment.airflow
    from_date, to_date = BACKFILL_WINDOW
    created = airflow.request(
        "POST", "/api/v2/backfills",
        {"dag_id": "retrain", "from_date": from_date, "to_date": to_date, "max_active_runs": 1},
    )  # fmt: skip
    assert created.status_code == 200, created.text
    (run,) = airflow.request("GET", "/api/v2/dags/retrain/dagRuns?run_type=backfill").json()["dag_runs"]
    assert run["run_type"] == "backfill" and run["logical_date"] == BACKFILLED_LOGICAL_DATE, run
    finished = airflow.finished("retrain", run["dag_run_id"])
    assert finished["state"] == "success", finished["task_log"][-4000:]

    version = deployment.client().get_model_version(MODEL, "2")
    assert version.tags["fairgate.data_interval"] == BACKFILLED_INTERVAL
    assert version.tags["fairgate.airflow_run_id"] == run["dag_run_id"]
    assert version.tags["fairgate.gate.decision"] == "passed"
    assert deployment.champion() == "2"
    # Airflow's own record of it, in its metadata database on Postgres
    assert deployment.metadata("SELECT run_type, state FROM dag_run WHERE run_id = %s", (run["dag_run_id"],)) == [
        ("backfill", "success")
    ]
    recorded = [e for e in deployment.audit_entries() if e.idempotency_key.startswith(run["dag_run_id"])]
    assert [e.kind for e in recorded] == ["gate_decision", "registration", "promotion"]
    assert BACKFILLED_INTERVAL in recorded[0].payload["summary"]


def test_a_rollback_through_the_api_moves_champion_back_and_is_audited_on_postgres(deployment):
    airflow = deployment.airflow
    rollback = airflow.finished("rollback", airflow.trigger("rollback", {"reason": ROLLBACK_REASON}))
    assert rollback["state"] == "success", rollback["task_log"][-4000:]
    assert deployment.champion() == "1"
    from pipelines.governance import registry
    move = registry.alias_history(deployment.client(), MODEL)[-1]
    assert (move["action"], move["from_version"], move["to_version"]) == ("rollback", "2", "1")
    assert (move["actor"], move["reason"]) == (ADMIN, ROLLBACK_REASON)

    entries = deployment.audit_entries()
    assert [(e.kind, e.model_version) for e in entries] == [
        ("gate_decision", None), ("registration", 1), ("promotion", 1),
        ("gate_decision", None), ("registration", 2), ("promotion", 2),
        ("rollback", 1), ("freeze", None),
    ]  # fmt: skip
    assert {e.actor for e in entries} == {ADMIN}  # the triggering user, for the backfill too
    assert FIRST_INTERVAL in entries[0].payload["summary"] and BACKFILLED_INTERVAL in entries[3].payload["summary"]
    assert entries[6].payload["reason"] == ROLLBACK_REASON
    assert "rollback of champion 2 -> 1" in entries[7].payload["reason"]
    verified = deployment.verify_audit_log()
    assert verified.ok and verified.checked == len(entries), verified


def test_the_reviewer_reads_the_registry_but_its_move_of_champion_is_refused(deployment):
    from mlflow.exceptions import MlflowException

    client = deployment.client()  # the reviewer, READ
    assert client.get_registered_model(MODEL).aliases["champion"] == "1"
    assert client.get_model_version(MODEL, "2").tags["fairgate.gate.decision"] == "passed"
    assert {artifact.path for artifact in client.list_artifacts(client.get_model_version(MODEL, "2").run_id)}
    with pytest.raises(MlflowException) as refused:
        client.set_registered_model_alias(MODEL, "champion", "2")
    assert (refused.value.error_code, refused.value.get_http_status_code()) == ("PERMISSION_DENIED", 403)
    with pytest.raises(MlflowException) as untagged:
        client.set_model_version_tag(MODEL, "2", "fairgate.stable_fair", "false")
    assert untagged.value.error_code == "PERMISSION_DENIED"
    assert deployment.champion() == "1"
    assert client.get_model_version(MODEL, "2").tags.get("fairgate.stable_fair") != "false"
    # the same move over plain HTTP: refused for the reviewer (403), for nobody (401)
    move = {"name": MODEL, "alias": "champion", "version": "2"}
    url = f"{deployment.mlflow.base_url}/api/2.0/mlflow/registered-models/alias"
    reviewer = (deployment.accounts.reviewer, deployment.accounts.reviewer_password)
    assert httpx.post(url, json=move, auth=reviewer, timeout=30).status_code == 403
    assert httpx.post(url, json=move, timeout=30).status_code == 401
    assert deployment.champion() == "1"


def test_the_grants_are_manage_for_the_service_account_and_read_for_the_reviewer(deployment):
    from mlflow.exceptions import MlflowException
    from mlflow.server.auth.client import AuthServiceClient

    accounts, url = deployment.accounts, deployment.mlflow.base_url
    with signed_in(accounts.admin, accounts.admin_password):
        auth = AuthServiceClient(url)
        granted = {
            user: auth.get_user_permission(user, "registered_model", MODEL).permission
            for user in (accounts.service, accounts.reviewer)
        }
        assert granted == {accounts.service: "MANAGE", accounts.reviewer: "READ"}
        assert not auth.get_user(accounts.service).is_admin and not auth.get_user(accounts.reviewer).is_admin
    with signed_in(accounts.service, accounts.service_password), pytest.raises(MlflowException) as refused:
        AuthServiceClient(url).create_user("intruder", secrets.token_hex(16))  # MANAGE on one model, no admin
    assert refused.value.error_code == "PERMISSION_DENIED"
    # run again (a restart of compose's mlflow-init job): nothing changes, nothing fails
    create_mlflow_accounts(url, accounts, deployment.project, deployment.mlflow.server.log.parent)
    with signed_in(accounts.admin, accounts.admin_password):
        assert AuthServiceClient(url).get_user_permission(accounts.service, "registered_model", MODEL).permission == (
            "MANAGE"
        )


def test_an_anonymous_client_is_refused_everything(deployment):
    from mlflow.exceptions import MlflowException

    with signed_in(None, None), pytest.raises(MlflowException) as refused:
        deployment.client().get_registered_model(MODEL)
    assert (refused.value.error_code, refused.value.get_http_status_code()) == ("UNAUTHENTICATED", 401)
    assert httpx.get(f"{deployment.mlflow.base_url}/api/2.0/mlflow/experiments/search", timeout=30).status_code == 401


def fairgate_status(deployment: Deployment, username: str | None, password: str | None):
    """``fairgate status`` as a worker runs fairgate: the project, the stores, these MLflow credentials."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "FAIRGATE_"))}
    env.update({
        "FAIRGATE_HOME": str(deployment.project),
        "MLFLOW_TRACKING_URI": deployment.mlflow.base_url,
        "FAIRGATE_AUDIT_LOG_URL": deployment.services.account("audit").url("psycopg"),
        "FAIRGATE_AUDIT_KEY": AUDIT_KEY,  # as compose gives it to the worker
    })  # fmt: skip
    env.update({key: value for key, value in zip(CREDENTIALS, (username, password), strict=True) if value is not None})
    fairgate = Path(sys.executable).parent / "fairgate"
    return subprocess.run([str(fairgate), "status"], env=env, capture_output=True, text=True, timeout=120)


def test_fairgate_refuses_bad_mlflow_credentials_in_one_line_and_works_with_the_service_account(deployment):
    accounts = deployment.accounts
    wrong = fairgate_status(deployment, accounts.service, "not-" + accounts.service_password)
    assert wrong.returncode == 2, wrong.stdout + wrong.stderr
    assert wrong.stderr.count("\n") == 1 and "Traceback" not in wrong.stderr, wrong.stderr
    assert f"refused user '{accounts.service}' (HTTP 401" in wrong.stderr
    assert accounts.service_password not in wrong.stdout + wrong.stderr
    missing = fairgate_status(deployment, None, None)
    assert missing.returncode == 2 and "without credentials" in missing.stderr, missing.stderr
    assert missing.stderr.count("\n") == 1
    right = fairgate_status(deployment, accounts.service, accounts.service_password)
    assert right.returncode == 0, right.stderr
    assert "champion: version 1" in right.stdout


TEXT_SUFFIXES = {".log", ".json", ".md", ".txt", ".yaml", ".yml", ".html", ".csv", ".cfg", ".conf"}


def text_files(folder: Path) -> list[Path]:
    """Every file of ``folder`` worth reading for a secret (text by suffix, DVC's config, MLflow's MLmodel)."""
    return [
        path for path in folder.rglob("*")
        if path.is_file() and ".git" not in path.parts
        and (path.suffix in TEXT_SUFFIXES or path.name in ("config", "MLmodel"))
    ]  # fmt: skip


def test_no_password_reaches_a_log_a_file_or_mlflow(deployment):
    airflow = deployment.airflow
    passwords_file = airflow.home / "passwords.json"
    assert passwords_file.stat().st_mode & 0o777 == 0o600  # written by airflow-init for the api-server only
    assert json.loads(passwords_file.read_text(encoding="utf-8")) == {ADMIN: airflow.password}
    hidden = [*deployment.services.passwords, airflow.password, *deployment.accounts.passwords]
    assert airflow.task_logs(), "no task log was written"
    files = [
        *(path for path in airflow.home.rglob("*") if path.is_file() and path != passwords_file),
        *deployment.mlflow.server.log.parent.glob("*.log"),
        *text_files(deployment.project),
        *text_files(deployment.artifacts),
    ]
    assert len(files) > 50
    for path in sorted(set(files)):
        text = path.read_text(encoding="utf-8", errors="replace")
        leaked = [number for number, secret in enumerate(hidden) if secret in text]
        assert not leaked, f"{path} holds password(s) #{leaked} of the services"

    client = deployment.client()
    for experiment in client.search_experiments():
        for run in client.search_runs([experiment.experiment_id]):
            recorded = json.dumps([run.data.params, run.data.tags])
            assert not [s for s in hidden if s in recorded], f"MLflow run {run.info.run_id} holds a password"
    for version in client.search_model_versions(f"name = '{MODEL}'"):
        assert not [s for s in hidden if s in json.dumps(version.tags)], f"version {version.version} holds a password"
