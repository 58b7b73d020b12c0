"""What the governance view gathers, on a project whose record holds every situation it shows.

The project (tests/governance_state.py) is built once with fairgate's own
functions: a champion, a version blocked by the ethical gate, a demoted
version, a rollback that froze deployments, a candidate waiting with one of
two sign-offs, a refused approval, a monitoring verdict. Each test reads it
through :func:`pipelines.flows.governance_view.governance_view` and checks the
view against the record; the tests that tamper (a broken chain, an alias moved
outside fairgate, a rewritten alias-history tag) work on a copy.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.core.config import load_config
from pipelines.core.errors import BadInputError
from pipelines.core.project import ProjectPaths
from pipelines.flows.governance_view import governance_view, move_mode, version_document
from pipelines.governance import registry, tags
from pipelines.governance.records import open_audit_log
from tests.governance_state import (
    ETHICAL_FAILURE,
    PROMOTER,
    REFUSED_BY,
    ROLLBACK_BY,
    ROLLBACK_REASON,
    TECHNICAL_BY,
    GovernanceState,
    build,
    register,
)


@pytest.fixture(scope="module")
def state(tmp_path_factory) -> Iterator[GovernanceState]:
    patch = pytest.MonkeyPatch()
    try:
        yield build(tmp_path_factory.mktemp("governance-view") / "project", patch)
    finally:
        patch.undo()


@pytest.fixture(scope="module")
def view(state: GovernanceState) -> dict:
    return governance_view(state.paths, state.config)


@pytest.fixture
def copy(state: GovernanceState, tmp_path, monkeypatch) -> GovernanceState:
    """A copy of the project (its audit log, its MLflow store) that a test may tamper with."""
    root = tmp_path / "copy"
    shutil.copytree(state.root, root, symlinks=True)
    monkeypatch.setenv("FAIRGATE_HOME", str(root))
    paths = ProjectPaths(root)
    return GovernanceState(root, paths, load_config(paths.config_file), state.champion, state.blocked,
                           state.demoted, state.waiting)


def entries_of(state: GovernanceState) -> list:
    with open_audit_log(state.paths, state.config) as log:
        return log.entries()


def test_the_champion_is_the_recorded_one_with_its_gate_verdicts(state, view):
    champion = view["champion"]
    assert champion["version"] == state.champion == view["registry_champion"]
    assert (champion["decision"], champion["technical"], champion["ethical"]) == ("passed",) * 3
    assert champion["has_model_card"] and champion["recorded"] and champion["problem"] is None
    assert [c["metric"] for c in champion["checks"]] == ["technical.roc_auc", "ethical.sex.disparate_impact"]
    assert champion["checks"][0]["candidate"] == 0.7712345678  # as recorded, not rounded on its way
    rollback = next(e for e in entries_of(state) if e.kind == "rollback")
    assert (champion["move_seq"], champion["since"]) == (rollback.seq, rollback.recorded_at)
    assert view["integrity"] is None
    assert view["audit"]["ok"] and view["trusted"]
    assert view["audit"]["checked"] == len(entries_of(state))


def test_a_blocked_version_shows_its_recorded_verdicts_and_why(state, view):
    by_number = {v["version"]: v for v in view["versions"]}
    assert list(by_number) == [state.waiting, state.demoted, state.blocked, state.champion]  # latest first
    blocked = by_number[state.blocked]
    assert (blocked["decision"], blocked["technical"], blocked["ethical"]) == ("blocked", "passed", "blocked")
    assert [c["reason"] for c in blocked["failed_checks"]] == [ETHICAL_FAILURE]
    assert not blocked["champion"] and not blocked["passed"]
    assert [v["version"] for v in view["versions"] if v["champion"]] == [state.champion]
    assert by_number[state.demoted]["decision"] == "passed" and not by_number[state.demoted]["champion"]


def test_the_alias_history_comes_from_the_audit_log_latest_first(state, view):
    history = view["history"]
    assert [(m["action"], m["from_version"], m["to_version"]) for m in history] == [
        ("rollback", state.demoted, state.champion),
        ("promote", state.champion, state.demoted),
        ("promote", None, state.champion),
    ]
    assert [(m["actor"], m["mode"]) for m in history] == [
        (ROLLBACK_BY, "manual"), (PROMOTER, "automatic"), (PROMOTER, "automatic")
    ]
    assert history[0]["reason"] == ROLLBACK_REASON
    moves = {e.seq: e for e in entries_of(state) if e.kind in ("promotion", "rollback")}
    assert {m["seq"] for m in history} == set(moves)
    assert all(m["at"] == moves[m["seq"]].recorded_at for m in history)


def test_the_history_ignores_the_registry_mirror(copy):
    """The MLflow tag that mirrors the alias history is not read: rewriting it changes nothing shown."""
    before = governance_view(copy.paths, copy.config)["history"]
    client = registry.connect(copy.paths)
    forged = [{"action": "promote", "from_version": None, "to_version": copy.blocked, "actor": "mallory",
               "reason": "forged", "airflow_run_id": "x", "at": "2026-01-01T00:00:00+00:00"}]
    client.set_registered_model_tag(copy.config.registry.model_name, tags.ALIAS_HISTORY, json.dumps(forged))
    after = governance_view(copy.paths, copy.config)["history"]
    assert after == before
    assert "mallory" not in json.dumps(after)


def test_move_mode_tells_the_gate_and_monitoring_from_people():
    assert move_mode("promote", "alice") == "automatic"  # the gate decided, whoever triggered the run
    assert move_mode("rollback", "fairgate:monitor") == "automatic"
    assert move_mode("rollback", "alice") == "manual"
    assert move_mode("approval", "bob") == "manual"


def test_the_freeze_names_who_froze_it_and_what_lifting_it_needs(state, view):
    freeze = view["freeze"]
    assert freeze["frozen"] is True and freeze["actor"] == ROLLBACK_BY
    assert ROLLBACK_REASON in freeze["reason"] and freeze["describe"].startswith("FROZEN since")
    recorded = [e for e in entries_of(state) if e.kind == "freeze"]
    assert freeze["seq"] == recorded[-1].seq
    assert freeze["unfreeze"]["enough"] is False
    assert freeze["unfreeze"]["missing"] == ["a technical sign-off", "an ethical sign-off (from another person)"]


def test_a_waiting_candidate_shows_the_sign_off_present_and_the_one_missing(state, view):
    (waiting,) = view["pending"]
    assert waiting["version"] == state.waiting and waiting["recorded"] and waiting["tagged_waiting"]
    assert (waiting["technical"], waiting["ethical"]) == ([TECHNICAL_BY], [])
    assert waiting["missing"] == [f"an ethical sign-off from someone other than {TECHNICAL_BY}"]
    assert waiting["gated_against"] == state.champion and waiting["stale"] is False
    assert waiting["enough"] is False


def test_refusals_and_monitoring_are_the_recorded_ones(state, view):
    (refusal,) = view["refusals"]
    assert (refusal["actor"], refusal["what"], str(refusal["version"])) == (REFUSED_BY, "approval", state.blocked)
    assert "did not pass every gate" in refusal["reason"]
    (horizon,) = view["monitoring"]
    assert (horizon["horizon"], horizon["verdict"], horizon["interval"]) == ("decision_time", "warn", "2026-03")
    assert horizon["worst"] == "four_fifths_ratio sex = 0.8312 [0.79, 0.87] (warn; warn 0.85, critical 0.8)"
    assert str(horizon["champion_version"]) == state.champion


def test_gathering_writes_nothing(state):
    before = [e.entry_hash for e in entries_of(state)]
    governance_view(state.paths, state.config)
    assert [e.entry_hash for e in entries_of(state)] == before


def test_an_alias_moved_outside_fairgate_is_shown_and_not_recorded(copy, state):
    client = registry.connect(copy.paths)
    client.set_registered_model_alias(copy.config.registry.model_name, "champion", copy.blocked)
    before = len(entries_of(copy))
    shown = governance_view(copy.paths, copy.config)
    assert shown["champion"]["version"] == copy.champion  # the record's champion, not the alias
    assert shown["registry_champion"] == copy.blocked
    assert shown["integrity"].startswith(f"the registry's champion is {copy.blocked}, the record says {copy.champion}")
    assert len(entries_of(copy)) == before
    original = registry.champion(registry.connect(state.paths), state.config.registry.model_name, "champion")
    assert str(original.version) == state.champion  # the copy's store was changed, not the original's


def test_a_broken_chain_is_shown_as_broken_and_untrusted(copy):
    freeze_seq = [e.seq for e in entries_of(copy) if e.kind == "freeze"][-1]
    with sqlite3.connect(copy.root / "var" / "audit" / "audit.db") as db:
        db.execute("UPDATE audit_entries SET actor = 'mallory' WHERE seq = ?", (freeze_seq,))
    shown = governance_view(copy.paths, copy.config)
    assert shown["audit"]["ok"] is False and shown["trusted"] is False
    assert shown["audit"]["broken_seq"] == freeze_seq
    assert shown["audit"]["problem"] == "edited"
    assert f"entry {freeze_seq}" in shown["audit"]["verdict"]
    assert shown["freeze"]["actor"] == "mallory"  # shown as stored, under the untrusted banner


def test_documents_come_from_the_versions_runs(state):
    report = version_document(state.paths, state.config, state.blocked, "gate_report")
    assert report.kind == "markdown" and ETHICAL_FAILURE in report.text and "**blocked**" in report.text
    card = version_document(state.paths, state.config, state.champion, "model_card")
    assert card.kind == "html" and card.text.lstrip().lower().startswith("<!doctype html")
    assert f"version {state.champion}" in card.text.lower()
    with pytest.raises(BadInputError, match="document must be one of: model_card, gate_report; found 'weights'"):
        version_document(state.paths, state.config, state.champion, "weights")
    with pytest.raises(BadInputError, match="version 99 of 'fairgate-credit-default' is not registered"):
        version_document(state.paths, state.config, "99", "gate_report")
    with pytest.raises(BadInputError, match="model_version must be a positive integer"):
        version_document(state.paths, state.config, "../1", "gate_report")


def test_before_any_champion_the_view_says_none_and_a_blocked_version_stays_blocked(tmp_path, monkeypatch):
    root = tmp_path / "fresh"
    root.mkdir()
    shutil.copy(Path(__file__).resolve().parents[2] / "fairgate.yaml", root / "fairgate.yaml")
    monkeypatch.setenv("FAIRGATE_HOME", str(root))
    paths = ProjectPaths(root)
    config = load_config(paths.config_file)
    empty = governance_view(paths, config)
    assert (empty["champion"], empty["registry_champion"], empty["versions"], empty["history"]) == (None, None, [], [])
    assert empty["audit"]["ok"] and empty["audit"]["checked"] == 0
    assert empty["freeze"]["frozen"] is False and empty["freeze"]["unfreeze"] is None
    assert (empty["pending"], empty["refusals"], empty["monitoring"], empty["integrity"]) == ([], [], [], None)

    blocked = register(paths, config, ethical_passed=False)
    shown = governance_view(paths, config)
    assert shown["champion"] is None and shown["history"] == [] and shown["pending"] == []
    (version,) = shown["versions"]
    assert (version["version"], version["decision"], version["champion"]) == (blocked, "blocked", False)
    assert [c["reason"] for c in version["failed_checks"]] == [ETHICAL_FAILURE]
