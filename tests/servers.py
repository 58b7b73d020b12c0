"""Servers for end-to-end tests: free ports, processes in their own process groups, readiness, clean stops.

Every process is started with ``start_new_session=True``, so it leads its own
process group and everything it spawns (workers, reloaders) can be stopped
together: SIGTERM to the group, then SIGKILL to whatever is left after a
timeout. Stopping only ever signals the process group of a pid this module
started. Output goes to a log file per process; failure messages carry its
tail.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

STOP_TIMEOUT = 20.0
MLFLOW_STARTUP_TIMEOUT = 90.0
# What the MLflow server under test runs with besides the test environment (from which every other
# MLFLOW_* variable is removed). Job execution would start a job runner and seven huey consumer
# processes (GenAI evaluation jobs, nothing a registry or run page uses), which roughly triples the
# start-up on two cores; telemetry would try to reach the network.
MLFLOW_SERVER_ENVIRONMENT = {
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    "MLFLOW_DISABLE_TELEMETRY": "true",
}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def tail(path: Path, chars: int = 3000) -> str:
    """The last ``chars`` characters of a log file, or a note that it is missing."""
    return path.read_text(encoding="utf-8", errors="replace")[-chars:] if path.is_file() else f"({path} missing)"


@dataclass
class ServerProcess:
    """A process this test session started, leading its own process group, with its output in ``log``."""

    name: str
    process: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def exited(self) -> str | None:
        """None while the process runs; otherwise why it is gone, with the tail of its log."""
        if self.process.poll() is None:
            return None
        return f"{self.name} (pid {self.pid}) exited with {self.process.returncode}; log {self.log}:\n{tail(self.log)}"

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM the process group; SIGKILL it if the leader is still there after ``timeout`` s.

        A final SIGKILL to the group takes children that outlived their leader. Safe to call twice.
        """
        if self.process.poll() is None:
            _signal_group(self.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _signal_group(self.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        _signal_group(self.pid, signal.SIGKILL)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)  # the group id is the leader's pid: start_new_session=True
    except ProcessLookupError:
        return


def start_process(
    name: str,
    command: Sequence[str],
    log_dir: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> ServerProcess:
    """Start ``command`` in its own process group, stdout and stderr to ``log_dir/<name>.log``."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{name}.log"
    with log.open("w", encoding="utf-8") as handle:
        process = subprocess.Popen(
            list(command),
            env=None if env is None else dict(env),
            cwd=cwd,
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    return ServerProcess(name, process, log)


def wait_for_http(url: str, server: ServerProcess, timeout: float = 60.0) -> httpx.Response:
    """Poll ``url`` until it answers 200; fail the test if ``server`` exits or time runs out."""
    deadline = time.monotonic() + timeout
    problem = "no answer yet"
    while time.monotonic() < deadline:
        exited = server.exited()
        if exited:
            pytest.fail(f"{server.name} stopped before {url} answered: {exited}")
        try:
            response = httpx.get(url, timeout=5)
            if response.status_code == 200:
                return response
            problem = f"HTTP {response.status_code}: {response.text[:200]}"
        except httpx.HTTPError as e:
            problem = f"{type(e).__name__}: {e}"
        time.sleep(0.5)
    pytest.fail(f"{url} did not answer 200 within {timeout:.0f} s ({problem}); log {server.log}:\n{tail(server.log)}")


@dataclass
class MlflowServer:
    """A running ``mlflow server``: its address and its process."""

    port: int
    server: ServerProcess

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def mlflow_server(
    backend_store_uri: str, artifacts_destination: Path, log_dir: Path, timeout: float = MLFLOW_STARTUP_TIMEOUT
) -> Iterator[MlflowServer]:
    """Run ``mlflow server`` on 127.0.0.1 over a store until the block ends; it is stopped even on failure.

    ``artifacts_destination`` is where proxied artifact requests resolve. The server gets one worker
    and the test environment without its ``MLFLOW_*`` variables (a tracking URI exported by this
    process must not leak into it), plus :data:`MLFLOW_SERVER_ENVIRONMENT`.
    """
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update(MLFLOW_SERVER_ENVIRONMENT)
    command = [
        sys.executable, "-m", "mlflow", "server",
        "--host", "127.0.0.1",
        "--port", str(port),
        "--workers", "1",
        "--backend-store-uri", backend_store_uri,
        "--serve-artifacts",
        "--artifacts-destination", artifacts_destination.resolve().as_uri(),
    ]  # fmt: skip
    server = start_process("mlflow-server", command, log_dir, env=env)
    try:
        running = MlflowServer(port, server)
        wait_for_http(f"{running.base_url}/health", server, timeout)
        yield running
    finally:
        server.stop()
