"""Columns encoded once, for every check that reads them.

The audit, the drift statistics and the leakage checks all ask the same
questions of a column: which distinct values it holds, how often each occurs,
which rows are missing, and, for numbers and dates, in which order the values
come.  :class:`EncodedFrame` answers them once per column, when first asked:
one hash pass (``pandas.factorize``) gives every row a dense code, and for the
ordered kinds one sort of the *distinct* values gives every row its dense
rank.  Every statistic after that (value counts, rank AUCs against any
outcome, mutual information, two-sample distances) is a ``numpy.bincount``
over those codes, so no check sorts or hashes a column a second time.

Rows are compared through :meth:`EncodedFrame.repeated_rows` and
:meth:`EncodedFrame.shared_rows`: the values of the chosen columns (raw bits
for numbers and dates, codes for text) are mixed into one 64-bit hash per row;
the hashes are sorted to find the few that repeat, and only those rows are
compared value by value, so the answer is exact (missing equal to missing)
and no hash table of a million keys is ever built.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.core.errors import BadInputError

Kind = Literal["numeric", "categorical", "datetime", "other"]

ERR_UNHASHABLE = (
    "column {column!r} holds values that cannot be compared ({type_name}, e.g. {example}): "
    "fairgate checks flat columns; flatten it or exclude it with a reason"
)
ERR_NO_COLUMN = "no column {column!r} in the frame; found columns {found}"

_GOLDEN_INT = 0x9E3779B97F4A7C15
_GOLDEN = np.uint64(_GOLDEN_INT)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)


def column_kind(series: pd.Series) -> Kind:
    """Return the kind of a column: ``numeric``, ``categorical``, ``datetime`` or ``other``.

    Booleans, strings, objects and categoricals are categorical; integers and
    floats (numpy or nullable) are numeric.

    Parameters
    ----------
    series : pandas.Series
        The column.

    Returns
    -------
    str
        The kind.
    """
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "categorical"
    if pd.api.types.is_numeric_dtype(dtype):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if (
        pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
        or isinstance(dtype, pd.CategoricalDtype)
    ):
        return "categorical"
    return "other"


def naive_utc(series: pd.Series) -> pd.Series:
    """Return a datetime column as naive UTC (tz-aware columns are converted, naive ones kept).

    Parameters
    ----------
    series : pandas.Series
        A datetime column.

    Returns
    -------
    pandas.Series
        The same instants without a time zone.
    """
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return series.dt.tz_convert("UTC").dt.tz_localize(None)
    return series


class EncodedColumn:
    """One column as dense codes over its distinct values.

    Attributes
    ----------
    name : str
        The column name.
    kind : str
        ``numeric``, ``categorical``, ``datetime`` or ``other``.
    ordered : bool
        True for numbers, dates and booleans: their values have an order and
        :attr:`ranks` is defined.
    codes : numpy.ndarray
        ``int32``, one per row: the index of the row's value in
        :attr:`uniques`, ``-1`` when missing.
    uniques : array-like
        The distinct non-missing values, in order of first appearance.
    """

    def __init__(self, name: str, kind: Kind, ordered: bool, codes: np.ndarray, uniques: Any) -> None:
        self.name = name
        self.kind = kind
        self.ordered = ordered
        self.codes = codes
        self.uniques = uniques
        self._counts: np.ndarray | None = None
        self._missing = 0
        self._order: np.ndarray | None = None
        self._ranks: np.ndarray | None = None

    @property
    def rows(self) -> int:
        """Number of rows."""
        return len(self.codes)

    @property
    def n_unique(self) -> int:
        """Number of distinct non-missing values."""
        return len(self.uniques)

    def _count(self) -> tuple[np.ndarray, int]:
        if self._counts is None:
            both = np.bincount(self.codes + 1, minlength=self.n_unique + 1)
            self._counts, self._missing = both[1:], int(both[0])
        return self._counts, self._missing

    @property
    def counts(self) -> np.ndarray:
        """Rows per distinct value, in code order (``int64``)."""
        return self._count()[0]

    @property
    def missing(self) -> int:
        """Number of rows with a missing value."""
        return self._count()[1]

    @property
    def present(self) -> int:
        """Number of rows with a value."""
        return self.rows - self.missing

    @property
    def order(self) -> np.ndarray:
        """Codes sorted by value (ordered kinds only): ``uniques[order]`` is ascending."""
        if not self.ordered:
            raise TypeError(f"column {self.name!r} is {self.kind}: its values have no order")
        if self._order is None:
            self._order = np.argsort(np.asarray(self.uniques), kind="stable")
        return self._order

    @property
    def sorted_uniques(self) -> np.ndarray:
        """The distinct values in ascending order (ordered kinds only)."""
        return np.asarray(self.uniques)[self.order]

    @property
    def sorted_counts(self) -> np.ndarray:
        """Rows per distinct value, in ascending value order (ordered kinds only)."""
        return self.counts[self.order]

    @property
    def ranks(self) -> np.ndarray:
        """Dense rank of each row's value in ascending order, ``-1`` when missing (``int32``)."""
        if self._ranks is None:
            rank_of_code = np.empty(self.n_unique + 1, dtype=np.int32)
            rank_of_code[self.order] = np.arange(self.n_unique, dtype=np.int32)
            rank_of_code[-1] = -1  # code -1 (missing) indexes the last slot
            self._ranks = rank_of_code[self.codes]
        return self._ranks

    def value_counts(self) -> pd.Series:
        """Rows per distinct non-missing value, indexed by value."""
        return pd.Series(self.counts, index=pd.Index(self.uniques, dtype=object), dtype="int64")


def encode_column(series: pd.Series, name: str | None = None) -> EncodedColumn:
    """Encode one column: dense codes, distinct values, kind.

    Parameters
    ----------
    series : pandas.Series
        The column.
    name : str, optional
        Its name (default: ``series.name``).

    Returns
    -------
    EncodedColumn
        The encoding.

    Raises
    ------
    BadInputError
        The column holds values that cannot be hashed (lists, dicts).
    """
    label = str(series.name if name is None else name)
    kind = column_kind(series)
    ordered = kind in ("numeric", "datetime") or pd.api.types.is_bool_dtype(series.dtype)
    if _arrow_text(series):
        codes, uniques = _arrow_codes(series)
        return EncodedColumn(label, kind, ordered, codes, uniques)
    values: Any = series
    if kind == "datetime":
        values = naive_utc(series).to_numpy()
    elif kind == "numeric" and not isinstance(series.dtype, np.dtype):
        values = series.to_numpy(dtype="float64", na_value=np.nan)
    try:
        codes, uniques = pd.factorize(values)
    except TypeError as e:
        example = next((v for v in series.dropna() if not _hashable(v)), None)
        raise BadInputError(
            ERR_UNHASHABLE.format(column=label, type_name=type(example).__name__, example=repr(example)[:60])
        ) from e
    if ordered and not isinstance(uniques, np.ndarray):
        uniques = np.asarray(uniques)
    return EncodedColumn(label, kind, ordered, codes.astype(np.int32, copy=False), uniques)


def _arrow_text(values: Any) -> bool:
    dtype = getattr(values, "dtype", None)
    return isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"


def _arrow_array(values: Any) -> Any:
    """The Arrow array behind Arrow-backed pandas text, as one chunk of ``large_string``."""
    array = values.array.__arrow_array__() if isinstance(values, pd.Series | pd.Index) else values.__arrow_array__()
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return array.cast(pa.large_string())


def _arrow_codes(series: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Codes and distinct values of Arrow-backed text by Arrow's own dictionary encoding (no Python objects)."""
    encoded = pc.dictionary_encode(_arrow_array(series))
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int32, copy=False)
    uniques = pd.Index(pd.array(encoded.dictionary, dtype=series.dtype))
    return codes, uniques


def values_in(values: Any, known: Any) -> np.ndarray:
    """Boolean mask: each of ``values`` occurs in ``known`` (one hash pass, missing never matches).

    Arrow-backed text goes through ``pyarrow.compute.is_in`` (pandas would test
    it value by value in Python); anything else through ``pandas.Index.isin``.

    Parameters
    ----------
    values, known : array-like
        Distinct values, typically :attr:`EncodedColumn.uniques` of two frames.

    Returns
    -------
    numpy.ndarray
        ``bool``, one per value.
    """
    left, right = pd.Index(values), pd.Index(known)
    if _arrow_text(left) and _arrow_text(right):
        found = pc.is_in(_arrow_array(left), value_set=_arrow_array(right), skip_nulls=True)
        return np.asarray(pc.fill_null(found, False).to_numpy(zero_copy_only=False), dtype=bool)
    return np.asarray(left.isin(right), dtype=bool)


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """The distinct values, ascending, by one sort (numpy's ``unique`` builds a hash table, slower at scale)."""
    ordered = np.sort(values)
    if len(ordered) < 2:
        return ordered
    keep = np.empty(len(ordered), dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def sorted_contains(ordered: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Boolean mask: each of ``values`` occurs in the ascending, distinct ``ordered`` (binary search)."""
    if len(ordered) == 0:
        return np.zeros(len(values), dtype=bool)
    positions = np.minimum(np.searchsorted(ordered, values), len(ordered) - 1)
    return np.asarray(ordered[positions] == values)


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _mix(state: np.ndarray) -> None:
    """splitmix64's finaliser, in place on a ``uint64`` array (wrapping arithmetic)."""
    state ^= state >> np.uint64(30)
    state *= _MIX_1
    state ^= state >> np.uint64(27)
    state *= _MIX_2
    state ^= state >> np.uint64(31)


class EncodedFrame:
    """A frame whose columns are encoded on first use and kept for every later check.

    Parameters
    ----------
    frame : pandas.DataFrame
        The data; it is not copied and must not change while encoded.
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self._columns: dict[str, EncodedColumn] = {}
        self._row_hashes: dict[tuple[str, ...], np.ndarray] = {}

    @property
    def rows(self) -> int:
        """Number of rows."""
        return len(self.frame)

    def __contains__(self, name: object) -> bool:
        return name in self.frame.columns

    def __iter__(self) -> Iterator[str]:
        return iter(self.frame.columns)

    def __getitem__(self, name: str) -> EncodedColumn:
        encoded = self._columns.get(name)
        if encoded is None:
            if name not in self.frame.columns:
                raise KeyError(ERR_NO_COLUMN.format(column=name, found=list(self.frame.columns)))
            encoded = encode_column(self.frame[name], name)
            self._columns[name] = encoded
        return encoded

    def _hash_input(self, name: str) -> np.ndarray:
        """64 bits per row that are equal exactly when the row's values are: raw bits or codes."""
        encoded = self._columns.get(name)
        if encoded is None:
            series = self.frame[name]
            dtype = series.dtype
            if isinstance(dtype, np.dtype) and dtype.kind in "biu":
                return series.to_numpy().astype(np.uint64)
            if isinstance(dtype, np.dtype) and dtype.kind == "f":
                values = series.to_numpy(dtype=np.float64, copy=True)
                values[values == 0.0] = 0.0  # -0.0 equals 0.0
                values[np.isnan(values)] = np.nan  # one bit pattern for every missing value
                return values.view(np.uint64)
            if isinstance(dtype, np.dtype) and dtype.kind == "M":
                return series.to_numpy().view(np.int64).astype(np.uint64)  # NaT is one value
            encoded = self[name]
        return encoded.codes.astype(np.uint64)  # -1 (missing) wraps to a value of its own

    def row_hashes(self, columns: Sequence[str]) -> np.ndarray:
        """One 64-bit hash per row of its values on ``columns`` (equal rows, equal hashes).

        Parameters
        ----------
        columns : sequence of str
            The columns hashed.

        Returns
        -------
        numpy.ndarray
            ``uint64``, one per row.
        """
        key = tuple(columns)
        cached = self._row_hashes.get(key)
        if cached is not None:
            return cached
        state = np.full(self.rows, _GOLDEN, dtype=np.uint64)
        for position, name in enumerate(key):
            values = self._hash_input(name)
            values += np.uint64(((position + 1) * _GOLDEN_INT) % 2**64)
            state += values
            _mix(state)
        self._row_hashes[key] = state
        return state

    def _exact_groups(self, columns: Sequence[str], rows: np.ndarray) -> np.ndarray:
        """Group number of each of ``rows`` by its exact values (missing equal to missing)."""
        subset = self.frame.iloc[rows][list(columns)]
        return np.asarray(subset.groupby(list(columns), sort=False, dropna=False).ngroup().to_numpy())

    def repeated_rows(self, columns: Sequence[str]) -> np.ndarray:
        """Boolean mask: the row's values on ``columns`` occur on another row too (exactly).

        One column is compared through its codes.  Several are hashed; the
        rows whose hash repeats (found by sorting the hashes) are then
        compared value by value, so a hash collision never makes a duplicate.

        Parameters
        ----------
        columns : sequence of str
            The columns compared.

        Returns
        -------
        numpy.ndarray
            ``bool``, one per row.
        """
        if len(columns) == 1:
            shifted = self[columns[0]].codes + 1
            return np.bincount(shifted)[shifted] > 1
        hashes = self.row_hashes(columns)
        ordered = np.sort(hashes)
        repeated_hashes = sorted_unique(ordered[1:][ordered[1:] == ordered[:-1]])
        candidates = np.flatnonzero(sorted_contains(repeated_hashes, hashes))
        repeated = np.zeros(self.rows, dtype=bool)
        if len(candidates):
            groups = self._exact_groups(columns, candidates)
            repeated[candidates] = np.bincount(groups)[groups] > 1
        return repeated

    def shared_rows(self, columns: Sequence[str], side: np.ndarray) -> np.ndarray:
        """Boolean mask: the row's values on ``columns`` occur on both sides of ``side`` (exactly).

        Parameters
        ----------
        columns : sequence of str
            The columns compared (an entity id, or every column of a row).
        side : numpy.ndarray
            Boolean mask splitting the rows in two (the test rows, say).

        Returns
        -------
        numpy.ndarray
            ``bool``, one per row, for rows of either side.
        """
        if len(columns) == 1:
            shifted = self[columns[0]].codes + 1
            size = self[columns[0]].n_unique + 1
            on_side = np.bincount(shifted[side], minlength=size) > 0
            off_side = np.bincount(shifted[~side], minlength=size) > 0
            return (on_side & off_side)[shifted]
        hashes = self.row_hashes(columns)
        both = np.sort(np.concatenate([sorted_unique(hashes[side]), sorted_unique(hashes[~side])]))
        common = both[1:][both[1:] == both[:-1]]  # distinct on each side: a value twice is on both
        candidates = np.flatnonzero(sorted_contains(common, hashes))
        shared = np.zeros(self.rows, dtype=bool)
        if len(candidates):
            groups = self._exact_groups(columns, candidates)
            size = int(groups.max()) + 1
            on_side = np.bincount(groups[side[candidates]], minlength=size) > 0
            off_side = np.bincount(groups[~side[candidates]], minlength=size) > 0
            shared[candidates] = (on_side & off_side)[groups]
        return shared
