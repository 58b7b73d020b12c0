"""One writer at a time on ``champion``: the registry-level guard for promotions, approvals and rollbacks.

MLflow moves an alias with one call and no compare-and-set, so two writers
acting at once (a scheduled promotion and a manual rollback, two promotions on
shared services) could each check the registry, then both move the alias, and
the last one wins whatever the first one checked. Every move of ``champion``
therefore happens inside :func:`champion_lock`, which also covers the checks
that decide the move (gate tags, freeze state, the champion a candidate was
gated against, the model's checksums) and the audit entries that record it.
The lock is held in the database that holds the audit log, so it is shared by
every process that shares the log:

- Postgres (production): a session-level advisory lock, keyed by the model
  name, on its own connection;
- SQLite (embedded default): an exclusive ``flock`` on a file next to the
  database.

A writer that cannot get the lock within the timeout stops with one line; it
never moves the alias without it.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from pipelines.core.errors import BadInputError

logger = logging.getLogger(__name__)

LOCK_TIMEOUT_SECONDS = 120.0
ERR_LOCK_TIMEOUT = (
    "another promotion, approval or rollback of {model!r} held the champion lock for more than {seconds:.0f} s; "
    "nothing was moved: try again"
)
ERR_LOCK_BACKEND = "the champion lock needs the audit log on SQLite or Postgres, found {backend!r}"


def lock_key(model_name: str) -> int:
    """The signed 64-bit advisory-lock key of a registered model (stable across processes)."""
    digest = hashlib.sha256(f"fairgate.champion:{model_name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def champion_lock(audit_log_url: str, model_name: str, timeout: float = LOCK_TIMEOUT_SECONDS) -> Iterator[None]:
    """Hold the exclusive right to move ``model_name``'s champion alias (and record it) while inside.

    Parameters
    ----------
    audit_log_url : str
        The audit log's SQLAlchemy URL (see :func:`pipelines.core.project.audit_log_url`).
    model_name : str
        The registered model whose alias is moved.
    timeout : float
        Seconds to wait for another holder before giving up with an error.
    """
    url = make_url(audit_log_url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        database = url.database or ""
        if not database or database == ":memory:":
            raise BadInputError(ERR_LOCK_BACKEND.format(backend="sqlite in memory"))
        with _file_lock(Path(database).with_name(Path(database).name + ".champion.lock"), model_name, timeout):
            yield
    elif backend == "postgresql":
        with _advisory_lock(audit_log_url, model_name, timeout):
            yield
    else:
        raise BadInputError(ERR_LOCK_BACKEND.format(backend=backend))


@contextmanager
def _file_lock(path: Path, model_name: str, timeout: float) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    with path.open("a+b") as handle:
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise BadInputError(ERR_LOCK_TIMEOUT.format(model=model_name, seconds=timeout)) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextmanager
def _advisory_lock(audit_log_url: str, model_name: str, timeout: float) -> Iterator[None]:

    engine = sa.create_engine(audit_log_url, poolclass=sa.pool.NullPool)
    key = lock_key(model_name)
    try:
        with engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT")
            connection.exec_driver_sql(f"SET lock_timeout = '{int(timeout * 1000)}ms'")
            try:
                connection.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": key})
            except sa.exc.OperationalError as e:
                raise BadInputError(ERR_LOCK_TIMEOUT.format(model=model_name, seconds=timeout)) from e
            try:
                yield
            finally:
                connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": key})
    finally:
        engine.dispose()
