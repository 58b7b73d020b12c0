"""A byte scan of a CSV file that clears a regular one fast: every record as wide as the header, no long field.

:func:`pipelines.core.tables.read_table` must refuse a ragged CSV row
(pandas fills a row with fewer fields with missing values, silently) and a
field longer than the csv module's limit.  Reading every record with the csv
module would cost about three times the pandas read (a Python list of
strings per row); this scan works on the bytes with numpy, in chunks, and
only *clears* a file: when it cannot (a record of another width, a field that
may be too long, a quote it does not read the way the csv module does), the
caller reads the file again with the csv module, which decides and names the
line.  So this scan never refuses anything itself, and a mistake in it can
only cost time, never accept what the csv module would refuse: see the
conditions below.

It reads the csv module's default dialect (``,`` delimiter, ``"`` quote,
doubled quotes inside a quoted field, no escape character).  A byte is inside
quotes when an odd number of quotes precede it; that is how the csv module
reads it as long as every opening quote starts a field (after a delimiter, a
newline, the start of the file, or the closing quote of a doubled pair) and
every closing quote ends one (before a delimiter, a line end, or another
quote).  Any other quote sends the file to the csv module.  UTF-8 bytes of
characters beyond ASCII are all at least 0x80, so they are never taken for
a delimiter, a quote or a newline.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_CHUNK = 1 << 20
_COMMA, _QUOTE, _NEWLINE, _RETURN = 44, 34, 10, 13


@dataclass
class _ScanState:
    """What carries over from one chunk to the next."""

    offset: int = 0  # file offset of the chunk's first byte
    inside: int = 0  # 1 when the chunk starts inside quotes
    previous: int = _NEWLINE  # the byte before the chunk (the start of the file reads as after a newline)
    last_newline: int = -1  # file offset of the last newline outside quotes
    commas: int = 0  # delimiters so far in the record not yet ended
    width: int = 0  # fields of the header


def records_look_regular(path: Path, limit: int, width: int) -> bool:
    """Whether the scan clears the file: every non-blank record has ``width`` fields, none over ``limit`` bytes.

    Parameters
    ----------
    path : pathlib.Path
        A UTF-8 CSV file (a byte order mark is skipped).
    limit : int
        The longest field allowed, in characters (compared with bytes, which
        are never fewer: a field cleared here is within the limit).
    width : int
        The header's number of fields.

    Returns
    -------
    bool
        True when the file is regular; False when the csv module must read
        it to decide (False is never a refusal): a record of another width,
        a record longer than ``limit`` bytes, a quote read otherwise.
    """
    state = _ScanState(width=width)
    with path.open("rb") as handle:
        data = handle.read(_CHUNK)
        if data.startswith(codecs.BOM_UTF8):
            data = data[len(codecs.BOM_UTF8) :]
            state.offset = len(codecs.BOM_UTF8)
            state.last_newline = state.offset - 1
        while data:
            following = handle.read(_CHUNK)
            if not _chunk_is_regular(np.frombuffer(data, dtype=np.uint8), following[:1], limit, state):
                return False
            data = following
    return _end_is_regular(state, limit)


def _chunk_is_regular(chunk: np.ndarray, following: bytes, limit: int, state: _ScanState) -> bool:
    """Scan one chunk; update ``state``; False as soon as the chunk is not cleared.

    A record longer than ``limit`` bytes is not cleared (its fields may be
    within the limit; the csv module then says): a record within it cannot
    hold a longer field, so only record ends and delimiters are located.
    """
    quote = chunk == _QUOTE
    if state.inside or quote.any():
        # inside quotes after each byte: the parity of the quotes so far (a uint8 sum wraps, its parity stays)
        inside = (np.cumsum(quote, dtype=np.uint8) + np.uint8(state.inside)) & 1
        if not _quotes_are_plain(chunk, quote, inside, following, state.previous):
            return False
        outside = inside == 0
        newline, comma = (chunk == _NEWLINE) & outside, (chunk == _COMMA) & outside
        state.inside = int(inside[-1])
    else:
        newline, comma = chunk == _NEWLINE, chunk == _COMMA
    ends = np.flatnonzero(newline)
    if ends.size:
        ending = ends + state.offset
        lengths = np.diff(ending, prepend=state.last_newline) - 1
        if int(lengths.max()) > limit:
            return False
        starts = np.concatenate(([0], ends[:-1] + 1))
        commas = np.add.reduceat(comma, starts, dtype=np.int64)
        pending = int(np.count_nonzero(comma[ends[-1] + 1 :]))
        commas[-1] -= pending
        commas[0] += state.commas
        before = np.where(ends > 0, chunk[ends - 1], state.previous)
        blank = (commas == 0) & ((lengths == 0) | ((lengths == 1) & (before == _RETURN)))
        if np.any(commas[~blank] + 1 != state.width):
            return False
        state.commas = pending
        state.last_newline = int(ending[-1])
    else:
        state.commas += int(np.count_nonzero(comma))
    state.offset += int(chunk.size)
    state.previous = int(chunk[-1])
    return state.offset - 1 - state.last_newline <= limit


def _quotes_are_plain(
    chunk: np.ndarray, quote: np.ndarray, inside: np.ndarray, following: bytes, previous: int
) -> bool:
    """Every opening quote starts a field and every closing quote ends one (see the module's docstring)."""
    where = np.flatnonzero(quote)
    if not where.size:
        return True
    before = np.where(where > 0, chunk[where - 1], previous)
    after_index = where + 1
    next_byte = following[0] if following else _NEWLINE
    after = np.where(after_index < chunk.size, chunk[np.minimum(after_index, chunk.size - 1)], next_byte)
    opening = inside[where] == 1
    opens_a_field = (before == _COMMA) | (before == _NEWLINE) | (before == _QUOTE)
    ends_a_field = (after == _COMMA) | (after == _NEWLINE) | (after == _RETURN) | (after == _QUOTE)
    return bool(np.all(np.where(opening, opens_a_field, ends_a_field)))


def _end_is_regular(state: _ScanState, limit: int) -> bool:
    """The last record, when the file does not end with a newline; a quote left open is not cleared."""
    if state.inside:
        return False
    length = state.offset - 1 - state.last_newline
    if length <= 0 or (length == 1 and state.previous == _RETURN and state.commas == 0):
        return True
    return state.commas + 1 == state.width
