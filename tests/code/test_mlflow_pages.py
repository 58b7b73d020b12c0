"""The MLflow pages' text: the verdict first, exact values shown rounded only for people, history latest first."""

from __future__ import annotations

from pipelines.flows.retrain.mlflow_run import run_verdict
from pipelines.reports.mlflow_pages import (
    checks_table,
    gate_verdict_line,
    model_description,
    run_description,
    shown,
    version_description,
)

PASSED_CHECK = {"metric": "technical.roc_auc", "gate": "technical", "kind": "absolute", "bound": "min", "limit": 0.7,
                "candidate": 0.774394369119583, "champion": None, "passed": True, "confidence": "confident",
                "reason": "technical.roc_auc = 0.7744 >= min 0.7"}
FAILED_CHECK = {"metric": "ethical.gender.demographic_parity_ratio", "gate": "ethical", "kind": "absolute",
                "bound": "min", "limit": 0.8, "candidate": 0.7123, "champion": 0.91, "passed": False,
                "confidence": "uncertain", "reason": "ethical.gender.demographic_parity_ratio = 0.7123 < min 0.8"}


def test_a_blocked_version_says_so_first_and_names_the_failed_check():
    gate = {"passed": False, "checks": [PASSED_CHECK, FAILED_CHECK], "reasons": [FAILED_CHECK["reason"]]}
    line = gate_verdict_line(gate, ["champion"], awaiting=False)  # even an alias on it does not make it pass
    assert line == "BLOCKED at gate: ethical.gender.demographic_parity_ratio = 0.7123 < min 0.8"
    assert gate_verdict_line({**gate, "checks": [FAILED_CHECK, FAILED_CHECK]}, [], False).endswith(
        "(and 1 more failed check(s))")
    assert gate_verdict_line(None, [], False).startswith("NO VERDICT RECORDED")


def test_a_passed_version_says_whether_it_serves_or_waits():
    gate = {"passed": True, "checks": [PASSED_CHECK]}
    assert gate_verdict_line(gate, ["champion"], False) == "PASSED: the champion (serving)"
    assert gate_verdict_line(gate, [], True).startswith("PASSED: waiting for a technical and an ethical sign-off")
    assert gate_verdict_line(gate, [], False) == "PASSED: not serving"


def test_the_checks_table_orders_families_and_marks_failures_and_uncertainty():
    lines = checks_table([FAILED_CHECK, PASSED_CHECK])
    assert lines[2].startswith("| technical | `roc_auc` | 0.7744 | - | min 0.7000 | passed |")
    assert lines[3] == ("| ethical | `gender.demographic_parity_ratio` | 0.7123 | 0.9100 | min 0.8000 "
                        "| **failed** (uncertain) |")
    assert checks_table([]) == []


def test_the_version_description_holds_verdict_metrics_lineage_and_links():
    facts = {"model": {"aliases": [], "run_id": "r1"},
             "version_tags": {"fairgate.data_hash": "abc.dir", "fairgate.config_hash": "f" * 64,
                              "fairgate.git_commit": "1234567890abcdef", "fairgate.data_interval": "2026-03"},
             "artifacts": {"gate_decision": {"content": {"passed": False, "checks": [FAILED_CHECK],
                                                          "champion_version": "2"}}}}
    text = version_description(facts, "7")
    assert text.splitlines()[0] == f"**BLOCKED at gate: {FAILED_CHECK['reason']}**"
    assert "Gated against champion version 2." in text
    assert "Lineage: data `abc.dir` · config `ffffffffffff` · commit `1234567890ab` · interval `2026-03`" in text
    assert "[Gate report](#/experiments/7/runs/r1/artifacts/gate/gate_report.md)" in text


def test_the_model_description_lists_moves_latest_first_and_tells_automatic_from_manual():
    moves = [{"at": "2026-01-01", "action": "promote", "from_version": None, "to_version": "1", "actor": "ana",
              "reason": "passed both gates"},
             {"at": "2026-02-01", "action": "rollback", "from_version": "2", "to_version": "1",
              "actor": "fairgate:monitor", "reason": "four-fifths | breached"}]
    text = model_description("m y", moves, "1")
    rows = [line for line in text.splitlines() if line.startswith("| 2026")]
    assert rows[0].startswith("| 2026-02-01 | rollback | [2](#/models/m%20y/versions/2) | [1](")
    assert "| fairgate:monitor | yes | four-fifths \\| breached |" in rows[0]
    assert rows[1].startswith("| 2026-01-01 | promote | none | ") and "| ana | no |" in rows[1]
    assert model_description("m", [], None).startswith("**No champion yet**")


def test_a_run_is_named_and_described_by_how_it_ended():
    blocked = run_verdict("FAILED", {"fairgate.blocked_at": "audit", "fairgate.blocked_reasons": "nulls 8% > 5%"}, [])
    assert blocked == ("BLOCKED at audit: nulls 8% > 5%", "blocked at audit")
    promoted = run_verdict("FINISHED", {}, [{"stage": "promote", "verdict": "passed",
                                             "details": {"from_version": "1", "to_version": "2"}}])
    assert promoted == ("PASSED: version 2 promoted to champion (was 1)", "v2 promoted")
    waiting = run_verdict("FINISHED", {}, [{"stage": "promote", "verdict": "waiting", "details": {"version": 3}}])
    assert waiting[1] == "v3 waiting for approval"
    assert run_verdict("KILLED", {"fairgate.stopped_at": "train", "fairgate.stopped_reason": "SIGTERM"}, [])[1] == (
        "stopped at train")
    text = run_description("BLOCKED at gate: x", {"fairgate.data_hash": "d"}, {"ethical.a": 0.5, "technical.b": 1.0},
                           {"technical.b": 0.25}, [("Gate report", "#/x")])
    assert text.splitlines()[2:5] == ["| family | metric | candidate | champion |", "|---|---|---|---|",
                                      "| technical | `b` | 1.0000 | 0.2500 |"]


def test_values_are_rounded_only_for_people():
    assert shown(0.774394369119583) == "0.7744" and shown(None) == "-" and shown(3) == "3"
