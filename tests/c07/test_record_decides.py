"""C07 step 3 again, through the registry itself: forged tags and an alias moved outside fairgate.

Each route is taken with nothing but what a team member has: an MLflow client
on the registry (what the MLflow UI's tag editor and alias pencil call) and
the ``fairgate`` CLI.  The audit log is the record: a move checks the target
against it, and every command that reads state reconciles the registry's
champion with the last recorded move.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import make_project
from tests.projects import MODEL, champion_version, client_for, fairgate, versions

pytestmark = [pytest.mark.c07, pytest.mark.slow]

GATE_TAGS = ("fairgate.gate.decision", "fairgate.gate.technical", "fairgate.gate.ethical")


@pytest.fixture(scope="module")
def project(session_root: Path) -> Path:
    """Champion version 1 (passed); version 2 registered but blocked by the ethical gate."""
    root = make_project(session_root / "c07-record", **{"generator.rows_per_month": 600})
    first = fairgate(root, "run", "--interval", "2026-01")
    assert first.returncode == 0, first.stdout + first.stderr
    blocked = fairgate(
        root, "run", "--interval", "2026-02", "--set", "gate.ethical.demographic_parity_difference.max=0.000001"
    )
    assert blocked.returncode == 1, blocked.stdout + blocked.stderr
    assert [v.tags["fairgate.gate.decision"] for v in versions(root)] == ["passed", "blocked"]
    assert champion_version(root) == "1"
    return root


def audit_entries(project: Path) -> list[dict]:
    listed = fairgate(project, "audit", "log", "--json")
    assert listed.returncode == 0, listed.stderr
    return json.loads(listed.stdout)


@pytest.mark.fairness
def test_forged_gate_tags_do_not_make_a_blocked_version_champion(project):
    """Route 1: the blocked version's gate tags set to "passed" with the MLflow client, then a rollback to it."""
    client = client_for(project)
    for tag in GATE_TAGS:
        client.set_model_version_tag(MODEL, "2", tag, "passed")
    try:
        refused = fairgate(project, "rollback", "--to", "2", "--reason", "the tags say it passed")
        assert refused.returncode == 1, refused.stdout + refused.stderr
        line = refused.stderr.strip()
        assert "\n" not in line
        assert "version 2 of 'fairgate-credit-default' cannot be champion: it did not pass every gate according to " \
               "the audit log (gate decision, entry " in line
        assert "decision=blocked, technical=passed, ethical=blocked" in line
        assert "MLflow tag fairgate.gate.decision says 'passed' but the audit log's gate decision (entry " in line
        assert "says 'blocked': the tag was changed outside fairgate" in line
        assert champion_version(project) == "1"
        refusal = [e for e in audit_entries(project) if e["kind"] == "refusal"][-1]
        assert refusal["payload"]["what"] == "rollback" and "says 'passed'" in refusal["payload"]["reason"]
        # the chain itself was not touched, and the registry's champion is still the recorded one
        verify = fairgate(project, "audit", "verify")
        assert verify.returncode == 0, verify.stdout + verify.stderr
    finally:
        for tag, value in zip(GATE_TAGS, ("blocked", "passed", "blocked"), strict=True):
            client.set_model_version_tag(MODEL, "2", tag, value)


@pytest.mark.fairness
def test_an_alias_moved_outside_fairgate_is_an_integrity_alarm_until_two_people_repair_it(project, monkeypatch):
    """Route 2: ``champion`` pointed at the blocked version with the client call the UI's alias pencil makes."""
    from pipelines.core.errors import BadInputError, BlockedError
    from pipelines.flows.champion import sign_repair

    client = client_for(project)
    before = len(versions(project))
    client.set_registered_model_alias(MODEL, "champion", "2")

    status = fairgate(project, "status")
    assert status.returncode == 1, status.stdout + status.stderr
    alarm = status.stderr.strip()
    assert "\n" not in alarm
    assert alarm.startswith("fairgate: integrity alarm (audit entry ")
    assert "champion of 'fairgate-credit-default' is version 2 in the MLflow registry, but the last move the " \
           "audit log recorded (audit entry " in alarm
    assert "left version 1: it was moved outside fairgate" in alarm
    assert "INTEGRITY ALARM" in status.stdout
    for command in (("audit", "verify"), ("lineage", "1")):
        result = fairgate(project, *command)
        assert result.returncode == 1 and "integrity alarm (audit entry" in result.stderr, (command, result.stderr)
    alarms = [e for e in audit_entries(project) if e["kind"] == "integrity_alarm"]
    assert len(alarms) == 1, "the same mismatch is recorded once, however often it is seen"
    assert (alarms[0]["payload"]["found"], alarms[0]["payload"]["recorded"]) == ("2", "1")

    # nothing is gated against, promoted over or rolled back from an unaccounted champion
    run = fairgate(project, "run", "--interval", "2026-03")
    assert run.returncode == 1 and "integrity alarm" in run.stderr, run.stdout + run.stderr
    assert len(versions(project)) == before
    rollback = fairgate(project, "rollback", "--reason", "put it back myself")
    assert rollback.returncode == 1 and "integrity alarm" in rollback.stderr

    # putting the alias back by hand does not close the alarm: the record says it was moved
    client.set_registered_model_alias(MODEL, "champion", "1")
    assert fairgate(project, "status").returncode == 1
    client.set_registered_model_alias(MODEL, "champion", "2")

    monkeypatch.setenv("FAIRGATE_HOME", str(project))
    with pytest.raises(BlockedError, match="an approval needs the authenticated Airflow user"):
        sign_repair("manual__repair-nobody", "technical", "dag_test", "manual")
    first = sign_repair("manual__repair-alice", "technical", "alice", "manual", comment="seen the alarm")
    assert first["repaired"] is False and champion_version(project) == "2"
    with pytest.raises(BlockedError, match="alice already gave the technical sign-off to repair the integrity"):
        sign_repair("manual__repair-alice-2", "ethical", "alice", "manual")
    repaired = sign_repair("manual__repair-bob", "ethical", "bob", "manual")
    assert repaired["repaired"] is True
    assert (repaired["from_version"], repaired["to_version"]) == ("2", "1")
    assert repaired["approved_by"] == {"technical": "alice", "ethical": "bob"}
    assert champion_version(project) == "1"
    again = sign_repair("manual__repair-bob", "ethical", "bob", "manual")  # a retried task
    assert again["already_done"] is True
    assert len([e for e in audit_entries(project) if e["kind"] == "repair"]) == 1

    status = fairgate(project, "status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert "INTEGRITY ALARM" not in status.stdout
    verify = fairgate(project, "audit", "verify")
    assert verify.returncode == 0 and "chain intact" in verify.stdout
    with pytest.raises(BadInputError, match="no integrity alarm is open"):
        sign_repair("manual__repair-carol", "technical", "carol", "manual")


@pytest.mark.fairness
def test_a_looser_fairgate_yaml_runs_but_its_candidate_waits_for_two_sign_offs(project, monkeypatch):
    """Route 4's last step: loosening a threshold in the file is a policy change, never an automatic promotion."""
    import yaml

    from pipelines.flows.champion import approve_version

    config_file = project / "fairgate.yaml"
    original = config_file.read_text(encoding="utf-8")
    raw = yaml.safe_load(original)
    # a wider non-regression tolerance: on this data the candidate passes only because of it
    raw["gate"]["non_regression"]["ethical.equalized_odds_difference"] = 0.05
    config_file.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    try:
        result = fairgate(project, "run", "--interval", "2026-03")
        assert result.returncode == 0, result.stdout + result.stderr
        assert "outcome: WAITING FOR APPROVAL" in result.stdout, result.stdout
        loosened = (
            "gate.non_regression.ethical.equalized_odds_difference: 0.02 when champion version 1 passed, now 0.05"
        )
        assert f"the gate policy is looser than the champion's: {loosened}" in result.stdout
        assert champion_version(project) == "1"
        candidate = versions(project)[-1]
        assert candidate.tags["fairgate.gate.decision"] == "passed"
        assert candidate.tags["fairgate.awaiting_approval"] == "true"
        report = client_for(project).download_artifacts(candidate.run_id, "gate/gate_report.md")
        text = Path(report).read_text(encoding="utf-8")
        assert "## Policy loosened since the champion passed" in text
        assert f"- {loosened}" in text

        monkeypatch.setenv("FAIRGATE_HOME", str(project))
        approve_version("manual__loose-alice", candidate.version, "technical", "alice", "manual")
        assert champion_version(project) == "1"
        promoted = approve_version("manual__loose-bob", candidate.version, "ethical", "bob", "manual")
        assert promoted["promoted"] and champion_version(project) == str(candidate.version)
        promotion = [e for e in audit_entries(project) if e["kind"] == "promotion"][-1]
        assert promotion["payload"]["approved_by"] == {"technical": "alice", "ethical": "bob"}
    finally:
        config_file.write_text(original, encoding="utf-8")
