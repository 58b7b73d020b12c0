"""Column roles of a table nobody has configured yet: what ``fairgate init`` proposes for review.

:func:`profile_roles` looks at a frame and says, for each role fairgate needs,
which columns could play it, which one it guesses and why, and why each other
candidate was not the guess:

- **target**: two-valued columns without a missing value, with their class
  balance; the guess is the one whose name says outcome (``default``, ``bad``,
  ``label``, ...), else the last column (where published datasets put the
  label), else none: the user picks;
- **sensitive attributes**: columns named like a protected characteristic
  (sex, gender, age, race, ethnicity, nationality, marital status, religion,
  disability, foreign, ...) or holding gender words, with few groups; a
  candidate is not guessed when it has too many distinct values to be a group,
  a group under ``audit.min_group_rows`` / ``min_group_share`` (the audit would
  block), or when its values determine another candidate's (``status_sex``
  encodes ``sex``);
- **time column**: columns whose every value is a date; with several, the one
  on or before the others on most rows (the decision comes first);
- **id columns**: text or integer columns unique per row, or named ``id``.

Everything here is a guess for a person to review; nothing decides a run.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from pipelines.core.config import AuditSettings
from pipelines.data.audit_values import native

logger = logging.getLogger(__name__)

# words in a column's name that say what role it plays (lower case, matched against whole name tokens)
TARGET_WORDS = frozenset(
    {"target", "label", "outcome", "class", "y", "default", "defaulted", "bad", "churn", "fraud", "response",
     "approved", "recid", "risk"}
)  # fmt: skip
SENSITIVE_WORDS = frozenset(
    {"sex", "gender", "age", "race", "racial", "ethnicity", "ethnic", "nationality", "national", "citizenship",
     "marital", "religion", "religious", "disability", "disabled", "foreign", "native", "pregnancy", "pregnant",
     "orientation", "caste"}
)  # fmt: skip
GENDER_VALUES = frozenset({"male", "female", "m", "f", "man", "woman", "men", "women", "non-binary", "nonbinary"})
ID_WORDS = frozenset({"id", "uuid", "guid", "identifier"})
TIME_WORDS = frozenset({"date", "time", "timestamp", "day", "month", "created", "decision", "application"})
POSITIVE_WORDS = frozenset({"1", "true", "yes", "y", "bad", "default", "positive"})

MAX_GROUPS = 10  # more distinct values than this is not a set of groups fairness can be measured on
_DATE_SAMPLE = 50
_TOKEN = re.compile(r"[A-Z]+(?=[A-Z][a-z]|\b|[^A-Za-z]|$)|[A-Z]?[a-z]+|\d+")


def name_tokens(name: str) -> list[str]:
    """Split a column name into lower-case words (``customerID`` -> customer, id; ``status_sex`` -> status, sex)."""
    return [token.lower() for token in _TOKEN.findall(str(name))]


def _named(name: str, words: frozenset[str]) -> list[str]:
    return [token for token in name_tokens(name) if token in words]


@dataclass(frozen=True)
class Candidate:
    """One column that could play a role: why it could, and why it is not the guess (None when it is)."""

    column: str
    why: str
    not_chosen: str | None = None


@dataclass(frozen=True)
class TargetCandidate:
    """A two-valued column without a missing value, with its class balance and the guessed positive class."""

    column: str
    counts: dict[Any, int]
    positive_label: Any
    positive_why: str
    why: str

    def balance(self) -> str:
        """``0: 700 (70.0%), 1: 300 (30.0%)``."""
        rows = sum(self.counts.values())
        return ", ".join(f"{value!r}: {count} ({count / rows:.1%})" for value, count in self.counts.items())


@dataclass
class RoleProfile:
    """The candidates for every role and the guesses made from them."""

    rows: int
    columns: list[str]
    targets: list[TargetCandidate] = field(default_factory=list)
    target: TargetCandidate | None = None
    target_why: str = ""
    sensitive: list[Candidate] = field(default_factory=list)
    time: list[Candidate] = field(default_factory=list)
    ids: list[Candidate] = field(default_factory=list)
    dates: dict[str, pd.Series] = field(default_factory=dict)

    @property
    def sensitive_guess(self) -> list[str]:
        """The sensitive attributes guessed."""
        return [c.column for c in self.sensitive if c.not_chosen is None]

    @property
    def time_guess(self) -> str | None:
        """The time column guessed, or None."""
        return next((c.column for c in self.time if c.not_chosen is None), None)

    @property
    def id_guess(self) -> list[str]:
        """The id columns guessed."""
        return [c.column for c in self.ids if c.not_chosen is None]


def profile_roles(frame: pd.DataFrame, audit: AuditSettings, target: str | None = None) -> RoleProfile:
    """Propose a role for the columns of ``frame``.

    Parameters
    ----------
    frame : pandas.DataFrame
        The data, as read.
    audit : AuditSettings
        ``min_group_rows`` and ``min_group_share``: a sensitive candidate with a
        smaller group is not guessed (the audit would block on it).
    target : str, optional
        The outcome column when the user named it (no guess then).

    Returns
    -------
    RoleProfile
        The candidates and the guesses.
    """
    profile = RoleProfile(rows=len(frame), columns=[str(c) for c in frame.columns])
    profile.dates = {c: d for c in profile.columns if (d := as_dates(frame[c])) is not None}
    profile.time = _time_candidates(frame, profile.dates)
    profile.ids = _id_candidates(frame, exclude={c.column for c in profile.time})
    roles_taken = {c.column for c in profile.time} | {c.column for c in profile.ids}
    profile.sensitive = _sensitive_candidates(frame, audit, exclude=roles_taken | ({target} if target else set()))
    profile.targets = _target_candidates(frame, exclude=roles_taken)
    profile.target, profile.target_why = _guess_target(profile, target)
    if profile.target is not None:
        chosen = profile.target.column
        profile.sensitive = [c for c in profile.sensitive if c.column != chosen]
    logger.info(
        "profile: target %s, sensitive %s, time %s, ids %s",
        profile.target.column if profile.target else None,
        profile.sensitive_guess,
        profile.time_guess,
        profile.id_guess,
    )
    return profile


# --------------------------------------------------------------------------- dates


def as_dates(series: pd.Series) -> pd.Series | None:
    """The column as naive datetimes when every present value is a date (datetime dtype or ISO 8601 text)."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return pd.to_datetime(series, utc=True).dt.tz_localize(None)
    if not (pd.api.types.is_object_dtype(series.dtype) or pd.api.types.is_string_dtype(series.dtype)):
        return None
    present = series.dropna()
    if present.empty or not all(isinstance(v, str) for v in present.iloc[:_DATE_SAMPLE]):
        return None
    if pd.to_datetime(present.iloc[:_DATE_SAMPLE], errors="coerce", format="ISO8601", utc=True).isna().any():
        return None
    parsed = pd.to_datetime(series.astype("object"), errors="coerce", format="ISO8601", utc=True)
    if parsed[series.notna()].isna().any():
        return None
    return parsed.dt.tz_localize(None)


def _time_candidates(frame: pd.DataFrame, dates: dict[str, pd.Series]) -> list[Candidate]:
    usable: dict[str, pd.Series] = {}
    candidates: list[Candidate] = []
    for column, values in dates.items():
        missing = int(values.isna().sum())
        if missing:
            problem = f"missing on {missing} rows: every decision needs a time"
            candidates.append(Candidate(column, "holds dates", problem))
        elif values.nunique() < 2:
            candidates.append(Candidate(column, "holds dates", "a single instant: no out-of-time split"))
        else:
            usable[column] = values
    if not usable:
        return candidates
    # the decision comes before what follows it: on most rows, the decision time is the earliest date
    earliest = pd.concat(usable, axis=1).min(axis=1)
    first_share = {c: float((v == earliest).mean()) for c, v in usable.items()}
    ranked = sorted(usable, key=lambda c: (-first_share[c], not _named(c, TIME_WORDS), list(usable).index(c)))
    for position, column in enumerate(ranked):
        why = f"holds dates, the earliest of the date columns on {first_share[column]:.0%} of rows"
        not_chosen = None if position == 0 else f"later than {ranked[0]!r} on most rows: not the decision time"
        candidates.append(Candidate(column, why, not_chosen))
    return sorted(candidates, key=lambda c: c.not_chosen is not None)


# --------------------------------------------------------------------------- ids


def _id_candidates(frame: pd.DataFrame, exclude: set[str]) -> list[Candidate]:
    candidates = []
    rows = len(frame)
    for column in frame.columns:
        if column in exclude:
            continue
        series = frame[column]
        dtype = series.dtype
        text_or_integer = (
            pd.api.types.is_object_dtype(dtype)
            or pd.api.types.is_string_dtype(dtype)
            or (pd.api.types.is_integer_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype))
        )
        reasons = []
        if _named(column, ID_WORDS):
            reasons.append("named like an id")
        unique = series.notna().all() and series.nunique() == rows
        if text_or_integer and rows > 1 and unique:
            reasons.append("unique per row")
        elif reasons:
            shared = int(series.duplicated(keep=False).sum())
            reasons[-1] += (
                f", though {shared} rows share their value with another row (an entity seen more than once? "
                "the audit expects ids unique per row)"
            )
        if reasons:
            candidates.append(Candidate(str(column), " and ".join(reasons)))
    return candidates


# --------------------------------------------------------------------------- sensitive attributes


def _sensitive_candidates(frame: pd.DataFrame, audit: AuditSettings, exclude: set[str]) -> list[Candidate]:
    rows = len(frame)
    found: list[Candidate] = []
    for column in frame.columns:
        if column in exclude:
            continue
        series = frame[column]
        words = _named(column, SENSITIVE_WORDS)
        values = {str(v).strip().lower() for v in series.dropna().unique()[: MAX_GROUPS + 1]}
        if words:
            why = f"named like a protected characteristic ({', '.join(words)})"
        elif 2 <= len(values) <= MAX_GROUPS and values <= GENDER_VALUES:
            why = f"holds gender words ({', '.join(sorted(values))})"
        else:
            continue
        distinct = int(series.nunique(dropna=False))
        if distinct <= MAX_GROUPS:
            counts = series.value_counts(dropna=False)
            why += "; groups: " + ", ".join(f"{native(v)!r} {n / rows:.1%}" for v, n in counts.items())
        not_chosen = None
        if distinct > MAX_GROUPS:
            not_chosen = (
                f"{distinct} distinct values, not a few groups: fairness is measured per value, so add a banded "
                "column to the data (for example age bands) to gate on it"
            )
        elif distinct < 2:
            not_chosen = "a single value: no groups to compare"
        else:
            counts = series.value_counts(dropna=False)
            smallest, size = counts.index[-1], int(counts.iloc[-1])
            under = [f"audit.min_group_rows ({audit.min_group_rows})"] if size < audit.min_group_rows else []
            if size / rows < audit.min_group_share:
                under.append(f"audit.min_group_share ({audit.min_group_share:g})")
            if under:
                not_chosen = (
                    f"its smallest group {native(smallest)!r} has {size} rows ({size / rows:.1%}), under "
                    f"{' and '.join(under)}: the audit would block on it as it stands "
                    "(to gate on it, declare a reviewed dataset.small_groups policy: merge or report_only)"
                )
        found.append(Candidate(str(column), why, not_chosen))
    return sorted(_drop_encodings(frame, found), key=lambda c: c.not_chosen is not None)


def _drop_encodings(frame: pd.DataFrame, found: list[Candidate]) -> list[Candidate]:
    """A candidate whose values determine a coarser chosen candidate encodes it: not a guess of its own."""
    chosen = [c.column for c in found if c.not_chosen is None]
    result = []
    for candidate in found:
        if candidate.not_chosen is None:
            coarser = [
                other
                for other in chosen
                if other != candidate.column
                and frame[other].nunique(dropna=False) < frame[candidate.column].nunique(dropna=False)
                and _determines(frame, candidate.column, other)
            ]
            if coarser:
                candidate = Candidate(
                    candidate.column,
                    candidate.why,
                    f"its values determine {coarser[0]!r} (it encodes that attribute together with more)",
                )
        result.append(candidate)
    return result


def _determines(frame: pd.DataFrame, column: str, other: str) -> bool:
    """True when each value of ``column`` goes with one value of ``other`` on every row."""
    pairs = frame[[column, other]].astype("object").fillna("\x00missing")
    return bool((pairs.groupby(column, sort=False)[other].nunique() <= 1).all())


# --------------------------------------------------------------------------- target


def _target_candidates(frame: pd.DataFrame, exclude: set[str]) -> list[TargetCandidate]:
    candidates = []
    last = str(frame.columns[-1])
    for column in frame.columns:
        if column in exclude:
            continue
        series = frame[column]
        if series.isna().any() or series.nunique() != 2:
            continue
        counts = series.value_counts()
        ordered = sorted(counts.index, key=lambda v: (str(type(native(v))), native(v)))
        counts_by_value = {native(v): int(counts[v]) for v in ordered}
        positive, positive_why = _guess_positive(counts_by_value)
        reasons = []
        words = _named(column, TARGET_WORDS)
        if words:
            reasons.append(f"its name ({', '.join(words)})")
        if str(column) == last:
            reasons.append("it is the last column")
        candidates.append(TargetCandidate(str(column), counts_by_value, positive, positive_why, " and ".join(reasons)))
    return candidates


def _guess_positive(counts: dict[Any, int]) -> tuple[Any, str]:
    values = list(counts)
    named = [v for v in values if str(v).strip().lower() in POSITIVE_WORDS]
    if len(named) == 1:
        return named[0], f"{named[0]!r} is the usual value of the predicted class"
    minority = min(values, key=lambda v: counts[v])
    return minority, f"{minority!r} is the rarer class"


def _guess_target(profile: RoleProfile, given: str | None) -> tuple[TargetCandidate | None, str]:
    by_name = {c.column: c for c in profile.targets}
    if given is not None:
        return by_name.get(given), "named on the command line (--target)"
    sensitive = {c.column for c in profile.sensitive}
    eligible = [c for c in profile.targets if c.column not in sensitive]
    named = [c for c in eligible if _named(c.column, TARGET_WORDS)]
    if len(named) == 1:
        return named[0], f"guess: {named[0].why}"
    last = [c for c in eligible if c.column == profile.columns[-1]]
    if not named and last:
        return last[0], f"guess: {last[0].why} (where published datasets usually put the label)"
    return None, (
        "no guess: several columns are named like an outcome" if named else "no guess: no column is named like "
        "an outcome and the last column is not a two-valued one"
    )
