"""What the audit log says a version was gated with: its decision policy, and a block on non-regression only."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from pipelines.governance.decision_record import (
    EVALUATION_ARTIFACT,
    blocked_only_on_non_regression,
    recorded_policy,
)

POLICY = {"positive_threshold": 0.16666666666666666, "positive_is_favorable": False, "positive_label": 1}
VERSION = SimpleNamespace(version="3", run_id="run-3")


def _check(gate: str, kind: str, passed: bool) -> dict[str, Any]:
    return {"gate": gate, "metric": f"{gate}.m", "kind": kind, "passed": passed}


def _decision(*checks: dict[str, Any]) -> dict[str, Any]:
    return {"passed": all(c["passed"] for c in checks), "checks": list(checks)}


def _gate(seq: int, run_id: str, **payload: Any) -> SimpleNamespace:
    return SimpleNamespace(seq=seq, kind="gate_decision", payload={"mlflow_run_id": run_id, **payload})


def _no_artifact(run_id: str, artifact: str) -> dict[str, Any]:
    raise AssertionError(f"the artifact {artifact} of {run_id} must not be read when the entry holds the policy")


ABSOLUTE_PASS = (_check("technical", "absolute", True), _check("ethical", "absolute", True))


@pytest.mark.parametrize(
    ("checks", "expected"),
    [
        ((*ABSOLUTE_PASS, _check("technical", "non_regression", False)), True),
        ((*ABSOLUTE_PASS, _check("ethical", "non_regression", False), _check("technical", "non_regression", True)),
         True),
        # an absolute ethical check failed: never a non-regression-only block, whatever else failed
        ((_check("technical", "absolute", True), _check("ethical", "absolute", False),
          _check("technical", "non_regression", False)), False),
        ((_check("technical", "absolute", False), _check("ethical", "absolute", True)), False),
        ((*ABSOLUTE_PASS, _check("technical", "non_regression", True)), False),  # passed: not blocked at all
        ((_check("technical", "non_regression", False),), False),  # no ethical check: the empty gate failed closed
    ],
)
def test_blocked_only_on_non_regression(checks: tuple[dict[str, Any], ...], expected: bool) -> None:
    assert blocked_only_on_non_regression(_decision(*checks)) is expected


def test_a_malformed_recorded_decision_is_not_a_non_regression_block() -> None:
    assert blocked_only_on_non_regression(None) is False
    assert blocked_only_on_non_regression({"passed": False, "checks": []}) is False
    assert blocked_only_on_non_regression({"passed": False, "checks": ["x"]}) is False


def test_the_policy_comes_from_the_latest_gate_entry_of_the_version_run_exactly() -> None:
    entries = [
        _gate(4, "run-3", decision_policy={**POLICY, "positive_threshold": 0.5}),
        _gate(5, "run-other", decision_policy={**POLICY, "positive_threshold": 0.9}),
        _gate(7, "run-3", decision_policy=POLICY),
    ]
    policy = recorded_policy(entries, VERSION, _no_artifact)
    assert not isinstance(policy, str)
    assert policy.positive_threshold == 0.16666666666666666 and policy.positive_is_favorable is False
    assert policy.positive_label == 1 and policy.source == "gate_decision entry 7"


def test_an_entry_from_before_recorded_policies_reads_the_run_evaluation_and_says_so() -> None:
    asked: list[tuple[str, str]] = []

    def read(run_id: str, artifact: str) -> dict[str, Any]:
        asked.append((run_id, artifact))
        return {"candidate": {**POLICY, "rows": 10}, "champion": None}

    policy = recorded_policy([_gate(2, "run-3")], VERSION, read)
    assert not isinstance(policy, str)
    assert asked == [("run-3", EVALUATION_ARTIFACT)]
    assert policy.positive_threshold == POLICY["positive_threshold"]
    assert policy.source.startswith(f"{EVALUATION_ARTIFACT} of run run-3 (gate_decision entry 2 predates")


@pytest.mark.parametrize(
    ("policy", "problem"),
    [
        ({**POLICY, "positive_threshold": 1.5}, "positive_threshold must be a number strictly between 0 and 1, found"),
        ({**POLICY, "positive_threshold": True}, "positive_threshold must be a number strictly between 0 and 1, found"),
        ({**POLICY, "positive_is_favorable": "no"}, "positive_is_favorable must be true or false, found"),
        ({"positive_threshold": 0.2}, "missing positive_is_favorable, positive_label"),
    ],
)
def test_an_unusable_recorded_policy_is_named(policy: dict[str, Any], problem: str) -> None:
    found = recorded_policy([_gate(9, "run-3", decision_policy=policy)], VERSION, _no_artifact)
    assert isinstance(found, str)
    assert found.startswith(f"version 3: the decision policy in gate_decision entry 9 is not usable: {problem}")


def test_no_gate_entry_no_policy() -> None:
    assert recorded_policy([_gate(1, "run-9")], VERSION, _no_artifact) == (
        "version 3: no gate_decision entry in the audit log for its run run-3"
    )
