"""Data audit: a Great Expectations 1.x suite from the configuration and a reference profile, and drift.

``audit_dataset`` checks a table (in ``retrain``, the newly ingested batch;
in ``fairgate check``, any file) against the configuration and, when given,
a *reference*: the data it is compared with (in ``retrain``, the training
data of the current champion).  Three parts:

- **expectations** (Great Expectations): from the dataset settings (which
  columns must exist, the label's classes and rate, the size and share of
  every sensitive group, unique ids, no repeated rows) and from a profile of
  the reference (column set and kinds, null shares, numeric ranges from
  reference quantiles widened by a margin, medians inside the reference
  range, categorical domains, ids already seen, freshness of the time
  column).  Every failed expectation becomes one blocking ``Finding``.
- **mixed types**: a text column that mostly holds numbers, or values of
  different Python types, is a blocking finding (no reference needed).
- **drift** (:mod:`pipelines.data.drift`): per feature, the label rate and every
  sensitive group's share against the reference.

Without a reference only the checks that need none run, and the notes say
which did not and why.

Speed: every column is encoded once (:mod:`pipelines.data.columns`); Great
Expectations validates a view of the batch whose text columns are pandas
categoricals built from those codes and whose id columns are the codes
themselves (null, set and uniqueness checks then work on integers, and GX
never hashes millions of strings), and two small derived tables: per-row flags that
the encodings compute exactly (a row repeated elsewhere, an id already in the
reference), and one value per Python type found in each text column (a type
check on those is the type check of every value, since a value passes or
fails by its type alone).  Great Expectations takes about two seconds to
import, so it is imported when an audit runs, never when this module is.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from pipelines.core.config import AuditSettings, DatasetSettings
from pipelines.core.errors import BadInputError
from pipelines.core.findings import CheckReport, Finding, Severity
from pipelines.data.columns import EncodedColumn, EncodedFrame, column_kind, naive_utc, values_in
from pipelines.data.drift import DriftStatistic, measure_drift

logger = logging.getLogger(__name__)

ERR_EMPTY_BATCH = "the batch is empty: expected at least one row, found 0"
ERR_EMPTY_REFERENCE = "the reference is empty: expected earlier rows to compare with (None on a first run), found 0"
ERR_COLUMN_NAMES = "column names must be strings, found {found}"
ERR_MISSING_COLUMNS = "the {table} lacks configured columns {missing}; found columns {found}"
ERR_SINGLE_CLASS = "target {target!r} must hold two classes, found a single class {value!r} in the batch"
ERR_NOT_BINARY = "target {target!r} must hold two classes, found {count} in the {table}: {values}"
ERR_POSITIVE_LABEL = "positive_label {label!r} must be one of the classes of target {target!r}, found {values}"
ERR_EXPECTATION_FAILED = "great expectations could not evaluate {expectation} on {columns}: {problem}"

NOTE_NO_REFERENCE = (
    "no reference: these checks need one and did not run: schema and column types against the "
    "reference, numeric ranges and medians, categorical domains, ids already seen, freshness of the "
    "time column, drift of every feature, of the label rate and of the sensitive groups' shares"
)
NOTE_NO_FRESHNESS_CLOCK = (
    "freshness: no reference, and fairgate reads no clock (results must not depend on when they run): not checked"
)
NOTE_TIME_NOT_DATES = "freshness: time column {column!r} does not hold dates here and in the reference: not checked"
NOTE_EXCLUDED = "excluded {column}: {reason}"
NOTE_NOT_EARLIER = "{check}: not checked, the reference is a previous version of the data, not earlier data"

Asset = Literal["batch", "derived", "types"]

# Type names per reference kind.  Numbers and dates are checked on the batch
# view by dtype; text columns on one representative value per Python type.
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
_DERIVED_REPEATED = "row_repeated_elsewhere"


@dataclass
class AuditResult:
    """What the audit found: the stage report, the expectation table and the drift statistics.

    Attributes
    ----------
    report : CheckReport
        Stage ``audit``: one finding per failed expectation, per mixed-type
        column and per drift beyond its bounds; notes on what did not run and
        which exclusions were applied.
    expectations : list of dict
        One JSON-ready row per expectation: ``check``, ``type``, ``columns``,
        ``success``, ``expected``, ``observed``.
    drift : list of dict
        One JSON-ready row per drift statistic (empty without a reference).
    data_docs : pathlib.Path or None
        The ``index.html`` of the Great Expectations Data Docs, when built.
    """

    report: CheckReport
    expectations: list[dict[str, Any]] = field(default_factory=list)
    drift: list[dict[str, Any]] = field(default_factory=list)
    data_docs: Path | None = None


class _Clock:
    """Wall seconds between laps, added into ``timings`` when given (the benchmarks read them)."""

    def __init__(self, timings: dict[str, float] | None) -> None:
        self.timings = timings
        self.started = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        if self.timings is not None:
            self.timings[name] = self.timings.get(name, 0.0) + now - self.started
        self.started = now


@dataclass
class _Planned:
    """One expectation and how to read its result."""

    check: str
    columns: list[str]
    expectation: Any
    expected: str
    describe: Callable[[dict[str, Any]], tuple[str, dict[str, Any]]]
    severity: Severity = "block"
    asset: Asset = "batch"


@dataclass
class _Inputs:
    """The batch, the reference and their encodings, shared by the planning steps."""

    batch: pd.DataFrame
    reference: pd.DataFrame | None
    encoded: EncodedFrame
    reference_encoded: EncodedFrame | None
    dataset: DatasetSettings
    settings: AuditSettings
    reference_is_earlier: bool = True


def audit_dataset(
    batch: pd.DataFrame,
    reference: pd.DataFrame | None,
    dataset: DatasetSettings,
    settings: AuditSettings,
    *,
    encoded: EncodedFrame | None = None,
    reference_encoded: EncodedFrame | None = None,
    data_docs_dir: Path | None = None,
    reference_is_earlier: bool = True,
    timings: dict[str, float] | None = None,
) -> AuditResult:
    """Audit a table against the configuration and, when given, its reference.

    Parameters
    ----------
    batch : pandas.DataFrame
        The data checked.
    reference : pandas.DataFrame or None
        The data it is compared with; ``None`` when there is none (a first
        run, or ``fairgate check`` without ``--reference``): then only the
        checks that need no reference run, and the notes say which did not.
    dataset : DatasetSettings
        Column roles: target, time column, ids, sensitive attributes,
        features, exclusions.
    settings : AuditSettings
        Thresholds of the suite and of the drift statistics.
    encoded, reference_encoded : EncodedFrame, optional
        Encodings of ``batch`` and ``reference`` already made by the caller
        (they are made here otherwise).
    data_docs_dir : pathlib.Path, optional
        Where to build the Great Expectations Data Docs of the expectations.
    reference_is_earlier : bool
        True (default) when the reference is earlier data the batch extends;
        False when it is the previous version of a dataset the batch
        replaces whole: then ids already seen and freshness do not apply.
    timings : dict, optional
        Filled with the wall seconds of each part (``profile``,
        ``expectations``, ``mixed_types``, ``drift``), for the benchmarks.

    Returns
    -------
    AuditResult
        The ``audit`` report, the expectation table, the drift statistics.

    Raises
    ------
    BadInputError
        The batch is empty, lacks a configured column, or its target does
        not hold two classes including ``positive_label`` (also when the
        reference is empty or lacks configured columns).
    """
    classes = _validate_inputs(batch, reference, dataset)
    inputs = _Inputs(
        batch=batch,
        reference=reference,
        encoded=encoded if encoded is not None else EncodedFrame(batch),
        reference_encoded=(
            None
            if reference is None
            else reference_encoded
            if reference_encoded is not None
            else EncodedFrame(reference)
        ),
        dataset=dataset,
        settings=settings,
        reference_is_earlier=reference_is_earlier,
    )
    notes = [NOTE_EXCLUDED.format(column=c, reason=r) for c, r in dataset.exclude_columns.items()]
    if reference is None:
        notes.append(NOTE_NO_REFERENCE)
    clock = _Clock(timings)
    planned, assets, plan_notes = _plan(inputs, classes)
    clock.lap("profile")
    notes.extend(plan_notes)
    results = _run_great_expectations(assets, planned, data_docs_dir)
    clock.lap("expectations")

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
                    evidence=json_ready(evidence),
                )
            )
    audited = _audited_columns(batch, dataset)
    findings += _mixed_types(inputs, [c for c in audited if c not in dataset.id_columns])
    clock.lap("mixed_types")

    drift: list[DriftStatistic] = []
    if inputs.reference_encoded is not None and reference is not None:
        compared = [
            c
            for c in audited
            if c in reference.columns
            and c not in dataset.id_columns
            and c not in dataset.sensitive
            and c not in (dataset.target, dataset.time_column)
        ]
        measured = measure_drift(inputs.encoded, inputs.reference_encoded, compared, dataset, settings.drift)
        drift = measured.statistics
        notes.extend(measured.notes)
        findings += [
            Finding(f.check, f.severity, f.columns, f.message, json_ready(f.evidence)) for f in measured.findings
        ]

    clock.lap("drift")
    report = CheckReport(stage="audit", rows=len(batch), columns=batch.shape[1], findings=findings, notes=notes)
    logger.info(
        "audit: %d expectations, %d drift statistics, %d findings, verdict %s",
        len(rows),
        len(drift),
        len(findings),
        report.verdict,
    )
    docs = data_docs_dir / "index.html" if data_docs_dir is not None else None
    return AuditResult(
        report=report,
        expectations=rows,
        drift=[json_ready(stat.to_dict()) for stat in drift],
        data_docs=docs if docs is not None and docs.is_file() else None,
    )


# --------------------------------------------------------------------------- input validation


def _configured_columns(dataset: DatasetSettings) -> list[str]:
    columns = [dataset.target]
    if dataset.time_column:
        columns.append(dataset.time_column)
    columns += dataset.id_columns + dataset.sensitive + (dataset.features or [])
    columns += list(dataset.exclude_columns)
    return list(dict.fromkeys(columns))


def _audited_columns(frame: pd.DataFrame, dataset: DatasetSettings) -> list[str]:
    excluded = set(dataset.exclude_columns)
    return [c for c in frame.columns if c not in excluded]


def _validate_inputs(batch: pd.DataFrame, reference: pd.DataFrame | None, dataset: DatasetSettings) -> list[Any]:
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
            raise BadInputError(ERR_MISSING_COLUMNS.format(table=table, missing=missing, found=list(frame.columns)))

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
    values = [native(v) for v in pd.unique(target.dropna())]
    return sorted(values, key=str)


# --------------------------------------------------------------------------- small helpers


def native(value: Any) -> Any:
    """Return a JSON-ready Python value for a numpy or pandas scalar."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def json_ready(value: Any) -> Any:
    """Return ``value`` with numpy scalars made native and non-finite floats made ``None``."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    value = native(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _pct(share: float) -> str:
    return f"{100 * share:.1f}%"


def _num(value: float) -> str:
    return f"{value:.6g}"


def _shown(values: Sequence[Any]) -> list[Any]:
    return [native(v) for v in list(values)[:_SHOWN_VALUES]]


def _lerp(low: float, high: float, weight: float) -> float:
    """Linear interpolation exactly as numpy's quantile computes it."""
    diff = high - low
    return high - diff * (1.0 - weight) if weight >= 0.5 else low + diff * weight


def _linear_quantile(values: np.ndarray, counts: np.ndarray, probability: float) -> float:
    """``numpy.quantile(..., method="linear")`` of the sample from sorted distinct values and counts."""
    cumulative = np.cumsum(counts)
    position = (cumulative[-1] - 1) * probability
    below = math.floor(position)
    low = float(values[int(np.searchsorted(cumulative, below, side="right"))])
    above = min(below + 1, int(cumulative[-1]) - 1)
    high = float(values[int(np.searchsorted(cumulative, above, side="right"))])
    return _lerp(low, high, position - below)


# --------------------------------------------------------------------------- the view GX validates


def _ge_view(batch: pd.DataFrame, encoded: EncodedFrame, encodable: set[str], ids: Sequence[str]) -> pd.DataFrame:
    """One canonical dtype per kind, for Great Expectations.

    Numbers stay numpy numbers (nullable ones become float64), dates become
    naive UTC, text becomes a pandas categorical built from the column's
    codes.  An id column (not a date) becomes its codes, one integer per
    distinct id: the checks GX makes of ids (present, not null, unique) give
    the same answers on them, without hashing millions of strings again.
    Excluded columns are passed as they are (only their presence is checked).
    """
    columns: dict[str, Any] = {}
    for name in batch.columns:
        series = batch[name]
        if name not in encodable:
            columns[name] = series
            continue
        kind, dtype = column_kind(series), series.dtype
        if name in ids and kind != "datetime":
            codes = encoded[name].codes
            missing = codes < 0
            series = pd.Series(
                pd.arrays.IntegerArray(np.where(missing, 0, codes).astype(np.int32), missing),
                index=series.index,
                name=name,
            )
        elif kind == "numeric" and not isinstance(dtype, np.dtype):
            series = pd.Series(series.to_numpy(dtype="float64", na_value=np.nan), index=series.index, name=name)
        elif kind == "datetime":
            series = naive_utc(series)
        elif kind == "categorical" and not (
            isinstance(dtype, pd.CategoricalDtype) or (isinstance(dtype, np.dtype) and dtype == np.bool_)
        ):
            column = encoded[name]
            series = pd.Series(
                pd.Categorical.from_codes(column.codes, categories=pd.Index(column.uniques)),
                index=series.index,
                name=name,
            )
        columns[name] = series
    return pd.DataFrame(columns, index=batch.index, copy=False)


def _type_representatives(series: pd.Series, column: EncodedColumn) -> list[Any]:
    """One value per Python type the column holds (every value passes or fails a type list by its type)."""
    if column.n_unique == 0:
        return []
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        categories = dtype.categories
        if pd.api.types.is_object_dtype(categories.dtype):
            return list({type(v): v for v in reversed(list(categories))}.values())
        return [categories[0]]
    if not pd.api.types.is_object_dtype(dtype):
        # a numpy or pandas dtype other than object fixes the type of every value
        return [column.uniques[0]]
    return list({type(v): v for v in reversed(list(column.uniques))}.values())


def _kind_label(series: pd.Series, representatives: list[Any] | None = None) -> str:
    label = f"{column_kind(series)} ({series.dtype}"
    if representatives is not None and pd.api.types.is_object_dtype(series.dtype):
        label += ": " + ", ".join(sorted({type(v).__name__ for v in representatives}))
    return label + ")"


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
        value = native(result.get("observed_value"))
        shown = _num(value) if isinstance(value, float) else value
        return f"{label} {shown}", {"observed": value}

    return read


def _read_present(result: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return "present", {}


# --------------------------------------------------------------------------- the plan


def _plan(inputs: _Inputs, classes: list[Any]) -> tuple[list[_Planned], dict[Asset, pd.DataFrame], list[str]]:
    """Build the expectations and the tables they validate."""
    import great_expectations.expectations as gxe

    batch, reference, dataset, settings = inputs.batch, inputs.reference, inputs.dataset, inputs.settings
    encoded, reference_encoded = inputs.encoded, inputs.reference_encoded
    planned: list[_Planned] = []
    notes: list[str] = []
    target, ids = dataset.target, dataset.id_columns
    audited = _audited_columns(batch, dataset)

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

    type_columns: dict[str, list[Any]] = {}
    for column in audited:
        planned.extend(_plan_null_share(column, inputs, notes))
        if reference is None or reference_encoded is None or column not in reference.columns:
            continue
        ref_kind, batch_kind = column_kind(reference[column]), column_kind(batch[column])
        if ref_kind in _TYPE_LIST:
            representatives = None
            if ref_kind == "categorical" or (column in ids and ref_kind == "numeric"):
                # text, and ids (codes in the batch view): one value per Python type
                representatives = _type_representatives(batch[column], encoded[column])
                type_columns[column] = representatives
            planned.append(_plan_type(column, ref_kind, reference[column], batch[column], representatives))
        if column in ids or column == target or ref_kind != batch_kind or ref_kind not in ("numeric", "categorical"):
            continue
        base = reference_encoded[column]
        if base.present == 0:
            notes.append(f"{column}: entirely null in the reference, no range or domain to compare with")
            continue
        if ref_kind == "numeric":
            planned.extend(_plan_numeric(column, base, settings))
        elif ref_kind == "categorical":
            planned.append(_plan_domain(column, base, encoded[column]))

    planned.extend(_plan_label(dataset, settings, classes))
    for column in dataset.sensitive:
        planned.extend(_plan_groups(column, inputs))

    derived: dict[str, np.ndarray] = {}
    if ids:
        planned.append(_plan_unique_ids(ids, settings, encoded))
        if reference is not None and reference_encoded is not None and not inputs.reference_is_earlier:
            notes.append(NOTE_NOT_EARLIER.format(check="ids already seen in the reference"))
        elif reference is not None and reference_encoded is not None:
            seen = _ids_in(inputs)
            derived[_DERIVED_SEEN_ID] = seen
            planned.append(_plan_seen_ids(ids, batch, seen, settings))
    row_columns = [c for c in audited if c not in ids]
    derived[_DERIVED_REPEATED] = encoded.repeated_rows(row_columns)
    planned.append(_plan_duplicate_rows(row_columns, settings))
    planned.extend(_plan_freshness(inputs, notes))

    encodable = set(audited) | set(ids)
    assets: dict[Asset, pd.DataFrame] = {"batch": _ge_view(batch, encoded, encodable, ids)}
    assets["derived"] = pd.DataFrame(derived)
    if type_columns:
        assets["types"] = pd.DataFrame({name: pd.Series(values, dtype=object) for name, values in type_columns.items()})
    return planned, assets, notes


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


def _plan_null_share(column: str, inputs: _Inputs, notes: list[str]) -> list[_Planned]:
    import great_expectations.expectations as gxe

    settings = inputs.settings
    allowed = settings.max_null_share
    reference = inputs.reference
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


def _plan_type(
    column: str, kind: str, reference: pd.Series, batch: pd.Series, representatives: list[Any] | None
) -> _Planned:
    import great_expectations.expectations as gxe

    found = _kind_label(batch, representatives)
    batch_kind = column_kind(batch)

    def read(result: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return (
            found,
            {
                "reference_kind": kind,
                "reference_dtype": str(reference.dtype),
                "batch_kind": batch_kind,
                "batch_dtype": str(batch.dtype),
            },
        )

    return _Planned(
        "column_type",
        [column],
        gxe.ExpectColumnValuesToBeInTypeList(column=column, type_list=_TYPE_LIST[kind]),
        f"{column!r} {kind} like the reference ({reference.dtype})",
        read,
        asset="batch" if representatives is None else "types",
    )


def _plan_numeric(column: str, base: EncodedColumn, settings: AuditSettings) -> list[_Planned]:
    import great_expectations.expectations as gxe

    values = np.asarray(base.sorted_uniques, dtype=np.float64)
    counts = base.sorted_counts
    q_low = _linear_quantile(values, counts, settings.range_quantile)
    q_high = _linear_quantile(values, counts, 1.0 - settings.range_quantile)
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
        median = native(result.get("observed_value"))
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


def _plan_domain(column: str, base: EncodedColumn, here: EncodedColumn) -> _Planned:
    import great_expectations.expectations as gxe

    known = pd.Index(base.uniques)
    domain = sorted((native(v) for v in known), key=str)
    batch_values = pd.Index(here.uniques)
    new_values = sorted((native(v) for v in batch_values[~values_in(batch_values, known)]), key=str)

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

    target, positive = dataset.target, native(dataset.positive_label)

    def read_values(result: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        _, _, unexpected = _map_counts(result)
        others = _shown(sorted({native(v) for v in result.get("partial_unexpected_list") or []}, key=str))
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
            gxe.ExpectColumnValuesToBeInSet(column=target, value_set=[positive], mostly=settings.label_rate_min),
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


def _plan_groups(column: str, inputs: _Inputs) -> list[_Planned]:
    import great_expectations.expectations as gxe
    from great_expectations.expectations.row_conditions import Column

    settings = inputs.settings
    here = inputs.encoded[column]
    groups = [native(v) for v in here.uniques]
    if inputs.reference_encoded is not None:
        seen = set(groups)
        groups += [native(v) for v in inputs.reference_encoded[column].uniques if native(v) not in seen]
    non_null = here.present
    planned: list[_Planned] = []
    for group in sorted(groups, key=str):
        name = f"{column} == {group!r}"

        def read_members(result: dict[str, Any]) -> tuple[str, dict[str, Any]]:
            _, rows, unexpected = _map_counts(result)
            return f"rows: {rows - unexpected}", {"rows": rows - unexpected}

        def read_share(result: dict[str, Any]) -> tuple[str, dict[str, Any]]:
            _, rows, unexpected = _map_counts(result)
            members = rows - unexpected
            share = members / rows if rows else 0.0
            return f"{_pct(share)} ({members} of {rows} rows)", {"share": share, "rows": members}

        expected_size = f"group {name} with at least {settings.min_group_rows} rows"
        if non_null >= settings.min_group_rows:
            # members >= min_group_rows exactly when the group's share of the
            # non-null rows is at least min_group_rows / non_null (same division).
            planned.append(
                _Planned(
                    "group_size",
                    [column],
                    gxe.ExpectColumnValuesToBeInSet(
                        column=column, value_set=[group], mostly=settings.min_group_rows / non_null
                    ),
                    expected_size,
                    read_members,
                )
            )
        else:
            # Fewer labelled rows than one group needs: count the group's rows directly.
            planned.append(
                _Planned(
                    "group_size",
                    [column],
                    gxe.ExpectTableRowCountToBeBetween(
                        min_value=settings.min_group_rows, row_condition=Column(column) == group
                    ),
                    expected_size,
                    _read_observed_value("rows:"),
                )
            )
        if settings.min_group_share > 0:
            planned.append(
                _Planned(
                    "group_share",
                    [column],
                    gxe.ExpectColumnValuesToBeInSet(column=column, value_set=[group], mostly=settings.min_group_share),
                    f"group {name} with at least {_pct(settings.min_group_share)} of rows",
                    read_share,
                )
            )
    return planned


def _plan_unique_ids(ids: list[str], settings: AuditSettings, encoded: EncodedFrame) -> _Planned:
    import great_expectations.expectations as gxe

    def decode(example: Any) -> Any:
        """The id value behind a code of the batch view (an id column in the view holds codes)."""
        if isinstance(example, dict):
            return {name: decode_one(name, value) for name, value in example.items()}
        return decode_one(ids[0], example)

    def decode_one(name: str, value: Any) -> Any:
        column = encoded[name]
        if column.kind == "datetime" or value is None or pd.isna(value):
            return native(value)
        return native(column.uniques[int(value)])

    mostly = 1.0 - settings.max_duplicate_share
    expectation = (
        gxe.ExpectColumnValuesToBeUnique(column=ids[0], mostly=mostly)
        if len(ids) == 1
        else gxe.ExpectCompoundColumnsToBeUnique(column_list=ids, mostly=mostly)
    )

    def read(result: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        rows, _, repeated = _map_counts(result)
        share = repeated / rows if rows else 0.0
        examples = _shown([decode(v) for v in result.get("partial_unexpected_list") or []])
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


def _ids_in(inputs: _Inputs) -> np.ndarray:
    """Boolean mask: the batch row's id already exists in the reference."""
    ids = inputs.dataset.id_columns
    assert inputs.reference is not None and inputs.reference_encoded is not None
    if len(ids) == 1:
        return values_in(inputs.batch[ids[0]], inputs.reference[ids[0]])
    return pd.MultiIndex.from_frame(inputs.batch[ids]).isin(pd.MultiIndex.from_frame(inputs.reference[ids]))


def _plan_seen_ids(ids: list[str], batch: pd.DataFrame, seen: np.ndarray, settings: AuditSettings) -> _Planned:
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

    # The membership test runs on the encodings (a hash join); GX counts the flagged rows.
    return _Planned(
        "ids_seen_in_reference",
        list(ids),
        gxe.ExpectColumnValuesToBeInSet(
            column=_DERIVED_SEEN_ID, value_set=[False], mostly=1.0 - settings.max_duplicate_share
        ),
        f"{ids} of the batch new, not already in the reference (at most {_pct(settings.max_duplicate_share)} of rows)",
        read,
        asset="derived",
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

    # Rows are compared through exact row keys (pipelines.data.columns); GX counts the flagged rows.
    return _Planned(
        "duplicate_rows",
        list(columns),
        gxe.ExpectColumnValuesToBeInSet(
            column=_DERIVED_REPEATED, value_set=[False], mostly=1.0 - settings.max_duplicate_share
        ),
        f"rows distinct on every column but the ids (at most {_pct(settings.max_duplicate_share)} "
        "of rows in duplicate groups)",
        read,
        asset="derived",
    )


def _plan_freshness(inputs: _Inputs, notes: list[str]) -> list[_Planned]:
    import great_expectations.expectations as gxe

    time_column, settings = inputs.dataset.time_column, inputs.settings
    if not time_column:
        return []
    if inputs.reference is None:
        notes.append(NOTE_NO_FRESHNESS_CLOCK)
        return []
    if not inputs.reference_is_earlier:
        notes.append(NOTE_NOT_EARLIER.format(check="freshness"))
        return []
    here, there = inputs.batch[time_column], inputs.reference[time_column]
    if column_kind(here) != "datetime" or column_kind(there) != "datetime":
        notes.append(NOTE_TIME_NOT_DATES.format(column=time_column))
        return []
    latest = naive_utc(there).max()
    if pd.isna(latest):
        notes.append(NOTE_TIME_NOT_DATES.format(column=time_column))
        return []

    def read(result: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        _, non_null, stale = _map_counts(result)
        share = stale / non_null if non_null else 0.0
        return (
            f"{stale} rows ({_pct(share)}) at or before it",
            {"stale_rows": stale, "stale_share": share, "reference_latest": latest.isoformat()},
        )

    return [
        _Planned(
            "freshness",
            [time_column],
            gxe.ExpectColumnValuesToBeBetween(
                column=time_column,
                min_value=latest.to_pydatetime(),
                strict_min=True,
                mostly=1.0 - settings.max_stale_share,
            ),
            f"{time_column!r} later than the reference's latest decision {latest.isoformat()} "
            f"(at most {_pct(settings.max_stale_share)} of rows at or before it)",
            read,
        )
    ]


# --------------------------------------------------------------------------- mixed types


def _type_family(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return "bool"
    if isinstance(value, int | float | np.number):
        return "number"
    if isinstance(value, str):
        return "str"
    return type(value).__name__


def _mixed_types(inputs: _Inputs, columns: Sequence[str]) -> list[Finding]:
    """Text columns that mostly hold numbers, or hold values of several Python types."""
    findings = []
    threshold = inputs.settings.mixed_types_min_numeric_share
    for name in columns:
        series = inputs.batch[name]
        dtype = series.dtype
        if column_kind(series) != "categorical" or pd.api.types.is_bool_dtype(dtype):
            continue
        column = inputs.encoded[name]
        if column.n_unique == 0:
            continue
        uniques = pd.Index(column.uniques)
        if pd.api.types.is_object_dtype(uniques.dtype):
            families = pd.Series(list(uniques), dtype=object).map(_type_family)
            kinds = sorted(set(families))
            if len(kinds) > 1:
                per_kind = {k: int(column.counts[(families == k).to_numpy()].sum()) for k in kinds}
                findings.append(
                    Finding(
                        check="mixed_types",
                        severity="block",
                        columns=[name],
                        message=f"values of {name!r} of one type; found "
                        + ", ".join(f"{kind} in {rows} rows" for kind, rows in per_kind.items()),
                        evidence={"rows_per_type": per_kind},
                    )
                )
                continue
            if kinds != ["str"]:
                continue
        numeric = pd.to_numeric(pd.Series(uniques.astype(str), dtype=object), errors="coerce").notna().to_numpy()
        numeric_rows = int(column.counts[numeric].sum())
        share = numeric_rows / column.present
        if not threshold <= share < 1.0:
            continue
        text = np.flatnonzero(~numeric)
        text = text[np.argsort(-column.counts[text], kind="stable")][:5]
        examples = [native(uniques[i]) for i in text]
        findings.append(
            Finding(
                check="mixed_types",
                severity="block",
                columns=[name],
                message=(
                    f"{name!r} all numbers, or text with under {_pct(threshold)} of values numbers; "
                    f"found {_pct(share)} of its values numbers and the rest text, e.g. {examples}"
                ),
                evidence={
                    "numeric_share": share,
                    "text_rows": column.present - numeric_rows,
                    "text_examples": examples,
                },
            )
        )
    return findings


# --------------------------------------------------------------------------- running the suite


def _ge_context(data_docs_dir: Path | None) -> Any:
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
    if data_docs_dir is not None:
        # An ephemeral context keeps suites and results in memory; a filesystem
        # Data Docs site renders them into the chosen folder.
        data_docs_dir.mkdir(parents=True, exist_ok=True)
        context.add_data_docs_site(
            "fairgate",
            {
                "class_name": "SiteBuilder",
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(data_docs_dir.resolve()),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
    return context


def _run_great_expectations(
    assets: dict[Asset, pd.DataFrame], planned: list[_Planned], data_docs_dir: Path | None
) -> list[tuple[bool, dict[str, Any]]]:
    """Validate the planned expectations; return (success, result) in plan order."""
    import great_expectations as gx
    from great_expectations.checkpoint.actions import ValidationAction

    context = _ge_context(data_docs_dir)
    source = context.data_sources.add_pandas(name="fairgate")
    outcome: dict[int, tuple[bool, dict[str, Any]]] = {}
    for asset_name, frame in assets.items():
        keys = [i for i, plan in enumerate(planned) if plan.asset == asset_name]
        if not keys:
            continue
        definition = source.add_dataframe_asset(name=asset_name).add_batch_definition_whole_dataframe("whole")
        for key in keys:
            planned[key].expectation.meta = {"fairgate_key": key}
        # Built in one go: ``add_expectation`` compares each new expectation with
        # every earlier one (quadratic), and the plan holds no duplicates.
        suite = gx.ExpectationSuite(
            name=f"fairgate-audit-{asset_name}", expectations=[planned[key].expectation for key in keys]
        )
        # One validation definition run by one checkpoint: the batch is built (and fingerprinted by
        # GX) once; with Data Docs, the checkpoint also renders the result into the site.
        suite = context.suites.add(suite)
        validation = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"fairgate-{asset_name}", data=definition, suite=suite)
        )
        actions: list[ValidationAction] = []
        if data_docs_dir is not None:
            actions.append(gx.checkpoint.UpdateDataDocsAction(name="data_docs"))
        checkpoint = context.checkpoints.add(
            gx.Checkpoint(
                name=f"fairgate-{asset_name}",
                validation_definitions=[validation],
                actions=actions,
                result_format="BASIC",
            )
        )
        run = checkpoint.run(batch_parameters={"dataframe": frame})
        results = [r for validation_result in run.run_results.values() for r in validation_result.results]
        for result in results:
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
