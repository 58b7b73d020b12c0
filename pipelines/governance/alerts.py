"""Classifying what the ``monitor`` DAG measured into breaches: warn, critical, and whether they are confident.

Each :class:`~pipelines.core.monitored_values.MonitoredValue` carries its own
limits (``warn``, ``critical``, from ``monitoring.<horizon>`` in
``fairgate.yaml``) and the side that breaches (``direction``).  A value beyond
its critical limit is a **critical** breach, beyond only its warn limit a
**warn** breach.  A breach is **confident** when the whole bootstrap interval
lies beyond the limit it breaches (``high`` below a minimum, ``low`` above a
maximum); an interval that straddles the limit is not confident.  A value with
no interval (a count, which has no sampling error) is confident whenever it is
beyond.  **Critical needs confidence**: a value beyond its critical limit whose
interval still reaches that limit is a warning (``beyond_critical``), so
sampling noise alone never escalates.

What follows from the result (docs/alerts.md):

- a confident critical breach of an **ethical** value measured on the
  decisions made or on matured outcomes (horizons ``decision_time`` and
  ``realised``) is the automatic rollback's trigger (:attr:`AlertResult.rollback_trigger`, acted on by
  :mod:`pipelines.flows.auto_rollback`);
- any other critical breach alerts and opens the retrain path;
- a warn breach notifies.

Nothing here rounds a value or reads a clock: the same values always classify
the same way, which is what makes a retried monitor task idempotent.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

from pipelines.core.errors import BadInputError
from pipelines.core.monitored_values import Horizon, MonitoredFamily, MonitoredValue

Severity = Literal["warn", "critical"]
Verdict = Literal["ok", "warn", "critical"]

HORIZONS: tuple[str, ...] = get_args(Horizon)
FAMILIES: tuple[str, ...] = get_args(MonitoredFamily)
# the family whose confident critical breach rolls the champion back; every other family only alerts
ROLLBACK_FAMILY = "ethical"
# the horizons whose ethical values are observed, not estimated: an estimate rests on the calibration
# holding under the new data, which monitoring cannot check before labels mature, so it alerts only
ROLLBACK_HORIZONS = ("decision_time", "realised")

ERR_NOT_A_VALUE = "alerts: expected MonitoredValue items (or their dicts), found {found}"
ERR_FIELD = "alerts: monitored value {where}: {field} must be {expected}, found {found!r}"
ERR_NOT_FINITE = (
    "alerts: monitored value {where}: {field} is {value!r}; a value that could not be measured must be left out "
    "and reported by the monitor, never classified"
)
ERR_INTERVAL_HALF = (
    "alerts: monitored value {where}: low and high must both be given or both be None, found {low!r}, {high!r}"
)
ERR_INTERVAL_ORDER = (
    "alerts: monitored value {where}: the interval [{low!r}, {high!r}] does not hold the value {value!r}"
)
ERR_LIMIT_ORDER = (
    "alerts: monitored value {where}: critical ({critical!r}) must lie beyond warn ({warn!r}) on the {direction} side"
)
ERR_DUPLICATE = "alerts: monitored value {where} is given twice"
ERR_RESULT = "alerts: not a classified alert result: {problem}"


@dataclass(frozen=True)
class Breach:
    """One monitored value beyond one of its limits, with the limit and whether the interval is beyond it too."""

    value: MonitoredValue
    severity: Severity
    limit: float
    confident: bool
    # a warning whose value is beyond the critical limit too, with an interval that still reaches it
    beyond_critical: bool = False

    @property
    def triggers_rollback(self) -> bool:
        """A confident critical breach of an observed ethical value: the automatic rollback's trigger."""
        return (
            self.severity == "critical"
            and self.confident
            and self.value.family == ROLLBACK_FAMILY
            and self.value.horizon in ROLLBACK_HORIZONS
        )

    def describe(self) -> str:
        """One line of evidence: what, where, the value with its interval, the limit it breached."""
        v = self.value
        side = "below" if v.direction == "min" else "above"
        interval = "no interval" if v.low is None else f"interval [{v.low!r}, {v.high!r}]"
        certainty = "confident" if self.confident else "not confident: the interval reaches the limit"
        if self.beyond_critical:
            certainty += f"; beyond the critical limit {v.critical!r} too, but the interval reaches it"
        limit_name = "critical" if self.severity == "critical" or v.warn is None else "warn"
        return (
            f"{self.severity}: {v.horizon} {v.family} {v.metric} of {v.subject} = {v.value!r} ({interval}) "
            f"{side} the {limit_name} limit {self.limit!r}; {certainty}"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: the value's own fields, then the breach."""
        return {
            **self.value.to_dict(),
            "severity": self.severity,
            "limit": self.limit,
            "confident": self.confident,
            "beyond_critical": self.beyond_critical,
            "triggers_rollback": self.triggers_rollback,
            "evidence": self.describe(),
        }


@dataclass(frozen=True)
class HorizonVerdict:
    """The verdict of one horizon: the worst severity among its breaches, and the breaches."""

    horizon: str
    checked: int
    breaches: tuple[Breach, ...]

    @property
    def verdict(self) -> Verdict:
        """``ok``, ``warn`` or ``critical``."""
        if any(b.severity == "critical" for b in self.breaches):
            return "critical"
        return "warn" if self.breaches else "ok"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "horizon": self.horizon,
            "verdict": self.verdict,
            "checked": self.checked,
            "breaches": [b.to_dict() for b in self.breaches],
        }


@dataclass(frozen=True)
class AlertResult:
    """Every horizon monitored in one interval, classified: what the monitor records, shows and acts on."""

    horizons: tuple[HorizonVerdict, ...]

    @property
    def verdict(self) -> Verdict:
        """The worst verdict of every horizon (``ok`` when nothing was checked)."""
        verdicts = {h.verdict for h in self.horizons}
        return "critical" if "critical" in verdicts else "warn" if "warn" in verdicts else "ok"

    @property
    def breaches(self) -> tuple[Breach, ...]:
        """Every breach, horizon by horizon."""
        return tuple(b for h in self.horizons for b in h.breaches)

    @property
    def rollback_trigger(self) -> tuple[Breach, ...]:
        """The confident critical breaches of observed ethical values (empty: no automatic rollback)."""
        return tuple(b for b in self.breaches if b.triggers_rollback)

    @property
    def critical(self) -> tuple[Breach, ...]:
        """Every critical breach, confident or not, of any family."""
        return tuple(b for b in self.breaches if b.severity == "critical")

    def horizon(self, name: str) -> HorizonVerdict | None:
        """The verdict of one horizon, or None when it was not monitored."""
        return next((h for h in self.horizons if h.horizon == name), None)

    def summary(self) -> str:
        """One line: the overall verdict and each horizon's."""
        if not self.horizons:
            return "ok: nothing was monitored"
        parts = [f"{h.horizon} {h.verdict} ({len(h.breaches)} of {h.checked} beyond a limit)" for h in self.horizons]
        return f"{self.verdict}: " + "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (XCom, the monitoring run, the audit log's evidence)."""
        return {
            "verdict": self.verdict,
            "summary": self.summary(),
            "horizons": {h.horizon: h.to_dict() for h in self.horizons},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AlertResult:
        """Rebuild a result from :meth:`to_dict` (what a task receives through XCom), checking it again."""
        if not isinstance(data, Mapping) or not isinstance(data.get("horizons"), Mapping):
            raise BadInputError(ERR_RESULT.format(problem=f"expected a mapping with 'horizons', found {data!r}"))
        values: list[MonitoredValue] = []
        checked: dict[str, int] = {}
        for name, horizon in data["horizons"].items():
            if not isinstance(horizon, Mapping) or not isinstance(horizon.get("breaches"), list):
                raise BadInputError(ERR_RESULT.format(problem=f"horizon {name!r} has no list of breaches"))
            checked[str(name)] = int(horizon.get("checked", 0))
            fields = MonitoredValue.__dataclass_fields__
            values += [_as_value({k: v for k, v in b.items() if k in fields}) for b in horizon["breaches"]]
        # only the breaches travel: the values within their limits are counted, not carried
        return classify(values, checked=checked)


def classify(
    values: Iterable[MonitoredValue | Mapping[str, Any]], checked: Mapping[str, int] | None = None
) -> AlertResult:
    """Classify monitored values into breaches, per horizon, by the limits each value carries.

    Parameters
    ----------
    values : iterable of MonitoredValue or dict
        What the monitor measured (``MonitoredValue`` or its dict form).
    checked : mapping of str to int, optional
        How many values each horizon checked, when more were checked than
        ``values`` holds (a result rebuilt from its breaches); a horizon named
        here with no breach is reported ``ok``.

    Returns
    -------
    AlertResult
        One :class:`HorizonVerdict` per horizon monitored, in the order
        decision time, estimated, realised.

    Raises
    ------
    BadInputError
        A value that is not finite, an interval that does not hold its value,
        limits on the wrong side of each other, a value given twice.
    """
    seen: set[tuple[str, str, str, str]] = set()
    by_horizon: dict[str, list[Breach]] = {}
    counts: dict[str, int] = dict.fromkeys(checked or {}, 0)
    for raw in values:
        value = _as_value(raw)
        key = (value.horizon, value.family, value.metric, value.subject)
        if key in seen:
            raise BadInputError(ERR_DUPLICATE.format(where=_where(value)))
        seen.add(key)
        counts[value.horizon] = counts.get(value.horizon, 0) + 1
        breach = breach_of(value)
        by_horizon.setdefault(value.horizon, [])
        if breach is not None:
            by_horizon[value.horizon].append(breach)
    for name, count in (checked or {}).items():
        if name not in HORIZONS:
            raise BadInputError(ERR_RESULT.format(problem=f"unknown horizon {name!r}; expected one of {HORIZONS}"))
        counts[name] = max(counts[name], int(count))
    return AlertResult(
        tuple(
            HorizonVerdict(name, counts[name], tuple(by_horizon.get(name, ()))) for name in HORIZONS if name in counts
        )
    )


def _beyond(value: float, limit: float, direction: str) -> bool:
    """Strictly beyond the limit on the breaching side (a value at the limit passes, as at the gate)."""
    return value < limit if direction == "min" else value > limit


def breach_of(value: MonitoredValue) -> Breach | None:
    """The worst breach of one value, or None when it is within its limits.

    Critical needs confidence: a value beyond its critical limit whose interval
    still reaches that limit is a warning (noted as beyond critical), because
    sampling noise alone puts a clean interval's point estimate there often
    enough (a clean year at 600 decisions a month did, in 20-55% of seeded
    years, at the default four-fifths limits) that escalating on it would cry
    wolf.
    """
    # the interval's bound nearest the limits decides whether the whole interval is beyond one
    nearest = value.high if value.direction == "min" else value.low
    beyond_critical = value.critical is not None and _beyond(value.value, value.critical, value.direction)
    if beyond_critical and (nearest is None or _beyond(nearest, value.critical, value.direction)):  # type: ignore[arg-type]
        return Breach(value, "critical", value.critical, True)  # type: ignore[arg-type]
    if value.warn is not None and _beyond(value.value, value.warn, value.direction):
        confident = nearest is None or _beyond(nearest, value.warn, value.direction)
        return Breach(value, "warn", value.warn, confident, beyond_critical)
    if beyond_critical:  # no warn limit: the unconfident critical breach warns against the critical limit
        return Breach(value, "warn", value.critical, False, True)  # type: ignore[arg-type]
    return None


def _where(value: Any) -> str:
    if isinstance(value, MonitoredValue):
        return f"{value.horizon}/{value.family}/{value.metric}/{value.subject}"
    if isinstance(value, Mapping):
        return "/".join(str(value.get(k, "?")) for k in ("horizon", "family", "metric", "subject"))
    return repr(value)


def _number(raw: Mapping[str, Any], field: str, where: str, optional: bool) -> float | None:
    found = raw.get(field)
    if found is None and optional:
        return None
    if isinstance(found, bool) or not isinstance(found, int | float):
        expected = "a number or None" if optional else "a number"
        raise BadInputError(ERR_FIELD.format(where=where, field=field, expected=expected, found=found))
    number = float(found)
    if not math.isfinite(number):
        raise BadInputError(ERR_NOT_FINITE.format(where=where, field=field, value=number))
    return number


def _text(raw: Mapping[str, Any], field: str, where: str, choices: Sequence[str] | None = None) -> str:
    found = raw.get(field)
    if not isinstance(found, str) or not found.strip() or (choices is not None and found not in choices):
        expected = f"one of {', '.join(choices)}" if choices else "a non-empty string"
        raise BadInputError(ERR_FIELD.format(where=where, field=field, expected=expected, found=found))
    return found


def _as_value(raw: MonitoredValue | Mapping[str, Any]) -> MonitoredValue:
    """Check one monitored value (or its dict) and return it as a ``MonitoredValue``."""
    if isinstance(raw, MonitoredValue):
        fields: Mapping[str, Any] = raw.to_dict()
    elif isinstance(raw, Mapping):
        fields = raw
    else:
        raise BadInputError(ERR_NOT_A_VALUE.format(found=type(raw).__name__))
    where = _where(fields)
    horizon = _text(fields, "horizon", where, HORIZONS)
    family = _text(fields, "family", where, FAMILIES)
    direction = _text(fields, "direction", where, ("min", "max"))
    metric, subject = _text(fields, "metric", where), _text(fields, "subject", where)
    number = _number(fields, "value", where, optional=False)
    low, high = _number(fields, "low", where, True), _number(fields, "high", where, True)
    warn, critical = _number(fields, "warn", where, True), _number(fields, "critical", where, True)
    assert number is not None  # not optional: _number raised otherwise
    if (low is None) != (high is None):
        raise BadInputError(ERR_INTERVAL_HALF.format(where=where, low=low, high=high))
    if low is not None and high is not None and not low <= number <= high:
        raise BadInputError(ERR_INTERVAL_ORDER.format(where=where, low=low, high=high, value=number))
    if warn is not None and critical is not None and _beyond(warn, critical, direction):
        raise BadInputError(ERR_LIMIT_ORDER.format(where=where, critical=critical, warn=warn, direction=direction))
    return MonitoredValue(
        horizon=horizon,  # type: ignore[arg-type]
        family=family,  # type: ignore[arg-type]
        metric=metric,
        subject=subject,
        value=number,
        low=low,
        high=high,
        warn=warn,
        critical=critical,
        direction=direction,  # type: ignore[arg-type]
    )
