"""Where the audit log lives: its database URL, its engine (SQLite or Postgres) and its two tables.

The chain and its checks are in :mod:`pipelines.governance.audit_log`; this
module holds the storage plumbing it runs on:

- :func:`parse_url` accepts a SQLAlchemy URL of a supported backend
  (``SUPPORTED_BACKENDS``) and :func:`create_log_engine` makes its engine: on
  SQLite the database folder is created and write transactions start with
  ``BEGIN IMMEDIATE`` (:func:`sqlite_engine`); on Postgres appends take the
  advisory lock ``POSTGRES_LOCK_KEY``.
- ``ENTRIES`` and ``HEAD`` are the tables ``audit_entries`` (one row per
  entry) and ``audit_head`` (one row: the sequence number and hash of the last
  entry), both in ``METADATA``.
- :func:`problem_line` and :func:`mask_url_text` keep a password out of every
  message.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from pipelines.core.errors import BadInputError

SUPPORTED_BACKENDS = ("sqlite", "postgresql")
SQLITE_BUSY_TIMEOUT_SECONDS = 30.0
POSTGRES_LOCK_TIMEOUT = "30s"
# any fixed 64-bit number: the advisory lock that serialises appends on Postgres
POSTGRES_LOCK_KEY = int.from_bytes(hashlib.sha256(b"fairgate.audit_log").digest()[:8], "big", signed=True)

ERR_NOT_A_URL = "audit log: not a database URL: {url}"
ERR_BACKEND = "audit log: unsupported database {backend!r} in {url}; expected one of: " + ", ".join(SUPPORTED_BACKENDS)
ERR_DRIVER = "audit log: cannot load the database driver for {url}: {problem}"
ERR_SQLITE_FOLDER = "audit log: cannot create the folder {folder} for {url}: {problem}"
ERR_DATABASE = "audit log: database {url} cannot be used: {problem}"

# execution option that makes a SQLite connection's transaction start with BEGIN IMMEDIATE
BEGIN_IMMEDIATE_OPTION = "fairgate_begin_immediate"

METADATA = sa.MetaData()
ENTRIES = sa.Table(
    "audit_entries",
    METADATA,
    # the primary key is the UNIQUE constraint on the sequence number
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("recorded_at", sa.String(40), nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("model_name", sa.Text, nullable=True),
    sa.Column("model_version", sa.Integer, nullable=True),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("entry_hash", sa.String(64), nullable=False),
    sa.Column("idempotency_key", sa.Text, nullable=False),
    sa.UniqueConstraint("idempotency_key", name="uq_audit_entries_idempotency_key"),
    sa.Index("ix_audit_entries_model", "model_name", "model_version"),
)
HEAD = sa.Table(
    "audit_head",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("entry_hash", sa.String(64), nullable=False),
    sa.CheckConstraint("id = 1", name="ck_audit_head_one_row"),
)


def mask_url_text(raw: str) -> str:
    """Return a URL-like string with any ``user:password@`` password replaced by ``***``."""
    return re.sub(r"(//[^/@:]*:)[^/@]*@", r"\1***@", raw)


def problem_line(error: BaseException, password: str | None) -> str:
    """Return the first line of a driver error, the password masked should the driver echo it."""
    original = getattr(error, "orig", None) or error
    lines = str(original).strip().splitlines()
    line = lines[0] if lines else type(original).__name__
    return line.replace(password, "***") if password else line


def parse_url(url: str) -> URL:
    """Parse the audit log's database URL.

    Parameters
    ----------
    url : str
        A SQLAlchemy URL.

    Returns
    -------
    sqlalchemy.engine.URL
        The parsed URL, of one of ``SUPPORTED_BACKENDS``.

    Raises
    ------
    BadInputError
        Not a URL, or not a supported database (the message masks the password).
    """
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError, TypeError) as e:
        raise BadInputError(ERR_NOT_A_URL.format(url=mask_url_text(str(url)))) from e
    backend = parsed.get_backend_name()
    if backend not in SUPPORTED_BACKENDS:
        shown = parsed.render_as_string(hide_password=True)
        raise BadInputError(ERR_BACKEND.format(backend=backend, url=shown))
    return parsed


def create_log_engine(parsed: URL) -> Engine:
    """Create the engine of the audit log's database (its SQLite folder first).

    Parameters
    ----------
    parsed : sqlalchemy.engine.URL
        A URL returned by :func:`parse_url`.

    Returns
    -------
    sqlalchemy.engine.Engine
        On SQLite, :func:`sqlite_engine`; on Postgres, an engine that checks
        its pooled connections before use.

    Raises
    ------
    BadInputError
        The SQLite folder cannot be created, or the database driver is not
        installed (the message masks the password).
    """
    shown = parsed.render_as_string(hide_password=True)
    password = parsed.password if isinstance(parsed.password, str) else None
    try:
        if parsed.get_backend_name() == "sqlite":
            prepare_sqlite_folder(parsed, shown)
            return sqlite_engine(parsed)
        return sa.create_engine(parsed, pool_pre_ping=True)
    except (NoSuchModuleError, ImportError) as e:
        raise BadInputError(ERR_DRIVER.format(url=shown, problem=problem_line(e, password))) from e


def prepare_sqlite_folder(parsed: URL, shown: str) -> None:
    """Create the folder of a SQLite database file (nothing for an in-memory or ``file:`` database).

    Parameters
    ----------
    parsed : sqlalchemy.engine.URL
        A SQLite URL.
    shown : str
        The URL as messages show it (password masked).

    Raises
    ------
    BadInputError
        The folder cannot be created.
    """
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    folder = Path(database).parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        problem = e.strerror or str(e)
        raise BadInputError(ERR_SQLITE_FOLDER.format(folder=folder, url=shown, problem=problem)) from e


def sqlite_engine(parsed: URL) -> Engine:
    """Create a SQLite engine whose write transactions start with ``BEGIN IMMEDIATE``.

    pysqlite's own transaction handling is switched off (it would defer BEGIN
    to the first write); SQLAlchemy's ``begin`` event emits ``BEGIN`` instead,
    or ``BEGIN IMMEDIATE`` on a connection marked for writing (execution
    option ``BEGIN_IMMEDIATE_OPTION``), so the write lock is held before the
    head is read.  Other writers wait up to ``SQLITE_BUSY_TIMEOUT_SECONDS``
    unless the URL sets ``?timeout=``.

    Parameters
    ----------
    parsed : sqlalchemy.engine.URL
        A SQLite URL.

    Returns
    -------
    sqlalchemy.engine.Engine
        The engine.
    """
    connect_args: dict[str, Any] = {}
    if "timeout" not in parsed.query:
        connect_args["timeout"] = SQLITE_BUSY_TIMEOUT_SECONDS
    engine = sa.create_engine(parsed, connect_args=connect_args)

    @event.listens_for(engine, "connect")
    def _driver_leaves_transactions_to_us(dbapi_connection: Any, connection_record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get(BEGIN_IMMEDIATE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
