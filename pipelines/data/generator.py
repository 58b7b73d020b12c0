"""Seeded monthly batches of loan applications that reproduce the C07 hazards.

Each decision month is one batch of ``settings.rows_per_month`` applications,
drawn from a fixed synthetic population:

* ``gender`` (the sensitive attribute) is about 50/50 and never enters the
  label directly;
* ``region`` depends strongly on gender, so it acts as a proxy for it;
* ``income`` differs moderately between the groups (a structural gap), which
  is the only route by which the groups differ in default risk;
* the income *recorded* for women understates the income that drives their
  default by a factor ``exp(-settings.recorded_income_gap)``, 0.3 by default
  (income the application form does not ask
  for, such as part-time and secondary work): a measurement bias.  A model
  fitted on the recorded income judges women riskier than they are and
  approves them less often: unmitigated, it fails the ethical gate, as C07
  did, and the configured mitigation has to correct it;
* ``default`` (observed ``label_lag_months`` after the decision) is drawn from
  a logistic model of income, debt ratio, employment, credit lines, loan to
  income, age and education.

The hazards of the C07 incident can be switched on per batch (see
``HAZARDS`` in :mod:`pipelines.core.config`); each batch carries its ground truth
in :attr:`GeneratedBatch.truth`, so a test knows exactly what a check must
find.

The ``migration`` hazard migrates ONE legacy source system, as a real
incident does: the records of the north and south branches (about 37% of
the rows, two thirds of the women) get their income in thousands of EUR and
'north' written 'N'; and the new schema's default gender 'male' takes exactly
30% of all female applicants.  Rewriting every row rejected everyone alike
(the four-fifths ratio stayed at 0.80); one women-heavy system makes the
decisions unfair.  Measured on the default configuration's fair champion
over the decision months 2026-03..2026-10 (95% Poisson bootstrap of
``evaluation.bootstrap``): ratio 0.51-0.63, the whole interval below 0.8 in
8 of 8 months at 1,500 rows a month (7 of 8 at 600); income KS 0.40-0.43,
region PSI 3.1-3.8, female share down 0.135-0.18.  The design and the
figures: docs/getting-started.md (the hazards).

Determinism: every month draws from its own generator seeded with
``SeedSequence([seed, year, month, stream])``, where ``stream`` is 0 for the
clean batch and one code per hazard.  A clean month therefore never depends on
which hazards are switched on anywhere, and a hazard only changes the columns
it claims in ``truth``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pipelines.core.config import HAZARDS, MONTH_PATTERN, GeneratorSettings
from pipelines.core.errors import BadInputError

logger = logging.getLogger(__name__)

_HazardStep = Callable[[pd.DataFrame, str, GeneratorSettings], tuple[pd.DataFrame, dict[str, Any]]]

ERR_MONTH = "expected a month as YYYY-MM, found {found!r}"
ERR_MONTH_RANGE = "expected a month between {first} and {last}, found {found!r}"
ERR_MONTH_COUNT = "expected a number of months >= 0, found {found!r}"
ERR_MONTH_DELTA = "expected a whole number of months to shift by, found {found!r}"
ERR_HAZARDS_TYPE = "expected a sequence of hazard names, found the string {found!r}"
ERR_UNKNOWN_HAZARD = "unknown hazard {found!r}: expected one of {expected}"
ERR_REPEATED_HAZARD = "hazard {found!r} is listed more than once: expected each hazard at most once"

# datetime64[ns] covers 1677..2262; the generator stays well inside it.
FIRST_MONTH = "1900-01"
LAST_MONTH = "2199-12"
_FIRST_INDEX = 1900 * 12
_LAST_INDEX = 2199 * 12 + 11

COLUMNS = (
    "application_id",
    "application_date",
    "age",
    "gender",
    "region",
    "income",
    "debt_ratio",
    "employment_years",
    "n_credit_lines",
    "loan_amount",
    "education",
    "default",
)
GENDERS = ("female", "male")
REGIONS = ("north", "south", "east", "west", "centre")
EDUCATION_LEVELS = ("secondary", "vocational", "bachelor", "master")

# --- the synthetic population (the data-generating process, not pipeline tunables) ---
_FEMALE_SHARE = 0.5
# P(region | gender): north and south lean female, west and centre lean male.
_REGION_PROBS = {
    "female": (0.40, 0.27, 0.17, 0.10, 0.06),
    "male": (0.06, 0.10, 0.17, 0.27, 0.40),
}
_REGION_LOG_INCOME = (-0.06, 0.0, -0.04, 0.04, 0.08)
_EDUCATION_PROBS = (0.34, 0.30, 0.25, 0.11)
_EDUCATION_LOG_INCOME = (0.0, 0.10, 0.28, 0.42)
_FEMALE_LOG_INCOME = -0.04
_LOG_INCOME_BASE = float(np.log(30_000.0))
_LOG_INCOME_SD = 0.40
_INCOME_BOUNDS = (12_000.0, 250_000.0)
_DEBT_RATIO_MAX = 1.5
_LOAN_BOUNDS = (1_000.0, 150_000.0)

# Logistic model of default (log-odds); gender is deliberately absent.
_LOGIT_INTERCEPT = -0.45
_LOGIT_LOG_INCOME = -1.4
_LOGIT_DEBT_RATIO = 2.9
_LOGIT_EMPLOYMENT = -0.07
_LOGIT_CREDIT_LINES = 0.22
_LOGIT_LOAN_TO_INCOME = 1.9
_LOGIT_AGE = -0.018
_LOGIT_EDUCATION = -0.22

# --- the hazards ---
# Stream codes are fixed here, not derived from the order of HAZARDS, so that
# reordering the configuration never changes a generated batch.
_STREAM_CLEAN = 0
_HAZARD_STREAM = {"post_outcome_column": 1, "label_copy": 2, "duplicated_rows": 3, "migration": 4}
_COLLECTIONS_OFFSET_DAYS = (62, 330)  # always >= 2 and <= 11 calendar months after the decision
_LABEL_COPY_FLIP_SHARE = 0.01
_DUPLICATED_SHARE = 0.10
# The migration moves ONE legacy source system: the records of the north and south branches
# (where women are over-represented: about two thirds of the women, a sixth of the men).
_MIGRATION_LEGACY_REGIONS = ("north", "south")
_MIGRATION_INCOME_SCALE = 0.001  # that system's incomes written in thousands of EUR
_MIGRATION_REGION_RECODE = {"north": "N"}  # ... and its region code 'north' as 'N'
# The new applicant schema's gender defaults to 'male' where the legacy code did not map: this
# share of all female applicants, drawn exactly (a fixed count), not only the migrated system's.
_MIGRATION_FEMALE_RELABEL_SHARE = 0.3


@dataclass(frozen=True)
class GeneratedBatch:
    """One decision month of loan applications and its ground truth.

    Attributes
    ----------
    frame : pandas.DataFrame
        The applications, one row each, sorted by ``application_date``.
    decision_month : str
        The month of the decisions, ``YYYY-MM``.
    hazards : tuple of str
        The hazards switched on, in the canonical order of ``HAZARDS``.
    truth : dict
        JSON-serialisable ground truth: ``"hazards"`` (list) and, per hazard,
        a dict with at least ``"columns"`` and ``"description"``.
    """

    frame: pd.DataFrame
    decision_month: str
    hazards: tuple[str, ...]
    truth: dict[str, Any]


def _month_index(month: str) -> int:
    """Return ``year * 12 + month - 1`` after validating ``month``."""
    if not isinstance(month, str) or not MONTH_PATTERN.fullmatch(month):
        raise BadInputError(ERR_MONTH.format(found=month))
    index = int(month[:4]) * 12 + int(month[5:7]) - 1
    if not _FIRST_INDEX <= index <= _LAST_INDEX:
        raise BadInputError(ERR_MONTH_RANGE.format(first=FIRST_MONTH, last=LAST_MONTH, found=month))
    return index


def _month_from_index(index: int) -> str:
    year, zero_based_month = divmod(index, 12)
    month = f"{year:04d}-{zero_based_month + 1:02d}"
    if not _FIRST_INDEX <= index <= _LAST_INDEX:
        raise BadInputError(ERR_MONTH_RANGE.format(first=FIRST_MONTH, last=LAST_MONTH, found=month))
    return month


def shift_month(month: str, delta: int) -> str:
    """Return the month ``delta`` months after ``month`` (before it when negative).

    Parameters
    ----------
    month : str
        A month as ``YYYY-MM``.
    delta : int
        The number of months to move.

    Returns
    -------
    str
        The shifted month as ``YYYY-MM``.

    Raises
    ------
    BadInputError
        When ``month`` is malformed, ``delta`` is not a whole number, or the
        result leaves the supported range.
    """
    index = _month_index(month)
    if isinstance(delta, bool) or not isinstance(delta, int | np.integer):
        raise BadInputError(ERR_MONTH_DELTA.format(found=delta))
    return _month_from_index(index + int(delta))


def month_range(start: str, count: int) -> list[str]:
    """Return ``count`` consecutive months starting at ``start``.

    Parameters
    ----------
    start : str
        The first month as ``YYYY-MM``.
    count : int
        How many months, ``>= 0``.

    Returns
    -------
    list of str
        The months in ascending order.

    Raises
    ------
    BadInputError
        When ``start`` is malformed or ``count`` is negative.
    """
    first = _month_index(start)
    if isinstance(count, bool) or not isinstance(count, int | np.integer) or count < 0:
        raise BadInputError(ERR_MONTH_COUNT.format(found=count))
    return [_month_from_index(first + offset) for offset in range(int(count))]


def _validate_hazards(hazards: Sequence[str]) -> tuple[str, ...]:
    """Return the hazards in the canonical order of ``HAZARDS``."""
    if isinstance(hazards, str):
        raise BadInputError(ERR_HAZARDS_TYPE.format(found=hazards))
    seen: set[str] = set()
    for name in hazards:
        if not isinstance(name, str) or name not in HAZARDS:
            raise BadInputError(ERR_UNKNOWN_HAZARD.format(found=name, expected=", ".join(HAZARDS)))
        if name in seen:
            raise BadInputError(ERR_REPEATED_HAZARD.format(found=name))
        seen.add(name)
    return tuple(name for name in HAZARDS if name in seen)


def _rng(seed: int, month: str, stream: int) -> np.random.Generator:
    year, zero_based_month = divmod(_month_index(month), 12)
    return np.random.default_rng(np.random.SeedSequence([seed, year, zero_based_month + 1, stream]))


def _decision_times(month: str, rows: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted decision timestamps (datetime64[ns], naive UTC) spread over ``month``."""
    start = np.datetime64(f"{month}-01T00:00:00", "ns")
    end = np.datetime64(f"{shift_month(month, 1)}-01T00:00:00", "ns")
    seconds_in_month = int((end - start) // np.timedelta64(1, "s"))
    offsets = np.sort(rng.integers(0, seconds_in_month, size=rows))
    return start + offsets.astype("timedelta64[s]").astype("timedelta64[ns]")


def _default_log_odds(
    income: np.ndarray,
    debt_ratio: np.ndarray,
    employment_years: np.ndarray,
    n_credit_lines: np.ndarray,
    loan_amount: np.ndarray,
    age: np.ndarray,
    education_level: np.ndarray,
) -> np.ndarray:
    """Log-odds of default; gender is not an argument, by design."""
    return (
        _LOGIT_INTERCEPT
        + _LOGIT_LOG_INCOME * (np.log(income) - np.log(30_000.0))
        + _LOGIT_DEBT_RATIO * (debt_ratio - 0.30)
        + _LOGIT_EMPLOYMENT * (employment_years - 6.0)
        + _LOGIT_CREDIT_LINES * (n_credit_lines - 2.5)
        + _LOGIT_LOAN_TO_INCOME * (loan_amount / income - 0.33)
        + _LOGIT_AGE * (age - 42.0)
        + _LOGIT_EDUCATION * (education_level - 1.0)
    )


# Over 80 lines on purpose: one seeded stream draws every column, and the order of the draws is what
# makes a month reproducible. Read top to bottom, it is that order; split up, it would be hidden.
def _clean_frame(month: str, settings: GeneratorSettings) -> pd.DataFrame:
    """Draw the clean batch of ``month``: every column from the month's own stream."""
    rows = settings.rows_per_month
    rng = _rng(settings.seed, month, _STREAM_CLEAN)

    decided_at = _decision_times(month, rows, rng)
    is_female = rng.random(rows) < _FEMALE_SHARE
    gender = np.where(is_female, GENDERS[0], GENDERS[1])

    region_code = np.empty(rows, dtype=np.int64)
    for group, mask in (("female", is_female), ("male", ~is_female)):
        region_code[mask] = rng.choice(len(REGIONS), size=int(mask.sum()), p=_REGION_PROBS[group])
    region = np.asarray(REGIONS, dtype=object)[region_code]

    age = np.clip(np.rint(18.0 + rng.gamma(shape=4.0, scale=6.0, size=rows)), 18, 80).astype(np.int64)
    education_level = rng.choice(len(EDUCATION_LEVELS), size=rows, p=_EDUCATION_PROBS)
    education = np.asarray(EDUCATION_LEVELS, dtype=object)[education_level]

    working_life = np.maximum(age - 18, 0).astype(np.float64)
    employed = rng.random(rows) >= 0.06
    # The rounding below shapes the synthetic *raw data* the way application forms record it
    # (years to one decimal, whole euros, ratios to 3 places). It never touches a weight, a
    # probability or a threshold: the pipeline downstream sees these values as given data.
    employment_years = np.round(working_life * rng.beta(2.0, 2.5, size=rows) * employed, 1)

    log_income = (
        _LOG_INCOME_BASE
        + np.asarray(_EDUCATION_LOG_INCOME)[education_level]
        + np.asarray(_REGION_LOG_INCOME)[region_code]
        + _FEMALE_LOG_INCOME * is_female
        + 0.012 * np.minimum(age - 18, 30)
        + 0.012 * np.minimum(employment_years, 20.0)
        - 0.25 * ~employed
        + rng.normal(0.0, _LOG_INCOME_SD, size=rows)
    )
    income = np.round(np.clip(np.exp(log_income), *_INCOME_BOUNDS), 0)

    n_credit_lines = rng.poisson(1.2 + 0.04 * np.minimum(age - 18, 30)).astype(np.int64)
    debt_ratio = np.round(
        np.clip(
            rng.gamma(shape=2.5, scale=0.10, size=rows)
            + 0.03 * n_credit_lines
            + 0.06 * (np.log(30_000.0) - np.log(income)),
            0.0,
            _DEBT_RATIO_MAX,
        ),
        3,
    )
    loan_amount = np.clip(
        np.round(income * np.exp(rng.normal(np.log(0.30), 0.45, size=rows)), -2), *_LOAN_BOUNDS
    )

    log_odds = _default_log_odds(
        income, debt_ratio, employment_years, n_credit_lines, loan_amount, age, education_level
    )
    default = (rng.random(rows) < 1.0 / (1.0 + np.exp(-log_odds))).astype(np.int64)
    # the default above follows the true income; the form records less of it for women.
    # No random draw here: with a gap of 0 every column is what it was without the bias.
    recorded_income = np.where(
        is_female,
        np.clip(np.round(income * np.exp(-settings.recorded_income_gap), 0), *_INCOME_BOUNDS),
        income,
    )

    compact_month = month.replace("-", "")
    application_id = np.asarray([f"A{compact_month}-{i:06d}" for i in range(1, rows + 1)], dtype=object)

    frame = pd.DataFrame(
        {
            "application_id": pd.array(application_id, dtype="str"),
            "application_date": pd.Series(decided_at, dtype="datetime64[ns]"),
            "age": age,
            "gender": pd.array(gender.astype(object), dtype="str"),
            "region": pd.array(region, dtype="str"),
            "income": recorded_income.astype(np.float64),
            "debt_ratio": debt_ratio.astype(np.float64),
            "employment_years": employment_years.astype(np.float64),
            "n_credit_lines": n_credit_lines,
            "loan_amount": loan_amount.astype(np.float64),
            "education": pd.array(education, dtype="str"),
            "default": default,
        },
        columns=list(COLUMNS),
    )
    return frame


def _duplicate_rows(
    frame: pd.DataFrame, month: str, settings: GeneratorSettings
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Replace ~10% of the rows by exact copies of rows of the previous (clean) month."""
    source_month = shift_month(month, -1)
    previous = _clean_frame(source_month, settings)
    rng = _rng(settings.seed, month, _HAZARD_STREAM["duplicated_rows"])
    rows = len(frame)
    count = max(1, round(_DUPLICATED_SHARE * rows))
    positions = np.sort(rng.choice(rows, size=count, replace=False))
    sources = rng.choice(len(previous), size=count, replace=False)

    copies = previous.iloc[sources].reset_index(drop=True)
    copies["application_date"] = frame["application_date"].iloc[positions].to_numpy()
    result = frame.copy()
    for column in result.columns:
        values = result[column].to_numpy(copy=True)
        values[positions] = copies[column].to_numpy()
        result[column] = pd.Series(values, dtype=frame[column].dtype)
    row_ids = [str(value) for value in copies["application_id"]]
    truth = {
        "columns": ["application_id"],
        "description": (
            f"{count} of {rows} rows are exact copies (same application_id, features and label) "
            f"of applications decided in {source_month}, re-dated into {month}"
        ),
        "row_ids": row_ids,
        "source_month": source_month,
        "rows": count,
        "share": count / rows,
    }
    return result, truth


def _migrate(
    frame: pd.DataFrame, month: str, settings: GeneratorSettings
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Migrate one legacy source system unregulated: its incomes in kEUR, its region recoded, women relabelled."""
    rng = _rng(settings.seed, month, _HAZARD_STREAM["migration"])
    result = frame.copy()
    female = (frame["gender"] == GENDERS[0]).to_numpy()
    female_share_before = float(female.mean())

    legacy = frame["region"].isin(_MIGRATION_LEGACY_REGIONS).to_numpy()
    result["income"] = frame["income"].where(~legacy, frame["income"] * _MIGRATION_INCOME_SCALE)
    result["region"] = frame["region"].replace(_MIGRATION_REGION_RECODE).astype("str")
    women = np.flatnonzero(female)
    relabel = np.zeros(len(frame), dtype=bool)
    relabel[rng.choice(women, size=round(_MIGRATION_FEMALE_RELABEL_SHARE * len(women)), replace=False)] = True
    result["gender"] = pd.Series(
        np.where(relabel, GENDERS[1], frame["gender"].to_numpy(dtype=object)), dtype="str"
    )
    female_share_after = float((result["gender"] == GENDERS[0]).mean())
    migrated = int(legacy.sum())
    truth = {
        "columns": ["income", "region", "gender"],
        "description": (
            f"unregulated migration of one legacy source system (regions {', '.join(_MIGRATION_LEGACY_REGIONS)}: "
            f"{migrated} of {len(frame)} rows): its income written in thousands of EUR, region "
            + ", ".join(f"{old!r} recoded to {new!r}" for old, new in _MIGRATION_REGION_RECODE.items())
            + f"; and {int(relabel.sum())} female applicants written with the default gender 'male' "
            f"(female share {female_share_before:.3f} -> {female_share_after:.3f})"
        ),
        "legacy_regions": list(_MIGRATION_LEGACY_REGIONS),
        "migrated_rows": migrated,
        "migrated_share": migrated / len(frame),
        "income_unit_before": "EUR",
        "income_unit_after": "kEUR",
        "income_scale": _MIGRATION_INCOME_SCALE,
        "region_recode": dict(_MIGRATION_REGION_RECODE),
        "gender_relabelled": {
            "from": GENDERS[0],
            "to": GENDERS[1],
            "rows": int(relabel.sum()),
            "share_of_group": _MIGRATION_FEMALE_RELABEL_SHARE,
        },
        "female_share_before": female_share_before,
        "female_share_after": female_share_after,
    }
    return result, truth


def _add_label_copy(
    frame: pd.DataFrame, month: str, settings: GeneratorSettings
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Add ``internal_risk_flag``: the label itself, with ~1% of rows flipped."""
    rng = _rng(settings.seed, month, _HAZARD_STREAM["label_copy"])
    rows = len(frame)
    flipped = max(1, round(_LABEL_COPY_FLIP_SHARE * rows))
    positions = rng.choice(rows, size=flipped, replace=False)
    flag = frame["default"].to_numpy(dtype=np.int64, copy=True)
    flag[positions] = 1 - flag[positions]
    result = frame.copy()
    result["internal_risk_flag"] = flag
    agreement = 1.0 - flipped / rows
    truth = {
        "columns": ["internal_risk_flag"],
        "description": (
            f"internal_risk_flag is a copy of the label 'default' with {flipped} of {rows} rows flipped "
            f"(agreement {agreement:.4f})"
        ),
        "copy_of": "default",
        "flipped_rows": flipped,
        "agreement": agreement,
    }
    return result, truth


def _add_post_outcome_column(
    frame: pd.DataFrame, month: str, settings: GeneratorSettings
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Add ``collections_date``: known only after a default, 2-11 months after the decision."""
    rng = _rng(settings.seed, month, _HAZARD_STREAM["post_outcome_column"])
    low, high = _COLLECTIONS_OFFSET_DAYS
    offset_days = rng.integers(low, high + 1, size=len(frame))
    decided_at = frame["application_date"].to_numpy(dtype="datetime64[ns]")
    collected_at = decided_at + offset_days.astype("timedelta64[D]").astype("timedelta64[ns]")
    defaulted = frame["default"].to_numpy() == 1
    collected_at = np.where(defaulted, collected_at, np.datetime64("NaT", "ns"))
    result = frame.copy()
    result["collections_date"] = pd.Series(collected_at, dtype="datetime64[ns]")
    filled = int(defaulted.sum())
    truth = {
        "columns": ["collections_date"],
        "description": (
            f"collections_date is filled only for the {filled} defaulters and falls {low}-{high} days "
            "(2-11 months) after application_date: information from after the decision"
        ),
        "filled_rows": filled,
        "after_decision_share": filled / len(frame),
        "min_offset_days": low,
        "max_offset_days": high,
    }
    return result, truth


# Rows first (copies of the previous month), then values (the migration
# rewrites copies too), then the columns derived from the final rows.
_HAZARD_STEPS: tuple[tuple[str, _HazardStep], ...] = (
    ("duplicated_rows", _duplicate_rows),
    ("migration", _migrate),
    ("label_copy", _add_label_copy),
    ("post_outcome_column", _add_post_outcome_column),
)


def generate_month(
    decision_month: str, settings: GeneratorSettings, hazards: Sequence[str] = ()
) -> GeneratedBatch:
    """Generate the applications decided in one month, with optional hazards.

    Parameters
    ----------
    decision_month : str
        The month of the decisions, ``YYYY-MM``.
    settings : GeneratorSettings
        Seed and batch size (``rows_per_month``).
    hazards : sequence of str, optional
        Hazards to switch on, any of ``HAZARDS``; each at most once.  They are
        applied in the canonical order: ``duplicated_rows`` (row copies from
        the previous clean month), ``migration`` (values recoded),
        ``label_copy`` and ``post_outcome_column`` (columns added).

    Returns
    -------
    GeneratedBatch
        The frame, the month, the hazards applied and the ground truth.

    Raises
    ------
    BadInputError
        When the month is malformed or a hazard name is unknown or repeated.
    """
    _month_index(decision_month)
    applied = _validate_hazards(hazards)
    frame = _clean_frame(decision_month, settings)
    truth: dict[str, Any] = {
        "hazards": list(applied),
        "decision_month": decision_month,
        "label_observed_month": shift_month(decision_month, settings.label_lag_months),
        "seed": settings.seed,
        "rows": len(frame),
    }
    for name, apply_hazard in _HAZARD_STEPS:
        if name in applied:
            frame, truth[name] = apply_hazard(frame, decision_month, settings)
    logger.debug(
        "generated %s: %d rows, hazards %s", decision_month, len(frame), ", ".join(applied) or "none"
    )
    return GeneratedBatch(frame=frame, decision_month=decision_month, hazards=applied, truth=truth)


def generate_history(settings: GeneratorSettings) -> pd.DataFrame:
    """Concatenate the clean history months, without any hazard.

    Parameters
    ----------
    settings : GeneratorSettings
        ``history_start`` and ``history_months`` choose the months; ``seed``
        and ``rows_per_month`` the draws.  ``settings.hazards`` is ignored:
        the history is the clean reference.

    Returns
    -------
    pandas.DataFrame
        The months in order, with a fresh ``RangeIndex``.
    """
    months = month_range(settings.history_start, settings.history_months)
    frames = [generate_month(month, settings).frame for month in months]
    logger.info("generated history %s..%s: %d months", months[0], months[-1], len(months))
    return pd.concat(frames, ignore_index=True)
