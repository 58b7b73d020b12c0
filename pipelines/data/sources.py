"""The dataset sources of a project's own data: one interval's rows, and which intervals the source holds.

- ``file``: one CSV or Parquet file, replaced whole by every run.  Its
  interval is the month of its latest decision (``time_column``) or, without
  a time column, a one-off version named by the file's bytes (``data-<hash>``).
- ``files``: one file, or one folder of files, per month, found by a path
  template (``applications/{interval}.parquet``, Hive-style
  ``applications/month={interval}/``, a local path or an fsspec URL such as
  ``s3://bucket/applications/{interval}.csv.gz``).  A folder is read whole:
  every file in it, in name order (names starting with ``.`` or ``_`` are
  markers such as ``_SUCCESS`` and skipped).
- ``sql``: a query with ``:interval_start`` and ``:interval_end`` bound to the
  interval's first day and the first day after it (ISO dates, half-open),
  on the SQLAlchemy URL held by the environment variable ``sql.url_env``.

Every row of a ``files`` or ``sql`` batch must have its decision time
(``time_column``) inside the interval: the interval comes from the data,
never from the clock.  Every file goes through the one table reader
(:func:`pipelines.core.tables.read_table`), with its refusals; a remote file
is copied into the run's folder first.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.core.config import INTERVAL_PLACEHOLDER, MONTH_PATTERN, DatasetSettings
from pipelines.core.errors import BadInputError
from pipelines.core.intervals import ONE_OFF_PATTERN  # noqa: F401 (re-exported: sources.ONE_OFF_PATTERN)
from pipelines.core.project import ProjectPaths
from pipelines.core.tables import first_line, read_table, table_kind

logger = logging.getLogger(__name__)

ONE_OFF_PREFIX = "data-"
_INTERVAL_GROUP = r"(\d{4}-(?:0[1-9]|1[0-2]))"
_SENTINEL = "FAIRGATEINTERVALSENTINEL"
_EARLIEST, _LATEST = "0001-01-01", "9999-12-31"  # the bounds that select every row when asking for the latest time

ERR_NOT_MONTH = "dataset.source {source!r} reads one month at a time: the interval must be YYYY-MM, found {interval!r}"
ERR_NO_INTERVAL_FILE = "dataset.path: no file or folder for interval {interval}: {location} does not exist"
ERR_EMPTY_FOLDER = "dataset.path: {location} (interval {interval}) holds no file"
ERR_NOT_A_TABLE = (
    "dataset.path: {location} (interval {interval}) holds {name}, which is not a CSV or Parquet file "
    "(only names starting with '.' or '_' are skipped as markers)"
)
ERR_COLUMNS_DIFFER = "{file}: its columns differ from {first}'s: missing {missing}, extra {extra}"
ERR_NO_INTERVALS = "dataset.path: no file or folder matches {pattern}: the source holds no interval yet"
ERR_OUTSIDE_INTERVAL = (
    "{origin}: {count} of {rows} row(s) have {column} outside interval {interval} [{start}, {end}) "
    "(from {first} to {last}): a source's interval must hold that interval's decisions only"
)
ERR_UNREADABLE_TIME = "{origin}: {count} row(s) have no readable {column} (time_column), so no interval"
ERR_NOT_A_TIME = (
    "{origin}: {count} value(s) of {column} (time_column) cannot be read as a date or time, e.g. {example!r}"
)
ERR_NO_URL = (
    "dataset.sql.url_env: the environment variable {name} is not set; it must hold the SQLAlchemy URL of the "
    "source (e.g. postgresql+psycopg://user:password@host/db)"
)
ERR_BAD_URL = "dataset.sql.url_env: {name} does not hold a usable SQLAlchemy URL ({problem})"
ERR_SQL = "dataset.sql.query on ${name} failed: {problem}"
ERR_SQL_EMPTY = "dataset.sql.query returned no rows for interval {interval} [{start}, {end})"
ERR_SQL_NO_TIME = "dataset.sql.query: the source holds no row with a {column} (time_column): no interval to process"
ERR_SQL_NO_COLUMN = "dataset.sql.query does not return the time_column {column!r}; it returns: {columns}"


@dataclass(frozen=True)
class IntervalBatch:
    """One interval's rows, where they came from, and the run note that says so."""

    frame: pd.DataFrame
    origin: list[str]
    note: str


def is_month(interval: str) -> bool:
    """Whether ``interval`` is a month (``YYYY-MM``), not a one-off data version."""
    return bool(MONTH_PATTERN.match(interval))


def interval_bounds(interval: str) -> tuple[str, str]:
    """The interval's first day and the first day after it, as ISO dates (half-open ``[start, end)``)."""
    year, month = (int(part) for part in interval.split("-"))
    following = (year + 1, 1) if month == 12 else (year, month + 1)
    return f"{year:04d}-{month:02d}-01", f"{following[0]:04d}-{following[1]:02d}-01"


def read_interval(settings: DatasetSettings, root: Path, interval: str, staging: Path) -> IntervalBatch:
    """Read exactly one interval's rows from a ``files`` or ``sql`` source.

    Parameters
    ----------
    settings : DatasetSettings
        ``dataset`` of fairgate.yaml (``source`` is ``files`` or ``sql``).
    root : pathlib.Path
        The project root (a relative ``path`` is relative to it).
    interval : str
        The month, ``YYYY-MM``.
    staging : pathlib.Path
        A folder of the run, where remote files are copied before they are read.

    Returns
    -------
    IntervalBatch
        The rows (every one inside the interval), their origin and a note.

    Raises
    ------
    BadInputError
        No such interval in the source, an unreadable file or query, or a row
        outside the interval; one line naming the key or the file.
    """
    if not is_month(interval):
        raise BadInputError(ERR_NOT_MONTH.format(source=settings.source, interval=interval))
    if settings.source == "files":
        batch = _read_files(settings, root, interval, staging)
    else:
        batch = _read_sql(settings, interval)
    origin = ", ".join(batch.origin)
    frame = with_decision_times(batch.frame, str(settings.time_column), origin)
    _check_inside(frame, str(settings.time_column), interval, origin)
    return IntervalBatch(frame, batch.origin, batch.note)


def with_decision_times(frame: pd.DataFrame, column: str | None, origin: str) -> pd.DataFrame:
    """The frame with its time column as timestamps (naive UTC), as the generator writes it.

    Text dates from a CSV would otherwise be audited as a category whose every
    new month is a new value.  A value that cannot be read as a time is
    refused, naming the count (never turned into a missing value silently).
    """
    if not column or column not in frame.columns:
        return frame  # no time column, or a missing one (named by require_columns, with every other one)
    times = _as_times(frame[column])
    unreadable = times.isna() & frame[column].notna()
    if unreadable.any():
        raise BadInputError(ERR_NOT_A_TIME.format(
            origin=origin, count=int(unreadable.sum()), column=column, example=frame[column][unreadable].iloc[0]
        ))
    return frame.assign(**{column: times})


def latest_interval(settings: DatasetSettings, root: Path) -> str:
    """The latest complete interval the source holds (see the module's docstring and docs/configuration.md).

    ``files``: the latest month whose file or folder exists (a file arrives
    whole).  ``sql``: the month before the month of the latest decision time
    the query returns over all time (that month may still be filling up).
    """
    if settings.source == "files":
        months = sorted(available_file_intervals(settings, root))
        if not months:
            raise BadInputError(ERR_NO_INTERVALS.format(pattern=_location(settings, root, "*")))
        return months[-1]
    latest = _latest_sql_time(settings)
    year, month = latest.year, latest.month
    year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return f"{year:04d}-{month:02d}"


def available_file_intervals(settings: DatasetSettings, root: Path) -> list[str]:
    """Every month the ``files`` template finds (a file or a folder named by it), sorted."""
    import fsspec  # lazy: only a files source needs it

    fs, pattern = fsspec.core.url_to_fs(_location(settings, root, "*"))
    _, marked = fsspec.core.url_to_fs(_location(settings, root, _SENTINEL))
    first, *others = marked.split(_SENTINEL)
    # the first {interval} captures the month; any later one must repeat it
    regex = re.escape(first) + "".join(
        ("(?P<i>" + _INTERVAL_GROUP[1:] if n == 0 else "(?P=i)") + re.escape(part) for n, part in enumerate(others)
    ) + "$"
    found = {m.group("i") for path in fs.glob(pattern) if (m := re.match(regex, path.rstrip("/")))}
    return sorted(found)


def source_fingerprint(settings: DatasetSettings, root: Path, interval: str) -> str | None:
    """What identifies an interval's source bytes (``files``: each file's name and SHA-256); None for ``sql``."""
    if settings.source != "files" or not is_month(interval):
        return None
    fs, parts, _ = _interval_parts(settings, root, interval)
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode())
        if _is_local(fs):
            digest.update(_file_sha256(Path(part)).encode())
        else:
            digest.update(str(fs.ukey(part)).encode())  # the object store's checksum (S3: the ETag)
    return digest.hexdigest()


# ------------------------------------------------------------------ files


def _location(settings: DatasetSettings, root: Path, interval: str) -> str:
    """The template with ``interval`` in place: a URL as written, a local path made absolute."""
    location = str(settings.path).replace(INTERVAL_PLACEHOLDER, interval)
    if "://" in location or Path(location).is_absolute():
        return location
    return str(root / location)


def _is_local(fs: Any) -> bool:
    protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    return "file" in protocols or "local" in protocols


def _interval_parts(settings: DatasetSettings, root: Path, interval: str) -> tuple[Any, list[str], str]:
    """The filesystem, the interval's files in name order, and the location they were found at."""
    import fsspec  # lazy: only a files source needs it

    location = _location(settings, root, interval)
    fs, path = fsspec.core.url_to_fs(location)
    if not fs.exists(path):
        raise BadInputError(ERR_NO_INTERVAL_FILE.format(interval=interval, location=location))
    if not fs.isdir(path):
        return fs, [path], location
    parts: list[str] = []
    for found in sorted(fs.find(path)):
        relative = found[len(path.rstrip("/")) + 1 :]
        if any(piece.startswith((".", "_")) for piece in relative.split("/")):
            continue  # _SUCCESS, .crc and other markers of the tools that write partitioned folders
        if table_kind(Path(found)) is None:
            raise BadInputError(ERR_NOT_A_TABLE.format(location=location, interval=interval, name=relative))
        parts.append(found)
    if not parts:
        raise BadInputError(ERR_EMPTY_FOLDER.format(location=location, interval=interval))
    return fs, parts, location


def _read_files(settings: DatasetSettings, root: Path, interval: str, staging: Path) -> IntervalBatch:
    fs, parts, location = _interval_parts(settings, root, interval)
    frames: list[pd.DataFrame] = []
    shown: list[str] = []
    for index, part in enumerate(parts):
        if _is_local(fs):
            local, name = Path(part), part
        else:
            local = staging / f"{index:04d}-{Path(part).name}"
            staging.mkdir(parents=True, exist_ok=True)
            fs.get(part, str(local))
            name = f"{fs.unstrip_protocol(part)}"
        frame = read_table(local)
        if frames and set(frame.columns) != set(frames[0].columns):
            missing = sorted(set(frames[0].columns) - set(frame.columns))
            extra = sorted(set(frame.columns) - set(frames[0].columns))
            raise BadInputError(ERR_COLUMNS_DIFFER.format(file=name, first=shown[0], missing=missing, extra=extra))
        frames.append(frame[list(frames[0].columns)] if frames else frame)
        shown.append(name)
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    note = f"interval {interval}: {len(frame)} rows from {len(parts)} file(s) at {location}"
    return IntervalBatch(frame, shown, note)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# ------------------------------------------------------------------ sql


def _engine(settings: DatasetSettings) -> Any:
    """A SQLAlchemy engine on the URL in ``$url_env`` (no pool: one query per run)."""
    import sqlalchemy  # lazy: only a sql source needs it
    from sqlalchemy.pool import NullPool

    name = settings.sql.url_env
    url = os.environ.get(name)
    if not url:
        raise BadInputError(ERR_NO_URL.format(name=name))
    try:
        return sqlalchemy.create_engine(url, poolclass=NullPool)
    except (sqlalchemy.exc.ArgumentError, sqlalchemy.exc.NoSuchModuleError, ImportError) as e:
        # the parser's message may quote the URL, and so its password: only the kind of problem is said
        raise BadInputError(ERR_BAD_URL.format(name=name, problem=type(e).__name__)) from e


def _query(settings: DatasetSettings, sql: str, start: str, end: str) -> pd.DataFrame:
    import sqlalchemy

    engine = _engine(settings)
    try:
        with engine.connect() as connection:
            result = connection.execute(sqlalchemy.text(sql), {"interval_start": start, "interval_end": end})
            return pd.DataFrame.from_records(result.fetchall(), columns=list(result.keys()))
    except sqlalchemy.exc.SQLAlchemyError as e:
        problem = first_line(getattr(e, "orig", None) or e)
        raise BadInputError(ERR_SQL.format(name=settings.sql.url_env, problem=problem)) from e
    finally:
        engine.dispose()


def _read_sql(settings: DatasetSettings, interval: str) -> IntervalBatch:
    start, end = interval_bounds(interval)
    frame = _query(settings, str(settings.sql.query), start, end)
    if frame.empty:
        raise BadInputError(ERR_SQL_EMPTY.format(interval=interval, start=start, end=end))
    if settings.time_column not in frame.columns:
        raise BadInputError(ERR_SQL_NO_COLUMN.format(column=settings.time_column, columns=list(frame.columns)))
    origin = f"dataset.sql.query on ${settings.sql.url_env}"
    note = f"interval {interval}: {len(frame)} rows from {origin} with interval_start={start}, interval_end={end}"
    return IntervalBatch(frame, [origin], note)


def _latest_sql_time(settings: DatasetSettings) -> pd.Timestamp:
    """The latest decision time the query returns over all time."""
    column = str(settings.time_column)
    frame = _query(settings, str(settings.sql.query), _EARLIEST, _LATEST)
    if column not in frame.columns:
        raise BadInputError(ERR_SQL_NO_COLUMN.format(column=column, columns=list(frame.columns)))
    times = _as_times(frame[column]).dropna()
    if times.empty:
        raise BadInputError(ERR_SQL_NO_TIME.format(column=column))
    return times.max()


# ------------------------------------------------------------------ the interval of every row


def _as_times(values: pd.Series) -> pd.Series:
    """Decision times as naive UTC timestamps (NaT where a value cannot be read)."""
    times = pd.to_datetime(values, errors="coerce", utc=True)
    return times.dt.tz_localize(None)


def _check_inside(frame: pd.DataFrame, column: str, interval: str, origin: str) -> None:
    """Every row's decision time lies in ``[start, end)`` of the interval."""
    if column not in frame.columns:
        return  # the missing configured column is named by require_columns, with every other one
    times = _as_times(frame[column])
    unreadable = int(times.isna().sum())
    if unreadable:
        raise BadInputError(ERR_UNREADABLE_TIME.format(origin=origin, count=unreadable, column=column))
    start, end = interval_bounds(interval)
    outside = (times < pd.Timestamp(start)) | (times >= pd.Timestamp(end))
    if outside.any():
        raise BadInputError(ERR_OUTSIDE_INTERVAL.format(
            origin=origin, count=int(outside.sum()), rows=len(frame), column=column, interval=interval,
            start=start, end=end, first=times.min().date(), last=times.max().date(),
        ))


# ------------------------------------------------------------------ the interval of a run without --interval

NOTHING_NEW = (
    "nothing new in the source: its latest interval {interval} was already {how} ({where}); "
    "name an interval with --interval (and --force to run one again)"
)


def default_interval(settings: DatasetSettings, paths: ProjectPaths) -> tuple[str | None, str]:
    """The interval a run without ``--interval`` processes, and why; None (with the reason) when nothing is new.

    ``files`` and ``sql``: the latest complete interval of the source
    (:func:`latest_interval`) unless it was processed already (its batch is
    in the accepted data, or it was quarantined): intervals before it are
    never picked on their own, since a batch older than the accepted data
    would be refused as stale.  ``file``: the month of the file's latest
    decision time, or without a time column a one-off version named by the
    file's bytes (``data-<12 hex of its SHA-256>``).
    """
    if settings.source in ("files", "sql"):
        latest = latest_interval(settings, paths.root)
        accepted = paths.batches_dir / f"{latest}.parquet"
        if accepted.is_file():
            return None, NOTHING_NEW.format(interval=latest, how="accepted", where=accepted.relative_to(paths.root))
        refused = paths.quarantine_dir / latest
        if refused.is_dir():
            return None, NOTHING_NEW.format(interval=latest, how="refused", where=refused.relative_to(paths.root))
        return latest, f"interval {latest}: the latest complete interval in the source, not processed yet"
    source = Path(str(settings.path))
    source = source if source.is_absolute() else paths.root / source
    frame = read_table(source)
    column = settings.time_column
    if column and column in frame.columns:
        times = _as_times(frame[column]).dropna()
        if not times.empty:
            latest_time = times.max()
            month = f"{latest_time.year:04d}-{latest_time.month:02d}"
            return month, f"interval {month}: the month of the latest {column} in {source.name}"
    name = ONE_OFF_PREFIX + _file_sha256(source)[:12]
    return name, f"interval {name}: a one-off data version named by the bytes of {source.name} (no time column)"
