"""The secret that keys the audit log's hash chain: from the environment, or a file made once.

Each entry's hash is an HMAC-SHA256 under this key (see
:mod:`pipelines.governance.audit_log`), so nobody without it can recompute a
chain that verifies.

- ``FAIRGATE_AUDIT_KEY`` (production): the key is the variable's UTF-8 bytes,
  at least ``MIN_KEY_BYTES`` of them.  A Postgres audit log refuses to open
  without it.
- The embedded default (a SQLite file, no variable): the key is read from the
  file beside the database, ``<database stem>.key``
  (``var/audit/audit.key``, git-ignored with all of ``var/``).  It is made
  once, when the log is created: ``KEY_FILE_BYTES`` random bytes written as
  hexadecimal text, mode 0600, published atomically (a hard link that fails if
  another process published first).  A log that already holds entries never
  gets a new key: its key file missing is an integrity alarm, not a reason to
  start over.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path

from sqlalchemy.engine import URL

from pipelines.core.errors import BadInputError, BlockedError

logger = logging.getLogger(__name__)

AUDIT_KEY_ENV = "FAIRGATE_AUDIT_KEY"
MIN_KEY_BYTES = 32
KEY_FILE_BYTES = 32
KEY_FILE_MODE = 0o600

ERR_KEY_SHORT = "audit log: the key from {source} is {found} bytes long; it must be at least " + str(
    MIN_KEY_BYTES
) + " bytes (e.g. the output of 'openssl rand -hex 32')"
ERR_KEY_REQUIRED = (
    "audit log {url}: " + AUDIT_KEY_ENV + " is not set; an audit log outside the embedded SQLite file "
    "needs its key from the environment (at least " + str(MIN_KEY_BYTES) + " bytes, kept as a secret)"
)
ERR_KEY_FILE_MISSING = (
    "audit log {url} holds {entries} entries but its key file {path} is missing: a new key cannot verify "
    "them; restore the file or set " + AUDIT_KEY_ENV + " to the key it held"
)
ERR_KEY_FILE_UNREADABLE = "audit log: cannot read its key file {path}: {problem}"
ERR_KEY_FILE_WRITE = "audit log: cannot write its key file {path}: {problem}"
ERR_KEY_FILE_SHARED = (
    "audit log: its key file {path} can be read or written by other users (mode {mode:o}); "
    "make it readable by its owner only (chmod 600)"
)


def check_key(raw: bytes, source: str) -> bytes:
    """Return ``raw`` when it is long enough to key the chain; ``BadInputError`` otherwise.

    Parameters
    ----------
    raw : bytes
        The key.
    source : str
        Where it came from, for the message (``FAIRGATE_AUDIT_KEY``, a file).

    Returns
    -------
    bytes
        The key, unchanged.
    """
    if len(raw) < MIN_KEY_BYTES:
        raise BadInputError(ERR_KEY_SHORT.format(source=source, found=len(raw)))
    return raw


def key_from_environment() -> bytes | None:
    """The key ``FAIRGATE_AUDIT_KEY`` holds (checked), or None when the variable is unset or empty."""
    value = os.environ.get(AUDIT_KEY_ENV)
    if not value:
        return None
    return check_key(value.encode("utf-8"), AUDIT_KEY_ENV)


def key_file_for(url: URL) -> Path | None:
    """The embedded key file beside a SQLite database file; None for any other database.

    Parameters
    ----------
    url : sqlalchemy.engine.URL
        The audit log's URL.

    Returns
    -------
    pathlib.Path or None
        ``<folder>/<database stem>.key``; None for Postgres, an in-memory or a
        ``file:`` SQLite database (they need ``FAIRGATE_AUDIT_KEY``).
    """
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).with_suffix(".key")


def read_key_file(path: Path) -> bytes | None:
    """The key a key file holds (checked), or None when there is no such file.

    Raises
    ------
    BadInputError
        The file cannot be read, is shorter than ``MIN_KEY_BYTES``, or other
        users may read or write it.
    """
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as e:
        raise BadInputError(ERR_KEY_FILE_UNREADABLE.format(path=path, problem=getattr(e, "strerror", None) or e)) from e
    if stat.S_IMODE(mode) & 0o077:
        raise BadInputError(ERR_KEY_FILE_SHARED.format(path=path, mode=stat.S_IMODE(mode)))
    return check_key(text.encode("ascii"), str(path))


def create_key_file(path: Path) -> bytes:
    """Write a new random key to ``path`` once, atomically; return the key the file holds.

    The key is written to a private temporary file in the same folder, then
    hard-linked to ``path``: the link fails if another process published a key
    first, and then that key is the one returned.  A reader never sees a
    half-written file.

    Raises
    ------
    BadInputError
        The folder cannot be written.
    """
    text = secrets.token_hex(KEY_FILE_BYTES) + "\n"
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, KEY_FILE_MODE)
        try:
            os.write(descriptor, text.encode("ascii"))
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        try:
            os.link(temporary, path)
            logger.info("audit log: new key written to %s", path)
        except FileExistsError:
            logger.info("audit log: another process wrote the key %s first; using it", path)
    except OSError as e:
        raise BadInputError(ERR_KEY_FILE_WRITE.format(path=path, problem=e.strerror or e)) from e
    finally:
        temporary.unlink(missing_ok=True)
    key = read_key_file(path)
    if key is None:
        raise BadInputError(ERR_KEY_FILE_WRITE.format(path=path, problem="it vanished after it was written"))
    return key


def embedded_key(path: Path, entries: int, shown_url: str) -> bytes:
    """The key of an embedded log: its file, or a new one for a log with no entries yet.

    Parameters
    ----------
    path : pathlib.Path
        The key file (:func:`key_file_for`).
    entries : int
        How many entries the log already holds.
    shown_url : str
        The log's URL as messages show it.

    Returns
    -------
    bytes
        The key.

    Raises
    ------
    BlockedError
        The log holds entries but the key file is missing (an integrity alarm).
    """
    key = read_key_file(path)
    if key is not None:
        return key
    if entries:
        raise BlockedError(
            "audit_log", [ERR_KEY_FILE_MISSING.format(url=shown_url, entries=entries, path=path)]
        )
    return create_key_file(path)
