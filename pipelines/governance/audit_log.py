"""The tamper-evident audit log: every governance event, in order, chained by hashes.

Every gate decision, registration, promotion, approval, freeze, unfreeze,
refusal and rollback appends one entry.  Entries are never updated or deleted
by fairgate; ``fairgate audit verify`` checks the whole chain and names the
first broken entry.

Public API: :func:`open_log`, :class:`AuditLog` (``append``, ``entries``,
``verify``), :class:`Entry`, :class:`VerifyResult` and :data:`EVENT_KINDS`.

The chain
---------
An entry holds its sequence number (1, 2, ...), the UTC time it was recorded
(ISO-8601; a fact about the event, never used to order, deduplicate or decide
anything), the actor, the event kind, the model name and version when
relevant, the payload as canonical JSON, the previous entry's hash (64 zeros
for entry 1) and its own hash::

    entry_hash = sha256(json.dumps(
        [seq, recorded_at, actor, kind, model_name, model_version, payload, prev_hash],
        separators=(",", ":"), ensure_ascii=False,
    ).encode("utf-8")).hexdigest()

where ``payload`` is the stored canonical JSON *text* of the payload
(``sort_keys=True``, compact separators, ``ensure_ascii=False``, floats written
with ``repr`` so they read back exactly; NaN and infinities are refused).
Hashing the stored text, not a re-encoding of it, lets any language check the
chain with nothing but a JSON encoder and SHA-256.

The head
--------
Deleting the last entries leaves a shorter chain that is still valid, so the
chain alone cannot reveal it.  Each append therefore also updates a one-row
table, ``audit_head`` (the sequence number and hash of the last entry), in the
same transaction; ``verify`` compares the table's tail with the head, so a
deleted last entry, or a row added without going through :meth:`AuditLog.append`,
is caught.  Someone who can rewrite both tables consistently can rewrite
history: keep the ``head_hash`` that :meth:`AuditLog.verify` returns somewhere
else (a ticket, a release note) to detect that too.

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

import hashlib
import json
import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, Row
from sqlalchemy.exc import OperationalError

from pipelines.core.errors import BadInputError
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
)
GENESIS_HASH = "0" * 64

# what verify() found wrong, in VerifyResult.problem
PROBLEM_EDITED = "edited"
PROBLEM_DELETED = "deleted"
PROBLEM_REORDERED = "reordered"
PROBLEM_INSERTED = "inserted"
PROBLEM_HEAD_MISSING = "head missing"

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
ERR_STORED_PAYLOAD = "audit log: entry {seq} holds a payload that is not JSON (run 'fairgate audit verify')"

DETAIL_EDITED = "its content no longer matches its hash (payload, actor or another field edited, or the hash)"
DETAIL_GAP = "it is missing: the sequence jumps from {before} to {after} (entry deleted)"
DETAIL_BAD_SEQUENCE = "sequence number {seq} where {expected} was expected (row inserted)"
DETAIL_REORDERED = "it names {owner} as its predecessor, not {expected} (entries reordered)"
DETAIL_FORK = "it and entry {other} both name {owner} as their predecessor (row inserted, later entries renumbered)"
DETAIL_REWRITTEN = "its hash is not the previous hash entry {next} recorded (entry rewritten and re-hashed)"
DETAIL_FIRST_LINK = "it is the first entry but its previous hash is not 64 zeros (chain start forged)"
DETAIL_BEYOND_HEAD = "the head records {head} entries: this row was not appended by the log (row inserted)"
DETAIL_TAIL_DELETED = (
    "it is missing: the head records {head} entries, the table ends at entry {last} (last entry deleted)"
)
DETAIL_HEAD_HASH = "its hash differs from the one the head recorded (entry rewritten and re-hashed)"
DETAIL_HEAD_MISSING = "the audit_head record is missing (deleted): a deleted last entry would go unnoticed"


@dataclass(frozen=True)
class Entry:
    """One recorded event, exactly as stored.

    Attributes
    ----------
    seq : int
        Position in the log, from 1, without gaps.
    recorded_at : str
        UTC time of the append, ISO-8601 (a fact about the event only).
    actor : str
        Who or what acted (``"airflow:retrain"``, ``"cli:alice"``).
    kind : str
        One of :data:`EVENT_KINDS`.
    model_name : str or None
        Registered model the event concerns, if any.
    model_version : int or None
        Model version the event concerns, if any.
    payload_json : str
        The payload as stored: canonical JSON text (see :attr:`payload`).
    prev_hash : str
        SHA-256 of the previous entry (64 zeros for entry 1).
    entry_hash : str
        SHA-256 of this entry (see the module docstring).
    idempotency_key : str
        The key the append was made with.
    """

    seq: int
    recorded_at: str
    actor: str
    kind: str
    model_name: str | None
    model_version: int | None
    payload_json: str
    prev_hash: str
    entry_hash: str
    idempotency_key: str

    @property
    def payload(self) -> dict[str, Any]:
        """The payload as a fresh dictionary (floats exactly as appended)."""
        try:
            value = json.loads(self.payload_json)
        except ValueError as e:
            raise BadInputError(ERR_STORED_PAYLOAD.format(seq=self.seq)) from e
        if not isinstance(value, dict):
            raise BadInputError(ERR_STORED_PAYLOAD.format(seq=self.seq))
        return value

    def as_dict(self) -> dict[str, Any]:
        """Return the entry as JSON-ready data, the payload as an object."""
        return {
            "seq": self.seq,
            "recorded_at": self.recorded_at,
            "actor": self.actor,
            "kind": self.kind,
            "model_name": self.model_name,
            "model_version": self.model_version,
            "payload": self.payload,
            "prev_hash": self.prev_hash,
            "entry_hash": self.entry_hash,
            "idempotency_key": self.idempotency_key,
        }


@dataclass(frozen=True)
class VerifyResult:
    """What :meth:`AuditLog.verify` found.

    Attributes
    ----------
    ok : bool
        True when every entry is intact, linked, gap-free and matches the head.
    checked : int
        Entries found intact (all of them when ``ok``; those before the first
        broken one otherwise).
    broken_seq : int or None
        Sequence number of the first broken entry (a missing one when entries
        were deleted); None when ``ok`` or when only the head record is gone.
    problem : str or None
        One of ``PROBLEM_EDITED``, ``PROBLEM_DELETED``, ``PROBLEM_REORDERED``,
        ``PROBLEM_INSERTED``, ``PROBLEM_HEAD_MISSING``.
    detail : str or None
        One sentence saying what is wrong.
    head_hash : str or None
        Hash of the last entry when ``ok`` (64 zeros for an empty log): record
        it outside the database to detect a rewrite of the whole log later.
    """

    ok: bool
    checked: int
    broken_seq: int | None = None
    problem: str | None = None
    detail: str | None = None
    head_hash: str | None = None

    def describe(self) -> str:
        """Return one line: the verdict and, when broken, the first broken entry."""
        if self.ok:
            return f"audit log OK: {self.checked} entries, chain intact"
        where = f"at entry {self.broken_seq} " if self.broken_seq is not None else ""
        return f"audit log BROKEN {where}({self.problem}): {self.detail}"


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


def _chain_hash(
    seq: int,
    recorded_at: str,
    actor: str,
    kind: str,
    model_name: str | None,
    model_version: int | None,
    payload_json: str,
    prev_hash: str,
) -> str:
    """SHA-256 of the canonical serialisation of one entry (see the module docstring)."""
    material = json.dumps(
        [seq, recorded_at, actor, kind, model_name, model_version, payload_json, prev_hash],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def _recomputed_hash(entry: Entry) -> str:
    return _chain_hash(
        entry.seq,
        entry.recorded_at,
        entry.actor,
        entry.kind,
        entry.model_name,
        entry.model_version,
        entry.payload_json,
        entry.prev_hash,
    )


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

    def __init__(self, engine: Engine, url: URL) -> None:
        self._engine = engine
        self._backend = url.get_backend_name()
        self._password = url.password if isinstance(url.password, str) else None
        self._shown_url = url.render_as_string(hide_password=True)

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
        """Return the sequence number and hash of the last entry, after checking the head records it."""
        head = connection.execute(sa.select(HEAD.c.seq, HEAD.c.entry_hash).where(HEAD.c.id == 1)).first()
        last = connection.execute(
            sa.select(ENTRIES.c.seq, ENTRIES.c.entry_hash).order_by(ENTRIES.c.seq.desc()).limit(1)
        ).first()
        last_seq, last_hash = (last.seq, last.entry_hash) if last is not None else (0, GENESIS_HASH)
        if head is None:
            raise BadInputError(ERR_HEAD_MISSING.format(url=self._shown_url))
        if (head.seq, head.entry_hash) != (last_seq, last_hash):
            raise BadInputError(ERR_HEAD_MISMATCH.format(url=self._shown_url, head_seq=head.seq, last_seq=last_seq))
        return last_seq, last_hash

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
            entry = replace(entry, entry_hash=_recomputed_hash(entry))
            _insert_entry(connection, entry)
        logger.info("audit log: entry %d %s by %s", entry.seq, entry.kind, entry.actor)
        return entry

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
            or a row lies beyond the head).
        """
        with self._read_transaction() as connection:
            rows = connection.execute(sa.select(ENTRIES).order_by(ENTRIES.c.seq)).all()
            head = connection.execute(sa.select(HEAD.c.seq, HEAD.c.entry_hash).where(HEAD.c.id == 1)).first()
        head_state = (int(head.seq), str(head.entry_hash)) if head is not None else None
        return _verify_chain([_entry_from_row(row) for row in rows], head_state)


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


def _label(seq: int) -> str:
    return "the start of the chain" if seq == 0 else f"entry {seq}"


def _verify_chain(entries: Sequence[Entry], head: tuple[int, str] | None) -> VerifyResult:
    """Walk the entries in sequence order; stop at the first broken one."""

    def broken(seq: int | None, problem: str, detail: str) -> VerifyResult:
        checked = seq - 1 if seq is not None and seq >= 1 else expected - 1
        return VerifyResult(ok=False, checked=max(checked, 0), broken_seq=seq, problem=problem, detail=detail)

    owner_of = {entry.entry_hash: entry.seq for entry in entries}
    owner_of[GENESIS_HASH] = 0
    expected, prev_hash = 1, GENESIS_HASH
    for entry in entries:
        if entry.seq < expected:
            detail = DETAIL_BAD_SEQUENCE.format(seq=entry.seq, expected=expected)
            return broken(entry.seq, PROBLEM_INSERTED, detail)
        if head is not None and entry.seq > head[0] and expected > head[0]:
            return broken(entry.seq, PROBLEM_INSERTED, DETAIL_BEYOND_HEAD.format(head=head[0]))
        if entry.seq > expected:
            return broken(expected, PROBLEM_DELETED, DETAIL_GAP.format(before=expected - 1, after=entry.seq))
        if entry.prev_hash != prev_hash:
            owner = owner_of.get(entry.prev_hash)
            if owner is not None and owner > entry.seq - 1:
                detail = DETAIL_REORDERED.format(owner=_label(owner), expected=_label(entry.seq - 1))
                return broken(entry.seq, PROBLEM_REORDERED, detail)
            if owner is not None:
                # entries owner+1 .. seq-1 linked fine, so entry owner+1 names the same predecessor: a fork
                detail = DETAIL_FORK.format(other=entry.seq, owner=_label(owner))
                return broken(owner + 1, PROBLEM_INSERTED, detail)
            if _recomputed_hash(entry) != entry.entry_hash:
                return broken(entry.seq, PROBLEM_EDITED, DETAIL_EDITED)
            if entry.seq == 1:
                return broken(1, PROBLEM_EDITED, DETAIL_FIRST_LINK)
            return broken(entry.seq - 1, PROBLEM_EDITED, DETAIL_REWRITTEN.format(next=entry.seq))
        if _recomputed_hash(entry) != entry.entry_hash:
            return broken(entry.seq, PROBLEM_EDITED, DETAIL_EDITED)
        expected, prev_hash = expected + 1, entry.entry_hash
    last = expected - 1
    if head is None:
        return broken(None, PROBLEM_HEAD_MISSING, DETAIL_HEAD_MISSING)
    head_seq, head_hash = head
    if head_seq > last:
        return broken(last + 1, PROBLEM_DELETED, DETAIL_TAIL_DELETED.format(head=head_seq, last=last))
    if head_hash != prev_hash:
        return broken(last, PROBLEM_EDITED, DETAIL_HEAD_HASH)
    return VerifyResult(ok=True, checked=last, head_hash=prev_hash)


def open_log(url: str) -> AuditLog:
    """Open the audit log stored at ``url``, creating its tables if absent.

    Parameters
    ----------
    url : str
        A SQLAlchemy URL: ``sqlite:////abs/path/audit.db`` (the folder is
        created) or ``postgresql://user:password@host/db`` (production; the
        password comes from the environment, ``FAIRGATE_AUDIT_LOG_URL``, never
        from ``fairgate.yaml``).  :func:`pipelines.core.project.audit_log_url`
        resolves the project's URL.

    Returns
    -------
    AuditLog
        The open log; close it (or use it as a context manager) when done.

    Raises
    ------
    BadInputError
        The URL is not a supported database URL, its driver is not installed,
        or the database cannot be reached or written (the message shows the
        URL with its password masked).
    """
    parsed = parse_url(url)
    engine = create_log_engine(parsed)
    log = AuditLog(engine, parsed)
    try:
        log._ensure_schema()
    except BaseException:
        log.close()
        raise
    return log
