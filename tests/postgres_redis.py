"""Postgres and Redis for the production-path tests, from Debian's packages, started and stopped by the session.

The production path of fairgate (see ``docker-compose.yml``) keeps Airflow's
metadata, the MLflow store and the audit log in Postgres, in separate databases
owned by separate users, and uses Redis as the Celery broker. These tests run
that path for real on this machine, with no Docker engine:

- ``initdb`` creates a cluster in ``<session root>/services/postgres`` and
  ``postgres`` serves it on 127.0.0.1, on a free port, with its unix socket in
  the same folder and password authentication (SCRAM) for every connection;
- the superuser creates the databases ``airflow``, ``mlflow``,
  ``mlflow_auth`` and ``fairgate_audit``, each owned by its own user with its own random password,
  as ``deploy/postgres-init.sh`` does in compose;
- ``redis-server`` serves on 127.0.0.1, on a free port, with a password and no
  persistence (no RDB snapshot, no append-only file).

Postgres refuses to run as root: when the session runs as root, the cluster
folder belongs to the ``postgres`` OS user, the servers run as that user, and
the session root gets the "search" permission for others (o+x, no listing) so
that user can reach its folder; everything else in the session root keeps its
own permissions.

Every process is started in its own process group (``tests.servers``) and
stopped by its pid: SIGTERM to the group (every Postgres backend ends its
session, then the postmaster shuts down), SIGKILL after a timeout.

Missing binaries fail the test with the Debian packages to install; these tests
never skip.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.servers import ServerProcess, free_port, start_process, tail

POSTGRES_ROOT = Path("/usr/lib/postgresql")
REDIS_SERVER = Path("/usr/bin/redis-server")
POSTGRES_OS_USER = "postgres"
SUPERUSER = "fairgate_admin"
STARTUP_TIMEOUT = 30.0
# test-only speed: nothing here must survive a crash of the machine
POSTGRES_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "shared_buffers": "64MB",
}
# purpose -> (database, user): the same layout as deploy/postgres-init.sh
DATABASES = {
    "airflow": ("airflow", "airflow"),
    "mlflow": ("mlflow", "mlflow"),
    "mlflow_auth": ("mlflow_auth", "mlflow_auth"),  # the MLflow server's users and permissions (basic-auth app)
    "audit": ("fairgate_audit", "audit"),
}
ERR_MISSING = (
    "{what} is not installed ({looked_for}): the production-path tests need Debian's packages "
    "`postgresql` and `redis-server` (apt-get install postgresql redis-server); they never skip"
)
ERR_NAME = "database and user names are lower-case letters, digits and '_', starting with a letter; found {name!r}"
NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def new_password() -> str:
    """A random password that needs no quoting in a URL, a shell or a SQL literal."""
    return secrets.token_hex(16)


@dataclass(frozen=True)
class DatabaseAccount:
    """One database and the user that owns it."""

    database: str
    user: str
    password: str
    port: int

    def url(self, driver: str = "psycopg") -> str:
        """The SQLAlchemy URL, password included: ``postgresql+<driver>://user:password@127.0.0.1:port/db``."""
        return f"postgresql+{driver}://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.database}"


@dataclass
class PostgresServer:
    """A running Postgres cluster, its superuser and the databases created on it."""

    folder: Path
    port: int
    superuser_password: str
    server: ServerProcess
    accounts: dict[str, DatabaseAccount] = field(default_factory=dict)

    def admin_connection(self, database: str = "postgres"):
        """A psycopg connection as the superuser (autocommit)."""
        import psycopg

        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user=SUPERUSER,
            password=self.superuser_password,
            dbname=database,
            autocommit=True,
            connect_timeout=5,
        )

    def create_database(self, database: str, user: str) -> DatabaseAccount:
        """Create ``user`` with a new random password and a database it owns (nobody else may connect)."""
        for name in (database, user):
            if not NAME.match(name):
                raise ValueError(ERR_NAME.format(name=name))
        account = DatabaseAccount(database, user, new_password(), self.port)
        with self.admin_connection() as connection:
            connection.execute(f"CREATE ROLE {user} LOGIN PASSWORD '{account.password}'")
            connection.execute(f"CREATE DATABASE {database} OWNER {user}")
            connection.execute(f"REVOKE ALL ON DATABASE {database} FROM PUBLIC")
        return account

    def stop(self) -> None:
        """Stop the postmaster and its backends by their process group."""
        self.server.stop()


@dataclass
class RedisServer:
    """A running redis-server with a password and no persistence."""

    port: int
    password: str
    server: ServerProcess

    def url(self, database: int = 0) -> str:
        """The broker URL, password included."""
        return f"redis://:{self.password}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        """Stop redis-server by its process group."""
        self.server.stop()


@dataclass
class PostgresRedis:
    """Postgres with the airflow, mlflow and audit databases, and Redis, for one test session."""

    postgres: PostgresServer
    redis: RedisServer

    def account(self, purpose: str) -> DatabaseAccount:
        """The database account for ``airflow``, ``mlflow``, ``mlflow_auth`` or ``audit``."""
        return self.postgres.accounts[purpose]

    @property
    def passwords(self) -> list[str]:
        """Every password these services know: none of them may appear in a log."""
        return [
            self.postgres.superuser_password,
            self.redis.password,
            *(account.password for account in self.postgres.accounts.values()),
        ]

    def stop(self) -> None:
        """Stop both servers (safe to call twice)."""
        self.redis.stop()
        self.postgres.stop()


def postgres_binaries() -> Path:
    """The ``bin`` folder of the newest Postgres installed from Debian's packages."""
    candidates = sorted(
        (path for path in POSTGRES_ROOT.glob("*/bin") if (path / "postgres").is_file() and (path / "initdb").is_file()),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
    )
    if not candidates:
        pytest.fail(ERR_MISSING.format(what="PostgreSQL", looked_for=f"{POSTGRES_ROOT}/*/bin/postgres and initdb"))
    return candidates[-1]


def _runs_as_root() -> bool:
    return os.geteuid() == 0


def _as_server_user() -> dict[str, object]:
    """Popen arguments that drop root to the postgres OS user (Postgres refuses to run as root)."""
    return {"user": POSTGRES_OS_USER, "group": POSTGRES_OS_USER, "extra_groups": []} if _runs_as_root() else {}


def _give_to_server_user(path: Path) -> None:
    if _runs_as_root():
        import shutil

        shutil.chown(path, POSTGRES_OS_USER, POSTGRES_OS_USER)


def start_postgres(folder: Path) -> PostgresServer:
    """Create a cluster in ``folder`` and serve it on 127.0.0.1; fail the test with the log if it does not come up."""
    binaries = postgres_binaries()
    folder.mkdir(parents=True)
    folder.chmod(0o700)
    _give_to_server_user(folder)
    superuser_password = new_password()
    password_file = folder / "superuser-password"
    password_file.write_text(superuser_password + "\n", encoding="utf-8")
    password_file.chmod(0o600)
    _give_to_server_user(password_file)
    data, sockets = folder / "data", folder / "sockets"
    try:
        initialised = subprocess.run(
            [
                str(binaries / "initdb"), "-D", str(data), "-U", SUPERUSER, f"--pwfile={password_file}",
                "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C", "--no-sync",
            ],
            cwd=folder, capture_output=True, text=True, timeout=120, check=False, **_as_server_user(),
        )  # fmt: skip
    finally:
        password_file.unlink()
    if initialised.returncode != 0:
        pytest.fail(f"initdb failed (exit {initialised.returncode}):\n{initialised.stdout[-2000:]}{initialised.stderr}")
    sockets.mkdir()
    _give_to_server_user(sockets)
    port = free_port()
    settings = [part for key, value in POSTGRES_SETTINGS.items() for part in ("-c", f"{key}={value}")]
    command = [str(binaries / "postgres"), "-D", str(data), "-p", str(port), "-k", str(sockets), *settings]
    log = folder / "postgres.log"
    with log.open("w", encoding="utf-8") as handle:
        process = subprocess.Popen(
            command, cwd=folder, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, **_as_server_user(),
        )  # fmt: skip
    server = PostgresServer(folder, port, superuser_password, ServerProcess("postgres", process, log))
    _wait_for_postgres(server)
    return server


def _wait_for_postgres(server: PostgresServer) -> None:
    import psycopg

    deadline = time.monotonic() + STARTUP_TIMEOUT
    problem = "no answer yet"
    while time.monotonic() < deadline:
        exited = server.server.exited()
        if exited:
            pytest.fail(f"postgres did not start: {exited}")
        try:
            with server.admin_connection() as connection:
                connection.execute("SELECT 1")
            return
        except psycopg.OperationalError as e:
            problem = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        time.sleep(0.2)
    server.stop()
    pytest.fail(
        f"postgres did not accept connections within {STARTUP_TIMEOUT:.0f} s ({problem}):\n{tail(server.server.log)}"
    )


def start_redis(folder: Path) -> RedisServer:
    """Serve Redis on 127.0.0.1 with a password (from a 0600 config file, not the command line), no persistence."""
    if not REDIS_SERVER.is_file():
        pytest.fail(ERR_MISSING.format(what="Redis", looked_for=str(REDIS_SERVER)))
    folder.mkdir(parents=True)
    port, password = free_port(), new_password()
    config = folder / "redis.conf"
    config.write_text(
        "\n".join([
            "bind 127.0.0.1",
            f"port {port}",
            f"requirepass {password}",
            'save ""',
            "appendonly no",
            "daemonize no",
            f"dir {folder}",
        ]) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    config.chmod(0o600)
    server = RedisServer(port, password, start_process("redis", [str(REDIS_SERVER), str(config)], folder.parent))
    _wait_for_redis(server)
    return server


def _wait_for_redis(server: RedisServer) -> None:
    import redis

    deadline = time.monotonic() + STARTUP_TIMEOUT
    problem = "no answer yet"
    while time.monotonic() < deadline:
        exited = server.server.exited()
        if exited:
            pytest.fail(f"redis-server did not start: {exited}")
        client = redis.Redis(host="127.0.0.1", port=server.port, password=server.password, socket_timeout=2)
        try:
            if client.ping():
                return
        except redis.RedisError as e:
            problem = f"{type(e).__name__}: {e}"
        finally:
            client.close()
        time.sleep(0.2)
    server.stop()
    pytest.fail(f"redis-server did not answer within {STARTUP_TIMEOUT:.0f} s ({problem}):\n{tail(server.server.log)}")


def _let_the_server_user_through(root: Path) -> None:
    """Give ``root`` the search permission for others (no listing): the postgres user must reach its folder."""
    if _runs_as_root():
        root.chmod(root.stat().st_mode | 0o001)


@contextmanager
def scratch_postgres(session_root: Path, name: str) -> Iterator[PostgresServer]:
    """A Postgres cluster of its own, with nothing but its superuser, in ``<session root>/<name>``; stopped after."""
    _let_the_server_user_through(session_root)
    server = start_postgres(session_root / name)
    try:
        yield server
    finally:
        server.stop()


def start_postgres_redis(folder: Path) -> PostgresRedis:
    """Start Postgres with the three databases and Redis under ``folder``; stop what started if anything fails."""
    _let_the_server_user_through(folder.parent)
    folder.mkdir(parents=True)
    postgres = start_postgres(folder / "postgres")
    try:
        for purpose, (database, user) in DATABASES.items():
            postgres.accounts[purpose] = postgres.create_database(database, user)
        redis_server = start_redis(folder / "redis")
    except BaseException:
        postgres.stop()
        raise
    return PostgresRedis(postgres, redis_server)


_session_services: dict[Path, PostgresRedis] = {}


@pytest.fixture(scope="session")
def postgres_redis(session_root: Path):
    """Postgres (airflow, mlflow and audit databases) and Redis, started once per session, stopped at its end.

    Test modules import this fixture; each import is its own fixture definition,
    so the servers are kept here, keyed by the session root, and started once.
    """
    services = _session_services.get(session_root)
    if services is None:
        services = start_postgres_redis(session_root / "services")
        _session_services[session_root] = services
    try:
        yield services
    finally:
        services.stop()
