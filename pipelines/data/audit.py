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

Modules: this one is the entry point (:func:`audit_dataset`, :class:`AuditResult`,
input validation); :mod:`pipelines.data.audit_expectations` plans the
expectations and reads their results; :mod:`pipelines.data.great_expectations_run`
runs them; :mod:`pipelines.data.audit_mixed_types` finds mixed types;
:mod:`pipelines.data.audit_values` writes values as findings show them.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.core.config import AuditSettings, DatasetSettings
from pipelines.core.errors import BadInputError
from pipelines.core.findings import CheckReport, Finding
from pipelines.data.audit_expectations import (
    AuditInputs,
    audited_columns,
    configured_columns,
    plan_expectations,
)

# re-exported: tests/data/test_fast_checks.py checks it against numpy from here
from pipelines.data.audit_expectations import _linear_quantile as _linear_quantile
from pipelines.data.audit_measurable import infinite_counts
from pipelines.data.audit_mixed_types import find_mixed_types
from pipelines.data.audit_values import json_ready, native
from pipelines.data.columns import EncodedFrame
from pipelines.data.drift import DriftStatistic, measure_drift
from pipelines.data.great_expectations_run import PlannedExpectation, run_great_expectations

logger = logging.getLogger(__name__)

ERR_EMPTY_BATCH = "the batch is empty: expected at least one row, found 0"
ERR_EMPTY_REFERENCE = "the reference is empty: expected earlier rows to compare with (None on a first run), found 0"
ERR_COLUMN_NAMES = "column names must be strings, found {found}"
ERR_MISSING_COLUMNS = "the {table} lacks configured columns {missing}; found columns {found}"
ERR_SINGLE_CLASS = "target {target!r} must hold two classes, found a single class {value!r} in the batch"
ERR_NOT_BINARY = "target {target!r} must hold two classes, found {count} in the {table}: {values}"
ERR_REFERENCE_INFINITE = (
    "the reference holds inf or -inf in {columns}: no range or median can be taken from it; "
    "expected the finite, reviewed data the batch is compared with"
)
ERR_POSITIVE_LABEL = "positive_label {label!r} must be one of the classes of target {target!r}, found {values}"

NOTE_NO_REFERENCE = (
    "no reference: these checks need one and did not run: schema and column types against the "
    "reference, numeric ranges and medians, categorical domains, ids already seen, freshness of the "
    "time column, drift of every feature, of the label rate and of the sensitive groups' shares"
)
NOTE_EXCLUDED = "excluded {column}: {reason}"


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
        reference is empty or lacks configured columns); the reference
        holds ``inf`` or ``-inf`` (an infinite batch is a blocking finding).
    """
    classes = _validate_inputs(batch, reference, dataset)
    inputs = _audit_inputs(batch, reference, dataset, settings, encoded, reference_encoded, reference_is_earlier)
    notes = [NOTE_EXCLUDED.format(column=c, reason=r) for c, r in dataset.exclude_columns.items()]
    if reference is None:
        notes.append(NOTE_NO_REFERENCE)
    clock = _Clock(timings)
    rows, findings = _check_expectations(inputs, classes, data_docs_dir, clock, notes)
    findings += _mixed_type_findings(inputs)
    clock.lap("mixed_types")
    drift, drift_findings = _check_drift(inputs, notes)
    findings += drift_findings
    clock.lap("drift")
    return _audit_result(inputs, rows, findings, notes, drift, data_docs_dir)


# --------------------------------------------------------------------------- the steps of the audit


def _audit_inputs(
    batch: pd.DataFrame,
    reference: pd.DataFrame | None,
    dataset: DatasetSettings,
    settings: AuditSettings,
    encoded: EncodedFrame | None,
    reference_encoded: EncodedFrame | None,
    reference_is_earlier: bool,
) -> AuditInputs:
    """The batch and the reference with their encodings (the caller's, or made here)."""
    return AuditInputs(
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


def _check_expectations(
    inputs: AuditInputs, classes: list[Any], data_docs_dir: Path | None, clock: _Clock, notes: list[str]
) -> tuple[list[dict[str, Any]], list[Finding]]:
    """Plan the expectations, validate them with Great Expectations, read the results.

    Returns the expectation table and one finding per failed expectation;
    the planners' notes are added to ``notes``.
    """
    planned, assets, plan_notes = plan_expectations(inputs, classes)
    clock.lap("profile")
    notes.extend(plan_notes)
    results = run_great_expectations(assets, planned, data_docs_dir)
    clock.lap("expectations")
    return _read_expectations(planned, results)


def _read_expectations(
    planned: list[PlannedExpectation], results: list[tuple[bool, dict[str, Any]]]
) -> tuple[list[dict[str, Any]], list[Finding]]:
    """One JSON-ready row per expectation, one finding per failed one, a warning per one passed within an allowance."""
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
        within_allowance = success and plan.warn_on_pass and int(result.get("unexpected_count", 0) or 0) > 0
        if not success or within_allowance:
            remedy = f"; {plan.remedy}" if plan.remedy and not success else ""
            findings.append(
                Finding(
                    check=plan.check,
                    severity=plan.severity if not success else "warn",
                    columns=list(plan.columns),
                    message=f"{plan.expected}; found {observed}{remedy}",
                    evidence=json_ready(evidence),
                )
            )
    return rows, findings


def _mixed_type_findings(inputs: AuditInputs) -> list[Finding]:
    """Mixed types in every audited column but the ids."""
    dataset = inputs.dataset
    columns = [c for c in audited_columns(inputs.batch, dataset) if c not in dataset.id_columns]
    return find_mixed_types(inputs.batch, inputs.encoded, columns, inputs.settings.mixed_types_min_numeric_share)


def _check_drift(inputs: AuditInputs, notes: list[str]) -> tuple[list[DriftStatistic], list[Finding]]:
    """Drift of every audited feature against the reference (nothing without one); its notes go to ``notes``."""
    reference, dataset = inputs.reference, inputs.dataset
    if inputs.reference_encoded is None or reference is None:
        return [], []
    compared = [
        c
        for c in audited_columns(inputs.batch, dataset)
        if c in reference.columns
        and c not in dataset.id_columns
        and c not in dataset.sensitive
        and c not in (dataset.target, dataset.time_column)
    ]
    measured = measure_drift(inputs.encoded, inputs.reference_encoded, compared, dataset, inputs.settings.drift)
    notes.extend(measured.notes)
    findings = [Finding(f.check, f.severity, f.columns, f.message, json_ready(f.evidence)) for f in measured.findings]
    return measured.statistics, findings


def _audit_result(
    inputs: AuditInputs,
    rows: list[dict[str, Any]],
    findings: list[Finding],
    notes: list[str],
    drift: list[DriftStatistic],
    data_docs_dir: Path | None,
) -> AuditResult:
    """The ``audit`` report and the tables behind it; the verdict is logged."""
    batch = inputs.batch
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
        missing = [c for c in configured_columns(dataset) if c not in frame.columns]
        if missing:
            raise BadInputError(ERR_MISSING_COLUMNS.format(table=table, missing=missing, found=list(frame.columns)))

    if reference is not None:
        infinite, _ = infinite_counts(reference, audited_columns(reference, dataset))
        if infinite:
            raise BadInputError(ERR_REFERENCE_INFINITE.format(columns=sorted(infinite)))
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
