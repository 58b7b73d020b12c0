"""The one table reader: every file fairgate reads as data goes through :func:`read_table`.

``fairgate run`` (a ``file`` source), ``fairgate check`` and the benchmarks
read CSV and Parquet files here, with the same refusals, each one clear line
naming the file: missing, not a file, another format, empty, a header without
rows, text that is not UTF-8, column names that repeat, or a file the parser
cannot read.
"""

from __future__ import annotations

import codecs
import csv
from pathlib import Path

import pandas as pd

from pipelines.core.arrow_memory import use_system_allocator
from pipelines.core.errors import BadInputError

ERR_NOT_FOUND = "{path}: no such file"
ERR_NOT_A_FILE = "{path}: not a file"
ERR_FORMAT = "{path}: expected a .csv or .parquet file, found {suffix!r}"
ERR_EMPTY_FILE = "{path}: the file is empty (no header, no rows)"
ERR_HEADER_ONLY = "{path}: the file has a header ({count} columns) but no rows"
ERR_NOT_UTF8 = (
    "{path}: not UTF-8 text: byte 0x{byte:02x} at line {line}, byte {column} of that line; re-encode the file as UTF-8"
)
ERR_UNREADABLE = "{path}: cannot be read as {kind}: {problem}"
ERR_DUPLICATE_HEADER = "{path}: column names repeat in the header: {names}"

_UTF8_CHUNK = 1 << 20


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
        The file.

    Returns
    -------
    pandas.DataFrame
        Its rows.

    Raises
    ------
    BadInputError
        Missing, not a file, another format, empty, header only, not UTF-8,
        repeated column names, or not parseable.
    """
    if not path.exists():
        raise BadInputError(ERR_NOT_FOUND.format(path=path))
    if not path.is_file():
        raise BadInputError(ERR_NOT_A_FILE.format(path=path))
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise BadInputError(ERR_FORMAT.format(path=path, suffix=path.suffix))
    if path.stat().st_size == 0:
        raise BadInputError(ERR_EMPTY_FILE.format(path=path))
    use_system_allocator()
    if suffix == ".parquet":
        try:
            frame = pd.read_parquet(path)
        except (OSError, ValueError) as e:
            raise BadInputError(ERR_UNREADABLE.format(path=path, kind="Parquet", problem=first_line(e))) from e
    else:
        frame = _read_csv(path)
    repeated = sorted({str(name) for name in frame.columns[frame.columns.duplicated()]})
    if repeated:
        raise BadInputError(ERR_DUPLICATE_HEADER.format(path=path, names=repeated))
    if frame.empty:
        raise BadInputError(ERR_HEADER_ONLY.format(path=path, count=frame.shape[1]))
    return frame


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, encoding="utf-8-sig", low_memory=False)
    except UnicodeDecodeError as e:
        invalid = _first_invalid_utf8(path)
        if invalid is None:
            raise BadInputError(ERR_UNREADABLE.format(path=path, kind="CSV", problem=first_line(e))) from e
        byte, line, column = invalid
        raise BadInputError(ERR_NOT_UTF8.format(path=path, byte=byte, line=line, column=column)) from e
    except pd.errors.EmptyDataError as e:
        raise BadInputError(ERR_EMPTY_FILE.format(path=path)) from e
    except (pd.errors.ParserError, ValueError, OSError) as e:
        raise BadInputError(ERR_UNREADABLE.format(path=path, kind="CSV", problem=first_line(e))) from e
    with path.open(encoding="utf-8-sig", newline="") as handle:
        header = next(csv.reader(handle), [])
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise BadInputError(ERR_DUPLICATE_HEADER.format(path=path, names=repeated))
    return frame


def first_line(error: BaseException) -> str:
    """The first line of an error's message (its type's name when it has none)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__

