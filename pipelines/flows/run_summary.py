"""The summary ``fairgate run`` prints: each stage's verdict, seconds and detail, the notes, key metrics, outcome.

Read from the per-stage records a run writes (``var/runs/<run>/stages/``);
the exit code follows from them (:func:`outcome`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipelines.core.config import FairgateConfig
from pipelines.core.errors import EXIT_BAD_INPUT, EXIT_BLOCKED, EXIT_INTERNAL, EXIT_PASSED
from pipelines.core.project import ProjectPaths
from pipelines.flows.retrain.results import read_stage_records

NOTE_COMPLETED = (
    "this run completes run {run}, interrupted after registering version {version}: nothing was trained or "
    "registered again (Airflow run {by})"
)


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def outcome(records: list[dict[str, Any]]) -> tuple[int, str]:
    """Exit code and one-word outcome from the stage records."""
    verdicts = {r["stage"]: r["verdict"] for r in records}
    if "crashed" in verdicts.values():
        return EXIT_INTERNAL, "crashed"
    if "error" in verdicts.values():
        return EXIT_BAD_INPUT, "error"
    if verdicts.get("promote") == "passed":
        return EXIT_PASSED, "promoted"
    if verdicts.get("promote") == "waiting":
        # deployments are frozen and the candidate passed both gates: nothing failed, nothing was promoted
        return EXIT_PASSED, "waiting for approval"
    if "blocked" in verdicts.values():
        return EXIT_BLOCKED, "blocked"
    return EXIT_INTERNAL, "incomplete"


def reached_verdict(paths: ProjectPaths, airflow_run_id: str) -> bool:
    """True when a run's records hold its verdict (passed, waiting or blocked): there is nothing to complete."""
    return outcome(read_stage_records(paths, airflow_run_id))[0] in (EXIT_PASSED, EXIT_BLOCKED)


def _format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def _stage_detail(stage: str, record: dict[str, Any]) -> str:
    """The summary's one-line detail of a stage record."""
    details = record.get("details", {})
    detail = ""
    if stage == "ingest":
        detail = f"{details.get('rows', '?')} rows, data {details.get('data_hash', '?')}"
    elif stage in ("audit", "leakage"):
        detail = f"{details.get('findings', 0)} finding(s)"
    elif stage == "split":
        detail = f"train {details.get('train_rows', '?')} / holdout {details.get('holdout_rows', '?')}"
    elif stage == "train":
        detail = f"{details.get('estimator', '')}, class weights {details.get('class_weights', '')}"
        search = details.get("mitigation_search")
        if search:
            verdict = "passed" if search.get("passed_on_validation") else "failed"
            kept, options = search.get("kept"), search.get("options")
            detail += f"; mitigation search kept {kept} of {options} ({verdict} on validation)"
    elif stage == "evaluate":
        detail = f"champion compared: {details.get('champion_version') or 'none yet'}"
    elif stage == "gate":
        detail = f"technical {details.get('technical', '?')}, ethical {details.get('ethical', '?')}"
    elif stage == "register":
        detail = f"{details.get('model', '')} version {details.get('version', '?')}"
    elif stage == "promote" and record["verdict"] == "waiting":
        detail = f"frozen: version {details.get('version', '?')} awaits approval"
    elif stage == "promote" and details.get("to_version") is not None:
        detail = f"champion {details.get('from_version') or 'none'} -> {details['to_version']}"
    elif stage == "promote":
        detail = "nothing moved"
    return detail


class StageProgress:
    """Print each stage of a running retrain as it finishes (verdict, seconds): a long run is never silent.

    Called while Airflow runs the DAG; it reads the stage records the tasks
    write (atomically: a record is whole when it appears) under the run that
    the request ``pointer`` names once ``run_reference`` has written it.
    """

    def __init__(self, paths: ProjectPaths, pointer: Path) -> None:
        self._paths, self._pointer = paths, pointer
        self._airflow_run_id: str | None = None
        self._shown: set[str] = set()

    def __call__(self) -> None:
        """Print the records that appeared since the last call."""
        if self._airflow_run_id is None:
            if not self._pointer.is_file():
                return
            self._airflow_run_id = str(json.loads(self._pointer.read_text(encoding="utf-8"))["airflow_run_id"])
        folder = self._paths.run_dir(self._airflow_run_id) / "stages"
        for file in sorted(folder.glob("*.json")):
            if file.name not in self._shown:
                self._shown.add(file.name)
                _out(progress_line(json.loads(file.read_text(encoding="utf-8"))))


def progress_line(record: dict[str, Any]) -> str:
    """One finished stage while the run goes on: ``  audit: passed in 3.6 s``."""
    line = f"  {record['stage']}: {record['verdict']} in {record.get('seconds', 0):.1f} s"
    if record["verdict"] in ("blocked", "error", "crashed") and record.get("reasons"):
        line += f" ({record['reasons'][0]})"
    return line


def stage_lines(by_stage: dict[str, dict[str, Any]], stages: Sequence[str]) -> list[str]:
    """The summary's table: one line per stage (verdict, seconds, detail), then its reasons.

    A reason an earlier stage already gave (the gate's, when promote is
    blocked by it) is not printed twice: the line names that stage instead.
    """
    lines: list[str] = []
    shown: dict[str, str] = {}  # a reason already printed, and the stage that gave it
    for stage in stages:
        record = by_stage.get(stage)
        if record is None:
            lines.append(f"{stage:<10} {'not run':<9} {'':>8}")
            continue
        detail = _stage_detail(stage, record)
        lines.append(f"{stage:<10} {record['verdict']:<9} {record.get('seconds', 0):>8.2f}  {detail}")
        reasons = record.get("reasons", [])
        lines += [f"{'':<30}reason: {reason}" for reason in reasons if reason not in shown]
        repeated = [reason for reason in reasons if reason in shown]
        if repeated:
            lines.append(f"{'':<30}reason: the {shown[repeated[0]]} stage's, above")
        shown.update({reason: stage for reason in reasons if reason not in shown})
    return lines


def render_summary(
    paths: ProjectPaths,
    config: FairgateConfig,
    airflow_run_id: str,
    log_file: Path | None,
    stopped: str | None = None,
    completed_by: str | None = None,
) -> int:
    """Print the run summary; return the exit code it implies.

    ``stopped`` says why the Airflow process was stopped: a run stopped before
    its verdict is ``STOPPED`` (exit 3, like a crash: no verdict, read the log).
    ``completed_by`` is the Airflow run that completed this interrupted run.
    """
    # lazy: MLflow and the stages, loaded once the run is over and only to summarise it
    from pipelines.flows.retrain.mlflow_run import STAGES
    from pipelines.governance import registry

    records = read_stage_records(paths, airflow_run_id)
    code, word = outcome(records)
    if stopped is not None and code == EXIT_INTERNAL:
        word = "stopped"
    _out("")
    _out(f"fairgate retrain  run {airflow_run_id}")
    _out("-" * 78)
    _out(f"{'stage':<10} {'verdict':<9} {'seconds':>8}  detail")
    by_stage = {r["stage"]: r for r in records}
    for line in stage_lines(by_stage, STAGES):
        _out(line)
    notes = by_stage.get("ingest", {}).get("details", {}).get("notes", [])
    notes += by_stage.get("split", {}).get("details", {}).get("notes", [])
    notes += by_stage.get("gate", {}).get("details", {}).get("notes", [])
    notes += [by_stage[s]["details"]["quarantine"] for s in ("audit", "leakage")
              if by_stage.get(s, {}).get("details", {}).get("quarantine")]
    if completed_by is not None:
        version = by_stage.get("register", {}).get("details", {}).get("version", "?")
        notes.insert(0, NOTE_COMPLETED.format(run=airflow_run_id, version=version, by=completed_by))
    if stopped is not None:
        notes.insert(0, f"stopped: {stopped}")
    if notes:
        _out("")
        for note in notes:
            _out(f"note: {note}")
    evaluation = by_stage.get("evaluate", {}).get("details", {})
    if evaluation.get("key_metrics"):
        _out("")
        _out(f"{'metric':<52} {'candidate':>11} {'champion':>11}")
        champion_metrics = evaluation.get("champion_key_metrics") or {}
        for name, value in evaluation["key_metrics"].items():
            other = champion_metrics.get(name)
            _out(f"{name:<52} {_format_value(value):>11} {_format_value(other) if other is not None else '-':>11}")
    client = registry.connect(paths)
    current = registry.champion(client, config.registry.model_name, config.registry.champion_alias)
    _out("")
    _out(f"outcome: {word.upper()}   champion of {config.registry.model_name}: "
         f"{'version ' + str(current.version) if current is not None else 'none'}")
    if log_file is not None:
        _out(f"Airflow log of this run: {log_file}")
    _out("open the UIs:  make mlflow-ui  (http://127.0.0.1:5000)   make airflow  (http://127.0.0.1:8080)")
    return code
