"""A project whose registry and audit log hold every governance situation, built with fairgate's own functions.

No retraining: each version is registered as ``retrain.register`` registers
one (gate tags, model files as run artifacts, the ``gate_decision`` and
``registration`` entries with the files' checksums, a gate report artifact),
and everything after that goes through the real code paths: the promotions
through :func:`pipelines.flows.champion.move_champion` under the champion lock
(recorded as the promote stage records them), a rollback through
:func:`pipelines.flows.champion.rollback` (which freezes), a wait through
:func:`pipelines.flows.champion.hold_for_approval`, a sign-off and a refused
approval through :func:`pipelines.flows.champion.approve_version`. Only the
monitoring verdict is appended directly, with the payload ``monitor_run.publish``
records.

The story, in order: v1 passes and is promoted; v2 is blocked by the ethical
gate; v3 passes and is promoted; alice rolls back to v1 (deployments freeze);
v4 passes and waits for approval, bob gives the technical sign-off; carol's
attempt to approve v2 is refused; monitoring records a warning.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from mlflow.exceptions import MlflowException

from pipelines.core.config import FairgateConfig, load_config
from pipelines.core.errors import BlockedError
from pipelines.core.project import ProjectPaths, audit_log_url
from pipelines.flows.champion import all_entries, approve_version, hold_for_approval, move_champion, rollback
from pipelines.governance import approvals, records, registry
from pipelines.governance.champion_lock import champion_lock
from pipelines.governance.model_integrity import file_checksums

PROMOTER = "airflow:scheduler"
ROLLBACK_BY, ROLLBACK_REASON = "alice", "disparate impact drifted on the 2026-03 applications"
TECHNICAL_BY, REFUSED_BY = "bob", "carol"
ETHICAL_FAILURE = "ethical.sex.disparate_impact 0.6100 below the limit 0.8000"
MONITOR_WORST = {
    "family": "ethical", "metric": "four_fifths_ratio", "subject": "sex", "value": 0.8312, "low": 0.79,
    "high": 0.87, "warn": 0.85, "critical": 0.8, "level": "warn",
}


@dataclass(frozen=True)
class GovernanceState:
    """The project and what its record holds."""

    root: Path
    paths: ProjectPaths
    config: FairgateConfig
    champion: str
    blocked: str
    demoted: str
    waiting: str


def _checks(ethical_passed: bool) -> list[dict[str, object]]:
    return [
        {"metric": "technical.roc_auc", "candidate": 0.7712345678, "champion": None, "limit": 0.7, "bound": ">=",
         "kind": "absolute", "passed": True, "reason": "technical.roc_auc 0.7712 at least 0.7000"},
        {"metric": "ethical.sex.disparate_impact", "candidate": 0.91 if ethical_passed else 0.61, "champion": None,
         "limit": 0.8, "bound": ">=", "kind": "absolute", "passed": ethical_passed,
         "reason": "ethical.sex.disparate_impact 0.9100 at least 0.8000" if ethical_passed else ETHICAL_FAILURE},
    ]


def register(paths: ProjectPaths, config: FairgateConfig, *, ethical_passed: bool = True) -> str:
    """Register a version as ``retrain.register`` does; return its number."""
    client = registry.connect(paths)
    name = config.registry.model_name
    try:
        client.create_registered_model(name)
    except MlflowException as e:
        if e.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    verdict = "passed" if ethical_passed else "blocked"
    version_tags = {"fairgate.gate.decision": verdict, "fairgate.gate.technical": "passed",
                    "fairgate.gate.ethical": verdict}
    source = paths.root / "models" / uuid.uuid4().hex
    source.mkdir(parents=True)
    (source / "model.pkl").write_bytes(os.urandom(64))
    (source / "MLmodel").write_text("flavors: {}\n", encoding="utf-8")
    run = client.create_run(registry.ensure_experiment(client, paths, config.registry.experiment))
    run_id = run.info.run_id
    client.log_artifacts(run_id, str(source), "model")
    report = source.parent / f"{run_id}-gate"
    report.mkdir()
    (report / "gate_report.md").write_text(
        f"# Gate report\n\nDecision: **{verdict}**\n\n"
        + "\n".join(f"- {check['reason']}" for check in _checks(ethical_passed)) + "\n",
        encoding="utf-8",
    )
    client.log_artifacts(run_id, str(report), "gate")
    # the gate records its decision before the version exists (found later by the run id)
    decision = {"passed": ethical_passed, "technical_passed": True, "ethical_passed": ethical_passed,
                "checks": _checks(ethical_passed)}
    reasons = [] if ethical_passed else [ETHICAL_FAILURE]
    records.record_event(paths, config, "gate_decision", PROMOTER,
                         {"decision": decision, "reasons": reasons, "mlflow_run_id": run_id},
                         f"test:gate_decision:{run_id}")
    created = client.create_model_version(name, f"{run.info.artifact_uri}/model", run_id=run_id, tags=version_tags)
    records.record_event(paths, config, "registration", PROMOTER, {"model_files_sha256": file_checksums(source)},
                         f"test:registration:{created.version}", model_version=created.version)
    return str(created.version)


def promote(paths: ProjectPaths, config: FairgateConfig, version: str) -> None:
    """Move ``champion`` as the promote stage does: under the lock, checked against the record, recorded."""
    name, alias = config.registry.model_name, config.registry.champion_alias
    run_id = f"scheduled__{uuid.uuid4().hex}"
    with champion_lock(audit_log_url(paths, config), name):
        move = move_champion(
            registry.connect(paths), name, alias, version, action="promote", actor=PROMOTER,
            reason="passed both gates on data interval 2026-02", airflow_run_id=run_id,
            audit_entries=all_entries(paths, config),
        )
    recorded = {k: v for k, v in move.to_dict().items() if k != "already_done"}
    records.record_event(paths, config, "promotion", PROMOTER,
                         {**recorded, "summary": f"champion {move.from_version} -> {move.to_version}"},
                         f"{run_id}:promotion:{version}", model_version=version)


def build(root: Path, monkeypatch: pytest.MonkeyPatch) -> GovernanceState:
    """Write fairgate.yaml in ``root`` (a fresh folder) and play the story of the module docstring."""
    repo_config = Path(__file__).resolve().parents[1] / "fairgate.yaml"
    root.mkdir(parents=True, exist_ok=True)
    (root / "fairgate.yaml").write_text(repo_config.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setenv("FAIRGATE_HOME", str(root))
    paths = ProjectPaths(root)
    config = load_config(paths.config_file)
    first = register(paths, config)
    promote(paths, config, first)
    blocked = register(paths, config, ethical_passed=False)
    third = register(paths, config)
    promote(paths, config, third)
    rollback(f"manual__{uuid.uuid4().hex}", ROLLBACK_REASON, None, actor=ROLLBACK_BY)
    waiting = register(paths, config)
    client = registry.connect(paths)
    hold_for_approval(paths, config, client, waiting, first, approvals.current_freeze(paths, config),
                      PROMOTER, f"scheduled__{uuid.uuid4().hex}")
    approve_version(f"manual__{uuid.uuid4().hex}", waiting, "technical", TECHNICAL_BY, "manual")
    with pytest.raises(BlockedError, match="did not pass every gate"):
        approve_version(f"manual__{uuid.uuid4().hex}", blocked, "ethical", REFUSED_BY, "manual")
    horizon = {"interval": "2026-03", "verdict": "warn", "breaches": {"warn": 1, "critical": 0},
               "worst": MONITOR_WORST}
    records.record_event(paths, config, "monitoring", "fairgate:monitor",
                         {"interval": "2026-03", "verdict": "warn", "horizons": {"decision_time": horizon},
                          "summary": "interval 2026-03: champion v1 monitored: decision_time warn"},
                         "test:monitoring:2026-03", model_version=first)
    return GovernanceState(root, paths, config, first, blocked, third, waiting)
