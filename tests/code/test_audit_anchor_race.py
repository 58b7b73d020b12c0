"""The audit log's anchor under concurrent writers: no false alarm, never backwards.

Two Airflow tasks (an approval and an unfreeze) append and verify at the same
moment.  The anchor moves only after a commit, so a verifier that reads the
anchor *after* its snapshot of the log can see an entry committed since and
call the log truncated; and two writers anchoring at once through the
registry's read-then-write can leave the older head in place.  These tests
force each interleaving with a second writer instead of waiting for luck.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path

import pytest

from pipelines.governance import audit_log
from pipelines.governance.audit_anchor import Anchor, AnchorReading, parse_anchor
from pipelines.governance.audit_log import open_log

REPO = Path(__file__).resolve().parents[2]
WHERE = "the test's anchor file"


class FileAnchor:
    """A head anchor kept in a file, with the registry anchor's rules: read, then write unless not newer.

    ``between`` runs between the read and the write of :meth:`write`, where the
    registry's tag read and tag write leave a gap another writer can use.
    """

    def __init__(self, path: Path, between=None) -> None:
        self.path = path
        self.between = between

    def read(self) -> AnchorReading:
        if not self.path.exists():
            return AnchorReading(WHERE, None)
        return AnchorReading(WHERE, parse_anchor(self.path.read_text()))

    def write(self, anchor: Anchor) -> None:
        current = self.read().anchor
        if self.between is not None:
            self.between()
        if current is not None and current.seq >= anchor.seq:
            return
        self.path.write_text(anchor.to_text())


@pytest.fixture(autouse=True)
def _never_the_production_log(monkeypatch):
    monkeypatch.delenv("FAIRGATE_AUDIT_LOG_URL", raising=False)


@pytest.fixture()
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'audit.db'}"


def append(log, i: int) -> None:
    log.append("freeze", "writer", {"i": i}, model_name="m", model_version=1, idempotency_key=f"event:{i}")


class AppendsOnce:
    """A second writer that appends one entry the first time it is called."""

    def __init__(self, url: str, anchor_path: Path) -> None:
        self.log = open_log(url, anchor=FileAnchor(anchor_path))
        self.done = False

    def __call__(self) -> None:
        if not self.done:
            self.done = True
            append(self.log, 99)


@pytest.mark.parametrize("moment", ["when the anchor is read", "between the anchor read and the log snapshot"])
def test_an_append_committed_while_the_log_is_verified_is_no_false_deletion(url, tmp_path, monkeypatch, moment):
    anchor_path = tmp_path / "anchor.json"
    log = open_log(url, anchor=FileAnchor(anchor_path))
    for i in range(3):
        append(log, i)
    other = AppendsOnce(url, anchor_path)

    if moment == "when the anchor is read":

        class Racing(FileAnchor):
            def read(self) -> AnchorReading:
                other()
                return super().read()

        verifier = open_log(url, anchor=Racing(anchor_path))
    else:
        verifier = open_log(url, anchor=FileAnchor(anchor_path))
        snapshot = audit_log.AuditLog._read_transaction

        def racing_snapshot(self):
            other()
            return snapshot(self)

        monkeypatch.setattr(audit_log.AuditLog, "_read_transaction", racing_snapshot)

    result = verifier.verify()
    assert other.done
    assert result.ok, result.describe()
    assert json.loads(anchor_path.read_text())["seq"] == 4  # the other writer's entry was anchored
    monkeypatch.undo()
    assert open_log(url, anchor=FileAnchor(anchor_path)).verify().ok


def test_the_check_still_fails_when_the_anchored_entry_is_really_gone(url, tmp_path):
    """The reverse direction: reading the anchor first still catches a deleted tail."""
    anchor_path = tmp_path / "anchor.json"
    log = open_log(url, anchor=FileAnchor(anchor_path))
    for i in range(3):
        append(log, i)
    database = tmp_path / "audit.db"
    with sqlite3.connect(database) as raw:  # an attacker with the database and no anchor
        raw.execute("DELETE FROM audit_entries WHERE seq = 3")
        raw.execute("UPDATE audit_head SET seq = 2, entry_hash = (SELECT entry_hash FROM audit_entries WHERE seq = 2)")
    result = open_log(url, anchor=FileAnchor(anchor_path)).verify()
    assert not result.ok and result.broken_seq == 3 and result.problem == "deleted"


def test_two_writers_anchoring_at_once_never_move_the_anchor_backwards(url, tmp_path):
    """Writer A reads the anchor (nothing yet), writer B appends and anchors entry 2, A writes entry 1."""
    anchor_path = tmp_path / "anchor.json"
    second = open_log(url, anchor=FileAnchor(anchor_path))
    pool = ThreadPoolExecutor(max_workers=1)
    started: list[Future] = []

    def b_gets_its_chance() -> None:
        if not started:
            started.append(pool.submit(append, second, 2))
            wait(started, timeout=2.0)  # B either finishes (no lock held by A) or waits for A's lock

    first = open_log(url, anchor=FileAnchor(anchor_path, between=b_gets_its_chance))
    append(first, 1)
    started[0].result(timeout=60)  # B's own failure, if any, is raised here
    pool.shutdown()
    last = first.entries()[-1]
    assert last.seq == 2
    assert json.loads(anchor_path.read_text()) == {"seq": 2, "entry_hash": last.entry_hash}


WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from pipelines.governance.audit_log import open_log
    from tests.code.test_audit_anchor_race import FileAnchor, append

    url, anchor, go = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[5])
    start, count = int(sys.argv[3]), int(sys.argv[4])
    log = open_log(url, anchor=FileAnchor(anchor))
    while not go.exists():
        time.sleep(0.002)
    for i in range(start, start + count):
        append(log, i)
    """
)


@pytest.mark.slow  # three processes, 60 durable commits, a verifier reading all along: a few seconds
def test_a_verifier_running_beside_three_writers_never_sees_a_broken_log(url, tmp_path):
    anchor_path = tmp_path / "anchor.json"
    go = tmp_path / "go"
    open_log(url, anchor=FileAnchor(anchor_path)).close()  # the schema and key, before the writers open it
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, url, str(anchor_path), str(100 * n), "20", str(go)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(3)
    ]
    verifier = open_log(url, anchor=FileAnchor(anchor_path))
    go.touch()
    verdicts = []
    while any(w.poll() is None for w in writers):
        verdicts.append(verifier.verify())
    for writer in writers:
        _, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err
    verdicts.append(verifier.verify())
    broken = [v.describe() for v in verdicts if not v.ok]
    assert broken == [] and len(verdicts) > 3
    assert verdicts[-1].checked == 60
    assert json.loads(anchor_path.read_text())["seq"] == 60
