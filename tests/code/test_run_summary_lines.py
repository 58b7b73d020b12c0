"""The run summary's stage table: a blocked promotion says nothing moved, and the gate's reasons appear once."""

from __future__ import annotations

from pipelines.flows.run_summary import stage_lines

STAGES = ("gate", "register", "promote")
GATE_REASON = "ethical: demographic_parity_ratio[sex] 0.71 < 0.8"


def records(promote: dict) -> dict[str, dict]:
    return {
        "gate": {"verdict": "blocked", "seconds": 0.1, "reasons": [GATE_REASON],
                 "details": {"technical": "passed", "ethical": "blocked"}},
        "register": {"verdict": "passed", "seconds": 1.2, "details": {"model": "m", "version": 2}},
        "promote": promote,
    }


def test_a_promotion_blocked_by_the_gate_says_nothing_moved_and_points_to_the_gates_reasons():
    lines = stage_lines(records({"verdict": "blocked", "seconds": 0.0, "reasons": [GATE_REASON], "details": {}}),
                        STAGES)
    text = "\n".join(lines)
    assert "None" not in text
    assert lines[3].startswith("promote    blocked") and lines[3].endswith("nothing moved")
    assert text.count(GATE_REASON) == 1
    assert lines[-1].strip() == "reason: the gate stage's, above"


def test_a_promotion_shows_the_move_and_its_own_new_reasons():
    moved = stage_lines(records({"verdict": "passed", "seconds": 0.3, "details": {"from_version": None,
                                                                                   "to_version": "2"}}), STAGES)
    assert moved[-1].endswith("champion none -> 2")
    own = stage_lines(records({"verdict": "blocked", "seconds": 0.0, "reasons": ["deployments frozen"],
                               "details": {}}), STAGES)
    assert own[-1].strip() == "reason: deployments frozen"  # a reason of its own is printed in full


def test_a_stage_that_did_not_run_is_named():
    assert stage_lines({}, ("audit",)) == ["audit      not run           "]
