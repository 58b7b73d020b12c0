"""What the audit log says a version was gated with: its decision policy, and whether only non-regression blocked it.

A model decides with the threshold it was evaluated and gated with, not with
whatever ``decision`` in fairgate.yaml says today: the gate's verdict is about
those decisions.  The ``gate_decision`` entry records the policy
(``decision_policy``: the threshold ``positive_threshold`` on the probability
of ``positive_label``, and ``positive_is_favorable``, copied from the
candidate's evaluation result).  Entries written before the policy was
recorded are read from the run's evaluation artifact
(``evaluation/evaluation.json``, the candidate's result), and the source says
so.  Nothing else is used: without either, the version cannot decide.

A candidate *blocked only on non-regression* is one whose recorded decision
has checks in both gates, every absolute check passed, and every failed check
is a non-regression check (at least one failed).  It is as fair and as good
as every absolute threshold asks, only worse than the champion it was compared
with: ``fairgate score`` scores it in shadow.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pipelines.governance.audit_log import Entry

POLICY_KEY = "decision_policy"
EVALUATION_ARTIFACT = "evaluation/evaluation.json"
POLICY_FIELDS = ("positive_threshold", "positive_is_favorable", "positive_label")

SOURCE_ENTRY = "gate_decision entry {seq}"
SOURCE_ARTIFACT = "{artifact} of run {run_id} (gate_decision entry {seq} predates recorded decision policies)"
ERR_NO_GATE = "version {version}: no gate_decision entry in the audit log for its run {run_id}"
ERR_BAD_POLICY = "version {version}: the decision policy in {source} is not usable: {problem}"


@dataclass(frozen=True)
class DecisionPolicy:
    """The threshold and direction a version was evaluated and gated with, and where that was read."""

    positive_threshold: float
    positive_is_favorable: bool
    positive_label: Any
    source: str

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready policy (the threshold as the exact float, never rounded)."""
        return {
            "positive_threshold": self.positive_threshold,
            "positive_is_favorable": self.positive_is_favorable,
            "positive_label": self.positive_label,
            "source": self.source,
        }


def policy_of_result(result: dict[str, Any]) -> dict[str, Any]:
    """The decision policy an evaluation result was computed with (its header's fields, unchanged)."""
    return {name: result[name] for name in POLICY_FIELDS}


def gate_entry(entries: Iterable[Entry], run_id: str | None) -> Entry | None:
    """The latest ``gate_decision`` entry of the MLflow run ``run_id`` (a version's run), or None."""
    found = None
    for entry in entries:
        if entry.kind == "gate_decision" and run_id and entry.payload.get("mlflow_run_id") == run_id:
            found = entry
    return found


def recorded_policy(
    entries: Iterable[Entry], version: Any, read_evaluation: Callable[[str, str], dict[str, Any]]
) -> DecisionPolicy | str:
    """The decision policy ``version`` (a registry ``ModelVersion``) was gated with, or why there is none.

    ``read_evaluation(run_id, artifact)`` reads the run's evaluation result;
    it is called only for a gate entry recorded before policies were.
    """
    number, run_id = str(version.version), version.run_id
    entry = gate_entry(entries, run_id)
    if entry is None:
        return ERR_NO_GATE.format(version=number, run_id=run_id or "none")
    policy = entry.payload.get(POLICY_KEY)
    source = SOURCE_ENTRY.format(seq=entry.seq)
    if policy is None:
        source = SOURCE_ARTIFACT.format(artifact=EVALUATION_ARTIFACT, run_id=run_id, seq=entry.seq)
        policy = read_evaluation(str(run_id), EVALUATION_ARTIFACT).get("candidate")
    problem = _policy_problem(policy)
    if problem is not None:
        return ERR_BAD_POLICY.format(version=number, source=source, problem=problem)
    assert isinstance(policy, dict)
    return DecisionPolicy(
        positive_threshold=float(policy["positive_threshold"]),
        positive_is_favorable=policy["positive_is_favorable"],
        positive_label=policy["positive_label"],
        source=source,
    )


def _policy_problem(policy: Any) -> str | None:
    """Why a recorded policy cannot decide (None when it can)."""
    if not isinstance(policy, dict):
        return f"expected a mapping with {', '.join(POLICY_FIELDS)}, found {type(policy).__name__}"
    missing = [name for name in POLICY_FIELDS if name not in policy]
    if missing:
        return f"missing {', '.join(missing)}"
    threshold = policy["positive_threshold"]
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0.0 < threshold < 1.0:
        return f"positive_threshold must be a number strictly between 0 and 1, found {threshold!r}"
    if not isinstance(policy["positive_is_favorable"], bool):
        return f"positive_is_favorable must be true or false, found {policy['positive_is_favorable']!r}"
    return None


def blocked_only_on_non_regression(decision: Any) -> bool:
    """True when a recorded gate decision blocked, every absolute check passed, and only non-regression failed."""
    if not isinstance(decision, dict) or decision.get("passed") is not False:
        return False
    checks = decision.get("checks")
    if not isinstance(checks, list) or not checks or not all(isinstance(check, dict) for check in checks):
        return False
    if {check.get("gate") for check in checks} != {"technical", "ethical"}:
        return False  # a gate with no check fails closed: that is not a non-regression block
    failed = [check for check in checks if check.get("passed") is not True]
    return bool(failed) and all(check.get("kind") == "non_regression" for check in failed)
