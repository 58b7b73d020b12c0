"""The embedded default's Airflow log servers listen on 127.0.0.1 only.

``airflow standalone`` starts ``airflow scheduler`` (LocalExecutor: it serves
task logs on ``[logging] worker_log_server_port``, 8793) and ``airflow
triggerer`` (``trigger_log_server_port``, 8794). Airflow 3 binds both to every
interface and has no setting for the address; fairgate's embedded environment
(``pipelines.core.project.airflow_environment``) loads
``deploy/embedded/airflow_local_settings.py``, which binds them to 127.0.0.1.

Each test starts the real component with that environment in a fresh
project (its SQLite metadata migrated by ``prepare_embedded``, as ``fairgate
airflow standalone`` does), on free ports so that nothing else on the machine
collides, reads the listening sockets of the port from the kernel (psutil, as
``ss -ltn`` does), and stops the component by its process group. The control
starts the triggerer without fairgate's hook and sees it listen on every
interface: the check can fail, and the hook is what narrows it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import psutil
import pytest

from tests.conftest import make_project
from tests.servers import ServerProcess, free_port, start_process, tail

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

STARTUP_TIMEOUT = 180.0
WILDCARDS = {"0.0.0.0", "::"}
PORT_SETTINGS = {
    "scheduler": "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT",
    "triggerer": "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT",
}


@pytest.fixture(scope="module")
def embedded(session_root: Path) -> dict[str, str]:
    """The environment ``fairgate airflow standalone`` gives its components, in a fresh migrated project."""
    from pipelines.core.project import ProjectPaths
    from pipelines.flows.cli import prepare_embedded

    project = make_project(session_root / "log-servers-project")
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update({**inherited, "FAIRGATE_HOME": str(project)})
    try:
        return dict(prepare_embedded(ProjectPaths(project), quiet=True))
    finally:
        os.environ.clear()
        os.environ.update(saved)


def listening_addresses(port: int) -> set[str]:
    """The local addresses of every TCP socket listening on ``port`` on this machine."""
    return {
        connection.laddr.ip
        for connection in psutil.net_connections(kind="tcp")
        if connection.status == psutil.CONN_LISTEN and connection.laddr.port == port
    }


def serving(component: str, env: dict[str, str], log_dir: Path) -> tuple[ServerProcess, int]:
    """Start ``airflow COMPONENT`` with its log server on a free port; return it once that port listens."""
    from pipelines.flows.cli import airflow_command

    port = free_port()
    started = start_process(
        f"{component}-{port}", airflow_command(component), log_dir, env={**env, PORT_SETTINGS[component]: str(port)}
    )
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        exited = started.exited()
        if exited:
            pytest.fail(exited)
        if listening_addresses(port):
            return started, port
        time.sleep(0.5)
    started.stop()
    pytest.fail(f"airflow {component}: nothing listened on {port} after {STARTUP_TIMEOUT:.0f} s:\n{tail(started.log)}")


@pytest.mark.parametrize("component", ["scheduler", "triggerer"])
def test_the_embedded_log_server_listens_on_loopback_only(component, embedded, session_root):
    assert embedded["FAIRGATE_LOG_SERVER_HOST"] == "127.0.0.1"
    process, port = serving(component, embedded, session_root / "log-servers")
    try:
        time.sleep(1)  # a second socket (IPv6) would be bound right after the first
        assert listening_addresses(port) == {"127.0.0.1"}, tail(process.log)
    finally:
        process.stop()
    assert not listening_addresses(port)


def test_without_fairgate_s_hook_airflow_listens_on_every_interface(embedded, session_root):
    """The control: Airflow's own behaviour, which the check above would refuse."""
    from pipelines.core.project import EMBEDDED_AIRFLOW_SETTINGS

    hook = str(EMBEDDED_AIRFLOW_SETTINGS)
    plain = {k: v for k, v in embedded.items() if k != "FAIRGATE_LOG_SERVER_HOST"}
    plain["PYTHONPATH"] = os.pathsep.join(p for p in embedded["PYTHONPATH"].split(os.pathsep) if p != hook)
    process, port = serving("triggerer", plain, session_root / "log-servers")
    try:
        time.sleep(1)
        assert listening_addresses(port) & WILDCARDS, listening_addresses(port)
    finally:
        process.stop()
