"""Data audit: a Great Expectations 1.x suite built from the configuration and the reference data.

``audit_dataset`` compares the newly ingested batch with the earlier data it
extends (the *reference*).  Expectations come from two places: the dataset
settings (which columns must exist, the label's classes and rate, the size of
every sensitive group, unique ids) and a profile of the reference (column
kinds, numeric ranges from quantiles, categorical domains, the ids already
seen).  The suite runs in an ephemeral Great Expectations context on a pandas
data source; every failed expectation becomes one blocking ``Finding`` (a
shift of a sensitive group's share is a warning).

Great Expectations takes about two seconds to import, so it is imported when
an audit runs, never when this module is imported.
"""

from __future__ import annotations

import html
import json
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from pipelines.config import AuditSettings, DatasetSettings
from pipelines.errors import BadInputError
from pipelines.findings import CheckReport, Finding, Severity

logger = logging.getLogger(__name__)

ERR_EMPTY_BATCH = "the batch is empty: expected at least one row, found 0"
ERR_EMPTY_REFERENCE = (
    "the reference is empty: expected earlier rows to compare with (None on a first run), found 0"
)
ERR_COLUMN_NAMES = "column names must be strings, found {found}"
ERR_MISSING_COLUMNS = "the {table} lacks configured columns {missing}; found columns {found}"
ERR_SINGLE_CLASS = "target {target!r} must hold two classes, found a single class {value!r} in the batch"
ERR_NOT_BINARY = "target {target!r} must hold two classes, found {count} in the {table}: {values}"
ERR_POSITIVE_LABEL = (
    "positive_label {label!r} must be one of the classes of target {target!r}, found {values}"
)
ERR_EXPECTATION_FAILED = "great expectations could not evaluate {expectation} on {columns}: {problem}"

Kind = Literal["numeric", "categorical", "datetime", "other"]

# Type names per kind for the view Great Expectations validates (see ``_ge_view``).
# GX compares a numpy dtype with these names, except on object columns, where it
# checks each value: categorical columns are objects holding strings or booleans.
_TYPE_LIST: dict[str, list[str]] = {
    "numeric": [
        "int8",
        "int16",
        "int32",
        "int64",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "float16",
        "float32",
        "float64",
    ],
    "categorical": ["str", "bool"],
    "datetime": ["datetime64[s]", "datetime64[ms]", "datetime64[us]", "datetime64[ns]"],
}
_SHOWN_VALUES = 10
_DERIVED_SEEN_ID = "id_in_reference"


@dataclass
class AuditResult:
    """What the audit found: the stage report and the expectation-by-expectation table.

    Attributes
    ----------
    report : CheckReport
        Stage ``audit``: one finding per failed expectation, notes on what was
        skipped and which exclusions were applied.
    expectations : list of dict
        One JSON-ready row per expectation: ``check``, ``type``, ``columns``,
        ``success``, ``expected``, ``observed``.
    """

    report: CheckReport
    expectations: list[dict[str, Any]] = field(default_factory=list)

    def to_html(self) -> str:
        """Return a self-contained HTML report.

        Returns
        -------
        str
            The verdict, then each finding with what was expected, what was
            found and the columns involved, then the table of expectations.
        """
        return _render_html(self)


@dataclass
class _Planned:
    """One expectation and how to read its result."""

    check: str
    columns: list[str]
    expectation: Any
    expected: str
    describe: Callable[[dict[str, Any]], tuple[str, dict[str, Any]]]
    severity: Severity = "block"
    on_derived: bool = False


def audit_dataset(
    batch: pd.DataFrame,
    reference: pd.DataFrame | None,
    dataset: DatasetSettings,
    settings: AuditSettings,
) -> AuditResult:
    """Audit a newly ingested batch against the configuration and the reference data.

    Parameters
    ----------
    batch : pandas.DataFrame
        The data of this interval.
    reference : pandas.DataFrame or None
        The earlier data the batch is compared with; ``None`` on a first run,
        when only the checks that need no reference run (the notes say which
        were skipped).
    dataset : DatasetSettings
        Column roles: target, time column, ids, sensitive attributes,
        features, exclusions.
    settings : AuditSettings
        Thresholds of the suite.

    Returns
    -------
    AuditResult
        The ``audit`` report and the expectation table.

    Raises
    ------
    BadInputError
        The batch is empty, lacks a configured column, or its target does
        not hold two classes including ``positive_label`` (also when the
        reference is empty or lacks configured columns).
    """
    classes = _validate_inputs(batch, reference, dataset)
    notes = [f"excluded {column}: {reason}" for column, reason in dataset.exclude_columns.items()]
    if reference is None:
        notes.append(
            "first run (no reference): skipped the checks that need one: column types, schema against "
            "the reference, numeric ranges and shifts, categorical domains, ids already seen, "
            "sensitive group share shifts"
        )
    planned, derived, plan_notes = _plan(batch, reference, dataset, settings, classes)
    notes.extend(plan_notes)
    results = _run_great_expectations(_ge_view(batch), derived, planned)

    findings: list[Finding] = []
    rows: list[dict[str, Any]] = []
    for plan, (success, result) in zip(planned, results, strict=True):
        observed, evidence = plan.describe(result)
        rows.append(
            {
                "check": plan.check,
                "type": plan.expectation.expectation_type,
                "columns": list(plan.columns),
                "success": success,
                "expected": plan.expected,
                "observed": observed,
            }
        )
        if not success:
            findings.append(
                Finding(
                    check=plan.check,
                    severity=plan.severity,
                    columns=list(plan.columns),
                    message=f"{plan.expected}; found {observed}",
                    evidence=_json_ready(evidence),
                )
            )
    report = CheckReport(
        stage="audit", rows=len(batch), columns=batch.shape[1], findings=findings, notes=notes
    )
    logger.info("audit: %d expectations, %d failed, verdict %s", len(rows), len(findings), report.verdict)
    return AuditResult(report=report, expectations=rows)


# --------------------------------------------------------------------------- input validation


def _configured_columns(dataset: DatasetSettings) -> list[str]:
    columns = [dataset.target]
    if dataset.time_column:
        columns.append(dataset.time_column)
    columns += dataset.id_columns + dataset.sensitive + (dataset.features or [])
    columns += list(dataset.exclude_columns)
    return list(dict.fromkeys(columns))


def _validate_inputs(
    batch: pd.DataFrame, reference: pd.DataFrame | None, dataset: DatasetSettings
) -> list[Any]:
    """Check what the suite cannot express; return the two target classes."""
    tables: list[tuple[str, pd.DataFrame]] = [("batch", batch)]
    if reference is not None:
        tables.append(("reference", reference))
    for table, frame in tables:
        bad_names = [c for c in frame.columns if not isinstance(c, str)]
        if bad_names:
            raise BadInputError(ERR_COLUMN_NAMES.format(found=bad_names))
        if frame.empty:
            raise BadInputError(ERR_EMPTY_BATCH if table == "batch" else ERR_EMPTY_REFERENCE)
        missing = [c for c in _configured_columns(dataset) if c not in frame.columns]
        if missing:
            raise BadInputError(
                ERR_MISSING_COLUMNS.format(table=table, missing=missing, found=list(frame.columns))
            )

    batch_classes = _classes(batch[dataset.target])
    if len(batch_classes) == 1:
        raise BadInputError(ERR_SINGLE_CLASS.format(target=dataset.target, value=batch_classes[0]))
    if reference is not None:
        classes = _classes(reference[dataset.target])
        table = "reference"
    else:
        classes, table = batch_classes, "batch"
    if len(classes) != 2:
        raise BadInputError(
            ERR_NOT_BINARY.format(target=dataset.target, count=len(classes), table=table, values=classes)
        )
    if dataset.positive_label not in classes:
        raise BadInputError(
            ERR_POSITIVE_LABEL.format(label=dataset.positive_label, target=dataset.target, values=classes)
        )
    return classes


def _classes(target: pd.Series) -> list[Any]:
    values = [_native(v) for v in pd.unique(target.dropna())]
    return sorted(values, key=str)


# --------------------------------------------------------------------------- profiling helpers


def _column_kind(series: pd.Series) -> Kind:
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


def _ge_view(frame: pd.DataFrame) -> pd.DataFrame:
    """Cast each column to one canonical dtype per kind, for Great Expectations.

    GX 1.x matches type names against numpy dtypes only; pandas 3 strings,
    categoricals, nullable numbers and tz-aware datetimes would not match any
    name, so the view holds object, float64 and naive UTC datetimes instead.
    """
    columns: dict[str, Any] = {}
    for name in frame.columns:
        series = frame[name]
        kind = _column_kind(series)
        dtype = series.dtype
        if kind == "categorical" and not pd.api.types.is_object_dtype(dtype):
            series = series.astype(object)
        elif kind == "numeric" and not isinstance(dtype, np.dtype):
            series = pd.Series(
                series.to_numpy(dtype="float64", na_value=np.nan), index=series.index, name=name
            )
        elif kind == "datetime" and isinstance(dtype, pd.DatetimeTZDtype):
            series = series.dt.tz_convert("UTC").dt.tz_localize(None)
        columns[name] = series
    return pd.DataFrame(columns, index=frame.index)


def _native(value: Any) -> Any:
    """Return a JSON-ready Python value for a numpy or pandas scalar."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    value = _native(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _pct(share: float) -> str:
    return f"{100 * share:.1f}%"


def _num(value: float) -> str:
    return f"{value:.6g}"


def _shown(values: Sequence[Any]) -> list[Any]:
    return [_native(v) for v in list(values)[:_SHOWN_VALUES]]


# --------------------------------------------------------------------------- result readers


def _map_counts(result: dict[str, Any]) -> tuple[int, int, int]:
    """Rows, non-null rows and unexpected rows of a column map expectation."""
    rows = int(result.get("element_count", 0))
    missing = int(result.get("missing_count", 0) or 0)
    unexpected = int(result.get("unexpected_count", 0) or 0)
    return rows, rows - missing, unexpected


def _read_null_share(result: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    rows, _, nulls = _map_counts(result)
    share = nulls / rows if rows else 0.0
    return f"{_pct(share)} null ({nulls} of {rows} rows)", {
        "null_rows": nulls,
        "rows": rows,
        "null_share": share,
    }


def _read_observed_value(label: str) -> Callable[[dict[str, Any]], tuple[str, dict[str, Any]]]:
    def read(result: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        value = _native(result.get("observed_value"))
        shown = _num(value) if isinstance(value, float) else value
        return f"{label} {shown}", {"observed": value}

    return read


def _read_present(result: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return "present", {}


# --------------------------------------------------------------------------- the plan


def _plan(
    batch: pd.DataFrame,
    reference: pd.DataFrame | None,
    dataset: DatasetSettings,
    settings: AuditSettings,
    classes: list[Any],
) -> tuple[list[_Planned], pd.DataFrame | None, list[str]]:
    """Build the expectations from the configuration and the reference profile."""
    import great_expectations.expectations as gxe

    planned: list[_Planned] = []
    notes: list[str] = []
    target, ids = dataset.target, dataset.id_columns
    excluded = set(dataset.exclude_columns)
    audited = [c for c in batch.columns if c not in excluded]

    # Schema: every configured column, then the batch's columns against the reference's.
    for column in _configured_columns(dataset):
        planned.append(
            _Planned(
                "schema",
                [column],
                gxe.ExpectColumnToExist(column=column),
                f"configured column {column!r} present",
                _read_present,
            )
        )
    if reference is not None:
        planned.append(_plan_column_set(batch, reference))

    planned.append(
        _Planned(
            "row_count",
            [],
            gxe.ExpectTableRowCountToBeBetween(min_value=settings.min_rows),
            f"at least {settings.min_rows} rows",
            _read_observed_value("rows:"),
        )
    )

    for column in audited:
        planned.extend(_plan_null_share(column, batch, reference, settings, notes))
        if reference is None or column not in reference.columns:
            continue
        ref_kind, batch_kind = _column_kind(reference[column]), _column_kind(batch[column])
        if ref_kind in _TYPE_LIST:
            planned.append(_plan_type(column, ref_kind, reference[column], batch[column]))
        if column in ids or column == target or ref_kind != batch_kind:
            continue
        if reference[column].isna().all():
            notes.append(f"{column}: entirely null in the reference, no range or domain to compare with")
            continue
        if ref_kind == "numeric":
            planned.extend(_plan_numeric(column, reference[column], settings))
        elif ref_kind == "categorical":
            planned.append(_plan_domain(column, reference[column], batch[column]))

    planned.extend(_plan_label(dataset, settings, classes))
    for column in dataset.sensitive:
        planned.extend(_plan_groups(column, batch, reference, settings))

    derived: pd.DataFrame | None = None
    if ids:
        planned.append(_plan_unique_ids(ids, settings))
        if reference is not None:
            seen = _ids_in(batch, reference, ids)
            derived = pd.DataFrame({_DERIVED_SEEN_ID: seen}, index=batch.index)
            planned.append(_plan_seen_ids(ids, batch, seen, settings))
    row_columns = [c for c in batch.columns if c not in ids]
    planned.append(_plan_duplicate_rows(row_columns, settings))
    return planned, derived, notes


def _plan_column_set(batch: pd.DataFrame, reference: pd.DataFrame) -> _Planned:
    import great_expectations.expectations as gxe

    expected_columns = [str(c) for c in reference.columns]
    missing = [c for c in expected_columns if c not in batch.columns]
    new = [c for c in batch.columns if c not in reference.columns]

    def read(result: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        if not missing and not new:
            return "the same columns", {}
        return (
            f"missing columns {missing} and new columns {new}",
            {"missing_columns": missing, "new_columns": new},
        )

    return _Planned(
        "schema",
        missing + new,
        gxe.ExpectTableColumnsToMatchSet(column_set=expected_columns, exact_match=True),
        "the columns of the reference, no more, no fewer",
        read,
    )


def _plan_null_share(
    column: str,
    batch: pd.DataFrame,
    reference: pd.DataFrame | None,
    settings: AuditSettings,
    notes: list[str],
) -> list[_Planned]:
    import great_expectations.expectations as gxe

    allowed = settings.max_null_share
    if reference is not None and column in reference.columns:
        reference_share = float(reference[column].isna().mean())
        if reference_share >= 1.0:
            notes.append(f"{column}: entirely null in the reference, nulls allowed")
            return []
        if reference_share > allowed:
            # A column already this sparse in the reviewed data is compared with
            # its own level: the allowance is added on top of the reference share.
            allowed = min(1.0, reference_share + settings.max_null_share)
            notes.append(
                f"{column}: null share allowance {_pct(allowed)} "
                f"(reference null share {_pct(reference_share)} + max_null_share)"
            )
    return [
        _Planned(
            "null_share",
            [column],
            gxe.ExpectColumnValuesToNotBeNull(column=column, mostly=1.0 - allowed),
            f"null share of {column!r} at most {_pct(allowed)}",
            _read_null_share,
        )
    ]


def _plan_type(column: str, kind: str, reference: pd.Series, batch: pd.Series) -> _Planned:
    import great_expectations.expectations as gxe

    batch_dtype, batch_kind = str(batch.dtype), _column_kind(batch)

    def read(result: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return (
            f"{batch_kind} ({batch_dtype})",
            {
                "reference_kind": kind,
                "reference_dtype": str(reference.dtype),
                "batch_kind": batch_kind,
                "batch_dtype": batch_dtype,
            },
        )

    return _Planned(
        "column_type",
        [column],
        gxe.ExpectColumnValuesToBeInTypeList(column=column, type_list=_TYPE_LIST[kind]),
        f"{column!r} {kind} like the reference ({reference.dtype})",
        read,
    )


def _plan_numeric(column: str, reference: pd.Series, settings: AuditSettings) -> list[_Planned]:
    import great_expectations.expectations as gxe

    values = reference.to_numpy(dtype="float64", na_value=np.nan)
    q_low, q_high = (
        float(q) for q in np.nanquantile(values, [settings.range_quantile, 1.0 - settings.range_quantile])
    )
    span = q_high - q_low
    low, high = q_low - settings.range_margin * span, q_high + settings.range_margin * span

    def read_range(result: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        _, non_null, outside = _map_counts(result)
        share = outside / non_null if non_null else 0.0
        examples = _shown(result.get("partial_unexpected_list") or [])
        found = f"{_pct(share)} of non-null rows outside ({outside} rows)"
        if outside:
            found += f", e.g. {[_num(v) for v in examples[:5]]}"
        return found, {
            "low": low,
            "high": high,
            "outside_rows": outside,
            "outside_share": share,
            "examples": examples,
        }

    def read_median(result: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        median = _native(result.get("observed_value"))
        found = "no median (no non-null values)" if median is None else f"median {_num(median)}"
        return found, {"median": median, "reference_q_low": q_low, "reference_q_high": q_high}

    return [
        _Planned(
            "numeric_range",
            [column],
            gxe.ExpectColumnValuesToBeBetween(
                column=column, min_value=low, max_value=high, mostly=1.0 - settings.max_out_of_range_share
            ),
            f"{column!r} within [{_num(low)}, {_num(high)}] (reference quantiles widened by "
            f"{settings.range_margin:g} of their span) for at least "
            f"{_pct(1.0 - settings.max_out_of_range_share)} of non-null rows",
            read_range,
        ),
        # A unit change (EUR to kEUR) stays inside the widened range when the
        # lower bound goes below zero; the batch median leaving the reference's
        # own [q_low, q_high] catches it.
        _Planned(
            "numeric_shift",
            [column],
            gxe.ExpectColumnMedianToBeBetween(column=column, min_value=q_low, max_value=q_high),
            f"median of {column!r} within the reference range [{_num(q_low)}, {_num(q_high)}]",
            read_median,
        ),
    ]


def _plan_domain(column: str, reference: pd.Series, batch: pd.Series) -> _Planned:
    import great_expectations.expectations as gxe

    domain = sorted((_native(v) for v in pd.unique(reference.dropna())), key=str)
    batch_values = pd.Series(pd.unique(batch.dropna()), dtype=object)
    new_values = sorted((_native(v) for v in batch_values[~batch_values.isin(domain)]), key=str)

    def read(result: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        _, non_null, unexpected = _map_counts(result)
        share = unexpected / non_null if non_null else 0.0
        if not unexpected:
            return "no new values", {"new_values": []}
        return (
            f"new values {_shown(new_values)} in {unexpected} rows ({_pct(share)} of non-null)",
            {"new_values": new_values, "rows": unexpected, "share": share, "domain": domain},
        )

    return _Planned(
        "categorical_domain",
        [column],
        gxe.ExpectColumnValuesToBeInSet(column=column, value_set=domain),
        f"{column!r} values within the reference domain {_shown(domain)}"
        + (f" (+{len(domain) - _SHOWN_VALUES} more)" if len(domain) > _SHOWN_VALUES else ""),
        read,
    )


def _plan_label(dataset: DatasetSettings, settings: AuditSettings, classes: list[Any]) -> list[_Planned]:
    import great_expectations.expectations as gxe

    target, positive = dataset.target, _native(dataset.positive_label)

    def read_values(result: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        _, _, unexpected = _map_counts(result)
        others = _shown(sorted({_native(v) for v in result.get("partial_unexpected_list") or []}, key=str))
        if not unexpected:
            return "only these values", {}
        return f"other values {others} in {unexpected} rows", {"rows": unexpected, "other_values": others}

    def read_rate(result: dict[str, Any], positive_is_unexpected: bool) -> tuple[str, dict[str, Any]]:
        _, non_null, unexpected = _map_counts(result)
        positives = unexpected if positive_is_unexpected else non_null - unexpected
        rate = positives / non_null if non_null else 0.0
        return f"a rate of {rate:.4f} ({positives} of {non_null} labelled rows)", {"label_rate": rate}

    return [
        _Planned(
            "label_values",
            [target],
            gxe.ExpectColumnValuesToBeInSet(column=target, value_set=classes),
            f"{target!r} values within the two classes {classes}",
            read_values,
        ),
        _Planned(
            "label_rate",
            [target],
            gxe.ExpectColumnValuesToBeInSet(
                column=target, value_set=[positive], mostly=settings.label_rate_min
            ),
            f"share of {target!r} == {positive!r} at least {settings.label_rate_min:g}",
            lambda r: read_rate(r, positive_is_unexpected=False),
        ),
        _Planned(
            "label_rate",
            [target],
            gxe.ExpectColumnValuesToNotBeInSet(
                column=target, value_set=[positive], mostly=1.0 - settings.label_rate_max
            ),
            f"share of {target!r} == {positive!r} at most {settings.label_rate_max:g}",
            lambda r: read_rate(r, positive_is_unexpected=True),
        ),
    ]


def _plan_groups(
    column: str, batch: pd.DataFrame, reference: pd.DataFrame | None, settings: AuditSettings
) -> list[_Planned]:
    import great_expectations.expectations as gxe
    from great_expectations.expectations.row_conditions import Column

    values = batch[column].dropna()
    groups = list(pd.unique(values))
    reference_shares: dict[Any, float] = {}
    if reference is not None:
        reference_values = reference[column].dropna()
        groups += [g for g in pd.unique(reference_values) if g not in set(groups)]
        if len(reference_values):
            reference_shares = reference_values.value_counts(normalize=True).to_dict()
    planned: list[_Planned] = []
    for raw_group in sorted(groups, key=str):
        group = _native(raw_group)
        name = f"{column} == {group!r}"

        def read_share(result: dict[str, Any], in_set: bool = True) -> tuple[str, dict[str, Any]]:
            _, non_null, unexpected = _map_counts(result)
            members = non_null - unexpected if in_set else unexpected
            share = members / non_null if non_null else 0.0
            return f"{_pct(share)} ({members} of {non_null} rows)", {"share": share, "rows": members}

        planned.append(
            _Planned(
                "group_size",
                [column],
                gxe.ExpectTableRowCountToBeBetween(
                    min_value=settings.min_group_rows, row_condition=Column(column) == group
                ),
                f"group {name} with at least {settings.min_group_rows} rows",
                _read_observed_value("rows:"),
            )
        )
        if settings.min_group_share > 0:
            planned.append(
                _Planned(
                    "group_share",
                    [column],
                    gxe.ExpectColumnValuesToBeInSet(
                        column=column, value_set=[group], mostly=settings.min_group_share
                    ),
                    f"group {name} with at least {_pct(settings.min_group_share)} of rows",
                    read_share,
                )
            )
        if reference is None:
            continue
        # How far a group's share may move from the reference before a warning:
        # min_group_share, the smallest share the configuration lets a group hold.
        reference_share = float(reference_shares.get(raw_group, 0.0))
        low = max(0.0, reference_share - settings.min_group_share)
        high = min(1.0, reference_share + settings.min_group_share)
        band = (
            f"within [{_pct(low)}, {_pct(high)}] "
            f"(reference share {_pct(reference_share)} \u00b1 min_group_share)"
        )
        planned.append(
            _Planned(
                "group_share_shift",
                [column],
                gxe.ExpectColumnValuesToBeInSet(column=column, value_set=[group], mostly=low),
                f"share of group {name} {band}",
                read_share,
                severity="warn",
            )
        )
        planned.append(
            _Planned(
                "group_share_shift",
                [column],
                gxe.ExpectColumnValuesToNotBeInSet(column=column, value_set=[group], mostly=1.0 - high),
                f"share of group {name} {band}",
                lambda r: read_share(r, in_set=False),
                severity="warn",
            )
        )
    return planned


def _plan_unique_ids(ids: list[str], settings: AuditSettings) -> _Planned:
    import great_expectations.expectations as gxe

    mostly = 1.0 - settings.max_duplicate_share
    expectation = (
        gxe.ExpectColumnValuesToBeUnique(column=ids[0], mostly=mostly)
        if len(ids) == 1
        else gxe.ExpectCompoundColumnsToBeUnique(column_list=ids, mostly=mostly)
    )

    def read(result: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        rows, _, repeated = _map_counts(result)
        share = repeated / rows if rows else 0.0
        examples = _shown(result.get("partial_unexpected_list") or [])
        found = f"{repeated} rows ({_pct(share)}) sharing their id with another row"
        if repeated:
            found += f", e.g. {examples[:5]}"
        return found, {"rows": repeated, "share": share, "examples": examples}

    return _Planned(
        "duplicate_ids",
        list(ids),
        expectation,
        f"{ids} unique within the batch (at most {_pct(settings.max_duplicate_share)} of rows repeated)",
        read,
    )


def _ids_in(batch: pd.DataFrame, reference: pd.DataFrame, ids: list[str]) -> np.ndarray:
    """Boolean mask: the batch row's id already exists in the reference."""
    if len(ids) == 1:
        # Object arrays take pandas' hash-table path; Arrow-backed strings would
        # test membership value by value.
        known = pd.unique(reference[ids[0]].to_numpy(dtype=object))
        return pd.Series(batch[ids[0]].to_numpy(dtype=object), dtype=object).isin(known).to_numpy()
    return pd.MultiIndex.from_frame(batch[ids]).isin(pd.MultiIndex.from_frame(reference[ids]))


def _plan_seen_ids(
    ids: list[str], batch: pd.DataFrame, seen: np.ndarray, settings: AuditSettings
) -> _Planned:
    import great_expectations.expectations as gxe

    examples = batch.loc[seen, ids].head(_SHOWN_VALUES)
    shown = examples[ids[0]].tolist() if len(ids) == 1 else examples.to_dict("records")

    def read(result: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        rows, _, already = _map_counts(result)
        share = already / rows if rows else 0.0
        found = f"{already} rows ({_pct(share)}) whose id is already in the reference"
        if already:
            found += f", e.g. {_shown(shown)[:5]}"
        return found, {"rows": already, "share": share, "examples": _shown(shown)}

    # The membership test runs in pandas (a hash join); GX counts the flagged rows.
    return _Planned(
        "ids_seen_in_reference",
        list(ids),
        gxe.ExpectColumnValuesToBeInSet(
            column=_DERIVED_SEEN_ID, value_set=[False], mostly=1.0 - settings.max_duplicate_share
        ),
        f"{ids} of the batch new, not already in the reference (at most "
        f"{_pct(settings.max_duplicate_share)} of rows)",
        read,
        on_derived=True,
    )


def _plan_duplicate_rows(columns: list[str], settings: AuditSettings) -> _Planned:
    import great_expectations.expectations as gxe

    def read(result: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        rows, _, duplicated = _map_counts(result)
        share = duplicated / rows if rows else 0.0
        return f"{duplicated} rows ({_pct(share)}) identical to another row", {
            "rows": duplicated,
            "share": share,
        }

    return _Planned(
        "duplicate_rows",
        list(columns),
        gxe.ExpectCompoundColumnsToBeUnique(
            column_list=list(columns), mostly=1.0 - settings.max_duplicate_share
        ),
        f"rows distinct on every column but the ids (at most {_pct(settings.max_duplicate_share)} "
        "of rows in duplicate groups)",
        read,
    )


# --------------------------------------------------------------------------- running the suite


def _run_great_expectations(
    view: pd.DataFrame, derived: pd.DataFrame | None, planned: list[_Planned]
) -> list[tuple[bool, dict[str, Any]]]:
    """Validate the planned expectations; return (success, result) in plan order."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    context = gx.get_context(
        mode="ephemeral",
        project_config=DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(),
            progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
        ),
    )
    source = context.data_sources.add_pandas(name="fairgate")
    outcome: dict[int, tuple[bool, dict[str, Any]]] = {}
    frames = [("batch", view, False), ("derived", derived, True)]
    for asset_name, frame, on_derived in frames:
        keys = [i for i, plan in enumerate(planned) if plan.on_derived == on_derived]
        if frame is None or not keys:
            continue
        definition = source.add_dataframe_asset(name=asset_name).add_batch_definition_whole_dataframe("whole")
        for key in keys:
            planned[key].expectation.meta = {"fairgate_key": key}
        # Built in one go: ``add_expectation`` compares each new expectation with
        # every earlier one (quadratic), and the plan holds no duplicates.
        suite = gx.ExpectationSuite(
            name=f"fairgate-audit-{asset_name}", expectations=[planned[key].expectation for key in keys]
        )
        validation = definition.get_batch(batch_parameters={"dataframe": frame}).validate(
            suite, result_format="SUMMARY"
        )
        for result in validation.results:
            config = result.expectation_config
            if config is None or not config.meta or "fairgate_key" not in config.meta:
                raise RuntimeError("great expectations returned a result without its expectation")
            key = int(config.meta["fairgate_key"])
            if result.exception_info.get("raised_exception"):
                plan = planned[key]
                raise BadInputError(
                    ERR_EXPECTATION_FAILED.format(
                        expectation=plan.expectation.expectation_type,
                        columns=plan.columns,
                        problem=str(result.exception_info.get("exception_message")).splitlines()[0],
                    )
                )
            outcome[key] = (bool(result.success), dict(result.result))
    return [outcome[i] for i in range(len(planned))]


# --------------------------------------------------------------------------- HTML


_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:75rem}
h1{font-size:1.5rem}.verdict{display:inline-block;padding:.3rem .8rem;border-radius:.3rem;color:#fff}
.pass{background:#2e7d32}.blocked{background:#c62828}.warn{color:#9a6700}.block{color:#c62828}
table{border-collapse:collapse;width:100%;font-size:.85rem}td,th{border:1px solid #ccc;padding:.3rem;
text-align:left;vertical-align:top}tr.failed{background:#fdecea}dl{margin:.2rem 0 1rem 1rem}
dt{font-weight:600}pre{background:#f6f8fa;padding:.4rem;overflow-x:auto;font-size:.8rem}
"""


def _render_html(result: AuditResult) -> str:
    report = result.report
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>fairgate data audit</title>',
        f"<style>{_CSS}</style></head><body>",
        "<h1>fairgate data audit</h1>",
        f'<p><span class="verdict {esc(report.verdict)}">{esc(report.verdict.upper())}</span> '
        f"{len(report.blocking)} blocking finding(s), "
        f"{len(report.findings) - len(report.blocking)} warning(s); "
        f"{report.rows} rows, {report.columns} columns, {len(result.expectations)} expectations.</p>",
    ]
    if report.notes:
        parts.append("<h2>Notes</h2><ul>")
        parts += [f"<li>{esc(note)}</li>" for note in report.notes]
        parts.append("</ul>")
    parts.append("<h2>Findings</h2>")
    if not report.findings:
        parts.append("<p>None.</p>")
    for finding in report.findings:
        expected, _, found = finding.message.partition("; found ")
        parts += [
            f'<h3 class="{esc(finding.severity)}">{esc(finding.severity)}: {esc(finding.check)}</h3><dl>',
            f"<dt>Expected</dt><dd>{esc(expected)}</dd>",
            f"<dt>Found</dt><dd>{esc(found)}</dd>",
            f"<dt>Columns</dt><dd>{esc(', '.join(finding.columns) or '(table)')}</dd>",
            f"<dt>Evidence</dt><dd><pre>{esc(json.dumps(finding.evidence, indent=1))}</pre></dd>",
            "</dl>",
        ]
    parts.append(
        "<h2>Expectations</h2><table><thead><tr><th>check</th><th>expectation</th><th>columns</th>"
        "<th>success</th><th>expected</th><th>observed</th></tr></thead><tbody>"
    )
    for row in result.expectations:
        css = "" if row["success"] else ' class="failed"'
        parts.append(
            f"<tr{css}><td>{esc(row['check'])}</td><td>{esc(row['type'])}</td>"
            f"<td>{esc(', '.join(row['columns']))}</td><td>{'yes' if row['success'] else 'NO'}</td>"
            f"<td>{esc(str(row['expected']))}</td><td>{esc(str(row['observed']))}</td></tr>"
        )
    parts.append("</tbody></table></body></html>")
    return "\n".join(parts)
