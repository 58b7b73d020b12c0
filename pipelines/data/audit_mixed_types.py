"""Mixed types: a text column that mostly holds numbers, or values of several Python types.

One part of the data audit (:func:`pipelines.data.audit.audit_dataset`) that
needs no reference: either problem is one blocking ``mixed_types`` finding.
Both are read from the column's distinct values and their counts (its
encoding), never from every row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from pipelines.core.findings import Finding
from pipelines.data.audit_values import native, percent
from pipelines.data.columns import EncodedColumn, EncodedFrame, column_kind


def _type_family(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return "bool"
    if isinstance(value, int | float | np.number):
        return "number"
    if isinstance(value, str):
        return "str"
    return type(value).__name__


def find_mixed_types(
    batch: pd.DataFrame, encoded: EncodedFrame, columns: Sequence[str], min_numeric_share: float
) -> list[Finding]:
    """Find text columns that mostly hold numbers, or hold values of several Python types.

    Parameters
    ----------
    batch : pandas.DataFrame
        The table audited.
    encoded : EncodedFrame
        Its encoding (distinct values and their counts per column).
    columns : sequence of str
        The columns checked (the audited columns but the ids).
    min_numeric_share : float
        A text column whose share of number-like values is at least this, but
        not all, holds numbers written as text
        (``audit.mixed_types_min_numeric_share``).

    Returns
    -------
    list of Finding
        One blocking ``mixed_types`` finding per column found, in column order.
    """
    findings = []
    for name in columns:
        series = batch[name]
        if column_kind(series) != "categorical" or pd.api.types.is_bool_dtype(series.dtype):
            continue
        column = encoded[name]
        if column.n_unique == 0:
            continue
        uniques = pd.Index(column.uniques)
        if pd.api.types.is_object_dtype(uniques.dtype):
            families = pd.Series(list(uniques), dtype=object).map(_type_family)
            kinds = sorted(set(families))
            if len(kinds) > 1:
                findings.append(_several_types(name, column, families, kinds))
                continue
            if kinds != ["str"]:
                continue
        finding = _numbers_as_text(name, column, uniques, min_numeric_share)
        if finding is not None:
            findings.append(finding)
    return findings


def _several_types(name: str, column: EncodedColumn, families: pd.Series, kinds: list[str]) -> Finding:
    """The finding for a column holding values of several Python types, with the rows of each."""
    per_kind = {k: int(column.counts[(families == k).to_numpy()].sum()) for k in kinds}
    return Finding(
        check="mixed_types",
        severity="block",
        columns=[name],
        message=f"values of {name!r} of one type; found "
        + ", ".join(f"{kind} in {rows} rows" for kind, rows in per_kind.items()),
        evidence={"rows_per_type": per_kind},
    )


def _numbers_as_text(name: str, column: EncodedColumn, uniques: pd.Index, threshold: float) -> Finding | None:
    """The finding for a text column whose share of number-like values is in ``[threshold, 1)``, else None."""
    numeric = pd.to_numeric(pd.Series(uniques.astype(str), dtype=object), errors="coerce").notna().to_numpy()
    numeric_rows = int(column.counts[numeric].sum())
    share = numeric_rows / column.present
    if not threshold <= share < 1.0:
        return None
    text = np.flatnonzero(~numeric)
    text = text[np.argsort(-column.counts[text], kind="stable")][:5]
    examples = [native(uniques[i]) for i in text]
    return Finding(
        check="mixed_types",
        severity="block",
        columns=[name],
        message=(
            f"{name!r} all numbers, or text with under {percent(threshold)} of values numbers; "
            f"found {percent(share)} of its values numbers and the rest text, e.g. {examples}"
        ),
        evidence={
            "numeric_share": share,
            "text_rows": column.present - numeric_rows,
            "text_examples": examples,
        },
    )
