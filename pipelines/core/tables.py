"""The one table reader: every file fairgate reads as data goes through :func:`read_table`.

``fairgate run`` (``file`` and ``files`` sources), ``fairgate check`` and the
benchmarks read CSV and Parquet files here, with the same refusals, each one clear line
naming the file: missing, not a file, another format, empty, a header without
rows, text that is not UTF-8, column names that repeat, a CSV field longer than
the csv module's limit, a CSV row whose number of fields is not the header's
(pandas refuses a row with more fields but fills a row with fewer with
missing values, so every record is counted here first), or a file the parser
cannot read.

A compressed CSV (``.csv.gz``, ``.csv.bz2``, ``.csv.xz``, or a ``.zip`` holding
one file) is decompressed into a temporary plain file first, and that file
goes through every check above: a compressed file gets exactly the refusals
of the plain CSV it holds, with the same line numbers, named by the
compressed file's path.
"""

from __future__ import annotations

import bz2
import codecs
import csv
import gzip
import lzma
import shutil
import tempfile
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.core.arrow_memory import use_system_allocator
from pipelines.core.csv_scan import records_look_regular as _records_look_regular
from pipelines.core.errors import BadInputError

ERR_NOT_FOUND = "{path}: no such file"
ERR_NOT_A_FILE = "{path}: not a file"
ERR_FORMAT = (
    "{path}: expected a .csv or .parquet file (a CSV may be compressed: .csv.gz, .csv.bz2, .csv.xz, .zip), "
    "found {suffix!r}"
)
ERR_COMPRESSED = "{path}: cannot be decompressed as {kind}: {problem}"
ERR_ZIP_MEMBERS = "{path}: a .zip must hold exactly one CSV file, found {count} file(s): {names}"
ERR_EMPTY_FILE = "{path}: the file is empty (no header, no rows)"
ERR_HEADER_ONLY = "{path}: the file has a header ({count} columns) but no rows"
ERR_NOT_UTF8 = (
    "{path}: not UTF-8 text: byte 0x{byte:02x} at line {line}, byte {column} of that line; re-encode the file as UTF-8"
)
ERR_UNREADABLE = "{path}: cannot be read as {kind}: {problem}"
ERR_DUPLICATE_HEADER = "{path}: column names repeat in the header: {names}"
ERR_FIELD_TOO_LARGE = "{path}: line {line} holds a field longer than the csv module's limit of {limit} characters"
ERR_RAGGED_ROW = (
    "{path}: line {line} has {found} field(s) where the header has {expected} ({count} such row(s) in the file)"
)
ERR_CSV_SYNTAX = "{path}: line {line}: {problem}"

_UTF8_CHUNK = 1 << 20
_COPY_CHUNK = 1 << 20
# compressed CSV: the suffixes after ".csv" (".zip" alone) and how each is opened
_COMPRESSIONS: dict[str, tuple[str, Callable[..., Any]]] = {
    ".gz": ("gzip", gzip.open),
    ".bz2": ("bzip2", bz2.open),
    ".xz": ("xz", lzma.open),
}


def _first_invalid_utf8(path: Path) -> tuple[int, int, int] | None:
    """Find the first byte that is not UTF-8: (byte, line, position in the line), or None."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines_before, line_start, consumed = 0, 0, 0
    with path.open("rb") as handle:
        while True:
            chunk = handle.read(_UTF8_CHUNK)
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as e:
                data = e.object
                pending = len(data) - len(chunk)  # bytes of an unfinished character from the last chunk
                head = bytes(data[: e.start])
                line = lines_before + head.count(b"\n") + 1
                start = consumed - pending + head.rfind(b"\n") + 1 if b"\n" in head else line_start
                offset = consumed - pending + e.start
                return data[e.start], line, offset - start + 1
            if not chunk:
                return None
            newlines = chunk.count(b"\n")
            if newlines:
                line_start = consumed + chunk.rfind(b"\n") + 1
            lines_before += newlines
            consumed += len(chunk)


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV (UTF-8) or Parquet file; one clear line when it cannot be.

    Parameters
    ----------
    path : pathlib.Path
        The file: ``.csv`` (or ``.csv.gz``, ``.csv.bz2``, ``.csv.xz``, a
        ``.zip`` holding one CSV) or ``.parquet``.

    Returns
    -------
    pandas.DataFrame
        Its rows.

    Raises
    ------
    BadInputError
        Missing, not a file, another format, empty, header only, not UTF-8,
        repeated column names, a ragged row, a compressed file that cannot be
        decompressed, or not parseable.
    """
    if not path.exists():
        raise BadInputError(ERR_NOT_FOUND.format(path=path))
    if not path.is_file():
        raise BadInputError(ERR_NOT_A_FILE.format(path=path))
    kind = table_kind(path)
    if kind is None:
        raise BadInputError(ERR_FORMAT.format(path=path, suffix="".join(path.suffixes[-2:]) or path.name))
    if path.stat().st_size == 0:
        raise BadInputError(ERR_EMPTY_FILE.format(path=path))
    use_system_allocator()
    if kind == "parquet":
        try:
            frame = pd.read_parquet(path)
        except (OSError, ValueError) as e:
            raise BadInputError(ERR_UNREADABLE.format(path=path, kind="Parquet", problem=first_line(e))) from e
    elif kind == "csv":
        frame = _read_csv(path, path)
    else:
        with tempfile.TemporaryDirectory(prefix="fairgate-csv-") as folder:
            plain = _decompressed(path, kind, Path(folder) / "table.csv")
            if plain.stat().st_size == 0:
                raise BadInputError(ERR_EMPTY_FILE.format(path=path))
            frame = _read_csv(plain, path)
    repeated = sorted({str(name) for name in frame.columns[frame.columns.duplicated()]})
    if repeated:
        raise BadInputError(ERR_DUPLICATE_HEADER.format(path=path, names=repeated))
    if frame.empty:
        raise BadInputError(ERR_HEADER_ONLY.format(path=path, count=frame.shape[1]))
    return frame


def table_kind(path: Path) -> str | None:
    """What :func:`read_table` reads ``path`` as: ``parquet``, ``csv``, ``.gz``/``.bz2``/``.xz``/``.zip``, or None."""
    name = path.name.lower()
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith(".csv"):
        return "csv"
    if name.endswith(".zip"):
        return ".zip"
    for suffix in _COMPRESSIONS:
        if name.endswith(".csv" + suffix):
            return suffix
    return None


def _decompressed(path: Path, kind: str, plain: Path) -> Path:
    """Decompress ``path`` into ``plain`` (streamed, chunk by chunk); one line naming ``path`` when it cannot be."""
    label = "zip" if kind == ".zip" else _COMPRESSIONS[kind][0]
    try:
        if kind == ".zip":
            with zipfile.ZipFile(path) as archive:
                members = [m for m in archive.infolist() if not m.is_dir()]
                if len(members) != 1:
                    names = ", ".join(m.filename for m in members) or "none"
                    raise BadInputError(ERR_ZIP_MEMBERS.format(path=path, count=len(members), names=names))
                with archive.open(members[0]) as source, plain.open("wb") as target:
                    shutil.copyfileobj(source, target, _COPY_CHUNK)
        else:
            with _COMPRESSIONS[kind][1](path, "rb") as source, plain.open("wb") as target:
                shutil.copyfileobj(source, target, _COPY_CHUNK)
    except (OSError, EOFError, zlib.error, lzma.LZMAError, zipfile.BadZipFile) as e:
        raise BadInputError(ERR_COMPRESSED.format(path=path, kind=label, problem=first_line(e))) from e
    return plain


def _read_csv(path: Path, shown: Path) -> pd.DataFrame:
    """Read the plain CSV ``path``; every message names ``shown`` (the compressed file it came from, if any)."""
    try:
        header = _checked_header(path, shown)
        frame = pd.read_csv(path, encoding="utf-8-sig", low_memory=False)
    except UnicodeDecodeError as e:
        invalid = _first_invalid_utf8(path)
        if invalid is None:
            raise BadInputError(ERR_UNREADABLE.format(path=shown, kind="CSV", problem=first_line(e))) from e
        byte, line, column = invalid
        raise BadInputError(ERR_NOT_UTF8.format(path=shown, byte=byte, line=line, column=column)) from e
    except pd.errors.EmptyDataError as e:
        raise BadInputError(ERR_EMPTY_FILE.format(path=shown)) from e
    except (pd.errors.ParserError, ValueError, OSError) as e:
        raise BadInputError(ERR_UNREADABLE.format(path=shown, kind="CSV", problem=first_line(e))) from e
    repeated = sorted(name for name, times in Counter(header).items() if times > 1)
    if repeated:
        raise BadInputError(ERR_DUPLICATE_HEADER.format(path=shown, names=repeated))
    return frame


def _is_blank(record: list[str]) -> bool:
    """A record pandas skips: an empty line, or a line of whitespace only."""
    return not record or (len(record) == 1 and not record[0].strip())


def _checked_header(path: Path, shown: Path) -> list[str]:
    """Check every CSV record's number of fields and length; return the header ([] when there is none).

    A byte scan (:func:`_records_look_regular`, numpy, about a quarter of
    the pandas read) clears a regular file.  Anything it cannot clear (a
    record of another width, a field that may be over the limit, a quote it
    does not read the way the csv module does) is read again by the csv
    module, which decides and names the line.
    """
    limit = csv.field_size_limit()
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        with _csv_errors(shown, reader, limit):
            header = next((record for record in reader if not _is_blank(record)), [])
    if header and not _records_look_regular(path, limit, len(header)):
        _refuse_irregular(path, shown, len(header), limit)
    return header


@contextmanager
def _csv_errors(path: Path, reader: Any, limit: int) -> Iterator[None]:
    """Turn the csv module's errors into one line naming the file and the line."""
    try:
        yield
    except csv.Error as e:
        if "field larger than field limit" in str(e):
            raise BadInputError(ERR_FIELD_TOO_LARGE.format(path=path, line=reader.line_num, limit=limit)) from e
        raise BadInputError(ERR_CSV_SYNTAX.format(path=path, line=reader.line_num, problem=first_line(e))) from e


def _refuse_irregular(path: Path, shown: Path, expected: int, limit: int) -> None:
    """Read every record with the csv module; refuse the first of another width (1-based line of its start)."""
    first: tuple[int, int] | None = None
    count = 0
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        with _csv_errors(shown, reader, limit):
            next((record for record in reader if not _is_blank(record)), [])
            start = reader.line_num + 1
            for record in reader:
                if len(record) != expected and not _is_blank(record):
                    count += 1
                    if first is None:
                        first = (start, len(record))
                start = reader.line_num + 1
    if first is not None:
        line, found = first
        raise BadInputError(ERR_RAGGED_ROW.format(path=shown, line=line, found=found, expected=expected, count=count))


def first_line(error: BaseException) -> str:
    """The first line of an error's message (its type's name when it has none)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
