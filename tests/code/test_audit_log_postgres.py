"""The audit log on a real Postgres: append, verify, concurrent writers, tampering.

Production keeps the audit log in Postgres (``FAIRGATE_AUDIT_LOG_URL``). Each
test gets its own database, owned by its own user, on the session's Postgres
(``tests.postgres_redis``); the log connects as that user with psycopg 3, as
production does. Concurrent writers are separate processes, each given the
URL through its environment only. Tampering is done with plain SQL as the
log's own user, after checking that the intact log verifies.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from pipelines.core.errors import BadInputError, BlockedError
from pipelines.governance import audit_log
from pipelines.governance.audit_key import ERR_KEY_REQUIRED, ERR_KEY_SHORT
from pipelines.governance.audit_log import (
    DETAIL_EDITED,
    DETAIL_GAP,
    DETAIL_HEAD_MISSING,
    DETAIL_TAIL_DELETED,
    ERR_TAIL_UNKEYED,
    POSTGRES_LOCK_KEY,
    PROBLEM_DELETED,
    PROBLEM_EDITED,
    PROBLEM_HEAD_MISSING,
    open_log,
)
from tests import postgres_redis as postgres_redis_module
from tests.audit_log_race import race_two_appends
from tests.postgres_redis import DatabaseAccount, PostgresRedis, postgres_redis  # noqa: F401  (the session fixture)

REPO = Path(__file__).resolve().parents[2]
MODEL = "fairgate-credit-default"
KEY = secrets.token_hex(32)


@pytest.fixture(autouse=True)
def _the_production_key(monkeypatch):
    """Production passes FAIRGATE_AUDIT_KEY to every process that opens the log (writers inherit it)."""
    monkeypatch.setenv("FAIRGATE_AUDIT_KEY", KEY)


@pytest.fixture
def account(postgres_redis: PostgresRedis) -> DatabaseAccount:  # noqa: F811
    """A fresh database and its owner for one test."""
    name = f"audit_{secrets.token_hex(4)}"
    return postgres_redis.postgres.create_database(name, name)


@pytest.fixture
def log(account: DatabaseAccount):
    with open_log(account.url()) as opened:
        yield opened


def sql(account: DatabaseAccount, statement: str, params: tuple = ()) -> list[tuple]:
    """Run one statement as the log's own user, outside fairgate; return the rows it gave."""
    import psycopg

    with psycopg.connect(
        host="127.0.0.1", port=account.port, user=account.user, password=account.password, dbname=account.database,
        autocommit=True,
    ) as connection:  # fmt: skip
        cursor = connection.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def record_history(log) -> list:
    """Five events of a deployment's life."""
    events = [
        ("gate_decision", "airflow:scheduler", {"summary": "passed"}, None),
        ("registration", "airflow:scheduler", {"summary": "registered"}, 1),
        ("promotion", "airflow:scheduler", {"summary": "champion none -> 1", "ratio": 0.1 + 0.2}, 1),
        ("rollback", "alice", {"reason": "misbehaves"}, 1),
        ("freeze", "alice", {"reason": "after rollback"}, None),
    ]
    return [
        log.append(kind, actor, payload, model_name=MODEL if version else None, model_version=version,
                   idempotency_key=f"run-1:{kind}")
        for kind, actor, payload, version in events
    ]  # fmt: skip


def test_append_verify_and_reopen(account, log):
    appended = record_history(log)
    assert [e.seq for e in appended] == [1, 2, 3, 4, 5]
    assert appended[2].payload["ratio"] == 0.1 + 0.2  # floats read back exactly from Postgres
    result = log.verify()
    assert result.ok and result.checked == 5 and result.head_hash == appended[-1].entry_hash
    with open_log(account.url()) as reopened:
        assert reopened.entries() == appended
        assert reopened.entries(model_version=1) == appended[1:4]
        assert reopened.verify() == result
    # a retry of an event appends nothing and returns the first entry
    again = log.append("freeze", "alice", {"reason": "after rollback"}, idempotency_key="run-1:freeze")
    assert again == appended[-1] and len(log.entries()) == 5
    owners = sql(account, "SELECT tableowner FROM pg_tables WHERE tablename IN ('audit_entries', 'audit_head')")
    assert owners == [(account.user,), (account.user,)]


@pytest.mark.parametrize(
    ("tamper", "broken_seq", "problem", "detail"),
    [
        pytest.param("UPDATE audit_entries SET payload = '{\"summary\":\"blocked\"}' WHERE seq = 1", 1,
                     PROBLEM_EDITED, DETAIL_EDITED, id="edit-payload"),
        pytest.param("UPDATE audit_entries SET actor = 'mallory' WHERE seq = 4", 4, PROBLEM_EDITED, DETAIL_EDITED,
                     id="edit-actor"),
        pytest.param("DELETE FROM audit_entries WHERE seq = 3", 3, PROBLEM_DELETED,
                     DETAIL_GAP.format(before=2, after=4), id="delete-middle"),
        pytest.param("DELETE FROM audit_entries WHERE seq = 5", 5, PROBLEM_DELETED,
                     DETAIL_TAIL_DELETED.format(head=5, last=4), id="delete-last"),
        pytest.param("DELETE FROM audit_head", None, PROBLEM_HEAD_MISSING, DETAIL_HEAD_MISSING, id="delete-head"),
    ],
)  # fmt: skip
def test_tampering_on_postgres_is_caught_and_named(account, log, tamper, broken_seq, problem, detail):
    record_history(log)
    assert log.verify().ok  # the check finds nothing on the intact log ...
    sql(account, tamper)
    result = log.verify()  # ... and finds this
    assert (result.ok, result.broken_seq, result.problem, result.detail) == (False, broken_seq, problem, detail)


def test_a_postgres_log_without_the_key_is_refused_before_anything_is_created(account, monkeypatch):
    monkeypatch.delenv("FAIRGATE_AUDIT_KEY")
    with pytest.raises(BadInputError) as caught:
        open_log(account.url())
    shown = account.url().replace(account.password, "***")
    assert str(caught.value) == ERR_KEY_REQUIRED.format(url=shown)
    assert sql(account, "SELECT tablename FROM pg_tables WHERE tablename IN ('audit_entries', 'audit_head')") == []
    monkeypatch.setenv("FAIRGATE_AUDIT_KEY", "k" * 31)
    with pytest.raises(BadInputError) as caught:
        open_log(account.url())
    assert str(caught.value) == ERR_KEY_SHORT.format(source="FAIRGATE_AUDIT_KEY", found=31)


def test_a_postgres_log_verifies_with_its_key_only(account, log, monkeypatch):
    record_history(log)
    assert log.verify().ok
    monkeypatch.setenv("FAIRGATE_AUDIT_KEY", secrets.token_hex(32))
    with open_log(account.url()) as other_key:
        result = other_key.verify()
        with pytest.raises(BlockedError) as caught:
            other_key.append("unfreeze", "bob", {"reason": "over"}, idempotency_key="run-2:unfreeze")
    assert (result.ok, result.broken_seq, result.problem, result.detail) == (False, 1, PROBLEM_EDITED, DETAIL_EDITED)
    shown = account.url().replace(account.password, "***")
    assert caught.value.reasons == [ERR_TAIL_UNKEYED.format(url=shown, seq=5)]
    assert len(log.entries()) == 5


def test_append_refuses_a_log_whose_tail_was_deleted(account, log):
    record_history(log)
    sql(account, "DELETE FROM audit_entries WHERE seq = 5")
    with pytest.raises(BadInputError) as caught:
        log.append("unfreeze", "bob", {"reason": "over"}, idempotency_key="run-2:unfreeze")
    shown = account.url().replace(account.password, "***")
    assert str(caught.value) == (
        f"audit log {shown}: the head records entry 5 but the table ends at entry 4; "
        "refusing to append to a tampered log (run 'fairgate audit verify')"
    )
    assert account.password not in str(caught.value)


# ------------------------------------------------------------------ concurrent writers

WRITER = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from pipelines.governance.audit_log import open_log

    name, count, go = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    deadline = time.monotonic() + 60
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.002)
    log = open_log(os.environ["FAIRGATE_AUDIT_LOG_URL"])  # a fresh database: the openers race too
    for i in range(count):
        log.append("gate_decision", "worker:" + name, {"i": i}, model_name="m", model_version=i + 1,
                   idempotency_key=name + ":" + str(i))
        time.sleep(0.003)  # a task does some work between events: the lock changes hands
    log.close()
    """
)


def run_writers(account: DatabaseAccount, folder: Path, names: list[str], count: int) -> None:
    """Start one process per name, all released at once; each appends ``count`` events."""
    go = folder / "go"
    env = {**os.environ, "PYTHONPATH": str(REPO), "FAIRGATE_AUDIT_LOG_URL": account.url()}
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, name, str(count), str(go)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for name in names
    ]  # fmt: skip
    time.sleep(1.0)  # let every writer import before they all start at once
    go.touch()
    for writer in writers:
        _, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err[-3000:]


def test_concurrent_writers_from_several_processes_keep_one_chain(account, tmp_path):
    names = ["w1", "w2", "w3"]
    run_writers(account, tmp_path, names, 30)
    with open_log(account.url()) as opened:
        result = opened.verify()
        entries = opened.entries()
    assert result.ok and result.checked == 90, result
    assert [e.seq for e in entries] == list(range(1, 91))
    for name in names:
        mine = [e for e in entries if e.actor == f"worker:{name}"]
        assert [e.payload["i"] for e in mine] == list(range(30))  # each writer's order kept, nothing lost
    switches = sum(1 for a, b in zip(entries, entries[1:], strict=False) if a.actor != b.actor)
    assert switches > 5  # the writers really interleaved
    assert sql(account, "SELECT seq FROM audit_head") == [(90,)]


def test_concurrent_retries_of_the_same_events_append_once(account, tmp_path):
    run_writers(account, tmp_path, ["same", "same", "same"], 20)
    with open_log(account.url()) as opened:
        assert opened.verify().ok
        assert [e.idempotency_key for e in opened.entries()] == [f"same:{i}" for i in range(20)]


def test_the_advisory_lock_is_held_from_the_head_read(log, monkeypatch):
    met, errors = race_two_appends(log, monkeypatch)
    assert met == 0 and errors == [None, None]  # the second append waited for the first to commit
    assert log.verify().ok and len(log.entries()) == 2


def test_without_the_advisory_lock_the_race_is_real(log, monkeypatch):
    """Negative control: the same race in a transaction without the lock fails loudly, and forks nothing."""
    monkeypatch.setattr(audit_log.AuditLog, "_write_transaction", audit_log.AuditLog._read_transaction)
    met, errors = race_two_appends(log, monkeypatch)
    assert met == 2  # both read the same head
    assert sum(e is not None for e in errors) == 1  # one could not commit: no fork, no duplicate
    assert log.verify().ok and len(log.entries()) == 1


def test_an_append_waits_for_whoever_holds_the_lock(account, log):
    """The lock is Postgres' own advisory lock: another session holding it holds every append."""
    import psycopg

    done = threading.Event()
    with psycopg.connect(
        host="127.0.0.1", port=account.port, user=account.user, password=account.password, dbname=account.database,
    ) as holder:  # fmt: skip
        holder.execute("SELECT pg_advisory_xact_lock(%s)", (POSTGRES_LOCK_KEY,))
        writer = threading.Thread(
            target=lambda: (log.append("freeze", "alice", {"reason": "hold"}, idempotency_key="k"), done.set())
        )
        writer.start()
        assert not done.wait(1.0)  # blocked behind the other session
        holder.commit()
    writer.join(timeout=30)
    assert done.is_set() and [e.seq for e in log.entries()] == [1]


def test_a_wrong_password_is_named_without_the_password(account):
    wrong = account.url().replace(account.password, "not-the-password")
    with pytest.raises(BadInputError) as caught:
        open_log(wrong)
    message = str(caught.value)
    assert "not-the-password" not in message and "\n" not in message
    assert message.startswith(f"audit log: database postgresql+psycopg://{account.user}:***@127.0.0.1:")
    assert "password authentication failed" in message


# ------------------------------------------------------------------ the harness itself


def test_missing_postgres_fails_and_names_the_debian_packages(monkeypatch, tmp_path):
    monkeypatch.setattr(postgres_redis_module, "POSTGRES_ROOT", tmp_path / "no-postgresql")
    with pytest.raises(pytest.fail.Exception, match=r"apt-get install postgresql redis-server.*never skip"):
        postgres_redis_module.postgres_binaries()


def test_missing_redis_fails_and_names_the_debian_packages(monkeypatch, tmp_path):
    monkeypatch.setattr(postgres_redis_module, "REDIS_SERVER", tmp_path / "no-redis-server")
    with pytest.raises(pytest.fail.Exception, match=r"Redis is not installed .*`redis-server`"):
        postgres_redis_module.start_redis(tmp_path / "redis")


# ---------------------------------------------------------------- the champion lock on Postgres


def test_the_champion_lock_on_postgres_admits_one_holder_per_model(postgres_redis):  # noqa: F811
    """The session-level advisory lock behind every move of champion: a second holder waits, then times out."""
    from pipelines.governance.champion_lock import champion_lock

    url = postgres_redis.account("audit").url()
    outcome: list[str] = []

    def second_holder(model: str) -> None:
        try:
            with champion_lock(url, model, timeout=0.5):
                outcome.append(f"entered {model}")
        except BadInputError as e:
            outcome.append(str(e))

    with champion_lock(url, "credit-model"):
        for model in ("credit-model", "another-model"):
            waiting = threading.Thread(target=second_holder, args=(model,))
            waiting.start()
            waiting.join(30)
    assert "held the champion lock" in outcome[0] and "'credit-model'" in outcome[0]
    assert outcome[1] == "entered another-model"  # one lock per registered model
    outcome.clear()
    second_holder("credit-model")  # released: the next holder enters
    assert outcome == ["entered credit-model"]
