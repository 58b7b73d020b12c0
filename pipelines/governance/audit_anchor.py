"""The audit log's head, anchored outside its database, and what the log must agree with it.

Rewriting both tables of the log, or deleting its database, leaves a log that
is valid on its own.  A copy of the head (sequence number and hash of the last
entry) kept elsewhere catches it: after every append the log writes its head
to a :class:`HeadAnchor`, and :meth:`pipelines.governance.audit_log.AuditLog.verify`
fails when the log ends before the anchor or holds another hash at the
anchor's position.  The anchor only moves forward.

This module knows no store: the project's anchor is a tag on the registered
model in MLflow (:mod:`pipelines.governance.registry_anchor`).  It also says
whether the store knows of work the log must hold (``managed``: fairgate
versions in the registry), so that an empty or missing log with no anchor
fails closed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Protocol

from pipelines.core.errors import BlockedError

ANCHOR_PROBLEM_BEHIND = "deleted"
ANCHOR_PROBLEM_REWRITTEN = "edited"
ANCHOR_PROBLEM_UNREADABLE = "anchor unreadable"

DETAIL_BEHIND_ANCHOR = (
    "it is missing: {where} records the head at entry {anchor}, but the log ends at entry {last} "
    "(entries deleted, the log truncated, or its database deleted or replaced)"
)
DETAIL_ANCHOR_HASH = (
    "its hash differs from the one {where} recorded for entry {anchor} (the log was rewritten, or re-keyed)"
)
DETAIL_UNANCHORED_EMPTY = (
    "the log holds no entries, yet {where} holds no anchor and the registry holds {managed} fairgate-managed "
    "version(s): the log was deleted or replaced"
)
DETAIL_ANCHOR_UNREADABLE = "{where} holds {found!r}, not a head of the form {{\"seq\": N, \"entry_hash\": HEX}}"

ERR_APPEND_AGAINST_ANCHOR = "audit log {url}: refusing to append: {detail} (run 'fairgate audit verify')"


@dataclass(frozen=True)
class Anchor:
    """A head written outside the database: the sequence number and hash of an entry."""

    seq: int
    entry_hash: str

    def to_text(self) -> str:
        """The anchor as stored: compact JSON."""
        return json.dumps({"seq": self.seq, "entry_hash": self.entry_hash}, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class AnchorReading:
    """What the anchor's store holds.

    Attributes
    ----------
    where : str
        The store, for messages (``"the registry tag fairgate.audit.head of 'm'"``).
    anchor : Anchor or None
        The anchored head; None when nothing was anchored yet (or it is unreadable).
    managed : int
        Versions the store knows fairgate made (counted only when no anchor is held).
    unreadable : str or None
        The stored text when it is not an anchor.
    """

    where: str
    anchor: Anchor | None
    managed: int = 0
    unreadable: str | None = None


class HeadAnchor(Protocol):
    """Where a log writes its head after each append, and reads it back to verify."""

    def read(self) -> AnchorReading:
        """Return what the store holds."""
        ...

    def write(self, anchor: Anchor) -> None:
        """Record ``anchor`` unless the store already holds the same or a later entry."""
        ...


def parse_anchor(text: str) -> Anchor | None:
    """The anchor stored as ``text``, or None when it is not one."""
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    seq, entry_hash = value.get("seq"), value.get("entry_hash")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        return None
    if not isinstance(entry_hash, str) or len(entry_hash) != 64:
        return None
    return Anchor(seq, entry_hash)


def anchor_problem(
    reading: AnchorReading, last_seq: int, hash_at: dict[int, str]
) -> tuple[int | None, str, str] | None:
    """What an otherwise intact log ending at ``last_seq`` disagrees with in ``reading``, or None.

    Parameters
    ----------
    reading : AnchorReading
        The anchor's store.
    last_seq : int
        The log's last entry (0 for an empty log).
    hash_at : dict[int, str]
        The hash of each entry of the log, by sequence number.

    Returns
    -------
    tuple or None
        ``(broken_seq, problem, detail)``: the first entry at fault (None when
        no entry can be named), the problem, one sentence.
    """
    where = reading.where
    if reading.unreadable is not None:
        return None, ANCHOR_PROBLEM_UNREADABLE, DETAIL_ANCHOR_UNREADABLE.format(where=where, found=reading.unreadable)
    anchor = reading.anchor
    if anchor is None:
        if last_seq == 0 and reading.managed:
            return None, ANCHOR_PROBLEM_BEHIND, DETAIL_UNANCHORED_EMPTY.format(where=where, managed=reading.managed)
        return None
    if anchor.seq > last_seq:
        detail = DETAIL_BEHIND_ANCHOR.format(where=where, anchor=anchor.seq, last=last_seq)
        return last_seq + 1, ANCHOR_PROBLEM_BEHIND, detail
    if hash_at.get(anchor.seq) != anchor.entry_hash:
        return anchor.seq, ANCHOR_PROBLEM_REWRITTEN, DETAIL_ANCHOR_HASH.format(where=where, anchor=anchor.seq)
    return None


def refuse_append_against(reading: AnchorReading, last_seq: int, hash_at: dict[int, str], shown_url: str) -> None:
    """Raise ``BlockedError`` when appending would bury a disagreement with the anchor.

    An append to a log that ends before its anchor (or holds another hash at
    its position, or is empty while the registry holds fairgate versions and
    no anchor) would move the anchor onto the replacement and erase the
    evidence: nothing is appended.
    """
    problem = anchor_problem(reading, last_seq, hash_at)
    if problem is not None:
        raise BlockedError("audit_log", [ERR_APPEND_AGAINST_ANCHOR.format(url=shown_url, detail=problem[2])])
