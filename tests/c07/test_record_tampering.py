"""C07, the record: nobody can delete or rewrite the audit log quietly.

After the incident, the log is what says who froze, who approved and what was
promoted. Each test copies one real project (its registry in MLflow with
fairgate's versions, its audit log, its key file), tampers with the copy
through the file system, SQL on the database file (sqlite3) or the MLflow
client, and runs the ``fairgate`` command as a user would. Every tamper is
caught, exit 1, naming the first broken or missing entry; the untampered copy
verifies.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import sqlite3
import uuid
from pathlib import Path

import pytest

from pipelines.core.config import load_config
from pipelines.core.project import ProjectPaths
from pipelines.flows.cli import main
from pipelines.governance import records, registry, tags
from pipelines.governance.audit_anchor import (
    DETAIL_ANCHOR_HASH,
    DETAIL_BEHIND_ANCHOR,
    DETAIL_UNANCHORED_EMPTY,
    ERR_APPEND_AGAINST_ANCHOR,
)
from pipelines.governance.audit_log import (
    DETAIL_EDITED,
    DETAIL_GAP,
    DETAIL_TAIL_DELETED,
    DETAIL_UNKEYED,
    ERR_REKEY_ANCHORED,
)
from pipelines.governance.records import ERR_LOG_NOT_INTACT
from tests.conftest import make_project
from tests.projects import MODEL, client_for, fairgate

pytestmark = [pytest.mark.c07]

WHERE = f"the registry tag {tags.AUDIT_HEAD} of {MODEL!r}"
ENTRIES = 6  # what the history below records
SCHEME = "fairgate.audit.hmac-sha256.v2"


def register_version(root: Path) -> str:
    """A registered version carrying fairgate's tags, as retrain.register leaves it (without training)."""
    client = client_for(root)
    paths = ProjectPaths(root)
    source = root / "models" / uuid.uuid4().hex
    source.mkdir(parents=True)
    (source / "MLmodel").write_text("flavors: {}\n", encoding="utf-8")
    run = client.create_run(registry.ensure_experiment(client, paths, MODEL))
    client.log_artifacts(run.info.run_id, str(source), "model")
    version_tags = {tags.GATE_DECISION: "passed", tags.GATE_TECHNICAL: "passed", tags.GATE_ETHICAL: "passed"}
    created = client.create_model_version(MODEL, f"{run.info.artifact_uri}/model", run_id=run.info.run_id,
                                          tags=version_tags)
    return str(created.version)


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """A project whose log holds six events and whose registry holds two fairgate versions."""
    root = make_project(tmp_path_factory.mktemp("record") / "project")
    paths = ProjectPaths(root)
    config = load_config(paths.config_file)
    # the order retrain follows: the gate decision is recorded before the version is registered (its anchor
    # write creates the registered model)
    records.record_event(paths, config, "gate_decision", "airflow:retrain", {"decision": "passed"}, "r1:gate")
    first = register_version(root)
    records.record_event(paths, config, "registration", "airflow:retrain", {"summary": "registered"},
                         "r1:registration", model_version=first)
    client_for(root).set_registered_model_alias(MODEL, "champion", first)  # what the recorded promotion did
    records.record_event(paths, config, "promotion", "airflow:retrain", {"to_version": first},
                         "r1:promotion", model_version=first)
    records.record_event(paths, config, "gate_decision", "airflow:retrain", {"decision": "passed"}, "r2:gate")
    second = register_version(root)
    records.record_event(paths, config, "registration", "airflow:retrain", {"summary": "registered"},
                         "r2:registration", model_version=second)
    frozen = fairgate(root, "freeze", "--reason", "C07: freeze while the incident is investigated")
    assert frozen.returncode == 0, frozen.stderr
    return root


@pytest.fixture
def project(base: Path, tmp_path: Path) -> Path:
    """This test's own copy of the project (database, key file and registry)."""
    copy = tmp_path / "project"
    shutil.copytree(base, copy, symlinks=True)
    return copy


def db_of(root: Path) -> Path:
    return root / "var" / "audit" / "audit.db"


def url_of(root: Path) -> str:
    return f"sqlite:///{db_of(root)}"


def execute(root: Path, *statements: str | tuple[str, tuple]) -> None:
    connection = sqlite3.connect(db_of(root))
    for statement in statements:
        text, params = (statement, ()) if isinstance(statement, str) else statement
        connection.execute(text, params)
    connection.commit()
    connection.close()


def rows(root: Path) -> list[dict]:
    connection = sqlite3.connect(db_of(root))
    connection.row_factory = sqlite3.Row
    found = [dict(r) for r in connection.execute("SELECT * FROM audit_entries ORDER BY seq")]
    connection.close()
    return found


def verify(root: Path) -> tuple[int, str]:
    """``fairgate audit verify`` in its own process, as a user runs it."""
    result = fairgate(root, "audit", "verify")
    return result.returncode, result.stdout + result.stderr


@pytest.fixture
def verify_here(monkeypatch, capsys):
    """``fairgate audit verify`` through the CLI's entry point in this process (no start-up per call)."""

    def run(root: Path) -> tuple[int, str]:
        monkeypatch.setenv("FAIRGATE_HOME", str(root))
        capsys.readouterr()
        code = main(["audit", "verify"])
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    return run


def broken(seq: int, problem: str, detail: str, root: Path) -> str:
    return f"audit log BROKEN at entry {seq} ({problem}): {detail} ({url_of(root)})\n"


# ------------------------------------------------------------------ rewriting the whole chain, as documented


def _fields(row: dict) -> list:
    return [row["seq"], row["recorded_at"], row["actor"], row["kind"], row["model_name"], row["model_version"],
            row["payload"]]


def plain_sha256(row: dict) -> str:
    """The hash before keyed hashing: SHA-256 of the fields, without the idempotency key."""
    material = json.dumps([*_fields(row), row["prev_hash"]], separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def hmac_with(key: bytes):
    def keyed(row: dict) -> str:
        fields = [SCHEME, *_fields(row), row["idempotency_key"], row["prev_hash"]]
        material = json.dumps(fields, separators=(",", ":"), ensure_ascii=False)
        return hmac.new(key, material.encode("utf-8"), hashlib.sha256).hexdigest()

    return keyed


def rewrite_chain(root: Path, hash_of, actor: str = "cli:mallory") -> None:
    """Forge every entry's actor and re-link the whole chain and its head with ``hash_of``."""
    statements: list[str | tuple[str, tuple]] = []
    prev = "0" * 64
    for row in rows(root):
        row.update(actor=actor, prev_hash=prev)
        row["entry_hash"] = hash_of(row)
        statements.append(("UPDATE audit_entries SET actor = ?, prev_hash = ?, entry_hash = ? WHERE seq = ?",
                           (actor, row["prev_hash"], row["entry_hash"], row["seq"])))
        prev = row["entry_hash"]
    statements.append(("UPDATE audit_head SET entry_hash = ?", (prev,)))
    execute(root, *statements)


def the_key(root: Path) -> bytes:
    return (root / "var" / "audit" / "audit.key").read_text(encoding="ascii").strip().encode("ascii")


# ------------------------------------------------------------------ the tampers


def _edit(column: str, seq: int, value: str):
    def tamper(root: Path) -> None:
        execute(root, (f"UPDATE audit_entries SET {column} = ? WHERE seq = ?", (value, seq)))

    return tamper


def _delete(seq: int):
    def tamper(root: Path) -> None:
        execute(root, ("DELETE FROM audit_entries WHERE seq = ?", (seq,)))

    return tamper


def _truncate(count: int):
    def tamper(root: Path) -> None:
        keep = rows(root)[-count - 1]
        execute(root, ("DELETE FROM audit_entries WHERE seq > ?", (keep["seq"],)),
                ("UPDATE audit_head SET seq = ?, entry_hash = ?", (keep["seq"], keep["entry_hash"])))

    return tamper


def _delete_file(root: Path) -> None:
    db_of(root).unlink()


def _delete_everything(root: Path) -> None:
    execute(root, "DELETE FROM audit_entries", "DELETE FROM audit_head")


def _rechain_sha256(root: Path) -> None:
    rewrite_chain(root, plain_sha256)


def _rechain_wrong_key(root: Path) -> None:
    rewrite_chain(root, hmac_with(b"not the key, but long enough to be one" * 2))


def _rechain_with_the_key(root: Path) -> None:
    """An insider holding the key rewrites the chain, but cannot move the registry's anchor."""
    rewrite_chain(root, hmac_with(the_key(root)))


BEHIND = "deleted"
TAMPERS = [
    pytest.param(_edit("actor", 2, "cli:mallory"), 2, "edited", DETAIL_EDITED, id="edit-actor"),
    pytest.param(_edit("payload", 3, '{"to_version":"2"}'), 3, "edited", DETAIL_EDITED, id="edit-payload"),
    pytest.param(_edit("idempotency_key", 4, "r9:gate"), 4, "edited", DETAIL_EDITED, id="edit-idempotency-key"),
    pytest.param(_edit("recorded_at", 5, "2020-01-01T00:00:00.000000+00:00"), 5, "edited", DETAIL_EDITED,
                 id="edit-recorded-at"),
    pytest.param(_delete(1), 1, "deleted", DETAIL_GAP.format(before=0, after=2), id="delete-first"),
    pytest.param(_delete(3), 3, "deleted", DETAIL_GAP.format(before=2, after=4), id="delete-middle"),
    pytest.param(_delete(ENTRIES), ENTRIES, "deleted", DETAIL_TAIL_DELETED.format(head=ENTRIES, last=ENTRIES - 1),
                 id="delete-last"),
    pytest.param(_truncate(2), ENTRIES - 1, BEHIND,
                 DETAIL_BEHIND_ANCHOR.format(where=WHERE, anchor=ENTRIES, last=ENTRIES - 2),
                 id="truncate-and-fix-head"),
    pytest.param(_delete_file, 1, BEHIND, DETAIL_BEHIND_ANCHOR.format(where=WHERE, anchor=ENTRIES, last=0),
                 id="delete-the-file"),
    pytest.param(_delete_everything, 1, BEHIND, DETAIL_BEHIND_ANCHOR.format(where=WHERE, anchor=ENTRIES, last=0),
                 id="delete-all-rows-and-the-head"),
    pytest.param(_rechain_sha256, 1, "unkeyed", DETAIL_UNKEYED, id="rechain-forged-actor-plain-sha256"),
    pytest.param(_rechain_wrong_key, 1, "edited", DETAIL_EDITED, id="rechain-forged-actor-wrong-key"),
    pytest.param(_rechain_with_the_key, ENTRIES, "edited", DETAIL_ANCHOR_HASH.format(where=WHERE, anchor=ENTRIES),
                 id="rechain-forged-actor-with-the-key"),
]


def test_the_untampered_log_verifies(project):
    code, output = verify(project)
    assert (code, output) == (
        0,
        f"audit log OK: {ENTRIES} entries, chain intact, anchored at entry {ENTRIES} in {WHERE} ({url_of(project)})\n",
    )


@pytest.mark.parametrize(("tamper", "seq", "problem", "detail"), TAMPERS)
def test_every_tamper_is_caught_and_named(project, verify_here, tamper, seq, problem, detail):
    assert verify_here(project)[0] == 0  # the check finds nothing on this intact copy ...
    tamper(project)
    assert verify_here(project) == (1, broken(seq, problem, detail, project))  # ... and finds this


def test_deleting_the_log_and_the_anchor_fails_closed_while_fairgate_versions_exist(project, verify_here):
    _delete_file(project)
    client_for(project).delete_registered_model_tag(MODEL, tags.AUDIT_HEAD)
    code, output = verify_here(project)
    assert (code, output) == (
        1, f"audit log BROKEN (deleted): {DETAIL_UNANCHORED_EMPTY.format(where=WHERE, managed=2)} ({url_of(project)})\n"
    )


def test_status_after_the_log_is_deleted_raises_the_alarm_and_exits_1(project):
    assert fairgate(project, "status").returncode == 0
    _delete_file(project)
    status = fairgate(project, "status")
    assert status.returncode == 1, status.stderr
    alarm = "audit log BROKEN at entry 1 (deleted): " + DETAIL_BEHIND_ANCHOR.format(where=WHERE, anchor=ENTRIES, last=0)
    lines = status.stdout.splitlines()
    assert lines[1] == f"audit log: INTEGRITY ALARM: {alarm}"
    assert lines[2].startswith("deployments: frozen by the alarm: promotion, approval, unfreezing and rollback")
    assert "not frozen" not in status.stdout


def test_rollback_is_refused_and_a_freeze_cannot_move_the_anchor_back_while_the_log_is_gone(project):
    _delete_file(project)
    alarm = "audit log BROKEN at entry 1 (deleted): " + DETAIL_BEHIND_ANCHOR.format(where=WHERE, anchor=ENTRIES, last=0)
    rolled = fairgate(project, "rollback", "--reason", "C07: back to the fair model")
    assert rolled.returncode == 1
    assert rolled.stderr == f"fairgate: blocked at audit_log: {ERR_LOG_NOT_INTACT.format(verdict=alarm)}\n"
    frozen = fairgate(project, "freeze", "--reason", "start over quietly")
    assert frozen.returncode == 1
    refused = DETAIL_BEHIND_ANCHOR.format(where=WHERE, anchor=ENTRIES, last=0)
    assert frozen.stderr == (
        f"fairgate: blocked at audit_log: {ERR_APPEND_AGAINST_ANCHOR.format(url=url_of(project), detail=refused)}\n"
    )
    assert rows(project) == []  # nothing appended to the replacement ...
    anchor = json.loads(client_for(project).get_registered_model(MODEL).tags[tags.AUDIT_HEAD])
    assert anchor["seq"] == ENTRIES  # ... and the evidence stays where it was
    assert verify(project)[0] == 1


def test_every_append_moves_the_anchor_to_the_new_head(project):
    before = json.loads(client_for(project).get_registered_model(MODEL).tags[tags.AUDIT_HEAD])
    assert before == {"seq": ENTRIES, "entry_hash": rows(project)[-1]["entry_hash"]}
    assert fairgate(project, "freeze", "--reason", "a second freeze").returncode == 0
    after = json.loads(client_for(project).get_registered_model(MODEL).tags[tags.AUDIT_HEAD])
    assert after == {"seq": ENTRIES + 1, "entry_hash": rows(project)[-1]["entry_hash"]}
    assert verify(project)[0] == 0


def test_a_chain_recomputed_without_the_key_cannot_be_passed_off_as_a_legacy_log(project, verify_here, capsys):
    _rechain_sha256(project)
    assert verify_here(project) == (1, broken(1, "unkeyed", DETAIL_UNKEYED, project))
    assert main(["audit", "rekey"]) == 1  # the registry holds this log's anchor: it was keyed
    refused = ERR_REKEY_ANCHORED.format(url=url_of(project), where=WHERE)
    assert capsys.readouterr().err == f"fairgate: blocked at audit_log: {refused}\n"
    assert verify_here(project)[0] == 1


def test_the_model_card_records_the_head_and_its_anchor(project):
    from pipelines.reports import model_card

    paths = ProjectPaths(project)
    config = load_config(paths.config_file)
    last = rows(project)[-1]
    facts = model_card.gather_facts(client_for(project), paths, config, "2")
    assert facts["audit_log"]["head"] == {
        "seq": ENTRIES, "entry_hash": last["entry_hash"], "anchored_seq": ENTRIES, "anchor": WHERE,
    }
    markdown = model_card.render_markdown(facts)
    assert f"entry {ENTRIES}, hash `{last['entry_hash']}`; anchored at entry {ENTRIES} in `{WHERE}`." in markdown
    _delete_file(project)  # a card written while the log is gone says so, and anchors nothing
    facts = model_card.gather_facts(client_for(project), paths, config, "2")
    assert facts["audit_log"]["head"] == {"seq": 0, "entry_hash": None, "anchored_seq": None, "anchor": None}
    assert not facts["audit_log"]["verify"]["ok"]
    assert "not anchored outside the database" in model_card.render_markdown(facts)


def test_approval_and_unfreezing_are_refused_while_the_log_is_gone(project, monkeypatch):
    from pipelines.core.errors import BlockedError
    from pipelines.flows import champion

    monkeypatch.setenv("FAIRGATE_HOME", str(project))
    _delete_file(project)
    alarm = "audit log BROKEN at entry 1 (deleted): " + DETAIL_BEHIND_ANCHOR.format(where=WHERE, anchor=ENTRIES, last=0)
    with pytest.raises(BlockedError) as approval:
        champion.approve_version("manual__approve-1", "2", "technical", "alice", "manual")
    with pytest.raises(BlockedError) as unfreeze:
        champion.sign_unfreeze("manual__unfreeze-1", "ethical", "bob", "manual")
    for refused in (approval.value, unfreeze.value):
        assert (refused.stage, refused.reasons) == ("audit_log", [ERR_LOG_NOT_INTACT.format(verdict=alarm)])
    assert rows(project) == []  # no sign-off was recorded on the replacement log
