"""What the data audit expects of a batch: one Great Expectations expectation per check, and its reader.

:func:`plan_expectations` turns the dataset settings, the audit thresholds and
(when given) a reference into a list of :class:`PlannedExpectation` and the
tables they validate:

- **schema**: every configured column present; the reference's columns, no
  more, no fewer;
- **each column**: its null share (against the reference's, beyond noise;
  on a first run, under ``audit.first_run_max_null_share``); against the
  reference, its type, its numeric range and median (reference quantiles
  widened by a margin), or its categorical domain;
- **numbers**: finite, no ``inf`` or ``-inf`` (:mod:`pipelines.data.audit_measurable`);
- **label**: the two classes, and the positive rate within bounds;
- **groups**: at least two groups per sensitive attribute
  (:mod:`pipelines.data.audit_measurable`), the size and share of every group;
- **ids and rows**: ids unique, ids not already in the reference, no more
  repeated rows than chance gives in data of this shape
  (:mod:`pipelines.data.chance`; within chance they are a warning);
- **freshness**: the time column later than the reference's latest decision.

Each planned expectation carries a reader that turns its Great Expectations
result into what a finding says was found, and its evidence.  Great
Expectations takes about two seconds to import, so each planner imports it
when an audit runs, never when this module is imported.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from pipelines.core.config import AuditSettings, DatasetSettings
from pipelines.core.findings import Severity
from pipelines.core.small_groups import POLICY_KEYS, merged_values, policy_groups
from pipelines.data.audit_measurable import DERIVED_INFINITE, infinite_counts, plan_finite, plan_two_groups
from pipelines.data.audit_rows import (
    DERIVED_REPEATED,
    DERIVED_SEEN_ID,
    map_counts,
    plan_duplicate_rows,
    plan_seen_ids,
    plan_unique_ids,
)
from pipelines.data.audit_values import SHOWN_VALUES, native, number_text, percent, shown_values
from pipelines.data.columns import EncodedColumn, EncodedFrame, column_kind, naive_utc, values_in
from pipelines.data.great_expectations_run import Asset, PlannedExpectation, great_expectations_view

NOTE_NO_FRESHNESS_CLOCK = (
    "freshness: no reference, and fairgate reads no clock (results must not depend on when they run): not checked"
)
REMEDY_SMALL_GROUP = "too small to measure fairness on; without editing the data, declare a reviewed policy: {policy}"
REMEDY_MERGED_SMALL = (
    "the merged group is still too small: merge more groups into it, or name {group!r} under "
    "dataset.small_groups.{column}.report_only"
)
REMEDY_REPORT_ONLY = (
    "reported, not gated (dataset.small_groups.{column}.report_only names {group!r}): a warning, not a block"
)
NOTE_TIME_NOT_DATES = "freshness: time column {column!r} does not hold dates here and in the reference: not checked"
NOTE_NOT_EARLIER = "{check}: not checked, the reference is a previous version of the data, not earlier data"
NOTE_NULL_ALLOWANCE = (
    "{column}: null share allowance {allowed} (reference null share {reference} + max_null_share, "
    "beyond binomial noise)"
)

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


@dataclass
class AuditInputs:
    """The batch, the reference and their encodings, shared by the planning steps.

    Attributes
    ----------
    batch : pandas.DataFrame
        The table audited.
    reference : pandas.DataFrame or None
        The table it is compared with, if any.
    encoded : EncodedFrame
        The encoding of ``batch``.
    reference_encoded : EncodedFrame or None
        The encoding of ``reference`` (None without a reference).
    dataset : DatasetSettings
        Column roles.
    settings : AuditSettings
        Thresholds of the suite.
    reference_is_earlier : bool
        False when the reference is a previous version the batch replaces.
    """

    batch: pd.DataFrame
    reference: pd.DataFrame | None
    encoded: EncodedFrame
    reference_encoded: EncodedFrame | None
    dataset: DatasetSettings
    settings: AuditSettings
    reference_is_earlier: bool = True


def configured_columns(dataset: DatasetSettings) -> list[str]:
    """Return every column the configuration names (target, time, ids, sensitive, features, exclusions), once."""
    columns = [dataset.target]
    if dataset.time_column:
        columns.append(dataset.time_column)
    columns += dataset.id_columns + dataset.sensitive + (dataset.features or [])
    columns += list(dataset.exclude_columns)
    return list(dict.fromkeys(columns))


def audited_columns(frame: pd.DataFrame, dataset: DatasetSettings) -> list[str]:
    """Return the columns of ``frame`` the audit checks: all but the configured exclusions."""
    excluded = set(dataset.exclude_columns)
    return [c for c in frame.columns if c not in excluded]


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




def _read_null_share(result: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    rows, _, nulls = map_counts(result)
    share = nulls / rows if rows else 0.0
    return f"{percent(share)} null ({nulls} of {rows} rows)", {
        "null_rows": nulls,
        "rows": rows,
        "null_share": share,
    }


def _read_observed_value(label: str) -> Callable[[dict[str, Any]], tuple[str, dict[str, Any]]]:
    def read(result: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        value = native(result.get("observed_value"))
        shown = number_text(value) if isinstance(value, float) else value
        return f"{label} {shown}", {"observed": value}

    return read


def _read_present(result: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return "present", {}


# --------------------------------------------------------------------------- the plan


def plan_expectations(
    inputs: AuditInputs, classes: list[Any]
) -> tuple[list[PlannedExpectation], dict[Asset, pd.DataFrame], list[str]]:
    """Build the expectations and the tables they validate.

    Parameters
    ----------
    inputs : AuditInputs
        The batch, the reference, their encodings and the settings.
    classes : list
        The two classes of the target (from the reference when given).

    Returns
    -------
    planned : list of PlannedExpectation
        In the order of the report: schema, row count, each audited column,
        finite numbers, label, sensitive groups, ids and rows, freshness.
    assets : dict
        The tables validated, by :data:`Asset` name: the batch view, the
        derived per-row flags and, for text columns compared with the
        reference, one value per Python type.
    notes : list of str
        What was allowed or not checked, and why.
    """
    notes: list[str] = []
    audited = audited_columns(inputs.batch, inputs.dataset)
    planned = _plan_schema(inputs)
    column_plans, type_columns = _plan_columns(inputs, audited, notes)
    planned.extend(column_plans)
    infinite, derived_infinite = infinite_counts(inputs.batch, audited)
    planned.append(plan_finite(infinite))
    planned.extend(_plan_label(inputs.dataset, inputs.settings, classes))
    for column in inputs.dataset.sensitive:
        planned.append(plan_two_groups(column, inputs.encoded[column], len(inputs.batch)))
        planned.extend(_plan_groups(column, inputs))
    row_plans, derived = _plan_ids_and_rows(inputs, audited, notes)
    derived[DERIVED_INFINITE] = derived_infinite
    planned.extend(row_plans)
    planned.extend(_plan_freshness(inputs, notes))
    return planned, _assets(inputs, audited, derived, type_columns), notes


def _plan_schema(inputs: AuditInputs) -> list[PlannedExpectation]:
    """Every configured column, the batch's columns against the reference's, and the row count."""
    # lazy: great_expectations takes about 2 s to import; only an audit that runs pays for it
    import great_expectations.expectations as gxe

    planned: list[PlannedExpectation] = []
    for column in configured_columns(inputs.dataset):
        planned.append(
            PlannedExpectation(
                "schema",
                [column],
                gxe.ExpectColumnToExist(column=column),
                f"configured column {column!r} present",
                _read_present,
            )
        )
    if inputs.reference is not None:
        planned.append(_plan_column_set(inputs.batch, inputs.reference))

    min_rows = inputs.settings.min_rows
    planned.append(
        PlannedExpectation(
            "row_count",
            [],
            gxe.ExpectTableRowCountToBeBetween(min_value=min_rows),
            f"at least {min_rows} rows",
            _read_observed_value("rows:"),
        )
    )
    return planned


def _plan_columns(
    inputs: AuditInputs, audited: list[str], notes: list[str]
) -> tuple[list[PlannedExpectation], dict[str, list[Any]]]:
    """Per audited column: its null share and, against the reference, its type, range or domain.

    Also returns, per column whose type is checked on one value per Python
    type, those values (the ``types`` table).
    """
    batch, reference, reference_encoded = inputs.batch, inputs.reference, inputs.reference_encoded
    ids = inputs.dataset.id_columns
    planned: list[PlannedExpectation] = []
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
                representatives = _type_representatives(batch[column], inputs.encoded[column])
                type_columns[column] = representatives
            planned.append(_plan_type(column, ref_kind, reference[column], batch[column], representatives))
        if (
            column in ids
            or column == inputs.dataset.target
            or ref_kind != batch_kind
            or ref_kind not in ("numeric", "categorical")
        ):
            continue
        base = reference_encoded[column]
        if base.present == 0:
            notes.append(f"{column}: entirely null in the reference, no range or domain to compare with")
            continue
        if ref_kind == "numeric":
            planned.extend(_plan_numeric(column, base, inputs.settings))
        elif ref_kind == "categorical":
            planned.append(_plan_domain(column, base, inputs.encoded[column]))
    return planned, type_columns


def _plan_ids_and_rows(
    inputs: AuditInputs, audited: list[str], notes: list[str]
) -> tuple[list[PlannedExpectation], dict[str, np.ndarray]]:
    """Ids unique and not already in the reference, rows not repeated; with the derived per-row flags."""
    batch, reference, settings = inputs.batch, inputs.reference, inputs.settings
    encoded, ids = inputs.encoded, inputs.dataset.id_columns
    planned: list[PlannedExpectation] = []
    derived: dict[str, np.ndarray] = {}
    if ids:
        planned.append(plan_unique_ids(ids, settings, encoded))
        if reference is not None and inputs.reference_encoded is not None and not inputs.reference_is_earlier:
            notes.append(NOTE_NOT_EARLIER.format(check="ids already seen in the reference"))
        elif reference is not None and inputs.reference_encoded is not None:
            seen = _ids_in(inputs)
            derived[DERIVED_SEEN_ID] = seen
            planned.append(plan_seen_ids(ids, batch, seen, settings))
    row_columns = [c for c in audited if c not in ids]
    repeated = encoded.repeated_rows(row_columns)
    derived[DERIVED_REPEATED] = repeated
    planned.append(plan_duplicate_rows(row_columns, encoded, repeated, settings, notes))
    return planned, derived


def _assets(
    inputs: AuditInputs, audited: list[str], derived: dict[str, np.ndarray], type_columns: dict[str, list[Any]]
) -> dict[Asset, pd.DataFrame]:
    """The tables Great Expectations validates: the batch view, the derived flags, the type representatives."""
    ids = inputs.dataset.id_columns
    encodable = set(audited) | set(ids)
    assets: dict[Asset, pd.DataFrame] = {"batch": great_expectations_view(inputs.batch, inputs.encoded, encodable, ids)}
    assets["derived"] = pd.DataFrame(derived)
    if type_columns:
        assets["types"] = pd.DataFrame({name: pd.Series(values, dtype=object) for name, values in type_columns.items()})
    return assets


def _plan_column_set(batch: pd.DataFrame, reference: pd.DataFrame) -> PlannedExpectation:
    # lazy: great_expectations takes about 2 s to import; only an audit that runs pays for it
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

    return PlannedExpectation(
        "schema",
        missing + new,
        gxe.ExpectTableColumnsToMatchSet(column_set=expected_columns, exact_match=True),
        "the columns of the reference, no more, no fewer",
        read,
    )


def _plan_null_share(column: str, inputs: AuditInputs, notes: list[str]) -> list[PlannedExpectation]:
    """The column's null share: against the reference's beyond noise, or under the first-run limit."""
    # lazy: great_expectations takes about 2 s to import; only an audit that runs pays for it
    import great_expectations.expectations as gxe

    settings = inputs.settings
    reference = inputs.reference
    rows = len(inputs.batch)
    if reference is None or column not in reference.columns:
        limit = settings.first_run_max_null_share
        return [
            PlannedExpectation(
                "null_share",
                [column],
                gxe.ExpectColumnValuesToNotBeNull(column=column, mostly=1.0 - limit),
                f"null share of {column!r} at most {percent(limit)} (audit.first_run_max_null_share: "
                "no reference column to compare with)",
                _read_null_share,
            )
        ]
    reference_share = float(reference[column].isna().mean())
    if reference_share >= 1.0:
        notes.append(f"{column}: entirely null in the reference, nulls allowed")
        return []
    # A rise of more than max_null_share over the reference's share that binomial noise
    # at noise_significance cannot explain: the largest null count still allowed.
    rate = min(1.0, reference_share + settings.max_null_share)
    allowed_rows = int(stats.binom.ppf(1.0 - settings.noise_significance, rows, rate))
    if reference_share > 0.0:
        notes.append(
            NOTE_NULL_ALLOWANCE.format(column=column, allowed=percent(rate), reference=percent(reference_share))
        )
    return [
        PlannedExpectation(
            "null_share",
            [column],
            # GX passes when (rows - nulls) / rows >= mostly: the same division, so nulls <= allowed_rows
            gxe.ExpectColumnValuesToNotBeNull(column=column, mostly=(rows - allowed_rows) / rows),
            f"null share of {column!r} at most the reference's {percent(reference_share)} + "
            f"{percent(settings.max_null_share)} (audit.max_null_share), beyond binomial noise at "
            f"audit.noise_significance {settings.noise_significance:g}: at most {allowed_rows} of {rows} rows",
            _read_null_share,
        )
    ]


def _plan_type(
    column: str, kind: str, reference: pd.Series, batch: pd.Series, representatives: list[Any] | None
) -> PlannedExpectation:
    # lazy: great_expectations takes about 2 s to import; only an audit that runs pays for it
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

    return PlannedExpectation(
        "column_type",
        [column],
        gxe.ExpectColumnValuesToBeInTypeList(column=column, type_list=_TYPE_LIST[kind]),
        f"{column!r} {kind} like the reference ({reference.dtype})",
        read,
        asset="batch" if representatives is None else "types",
    )


def _plan_numeric(column: str, base: EncodedColumn, settings: AuditSettings) -> list[PlannedExpectation]:
    # lazy: great_expectations takes about 2 s to import; only an audit that runs pays for it
    import great_expectations.expectations as gxe

    values = np.asarray(base.sorted_uniques, dtype=np.float64)
    counts = base.sorted_counts
    q_low = _linear_quantile(values, counts, settings.range_quantile)
    q_high = _linear_quantile(values, counts, 1.0 - settings.range_quantile)
    span = q_high - q_low
    low, high = q_low - settings.range_margin * span, q_high + settings.range_margin * span

    def read_range(result: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        _, non_null, outside = map_counts(result)
        share = outside / non_null if non_null else 0.0
        examples = shown_values(result.get("partial_unexpected_list") or [])
        found = f"{percent(share)} of non-null rows outside ({outside} rows)"
        if outside:
            found += f", e.g. {[number_text(v) for v in examples[:5]]}"
        return found, {
            "low": low,
            "high": high,
            "outside_rows": outside,
            "outside_share": share,
            "examples": examples,
        }

    def read_median(result: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        median = native(result.get("observed_value"))
        found = "no median (no non-null values)" if median is None else f"median {number_text(median)}"
        return found, {"median": median, "reference_q_low": q_low, "reference_q_high": q_high}

    return [
        PlannedExpectation(
            "numeric_range",
            [column],
            gxe.ExpectColumnValuesToBeBetween(
                column=column, min_value=low, max_value=high, mostly=1.0 - settings.max_out_of_range_share
            ),
            f"{column!r} within [{number_text(low)}, {number_text(high)}] (reference quantiles widened by "
            f"{settings.range_margin:g} of their span) for at least "
            f"{percent(1.0 - settings.max_out_of_range_share)} of non-null rows",
            read_range,
        ),
        # A unit change (EUR to kEUR) stays inside the widened range when the
        # lower bound goes below zero; the batch median leaving the reference's
        # own [q_low, q_high] catches it.
        PlannedExpectation(
            "numeric_shift",
            [column],
            gxe.ExpectColumnMedianToBeBetween(column=column, min_value=q_low, max_value=q_high),
            f"median of {column!r} within the reference range [{number_text(q_low)}, {number_text(q_high)}]",
            read_median,
        ),
    ]


def _plan_domain(column: str, base: EncodedColumn, here: EncodedColumn) -> PlannedExpectation:
    # lazy: great_expectations takes about 2 s to import; only an audit that runs pays for it
    import great_expectations.expectations as gxe

    known = pd.Index(base.uniques)
    domain = sorted((native(v) for v in known), key=str)
    batch_values = pd.Index(here.uniques)
    new_values = sorted((native(v) for v in batch_values[~values_in(batch_values, known)]), key=str)

    def read(result: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        _, non_null, unexpected = map_counts(result)
        share = unexpected / non_null if non_null else 0.0
        if not unexpected:
            return "no new values", {"new_values": []}
        return (
            f"new values {shown_values(new_values)} in {unexpected} rows ({percent(share)} of non-null)",
            {"new_values": new_values, "rows": unexpected, "share": share, "domain": domain},
        )

    return PlannedExpectation(
        "categorical_domain",
        [column],
        gxe.ExpectColumnValuesToBeInSet(column=column, value_set=domain),
        f"{column!r} values within the reference domain {shown_values(domain)}"
        + (f" (+{len(domain) - SHOWN_VALUES} more)" if len(domain) > SHOWN_VALUES else ""),
        read,
    )


def _plan_label(dataset: DatasetSettings, settings: AuditSettings, classes: list[Any]) -> list[PlannedExpectation]:
    # lazy: great_expectations takes about 2 s to import; only an audit that runs pays for it
    import great_expectations.expectations as gxe

    target, positive = dataset.target, native(dataset.positive_label)

    def read_values(result: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        _, _, unexpected = map_counts(result)
        others = shown_values(sorted({native(v) for v in result.get("partial_unexpected_list") or []}, key=str))
        if not unexpected:
            return "only these values", {}
        return f"other values {others} in {unexpected} rows", {"rows": unexpected, "other_values": others}

    def read_rate(result: dict[str, Any], positive_is_unexpected: bool) -> tuple[str, dict[str, Any]]:
        _, non_null, unexpected = map_counts(result)
        positives = unexpected if positive_is_unexpected else non_null - unexpected
        rate = positives / non_null if non_null else 0.0
        return f"a rate of {rate:.4f} ({positives} of {non_null} labelled rows)", {"label_rate": rate}

    return [
        PlannedExpectation(
            "label_values",
            [target],
            gxe.ExpectColumnValuesToBeInSet(column=target, value_set=classes),
            f"{target!r} values within the two classes {classes}",
            read_values,
        ),
        PlannedExpectation(
            "label_rate",
            [target],
            gxe.ExpectColumnValuesToBeInSet(column=target, value_set=[positive], mostly=settings.label_rate_min),
            f"share of {target!r} == {positive!r} at least {settings.label_rate_min:g}",
            lambda r: read_rate(r, positive_is_unexpected=False),
        ),
        PlannedExpectation(
            "label_rate",
            [target],
            gxe.ExpectColumnValuesToNotBeInSet(
                column=target, value_set=[positive], mostly=1.0 - settings.label_rate_max
            ),
            f"share of {target!r} == {positive!r} at most {settings.label_rate_max:g}",
            lambda r: read_rate(r, positive_is_unexpected=True),
        ),
    ]


def _plan_groups(column: str, inputs: AuditInputs) -> list[PlannedExpectation]:
    """The size and share checks of every group of one sensitive attribute, as its small-group policy forms them.

    A merged group is checked as one group (the rows of all its values); a
    report-only group's checks warn instead of blocking; a group named in no
    policy blocks when small, and its finding names the policy keys.
    """
    # lazy: great_expectations takes about 2 s to import; only an audit that runs pays for it
    import great_expectations.expectations as gxe
    from great_expectations.expectations.row_conditions import Column

    settings = inputs.settings
    policy = policy_groups(inputs.dataset, column)
    here = inputs.encoded[column]
    values = [native(v) for v in here.uniques]
    if inputs.reference_encoded is not None:
        seen = set(values)
        values += [native(v) for v in inputs.reference_encoded[column].uniques if native(v) not in seen]
    groups = merged_values(values, policy)
    report_only = set(policy.report_only) if policy is not None else set()
    non_null = here.present
    planned: list[PlannedExpectation] = []
    for group in sorted(groups, key=str):
        members = sorted(groups[group], key=str)
        merged = policy is not None and (len(members) > 1 or str(members[0]) in policy.merged_into)
        name = f"{column} == {members[0]!r}" if not merged else f"{column} in {members} (merged into {group!r})"
        severity: Severity = "warn" if group in report_only else "block"
        if group in report_only:
            remedy = REMEDY_REPORT_ONLY.format(column=column, group=group)
        elif merged:
            remedy = REMEDY_MERGED_SMALL.format(column=column, group=group)
        else:
            remedy = REMEDY_SMALL_GROUP.format(policy=POLICY_KEYS.format(attribute=column))

        def read_members(result: dict[str, Any]) -> tuple[str, dict[str, Any]]:
            _, rows, unexpected = map_counts(result)
            return f"rows: {rows - unexpected}", {"rows": rows - unexpected}

        def read_share(result: dict[str, Any]) -> tuple[str, dict[str, Any]]:
            _, rows, unexpected = map_counts(result)
            members = rows - unexpected
            share = members / rows if rows else 0.0
            return f"{percent(share)} ({members} of {rows} rows)", {"share": share, "rows": members}

        expected_size = f"group {name} with at least {settings.min_group_rows} rows"
        if non_null >= settings.min_group_rows:
            # members >= min_group_rows exactly when the group's share of the
            # non-null rows is at least min_group_rows / non_null (same division).
            planned.append(
                PlannedExpectation(
                    "group_size",
                    [column],
                    gxe.ExpectColumnValuesToBeInSet(
                        column=column, value_set=members, mostly=settings.min_group_rows / non_null
                    ),
                    expected_size,
                    read_members,
                    severity=severity,
                    remedy=remedy,
                )
            )
        else:
            # Fewer labelled rows than one group needs: count the group's rows directly.
            condition = Column(column) == members[0] if len(members) == 1 else Column(column).is_in(members)
            planned.append(
                PlannedExpectation(
                    "group_size",
                    [column],
                    gxe.ExpectTableRowCountToBeBetween(min_value=settings.min_group_rows, row_condition=condition),
                    expected_size,
                    _read_observed_value("rows:"),
                    severity=severity,
                    remedy=remedy,
                )
            )
        if settings.min_group_share > 0:
            planned.append(
                PlannedExpectation(
                    "group_share",
                    [column],
                    gxe.ExpectColumnValuesToBeInSet(column=column, value_set=members, mostly=settings.min_group_share),
                    f"group {name} with at least {percent(settings.min_group_share)} of rows",
                    read_share,
                    severity=severity,
                    remedy=remedy,
                )
            )
    return planned


def _ids_in(inputs: AuditInputs) -> np.ndarray:
    """Boolean mask: the batch row's id already exists in the reference."""
    ids = inputs.dataset.id_columns
    assert inputs.reference is not None and inputs.reference_encoded is not None
    if len(ids) == 1:
        return values_in(inputs.batch[ids[0]], inputs.reference[ids[0]])
    return pd.MultiIndex.from_frame(inputs.batch[ids]).isin(pd.MultiIndex.from_frame(inputs.reference[ids]))


def _plan_freshness(inputs: AuditInputs, notes: list[str]) -> list[PlannedExpectation]:
    # lazy: great_expectations takes about 2 s to import; only an audit that runs pays for it
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
        _, non_null, stale = map_counts(result)
        share = stale / non_null if non_null else 0.0
        return (
            f"{stale} rows ({percent(share)}) at or before it",
            {"stale_rows": stale, "stale_share": share, "reference_latest": latest.isoformat()},
        )

    return [
        PlannedExpectation(
            "freshness",
            [time_column],
            gxe.ExpectColumnValuesToBeBetween(
                column=time_column,
                min_value=latest.to_pydatetime(),
                strict_min=True,
                mostly=1.0 - settings.max_stale_share,
            ),
            f"{time_column!r} later than the reference's latest decision {latest.isoformat()} "
            f"(at most {percent(settings.max_stale_share)} of rows at or before it)",
            read,
        )
    ]
