"""The audit log: append-only, idempotent, tamper-evident, safe under concurrent writers.

Every test works on SQLite files under tmp_path; tampering is done on a copy of
the database file with the stdlib sqlite3 module, after checking that the copy
verifies, so each check is seen both finding nothing and finding something.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pipelines.core.config import load_config, parse_config
from pipelines.core.errors import BadInputError, BlockedError
from pipelines.core.project import ProjectPaths, audit_log_url
from pipelines.flows.cli import main
from pipelines.governance import audit_chain, audit_key, audit_log
from pipelines.governance.audit_log import (
    DETAIL_BEYOND_HEAD,
    DETAIL_EDITED,
    DETAIL_FORK,
    DETAIL_GAP,
    DETAIL_HEAD_HASH,
    DETAIL_HEAD_MISSING,
    DETAIL_REORDERED,
    DETAIL_REWRITTEN,
    DETAIL_TAIL_DELETED,
    DETAIL_UNKEYED,
    EVENT_KINDS,
    GENESIS_HASH,
    PROBLEM_DELETED,
    PROBLEM_EDITED,
    PROBLEM_HEAD_MISSING,
    PROBLEM_INSERTED,
    PROBLEM_REORDERED,
    PROBLEM_UNKEYED,
    open_log,
)
from tests.audit_log_race import race_two_appends
from tests.conftest import make_project

REPO = Path(__file__).resolve().parents[2]
MODEL = "fairgate-credit-default"
FAIRGATE = Path(sys.executable).parent / "fairgate"
ANCHOR_WHERE = f"the registry tag fairgate.audit.head of {MODEL!r}"


@pytest.fixture(autouse=True)
def _never_the_production_log(monkeypatch):
    monkeypatch.delenv("FAIRGATE_AUDIT_LOG_URL", raising=False)


def url_of(path: Path) -> str:
    return f"sqlite:///{path}"


@pytest.fixture()
def db(tmp_path: Path) -> Path:
    return tmp_path / "audit.db"


@pytest.fixture()
def log(db: Path):
    with open_log(url_of(db)) as opened:
        yield opened


def record_history(log, model: str = MODEL) -> list:
    """Five events of a small deployment's life."""
    return [
        log.append(
            "gate_decision",
            "airflow:retrain",
            {"decision": "passed", "roc_auc": 0.8125},
            model_name=model,
            model_version=1,
            idempotency_key="run1:gate_decision:1",
        ),
        log.append(
            "registration",
            "airflow:retrain",
            {"summary": "registered with lineage"},
            model_name=model,
            model_version="1",
            idempotency_key="run1:registration:1",
        ),
        log.append(
            "promotion",
            "airflow:retrain",
            {"reason": "both gates passed", "to_version": 1},
            model_name=model,
            model_version=1,
            idempotency_key="run1:promotion:1",
        ),
        log.append(
            "gate_decision",
            "airflow:retrain",
            {"decision": "blocked", "reason": ["dp 0.71", "eo 0.14"]},
            model_name=model,
            model_version=2,
            idempotency_key="run2:gate_decision:2",
        ),
        log.append("freeze", "cli:alice", {"reason": "incident C07"}, idempotency_key="cli-7:freeze"),
    ]


@pytest.fixture()
def history_db(db: Path) -> Path:
    """A closed database file holding the five events."""
    with open_log(url_of(db)) as opened:
        record_history(opened)
    return db


def verify_file(path: Path):
    with open_log(url_of(path)) as opened:
        return opened.verify()


def execute(path: Path, *statements: tuple[str, tuple] | str) -> None:
    connection = sqlite3.connect(path)
    for statement in statements:
        sql, params = (statement, ()) if isinstance(statement, str) else statement
        connection.execute(sql, params)
    connection.commit()
    connection.close()


def row(path: Path, seq: int) -> dict:
    connection = sqlite3.connect(path)
    connection.row_factory = sqlite3.Row
    found = dict(connection.execute("SELECT * FROM audit_entries WHERE seq = ?", (seq,)).fetchone())
    connection.close()
    return found


def key_of(path: Path) -> bytes:
    """The embedded key the log at ``path`` made for itself, read as an insider would."""
    return path.with_suffix(".key").read_text(encoding="ascii").strip().encode("ascii")


def copy_log(source: Path, target: Path) -> None:
    """Copy a log's database and its key file."""
    shutil.copyfile(source, target)
    shutil.copy2(source.with_suffix(".key"), target.with_suffix(".key"))


def keyed_hash(path: Path, values: dict) -> str:
    """The hash an insider holding the log's key computes for a row (the chain's own function)."""
    entry = audit_log.Entry(
        seq=values["seq"],
        recorded_at=values["recorded_at"],
        actor=values["actor"],
        kind=values["kind"],
        model_name=values["model_name"],
        model_version=values["model_version"],
        payload_json=values["payload"],
        prev_hash=values["prev_hash"],
        entry_hash="",
        idempotency_key=values["idempotency_key"],
    )
    return audit_chain.chain_hash(key_of(path), entry)


def forged_row(path: Path, seq: int, prev_hash: str, key: str) -> dict:
    values = {
        "seq": seq,
        "recorded_at": "2026-01-01T00:00:00.000000+00:00",
        "actor": "cli:mallory",
        "kind": "approval",
        "model_name": MODEL,
        "model_version": 2,
        "payload": '{"reason":"approved"}',
        "prev_hash": prev_hash,
        "idempotency_key": key,
    }
    values["entry_hash"] = keyed_hash(path, values)
    return values


def insert(values: dict) -> tuple[str, tuple]:
    columns = ", ".join(values)
    return f"INSERT INTO audit_entries ({columns}) VALUES ({', '.join('?' for _ in values)})", tuple(
        values.values()
    )


# ------------------------------------------------------------------ append and verify


def test_append_then_verify(log):
    entries = record_history(log)
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev_hash == GENESIS_HASH
    pairs = zip(entries, entries[1:], strict=False)
    assert all(later.prev_hash == earlier.entry_hash for earlier, later in pairs)
    assert log.entries() == entries
    result = log.verify()
    assert result.ok and result.checked == 5 and result.broken_seq is None
    assert result.head_hash == entries[-1].entry_hash
    assert result.describe() == "audit log OK: 5 entries, chain intact"


def test_entries_filter_by_model_version_and_name(log):
    record_history(log)
    assert [e.seq for e in log.entries(model_version=1)] == [1, 2, 3]
    assert [e.seq for e in log.entries(model_version="2", model_name=MODEL)] == [4]
    assert [e.seq for e in log.entries(model_name="another-model")] == []
    assert log.entries()[1].model_version == 1  # "1" from MLflow is stored as the integer 1


def test_empty_log_verifies_and_its_folder_is_created(tmp_path):
    with open_log(url_of(tmp_path / "var" / "audit" / "audit.db")) as opened:
        result = opened.verify()
    assert (tmp_path / "var" / "audit" / "audit.db").is_file()
    assert result.ok and result.checked == 0 and result.head_hash == GENESIS_HASH


def test_hash_follows_the_documented_formula(db, log):
    entry = log.append(
        "rollback",
        "cli:bob",
        {"reason": "drift", "to": 1},
        model_name=MODEL,
        model_version=3,
        idempotency_key="cli-1:rollback:3",
    )
    material = json.dumps(
        [
            "fairgate.audit.hmac-sha256.v2", 1, entry.recorded_at, "cli:bob", "rollback", MODEL, 3,
            '{"reason":"drift","to":1}', "cli-1:rollback:3", "0" * 64,
        ],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    key = key_of(db)
    assert len(key) == 64  # 32 random bytes, as hexadecimal text
    assert entry.entry_hash == hmac.new(key, material.encode("utf-8"), hashlib.sha256).hexdigest()
    assert entry.entry_hash != hashlib.sha256(material.encode("utf-8")).hexdigest()
    assert entry.recorded_at.endswith("+00:00")


def test_payload_is_canonical_and_floats_are_exact(log):
    payload = {
        "z": 0.1 + 0.2,
        "a": 1e-300,
        "name": "Müller",
        "nested": {"b": [1, 2.5, None, True], "a": -0.0},
    }
    entry = log.append("gate_decision", "airflow:retrain", payload, idempotency_key="k")
    assert entry.payload_json == (
        '{"a":1e-300,"name":"Müller","nested":{"a":-0.0,"b":[1,2.5,null,true]},"z":0.30000000000000004}'
    )
    read_back = log.entries()[0].payload
    assert read_back == payload and read_back["z"] == 0.30000000000000004


def test_entry_is_frozen(log):
    entry = log.append("freeze", "cli:alice", {"reason": "x"}, idempotency_key="k")
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.actor = "cli:mallory"  # type: ignore[misc]


# ------------------------------------------------------------------ idempotency


def test_a_retry_appends_nothing(db, log):
    first = log.append(
        "promotion",
        "airflow:retrain",
        {"reason": "both gates passed", "to_version": 1},
        model_name=MODEL,
        model_version=1,
        idempotency_key="run1:promotion:1",
    )
    again = log.append(
        "promotion",
        "airflow:retrain",
        {"to_version": 1, "reason": "both gates passed"},
        model_name=MODEL,
        model_version="1",
        idempotency_key="run1:promotion:1",
    )
    assert again == first
    with open_log(url_of(db)) as reopened:  # a retried Airflow task is another process
        retried = reopened.append(
            "promotion",
            "airflow:retrain",
            {"reason": "both gates passed", "to_version": 1},
            model_name=MODEL,
            model_version=1,
            idempotency_key="run1:promotion:1",
        )
    assert retried == first
    assert len(log.entries()) == 1 and log.verify().ok


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        ({"payload": {"reason": "both gates passed", "to_version": 2}}, "payload"),
        ({"actor": "cli:mallory"}, "actor"),
        ({"kind": "rollback"}, "kind"),
        ({"model_version": 2}, "model_version"),
        ({"model_name": "other", "payload": {}}, "model_name, payload"),
    ],
)
def test_same_key_for_another_event_is_refused(log, change, fields):
    call = {
        "kind": "promotion",
        "actor": "airflow:retrain",
        "payload": {"reason": "both gates passed", "to_version": 1},
        "model_name": MODEL,
        "model_version": 1,
        "idempotency_key": "run1:promotion:1",
    }
    log.append(**call)
    with pytest.raises(BadInputError) as caught:
        log.append(**{**call, **change})
    assert str(caught.value) == (
        f"audit log: idempotency key 'run1:promotion:1' already recorded entry 1 with a different {fields}; "
        "a retry must repeat the same event, a new event needs a new key"
    )
    assert len(log.entries()) == 1


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (
            {"metrics": {"roc_auc": float("nan")}},
            "audit log: payload.metrics.roc_auc is nan; only finite numbers can be recorded exactly",
        ),
        (
            {"bounds": [0.1, float("inf")]},
            "audit log: payload.bounds[1] is inf; only finite numbers can be recorded exactly",
        ),
        ({"x": -float("inf")}, "audit log: payload.x is -inf; only finite numbers can be recorded exactly"),
        ({"groups": {1, 2}}, "audit log: payload.groups cannot be recorded as JSON: found set"),
        ({"weights": {0: 1.0}}, "audit log: payload.weights has a key that is not a string: 0"),
        (["not", "a", "mapping"], "audit log: payload must be a mapping with string keys, found list"),
    ],
)
def test_payloads_json_cannot_hold_exactly_are_refused(log, payload, message):
    with pytest.raises(BadInputError) as caught:
        log.append("gate_decision", "airflow:retrain", payload, idempotency_key="k")
    assert str(caught.value) == message
    assert log.entries() == []


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            {"kind": "override"},
            "audit log: unknown event kind 'override'; expected one of: " + ", ".join(EVENT_KINDS),
        ),
        ({"actor": " "}, "audit log: actor must be a non-empty string, found ' '"),
        ({"idempotency_key": ""}, "audit log: idempotency_key must be a non-empty string, found ''"),
        ({"model_name": None, "model_version": 3}, "audit log: model_version 3 needs a model_name"),
        ({"model_version": "v3"}, "audit log: model_version must be a positive integer or None, found 'v3'"),
        ({"model_version": 0}, "audit log: model_version must be a positive integer or None, found 0"),
        ({"model_version": True}, "audit log: model_version must be a positive integer or None, found True"),
        ({"model_name": ""}, "audit log: model_name must be a non-empty string or None, found ''"),
    ],
)
def test_bad_arguments_are_refused_with_one_line(log, arguments, message):
    call = {
        "kind": "approval",
        "actor": "cli:alice",
        "payload": {},
        "model_name": MODEL,
        "model_version": 1,
        "idempotency_key": "k",
        **arguments,
    }
    with pytest.raises(BadInputError) as caught:
        log.append(**call)
    assert str(caught.value) == message
    assert log.entries() == []


# ------------------------------------------------------------------ tampering, each on a copy


def _edit_payload(path):
    execute(path, 'UPDATE audit_entries SET payload = \'{"decision":"passed","roc_auc":0.9}\' WHERE seq = 1')


def _edit_actor(path):
    execute(path, "UPDATE audit_entries SET actor = 'cli:mallory' WHERE seq = 2")


def _edit_and_rehash(path):
    entry = row(path, 3)
    payload = '{"reason":"manual override","to_version":1}'
    new_hash = keyed_hash(path, {**entry, "payload": payload})
    execute(path, ("UPDATE audit_entries SET payload = ?, entry_hash = ? WHERE seq = 3", (payload, new_hash)))


def _delete_middle(path):
    execute(path, "DELETE FROM audit_entries WHERE seq = 3")


def _delete_last(path):
    execute(path, "DELETE FROM audit_entries WHERE seq = 5")


def _swap_two(path):
    second, third = row(path, 2), row(path, 3)
    columns = [c for c in second if c != "seq"]
    assignments = ", ".join(f"{c} = ?" for c in columns)
    execute(
        path,
        "UPDATE audit_entries SET idempotency_key = 'swap-' || seq WHERE seq IN (2, 3)",
        (f"UPDATE audit_entries SET {assignments} WHERE seq = 2", tuple(third[c] for c in columns)),
        (f"UPDATE audit_entries SET {assignments} WHERE seq = 3", tuple(second[c] for c in columns)),
    )


def _append_forged_row(path):
    execute(path, insert(forged_row(path, 6, row(path, 5)["entry_hash"], "forged")))


def _insert_forged_row_in_the_middle(path):
    last_hash = row(path, 5)["entry_hash"]
    execute(
        path,
        "UPDATE audit_entries SET seq = -seq WHERE seq >= 3",
        "UPDATE audit_entries SET seq = 1 - seq WHERE seq < 0",  # 3..5 become 4..6
        insert(forged_row(path, 3, row(path, 2)["entry_hash"], "forged")),
        ("UPDATE audit_head SET seq = 6, entry_hash = ?", (last_hash,)),  # the forger fixes the head too
    )


def _delete_head(path):
    execute(path, "DELETE FROM audit_head")


def _edit_head(path):
    execute(path, f"UPDATE audit_head SET entry_hash = '{'f' * 64}'")


TAMPERING = [
    pytest.param(_edit_payload, 1, PROBLEM_EDITED, DETAIL_EDITED, id="edit-payload"),
    pytest.param(_edit_actor, 2, PROBLEM_EDITED, DETAIL_EDITED, id="edit-actor"),
    pytest.param(_edit_and_rehash, 3, PROBLEM_EDITED, DETAIL_REWRITTEN.format(next=4), id="edit-and-rehash"),
    pytest.param(
        _delete_middle, 3, PROBLEM_DELETED, DETAIL_GAP.format(before=2, after=4), id="delete-middle"
    ),
    pytest.param(
        _delete_last, 5, PROBLEM_DELETED, DETAIL_TAIL_DELETED.format(head=5, last=4), id="delete-last"
    ),
    pytest.param(
        _swap_two,
        2,
        PROBLEM_REORDERED,
        DETAIL_REORDERED.format(owner="entry 3", expected="entry 1"),
        id="swap-two",
    ),
    pytest.param(
        _append_forged_row, 6, PROBLEM_INSERTED, DETAIL_BEYOND_HEAD.format(head=5), id="append-forged"
    ),
    pytest.param(
        _insert_forged_row_in_the_middle,
        3,
        PROBLEM_INSERTED,
        DETAIL_FORK.format(other=4, owner="entry 2"),
        id="insert-forged-middle",
    ),
    pytest.param(_delete_head, None, PROBLEM_HEAD_MISSING, DETAIL_HEAD_MISSING, id="delete-head"),
    pytest.param(_edit_head, 5, PROBLEM_EDITED, DETAIL_HEAD_HASH, id="edit-head"),
]


@pytest.mark.parametrize(("tamper", "broken_seq", "problem", "detail"), TAMPERING)
def test_tampering_is_caught_and_named(history_db, tmp_path, tamper, broken_seq, problem, detail):
    copy = tmp_path / "copy.db"
    copy_log(history_db, copy)
    assert verify_file(copy).ok  # the check finds nothing on an intact copy ...
    tamper(copy)
    result = verify_file(copy)  # ... and finds this
    assert not result.ok
    assert (result.broken_seq, result.problem, result.detail) == (broken_seq, problem, detail)
    assert result.checked == (broken_seq - 1 if broken_seq is not None else 5)
    assert result.describe().startswith("audit log BROKEN ")
    assert verify_file(history_db).ok


def test_a_key_holders_rewrite_of_tail_and_head_needs_the_anchor(history_db, tmp_path):
    """The documented limit: with the key, rewriting the tail and the head together leaves a valid chain.

    Without an anchor outside the database (a log opened with ``open_log(url)`` alone) nothing
    inside it can tell; tests/c07/test_record_tampering.py shows the registry's anchor catching it.
    """
    anchored = verify_file(history_db).head_hash
    copy = tmp_path / "copy.db"
    copy_log(history_db, copy)
    forged = forged_row(copy, 5, row(copy, 4)["entry_hash"], "forged")
    execute(
        copy,
        "DELETE FROM audit_entries WHERE seq = 5",
        insert(forged),
        ("UPDATE audit_head SET entry_hash = ?", (forged["entry_hash"],)),
    )
    result = verify_file(copy)
    assert result.ok
    assert result.head_hash != anchored


def test_append_refuses_a_log_whose_tail_was_deleted(history_db):
    _delete_last(history_db)
    with open_log(url_of(history_db)) as opened, pytest.raises(BadInputError) as caught:
        opened.append("unfreeze", "cli:alice", {"reason": "over"}, idempotency_key="cli-8:unfreeze")
    assert str(caught.value) == (
        f"audit log {url_of(history_db)}: the head records entry 5 but the table ends at entry 4; "
        "refusing to append to a tampered log (run 'fairgate audit verify')"
    )


# ------------------------------------------------------------------ concurrent writers

WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from pipelines.governance.audit_log import open_log

    url, name, count, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    log = open_log(url)
    deadline = time.monotonic() + 60
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.002)
    for i in range(count):
        log.append("gate_decision", "worker:" + name, {"i": i}, model_name="m", model_version=i + 1,
                   idempotency_key=name + ":" + str(i))
        time.sleep(0.003)  # a task does some work between events: the lock changes hands
    log.close()
    """
)


def run_writers(db: Path, names: list[str], count: int) -> None:
    go = db.parent / "go"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, url_of(db), name, str(count), str(go)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in names
    ]
    time.sleep(0.5)  # let every worker open the (fresh) log before they all append at once
    go.touch()
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err


@pytest.mark.slow  # 200 durable (fsync'd) commits under contention: about 9 s here
def test_concurrent_writers_keep_one_chain(db):
    run_writers(db, ["w1", "w2", "w3", "w4"], 50)
    with open_log(url_of(db)) as opened:
        result = opened.verify()
        entries = opened.entries()
    assert result.ok and result.checked == 200
    assert [e.seq for e in entries] == list(range(1, 201))
    for name in ("w1", "w2", "w3", "w4"):
        mine = [e for e in entries if e.actor == f"worker:{name}"]
        assert [e.payload["i"] for e in mine] == list(range(50))  # each writer's order kept
    switches = sum(1 for a, b in zip(entries, entries[1:], strict=False) if a.actor != b.actor)
    assert switches > 10  # the writers really interleaved


def test_concurrent_retries_of_the_same_events_append_once(db):
    run_writers(db, ["same", "same"], 25)
    with open_log(url_of(db)) as opened:
        assert opened.verify().ok
        assert len(opened.entries()) == 25


def test_the_write_lock_is_held_from_the_head_read(log, monkeypatch):
    met, errors = race_two_appends(log, monkeypatch)
    assert met == 0 and errors == [None, None]  # the second append waited for the first to commit
    assert log.verify().ok and len(log.entries()) == 2


def test_without_the_write_lock_the_race_is_real(log, monkeypatch):
    """Negative control: the same race with a plain deferred transaction fails loudly."""
    monkeypatch.setattr(audit_log.AuditLog, "_write_transaction", audit_log.AuditLog._read_transaction)
    met, errors = race_two_appends(log, monkeypatch)
    assert met == 2  # both read the same head
    assert sum(e is not None for e in errors) == 1  # one of them could not commit: no fork, no duplicate
    assert log.verify().ok and len(log.entries()) == 1


# ------------------------------------------------------------------ unusable databases


def test_a_database_that_cannot_be_opened_is_named(tmp_path):
    with pytest.raises(BadInputError) as caught:
        open_log(url_of(tmp_path))  # a folder, not a database file
    assert (
        str(caught.value)
        == f"audit log: database {url_of(tmp_path)} cannot be used: unable to open database file"
    )


def test_a_folder_that_cannot_be_created_is_named(tmp_path):
    (tmp_path / "file").write_text("x", encoding="utf-8")
    with pytest.raises(
        BadInputError, match=r"^audit log: cannot create the folder .*/file/sub for sqlite:///"
    ):
        open_log(url_of(tmp_path / "file" / "sub" / "audit.db"))


def test_an_unreachable_server_is_named_without_its_password(monkeypatch):
    monkeypatch.setenv("FAIRGATE_AUDIT_KEY", "k" * 32)
    url = "postgresql://fairgate:s3cret-pw@127.0.0.1:1/audit"
    with pytest.raises(BadInputError) as caught:
        open_log(url)
    message = str(caught.value)
    assert "s3cret-pw" not in message and "\n" not in message
    assert "postgresql://fairgate:***@127.0.0.1:1/audit" in message
    assert message.startswith(("audit log: cannot load the database driver for ", "audit log: database "))


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "mysql://fg:pw@db/audit",
            "audit log: unsupported database 'mysql' in mysql://fg:***@db/audit; "
            "expected one of: sqlite, postgresql",
        ),
        ("not a url", "audit log: not a database URL: not a url"),
    ],
)
def test_unsupported_urls_are_refused(url, message):
    with pytest.raises(BadInputError) as caught:
        open_log(url)
    assert str(caught.value) == message


# ------------------------------------------------------------------ configuration and URL resolution


def test_config_section_defaults_to_the_embedded_log_and_stays_out_of_the_hash():
    config = load_config(REPO / "fairgate.yaml")
    assert config.audit_log.url is None
    raw = config.as_dict()
    raw["audit_log"]["url"] = "postgresql://audit-db/fairgate"
    assert parse_config(raw).config_hash == config.config_hash


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "mysql://db/audit",
            "fairgate.yaml: audit_log.url: Value error, expected null or a SQLAlchemy URL "
            "starting with sqlite:// or postgresql://",
        ),
        (
            "postgresql://fg:pw@db/audit",
            "fairgate.yaml: audit_log.url: Value error, a password does not belong in "
            "fairgate.yaml: use FAIRGATE_AUDIT_LOG_URL",
        ),
    ],
)
def test_config_refuses_bad_urls(url, message):
    raw = load_config(REPO / "fairgate.yaml").as_dict()
    raw["audit_log"]["url"] = url
    with pytest.raises(BadInputError) as caught:
        parse_config(raw)
    assert str(caught.value) == message


def test_url_resolution(tmp_path, monkeypatch):
    paths = ProjectPaths(tmp_path)
    config = load_config(REPO / "fairgate.yaml")
    assert audit_log_url(paths, config) == f"sqlite:///{tmp_path}/var/audit/audit.db"
    raw = config.as_dict()
    raw["audit_log"]["url"] = "sqlite:///state/audit.db"
    relative = parse_config(raw)
    assert audit_log_url(paths, relative) == f"sqlite:///{tmp_path}/state/audit.db"
    monkeypatch.setenv("FAIRGATE_AUDIT_LOG_URL", "postgresql://fg:pw@db.internal/audit")
    assert audit_log_url(paths, relative) == "postgresql://fg:pw@db.internal/audit"


# ------------------------------------------------------------------ the CLI


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return make_project(tmp_path_factory.mktemp("audit-cli") / "project")


@pytest.fixture()
def cli_log(project, tmp_path, monkeypatch) -> Path:
    """This test's own log file, named through FAIRGATE_AUDIT_LOG_URL."""
    monkeypatch.setenv("FAIRGATE_HOME", str(project))
    db = tmp_path / "cli-audit.db"
    monkeypatch.setenv("FAIRGATE_AUDIT_LOG_URL", url_of(db))
    return db


def test_cli_verify_passes_then_names_the_broken_entry(cli_log, capsys):
    with open_log(url_of(cli_log)) as opened:
        # another model's history: the project's champion (none) then agrees with the record (no move)
        record_history(opened, model="another-use-case")
    assert main(["audit", "verify"]) == 0
    assert capsys.readouterr().out == (
        f"audit log OK: 5 entries, chain intact, nothing anchored yet in {ANCHOR_WHERE} ({url_of(cli_log)})\n"
    )
    _edit_actor(cli_log)
    assert main(["audit", "verify"]) == 1
    assert capsys.readouterr().out == (
        f"audit log BROKEN at entry 2 (edited): {DETAIL_EDITED} ({url_of(cli_log)})\n"
    )


def test_cli_verify_through_the_console_script_uses_the_project_default(project):
    env = {k: v for k, v in os.environ.items() if k != "FAIRGATE_AUDIT_LOG_URL"}
    env["FAIRGATE_HOME"] = str(project)
    result = subprocess.run(
        [str(FAIRGATE), "audit", "verify"], cwd=project, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout == f"audit log OK: 0 entries, chain intact, nothing anchored yet in {ANCHOR_WHERE} "
        f"(sqlite:///{project}/var/audit/audit.db)\n"
    )


def test_cli_log_prints_one_line_per_entry(cli_log, capsys):
    with open_log(url_of(cli_log)) as opened:
        entries = record_history(opened)
    assert main(["audit", "log"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5
    assert lines[2].split() == [
        "3",
        entries[2].recorded_at,
        "airflow:retrain",
        "promotion",
        f"{MODEL}@1",
        "both",
        "gates",
        "passed",
    ]
    assert lines[1].endswith("registered with lineage")  # the payload's summary
    assert lines[3].endswith("  dp 0.71; eo 0.14")  # a list of reasons, joined
    assert lines[0].endswith('  {"decision": "passed", "roc_auc": 0.8125}')  # no reason or summary: the JSON
    assert lines[4].split()[3:5] == ["freeze", "-"]
    assert main(["audit", "log", "--model-version", "2"]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()] == ["4"]


def test_cli_log_json(cli_log, capsys):
    with open_log(url_of(cli_log)) as opened:
        entries = record_history(opened)
    assert main(["audit", "log", "--json", "--model-version", "1"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == [e.as_dict() for e in entries[:3]]
    assert printed[0]["payload"] == {"decision": "passed", "roc_auc": 0.8125}


def test_cli_log_warns_when_the_chain_is_broken(cli_log, capsys):
    with open_log(url_of(cli_log)) as opened:
        record_history(opened)
    _delete_middle(cli_log)
    assert main(["audit", "log"]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 4
    assert captured.err == (
        f"fairgate: warning: audit log BROKEN at entry 3 (deleted): {DETAIL_GAP.format(before=2, after=4)}; "
        "this history cannot be trusted\n"
    )


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["audit"], "fairgate: fairgate audit needs a subcommand: verify, log or rekey\n"),
        (
            ["audit", "log", "--model-version", "two"],
            "fairgate: --model-version expects a positive integer, found 'two'\n",
        ),
        (
            ["audit", "log", "--model-version", "0"],
            "fairgate: --model-version expects a positive integer, found '0'\n",
        ),
    ],
)
def test_cli_bad_usage_exits_2_with_one_line(cli_log, capsys, argv, error):
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err == error and captured.out == ""


def test_cli_unreachable_database_exits_2_without_the_password(cli_log, monkeypatch, capsys):
    monkeypatch.setenv("FAIRGATE_AUDIT_KEY", "k" * 32)
    monkeypatch.setenv("FAIRGATE_AUDIT_LOG_URL", "postgresql://fairgate:s3cret-pw@127.0.0.1:1/audit")
    assert main(["audit", "verify"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "s3cret-pw" not in err and "fairgate:***@127.0.0.1:1" in err


# ------------------------------------------------------------------ the key


def test_the_embedded_key_is_made_once_private_and_git_ignored(tmp_path):
    db = tmp_path / "var" / "audit" / "audit.db"
    with open_log(url_of(db)) as opened:
        entry = opened.append("freeze", "cli:alice", {"reason": "C07"}, idempotency_key="k1")
    key_file = db.with_suffix(".key")
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    made = key_file.read_bytes()
    with open_log(url_of(db)) as reopened:  # another process: the same key, the chain verifies
        assert reopened.verify().ok and reopened.entries() == [entry]
    assert key_file.read_bytes() == made
    assert not list(key_file.parent.glob(".*.tmp"))  # nothing half-written left behind
    ignored = subprocess.run(["git", "check-ignore", "-q", "var/audit/audit.key"], cwd=REPO)
    assert ignored.returncode == 0  # the repository never commits it


def test_a_log_whose_key_file_is_gone_is_an_alarm_not_a_fresh_start(history_db):
    history_db.with_suffix(".key").unlink()
    with pytest.raises(BlockedError) as caught:
        open_log(url_of(history_db))
    assert caught.value.reasons == [
        audit_key.ERR_KEY_FILE_MISSING.format(url=url_of(history_db), entries=5, path=history_db.with_suffix(".key"))
    ]
    assert not history_db.with_suffix(".key").exists()  # no new key was made for it


def test_a_key_file_others_can_read_is_refused(history_db):
    history_db.with_suffix(".key").chmod(0o644)
    with pytest.raises(BadInputError) as caught:
        open_log(url_of(history_db))
    assert str(caught.value) == audit_key.ERR_KEY_FILE_SHARED.format(path=history_db.with_suffix(".key"), mode=0o644)


def test_the_environment_key_takes_precedence_and_only_it_verifies(tmp_path, monkeypatch):
    db = tmp_path / "audit.db"
    monkeypatch.setenv("FAIRGATE_AUDIT_KEY", "a" * 40)
    with open_log(url_of(db)) as opened:
        record_history(opened)
        assert opened.verify().ok
    assert not db.with_suffix(".key").exists()
    monkeypatch.setenv("FAIRGATE_AUDIT_KEY", "b" * 40)
    result = verify_file(db)
    assert (result.ok, result.broken_seq, result.problem, result.detail) == (False, 1, PROBLEM_EDITED, DETAIL_EDITED)


@pytest.mark.parametrize("length", [0, 1, 31])
def test_a_short_key_is_refused_with_one_line(tmp_path, monkeypatch, length):
    monkeypatch.setenv("FAIRGATE_AUDIT_KEY", "k" * length if length else "")
    if length == 0:  # an empty variable is an unset one: the embedded key file is used
        assert verify_file(tmp_path / "audit.db").ok
        return
    with pytest.raises(BadInputError) as caught:
        open_log(url_of(tmp_path / "audit.db"))
    assert str(caught.value) == audit_key.ERR_KEY_SHORT.format(source="FAIRGATE_AUDIT_KEY", found=length)
    assert not (tmp_path / "audit.db").exists()  # nothing half-written


def test_a_postgres_log_without_the_key_exits_2_before_connecting(cli_log, monkeypatch, capsys):
    monkeypatch.setenv("FAIRGATE_AUDIT_LOG_URL", "postgresql://fairgate:s3cret-pw@127.0.0.1:1/audit")
    assert main(["audit", "verify"]) == 2
    assert capsys.readouterr().err == (
        "fairgate: " + audit_key.ERR_KEY_REQUIRED.format(url="postgresql://fairgate:***@127.0.0.1:1/audit") + "\n"
    )


# ------------------------------------------------------------------ logs written before keyed hashing


def write_legacy_log(db: Path) -> list[dict]:
    """A log as the previous release wrote it: plain SHA-256 of the fields, no idempotency key, no key file."""
    with open_log(url_of(db)) as opened:
        record_history(opened)
    db.with_suffix(".key").unlink()
    prev, statements, legacy = GENESIS_HASH, [], []
    for seq in range(1, 6):
        values = {**row(db, seq), "prev_hash": prev}
        material = json.dumps(
            [seq, values["recorded_at"], values["actor"], values["kind"], values["model_name"],
             values["model_version"], values["payload"], prev],
            separators=(",", ":"), ensure_ascii=False,
        )  # fmt: skip
        values["entry_hash"] = prev = hashlib.sha256(material.encode("utf-8")).hexdigest()
        statements.append(("UPDATE audit_entries SET prev_hash = ?, entry_hash = ? WHERE seq = ?",
                           (values["prev_hash"], prev, seq)))  # fmt: skip
        legacy.append(values)
    statements.append(("UPDATE audit_head SET entry_hash = ?", (prev,)))
    execute(db, *statements)
    return legacy


def test_a_legacy_log_never_verifies_as_keyed_and_is_not_appended_to(db):
    write_legacy_log(db)
    result = verify_file(db)
    assert (result.ok, result.broken_seq, result.problem, result.detail) == (False, 1, PROBLEM_UNKEYED, DETAIL_UNKEYED)
    with open_log(url_of(db)) as opened, pytest.raises(BlockedError) as caught:
        opened.append("unfreeze", "cli:alice", {"reason": "over"}, idempotency_key="cli-8:unfreeze")
    assert caught.value.reasons == [audit_log.ERR_TAIL_UNKEYED.format(url=url_of(db), seq=5)]


def test_a_legacy_log_is_rekeyed_once_its_old_chain_checks(db, tmp_path):
    legacy = write_legacy_log(db)
    broken_copy = tmp_path / "broken.db"
    shutil.copyfile(db, broken_copy)
    _edit_actor(broken_copy)
    with open_log(url_of(broken_copy)) as opened, pytest.raises(BlockedError) as caught:
        opened.rekey_legacy()
    assert caught.value.reasons == [audit_log.ERR_REKEY_BROKEN.format(
        verdict=f"audit log BROKEN at entry 2 (edited): {audit_chain.DETAIL_LEGACY_EDITED}"
    )]
    with open_log(url_of(db)) as opened:
        assert opened.rekey_legacy() == 5
        assert opened.verify().ok
        assert [(e.actor, e.payload_json, e.idempotency_key) for e in opened.entries()] == [
            (values["actor"], values["payload"], values["idempotency_key"]) for values in legacy
        ]
        with pytest.raises(BadInputError) as again:
            opened.rekey_legacy()
    assert str(again.value) == audit_log.ERR_REKEY_NOTHING.format(url=url_of(db))


# ------------------------------------------------------------------ every append is anchored


def test_only_the_records_helpers_append_to_the_log():
    """Every append in pipelines/ goes through records.open_audit_log, which anchors the head."""
    import ast

    appenders = []
    for path in (REPO / "pipelines").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("append", "rekey_legacy")
                and any(k.arg == "idempotency_key" for k in node.keywords) | (node.func.attr == "rekey_legacy")
            ):
                appenders.append(path.relative_to(REPO).as_posix())
    assert sorted(set(appenders)) == ["pipelines/flows/cli.py", "pipelines/governance/records.py"]
    cli = (REPO / "pipelines" / "flows" / "cli.py").read_text(encoding="utf-8")
    assert "open_log(" not in cli  # the CLI opens the log through records, anchored
