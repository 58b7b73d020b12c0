"""docker-compose.yml, its Dockerfile, .env.example and deploy/, validated without a Docker engine.

This machine has no Docker engine, so the deployment is checked statically:
the file parses; every service the design needs exists; every image is
pinned; every ``${VAR}`` is required (``:?``) and listed in ``.env.example``,
which holds no value; long-running services have health checks and start in
order of health, one-shot jobs in order of completion; the Airflow services
mount ``dags/``, ``plugins/``, ``pipelines/`` and ``fairgate.yaml``; clients
reach MLflow through its proxy without storage credentials; MLflow runs its
basic-auth app on its own database, and only the workers hold fairgate's
service account; the workers scale.
The Dockerfile installs what ``make`` installs. The one script that talks to a
database, ``deploy/postgres-init.sh``, runs against the session's real
Postgres. The same path runs for real in ``tests/e2e/test_production_path.py``.
"""

from __future__ import annotations

import configparser
import os
import py_compile
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.postgres_redis import SUPERUSER, postgres_binaries, scratch_postgres

REPO = Path(__file__).resolve().parents[2]
COMPOSE_TEXT = (REPO / "docker-compose.yml").read_text(encoding="utf-8")
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
SERVICES: dict[str, dict] = COMPOSE["services"]
# ${X}, ${X:?message}, ${X:-default}; $${X} is the container's own variable, left alone by compose
VARIABLE = re.compile(r"(?<!\$)\$\{([A-Za-z0-9_]+)([^}]*)\}")
ENV_EXAMPLE = (REPO / ".env.example").read_text(encoding="utf-8")
LISTED = [line.split("=", 1) for line in ENV_EXAMPLE.splitlines() if line.strip() and not line.startswith("#")]

AIRFLOW_COMPONENTS = {
    "airflow-api-server": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
    "airflow-worker": "celery",
}
ONE_SHOT_JOBS = {"minio-buckets", "mlflow-init", "airflow-init"}
NEEDED = {"postgres", "redis", "minio", "mlflow", *AIRFLOW_COMPONENTS, *ONE_SHOT_JOBS}
PINNED_TAG = re.compile(r"^[^:@\s]+:(\d+\.\d+[\w.\-]*|RELEASE\.[\w\-]+)$")
CODE_MOUNTS = {
    "/opt/fairgate/dags": "./dags",
    "/opt/fairgate/plugins": "./plugins",
    "/opt/fairgate/pipelines": "./pipelines",
    "/opt/fairgate/project/fairgate.yaml": "./fairgate.yaml",
}


def environment(name: str) -> dict[str, str]:
    return {key: str(value) for key, value in (SERVICES[name].get("environment") or {}).items()}


def mounts(name: str) -> dict[str, str]:
    """Target -> source of a service's volumes."""
    return {volume.split(":")[1]: volume.split(":")[0] for volume in SERVICES[name].get("volumes", [])}


def command(name: str) -> str:
    value = SERVICES[name].get("command") or SERVICES[name].get("entrypoint") or []
    return " ".join(value) if isinstance(value, list) else str(value)


def test_every_service_the_design_needs_exists():
    assert set(SERVICES) == NEEDED, set(SERVICES) ^ NEEDED
    for service, component in AIRFLOW_COMPONENTS.items():
        assert command(service).startswith(f"airflow {component}"), service


def test_every_image_is_pinned():
    version = re.search(r'^version = "([^"]+)"', (REPO / "pyproject.toml").read_text(encoding="utf-8"), re.M)
    assert version is not None
    for name, service in SERVICES.items():
        image = service.get("image")
        assert image, f"{name} has no image"
        assert PINNED_TAG.match(image), f"{name}: {image} is not pinned to a version"
        if "build" in service:  # the project's own image carries the project's version
            assert image == f"fairgate:{version.group(1)}", name


def test_every_variable_is_required_and_listed_in_env_example():
    used = {match.group(1) for match in VARIABLE.finditer(COMPOSE_TEXT)}
    listed = [key for key, _ in LISTED]
    assert used and set(used) == set(listed), {"not listed": used - set(listed), "not used": set(listed) - used}
    assert len(listed) == len(set(listed)), "a variable is listed twice"
    for match in VARIABLE.finditer(COMPOSE_TEXT):
        name, rest = match.groups()
        assert rest.startswith(":?") and len(rest) > 2, f"${{{name}}} must be ${{{name}:?message}}: compose refuses"


def test_env_example_holds_no_value_and_env_is_never_committed():
    assert LISTED and all(value == "" for _, value in LISTED), [key for key, value in LISTED if value]
    assert ".env" in (REPO / ".gitignore").read_text(encoding="utf-8").splitlines()


def test_no_secret_is_written_in_the_compose_file():
    for name in SERVICES:
        for key, value in environment(name).items():
            if re.search(r"(PASSWORD|SECRET|_KEY|_AUTH)$", key):
                assert re.fullmatch(r"\$\{[A-Z0-9_]+:\?[^}]+\}", value), f"{name}.{key} must come from .env"
            for credentials in re.findall(r"://([^/@\s]*)@", value):  # user:password@ in a URL
                assert all(VARIABLE.fullmatch(part) for part in credentials.split(":") if part), f"{name}.{key}"


def test_long_running_services_have_health_checks_and_jobs_run_once():
    for name, service in SERVICES.items():
        if name in ONE_SHOT_JOBS:
            assert service.get("restart") == "no", name
            assert "healthcheck" not in service, f"{name} is a job: it completes, it is never healthy"
        else:
            test = (service.get("healthcheck") or {}).get("test")
            assert test and test != ["CMD-SHELL", "true"], f"{name} has no real health check"
            assert service.get("restart") == "unless-stopped", name


def test_services_start_in_order_of_health_and_completion():
    for name, service in SERVICES.items():
        for dependency, rule in (service.get("depends_on") or {}).items():
            expected = "service_completed_successfully" if dependency in ONE_SHOT_JOBS else "service_healthy"
            assert rule == {"condition": expected}, f"{name} -> {dependency}: {rule}"

    def needs(name: str) -> set[str]:
        return set(SERVICES[name].get("depends_on") or {})

    assert needs("minio-buckets") == {"minio"}
    assert needs("mlflow") == {"postgres", "minio-buckets"}
    assert needs("mlflow-init") == {"mlflow"}
    assert needs("airflow-init") == {"postgres", "minio-buckets"}
    for service in AIRFLOW_COMPONENTS:
        assert {"postgres", "redis", "airflow-init"} <= needs(service), service
    assert {"mlflow", "airflow-api-server"} <= needs("airflow-worker")  # tasks log to MLflow, report to the API
    assert "mlflow-init" in needs("airflow-worker")  # the service account exists before a task signs in


def test_airflow_services_mount_the_code_and_the_config():
    for name in [*AIRFLOW_COMPONENTS, "airflow-init"]:
        mounted = mounts(name)
        for target, source in CODE_MOUNTS.items():
            assert mounted.get(target) == source, f"{name}: {source} is not mounted at {target}"
        assert mounted.get("/opt/fairgate/project") == "fairgate-project", f"{name}: shared project state"
        env = environment(name)
        assert env["FAIRGATE_HOME"] == "/opt/fairgate/project"
        assert env["AIRFLOW__CORE__DAGS_FOLDER"] == "/opt/fairgate/dags"
        assert env["AIRFLOW__CORE__PLUGINS_FOLDER"] == "/opt/fairgate/plugins"


def test_airflow_runs_the_celery_executor_on_redis_and_postgres():
    for name in [*AIRFLOW_COMPONENTS, "airflow-init"]:
        env = environment(name)
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://${AIRFLOW_DB_USER")
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith("@postgres:5432/airflow")
        assert env["AIRFLOW__CELERY__BROKER_URL"].endswith("@redis:6379/0")
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql://")
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-api-server:8080/execution/"


def test_each_store_has_its_own_database_and_user():
    urls = {
        "airflow": environment("airflow-scheduler")["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"],
        "mlflow": environment("mlflow")["MLFLOW_BACKEND_STORE_URI"],
        "fairgate_audit": environment("airflow-worker")["FAIRGATE_AUDIT_LOG_URL"],
    }
    users = {database: re.search(r"://\$\{([A-Z_]+):", url).group(1) for database, url in urls.items()}
    assert users == {"airflow": "AIRFLOW_DB_USER", "mlflow": "MLFLOW_DB_USER", "fairgate_audit": "AUDIT_DB_USER"}
    for database, url in urls.items():
        assert url.endswith(f"@postgres:5432/{database}"), url
    # the MLflow server's users and permissions: a fourth database, its user given to libpq (PGUSER)
    assert environment("mlflow")["PGUSER"].startswith("${MLFLOW_AUTH_DB_USER:?")
    assert auth_config()["database_uri"].endswith("/mlflow_auth")
    assert urls["fairgate_audit"].startswith("postgresql+psycopg://")  # the audit log's driver: psycopg 3
    assert mounts("postgres")["/docker-entrypoint-initdb.d/10-fairgate.sh"] == "./deploy/postgres-init.sh"


def test_mlflow_serves_the_artifacts_so_clients_need_no_storage_credentials():
    env = environment("mlflow")
    assert "--serve-artifacts" in command("mlflow")
    assert env["MLFLOW_ARTIFACTS_DESTINATION"] == "s3://mlflow-artifacts"
    assert env["MLFLOW_S3_ENDPOINT_URL"] == "http://minio:9000"
    assert env["AWS_ACCESS_KEY_ID"] == "${MLFLOW_S3_ACCESS_KEY:?set MLFLOW_S3_ACCESS_KEY in .env}"
    assert "--allowed-hosts=mlflow:5000," in command("mlflow")  # the workers' Host header
    worker = environment("airflow-worker")
    assert worker["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    assert not [key for key in worker if key.startswith("MLFLOW_S3")]
    assert "MLFLOW_S3_ACCESS_KEY" not in worker["AWS_ACCESS_KEY_ID"]  # the worker's key is DVC's, not MLflow's
    assert command("minio-buckets") == "/bin/sh /usr/local/bin/minio-buckets.sh"
    assert mounts("minio-buckets")["/usr/local/bin/minio-buckets.sh"] == "./deploy/minio-buckets.sh"
    buckets = (REPO / "deploy" / "minio-buckets.sh").read_text(encoding="utf-8")
    assert "grant_bucket mlflow-artifacts" in buckets and "grant_bucket dvc-remote" in buckets


def test_only_the_workers_hold_the_stores_credentials():
    runtime = {
        "FAIRGATE_AUDIT_LOG_URL", "FAIRGATE_AUDIT_KEY", "MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME",
        "MLFLOW_TRACKING_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
    }  # fmt: skip
    for name in AIRFLOW_COMPONENTS:
        held = runtime & set(environment(name))
        assert held == (runtime if name == "airflow-worker" else set()), name
    assert "AIRFLOW_ADMIN_PASSWORD" in environment("airflow-init")
    with_passwords_file = {name for name in SERVICES if "/opt/airflow/auth" in mounts(name)}
    assert with_passwords_file == {"airflow-init", "airflow-api-server"}
    assert not [name for name in SERVICES if name != "airflow-init" and "AIRFLOW_ADMIN_PASSWORD" in environment(name)]


def auth_config() -> configparser.SectionProxy:
    """``deploy/mlflow-auth.ini``, the MLflow server's basic-auth configuration, as MLflow reads it."""
    parser = configparser.ConfigParser()
    assert parser.read(REPO / "deploy" / "mlflow-auth.ini", encoding="utf-8")
    return parser["mlflow"]


def test_mlflow_runs_its_basic_auth_app_on_its_own_database_with_no_secret_in_a_file():
    assert "--app-name=basic-auth" in command("mlflow").split()
    env = environment("mlflow")
    assert mounts("mlflow")[env["MLFLOW_AUTH_CONFIG_PATH"]] == "./deploy/mlflow-auth.ini"
    config = auth_config()
    assert config["default_permission"] == "READ"  # people read; writes need a grant
    assert config["authorization_function"] == "mlflow.server.auth:authenticate_request_basic_auth"
    assert config["grant_default_workspace_access"] == "false"
    assert config.getint("auth_cache_ttl_seconds") == 60  # one password check a minute per user and worker
    # neither user nor password nor host in the file: libpq reads them from the PG* variables
    assert config["database_uri"] == "postgresql+psycopg2:///mlflow_auth"
    assert "admin_password" not in config and "admin_username" not in config
    assert (env["PGHOST"], env["PGPORT"]) == ("postgres", "5432")
    assert env["PGUSER"] == "${MLFLOW_AUTH_DB_USER:?set MLFLOW_AUTH_DB_USER in .env}"
    assert env["PGPASSWORD"] == "${MLFLOW_AUTH_DB_PASSWORD:?set MLFLOW_AUTH_DB_PASSWORD in .env}"
    assert env["MLFLOW_AUTH_ADMIN_USERNAME"] == "${MLFLOW_ADMIN_USER:?set MLFLOW_ADMIN_USER in .env}"
    assert env["MLFLOW_AUTH_ADMIN_PASSWORD"] == "${MLFLOW_ADMIN_PASSWORD:?set MLFLOW_ADMIN_PASSWORD in .env}"
    assert env["MLFLOW_FLASK_SERVER_SECRET_KEY"].startswith("${MLFLOW_SERVER_SECRET_KEY:?")
    init = (REPO / "deploy" / "postgres-init.sh").read_text(encoding="utf-8")
    assert 'create_store "${MLFLOW_AUTH_DB_USER:?}" "${MLFLOW_AUTH_DB_PASSWORD:?}" mlflow_auth' in init
    postgres = environment("postgres")
    assert {"MLFLOW_AUTH_DB_USER", "MLFLOW_AUTH_DB_PASSWORD"} <= set(postgres)


def test_mlflow_init_creates_the_service_account_and_the_reviewer_from_env():
    script = "deploy/mlflow_accounts.py"
    assert command("mlflow-init") == f"python /opt/fairgate/{script} /opt/fairgate/project/fairgate.yaml"
    mounted = mounts("mlflow-init")
    assert mounted["/opt/fairgate/deploy"] == "./deploy"
    assert mounted["/opt/fairgate/project/fairgate.yaml"] == "./fairgate.yaml"  # the model's name, from config
    env = environment("mlflow-init")
    assert env["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    for role in ("ADMIN", "SERVICE", "REVIEWER"):
        assert env[f"MLFLOW_{role}_USER"] == f"${{MLFLOW_{role}_USER:?set MLFLOW_{role}_USER in .env}}"
        assert env[f"MLFLOW_{role}_PASSWORD"] == f"${{MLFLOW_{role}_PASSWORD:?set MLFLOW_{role}_PASSWORD in .env}}"
    py_compile.compile(str(REPO / script), doraise=True)
    text = (REPO / script).read_text(encoding="utf-8")
    assert 'SERVICE_PERMISSION, REVIEWER_PERMISSION = "MANAGE", "READ"' in text
    assert "print(" not in text and "set -x" not in text


def test_only_the_workers_sign_in_to_mlflow_and_only_as_the_service_account():
    worker = environment("airflow-worker")
    assert worker["MLFLOW_TRACKING_USERNAME"] == "${MLFLOW_SERVICE_USER:?set MLFLOW_SERVICE_USER in .env}"
    assert worker["MLFLOW_TRACKING_PASSWORD"] == "${MLFLOW_SERVICE_PASSWORD:?set MLFLOW_SERVICE_PASSWORD in .env}"

    def holders(variable: str) -> set[str]:
        return {name for name in SERVICES if any(f"${{{variable}:" in value for value in environment(name).values())}

    assert holders("MLFLOW_ADMIN_PASSWORD") == {"mlflow", "mlflow-init"}
    assert holders("MLFLOW_SERVICE_PASSWORD") == {"mlflow-init", "airflow-worker"}
    assert holders("MLFLOW_REVIEWER_PASSWORD") == {"mlflow-init"}
    assert holders("MLFLOW_AUTH_DB_PASSWORD") == {"postgres", "mlflow"}
    assert holders("MLFLOW_SERVER_SECRET_KEY") == {"mlflow"}


def test_workers_scale_and_preload_the_pipeline():
    worker = SERVICES["airflow-worker"]
    assert "container_name" not in worker and "ports" not in worker  # docker compose up --scale airflow-worker=N
    assert not [name for name, service in SERVICES.items() if "container_name" in service]
    env = environment("airflow-worker")
    assert (
        env["PYTHONPATH"] == "/opt/fairgate/deploy" and mounts("airflow-worker")["/opt/fairgate/deploy"] == "./deploy"
    )
    module, attribute = env["AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS"].split(".")
    assert re.search(rf"^{attribute} = ", (REPO / "deploy" / f"{module}.py").read_text(encoding="utf-8"), re.M)


def test_every_script_compose_runs_exists_is_valid_shell_and_echoes_no_secret():
    scripts = {
        "deploy/postgres-init.sh": "bash",
        "deploy/airflow-init.sh": "bash",
        "deploy/minio-buckets.sh": "sh",
    }
    assert command("airflow-init") == "bash /opt/fairgate/deploy/airflow-init.sh"
    for script, shell in scripts.items():
        assert f"./{script}:" in COMPOSE_TEXT or script == "deploy/airflow-init.sh", f"{script} is not mounted"
        path = REPO / script
        assert os.access(path, os.X_OK), f"{script} is not executable"
        checked = subprocess.run([shell, "-n", str(path)], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr
        text = path.read_text(encoding="utf-8")
        assert "set -x" not in text and not re.search(r"echo[^\n]*(PASSWORD|SECRET)", text), script


def test_the_image_installs_what_make_installs():
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    uv_version = re.search(r"^UV_VERSION := (\S+)", makefile, re.M).group(1)
    assert f"ARG UV_VERSION={uv_version}" in dockerfile
    assert "uv pip sync" in makefile and "requirements.lock" in makefile
    assert "uv pip sync --no-cache --python /opt/venv/bin/python requirements.lock" in dockerfile
    assert "uv pip install --no-cache --python /opt/venv/bin/python --no-deps -e ." in dockerfile
    installs = re.findall(r"(?:pip|uv pip) install[^\n&\\]*", dockerfile)
    assert installs == [
        'pip install --no-cache-dir "uv==${UV_VERSION}" ',
        "uv pip install --no-cache --python /opt/venv/bin/python --no-deps -e . ",
    ], installs  # nothing outside requirements.lock
    assert re.search(r"^FROM python:3\.11\.\d+-slim-bookworm$", dockerfile, re.M)
    assert re.search(r"^USER fairgate$", dockerfile, re.M)


def test_the_pinned_set_reaches_the_object_store():
    """The MLflow server writes artifacts to S3 (boto3) and runs its basic-auth app (flask-wtf); DVC uses dvc-s3."""
    pinned = {
        line.split("==")[0].lower() for line in (REPO / "requirements.lock").read_text(encoding="utf-8").splitlines()
        if "==" in line and not line.startswith((" ", "#"))
    }  # fmt: skip
    needed = {"boto3", "dvc-s3", "psycopg2-binary", "psycopg", "apache-airflow-providers-celery", "redis", "flask-wtf"}
    missing = needed - pinned
    assert not missing, f"requirements.lock does not pin {sorted(missing)}: add them to requirements.in, make lock"


def test_postgres_init_creates_one_database_per_store_each_closed_to_the_others(session_root):
    """deploy/postgres-init.sh, unchanged, as the postgres image runs it, on a fresh real Postgres (four stores)."""
    import psycopg

    users = {"AIRFLOW": "airflow_owner", "MLFLOW": "mlflow_owner", "MLFLOW_AUTH": "auth_owner", "AUDIT": "audit_owner"}
    passwords = {key: f"pw'with\"quotes-{key}-{os.urandom(4).hex()}" for key in users}
    databases = {"AIRFLOW": "airflow", "MLFLOW": "mlflow", "MLFLOW_AUTH": "mlflow_auth", "AUDIT": "fairgate_audit"}
    with scratch_postgres(session_root, f"postgres-init-{os.urandom(3).hex()}") as postgres:
        env = {
            **os.environ,
            "PATH": f"{postgres_binaries()}{os.pathsep}{os.environ['PATH']}",
            "PGHOST": "127.0.0.1",
            "PGPORT": str(postgres.port),
            "PGPASSWORD": postgres.superuser_password,
            "POSTGRES_USER": SUPERUSER,
            **{f"{key}_DB_USER": user for key, user in users.items()},
            **{f"{key}_DB_PASSWORD": password for key, password in passwords.items()},
        }
        ran = subprocess.run(
            ["bash", str(REPO / "deploy" / "postgres-init.sh")], env=env, capture_output=True, text=True
        )
        assert ran.returncode == 0, ran.stderr
        assert not [p for p in passwords.values() if p in ran.stdout + ran.stderr]

        def connect(key: str, database: str):
            return psycopg.connect(
                host="127.0.0.1", port=postgres.port, user=users[key], password=passwords[key], dbname=database,
                connect_timeout=5,
            )  # fmt: skip

        for key, database in databases.items():
            with connect(key, database) as own:
                assert own.execute("SELECT current_user, current_database()").fetchone() == (users[key], database)
            for other in set(databases) - {key}:
                with pytest.raises(psycopg.OperationalError, match="CONNECT privilege"):
                    connect(key, databases[other])
