"""The ``fairgate monitor`` command and the monitoring lines of ``fairgate status``.

Exit codes of ``fairgate monitor``: 0 when no horizon is critical (``ok`` or
``warn``: a warning notifies, it does not stop anything), 1 when a horizon is
critical (the monitoring worked and says no) or an integrity check fails, 2
when the interval was not scored by the champion or its data cannot be read.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from collections.abc import Callable
from typing import Any

from pipelines.core.config import FairgateConfig
from pipelines.core.errors import EXIT_BLOCKED, EXIT_PASSED
from pipelines.core.project import ProjectPaths


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def worst_text(worst: dict[str, Any] | None) -> str:
    """``metric subject value [low, high] (level; warn w, critical c)`` or ``nothing beyond a limit``."""
    if worst is None:
        return "no value with limits"
    interval = "" if worst.get("low") is None else f" [{worst['low']:.4g}, {worst['high']:.4g}]"
    value = "n/a" if worst.get("value") is None else f"{worst['value']:.4g}"
    return (
        f"{worst['metric']} {worst['subject']} = {value}{interval} ({worst['level']}; "
        f"warn {worst['warn']:.4g}, critical {worst['critical']:.4g})"
    )


def command_monitor(args: argparse.Namespace) -> int:
    """Monitor one scored interval of the champion (same logic as the monitor DAG)."""
    from pipelines.flows.monitor import monitor  # lazy: MLflow, DVC and matplotlib, only for this command

    verdict = monitor(args.interval, f"cli__{uuid.uuid4().hex}")
    recorded = "already recorded" if verdict["already_recorded"] else "recorded"
    _out(f"interval {verdict['interval']}: champion version {verdict['model_version']}: {verdict['verdict'].upper()}")
    for name, horizon in verdict["horizons"].items():
        _out(f"  {name} (interval {horizon['interval']}): {horizon['verdict']}; worst: {worst_text(horizon['worst'])}")
        breaches = [row for row in horizon["values"] if row["level"] in ("warn", "critical")]
        for row in sorted(breaches, key=lambda r: r["level"] != "critical")[:10]:
            _out(f"    {row['level']:<8} {worst_text(row)}")
        if len(breaches) > 10:
            _out(f"    ... and {len(breaches) - 10} more (see {verdict['file']})")
    alerts = verdict["alerts"]
    seq = "" if alerts.get("alert_seq") is None else f" (audit entry {alerts['alert_seq']})"
    _out(f"alerts: {alerts['summary']}; action: {alerts['action']}{seq}")
    if alerts.get("rollback"):
        move = alerts["rollback"]
        _out(
            f"champion moved from version {move.get('from_version')} to version {move.get('to_version')} "
            f"by {move.get('actor')}; deployments frozen"
        )
    _out(
        f"verdict: {verdict['file']}  (MLflow run {verdict['mlflow_run_id']}; {recorded}: audit entry "
        f"{verdict['audit_seq']})"
    )
    return EXIT_BLOCKED if verdict["verdict"] == "critical" else EXIT_PASSED


def add_monitor_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], interval_type: Callable[[str], str]
) -> None:
    """``fairgate monitor --interval M`` (``interval_type`` parses the interval as ``fairgate score`` does)."""
    monitor = commands.add_parser("monitor", help="monitor the champion's decisions of one scored interval")
    monitor.add_argument(
        "--interval", required=True, type=interval_type, help="data interval YYYY-MM (as fairgate score)"
    )
    monitor.set_defaults(handler=command_monitor)


def monitoring_status(paths: ProjectPaths, config: FairgateConfig, out: Callable[[str], None] = _out) -> None:
    """Print the latest monitoring verdict per horizon (from the audit log's ``monitoring`` entries)."""
    from pipelines.governance.records import version_entries

    latest: dict[str, tuple[int, dict[str, Any], Any]] = {}
    for entry in version_entries(paths, config):
        if entry.kind != "monitoring":
            continue
        for name, horizon in entry.payload.get("horizons", {}).items():
            latest[name] = (entry.seq, horizon, entry)
    if not latest:
        out("monitoring: none yet (fairgate monitor --interval YYYY-MM, after fairgate score)")
        return
    out("monitoring (latest verdict per horizon):")
    for name, (seq, horizon, entry) in latest.items():
        out(
            f"  {name:<14} interval={horizon['interval']} champion=v{entry.model_version} "
            f"{horizon['verdict'].upper():<8} worst: {worst_text(horizon['worst'])} (audit entry {seq})"
        )
