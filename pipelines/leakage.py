"""Leakage checks: what the model could learn that it will not have at decision time.

``find_leakage`` looks at the full training frame (train and prospective
holdout) and reports, for the columns the model would see:

- ``post_outcome``: a date after the decision time, or a column whose presence
  depends on the label (filled in only once the outcome is known);
- ``out_of_time_split``: a training row later than the earliest test row;
- ``target_leakage``: one feature alone ranks the label too well (ROC AUC);
- ``label_copy``: a column equal to the label (or its negation) on almost
  every row;
- ``contamination``: the same entity, or the same row, on both sides of the
  split;
- ``identifier_like``: a feature that identifies the row (unique per row,
  monotone with row order, or a high-cardinality string);
- ``proxy`` (warning): a feature that predicts a sensitive attribute.

Columns under ``exclude_columns`` are reviewed exclusions: they are skipped
and listed in the report's notes.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from pipelines.config import DatasetSettings, LeakageSettings
from pipelines.errors import BadInputError
from pipelines.findings import CheckReport, Finding

logger = logging.getLogger(__name__)

ERR_EMPTY_FRAME = "the frame is empty: expected at least one row, found 0"
ERR_MISSING_COLUMNS = "the frame lacks configured columns {missing}; found columns {found}"
ERR_FEATURE_ROLE = "feature {column!r} is also the {role}: a feature cannot play another role"
ERR_MASK_SHAPE = "is_test must hold one boolean per row: expected shape ({rows},), found {shape}"
ERR_MASK_DTYPE = "is_test must be a boolean mask, found dtype {dtype}"
ERR_ONE_SIDED_SPLIT = "the split needs rows on both sides: found {train} training rows and {test} test rows"
ERR_TARGET_NULL = "target {target!r} must be known on every row, found {count} missing"
ERR_NOT_BINARY = "target {target!r} must hold two classes, found {count}: {values}"
ERR_POSITIVE_LABEL = (
    "positive_label {label!r} must be one of the classes of target {target!r}, found {values}"
)
ERR_TIME_NOT_DATES = (
    "time column {column!r} must hold dates, found {count} values that do not parse, e.g. {example!r}"
)

# Structural rules of the checks (LeakageSettings holds the tunable thresholds).
NULL_PATTERN_GAP = 0.5
"""A column present for one class and missing for the other: notnull rates differ by more than this."""
PROXY_AUC = 0.7
"""A feature ranking membership of a sensitive group with a univariate AUC above this is a proxy."""
HIGH_CARDINALITY_SHARE = 0.5
"""A string feature with more distinct values than this share of its rows identifies rows."""
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
    frame: pd.DataFrame, dataset: DatasetSettings, settings: LeakageSettings, is_test: np.ndarray
) -> CheckReport:
    """Look for leakage in a training frame and its prospective split.

    Parameters
    ----------
    frame : pandas.DataFrame
        Every row the model is trained and tested on.
    dataset : DatasetSettings
        Column roles.
    settings : LeakageSettings
        Thresholds: single-feature AUC, label agreement, share of dates after
        the decision.
    is_test : numpy.ndarray
        Boolean mask of the holdout rows, one per row of ``frame``.

    Returns
    -------
    CheckReport
        Stage ``leakage``.  Every finding blocks except ``proxy`` (a warning).

    Raises
    ------
    BadInputError
        Missing configured columns, an empty frame or split side, a mask of
        the wrong shape or type, a target that is not binary or has missing
        values, or a time column that does not hold dates.
    """
    test = _validate(frame, dataset, is_test)
    features = candidate_feature_columns(frame, dataset)
    y = (frame[dataset.target] == dataset.positive_label).to_numpy()
    notes = [f"excluded {column}: {reason}" for column, reason in dataset.exclude_columns.items()]
    findings: list[Finding] = []

    decision_time = _decision_time(frame, dataset)
    findings += _post_outcome_dates(frame, features, dataset, settings, decision_time, notes)
    findings += _post_outcome_nulls(frame, features, y)
    findings += _out_of_time(dataset, decision_time, test, notes)
    encoded = {column: _Encoded.of(frame[column], test) for column in features}
    findings += _target_leakage(encoded, y, settings)
    findings += _label_copies(frame, features, dataset, y, settings)
    findings += _contamination(frame, dataset, test, notes)
    findings += _identifier_like(frame, features)
    findings += _proxies(frame, encoded, dataset)

    report = CheckReport(
        stage="leakage", rows=len(frame), columns=frame.shape[1], findings=findings, notes=notes
    )
    logger.info(
        "leakage: %d findings on %d features, verdict %s", len(findings), len(features), report.verdict
    )
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
    classes = sorted((_native(v) for v in pd.unique(target)), key=str)
    if len(classes) != 2:
        raise BadInputError(ERR_NOT_BINARY.format(target=dataset.target, count=len(classes), values=classes))
    if dataset.positive_label not in classes:
        raise BadInputError(
            ERR_POSITIVE_LABEL.format(label=dataset.positive_label, target=dataset.target, values=classes)
        )
    return mask


def _native(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def _shown(values: Any) -> list[Any]:
    return [_native(v) for v in list(values)[:_SHOWN]]


# --------------------------------------------------------------------------- dates


def _naive_utc(values: pd.Series) -> pd.Series:
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC").dt.tz_localize(None)
    return values


def _as_dates(series: pd.Series) -> pd.Series | None:
    """Return the column as datetimes when it holds dates (datetime dtype or ISO 8601 strings), else None."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return _naive_utc(series)
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
    return _naive_utc(parsed)


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
            ERR_TIME_NOT_DATES.format(
                column=dataset.time_column, count=len(bad), example=_native(bad.iloc[0])
            )
        )
    return dates


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


def _post_outcome_nulls(frame: pd.DataFrame, features: list[str], y: np.ndarray) -> list[Finding]:
    if not features:
        return []
    present = frame[features].notna().to_numpy()
    rate_positive = present[y].mean(axis=0)
    rate_negative = present[~y].mean(axis=0)
    gaps = np.abs(rate_positive - rate_negative)
    findings = []
    for index in np.flatnonzero(gaps > NULL_PATTERN_GAP):
        column = features[index]
        findings.append(
            Finding(
                check="post_outcome",
                severity="block",
                columns=[column],
                message=(
                    f"{column!r} present about as often for either class (notnull rates within "
                    f"{100 * NULL_PATTERN_GAP:.0f} points); found present for {rate_positive[index]:.1%} "
                    f"of positives and {rate_negative[index]:.1%} of negatives: it is filled in "
                    "once the outcome is known"
                ),
                evidence={
                    "notnull_rate_positive": float(rate_positive[index]),
                    "notnull_rate_negative": float(rate_negative[index]),
                    "gap": float(gaps[index]),
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


# --------------------------------------------------------------------------- univariate AUC


class _Encoded:
    """A feature ready for rank AUCs against any binary outcome.

    Numeric, boolean and datetime columns are ranked once (one sort) over all
    rows; the AUC of any outcome then comes from the rank sums, with missing
    values as their own value (placed below or above every value, whichever
    separates better).  Other columns are target-mean encoded per outcome on
    the training rows and ranked on the test rows, so a category seen only in
    training cannot score by memorising the label.
    """

    def __init__(
        self, ranks: np.ndarray | None, present: np.ndarray | None, codes: np.ndarray | None, test: np.ndarray
    ) -> None:
        self.ranks = ranks
        self.present = present
        self.codes = codes
        self.test = test

    @classmethod
    def of(cls, series: pd.Series, test: np.ndarray) -> _Encoded:
        dtype = series.dtype
        values: np.ndarray | None = None
        if pd.api.types.is_datetime64_any_dtype(dtype):
            dates = _naive_utc(series)
            values = np.where(dates.isna(), np.nan, dates.to_numpy(dtype="datetime64[ns]").astype("int64"))
        elif pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
            values = series.to_numpy(dtype="float64", na_value=np.nan)
        if values is not None:
            present = ~np.isnan(values)
            return cls(rankdata(values[present]), present, None, test)
        codes, _ = pd.factorize(series, use_na_sentinel=False)
        return cls(None, None, codes, test)

    def auc(self, outcome: np.ndarray) -> float | None:
        """Return max(AUC, 1 - AUC) of this feature for a boolean outcome, None if undefined."""
        if self.codes is not None:
            return self._encoded_auc(outcome)
        assert self.ranks is not None and self.present is not None
        return _auc_with_missing(self.ranks, self.present, outcome)

    def _encoded_auc(self, outcome: np.ndarray) -> float | None:
        assert self.codes is not None
        train = ~self.test
        size = int(self.codes.max()) + 1
        counts = np.bincount(self.codes[train], minlength=size)
        sums = np.bincount(self.codes[train], weights=outcome[train].astype("float64"), minlength=size)
        prior = float(outcome[train].mean())
        means = np.where(counts > 0, sums / np.maximum(counts, 1), prior)
        scores = means[self.codes[self.test]]
        return _auc_with_missing(rankdata(scores), np.ones(len(scores), dtype=bool), outcome[self.test])


def _auc_with_missing(ranks: np.ndarray, present: np.ndarray, outcome: np.ndarray) -> float | None:
    """Mann-Whitney AUC from the ranks of the present values; missing values as one extra value."""
    positives, negatives = int(outcome.sum()), int((~outcome).sum())
    if positives == 0 or negatives == 0:
        return None
    outcome_present = outcome[present]
    pos_present = int(outcome_present.sum())
    neg_present = len(outcome_present) - pos_present
    pos_missing, neg_missing = positives - pos_present, negatives - neg_present
    wins = float(ranks[outcome_present].sum()) - pos_present * (pos_present + 1) / 2.0
    ties_missing = 0.5 * pos_missing * neg_missing
    pairs = float(positives) * float(negatives)
    best = 0.0
    for extra in (pos_missing * neg_present, pos_present * neg_missing):  # missing above / below all
        auc = (wins + extra + ties_missing) / pairs
        best = max(best, auc, 1.0 - auc)
    return best


def _target_leakage(encoded: dict[str, _Encoded], y: np.ndarray, settings: LeakageSettings) -> list[Finding]:
    findings = []
    for column, feature in encoded.items():
        auc = feature.auc(y)
        if auc is None or auc <= settings.max_single_feature_auc:
            continue
        how = (
            "target-mean encoded on training rows, scored on test rows"
            if feature.codes is not None
            else "ranked"
        )
        findings.append(
            Finding(
                check="target_leakage",
                severity="block",
                columns=[column],
                message=(
                    f"no single feature with a univariate ROC AUC above {settings.max_single_feature_auc:g}; "
                    f"found {column!r} alone at {auc:.3f}"
                ),
                evidence={"auc": auc, "encoding": how},
            )
        )
    return findings


def _label_copies(
    frame: pd.DataFrame,
    features: list[str],
    dataset: DatasetSettings,
    y: np.ndarray,
    settings: LeakageSettings,
) -> list[Finding]:
    majority = max(float(y.mean()), 1.0 - float(y.mean()))
    classes = {_native(v) for v in pd.unique(frame[dataset.target])}
    findings = []
    for column in features:
        codes, uniques = pd.factorize(frame[column])
        if len(uniques) != 2:
            continue
        valid = codes >= 0
        second = codes == 1
        agree_second = float((valid & (second == y)).mean())
        agree_first = float((valid & (second != y)).mean())
        agreement = max(agree_second, agree_first)
        # Below the majority-class share, agreeing says nothing: a constant does as well.
        if agreement < settings.max_label_agreement or agreement <= majority:
            continue
        positive_value = _native(uniques[1] if agree_second >= agree_first else uniques[0])
        values = {_native(v) for v in uniques}
        negated = values == classes and positive_value != _native(dataset.positive_label)
        how = (
            "negated"
            if negated
            else f"({positive_value!r} for {dataset.target} == {dataset.positive_label!r})"
        )
        findings.append(
            Finding(
                check="label_copy",
                severity="block",
                columns=[column],
                message=(
                    f"no column equal to the label (or its negation) on {settings.max_label_agreement:.0%} "
                    f"of rows or more; found {column!r} agreeing with the label {how} "
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
    frame: pd.DataFrame, dataset: DatasetSettings, test: np.ndarray, notes: list[str]
) -> list[Finding]:
    findings = []
    ids = dataset.id_columns
    if ids:
        keys = frame[ids].groupby(ids, dropna=False, sort=False).ngroup().to_numpy()
        shared = np.intersect1d(keys[test], keys[~test])
        if len(shared):
            in_both = test & np.isin(keys, shared)
            examples = frame.loc[in_both, ids].drop_duplicates().head(_SHOWN)
            shown = examples[ids[0]].tolist() if len(ids) == 1 else examples.to_dict("records")
            findings.append(
                Finding(
                    check="contamination",
                    severity="block",
                    columns=list(ids),
                    message=(
                        f"each entity ({', '.join(ids)}) on one side of the split only; found {len(shared)} "
                        f"entities in both training and test rows ({int(in_both.sum())} test rows), "
                        f"e.g. {_shown(shown)[:5]}"
                    ),
                    evidence={
                        "shared_entities": len(shared),
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
    rows = frame[compared].groupby(compared, dropna=False, sort=False).ngroup().to_numpy()
    identical = test & np.isin(rows, np.intersect1d(rows[test], rows[~test]))
    if identical.any():
        findings.append(
            Finding(
                check="contamination",
                severity="block",
                columns=compared,
                message=(
                    "no test row identical to a training row (all columns but ids, time and exclusions); "
                    f"found {int(identical.sum())} test rows ({identical.sum() / test.sum():.1%} of the test "
                    "set) with an identical training row"
                ),
                evidence={
                    "test_rows": int(identical.sum()),
                    "test_share": float(identical.sum() / test.sum()),
                    "example_rows": _shown(np.flatnonzero(identical)),
                },
            )
        )
    return findings


# --------------------------------------------------------------------------- identifiers and proxies


def _identifier_like(frame: pd.DataFrame, features: list[str]) -> list[Finding]:
    rows = len(frame)
    findings = []
    for column in features:
        series = frame[column]
        dtype = series.dtype
        is_text = (
            pd.api.types.is_object_dtype(dtype)
            or pd.api.types.is_string_dtype(dtype)
            or isinstance(dtype, pd.CategoricalDtype)
        )
        is_integer = pd.api.types.is_integer_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
        distinct = int(series.nunique(dropna=True))
        present = int(series.notna().sum())
        reasons = []
        if (is_text or is_integer) and rows > 1 and distinct == rows:
            reasons.append("unique per row")
        orderable = pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_datetime64_any_dtype(dtype)
        if (
            orderable
            and not pd.api.types.is_bool_dtype(dtype)
            and distinct > 2
            and present == rows
            and (series.is_monotonic_increasing or series.is_monotonic_decreasing)
        ):
            reasons.append("monotone with row order")
        if is_text and present and distinct / present > HIGH_CARDINALITY_SHARE:
            reasons.append(f"a string with {distinct / present:.0%} distinct values")
        if not reasons:
            continue
        findings.append(
            Finding(
                check="identifier_like",
                severity="block",
                columns=[column],
                message=(
                    "features that describe the case, not which row it is (declare ids as id_columns "
                    f"or exclude them with a reason); found {column!r}: {', '.join(reasons)}"
                ),
                evidence={"reasons": reasons, "distinct_values": distinct, "rows": rows},
            )
        )
    return findings


def _proxies(frame: pd.DataFrame, encoded: dict[str, _Encoded], dataset: DatasetSettings) -> list[Finding]:
    findings = []
    for sensitive in dataset.sensitive:
        codes, groups = pd.factorize(frame[sensitive], use_na_sentinel=False)
        if len(groups) < 2:
            continue
        # Two groups: one AUC says it all; more: one group against the rest, each.
        members = [codes == g for g in (range(1) if len(groups) == 2 else range(len(groups)))]
        for column, feature in encoded.items():
            if column == sensitive:
                continue
            best, best_group = 0.0, None
            for index, member in enumerate(members):
                auc = feature.auc(member)
                if auc is not None and auc > best:
                    best, best_group = auc, _native(groups[index])
            if best <= PROXY_AUC:
                continue
            findings.append(
                Finding(
                    check="proxy",
                    severity="warn",
                    columns=[column, sensitive],
                    message=(
                        f"no feature predicting {sensitive!r} with a univariate AUC above {PROXY_AUC:g}; "
                        f"found {column!r} predicting it at AUC {best:.3f}"
                        + (f" (group {best_group!r} against the rest)" if len(groups) > 2 else "")
                    ),
                    evidence={"auc": best, "group": best_group if len(groups) > 2 else None},
                )
            )
    return findings
