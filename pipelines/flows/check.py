"""``fairgate check``: the data audit and the leakage checks on any CSV or Parquet file.

No Airflow and no MLflow: the file (and an optional reference file) is read,
its column roles come from the command line, the thresholds from the
``fairgate.yaml`` of the project the command runs in (or the built-in
defaults when there is none, which the notes say), and the same functions the
``retrain`` DAG calls do the work:

- :func:`pipelines.data.audit.audit_dataset`: the Great Expectations suite, mixed
  types and, with ``--reference``, drift;
- :func:`pipelines.data.leakage.find_leakage` on the file and its prospective
  split (:func:`pipelines.data.split.holdout_mask`: out-of-time with
  ``--time-column``, else seeded and stratified).

Exit codes: 0 nothing blocks, 1 a blocking finding, 2 bad usage or input (one
line naming the problem, nothing written), 3 an internal error (a bug).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from pipelines.core.config import (
    CONFIG_FILE_NAME,
    AuditSettings,
    DatasetSettings,
    LeakageSettings,
    SplitSettings,
    load_config,
)
from pipelines.core.errors import EXIT_BLOCKED, EXIT_INTERNAL, EXIT_PASSED, BadInputError, FairgateError
from pipelines.core.findings import Finding
from pipelines.core.tables import first_line, read_table
from pipelines.data.audit_values import json_ready, native
from pipelines.data.columns import naive_utc
from pipelines.reports.check_report import ReportPage, finding_lines, render_html

logger = logging.getLogger(__name__)


ERR_UNKNOWN_COLUMNS = "{path}: no column {names} (given as {options}); its {count} columns are {shown}"
ERR_ROLE_CLASH = "column {column!r} is given as both {first} and {second}"
ERR_TIME_NOT_DATES = (
    "--time-column {column!r} in {path} does not hold ISO 8601 dates: {count} of {rows} values "
    "do not parse, e.g. {example!r}"
)
ERR_TIME_NUMERIC = "--time-column {column!r} in {path} holds {dtype} values, not dates"
ERR_NO_TARGET_VALUES = "target {target!r} in {path} holds no values"
ERR_TARGET_CLASSES = "target {target!r} in {path} must hold two classes, found {count}: {values}"
ERR_TARGET_MISSING = "target {target!r} in {path} is missing on {count} row(s): every row needs its outcome"
ERR_TOO_FEW_TO_SPLIT = (
    "target {target!r} in {path} has {rows} row(s) of class {label!r}: too few for a training set and a holdout"
)
ERR_SPLIT = "{path}: cannot split into a training set and a holdout: {problem}"
ERR_REPORT_DIR = "--report {path}: exists and is not a folder"
ERR_EXCLUDED_ROLE = "column {column!r} is excluded in {config} ({reason}) but given as {option}"

NOTE_DEFAULTS = "no " + CONFIG_FILE_NAME + " in {start} or above it: built-in default thresholds"
NOTE_CONFIG = "thresholds from {path}"
NOTE_POSITIVE = (
    "positive_label {label!r} of fairgate.yaml is not a class of {target!r} {classes}: rates and AUCs are "
    "of {chosen!r} (the last class in sorted order)"
)
NOTE_EXCLUSION_ABSENT = "fairgate.yaml excludes {columns}: not columns of this file, nothing to exclude"
NOTE_NO_SENSITIVE = (
    "no --sensitive column: the representation of sensitive groups, their drift and the proxy checks did not run"
)
NOTE_REFERENCE = "reference: {path} ({rows} rows)"

_SHOWN_COLUMNS = 20
_SHOWN_CLASSES = 10


@dataclass
class CheckResult:
    """The outcome of ``fairgate check``: audit and leakage together.

    Attributes
    ----------
    rows, columns : int
        The size of the file checked.
    findings : list of Finding
        The audit's findings, then the leakage checks'.
    notes : list of str
        What did not run and why, exclusions applied, thresholds' source.
    expectations, drift : list of dict
        The audit's expectation table and drift statistics.
    """

    rows: int
    columns: int
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    expectations: list[dict[str, Any]] = field(default_factory=list)
    drift: list[dict[str, Any]] = field(default_factory=list)

    @property
    def verdict(self) -> Literal["pass", "blocked"]:
        """``blocked`` when any finding blocks, else ``pass``."""
        return "blocked" if any(f.severity == "block" for f in self.findings) else "pass"

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON of ``fairgate check --json``: verdict, findings, rows, columns, notes."""
        return {
            "verdict": self.verdict,
            "findings": [json_ready(f.to_dict()) for f in self.findings],
            "rows": self.rows,
            "columns": self.columns,
            "notes": list(self.notes),
        }


# --------------------------------------------------------------------------- settings and roles


@dataclass(frozen=True)
class _Settings:
    audit: AuditSettings
    leakage: LeakageSettings
    split: SplitSettings
    positive_label: Any
    exclude_columns: dict[str, str]
    note: str
    source: str = "the built-in defaults"


def _settings(start: Path) -> _Settings:
    """Load the thresholds of the project around ``start`` (``FAIRGATE_HOME`` first), or the defaults."""
    home = os.environ.get("FAIRGATE_HOME")
    if home:
        candidates = [Path(home)]
    else:
        here = start.resolve()
        candidates = [here, *here.parents]
    for folder in candidates:
        path = folder / CONFIG_FILE_NAME
        if path.is_file():
            config = load_config(path)
            return _Settings(
                config.audit,
                config.leakage,
                config.split,
                config.dataset.positive_label,
                dict(config.dataset.exclude_columns),
                NOTE_CONFIG.format(path=path),
                str(path),
            )
    if home:
        # FAIRGATE_HOME names a project that is not there: an error, never the defaults
        load_config(Path(home) / CONFIG_FILE_NAME)
    return _Settings(
        AuditSettings(),
        LeakageSettings(),
        SplitSettings(),
        DatasetSettings.model_fields["positive_label"].default,
        {},
        NOTE_DEFAULTS.format(start=start),
    )


def _check_roles(
    frame: pd.DataFrame,
    path: Path,
    target: str,
    time_column: str | None,
    sensitive: Sequence[str],
    id_columns: Sequence[str],
) -> None:
    roles: list[tuple[str, str]] = [(target, "--target")]
    if time_column:
        roles.append((time_column, "--time-column"))
    roles += [(c, "--sensitive") for c in sensitive] + [(c, "--id-column") for c in id_columns]
    unknown = [(c, option) for c, option in roles if c not in frame.columns]
    if unknown:
        names = list(dict.fromkeys(c for c, _ in unknown))
        options = sorted({option for _, option in unknown})
        shown = [str(c) for c in frame.columns[:_SHOWN_COLUMNS]]
        if frame.shape[1] > _SHOWN_COLUMNS:
            shown.append(f"... {frame.shape[1] - _SHOWN_COLUMNS} more")
        raise BadInputError(
            ERR_UNKNOWN_COLUMNS.format(
                path=path, names=names, options=", ".join(options), count=frame.shape[1], shown=shown
            )
        )
    seen: dict[str, str] = {}
    for column, option in roles:
        if column in seen and seen[column] != option:
            raise BadInputError(ERR_ROLE_CLASH.format(column=column, first=seen[column], second=option))
        seen[column] = option


def _parse_time(frame: pd.DataFrame, column: str, path: Path) -> pd.DataFrame:
    """Return the frame with its time column as naive UTC datetimes (ISO 8601 text is parsed)."""
    series = frame[column]
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return frame.assign(**{column: naive_utc(series)})
    if pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
        raise BadInputError(ERR_TIME_NUMERIC.format(column=column, path=path, dtype=series.dtype))
    present = series.dropna()
    parsed = pd.to_datetime(present.astype(str), errors="coerce", format="ISO8601", utc=True)
    bad = present[parsed.isna().to_numpy()]
    if len(bad):
        raise BadInputError(
            ERR_TIME_NOT_DATES.format(
                column=column, path=path, count=len(bad), rows=len(present), example=str(bad.iloc[0])
            )
        )
    dates = pd.Series(pd.NaT, index=series.index, dtype="datetime64[ns]")
    dates[present.index] = parsed.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")
    return frame.assign(**{column: dates})


def _positive_label(
    frame: pd.DataFrame, target: str, path: Path, configured: Any, notes: list[str]
) -> tuple[Any, list[Any]]:
    """The positive class of the target (the configured one, else the last class) and both classes."""
    from pipelines.data.audit import ERR_SINGLE_CLASS  # lazy: see run_check

    classes = sorted((native(v) for v in pd.unique(frame[target].dropna())), key=str)
    if not classes:
        raise BadInputError(ERR_NO_TARGET_VALUES.format(target=target, path=path))
    if len(classes) == 1:
        raise BadInputError(ERR_SINGLE_CLASS.format(target=target, value=classes[0]))
    if len(classes) > 2:
        shown = classes[:_SHOWN_CLASSES] + (["..."] if len(classes) > _SHOWN_CLASSES else [])
        raise BadInputError(ERR_TARGET_CLASSES.format(target=target, path=path, count=len(classes), values=shown))
    missing = int(frame[target].isna().sum())
    if missing:
        raise BadInputError(ERR_TARGET_MISSING.format(target=target, path=path, count=missing))
    if configured in classes:
        return configured, classes
    chosen = classes[-1]
    notes.append(NOTE_POSITIVE.format(label=configured, target=target, classes=classes, chosen=chosen))
    return chosen, classes


# --------------------------------------------------------------------------- the check


def run_check(
    path: Path,
    target: str,
    *,
    time_column: str | None = None,
    sensitive: Sequence[str] = (),
    id_columns: Sequence[str] = (),
    reference_path: Path | None = None,
    data_docs_dir: Path | None = None,
    start: Path | None = None,
) -> CheckResult:
    """Run the audit and the leakage checks on one file.

    Parameters
    ----------
    path : pathlib.Path
        A CSV (UTF-8) or Parquet file.
    target : str
        The outcome column (two classes).
    time_column : str, optional
        The decision time (dates): enables the out-of-time split, the
        comparison of other dates with it, and freshness against the reference.
    sensitive : sequence of str
        Sensitive attributes: group representation, group drift, proxies.
    id_columns : sequence of str
        Identifier columns: unique, not seen in the reference, not on both
        sides of the split, never features.
    reference_path : pathlib.Path, optional
        The data the file is compared with (schema, types, ranges, domains,
        ids, freshness, drift); without it those checks do not run and the
        notes say so.
    data_docs_dir : pathlib.Path, optional
        Where to build the Great Expectations Data Docs.
    start : pathlib.Path, optional
        Where to look for ``fairgate.yaml`` (default: the working directory).

    Returns
    -------
    CheckResult
        Findings of both checks, notes, and the tables of the report.

    Raises
    ------
    BadInputError
        Unreadable files, unknown or clashing column names, a time column
        without dates, a target without exactly two classes, too few rows.
    """
    settings = _settings(start or Path.cwd())
    notes = [settings.note]
    frame = read_table(path)
    _check_roles(frame, path, target, time_column, sensitive, id_columns)
    if time_column:
        frame = _parse_time(frame, time_column, path)
    positive, classes = _positive_label(frame, target, path, settings.positive_label, notes)
    dataset = _checked_dataset(frame, path, settings, target, positive, time_column, sensitive, id_columns, notes)
    reference = None if reference_path is None else _read_reference(reference_path, time_column, notes)
    _check_enough_to_split(frame, target, classes, path)

    # lazy: imported once the input is known to be good, so bad input is refused in about a second
    # (the split brings scikit-learn, the audit's drift statistics SciPy)
    from pipelines.data.audit import audit_dataset
    from pipelines.data.columns import EncodedFrame
    from pipelines.data.leakage import find_leakage
    from pipelines.data.split import holdout_mask, split_notes

    encoded = EncodedFrame(frame)
    reference_encoded = None if reference is None else EncodedFrame(reference)
    audit = audit_dataset(frame, reference, dataset, settings.audit, encoded=encoded,
                          reference_encoded=reference_encoded, data_docs_dir=data_docs_dir)
    try:
        is_test = holdout_mask(frame, dataset, settings.split)
    except ValueError as e:
        raise BadInputError(ERR_SPLIT.format(path=path, problem=first_line(e))) from e
    leakage = find_leakage(frame, dataset, settings.leakage, is_test, encoded=encoded)
    notes += audit.report.notes + split_notes(dataset) + leakage.notes
    return CheckResult(rows=len(frame), columns=frame.shape[1],
                       findings=list(audit.report.findings) + list(leakage.findings),
                       notes=list(dict.fromkeys(notes)), expectations=audit.expectations, drift=audit.drift)


def _check_enough_to_split(frame: pd.DataFrame, target: str, classes: list[Any], path: Path) -> None:
    """Every class needs two rows at least, one for each side of the split."""
    counts = frame[target].value_counts()
    for label in classes:
        rows = int(counts.get(label, 0))
        if rows < 2:
            raise BadInputError(ERR_TOO_FEW_TO_SPLIT.format(target=target, path=path, rows=rows, label=label))


def _read_reference(path: Path, time_column: str | None, notes: list[str]) -> pd.DataFrame:
    """The reference file, its time column parsed as the checked file's is; noted."""
    reference = read_table(path)
    if time_column and time_column in reference.columns:
        reference = _parse_time(reference, time_column, path)
    notes.append(NOTE_REFERENCE.format(path=path, rows=len(reference)))
    return reference


def _checked_dataset(
    frame: pd.DataFrame,
    path: Path,
    settings: _Settings,
    target: str,
    positive: Any,
    time_column: str | None,
    sensitive: Sequence[str],
    id_columns: Sequence[str],
    notes: list[str],
) -> DatasetSettings:
    """The dataset settings of the checked file; a configured exclusion given a role is refused."""
    options = {
        target: "--target",
        **{c: "--sensitive" for c in sensitive},
        **{c: "--id-column" for c in id_columns},
    }
    if time_column:
        options[time_column] = "--time-column"
    exclusions = {c: r for c, r in settings.exclude_columns.items() if c in frame.columns}
    for column, reason in exclusions.items():
        if column in options:
            raise BadInputError(
                ERR_EXCLUDED_ROLE.format(column=column, config=settings.source, reason=reason, option=options[column])
            )
    absent = sorted(set(settings.exclude_columns) - set(exclusions))
    if absent:
        notes.append(NOTE_EXCLUSION_ABSENT.format(columns=absent))
    dataset = DatasetSettings(
        source="file",
        path=str(path),
        target=target,
        positive_label=positive,
        time_column=time_column,
        id_columns=list(id_columns),
        # the pipeline requires a sensitive attribute; the standalone check allows none
        sensitive=list(sensitive) or [f"{target} (none)"],
        exclude_columns=exclusions,
    )
    if not sensitive:
        dataset = dataset.model_copy(update={"sensitive": []})
        notes.append(NOTE_NO_SENSITIVE)
    return dataset


def write_report(result: CheckResult, folder: Path, data_docs: Path | None, title: str) -> Path:
    """Write ``index.html`` (and ``check.json``) into ``folder``; move the Data Docs beside them.

    Parameters
    ----------
    result : CheckResult
        What to report.
    folder : pathlib.Path
        The report folder (created).
    data_docs : pathlib.Path or None
        A built Data Docs site to move into ``folder / "data_docs"``.
    title : str
        The page heading.

    Returns
    -------
    pathlib.Path
        The ``index.html`` written.
    """
    folder.mkdir(parents=True, exist_ok=True)
    link = None
    if data_docs is not None and (data_docs / "index.html").is_file():
        target = folder / "data_docs"
        if target.exists():
            shutil.rmtree(target)
        shutil.move(str(data_docs), str(target))
        link = "data_docs/index.html"
    page = ReportPage(
        title=title,
        verdict=result.verdict,
        rows=result.rows,
        columns=result.columns,
        findings=result.findings,
        notes=result.notes,
        expectations=result.expectations,
        drift=result.drift,
        data_docs=link,
    )
    (folder / "check.json").write_text(json.dumps(result.to_dict(), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    index = folder / "index.html"
    index.write_text(render_html(page), encoding="utf-8")
    return index


# --------------------------------------------------------------------------- the command


def command_check(args: argparse.Namespace) -> int:
    """Run ``fairgate check`` and print its outcome; return the exit code."""
    try:
        return _command_check(args)
    except (FairgateError, BrokenPipeError):  # a closed pipe is the reader's choice: the CLI's main ends quietly
        raise
    except Exception as e:  # noqa: BLE001  (a bug: reported as one, never as "blocked")
        sys.stderr.write(f"fairgate: internal error in check (a bug, not your data): {type(e).__name__}: {e}\n")
        traceback.print_exc(file=sys.stderr)
        return EXIT_INTERNAL


def _command_check(args: argparse.Namespace) -> int:
    report_dir: Path | None = args.report
    if report_dir is not None and report_dir.exists() and not report_dir.is_dir():
        raise BadInputError(ERR_REPORT_DIR.format(path=report_dir))
    with tempfile.TemporaryDirectory(prefix="fairgate-data-docs-") as scratch:
        docs = Path(scratch) / "site" if report_dir is not None else None
        result = run_check(
            args.path,
            args.target,
            time_column=args.time_column,
            sensitive=args.sensitive,
            id_columns=args.id_column,
            reference_path=args.reference,
            data_docs_dir=docs,
        )
        index = None
        if report_dir is not None:
            index = write_report(result, report_dir, docs, f"fairgate check: {args.path.name}")
    if args.json:
        sys.stdout.write(json.dumps(result.to_dict(), allow_nan=False) + "\n")
    else:

        blocking = sum(1 for f in result.findings if f.severity == "block")
        sys.stdout.write(
            f"fairgate check {args.path}: {result.verdict.upper()}  {result.rows} rows, "
            f"{result.columns} columns, {blocking} blocking finding(s), "
            f"{len(result.findings) - blocking} warning(s)\n"
        )
        for line in finding_lines(result.findings):
            sys.stdout.write(f"  {line}\n")
        for note in result.notes:
            sys.stdout.write(f"  note: {note}\n")
        if index is not None:
            sys.stdout.write(f"  report: {index}\n")
    return EXIT_BLOCKED if result.verdict == "blocked" else EXIT_PASSED
