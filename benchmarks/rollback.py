"""Time from triggering a rollback to ``champion`` moved, on the embedded default.

Usage: ``python -m benchmarks.rollback [--repeats 3]``. A temporary project
gets two champions the way a user gets them (two ``fairgate run`` through
Airflow), then ``champion`` is moved back and forth between them, by name, by
the two ways a person triggers a rollback here:

- the ``rollback`` DAG through ``airflow dags test`` (the embedded default's
  way to run a DAG by hand; the same task code the scheduler runs);
- ``fairgate rollback``.

For each trigger the clock starts when the command is launched and stops at
the alias move, read from the ``rollback`` entry the audit log recorded right
after the move (microsecond UTC timestamps), and again when the command has
exited. Every rollback's outcome is checked: the champion must be the named
version afterwards, or nothing is printed for it. It measures, asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _fairgate(project: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "AIRFLOW"))}
    env["FAIRGATE_HOME"] = str(project)
    return subprocess.run([sys.executable, "-m", "pipelines.flows.cli", *args], cwd=project, env=env,
                          capture_output=True, text=True, check=False)


def _make_project(root: Path) -> Path:
    """A fresh project as the tests make one (git, DVC with a local remote, 600 rows a month)."""
    import shutil

    sys.path.insert(0, str(REPO))
    from tests import conftest

    shutil.rmtree(conftest._SESSION_ROOT, ignore_errors=True)  # made on import; this benchmark does not use it
    return conftest.make_project(root / "project", **{"generator.rows_per_month": 600})


def _latest_rollback(project: Path) -> tuple[datetime, str]:
    from pipelines.core.config import load_config
    from pipelines.core.project import ProjectPaths, audit_log_url
    from pipelines.governance.audit_log import open_log

    paths = ProjectPaths(project)
    with open_log(audit_log_url(paths, load_config(paths.config_file))) as log:
        entry = [e for e in log.entries() if e.kind == "rollback"][-1]
    return datetime.fromisoformat(entry.recorded_at), str(entry.payload["to_version"])


def _dag_trigger(project: Path, target: str) -> list[str]:
    from pipelines.flows.cli import airflow_command

    conf = json.dumps({"reason": f"bench: back to {target}", "target_version": int(target)})
    return airflow_command("dags", "test", "rollback", "-c", conf)


def _task_started(output: str) -> datetime | None:
    """When Airflow's execution API recorded the rollback task as started (its log line), or None.

    Before that line, ``airflow dags test`` has imported Airflow, parsed the
    DAGs, created the run and brought up its in-process execution API.
    """
    for line in output.splitlines():
        if "Task started" in line and "execution_api" in line:
            return datetime.fromisoformat(line.split()[0].replace("Z", "+00:00"))
    return None


def _time_trigger(project: Path, how: str, target: str) -> tuple[float, float, float | None]:
    from pipelines.core.project import ProjectPaths, airflow_environment

    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "AIRFLOW"))}
    env.update({"FAIRGATE_HOME": str(project), "MLFLOW_DISABLE_TELEMETRY": "true"})
    if how == "dag":
        env.update(airflow_environment(ProjectPaths(project)))
        command = _dag_trigger(project, target)
    else:
        command = [sys.executable, "-m", "pipelines.flows.cli", "rollback", "--reason", f"bench: back to {target}",
                   "--to", target]
    started = datetime.now(UTC)
    clock = time.perf_counter()
    completed = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, check=False)
    exited = time.perf_counter() - clock
    moved_at, to_version = _latest_rollback(project)
    if completed.returncode != 0 or to_version != target or moved_at < started:
        raise SystemExit(f"rollback by {how} to {target} did not move champion (exit {completed.returncode}):\n"
                         + completed.stdout[-2000:] + completed.stderr[-2000:])
    task_started = _task_started(completed.stdout + completed.stderr) if how == "dag" else None
    startup = (task_started - started).total_seconds() if task_started is not None else None
    return (moved_at - started).total_seconds(), exited, startup


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fairgate-bench-rollback-") as folder:
        project = _make_project(Path(folder))
        for interval in ("2026-01", "2026-02"):
            result = _fairgate(project, "run", "--interval", interval)
            if "outcome: PROMOTED" not in result.stdout:
                raise SystemExit(f"setup run {interval} did not promote:\n{result.stdout[-3000:]}{result.stderr}")
        sys.path.insert(0, str(REPO))
        from tests.projects import champion_version

        print("rollback: trigger to champion moved, embedded default (SQLite stores, 2 registered champions)")
        print(f"{'trigger':<34} {'to alias moved s':>18} {'to command exit s':>18} {'Airflow start-up s':>19}")
        for how, label in (("dag", "rollback DAG (airflow dags test)"), ("cli", "fairgate rollback")):
            moved, exited, startups = [], [], []
            for _ in range(args.repeats):
                target = "1" if champion_version(project) == "2" else "2"
                to_move, to_exit, startup = _time_trigger(project, how, target)
                if champion_version(project) != target:
                    raise SystemExit(f"champion is not {target} after the {how} rollback")
                moved.append(to_move)
                exited.append(to_exit)
                if startup is not None:
                    startups.append(startup)
            shown = f"{statistics.median(startups):>19.2f}" if startups else f"{'-':>19}"
            print(f"{label:<34} {statistics.median(moved):>18.2f} {statistics.median(exited):>18.2f} {shown}"
                  f"   (median of {args.repeats}; each checked: champion moved to the named version)")
        print("Airflow start-up: from the trigger to Airflow's execution API starting the rollback task (its log line)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
