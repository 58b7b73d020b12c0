"""The audit log's chain: its entries, their keyed hash, and the walk that finds the first broken one.

The storage and the API are :mod:`pipelines.governance.audit_log` (which
re-exports the public names here); the hash and the checks are described in
its module docstring.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pipelines.core.errors import BadInputError

GENESIS_HASH = "0" * 64
# the first element of every hashed entry: names the format, so no other use of the key yields the same hash
CHAIN_SCHEME = "fairgate.audit.hmac-sha256.v2"

# what verify() found wrong, in VerifyResult.problem
PROBLEM_EDITED = "edited"
PROBLEM_DELETED = "deleted"
PROBLEM_REORDERED = "reordered"
PROBLEM_INSERTED = "inserted"
PROBLEM_HEAD_MISSING = "head missing"
PROBLEM_UNKEYED = "unkeyed"

ERR_STORED_PAYLOAD = "audit log: entry {seq} holds a payload that is not JSON (run 'fairgate audit verify')"

DETAIL_EDITED = (
    "its content no longer matches its keyed hash (a field edited, or the chain re-hashed with another key)"
)
DETAIL_UNKEYED = (
    "its hash is a plain SHA-256 without the key: a log written before keyed hashing, or a chain "
    "recomputed without the key (see 'Migration' in docs/audit-log.md)"
)
DETAIL_LEGACY_EDITED = "its content no longer matches its SHA-256 (a field edited after it was written)"
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
        Hash of the previous entry (64 zeros for entry 1).
    entry_hash : str
        HMAC-SHA256 of every other field under the log's key (see the module docstring).
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
        ``PROBLEM_INSERTED``, ``PROBLEM_HEAD_MISSING``, ``PROBLEM_UNKEYED``,
        or the anchor's ``ANCHOR_PROBLEM_UNREADABLE``.
    detail : str or None
        One sentence saying what is wrong.
    head_hash : str or None
        Hash of the last entry when ``ok`` (64 zeros for an empty log).
    anchored_seq : int or None
        The entry the anchor outside the database records, when the log was
        opened with one and it holds a head; the log may run past it (entries
        appended after the last anchor write, see docs/audit-log.md).
    anchor_where : str or None
        Where that anchor is kept.
    """

    ok: bool
    checked: int
    broken_seq: int | None = None
    problem: str | None = None
    detail: str | None = None
    head_hash: str | None = None
    anchored_seq: int | None = None
    anchor_where: str | None = None

    def describe(self) -> str:
        """Return one line: the verdict and, when broken, the first broken entry."""
        if self.ok and self.anchor_where is not None and self.anchored_seq is not None:
            return (
                f"audit log OK: {self.checked} entries, chain intact, anchored at entry {self.anchored_seq} "
                f"in {self.anchor_where}"
            )
        if self.ok and self.anchor_where is not None:
            return f"audit log OK: {self.checked} entries, chain intact, nothing anchored yet in {self.anchor_where}"
        if self.ok:
            return f"audit log OK: {self.checked} entries, chain intact"
        where = f"at entry {self.broken_seq} " if self.broken_seq is not None else ""
        return f"audit log BROKEN {where}({self.problem}): {self.detail}"


# ------------------------------------------------------------------ the keyed hash and the walk


def _event_fields(entry: Entry) -> list[Any]:
    """The fields both hash formats cover, in their order."""
    return [
        entry.seq,
        entry.recorded_at,
        entry.actor,
        entry.kind,
        entry.model_name,
        entry.model_version,
        entry.payload_json,
    ]


def _material(fields: list[Any]) -> bytes:
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def chain_hash(key: bytes, entry: Entry) -> str:
    """HMAC-SHA256 under ``key`` of every stored field of ``entry`` but its own hash (see the module docstring)."""
    fields = [CHAIN_SCHEME, *_event_fields(entry), entry.idempotency_key, entry.prev_hash]
    return hmac.new(key, _material(fields), hashlib.sha256).hexdigest()


def legacy_hash(entry: Entry) -> str:
    """The unkeyed SHA-256 entries carried before keyed hashing (idempotency key not covered).

    Only to recognise such an entry and say so: a legacy hash never verifies.
    """
    return hashlib.sha256(_material([*_event_fields(entry), entry.prev_hash])).hexdigest()


def _label(seq: int) -> str:
    return "the start of the chain" if seq == 0 else f"entry {seq}"


def hash_problem(key: bytes, entry: Entry) -> tuple[str, str] | None:
    """Why ``entry``'s hash is not its keyed hash (unkeyed legacy SHA-256, or edited), or None."""
    if hmac.compare_digest(chain_hash(key, entry), entry.entry_hash):
        return None
    if entry.entry_hash == legacy_hash(entry):
        return PROBLEM_UNKEYED, DETAIL_UNKEYED
    return PROBLEM_EDITED, DETAIL_EDITED


def legacy_problem(entry: Entry) -> tuple[str, str] | None:
    """Why ``entry``'s hash is not its legacy SHA-256, or None (only to check a log before re-keying it)."""
    return None if entry.entry_hash == legacy_hash(entry) else (PROBLEM_EDITED, DETAIL_LEGACY_EDITED)


def verify_chain(
    problem_of: Callable[[Entry], tuple[str, str] | None], entries: Sequence[Entry], head: tuple[int, str] | None
) -> VerifyResult:
    """Walk the entries in sequence order; stop at the first broken one.

    ``problem_of`` says what is wrong with an entry's own hash
    (``lambda entry: hash_problem(key, entry)`` for a keyed log).
    """

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
            if (problem := problem_of(entry)) is not None:
                return broken(entry.seq, *problem)
            if entry.seq == 1:
                return broken(1, PROBLEM_EDITED, DETAIL_FIRST_LINK)
            return broken(entry.seq - 1, PROBLEM_EDITED, DETAIL_REWRITTEN.format(next=entry.seq))
        if (problem := problem_of(entry)) is not None:
            return broken(entry.seq, *problem)
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
