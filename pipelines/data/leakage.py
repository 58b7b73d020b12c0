"""Leakage checks: what the model could learn that it will not have at decision time.

``find_leakage`` looks at the full training frame (train and prospective
holdout) and reports, for the columns the model would see:

- ``post_outcome``: a date after the decision time, or a column whose presence
  depends on the label (filled in only once the outcome is known);
- ``out_of_time_split``: a training row later than the earliest test row;
- ``target_leakage``: one feature alone ranks the label too well (ROC AUC),
  or explains too much of it (mutual information over the label's entropy,
  which also sees a relation that is not monotone);
- ``label_copy``: a column equal to the label (or its negation) on almost
  every row;
- ``contamination``: the same entity on both sides of the split (always), or
  test rows identical to training rows more often than chance gives in data
  of this shape (:mod:`pipelines.data.chance`; within chance, a warning);
- ``identifier_like``: a feature that identifies the row (unique per row,
  monotone with row order, or a high-cardinality string);
- ``proxy`` (warning): a feature that predicts a sensitive attribute.

Every finding blocks, except ``proxy`` and identical rows within chance.  The only way through is a reviewed
entry in ``dataset.exclude_columns`` with a reason: such columns are skipped
and listed in the report's notes, so every run records the exclusions it
applied.  Nothing is dropped silently.

Speed: every column is encoded once (:mod:`pipelines.data.columns`); an AUC is one
``bincount`` over the column's ranks (one sort of its distinct values), the
mutual information one contingency table, and rows are compared through exact
hashed row keys, so the whole check is a few passes over the data.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from pipelines.core.config import DatasetSettings, LeakageSettings
from pipelines.core.errors import BadInputError
from pipelines.core.findings import CheckReport, Finding
from pipelines.data import statistics
from pipelines.data.audit_values import native
from pipelines.data.chance import allowed_count, modelled_match_probability
from pipelines.data.columns import EncodedColumn, EncodedFrame, naive_utc

logger = logging.getLogger(__name__)

ERR_EMPTY_FRAME = "the frame is empty: expected at least one row, found 0"
ERR_MISSING_COLUMNS = "the frame lacks configured columns {missing}; found columns {found}"
ERR_FEATURE_ROLE = "feature {column!r} is also the {role}: a feature cannot play another role"
ERR_MASK_SHAPE = "is_test must hold one boolean per row: expected shape ({rows},), found {shape}"
ERR_MASK_DTYPE = "is_test must be a boolean mask, found dtype {dtype}"
ERR_ONE_SIDED_SPLIT = "the split needs rows on both sides: found {train} training rows and {test} test rows"
ERR_TARGET_NULL = "target {target!r} must be known on every row, found {count} missing"
ERR_NOT_BINARY = "target {target!r} must hold two classes, found {count}: {values}"
ERR_POSITIVE_LABEL = "positive_label {label!r} must be one of the classes of target {target!r}, found {values}"
ERR_TIME_NOT_DATES = "time column {column!r} must hold dates, found {count} values that do not parse, e.g. {example!r}"

NOTE_EXCLUDED = "excluded {column}: {reason}"
NOTE_ONE_COMPARED_COLUMN = (
    "contamination: one column compared ({column!r}): its shared values are not shared rows, not checked"
)
_DATE_SAMPLE = 50
_SHOWN = 10


def candidate_feature_columns(frame: pd.DataFrame, dataset: DatasetSettings) -> list[str]:
    """Return the columns the model would see.

    Parameters
    ----------
    frame : pandas.DataFrame
        The training frame.
    dataset : DatasetSettings
        Column roles.  ``features`` when listed, else every column minus the
        target, the time column, the ids, the sensitive attributes (unless
        ``use_sensitive_as_feature``) and the exclusions.

    Returns
    -------
    list of str
        Feature names, in frame order (or in the listed order).

    Raises
    ------
    BadInputError
        A listed feature is missing from the frame or plays another role.
    """
    roles = _roles(dataset)
    if dataset.features is not None:
        missing = [c for c in dataset.features if c not in frame.columns]
        if missing:
            raise BadInputError(ERR_MISSING_COLUMNS.format(missing=missing, found=list(frame.columns)))
        for column in dataset.features:
            if column in roles:
                raise BadInputError(ERR_FEATURE_ROLE.format(column=column, role=roles[column]))
        return list(dict.fromkeys(dataset.features))
    return [c for c in frame.columns if c not in roles]


def find_leakage(
    frame: pd.DataFrame,
    dataset: DatasetSettings,
    settings: LeakageSettings,
    is_test: np.ndarray,
    *,
    encoded: EncodedFrame | None = None,
    timings: dict[str, float] | None = None,
) -> CheckReport:
    """Look for leakage in a training frame and its prospective split.

    Parameters
    ----------
    frame : pandas.DataFrame
        Every row the model is trained and tested on.
    dataset : DatasetSettings
        Column roles.
    settings : LeakageSettings
        Thresholds: single-feature AUC and mutual information, label
        agreement, share of dates after the decision, null-pattern gap,
        proxy AUC, high-cardinality share, identical rows against chance.
    is_test : numpy.ndarray
        Boolean mask of the holdout rows, one per row of ``frame``.
    encoded : EncodedFrame, optional
        The encoding of ``frame`` already made by the caller.
    timings : dict, optional
        Filled with the wall seconds of each family of checks, for the benchmarks.

    Returns
    -------
    CheckReport
        Stage ``leakage``.  Every finding blocks except ``proxy`` and
        ``contamination`` by identical rows within chance (warnings).

    Raises
    ------
    BadInputError
        Missing configured columns, an empty frame or split side, a mask of
        the wrong shape or type, a target that is not binary or has missing
        values, or a time column that does not hold dates.
    """
    test = _validate(frame, dataset, is_test)
    features = candidate_feature_columns(frame, dataset)
    columns = encoded if encoded is not None else EncodedFrame(frame)
    y = (frame[dataset.target] == dataset.positive_label).to_numpy()
    notes = [NOTE_EXCLUDED.format(column=c, reason=r) for c, r in dataset.exclude_columns.items()]
    findings: list[Finding] = []

    checks: list[tuple[str, Callable[[], list[Finding]]]] = [
        ("temporal", lambda: _temporal(frame, columns, features, dataset, settings, y, test, notes)),
        ("target_leakage", lambda: _target_leakage(columns, features, y, test, settings)),
        ("label_copy", lambda: _label_copies(columns, features, dataset, y, settings)),
        ("contamination", lambda: _contamination(frame, columns, dataset, settings, test, notes)),
        ("identifier_like", lambda: _identifier_like(columns, features, settings)),
        ("proxy", lambda: _proxies(columns, features, dataset, test, settings)),
    ]
    for name, run in checks:
        started = time.perf_counter()
        findings += run()
        if timings is not None:
            timings[name] = timings.get(name, 0.0) + time.perf_counter() - started

    report = CheckReport(stage="leakage", rows=len(frame), columns=frame.shape[1], findings=findings, notes=notes)
    logger.info("leakage: %d findings on %d features, verdict %s", len(findings), len(features), report.verdict)
    return report


# --------------------------------------------------------------------------- validation


def _roles(dataset: DatasetSettings) -> dict[str, str]:
    roles: dict[str, str] = {}
    for column in dataset.exclude_columns:
        roles[column] = "an excluded column"
    if not dataset.use_sensitive_as_feature:
        for column in dataset.sensitive:
            roles[column] = "a sensitive attribute (use_sensitive_as_feature is false)"
    for column in dataset.id_columns:
        roles[column] = "an id column"
    if dataset.time_column:
        roles[dataset.time_column] = "time column"
    roles[dataset.target] = "target"
    return roles


def _validate(frame: pd.DataFrame, dataset: DatasetSettings, is_test: np.ndarray) -> np.ndarray:
    if frame.empty:
        raise BadInputError(ERR_EMPTY_FRAME)
    configured = [dataset.target, *([dataset.time_column] if dataset.time_column else [])]
    configured += dataset.id_columns + dataset.sensitive + list(dataset.exclude_columns)
    missing = [c for c in dict.fromkeys(configured) if c not in frame.columns]
    if missing:
        raise BadInputError(ERR_MISSING_COLUMNS.format(missing=missing, found=list(frame.columns)))
    mask = np.asarray(is_test)
    if mask.shape != (len(frame),):
        raise BadInputError(ERR_MASK_SHAPE.format(rows=len(frame), shape=mask.shape))
    if mask.dtype != np.bool_:
        raise BadInputError(ERR_MASK_DTYPE.format(dtype=mask.dtype))
    n_test = int(mask.sum())
    if n_test == 0 or n_test == len(frame):
        raise BadInputError(ERR_ONE_SIDED_SPLIT.format(train=len(frame) - n_test, test=n_test))
    target = frame[dataset.target]
    if target.isna().any():
        raise BadInputError(ERR_TARGET_NULL.format(target=dataset.target, count=int(target.isna().sum())))
    classes = sorted((native(v) for v in pd.unique(target)), key=str)
    if len(classes) != 2:
        raise BadInputError(ERR_NOT_BINARY.format(target=dataset.target, count=len(classes), values=classes))
    if dataset.positive_label not in classes:
        raise BadInputError(
            ERR_POSITIVE_LABEL.format(label=dataset.positive_label, target=dataset.target, values=classes)
        )
    return mask


def _shown(values: Any) -> list[Any]:
    return [native(v) for v in list(values)[:_SHOWN]]


# --------------------------------------------------------------------------- dates


def _as_dates(series: pd.Series) -> pd.Series | None:
    """Return the column as datetimes when it holds dates (datetime dtype or ISO 8601 strings), else None."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return naive_utc(series)
    if not (pd.api.types.is_object_dtype(series.dtype) or pd.api.types.is_string_dtype(series.dtype)):
        return None
    present = series.dropna()
    if present.empty:
        return None
    sample = present.iloc[:_DATE_SAMPLE]
    if not all(isinstance(v, str) for v in sample):
        return None
    if pd.to_datetime(sample, errors="coerce", format="ISO8601", utc=True).isna().any():
        return None
    parsed = pd.to_datetime(series, errors="coerce", format="ISO8601", utc=True)
    if parsed[series.notna()].isna().any():
        return None
    return naive_utc(parsed)


def _decision_time(frame: pd.DataFrame, dataset: DatasetSettings) -> pd.Series | None:
    if not dataset.time_column:
        return None
    column = frame[dataset.time_column]
    dates = _as_dates(column)
    if dates is None:
        present = column.dropna()
        parsed = pd.to_datetime(present.astype(str), errors="coerce", format="ISO8601", utc=True)
        bad = present[parsed.isna().to_numpy()]
        raise BadInputError(
            ERR_TIME_NOT_DATES.format(column=dataset.time_column, count=len(bad), example=native(bad.iloc[0]))
        )
    return dates


def _temporal(
    frame: pd.DataFrame,
    columns: EncodedFrame,
    features: list[str],
    dataset: DatasetSettings,
    settings: LeakageSettings,
    y: np.ndarray,
    test: np.ndarray,
    notes: list[str],
) -> list[Finding]:
    """Dates after the decision, presence tied to the outcome, and the order of the split."""
    decision_time = _decision_time(frame, dataset)
    findings = _post_outcome_dates(frame, features, dataset, settings, decision_time, notes)
    findings += _post_outcome_nulls(columns, features, y, settings)
    findings += _out_of_time(dataset, decision_time, test, notes)
    return findings


def _post_outcome_dates(
    frame: pd.DataFrame,
    features: list[str],
    dataset: DatasetSettings,
    settings: LeakageSettings,
    decision_time: pd.Series | None,
    notes: list[str],
) -> list[Finding]:
    if decision_time is None:
        notes.append("no time column: dates could not be compared with the decision time")
        return []
    findings = []
    for column in features:
        dates = _as_dates(frame[column])
        if dates is None:
            continue
        after = (dates > decision_time).to_numpy()
        share = float(after.mean())
        if share <= settings.max_after_decision_share:
            continue
        lag_days = (dates[after] - decision_time[after]).dt.total_seconds() / 86400.0
        findings.append(
            Finding(
                check="post_outcome",
                severity="block",
                columns=[column, str(dataset.time_column)],
                message=(
                    f"{column!r} on or before the decision time {dataset.time_column!r} for all but "
                    f"{settings.max_after_decision_share:.1%} of rows; found {share:.1%} of rows "
                    f"({int(after.sum())}) after it, a median {float(lag_days.median()):.0f} days later"
                ),
                evidence={
                    "rows_after_decision": int(after.sum()),
                    "share_after_decision": share,
                    "median_days_after": float(lag_days.median()),
                },
            )
        )
    return findings


def _post_outcome_nulls(
    columns: EncodedFrame, features: list[str], y: np.ndarray, settings: LeakageSettings
) -> list[Finding]:
    findings = []
    positives, negatives = max(int(y.sum()), 1), max(int((~y).sum()), 1)
    for column in features:
        present = columns[column].codes >= 0
        rate_positive = int(np.count_nonzero(present & y)) / positives
        rate_negative = int(np.count_nonzero(present & ~y)) / negatives
        gap = abs(rate_positive - rate_negative)
        if gap <= settings.null_pattern_gap:
            continue
        findings.append(
            Finding(
                check="post_outcome",
                severity="block",
                columns=[column],
                message=(
                    f"{column!r} present about as often for either class (notnull rates within "
                    f"{100 * settings.null_pattern_gap:.0f} points); found present for {rate_positive:.1%} "
                    f"of positives and {rate_negative:.1%} of negatives: it is filled in "
                    "once the outcome is known"
                ),
                evidence={
                    "notnull_rate_positive": rate_positive,
                    "notnull_rate_negative": rate_negative,
                    "gap": gap,
                },
            )
        )
    return findings


def _out_of_time(
    dataset: DatasetSettings, decision_time: pd.Series | None, test: np.ndarray, notes: list[str]
) -> list[Finding]:
    if decision_time is None:
        notes.append("no time column: the split is not out-of-time, so it was not checked for order")
        return []
    earliest_test = decision_time[test].min()
    late = (~test & (decision_time > earliest_test)).to_numpy()
    if not late.any():
        return []
    latest_train = decision_time[~test].max()
    return [
        Finding(
            check="out_of_time_split",
            severity="block",
            columns=[str(dataset.time_column)],
            message=(
                f"every training row on or before the earliest test row ({pd.Timestamp(earliest_test)}); "
                f"found {int(late.sum())} training rows later, up to {pd.Timestamp(latest_train)}"
            ),
            evidence={
                "training_rows_after_first_test": int(late.sum()),
                "earliest_test": pd.Timestamp(earliest_test).isoformat(),
                "latest_train": pd.Timestamp(latest_train).isoformat(),
            },
        )
    ]


# --------------------------------------------------------------------------- univariate strength


def univariate_auc(column: EncodedColumn, outcome: np.ndarray, test: np.ndarray) -> float | None:
    """ROC AUC of one feature alone for a boolean outcome, whatever its direction.

    Numbers, dates and booleans are ranked over all rows (missing values as
    one more value, below or above every other, whichever separates better).
    Other columns are target-mean encoded per category on the training rows
    and ranked on the test rows, so a category seen only in training cannot
    score by memorising the outcome.

    Parameters
    ----------
    column : EncodedColumn
        The feature.
    outcome : numpy.ndarray
        Boolean, one per row.
    test : numpy.ndarray
        Boolean mask of the test rows.

    Returns
    -------
    float or None
        ``max(AUC, 1 - AUC)``, None when the outcome has a single class.
    """
    if column.ordered:
        return statistics.rank_auc(column, outcome)
    return statistics.encoded_auc(column.codes, column.n_unique, outcome, test)


def label_information(column: EncodedColumn, outcome: np.ndarray, bins: int) -> float | None:
    """Share of the outcome's entropy one feature explains (bias-corrected mutual information).

    Numbers and dates are cut into ``bins`` quantile bins first; missing
    values are one more value.

    Parameters
    ----------
    column : EncodedColumn
        The feature.
    outcome : numpy.ndarray
        Boolean, one per row.
    bins : int
        Quantile bins for ordered columns.

    Returns
    -------
    float or None
        In [0, 1]; None when the outcome has a single class.
    """
    if column.ordered:
        codes, size = statistics.quantile_bins(column, bins)
    else:
        codes, size = column.codes, column.n_unique
    return statistics.uncertainty_coefficient(codes, size, outcome)


def _target_leakage(
    columns: EncodedFrame, features: list[str], y: np.ndarray, test: np.ndarray, settings: LeakageSettings
) -> list[Finding]:
    findings = []
    for name in features:
        column = columns[name]
        auc = univariate_auc(column, y, test)
        information = label_information(column, y, settings.nmi_bins)
        too_strong = []
        if auc is not None and auc > settings.max_single_feature_auc:
            too_strong.append(f"a univariate ROC AUC of {auc:.3f}")
        if information is not None and information > settings.max_single_feature_nmi:
            too_strong.append(f"{information:.0%} of the label's entropy explained")
        if not too_strong:
            continue
        how = "ranked" if column.ordered else "target-mean encoded on training rows, scored on test rows"
        findings.append(
            Finding(
                check="target_leakage",
                severity="block",
                columns=[name],
                message=(
                    f"no single feature with a univariate ROC AUC above {settings.max_single_feature_auc:g} "
                    f"or explaining more than {settings.max_single_feature_nmi:.0%} of the label's entropy; "
                    f"found {name!r} alone with {' and '.join(too_strong)}"
                ),
                evidence={"auc": auc, "nmi": information, "encoding": how},
            )
        )
    return findings


def _label_copies(
    columns: EncodedFrame,
    features: list[str],
    dataset: DatasetSettings,
    y: np.ndarray,
    settings: LeakageSettings,
) -> list[Finding]:
    majority = max(float(y.mean()), 1.0 - float(y.mean()))
    classes = {native(v) for v in columns[dataset.target].uniques}
    findings = []
    for name in features:
        column = columns[name]
        if column.n_unique != 2:
            continue
        codes, uniques = column.codes, column.uniques
        valid = codes >= 0
        second = codes == 1
        agree_second = float(np.count_nonzero(valid & (second == y))) / len(y)
        agree_first = float(np.count_nonzero(valid & (second != y))) / len(y)
        agreement = max(agree_second, agree_first)
        # Below the majority-class share, agreeing says nothing: a constant does as well.
        if agreement < settings.max_label_agreement or agreement <= majority:
            continue
        positive_value = native(uniques[1] if agree_second >= agree_first else uniques[0])
        values = {native(v) for v in uniques}
        negated = values == classes and positive_value != native(dataset.positive_label)
        how = "negated" if negated else f"({positive_value!r} for {dataset.target} == {dataset.positive_label!r})"
        findings.append(
            Finding(
                check="label_copy",
                severity="block",
                columns=[name],
                message=(
                    f"no column equal to the label (or its negation) on {settings.max_label_agreement:.0%} "
                    f"of rows or more; found {name!r} agreeing with the label {how} "
                    f"on {agreement:.2%} of rows"
                ),
                evidence={
                    "agreement": agreement,
                    "value_for_positive": positive_value,
                    "negated": negated,
                    "majority_share": majority,
                },
            )
        )
    return findings


# --------------------------------------------------------------------------- contamination


def _contamination(
    frame: pd.DataFrame,
    columns: EncodedFrame,
    dataset: DatasetSettings,
    settings: LeakageSettings,
    test: np.ndarray,
    notes: list[str],
) -> list[Finding]:
    """Entities on both sides of the split (always blocks), and test rows identical to training rows."""
    findings = []
    ids = dataset.id_columns
    if ids:
        in_both = test & columns.shared_rows(ids, test)
        if in_both.any():
            entities = len(frame.loc[in_both, ids].drop_duplicates())
            examples = frame.loc[in_both, ids].drop_duplicates().head(_SHOWN)
            shown = examples[ids[0]].tolist() if len(ids) == 1 else examples.to_dict("records")
            findings.append(
                Finding(
                    check="contamination",
                    severity="block",
                    columns=list(ids),
                    message=(
                        f"each entity ({', '.join(ids)}) on one side of the split only; found {entities} "
                        f"entities in both training and test rows ({int(in_both.sum())} test rows), "
                        f"e.g. {_shown(shown)[:5]}"
                    ),
                    evidence={
                        "shared_entities": entities,
                        "test_rows": int(in_both.sum()),
                        "examples": _shown(shown),
                    },
                )
            )
    else:
        notes.append("no id columns: entities on both sides of the split could not be checked")

    skipped = set(ids) | set(dataset.exclude_columns) | {dataset.time_column}
    compared = [c for c in frame.columns if c not in skipped]
    if not compared:
        return findings
    finding = _identical_rows(columns, compared, test, settings, notes)
    return findings if finding is None else [*findings, finding]


def _identical_rows(
    columns: EncodedFrame, compared: list[str], test: np.ndarray, settings: LeakageSettings, notes: list[str]
) -> Finding | None:
    """Test rows identical to a training row, against what chance gives in data of this shape.

    Chance comes from every row of the frame (:func:`modelled_match_probability`,
    which rows copied across the split do not raise): a test row meets one
    of the training rows by chance with probability at most ``n_train * p``.
    Beyond ``identical_rows_factor`` times that, and beyond binomial noise,
    the rows block; within it they are a warning.
    """
    identical = test & columns.shared_rows(compared, test)
    observed = int(identical.sum())
    if not observed:
        return None
    test_rows = int(test.sum())
    train_rows = len(test) - test_rows
    probability = modelled_match_probability(columns, compared)
    if probability is None:
        notes.append(NOTE_ONE_COMPARED_COLUMN.format(column=compared[0]))
        expected, allowed = float(observed), test_rows
    else:
        expected = test_rows * min(1.0, train_rows * probability)
        allowed = allowed_count(
            expected, test_rows, settings.identical_rows_factor, settings.identical_rows_significance
        )
    blocks = observed > allowed
    share = observed / test_rows
    ratio = (
        f"{observed / expected:.1f} x the {expected:.1f} expected by chance"
        if expected > 0.0
        else "where chance gives none (a column whose values rows never share)"
    )
    return Finding(
        check="contamination",
        severity="block" if blocks else "warn",
        columns=compared,
        message=(
            "test rows identical to a training row (all columns but ids, time and exclusions) no more often "
            f"than chance gives in data of this shape: {expected:.1f} test rows ({expected / test_rows:.1%}) "
            f"expected by chance from how often rows agree on all columns but two; at most {allowed} "
            f"(leakage.identical_rows_factor {settings.identical_rows_factor:g}, "
            f"leakage.identical_rows_significance {settings.identical_rows_significance:g}); found {observed} "
            f"test rows ({share:.1%} of the test set) with an identical training row, {ratio}"
        ),
        evidence={
            "test_rows": observed,
            "test_share": float(share),
            "expected_by_chance": expected,
            "allowed_rows": allowed,
            "match_probability": probability,
            "example_rows": _shown(np.flatnonzero(identical)),
        },
    )


# --------------------------------------------------------------------------- identifiers and proxies


def _identifier_like(columns: EncodedFrame, features: list[str], settings: LeakageSettings) -> list[Finding]:
    rows = columns.rows
    findings = []
    for name in features:
        series = columns.frame[name]
        dtype = series.dtype
        column = columns[name]
        is_text = (
            pd.api.types.is_object_dtype(dtype)
            or pd.api.types.is_string_dtype(dtype)
            or isinstance(dtype, pd.CategoricalDtype)
        )
        is_integer = pd.api.types.is_integer_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
        distinct, present = column.n_unique, column.present
        reasons = []
        if (is_text or is_integer) and rows > 1 and distinct == rows:
            reasons.append("unique per row")
        orderable = column.kind in ("numeric", "datetime") and not pd.api.types.is_bool_dtype(dtype)
        if orderable and distinct > 2 and present == rows:
            steps = np.diff(column.ranks)
            if (steps >= 0).all() or (steps <= 0).all():
                reasons.append("monotone with row order")
        if is_text and present and distinct / present > settings.high_cardinality_share:
            reasons.append(f"a string with {distinct / present:.0%} distinct values")
        if not reasons:
            continue
        findings.append(
            Finding(
                check="identifier_like",
                severity="block",
                columns=[name],
                message=(
                    "features that describe the case, not which row it is (declare ids as id_columns "
                    f"or exclude them with a reason); found {name!r}: {', '.join(reasons)}"
                ),
                evidence={"reasons": reasons, "distinct_values": distinct, "rows": rows},
            )
        )
    return findings


def _proxies(
    columns: EncodedFrame,
    features: list[str],
    dataset: DatasetSettings,
    test: np.ndarray,
    settings: LeakageSettings,
) -> list[Finding]:
    findings = []
    for sensitive in dataset.sensitive:
        attribute = columns[sensitive]
        codes = attribute.codes
        groups = [native(v) for v in attribute.uniques]
        if attribute.missing:
            groups.append(None)  # missing is a group of its own
            codes = np.where(codes < 0, len(groups) - 1, codes)
        if len(groups) < 2:
            continue
        # Two groups: one AUC says it all; more: one group against the rest, each.
        members = [codes == g for g in (range(1) if len(groups) == 2 else range(len(groups)))]
        for name in features:
            if name == sensitive:
                continue
            column = columns[name]
            best, best_group = 0.0, None
            for index, member in enumerate(members):
                auc = univariate_auc(column, member, test)
                if auc is not None and auc > best:
                    best, best_group = auc, groups[index]
            if best <= settings.proxy_auc:
                continue
            findings.append(
                Finding(
                    check="proxy",
                    severity="warn",
                    columns=[name, sensitive],
                    message=(
                        f"no feature predicting {sensitive!r} with a univariate AUC above "
                        f"{settings.proxy_auc:g}; found {name!r} predicting it at AUC {best:.3f}"
                        + (f" (group {best_group!r} against the rest)" if len(groups) > 2 else "")
                    ),
                    evidence={"auc": best, "group": best_group if len(groups) > 2 else None},
                )
            )
    return findings
