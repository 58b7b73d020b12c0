"""Stopping the process ``fairgate run`` starts, with real processes and real signals (no Airflow).

A harness process runs :func:`run_airflow_child` the way ``fairgate run``
does; the child stands for ``airflow dags test`` and starts a grandchild, as
Airflow starts git and DVC.  SIGTERM goes to the harness, as a user's would.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from pipelines.flows.airflow_child import STOP_GRACE_SECONDS
from tests.projects import wait_for

pytestmark = pytest.mark.slow

HARNESS = """
import json, os, pathlib, sys
from pipelines.flows.airflow_child import run_airflow_child
child = [sys.executable, "-c", sys.argv[2]]
ended = run_airflow_child(child, dict(os.environ), pathlib.Path(sys.argv[1]), pathlib.Path.cwd())
print(json.dumps({"returncode": ended.returncode, "stopped": ended.stopped_because()}))
"""

# the grandchild ignores SIGINT: only the SIGKILL of the group can end it
GRANDCHILD = "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); time.sleep(600)"
CHILD = (
    "import signal, subprocess, sys, time\n"
    "{handler}\n"
    f"grandchild = subprocess.Popen([sys.executable, '-c', {GRANDCHILD!r}])\n"
    "print(grandchild.pid, flush=True)\n"
    "time.sleep(600)\n"
)
STUBBORN = CHILD.format(handler="signal.signal(signal.SIGINT, signal.SIG_IGN)")  # a task that carries on
INTERRUPTIBLE = CHILD.format(handler="")  # SIGINT ends it at once


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def stop_harness(tmp_path: Path, child: str) -> tuple[dict, int]:
    """Start the harness, wait for the grandchild, SIGTERM the harness; return its report and the grandchild."""
    log = tmp_path / "child.log"
    harness = subprocess.Popen([sys.executable, "-c", HARNESS, str(log), child], stdout=subprocess.PIPE, text=True)
    try:
        started = wait_for(lambda: log.is_file() and log.read_text().strip(), "the grandchild started", 60.0, 0.05)
        grandchild = int(started)
        harness.send_signal(signal.SIGTERM)
        out, _ = harness.communicate(timeout=STOP_GRACE_SECONDS + 60)
    finally:
        if harness.poll() is None:
            harness.kill()
    assert harness.returncode == 0, out
    return json.loads(out.strip().splitlines()[-1]), grandchild


def test_a_child_that_carries_on_is_killed_after_the_grace_with_everything_in_its_group(tmp_path):
    report, grandchild = stop_harness(tmp_path, STUBBORN)
    assert report["returncode"] == -signal.SIGKILL
    assert report["stopped"] == (
        "fairgate run received SIGTERM and interrupted the Airflow process group (SIGINT); "
        f"the group did not end within {STOP_GRACE_SECONDS:g} s and was killed (SIGKILL)"
    )
    wait_for(lambda: not alive(grandchild), "the grandchild is gone", 30.0)


def test_a_child_that_stops_when_interrupted_is_not_waited_for_and_leaves_nothing(tmp_path):
    report, grandchild = stop_harness(tmp_path, INTERRUPTIBLE)
    assert report["returncode"] != -signal.SIGKILL
    assert report["stopped"] == "fairgate run received SIGTERM and interrupted the Airflow process group (SIGINT)"
    wait_for(lambda: not alive(grandchild), "the grandchild is gone", 30.0)
