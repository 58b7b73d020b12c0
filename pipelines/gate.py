"""The gate: a technical gate and an ethical gate, both required before a model ships.

:func:`decide` reads an evaluation result (:mod:`pipelines.evaluate`) of the
candidate, optionally the champion's result on the same holdout, and the
``gate:`` section of ``fairgate.yaml``:

- the **technical gate** holds the absolute bounds of ``gate.technical``
  (looked up in ``result["technical"]``) and ``gate.business`` (in
  ``result["business"]``), and the non-regression checks whose key starts
  with ``technical.`` or ``business.``;
- the **ethical gate** holds the bounds of ``gate.ethical``, applied to every
  sensitive attribute in ``result["ethical"]`` (metric
  ``ethical.<attr>.<name>``), and the ``ethical.*`` non-regression checks, also
  per attribute.

``Bound.min`` passes when ``value >= min``; ``Bound.max`` when ``value <= max``
(a bound with both sides makes two checks).  Non-regression: with a champion,
a candidate fails when it is worse than the champion by more than the
tolerance in the metric's direction (:data:`pipelines.evaluate.METRIC_DIRECTION`),
i.e. ``candidate >= champion - tolerance`` for a higher-is-better metric and
``candidate <= champion + tolerance`` for a lower-is-better one.

Fail closed: an undefined metric (None or NaN) never passes, and a gate with no
check at all (nothing configured, or no sensitive attribute) does not pass
either.  Values are compared at full precision; rounding happens only in the
sentences and the markdown written for people.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from pipelines.config import Bound, GateSettings
from pipelines.errors import BadInputError
from pipelines.evaluate import ETHICAL_METRICS, METRIC_DIRECTION

logger = logging.getLogger(__name__)

GateName = Literal["technical", "ethical"]
CheckKind = Literal["absolute", "non_regression"]
BoundSide = Literal["min", "max"]

GATES: tuple[GateName, GateName] = ("technical", "ethical")
FAMILIES = ("technical", "business", "ethical")

NOTE_NO_CHAMPION = "no champion yet: only absolute thresholds applied"
NOTE_CHAMPION = "non-regression against champion version {version}"
NOTE_NO_ATTRIBUTES = "the candidate result has no sensitive attribute: the ethical gate has nothing to check"
REASON_EMPTY_GATE = "{gate} gate: no check configured or applicable, so it fails closed"

ERR_UNKNOWN_METRIC = "{key}: no such metric; known: {known}"
ERR_RESULT_SECTION = "{which} result: expected a mapping under {section!r}, found {found}"
ERR_NOT_A_NUMBER = "{which} result: {metric} must be a number or null, found {found!r}"
ERR_CHAMPION_MISSING = (
    "champion result has no {metric} to compare with: evaluate the champion on the same holdout "
    "with the same sensitive attributes"
)


@dataclass
class GateCheck:
    """One comparison of one metric with one limit.

    ``limit`` is the bound (absolute) or the derived limit ``champion -/+ tolerance``
    (non-regression); ``bound`` says on which side it is (``min``: the candidate must
    be at least ``limit``; ``max``: at most).  ``champion`` is the champion's value of
    the same metric when known (also shown for absolute checks) and ``difference`` is
    ``candidate - champion``.
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

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form (undefined numbers become null)."""
        data = asdict(self)
        for key in ("candidate", "limit", "champion", "difference"):
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

    def reasons(self) -> list[str]:
        """Return why the decision blocks: the reasons of failed checks and of empty gates."""
        reasons = [check.reason for check in self.checks if not check.passed]
        for gate in GATES:
            if not any(check.gate == gate for check in self.checks):
                reasons.append(REASON_EMPTY_GATE.format(gate=gate))
        return reasons

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready decision: verdict, both gates, checks, reasons, notes."""
        return {
            "verdict": "pass" if self.passed else "blocked",
            "passed": self.passed,
            "technical_passed": self.technical_passed,
            "ethical_passed": self.ethical_passed,
            "champion_version": self.champion_version,
            "checks": [check.to_dict() for check in self.checks],
            "reasons": self.reasons(),
            "notes": list(self.notes),
        }

    def to_markdown(self) -> str:
        """Return the human report: the decision, then each gate with a table of its checks."""
        lines = [
            f"# Gate decision: {'PASSED' if self.passed else 'BLOCKED'}",
            "",
            f"- champion version: {self.champion_version if self.champion_version is not None else 'none'}",
            f"- technical gate: {_verdict(self.technical_passed)}",
            f"- ethical gate: {_verdict(self.ethical_passed)}",
        ]
        for gate, passed in (("technical", self.technical_passed), ("ethical", self.ethical_passed)):
            lines += ["", f"## {gate.capitalize()} gate: {_verdict(passed)}", ""]
            checks = [check for check in self.checks if check.gate == gate]
            if not checks:
                lines.append(f"No check: {REASON_EMPTY_GATE.format(gate=gate)}.")
                continue
            lines += [
                "| metric | kind | candidate | limit | champion | difference | verdict |",
                "| --- | --- | ---: | ---: | ---: | ---: | --- |",
            ]
            for check in checks:
                cells = [
                    _cell(check.metric),
                    check.kind.replace("_", "-"),
                    _fmt(check.candidate),
                    f"{'>=' if check.bound == 'min' else '<='} {_fmt(check.limit)}",
                    _fmt(check.champion),
                    _fmt(check.difference, signed=True),
                    "pass" if check.passed else "**FAIL**",
                ]
                lines.append("| " + " | ".join(cells) + " |")
        reasons = self.reasons()
        if reasons:
            lines += ["", "## Why it is blocked", ""]
            lines += [f"- {reason}" for reason in reasons]
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


def _targets(result: dict[str, Any], family: str, name: str) -> list[tuple[str, Any]]:
    """Return ``(dotted metric name, raw value)`` for a family metric (per attribute when ethical)."""
    if family == "ethical":
        return [
            (f"ethical.{attribute}.{name}", section[name]) for attribute, section in result["ethical"].items()
        ]
    return [(f"{family}.{name}", result[family][name])]


def _champion_value(champion: dict[str, Any] | None, metric: str) -> float | None:
    """Return the champion's value of a dotted metric: None when absent, NaN when undefined."""
    if champion is None:
        return None
    family, _, rest = metric.partition(".")
    section: Any = champion.get(family)
    if family == "ethical":
        attribute, _, rest = rest.rpartition(".")
        section = section.get(attribute) if isinstance(section, dict) else None
    if not isinstance(section, dict) or rest not in section:
        return None
    return _number(section[rest], metric, "champion")


# --------------------------------------------------------------------------- checks


def _absolute_checks(
    gate_name: GateName, metric: str, value: float, bound: Bound, champion: float | None
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
            reason = f"{metric} not computable (undefined value): fails closed against {side} {_fmt(limit)}"
        elif side == "min":
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
            )
        )
    return checks


def _non_regression_check(
    gate_name: GateName, metric: str, direction: str, value: float, champion: float, tolerance: float
) -> GateCheck:
    higher = direction == "higher"
    limit = champion - tolerance if higher else champion + tolerance
    side: BoundSide = "min" if higher else "max"
    difference = value - champion
    if math.isnan(value) or math.isnan(champion):
        which = "candidate" if math.isnan(value) else "champion"
        passed = False
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
    )


def decide(
    candidate: dict[str, Any],
    champion: dict[str, Any] | None,
    gate: GateSettings,
    champion_version: str | None = None,
) -> GateDecision:
    """Apply the technical and the ethical gate to a candidate's evaluation result.

    Parameters
    ----------
    candidate : dict
        Evaluation result of the candidate (:func:`pipelines.evaluate.evaluate_model`).
    champion : dict or None
        Evaluation result of the current champion on the same holdout; None when there
        is no champion yet (only absolute thresholds then apply).
    gate : GateSettings
        Absolute bounds per family and non-regression tolerances.
    champion_version : str or None, default None
        Registry version of the champion, recorded in the decision.

    Returns
    -------
    GateDecision
        ``passed`` is ``technical_passed and ethical_passed``; every check is listed.

    Raises
    ------
    BadInputError
        A configured key names no gateable metric of the candidate result (the message
        names the key and lists the known metrics), a result is not shaped like an
        evaluation result, or the champion result lacks a metric that non-regression
        compares.
    """
    _validate_keys(candidate, gate)
    checks: list[GateCheck] = []
    notes: list[str] = []
    if champion is None:
        notes.append(NOTE_NO_CHAMPION)
    else:
        shown = champion_version if champion_version is not None else "unknown"
        notes.append(NOTE_CHAMPION.format(version=shown))
    if not candidate["ethical"]:
        notes.append(NOTE_NO_ATTRIBUTES)

    absolute: list[tuple[GateName, str, dict[str, Bound]]] = [
        ("technical", "technical", gate.technical),
        ("technical", "business", gate.business),
        ("ethical", "ethical", gate.ethical),
    ]
    for gate_name, family, bounds in absolute:
        for name, bound in bounds.items():
            for metric, raw in _targets(candidate, family, name):
                value = _number(raw, metric, "candidate")
                champion_value = _champion_value(champion, metric)
                checks.extend(_absolute_checks(gate_name, metric, value, bound, champion_value))

    if champion is not None:
        for key, tolerance in gate.non_regression.items():
            family, _, name = key.partition(".")
            regression_gate: GateName = "ethical" if family == "ethical" else "technical"
            for metric, raw in _targets(candidate, family, name):
                value = _number(raw, metric, "candidate")
                champion_value = _champion_value(champion, metric)
                if champion_value is None:
                    raise BadInputError(ERR_CHAMPION_MISSING.format(metric=metric))
                checks.append(
                    _non_regression_check(
                        regression_gate, metric, METRIC_DIRECTION[name], value, champion_value, tolerance
                    )
                )

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
    )
    logger.info(
        "gate decision: %s (technical %s, ethical %s, %d checks)",
        "passed" if decision.passed else "blocked",
        _verdict(technical_passed),
        _verdict(ethical_passed),
        len(checks),
    )
    return decision
