"""The tamper-evident audit log: every governance event, in order, chained by keyed hashes.

Every gate decision, registration, promotion, approval, freeze, unfreeze,
refusal and rollback appends one entry.  Entries are never updated or deleted
by fairgate (one exception, :meth:`AuditLog.rekey_legacy`, re-hashes a log
written before keyed hashing once its old chain checks); ``fairgate audit
verify`` checks the whole chain and names the first broken entry.

Public API: :func:`open_log`, :class:`AuditLog` (``append``, ``entries``,
``verify``, ``rekey_legacy``), :class:`Entry`, :class:`VerifyResult` and
:data:`EVENT_KINDS`.  The entries and the walk are in
:mod:`pipelines.governance.audit_chain`, the key in
:mod:`pipelines.governance.audit_key`, the anchor's rules in
:mod:`pipelines.governance.audit_anchor`.

The chain
---------
An entry holds its sequence number (1, 2, ...), the UTC time it was recorded
(ISO-8601; a fact about the event, never used to order, deduplicate or decide
anything), the actor, the event kind, the model name and version when
relevant, the payload as canonical JSON, the idempotency key, the previous
entry's hash (64 zeros for entry 1) and its own hash, an HMAC-SHA256 under the
log's secret key (:mod:`pipelines.governance.audit_key`) of every other stored
field::

    entry_hash = hmac.new(key, json.dumps(
        [CHAIN_SCHEME, seq, recorded_at, actor, kind, model_name, model_version, payload,
         idempotency_key, prev_hash],
        separators=(",", ":"), ensure_ascii=False,
    ).encode("utf-8"), "sha256").hexdigest()

where ``payload`` is the stored canonical JSON *text* of the payload
(``sort_keys=True``, compact separators, ``ensure_ascii=False``, floats written
with ``repr`` so they read back exactly; NaN and infinities are refused).
Hashing the stored text, not a re-encoding of it, lets any language holding
the key check the chain with a JSON encoder and HMAC-SHA256.  Without the key
nobody can recompute a chain that verifies: an entry re-hashed with plain
SHA-256 (the format before keyed hashing, :func:`legacy_hash`) or with another
key is reported.

The head
--------
Deleting the last entries leaves a shorter chain that is still valid, so the
chain alone cannot reveal it.  Each append therefore also updates a one-row
table, ``audit_head`` (the sequence number and hash of the last entry), in the
same transaction; ``verify`` compares the table's tail with the head, so a
deleted last entry, or a row added without going through :meth:`AuditLog.append`,
is caught.  Someone who rewrites both tables (or deletes the database) is
caught by the head's copy outside the database: a log opened with a
:class:`pipelines.governance.audit_anchor.HeadAnchor` (the project's log is,
see :mod:`pipelines.governance.records`) writes the head there after every
append, and ``verify`` fails when the log ends before that anchor.

Concurrent writers
------------------
Appends are serialised by the database, so two processes appending at once
(two Airflow workers) keep one valid chain: on SQLite each append runs in a
``BEGIN IMMEDIATE`` transaction (the write lock is taken before the head is
read; other writers wait up to ``SQLITE_BUSY_TIMEOUT_SECONDS``, or the URL's
``?timeout=``); on Postgres each append takes the transaction-level advisory
lock ``pg_advisory_xact_lock(POSTGRES_LOCK_KEY)`` at READ COMMITTED before
reading the head.  The primary key on the sequence number and a UNIQUE
constraint on the idempotency key make a race that slipped past the lock fail
loudly instead of forking the chain.  Both settings, the URL parsing, the
engines and the two tables are in :mod:`pipelines.governance.audit_store`.

Where it lives
--------------
One SQLAlchemy URL: SQLite in the embedded default
(``sqlite:///<project root>/var/audit/audit.db``), Postgres in production,
resolved by :func:`pipelines.core.project.audit_log_url` (``FAIRGATE_AUDIT_LOG_URL``
overrides ``audit_log.url`` of ``fairgate.yaml``).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, Row
from sqlalchemy.exc import OperationalError

from pipelines.core.errors import BadInputError, BlockedError
from pipelines.governance.audit_anchor import Anchor, AnchorReading, HeadAnchor, anchor_problem, refuse_append_against
from pipelines.governance.audit_chain import (
    CHAIN_SCHEME,
    DETAIL_BAD_SEQUENCE,
    DETAIL_BEYOND_HEAD,
    DETAIL_EDITED,
    DETAIL_FIRST_LINK,
    DETAIL_FORK,
    DETAIL_GAP,
    DETAIL_HEAD_HASH,
    DETAIL_HEAD_MISSING,
    DETAIL_REORDERED,
    DETAIL_REWRITTEN,
    DETAIL_TAIL_DELETED,
    DETAIL_UNKEYED,
    ERR_STORED_PAYLOAD,
    GENESIS_HASH,
    PROBLEM_DELETED,
    PROBLEM_EDITED,
    PROBLEM_HEAD_MISSING,
    PROBLEM_INSERTED,
    PROBLEM_REORDERED,
    PROBLEM_UNKEYED,
    Entry,
    VerifyResult,
    chain_hash,
    hash_problem,
    legacy_hash,
    legacy_problem,
    verify_chain,
)
from pipelines.governance.audit_key import ERR_KEY_REQUIRED, embedded_key, key_file_for, key_from_environment
from pipelines.governance.audit_store import (
    BEGIN_IMMEDIATE_OPTION,
    ENTRIES,
    ERR_DATABASE,
    HEAD,
    METADATA,
    POSTGRES_LOCK_KEY,
    POSTGRES_LOCK_TIMEOUT,
    create_log_engine,
    parse_url,
    problem_line,
)

logger = logging.getLogger(__name__)

# the chain's names, public here too (the log's one import for its callers)
__all__ = [
    "CHAIN_SCHEME", "DETAIL_BAD_SEQUENCE", "DETAIL_BEYOND_HEAD", "DETAIL_EDITED", "DETAIL_FIRST_LINK", "DETAIL_FORK",
    "DETAIL_GAP", "DETAIL_HEAD_HASH", "DETAIL_HEAD_MISSING", "DETAIL_REORDERED", "DETAIL_REWRITTEN",
    "DETAIL_TAIL_DELETED", "DETAIL_UNKEYED", "ERR_STORED_PAYLOAD", "EVENT_KINDS", "GENESIS_HASH", "PROBLEM_DELETED",
    "PROBLEM_EDITED", "PROBLEM_HEAD_MISSING", "PROBLEM_INSERTED", "PROBLEM_REORDERED", "PROBLEM_UNKEYED", "AuditLog",
    "Entry", "VerifyResult", "legacy_hash", "open_log",
]

EVENT_KINDS = (
    "gate_decision",
    "registration",
    "promotion",
    "approval",
    "freeze",
    "unfreeze",
    "refusal",
    "rollback",
    "integrity_alarm",
    "repair",
    "scoring",
    "monitoring",
    "alert",
)
ERR_KIND = "audit log: unknown event kind {kind!r}; expected one of: " + ", ".join(EVENT_KINDS)
ERR_ACTOR = "audit log: actor must be a non-empty string, found {found!r}"
ERR_IDEMPOTENCY_KEY = "audit log: idempotency_key must be a non-empty string, found {found!r}"
ERR_MODEL_NAME = "audit log: model_name must be a non-empty string or None, found {found!r}"
ERR_MODEL_VERSION = "audit log: model_version must be a positive integer or None, found {found!r}"
ERR_VERSION_WITHOUT_MODEL = "audit log: model_version {version} needs a model_name"
ERR_PAYLOAD_NOT_MAPPING = "audit log: payload must be a mapping with string keys, found {found}"
ERR_PAYLOAD_KEY = "audit log: payload{path} has a key that is not a string: {key!r}"
ERR_PAYLOAD_NOT_FINITE = "audit log: payload{path} is {value!r}; only finite numbers can be recorded exactly"
ERR_PAYLOAD_VALUE = "audit log: payload{path} cannot be recorded as JSON: found {found}"
ERR_KEY_REUSED = (
    "audit log: idempotency key {key!r} already recorded entry {seq} with a different {fields}; "
    "a retry must repeat the same event, a new event needs a new key"
)
ERR_HEAD_MISSING = (
    "audit log {url}: the audit_head record is missing; refusing to append to a tampered log "
    "(run 'fairgate audit verify')"
)
ERR_HEAD_MISMATCH = (
    "audit log {url}: the head records entry {head_seq} but the table ends at entry {last_seq}; "
    "refusing to append to a tampered log (run 'fairgate audit verify')"
)
ERR_REKEY_NOTHING = "audit log {url}: nothing to re-key: it is empty or already keyed"
ERR_REKEY_BROKEN = "the legacy log cannot be re-keyed: its unkeyed chain is broken: {verdict}"
ERR_REKEY_ANCHORED = (
    "audit log {url}: refusing to re-key: {where} already holds a head, so this log was keyed before; "
    "a chain recomputed without the key stays an alarm (run 'fairgate audit verify')"
)
ERR_TAIL_UNKEYED = (
    "audit log {url}: its last entry {seq} does not verify with the log's key; refusing to append to a "
    "tampered or unkeyed log (run 'fairgate audit verify')"
)

# ------------------------------------------------------------------ canonical form and hash


def _plain_json(value: Any, path: str) -> Any:
    """Return a plain JSON copy of ``value``: dicts, lists, str, int, finite float, bool, None."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise BadInputError(ERR_PAYLOAD_NOT_FINITE.format(path=path, value=float(value)))
        return float(value)
    if isinstance(value, Mapping):
        plain: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise BadInputError(ERR_PAYLOAD_KEY.format(path=path, key=key))
            plain[key] = _plain_json(item, f"{path}.{key}")
        return plain
    if isinstance(value, list | tuple):
        return [_plain_json(item, f"{path}[{index}]") for index, item in enumerate(value)]
    raise BadInputError(ERR_PAYLOAD_VALUE.format(path=path, found=type(value).__name__))


def _canonical_payload(payload: Mapping[str, Any]) -> str:
    """Canonical JSON text of a payload; ``BadInputError`` naming the first value JSON cannot hold exactly."""
    if not isinstance(payload, Mapping):
        raise BadInputError(ERR_PAYLOAD_NOT_MAPPING.format(found=type(payload).__name__))
    plain = _plain_json(payload, "")
    # json writes floats with float.__repr__: the shortest text that reads back as the same float
    return json.dumps(plain, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


# ------------------------------------------------------------------ input checks


def _check_kind(kind: Any) -> str:
    if not isinstance(kind, str) or kind not in EVENT_KINDS:
        raise BadInputError(ERR_KIND.format(kind=kind))
    return kind


def _check_text(value: Any, message: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadInputError(message.format(found=value))
    return value


def _check_model(model_name: Any, model_version: Any) -> tuple[str | None, int | None]:
    """Validate the model reference; a version may be given as an int or its decimal string (MLflow)."""
    if model_name is not None:
        _check_text(model_name, ERR_MODEL_NAME)
    version = _check_version(model_version)
    if version is not None and model_name is None:
        raise BadInputError(ERR_VERSION_WITHOUT_MODEL.format(version=version))
    return model_name, version


def _check_version(model_version: Any) -> int | None:
    if model_version is None:
        return None
    if isinstance(model_version, str) and model_version.isdecimal():
        number = int(model_version)
    elif isinstance(model_version, int) and not isinstance(model_version, bool):
        number = int(model_version)
    else:
        raise BadInputError(ERR_MODEL_VERSION.format(found=model_version))
    if number < 1:
        raise BadInputError(ERR_MODEL_VERSION.format(found=model_version))
    return number


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


# ------------------------------------------------------------------ the log


class AuditLog:
    """An open audit log; obtain one with :func:`open_log`.

    Usable as a context manager (closes its connections on exit).
    """

    def __init__(self, engine: Engine, url: URL, anchor: HeadAnchor | None = None) -> None:
        self._engine = engine
        self._url = url
        self._backend = url.get_backend_name()
        self._password = url.password if isinstance(url.password, str) else None
        self._shown_url = url.render_as_string(hide_password=True)
        self._anchor = anchor
        self._key = b""  # set by open_log once the schema exists (_load_key)

    def _load_key(self) -> None:
        """Take the key from ``FAIRGATE_AUDIT_KEY``, else the embedded key file (made for a new log)."""
        key = key_from_environment()
        if key is None:
            path = key_file_for(self._url)
            if path is None:
                raise BadInputError(ERR_KEY_REQUIRED.format(url=self._shown_url))
            with self._read_transaction() as connection:
                entries = connection.execute(sa.select(sa.func.count()).select_from(ENTRIES)).scalar_one()
                first = connection.execute(sa.select(ENTRIES).where(ENTRIES.c.seq == 1)).first()
            # a log written before keyed hashing never had a key: it gets one, to be re-keyed (rekey_legacy)
            legacy = first is not None and _entry_from_row(first).entry_hash == legacy_hash(_entry_from_row(first))
            key = embedded_key(path, 0 if legacy else int(entries), self._shown_url)
        self._key = key

    @property
    def url(self) -> str:
        """The database URL with its password masked (safe to print)."""
        return self._shown_url

    def close(self) -> None:
        """Release the database connections."""
        self._engine.dispose()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -------------------------------------------------------------- transactions

    @contextmanager
    def _database_errors(self) -> Iterator[None]:
        try:
            yield
        except OperationalError as e:
            problem = problem_line(e, self._password)
            raise BadInputError(ERR_DATABASE.format(url=self._shown_url, problem=problem)) from e

    @contextmanager
    def _write_transaction(self) -> Iterator[Connection]:
        """Open a transaction that holds the log's write lock from its first statement."""
        with self._database_errors(), self._engine.connect() as connection:
            if self._backend == "sqlite":
                connection.execution_options(**{BEGIN_IMMEDIATE_OPTION: True})
            else:
                # each statement sees what committed before it: the head read after the lock is current
                connection.execution_options(isolation_level="READ COMMITTED")
            with connection.begin():
                if self._backend == "postgresql":
                    connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{POSTGRES_LOCK_TIMEOUT}'")
                    lock = sa.text("SELECT pg_advisory_xact_lock(:key)")
                    connection.execute(lock, {"key": POSTGRES_LOCK_KEY})
                yield connection

    @contextmanager
    def _read_transaction(self) -> Iterator[Connection]:
        """Open a transaction whose reads all see the same committed state."""
        with self._database_errors(), self._engine.connect() as connection:
            if self._backend == "postgresql":
                connection.execution_options(isolation_level="REPEATABLE READ")
            with connection.begin():
                yield connection

    def _ensure_schema(self) -> None:
        """Create the tables and the head record if absent (under the write lock, so openers never race)."""
        with self._read_transaction() as connection:
            inspector = sa.inspect(connection)
            ready = inspector.has_table(ENTRIES.name) and inspector.has_table(HEAD.name)
            if ready and connection.execute(sa.select(HEAD.c.id)).first() is not None:
                return
        with self._write_transaction() as connection:
            METADATA.create_all(connection)
            has_head = connection.execute(sa.select(HEAD.c.id)).first() is not None
            has_entries = connection.execute(sa.select(ENTRIES.c.seq).limit(1)).first() is not None
            # a missing head over existing entries is tampering: leave it for verify() to report
            if not has_head and not has_entries:
                connection.execute(HEAD.insert().values(id=1, seq=0, entry_hash=GENESIS_HASH))
                logger.info("audit log created at %s", self._shown_url)

    def _checked_tail(self, connection: Connection) -> tuple[int, str]:
        """Return the sequence number and hash of the last entry, after checking it may be appended to.

        The head must record the last entry, that entry must verify with the
        key, and the log must agree with its anchor (when it has one).
        """
        head = connection.execute(sa.select(HEAD.c.seq, HEAD.c.entry_hash).where(HEAD.c.id == 1)).first()
        last_row = connection.execute(sa.select(ENTRIES).order_by(ENTRIES.c.seq.desc()).limit(1)).first()
        last = _entry_from_row(last_row) if last_row is not None else None
        last_seq, last_hash = (last.seq, last.entry_hash) if last is not None else (0, GENESIS_HASH)
        if head is None:
            raise BadInputError(ERR_HEAD_MISSING.format(url=self._shown_url))
        if (head.seq, head.entry_hash) != (last_seq, last_hash):
            raise BadInputError(ERR_HEAD_MISMATCH.format(url=self._shown_url, head_seq=head.seq, last_seq=last_seq))
        if last is not None and hash_problem(self._key, last) is not None:
            raise BlockedError("audit_log", [ERR_TAIL_UNKEYED.format(url=self._shown_url, seq=last_seq)])
        if self._anchor is not None:
            reading = self._anchor.read()
            hash_at = {last_seq: last_hash}
            if reading.anchor is not None and reading.anchor.seq < last_seq:
                query = sa.select(ENTRIES.c.entry_hash).where(ENTRIES.c.seq == reading.anchor.seq)
                anchored = connection.execute(query).scalar()
                if anchored is not None:
                    hash_at[reading.anchor.seq] = str(anchored)
            refuse_append_against(reading, last_seq, hash_at, self._shown_url)
        return last_seq, last_hash

    def _anchor_committed_head(self) -> None:
        """Anchor the committed head, under the write lock.

        After the commit, so the anchor never runs ahead of what the database
        holds; under the lock, so two writers anchoring at once cannot move
        the anchor backwards (the store's read-then-write is not atomic).
        """
        if self._anchor is None:
            return
        with self._write_transaction() as connection:
            self._write_anchor(connection)

    def _write_anchor(self, connection: Connection) -> None:
        """Anchor the head the log holds now (a retry re-anchors what a crash left unanchored)."""
        if self._anchor is None:
            return
        head = connection.execute(sa.select(HEAD.c.seq, HEAD.c.entry_hash).where(HEAD.c.id == 1)).first()
        if head is not None and int(head.seq) > 0:
            self._anchor.write(Anchor(int(head.seq), str(head.entry_hash)))

    # -------------------------------------------------------------- the API

    def append(
        self,
        kind: str,
        actor: str,
        payload: Mapping[str, Any],
        *,
        model_name: str | None = None,
        model_version: int | str | None = None,
        idempotency_key: str,
    ) -> Entry:
        """Append one event, or return the entry already recorded under ``idempotency_key``.

        Parameters
        ----------
        kind : str
            One of :data:`EVENT_KINDS`.
        actor : str
            Who or what acted.
        payload : Mapping[str, Any]
            The facts of the event (JSON values only; floats must be finite).
            A ``reason`` or ``summary`` key is what ``fairgate audit log`` shows.
        model_name : str, optional
            The registered model the event concerns.
        model_version : int or str, optional
            Its version (a positive integer, or its decimal string as MLflow
            gives it); needs ``model_name``.
        idempotency_key : str
            What makes a retry the same event, e.g.
            ``"<airflow_run_id>:<kind>:<version>"``.  A second append with the
            same key appends nothing and returns the first entry.

        Returns
        -------
        Entry
            The new entry, or the one recorded earlier under the same key.

        Raises
        ------
        BadInputError
            A bad argument; the key already recorded a *different* event (a
            bug, not a retry); the head does not match the table (tampered
            log); or the database cannot be used.
        """
        kind = _check_kind(kind)
        actor = _check_text(actor, ERR_ACTOR)
        key = _check_text(idempotency_key, ERR_IDEMPOTENCY_KEY)
        model_name, version = _check_model(model_name, model_version)
        payload_json = _canonical_payload(payload)
        with self._write_transaction() as connection:
            existing = connection.execute(sa.select(ENTRIES).where(ENTRIES.c.idempotency_key == key)).first()
            if existing is not None:
                entry = _entry_from_row(existing)
                _check_same_event(entry, kind, actor, model_name, version, payload_json)
                logger.info("audit log: key %s already recorded entry %d; nothing appended", key, entry.seq)
                self._write_anchor(connection)
                return entry
            last_seq, last_hash = self._checked_tail(connection)
            entry = Entry(
                seq=last_seq + 1,
                recorded_at=_utc_now(),
                actor=actor,
                kind=kind,
                model_name=model_name,
                model_version=version,
                payload_json=payload_json,
                prev_hash=last_hash,
                entry_hash="",
                idempotency_key=key,
            )
            entry = replace(entry, entry_hash=chain_hash(self._key, entry))
            _insert_entry(connection, entry)
        self._anchor_committed_head()
        logger.info("audit log: entry %d %s by %s", entry.seq, entry.kind, entry.actor)
        return entry

    def rekey_legacy(self) -> int:
        """Re-hash, under the key, a log whose every entry carries the unkeyed SHA-256 of before.

        The legacy chain is checked first, as it was verified then (its
        SHA-256, its links, its head); the entries' content is not changed,
        only ``prev_hash``, ``entry_hash`` and the head.  Refused for an empty
        log, a log with any keyed entry, a broken legacy chain, or a log whose
        anchor already holds a head (an anchored log was keyed: a chain
        recomputed without the key must stay an alarm).

        Returns
        -------
        int
            The number of entries re-keyed.

        Raises
        ------
        BadInputError
            Nothing to re-key (empty, or already keyed).
        BlockedError
            The legacy chain is broken, or the log is anchored.
        """
        with self._write_transaction() as connection:
            entries = [_entry_from_row(r) for r in connection.execute(sa.select(ENTRIES).order_by(ENTRIES.c.seq))]
            head = connection.execute(sa.select(HEAD.c.seq, HEAD.c.entry_hash).where(HEAD.c.id == 1)).first()
            keyed = [e.seq for e in entries if hash_problem(self._key, e) is None]
            if not entries or keyed:
                raise BadInputError(ERR_REKEY_NOTHING.format(url=self._shown_url))
            head_state = (int(head.seq), str(head.entry_hash)) if head is not None else None
            legacy = verify_chain(legacy_problem, entries, head_state)
            if not legacy.ok:
                raise BlockedError("audit_log", [ERR_REKEY_BROKEN.format(verdict=legacy.describe())])
            reading = self._anchor.read() if self._anchor is not None else None
            if reading is not None and (reading.anchor is not None or reading.unreadable is not None):
                raise BlockedError("audit_log", [ERR_REKEY_ANCHORED.format(url=self._shown_url, where=reading.where)])
            rekeyed = _rekeyed(self._key, entries)
            for entry in rekeyed:
                update = ENTRIES.update().where(ENTRIES.c.seq == entry.seq)
                connection.execute(update.values(prev_hash=entry.prev_hash, entry_hash=entry.entry_hash))
            last = rekeyed[-1]
            connection.execute(HEAD.update().where(HEAD.c.id == 1).values(seq=last.seq, entry_hash=last.entry_hash))
        self._anchor_committed_head()
        logger.warning("audit log %s: %d legacy entries re-keyed (legacy head %s)", self._shown_url, len(rekeyed),
                       entries[-1].entry_hash)
        return len(rekeyed)

    def entries(self, model_version: int | str | None = None, model_name: str | None = None) -> list[Entry]:
        """Return the recorded entries in order, optionally for one model version and/or model.

        Parameters
        ----------
        model_version : int or str, optional
            Only entries about this version.
        model_name : str, optional
            Only entries about this registered model.

        Returns
        -------
        list[Entry]
            Oldest first.  Nothing is verified here: call :meth:`verify` when
            the history must be trusted.
        """
        version = _check_version(model_version)
        if model_name is not None:
            _check_text(model_name, ERR_MODEL_NAME)
        query = sa.select(ENTRIES).order_by(ENTRIES.c.seq)
        if version is not None:
            query = query.where(ENTRIES.c.model_version == version)
        if model_name is not None:
            query = query.where(ENTRIES.c.model_name == model_name)
        with self._read_transaction() as connection:
            rows = connection.execute(query).all()
        return [_entry_from_row(row) for row in rows]

    def verify(self) -> VerifyResult:
        """Check the whole chain and the head; name the first broken entry.

        Each entry's hash is recomputed from its content; each entry must name
        its predecessor's hash; sequence numbers must run 1, 2, ... without
        gaps; the last entry must be the one ``audit_head`` records.

        Returns
        -------
        VerifyResult
            ``ok`` or the first broken entry and what is wrong with it: edited
            (content or hash changed), deleted (a gap, or the head records more
            entries than the table holds), reordered (it names another entry as
            its predecessor), inserted (two entries claim the same predecessor,
            or a row lies beyond the head), unkeyed (a plain SHA-256: written
            before keyed hashing or recomputed without the key); and, for a log
            opened with an anchor, deleted when the log ends before the anchor
            (or is empty while the registry holds fairgate versions and no
            anchor), edited when it holds another hash at the anchor's entry.
        """
        # the anchor first: it only moves after a commit, so every entry it names is in the snapshot read
        # next; read after the snapshot, it could name an entry committed since (a false "deleted")
        reading = self._anchor.read() if self._anchor is not None else None
        with self._read_transaction() as connection:
            rows = connection.execute(sa.select(ENTRIES).order_by(ENTRIES.c.seq)).all()
            head = connection.execute(sa.select(HEAD.c.seq, HEAD.c.entry_hash).where(HEAD.c.id == 1)).first()
        head_state = (int(head.seq), str(head.entry_hash)) if head is not None else None
        entries = [_entry_from_row(row) for row in rows]
        result = verify_chain(lambda entry: hash_problem(self._key, entry), entries, head_state)
        if reading is None or (not result.ok and result.problem != PROBLEM_HEAD_MISSING):
            return result
        return _against_anchor(result, entries, reading)


def _rekeyed(key: bytes, entries: Sequence[Entry]) -> list[Entry]:
    """The entries re-linked and re-hashed under ``key``, content unchanged."""
    rekeyed: list[Entry] = []
    prev_hash = GENESIS_HASH
    for entry in entries:
        linked = replace(entry, prev_hash=prev_hash, entry_hash="")
        rekeyed.append(replace(linked, entry_hash=chain_hash(key, linked)))
        prev_hash = rekeyed[-1].entry_hash
    return rekeyed


def _against_anchor(result: VerifyResult, entries: Sequence[Entry], reading: AnchorReading) -> VerifyResult:
    """``result`` of an intact chain (or one whose head record is gone), checked against the anchor."""
    last_seq = entries[-1].seq if entries else 0
    problem = anchor_problem(reading, last_seq, {entry.seq: entry.entry_hash for entry in entries})
    if problem is not None:
        broken_seq, kind, detail = problem
        checked = min(result.checked, broken_seq - 1) if broken_seq is not None else 0
        return VerifyResult(ok=False, checked=max(checked, 0), broken_seq=broken_seq, problem=kind, detail=detail)
    if not result.ok:
        return result
    anchored = reading.anchor.seq if reading.anchor is not None else None
    return replace(result, anchored_seq=anchored, anchor_where=reading.where)


def _entry_from_row(row: Row[Any]) -> Entry:
    values = row._mapping
    return Entry(
        seq=values["seq"],
        recorded_at=values["recorded_at"],
        actor=values["actor"],
        kind=values["kind"],
        model_name=values["model_name"],
        model_version=values["model_version"],
        payload_json=values["payload"],
        prev_hash=values["prev_hash"],
        entry_hash=values["entry_hash"],
        idempotency_key=values["idempotency_key"],
    )


def _insert_entry(connection: Connection, entry: Entry) -> None:
    """Insert the entry and move the head to it (in the caller's write transaction)."""
    connection.execute(
        ENTRIES.insert().values(
            seq=entry.seq,
            recorded_at=entry.recorded_at,
            actor=entry.actor,
            kind=entry.kind,
            model_name=entry.model_name,
            model_version=entry.model_version,
            payload=entry.payload_json,
            prev_hash=entry.prev_hash,
            entry_hash=entry.entry_hash,
            idempotency_key=entry.idempotency_key,
        )
    )
    connection.execute(HEAD.update().where(HEAD.c.id == 1).values(seq=entry.seq, entry_hash=entry.entry_hash))


def _check_same_event(
    entry: Entry, kind: str, actor: str, model_name: str | None, version: int | None, payload_json: str
) -> None:
    """Raise when a reused idempotency key describes another event than the one it recorded."""
    differences = [
        name
        for name, recorded, requested in (
            ("kind", entry.kind, kind),
            ("actor", entry.actor, actor),
            ("model_name", entry.model_name, model_name),
            ("model_version", entry.model_version, version),
            ("payload", entry.payload_json, payload_json),
        )
        if recorded != requested
    ]
    if differences:
        raise BadInputError(
            ERR_KEY_REUSED.format(key=entry.idempotency_key, seq=entry.seq, fields=", ".join(differences))
        )


def open_log(url: str, anchor: HeadAnchor | None = None) -> AuditLog:
    """Open the audit log stored at ``url``, creating its tables (and the embedded key) if absent.

    Parameters
    ----------
    url : str
        A SQLAlchemy URL: ``sqlite:////abs/path/audit.db`` (the folder is
        created) or ``postgresql://user:password@host/db`` (production; the
        password comes from the environment, ``FAIRGATE_AUDIT_LOG_URL``, never
        from ``fairgate.yaml``).  :func:`pipelines.core.project.audit_log_url`
        resolves the project's URL.
    anchor : HeadAnchor, optional
        Where the head is written after every append and checked by
        :meth:`AuditLog.verify` (:func:`pipelines.governance.records.open_audit_log`
        passes the registry's).  Without it, a log deleted or rewritten as a
        whole is not detected.

    Returns
    -------
    AuditLog
        The open log; close it (or use it as a context manager) when done.

    Raises
    ------
    BadInputError
        The URL is not a supported database URL, its driver is not installed,
        or the database cannot be reached or written (the message shows the
        URL with its password masked); ``FAIRGATE_AUDIT_KEY`` is shorter than
        32 bytes, or unset for a log that is not an embedded SQLite file.
    BlockedError
        The log holds entries but its embedded key file is gone.
    """
    parsed = parse_url(url)
    if key_from_environment() is None and key_file_for(parsed) is None:
        # before any connection: nothing is created for a log that could not be keyed
        raise BadInputError(ERR_KEY_REQUIRED.format(url=parsed.render_as_string(hide_password=True)))
    engine = create_log_engine(parsed)
    log = AuditLog(engine, parsed, anchor)
    try:
        log._ensure_schema()
        log._load_key()
    except BaseException:
        log.close()
        raise
    return log
