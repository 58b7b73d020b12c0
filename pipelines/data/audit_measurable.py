"""What the data must hold before anything can be measured on it: finite numbers, two groups per sensitive attribute.

Two parts of the audit's plan (:func:`pipelines.data.audit_expectations.plan_expectations`),
both blocking:

- **finite numbers**: ``inf`` or ``-inf`` in a numeric column (CSV text
  ``inf``, ``-inf``, ``Infinity``; a Parquet float) is not a measurement; every
  mean, range, weight and drift statistic over it is infinite or undefined.
  The values are counted here with numpy, per column and per sign; Great
  Expectations checks the per-row flag (the ``derived`` table), so the Data
  Docs show the expectation like every other.
- **groups to compare**: fairness is measured *between* the groups of a
  sensitive attribute; with a single group (every row ``sex == "female"``, or
  one group once missing values are left out) or none (the attribute missing
  on every row) it cannot be measured, and a model trained on it would pass
  every ethical gate for want of a comparison.  Great Expectations counts the
  distinct non-null values; the reader names the one group.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pipelines.data.audit_values import native
from pipelines.data.columns import EncodedColumn, column_kind
from pipelines.data.great_expectations_run import PlannedExpectation

DERIVED_INFINITE = "row_has_infinite_value"

EXPECTED_FINITE = "finite numbers in every numeric column (no inf or -inf)"
FOUND_FINITE = "none infinite"
FOUND_INFINITE = "{column!r}: {rows} row(s) infinite ({positive} inf, {negative} -inf)"
EXPECTED_GROUPS = "at least two groups of {column!r} to compare (fairness is measured between groups)"
FOUND_ONE_GROUP = "a single group {group!r} ({rows} rows){missing}: fairness between groups cannot be measured"
FOUND_NO_GROUP = "no group: {column!r} is missing on every row ({rows} rows): fairness cannot be measured"
FOUND_GROUPS = "{count} groups"
MISSING_ROWS = ", missing on {count} other row(s)"


def infinite_counts(batch: pd.DataFrame, columns: list[str]) -> tuple[dict[str, tuple[int, int]], np.ndarray]:
    """Per numeric column holding infinities, (rows of inf, rows of -inf); and the per-row flag.

    Parameters
    ----------
    batch : pandas.DataFrame
        The table audited.
    columns : list of str
        The columns looked at (the audited ones); only floating-point ones can hold an infinity.

    Returns
    -------
    counts : dict
        ``{column: (inf rows, -inf rows)}`` for each column holding at least one.
    flag : numpy.ndarray
        Boolean per row: some looked-at column is infinite on it.
    """
    flag = np.zeros(len(batch), dtype=bool)
    counts: dict[str, tuple[int, int]] = {}
    for column in columns:
        series = batch[column]
        if column_kind(series) != "numeric" or not pd.api.types.is_float_dtype(series.dtype):
            continue
        values = series.to_numpy(dtype="float64", na_value=np.nan)
        positive, negative = values == np.inf, values == -np.inf
        if positive.any() or negative.any():
            counts[column] = (int(positive.sum()), int(negative.sum()))
            flag |= positive | negative
    return counts, flag


def plan_finite(counts: dict[str, tuple[int, int]]) -> PlannedExpectation:
    """No row infinite in any numeric column (on the ``derived`` flag :data:`DERIVED_INFINITE`)."""
    # lazy: great_expectations takes about 2 s to import; only an audit that runs pays for it
    import great_expectations.expectations as gxe

    def read(result: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        if not counts:
            return FOUND_FINITE, {}
        found = "; ".join(
            FOUND_INFINITE.format(column=c, rows=p + n, positive=p, negative=n) for c, (p, n) in counts.items()
        )
        rows = int(result.get("unexpected_count", 0) or 0)
        evidence = {"rows": rows, "columns": {c: {"inf": p, "-inf": n} for c, (p, n) in counts.items()}}
        return found, evidence

    return PlannedExpectation(
        "infinite_values",
        list(counts),
        gxe.ExpectColumnValuesToBeInSet(column=DERIVED_INFINITE, value_set=[False]),
        EXPECTED_FINITE,
        read,
        asset="derived",
    )


def plan_two_groups(column: str, here: EncodedColumn, rows: int) -> PlannedExpectation:
    """At least two groups (distinct non-null values) of the sensitive attribute ``column``."""
    # lazy: great_expectations takes about 2 s to import; only an audit that runs pays for it
    import great_expectations.expectations as gxe

    groups = [native(v) for v in here.uniques]
    missing = rows - here.present

    def read(result: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        evidence = {"groups": groups, "rows": rows, "missing_rows": missing}
        if not groups:
            return FOUND_NO_GROUP.format(column=column, rows=rows), evidence
        if len(groups) == 1:
            shown_missing = MISSING_ROWS.format(count=missing) if missing else ""
            return FOUND_ONE_GROUP.format(group=groups[0], rows=here.present, missing=shown_missing), evidence
        return FOUND_GROUPS.format(count=len(groups)), evidence

    return PlannedExpectation(
        "sensitive_groups",
        [column],
        gxe.ExpectColumnUniqueValueCountToBeBetween(column=column, min_value=2),
        EXPECTED_GROUPS.format(column=column),
        read,
    )
