"""The gate: a technical gate and an ethical gate, both required before a model ships.

:func:`decide` reads an evaluation result (:mod:`pipelines.model.evaluate`) of the
candidate, optionally the champion's result on the same holdout and the paired
``comparison`` of the two, and the ``gate:`` section of ``fairgate.yaml``:

- the **technical gate** holds the absolute bounds of ``gate.technical``
  (looked up in ``result["technical"]``) and ``gate.business`` (in
  ``result["business"]``), and the non-regression checks whose key starts
  with ``technical.`` or ``business.``;
- the **ethical gate** holds the bounds of ``gate.ethical``, applied to every
  sensitive attribute in ``result["ethical"]`` (metric
  ``ethical.<attr>.<name>``; the intersection of the attributes is one of them
  when ``evaluation.intersection`` is on), and the ``ethical.*``
  non-regression checks, also per attribute.

``Bound.min`` passes when ``value >= min``; ``Bound.max`` when ``value <= max``
(a bound with both sides makes two checks).  Non-regression: with a champion,
a candidate fails when it is worse than the champion by more than the
tolerance in the metric's direction (:data:`pipelines.model.evaluate.METRIC_DIRECTION`),
i.e. ``candidate >= champion - tolerance`` for a higher-is-better metric and
``candidate <= champion + tolerance`` for a lower-is-better one.

How the intervals enter the rule
--------------------------------
**The point estimate decides; the interval says how sure that decision is.**
Every check is passed or failed on the point estimates, at full precision, so
a verdict is a deterministic function of the holdout, the models and
``fairgate.yaml``: it cannot flip with the bootstrap seed, the number of
resamples or the confidence level, and no per-run setting of the bootstrap
can loosen the gate.  Each check then carries the interval that qualifies it
(the candidate's interval for an absolute bound; for non-regression the
*paired* interval of candidate minus champion, from resamples shared by both
models) and a confidence label:

- ``confident``: the whole interval lies on the verdict's side of the limit
  (a failed non-regression check whose interval of the worsening lies
  entirely beyond the tolerance: a regression with confidence; a passed one
  whose worsening stays within the tolerance over the whole interval);
- ``uncertain``: the interval straddles the limit; the verdict stands and the
  report, the decision JSON (``uncertain_checks``) and the registry tags say
  so, for the reviewer;
- ``no interval``: none was available (a metric undefined in some resample,
  or no paired comparison supplied).

Why not let a bound of the interval decide?  Passing unless the lower bound
of the worsening exceeds the tolerance would let every regression a small
holdout cannot *prove* through: small real fairness regressions waved
through, the green-dashboard failure of C07.  Blocking unless the upper bound
stays within the tolerance would block models equal to the champion whenever
the holdout is too small to *prove* equivalence: a gate that refuses on noise
invites the manual override of red alerts, C07's other failure.  Deciding on
the point estimate treats both errors alike; the tolerances are set above the
paired noise of an equivalent candidate on the generated data, and the tests
show both properties there (``tests/model/test_gate_noise.py``).

Fail closed: an undefined metric (None or NaN) never passes, and a gate with no
check at all (nothing configured, or no sensitive attribute) does not pass
either.  Values are compared at full precision; rounding happens only in the
sentences and the markdown written for people.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from pipelines.core.config import Bound, GateSettings
from pipelines.core.errors import BadInputError
from pipelines.model.metrics import ETHICAL_METRICS, METRIC_DIRECTION

logger = logging.getLogger(__name__)

GateName = Literal["technical", "ethical"]
CheckKind = Literal["absolute", "non_regression"]
BoundSide = Literal["min", "max"]
Confidence = Literal["confident", "uncertain", "no interval"]

GATES: tuple[GateName, GateName] = ("technical", "ethical")
FAMILIES = ("technical", "business", "ethical")
CONFIDENT: Confidence = "confident"
UNCERTAIN: Confidence = "uncertain"
NO_INTERVAL: Confidence = "no interval"

RULE = (
    "each check passes or fails on its point estimate at full precision; its bootstrap interval "
    "(for non-regression the paired interval of candidate minus champion) marks it confident when the "
    "whole interval lies on the verdict's side of the limit, uncertain when it straddles the limit"
)
NOTE_NO_CHAMPION = "no champion yet: only absolute thresholds applied"
NOTE_CHAMPION = "non-regression against champion version {version}"
NOTE_NO_ATTRIBUTES = "the candidate result has no sensitive attribute: the ethical gate has nothing to check"
NOTE_NO_COMPARISON = "no paired comparison supplied: non-regression checks carry no interval"
NOTE_UNCERTAIN = "{count} check(s) decided on a point estimate whose interval straddles the limit: {metrics}"
NOTE_REPORT_ONLY = (
    "ethical.{attribute}: groups {groups} reported, not gated (dataset.small_groups report_only: {reason}); "
    "the attribute's metrics above are over its other groups"
)
REASON_EMPTY_GATE = "{gate} gate: no check configured or applicable, so it fails closed"

ERR_UNKNOWN_METRIC = "{key}: no such metric; known: {known}"
ERR_RESULT_SECTION = "{which} result: expected a mapping under {section!r}, found {found}"
ERR_NOT_A_NUMBER = "{which} result: {metric} must be a number or null, found {found!r}"
ERR_CHAMPION_MISSING = (
    "champion result has no {metric} to compare with: evaluate the champion on the same holdout "
    "with the same sensitive attributes"
)

MetricPath = tuple[str, ...]


@dataclass
class GateCheck:
    """One comparison of one metric with one limit.

    ``limit`` is the bound (absolute) or the derived limit ``champion -/+ tolerance``
    (non-regression); ``bound`` says on which side it is (``min``: the candidate must
    be at least ``limit``; ``max``: at most).  ``champion`` is the champion's value of
    the same metric when known (also shown for absolute checks) and ``difference`` is
    ``candidate - champion``.  ``interval_low``/``interval_high`` bound the candidate's
    value (absolute) and ``difference_low``/``difference_high`` the paired difference;
    ``confidence`` qualifies the verdict (see the module docstring), using the
    candidate's interval for an absolute check and the difference's for non-regression.
    """

    gate: GateName
    metric: str
    kind: CheckKind
    passed: bool
    candidate: float
    limit: float
    champion: float | None
    difference: float | None
    reason: str
    bound: BoundSide = "min"
    interval_low: float | None = None
    interval_high: float | None = None
    difference_low: float | None = None
    difference_high: float | None = None
    confidence: Confidence = NO_INTERVAL

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form (undefined numbers become null)."""
        data = asdict(self)
        for key in (
            "candidate",
            "limit",
            "champion",
            "difference",
            "interval_low",
            "interval_high",
            "difference_low",
            "difference_high",
        ):
            data[key] = _json_number(data[key])
        return data


@dataclass
class GateDecision:
    """The verdict of both gates, with every check and why."""

    passed: bool
    technical_passed: bool
    ethical_passed: bool
    checks: list[GateCheck]
    champion_version: str | None
    notes: list[str] = field(default_factory=list)
    confidence_level: float | None = None

    def reasons(self) -> list[str]:
        """Return why the decision blocks: the reasons of failed checks and of empty gates."""
        reasons = [check.reason for check in self.checks if not check.passed]
        for gate in GATES:
            if not any(check.gate == gate for check in self.checks):
                reasons.append(REASON_EMPTY_GATE.format(gate=gate))
        return reasons

    def uncertain_checks(self) -> list[str]:
        """Return ``<verdict> <kind> <metric>`` for every check whose interval straddles its limit."""
        return [
            f"{'passed' if check.passed else 'failed'} {check.kind.replace('_', '-')} {check.metric}"
            for check in self.checks
            if check.confidence == UNCERTAIN
        ]

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready decision: verdict, both gates, checks, reasons, uncertain checks, notes."""
        return {
            "verdict": "pass" if self.passed else "blocked",
            "passed": self.passed,
            "technical_passed": self.technical_passed,
            "ethical_passed": self.ethical_passed,
            "champion_version": self.champion_version,
            "rule": RULE,
            "confidence_level": self.confidence_level,
            "checks": [check.to_dict() for check in self.checks],
            "reasons": self.reasons(),
            "uncertain_checks": self.uncertain_checks(),
            "notes": list(self.notes),
        }

    def to_markdown(self) -> str:
        """Return the human report: the decision, then each gate with a table of its checks."""
        level = _level(self.confidence_level)
        lines = [
            f"# Gate decision: {'PASSED' if self.passed else 'BLOCKED'}",
            "",
            f"- champion version: {self.champion_version if self.champion_version is not None else 'none'}",
            f"- technical gate: {_verdict(self.technical_passed)}",
            f"- ethical gate: {_verdict(self.ethical_passed)}",
            f"- checks decided on an uncertain point estimate: {len(self.uncertain_checks())}",
            "",
            f"Rule: {RULE}.",
        ]
        for gate, passed in (("technical", self.technical_passed), ("ethical", self.ethical_passed)):
            lines += ["", f"## {gate.capitalize()} gate: {_verdict(passed)}", ""]
            checks = [check for check in self.checks if check.gate == gate]
            if not checks:
                lines.append(f"No check: {REASON_EMPTY_GATE.format(gate=gate)}.")
                continue
            lines += [
                f"| metric | kind | candidate | {level} | champion | difference | {level} of difference "
                "| limit | confidence | verdict |",
                "| --- | --- | ---: | --- | ---: | ---: | --- | ---: | --- | --- |",
            ]
            for check in checks:
                cells = [
                    _cell(check.metric),
                    check.kind.replace("_", "-"),
                    _fmt(check.candidate),
                    _interval(check.interval_low, check.interval_high),
                    _fmt(check.champion),
                    _fmt(check.difference, signed=True),
                    _interval(check.difference_low, check.difference_high, signed=True),
                    f"{'>=' if check.bound == 'min' else '<='} {_fmt(check.limit)}",
                    check.confidence,
                    "pass" if check.passed else "**FAIL**",
                ]
                lines.append("| " + " | ".join(cells) + " |")
        reasons = self.reasons()
        if reasons:
            lines += ["", "## Why it is blocked", ""]
            lines += [f"- {reason}" for reason in reasons]
        uncertain = self.uncertain_checks()
        if uncertain:
            lines += ["", "## Uncertain (decided on the point estimate; the interval straddles the limit)", ""]
            lines += [f"- {item}" for item in uncertain]
        if self.notes:
            lines += ["", "## Notes", ""]
            lines += [f"- {note}" for note in self.notes]
        return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- formatting


def _fmt(value: float | None, signed: bool = False) -> str:
    """Format a number for people (4 significant digits); ``-`` when absent, ``n/a`` when undefined."""
    if value is None:
        return "-"
    if math.isnan(value):
        return "n/a"
    return f"{value:+.4g}" if signed else f"{value:.4g}"


def _interval(low: float | None, high: float | None, signed: bool = False) -> str:
    if low is None or high is None:
        return "-"
    return f"[{_fmt(low, signed)}, {_fmt(high, signed)}]"


def _level(confidence_level: float | None) -> str:
    return "interval" if confidence_level is None else f"{confidence_level * 100:g}% interval"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _verdict(passed: bool) -> str:
    return "passed" if passed else "FAILED"


def _json_number(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return value


# --------------------------------------------------------------------------- lookups


def _section(result: dict[str, Any], family: str, which: str) -> dict[str, Any]:
    section = result.get(family) if isinstance(result, dict) else None
    if not isinstance(section, dict):
        raise BadInputError(
            ERR_RESULT_SECTION.format(which=which, section=family, found=type(section).__name__)
        )
    return section


def _gateable(section: dict[str, Any]) -> list[str]:
    return [name for name in section if name in METRIC_DIRECTION]


def _number(value: Any, metric: str, which: str) -> float:
    """Return the metric as a float at full precision; None (undefined) becomes NaN."""
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadInputError(ERR_NOT_A_NUMBER.format(which=which, metric=metric, found=value))
    return float(value)


def _known_ethical(ethical: dict[str, Any]) -> list[str]:
    """Return the gateable ethical metrics that every attribute of the result has."""
    if not ethical:
        return sorted(ETHICAL_METRICS)
    common: set[str] | None = None
    for attribute, section in ethical.items():
        if not isinstance(section, dict):
            raise BadInputError(
                ERR_RESULT_SECTION.format(
                    which="candidate", section=f"ethical.{attribute}", found=type(section).__name__
                )
            )
        names = set(_gateable(section))
        common = names if common is None else common & names
    return sorted(common or set())


def _validate_keys(candidate: dict[str, Any], gate: GateSettings) -> None:
    """Every configured key must name a gateable metric of the candidate result."""
    for family in ("technical", "business"):
        section = _section(candidate, family, "candidate")
        known = sorted(_gateable(section))
        for name in getattr(gate, family):
            if name not in known:
                raise BadInputError(
                    ERR_UNKNOWN_METRIC.format(key=f"gate.{family}.{name}", known=", ".join(known))
                )
    ethical = _section(candidate, "ethical", "candidate")
    known_ethical = _known_ethical(ethical)
    for name in gate.ethical:
        if name not in known_ethical:
            raise BadInputError(
                ERR_UNKNOWN_METRIC.format(key=f"gate.ethical.{name}", known=", ".join(known_ethical))
            )
    qualified = sorted(
        [f"technical.{n}" for n in _gateable(candidate["technical"])]
        + [f"business.{n}" for n in _gateable(candidate["business"])]
        + [f"ethical.{n}" for n in known_ethical]
    )
    for key in gate.non_regression:
        if key not in qualified:
            raise BadInputError(
                ERR_UNKNOWN_METRIC.format(key=f"gate.non_regression.{key}", known=", ".join(qualified))
            )


def _targets(result: dict[str, Any], family: str, name: str) -> list[tuple[str, MetricPath, Any]]:
    """Return ``(dotted metric name, path in the result, raw value)`` (per attribute when ethical)."""
    if family == "ethical":
        return [
            (f"ethical.{attribute}.{name}", ("ethical", attribute, name), section[name])
            for attribute, section in result["ethical"].items()
        ]
    return [(f"{family}.{name}", (family, name), result[family][name])]


def _at(tree: Any, path: MetricPath) -> Any:
    node = tree
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _champion_value(champion: dict[str, Any] | None, metric: str, path: MetricPath) -> float | None:
    """Return the champion's value of a metric: None when absent, NaN when undefined."""
    if champion is None:
        return None
    section = _at(champion, path[:-1])
    if not isinstance(section, dict) or path[-1] not in section:
        return None
    return _number(section[path[-1]], metric, "champion")


def _bounds_of(node: Any) -> tuple[float | None, float | None]:
    """The ``low``/``high`` of an interval node as finite floats, or (None, None)."""
    if not isinstance(node, Mapping):
        return None, None
    low, high = node.get("low"), node.get("high")
    if not isinstance(low, int | float) or not isinstance(high, int | float):
        return None, None
    if isinstance(low, bool) or isinstance(high, bool) or not (math.isfinite(low) and math.isfinite(high)):
        return None, None
    return float(low), float(high)


Placement = Literal["inside", "outside", "straddles", "none"]


def _placement(interval: tuple[float | None, float | None], side: BoundSide, limit: float) -> Placement:
    """Where an interval on the candidate's scale lies against a ``min``/``max`` limit."""
    low, high = interval
    if low is None or high is None:
        return "none"
    if (low >= limit) if side == "min" else (high <= limit):
        return "inside"
    if (high < limit) if side == "min" else (low > limit):
        return "outside"
    return "straddles"


def _confidence(passed: bool, placement: Placement) -> Confidence:
    """``confident`` when the whole interval agrees with the verdict, ``uncertain`` when it straddles."""
    if placement == "none":
        return NO_INTERVAL
    if (passed and placement == "inside") or (not passed and placement == "outside"):
        return CONFIDENT
    return UNCERTAIN


def _describe(low: float | None, high: float | None, confidence: Confidence, what: str, signed: bool) -> str:
    """The interval clause of a reason, for people."""
    if low is None or high is None:
        return f"; {what}: none"
    return f"; {what} [{_fmt(low, signed)}, {_fmt(high, signed)}]: {confidence}"


# --------------------------------------------------------------------------- checks


def _absolute_checks(
    gate_name: GateName,
    metric: str,
    value: float,
    bound: Bound,
    champion: float | None,
    interval: tuple[float | None, float | None],
    difference_interval: tuple[float | None, float | None],
    level: float | None,
) -> list[GateCheck]:
    checks = []
    difference = value - champion if champion is not None else None
    if difference is not None and math.isnan(difference):
        difference = None
    sides: list[tuple[BoundSide, float | None]] = [("min", bound.min), ("max", bound.max)]
    for side, limit in sides:
        if limit is None:
            continue
        if math.isnan(value):
            passed = False
            confidence = NO_INTERVAL
            reason = f"{metric} not computable (undefined value): fails closed against {side} {_fmt(limit)}"
        else:
            if side == "min":
                passed = value >= limit
                reason = (
                    f"{metric} = {_fmt(value)} >= min {_fmt(limit)} (margin {_fmt(value - limit)})"
                    if passed
                    else f"{metric} = {_fmt(value)} < min {_fmt(limit)} (short by {_fmt(limit - value)})"
                )
            else:
                passed = value <= limit
                reason = (
                    f"{metric} = {_fmt(value)} <= max {_fmt(limit)} (margin {_fmt(limit - value)})"
                    if passed
                    else f"{metric} = {_fmt(value)} > max {_fmt(limit)} (over by {_fmt(value - limit)})"
                )
            confidence = _confidence(passed, _placement(interval, side, limit))
            reason += _describe(interval[0], interval[1], confidence, _level(level), signed=False)
        checks.append(
            GateCheck(
                gate=gate_name,
                metric=metric,
                kind="absolute",
                passed=passed,
                candidate=value,
                limit=limit,
                champion=champion,
                difference=difference,
                reason=reason,
                bound=side,
                interval_low=interval[0],
                interval_high=interval[1],
                difference_low=difference_interval[0],
                difference_high=difference_interval[1],
                confidence=confidence,
            )
        )
    return checks


def _non_regression_check(
    gate_name: GateName,
    metric: str,
    direction: str,
    value: float,
    champion: float,
    tolerance: float,
    interval: tuple[float | None, float | None],
    difference_interval: tuple[float | None, float | None],
    level: float | None,
) -> GateCheck:
    higher = direction == "higher"
    limit = champion - tolerance if higher else champion + tolerance
    side: BoundSide = "min" if higher else "max"
    difference = value - champion
    if math.isnan(value) or math.isnan(champion):
        which = "candidate" if math.isnan(value) else "champion"
        passed = False
        confidence = NO_INTERVAL
        reason = f"{metric} not computable ({which} value undefined): non-regression fails closed"
    else:
        passed = value >= limit if higher else value <= limit
        worse_by = champion - value if higher else value - champion
        if worse_by > 0:
            comparison = "<=" if passed else ">"
            change = f"worse by {_fmt(worse_by)} {comparison} tolerance {_fmt(tolerance)}"
        elif worse_by < 0:
            change = f"better by {_fmt(-worse_by)}"
        else:
            change = "equal"
        reason = f"{metric} = {_fmt(value)} vs champion {_fmt(champion)} ({direction} is better): {change}"
        if not passed:
            reason += f" (needs {'>=' if higher else '<='} {_fmt(limit)})"
        # the paired interval of candidate - champion, read against the limit on the same scale
        low, high = difference_interval
        shifted = (None, None) if low is None or high is None else (champion + low, champion + high)
        confidence = _confidence(passed, _placement(shifted, side, limit))
        reason += _describe(low, high, confidence, f"paired {_level(level)} of the difference", signed=True)
    return GateCheck(
        gate=gate_name,
        metric=metric,
        kind="non_regression",
        passed=passed,
        candidate=value,
        limit=limit,
        champion=champion,
        difference=None if math.isnan(difference) else difference,
        reason=reason,
        bound=side,
        interval_low=interval[0],
        interval_high=interval[1],
        difference_low=difference_interval[0],
        difference_high=difference_interval[1],
        confidence=confidence,
    )


def decide(
    candidate: dict[str, Any],
    champion: dict[str, Any] | None,
    gate: GateSettings,
    champion_version: str | None = None,
    comparison: dict[str, Any] | None = None,
) -> GateDecision:
    """Apply the technical and the ethical gate to a candidate's evaluation result.

    Parameters
    ----------
    candidate : dict
        Evaluation result of the candidate (:func:`pipelines.model.evaluate.evaluate_models`),
        with its ``intervals`` when it has them.
    champion : dict or None
        Evaluation result of the current champion on the same holdout; None when there
        is no champion yet (only absolute thresholds then apply).
    gate : GateSettings
        Absolute bounds per family and non-regression tolerances.
    champion_version : str or None, default None
        Registry version of the champion, recorded in the decision.
    comparison : dict or None, default None
        The paired ``comparison`` of the evaluation (candidate minus champion with its
        interval, per metric); without it non-regression checks carry no interval.

    Returns
    -------
    GateDecision
        ``passed`` is ``technical_passed and ethical_passed``; every check is listed with
        its interval and confidence label (see the module docstring for the rule).

    Raises
    ------
    BadInputError
        A configured key names no gateable metric of the candidate result (the message
        names the key and lists the known metrics), a result is not shaped like an
        evaluation result, or the champion result lacks a metric that non-regression
        compares.
    """
    _validate_keys(candidate, gate)
    notes = _comparison_notes(candidate, champion, gate, champion_version, comparison)
    bootstrap = candidate.get("bootstrap")
    level = bootstrap.get("confidence") if isinstance(bootstrap, Mapping) else None
    level = float(level) if isinstance(level, int | float) and not isinstance(level, bool) else None
    checks = _absolute_gate_checks(candidate, champion, gate, comparison, level)
    if champion is not None:
        checks.extend(_non_regression_checks(candidate, champion, gate, comparison, level))
    checks.sort(key=lambda check: GATES.index(check.gate))
    technical = [check for check in checks if check.gate == "technical"]
    ethical = [check for check in checks if check.gate == "ethical"]
    technical_passed = bool(technical) and all(check.passed for check in technical)
    ethical_passed = bool(ethical) and all(check.passed for check in ethical)
    decision = GateDecision(
        passed=technical_passed and ethical_passed,
        technical_passed=technical_passed,
        ethical_passed=ethical_passed,
        checks=checks,
        champion_version=champion_version,
        notes=notes,
        confidence_level=level,
    )
    uncertain = decision.uncertain_checks()
    if uncertain:
        notes.append(NOTE_UNCERTAIN.format(count=len(uncertain), metrics="; ".join(uncertain)))
    logger.info(
        "gate decision: %s (technical %s, ethical %s, %d checks, %d uncertain)",
        "passed" if decision.passed else "blocked",
        _verdict(technical_passed),
        _verdict(ethical_passed),
        len(checks),
        len(uncertain),
    )
    return decision


def _comparison_notes(
    candidate: dict[str, Any],
    champion: dict[str, Any] | None,
    gate: GateSettings,
    champion_version: str | None,
    comparison: dict[str, Any] | None,
) -> list[str]:
    """What the candidate was compared with, before any check runs."""
    notes: list[str] = []
    if champion is None:
        notes.append(NOTE_NO_CHAMPION)
    else:
        shown = champion_version if champion_version is not None else "unknown"
        notes.append(NOTE_CHAMPION.format(version=shown))
        if comparison is None and gate.non_regression:
            notes.append(NOTE_NO_COMPARISON)
    if not candidate["ethical"]:
        notes.append(NOTE_NO_ATTRIBUTES)
    notes.extend(_report_only_notes(candidate["ethical"]))
    return notes


def _report_only_notes(ethical: dict[str, Any]) -> list[str]:
    """The groups each attribute reports but does not gate, and why (the evaluation left them out).

    The gated metrics ``ethical.<attr>.<name>`` are taken over the attribute's other groups
    (:func:`pipelines.model.evaluate.evaluate_model`); the gate checks those and names the rest here.
    """
    notes: list[str] = []
    for attribute, section in ethical.items():
        reported = section.get("report_only") if isinstance(section, Mapping) else None
        if isinstance(reported, Mapping) and reported.get("groups"):
            notes.append(
                NOTE_REPORT_ONLY.format(attribute=attribute, groups=reported["groups"], reason=reported.get("reason"))
            )
    return notes


def _absolute_gate_checks(
    candidate: dict[str, Any],
    champion: dict[str, Any] | None,
    gate: GateSettings,
    comparison: dict[str, Any] | None,
    level: float | None,
) -> list[GateCheck]:
    """The absolute bounds of every family, each on every target the key names."""
    intervals = candidate.get("intervals")
    absolute: list[tuple[GateName, str, dict[str, Bound]]] = [
        ("technical", "technical", gate.technical),
        ("technical", "business", gate.business),
        ("ethical", "ethical", gate.ethical),
    ]
    checks: list[GateCheck] = []
    for gate_name, family, bounds in absolute:
        for name, bound in bounds.items():
            for metric, path, raw in _targets(candidate, family, name):
                value = _number(raw, metric, "candidate")
                champion_value = _champion_value(champion, metric, path)
                checks.extend(
                    _absolute_checks(
                        gate_name,
                        metric,
                        value,
                        bound,
                        champion_value,
                        _bounds_of(_at(intervals, path)),
                        _bounds_of(_at(comparison, path)),
                        level,
                    )
                )
    return checks


def _non_regression_checks(
    candidate: dict[str, Any],
    champion: dict[str, Any],
    gate: GateSettings,
    comparison: dict[str, Any] | None,
    level: float | None,
) -> list[GateCheck]:
    """The candidate against the champion, one check per tolerance key and target."""
    intervals = candidate.get("intervals")
    checks: list[GateCheck] = []
    for key, tolerance in gate.non_regression.items():
        family, _, name = key.partition(".")
        regression_gate: GateName = "ethical" if family == "ethical" else "technical"
        for metric, path, raw in _targets(candidate, family, name):
            value = _number(raw, metric, "candidate")
            champion_value = _champion_value(champion, metric, path)
            if champion_value is None:
                raise BadInputError(ERR_CHAMPION_MISSING.format(metric=metric))
            checks.append(
                _non_regression_check(
                    regression_gate,
                    metric,
                    METRIC_DIRECTION[name],
                    value,
                    champion_value,
                    tolerance,
                    _bounds_of(_at(intervals, path)),
                    _bounds_of(_at(comparison, path)),
                    level,
                )
            )
    return checks
